// SPDX-License-Identifier: MIT
// `framepipe models`: the named models (face, face-front), the file each resolves to and whether it is installed.
#include "app_options.h"
#include "commands.h"

#include "framepipe/model_names.h"

#include <stdio.h>

static const struct option models_options[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int fp_cmd_models(int argc, char **argv)
{
    FpAppOptions o;
    fp_app_options_init(&o, "framepipe models", argc, argv, "h", models_options);
    int c;
    while ((c = fp_app_options_next(&o)) != -1) {
        if (c != 'h')
            return FP_EXIT_USAGE;
        printf("usage: framepipe models\n"
               "Lists the model names accepted wherever a MODEL path is (framepipe detect face photo.jpg):\n"
               "name, installed or missing, the file it resolves to, what it is. Searched in order:\n"
               "$FP_MODEL_DIR, $FP_CACHE_DIR/models/blazeface, ~/.cache/framepipe/models/blazeface and the\n"
               "install's share/framepipe/models. scripts/setup.sh installs them.\n"
               "Exit code: 0, or 1 when a named model is not installed.\n");
        return FP_EXIT_OK;
    }
    if (optind < argc) {
        fprintf(stderr, "framepipe models: unexpected argument '%s' (try --help)\n", argv[optind]);
        return FP_EXIT_USAGE;
    }
    int n, missing = 0;
    const FpModelName *t = fp_model_names(&n);
    for (int i = 0; i < n; i++) {
        char path[1024];
        int have = fp_model_name_locate(&t[i], path, sizeof(path));
        missing += !have;
        printf("%-11s %-9s %s\n            %s\n", t[i].name, have ? "installed" : "missing", path, t[i].summary);
    }
    return missing ? FP_EXIT_INPUT : FP_EXIT_OK;
}
