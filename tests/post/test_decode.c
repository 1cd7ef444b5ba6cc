// SPDX-License-Identifier: MIT
// Decoder golden tests per family from hand-written output tensors with known answers, letterbox unmapping at the edges, bad input.
#include "fp_test.h"

#include "framepipe/post.h"

#include <math.h>
#include <unistd.h>

/* A transform written out by hand: tensor = source * scale + offset, clipped to the source frame. */
static FpTransform tf_make(float scale, float ox, float oy, int sw, int sh, int dw, int dh)
{
    FpTransform t = {scale, scale, ox, oy, 0, 0, (float)sw, (float)sh, sw, sh, dw, dh};
    return t;
}

static FpTensorView view(const float *data, int rank, int64_t d0, int64_t d1, int64_t d2)
{
    FpTensorView v;
    memset(&v, 0, sizeof(v));
    v.data = data;
    v.rank = rank;
    v.dims[0] = d0, v.dims[1] = d1, v.dims[2] = d2;
    return v;
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

#define CHECK_BOX(b, X1, Y1, X2, Y2, tol)                                                                   \
    do {                                                                                                    \
        CHECK_NEAR((b).x1, X1, tol);                                                                        \
        CHECK_NEAR((b).y1, Y1, tol);                                                                        \
        CHECK_NEAR((b).x2, X2, tol);                                                                        \
        CHECK_NEAR((b).y2, Y2, tol);                                                                        \
    } while (0)

FP_TEST(yolov5_objectness_times_class_and_letterbox_edges)
{
    /* [1, 5, 5 + 3]: cx, cy, w, h, obj, 3 class scores, in 320x320 tensor pixels */
    static const float pred[5][8] = {
        {100, 100, 40, 20, 0.9f, 0.1f, 0.8f, 0.3f},  /* 0.9 x 0.8 = 0.72, class 1 */
        {200, 200, 40, 40, 0.2f, 0.9f, 0.0f, 0.0f},  /* objectness below 0.25: dropped */
        {150, 150, 40, 40, 0.9f, 0.2f, 0.1f, 0.1f},  /* 0.9 x 0.2 = 0.18: dropped */
        {10, 50, 40, 40, 1.0f, 0.0f, 0.0f, 0.5f},    /* 0.5, class 2, over the top-left corner */
        {310, 275, 40, 20, 0.95f, 0.6f, 0.0f, 0.0f}, /* 0.57, class 0, over the bottom-right */
    };
    FpPostConfig cfg;
    fp_post_config_init(&cfg, FP_FAMILY_YOLOV5);
    FpTensorView out = view(&pred[0][0], 3, 1, 5, 8);
    FpPost *post;
    CHECK_OK(fp_post_create(&post, &cfg, &out, 1));
    CHECK_EQ(fp_post_num_classes(post), 3);
    CHECK_EQ(fp_post_num_anchors(post), 5);
    CHECK(strcmp(fp_post_decoder_name(post), "yolov5") == 0);
    /* 640x480 letterboxed into 320x320: scale 0.5, 40 rows of padding above */
    FpTransform tf = tf_make(0.5f, 0, 40, 640, 480, 320, 320);
    FpDetection d[8];
    CHECK_EQ(fp_post_run_slot(post, &out, 1, 0, &tf, d, 8), 3);
    CHECK_NEAR(d[0].score, 0.72, 1e-6);
    CHECK_EQ(d[0].class_id, 1);
    CHECK_BOX(d[0].box, 160, 100, 240, 140, 1e-4); /* tensor (80, 90, 120, 110) */
    CHECK_NEAR(d[1].score, 0.57, 1e-6);
    CHECK_EQ(d[1].class_id, 0);
    CHECK_BOX(d[1].box, 580, 450, 640, 480, 1e-4); /* tensor (290, 265, 330, 285): x2, y2 clipped */
    CHECK_NEAR(d[2].score, 0.5, 1e-6);
    CHECK_EQ(d[2].class_id, 2);
    CHECK_BOX(d[2].box, 0, 0, 60, 60, 1e-4); /* tensor (-10, 30, 30, 70): x1, y1 clipped */
    CHECK_EQ(d[2].n_keypoints, 0);
    /* a smaller capacity keeps the best */
    CHECK_EQ(fp_post_run_slot(post, &out, 1, 0, &tf, d, 1), 1);
    CHECK_NEAR(d[0].score, 0.72, 1e-6);
    fp_post_destroy(&post);
    CHECK(post == NULL);
}

/* [2, 4 + 2, 5] channel-major: rows cx, cy, w, h, class 0, class 1 over 5 anchors */
static float v8[2][6][5] = {
    {
        {50, 52, 51, 200, 300},
        {50, 50, 50, 100, 300},
        {20, 20, 20, 40, 10},
        {20, 20, 20, 40, 10},
        {0.9f, 0.2f, 0.85f, 0.1f, 0.2f}, /* a0 class 0 0.9; a2 overlaps a0 (IoU 0.9): suppressed */
        {0.1f, 0.8f, 0.0f, 0.3f, 0.24f}, /* a1 class 1 0.8 (IoU 0.82 with a0); a3 class 1 0.3; a4 < 0.25 */
    },
    {
        {10, 0, 0, 0, 0},
        {10, 0, 0, 0, 0},
        {4, 0, 0, 0, 0},
        {4, 0, 0, 0, 0},
        {0.0f, 0, 0, 0, 0},
        {0.95f, 0, 0, 0, 0},
    },
};

FP_TEST(yolov8_class_aware_vs_agnostic_split_per_slot)
{
    FpPostConfig cfg;
    fp_post_config_init(&cfg, FP_FAMILY_YOLOV8);
    CHECK_NEAR(cfg.nms.iou_threshold, 0.7, 1e-6);
    FpTensorView out = view(&v8[0][0][0], 3, 2, 6, 5);
    FpPost *post;
    CHECK_OK(fp_post_create(&post, &cfg, &out, 1));
    CHECK_EQ(fp_post_num_classes(post), 2);
    FpTransform tfs[2] = {tf_make(1, 0, 0, 320, 320, 320, 320), tf_make(2, 0, 0, 160, 160, 320, 320)};
    FpDetection d[2 * 4];
    int counts[2];
    CHECK_EQ(fp_post_run(post, &out, 1, 2, tfs, d, 4, counts), 4);
    CHECK_EQ(counts[0], 3);
    CHECK_NEAR(d[0].score, 0.9, 1e-6);
    CHECK_EQ(d[0].class_id, 0);
    CHECK_BOX(d[0].box, 40, 40, 60, 60, 1e-4);
    CHECK_NEAR(d[1].score, 0.8, 1e-6);
    CHECK_EQ(d[1].class_id, 1);
    CHECK_BOX(d[1].box, 42, 40, 62, 60, 1e-4);
    CHECK_NEAR(d[2].score, 0.3, 1e-6);
    CHECK_BOX(d[2].box, 180, 80, 220, 120, 1e-4);
    CHECK_EQ(counts[1], 1); /* slot 1 starts at d[4]; tensor (8, 8, 12, 12) / 2 */
    CHECK_NEAR(d[4].score, 0.95, 1e-6);
    CHECK_EQ(d[4].class_id, 1);
    CHECK_BOX(d[4].box, 4, 4, 6, 6, 1e-5);
    fp_post_destroy(&post);

    cfg.nms.class_agnostic = true; /* the class-1 box on top of a0 now goes */
    CHECK_OK(fp_post_create(&post, &cfg, &out, 1));
    CHECK_EQ(fp_post_run(post, &out, 1, 2, tfs, d, 4, counts), 3);
    CHECK_EQ(counts[0], 2);
    CHECK_NEAR(d[1].score, 0.3, 1e-6);
    fp_post_destroy(&post);

    cfg.nms.class_agnostic = false; /* only the best candidate enters NMS */
    cfg.max_candidates = 1;
    CHECK_OK(fp_post_create(&post, &cfg, &out, 1));
    CHECK_EQ(fp_post_run_slot(post, &out, 1, 0, &tfs[0], d, 4), 1);
    CHECK_NEAR(d[0].score, 0.9, 1e-6);
    fp_post_destroy(&post);
}

FP_TEST(yolov8_raw_head_dfl_and_anchor_grid)
{
    /* 64x64 input, strides 8/16/32: 8x8 + 4x4 + 2x2 = 84 anchors; reg_max 16, 2 classes: 66 channels */
    enum { N = 84, R = 16, CH = 4 * R + 2 };
    static float x[CH][N];
    for (int i = 0; i < N; i++) {
        x[4 * R][i] = -10.0f; /* class logits: far below the threshold */
        x[4 * R + 1][i] = -10.0f;
    }
    /* anchor A: stride 8, cell (2, 3) = index 26, centre (2.5, 3.5) cells; l, t, r, b = 2, 1, 3, 4 bins */
    const int a = 26, ltrb[4] = {2, 1, 3, 4};
    for (int s = 0; s < 4; s++)
        x[s * R + ltrb[s]][a] = 50.0f;
    x[4 * R + 1][a] = 2.0f;
    /* anchor B: stride 16, cell (1, 2) = index 64 + 2 * 4 + 1; l = mean of bins 1 and 2, t = r = 0, b = 1 */
    const int b = 73;
    x[0 * R + 1][b] = x[0 * R + 2][b] = 30.0f;
    x[1 * R + 0][b] = 30.0f;
    x[2 * R + 0][b] = 30.0f;
    x[3 * R + 1][b] = 30.0f;
    x[4 * R + 0][b] = 0.0f; /* score exactly 0.5 */

    FpPostConfig cfg;
    fp_post_config_init(&cfg, FP_FAMILY_YOLOV8_RAW);
    cfg.input_width = cfg.input_height = 64;
    FpTensorView out = view(&x[0][0], 3, 1, CH, N);
    FpPost *post;
    CHECK_OK(fp_post_create(&post, &cfg, &out, 1));
    CHECK_EQ(fp_post_num_classes(post), 2);
    FpTransform tf = tf_make(1, 0, 0, 64, 64, 64, 64);
    FpDetection d[4];
    CHECK_EQ(fp_post_run_slot(post, &out, 1, 0, &tf, d, 4), 2);
    CHECK_NEAR(d[0].score, sigmoid(2.0), 1e-6);
    CHECK_EQ(d[0].class_id, 1);
    CHECK_BOX(d[0].box, (2.5 - 2) * 8, (3.5 - 1) * 8, (2.5 + 3) * 8, (3.5 + 4) * 8, 1e-3);
    CHECK_NEAR(d[1].score, 0.5, 1e-6);
    CHECK_EQ(d[1].class_id, 0);
    CHECK_BOX(d[1].box, (1.5 - 1.5) * 16, (2.5 - 0) * 16, (1.5 + 0) * 16, (2.5 + 1) * 16, 1e-3);
    fp_post_destroy(&post);

    cfg.conf_threshold = 0.5f; /* B's score is 0.5, not above it */
    CHECK_OK(fp_post_create(&post, &cfg, &out, 1));
    CHECK_EQ(fp_post_run_slot(post, &out, 1, 0, &tf, d, 4), 1);
    fp_post_destroy(&post);

    cfg.input_width = cfg.input_height = 72; /* 9x9 + 5x5 + 3x3 = 115 anchors, not 84 */
    CHECK_EQ(fp_post_create(&post, &cfg, &out, 1), FP_EMODEL);
    CHECK(strstr(fp_error_detail(FP_EMODEL), "gives 115") != NULL);
    cfg.input_width = cfg.input_height = 0;
    CHECK_EQ(fp_post_create(&post, &cfg, &out, 1), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "input size") != NULL);
    CHECK(post == NULL);
}

