// SPDX-License-Identifier: MIT
// Tests of FpRing within one process and against bad segments: layout, modes, timeouts, errors, the Python client.
#include "ring_test_util.h"

#include <sys/statvfs.h>

#define NAME(tag) char name[128]; ring_test_name(name, sizeof(name), tag)

static int detail_has(int code, const char *needle)
{
    return strstr(fp_error_detail(code), needle) != NULL;
}

FP_TEST(ring_frame_layout_of_each_format)
{
    int ls[4] = {0};
    uint64_t off[4];
    int planes;
    CHECK_EQ(fp_ring_frame_layout(1920, 1080, FP_PIX_RGB24, ls, off, &planes), 6220800);
    CHECK_EQ(planes, 1);
    CHECK_EQ(ls[0], 5760);
    int ls2[4] = {0};
    CHECK_EQ(fp_ring_frame_layout(640, 480, FP_PIX_NV12, ls2, off, &planes), 640 * 480 * 3 / 2);
    CHECK_EQ(planes, 2);
    CHECK_EQ(off[1], 640 * 480);
    CHECK_EQ(ls2[1], 640);
    /* odd sizes: chroma rounds up, each plane starts 64-byte aligned */
    int ls3[4] = {0};
    CHECK_EQ(fp_ring_frame_layout(5, 3, FP_PIX_YUV420P, ls3, off, &planes), 128 + 3 * 2);
    CHECK_EQ(planes, 3);
    CHECK_EQ(off[0], 0);
    CHECK_EQ(off[1], 64);
    CHECK_EQ(off[2], 128);
    CHECK_EQ(ls3[1], 3);
    int ls4[4] = {112, 0, 0, 0};
    CHECK_EQ(fp_ring_frame_layout(33, 17, FP_PIX_BGR24, ls4, off, &planes), 112 * 17);
    int bad[4] = {98, 0, 0, 0}; /* below 3 * 33 */
    CHECK_EQ(fp_ring_frame_layout(33, 17, FP_PIX_RGB24, bad, off, &planes), FP_EINVALID);
    CHECK_EQ(fp_ring_frame_layout(0, 17, FP_PIX_RGB24, NULL, NULL, NULL), FP_EINVALID);
}

FP_TEST(ring_roundtrip_zero_copy_with_geometry)
{
    NAME("rt");
    FpRingConfig cfg = ring_rgb_cfg(4, 33, 17);
    cfg.linesize[0] = 112; /* padded rows */
    FpRing *w = NULL, *r = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LOSSLESS));
    for (uint64_t k = 1; k <= 6; k++) {
        uint8_t *slot;
        CHECK_OK(fp_ring_begin_write(w, &slot, 0));
        CHECK(((uintptr_t)slot & 4095) == 0);
        ring_fill(slot, 33, 17, 3, 112, 100 + k);
        CHECK_OK(fp_ring_commit(w, 112 * 17, (int64_t)k * 40000000, 100 + k));
        FpRingView v;
        CHECK_OK(fp_ring_read(r, &v, 0));
        CHECK_EQ(v.seq, k);
        CHECK_EQ(v.user, 100 + k);
        CHECK_EQ(v.pts_ns, (int64_t)k * 40000000);
        CHECK_EQ(v.size, 112 * 17);
        CHECK_EQ(v.width, 33);
        CHECK_EQ(v.height, 17);
        CHECK_EQ(v.format, FP_PIX_RGB24);
        CHECK_EQ(v.linesize[0], 112);
        CHECK(v.planes[0] == v.data && v.planes[1] == NULL);
        CHECK(((uintptr_t)v.data & 63) == 0);
        CHECK(v.commit_ns > 0 && v.commit_ns <= fp_clock_ns());
        CHECK_EQ(ring_check(v.data, 33, 17, 3, 112, 100 + k), 0);
        CHECK_EQ(v.skipped, 0);
        CHECK_OK(fp_ring_read_end(r, &v));
    }
    FpRingInfo info;
    fp_ring_get_info(r, &info);
    CHECK_EQ(info.slot_count, 4);
    CHECK_EQ(info.slot_size, 112 * 17);
    CHECK_EQ(info.generation, 1);
    CHECK(strcmp(info.name, name) == 0);
    FpRingStats ws, rs;
    fp_ring_get_stats(w, &ws);
    fp_ring_get_stats(r, &rs);
    CHECK_EQ(ws.written, 6);
    CHECK_EQ(rs.read, 6);
    CHECK_EQ(rs.skipped, 0);
    fp_ring_close(&r);
    fp_ring_destroy(&w);
    CHECK(w == NULL && r == NULL);
}

