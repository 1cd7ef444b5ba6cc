// SPDX-License-Identifier: MIT
// Tests of file sources: frames in order with none lost (burned-in counter), pixels equal to the FFmpeg CLI's decode, zero copies, options.
#include "fp_test.h"
#include "fp_test_spawn.h"
#include "media.h"

#include "framepipe/clock.h"
#include "framepipe/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC 1000000000LL

static FpSource *start_source(const FpSourceConfig *cfg, FpPool *pool)
{
    FpSource *s = NULL;
    CHECK_OK(fp_source_open(&s, cfg, pool));
    CHECK_OK(fp_source_start(s));
    return s;
}

/* Reads every frame; checks the counter sequence equals first, first+step, ...; returns the count. */
static int read_counters(FpSource *s, int first, int step, int *last_counter)
{
    int n = 0;
    int64_t last_pts = -1;
    for (;;) {
        FpFrame *f = NULL;
        int rc = fp_source_next(s, &f, 20 * SEC);
        if (rc == FP_EEND_OF_STREAM)
            break;
        CHECK_MSG(rc == 0, "fp_source_next: %s", fp_error_detail(rc));
        int c = fp_media_counter(f);
        CHECK_MSG(c == first + n * step, "frame %d: counter %d, expected %d", n, c, first + n * step);
        CHECK_EQ(f->seq, (uint64_t)n);
        CHECK_MSG(f->pts_ns > last_pts, "pts not increasing at frame %d", n);
        last_pts = f->pts_ns;
        if (last_counter)
            *last_counter = c;
        fp_frame_unref(&f);
        n++;
    }
    return n;
}

FP_TEST(h264_file_frames_in_order_none_lost_zero_copy)
{
    char *clip = fp_media_clip("h264", 320, 240, 60, 25, "mp4");
    FpPool *pool = fp_media_pool(256 * 1024, 48);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.name = "cam-file";
    cfg.camera = 7;
    FpSource *s = start_source(&cfg, pool);
    int64_t wall0 = fp_wall_ns();
    for (int i = 0; i < 60; i++) {
        FpFrame *f = NULL;
        CHECK_OK(fp_source_next(s, &f, 20 * SEC));
        CHECK_EQ(fp_media_counter(f), i);
        CHECK_EQ(f->seq, (uint64_t)i);
        CHECK_EQ(f->camera, 7);
        CHECK_EQ(f->width, 320);
        CHECK_EQ(f->height, 240);
        CHECK_EQ(f->format, FP_PIX_YUV420P);
        CHECK_NEAR(f->pts_ns, i * 40000000LL, 1000000);
        CHECK(f->capture_ns >= wall0 - SEC && f->capture_ns <= fp_wall_ns());
        CHECK(f->buf[0] != NULL);
        /* the planes live inside the pool buffer the decoder wrote into */
        CHECK(f->data[0] >= fp_buffer_data(f->buf[0]) &&
              f->data[2] < fp_buffer_data(f->buf[0]) + fp_buffer_size(f->buf[0]));
        CHECK_EQ(f->linesize[0] % 64, 0);
        fp_frame_unref(&f);
    }
    FpFrame *f = NULL;
    CHECK_EQ(fp_source_next(s, &f, 20 * SEC), FP_EEND_OF_STREAM);
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_EQ(st.state, FP_SOURCE_ENDED);
    CHECK_EQ(st.live, 0);
    CHECK_EQ(st.policy, FP_POLICY_LOSSLESS); /* files default to lossless */
    CHECK_EQ(st.frames, 60);
    CHECK_EQ(st.copies, 0);
    CHECK_EQ(st.decode_errors, 0);
    CHECK(!strcmp(st.decoder, "h264"));
    fp_source_close(&s);
    CHECK(s == NULL);
    FpPoolStats ps;
    fp_pool_get_stats(pool, &ps);
    CHECK_EQ(ps.in_use, 0);
    fp_pool_destroy(&pool);
    free(clip);
}

