// SPDX-License-Identifier: MIT
// bench/run.py part 5: images per second through FpModel at several batch sizes, interleaved in one process.
/*
 * usage: batch_infer [--batches 1,2,4,8,16,32] [--blocks N] [--block-ms MS] [--threads N]
 *                    [--provider cpu|cuda|tensorrt] MODEL.onnx
 *
 * Loads MODEL once (FpModel, max_batch = the largest batch size, ORT intra-op threads --threads,
 * default 0 = one per core), fills the input with a fixed pseudo-random pattern, runs each batch size
 * twice to warm up, then --blocks rounds; in each round every batch size runs for about --block-ms
 * (whole runs), the batch sizes in a rotating order, so machine noise hits them alike. A fixed-batch-1
 * model (the npm BlazeFace) is run by FpModel slot by slot: its "batch N" is N sequential runs, the
 * baseline a dynamic-batch copy is compared with. Prints one JSON object:
 * {"model":..., "provider":..., "threads":N, "dynamic":true|false, "ips":{"1":[images/s per block...],...}}
 */
#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_B 16

static int parse_int(const char *arg, const char *name, int lo, int hi)
{
    char *end = NULL;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < lo || v > hi) {
        fprintf(stderr, "batch_infer: %s '%s': want an integer in %d..%d\n", name, arg, lo, hi);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    int batches[MAX_B] = {1, 2, 4, 8, 16, 32}, nb = 6, blocks = 3, block_ms = 300, threads = 0;
    const char *model_path = NULL;
    FpModelConfig cfg;
    fp_model_config_init(&cfg);
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--batches") == 0) {
            char *list = argv[++i];
            nb = 0;
            for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
                if (nb == MAX_B) {
                    fprintf(stderr, "batch_infer: --batches: at most %d sizes\n", MAX_B);
                    return 2;
                }
                batches[nb++] = parse_int(tok, "--batches", 1, 1024);
            }
            if (nb == 0) {
                fprintf(stderr, "batch_infer: --batches '': want a list like 1,2,4\n");
                return 2;
            }
        } else if (i + 1 < argc && strcmp(argv[i], "--blocks") == 0) {
            blocks = parse_int(argv[++i], "--blocks", 1, 1000);
        } else if (i + 1 < argc && strcmp(argv[i], "--block-ms") == 0) {
            block_ms = parse_int(argv[++i], "--block-ms", 1, 600000);
        } else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
            threads = parse_int(argv[++i], "--threads", 0, 256);
        } else if (i + 1 < argc && strcmp(argv[i], "--provider") == 0) {
            if (fp_provider_parse(argv[++i], &cfg.provider) < 0) {
                fprintf(stderr, "batch_infer: --provider '%s': want cpu, cuda or tensorrt\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] != '-' && !model_path) {
            model_path = argv[i];
        } else {
            fprintf(stderr, "usage: batch_infer [--batches LIST] [--blocks N] [--block-ms MS] [--threads N] "
                            "[--provider P] MODEL.onnx (bad: '%s')\n", argv[i]);
            return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "batch_infer: no MODEL.onnx given\n");
        return 2;
    }
    int max_b = 1;
    for (int i = 0; i < nb; i++)
        max_b = batches[i] > max_b ? batches[i] : max_b;
    cfg.max_batch = max_b;
    cfg.intra_threads = threads;
    FpModel *m = NULL;
    int rc = fp_model_create(&m, model_path, &cfg);
    if (rc < 0) {
        fprintf(stderr, "batch_infer: %s: %s\n", model_path, fp_error_detail(rc));
        return 3;
    }
    const FpTensorInfo *in = fp_model_input_info(m, 0);
    size_t item = in->item_bytes;
    uint8_t *input = malloc(item * (size_t)max_b);
    if (!input) {
        fprintf(stderr, "batch_infer: no memory for a %d-item input\n", max_b);
        fp_model_destroy(&m);
        return 1;
    }
    /* a fixed pattern, the same for every run: float inputs in [0, 1), other types random bytes */
    uint32_t s = 12345;
    size_t n = item * (size_t)max_b;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        input[i] = (uint8_t)(s >> 24);
    }
    if (in->dtype == FP_DTYPE_FLOAT32)
        for (size_t i = 0; i < n / sizeof(float); i++) {
            s = s * 1664525u + 1013904223u;
            float v = (float)(s >> 8) / 16777216.0f;
            memcpy(input + i * sizeof(float), &v, sizeof(v));
        }
    double *ips = calloc((size_t)nb * (size_t)blocks, sizeof(double));
    for (int i = 0; i < nb; i++)
        for (int w = 0; w < 2; w++)
            if ((rc = fp_model_run(m, input, batches[i])) < 0) {
                fprintf(stderr, "batch_infer: %s at batch %d: %s\n", model_path, batches[i], fp_error_detail(rc));
                return 1;
            }
    for (int b = 0; b < blocks; b++) {
        for (int j = 0; j < nb; j++) {
            int i = (j + b) % nb;
            int64_t t0 = fp_clock_ns(), t = t0;
            long images = 0;
            while (t - t0 < (int64_t)block_ms * 1000000) {
                if ((rc = fp_model_run(m, input, batches[i])) < 0) {
                    fprintf(stderr, "batch_infer: %s at batch %d: %s\n", model_path, batches[i],
                            fp_error_detail(rc));
                    return 1;
                }
                images += batches[i];
                t = fp_clock_ns();
            }
            ips[i * blocks + b] = (double)images / ((double)(t - t0) / 1e9);
        }
    }
    printf("{\"model\":\"%s\",\"provider\":\"%s\",\"threads\":%d,\"dynamic\":%s,\"ips\":{", model_path,
           fp_provider_name(fp_model_provider(m)), threads, in->batch_dynamic ? "true" : "false");
    for (int i = 0; i < nb; i++) {
        printf("%s\"%d\":[", i ? "," : "", batches[i]);
        for (int b = 0; b < blocks; b++)
            printf("%s%.2f", b ? "," : "", ips[i * blocks + b]);
        printf("]");
    }
    printf("}}\n");
    free(ips);
    free(input);
    fp_model_destroy(&m);
    return 0;
}
