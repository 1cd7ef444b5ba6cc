// SPDX-License-Identifier: MIT
// FpDelivery: one network output's bounded queues, delivery thread, reconnect backoff and fsync'd event spool (deliver.h).
#include "framepipe/deliver.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/json.h"
#include "framepipe/log.h"
#include "sink_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/*
 * Design. Producers (inference workers) format a record into a slot of one
 * of two rings under the output's mutex and signal the thread; they never
 * touch the network or the disk. The frame ring is fixed: when it is full
 * the oldest frame is dropped (a live view wants the newest). The event
 * ring doubles when full (events are rare and never dropped). The thread
 * takes a slot by swapping its buffer with a private one, so a producer
 * can refill the slot while the record is being sent.
 *
 * Order of events: spool first, then the ring. An event reaches the spool
 * only from the head of the ring, while the destination is down or after
 * a failed send, so everything in the spool is older than everything in
 * the ring; while the spool has records the ring is not sent from.
 *
 * Spool file (docs/outputs.md "## Spool"): records appended with one
 * writev(2) each, then fdatasync:
 *     "FPR1 <camera bytes> <json bytes> <crc32 hex> <E|F> <seq>\n" camera json "\n"
 * The CRC-32 covers camera and json. "<spool>.pos" holds the offset of the
 * first record not yet delivered (a decimal, rewritten after each delivered
 * record; the page cache keeps it across a process crash). When the last
 * record is delivered both files are truncated to 0. At open, records are
 * checked from the position on; a torn or corrupt record ends the readable
 * part and the file is cut there (with a warning naming the offset).
 */

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define SLOT_INITIAL 4096
#define RECORD_MAX (64u * 1024u * 1024u)
#define SPOOL_MAGIC "FPR1 "
#define SPOOL_HEADER_MAX 96

typedef struct Slot {
    char *buf; /* camera NUL json NUL */
    size_t cap;
    size_t cam_len, json_len;
    uint64_t seq;
} Slot;

typedef struct Ring {
    Slot *slots;
    int cap, head, count;
} Ring;

struct FpDelivery {
    const FpTransportOps *ops;
    void *t;
    FpDeliveryConfig cfg;
    char *name;
    char *spool_path, *pos_path;

    pthread_mutex_t lock;
    pthread_cond_t wake; /* producers -> thread, stop */
    pthread_cond_t idle; /* thread -> fp_delivery_flush */
    pthread_t thread;
    bool started, stop;
    Ring frames, events;
    bool busy;           /* the thread holds a record it has not finished with */

    /* the thread's (read under lock by stats) */
    bool connected;
    int64_t next_retry_ns, backoff_ns;
    Slot sending;
    int spool_fd, pos_fd;
    int64_t spool_pos, spool_end; /* byte offsets */
    int64_t spool_records;        /* records in [spool_pos, spool_end) */
    bool spool_full_warned;

    FpCounter sent_frames, sent_events, failed, retried, dropped, spooled, replayed;
    char last_error[256];
    FpMetrics *metrics;
};

/* ---- CRC-32 (IEEE 802.3, reflected), table built once ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_update(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *b++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* ---- config ---- */

void fp_delivery_config_init(FpDeliveryConfig *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->frames = true;
    cfg->events = true;
    cfg->frame_queue = 64;
    cfg->event_queue = 1024;
    cfg->spool_max_bytes = (int64_t)1 << 30;
    cfg->retry_initial_ns = 100 * MS;
    cfg->retry_max_ns = 5 * SEC;
    cfg->drain_timeout_ns = 2 * SEC;
}

/* ---- slots and rings ---- */

static bool slot_fill(Slot *s, const char *camera, size_t json_room)
{
    size_t cam_len = strlen(camera);
    size_t need = cam_len + 1 + json_room + 1;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : SLOT_INITIAL;
        while (cap < need)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return false;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf, camera, cam_len + 1);
    s->cam_len = cam_len;
    return true;
}

static char *slot_json(Slot *s)
{
    return s->buf + s->cam_len + 1;
}

static int ring_init(Ring *r, int cap)
{
    r->slots = calloc((size_t)cap, sizeof(Slot));
    if (!r->slots)
        return -ENOMEM;
    r->cap = cap;
    r->head = r->count = 0;
    return 0;
}

static void ring_free(Ring *r)
{
    for (int i = 0; r->slots && i < r->cap; i++)
        free(r->slots[i].buf);
    free(r->slots);
    r->slots = NULL;
}

static Slot *ring_at(Ring *r, int i)
{
    return &r->slots[(r->head + i) % r->cap];
}

