// SPDX-License-Identifier: MIT
// Benchmark: per-image inference time through FpModel vs bare ONNX Runtime (C API, same model, input, threads), side by side.
//
// usage: bench_infer [--threads N] [--reps N] [--quick] [--out FILE.md]
//
// For each case (BlazeFace 128 and 256 at batch 1, the YOLOv8 test model at batch 1, 4 and 8) both
// sides get the same session options (intra-op threads, sequential execution, all graph
// optimizations, spinning off), the same input tensor (a real image letterboxed, replicated over
// the batch) and outputs in buffers allocated once. The bare side is the leanest use of the C API:
// one input OrtValue and preallocated output OrtValues created once, then OrtApi::Run in a loop.
// Blocks of runs alternate between the two sides so that machine noise hits both alike; each
// block gives one per-image time, and the table reports medians, min-max and the ratio.
#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/model.h"

#include <onnxruntime_c_api.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OUT 8

typedef struct Case {
    const char *label;
    const char *path;
    int batch;
} Case;

typedef struct Bare {
    const OrtApi *o;
    OrtEnv *env;
    OrtSession *session;
    OrtValue *in;
    OrtValue *out[MAX_OUT];
    char *in_name, *out_names[MAX_OUT];
    size_t n_out;
} Bare;

static void die_ort(const OrtApi *o, OrtStatus *st, const char *what)
{
    fprintf(stderr, "bench_infer: %s: %s\n", what, o->GetErrorMessage(st));
    exit(1);
}

#define ORT_CHECK(o, call, what)                                                         \
    do {                                                                                 \
        OrtStatus *st_ = (call);                                                         \
        if (st_)                                                                         \
            die_ort(o, st_, what);                                                       \
    } while (0)

/* The bare-ONNX-Runtime side, written directly against the C API (no framepipe code). */
static void bare_open(Bare *b, const char *path, int threads, int batch, void *input, void *const *outputs,
                      const FpModel *like)
{
    const OrtApi *o = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (!o) {
        fprintf(stderr, "bench_infer: the linked ONNX Runtime does not serve API version %d\n", ORT_API_VERSION);
        exit(1);
    }
    b->o = o;
    ORT_CHECK(o, o->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "bare", &b->env), "CreateEnv");
    OrtSessionOptions *so;
    ORT_CHECK(o, o->CreateSessionOptions(&so), "CreateSessionOptions");
    ORT_CHECK(o, o->SetIntraOpNumThreads(so, threads), "SetIntraOpNumThreads");
    ORT_CHECK(o, o->SetInterOpNumThreads(so, 1), "SetInterOpNumThreads");
    ORT_CHECK(o, o->SetSessionExecutionMode(so, ORT_SEQUENTIAL), "SetSessionExecutionMode");
    ORT_CHECK(o, o->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL), "SetSessionGraphOptimizationLevel");
    ORT_CHECK(o, o->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "0"), "spinning");
    ORT_CHECK(o, o->AddSessionConfigEntry(so, "session.inter_op.allow_spinning", "0"), "spinning");
    ORT_CHECK(o, o->CreateSession(b->env, path, so, &b->session), "CreateSession");
    o->ReleaseSessionOptions(so);

    OrtAllocator *alloc;
    ORT_CHECK(o, o->GetAllocatorWithDefaultOptions(&alloc), "allocator");
    ORT_CHECK(o, o->SessionGetInputName(b->session, 0, alloc, &b->in_name), "input name");
    ORT_CHECK(o, o->SessionGetOutputCount(b->session, &b->n_out), "output count");
    OrtMemoryInfo *mem;
    ORT_CHECK(o, o->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &mem), "memory info");
    /* Shapes: the batch the model runs at once (1 for a fixed-batch model), the rest as FpModel resolved them. */
    const FpTensorInfo *ti = fp_model_input_info(like, 0);
    int run_batch = fp_model_input(like)->fixed_batch ? 1 : batch;
    int64_t shape[FP_MODEL_MAX_DIMS];
    memcpy(shape, ti->dims, sizeof(shape));
    shape[0] = run_batch;
    ORT_CHECK(o, o->CreateTensorWithDataAsOrtValue(mem, input, run_batch * ti->item_bytes, shape, (size_t)ti->rank,
                                                   ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &b->in),
              "input value");
    for (size_t i = 0; i < b->n_out; i++) {
        ORT_CHECK(o, o->SessionGetOutputName(b->session, i, alloc, &b->out_names[i]), "output name");
        const FpTensorInfo *oi = fp_model_output_info(like, (int)i);
        memcpy(shape, oi->dims, sizeof(shape));
        shape[0] = run_batch;
        ORT_CHECK(o, o->CreateTensorWithDataAsOrtValue(mem, outputs[i], run_batch * oi->item_bytes, shape,
                                                       (size_t)oi->rank, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                                                       &b->out[i]),
                  "output value");
    }
    o->ReleaseMemoryInfo(mem);
}

