// SPDX-License-Identifier: MIT
// FpDelivery: order, backpressure, spooling while the destination is down, replay after a restart or SIGKILL, torn and corrupt spools.
//
// The transport here is the test's own (a list in memory that can be told
// to refuse connections, fail the Nth send or block), so every path of the
// engine can be driven exactly; the real transports (Redis, MQTT, webhook)
// are tested against real servers in test_redis.c, test_mqtt.c,
// test_webhook.c and end to end in tests/apps.
#include "fp_test.h"

#include "framepipe/deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXREC 20000

typedef struct Got {
    FpRecordKind kind;
    char camera[32];
    uint64_t seq;
} Got;

typedef struct Fake {
    pthread_mutex_t m;
    pthread_cond_t cv;
    bool up;            /* connect succeeds */
    int fail_after;     /* > 0: this many more sends succeed, then one fails */
    int accept_limit;   /* > 0: after this many records the destination goes down for good */
    bool block;         /* send waits while set */
    bool in_send;
    int connects, disconnects;
    Got got[MAXREC];
    int n;
    char last_json[512];
    bool destroyed;
} Fake;

static int fake_connect(void *t)
{
    Fake *f = t;
    pthread_mutex_lock(&f->m);
    bool up = f->up;
    f->connects++;
    pthread_mutex_unlock(&f->m);
    return up ? 0 : fp_error(-ECONNREFUSED, "fake 127.0.0.1:1: connection refused");
}

static int fake_send(void *t, const FpRecord *r)
{
    Fake *f = t;
    pthread_mutex_lock(&f->m);
    f->in_send = true;
    pthread_cond_broadcast(&f->cv);
    while (f->block)
        pthread_cond_wait(&f->cv, &f->m);
    f->in_send = false;
    int rc = 0;
    if (!f->up) {
        rc = fp_error(-EPIPE, "fake: connection lost");
    } else if (f->fail_after > 0 && --f->fail_after == 0) {
        f->up = true;
        rc = fp_error(-EPIPE, "fake: one failed send");
    } else if (f->accept_limit > 0 && f->n >= f->accept_limit) {
        f->up = false;
        rc = fp_error(-EPIPE, "fake: gone after %d records", f->accept_limit);
    } else if (f->n < MAXREC) {
        Got *g = &f->got[f->n++];
        g->kind = r->kind;
        snprintf(g->camera, sizeof(g->camera), "%s", r->camera);
        g->seq = r->seq;
        snprintf(f->last_json, sizeof(f->last_json), "%s", r->json);
        if (strlen(r->json) != r->len)
            rc = fp_error(FP_EINVALID, "fake: len does not match the JSON");
    }
    pthread_mutex_unlock(&f->m);
    return rc;
}

static void fake_disconnect(void *t)
{
    Fake *f = t;
    pthread_mutex_lock(&f->m);
    f->disconnects++;
    pthread_mutex_unlock(&f->m);
}

static void fake_destroy(void *t)
{
    Fake *f = t;
    pthread_mutex_lock(&f->m);
    f->destroyed = true;
    pthread_mutex_unlock(&f->m);
}

static const FpTransportOps FAKE_OPS = {"fake", fake_connect, fake_send, fake_disconnect, fake_destroy};

