// SPDX-License-Identifier: MIT
// Tests of FpModel: inspection, family detection, parity with an independent ONNX Runtime run on real images, zero copy, bad input.
#include "infer_util.h"

#include "fp_test.h"
#include "framepipe/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define YOLO "yolov8_test_320.onnx"
#define YOLO_RAW "yolov8_test_320_raw.onnx"
#define TINY "tiny_unknown_family.onnx"

/* ONNX Runtime 1.29 (framepipe) vs 1.30 (node) on the same CPU kernels: equal to float rounding. */
#define PARITY_TOL 1e-4

static FpModelConfig test_config(int max_batch)
{
    FpModelConfig cfg;
    fp_model_config_init(&cfg);
    cfg.intra_threads = 2;
    cfg.inter_threads = 1;
    cfg.max_batch = max_batch;
    return cfg;
}

static float *yolo_batch(const char *const *images, int n)
{
    size_t item = 3 * 320 * 320;
    float *t = malloc(n * item * sizeof(float));
    CHECK(t);
    for (int i = 0; i < n; i++) {
        TestImage img = test_image_load(test_sample(images[i]));
        test_letterbox(&img, t + i * item, 320, FP_LAYOUT_NCHW, 0.f, 1.f, 114.f / 255.f);
        test_image_free(&img);
    }
    return t;
}

FP_TEST(yolo_model_inspection)
{
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(8);
    CHECK_OK(fp_model_create(&m, test_model_path(YOLO), &cfg));
    const FpModelInput *in = fp_model_input(m);
    CHECK_EQ(in->layout, FP_LAYOUT_NCHW);
    CHECK_EQ(in->channels, 3);
    CHECK_EQ(in->height, 320);
    CHECK_EQ(in->width, 320);
    CHECK_EQ(in->dtype, FP_DTYPE_FLOAT32);
    CHECK_EQ(in->fixed_batch, 0);
    CHECK_EQ(fp_model_max_batch(m), 8);
    CHECK_EQ(fp_model_input_count(m), 1);
    CHECK(strcmp(fp_model_input_info(m, 0)->name, "images") == 0);
    CHECK_EQ(fp_model_input_info(m, 0)->item_bytes, 3 * 320 * 320 * 4);
    CHECK_EQ(fp_model_output_count(m), 1);
    const FpTensorInfo *o = fp_model_output_info(m, 0);
    CHECK(strcmp(o->name, "output0") == 0);
    CHECK_EQ(o->rank, 3);
    CHECK(o->batch_dynamic);
    CHECK_EQ(o->dims[1], 84);
    CHECK_EQ(o->dims[2], 2100);
    CHECK_EQ(o->item_elems, 84 * 2100);
    CHECK(fp_model_output_info(m, 1) == NULL);
    CHECK(fp_model_output_data(m, 0) != NULL);

    CHECK_EQ(fp_model_class_count(m), 80);
    CHECK(strcmp(fp_model_class_name(m, 0), "person") == 0);
    CHECK(strcmp(fp_model_class_name(m, 9), "traffic light") == 0);
    CHECK(strcmp(fp_model_class_name(m, 79), "toothbrush") == 0);
    CHECK(fp_model_class_name(m, 80) == NULL);
    CHECK(strcmp(fp_model_meta(m, "task"), "detect") == 0);
    CHECK(fp_model_meta(m, "no-such-key") == NULL);

    FpFamilyInfo fi;
    CHECK_EQ(fp_model_family(m, &fi), FP_FAMILY_YOLOV8);
    CHECK_EQ(fi.num_classes, 80);
    CHECK_EQ(fi.num_anchors, 2100);
    CHECK_EQ(fi.outputs[0], 0);
    CHECK_OK(fp_model_require_family(m, NULL));
    CHECK(strcmp(fp_family_name(FP_FAMILY_YOLOV8), "yolov8") == 0);
    fp_model_destroy(&m);
    CHECK(m == NULL);
    fp_model_destroy(&m); /* NULL is a no-op */
}

