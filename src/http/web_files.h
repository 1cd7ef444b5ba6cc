// SPDX-License-Identifier: MIT
// Private to src/http: the web view's page files (web/), embedded at build time by embed_web.py into web_files.c.
#ifndef FRAMEPIPE_WEB_FILES_H
#define FRAMEPIPE_WEB_FILES_H

#include <stddef.h>

typedef struct FpWebFile {
    const char *path;         /* "/index.html", "/app.js", ... */
    const char *content_type; /* from the file's extension */
    const unsigned char *data;
    size_t len;
} FpWebFile;

/* The embedded file served at `url` (an exact path such as "/app.js"), or NULL. Any thread. */
const FpWebFile *fp__web_file(const char *url);

#endif
