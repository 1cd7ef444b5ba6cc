// SPDX-License-Identifier: MIT
// getopt_long for every subcommand: messages that name the option and the value, checked numbers.
//
// getopt's own messages are turned off (opterr = 0) and replaced here, so
// that every error reads "framepipe CMD: ..." and names what was typed. The
// optstring gets a leading ':' (after a '+') so that a missing value is told
// apart from an unknown option.
#include "app_options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fp_app_options_init(FpAppOptions *o, const char *cmd, int argc, char **argv, const char *shortopts,
                         const struct option *longopts)
{
    memset(o, 0, sizeof(*o));
    o->cmd = cmd;
    o->shortopts = shortopts;
    o->longopts = longopts;
    o->argc = argc;
    o->argv = argv;
    int stop_at_positional = shortopts[0] == '+';
    snprintf(o->optstring, sizeof(o->optstring), "%s:%s", stop_at_positional ? "+" : "",
             shortopts + stop_at_positional);
    optind = 0;
    opterr = 0;
}

/* The long option named by `arg` ("--na" or "--name=v"): how many start with its name, and the exact one. */
static int long_matches(const FpAppOptions *o, const char *arg, const struct option **exact)
{
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    int n = 0;
    *exact = NULL;
    for (const struct option *l = o->longopts; l && l->name; l++) {
        if (strncmp(l->name, name, len))
            continue;
        n++;
        if (strlen(l->name) == len)
            *exact = l;
    }
    return n;
}

static int report(const FpAppOptions *o, int c)
{
    /* getopt has moved optind past the bad word (for a short option inside a bundle it may not have) */
    const char *arg = optind > 0 && optind - 1 < o->argc ? o->argv[optind - 1] : "";
    int is_long = !strncmp(arg, "--", 2);
    if (c == ':') {
        if (is_long)
            fprintf(stderr, "%s: %.*s needs a value\n", o->cmd, (int)strcspn(arg, "="), arg);
        else
            fprintf(stderr, "%s: -%c needs a value\n", o->cmd, optopt);
        return FP_APP_OPT_ERROR;
    }
    if (!is_long) {
        fprintf(stderr, "%s: unknown option '-%c' (try --help)\n", o->cmd, optopt ? optopt : '?');
        return FP_APP_OPT_ERROR;
    }
    const struct option *exact = NULL;
    int n = long_matches(o, arg, &exact);
    if (optopt && (exact || n == 1) && strchr(arg, '='))
        fprintf(stderr, "%s: %.*s takes no value (try --help)\n", o->cmd, (int)strcspn(arg, "="), arg);
    else if (n > 1 && !exact)
        fprintf(stderr, "%s: ambiguous option '%s' (try --help)\n", o->cmd, arg);
    else
        fprintf(stderr, "%s: unknown option '%s' (try --help)\n", o->cmd, arg);
    return FP_APP_OPT_ERROR;
}

int fp_app_options_next(FpAppOptions *o)
{
    int c = getopt_long(o->argc, o->argv, o->optstring, o->longopts, NULL);
    o->opt = c;
    if (c == '?' || c == ':')
        return report(o, c);
    return c;
}

const char *fp_app_option_name(FpAppOptions *o)
{
    for (const struct option *l = o->longopts; l && l->name; l++) {
        if (!l->flag && l->val == o->opt) {
            snprintf(o->name, sizeof(o->name), "--%s", l->name);
            return o->name;
        }
    }
    snprintf(o->name, sizeof(o->name), "-%c", o->opt);
    return o->name;
}

int fp_app_bad_value(FpAppOptions *o, const char *what)
{
    fprintf(stderr, "%s: %s '%s': %s\n", o->cmd, fp_app_option_name(o), optarg ? optarg : "", what);
    return FP_APP_OPT_ERROR;
}

int fp_app_parse_long(FpAppOptions *o, long lo, long hi, long *out)
{
    const char *s = optarg;
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof(what), "expected a whole number from %ld to %ld", lo, hi);
        return fp_app_bad_value(o, what);
    }
    *out = v;
    return 0;
}

int fp_app_parse_double(FpAppOptions *o, double lo, double hi, double *out)
{
    const char *s = optarg;
    char *end = NULL;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof(what), "expected a number from %g to %g", lo, hi);
        return fp_app_bad_value(o, what);
    }
    *out = v;
    return 0;
}

int fp_app_parse_raw(FpAppOptions *o, FpSourceConfig *cfg)
{
    int w = 0, h = 0;
    char fmt[16] = {0};
    FpPixelFormat pf;
    if (sscanf(optarg, "%dx%d:%15s", &w, &h, fmt) != 3 || w <= 0 || h <= 0 ||
        fp_pixel_format_parse(fmt, &pf) < 0)
        return fp_app_bad_value(o, "expected WxH:FORMAT with FORMAT yuv420p, nv12, rgb24, bgr24 or gray8");
    cfg->kind = FP_SOURCE_RAW;
    cfg->raw_width = w;
    cfg->raw_height = h;
    cfg->raw_format = pf;
    return 0;
}
