// SPDX-License-Identifier: MIT
// Benchmark: decode-only throughput of a 1080p H.264 clip through FpSource into pool memory vs `ffmpeg -threads N -i clip -f null -`.
#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/log.h"
#include "framepipe/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * usage: bench_decode [--reps R] [--threads 1,2,...] [--frames N] [--md OUT.md] [--no-update]
 *
 * Both sides decode the same cached clip (generated once with the ffmpeg CLI
 * under $FP_CACHE_DIR/bench) with the same libavcodec thread count, in
 * alternation, R times each; wall time from open to the last frame
 * (framepipe: fp_source_open .. FP_EEND_OF_STREAM, frames released as they
 * arrive; ffmpeg: process start to exit, the CLI's decode ceiling). The table
 * gives medians (min-max) in frames/s, the median of the paired ratios, and
 * framepipe's copy counter (frames copied between decoder and pool: 0 means
 * the decoder wrote straight into pool memory). Writes the section "decode"
 * of bench/RESULTS.md with bench/update_results.py.
 */

#ifndef FP_SOURCE_ROOT
#define FP_SOURCE_ROOT "."
#endif

static int run_argv(const char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int make_clip(char *path, size_t len, int frames)
{
    const char *cache = getenv("FP_CACHE_DIR");
    char dir[400];
    if (cache && *cache)
        snprintf(dir, sizeof(dir), "%.300s", cache);
    else
        snprintf(dir, sizeof(dir), "%.300s/.cache/framepipe", getenv("HOME") ? getenv("HOME") : "/tmp");
    mkdir(dir, 0755);
    strncat(dir, "/bench", sizeof(dir) - strlen(dir) - 1);
    mkdir(dir, 0755);
    snprintf(path, len, "%s/h264-1920x1080-%d.mp4", dir, frames);
    struct stat sb;
    if (stat(path, &sb) == 0 && sb.st_size > 0)
        return 0;
    char tmp[800], nf[16];
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp.mp4", path, (int)getpid());
    snprintf(nf, sizeof(nf), "%d", frames);
    fprintf(stderr, "bench_decode: generating %s (once)\n", path);
    const char *argv[] = {"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                          "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-frames:v", nf,
                          "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", "60",
                          "-pix_fmt", "yuv420p", tmp, NULL};
    if (run_argv(argv) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "bench_decode: cannot generate the clip with the ffmpeg CLI\n");
        return -1;
    }
    return 0;
}

typedef struct FpRun {
    double seconds;
    uint64_t frames, copies;
} FpRun;

static int run_framepipe(const char *clip, int threads, FpRun *out)
{
    FpSourceConfig cfg;
    fp_source_config_init(&cfg);
    cfg.url = clip;
    cfg.name = "bench";
    cfg.decoder_threads = threads;
    cfg.queue_depth = 8;
    int64_t t0 = fp_clock_ns();
    FpSource *s = NULL;
    int rc = fp_source_open(&s, &cfg, NULL);
    if (rc == 0)
        rc = fp_source_start(s);
    uint64_t n = 0;
    while (rc == 0) {
        FpFrame *f = NULL;
        rc = fp_source_next(s, &f, -1);
        if (rc == 0) {
            n++;
            fp_frame_unref(&f);
        }
    }
    out->seconds = (fp_clock_ns() - t0) / 1e9;
    if (rc != FP_EEND_OF_STREAM) {
        fprintf(stderr, "bench_decode: %s\n", fp_error_detail(rc));
        fp_source_close(&s);
        return rc;
    }
    FpSourceStatus st;
    fp_source_get_status(s, &st);
    fp_source_close(&s);
    out->frames = n;
    out->copies = st.copies;
    return 0;
}

