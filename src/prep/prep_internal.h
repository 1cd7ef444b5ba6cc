// SPDX-License-Identifier: MIT
// Internal layout of the pre-processing plan (FpLetterbox), shared by the C reference and the SIMD kernels.
#ifndef FP_PREP_INTERNAL_H
#define FP_PREP_INTERNAL_H

#include "framepipe/prep.h"

#include <stdint.h>

/*
 * Exactness contract between the C reference and the SIMD kernels: all of
 * them perform the same IEEE single-precision operations in the same order,
 * with fused multiply-adds exactly where written below (fmaf() in C, which
 * rounds once like vfmadd), no other contraction or reassociation (every
 * prep source is compiled with fp-contract off), read the same precomputed
 * tables, and round the same way (nearest, ties to even). Their outputs are
 * therefore bit identical, which tests/prep/test_checkasm.c verifies.
 *
 * Per tap (one source pixel) in YUV: yv = fma(max(Y, ymin), cy, ky); u = U-128; v = V-128;
 *   R = fma(v, crv, yv);  G = fma(v, cgv, fma(u, cgu, yv));  B = fma(u, cbu, yv);
 *   each clamped to [0,255].
 * Blend: top = fma(t01, wx1, t00*wx0); bot = fma(t11, wx1, t10*wx0); p = fma(bot, wy1, top*wy0).
 * Store: v = fma(p, a[c], b[c]); u8: rint(clamp(v, 0, 255)); f16: round to nearest even.
 */

/*
 * One vector group of 16 tensor columns for the AVX-512 VBMI kernel: the
 * bytes its taps need lie in a 128-byte window of each source row starting
 * at lbase (luma) / cbase (chroma), so two masked loads and one byte permute
 * per tap replace the gathers. idx: 6 x 64 permute indices (byte 4i = lane
 * i's offset in the window, byte 4i+3 = 0x4B so the lane reads as the
 * float 2^23 + pixel, bytes 4i+1..2 = 0): luma
 * tap 0, luma tap 1, then chroma (YUV420P: tap 0, tap 1; NV12: U0, V0, U1,
 * V1). ok == 0: the window does not fit (strong downscale, packed RGB), the
 * group uses gathers.
 */
typedef struct FpPrepGroup {
    int32_t lbase, cbase, ok;
    int32_t hzero; /* every column's tap-1 weight is 0 (odd integer downscale): tap 1 is skipped, bit-exactly */
    uint64_t lmask[2], cmask[2]; /* bytes of the window inside the row */
} FpPrepGroup;

#define FP_PREP_GROUP_W 16

/* Source rows of one output row. */
typedef struct FpPrepRow {
    int32_t y0, y1;  /* luma / packed rows, absolute */
    float wy0, wy1;
} FpPrepRow;

struct FpLetterbox {
    FpPrepOptions opt;
    int src_w, src_h;
    FpPixelFormat format;
    FpPrepIsa isa_req;   /* as asked (AUTO: default choice) */
    FpPrepIsa isa;       /* resolved */
    FpTransform xf;

    /* content rectangle in the tensor: columns [cx0, cx1), rows [cy0, cy1) */
    int cx0, cx1, cy0, cy1;
    int vec_end;         /* columns [cx0, vec_end) may use 4-byte gathers at every tap without leaving the row */

    /* per output column (index = tensor column; only [cx0, cx1) meaningful) */
    int32_t *xo;   /* byte offset of tap 0 in the luma/packed row */
    int32_t *xd;   /* byte distance tap 1 - tap 0 (0 or 1; 0 or 3 for packed RGB) */
    int32_t *co;   /* byte offset of tap 0 in the chroma row (YUV420P: x0>>1; NV12: 2*(x0>>1)) */
    int32_t *cd;   /* byte distance of chroma tap 1 (0/1; NV12 0/2) */
    int32_t *csh;  /* 8 * cd: bit shift of chroma tap 1 inside a 4-byte gather */
    float *wx0, *wx1;
    FpPrepRow *rows; /* per output row */
    FpPrepGroup *groups;       /* vector groups of [cx0, cx1) (VBMI kernel) */
    uint8_t (*gidx)[6][64];    /* their permute indices */
    int ngroups, max_groups;

    /* colour and values */
    float cy, ky, crv, cgu, cgv, cbu;
    int ymin;        /* 16 for limited range, 0 for full range */
    int perm[3];     /* tensor channel c takes computed channel perm[c] (computed: R,G,B for YUV/GRAY; bytes 0,1,2 for packed) */
    float a[3], b[3];
    float padv[3];   /* pad value as f32 tensor values */
    uint16_t padh[3];
    uint8_t padb[3];
    int cpu_fma;     /* the C reference may use its FMA build */
    size_t esize;    /* element size */
    size_t slot_bytes;
    void *mem;       /* one allocation holding the tables */
};

/* Destination row: per tensor channel a pointer to column 0, element stride between pixels (1 or 3). */
typedef struct FpPrepDst {
    uint8_t *ch[3];
    int pstride;
} FpPrepDst;

/* Source row pointers for one output row (chroma pointers NULL for packed/gray). */
typedef struct FpPrepSrc {
    const uint8_t *l0, *l1, *u0, *u1, *v0, *v1;
    float wy0, wy1;
} FpPrepSrc;

/* Content columns [x_begin, x_end) of one row, plain C (the reference). */
void fp__prep_span_c(const FpLetterbox *lb, const FpPrepSrc *s, int x_begin, int x_end, const FpPrepDst *d);

/*
 * SIMD spans, called with [cx0, cx1): process columns from x_begin, return
 * the first column not done (the C reference does the rest). The gather
 * kernels stop at vec_end; the VBMI kernel usually reaches cx1.
 */
int fp__prep_span_avx2(const FpLetterbox *lb, const FpPrepSrc *s, int x_begin, int x_end, const FpPrepDst *d);
int fp__prep_span_avx512(const FpLetterbox *lb, const FpPrepSrc *s, int x_begin, int x_end, const FpPrepDst *d);
int fp__prep_span_avx512vbmi(const FpLetterbox *lb, const FpPrepSrc *s, int x_begin, int x_end, const FpPrepDst *d);

/* Float -> IEEE half, round to nearest even (what F16C's vcvtps2ph does with imm 0). */
uint16_t fp__prep_f32_to_f16(float f);

#endif
