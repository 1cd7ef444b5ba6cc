// SPDX-License-Identifier: MIT
// `framepipe camera|worker|logic CONFIG.yaml`: the distributed roles over Redis Streams (docs/distributed.md), configured by the run config plus its redis: section.
#include "app_pipeline.h"
#include "commands.h"

#include "framepipe/config.h"
#include "framepipe/dist.h"
#include "framepipe/error.h"
#include "framepipe/log.h"
#include "framepipe/sink.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum Role { ROLE_CAMERA, ROLE_WORKER, ROLE_LOGIC } Role;
static const char *const role_names[] = {"camera", "worker", "logic"};

static volatile int stop_requested;

static void on_signal(int sig)
{
    if (stop_requested) /* a second signal: at once */
        _exit(FP_EXIT_SIGNAL);
    (void)sig;
    stop_requested = 1;
}

static void dist_usage(FILE *out, Role role)
{
    fprintf(out,
            "usage: framepipe %s [options] CONFIG.yaml\n"
            "%s\n"
            "The config is the one of `framepipe run` plus a redis: section (docs/distributed.md).\n"
            "Runs until SIGINT/SIGTERM%s; while Redis is unreachable it retries with backoff (100 ms to 5 s).\n"
            "  --http HOST:PORT     serve /metrics and /healthz (default: output.http of the config, else none)\n"
            "  --consumer NAME      this process' consumer name (default: redis.consumer, else HOST-PID)\n"
            "%s"
            "  --give-up S          exit 1 when Redis cannot be reached within S seconds at start (default: retry)\n"
            "Exit codes: 0 stopped or done, 1 Redis unreachable (--give-up) or an input failed, 2 bad usage or\n"
            "config (no redis: section, a refused password), 3 model error, 130 second signal.\n",
            role_names[role],
            role == ROLE_CAMERA   ? "Reads the cameras, letterboxes each frame to the model's input, JPEG-encodes it\n"
                                    "and XADDs it to the frame stream."
            : role == ROLE_WORKER ? "Reads frames as a member of the workers' consumer group, runs the model on\n"
                                    "batches and XADDs one result per frame."
                                  : "Reads results as a member of the logic group, drops duplicates, restores each\n"
                                    "camera's order, runs tracking, rules, events and the configured outputs.",
            role == ROLE_CAMERA ? " or the end of every input" : "",
            role == ROLE_LOGIC ? "  --jsonl FILE         results as JSON lines (\"-\": stdout; default output.jsonl)\n" : "");
}

enum { OPT_HTTP = 256, OPT_CONSUMER, OPT_JSONL, OPT_GIVE_UP };

static const struct option dist_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"http", required_argument, NULL, OPT_HTTP},
    {"consumer", required_argument, NULL, OPT_CONSUMER},
    {"jsonl", required_argument, NULL, OPT_JSONL},
    {"give-up", required_argument, NULL, OPT_GIVE_UP},
    {NULL, 0, NULL, 0},
};

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n < FP_DIST_NAME_MAX && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}


static int add_delivery(void *target, FpDelivery *d, bool frames, bool events)
{
    FpDistRoleOptions *opt = target;
    if (frames && opt->n_sinks < FP_DIST_MAX_SINKS) {
        opt->sinks[opt->n_sinks] = fp_delivery_frame;
        opt->sink_opaque[opt->n_sinks++] = d;
    }
    if (events && opt->n_event_sinks < FP_DIST_MAX_SINKS) {
        opt->event_sinks[opt->n_event_sinks] = fp_delivery_event;
        opt->event_opaque[opt->n_event_sinks++] = d;
    }
    return 0;
}

static int exit_code(int rc)
{
    if (rc >= 0)
        return FP_EXIT_OK;
    if (rc == FP_ECONFIG || rc == FP_EINVALID || rc == FP_EUNSUPPORTED)
        return FP_EXIT_USAGE;
    if (rc == FP_EMODEL || rc == FP_EDEPENDENCY)
        return FP_EXIT_MODEL;
    return FP_EXIT_INPUT;
}

