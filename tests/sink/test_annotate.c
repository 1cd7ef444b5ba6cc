// SPDX-License-Identifier: MIT
// Annotation sink: videos decoded back with libavformat/libavcodec, PNGs with Python's cv2; colours, sizes, edges, errors.
#include "fp_test.h"

#include "framepipe/sink.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>

/* ---- synthetic frames ---- */

typedef struct Pic {
    FpFrame f;
    uint8_t *mem;
} Pic;

/* A flat frame: YUV (y,u,v) for YUV420P/NV12, (r,g,b) for RGB24/BGR24, y for GRAY8; rows padded (stride > width). */
static void pic_make(Pic *p, FpPixelFormat fmt, int w, int h, int a, int b, int c)
{
    memset(p, 0, sizeof(*p));
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int ls0 = (fmt == FP_PIX_RGB24 || fmt == FP_PIX_BGR24 ? 3 * w : w) + 24;
    int ls1 = (fmt == FP_PIX_NV12 ? 2 * cw : cw) + 8;
    size_t size = (size_t)ls0 * h + 2 * (size_t)ls1 * ch + 64;
    p->mem = malloc(size);
    CHECK(p->mem != NULL);
    memset(p->mem, 0xEE, size); /* padding: must never show up */
    FpFrame *f = &p->f;
    f->width = w;
    f->height = h;
    f->format = fmt;
    f->data[0] = p->mem;
    f->linesize[0] = ls0;
    for (int y = 0; y < h; y++) {
        uint8_t *row = f->data[0] + (size_t)y * ls0;
        for (int x = 0; x < w; x++) {
            if (fmt == FP_PIX_RGB24)
                row[3 * x] = (uint8_t)a, row[3 * x + 1] = (uint8_t)b, row[3 * x + 2] = (uint8_t)c;
            else if (fmt == FP_PIX_BGR24)
                row[3 * x] = (uint8_t)c, row[3 * x + 1] = (uint8_t)b, row[3 * x + 2] = (uint8_t)a;
            else
                row[x] = (uint8_t)a;
        }
    }
    if (fmt == FP_PIX_YUV420P || fmt == FP_PIX_NV12) {
        f->data[1] = p->mem + (size_t)ls0 * h;
        f->linesize[1] = ls1;
        if (fmt == FP_PIX_YUV420P) {
            f->data[2] = f->data[1] + (size_t)ls1 * ch;
            f->linesize[2] = ls1;
        }
        for (int y = 0; y < ch; y++)
            for (int x = 0; x < cw; x++) {
                if (fmt == FP_PIX_YUV420P) {
                    f->data[1][(size_t)y * ls1 + x] = (uint8_t)b;
                    f->data[2][(size_t)y * ls1 + x] = (uint8_t)c;
                } else {
                    f->data[1][(size_t)y * ls1 + 2 * x] = (uint8_t)b;
                    f->data[1][(size_t)y * ls1 + 2 * x + 1] = (uint8_t)c;
                }
            }
    }
}

static uint64_t pic_hash(const Pic *p, size_t size)
{
    uint64_t hsh = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        hsh = (hsh ^ p->mem[i]) * 1099511628211ull;
    return hsh;
}

static FpDetection det(int class_id, float score, float x1, float y1, float x2, float y2)
{
    FpDetection d;
    memset(&d, 0, sizeof(d));
    d.class_id = class_id;
    d.score = score;
    d.box = (FpBox){x1, y1, x2, y2};
    return d;
}

static const char *const names[] = {"face", "person", "car", "dog", "cat", "bus", "bike", "tree", "sign", "cup",
                                    "box", "ball"};

/* BT.601 limited-range YUV of an RGB colour: the reference the decoded video is compared to. */
static void rgb_to_yuv601(const uint8_t c[3], double yuv[3])
{
    double r = c[0] / 255.0, g = c[1] / 255.0, b = c[2] / 255.0;
    yuv[0] = 16 + 65.481 * r + 128.553 * g + 24.966 * b;
    yuv[1] = 128 - 37.797 * r - 74.203 * g + 112.0 * b;
    yuv[2] = 128 + 112.0 * r - 93.786 * g - 18.214 * b;
}

static const char *tmp(const char *name)
{
    static char path[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof(path[k]), "%s/%s", fp_test_tmpdir(), name);
    return path[k];
}

/* ---- reading a video back with libavformat + libavcodec ---- */

#define MAX_PROBES 8

typedef struct VideoInfo {
    int frames, width, height;
    double pts[64]; /* seconds */
    int probe_frame;
    int n_probes;
    int probe_xy[MAX_PROBES][2];
    int probe_yuv[MAX_PROBES][3];
    char codec[32];
} VideoInfo;