/* BlazeFace outputs for one 128x128 image, all scores at logit -10 */
typedef struct Blaze {
    float sa[512], sb[384], ra[512][16], rb[384][16];
} Blaze;

static void blaze_views(Blaze *z, FpTensorView v[4])
{
    v[0] = view(z->sa, 3, 1, 512, 1);
    v[1] = view(z->sb, 3, 1, 384, 1);
    v[2] = view(&z->ra[0][0], 3, 1, 512, 16);
    v[3] = view(&z->rb[0][0], 3, 1, 384, 16);
}

static void blaze_fill(Blaze *z)
{
    memset(z, 0, sizeof(*z));
    for (int i = 0; i < 512; i++)
        z->sa[i] = -10;
    for (int i = 0; i < 384; i++)
        z->sb[i] = -10;
    /* face A: 16x16 grid cell (5, 7), anchor 1 -> index (7 * 16 + 5) * 2 + 1 = 235, centre (44, 60) px */
    z->sa[235] = 3.0f;
    float ra[16] = {2, -3, 20, 24};
    for (int q = 0; q < 6; q++)
        ra[4 + 2 * q] = (float)q, ra[5 + 2 * q] = (float)-q;
    memcpy(z->ra[235], ra, sizeof(ra));
    /* face B: same cell, anchor 0, shifted 2 px right: merged with A */
    z->sa[234] = 1.0f;
    ra[0] = 4;
    for (int q = 0; q < 6; q++)
        ra[4 + 2 * q] = (float)q + 2;
    memcpy(z->ra[234], ra, sizeof(ra));
    /* face C: 8x8 grid cell (2, 6), anchor 4 -> 512 + (6 * 8 + 2) * 6 + 4 = 816, centre (40, 104) px */
    z->sb[816 - 512] = 0.5f;
    z->rb[816 - 512][2] = 30;
    z->rb[816 - 512][3] = 30;
    z->rb[816 - 512][4] = -50; /* keypoint 0 off the image to the left: not clipped */
}

