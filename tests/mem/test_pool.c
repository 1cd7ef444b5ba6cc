// SPDX-License-Identifier: MIT
// Tests of FpPool: refcounts, bounds, eviction, tuning, stats, shm backing, bad configs and zero steady-state allocations.
#include "fp_test.h"
#include "fp_alloc_count.h"

#include "framepipe/clock.h"
#include "framepipe/frame.h"
#include "framepipe/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Allocation counting: this executable is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,... (tests/mem/meson.build) so every allocator call made by the
 * framepipe objects (and by this file) goes through the counters below
 * before reaching the real allocator (or the sanitizer's interceptor).
 */
static unsigned long allocator_calls(void)
{
    return fp_alloc_calls();
}

/* ---- helpers ---- */

static FpPoolConfig one_class(size_t size, unsigned prealloc, unsigned max_buffers)
{
    FpPoolConfig cfg = {0};
    cfg.name = "test";
    cfg.class_size[0] = size;
    cfg.n_classes = 1;
    cfg.prealloc = prealloc;
    cfg.max_buffers = max_buffers;
    return cfg;
}

static FpPoolStats stats_of(FpPool *p)
{
    FpPoolStats s;
    fp_pool_get_stats(p, &s);
    return s;
}

static void shm_name_for(char *buf, size_t n, const char *what)
{
    snprintf(buf, n, "/fp-test-pool-%s-%d", what, (int)getpid());
}

/* ---- refcounts ---- */

FP_TEST(pool_refcount_and_writability)
{
    FpPoolConfig cfg = one_class(1000, 1, 4);
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    CHECK(strcmp(fp_pool_name(p), "test") == 0);
    FpBuffer *a = NULL;
    CHECK_OK(fp_pool_acquire(p, 10, 0, &a));
    CHECK(a != NULL);
    CHECK_EQ(fp_buffer_size(a), 1000);
    CHECK_EQ((uintptr_t)fp_buffer_data(a) % 64, 0);
    CHECK_EQ(fp_buffer_shm_offset(a), -1);
    CHECK(fp_buffer_is_writable(a));
    FpBuffer *a2 = fp_buffer_ref(a);
    CHECK(a2 == a);
    CHECK(!fp_buffer_is_writable(a));
    CHECK(!fp_buffer_is_writable(a2));
    fp_buffer_unref(&a2);
    CHECK(a2 == NULL);
    CHECK(fp_buffer_is_writable(a));
    memset(fp_buffer_data(a), 0xab, 1000); /* the whole capacity is usable (ASan checks) */
    fp_buffer_unref(&a);
    CHECK(a == NULL);
    fp_buffer_unref(&a); /* NULL is a no-op */
    fp_pool_destroy(&p);
    CHECK(p == NULL);
    fp_pool_destroy(&p);
}

FP_TEST(pool_buffer_returns_on_last_unref_only)
{
    FpPoolConfig cfg = one_class(256, 1, 1);
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *a = NULL, *b = NULL;
    CHECK_OK(fp_pool_acquire(p, 256, 0, &a));
    uint8_t *data = fp_buffer_data(a);
    FpBuffer *r1 = fp_buffer_ref(a), *r2 = fp_buffer_ref(a);
    fp_buffer_unref(&a);
    fp_buffer_unref(&r1);
    CHECK_EQ(stats_of(p).in_use, 1);
    CHECK_EQ(fp_pool_acquire(p, 256, 0, &b), FP_EWOULD_BLOCK); /* still out: the bound holds */
    CHECK(b == NULL);
    fp_buffer_unref(&r2);
    CHECK_EQ(stats_of(p).in_use, 0);
    CHECK_EQ(stats_of(p).idle, 1);
    CHECK_OK(fp_pool_acquire(p, 256, 0, &b));
    CHECK(fp_buffer_data(b) == data); /* the same memory came home and went out again */
    CHECK(fp_buffer_is_writable(b));
    fp_buffer_unref(&b);
    fp_pool_destroy(&p);
}

FP_TEST(pool_outlives_destroy_until_last_buffer_home)
{
    FpPoolConfig cfg = one_class(4096, 2, 0);
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *a = NULL, *b = NULL;
    CHECK_OK(fp_pool_acquire(p, 4096, 0, &a));
    CHECK_OK(fp_pool_acquire(p, 4096, 0, &b));
    FpBuffer *b2 = fp_buffer_ref(b);
    fp_pool_destroy(&p);
    CHECK(p == NULL);
    /* the buffers stay valid and writable (ASan would flag a use after free) */
    memset(fp_buffer_data(a), 1, 4096);
    memset(fp_buffer_data(b), 2, 4096);
    CHECK_EQ(fp_buffer_data(b2)[4095], 2);
    fp_buffer_unref(&a);
    fp_buffer_unref(&b);
    CHECK_EQ(fp_buffer_data(b2)[0], 2);
    fp_buffer_unref(&b2); /* last one: frees the pool; ASan's leak check at exit proves it */
}

/* ---- bounds ---- */

FP_TEST(pool_bounds_would_block_and_timeout)
{
    FpPoolConfig cfg = one_class(1024, 0, 2);
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(fp_pool_acquire(p, 1, 0, &a));
    CHECK_OK(fp_pool_acquire(p, 1, 0, &b));
    CHECK_EQ(fp_pool_acquire(p, 1, 0, &c), FP_EWOULD_BLOCK);
    CHECK(strstr(fp_error_detail(FP_EWOULD_BLOCK), "'test'") != NULL);
    int64_t t0 = fp_clock_ns();
    CHECK_EQ(fp_pool_acquire(p, 1, 30 * 1000000LL, &c), FP_ETIMEOUT);
    CHECK(fp_clock_ns() - t0 >= 30 * 1000000LL); /* it did wait the timeout */
    CHECK(c == NULL);
    FpPoolStats s = stats_of(p);
    CHECK_EQ(s.timeouts, 2);
    CHECK_EQ(s.waits, 1);
    CHECK_EQ(s.in_use, 2);
    CHECK_EQ(s.bytes_total, 2048);
    fp_buffer_unref(&a);
    CHECK_OK(fp_pool_acquire(p, 1, 30 * 1000000LL, &c));
    fp_buffer_unref(&b);
    fp_buffer_unref(&c);
    fp_pool_destroy(&p);
}

FP_TEST(pool_max_bytes_bounds_across_classes)
{
    FpPoolConfig cfg = {0};
    cfg.class_size[0] = 1000;
    cfg.class_size[1] = 3000;
    cfg.n_classes = 2;
    cfg.max_bytes = 5000;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *big = NULL, *s1 = NULL, *s2 = NULL, *s3 = NULL;
    CHECK_OK(fp_pool_acquire(p, 2500, 0, &big));
    CHECK_EQ(fp_buffer_size(big), 3000);
    CHECK_OK(fp_pool_acquire(p, 1000, 0, &s1));
    CHECK_OK(fp_pool_acquire(p, 1, 0, &s2));
    CHECK_EQ(fp_pool_acquire(p, 1, 0, &s3), FP_EWOULD_BLOCK); /* 6000 > 5000 */
    CHECK_EQ(stats_of(p).bytes_total, 5000);
    CHECK_EQ(fp_pool_acquire(p, 3001, 0, &s3), FP_ETOO_LARGE);
    CHECK(strstr(fp_error_detail(FP_ETOO_LARGE), "3001") != NULL);
    /* with the big buffer idle, a small request frees it to make room (min_buffers 0) */
    fp_buffer_unref(&big);
    CHECK_OK(fp_pool_acquire(p, 1, 0, &s3));
    FpPoolStats s = stats_of(p);
    CHECK_EQ(s.evictions, 1);
    CHECK_EQ(s.bytes_total, 3000);
    CHECK_EQ(s.idle, 0);
    fp_buffer_unref(&s1);
    fp_buffer_unref(&s2);
    fp_buffer_unref(&s3);
    fp_pool_destroy(&p);
}

FP_TEST(pool_size_classes_and_alignment)
{
    FpPoolConfig cfg = {0};
    cfg.class_size[0] = 1000;
    cfg.class_size[1] = 4096;
    cfg.class_size[2] = 65536;
    cfg.n_classes = 3;
    cfg.prealloc = 1;
    cfg.alignment = 4096;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    const size_t req[] = {0, 1, 1000, 1001, 4096, 4097, 65536};
    const size_t want[] = {1000, 1000, 1000, 4096, 4096, 65536, 65536};
    for (int i = 0; i < 7; i++) {
        FpBuffer *b = NULL;
        CHECK_OK(fp_pool_acquire(p, req[i], 0, &b));
        CHECK_EQ(fp_buffer_size(b), want[i]);
        CHECK_EQ((uintptr_t)fp_buffer_data(b) % 4096, 0);
        fp_buffer_unref(&b);
    }
    FpPoolStats s = stats_of(p);
    CHECK_EQ(s.hits, 7); /* one preallocated per class served every request */
    CHECK_EQ(s.bytes_total, 1000 + 4096 + 65536);
    fp_pool_destroy(&p);
}

FP_TEST(pool_flushing_fails_acquire_until_cleared)
{
    FpPoolConfig cfg = one_class(64, 1, 1);
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *b = NULL;
    fp_pool_set_flushing(p, 1);
    CHECK_EQ(fp_pool_acquire(p, 64, -1, &b), FP_EFLUSHING);
    CHECK_EQ(fp_pool_acquire(p, 64, 0, &b), FP_EFLUSHING);
    fp_pool_set_flushing(p, 0);
    CHECK_OK(fp_pool_acquire(p, 64, 0, &b));
    fp_buffer_unref(&b);
    fp_pool_destroy(&p);
}

/* ---- eviction and tuning ---- */

FP_TEST(pool_lru_eviction_order_and_min_buffers)
{
    FpPoolConfig cfg = one_class(512, 0, 0);
    cfg.min_buffers = 2;
    cfg.idle_evict_ns = 100 * 1000000LL;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    CHECK_EQ(stats_of(p).idle, 2); /* min_buffers are preallocated */
    FpBuffer *b[4];
    uint8_t *d[4];
    for (int i = 0; i < 4; i++) {
        CHECK_OK(fp_pool_acquire(p, 512, 0, &b[i]));
        d[i] = fp_buffer_data(b[i]);
    }
    /* return order 1, 3, 0, 2: buffers 1 and 3 are the least recently used */
    const int order[] = {1, 3, 0, 2};
    for (int k = 0; k < 4; k++) {
        fp_buffer_unref(&b[order[k]]);
        fp_sleep_ns(2 * 1000000LL);
    }
    CHECK_EQ(fp_pool_evict_idle(p), 0); /* nobody idle for 100 ms yet */
    fp_sleep_ns(150 * 1000000LL);
    CHECK_EQ(fp_pool_evict_idle(p), 2); /* all four expired, but min_buffers keeps two */
    FpPoolStats s = stats_of(p);
    CHECK_EQ(s.evictions, 2);
    CHECK_EQ(s.idle, 2);
    CHECK_EQ(s.bytes_total, 1024);
    /* the survivors are the most recently used: 2 (newest, handed out first), then 0 */
    FpBuffer *x = NULL, *y = NULL;
    CHECK_OK(fp_pool_acquire(p, 512, 0, &x));
    CHECK_OK(fp_pool_acquire(p, 512, 0, &y));
    CHECK(fp_buffer_data(x) == d[2]);
    CHECK(fp_buffer_data(y) == d[0]);
    CHECK_EQ(stats_of(p).hits, 2 + 2);
    fp_buffer_unref(&x);
    fp_buffer_unref(&y);
    fp_pool_destroy(&p);
}

FP_TEST(pool_idle_eviction_happens_inside_acquire)
{
    FpPoolConfig cfg = one_class(512, 0, 0);
    cfg.idle_evict_ns = 20 * 1000000LL;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *a = NULL, *b = NULL;
    CHECK_OK(fp_pool_acquire(p, 1, 0, &a));
    CHECK_OK(fp_pool_acquire(p, 1, 0, &b));
    fp_buffer_unref(&a);
    fp_buffer_unref(&b);
    CHECK_EQ(stats_of(p).idle, 2);
    fp_sleep_ns(60 * 1000000LL);
    CHECK_OK(fp_pool_acquire(p, 1, 0, &a)); /* evicts both expired ones, then allocates */
    FpPoolStats s = stats_of(p);
    CHECK_EQ(s.evictions, 2);
    CHECK_EQ(s.idle, 0);
    CHECK_EQ(s.misses, 3);
    fp_buffer_unref(&a);
    fp_pool_destroy(&p);
}

FP_TEST(pool_grows_target_when_hit_rate_is_low)
{
    FpPoolConfig cfg = one_class(256, 1, 32);
    cfg.grow_below_hit_rate = 0.5;
    cfg.tune_window = 4;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *b[4];
    /* window 1: a burst of 4 with one buffer ready: 1 hit, 3 misses (25 %) */
    for (int i = 0; i < 4; i++)
        CHECK_OK(fp_pool_acquire(p, 256, 0, &b[i]));
    FpPoolStats s = stats_of(p);
    CHECK_EQ(s.grows, 1);
    CHECK_EQ(s.target, 5); /* the window's peak (4) + 25 % headroom (at least 1) */
    CHECK_EQ(s.idle, 1);   /* the extra buffer is preallocated right away */
    for (int i = 0; i < 4; i++)
        fp_buffer_unref(&b[i]);
    /* window 2: the same burst is now all hits; no further growth */
    for (int i = 0; i < 4; i++)
        CHECK_OK(fp_pool_acquire(p, 256, 0, &b[i]));
    for (int i = 0; i < 4; i++)
        fp_buffer_unref(&b[i]);
    s = stats_of(p);
    CHECK_EQ(s.hits, 1 + 4);
    CHECK_EQ(s.misses, 3);
    CHECK_EQ(s.grows, 1);
    CHECK_EQ(s.idle, 5);
    CHECK_EQ(s.bytes_total, 5 * 256);
    fp_pool_destroy(&p);
}

FP_TEST(pool_grow_is_capped_by_max_buffers)
{
    FpPoolConfig cfg = one_class(256, 0, 3);
    cfg.grow_below_hit_rate = 0.9;
    cfg.tune_window = 3;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *b[3];
    for (int i = 0; i < 3; i++)
        CHECK_OK(fp_pool_acquire(p, 256, 0, &b[i]));
    FpPoolStats s = stats_of(p);
    CHECK_EQ(s.target, 3);
    CHECK_EQ(s.bytes_total, 3 * 256);
    for (int i = 0; i < 3; i++)
        fp_buffer_unref(&b[i]);
    fp_pool_destroy(&p);
}

FP_TEST(pool_shrinks_when_buffers_sit_idle)
{
    FpPoolConfig cfg = one_class(256, 8, 0);
    cfg.min_buffers = 2;
    cfg.shrink_idle_fraction = 0.5;
    cfg.tune_window = 4;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    CHECK_EQ(stats_of(p).idle, 8);
    /* one buffer in use at a time: 7 of 8 sit idle through window 1 -> free 4 (LRU) */
    for (int w = 0; w < 4; w++) {
        for (int i = 0; i < 4; i++) {
            FpBuffer *b = NULL;
            CHECK_OK(fp_pool_acquire(p, 256, 0, &b));
            fp_buffer_unref(&b);
        }
        FpPoolStats s = stats_of(p);
        const unsigned expect_idle[] = {4, 2, 2, 2}; /* then 3 of 4 idle -> free 2; then min_buffers holds */
        CHECK_MSG(s.idle == expect_idle[w], "after window %d: idle %u, want %u", w + 1, s.idle, expect_idle[w]);
    }
    FpPoolStats s = stats_of(p);
    CHECK_EQ(s.shrinks, 2);
    CHECK_EQ(s.evictions, 6);
    CHECK_EQ(s.target, 2);
    CHECK_EQ(s.hits, 16);
    fp_pool_destroy(&p);
}

/* ---- stats ---- */

FP_TEST(pool_stats_values)
{
    FpPoolConfig cfg = one_class(100, 2, 3);
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpPoolStats s = stats_of(p);
    CHECK_EQ(s.hits + s.misses, 0);
    CHECK_NEAR(s.hit_rate, 0, 0);
    CHECK_EQ(s.idle, 2);
    CHECK_EQ(s.bytes_total, 200);
    FpBuffer *b[4] = {0};
    CHECK_OK(fp_pool_acquire(p, 100, 0, &b[0]));                     /* hit */
    CHECK_OK(fp_pool_acquire(p, 100, 0, &b[1]));                     /* hit */
    CHECK_OK(fp_pool_acquire(p, 100, 0, &b[2]));                     /* miss: allocates */
    CHECK_EQ(fp_pool_acquire(p, 100, 0, &b[3]), FP_EWOULD_BLOCK);    /* miss + timeout */
    CHECK_EQ(fp_pool_acquire(p, 100, 1000000, &b[3]), FP_ETIMEOUT); /* miss + wait + timeout */
    s = stats_of(p);
    CHECK_EQ(s.hits, 2);
    CHECK_EQ(s.misses, 3);
    CHECK_NEAR(s.hit_rate, 0.4, 1e-12);
    CHECK_EQ(s.waits, 1);
    CHECK_EQ(s.timeouts, 2);
    CHECK_EQ(s.evictions, 0);
    CHECK_EQ(s.in_use, 3);
    CHECK_EQ(s.idle, 0);
    CHECK_EQ(s.peak_in_use, 3);
    CHECK_EQ(s.bytes_total, 300);
    CHECK_EQ(s.bytes_in_use, 300);
    fp_buffer_unref(&b[0]);
    fp_buffer_unref(&b[2]);
    s = stats_of(p);
    CHECK_EQ(s.in_use, 1);
    CHECK_EQ(s.idle, 2);
    CHECK_EQ(s.peak_in_use, 3);
    CHECK_EQ(s.bytes_in_use, 100);
    fp_buffer_unref(&b[1]);
    fp_pool_destroy(&p);
}

/* ---- shared memory ---- */

FP_TEST(pool_shm_mapped_by_forked_process)
{
    char name[64];
    shm_name_for(name, sizeof(name), "fork");
    FpPoolConfig cfg = one_class(6220800, 2, 3);
    cfg.shm_name = name;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    CHECK(fp_pool_shm_size(p) == 4096 + 3 * 6220800ul); /* 6220800 is a multiple of 64 */
    char path[128];
    snprintf(path, sizeof(path), "/dev/shm%s", name);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(st.st_size, (long long)fp_pool_shm_size(p));

    FpBuffer *frame = NULL, *reply = NULL;
    CHECK_OK(fp_pool_acquire(p, 6220800, 0, &frame));
    CHECK_OK(fp_pool_acquire(p, 16, 0, &reply));
    int64_t off = fp_buffer_shm_offset(frame), reply_off = fp_buffer_shm_offset(reply);
    CHECK(off >= 4096 && off % 64 == 0 && reply_off >= 4096 && reply_off != off);
    uint8_t *d = fp_buffer_data(frame);
    for (size_t i = 0; i < 6220800; i++)
        d[i] = (uint8_t)(i * 7 + 3);
    memset(fp_buffer_data(reply), 0, 16);

    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* a second process: maps the segment by name, checks header and bytes, writes a reply */
        int fd = shm_open(name, O_RDWR, 0);
        if (fd < 0)
            _exit(10);
        uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED)
            _exit(11);
        if (memcmp(m, FP_POOL_SHM_MAGIC, 8) != 0)
            _exit(12);
        uint32_t version, n_classes;
        uint64_t cls_size, slots, first;
        memcpy(&version, m + 8, 4);
        memcpy(&n_classes, m + 36, 4);
        memcpy(&cls_size, m + 48, 8);
        memcpy(&slots, m + 64, 8);
        memcpy(&first, m + 72, 8);
        if (version != FP_POOL_SHM_VERSION || n_classes != 1 || cls_size != 6220800 || slots != 3 ||
            first != 4096)
            _exit(13);
        for (size_t i = 0; i < 6220800; i++)
            if (m[off + (int64_t)i] != (uint8_t)(i * 7 + 3))
                _exit(14);
        memcpy(m + reply_off, "seen by child", 14);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    CHECK(memcmp(fp_buffer_data(reply), "seen by child", 14) == 0);
    fp_buffer_unref(&frame);
    fp_buffer_unref(&reply);
    fp_pool_destroy(&p);
    CHECK(stat(path, &st) < 0 && errno == ENOENT); /* unlinked when the pool died */
}

