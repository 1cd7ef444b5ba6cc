// SPDX-License-Identifier: MIT
// `framepipe probe URL`: opens a source (file, RTSP, HTTP/HLS, V4L2, images, raw, ring), decodes a few frames and reports what it sees.
#include "app_options.h"
#include "commands.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/source.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
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
            "Prints one JSON object: decoder, size, format, frames (and the count the file says), measured fps,\n"
            "pts, counters.\n");
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
    case OPT_RAW: return fp_app_parse_raw(o, cfg);
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

/* What the probe saw: frames read, wall-clock and stream times of the first and last. */
typedef struct ProbeRead {
    long n;
    int64_t t0, t_first, t_last, pts_first, pts_last;
    int rc; /* how reading stopped: 0 (enough frames), FP_EEND_OF_STREAM, or an error */
} ProbeRead;

/* Reads up to `want` frames (0: to the end), waiting at most timeout_s for each. */
static void probe_read(FpSource *src, long want, double timeout_s, ProbeRead *r)
{
    *r = (ProbeRead){.t0 = fp_clock_ns()};
    while (want == 0 || r->n < want) {
        FpFrame *f = NULL;
        r->rc = fp_source_next(src, &f, (int64_t)(timeout_s * 1e9));
        if (r->rc < 0)
            break;
        r->t_last = fp_clock_ns();
        r->pts_last = f->pts_ns;
        if (r->n == 0) {
            r->t_first = r->t_last;
            r->pts_first = f->pts_ns;
        }
        r->n++;
        fp_frame_unref(&f);
    }
}

static double rounded(double v, double scale)
{
    return isfinite(v) ? round(v * scale) / scale : 0.0;
}

/* Prints the report as one JSON line (cJSON escapes the URL and the names). 0, or -ENOMEM. */
static int print_probe_json(const char *url, const FpSourceStatus *st, const ProbeRead *r)
{
    double secs = r->n > 1 ? (double)(r->t_last - r->t_first) / 1e9 : 0;
    double first_s = r->n ? (double)(r->t_first - r->t0) / 1e9 : 0;
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "url", url) && cJSON_AddStringToObject(o, "decoder", st->decoder) &&
             cJSON_AddBoolToObject(o, "hw", st->hw_active != 0) && cJSON_AddNumberToObject(o, "width", st->width) &&
             cJSON_AddNumberToObject(o, "height", st->height) &&
             cJSON_AddStringToObject(o, "format", fp_pixel_format_name(st->format)) &&
             cJSON_AddNumberToObject(o, "frames", (double)r->n) &&
             cJSON_AddNumberToObject(o, "frames_expected", (double)st->frames_expected) &&
             cJSON_AddNumberToObject(o, "first_frame_s", rounded(first_s, 1e3)) &&
             cJSON_AddNumberToObject(o, "fps_measured", rounded(secs > 0 ? (double)(r->n - 1) / secs : 0, 1e2)) &&
             cJSON_AddNumberToObject(o, "pts_first_s", rounded((double)r->pts_first / 1e9, 1e3)) &&
             cJSON_AddNumberToObject(o, "pts_last_s", rounded((double)r->pts_last / 1e9, 1e3)) &&
             cJSON_AddNumberToObject(o, "copies", (double)st->copies) &&
             cJSON_AddNumberToObject(o, "decode_errors", (double)st->decode_errors) &&
             cJSON_AddNumberToObject(o, "reconnects", (double)st->reconnects) &&
             cJSON_AddStringToObject(o, "state", fp_source_state_name(st->state)) &&
             (r->rc >= 0 || r->rc == FP_EEND_OF_STREAM || cJSON_AddStringToObject(o, "error", fp_err_name(r->rc)));
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) {
        fprintf(stderr, "framepipe probe: out of memory\n");
        return -ENOMEM;
    }
    printf("%s\n", text);
    cJSON_free(text);
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
    ProbeRead r;
    probe_read(src, want, timeout_s, &r);
    FpSourceStatus st;
    fp_source_get_status(src, &st);
    fp_source_close(&src);
    if (print_probe_json(cfg.url, &st, &r) < 0)
        return FP_EXIT_INPUT;
    if (r.rc < 0 && r.rc != FP_EEND_OF_STREAM && r.n == 0) {
        fprintf(stderr, "framepipe probe: %s\n", st.last_error[0] ? st.last_error : fp_strerror(r.rc));
        return FP_EXIT_INPUT;
    }
    return FP_EXIT_OK;
}
