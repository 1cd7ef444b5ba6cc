// SPDX-License-Identifier: MIT
// Face detection end to end: BlazeFace through FpModel and the src/post decoder finds the faces in real photos where a person saw them.
#include "infer_util.h"

#include "fp_test.h"
#include "framepipe/model.h"
#include "framepipe/post.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Expected boxes, in source pixels, were checked by a person once: a
 * reference decode (MediaPipe's anchors, weighted NMS) of onnxruntime-node's
 * outputs was drawn on each photo and looked at (Lena's face in opencv-doc's
 * faceDetection.png; Messi's face in messi5.jpg, about 37 px wide). The
 * tolerance allows for a different resampler in pre-processing.
 */
#define LENA "/usr/share/doc/opencv-doc/opencv4/html/faceDetection.png"

typedef struct Expect {
    float x1, y1, x2, y2, tol;
} Expect;

static const Expect lena_128 = {174.4f, 219.2f, 368.0f, 412.9f, 14.f};
static const Expect lena_256 = {188.1f, 219.9f, 376.0f, 407.8f, 14.f};
static const Expect messi_256 = {221.4f, 96.2f, 258.0f, 132.8f, 6.f};

#define MAX_DETS 16

typedef struct FaceRun {
    FpModel *model;
    FpPost *post;
    FpFamilyInfo fi;
    int size;
} FaceRun;

static FaceRun face_open(int size, int max_batch)
{
    FaceRun r;
    memset(&r, 0, sizeof(r));
    r.size = size;
    FpModelConfig cfg;
    fp_model_config_init(&cfg);
    cfg.intra_threads = 2;
    cfg.max_batch = max_batch;
    CHECK_OK(fp_model_create(&r.model, test_blazeface(size), &cfg));
    CHECK_OK(fp_model_require_family(r.model, &r.fi));
    CHECK_EQ(r.fi.family, FP_FAMILY_BLAZEFACE);
    FpTensorView views[4];
    for (int k = 0; k < 4; k++) {
        const FpTensorInfo *ti = fp_model_output_info(r.model, r.fi.outputs[k]);
        memset(&views[k], 0, sizeof(views[k]));
        views[k].rank = ti->rank;
        memcpy(views[k].dims, ti->dims, sizeof(int64_t) * (size_t)ti->rank);
        views[k].dims[0] = max_batch;
    }
    FpPostConfig pc;
    fp_post_config_init(&pc, FP_FAMILY_BLAZEFACE);
    pc.input_width = pc.input_height = size;
    CHECK_OK(fp_post_blazeface_anchor_options(size, &pc.anchors));
    CHECK_OK(fp_post_create(&r.post, &pc, views, 4));
    return r;
}

static void face_close(FaceRun *r)
{
    fp_post_destroy(&r->post);
    fp_model_destroy(&r->model);
}

/* Letterboxes `paths` into one batch, runs the model (per slot: batch fixed at 1) and decodes every slot. */
static void face_detect(FaceRun *r, const char *const *paths, int n, FpDetection *dets, int *counts)
{
    size_t item = (size_t)r->size * r->size * 3;
    float *batch = malloc((size_t)n * item * sizeof(float));
    FpTransform tfs[8];
    CHECK(n <= 8);
    for (int i = 0; i < n; i++) {
        TestImage img = test_image_load(paths[i]);
        TestLetterbox lb = test_letterbox(&img, batch + i * item, r->size, FP_LAYOUT_NHWC, -1.f, 1.f, -1.f);
        FpTransform tf = {lb.scale, lb.scale, (float)lb.pad_x, (float)lb.pad_y, 0.f, 0.f,
                          (float)img.width, (float)img.height, img.width, img.height, r->size, r->size};
        tfs[i] = tf;
        test_image_free(&img);
    }
    CHECK_OK(fp_model_run(r->model, batch, n));
    FpTensorView views[4];
    for (int k = 0; k < 4; k++) {
        const FpTensorInfo *ti = fp_model_output_info(r->model, r->fi.outputs[k]);
        memset(&views[k], 0, sizeof(views[k]));
        views[k].data = fp_model_output_data(r->model, r->fi.outputs[k]);
        views[k].rank = ti->rank;
        memcpy(views[k].dims, ti->dims, sizeof(int64_t) * (size_t)ti->rank);
        views[k].dims[0] = n;
    }
    CHECK_OK(fp_post_run(r->post, views, 4, n, tfs, dets, MAX_DETS, counts));
    free(batch);
}

static void check_face(const FpDetection *d, const Expect *e, const char *what)
{
    CHECK_MSG(d->score > 0.5f, "%s: score %.3f", what, d->score);
    float got[4] = {d->box.x1, d->box.y1, d->box.x2, d->box.y2}, want[4] = {e->x1, e->y1, e->x2, e->y2};
    for (int k = 0; k < 4; k++) {
        CHECK_MSG(got[k] - want[k] <= e->tol && want[k] - got[k] <= e->tol,
                  "%s: box (%.1f,%.1f)-(%.1f,%.1f), expected (%.1f,%.1f)-(%.1f,%.1f) +-%.0f", what, got[0], got[1],
                  got[2], got[3], want[0], want[1], want[2], want[3], e->tol);
    }
}

FP_TEST(blazeface_front_finds_lena_and_no_face_in_fruits)
{
    if (access(LENA, R_OK) != 0)
        fp_test_skip("%s missing (opencv-doc)", LENA);
    FaceRun r = face_open(128, 2);
    const char *paths[2] = {LENA, test_sample("fruits.jpg")};
    FpDetection dets[2 * MAX_DETS];
    int counts[2];
    face_detect(&r, paths, 2, dets, counts);
    CHECK_EQ(counts[0], 1);
    check_face(&dets[0], &lena_128, "lena (128)");
    /* The eyes (keypoints 0 and 1) are where a person sees them: about (265, 275) and (338, 275). */
    CHECK_MSG(dets[0].n_keypoints >= 2, "%d keypoints", dets[0].n_keypoints);
    CHECK_NEAR(dets[0].keypoints[0][0], 267.4, 12);
    CHECK_NEAR(dets[0].keypoints[0][1], 277.8, 12);
    CHECK_NEAR(dets[0].keypoints[1][0], 339.1, 12);
    CHECK_NEAR(dets[0].keypoints[1][1], 278.0, 12);
    CHECK_EQ(counts[1], 0);
    face_close(&r);
}

FP_TEST(blazeface_back_finds_faces_in_a_batch_of_three)
{
    if (access(LENA, R_OK) != 0)
        fp_test_skip("%s missing (opencv-doc)", LENA);
    FaceRun r = face_open(256, 3);
    const char *paths[3] = {test_sample("messi5.jpg"), test_sample("fruits.jpg"), LENA};
    FpDetection dets[3 * MAX_DETS];
    int counts[3];
    face_detect(&r, paths, 3, dets, counts);
    CHECK_EQ(counts[0], 1);
    check_face(&dets[0], &messi_256, "messi5 (256)");
    CHECK_EQ(counts[1], 0);
    CHECK_EQ(counts[2], 1);
    check_face(&dets[2 * MAX_DETS], &lena_256, "lena (256)");
    face_close(&r);
}

/* ---- YOLO: the decoded and the raw head of the same weights give the same detections ---- */

static int yolo_detect(const char *name, const float *batch, int n, FpDetection *dets, int *counts)
{
    FpModel *m = NULL;
    FpModelConfig cfg;
    fp_model_config_init(&cfg);
    cfg.intra_threads = 2;
    cfg.max_batch = n;
    CHECK_OK(fp_model_create(&m, test_model_path(name), &cfg));
    FpFamilyInfo fi;
    CHECK_OK(fp_model_require_family(m, &fi));
    CHECK_OK(fp_model_run(m, batch, n));
    const FpTensorInfo *ti = fp_model_output_info(m, fi.outputs[0]);
    FpTensorView view;
    memset(&view, 0, sizeof(view));
    view.data = fp_model_output_data(m, fi.outputs[0]);
    view.rank = ti->rank;
    memcpy(view.dims, ti->dims, sizeof(int64_t) * (size_t)ti->rank);
    view.dims[0] = n;
    FpPostConfig pc;
    fp_post_config_init(&pc, fi.family);
    pc.input_width = fp_model_input(m)->width;
    pc.input_height = fp_model_input(m)->height;
    pc.num_classes = fi.num_classes;
    if (fi.reg_max)
        pc.reg_max = fi.reg_max;
    FpPost *post = NULL;
    CHECK_OK(fp_post_create(&post, &pc, &view, 1));
    FpTransform tfs[4];
    for (int i = 0; i < n; i++) {
        FpTransform tf = {1.f, 1.f, 0.f, 0.f, 0.f, 0.f, 320.f, 320.f, 320, 320, 320, 320};
        tfs[i] = tf;
    }
    int total = fp_post_run(post, &view, 1, n, tfs, dets, 300, counts);
    CHECK_OK(total);
    int family = fi.family;
    fp_post_destroy(&post);
    fp_model_destroy(&m);
    return family;
}

FP_TEST(yolo_raw_head_and_decoded_head_agree_through_post)
{
    const char *names[2] = {"messi5.jpg", "baboon.jpg"};
    size_t item = 3 * 320 * 320;
    float *batch = malloc(2 * item * sizeof(float));
    for (int i = 0; i < 2; i++) {
        TestImage img = test_image_load(test_sample(names[i]));
        test_letterbox(&img, batch + i * item, 320, FP_LAYOUT_NCHW, 0.f, 1.f, 114.f / 255.f);
        test_image_free(&img);
    }
    static FpDetection a[2 * 300], b[2 * 300];
    int ca[2], cb[2];
    CHECK_EQ(yolo_detect("yolov8_test_320.onnx", batch, 2, a, ca), FP_FAMILY_YOLOV8);
    CHECK_EQ(yolo_detect("yolov8_test_320_raw.onnx", batch, 2, b, cb), FP_FAMILY_YOLOV8_RAW);
    int total = 0;
    for (int s = 0; s < 2; s++) {
        CHECK_EQ(ca[s], cb[s]);
        total += ca[s];
        for (int k = 0; k < ca[s]; k++) {
            const FpDetection *x = &a[s * 300 + k], *y = &b[s * 300 + k];
            CHECK_EQ(x->class_id, y->class_id);
            CHECK_NEAR(x->score, y->score, 1e-4);
            CHECK_NEAR(x->box.x1, y->box.x1, 0.05);
            CHECK_NEAR(x->box.y1, y->box.y1, 0.05);
            CHECK_NEAR(x->box.x2, y->box.x2, 0.05);
            CHECK_NEAR(x->box.y2, y->box.y2, 0.05);
        }
    }
    fprintf(stderr, "  yolo test model: %d + %d detections (decoded head), %d + %d (raw head)\n", ca[0], ca[1], cb[0], cb[1]);
    CHECK_MSG(total > 0, "the random test model should give some detections above 0.25");
    free(batch);
}
