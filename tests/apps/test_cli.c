// SPDX-License-Identifier: MIT
// The `framepipe detect` and `framepipe run` commands end to end: JSON lines, annotation, 4 cameras with RTSP and /metrics, signals, bad input.
#include "fp_test.h"
#include "fp_test_spawn.h"
#include "media.h"

#include "framepipe/clock.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEC 1000000000LL

static const char *exe(void)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/apps/framepipe", fp_test_build_dir());
    return path;
}

static const char *blazeface128(void)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/models/blazeface/face_detection_front_128x128_barracuda.onnx",
             fp_test_cache_dir());
    if (access(path, R_OK) != 0)
        fp_test_skip("%s missing: run scripts/setup.sh", path);
    return path;
}

static const char *yolo(void)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/models/yolov8_test_320.onnx", fp_test_source_dir());
    return path;
}

static char *tmp(const char *name)
{
    static char bufs[8][600];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 600, "%s/%s", fp_test_tmpdir(), name);
    return b;
}

/* Runs argv with stdout and stderr to files (NULL: discarded); returns the exit code (or 128 + signal). */
static int run_cmd(const char *const argv[], const char *out_path, const char *err_path)
{
    return fp_test_run(argv, out_path ? out_path : "/dev/null", err_path ? err_path : "/dev/null");
}

static char *slurp(const char *path)
{
    size_t len = 0;
    unsigned char *d = fp_media_read_file(path, &len);
    CHECK_MSG(d, "cannot read %s", path);
    char *s = realloc(d, len + 1);
    s[len] = 0;
    return s;
}

/* Parses a whole JSON file with cJSON. */
static cJSON *parse_file(const char *path)
{
    char *text = slurp(path);
    cJSON *j = cJSON_Parse(text);
    CHECK_MSG(j, "%s is not JSON: %.300s", path, text);
    free(text);
    return j;
}

/* Parses JSON lines with cJSON (an independent parser); fails the test on any bad line. */
static int parse_lines(const char *path, cJSON **items, int cap)
{
    char *text = slurp(path);
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        CHECK_MSG(j, "line %d is not JSON: %.200s", n + 1, line);
        if (n < cap)
            items[n] = j;
        else
            cJSON_Delete(j);
        n++;
    }
    free(text);
    return n;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    CHECK_MSG(cJSON_IsNumber(v), "no number '%s'", key);
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    CHECK_MSG(cJSON_IsString(v), "no string '%s'", key);
    return v->valuestring;
}

/*
 * `o` has exactly the keys of `spec`, "name:type,...", nothing else; types:
 * n number, s string, b bool, o object, a array, z null or string.
 */
static void check_keys(const cJSON *o, const char *spec, const char *what)
{
    CHECK_MSG(cJSON_IsObject(o), "%s is not an object", what);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", spec);
    int want = 0;
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(kv, ':');
        CHECK(colon);
        *colon = 0;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, kv);
        char t = colon[1];
        int ok = t == 'n'   ? cJSON_IsNumber(v)
                 : t == 's' ? cJSON_IsString(v)
                 : t == 'b' ? cJSON_IsBool(v)
                 : t == 'o' ? cJSON_IsObject(v)
                 : t == 'a' ? cJSON_IsArray(v)
                            : (cJSON_IsNull(v) || cJSON_IsString(v));
        CHECK_MSG(ok, "%s: '%s' missing or not of type %c", what, kv, t);
        want++;
    }
    CHECK_MSG(cJSON_GetArraySize(o) == want, "%s has %d keys, expected %d", what, cJSON_GetArraySize(o), want);
}