/* Doubles the ring keeping the order; false on allocation failure. */
static bool ring_grow(Ring *r)
{
    int cap = r->cap * 2;
    Slot *s = calloc((size_t)cap, sizeof(Slot));
    if (!s)
        return false;
    for (int i = 0; i < r->cap; i++)
        s[i] = *ring_at(r, i); /* all cap slots: the free ones keep their buffers too */
    free(r->slots);
    r->slots = s;
    r->cap = cap;
    r->head = 0;
    return true;
}

/* Takes the head record into *out by swapping buffers (the slot gets out's old buffer). */
static void ring_pop(Ring *r, Slot *out)
{
    Slot *s = ring_at(r, 0);
    Slot tmp = *s;
    *s = *out;
    *out = tmp;
    r->head = (r->head + 1) % r->cap;
    r->count--;
}

/* ---- errors ---- */

static void set_last_error(FpDelivery *d, int rc)
{
    const char *detail = fp_error_detail(rc);
    pthread_mutex_lock(&d->lock);
    snprintf(d->last_error, sizeof(d->last_error), "%s", detail);
    pthread_mutex_unlock(&d->lock);
}

/* ---- spool ---- */

static int write_pos(FpDelivery *d)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%020" PRId64 "\n", d->spool_pos);
    if (pwrite(d->pos_fd, buf, (size_t)n, 0) != n)
        return -errno;
    return 0;
}

/* Reads the header at `off` into camera/json lengths, kind, seq, crc; returns the record's total size or a negative code. */
static int64_t read_header(int fd, int64_t off, int64_t end, size_t *cam_len, size_t *json_len, char *kind,
                           uint64_t *seq, uint32_t *crc, size_t *hdr_len)
{
    char h[SPOOL_HEADER_MAX + 1];
    int64_t avail = end - off;
    size_t want = avail < SPOOL_HEADER_MAX ? (size_t)avail : SPOOL_HEADER_MAX;
    ssize_t n = pread(fd, h, want, off);
    if (n < 0)
        return -errno;
    h[n] = '\0';
    char *nl = memchr(h, '\n', (size_t)n);
    if (!nl)
        return FP_ETRUNCATED;
    *nl = '\0';
    unsigned long long cl, jl, sq;
    unsigned int c;
    char k;
    int used = 0;
    if (strncmp(h, SPOOL_MAGIC, 5) != 0 ||
        sscanf(h + 5, "%llu %llu %8x %c %llu%n", &cl, &jl, &c, &k, &sq, &used) != 5 || h[5 + used] != '\0' ||
        (k != 'E' && k != 'F') || cl > 4096 || jl > RECORD_MAX)
        return FP_ECORRUPT;
    *cam_len = (size_t)cl;
    *json_len = (size_t)jl;
    *kind = k;
    *seq = sq;
    *crc = c;
    *hdr_len = (size_t)(nl - h) + 1;
    int64_t total = (int64_t)*hdr_len + (int64_t)cl + (int64_t)jl + 1;
    if (off + total > end)
        return FP_ETRUNCATED;
    return total;
}

/* Reads the record at d->spool_pos into d->sending; returns its size, or a negative code. */
static int64_t spool_read(FpDelivery *d)
{
    size_t cl, jl, hl;
    char kind;
    uint64_t seq;
    uint32_t crc;
    int64_t total = read_header(d->spool_fd, d->spool_pos, d->spool_end, &cl, &jl, &kind, &seq, &crc, &hl);
    if (total < 0)
        return total;
    Slot *s = &d->sending;
    if (cl + jl + 2 > s->cap) {
        char *b = realloc(s->buf, cl + jl + 2);
        if (!b)
            return -ENOMEM;
        s->buf = b;
        s->cap = cl + jl + 2;
    }
    /* camera and json are contiguous in the file: read both, then split */
    ssize_t n = pread(d->spool_fd, s->buf, cl + jl, d->spool_pos + (int64_t)hl);
    if (n < 0)
        return -errno;
    if ((size_t)n != cl + jl)
        return FP_ETRUNCATED;
    if (crc32_update(0, s->buf, cl + jl) != crc)
        return FP_ECORRUPT;
    memmove(s->buf + cl + 1, s->buf + cl, jl);
    s->buf[cl] = '\0';
    s->buf[cl + 1 + jl] = '\0';
    s->cam_len = cl;
    s->json_len = jl;
    s->seq = seq;
    (void)kind; /* only events are spooled today; 'F' is accepted for later */
    return total;
}