FP_TEST(yolo_raw_head_family)
{
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(1);
    CHECK_OK(fp_model_create(&m, test_model_path(YOLO_RAW), &cfg));
    CHECK_EQ(fp_model_output_info(m, 0)->dims[1], 144);
    FpFamilyInfo fi;
    CHECK_EQ(fp_model_family(m, &fi), FP_FAMILY_YOLOV8_RAW);
    CHECK_EQ(fi.reg_max, 16);
    CHECK_EQ(fi.num_classes, 80);
    CHECK_EQ(fi.num_anchors, 2100);
    fp_model_destroy(&m);
}

static void check_blazeface_inspection(int size)
{
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(4);
    CHECK_OK(fp_model_create(&m, test_blazeface(size), &cfg));
    const FpModelInput *in = fp_model_input(m);
    CHECK_EQ(in->layout, FP_LAYOUT_NHWC);
    CHECK_EQ(in->channels, 3);
    CHECK_EQ(in->height, size);
    CHECK_EQ(in->width, size);
    CHECK_EQ(in->fixed_batch, 1);
    CHECK_EQ(fp_model_max_batch(m), 4); /* runs slot by slot */
    CHECK_EQ(fp_model_output_count(m), 4);
    FpFamilyInfo fi;
    CHECK_EQ(fp_model_family(m, &fi), FP_FAMILY_BLAZEFACE);
    CHECK_EQ(fi.num_anchors, 896);
    CHECK_EQ(fi.n_outputs, 4);
    CHECK(strcmp(fp_model_output_info(m, fi.outputs[0])->name, "Identity:0") == 0);   /* [1,512,1] */
    CHECK(strcmp(fp_model_output_info(m, fi.outputs[1])->name, "Identity_1:0") == 0); /* [1,384,1] */
    CHECK(strcmp(fp_model_output_info(m, fi.outputs[2])->name, "Identity_2:0") == 0); /* [1,512,16] */
    CHECK(strcmp(fp_model_output_info(m, fi.outputs[3])->name, "Identity_3:0") == 0); /* [1,384,16] */
    CHECK_EQ(fp_model_output_info(m, fi.outputs[2])->dims[2], 16);
    CHECK_EQ(fp_model_class_count(m), 0);
    fp_model_destroy(&m);
}

FP_TEST(blazeface_model_inspection)
{
    check_blazeface_inspection(128);
    check_blazeface_inspection(256);
}

static void compare_outputs(FpModel *m, void *const *outs, float *const *ref, const size_t *ref_len, int batch)
{
    for (int i = 0; i < fp_model_output_count(m); i++) {
        const FpTensorInfo *ti = fp_model_output_info(m, i);
        size_t n = (size_t)batch * ti->item_elems;
        CHECK_EQ(ref_len[i], n);
        double d = test_max_rel_diff(outs[i], ref[i], n);
        fprintf(stderr, "  %s: output '%s' max relative difference vs onnxruntime-node %.2g\n",
                fp_model_path(m), ti->name, d);
        CHECK_MSG(d <= PARITY_TOL, "output '%s': max relative difference %.3g vs onnxruntime-node", ti->name, d);
    }
}