/* Reads the segment file by the offsets docs/shm-ring.md gives, not through the library. */
FP_TEST(ring_segment_bytes_match_documented_layout)
{
    NAME("layout");
    FpRingConfig cfg = ring_rgb_cfg(3, 64, 48);
    FpRing *w = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    CHECK_OK(fp_ring_write(w, "abc", 3, 77, 5, 0));
    char path[256];
    snprintf(path, sizeof(path), "/dev/shm%s", name);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    uint8_t hdr[4096];
    CHECK_EQ(pread(fd, hdr, sizeof(hdr), 0), 4096);
    uint32_t u32;
    uint64_t u64;
    CHECK(memcmp(hdr, "FPRING\0\0", 8) == 0);
    memcpy(&u32, hdr + 8, 4); CHECK_EQ(u32, 1);          /* version */
    memcpy(&u64, hdr + 16, 8); CHECK_EQ(u64, 1);         /* generation */
    memcpy(&u32, hdr + 24, 4); CHECK_EQ(u32, 1);         /* state live */
    memcpy(&u32, hdr + 28, 4); CHECK_EQ(u32, 3);         /* slot count */
    memcpy(&u64, hdr + 32, 8); CHECK_EQ(u64, 64 * 48 * 3);
    memcpy(&u64, hdr + 40, 8); CHECK_EQ(u64, 12288);     /* stride: page multiple */
    memcpy(&u64, hdr + 64, 8); CHECK_EQ(u64, 12288);     /* slots offset */
    memcpy(&u64, hdr + 72, 8); CHECK_EQ(u64, 12288 + 3 * 12288);
    CHECK_EQ(st.st_size, 12288 + 3 * 12288);
    memcpy(&u32, hdr + 80, 4); CHECK_EQ(u32, 64);
    memcpy(&u32, hdr + 84, 4); CHECK_EQ(u32, 48);
    memcpy(&u32, hdr + 88, 4); CHECK_EQ(u32, FP_PIX_RGB24);
    memcpy(&u32, hdr + 96, 4); CHECK_EQ(u32, 192);       /* linesize[0] */
    memcpy(&u32, hdr + 152, 4); CHECK_EQ(u32, getpid()); /* writer pid */
    memcpy(&u64, hdr + 192, 8); CHECK_EQ(u64, 1);        /* write_seq */
    memcpy(&u32, hdr + 200, 4); CHECK_EQ(u32, 1);        /* notify bumped once */
    uint8_t desc[64], payload[3];
    CHECK_EQ(pread(fd, desc, 64, 8192), 64);             /* descriptor of slot 0 */
    memcpy(&u64, desc, 8); CHECK_EQ(u64, 2);             /* seqlock: 2n for frame 1 */
    memcpy(&u64, desc + 8, 8); CHECK_EQ(u64, 3);
    memcpy(&u64, desc + 16, 8); CHECK_EQ(u64, 77);
    memcpy(&u64, desc + 24, 8); CHECK_EQ(u64, 5);
    CHECK_EQ(pread(fd, payload, 3, 12288), 3);
    CHECK(memcmp(payload, "abc", 3) == 0);
    close(fd);
    fp_ring_destroy(&w);
    CHECK(stat(path, &st) < 0 && errno == ENOENT); /* the writer takes the name away */
}

FP_TEST(ring_latest_reader_skips_to_newest_and_counts)
{
    NAME("latest");
    FpRingConfig cfg = ring_opaque_cfg(4, 64);
    FpRing *w = NULL, *r = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LATEST));
    for (uint64_t k = 1; k <= 10; k++)
        CHECK_OK(fp_ring_write(w, &k, sizeof(k), 0, k, 0)); /* never waits: no lossless reader */
    FpRingView v;
    CHECK_OK(fp_ring_read(r, &v, 0));
    CHECK_EQ(v.seq, 10);
    CHECK_EQ(v.skipped, 9);
    uint64_t got;
    memcpy(&got, v.data, 8);
    CHECK_EQ(got, 10);
    CHECK_OK(fp_ring_read_end(r, &v));
    CHECK_EQ(fp_ring_read(r, &v, 0), FP_EWOULD_BLOCK);
    uint64_t k = 11;
    CHECK_OK(fp_ring_write(w, &k, sizeof(k), 0, k, 0));
    CHECK_OK(fp_ring_read(r, &v, 0));
    CHECK_EQ(v.seq, 11);
    CHECK_EQ(v.skipped, 0);
    CHECK_OK(fp_ring_read_end(r, &v));
    FpRingStats s;
    fp_ring_get_stats(r, &s);
    CHECK_EQ(s.skipped, 9);
    CHECK_EQ(s.read, 2);
    /* a reader opened now starts at the newest frame */
    FpRing *r2 = NULL;
    CHECK_OK(fp_ring_open(&r2, name, FP_RING_LATEST));
    CHECK_OK(fp_ring_read(r2, &v, 0));
    CHECK_EQ(v.seq, 11);
    CHECK_OK(fp_ring_read_end(r2, &v));
    fp_ring_close(&r2);
    fp_ring_close(&r);
    fp_ring_destroy(&w);
}