/* Appends the event in *s to the spool; 0 or a negative code with a message. */
static int spool_append(FpDelivery *d, const Slot *s)
{
    if (d->spool_end + (int64_t)(s->cam_len + s->json_len) + SPOOL_HEADER_MAX > d->cfg.spool_max_bytes)
        return fp_error(FP_ETOO_LARGE, "output %s: spool %s is full (%" PRId64 " bytes, limit %" PRId64 ")",
                        d->name, d->spool_path, d->spool_end, d->cfg.spool_max_bytes);
    char hdr[SPOOL_HEADER_MAX];
    uint32_t crc = crc32_update(crc32_update(0, s->buf, s->cam_len), s->buf + s->cam_len + 1, s->json_len);
    int hl = snprintf(hdr, sizeof(hdr), SPOOL_MAGIC "%zu %zu %08x E %" PRIu64 "\n", s->cam_len, s->json_len,
                      (unsigned)crc, s->seq);
    struct iovec parts[4] = {{hdr, (size_t)hl},
                             {s->buf, s->cam_len},
                             {s->buf + s->cam_len + 1, s->json_len},
                             {(char *)"\n", 1}};
    size_t total = (size_t)hl + s->cam_len + s->json_len + 1;
    /* one writev(2) of the whole record (O_APPEND), so a crash tears at most this record */
    ssize_t n = writev(d->spool_fd, parts, 4);
    int err = n < 0 ? errno : 0;
    if (n != (ssize_t)total) {
        /* cut a partial record off so the file stays readable */
        if (n > 0 && ftruncate(d->spool_fd, d->spool_end) != 0)
            fp_log_warn("sink", "output %s: cannot cut a partial record off %s", d->name, d->spool_path);
        return fp_error(err ? -err : FP_EIO, "output %s: cannot write to spool %s: %s", d->name, d->spool_path,
                        err ? fp_strerror(-err) : "short write");
    }
    if (fdatasync(d->spool_fd) != 0) {
        err = errno;
        return fp_error(-err, "output %s: fdatasync of spool %s: %s", d->name, d->spool_path, fp_strerror(-err));
    }
    pthread_mutex_lock(&d->lock);
    d->spool_end += (int64_t)total;
    d->spool_records++;
    pthread_mutex_unlock(&d->lock);
    return 0;
}

/* Both files back to empty once everything is delivered. */
static void spool_reset(FpDelivery *d)
{
    if (ftruncate(d->spool_fd, 0) != 0 || ftruncate(d->pos_fd, 0) != 0)
        fp_log_warn("sink", "output %s: cannot truncate spool %s: %s", d->name, d->spool_path, strerror(errno));
    d->spool_pos = d->spool_end = 0;
    d->spool_records = 0;
    (void)write_pos(d);
    (void)fdatasync(d->pos_fd);
}