FP_TEST(pool_shm_header_read_by_python)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        fp_test_skip("/usr/bin/python3 not installed");
    char name[64];
    shm_name_for(name, sizeof(name), "py");
    FpPoolConfig cfg = {0};
    cfg.name = "pycheck";
    cfg.class_size[0] = 1000;
    cfg.class_size[1] = 5000;
    cfg.n_classes = 2;
    cfg.max_buffers = 2;
    cfg.shm_name = name;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *b = NULL;
    CHECK_OK(fp_pool_acquire(p, 4000, 0, &b));
    memcpy(fp_buffer_data(b), "framepipe", 9);
    /* an independent reader of the documented layout (docs/pool.md) */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c \"import struct,sys\n"
             "m=open('/dev/shm%s','rb').read()\n"
             "assert m[:8]==b'FPPOOL\\\\0\\\\0', m[:8]\n"
             "v,hs,gen,size,pid,nc,al=struct.unpack_from('<IIQQiII',m,8)\n"
             "assert (v,hs,size,nc,al)==(1,4096,len(m),2,64),(v,hs,size,nc,al)\n"
             "c=[struct.unpack_from('<QQQQ',m,48+32*i) for i in range(nc)]\n"
             "assert c[0]==(1000,1024,2,4096) and c[1]==(5000,5056,2,4096+2048),c\n"
             "assert m[304:311]==b'pycheck'\n"
             "o=%lld\n"
             "assert m[o:o+9]==b'framepipe',m[o:o+9]\n\"",
             name, (long long)fp_buffer_shm_offset(b));
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "python reader failed (status %d)", rc);
    fp_buffer_unref(&b);
    fp_pool_destroy(&p);
}