/* Our decode into pool memory equals `ffmpeg -f rawvideo` of the same file, plane by plane. */
static void compare_with_cli(const char *codec, const char *container, int w, int h, int frames,
                             const char *pix)
{
    char *clip = fp_media_clip(codec, w, h, frames, 25, container);
    char raw[600];
    snprintf(raw, sizeof(raw), "%s/ref.yuv", fp_test_tmpdir());
    const char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-i", clip, "-f", "rawvideo",
                          "-pix_fmt", pix, "-y", raw, NULL};
    CHECK_EQ(fp_test_run(argv, NULL, NULL), 0);
    size_t len = 0;
    unsigned char *ref = fp_media_read_file(raw, &len);
    size_t ysz = (size_t)w * h, csz = (size_t)(w / 2) * (h / 2), fsz = ysz + 2 * csz;
    CHECK_MSG(ref && len == fsz * frames, "reference has %zu bytes, expected %zu", len, fsz * frames);

    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    FpSource *s = start_source(&cfg, NULL);
    for (int i = 0; i < frames; i++) {
        FpFrame *f = NULL;
        CHECK_OK(fp_source_next(s, &f, 20 * SEC));
        CHECK_EQ(f->format, FP_PIX_YUV420P);
        const unsigned char *r = ref + fsz * i;
        for (int y = 0; y < h; y++)
            CHECK_MSG(!memcmp(f->data[0] + (size_t)y * f->linesize[0], r + (size_t)y * w, w),
                      "%s frame %d: luma row %d differs from ffmpeg's", codec, i, y);
        for (int p = 1; p <= 2; p++)
            for (int y = 0; y < h / 2; y++)
                CHECK_MSG(!memcmp(f->data[p] + (size_t)y * f->linesize[p],
                                  r + ysz + (p - 1) * csz + (size_t)y * (w / 2), w / 2),
                          "%s frame %d: chroma plane %d row %d differs", codec, i, p, y);
        fp_frame_unref(&f);
    }
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_EQ(st.copies, 0);
    fp_source_close(&s);
    free(ref);
    free(clip);
}

FP_TEST(h264_pixels_equal_ffmpeg_cli)
{
    compare_with_cli("h264", "mkv", 352, 288, 30, "yuv420p");
}

FP_TEST(hevc_pixels_equal_ffmpeg_cli)
{
    compare_with_cli("hevc", "mp4", 320, 240, 30, "yuv420p");
}

FP_TEST(mjpeg_pixels_equal_ffmpeg_cli)
{
    compare_with_cli("mjpeg", "avi", 320, 240, 30, "yuvj420p");
}

FP_TEST(codecs_containers_sizes_all_frames_in_order)
{
    static const struct {
        const char *codec, *container;
        int w, h;
    } v[] = {
        {"h264", "mkv", 640, 360}, {"h264", "avi", 176, 144}, {"h264", "h264", 320, 240},
        {"hevc", "mkv", 416, 240}, {"mjpeg", "mkv", 320, 180},
    };
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
        char *clip = fp_media_clip(v[k].codec, v[k].w, v[k].h, 40, 25, v[k].container);
        FpSourceConfig cfg;
        fp_source_config_init(&cfg);
        cfg.url = clip;
        FpSource *s = start_source(&cfg, NULL);
        int n = read_counters(s, 0, 1, NULL);
        CHECK_MSG(n == 40, "%s in %s %dx%d: %d frames", v[k].codec, v[k].container, v[k].w, v[k].h, n);
        FpSourceStatus st;
        fp_source_get_status(s, &st);
        CHECK_EQ(st.width, v[k].w);
        CHECK_EQ(st.height, v[k].h);
        CHECK_EQ(st.copies, 0);
        fp_source_close(&s);
        free(clip);
    }
}

/*
 * frames_expected is what the container says, and for these files it equals
 * what the decoder actually delivered: mp4/avi from nb_frames, mkv from
 * duration x frame rate. A raw Annex B stream says nothing (libavformat's
 * bit-rate guess is not a count): 0. Decimation does not change it.
 */
