// SPDX-License-Identifier: MIT
// Private to src/infer: the dlopen'ed ONNX Runtime API and the shared ORT environment.
#ifndef FP_INFER_INTERNAL_H
#define FP_INFER_INTERNAL_H

#include "fp_config.h"

#if FP_HAVE_ORT
#include <onnxruntime_c_api.h>

/* The oldest ORT API version framepipe calls into (ORT 1.16); newer libraries serve it too. */
#define FP_ORT_MIN_API 16

/*
 * Loads libonnxruntime (once per process; later calls reuse it whatever
 * `library` says) and returns its API table, or NULL after recording
 * FP_EDEPENDENCY with fp_error (the message names the paths tried and
 * dlerror's text). `library` NULL: $FP_ORT_LIBRARY, then the build-time
 * default, then "libonnxruntime.so.1" / "libonnxruntime.so" via the loader.
 * The library is never unloaded. Thread-safe.
 */
const OrtApi *fp__ort_api(const char *library);

/* The path or name the library was loaded from ("" before loading). */
const char *fp__ort_library_path(void);

/*
 * Takes a reference on the process-wide OrtEnv (created on first use, ORT's
 * log routed into fp_log as component "ort"); fp__ort_env_release() drops it
 * and releases the env at zero. Returns 0 or FP_EMODEL/-ENOMEM with a message.
 */
int fp__ort_env_acquire(const OrtApi *api, OrtEnv **out);
void fp__ort_env_release(void);
#endif

#endif