/* Writes a segment that looks like a pool made by `pid` (or garbage when pid is 0). */
static void plant_segment(const char *name, pid_t pid)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 8192) == 0);
    uint8_t hdr[512] = {0};
    if (pid) {
        memcpy(hdr, FP_POOL_SHM_MAGIC, 8);
        int32_t p32 = (int32_t)pid;
        memcpy(hdr + 32, &p32, 4);
        memcpy(hdr + 304, "old", 4);
    } else {
        memcpy(hdr, "NOTAPOOL", 8);
    }
    CHECK(pwrite(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr));
    close(fd);
}

FP_TEST(pool_shm_stale_live_and_foreign_segments)
{
    char name[64];
    shm_name_for(name, sizeof(name), "stale");
    FpPoolConfig cfg = one_class(4096, 1, 2);
    cfg.shm_name = name;
    FpPool *p = NULL;

    /* stale: left by a framepipe process that is gone -> replaced */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    CHECK(waitpid(dead, NULL, 0) == dead);
    plant_segment(name, dead);
    CHECK_OK(fp_pool_create(&p, &cfg));
    CHECK_EQ(fp_pool_shm_size(p), 4096 + 2 * 4096);

    /* live: our own pool holds the name -> FP_EEXISTS naming the owner */
    FpPool *q = NULL;
    CHECK_EQ(fp_pool_create(&q, &cfg), FP_EEXISTS);
    CHECK(q == NULL);
    const char *msg = fp_error_detail(FP_EEXISTS);
    CHECK_MSG(strstr(msg, name) && strstr(msg, "live pid"), "message: %s", msg);
    fp_pool_destroy(&p);

    /* foreign: not a framepipe segment -> refused and left alone */
    plant_segment(name, 0);
    CHECK_EQ(fp_pool_create(&p, &cfg), FP_EEXISTS);
    msg = fp_error_detail(FP_EEXISTS);
    CHECK_MSG(strstr(msg, "not a framepipe pool"), "message: %s", msg);
    int fd = shm_open(name, O_RDONLY, 0);
    CHECK(fd >= 0);
    char head[8];
    CHECK(pread(fd, head, 8, 0) == 8 && memcmp(head, "NOTAPOOL", 8) == 0);
    close(fd);
    shm_unlink(name);
}

