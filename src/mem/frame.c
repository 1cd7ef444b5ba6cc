// SPDX-License-Identifier: MIT
// FpFrame helpers: pixel format names.
#include "framepipe/frame.h"

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
