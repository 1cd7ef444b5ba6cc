// SPDX-License-Identifier: MIT
// JSON lines sink: every line read back by Python's strict json module (fields, escaping, UTF-8, NaN), errors, threads, allocations.
#include "fp_test.h"
#include "fp_alloc_count.h"

#include "framepipe/clock.h"
#include "framepipe/rules.h"
#include "framepipe/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the independent reader: tests/sink/jsonl_check.py (Debian's python3) ---- */

typedef struct Parsed {
    char *text; /* "key\tvalue\n" lines */
    size_t len;
} Parsed;

static void parse_file(Parsed *p, const char *path, const char *mode)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        fp_test_skip("/usr/bin/python3 is missing");
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/sink/jsonl_check.py '%s' %s", fp_test_source_dir(), path,
             mode);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    size_t cap = 1 << 16;
    p->text = malloc(cap);
    p->len = 0;
    CHECK(p->text != NULL);
    size_t n;
    while ((n = fread(p->text + p->len, 1, cap - p->len - 1, f)) > 0) {
        p->len += n;
        if (cap - p->len < 4096) {
            cap *= 2;
            p->text = realloc(p->text, cap);
            CHECK(p->text != NULL);
        }
    }
    p->text[p->len] = '\0';
    int st = pclose(f);
    CHECK_MSG(st == 0, "jsonl_check.py rejected %s (status %d); its output:\n%s", path, st, p->text);
}

static void parsed_free(Parsed *p)
{
    free(p->text);
    p->text = NULL;
}