static int open_spool(FpDelivery *d)
{
    const char *path = d->spool_path;
    d->spool_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (d->spool_fd < 0) {
        int err = errno;
        return fp_error(-err, "output %s: cannot open spool %s: %s", d->name, path, fp_strerror(-err));
    }
    /* one process per spool: a second framepipe on the same spool would replay the same events */
    if (flock(d->spool_fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(d->spool_fd);
        d->spool_fd = -1;
        return fp_error(err == EWOULDBLOCK ? -EBUSY : -err,
                        "output %s: spool %s is in use by another process (give each framepipe its own "
                        "output.spool folder)", d->name, path);
    }
    d->pos_fd = open(d->pos_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->pos_fd < 0) {
        int err = errno;
        close(d->spool_fd);
        d->spool_fd = -1;
        return fp_error(-err, "output %s: cannot open %s: %s", d->name, d->pos_path, fp_strerror(-err));
    }
    struct stat st;
    if (fstat(d->spool_fd, &st) != 0) {
        int err = errno;
        return fp_error(-err, "output %s: stat %s: %s", d->name, path, fp_strerror(-err));
    }
    d->spool_end = st.st_size;
    char pb[32] = "";
    ssize_t n = pread(d->pos_fd, pb, sizeof(pb) - 1, 0);
    d->spool_pos = 0;
    if (n > 0) {
        pb[n] = '\0';
        char *e;
        long long v = strtoll(pb, &e, 10);
        if (e != pb && v >= 0 && v <= d->spool_end)
            d->spool_pos = v;
        else
            fp_log_warn("sink", "output %s: %s holds no valid position; replaying %s from its start", d->name,
                        d->pos_path, path);
    }
    /* check every record from the position on; cut at the first bad one */
    int64_t off = d->spool_pos;
    d->spool_records = 0;
    while (off < d->spool_end) {
        size_t cl, jl, hl;
        char kind;
        uint64_t seq;
        uint32_t crc;
        int64_t total = read_header(d->spool_fd, off, d->spool_end, &cl, &jl, &kind, &seq, &crc, &hl);
        if (total > 0) {
            char *body = malloc(cl + jl + 1);
            if (!body)
                return fp_error(-ENOMEM, "output %s: out of memory checking spool %s", d->name, path);
            ssize_t got = pread(d->spool_fd, body, cl + jl + 1, off + (int64_t)hl);
            bool ok = got == (ssize_t)(cl + jl + 1) && body[cl + jl] == '\n' &&
                      crc32_update(0, body, cl + jl) == crc;
            free(body);
            if (!ok)
                total = FP_ECORRUPT;
        }
        if (total < 0) {
            fp_log_warn("sink", "output %s: spool %s: %s record at byte %" PRId64 " (of %" PRId64
                        "): cutting it and what follows; %" PRId64 " records before it will be replayed",
                        d->name, path, total == FP_ETRUNCATED ? "torn (crash mid-write?)" : "corrupt", off,
                        d->spool_end, d->spool_records);
            if (ftruncate(d->spool_fd, off) != 0) {
                int err = errno;
                return fp_error(-err, "output %s: cannot cut spool %s: %s", d->name, path, fp_strerror(-err));
            }
            d->spool_end = off;
            break;
        }
        off += total;
        d->spool_records++;
    }
    if (d->spool_records > 0)
        fp_log_info("sink", "output %s: %" PRId64 " events left in spool %s by an earlier run: delivering them first",
                    d->name, d->spool_records, path);
    else if (d->spool_end > 0)
        spool_reset(d);
    return 0;
}

/* ---- the thread ---- */

static void disconnect(FpDelivery *d, int rc)
{
    set_last_error(d, rc);
    fp_counter_add(&d->failed, 1);
    if (d->connected)
        d->ops->disconnect(d->t);
    pthread_mutex_lock(&d->lock);
    d->connected = false;
    pthread_mutex_unlock(&d->lock);
    d->next_retry_ns = fp_clock_ns() + d->backoff_ns;
    d->backoff_ns = d->backoff_ns * 2 > d->cfg.retry_max_ns ? d->cfg.retry_max_ns : d->backoff_ns * 2;
}

static void try_connect(FpDelivery *d)
{
    fp_error_clear();
    int rc = d->ops->connect(d->t);
    if (rc < 0) {
        bool first = d->last_error[0] == '\0' || d->backoff_ns == d->cfg.retry_initial_ns;
        if (first)
            fp_log_warn("sink", "output %s: %s (retrying every %.1f s at most; events are spooled)", d->name,
                        fp_error_detail(rc), (double)d->cfg.retry_max_ns / 1e9);
        d->ops->disconnect(d->t);
        disconnect(d, rc);
        return;
    }
    pthread_mutex_lock(&d->lock);
    bool was_error = d->last_error[0] != '\0';
    d->connected = true;
    pthread_mutex_unlock(&d->lock);
    d->backoff_ns = d->cfg.retry_initial_ns;
    if (was_error)
        fp_log_info("sink", "output %s: connected again", d->name);
}

static FpRecord record_of(const Slot *s, FpRecordKind kind)
{
    return (FpRecord){.kind = kind, .camera = s->buf, .seq = s->seq, .json = s->buf + s->cam_len + 1,
                      .len = s->json_len};
}

/* Spools the event in d->sending; on failure it is dropped (counted) with an error logged. */
static void spool_sending(FpDelivery *d)
{
    int rc = spool_append(d, &d->sending);
    if (rc < 0) {
        fp_counter_add(&d->dropped, 1);
        set_last_error(d, rc);
        fp_log_error("sink", "%s: event %s #%" PRIu64 " lost", fp_error_detail(rc), d->sending.buf,
                     d->sending.seq);
    } else {
        fp_counter_add(&d->spooled, 1);
    }
}

static bool work_pending_locked(const FpDelivery *d, int64_t now)
{
    bool can_send = d->connected || now >= d->next_retry_ns;
    bool spool = d->spool_fd >= 0;
    if (d->frames.count > 0)
        return true; /* sent, or dropped while down */
    if (d->events.count > 0 && (can_send || spool))
        return true;
    if (d->spool_records > 0 && can_send)
        return true;
    return false;
}

static void *run(void *arg)
{
    FpDelivery *d = arg;
    int64_t drain_deadline = 0;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        d->busy = false;
        for (;;) {
            int64_t now = fp_clock_ns();
            if (d->stop && drain_deadline == 0)
                drain_deadline = now + d->cfg.drain_timeout_ns;
            if (work_pending_locked(d, now))
                break;
            bool empty = d->frames.count == 0 && d->events.count == 0 && d->spool_records == 0;
            if (empty)
                pthread_cond_broadcast(&d->idle);
            if (d->stop && (empty || now >= drain_deadline))
                goto out_locked;
            int64_t until = d->stop ? drain_deadline : INT64_MAX;
            if (!d->connected && d->next_retry_ns < until && (d->events.count > 0 || d->spool_records > 0))
                until = d->next_retry_ns;
            if (until == INT64_MAX) {
                pthread_cond_wait(&d->wake, &d->lock);
            } else {
                /* the condvar runs on CLOCK_MONOTONIC (fp_clock_ns) */
                struct timespec ts = {.tv_sec = until / SEC, .tv_nsec = until % SEC};
                pthread_cond_timedwait(&d->wake, &d->lock, &ts);
            }
        }
        if (d->stop && fp_clock_ns() >= drain_deadline)
            goto out_locked;
        d->busy = true;
        bool want_connect = !d->connected && fp_clock_ns() >= d->next_retry_ns &&
                            (d->events.count > 0 || d->spool_records > 0 || d->frames.count > 0);
        pthread_mutex_unlock(&d->lock);

        if (want_connect)
            try_connect(d);

        pthread_mutex_lock(&d->lock);
        if (!d->connected) {
            /* down: frames are dropped, events go to the spool (in order) */
            int nf = d->frames.count;
            d->frames.head = (d->frames.head + nf) % d->frames.cap;
            d->frames.count = 0;
            bool have_spool = d->spool_fd >= 0;
            while (have_spool && d->events.count > 0) {
                ring_pop(&d->events, &d->sending);
                pthread_mutex_unlock(&d->lock);
                spool_sending(d);
                pthread_mutex_lock(&d->lock);
            }
            pthread_mutex_unlock(&d->lock);
            fp_counter_add(&d->dropped, (uint64_t)nf);
            continue;
        }
        if (d->spool_records > 0) {
            pthread_mutex_unlock(&d->lock);
            int64_t size = spool_read(d);
            if (size < 0) {
                fp_log_error("sink", "output %s: spool %s unreadable at byte %" PRId64 " (%s): dropping the rest",
                             d->name, d->spool_path, d->spool_pos, fp_strerror((int)size));
                fp_counter_add(&d->dropped, (uint64_t)d->spool_records);
                pthread_mutex_lock(&d->lock);
                spool_reset(d);
                pthread_mutex_unlock(&d->lock);
                continue;
            }
            FpRecord rec = record_of(&d->sending, FP_RECORD_EVENT);
            fp_error_clear();
            int rc = d->ops->send(d->t, &rec);
            if (rc < 0) {
                fp_counter_add(&d->retried, 1);
                disconnect(d, rc);
                continue;
            }
            fp_counter_add(&d->sent_events, 1);
            fp_counter_add(&d->replayed, 1);
            pthread_mutex_lock(&d->lock);
            d->spool_pos += size;
            d->spool_records--;
            if (d->spool_records == 0)
                spool_reset(d);
            else if (write_pos(d) < 0)
                fp_log_warn("sink", "output %s: cannot write %s: %s", d->name, d->pos_path, strerror(errno));
            pthread_mutex_unlock(&d->lock);
            continue;
        }
        if (d->events.count > 0) {
            ring_pop(&d->events, &d->sending);
            pthread_mutex_unlock(&d->lock);
            FpRecord rec = record_of(&d->sending, FP_RECORD_EVENT);
            fp_error_clear();
            int rc = d->ops->send(d->t, &rec);
            if (rc < 0) {
                disconnect(d, rc);
                if (d->spool_fd >= 0) {
                    spool_sending(d);
                } else {
                    /* no spool: back to the head of the ring, to be tried again */
                    pthread_mutex_lock(&d->lock);
                    if (d->events.count == d->events.cap && !ring_grow(&d->events)) {
                        fp_counter_add(&d->dropped, 1);
                    } else {
                        d->events.head = (d->events.head + d->events.cap - 1) % d->events.cap;
                        Slot *h = ring_at(&d->events, 0);
                        Slot tmp = *h;
                        *h = d->sending;
                        d->sending = tmp;
                        d->events.count++;
                    }
                    pthread_mutex_unlock(&d->lock);
                }
                fp_counter_add(&d->retried, 1);
                continue;
            }
            fp_counter_add(&d->sent_events, 1);
            continue;
        }
        if (d->frames.count > 0) {
            ring_pop(&d->frames, &d->sending);
            pthread_mutex_unlock(&d->lock);
            FpRecord rec = record_of(&d->sending, FP_RECORD_FRAME);
            fp_error_clear();
            int rc = d->ops->send(d->t, &rec);
            if (rc < 0) {
                fp_counter_add(&d->dropped, 1);
                disconnect(d, rc);
                continue;
            }
            fp_counter_add(&d->sent_frames, 1);
            continue;
        }
        pthread_mutex_unlock(&d->lock);
    }
out_locked:
    /* stopping: events still in memory go to the spool, frames are dropped */
    {
        int nf = d->frames.count;
        d->frames.count = 0;
        fp_counter_add(&d->dropped, (uint64_t)nf);
        while (d->events.count > 0) {
            ring_pop(&d->events, &d->sending);
            pthread_mutex_unlock(&d->lock);
            if (d->spool_fd >= 0) {
                spool_sending(d);
            } else {
                fp_counter_add(&d->dropped, 1);
                fp_log_error("sink", "output %s: event %s #%" PRIu64 " undelivered at exit (no spool configured)",
                             d->name, d->sending.buf, d->sending.seq);
            }
            pthread_mutex_lock(&d->lock);
        }
        d->busy = false;
        pthread_cond_broadcast(&d->idle);
        pthread_mutex_unlock(&d->lock);
    }
    if (d->connected)
        d->ops->disconnect(d->t);
    pthread_mutex_lock(&d->lock);
    d->connected = false;
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* ---- API ---- */

int fp_delivery_create(FpDelivery **out, const FpTransportOps *ops, void *t, const FpDeliveryConfig *cfg_in)
{
    if (!out || !ops || !ops->connect || !ops->send || !ops->disconnect || !ops->destroy) {
        if (ops && ops->destroy && t)
            ops->destroy(t);
        return fp_error(FP_EINVALID, "output: fp_delivery_create needs out and a complete transport");
    }
    pthread_once(&crc_once, crc_init);
    FpDeliveryConfig cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        fp_delivery_config_init(&cfg);
    const char *name = cfg.name && cfg.name[0] ? cfg.name : ops->kind ? ops->kind : "output";
    if (cfg.frame_queue < 1 || cfg.event_queue < 1 || cfg.retry_initial_ns <= 0 ||
        cfg.retry_max_ns < cfg.retry_initial_ns || cfg.drain_timeout_ns < 0 || cfg.spool_max_bytes <= 0) {
        ops->destroy(t);
        return fp_error(FP_EINVALID, "output %s: queue sizes, retry delays and the spool limit must be > 0", name);
    }
    FpDelivery *d = calloc(1, sizeof(*d));
    if (!d) {
        ops->destroy(t);
        return fp_error(-ENOMEM, "output %s: out of memory", name);
    }
    d->ops = ops;
    d->t = t;
    d->cfg = cfg;
    d->spool_fd = d->pos_fd = -1;
    d->backoff_ns = cfg.retry_initial_ns;
    int rc = 0;
    d->name = strdup(name);
    if (!d->name || ring_init(&d->frames, cfg.frame_queue) < 0 || ring_init(&d->events, cfg.event_queue) < 0) {
        rc = fp_error(-ENOMEM, "output %s: out of memory", name);
        goto fail;
    }
    d->cfg.name = d->name;
    d->cfg.spool_path = NULL;
    if (cfg.spool_path && cfg.spool_path[0]) {
        d->spool_path = strdup(cfg.spool_path);
        if (!d->spool_path || asprintf(&d->pos_path, "%s.pos", cfg.spool_path) < 0) {
            d->pos_path = NULL;
            rc = fp_error(-ENOMEM, "output %s: out of memory", name);
            goto fail;
        }
        d->cfg.spool_path = d->spool_path;
        if ((rc = open_spool(d)) < 0)
            goto fail;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&d->idle, NULL);
    if ((rc = pthread_create(&d->thread, NULL, run, d)) != 0) {
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->wake);
        pthread_cond_destroy(&d->idle);
        rc = fp_error(-rc, "output %s: cannot start its thread: %s", name, strerror(rc));
        goto fail;
    }
    char tname[16];
    snprintf(tname, sizeof(tname), "fp-out-%.8s", ops->kind ? ops->kind : "?");
    pthread_setname_np(d->thread, tname); /* top, /proc/PID/task/TID/comm; bench_outputs.py reads its CPU */
    d->started = true;
    *out = d;
    return 0;
fail:
    if (d->spool_fd >= 0)
        close(d->spool_fd);
    if (d->pos_fd >= 0)
        close(d->pos_fd);
    ring_free(&d->frames);
    ring_free(&d->events);
    free(d->spool_path);
    free(d->pos_path);
    free(d->name);
    ops->destroy(t);
    free(d);
    return rc;
}

