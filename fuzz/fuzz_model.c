// SPDX-License-Identifier: MIT
// libFuzzer target: ONNX model metadata handling (src/infer/model.c, family.c, labels.c) on mutated but loadable
// models. The input bytes describe a small ONNX graph (inputs, outputs, their names, element types and declared
// dims, metadata_props) that this file encodes as ONNX protobuf and hands to fp_model_create through a memfd;
// fp_model_create either opens it and what it reports is consistent (input geometry positive, every output's
// size bounded and equal to its dims' product, a known family's outputs and counts in range, class names
// readable), or fails with FP_EMODEL / FP_ECONFIG and a message naming the model. Never a crash, UB, leak or
// huge allocation. `FUZZ_DUMP=FILE` writes the model built from the (last) input to FILE;
// `FUZZ_WHY=1` prints what happened to each input.
//
// Input format (docs/fuzzing.md; bytes past the end read as 0, so every input builds a model):
//   u8 cfg             bits 0-2: max_batch - 1; bit 3: then u16 height, u16 width (the configured input size);
//                      bit 4: run the model once on zeros after it loads (when its input is at most 8 MiB)
//   u8 n_inputs % 4,   each a TENSOR;   u8 n_outputs % 9, each a TENSOR then u8 oflags
//   u8 n_meta % 8,     each a key (u8 k: k < 8 one of KEYS below, else a STR of length k - 8) and a value STR
//   TENSOR: STR name, u8 ONNX element type, u8 rank (255: no shape at all; else % 10), rank DIMs
//   DIM (u8 c): < 0xE0 the value c; 0xE0-0xEF a notable value (0, -1, 2^31, 2^62, INT64_MIN...); 0xF0-0xF7 the
//               symbol "d0".."d7"; 0xF8 neither value nor symbol; 0xF9 u16; 0xFA u32; 0xFB i64 (LE); else 1
//   STR: u8 length, then that many bytes
//   oflags: bit 0: the output's batch axis is input 0's (Shape -> Concat), else constant; bit 1: the dims the
//           graph computes follow as rank DIMs (else the declared ones, 1 where not a small positive value)
// Every output is ConstantOfShape(shape) of its element type: the graph loads whatever its declared shapes say,
// and what it computes is at most 2^20 elements per output (so ONNX Runtime itself never allocates much).
#include "framepipe/error.h"
#include "framepipe/family.h"
#include "framepipe/model.h"
#include "fuzz_common.h"
#include "infer_internal.h" /* src/infer: the shared ORT environment, held for the whole run */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the input reader ---- */

typedef struct Rd {
    const uint8_t *p;
    size_t n, at;
} Rd;

static unsigned rd_u8(Rd *r)
{
    return r->at < r->n ? r->p[r->at++] : 0;
}

static uint64_t rd_le(Rd *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)rd_u8(r) << (8 * i);
    return v;
}

/* A string of the input: points into it, or "" past the end. */
static const uint8_t *rd_str(Rd *r, size_t *len)
{
    size_t want = rd_u8(r);
    size_t left = r->n - r->at;
    *len = want < left ? want : left;
    const uint8_t *s = r->p + r->at;
    r->at += *len;
    return s;
}

/* ---- a protobuf writer (just what ModelProto needs) ---- */

typedef struct Buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} Buf;

static void put_raw(Buf *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2 + 64;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_varint(Buf *b, uint64_t v)
{
    uint8_t t[10];
    int n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put_raw(b, t, (size_t)n);
}

static void put_int(Buf *b, int field, int64_t v)
{
    put_varint(b, (uint64_t)field << 3);
    put_varint(b, (uint64_t)v);
}

static void put_bytes(Buf *b, int field, const void *d, size_t n)
{
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, n);
    put_raw(b, d, n);
}

static void put_str(Buf *b, int field, const char *s)
{
    put_bytes(b, field, s, strlen(s));
}

/* Appends `child` as a length-delimited field and frees it. */
static void put_msg(Buf *b, int field, Buf *child)
{
    b->oom = b->oom || child->oom;
    put_bytes(b, field, child->p, child->n);
    free(child->p);
    memset(child, 0, sizeof(*child));
}

/* ---- the model description ---- */

#define MAX_T 8
#define MAX_R 10

enum { DIM_VALUE, DIM_PARAM, DIM_NONE };

typedef struct Dim {
    int kind;
    int64_t value; /* DIM_VALUE */
    int param;     /* DIM_PARAM: "d<param>" */
} Dim;

typedef struct Tensor {
    char name[256];
    int elem;
    int rank; /* -1: no shape */
    Dim dims[MAX_R];
    int oflags;
    int64_t actual[MAX_R]; /* outputs: the shape the graph computes */
} Tensor;

