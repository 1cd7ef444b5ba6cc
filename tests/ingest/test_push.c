// SPDX-License-Identifier: MIT
// Pictures from memory and the push: source: header probe, decode of every prefix (no crash, a clear error), raw wrap, queue -> source -> frame.
#include "fp_test.h"

#include "framepipe/error.h"
#include "framepipe/push.h"
#include "framepipe/source.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static FpPool *frame_pool(void)
{
    FpPoolConfig pc = {0};
    pc.name = "test-frames";
    pc.class_size[0] = 16u << 20;
    pc.n_classes = 1;
    pc.max_buffers = 4;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &pc));
    return p;
}

/* A picture written by ffmpeg (an independent encoder) from messi5.jpg; skips when either is missing. */
static uint8_t *picture(const char *ext, size_t *len)
{
    const char *src = "/usr/share/doc/opencv-doc/examples/data/messi5.jpg";
    struct stat st;
    if (stat(src, &st) != 0)
        fp_test_skip("%s missing (opencv-doc)", src);
    if (!strcmp(ext, "jpg"))
        return slurp(src, len);
    char out[600], cmd[1400];
    snprintf(out, sizeof(out), "%s/messi.%s", fp_test_tmpdir(), ext);
    snprintf(cmd, sizeof(cmd), "ffmpeg -v error -y -i %s %s", src, out);
    if (system(cmd) != 0)
        fp_test_skip("ffmpeg cannot write %s", ext);
    return slurp(out, len);
}

FP_TEST(image_probe_reads_type_and_size_from_the_header)
{
    const char *exts[] = {"jpg", "png", "webp"};
    const int types[] = {FP_IMAGE_JPEG, FP_IMAGE_PNG, FP_IMAGE_WEBP};
    for (int i = 0; i < 3; i++) {
        size_t n;
        uint8_t *b = picture(exts[i], &n);
        CHECK(b);
        int w, h;
        CHECK_EQ(fp_image_probe(b, n, &w, &h), types[i]);
        CHECK_MSG(w == 548 && h == 342, "%s: %dx%d", exts[i], w, h);
        /* every prefix: a type or a clear error, never a read past the prefix (ASan) */
        for (size_t k = 0; k <= n && k < 4096; k++) {
            uint8_t *cut = malloc(k ? k : 1);
            memcpy(cut, b, k);
            int t = fp_image_probe(cut, k, &w, &h);
            CHECK(t == types[i] || t == FP_EUNSUPPORTED);
            free(cut);
        }
        free(b);
    }
    int w, h;
    CHECK_EQ(fp_image_probe((const uint8_t *)"GIF89a....", 10, &w, &h), FP_EUNSUPPORTED);
    CHECK(strstr(fp_error_detail(FP_EUNSUPPORTED), "not a JPEG, PNG or WebP"));
}

FP_TEST_TIMED(image_decode_every_truncation_is_an_error_or_a_frame, 240)
{
    FpPool *pool = frame_pool();
    const char *exts[] = {"jpg", "png", "webp"};
    const FpPixelFormat fmts[] = {FP_PIX_YUV420P, FP_PIX_RGB24, FP_PIX_YUV420P};
    for (int i = 0; i < 3; i++) {
        size_t n;
        uint8_t *b = picture(exts[i], &n);
        FpFrame *f = NULL;
        CHECK_OK(fp_image_decode(b, n, pool, NULL, &f));
        CHECK(f->width == 548 && f->height == 342 && f->format == fmts[i]);
        fp_frame_unref(&f);
        /* a size limit below the picture: FP_ERANGE naming both, nothing decoded */
        FpImageLimits lim = {500, 500};
        CHECK_EQ(fp_image_decode(b, n, pool, &lim, &f), FP_ERANGE);
        CHECK(strstr(fp_error_detail(FP_ERANGE), "548x342") && strstr(fp_error_detail(FP_ERANGE), "500x500"));
        /* truncations (prefixes of 97 lengths): a frame (libavcodec may conceal a short loss) or an error */
        for (int k = 1; k < 98; k++) {
            size_t len = n * (size_t)k / 98;
            uint8_t *cut = malloc(len ? len : 1);
            memcpy(cut, b, len);
            int rc = fp_image_decode(cut, len, pool, NULL, &f);
            CHECK_MSG(rc == 0 || rc == FP_ECORRUPT || rc == FP_EUNSUPPORTED, "%s cut at %zu: %d %s", exts[i], len, rc,
                      fp_error_detail(rc));
            fp_frame_unref(&f);
            free(cut);
        }
        free(b);
    }
    fp_pool_destroy(&pool);
}

