// SPDX-License-Identifier: MIT
// `framepipe` used as a hostile user would (issue 16): protocols, stdin twice, log injection, bad images, truncated files, dead outputs.
#include "fp_test.h"
#include "fp_test_spawn.h"
#include "media.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *exe(void)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/apps/framepipe", fp_test_build_dir());
    return path;
}

/* BlazeFace front-128, the model the faults were found with. */
static const char *blazeface128(void)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/models/blazeface/face_detection_front_128x128_barracuda.onnx",
             fp_test_cache_dir());
    if (access(path, R_OK) != 0)
        fp_test_skip("%s missing: run scripts/setup.sh", path);
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

static char *slurp(const char *path)
{
    size_t len = 0;
    unsigned char *d = fp_media_read_file(path, &len);
    CHECK_MSG(d, "cannot read %s", path);
    char *s = realloc(d, len + 1);
    s[len] = 0;
    return s;
}

static int count_lines(const char *path)
{
    char *s = slurp(path);
    int n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

/* Runs argv; checks the exit code and that stderr holds `needle` (NULL: anything). Returns stderr (caller frees). */
static char *expect_exit(const char *const argv[], const char *out, int want, const char *needle)
{
    const char *err = tmp("cmd.err");
    int rc = fp_test_run(argv, out ? out : "/dev/null", err);
    char *e = slurp(err);
    CHECK_MSG(rc == want, "exit %d (expected %d): %s", rc, want, e);
    CHECK_MSG(!needle || strstr(e, needle), "stderr lacks '%s': %s", needle, e);
    return e;
}

/* Fault 12: a path reaches the file protocol only; concat: works when asked for. */
FP_TEST_TIMED(inputs_reach_only_their_own_protocol, 120)
{
    char *clip = fp_media_clip("h264", 160, 120, 5, 25, "h264"); /* Annex B: concatenated bytes are 10 frames */
    char concat[1400];
    snprintf(concat, sizeof(concat), "concat:%s|%s", clip, clip);
    const char *out = tmp("concat.jsonl");
    const char *a1[] = {exe(), "detect", "--quiet", "-o", out, blazeface128(), concat, NULL};
    free(expect_exit(a1, NULL, 1, "uses the 'concat' protocol, which is not allowed"));
    CHECK_EQ(count_lines(out), 0);
    const char *a2[] = {exe(), "detect", "--quiet", "--protocols", "file,concat", "-o", out, blazeface128(), concat,
                        NULL};
    free(expect_exit(a2, NULL, 0, NULL));
    CHECK_EQ(count_lines(out), 10);
    /* a config's url: with another scheme is refused the same way */
    const char *a3[] = {exe(), "probe", "--frames", "1", "gopher://127.0.0.1:1/x", NULL};
    free(expect_exit(a3, NULL, 1, "'gopher' protocol"));
    free(clip);
}

/* Fault 12: `--` ends the options; `-` (stdin) twice is a usage error. */
FP_TEST_TIMED(double_dash_and_stdin_twice, 120)
{
    char *clip = fp_media_clip("h264", 160, 120, 3, 25, "mp4");
    char dashed[700];
    snprintf(dashed, sizeof(dashed), "%s", tmp("-dash.mp4"));
    unlink(dashed);
    CHECK(symlink(clip, dashed) == 0);
    const char *out = tmp("dash.jsonl");
    /* an input whose name starts with '-' after --; run from its folder so that it is "-dash.mp4" */
    FpTestSpawnOptions so = {.stdout_path = out, .stderr_path = "/dev/null", .cwd = fp_test_tmpdir()};
    const char *a1[] = {exe(), "detect", "--quiet", blazeface128(), "--", "-dash.mp4", NULL};
    pid_t pid = fp_test_spawn(a1, &so);
    CHECK_EQ(fp_test_wait_exit(pid, 60000), 0);
    CHECK_EQ(count_lines(out), 3);
    const char *a2[] = {exe(), "detect", "--quiet", "--raw", "2x2:gray8", blazeface128(), "-", "-", NULL};
    free(expect_exit(a2, NULL, 2, "- (stdin) is given 2 times"));
    free(clip);
}

/* Fault 12: a newline in a file name is escaped in log and error lines, so it cannot forge a line. */
FP_TEST_TIMED(file_names_cannot_forge_log_lines, 120)
{
    const char *a1[] = {exe(), "detect", "--quiet", blazeface128(), "/nonexistent/a\n[    0.1] W forged: x.mp4", NULL};
    char *e = expect_exit(a1, NULL, 1, "a\\n[    0.1] W forged: x.mp4");
    for (const char *line = e; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        CHECK_MSG(strncmp(line, "[    0.1] W forged", 18) != 0, "a forged line: %s", e);
    free(e);
}

static uint32_t crc32_png(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A PNG whose IHDR claims w x h (valid CRC), with a few bytes of IDAT and IEND. */
static void write_png_header(const char *path, uint32_t w, uint32_t h)
{
    unsigned char b[128];
    size_t n = 0;
    memcpy(b, "\x89PNG\r\n\x1a\n", 8), n = 8;
    unsigned char ihdr[4 + 13] = {'I', 'H', 'D', 'R'};
    put_be32(ihdr + 4, w);
    put_be32(ihdr + 8, h);
    ihdr[12] = 8, ihdr[13] = 2; /* 8-bit RGB */
    put_be32(b + n, 13), n += 4;
    memcpy(b + n, ihdr, sizeof(ihdr)), n += sizeof(ihdr);
    put_be32(b + n, crc32_png(ihdr, sizeof(ihdr))), n += 4;
    static const unsigned char idat[] = {'I', 'D', 'A', 'T', 0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01};
    put_be32(b + n, sizeof(idat) - 4), n += 4;
    memcpy(b + n, idat, sizeof(idat)), n += sizeof(idat);
    put_be32(b + n, crc32_png(idat, sizeof(idat))), n += 4;
    put_be32(b + n, 0), n += 4;
    memcpy(b + n, "IEND", 4), n += 4;
    put_be32(b + n, crc32_png((const unsigned char *)"IEND", 4)), n += 4;
    CHECK_OK(fp_media_write_file(path, b, n));
}

/* Fault 4: a single image that yields no frame is a failed input: exit 1 and a line naming it. */
FP_TEST_TIMED(bad_single_images_fail_naming_the_input, 240)
{
    char zero[600], noise[600], claims[600], big[600];
    snprintf(zero, sizeof(zero), "%s", tmp("zero.jpg"));
    snprintf(noise, sizeof(noise), "%s", tmp("noise.jpg"));
    snprintf(claims, sizeof(claims), "%s", tmp("claims.png"));
    snprintf(big, sizeof(big), "%s", tmp("big.jpg"));
    CHECK_OK(fp_media_write_file(zero, "", 0));
    unsigned char rnd[5000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(rnd); i++) /* fixed pseudo-random bytes (xorshift) */
        x ^= x << 13, x ^= x >> 17, x ^= x << 5, rnd[i] = (unsigned char)x;
    CHECK_OK(fp_media_write_file(noise, rnd, sizeof(rnd)));
    write_png_header(claims, 60000, 60000);
    const char *ff[] = {"ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=8000x8000",
                        "-frames:v", "1", big, NULL};
    CHECK_EQ(fp_test_run(ff, "/dev/null", NULL), 0);
    const char *inputs[] = {zero, noise, claims};
    for (int i = 0; i < 3; i++) {
        const char *out = tmp("img.jsonl");
        const char *a[] = {exe(), "detect", "--quiet", "-o", out, blazeface128(), inputs[i], NULL};
        char *e = expect_exit(a, NULL, 1, "failed: ");
        CHECK_MSG(strstr(e, inputs[i]), "stderr does not name %s: %s", inputs[i], e);
        CHECK_MSG(strstr(e, "no frame could be decoded"), "%s", e);
        free(e);
        CHECK_EQ(count_lines(out), 0);
    }
    /* Fault 10: an image over the pixel cap says so, not "Invalid argument" */
    const char *a[] = {exe(), "detect", "--quiet", blazeface128(), big, NULL};
    free(expect_exit(a, NULL, 1, "is 8000x8000 (64 megapixels), more than the 40-megapixel limit"));
}

/* Fault 5: a truncated file: its frames, then exit 1 with the input named partial, "partial": true in the summary. */
FP_TEST_TIMED(truncated_file_is_a_partial_input, 240)
{
    char *clip = fp_media_clip("h264", 320, 240, 200, 25, "mp4f");
    size_t len = 0;
    unsigned char *d = fp_media_read_file(clip, &len);
    CHECK(d && len > 1000);
    char half[600];
    snprintf(half, sizeof(half), "%s", tmp("half.mp4"));
    CHECK_OK(fp_media_write_file(half, d, len / 2));
    free(d);
    const char *out = tmp("half.jsonl"), *sum = tmp("half-summary.json");
    const char *a[] = {exe(), "detect", "--quiet", "--summary", sum, "-o", out, blazeface128(), half, NULL};
    free(expect_exit(a, NULL, 1, "input half.mp4 is partial: "));
    int n = count_lines(out);
    CHECK_MSG(n > 20 && n < 200, "%d frames", n);
    char *s = slurp(sum);
    CHECK_MSG(strstr(s, "\"state\":\"ended\",\"partial\":true"), "%s", s);
    free(s);
    /* the whole file is not partial */
    const char *b[] = {exe(), "detect", "--quiet", "--summary", sum, "-o", out, blazeface128(), clip, NULL};
    free(expect_exit(b, NULL, 0, NULL));
    CHECK_EQ(count_lines(out), 200);
    s = slurp(sum);
    CHECK_MSG(strstr(s, "\"partial\":false"), "%s", s);
    free(s);
    free(clip);
}

/*
 * Fault 1: `detect --loop M clip | head -1`: once the only output has lost
 * its reader, the run stops with exit 1 (it decoded on for as long as it was
 * left). No timing: the wait is generous, a run that never stops fails.
 */
FP_TEST_TIMED(a_dead_output_stops_the_run, 300)
{
    char *clip = fp_media_clip("h264", 160, 120, 25, 25, "mp4");
    int fds[2];
    CHECK(pipe(fds) == 0);
    int wr = fcntl(fds[1], F_DUPFD, 10); /* a descriptor > 2 for the spawn options */
    CHECK(wr > 2);
    close(fds[1]);
    const char *err = tmp("dead.err");
    FpTestSpawnOptions so = {.stdout_fd = wr, .stderr_path = err};
    const char *a[] = {exe(), "detect", "--quiet", "--loop", blazeface128(), clip, NULL};
    pid_t pid = fp_test_spawn(a, &so);
    close(wr);
    FILE *in = fdopen(fds[0], "r");
    CHECK(in != NULL);
    char line[4096];
    CHECK(fgets(line, sizeof(line), in) != NULL); /* head -1 */
    CHECK(strncmp(line, "{\"camera\":", 10) == 0);
    fclose(in);
    int rc = fp_test_wait_exit(pid, 120000);
    if (rc == -ETIMEDOUT)
        fp_test_stop(pid, 1000);
    char *e = slurp(err);
    CHECK_MSG(rc == 1, "exit %d (expected 1; -110: still running 120 s after its reader left): %s", rc, e);
    CHECK_MSG(strstr(e, "every output has failed for good"), "%s", e);
    free(e);
    free(clip);
}

static const char *model_path(const char *name)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/models/%s", fp_test_source_dir(), name);
    return path;
}

/*
 * Fault 10: model errors exit 3 from detect and from model alike, with a message that names the
 * model and what is wrong with it (models/gen_hostile_models.py makes them).
 */
FP_TEST_TIMED(model_errors_have_one_exit_code_and_a_clear_message, 180)
{
    char *clip = fp_media_clip("h264", 160, 120, 2, 25, "mp4");
    const char *huge = model_path("tiny_huge_output.onnx");
    const char *a1[] = {exe(), "detect", "--quiet", huge, clip, NULL};
    free(expect_exit(a1, NULL, 3, "output 'out' needs 3221225472 bytes per image, more than the 256 MiB"));
    const char *a2[] = {exe(), "model", huge, NULL};
    free(expect_exit(a2, NULL, 3, "output 'out' needs 3221225472 bytes per image"));
    /* a model file that is not one: 3 from both */
    const char *bad = tmp("not-a-model.onnx");
    CHECK_OK(fp_media_write_file(bad, "not a model", 11));
    const char *a3[] = {exe(), "detect", "--quiet", bad, clip, NULL};
    free(expect_exit(a3, NULL, 3, "not-a-model.onnx"));
    const char *a4[] = {exe(), "model", bad, NULL};
    free(expect_exit(a4, NULL, 3, "not-a-model.onnx"));
    /* an input without a size: the message names the options that exist */
    const char *zero = model_path("tiny_input_zero.onnx");
    const char *a5[] = {exe(), "detect", "--quiet", zero, clip, NULL};
    char *e = expect_exit(a5, NULL, 2, "--input WxH");
    CHECK_MSG(!strstr(e, "set input_height"), "%s", e);
    free(e);
    free(clip);
}