typedef struct Spec {
    int max_batch, height, width;
    bool run;
    int n_in, n_out, n_meta;
    Tensor in[MAX_T], out[MAX_T];
    char meta_key[8][256], meta_val[8][256];
} Spec;

static const int64_t notable[16] = {
    0, -1, -2, 2, 3, 4, 640, 8400, 16384, 65536, INT32_MAX, (int64_t)1 << 31, (int64_t)1 << 32, (int64_t)1 << 62,
    INT64_MAX, INT64_MIN,
};

static const char *const keys[8] = {"names", "classes", "labels", "reg_max", "head", "stride", "imgsz", "task"};

static void rd_cstr(Rd *r, char out[256])
{
    size_t n;
    const uint8_t *s = rd_str(r, &n);
    memcpy(out, s, n); /* NUL bytes inside end the name early, as a C string would */
    out[n] = '\0';
}

static Dim rd_dim(Rd *r)
{
    unsigned c = rd_u8(r);
    Dim d = {DIM_VALUE, 1, 0};
    if (c < 0xE0)
        d.value = c;
    else if (c < 0xF0)
        d.value = notable[c - 0xE0];
    else if (c < 0xF8)
        d.kind = DIM_PARAM, d.param = (int)(c - 0xF0);
    else if (c == 0xF8)
        d.kind = DIM_NONE;
    else if (c == 0xF9)
        d.value = (int64_t)rd_le(r, 2);
    else if (c == 0xFA)
        d.value = (int64_t)rd_le(r, 4);
    else if (c == 0xFB)
        d.value = (int64_t)rd_le(r, 8);
    return d;
}

static void rd_tensor(Rd *r, Tensor *t, bool output)
{
    rd_cstr(r, t->name);
    t->elem = (int)rd_u8(r);
    unsigned rank = rd_u8(r);
    t->rank = rank == 255 ? -1 : (int)(rank % MAX_R);
    for (int i = 0; i < t->rank; i++)
        t->dims[i] = rd_dim(r);
    if (!output)
        return;
    t->oflags = (int)rd_u8(r);
    int rank_c = t->rank < 0 ? 3 : t->rank; /* no declared shape: the graph still computes one */
    for (int i = 0; i < rank_c; i++) {
        int64_t v = 1;
        if (t->oflags & 2) {
            Dim d = rd_dim(r);
            v = d.kind == DIM_VALUE ? d.value : 1;
        } else if (t->rank >= 0 && t->dims[i].kind == DIM_VALUE) {
            v = t->dims[i].value;
        }
        t->actual[i] = v >= 0 && v <= 4096 ? v : 1;
    }
    /* at most 2^20 elements computed per output */
    uint64_t total = 1;
    for (int i = 0; i < rank_c; i++) {
        if (total * (uint64_t)(t->actual[i] ? t->actual[i] : 1) > (1u << 20))
            t->actual[i] = 1;
        total *= (uint64_t)(t->actual[i] ? t->actual[i] : 1);
    }
}

static void parse_spec(const uint8_t *data, size_t size, Spec *s)
{
    Rd r = {data, size, 0};
    memset(s, 0, sizeof(*s));
    unsigned cfg = rd_u8(&r);
    s->max_batch = 1 + (int)(cfg & 7);
    if (cfg & 8) {
        s->height = (int)rd_le(&r, 2);
        s->width = (int)rd_le(&r, 2);
    }
    s->run = cfg & 16;
    s->n_in = (int)(rd_u8(&r) % 4);
    for (int i = 0; i < s->n_in; i++)
        rd_tensor(&r, &s->in[i], false);
    s->n_out = (int)(rd_u8(&r) % 9);
    for (int i = 0; i < s->n_out; i++)
        rd_tensor(&r, &s->out[i], true);
    s->n_meta = (int)(rd_u8(&r) % 8);
    for (int i = 0; i < s->n_meta; i++) {
        unsigned k = rd_u8(&r);
        if (k < 8) {
            snprintf(s->meta_key[i], sizeof(s->meta_key[i]), "%s", keys[k]);
        } else {
            size_t n = (k - 8) < r.n - r.at ? k - 8 : r.n - r.at;
            memcpy(s->meta_key[i], r.p + r.at, n);
            s->meta_key[i][n] = '\0';
            r.at += n;
        }
        rd_cstr(&r, s->meta_val[i]);
    }
}

/* ---- ONNX encoding ---- */

