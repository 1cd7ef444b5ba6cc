// SPDX-License-Identifier: MIT
// Tests of bad inputs (not video, missing, truncated, corrupt, resolution change, refused URL) and of the images, raw and HLS sources.
#include "fp_test.h"
#include "fp_test_spawn.h"
#include "media.h"

#include "framepipe/clock.h"
#include "framepipe/source.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEC 1000000000LL

static FpSource *start_source(const FpSourceConfig *cfg)
{
    FpSource *s = NULL;
    CHECK_OK(fp_source_open(&s, cfg, NULL));
    CHECK_OK(fp_source_start(s));
    return s;
}

/* Drains a source; returns the number of frames; *end gets the final code. */
static int drain(FpSource *s, int *end, int *counters, int max)
{
    int n = 0;
    for (;;) {
        FpFrame *f = NULL;
        int rc = fp_source_next(s, &f, 20 * SEC);
        if (rc < 0) {
            *end = rc;
            return n;
        }
        if (counters && n < max)
            counters[n] = fp_media_counter(f);
        n++;
        fp_frame_unref(&f);
    }
}

/*
 * Starts `server` (quiet, in dir) and waits until it listens on
 * 127.0.0.1:port, reads the clip at url from it (every frame, in order,
 * then the end of the stream), and stops it.
 */
static void expect_whole_clip_from(const char *const server[], const char *dir, int port, const char *url,
                                   const char *name, int frames)
{
    FpTestSpawnOptions quiet = {.stdin_path = "/dev/null", .stdout_path = "/dev/null",
                                .stderr_path = "/dev/null", .cwd = dir};
    pid_t srv = fp_test_spawn(server, &quiet);
    int rc = fp_test_wait_port(srv, port, 10000);
    CHECK_MSG(rc == 0, "%s did not listen on 127.0.0.1:%d: %s", server[0], port, fp_error_detail(rc));
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = url;
    cfg.live = FP_LIVE_NO; /* a file or a VOD playlist: read it all, losslessly */
    cfg.name = name;
    int counters[100], end = 0;
    FpSource *s = start_source(&cfg);
    int n = drain(s, &end, counters, 100);
    fp_source_close(&s);
    CHECK_MSG(end == FP_EEND_OF_STREAM, "end %d: %s", end, fp_error_detail(end));
    CHECK_EQ(n, frames);
    for (int i = 0; i < n && i < 100; i++)
        CHECK_EQ(counters[i], i);
    fp_test_stop(srv, 2000);
}

static char *copy_prefix(const char *src, const char *name, double fraction)
{
    size_t len;
    unsigned char *d = fp_media_read_file(src, &len);
    CHECK(d);
    char *dst = malloc(600);
    snprintf(dst, 600, "%s/%s", fp_test_tmpdir(), name);
    CHECK_EQ(fp_media_write_file(dst, d, (size_t)(len * fraction)), 0);
    free(d);
    return dst;
}

FP_TEST(not_a_video_file_fails_clearly)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/notes.mp4", fp_test_tmpdir());
    const char *text = "this is a text file, not a video\n";
    CHECK_EQ(fp_media_write_file(path, text, strlen(text)), 0);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = path;
    cfg.name = "cam-text";
    FpSource *s = start_source(&cfg);
    int end = 0;
    CHECK_EQ(drain(s, &end, NULL, 0), 0);
    CHECK_EQ(end, FP_ECORRUPT);
    CHECK_MSG(strstr(fp_error_detail(end), "cam-text"), "detail: %s", fp_error_detail(end));
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_EQ(st.state, FP_SOURCE_FAILED);
    CHECK(strstr(st.last_error, path));
    fp_source_close(&s);

    /* an audio-only file: no video stream */
    snprintf(path, sizeof(path), "%s/tone.wav", fp_test_tmpdir());
    const char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                          "sine=frequency=440:duration=0.5", "-y", path, NULL};
    CHECK_EQ(fp_test_run(argv, NULL, NULL), 0);
    cfg.url = path;
    s = start_source(&cfg);
    CHECK_EQ(drain(s, &end, NULL, 0), 0);
    CHECK_EQ(end, FP_EUNSUPPORTED);
    CHECK_MSG(strstr(fp_error_detail(end), "no video stream"), "detail: %s", fp_error_detail(end));
    fp_source_close(&s);

    cfg.url = "/nonexistent/clip.mp4";
    s = start_source(&cfg);
    CHECK_EQ(drain(s, &end, NULL, 0), 0);
    CHECK_EQ(end, -ENOENT);
    fp_source_close(&s);
}