/* The value of `key` (e.g. "0.detections[1].score"), copied into a static buffer; NULL when absent. */
static const char *get(const Parsed *p, const char *key)
{
    static char val[4096];
    size_t kl = strlen(key);
    const char *s = p->text;
    while (s && *s) {
        if (strncmp(s, key, kl) == 0 && s[kl] == '\t') {
            const char *v = s + kl + 1;
            const char *e = strchr(v, '\n');
            size_t vl = e ? (size_t)(e - v) : strlen(v);
            if (vl >= sizeof(val))
                vl = sizeof(val) - 1;
            memcpy(val, v, vl);
            val[vl] = '\0';
            return val;
        }
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    return NULL;
}

static void check_str(const Parsed *p, const char *key, const char *expect_bytes)
{
    const char *v = get(p, key);
    CHECK_MSG(v != NULL, "%s missing", key);
    char hex[2048] = "s:";
    for (size_t i = 0; expect_bytes[i] && i < 1000; i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", (unsigned char)expect_bytes[i]);
    CHECK_MSG(strcmp(v, hex) == 0, "%s: got %s, expected %s (%s)", key, v, hex, expect_bytes);
}

static double get_num(const Parsed *p, const char *key)
{
    const char *v = get(p, key);
    CHECK_MSG(v != NULL, "%s missing", key);
    CHECK_MSG(strncmp(v, "n:", 2) == 0, "%s is not a number: %s", key, v);
    return strtod(v + 2, NULL);
}

static void check_null(const Parsed *p, const char *key)
{
    const char *v = get(p, key);
    CHECK_MSG(v != NULL, "%s missing", key);
    CHECK_MSG(strcmp(v, "null") == 0, "%s: expected null, got %s", key, v);
}

static void check_keys(const Parsed *p, const char *key, const char *expect)
{
    char k[256];
    snprintf(k, sizeof(k), "%s{}", key);
    const char *v = get(p, k);
    CHECK_MSG(v != NULL, "%s missing", k);
    CHECK_MSG(strcmp(v, expect) == 0, "%s: keys %s, expected %s", key, v, expect);
}

/* ---- building results by hand ---- */

static FpFrame make_frame(int camera, uint64_t seq)
{
    FpFrame f;
    memset(&f, 0, sizeof(f));
    f.width = 1920;
    f.height = 1080;
    f.format = FP_PIX_YUV420P;
    f.camera = camera;
    f.seq = seq;
    f.pts_ns = 480000000;
    f.capture_ns = 0;
    f.decoded_ns = fp_clock_ns() - 5000000; /* decoded 5 ms ago */
    return f;
}

static FpDetection make_det(int class_id, float score, float x1, float y1, float x2, float y2)
{
    FpDetection d;
    memset(&d, 0, sizeof(d));
    d.class_id = class_id;
    d.score = score;
    d.box = (FpBox){x1, y1, x2, y2};
    return d;
}

static const char *tmp_path(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/%s", fp_test_tmpdir(), name);
    return path;
}

FP_TEST(jsonl_fields_and_values)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", tmp_path("out.jsonl"));
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, path));
    FpFrame f = make_frame(3, 12);
    struct tm tm = {.tm_year = 2026 - 1900, .tm_mon = 11, .tm_mday = 1, .tm_hour = 19};
    f.capture_ns = (int64_t)timegm(&tm) * 1000000000 + 123456789;
    FpDetection d[2] = {make_det(0, 0.93f, 10.25f, 20.0f, 110.04f, 220.96f), make_det(1, 0.5f, 0, 0, 1919.5f, 1080)};
    const char *names[] = {"face", "person"};
    FpFrameResult r = {.frame = &f, .camera_name = "cam0", .dets = d, .n_dets = 2, .class_names = names,
                       .n_classes = 2, .queue_ns = 1200000, .prep_ns = 300000, .infer_ns = 5100000,
                       .post_ns = 100000, .batch_size = 4};
    CHECK_OK(fp_jsonl_sink_write(s, &r));
    f.seq = 13;
    f.pts_ns = -40000000; /* negative pts (an edit list) stays a valid number */
    CHECK_OK(fp_jsonl_sink_write(s, &r));
    CHECK_EQ(fp_jsonl_sink_lines(s), 2);
    fp_jsonl_sink_destroy(&s);
    CHECK(s == NULL);

    Parsed p;
    parse_file(&p, path, "flat");
    CHECK(strcmp(get(&p, "lines"), "2") == 0);
    check_keys(&p, "0", "camera,camera_id,seq,pts,capture_time,width,height,batch,latency_ms,detections");
    check_str(&p, "0.camera", "cam0");
    CHECK_EQ(get_num(&p, "0.camera_id"), 3);
    CHECK_EQ(get_num(&p, "0.seq"), 12);
    CHECK_EQ(get_num(&p, "1.seq"), 13);
    CHECK_NEAR(get_num(&p, "0.pts"), 0.48, 1e-9);
    CHECK_NEAR(get_num(&p, "1.pts"), -0.04, 1e-9);
    check_str(&p, "0.capture_time", "2026-12-01T19:00:00.123456Z");
    CHECK_EQ(get_num(&p, "0.width"), 1920);
    CHECK_EQ(get_num(&p, "0.height"), 1080);
    CHECK_EQ(get_num(&p, "0.batch"), 4);
    check_keys(&p, "0.latency_ms", "queue,prep,infer,post,total");
    CHECK_NEAR(get_num(&p, "0.latency_ms.queue"), 1.2, 1e-9);
    CHECK_NEAR(get_num(&p, "0.latency_ms.prep"), 0.3, 1e-9);
    CHECK_NEAR(get_num(&p, "0.latency_ms.infer"), 5.1, 1e-9);
    CHECK_NEAR(get_num(&p, "0.latency_ms.post"), 0.1, 1e-9);
    double total = get_num(&p, "0.latency_ms.total");
    CHECK_MSG(total >= 5.0 && total < 5000.0, "total latency %g ms (decoded 5 ms before the write)", total);
    CHECK_EQ(get_num(&p, "0.detections#"), 2);
    check_keys(&p, "0.detections[0]", "class_id,class,score,box"); /* no keypoints key without keypoints */
    CHECK_EQ(get_num(&p, "0.detections[0].class_id"), 0);
    check_str(&p, "0.detections[0].class", "face");
    check_str(&p, "0.detections[1].class", "person");
    CHECK_NEAR(get_num(&p, "0.detections[0].score"), 0.93, 1e-9); /* 4 decimals */
    CHECK_NEAR(get_num(&p, "0.detections[1].score"), 0.5, 1e-9);
    CHECK_EQ(get_num(&p, "0.detections[0].box#"), 4);
    CHECK_NEAR(get_num(&p, "0.detections[0].box[0]"), 10.3, 1e-9); /* 1 decimal, rounded */
    CHECK_NEAR(get_num(&p, "0.detections[0].box[1]"), 20.0, 1e-9);
    CHECK_NEAR(get_num(&p, "0.detections[0].box[2]"), 110.0, 1e-9);
    CHECK_NEAR(get_num(&p, "0.detections[0].box[3]"), 221.0, 1e-9);
    CHECK_NEAR(get_num(&p, "0.detections[1].box[2]"), 1919.5, 1e-9);
    parsed_free(&p);
}

