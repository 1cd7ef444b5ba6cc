// SPDX-License-Identifier: MIT
// Events JSON lines sink: each FpEvent as one line (fp_event_to_json), one write(2) per line.
#include "framepipe/sink.h"

#include "framepipe/error.h"
#include "framepipe/log.h"
#include "sink_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Design: the line is formatted into a stack buffer and written with one
 * write(2) (O_APPEND on files), so lines from several threads never
 * interleave without a lock, and a reader following the file sees whole
 * lines. A closed pipe gives -EPIPE, never SIGPIPE (FpLineOut, as the frame sink).
 */

#define EVENT_LINE_STACK 4096

struct FpEventsJsonl {
    FpLineOut out; /* the file (O_APPEND) or stdout; SIGPIPE-safe writes */
    char *path;
    _Atomic uint64_t lines;
    _Atomic bool gone; /* a write found the reader gone (-EPIPE) */
};

int fp_events_jsonl_create(FpEventsJsonl **out, const char *path)
{
    if (!out || !path || !path[0])
        return fp_error(FP_EINVALID, "events sink: no output path given");
    FpEventsJsonl *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return fp_error(-ENOMEM, "events sink %s: out of memory", path);
    }
    int rc = fp__line_out_open(&s->out, path, true);
    if (rc < 0) {
        free(s->path);
        free(s);
        return fp_error(rc, "events sink: cannot open %s: %s", path, fp_strerror(rc));
    }
    atomic_init(&s->lines, 0);
    *out = s;
    return 0;
}

int fp_events_jsonl_write(void *sink, const FpEvent *ev, const FpFrameResult *frame_result)
{
    (void)frame_result;
    FpEventsJsonl *s = sink;
    if (!s || !ev)
        return fp_error(FP_EINVALID, "events sink: NULL sink or event");
    char stack[EVENT_LINE_STACK];
    char *buf = stack;
    size_t len = fp_event_to_json(ev, buf, sizeof(stack) - 1);
    if (len >= sizeof(stack) - 1) {
        buf = malloc(len + 2);
        if (!buf)
            return fp_error(-ENOMEM, "events sink %s: out of memory for a %zu-byte line", s->path, len + 2);
        fp_event_to_json(ev, buf, len + 1);
    }
    buf[len] = '\n';
    int rc = fp__line_out_write(&s->out, buf, len + 1);
    if (buf != stack)
        free(buf);
    if (rc == -EPIPE)
        atomic_store(&s->gone, true);
    if (rc < 0)
        return fp_error(rc, "events sink: cannot write to %s: %s", s->path, fp_strerror(rc));
    atomic_fetch_add_explicit(&s->lines, 1, memory_order_relaxed);
    return 0;
}

bool fp_events_jsonl_gone(const FpEventsJsonl *s)
{
    return s && atomic_load(&((FpEventsJsonl *)s)->gone);
}

uint64_t fp_events_jsonl_lines(const FpEventsJsonl *s)
{
    return s ? atomic_load_explicit(&((FpEventsJsonl *)s)->lines, memory_order_relaxed) : 0;
}

void fp_events_jsonl_destroy(FpEventsJsonl **ps)
{
    if (!ps || !*ps)
        return;
    FpEventsJsonl *s = *ps;
    int rc = fp__line_out_close(&s->out);
    if (rc < 0)
        fp_log_error("sink", "events sink: closing %s: %s", s->path, fp_strerror(rc));
    free(s->path);
    free(s);
    *ps = NULL;
}