FP_TEST(truncated_files_end_early_in_order)
{
    /* moov at the end, cut in half: the index is gone, the open fails with a message */
    char *clip = fp_media_clip("h264", 320, 240, 60, 25, "mp4");
    char *cut = copy_prefix(clip, "cut.mp4", 0.5);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = cut;
    cfg.name = "cam-cut";
    FpSource *s = start_source(&cfg);
    int end = 0;
    CHECK_EQ(drain(s, &end, NULL, 0), 0);
    CHECK_EQ(end, FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(end), "cam-cut"));
    fp_source_close(&s);
    free(cut);
    free(clip);

    /* faststart MP4 and Matroska cut at 60%: the frames that are there, in order, then the end */
    const char *containers[] = {"mp4f", "mkv"};
    for (int k = 0; k < 2; k++) {
        clip = fp_media_clip("h264", 320, 240, 60, 25, containers[k]);
        cut = copy_prefix(clip, k ? "cut.mkv" : "cutfs.mp4", 0.6);
        cfg.url = cut;
        s = start_source(&cfg);
        int counters[60];
        int n = drain(s, &end, counters, 60);
        CHECK_EQ(end, FP_EEND_OF_STREAM);
        CHECK_MSG(n > 10 && n < 60, "%s: %d frames from a 60%% file", containers[k], n);
        for (int i = 0; i < n; i++)
            CHECK_EQ(counters[i], i);
        FpSourceStatus st;
        fp_source_get_status(s, &st);
        CHECK_EQ(st.state, FP_SOURCE_ENDED);
        if (k == 0)
            CHECK_MSG(strstr(st.last_error, "truncated") && strstr(st.last_error, "cam-cut"),
                      "last error: %s", st.last_error);
        fp_source_close(&s);
        free(cut);
        free(clip);
    }
}

FP_TEST(corrupt_h264_bitstream_keeps_going)
{
    char *clip = fp_media_clip("h264", 320, 240, 120, 25, "h264");
    size_t len;
    unsigned char *d = fp_media_read_file(clip, &len);
    CHECK(d);
    /* flip bytes in the middle of the stream (a broken network or disk) */
    for (size_t i = len / 2; i < len / 2 + 2000 && i < len; i += 7)
        d[i] ^= 0x5a;
    char path[600];
    snprintf(path, sizeof(path), "%s/corrupt.h264", fp_test_tmpdir());
    CHECK_EQ(fp_media_write_file(path, d, len), 0);
    free(d);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = path;
    cfg.name = "cam-corrupt";
    FpSource *s = start_source(&cfg);
    int counters[200], end = 0;
    int n = drain(s, &end, counters, 200);
    CHECK_EQ(end, FP_EEND_OF_STREAM);
    CHECK_MSG(n >= 100, "only %d of 120 frames survived", n);
    int last = -1, readable = 0;
    for (int i = 0; i < n && i < 200; i++) {
        if (counters[i] < 0)
            continue;
        /* concealment may repeat a picture's content, never go back in time */
        CHECK_MSG(counters[i] >= last, "frame %d: counter %d after %d", i, counters[i], last);
        readable += counters[i] > last;
        last = counters[i];
    }
    CHECK(readable >= 90);
    CHECK_EQ(last, 119); /* frames after the damage decode again */
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_MSG(st.decode_errors > 0, "the damage was not noticed");
    CHECK(strstr(st.last_error, "cam-corrupt") && strstr(st.last_error, "corrupt"));
    fp_source_close(&s);
    free(clip);
}

FP_TEST(resolution_change_mid_stream)
{
    char *path = fp_media_switch_clip(320, 240, 30, 640, 480, 30, "switch.h264");

    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = path;
    FpSource *s = start_source(&cfg);
    for (int i = 0; i < 60; i++) {
        FpFrame *f = NULL;
        CHECK_OK(fp_source_next(s, &f, 20 * SEC));
        CHECK_EQ(f->width, i < 30 ? 320 : 640);
        CHECK_EQ(f->height, i < 30 ? 240 : 480);
        CHECK_EQ(fp_media_counter(f), i % 30);
        fp_frame_unref(&f);
    }
    FpFrame *f = NULL;
    CHECK_EQ(fp_source_next(s, &f, 20 * SEC), FP_EEND_OF_STREAM);
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_EQ(st.resolution_changes, 1);
    fp_source_close(&s);
    free(path);
}

