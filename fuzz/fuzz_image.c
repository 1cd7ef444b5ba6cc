// SPDX-License-Identifier: MIT
// libFuzzer target: the image source (JPEG/PNG/BMP... through libavformat's image2 and libavcodec) on arbitrary files.
//
// The first input byte picks the file name's extension (the demuxer is chosen by it and by the
// content); the rest is the file. WebP is left out: Debian's FFmpeg 5.1 webp decoder aborts on
// some damaged files (an av_assert0 in libavcodec/decode.c; the ffmpeg command dies the same
// way), which would stop every run at once (fuzz/known-crashes/README.md). The source either yields frames within the 40-megapixel cap or
// fails with a message naming the file; it never crashes or hangs.
#include "framepipe/error.h"
#include "framepipe/frame.h"
#include "framepipe/source.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    static const char *const ext[] = {"jpg", "png", "bmp", "ppm", "tif"};
    static char dir[64];
    if (size < 1)
        return 0;
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/fp-fuzz-image-%d", (int)getpid());
        fp_libav_init();
    }
    char path[96];
    snprintf(path, sizeof(path), "%s.%s", dir, ext[data[0] % 5]);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    if (size > 1)
        fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = path;
    cfg.kind = FP_SOURCE_IMAGES;
    FpSource *src = NULL;
    if (fp_source_open(&src, &cfg, NULL) == 0) {
        if (fp_source_start(src) == 0) {
            FpFrame *fr = NULL;
            while (fp_source_next(src, &fr, -1) == 0) {
                if ((int64_t)fr->width * fr->height > 40000000)
                    __builtin_trap();
                fp_frame_unref(&fr);
            }
        }
        fp_source_close(&src);
    }
    unlink(path);
    return 0;
}