FP_TEST(blazeface_front_weighted_and_hard_nms)
{
    static Blaze z;
    blaze_fill(&z);
    FpTensorView v[4];
    blaze_views(&z, v);
    FpPostConfig cfg;
    fp_post_config_init(&cfg, FP_FAMILY_BLAZEFACE);
    cfg.input_width = cfg.input_height = 128;
    FpPost *post;
    CHECK_OK(fp_post_create(&post, &cfg, v, 4));
    CHECK_EQ(fp_post_num_anchors(post), 896);
    /* 1280x720 letterboxed into 128x128: scale 0.1, 28 rows of padding above */
    FpTransform tf = tf_make(0.1f, 0, 28, 1280, 720, 128, 128);
    FpDetection d[8];
    CHECK_EQ(fp_post_run_slot(post, v, 4, 0, &tf, d, 8), 2);
    double wa = sigmoid(3), wb = sigmoid(1), t = wa + wb;
    CHECK_NEAR(d[0].score, wa, 1e-6);
    CHECK_EQ(d[0].class_id, 0);
    CHECK_EQ(d[0].n_keypoints, 6);
    /* A = (36, 45, 56, 69), B = (38, 45, 58, 69) in tensor px, weighted by score */
    double x1 = (36 * wa + 38 * wb) / t, x2 = (56 * wa + 58 * wb) / t;
    CHECK_BOX(d[0].box, x1 / 0.1, (45 - 28) / 0.1, x2 / 0.1, (69 - 28) / 0.1, 2e-3);
    for (int q = 0; q < 6; q++) {
        double kx = ((44 + q) * wa + (46 + q) * wb) / t, ky = 60.0 - q;
        CHECK_NEAR(d[0].keypoints[q][0], kx / 0.1, 2e-3);
        CHECK_NEAR(d[0].keypoints[q][1], (ky - 28) / 0.1, 2e-3);
    }
    CHECK_NEAR(d[1].score, sigmoid(0.5), 1e-6);
    /* C = (25, 89, 55, 119) tensor px: y2 = 910 source px, clipped to 720 */
    CHECK_BOX(d[1].box, 250, 610, 550, 720, 2e-3);
    CHECK_NEAR(d[1].keypoints[0][0], -100, 2e-3); /* (40 - 50) / 0.1 */
    CHECK_NEAR(d[1].keypoints[0][1], (104 - 28) / 0.1, 2e-3);
    fp_post_destroy(&post);

    cfg.nms.mode = FP_NMS_HARD; /* plain: A as is, B suppressed */
    CHECK_OK(fp_post_create(&post, &cfg, v, 4));
    CHECK_EQ(fp_post_run_slot(post, v, 4, 0, &tf, d, 8), 2);
    CHECK_BOX(d[0].box, 360, 170, 560, 410, 2e-3);
    CHECK_NEAR(d[0].keypoints[5][0], 490, 2e-3);
    fp_post_destroy(&post);

    cfg.conf_threshold = 0.75f; /* only A (0.95) and not B (0.73) nor C (0.62) */
    CHECK_OK(fp_post_create(&post, &cfg, v, 4));
    CHECK_EQ(fp_post_run_slot(post, v, 4, 0, &tf, d, 8), 1);
    fp_post_destroy(&post);
}

