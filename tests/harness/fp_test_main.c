// SPDX-License-Identifier: MIT
// Test runner: forks each registered case with a timeout and prints "N passed, N failed" at the end.
#include "fp_test.h"

#include "framepipe/error.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_SKIP 77

typedef struct Case {
    const char *name;
    FpTestFn fn;
    int timeout_s;
} Case;

/* Grown as constructors register cases: no fixed limit, so no case is ever left out. */
static Case *cases;
static int n_cases, cap_cases;
static char tmpdir[512];

void fp__test_register(const char *name, FpTestFn fn, int timeout_s)
{
    if (n_cases == cap_cases) {
        int cap = cap_cases ? 2 * cap_cases : 64;
        Case *grown = realloc(cases, (size_t)cap * sizeof(*cases));
        if (!grown) {
            /* A constructor cannot report failure: stop before main rather than run a partial list. */
            fprintf(stderr, "fp_test: out of memory registering case %d (%s)\n", n_cases + 1, name);
            abort();
        }
        cases = grown;
        cap_cases = cap;
    }
    cases[n_cases++] = (Case){name, fn, timeout_s};
}

int fp__test_count(void)
{
    return n_cases;
}

void fp__test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

void fp_test_skip(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "skipped: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    exit(EXIT_SKIP);
}

const char *fp__test_strerror(int code)
{
    return fp_error_detail(code);
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

const char *fp_test_source_dir(void)
{
    return env_or("FP_SOURCE_DIR", ".");
}

const char *fp_test_build_dir(void)
{
    return env_or("FP_BUILD_DIR", ".");
}

const char *fp_test_cache_dir(void)
{
    static char buf[512];
    const char *v = getenv("FP_CACHE_DIR");
    if (v && *v)
        return v;
    snprintf(buf, sizeof(buf), "%s/.cache/framepipe", env_or("HOME", "/tmp"));
    return buf;
}

const char *fp_test_tmpdir(void)
{
    return tmpdir;
}

static void remove_tree(const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns 0 pass, 1 fail, 2 skip. */
static int run_case(const Case *c, int no_fork)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/fp-test-%d-XXXXXX", env_or("TMPDIR", "/tmp"), (int)getpid());
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "cannot create temp dir: %s\n", strerror(errno));
        return 1;
    }
    if (no_fork) {
        c->fn();
        remove_tree(tmpdir);
        return 0;
    }
    int timeout = c->timeout_s > 0 ? c->timeout_s : atoi(env_or("FP_TEST_TIMEOUT", "60"));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        setpgid(0, 0); /* the case and anything it spawns form one group */
        c->fn();
        fflush(NULL);
        exit(0);
    }
    setpgid(pid, pid);
    int64_t deadline = now_ms() + (int64_t)timeout * 1000;
    int status = 0, timed_out = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            status = -1;
            break;
        }
        if (now_ms() > deadline) {
            timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL); /* leftovers of the case's process group (servers it forgot) */
    remove_tree(tmpdir);
    if (timed_out) {
        fprintf(stderr, "%s: timed out after %d s\n", c->name, timeout);
        return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SKIP)
        return 2;
    if (WIFSIGNALED(status))
        fprintf(stderr, "%s: killed by signal %d (%s)\n", c->name, WTERMSIG(status),
                strsignal(WTERMSIG(status)));
    else
        fprintf(stderr, "%s: exit status %d\n", c->name, WEXITSTATUS(status));
    return 1;
}

static int matches(const char *name, int argc, char **argv)
{
    int any_filter = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        any_filter = 1;
        if (strstr(name, argv[i]))
            return 1;
    }
    return !any_filter;
}

int main(int argc, char **argv)
{
    int no_fork = 0, list = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-fork"))
            no_fork = 1;
        else if (!strcmp(argv[i], "--list"))
            list = 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int passed = 0, failed = 0, skipped = 0, matched = 0, any_filter = 0;
    for (int i = 1; i < argc; i++)
        any_filter |= argv[i][0] != '-';
    for (int i = 0; i < n_cases; i++) {
        if (!matches(cases[i].name, argc, argv))
            continue;
        matched++;
        if (list) {
            printf("%s\n", cases[i].name);
            continue;
        }
        int64_t t0 = now_ms();
        int r = run_case(&cases[i], no_fork);
        const char *what = r == 0 ? "ok  " : r == 2 ? "skip" : "FAIL";
        printf("%s %s (%lld ms)\n", what, cases[i].name, (long long)(now_ms() - t0));
        if (r == 0)
            passed++;
        else if (r == 2)
            skipped++;
        else
            failed++;
    }
    free(cases);
    if (any_filter && !matched) {
        /* a renamed or dropped case must not turn into a silent pass */
        fprintf(stderr, "no test case matches the names given\n");
        return 1;
    }
    if (list)
        return 0;
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
