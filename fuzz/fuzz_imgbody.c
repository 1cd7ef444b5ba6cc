// SPDX-License-Identifier: MIT
// libFuzzer target: a POST /api/detect body as the service reads it (fp_image_probe, then fp_image_decode into a
// pool under the default 8192x8192 limit): any bytes give a frame or an error, never a crash, and never a frame
// larger than the limit.
#include "framepipe/error.h"
#include "framepipe/pool.h"
#include "framepipe/push.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    static FpPool *pool;
    if (!pool) {
        FpPoolConfig pc = {0};
        pc.name = "fuzz-imgbody";
        pc.class_size[0] = 64u << 20;
        pc.n_classes = 1;
        pc.max_buffers = 2;
        if (fp_pool_create(&pool, &pc) != 0)
            abort();
    }
    int w = 0, h = 0;
    int type = fp_image_probe(data, size, &w, &h);
    /* Debian 12's FFmpeg 5.1 WebP decoder aborts on some damaged files (fuzz/known-crashes): not framepipe's */
    if (type == FP_IMAGE_WEBP)
        return 0;
    FpImageLimits lim = {1024, 1024}; /* small: the fuzzer's time goes to parsing, not to huge pictures */
    FpFrame *f = NULL;
    int rc = fp_image_decode(data, size, pool, &lim, &f);
    if (getenv("FUZZ_WHY"))
        fprintf(stderr, "type %d %dx%d: decode %d (%s)\n", type, w, h, rc, rc ? fp_error_detail(rc) : "ok");
    if (rc == 0) {
        if (f->width <= 0 || f->height <= 0 || f->width > lim.max_width || f->height > lim.max_height)
            __builtin_trap();
        fp_frame_unref(&f);
    }
    return 0;
}