static Fake *fake_new(bool up)
{
    Fake *f = calloc(1, sizeof(*f));
    CHECK(f);
    pthread_mutex_init(&f->m, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->up = up;
    return f;
}

static void fake_set(Fake *f, bool up)
{
    pthread_mutex_lock(&f->m);
    f->up = up;
    pthread_mutex_unlock(&f->m);
}

static int fake_count(Fake *f)
{
    pthread_mutex_lock(&f->m);
    int n = f->n;
    pthread_mutex_unlock(&f->m);
    return n;
}

static void fake_free(Fake *f)
{
    pthread_mutex_destroy(&f->m);
    pthread_cond_destroy(&f->cv);
    free(f);
}

static FpEvent make_event(const char *camera, uint64_t id)
{
    FpEvent ev;
    memset(&ev, 0, sizeof(ev));
    ev.id = id;
    ev.camera_name = camera;
    ev.rule = "door";
    ev.rule_kind = FP_RULE_ENTER;
    ev.zone = "porch \"A\" \xc3\xa9";
    ev.track_id = id;
    ev.start_ns = ev.end_ns = (int64_t)id * 1000000;
    ev.box = (FpBox){1, 2, 30, 40};
    return ev;
}

static FpFrame g_frame;
static FpDetection g_det = {.box = {10, 20, 110, 220}, .score = 0.9f, .class_id = 0};

static FpFrameResult make_frame(const char *camera, int cam, uint64_t seq)
{
    memset(&g_frame, 0, sizeof(g_frame));
    g_frame.camera = cam;
    g_frame.seq = seq;
    g_frame.width = 640;
    g_frame.height = 480;
    return (FpFrameResult){.frame = &g_frame, .camera_name = camera, .dets = &g_det, .n_dets = 1, .batch_size = 1};
}

static void tmp_spool(char *path, size_t len, const char *tag)
{
    snprintf(path, len, "%s/deliver-%s-%d.spool", fp_test_build_dir(), tag, (int)getpid());
    unlink(path);
    char pos[600];
    snprintf(pos, sizeof(pos), "%s.pos", path);
    unlink(pos);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static FpDeliveryConfig quick_cfg(const char *spool)
{
    FpDeliveryConfig c;
    fp_delivery_config_init(&c);
    c.spool_path = spool;
    c.retry_initial_ns = 5 * 1000000;
    c.retry_max_ns = 20 * 1000000;
    return c;
}

/* Every event of each camera arrived once, in order, ids 1..n. */
static void check_events_in_order(Fake *f, const char *const *cams, int ncam, int n_per_cam)
{
    for (int c = 0; c < ncam; c++) {
        uint64_t next = 1;
        for (int i = 0; i < f->n; i++) {
            if (f->got[i].kind != FP_RECORD_EVENT || strcmp(f->got[i].camera, cams[c]) != 0)
                continue;
            CHECK_MSG(f->got[i].seq == next, "camera %s: got event %llu, expected %llu (record %d)", cams[c],
                      (unsigned long long)f->got[i].seq, (unsigned long long)next, i);
            next++;
        }
        CHECK_MSG(next == (uint64_t)n_per_cam + 1, "camera %s: %llu of %d events", cams[c],
                  (unsigned long long)(next - 1), n_per_cam);
    }
}

FP_TEST(delivers_frames_and_events_in_order)
{
    Fake *f = fake_new(true);
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(NULL);
    c.frame_queue = 4096;
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    const char *cams[] = {"front", "back"};
    for (uint64_t i = 1; i <= 500; i++) {
        for (int k = 0; k < 2; k++) {
            FpEvent ev = make_event(cams[k], i);
            CHECK_OK(fp_delivery_event(d, &ev, NULL));
            FpFrameResult r = make_frame(cams[k], k, i);
            CHECK_OK(fp_delivery_frame(d, &r));
        }
    }
    CHECK_OK(fp_delivery_flush(d, 30LL * 1000000000));
    FpDeliveryStats st;
    fp_delivery_get_stats(d, &st);
    CHECK_EQ(st.sent_events, 1000);
    CHECK_EQ(st.sent_frames + st.dropped, 1000);
    CHECK_EQ(st.spooled, 0);
    CHECK_EQ(st.backlog, 0);
    CHECK(st.connected);
    check_events_in_order(f, cams, 2, 500);
    /* frames of a camera in increasing seq */
    uint64_t last[2] = {0, 0};
    for (int i = 0; i < f->n; i++)
        if (f->got[i].kind == FP_RECORD_FRAME) {
            int k = strcmp(f->got[i].camera, "back") == 0;
            CHECK(f->got[i].seq > last[k]);
            last[k] = f->got[i].seq;
        }
    fp_delivery_destroy(&d);
    CHECK(d == NULL);
    CHECK(f->destroyed);
    fake_free(f);
}

FP_TEST(event_json_is_the_events_schema)
{
    Fake *f = fake_new(true);
    FpDelivery *d = NULL;
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, NULL));
    FpEvent ev = make_event("cam \"x\"", 7);
    CHECK_OK(fp_delivery_event(d, &ev, NULL));
    CHECK_OK(fp_delivery_flush(d, 10LL * 1000000000));
    char want[512];
    fp_event_to_json(&ev, want, sizeof(want));
    CHECK_MSG(strcmp(f->last_json, want) == 0, "got %s\nwant %s", f->last_json, want);
    CHECK(strcmp(f->got[0].camera, "cam \"x\"") == 0);
    fp_delivery_destroy(&d);
    fake_free(f);
}