FP_TEST(yolo_parity_with_onnxruntime_batch4)
{
    const char *images[] = {"messi5.jpg", "fruits.jpg", "baboon.jpg", "home.jpg"};
    float *batch = yolo_batch(images, 4);
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(4);
    CHECK_OK(fp_model_create(&m, test_model_path(YOLO), &cfg));
    CHECK_OK(fp_model_run(m, batch, 4));
    void *outs[1] = {(void *)fp_model_output_data(m, 0)};
    float *ref[1];
    size_t ref_len[1];
    const int64_t item[3] = {3, 320, 320};
    test_ort_reference(test_model_path(YOLO), batch, 4, item, false, 1, ref, ref_len);
    compare_outputs(m, outs, ref, ref_len, 4);

    /* The images differ, so the slots must too (the batch is really four images). */
    const float *o = outs[0];
    size_t item_elems = fp_model_output_info(m, 0)->item_elems;
    CHECK(test_max_rel_diff(o, o + item_elems, item_elems) > 1e-3);

    /* A batch of 1 on slot 2's memory gives slot 2's result. */
    float *one = malloc(fp_model_output_info(m, 0)->item_bytes);
    void *one_out[1] = {one};
    CHECK_OK(fp_model_run_into(m, batch + 2 * 3 * 320 * 320, 1, one_out));
    CHECK(test_max_rel_diff(one, ref[0] + 2 * item_elems, item_elems) <= PARITY_TOL);
    free(one);
    free(ref[0]);
    free(batch);
    fp_model_destroy(&m);
}

FP_TEST(yolo_raw_parity_with_onnxruntime)
{
    const char *images[] = {"messi5.jpg", "orange.jpg"};
    float *batch = yolo_batch(images, 2);
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(2);
    CHECK_OK(fp_model_create(&m, test_model_path(YOLO_RAW), &cfg));
    CHECK_OK(fp_model_run(m, batch, 2));
    void *outs[1] = {(void *)fp_model_output_data(m, 0)};
    float *ref[1];
    size_t ref_len[1];
    const int64_t item[3] = {3, 320, 320};
    test_ort_reference(test_model_path(YOLO_RAW), batch, 2, item, false, 1, ref, ref_len);
    compare_outputs(m, outs, ref, ref_len, 2);
    free(ref[0]);
    free(batch);
    fp_model_destroy(&m);
}

static void check_blazeface_parity(int size)
{
    const char *images[] = {"/usr/share/doc/opencv-doc/opencv4/html/faceDetection.png", NULL, NULL};
    images[1] = test_sample("messi5.jpg");
    images[2] = test_sample("fruits.jpg");
    size_t item = (size_t)size * size * 3;
    float *batch = malloc(3 * item * sizeof(float));
    for (int i = 0; i < 3; i++) {
        TestImage img = test_image_load(images[i]);
        test_letterbox(&img, batch + i * item, size, FP_LAYOUT_NHWC, -1.f, 1.f, -1.f);
        test_image_free(&img);
    }
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(3);
    CHECK_OK(fp_model_create(&m, test_blazeface(size), &cfg));
    CHECK_OK(fp_model_run(m, batch, 3)); /* fixed batch 1: three runs, one per slot */
    void *outs[4];
    for (int i = 0; i < 4; i++)
        outs[i] = (void *)fp_model_output_data(m, i);
    float *ref[4];
    size_t ref_len[4];
    const int64_t dims[3] = {size, size, 3};
    test_ort_reference(test_blazeface(size), batch, 3, dims, true, 4, ref, ref_len);
    compare_outputs(m, outs, ref, ref_len, 3);
    for (int i = 0; i < 4; i++)
        free(ref[i]);
    free(batch);
    fp_model_destroy(&m);
}

FP_TEST(blazeface_parity_with_onnxruntime_per_slot)
{
    if (access("/usr/share/doc/opencv-doc/opencv4/html/faceDetection.png", R_OK) != 0)
        fp_test_skip("opencv-doc's faceDetection.png is missing");
    check_blazeface_parity(128);
    check_blazeface_parity(256);
}

