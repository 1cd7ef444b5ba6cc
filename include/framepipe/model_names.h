// SPDX-License-Identifier: MIT
// Named default models ("face", "face-front"): a word accepted wherever a model path is, resolved to an installed file.
#ifndef FRAMEPIPE_MODEL_NAMES_H
#define FRAMEPIPE_MODEL_NAMES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct FpModelName {
    const char *name;    /* "face" */
    const char *file;    /* the file name looked for, "face_detection_back_256x256_barracuda.onnx" */
    const char *summary; /* one line for `framepipe models` */
} FpModelName;

/* The table of names (static, never NULL); *count gets its length. Any thread. */
const FpModelName *fp_model_names(int *count);

/*
 * Where the named model's file is: the first of $FP_MODEL_DIR/FILE,
 * $FP_CACHE_DIR/models/blazeface/FILE, ~/.cache/framepipe/models/blazeface/FILE
 * and the installed DATADIR/framepipe/models/FILE that exists. Writes that
 * path into buf and returns 1, or writes the first candidate and returns 0
 * when none exists. Any thread.
 */
int fp_model_name_locate(const FpModelName *m, char *buf, size_t len);

/*
 * Resolves a model argument: an existing file, or anything that is not a
 * name of the table, is left as it is (returns 0, buf untouched); a name
 * writes its installed path into buf and returns 1; a name whose file is
 * nowhere returns FP_ENOT_FOUND with a message naming the places searched
 * and how to install it (scripts/setup.sh). Any thread.
 */
int fp_model_resolve(const char *arg, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