FP_TEST_TIMED(down_spools_events_drops_frames_then_replays_in_order, 120)
{
    char spool[512];
    tmp_spool(spool, sizeof(spool), "down");
    Fake *f = fake_new(false);
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(spool);
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    const char *cams[] = {"a", "b"};
    for (uint64_t i = 1; i <= 60; i++) {
        for (int k = 0; k < 2; k++) {
            FpEvent ev = make_event(cams[k], i);
            CHECK_OK(fp_delivery_event(d, &ev, NULL));
            FpFrameResult r = make_frame(cams[k], k, i);
            CHECK_OK(fp_delivery_frame(d, &r));
        }
    }
    FpDeliveryStats st;
    for (int i = 0; i < 2000; i++) {
        fp_delivery_get_stats(d, &st);
        if (st.spooled == 120)
            break;
        usleep(5000);
    }
    CHECK_EQ(st.spooled, 120);
    CHECK(!st.connected);
    CHECK(st.failed >= 1);
    CHECK_MSG(strstr(st.last_error, "connection refused") != NULL, "last_error: %s", st.last_error);
    CHECK(file_size(spool) > 0);
    CHECK_EQ(fake_count(f), 0);

    fake_set(f, true);
    CHECK_OK(fp_delivery_flush(d, 30LL * 1000000000));
    fp_delivery_get_stats(d, &st);
    CHECK_EQ(st.sent_events, 120);
    CHECK_EQ(st.replayed, 120);
    CHECK_EQ(st.sent_frames + st.dropped, 120);
    CHECK(st.connected);
    check_events_in_order(f, cams, 2, 60);
    CHECK_EQ(file_size(spool), 0);
    char json[4096];
    FILE *m = fmemopen(json, sizeof(json), "w");
    CHECK_OK(fp_delivery_write_json(d, m));
    fclose(m);
    CHECK(strstr(json, "\"replayed\":120") != NULL);
    fp_delivery_destroy(&d);
    fake_free(f);
    unlink(spool);
}

FP_TEST_TIMED(failed_send_is_spooled_and_retried_once, 120)
{
    char spool[512];
    tmp_spool(spool, sizeof(spool), "midfail");
    Fake *f = fake_new(true);
    f->fail_after = 11; /* the 11th send fails */
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(spool);
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    const char *cams[] = {"a"};
    for (uint64_t i = 1; i <= 40; i++) {
        FpEvent ev = make_event("a", i);
        CHECK_OK(fp_delivery_event(d, &ev, NULL));
    }
    CHECK_OK(fp_delivery_flush(d, 30LL * 1000000000));
    FpDeliveryStats st;
    fp_delivery_get_stats(d, &st);
    CHECK_EQ(st.sent_events, 40);
    CHECK(st.retried >= 1);
    CHECK(st.failed >= 1);
    check_events_in_order(f, cams, 1, 40);
    CHECK(f->disconnects >= 1);
    CHECK(f->connects >= 2);
    fp_delivery_destroy(&d);
    fake_free(f);
    unlink(spool);
}

