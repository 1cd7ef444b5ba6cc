// SPDX-License-Identifier: MIT
// `framepipe` used as a hostile user would (issue 16): protocols, stdin twice, log injection, bad images, truncated files, dead outputs.
#include "fp_test.h"
#include "fp_test_spawn.h"
#include "media.h"

#include <errno.h>
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