FP_TEST_TIMED(detect_file_one_json_line_per_frame_in_order_and_an_annotated_video, 240)
{
    char *clip = fp_media_clip("h264", 320, 240, 37, 25, "mp4");
    const char *out = tmp("detect.jsonl"), *sum = tmp("summary.json"), *mp4 = tmp("annotated.mp4");
    const char *argv[] = {exe(), "detect", "--quiet", "-o", out, "--summary", sum, "--annotate", mp4,
                          blazeface128(), clip, NULL};
    CHECK_EQ(run_cmd(argv, NULL, tmp("detect.err")), 0);
    cJSON *items[64];
    int n = parse_lines(out, items, 64);
    CHECK_EQ(n, 37);
    for (int k = 0; k < n; k++) {
        CHECK_EQ(num(items[k], "seq"), k);
        CHECK(!strcmp(str(items[k], "camera"), "h264-320x240-37-25fps.mp4"));
        CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(items[k], "detections")));
        CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(items[k], "latency_ms")));
        CHECK_EQ(num(items[k], "width"), 320);
        cJSON_Delete(items[k]);
    }
    cJSON *s = parse_file(sum);
    CHECK_EQ(num(s, "frames"), 37);
    CHECK_EQ(num(s, "skipped"), 0);
    CHECK(num(s, "fps") > 0);
    /* the summary's fields and types, as docs/cli.md lists them */
    check_keys(s, "frames:n,skipped:n,detections:n,events:n,seconds:n,fps:n,latency_ms:o,queue_ms:o,processing_ms:o,"
                  "pool_hit_rate:n,batch_fill:n,cpu_seconds:n,cameras:a", "summary");
    check_keys(cJSON_GetObjectItemCaseSensitive(s, "latency_ms"), "p50:n,p90:n,p99:n,max:n", "summary.latency_ms");
    /* the latency split: each part of a frame's latency is at most all of it, so their medians are too */
    check_keys(cJSON_GetObjectItemCaseSensitive(s, "queue_ms"), "p50:n,p99:n", "summary.queue_ms");
    check_keys(cJSON_GetObjectItemCaseSensitive(s, "processing_ms"), "p50:n,p99:n", "summary.processing_ms");
    double lat50 = num(cJSON_GetObjectItemCaseSensitive(s, "latency_ms"), "p50");
    CHECK(num(cJSON_GetObjectItemCaseSensitive(s, "queue_ms"), "p50") <= lat50 + 0.01);
    CHECK(num(cJSON_GetObjectItemCaseSensitive(s, "processing_ms"), "p50") <= lat50 + 0.01);
    CHECK(num(cJSON_GetObjectItemCaseSensitive(s, "processing_ms"), "p50") > 0);
    cJSON *cams = cJSON_GetObjectItemCaseSensitive(s, "cameras");
    CHECK_EQ(cJSON_GetArraySize(cams), 1);
    cJSON *cam = cJSON_GetArrayItem(cams, 0);
    check_keys(cam, "name:s,frames:n,decoded:n,skipped:n,reconnects:n,fps:n,skipped_fps:n,latency_ms:o,state:s,partial:b",
               "summary.cameras[0]");
    check_keys(cJSON_GetObjectItemCaseSensitive(cam, "latency_ms"), "p50:n,p99:n", "summary.cameras[0].latency_ms");
    CHECK(!strcmp(str(cam, "name"), "h264-320x240-37-25fps.mp4"));
    CHECK_EQ(num(cam, "frames"), 37);
    CHECK_EQ(num(cam, "decoded"), 37);
    CHECK(!strcmp(str(cam, "state"), "ended"));
    cJSON_Delete(s);
    /* the annotated video has every frame (counted by ffprobe, not by framepipe) */
    const char *probe[] = {"/usr/bin/ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                           "-show_entries", "stream=nb_read_frames,width,height", "-of", "csv=p=0", mp4, NULL};
    CHECK_EQ(run_cmd(probe, tmp("probe.txt"), NULL), 0);
    char *pr = slurp(tmp("probe.txt"));
    CHECK_MSG(strstr(pr, "320,240,37"), "ffprobe says %s", pr);
    free(pr);
    free(clip);
}

FP_TEST_TIMED(detect_finds_the_face_on_a_photo_and_names_the_class, 120)
{
    const char *lena = "/usr/share/doc/opencv-doc/opencv4/html/faceDetection.png";
    if (access(lena, R_OK) != 0)
        fp_test_skip("%s missing (opencv-doc)", lena);
    const char *out = tmp("face.jsonl");
    const char *argv[] = {exe(), "detect", "--quiet", "-o", out, blazeface128(), lena, NULL};
    CHECK_EQ(run_cmd(argv, NULL, NULL), 0);
    cJSON *items[2];
    CHECK_EQ(parse_lines(out, items, 2), 1);
    cJSON *dets = cJSON_GetObjectItemCaseSensitive(items[0], "detections");
    CHECK_EQ(cJSON_GetArraySize(dets), 1);
    cJSON *d = cJSON_GetArrayItem(dets, 0);
    CHECK(!strcmp(str(d, "class"), "face"));
    cJSON *box = cJSON_GetObjectItemCaseSensitive(d, "box");
    CHECK_EQ(cJSON_GetArraySize(box), 4);
    CHECK_NEAR(cJSON_GetArrayItem(box, 0)->valuedouble, 174.4, 14);
    CHECK_NEAR(cJSON_GetArrayItem(box, 3)->valuedouble, 412.9, 14);
    CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "keypoints")), 6);
    cJSON_Delete(items[0]);
}

static void check_fails(const char *const argv[], int want, const char *needle)
{
    const char *err = tmp("fail.err");
    int rc = run_cmd(argv, NULL, err);
    char *e = slurp(err);
    CHECK_MSG(rc == want, "exit %d (expected %d): %s", rc, want, e);
    CHECK_MSG(strstr(e, needle), "stderr lacks '%s': %s", needle, e);
    free(e);
}

