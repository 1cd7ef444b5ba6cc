// SPDX-License-Identifier: MIT
// Images backend: one image file or a folder of images (sorted by name), each decoded with libavcodec into pool memory.
#include "source_internal.h"

#include "framepipe/error.h"
#include "framepipe/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/*
 * A folder is listed once per session (files added later show up after a
 * loop). Files whose extension is not an image type are ignored; an image
 * that does not decode is logged, counted as a decode error and skipped, so
 * one bad file never ends the folder. Frame k gets pts k / raw_fps.
 */

typedef struct Images {
    char **paths;
    size_t n, next;
    FpLav *cur;
    uint64_t emitted;
} Images;

static int image_ext(const char *name)
{
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff",
                                      ".webp", ".ppm", ".pgm", ".pnm"};
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
        if (!strcasecmp(dot, ext[i]))
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void images_free(Images *im)
{
    for (size_t i = 0; i < im->n; i++)
        free(im->paths[i]);
    free(im->paths);
    fp__lav_close(&im->cur);
    free(im);
}

static int add_path(Images *im, size_t *cap, const char *dir, const char *name)
{
    if (im->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **p = realloc(im->paths, nc * sizeof(*p));
        if (!p)
            return -ENOMEM;
        im->paths = p;
        *cap = nc;
    }
    size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *s = malloc(len);
    if (!s)
        return -ENOMEM;
    if (dir)
        snprintf(s, len, "%s/%s", dir, name);
    else
        snprintf(s, len, "%s", name);
    im->paths[im->n++] = s;
    return 0;
}

static int images_open(FpSource *src, void **priv)
{
    const char *url = fp__source_cfg(src)->url;
    const char *name = fp_source_name(src);
    Images *im = calloc(1, sizeof(*im));
    if (!im)
        return -ENOMEM;
    size_t cap = 0;
    struct stat sb;
    int rc;
    if (stat(url, &sb) < 0) {
        rc = fp_error(-errno, "source %s: cannot open %s: %s", name, url, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(url);
        if (!d) {
            rc = fp_error(-errno, "source %s: cannot list folder %s: %s", name, url, strerror(errno));
            goto fail;
        }
        struct dirent *e;
        rc = 0;
        while (rc == 0 && (e = readdir(d)))
            if (e->d_name[0] != '.' && image_ext(e->d_name))
                rc = add_path(im, &cap, url, e->d_name);
        closedir(d);
        if (rc < 0)
            goto fail;
        if (!im->n) {
            rc = fp_error(FP_ENOT_FOUND, "source %s: folder %s holds no images (.jpg .png .bmp ...)",
                          name, url);
            goto fail;
        }
        qsort(im->paths, im->n, sizeof(*im->paths), cmp_str);
    } else if ((rc = add_path(im, &cap, NULL, url)) < 0) {
        goto fail;
    }
    fp_log_info("ingest", "%s: %zu image(s) from %s", name, im->n, url);
    fp__source_set_frames_expected(src, (int64_t)im->n);
    *priv = im;
    return 0;
fail:
    images_free(im);
    return rc;
}

static int images_pump(FpSource *src, void *priv)
{
    Images *im = priv;
    if (!im->cur) {
        if (im->next == im->n)
            return FP_EEND_OF_STREAM;
        const char *path = im->paths[im->next++];
        int rc = fp__lav_open(src, path, "image2", 1, &im->cur);
        if (rc == FP_EFLUSHING)
            return rc;
        if (rc < 0) {
            const char *detail = fp_error_detail(rc);
            fp_log_warn("ingest", "%s; skipping it", detail);
            fp__source_note_error(src, rc, detail);
            fp__source_count_decode_error(src);
            if (im->n == 1)
                return rc; /* a single image that cannot be read is a failure */
            return 0;
        }
        fp__lav_set_pts(im->cur, (int64_t)(im->emitted * (1e9 / fp__source_cfg(src)->raw_fps)));
    }
    int rc = fp__lav_pump(im->cur);
    if (rc == FP_EEND_OF_STREAM) {
        if (fp__lav_frames(im->cur)) {
            im->emitted++;
        } else {
            char msg[256];
            snprintf(msg, sizeof(msg), "source %s: image %s has no decodable picture; skipping it",
                     fp_source_name(src), im->paths[im->next - 1]);
            fp_log_warn("ingest", "%s", msg);
            fp__source_note_error(src, FP_ECORRUPT, msg);
            if (!fp__lav_errors(im->cur))
                fp__source_count_decode_error(src);
        }
        fp__lav_close(&im->cur);
        return 0;
    }
    return rc;
}

static int images_rewind(FpSource *src, void *priv)
{
    (void)src;
    Images *im = priv;
    fp__lav_close(&im->cur);
    im->next = 0;
    im->emitted = 0;
    return 0;
}

static void images_close(FpSource *src, void **priv)
{
    (void)src;
    if (*priv)
        images_free(*priv);
    *priv = NULL;
}

const FpSourceBackend fp__source_images = {
    .name = "images",
    .open = images_open,
    .pump = images_pump,
    .rewind = images_rewind,
    .close = images_close,
};
