// SPDX-License-Identifier: MIT
// Ring backend: frames from an FpRing (shared memory) written by another process, copied once into pool memory.
#include "source_internal.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/log.h"
#include "framepipe/ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * URL "ring:NAME". A ring slot is reused by its writer, and a reader may
 * hold only one view at a time, so a frame cannot stay in the ring while
 * the pipeline holds it: each view is copied once into a pool buffer (the
 * copy is counted in the status) and the view ended at once. A view the
 * writer overwrote meanwhile (FP_EOVERWRITTEN) is dropped and counted as
 * skipped by the ring. The policy picks the reader mode: latest -> a
 * latest reader, lossless -> a lossless reader that holds the writer back.
 * A ring is live: a missing ring, a closed ring (writer gone) or no frame
 * for stall_timeout leads to a reconnect with backoff.
 */

typedef struct RingSrc {
    FpRing *ring;
    char name[FP_RING_NAME_MAX + 2];
} RingSrc;

static int ring_open(FpSource *src, void **priv)
{
    const FpSourceConfig *cfg = fp__source_cfg(src);
    RingSrc *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    snprintf(r->name, sizeof(r->name), "%s", cfg->url + 5);
    FpRingReaderMode mode = cfg->policy == FP_POLICY_LOSSLESS ? FP_RING_LOSSLESS : FP_RING_LATEST;
    int rc = fp_ring_open(&r->ring, r->name, mode);
    if (rc < 0) {
        char detail[200];
        snprintf(detail, sizeof(detail), "%s", fp_error_detail(rc));
        free(r);
        return fp_error(rc, "source %s: cannot open ring '%s': %s", fp_source_name(src),
                        cfg->url + 5, detail);
    }
    FpRingInfo info;
    fp_ring_get_info(r->ring, &info);
    fp__source_set_decoder(src, "ring", 0);
    fp_log_info("ingest", "%s: reading ring %s (%dx%d %s, %u slots, generation %llu, %s)",
                fp_source_name(src), r->name, info.width, info.height,
                fp_pixel_format_name(info.format), info.slot_count,
                (unsigned long long)info.generation, mode == FP_RING_LOSSLESS ? "lossless" : "latest");
    *priv = r;
    return 0;
}

static int ring_pump(FpSource *src, void *priv)
{
    RingSrc *r = priv;
    const FpSourceConfig *cfg = fp__source_cfg(src);
    const char *name = fp_source_name(src);
    FpRingView v;
    int rc = fp_ring_read(r->ring, &v, 100 * 1000000LL);
    if (rc == FP_ETIMEOUT || rc == FP_EWOULD_BLOCK || rc == FP_EGENERATION) {
        if (rc == FP_EGENERATION)
            fp_log_info("ingest", "%s: ring %s was re-created by a new writer", name, r->name);
        if (fp__source_stopping(src))
            return FP_EFLUSHING;
        if (fp_clock_ns() - fp__source_last_activity(src) > cfg->stall_timeout_ns)
            return fp_error(FP_ETIMEOUT, "source %s: stalled: no frame in ring %s for %.1f s", name,
                            r->name, cfg->stall_timeout_ns / 1e9);
        return 0;
    }
    if (rc == FP_EEND_OF_STREAM)
        return fp_error(FP_EEND_OF_STREAM, "source %s: the writer of ring %s closed it", name,
                        r->name);
    if (rc < 0) {
        char detail[200];
        snprintf(detail, sizeof(detail), "%s", fp_error_detail(rc));
        return fp_error(rc, "source %s: reading ring %s: %s", name, r->name, detail);
    }
    if (v.format == FP_PIX_NONE || v.width <= 0 || v.height <= 0) {
        fp_ring_read_end(r->ring, &v);
        return fp_error(FP_EUNSUPPORTED, "source %s: ring %s carries no picture geometry", name,
                        r->name);
    }
    FpBuffer *b = NULL;
    rc = fp__source_acquire(src, v.size, &b);
    if (rc < 0) {
        fp_ring_read_end(r->ring, &v);
        return rc;
    }
    uint8_t *base = fp_buffer_data(b);
    memcpy(base, v.data, v.size);
    FpRingView kept = v;
    if (fp_ring_read_end(r->ring, &v) == FP_EOVERWRITTEN) {
        fp_buffer_unref(&b); /* torn: the writer lapped us while copying */
        return 0;
    }
    FpFrame *f = fp__source_frame_get(src);
    if (!f) {
        fp_buffer_unref(&b);
        return -ENOMEM;
    }
    for (int i = 0; i < FP_FRAME_MAX_PLANES && kept.planes[i]; i++) {
        f->data[i] = base + (kept.planes[i] - kept.data);
        f->linesize[i] = kept.linesize[i];
    }
    f->buf[0] = b;
    f->width = kept.width;
    f->height = kept.height;
    f->format = kept.format;
    f->pts_ns = kept.pts_ns;
    fp__source_count_copy(src);
    return fp__source_emit(src, f);
}

static void ring_close(FpSource *src, void **priv)
{
    (void)src;
    RingSrc *r = *priv;
    if (r)
        fp_ring_close(&r->ring);
    free(r);
    *priv = NULL;
}

const FpSourceBackend fp__source_ring = {
    .name = "ring",
    .open = ring_open,
    .pump = ring_pump,
    .rewind = NULL,
    .close = ring_close,
};
