// SPDX-License-Identifier: MIT
// `framepipe version`: the version and the build's libraries.
#include "commands.h"
#include "fp_config.h"

#include <stdio.h>

int fp_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("framepipe %s\n", FP_VERSION);
    return 0;
}
