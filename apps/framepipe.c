// SPDX-License-Identifier: MIT
// The `framepipe` command: dispatches to subcommands (see apps/commands.h).
#include "app_options.h"
#include "commands.h"
#include "fp_config.h"

#include <stdio.h>
#include <string.h>

typedef struct Command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
#define FP__CMD_ENTRY(name, fn, summary) {#name, fn, summary},
    FP_COMMANDS(FP__CMD_ENTRY)
#undef FP__CMD_ENTRY
};

static void usage(FILE *out)
{
    fprintf(out,
            "framepipe %s: zero-copy, batched computer-vision inference pipeline\n\n"
            "usage: framepipe [--help] [--version] <command> [args...]\n\ncommands:\n",
            FP_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'framepipe <command> --help' describes one command.\n"
                 "Environment: FP_LOG=error|warn|info|debug|trace sets the log level.\n");
}

static const struct option top_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Options before the command ('+': getopt stops at the command, whose own options are its business). */
int main(int argc, char **argv)
{
    FpAppOptions o;
    fp_app_options_init(&o, "framepipe", argc, argv, "+hV", top_options);
    int c;
    while ((c = fp_app_options_next(&o)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return FP_EXIT_OK;
        }
        if (c == 'V') {
            static char version[] = "version";
            char *vargv[] = {version, NULL};
            return fp_cmd_version(1, vargv);
        }
        return FP_EXIT_USAGE; /* the message is printed */
    }
    if (optind >= argc) {
        usage(stderr);
        return FP_EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (!strcmp(name, "help")) {
        usage(stdout);
        return FP_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].fn(argc - optind, argv + optind);
    fprintf(stderr, "framepipe: unknown command '%s' (try 'framepipe --help')\n", name);
    return FP_EXIT_USAGE;
}
