// SPDX-License-Identifier: MIT
// Live RTSP tests against a real gst-rtsp-server on 127.0.0.1: TCP/UDP, server stop/restart with backoff, stalls, other sources unblocked.
#include "fp_test.h"
#include "fp_test_spawn.h"
#include "media.h"

#include "framepipe/clock.h"
#include "framepipe/ring.h"
#include "framepipe/source.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Under ThreadSanitizer: Debian's libavcodec/libavutil are not instrumented,
 * so their internal atomics (frame-thread progress, AVBuffer refcounts) show
 * up as races between decoder threads. Reports whose stacks run through
 * those libraries are suppressed; framepipe's own code stays checked.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "race:libavcodec.so\nrace:libavutil.so\nrace:libavformat.so\n";
}

#define SEC 1000000000LL
#define MS 1000000LL

static char *server_clip(void)
{
    /* 30 s of 25 fps: outlasts every test; each RTSP client plays it from the start */
    return fp_media_clip("h264", 320, 240, 750, 25, "mp4");
}

static FpSource *open_rtsp(int port, const char *name, FpRtspTransport tr)
{
    char url[128];
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/clip", port);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = url;
    cfg.name = name;
    cfg.rtsp_transport = tr;
    cfg.stall_timeout_ns = 1 * SEC;
    cfg.open_timeout_ns = 2 * SEC;
    cfg.backoff_min_ns = 100 * MS;
    cfg.backoff_max_ns = 800 * MS;
    FpSource *s = NULL;
    CHECK_OK(fp_source_open(&s, &cfg, NULL));
    CHECK_OK(fp_source_start(s));
    return s;
}

static int64_t last_take_pts; /* pts of the last frame take() saw */

/*
 * Takes n frames; checks counters increase; returns the last counter. With
 * `consecutive`, every counter the source did not deliver must be one its
 * latest policy dropped and counted (status.skipped): on a loaded machine the
 * consumer may fall behind a real-time stream, but no frame may go missing
 * in transport or decoding.
 */
static int take(FpSource *s, int n, int consecutive)
{
    int last = -1;
    uint64_t missing = 0;
    for (int i = 0; i < n; i++) {
        FpFrame *f = NULL;
        int rc = fp_source_next(s, &f, 10 * SEC);
        CHECK_MSG(rc == 0, "%s: frame %d: %s", fp_source_name(s), i, fp_error_detail(rc));
        int c = fp_media_counter(f);
        CHECK_MSG(c >= 0, "%s: frame %d has no readable counter", fp_source_name(s), i);
        if (last >= 0 && consecutive) {
            CHECK_MSG(c > last, "%s: counter %d after %d", fp_source_name(s), c, last);
            missing += (uint64_t)(c - last - 1);
            FpSourceStatus st;
            fp_source_get_status(s, &st);
            CHECK_MSG(missing <= st.skipped, "%s: counter %d after %d: %" PRIu64 " frames missing, %" PRIu64
                      " skipped by the latest policy", fp_source_name(s), c, last, missing, st.skipped);
        } else
            CHECK_MSG(c > last, "%s: counter %d after %d", fp_source_name(s), c, last);
        CHECK_EQ(f->format, FP_PIX_YUV420P);
        last = c;
        last_take_pts = f->pts_ns;
        fp_frame_unref(&f);
    }
    return last;
}

FP_TEST_TIMED(rtsp_tcp_and_udp_receive_frames, 90)
{
    char *clip = server_clip();
    int port = fp_test_free_port();
    pid_t srv = fp_media_rtsp_server_start(port, clip);
    FpSource *tcp = open_rtsp(port, "cam-tcp", FP_RTSP_TCP);
    take(tcp, 25, 1);
    FpSourceStatus st;
    fp_source_get_status(tcp, &st);
    CHECK_EQ(st.state, FP_SOURCE_RUNNING);
    CHECK_EQ(st.copies, 0);
    CHECK_EQ(st.width, 320);
    CHECK_EQ(st.live, 1);
    CHECK_EQ(st.policy, FP_POLICY_LATEST); /* live streams default to latest */
    fp_source_close(&tcp);

    FpSource *udp = open_rtsp(port, "cam-udp", FP_RTSP_UDP);
    take(udp, 25, 0);
    fp_source_close(&udp);
    fp_test_stop(srv, 2000);
    free(clip);
}

