// SPDX-License-Identifier: MIT
// Test media for the ingest tests: generates and caches clips with the ffmpeg CLI, reads the burned-in frame counter.
#include "media.h"

#include "fp_test.h"
#include "fp_test_spawn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *fp_media_clip(const char *codec, int w, int h, int frames, int fps, const char *container)
{
    char dir[512], path[768], tmp[800], vf[1024], size[32], rate[16], nframes[16];
    snprintf(dir, sizeof(dir), "%s", fp_test_cache_dir());
    mkdir(dir, 0755);
    snprintf(dir, sizeof(dir), "%s/ingest-media", fp_test_cache_dir());
    mkdir(dir, 0755);
    int faststart = !strcmp(container, "mp4f");
    const char *ext = faststart ? "mp4" : container;
    snprintf(path, sizeof(path), "%s/%s-%dx%d-%d-%dfps%s.%s", dir, codec, w, h, frames, fps,
             faststart ? "-fs" : "", ext);
    struct stat sb;
    if (stat(path, &sb) == 0 && sb.st_size > 0)
        return strdup(path);
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp.%s", path, (int)getpid(), ext);
    snprintf(vf, sizeof(vf),
             "format=yuv420p,"
             "geq=lum='if(lt(Y,16),if(mod(floor(N/pow(2,floor(X/16))),2),235,16),lum(X,Y))'"
             ":cb='if(lt(Y,8),128,cb(X,Y))':cr='if(lt(Y,8),128,cr(X,Y))'"
             "%s",
             access("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", R_OK) == 0
                 ? ",drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
                   ":text=%{frame_num}:x=8:y=24:fontsize=20:fontcolor=white:box=1:boxcolor=black"
                 : "");
    if (!strcmp(codec, "mjpeg"))
        strcat(vf, ",format=yuvj420p");
    snprintf(size, sizeof(size), "testsrc2=size=%dx%d:rate=%d", w, h, fps);
    snprintf(rate, sizeof(rate), "%d", fps);
    snprintf(nframes, sizeof(nframes), "%d", frames);
    const char *argv[40] = {"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                            "-f", "lavfi", "-i", size, "-vf", vf, "-frames:v", nframes};
    int n = 14;
    if (!strcmp(codec, "h264")) {
        const char *a[] = {"-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-g", rate, "-bf", "2"};
        memcpy(argv + n, a, sizeof(a)), n += 10;
    } else if (!strcmp(codec, "hevc")) {
        const char *a[] = {"-c:v", "libx265", "-preset", "veryfast", "-crf", "18",
                           "-x265-params", "log-level=none", "-g", rate};
        memcpy(argv + n, a, sizeof(a)), n += 10;
        if (strcmp(container, "h264") && strcmp(ext, "avi"))
            argv[n++] = "-tag:v", argv[n++] = "hvc1";
    } else {
        const char *a[] = {"-c:v", "mjpeg", "-q:v", "2"};
        memcpy(argv + n, a, sizeof(a)), n += 4;
    }
    if (faststart)
        argv[n++] = "-movflags", argv[n++] = "+faststart";
    if (!strcmp(container, "h264"))
        argv[n++] = "-f", argv[n++] = "h264";
    argv[n++] = tmp;
    argv[n] = NULL;
    int rc = fp_test_run(argv, NULL, NULL);
    CHECK_MSG(rc == 0, "ffmpeg failed (%d) generating %s", rc, path);
    CHECK_MSG(rename(tmp, path) == 0, "rename %s: %s", tmp, strerror(errno));
    return strdup(path);
}

int fp_media_counter(const FpFrame *f)
{
    if (!f || !f->data[0] || f->height < 16)
        return -1;
    if (f->format != FP_PIX_YUV420P && f->format != FP_PIX_NV12 && f->format != FP_PIX_GRAY8)
        return -1;
    int bits = f->width / 16;
    if (bits > 24)
        bits = 24;
    int v = 0;
    for (int k = 0; k < bits; k++) {
        int y = f->data[0][8 * f->linesize[0] + 16 * k + 8];
        if (y > 180)
            v |= 1 << k;
        else if (y > 70)
            return -1; /* neither black nor white: not a counter */
    }
    return v;
}

unsigned char *fp_media_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (buf)
        *len = (size_t)n;
    return buf;
}

int fp_media_write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t w = fwrite(data, 1, len, fp);
    return fclose(fp) == 0 && w == len ? 0 : -1;
}

FpPool *fp_media_pool(size_t class_size, unsigned max_buffers)
{
    FpPoolConfig pc = {0};
    pc.name = "test-frames";
    pc.class_size[0] = class_size;
    pc.n_classes = 1;
    pc.prealloc = 2;
    pc.max_buffers = max_buffers;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &pc));
    return p;
}

pid_t fp_media_rtsp_server_start(int port, const char *clip)
{
    char exe[600];
    snprintf(exe, sizeof(exe), "%s/tests/ingest/fp_rtsp_server", fp_test_build_dir());
    if (access(exe, X_OK) != 0)
        fp_test_skip("the RTSP test server was not built (gst-rtsp-server missing)");
    char ports[16], out[600];
    snprintf(ports, sizeof(ports), "%d", port);
    snprintf(out, sizeof(out), "%s/rtsp-server-%d.out", fp_test_tmpdir(), port);
    const char *argv[] = {exe, ports, clip, NULL};
    FpTestSpawnOptions o = {.stdout_path = out};
    pid_t pid = fp_test_spawn(argv, &o);
    int rc = fp_test_wait_line(pid, out, "READY", 10000);
    CHECK_MSG(rc == 0, "RTSP server on port %d did not start (%s)", port,
              rc == -ECHILD ? "it exited" : "no READY in 10 s");
    return pid;
}

char *fp_media_switch_clip(int w1, int h1, int n1, int w2, int h2, int n2, const char *name)
{
    char *a = fp_media_clip("h264", w1, h1, n1, 25, "h264");
    char *b = fp_media_clip("h264", w2, h2, n2, 25, "h264");
    size_t la, lb;
    unsigned char *da = fp_media_read_file(a, &la), *db = fp_media_read_file(b, &lb);
    CHECK(da && db);
    unsigned char *cat = malloc(la + lb);
    CHECK(cat != NULL);
    memcpy(cat, da, la);
    memcpy(cat + la, db, lb);
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", fp_test_tmpdir(), name);
    CHECK_EQ(fp_media_write_file(path, cat, la + lb), 0);
    free(da), free(db), free(cat), free(a), free(b);
    return strdup(path);
}