FP_TEST(ring_latest_overwrite_is_detected_at_read_end)
{
    NAME("overw");
    FpRingConfig cfg = ring_opaque_cfg(3, 32);
    FpRing *w = NULL, *r = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LATEST));
    CHECK_OK(fp_ring_write(w, "frame-1", 8, 0, 1, 0));
    FpRingView v;
    CHECK_OK(fp_ring_read(r, &v, 0));
    CHECK_EQ(v.seq, 1);
    /* the writer laps the reader while it holds the view: it never waits for a latest reader */
    for (int i = 0; i < 3; i++)
        CHECK_OK(fp_ring_write(w, "frame-n", 8, 0, 0, 0));
    CHECK_EQ(fp_ring_read_end(r, &v), FP_EOVERWRITTEN);
    CHECK(detail_has(FP_EOVERWRITTEN, name));
    /* a view the writer did not touch validates */
    CHECK_OK(fp_ring_read(r, &v, 0));
    CHECK_EQ(v.seq, 4);
    CHECK_EQ(v.skipped, 2);
    CHECK_OK(fp_ring_write(w, "frame-5", 8, 0, 0, 0)); /* other slot */
    CHECK_OK(fp_ring_read_end(r, &v));
    FpRingStats s;
    fp_ring_get_stats(r, &s);
    CHECK_EQ(s.overwritten, 1);
    fp_ring_close(&r);
    fp_ring_destroy(&w);
}

FP_TEST(ring_lossless_absorbs_a_burst_then_holds_the_writer)
{
    NAME("burst");
    FpRingConfig cfg = ring_opaque_cfg(8, 16);
    FpRing *w = NULL, *r = NULL, *latest = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LOSSLESS));
    CHECK_OK(fp_ring_open(&latest, name, FP_RING_LATEST)); /* does not hold the writer */
    for (uint64_t k = 1; k <= 8; k++)
        CHECK_OK(fp_ring_write(w, &k, 8, 0, k, 0));
    uint64_t k = 9;
    CHECK_EQ(fp_ring_write(w, &k, 8, 0, k, 0), FP_EWOULD_BLOCK);
    CHECK_EQ(fp_ring_write(w, &k, 8, 0, k, 30 * 1000000LL), FP_ETIMEOUT);
    CHECK(detail_has(FP_ETIMEOUT, name));
    FpRingView v;
    for (uint64_t i = 1; i <= 8; i++) {
        CHECK_OK(fp_ring_read(r, &v, 0));
        CHECK_EQ(v.seq, i);
        uint64_t got;
        memcpy(&got, v.data, 8);
        CHECK_EQ(got, i);
        CHECK_OK(fp_ring_read_end(r, &v));
        if (i == 1)
            CHECK_OK(fp_ring_write(w, &k, 8, 0, k, 0)); /* frame 1 released: its slot is free */
    }
    CHECK_OK(fp_ring_read(r, &v, 0));
    CHECK_EQ(v.seq, 9);
    CHECK_OK(fp_ring_read_end(r, &v));
    FpRingStats s;
    fp_ring_get_stats(r, &s);
    CHECK_EQ(s.skipped, 0);
    CHECK_EQ(s.read, 9);
    fp_ring_close(&r);
    /* with the lossless reader gone the writer is free again */
    for (uint64_t i = 10; i < 30; i++)
        CHECK_OK(fp_ring_write(w, &i, 8, 0, i, 0));
    fp_ring_close(&latest);
    fp_ring_destroy(&w);
}

FP_TEST(ring_read_timeouts)
{
    NAME("tmo");
    FpRingConfig cfg = ring_opaque_cfg(2, 16);
    FpRing *w = NULL, *r = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LATEST));
    FpRingView v;
    CHECK_EQ(fp_ring_read(r, &v, 0), FP_EWOULD_BLOCK);
    int64_t t0 = fp_clock_ns();
    CHECK_EQ(fp_ring_read(r, &v, 50 * 1000000LL), FP_ETIMEOUT);
    CHECK(fp_clock_ns() - t0 >= 50 * 1000000LL); /* it did wait, it did not return early */
    CHECK(detail_has(FP_ETIMEOUT, name));
    fp_ring_close(&r);
    fp_ring_destroy(&w);
}