FP_TEST(framepipe_does_not_link_libavdevice_and_starts_without_it)
{
    /* libavdevice (and the ~80 libraries it pulls) is dlopen'ed only for device inputs: linked in, it
       doubles the start-up of every run. The binary's NEEDED entries must not name it. */
    const char *argv[] = {"readelf", "-d", exe(), NULL};
    char *out = tmp("readelf.txt");
    CHECK_EQ(run_cmd(argv, out, NULL), 0);
    char *text = slurp(out);
    CHECK(text);
    CHECK_MSG(strstr(text, "(NEEDED)") && strstr(text, "libavformat.so"), "readelf -d lists no libavformat:\n%s",
              text);
    CHECK_MSG(!strstr(text, "libavdevice"), "framepipe is linked with libavdevice:\n%s", text);
    free(text);
    const char *ver[] = {exe(), "--version", NULL};
    CHECK_EQ(run_cmd(ver, tmp("version.txt"), NULL), 0);
}

FP_TEST(detect_bad_command_lines_are_clear_errors)
{
    const char *m = yolo();
    const char *a1[] = {exe(), "detect", "--batch", "0", m, "x.mp4", NULL};
    check_fails(a1, 2, "--batch '0'");
    const char *a2[] = {exe(), "detect", "--conf", "high", m, "x.mp4", NULL};
    check_fails(a2, 2, "--conf 'high'");
    const char *a3[] = {exe(), "detect", "--frobnicate", m, "x.mp4", NULL};
    check_fails(a3, 2, "unknown option '--frobnicate'");
    const char *a4[] = {exe(), "detect", m, NULL};
    check_fails(a4, 2, "usage");
    const char *a5[] = {exe(), "detect", "--raw", "640x480:rgba", m, "-", NULL};
    check_fails(a5, 2, "--raw '640x480:rgba'");
    const char *a6[] = {exe(), "detect", "--quiet", "/nonexistent/m.onnx", "x.mp4", NULL};
    check_fails(a6, 3, "/nonexistent/m.onnx");
    const char *a7[] = {exe(), "detect", "--quiet", "--family", "blazeface", m, "x.mp4", NULL};
    check_fails(a7, 2, "does not match");
    const char *a8[] = {exe(), "detect", "--quiet", "-o", "/nonexistent-dir/out.jsonl", m, "x.mp4", NULL};
    check_fails(a8, 2, "/nonexistent-dir/out.jsonl");
    const char *a9[] = {exe(), "detect", m, "x.mp4", "--batch", NULL};
    check_fails(a9, 2, "--batch needs a value");
    const char *a10[] = {exe(), "detect", "--loop=yes", m, "x.mp4", NULL};
    check_fails(a10, 2, "--loop takes no value");
    const char *a11[] = {exe(), "detect", "--max", "3", m, "x.mp4", NULL};
    check_fails(a11, 2, "ambiguous option '--max'");
    const char *a12[] = {exe(), "detect", "-qz", m, "x.mp4", NULL};
    check_fails(a12, 2, "unknown option '-z'");
    const char *a13[] = {exe(), "detect", "--help", NULL};
    CHECK_EQ(run_cmd(a13, tmp("help.txt"), NULL), 0);
    char *help = slurp(tmp("help.txt"));
    CHECK_MSG(strstr(help, "usage: framepipe detect") && strstr(help, "--decoder-threads"), "%s", help);
    free(help);
}

/* Every subcommand parses with the same rules: the option and the bad value named, exit 2. */
FP_TEST(other_commands_bad_command_lines_are_clear_errors)
{
    const char *a1[] = {exe(), "--frobnicate", NULL};
    check_fails(a1, 2, "unknown option '--frobnicate'");
    const char *a2[] = {exe(), "frobnicate", NULL};
    check_fails(a2, 2, "unknown command 'frobnicate'");
    const char *a3[] = {exe(), "run", "--duration", "0", "x.yaml", NULL};
    check_fails(a3, 2, "--duration '0'");
    const char *a4[] = {exe(), "run", "a.yaml", "b.yaml", NULL};
    check_fails(a4, 2, "one config file only");
    const char *a5[] = {exe(), "model", "--provider", "gpu", "m.onnx", NULL};
    check_fails(a5, 2, "--provider 'gpu'");
    const char *a6[] = {exe(), "probe", "--frames", "many", "x.mp4", NULL};
    check_fails(a6, 2, "--frames 'many'");
    const char *a7[] = {exe(), "probe", "--hw", "quantum", "x.mp4", NULL};
    check_fails(a7, 2, "--hw 'quantum'");
    const char *a8[] = {exe(), "version", "--verbose", NULL};
    check_fails(a8, 2, "unknown option '--verbose'");
    const char *a9[] = {exe(), "run", "--summary", NULL};
    check_fails(a9, 2, "--summary needs a value");
    /* --version and the version command agree */
    const char *v1[] = {exe(), "--version", NULL};
    CHECK_EQ(run_cmd(v1, tmp("v1.txt"), NULL), 0);
    const char *v2[] = {exe(), "version", NULL};
    CHECK_EQ(run_cmd(v2, tmp("v2.txt"), NULL), 0);
    char *t1 = slurp(tmp("v1.txt")), *t2 = slurp(tmp("v2.txt"));
    CHECK_MSG(!strncmp(t1, "framepipe ", 10) && !strcmp(t1, t2), "'%s' vs '%s'", t1, t2);
    free(t1);
    free(t2);
}