FP_TEST(refused_url_reconnects_with_backoff_and_blocks_nobody)
{
    int port = fp_test_free_port();
    char url[128];
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/nothing", port);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = url;
    cfg.name = "cam-refused";
    cfg.backoff_min_ns = 50 * 1000000LL;
    cfg.backoff_max_ns = 200 * 1000000LL;
    FpSource *live = start_source(&cfg);

    char *clip = fp_media_clip("h264", 320, 240, 60, 25, "mp4");
    FpSourceConfig fc;
    fp_source_config_init(&fc);
    fc.url = clip;
    FpSource *file = start_source(&fc);
    int end = 0;
    CHECK_EQ(drain(file, &end, NULL, 0), 60); /* not held up by the dead camera */
    CHECK_EQ(end, FP_EEND_OF_STREAM);
    fp_source_close(&file);

    int64_t t0 = fp_clock_ns();
    FpSourceStatus st;
    do {
        fp_sleep_ns(50 * 1000000LL);
        fp_source_get_status(live, &st);
    } while (st.reconnects < 4 && fp_clock_ns() - t0 < 10 * SEC);
    CHECK_MSG(st.reconnects >= 4, "only %llu reconnects", (unsigned long long)st.reconnects);
    CHECK(st.state == FP_SOURCE_RECONNECTING || st.state == FP_SOURCE_OPENING);
    CHECK_MSG(strstr(st.last_error, "cam-refused") && strstr(st.last_error, "refused"),
              "last error: %s", st.last_error);
    CHECK_EQ(st.last_error_code, -ECONNREFUSED);
    FpFrame *f = NULL;
    CHECK_EQ(fp_source_next(live, &f, 100 * 1000000LL), FP_ETIMEOUT); /* live: never "ended" */
    int64_t c0 = fp_clock_ns();
    fp_source_close(&live);
    CHECK(fp_clock_ns() - c0 < 2 * SEC); /* close interrupts the backoff wait */
    free(clip);
}

/* ---- images ---- */

static const char *const samples = "/usr/share/doc/opencv-doc/examples/data";

static void link_sample(const char *dir, const char *name, const char *as)
{
    char from[700], to[1300];
    snprintf(from, sizeof(from), "%s/%s", samples, name);
    snprintf(to, sizeof(to), "%s/%s", dir, as);
    CHECK_MSG(symlink(from, to) == 0, "symlink %s", from);
}