static void bare_run(Bare *b, int runs)
{
    for (int r = 0; r < runs; r++)
        ORT_CHECK(b->o, b->o->Run(b->session, NULL, (const char *const *)&b->in_name, (const OrtValue *const *)&b->in,
                                  1, (const char *const *)b->out_names, b->n_out, b->out),
                  "Run");
}

static void bare_close(Bare *b)
{
    OrtAllocator *alloc;
    ORT_CHECK(b->o, b->o->GetAllocatorWithDefaultOptions(&alloc), "allocator");
    b->o->ReleaseValue(b->in);
    for (size_t i = 0; i < b->n_out; i++) {
        b->o->ReleaseValue(b->out[i]);
        ORT_CHECK(b->o, b->o->AllocatorFree(alloc, b->out_names[i]), "free");
    }
    ORT_CHECK(b->o, b->o->AllocatorFree(alloc, b->in_name), "free");
    b->o->ReleaseSession(b->session);
    b->o->ReleaseEnv(b->env);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fills an input with a smooth, image-like pattern (deterministic), in the model's value range. */
static void fill_input(float *t, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        t[i] = lo + (hi - lo) * (0.5f + 0.5f * sinf((float)(i % 977) * 0.013f + (float)(i / 977) * 0.002f));
}

typedef struct Result {
    double fp_med, fp_min, fp_max, bare_med, bare_min, bare_max;
    double paired; /* median over reps of (framepipe block / the bare block beside it) */
} Result;

static Result run_case(const Case *c, int threads, int reps, double block_s)
{
    FpModelConfig cfg;
    fp_model_config_init(&cfg);
    cfg.intra_threads = threads;
    cfg.inter_threads = 1;
    cfg.allow_spinning = false;
    cfg.max_batch = c->batch;
    FpModel *m = NULL;
    int rc = fp_model_create(&m, c->path, &cfg);
    if (rc < 0) {
        fprintf(stderr, "bench_infer: %s\n", fp_error_detail(rc));
        exit(1);
    }
    const FpTensorInfo *ti = fp_model_input_info(m, 0);
    size_t elems = (size_t)c->batch * ti->item_elems;
    float *input = aligned_alloc(64, (elems * 4 + 63) / 64 * 64);
    bool nhwc = fp_model_input(m)->layout == FP_LAYOUT_NHWC;
    fill_input(input, elems, nhwc ? -1.f : 0.f, 1.f);
    void *bare_out[MAX_OUT];
    int n_out = fp_model_output_count(m);
    for (int i = 0; i < n_out; i++)
        bare_out[i] = calloc((size_t)c->batch, fp_model_output_info(m, i)->item_bytes);
    Bare b;
    memset(&b, 0, sizeof(b));
    bare_open(&b, c->path, threads, c->batch, input, bare_out, m);
    int bare_runs_per_batch = fp_model_input(m)->fixed_batch ? c->batch : 1;

    /* Warm-up, and the number of runs that fill one block of about block_s seconds. */
    for (int i = 0; i < 3; i++) {
        if (fp_model_run(m, input, c->batch) < 0) {
            fprintf(stderr, "bench_infer: %s\n", fp_error_detail(-1));
            exit(1);
        }
        bare_run(&b, bare_runs_per_batch);
    }
    int64_t t0 = fp_clock_ns();
    fp_model_run(m, input, c->batch);
    double one = (double)(fp_clock_ns() - t0) / 1e9;
    int runs = (int)(block_s / (one > 1e-6 ? one : 1e-6));
    runs = runs < 1 ? 1 : runs > 2000 ? 2000 : runs;

    double *tf = calloc((size_t)reps, sizeof(double)), *tb = calloc((size_t)reps, sizeof(double));
    for (int r = 0; r < reps; r++) {
        for (int side = 0; side < 2; side++) {
            bool fp_side = (side == 0) == (r % 2 == 0); /* alternate which side goes first */
            int64_t s = fp_clock_ns();
            if (fp_side) {
                for (int k = 0; k < runs; k++)
                    fp_model_run(m, input, c->batch);
            } else {
                bare_run(&b, runs * bare_runs_per_batch);
            }
            double per_image_ms = (double)(fp_clock_ns() - s) / 1e6 / runs / c->batch;
            (fp_side ? tf : tb)[r] = per_image_ms;
        }
    }
    /* The two sides computed the same thing. */
    for (int i = 0; i < n_out; i++) {
        const FpTensorInfo *oi = fp_model_output_info(m, i);
        size_t n = (size_t)bare_runs_per_batch == 1 ? (size_t)c->batch * oi->item_elems : oi->item_elems;
        const float *x = fp_model_output_data(m, i), *y = bare_out[i];
        for (size_t k = 0; k < n; k++) {
            if (fabsf(x[k] - y[k]) > 1e-3f * (1.f + fabsf(y[k]))) {
                fprintf(stderr, "bench_infer: %s: output %d differs at %zu: %g vs %g\n", c->label, i, k, x[k], y[k]);
                exit(1);
            }
        }
    }
    double *ratio = calloc((size_t)reps, sizeof(double));
    for (int r = 0; r < reps; r++)
        ratio[r] = tf[r] / tb[r];
    qsort(ratio, (size_t)reps, sizeof(double), cmp_double);
    double paired = reps % 2 ? ratio[reps / 2] : (ratio[reps / 2 - 1] + ratio[reps / 2]) / 2;
    free(ratio);
    qsort(tf, (size_t)reps, sizeof(double), cmp_double);
    qsort(tb, (size_t)reps, sizeof(double), cmp_double);
    Result res = {tf[reps / 2], tf[0], tf[reps - 1], tb[reps / 2], tb[0], tb[reps - 1], paired};
    if (reps % 2 == 0) {
        res.fp_med = (tf[reps / 2 - 1] + tf[reps / 2]) / 2;
        res.bare_med = (tb[reps / 2 - 1] + tb[reps / 2]) / 2;
    }
    fprintf(stderr, "  %-28s %d runs/block: framepipe %.3f ms, bare %.3f ms per image\n", c->label, runs,
            res.fp_med, res.bare_med);
    free(tf);
    free(tb);
    bare_close(&b);
    for (int i = 0; i < n_out; i++)
        free(bare_out[i]);
    free(input);
    fp_model_destroy(&m);
    return res;
}

int main(int argc, char **argv)
{
    int threads = 2, reps = 11;
    double block_s = 0.25;
    const char *out_md = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--quick") == 0) {
            reps = 3;
            block_s = 0.05;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out_md = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--threads N] [--reps N] [--quick] [--out FILE.md]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || reps < 1) {
        fprintf(stderr, "bench_infer: --threads and --reps must be >= 1\n");
        return 2;
    }
    const char *cache = getenv("FP_CACHE_DIR");
    char bf128[1024], bf256[1024], yolo[1024];
    char home_cache[900];
    snprintf(home_cache, sizeof(home_cache), "%s/.cache/framepipe", getenv("HOME") ? getenv("HOME") : "/tmp");
    if (!cache || !*cache)
        cache = home_cache;
    snprintf(bf128, sizeof(bf128), "%s/models/blazeface/face_detection_front_128x128_barracuda.onnx", cache);
    snprintf(bf256, sizeof(bf256), "%s/models/blazeface/face_detection_back_256x256_barracuda.onnx", cache);
    snprintf(yolo, sizeof(yolo), "%s/models/yolov8_test_320.onnx", FP_SOURCE_ROOT);
    char tiny[1024];
    snprintf(tiny, sizeof(tiny), "%s/models/tiny_yolov5_shape.onnx", FP_SOURCE_ROOT);
    if (access(bf128, R_OK) != 0 || access(yolo, R_OK) != 0) {
        fprintf(stderr, "bench_infer: models missing (%s, %s): run scripts/setup.sh\n", bf128, yolo);
        return 1;
    }
    const Case cases[] = {
        {"BlazeFace front 128, batch 1", bf128, 1},
        {"BlazeFace back 256, batch 1", bf256, 1},
        {"BlazeFace front 128, batch 4 (per slot)", bf128, 4},
        {"YOLOv8 test 320, batch 1", yolo, 1},
        {"YOLOv8 test 320, batch 4", yolo, 4},
        {"YOLOv8 test 320, batch 8", yolo, 8},
    };
    const int n = (int)(sizeof(cases) / sizeof(cases[0]));
    const char *ver = fp_model_ort_version(NULL);
    fprintf(stderr, "bench_infer: ONNX Runtime %s, %d intra-op threads, %d blocks per side\n", ver ? ver : "?",
            threads, reps);
    char *md = NULL;
    size_t md_len = 0;
    FILE *f = open_memstream(&md, &md_len);
    fprintf(f, "## Inference: FpModel vs bare ONNX Runtime\n\n");
    fprintf(f, "Per-image time of one model run, same model, input, session options (%d intra-op threads, "
               "sequential, all graph optimizations, no spinning) and preallocated outputs on both sides; "
               "ONNX Runtime %s, CPU. Median of %d alternating blocks (min-max). Overhead = framepipe / bare - 1 "
               "from the medians, and the median of the per-block ratios (each framepipe block against the bare "
               "block run right beside it, which cancels slow load changes); target: at most 3%%. Re-run: `build/release/bench/bench_infer --out /tmp/infer.md && "
               "bench/update_results.py infer /tmp/infer.md`.\n\n",
            threads, ver ? ver : "?", reps);
    fprintf(f, "| case | framepipe ms/image | bare ORT ms/image | overhead (medians) | overhead (paired) |\n"
               "|---|---|---|---|---|\n");
    Result first = {0};
    for (int i = 0; i < n; i++) {
        Result r = run_case(&cases[i], threads, reps, block_s);
        if (i == 0)
            first = r;
        fprintf(f, "| %s | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %+.1f%% | %+.1f%% |\n", cases[i].label, r.fp_med,
                r.fp_min, r.fp_max, r.bare_med, r.bare_min, r.bare_max, (r.fp_med / r.bare_med - 1) * 100,
                (r.paired - 1) * 100);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    /* Per-call floor: on a model whose Run costs microseconds, the difference is framepipe's own cost
       per call (descriptor cache look-ups, checks), which noise on the big models hides. */
    Case floor_case = {"tiny model (per-call floor)", tiny, 1};
    Result fl = run_case(&floor_case, threads, reps * 3, block_s / 2);
    double add_us = (fl.fp_med - fl.bare_med) * 1000;
    fprintf(f, "\nPer-call cost, measured on a tiny model (`models/tiny_yolov5_shape.onnx`, one Expand) where "
               "ONNX Runtime's own Run takes %.1f us: framepipe %.1f us vs bare %.1f us per call (paired %+.1f%%), "
               "so framepipe adds about %.2f us per Run call; against the cases above (one Run per image for "
               "BlazeFace, one per batch for YOLO) that is %.3f%% of BlazeFace 128's time.\n",
            fl.bare_med * 1000, fl.fp_med * 1000, fl.bare_med * 1000, (fl.paired - 1) * 100, add_us,
            add_us / 1000 / first.bare_med * 100);
    fprintf(f, "\nMachine: %ld CPUs online. Noise: the min-max ranges show how much the load of other processes "
               "moved each side; compare the overhead only where the ranges are tight.\n", ncpu);
    fclose(f);
    fputs(md, stdout);
    if (out_md) {
        FILE *o = fopen(out_md, "w");
        if (!o) {
            perror(out_md);
            free(md);
            return 1;
        }
        fputs(md, o);
        fclose(o);
    }
    free(md);
    return 0;
}