FP_TEST(ring_writer_close_drains_then_end_of_stream)
{
    NAME("eos");
    FpRingConfig cfg = ring_opaque_cfg(4, 16);
    FpRing *w = NULL, *r = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LOSSLESS));
    CHECK_OK(fp_ring_write(w, "a", 1, 0, 1, 0));
    CHECK_OK(fp_ring_write(w, "b", 1, 0, 2, 0));
    fp_ring_destroy(&w);
    FpRingView v;
    CHECK_OK(fp_ring_read(r, &v, 0));
    CHECK_EQ(v.data[0], 'a');
    CHECK_OK(fp_ring_read_end(r, &v));
    CHECK_OK(fp_ring_read(r, &v, 0));
    CHECK_EQ(v.data[0], 'b');
    CHECK_OK(fp_ring_read_end(r, &v));
    CHECK_EQ(fp_ring_read(r, &v, 1000000000LL), FP_EEND_OF_STREAM);
    fp_ring_close(&r);
    CHECK_EQ(fp_ring_open(&r, name, FP_RING_LATEST), -ENOENT);
    CHECK(detail_has(-ENOENT, name));
}

FP_TEST(ring_rejects_bad_config_naming_the_ring)
{
    NAME("cfg");
    FpRing *w = NULL;
    FpRingConfig cfg = ring_opaque_cfg(0, 64);
    CHECK_EQ(fp_ring_create(&w, name, &cfg), FP_EINVALID);
    CHECK(detail_has(FP_EINVALID, name) && detail_has(FP_EINVALID, "slot count"));
    cfg = ring_opaque_cfg(1000000, 64);
    CHECK_EQ(fp_ring_create(&w, name, &cfg), FP_ERANGE);
    CHECK(detail_has(FP_ERANGE, "absurd"));
    cfg = ring_opaque_cfg(4, 0);
    CHECK_EQ(fp_ring_create(&w, name, &cfg), FP_EINVALID);
    cfg = ring_opaque_cfg(4, 1ull << 41);
    CHECK_EQ(fp_ring_create(&w, name, &cfg), FP_ERANGE);
    cfg = ring_opaque_cfg(4000, 1ull << 30); /* 4 TB in all */
    CHECK_EQ(fp_ring_create(&w, name, &cfg), FP_ERANGE);
    cfg = ring_rgb_cfg(4, 1920, 1080);
    cfg.slot_size = 1920 * 1080; /* too small for RGB */
    CHECK_EQ(fp_ring_create(&w, name, &cfg), FP_ETOO_LARGE);
    CHECK(detail_has(FP_ETOO_LARGE, name) && detail_has(FP_ETOO_LARGE, "6220800"));
    cfg = ring_rgb_cfg(4, 64, 48);
    cfg.linesize[0] = 10;
    CHECK_EQ(fp_ring_create(&w, name, &cfg), FP_EINVALID);
    CHECK(detail_has(FP_EINVALID, "linesize"));
    cfg = ring_rgb_cfg(4, 64, 48);
    CHECK_EQ(fp_ring_create(&w, "a/b", &cfg), FP_EINVALID);
    CHECK_EQ(fp_ring_create(&w, "", &cfg), FP_EINVALID);
    CHECK_EQ(fp_ring_create(&w, name, NULL), FP_EINVALID);
    CHECK(w == NULL);
    struct stat st;
    char path[256];
    snprintf(path, sizeof(path), "/dev/shm%s", name);
    CHECK(stat(path, &st) < 0); /* nothing was left behind */
    /* a frame larger than the slot */
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    static uint8_t big[64 * 48 * 3 + 1];
    CHECK_EQ(fp_ring_write(w, big, sizeof(big), 0, 0, 0), FP_ETOO_LARGE);
    uint8_t *slot;
    CHECK_OK(fp_ring_begin_write(w, &slot, 0));
    CHECK_EQ(fp_ring_commit(w, sizeof(big), 0, 0), FP_ETOO_LARGE);
    CHECK_OK(fp_ring_commit(w, sizeof(big) - 1, 0, 0)); /* the write stayed open */
    fp_ring_destroy(&w);
}

