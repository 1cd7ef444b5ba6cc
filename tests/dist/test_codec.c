// SPDX-License-Identifier: MIT
// The distributed roles' message codec: encode -> parse round trips, and every kind of bad field named by the strict parsers.
#include "fp_test.h"

#include "framepipe/dist.h"
#include "framepipe/error.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t jpeg_bytes[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0xFF, 0xD9};

static FpDistFrame sample_frame(void)
{
    FpDistFrame m;
    memset(&m, 0, sizeof(m));
    strcpy(m.camera, "cam-0.a_b");
    m.epoch = 1733380000123456789LL;
    m.seq = 18446744073709551615ULL;
    m.frame = 42;
    m.pts_ns = -40000000;
    m.capture_ns = 1733380001000000000LL;
    m.tf = (FpTransform){.scale_x = 0.2f, .scale_y = 0.2f, .offset_x = 0.f, .offset_y = 10.5f,
                         .clip_x0 = 0.f, .clip_y0 = 0.f, .clip_x1 = 640.f, .clip_y1 = 480.f,
                         .src_width = 640, .src_height = 480, .dst_width = 128, .dst_height = 128};
    m.encoding = FP_DIST_JPEG;
    m.payload = jpeg_bytes;
    m.payload_len = sizeof(jpeg_bytes);
    return m;
}

/* The field named `name` of f, or -1. */
static int field(const FpDistFields *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (f->name_len[i] == strlen(name) && !memcmp(f->name[i], name, f->name_len[i]))
            return i;
    return -1;
}

static void set_value(FpDistFields *f, const char *name, const char *value)
{
    int i = field(f, name);
    CHECK(i >= 0);
    f->value[i] = value;
    f->value_len[i] = strlen(value);
}

/* Parsing f fails with FP_ECORRUPT and a message containing `part`. */
static void frame_rejected(const FpDistFields *f, const char *part)
{
    FpDistFrame out;
    int rc = fp_dist_frame_parse(f, &out);
    CHECK_EQ(rc, FP_ECORRUPT);
    CHECK_MSG(strstr(fp_error_detail(rc), part), "message '%s' lacks '%s'", fp_error_detail(rc), part);
}

FP_TEST(frame_round_trip)
{
    FpDistFrame m = sample_frame(), out;
    FpDistFields f;
    CHECK_OK(fp_dist_frame_encode(&m, &f));
    CHECK_OK(fp_dist_frame_parse(&f, &out));
    CHECK(!strcmp(out.camera, m.camera));
    CHECK(out.epoch == m.epoch && out.seq == m.seq && out.frame == m.frame);
    CHECK(out.pts_ns == m.pts_ns && out.capture_ns == m.capture_ns);
    CHECK(out.tf.scale_x == m.tf.scale_x && out.tf.offset_y == m.tf.offset_y && out.tf.clip_x1 == m.tf.clip_x1);
    CHECK(out.tf.src_width == 640 && out.tf.src_height == 480 && out.tf.dst_width == 128 && out.tf.dst_height == 128);
    CHECK(out.encoding == FP_DIST_JPEG && out.payload == jpeg_bytes && out.payload_len == sizeof(jpeg_bytes));
}

FP_TEST(raw_frame_needs_exact_size)
{
    static uint8_t raw[4 * 2 * 3];
    FpDistFrame m = sample_frame(), out;
    m.tf.dst_width = 4, m.tf.dst_height = 2;
    m.encoding = FP_DIST_RAW;
    m.payload = raw;
    m.payload_len = sizeof(raw);
    FpDistFields f;
    CHECK_OK(fp_dist_frame_encode(&m, &f));
    CHECK_OK(fp_dist_frame_parse(&f, &out));
    CHECK(out.encoding == FP_DIST_RAW && out.payload_len == sizeof(raw));
    f.value_len[field(&f, "data")]--;
    frame_rejected(&f, "raw 4x2 RGB needs 24 bytes, got 23");
}

