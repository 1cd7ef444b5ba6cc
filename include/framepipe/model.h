// SPDX-License-Identifier: MIT
// FpModel: an ONNX model loaded into an ONNX Runtime session, run on batches of pool memory with outputs in preallocated buffers.
#ifndef FRAMEPIPE_MODEL_H
#define FRAMEPIPE_MODEL_H

#include "framepipe/family.h"
#include "framepipe/tensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * FpModel wraps one ONNX Runtime session (ORT's plain C API, loaded with
 * dlopen on first use so that a missing library is an error, not a loader
 * failure). The batch input is caller memory (the pool slot pre-processing
 * wrote into) wrapped as an OrtValue without a copy; outputs land in buffers
 * the model allocates once for `max_batch` items, or in buffers the caller
 * provides. OrtValues over those buffers are cached by address, so after
 * warm-up a run allocates nothing in framepipe's code.
 *
 * A model whose batch axis is fixed at 1 runs a batch slot by slot; a model
 * whose batch axis is dynamic runs the whole batch in one call.
 */

#define FP_MODEL_MAX_DIMS 8


typedef enum FpProvider {
    FP_PROVIDER_CPU = 0,
    FP_PROVIDER_CUDA,
    FP_PROVIDER_TENSORRT,
} FpProvider;

/* "cpu", "cuda", "tensorrt"; never NULL, static. */
const char *fp_provider_name(FpProvider provider);
/* Parses "cpu" / "cuda" / "tensorrt" into *out. Returns 0 or FP_EINVALID. */
int fp_provider_parse(const char *name, FpProvider *out);

/* One input or output tensor as the model declares it. Owned by the model. */
typedef struct FpTensorInfo {
    const char *name;
    FpDtype dtype;
    int rank;
    int64_t dims[FP_MODEL_MAX_DIMS]; /* as declared; -1 where the axis is dynamic (symbolic) */
    bool batch_dynamic;              /* dims[0] is dynamic */
    size_t item_elems;               /* elements of one batch item (0 when a non-batch axis is dynamic) */
    size_t item_bytes;               /* item_elems * dtype size */
} FpTensorInfo;

/* The image input's geometry, derived from the first input's declared shape. */
typedef struct FpModelInput {
    FpLayout layout; /* NCHW when dims[1] is 1 or 3 (and dims[3] is not), NHWC when dims[3] is */
    int channels, height, width;
    FpDtype dtype;
    int fixed_batch; /* the declared batch size, or 0 when the batch axis is dynamic */
} FpModelInput;

/* What a family decoder needs to know, filled by fp_model_family(). */
typedef struct FpFamilyInfo {
    FpFamily family;
    int num_classes; /* C (1 for BlazeFace) */
    int num_anchors; /* N: boxes per image before filtering (BlazeFace: 512 + 384) */
    int reg_max;     /* DFL bins per box side (FP_FAMILY_YOLOV8_RAW), else 0 */
    /*
     * Output indices. YOLO: outputs[0] is the prediction tensor. BlazeFace:
     * outputs[0], [1] the two score tensors (larger grid first), [2], [3] the
     * matching regressors. SSD: outputs[0] boxes, outputs[1] scores.
     */
    int outputs[4];
    int n_outputs;
} FpFamilyInfo;

typedef struct FpModelConfig {
    FpProvider provider;     /* default FP_PROVIDER_CPU */
    bool provider_fallback;  /* provider unavailable: true = log a warning and use the CPU,
                                false (default) = fp_model_create fails with FP_EUNSUPPORTED */
    int device_id;           /* GPU index for cuda / tensorrt */
    int intra_threads;       /* ORT intra-op threads; 0 = ORT's default (one per core) */
    int inter_threads;       /* ORT inter-op threads; 0 = ORT's default */
    bool allow_spinning;     /* let ORT's idle worker threads spin (default false: other
                                pipeline threads share the cores) */
    int max_batch;           /* the largest batch fp_model_run will be given; default 1 */
    int input_height;        /* 0, or the size the pipeline will feed: must match a fixed */
    int input_width;         /* axis, and resolves a dynamic one */
    const char *ort_library; /* path of libonnxruntime.so, or NULL: $FP_ORT_LIBRARY, then the
                                library found at build time, then the loader's search. The
                                first library loaded serves the whole process. */
    bool own_outputs;        /* allocate output buffers (default true); false when the caller
                                always uses fp_model_run_into() */
} FpModelConfig;

typedef struct FpModel FpModel;

/* Fills *cfg with the defaults documented above. */
void fp_model_config_init(FpModelConfig *cfg);

/*
 * Loads the ONNX model at `path` into an ONNX Runtime session configured by
 * `cfg` (NULL = defaults) and allocates its output buffers for cfg->max_batch
 * items. On success *out owns the session; release it with fp_model_destroy().
 * Errors (with a message naming the model): FP_EDEPENDENCY (ONNX Runtime
 * library missing or too old), -ENOENT/-EACCES (file), FP_EMODEL (not ONNX,
 * truncated, rejected by ONNX Runtime, unsupported input), FP_EUNSUPPORTED
 * (execution provider not available and no fallback), FP_ECONFIG (a config
 * value the model contradicts), FP_EINVALID (NULL out or path), -ENOMEM.
 * *out is left untouched on failure and nothing stays allocated.
 * Thread-safe (the ORT environment is shared and reference-counted).
 */