static size_t elem_size(int elem)
{
    switch (elem) {
    case 2: case 3: case 9: return 1;           /* uint8, int8, bool */
    case 4: case 5: case 10: case 16: return 2; /* uint16, int16, float16, bfloat16 */
    case 7: case 11: case 13: case 14: return 8; /* int64, double, uint64, complex64 */
    case 15: return 16;                          /* complex128 */
    default: return 4;                           /* float, int32, uint32; others are refused by ORT anyway */
    }
}

static void put_value_info(Buf *g, int field, const Tensor *t)
{
    Buf vi = {0}, type = {0}, tt = {0}, shape = {0};
    put_int(&tt, 1, t->elem);
    if (t->rank >= 0) {
        for (int i = 0; i < t->rank; i++) {
            Buf dim = {0};
            char p[8];
            if (t->dims[i].kind == DIM_VALUE) {
                put_int(&dim, 1, t->dims[i].value);
            } else if (t->dims[i].kind == DIM_PARAM) {
                snprintf(p, sizeof(p), "d%d", t->dims[i].param);
                put_str(&dim, 2, p);
            }
            put_msg(&shape, 1, &dim);
        }
        put_msg(&tt, 2, &shape);
    }
    put_msg(&type, 1, &tt);
    put_str(&vi, 1, t->name);
    put_msg(&vi, 2, &type);
    put_msg(g, field, &vi);
}

/* An int64 initializer of n values. */
static void put_i64_init(Buf *g, const char *name, const int64_t *v, int n)
{
    Buf t = {0};
    put_int(&t, 1, n); /* dims: [n] */
    put_int(&t, 2, 7); /* INT64 */
    put_str(&t, 8, name);
    uint8_t raw[MAX_R * 8];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 8; k++)
            raw[i * 8 + k] = (uint8_t)((uint64_t)v[i] >> (8 * k));
    }
    put_bytes(&t, 9, raw, (size_t)n * 8);
    put_msg(g, 5, &t);
}

static void put_int_attr(Buf *node, const char *name, int64_t v)
{
    Buf a = {0};
    put_str(&a, 1, name);
    put_int(&a, 3, v);
    put_int(&a, 20, 2); /* INT */
    put_msg(node, 5, &a);
}

static void put_node(Buf *g, const char *op, const char *const *in, int n_in, const char *out, Buf *attrs)
{
    Buf node = {0};
    for (int i = 0; i < n_in; i++)
        put_str(&node, 1, in[i]);
    put_str(&node, 2, out);
    put_str(&node, 4, op);
    if (attrs) {
        put_raw(&node, attrs->p, attrs->n);
        node.oom = node.oom || attrs->oom;
        free(attrs->p);
        memset(attrs, 0, sizeof(*attrs));
    }
    put_msg(g, 1, &node);
}

static void encode(const Spec *s, Buf *model)
{
    Buf g = {0};
    bool have_batch = s->n_in > 0 && s->in[0].rank != 0;
    bool batch_used = false;
    for (int o = 0; o < s->n_out; o++) {
        int rank = s->out[o].rank < 0 ? 3 : s->out[o].rank;
        batch_used = batch_used || ((s->out[o].oflags & 1) && have_batch && rank > 0);
    }
    if (batch_used) { /* first: the nodes are in topological order */
        Buf attrs = {0};
        put_int_attr(&attrs, "start", 0);
        put_int_attr(&attrs, "end", 1);
        const char *sin[1] = {s->in[0].name};
        put_node(&g, "Shape", sin, 1, "_fz_batch", &attrs);
    }
    for (int o = 0; o < s->n_out; o++) {
        const Tensor *t = &s->out[o];
        int rank = t->rank < 0 ? 3 : t->rank;
        char sname[32], rname[32];
        snprintf(sname, sizeof(sname), "_fz_shape%d", o);
        if ((t->oflags & 1) && have_batch && rank > 0) {
            snprintf(rname, sizeof(rname), "_fz_rest%d", o);
            put_i64_init(&g, rname, t->actual + 1, rank - 1);
            const char *cin[2] = {"_fz_batch", rname};
            Buf attrs = {0};
            put_int_attr(&attrs, "axis", 0);
            put_node(&g, "Concat", cin, rank > 1 ? 2 : 1, sname, &attrs);
        } else {
            put_i64_init(&g, sname, t->actual, rank);
        }
        /* ConstantOfShape's value: one zero of the output's element type */
        Buf attrs = {0}, a = {0}, v = {0};
        uint8_t zero[16] = {0};
        put_int(&v, 1, 1);
        put_int(&v, 2, t->elem);
        put_bytes(&v, 9, zero, elem_size(t->elem));
        put_str(&a, 1, "value");
        put_msg(&a, 5, &v);
        put_int(&a, 20, 4); /* TENSOR */
        put_msg(&attrs, 5, &a);
        const char *cin[1] = {sname};
        put_node(&g, "ConstantOfShape", cin, 1, t->name, &attrs);
    }
    put_str(&g, 2, "fuzz");
    for (int i = 0; i < s->n_in; i++)
        put_value_info(&g, 11, &s->in[i]);
    for (int i = 0; i < s->n_out; i++)
        put_value_info(&g, 12, &s->out[i]);

    put_int(model, 1, 8); /* ir_version */
    put_str(model, 2, "fuzz_model");
    put_msg(model, 7, &g);
    Buf op = {0};
    put_int(&op, 2, 17);
    put_msg(model, 8, &op);
    for (int i = 0; i < s->n_meta; i++) {
        Buf kv = {0};
        put_str(&kv, 1, s->meta_key[i]);
        put_str(&kv, 2, s->meta_val[i]);
        put_msg(model, 14, &kv);
    }
}

