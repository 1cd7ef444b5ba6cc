// SPDX-License-Identifier: MIT
// Error codes of framepipe: 0 is success, -errno for system errors, and a separate negative range for framepipe's own codes.
#ifndef FRAMEPIPE_ERROR_H
#define FRAMEPIPE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every public function returns int: 0 (or a non-negative count) on success,
 * a negative code on failure. System errors are returned as -errno (for
 * example -ENOMEM, -ENOSPC, -EACCES). framepipe's own codes start at
 * FP_ERROR_BASE and are generated, with their names and messages, from the
 * one table below (libuv's UV_ERRNO_MAP idea).
 *
 * One contract holds for every public function unless its comment says
 * otherwise:
 *  - A call that fails leaves its outputs untouched: `*out` of a
 *    constructor (`fp_x_create(FpX **out, ...)`) and of a getter or parser
 *    is written only on success, and nothing it allocated stays allocated.
 *  - `fp_x_destroy(FpX **p)` (and unref/close) frees or drops what *p holds
 *    and sets *p to NULL; NULL or *p == NULL is a no-op.
 *  - Strings and structs passed in are borrowed for the call and copied when
 *    kept; pointers handed out stay owned by the object that returned them
 *    (valid until it is destroyed), unless the comment says the caller owns
 *    them.
 *  - Threads: a function that takes no object (names, parsers, *_init of a
 *    config, pure geometry) may be called from any thread; a read-only
 *    accessor of an object (fp_x_name, fp_x_count, ...) from any thread
 *    while the object lives; anything else says which threads may call it,
 *    and an object not said to be thread-safe is used by one thread at a
 *    time.
 */
#define FP_ERROR_BASE (-100000)

/* X(NAME, message) */
#define FP_ERROR_MAP(X)                                                        \
    X(WOULD_BLOCK, "resource temporarily exhausted; call again later")        \
    X(TIMEOUT, "timed out")                                                   \
    X(FLUSHING, "object is flushing or shutting down")                        \
    X(INVALID, "invalid argument")                                            \
    X(RANGE, "value out of range")                                            \
    X(BAD_MAGIC, "wrong magic number: not a framepipe object")                \
    X(BAD_VERSION, "unsupported layout version")                              \
    X(TRUNCATED, "data is truncated")                                         \
    X(TOO_LARGE, "data does not fit in the destination")                      \
    X(UNSUPPORTED, "unsupported format or operation")                         \
    X(CORRUPT, "corrupt or malformed data")                                   \
    X(END_OF_STREAM, "end of stream")                                         \
    X(OVERWRITTEN, "data was overwritten while being read")                   \
    X(GENERATION, "writer restarted: the generation changed")                 \
    X(NOT_FOUND, "not found")                                                 \
    X(EXISTS, "already exists")                                               \
    X(DEPENDENCY, "a required library or component is missing")              \
    X(MODEL, "model error")                                                   \
    X(CONFIG, "configuration error")                                          \
    X(IO, "input/output error")                                               \
    X(INTERNAL, "internal error")

typedef enum FpErrorCode {
    FP_OK = 0,
    FP__ERROR_FIRST = FP_ERROR_BASE,
#define FP__ERROR_ENUM(name, msg) FP_E##name,
    FP_ERROR_MAP(FP__ERROR_ENUM)
#undef FP__ERROR_ENUM
    FP__ERROR_LAST
} FpErrorCode;

/* Message for any code: framepipe's own, -errno, or 0. Never NULL; the string is static. Any thread. */
const char *fp_strerror(int code);

/* Symbolic name ("FP_ETIMEOUT", "ENOMEM", "OK") for any code. Never NULL; the string is static. Any thread. */
const char *fp_err_name(int code);

/*
 * Records a detailed message for the calling thread (naming the input: file,
 * camera, byte offset, node name) and returns `code`, so a failing function
 * can write `return fp_error(FP_ECORRUPT, "%s: bad header at byte %zu", ...)`.
 * The message is kept per thread until the next fp_error() call. Any thread;
 * cannot fail (a message too long is cut).
 */
int fp_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The calling thread's last detailed message, or fp_strerror() of `code` when
 * the last message recorded is for another code. Never NULL; valid until the
 * thread's next fp_error() call.
 */
const char *fp_error_detail(int code);

/* Clears the calling thread's detailed message. Any thread. */
void fp_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
