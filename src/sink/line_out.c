// SPDX-License-Identifier: MIT
// The output of the JSON lines sinks (frames and events): open a file or stdout, write whole lines, never die of SIGPIPE.
#include "sink_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int fp__line_out_open(FpLineOut *o, const char *path, bool append)
{
    FpLineOut n = {STDOUT_FILENO, false, false};
    if (strcmp(path, "-") == 0) {
        fflush(stdout); /* anything printed before through stdio comes first */
    } else {
        n.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (append ? O_APPEND : 0), 0666);
        if (n.fd < 0)
            return -errno;
        n.owns_fd = true;
    }
    struct stat st;
    n.is_pipe = fstat(n.fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    *o = n;
    return 0;
}

/*
 * A write that stopped part-way (a full disk, a file size limit) leaves the
 * start of a line: cut the file back to its last whole line, so that a
 * reader never sees half a JSON object (docs/jsonl.md). Only for files
 * that can be truncated (regular files); nothing to do for a pipe.
 */
static void drop_partial_line(int fd, size_t done)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    off_t end = lseek(fd, 0, SEEK_CUR);
    if (end < (off_t)done)
        return;
    if (ftruncate(fd, end - (off_t)done) == 0)
        (void)lseek(fd, end - (off_t)done, SEEK_SET);
}

int fp__line_out_write(const FpLineOut *o, const char *p, size_t n)
{
    sigset_t pipe_set, old_set;
    bool was_pending = false;
    if (o->is_pipe) {
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
        sigset_t pending;
        sigpending(&pending);
        was_pending = sigismember(&pending, SIGPIPE) == 1;
    }
    int rc = 0;
    size_t done = 0; /* bytes of this line already in the file */
    while (n > 0) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        p += w;
        n -= (size_t)w;
        done += (size_t)w;
    }
    if (rc < 0 && done > 0 && !o->is_pipe)
        drop_partial_line(o->fd, done);
    if (o->is_pipe) {
        if (rc == -EPIPE && !was_pending) { /* consume the SIGPIPE this write raised, none from before */
            const struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    }
    return rc;
}

int fp__line_out_close(FpLineOut *o)
{
    int rc = 0;
    if (o->owns_fd && close(o->fd) != 0)
        rc = -errno;
    o->owns_fd = false;
    return rc;
}
