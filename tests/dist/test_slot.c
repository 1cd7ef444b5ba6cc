// SPDX-License-Identifier: MIT
// The worker's decoder into batch slots (src/dist/slot.c) against a reference: tjDecompress2 (TJFLAG_FASTDCT) to an RGB picture, then a plain C conversion written here, and fp_letterbox_run on that picture (the worker's former path). All bit-identical, for every dtype, layout, channel order and normalisation the worker can fill.
#include "fp_test.h"

#include "../../src/dist/slot.h"
#include "framepipe/error.h"
#include "framepipe/prep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

/* A synthetic picture: gradients, a checkerboard and hard colour edges (chroma subsampling matters). */
static uint8_t *pattern(int w, int h)
{
    uint8_t *p = malloc((size_t)w * (size_t)h * 3);
    CHECK(p);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * (size_t)w + (size_t)x) * 3;
            q[0] = (uint8_t)(x * 255 / (w - 1));
            q[1] = (uint8_t)(((x / 7 + y / 5) & 1) ? 230 : 20);
            q[2] = (uint8_t)(x > w / 2 && y > h / 3 ? 250 : y * 255 / (h - 1));
        }
    return p;
}

static unsigned char *encode(const uint8_t *rgb, int w, int h, int subsamp, unsigned long *len)
{
    tjhandle tj = tjInitCompress();
    CHECK(tj);
    unsigned char *out = NULL;
    *len = 0;
    CHECK_MSG(tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &out, len, subsamp, 85, 0) == 0, "%s", tjGetErrorStr2(tj));
    tjDestroy(tj);
    return out;
}

