// SPDX-License-Identifier: MIT
// Self-tests of the test harness: more cases than the old fixed table held, and the process helpers.
#include "fp_test.h"
#include "fp_test_spawn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The runner once kept cases in a table of 512 and dropped the rest without
 * a word. This binary registers 600 generated cases plus the checks below;
 * the count must be exact. meson runs only the named checks (600 forks
 * under ASan take half a minute); the generated cases need only register.
 */
enum { OTHER_CASES = 7 };

/* Registered first (constructors run in file order), so a capped table would still keep this one. */
FP_TEST(every_registered_case_is_kept)
{
    CHECK_EQ(fp__test_count(), 600 + OTHER_CASES);
}

#define MANY_CASE(n) FP_TEST(many_##n) {}
#define MANY_10(p)                                                                       \
    MANY_CASE(p##0) MANY_CASE(p##1) MANY_CASE(p##2) MANY_CASE(p##3) MANY_CASE(p##4)      \
    MANY_CASE(p##5) MANY_CASE(p##6) MANY_CASE(p##7) MANY_CASE(p##8) MANY_CASE(p##9)
#define MANY_100(p)                                                                      \
    MANY_10(p##0) MANY_10(p##1) MANY_10(p##2) MANY_10(p##3) MANY_10(p##4)                \
    MANY_10(p##5) MANY_10(p##6) MANY_10(p##7) MANY_10(p##8) MANY_10(p##9)
MANY_100(x0)
MANY_100(x1)
MANY_100(x2)
MANY_100(x3)
MANY_100(x4)
MANY_100(x5)


/* ---- fp_test_spawn.h ---- */

static char *tmp_path(const char *name)
{
    static char bufs[4][600];
    static int k;
    char *b = bufs[k++ % 4];
    snprintf(b, 600, "%s/%s", fp_test_tmpdir(), name);
    return b;
}

static char *slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    CHECK_MSG(f, "cannot read %s", path);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Dead: gone, or a zombie nobody has reaped yet. */
static int process_gone(pid_t pid)
{
    if (kill(pid, 0) != 0)
        return 1;
    char path[64], stat[256] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    stat[n] = 0;
    fclose(f);
    const char *paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

static int gone_within_ms(pid_t pid, int ms)
{
    for (int waited = 0; waited < ms; waited += 10) {
        if (process_gone(pid))
            return 1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return process_gone(pid);
}

FP_TEST(process_run_exit_codes_and_captured_streams)
{
    const char *three[] = {"sh", "-c", "exit 3", NULL};
    CHECK_EQ(fp_test_run(three, NULL, NULL), 3);
    const char *term[] = {"sh", "-c", "kill -TERM $$", NULL};
    CHECK_EQ(fp_test_run(term, NULL, NULL), 128 + SIGTERM);
    const char *missing[] = {"/nonexistent/fp-no-such-program", NULL};
    CHECK_EQ(fp_test_run(missing, NULL, NULL), 127);
    const char *both[] = {"sh", "-c", "echo to-stdout; echo to-stderr >&2", NULL};
    CHECK_EQ(fp_test_run(both, tmp_path("out"), tmp_path("err")), 0);
    char buf[256];
    CHECK(!strcmp(slurp(tmp_path("out"), buf, sizeof(buf)), "to-stdout\n"));
    CHECK(!strcmp(slurp(tmp_path("err"), buf, sizeof(buf)), "to-stderr\n"));
}

FP_TEST(process_pipe_on_stdin_sees_eof_when_the_test_closes_it)
{
    /* Only the test holds the write end (other descriptors are closed in the child): cat ends. */
    int p[2];
    CHECK_EQ(pipe(p), 0);
    const char *cat[] = {"cat", NULL};
    FpTestSpawnOptions o = {.stdin_fd = p[0], .stdout_path = tmp_path("cat.out")};
    pid_t pid = fp_test_spawn(cat, &o);
    close(p[0]);
    CHECK_EQ(write(p[1], "abc\n", 4), 4);
    close(p[1]);
    CHECK_EQ(fp_test_wait_exit(pid, 10000), 0);
    char buf[64];
    CHECK(!strcmp(slurp(tmp_path("cat.out"), buf, sizeof(buf)), "abc\n"));
}

FP_TEST(process_wait_port_listening_timeout_and_early_exit)
{
    int port = fp_test_free_port();
    CHECK(port > 0);
    CHECK_EQ(fp_test_wait_port(0, port, 100), -ETIMEDOUT);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 4) == 0);
    CHECK_EQ(fp_test_wait_port(0, port, 5000), 0);
    close(fd);
    /* a server that dies before it listens is reported at once, and left to be reaped */
    const char *dies[] = {"sh", "-c", "exit 5", NULL};
    pid_t pid = fp_test_spawn(dies, NULL);
    CHECK_EQ(fp_test_wait_port(pid, port, 10000), -ECHILD);
    CHECK_EQ(fp_test_wait_exit(pid, 1000), 5);
}

FP_TEST(process_wait_line_and_stop_with_sigterm)
{
    const char *srv[] = {"sh", "-c", "echo starting; sleep 0.2; echo READY; exec sleep 60", NULL};
    FpTestSpawnOptions o = {.stdout_path = tmp_path("srv.out")};
    pid_t pid = fp_test_spawn(srv, &o);
    CHECK_EQ(fp_test_wait_line(pid, tmp_path("srv.out"), "NEVER", 100), -ETIMEDOUT);
    CHECK_EQ(fp_test_wait_line(pid, tmp_path("srv.out"), "READY", 10000), 0);
    CHECK_EQ(fp_test_wait_exit(pid, 50), -ETIMEDOUT);
    CHECK_EQ(fp_test_stop(pid, 5000), 128 + SIGTERM);
    CHECK_EQ(kill(pid, 0), -1); /* reaped */
}

FP_TEST(process_stop_reaches_the_group_and_escalates_to_sigkill)
{
    /* the shell ignores SIGTERM (so does the sleep it starts in the background) */
    const char *srv[] = {"sh", "-c", "trap '' TERM; sleep 60 & echo $!; echo READY; wait", NULL};
    FpTestSpawnOptions o = {.stdout_path = tmp_path("grp.out")};
    pid_t pid = fp_test_spawn(srv, &o);
    CHECK_EQ(fp_test_wait_line(pid, tmp_path("grp.out"), "READY", 10000), 0);
    char buf[128];
    pid_t child = (pid_t)atoi(slurp(tmp_path("grp.out"), buf, sizeof(buf)));
    CHECK(child > 0);
    CHECK_EQ(fp_test_stop(pid, 300), 128 + SIGKILL);
    CHECK_MSG(gone_within_ms(child, 5000), "the server's own child %d outlived fp_test_stop", (int)child);
}

FP_TEST(process_dies_with_the_case_that_spawned_it)
{
    /* A case that fails leaves no server behind: stand in for it with a child that exits. */
    int p[2];
    CHECK_EQ(pipe(p), 0);
    pid_t c = fork();
    CHECK(c >= 0);
    if (c == 0) {
        const char *srv[] = {"sleep", "60", NULL};
        pid_t s = fp_test_spawn(srv, NULL);
        _exit(write(p[1], &s, sizeof(s)) == sizeof(s) ? 0 : 1);
    }
    pid_t srv = 0;
    CHECK_EQ(read(p[0], &srv, sizeof(srv)), (long long)sizeof(srv));
    CHECK(waitpid(c, NULL, 0) == c);
    CHECK_MSG(gone_within_ms(srv, 5000), "server %d outlived the case that started it", (int)srv);
}