FP_TEST(jsonl_escapes_quotes_backslashes_control_chars_and_utf8)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", tmp_path("esc.jsonl"));
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, path));
    FpFrame f = make_frame(0, 0);
    /* every control character, quotes, backslash, slash, DEL, and multi-byte UTF-8 */
    char cam[64];
    int n = 0;
    for (int c = 1; c < 0x20; c++)
        cam[n++] = (char)c;
    memcpy(cam + n, "\"q\"\\/\x7f", 7);
    n += 7;
    cam[n] = '\0';
    const char *utf8 = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad"; /* café € 😀 中 */
    /* invalid UTF-8: stray continuation, overlong '/', lone surrogate, truncated 3-byte, > U+10FFFF, 0xFF */
    const char *bad = "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82" "e\xf4\x90\x80\x80" "f\xff";
    const char *names[] = {utf8, bad, "tab\there"};
    FpDetection d[3] = {make_det(0, 0.9f, 1, 2, 3, 4), make_det(1, 0.8f, 1, 2, 3, 4), make_det(2, 0.7f, 1, 2, 3, 4)};
    FpFrameResult r = {.frame = &f, .camera_name = cam, .dets = d, .n_dets = 3, .class_names = names, .n_classes = 3};
    CHECK_OK(fp_jsonl_sink_write(s, &r));
    fp_jsonl_sink_destroy(&s);

    Parsed p;
    parse_file(&p, path, "flat");
    check_str(&p, "0.camera", cam); /* decodes back to exactly the original bytes */
    check_str(&p, "0.detections[0].class", utf8);
    /* each invalid sequence becomes U+FFFD (EF BF BD); valid bytes around it are kept */
    const char *fffd = "\xef\xbf\xbd";
    char expect[128];
    snprintf(expect, sizeof(expect), "a%sb%s%sc%s%s%sd%s%se%s%s%s%sf%s", fffd, fffd, fffd, fffd, fffd, fffd, fffd,
             fffd, fffd, fffd, fffd, fffd, fffd);
    check_str(&p, "0.detections[1].class", expect);
    check_str(&p, "0.detections[2].class", "tab\there");
    parsed_free(&p);

    /* and the raw bytes: the control characters really are escaped (one physical line) */
    FILE *fh = fopen(path, "rb");
    CHECK(fh != NULL);
    static char raw[8192];
    size_t len = fread(raw, 1, sizeof(raw) - 1, fh);
    fclose(fh);
    raw[len] = '\0';
    CHECK(strchr(raw, '\n') == raw + len - 1);
    CHECK(strstr(raw, "\\u0001") != NULL);
    CHECK(strstr(raw, "\\n") != NULL);
    CHECK(strstr(raw, "\\\"q\\\"\\\\") != NULL);
}

