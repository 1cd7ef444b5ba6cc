// SPDX-License-Identifier: MIT
// The pre-processing plan (FpLetterbox): geometry, tables, validation, the per-row driver and the plain C reference kernel.
#pragma GCC optimize("fp-contract=off")

/*
 * Design: everything that depends only on geometry is computed once in
 * plan(): for each tensor column the source byte offsets of its two
 * horizontal taps (luma/packed and chroma) and their weights, for each
 * tensor row its two source rows and weights. A run then walks the tensor
 * row by row: padding rows and columns get the precomputed pad value, the
 * content columns go to a span kernel (SIMD where the 4-byte gathers stay
 * inside the source row, the C reference for the few columns at the right
 * edge). The C reference and the SIMD kernels do the same float operations
 * in the same order, so they agree bit for bit (see prep_internal.h).
 */

#include "prep_internal.h"

#include "framepipe/error.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FP_PREP_MAX_DIM 32768

uint16_t fp__prep_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or NaN (quiet, payload kept) */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0));
    if (ax >= 0x477ff000u) /* rounds to 65520 or more */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) { /* below 2^-14: half subnormal or zero */
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

void fp_prep_options_init(FpPrepOptions *o, int dst_width, int dst_height)
{
    memset(o, 0, sizeof(*o));
    o->dst_width = dst_width;
    o->dst_height = dst_height;
    o->type = FP_DTYPE_FLOAT32;
    o->layout = FP_LAYOUT_NCHW;
    o->order = FP_ORDER_RGB;
    o->resize = FP_RESIZE_LETTERBOX;
    o->anchor = FP_ANCHOR_CENTER;
    o->norm = FP_NORM_SCALE;
    o->matrix = FP_YUV_BT601;
    for (int c = 0; c < 3; c++) {
        o->pad[c] = 114.0f;
        o->scale[c] = 1.0f / 255.0f;
        o->offset[c] = 0.0f;
        o->mean[c] = 0.0f;
        o->std[c] = 1.0f;
    }
}

bool fp_prep_writes_dtype(FpDtype type)
{
    return type == FP_DTYPE_FLOAT32 || type == FP_DTYPE_FLOAT16 || type == FP_DTYPE_UINT8;
}

size_t fp_prep_slot_bytes(const FpPrepOptions *o)
{
    if (!fp_prep_writes_dtype(o->type) || o->dst_width <= 0 || o->dst_height <= 0)
        return 0;
    return (size_t)o->dst_width * (size_t)o->dst_height * FP_PREP_CHANNELS * fp_dtype_size(o->type);
}

/* ---------- CPU variants ---------- */

FpPrepIsa fp_prep_cpu_isa(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return __builtin_cpu_supports("avx512vbmi") ? FP_PREP_ISA_AVX512VBMI : FP_PREP_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return FP_PREP_ISA_AVX2;
    return FP_PREP_ISA_C;
}

int fp_prep_isa_supported(FpPrepIsa isa)
{
    FpPrepIsa best = fp_prep_cpu_isa();
    switch (isa) {
    case FP_PREP_ISA_AUTO:
    case FP_PREP_ISA_C: return 1;
    case FP_PREP_ISA_AVX2: return best >= FP_PREP_ISA_AVX2;
    case FP_PREP_ISA_AVX512: return best >= FP_PREP_ISA_AVX512;
    case FP_PREP_ISA_AVX512VBMI: return best >= FP_PREP_ISA_AVX512VBMI;
    }
    return 0;
}

const char *fp_prep_isa_name(FpPrepIsa isa)
{
    switch (isa) {
    case FP_PREP_ISA_AUTO: return "auto";
    case FP_PREP_ISA_C: return "c";
    case FP_PREP_ISA_AVX2: return "avx2";
    case FP_PREP_ISA_AVX512: return "avx512";
    case FP_PREP_ISA_AVX512VBMI: return "avx512vbmi";
    }
    return "unknown";
}

/* AUTO: the environment's FP_PREP_ISA if it names a supported variant, else the CPU's best. */
static FpPrepIsa resolve_isa(FpPrepIsa req)
{
    if (req != FP_PREP_ISA_AUTO)
        return req;
    const char *env = getenv("FP_PREP_ISA");
    if (env && *env) {
        FpPrepIsa want = !strcmp(env, "c") ? FP_PREP_ISA_C
                       : !strcmp(env, "avx2") ? FP_PREP_ISA_AVX2
                       : !strcmp(env, "avx512") ? FP_PREP_ISA_AVX512
                       : !strcmp(env, "avx512vbmi") ? FP_PREP_ISA_AVX512VBMI : FP_PREP_ISA_AUTO;
        if (want != FP_PREP_ISA_AUTO && fp_prep_isa_supported(want))
            return want;
    }
    return fp_prep_cpu_isa();
}

/* ---------- planning ---------- */

static int check_options(const FpPrepOptions *o)
{
    if (!o)
        return fp_error(FP_EINVALID, "prep options: NULL");
    if (o->dst_width <= 0 || o->dst_height <= 0)
        return fp_error(FP_EINVALID, "prep options: model input size %dx%d: must be > 0", o->dst_width,
                        o->dst_height);
    if (o->dst_width > FP_PREP_MAX_DIM || o->dst_height > FP_PREP_MAX_DIM)
        return fp_error(FP_ERANGE, "prep options: model input size %dx%d: larger than %d", o->dst_width,
                        o->dst_height, FP_PREP_MAX_DIM);
    if (!fp_prep_writes_dtype(o->type))
        return fp_error(FP_EINVALID, "prep options: tensor type %s (%d): pre-processing writes float32, float16 or uint8",
                        fp_dtype_name(o->type), (int)o->type);
    if (o->layout != FP_LAYOUT_NCHW && o->layout != FP_LAYOUT_NHWC)
        return fp_error(FP_EINVALID, "prep options: layout %d: unknown", (int)o->layout);
    if ((unsigned)o->order > FP_ORDER_BGR)
        return fp_error(FP_EINVALID, "prep options: channel order %d: unknown", (int)o->order);
    if ((unsigned)o->resize > FP_RESIZE_CROP)
        return fp_error(FP_EINVALID, "prep options: resize mode %d: unknown", (int)o->resize);
    if ((unsigned)o->anchor > FP_ANCHOR_TOP_LEFT)
        return fp_error(FP_EINVALID, "prep options: anchor %d: unknown", (int)o->anchor);
    if ((unsigned)o->norm > FP_NORM_MEAN_STD)
        return fp_error(FP_EINVALID, "prep options: normalisation %d: unknown", (int)o->norm);
    if ((unsigned)o->matrix > FP_YUV_BT601_FULL)
        return fp_error(FP_EINVALID, "prep options: YUV matrix %d: unknown", (int)o->matrix);
    for (int c = 0; c < 3; c++) {
        if (!isfinite(o->pad[c]))
            return fp_error(FP_EINVALID, "prep options: pad[%d]: not finite", c);
        if (o->norm == FP_NORM_MEAN_STD) {
            if (!(o->std[c] != 0.0f) || !isfinite(o->std[c]) || !isfinite(o->mean[c]))
                return fp_error(FP_EINVALID, "prep options: std[%d] = %g, mean[%d] = %g: std must be finite and != 0",
                                c, (double)o->std[c], c, (double)o->mean[c]);
        } else if (!isfinite(o->scale[c]) || !isfinite(o->offset[c])) {
            return fp_error(FP_EINVALID, "prep options: scale[%d]/offset[%d]: not finite", c, c);
        }
    }
    if (o->type == FP_DTYPE_UINT8 && o->norm == FP_NORM_MEAN_STD)
        return fp_error(FP_EUNSUPPORTED,
                        "prep options: uint8 tensor with mean/std normalisation: values would be rounded to "
                        "integers; use float32/float16 or scale/offset");
    return 0;
}

static int check_source(const FpPrepOptions *o, int w, int h, FpPixelFormat f)
{
    if (w <= 0 || h <= 0)
        return fp_error(FP_EINVALID, "source size %dx%d: must be > 0", w, h);
    if (w > FP_PREP_MAX_DIM || h > FP_PREP_MAX_DIM)
        return fp_error(FP_ERANGE, "source size %dx%d: larger than %d", w, h, FP_PREP_MAX_DIM);
    if (f != FP_PIX_YUV420P && f != FP_PIX_NV12 && f != FP_PIX_RGB24 && f != FP_PIX_BGR24 && f != FP_PIX_GRAY8)
        return fp_error(FP_EUNSUPPORTED,
                        "source pixel format %d: unsupported (yuv420p, nv12, rgb24, bgr24, gray8)", (int)f);
    if (o->roi_w != 0 && o->roi_h != 0) {
        if (o->roi_w < 0 || o->roi_h < 0 || o->roi_x < 0 || o->roi_y < 0 ||
            (int64_t)o->roi_x + o->roi_w > w || (int64_t)o->roi_y + o->roi_h > h)
            return fp_error(FP_ERANGE, "prep options: region of interest %d,%d %dx%d: outside the %dx%d frame",
                            o->roi_x, o->roi_y, o->roi_w, o->roi_h, w, h);
    } else if (o->roi_w < 0 || o->roi_h < 0) {
        return fp_error(FP_ERANGE, "prep options: region of interest %dx%d: negative size", o->roi_w, o->roi_h);
    }
    return 0;
}

/* cv2.resize INTER_LINEAR's tap rule: source coordinate of destination index i, clamped to [0, n-1]. */
static void tap(int i, double inv_scale, int n, int *i0, int *i1, float *w1)
{
    float f = (float)((i + 0.5) * inv_scale - 0.5);
    int s = (int)floorf(f);
    f -= (float)s;
    if (s < 0) {
        s = 0;
        f = 0.0f;
    }
    if (s >= n - 1) {
        s = n - 1;
        f = 0.0f;
    }
    *i0 = s;
    *i1 = s + 1 < n ? s + 1 : n - 1;
    *w1 = f;
}

static void yuv_coefficients(FpLetterbox *lb)
{
    double kr, kb, ys, cs, yo;
    switch (lb->opt.matrix) {
    case FP_YUV_BT709: kr = 0.2126, kb = 0.0722, ys = 255.0 / 219.0, cs = 255.0 / 224.0, yo = 16.0; break;
    case FP_YUV_BT601_FULL: kr = 0.299, kb = 0.114, ys = 1.0, cs = 1.0, yo = 0.0; break;
    default: kr = 0.299, kb = 0.114, ys = 255.0 / 219.0, cs = 255.0 / 224.0, yo = 16.0; break;
    }
    double kg = 1.0 - kr - kb;
    lb->cy = (float)ys;
    lb->ymin = (int)yo; /* limited range: luma below 16 is black (cv2.cvtColor does max(0, Y - 16) too) */
    lb->ky = (float)(-yo * ys);
    lb->crv = (float)(2.0 * (1.0 - kr) * cs);
    lb->cbu = (float)(2.0 * (1.0 - kb) * cs);
    lb->cgu = (float)(-2.0 * (1.0 - kb) * kb / kg * cs);
    lb->cgv = (float)(-2.0 * (1.0 - kr) * kr / kg * cs);
}

static inline __attribute__((always_inline)) uint8_t to_u8(float v)
{
    v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
    return (uint8_t)nearbyintf(v);
}

static uint64_t window_mask(int row_bytes, int base, int from)
{
    int rem = row_bytes - base - from; /* bytes of [base+from, base+from+64) inside the row */
    return rem >= 64 ? ~0ULL : rem <= 0 ? 0 : (1ULL << rem) - 1;
}

/*
 * The VBMI kernel's vector groups over all content columns [cx0, cx1): at
 * cx0 + 16 g, the last one moved back to end at cx1 (overlapping).
 */
static void plan_groups(FpLetterbox *lb, int w, FpPixelFormat f)
{
    const int G = FP_PREP_GROUP_W;
    int n = lb->cx1 - lb->cx0;
    lb->ngroups = n < G ? 0 : (n + G - 1) / G;
    int yuv = f == FP_PIX_YUV420P || f == FP_PIX_NV12, nv12 = f == FP_PIX_NV12;
    int lrow = w, crow = nv12 ? 2 * ((w + 1) / 2) : (w + 1) / 2;
    for (int g = 0; g < lb->ngroups; g++) {
        int x = lb->cx0 + g * G;
        if (x > lb->cx1 - G)
            x = lb->cx1 - G;
        FpPrepGroup *gr = &lb->groups[g];
        memset(gr, 0, sizeof(*gr));
        memset(lb->gidx[g], 0, sizeof(lb->gidx[g]));
        if (f == FP_PIX_RGB24 || f == FP_PIX_BGR24)
            continue; /* 16 RGB pixels rarely fit in 128 bytes: gathers */
        int lb0 = lb->xo[x], lmax = lb->xo[x + G - 1] + lb->xd[x + G - 1];
        int cb0 = lb->co[x], cmax = lb->co[x + G - 1] + lb->cd[x + G - 1] + (nv12 ? 1 : 0);
        if (lmax - lb0 > 127 || (yuv && cmax - cb0 > 127))
            continue;
        gr->ok = 1;
        gr->lbase = lb0, gr->cbase = cb0;
        gr->hzero = 1;
        for (int i = 0; i < G; i++)
            gr->hzero &= lb->wx1[x + i] == 0.0f;
        /* byte 3 of every index dword is 0x4B: the permute keeps it, so each lane reads as the float 2^23 + byte */
        for (int t = 0; t < 6; t++)
            for (int i = 0; i < G; i++)
                lb->gidx[g][t][4 * i + 3] = 0x4B;
        gr->lmask[0] = window_mask(lrow, lb0, 0), gr->lmask[1] = window_mask(lrow, lb0, 64);
        gr->cmask[0] = yuv ? window_mask(crow, cb0, 0) : 0, gr->cmask[1] = yuv ? window_mask(crow, cb0, 64) : 0;
        for (int i = 0; i < G; i++) {
            int c = x + i;
            lb->gidx[g][0][4 * i] = (uint8_t)(lb->xo[c] - lb0);
            lb->gidx[g][1][4 * i] = (uint8_t)(lb->xo[c] + lb->xd[c] - lb0);
            if (!yuv)
                continue;
            int c0 = lb->co[c] - cb0, c1 = lb->co[c] + lb->cd[c] - cb0;
            if (nv12) {
                lb->gidx[g][2][4 * i] = (uint8_t)c0, lb->gidx[g][3][4 * i] = (uint8_t)(c0 + 1);
                lb->gidx[g][4][4 * i] = (uint8_t)c1, lb->gidx[g][5][4 * i] = (uint8_t)(c1 + 1);
            } else {
                lb->gidx[g][2][4 * i] = (uint8_t)c0, lb->gidx[g][3][4 * i] = (uint8_t)c1;
            }
        }
    }
}

/* Fills the geometry, tables and constants for (w, h, f). Options are valid; no allocation. */
static void plan(FpLetterbox *lb, int w, int h, FpPixelFormat f)
{
    const FpPrepOptions *o = &lb->opt;
    int dw = o->dst_width, dh = o->dst_height;
    int rx = 0, ry = 0, rw = w, rh = h;
    if (o->roi_w != 0 && o->roi_h != 0)
        rx = o->roi_x, ry = o->roi_y, rw = o->roi_w, rh = o->roi_h;

    int cw, ch, ox, oy;
    if (o->resize == FP_RESIZE_STRETCH) {
        cw = dw, ch = dh, ox = 0, oy = 0;
    } else {
        double sx = (double)dw / rw, sy = (double)dh / rh;
        double s = o->resize == FP_RESIZE_LETTERBOX ? (sx < sy ? sx : sy) : (sx > sy ? sx : sy);
        cw = (int)floor(rw * s + 0.5);
        ch = (int)floor(rh * s + 0.5);
        if (o->resize == FP_RESIZE_LETTERBOX) {
            cw = cw < 1 ? 1 : cw > dw ? dw : cw;
            ch = ch < 1 ? 1 : ch > dh ? dh : ch;
            ox = o->anchor == FP_ANCHOR_CENTER ? (dw - cw) / 2 : 0;
            oy = o->anchor == FP_ANCHOR_CENTER ? (dh - ch) / 2 : 0;
        } else {
            cw = cw < dw ? dw : cw;
            ch = ch < dh ? dh : ch;
            ox = -((cw - dw) / 2);
            oy = -((ch - dh) / 2);
        }
    }
    lb->src_w = w, lb->src_h = h, lb->format = f;
    lb->cx0 = ox > 0 ? ox : 0;
    lb->cx1 = ox + cw < dw ? ox + cw : dw;
    lb->cy0 = oy > 0 ? oy : 0;
    lb->cy1 = oy + ch < dh ? oy + ch : dh;

    FpTransform *t = &lb->xf;
    t->scale_x = (float)((double)cw / rw);
    t->scale_y = (float)((double)ch / rh);
    t->offset_x = (float)(ox - (double)rx * cw / rw);
    t->offset_y = (float)(oy - (double)ry * ch / rh);
    t->src_width = w, t->src_height = h, t->dst_width = dw, t->dst_height = dh;
    /* visible source rectangle: the ROI seen through the canvas */
    double vx0 = rx + (lb->cx0 - ox) * (double)rw / cw, vx1 = rx + (lb->cx1 - ox) * (double)rw / cw;
    double vy0 = ry + (lb->cy0 - oy) * (double)rh / ch, vy1 = ry + (lb->cy1 - oy) * (double)rh / ch;
    t->clip_x0 = (float)vx0, t->clip_x1 = (float)vx1, t->clip_y0 = (float)vy0, t->clip_y1 = (float)vy1;

    int packed = f == FP_PIX_RGB24 || f == FP_PIX_BGR24;
    int yuv = f == FP_PIX_YUV420P || f == FP_PIX_NV12;
    int cmul = f == FP_PIX_NV12 ? 2 : 1;
    int cwid = (w + 1) / 2;
    double inv_x = 1.0 / ((double)cw / rw), inv_y = 1.0 / ((double)ch / rh);
    lb->vec_end = lb->cx0;
    int safe = 1;
    for (int x = lb->cx0; x < lb->cx1; x++) {
        int i0, i1;
        float f1;
        tap(x - ox, inv_x, rw, &i0, &i1, &f1);
        i0 += rx, i1 += rx;
        lb->wx1[x] = f1;
        lb->wx0[x] = 1.0f - f1;
        lb->xo[x] = packed ? 3 * i0 : i0;
        lb->xd[x] = packed ? 3 * (i1 - i0) : i1 - i0;
        lb->co[x] = yuv ? cmul * (i0 >> 1) : 0;
        lb->cd[x] = yuv ? cmul * ((i1 >> 1) - (i0 >> 1)) : 0;
        lb->csh[x] = 8 * lb->cd[x];
        if (safe) {
            if (packed)
                safe = lb->xo[x] + lb->xd[x] + 3 < 3 * w;
            else
                safe = lb->xd[x] == 1 && lb->xo[x] + 3 < w;
            if (safe && yuv)
                safe = lb->co[x] + 3 < cmul * cwid;
            if (safe)
                lb->vec_end = x + 1;
        }
    }
    plan_groups(lb, w, f);
    for (int y = lb->cy0; y < lb->cy1; y++) {
        int i0, i1;
        float f1;
        tap(y - oy, inv_y, rh, &i0, &i1, &f1);
        lb->rows[y].y0 = i0 + ry;
        lb->rows[y].y1 = i1 + ry;
        lb->rows[y].wy1 = f1;
        lb->rows[y].wy0 = 1.0f - f1;
    }

    /* colour: computed channels are R,G,B for YUV/GRAY and RGB24, B,G,R for BGR24 */
    yuv_coefficients(lb);
    int src_bgr = f == FP_PIX_BGR24;
    for (int c = 0; c < 3; c++) {
        int rgb_index = o->order == FP_ORDER_RGB ? c : 2 - c; /* which of R,G,B tensor channel c holds */
        lb->perm[c] = src_bgr ? 2 - rgb_index : rgb_index;
        if (o->norm == FP_NORM_MEAN_STD) {
            lb->a[c] = (float)(1.0 / (255.0 * o->std[c]));
            lb->b[c] = (float)(-(double)o->mean[c] / o->std[c]);
        } else {
            lb->a[c] = o->scale[c];
            lb->b[c] = o->offset[c];
        }
        float v = fmaf(o->pad[c], lb->a[c], lb->b[c]);
        lb->padv[c] = v;
        lb->padh[c] = fp__prep_f32_to_f16(v);
        lb->padb[c] = to_u8(v);
    }
}

int fp_letterbox_create(FpLetterbox **out, int src_width, int src_height, FpPixelFormat format,
                        const FpPrepOptions *opt)
{
    if (!out)
        return fp_error(FP_EINVALID, "fp_letterbox_create: out is NULL");
    int rc = check_options(opt);
    if (rc < 0)
        return rc;
    if ((rc = check_source(opt, src_width, src_height, format)) < 0)
        return rc;

    FpLetterbox *lb = calloc(1, sizeof(*lb));
    if (!lb)
        return fp_error(-ENOMEM, "fp_letterbox_create: out of memory");
    size_t dw = (size_t)opt->dst_width, dh = (size_t)opt->dst_height;
    size_t max_groups = dw / FP_PREP_GROUP_W + 2;
    size_t bytes = max_groups * sizeof(lb->gidx[0]) + 64 + max_groups * sizeof(FpPrepGroup) +
                   dw * (5 * sizeof(int32_t) + 2 * sizeof(float)) + dh * sizeof(FpPrepRow);
    lb->mem = calloc(1, bytes);
    if (!lb->mem) {
        free(lb);
        return fp_error(-ENOMEM, "fp_letterbox_create: out of memory for %zu bytes of tables", bytes);
    }
    uint8_t *p = (uint8_t *)(((uintptr_t)lb->mem + 63) & ~(uintptr_t)63);
    lb->gidx = (uint8_t(*)[6][64])p, p += max_groups * sizeof(lb->gidx[0]);
    lb->groups = (FpPrepGroup *)p, p += max_groups * sizeof(FpPrepGroup);
    lb->max_groups = (int)max_groups;
    lb->xo = (int32_t *)p, p += dw * sizeof(int32_t);
    lb->xd = (int32_t *)p, p += dw * sizeof(int32_t);
    lb->co = (int32_t *)p, p += dw * sizeof(int32_t);
    lb->cd = (int32_t *)p, p += dw * sizeof(int32_t);
    lb->csh = (int32_t *)p, p += dw * sizeof(int32_t);
    lb->wx0 = (float *)p, p += dw * sizeof(float);
    lb->wx1 = (float *)p, p += dw * sizeof(float);
    lb->rows = (FpPrepRow *)p;

    lb->opt = *opt;
    lb->esize = fp_dtype_size(opt->type);
    lb->slot_bytes = fp_prep_slot_bytes(opt);
    lb->isa_req = FP_PREP_ISA_AUTO;
    __builtin_cpu_init();
    lb->cpu_fma = __builtin_cpu_supports("fma") != 0;
    lb->isa = resolve_isa(FP_PREP_ISA_AUTO);
    plan(lb, src_width, src_height, format);
    *out = lb;
    return 0;
}

void fp_letterbox_destroy(FpLetterbox **plb)
{
    if (!plb || !*plb)
        return;
    free((*plb)->mem);
    free(*plb);
    *plb = NULL;
}

int fp_letterbox_set_source(FpLetterbox *lb, int src_width, int src_height, FpPixelFormat format)
{
    if (!lb)
        return fp_error(FP_EINVALID, "fp_letterbox_set_source: plan is NULL");
    int rc = check_source(&lb->opt, src_width, src_height, format);
    if (rc < 0)
        return rc;
    plan(lb, src_width, src_height, format);
    return 0;
}

int fp_letterbox_set_isa(FpLetterbox *lb, FpPrepIsa isa)
{
    if (!lb)
        return fp_error(FP_EINVALID, "fp_letterbox_set_isa: plan is NULL");
    if ((unsigned)isa > FP_PREP_ISA_AVX512VBMI)
        return fp_error(FP_EINVALID, "fp_letterbox_set_isa: variant %d: unknown", (int)isa);
    if (!fp_prep_isa_supported(isa))
        return fp_error(FP_EUNSUPPORTED, "fp_letterbox_set_isa: this CPU cannot run the %s variant",
                        fp_prep_isa_name(isa));
    lb->isa_req = isa;
    lb->isa = isa == FP_PREP_ISA_AUTO ? fp_prep_cpu_isa() : isa;
    return 0;
}

FpPrepIsa fp_letterbox_isa(const FpLetterbox *lb) { return lb->isa; }

const FpTransform *fp_letterbox_transform(const FpLetterbox *lb) { return &lb->xf; }

size_t fp_letterbox_slot_bytes(const FpLetterbox *lb) { return lb->slot_bytes; }

FpBox fp_letterbox_box_to_tensor(const FpLetterbox *lb, FpBox b) { return fp_transform_box_to_tensor(&lb->xf, b); }

FpBox fp_letterbox_box_to_source(const FpLetterbox *lb, FpBox b) { return fp_transform_box_to_source(&lb->xf, b); }

/* ---------- the C reference kernel ---------- */

/* min(max(v, 0), 255) with vmaxps/vminps operand semantics (max(-0, +0) is +0), as the SIMD kernels do. */
static inline __attribute__((always_inline)) float clamp255(float v)
{
    v = v > 0.0f ? v : 0.0f;
    return v < 255.0f ? v : 255.0f;
}

static inline __attribute__((always_inline)) void store_px(const FpLetterbox *lb, const FpPrepDst *d, int x, const float v3[3])
{
    size_t at = (size_t)x * (size_t)d->pstride;
    for (int c = 0; c < 3; c++) {
        float v = fmaf(v3[lb->perm[c]], lb->a[c], lb->b[c]);
        switch (lb->opt.type) {
        case FP_DTYPE_FLOAT32: memcpy(d->ch[c] + at * 4, &v, 4); break;
        case FP_DTYPE_FLOAT16: {
            uint16_t hv = fp__prep_f32_to_f16(v);
            memcpy(d->ch[c] + at * 2, &hv, 2);
            break;
        }
        default: d->ch[c][at] = to_u8(v); break;
        }
    }
}

static inline __attribute__((always_inline)) void yuv_tap(const FpLetterbox *lb, int Y, int U, int V, float rgb[3])
{
    float yv = fmaf((float)(Y < lb->ymin ? lb->ymin : Y), lb->cy, lb->ky);
    float u = (float)U - 128.0f, v = (float)V - 128.0f;
    float r = fmaf(v, lb->crv, yv);
    float g = fmaf(v, lb->cgv, fmaf(u, lb->cgu, yv));
    float b = fmaf(u, lb->cbu, yv);
    rgb[0] = clamp255(r), rgb[1] = clamp255(g), rgb[2] = clamp255(b);
}

static inline __attribute__((always_inline)) void blend(const float t00[3], const float t01[3], const float t10[3], const float t11[3],
                         float wx0, float wx1, float wy0, float wy1, float out[3])
{
    for (int c = 0; c < 3; c++) {
        float top = fmaf(t01[c], wx1, t00[c] * wx0);
        float bot = fmaf(t11[c], wx1, t10[c] * wx0);
        out[c] = fmaf(bot, wy1, top * wy0);
    }
}

static inline __attribute__((always_inline)) void span_c(const FpLetterbox *lb, const FpPrepSrc *s, int xb, int xe,
                                                        const FpPrepDst *d)
{
    for (int x = xb; x < xe; x++) {
        int o = lb->xo[x], od = o + lb->xd[x];
        float t00[3], t01[3], t10[3], t11[3], out[3];
        switch (lb->format) {
        case FP_PIX_YUV420P:
        case FP_PIX_NV12: {
            int c = lb->co[x], cd = c + lb->cd[x];
            yuv_tap(lb, s->l0[o], s->u0[c], s->v0[c], t00);
            yuv_tap(lb, s->l0[od], s->u0[cd], s->v0[cd], t01);
            yuv_tap(lb, s->l1[o], s->u1[c], s->v1[c], t10);
            yuv_tap(lb, s->l1[od], s->u1[cd], s->v1[cd], t11);
            break;
        }
        case FP_PIX_RGB24:
        case FP_PIX_BGR24:
            for (int k = 0; k < 3; k++) {
                t00[k] = s->l0[o + k], t01[k] = s->l0[od + k];
                t10[k] = s->l1[o + k], t11[k] = s->l1[od + k];
            }
            break;
        default:
            t00[0] = t00[1] = t00[2] = s->l0[o];
            t01[0] = t01[1] = t01[2] = s->l0[od];
            t10[0] = t10[1] = t10[2] = s->l1[o];
            t11[0] = t11[1] = t11[2] = s->l1[od];
            break;
        }
        blend(t00, t01, t10, t11, lb->wx0[x], lb->wx1[x], s->wy0, s->wy1, out);
        store_px(lb, d, x, out);
    }
}

/*
 * The reference is compiled twice: plain x86-64, where fmaf() is glibc's
 * correctly rounded routine, and for CPUs with FMA, where it is one vfmadd.
 * Both round identically. (Chosen by a branch, not an ifunc/target_clones:
 * ifunc resolvers run before ThreadSanitizer is initialised.)
 */
static void span_c_default(const FpLetterbox *lb, const FpPrepSrc *s, int xb, int xe, const FpPrepDst *d)
{
    span_c(lb, s, xb, xe, d);
}

__attribute__((target("fma"))) static void span_c_fma(const FpLetterbox *lb, const FpPrepSrc *s, int xb, int xe,
                                                      const FpPrepDst *d)
{
    span_c(lb, s, xb, xe, d);
}

void fp__prep_span_c(const FpLetterbox *lb, const FpPrepSrc *s, int xb, int xe, const FpPrepDst *d)
{
    if (xb >= xe)
        return;
    if (lb->cpu_fma)
        span_c_fma(lb, s, xb, xe, d);
    else
        span_c_default(lb, s, xb, xe, d);
}

/* ---------- the driver ---------- */

static int check_frame(const FpLetterbox *lb, const FpFrame *fr)
{
    if (!fr)
        return fp_error(FP_EINVALID, "prep: frame is NULL");
    if (fr->width != lb->src_w || fr->height != lb->src_h || fr->format != lb->format)
        return fp_error(FP_EINVALID, "prep: frame %dx%d %s does not match the plan's %dx%d %s (fp_letterbox_set_source)",
                        fr->width, fr->height, fp_pixel_format_name(fr->format), lb->src_w, lb->src_h,
                        fp_pixel_format_name(lb->format));
    int w = fr->width, cw = (w + 1) / 2;
    int nplanes = 1, need[3] = {w, 0, 0};
    switch (fr->format) {
    case FP_PIX_YUV420P: nplanes = 3, need[1] = cw, need[2] = cw; break;
    case FP_PIX_NV12: nplanes = 2, need[1] = 2 * cw; break;
    case FP_PIX_RGB24:
    case FP_PIX_BGR24: need[0] = 3 * w; break;
    default: break;
    }
    for (int p = 0; p < nplanes; p++) {
        if (!fr->data[p])
            return fp_error(FP_EINVALID, "prep: %s frame: plane %d is NULL", fp_pixel_format_name(fr->format), p);
        int ls = fr->linesize[p];
        if (ls == INT32_MIN || (ls < 0 ? -ls : ls) < need[p])
            return fp_error(FP_EINVALID, "prep: %s frame %dx%d: plane %d linesize %d is smaller than its %d bytes of pixels",
                            fp_pixel_format_name(fr->format), fr->width, fr->height, p, ls, need[p]);
    }
    return 0;
}

static void fill_pad(const FpLetterbox *lb, const FpPrepDst *d, int xb, int xe)
{
    if (xe <= xb)
        return;
    int ps = d->pstride;
    for (int c = 0; c < 3; c++) {
        switch (lb->opt.type) {
        case FP_DTYPE_FLOAT32: {
            float v = lb->padv[c];
            if (ps == 1) {
                float *q = (float *)(void *)(d->ch[c]) + xb;
                for (int x = 0; x < xe - xb; x++)
                    q[x] = v;
            } else {
                for (int x = xb; x < xe; x++)
                    memcpy(d->ch[c] + (size_t)x * ps * 4, &v, 4);
            }
            break;
        }
        case FP_DTYPE_FLOAT16:
            for (int x = xb; x < xe; x++)
                memcpy(d->ch[c] + (size_t)x * ps * 2, &lb->padh[c], 2);
            break;
        default:
            if (ps == 1)
                memset(d->ch[c] + xb, lb->padb[c], (size_t)(xe - xb));
            else
                for (int x = xb; x < xe; x++)
                    d->ch[c][(size_t)x * ps] = lb->padb[c];
            break;
        }
    }
}

static inline const uint8_t *row_ptr(const FpFrame *fr, int p, int y)
{
    return fr->data[p] + (ptrdiff_t)y * fr->linesize[p];
}

int fp_letterbox_run(const FpLetterbox *lb, const FpFrame *fr, void *dst, size_t dst_bytes)
{
    if (!lb)
        return fp_error(FP_EINVALID, "fp_letterbox_run: plan is NULL");
    int rc = check_frame(lb, fr);
    if (rc < 0)
        return rc;
    if (!dst)
        return fp_error(FP_EINVALID, "fp_letterbox_run: destination is NULL");
    if (dst_bytes < lb->slot_bytes)
        return fp_error(FP_ETOO_LARGE, "fp_letterbox_run: destination has %zu bytes, the %dx%d slot needs %zu",
                        dst_bytes, lb->opt.dst_width, lb->opt.dst_height, lb->slot_bytes);

    int dw = lb->opt.dst_width, dh = lb->opt.dst_height;
    size_t es = lb->esize;
    int nchw = lb->opt.layout == FP_LAYOUT_NCHW;
    int (*simd)(const FpLetterbox *, const FpPrepSrc *, int, int, const FpPrepDst *) =
        lb->isa == FP_PREP_ISA_AVX512VBMI ? fp__prep_span_avx512vbmi
        : lb->isa == FP_PREP_ISA_AVX512 ? fp__prep_span_avx512
        : lb->isa == FP_PREP_ISA_AVX2 ? fp__prep_span_avx2 : NULL;
    int yuv = lb->format == FP_PIX_YUV420P || lb->format == FP_PIX_NV12;

    for (int y = 0; y < dh; y++) {
        FpPrepDst d;
        uint8_t *base = dst;
        if (nchw) {
            for (int c = 0; c < 3; c++)
                d.ch[c] = base + ((size_t)c * dh * dw + (size_t)y * dw) * es;
            d.pstride = 1;
        } else {
            for (int c = 0; c < 3; c++)
                d.ch[c] = base + ((size_t)y * dw * 3 + (size_t)c) * es;
            d.pstride = 3;
        }
        if (y < lb->cy0 || y >= lb->cy1) {
            fill_pad(lb, &d, 0, dw);
            continue;
        }
        fill_pad(lb, &d, 0, lb->cx0);
        fill_pad(lb, &d, lb->cx1, dw);
        const FpPrepRow *r = &lb->rows[y];
        FpPrepSrc s = {0};
        s.l0 = row_ptr(fr, 0, r->y0);
        s.l1 = row_ptr(fr, 0, r->y1);
        s.wy0 = r->wy0, s.wy1 = r->wy1;
        if (yuv) {
            int c0 = r->y0 >> 1, c1 = r->y1 >> 1;
            s.u0 = row_ptr(fr, 1, c0), s.u1 = row_ptr(fr, 1, c1);
            if (lb->format == FP_PIX_NV12)
                s.v0 = s.u0 + 1, s.v1 = s.u1 + 1;
            else
                s.v0 = row_ptr(fr, 2, c0), s.v1 = row_ptr(fr, 2, c1);
        }
        int x = lb->cx0;
        if (simd)
            x = simd(lb, &s, x, lb->cx1, &d);
        fp__prep_span_c(lb, &s, x, lb->cx1, &d);
    }
    return 0;
}
