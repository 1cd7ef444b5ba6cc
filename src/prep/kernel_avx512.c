// SPDX-License-Identifier: MIT
// AVX-512 (F/BW/VL/DQ) variant of the fused pre-processing kernel: 16 pixels per step, chosen at run time.
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")

#include "prep_internal.h"

#include "kernel_avx512_ops.h"

#define SPAN_NAME fp__prep_span_avx512

#include "kernel_body.h"
