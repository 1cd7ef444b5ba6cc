// SPDX-License-Identifier: MIT
// The camera role's per-frame path (letterbox, JPEG into its preallocated buffer, XADD) makes no allocator call in framepipe's own code: the role run over 24 and over 96 frames against a real redis-server makes the same number of calls.
#include "fp_alloc_count.h"
#include "fp_test.h"
#include "fp_test_spawn.h"

#include "framepipe/config.h"
#include "framepipe/dist.h"
#include "framepipe/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Counted: every malloc/calloc/realloc/free/aligned_alloc/mmap made from
 * libframepipe's objects (-Wl,--wrap, tests/harness/fp_alloc_count.h).
 * Not counted: calls inside shared libraries: hiredis (its command buffer
 * and reply per XADD), libturbojpeg (tjCompress2 with TJFLAG_NOREALLOC
 * writes into the role's buffer; libjpeg's per-image pools are its own),
 * FFmpeg's decoder. The difference between the two runs is what the 72
 * extra frames cost framepipe's code: it must be 0.
 */

static const char *MEGAMIND = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi";

static void clip(const char *path, int frames)
{
    char n[16];
    snprintf(n, sizeof(n), "%d", frames);
    const char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", MEGAMIND, "-frames:v", n,
                          "-c:v", "ffv1", path, NULL};
    CHECK_MSG(fp_test_run(argv, NULL, NULL) == 0, "ffmpeg could not cut %s", path);
}

static long xlen(int port, const char *dir)
{
    char p[16], out[512];
    snprintf(p, sizeof(p), "%d", port);
    snprintf(out, sizeof(out), "%s/xlen.txt", dir);
    const char *argv[] = {"redis-cli", "-p", p, "XLEN", "framepipe:dist:frames", NULL};
    CHECK(fp_test_run(argv, out, NULL) == 0);
    FILE *f = fopen(out, "r");
    long n = -1;
    CHECK(f && fscanf(f, "%ld", &n) == 1);
    fclose(f);
    return n;
}

/* Allocator calls of one camera role run over `path` (FLUSHALL first); the frames it sent in *sent. */
static unsigned long run_camera(const char *path, int port, const char *model, const char *dir, long *sent)
{
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    const char *flush[] = {"redis-cli", "-p", p, "FLUSHALL", NULL};
    CHECK(fp_test_run(flush, "/dev/null", NULL) == 0);
    char text[2048];
    snprintf(text, sizeof(text),
             "cameras:\n  - {name: cam0, url: %s, policy: lossless}\nmodel: {path: %s}\n"
             "redis: {url: \"redis://127.0.0.1:%d\", maxlen: 100000}\n",
             path, model, port);
    FpConfigFile *cf = NULL;
    int rc = fp_config_parse(&cf, text, strlen(text), "camera.yaml");
    CHECK_MSG(rc == 0, "%s", fp_error_detail(rc));
    FpDistRoleOptions opt;
    memset(&opt, 0, sizeof(opt));
    opt.connect_give_up_ns = 30000000000LL;
    unsigned long before = fp_alloc_calls();
    rc = fp_dist_camera_run(fp_config_get(cf), &opt);
    unsigned long calls = fp_alloc_calls() - before;
    CHECK_MSG(rc == 0, "camera role: %s", fp_error_detail(rc));
    fp_config_destroy(&cf);
    *sent = xlen(port, dir);
    return calls;
}

FP_TEST_TIMED(camera_role_allocates_nothing_per_frame, 300)
{
    char model[1024];
    snprintf(model, sizeof(model), "%s/models/blazeface/face_detection_front_128x128_barracuda.onnx",
             fp_test_cache_dir());
    if (access("/usr/bin/redis-server", X_OK) != 0 || access(MEGAMIND, R_OK) != 0 || access(model, R_OK) != 0) {
        printf("SKIP: needs /usr/bin/redis-server, %s and %s\n", MEGAMIND, model);
        return;
    }
    char dir[] = "/tmp/fp-camera-alloc-XXXXXX";
    CHECK(mkdtemp(dir));
    char short_clip[600], long_clip[600];
    snprintf(short_clip, sizeof(short_clip), "%s/short.mkv", dir);
    snprintf(long_clip, sizeof(long_clip), "%s/long.mkv", dir);
    clip(short_clip, 24);
    clip(long_clip, 96);
    int port = fp_test_free_port();
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    const char *argv[] = {"/usr/bin/redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", dir, NULL};
    pid_t redis = fp_test_spawn(argv, &(FpTestSpawnOptions){.stdout_path = "/dev/null"});
    CHECK_EQ(fp_test_wait_port(redis, port, 30000), 0);

    long n_short = 0, n_long = 0;
    run_camera(short_clip, port, model, dir, &n_short); /* warms what is made once per process (FFmpeg, ORT) */
    unsigned long a_short = run_camera(short_clip, port, model, dir, &n_short);
    unsigned long a_long = run_camera(long_clip, port, model, dir, &n_long);
    CHECK_EQ(n_short, 24);
    CHECK_EQ(n_long, 96);
    printf("allocator calls in framepipe's code: %lu for 24 frames, %lu for 96 frames\n", a_short, a_long);
    CHECK_MSG(a_long == a_short, "%lu allocator calls for 24 frames but %lu for 96: %ld per extra frame", a_short,
              a_long, (long)(a_long - a_short) / 72);
    CHECK_EQ(fp_test_stop(redis, 5000), 0);
    char rm[700];
    snprintf(rm, sizeof(rm), "%s/short.mkv", dir);
    unlink(rm);
    unlink(long_clip);
    snprintf(rm, sizeof(rm), "%s/xlen.txt", dir);
    unlink(rm);
    rmdir(dir);
}