/* probe prints one JSON object (a file name with a quote and a backslash stays valid JSON) and the file's frame count. */
FP_TEST_TIMED(probe_reads_a_file_to_the_end_and_reports_its_frame_count, 120)
{
    char *clip = fp_media_clip("h264", 160, 120, 45, 25, "mkv");
    const char *odd = tmp("a \"quoted\" \\ name.mkv");
    CHECK_EQ(symlink(clip, odd), 0);
    const char *argv[] = {exe(), "probe", "--frames", "0", odd, NULL};
    CHECK_EQ(run_cmd(argv, tmp("probe.json"), NULL), 0);
    cJSON *j = parse_file(tmp("probe.json"));
    CHECK(!strcmp(str(j, "url"), odd));
    CHECK(!strcmp(str(j, "decoder"), "h264"));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "hw")));
    CHECK_EQ(num(j, "frames"), 45);
    CHECK_EQ(num(j, "frames_expected"), 45);
    CHECK_NEAR(num(j, "pts_last_s"), 44 / 25.0, 0.001);
    CHECK(!strcmp(str(j, "state"), "ended"));
    cJSON_Delete(j);
    free(clip);
}

/* Runs argv with stdin from in_path and stdout/stderr to files; returns the exit code. */
static int run_with_stdin(const char *const argv[], const char *in_path, const char *out_path, const char *err_path)
{
    FpTestSpawnOptions o = {.stdin_path = in_path, .stdout_path = out_path, .stderr_path = err_path};
    return fp_test_wait_exit(fp_test_spawn(argv, &o), -1);
}

/* "-" is raw frames on stdin, a positional like any input, with the options before or after it. */
FP_TEST_TIMED(detect_raw_frames_on_stdin_with_options_after_the_inputs, 120)
{
    const char *raw = tmp("frames.gray");
    static unsigned char frames[3 * 64 * 48];
    for (size_t i = 0; i < sizeof(frames); i++)
        frames[i] = (unsigned char)(i * 7);
    CHECK_OK(fp_media_write_file(raw, frames, sizeof(frames)));
    const char *out = tmp("stdin.jsonl");
    const char *argv[] = {exe(), "detect", yolo(), "-", "--raw", "64x48:gray8", "-q", "-o", out, NULL};
    CHECK_EQ(run_with_stdin(argv, raw, tmp("stdin.out"), tmp("stdin.err")), 0);
    cJSON *items[8];
    int n = parse_lines(out, items, 8);
    CHECK_EQ(n, 3);
    for (int k = 0; k < n; k++) {
        CHECK(!strcmp(str(items[k], "camera"), "stdin"));
        CHECK_EQ(num(items[k], "seq"), k);
        CHECK_EQ(num(items[k], "width"), 64);
        cJSON_Delete(items[k]);
    }
    /* "--" ends the options: an input named like an option is an input */
    const char *argv2[] = {exe(), "detect", "-q", "-o", tmp("dash.jsonl"), "--", yolo(), "--not-an-option.mp4", NULL};
    check_fails(argv2, 1, "--not-an-option.mp4");
}

/*
 * On a terminal the progress bar counts to the frames the sources expect
 * (FpSourceStatus.frames_expected, from the containers): two 30-frame
 * files are "60/60 frames" at the end. stderr is a pseudo-terminal here.
 */
FP_TEST_TIMED(detect_progress_bar_counts_to_the_frames_in_the_files, 120)
{
    char *a = fp_media_clip("h264", 160, 120, 30, 25, "mp4");
    char *b = fp_media_clip("h264", 160, 120, 30, 25, "mkv");
    int master = -1, slave = -1;
    CHECK_EQ(openpty(&master, &slave, NULL, NULL, NULL), 0);
    setenv("FP_LOG", "error", 1); /* this case's own process: only the bar on the terminal */
    const char *argv[] = {exe(), "detect", "-o", "/dev/null", yolo(), a, b, NULL};
    FpTestSpawnOptions so = {.stdout_path = "/dev/null", .stderr_fd = slave};
    pid_t pid = fp_test_spawn(argv, &so);
    close(slave);
    static char text[1 << 16];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(master, text + len, sizeof(text) - 1 - len);
        if (r <= 0)
            break; /* EIO once the child has closed the terminal */
        len += (size_t)r;
    }
    text[len] = 0;
    close(master);
    int rc = fp_test_wait_exit(pid, -1);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, text);
    CHECK_MSG(strstr(text, "100% 60/60 frames"), "no full bar to 60 frames in: %s", text);
    free(a);
    free(b);
}

FP_TEST_TIMED(detect_a_missing_input_fails_with_its_name_but_the_others_finish, 120)
{
    char *clip = fp_media_clip("h264", 320, 240, 20, 25, "mp4");
    char out[600];
    snprintf(out, sizeof(out), "%s", tmp("partial.jsonl"));
    const char *argv[] = {exe(), "detect", "--quiet", "-o", out, yolo(), "/nonexistent/a.mp4", clip, NULL};
    check_fails(argv, 1, "/nonexistent/a.mp4");
    cJSON *items[32];
    int n = parse_lines(out, items, 32);
    CHECK_EQ(n, 20);
    for (int k = 0; k < n; k++)
        cJSON_Delete(items[k]);
    free(clip);
}