/*
 * fp_image_decode_buffer: libavcodec reads the upload's pool buffer itself and writes the
 * picture into the frame pool (libavcodec's layout: padding after each plane, which the
 * copying path of the first version did not have); the same pixels as fp_image_decode;
 * no reference kept on the body; the cached decoders stay right across codecs and after a
 * damaged picture.
 */
FP_TEST_TIMED(image_decode_buffer_reads_the_upload_in_place, 240)
{
    FpPool *pool = frame_pool();
    FpPoolConfig bc = {0};
    bc.name = "test-bodies";
    bc.class_size[0] = 1u << 20;
    bc.n_classes = 1;
    bc.max_buffers = 2;
    FpPool *bodies = NULL;
    CHECK_OK(fp_pool_create(&bodies, &bc));
    const char *exts[] = {"jpg", "png", "webp"};
    uint8_t *pic[3];
    size_t n[3];
    for (int i = 0; i < 3; i++)
        pic[i] = picture(exts[i], &n[i]);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 3; i++) {
            FpBuffer *body = NULL;
            CHECK_OK(fp_pool_acquire(bodies, n[i] + FP_IMAGE_PADDING, 0, &body));
            memcpy(fp_buffer_data(body), pic[i], n[i]);
            memset(fp_buffer_data(body) + n[i], 0xa5, FP_IMAGE_PADDING);
            FpFrame *f = NULL, *ref = NULL;
            CHECK_OK(fp_image_decode_buffer(body, n[i], pool, NULL, &f));
            CHECK(fp_buffer_data(body)[n[i]] == 0 && !memcmp(fp_buffer_data(body), pic[i], n[i]));
            FpPoolStats st;
            fp_pool_get_stats(pool, &st);
            CHECK_MSG(st.in_use == 1, "%s: %u frame buffers out", exts[i], st.in_use);
            const uint8_t *base = fp_buffer_data(f->buf[0]);
            CHECK(f->data[0] >= base && f->data[0] < base + fp_buffer_size(f->buf[0]));
            if (f->format == FP_PIX_YUV420P)
                CHECK_MSG(f->data[1] - f->data[0] > (ptrdiff_t)f->linesize[0] * f->height,
                          "%s: no padding after the luma plane: not libavcodec's own layout", exts[i]);
            CHECK_OK(fp_image_decode(pic[i], n[i], pool, NULL, &ref));
            CHECK(ref->width == f->width && ref->height == f->height && ref->format == f->format);
            int planes = f->format == FP_PIX_YUV420P ? 3 : 1;
            for (int p = 0; p < planes; p++) {
                int rows = p ? (f->height + 1) / 2 : f->height;
                int bytes = f->format == FP_PIX_RGB24 ? 3 * f->width : p ? (f->width + 1) / 2 : f->width;
                for (int y = 0; y < rows; y++)
                    CHECK_MSG(!memcmp(f->data[p] + (size_t)y * f->linesize[p], ref->data[p] + (size_t)y * ref->linesize[p],
                                      (size_t)bytes),
                              "%s round %d: plane %d row %d differs", exts[i], round, p, y);
            }
            fp_frame_unref(&ref);
            fp_frame_unref(&f);
            fp_buffer_unref(&body);
            fp_pool_get_stats(bodies, &st);
            CHECK_MSG(st.in_use == 0, "the decoder kept a reference to the body (%u out)", st.in_use);
            /* a damaged picture in between: an error, and the next one decodes */
            CHECK_OK(fp_pool_acquire(bodies, n[i] / 2 + FP_IMAGE_PADDING, 0, &body));
            memcpy(fp_buffer_data(body), pic[i], n[i] / 2);
            int rc = fp_image_decode_buffer(body, n[i] / 2, pool, NULL, &f);
            CHECK(rc == 0 || rc == FP_ECORRUPT);
            fp_frame_unref(&f);
            fp_buffer_unref(&body);
        }
    }
    FpBuffer *small = NULL;
    CHECK_OK(fp_pool_acquire(bodies, 100, 0, &small));
    FpFrame *f = NULL;
    CHECK_EQ(fp_image_decode_buffer(small, fp_buffer_size(small) - FP_IMAGE_PADDING + 1, pool, NULL, &f), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "padding"));
    fp_buffer_unref(&small);
    for (int i = 0; i < 3; i++)
        free(pic[i]);
    fp_image_decoders_free();
    fp_pool_destroy(&bodies);
    fp_pool_destroy(&pool);
}