FP_TEST(image_folder_sorted_bad_file_skipped)
{
    char probe[600];
    snprintf(probe, sizeof(probe), "%s/baboon.jpg", samples);
    if (access(probe, R_OK) != 0)
        fp_test_skip("opencv-doc samples are not installed");
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/imgs", fp_test_tmpdir());
    CHECK_EQ(mkdir(dir, 0755), 0);
    link_sample(dir, "baboon.jpg", "a.jpg");
    link_sample(dir, "fruits.jpg", "b.jpg");
    link_sample(dir, "chessboard.png", "d.png");
    char bad[700];
    snprintf(bad, sizeof(bad), "%s/c.jpg", dir);
    CHECK_EQ(fp_media_write_file(bad, "not a jpeg", 10), 0);
    char ignored[700];
    snprintf(ignored, sizeof(ignored), "%s/readme.txt", dir);
    CHECK_EQ(fp_media_write_file(ignored, "hello", 5), 0);

    /* sizes from OpenCV, an independent decoder */
    char sizes[700];
    snprintf(sizes, sizeof(sizes), "%s/sizes.txt", fp_test_tmpdir());
    char script[1200];
    snprintf(script, sizeof(script),
             "import cv2\nfor n in ['a.jpg','b.jpg','d.png']:\n"
             "    im=cv2.imread('%s/'+n, cv2.IMREAD_UNCHANGED)\n    print(im.shape[1], im.shape[0])\n",
             dir);
    const char *argv[] = {"/usr/bin/python3", "-c", script, NULL};
    if (fp_test_run(argv, sizes, NULL) != 0)
        fp_test_skip("python3-opencv is not available");
    FILE *fp = fopen(sizes, "r");
    int w[3], h[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(fscanf(fp, "%d %d", &w[i], &h[i]), 2);
    fclose(fp);

    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = dir;
    cfg.name = "cam-images";
    FpSource *s = start_source(&cfg);
    for (int i = 0; i < 3; i++) {
        FpFrame *f = NULL;
        CHECK_OK(fp_source_next(s, &f, 20 * SEC));
        CHECK_EQ(f->width, w[i]);
        CHECK_EQ(f->height, h[i]);
        CHECK_EQ(f->seq, (uint64_t)i);
        CHECK_EQ(f->pts_ns, (i < 2 ? i : 2) * SEC); /* 1 image per second; the bad one has no slot */
        fp_frame_unref(&f);
    }
    FpFrame *f = NULL;
    CHECK_EQ(fp_source_next(s, &f, 20 * SEC), FP_EEND_OF_STREAM);
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK(st.decode_errors >= 1); /* the bad file (libavcodec may report it more than once) */
    CHECK_EQ(st.frames, 3);
    CHECK_EQ(st.frames_expected, 4); /* the image files listed, the bad one included; not readme.txt */
    CHECK_MSG(strstr(st.last_error, "c.jpg"), "last error: %s", st.last_error);
    fp_source_close(&s);
}

FP_TEST(png_pixels_equal_opencv)
{
    char png[600];
    snprintf(png, sizeof(png), "%s/%s", samples, "basketball1.png");
    if (access(png, R_OK) != 0)
        fp_test_skip("opencv-doc samples are not installed");
    char raw[600];
    snprintf(raw, sizeof(raw), "%s/ref.raw", fp_test_tmpdir());
    char script[1200];
    snprintf(script, sizeof(script),
             "import cv2,sys\nim=cv2.imread('%s', cv2.IMREAD_UNCHANGED)\n"
             "if im.ndim==3: im=cv2.cvtColor(im, cv2.COLOR_BGR2RGB)\n"
             "sys.stdout.buffer.write(im.tobytes())\n",
             png);
    const char *argv[] = {"/usr/bin/python3", "-c", script, NULL};
    if (fp_test_run(argv, raw, NULL) != 0)
        fp_test_skip("python3-opencv is not available");
    size_t len;
    unsigned char *ref = fp_media_read_file(raw, &len);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = png;
    FpSource *s = start_source(&cfg);
    FpFrame *f = NULL;
    CHECK_OK(fp_source_next(s, &f, 20 * SEC));
    int bpp = f->format == FP_PIX_RGB24 ? 3 : 1;
    CHECK(f->format == FP_PIX_RGB24 || f->format == FP_PIX_GRAY8);
    CHECK_EQ(len, (size_t)f->width * f->height * bpp);
    for (int y = 0; y < f->height; y++)
        CHECK_MSG(!memcmp(f->data[0] + (size_t)y * f->linesize[0], ref + (size_t)y * f->width * bpp,
                          (size_t)f->width * bpp),
                  "row %d differs from OpenCV", y);
    fp_frame_unref(&f);
    CHECK_EQ(fp_source_next(s, &f, 20 * SEC), FP_EEND_OF_STREAM);
    fp_source_close(&s);
    free(ref);
}

/* ---- raw ---- */

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k <= 0)
            return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

FP_TEST(raw_frames_from_stdin_and_truncated_tail)
{
    char *clip = fp_media_clip("h264", 320, 240, 30, 25, "mp4");
    char raw[600];
    snprintf(raw, sizeof(raw), "%s/clip.yuv", fp_test_tmpdir());
    const char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-i", clip, "-f", "rawvideo",
                          "-pix_fmt", "yuv420p", "-y", raw, NULL};
    CHECK_EQ(fp_test_run(argv, NULL, NULL), 0);
    size_t len;
    unsigned char *ref = fp_media_read_file(raw, &len);
    const size_t fsz = 320 * 240 * 3 / 2;
    CHECK_EQ(len, 30 * fsz);

    /* a writer process feeds a pipe on our stdin, plus half a frame at the end */
    int p[2];
    CHECK_EQ(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (write_all(p[1], ref, len) < 0 || write_all(p[1], ref, fsz / 2) < 0)
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    CHECK(dup2(p[0], 0) == 0);
    close(p[0]);

    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = "-";
    cfg.name = "cam-stdin";
    cfg.raw_width = 320;
    cfg.raw_height = 240;
    cfg.raw_format = FP_PIX_YUV420P;
    FpSource *s = start_source(&cfg);
    for (int i = 0; i < 30; i++) {
        FpFrame *f = NULL;
        CHECK_OK(fp_source_next(s, &f, 20 * SEC));
        CHECK_EQ(fp_media_counter(f), i);
        CHECK_EQ(f->pts_ns, i * 40000000LL);
        CHECK(!memcmp(f->data[0], ref + i * fsz, fsz)); /* tightly packed, as rawvideo */
        CHECK(f->data[0] >= fp_buffer_data(f->buf[0]));
        fp_frame_unref(&f);
    }
    FpFrame *f = NULL;
    CHECK_EQ(fp_source_next(s, &f, 20 * SEC), FP_EEND_OF_STREAM);
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    CHECK_EQ(st.copies, 0);
    CHECK_MSG(strstr(st.last_error, "cam-stdin") && strstr(st.last_error, "ended inside frame 30"),
              "last error: %s", st.last_error);
    fp_source_close(&s);
    waitpid(pid, NULL, 0);
    free(ref);
    free(clip);
}

