// SPDX-License-Identifier: MIT
// SSD anchor tables (BlazeFace front/back and others) checked against an independent Python reimplementation run at test time.
#include "fp_test.h"

#include "framepipe/post.h"

#include <math.h>
#include <unistd.h>

/* Runs the Python reference with the options as JSON; compares every anchor. */
static void compare_with_reference(const FpSsdAnchorOptions *o, int expected_count)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        fp_test_skip("/usr/bin/python3 is missing");
    char json[1024], cmd[2048];
    int n = snprintf(json, sizeof(json),
                     "{\"num_layers\": %d, \"min_scale\": %.9g, \"max_scale\": %.9g, \"input_size_width\": %d, "
                     "\"input_size_height\": %d, \"anchor_offset_x\": %.9g, \"anchor_offset_y\": %.9g, "
                     "\"interpolated_scale_aspect_ratio\": %.9g, \"reduce_boxes_in_lowest_layer\": %s, "
                     "\"fixed_anchor_size\": %s, \"strides\": [",
                     o->num_layers, (double)o->min_scale, (double)o->max_scale, o->input_width, o->input_height,
                     (double)o->anchor_offset_x, (double)o->anchor_offset_y,
                     (double)o->interpolated_scale_aspect_ratio, o->reduce_boxes_in_lowest_layer ? "true" : "false",
                     o->fixed_anchor_size ? "true" : "false");
    for (int i = 0; i < o->num_layers; i++)
        n += snprintf(json + n, sizeof(json) - (size_t)n, "%s%d", i ? ", " : "", o->strides[i]);
    n += snprintf(json + n, sizeof(json) - (size_t)n, "], \"aspect_ratios\": [");
    for (int i = 0; i < o->n_aspect_ratios; i++)
        n += snprintf(json + n, sizeof(json) - (size_t)n, "%s%.9g", i ? ", " : "", (double)o->aspect_ratios[i]);
    snprintf(json + n, sizeof(json) - (size_t)n, "]}");
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/post/ssd_anchors_ref.py '%s'", fp_test_source_dir(), json);

    int count = fp_post_ssd_anchors(o, NULL, 0);
    CHECK_EQ(count, expected_count);
    FpAnchor *a = calloc((size_t)count, sizeof(*a));
    CHECK_EQ(fp_post_ssd_anchors(o, a, count), count);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    int i = 0;
    double x, y, w, h;
    while (fscanf(f, "%lf %lf %lf %lf", &x, &y, &w, &h) == 4) {
        CHECK_MSG(i < count, "reference has more than %d anchors", count);
        CHECK_MSG(fabs(a[i].x_center - x) < 1e-6 && fabs(a[i].y_center - y) < 1e-6 && fabs(a[i].width - w) < 1e-6 &&
                      fabs(a[i].height - h) < 1e-6,
                  "anchor %d: C (%g %g %g %g) vs reference (%g %g %g %g)", i, (double)a[i].x_center,
                  (double)a[i].y_center, (double)a[i].width, (double)a[i].height, x, y, w, h);
        i++;
    }
    CHECK_EQ(pclose(f), 0);
    CHECK_EQ(i, count);
    free(a);
}

FP_TEST_TIMED(anchors_blazeface_front_128_match_reference, 60)
{
    FpSsdAnchorOptions o;
    CHECK_OK(fp_post_blazeface_anchor_options(128, &o));
    compare_with_reference(&o, 896);
    /* known values: 16x16 grid x 2 first, then 8x8 x 6 */
    FpAnchor a[896];
    fp_post_ssd_anchors(&o, a, 896);
    CHECK_NEAR(a[0].x_center, 0.5 / 16, 1e-7);
    CHECK_NEAR(a[1].x_center, 0.5 / 16, 1e-7);
    CHECK_NEAR(a[2].x_center, 1.5 / 16, 1e-7);
    CHECK_NEAR(a[511].y_center, 15.5 / 16, 1e-7);
    CHECK_NEAR(a[512].x_center, 0.5 / 8, 1e-7);
    CHECK_NEAR(a[517].x_center, 0.5 / 8, 1e-7);
    CHECK_NEAR(a[518].x_center, 1.5 / 8, 1e-7);
    CHECK_EQ(a[700].width, 1.0f);
}

FP_TEST_TIMED(anchors_blazeface_back_256_match_reference, 60)
{
    FpSsdAnchorOptions o;
    CHECK_OK(fp_post_blazeface_anchor_options(256, &o));
    compare_with_reference(&o, 896);
}

FP_TEST_TIMED(anchors_sized_and_reduced_layers_match_reference, 60)
{
    /* not BlazeFace: anchor sizes from scales and aspect ratios, a reduced lowest layer, a ragged input */
    FpSsdAnchorOptions o = {0};
    o.num_layers = 5;
    o.min_scale = 0.2f, o.max_scale = 0.95f;
    o.input_width = 300, o.input_height = 200;
    o.anchor_offset_x = 0.5f, o.anchor_offset_y = 0.5f;
    int strides[5] = {16, 32, 32, 64, 100};
    memcpy(o.strides, strides, sizeof(strides));
    o.aspect_ratios[0] = 1.0f, o.aspect_ratios[1] = 2.0f, o.aspect_ratios[2] = 0.5f;
    o.n_aspect_ratios = 3;
    o.interpolated_scale_aspect_ratio = 1.0f;
    o.reduce_boxes_in_lowest_layer = true;
    /* 19x13 x 3 + 10x7 x 8 + 5x4 x 4 + 3x2 x 4 */
    compare_with_reference(&o, 19 * 13 * 3 + 10 * 7 * 8 + 5 * 4 * 4 + 3 * 2 * 4);
}

FP_TEST(anchors_bad_options)
{
    FpSsdAnchorOptions o;
    CHECK_EQ(fp_post_blazeface_anchor_options(100, &o), FP_EINVALID);
    CHECK_OK(fp_post_blazeface_anchor_options(128, &o));
    o.strides[2] = 0;
    CHECK_EQ(fp_post_ssd_anchors(&o, NULL, 0), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "stride 2") != NULL);
    o.strides[2] = 16;
    o.num_layers = 0;
    CHECK_EQ(fp_post_ssd_anchors(&o, NULL, 0), FP_EINVALID);
}
