// SPDX-License-Identifier: MIT
// Helpers for the inference tests: real images (JPEG/PNG) into model tensors, and the independent onnxruntime-node reference.
#ifndef FP_TEST_INFER_UTIL_H
#define FP_TEST_INFER_UTIL_H

#include "framepipe/model.h"

#include <stdint.h>

/* An RGB image, 3 bytes per pixel, rows packed. */
typedef struct TestImage {
    uint8_t *rgb;
    int width, height;
} TestImage;

/* Loads a .jpg (TurboJPEG) or .png (libpng) file; fails the test if it cannot. Free with test_image_free. */
TestImage test_image_load(const char *path);
void test_image_free(TestImage *img);

/* Where a letterboxed image landed in the tensor: tensor = source * scale + pad. */
typedef struct TestLetterbox {
    float scale;
    int pad_x, pad_y;
} TestLetterbox;

/*
 * Letterboxes `img` (bilinear, aspect kept, centred) into a float32 tensor of
 * size s x s in `layout`, values pixel / 255 * (hi - lo) + lo, padding `pad`.
 */
TestLetterbox test_letterbox(const TestImage *img, float *dst, int s, FpLayout layout, float lo, float hi, float pad);

/* Path of an opencv-doc sample (examples/data/NAME); skips the test when opencv-doc is missing. */
const char *test_sample(const char *name);
/* $FP_CACHE_DIR/models/blazeface/NAME; skips the test when the setup script has not fetched it. */
const char *test_blazeface(int size);
/* FP_SOURCE_DIR/models/NAME. */
const char *test_model_path(const char *name);

/*
 * Runs `model` with onnxruntime-node (ORT 1.30, a build separate from framepipe's library) on
 * `batch` items of float32 `input` shaped [batch, d1, d2, d3], one item per run when `perslot`.
 * Returns malloc'ed float arrays (one per output, batch concatenated) in outs[0..n_out); skips
 * the test when node or onnxruntime-node is missing.
 */
void test_ort_reference(const char *model, const float *input, int batch, const int64_t item_dims[3], bool perslot,
                        int n_out, float **outs, size_t *out_len);

/* Largest |a - b| / (1 + |b|) over n values. */
double test_max_rel_diff(const float *a, const float *b, size_t n);

#endif
