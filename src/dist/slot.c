// SPDX-License-Identifier: MIT
// A frame message's picture decoded straight into its batch-tensor slot: libjpeg scanlines (or raw rows) converted per row to the model's dtype, layout and normalisation (slot.h).
#include "slot.h"

#include "framepipe/error.h"
#include "framepipe/frame.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

struct SlotErr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

struct FpSlotDecoder {
    int w, h;
    FpDtype type;
    FpLayout layout;
    int perm[3];    /* tensor channel c holds RGB component perm[c] */
    float a[3], b[3];
    /* every value a pixel byte can become, per tensor channel: fma(p, a[c], b[c]) stored as the dtype */
    union {
        float f32[3][256];
        uint16_t f16[3][256];
        uint8_t u8[3][256];
    } lut;
    int direct;     /* uint8 NHWC RGB: scanlines go straight into the slot */
    uint8_t *row;   /* one RGB row (w * 3) */
    FpLetterbox *raw; /* raw frames: the prep kernel over the reply's picture (same size: only the conversion) */
    struct jpeg_decompress_struct jd;
    struct SlotErr err;
};

static void slot_error_exit(j_common_ptr c)
{
    struct SlotErr *e = (struct SlotErr *)c->err;
    longjmp(e->jump, 1);
}

static void slot_output_message(j_common_ptr c)
{
    (void)c; /* warnings are not errors (tjDecompress2 without TJFLAG_STOPONWARNING) and are not printed */
}

/* IEEE half, round to nearest even: the same bits as prep's store (src/prep/letterbox.c, F16C's vcvtps2ph). */
static uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0));
    if (ax >= 0x477ff000u)
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) {
        if (ax <= 0x33000000u)
            return (uint16_t)sign;
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(ax >> 23);
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = (ax - 0x38000000u) >> 13, rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1)))
        r++;
    return (uint16_t)(sign | r);
}

static uint8_t to_u8(float v)
{
    v = v > 0.0f ? v : 0.0f;
    v = v < 255.0f ? v : 255.0f;
    return (uint8_t)rintf(v);
}

int fp__slot_decoder_create(FpSlotDecoder **out, const FpPrepOptions *o)
{
    if (!out || !o)
        return fp_error(FP_EINVALID, "slot decoder: NULL argument");
    if (o->dst_width < 1 || o->dst_height < 1 || o->dst_width > 32768 || o->dst_height > 32768)
        return fp_error(FP_EINVALID, "slot decoder: size %dx%d", o->dst_width, o->dst_height);
    if (o->type != FP_DTYPE_FLOAT32 && o->type != FP_DTYPE_FLOAT16 && o->type != FP_DTYPE_UINT8)
        return fp_error(FP_EINVALID, "slot decoder: dtype %s is not float32, float16 or uint8", fp_dtype_name(o->type));
    if (o->layout != FP_LAYOUT_NCHW && o->layout != FP_LAYOUT_NHWC)
        return fp_error(FP_EINVALID, "slot decoder: layout is neither NCHW nor NHWC");
    if (o->norm != FP_NORM_SCALE && o->norm != FP_NORM_MEAN_STD)
        return fp_error(FP_EINVALID, "slot decoder: unknown normalisation %d", (int)o->norm);
    FpSlotDecoder *d = calloc(1, sizeof(*d));
    if (!d)
        return fp_error(-ENOMEM, "slot decoder: out of memory");
    d->w = o->dst_width, d->h = o->dst_height;
    d->type = o->type, d->layout = o->layout;
    for (int c = 0; c < 3; c++) {
        d->perm[c] = o->order == FP_ORDER_RGB ? c : 2 - c;
        if (o->norm == FP_NORM_MEAN_STD) { /* as fp_letterbox_create plans it */
            if (!(o->std[c] != 0.0f) || !isfinite(o->std[c]) || !isfinite(o->mean[c])) {
                free(d);
                return fp_error(FP_EINVALID, "slot decoder: std[%d] = %g: must be finite and != 0", c,
                                (double)o->std[c]);
            }
            d->a[c] = (float)(1.0 / (255.0 * o->std[c]));
            d->b[c] = (float)(-(double)o->mean[c] / o->std[c]);
        } else {
            d->a[c] = o->scale[c];
            d->b[c] = o->offset[c];
        }
    }
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 256; p++) {
            float v = fmaf((float)p, d->a[c], d->b[c]);
            if (o->type == FP_DTYPE_FLOAT32)
                d->lut.f32[c][p] = v;
            else if (o->type == FP_DTYPE_FLOAT16)
                d->lut.f16[c][p] = f32_to_f16(v);
            else
                d->lut.u8[c][p] = to_u8(v);
        }
    d->direct = o->type == FP_DTYPE_UINT8 && o->layout == FP_LAYOUT_NHWC && o->order == FP_ORDER_RGB &&
                o->norm == FP_NORM_SCALE && d->a[0] == 1.f && d->a[1] == 1.f && d->a[2] == 1.f && d->b[0] == 0.f &&
                d->b[1] == 0.f && d->b[2] == 0.f;
    d->row = malloc((size_t)d->w * 3);
    if (!d->row) {
        free(d);
        return fp_error(-ENOMEM, "slot decoder: out of memory");
    }
    int rc = fp_letterbox_create(&d->raw, d->w, d->h, FP_PIX_RGB24, o);
    if (rc < 0) {
        free(d->row);
        free(d);
        return rc;
    }
    d->jd.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = slot_error_exit;
    d->err.pub.output_message = slot_output_message;
    if (setjmp(d->err.jump)) {
        fp_letterbox_destroy(&d->raw);
        free(d->row);
        free(d);
        return fp_error(-ENOMEM, "slot decoder: libjpeg could not start");
    }
    jpeg_create_decompress(&d->jd);
    *out = d;
    return 0;
}

