// SPDX-License-Identifier: MIT
// The worker role's decode, before and after issue 14's second pass: tjDecompress2 to an RGB picture + fp_letterbox_run into the slot, vs src/dist/slot.c (libjpeg scanlines converted straight into the slot). Side by side, interleaved, one run.
#include "../src/dist/slot.h"
#include "framepipe/clock.h"
#include "framepipe/prep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

/*
 * usage: bench_dist_decode [--md FILE] [--reps N] [JPEG]
 * The pictures: 32 crops (side 128 and 256, the BlazeFace inputs) of JPEG (default opencv-doc's messi5.jpg),
 * each JPEG-encoded at quality 85, 4:2:0, as the camera role sends them. Each round decodes the 32 pictures
 * by both paths (alternating which goes first) into a float32 NCHW slot normalised to [-1, 1] (BlazeFace);
 * the per-frame time of a round is its total / 32. Medians (min-max) of N rounds (default 31), milliseconds
 * per frame; raw frames (conversion only) likewise. Markdown to FILE (default /tmp/dist_decode.md).
 */

#define N_PICS 32

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void stats(double *v, int n, double *med, double *lo, double *hi)
{
    qsort(v, (size_t)n, sizeof(double), cmp);
    *med = v[n / 2], *lo = v[0], *hi = v[n - 1];
}

