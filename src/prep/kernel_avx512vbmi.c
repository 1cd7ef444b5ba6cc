// SPDX-License-Identifier: MIT
// AVX-512 VBMI variant of the fused pre-processing kernel: byte permutes from 128-byte row windows instead of gathers.
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx2,fma,f16c")

#include "prep_internal.h"

#include "kernel_avx512_ops.h"
#include "kernel_body.h"

#define LANE0 0x1111111111111111ULL /* byte 0 of every dword */

typedef struct Window {
    __m512i lo, hi;
} Window;

/* 128 bytes of a row from `base`; bytes past the row end read as 0 and are never touched (masked loads). */
static inline __attribute__((always_inline)) Window window(const uint8_t *row, int base, const uint64_t mask[2])
{
    Window w = {_mm512_maskz_loadu_epi8(mask[0], row + base), _mm512_maskz_loadu_epi8(mask[1], row + base + 64)};
    return w;
}

/*
 * 16 taps as floats 2^23 + pixel: byte 0 of each lane comes from the window
 * at idx[4i], bytes 1-3 stay as in idx (0, 0, 0x4B). Subtracting 2^23 (or
 * 2^23 + 128 for chroma) is exact, and cheaper than int->float conversion.
 */
static inline __attribute__((always_inline)) vf taps(Window w, const uint8_t *idx)
{
    return _mm512_castsi512_ps(
        _mm512_mask2_permutex2var_epi8(w.lo, _mm512_load_si512((const void *)idx), LANE0, w.hi));
}

/*
 * One source row of a group, blended horizontally: h = fma(t1, wx1, t0 * wx0)
 * per channel (h = t0 when hz). Rows are done one after the other so only
 * one row's windows are live at a time (32 zmm registers are not many).
 */
static inline __attribute__((always_inline)) void row_vbmi(const Ctx *k, const FpPrepGroup *gr, const uint8_t (*ix)[64],
                                                           const uint8_t *lrow, const uint8_t *urow,
                                                           const uint8_t *vrow, vf wx0, vf wx1, FpPixelFormat fmt,
                                                           int hz, vf h[3])
{
    const vf bias = F_SET1(8388608.0f), cbias = F_SET1(8388608.0f + 128.0f);
    Window l = window(lrow, gr->lbase, gr->lmask);
    if (fmt == FP_PIX_GRAY8) {
        vf t0 = F_SUB(taps(l, ix[0]), bias);
        h[0] = hz ? t0 : F_FMA(F_SUB(taps(l, ix[1]), bias), wx1, F_MUL(t0, wx0));
        h[1] = h[2] = h[0];
        return;
    }
    Window cu = window(urow, gr->cbase, gr->cmask), cv = cu;
    const uint8_t *iu0 = ix[2], *iu1 = ix[3], *iv0 = ix[2], *iv1 = ix[3];
    if (fmt == FP_PIX_NV12)
        iv0 = ix[3], iu1 = ix[4], iv1 = ix[5];
    else
        cv = window(vrow, gr->cbase, gr->cmask);
    vf t0[3];
    yuv_rgb_f(k, F_SUB(taps(l, ix[0]), bias), F_SUB(taps(cu, iu0), cbias), F_SUB(taps(cv, iv0), cbias), t0);
    if (hz) {
        for (int c = 0; c < 3; c++)
            h[c] = t0[c];
        return;
    }
    for (int c = 0; c < 3; c++)
        t0[c] = F_MUL(t0[c], wx0);
    vf t1[3];
    yuv_rgb_f(k, F_SUB(taps(l, ix[1]), bias), F_SUB(taps(cu, iu1), cbias), F_SUB(taps(cv, iv1), cbias), t1);
    for (int c = 0; c < 3; c++)
        h[c] = F_FMA(t1[c], wx1, t0[c]);
}