FP_TEST(input_is_read_in_place_and_outputs_land_in_caller_buffers)
{
    const char *a[] = {"messi5.jpg"}, *b[] = {"baboon.jpg"};
    float *img_a = yolo_batch(a, 1), *img_b = yolo_batch(b, 1);
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(1);
    cfg.own_outputs = false;
    CHECK_OK(fp_model_create(&m, test_model_path(YOLO), &cfg));
    CHECK(fp_model_output_data(m, 0) == NULL);
    CHECK_EQ(fp_model_run(m, img_a, 1), FP_EINVALID); /* no model-owned outputs */

    size_t bytes = fp_model_output_info(m, 0)->item_bytes, n = bytes / sizeof(float);
    float *pool_slot = malloc(3 * 320 * 320 * sizeof(float)); /* stands for pool memory */
    float *out = malloc(bytes), *first = malloc(bytes);
    void *outs[1] = {out};
    memcpy(pool_slot, img_a, 3 * 320 * 320 * sizeof(float));
    CHECK_OK(fp_model_run_into(m, pool_slot, 1, outs));
    memcpy(first, out, bytes);
    /* Pre-processing rewrites the same slot with the next frame: same address, new content. */
    memcpy(pool_slot, img_b, 3 * 320 * 320 * sizeof(float));
    CHECK_OK(fp_model_run_into(m, pool_slot, 1, outs));
    CHECK(test_max_rel_diff(out, first, n) > 1e-3);

    float *ref[1];
    size_t ref_len[1];
    const int64_t item[3] = {3, 320, 320};
    test_ort_reference(test_model_path(YOLO), img_b, 1, item, false, 1, ref, ref_len);
    CHECK_EQ(ref_len[0], n);
    CHECK(test_max_rel_diff(out, ref[0], n) <= PARITY_TOL);
    /* Repeated runs on the same memory are stable. */
    CHECK_OK(fp_model_run_into(m, pool_slot, 1, outs));
    CHECK(test_max_rel_diff(out, ref[0], n) <= PARITY_TOL);
    free(ref[0]);
    free(pool_slot);
    free(out);
    free(first);
    free(img_a);
    free(img_b);
    fp_model_destroy(&m);
}

/* ---- bad input: each a clear error naming the model ---- */

static void check_detail(int rc, int want, const char *must1, const char *must2)
{
    const char *d = fp_error_detail(rc);
    CHECK_MSG(rc == want, "rc %d (%s), want %d: %s", rc, fp_err_name(rc), want, d);
    CHECK_MSG(strstr(d, must1) != NULL, "message lacks '%s': %s", must1, d);
    CHECK_MSG(!must2 || strstr(d, must2) != NULL, "message lacks '%s': %s", must2, d);
}

FP_TEST(bad_file_not_onnx)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/notes.onnx", fp_test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("these are notes, not a model\n", f);
    fclose(f);
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(1);
    check_detail(fp_model_create(&m, path, &cfg), FP_EMODEL, path, "not an ONNX model");
    CHECK(m == NULL);

    f = fopen(path, "w");
    fclose(f);
    check_detail(fp_model_create(&m, path, &cfg), FP_EMODEL, path, "empty");
}

FP_TEST(bad_file_truncated_model)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/truncated.onnx", fp_test_tmpdir());
    FILE *src = fopen(test_model_path(YOLO), "rb");
    CHECK(src);
    static char buf[800000];
    size_t n = fread(buf, 1, sizeof(buf), src); /* about half of the 1.6 MB file */
    fclose(src);
    FILE *f = fopen(path, "wb");
    CHECK_EQ(fwrite(buf, 1, n, f), n);
    fclose(f);
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(1);
    check_detail(fp_model_create(&m, path, &cfg), FP_EMODEL, path, "truncated");
    CHECK(m == NULL);
}

FP_TEST(bad_file_missing)
{
    FpModel *m = NULL;
    check_detail(fp_model_create(&m, "/nonexistent/model.onnx", NULL), -ENOENT, "/nonexistent/model.onnx",
                 "cannot open");
}

FP_TEST(bad_model_outputs_match_no_family)
{
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(1);
    cfg.input_height = cfg.input_width = 64;
    CHECK_OK(fp_model_create(&m, test_model_path(TINY), &cfg));
    FpFamilyInfo fi;
    CHECK_EQ(fp_model_family(m, &fi), FP_FAMILY_UNKNOWN);
    CHECK_EQ(fi.family, FP_FAMILY_UNKNOWN);
    check_detail(fp_model_require_family(m, &fi), FP_EMODEL, TINY, "'logits' float32 [1,2,1,1]");
    fp_model_destroy(&m);
}

