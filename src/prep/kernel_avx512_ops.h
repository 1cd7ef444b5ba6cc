// SPDX-License-Identifier: MIT
// The AVX-512 vector operations behind kernel_body.h, shared by kernel_avx512.c and kernel_avx512vbmi.c.
#ifndef FP_PREP_KERNEL_AVX512_OPS_H
#define FP_PREP_KERNEL_AVX512_OPS_H

#include <immintrin.h>

#define VW 16
typedef __m512 vf;
typedef __m512i vi;
#define F_LOAD(p) _mm512_loadu_ps(p)
#define I_LOAD(p) _mm512_loadu_si512((const void *)(p))
#define F_SET1(x) _mm512_set1_ps(x)
#define I_SET1(x) _mm512_set1_epi32(x)
#define GATHER(base, idx) _mm512_i32gather_epi32((idx), (const void *)(base), 1)
#define I_AND(a, b) _mm512_and_si512(a, b)
#define I_SRLI(a, n) _mm512_srli_epi32(a, n)
#define I_SRLV(a, s) _mm512_srlv_epi32(a, s)
#define I_ADD(a, b) _mm512_add_epi32(a, b)
#define CVT_I2F(a) _mm512_cvtepi32_ps(a)
#define F_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define F_MUL(a, b) _mm512_mul_ps(a, b)
#define F_ADD(a, b) _mm512_add_ps(a, b)
#define F_SUB(a, b) _mm512_sub_ps(a, b)
#define F_MIN(a, b) _mm512_min_ps(a, b)
#define F_MAX(a, b) _mm512_max_ps(a, b)
#define ALL_ZERO(v) (_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_EQ_OQ) == 0xffff)
#define F_STOREU(p, v) _mm512_storeu_ps(p, v)
#define STORE_F16(p, v) \
    _mm256_storeu_si256((__m256i *)(void *)(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))
#define STORE_U8(p, v) _mm_storeu_si128((__m128i *)(void *)(p), _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(v)))

/* NHWC: three channel vectors of 16 -> 48 interleaved values (r0 g0 b0 r1 ...) in three vectors. */
static inline __attribute__((always_inline)) void interleave3(__m512 r, __m512 g, __m512 b, __m512 o[3])
{
    const __m512i rg0 = _mm512_setr_epi32(0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 5);
    const __m512i rg1 = _mm512_setr_epi32(21, 0, 6, 22, 0, 7, 23, 0, 8, 24, 0, 9, 25, 0, 10, 26);
    const __m512i rg2 = _mm512_setr_epi32(0, 11, 27, 0, 12, 28, 0, 13, 29, 0, 14, 30, 0, 15, 31, 0);
    const __m512i b0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0);
    const __m512i b1 = _mm512_setr_epi32(0, 5, 0, 0, 6, 0, 0, 7, 0, 0, 8, 0, 0, 9, 0, 0);
    const __m512i b2 = _mm512_setr_epi32(10, 0, 0, 11, 0, 0, 12, 0, 0, 13, 0, 0, 14, 0, 0, 15);
    o[0] = _mm512_mask_permutexvar_ps(_mm512_permutex2var_ps(r, rg0, g), 0x4924, b0, b);
    o[1] = _mm512_mask_permutexvar_ps(_mm512_permutex2var_ps(r, rg1, g), 0x2492, b1, b);
    o[2] = _mm512_mask_permutexvar_ps(_mm512_permutex2var_ps(r, rg2, g), 0x9249, b2, b);
}
#define INTERLEAVE3(r, g, b, o) interleave3(r, g, b, o)

#endif
