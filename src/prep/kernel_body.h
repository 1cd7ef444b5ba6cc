// SPDX-License-Identifier: MIT
// The SIMD span kernel, written once over width-generic vector macros and included by the AVX2 and AVX-512 files.

/*
 * Included with these macros defined: VW (lanes), vf/vi (vector types),
 * F_LOAD, I_LOAD, F_SET1, I_SET1, F_FMA(a, b, c) (a*b+c, one rounding),
 * GATHER(base, idx) (4 bytes at base+idx per lane), I_AND, I_SRLI, I_SRLV,
 * I_ADD, CVT_I2F, F_MUL, F_SUB, F_MIN, F_MAX, ALL_ZERO(vf) (every lane +-0),
 * F_STOREU(float *, vf),
 * STORE_F16(uint8_t *, vf) (VW halves), STORE_U8(uint8_t *, vf) (VW bytes
 * from values already in [0,255]), and optionally SPAN_NAME. Every lane
 * reads 4 bytes at each tap offset; the driver only hands over columns where
 * that stays inside the row (FpLetterbox.vec_end). Columns are processed in
 * whole vectors; a last partial vector is redone overlapping the previous
 * one (same values written twice), so there are no masks and no scalar tail
 * as long as the span has at least VW columns.
 *
 * Everything the loop needs from the plan is copied into a Ctx first: the
 * stores go through byte pointers, which may alias the plan, so reading
 * plan fields inside the loop would reload them after every store.
 */

#include <string.h>

typedef struct Ctx {
    vf cy, ky, crv, cgu, cgv, cbu, c128, zero, c255, ymin;
    vi ff;
    vf a[3], b[3];       /* per computed channel */
    uint8_t *dst[3];     /* per computed channel: the tensor channel's row */
    int type, nchw, swap;  /* swap: tensor channel order is the reverse of the computed order */
    uint8_t *row0;         /* tensor channel 0's row (NHWC: the interleaved row) */
    const float *wx0, *wx1;
    const int32_t *xo, *xd, *co, *csh;
    const uint8_t *l0, *l1, *u0, *u1, *v0, *v1;
    vf wy0, wy1;
    int vz;              /* the row's tap-1 weight is 0 */
} Ctx;

static inline __attribute__((always_inline)) void ctx_init(Ctx *k, const FpLetterbox *lb, const FpPrepSrc *s,
                                                           const FpPrepDst *d)
{
    k->cy = F_SET1(lb->cy), k->ky = F_SET1(lb->ky), k->crv = F_SET1(lb->crv), k->cgu = F_SET1(lb->cgu);
    k->cgv = F_SET1(lb->cgv), k->cbu = F_SET1(lb->cbu), k->c128 = F_SET1(128.0f), k->zero = F_SET1(0.0f);
    k->c255 = F_SET1(255.0f), k->ff = I_SET1(0xff), k->ymin = F_SET1((float)lb->ymin);
    /* perm is the identity or the R<->B swap, so it is its own inverse: computed channel j goes to
       tensor channel perm[j] */
    for (int j = 0; j < 3; j++) {
        int c = lb->perm[j];
        k->a[j] = F_SET1(lb->a[c]), k->b[j] = F_SET1(lb->b[c]);
        k->dst[j] = d->ch[c];
    }
    k->type = (int)lb->opt.type;
    k->swap = lb->perm[0] == 2;
    k->row0 = d->ch[0];
    k->nchw = d->pstride == 1;
    k->wx0 = lb->wx0, k->wx1 = lb->wx1, k->xo = lb->xo, k->xd = lb->xd, k->co = lb->co, k->csh = lb->csh;
    k->l0 = s->l0, k->l1 = s->l1, k->u0 = s->u0, k->u1 = s->u1, k->v0 = s->v0, k->v1 = s->v1;
    k->wy0 = F_SET1(s->wy0), k->wy1 = F_SET1(s->wy1);
    k->vz = s->wy1 == 0.0f;
}

static inline __attribute__((always_inline)) vf clampv(const Ctx *k, vf v)
{
    return F_MIN(F_MAX(v, k->zero), k->c255);
}

/* One tap to clamped R,G,B from Y and the centred chroma u = U-128, v = V-128 (all exact floats). */
static inline __attribute__((always_inline)) void yuv_rgb_f(const Ctx *k, vf Y, vf u, vf v, vf out[3])
{
    vf yv = F_FMA(F_MAX(Y, k->ymin), k->cy, k->ky);
    out[0] = clampv(k, F_FMA(v, k->crv, yv));
    out[1] = clampv(k, F_FMA(v, k->cgv, F_FMA(u, k->cgu, yv)));
    out[2] = clampv(k, F_FMA(u, k->cbu, yv));
}

