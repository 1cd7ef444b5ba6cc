// SPDX-License-Identifier: MIT
// Tensor element types and layouts: the one vocabulary of pre-processing (what it writes) and inference (what the model declares).
#ifndef FRAMEPIPE_TENSOR_H
#define FRAMEPIPE_TENSOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element type of a tensor. Pre-processing writes FLOAT32, FLOAT16 and UINT8; models may declare any. */
typedef enum FpDtype {
    FP_DTYPE_UNKNOWN = 0,
    FP_DTYPE_FLOAT32,
    FP_DTYPE_FLOAT16,
    FP_DTYPE_UINT8,
    FP_DTYPE_INT8,
    FP_DTYPE_INT32,
    FP_DTYPE_INT64,
} FpDtype;

/* Size in bytes of one element, 0 for FP_DTYPE_UNKNOWN. Any thread. */
size_t fp_dtype_size(FpDtype dtype);
/* "float32", "uint8", ...; never NULL, static. Any thread. */
const char *fp_dtype_name(FpDtype dtype);

typedef enum FpLayout {
    FP_LAYOUT_UNKNOWN = 0,
    FP_LAYOUT_NCHW, /* planes: batch, channel, row, column */
    FP_LAYOUT_NHWC, /* interleaved: batch, row, column, channel */
} FpLayout;

#ifdef __cplusplus
}
#endif
#endif
