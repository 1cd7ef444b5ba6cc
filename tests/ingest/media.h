// SPDX-License-Identifier: MIT
// Test media for the ingest tests: cached ffmpeg-CLI clips with a burned-in frame counter, and the RTSP test server.
#ifndef FP_TEST_MEDIA_H
#define FP_TEST_MEDIA_H

#include "framepipe/frame.h"

#include <stddef.h>
#include <sys/types.h>

/*
 * Clips are testsrc2 with a binary frame counter in the top 16 rows: bit k
 * of the frame number is a 16x16 block at x = 16k (white = 1), plus the
 * number drawn as text for humans. codec: "h264", "hevc", "mjpeg";
 * container: "mp4", "mp4f" (faststart), "mkv", "avi", "h264" (Annex B).
 * Generated once with the ffmpeg CLI into fp_test_cache_dir()/ingest-media
 * (atomic rename, safe across parallel tests). Returns a static-per-call
 * malloc'd path (caller frees), or fails the test.
 */
char *fp_media_clip(const char *codec, int w, int h, int frames, int fps, const char *container);

/*
 * A raw H.264 stream (Annex B) of `n1` frames at w1 x h1 followed by `n2` at
 * w2 x h2 (a resolution change mid-stream), written into the test's tmpdir
 * as NAME. Returns a malloc'd path (caller frees), or fails the test.
 */
char *fp_media_switch_clip(int w1, int h1, int n1, int w2, int h2, int n2, const char *name);

/* Reads the counter of a frame with a luma plane (YUV420P/NV12/GRAY8); -1 if unreadable. */
int fp_media_counter(const FpFrame *f);

/* Reads a whole file; returns malloc'd bytes and sets *len, or NULL. */
unsigned char *fp_media_read_file(const char *path, size_t *len);
int fp_media_write_file(const char *path, const void *data, size_t len);

/*
 * Starts the RTSP test server (tests/ingest/rtsp_server.c, built as
 * FP_BUILD_DIR/tests/ingest/fp_rtsp_server) with fp_test_spawn on
 * 127.0.0.1:port serving `clip` at rtsp://127.0.0.1:port/clip in real time;
 * returns its pid once it says READY (stop it with fp_test_stop). Skips the
 * test when the server was not built.
 */
pid_t fp_media_rtsp_server_start(int port, const char *clip);

#include "framepipe/pool.h"
/* A pool with one class of `class_size` bytes and at most max_buffers buffers (fails the test on error). */
FpPool *fp_media_pool(size_t class_size, unsigned max_buffers);
#endif