FP_TEST(ring_api_misuse_is_refused)
{
    NAME("misuse");
    FpRingConfig cfg = ring_opaque_cfg(2, 16);
    FpRing *w = NULL, *r = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LATEST));
    uint8_t *slot;
    FpRingView v;
    CHECK_EQ(fp_ring_commit(w, 1, 0, 0), FP_EINVALID);
    CHECK_OK(fp_ring_begin_write(w, &slot, 0));
    CHECK_EQ(fp_ring_begin_write(w, &slot, 0), FP_EINVALID);
    fp_ring_cancel(w); /* nothing published */
    CHECK_EQ(fp_ring_read(r, &v, 0), FP_EWOULD_BLOCK);
    CHECK_OK(fp_ring_write(w, "x", 1, 0, 0, 0));
    CHECK_EQ(fp_ring_read_end(r, &v), FP_EINVALID);
    CHECK_OK(fp_ring_read(r, &v, 0));
    CHECK_EQ(v.seq, 1);
    CHECK_EQ(fp_ring_read(r, &v, 0), FP_EINVALID); /* previous view still open */
    CHECK_OK(fp_ring_read_end(r, &v));
    CHECK_EQ(fp_ring_read(w, &v, 0), FP_EINVALID);          /* a writer does not read */
    CHECK_EQ(fp_ring_begin_write(r, &slot, 0), FP_EINVALID); /* a reader does not write */
    CHECK_EQ(fp_ring_open(&r, name, (FpRingReaderMode)7), FP_EINVALID);
    fp_ring_close(&r);
    fp_ring_destroy(&w);
    fp_ring_destroy(&w); /* NULL is fine */
}

FP_TEST(ring_create_refuses_a_name_with_a_live_writer)
{
    NAME("live");
    FpRingConfig cfg = ring_opaque_cfg(2, 16);
    FpRing *w = NULL, *w2 = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    CHECK_EQ(fp_ring_create(&w2, name, &cfg), FP_EEXISTS);
    CHECK(detail_has(FP_EEXISTS, name));
    CHECK(w2 == NULL);
    fp_ring_destroy(&w);
}

FP_TEST(ring_open_missing_segment)
{
    FpRing *r = NULL;
    CHECK_EQ(fp_ring_open(&r, "/fpt-no-such-ring", FP_RING_LATEST), -ENOENT);
    CHECK(detail_has(-ENOENT, "/fpt-no-such-ring"));
    CHECK(r == NULL);
}

FP_TEST(ring_wrong_magic_is_refused_and_left_alone)
{
    NAME("magic");
    CHECK_OK(raw_segment(name, 16384, 0x5a));
    FpRing *r = NULL;
    CHECK_EQ(fp_ring_open(&r, name, FP_RING_LATEST), FP_EBAD_MAGIC);
    CHECK(detail_has(FP_EBAD_MAGIC, name));
    FpRingConfig cfg = ring_opaque_cfg(2, 16);
    CHECK_EQ(fp_ring_create(&r, name, &cfg), FP_EBAD_MAGIC); /* not ours: not replaced */
    CHECK(detail_has(FP_EBAD_MAGIC, "not a framepipe ring"));
    int fd = shm_open(name, O_RDONLY, 0);
    uint8_t b = 0;
    CHECK(pread(fd, &b, 1, 0) == 1 && b == 0x5a);
    close(fd);
    CHECK(r == NULL);
    ring_unlink(name);
}

/* Opens the segment file read-write to damage one field. */
static void poke(const char *name, size_t off, const void *val, size_t len)
{
    int fd = shm_open(name, O_RDWR, 0);
    CHECK(fd >= 0);
    CHECK_EQ(pwrite(fd, val, len, (off_t)off), (long long)len);
    close(fd);
}

FP_TEST(ring_wrong_version_and_corrupt_header_are_refused)
{
    NAME("ver");
    FpRingConfig cfg = ring_rgb_cfg(2, 16, 16);
    FpRing *w = NULL, *r = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    uint32_t v2 = 2, v1 = 1;
    poke(name, 8, &v2, 4);
    CHECK_EQ(fp_ring_open(&r, name, FP_RING_LATEST), FP_EBAD_VERSION);
    CHECK(detail_has(FP_EBAD_VERSION, name) && detail_has(FP_EBAD_VERSION, "version 2"));
    poke(name, 8, &v1, 4);
    uint32_t zero = 0;
    poke(name, 28, &zero, 4); /* slot count 0 */
    CHECK_EQ(fp_ring_open(&r, name, FP_RING_LATEST), FP_ECORRUPT);
    CHECK(detail_has(FP_ECORRUPT, name) && detail_has(FP_ECORRUPT, "slot count"));
    uint32_t two = 2, wide = 4000;
    poke(name, 28, &two, 4);
    poke(name, 80, &wide, 4); /* width no longer fits the slot */
    CHECK_EQ(fp_ring_open(&r, name, FP_RING_LOSSLESS), FP_ECORRUPT);
    CHECK(detail_has(FP_ECORRUPT, name));
    uint32_t sixteen = 16;
    poke(name, 80, &sixteen, 4);
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LATEST)); /* repaired: opens again */
    fp_ring_close(&r);
    fp_ring_destroy(&w);
}