static const char *camera_of(const char *name, int index, char *buf, size_t len)
{
    if (name && name[0])
        return name;
    snprintf(buf, len, "cam%d", index);
    return buf;
}

int fp_delivery_frame(void *dv, const FpFrameResult *r)
{
    FpDelivery *d = dv;
    if (!d || !r || !r->frame || r->n_dets < 0 || (r->n_dets > 0 && !r->dets))
        return fp_error(FP_EINVALID, "output: invalid frame result");
    if (!d->cfg.frames)
        return 0;
    char cb[24];
    const char *camera = camera_of(r->camera_name, r->frame->camera, cb, sizeof(cb));
    int64_t now = fp_clock_ns();
    pthread_mutex_lock(&d->lock);
    Ring *q = &d->frames;
    if (q->count == q->cap) { /* drop the oldest */
        q->head = (q->head + 1) % q->cap;
        q->count--;
        fp_counter_add(&d->dropped, 1);
    }
    Slot *s = &q->slots[(q->head + q->count) % q->cap];
    size_t room = s->cap > strlen(camera) + 2 ? s->cap - strlen(camera) - 2 : SLOT_INITIAL;
    int rc = 0;
    for (;;) {
        if (!slot_fill(s, camera, room)) {
            rc = fp_error(-ENOMEM, "output %s: out of memory for a frame record", d->name);
            break;
        }
        size_t len;
        if (fp__frame_json(r, now, slot_json(s), s->cap - s->cam_len - 1, &len)) {
            s->json_len = len;
            s->seq = r->frame->seq;
            q->count++;
            break;
        }
        if (room >= RECORD_MAX) {
            rc = fp_error(FP_ETOO_LARGE, "output %s: a frame record of camera %s exceeds %u bytes", d->name,
                          camera, RECORD_MAX);
            break;
        }
        room = s->cap * 2;
    }
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    if (rc < 0)
        fp_counter_add(&d->dropped, 1);
    return rc;
}

