// SPDX-License-Identifier: MIT
// FpModel: one ONNX Runtime session; zero-copy batch input, outputs in preallocated buffers, per-slot runs for fixed-batch models.
#include "infer_internal.h"

#include "framepipe/error.h"
#include "framepipe/log.h"
#include "framepipe/model.h"
#include "framepipe/labels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Design note.
 * - Input and output OrtValues are thin descriptors over caller or model
 *   memory (CreateTensorWithDataAsOrtValue); creating one allocates inside
 *   ORT, so they are cached by (tensor, address, batch). The pool hands out a
 *   fixed set of batch buffers, so after warm-up every run hits the cache and
 *   framepipe allocates nothing. The cache is bounded; the least recently
 *   used descriptor is released when it is full.
 * - Outputs are bound by passing pre-created OrtValues to OrtApi::Run: ORT
 *   writes into them instead of allocating (shapes must match, which they do
 *   because they come from the session's own output shapes).
 * - Output axes other than the batch that are dynamic are resolved once at
 *   create time by a warm-up run on zeros; a model whose output shapes change
 *   from run to run (data-dependent) is not supported and fails its run with
 *   ORT's shape message.
 */

const char *fp_provider_name(FpProvider provider)
{
    switch (provider) {
    case FP_PROVIDER_CPU: return "cpu";
    case FP_PROVIDER_CUDA: return "cuda";
    case FP_PROVIDER_TENSORRT: return "tensorrt";
    }
    return "unknown";
}

int fp_provider_parse(const char *name, FpProvider *out)
{
    static const FpProvider all[] = {FP_PROVIDER_CPU, FP_PROVIDER_CUDA, FP_PROVIDER_TENSORRT};
    for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, fp_provider_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return fp_error(FP_EINVALID, "execution provider '%s': expected cpu, cuda or tensorrt", name ? name : "(null)");
}

void fp_model_config_init(FpModelConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->provider = FP_PROVIDER_CPU;
    cfg->max_batch = 1;
    cfg->own_outputs = true;
}

#if FP_HAVE_ORT

typedef struct ValueSlot {
    const void *ptr;
    int tensor; /* -1: the input; >= 0: output index */
    int batch;
    uint64_t last_use;
    OrtValue *value;
} ValueSlot;

struct FpModel {
    char *path;
    const OrtApi *ort;
    OrtEnv *env;
    OrtSession *session;
    OrtMemoryInfo *mem;
    FpProvider provider;
    int max_batch;

    int n_in, n_out;
    FpTensorInfo *in_info, *out_info;
    const char **in_names, **out_names; /* point into *_info[i].name */
    FpModelInput input;

    void **out_bufs; /* model-owned outputs: max_batch items each, or NULL */
    OrtValue **run_out; /* scratch: the output values of one Run */

    ValueSlot *cache;
    int cache_cap;
    uint64_t tick;

    FpModelStats stats;

    int n_meta;
    char **meta_keys, **meta_vals;
    FpLabels *labels; /* class names from metadata, or NULL */
};

/* Records ORT's message for `st` (released here) as FP_EMODEL naming the model and the step. */
static int ort_fail(const FpModel *m, OrtStatus *st, const char *what)
{
    int rc = fp_error(FP_EMODEL, "model %s: %s: %s", m->path, what, m->ort->GetErrorMessage(st));
    m->ort->ReleaseStatus(st);
    return rc;
}

static void ort_free(const OrtApi *o, OrtAllocator *alloc, void *p)
{
    OrtStatus *st = o->AllocatorFree(alloc, p);
    if (st)
        o->ReleaseStatus(st);
}

static FpDtype dtype_from_ort(ONNXTensorElementDataType t)
{
    switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return FP_DTYPE_FLOAT32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return FP_DTYPE_FLOAT16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return FP_DTYPE_UINT8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return FP_DTYPE_INT8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return FP_DTYPE_INT32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return FP_DTYPE_INT64;
    default: return FP_DTYPE_UNKNOWN;
    }
}

static ONNXTensorElementDataType dtype_to_ort(FpDtype t)
{
    switch (t) {
    case FP_DTYPE_FLOAT32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    case FP_DTYPE_FLOAT16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
    case FP_DTYPE_UINT8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8;
    case FP_DTYPE_INT8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8;
    case FP_DTYPE_INT32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
    case FP_DTYPE_INT64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    default: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    }
}

/* Recomputes item_elems / item_bytes / batch_dynamic from dims. */
static void info_finish(FpTensorInfo *ti)
{
    ti->batch_dynamic = ti->rank > 0 && ti->dims[0] < 0;
    size_t n = 1;
    for (int d = 1; d < ti->rank; d++) {
        if (ti->dims[d] < 0) {
            n = 0;
            break;
        }
        n *= (size_t)ti->dims[d];
    }
    ti->item_elems = ti->rank > 0 ? n : 1;
    ti->item_bytes = ti->item_elems * fp_dtype_size(ti->dtype);
}