static unsigned char *read_file(const char *path, unsigned long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    CHECK(b && fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (unsigned long)n;
    return b;
}

/* IEEE half by the compiler's own conversion (round to nearest even). */
static uint16_t half_of(float v)
{
    _Float16 hv = (_Float16)v;
    uint16_t u;
    memcpy(&u, &hv, 2);
    return u;
}

/* The reference conversion of an RGB picture into a slot. */
static void reference_slot(const uint8_t *rgb, const FpPrepOptions *o, uint8_t *slot)
{
    int w = o->dst_width, h = o->dst_height;
    size_t es = o->type == FP_DTYPE_FLOAT32 ? 4 : o->type == FP_DTYPE_FLOAT16 ? 2 : 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int comp = o->order == FP_ORDER_RGB ? c : 2 - c;
                float p = rgb[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)comp];
                float a, b;
                if (o->norm == FP_NORM_MEAN_STD)
                    a = (float)(1.0 / (255.0 * o->std[c])), b = (float)(-(double)o->mean[c] / o->std[c]);
                else
                    a = o->scale[c], b = o->offset[c];
                float v = fmaf(p, a, b);
                size_t at = o->layout == FP_LAYOUT_NCHW ? ((size_t)c * (size_t)h + (size_t)y) * (size_t)w + (size_t)x
                                                        : ((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)c;
                if (o->type == FP_DTYPE_FLOAT32) {
                    memcpy(slot + at * 4, &v, 4);
                } else if (o->type == FP_DTYPE_FLOAT16) {
                    uint16_t hv = half_of(v);
                    memcpy(slot + at * 2, &hv, 2);
                } else {
                    slot[at] = (uint8_t)lrintf(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
    (void)es;
}

/* The slot decoder, the reference and fp_letterbox_run agree bit for bit on `jpeg` for options o. */
static void agree(const unsigned char *jpeg, unsigned long len, const FpPrepOptions *o, const char *what)
{
    int w = o->dst_width, h = o->dst_height;
    tjhandle tj = tjInitDecompress();
    CHECK(tj);
    uint8_t *rgb = malloc((size_t)w * (size_t)h * 3);
    CHECK(rgb);
    CHECK_MSG(tjDecompress2(tj, jpeg, len, rgb, w, 0, h, TJPF_RGB, TJFLAG_FASTDCT) == 0, "%s", tjGetErrorStr2(tj));
    tjDestroy(tj);
    size_t bytes = fp_prep_slot_bytes(o);
    CHECK(bytes > 0);
    uint8_t *want = calloc(1, bytes), *lbout = calloc(1, bytes), *got = malloc(bytes), *raw = malloc(bytes);
    CHECK(want && lbout && got && raw);
    memset(got, 0xA5, bytes);
    memset(raw, 0x5A, bytes);
    reference_slot(rgb, o, want);

    FpLetterbox *lb = NULL;
    CHECK_OK(fp_letterbox_create(&lb, w, h, FP_PIX_RGB24, o));
    const FpFrame pic = {.data = {rgb}, .linesize = {w * 3}, .width = w, .height = h, .format = FP_PIX_RGB24};
    CHECK_OK(fp_letterbox_run(lb, &pic, lbout, bytes));
    fp_letterbox_destroy(&lb);

    FpSlotDecoder *d = NULL;
    CHECK_OK(fp__slot_decoder_create(&d, o));
    CHECK_OK(fp__slot_decode_jpeg(d, jpeg, len, got));
    CHECK_OK(fp__slot_convert_raw(d, rgb, (size_t)w * (size_t)h * 3, raw));
    fp__slot_decoder_destroy(&d);
    CHECK(d == NULL);

    CHECK_MSG(!memcmp(want, lbout, bytes), "%s: the reference and fp_letterbox_run differ", what);
    size_t first = bytes;
    for (size_t i = 0; i < bytes && first == bytes; i++)
        if (got[i] != want[i])
            first = i;
    CHECK_MSG(first == bytes, "%s: JPEG slot differs from the reference at byte %zu of %zu", what, first, bytes);
    CHECK_MSG(!memcmp(raw, want, bytes), "%s: raw slot differs from the reference", what);
    free(want), free(lbout), free(got), free(raw), free(rgb);
}

/* Every dtype x layout x order x normalisation on one JPEG of w x h. */
static void all_options(const unsigned char *jpeg, unsigned long len, int w, int h, const char *name)
{
    const FpDtype types[] = {FP_DTYPE_FLOAT32, FP_DTYPE_FLOAT16, FP_DTYPE_UINT8};
    const FpLayout layouts[] = {FP_LAYOUT_NCHW, FP_LAYOUT_NHWC};
    for (int t = 0; t < 3; t++)
        for (int l = 0; l < 2; l++)
            for (int ord = 0; ord < 2; ord++)
                for (int norm = 0; norm < 3; norm++) {
                    if (types[t] == FP_DTYPE_UINT8 && norm != 0)
                        continue; /* uint8 slots: scale 1 (as the worker sets) */
                    FpPrepOptions o;
                    fp_prep_options_init(&o, w, h);
                    o.type = types[t], o.layout = layouts[l], o.order = ord ? FP_ORDER_BGR : FP_ORDER_RGB;
                    for (int c = 0; c < 3; c++) {
                        if (types[t] == FP_DTYPE_UINT8)
                            o.scale[c] = 1.f, o.offset[c] = 0.f;
                        else if (norm == 1) /* BlazeFace: [-1, 1] */
                            o.scale[c] = 2.f / 255.f, o.offset[c] = -1.f;
                    }
                    if (norm == 2) {
                        const float mean[] = {0.485f, 0.456f, 0.406f}, sd[] = {0.229f, 0.224f, 0.225f};
                        o.norm = FP_NORM_MEAN_STD;
                        memcpy(o.mean, mean, sizeof(mean)), memcpy(o.std, sd, sizeof(sd));
                    }
                    char what[160];
                    snprintf(what, sizeof(what), "%s %s %s %s norm %d", name, fp_dtype_name(o.type),
                             l ? "NHWC" : "NCHW", ord ? "BGR" : "RGB", norm);
                    agree(jpeg, len, &o, what);
                }
}

FP_TEST(synthetic_subsamplings)
{
    const int sizes[][2] = {{128, 128}, {256, 256}, {67, 45}};
    const int subs[] = {TJSAMP_420, TJSAMP_422, TJSAMP_444, TJSAMP_GRAY};
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 4; k++) {
            int w = sizes[s][0], h = sizes[s][1];
            uint8_t *rgb = pattern(w, h);
            unsigned long len;
            unsigned char *jpeg = encode(rgb, w, h, subs[k], &len);
            char name[64];
            snprintf(name, sizeof(name), "%dx%d subsampling %d", w, h, subs[k]);
            all_options(jpeg, len, w, h, name);
            tjFree(jpeg);
            free(rgb);
        }
}

FP_TEST(camera_photo)
{
    unsigned long len;
    unsigned char *jpeg = read_file("/usr/share/doc/opencv-doc/examples/data/messi5.jpg", &len);
    CHECK_MSG(jpeg, "messi5.jpg (python3-opencv's examples, opencv-doc) is missing");
    tjhandle tj = tjInitDecompress();
    int w, h, sub, cs;
    CHECK(tjDecompressHeader3(tj, jpeg, len, &w, &h, &sub, &cs) == 0);
    tjDestroy(tj);
    all_options(jpeg, len, w, h, "messi5.jpg");
    free(jpeg);
}

FP_TEST(bad_input_named_and_decoder_reusable)
{
    FpPrepOptions o;
    fp_prep_options_init(&o, 128, 128);
    FpSlotDecoder *d = NULL;
    CHECK_OK(fp__slot_decoder_create(&d, &o));
    uint8_t *slot = malloc(fp_prep_slot_bytes(&o));
    CHECK(slot);
    const uint8_t junk[] = "not a jpeg at all, just text";
    int rc = fp__slot_decode_jpeg(d, junk, sizeof(junk), slot);
    CHECK_EQ(rc, FP_ECORRUPT);
    CHECK_MSG(strstr(fp_error_detail(rc), "bad JPEG"), "%s", fp_error_detail(rc));

    uint8_t *rgb = pattern(64, 48);
    unsigned long len;
    unsigned char *small = encode(rgb, 64, 48, TJSAMP_420, &len);
    rc = fp__slot_decode_jpeg(d, small, len, slot);
    CHECK_EQ(rc, FP_ECORRUPT);
    CHECK_MSG(strstr(fp_error_detail(rc), "JPEG is 64x48, the model's input is 128x128"), "%s", fp_error_detail(rc));
    /* cut in the middle of its header */
    rc = fp__slot_decode_jpeg(d, small, 20, slot);
    CHECK_EQ(rc, FP_ECORRUPT);
    rc = fp__slot_convert_raw(d, rgb, 64 * 48 * 3, slot);
    CHECK_EQ(rc, FP_ECORRUPT);
    CHECK_MSG(strstr(fp_error_detail(rc), "raw picture of 9216 bytes"), "%s", fp_error_detail(rc));
    tjFree(small);
    free(rgb);

    /* after the errors, a good picture still decodes right */
    rgb = pattern(128, 128);
    unsigned char *good = encode(rgb, 128, 128, TJSAMP_420, &len);
    CHECK_OK(fp__slot_decode_jpeg(d, good, len, slot));
    fp__slot_decoder_destroy(&d);
    agree(good, len, &o, "after errors");
    tjFree(good);
    free(rgb);
    free(slot);

    o.type = FP_DTYPE_INT8;
    rc = fp__slot_decoder_create(&d, &o);
    CHECK_EQ(rc, FP_EINVALID);
    CHECK(d == NULL);
}