int fp_delivery_event(void *dv, const FpEvent *ev, const FpFrameResult *frame_result)
{
    (void)frame_result;
    FpDelivery *d = dv;
    if (!d || !ev)
        return fp_error(FP_EINVALID, "output: NULL output or event");
    if (!d->cfg.events)
        return 0;
    char cb[24];
    const char *camera = camera_of(ev->camera_name, ev->camera_index, cb, sizeof(cb));
    size_t need = fp_event_to_json(ev, NULL, 0);
    pthread_mutex_lock(&d->lock);
    Ring *q = &d->events;
    int rc = 0;
    if (q->count == q->cap && !ring_grow(q)) {
        rc = fp_error(-ENOMEM, "output %s: out of memory queueing event #%" PRIu64 " of %s", d->name, ev->id,
                      camera);
    } else {
        Slot *s = &q->slots[(q->head + q->count) % q->cap];
        if (!slot_fill(s, camera, need)) {
            rc = fp_error(-ENOMEM, "output %s: out of memory queueing event #%" PRIu64 " of %s", d->name, ev->id,
                          camera);
        } else {
            s->json_len = fp_event_to_json(ev, slot_json(s), need + 1);
            s->seq = ev->id;
            q->count++;
        }
    }
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    if (rc < 0)
        fp_counter_add(&d->dropped, 1);
    return rc;
}