FP_TEST(jsonl_nan_and_infinity_become_null)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", tmp_path("nan.jsonl"));
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, path));
    FpFrame f = make_frame(0, 0);
    FpDetection d[2] = {make_det(0, NAN, INFINITY, -INFINITY, NAN, 5), make_det(0, 0.25f, 1e30f, -3.4e38f, 0, 0)};
    d[0].n_keypoints = 2;
    d[0].keypoints[0][0] = NAN;
    d[0].keypoints[0][1] = 2;
    d[0].keypoints[1][0] = -INFINITY;
    d[0].keypoints[1][1] = INFINITY;
    FpFrameResult r = {.frame = &f, .camera_name = "c", .dets = d, .n_dets = 2, .n_keypoints = 2};
    CHECK_OK(fp_jsonl_sink_write(s, &r));
    fp_jsonl_sink_destroy(&s);

    Parsed p;
    parse_file(&p, path, "flat"); /* the reader rejects NaN/Infinity literals */
    check_null(&p, "0.detections[0].score");
    check_null(&p, "0.detections[0].box[0]");
    check_null(&p, "0.detections[0].box[1]");
    check_null(&p, "0.detections[0].box[2]");
    CHECK_NEAR(get_num(&p, "0.detections[0].box[3]"), 5, 1e-9);
    check_null(&p, "0.detections[0].keypoints[0][0]");
    CHECK_NEAR(get_num(&p, "0.detections[0].keypoints[0][1]"), 2, 1e-9);
    check_null(&p, "0.detections[0].keypoints[1][0]");
    check_null(&p, "0.detections[0].keypoints[1][1]");
    /* huge finite values stay numbers */
    CHECK_NEAR(get_num(&p, "0.detections[1].box[0]") / 1e30, 1.0, 1e-6);
    CHECK_NEAR(get_num(&p, "0.detections[1].box[1]") / -3.4e38, 1.0, 1e-6);
    CHECK_NEAR(get_num(&p, "0.detections[1].score"), 0.25, 1e-9);
    parsed_free(&p);
}

FP_TEST(jsonl_zero_detections_and_missing_names)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", tmp_path("zero.jsonl"));
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, path));
    FpFrame f = make_frame(1, 7);
    f.decoded_ns = 0; /* unknown decode time: total is null, not a huge number */
    FpFrameResult r = {.frame = &f, .camera_name = NULL, .dets = NULL, .n_dets = 0};
    CHECK_OK(fp_jsonl_sink_write(s, &r));
    /* names present but the class id is outside them (and negative): class is null */
    const char *names[] = {"only"};
    FpDetection d[2] = {make_det(5, 0.5f, 1, 1, 2, 2), make_det(-1, 0.5f, 1, 1, 2, 2)};
    FpFrameResult r2 = {.frame = &f, .camera_name = "x", .dets = d, .n_dets = 2, .class_names = names, .n_classes = 1};
    CHECK_OK(fp_jsonl_sink_write(s, &r2));
    /* a result without a frame is refused, nothing written */
    FpFrameResult bad = {.frame = NULL};
    CHECK_EQ(fp_jsonl_sink_write(s, &bad), FP_EINVALID);
    CHECK_EQ(fp_jsonl_sink_lines(s), 2);
    fp_jsonl_sink_destroy(&s);

    Parsed p;
    parse_file(&p, path, "flat");
    CHECK(strcmp(get(&p, "lines"), "2") == 0);
    CHECK_EQ(get_num(&p, "0.detections#"), 0);
    check_null(&p, "0.camera");
    check_null(&p, "0.capture_time");
    check_null(&p, "0.latency_ms.total");
    check_null(&p, "1.detections[0].class");
    check_null(&p, "1.detections[1].class");
    CHECK_EQ(get_num(&p, "1.detections[1].class_id"), -1);
    parsed_free(&p);
}