FP_TEST(frame_bad_fields_are_named)
{
    FpDistFrame m = sample_frame();
    FpDistFields f, g;
    CHECK_OK(fp_dist_frame_encode(&m, &f));
    struct {
        const char *name, *value, *part;
    } cases[] = {
        {"v", "2", "field 'v'"},
        {"camera", "cam 0", "field 'camera': expected a name"},
        {"camera", "", "field 'camera'"},
        {"seq", "-1", "field 'seq': expected an unsigned"},
        {"seq", "12a", "field 'seq'"},
        {"seq", "007", "field 'seq'"},
        {"seq", "18446744073709551616", "field 'seq': expected an integer below 2^64"},
        {"epoch", "-5", "field 'epoch'"},
        {"pts", "1.5", "field 'pts': expected a decimal integer, got '1.5'"},
        {"capture", "", "field 'capture'"},
        {"src", "640x", "field 'src': expected WIDTHxHEIGHT"},
        {"src", "0x480", "field 'src'"},
        {"src", "16385x2", "field 'src'"},
        {"dst", "128 x128", "field 'dst'"},
        {"tf", "1 1 0 0 0 0 640", "field 'tf': expected 8 numbers"},
        {"tf", "1 1 0 0 0 0 640 480 9", "field 'tf'"},
        {"tf", "0 1 0 0 0 0 640 480", "field 'tf': expected finite numbers, scales > 0"},
        {"tf", "1 nan 0 0 0 0 640 480", "field 'tf'"},
        {"tf", "1 1 0 0 0 0 641 480", "a clip rectangle inside the source"},
        {"enc", "png", "field 'enc': expected jpeg or raw, got 'png'"},
        {"data", "GIF89a", "not a JPEG"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        g = f;
        set_value(&g, cases[i].name, cases[i].value);
        frame_rejected(&g, cases[i].part);
    }
    /* binary garbage is shown escaped */
    g = f;
    static const char nul_value[] = {'1', 0, '2'};
    g.value[field(&g, "seq")] = nul_value;
    g.value_len[field(&g, "seq")] = 3;
    frame_rejected(&g, "got '1\\x002'");
}

FP_TEST(frame_missing_repeated_unknown_fields)
{
    FpDistFrame m = sample_frame();
    FpDistFields f, g;
    CHECK_OK(fp_dist_frame_encode(&m, &f));
    for (int drop = 0; drop < f.n; drop++) {
        g = f;
        char want[64];
        snprintf(want, sizeof(want), "field '%.*s' is missing", (int)f.name_len[drop], f.name[drop]);
        for (int i = drop; i + 1 < g.n; i++) {
            g.name[i] = g.name[i + 1], g.name_len[i] = g.name_len[i + 1];
            g.value[i] = g.value[i + 1], g.value_len[i] = g.value_len[i + 1];
        }
        g.n--;
        frame_rejected(&g, want);
    }
    g = f;
    g.name[g.n] = "seq", g.name_len[g.n] = 3, g.value[g.n] = "1", g.value_len[g.n] = 1, g.n++;
    frame_rejected(&g, "field 'seq' given twice");
    g = f;
    g.name[g.n] = "colour", g.name_len[g.n] = 6, g.value[g.n] = "1", g.value_len[g.n] = 1, g.n++;
    frame_rejected(&g, "unknown field 'colour'");
    g = f;
    g.n = FP_DIST_MAX_FIELDS + 1;
    frame_rejected(&g, "fields (at most");
    g = f;
    g.n = 0;
    frame_rejected(&g, "is missing");
}

static FpDistResult sample_result(int n)
{
    FpDistResult r;
    memset(&r, 0, sizeof(r));
    strcpy(r.camera, "cam1");
    strcpy(r.worker, "host-123");
    r.epoch = 5, r.seq = 7, r.frame = 9, r.pts_ns = 280000000, r.capture_ns = 1000;
    r.src_width = 1920, r.src_height = 1080;
    r.batch = 4, r.infer_ns = 12345678, r.done_ns = 2000;
    r.n_dets = n;
    return r;
}

FP_TEST(result_round_trip)
{
    FpDetection dets[3], back[3];
    memset(dets, 0, sizeof(dets));
    for (int i = 0; i < 3; i++) {
        dets[i].box = (FpBox){10.25f * (float)i, 20.5f, 100.75f + (float)i, 200.125f};
        dets[i].score = 0.5f + 0.1f * (float)i;
        dets[i].class_id = i * 7;
        dets[i].n_keypoints = i * 3;
        for (int k = 0; k < dets[i].n_keypoints; k++)
            dets[i].keypoints[k][0] = (float)k + 0.5f, dets[i].keypoints[k][1] = -(float)k;
    }
    FpDistResult r = sample_result(3), out;
    uint8_t buf[3 * FP_DIST_DET_BYTES];
    FpDistFields f;
    CHECK_EQ(fp_dist_result_encode(&r, dets, buf, sizeof(buf) - 1, &f), FP_ETOO_LARGE);
    CHECK_OK(fp_dist_result_encode(&r, dets, buf, sizeof(buf), &f));
    CHECK_OK(fp_dist_result_parse(&f, &out, back, 3));
    CHECK(!strcmp(out.camera, "cam1") && !strcmp(out.worker, "host-123"));
    CHECK(out.epoch == 5 && out.seq == 7 && out.frame == 9 && out.pts_ns == 280000000 && out.capture_ns == 1000);
    CHECK(out.src_width == 1920 && out.src_height == 1080 && out.batch == 4 && out.infer_ns == 12345678);
    CHECK(out.done_ns == 2000 && out.n_dets == 3);
    CHECK(!memcmp(dets, back, sizeof(dets)));
    /* too many for the caller's array */
    int rc = fp_dist_result_parse(&f, &out, back, 2);
    CHECK_EQ(rc, FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(rc), "3 detections, room for 2"));
    /* a count that disagrees with the bytes */
    FpDistFields g = f;
    g.value[field(&g, "n")] = "2", g.value_len[field(&g, "n")] = 1;
    rc = fp_dist_result_parse(&g, &out, back, 3);
    CHECK_EQ(rc, FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(rc), "field 'dets': 2 detections need 184 bytes, got 276"));
    /* a NaN box, an inverted box, too many keypoints */
    float nan = NAN;
    memcpy(buf + 4, &nan, 4);
    rc = fp_dist_result_parse(&f, &out, back, 3);
    CHECK_EQ(rc, FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(rc), "detection 0 is not a finite box"));
    CHECK_OK(fp_dist_result_encode(&r, dets, buf, sizeof(buf), &f));
    buf[FP_DIST_DET_BYTES + 24] = 9;
    rc = fp_dist_result_parse(&f, &out, back, 3);
    CHECK_EQ(rc, FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(rc), "detection 1 has 9 keypoints"));
}

