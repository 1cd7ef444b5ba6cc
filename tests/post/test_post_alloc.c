// SPDX-License-Identifier: MIT
// After create, decoding a batch allocates nothing: allocator calls are counted (tests/harness/fp_alloc_count.h) around fp_post_run.
#include "fp_test.h"
#include "fp_alloc_count.h"

#include "framepipe/post.h"

#include <math.h>

static void run_counted(FpFamily family, const FpTensorView *v, int n_out, int batch, int input, FpNmsMode mode)
{
    FpPostConfig cfg;
    fp_post_config_init(&cfg, family);
    cfg.conf_threshold = 0.01f;
    cfg.input_width = cfg.input_height = input;
    cfg.nms.mode = mode;
    FpPost *post;
    CHECK_OK(fp_post_create(&post, &cfg, v, n_out));
    FpTransform tf[4];
    for (int i = 0; i < 4; i++)
        tf[i] = (FpTransform){0.5f, 0.5f, 0, 10, 0, 0, 2.0f * input, 2.0f * input, 2 * input, 2 * input, input, input};
    static FpDetection d[4 * 300];
    int counts[4];
    unsigned long before = fp_alloc_calls();
    for (int r = 0; r < 3; r++)
        CHECK(fp_post_run(post, v, n_out, batch, tf, d, 300, counts) > 0);
    unsigned long allocations = fp_alloc_calls() - before;
    CHECK_MSG(allocations == 0, "%s: %lu allocator calls while decoding", fp_post_decoder_name(post), allocations);
    fp_post_destroy(&post);
}

FP_TEST(post_run_allocates_nothing)
{
    static float buf[4 * 84 * 2100];
    uint64_t s = 12345;
    for (size_t i = 0; i < sizeof(buf) / sizeof(buf[0]); i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (float)(s >> 40) / 16777216.0f * 60.0f; /* 0..60: boxes and (clamped by the filter) scores */
        if (i % 7 == 0)
            buf[i] = 0.5f;
    }
    FpTensorView v8 = {buf, 3, {2, 84, 2100}};
    run_counted(FP_FAMILY_YOLOV8, &v8, 1, 2, 320, FP_NMS_HARD);
    FpTensorView v5 = {buf, 3, {2, 2100, 85}};
    run_counted(FP_FAMILY_YOLOV5, &v5, 1, 2, 320, FP_NMS_HARD);
    FpTensorView raw = {buf, 3, {1, 144, 2100}};
    run_counted(FP_FAMILY_YOLOV8_RAW, &raw, 1, 1, 320, FP_NMS_HARD);
    FpTensorView bf[4] = {{buf, 3, {1, 512, 1}}, {buf + 512, 3, {1, 384, 1}}, {buf + 1000, 3, {1, 512, 16}},
                          {buf + 10000, 3, {1, 384, 16}}};
    run_counted(FP_FAMILY_BLAZEFACE, bf, 4, 1, 128, FP_NMS_WEIGHTED);
    FpTensorView ssd[2] = {{buf, 3, {1, 1000, 4}}, {buf + 4000, 3, {1, 1000, 10}}};
    run_counted(FP_FAMILY_SSD, ssd, 2, 1, 320, FP_NMS_HARD);
}