/* Fills `ti` from a session input (is_input) or output. */
static int read_tensor_info(FpModel *m, bool is_input, int index, OrtAllocator *alloc, FpTensorInfo *ti)
{
    const OrtApi *o = m->ort;
    char *name = NULL;
    OrtStatus *st = is_input ? o->SessionGetInputName(m->session, (size_t)index, alloc, &name)
                             : o->SessionGetOutputName(m->session, (size_t)index, alloc, &name);
    if (st)
        return ort_fail(m, st, "reading a tensor name");
    ti->name = strdup(name);
    ort_free(o, alloc, name);
    if (!ti->name)
        return fp_error(-ENOMEM, "model %s: out of memory", m->path);

    OrtTypeInfo *type = NULL;
    st = is_input ? o->SessionGetInputTypeInfo(m->session, (size_t)index, &type)
                  : o->SessionGetOutputTypeInfo(m->session, (size_t)index, &type);
    if (st)
        return ort_fail(m, st, "reading a tensor type");
    const OrtTensorTypeAndShapeInfo *tinfo = NULL;
    st = o->CastTypeInfoToTensorInfo(type, &tinfo);
    int rc = 0;
    if (st || !tinfo) {
        if (st)
            o->ReleaseStatus(st);
        rc = fp_error(FP_EMODEL, "model %s: %s '%s' is not a tensor (sequence or map outputs are not supported)",
                      m->path, is_input ? "input" : "output", ti->name);
        goto out;
    }
    ONNXTensorElementDataType et;
    size_t rank = 0;
    if ((st = o->GetTensorElementType(tinfo, &et)) || (st = o->GetDimensionsCount(tinfo, &rank))) {
        rc = ort_fail(m, st, "reading a tensor shape");
        goto out;
    }
    if (rank > FP_MODEL_MAX_DIMS) {
        rc = fp_error(FP_EMODEL, "model %s: tensor '%s' has %zu axes (at most %d supported)", m->path, ti->name,
                      rank, FP_MODEL_MAX_DIMS);
        goto out;
    }
    ti->rank = (int)rank;
    if (rank > 0 && (st = o->GetDimensions(tinfo, ti->dims, rank))) {
        rc = ort_fail(m, st, "reading a tensor shape");
        goto out;
    }
    for (size_t d = 0; d < rank; d++) {
        if (ti->dims[d] <= 0)
            ti->dims[d] = -1;
    }
    ti->dtype = dtype_from_ort(et);
    if (ti->dtype == FP_DTYPE_UNKNOWN) {
        rc = fp_error(FP_EMODEL, "model %s: tensor '%s' has ONNX element type %d, which framepipe does not handle",
                      m->path, ti->name, (int)et);
        goto out;
    }
    info_finish(ti);
out:
    o->ReleaseTypeInfo(type);
    return rc;
}

/* ---- metadata and class names ---- */

static int read_metadata(FpModel *m, OrtAllocator *alloc)
{
    const OrtApi *o = m->ort;
    OrtModelMetadata *meta = NULL;
    OrtStatus *st = o->SessionGetModelMetadata(m->session, &meta);
    if (st)
        return ort_fail(m, st, "reading metadata");
    char **keys = NULL;
    int64_t n = 0;
    int rc = 0;
    st = o->ModelMetadataGetCustomMetadataMapKeys(meta, alloc, &keys, &n);
    if (st) {
        rc = ort_fail(m, st, "reading metadata keys");
        goto out;
    }
    if (n > 0) {
        m->meta_keys = calloc((size_t)n, sizeof(char *));
        m->meta_vals = calloc((size_t)n, sizeof(char *));
        if (!m->meta_keys || !m->meta_vals)
            rc = fp_error(-ENOMEM, "model %s: out of memory", m->path);
    }
    for (int64_t i = 0; i < n; i++) {
        char *val = NULL;
        if (rc == 0) {
            st = o->ModelMetadataLookupCustomMetadataMap(meta, alloc, keys[i], &val);
            if (st) {
                rc = ort_fail(m, st, "reading metadata");
            } else {
                m->meta_keys[m->n_meta] = strdup(keys[i]);
                m->meta_vals[m->n_meta] = strdup(val ? val : "");
                m->n_meta++;
                if (!m->meta_keys[m->n_meta - 1] || !m->meta_vals[m->n_meta - 1])
                    rc = fp_error(-ENOMEM, "model %s: out of memory", m->path);
            }
        }
        if (val)
            ort_free(o, alloc, val);
        ort_free(o, alloc, keys[i]);
    }
    if (keys)
        ort_free(o, alloc, keys);
out:
    o->ReleaseModelMetadata(meta);
    return rc;
}

/* Class names from metadata (fp_labels_parse); a malformed value is logged and ignored, the model still loads. */
static void parse_class_names(FpModel *m, const char *key, const char *v)
{
    char what[600];
    snprintf(what, sizeof(what), "model %s: metadata '%s'", m->path, key);
    int rc = fp_labels_parse(&m->labels, v, what);
    if (rc < 0)
        fp_log_warn("infer", "%s; ignoring the class names", fp_error_detail(rc));
}

/* ---- the value cache ---- */

static void cache_clear(FpModel *m)
{
    for (int i = 0; i < m->cache_cap; i++) {
        if (m->cache[i].value)
            m->ort->ReleaseValue(m->cache[i].value);
        memset(&m->cache[i], 0, sizeof(m->cache[i]));
    }
}

