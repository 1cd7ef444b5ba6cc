// SPDX-License-Identifier: MIT
// fp_log_set_callback: whole lines from many threads reach the callback, NULL restores stderr, and the old callback is done when the call returns.
#include "fp_test.h"

#include "framepipe/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- stderr into a file for the length of a case ---- */

typedef struct Captured {
    char path[512];
    int saved_fd;
} Captured;

static void capture_stderr(Captured *c)
{
    snprintf(c->path, sizeof(c->path), "%s/stderr.txt", fp_test_tmpdir());
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    c->saved_fd = dup(STDERR_FILENO);
    CHECK(c->saved_fd >= 0);
    CHECK(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    close(fd);
}

/* Restores stderr; returns what was written meanwhile (malloc'ed, NUL-terminated). */
static char *release_stderr(Captured *c)
{
    CHECK(dup2(c->saved_fd, STDERR_FILENO) == STDERR_FILENO);
    close(c->saved_fd);
    FILE *f = fopen(c->path, "rb");
    CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)n + 1);
    CHECK(text != NULL);
    CHECK_EQ(fread(text, 1, (size_t)n, f), n);
    fclose(f);
    return text;
}

/* ---- whole lines from many threads ---- */

#define THREADS 8
#define LINES 250

typedef struct Received {
    pthread_mutex_t lock;
    int count[THREADS][LINES];
    int bad;          /* lines that were not exactly what the thread logged */
    char first_bad[600];
} Received;

/* The payload thread t logs as line i: long enough to be cut in two by a torn write. */
static void payload(int t, int i, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "t=%d i=%d ", t, i);
    for (size_t k = 0; n + 1 < len && k < 400; k++)
        out[n++] = (char)('a' + (t * 7 + i + (int)k) % 26);
    out[n] = '\0';
}

static void collect(void *opaque, FpLogLevel level, const char *component, const char *message)
{
    Received *r = opaque;
    int t = -1, i = -1;
    char want[512], comp[32];
    bool ok = sscanf(message, "t=%d i=%d ", &t, &i) == 2 && t >= 0 && t < THREADS && i >= 0 && i < LINES;
    if (ok) {
        payload(t, i, want, sizeof(want));
        snprintf(comp, sizeof(comp), "worker%d", t);
        ok = strcmp(message, want) == 0 && strcmp(component, comp) == 0 &&
             level == (i % 2 ? FP_LOG_WARN : FP_LOG_ERROR);
    }
    pthread_mutex_lock(&r->lock);
    if (ok) {
        r->count[t][i]++;
    } else if (r->bad++ == 0) {
        snprintf(r->first_bad, sizeof(r->first_bad), "[%d %s] %s", (int)level, component, message);
    }
    pthread_mutex_unlock(&r->lock);
}

static pthread_barrier_t start;

static void *log_lines(void *arg)
{
    int t = (int)(intptr_t)arg;
    char comp[32], text[512];
    snprintf(comp, sizeof(comp), "worker%d", t);
    pthread_barrier_wait(&start);
    for (int i = 0; i < LINES; i++) {
        payload(t, i, text, sizeof(text));
        fp_log(i % 2 ? FP_LOG_WARN : FP_LOG_ERROR, comp, "%s", text);
    }
    return NULL;
}

FP_TEST(log_callback_gets_every_line_whole_from_many_threads)
{
    static Received r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    Captured cap;
    capture_stderr(&cap);
    fp_log_set_level(FP_LOG_INFO);
    fp_log_set_callback(collect, &r);
    pthread_t th[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    for (int t = 0; t < THREADS; t++)
        CHECK_EQ(pthread_create(&th[t], NULL, log_lines, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&start);
    fp_log_set_callback(NULL, NULL);
    char *err = release_stderr(&cap);

    CHECK_MSG(r.bad == 0, "%d lines reached the callback changed, first: %s", r.bad, r.first_bad);
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < LINES; i++)
            CHECK_MSG(r.count[t][i] == 1, "thread %d line %d reached the callback %d times", t, i,
                      r.count[t][i]);
    CHECK_MSG(err[0] == '\0', "with a callback set, stderr still got: %.200s", err);
    free(err);
}

/* ---- NULL restores stderr; the old callback is finished when the call returns ---- */

typedef struct Retiring {
    atomic_int running;   /* callbacks in progress */
    atomic_int calls;
    atomic_bool retired;  /* set right after fp_log_set_callback(NULL) returned */
    atomic_int late;      /* callbacks that started after that */
} Retiring;

static void slow_callback(void *opaque, FpLogLevel level, const char *component, const char *message)
{
    (void)level, (void)component, (void)message;
    Retiring *s = opaque;
    atomic_fetch_add(&s->running, 1);
    if (atomic_load(&s->retired))
        atomic_fetch_add(&s->late, 1);
    usleep(200); /* widen the window in which a racing set_callback would return too early */
    atomic_fetch_add(&s->calls, 1);
    atomic_fetch_sub(&s->running, 1);
}

static atomic_bool stop_logging;

static void *log_until_stopped(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load(&stop_logging); i++) {
        fp_log_warn("spinner", "line %d", i);
        usleep(50);
    }
    return NULL;
}

