// SPDX-License-Identifier: MIT
// Multi-process and multi-thread tests of FpRing (also run under ThreadSanitizer): wake-ups, crashes, restarts.
#include "ring_test_util.h"

#include <pthread.h>
#include <sys/resource.h>

#define NAME(tag) char name[128]; ring_test_name(name, sizeof(name), tag)

/* A child process that writes `n` frames of `w`x`h` RGB (pattern of the frame number). */
static pid_t spawn_writer(const char *name, int w, int h, uint32_t slots, int n, int ready_fd,
                          int go_fd, int64_t gap_ns, int exit_without_close)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    FpRingConfig cfg = ring_rgb_cfg(slots, w, h);
    FpRing *ring = NULL;
    if (fp_ring_create(&ring, name, &cfg) < 0) {
        fprintf(stderr, "writer: %s\n", fp_error_detail(-1));
        _exit(2);
    }
    pipe_send(ready_fd, 'r');
    if (go_fd >= 0 && pipe_recv(go_fd) != 'g')
        _exit(3);
    for (int k = 1; k <= n; k++) {
        uint8_t *slot;
        int rc = fp_ring_begin_write(ring, &slot, 10 * 1000000000LL);
        if (rc < 0) {
            fprintf(stderr, "writer: frame %d: %s\n", k, fp_error_detail(rc));
            _exit(4);
        }
        ring_fill(slot, w, h, 3, w * 3, (uint64_t)k);
        fp_ring_commit(ring, (size_t)w * h * 3, k, (uint64_t)k);
        if (gap_ns)
            fp_sleep_ns(gap_ns);
    }
    pipe_send(ready_fd, 'd');
    if (exit_without_close) {
        pause();
        _exit(0);
    }
    fp_ring_destroy(&ring);
    _exit(0);
}

FP_TEST_TIMED(conc_ring_lossless_across_processes_delivers_every_frame_in_order, 90)
{
    NAME("lossless");
    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    const int N = 300, W = 40, H = 30;
    pid_t pid = spawn_writer(name, W, H, 4, N, ready[1], go[0], 0, 0);
    CHECK_EQ(pipe_recv(ready[0]), 'r');
    FpRing *r = NULL;
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LOSSLESS));
    pipe_send(go[1], 'g');
    for (int k = 1; k <= N; k++) {
        FpRingView v;
        CHECK_OK(fp_ring_read(r, &v, 10 * 1000000000LL));
        CHECK_EQ(v.seq, k);
        CHECK_EQ(v.user, k);
        CHECK_EQ(v.skipped, 0);
        CHECK_EQ(ring_check(v.data, W, H, 3, W * 3, (uint64_t)k), 0);
        if (k % 50 == 0)
            fp_sleep_ns(20 * 1000000); /* a slow spell: the writer must wait, not drop */
        CHECK_OK(fp_ring_read_end(r, &v));
    }
    FpRingView v;
    CHECK_EQ(fp_ring_read(r, &v, 10 * 1000000000LL), FP_EEND_OF_STREAM);
    FpRingStats s;
    fp_ring_get_stats(r, &s);
    CHECK_EQ(s.read, N);
    CHECK_EQ(s.skipped, 0);
    CHECK_EQ(s.overwritten, 0);
    fp_ring_close(&r);
    CHECK_EQ(child_wait(pid), 0);
}

static double thread_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

FP_TEST(conc_ring_blocked_reader_sleeps_and_is_woken_by_another_process)
{
    NAME("wake");
    FpRingConfig cfg = ring_opaque_cfg(2, 64);
    FpRing *w = NULL, *r = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LATEST));
    pid_t pid = fork();
    if (pid == 0) {
        /* the writer handle was inherited; the child publishes with it after a pause */
        fp_sleep_ns(400 * 1000000LL);
        _exit(fp_ring_write(w, "wake", 5, 0, 42, 0) == 0 ? 0 : 1);
    }
    double cpu0 = thread_cpu_ms();
    int64_t t0 = fp_clock_ns();
    FpRingView v;
    CHECK_OK(fp_ring_read(r, &v, 10 * 1000000000LL));
    double waited_ms = (fp_clock_ns() - t0) / 1e6, cpu_ms = thread_cpu_ms() - cpu0;
    CHECK_EQ(v.user, 42);
    CHECK(strcmp((const char *)v.data, "wake") == 0);
    CHECK_OK(fp_ring_read_end(r, &v));
    CHECK_MSG(waited_ms >= 300, "read returned after %.1f ms, before the frame was written", waited_ms);
    /* a spinning reader would burn ~400 ms of CPU; a futex sleeper almost none */
    CHECK_MSG(cpu_ms < 100, "reader used %.1f ms CPU while waiting %.1f ms", cpu_ms, waited_ms);
    CHECK_EQ(child_wait(pid), 0);
    fp_ring_close(&r);
    fp_ring_destroy(&w);
}