FP_TEST(bad_input_shape_rejected)
{
    FpModel *m = NULL;
    /* A size the model's fixed input contradicts. */
    FpModelConfig cfg = test_config(2);
    cfg.input_height = cfg.input_width = 256;
    check_detail(fp_model_create(&m, test_model_path(YOLO), &cfg), FP_ECONFIG, YOLO, "fixed height of 320");
    CHECK(m == NULL);

    /* A dynamic size left unset. */
    cfg = test_config(1);
    check_detail(fp_model_create(&m, test_model_path(TINY), &cfg), FP_ECONFIG, TINY, "--input WxH");

    /* A size ONNX Runtime itself rejects at run time (2x2 under a 5x5 convolution without padding). */
    cfg.input_height = cfg.input_width = 2;
    CHECK_OK(fp_model_create(&m, test_model_path(TINY), &cfg));
    float in[3 * 2 * 2] = {0};
    check_detail(fp_model_run(m, in, 1), FP_EMODEL, TINY, "ONNX Runtime rejected the run");
    fp_model_destroy(&m);

    /* A batch larger than configured. */
    cfg = test_config(2);
    CHECK_OK(fp_model_create(&m, test_model_path(YOLO), &cfg));
    float *big = calloc(3 * 3 * 320 * 320, sizeof(float));
    check_detail(fp_model_run(m, big, 3), FP_ERANGE, YOLO, "max_batch");
    check_detail(fp_model_run(m, big, 0), FP_ERANGE, YOLO, "batch of 0");
    CHECK_OK(fp_model_run(m, big, 2));
    free(big);
    fp_model_destroy(&m);

    /* Bad configuration values. */
    cfg = test_config(0);
    check_detail(fp_model_create(&m, test_model_path(YOLO), &cfg), FP_ECONFIG, YOLO, "max_batch");
}

FP_TEST(bad_missing_ort_library)
{
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(1);
    cfg.ort_library = "/nonexistent/lib/libonnxruntime.so.1";
    check_detail(fp_model_create(&m, test_model_path(YOLO), &cfg), FP_EDEPENDENCY, YOLO,
                 "/nonexistent/lib/libonnxruntime.so.1");
    CHECK(strstr(fp_error_detail(FP_EDEPENDENCY), "cannot load the ONNX Runtime library") != NULL);
    CHECK(m == NULL);
    CHECK(fp_model_ort_version("/nonexistent/lib/libonnxruntime.so.1") == NULL);

    /* A file that exists but is not ONNX Runtime. */
    char fake[1024];
    snprintf(fake, sizeof(fake), "%s/libonnxruntime.so", fp_test_tmpdir());
    FILE *f = fopen(fake, "w");
    fputs("not a shared object", f);
    fclose(f);
    cfg.ort_library = fake;
    check_detail(fp_model_create(&m, test_model_path(YOLO), &cfg), FP_EDEPENDENCY, fake, YOLO);
}

FP_TEST(bad_missing_ort_library_from_environment)
{
    setenv("FP_ORT_LIBRARY", "/nonexistent/env/libonnxruntime.so", 1);
    FpModel *m = NULL;
    check_detail(fp_model_create(&m, test_model_path(YOLO), NULL), FP_EDEPENDENCY, "/nonexistent/env", YOLO);
    unsetenv("FP_ORT_LIBRARY");
    /* Not cached as a failure: the default library loads afterwards. */
    CHECK_OK(fp_model_create(&m, test_model_path(YOLO), NULL));
    CHECK(fp_model_ort_version(NULL) != NULL);
    fp_model_destroy(&m);
}

