// SPDX-License-Identifier: MIT
// Prep geometry and bad input: transforms, box round trips, padding, re-planning, and clear errors for invalid frames and options.
#include "fp_test.h"
#include "prep_test_util.h"

#include "framepipe/error.h"
#include "framepipe/prep.h"

#include <math.h>
#include <stdlib.h>

static FpLetterbox *make(int w, int h, FpPixelFormat f, const FpPrepOptions *o)
{
    FpLetterbox *lb = NULL;
    CHECK_OK(fp_letterbox_create(&lb, w, h, f, o));
    return lb;
}

FP_TEST(geometry_1080p_letterbox_transform)
{
    FpPrepOptions o;
    fp_prep_options_init(&o, 640, 640);
    FpLetterbox *lb = make(1920, 1080, FP_PIX_YUV420P, &o);
    const FpTransform *t = fp_letterbox_transform(lb);
    /* 1920x1080 -> 640x360 content, 140 rows of padding above and below */
    CHECK_NEAR(t->scale_x, 1.0 / 3.0, 1e-7);
    CHECK_NEAR(t->scale_y, 1.0 / 3.0, 1e-7);
    CHECK_NEAR(t->offset_x, 0.0, 1e-6);
    CHECK_NEAR(t->offset_y, 140.0, 1e-6);
    CHECK_NEAR(t->clip_x0, 0, 1e-4);
    CHECK_NEAR(t->clip_x1, 1920, 1e-3);
    CHECK_NEAR(t->clip_y0, 0, 1e-4);
    CHECK_NEAR(t->clip_y1, 1080, 1e-3);
    CHECK_EQ(t->src_width, 1920);
    CHECK_EQ(t->dst_height, 640);
    CHECK_EQ(fp_letterbox_slot_bytes(lb), 640 * 640 * 3 * 4);
    /* the source centre maps to the tensor centre */
    float tx, ty;
    fp_transform_to_tensor(t, 960, 540, &tx, &ty);
    CHECK_NEAR(tx, 320, 1e-4);
    CHECK_NEAR(ty, 320, 1e-4);
    fp_letterbox_destroy(&lb);
    CHECK(lb == NULL);
    fp_letterbox_destroy(&lb); /* NULL is fine */
}

FP_TEST(geometry_topleft_roi_and_crop_transforms)
{
    FpPrepOptions o;
    fp_prep_options_init(&o, 640, 640);
    o.anchor = FP_ANCHOR_TOP_LEFT;
    o.roi_x = 100, o.roi_y = 50, o.roi_w = 1280, o.roi_h = 640;
    FpLetterbox *lb = make(1920, 1080, FP_PIX_NV12, &o);
    const FpTransform *t = fp_letterbox_transform(lb);
    CHECK_NEAR(t->scale_x, 0.5, 1e-7);
    CHECK_NEAR(t->offset_x, -50.0, 1e-5); /* ROI origin maps to tensor 0 */
    CHECK_NEAR(t->offset_y, -25.0, 1e-5);
    CHECK_NEAR(t->clip_x0, 100, 1e-3);
    CHECK_NEAR(t->clip_x1, 1380, 1e-3);
    CHECK_NEAR(t->clip_y1, 690, 1e-3);
    fp_letterbox_destroy(&lb);

    /* centre crop of 1920x1080 into 224x224: short side 1080 -> 224 */
    fp_prep_options_init(&o, 224, 224);
    o.resize = FP_RESIZE_CROP;
    lb = make(1920, 1080, FP_PIX_RGB24, &o);
    t = fp_letterbox_transform(lb);
    int cw = (int)floor(1920 * (224.0 / 1080) + 0.5); /* 398 */
    CHECK_NEAR(t->scale_y, 224.0 / 1080, 1e-6);
    CHECK_NEAR(t->offset_x, -((cw - 224) / 2), 1e-4);
    CHECK_NEAR(t->clip_x0, ((cw - 224) / 2) * 1920.0 / cw, 1e-2);
    CHECK_NEAR(t->clip_x1, ((cw - 224) / 2 + 224) * 1920.0 / cw, 1e-2);
    CHECK_NEAR(t->clip_y0, 0, 1e-4);
    CHECK_NEAR(t->clip_y1, 1080, 1e-2);
    fp_letterbox_destroy(&lb);
}