FP_TEST(result_empty_and_bad_fields)
{
    FpDistResult r = sample_result(0), out;
    FpDistFields f, g;
    CHECK_OK(fp_dist_result_encode(&r, NULL, NULL, 0, &f));
    CHECK_OK(fp_dist_result_parse(&f, &out, NULL, 0));
    CHECK_EQ(out.n_dets, 0);
    struct {
        const char *name, *value, *part;
    } cases[] = {
        {"worker", "a/b", "field 'worker'"},     {"batch", "0", "field 'batch': expected an integer in 1..1024"},
        {"n", "1025", "field 'n'"},               {"infer", "-1", "field 'infer'"},
        {"done", "x", "field 'done'"},            {"src", "1920x1080x1", "field 'src'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        g = f;
        set_value(&g, cases[i].name, cases[i].value);
        int rc = fp_dist_result_parse(&g, &out, NULL, 0);
        CHECK_EQ(rc, FP_ECORRUPT);
        CHECK_MSG(strstr(fp_error_detail(rc), cases[i].part), "'%s' lacks '%s'", fp_error_detail(rc), cases[i].part);
    }
    /* a frame message is not a result */
    FpDistFrame m = sample_frame();
    CHECK_OK(fp_dist_frame_encode(&m, &g));
    int rc = fp_dist_result_parse(&g, &out, NULL, 0);
    CHECK_EQ(rc, FP_ECORRUPT);
    CHECK(strstr(fp_error_detail(rc), "result message: unknown field 'dst'"));
}

FP_TEST(encoders_refuse_bad_input)
{
    FpDistFrame m = sample_frame();
    FpDistFields f;
    strcpy(m.camera, "bad name");
    CHECK_EQ(fp_dist_frame_encode(&m, &f), FP_EINVALID);
    m = sample_frame();
    m.tf.scale_x = INFINITY;
    CHECK_EQ(fp_dist_frame_encode(&m, &f), FP_EINVALID);
    /* the longest transform text (8 x 15 characters, found by fuzz/fuzz_dist.c) round-trips exactly */
    m = sample_frame();
    m.tf.scale_x = m.tf.scale_y = 3.96040353e-11f;
    m.tf.offset_x = m.tf.offset_y = -1.17549435e-38f;
    m.tf.clip_x0 = m.tf.clip_y0 = 1.17549435e-38f;
    m.tf.clip_x1 = m.tf.clip_y1 = 479.999969f;
    CHECK_OK(fp_dist_frame_encode(&m, &f));
    CHECK(f.value_len[field(&f, "tf")] > 112); /* past the 112-byte slot the codec once had */
    FpDistFrame back;
    CHECK_OK(fp_dist_frame_parse(&f, &back));
    CHECK(back.tf.scale_x == m.tf.scale_x && back.tf.offset_y == m.tf.offset_y && back.tf.clip_y0 == m.tf.clip_y0);
    FpDistResult r = sample_result(FP_DIST_MAX_DETS + 1);
    uint8_t b[8];
    FpDetection d[1];
    CHECK_EQ(fp_dist_result_encode(&r, d, b, sizeof(b), &f), FP_EINVALID);
    /* a detection the parser would refuse is refused by the encoder (found by fuzz/fuzz_dist.c's round trip) */
    uint8_t buf[FP_DIST_DET_BYTES];
    memset(d, 0, sizeof(d));
    d[0].box = (FpBox){10, 10, 20, 20};
    r = sample_result(1);
    CHECK(fp_dist_detection_ok(&d[0]));
    CHECK_OK(fp_dist_result_encode(&r, d, buf, sizeof(buf), &f));
    FpDetection bad[3] = {d[0], d[0], d[0]};
    bad[0].box.x1 = NAN;
    bad[1].box.y2 = 5; /* inverted */
    bad[2].class_id = -1;
    for (int i = 0; i < 3; i++) {
        CHECK(!fp_dist_detection_ok(&bad[i]));
        int rc = fp_dist_result_encode(&r, &bad[i], buf, sizeof(buf), &f);
        CHECK_EQ(rc, FP_EINVALID);
        CHECK(strstr(fp_error_detail(rc), "detection 0 is not a finite box"));
    }
}

/* Values with random bytes changed, cut or grown: the parsers answer 0 or FP_ECORRUPT, never read past a value. */
FP_TEST(mutated_messages_are_parsed_or_refused)
{
    static char vals[FP_DIST_MAX_FIELDS][128];
    uint32_t seed = 12345;
    FpDetection dets[2], back[2];
    memset(dets, 0, sizeof(dets));
    dets[1].box = (FpBox){1, 2, 3, 4};
    FpDistResult r = sample_result(2), rout;
    uint8_t buf[2 * FP_DIST_DET_BYTES];
    FpDistFrame m = sample_frame(), fout;
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        FpDistFields f;
        bool result = iter & 1;
        if (result)
            CHECK_OK(fp_dist_result_encode(&r, dets, buf, sizeof(buf), &f));
        else
            CHECK_OK(fp_dist_frame_encode(&m, &f));
        char *copies[3];
        for (int k = 0; k < 3; k++) {
            seed = seed * 1664525u + 1013904223u;
            int i = (int)(seed >> 8) % f.n;
            size_t len = f.value_len[i] < sizeof(vals[i]) ? f.value_len[i] : sizeof(vals[i]);
            memcpy(vals[i], f.value[i], len);
            seed = seed * 1664525u + 1013904223u;
            switch ((seed >> 24) % 4) {
            case 0: /* flip a byte */
                if (len)
                    vals[i][(seed >> 4) % len] ^= (char)(1 + ((seed >> 12) & 0x7f));
                break;
            case 1: /* cut */
                len = len ? (seed >> 4) % len : 0;
                break;
            case 2: /* grow by a digit */
                if (len < sizeof(vals[i]))
                    vals[i][len++] = (char)('0' + (seed >> 4) % 10);
                break;
            default: /* an empty value */
                len = 0;
                break;
            }
            /* the value lives in its own exactly-sized heap block so ASan sees any read past it */
            char *copy = copies[k] = malloc(len ? len : 1);
            memcpy(copy, vals[i], len);
            f.value[i] = copy;
            f.value_len[i] = len;
        }
        int rc = result ? fp_dist_result_parse(&f, &rout, back, 2) : fp_dist_frame_parse(&f, &fout);
        CHECK_MSG(rc == 0 || rc == FP_ECORRUPT, "rc %d", rc);
        accepted += rc == 0;
        for (int k = 0; k < 3; k++)
            free(copies[k]);
    }
    CHECK(accepted > 0); /* some mutations are harmless (a changed pts digit) */
}