FP_TEST_TIMED(conc_ring_dead_lossless_reader_does_not_block_the_writer, 60)
{
    NAME("deadrd");
    FpRingConfig cfg = ring_opaque_cfg(4, 16);
    FpRing *w = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        FpRing *r = NULL;
        if (fp_ring_open(&r, name, FP_RING_LOSSLESS) < 0)
            _exit(2);
        FpRingView v;
        pipe_send(ready[1], 'r');
        fp_ring_read(r, &v, 10 * 1000000000LL); /* holds frame 1, never releases it */
        pipe_send(ready[1], 'h');
        fp_sleep_ns(300 * 1000000LL);
        kill(getpid(), SIGKILL); /* crashes while holding the frame */
        _exit(0);
    }
    CHECK_EQ(pipe_recv(ready[0]), 'r');
    uint64_t k = 1;
    CHECK_OK(fp_ring_write(w, &k, 8, 0, k, 0));
    CHECK_EQ(pipe_recv(ready[0]), 'h');
    for (k = 2; k <= 4; k++)
        CHECK_OK(fp_ring_write(w, &k, 8, 0, k, 0));
    CHECK_EQ(fp_ring_write(w, &k, 8, 0, k, 0), FP_EWOULD_BLOCK); /* the live reader holds it back */
    /* the writer blocks until the reader dies (not reaped: a zombie counts as dead), then drops it */
    for (k = 5; k <= 16; k++)
        CHECK_OK(fp_ring_write(w, &k, 8, 0, k, 10 * 1000000000LL));
    FpRingStats s;
    fp_ring_get_stats(w, &s);
    CHECK_EQ(s.dropped_readers, 1);
    CHECK(s.writer_waits >= 1);
    CHECK_EQ(child_wait(pid), 128 + SIGKILL);
    fp_ring_destroy(&w);
}

FP_TEST_TIMED(conc_ring_writer_restart_bumps_generation_and_readers_follow, 60)
{
    NAME("restart");
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t w1 = spawn_writer(name, 16, 8, 3, 2, ready[1], -1, 0, 1);
    CHECK_EQ(pipe_recv(ready[0]), 'r');
    FpRing *lat = NULL, *ll = NULL;
    CHECK_OK(fp_ring_open(&lat, name, FP_RING_LATEST));
    CHECK_OK(fp_ring_open(&ll, name, FP_RING_LOSSLESS));
    CHECK_EQ(pipe_recv(ready[0]), 'd');
    FpRingView v;
    CHECK_OK(fp_ring_read(lat, &v, 0));
    CHECK_EQ(v.width, 16);
    CHECK_OK(fp_ring_read_end(lat, &v));
    /* the writer crashes; a new one takes the name with a bigger geometry */
    kill(w1, SIGKILL);
    CHECK_EQ(child_wait(w1), 128 + SIGKILL);
    int go[2];
    CHECK(pipe(go) == 0);
    pid_t w2 = spawn_writer(name, 64, 48, 3, 5, ready[1], go[0], 0, 1);
    CHECK_EQ(pipe_recv(ready[0]), 'r');
    /* both readers learn of the restart once, re-mapped to the new size */
    CHECK_EQ(fp_ring_read(lat, &v, 5 * 1000000000LL), FP_EGENERATION);
    CHECK(strstr(fp_error_detail(FP_EGENERATION), name) != NULL);
    int rc;
    while ((rc = fp_ring_read(ll, &v, 5 * 1000000000LL)) == 0) /* frames of the old writer first */
        CHECK_OK(fp_ring_read_end(ll, &v));
    CHECK_EQ(rc, FP_EGENERATION);
    FpRingInfo info;
    fp_ring_get_info(lat, &info);
    CHECK_EQ(info.generation, 2);
    CHECK_EQ(info.width, 64);
    CHECK(info.total_size > 3 * 64 * 48 * 3);
    pipe_send(go[1], 'g');
    for (uint64_t k = 1; k <= 5; k++) { /* the lossless reader holds the new writer back: read as it writes */
        CHECK_OK(fp_ring_read(ll, &v, 5 * 1000000000LL));
        CHECK_EQ(v.seq, k);
        CHECK_EQ(ring_check(v.data, 64, 48, 3, 64 * 3, k), 0);
        CHECK_OK(fp_ring_read_end(ll, &v));
    }
    CHECK_EQ(pipe_recv(ready[0]), 'd');
    CHECK_OK(fp_ring_read(lat, &v, 5 * 1000000000LL));
    CHECK_EQ(v.seq, 5);
    CHECK_EQ(v.skipped, 4);
    CHECK_EQ(v.width, 64);
    CHECK_EQ(ring_check(v.data, 64, 48, 3, 64 * 3, 5), 0);
    CHECK_OK(fp_ring_read_end(lat, &v));
    FpRingStats s;
    fp_ring_get_stats(lat, &s);
    CHECK_EQ(s.generations, 1);
    CHECK_EQ(s.generation, 2);
    kill(w2, SIGKILL);
    CHECK_EQ(child_wait(w2), 128 + SIGKILL);
    fp_ring_close(&lat);
    fp_ring_close(&ll);
    ring_unlink(name);
}