void fp_delivery_get_stats(FpDelivery *d, FpDeliveryStats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
    if (!d)
        return;
    st->sent_frames = fp_counter_get(&d->sent_frames);
    st->sent_events = fp_counter_get(&d->sent_events);
    st->failed = fp_counter_get(&d->failed);
    st->retried = fp_counter_get(&d->retried);
    st->dropped = fp_counter_get(&d->dropped);
    st->spooled = fp_counter_get(&d->spooled);
    st->replayed = fp_counter_get(&d->replayed);
    pthread_mutex_lock(&d->lock);
    st->backlog = d->frames.count + d->events.count + d->spool_records + (d->busy ? 1 : 0);
    st->connected = d->connected;
    snprintf(st->last_error, sizeof(st->last_error), "%s", d->last_error);
    pthread_mutex_unlock(&d->lock);
}

const char *fp_delivery_name(const FpDelivery *d)
{
    return d ? d->name : "";
}

static double gauge_backlog(void *opaque)
{
    FpDeliveryStats st;
    fp_delivery_get_stats(opaque, &st);
    return (double)st.backlog;
}

static double gauge_connected(void *opaque)
{
    FpDeliveryStats st;
    fp_delivery_get_stats(opaque, &st);
    return st.connected ? 1.0 : 0.0;
}

/* A Prometheus label value: backslash, quote and newline escaped; cut to fit. */
static void label_escape(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (; *src && o + 3 < cap; src++) {
        if (*src == '\\' || *src == '"') {
            dst[o++] = '\\';
            dst[o++] = *src;
        } else if (*src == '\n') {
            dst[o++] = '\\';
            dst[o++] = 'n';
        } else {
            dst[o++] = *src;
        }
    }
    dst[o] = '\0';
}