FP_TEST(ring_truncated_segment_is_refused)
{
    NAME("trunc");
    FpRingConfig cfg = ring_rgb_cfg(4, 64, 48);
    FpRing *w = NULL, *r = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    FpRingInfo info;
    fp_ring_get_info(w, &info);
    int fd = shm_open(name, O_RDWR, 0);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)(info.total_size / 2)) == 0);
    CHECK_EQ(fp_ring_open(&r, name, FP_RING_LATEST), FP_ETRUNCATED);
    CHECK(detail_has(FP_ETRUNCATED, name));
    CHECK(ftruncate(fd, 100) == 0);
    CHECK_EQ(fp_ring_open(&r, name, FP_RING_LATEST), FP_ETRUNCATED);
    CHECK(detail_has(FP_ETRUNCATED, "100 bytes"));
    close(fd);
    CHECK(r == NULL);
    /* The writer's own mapping is now partly beyond the file: do not touch it, just unmap. */
    fp_ring_destroy(&w);
}

FP_TEST(ring_other_user_gets_permission_denied)
{
    NAME("perm");
    FpRingConfig cfg = ring_opaque_cfg(2, 16);
    FpRing *w = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* root bypasses file modes, so drop to "nobody" to see what another user sees */
        close(pfd[0]);
        if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
            _exit(3);
        FpRing *r = NULL;
        int a = fp_ring_open(&r, name, FP_RING_LATEST);
        int named = strstr(fp_error_detail(a), name) && strstr(fp_error_detail(a), "permission denied");
        int b = fp_ring_open(&r, name, FP_RING_LOSSLESS);
        char msg[8] = {(char)(a == -EACCES), (char)named, (char)(b == -EACCES)};
        if (write(pfd[1], msg, 3) != 3)
            _exit(4);
        _exit(0);
    }
    close(pfd[1]);
    char msg[3] = {0};
    CHECK_EQ(read(pfd[0], msg, 3), 3);
    CHECK_EQ(child_wait(pid), 0);
    close(pfd[0]);
    CHECK_MSG(msg[0] && msg[1] && msg[2], "child as uid 65534: latest EACCES %d, named %d, lossless EACCES %d",
              msg[0], msg[1], msg[2]);
    fp_ring_destroy(&w);
}

FP_TEST(ring_full_dev_shm_fails_at_create_with_enospc)
{
    struct statvfs vfs;
    CHECK(statvfs("/dev/shm", &vfs) == 0);
    uint64_t total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    if (total == 0)
        fp_test_skip("/dev/shm has no size limit");
    uint64_t want = total + (64ull << 20); /* more than the whole file system, so more than its free space */
    if (want > FP_RING_MAX_BYTES / 2)
        fp_test_skip("/dev/shm is larger than the ring's absurd-size limit");
    NAME("nospc");
    FpRingConfig cfg = ring_opaque_cfg(1, want);
    FpRing *w = NULL;
    CHECK_EQ(fp_ring_create(&w, name, &cfg), -ENOSPC);
    CHECK(detail_has(-ENOSPC, name));
    char size_txt[32];
    snprintf(size_txt, sizeof(size_txt), "%llu", (unsigned long long)(want + 12288));
    CHECK_MSG(detail_has(-ENOSPC, size_txt), "detail \"%s\" lacks the size %s", fp_error_detail(-ENOSPC),
              size_txt);
    CHECK(w == NULL);
    /* neither the segment nor its temporary build name is left behind */
    char path[256];
    snprintf(path, sizeof(path), "/dev/shm%s", name);
    struct stat st;
    CHECK(stat(path, &st) < 0);
    snprintf(path, sizeof(path), "/dev/shm%s.new-%d", name, (int)getpid());
    CHECK(stat(path, &st) < 0);
}