FP_TEST(execution_provider_unavailable_is_an_error_or_a_logged_fallback)
{
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(1);
    cfg.provider = FP_PROVIDER_CUDA;
    int rc = fp_model_create(&m, test_model_path(YOLO), &cfg);
    if (rc == 0) {
        CHECK_EQ(fp_model_provider(m), FP_PROVIDER_CUDA);
        fp_model_destroy(&m);
        fp_test_skip("this ONNX Runtime has CUDA and the machine a GPU");
    }
    check_detail(rc, FP_EUNSUPPORTED, YOLO, "'cuda' is not available");
    cfg.provider = FP_PROVIDER_TENSORRT;
    check_detail(fp_model_create(&m, test_model_path(YOLO), &cfg), FP_EUNSUPPORTED, YOLO, "'tensorrt'");
    cfg.provider_fallback = true;
    CHECK_OK(fp_model_create(&m, test_model_path(YOLO), &cfg));
    CHECK_EQ(fp_model_provider(m), FP_PROVIDER_CPU);
    fp_model_destroy(&m);

    FpProvider p;
    CHECK_OK(fp_provider_parse("tensorrt", &p));
    CHECK_EQ(p, FP_PROVIDER_TENSORRT);
    CHECK_EQ(fp_provider_parse("opencl", &p), FP_EINVALID);
}

FP_TEST(many_models_share_one_runtime)
{
    FpModel *a = NULL, *b = NULL;
    FpModelConfig cfg = test_config(1);
    CHECK_OK(fp_model_create(&a, test_model_path(YOLO), &cfg));
    CHECK_OK(fp_model_create(&b, test_model_path(YOLO_RAW), &cfg));
    fp_model_destroy(&a);
    float *in = calloc(3 * 320 * 320, sizeof(float));
    CHECK_OK(fp_model_run(b, in, 1)); /* the environment outlives the first model */
    fp_model_destroy(&b);
    CHECK_OK(fp_model_create(&a, test_model_path(YOLO), &cfg)); /* and is re-created after the last */
    CHECK_OK(fp_model_run(a, in, 1));
    fp_model_destroy(&a);
    free(in);
}

FP_TEST(steady_runs_wrap_no_new_values_after_warm_up)
{
    /* A pool with two batch buffers, used in turn, as the pipeline does. */
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(4);
    CHECK_OK(fp_model_create(&m, test_blazeface(128), &cfg));
    size_t item = fp_model_input_info(m, 0)->item_bytes;
    float *bufs[2] = {calloc(4, item), calloc(4, item)};
    for (int i = 0; i < 2; i++) /* warm-up: each buffer once at each batch size used */
        for (int b = 3; b <= 4; b++)
            CHECK_OK(fp_model_run(m, bufs[i], b));
    FpModelStats warm, after;
    fp_model_get_stats(m, &warm);
    CHECK(warm.values_created > 0);
    for (int k = 0; k < 20; k++)
        CHECK_OK(fp_model_run(m, bufs[k % 2], 3 + k % 2));
    fp_model_get_stats(m, &after);
    CHECK_EQ(after.values_created, warm.values_created);
    CHECK_EQ(after.runs, warm.runs + 20);
    CHECK_EQ(after.session_runs, warm.session_runs + 10 * 3 + 10 * 4); /* fixed batch 1: one Run per slot */
    free(bufs[0]);
    free(bufs[1]);
    fp_model_destroy(&m);

    /* A dynamic-batch model runs a batch in one Run. */
    cfg = test_config(4);
    CHECK_OK(fp_model_create(&m, test_model_path(YOLO), &cfg));
    float *in = calloc(4, fp_model_input_info(m, 0)->item_bytes);
    CHECK_OK(fp_model_run(m, in, 4));
    CHECK_OK(fp_model_run(m, in, 4));
    fp_model_get_stats(m, &after);
    CHECK_EQ(after.session_runs, 2);
    CHECK_EQ(after.values_created, 2); /* input + output, once */
    free(in);
    fp_model_destroy(&m);
}