static void read_video(const char *path, VideoInfo *vi)
{
    AVFormatContext *ic = NULL;
    int err = avformat_open_input(&ic, path, NULL, NULL);
    CHECK_MSG(err == 0, "cannot open %s (%d)", path, err);
    CHECK(avformat_find_stream_info(ic, NULL) >= 0);
    const AVCodec *dec = NULL;
    int si = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0);
    CHECK_MSG(si >= 0 && dec, "%s: no video stream", path);
    AVStream *st = ic->streams[si];
    snprintf(vi->codec, sizeof(vi->codec), "%s", avcodec_get_name(st->codecpar->codec_id));
    AVCodecContext *dc = avcodec_alloc_context3(dec);
    CHECK(avcodec_parameters_to_context(dc, st->codecpar) >= 0);
    CHECK(avcodec_open2(dc, dec, NULL) == 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    vi->frames = 0;
    bool flushing = false;
    for (;;) {
        if (!flushing) {
            err = av_read_frame(ic, pkt);
            if (err < 0) {
                flushing = true;
                CHECK(avcodec_send_packet(dc, NULL) >= 0);
            } else {
                if (pkt->stream_index == si)
                    CHECK(avcodec_send_packet(dc, pkt) >= 0);
                av_packet_unref(pkt);
            }
        }
        for (;;) {
            err = avcodec_receive_frame(dc, fr);
            if (err == AVERROR(EAGAIN) || err == AVERROR_EOF)
                break;
            CHECK_MSG(err >= 0, "%s: decoding failed (%d)", path, err);
            CHECK_EQ(fr->format, AV_PIX_FMT_YUV420P);
            vi->width = fr->width;
            vi->height = fr->height;
            if (vi->frames < 64)
                vi->pts[vi->frames] = fr->best_effort_timestamp * av_q2d(st->time_base);
            if (vi->frames == vi->probe_frame)
                for (int i = 0; i < vi->n_probes; i++) {
                    int x = vi->probe_xy[i][0], y = vi->probe_xy[i][1];
                    vi->probe_yuv[i][0] = fr->data[0][y * fr->linesize[0] + x];
                    vi->probe_yuv[i][1] = fr->data[1][y / 2 * fr->linesize[1] + x / 2];
                    vi->probe_yuv[i][2] = fr->data[2][y / 2 * fr->linesize[2] + x / 2];
                }
            vi->frames++;
            av_frame_unref(fr);
        }
        if (flushing && err == AVERROR_EOF)
            break;
    }
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&dc);
    avformat_close_input(&ic);
}

static void check_yuv_near(const VideoInfo *vi, int probe, const double expect[3], double tol, const char *what)
{
    for (int k = 0; k < 3; k++)
        CHECK_MSG(fabs(vi->probe_yuv[probe][k] - expect[k]) <= tol,
                  "%s at (%d,%d): YUV %d %d %d, expected %.0f %.0f %.0f (+-%.0f)", what, vi->probe_xy[probe][0],
                  vi->probe_xy[probe][1], vi->probe_yuv[probe][0], vi->probe_yuv[probe][1], vi->probe_yuv[probe][2],
                  expect[0], expect[1], expect[2], tol);
}

/* Writes `n` grey 320x240 frames with two boxes (classes 0 and 11) to `target`, then checks the video. */
static void video_round_trip(const char *target, int n, const char *expect_codec)
{
    av_log_set_level(AV_LOG_ERROR);
    FpAnnotateSink *s;
    CHECK_OK(fp_annotate_sink_create(&s, target, 25));
    Pic p;
    pic_make(&p, FP_PIX_YUV420P, 320, 240, 128, 128, 128);
    FpDetection d[2] = {det(0, 0.93f, 40, 40, 120, 160), det(11, 0.5f, 200, 60, 300, 200)};
    FpFrameResult r = {.frame = &p.f, .camera_name = "cam0", .dets = d, .n_dets = 2, .class_names = names,
                       .n_classes = 12};
    for (int i = 0; i < n; i++) {
        p.f.seq = (uint64_t)i;
        p.f.pts_ns = (int64_t)i * 40000000;
        CHECK_OK(fp_annotate_sink_write(s, &r));
    }
    CHECK_OK(fp_annotate_sink_close(s));
    fp_annotate_sink_destroy(&s);
    CHECK(s == NULL);

    VideoInfo vi = {.probe_frame = n / 2, .n_probes = 6,
                    .probe_xy = {{40, 100}, {41, 100}, {298, 130}, {160, 226}, {10, 200}, {250, 20}}};
    read_video(target, &vi);
    CHECK_EQ(vi.frames, n);
    CHECK_EQ(vi.width, 320);
    CHECK_EQ(vi.height, 240);
    if (expect_codec)
        CHECK_MSG(strcmp(vi.codec, expect_codec) == 0, "%s: codec %s, expected %s", target, vi.codec, expect_codec);
    for (int i = 0; i < n && i < 64; i++)
        CHECK_NEAR(vi.pts[i] - vi.pts[0], 0.04 * i, 0.002);
    uint8_t c0[3], c11[3];
    fp_annotate_class_color(0, c0);
    fp_annotate_class_color(11, c11);
    double y0[3], y11[3];
    rgb_to_yuv601(c0, y0);
    rgb_to_yuv601(c11, y11);
    const double grey[3] = {128, 128, 128};
    check_yuv_near(&vi, 0, y0, 12, "left edge of the class-0 box");
    check_yuv_near(&vi, 1, y0, 12, "left edge of the class-0 box");
    check_yuv_near(&vi, 2, y11, 12, "right edge of the class-11 box");
    for (int i = 3; i < 6; i++)
        check_yuv_near(&vi, i, grey, 4, "untouched grey");
    free(p.mem);
}

