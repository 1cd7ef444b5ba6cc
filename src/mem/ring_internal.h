// SPDX-License-Identifier: MIT
// The byte layout of an FpRing shared-memory segment (docs/shm-ring.md describes the same bytes).
#ifndef FP_RING_INTERNAL_H
#define FP_RING_INTERNAL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "framepipe/ring.h"

/*
 * Segment = header page | control page | slot descriptor table | payloads.
 * All integers little-endian (x86-64, aarch64), naturally aligned. Only the
 * writer writes the header page, descriptors and payloads; lossless readers
 * write only their entry in the control page (and bump read_progress), so a
 * latest reader can map the whole segment read-only.
 */
#define FP_RING_MAGIC "FPRING\0\0"
#define FP_RING_VERSION 1u
#define FP_RING_PAGE 4096u
#define FP_RING_DESC_SIZE 64u

enum {
    FP_RING_STATE_LIVE = 1,       /* a writer publishes frames */
    FP_RING_STATE_CLOSED = 2,     /* the writer closed it cleanly: no more frames */
    FP_RING_STATE_SUPERSEDED = 3, /* a restarted writer replaced it: re-open the name */
};

enum {
    FP_RING_READER_FREE = 0,
    FP_RING_READER_CLAIMED = 1, /* being set up by its reader; ignored by the writer */
    FP_RING_READER_ACTIVE = 2,  /* the writer respects its cursor */
};

typedef struct FpRingHeader {
    char magic[8];                    /*   0 */
    uint32_t version;                 /*   8 */
    uint32_t header_size;             /*  12 */
    uint64_t generation;              /*  16 */
    _Atomic uint32_t state;           /*  24 */
    uint32_t slot_count;              /*  28 */
    uint64_t slot_size;               /*  32 */
    uint64_t slot_stride;             /*  40 */
    uint64_t control_offset;          /*  48 */
    uint64_t desc_offset;             /*  56 */
    uint64_t slots_offset;            /*  64 */
    uint64_t total_size;              /*  72 */
    uint32_t width;                   /*  80 */
    uint32_t height;                  /*  84 */
    uint32_t format;                  /*  88 */
    uint32_t plane_count;             /*  92 */
    uint32_t linesize[4];             /*  96 */
    uint64_t plane_offset[4];         /* 112 */
    uint64_t frame_size;              /* 144 */
    int32_t writer_pid;               /* 152 */
    uint32_t max_readers;             /* 156 */
    uint64_t writer_start;            /* 160 */
    int64_t created_ns;               /* 168 */
    _Atomic uint64_t dropped_readers; /* 176 */
    _Atomic uint64_t superseded_by;   /* 184: generation of the segment that replaced this one */
    alignas(64) _Atomic uint64_t write_seq; /* 192: frames committed */
    _Atomic uint32_t notify;          /* 200: readers' futex word */
} FpRingHeader;

typedef struct FpRingReaderEntry {
    _Atomic uint32_t state;   /*  0 */
    _Atomic int32_t pid;      /*  4 */
    _Atomic uint64_t cursor;  /*  8: last frame released */
    uint64_t start_time;      /* 16: /proc/PID/stat starttime, against pid reuse */
    int64_t joined_ns;        /* 24 */
    char reserved[32];
} FpRingReaderEntry;

typedef struct FpRingControl {
    _Atomic uint32_t read_progress;  /*  0: the writer's futex word */
    _Atomic uint32_t writer_waiting; /*  4 */
    char reserved[56];
    FpRingReaderEntry readers[FP_RING_MAX_READERS]; /* 64 */
} FpRingControl;

typedef struct FpRingDesc {
    _Atomic uint64_t seq;   /*  0: 2n = frame n complete; 2n-1 = frame n being written; 0 empty */
    uint64_t size;          /*  8 */
    int64_t pts_ns;         /* 16 */
    uint64_t user;          /* 24 */
    int64_t commit_ns;      /* 32 */
    char reserved[24];
} FpRingDesc;

_Static_assert(offsetof(FpRingHeader, version) == 8, "layout");
_Static_assert(offsetof(FpRingHeader, generation) == 16, "layout");
_Static_assert(offsetof(FpRingHeader, state) == 24, "layout");
_Static_assert(offsetof(FpRingHeader, slot_size) == 32, "layout");
_Static_assert(offsetof(FpRingHeader, width) == 80, "layout");
_Static_assert(offsetof(FpRingHeader, linesize) == 96, "layout");
_Static_assert(offsetof(FpRingHeader, plane_offset) == 112, "layout");
_Static_assert(offsetof(FpRingHeader, frame_size) == 144, "layout");
_Static_assert(offsetof(FpRingHeader, writer_pid) == 152, "layout");
_Static_assert(offsetof(FpRingHeader, writer_start) == 160, "layout");
_Static_assert(offsetof(FpRingHeader, dropped_readers) == 176, "layout");
_Static_assert(offsetof(FpRingHeader, superseded_by) == 184, "layout");
_Static_assert(offsetof(FpRingHeader, write_seq) == 192, "layout");
_Static_assert(offsetof(FpRingHeader, notify) == 200, "layout");
_Static_assert(sizeof(FpRingHeader) <= FP_RING_PAGE, "layout");
_Static_assert(sizeof(FpRingReaderEntry) == 64, "layout");
_Static_assert(offsetof(FpRingControl, readers) == 64, "layout");
_Static_assert(sizeof(FpRingControl) <= FP_RING_PAGE, "layout");
_Static_assert(sizeof(FpRingDesc) == FP_RING_DESC_SIZE, "layout");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4, "layout");

#endif
