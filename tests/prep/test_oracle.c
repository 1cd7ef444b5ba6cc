// SPDX-License-Identifier: MIT
// The prep kernel against an independent oracle: OpenCV (python3-opencv) on real images from opencv-doc and on generated frames.
#include "fp_test.h"
#include "prep_test_util.h"

#include "framepipe/prep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/*
 * tests/prep/oracle.py computes the expected tensor the way an OpenCV user
 * would: cv2.cvtColor (YUV -> RGB), cv2.resize (INTER_LINEAR), padding with
 * cv2.copyMakeBorder, cv2.dnn.blobFromImage (and numpy for mean/std).
 *
 * Tolerance, in 8-bit levels (1 level = 1/255 of the pixel range; divided
 * by std for mean/std tensors): max 1.5, mean 0.35. Why: framepipe computes
 * in float without intermediate rounding, OpenCV does not:
 *   - cvtColor rounds each converted pixel to uint8:              <= 0.5
 *   - cvtColor's coefficients are rounded to 3 decimals (1.164,
 *     2.018, ...) where framepipe derives them from Kr/Kb:          <= 0.2
 *   - resize INTER_LINEAR on uint8 quantises weights to 1/2048 and
 *     rounds the result to uint8:                                 <= 0.5 + 0.25
 * which sums to 1.45. The mean bound shows there is no systematic offset
 * (rounding errors average out to about 1/4 level). uint8 tensors add the
 * final rounding of both sides: max 2 levels. float16 tensors add the half
 * precision rounding of the value (relative 2^-11).
 */

typedef struct OracleCase {
    const char *name;
    const char *args; /* oracle.py key=value arguments */
    FpPixelFormat fmt;
    int dw, dh;
    FpResizeMode resize;
    FpLetterboxAnchor anchor;
    FpChannelOrder order;
    FpNormalize norm;
    FpLayout layout;
    FpDtype type;
    int roi[4];
} OracleCase;

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, imagenet_std[3] = {0.229f, 0.224f, 0.225f};

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void require_opencv(void)
{
    struct stat st;
    if (stat("/usr/bin/python3", &st) != 0 ||
        system("/usr/bin/python3 -c 'import cv2, numpy' >/dev/null 2>&1") != 0)
        fp_test_skip("/usr/bin/python3 with cv2 (python3-opencv) is not installed");
    if (stat("/usr/share/doc/opencv-doc/examples/data/messi5.jpg", &st) != 0)
        fp_test_skip("opencv-doc sample images are not installed");
}

