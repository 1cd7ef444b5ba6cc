// SPDX-License-Identifier: MIT
// `framepipe probe URL`: opens a source (file, RTSP, HTTP/HLS, V4L2, images, raw, ring), decodes a few frames and reports what it sees.
#include "app_options.h"
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

enum { OPT_FRAMES = 256, OPT_TIMEOUT, OPT_HW, OPT_UDP, OPT_RAW };

static const struct option probe_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"frames", required_argument, NULL, OPT_FRAMES},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"hw", required_argument, NULL, OPT_HW},
    {"udp", no_argument, NULL, OPT_UDP},
    {"raw", required_argument, NULL, OPT_RAW},
    {NULL, 0, NULL, 0},
};

/* One option into *cfg / *want / *timeout_s. 0 or FP_APP_OPT_ERROR (message printed). */
static int probe_option(FpAppOptions *o, int c, FpSourceConfig *cfg, long *want, double *timeout_s)
{
    switch (c) {
    case OPT_FRAMES: return fp_app_parse_long(o, 0, 1000000000, want);
    case OPT_TIMEOUT:
        if (fp_app_parse_double(o, 0.001, 86400, timeout_s) < 0)
            return FP_APP_OPT_ERROR;
        return 0;
    case OPT_UDP: cfg->rtsp_transport = FP_RTSP_UDP; return 0;
    case OPT_HW:
        if (!strcmp(optarg, "auto"))
            cfg->hw = FP_HW_AUTO;
        else if (!strcmp(optarg, "cuda"))
            cfg->hw = FP_HW_CUDA;
        else if (!strcmp(optarg, "vaapi"))
            cfg->hw = FP_HW_VAAPI;
        else
            return fp_app_bad_value(o, "expected auto, cuda or vaapi");
        return 0;
    case OPT_RAW: {
        int w = 0, h = 0;
        char fmt[16] = {0};
        FpPixelFormat pf;
        if (sscanf(optarg, "%dx%d:%15s", &w, &h, fmt) != 3 || w <= 0 || h <= 0 ||
            fp_pixel_format_parse(fmt, &pf) < 0)
            return fp_app_bad_value(o, "expected WxH:FORMAT, e.g. 640x480:yuv420p");
        cfg->kind = FP_SOURCE_RAW;
        cfg->raw_width = w;
        cfg->raw_height = h;
        cfg->raw_format = pf;
        return 0;
    }
    default: return FP_APP_OPT_ERROR;
    }
}

/* Parses argv. 0, 1 after --help (usage printed), FP_APP_OPT_ERROR (message printed). */
static int parse_probe_args(int argc, char **argv, FpSourceConfig *cfg, long *want, double *timeout_s)
{
    FpAppOptions o;
    fp_app_options_init(&o, "framepipe probe", argc, argv, "h", probe_options);
    int c;
    while ((c = fp_app_options_next(&o)) != -1) {
        if (c == 'h') {
            probe_usage(stdout);
            return 1;
        }
        if (c == FP_APP_OPT_ERROR || probe_option(&o, c, cfg, want, timeout_s) < 0)
            return FP_APP_OPT_ERROR;
    }
    if (argc - optind != 1) {
        if (argc - optind > 1)
            fprintf(stderr, "framepipe probe: one URL only ('%s' and '%s')\n", argv[optind], argv[optind + 1]);
        else
            probe_usage(stderr);
        return FP_APP_OPT_ERROR;
    }
    cfg->url = argv[optind];
    return 0;
}

int fp_cmd_probe(int argc, char **argv)
{
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    long want = 25;
    double timeout_s = 10;
    int prc = parse_probe_args(argc, argv, &cfg, &want, &timeout_s);
    if (prc != 0)
        return prc == 1 ? FP_EXIT_OK : FP_EXIT_USAGE;
    cfg.policy = FP_POLICY_LOSSLESS;
    FpSource *src = NULL;
    int rc = fp_source_open(&src, &cfg, NULL);
    if (rc == 0)
        rc = fp_source_start(src);
    if (rc < 0) {
        fprintf(stderr, "framepipe probe: %s\n", fp_error_detail(rc));
        fp_source_close(&src);
        return FP_EXIT_INPUT;
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
        return FP_EXIT_INPUT;
    }
    return FP_EXIT_OK;
}
