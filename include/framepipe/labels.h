// SPDX-License-Identifier: MIT
// FpLabels: class names of a model, from a labels file (one name per line) or Ultralytics' "names" metadata string.
#ifndef FRAMEPIPE_LABELS_H
#define FRAMEPIPE_LABELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* An immutable list of class names, index = class id. Safe to read from any thread once built. */
typedef struct FpLabels FpLabels;

/*
 * Reads a labels file: one class name per line (class 0 first), surrounding
 * blanks and a trailing '\r' trimmed, blank lines at the end ignored. On
 * success *out owns the names (fp_labels_destroy). Errors: -errno from open
 * or read (message names the file), FP_ECORRUPT (a blank line before the
 * last name, a NUL byte, or no names at all: message names file and line),
 * FP_ETOO_LARGE (over 1 MiB or 100000 names), -ENOMEM. *out untouched on failure.
 * Any thread.
 */
int fp_labels_load(FpLabels **out, const char *path);

/*
 * Parses class names from a model metadata string in Ultralytics' form, a
 * Python dict literal {0: 'person', 1: 'bicycle', ...} (keys 0..n-1 in any
 * order, single- or double-quoted names with backslash escapes: \\ \' \" \/
 * \n \r \t \xHH \uXXXX \UXXXXXXXX, written as UTF-8; no surrogate pairs), or a
 * Python or JSON list ['person', 'bicycle', ...]; any other text is read as one name per line,
 * exactly as fp_labels_load reads a file. `what` names the source in error messages (e.g.
 * "model.onnx metadata 'names'"). Errors: FP_ECORRUPT with the byte offset
 * and what was expected (bad syntax, a duplicate or missing key, an empty
 * set), FP_EINVALID (NULL), -ENOMEM. On success *out owns the names
 * (fp_labels_destroy); *out untouched on failure. Any thread.
 */
int fp_labels_parse(FpLabels **out, const char *text, const char *what);

/* Frees the labels; NULLs *labels. NULL or *NULL is a no-op. No other thread may use them. */
void fp_labels_destroy(FpLabels **labels);

/* Number of names (0 for NULL). Any thread. */
int fp_labels_count(const FpLabels *labels);

/* Name of class `id`, or NULL when id is out of range (or labels is NULL). Owned by labels. Any thread. */
const char *fp_labels_name(const FpLabels *labels, int id);

#ifdef __cplusplus
}
#endif
#endif