FP_TEST(jsonl_keypoints)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", tmp_path("kp.jsonl"));
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, path));
    FpFrame f = make_frame(0, 0);
    FpDetection d[2];
    for (int i = 0; i < 2; i++) {
        d[i] = make_det(0, 0.9f, 0, 0, 100, 100);
        d[i].n_keypoints = 6;
        for (int k = 0; k < 6; k++) {
            d[i].keypoints[k][0] = 10.0f * k + i + 0.25f;
            d[i].keypoints[k][1] = 100.0f + k;
        }
    }
    const char *names[] = {"face"};
    FpFrameResult r = {.frame = &f, .camera_name = "c", .dets = d, .n_dets = 2, .class_names = names,
                       .n_classes = 1, .n_keypoints = 6};
    CHECK_OK(fp_jsonl_sink_write(s, &r));
    fp_jsonl_sink_destroy(&s);

    Parsed p;
    parse_file(&p, path, "flat");
    check_keys(&p, "0.detections[0]", "class_id,class,score,box,keypoints");
    for (int i = 0; i < 2; i++) {
        char key[128];
        snprintf(key, sizeof(key), "0.detections[%d].keypoints#", i);
        CHECK_EQ(get_num(&p, key), 6);
        for (int k = 0; k < 6; k++) {
            snprintf(key, sizeof(key), "0.detections[%d].keypoints[%d]#", i, k);
            CHECK_EQ(get_num(&p, key), 2);
            snprintf(key, sizeof(key), "0.detections[%d].keypoints[%d][0]", i, k);
            CHECK_NEAR(get_num(&p, key), round((10.0 * k + i + 0.25) * 10) / 10, 1e-9);
            snprintf(key, sizeof(key), "0.detections[%d].keypoints[%d][1]", i, k);
            CHECK_NEAR(get_num(&p, key), 100.0 + k, 1e-9);
        }
    }
    parsed_free(&p);
}

FP_TEST(jsonl_capture_times_match_python_datetime)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", tmp_path("times.jsonl"));
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, path));
    FpFrame f = make_frame(0, 0);
    FpFrameResult r = {.frame = &f, .camera_name = "c"};
    enum { N = 300 };
    static int64_t t[N];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* 1970 .. 2100, nanosecond resolution; a few fixed edge cases (leap days, year ends) */
        t[i] = (int64_t)(x % (4102444800ull * 1000000000ull));
        if (i == 0)
            t[i] = 1;
        if (i == 1)
            t[i] = 951782400ll * 1000000000 + 999999999; /* 2000-02-29T00:00:00.999999 */
        if (i == 2)
            t[i] = 4107542399ll * 1000000000; /* 2100-02-28T23:59:59 (2100 is no leap year) */
        if (i == 3)
            t[i] = 1483228799ll * 1000000000 + 500; /* 2016-12-31T23:59:59 */
        f.capture_ns = t[i];
        f.seq = (uint64_t)i;
        CHECK_OK(fp_jsonl_sink_write(s, &r));
    }
    fp_jsonl_sink_destroy(&s);
    Parsed p;
    parse_file(&p, path, "flat");
    for (int i = 0; i < N; i++) {
        char key[64];
        snprintf(key, sizeof(key), "%d.capture_us", i);
        const char *v = get(&p, key);
        CHECK_MSG(v != NULL, "line %d: no capture time", i);
        CHECK_MSG(strtoll(v, NULL, 10) == t[i] / 1000, "line %d: python reads %s us, written from %lld ns", i, v,
                  (long long)t[i]);
    }
    parsed_free(&p);
}

FP_TEST(jsonl_write_allocates_nothing_after_warmup)
{
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, tmp_path("alloc.jsonl")));
    FpFrame f = make_frame(0, 0);
    f.capture_ns = fp_wall_ns();
    static FpDetection d[4000];
    for (int i = 0; i < 4000; i++) {
        d[i] = make_det(i % 3, 0.5f, (float)i, 1, (float)i + 10, 20);
        d[i].n_keypoints = 5;
    }
    const char *names[] = {"a \"quoted\" name", "caf\xc3\xa9", "x"};
    FpFrameResult r = {.frame = &f, .camera_name = "cam\\0", .dets = d, .n_dets = 50, .class_names = names,
                       .n_classes = 3, .n_keypoints = 5, .queue_ns = 1, .batch_size = 8};
    for (int i = 0; i < 3; i++)
        CHECK_OK(fp_jsonl_sink_write(s, &r));
    unsigned long before = fp_alloc_calls();
    for (int i = 0; i < 1000; i++) {
        f.seq = (uint64_t)i;
        r.n_dets = i % 51;
        CHECK_OK(fp_jsonl_sink_write(s, &r));
    }
    unsigned long calls = fp_alloc_calls() - before;
    CHECK_MSG(calls == 0, "%lu allocator calls in 1000 writes", calls);
    /* a frame far larger than any before grows the buffer once; then nothing again */
    r.n_dets = 4000;
    CHECK_OK(fp_jsonl_sink_write(s, &r));
    before = fp_alloc_calls();
    for (int i = 0; i < 20; i++)
        CHECK_OK(fp_jsonl_sink_write(s, &r));
    calls = fp_alloc_calls() - before;
    CHECK_MSG(calls == 0, "%lu allocator calls writing 4000-detection lines after growth", calls);
    CHECK_EQ(fp_jsonl_sink_lines(s), 1024);
    fp_jsonl_sink_destroy(&s);
    /* and the big lines are valid */
    Parsed p;
    parse_file(&p, tmp_path("alloc.jsonl"), "seq");
    CHECK(strstr(p.text, "lines\t1024\n") != NULL);
    CHECK(strstr(p.text, "cam\\0\t999\t4000\n") != NULL);
    parsed_free(&p);
}