FP_TEST(ring_replaces_a_stale_segment_of_a_crashed_writer)
{
    NAME("stale");
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        FpRingConfig cfg = ring_opaque_cfg(2, 16);
        FpRing *w = NULL;
        if (fp_ring_create(&w, name, &cfg) < 0)
            _exit(1);
        fp_ring_write(w, "old", 3, 0, 0, 0);
        pipe_send(pfd[1], 'r');
        pause(); /* killed without cleaning up */
        _exit(0);
    }
    CHECK_EQ(pipe_recv(pfd[0]), 'r');
    kill(pid, SIGKILL);
    CHECK_EQ(child_wait(pid), 128 + SIGKILL);
    FpRingConfig cfg = ring_rgb_cfg(2, 8, 8);
    FpRing *w = NULL, *r = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    FpRingInfo info;
    fp_ring_get_info(w, &info);
    CHECK_EQ(info.generation, 2);
    CHECK_EQ(info.width, 8);
    CHECK_OK(fp_ring_open(&r, name, FP_RING_LATEST));
    FpRingView v;
    CHECK_EQ(fp_ring_read(r, &v, 0), FP_EWOULD_BLOCK); /* the old frame is gone */
    fp_ring_close(&r);
    fp_ring_destroy(&w);
    /* a zero-size leftover (a run killed between shm_open and ftruncate) is no obstacle either */
    char name2[128];
    ring_test_name(name2, sizeof(name2), "empty");
    CHECK_OK(raw_segment(name2, 0, 0));
    /* and the half-built segment of a create that crashed (pid = pid_max: never a live pid) */
    int pid_max = 4194304;
    FILE *pm = fopen("/proc/sys/kernel/pid_max", "r");
    if (pm) {
        CHECK(fscanf(pm, "%d", &pid_max) == 1);
        fclose(pm);
    }
    char leftover[200];
    snprintf(leftover, sizeof(leftover), "%s.new-%d", name2, pid_max);
    CHECK_OK(raw_segment(leftover, 4096, 0));
    CHECK_OK(fp_ring_create(&w, name2, &cfg));
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "/dev/shm%s", leftover);
    CHECK_MSG(stat(path, &st) < 0, "%s was not cleaned up", path);
    fp_ring_destroy(&w);
    close(pfd[0]);
    close(pfd[1]);
}

/* The documented Python client reads known frames from a C writer in another process. */
FP_TEST_TIMED(ring_python_client_reads_known_frames, 90)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        fp_test_skip("/usr/bin/python3 is not installed");
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        fp_test_skip("python3-numpy is not installed");
    NAME("py");
    const int W = 33, H = 17, LS = 112, N = 12;
    FpRingConfig cfg = ring_rgb_cfg(4, W, H);
    cfg.linesize[0] = LS;
    FpRing *w = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    int to_py[2], from_py[2];
    CHECK(pipe(to_py) == 0 && pipe(from_py) == 0);
    char script[1024];
    snprintf(script, sizeof(script), "%s/clients/python/test_fp_ring.py", fp_test_source_dir());
    char n_txt[16];
    snprintf(n_txt, sizeof(n_txt), "%d", N);
    const char *py[] = {"/usr/bin/python3", script, name, n_txt, NULL};
    FpTestSpawnOptions o = {.stdin_fd = to_py[0], .stdout_fd = from_py[1]};
    pid_t pid = fp_test_spawn(py, &o);
    close(to_py[0]);
    close(from_py[1]);
    FILE *in = fdopen(from_py[0], "r");
    char line[256];
    CHECK(fgets(line, sizeof(line), in) && strncmp(line, "ready", 5) == 0);
    /* frames 1..N one at a time, each acknowledged; then a burst the reader must skip */
    for (int k = 1; k <= N + 5; k++) {
        uint8_t *slot;
        CHECK_OK(fp_ring_begin_write(w, &slot, 0));
        ring_fill(slot, W, H, 3, LS, (uint64_t)k);
        CHECK_OK(fp_ring_commit(w, (size_t)LS * H, (int64_t)k * 1000, (uint64_t)k));
        if (k <= N) {
            CHECK(fgets(line, sizeof(line), in));
            CHECK_MSG(atoi(line) == k, "python acknowledged \"%s\" for frame %d", line, k);
        }
    }
    pipe_send(to_py[1], 'b'); /* burst written */
    fp_ring_destroy(&w);      /* then end of stream */
    close(to_py[1]);
    char last[256] = "";
    while (fgets(line, sizeof(line), in))
        snprintf(last, sizeof(last), "%s", line);
    fclose(in);
    int rc = child_wait(pid);
    CHECK_MSG(rc == 0, "python client exited %d, last line: %s", rc, last);
    CHECK_MSG(strncmp(last, "OK", 2) == 0, "python client said: %s", last);
}

/* Random damage to the header and descriptors: open either refuses with a message naming the
 * segment, or works and reads stay inside the mapping (ASan) and never hang. */
