// SPDX-License-Identifier: MIT
// FpFrame helpers: pixel format names and their parser.
#include "framepipe/frame.h"

#include "framepipe/error.h"

#include <string.h>

const char *fp_pixel_format_name(FpPixelFormat f)
{
    switch (f) {
    case FP_PIX_NONE:
        return "none";
    case FP_PIX_YUV420P:
        return "yuv420p";
    case FP_PIX_NV12:
        return "nv12";
    case FP_PIX_RGB24:
        return "rgb24";
    case FP_PIX_BGR24:
        return "bgr24";
    case FP_PIX_GRAY8:
        return "gray8";
    }
    return "unknown";
}

int fp_pixel_format_parse(const char *name, FpPixelFormat *out)
{
    for (FpPixelFormat f = FP_PIX_YUV420P; f <= FP_PIX_GRAY8; f++) {
        if (name && !strcmp(name, fp_pixel_format_name(f))) {
            *out = f;
            return 0;
        }
    }
    return fp_error(FP_EINVALID, "pixel format '%s' is not yuv420p, nv12, rgb24, bgr24 or gray8",
                    name ? name : "");
}
