// SPDX-License-Identifier: MIT
// `framepipe version`: the version and the build's libraries.
#include "app_options.h"
#include "commands.h"
#include "fp_config.h"

#include <stdio.h>

static const struct option version_options[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int fp_cmd_version(int argc, char **argv)
{
    FpAppOptions o;
    fp_app_options_init(&o, "framepipe version", argc, argv, "h", version_options);
    int c;
    while ((c = fp_app_options_next(&o)) != -1) {
        if (c != 'h')
            return FP_EXIT_USAGE;
        printf("usage: framepipe version (or framepipe --version)\nPrints framepipe's version.\n");
        return FP_EXIT_OK;
    }
    if (optind < argc) {
        fprintf(stderr, "framepipe version: unexpected argument '%s' (try --help)\n", argv[optind]);
        return FP_EXIT_USAGE;
    }
    printf("framepipe %s\n", FP_VERSION);
    return FP_EXIT_OK;
}
