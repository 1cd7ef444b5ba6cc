// SPDX-License-Identifier: MIT
// The `framepipe` command: dispatches to subcommands (see apps/commands.h).
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
        return fp_cmd_version(1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "framepipe: unknown command '%s' (try 'framepipe --help')\n", argv[1]);
    return 2;
}