FP_TEST(raw_wrap_checks_the_size_and_takes_the_buffer)
{
    FpPool *pool = frame_pool();
    FpBuffer *buf = NULL;
    CHECK_OK(fp_pool_acquire(pool, 64 * 48 * 3 / 2, 0, &buf));
    FpFrame *f = NULL;
    CHECK_EQ(fp_image_wrap_raw(buf, 64 * 48 * 3 / 2 - 1, 64, 48, FP_PIX_NV12, NULL, &f), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "64x48 nv12 frame is 4608"));
    CHECK_OK(fp_image_wrap_raw(buf, 64 * 48 * 3 / 2, 64, 48, FP_PIX_NV12, NULL, &f));
    CHECK(f->data[0] == fp_buffer_data(buf) && f->data[1] == fp_buffer_data(buf) + 64 * 48 && f->linesize[1] == 64);
    fp_frame_unref(&f); /* returns the buffer */
    FpPoolStats st;
    fp_pool_get_stats(pool, &st);
    CHECK_EQ(st.in_use, 0);
    fp_pool_destroy(&pool);
}

FP_TEST_TIMED(push_queue_frames_come_out_of_the_push_source_with_their_planes, 60)
{
    FpPushQueue *q = NULL;
    CHECK_OK(fp_push_queue_create(&q, "t", 2));
    FpPushQueue *dup = NULL;
    CHECK_EQ(fp_push_queue_create(&dup, "t", 2), FP_EEXISTS);
    FpSourceConfig sc;
    fp_source_config_init(&sc);
    sc.url = "push:t";
    FpSource *src = NULL;
    CHECK_OK(fp_source_open(&src, &sc, NULL));
    CHECK_OK(fp_source_start(src));
    FpPool *pool = frame_pool();
    FpFrame *in[3];
    for (int i = 0; i < 3; i++) {
        FpBuffer *buf = NULL;
        CHECK_OK(fp_pool_acquire(pool, 32 * 32, 0, &buf));
        memset(fp_buffer_data(buf), 10 + i, 32 * 32);
        CHECK_OK(fp_image_wrap_raw(buf, 32 * 32, 32, 32, FP_PIX_GRAY8, NULL, &in[i]));
    }
    for (int i = 0; i < 3; i++) {
        int rc;
        while ((rc = fp_push_queue_submit(q, in[i])) == FP_EWOULD_BLOCK) { /* the source drains it */
        }
        CHECK_OK(rc);
        FpFrame *out = NULL;
        CHECK_OK(fp_source_next(src, &out, 10000000000LL));
        CHECK(out->data[0] == in[i]->data[0] && out->width == 32 && out->format == FP_PIX_GRAY8);
        CHECK_EQ(out->seq, (uint64_t)i);
        CHECK_EQ(out->data[0][0], 10 + i);
        fp_frame_unref(&out);
        fp_frame_unref(&in[i]);
    }
    fp_push_queue_destroy(&q); /* the source sees the end */
    FpFrame *out = NULL;
    int rc = fp_source_next(src, &out, 10000000000LL);
    CHECK_MSG(rc == FP_EEND_OF_STREAM, "after the queue was destroyed: %d, not the end", rc);
    fp_source_close(&src);
    FpSourceConfig bad = sc;
    bad.url = "push:nobody";
    CHECK_OK(fp_source_open(&src, &bad, NULL));
    CHECK_OK(fp_source_start(src));
    rc = fp_source_next(src, &out, 5000000000LL);
    CHECK(rc < 0);
    FpSourceStatus st;
    fp_source_get_status(src, &st);
    CHECK_MSG(strstr(st.last_error, "no push queue named \"nobody\""), "%s", st.last_error);
    fp_source_close(&src);
    fp_pool_destroy(&pool);
}