/* The OrtValue over `ptr` for tensor `tensor` (-1 input) with `batch` items, created on a miss. */
static OrtValue *cache_get(FpModel *m, int tensor, const void *ptr, int batch, int *rc)
{
    ValueSlot *victim = &m->cache[0];
    m->tick++;
    for (int i = 0; i < m->cache_cap; i++) {
        ValueSlot *s = &m->cache[i];
        if (s->value && s->ptr == ptr && s->tensor == tensor && s->batch == batch) {
            s->last_use = m->tick;
            return s->value;
        }
        if (!s->value || (victim->value && s->last_use < victim->last_use))
            victim = s;
    }
    const FpTensorInfo *ti = tensor < 0 ? &m->in_info[0] : &m->out_info[tensor];
    int64_t shape[FP_MODEL_MAX_DIMS];
    memcpy(shape, ti->dims, sizeof(shape));
    if (ti->rank > 0)
        shape[0] = batch;
    size_t bytes = (size_t)batch * ti->item_bytes;
    OrtValue *v = NULL;
    OrtStatus *st = m->ort->CreateTensorWithDataAsOrtValue(m->mem, (void *)ptr, bytes, shape, (size_t)ti->rank,
                                                           dtype_to_ort(ti->dtype), &v);
    if (st) {
        *rc = ort_fail(m, st, tensor < 0 ? "wrapping the input batch" : "wrapping an output buffer");
        return NULL;
    }
    if (victim->value)
        m->ort->ReleaseValue(victim->value);
    m->stats.values_created++;
    victim->ptr = ptr;
    victim->tensor = tensor;
    victim->batch = batch;
    victim->last_use = m->tick;
    victim->value = v;
    return v;
}

/* ---- execution providers ---- */

static bool provider_available(const OrtApi *o, const char *ep_name)
{
    char **list = NULL;
    int n = 0;
    OrtStatus *st = o->GetAvailableProviders(&list, &n);
    if (st) {
        o->ReleaseStatus(st);
        return false;
    }
    bool found = false;
    for (int i = 0; i < n; i++)
        found = found || strcmp(list[i], ep_name) == 0;
    st = o->ReleaseAvailableProviders(list, n);
    if (st)
        o->ReleaseStatus(st);
    return found;
}

static OrtStatus *append_cuda(const OrtApi *o, OrtSessionOptions *so, int device_id)
{
    OrtCUDAProviderOptionsV2 *opt = NULL;
    OrtStatus *st = o->CreateCUDAProviderOptions(&opt);
    if (st)
        return st;
    char dev[16];
    snprintf(dev, sizeof(dev), "%d", device_id);
    const char *k[] = {"device_id"}, *v[] = {dev};
    st = o->UpdateCUDAProviderOptions(opt, k, v, 1);
    if (!st)
        st = o->SessionOptionsAppendExecutionProvider_CUDA_V2(so, opt);
    o->ReleaseCUDAProviderOptions(opt);
    return st;
}

static OrtStatus *append_tensorrt(const OrtApi *o, OrtSessionOptions *so, int device_id)
{
    OrtTensorRTProviderOptionsV2 *opt = NULL;
    OrtStatus *st = o->CreateTensorRTProviderOptions(&opt);
    if (st)
        return st;
    char dev[16];
    snprintf(dev, sizeof(dev), "%d", device_id);
    const char *k[] = {"device_id"}, *v[] = {dev};
    st = o->UpdateTensorRTProviderOptions(opt, k, v, 1);
    if (!st)
        st = o->SessionOptionsAppendExecutionProvider_TensorRT_V2(so, opt);
    o->ReleaseTensorRTProviderOptions(opt);
    if (!st) /* nodes TensorRT cannot take go to CUDA, then to the CPU */
        st = append_cuda(o, so, device_id);
    return st;
}

/* Adds cfg->provider to `so`; on failure falls back to the CPU (logged) or fails, as configured. */
static int setup_provider(FpModel *m, OrtSessionOptions *so, const FpModelConfig *cfg)
{
    m->provider = FP_PROVIDER_CPU;
    if (cfg->provider == FP_PROVIDER_CPU)
        return 0;
    const OrtApi *o = m->ort;
    const char *ep = cfg->provider == FP_PROVIDER_CUDA ? "CUDAExecutionProvider" : "TensorrtExecutionProvider";
    char why[512];
    if (!provider_available(o, ep)) {
        snprintf(why, sizeof(why), "this ONNX Runtime build (%s) has no %s", fp__ort_library_path(), ep);
    } else {
        OrtStatus *st = cfg->provider == FP_PROVIDER_CUDA ? append_cuda(o, so, cfg->device_id)
                                                          : append_tensorrt(o, so, cfg->device_id);
        if (!st) {
            m->provider = cfg->provider;
            return 0;
        }
        snprintf(why, sizeof(why), "%s", o->GetErrorMessage(st));
        o->ReleaseStatus(st);
    }
    if (!cfg->provider_fallback)
        return fp_error(FP_EUNSUPPORTED, "model %s: execution provider '%s' is not available: %s", m->path,
                        fp_provider_name(cfg->provider), why);
    fp_log_warn("infer", "model %s: execution provider '%s' is not available (%s); using the CPU", m->path,
                fp_provider_name(cfg->provider), why);
    return 0;
}