FP_TEST_TIMED(annotate_mp4_default_encoder, 120)
{
    video_round_trip(tmp("out.mp4"), 12, avcodec_find_encoder_by_name("libx264") ? "h264" : "mpeg4");
}

FP_TEST_TIMED(annotate_mpeg4_encoder_in_every_container, 120)
{
    setenv("FP_ANNOTATE_ENCODER", "mpeg4", 1);
    video_round_trip(tmp("a.mp4"), 6, "mpeg4");
    video_round_trip(tmp("b.MKV"), 6, "mpeg4");
    video_round_trip(tmp("c.avi"), 6, "mpeg4");
    video_round_trip(tmp("d.mov"), 6, "mpeg4");
}

FP_TEST_TIMED(annotate_x264_in_mkv_avi_mov, 120)
{
    if (!avcodec_find_encoder_by_name("libx264"))
        fp_test_skip("libavcodec has no libx264");
    video_round_trip(tmp("a.mkv"), 6, "h264");
    video_round_trip(tmp("b.avi"), 6, "h264");
    video_round_trip(tmp("c.mov"), 6, "h264");
}

FP_TEST_TIMED(annotate_two_cameras_give_two_files, 120)
{
    av_log_set_level(AV_LOG_ERROR);
    FpAnnotateSink *s;
    const char *target = tmp("run.mp4");
    CHECK_OK(fp_annotate_sink_create(&s, target, 30));
    Pic a, b;
    pic_make(&a, FP_PIX_YUV420P, 320, 240, 128, 128, 128);
    pic_make(&b, FP_PIX_NV12, 160, 120, 60, 128, 128);
    FpDetection d = det(2, 0.7f, 10, 10, 60, 60);
    FpFrameResult ra = {.frame = &a.f, .camera_name = "front", .dets = &d, .n_dets = 1};
    FpFrameResult rb = {.frame = &b.f, .camera_name = "back door", .dets = &d, .n_dets = 1};
    for (int i = 0; i < 7; i++) {
        a.f.pts_ns = b.f.pts_ns = (int64_t)i * 33333333;
        CHECK_OK(fp_annotate_sink_write(s, &ra));
        if (i < 5)
            CHECK_OK(fp_annotate_sink_write(s, &rb));
    }
    CHECK_OK(fp_annotate_sink_close(s));
    CHECK_OK(fp_annotate_sink_close(s)); /* idempotent */
    CHECK_EQ(fp_annotate_sink_write(s, &ra), FP_EFLUSHING);
    fp_annotate_sink_destroy(&s);
    VideoInfo va = {0}, vb = {0};
    read_video(target, &va); /* the first camera writes the path itself */
    read_video(tmp("run-back_door.mp4"), &vb); /* the second: "-<name>" before the extension */
    CHECK_EQ(va.frames, 7);
    CHECK_EQ(va.width, 320);
    CHECK_EQ(vb.frames, 5);
    CHECK_EQ(vb.width, 160);
    CHECK_EQ(vb.height, 120);
    free(a.mem);
    free(b.mem);
}

FP_TEST_TIMED(annotate_video_odd_size_size_change_and_frozen_pts, 120)
{
    av_log_set_level(AV_LOG_ERROR);
    FpAnnotateSink *s;
    const char *target = tmp("odd.mkv");
    CHECK_OK(fp_annotate_sink_create(&s, target, 10));
    Pic a, b;
    pic_make(&a, FP_PIX_YUV420P, 321, 241, 128, 128, 128);
    pic_make(&b, FP_PIX_RGB24, 160, 100, 128, 128, 128);
    FpDetection d = det(0, 0.7f, 300, 220, 321, 241); /* on the odd last column and row */
    FpFrameResult ra = {.frame = &a.f, .camera_name = "c", .dets = &d, .n_dets = 1};
    FpFrameResult rb = {.frame = &b.f, .camera_name = "c", .dets = &d, .n_dets = 1};
    for (int i = 0; i < 3; i++) /* pts never advances (an image source): frames are spaced at the nominal rate */
        CHECK_OK(fp_annotate_sink_write(s, &ra));
    for (int i = 0; i < 3; i++)
        CHECK_OK(fp_annotate_sink_write(s, &rb)); /* smaller frames: scaled to the video's size */
    CHECK_OK(fp_annotate_sink_close(s));
    fp_annotate_sink_destroy(&s);
    VideoInfo vi = {0};
    read_video(target, &vi);
    CHECK_EQ(vi.frames, 6);
    CHECK_EQ(vi.width, 320);
    CHECK_EQ(vi.height, 240);
    for (int i = 1; i < 6; i++)
        CHECK_NEAR(vi.pts[i] - vi.pts[i - 1], 0.1, 0.002);
    free(a.mem);
    free(b.mem);
}

/* ---- queue mode: frames held by reference, drawn and encoded on the sink's thread ---- */

static _Atomic int released;

static void count_release(FpFrame *f, void *opaque)
{
    (void)f;
    (void)opaque;
    atomic_fetch_add(&released, 1);
}

