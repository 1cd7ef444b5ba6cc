// SPDX-License-Identifier: MIT
// Named default models: "face" (BlazeFace back 256) and "face-front" (front 128), found in the model directories.
#include "framepipe/model_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fp_config.h"
#include "framepipe/error.h"

/*
 * "face" is the full-range (back camera) 256x256 BlazeFace: it finds the
 * small faces of ordinary photos, where the front 128 model (selfie range)
 * finds none in opencv-doc's messi5.jpg. Both come from setup
 * (scripts/setup.d/30-models.sh) or an install.
 */
static const FpModelName names[] = {
    {"face", "face_detection_back_256x256_barracuda.onnx",
     "BlazeFace full range (back camera), 256x256: faces of any size in photos and video"},
    {"face-front", "face_detection_front_128x128_barracuda.onnx",
     "BlazeFace short range (front camera), 128x128: close faces, selfies, video calls"},
};

const FpModelName *fp_model_names(int *count)
{
    if (count)
        *count = (int)(sizeof(names) / sizeof(names[0]));
    return names;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int fp_model_name_locate(const FpModelName *m, char *buf, size_t len)
{
    char cand[4][1024];
    int n = 0;
    const char *dir = getenv("FP_MODEL_DIR"), *cache = getenv("FP_CACHE_DIR"), *home = getenv("HOME");
    if (dir && *dir)
        snprintf(cand[n++], sizeof(cand[0]), "%s/%s", dir, m->file);
    if (cache && *cache)
        snprintf(cand[n++], sizeof(cand[0]), "%s/models/blazeface/%s", cache, m->file);
    if (home && *home)
        snprintf(cand[n++], sizeof(cand[0]), "%s/.cache/framepipe/models/blazeface/%s", home, m->file);
    snprintf(cand[n++], sizeof(cand[0]), "%s/%s", FP_MODEL_INSTALL_DIR, m->file);
    for (int i = 0; i < n; i++)
        if (exists(cand[i])) {
            snprintf(buf, len, "%s", cand[i]);
            return 1;
        }
    snprintf(buf, len, "%s", cand[0]);
    return 0;
}

int fp_model_resolve(const char *arg, char *buf, size_t len)
{
    if (!arg || exists(arg))
        return 0;
    int count;
    const FpModelName *t = fp_model_names(&count);
    for (int i = 0; i < count; i++) {
        if (strcmp(arg, t[i].name) != 0)
            continue;
        char path[1024];
        if (fp_model_name_locate(&t[i], path, sizeof(path)) == 1) {
            snprintf(buf, len, "%s", path);
            return 1;
        }
        return fp_error(FP_ENOT_FOUND,
                        "model \"%s\": %s is not installed (looked in $FP_MODEL_DIR, $FP_CACHE_DIR/models/blazeface, "
                        "~/.cache/framepipe/models/blazeface, %s); run scripts/setup.sh",
                        arg, t[i].file, FP_MODEL_INSTALL_DIR);
    }
    return 0;
}