FP_TEST(frames_expected_equals_the_frames_decoded)
{
    static const struct {
        const char *codec, *container;
        int frames;
        int64_t want;
    } v[] = {
        {"h264", "mp4", 47, 47}, {"h264", "mkv", 53, 53}, {"mjpeg", "avi", 31, 31}, {"h264", "h264", 40, 0},
    };
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
        char *clip = fp_media_clip(v[k].codec, 160, 120, v[k].frames, 25, v[k].container);
        FpSourceConfig cfg;
        fp_source_config_init(&cfg);
        cfg.url = clip;
        cfg.every_nth = 2;
        FpSource *s = start_source(&cfg, NULL);
        int n = read_counters(s, 0, 2, NULL);
        CHECK_EQ(n, (v[k].frames + 1) / 2);
        FpSourceStatus st;
        fp_source_get_status(s, &st);
        CHECK_EQ(st.decoded, (uint64_t)v[k].frames);
        CHECK_MSG(st.frames_expected == v[k].want, "%s in %s: frames_expected %lld, decoded %llu",
                  v[k].codec, v[k].container, (long long)st.frames_expected,
                  (unsigned long long)st.decoded);
        fp_source_close(&s);
        free(clip);
    }
}

FP_TEST(every_nth_and_target_fps)
{
    char *clip = fp_media_clip("h264", 320, 240, 60, 25, "mp4");
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.every_nth = 3;
    FpSource *s = start_source(&cfg, NULL);
    CHECK_EQ(read_counters(s, 0, 3, NULL), 20);
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_EQ(st.decoded, 60);
    CHECK_EQ(st.decimated, 40);
    fp_source_close(&s);

    cfg.every_nth = 0;
    cfg.target_fps = 5; /* 25 fps stream: every 5th frame */
    s = start_source(&cfg, NULL);
    CHECK_EQ(read_counters(s, 0, 5, NULL), 12);
    fp_source_close(&s);
    free(clip);
}

FP_TEST(start_and_stop_time)
{
    char *clip = fp_media_clip("h264", 320, 240, 100, 25, "mkv");
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.start_s = 1.0;
    cfg.stop_s = 2.0;
    FpSource *s = start_source(&cfg, NULL);
    int last = -1;
    CHECK_EQ(read_counters(s, 25, 1, &last), 25);
    CHECK_EQ(last, 49);
    fp_source_close(&s);
    free(clip);
}

FP_TEST(loop_restarts_file_with_increasing_pts)
{
    char *clip = fp_media_clip("h264", 320, 240, 30, 25, "mp4");
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.loop = 1;
    FpSource *s = start_source(&cfg, NULL);
    int64_t last = -1;
    for (int i = 0; i < 75; i++) {
        FpFrame *f = NULL;
        CHECK_OK(fp_source_next(s, &f, 20 * SEC));
        CHECK_EQ(fp_media_counter(f), i % 30);
        CHECK_EQ(f->seq, (uint64_t)i);
        CHECK_NEAR(f->pts_ns, i * 40000000LL, 1000000);
        CHECK(f->pts_ns > last);
        last = f->pts_ns;
        fp_frame_unref(&f);
    }
    fp_source_close(&s);
    free(clip);
}

FP_TEST(latest_policy_keeps_newest_and_counts_skipped)
{
    char *clip = fp_media_clip("h264", 320, 240, 60, 25, "mp4");
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.policy = FP_POLICY_LATEST;
    cfg.queue_depth = 2;
    FpSource *s = start_source(&cfg, NULL);
    int got = 0, last = -1;
    for (;;) {
        FpFrame *f = NULL;
        int rc = fp_source_next(s, &f, 20 * SEC);
        if (rc == FP_EEND_OF_STREAM)
            break;
        CHECK_OK(rc);
        int c = fp_media_counter(f);
        CHECK_MSG(c > last, "counter %d after %d: latest must keep order", c, last);
        last = c;
        got++;
        fp_frame_unref(&f);
        fp_sleep_ns(20 * 1000000); /* a slow consumer */
    }
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_EQ(last, 59); /* the newest frame always survives */
    CHECK(st.skipped > 0);
    CHECK_EQ((uint64_t)got + st.skipped, 60);
    fp_source_close(&s);
    free(clip);
}

