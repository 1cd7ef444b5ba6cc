// SPDX-License-Identifier: MIT
// bench/run.py part 1, path (c): one RGB frame from a producer process to a processing process through FpRing, a JSON result back.
/*
 * usage: zc_ring [--frames N] [--warmup N] [--width W] [--height H]
 *
 * The same round trip as bench/zc_node.js (paths a and b), with framepipe's
 * shared-memory ring: the producer reserves a ring slot, fills the frame in
 * it (the work a decoder does: every byte written, value = frame number),
 * commits; the processing process (forked, its own lossless reader) reads
 * the frame in place in the mapping, computes the shared checksum (the byte
 * at every 64th offset, summed), and writes one JSON line back through a
 * pipe; the producer parses it and checks the checksum. Per-frame time: from
 * the start of the fill to the parsed result. One frame in flight at a
 * time, like the seed's request/response. Prints one JSON object on stdout:
 * {"path":"ring","width":W,"height":H,"frames":N,"ms":[per-frame ms...]}.
 */
#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/ring.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what, int rc)
{
    fprintf(stderr, "zc_ring: %s: %s\n", what, rc < 0 ? fp_error_detail(rc) : strerror(errno));
    exit(1);
}

/* The processing both sides of every path agree on: the byte at every 64th offset, summed. */
static uint64_t checksum(const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i += 64)
        s += p[i];
    return s;
}

static int parse_int(const char *arg, const char *name, int lo, int hi)
{
    char *end = NULL;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < lo || v > hi) {
        fprintf(stderr, "zc_ring: %s '%s': want an integer in %d..%d\n", name, arg, lo, hi);
        exit(2);
    }
    return (int)v;
}

/* The processing process: reads every frame in place, answers one JSON line per frame on fd out. */
static void consumer(const char *name, int ready_fd, int out)
{
    FpRing *r = NULL;
    int rc = fp_ring_open(&r, name, FP_RING_LOSSLESS);
    if (rc < 0)
        die("fp_ring_open", rc);
    if (write(ready_fd, "r", 1) != 1)
        _exit(3);
    close(ready_fd);
    for (;;) {
        FpRingView v;
        rc = fp_ring_read(r, &v, -1);
        if (rc == FP_EEND_OF_STREAM)
            break;
        if (rc < 0)
            die("fp_ring_read", rc);
        uint64_t sum = checksum(v.data, v.size);
        uint64_t seq = v.user;
        size_t size = v.size;
        rc = fp_ring_read_end(r, &v);
        char line[160];
        int n = snprintf(line, sizeof(line), "{\"frame\":%" PRIu64 ",\"bytes\":%zu,\"checksum\":%" PRIu64
                         ",\"intact\":%s,\"detections\":[]}\n", seq, size, sum, rc == 0 ? "true" : "false");
        if (write(out, line, (size_t)n) != n)
            _exit(3);
    }
    fp_ring_close(&r);
    _exit(0);
}

int main(int argc, char **argv)
{
    int frames = 200, warmup = 10, width = 1920, height = 1080;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--frames") == 0)
            frames = parse_int(argv[++i], "--frames", 1, 1000000);
        else if (i + 1 < argc && strcmp(argv[i], "--warmup") == 0)
            warmup = parse_int(argv[++i], "--warmup", 0, 1000000);
        else if (i + 1 < argc && strcmp(argv[i], "--width") == 0)
            width = parse_int(argv[++i], "--width", 1, 16384);
        else if (i + 1 < argc && strcmp(argv[i], "--height") == 0)
            height = parse_int(argv[++i], "--height", 1, 16384);
        else {
            fprintf(stderr, "usage: zc_ring [--frames N] [--warmup N] [--width W] [--height H] (bad: '%s')\n",
                    argv[i]);
            return 2;
        }
    }
    size_t frame = (size_t)width * (size_t)height * 3;
    char name[64];
    snprintf(name, sizeof(name), "fp-bench-zc-%d", (int)getpid());
    FpRingConfig cfg = {.slot_count = 2, .width = width, .height = height, .format = FP_PIX_RGB24};
    FpRing *w = NULL;
    int rc = fp_ring_create(&w, name, &cfg);
    if (rc < 0)
        die("fp_ring_create", rc);

    int res[2], ready[2];
    if (pipe(res) < 0 || pipe(ready) < 0)
        die("pipe", 0);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", 0);
    if (pid == 0) {
        close(res[0]);
        close(ready[0]);
        consumer(name, ready[1], res[1]);
    }
    close(res[1]);
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) {
        fprintf(stderr, "zc_ring: the processing process did not open the ring\n");
        return 1;
    }
    close(ready[0]);

    double *ms = calloc((size_t)frames, sizeof(double));
    char line[256];
    int failed = 0;
    for (int k = 0; k < warmup + frames && !failed; k++) {
        int64_t t0 = fp_clock_ns();
        uint8_t *slot = NULL;
        if ((rc = fp_ring_begin_write(w, &slot, -1)) < 0)
            die("fp_ring_begin_write", rc);
        memset(slot, k & 0xff, frame);
        if ((rc = fp_ring_commit(w, frame, t0, (uint64_t)k)) < 0)
            die("fp_ring_commit", rc);
        size_t n = 0;
        while (n == 0 || line[n - 1] != '\n') {
            ssize_t got = read(res[0], line + n, sizeof(line) - 1 - n);
            if (got <= 0) {
                fprintf(stderr, "zc_ring: the processing process stopped answering at frame %d\n", k);
                failed = 1;
                break;
            }
            n += (size_t)got;
        }
        if (failed)
            break;
        line[n] = '\0';
        int64_t t1 = fp_clock_ns();
        /* the producer parses the JSON result and checks it */
        const char *cs = strstr(line, "\"checksum\":");
        uint64_t want = (uint64_t)(k & 0xff) * ((frame + 63) / 64);
        if (!cs || strtoull(cs + 11, NULL, 10) != want || !strstr(line, "\"intact\":true")) {
            fprintf(stderr, "zc_ring: frame %d: wrong result %s", k, line);
            failed = 1;
        }
        if (k >= warmup)
            ms[k - warmup] = (double)(t1 - t0) / 1e6;
    }
    fp_ring_destroy(&w); /* readers see the end of the stream */
    int st = 0;
    waitpid(pid, &st, 0);
    if (failed) {
        free(ms);
        return 1;
    }
    printf("{\"path\":\"ring\",\"width\":%d,\"height\":%d,\"frames\":%d,\"ms\":[", width, height, frames);
    for (int i = 0; i < frames; i++)
        printf("%s%.4f", i ? "," : "", ms[i]);
    printf("]}\n");
    free(ms);
    return 0;
}