FP_TEST(jsonl_dev_full_error_names_the_path)
{
    if (access("/dev/full", W_OK) != 0)
        fp_test_skip("/dev/full is not writable here");
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, "/dev/full"));
    FpFrame f = make_frame(0, 0);
    FpFrameResult r = {.frame = &f, .camera_name = "c"};
    for (int i = 0; i < 3; i++) { /* every attempt fails cleanly, none crashes */
        fp_error_clear();
        CHECK_EQ(fp_jsonl_sink_write(s, &r), -ENOSPC);
        CHECK_MSG(strstr(fp_error_detail(-ENOSPC), "/dev/full") != NULL, "detail: %s", fp_error_detail(-ENOSPC));
    }
    CHECK_EQ(fp_jsonl_sink_lines(s), 0);
    fp_jsonl_sink_destroy(&s);
}

/*
 * A write cut short (here by RLIMIT_FSIZE, as a full disk would) leaves only
 * whole lines in the file (issue 16, fault 3: it ended with half a line).
 * Runs in a child: the file size limit must not reach the harness.
 */
FP_TEST(jsonl_short_write_leaves_only_whole_lines)
{
    const char *path = tmp_path("short.jsonl");
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of the signal */
        struct rlimit rl = {10000, 10000};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(10);
        FpJsonlSink *s;
        if (fp_jsonl_sink_create(&s, path) < 0)
            _exit(11);
        FpFrame f = make_frame(0, 0);
        FpDetection dets[3] = {{.class_id = 1, .score = 0.5f, .box = {1, 2, 3, 4}}};
        FpFrameResult r = {.frame = &f, .camera_name = "cam", .dets = dets, .n_dets = 3};
        int rc = 0, i = 0;
        for (; i < 1000 && rc == 0; i++)
            rc = fp_jsonl_sink_write(s, &r);
        _exit(rc == -EFBIG && i > 3 ? 0 : 12);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    char buf[12000];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    CHECK(n > 0 && n < 10000);
    CHECK_MSG(buf[n - 1] == '\n', "the file (%zu bytes) ends with a partial line", n);
    Parsed p; /* and every line is valid JSON */
    parse_file(&p, path, "seq");
    parsed_free(&p);
}