/* ---- create / destroy ---- */

/* A hint for a file ORT refuses: ONNX files start with the ir_version field (protobuf tag 0x08). */
static int load_error(FpModel *m, OrtStatus *st)
{
    unsigned char first = 0;
    long size = -1;
    FILE *f = fopen(m->path, "rb");
    if (f) {
        if (fread(&first, 1, 1, f) != 1)
            first = 0;
        if (fseek(f, 0, SEEK_END) == 0)
            size = ftell(f);
        fclose(f);
    }
    const char *kind = size == 0       ? "is empty, not an ONNX model"
                       : first != 0x08 ? "is not an ONNX model (no ModelProto header)"
                                       : "is a truncated or corrupt ONNX model";
    int rc = fp_error(FP_EMODEL, "model %s %s: ONNX Runtime cannot load it: %s", m->path, kind,
                      m->ort->GetErrorMessage(st));
    m->ort->ReleaseStatus(st);
    return rc;
}

/* An image input's side: far past any detector's (the service's pictures stop at 65535 too). */
#define FP_MODEL_MAX_INPUT_SIDE 65535
/* ... and its bytes per image (8192 x 8192 x 4 float32 is 1 GiB): pool slots and the warm-up run hold that much. */
#define FP_MODEL_MAX_INPUT_BYTES (1 << 30)