FP_TEST_TIMED(rtsp_server_restart_reconnects_and_others_keep_flowing, 120)
{
    char *clip = server_clip();
    int pa = fp_test_free_port(), pb = fp_test_free_port();
    pid_t a = fp_media_rtsp_server_start(pa, clip), b = fp_media_rtsp_server_start(pb, clip);
    FpSource *sa = open_rtsp(pa, "cam-a", FP_RTSP_TCP);
    FpSource *sb = open_rtsp(pb, "cam-b", FP_RTSP_TCP);
    take(sa, 10, 0);
    int64_t pts_a = last_take_pts;
    take(sb, 10, 0);
    last_take_pts = pts_a;

    kill(a, SIGKILL); /* the server goes away at once */
    CHECK_EQ(fp_test_wait_exit(a, 5000), 128 + SIGKILL);
    int64_t t0 = fp_clock_ns(), last_b = fp_clock_ns(), max_gap = 0;
    int frames_b = 0;
    FpSourceStatus st;
    /* while A is down (about 3 s): B keeps delivering, A reconnects with backoff */
    while (fp_clock_ns() - t0 < 3 * SEC) {
        FpFrame *f = NULL;
        int rc = fp_source_next(sb, &f, 50 * MS);
        if (rc == 0) {
            int64_t now = fp_clock_ns();
            if (now - last_b > max_gap)
                max_gap = now - last_b;
            last_b = now;
            frames_b++;
            fp_frame_unref(&f);
        }
        while (fp_source_next(sa, &f, 0) == 0) { /* frames decoded before the cut */
            last_take_pts = f->pts_ns;
            fp_frame_unref(&f);
        }
    }
    fp_source_get_status(sa, &st);
    CHECK_MSG(st.reconnects >= 2, "cam-a: %llu reconnects", (unsigned long long)st.reconnects);
    CHECK(st.state == FP_SOURCE_RECONNECTING || st.state == FP_SOURCE_OPENING);
    CHECK_MSG(strstr(st.last_error, "cam-a"), "last error: %s", st.last_error);
    CHECK_MSG(frames_b >= 50, "cam-b delivered only %d frames in 3 s", frames_b);
    CHECK_MSG(max_gap < 500 * MS, "cam-b stalled for %.0f ms", max_gap / 1e6);
    uint64_t reconnects = st.reconnects;

    /* restart A on the same port: frames flow again within a few seconds */
    FpFrame *f = NULL;
    int64_t last_pts = last_take_pts;
    CHECK(last_pts > 0);
    while (fp_source_next(sa, &f, 0) == 0) {
        last_pts = f->pts_ns;
        fp_frame_unref(&f);
    }
    a = fp_media_rtsp_server_start(pa, clip);
    int64_t t1 = fp_clock_ns();
    CHECK_OK(fp_source_next(sa, &f, 10 * SEC));
    CHECK_MSG(f->pts_ns > last_pts, "pts went back after the reconnect: %lld after %lld",
              (long long)f->pts_ns, (long long)last_pts);
    fp_frame_unref(&f);
    take(sa, 5, 0);
    CHECK_MSG(fp_clock_ns() - t1 < 5 * SEC, "cam-a took %.1f s to recover",
              (fp_clock_ns() - t1) / 1e9);
    fp_source_get_status(sa, &st);
    CHECK_EQ(st.state, FP_SOURCE_RUNNING);
    CHECK(st.reconnects >= reconnects);
    fp_source_close(&sa);
    fp_source_close(&sb);
    fp_test_stop(a, 2000);
    fp_test_stop(b, 2000);
    free(clip);
}
/*
 * Stops the server process (SIGSTOP: its connections stay open, nothing
 * arrives) and consumes s until it reconnects or 10 s pass; *st is the
 * status then. The caller resumes the server with SIGCONT.
 */
static void hang_server_until_reconnect(pid_t srv, FpSource *s, FpSourceStatus *st)
{
    kill(srv, SIGSTOP);
    int64_t t0 = fp_clock_ns();
    do {
        FpFrame *f = NULL;
        if (fp_source_next(s, &f, 50 * MS) == 0)
            fp_frame_unref(&f);
        fp_source_get_status(s, st);
    } while (st->reconnects < 1 && fp_clock_ns() - t0 < 10 * SEC);
}

FP_TEST_TIMED(rtsp_stalled_server_detected_and_recovered, 120)
{
    char *clip = server_clip();
    int port = fp_test_free_port();
    pid_t srv = fp_media_rtsp_server_start(port, clip);
    FpSource *s = open_rtsp(port, "cam-stall", FP_RTSP_TCP);
    take(s, 10, 0);
    FpSourceStatus st;
    hang_server_until_reconnect(srv, s, &st);
    CHECK_MSG(st.reconnects >= 1, "a stalled stream was not noticed in 10 s");
    CHECK_MSG(strstr(st.last_error, "cam-stall") &&
                  (strstr(st.last_error, "stalled") || strstr(st.last_error, "no answer") ||
                   strstr(st.last_error, "timed out") || strstr(st.last_error, "ended")),
              "last error: %s", st.last_error);
    kill(srv, SIGCONT);
    take(s, 5, 0);
    fp_source_close(&s);
    fp_test_stop(srv, 2000);
    free(clip);
}

