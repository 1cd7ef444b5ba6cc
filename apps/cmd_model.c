// SPDX-License-Identifier: MIT
// `framepipe model MODEL`: loads a model through FpModel and prints its input geometry, outputs, family, classes and metadata.
#include "commands.h"

#include "framepipe/error.h"
#include "framepipe/model.h"

#include <stdio.h>
#include <string.h>

static void print_dims(const FpTensorInfo *t)
{
    printf("%s [", fp_dtype_name(t->dtype));
    for (int d = 0; d < t->rank; d++)
        printf(d ? ",%lld" : "%lld", (long long)t->dims[d]);
    printf("]");
}

int fp_cmd_model(int argc, char **argv)
{
    FpModelConfig cfg;
    fp_model_config_init(&cfg);
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: framepipe model [--provider cpu|cuda|tensorrt] [--fallback] MODEL.onnx\n"
                   "Loads MODEL with ONNX Runtime and prints its input geometry, outputs, detector family,\n"
                   "class names and metadata. Exit status 1 when it cannot be loaded.\n");
            return 0;
        } else if (!strcmp(argv[i], "--provider") && i + 1 < argc) {
            if (fp_provider_parse(argv[++i], &cfg.provider) < 0) {
                fprintf(stderr, "framepipe model: %s\n", fp_error_detail(FP_EINVALID));
                return 2;
            }
        } else if (!strcmp(argv[i], "--fallback")) {
            cfg.provider_fallback = true;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "framepipe model: unexpected argument '%s' (try --help)\n", argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "framepipe model: no model given (try --help)\n");
        return 2;
    }
    cfg.intra_threads = 1;
    FpModel *m = NULL;
    int rc = fp_model_create(&m, path, &cfg);
    if (rc < 0) {
        fprintf(stderr, "framepipe model: %s\n", fp_error_detail(rc));
        return 1;
    }
    const char *ver = fp_model_ort_version(NULL);
    printf("model:    %s\n", fp_model_path(m));
    printf("runtime:  ONNX Runtime %s, provider %s\n", ver ? ver : "?", fp_provider_name(fp_model_provider(m)));
    const FpModelInput *in = fp_model_input(m);
    printf("input:    '%s' ", fp_model_input_info(m, 0)->name);
    print_dims(fp_model_input_info(m, 0));
    printf(" %s, %d x %d x %d, batch %s", in->layout == FP_LAYOUT_NHWC ? "NHWC" : "NCHW", in->channels, in->height,
           in->width, in->fixed_batch ? "fixed" : "dynamic");
    if (in->fixed_batch)
        printf(" (%d)", in->fixed_batch);
    printf("\n");
    for (int i = 0; i < fp_model_output_count(m); i++) {
        printf("%s #%d '%s' ", i ? "         " : "outputs: ", i, fp_model_output_info(m, i)->name);
        print_dims(fp_model_output_info(m, i));
        printf("\n");
    }
    FpFamilyInfo fi;
    FpFamily fam = fp_model_family(m, &fi);
    if (fam == FP_FAMILY_UNKNOWN) {
        printf("family:   unknown (the outputs match no detector family)\n");
    } else {
        printf("family:   %s, %d classes, %d anchors", fp_family_name(fam), fi.num_classes, fi.num_anchors);
        if (fi.reg_max)
            printf(", reg_max %d", fi.reg_max);
        printf("\n");
    }
    int nc = fp_model_class_count(m);
    if (nc > 0) {
        printf("classes:  %d:", nc);
        for (int i = 0; i < nc && i < 12; i++)
            printf("%s %s", i ? "," : "", fp_model_class_name(m, i));
        printf("%s\n", nc > 12 ? ", ..." : "");
    }
    static const char *keys[] = {"description", "author", "task", "imgsz", "stride", "reg_max", "head", "version"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        const char *v = fp_model_meta(m, keys[k]);
        if (v)
            printf("meta:     %s = %.200s\n", keys[k], v);
    }
    fp_model_destroy(&m);
    return 0;
}