FP_TEST(family_detection_yolov5_and_ssd_layouts)
{
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(1);
    FpFamilyInfo fi;
    CHECK_OK(fp_model_create(&m, test_model_path("tiny_yolov5_shape.onnx"), &cfg));
    CHECK_EQ(fp_model_family(m, &fi), FP_FAMILY_YOLOV5);
    CHECK_EQ(fi.num_anchors, 630);
    CHECK_EQ(fi.num_classes, 80);
    CHECK_EQ(fi.outputs[0], 0);
    /* The outputs really run: every value is the image's mean. */
    float *in = malloc(3 * 32 * 32 * sizeof(float));
    for (int i = 0; i < 3 * 32 * 32; i++)
        in[i] = (float)(i % 7);
    double mean = 0;
    for (int i = 0; i < 3 * 32 * 32; i++)
        mean += in[i];
    mean /= 3 * 32 * 32;
    CHECK_OK(fp_model_run(m, in, 1));
    const float *o = fp_model_output_data(m, 0);
    CHECK_NEAR(o[0], mean, 1e-4);
    CHECK_NEAR(o[630 * 85 - 1], mean, 1e-4);
    fp_model_destroy(&m);

    CHECK_OK(fp_model_create(&m, test_model_path("tiny_ssd_shape.onnx"), &cfg));
    CHECK_EQ(fp_model_family(m, &fi), FP_FAMILY_SSD);
    CHECK_EQ(fi.num_anchors, 100);
    CHECK_EQ(fi.num_classes, 91);
    CHECK(strcmp(fp_model_output_info(m, fi.outputs[0])->name, "detection_boxes") == 0);
    CHECK(strcmp(fp_model_output_info(m, fi.outputs[1])->name, "detection_scores") == 0);
    fp_model_destroy(&m);
    free(in);
}

