// SPDX-License-Identifier: MIT
// Prints the size, alignment and member offsets of the public structs with FP_ATOMIC members; built as C and as C++, the outputs must match.
#include "framepipe/framepipe.h"

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
#define ALIGNOF(T) alignof(T)
#else
#define ALIGNOF(T) _Alignof(T)
#endif

#define SHAPE(T) printf("%-20s size %zu align %zu\n", #T, sizeof(T), (size_t)ALIGNOF(T))
#define AT(T, m) printf("%-20s .%s at %zu\n", #T, #m, offsetof(T, m))

/* The structs a C++ program embeds or reads whose C view has _Atomic members, and their neighbours. */
int main(void)
{
    SHAPE(FpFrame);
    AT(FpFrame, buf);
    AT(FpFrame, release);
    AT(FpFrame, release_opaque);
    AT(FpFrame, refcount);
    SHAPE(FpCounter);
    AT(FpCounter, value);
    SHAPE(FpHistogram);
    AT(FpHistogram, count);
    AT(FpHistogram, sum);
    AT(FpHistogram, min);
    AT(FpHistogram, max);
    AT(FpHistogram, buckets);
    SHAPE(FpHistogramSummary);
    SHAPE(FpFrameResult);
    SHAPE(FpCameraSummary);
    AT(FpCameraSummary, latency);
    SHAPE(FpPipelineSummary);
    AT(FpPipelineSummary, latency);
    return 0;
}
