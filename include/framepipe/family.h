// SPDX-License-Identifier: MIT
// FpFamily: the detector output families framepipe can decode, as classified from a model's outputs.
#ifndef FRAMEPIPE_FAMILY_H
#define FRAMEPIPE_FAMILY_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A model's family decides which decoder in src/post/ reads its outputs.
 * fp_model_family() (framepipe/model.h) classifies a loaded model from its
 * output shapes and metadata; the layouts are:
 *
 *   FP_FAMILY_YOLOV5      one output [B, N, 5 + C]: cx, cy, w, h, objectness, C class scores
 *   FP_FAMILY_YOLOV8      one output [B, 4 + C, N]: cx, cy, w, h, C class scores (v8 / v11
 *                         export with the DFL decoded inside the graph)
 *   FP_FAMILY_YOLOV8_RAW  one output [B, 4 * reg_max + C, N]: the raw detect head, box
 *                         distributions (reg_max bins per side: l, t, r, b) then C class
 *                         logits; the decoder applies softmax + DFL, anchors and strides
 *   FP_FAMILY_BLAZEFACE   four outputs: scores [1, 512, 1] and [1, 384, 1] (16x16 grid x2
 *                         anchors, 8x8 x6 anchors), regressors [1, 512, 16] and [1, 384, 16]
 *                         (box + 6 keypoints), MediaPipe front (128) / back (256) models
 *   FP_FAMILY_SSD         boxes [B, N, 4] + scores [B, N, C] (TF-style SSD export)
 *   FP_FAMILY_UNKNOWN     none of the above
 */
typedef enum FpFamily {
    FP_FAMILY_UNKNOWN = 0,
    FP_FAMILY_YOLOV5,
    FP_FAMILY_YOLOV8,
    FP_FAMILY_YOLOV8_RAW,
    FP_FAMILY_BLAZEFACE,
    FP_FAMILY_SSD,
} FpFamily;

/* Lower-case name ("yolov8", "blazeface", "unknown"); never NULL, static. Any thread. */
const char *fp_family_name(FpFamily family);

/*
 * Parses a family name from a config ("yolov5", "yolov7", "yolov8", "yolov11",
 * "yolov8-raw", "blazeface", "ssd") into *out. Returns 0 or FP_EINVALID
 * (message names the string and the accepted names); *out untouched on failure.
 * Any thread.
 */
int fp_family_parse(const char *name, FpFamily *out);

#ifdef __cplusplus
}
#endif
#endif
