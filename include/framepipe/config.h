// SPDX-License-Identifier: MIT
// The YAML config file of `framepipe run`: loads and validates it into an FpPipelineConfig (schema: docs/config.md).
#ifndef FRAMEPIPE_CONFIG_H
#define FRAMEPIPE_CONFIG_H

#include <stddef.h>

#include "framepipe/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A loaded config: the FpPipelineConfig and every string it points to
 * (names, URLs, resolved paths). Immutable once loaded, so any number of
 * threads may read it; the caller may copy the FpPipelineConfig struct and
 * change fields of the copy, but the copy's strings stay owned by the
 * FpConfigFile and die with it.
 *
 * Every key is checked (unknown keys are rejected); every problem yields
 * FP_ECONFIG and a message "FILE:LINE:COL: where: what", for example
 * "cams.yaml:7:5: cameras[1].fps: expected a number > 0, got 'fast'",
 * read with fp_error_detail(FP_ECONFIG).
 */
typedef struct FpConfigFile FpConfigFile;

/*
 * Reads and validates the YAML file at `path`. Relative paths inside it
 * (model.path, model.labels, camera urls that are plain file paths,
 * output.jsonl, output.annotate) are made absolute against the directory of
 * the config file. Messages name `path` as given. Returns 0 and *out (the
 * caller owns it: fp_config_destroy), FP_ECONFIG (message as above),
 * -errno when the file cannot be read (message names the path: -ENOENT,
 * -EACCES, -EISDIR), -ENOMEM. On failure *out is untouched. Any thread.
 */
int fp_config_load(FpConfigFile **out, const char *path);

/*
 * Same as fp_config_load for `len` bytes of YAML at `text` (need not be
 * NUL-terminated; borrowed for the call only). `name` (may be NULL:
 * "<config>") stands for the file in messages. Relative paths are made
 * absolute against the current directory.
 */
int fp_config_parse(FpConfigFile **out, const char *text, size_t len, const char *name);

/* The loaded config; owned by `cf`, valid until fp_config_destroy. Never NULL for a loaded file. */
const FpPipelineConfig *fp_config_get(const FpConfigFile *cf);

/* The directory relative paths were resolved against (absolute); owned by `cf`. */
const char *fp_config_dir(const FpConfigFile *cf);

/* Frees the config and every string it owns; sets *cf to NULL. NULL or *cf == NULL is a no-op. */
void fp_config_destroy(FpConfigFile **cf);

#ifdef __cplusplus
}
#endif
#endif