static inline __attribute__((always_inline)) void yuv_rgb(const Ctx *k, vi Y, vi U, vi V, vf out[3])
{
    vf yv = F_FMA(F_MAX(CVT_I2F(Y), k->ymin), k->cy, k->ky);
    vf u = F_SUB(CVT_I2F(U), k->c128), v = F_SUB(CVT_I2F(V), k->c128);
    out[0] = clampv(k, F_FMA(v, k->crv, yv));
    out[1] = clampv(k, F_FMA(v, k->cgv, F_FMA(u, k->cgu, yv)));
    out[2] = clampv(k, F_FMA(u, k->cbu, yv));
}

static inline __attribute__((always_inline)) vf lerp4(vf t00, vf t01, vf t10, vf t11, vf wx0, vf wx1, vf wy0, vf wy1)
{
    vf top = F_FMA(t01, wx1, F_MUL(t00, wx0));
    vf bot = F_FMA(t11, wx1, F_MUL(t10, wx0));
    return F_FMA(bot, wy1, F_MUL(top, wy0));
}

#define BYTE(g, n) I_AND(I_SRLI(g, n), k->ff)

/*
 * One source row of VW columns through 4-byte gathers, blended horizontally:
 * h = fma(t1, wx1, t0 * wx0) per channel, or h = t0 when hz (every tap-1
 * weight is 0: skipping it is bit-exact, see kernel_avx512vbmi.c).
 */
static inline __attribute__((always_inline)) void row_gather(const Ctx *k, int x, const uint8_t *lrow,
                                                             const uint8_t *urow, const uint8_t *vrow, vi xo,
                                                             vf wx0, vf wx1, FpPixelFormat fmt, int hz, vf h[3])
{
    if (fmt == FP_PIX_YUV420P || fmt == FP_PIX_NV12) {
        vi co = I_LOAD(k->co + x);
        vi gy = GATHER(lrow, xo);
        vi u0, v0, u1, v1;
        if (fmt == FP_PIX_NV12) {
            vi g = GATHER(urow, co);
            u0 = I_AND(g, k->ff), v0 = BYTE(g, 8);
            if (!hz) {
                vi sh = I_SRLV(g, I_LOAD(k->csh + x));
                u1 = I_AND(sh, k->ff), v1 = BYTE(sh, 8);
            }
        } else {
            vi gu = GATHER(urow, co), gv = GATHER(vrow, co);
            u0 = I_AND(gu, k->ff), v0 = I_AND(gv, k->ff);
            if (!hz) {
                vi csh = I_LOAD(k->csh + x);
                u1 = I_AND(I_SRLV(gu, csh), k->ff), v1 = I_AND(I_SRLV(gv, csh), k->ff);
            }
        }
        vf t0[3];
        yuv_rgb(k, I_AND(gy, k->ff), u0, v0, t0);
        if (hz) {
            for (int c = 0; c < 3; c++)
                h[c] = t0[c];
            return;
        }
        for (int c = 0; c < 3; c++)
            t0[c] = F_MUL(t0[c], wx0);
        vf t1[3];
        yuv_rgb(k, BYTE(gy, 8), u1, v1, t1);
        for (int c = 0; c < 3; c++)
            h[c] = F_FMA(t1[c], wx1, t0[c]);
    } else if (fmt == FP_PIX_RGB24 || fmt == FP_PIX_BGR24) {
        vi a0 = GATHER(lrow, xo);
        if (hz) {
            for (int c = 0; c < 3; c++)
                h[c] = CVT_I2F(BYTE(a0, 8 * c));
            return;
        }
        vi a1 = GATHER(lrow, I_ADD(xo, I_LOAD(k->xd + x)));
        for (int c = 0; c < 3; c++)
            h[c] = F_FMA(CVT_I2F(BYTE(a1, 8 * c)), wx1, F_MUL(CVT_I2F(BYTE(a0, 8 * c)), wx0));
    } else {
        vi g = GATHER(lrow, xo);
        vf t0 = CVT_I2F(I_AND(g, k->ff));
        h[0] = hz ? t0 : F_FMA(CVT_I2F(BYTE(g, 8)), wx1, F_MUL(t0, wx0));
        h[1] = h[2] = h[0];
    }
}

static inline __attribute__((always_inline)) void pixels_hv(const Ctx *k, int x, FpPixelFormat fmt, int hz, int vz,
                                                            vi xo, vf wx0, vf wx1, vf out[3])
{
    vf top[3], bot[3];
    row_gather(k, x, k->l0, k->u0, k->v0, xo, wx0, wx1, fmt, hz, top);
    if (vz) {
        for (int c = 0; c < 3; c++)
            out[c] = top[c];
        return;
    }
    row_gather(k, x, k->l1, k->u1, k->v1, xo, wx0, wx1, fmt, hz, bot);
    for (int c = 0; c < 3; c++)
        out[c] = F_FMA(bot[c], k->wy1, F_MUL(top[c], k->wy0));
}

