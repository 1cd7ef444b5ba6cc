// SPDX-License-Identifier: MIT
// Private to src/imgops: the built-in 5x7 bitmap font of the drawing operations (draw.c).
#ifndef FRAMEPIPE_IMGOPS_INTERNAL_H
#define FRAMEPIPE_IMGOPS_INTERNAL_H

#include <stdint.h>

#include "framepipe/imgops.h"

/*
 * Glyphs of ASCII 32..126, column by column, left to right: bit r of
 * column c set = pixel (c, r) lit, r = 0 the top row.
 */
extern const uint8_t fp__font5x7[FP_IMGOPS_FONT_LAST - FP_IMGOPS_FONT_FIRST + 1][FP_IMGOPS_FONT_W];

#endif