static int check_input(FpModel *m, const FpModelConfig *cfg)
{
    if (m->n_in != 1) {
        char list[512] = "";
        for (int i = 0; i < m->n_in; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s'%s'", i ? ", " : "", m->in_info[i].name);
        return fp_error(FP_EMODEL, "model %s has %d inputs (%s); framepipe feeds exactly one image input",
                        m->path, m->n_in, list);
    }
    FpTensorInfo *ti = &m->in_info[0];
    if (ti->rank != 4)
        return fp_error(FP_EMODEL, "model %s: input '%s' has %d axes; an image input has 4 (NCHW or NHWC)",
                        m->path, ti->name, ti->rank);
    int64_t *d = ti->dims;
    bool c1 = d[1] == 1 || d[1] == 3 || d[1] == 4, c3 = d[3] == 1 || d[3] == 3 || d[3] == 4;
    FpModelInput *in = &m->input;
    in->layout = c1 && !c3 ? FP_LAYOUT_NCHW : c3 && !c1 ? FP_LAYOUT_NHWC : d[1] == 3 ? FP_LAYOUT_NCHW
                 : d[3] == 3                                          ? FP_LAYOUT_NHWC
                                                                      : FP_LAYOUT_UNKNOWN;
    if (in->layout == FP_LAYOUT_UNKNOWN)
        return fp_error(FP_EMODEL, "model %s: input '%s' [%lld,%lld,%lld,%lld] is neither NCHW nor NHWC with 1, 3 or "
                        "4 channels", m->path, ti->name, (long long)d[0], (long long)d[1], (long long)d[2],
                        (long long)d[3]);
    int hax = in->layout == FP_LAYOUT_NCHW ? 2 : 1, wax = hax + 1;
    int want[2] = {cfg->input_height, cfg->input_width};
    int ax[2] = {hax, wax};
    for (int k = 0; k < 2; k++) {
        if (want[k] < 0)
            return fp_error(FP_ECONFIG, "model %s: input %s %d is negative", m->path, k ? "width" : "height", want[k]);
        if (want[k] > 0 && d[ax[k]] > 0 && d[ax[k]] != want[k])
            return fp_error(FP_ECONFIG, "model %s: input '%s' has a fixed %s of %lld, the configuration asks for %d",
                            m->path, ti->name, k ? "width" : "height", (long long)d[ax[k]], want[k]);
        if (want[k] > 0)
            d[ax[k]] = want[k];
        if (d[ax[k]] == 0)
            return fp_error(FP_EMODEL, "model %s: input '%s' has a %s of 0", m->path, ti->name,
                            k ? "width" : "height");
        if (d[ax[k]] < 0)
            return fp_error(FP_ECONFIG,
                            "model %s: input '%s' has a dynamic %s; give the input size (framepipe detect "
                            "--input WxH, or model.input: [w, h] in a config)",
                            m->path, ti->name, k ? "width" : "height");
        /* found by fuzz_model: a side past INT_MAX became a negative int height and overflowed item_bytes */
        if (d[ax[k]] > FP_MODEL_MAX_INPUT_SIDE)
            return fp_error(want[k] > 0 ? FP_ECONFIG : FP_EMODEL,
                            "model %s: input '%s' has a %s of %lld; at most %d is supported", m->path, ti->name,
                            k ? "width" : "height", (long long)d[ax[k]], FP_MODEL_MAX_INPUT_SIDE);
    }
    if (d[0] > 4096)
        return fp_error(FP_EMODEL, "model %s: input '%s' has a fixed batch of %lld; at most 4096 is supported",
                        m->path, ti->name, (long long)d[0]);
    int cax = in->layout == FP_LAYOUT_NCHW ? 1 : 3;
    if (d[cax] < 0)
        d[cax] = 3;
    info_finish(ti);
    if (ti->item_bytes > FP_MODEL_MAX_INPUT_BYTES)
        return fp_error(want[0] > 0 || want[1] > 0 ? FP_ECONFIG : FP_EMODEL,
                        "model %s: input '%s' [%lld,%lld,%lld,%lld] %s needs %zu bytes per image, more than the %d "
                        "MiB supported", m->path, ti->name, (long long)d[0], (long long)d[1], (long long)d[2],
                        (long long)d[3], fp_dtype_name(ti->dtype), ti->item_bytes, FP_MODEL_MAX_INPUT_BYTES >> 20);
    in->channels = (int)d[cax];
    in->height = (int)d[hax];
    in->width = (int)d[wax];
    in->dtype = ti->dtype;
    in->fixed_batch = d[0] > 0 ? (int)d[0] : 0;
    if (in->fixed_batch > 1 && m->max_batch != in->fixed_batch) {
        fp_log_info("infer", "model %s has a fixed batch of %d: max_batch set to it", m->path, in->fixed_batch);
        m->max_batch = in->fixed_batch;
    }
    return 0;
}

/* Resolves outputs with dynamic non-batch axes by one run on zeros (see the design note). */
static int resolve_output_shapes(FpModel *m)
{
    bool need = false;
    for (int i = 0; i < m->n_out; i++)
        need = need || m->out_info[i].item_elems == 0;
    if (!need)
        return 0;
    const OrtApi *o = m->ort;
    void *zeros = calloc(1, m->in_info[0].item_bytes);
    OrtValue **outs = calloc((size_t)m->n_out, sizeof(OrtValue *));
    int rc = 0;
    if (!zeros || !outs) {
        rc = fp_error(-ENOMEM, "model %s: out of memory", m->path);
        goto out;
    }
    OrtValue *in = cache_get(m, -1, zeros, 1, &rc);
    if (!in)
        goto out;
    OrtStatus *st = o->Run(m->session, NULL, m->in_names, (const OrtValue *const *)&in, 1, m->out_names,
                           (size_t)m->n_out, outs);
    if (st) {
        rc = ort_fail(m, st, "a warm-up run to learn the output shapes failed");
        goto out;
    }
    for (int i = 0; i < m->n_out && rc == 0; i++) {
        OrtTensorTypeAndShapeInfo *si = NULL;
        size_t rank = 0;
        if ((st = o->GetTensorTypeAndShape(outs[i], &si)) || (st = o->GetDimensionsCount(si, &rank))) {
            rc = ort_fail(m, st, "reading an output shape");
        } else if ((int)rank != m->out_info[i].rank) {
            rc = fp_error(FP_EMODEL, "model %s: output '%s' has %zu axes at run time, %d declared", m->path,
                          m->out_info[i].name, rank, m->out_info[i].rank);
        } else if (rank > 0 && (st = o->GetDimensions(si, m->out_info[i].dims, rank))) {
            rc = ort_fail(m, st, "reading an output shape");
        } else {
            if (m->out_info[i].batch_dynamic)
                m->out_info[i].dims[0] = -1;
            info_finish(&m->out_info[i]);
        }
        if (si)
            o->ReleaseTensorTypeAndShapeInfo(si);
    }
out:
    if (outs) {
        for (int i = 0; i < m->n_out; i++) {
            if (outs[i])
                o->ReleaseValue(outs[i]);
        }
    }
    cache_clear(m); /* drop the descriptor over `zeros` */
    free(outs);
    free(zeros);
    return rc;
}

/* Step 0: the request itself, before anything is loaded: a path that opens, sane numbers. */
static int check_request(FpModel **out, const char *path, const FpModelConfig *cfg)
{
    if (!out || !path || !*path)
        return fp_error(FP_EINVALID, "fp_model_create: no model path given");
    if (cfg->max_batch < 1 || cfg->max_batch > 4096)
        return fp_error(FP_ECONFIG, "model %s: max_batch %d is out of range (1..4096)", path, cfg->max_batch);
    if (cfg->intra_threads < 0 || cfg->inter_threads < 0)
        return fp_error(FP_ECONFIG, "model %s: thread counts must be >= 0", path);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        int e = errno;
        return fp_error(-e, "model %s: cannot open: %s", path, strerror(e));
    }
    fclose(probe);
    return 0;
}

/*
 * Step 1: the shared environment, then the session (options, execution provider) and the CPU
 * memory info. The session options live only for this step; what it made stays in *m for
 * fp_model_destroy on failure.
 */
static int open_session(FpModel *m, const FpModelConfig *cfg)
{
    const OrtApi *o = m->ort;
    OrtSessionOptions *so = NULL;
    OrtStatus *st = NULL;
    int rc = fp__ort_env_acquire(o, &m->env);
    if (rc < 0) {
        m->env = NULL;
        return rc;
    }
    if ((st = o->CreateSessionOptions(&so)))
        return ort_fail(m, st, "creating session options");
    const char *spin = cfg->allow_spinning ? "1" : "0";
    if ((cfg->intra_threads > 0 && (st = o->SetIntraOpNumThreads(so, cfg->intra_threads))) ||
        (cfg->inter_threads > 0 && (st = o->SetInterOpNumThreads(so, cfg->inter_threads))) ||
        (st = o->SetSessionExecutionMode(so, ORT_SEQUENTIAL)) ||
        (st = o->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL)) ||
        (st = o->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", spin)) ||
        (st = o->AddSessionConfigEntry(so, "session.inter_op.allow_spinning", spin))) {
        rc = ort_fail(m, st, "setting session options");
        goto release_options;
    }
    if ((rc = setup_provider(m, so, cfg)) < 0)
        goto release_options;
    if ((st = o->CreateSession(m->env, m->path, so, &m->session))) {
        m->session = NULL;
        rc = load_error(m, st);
        goto release_options;
    }
    if ((st = o->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &m->mem)))
        rc = ort_fail(m, st, "creating the CPU memory info");
