// SPDX-License-Identifier: MIT
// Mutation fuzzing of the YAML config parser: damaged configs never crash and always get a config or a named error.
#include "fp_test.h"

#include "framepipe/config.h"
#include "framepipe/error.h"

#include <stdint.h>

/*
 * A deterministic mutator (seeded, so a failure replays): bit flips, byte
 * replacement with YAML's special characters, deletions, duplications and
 * truncation of a valid config. Every result must parse into a config or
 * fail with FP_ECONFIG whose message names the input; the sanitizer build
 * catches any out-of-bounds access or leak.
 */
static const char seed[] =
    "cameras:\n"
    "  - name: door\n"
    "    url: rtsp://127.0.0.1:8554/a\n"
    "    policy: latest\n"
    "    fps: 12.5\n"
    "    roi: [0, 0, 640, 480]\n"
    "    stall_timeout: 2s\n"
    "  - {name: yard, url: clips/yard.mp4, loop: true, every_nth: 2}\n"
    "model:\n"
    "  path: models/m.onnx\n"
    "  family: yolov8\n"
    "  input: [640, 640]\n"
    "  confidence: 0.4\n"
    "batch: {max_batch: 8, max_wait: 5ms, per_camera: 2}\n"
    "output:\n"
    "  jsonl: \"-\"\n"
    "  http: 127.0.0.1:9090\n";

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33) % n;
}

static size_t mutate(char *buf, size_t len, size_t cap)
{
    static const char special[] = ":-[]{},#&*!|>'\"%@`\n\t ?0\\";
    int edits = 1 + (int)rnd(4);
    for (int e = 0; e < edits && len > 0; e++) {
        size_t at = rnd((uint32_t)len);
        switch (rnd(5)) {
        case 0: /* flip a bit */
            buf[at] ^= (char)(1u << rnd(8));
            break;
        case 1: /* a YAML special character */
            buf[at] = special[rnd(sizeof(special) - 1)];
            break;
        case 2: { /* delete a run */
            size_t n = 1 + rnd(8);
            if (at + n > len)
                n = len - at;
            memmove(buf + at, buf + at + n, len - at - n);
            len -= n;
            break;
        }
        case 3: { /* duplicate a run */
            size_t n = 1 + rnd(16);
            if (at + n > len)
                n = len - at;
            if (len + n <= cap) {
                memmove(buf + at + n, buf + at, len - at);
                len += n;
            }
            break;
        }
        default: /* truncate */
            len = at;
            break;
        }
    }
    return len;
}

FP_TEST_TIMED(config_fuzz_damaged_configs_parse_or_fail_cleanly, 120)
{
    static char buf[4096];
    int parsed = 0, rejected = 0;
    for (int iter = 0; iter < 20000; iter++) {
        rng_state = 0x9e3779b97f4a7c15ull * (uint64_t)(iter + 1);
        size_t len = sizeof(seed) - 1;
        memcpy(buf, seed, len);
        len = mutate(buf, len, sizeof(buf));
        FpConfigFile *cf = NULL;
        int rc = fp_config_parse(&cf, buf, len, "fuzz.yaml");
        if (rc == 0) {
            CHECK(cf != NULL);
            const FpPipelineConfig *c = fp_config_get(cf);
            CHECK(c->n_cameras >= 1 && c->n_cameras <= FP_PIPELINE_MAX_CAMERAS);
            CHECK(c->model.path != NULL);
            fp_config_destroy(&cf);
            parsed++;
        } else {
            CHECK_MSG(rc == FP_ECONFIG, "iteration %d: code %d (%s)", iter, rc, fp_err_name(rc));
            CHECK(cf == NULL);
            CHECK_MSG(strstr(fp_error_detail(rc), "fuzz.yaml"), "iteration %d: message '%s' does not name the file",
                      iter, fp_error_detail(rc));
            rejected++;
        }
    }
    /* the mutations must reach both outcomes, or the test exercises nothing */
    CHECK_MSG(parsed > 200 && rejected > 2000, "parsed %d, rejected %d", parsed, rejected);
}
