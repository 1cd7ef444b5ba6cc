// SPDX-License-Identifier: MIT
// Raw backend: frames of a given width/height/format read from stdin, a file descriptor or a file, straight into pool memory.
#include "source_internal.h"

#include "framepipe/error.h"
#include "framepipe/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Zero copy: read(2) writes each frame directly into its pool buffer, in the
 * tightly packed layout of FFmpeg's rawvideo (planes back to back, stride =
 * width * bytes per pixel), so a producer can pipe `ffmpeg -f rawvideo -`
 * output in. The reader polls with a short timeout so fp_source_close()
 * never waits on a silent pipe. A final partial frame is logged and dropped.
 */

typedef struct Raw {
    int fd;
    int own_fd;
    int nplanes;
    int linesize[3];
    size_t plane_size[3];
    size_t frame_size;
    uint64_t index;
} Raw;

static void raw_layout(Raw *r, int w, int h, FpPixelFormat f)
{
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    switch (f) {
    case FP_PIX_YUV420P:
        r->nplanes = 3;
        r->linesize[0] = w, r->linesize[1] = cw, r->linesize[2] = cw;
        r->plane_size[0] = (size_t)w * h;
        r->plane_size[1] = r->plane_size[2] = (size_t)cw * ch;
        break;
    case FP_PIX_NV12:
        r->nplanes = 2;
        r->linesize[0] = w, r->linesize[1] = cw * 2;
        r->plane_size[0] = (size_t)w * h;
        r->plane_size[1] = (size_t)cw * 2 * ch;
        break;
    case FP_PIX_RGB24:
    case FP_PIX_BGR24:
        r->nplanes = 1;
        r->linesize[0] = w * 3;
        r->plane_size[0] = (size_t)w * 3 * h;
        break;
    default: /* GRAY8 */
        r->nplanes = 1;
        r->linesize[0] = w;
        r->plane_size[0] = (size_t)w * h;
        break;
    }
    r->frame_size = 0;
    for (int i = 0; i < r->nplanes; i++)
        r->frame_size += r->plane_size[i];
}

static int raw_open(FpSource *src, void **priv)
{
    const FpSourceConfig *cfg = fp__source_cfg(src);
    const char *name = fp_source_name(src);
    Raw *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    if (!strcmp(cfg->url, "-")) {
        r->fd = 0;
    } else if (!strncmp(cfg->url, "fd:", 3)) {
        char *end;
        long v = strtol(cfg->url + 3, &end, 10);
        if (*end || v < 0 || v > 1 << 20) {
            free(r);
            return fp_error(FP_ECONFIG, "source %s: '%s' is not fd:<number>", name, cfg->url);
        }
        r->fd = (int)v;
    } else {
        r->fd = open(cfg->url, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            int e = errno;
            free(r);
            return fp_error(-e, "source %s: cannot open %s: %s", name, cfg->url, strerror(e));
        }
        r->own_fd = 1;
    }
    raw_layout(r, cfg->raw_width, cfg->raw_height, cfg->raw_format);
    fp__source_set_decoder(src, "rawvideo", 0);
    fp_log_info("ingest", "%s: raw %dx%d %s frames of %zu bytes from %s", name, cfg->raw_width,
                cfg->raw_height, fp_pixel_format_name(cfg->raw_format), r->frame_size, cfg->url);
    *priv = r;
    return 0;
}

/* Reads exactly n bytes unless EOF/stop; returns bytes read or a negative code. */
static ssize_t read_full(FpSource *src, int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        if (fp__source_stopping(src))
            return FP_EFLUSHING;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 100);
        if (pr < 0 && errno != EINTR)
            return -errno;
        if (pr <= 0)
            continue;
        ssize_t k = read(fd, p + got, n - got);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static int raw_pump(FpSource *src, void *priv)
{
    Raw *r = priv;
    const FpSourceConfig *cfg = fp__source_cfg(src);
    const char *name = fp_source_name(src);
    FpBuffer *b = NULL;
    int rc = fp__source_acquire(src, r->frame_size, &b);
    if (rc < 0)
        return rc;
    ssize_t got = read_full(src, r->fd, fp_buffer_data(b), r->frame_size);
    if (got < 0) {
        fp_buffer_unref(&b);
        if (got == FP_EFLUSHING)
            return FP_EFLUSHING;
        return fp_error((int)got, "source %s: reading %s: %s", name, cfg->url, strerror((int)-got));
    }
    if ((size_t)got < r->frame_size) {
        fp_buffer_unref(&b);
        if (got > 0) {
            char msg[256];
            snprintf(msg, sizeof(msg),
                     "source %s: %s ended inside frame %llu (%zd of %zu bytes); dropping it", name,
                     cfg->url, (unsigned long long)r->index, got, r->frame_size);
            fp_log_warn("ingest", "%s", msg);
            fp__source_note_error(src, FP_ETRUNCATED, msg);
        }
        return FP_EEND_OF_STREAM;
    }
    FpFrame *f = fp__source_frame_get(src);
    if (!f) {
        fp_buffer_unref(&b);
        return -ENOMEM;
    }
    uint8_t *p = fp_buffer_data(b);
    for (int i = 0; i < r->nplanes; i++) {
        f->data[i] = p;
        f->linesize[i] = r->linesize[i];
        p += r->plane_size[i];
    }
    f->buf[0] = b;
    f->width = cfg->raw_width;
    f->height = cfg->raw_height;
    f->format = cfg->raw_format;
    f->pts_ns = (int64_t)(r->index * (1e9 / cfg->raw_fps));
    r->index++;
    return fp__source_emit(src, f);
}

static int raw_rewind(FpSource *src, void *priv)
{
    Raw *r = priv;
    if (!r->own_fd || lseek(r->fd, 0, SEEK_SET) < 0)
        return fp_error(FP_EUNSUPPORTED, "source %s: cannot loop: %s is not seekable",
                        fp_source_name(src), fp__source_cfg(src)->url);
    r->index = 0;
    return 0;
}

static void raw_close(FpSource *src, void **priv)
{
    (void)src;
    Raw *r = *priv;
    if (r && r->own_fd)
        close(r->fd);
    free(r);
    *priv = NULL;
}

const FpSourceBackend fp__source_raw = {
    .name = "raw",
    .open = raw_open,
    .pump = raw_pump,
    .rewind = raw_rewind,
    .close = raw_close,
};
