// SPDX-License-Identifier: MIT
// Tensor layout shared by pre-processing (what it writes) and inference (what the model declares).
#ifndef FRAMEPIPE_TENSOR_H
#define FRAMEPIPE_TENSOR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum FpLayout {
    FP_LAYOUT_UNKNOWN = 0,
    FP_LAYOUT_NCHW, /* planes: batch, channel, row, column */
    FP_LAYOUT_NHWC, /* interleaved: batch, row, column, channel */
} FpLayout;

#ifdef __cplusplus
}
#endif
#endif