FP_TEST_TIMED(spool_survives_restart_without_duplicates, 120)
{
    char spool[512];
    tmp_spool(spool, sizeof(spool), "restart");
    Fake *f = fake_new(false);
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(spool);
    c.drain_timeout_ns = 50 * 1000000;
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    for (uint64_t i = 1; i <= 30; i++) {
        FpEvent ev = make_event("a", i);
        CHECK_OK(fp_delivery_event(d, &ev, NULL));
    }
    fp_delivery_destroy(&d); /* down the whole time: all 30 end in the spool */
    fake_free(f);

    /* second run: 12 are delivered, then the destination goes away again */
    f = fake_new(true);
    f->accept_limit = 12;
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    for (int i = 0; i < 2000 && fake_count(f) < 12; i++)
        usleep(5000);
    usleep(50000);
    fp_delivery_destroy(&d);
    int first = f->n;
    CHECK_EQ(first, 12);
    for (int i = 0; i < first; i++)
        CHECK_EQ(f->got[i].seq, (uint64_t)i + 1);
    fake_free(f);

    /* third run: the rest, exactly once, in order */
    f = fake_new(true);
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    CHECK_OK(fp_delivery_flush(d, 30LL * 1000000000));
    CHECK_EQ(f->n, 30 - first);
    for (int i = 0; i < f->n; i++)
        CHECK_EQ(f->got[i].seq, (uint64_t)(first + i + 1));
    fp_delivery_destroy(&d);
    CHECK_EQ(file_size(spool), 0);
    fake_free(f);
    unlink(spool);
}

FP_TEST_TIMED(sigkill_while_spooled_replays_on_next_start, 120)
{
    char spool[512];
    tmp_spool(spool, sizeof(spool), "kill");
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        Fake *f = fake_new(false);
        FpDelivery *d = NULL;
        FpDeliveryConfig c = quick_cfg(spool);
        if (fp_delivery_create(&d, &FAKE_OPS, f, &c) < 0)
            _exit(3);
        for (uint64_t i = 1; i <= 25; i++) {
            FpEvent ev = make_event("k", i);
            fp_delivery_event(d, &ev, NULL);
        }
        FpDeliveryStats st;
        for (int i = 0; i < 4000; i++) {
            fp_delivery_get_stats(d, &st);
            if (st.spooled == 25)
                raise(SIGKILL);
            usleep(2000);
        }
        _exit(4);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    Fake *f = fake_new(true);
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(spool);
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    CHECK_OK(fp_delivery_flush(d, 30LL * 1000000000));
    const char *cams[] = {"k"};
    check_events_in_order(f, cams, 1, 25);
    fp_delivery_destroy(&d);
    fake_free(f);
    unlink(spool);
}

/* Writes a spool of n events with the engine (destination down), returns its size. */
static off_t spool_of(const char *spool, int n)
{
    Fake *f = fake_new(false);
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(spool);
    c.drain_timeout_ns = 0;
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    for (int i = 1; i <= n; i++) {
        FpEvent ev = make_event("t", (uint64_t)i);
        CHECK_OK(fp_delivery_event(d, &ev, NULL));
    }
    fp_delivery_destroy(&d);
    fake_free(f);
    return file_size(spool);
}

