// SPDX-License-Identifier: MIT
// Classifies a model's outputs (shapes, then metadata) into a detector family for the decoders in src/post/.
#include "framepipe/error.h"
#include "framepipe/family.h"
#include "framepipe/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * Shape rules, in order (B is the batch axis, fixed or dynamic):
 *   BlazeFace  4 outputs [B,Na,1] [B,Nb,1] [B,Na,K] [B,Nb,K], K >= 4 (16: box + 6 keypoints)
 *   SSD        an output [B,N,4] (or [B,N,1,4]) and one [B,N,C] with the same N
 *   YOLO       the first rank-3 output [B,a,b]: a > b is YOLOv5's [B,N,5+C]; otherwise
 *              [B,4+C,N] (YOLOv8/v11) or [B,4*reg_max+C,N] (raw head). v8 and raw differ
 *              only by channel count, so the metadata decides: the class count from
 *              "names" (4 + C vs 4*reg_max + C), or "head" = "raw"; without either the
 *              output is taken as decoded (what ultralytics exports).
 */

const char *fp_family_name(FpFamily family)
{
    switch (family) {
    case FP_FAMILY_YOLOV5: return "yolov5";
    case FP_FAMILY_YOLOV8: return "yolov8";
    case FP_FAMILY_YOLOV8_RAW: return "yolov8-raw";
    case FP_FAMILY_BLAZEFACE: return "blazeface";
    case FP_FAMILY_SSD: return "ssd";
    case FP_FAMILY_UNKNOWN: break;
    }
    return "unknown";
}

int fp_family_parse(const char *name, FpFamily *out)
{
    static const struct {
        const char *name;
        FpFamily family;
    } names[] = {
        {"yolov5", FP_FAMILY_YOLOV5},         {"yolov7", FP_FAMILY_YOLOV5},
        {"yolov8", FP_FAMILY_YOLOV8},         {"yolov11", FP_FAMILY_YOLOV8},
        {"yolo11", FP_FAMILY_YOLOV8},         {"yolov8-raw", FP_FAMILY_YOLOV8_RAW},
        {"yolov8_raw", FP_FAMILY_YOLOV8_RAW}, {"blazeface", FP_FAMILY_BLAZEFACE},
        {"ssd", FP_FAMILY_SSD},
    };
    for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].family;
            return 0;
        }
    }
    return fp_error(FP_EINVALID,
                    "model family '%s' is unknown: expected yolov5, yolov7, yolov8, yolov11, yolov8-raw, "
                    "blazeface or ssd",
                    name ? name : "(null)");
}

static bool batch_ok(const FpTensorInfo *t)
{
    return t->rank >= 1 && (t->dims[0] == 1 || t->dims[0] < 0);
}

static bool rank3(const FpTensorInfo *t)
{
    return t->rank == 3 && batch_ok(t) && t->dims[1] > 0 && t->dims[2] > 0 && t->dtype == FP_DTYPE_FLOAT32;
}

static bool match_blazeface(const FpModel *m, FpFamilyInfo *fi)
{
    if (fp_model_output_count(m) != 4)
        return false;
    int scores[2], regs[2], ns = 0, nr = 0;
    for (int i = 0; i < 4; i++) {
        const FpTensorInfo *t = fp_model_output_info(m, i);
        if (!rank3(t))
            return false;
        if (t->dims[2] == 1 && ns < 2)
            scores[ns++] = i;
        else if (t->dims[2] >= 4 && nr < 2)
            regs[nr++] = i;
        else
            return false;
    }
    if (ns != 2 || nr != 2)
        return false;
#define N_OF(i) (fp_model_output_info(m, (i))->dims[1])
    if (N_OF(scores[0]) < N_OF(scores[1])) {
        int t = scores[0];
        scores[0] = scores[1], scores[1] = t;
    }
    if (N_OF(regs[0]) != N_OF(scores[0])) {
        int t = regs[0];
        regs[0] = regs[1], regs[1] = t;
    }
    if (N_OF(regs[0]) != N_OF(scores[0]) || N_OF(regs[1]) != N_OF(scores[1]) ||
        fp_model_output_info(m, regs[0])->dims[2] != fp_model_output_info(m, regs[1])->dims[2])
        return false;
    fi->family = FP_FAMILY_BLAZEFACE;
    fi->num_classes = 1;
    fi->num_anchors = (int)(N_OF(scores[0]) + N_OF(scores[1]));
#undef N_OF
    fi->outputs[0] = scores[0];
    fi->outputs[1] = scores[1];
    fi->outputs[2] = regs[0];
    fi->outputs[3] = regs[1];
    fi->n_outputs = 4;
    return true;
}