FP_TEST(blazeface_back_256_anchor_centres)
{
    static Blaze z;
    blaze_fill(&z);
    FpTensorView v[4];
    blaze_views(&z, v);
    FpPostConfig cfg;
    fp_post_config_init(&cfg, FP_FAMILY_BLAZEFACE);
    cfg.input_width = cfg.input_height = 256;
    cfg.nms.mode = FP_NMS_HARD;
    FpPost *post;
    CHECK_OK(fp_post_create(&post, &cfg, v, 4));
    FpTransform tf = tf_make(1, 0, 0, 256, 256, 256, 256);
    FpDetection d[8];
    CHECK_EQ(fp_post_run_slot(post, v, 4, 0, &tf, d, 8), 2);
    /* stride 16 on 256: cell (5, 7) centre (88, 120); regressors are in input pixels */
    CHECK_BOX(d[0].box, 88 + 2 - 10, 120 - 3 - 12, 88 + 2 + 10, 120 - 3 + 12, 1e-3);
    /* stride 32: cell (2, 6) centre (80, 208) */
    CHECK_BOX(d[1].box, 65, 193, 95, 223, 1e-3);
    fp_post_destroy(&post);

    cfg.input_width = cfg.input_height = 192; /* no MediaPipe options for that size */
    CHECK_EQ(fp_post_create(&post, &cfg, v, 4), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "input size 192") != NULL);
    CHECK_EQ(fp_post_create(&post, &cfg, v, 3), FP_EMODEL);
    CHECK(strstr(fp_error_detail(FP_EMODEL), "expected 4 output tensors") != NULL);
}

FP_TEST(ssd_boxes_and_scores_with_background)
{
    static const float boxes[3][4] = {{0.1f, 0.2f, 0.5f, 0.6f}, {0, 0, 1, 1}, {0.5f, 0.5f, 1.0f, 1.0f}};
    static const float scores[3][3] = {{0.9f, 0.6f, 0.3f}, {0.1f, 0.2f, 0.4f}, {0.0f, 0.1f, 0.7f}};
    FpTensorView v[2] = {view(&boxes[0][0], 3, 1, 3, 4), view(&scores[0][0], 3, 1, 3, 3)};
    FpPostConfig cfg;
    fp_post_config_init(&cfg, FP_FAMILY_SSD);
    cfg.background_class = 0;
    cfg.input_width = cfg.input_height = 300;
    FpPost *post;
    CHECK_OK(fp_post_create(&post, &cfg, v, 2));
    FpTransform tf = tf_make(1, 0, 0, 300, 300, 300, 300);
    FpDetection d[4];
    CHECK_EQ(fp_post_run_slot(post, v, 2, 0, &tf, d, 4), 2);
    CHECK_NEAR(d[0].score, 0.7, 1e-6);
    CHECK_EQ(d[0].class_id, 2);
    CHECK_BOX(d[0].box, 150, 150, 300, 300, 1e-3);
    CHECK_NEAR(d[1].score, 0.6, 1e-6); /* background 0.9 ignored */
    CHECK_EQ(d[1].class_id, 1);
    CHECK_BOX(d[1].box, 60, 30, 180, 150, 1e-3); /* ymin, xmin, ymax, xmax */
    fp_post_destroy(&post);

    cfg.box_normalized = false; /* pixel boxes, xyxy */
    cfg.box_format = FP_BOX_XYXY;
    CHECK_OK(fp_post_create(&post, &cfg, v, 2));
    CHECK_EQ(fp_post_run_slot(post, v, 2, 0, &tf, d, 4), 2);
    CHECK_BOX(d[1].box, 0.1, 0.2, 0.5, 0.6, 1e-6);
    fp_post_destroy(&post);
}

