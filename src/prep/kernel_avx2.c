// SPDX-License-Identifier: MIT
// AVX2 variant of the fused pre-processing kernel: 8 pixels per step, chosen at run time.
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx2,fma,f16c")

#include "prep_internal.h"

#include <immintrin.h>

#define VW 8
typedef __m256 vf;
typedef __m256i vi;
#define F_LOAD(p) _mm256_loadu_ps(p)
#define I_LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define F_SET1(x) _mm256_set1_ps(x)
#define I_SET1(x) _mm256_set1_epi32(x)
#define GATHER(base, idx) _mm256_i32gather_epi32((const int *)(const void *)(base), (idx), 1)
#define I_AND(a, b) _mm256_and_si256(a, b)
#define I_SRLI(a, n) _mm256_srli_epi32(a, n)
#define I_SRLV(a, s) _mm256_srlv_epi32(a, s)
#define I_ADD(a, b) _mm256_add_epi32(a, b)
#define CVT_I2F(a) _mm256_cvtepi32_ps(a)
#define F_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define F_MUL(a, b) _mm256_mul_ps(a, b)
#define F_ADD(a, b) _mm256_add_ps(a, b)
#define F_SUB(a, b) _mm256_sub_ps(a, b)
#define F_MIN(a, b) _mm256_min_ps(a, b)
#define F_MAX(a, b) _mm256_max_ps(a, b)
#define ALL_ZERO(v) (_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_EQ_OQ)) == 0xff)
#define F_STOREU(p, v) _mm256_storeu_ps(p, v)
#define STORE_F16(p, v) \
    _mm_storeu_si128((__m128i *)(void *)(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))

/* 8 int32 in [0,255] -> 8 bytes */
static inline __attribute__((always_inline)) void store_u8(uint8_t *p, __m256 v)
{
    __m256i i = _mm256_cvtps_epi32(v);
    __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    _mm_storel_epi64((__m128i *)(void *)p, _mm_packus_epi16(w, w));
}
#define STORE_U8(p, v) store_u8(p, v)
#define SPAN_NAME fp__prep_span_avx2

#include "kernel_body.h"