FP_TEST_TIMED(annotate_queue_holds_references_and_writes_every_frame, 120)
{
    av_log_set_level(AV_LOG_ERROR);
    enum { N = 6 };
    const char *target = tmp("queued.mp4");
    FpAnnotateSink *s;
    CHECK_OK(fp_annotate_sink_create(&s, target, 25));
    CHECK_OK(fp_annotate_sink_set_queue(s, 8));
    CHECK_EQ(fp_annotate_sink_set_queue(s, 8), FP_EINVALID); /* once */
    atomic_store(&released, 0);
    Pic p[N];
    FpDetection d[2] = {det(0, 0.93f, 40, 40, 120, 160), det(11, 0.5f, 200, 60, 300, 200)};
    for (int i = 0; i < N; i++) {
        pic_make(&p[i], FP_PIX_YUV420P, 320, 240, 128, 128, 128);
        fp_frame_init_ref(&p[i].f, count_release, NULL);
        p[i].f.seq = (uint64_t)i;
        p[i].f.pts_ns = (int64_t)i * 40000000;
        FpDetection dd[2] = {d[0], d[1]}; /* a stack copy that is gone after the write: the sink copies it */
        FpFrameResult r = {.frame = &p[i].f, .camera_name = "cam0", .dets = dd, .n_dets = 2, .class_names = names,
                           .n_classes = 12};
        CHECK_OK(fp_annotate_sink_write(s, &r));
        memset(dd, 0, sizeof(dd));
        FpFrame *mine = &p[i].f;
        fp_frame_unref(&mine); /* the sink keeps its own reference until the frame is encoded */
    }
    CHECK_OK(fp_annotate_sink_close(s));
    CHECK_EQ(atomic_load(&released), N); /* every reference dropped by close */
    FpAnnotateStats st;
    fp_annotate_sink_get_stats(s, &st);
    CHECK_EQ(st.depth, 8);
    CHECK_EQ(st.queued, (uint64_t)N);
    CHECK_EQ(st.written, (uint64_t)N);
    CHECK_EQ(st.dropped, 0u);
    fp_annotate_sink_destroy(&s);
    VideoInfo vi = {.probe_frame = N / 2, .n_probes = 3, .probe_xy = {{40, 100}, {298, 130}, {160, 226}}};
    read_video(target, &vi);
    CHECK_EQ(vi.frames, N);
    for (int i = 0; i < N; i++)
        CHECK_NEAR(vi.pts[i] - vi.pts[0], 0.04 * i, 0.002);
    uint8_t c0[3], c11[3];
    fp_annotate_class_color(0, c0);
    fp_annotate_class_color(11, c11);
    double y0[3], y11[3];
    rgb_to_yuv601(c0, y0);
    rgb_to_yuv601(c11, y11);
    const double grey[3] = {128, 128, 128};
    check_yuv_near(&vi, 0, y0, 12, "left edge of the class-0 box");
    check_yuv_near(&vi, 1, y11, 12, "right edge of the class-11 box");
    check_yuv_near(&vi, 2, grey, 4, "untouched grey");
    for (int i = 0; i < N; i++)
        free(p[i].mem);
}

FP_TEST_TIMED(annotate_full_queue_drops_and_counts_without_waiting, 120)
{
    av_log_set_level(AV_LOG_ERROR);
    enum { DEPTH = 3, N = 7 };
    const char *target = tmp("full.mkv");
    FpAnnotateSink *s;
    CHECK_OK(fp_annotate_sink_create(&s, target, 25));
    CHECK_OK(fp_annotate_sink_set_queue(s, DEPTH));
    fp_annotate_sink_hold(s, true); /* the encoder takes nothing: the queue fills */
    atomic_store(&released, 0);
    Pic p[N];
    FpDetection d = det(0, 0.9f, 10, 10, 60, 60);
    for (int i = 0; i < N; i++) {
        pic_make(&p[i], FP_PIX_YUV420P, 96, 64, 128, 128, 128);
        fp_frame_init_ref(&p[i].f, count_release, NULL);
        p[i].f.seq = (uint64_t)i;
        p[i].f.pts_ns = (int64_t)i * 40000000;
        FpFrameResult r = {.frame = &p[i].f, .camera_name = "c", .dets = &d, .n_dets = 1};
        CHECK_OK(fp_annotate_sink_write(s, &r)); /* returns at once, full or not */
        FpFrame *mine = &p[i].f;
        fp_frame_unref(&mine);
    }
    FpAnnotateStats st;
    fp_annotate_sink_get_stats(s, &st);
    CHECK_EQ(st.pending, DEPTH);
    CHECK_EQ(st.queued, (uint64_t)DEPTH);
    CHECK_EQ(st.dropped, (uint64_t)(N - DEPTH));
    CHECK_EQ(st.written, 0u);
    CHECK_EQ(atomic_load(&released), N - DEPTH); /* dropped frames are not held; queued ones are */
    CHECK_OK(fp_annotate_sink_close(s)); /* releases the hold, writes the queued frames */
    CHECK_EQ(atomic_load(&released), N);
    fp_annotate_sink_get_stats(s, &st);
    CHECK_EQ(st.written, (uint64_t)DEPTH);
    CHECK_EQ(st.pending, 0);
    fp_annotate_sink_destroy(&s);
    VideoInfo vi = {0};
    read_video(target, &vi);
    CHECK_EQ(vi.frames, DEPTH);
    for (int i = 0; i < N; i++)
        free(p[i].mem);
}

