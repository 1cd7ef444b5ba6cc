// SPDX-License-Identifier: MIT
// Spawning, waiting for and stopping the programs tests run against (servers, ffmpeg, curl, framepipe).
#include "fp_test_spawn.h"

#include "fp_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * fork + exec rather than posix_spawn: the child has to set its process
 * group, its parent-death signal, its directory and its streams, all with
 * async-signal-safe calls only (tests spawn from processes with threads).
 */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* In the child: puts fd or the file at path on target; 0, or -1 when the file cannot be opened. */
static int redirect(int target, int fd, const char *path, int flags)
{
    if (fd > 0)
        return dup2(fd, target) == target ? 0 : -1;
    if (!path)
        return 0;
    int f = open(path, flags, 0644);
    if (f < 0)
        return -1;
    int ok = dup2(f, target) == target;
    if (f != target)
        close(f);
    return ok ? 0 : -1;
}

pid_t fp_test_spawn(const char *const argv[], const FpTestSpawnOptions *opts)
{
    static const FpTestSpawnOptions none;
    const FpTestSpawnOptions *o = opts ? opts : &none;
    pid_t parent = getpid();
    fflush(NULL); /* nothing buffered twice */
    pid_t pid = fork();
    CHECK_MSG(pid >= 0, "fork for %s: %s", argv[0], strerror(errno));
    if (pid > 0) {
        setpgid(pid, pid); /* also here: no race with a kill(-pid) right after */
        return pid;
    }
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the parent died before prctl */
        _exit(126);
    if (redirect(0, o->stdin_fd, o->stdin_path, O_RDONLY) < 0 ||
        redirect(1, o->stdout_fd, o->stdout_path, O_WRONLY | O_CREAT | O_TRUNC) < 0 ||
        redirect(2, o->stderr_fd, o->stderr_path, O_WRONLY | O_CREAT | O_TRUNC) < 0 ||
        (o->cwd && chdir(o->cwd) != 0))
        _exit(126);
    close_range(3, ~0u, 0); /* pipe ends stay with the test: readers see EOF when it closes them */
    /* exec keeps ignored signals and the mask: a server must hear SIGTERM, a writer SIGPIPE */
    sigset_t none_blocked;
    sigemptyset(&none_blocked);
    sigprocmask(SIG_SETMASK, &none_blocked, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
}

int fp_test_wait_exit(pid_t pid, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, timeout_ms < 0 ? 0 : WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        CHECK_MSG(r >= 0 || errno == EINTR, "waitpid %d: %s", (int)pid, strerror(errno));
        if (r == 0 && now_ms() >= deadline)
            return -ETIMEDOUT;
        if (r == 0)
            sleep_ms(5);
    }
}

int fp_test_run(const char *const argv[], const char *stdout_path, const char *stderr_path)
{
    FpTestSpawnOptions o = {.stdout_path = stdout_path, .stderr_path = stderr_path};
    return fp_test_wait_exit(fp_test_spawn(argv, &o), -1);
}

int fp_test_stop(pid_t pid, int grace_ms)
{
    kill(-pid, SIGTERM);
    kill(-pid, SIGCONT); /* a stopped server (SIGSTOP in a stall test) must see it too */
    int rc = fp_test_wait_exit(pid, grace_ms);
    if (rc != -ETIMEDOUT)
        return rc;
    kill(-pid, SIGKILL);
    return fp_test_wait_exit(pid, -1);
}

/* 1 when pid has exited (left unreaped for fp_test_stop / fp_test_wait_exit), else 0. */
static int has_exited(pid_t pid)
{
    if (pid <= 0)
        return 0;
    siginfo_t si = {0};
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

static int port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

int fp_test_wait_port(pid_t pid, int port, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        if (port_accepts(port))
            return 0;
        if (has_exited(pid))
            return -ECHILD;
        if (now_ms() >= deadline)
            return -ETIMEDOUT;
        sleep_ms(20);
    }
}

static int file_has_line(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    /* only whole lines: a needle still being written is not there yet */
    while (!found && fgets(line, sizeof(line), f))
        found = strchr(line, '\n') && strstr(line, needle);
    fclose(f);
    return found;
}

int fp_test_wait_line(pid_t pid, const char *path, const char *needle, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        if (file_has_line(path, needle))
            return 0;
        if (has_exited(pid))
            return file_has_line(path, needle) ? 0 : -ECHILD;
        if (now_ms() >= deadline)
            return -ETIMEDOUT;
        sleep_ms(20);
    }
}

int fp_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
             getsockname(fd, (struct sockaddr *)&a, &len) == 0;
    if (fd >= 0)
        close(fd);
    CHECK_MSG(ok, "no free TCP port on 127.0.0.1: %s", strerror(errno));
    return ntohs(a.sin_port);
}