/* A box mapped to the tensor and back lands within half a pixel, for every mode, anchor and ROI. */
FP_TEST(geometry_box_round_trip)
{
    uint64_t s = 99;
    for (int it = 0; it < 500; it++) {
        int w = pt_range(&s, 1, 4000), h = pt_range(&s, 1, 3000);
        FpPrepOptions o;
        fp_prep_options_init(&o, pt_range(&s, 16, 1280), pt_range(&s, 16, 1280));
        o.resize = (FpResizeMode)pt_range(&s, 0, 2);
        o.anchor = (FpLetterboxAnchor)pt_range(&s, 0, 1);
        if (pt_range(&s, 0, 1)) {
            o.roi_w = pt_range(&s, 1, w), o.roi_h = pt_range(&s, 1, h);
            o.roi_x = pt_range(&s, 0, w - o.roi_w), o.roi_y = pt_range(&s, 0, h - o.roi_h);
        }
        FpLetterbox *lb = make(w, h, FP_PIX_YUV420P, &o);
        const FpTransform *t = fp_letterbox_transform(lb);
        CHECK(t->clip_x0 <= t->clip_x1 && t->clip_y0 <= t->clip_y1);
        for (int k = 0; k < 20; k++) {
            /* a box inside the visible source rectangle */
            double fx1 = (double)(pt_rand(&s) % 1000) / 1000, fx2 = (double)(pt_rand(&s) % 1000) / 1000;
            double fy1 = (double)(pt_rand(&s) % 1000) / 1000, fy2 = (double)(pt_rand(&s) % 1000) / 1000;
            if (fx1 > fx2) { double z = fx1; fx1 = fx2; fx2 = z; }
            if (fy1 > fy2) { double z = fy1; fy1 = fy2; fy2 = z; }
            FpBox b = {(float)(t->clip_x0 + fx1 * (t->clip_x1 - t->clip_x0)),
                       (float)(t->clip_y0 + fy1 * (t->clip_y1 - t->clip_y0)),
                       (float)(t->clip_x0 + fx2 * (t->clip_x1 - t->clip_x0)),
                       (float)(t->clip_y0 + fy2 * (t->clip_y1 - t->clip_y0))};
            FpBox tb = fp_letterbox_box_to_tensor(lb, b);
            CHECK(tb.x1 >= -0.5f && tb.x2 <= o.dst_width + 0.5f && tb.y1 >= -0.5f && tb.y2 <= o.dst_height + 0.5f);
            FpBox r = fp_letterbox_box_to_source(lb, tb);
            CHECK_NEAR(r.x1, b.x1, 0.5);
            CHECK_NEAR(r.y1, b.y1, 0.5);
            CHECK_NEAR(r.x2, b.x2, 0.5);
            CHECK_NEAR(r.y2, b.y2, 0.5);
            /* and the other way: a tensor box inside the content, to the source and back */
            FpBox t2 = fp_transform_box_to_tensor(t, r);
            CHECK_NEAR(t2.x1, tb.x1, 0.5);
            CHECK_NEAR(t2.y2, tb.y2, 0.5);
        }
        fp_letterbox_destroy(&lb);
    }
}

/*
 * The transform describes what the kernel does: a bright square drawn at a
 * known place in the source appears in the tensor where the transform maps
 * it (centroid within half a tensor pixel), for letterbox, crop and ROI.
 */
