// SPDX-License-Identifier: MIT
// The SIMD span kernel, written once over width-generic vector macros and included by the AVX2 and AVX-512 files.

/*
 * Included with these macros defined: VW (lanes), vf/vi (vector types),
 * F_LOAD, I_LOAD, F_SET1, I_SET1, F_FMA(a, b, c) (a*b+c, one rounding),
 * GATHER(base, idx) (4 bytes at base+idx per lane), I_AND, I_SRLI, I_SRLV,
 * I_ADD, CVT_I2F, F_MUL, F_SUB, F_MIN, F_MAX, F_STOREU(float *, vf),
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
    int type, nchw;
    const float *wx0, *wx1;
    const int32_t *xo, *xd, *co, *csh;
    const uint8_t *l0, *l1, *u0, *u1, *v0, *v1;
    vf wy0, wy1;
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
    k->nchw = d->pstride == 1;
    k->wx0 = lb->wx0, k->wx1 = lb->wx1, k->xo = lb->xo, k->xd = lb->xd, k->co = lb->co, k->csh = lb->csh;
    k->l0 = s->l0, k->l1 = s->l1, k->u0 = s->u0, k->u1 = s->u1, k->v0 = s->v0, k->v1 = s->v1;
    k->wy0 = F_SET1(s->wy0), k->wy1 = F_SET1(s->wy1);
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

/* The VW pixels at columns x..x+VW-1 in computed channel order, through 4-byte gathers. */
static inline __attribute__((always_inline)) void pixels(const Ctx *k, int x, FpPixelFormat fmt, vf out[3])
{
    vf wx0 = F_LOAD(k->wx0 + x), wx1 = F_LOAD(k->wx1 + x);
    vi xo = I_LOAD(k->xo + x);
    if (fmt == FP_PIX_YUV420P || fmt == FP_PIX_NV12) {
        vi co = I_LOAD(k->co + x), csh = I_LOAD(k->csh + x);
        vi gy0 = GATHER(k->l0, xo), gy1 = GATHER(k->l1, xo);
        vi u00, u01, u10, u11, v00, v01, v10, v11;
        if (fmt == FP_PIX_NV12) {
            vi g0 = GATHER(k->u0, co), g1 = GATHER(k->u1, co);
            vi h0 = I_SRLV(g0, csh), h1 = I_SRLV(g1, csh);
            u00 = I_AND(g0, k->ff), v00 = BYTE(g0, 8), u01 = I_AND(h0, k->ff), v01 = BYTE(h0, 8);
            u10 = I_AND(g1, k->ff), v10 = BYTE(g1, 8), u11 = I_AND(h1, k->ff), v11 = BYTE(h1, 8);
        } else {
            vi gu0 = GATHER(k->u0, co), gu1 = GATHER(k->u1, co);
            vi gv0 = GATHER(k->v0, co), gv1 = GATHER(k->v1, co);
            u00 = I_AND(gu0, k->ff), u01 = I_AND(I_SRLV(gu0, csh), k->ff);
            u10 = I_AND(gu1, k->ff), u11 = I_AND(I_SRLV(gu1, csh), k->ff);
            v00 = I_AND(gv0, k->ff), v01 = I_AND(I_SRLV(gv0, csh), k->ff);
            v10 = I_AND(gv1, k->ff), v11 = I_AND(I_SRLV(gv1, csh), k->ff);
        }
        vf t00[3], t01[3], t10[3], t11[3];
        yuv_rgb(k, I_AND(gy0, k->ff), u00, v00, t00);
        yuv_rgb(k, BYTE(gy0, 8), u01, v01, t01);
        yuv_rgb(k, I_AND(gy1, k->ff), u10, v10, t10);
        yuv_rgb(k, BYTE(gy1, 8), u11, v11, t11);
        for (int c = 0; c < 3; c++)
            out[c] = lerp4(t00[c], t01[c], t10[c], t11[c], wx0, wx1, k->wy0, k->wy1);
    } else if (fmt == FP_PIX_RGB24 || fmt == FP_PIX_BGR24) {
        vi xo1 = I_ADD(xo, I_LOAD(k->xd + x));
        vi a0 = GATHER(k->l0, xo), a1 = GATHER(k->l0, xo1);
        vi b0 = GATHER(k->l1, xo), b1 = GATHER(k->l1, xo1);
        for (int c = 0; c < 3; c++)
            out[c] = lerp4(CVT_I2F(BYTE(a0, 8 * c)), CVT_I2F(BYTE(a1, 8 * c)), CVT_I2F(BYTE(b0, 8 * c)),
                           CVT_I2F(BYTE(b1, 8 * c)), wx0, wx1, k->wy0, k->wy1);
    } else {
        vi g0 = GATHER(k->l0, xo), g1 = GATHER(k->l1, xo);
        vf v = lerp4(CVT_I2F(I_AND(g0, k->ff)), CVT_I2F(BYTE(g0, 8)), CVT_I2F(I_AND(g1, k->ff)),
                     CVT_I2F(BYTE(g1, 8)), wx0, wx1, k->wy0, k->wy1);
        out[0] = out[1] = out[2] = v;
    }
}

static inline __attribute__((always_inline)) void store(const Ctx *k, int x, const vf v3[3])
{
    vf t[3];
    for (int j = 0; j < 3; j++)
        t[j] = F_FMA(v3[j], k->a[j], k->b[j]);
    if (k->nchw) {
        for (int j = 0; j < 3; j++) {
            if (k->type == FP_TENSOR_F32)
                F_STOREU((float *)(void *)k->dst[j] + x, t[j]);
            else if (k->type == FP_TENSOR_F16)
                STORE_F16(k->dst[j] + (size_t)x * 2, t[j]);
            else
                STORE_U8(k->dst[j] + x, clampv(k, t[j]));
        }
        return;
    }
    /* NHWC: interleave through a small buffer */
    float tmp[3][VW];
    for (int j = 0; j < 3; j++)
        F_STOREU(tmp[j], t[j]);
    for (int i = 0; i < VW; i++) {
        size_t at = (size_t)(x + i) * 3;
        for (int j = 0; j < 3; j++) {
            float v = tmp[j][i];
            if (k->type == FP_TENSOR_F32) {
                memcpy(k->dst[j] + at * 4, &v, 4);
            } else if (k->type == FP_TENSOR_F16) {
                uint16_t h = fp__prep_f32_to_f16(v);
                memcpy(k->dst[j] + at * 2, &h, 2);
            } else {
                v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
                k->dst[j][at] = (uint8_t)__builtin_nearbyintf(v);
            }
        }
    }
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