static void write_text(const char *path, const char *text)
{
    CHECK_OK(fp_media_write_file(path, text, strlen(text)));
}

FP_TEST(run_bad_config_files_name_the_file_line_and_key)
{
    char cfg[600];
    snprintf(cfg, sizeof(cfg), "%s", tmp("bad.yaml"));
    char text[1024];
    snprintf(text, sizeof(text),
             "cameras:\n  - name: a\n    url: x.mp4\n    fps: fast\nmodel:\n  path: %s\n", yolo());
    write_text(cfg, text);
    const char *a1[] = {exe(), "run", cfg, NULL};
    check_fails(a1, 2, "bad.yaml:4:");
    check_fails(a1, 2, "fps");
    snprintf(text, sizeof(text), "cameras:\n  - name: a\n    url: x.mp4\nmodel:\n  path: %s\n  treshold: 0.5\n", yolo());
    write_text(cfg, text);
    const char *a2[] = {exe(), "run", "--check", cfg, NULL};
    check_fails(a2, 2, "unknown key 'treshold'");
    snprintf(text, sizeof(text), "cameras:\n  - name: a\n    url: x.mp4\nmodel:\n  path: /nonexistent/m.onnx\n");
    write_text(cfg, text);
    check_fails(a2, 3, "/nonexistent/m.onnx");
    const char *a3[] = {exe(), "run", "--duration", "soon", cfg, NULL};
    check_fails(a3, 2, "--duration 'soon'");
    const char *a4[] = {exe(), "run", tmp("missing.yaml"), NULL};
    check_fails(a4, 2, "missing.yaml");
    /* a good config checks out */
    snprintf(text, sizeof(text), "cameras:\n  - name: a\n    url: x.mp4\nmodel:\n  path: %s\n", yolo());
    write_text(cfg, text);
    CHECK_EQ(run_cmd(a2, tmp("check.out"), NULL), 0);
    char *o = slurp(tmp("check.out"));
    CHECK(strstr(o, "ok (1 camera"));
    free(o);
}

FP_TEST(run_check_bad_rules_name_the_file_line_and_key)
{
    char cfg[600];
    snprintf(cfg, sizeof(cfg), "%s", tmp("rules.yaml"));
    const char *a[] = {exe(), "run", "--check", cfg, NULL};
    char text[1024];
    static const char cams[] = "cameras:\n  - name: a\n    url: x.mp4\n    zones:\n"
                               "      - {name: door, points: [[0, 0], [1, 0], [1, 1]]}\n";
    /* line 9: the rule naming a zone camera a lacks */
    snprintf(text, sizeof(text), "%smodel:\n  path: %s\nrules:\n  - {name: r, kind: enter, zone: hall}\n", cams,
             blazeface128());
    write_text(cfg, text);
    check_fails(a, 2, "rules.yaml:9:");
    check_fails(a, 2, "rules[0].zone: camera 'a' has no zone 'hall'");
    /* line 5: a zone of two points */
    snprintf(text, sizeof(text),
             "cameras:\n  - name: a\n    url: x.mp4\n    zones:\n      - {name: door, points: [[0, 0], [1, 1]]}\n"
             "model:\n  path: %s\n", blazeface128());
    write_text(cfg, text);
    check_fails(a, 2, "rules.yaml:5:");
    check_fails(a, 2, "cameras[0].zones[0].points");
    /* line 9: a negative duration */
    snprintf(text, sizeof(text), "%smodel:\n  path: %s\nrules:\n  - {name: r, kind: dwell, zone: door, duration: -2s}\n",
             cams, blazeface128());
    write_text(cfg, text);
    check_fails(a, 2, "rules.yaml:9:");
    check_fails(a, 2, "rules[0].duration");
    /* a class name the model lacks: found when the model is loaded, the rule named */
    snprintf(text, sizeof(text), "%smodel:\n  path: %s\nrules:\n  - {name: cats, kind: enter, zone: door, class: cat}\n",
             cams, blazeface128());
    write_text(cfg, text);
    check_fails(a, 2, "rules[0] (cats): class 'cat'");
    /* and with the model's class it checks out */
    snprintf(text, sizeof(text), "%smodel:\n  path: %s\nrules:\n  - {name: faces, kind: enter, zone: door, class: face}\n",
             cams, blazeface128());
    write_text(cfg, text);
    CHECK_EQ(run_cmd(a, tmp("check.out"), NULL), 0);
}

/*
 * detect --track --rules --events on a clip built here: frame 230 of Megamind.avi (one frontal face) slid
 * across a grey 320x240 canvas at 40 px/s from x = -40 for 4 s (as tests/pipeline/test_pipeline_events.c):
 * the face's centre (87.5 px into the 160 px picture) crosses x = 160, the zone's edge, at 2.81 s.
 */