FP_TEST(post_bad_input_is_named)
{
    static float buf[1024];
    FpPostConfig cfg;
    fp_post_config_init(&cfg, FP_FAMILY_YOLOV5);
    FpPost *post = NULL;
    FpTensorView bad = view(buf, 3, 1, 8, 4); /* [1, 8, 4]: no room for 5 + C */
    CHECK_EQ(fp_post_create(&post, &cfg, &bad, 1), FP_EMODEL);
    CHECK(strstr(fp_error_detail(FP_EMODEL), "yolov5 decoder") != NULL);
    FpTensorView dyn = view(buf, 3, 1, -1, 8); /* a dynamic axis */
    CHECK_EQ(fp_post_create(&post, &cfg, &dyn, 1), FP_EMODEL);
    CHECK(strstr(fp_error_detail(FP_EMODEL), "axis 1 has size -1") != NULL);
    cfg.conf_threshold = 2.0f;
    FpTensorView ok = view(buf, 3, 1, 16, 8);
    CHECK_EQ(fp_post_create(&post, &cfg, &ok, 1), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "conf_threshold") != NULL);
    cfg.conf_threshold = 0.25f;
    cfg.family = FP_FAMILY_UNKNOWN;
    CHECK_EQ(fp_post_create(&post, &cfg, &ok, 1), FP_EINVALID);
    cfg.family = FP_FAMILY_YOLOV5;
    CHECK(post == NULL);

    CHECK_OK(fp_post_create(&post, &cfg, &ok, 1));
    FpTransform tf = tf_make(1, 0, 0, 8, 8, 8, 8);
    FpDetection d[4];
    FpTensorView other = view(buf, 3, 1, 16, 9);
    CHECK_EQ(fp_post_run_slot(post, &other, 1, 0, &tf, d, 4), FP_EMODEL);
    CHECK(strstr(fp_error_detail(FP_EMODEL), "axis 2 is 9, created for 8") != NULL);
    FpTensorView nodata = view(NULL, 3, 1, 16, 8);
    CHECK_EQ(fp_post_run_slot(post, &nodata, 1, 0, &tf, d, 4), FP_EINVALID);
    CHECK_EQ(fp_post_run_slot(post, &ok, 1, 1, &tf, d, 4), FP_EINVALID); /* batch of 1 */
    CHECK(strstr(fp_error_detail(FP_EINVALID), "slot 1") != NULL);
    FpTransform zero = tf_make(0, 0, 0, 8, 8, 8, 8);
    CHECK_EQ(fp_post_run_slot(post, &ok, 1, 0, &zero, d, 4), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "scale") != NULL);
    /* NaN and infinite outputs never become detections */
    for (int i = 0; i < 16 * 8; i++)
        buf[i] = (i % 8) == 4 || (i % 8) == 5 ? 1.0f : NAN;
    buf[8 * 3 + 0] = INFINITY;
    CHECK_EQ(fp_post_run_slot(post, &ok, 1, 0, &tf, d, 4), 0);
    fp_post_destroy(&post);

    FpFamily f;
    CHECK_OK(fp_family_parse("YOLOv11", &f));
    CHECK_EQ(f, FP_FAMILY_YOLOV8);
    CHECK_OK(fp_family_parse("blazeface", &f));
    CHECK_EQ(f, FP_FAMILY_BLAZEFACE);
    CHECK_EQ(fp_family_parse("detr", &f), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "'detr'") != NULL);
}

/* ---- YOLOv8 on a random tensor vs a plain reference (argmax down each column, qsort, O(n^2)) ---- */

typedef struct RefCand {
    FpBox box;
    float score;
    int cls, index;
} RefCand;

static int refcand_cmp(const void *pa, const void *pb)
{
    const RefCand *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->index - b->index;
}

static uint64_t rs = 0xD1B54A32D192ED03ull;
static float rnd(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (float)(rs >> 40) / 16777216.0f;
}