/* ---- PNG frames read back with cv2 ---- */

typedef struct PngAnswer {
    int w, h;
    int v[16][3]; /* px: r g b; count: v[i][0] */
} PngAnswer;

static void png_query(const char *file, const char *queries, PngAnswer *a)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        fp_test_skip("/usr/bin/python3 is missing");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/sink/png_pixels.py '%s' %s", fp_test_source_dir(), file,
             queries);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    char line[256];
    CHECK_MSG(fgets(line, sizeof(line), f) && sscanf(line, "size %d %d", &a->w, &a->h) == 2, "%s: no size", file);
    int n = 0;
    while (n < 16 && fgets(line, sizeof(line), f)) {
        a->v[n][1] = a->v[n][2] = -1;
        CHECK(sscanf(line, "%d %d %d", &a->v[n][0], &a->v[n][1], &a->v[n][2]) >= 1);
        n++;
    }
    CHECK_MSG(pclose(f) == 0, "png_pixels.py failed on %s", file);
}

static void check_rgb(const PngAnswer *a, int i, const uint8_t c[3], int tol, const char *what)
{
    for (int k = 0; k < 3; k++)
        CHECK_MSG(abs(a->v[i][k] - c[k]) <= tol, "%s: RGB %d %d %d, expected %d %d %d (+-%d)", what, a->v[i][0],
                  a->v[i][1], a->v[i][2], c[0], c[1], c[2], tol);
}

FP_TEST(annotate_png_frames_box_label_and_untouched_pixels)
{
    const char *dir = tmp("frames/"); /* created by the sink */
    FpAnnotateSink *s;
    CHECK_OK(fp_annotate_sink_create(&s, dir, 0));
    Pic p;
    pic_make(&p, FP_PIX_YUV420P, 320, 240, 128, 128, 128);
    size_t size = (size_t)p.f.linesize[0] * 240 + 2 * (size_t)p.f.linesize[1] * 120 + 64;
    uint64_t before = pic_hash(&p, size);
    FpDetection d[2] = {det(0, 0.93f, 40, 60, 120, 160), det(3, 0.5f, 200, 100, 301, 201)};
    d[0].n_keypoints = 2;
    d[0].keypoints[0][0] = 80, d[0].keypoints[0][1] = 100;
    d[0].keypoints[1][0] = 90, d[0].keypoints[1][1] = 120;
    FpFrameResult r = {.frame = &p.f, .camera_name = "cam0", .dets = d, .n_dets = 2, .class_names = names,
                       .n_classes = 12, .n_keypoints = 2};
    for (int i = 0; i < 3; i++) {
        p.f.seq = (uint64_t)(i + 41);
        CHECK_OK(fp_annotate_sink_write(s, &r));
    }
    CHECK_EQ(pic_hash(&p, size), before); /* the input frame is only read */
    CHECK_OK(fp_annotate_sink_close(s));
    fp_annotate_sink_destroy(&s);
    for (int i = 0; i < 3; i++) {
        char file[1100];
        snprintf(file, sizeof(file), "%scam0-%06d.png", dir, i + 41);
        CHECK_MSG(access(file, R_OK) == 0, "%s missing", file);
    }
    uint8_t c0[3], c3[3];
    fp_annotate_class_color(0, c0);
    fp_annotate_class_color(3, c3);
    /* grey Y=U=V=128 (BT.601 limited) is RGB (128-16)*255/219 = 130.4 */
    const uint8_t grey[3] = {130, 130, 130};
    char q[1024];
    /* label: 9 rows (7 + 1 px padding each side) above y=60, from x=40, "face 0.93" = 9 glyphs of 6 px */
    snprintf(q, sizeof(q),
             "px:40,100 px:41,100 px:42,100 px:80,60 px:80,159 px:119,100 px:117,100 px:300,150 px:299,200 "
             "px:10,10 px:160,230 px:80,100 px:40,52 count:40,51,94,60,255,255,255 count:40,51,94,60,%d,%d,%d "
             "px:200,100",
             c0[0], c0[1], c0[2]);
    PngAnswer a;
    png_query(tmp("frames/cam0-000042.png"), q, &a);
    CHECK_EQ(a.w, 320);
    CHECK_EQ(a.h, 240);
    check_rgb(&a, 0, c0, 0, "left edge x=40");
    check_rgb(&a, 1, c0, 0, "left edge x=41 (2 px thick)");
    check_rgb(&a, 2, grey, 2, "inside the box next to the edge");
    check_rgb(&a, 3, c0, 0, "top edge");
    check_rgb(&a, 4, c0, 0, "bottom edge y=159");
    check_rgb(&a, 5, c0, 0, "right edge x=119");
    check_rgb(&a, 6, grey, 2, "inside, x=117");
    check_rgb(&a, 7, c3, 0, "right edge of the second box (x2=301 -> x=300)");
    check_rgb(&a, 8, c3, 0, "bottom edge of the second box (y2=201 -> y=200)");
    check_rgb(&a, 9, grey, 2, "far from boxes");
    check_rgb(&a, 10, grey, 2, "far from boxes");
    check_rgb(&a, 11, c0, 0, "keypoint dot");
    check_rgb(&a, 12, c0, 0, "label background (padding column)");
    int text = a.v[13][0], bg = a.v[14][0];
    uint8_t luma = (uint8_t)((299 * c0[0] + 587 * c0[1] + 114 * c0[2]) / 1000);
    CHECK_MSG(luma <= 140, "class 0 is expected to get white text");
    CHECK_MSG(text > 40 && bg > 200 && text + bg == 54 * 9, "label: %d text pixels, %d background", text, bg);
    check_rgb(&a, 15, c3, 0, "top-left corner of the second box");
    free(p.mem);
}