/* Builds that clip into the case's temporary folder; returns its path (skips without ffmpeg or opencv-doc). */
static const char *slide_clip(void)
{
    const char *megamind = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi";
    if (access(megamind, R_OK) != 0)
        fp_test_skip("%s missing (opencv-doc)", megamind);
    if (system("command -v ffmpeg >/dev/null 2>&1") != 0)
        fp_test_skip("the ffmpeg command is missing");
    const char *png = tmp("face.png"), *clip = tmp("slide.mp4");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -y -i %s -vf 'select=eq(n\\,230)' -frames:v 1 %s && "
             "ffmpeg -nostdin -v error -y -f lavfi -i color=c=gray:s=320x240:r=25:d=6 -loop 1 -framerate 25 -i %s "
             "-filter_complex \"[1:v]scale=160:120[f];[0:v][f]overlay=x='-40+40*t':y=60:enable='lt(t,4)':shortest=1,"
             "format=yuv420p\" -c:v libx264 -g 25 -t 6 %s",
             megamind, png, png, clip);
    CHECK_MSG(system(cmd) == 0, "ffmpeg failed: %s", cmd);
    return clip;
}

FP_TEST_TIMED(detect_track_rules_events_write_track_ids_and_event_lines, 240)
{
    const char *clip = slide_clip();
    const char *rules = tmp("detect-rules.yaml"), *ev = tmp("ev.jsonl"), *out = tmp("track.jsonl");
    write_text(rules, "zones:\n"
                      "  - {name: right, points: [[160, 0], [320, 0], [320, 240], [160, 240]]}\n"
                      "tracker: {anchor: center}\n"
                      "rules:\n"
                      "  - {name: arrives, kind: enter, zone: right, class: face}\n");
    const char *argv[] = {exe(), "detect", "--quiet", "--track", "--rules", rules, "--events", ev, "-o", out,
                          blazeface128(), clip, NULL};
    CHECK_EQ(run_cmd(argv, NULL, tmp("track.err")), 0);
    cJSON *items[160];
    int n = parse_lines(out, items, 160);
    CHECK_EQ(n, 150);
    int with_id = 0;
    for (int k = 0; k < n; k++) {
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(items[k], "detections"))
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "track_id");
            CHECK_MSG(id && (cJSON_IsNumber(id) || cJSON_IsNull(id)), "frame %d: a detection without track_id", k);
            with_id += cJSON_IsNumber(id) && id->valuedouble >= 1;
        }
        cJSON_Delete(items[k]);
    }
    CHECK_MSG(with_id >= 90, "%d detections with a track id (the face is in 100 frames)", with_id);
    cJSON *evs[8];
    int ne = parse_lines(ev, evs, 8);
    CHECK_EQ(ne, 1); /* one face, one entry */
    CHECK(!strcmp(str(evs[0], "rule"), "arrives"));
    CHECK(!strcmp(str(evs[0], "rule_kind"), "enter"));
    CHECK(!strcmp(str(evs[0], "kind"), "start"));
    CHECK(!strcmp(str(evs[0], "zone"), "right"));
    CHECK(!strcmp(str(evs[0], "camera_name"), "slide.mp4"));
    CHECK(num(evs[0], "track_id") >= 1);
    CHECK_NEAR(num(evs[0], "start_ns") / 1e9, 2.8125, 0.2);
    cJSON_Delete(evs[0]);
    /* a bad rules file: exit 2 naming the file, line and key */
    write_text(rules, "zones:\n  - {name: right, points: [[160, 0], [320, 0], [320, 240]]}\n"
                      "rules:\n  - {name: r, kind: enter, zone: left}\n");
    check_fails(argv, 2, "detect-rules.yaml:4:");
    check_fails(argv, 2, "rules[0].zone");
}

/*
 * framepipe run with rules, output.events and output.snapshots on the sliding-face clip: the one `enter`
 * event names a snapshot file, and that file is a whole JPEG of the frame (decoded by ffprobe: 320x240).
 */
FP_TEST_TIMED(run_rules_write_events_with_a_jpeg_snapshot_each, 240)
{
    const char *clip = slide_clip();
    char *dir = tmp("snaps"), *ev = tmp("run-ev.jsonl"), *cfg = tmp("run-rules.yaml");
    char text[2048];
    snprintf(text, sizeof(text),
             "cameras:\n"
             "  - name: slide\n"
             "    url: %s\n"
             "    zones:\n"
             "      - {name: right, points: [[160, 0], [320, 0], [320, 240], [160, 240]]}\n"
             "model: {path: %s}\n"
             "tracker: {anchor: center}\n"
             "rules:\n"
             "  - {name: arrives, kind: enter, zone: right, class: face}\n"
             "output: {jsonl: /dev/null, events: %s, snapshots: %s, snapshots_max_mb: 4}\n",
             clip, blazeface128(), ev, dir);
    write_text(cfg, text);
    const char *argv[] = {exe(), "run", "--quiet", cfg, NULL};
    CHECK_EQ(run_cmd(argv, NULL, tmp("run-rules.err")), 0);
    cJSON *evs[8];
    CHECK_EQ(parse_lines(ev, evs, 8), 1);
    const char *snap = str(evs[0], "snapshot");
    CHECK_MSG(snap && strncmp(snap, dir, strlen(dir)) == 0 && strstr(snap, ".jpg"), "snapshot '%s'", snap ? snap : "");
    char probe[1024];
    snprintf(probe, sizeof(probe), "ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 '%s' > '%s'",
             snap, tmp("probe.csv"));
    CHECK_MSG(system(probe) == 0, "ffprobe cannot read %s", snap);
    char *csv = slurp(tmp("probe.csv"));
    CHECK_MSG(strstr(csv, "mjpeg,320,240"), "snapshot %s: %s", snap, csv);
    free(csv);
    cJSON_Delete(evs[0]);
}