int fp_model_create(FpModel **out, const char *path, const FpModelConfig *cfg);

/*
 * Releases the session and the output buffers and drops the model's
 * reference to the shared ONNX Runtime environment; sets *model to NULL.
 * NULL or *model == NULL is a no-op. Everything the model handed out (infos,
 * names, metadata, output data) dies with it; buffers given to
 * fp_model_run_into stay the caller's. Any thread, once no other call on
 * this model is running; other models are not affected.
 */
void fp_model_destroy(FpModel **model);

/*
 * Runs the model on `batch_size` items at `input` (contiguous, each
 * fp_model_input_info()->item_bytes long, in the model's layout and dtype),
 * wrapped without a copy. Outputs land in the model's buffers
 * (fp_model_output_data). 1 <= batch_size <= max_batch. A fixed-batch-1 model
 * runs once per slot. `input` must stay valid and unchanged during the call.
 * One thread at a time per model (ORT sessions allow concurrent runs, but the
 * output buffers, the cache of OrtValue descriptors and the counters are not
 * locked). Returns 0, FP_ERANGE (batch size), FP_EMODEL (ONNX Runtime
 * failed; message names the model and gives ORT's text), FP_EINVALID (NULL
 * model or input, or a model created with own_outputs = false),
 * FP_EDEPENDENCY (built without ONNX Runtime). On failure the outputs hold
 * unspecified data (a fixed-batch-1 model may have written the slots before
 * the one that failed).
 */
int fp_model_run(FpModel *model, const void *input, int batch_size);

/*
 * As fp_model_run(), but output i is written to outputs[i], which must hold
 * batch_size * fp_model_output_info(model, i)->item_bytes bytes; works
 * whether or not the model owns outputs. The caller keeps ownership;
 * buffers reused across calls are wrapped only once. Same errors (FP_EINVALID
 * also for NULL outputs or a NULL outputs[i]); on failure outputs[] hold
 * unspecified data. One thread at a time per model, even with separate
 * output buffers (the descriptor cache and counters are shared).
 */
int fp_model_run_into(FpModel *model, const void *input, int batch_size, void *const *outputs);

/*
 * Accessors below read what fp_model_create() fixed: any thread may call them
 * while the model lives; returned pointers are owned by the model.
 */

/* The path the model was loaded from (owned by the model). */
const char *fp_model_path(const FpModel *model);
int fp_model_input_count(const FpModel *model);
int fp_model_output_count(const FpModel *model);
/* Tensor descriptions, or NULL for an index out of range. Owned by the model. */
const FpTensorInfo *fp_model_input_info(const FpModel *model, int index);
const FpTensorInfo *fp_model_output_info(const FpModel *model, int index);
/* Geometry of the image input (input 0). */
const FpModelInput *fp_model_input(const FpModel *model);
/* The configured maximum batch size. */
int fp_model_max_batch(const FpModel *model);
/* The execution provider in use (after any fallback). */
FpProvider fp_model_provider(const FpModel *model);

/*
 * Output `index` of the last fp_model_run(): item b starts at
 * data + b * item_bytes. Owned by the model: the pointer is fixed at create
 * and valid until destroy; the bytes are rewritten by every fp_model_run
 * (not by fp_model_run_into). NULL for a bad index or when the model owns no
 * outputs. Any thread may call it; reading the bytes must not overlap an
 * fp_model_run on this model and must come after the run that wrote them
 * (on its thread, or handed over through a lock or queue).
 */
const void *fp_model_output_data(const FpModel *model, int index);

/* Metadata value for `key` (custom_metadata_map), or NULL. Owned by the model. */
const char *fp_model_meta(const FpModel *model, const char *key);

/*
 * Class names from the metadata ("names" as ultralytics writes it, a
 * Python/JSON dict {0: 'person', ...} or a JSON list; or "classes" /
 * "labels" as a comma- or newline-separated list). Returns the count (0 when
 * the model carries none); fp_model_class_name() returns NULL out of range.
 */
int fp_model_class_count(const FpModel *model);
const char *fp_model_class_name(const FpModel *model, int index);

/*
 * Classifies the model's outputs (shapes, then metadata: names, reg_max,
 * head) into a family (framepipe/family.h) and fills *info (may be NULL).
 * Returns the family; FP_FAMILY_UNKNOWN when none matches.
 */
FpFamily fp_model_family(const FpModel *model, FpFamilyInfo *info);

/*
 * As fp_model_family(), but a model that matches no family is an error:
 * FP_EMODEL with a message naming the model and listing its outputs.
 */
int fp_model_require_family(const FpModel *model, FpFamilyInfo *info);

/* Counters since create: a steady pipeline sees values_created stop growing after warm-up. */
typedef struct FpModelStats {
    uint64_t runs;           /* fp_model_run / fp_model_run_into calls that succeeded */
    uint64_t session_runs;   /* ONNX Runtime Run calls (one per slot for a fixed-batch-1 model) */
    uint64_t values_created; /* OrtValue descriptors created (cache misses) */
} FpModelStats;

/* Copies the counters. Not synchronized with a run in progress on another thread. */
void fp_model_get_stats(const FpModel *model, FpModelStats *out);

/* The ONNX Runtime version string ("1.29.0"), loading the library if needed; NULL + fp_error if it cannot be loaded. */
const char *fp_model_ort_version(const char *ort_library);

#ifdef __cplusplus
}
#endif
#endif