/* ---- HLS over HTTP, served by a real HTTP server on 127.0.0.1 ---- */

FP_TEST_TIMED(hls_over_http_all_frames, 90)
{
    char *clip = fp_media_clip("h264", 320, 240, 75, 25, "mp4");
    char m3u8[600], seg[600];
    snprintf(m3u8, sizeof(m3u8), "%s/index.m3u8", fp_test_tmpdir());
    snprintf(seg, sizeof(seg), "%s/seg%%03d.ts", fp_test_tmpdir());
    const char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-i", clip, "-c", "copy",
                          "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
                          "-hls_playlist_type", "vod", "-hls_segment_filename", seg, "-y", m3u8, NULL};
    CHECK_EQ(fp_test_run(argv, NULL, NULL), 0);
    int port = fp_test_free_port();
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    const char *http[] = {"/usr/bin/python3", "-m", "http.server", ports, "--bind", "127.0.0.1",
                          "--directory", fp_test_tmpdir(), NULL};
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/index.m3u8", port);
    expect_whole_clip_from(http, fp_test_tmpdir(), port, url, "cam-hls", 75);
    free(clip);
}

/* ---- hardware decoding: used when present, else a clear log line and software ---- */

FP_TEST(hw_decode_request_falls_back_to_software)
{
    char *clip = fp_media_clip("h264", 320, 240, 30, 25, "mp4");
    char logpath[600];
    snprintf(logpath, sizeof(logpath), "%s/stderr.log", fp_test_tmpdir());
    fflush(stderr);
    int saved = dup(2);
    int lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(saved >= 0 && lfd >= 0);
    dup2(lfd, 2);
    close(lfd);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.name = "cam-hw";
    cfg.hw = FP_HW_CUDA;
    FpSource *s = start_source(&cfg);
    int counters[40], end = 0;
    int n = drain(s, &end, counters, 40);
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    fp_source_close(&s);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    CHECK_EQ(end, FP_EEND_OF_STREAM);
    CHECK_EQ(n, 30);
    for (int i = 0; i < n; i++)
        CHECK_EQ(counters[i], i);
    size_t len = 0;
    char *log = (char *)fp_media_read_file(logpath, &len);
    CHECK(log);
    log = realloc(log, len + 1);
    log[len] = 0;
    if (st.hw_active) {
        CHECK_EQ(st.copies, 30); /* each surface downloaded into the pool, counted */
        CHECK(strstr(log, "cam-hw: hardware decoding with cuda"));
    } else {
        CHECK_EQ(st.copies, 0);
        CHECK_MSG(strstr(log, "cam-hw: hardware decoding (cuda) is not available here; using software"),
                  "log: %s", log);
    }
    free(log);
    free(clip);
}

FP_TEST(missing_v4l2_device_retries_with_clear_error)
{
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = "/dev/video97";
    cfg.name = "cam-usb";
    cfg.backoff_min_ns = 20 * 1000000LL;
    cfg.backoff_max_ns = 50 * 1000000LL;
    FpSource *s = start_source(&cfg);
    FpSourceStatus st;
    int64_t t0 = fp_clock_ns();
    do {
        fp_sleep_ns(20 * 1000000LL);
        fp_source_get_status(s, &st);
    } while (st.reconnects < 2 && fp_clock_ns() - t0 < 5 * SEC);
    CHECK(st.reconnects >= 2);
    CHECK_EQ(st.last_error_code, -ENOENT);
    CHECK_MSG(strstr(st.last_error, "cam-usb") && strstr(st.last_error, "/dev/video97"),
              "last error: %s", st.last_error);
    fp_source_close(&s);
}