/* Fetches http://127.0.0.1:port/path with curl into `out`; returns curl's exit code. */
static int http_get(int port, const char *path, const char *out)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    const char *argv[] = {"/usr/bin/curl", "-s", "-f", "-o", out, "--max-time", "5", url, NULL};
    return run_cmd(argv, NULL, NULL);
}

FP_TEST_TIMED(run_four_cameras_with_rtsp_shows_all_in_metrics_and_stops_cleanly_on_sigterm, 240)
{
    char *live = fp_media_clip("h264", 320, 240, 750, 25, "mp4");
    char *a = fp_media_clip("h264", 320, 240, 50, 25, "mp4");
    char *b = fp_media_clip("hevc", 352, 288, 40, 25, "mkv");
    int rtsp_port = fp_test_free_port();
    pid_t srv = fp_media_rtsp_server_start(rtsp_port, live);
    int http_port = fp_test_free_port();
    char cfg[600], out[600];
    snprintf(cfg, sizeof(cfg), "%s", tmp("four.yaml"));
    snprintf(out, sizeof(out), "%s", tmp("four.jsonl"));
    char text[2048];
    snprintf(text, sizeof(text),
             "cameras:\n"
             "  - {name: file-a, url: %s, loop: true}\n"
             "  - {name: file-b, url: %s, loop: true}\n"
             "  - {name: file-c, url: %s, loop: true, fps: 10}\n"
             "  - {name: rtsp, url: 'rtsp://127.0.0.1:%d/clip'}\n"
             "model: {path: %s, threads: 1}\n"
             "batch: {max_batch: 4, max_wait: 10ms}\n"
             "output: {jsonl: %s, http: '127.0.0.1:%d'}\n",
             a, b, a, rtsp_port, yolo(), out, http_port);
    write_text(cfg, text);
    const char *run[] = {exe(), "run", cfg, NULL};
    FpTestSpawnOptions run_opts = {.stderr_path = tmp("four.err")};
    pid_t pid = fp_test_spawn(run, &run_opts);
    /* wait until every camera has results, as /metrics shows them */
    const char *metrics = tmp("metrics.txt");
    int all = 0;
    int64_t dl = fp_clock_ns() + 60 * SEC;
    while (!all && fp_clock_ns() < dl) {
        fp_sleep_ns(500000000);
        if (http_get(http_port, "/metrics", metrics) != 0)
            continue;
        char *m = slurp(metrics);
        all = 1;
        const char *names[] = {"file-a", "file-b", "file-c", "rtsp"};
        for (int i = 0; i < 4; i++) {
            char key[128];
            snprintf(key, sizeof(key), "fp_camera_processed_total{camera=\"%s\"} ", names[i]);
            const char *at = strstr(m, key);
            if (!at || atoll(at + strlen(key)) < 5)
                all = 0;
        }
        free(m);
    }
    CHECK_MSG(all, "not every camera had results in /metrics within 60 s: %s", slurp(tmp("four.err")));
    char *m = slurp(metrics);
    CHECK(strstr(m, "fp_camera_input_fps{camera=\"rtsp\"}"));
    CHECK(strstr(m, "fp_stage_latency_seconds_bucket"));
    CHECK(strstr(m, "fp_pool_hit_rate"));
    free(m);
    CHECK_EQ(http_get(http_port, "/healthz", tmp("health.txt")), 0);
    CHECK_EQ(http_get(http_port, "/api/cameras", tmp("cameras.json")), 0);
    cJSON *cams = parse_file(tmp("cameras.json"));
    CHECK(cJSON_IsArray(cams));
    CHECK_EQ(cJSON_GetArraySize(cams), 4);
    CHECK(!strcmp(str(cJSON_GetArrayItem(cams, 3), "state"), "running"));
    /* every camera's fields and types, as docs/http.md lists them */
    for (int i = 0; i < 4; i++) {
        cJSON *c = cJSON_GetArrayItem(cams, i);
        check_keys(c, "name:s,url:s,state:s,live:b,policy:s,width:n,height:n,frames:n,processed:n,skipped:n,"
                      "reconnects:n,decode_errors:n,fps_in:n,fps_processed:n,fps_skipped:n,latency_ms:o,last_error:z",
                   "/api/cameras item");
        check_keys(cJSON_GetObjectItemCaseSensitive(c, "latency_ms"), "p50:n,p99:n", "/api/cameras latency_ms");
    }
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cams, 3), "live")));
    CHECK(!strcmp(str(cJSON_GetArrayItem(cams, 3), "policy"), "latest"));
    CHECK(!strcmp(str(cJSON_GetArrayItem(cams, 0), "policy"), "lossless"));
    CHECK_EQ(num(cJSON_GetArrayItem(cams, 1), "width"), 352);
    cJSON_Delete(cams);

    /* SIGTERM: drain and exit 0 */
    int rc = fp_test_stop(pid, 30000);
    CHECK_MSG(rc == 0, "exit %d after SIGTERM: %s", rc, slurp(tmp("four.err")));
    fp_test_stop(srv, 2000);
    /* the output ends with whole lines, every one JSON, from all four cameras */
    static cJSON *items[20000];
    int n = parse_lines(out, items, 20000);
    CHECK(n > 20);
    int per[4] = {0};
    for (int k = 0; k < n && k < 20000; k++) {
        const char *cam = str(items[k], "camera");
        per[!strcmp(cam, "file-a") ? 0 : !strcmp(cam, "file-b") ? 1 : !strcmp(cam, "file-c") ? 2 : 3]++;
        cJSON_Delete(items[k]);
    }
    for (int i = 0; i < 4; i++)
        CHECK_MSG(per[i] > 0, "camera %d has no results", i);
    free(live);
    free(a);
    free(b);
}

