// SPDX-License-Identifier: MIT
// Helpers for the inference tests: real images (JPEG/PNG) into model tensors, and the independent onnxruntime-node reference.
#include "infer_util.h"

#include "fp_test.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <turbojpeg.h>
#include <unistd.h>

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    CHECK(buf);
    CHECK_EQ(fread(buf, 1, (size_t)n, f), n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

TestImage test_image_load(const char *path)
{
    TestImage img = {0};
    size_t len = strlen(path);
    if (len > 4 && strcmp(path + len - 4, ".png") == 0) {
        png_image p;
        memset(&p, 0, sizeof(p));
        p.version = PNG_IMAGE_VERSION;
        CHECK_MSG(png_image_begin_read_from_file(&p, path), "%s: %s", path, p.message);
        p.format = PNG_FORMAT_RGB;
        img.width = (int)p.width;
        img.height = (int)p.height;
        img.rgb = malloc(PNG_IMAGE_SIZE(p));
        CHECK(img.rgb);
        CHECK_MSG(png_image_finish_read(&p, NULL, img.rgb, 0, NULL), "%s: %s", path, p.message);
        return img;
    }
    size_t n;
    unsigned char *jpg = read_file(path, &n);
    tjhandle tj = tjInitDecompress();
    CHECK(tj);
    int sub, cs;
    CHECK_MSG(tjDecompressHeader3(tj, jpg, (unsigned long)n, &img.width, &img.height, &sub, &cs) == 0, "%s: %s",
              path, tjGetErrorStr2(tj));
    img.rgb = malloc((size_t)img.width * (size_t)img.height * 3);
    CHECK(img.rgb);
    CHECK_MSG(tjDecompress2(tj, jpg, (unsigned long)n, img.rgb, img.width, 0, img.height, TJPF_RGB,
                            TJFLAG_ACCURATEDCT) == 0, "%s: %s", path, tjGetErrorStr2(tj));
    tjDestroy(tj);
    free(jpg);
    return img;
}

void test_image_free(TestImage *img)
{
    free(img->rgb);
    img->rgb = NULL;
}

TestLetterbox test_letterbox(const TestImage *img, float *dst, int s, FpLayout layout, float lo, float hi, float pad)
{
    TestLetterbox lb;
    lb.scale = (float)s / (float)(img->width > img->height ? img->width : img->height);
    int rw = (int)lroundf((float)img->width * lb.scale), rh = (int)lroundf((float)img->height * lb.scale);
    lb.pad_x = (s - rw) / 2;
    lb.pad_y = (s - rh) / 2;
    float k = (hi - lo) / 255.0f;
    float sx = (float)img->width / (float)rw, sy = (float)img->height / (float)rh;
    for (int y = 0; y < s; y++) {
        for (int x = 0; x < s; x++) {
            float v[3] = {pad, pad, pad};
            int ix = x - lb.pad_x, iy = y - lb.pad_y;
            if (ix >= 0 && ix < rw && iy >= 0 && iy < rh) {
                /* Half-pixel centres, like OpenCV's INTER_LINEAR. */
                float fx = ((float)ix + 0.5f) * sx - 0.5f, fy = ((float)iy + 0.5f) * sy - 0.5f;
                if (fx < 0)
                    fx = 0;
                if (fy < 0)
                    fy = 0;
                int x0 = (int)fx, y0 = (int)fy;
                int x1 = x0 + 1 < img->width ? x0 + 1 : x0, y1 = y0 + 1 < img->height ? y0 + 1 : y0;
                float ax = fx - (float)x0, ay = fy - (float)y0;
                for (int c = 0; c < 3; c++) {
                    const uint8_t *p = img->rgb;
                    int w = img->width;
                    float top = p[(y0 * w + x0) * 3 + c] * (1 - ax) + p[(y0 * w + x1) * 3 + c] * ax;
                    float bot = p[(y1 * w + x0) * 3 + c] * (1 - ax) + p[(y1 * w + x1) * 3 + c] * ax;
                    v[c] = (top * (1 - ay) + bot * ay) * k + lo;
                }
            }
            for (int c = 0; c < 3; c++) {
                size_t i = layout == FP_LAYOUT_NHWC ? ((size_t)y * s + x) * 3 + c
                                                    : (size_t)c * s * s + (size_t)y * s + x;
                dst[i] = v[c];
            }
        }
    }
    return lb;
}

static char path_buf[4][1024];
static int path_next;

static const char *fmt_path(const char *fmt, const char *a, const char *b)
{
    char *p = path_buf[path_next++ % 4];
    snprintf(p, sizeof(path_buf[0]), fmt, a, b);
    return p;
}

const char *test_sample(const char *name)
{
    const char *p = fmt_path("%s/%s", "/usr/share/doc/opencv-doc/examples/data", name);
    if (access(p, R_OK) != 0)
        fp_test_skip("%s missing (Debian package opencv-doc)", p);
    return p;
}

const char *test_blazeface(int size)
{
    const char *p = fmt_path("%s/models/blazeface/%s", fp_test_cache_dir(),
                             size == 128 ? "face_detection_front_128x128_barracuda.onnx"
                                         : "face_detection_back_256x256_barracuda.onnx");
    if (access(p, R_OK) != 0)
        fp_test_skip("%s missing: run scripts/setup.sh", p);
    return p;
}

const char *test_model_path(const char *name)
{
    return fmt_path("%s/models/%s", fp_test_source_dir(), name);
}

void test_ort_reference(const char *model, const float *input, int batch, const int64_t d[3], bool perslot,
                        int n_out, float **outs, size_t *out_len)
{
    char mod[1024];
    snprintf(mod, sizeof(mod), "%s/onnxruntime-node/node_modules/onnxruntime-node", fp_test_cache_dir());
    if (access(mod, R_OK) != 0)
        fp_test_skip("%s missing: run scripts/setup.sh", mod);
    if (system("command -v node >/dev/null 2>&1") != 0)
        fp_test_skip("node (Node.js) is not installed");
    const char *dir = fp_test_tmpdir();
    char in[1024], cmd[4096];
    snprintf(in, sizeof(in), "%s/ref_in.bin", dir);
    FILE *f = fopen(in, "wb");
    CHECK(f);
    size_t n = (size_t)batch * (size_t)(d[0] * d[1] * d[2]);
    CHECK_EQ(fwrite(input, sizeof(float), n, f), n);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "env -u ASAN_OPTIONS -u LD_PRELOAD node '%s/tests/infer/ort_ref.js' '%s' '%s' '%s' %d %lld %lld %lld %s 1 "
             ">'%s/ref.log' 2>&1",
             fp_test_source_dir(), model, in, dir, batch, (long long)d[0], (long long)d[1], (long long)d[2],
             perslot ? "perslot" : "whole", dir);
    int rc = system(cmd);
    if (rc != 0) {
        char log[1024];
        snprintf(log, sizeof(log), "%s/ref.log", dir);
        size_t ln = 0;
        unsigned char *txt = read_file(log, &ln);
        txt[ln] = 0;
        fp__test_fail(__FILE__, __LINE__, "onnxruntime-node reference failed (%d): %s", rc, (char *)txt);
    }
    for (int i = 0; i < n_out; i++) {
        char p[1024];
        snprintf(p, sizeof(p), "%s/out%d.bin", dir, i);
        size_t len;
        outs[i] = (float *)read_file(p, &len);
        out_len[i] = len / sizeof(float);
    }
}

double test_max_rel_diff(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        if (d > worst || d != d)
            worst = d != d ? INFINITY : d;
    }
    return worst;
}