FP_TEST(frames_outlive_the_source)
{
    char *clip = fp_media_clip("h264", 320, 240, 30, 25, "mp4");
    FpPool *pool = fp_media_pool(256 * 1024, 48);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    FpSource *s = start_source(&cfg, pool);
    FpFrame *held[3];
    for (int i = 0; i < 3; i++)
        CHECK_OK(fp_source_next(s, &held[i], 20 * SEC));
    fp_source_close(&s); /* the thread stops; queued frames are dropped; held frames stay valid */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(fp_media_counter(held[i]), i);
        fp_frame_unref(&held[i]);
    }
    FpPoolStats ps;
    fp_pool_get_stats(pool, &ps);
    CHECK_EQ(ps.in_use, 0);
    fp_pool_destroy(&pool);
    free(clip);
}

FP_TEST(pool_too_small_is_a_clear_error)
{
    char *clip = fp_media_clip("h264", 320, 240, 30, 25, "mp4");
    FpPool *pool = fp_media_pool(4096, 8);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.name = "cam-small-pool";
    FpSource *s = start_source(&cfg, pool);
    FpFrame *f = NULL;
    int rc = fp_source_next(s, &f, 20 * SEC);
    CHECK(rc < 0 && rc != FP_EEND_OF_STREAM && rc != FP_ETIMEOUT);
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_EQ(st.state, FP_SOURCE_FAILED);
    CHECK_MSG(strstr(st.last_error, "cam-small-pool") && strstr(st.last_error, "pool"),
              "last error: %s", st.last_error);
    fp_source_close(&s);
    fp_pool_destroy(&pool);
    free(clip);
}

FP_TEST(config_errors_name_the_field)
{
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    FpSource *s = NULL;
    CHECK_EQ(fp_source_open(&s, &cfg, NULL), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "url"));
    cfg.url = "-";
    CHECK_EQ(fp_source_open(&s, &cfg, NULL), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "raw_width"));
    cfg.url = "clip.mp4";
    cfg.start_s = 3, cfg.stop_s = 2;
    CHECK_EQ(fp_source_open(&s, &cfg, NULL), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "stop_s"));
    cfg.start_s = 0, cfg.stop_s = 0;
    cfg.policy = (FpSourcePolicy)7;
    CHECK_EQ(fp_source_open(&s, &cfg, NULL), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "policy 7"));
    cfg.policy = FP_POLICY_DEFAULT;
    cfg.url = "ring:";
    CHECK_EQ(fp_source_open(&s, &cfg, NULL), FP_ECONFIG);
    CHECK(s == NULL);
}

FP_TEST(status_exported_as_prometheus_metrics)
{
    char *clip = fp_media_clip("h264", 320, 240, 30, 25, "mp4");
    FpMetrics *m = NULL;
    CHECK_OK(fp_metrics_create(&m));
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.name = "cam \"x\"";
    cfg.camera = 3;
    FpSource *s = NULL;
    CHECK_OK(fp_source_open(&s, &cfg, NULL));
    CHECK_OK(fp_source_add_metrics(s, m));
    CHECK_EQ(fp_source_add_metrics(s, m), FP_EINVALID);
    CHECK_OK(fp_source_start(s));
    CHECK_EQ(read_counters(s, 0, 1, NULL), 30);
    char path[600];
    snprintf(path, sizeof(path), "%s/metrics.txt", fp_test_tmpdir());
    FILE *fp = fopen(path, "w");
    CHECK_OK(fp_metrics_write_prometheus(m, fp));
    fclose(fp);
    size_t len;
    char *text = (char *)fp_media_read_file(path, &len);
    text = realloc(text, len + 1);
    text[len] = 0;
    CHECK_MSG(strstr(text, "fp_source_frames{source=\"cam _x_\",camera=\"3\"} 30"), "%s", text);
    CHECK(strstr(text, "fp_source_copies{source=\"cam _x_\",camera=\"3\"} 0"));
    CHECK(strstr(text, "fp_source_state{source=\"cam _x_\",camera=\"3\"} 4"));
    free(text);
    fp_source_close(&s); /* unregisters */
    fp = fopen(path, "w");
    CHECK_OK(fp_metrics_write_prometheus(m, fp));
    fclose(fp);
    text = (char *)fp_media_read_file(path, &len);
    CHECK(text && (len == 0 || !memmem(text, len, "fp_source_frames{", 17)));
    free(text);
    fp_metrics_destroy(&m);
    free(clip);
}