FP_TEST(pool_shm_full_reports_enospc_at_create)
{
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) != 0)
        fp_test_skip("no /dev/shm");
    uint64_t total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    size_t size = (size_t)(total + (1ull << 30));
    if (size > FP_POOL_MAX_CLASS_SIZE)
        fp_test_skip("/dev/shm is larger than the class size limit");
    char name[64];
    shm_name_for(name, sizeof(name), "full");
    FpPoolConfig cfg = one_class(size, 0, 1);
    cfg.shm_name = name;
    FpPool *p = NULL;
    CHECK_EQ(fp_pool_create(&p, &cfg), -ENOSPC);
    CHECK(p == NULL);
    const char *msg = fp_error_detail(-ENOSPC);
    char sz[32];
    snprintf(sz, sizeof(sz), "%zu", size + 4096);
    CHECK_MSG(strstr(msg, name) && strstr(msg, sz), "message should name segment and size: %s", msg);
    int fd = shm_open(name, O_RDONLY, 0);
    CHECK(fd < 0 && errno == ENOENT); /* nothing left behind */
}

FP_TEST(pool_shm_slots_are_a_fixed_arena)
{
    char name[64];
    shm_name_for(name, sizeof(name), "arena");
    FpPoolConfig cfg = one_class(1000, 0, 2);
    cfg.shm_name = name;
    cfg.idle_evict_ns = 1; /* evict as soon as possible */
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    int64_t seen[2] = {-1, -1};
    for (int round = 0; round < 3; round++) {
        FpBuffer *a = NULL, *b = NULL, *c = NULL;
        CHECK_OK(fp_pool_acquire(p, 1000, 0, &a));
        CHECK_OK(fp_pool_acquire(p, 1000, 0, &b));
        CHECK_EQ(fp_pool_acquire(p, 1000, 0, &c), FP_EWOULD_BLOCK);
        int64_t oa = fp_buffer_shm_offset(a), ob = fp_buffer_shm_offset(b);
        CHECK(oa != ob);
        if (round == 0) {
            seen[0] = oa;
            seen[1] = ob;
        } else {
            /* evicted slots come back: the offsets stay within the same two slots */
            CHECK((oa == seen[0] || oa == seen[1]) && (ob == seen[0] || ob == seen[1]));
        }
        fp_buffer_unref(&a);
        fp_buffer_unref(&b);
        fp_sleep_ns(1000000);
        fp_pool_evict_idle(p);
        CHECK_EQ(stats_of(p).bytes_total, 0);
    }
    CHECK(stats_of(p).evictions >= 6);
    CHECK_EQ(fp_pool_shm_size(p), 4096 + 2 * 1024);
    fp_pool_destroy(&p);
}

