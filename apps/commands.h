// SPDX-License-Identifier: MIT
// The table of `framepipe` subcommands: one X(name, function, summary) line per command.
#ifndef FP_APPS_COMMANDS_H
#define FP_APPS_COMMANDS_H

/* Each command is `int fn(int argc, char **argv)` with argv[0] = the command name; returns an exit code. */
#define FP_COMMANDS(X)                                                                   \
    X(detect, fp_cmd_detect, "run a detector on files, URLs and image folders; JSON lines, annotations") \
    X(run, fp_cmd_run, "the service: many cameras from a YAML config, outputs, HTTP metrics")      \
    X(serve, fp_cmd_serve, "the detection service: POST a picture, get detections or it redacted") \
    X(version, fp_cmd_version, "print the version and the libraries framepipe was built with") \
    X(model, fp_cmd_model, "inspect an ONNX model: input, outputs, family, classes")             \
    X(models, fp_cmd_models, "the named models (face, face-front): path and whether installed")   \
    X(probe, fp_cmd_probe, "open a stream or file, decode a few frames, report what it is")               \
    X(camera, fp_cmd_camera, "distributed role: cameras -> letterboxed JPEG frames into a Redis stream")  \
    X(worker, fp_cmd_worker, "distributed role: frames from Redis -> batched model -> one result per frame") \
    X(logic, fp_cmd_logic, "distributed role: results from Redis, once each, in order -> rules, outputs")

#define FP__CMD_DECL(name, fn, summary) int fn(int argc, char **argv);
FP_COMMANDS(FP__CMD_DECL)
#undef FP__CMD_DECL

#endif