/* Runs `framepipe ARGS` (the real binary), capturing stdout+stderr into buf; returns the exit status. */
static int run_framepipe(const char *args, char *buf, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s/apps/framepipe' %s 2>&1", fp_test_build_dir(), args);
    FILE *p = popen(cmd, "r");
    CHECK(p);
    size_t n = fread(buf, 1, cap - 1, p);
    buf[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

FP_TEST(framepipe_model_command_inspects_and_reports_errors)
{
    static char out[16384];
    char args[1200];
    snprintf(args, sizeof(args), "model '%s'", test_model_path(YOLO));
    CHECK_EQ(run_framepipe(args, out, sizeof(out)), 0);
    CHECK_MSG(strstr(out, "family:   yolov8, 80 classes, 2100 anchors"), "%s", out);
    CHECK_MSG(strstr(out, "'images' float32 [-1,3,320,320] NCHW"), "%s", out);
    CHECK_MSG(strstr(out, "person, bicycle"), "%s", out);

    snprintf(args, sizeof(args), "model '%s'", test_blazeface(128));
    CHECK_EQ(run_framepipe(args, out, sizeof(out)), 0);
    CHECK_MSG(strstr(out, "family:   blazeface"), "%s", out);
    CHECK_MSG(strstr(out, "NHWC, 3 x 128 x 128, batch fixed (1)"), "%s", out);

    snprintf(args, sizeof(args), "model '%s/README.md'", fp_test_source_dir());
    CHECK_EQ(run_framepipe(args, out, sizeof(out)), 3); /* a model error, as detect exits (docs/cli.md) */
    CHECK_MSG(strstr(out, "README.md is not an ONNX model"), "%s", out);
    CHECK_EQ(run_framepipe("model", out, sizeof(out)), 2);
}

FP_TEST(runs_on_another_onnxruntime_build_chosen_by_environment)
{
    /* onnxruntime-node's libonnxruntime.so.1 (ORT 1.30): a newer build than the headers (1.29). */
    char lib[1024];
    snprintf(lib, sizeof(lib), "%s/onnxruntime-node/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/"
             "libonnxruntime.so.1", fp_test_cache_dir());
    if (access(lib, R_OK) != 0)
        fp_test_skip("%s missing: run scripts/setup.sh", lib);
    setenv("FP_ORT_LIBRARY", lib, 1);
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(2);
    CHECK_OK(fp_model_create(&m, test_model_path(YOLO), &cfg));
    CHECK(strcmp(fp_model_ort_version(NULL), "1.30.0") == 0);
    float *in = calloc(2, fp_model_input_info(m, 0)->item_bytes);
    CHECK_OK(fp_model_run(m, in, 2));
    free(in);
    fp_model_destroy(&m);
}

FP_TEST(class_names_from_every_metadata_form_and_malformed_ones_ignored)
{
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(1);
    /* A JSON list, with escaped quotes. */
    CHECK_OK(fp_model_create(&m, test_model_path("tiny_meta_json_list.onnx"), &cfg));
    CHECK_EQ(fp_model_class_count(m), 3);
    CHECK(strcmp(fp_model_class_name(m, 0), "cat") == 0);
    CHECK(strcmp(fp_model_class_name(m, 1), "dog \"big\"") == 0);
    CHECK(strcmp(fp_model_class_name(m, 2), "bird") == 0);
    FpFamilyInfo fi;
    CHECK_EQ(fp_model_family(m, &fi), FP_FAMILY_YOLOV8); /* 4 + 3 channels, 3 names */
    CHECK_EQ(fi.num_classes, 3);
    fp_model_destroy(&m);

    /* A dict cut off mid-way: ignored (logged), the model still loads. */
    CHECK_OK(fp_model_create(&m, test_model_path("tiny_meta_malformed.onnx"), &cfg));
    CHECK_EQ(fp_model_class_count(m), 0);
    CHECK(fp_model_class_name(m, 0) == NULL);
    CHECK(strcmp(fp_model_meta(m, "names"), "{0: 'cat', 1: ") == 0);
    CHECK_EQ(fp_model_family(m, NULL), FP_FAMILY_YOLOV8);
    fp_model_destroy(&m);

    /* "labels", one per line, trimmed. */
    CHECK_OK(fp_model_create(&m, test_model_path("tiny_ssd_shape.onnx"), &cfg));
    CHECK_EQ(fp_model_class_count(m), 4);
    CHECK(strcmp(fp_model_class_name(m, 0), "background") == 0);
    CHECK(strcmp(fp_model_class_name(m, 2), "bicycle") == 0);
    CHECK(strcmp(fp_model_class_name(m, 3), "car") == 0);
    fp_model_destroy(&m);
}

/*
 * Found by fuzz/fuzz_model.c: an input side past INT_MAX ([1,3,2^31,2^31]) was cast to a negative int height and
 * the output's bytes per image wrapped to 0, so the model loaded. Now a model error naming the input and the side;
 * a configured size that large is the configuration's error.
 */
FP_TEST(input_side_past_the_cap_is_a_model_error)
{
    FpModel *m = NULL;
    FpModelConfig cfg = test_config(1);
    const char *path = test_model_path("tiny_input_huge.onnx");
    check_detail(fp_model_create(&m, path, &cfg), FP_EMODEL, "tiny_input_huge.onnx",
                 "input 'images' has a height of 2147483648; at most 65535");
    CHECK(m == NULL);
    cfg.input_height = 70000;
    cfg.input_width = 64;
    check_detail(fp_model_create(&m, test_model_path("tiny_input_zero.onnx"), &cfg), FP_ECONFIG,
                 "tiny_input_zero.onnx", "height of 70000");
    cfg.input_height = 60000; /* under the side cap: 3 x 60000 x 60000 float32 is past the 1 GiB per image */
    cfg.input_width = 60000;
    check_detail(fp_model_create(&m, test_model_path("tiny_input_zero.onnx"), &cfg), FP_ECONFIG,
                 "tiny_input_zero.onnx", "needs 43200000000 bytes per image");
    CHECK(m == NULL);
}