FP_TEST_TIMED(conc_ring_latest_reader_never_accepts_a_torn_frame, 90)
{
    NAME("torn");
    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    const int W = 64, H = 32, N = 3000;
    pid_t pid = spawn_writer(name, W, H, 2, N, ready[1], go[0], 0, 0);
    CHECK_EQ(pipe_recv(ready[0]), 'r');
    FpRing *r = NULL;
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LATEST));
    pipe_send(go[1], 'g');
    int valid = 0, torn_caught = 0, rc;
    uint64_t last = 0;
    FpRingView v;
    while ((rc = fp_ring_read(r, &v, 10 * 1000000000LL)) == 0) {
        CHECK(v.seq > last);
        CHECK_EQ(v.seq - last - 1, v.skipped);
        last = v.seq;
        long bad = ring_check(v.data, W, H, 3, W * 3, v.seq);
        int end = fp_ring_read_end(r, &v);
        if (end == 0) {
            CHECK_MSG(bad == 0, "frame %llu validated but %ld bytes were wrong",
                      (unsigned long long)v.seq, bad);
            valid++;
        } else {
            CHECK_EQ(end, FP_EOVERWRITTEN);
            torn_caught++;
        }
    }
    CHECK_EQ(rc, FP_EEND_OF_STREAM);
    CHECK(valid > 0);
    CHECK_EQ(last, N); /* the newest frame is always reached */
    FpRingStats s;
    fp_ring_get_stats(r, &s);
    CHECK_EQ(s.overwritten, torn_caught);
    CHECK_EQ(s.read + s.skipped, N);
    fp_ring_close(&r);
    CHECK_EQ(child_wait(pid), 0);
}

typedef struct ThreadArg {
    const char *name;
    int n;
    int ok;
    char err[256];
} ThreadArg;

static void *lossless_reader_thread(void *p)
{
    ThreadArg *a = p;
    FpRing *r = NULL;
    int rc = fp_ring_open(&r, a->name, FP_RING_LOSSLESS);
    a->ok = 0;
    if (rc < 0) {
        snprintf(a->err, sizeof(a->err), "open: %s", fp_error_detail(rc));
        return NULL;
    }
    /* open happens before the writer starts (the test joins these opens first) */
    return r;
}

static void *lossless_consume_thread(void *p)
{
    void **args = p;
    ThreadArg *a = args[0];
    FpRing *r = args[1];
    for (int k = 1; k <= a->n; k++) {
        FpRingView v;
        int rc = fp_ring_read(r, &v, 10 * 1000000000LL);
        if (rc < 0 || v.seq != (uint64_t)k) {
            snprintf(a->err, sizeof(a->err), "frame %d: rc %d seq %llu", k, rc,
                     (unsigned long long)(rc < 0 ? 0 : v.seq));
            fp_ring_close(&r);
            return NULL;
        }
        uint64_t got;
        memcpy(&got, v.data, 8);
        rc = fp_ring_read_end(r, &v);
        if (rc < 0 || got != (uint64_t)k) {
            snprintf(a->err, sizeof(a->err), "frame %d: read_end %d payload %llu", k, rc,
                     (unsigned long long)got);
            fp_ring_close(&r);
            return NULL;
        }
    }
    fp_ring_close(&r);
    a->ok = 1;
    return NULL;
}

FP_TEST_TIMED(conc_ring_threads_two_lossless_readers_and_a_writer, 90)
{
    NAME("threads");
    FpRingConfig cfg = ring_opaque_cfg(3, 64);
    FpRing *w = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    enum { READERS = 2, N = 2000 };
    ThreadArg args[READERS];
    FpRing *rings[READERS];
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++) {
        args[i] = (ThreadArg){.name = name, .n = N};
        void *ret = NULL;
        CHECK(pthread_create(&th[i], NULL, lossless_reader_thread, &args[i]) == 0);
        pthread_join(th[i], &ret);
        CHECK_MSG(ret != NULL, "%s", args[i].err);
        rings[i] = ret;
    }
    void *pairs[READERS][2];
    for (int i = 0; i < READERS; i++) {
        pairs[i][0] = &args[i];
        pairs[i][1] = rings[i];
        CHECK(pthread_create(&th[i], NULL, lossless_consume_thread, pairs[i]) == 0);
    }
    for (uint64_t k = 1; k <= N; k++)
        CHECK_OK(fp_ring_write(w, &k, 8, 0, k, 10 * 1000000000LL));
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(args[i].ok, "reader %d: %s", i, args[i].err);
    }
    FpRingStats s;
    fp_ring_get_stats(w, &s);
    CHECK_EQ(s.written, N);
    CHECK_EQ(s.dropped_readers, 0);
    fp_ring_destroy(&w);
}