release_options:
    o->ReleaseSessionOptions(so);
    return rc;
}

/* Step 2: every input's and output's name, type and declared shape, and the metadata. */
static int read_tensors(FpModel *m)
{
    const OrtApi *o = m->ort;
    OrtAllocator *alloc = NULL;
    OrtStatus *st = NULL;
    size_t n_in = 0, n_out = 0;
    if ((st = o->GetAllocatorWithDefaultOptions(&alloc)))
        return ort_fail(m, st, "getting the default allocator");
    if ((st = o->SessionGetInputCount(m->session, &n_in)) || (st = o->SessionGetOutputCount(m->session, &n_out)))
        return ort_fail(m, st, "counting inputs and outputs");
    if (n_out == 0 || n_out > 64 || n_in > 64)
        return fp_error(FP_EMODEL, "model %s has %zu inputs and %zu outputs (1..64 supported)", m->path, n_in,
                        n_out);
    m->in_info = calloc(n_in ? n_in : 1, sizeof(FpTensorInfo));
    m->out_info = calloc(n_out, sizeof(FpTensorInfo));
    m->in_names = calloc(n_in ? n_in : 1, sizeof(char *));
    m->out_names = calloc(n_out, sizeof(char *));
    m->run_out = calloc(n_out, sizeof(OrtValue *));
    if (!m->in_info || !m->out_info || !m->in_names || !m->out_names || !m->run_out)
        return fp_error(-ENOMEM, "model %s: out of memory", m->path);
    /* n_in / n_out count the entries fp_model_destroy frees, the failed one included. */
    int rc = 0;
    for (size_t i = 0; i < n_in && rc == 0; i++, m->n_in++) {
        rc = read_tensor_info(m, true, (int)i, alloc, &m->in_info[i]);
        m->in_names[i] = m->in_info[i].name;
    }
    for (size_t i = 0; i < n_out && rc == 0; i++, m->n_out++) {
        rc = read_tensor_info(m, false, (int)i, alloc, &m->out_info[i]);
        m->out_names[i] = m->out_info[i].name;
    }
    return rc < 0 ? rc : read_metadata(m, alloc);
}

/*
 * Step 3: the descriptor cache, the outputs' shapes (dynamic axes resolved by a warm-up run), a
 * batch axis on every output, and the model-owned output buffers when asked for.
 */
/* A detector's outputs per image are kilobytes to a few MiB; far more is a broken or hostile model. */
#define FP_MODEL_MAX_OUTPUT_BYTES (256 << 20)

static int prepare_outputs(FpModel *m, const FpModelConfig *cfg)
{
    /* Descriptor cache: every slot's outputs and inputs for a few pool buffers, per batch size used. */
    m->cache_cap = 64 + 4 * (m->n_out + 1) * m->max_batch;
    if (!(m->cache = calloc((size_t)m->cache_cap, sizeof(ValueSlot))))
        return fp_error(-ENOMEM, "model %s: out of memory", m->path);
    int rc = resolve_output_shapes(m);
    if (rc < 0)
        return rc;
    int batch = m->input.fixed_batch ? m->input.fixed_batch : 1;
    for (int i = 0; i < m->n_out; i++) {
        FpTensorInfo *ti = &m->out_info[i];
        if (ti->item_bytes > FP_MODEL_MAX_OUTPUT_BYTES)
            return fp_error(FP_EMODEL, "model %s: output '%s' needs %zu bytes per image, more than the %d MiB a "
                            "detector output may have", m->path, ti->name, ti->item_bytes,
                            FP_MODEL_MAX_OUTPUT_BYTES >> 20);
        if (ti->rank == 0 || (!ti->batch_dynamic && ti->dims[0] != batch))
            return fp_error(FP_EMODEL, "model %s: output '%s' has no batch axis matching the input's", m->path,
                            ti->name);
        if (m->input.fixed_batch == 0 && !ti->batch_dynamic) {
            /* The input batch is dynamic but this output's is fixed: only batch 1 can run. */
            fp_log_warn("infer", "model %s: output '%s' has a fixed batch; max_batch limited to 1", m->path,
                        ti->name);
            m->max_batch = 1;
        }
    }
    if (!cfg->own_outputs)
        return 0;
    if (!(m->out_bufs = calloc((size_t)m->n_out, sizeof(void *))))
        return fp_error(-ENOMEM, "model %s: out of memory", m->path);
    for (int i = 0; i < m->n_out; i++) {
        size_t bytes = (size_t)m->max_batch * m->out_info[i].item_bytes;
        if (posix_memalign(&m->out_bufs[i], 64, bytes ? bytes : 64) != 0) {
            m->out_bufs[i] = NULL;
            return fp_error(-ENOMEM, "model %s: out of memory for output '%s' (%zu bytes)", m->path,
                            m->out_info[i].name, bytes);
        }
        memset(m->out_bufs[i], 0, bytes);
    }
    return 0;
}