/*
 * hz: tap 1 of every column has weight 0; vz: row tap 1 has weight 0. The
 * skipped taps would contribute fma(t, 0, x * 1.0) == x exactly (taps are
 * finite and >= 0), so skipping them keeps the result bit-identical.
 */
static inline __attribute__((always_inline)) void pixels_vbmi(const Ctx *k, const FpPrepGroup *gr,
                                                              const uint8_t (*ix)[64], int x, FpPixelFormat fmt,
                                                              int hz, int vz, vf out[3])
{
    vf wx0 = F_LOAD(k->wx0 + x), wx1 = F_LOAD(k->wx1 + x);
    vf top[3], bot[3];
    row_vbmi(k, gr, ix, k->l0, k->u0, k->v0, wx0, wx1, fmt, hz, top);
    if (vz) {
        for (int c = 0; c < 3; c++)
            out[c] = top[c];
        return;
    }
    row_vbmi(k, gr, ix, k->l1, k->u1, k->v1, wx0, wx1, fmt, hz, bot);
    for (int c = 0; c < 3; c++)
        out[c] = F_FMA(bot[c], k->wy1, F_MUL(top[c], k->wy0));
}

static inline __attribute__((always_inline)) void group_vbmi(const Ctx *k, const FpPrepGroup *gr,
                                                             const uint8_t (*ix)[64], int x, FpPixelFormat fmt,
                                                             int vz, vf out[3])
{
    if (gr->hzero) {
        if (vz)
            pixels_vbmi(k, gr, ix, x, fmt, 1, 1, out);
        else
            pixels_vbmi(k, gr, ix, x, fmt, 1, 0, out);
    } else {
        if (vz)
            pixels_vbmi(k, gr, ix, x, fmt, 0, 1, out);
        else
            pixels_vbmi(k, gr, ix, x, fmt, 0, 0, out);
    }
}

/*
 * All content columns [cx0, cx1) in the planned groups. A group whose
 * window does not fit uses gathers, which is only safe before vec_end: at
 * the first such group past it, stop and leave the rest to the C reference.
 */
static inline __attribute__((always_inline)) int span_vbmi(const FpLetterbox *lb, const FpPrepSrc *s, int xb, int xe,
                                                           const FpPrepDst *d, FpPixelFormat fmt)
{
    if (xb != lb->cx0 || xe != lb->cx1 || lb->ngroups == 0)
        return span(lb, s, xb, xe < lb->vec_end ? xe : lb->vec_end, d, fmt);
    Ctx k;
    ctx_init(&k, lb, s, d);
    const FpPrepGroup *groups = lb->groups;
    const uint8_t(*gidx)[6][64] = lb->gidx;
    int ng = lb->ngroups, vec_end = lb->vec_end;
    int vz = s->wy1 == 0.0f;
    for (int g = 0; g < ng; g++) {
        int x = xb + g * VW;
        if (x > xe - VW)
            x = xe - VW;
        vf v3[3];
        if (groups[g].ok) {
            group_vbmi(&k, &groups[g], gidx[g], x, fmt, vz, v3);
        } else {
            if (x + VW > vec_end)
                return x;
            pixels(&k, x, fmt, v3);
        }
        store(&k, x, v3);
    }
    return xe;
}

int fp__prep_span_avx512vbmi(const FpLetterbox *lb, const FpPrepSrc *s, int xb, int xe, const FpPrepDst *d)
{
    switch (lb->format) {
    case FP_PIX_YUV420P: return span_vbmi(lb, s, xb, xe, d, FP_PIX_YUV420P);
    case FP_PIX_NV12: return span_vbmi(lb, s, xb, xe, d, FP_PIX_NV12);
    case FP_PIX_RGB24:
    case FP_PIX_BGR24: return span(lb, s, xb, xe < lb->vec_end ? xe : lb->vec_end, d, FP_PIX_RGB24);
    case FP_PIX_GRAY8: return span_vbmi(lb, s, xb, xe, d, FP_PIX_GRAY8);
    default: return xb;
    }
}
