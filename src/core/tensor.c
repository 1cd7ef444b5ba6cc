// SPDX-License-Identifier: MIT
// Tensor element types: sizes and names (framepipe/tensor.h).
#include "framepipe/tensor.h"

size_t fp_dtype_size(FpDtype dtype)
{
    switch (dtype) {
    case FP_DTYPE_FLOAT32: return 4;
    case FP_DTYPE_FLOAT16: return 2;
    case FP_DTYPE_UINT8: return 1;
    case FP_DTYPE_INT8: return 1;
    case FP_DTYPE_INT32: return 4;
    case FP_DTYPE_INT64: return 8;
    default: return 0;
    }
}

const char *fp_dtype_name(FpDtype dtype)
{
    switch (dtype) {
    case FP_DTYPE_FLOAT32: return "float32";
    case FP_DTYPE_FLOAT16: return "float16";
    case FP_DTYPE_UINT8: return "uint8";
    case FP_DTYPE_INT8: return "int8";
    case FP_DTYPE_INT32: return "int32";
    case FP_DTYPE_INT64: return "int64";
    default: return "unknown";
    }
}