FP_TEST(log_callback_null_restores_stderr_after_the_old_one_returned)
{
    static Retiring s;
    Captured cap;
    capture_stderr(&cap);
    fp_log_set_level(FP_LOG_INFO);
    fp_log_set_callback(slow_callback, &s);
    pthread_t th[4];
    for (int t = 0; t < 4; t++)
        CHECK_EQ(pthread_create(&th[t], NULL, log_until_stopped, NULL), 0);
    while (atomic_load(&s.calls) < 50)
        usleep(1000);
    fp_log_set_callback(NULL, NULL);
    int running = atomic_load(&s.running);
    atomic_store(&s.retired, true);
    usleep(30000); /* the threads keep logging: to stderr now */
    atomic_store(&stop_logging, true);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    char *err = release_stderr(&cap);

    CHECK_MSG(running == 0, "%d callbacks still running after fp_log_set_callback(NULL) returned", running);
    CHECK_MSG(atomic_load(&s.late) == 0, "%d callbacks started after fp_log_set_callback(NULL) returned",
              atomic_load(&s.late));
    CHECK_MSG(strstr(err, "W spinner: line ") != NULL, "stderr got no line after NULL: %.200s", err);
    free(err);
}

/* ---- threshold, component default, a callback that logs ---- */

typedef struct Last {
    int calls;
    FpLogLevel level;
    char component[64], message[256];
} Last;

static void remember(void *opaque, FpLogLevel level, const char *component, const char *message)
{
    Last *l = opaque;
    l->calls++;
    l->level = level;
    snprintf(l->component, sizeof(l->component), "%s", component);
    snprintf(l->message, sizeof(l->message), "%s", message);
    /* a callback that logs: the line goes to stderr, not back into this callback */
    fp_log_error("inner", "logged from the callback (%d)", l->calls);
}

FP_TEST(log_callback_respects_the_threshold_and_does_not_recurse)
{
    Last l = {0};
    Captured cap;
    capture_stderr(&cap);
    fp_log_set_level(FP_LOG_WARN);
    fp_log_set_callback(remember, &l);
    fp_log_info("comp", "dropped %d", 1);
    CHECK_EQ(l.calls, 0);
    fp_log_warn("comp", "hello %d", 42);
    CHECK_EQ(l.calls, 1);
    CHECK_EQ(l.level, FP_LOG_WARN);
    CHECK(strcmp(l.component, "comp") == 0);
    CHECK_MSG(strcmp(l.message, "hello 42") == 0, "message '%s'", l.message);
    fp_log(FP_LOG_ERROR, NULL, "no component");
    CHECK_EQ(l.calls, 2);
    CHECK(strcmp(l.component, "framepipe") == 0);
    fp_log_set_callback(NULL, NULL);
    fp_log_warn("comp", "to stderr");
    CHECK_EQ(l.calls, 2);
    char *err = release_stderr(&cap);
    CHECK_MSG(strstr(err, "E inner: logged from the callback (1)\n") != NULL, "stderr: %.300s", err);
    CHECK_MSG(strstr(err, "E inner: logged from the callback (2)\n") != NULL, "stderr: %.300s", err);
    CHECK_MSG(strstr(err, "W comp: to stderr\n") != NULL, "stderr: %.300s", err);
    CHECK(strstr(err, "hello 42") == NULL);
    free(err);
}
