// SPDX-License-Identifier: MIT
// libFuzzer target: the YAML config loader (fp_config_parse) on arbitrary bytes: parse or fail with a message, never crash.
#include "framepipe/config.h"
#include "framepipe/error.h"
#include "fuzz_common.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    FpConfigFile *cf = NULL;
    int rc = fp_config_parse(&cf, (const char *)data, size, "fuzz.yaml");
    if (rc == 0) {
        const FpPipelineConfig *c = fp_config_get(cf);
        for (int i = 0; i < c->n_cameras; i++) /* every string the config points to is readable */
            if (c->cameras[i].source.url)
                (void)strlen(c->cameras[i].source.url);
        fp_config_destroy(&cf);
    } else if (!fp_error_detail(rc)[0]) {
        __builtin_trap(); /* a failure must say why */
    }
    return 0;
}
