// SPDX-License-Identifier: MIT
// FpReplyBoard: hands the pipeline's result for one submitted frame back to the thread waiting for it (HTTP requests).
#ifndef FRAMEPIPE_REPLY_H
#define FRAMEPIPE_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "framepipe/detect.h"
#include "framepipe/frame.h"
#include "framepipe/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A fixed table of `slots` waiting requests, all memory allocated at
 * create (max_det detections per slot). A request thread claims a slot
 * with its frame's data[0] as the key, submits the frame (push.h), then
 * waits; fp_reply_board_sink, registered as a pipeline sink, runs on the
 * worker for every frame, finds the slot whose key is the frame's data[0]
 * (a pushed frame keeps its planes) and copies the result into it. A
 * request that gives up (timeout) releases its slot; a result that comes
 * later finds no slot and is dropped. Thread-safe (one mutex, one
 * condition variable); nothing is allocated after create.
 */
typedef struct FpReplyBoard FpReplyBoard;

/* The result copied into a slot: `result` points into the slot (valid until fp_reply_board_release). */
typedef struct FpReply {
    FpFrameResult result; /* .frame is a copy of the pipeline's frame fields (camera, seq, clocks, size) */
    FpDetection *dets;    /* = result.dets, writable: the waiter may filter in place */
} FpReply;

/* 0, FP_EINVALID (slots 1..4096, max_det 1..100000) or -ENOMEM; *out untouched on failure. */
int fp_reply_board_create(FpReplyBoard **out, int slots, int max_det);

/* Claims a free slot for key (the frame's data[0]): its index, or FP_EWOULD_BLOCK when every slot is taken. */
int fp_reply_board_claim(FpReplyBoard *b, const void *key);

/* Waits up to timeout_ns for slot's result: 0 with *out set, FP_ETIMEOUT, or FP_EFLUSHING after close. The claiming
 * thread only. */
int fp_reply_board_wait(FpReplyBoard *b, int slot, int64_t timeout_ns, FpReply *out);

/* From now on waits return FP_EFLUSHING at once (the pipeline stopped: no result will come). Any thread. */
void fp_reply_board_close(FpReplyBoard *b);

/* Frees the slot (after wait, or to give up). The claiming thread only. */
void fp_reply_board_release(FpReplyBoard *b, int slot);

/* Slots taken now. Any thread. */
int fp_reply_board_busy(FpReplyBoard *b);

/* FpSinkFn: copies r into the slot waiting for r->frame->data[0], if any. Worker threads. Returns 0. */
int fp_reply_board_sink(void *board, const FpFrameResult *r);

/*
 * The docs/jsonl.md JSON object of r (no newline) into buf; 0 with *len,
 * or FP_ETOO_LARGE when it does not fit. No allocation. Any thread.
 */
int fp_frame_result_json(const FpFrameResult *r, char *buf, size_t cap, size_t *len);

void fp_reply_board_destroy(FpReplyBoard **b);

#ifdef __cplusplus
}
#endif
#endif