FP_TEST(yolov8_random_tensor_matches_plain_reference)
{
    enum { NC = 80, N = 2100, CH = 4 + NC };
    static float x[CH * N];
    static RefCand rc[N];
    static char dead[N];
    static FpDetection d[N];
    for (int round = 0; round < 4; round++) {
        /* rounds 0, 1: sparse survivors in clusters; 2, 3: every anchor a candidate, coarse scores (ties) */
        int dense = round >= 2;
        for (int i = 0; i < N; i++) {
            x[i] = rnd() * 320, x[N + i] = rnd() * 320;
            x[2 * N + i] = 10 + rnd() * 60, x[3 * N + i] = 10 + rnd() * 60;
            for (int c = 0; c < NC; c++)
                x[(size_t)(4 + c) * N + i] = dense ? (float)(int)(rnd() * 64) / 64.0f : rnd() * 0.2f;
        }
        if (!dense) {
            for (int k = 0; k < 300; k++) { /* clusters of hot anchors, runs of 40 */
                int i = (int)(rnd() * (N - 40)) / 40 * 40 + k % 40;
                x[(size_t)(4 + (int)(rnd() * NC)) * N + i] = 0.3f + rnd() * 0.7f;
                x[(size_t)(4 + (k % 3)) * N + i] = 0.3f + rnd() * 0.7f;
            }
        }
        float conf = dense ? 0.001f : 0.25f, iou = round % 2 ? 0.45f : 0.7f;
        FpPostConfig cfg;
        fp_post_config_init(&cfg, FP_FAMILY_YOLOV8);
        cfg.conf_threshold = conf;
        cfg.nms.iou_threshold = iou;
        cfg.nms.max_det = 300;
        FpTensorView v = view(x, 3, 1, CH, N);
        FpPost *post;
        CHECK_OK(fp_post_create(&post, &cfg, &v, 1));
        FpTransform tf = tf_make(1, 0, 0, 320, 320, 320, 320);
        int k = fp_post_run_slot(post, &v, 1, 0, &tf, d, N);
        fp_post_destroy(&post);

        int n = 0;
        for (int i = 0; i < N; i++) {
            int best = 0;
            for (int c = 1; c < NC; c++)
                best = x[(size_t)(4 + c) * N + i] > x[(size_t)(4 + best) * N + i] ? c : best;
            float s = x[(size_t)(4 + best) * N + i];
            if (s > conf) {
                float cx = x[i], cy = x[N + i], w = x[2 * N + i], h = x[3 * N + i];
                rc[n++] = (RefCand){{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}, s, best, i};
            }
        }
        CHECK(dense ? n == N : n > 100 && n < 1000);
        qsort(rc, (size_t)n, sizeof(RefCand), refcand_cmp);
        memset(dead, 0, sizeof(dead));
        int kr = 0;
        for (int i = 0; i < n && kr < 300; i++) {
            if (dead[i])
                continue;
            rc[kr++] = rc[i]; /* kr <= i: compacting in place never overwrites an unvisited entry */
            for (int j = i + 1; j < n; j++) {
                if (!dead[j] && rc[j].cls == rc[kr - 1].cls && fp_box_iou(rc[kr - 1].box, rc[j].box) > iou)
                    dead[j] = 1;
            }
        }
        CHECK_MSG(k == kr, "round %d: kept %d, reference %d", round, k, kr);
        for (int i = 0; i < k; i++) {
            FpBox rb = rc[i].box;
            rb.x1 = fmaxf(rb.x1, 0), rb.y1 = fmaxf(rb.y1, 0), rb.x2 = fminf(rb.x2, 320), rb.y2 = fminf(rb.y2, 320);
            CHECK_MSG(d[i].class_id == rc[i].cls && d[i].score == rc[i].score && fabsf(d[i].box.x1 - rb.x1) < 1e-4f &&
                          fabsf(d[i].box.y2 - rb.y2) < 1e-4f,
                      "round %d rank %d: class %d score %g vs class %d score %g", round, i, d[i].class_id,
                      (double)d[i].score, rc[i].cls, (double)rc[i].score);
        }
    }
}