/* Formats framepipe does not keep natively are converted once into pool memory, and counted. */
FP_TEST(non_native_formats_converted_once_and_counted)
{
    char *clip = fp_media_clip("h264", 320, 240, 20, 25, "mp4");
    char out[600];
    snprintf(out, sizeof(out), "%s/yuv422.mkv", fp_test_tmpdir());
    const char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-i", clip, "-c:v", "mjpeg",
                          "-q:v", "2", "-pix_fmt", "yuvj422p", "-y", out, NULL};
    CHECK_EQ(fp_test_run(argv, NULL, NULL), 0);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = out;
    FpSource *s = NULL;
    CHECK_OK(fp_source_open(&s, &cfg, NULL));
    CHECK_OK(fp_source_start(s));
    CHECK_EQ(read_counters(s, 0, 1, NULL), 20);
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_EQ(st.format, FP_PIX_YUV420P);
    CHECK_EQ(st.copies, 20);
    fp_source_close(&s);

    /* rawvideo has no AV_CODEC_CAP_DR1: its pictures are copied once into the pool, and counted */
    char rawmkv[600];
    snprintf(rawmkv, sizeof(rawmkv), "%s/raw.mkv", fp_test_tmpdir());
    const char *mkraw[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-i", clip, "-c:v", "rawvideo",
                           "-pix_fmt", "yuv420p", "-y", rawmkv, NULL};
    CHECK_EQ(fp_test_run(mkraw, NULL, NULL), 0);
    cfg.url = rawmkv;
    CHECK_OK(fp_source_open(&s, &cfg, NULL));
    CHECK_OK(fp_source_start(s));
    CHECK_EQ(read_counters(s, 0, 1, NULL), 20);
    fp_source_get_status(s, &st);
    CHECK(!strcmp(st.decoder, "rawvideo"));
    CHECK_EQ(st.format, FP_PIX_YUV420P);
    CHECK_EQ(st.copies, 20);
    fp_source_close(&s);

    /* an RGBA PNG becomes RGB24; pixels checked against the RGB24 the CLI makes of it */
    char png[600], ref[600];
    snprintf(png, sizeof(png), "%s/rgba.png", fp_test_tmpdir());
    snprintf(ref, sizeof(ref), "%s/rgb.raw", fp_test_tmpdir());
    const char *mk[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc2=size=64x48,format=rgba", "-frames:v", "1", "-y", png, NULL};
    CHECK_EQ(fp_test_run(mk, NULL, NULL), 0);
    const char *dump[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-i", png, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-y", ref, NULL};
    CHECK_EQ(fp_test_run(dump, NULL, NULL), 0);
    size_t len;
    unsigned char *rgb = fp_media_read_file(ref, &len);
    CHECK(rgb && len == 64 * 48 * 3);
    cfg.url = png;
    CHECK_OK(fp_source_open(&s, &cfg, NULL));
    CHECK_OK(fp_source_start(s));
    FpFrame *f = NULL;
    CHECK_OK(fp_source_next(s, &f, 20 * 1000000000LL));
    CHECK_EQ(f->format, FP_PIX_RGB24);
    for (int y = 0; y < 48; y++)
        CHECK_MSG(!memcmp(f->data[0] + y * f->linesize[0], rgb + y * 64 * 3, 64 * 3), "row %d", y);
    fp_frame_unref(&f);
    fp_source_get_status(s, &st);
    CHECK_EQ(st.copies, 1);
    fp_source_close(&s);
    free(rgb);
    free(clip);
}

FP_TEST(loop_between_start_and_stop)
{
    char *clip = fp_media_clip("h264", 320, 240, 60, 25, "mkv");
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.loop = 1;
    cfg.start_s = 0.4;
    cfg.stop_s = 0.8;
    FpSource *s = start_source(&cfg, NULL);
    int64_t last = -1;
    for (int i = 0; i < 35; i++) {
        FpFrame *f = NULL;
        CHECK_OK(fp_source_next(s, &f, 20 * SEC));
        CHECK_EQ(fp_media_counter(f), 10 + i % 10);
        CHECK(f->pts_ns > last);
        last = f->pts_ns;
        fp_frame_unref(&f);
    }
    fp_source_close(&s);
    free(clip);
}