FP_TEST(geometry_transform_matches_pixels)
{
    struct { FpResizeMode m; FpLetterboxAnchor a; int roi[4]; } cfg[] = {
        {FP_RESIZE_LETTERBOX, FP_ANCHOR_CENTER, {0, 0, 0, 0}},
        {FP_RESIZE_LETTERBOX, FP_ANCHOR_TOP_LEFT, {0, 0, 0, 0}},
        {FP_RESIZE_CROP, FP_ANCHOR_CENTER, {0, 0, 0, 0}},
        {FP_RESIZE_STRETCH, FP_ANCHOR_CENTER, {0, 0, 0, 0}},
        {FP_RESIZE_LETTERBOX, FP_ANCHOR_CENTER, {300, 200, 900, 500}},
    };
    for (size_t ci = 0; ci < sizeof(cfg) / sizeof(cfg[0]); ci++) {
        int w = 1280, h = 720;
        PtFrame pf;
        CHECK(pt_frame_alloc(&pf, w, h, FP_PIX_GRAY8, NULL, 0) == 0);
        int sx0 = 600, sy0 = 330, side = 60;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                pt_row(&pf, 0, y)[x] = x >= sx0 && x < sx0 + side && y >= sy0 && y < sy0 + side ? 255 : 0;
        FpPrepOptions o;
        fp_prep_options_init(&o, 320, 256);
        o.resize = cfg[ci].m, o.anchor = cfg[ci].a;
        o.pad[0] = o.pad[1] = o.pad[2] = 0;
        o.roi_x = cfg[ci].roi[0], o.roi_y = cfg[ci].roi[1], o.roi_w = cfg[ci].roi[2], o.roi_h = cfg[ci].roi[3];
        FpLetterbox *lb = make(w, h, FP_PIX_GRAY8, &o);
        float *out = malloc(fp_letterbox_slot_bytes(lb));
        CHECK_OK(fp_letterbox_run(lb, &pf.f, out, fp_letterbox_slot_bytes(lb)));
        double sum = 0, cx = 0, cy = 0;
        for (int y = 0; y < 256; y++)
            for (int x = 0; x < 320; x++) {
                double v = out[y * 320 + x];
                sum += v, cx += v * (x + 0.5), cy += v * (y + 0.5);
            }
        CHECK(sum > 0);
        float ex, ey;
        fp_transform_to_tensor(fp_letterbox_transform(lb), sx0 + side / 2.0f, sy0 + side / 2.0f, &ex, &ey);
        CHECK_MSG(fabs(cx / sum - ex) <= 0.5 && fabs(cy / sum - ey) <= 0.5,
                  "config %zu: square centroid at (%.2f, %.2f), transform says (%.2f, %.2f)", ci, cx / sum,
                  cy / sum, (double)ex, (double)ey);
        /* its area scales by scale_x * scale_y (loosely: 2-tap bilinear point-samples when shrinking) */
        const FpTransform *t = fp_letterbox_transform(lb);
        CHECK_NEAR(sum, side * side * t->scale_x * t->scale_y, side * side * t->scale_x * t->scale_y * 0.25);
        free(out);
        fp_letterbox_destroy(&lb);
        pt_frame_free(&pf);
    }
}