int fp_delivery_register_metrics(FpDelivery *d, FpMetrics *m)
{
    if (!d || !m)
        return fp_error(FP_EINVALID, "output: register_metrics needs an output and a registry");
    char esc[128], labels[320];
    label_escape(esc, sizeof(esc), d->name);
    snprintf(labels, sizeof(labels), "output=\"%s\",sink=\"%s\"", esc, d->ops->kind ? d->ops->kind : "");
    char lf[360], le[360];
    snprintf(lf, sizeof(lf), "%s,kind=\"frame\"", labels);
    snprintf(le, sizeof(le), "%s,kind=\"event\"", labels);
    int rc;
    if ((rc = fp_metrics_add_counter(m, "framepipe_output_sent_total", lf, "Records delivered", &d->sent_frames, d)) < 0 ||
        (rc = fp_metrics_add_counter(m, "framepipe_output_sent_total", le, "Records delivered", &d->sent_events, d)) < 0 ||
        (rc = fp_metrics_add_counter(m, "framepipe_output_failed_total", labels, "Failed sends and connects", &d->failed, d)) < 0 ||
        (rc = fp_metrics_add_counter(m, "framepipe_output_retried_total", labels, "Events sent again after a failure", &d->retried, d)) < 0 ||
        (rc = fp_metrics_add_counter(m, "framepipe_output_dropped_total", labels, "Frames (and events without a spool) dropped", &d->dropped, d)) < 0 ||
        (rc = fp_metrics_add_counter(m, "framepipe_output_spooled_total", labels, "Events written to the spool", &d->spooled, d)) < 0 ||
        (rc = fp_metrics_add_counter(m, "framepipe_output_replayed_total", labels, "Events delivered from the spool", &d->replayed, d)) < 0 ||
        (rc = fp_metrics_add_gauge(m, "framepipe_output_backlog", labels, "Records waiting (memory and spool)", gauge_backlog, d, d)) < 0 ||
        (rc = fp_metrics_add_gauge(m, "framepipe_output_connected", labels, "1 while connected", gauge_connected, d, d)) < 0) {
        fp_metrics_remove_owner(m, d);
        return rc;
    }
    d->metrics = m;
    return 0;
}

int fp_delivery_write_json(FpDelivery *d, FILE *out)
{
    if (!d || !out)
        return fp_error(FP_EINVALID, "output: write_json needs an output and a stream");
    FpDeliveryStats st;
    fp_delivery_get_stats(d, &st);
    int n = fputs("{\"name\":", out);
    if (n >= 0)
        n = fp_json_write_string(out, d->name);
    if (n >= 0)
        n = fputs(",\"kind\":", out);
    if (n >= 0)
        n = fp_json_write_string(out, d->ops->kind ? d->ops->kind : "");
    if (n >= 0)
        n = fprintf(out,
                    ",\"connected\":%s,\"sent_frames\":%" PRIu64 ",\"sent_events\":%" PRIu64 ",\"failed\":%" PRIu64
                    ",\"retried\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"spooled\":%" PRIu64 ",\"replayed\":%" PRIu64
                    ",\"backlog\":%" PRId64 ",\"spool\":",
                    st.connected ? "true" : "false", st.sent_frames, st.sent_events, st.failed, st.retried,
                    st.dropped, st.spooled, st.replayed, st.backlog);
    if (n >= 0)
        n = fp_json_write_string(out, d->spool_path);
    if (n >= 0)
        n = fputs(",\"last_error\":", out);
    if (n >= 0)
        n = fp_json_write_string(out, st.last_error[0] ? st.last_error : NULL);
    if (n >= 0)
        n = fputc('}', out);
    return n < 0 ? -EIO : 0;
}

int fp_delivery_flush(FpDelivery *d, int64_t timeout_ns)
{
    if (!d)
        return fp_error(FP_EINVALID, "output: flush of NULL");
    int64_t until = fp_clock_ns() + timeout_ns;
    pthread_mutex_lock(&d->lock);
    int rc = 0;
    while (d->frames.count > 0 || d->events.count > 0 || d->spool_records > 0 || d->busy) {
        int64_t now = fp_clock_ns();
        if (now >= until) {
            rc = fp_error(FP_ETIMEOUT, "output %s: %d frames, %d events and %" PRId64 " spooled events not delivered",
                          d->name, d->frames.count, d->events.count, d->spool_records);
            break;
        }
        /* idle uses CLOCK_REALTIME (default attr): wait in short steps */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_signal(&d->wake);
        pthread_cond_timedwait(&d->idle, &d->lock, &ts);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void fp_delivery_destroy(FpDelivery **pd)
{
    if (!pd || !*pd)
        return;
    FpDelivery *d = *pd;
    if (d->metrics)
        fp_metrics_remove_owner(d->metrics, d);
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    d->ops->destroy(d->t);
    if (d->spool_fd >= 0) {
        (void)fdatasync(d->pos_fd);
        close(d->spool_fd);
        close(d->pos_fd);
    }
    ring_free(&d->frames);
    ring_free(&d->events);
    free(d->sending.buf);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    pthread_cond_destroy(&d->idle);
    free(d->spool_path);
    free(d->pos_path);
    free(d->name);
    free(d);
    *pd = NULL;
}
