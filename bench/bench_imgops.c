// SPDX-License-Identifier: MIT
// imgops (plain C, no SIMD) vs OpenCV on a 1920x1080 luma plane: box blur, three-box Gaussian, pixelate, INTER_AREA halving.
#include "framepipe/clock.h"
#include "framepipe/imgops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * usage: bench_imgops [--md FILE] [--reps N]
 * Each operation runs N times (default 31) on the same plane; the median and the min-max are printed in
 * microseconds, then bench/bench_imgops_opencv.py times the OpenCV calls that tests/imgops uses as the
 * oracle (cv2.blur, three cv2.blur passes, cv2.resize INTER_AREA and a resize-down/up pixelation) on the same
 * size, in the same run, and the Markdown body for update_results.py (section imgops) goes to FILE.
 */

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct Row {
    const char *name;
    double med, min, max;
} Row;

int main(int argc, char **argv)
{
    const char *md = "/tmp/imgops.md";
    int reps = 31;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--md"))
            md = argv[i + 1];
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
    }
    if (reps < 3 || reps > 1001)
        reps = 31;
    const int w = 1920, h = 1080;
    uint8_t *a = malloc((size_t)w * h), *b = malloc((size_t)(w / 2) * (h / 2));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            a[(size_t)y * w + x] = (uint8_t)((x * 7 + y * 13 + (x * y) % 31) & 255);
    FpPlane p = {a, w, 1, w, h}, half = {b, w / 2, 1, w / 2, h / 2};
    FpRect all = {0, 0, w, h};
    FpImgScratch s = {0};
    Row rows[4] = {{"box blur 15x15 (r 7)", 0, 0, 0}, {"Gaussian sigma 5 (three box passes)", 0, 0, 0},
                   {"pixelate 16x16 cells", 0, 0, 0}, {"INTER_AREA 1920x1080 -> 960x540", 0, 0, 0}};
    double *t = malloc(sizeof(double) * (size_t)reps);
    for (int op = 0; op < 4; op++) {
        for (int i = 0; i < reps; i++) {
            int64_t t0 = fp_clock_ns();
            if (op == 0)
                fp_imgops_box_blur_plane(p, all, 7, &s);
            else if (op == 1) {
                int r[3];
                fp_imgops_gauss_radii(5.0, r);
                for (int k = 0; k < 3; k++)
                    fp_imgops_box_blur_plane(p, all, r[k], &s);
            } else if (op == 2)
                fp_imgops_pixelate_plane(p, all, 16);
            else
                fp_imgops_resize_area_plane(p, half, &s);
            t[i] = (double)(fp_clock_ns() - t0) / 1e3;
        }
        qsort(t, (size_t)reps, sizeof(double), cmp);
        rows[op].med = t[reps / 2], rows[op].min = t[0], rows[op].max = t[reps - 1];
    }
    char cmd[512], line[256];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/bench/bench_imgops_opencv.py %d %d %d", FP_BENCH_SOURCE_DIR, w, h,
             reps);
    FILE *py = popen(cmd, "r");
    double cv[4][3] = {{0}};
    int n = 0;
    while (py && n < 4 && fgets(line, sizeof(line), py))
        if (sscanf(line, "%lf %lf %lf", &cv[n][0], &cv[n][1], &cv[n][2]) == 3)
            n++;
    if (py)
        pclose(py);
    FILE *o = fopen(md, "w");
    if (!o)
        return 1;
    fprintf(o, "One 1920x1080 8-bit plane (a luma plane; the frame functions run this per plane), one thread, "
               "%d runs each, microseconds: median (min-max). framepipe `src/imgops` is plain C (no SIMD); "
               "OpenCV%s is `cv2` from Debian's python3-opencv (its SIMD kernels, cv2.setNumThreads(1)), timed "
               "in-process around the call; pixelation there is INTER_AREA down + INTER_NEAREST up. The machine "
               "was shared with other jobs.\n\n",
            reps, n == 4 ? "" : " (not available)");
    fprintf(o, "| operation | framepipe us | OpenCV us | OpenCV / framepipe |\n|---|---|---|---|\n");
    for (int op = 0; op < 4; op++) {
        if (n == 4)
            fprintf(o, "| %s | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.2f |\n", rows[op].name, rows[op].med,
                    rows[op].min, rows[op].max, cv[op][0], cv[op][1], cv[op][2], cv[op][0] / rows[op].med);
        else
            fprintf(o, "| %s | %.0f (%.0f-%.0f) | - | - |\n", rows[op].name, rows[op].med, rows[op].min,
                    rows[op].max);
    }
    fprintf(o, "\nRe-run: `ninja -C build/release bench/bench_imgops && build/release/bench/bench_imgops --md "
               "/tmp/imgops.md && bench/update_results.py imgops /tmp/imgops.md`.\n");
    fclose(o);
    printf("wrote %s\n", md);
    fp_img_scratch_deinit(&s);
    free(t), free(a), free(b);
    return 0;
}