static double run_ffmpeg(const char *clip, int threads)
{
    char t[16];
    snprintf(t, sizeof(t), "%d", threads);
    const char *argv[] = {"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", t,
                          "-i", clip, "-f", "null", "-", NULL};
    int64_t t0 = fp_clock_ns();
    if (run_argv(argv) != 0)
        return -1;
    return (fp_clock_ns() - t0) / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int reps = 5, frames = 300, nthreads = 0, threads[8];
    const char *md = "/tmp/fp-bench-decode.md";
    int update = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc)
            frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--md") && i + 1 < argc)
            md = argv[++i];
        else if (!strcmp(argv[i], "--no-update"))
            update = 0;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            for (char *p = strtok(argv[++i], ","); p && nthreads < 8; p = strtok(NULL, ","))
                threads[nthreads++] = atoi(p);
        } else {
            fprintf(stderr, "usage: %s [--reps R] [--threads 1,2] [--frames N] [--md OUT.md] "
                            "[--no-update]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 50 || frames < 10) {
        fprintf(stderr, "bench_decode: --reps must be 1..50 and --frames >= 10\n");
        return 2;
    }
    if (!nthreads) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        threads[nthreads++] = 1;
        if (ncpu > 1)
            threads[nthreads++] = ncpu > 8 ? 8 : (int)ncpu;
    }
    fp_log_set_level(FP_LOG_WARN);
    char clip[700];
    if (make_clip(clip, sizeof(clip), frames) < 0)
        return 1;

    char table[4096];
    int tl = snprintf(table, sizeof(table),
                      "| threads | framepipe fps, median (min-max) | ffmpeg CLI fps, median (min-max) "
                      "| ratio framepipe/ffmpeg (median of pairs) | frame copies decoder->pool |\n"
                      "|---|---|---|---|---|\n");
    for (int t = 0; t < nthreads; t++) {
        double fp_fps[50], ff_fps[50], ratio[50];
        uint64_t copies = 0, nframes = 0;
        for (int r = 0; r < reps; r++) {
            FpRun run = {0};
            if (run_framepipe(clip, threads[t], &run) < 0)
                return 1;
            double ff = run_ffmpeg(clip, threads[t]);
            if (ff <= 0) {
                fprintf(stderr, "bench_decode: the ffmpeg CLI failed\n");
                return 1;
            }
            nframes = run.frames;
            copies += run.copies;
            fp_fps[r] = run.frames / run.seconds;
            ff_fps[r] = run.frames / ff;
            ratio[r] = fp_fps[r] / ff_fps[r];
            fprintf(stderr, "threads %d rep %d: framepipe %.1f fps, ffmpeg %.1f fps\n", threads[t],
                    r + 1, fp_fps[r], ff_fps[r]);
        }
        double fmed = median(fp_fps, reps), cmed = median(ff_fps, reps), rmed = median(ratio, reps);
        tl += snprintf(table + tl, sizeof(table) - (size_t)tl,
                       "| %d | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.3fx | %llu of %llu |\n",
                       threads[t], fmed, fp_fps[0], fp_fps[reps - 1], cmed, ff_fps[0],
                       ff_fps[reps - 1], rmed, (unsigned long long)copies,
                       (unsigned long long)nframes * reps);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    FILE *fp = fopen(md, "w");
    if (!fp) {
        fprintf(stderr, "bench_decode: cannot write %s: %s\n", md, strerror(errno));
        return 1;
    }
    fprintf(fp,
            "## Decode: FpSource into pool memory vs the FFmpeg CLI\n\n"
            "1080p H.264 (testsrc2, x264 veryfast crf 20, %d frames), decode only; %d runs per row, "
            "alternating; wall time open -> last frame; %ld CPUs. Target: ratio >= 0.95, zero copies.\n"
            "Re-run: `ninja -C build/release && build/release/bench/bench_decode`.\n\n%s",
            frames, reps, ncpu, table);
    fclose(fp);
    printf("%s", table);
    if (update) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "python3 %s/bench/update_results.py decode %s", FP_SOURCE_ROOT, md);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_decode: could not update bench/RESULTS.md (%s)\n", cmd);
    }
    return 0;
}
