// SPDX-License-Identifier: MIT
// Test helpers for other programs: spawn in a process group, wait for a port or a line, stop and reap.
#ifndef FP_TEST_SPAWN_H
#define FP_TEST_SPAWN_H

#include <sys/types.h>

/*
 * Servers (RTSP, HTTP, TLS) and commands (ffmpeg, curl, framepipe) the
 * tests start. A spawned program leads its own process group, so stopping
 * it reaches anything it started, and it gets SIGKILL when the thread that
 * spawned it dies: a case that fails or times out leaves no server behind.
 * Spawn from the case's own thread (not from a thread that exits early).
 * Servers listen on 127.0.0.1 only.
 */

/* Where the program's standard streams go. Zero-initialised: all inherited, same directory. */
typedef struct FpTestSpawnOptions {
    /* A file to read (stdin) or to create/truncate (stdout, stderr); NULL: inherited. */
    const char *stdin_path, *stdout_path, *stderr_path;
    /* A descriptor > 2 to use instead (a pipe end); 0: not given. Other descriptors are closed. */
    int stdin_fd, stdout_fd, stderr_fd;
    /* The working directory; NULL: the test's. */
    const char *cwd;
} FpTestSpawnOptions;

/*
 * Starts argv[0] (searched in PATH when it has no '/') with argv; opts may
 * be NULL. Returns the pid; fails the test when fork fails. When the
 * program cannot be started the child exits with 127 (126: a stream could
 * not be opened).
 */
pid_t fp_test_spawn(const char *const argv[], const FpTestSpawnOptions *opts);

/*
 * Runs argv to the end with stdout and stderr to these files (NULL:
 * inherited). Returns its exit code, or 128 + signal when killed.
 */
int fp_test_run(const char *const argv[], const char *stdout_path, const char *stderr_path);

/*
 * Waits until a TCP connection to 127.0.0.1:port succeeds (then closes it).
 * Returns 0, -ECHILD when pid (if > 0) exited first (it is not reaped), or
 * -ETIMEDOUT after timeout_ms.
 */
int fp_test_wait_port(pid_t pid, int port, int timeout_ms);

/*
 * Waits until the file at path has a line containing needle (the program's
 * captured output, say "READY"). Same returns as fp_test_wait_port.
 */
int fp_test_wait_line(pid_t pid, const char *path, const char *needle, int timeout_ms);

/*
 * Waits for pid to exit and reaps it: its exit code, or 128 + signal.
 * timeout_ms < 0 waits without limit; -ETIMEDOUT when it is still running
 * (it is left alone).
 */
int fp_test_wait_exit(pid_t pid, int timeout_ms);

/*
 * Stops a spawned program: SIGTERM to its process group, SIGKILL after
 * grace_ms, and reaps it. Returns what fp_test_wait_exit returns (0 for a
 * clean exit on SIGTERM, 128 + SIGKILL when the grace ran out).
 */
int fp_test_stop(pid_t pid, int grace_ms);

/* A TCP port on 127.0.0.1 that was free a moment ago; fails the test when none is. */
int fp_test_free_port(void);

#endif