FP_TEST(annotate_png_every_pixel_format)
{
    FpAnnotateSink *s;
    const char *dir = tmp("fmts");
    CHECK(mkdir(dir, 0700) == 0); /* an existing directory without a trailing slash */
    CHECK_OK(fp_annotate_sink_create(&s, dir, 25));
    struct {
        FpPixelFormat fmt;
        int a, b, c;
        uint8_t expect[3];
        int tol;
        const char *cam;
    } cases[] = {
        {FP_PIX_RGB24, 10, 20, 200, {10, 20, 200}, 0, "rgb"},
        {FP_PIX_BGR24, 10, 20, 200, {10, 20, 200}, 0, "bgr"},
        {FP_PIX_GRAY8, 77, 0, 0, {77, 77, 77}, 0, "gray"},
        {FP_PIX_NV12, 128, 128, 128, {130, 130, 130}, 2, "nv12"},
        {FP_PIX_YUV420P, 235, 128, 128, {255, 255, 255}, 1, "yuv"},
    };
    uint8_t c5[3];
    fp_annotate_class_color(5, c5);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Pic p;
        pic_make(&p, cases[i].fmt, 64, 48, cases[i].a, cases[i].b, cases[i].c);
        FpDetection d = det(5, 0.5f, 20, 20, 40, 40);
        FpFrameResult r = {.frame = &p.f, .camera_name = cases[i].cam, .dets = &d, .n_dets = 1};
        CHECK_OK(fp_annotate_sink_write(s, &r));
        free(p.mem);
        char file[1100];
        snprintf(file, sizeof(file), "%s/%s-000000.png", dir, cases[i].cam);
        PngAnswer a;
        png_query(file, "px:5,45 px:63,47 px:20,30 px:39,30", &a);
        CHECK_EQ(a.w, 64);
        CHECK_EQ(a.h, 48);
        check_rgb(&a, 0, cases[i].expect, cases[i].tol, cases[i].cam);
        check_rgb(&a, 1, cases[i].expect, cases[i].tol, cases[i].cam);
        check_rgb(&a, 2, c5, 0, cases[i].cam);
        check_rgb(&a, 3, c5, 0, cases[i].cam);
    }
    fp_annotate_sink_destroy(&s);
}

FP_TEST_TIMED(annotate_boxes_outside_the_frame_are_clipped, 120)
{
    av_log_set_level(AV_LOG_ERROR);
    FpDetection d[] = {
        det(0, 0.9f, -50, -50, 30, 30),        det(1, 0.8f, 300, 220, 400, 300),
        det(2, 0.7f, -1e30f, -1e30f, 1e30f, 1e30f), det(3, NAN, NAN, 0, 10, 10),
        det(4, INFINITY, 100, 100, 50, 50),    det(5, 0.5f, 10, 10, 10, 10),
        det(6, 0.5f, 1000, 1000, 2000, 2000),  det(-7, -1.0f, -3e38f, 5, -2e38f, 6),
        det(INT32_MAX, 0.5f, 319.9f, 239.9f, 320, 240),
    };
    d[0].n_keypoints = 3;
    d[0].keypoints[0][0] = -1, d[0].keypoints[0][1] = -1;
    d[0].keypoints[1][0] = 319.5f, d[0].keypoints[1][1] = 239.5f;
    d[0].keypoints[2][0] = NAN, d[0].keypoints[2][1] = 1e30f;
    const char *long_names[] = {"a very long class name that does not fit into the picture at all, not even close"};
    FpFrameResult r = {.dets = d, .n_dets = (int)(sizeof(d) / sizeof(d[0])), .class_names = long_names,
                       .n_classes = 1, .n_keypoints = 3, .camera_name = "edge"};
    const char *targets[] = {tmp("edge/"), tmp("edge.mp4")};
    for (int t = 0; t < 2; t++) {
        FpAnnotateSink *s;
        CHECK_OK(fp_annotate_sink_create(&s, targets[t], 25));
        Pic p;
        int sizes[][2] = {{320, 240}, {2, 2}, {17, 9}};
        for (int k = 0; k < 3; k++) {
            if (t == 1 && k > 0)
                break;
            pic_make(&p, FP_PIX_YUV420P, sizes[k][0], sizes[k][1], 128, 128, 128);
            r.frame = &p.f;
            p.f.seq = (uint64_t)k;
            CHECK_OK(fp_annotate_sink_write(s, &r));
            free(p.mem);
        }
        /* a 1x1 frame: fine as PNG, too small for yuv420p video (an error naming the file) */
        pic_make(&p, FP_PIX_GRAY8, 1, 1, 0, 0, 0);
        p.f.seq = 9;
        FpFrameResult r1 = r;
        r1.frame = &p.f;
        r1.camera_name = "tiny";
        int rc = fp_annotate_sink_write(s, &r1);
        if (t == 0) {
            CHECK_OK(rc);
        } else {
            CHECK(rc < 0);
            CHECK_MSG(strstr(fp_error_detail(rc), "edge-tiny.mp4") != NULL, "detail: %s", fp_error_detail(rc));
        }
        free(p.mem);
        rc = fp_annotate_sink_close(s);
        if (t == 1)
            CHECK(rc < 0); /* the first error is reported again */
        fp_annotate_sink_destroy(&s);
    }
    /* the visible part of the box that starts outside is drawn: its right edge x=28..29 and bottom y=28..29 */
    uint8_t c0[3];
    fp_annotate_class_color(0, c0);
    PngAnswer a;
    png_query(tmp("edge/edge-000000.png"), "px:29,15 px:28,15 px:15,29 px:27,15 px:319,239", &a);
    check_rgb(&a, 0, c0, 0, "right edge of a box that starts outside");
    check_rgb(&a, 1, c0, 0, "right edge of a box that starts outside");
    check_rgb(&a, 2, c0, 0, "bottom edge of a box that starts outside");
    const uint8_t grey[3] = {130, 130, 130};
    check_rgb(&a, 3, grey, 2, "inside that box");
    png_query(tmp("edge/tiny-000009.png"), "px:0,0", &a);
    CHECK_EQ(a.w, 1);
}

