// SPDX-License-Identifier: MIT
// Shared by the fuzz targets: the libFuzzer entry point's prototype and a log that says nothing (speed).
#ifndef FP_FUZZ_COMMON_H
#define FP_FUZZ_COMMON_H

#include "framepipe/log.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_drop_log(void *opaque, FpLogLevel level, const char *component, const char *message)
{
    (void)opaque, (void)level, (void)component, (void)message;
}

/* Routes framepipe's log to nowhere, once: error lines for every bad input would cost more than the parse. */
static inline void fuzz_quiet(void)
{
    static int done;
    if (!done) {
        fp_log_set_callback(fuzz_drop_log, NULL);
        done = 1;
    }
}

#endif