static void run_case(const OracleCase *c)
{
    require_opencv();
    const char *dir = fp_test_tmpdir();
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/prep/oracle.py %s %s %s", fp_test_source_dir(), dir,
             c->name, c->args);
    CHECK_MSG(system(cmd) == 0, "oracle failed: %s", cmd);

    char path[1024];
    size_t n_info, n_src, n_exp;
    snprintf(path, sizeof(path), "%s/%s.info", dir, c->name);
    uint8_t *info = read_file(path, &n_info);
    CHECK(info != NULL);
    info[n_info] = 0;
    int w = 0, h = 0;
    CHECK(sscanf((char *)info, "%d %d", &w, &h) == 2);
    free(info);
    snprintf(path, sizeof(path), "%s/%s.src", dir, c->name);
    uint8_t *src = read_file(path, &n_src);
    snprintf(path, sizeof(path), "%s/%s.exp", dir, c->name);
    uint8_t *expb = read_file(path, &n_exp);
    CHECK(src && expb);

    /* the frame, with padded strides (odd pad) so strides differ from widths */
    int pad[3] = {13, 7, 5};
    PtFrame pf;
    CHECK(pt_frame_alloc(&pf, w, h, c->fmt, pad, 0) == 0);
    size_t off = 0;
    for (int p = 0; p < pt_plane_count(c->fmt); p++)
        for (int y = 0; y < pf.rows[p]; y++) {
            CHECK(off + (size_t)pf.rowbytes[p] <= n_src);
            memcpy(pt_row(&pf, p, y), src + off, (size_t)pf.rowbytes[p]);
            off += (size_t)pf.rowbytes[p];
        }
    CHECK_EQ(off, n_src);

    FpPrepOptions o;
    fp_prep_options_init(&o, c->dw, c->dh);
    o.resize = c->resize, o.anchor = c->anchor, o.order = c->order, o.norm = c->norm;
    o.layout = c->layout, o.type = c->type;
    if (c->type == FP_DTYPE_UINT8)
        o.scale[0] = o.scale[1] = o.scale[2] = 1.0f;
    if (c->norm == FP_NORM_MEAN_STD)
        for (int k = 0; k < 3; k++) {
            int rgb = c->order == FP_ORDER_RGB ? k : 2 - k;
            o.mean[k] = imagenet_mean[rgb], o.std[k] = imagenet_std[rgb];
        }
    o.roi_x = c->roi[0], o.roi_y = c->roi[1], o.roi_w = c->roi[2], o.roi_h = c->roi[3];

    FpLetterbox *lb = NULL;
    CHECK_OK(fp_letterbox_create(&lb, w, h, c->fmt, &o));
    size_t count = (size_t)c->dw * c->dh * 3;
    CHECK_EQ(n_exp, count * 4);
    size_t slot = fp_letterbox_slot_bytes(lb);
    uint8_t *out = malloc(slot);
    CHECK_OK(fp_letterbox_run(lb, &pf.f, out, slot));

    const float *exp = (const float *)(void *)expb;
    double max_err = 0, sum_err = 0;
    size_t worst = 0;
    for (size_t i = 0; i < count; i++) {
        int ch = c->layout == FP_LAYOUT_NCHW ? (int)(i / ((size_t)c->dw * c->dh)) : (int)(i % 3);
        double got, want = exp[i], level = 1.0 / 255.0, extra = 0;
        if (c->norm == FP_NORM_MEAN_STD)
            level /= o.std[ch];
        if (c->type == FP_DTYPE_FLOAT32) {
            float v;
            memcpy(&v, out + i * 4, 4);
            got = v;
        } else if (c->type == FP_DTYPE_FLOAT16) {
            uint16_t hv;
            memcpy(&hv, out + i * 2, 2);
            got = pt_half_to_float(hv);
            extra = fabs(want) / 2048.0;
        } else {
            got = out[i] / 255.0; /* compare in the oracle's [0,1] units */
        }
        double err = (fabs(got - want) - extra) / level;
        if (err < 0)
            err = 0;
        sum_err += err;
        if (err > max_err)
            max_err = err, worst = i;
    }
    double mean_err = sum_err / (double)count;
    double max_tol = c->type == FP_DTYPE_UINT8 ? 2.0 : 1.5;
    fprintf(stderr, "%s: %dx%d -> %dx%d: max error %.3f levels (at %zu), mean %.4f\n", c->name, w, h, c->dw, c->dh,
            max_err, worst, mean_err);
    CHECK_MSG(max_err <= max_tol, "%s: max error %.3f levels at value %zu exceeds %.1f", c->name, max_err, worst,
              max_tol);
    CHECK_MSG(mean_err <= 0.35, "%s: mean error %.4f levels exceeds 0.35", c->name, mean_err);

    free(out);
    free(src);
    free(expb);
    fp_letterbox_destroy(&lb);
    pt_frame_free(&pf);
}

#define LB FP_RESIZE_LETTERBOX
#define ST FP_RESIZE_STRETCH
#define CR FP_RESIZE_CROP

FP_TEST(oracle_messi_rgb24_letterbox)
{
    OracleCase c = {"messi_rgb", "image=messi5.jpg format=rgb24 dst=640x640", FP_PIX_RGB24, 640, 640, LB,
                    FP_ANCHOR_CENTER, FP_ORDER_RGB, FP_NORM_SCALE, FP_LAYOUT_NCHW, FP_DTYPE_FLOAT32, {0}};
    run_case(&c);
}

FP_TEST(oracle_messi_yuv420p_letterbox)
{
    OracleCase c = {"messi_yuv", "image=messi5.jpg format=yuv420p dst=640x640", FP_PIX_YUV420P, 640, 640, LB,
                    FP_ANCHOR_CENTER, FP_ORDER_RGB, FP_NORM_SCALE, FP_LAYOUT_NCHW, FP_DTYPE_FLOAT32, {0}};
    run_case(&c);
}