FP_TEST(annotate_errors_name_the_target)
{
    FpAnnotateSink *s = NULL;
    char path[1200];
    CHECK_EQ(fp_annotate_sink_create(&s, NULL, 25), FP_EINVALID);
    CHECK_EQ(fp_annotate_sink_create(&s, "", 25), FP_EINVALID);

    snprintf(path, sizeof(path), "%s/no/such/dir/out.mp4", fp_test_tmpdir());
    int rc = fp_annotate_sink_create(&s, path, 25);
    CHECK_EQ(rc, -ENOENT);
    CHECK_MSG(strstr(fp_error_detail(rc), "/no/such/dir") != NULL, "detail: %s", fp_error_detail(rc));
    CHECK(s == NULL);

    snprintf(path, sizeof(path), "%s/no/such/frames/", fp_test_tmpdir());
    rc = fp_annotate_sink_create(&s, path, 25);
    CHECK_EQ(rc, -ENOENT);
    CHECK_MSG(strstr(fp_error_detail(rc), "/no/such/frames") != NULL, "detail: %s", fp_error_detail(rc));

    snprintf(path, sizeof(path), "%s/out.txt", fp_test_tmpdir());
    rc = fp_annotate_sink_create(&s, path, 25);
    CHECK_EQ(rc, FP_ECONFIG);
    CHECK(strstr(fp_error_detail(rc), "out.txt") != NULL);

    /* the "directory" is a regular file */
    const char *file = tmp("plain");
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    fclose(f);
    snprintf(path, sizeof(path), "%s/out.mp4", file);
    rc = fp_annotate_sink_create(&s, path, 25);
    CHECK_EQ(rc, -ENOTDIR);
    CHECK(strstr(fp_error_detail(rc), file) != NULL);
    snprintf(path, sizeof(path), "%s/", file);
    rc = fp_annotate_sink_create(&s, path, 25);
    CHECK(rc < 0);
    CHECK(strstr(fp_error_detail(rc), file) != NULL);

    setenv("FP_ANNOTATE_ENCODER", "no-such-encoder", 1);
    rc = fp_annotate_sink_create(&s, tmp("x.mp4"), 25);
    CHECK_EQ(rc, FP_EDEPENDENCY);
    CHECK(strstr(fp_error_detail(rc), "no-such-encoder") != NULL);
    unsetenv("FP_ANNOTATE_ENCODER");

    /* a frame the sink cannot draw */
    CHECK_OK(fp_annotate_sink_create(&s, tmp("ok/"), 25));
    FpFrame bad;
    memset(&bad, 0, sizeof(bad));
    bad.width = 10;
    bad.height = 10;
    FpFrameResult r = {.frame = &bad, .camera_name = "c"};
    CHECK_EQ(fp_annotate_sink_write(s, &r), FP_EUNSUPPORTED);
    FpFrameResult none = {.frame = NULL};
    CHECK_EQ(fp_annotate_sink_write(s, &none), FP_EINVALID);
    fp_annotate_sink_destroy(&s);
}