/* Padding holds exactly the pad colour after normalisation, in every layout and type. */
FP_TEST(geometry_padding_values)
{
    PtFrame pf;
    CHECK(pt_frame_alloc(&pf, 200, 100, FP_PIX_RGB24, NULL, 0) == 0);
    memset(pt_row(&pf, 0, 0), 200, 200 * 3 * 100);
    for (int layout = FP_LAYOUT_NCHW; layout <= FP_LAYOUT_NHWC; layout++)
        for (int type = FP_DTYPE_FLOAT32; type <= FP_DTYPE_UINT8; type++)
            for (int anchor = 0; anchor < 2; anchor++) {
                FpPrepOptions o;
                fp_prep_options_init(&o, 64, 64);
                o.layout = (FpLayout)layout, o.type = (FpDtype)type, o.anchor = (FpLetterboxAnchor)anchor;
                o.pad[0] = 10, o.pad[1] = 114, o.pad[2] = 250;
                for (int c = 0; c < 3; c++)
                    o.scale[c] = type == FP_DTYPE_UINT8 ? 1.0f : 0.5f, o.offset[c] = type == FP_DTYPE_UINT8 ? 0 : -1.0f;
                FpLetterbox *lb = make(200, 100, FP_PIX_RGB24, &o);
                uint8_t *out = malloc(fp_letterbox_slot_bytes(lb));
                CHECK_OK(fp_letterbox_run(lb, &pf.f, out, fp_letterbox_slot_bytes(lb)));
                /* 200x100 -> 64x32 content; centred: rows 16..47; top-left: rows 0..31 */
                int c0 = anchor == FP_ANCHOR_CENTER ? 16 : 0;
                for (int y = 0; y < 64; y++)
                    for (int c = 0; c < 3; c++) {
                        size_t i = layout == FP_LAYOUT_NCHW ? (size_t)c * 64 * 64 + (size_t)y * 64 + 10
                                                            : ((size_t)y * 64 + 10) * 3 + (size_t)c;
                        double v = type == FP_DTYPE_FLOAT32 ? ((float *)(void *)out)[i]
                                 : type == FP_DTYPE_FLOAT16 ? pt_half_to_float(((uint16_t *)(void *)out)[i])
                                                         : out[i];
                        int in_content = y >= c0 && y < c0 + 32;
                        double pix = in_content ? 200 : o.pad[c];
                        double want = type == FP_DTYPE_UINT8 ? pix : pix * 0.5 - 1.0;
                        CHECK_MSG(v == want, "layout %d type %d anchor %d row %d ch %d: %g != %g", layout, type,
                                  anchor, y, c, v, want);
                    }
                free(out);
                fp_letterbox_destroy(&lb);
            }
    pt_frame_free(&pf);
}

/* Re-planning for another source without allocation gives what a fresh plan gives. */
FP_TEST(geometry_set_source_replans)
{
    uint64_t s = 5;
    PtFrame a, b;
    CHECK(pt_frame_alloc(&a, 320, 240, FP_PIX_NV12, NULL, 0) == 0);
    CHECK(pt_frame_alloc(&b, 99, 301, FP_PIX_BGR24, NULL, 0) == 0);
    pt_fill_random(&a, &s);
    pt_fill_random(&b, &s);
    FpPrepOptions o;
    fp_prep_options_init(&o, 128, 96);
    FpLetterbox *lb = make(320, 240, FP_PIX_NV12, &o), *fresh = make(99, 301, FP_PIX_BGR24, &o);
    size_t n = fp_letterbox_slot_bytes(lb);
    uint8_t *x = malloc(n), *y = malloc(n);
    CHECK_OK(fp_letterbox_run(lb, &a.f, x, n));
    CHECK_EQ(fp_letterbox_run(lb, &b.f, x, n), FP_EINVALID); /* wrong geometry for this plan */
    CHECK(strstr(fp_error_detail(FP_EINVALID), "99x301 bgr24") != NULL);
    CHECK_OK(fp_letterbox_set_source(lb, 99, 301, FP_PIX_BGR24));
    CHECK_OK(fp_letterbox_run(lb, &b.f, x, n));
    CHECK_OK(fp_letterbox_run(fresh, &b.f, y, n));
    CHECK(memcmp(x, y, n) == 0);
    CHECK(memcmp(fp_letterbox_transform(lb), fp_letterbox_transform(fresh), sizeof(FpTransform)) == 0);
    /* a failed re-plan leaves the plan as it was */
    CHECK_EQ(fp_letterbox_set_source(lb, 0, 10, FP_PIX_BGR24), FP_EINVALID);
    CHECK_OK(fp_letterbox_run(lb, &b.f, x, n));
    free(x);
    free(y);
    fp_letterbox_destroy(&lb);
    fp_letterbox_destroy(&fresh);
    pt_frame_free(&a);
    pt_frame_free(&b);
}