/* Step 4: class names from the first metadata key that has them (none is not an error). */
static void find_class_names(FpModel *m)
{
    static const char *const name_keys[] = {"names", "classes", "labels"};
    for (size_t k = 0; k < sizeof(name_keys) / sizeof(name_keys[0]); k++) {
        const char *names = fp_model_meta(m, name_keys[k]);
        if (names) {
            parse_class_names(m, name_keys[k], names);
            return;
        }
    }
}

int fp_model_create(FpModel **out, const char *path, const FpModelConfig *cfg_in)
{
    FpModelConfig defaults;
    if (!cfg_in) {
        fp_model_config_init(&defaults);
        cfg_in = &defaults;
    }
    const FpModelConfig *cfg = cfg_in;
    int rc = check_request(out, path, cfg);
    if (rc < 0)
        return rc;
    const OrtApi *o = fp__ort_api(cfg->ort_library);
    if (!o) {
        char why[1024]; /* copied: fp_error rewrites the buffer fp_error_detail returns */
        snprintf(why, sizeof(why), "%s", fp_error_detail(FP_EDEPENDENCY));
        return fp_error(FP_EDEPENDENCY, "model %s: %s", path, why);
    }
    FpModel *m = calloc(1, sizeof(*m));
    if (!m)
        return fp_error(-ENOMEM, "model %s: out of memory", path);
    m->ort = o;
    m->max_batch = cfg->max_batch;
    if (!(m->path = strdup(path))) {
        rc = fp_error(-ENOMEM, "model %s: out of memory", path);
        goto fail;
    }
    /* fp_model_destroy takes a model built up to any step apart, so one label serves every step. */
    if ((rc = open_session(m, cfg)) < 0 || (rc = read_tensors(m)) < 0 || (rc = check_input(m, cfg)) < 0 ||
        (rc = prepare_outputs(m, cfg)) < 0)
        goto fail;
    find_class_names(m);
    memset(&m->stats, 0, sizeof(m->stats)); /* count the caller's runs, not the shape warm-up */
    fp_log_debug("infer", "model %s: %d outputs, input %dx%dx%d %s, batch %s, provider %s", path, m->n_out,
                 m->input.channels, m->input.height, m->input.width,
                 m->input.layout == FP_LAYOUT_NCHW ? "NCHW" : "NHWC",
                 m->input.fixed_batch ? "fixed" : "dynamic", fp_provider_name(m->provider));
    *out = m;
    return 0;

fail:
    fp_model_destroy(&m);
    return rc;
}

void fp_model_destroy(FpModel **pm)
{
    if (!pm || !*pm)
        return;
    FpModel *m = *pm;
    const OrtApi *o = m->ort;
    if (m->cache) {
        cache_clear(m);
        free(m->cache);
    }
    if (m->out_bufs) {
        for (int i = 0; i < m->n_out; i++)
            free(m->out_bufs[i]);
        free(m->out_bufs);
    }
    if (m->session)
        o->ReleaseSession(m->session);
    if (m->mem)
        o->ReleaseMemoryInfo(m->mem);
    if (m->env)
        fp__ort_env_release();
    for (int i = 0; m->in_info && i < m->n_in; i++)
        free((char *)m->in_info[i].name);
    for (int i = 0; m->out_info && i < m->n_out; i++)
        free((char *)m->out_info[i].name);
    free(m->in_info);
    free(m->out_info);
    free(m->in_names);
    free(m->out_names);
    free(m->run_out);
    for (int i = 0; i < m->n_meta; i++) {
        free(m->meta_keys[i]);
        free(m->meta_vals[i]);
    }
    free(m->meta_keys);
    free(m->meta_vals);
    fp_labels_destroy(&m->labels);
    free(m->path);
    free(m);
    *pm = NULL;
}

/* ---- run ---- */

static int run_once(FpModel *m, const void *input, int batch, void *const *outs, size_t slot)
{
    int rc = 0;
    OrtValue *in = cache_get(m, -1, input, batch, &rc);
    if (!in)
        return rc;
    for (int i = 0; i < m->n_out; i++) {
        char *base = (char *)outs[i] + slot * m->out_info[i].item_bytes;
        if (!(m->run_out[i] = cache_get(m, i, base, batch, &rc)))
            return rc;
    }
    OrtStatus *st = m->ort->Run(m->session, NULL, m->in_names, (const OrtValue *const *)&in, 1, m->out_names,
                                (size_t)m->n_out, m->run_out);
    if (st)
        return ort_fail(m, st, "ONNX Runtime rejected the run");
    m->stats.session_runs++;
    return 0;
}