/* ---- bad configuration ---- */

typedef struct BadCase {
    const char *what;   /* the field the message must name */
    FpPoolConfig cfg;
} BadCase;

FP_TEST(pool_bad_config_names_the_field)
{
    BadCase cases[] = {
        {"n_classes", {.class_size = {64}, .n_classes = 0}},
        {"n_classes", {.class_size = {64}, .n_classes = FP_POOL_MAX_CLASSES + 1}},
        {"class_size[0]", {.class_size = {0}, .n_classes = 1}},
        {"class_size[1]", {.class_size = {64, 0}, .n_classes = 2}},
        {"class_size[0]", {.class_size = {SIZE_MAX}, .n_classes = 1}},
        {"class_size[0]", {.class_size = {FP_POOL_MAX_CLASS_SIZE + 1}, .n_classes = 1}},
        {"class_size[1]", {.class_size = {128, 64}, .n_classes = 2}},
        {"class_size[1]", {.class_size = {128, 128}, .n_classes = 2}},
        {"alignment", {.class_size = {64}, .n_classes = 1, .alignment = 48}},
        {"alignment", {.class_size = {64}, .n_classes = 1, .alignment = 8}},
        {"alignment", {.class_size = {64}, .n_classes = 1, .alignment = 8192}},
        {"max_buffers", {.class_size = {64, 128}, .n_classes = 2, .prealloc = 2, .max_buffers = 3}},
        {"max_bytes", {.class_size = {64}, .n_classes = 1, .prealloc = 2, .max_bytes = 100}},
        {"max_bytes", {.class_size = {64}, .n_classes = 1, .max_bytes = 10}},
        {"prealloc", {.class_size = {(size_t)1 << 39}, .n_classes = 1, .prealloc = 4}},
        {"idle_evict_ns", {.class_size = {64}, .n_classes = 1, .idle_evict_ns = -1}},
        {"grow_below_hit_rate", {.class_size = {64}, .n_classes = 1, .grow_below_hit_rate = 1.5}},
        {"grow_below_hit_rate", {.class_size = {64}, .n_classes = 1, .grow_below_hit_rate = -0.1}},
        {"shrink_idle_fraction", {.class_size = {64}, .n_classes = 1, .shrink_idle_fraction = 2}},
        {"shm_name", {.class_size = {64}, .n_classes = 1, .max_buffers = 1, .shm_name = "no-slash"}},
        {"shm_name", {.class_size = {64}, .n_classes = 1, .max_buffers = 1, .shm_name = "/a/b"}},
        {"shm_name", {.class_size = {64}, .n_classes = 1, .max_buffers = 1, .shm_name = "/"}},
        {"max_buffers", {.class_size = {64}, .n_classes = 1, .shm_name = "/fp-test-unbounded"}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FpPool *p = NULL;
        int rc = fp_pool_create(&p, &cases[i].cfg);
        CHECK_MSG(rc == FP_EINVALID, "case %zu (%s): rc %d", i, cases[i].what, rc);
        CHECK(p == NULL);
        const char *msg = fp_error_detail(FP_EINVALID);
        CHECK_MSG(strstr(msg, cases[i].what) != NULL, "case %zu: message '%s' does not name '%s'", i, msg,
                  cases[i].what);
    }
    FpPool *p = NULL;
    CHECK_EQ(fp_pool_create(&p, NULL), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "cfg") != NULL);
    FpPoolConfig ok = one_class(64, 1, 0);
    CHECK_EQ(fp_pool_create(NULL, &ok), FP_EINVALID);
    FpBuffer *b = NULL;
    CHECK_EQ(fp_pool_acquire(NULL, 64, 0, &b), FP_EINVALID);
}

