// SPDX-License-Identifier: MIT
// Zero allocations per frame: after warm-up, framepipe's own code makes no allocator call while frames flow (libav's internals excluded).
#include "fp_test.h"
#include "fp_test_spawn.h"
#include "fp_alloc_count.h"
#include "media.h"

#include "framepipe/source.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * This executable is linked with -Wl,--wrap=malloc,... (tests/ingest/meson.build):
 * every allocator call made by the framepipe objects (the static library:
 * source thread, queue, frame free list, pool) goes through the counters
 * below. Calls made inside Debian's libav shared libraries are not wrapped:
 * those (the AVBufferRef wrapper per picture, packet buffers) are documented
 * in docs/ingest.md as the remaining per-frame allocations.
 */
static void count_steady_state(FpSourceConfig *cfg, int warm, int measured, FpPool *pool)
{
    FpSource *s = NULL;
    CHECK_OK(fp_source_open(&s, cfg, pool));
    CHECK_OK(fp_source_start(s));
    unsigned long before = 0;
    for (int i = 0; i < warm + measured; i++) {
        if (i == warm)
            before = fp_alloc_calls();
        FpFrame *f = NULL;
        CHECK_OK(fp_source_next(s, &f, 20 * 1000000000LL));
        CHECK_EQ(fp_media_counter(f), i);
        fp_frame_unref(&f);
    }
    unsigned long calls = fp_alloc_calls() - before;
    fp_source_close(&s);
    CHECK_MSG(calls == 0, "%s: %lu allocator calls by framepipe over %d frames after warm-up",
              cfg->url, calls, measured);
}

FP_TEST(decoding_h264_makes_no_allocations_after_warm_up)
{
    char *clip = fp_media_clip("h264", 320, 240, 120, 25, "mp4");
    /* buffers made up front: the pool's own growth is its warm-up, not a per-frame cost */
    FpPoolConfig pc = {.name = "alloc-test", .class_size = {256 * 1024}, .n_classes = 1,
                       .prealloc = 48, .max_buffers = 64};
    FpPool *pool = NULL;
    CHECK_OK(fp_pool_create(&pool, &pc));
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    count_steady_state(&cfg, 40, 70, pool);
    fp_pool_destroy(&pool);
    free(clip);
}

FP_TEST(raw_frames_make_no_allocations_after_warm_up)
{
    char *clip = fp_media_clip("h264", 320, 240, 120, 25, "mp4");
    char raw[600];
    snprintf(raw, sizeof(raw), "%s/clip.yuv", fp_test_tmpdir());
    const char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-i", clip, "-f", "rawvideo",
                          "-pix_fmt", "yuv420p", "-y", raw, NULL};
    CHECK_EQ(fp_test_run(argv, NULL, NULL), 0);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = raw;
    cfg.kind = FP_SOURCE_RAW;
    cfg.raw_width = 320;
    cfg.raw_height = 240;
    cfg.raw_format = FP_PIX_YUV420P;
    count_steady_state(&cfg, 20, 90, NULL);
    free(clip);
}