/* The VW pixels at columns x..x+VW-1 in computed channel order, through 4-byte gathers. */
static inline __attribute__((always_inline)) void pixels(const Ctx *k, int x, FpPixelFormat fmt, vf out[3])
{
    vf wx0 = F_LOAD(k->wx0 + x), wx1 = F_LOAD(k->wx1 + x);
    vi xo = I_LOAD(k->xo + x);
    int hz = ALL_ZERO(wx1);
    if (hz) {
        if (k->vz)
            pixels_hv(k, x, fmt, 1, 1, xo, wx0, wx1, out);
        else
            pixels_hv(k, x, fmt, 1, 0, xo, wx0, wx1, out);
    } else {
        if (k->vz)
            pixels_hv(k, x, fmt, 0, 1, xo, wx0, wx1, out);
        else
            pixels_hv(k, x, fmt, 0, 0, xo, wx0, wx1, out);
    }
}

static inline __attribute__((always_inline)) void store(const Ctx *k, int x, const vf v3[3])
{
    vf t[3];
    for (int j = 0; j < 3; j++)
        t[j] = F_FMA(v3[j], k->a[j], k->b[j]);
    if (k->nchw) {
        for (int j = 0; j < 3; j++) {
            if (k->type == FP_DTYPE_FLOAT32)
                F_STOREU((float *)(void *)k->dst[j] + x, t[j]);
            else if (k->type == FP_DTYPE_FLOAT16)
                STORE_F16(k->dst[j] + (size_t)x * 2, t[j]);
            else
                STORE_U8(k->dst[j] + x, clampv(k, t[j]));
        }
        return;
    }
#ifdef INTERLEAVE3
    /* NHWC: interleave in registers, then three whole-vector stores */
    vf o[3];
    if (k->swap)
        INTERLEAVE3(t[2], t[1], t[0], o);
    else
        INTERLEAVE3(t[0], t[1], t[2], o);
    for (int j = 0; j < 3; j++) {
        size_t at = (size_t)x * 3 + (size_t)j * VW; /* element index */
        if (k->type == FP_DTYPE_FLOAT32)
            F_STOREU((float *)(void *)k->row0 + at, o[j]);
        else if (k->type == FP_DTYPE_FLOAT16)
            STORE_F16(k->row0 + at * 2, o[j]);
        else
            STORE_U8(k->row0 + at, clampv(k, o[j]));
    }
#else
    /* NHWC: interleave through a small buffer */
    float tmp[3][VW];
    for (int j = 0; j < 3; j++)
        F_STOREU(tmp[j], t[j]);
    for (int i = 0; i < VW; i++) {
        size_t at = (size_t)(x + i) * 3;
        for (int j = 0; j < 3; j++) {
            float v = tmp[j][i];
            if (k->type == FP_DTYPE_FLOAT32) {
                memcpy(k->dst[j] + at * 4, &v, 4);
            } else if (k->type == FP_DTYPE_FLOAT16) {
                uint16_t h = fp__prep_f32_to_f16(v);
                memcpy(k->dst[j] + at * 2, &h, 2);
            } else {
                v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
                k->dst[j][at] = (uint8_t)__builtin_nearbyintf(v);
            }
        }
    }
#endif
}

/* Columns [xb, xe) through gathers (xe <= vec_end); returns the first column not done. */
static inline __attribute__((always_inline)) int span(const FpLetterbox *lb, const FpPrepSrc *s, int xb, int xe,
                                                      const FpPrepDst *d, FpPixelFormat fmt)
{
    if (xe - xb < VW)
        return xb;
    Ctx k;
    ctx_init(&k, lb, s, d);
    int x = xb;
    for (;;) {
        vf v3[3];
        pixels(&k, x, fmt, v3);
        store(&k, x, v3);
        x += VW;
        if (x >= xe)
            break;
        if (x > xe - VW)
            x = xe - VW; /* overlap the last partial vector */
    }
    return xe;
}

#ifdef SPAN_NAME
int SPAN_NAME(const FpLetterbox *lb, const FpPrepSrc *s, int xb, int xe, const FpPrepDst *d)
{
    if (xe > lb->vec_end)
        xe = lb->vec_end;
    switch (lb->format) {
    case FP_PIX_YUV420P: return span(lb, s, xb, xe, d, FP_PIX_YUV420P);
    case FP_PIX_NV12: return span(lb, s, xb, xe, d, FP_PIX_NV12);
    case FP_PIX_RGB24:
    case FP_PIX_BGR24: return span(lb, s, xb, xe, d, FP_PIX_RGB24);
    case FP_PIX_GRAY8: return span(lb, s, xb, xe, d, FP_PIX_GRAY8);
    default: return xb;
    }
}
#endif
