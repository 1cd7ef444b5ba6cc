// SPDX-License-Identifier: MIT
// FP_ATOMIC(T): atomic members of public structs, spelled so that both C11 and C++ parse the header.
#ifndef FRAMEPIPE_ATOMIC_H
#define FRAMEPIPE_ATOMIC_H

/*
 * A few public value types embed atomics (FpFrame's reference count,
 * FpCounter, FpHistogram): they are embedded by value in the caller's own
 * structs, so they cannot be opaque without an allocation per counter.
 * C++ has no `_Atomic` before C++23, and std::atomic<T> cannot be named
 * inside an extern "C" block, so the member is declared with FP_ATOMIC(T):
 *
 *   C:   _Atomic T        framepipe's C code operates on it with <stdatomic.h>
 *   C++: alignas(T) T     the same size and alignment, so one layout in both
 *                         languages (GCC and Clang give lock-free _Atomic
 *                         types of size 1, 2, 4 and 8 bytes an alignment equal
 *                         to their size; src/core/metrics.c and src/mem/frame.c
 *                         check it at compile time, tests/api compares the
 *                         layouts the two compilers see)
 *
 * Contract: code other than framepipe's own C sources never reads or writes
 * an FP_ATOMIC member, in either language; it calls the accessor functions
 * (fp_counter_add, fp_histogram_record, fp_frame_ref, ...). The accessors are
 * out-of-line functions for this reason: a plain load or store from C++
 * would be a data race.
 */
#ifdef __cplusplus
#define FP_ATOMIC(T) alignas(sizeof(T)) T
#else
#define FP_ATOMIC(T) _Atomic T
#endif

#endif
