// SPDX-License-Identifier: MIT
// Test helpers for src/prep: frames whose planes end at an inaccessible guard page, random fills, a small PRNG.
#ifndef PREP_TEST_UTIL_H
#define PREP_TEST_UTIL_H

#include "framepipe/frame.h"
#include "framepipe/prep.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* xorshift64*: deterministic, seeded per case */
static inline uint64_t pt_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}
static inline int pt_range(uint64_t *s, int lo, int hi) /* [lo, hi] */
{
    return lo + (int)(pt_rand(s) % (uint64_t)(hi - lo + 1));
}

/*
 * A frame whose every plane is its own mapping, placed so that the plane's
 * last byte is immediately followed by a PROT_NONE page (and preceded by
 * one): any read past the pixels (a gather that overshoots the last row)
 * faults even where ASan cannot see it (SIMD gathers).
 */
typedef struct PtFrame {
    FpFrame f;
    void *map[3];
    size_t map_len[3];
    int rows[3], rowbytes[3];
} PtFrame;

static inline int pt_plane_count(FpPixelFormat fmt)
{
    return fmt == FP_PIX_YUV420P ? 3 : fmt == FP_PIX_NV12 ? 2 : 1;
}

/* linesize = rowbytes + pad[p] (negative when flip: bottom-up rows). */
static inline int pt_frame_alloc(PtFrame *pf, int w, int h, FpPixelFormat fmt, const int pad[3], int flip)
{
    memset(pf, 0, sizeof(*pf));
    pf->f.width = w, pf->f.height = h, pf->f.format = fmt;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int np = pt_plane_count(fmt);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int p = 0; p < np; p++) {
        int rb = fmt == FP_PIX_RGB24 || fmt == FP_PIX_BGR24 ? 3 * w : p == 0 ? w : fmt == FP_PIX_NV12 ? 2 * cw : cw;
        int rows = p == 0 ? h : ch;
        int ls = rb + (pad ? pad[p] : 0);
        size_t bytes = (size_t)ls * (size_t)(rows - 1) + (size_t)rb; /* the last row ends the plane */
        size_t body = (bytes + page - 1) / page * page;
        size_t len = body + 2 * page;
        uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return -1;
        mprotect(m, page, PROT_NONE);
        mprotect(m + page + body, page, PROT_NONE);
        uint8_t *start = m + page + body - bytes;
        pf->map[p] = m, pf->map_len[p] = len, pf->rows[p] = rows, pf->rowbytes[p] = rb;
        if (flip) {
            pf->f.data[p] = start + (size_t)ls * (size_t)(rows - 1);
            pf->f.linesize[p] = -ls;
        } else {
            pf->f.data[p] = start;
            pf->f.linesize[p] = ls;
        }
    }
    return 0;
}

static inline void pt_frame_free(PtFrame *pf)
{
    for (int p = 0; p < 3; p++)
        if (pf->map[p])
            munmap(pf->map[p], pf->map_len[p]);
    memset(pf, 0, sizeof(*pf));
}

static inline uint8_t *pt_row(PtFrame *pf, int p, int y)
{
    return pf->f.data[p] + (ptrdiff_t)y * pf->f.linesize[p];
}

/* Fills the pixels (not the stride padding, which gets 0xEE) with random bytes. */
static inline void pt_fill_random(PtFrame *pf, uint64_t *s)
{
    for (int p = 0; p < 3 && pf->map[p]; p++) {
        int ls = pf->f.linesize[p] < 0 ? -pf->f.linesize[p] : pf->f.linesize[p];
        for (int y = 0; y < pf->rows[p]; y++) {
            uint8_t *r = pt_row(pf, p, y);
            for (int x = 0; x < pf->rowbytes[p]; x++)
                r[x] = (uint8_t)pt_rand(s);
            int last_in_memory = pf->f.linesize[p] < 0 ? y == 0 : y == pf->rows[p] - 1;
            if (!last_in_memory)
                for (int x = pf->rowbytes[p]; x < ls; x++)
                    r[x] = 0xEE;
        }
    }
}

static inline float pt_half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, x;
    if (e == 0) {
        float f = (float)m * (1.0f / 16777216.0f);
        return s ? -f : f;
    }
    if (e == 31)
        x = s | 0x7f800000u | (m << 13);
    else
        x = s | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

#endif