static int run_role(Role role, int argc, char **argv)
{
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "framepipe %s", role_names[role]);
    FpDistRoleOptions opt;
    memset(&opt, 0, sizeof(opt));
    FpAppOptions o;
    fp_app_options_init(&o, cmd, argc, argv, "h", dist_options);
    int c;
    double give_up = 0;
    while ((c = fp_app_options_next(&o)) != -1) {
        switch (c) {
        case 'h': dist_usage(stdout, role); return FP_EXIT_OK;
        case OPT_HTTP: opt.http = optarg; break;
        case OPT_CONSUMER:
            if (!name_ok(optarg))
                return fp_app_bad_value(&o, "expected a name [A-Za-z0-9_.-]{1,63}"), FP_EXIT_USAGE;
            opt.consumer = optarg;
            break;
        case OPT_JSONL:
            if (role != ROLE_LOGIC) {
                fprintf(stderr, "%s: --jsonl is an option of the logic role\n", cmd);
                return FP_EXIT_USAGE;
            }
            opt.results_jsonl = optarg;
            break;
        case OPT_GIVE_UP:
            if (fp_app_parse_double(&o, 0.001, 1e6, &give_up) < 0)
                return FP_EXIT_USAGE;
            break;
        default: return FP_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        dist_usage(stderr, role);
        return FP_EXIT_USAGE;
    }
    const char *path = argv[optind];
    opt.connect_give_up_ns = (int64_t)(give_up * 1e9);
    FpConfigFile *cf = NULL;
    int rc = fp_config_load(&cf, path);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", cmd, fp_error_detail(rc));
        return FP_EXIT_USAGE;
    }
    const FpPipelineConfig *cfg = fp_config_get(cf);
    if (!cfg->dist.enabled) {
        fprintf(stderr, "%s: %s: no redis: section; the roles need one (docs/distributed.md)\n", cmd, path);
        fp_config_destroy(&cf);
        return FP_EXIT_USAGE;
    }
    if (!opt.http)
        opt.http = cfg->output.http;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    opt.stop = &stop_requested;

    FpJsonlSink *jsonl = NULL;
    FpEventsJsonl *events = NULL;
    FpMetrics *metrics = NULL;
    FpDelivery *deliveries[3];
    int n_deliveries = 0;
    if (role == ROLE_LOGIC) {
        const char *jpath = opt.results_jsonl ? opt.results_jsonl : cfg->output.jsonl;
        if ((rc = fp_metrics_create(&metrics)) < 0)
            goto done;
        opt.metrics = metrics;
        if (jpath) {
            if ((rc = fp_jsonl_sink_create(&jsonl, jpath)) < 0)
                goto done;
            opt.sinks[opt.n_sinks] = fp_jsonl_sink_write;
            opt.sink_opaque[opt.n_sinks++] = jsonl;
        }
        if (cfg->output.events) {
            if ((rc = fp_events_jsonl_create(&events, cfg->output.events)) < 0)
                goto done;
            opt.event_sinks[opt.n_event_sinks] = fp_events_jsonl_write;
            opt.event_opaque[opt.n_event_sinks++] = events;
        }
        if ((rc = fp_app_open_deliveries(cfg, metrics, deliveries, &n_deliveries, add_delivery, &opt)) < 0)
            goto done;
        rc = fp_dist_logic_run(cfg, &opt);
    } else if (role == ROLE_WORKER) {
        rc = fp_dist_worker_run(cfg, &opt);
    } else {
        rc = fp_dist_camera_run(cfg, &opt);
    }
done:
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", cmd, fp_error_detail(rc));
    fp_app_close_deliveries(deliveries, &n_deliveries);
    fp_jsonl_sink_destroy(&jsonl);
    fp_events_jsonl_destroy(&events);
    fp_metrics_destroy(&metrics);
    fp_config_destroy(&cf);
    return exit_code(rc);
}

int fp_cmd_camera(int argc, char **argv)
{
    return run_role(ROLE_CAMERA, argc, argv);
}

int fp_cmd_worker(int argc, char **argv)
{
    return run_role(ROLE_WORKER, argc, argv);
}

int fp_cmd_logic(int argc, char **argv)
{
    return run_role(ROLE_LOGIC, argc, argv);
}
