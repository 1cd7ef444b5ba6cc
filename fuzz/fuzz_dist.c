// SPDX-License-Identifier: MIT
// libFuzzer target: the distributed roles' Redis message codec (fp_dist_frame_parse / fp_dist_result_parse), what a
// worker and the logic role read from streams anyone with access to Redis can write.
//
// Input: a first byte choosing the mode, then the mode's bytes.
//   'F' / 'R': a frame / result built from the bytes (numbers, names, floats, detections taken as they come) is
//              encoded; when the encoder accepts it, the parser must accept its fields and give the same values back.
//   anything else: the bytes are a field list (pieces of a 1-byte length and that many bytes: name, value, name,
//              value, ...) handed to both parsers, which must answer 0 or an error, never crash or overrun.
#include "framepipe/dist.h"
#include "framepipe/error.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Reader {
    const uint8_t *p;
    size_t n;
} Reader;

static void take(Reader *r, void *dst, size_t len)
{
    memset(dst, 0, len);
    size_t k = r->n < len ? r->n : len;
    memcpy(dst, r->p, k);
    r->p += k;
    r->n -= k;
}

static void name_from(Reader *r, char *dst, size_t cap)
{
    uint8_t len = 0;
    take(r, &len, 1);
    len = (uint8_t)(len % cap);
    take(r, dst, len);
    dst[len] = '\0';
}

static void frame_round_trip(Reader *r)
{
    FpDistFrame m;
    memset(&m, 0, sizeof(m));
    name_from(r, m.camera, sizeof(m.camera));
    take(r, &m.epoch, sizeof(m.epoch));
    take(r, &m.seq, sizeof(m.seq));
    take(r, &m.frame, sizeof(m.frame));
    take(r, &m.pts_ns, sizeof(m.pts_ns));
    take(r, &m.capture_ns, sizeof(m.capture_ns));
    take(r, &m.tf, sizeof(m.tf));
    uint8_t enc = 0;
    take(r, &enc, 1);
    m.encoding = enc & 1 ? FP_DIST_RAW : FP_DIST_JPEG;
    m.payload = r->p;
    m.payload_len = r->n;
    static FpDistFields f;
    if (fp_dist_frame_encode(&m, &f) != 0)
        return;
    FpDistFrame back;
    int rc = fp_dist_frame_parse(&f, &back);
    if (rc != 0) {
        if (getenv("FUZZ_WHY"))
            fprintf(stderr, "parse refused what encode wrote: %s\n", fp_error_detail(rc));
        __builtin_trap();
    }
    if (strcmp(back.camera, m.camera) != 0 || back.seq != m.seq || back.frame != m.frame || back.epoch != m.epoch ||
        back.payload_len != m.payload_len || back.tf.src_width != m.tf.src_width ||
        back.tf.dst_height != m.tf.dst_height)
        __builtin_trap();
}

static void result_round_trip(Reader *r)
{
    FpDistResult m;
    memset(&m, 0, sizeof(m));
    name_from(r, m.camera, sizeof(m.camera));
    name_from(r, m.worker, sizeof(m.worker));
    take(r, &m.epoch, sizeof(m.epoch));
    take(r, &m.seq, sizeof(m.seq));
    take(r, &m.frame, sizeof(m.frame));
    take(r, &m.src_width, sizeof(m.src_width));
    take(r, &m.src_height, sizeof(m.src_height));
    take(r, &m.batch, sizeof(m.batch));
    uint8_t n = 0;
    take(r, &n, 1);
    static FpDetection dets[64], back_dets[64];
    m.n_dets = n % 64;
    for (int i = 0; i < m.n_dets; i++)
        take(r, &dets[i], sizeof(dets[i]));
    static uint8_t buf[64 * FP_DIST_DET_BYTES];
    static FpDistFields f;
    if (fp_dist_result_encode(&m, dets, buf, sizeof(buf), &f) != 0)
        return;
    FpDistResult back;
    int rc = fp_dist_result_parse(&f, &back, back_dets, 64);
    if (rc != 0) {
        if (getenv("FUZZ_WHY"))
            fprintf(stderr, "parse refused what encode wrote: %s\n", fp_error_detail(rc));
        __builtin_trap();
    }
    if (strcmp(back.camera, m.camera) != 0 || strcmp(back.worker, m.worker) != 0 || back.seq != m.seq ||
        back.n_dets != m.n_dets)
        __builtin_trap();
}

static void parse_fields(const uint8_t *data, size_t size)
{
    static FpDistFields f;
    memset(&f, 0, sizeof(f));
    size_t i = 0;
    for (int k = 0; k < 2 * FP_DIST_MAX_FIELDS && i < size; k++) {
        size_t len = data[i++];
        if (len > size - i)
            len = size - i;
        if (k % 2 == 0) {
            f.name[f.n] = (const char *)data + i;
            f.name_len[f.n] = len;
            f.value[f.n] = "";
            f.value_len[f.n] = 0;
            f.n++;
        } else {
            f.value[f.n - 1] = (const char *)data + i;
            f.value_len[f.n - 1] = len;
        }
        i += len;
    }
    FpDistFrame fr;
    (void)fp_dist_frame_parse(&f, &fr);
    FpDistResult res;
    static FpDetection dets[FP_DIST_MAX_DETS];
    (void)fp_dist_result_parse(&f, &res, dets, FP_DIST_MAX_DETS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (size == 0)
        return 0;
    Reader r = {data + 1, size - 1};
    if (data[0] == 'F')
        frame_round_trip(&r);
    else if (data[0] == 'R')
        result_round_trip(&r);
    else
        parse_fields(data + 1, size - 1);
    return 0;
}
