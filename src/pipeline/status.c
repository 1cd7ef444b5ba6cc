// SPDX-License-Identifier: MIT
// The cameras' status as one JSON array (GET /api/cameras), built with cJSON from the pipeline's public camera accessors.
//
// Not a hot path: called by the HTTP server's thread per request (and by
// tools), so a cJSON tree per call is fine; the per-frame JSON lines writer
// (src/sink/jsonl.c) stays allocation-free. Only the public accessors
// (fp_pipeline_camera_count, fp_pipeline_get_camera) are used, so this file
// knows nothing of the pipeline's internals. Field names and types are those
// of docs/http.md; rates are rounded to 0.01 and latencies to 0.001 ms, as
// the printf-based writer this replaces printed them.
#include "framepipe/error.h"
#include "framepipe/pipeline.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>

/* v rounded to `scale` (100: two decimals); 0 for NaN or infinity (JSON has neither). */
static double rounded(double v, double scale)
{
    return isfinite(v) ? round(v * scale) / scale : 0.0;
}

/* One camera's object, or NULL when cJSON runs out of memory. */
static cJSON *camera_json(const FpCameraSummary *cs)
{
    const FpSourceStatus *st = &cs->source;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int ok = cJSON_AddStringToObject(o, "name", cs->name) &&
             cJSON_AddStringToObject(o, "url", cs->url) &&
             cJSON_AddStringToObject(o, "state", fp_source_state_name(st->state)) &&
             cJSON_AddBoolToObject(o, "live", st->live != 0) &&
             cJSON_AddStringToObject(o, "policy", st->policy == FP_POLICY_LATEST ? "latest" : "lossless") &&
             cJSON_AddNumberToObject(o, "width", st->width) &&
             cJSON_AddNumberToObject(o, "height", st->height) &&
             cJSON_AddNumberToObject(o, "frames", (double)st->frames) &&
             cJSON_AddNumberToObject(o, "processed", (double)cs->processed) &&
             cJSON_AddNumberToObject(o, "skipped", (double)st->skipped) &&
             cJSON_AddNumberToObject(o, "reconnects", (double)st->reconnects) &&
             cJSON_AddNumberToObject(o, "decode_errors", (double)st->decode_errors) &&
             cJSON_AddNumberToObject(o, "fps_in", rounded(cs->fps_in, 100)) &&
             cJSON_AddNumberToObject(o, "fps_processed", rounded(cs->fps_processed, 100)) &&
             cJSON_AddNumberToObject(o, "fps_skipped", rounded(cs->fps_skipped, 100));
    cJSON *lat = ok ? cJSON_AddObjectToObject(o, "latency_ms") : NULL;
    ok = lat && cJSON_AddNumberToObject(lat, "p50", rounded((double)cs->latency.p50 / 1e6, 1000)) &&
         cJSON_AddNumberToObject(lat, "p99", rounded((double)cs->latency.p99 / 1e6, 1000)) &&
         (st->last_error[0] ? cJSON_AddStringToObject(o, "last_error", st->last_error) != NULL
                            : cJSON_AddNullToObject(o, "last_error") != NULL);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/*
 * Writes the cameras' status (config order) as one JSON array and a newline
 * to `out`, which stays the caller's. Any thread, concurrently with the
 * running pipeline (each camera is a snapshot under its source's lock; the
 * cameras are not one atomic snapshot). Returns 0, -ENOMEM (nothing written),
 * -EIO when `out` reports an error, or fp_pipeline_get_camera's error.
 */
int fp_pipeline_write_cameras_json(FpPipeline *p, FILE *out)
{
    cJSON *cams = cJSON_CreateArray();
    if (!cams)
        return fp_error(-ENOMEM, "pipeline: out of memory writing the cameras' status");
    int n = fp_pipeline_camera_count(p);
    for (int i = 0; i < n; i++) {
        FpCameraSummary cs;
        int rc = fp_pipeline_get_camera(p, i, &cs);
        if (rc < 0) {
            cJSON_Delete(cams);
            return rc;
        }
        cJSON *o = camera_json(&cs);
        if (!o || !cJSON_AddItemToArray(cams, o)) {
            cJSON_Delete(o);
            cJSON_Delete(cams);
            return fp_error(-ENOMEM, "pipeline: out of memory writing the status of camera %d", i);
        }
    }
    char *text = cJSON_PrintUnformatted(cams);
    cJSON_Delete(cams);
    if (!text)
        return fp_error(-ENOMEM, "pipeline: out of memory writing the cameras' status");
    fputs(text, out);
    fputc('\n', out);
    cJSON_free(text);
    return ferror(out) ? fp_error(-EIO, "pipeline: writing the cameras' status failed") : 0;
}
