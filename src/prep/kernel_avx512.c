// SPDX-License-Identifier: MIT
// AVX-512 (F/BW/VL/DQ) variant of the fused pre-processing kernel: 16 pixels per step, chosen at run time.
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")

#include "prep_internal.h"

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
#define SPAN_NAME fp__prep_span_avx512

#include "kernel_body.h"