/* ---- Debian's opencv-doc sample videos: frame count and size agree with OpenCV ---- */

FP_TEST(opencv_sample_videos_match_opencv_counts)
{
    const char *names[] = {"vtest.avi", "Megamind.avi"};
    for (int k = 0; k < 2; k++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", samples, names[k]);
        if (access(path, R_OK) != 0)
            fp_test_skip("opencv-doc samples are not installed");
        char out[600], script[1200];
        snprintf(out, sizeof(out), "%s/count.txt", fp_test_tmpdir());
        snprintf(script, sizeof(script),
                 "import cv2\ncap=cv2.VideoCapture('%s')\nn=0\nw=h=0\n"
                 "while True:\n    ok,im=cap.read()\n    if not ok: break\n"
                 "    n+=1\n    h,w=im.shape[:2]\nprint(n,w,h)\n",
                 path);
        const char *argv[] = {"/usr/bin/python3", "-c", script, NULL};
        if (fp_test_run(argv, out, NULL) != 0)
            fp_test_skip("python3-opencv is not available");
        FILE *fp = fopen(out, "r");
        int n_ref = 0, w = 0, h = 0;
        CHECK_EQ(fscanf(fp, "%d %d %d", &n_ref, &w, &h), 3);
        fclose(fp);
        FpSourceConfig cfg;
        fp_source_config_init(&cfg);
        cfg.url = path;
        FpSource *s = start_source(&cfg);
        int end = 0;
        int n = drain(s, &end, NULL, 0);
        FpSourceStatus st;
        fp_source_get_status(s, &st);
        CHECK_EQ(end, FP_EEND_OF_STREAM);
        CHECK_MSG(n == n_ref, "%s: %d frames, OpenCV reads %d", names[k], n, n_ref);
        CHECK_EQ(st.width, w);
        CHECK_EQ(st.height, h);
        CHECK_EQ(st.copies, 0);
        fp_source_close(&s);
    }
}

FP_TEST(probe_command_reports_the_stream)
{
    char exe[600];
    snprintf(exe, sizeof(exe), "%s/apps/framepipe", fp_test_build_dir());
    if (access(exe, X_OK) != 0)
        fp_test_skip("the framepipe command was not built");
    char *clip = fp_media_clip("h264", 320, 240, 60, 25, "mp4");
    char out[600];
    snprintf(out, sizeof(out), "%s/probe.json", fp_test_tmpdir());
    const char *argv[] = {exe, "probe", "--frames", "10", clip, NULL};
    CHECK_EQ(fp_test_run(argv, out, NULL), 0);
    size_t len;
    char *j = (char *)fp_media_read_file(out, &len);
    CHECK(j);
    j = realloc(j, len + 1);
    j[len] = 0;
    CHECK_MSG(strstr(j, "\"decoder\":\"h264\"") && strstr(j, "\"width\":320") &&
                  strstr(j, "\"frames\":10") && strstr(j, "\"copies\":0") &&
                  strstr(j, "\"format\":\"yuv420p\""),
              "probe said: %s", j);
    free(j);
    const char *bad[] = {exe, "probe", "/nonexistent.mp4", NULL};
    CHECK_EQ(fp_test_run(bad, out, NULL), 1);
    free(clip);
}

/* Random damage anywhere in the file (container and bitstream): the source ends or fails with a
 * message, never crashes (ASan/UBSan watch), and never hangs. */
