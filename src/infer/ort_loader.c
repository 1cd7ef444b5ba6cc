// SPDX-License-Identifier: MIT
// Loads ONNX Runtime with dlopen and keeps the one process-wide OrtEnv, so a missing library is a clear error, not a loader failure.
#include "infer_internal.h"

#include "framepipe/error.h"
#include "framepipe/log.h"
#include "framepipe/model.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if FP_HAVE_ORT

/*
 * Design: the library is opened once and never closed (ORT keeps global
 * state, thread pools and registrations that do not survive an unload). A
 * failed attempt is not cached: a later call may name another path. The
 * OrtEnv is reference-counted by the models that use it.
 */
static pthread_mutex_t ort_lock = PTHREAD_MUTEX_INITIALIZER;
static const OrtApi *ort_api;
static char ort_path[1024];
static OrtEnv *ort_env;
static int ort_env_refs;

static const OrtApi *try_open(const char *lib, char *why, size_t why_size)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, why_size, "%s", e ? e : "dlopen failed");
        return NULL;
    }
    typedef const OrtApiBase *(*GetApiBaseFn)(void);
    GetApiBaseFn get_base;
    *(void **)&get_base = dlsym(h, "OrtGetApiBase");
    const OrtApiBase *base = get_base ? get_base() : NULL;
    if (!base) {
        snprintf(why, why_size, "%s: no OrtGetApiBase symbol (not an ONNX Runtime library)", lib);
        dlclose(h);
        return NULL;
    }
    const OrtApi *api = base->GetApi(FP_ORT_MIN_API);
    if (!api) {
        snprintf(why, why_size, "%s: ONNX Runtime %s is too old (framepipe needs API version %d, ORT >= 1.16)",
                 lib, base->GetVersionString(), FP_ORT_MIN_API);
        dlclose(h);
        return NULL;
    }
    return api;
}

const OrtApi *fp__ort_api(const char *library)
{
    pthread_mutex_lock(&ort_lock);
    if (ort_api) {
        const OrtApi *api = ort_api;
        pthread_mutex_unlock(&ort_lock);
        return api;
    }
    const char *candidates[4];
    int n = 0;
    if (library && *library) {
        candidates[n++] = library; /* an explicit choice: no silent fallback elsewhere */
    } else {
        const char *env = getenv("FP_ORT_LIBRARY");
        if (env && *env) {
            candidates[n++] = env;
        } else {
            if (FP_ORT_LIBRARY_DEFAULT[0])
                candidates[n++] = FP_ORT_LIBRARY_DEFAULT;
            candidates[n++] = "libonnxruntime.so.1";
            candidates[n++] = "libonnxruntime.so";
        }
    }
    char why[4][512];
    for (int i = 0; i < n; i++) {
        const OrtApi *api = try_open(candidates[i], why[i], sizeof(why[i]));
        if (api) {
            ort_api = api;
            snprintf(ort_path, sizeof(ort_path), "%s", candidates[i]);
            pthread_mutex_unlock(&ort_lock);
            fp_log_debug("infer", "ONNX Runtime loaded from %s", candidates[i]);
            return api;
        }
    }
    pthread_mutex_unlock(&ort_lock);
    fp_error(FP_EDEPENDENCY, "cannot load the ONNX Runtime library (%s)%s%s; run scripts/setup.sh or set "
             "FP_ORT_LIBRARY to libonnxruntime.so",
             why[0], n > 1 ? "; also tried the loader's search: " : "", n > 1 ? why[n - 1] : "");
    return NULL;
}

const char *fp__ort_library_path(void)
{
    return ort_path;
}

static void ORT_API_CALL ort_logger(void *param, OrtLoggingLevel severity, const char *category,
                                    const char *logid, const char *code_location, const char *message)
{
    (void)param, (void)category, (void)logid, (void)code_location;
    /* ORT's errors also come back as statuses, which FpModel turns into errors naming the model;
       its warnings are mostly graph-optimizer notes. Both go to debug, fatal ones to error. */
    FpLogLevel level = severity >= ORT_LOGGING_LEVEL_FATAL     ? FP_LOG_ERROR
                       : severity >= ORT_LOGGING_LEVEL_WARNING ? FP_LOG_DEBUG
                                                               : FP_LOG_TRACE;
    fp_log(level, "ort", "%s", message);
}

int fp__ort_env_acquire(const OrtApi *api, OrtEnv **out)
{
    pthread_mutex_lock(&ort_lock);
    if (!ort_env) {
        OrtStatus *st = api->CreateEnvWithCustomLogger(ort_logger, NULL, ORT_LOGGING_LEVEL_WARNING,
                                                       "framepipe", &ort_env);
        if (st) {
            int rc = fp_error(FP_EMODEL, "ONNX Runtime: cannot create the environment: %s",
                              api->GetErrorMessage(st));
            api->ReleaseStatus(st);
            ort_env = NULL;
            pthread_mutex_unlock(&ort_lock);
            return rc;
        }
    }
    ort_env_refs++;
    *out = ort_env;
    pthread_mutex_unlock(&ort_lock);
    return 0;
}

void fp__ort_env_release(void)
{
    pthread_mutex_lock(&ort_lock);
    if (ort_env_refs > 0 && --ort_env_refs == 0) {
        ort_api->ReleaseEnv(ort_env);
        ort_env = NULL;
    }
    pthread_mutex_unlock(&ort_lock);
}

const char *fp_model_ort_version(const char *ort_library)
{
    const OrtApi *api = fp__ort_api(ort_library);
    if (!api)
        return NULL;
    typedef const OrtApiBase *(*GetApiBaseFn)(void);
    void *h = dlopen(ort_path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    GetApiBaseFn get_base = NULL;
    if (h)
        *(void **)&get_base = dlsym(h, "OrtGetApiBase");
    const char *v = get_base ? get_base()->GetVersionString() : "unknown";
    if (h)
        dlclose(h); /* drops only the RTLD_NOLOAD reference */
    return v;
}

#else /* !FP_HAVE_ORT */

const char *fp_model_ort_version(const char *ort_library)
{
    (void)ort_library;
    fp_error(FP_EDEPENDENCY, "framepipe was built without the ONNX Runtime headers; run scripts/setup.sh and rebuild");
    return NULL;
}

#endif
