// SPDX-License-Identifier: MIT
// fp_log from many threads at once (first use included): every line arrives whole, exactly once (also under TSan).
#include "fp_test.h"

#include "framepipe/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

/*
 * log.h promises that each line is written with one write(2) call, so lines
 * from different threads never interleave. THREADS threads log LINES long
 * lines each (payload derived from thread and line number) into stderr,
 * which is a file opened with O_APPEND here: one write(2) lands as one
 * contiguous run. Two writes per line (prefix, then message) would let
 * other threads' bytes in between and break the parse below.
 */
enum { THREADS = 8, LINES = 400, PAYLOAD = 900 };

static pthread_barrier_t start;

static void payload(int t, int i, char *out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int j = 0; j < PAYLOAD; j++)
        out[j] = alphabet[(t * 7 + i * 3 + j) % (int)(sizeof(alphabet) - 1)];
    out[PAYLOAD] = 0;
}

static void *log_lines(void *arg)
{
    int t = (int)(intptr_t)arg;
    char text[PAYLOAD + 1];
    pthread_barrier_wait(&start);
    for (int i = 0; i < LINES; i++) {
        payload(t, i, text);
        /* error level: printed whatever FP_LOG says */
        fp_log_error("logtest", "thread %02d line %04d %s end", t, i, text);
    }
    return NULL;
}

/* Checks one line (without its '\n') against "[SSSSS.UUUUUU] E logtest: thread TT line IIII PAYLOAD end". */
static void check_line(const char *line, size_t len, size_t lineno, unsigned char seen[THREADS][LINES])
{
    const char *p = line;
    CHECK_MSG(len > 16 && p[0] == '[', "line %zu does not start with a timestamp: %.80s", lineno, line);
    size_t k = 1;
    while (k < len && (p[k] == ' ' || (p[k] >= '0' && p[k] <= '9')))
        k++;
    CHECK_MSG(k >= 6 && p[k] == '.', "line %zu: bad seconds in %.80s", lineno, line);
    for (int d = 1; d <= 6; d++)
        CHECK_MSG(p[k + (size_t)d] >= '0' && p[k + (size_t)d] <= '9', "line %zu: bad microseconds: %.80s",
                  lineno, line);
    p += k + 7;
    const char *head = "] E logtest: thread ";
    CHECK_MSG(!strncmp(p, head, strlen(head)), "line %zu: bad level/component: %.80s", lineno, line);
    p += strlen(head);
    int t = -1, i = -1, used = 0;
    CHECK_MSG(sscanf(p, "%2d line %4d %n", &t, &i, &used) == 2 && used > 0, "line %zu: no thread/line: %.80s",
              lineno, line);
    CHECK_MSG(t >= 0 && t < THREADS && i >= 0 && i < LINES, "line %zu: thread %d line %d out of range", lineno,
              t, i);
    char expect[PAYLOAD + 64];
    payload(t, i, expect);
    strcat(expect, " end");
    size_t rest = len - (size_t)(p + used - line);
    CHECK_MSG(rest == strlen(expect) && !memcmp(p + used, expect, rest),
              "line %zu (thread %d line %d) is not whole: %zu bytes of message, want %zu", lineno, t, i, rest,
              strlen(expect));
    CHECK_MSG(!seen[t][i], "thread %d line %d appears twice", t, i);
    seen[t][i] = 1;
}

FP_TEST(log_lines_from_many_threads_never_interleave)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/stderr.log", fp_test_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    CHECK_MSG(fd >= 0, "open %s: %s", path, strerror(errno));
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    CHECK(saved >= 0);
    CHECK(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    close(fd);

    /* No fp_log call before the threads start: they also race to initialise the logger. */
    pthread_t th[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    int created = 0;
    for (; created < THREADS; created++)
        if (pthread_create(&th[created], NULL, log_lines, (void *)(intptr_t)created) != 0)
            break;
    for (int k = 0; k < created; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&start);
    CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
    close(saved);
    CHECK_EQ(created, THREADS);

    FILE *f = fopen(path, "r");
    CHECK_MSG(f, "reopen %s", path);
    static unsigned char seen[THREADS][LINES];
    static char line[4096];
    size_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);
        n++;
        CHECK_MSG(len > 0 && line[len - 1] == '\n', "line %zu has no newline (%zu bytes)", n, len);
        line[--len] = 0;
        check_line(line, len, n, seen);
    }
    fclose(f);
    CHECK_EQ(n, THREADS * LINES);
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < LINES; i++)
            CHECK_MSG(seen[t][i], "thread %d line %d is missing", t, i);
}