/* ---- zero allocations in steady state ---- */

static void steady_state_cycles(FpPool *p, size_t size)
{
    FpBuffer *warm[3];
    for (int i = 0; i < 3; i++) /* warm-up: the working set of three buffers exists */
        CHECK_OK(fp_pool_acquire(p, size, 0, &warm[i]));
    for (int i = 0; i < 3; i++)
        fp_buffer_unref(&warm[i]);

    FpPoolStats s0;
    fp_pool_get_stats(p, &s0);
    unsigned long before = allocator_calls();
    for (int i = 0; i < 10000; i++) {
        FpBuffer *a = NULL, *b = NULL;
        CHECK(fp_pool_acquire(p, size, 0, &a) == 0);
        CHECK(fp_pool_acquire(p, size / 2, 1000000, &b) == 0);
        fp_buffer_data(a)[0] = (uint8_t)i;
        FpBuffer *extra = fp_buffer_ref(a); /* a second stage holds a reference */
        fp_buffer_unref(&a);
        fp_buffer_unref(&b);
        fp_buffer_unref(&extra);
    }
    unsigned long after = allocator_calls();
    CHECK_MSG(after == before, "%lu allocator calls in 10,000 steady-state cycles", after - before);
    FpPoolStats s;
    fp_pool_get_stats(p, &s);
    CHECK_EQ(s.hits - s0.hits, 20000);
    CHECK_EQ(s.misses, s0.misses);
    CHECK_EQ(s.in_use, 0);
}