FP_TEST_TIMED(torn_last_record_is_cut_and_the_rest_replayed, 60)
{
    char spool[512];
    tmp_spool(spool, sizeof(spool), "torn");
    off_t size3 = spool_of(spool, 3);
    CHECK(size3 > 0);
    /* a crash mid-write of a 4th record: its header and half its body */
    int fd = open(spool, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    const char torn[] = "FPR1 1 200 0badf00d E 4\nt{\"id\":4,\"cam";
    CHECK(write(fd, torn, sizeof(torn) - 1) == (ssize_t)(sizeof(torn) - 1));
    close(fd);
    Fake *f = fake_new(true);
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(spool);
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    CHECK_OK(fp_delivery_flush(d, 30LL * 1000000000));
    const char *cams[] = {"t"};
    check_events_in_order(f, cams, 1, 3);
    /* new events after the cut are appended to a clean file and delivered */
    FpEvent ev = make_event("t", 4);
    CHECK_OK(fp_delivery_event(d, &ev, NULL));
    CHECK_OK(fp_delivery_flush(d, 30LL * 1000000000));
    check_events_in_order(f, cams, 1, 4);
    fp_delivery_destroy(&d);
    fake_free(f);
    unlink(spool);
}

FP_TEST_TIMED(corrupt_record_ends_the_readable_part, 60)
{
    char spool[512];
    tmp_spool(spool, sizeof(spool), "corrupt");
    off_t size = spool_of(spool, 5);
    CHECK(size > 0);
    /* flip one byte inside the 3rd record's JSON: records are equal-sized here (ids 1..5: one digit) */
    off_t rec = size / 5;
    int fd = open(spool, O_RDWR);
    CHECK(fd >= 0);
    char b;
    CHECK(pread(fd, &b, 1, 2 * rec + rec / 2) == 1);
    b ^= 0x20;
    CHECK(pwrite(fd, &b, 1, 2 * rec + rec / 2) == 1);
    close(fd);
    Fake *f = fake_new(true);
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(spool);
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    CHECK_OK(fp_delivery_flush(d, 30LL * 1000000000));
    CHECK_EQ(f->n, 2);
    CHECK_EQ(f->got[0].seq, 1);
    CHECK_EQ(f->got[1].seq, 2);
    fp_delivery_destroy(&d);
    fake_free(f);
    unlink(spool);
}

FP_TEST_TIMED(blocked_destination_never_blocks_producers, 60)
{
    Fake *f = fake_new(true);
    f->block = true;
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(NULL);
    c.frame_queue = 8;
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    /* the first record is taken and blocks in send; the queue then fills and drops its oldest */
    FpFrameResult r = make_frame("cam", 0, 1);
    CHECK_OK(fp_delivery_frame(d, &r));
    pthread_mutex_lock(&f->m);
    while (!f->in_send)
        pthread_cond_wait(&f->cv, &f->m);
    pthread_mutex_unlock(&f->m);
    for (uint64_t i = 2; i <= 1000; i++) {
        r = make_frame("cam", 0, i);
        CHECK_OK(fp_delivery_frame(d, &r)); /* returns although the thread is stuck */
    }
    FpEvent ev = make_event("cam", 1);
    CHECK_OK(fp_delivery_event(d, &ev, NULL));
    FpDeliveryStats st;
    fp_delivery_get_stats(d, &st);
    CHECK_EQ(st.dropped, 1000 - 1 - 8);
    CHECK_EQ(st.backlog, 8 + 1 + 1);
    pthread_mutex_lock(&f->m);
    f->block = false;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->m);
    CHECK_OK(fp_delivery_flush(d, 30LL * 1000000000));
    /* the newest 8 frames survived: seq 993..1000 */
    int frames = 0;
    for (int i = 0; i < f->n; i++)
        if (f->got[i].kind == FP_RECORD_FRAME && f->got[i].seq > 1) {
            CHECK(f->got[i].seq >= 993);
            frames++;
        }
    CHECK_EQ(frames, 8);
    fp_delivery_destroy(&d);
    fake_free(f);
}