/* ---- the checks ---- */

#define CHECK(cond)                                                                                                  \
    do {                                                                                                             \
        if (!(cond)) {                                                                                               \
            fprintf(stderr, "fuzz_model: check failed: %s (line %d)\n", #cond, __LINE__);                         \
            __builtin_trap();                                                                                        \
        }                                                                                                            \
    } while (0)

static void check_tensor(const FpTensorInfo *t, bool input)
{
    CHECK(t && t->name);
    CHECK(t->rank >= 0 && t->rank <= FP_MODEL_MAX_DIMS);
    CHECK(fp_dtype_size(t->dtype) > 0);
    size_t elems = 1;
    bool dynamic = false;
    for (int d = 1; d < t->rank; d++) {
        CHECK(t->dims[d] != 0 || !input); /* an input axis of 0 is refused */
        if (t->dims[d] < 0)
            dynamic = true;
        else
            CHECK(!__builtin_mul_overflow(elems, (size_t)t->dims[d], &elems));
    }
    if (!dynamic && t->rank > 0) {
        CHECK(t->item_elems == elems);
        CHECK(t->item_bytes == elems * fp_dtype_size(t->dtype));
    }
    CHECK(t->batch_dynamic == (t->rank > 0 && t->dims[0] < 0));
}

static void check_model(FpModel *m, const Spec *s)
{
    CHECK(fp_model_input_count(m) == 1);
    const FpModelInput *in = fp_model_input(m);
    CHECK(in->layout == FP_LAYOUT_NCHW || in->layout == FP_LAYOUT_NHWC);
    CHECK(in->channels >= 1 && in->channels <= 4);
    CHECK(in->height > 0 && in->width > 0);
    CHECK(s->height <= 0 || in->height == s->height);
    CHECK(s->width <= 0 || in->width == s->width);
    const FpTensorInfo *ti = fp_model_input_info(m, 0);
    check_tensor(ti, true);
    CHECK(ti->item_bytes > 0);
    CHECK(ti->item_bytes == (size_t)in->channels * (size_t)in->height * (size_t)in->width * fp_dtype_size(in->dtype));
    CHECK(fp_model_input_info(m, 1) == NULL && fp_model_input_info(m, -1) == NULL);
    int mb = fp_model_max_batch(m);
    CHECK(mb >= 1 && mb <= 4096);
    int n = fp_model_output_count(m);
    CHECK(n >= 1 && n <= 64);
    for (int i = 0; i < n; i++) {
        const FpTensorInfo *t = fp_model_output_info(m, i);
        check_tensor(t, false);
        CHECK(t->rank >= 1);
        for (int d = 1; d < t->rank; d++)
            CHECK(t->dims[d] >= 0); /* resolved by the warm-up run */
        CHECK(t->item_bytes <= (256u << 20));
        CHECK(fp_model_output_data(m, i) != NULL);
    }
    CHECK(fp_model_output_info(m, n) == NULL);
    FpFamilyInfo fi;
    FpFamily fam = fp_model_family(m, &fi);
    CHECK(fam == fi.family);
    if (fam != FP_FAMILY_UNKNOWN) {
        CHECK(fi.num_classes >= 1 && fi.num_anchors >= 1);
        CHECK(fi.n_outputs >= 1 && fi.n_outputs <= 4);
        for (int k = 0; k < fi.n_outputs; k++)
            CHECK(fi.outputs[k] >= 0 && fi.outputs[k] < n);
        CHECK(fam != FP_FAMILY_YOLOV8_RAW || (fi.reg_max >= 1 && fi.reg_max <= 64));
        CHECK(fp_model_require_family(m, NULL) == 0);
    } else {
        int rc = fp_model_require_family(m, NULL);
        CHECK(rc == FP_EMODEL && strstr(fp_error_detail(rc), fp_model_path(m)));
    }
    int nc = fp_model_class_count(m);
    CHECK(nc >= 0);
    for (int i = 0; i < nc; i++)
        CHECK(fp_model_class_name(m, i) != NULL);
    CHECK(fp_model_class_name(m, nc) == NULL && fp_model_class_name(m, -1) == NULL);
    for (int i = 0; i < s->n_meta; i++)
        (void)fp_model_meta(m, s->meta_key[i]);
    if (s->run && (size_t)mb * ti->item_bytes <= (8u << 20)) {
        void *zeros = calloc((size_t)mb, ti->item_bytes);
        if (zeros) {
            int rc = fp_model_run(m, zeros, mb);
            if (getenv("FUZZ_WHY"))
                fprintf(stderr, "fuzz_model: run: %d %s\n", rc, rc ? fp_error_detail(rc) : "ok");
            CHECK(rc == 0 || rc == FP_EMODEL);
            if (rc == 0 && mb > 1 && in->fixed_batch == 0) /* a fixed batch runs whole (FP_ERANGE else) */
                rc = fp_model_run(m, zeros, 1);
            if (getenv("FUZZ_WHY"))
                fprintf(stderr, "fuzz_model: run 1: %d %s\n", rc, rc ? fp_error_detail(rc) : "ok");
            CHECK(rc == 0 || rc == FP_EMODEL);
            free(zeros);
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Before libFuzzer starts (an exit here is not a crash): one reference on ORT's environment is held, so it is not
 * made again for every input; without ONNX Runtime the target is skipped (exit 77). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_quiet();
#if FP_HAVE_ORT
    static OrtEnv *env;
    const OrtApi *api = fp__ort_api(NULL);
    if (!api || fp__ort_env_acquire(api, &env) < 0) {
        fprintf(stderr, "fuzz_model: %s; skipping\n", fp_error_detail(FP_EDEPENDENCY));
        exit(77); /* meson's "skipped" */
    }
#else
    fprintf(stderr, "fuzz_model: framepipe was built without ONNX Runtime's headers; skipping\n");
    exit(77);
#endif
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    static Spec spec; /* ~20 KiB */
    parse_spec(data, size, &spec);
    Buf model = {0};
    encode(&spec, &model);
    if (model.oom) {
        free(model.p);
        return 0;
    }
    const char *dump = getenv("FUZZ_DUMP");
    if (dump) {
        FILE *f = fopen(dump, "wb");
        if (f) {
            fwrite(model.p, 1, model.n, f);
            fclose(f);
        }
    }
    int fd = memfd_create("fuzz_model.onnx", MFD_CLOEXEC);
    if (fd < 0) {
        perror("fuzz_model: memfd_create");
        abort();
    }
    if (write(fd, model.p, model.n) != (ssize_t)model.n) {
        perror("fuzz_model: write");
        abort();
    }
    free(model.p);
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    FpModelConfig cfg;
    fp_model_config_init(&cfg);
    cfg.intra_threads = 1;
    cfg.inter_threads = 1;
    cfg.max_batch = spec.max_batch;
    cfg.input_height = spec.height;
    cfg.input_width = spec.width;
    FpModel *m = NULL;
    int rc = fp_model_create(&m, path, &cfg);
    if (getenv("FUZZ_WHY"))
        fprintf(stderr, "fuzz_model: %d inputs, %d outputs: %s\n", spec.n_in, spec.n_out,
                rc == 0 ? "loaded" : fp_error_detail(rc));
    if (rc == 0) {
        check_model(m, &spec);
        if (getenv("FUZZ_WHY"))
            fprintf(stderr, "fuzz_model: family %s\n", fp_family_name(fp_model_family(m, NULL)));
        for (int i = 0; getenv("FUZZ_WHY") && i < fp_model_output_count(m); i++) {
            const FpTensorInfo *t = fp_model_output_info(m, i);
            fprintf(stderr, "fuzz_model: output %d rank %d: %lld %lld %lld %lld, %zu bytes\n", i, t->rank,
                    (long long)t->dims[0], (long long)t->dims[1], (long long)t->dims[2], (long long)t->dims[3],
                    t->item_bytes);
        }
        fp_model_destroy(&m);
        CHECK(m == NULL);
    } else {
        /* a clear error: the model's code, and a message naming the model */
        CHECK(rc == FP_EMODEL || rc == FP_ECONFIG);
        CHECK(strstr(fp_error_detail(rc), path) != NULL);
        CHECK(m == NULL);
    }
    close(fd);
    return 0;
}