FP_TEST(pool_steady_state_makes_no_allocations)
{
    /* the counters see framepipe's allocations: creating a pool and growing it are counted */
    unsigned long c0 = allocator_calls();
    FpPoolConfig cfg = one_class(6220800, 1, 4);
    cfg.idle_evict_ns = 60 * 1000000000LL; /* the eviction clock runs on every call */
    cfg.grow_below_hit_rate = 0.5;
    cfg.tune_window = 64;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    CHECK(allocator_calls() > c0);
    unsigned long c1 = allocator_calls();
    FpBuffer *a = NULL, *b = NULL;
    CHECK_OK(fp_pool_acquire(p, 1, 0, &a));
    CHECK_OK(fp_pool_acquire(p, 1, 0, &b)); /* a miss: allocates */
    CHECK(allocator_calls() > c1);
    fp_buffer_unref(&a);
    fp_buffer_unref(&b);

    steady_state_cycles(p, 6220800);
    fp_pool_destroy(&p);
}

FP_TEST(pool_shm_steady_state_makes_no_allocations_or_mappings)
{
    char name[64];
    shm_name_for(name, sizeof(name), "alloc");
    FpPoolConfig cfg = one_class(65536, 0, 4);
    cfg.shm_name = name;
    FpPool *p = NULL;
    FpAllocCounts c0, c1;
    fp_alloc_counts(&c0);
    CHECK_OK(fp_pool_create(&p, &cfg));
    fp_alloc_counts(&c1);
    CHECK(c1.maps > c0.maps); /* the segment mapping is counted */
    steady_state_cycles(p, 65536);
    fp_pool_destroy(&p);
}