void fp__slot_decoder_destroy(FpSlotDecoder **dp)
{
    if (!dp || !*dp)
        return;
    FpSlotDecoder *d = *dp;
    jpeg_destroy_decompress(&d->jd);
    fp_letterbox_destroy(&d->raw);
    free(d->row);
    free(d);
    *dp = NULL;
}

/* RGB row y (w * 3 bytes) into the slot: one table lookup per value (the tables hold fma(p, a, b) as the
 * dtype for every byte p, so this is exactly the per-pixel arithmetic, at the cost of a load). */
/* an AVX2 clone where the CPU has it (the compiler widens the loops; bench/bench_dist_decode), picked at load
 * time */
__attribute__((target_clones("avx2", "default"))) static void convert_row(const FpSlotDecoder *d,
                                                                          const uint8_t *restrict rgb, int y,
                                                                          uint8_t *restrict slot)
{
    const size_t w = (size_t)d->w;
    const size_t plane = w * (size_t)d->h;
    const int p0 = d->perm[0], p1 = d->perm[1], p2 = d->perm[2];
    switch (d->type) {
    case FP_DTYPE_FLOAT32: {
        const float *t0 = d->lut.f32[0], *t1 = d->lut.f32[1], *t2 = d->lut.f32[2];
        float *out = (float *)(void *)slot;
        if (d->layout == FP_LAYOUT_NCHW) {
            float *r0 = out + (size_t)y * w, *r1 = r0 + plane, *r2 = r1 + plane;
            for (size_t x = 0; x < w; x++) {
                const uint8_t *px = rgb + 3 * x;
                r0[x] = t0[px[p0]], r1[x] = t1[px[p1]], r2[x] = t2[px[p2]];
            }
        } else {
            float *r = out + (size_t)y * w * 3;
            for (size_t x = 0; x < w; x++) {
                const uint8_t *px = rgb + 3 * x;
                r[3 * x] = t0[px[p0]], r[3 * x + 1] = t1[px[p1]], r[3 * x + 2] = t2[px[p2]];
            }
        }
        break;
    }
    case FP_DTYPE_FLOAT16: {
        const uint16_t *t0 = d->lut.f16[0], *t1 = d->lut.f16[1], *t2 = d->lut.f16[2];
        uint16_t *out = (uint16_t *)(void *)slot;
        if (d->layout == FP_LAYOUT_NCHW) {
            uint16_t *r0 = out + (size_t)y * w, *r1 = r0 + plane, *r2 = r1 + plane;
            for (size_t x = 0; x < w; x++) {
                const uint8_t *px = rgb + 3 * x;
                r0[x] = t0[px[p0]], r1[x] = t1[px[p1]], r2[x] = t2[px[p2]];
            }
        } else {
            uint16_t *r = out + (size_t)y * w * 3;
            for (size_t x = 0; x < w; x++) {
                const uint8_t *px = rgb + 3 * x;
                r[3 * x] = t0[px[p0]], r[3 * x + 1] = t1[px[p1]], r[3 * x + 2] = t2[px[p2]];
            }
        }
        break;
    }
    default: {
        const uint8_t *t0 = d->lut.u8[0], *t1 = d->lut.u8[1], *t2 = d->lut.u8[2];
        if (d->layout == FP_LAYOUT_NCHW) {
            uint8_t *r0 = slot + (size_t)y * w, *r1 = r0 + plane, *r2 = r1 + plane;
            for (size_t x = 0; x < w; x++) {
                const uint8_t *px = rgb + 3 * x;
                r0[x] = t0[px[p0]], r1[x] = t1[px[p1]], r2[x] = t2[px[p2]];
            }
        } else {
            uint8_t *r = slot + (size_t)y * w * 3;
            for (size_t x = 0; x < w; x++) {
                const uint8_t *px = rgb + 3 * x;
                r[3 * x] = t0[px[p0]], r[3 * x + 1] = t1[px[p1]], r[3 * x + 2] = t2[px[p2]];
            }
        }
        break;
    }
    }
}