FP_TEST_TIMED(yolov8_raw_random_logits_match_numpy_reference, 60)
{
    /* random DFL and class logits; numpy's decode of the same bytes is the oracle */
    if (access("/usr/bin/python3", X_OK) != 0)
        fp_test_skip("/usr/bin/python3 is missing");
    enum { SIZE = 64, N = 84, R = 16, NC = 3, CH = 4 * R + NC };
    static float x[CH * N];
    for (int i = 0; i < CH * N; i++) {
        /* roughly normal: sum of uniforms, scaled; class logits centred low so some anchors pass */
        float g = rnd() + rnd() + rnd() - 1.5f;
        x[i] = i >= 4 * R * N ? g * 3.0f - 1.0f : g * 4.0f;
    }
    char path[1024], cmd[2048];
    snprintf(path, sizeof(path), "%s/raw.f32", fp_test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK_EQ(fwrite(x, sizeof(float), CH * N, f), CH * N);
    fclose(f);

    FpPostConfig cfg;
    fp_post_config_init(&cfg, FP_FAMILY_YOLOV8_RAW);
    cfg.input_width = cfg.input_height = SIZE;
    cfg.conf_threshold = 0.3f;
    cfg.nms.iou_threshold = 1.0f; /* nothing is suppressed: every candidate is compared */
    cfg.nms.max_det = N;
    FpTensorView v = view(x, 3, 1, CH, N);
    FpPost *post;
    CHECK_OK(fp_post_create(&post, &cfg, &v, 1));
    FpTransform tf = tf_make(1, -1000, -1000, 10000, 10000, SIZE, SIZE); /* no clipping in the way */
    tf.clip_x0 = tf.clip_y0 = -10000;
    static FpDetection d[N];
    int k = fp_post_run_slot(post, &v, 1, 0, &tf, d, N);
    fp_post_destroy(&post);
    CHECK(k > 5);

    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/post/yolo_raw_ref.py %s %d %d %d %d %.9g",
             fp_test_source_dir(), path, CH, N, R, SIZE, (double)cfg.conf_threshold);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    int i = 0, cls;
    double s, x1, y1, x2, y2;
    while (fscanf(p, "%lf %d %lf %lf %lf %lf", &s, &cls, &x1, &y1, &x2, &y2) == 6) {
        CHECK_MSG(i < k, "numpy keeps more than %d anchors", k);
        CHECK_NEAR(d[i].score, s, 1e-5);
        CHECK_EQ(d[i].class_id, cls);
        /* the transform shifts by +1000 px */
        CHECK_NEAR(d[i].box.x1 - 1000, x1, 2e-3);
        CHECK_NEAR(d[i].box.y1 - 1000, y1, 2e-3);
        CHECK_NEAR(d[i].box.x2 - 1000, x2, 2e-3);
        CHECK_NEAR(d[i].box.y2 - 1000, y2, 2e-3);
        i++;
    }
    CHECK_EQ(pclose(p), 0);
    CHECK_EQ(i, k);
}

FP_TEST(ssd_boxes_with_a_unit_axis_and_cxcywh)
{
    /* TF exports sometimes give boxes as [B, N, 1, 4] */
    static const float boxes[2][4] = {{0.5f, 0.5f, 0.2f, 0.4f}, {0.1f, 0.1f, 0.1f, 0.1f}};
    static const float scores[2][2] = {{0.1f, 0.8f}, {0.3f, 0.2f}};
    FpTensorView v[2];
    memset(v, 0, sizeof(v));
    v[0].data = &boxes[0][0], v[0].rank = 4, v[0].dims[0] = 1, v[0].dims[1] = 2, v[0].dims[2] = 1, v[0].dims[3] = 4;
    v[1] = view(&scores[0][0], 3, 1, 2, 2);
    FpPostConfig cfg;
    fp_post_config_init(&cfg, FP_FAMILY_SSD);
    cfg.box_format = FP_BOX_CXCYWH;
    cfg.input_width = 200, cfg.input_height = 100;
    FpPost *post;
    CHECK_OK(fp_post_create(&post, &cfg, v, 2));
    FpTransform tf = tf_make(1, 0, 0, 200, 100, 200, 100);
    FpDetection d[2];
    CHECK_EQ(fp_post_run_slot(post, v, 2, 0, &tf, d, 2), 1);
    CHECK_EQ(d[0].class_id, 1);
    CHECK_BOX(d[0].box, (0.5 - 0.1) * 200, (0.5 - 0.2) * 100, (0.5 + 0.1) * 200, (0.5 + 0.2) * 100, 1e-3);
    fp_post_destroy(&post);
    cfg.input_width = 0; /* normalized boxes need the input size */
    CHECK_EQ(fp_post_create(&post, &cfg, v, 2), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "input size") != NULL);
}