/* BT.709 and full-range BT.601 (no OpenCV oracle exists for these): flat colours against the standards' formulas. */
FP_TEST(geometry_yuv_matrices_on_flat_colours)
{
    struct { FpYuvMatrix m; double kr, kb; int full; } mats[] = {
        {FP_YUV_BT601, 0.299, 0.114, 0}, {FP_YUV_BT709, 0.2126, 0.0722, 0}, {FP_YUV_BT601_FULL, 0.299, 0.114, 1}};
    int yuv[][3] = {{16, 128, 128}, {235, 128, 128}, {81, 90, 240}, {145, 54, 34}, {41, 240, 110}, {128, 60, 200},
                    {5, 200, 60}, {0, 128, 128}, {255, 0, 255}};
    for (size_t mi = 0; mi < 3; mi++)
        for (size_t k = 0; k < sizeof(yuv) / sizeof(yuv[0]); k++) {
            PtFrame pf;
            CHECK(pt_frame_alloc(&pf, 16, 8, FP_PIX_YUV420P, NULL, 0) == 0);
            memset(pt_row(&pf, 0, 0), yuv[k][0], 16 * 8);
            memset(pt_row(&pf, 1, 0), yuv[k][1], 8 * 4);
            memset(pt_row(&pf, 2, 0), yuv[k][2], 8 * 4);
            FpPrepOptions o;
            fp_prep_options_init(&o, 8, 4);
            o.matrix = mats[mi].m;
            o.scale[0] = o.scale[1] = o.scale[2] = 1.0f;
            FpLetterbox *lb = make(16, 8, FP_PIX_YUV420P, &o);
            float out[8 * 4 * 3];
            CHECK_OK(fp_letterbox_run(lb, &pf.f, out, sizeof(out)));
            double kr = mats[mi].kr, kb = mats[mi].kb, kg = 1 - kr - kb;
            /* limited range: footroom luma (< 16) is black, as in cv2.cvtColor */
            double yy = mats[mi].full ? yuv[k][0] : (yuv[k][0] < 16 ? 0 : yuv[k][0] - 16) * 255.0 / 219;
            double cs = mats[mi].full ? 1.0 : 255.0 / 224;
            double pb = (yuv[k][1] - 128) * cs, pr = (yuv[k][2] - 128) * cs;
            double rgb[3] = {yy + 2 * (1 - kr) * pr, yy - 2 * (1 - kb) * kb / kg * pb - 2 * (1 - kr) * kr / kg * pr,
                             yy + 2 * (1 - kb) * pb};
            for (int c = 0; c < 3; c++) {
                double want = rgb[c] < 0 ? 0 : rgb[c] > 255 ? 255 : rgb[c];
                CHECK_MSG(fabs(out[c * 32 + 5] - want) < 1e-3, "matrix %zu yuv %d,%d,%d ch %d: %g != %g", mi,
                          yuv[k][0], yuv[k][1], yuv[k][2], c, (double)out[c * 32 + 5], want);
            }
            fp_letterbox_destroy(&lb);
            pt_frame_free(&pf);
        }
}

/* ---------- bad input ---------- */

