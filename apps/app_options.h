// SPDX-License-Identifier: MIT
// Command-line parsing the subcommands share: getopt_long with error reports that name the option and the value, exit codes.
#ifndef FP_APPS_APP_OPTIONS_H
#define FP_APPS_APP_OPTIONS_H

#include <getopt.h>

#include "framepipe/source.h"

/* Exit codes of every subcommand (docs/cli.md). */
enum {
    FP_EXIT_OK = 0,      /* done: every input processed, or stopped by a signal after draining */
    FP_EXIT_INPUT = 1,   /* an input failed (could not be opened or read) or an output failed */
    FP_EXIT_USAGE = 2,   /* bad command line or config file */
    FP_EXIT_MODEL = 3,   /* the model could not be loaded or matches no family */
    FP_EXIT_SIGNAL = 130 /* a second SIGINT/SIGTERM: exited at once without draining */
};

/* fp_app_options_next's answer for a bad option (the message is printed). */
#define FP_APP_OPT_ERROR (-2)

/*
 * One getopt_long pass over a subcommand's argv (argv[0] = the command
 * name). The tables are the caller's and must outlive the parse; getopt's
 * globals (optind, optarg, opterr) are process-wide, so parse on one thread,
 * one command line at a time.
 */
typedef struct FpAppOptions {
    const char *cmd;                /* "framepipe detect": the prefix of every message */
    const char *shortopts;          /* getopt's string, without the leading ':' (added here) */
    const struct option *longopts;  /* {0}-terminated */
    int argc;
    char **argv;
    int opt;                        /* the option last returned (its val) */
    char optstring[64];
    char name[80];                  /* fp_app_option_name's answer */
} FpAppOptions;

/*
 * Starts a parse: copies the pointers (borrowed), resets getopt (optind = 0,
 * so glibc re-reads its state: a subcommand parses after the top level did)
 * and turns getopt's own messages off. `shortopts` may start with '+' (stop
 * at the first positional: the top level); otherwise positionals and
 * options may mix (argv is permuted; "-" is a positional, "--" ends the
 * options). Never fails.
 */
void fp_app_options_init(FpAppOptions *o, const char *cmd, int argc, char **argv, const char *shortopts,
                         const struct option *longopts);

/*
 * The next option's val (its value, if any, in optarg); -1 after the last
 * one, when the positionals are argv[optind .. argc-1] in their original
 * order. FP_APP_OPT_ERROR after printing to stderr why the option is bad:
 * unknown, ambiguous, a missing value or a value it does not take, naming
 * the option as typed.
 */
int fp_app_options_next(FpAppOptions *o);

/*
 * The option last returned as "--name" (or "-c" when it has no long name):
 * a pointer into `o`, valid until the next call with `o`.
 */
const char *fp_app_option_name(FpAppOptions *o);

/* Prints "CMD: --opt 'VALUE': what" for the option last returned; returns FP_APP_OPT_ERROR. */
int fp_app_bad_value(FpAppOptions *o, const char *what);

/*
 * Parses optarg as a whole number in [lo, hi] (a double: a finite number in
 * [lo, hi]) into *out. Returns 0, or FP_APP_OPT_ERROR after printing the
 * option, the value and the range expected; *out untouched on failure.
 */
int fp_app_parse_long(FpAppOptions *o, long lo, long hi, long *out);
int fp_app_parse_double(FpAppOptions *o, double lo, double hi, double *out);

/*
 * Parses optarg as --raw's WxH:FORMAT (FORMAT: yuv420p, nv12, rgb24, bgr24,
 * gray8) and makes *cfg a raw-frames source of that geometry. Returns 0, or
 * FP_APP_OPT_ERROR after printing the option and value; *cfg untouched on
 * failure.
 */
int fp_app_parse_raw(FpAppOptions *o, FpSourceConfig *cfg);

#endif
