// SPDX-License-Identifier: MIT
// Tests of FpPreview (src/sink/preview.c): encodes only while watched, honours fps, draws the boxes (decoded with libturbojpeg).
#include "fp_test.h"

#include "framepipe/clock.h"
#include "framepipe/preview.h"
#include "framepipe/sink.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

/* A flat grey RGB24 frame owned by the test; `released` counts the last unrefs. */
typedef struct Pic {
    FpFrame f;
    uint8_t *mem;
    atomic_int released;
} Pic;

static void on_release(FpFrame *f, void *opaque)
{
    (void)f;
    Pic *p = opaque;
    atomic_fetch_add(&p->released, 1);
}

static void pic_make(Pic *p, int w, int h, uint8_t grey)
{
    memset(p, 0, sizeof(*p));
    p->mem = malloc((size_t)w * h * 3);
    CHECK(p->mem);
    memset(p->mem, grey, (size_t)w * h * 3);
    p->f.width = w;
    p->f.height = h;
    p->f.format = FP_PIX_RGB24;
    p->f.data[0] = p->mem;
    p->f.linesize[0] = 3 * w;
    fp_frame_init_ref(&p->f, on_release, p);
}

static FpFrameResult result_of(Pic *p, const char *camera, const FpDetection *dets, int n, const uint64_t *tracks)
{
    static const char *const names[] = {"face"};
    return (FpFrameResult){.frame = &p->f, .camera_name = camera, .dets = dets, .n_dets = n,
                           .class_names = names, .n_classes = 1, .track_ids = tracks};
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Decodes a JPEG into a malloc'ed RGB picture. */
static uint8_t *decode(const uint8_t *jpeg, size_t len, int *w, int *h)
{
    tjhandle tj = tjInitDecompress();
    CHECK(tj);
    int sub, cs;
    CHECK_MSG(tjDecompressHeader3(tj, jpeg, (unsigned long)len, w, h, &sub, &cs) == 0, "not a JPEG: %s",
              tjGetErrorStr2(tj));
    uint8_t *rgb = malloc((size_t)*w * *h * 3);
    CHECK(rgb);
    CHECK(tjDecompress2(tj, jpeg, (unsigned long)len, rgb, *w, *w * 3, *h, TJPF_RGB, 0) == 0);
    tjDestroy(tj);
    return rgb;
}

FP_TEST(preview_encodes_only_while_watched)
{
    FpPreview *pv = NULL;
    FpPreviewConfig cfg = {.fps = 1000};
    CHECK_OK(fp_preview_create(&pv, &cfg));
    Pic p;
    pic_make(&p, 160, 120, 100);
    FpFrameResult r = result_of(&p, "cam1", NULL, 0, NULL);
    for (int i = 0; i < 20; i++) {
        CHECK_OK(fp_preview_write(pv, &r));
        sleep_ms(2);
    }
    sleep_ms(50);
    FpPreviewStats st;
    CHECK_OK(fp_preview_get_stats(pv, &st));
    CHECK_EQ(st.frames_accepted, 0);
    CHECK_EQ(st.frames_encoded, 0);
    CHECK_EQ(st.cameras, 1);

    CHECK_EQ(fp_preview_watch(pv, "cam1", +1), 1);
    CHECK_OK(fp_preview_write(pv, &r));
    uint64_t seq = 0;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    CHECK_EQ(fp_preview_next(pv, "cam1", &seq, 2000000000LL, &buf, &cap, &len), 1);
    CHECK(seq == 1 && len > 100 && buf[0] == 0xFF && buf[1] == 0xD8);
    CHECK_OK(fp_preview_get_stats(pv, &st));
    CHECK_EQ(st.frames_encoded, 1);
    CHECK_EQ(st.viewers, 1);
    /* nothing newer: a timeout */
    CHECK_EQ(fp_preview_next(pv, "cam1", &seq, 50000000LL, &buf, &cap, &len), 0);

    /* the viewer leaves: no more encoding */
    CHECK_EQ(fp_preview_watch(pv, "cam1", -1), 0);
    for (int i = 0; i < 10; i++) {
        CHECK_OK(fp_preview_write(pv, &r));
        sleep_ms(2);
    }
    sleep_ms(50);
    CHECK_OK(fp_preview_get_stats(pv, &st));
    CHECK_EQ(st.frames_encoded, 1);
    CHECK_EQ(st.frames_accepted, 1);

    CHECK_EQ(fp_preview_watch(pv, "nope", +1), FP_ENOT_FOUND);
    CHECK_EQ(fp_preview_next(pv, "nope", &seq, 0, &buf, &cap, &len), FP_ENOT_FOUND);
    free(buf);
    fp_preview_destroy(&pv);
    CHECK(pv == NULL);
    FpFrame *f = &p.f;
    fp_frame_unref(&f);
    CHECK_EQ(atomic_load(&p.released), 1);
    free(p.mem);
}

FP_TEST(preview_honours_fps)
{
    FpPreview *pv = NULL;
    FpPreviewConfig cfg = {.fps = 5, .width = 64};
    CHECK_OK(fp_preview_create(&pv, &cfg));
    Pic p;
    pic_make(&p, 160, 120, 100);
    FpFrameResult r = result_of(&p, "cam1", NULL, 0, NULL);
    CHECK_OK(fp_preview_set_zones(pv, "cam1", NULL, 0));
    CHECK_EQ(fp_preview_watch(pv, "cam1", +1), 1);
    int64_t t0 = fp_clock_ns();
    while (fp_clock_ns() - t0 < 1000000000LL) { /* 1 s of frames at ~200 Hz */
        CHECK_OK(fp_preview_write(pv, &r));
        sleep_ms(5);
    }
    FpPreviewStats st;
    CHECK_OK(fp_preview_get_stats(pv, &st));
    /* 5 fps over 1 s: the first at once, then one per 200 ms */
    CHECK_MSG(st.frames_accepted >= 5 && st.frames_accepted <= 6, "%llu frames accepted at 5 fps in 1 s",
              (unsigned long long)st.frames_accepted);
    fp_preview_destroy(&pv);
    FpFrame *f = &p.f;
    fp_frame_unref(&f);
    CHECK_EQ(atomic_load(&p.released), 1); /* the pending ones were dropped by destroy */
    free(p.mem);
}

FP_TEST(preview_draws_boxes_and_scales)
{
    FpPreview *pv = NULL;
    FpPreviewConfig cfg = {.fps = 100, .width = 320, .quality = 95};
    CHECK_OK(fp_preview_create(&pv, &cfg));
    Pic p;
    pic_make(&p, 640, 480, 128); /* scaled by 1/2 to 320x240 */
    FpDetection det = {.box = {80, 160, 400, 400}, .score = 0.93f, .class_id = 0};
    uint64_t track = 7;
    FpFrameResult r = result_of(&p, "cam1", &det, 1, &track);
    CHECK_OK(fp_preview_set_zones(pv, "cam1", NULL, 0));
    CHECK_EQ(fp_preview_watch(pv, "cam1", +1), 1);
    CHECK_OK(fp_preview_write(pv, &r));
    uint64_t seq = 0;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    CHECK_EQ(fp_preview_next(pv, "cam1", &seq, 2000000000LL, &buf, &cap, &len), 1);
    int w, h;
    uint8_t *rgb = decode(buf, len, &w, &h);
    CHECK_EQ(w, 320);
    CHECK_EQ(h, 240);
    uint8_t c[3];
    fp_annotate_class_color(0, c);
    /* the box in preview pixels: (40, 80)-(200, 200); its left edge at x = 40..41, mid-height */
    const uint8_t *px = rgb + ((size_t)140 * w + 40) * 3;
    for (int k = 0; k < 3; k++)
        CHECK_MSG(abs(px[k] - c[k]) < 48, "box outline pixel (40,140) is %d,%d,%d, want about %d,%d,%d", px[0], px[1],
                  px[2], c[0], c[1], c[2]);
    const uint8_t *in = rgb + ((size_t)140 * w + 120) * 3; /* inside the box: the frame's grey */
    for (int k = 0; k < 3; k++)
        CHECK_MSG(abs(in[k] - 128) < 12, "pixel inside the box is %d,%d,%d", in[0], in[1], in[2]);
    free(rgb);
    free(buf);
    fp_preview_destroy(&pv);
    FpFrame *f = &p.f;
    fp_frame_unref(&f);
    CHECK_EQ(atomic_load(&p.released), 1);
    free(p.mem);
}

FP_TEST(preview_zones_drawn_and_bad_arguments)
{
    FpPreview *pv = NULL;
    FpPreviewConfig bad = {.width = 8};
    CHECK_EQ(fp_preview_create(&pv, &bad), FP_EINVALID);
    CHECK_OK(fp_preview_create(&pv, NULL));
    FpZoneConfig z = {.name = "all", .n_points = 4, .normalized = true,
                      .points = {{0.25f, 0.25f}, {0.75f, 0.25f}, {0.75f, 0.75f}, {0.25f, 0.75f}}};
    CHECK_OK(fp_preview_set_zones(pv, "cam1", &z, 1));
    CHECK_EQ(fp_preview_watch(pv, "cam1", 2), FP_EINVALID);
    CHECK_EQ(fp_preview_watch(pv, "cam1", +1), 1);
    Pic p;
    pic_make(&p, 320, 240, 0);
    FpFrameResult r = result_of(&p, "cam1", NULL, 0, NULL);
    CHECK_OK(fp_preview_write(pv, &r));
    uint64_t seq = 0;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    CHECK_EQ(fp_preview_next(pv, "cam1", &seq, 2000000000LL, &buf, &cap, &len), 1);
    int w, h;
    uint8_t *rgb = decode(buf, len, &w, &h);
    const uint8_t *px = rgb + ((size_t)120 * w + 80) * 3; /* the zone's left edge at x = 80 */
    CHECK_MSG(px[0] > 150 && px[1] > 150 && px[2] < px[0] - 60, "zone edge pixel is %d,%d,%d, want yellow", px[0], px[1],
              px[2]);
    free(rgb);
    free(buf);
    fp_preview_destroy(&pv);
    FpFrame *f = &p.f;
    fp_frame_unref(&f);
    free(p.mem);
}

FP_TEST(preview_stats_count_encode_time)
{
    FpPreview *pv = NULL;
    FpPreviewConfig cfg = {.fps = 1000};
    CHECK_OK(fp_preview_create(&pv, &cfg));
    Pic p;
    pic_make(&p, 1280, 720, 90); /* to 640x360, the default width */
    FpDetection det = {.box = {100, 100, 300, 300}, .score = 0.9f};
    FpFrameResult r = result_of(&p, "cam1", &det, 1, NULL);
    CHECK_OK(fp_preview_set_zones(pv, "cam1", NULL, 0));
    CHECK_EQ(fp_preview_watch(pv, "cam1", +1), 1);
    uint64_t seq = 0;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    for (int i = 0; i < 10; i++) {
        CHECK_OK(fp_preview_write(pv, &r));
        CHECK_EQ(fp_preview_next(pv, "cam1", &seq, 2000000000LL, &buf, &cap, &len), 1);
        sleep_ms(2);
    }
    FpPreviewStats st;
    CHECK_OK(fp_preview_get_stats(pv, &st));
    CHECK_EQ(st.frames_encoded, 10);
    CHECK(st.encode_ns_total > 0 && st.encode_ns_last > 0 && st.encode_ns_last <= st.encode_ns_total);
    printf("1280x720 -> 640x360: %.2f ms per preview frame (scale, draw, encode)\n",
           (double)st.encode_ns_total / 10 / 1e6);
    free(buf);
    fp_preview_destroy(&pv);
    FpFrame *f = &p.f;
    fp_frame_unref(&f);
    free(p.mem);
}
