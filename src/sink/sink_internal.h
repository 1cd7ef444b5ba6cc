// SPDX-License-Identifier: MIT
// Private to src/sink: the built-in 5x7 bitmap font used for labels.
#ifndef FRAMEPIPE_SINK_INTERNAL_H
#define FRAMEPIPE_SINK_INTERNAL_H

#include <stdint.h>

#define FP__FONT_FIRST 32 /* ' ' */
#define FP__FONT_LAST 126 /* '~' */
#define FP__FONT_W 5
#define FP__FONT_H 7

/*
 * Glyphs of ASCII 32..126, column by column, left to right: bit r of
 * column c set = pixel (c, r) lit, r = 0 the top row.
 */
extern const uint8_t fp__font5x7[FP__FONT_LAST - FP__FONT_FIRST + 1][FP__FONT_W];

#endif