FP_TEST(bad_options_are_rejected_clearly)
{
    FpPrepOptions o;
    FpLetterbox *lb = (FpLetterbox *)(uintptr_t)1;
    fp_prep_options_init(&o, 640, 640);
    CHECK_EQ(fp_letterbox_create(&lb, 0, 1080, FP_PIX_YUV420P, &o), FP_EINVALID);
    CHECK(lb == (FpLetterbox *)(uintptr_t)1); /* untouched on failure */
    lb = NULL;
    CHECK(strstr(fp_error_detail(FP_EINVALID), "source size 0x1080") != NULL);
    CHECK_EQ(fp_letterbox_create(&lb, 1920, -4, FP_PIX_YUV420P, &o), FP_EINVALID);
    CHECK_EQ(fp_letterbox_create(&lb, 100000, 4, FP_PIX_YUV420P, &o), FP_ERANGE);
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_NONE, &o), FP_EUNSUPPORTED);
    CHECK(strstr(fp_error_detail(FP_EUNSUPPORTED), "pixel format") != NULL);
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, (FpPixelFormat)77, &o), FP_EUNSUPPORTED);
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, NULL), FP_EINVALID);
    CHECK_EQ(fp_letterbox_create(NULL, 64, 64, FP_PIX_RGB24, &o), FP_EINVALID);

    FpPrepOptions b = o;
    b.dst_width = 0;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "model input size 0x640") != NULL);
    b = o, b.dst_height = -3;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_EINVALID);
    b = o, b.type = (FpDtype)9;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_EINVALID);
    b = o, b.layout = (FpLayout)-1;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_EINVALID);
    b = o, b.resize = (FpResizeMode)3;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_EINVALID);
    b = o, b.norm = FP_NORM_MEAN_STD, b.std[1] = 0;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "std[1]") != NULL);
    b = o, b.pad[2] = NAN;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_EINVALID);
    /* an unsupported combination */
    b = o, b.type = FP_DTYPE_UINT8, b.norm = FP_NORM_MEAN_STD;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_EUNSUPPORTED);
    CHECK(strstr(fp_error_detail(FP_EUNSUPPORTED), "uint8 tensor with mean/std") != NULL);
    /* regions of interest outside the frame */
    b = o, b.roi_x = 10, b.roi_y = 0, b.roi_w = 60, b.roi_h = 10;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_ERANGE);
    CHECK(strstr(fp_error_detail(FP_ERANGE), "region of interest 10,0 60x10") != NULL);
    b = o, b.roi_x = -1, b.roi_w = 10, b.roi_h = 10;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_ERANGE);
    b = o, b.roi_w = -5, b.roi_h = 0;
    CHECK_EQ(fp_letterbox_create(&lb, 64, 64, FP_PIX_RGB24, &b), FP_ERANGE);
    CHECK(lb == NULL);

    lb = make(64, 64, FP_PIX_RGB24, &o);
    CHECK_EQ(fp_letterbox_set_isa(lb, (FpPrepIsa)12), FP_EINVALID);
    CHECK_EQ(fp_letterbox_set_source(lb, 64, 64, FP_PIX_NONE), FP_EUNSUPPORTED);
    CHECK_EQ(fp_letterbox_set_source(NULL, 64, 64, FP_PIX_RGB24), FP_EINVALID);
    fp_letterbox_destroy(&lb);
}

FP_TEST(bad_frames_and_destinations_are_rejected_without_writing)
{
    FpPrepOptions o;
    fp_prep_options_init(&o, 32, 32);
    FpLetterbox *lb = make(31, 17, FP_PIX_YUV420P, &o);
    PtFrame pf;
    CHECK(pt_frame_alloc(&pf, 31, 17, FP_PIX_YUV420P, NULL, 0) == 0);
    size_t n = fp_letterbox_slot_bytes(lb);
    uint8_t *dst = malloc(n + 8);
    memset(dst, 0x77, n + 8);

    CHECK_EQ(fp_letterbox_run(lb, NULL, dst, n), FP_EINVALID);
    CHECK_EQ(fp_letterbox_run(NULL, &pf.f, dst, n), FP_EINVALID);
    CHECK_EQ(fp_letterbox_run(lb, &pf.f, NULL, n), FP_EINVALID);
    CHECK_EQ(fp_letterbox_run(lb, &pf.f, dst, n - 1), FP_ETOO_LARGE);
    CHECK(strstr(fp_error_detail(FP_ETOO_LARGE), "destination has") != NULL);
    FpFrame f = pf.f;
    f.linesize[1] = 15; /* chroma rows need 16 bytes */
    CHECK_EQ(fp_letterbox_run(lb, &f, dst, n), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "plane 1 linesize 15") != NULL);
    f = pf.f, f.linesize[0] = -30;
    CHECK_EQ(fp_letterbox_run(lb, &f, dst, n), FP_EINVALID);
    f = pf.f, f.data[2] = NULL;
    CHECK_EQ(fp_letterbox_run(lb, &f, dst, n), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "plane 2 is NULL") != NULL);
    f = pf.f, f.width = 32;
    CHECK_EQ(fp_letterbox_run(lb, &f, dst, n), FP_EINVALID);
    f = pf.f, f.format = FP_PIX_NV12;
    CHECK_EQ(fp_letterbox_run(lb, &f, dst, n), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "31x17 nv12 does not match") != NULL);
    for (size_t i = 0; i < n + 8; i++)
        CHECK_EQ(dst[i], 0x77); /* nothing written */
    /* and the valid frame writes exactly the slot */
    CHECK_OK(fp_letterbox_run(lb, &pf.f, dst, n));
    for (size_t i = n; i < n + 8; i++)
        CHECK_EQ(dst[i], 0x77);
    free(dst);
    fp_letterbox_destroy(&lb);
    pt_frame_free(&pf);
}

