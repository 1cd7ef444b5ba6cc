// SPDX-License-Identifier: MIT
// libFuzzer target: attaching to a shared-memory ring whose header bytes are mutated (fp_ring_open, then one read).
//
// A valid ring is created once; each input is XORed over the start of a copy of its segment (the
// header, the reader table and the first slot headers), written to a second segment, and a
// reader attaches to it in both modes. An inconsistent header must be refused with an error,
// never read out of bounds.
#include "framepipe/ring.h"
#include "fuzz_common.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint8_t *tmpl;
static size_t tmpl_len;
static char fuzz_name[64];

static void make_template(void)
{
    char name[64];
    snprintf(name, sizeof(name), "/fp-fuzz-tmpl-%d", (int)getpid());
    snprintf(fuzz_name, sizeof(fuzz_name), "/fp-fuzz-ring-%d", (int)getpid());
    FpRingConfig cfg = {.slot_count = 4, .width = 16, .height = 16}; /* gray8 frames of 256 bytes */
    if (fp_pixel_format_parse("gray8", &cfg.format) != 0)
        abort();
    FpRing *w = NULL;
    if (fp_ring_create(&w, name, &cfg) != 0)
        abort();
    uint8_t frame[256];
    memset(frame, 7, sizeof(frame));
    for (int i = 0; i < 3; i++)
        fp_ring_write(w, frame, sizeof(frame), i * 1000, (uint64_t)i, 0);
    int fd = shm_open(name, O_RDONLY, 0);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        abort();
    tmpl_len = (size_t)st.st_size;
    tmpl = malloc(tmpl_len);
    if (!tmpl || pread(fd, tmpl, tmpl_len, 0) != (ssize_t)tmpl_len)
        abort();
    close(fd);
    fp_ring_destroy(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (!tmpl)
        make_template();
    /* the first input byte picks the segment's length: whole, or cut short */
    size_t len = tmpl_len;
    if (size > 0 && data[0] < 64)
        len = tmpl_len * data[0] / 64;
    uint8_t *seg = malloc(tmpl_len);
    if (!seg)
        return 0;
    memcpy(seg, tmpl, tmpl_len);
    for (size_t i = 1; i < size && i - 1 < tmpl_len; i++)
        seg[i - 1] ^= data[i];
    int fd = shm_open(fuzz_name, O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd >= 0) {
        if (len == 0 || pwrite(fd, seg, len, 0) == (ssize_t)len) {
            for (int mode = 0; mode < 2; mode++) {
                FpRing *r = NULL;
                if (fp_ring_open(&r, fuzz_name, mode ? FP_RING_LOSSLESS : FP_RING_LATEST) == 0) {
                    FpRingView v;
                    if (fp_ring_read(r, &v, 0) == 0)
                        fp_ring_read_end(r, &v);
                    FpRingInfo info;
                    fp_ring_get_info(r, &info);
                    fp_ring_close(&r);
                }
            }
        }
        close(fd);
        shm_unlink(fuzz_name);
    }
    free(seg);
    return 0;
}