/* ---- FpRing written by another process ---- */

static void ring_writer(const char *name, int frames, int delay_ms)
{
    FpRingConfig rc = {.slot_count = 8, .width = 320, .height = 240, .format = FP_PIX_GRAY8};
    FpRing *w = NULL;
    if (fp_ring_create(&w, name, &rc) < 0)
        _exit(3);
    fp_sleep_ns(delay_ms * MS); /* let the reader attach */
    static uint8_t img[320 * 240];
    for (int n = 0; n < frames; n++) {
        memset(img, 128, sizeof(img));
        for (int k = 0; k < 20; k++)
            for (int y = 0; y < 16; y++)
                memset(img + y * 320 + 16 * k, (n >> k) & 1 ? 255 : 0, 16);
        if (fp_ring_write(w, img, sizeof(img), n * 40 * MS, (uint64_t)n, 10 * SEC) < 0)
            _exit(4);
    }
    fp_sleep_ns(200 * MS);
    fp_ring_destroy(&w);
    _exit(0);
}

FP_TEST_TIMED(ring_source_lossless_from_another_process, 60)
{
    char name[64];
    snprintf(name, sizeof(name), "/fp-test-ingest-%d", (int)getpid());
    char url[80];
    snprintf(url, sizeof(url), "ring:%s", name);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = url;
    cfg.name = "cam-ring";
    cfg.policy = FP_POLICY_LOSSLESS;
    cfg.backoff_min_ns = 20 * MS;
    cfg.backoff_max_ns = 100 * MS;
    FpSource *s = NULL;
    CHECK_OK(fp_source_open(&s, &cfg, NULL));
    CHECK_OK(fp_source_start(s)); /* no ring yet: the source retries */
    fp_sleep_ns(150 * MS);
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK(st.reconnects >= 1);
    CHECK_EQ(st.last_error_code, -ENOENT);

    pid_t pid = fork();
    if (pid == 0)
        ring_writer(name, 100, 1000);
    for (int i = 0; i < 100; i++) {
        FpFrame *f = NULL;
        int rc = fp_source_next(s, &f, 10 * SEC);
        CHECK_MSG(rc == 0, "frame %d: %s", i, fp_error_detail(rc));
        CHECK_EQ(fp_media_counter(f), i);
        CHECK_EQ(f->format, FP_PIX_GRAY8);
        CHECK_EQ(f->width, 320);
        CHECK_EQ(f->pts_ns, i * 40 * MS);
        CHECK_EQ(f->data[0][200 * f->linesize[0] + 100], 128);
        CHECK(f->data[0] >= fp_buffer_data(f->buf[0]));
        fp_frame_unref(&f);
    }
    int wst = 0;
    waitpid(pid, &wst, 0);
    CHECK_MSG(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "writer exit %d", WEXITSTATUS(wst));
    int64_t t0 = fp_clock_ns();
    do {
        fp_sleep_ns(20 * MS);
        fp_source_get_status(s, &st);
    } while (st.state == FP_SOURCE_RUNNING && fp_clock_ns() - t0 < 5 * SEC);
    CHECK_EQ(st.frames, 100);
    CHECK_EQ(st.copies, 100); /* a ring slot is copied once into the pool, and counted */
    CHECK(st.state == FP_SOURCE_RECONNECTING || st.state == FP_SOURCE_OPENING);
    fp_source_close(&s);
}