static bool match_ssd(const FpModel *m, FpFamilyInfo *fi)
{
    int n = fp_model_output_count(m);
    for (int b = 0; b < n; b++) {
        const FpTensorInfo *tb = fp_model_output_info(m, b);
        bool boxes = (tb->rank == 3 && tb->dims[2] == 4) ||
                     (tb->rank == 4 && tb->dims[2] == 1 && tb->dims[3] == 4);
        if (!boxes || !batch_ok(tb) || tb->dims[1] <= 0)
            continue;
        for (int s = 0; s < n; s++) {
            const FpTensorInfo *ts = fp_model_output_info(m, s);
            if (s == b || !rank3(ts) || ts->dims[1] != tb->dims[1])
                continue;
            fi->family = FP_FAMILY_SSD;
            fi->num_classes = (int)ts->dims[2];
            fi->num_anchors = (int)tb->dims[1];
            fi->outputs[0] = b;
            fi->outputs[1] = s;
            fi->n_outputs = 2;
            return true;
        }
    }
    return false;
}

static bool match_yolo(const FpModel *m, FpFamilyInfo *fi)
{
    int n = fp_model_output_count(m), p = -1;
    for (int i = 0; i < n && p < 0; i++) {
        if (rank3(fp_model_output_info(m, i)))
            p = i;
    }
    if (p < 0)
        return false;
    /* Any other outputs must be the per-level maps some YOLOv5 exports add (rank 4 or 5). */
    for (int i = 0; i < n; i++) {
        int r = fp_model_output_info(m, i)->rank;
        if (i != p && r != 4 && r != 5)
            return false;
    }
    const FpTensorInfo *t = fp_model_output_info(m, p);
    long a = (long)t->dims[1], b = (long)t->dims[2];
    int nc = fp_model_class_count(m);
    fi->outputs[0] = p;
    fi->n_outputs = 1;
    if (a > b) { /* [B, N, 5 + C] */
        if (b < 6)
            return false;
        fi->family = FP_FAMILY_YOLOV5;
        fi->num_anchors = (int)a;
        fi->num_classes = (int)(b - 5);
        return true;
    }
    if (n != 1)
        return false;
    const char *rm = fp_model_meta(m, "reg_max");
    int reg_max = rm ? atoi(rm) : 16;
    if (reg_max < 1 || reg_max > 64)
        reg_max = 16;
    const char *head = fp_model_meta(m, "head");
    bool raw = false;
    if (nc > 0 && a == 4 + nc)
        raw = false;
    else if (nc > 0 && a == 4L * reg_max + nc)
        raw = true;
    else if (head && strcmp(head, "raw") == 0 && a > 4L * reg_max)
        raw = true;
    if (raw) {
        fi->family = FP_FAMILY_YOLOV8_RAW;
        fi->reg_max = reg_max;
        fi->num_classes = (int)(a - 4L * reg_max);
    } else {
        if (a < 5)
            return false;
        fi->family = FP_FAMILY_YOLOV8;
        fi->num_classes = (int)(a - 4);
    }
    fi->num_anchors = (int)b;
    return true;
}

FpFamily fp_model_family(const FpModel *m, FpFamilyInfo *info)
{
    FpFamilyInfo fi;
    memset(&fi, 0, sizeof(fi));
    for (int i = 0; i < 4; i++)
        fi.outputs[i] = -1;
    if (!match_blazeface(m, &fi) && !match_ssd(m, &fi) && !match_yolo(m, &fi)) {
        memset(&fi, 0, sizeof(fi));
        for (int i = 0; i < 4; i++)
            fi.outputs[i] = -1;
        fi.family = FP_FAMILY_UNKNOWN;
    }
    if (info)
        *info = fi;
    return fi.family;
}

int fp_model_require_family(const FpModel *m, FpFamilyInfo *info)
{
    FpFamily f = fp_model_family(m, info);
    if (f != FP_FAMILY_UNKNOWN)
        return 0;
    char list[768] = "";
    size_t len = 0;
    for (int i = 0; i < fp_model_output_count(m) && len < sizeof(list) - 64; i++) {
        const FpTensorInfo *t = fp_model_output_info(m, i);
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s'%s' %s [", i ? ", " : "", t->name,
                                fp_dtype_name(t->dtype));
        for (int d = 0; d < t->rank && len < sizeof(list) - 32; d++)
            len += (size_t)snprintf(list + len, sizeof(list) - len, d ? ",%lld" : "%lld", (long long)t->dims[d]);
        len += (size_t)snprintf(list + len, sizeof(list) - len, "]");
    }
    return fp_error(FP_EMODEL, "model %s: its outputs match no known detector family (yolov5 [B,N,5+C], yolov8 "
                    "[B,4+C,N], yolov8 raw head [B,4*reg_max+C,N], blazeface, ssd boxes+scores): %s",
                    fp_model_path(m), list);
}