/* 1x1 and 2x1 frames of every format, every variant: edge clamping without reading outside the planes. */
FP_TEST(bad_tiny_frames_every_format)
{
    FpPixelFormat fmts[] = {FP_PIX_YUV420P, FP_PIX_NV12, FP_PIX_RGB24, FP_PIX_BGR24, FP_PIX_GRAY8};
    uint64_t s = 11;
    for (int fi = 0; fi < 5; fi++)
        for (int w = 1; w <= 3; w++)
            for (int h = 1; h <= 3; h++) {
                PtFrame pf;
                CHECK(pt_frame_alloc(&pf, w, h, fmts[fi], NULL, 0) == 0);
                pt_fill_random(&pf, &s);
                FpPrepOptions o;
                fp_prep_options_init(&o, 40, 24);
                o.resize = FP_RESIZE_STRETCH;
                FpLetterbox *lb = make(w, h, fmts[fi], &o);
                size_t n = fp_letterbox_slot_bytes(lb);
                float *a = malloc(n), *b = malloc(n);
                CHECK_OK(fp_letterbox_set_isa(lb, FP_PREP_ISA_C));
                CHECK_OK(fp_letterbox_run(lb, &pf.f, a, n));
                CHECK_OK(fp_letterbox_set_isa(lb, FP_PREP_ISA_AUTO));
                CHECK_OK(fp_letterbox_run(lb, &pf.f, b, n));
                CHECK(memcmp(a, b, n) == 0);
                if (w == 1 && h == 1 && fmts[fi] == FP_PIX_GRAY8) /* one pixel stretched: a flat tensor */
                    for (size_t i = 0; i < n / 4; i++)
                        CHECK(a[i] == a[0]);
                free(a);
                free(b);
                fp_letterbox_destroy(&lb);
                pt_frame_free(&pf);
            }
}

FP_TEST(isa_selection)
{
    CHECK(fp_prep_isa_supported(FP_PREP_ISA_C));
    CHECK(strcmp(fp_prep_isa_name(FP_PREP_ISA_AVX512), "avx512") == 0);
    FpPrepOptions o;
    fp_prep_options_init(&o, 16, 16);
    FpLetterbox *lb = make(16, 16, FP_PIX_GRAY8, &o);
    CHECK_OK(fp_letterbox_set_isa(lb, FP_PREP_ISA_C));
    CHECK_EQ(fp_letterbox_isa(lb), FP_PREP_ISA_C);
    CHECK_OK(fp_letterbox_set_isa(lb, FP_PREP_ISA_AUTO));
    CHECK_EQ(fp_letterbox_isa(lb), fp_prep_cpu_isa());
    if (!fp_prep_isa_supported(FP_PREP_ISA_AVX512))
        CHECK_EQ(fp_letterbox_set_isa(lb, FP_PREP_ISA_AVX512), FP_EUNSUPPORTED);
    fp_letterbox_destroy(&lb);
    /* FP_PREP_ISA from the environment picks the variant of new plans */
    setenv("FP_PREP_ISA", "c", 1);
    lb = make(16, 16, FP_PIX_GRAY8, &o);
    CHECK_EQ(fp_letterbox_isa(lb), FP_PREP_ISA_C);
    fp_letterbox_destroy(&lb);
    if (fp_prep_isa_supported(FP_PREP_ISA_AVX2)) {
        setenv("FP_PREP_ISA", "avx2", 1);
        lb = make(16, 16, FP_PIX_GRAY8, &o);
        CHECK_EQ(fp_letterbox_isa(lb), FP_PREP_ISA_AVX2);
        fp_letterbox_destroy(&lb);
    }
    unsetenv("FP_PREP_ISA");
}