FP_TEST(ring_random_header_damage_never_crashes)
{
    NAME("fuzz");
    FpRingConfig cfg = ring_rgb_cfg(3, 16, 8);
    FpRing *w = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    for (uint64_t k = 1; k <= 5; k++) {
        uint8_t *slot;
        CHECK_OK(fp_ring_begin_write(w, &slot, 0));
        ring_fill(slot, 16, 8, 3, 48, k);
        CHECK_OK(fp_ring_commit(w, 16 * 8 * 3, 0, k));
    }
    int fd = shm_open(name, O_RDWR, 0);
    CHECK(fd >= 0);
    static uint8_t good[12288];
    CHECK_EQ(pread(fd, good, sizeof(good), 0), (long long)sizeof(good));
    srand(12345);
    int opened = 0, refused = 0;
    for (int iter = 0; iter < 400; iter++) {
        CHECK_EQ(pwrite(fd, good, sizeof(good), 0), (long long)sizeof(good));
        int flips = 1 + rand() % 3;
        for (int f = 0; f < flips; f++) {
            /* mostly the header's fields, sometimes a descriptor */
            off_t off = rand() % 4 ? rand() % 208 : 8192 + rand() % (3 * 64);
            uint8_t b = (uint8_t)(rand() % 4 ? rand() : (rand() % 2 ? 0 : 0xff));
            CHECK_EQ(pwrite(fd, &b, 1, off), 1);
        }
        for (int mode = 0; mode < 2; mode++) {
            FpRing *r = NULL;
            int rc = fp_ring_open(&r, name, mode ? FP_RING_LOSSLESS : FP_RING_LATEST);
            if (rc < 0) {
                CHECK_MSG(strstr(fp_error_detail(rc), name), "open error without the name: %s",
                          fp_error_detail(rc));
                refused++;
                continue;
            }
            opened++;
            FpRingView v;
            if (fp_ring_read(r, &v, mode ? 0 : 1000000) == 0) {
                uint64_t sum = 0;
                for (size_t i = 0; i < v.size; i++)
                    sum += v.data[i];
                for (int p = 0; p < FP_FRAME_MAX_PLANES && v.planes[p]; p++)
                    sum += v.planes[p][0];
                (void)sum;
                fp_ring_read_end(r, &v);
            }
            fp_ring_close(&r);
        }
    }
    CHECK_EQ(pwrite(fd, good, sizeof(good), 0), (long long)sizeof(good));
    close(fd);
    CHECK(opened > 0 && refused > 0);
    fp_ring_destroy(&w);
}

/* The Python client follows a writer that crashes and is replaced with another geometry. */
FP_TEST_TIMED(ring_python_client_follows_a_writer_restart, 90)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        fp_test_skip("/usr/bin/python3 with numpy is not installed");
    NAME("pyrestart");
    int up[2], down[2];
    CHECK(pipe(up) == 0 && pipe(down) == 0);
    pid_t writer = fork();
    if (writer == 0) {
        FpRingConfig cfg = ring_rgb_cfg(2, 33, 17);
        cfg.linesize[0] = 112;
        FpRing *w = NULL;
        if (fp_ring_create(&w, name, &cfg) < 0)
            _exit(2);
        pipe_send(up[1], 'r');
        if (pipe_recv(down[0]) != 'g')
            _exit(3);
        uint8_t *slot;
        if (fp_ring_begin_write(w, &slot, 0) < 0)
            _exit(4);
        ring_fill(slot, 33, 17, 3, 112, 1);
        fp_ring_commit(w, 112 * 17, 1000, 1);
        pause(); /* then it is killed */
        _exit(0);
    }
    CHECK_EQ(pipe_recv(up[0]), 'r');
    int from_py[2];
    CHECK(pipe(from_py) == 0);
    char script[1024];
    snprintf(script, sizeof(script), "%s/clients/python/test_fp_ring.py", fp_test_source_dir());
    const char *argv[] = {"/usr/bin/python3", script, name, "restart", NULL};
    FpTestSpawnOptions o = {.stdout_fd = from_py[1]};
    pid_t py = fp_test_spawn(argv, &o);
    close(from_py[1]);
    FILE *in = fdopen(from_py[0], "r");
    char line[256];
    CHECK(fgets(line, sizeof(line), in) && strncmp(line, "ready", 5) == 0);
    pipe_send(down[1], 'g');
    CHECK(fgets(line, sizeof(line), in) && atoi(line) == 1);
    kill(writer, SIGKILL);
    CHECK_EQ(child_wait(writer), 128 + SIGKILL);
    FpRingConfig cfg = {.slot_count = 2, .width = 40, .height = 20, .format = FP_PIX_GRAY8};
    FpRing *w = NULL;
    CHECK_OK(fp_ring_create(&w, name, &cfg));
    uint8_t *slot;
    CHECK_OK(fp_ring_begin_write(w, &slot, 0));
    ring_fill(slot, 40, 20, 1, 40, 1);
    CHECK_OK(fp_ring_commit(w, 40 * 20, 0, 1));
    CHECK(fgets(line, sizeof(line), in));
    CHECK_MSG(strncmp(line, "generation 2", 12) == 0, "python said: %s", line);
    fp_ring_destroy(&w); /* end of stream */
    char last[256] = "";
    while (fgets(line, sizeof(line), in))
        snprintf(last, sizeof(last), "%s", line);
    fclose(in);
    int rc = child_wait(py);
    CHECK_MSG(rc == 0 && strncmp(last, "OK", 2) == 0, "python exited %d, said: %s", rc, last);
}
