// SPDX-License-Identifier: MIT
// Private to src/dist: a frame message's picture (JPEG or raw RGB, already the model's input size) decoded straight into its slot of the batch tensor.
#ifndef FRAMEPIPE_DIST_SLOT_H
#define FRAMEPIPE_DIST_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include "framepipe/prep.h"

/*
 * A decoder for pictures of exactly o->dst_width x o->dst_height into slots
 * laid out as `o` says (dtype FLOAT32, FLOAT16 or UINT8; NCHW or NHWC;
 * channel order; FP_NORM_SCALE or FP_NORM_MEAN_STD). The values are those
 * fp_letterbox_run writes for an RGB24 picture of the input's size (no
 * resampling: v = fma(pixel, a[c], b[c]), uint8 rint(clamp(v, 0, 255)),
 * float16 round to nearest even), so a slot is bit-identical to the
 * decode-then-letterbox path. The decoder computes these once for every
 * byte value (three 256-entry tables); a row is then one lookup per value.
 * Slots are aligned to their element size.
 *
 * JPEG: libjpeg-turbo's libjpeg API (the fast integer IDCT and fancy
 * upsampling, what tjDecompress2 with TJFLAG_FASTDCT does) reads scanlines
 * straight into the slot when the slot is uint8 NHWC RGB, else into a
 * one-row scratch (allocated once) converted row by row into the slot's
 * planes; no whole-picture intermediate. Raw: the message's bytes are
 * already the whole picture: the prep kernel (fp_letterbox_run, SIMD)
 * converts them straight from the reply into the slot. The decoder allocates nothing per picture itself; libjpeg's
 * per-image memory pools are the library's (as tjDecompress2's were).
 * One thread at a time per decoder.
 */
typedef struct FpSlotDecoder FpSlotDecoder;

/* 0, FP_EINVALID (size, dtype, layout, norm) or -ENOMEM. */
int fp__slot_decoder_create(FpSlotDecoder **out, const FpPrepOptions *o);
void fp__slot_decoder_destroy(FpSlotDecoder **d);

/* Decodes a JPEG into slot (fp_prep_slot_bytes(o) bytes). 0, or FP_ECORRUPT naming what is wrong (not a JPEG,
 * wrong size, libjpeg's message); a corrupt-data warning is not an error (as with tjDecompress2). */
int fp__slot_decode_jpeg(FpSlotDecoder *d, const uint8_t *jpeg, size_t len, void *slot);

/* Converts a raw RGB picture (dst_width * dst_height * 3 bytes, row-major) into slot. 0, FP_ECORRUPT (wrong size). */
int fp__slot_convert_raw(FpSlotDecoder *d, const uint8_t *rgb, size_t len, void *slot);

#endif
