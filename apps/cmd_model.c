// SPDX-License-Identifier: MIT
// `framepipe model MODEL`: loads a model through FpModel and prints its input geometry, outputs, family, classes and metadata.
#include "app_options.h"
#include "commands.h"

#include "framepipe/error.h"
#include "framepipe/model.h"
#include "framepipe/model_names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void print_dims(const FpTensorInfo *t)
{
    printf("%s [", fp_dtype_name(t->dtype));
    for (int d = 0; d < t->rank; d++)
        printf(d ? ",%lld" : "%lld", (long long)t->dims[d]);
    printf("]");
}

enum { OPT_PROVIDER = 256, OPT_FALLBACK };

static const struct option model_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {"fallback", no_argument, NULL, OPT_FALLBACK},
    {NULL, 0, NULL, 0},
};

static void model_usage(FILE *out)
{
    fprintf(out, "usage: framepipe model [--provider cpu|cuda|tensorrt] [--fallback] MODEL.onnx\n"
                 "Loads MODEL with ONNX Runtime and prints its input geometry, outputs, detector family,\n"
                 "class names and metadata. Exit status 1 when it cannot be loaded, 2 on bad usage.\n");
}

/* Parses argv into *cfg and *path. 0, 1 after --help (usage printed), FP_APP_OPT_ERROR (message printed). */
static int parse_model_args(int argc, char **argv, FpModelConfig *cfg, const char **path)
{
    FpAppOptions o;
    fp_app_options_init(&o, "framepipe model", argc, argv, "h", model_options);
    int c;
    while ((c = fp_app_options_next(&o)) != -1) {
        switch (c) {
        case 'h': model_usage(stdout); return 1;
        case OPT_FALLBACK: cfg->provider_fallback = true; break;
        case OPT_PROVIDER:
            if (fp_provider_parse(optarg, &cfg->provider) < 0)
                return fp_app_bad_value(&o, "expected cpu, cuda or tensorrt");
            break;
        default: return FP_APP_OPT_ERROR;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "framepipe model: no model given (try --help)\n");
        return FP_APP_OPT_ERROR;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "framepipe model: unexpected argument '%s' (one model at a time)\n", argv[optind + 1]);
        return FP_APP_OPT_ERROR;
    }
    *path = argv[optind];
    return 0;
}

int fp_cmd_model(int argc, char **argv)
{
    FpModelConfig cfg;
    fp_model_config_init(&cfg);
    const char *path = NULL;
    int prc = parse_model_args(argc, argv, &cfg, &path);
    if (prc != 0)
        return prc == 1 ? FP_EXIT_OK : FP_EXIT_USAGE;
    cfg.intra_threads = 1;
    char named[1024];
    int nrc = fp_model_resolve(path, named, sizeof(named)); /* "face" -> its installed file */
    if (nrc < 0) {
        fprintf(stderr, "framepipe model: %s\n", fp_error_detail(nrc));
        return FP_EXIT_INPUT;
    }
    if (nrc == 1)
        path = named;
    FpModel *m = NULL;
    int rc = fp_model_create(&m, path, &cfg);
    if (rc < 0) {
        fprintf(stderr, "framepipe model: %s\n", fp_error_detail(rc));
        /* the same codes as detect and run for the same file (docs/cli.md) */
        return rc == FP_ECONFIG || rc == FP_EINVALID ? FP_EXIT_USAGE
               : rc == FP_EMODEL || rc == FP_EDEPENDENCY || rc == FP_EUNSUPPORTED || rc == -ENOENT || rc == -EACCES
                   ? FP_EXIT_MODEL
                   : FP_EXIT_INPUT;
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