FP_TEST_TIMED(random_damage_never_crashes, 120)
{
    static const struct {
        const char *codec, *container;
    } v[] = {{"h264", "mp4"}, {"h264", "mkv"}, {"h264", "avi"}, {"hevc", "mkv"}, {"mjpeg", "avi"}};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
        char *clip = fp_media_clip(v[k].codec, 320, 240, 40, 25, v[k].container);
        size_t len;
        unsigned char *orig = fp_media_read_file(clip, &len);
        CHECK(orig && len > 1000);
        for (int seed = 0; seed < 3; seed++) {
            unsigned char *d = malloc(len);
            memcpy(d, orig, len);
            int flips = 20 + seed * 40;
            for (int i = 0; i < flips; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                d[x % len] ^= (unsigned char)(1u << (x >> 61));
            }
            char path[600];
            snprintf(path, sizeof(path), "%s/damaged-%zu-%d.%s", fp_test_tmpdir(), k, seed,
                     v[k].container);
            CHECK_EQ(fp_media_write_file(path, d, len), 0);
            free(d);
            FpSourceConfig cfg;
            fp_source_config_init(&cfg);
            cfg.url = path;
            FpSource *s = start_source(&cfg);
            int end = 0;
            int n = drain(s, &end, NULL, 0);
            CHECK_MSG(end == FP_EEND_OF_STREAM || end == FP_ECORRUPT || end == FP_EUNSUPPORTED ||
                          end == FP_EIO || end == -EINVAL || end == -ENOMEM,
                      "%s: unexpected end %d (%s)", path, end, fp_error_detail(end));
            CHECK(n <= 80);
            fp_source_close(&s);
        }
        free(orig);
        free(clip);
    }
}

/* HTTPS: a real TLS server (openssl s_server -WWW) on 127.0.0.1 serving a clip. */
FP_TEST_TIMED(https_file_all_frames, 90)
{
    if (access("/usr/bin/openssl", X_OK) != 0)
        fp_test_skip("openssl is not installed");
    char *clip = fp_media_clip("h264", 320, 240, 60, 25, "mkv");
    const char *dir = fp_test_tmpdir();
    char key[600], cert[600], served[600];
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(served, sizeof(served), "%s/clip.mkv", dir);
    CHECK_EQ(symlink(clip, served), 0);
    const char *gen[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                         "/CN=localhost", "-days", "1", "-keyout", key, "-out", cert, NULL};
    CHECK_EQ(fp_test_run(gen, "/dev/null", NULL), 0);
    int port = fp_test_free_port();
    char accept[64];
    snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
    const char *tls[] = {"openssl", "s_server", "-accept", accept, "-WWW", "-cert", cert, "-key", key,
                         "-quiet", NULL};
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/clip.mkv", port);
    expect_whole_clip_from(tls, dir, port, url, "cam-https", 60);
    free(clip);
}

/* A pool too small for the decoder's own references: a warning names the pool, close still works. */
FP_TEST(starved_pool_warns_and_close_interrupts)
{
    char *clip = fp_media_clip("h264", 320, 240, 60, 25, "mp4");
    FpPool *pool = fp_media_pool(256 * 1024, 2);
    char logpath[600];
    snprintf(logpath, sizeof(logpath), "%s/stderr.log", fp_test_tmpdir());
    fflush(stderr);
    int saved = dup(2);
    int lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(saved >= 0 && lfd >= 0);
    dup2(lfd, 2);
    close(lfd);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.name = "cam-starved";
    cfg.stall_timeout_ns = 300 * 1000000LL;
    cfg.decoder_threads = 1;
    FpSource *s = NULL;
    CHECK_OK(fp_source_open(&s, &cfg, pool));
    CHECK_OK(fp_source_start(s));
    FpFrame *held[4] = {0};
    int n = 0;
    while (n < 4 && fp_source_next(s, &held[n], 1000 * 1000000LL) == 0)
        n++; /* keep them: the two buffers stay out */
    fp_sleep_ns(600 * 1000000LL);
    int64_t t0 = fp_clock_ns();
    fp_source_close(&s);
    int64_t close_ns = fp_clock_ns() - t0;
    for (int i = 0; i < n; i++)
        fp_frame_unref(&held[i]);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    CHECK(n < 4);
    CHECK_MSG(close_ns < 1000 * 1000000LL, "close took %.0f ms", close_ns / 1e6);
    size_t len = 0;
    char *log = (char *)fp_media_read_file(logpath, &len);
    CHECK(log);
    log = realloc(log, len + 1);
    log[len] = 0;
    CHECK_MSG(strstr(log, "cam-starved: waited") && strstr(log, "test-frames") &&
                  strstr(log, "max_buffers"),
              "log: %s", log);
    free(log);
    FpPoolStats ps;
    fp_pool_get_stats(pool, &ps);
    CHECK_EQ(ps.in_use, 0);
    fp_pool_destroy(&pool);
    free(clip);
}