/* Several sources decode at once into one shared pool (frame threads in each); one consumer. */
FP_TEST_TIMED(many_sources_share_one_pool, 120)
{
    enum { N = 4, FRAMES = 60 };
    const char *codecs[N] = {"h264", "hevc", "mjpeg", "h264"};
    const char *containers[N] = {"mp4", "mkv", "avi", "mkv"};
    char *clips[N];
    FpSource *s[N];
    FpPool *pool = fp_media_pool(256 * 1024, 4 * 48);
    for (int i = 0; i < N; i++) {
        clips[i] = fp_media_clip(codecs[i], 320, 240, FRAMES, 25, containers[i]);
        FpSourceConfig cfg;
        fp_source_config_init(&cfg);
        cfg.url = clips[i];
        cfg.camera = i;
        cfg.decoder_threads = 2;
        CHECK_OK(fp_source_open(&s[i], &cfg, pool));
        CHECK_OK(fp_source_start(s[i]));
    }
    int next[N] = {0}, done = 0;
    while (done < N) {
        for (int i = 0; i < N; i++) {
            if (next[i] < 0)
                continue;
            FpFrame *f = NULL;
            int rc = fp_source_next(s[i], &f, 10 * MS);
            if (rc == FP_ETIMEOUT)
                continue;
            if (rc == FP_EEND_OF_STREAM) {
                CHECK_EQ(next[i], FRAMES);
                next[i] = -1;
                done++;
                continue;
            }
            CHECK_OK(rc);
            CHECK_EQ(f->camera, i);
            CHECK_EQ(fp_media_counter(f), next[i]);
            next[i]++;
            fp_frame_unref(&f);
        }
    }
    for (int i = 0; i < N; i++) {
        FpSourceStatus st;
        fp_source_get_status(s[i], &st);
        CHECK_EQ(st.copies, 0);
        fp_source_close(&s[i]);
        free(clips[i]);
    }
    FpPoolStats ps;
    fp_pool_get_stats(pool, &ps);
    CHECK_EQ(ps.in_use, 0);
    fp_pool_destroy(&pool);
}

/* Over UDP nothing closes when a server hangs: the stall timeout notices that no packet arrives. */
FP_TEST_TIMED(rtsp_udp_stall_noticed_and_recovered, 90)
{
    char *clip = server_clip();
    int port = fp_test_free_port();
    pid_t srv = fp_media_rtsp_server_start(port, clip);
    FpSource *s = open_rtsp(port, "cam-udp", FP_RTSP_UDP);
    take(s, 5, 0);
    FpSourceStatus st;
    hang_server_until_reconnect(srv, s, &st);
    CHECK_MSG(st.reconnects >= 1, "the stalled UDP stream was not noticed in 10 s");
    CHECK_MSG(strstr(st.last_error, "cam-udp") && strstr(st.last_error, "stalled"),
              "last error: %s", st.last_error);
    kill(srv, SIGCONT);
    take(s, 5, 0);
    fp_source_close(&s);
    fp_test_stop(srv, 2000);
    free(clip);
}

/* Shutdown: a consumer blocked in fp_source_next() wakes with FP_EFLUSHING when another thread closes. */
static void *blocked_consumer(void *arg)
{
    FpSource *s = arg;
    FpFrame *f = NULL;
    int rc;
    while ((rc = fp_source_next(s, &f, -1)) == 0)
        fp_frame_unref(&f);
    return (void *)(intptr_t)rc;
}

FP_TEST_TIMED(close_wakes_a_blocked_consumer, 60)
{
    int port = fp_test_free_port(); /* nobody listens: the source never yields a frame */
    char url[128];
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/none", port);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = url;
    FpSource *s = NULL;
    CHECK_OK(fp_source_open(&s, &cfg, NULL));
    CHECK_OK(fp_source_start(s));
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, blocked_consumer, s), 0);
    fp_sleep_ns(200 * MS);
    fp_source_close(&s);
    void *ret = NULL;
    pthread_join(t, &ret);
    CHECK_EQ((int)(intptr_t)ret, FP_EFLUSHING);
}

/* Live default policy: a slow consumer gets the newest frames; the ones in between are counted. */
FP_TEST_TIMED(rtsp_latest_policy_with_a_slow_consumer, 90)
{
    char *clip = server_clip();
    int port = fp_test_free_port();
    pid_t srv = fp_media_rtsp_server_start(port, clip);
    FpSource *s = open_rtsp(port, "cam-slow", FP_RTSP_TCP);
    take(s, 3, 0);
    int last = -1;
    int64_t max_age = 0;
    for (int i = 0; i < 8; i++) {
        fp_sleep_ns(250 * MS); /* 4 frames/s against a 25 fps camera */
        FpFrame *f = NULL;
        CHECK_OK(fp_source_next(s, &f, 5 * SEC));
        int c = fp_media_counter(f);
        CHECK_MSG(c > last, "counter %d after %d", c, last);
        last = c;
        /* the latest queue (2 frames) holds at most ~80 ms of a 25 fps stream */
        int64_t age = fp_clock_ns() - f->decoded_ns;
        if (i > 0 && age > max_age)
            max_age = age;
        fp_frame_unref(&f);
    }
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_MSG(st.skipped > 20, "only %llu frames skipped", (unsigned long long)st.skipped);
    CHECK_MSG(max_age < 250 * MS, "a frame was %.0f ms old when taken", max_age / 1e6);
    fp_source_close(&s);
    fp_test_stop(srv, 2000);
    free(clip);
}
