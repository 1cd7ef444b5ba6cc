// SPDX-License-Identifier: MIT
// FpEventLog: a fixed ring of the most recent events' JSON for GET /api/events; no allocation per event.
//
// Design. Every slot is allocated at create (capacity x FP_EVENT_LOG_SLOT
// bytes). fp_event_log_add serialises the event into a stack buffer before
// it takes the mutex, so the lock is held only for one memcpy; readers copy
// the wanted entries out under the lock and format the array after
// releasing it. Entry i of the ring holds seq `first + i` counted from the
// oldest, so ?since= needs no search. Built with or without libmicrohttpd.
#include "framepipe/http.h"

#include "framepipe/error.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct Slot {
    uint64_t seq;
    size_t len;
    char json[FP_EVENT_LOG_SLOT];
} Slot;

struct FpEventLog {
    pthread_mutex_t lock;
    Slot *slots;
    int capacity;
    int head;  /* the oldest entry */
    int count; /* entries stored */
    uint64_t last_seq;
    uint64_t dropped;
};

int fp_event_log_create(FpEventLog **out, int capacity)
{
    if (capacity == 0)
        capacity = FP_EVENT_LOG_DEFAULT_CAPACITY;
    if (!out || capacity < 1 || capacity > FP_EVENT_LOG_MAX_CAPACITY)
        return fp_error(FP_EINVALID, "event log: capacity %d is out of range (1..%d) or out is NULL", capacity,
                        FP_EVENT_LOG_MAX_CAPACITY);
    FpEventLog *log = calloc(1, sizeof(*log));
    Slot *slots = calloc((size_t)capacity, sizeof(*slots));
    if (!log || !slots) {
        free(log);
        free(slots);
        return fp_error(-ENOMEM, "event log: out of memory for %d entries", capacity);
    }
    pthread_mutex_init(&log->lock, NULL);
    log->slots = slots;
    log->capacity = capacity;
    *out = log;
    return 0;
}

int64_t fp_event_log_add(FpEventLog *log, const FpEvent *ev)
{
    if (!log || !ev)
        return fp_error(FP_EINVALID, "event log: fp_event_log_add: log and ev are required");
    char buf[FP_EVENT_LOG_SLOT];
    size_t len = fp_event_to_json(ev, buf, sizeof(buf));
    pthread_mutex_lock(&log->lock);
    if (len >= sizeof(buf) || len < 3 || buf[0] != '{') {
        log->dropped++;
        pthread_mutex_unlock(&log->lock);
        return fp_error(FP_ETOO_LARGE, "event log: event %" PRIu64 " of rule \"%s\" needs %zu bytes of JSON (at most %d)",
                        ev->id, ev->rule ? ev->rule : "", len, FP_EVENT_LOG_SLOT - 1);
    }
    Slot *s;
    if (log->count < log->capacity) {
        s = &log->slots[(log->head + log->count) % log->capacity];
        log->count++;
    } else {
        s = &log->slots[log->head];
        log->head = (log->head + 1) % log->capacity;
    }
    s->seq = ++log->last_seq;
    s->len = len;
    memcpy(s->json, buf, len + 1);
    int64_t seq = (int64_t)s->seq;
    pthread_mutex_unlock(&log->lock);
    return seq;
}

int fp_event_log_write_json(FpEventLog *log, uint64_t since, FILE *out)
{
    if (!log || !out)
        return fp_error(FP_EINVALID, "event log: fp_event_log_write_json: log and out are required");
    pthread_mutex_lock(&log->lock);
    int n = log->count, skip = 0;
    if (n > 0) {
        uint64_t oldest = log->slots[log->head].seq;
        if (since >= log->last_seq)
            skip = n;
        else if (since >= oldest)
            skip = (int)(since - oldest + 1);
    }
    size_t total = 0;
    for (int i = skip; i < n; i++)
        total += log->slots[(log->head + i) % log->capacity].len + 32;
    char *copy = total ? malloc(total) : NULL;
    if (total && !copy) {
        pthread_mutex_unlock(&log->lock);
        return fp_error(-ENOMEM, "event log: out of memory for %zu bytes", total);
    }
    size_t off = 0;
    for (int i = skip; i < n; i++) {
        const Slot *s = &log->slots[(log->head + i) % log->capacity];
        /* {"seq":N, + the event object without its opening brace */
        int k = snprintf(copy + off, total - off, "%s{\"seq\":%" PRIu64 ",", i > skip ? "," : "", s->seq);
        off += (size_t)k;
        memcpy(copy + off, s->json + 1, s->len - 1);
        off += s->len - 1;
    }
    pthread_mutex_unlock(&log->lock);
    int rc = 0;
    if (fputc('[', out) == EOF || (off && fwrite(copy, 1, off, out) != off) || fputc(']', out) == EOF)
        rc = fp_error(-EIO, "event log: writing the JSON failed");
    free(copy);
    return rc;
}

int fp_event_log_next(FpEventLog *log, uint64_t after, uint64_t *seq, char *buf, size_t cap)
{
    if (!log || !seq || !buf)
        return fp_error(FP_EINVALID, "event log: fp_event_log_next: log, seq and buf are required");
    int rc = 0;
    pthread_mutex_lock(&log->lock);
    if (log->count > 0 && after < log->last_seq) {
        uint64_t oldest = log->slots[log->head].seq;
        int i = after < oldest ? 0 : (int)(after - oldest + 1);
        const Slot *s = &log->slots[(log->head + i) % log->capacity];
        char head[40];
        int k = snprintf(head, sizeof(head), "{\"seq\":%" PRIu64 ",", s->seq);
        size_t need = (size_t)k + s->len - 1;
        if (need + 1 > cap) {
            rc = FP_ETOO_LARGE;
        } else {
            memcpy(buf, head, (size_t)k);
            memcpy(buf + k, s->json + 1, s->len - 1);
            buf[need] = '\0';
            *seq = s->seq;
            rc = (int)need;
        }
    }
    pthread_mutex_unlock(&log->lock);
    return rc == FP_ETOO_LARGE ? fp_error(rc, "event log: an entry needs more than %zu bytes", cap) : rc;
}

uint64_t fp_event_log_last_seq(const FpEventLog *clog)
{
    if (!clog)
        return 0;
    FpEventLog *log = (FpEventLog *)clog; /* the lock only */
    pthread_mutex_lock(&log->lock);
    uint64_t v = log->last_seq;
    pthread_mutex_unlock(&log->lock);
    return v;
}

uint64_t fp_event_log_dropped(const FpEventLog *clog)
{
    if (!clog)
        return 0;
    FpEventLog *log = (FpEventLog *)clog;
    pthread_mutex_lock(&log->lock);
    uint64_t v = log->dropped;
    pthread_mutex_unlock(&log->lock);
    return v;
}

void fp_event_log_destroy(FpEventLog **plog)
{
    if (!plog || !*plog)
        return;
    FpEventLog *log = *plog;
    pthread_mutex_destroy(&log->lock);
    free(log->slots);
    free(log);
    *plog = NULL;
}