FP_TEST_TIMED(without_spool_events_wait_in_memory, 60)
{
    Fake *f = fake_new(false);
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(NULL);
    c.event_queue = 4; /* grows: events are never dropped for a full queue */
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    for (uint64_t i = 1; i <= 50; i++) {
        FpEvent ev = make_event("m", i);
        CHECK_OK(fp_delivery_event(d, &ev, NULL));
    }
    usleep(50000);
    FpDeliveryStats st;
    fp_delivery_get_stats(d, &st);
    CHECK_EQ(st.dropped, 0);
    CHECK_EQ(st.spooled, 0);
    CHECK(st.backlog >= 49);
    fake_set(f, true);
    CHECK_OK(fp_delivery_flush(d, 30LL * 1000000000));
    const char *cams[] = {"m"};
    check_events_in_order(f, cams, 1, 50);
    fp_delivery_destroy(&d);
    fake_free(f);
}

FP_TEST(metrics_are_registered_and_removed)
{
    FpMetrics *m = NULL;
    CHECK_OK(fp_metrics_create(&m));
    Fake *f = fake_new(true);
    FpDelivery *d = NULL;
    FpDeliveryConfig c = quick_cfg(NULL);
    c.name = "alerts \"1\"";
    CHECK_OK(fp_delivery_create(&d, &FAKE_OPS, f, &c));
    CHECK_OK(fp_delivery_register_metrics(d, m));
    FpEvent ev = make_event("x", 1);
    CHECK_OK(fp_delivery_event(d, &ev, NULL));
    CHECK_OK(fp_delivery_flush(d, 10LL * 1000000000));
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    CHECK_OK(fp_metrics_write_prometheus(m, o));
    fclose(o);
    CHECK_MSG(strstr(buf, "framepipe_output_sent_total{output=\"alerts \\\"1\\\"\",sink=\"fake\",kind=\"event\"} 1") != NULL,
              "%s", buf);
    CHECK(strstr(buf, "framepipe_output_connected{output=\"alerts \\\"1\\\"\",sink=\"fake\"} 1") != NULL);
    free(buf);
    fp_delivery_destroy(&d);
    buf = NULL;
    o = open_memstream(&buf, &len);
    CHECK_OK(fp_metrics_write_prometheus(m, o));
    fclose(o);
    CHECK(strstr(buf, "framepipe_output_") == NULL);
    free(buf);
    fp_metrics_destroy(&m);
    fake_free(f);
}

FP_TEST(bad_arguments_and_unopenable_spool)
{
    FpDelivery *d = NULL;
    CHECK_EQ(fp_delivery_create(&d, NULL, NULL, NULL), FP_EINVALID);
    Fake *f = fake_new(true);
    FpDeliveryConfig c = quick_cfg("/nonexistent-dir/x.spool");
    int rc = fp_delivery_create(&d, &FAKE_OPS, f, &c);
    CHECK_EQ(rc, -ENOENT);
    CHECK(strstr(fp_error_detail(rc), "/nonexistent-dir/x.spool") != NULL);
    CHECK(d == NULL);
    CHECK(f->destroyed); /* taken over even on failure */
    fake_free(f);
    CHECK_EQ(fp_delivery_frame(NULL, NULL), FP_EINVALID);
    CHECK_EQ(fp_delivery_event(NULL, NULL, NULL), FP_EINVALID);
}

FP_TEST(a_spool_is_used_by_one_output_at_a_time)
{
    char spool[512];
    tmp_spool(spool, sizeof(spool), "lock");
    Fake *f1 = fake_new(true), *f2 = fake_new(true);
    FpDelivery *d1 = NULL, *d2 = NULL;
    FpDeliveryConfig c = quick_cfg(spool);
    CHECK_OK(fp_delivery_create(&d1, &FAKE_OPS, f1, &c));
    int rc = fp_delivery_create(&d2, &FAKE_OPS, f2, &c);
    CHECK_EQ(rc, -EBUSY);
    CHECK(strstr(fp_error_detail(rc), "in use by another process") != NULL);
    fp_delivery_destroy(&d1);
    CHECK_OK(fp_delivery_create(&d2, &FAKE_OPS, f2, &c)); /* free again once the first is gone */
    fp_delivery_destroy(&d2);
    fake_free(f1);
    fake_free(f2);
    unlink(spool);
}