int fp__slot_convert_raw(FpSlotDecoder *d, const uint8_t *rgb, size_t len, void *slot)
{
    if (len != (size_t)d->w * (size_t)d->h * 3)
        return fp_error(FP_ECORRUPT, "raw picture of %zu bytes, the model's input %dx%d needs %zu", len, d->w, d->h,
                        (size_t)d->w * (size_t)d->h * 3);
    if (d->direct) {
        memcpy(slot, rgb, len);
        return 0;
    }
    /* the picture is already whole (in the reply): the SIMD prep kernel converts it in one pass */
    const FpFrame pic = {.data = {(uint8_t *)rgb}, .linesize = {d->w * 3}, .width = d->w, .height = d->h,
                         .format = FP_PIX_RGB24};
    return fp_letterbox_run(d->raw, &pic, slot, fp_letterbox_slot_bytes(d->raw));
}

int fp__slot_decode_jpeg(FpSlotDecoder *d, const uint8_t *jpeg, size_t len, void *slot)
{
    struct jpeg_decompress_struct *jd = &d->jd;
    char msg[JMSG_LENGTH_MAX];
    if (len < 2 || len > (size_t)0xffffffffu)
        return fp_error(FP_ECORRUPT, "bad JPEG: %zu bytes", len);
    if (setjmp(d->err.jump)) {
        d->err.pub.format_message((j_common_ptr)jd, msg);
        jpeg_abort_decompress(jd);
        return fp_error(FP_ECORRUPT, "bad JPEG: %s", msg);
    }
    jpeg_mem_src(jd, (unsigned char *)jpeg, (unsigned long)len);
    jpeg_read_header(jd, TRUE);
    if ((int)jd->image_width != d->w || (int)jd->image_height != d->h) {
        int jw = (int)jd->image_width, jh = (int)jd->image_height;
        jpeg_abort_decompress(jd);
        return fp_error(FP_ECORRUPT, "JPEG is %dx%d, the model's input is %dx%d", jw, jh, d->w, d->h);
    }
    jd->out_color_space = JCS_RGB;
    jd->dct_method = JDCT_IFAST;       /* TJFLAG_FASTDCT */
    jd->do_fancy_upsampling = TRUE;    /* tjDecompress2's default (no TJFLAG_FASTUPSAMPLE) */
    jpeg_start_decompress(jd);
    if (jd->output_components != 3) {
        jpeg_abort_decompress(jd);
        return fp_error(FP_ECORRUPT, "JPEG decodes to %d components, not RGB", jd->output_components);
    }
    uint8_t *out = slot;
    while (jd->output_scanline < jd->output_height) {
        int y = (int)jd->output_scanline;
        JSAMPROW rows[1] = {d->direct ? out + (size_t)y * (size_t)d->w * 3 : d->row};
        if (jpeg_read_scanlines(jd, rows, 1) != 1)
            break; /* suspended: cannot happen with a memory source, which fakes an EOI */
        if (!d->direct)
            convert_row(d, d->row, y, out);
    }
    jpeg_finish_decompress(jd);
    return 0;
}
