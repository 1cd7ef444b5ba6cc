// SPDX-License-Identifier: MIT
// The `framepipe detect` and `framepipe run` commands end to end: JSON lines, annotation, 4 cameras with RTSP and /metrics, signals, bad input.
#include "fp_test.h"
#include "fp_test_spawn.h"
#include "media.h"

#include "framepipe/clock.h"

#include <cjson/cJSON.h>
#include <errno.h>
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