int fp_model_run_into(FpModel *m, const void *input, int batch_size, void *const *outputs)
{
    if (!m || !input || !outputs)
        return fp_error(FP_EINVALID, "fp_model_run: NULL model, input or outputs");
    if (batch_size < 1 || batch_size > m->max_batch)
        return fp_error(FP_ERANGE, "model %s: batch of %d outside 1..%d (max_batch)", m->path, batch_size,
                        m->max_batch);
    for (int i = 0; i < m->n_out; i++) {
        if (!outputs[i])
            return fp_error(FP_EINVALID, "model %s: no buffer for output '%s'", m->path, m->out_info[i].name);
    }
    int fixed = m->input.fixed_batch, rc = 0;
    if (fixed == 0) {
        rc = run_once(m, input, batch_size, outputs, 0);
    } else if (fixed == 1) {
        const char *in = input;
        for (int s = 0; s < batch_size && rc == 0; s++)
            rc = run_once(m, in + (size_t)s * m->in_info[0].item_bytes, 1, outputs, (size_t)s);
    } else if (batch_size != fixed) {
        rc = fp_error(FP_ERANGE, "model %s has a fixed batch of %d; got a batch of %d", m->path, fixed, batch_size);
    } else {
        rc = run_once(m, input, fixed, outputs, 0);
    }
    if (rc == 0)
        m->stats.runs++;
    return rc;
}

int fp_model_run(FpModel *m, const void *input, int batch_size)
{
    if (!m)
        return fp_error(FP_EINVALID, "fp_model_run: NULL model");
    if (!m->out_bufs)
        return fp_error(FP_EINVALID, "model %s: created with own_outputs = false; use fp_model_run_into", m->path);
    return fp_model_run_into(m, input, batch_size, m->out_bufs);
}

/* ---- accessors ---- */

const char *fp_model_path(const FpModel *m)
{
    return m->path;
}

int fp_model_input_count(const FpModel *m)
{
    return m->n_in;
}

int fp_model_output_count(const FpModel *m)
{
    return m->n_out;
}

const FpTensorInfo *fp_model_input_info(const FpModel *m, int i)
{
    return i >= 0 && i < m->n_in ? &m->in_info[i] : NULL;
}

const FpTensorInfo *fp_model_output_info(const FpModel *m, int i)
{
    return i >= 0 && i < m->n_out ? &m->out_info[i] : NULL;
}

const FpModelInput *fp_model_input(const FpModel *m)
{
    return &m->input;
}

int fp_model_max_batch(const FpModel *m)
{
    return m->max_batch;
}

FpProvider fp_model_provider(const FpModel *m)
{
    return m->provider;
}

const void *fp_model_output_data(const FpModel *m, int i)
{
    return m->out_bufs && i >= 0 && i < m->n_out ? m->out_bufs[i] : NULL;
}

void fp_model_get_stats(const FpModel *m, FpModelStats *out)
{
    *out = m->stats;
}

const char *fp_model_meta(const FpModel *m, const char *key)
{
    for (int i = 0; key && i < m->n_meta; i++) {
        if (strcmp(m->meta_keys[i], key) == 0)
            return m->meta_vals[i];
    }
    return NULL;
}

int fp_model_class_count(const FpModel *m)
{
    return fp_labels_count(m->labels);
}

const char *fp_model_class_name(const FpModel *m, int i)
{
    return fp_labels_name(m->labels, i);
}

#else /* !FP_HAVE_ORT: built without the headers; every entry point says so. */

struct FpModel {
    int unused;
};

static int no_ort(void)
{
    return fp_error(FP_EDEPENDENCY, "framepipe was built without the ONNX Runtime headers; run scripts/setup.sh "
                    "and rebuild (or set ORT_ROOT / -Dort_root)");
}

int fp_model_create(FpModel **out, const char *path, const FpModelConfig *cfg)
{
    (void)out, (void)path, (void)cfg;
    return no_ort();
}
void fp_model_destroy(FpModel **m)
{
    if (m)
        *m = NULL;
}
int fp_model_run(FpModel *m, const void *in, int b)
{
    (void)m, (void)in, (void)b;
    return no_ort();
}
int fp_model_run_into(FpModel *m, const void *in, int b, void *const *o)
{
    (void)m, (void)in, (void)b, (void)o;
    return no_ort();
}
const char *fp_model_path(const FpModel *m) { (void)m; return ""; }
int fp_model_input_count(const FpModel *m) { (void)m; return 0; }
int fp_model_output_count(const FpModel *m) { (void)m; return 0; }
const FpTensorInfo *fp_model_input_info(const FpModel *m, int i) { (void)m, (void)i; return NULL; }
const FpTensorInfo *fp_model_output_info(const FpModel *m, int i) { (void)m, (void)i; return NULL; }
const FpModelInput *fp_model_input(const FpModel *m) { (void)m; return NULL; }
int fp_model_max_batch(const FpModel *m) { (void)m; return 0; }
FpProvider fp_model_provider(const FpModel *m) { (void)m; return FP_PROVIDER_CPU; }
const void *fp_model_output_data(const FpModel *m, int i) { (void)m, (void)i; return NULL; }
void fp_model_get_stats(const FpModel *m, FpModelStats *out) { (void)m; memset(out, 0, sizeof(*out)); }
const char *fp_model_meta(const FpModel *m, const char *k) { (void)m, (void)k; return NULL; }
int fp_model_class_count(const FpModel *m) { (void)m; return 0; }
const char *fp_model_class_name(const FpModel *m, int i) { (void)m, (void)i; return NULL; }

#endif
