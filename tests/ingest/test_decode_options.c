// SPDX-License-Identifier: MIT
// Decode options of file sources (skip_loop_filter, skip_frames): which frames come out, checked against ffprobe's own decode with the same options.
#include "fp_test.h"
#include "media.h"

#include "framepipe/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000000LL
#define N_FRAMES 50

/* ffprobe's count of frames decoded with `-skip_frame OPT` ("default", "noref", "nokey"): the reference. */
static int ffprobe_count(const char *clip, const char *opt)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -skip_frame %s -count_frames -select_streams v:0 -show_entries stream=nb_read_frames "
             "-of csv=p=0 '%s'",
             opt, clip);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    int n = -1;
    CHECK_MSG(fscanf(p, "%d", &n) == 1, "no frame count from: %s", cmd);
    pclose(p);
    return n;
}

typedef struct Decoded {
    int n;
    int counter[N_FRAMES];
    uint64_t luma_hash[N_FRAMES];
} Decoded;

static void decode(const char *clip, int skip_loop_filter, FpSkipFrames skip, Decoded *d)
{
    FpPool *pool = fp_media_pool(256 * 1024, 48);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.name = "opts";
    cfg.skip_loop_filter = skip_loop_filter;
    cfg.skip_frames = skip;
    FpSource *s = NULL;
    CHECK_OK(fp_source_open(&s, &cfg, pool));
    CHECK_OK(fp_source_start(s));
    memset(d, 0, sizeof(*d));
    for (;;) {
        FpFrame *f = NULL;
        int rc = fp_source_next(s, &f, 20 * SEC);
        if (rc == FP_EEND_OF_STREAM)
            break;
        CHECK_MSG(rc == 0, "fp_source_next: %s", fp_error_detail(rc));
        CHECK(d->n < N_FRAMES);
        d->counter[d->n] = fp_media_counter(f);
        uint64_t h = 1469598103934665603ull;
        for (int y = 16; y < f->height; y++) /* below the counter blocks */
            for (int x = 0; x < f->width; x++)
                h = (h ^ f->data[0][(size_t)y * f->linesize[0] + x]) * 1099511628211ull;
        d->luma_hash[d->n] = h;
        d->n++;
        fp_frame_unref(&f);
    }
    fp_source_close(&s);
    fp_pool_destroy(&pool);
}

FP_TEST(skip_frames_nonref_and_nonkey_match_ffprobe)
{
    char *clip = fp_media_clip("h264", 320, 240, N_FRAMES, 25, "mp4"); /* 2 B-frames, a key frame every 25 */
    Decoded all, nonref, nonkey;
    decode(clip, 0, FP_SKIP_NONE, &all);
    decode(clip, 0, FP_SKIP_NONREF, &nonref);
    decode(clip, 0, FP_SKIP_NONKEY, &nonkey);
    CHECK_EQ(all.n, N_FRAMES);
    CHECK_EQ(all.n, ffprobe_count(clip, "default"));
    int want_nonref = ffprobe_count(clip, "noref"), want_nonkey = ffprobe_count(clip, "nokey");
    CHECK_MSG(want_nonref < N_FRAMES && want_nonkey < want_nonref, "the clip has B-frames and GOPs: %d %d",
              want_nonref, want_nonkey);
    CHECK_EQ(nonref.n, want_nonref);
    CHECK_EQ(nonkey.n, want_nonkey);
    /* the frames that come out are whole frames of the stream, in order: key frames sit at multiples of 25 */
    for (int i = 0; i < nonkey.n; i++)
        CHECK_EQ(nonkey.counter[i], 25 * i);
    for (int i = 1; i < nonref.n; i++)
        CHECK_MSG(nonref.counter[i] > nonref.counter[i - 1], "nonref frame %d: counter %d after %d", i,
                  nonref.counter[i], nonref.counter[i - 1]);
    free(clip);
}

FP_TEST(skip_loop_filter_decodes_every_frame_with_other_pixels)
{
    char *clip = fp_media_clip("h264", 320, 240, N_FRAMES, 25, "mp4");
    Decoded ref, fast;
    decode(clip, 0, FP_SKIP_NONE, &ref);
    decode(clip, 1, FP_SKIP_NONE, &fast);
    CHECK_EQ(fast.n, N_FRAMES);
    int differ = 0;
    for (int i = 0; i < N_FRAMES; i++) {
        CHECK_EQ(fast.counter[i], i); /* still every frame, in order, counter readable */
        differ += fast.luma_hash[i] != ref.luma_hash[i];
    }
    CHECK_MSG(differ > 0, "no frame changed: the option did not reach the decoder");
    free(clip);
}