FP_TEST(pool_large_buffers_are_huge_page_aligned_mappings)
{
    /* A 1080p-sized class gets its own mapping on a 2 MiB boundary, advised for THP, unmapped when
       freed; a small class stays malloc'd; FP_POOL_NO_HUGEPAGES=1 turns it off. */
    const size_t big = 1920 * 1080 * 3 / 2 + 4096, hp = (size_t)2 << 20;
#if defined(__SANITIZE_ADDRESS__)
    fp_test_skip("an AddressSanitizer build keeps every buffer a malloc block (redzones); the release build runs this");
#endif
    FpPoolConfig cfg = one_class(big, 3, 8);
    cfg.class_size[0] = 4096;
    cfg.class_size[1] = big;
    cfg.n_classes = 2;
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *b[3] = {NULL};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(fp_pool_acquire(p, big, 0, &b[i]));
        uint8_t *d = fp_buffer_data(b[i]);
        memset(d, 0x5A, big); /* every byte is usable */
        uintptr_t start = (uintptr_t)d & ~(uintptr_t)(hp - 1);
        CHECK_MSG((uintptr_t)d - start < 4096, "buffer %d data at %p: not right after a 2 MiB boundary", i, (void *)d);
        /* the kernel lists the mapping starting at that boundary, advised for huge pages */
        char want[64];
        snprintf(want, sizeof(want), "%lx-", (unsigned long)start);
        FILE *f = fopen("/proc/self/smaps", "r");
        CHECK(f);
        char line[512];
        bool in = false, found = false, advised = false;
        while (fgets(line, sizeof(line), f)) {
            if (strchr(line, '-') && strchr(line, ' ') && strchr(line, '-') < strchr(line, ' '))
                in = strncmp(line, want, strlen(want)) == 0, found |= in;
            else if (in && strncmp(line, "VmFlags:", 8) == 0)
                advised = strstr(line, " hg") != NULL;
        }
        fclose(f);
        CHECK_MSG(found, "no mapping starts at %s", want);
        CHECK_MSG(advised, "mapping %s not advised MADV_HUGEPAGE (no 'hg' in VmFlags)", want);
    }
    FpBuffer *small = NULL;
    CHECK_OK(fp_pool_acquire(p, 100, 0, &small));
    memset(fp_buffer_data(small), 1, 4096);
    fp_buffer_unref(&small);
    uintptr_t first = (uintptr_t)fp_buffer_data(b[0]) & ~(uintptr_t)(hp - 1);
    for (int i = 0; i < 3; i++)
        fp_buffer_unref(&b[i]);
    fp_pool_destroy(&p);
    /* unmapped: the address is no longer a mapping */
    unsigned char vec;
    CHECK_MSG(mincore((void *)first, 4096, &vec) < 0 && errno == ENOMEM, "the buffer at %p is still mapped",
              (void *)first);

    CHECK(setenv("FP_POOL_NO_HUGEPAGES", "1", 1) == 0);
    CHECK_OK(fp_pool_create(&p, &cfg));
    int aligned = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(fp_pool_acquire(p, big, 0, &b[i]));
        aligned += ((uintptr_t)fp_buffer_data(b[i]) & (hp - 1)) < 4096;
    }
    CHECK_MSG(aligned < 3, "FP_POOL_NO_HUGEPAGES=1: all 3 buffers still start at 2 MiB boundaries");
    for (int i = 0; i < 3; i++)
        fp_buffer_unref(&b[i]);
    fp_pool_destroy(&p);
    unsetenv("FP_POOL_NO_HUGEPAGES");
}

FP_TEST(pool_bypass_env_allocates_and_frees_every_buffer)
{
    /* FP_POOL_BYPASS=1 (the benchmark's malloc/free baseline): no buffer is reused, each acquire allocates
       and each last unref frees; bounds still hold. This case runs in its own forked child. */
    CHECK(setenv("FP_POOL_BYPASS", "1", 1) == 0);
    FpPoolConfig cfg = one_class(6220800, 2, 4);
    FpPool *p = NULL;
    unsigned long c0 = allocator_calls();
    CHECK_OK(fp_pool_create(&p, &cfg));
    CHECK_EQ(stats_of(p).bytes_total, 0); /* nothing preallocated */
    unsigned long c1 = allocator_calls();
    CHECK(c1 > c0);
    for (int i = 0; i < 100; i++) {
        FpBuffer *a = NULL;
        CHECK_OK(fp_pool_acquire(p, 6220800, 0, &a));
        fp_buffer_data(a)[0] = (uint8_t)i;
        fp_buffer_unref(&a);
    }
    unsigned long calls = allocator_calls() - c1;
    CHECK_MSG(calls >= 200, "%lu allocator calls for 100 bypassed buffers (want an allocation and a free each)",
              calls);
    FpPoolStats s = stats_of(p);
    CHECK_EQ(s.hits, 0);
    CHECK_EQ(s.misses, 100);
    CHECK_EQ(s.bytes_total, 0);
    /* the bounds still apply */
    FpBuffer *held[4] = {NULL}, *extra = NULL;
    for (int i = 0; i < 4; i++)
        CHECK_OK(fp_pool_acquire(p, 1, 0, &held[i]));
    CHECK_EQ(fp_pool_acquire(p, 1, 0, &extra), FP_EWOULD_BLOCK);
    for (int i = 0; i < 4; i++)
        fp_buffer_unref(&held[i]);
    fp_pool_destroy(&p);

    /* "0" or unset: the pool reuses its buffers (no allocation per cycle) */
    CHECK(setenv("FP_POOL_BYPASS", "0", 1) == 0);
    CHECK_OK(fp_pool_create(&p, &cfg));
    steady_state_cycles(p, 6220800);
    fp_pool_destroy(&p);
    unsetenv("FP_POOL_BYPASS");
}

/* ---- frame helpers ---- */

FP_TEST(pixel_format_names)
{
    CHECK(strcmp(fp_pixel_format_name(FP_PIX_NV12), "nv12") == 0);
    CHECK(strcmp(fp_pixel_format_name(FP_PIX_YUV420P), "yuv420p") == 0);
    CHECK(strcmp(fp_pixel_format_name(FP_PIX_RGB24), "rgb24") == 0);
    CHECK(strcmp(fp_pixel_format_name(FP_PIX_BGR24), "bgr24") == 0);
    CHECK(strcmp(fp_pixel_format_name(FP_PIX_GRAY8), "gray8") == 0);
    CHECK(strcmp(fp_pixel_format_name(FP_PIX_NONE), "none") == 0);
    CHECK(strcmp(fp_pixel_format_name((FpPixelFormat)99), "unknown") == 0);
}
