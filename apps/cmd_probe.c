// SPDX-License-Identifier: MIT
// `framepipe probe URL`: opens a source (file, RTSP, HTTP/HLS, V4L2, images, raw, ring), decodes a few frames and reports what it sees.
#include "commands.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void probe_usage(FILE *out)
{
    fprintf(out,
            "usage: framepipe probe [options] URL\n"
            "  --frames N        frames to decode (default 25; 0: until the end)\n"
            "  --timeout S       give up after S seconds without a frame (default 10)\n"
            "  --hw auto|cuda|vaapi   hardware decoding (falls back to software)\n"
            "  --udp             RTSP over UDP (default TCP)\n"
            "  --raw WxH:FORMAT  raw frames (yuv420p, nv12, rgb24, bgr24, gray8) from URL (- = stdin)\n"
            "Prints one JSON object: decoder, size, format, frames, measured fps, pts, counters.\n");
}

int fp_cmd_probe(int argc, char **argv)
{
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    long want = 25;
    double timeout_s = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            probe_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--frames") && i + 1 < argc) {
            want = strtol(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--timeout") && i + 1 < argc) {
            timeout_s = strtod(argv[++i], NULL);
        } else if (!strcmp(a, "--udp")) {
            cfg.rtsp_transport = FP_RTSP_UDP;
        } else if (!strcmp(a, "--hw") && i + 1 < argc) {
            const char *h = argv[++i];
            cfg.hw = !strcmp(h, "cuda") ? FP_HW_CUDA : !strcmp(h, "vaapi") ? FP_HW_VAAPI : FP_HW_AUTO;
        } else if (!strcmp(a, "--raw") && i + 1 < argc) {
            char fmt[16] = {0};
            if (sscanf(argv[++i], "%dx%d:%15s", &cfg.raw_width, &cfg.raw_height, fmt) != 3 ||
                fp_pixel_format_parse(fmt, &cfg.raw_format) < 0) {
                fprintf(stderr, "framepipe probe: --raw wants WxH:FORMAT, e.g. 640x480:yuv420p\n");
                return 2;
            }
            cfg.kind = FP_SOURCE_RAW;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "framepipe probe: unknown option '%s'\n", a);
            probe_usage(stderr);
            return 2;
        } else {
            cfg.url = a;
        }
    }
    if (!cfg.url || want < 0 || timeout_s <= 0) {
        probe_usage(stderr);
        return 2;
    }
    cfg.policy = FP_POLICY_LOSSLESS;
    FpSource *src = NULL;
    int rc = fp_source_open(&src, &cfg, NULL);
    if (rc == 0)
        rc = fp_source_start(src);
    if (rc < 0) {
        fprintf(stderr, "framepipe probe: %s\n", fp_error_detail(rc));
        fp_source_close(&src);
        return 1;
    }
    long n = 0;
    int64_t t0 = fp_clock_ns(), t_first = 0, t_last = 0, pts_first = 0, pts_last = 0;
    while (want == 0 || n < want) {
        FpFrame *f = NULL;
        rc = fp_source_next(src, &f, (int64_t)(timeout_s * 1e9));
        if (rc < 0)
            break;
        t_last = fp_clock_ns();
        pts_last = f->pts_ns;
        if (n == 0)
            t_first = t_last, pts_first = f->pts_ns;
        n++;
        fp_frame_unref(&f);
    }
    FpSourceStatus st;
    fp_source_get_status(src, &st);
    double secs = n > 1 ? (t_last - t_first) / 1e9 : 0;
    printf("{\"url\":\"%s\",\"decoder\":\"%s\",\"hw\":%s,\"width\":%d,\"height\":%d,"
           "\"format\":\"%s\",\"frames\":%ld,\"first_frame_s\":%.3f,\"fps_measured\":%.2f,"
           "\"pts_first_s\":%.3f,\"pts_last_s\":%.3f,\"copies\":%llu,\"decode_errors\":%llu,"
           "\"reconnects\":%llu,\"state\":\"%s\"",
           cfg.url, st.decoder, st.hw_active ? "true" : "false", st.width, st.height,
           fp_pixel_format_name(st.format), n, n ? (t_first - t0) / 1e9 : 0.0,
           secs > 0 ? (n - 1) / secs : 0.0, pts_first / 1e9, pts_last / 1e9,
           (unsigned long long)st.copies, (unsigned long long)st.decode_errors,
           (unsigned long long)st.reconnects, fp_source_state_name(st.state));
    if (rc < 0 && rc != FP_EEND_OF_STREAM)
        printf(",\"error\":\"%s\"", fp_err_name(rc));
    printf("}\n");
    fp_source_close(&src);
    if (rc < 0 && rc != FP_EEND_OF_STREAM && n == 0) {
        fprintf(stderr, "framepipe probe: %s\n", st.last_error[0] ? st.last_error : fp_strerror(rc));
        return 1;
    }
    return 0;
}