FP_TEST(decoders_survive_random_shapes_and_data)
{
    /* random ranks, sizes and contents (NaN, inf, huge) for every family: create fails cleanly or runs */
    static float data[65536];
    uint64_t s = 7;
    for (int i = 0; i < 65536; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t bits = (uint32_t)(s >> 32);
        float f;
        memcpy(&f, &bits, sizeof(f)); /* any bit pattern: NaN, inf, denormals, huge */
        data[i] = i % 3 ? f : (float)(bits % 1000) / 100.0f - 5.0f;
    }
    static const FpFamily fams[5] = {FP_FAMILY_YOLOV5, FP_FAMILY_YOLOV8, FP_FAMILY_YOLOV8_RAW, FP_FAMILY_BLAZEFACE,
                                     FP_FAMILY_SSD};
    int created = 0, refused = 0;
    for (int round = 0; round < 3000; round++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        FpFamily fam = fams[(s >> 20) % 5];
        FpPostConfig cfg;
        fp_post_config_init(&cfg, fam);
        cfg.conf_threshold = (float)((s >> 40) % 100) / 100.0f;
        cfg.input_width = cfg.input_height = (int)((s >> 30) % 3) * 64;
        if (fam == FP_FAMILY_BLAZEFACE && (s >> 50) % 2)
            cfg.input_width = cfg.input_height = 128;
        int n_out = fam == FP_FAMILY_BLAZEFACE ? 4 : fam == FP_FAMILY_SSD ? 2 : 1;
        FpTensorView v[4];
        memset(v, 0, sizeof(v));
        size_t total = 0;
        for (int k = 0; k < n_out; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            v[k].rank = 2 + (int)((s >> 60) % 3);
            v[k].dims[0] = 1;
            for (int dd = 1; dd < v[k].rank; dd++) {
                static const int64_t sizes[] = {0, 1, 4, 6, 16, 84, 85, 66, 384, 512, -1};
                v[k].dims[dd] = sizes[(s >> (8 * dd)) % 11];
            }
            if ((s >> 4) % 4 == 0) { /* often a well-formed shape for the family */
                v[k].rank = 3;
                v[k].dims[1] = fam == FP_FAMILY_BLAZEFACE ? (k % 2 ? 384 : 512) : fam == FP_FAMILY_YOLOV8_RAW ? 66 : 84;
                v[k].dims[2] = fam == FP_FAMILY_BLAZEFACE ? (k < 2 ? 1 : 16) : fam == FP_FAMILY_YOLOV5 ? 6 : 84;
            }
            size_t e = 1;
            for (int dd = 1; dd < v[k].rank; dd++)
                e *= v[k].dims[dd] > 0 ? (size_t)v[k].dims[dd] : 1;
            total += e;
        }
        if (total > 65536)
            continue;
        size_t off = 0;
        for (int k = 0; k < n_out; k++) {
            v[k].data = data + off;
            size_t e = 1;
            for (int dd = 1; dd < v[k].rank; dd++)
                e *= v[k].dims[dd] > 0 ? (size_t)v[k].dims[dd] : 1;
            off += e;
        }
        FpPost *post = NULL;
        int rc = fp_post_create(&post, &cfg, v, n_out);
        if (rc < 0) {
            CHECK_MSG(rc == FP_EMODEL || rc == FP_EINVALID, "round %d: create returned %d", round, rc);
            CHECK(post == NULL);
            refused++;
            continue;
        }
        created++;
        FpTransform tf = tf_make(0.5f, 3, 4, 1000, 1000, 500, 500);
        FpDetection d[64];
        int k = fp_post_run_slot(post, v, n_out, 0, &tf, d, 64);
        CHECK_MSG(k >= 0 && k <= 64, "round %d: run returned %d", round, k);
        for (int i = 0; i < k; i++) {
            CHECK(d[i].box.x1 <= d[i].box.x2 && d[i].box.y1 <= d[i].box.y2);
            CHECK(d[i].box.x1 >= 0 && d[i].box.x2 <= 1000 && d[i].box.y1 >= 0 && d[i].box.y2 <= 1000);
            CHECK(d[i].score > cfg.conf_threshold);
            /* the decoders that apply the sigmoid themselves; the others pass the model's scores through */
            CHECK(d[i].score <= 1.0f || (fam != FP_FAMILY_YOLOV8_RAW && fam != FP_FAMILY_BLAZEFACE));
            CHECK(i == 0 || d[i].score <= d[i - 1].score);
        }
        fp_post_destroy(&post);
    }
    CHECK(created > 50 && refused > 50);
}

FP_TEST(yolov8_nan_class_score_is_ignored_in_every_lane)
{
    /* [1, 4 + 3, 8]: anchors 0..7 (two SIMD groups); a NaN in a later class row must not hide class 0's 0.9 */
    static float x[7][8];
    for (int i = 0; i < 8; i++) {
        x[0][i] = 20.0f * i + 10, x[1][i] = 10, x[2][i] = 8, x[3][i] = 8;
        x[4][i] = 0.9f, x[5][i] = NAN, x[6][i] = i % 2 ? NAN : 0.1f;
    }
    x[4][3] = NAN; /* anchor 3: class 0 NaN, then NaN, NaN: no detection */
    x[6][5] = 0.95f; /* anchor 5: class 2 wins after a NaN */
    FpPostConfig cfg;
    fp_post_config_init(&cfg, FP_FAMILY_YOLOV8);
    FpTensorView v = view(&x[0][0], 3, 1, 7, 8);
    FpPost *post;
    CHECK_OK(fp_post_create(&post, &cfg, &v, 1));
    FpTransform tf = tf_make(1, 0, 0, 200, 200, 200, 200);
    FpDetection d[8];
    CHECK_EQ(fp_post_run_slot(post, &v, 1, 0, &tf, d, 8), 7);
    CHECK_NEAR(d[0].score, 0.95, 1e-6);
    CHECK_EQ(d[0].class_id, 2);
    CHECK_NEAR(d[0].box.x1, 106, 1e-4);
    for (int k = 1; k < 7; k++) {
        CHECK_NEAR(d[k].score, 0.9, 1e-6);
        CHECK_EQ(d[k].class_id, 0);
        CHECK(d[k].box.x1 != 66); /* not anchor 3 */
    }
    fp_post_destroy(&post);
}
