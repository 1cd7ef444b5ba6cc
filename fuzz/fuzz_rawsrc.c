// SPDX-License-Identifier: MIT
// libFuzzer target: the raw-frame source (FP_SOURCE_RAW) reading arbitrary bytes from a descriptor ("fd:N").
//
// The first 3 input bytes pick the geometry (width 1..64, height 1..64, one of the 5 formats); the
// rest is the stream. Every whole frame must come out with that geometry; a short tail is dropped.
#include "framepipe/error.h"
#include "framepipe/frame.h"
#include "framepipe/source.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    static const char *const formats[] = {"yuv420p", "nv12", "rgb24", "bgr24", "gray8"};
    if (size < 3)
        return 0;
    int fd = memfd_create("fp-fuzz-raw", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (size > 3 && write(fd, data + 3, size - 3) != (ssize_t)(size - 3)) {
        close(fd);
        return 0;
    }
    lseek(fd, 0, SEEK_SET);
    char url[32];
    snprintf(url, sizeof(url), "fd:%d", fd);
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = url;
    cfg.kind = FP_SOURCE_RAW;
    cfg.raw_width = 1 + data[0] % 64;
    cfg.raw_height = 1 + data[1] % 64;
    if (fp_pixel_format_parse(formats[data[2] % 5], &cfg.raw_format) != 0)
        abort();
    FpSource *src = NULL;
    if (fp_source_open(&src, &cfg, NULL) == 0) {
        if (fp_source_start(src) == 0) {
            FpFrame *f = NULL;
            while (fp_source_next(src, &f, -1) == 0) {
                if (f->width != cfg.raw_width || f->height != cfg.raw_height)
                    __builtin_trap();
                fp_frame_unref(&f);
            }
        }
        fp_source_close(&src);
    }
    close(fd);
    return 0;
}