/* The events sink shares the frame sink's output (FpLineOut): a closed reader is -EPIPE, never SIGPIPE. */
FP_TEST(events_jsonl_closed_pipe_gives_epipe_not_sigpipe)
{
    char fifo[1024];
    snprintf(fifo, sizeof(fifo), "%s", tmp_path("events-fifo"));
    CHECK(mkfifo(fifo, 0600) == 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    CHECK(rd >= 0);
    FpEventsJsonl *s;
    CHECK_OK(fp_events_jsonl_create(&s, fifo));
    FpEvent ev = {.id = 7, .camera_name = "c", .rule = "r", .rule_kind = FP_RULE_ENTER, .zone = "z",
                  .end_ns = FP_EVENT_ONGOING};
    CHECK_OK(fp_events_jsonl_write(s, &ev, NULL));
    char line[4096];
    ssize_t got = read(rd, line, sizeof(line) - 1);
    CHECK(got > 0);
    line[got] = '\0';
    CHECK_MSG(strncmp(line, "{\"id\":7,", 8) == 0 && line[got - 1] == '\n', "line: %s", line);
    close(rd);
    signal(SIGPIPE, SIG_DFL); /* the default action would kill this process */
    CHECK(!fp_events_jsonl_gone(s));
    CHECK_EQ(fp_events_jsonl_write(s, &ev, NULL), -EPIPE);
    CHECK(fp_events_jsonl_gone(s));
    sigset_t pending;
    sigpending(&pending);
    CHECK(!sigismember(&pending, SIGPIPE));
    CHECK_EQ(fp_events_jsonl_lines(s), 1);
    fp_events_jsonl_destroy(&s);
}

FP_TEST(jsonl_closed_pipe_gives_epipe_not_sigpipe)
{
    char fifo[1024];
    snprintf(fifo, sizeof(fifo), "%s", tmp_path("fifo"));
    CHECK(mkfifo(fifo, 0600) == 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    CHECK(rd >= 0);
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, fifo));
    FpFrame f = make_frame(0, 0);
    FpFrameResult r = {.frame = &f, .camera_name = "c"};
    CHECK_OK(fp_jsonl_sink_write(s, &r));
    /* the live reader sees the whole line at once (no buffering in the sink) */
    char line[4096];
    ssize_t got = read(rd, line, sizeof(line) - 1);
    CHECK(got > 0);
    line[got] = '\0';
    CHECK(strncmp(line, "{\"camera\":\"c\"", 13) == 0);
    CHECK(line[got - 1] == '\n');
    close(rd);
    signal(SIGPIPE, SIG_DFL); /* the default action would kill this process */
    fp_error_clear();
    CHECK(!fp_jsonl_sink_gone(s));
    CHECK_EQ(fp_jsonl_sink_write(s, &r), -EPIPE);
    CHECK(fp_jsonl_sink_gone(s)); /* the reader left for good */
    CHECK_MSG(strstr(fp_error_detail(-EPIPE), fifo) != NULL, "detail: %s", fp_error_detail(-EPIPE));
    CHECK_EQ(fp_jsonl_sink_write(s, &r), -EPIPE);
    /* no SIGPIPE left pending or blocked behind */
    sigset_t pending, mask;
    sigpending(&pending);
    CHECK(!sigismember(&pending, SIGPIPE));
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    CHECK(!sigismember(&mask, SIGPIPE));
    CHECK_EQ(fp_jsonl_sink_lines(s), 1);
    fp_jsonl_sink_destroy(&s);
}

FP_TEST(jsonl_stdout_is_written_and_not_closed)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", tmp_path("stdout.jsonl"));
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(saved >= 0 && fd >= 0);
    CHECK(dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);
    close(fd);
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, "-"));
    FpFrame f = make_frame(2, 99);
    FpFrameResult r = {.frame = &f, .camera_name = "std"};
    CHECK_OK(fp_jsonl_sink_write(s, &r));
    fp_jsonl_sink_destroy(&s);
    CHECK(fcntl(STDOUT_FILENO, F_GETFD) >= 0); /* still open */
    CHECK(dup2(saved, STDOUT_FILENO) == STDOUT_FILENO);
    close(saved);
    Parsed p;
    parse_file(&p, path, "seq");
    CHECK_MSG(strcmp(p.text, "std\t99\t0\nlines\t1\n") == 0, "got %s", p.text);
    parsed_free(&p);
}

FP_TEST(jsonl_create_errors_name_the_path)
{
    FpJsonlSink *s = NULL;
    CHECK_EQ(fp_jsonl_sink_create(&s, NULL), FP_EINVALID);
    CHECK_EQ(fp_jsonl_sink_create(&s, ""), FP_EINVALID);
    char path[1024];
    snprintf(path, sizeof(path), "%s/no/such/dir/out.jsonl", fp_test_tmpdir());
    CHECK_EQ(fp_jsonl_sink_create(&s, path), -ENOENT);
    CHECK(strstr(fp_error_detail(-ENOENT), path) != NULL);
    CHECK(s == NULL);
}

