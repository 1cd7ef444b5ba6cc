// SPDX-License-Identifier: MIT
// Helpers shared by the ring tests: unique segment names, a known pixel pattern, child processes and pipes.
#ifndef RING_TEST_UTIL_H
#define RING_TEST_UTIL_H

#include "fp_test.h"
#include "fp_test_spawn.h"

#include "framepipe/clock.h"
#include "framepipe/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A segment name no other test (or run) uses; the shm file is removed by ring_unlink(). */
static inline const char *ring_test_name(char *buf, size_t size, const char *tag)
{
    static int counter;
    snprintf(buf, size, "/fpt-%d-%d-%s", (int)getpid(), ++counter, tag);
    return buf;
}

static inline void ring_unlink(const char *name)
{
    shm_unlink(name);
}

/* The test pattern: byte c of pixel (x, y) of frame `seq`. Python computes the same formula. */
static inline uint8_t ring_pattern(uint64_t seq, int x, int y, int c)
{
    return (uint8_t)((seq * 7 + (uint64_t)x * 3 + (uint64_t)y * 5 + (uint64_t)c * 11) & 0xff);
}

/* Fills a packed-or-padded interleaved image (channels per pixel) with the pattern of `seq`. */
static inline void ring_fill(uint8_t *dst, int w, int h, int channels, int linesize, uint64_t seq)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++)
                dst[(size_t)y * linesize + (size_t)x * channels + c] = ring_pattern(seq, x, y, c);
}

/* Number of bytes that differ from the pattern of `seq` (0: the frame is exactly frame seq). */
static inline long ring_check(const uint8_t *src, int w, int h, int channels, int linesize, uint64_t seq)
{
    long bad = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++)
                bad += src[(size_t)y * linesize + (size_t)x * channels + c] != ring_pattern(seq, x, y, c);
    return bad;
}

/* Small opaque ring config: `slots` slots of `size` bytes. */
static inline FpRingConfig ring_opaque_cfg(uint32_t slots, uint64_t size)
{
    FpRingConfig cfg = {0};
    cfg.slot_count = slots;
    cfg.slot_size = size;
    return cfg;
}

static inline FpRingConfig ring_rgb_cfg(uint32_t slots, int w, int h)
{
    FpRingConfig cfg = {0};
    cfg.slot_count = slots;
    cfg.width = w;
    cfg.height = h;
    cfg.format = FP_PIX_RGB24;
    return cfg;
}

/* One-byte messages between a test and its child processes. */
static inline void pipe_send(int fd, char c)
{
    while (write(fd, &c, 1) < 0 && errno == EINTR) {
    }
}

static inline char pipe_recv(int fd)
{
    char c = 0;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR) {
    }
    return n == 1 ? c : 0;
}

/* Waits for a child (forked or spawned) and returns its exit status (128 + signal if killed). */
static inline int child_wait(pid_t pid)
{
    return fp_test_wait_exit(pid, -1);
}

/* Fills a raw shm segment `name` with `size` bytes of `fill`; returns 0 or -errno. */
static inline int raw_segment(const char *name, size_t size, int fill)
{
    int fd = shm_open(name, O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd < 0)
        return -errno;
    int rc = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
    if (rc == 0 && size) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            rc = -errno;
        } else {
            memset(p, fill, size);
            munmap(p, size);
        }
    }
    close(fd);
    return rc;
}

#endif
