// SPDX-License-Identifier: MIT
// FpDetection: one detected object in source-frame pixels, the common output of every model family's decoder.
#ifndef FRAMEPIPE_DETECT_H
#define FRAMEPIPE_DETECT_H

#include "framepipe/geometry.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FP_MAX_KEYPOINTS 8

/* A plain value type. Boxes are in source-frame pixels once decoded (letterbox undone). */
typedef struct FpDetection {
    FpBox box;
    float score;          /* final confidence in [0, 1] */
    int class_id;         /* 0-based class index (0 for single-class models) */
    int n_keypoints;      /* 0..FP_MAX_KEYPOINTS */
    float keypoints[FP_MAX_KEYPOINTS][2]; /* (x, y) in the same space as box */
} FpDetection;

#ifdef __cplusplus
}
#endif
#endif
