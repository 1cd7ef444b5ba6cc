// SPDX-License-Identifier: MIT
// A frame message's picture decoded straight into its batch-tensor slot: libjpeg scanlines (or raw rows) converted per row to the model's dtype, layout and normalisation (slot.h).
#include "slot.h"

#include "framepipe/error.h"

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
    size_t esize;   /* bytes per element */
    int direct;     /* uint8 NHWC RGB: scanlines go straight into the slot */
    uint8_t *row;   /* one RGB row (w * 3) */
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
    d->esize = fp_dtype_size(o->type);
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
    d->direct = o->type == FP_DTYPE_UINT8 && o->layout == FP_LAYOUT_NHWC && o->order == FP_ORDER_RGB &&
                o->norm == FP_NORM_SCALE && d->a[0] == 1.f && d->a[1] == 1.f && d->a[2] == 1.f && d->b[0] == 0.f &&
                d->b[1] == 0.f && d->b[2] == 0.f;
    d->row = malloc((size_t)d->w * 3);
    if (!d->row) {
        free(d);
        return fp_error(-ENOMEM, "slot decoder: out of memory");
    }
    d->jd.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = slot_error_exit;
    d->err.pub.output_message = slot_output_message;
    if (setjmp(d->err.jump)) {
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
    free(d->row);
    free(d);
    *dp = NULL;
}

/* RGB row y (w * 3 bytes) into the slot. */
static void convert_row(const FpSlotDecoder *d, const uint8_t *rgb, int y, uint8_t *slot)
{
    const int w = d->w;
    const size_t plane = (size_t)w * (size_t)d->h * d->esize;
    for (int c = 0; c < 3; c++) {
        const float a = d->a[c], b = d->b[c];
        const uint8_t *src = rgb + d->perm[c];
        uint8_t *dst;
        size_t step; /* bytes between neighbouring pixels of this channel */
        if (d->layout == FP_LAYOUT_NCHW)
            dst = slot + (size_t)c * plane + (size_t)y * (size_t)w * d->esize, step = d->esize;
        else
            dst = slot + ((size_t)y * (size_t)w * 3 + (size_t)c) * d->esize, step = 3 * d->esize;
        switch (d->type) {
        case FP_DTYPE_FLOAT32:
            for (int x = 0; x < w; x++) {
                float v = fmaf((float)src[3 * x], a, b);
                memcpy(dst + (size_t)x * step, &v, 4);
            }
            break;
        case FP_DTYPE_FLOAT16:
            for (int x = 0; x < w; x++) {
                uint16_t hv = f32_to_f16(fmaf((float)src[3 * x], a, b));
                memcpy(dst + (size_t)x * step, &hv, 2);
            }
            break;
        default:
            for (int x = 0; x < w; x++)
                dst[(size_t)x * step] = to_u8(fmaf((float)src[3 * x], a, b));
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
    for (int y = 0; y < d->h; y++)
        convert_row(d, rgb + (size_t)y * (size_t)d->w * 3, y, slot);
    return 0;
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