FP_TEST(annotate_output_vanishing_after_create_is_an_error_naming_the_file)
{
    av_log_set_level(AV_LOG_QUIET);
    const char *dirs[] = {tmp("gone/"), tmp("gone2")};
    CHECK(mkdir(dirs[1], 0700) == 0);
    char video[1100];
    snprintf(video, sizeof(video), "%s/v.mp4", dirs[1]);
    FpAnnotateSink *png, *vid;
    CHECK_OK(fp_annotate_sink_create(&png, dirs[0], 25));
    CHECK_OK(fp_annotate_sink_create(&vid, video, 25));
    CHECK(rmdir(tmp("gone")) == 0);
    CHECK(rmdir(dirs[1]) == 0);
    Pic p;
    pic_make(&p, FP_PIX_YUV420P, 64, 48, 128, 128, 128);
    FpFrameResult r = {.frame = &p.f, .camera_name = "c"};
    int rc = fp_annotate_sink_write(png, &r);
    CHECK_EQ(rc, -ENOENT);
    CHECK_MSG(strstr(fp_error_detail(rc), "gone/c-000000.png") != NULL, "detail: %s", fp_error_detail(rc));
    rc = fp_annotate_sink_write(vid, &r);
    CHECK(rc < 0);
    CHECK_MSG(strstr(fp_error_detail(rc), video) != NULL, "detail: %s", fp_error_detail(rc));
    CHECK_EQ(fp_annotate_sink_write(vid, &r), rc); /* the camera keeps failing the same way */
    CHECK_EQ(fp_annotate_sink_close(vid), rc);
    CHECK(strstr(fp_error_detail(rc), video) != NULL);
    CHECK_EQ(fp_annotate_sink_close(png), -ENOENT);
    fp_annotate_sink_destroy(&png);
    fp_annotate_sink_destroy(&vid);
    free(p.mem);
}

FP_TEST(annotate_class_colours_differ)
{
    uint8_t a[3], b[3], c[3];
    fp_annotate_class_color(0, a);
    fp_annotate_class_color(1, b);
    CHECK(memcmp(a, b, 3) != 0);
    fp_annotate_class_color(20, c); /* the palette repeats */
    CHECK(memcmp(a, c, 3) == 0);
    fp_annotate_class_color(-1, c); /* negative ids get a colour too */
    fp_annotate_class_color(INT32_MIN, c);
}

/* ---- threads: one camera per thread, in parallel ---- */

enum { ANN_THREADS = 4, ANN_FRAMES = 8 };

typedef struct AnnWriter {
    FpAnnotateSink *sink;
    int id, failures;
} AnnWriter;

static void *ann_writer(void *arg)
{
    AnnWriter *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "t%d", w->id);
    Pic p;
    pic_make(&p, FP_PIX_YUV420P, 96, 64, 128, 128, 128);
    FpDetection d = det(w->id, 0.5f, 10, 10, 50, 50);
    FpFrameResult r = {.frame = &p.f, .camera_name = name, .dets = &d, .n_dets = 1};
    for (int i = 0; i < ANN_FRAMES; i++) {
        p.f.seq = (uint64_t)i;
        p.f.pts_ns = (int64_t)i * 40000000;
        if (fp_annotate_sink_write(w->sink, &r) != 0)
            w->failures++;
    }
    free(p.mem);
    return NULL;
}

FP_TEST_TIMED(annotate_threads_write_cameras_in_parallel, 120)
{
    av_log_set_level(AV_LOG_ERROR);
    const char *targets[] = {tmp("par/"), tmp("par.mp4")};
    for (int t = 0; t < 2; t++) {
        FpAnnotateSink *s;
        CHECK_OK(fp_annotate_sink_create(&s, targets[t], 25));
        pthread_t th[ANN_THREADS];
        AnnWriter w[ANN_THREADS];
        for (int i = 0; i < ANN_THREADS; i++) {
            w[i] = (AnnWriter){s, i, 0};
            CHECK(pthread_create(&th[i], NULL, ann_writer, &w[i]) == 0);
        }
        for (int i = 0; i < ANN_THREADS; i++) {
            pthread_join(th[i], NULL);
            CHECK_EQ(w[i].failures, 0);
        }
        CHECK_OK(fp_annotate_sink_close(s));
        fp_annotate_sink_destroy(&s);
    }
    for (int i = 0; i < ANN_THREADS; i++)
        for (int k = 0; k < ANN_FRAMES; k++) {
            char file[1100];
            snprintf(file, sizeof(file), "%st%d-%06d.png", targets[0], i, k);
            CHECK_MSG(access(file, R_OK) == 0, "%s missing", file);
        }
    /* whichever camera came first owns par.mp4; the others par-tN.mp4 */
    int plain = 0, total = 0;
    for (int i = 0; i < ANN_THREADS; i++) {
        char file[1100];
        snprintf(file, sizeof(file), "%s/par-t%d.mp4", fp_test_tmpdir(), i);
        VideoInfo vi = {0};
        if (access(file, R_OK) != 0) {
            plain++;
            snprintf(file, sizeof(file), "%s", targets[1]);
        }
        read_video(file, &vi);
        CHECK_EQ(vi.frames, ANN_FRAMES);
        total += vi.frames;
    }
    CHECK_EQ(plain, 1);
    CHECK_EQ(total, ANN_THREADS * ANN_FRAMES);
}