/* ---- threads ---- */

enum { THREADS = 8, LINES_PER_THREAD = 250, DETS_PER_LINE = 60 };

typedef struct Writer {
    FpJsonlSink *sink;
    int id;
    int failures;
} Writer;

static void *writer_main(void *arg)
{
    Writer *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "t%d", w->id);
    FpDetection d[DETS_PER_LINE];
    for (int i = 0; i < DETS_PER_LINE; i++)
        d[i] = make_det(w->id, 0.5f, (float)i, 1, (float)i + 100, 200);
    for (int i = 0; i < LINES_PER_THREAD; i++) {
        FpFrame f = make_frame(w->id, (uint64_t)i);
        /* lines of varying length, most far beyond PIPE_BUF */
        FpFrameResult r = {.frame = &f, .camera_name = name, .dets = d, .n_dets = (i * 7 + w->id) % DETS_PER_LINE};
        if (fp_jsonl_sink_write(w->sink, &r) != 0)
            w->failures++;
    }
    return NULL;
}

FP_TEST(jsonl_threads_write_whole_lines)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", tmp_path("threads.jsonl"));
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, path));
    pthread_t th[THREADS];
    Writer w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (Writer){s, i, 0};
        CHECK(pthread_create(&th[i], NULL, writer_main, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(w[i].failures, 0);
    }
    CHECK_EQ(fp_jsonl_sink_lines(s), THREADS * LINES_PER_THREAD);
    fp_jsonl_sink_destroy(&s);

    Parsed p;
    parse_file(&p, path, "seq"); /* fails on any torn or interleaved line */
    int next[THREADS] = {0};
    int total = 0;
    for (char *line = p.text; *line;) {
        char *nl = strchr(line, '\n');
        CHECK(nl != NULL);
        *nl = '\0';
        int t, seq, n;
        if (sscanf(line, "t%d\t%d\t%d", &t, &seq, &n) == 3) {
            CHECK(t >= 0 && t < THREADS);
            CHECK_MSG(seq == next[t], "thread %d: seq %d after %d", t, seq, next[t] - 1);
            CHECK_EQ(n, (seq * 7 + t) % DETS_PER_LINE);
            next[t]++;
            total++;
        } else {
            CHECK_MSG(strncmp(line, "lines\t", 6) == 0, "unexpected: %s", line);
        }
        line = nl + 1;
    }
    CHECK_EQ(total, THREADS * LINES_PER_THREAD);
    parsed_free(&p);
}

FP_TEST(jsonl_track_ids_only_with_tracking_and_null_for_none)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", tmp_path("track.jsonl"));
    FpJsonlSink *s;
    CHECK_OK(fp_jsonl_sink_create(&s, path));
    FpFrame f = make_frame(0, 3);
    FpDetection d[2] = {make_det(0, 0.9f, 1, 1, 20, 20), make_det(0, 0.05f, 30, 30, 40, 40)};
    const uint64_t ids[2] = {18446744073709551615ull, 0}; /* the largest id; 0: no track */
    FpFrameResult tracked = {.frame = &f, .camera_name = "a", .dets = d, .n_dets = 2, .track_ids = ids};
    FpFrameResult untracked = {.frame = &f, .camera_name = "a", .dets = d, .n_dets = 2};
    CHECK_OK(fp_jsonl_sink_write(s, &tracked));
    CHECK_OK(fp_jsonl_sink_write(s, &untracked));
    fp_jsonl_sink_destroy(&s);
    Parsed p;
    parse_file(&p, path, "flat");
    CHECK_MSG(get(&p, "0.detections[0].track_id") && !strcmp(get(&p, "0.detections[0].track_id"),
                                                           "n:18446744073709551615"),
              "track_id is %s", get(&p, "0.detections[0].track_id") ? get(&p, "0.detections[0].track_id") : "absent");
    check_null(&p, "0.detections[1].track_id");
    CHECK(get(&p, "1.detections[0].track_id") == NULL);
    CHECK(get(&p, "1.detections[1].track_id") == NULL);
    parsed_free(&p);
}