FP_TEST(oracle_fruits_nv12_topleft_bgr_meanstd_f16)
{
    OracleCase c = {"fruits_nv12",
                    "image=fruits.jpg format=nv12 dst=416x416 anchor=topleft order=bgr norm=meanstd",
                    FP_PIX_NV12, 416, 416, LB, FP_ANCHOR_TOP_LEFT, FP_ORDER_BGR, FP_NORM_MEAN_STD,
                    FP_LAYOUT_NCHW, FP_DTYPE_FLOAT16, {0}};
    run_case(&c);
}

FP_TEST(oracle_baboon_bgr24_stretch_nhwc)
{
    OracleCase c = {"baboon_bgr", "image=baboon.jpg format=bgr24 dst=300x200 resize=stretch layout=nhwc",
                    FP_PIX_BGR24, 300, 200, ST, FP_ANCHOR_CENTER, FP_ORDER_RGB, FP_NORM_SCALE, FP_LAYOUT_NHWC,
                    FP_DTYPE_FLOAT32, {0}};
    run_case(&c);
}

FP_TEST(oracle_home_gray8_u8_nhwc)
{
    OracleCase c = {"home_gray", "image=home.jpg format=gray8 dst=256x256 layout=nhwc", FP_PIX_GRAY8, 256, 256,
                    LB, FP_ANCHOR_CENTER, FP_ORDER_RGB, FP_NORM_SCALE, FP_LAYOUT_NHWC, FP_DTYPE_UINT8, {0}};
    run_case(&c);
}

FP_TEST(oracle_generated_yuv420p_720p)
{
    OracleCase c = {"gen_yuv", "image=gen:1280x720 format=yuv420p dst=640x640", FP_PIX_YUV420P, 640, 640, LB,
                    FP_ANCHOR_CENTER, FP_ORDER_RGB, FP_NORM_SCALE, FP_LAYOUT_NCHW, FP_DTYPE_FLOAT32, {0}};
    run_case(&c);
}

FP_TEST(oracle_generated_nv12_roi_upscale)
{
    OracleCase c = {"gen_nv12_roi", "image=gen:640x360 format=nv12 dst=320x320 roi=101,51,151,97",
                    FP_PIX_NV12, 320, 320, LB, FP_ANCHOR_CENTER, FP_ORDER_RGB, FP_NORM_SCALE, FP_LAYOUT_NCHW,
                    FP_DTYPE_FLOAT32, {101, 51, 151, 97}};
    run_case(&c);
}

FP_TEST(oracle_generated_odd_rgb24_crop_meanstd)
{
    OracleCase c = {"gen_crop", "image=gen:333x251 format=rgb24 dst=224x224 resize=crop norm=meanstd",
                    FP_PIX_RGB24, 224, 224, CR, FP_ANCHOR_CENTER, FP_ORDER_RGB, FP_NORM_MEAN_STD,
                    FP_LAYOUT_NCHW, FP_DTYPE_FLOAT32, {0}};
    run_case(&c);
}

FP_TEST(oracle_building_yuv420p_stretch_u8)
{
    OracleCase c = {"building_yuv", "image=building.jpg format=yuv420p dst=640x384 resize=stretch",
                    FP_PIX_YUV420P, 640, 384, ST, FP_ANCHOR_CENTER, FP_ORDER_RGB, FP_NORM_SCALE, FP_LAYOUT_NCHW,
                    FP_DTYPE_UINT8, {0}};
    run_case(&c);
}

/* YUV drawn directly, far outside the RGB gamut: per-tap clamping must match cvtColor's saturation */
FP_TEST(oracle_generated_out_of_gamut_yuv)
{
    OracleCase c = {"gen_gamut", "image=genyuv:960x540 format=yuv420p dst=416x416", FP_PIX_YUV420P, 416, 416, LB,
                    FP_ANCHOR_CENTER, FP_ORDER_RGB, FP_NORM_SCALE, FP_LAYOUT_NCHW, FP_DTYPE_FLOAT32, {0}};
    run_case(&c);
}

FP_TEST(oracle_generated_out_of_gamut_nv12_upscale)
{
    OracleCase c = {"gen_gamut_nv12", "image=genyuv:200x120 format=nv12 dst=320x320 resize=stretch", FP_PIX_NV12,
                    320, 320, ST, FP_ANCHOR_CENTER, FP_ORDER_RGB, FP_NORM_SCALE, FP_LAYOUT_NCHW, FP_DTYPE_FLOAT32, {0}};
    run_case(&c);
}