FP_TEST_TIMED(detect_sigint_drains_and_a_second_signal_exits_at_once, 120)
{
    char *clip = fp_media_clip("h264", 320, 240, 50, 25, "mp4");
    char out[600];
    snprintf(out, sizeof(out), "%s", tmp("loop.jsonl"));
    const char *detect[] = {exe(), "detect", "--quiet", "--loop", "-o", out, yolo(), clip, NULL};
    FpTestSpawnOptions detect_opts = {.stderr_path = tmp("loop.err")};
    pid_t pid = fp_test_spawn(detect, &detect_opts);
    struct stat sb;
    int64_t dl = fp_clock_ns() + 60 * SEC;
    while ((stat(out, &sb) != 0 || sb.st_size < 2000) && fp_clock_ns() < dl)
        fp_sleep_ns(50000000);
    kill(pid, SIGINT);
    int rc = fp_test_wait_exit(pid, -1);
    CHECK_MSG(rc == 0, "exit %d after SIGINT", rc);
    cJSON *items[1];
    int n = parse_lines(out, items, 0); /* every line parses: nothing cut in half */
    CHECK(n > 5);

    /* A drain that cannot finish (nobody reads the output pipe): the second signal exits at once with 130. */
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    const char *blocked[] = {exe(), "detect", "--quiet", "--loop", yolo(), clip, NULL};
    FpTestSpawnOptions blocked_opts = {.stdout_fd = fds[1], .stderr_path = "/dev/null"};
    pid = fp_test_spawn(blocked, &blocked_opts);
    close(fds[1]);
    int queued = 0;
    dl = fp_clock_ns() + 60 * SEC;
    while (queued < 60000 && fp_clock_ns() < dl) {
        fp_sleep_ns(50000000);
        CHECK_EQ(ioctl(fds[0], FIONREAD, &queued), 0);
    }
    CHECK_MSG(queued >= 60000, "the output pipe holds only %d bytes", queued);
    kill(pid, SIGINT);
    rc = fp_test_wait_exit(pid, 500);
    CHECK_MSG(rc == -ETIMEDOUT, "exited while its output was blocked (exit %d)", rc);
    kill(pid, SIGINT);
    rc = fp_test_wait_exit(pid, -1);
    CHECK_MSG(rc == 130, "exit %d after the second SIGINT", rc);
    close(fds[0]);
    free(clip);
}

/*
 * A model whose input is not what pre-processing writes (1 or 4 channels) is refused with exit 3 and a
 * message naming the model and its channels. Before the check, the 4-channel model made ONNX Runtime read
 * past the batch tensor (a heap-buffer-overflow under ASan) when run with --batch 8.
 */
FP_TEST_TIMED(detect_a_model_whose_input_prep_cannot_write_is_a_model_error, 120)
{
    char *clip = fp_media_clip("h264", 320, 240, 10, 25, "mp4");
    static const struct {
        const char *model, *needle;
    } cases[] = {{"tiny_input_4ch.onnx", "has 4 channels"}, {"tiny_input_1ch.onnx", "has 1 channel "}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char model[600];
        snprintf(model, sizeof(model), "%s/models/%s", fp_test_source_dir(), cases[i].model);
        const char *argv[] = {exe(), "detect", "--quiet", "--batch", "8", "-o", tmp("ch.jsonl"), model, clip, NULL};
        check_fails(argv, 3, cases[i].needle);
        check_fails(argv, 3, cases[i].model);
    }
    free(clip);
}