int main(int argc, char **argv)
{
    const char *md = "/tmp/dist_decode.md", *path = "/usr/share/doc/opencv-doc/examples/data/messi5.jpg";
    int reps = 31;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--md") && i + 1 < argc)
            md = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else
            path = argv[i];
    }
    if (reps < 3 || reps > 1001)
        reps = 31;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_dist_decode: cannot open %s\n", path);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long flen = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *src = malloc((size_t)flen);
    if (!src || fread(src, 1, (size_t)flen, f) != (size_t)flen)
        return 2;
    fclose(f);
    tjhandle tjd = tjInitDecompress(), tjc = tjInitCompress();
    int sw, sh, sub, cs;
    if (tjDecompressHeader3(tjd, src, (unsigned long)flen, &sw, &sh, &sub, &cs) != 0 || sw < 256 || sh < 256) {
        fprintf(stderr, "bench_dist_decode: %s: not a JPEG of at least 256x256\n", path);
        return 2;
    }
    uint8_t *whole = malloc((size_t)sw * (size_t)sh * 3);
    tjDecompress2(tjd, src, (unsigned long)flen, whole, sw, 0, sh, TJPF_RGB, 0);
    FILE *out = fopen(md, "w");
    if (!out)
        return 2;
    double load[1] = {0};
    getloadavg(load, 1);
    fprintf(out, "## Distributed worker: decoding a frame message into its batch-tensor slot\n\n"
                 "The worker role's decode, before and after issue 14's second pass, side by side in one run "
                 "(`bench/bench_dist_decode.c`, release build): before, `tjDecompress2` (TJFLAG_FASTDCT) into an RGB "
                 "picture, then `fp_letterbox_run` (the SIMD prep kernel) into the slot; after, `src/dist/slot.c`: "
                 "libjpeg scanlines converted row by row straight into the slot (three 256-entry tables), raw "
                 "frames converted by the prep kernel straight from the message. The slot: float32 NCHW in "
                 "[-1, 1] (BlazeFace). %d crops of %s, encoded as the camera role does (quality 85, 4:2:0); each "
                 "round decodes all of them by both paths (the first alternating); ms per frame, median (min-max) of "
                 "%d rounds. One thread on a 2-CPU machine shared with other jobs (load average %.1f at the "
                 "start): compare the ratios.\n\n",
            N_PICS, path, reps, load[0]);
    fprintf(out, "| input | payload | before: tjDecompress2 + fp_letterbox_run ms/frame | after: straight into the slot ms/frame | after / before |\n|---|---|---|---|---|\n");
    const int sides[] = {128, 256};
    for (int si = 0; si < 2; si++) {
        int side = sides[si];
        unsigned char *jpeg[N_PICS];
        unsigned long jlen[N_PICS];
        uint8_t *raw[N_PICS];
        size_t total = 0;
        for (int k = 0; k < N_PICS; k++) {
            int x0 = (sw - side) * k / (N_PICS - 1), y0 = (sh - side) * ((k * 7) % N_PICS) / (N_PICS - 1);
            raw[k] = malloc((size_t)side * (size_t)side * 3);
            for (int y = 0; y < side; y++)
                memcpy(raw[k] + (size_t)y * (size_t)side * 3, whole + ((size_t)(y0 + y) * (size_t)sw + (size_t)x0) * 3,
                       (size_t)side * 3);
            jpeg[k] = NULL, jlen[k] = 0;
            tjCompress2(tjc, raw[k], side, 0, side, TJPF_RGB, &jpeg[k], &jlen[k], TJSAMP_420, 85, 0);
            total += jlen[k];
        }
        FpPrepOptions o;
        fp_prep_options_init(&o, side, side);
        for (int c = 0; c < 3; c++)
            o.scale[c] = 2.f / 255.f, o.offset[c] = -1.f, o.pad[c] = 0.f;
        size_t bytes = fp_prep_slot_bytes(&o);
        uint8_t *slot = malloc(bytes), *pic = malloc((size_t)side * (size_t)side * 3);
        FpLetterbox *lb = NULL;
        FpSlotDecoder *d = NULL;
        if (fp_letterbox_create(&lb, side, side, FP_PIX_RGB24, &o) < 0 || fp__slot_decoder_create(&d, &o) < 0)
            return 2;
        const FpFrame frame = {.data = {pic}, .linesize = {side * 3}, .width = side, .height = side,
                               .format = FP_PIX_RGB24};
        for (int enc = 0; enc < 2; enc++) {
            double *before = malloc(sizeof(double) * (size_t)reps), *after = malloc(sizeof(double) * (size_t)reps);
            for (int r = 0; r < reps + 1; r++) {
                double tb = 0, ta = 0;
                for (int order = 0; order < 2; order++) {
                    int old = (order == 0) == (r % 2 == 0);
                    int64_t t0 = fp_clock_ns();
                    for (int k = 0; k < N_PICS; k++) {
                        if (old) {
                            if (enc == 0)
                                tjDecompress2(tjd, jpeg[k], jlen[k], pic, side, 0, side, TJPF_RGB, TJFLAG_FASTDCT);
                            else
                                memcpy(pic, raw[k], (size_t)side * (size_t)side * 3);
                            fp_letterbox_run(lb, &frame, slot, bytes);
                        } else if (enc == 0) {
                            fp__slot_decode_jpeg(d, jpeg[k], jlen[k], slot);
                        } else {
                            fp__slot_convert_raw(d, raw[k], (size_t)side * (size_t)side * 3, slot);
                        }
                    }
                    double ms = (double)(fp_clock_ns() - t0) / 1e6 / N_PICS;
                    if (old)
                        tb = ms;
                    else
                        ta = ms;
                }
                if (r > 0) /* the first round warms the caches */
                    before[r - 1] = tb, after[r - 1] = ta;
            }
            double bm, bl, bh, am, al, ah;
            stats(before, reps, &bm, &bl, &bh);
            stats(after, reps, &am, &al, &ah);
            char payload[64];
            if (enc == 0)
                snprintf(payload, sizeof(payload), "JPEG q85 4:2:0, %zu B mean", total / N_PICS);
            else
                snprintf(payload, sizeof(payload), "raw RGB, %d B", side * side * 3);
            fprintf(out, "| %dx%d float32 NCHW | %s | %.4f (%.4f-%.4f) | %.4f (%.4f-%.4f) | %.2f |\n", side, side, payload,
                    bm, bl, bh, am, al, ah, am / bm);
            printf("%dx%d %s: before %.4f ms, after %.4f ms per frame (%.2fx)\n", side, side, payload, bm, am, am / bm);
            free(before), free(after);
        }
        fp_letterbox_destroy(&lb);
        fp__slot_decoder_destroy(&d);
        free(slot), free(pic);
        for (int k = 0; k < N_PICS; k++)
            tjFree(jpeg[k]), free(raw[k]);
    }
    fprintf(out, "\nRe-run: `ninja -C build/release bench/bench_dist_decode && build/release/bench/bench_dist_decode "
                 "--md /tmp/dist_decode.md && bench/update_results.py dist_decode /tmp/dist_decode.md`.\n");
    fclose(out);
    tjDestroy(tjd), tjDestroy(tjc);
    free(whole), free(src);
    return 0;
}
