// SPDX-License-Identifier: MIT
// FpTracker: ByteTrack-style multi-object tracking (Kalman constant-velocity motion, two-stage IoU matching, optimal assignment).
#include "framepipe/track.h"

#include "framepipe/error.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * Design notes.
 *
 * State per track: the Kalman mean (cx, cy, a = w/h, h, and their
 * velocities in units per second) and its 8x8 covariance, as in SORT /
 * ByteTrack's KalmanFilter. ByteTrack's noise is per frame; here it is per
 * reference frame of 1/30 s and scales with the elapsed stream time
 * (variance grows linearly with dt), so an update after skipped frames
 * predicts further and is less certain instead of being "one frame later".
 * F = [[I, dt I], [0, I]] and H = [I 0] are exploited block-wise, so predict
 * and update cost O(64) each, not dense 8x8 products.
 *
 * Association: an edge joins a track and a detection whose IoU with the
 * track's predicted box is at least the stage's threshold (and whose class
 * matches when per_class). Candidates come from a sweep over detections
 * sorted by x1, so the cost is about (tracks + detections) x log, not
 * tracks x detections, for objects spread over the frame. Edges are joined
 * into connected components (union-find); each component is solved
 * optimally on its own with the Hungarian method (Kuhn-Munkres with
 * potentials) maximising the sum of (IoU - threshold) over matched pairs,
 * which is what ByteTrack's lapjv with cost_limit computes. A 1x1 component
 * is matched directly. A component too large for the matrix allocated at
 * create (only in crowds of hundreds of mutually overlapping boxes) is
 * matched greedily, best IoU first per track.
 *
 * Memory: everything is allocated in fp_tracker_create for max_tracks tracks
 * and FP_TRACKER_MAX_DETECTIONS detections per update; fp_tracker_update
 * allocates nothing. Tracks live in one compact array (removal swaps the last
 * one in), which is what fp_tracker_tracks hands out.
 */

#define REF_DT (1.0 / 30.0)                /* the reference frame interval of the noise model, seconds */
#define STD_POS (1.0 / 20.0)               /* ByteTrack's std_weight_position (per reference frame) */
#define STD_VEL (1.0 / 160.0 / REF_DT)     /* ByteTrack's std_weight_velocity, per second */
#define MATRIX_CAP ((size_t)1 << 22)        /* most entries of the assignment matrix (16 MiB of float) */

typedef struct Kalman {
    double x[8];
    double P[8][8];
} Kalman;

typedef struct WorkDet {
    FpBox box;
    float score;
    int class_id;
    int index; /* in the caller's array */
} WorkDet;

struct FpTracker {
    FpTrackerConfig cfg;
    int n_tracks;
    FpTrack *tracks; /* [max_tracks], compact */
    Kalman *kf;      /* [max_tracks], parallel to tracks */
    FpBox *pred;     /* [max_tracks] predicted boxes of this update */
    int *track_match;/* [max_tracks] work det index matched, -1 none */
    int64_t last_t;
    bool started;
    uint64_t next_id;
    uint64_t dropped;
    uint64_t ignored;

    WorkDet *dets;   /* [cap] detections kept for this update */
    int *det_match;  /* [cap] track matched, -1 none */
    int *heap;       /* [cap] top-cap selection when n > cap */
    int *order;      /* [cap] a stage's detections, sorted by x1 */
    int *rows;       /* [max_tracks] a stage's tracks */
    /* union-find over rows (0..nr-1) then columns (nr..nr+nc-1) */
    int *parent;     /* [max_tracks + cap] */
    int *first;      /* [max_tracks + cap] first row/col of a component (root indexed) */
    int *next;       /* [max_tracks + cap] */
    bool *has_edge;  /* [max_tracks + cap] */
    int *comp_rows, *comp_cols; /* [max_tracks], [cap] */
    float *cost;     /* [matrix_cap] */
    size_t matrix_cap;
    int kmax;        /* max(max_tracks, cap) + 1 */
    double *hu, *hv, *hminv; /* [kmax] Hungarian potentials */
    int *hp, *hway;          /* [kmax] */
    bool *hused;             /* [kmax] */
};

void fp_tracker_config_init(FpTrackerConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->high_threshold = 0.5f;
    cfg->low_threshold = 0.1f;
    cfg->new_track_threshold = 0.6f;
    cfg->match_iou = 0.2f;
    cfg->low_match_iou = 0.5f;
    cfg->min_hits = 3;
    cfg->max_age_ns = 1000000000;
    cfg->per_class = true;
    cfg->max_tracks = 1024;
}

static bool in_unit(float v)
{
    return v >= 0.0f && v <= 1.0f; /* false for NaN */
}

static int check_config(const FpTrackerConfig *c)
{
    static const char *const names[5] = {"high_threshold", "low_threshold", "new_track_threshold", "match_iou",
                                         "low_match_iou"};
    const float vals[5] = {c->high_threshold, c->low_threshold, c->new_track_threshold, c->match_iou,
                           c->low_match_iou};
    for (int i = 0; i < 5; i++)
        if (!in_unit(vals[i]))
            return fp_error(FP_EINVALID, "tracker: %s = %g is outside [0, 1]", names[i], (double)vals[i]);
    if (c->low_threshold > c->high_threshold)
        return fp_error(FP_EINVALID, "tracker: low_threshold %g > high_threshold %g", (double)c->low_threshold,
                        (double)c->high_threshold);
    if (c->min_hits < 1)
        return fp_error(FP_EINVALID, "tracker: min_hits = %d, must be >= 1", c->min_hits);
    if (c->max_age_ns <= 0)
        return fp_error(FP_EINVALID, "tracker: max_age_ns = %lld, must be > 0", (long long)c->max_age_ns);
    if (c->max_tracks < 1 || c->max_tracks > (1 << 24))
        return fp_error(FP_EINVALID, "tracker: max_tracks = %d, must be in [1, 16777216]", c->max_tracks);
    return 0;
}

void fp_tracker_destroy(FpTracker **pt)
{
    if (!pt || !*pt)
        return;
    FpTracker *t = *pt;
    free(t->tracks);
    free(t->kf);
    free(t->pred);
    free(t->track_match);
    free(t->dets);
    free(t->det_match);
    free(t->heap);
    free(t->order);
    free(t->rows);
    free(t->parent);
    free(t->first);
    free(t->next);
    free(t->has_edge);
    free(t->comp_rows);
    free(t->comp_cols);
    free(t->cost);
    free(t->hu);
    free(t->hv);
    free(t->hminv);
    free(t->hp);
    free(t->hway);
    free(t->hused);
    free(t);
    *pt = NULL;
}

int fp_tracker_create(FpTracker **out, const FpTrackerConfig *cfg)
{
    FpTrackerConfig c;
    if (cfg)
        c = *cfg;
    else
        fp_tracker_config_init(&c);
    int rc = check_config(&c);
    if (rc < 0)
        return rc;
    FpTracker *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->cfg = c;
    t->next_id = 1;
    size_t mt = (size_t)c.max_tracks, cap = FP_TRACKER_MAX_DETECTIONS, nodes = mt + cap;
    t->kmax = (int)(mt > cap ? mt : cap) + 1;
    size_t km = (size_t)t->kmax;
    size_t small = mt < cap ? mt : cap;
    t->matrix_cap = small * (km - 1) < MATRIX_CAP ? small * (km - 1) : MATRIX_CAP;
    t->tracks = calloc(mt, sizeof(*t->tracks));
    t->kf = calloc(mt, sizeof(*t->kf));
    t->pred = calloc(mt, sizeof(*t->pred));
    t->track_match = calloc(mt, sizeof(int));
    t->dets = calloc(cap, sizeof(*t->dets));
    t->det_match = calloc(cap, sizeof(int));
    t->heap = calloc(cap, sizeof(int));
    t->order = calloc(cap, sizeof(int));
    t->rows = calloc(mt, sizeof(int));
    t->parent = calloc(nodes, sizeof(int));
    t->first = calloc(nodes, sizeof(int));
    t->next = calloc(nodes, sizeof(int));
    t->has_edge = calloc(nodes, sizeof(bool));
    t->comp_rows = calloc(mt, sizeof(int));
    t->comp_cols = calloc(cap, sizeof(int));
    t->cost = calloc(t->matrix_cap, sizeof(float));
    t->hu = calloc(km, sizeof(double));
    t->hv = calloc(km, sizeof(double));
    t->hminv = calloc(km, sizeof(double));
    t->hp = calloc(km, sizeof(int));
    t->hway = calloc(km, sizeof(int));
    t->hused = calloc(km, sizeof(bool));
    if (!t->tracks || !t->kf || !t->pred || !t->track_match || !t->dets || !t->det_match || !t->heap ||
        !t->order || !t->rows || !t->parent || !t->first || !t->next || !t->has_edge || !t->comp_rows ||
        !t->comp_cols || !t->cost || !t->hu || !t->hv || !t->hminv || !t->hp || !t->hway || !t->hused) {
        fp_tracker_destroy(&t);
        return fp_error(-ENOMEM, "tracker: out of memory for %d tracks", c.max_tracks);
    }
    *out = t;
    return 0;
}

/* ---- Kalman filter (block form: P = [[A, B], [B^T, D]], 4x4 blocks) ---- */

static void kf_init(Kalman *k, const FpBox *b)
{
    double w = b->x2 - b->x1, h = b->y2 - b->y1;
    memset(k, 0, sizeof(*k));
    k->x[0] = 0.5 * (b->x1 + b->x2);
    k->x[1] = 0.5 * (b->y1 + b->y2);
    k->x[2] = w / h;
    k->x[3] = h;
    const double std[8] = {2 * STD_POS * h, 2 * STD_POS * h, 1e-2, 2 * STD_POS * h,
                           10 * STD_VEL * h, 10 * STD_VEL * h, 1e-5 / REF_DT, 10 * STD_VEL * h};
    for (int i = 0; i < 8; i++)
        k->P[i][i] = std[i] * std[i];
}

/* x <- F x; P <- F P F^T + Q(dt), dt in seconds. */
static void kf_predict(Kalman *k, double dt)
{
    if (dt <= 0.0)
        return;
    double (*P)[8] = k->P;
    for (int i = 0; i < 4; i++)
        k->x[i] += dt * k->x[i + 4];
    /* A' = A + dt (B + B^T) + dt^2 D; B' = B + dt D (D unchanged) */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            P[i][j] += dt * (P[i][j + 4] + P[i + 4][j]) + dt * dt * P[i + 4][j + 4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            P[i][j + 4] += dt * P[i + 4][j + 4];
            P[j + 4][i] = P[i][j + 4];
        }
    double h = k->x[3] > 1.0 ? k->x[3] : 1.0, s = dt / REF_DT;
    const double qp = STD_POS * h, qv = STD_VEL * h;
    const double q[8] = {qp * qp * s, qp * qp * s, 1e-4 * s, qp * qp * s,
                         qv * qv * s, qv * qv * s, (1e-5 / REF_DT) * (1e-5 / REF_DT) * s, qv * qv * s};
    for (int i = 0; i < 8; i++)
        P[i][i] += q[i];
}

/* Inverts a symmetric positive-definite 4x4 matrix through Cholesky; false when not positive definite. */
static bool inv4_spd(const double S[4][4], double inv[4][4])
{
    double L[4][4] = {{0}};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j <= i; j++) {
            double s = S[i][j];
            for (int k = 0; k < j; k++)
                s -= L[i][k] * L[j][k];
            if (i == j) {
                if (!(s > 0.0))
                    return false;
                L[i][i] = sqrt(s);
            } else {
                L[i][j] = s / L[j][j];
            }
        }
    /* inv = L^-T L^-1: invert L (lower triangular) then multiply */
    double Li[4][4] = {{0}};
    for (int i = 0; i < 4; i++) {
        Li[i][i] = 1.0 / L[i][i];
        for (int j = 0; j < i; j++) {
            double s = 0.0;
            for (int k = j; k < i; k++)
                s -= L[i][k] * Li[k][j];
            Li[i][j] = s / L[i][i];
        }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0.0;
            for (int k = (i > j ? i : j); k < 4; k++)
                s += Li[k][i] * Li[k][j];
            inv[i][j] = s;
        }
    return true;
}

/* Measurement update with z = (cx, cy, a, h) of box b. */
static void kf_update(Kalman *k, const FpBox *b)
{
    double w = b->x2 - b->x1, h = b->y2 - b->y1;
    double z[4] = {0.5 * (b->x1 + b->x2), 0.5 * (b->y1 + b->y2), w / h, h};
    double hm = k->x[3] > 1.0 ? k->x[3] : 1.0;
    double r[4] = {STD_POS * hm, STD_POS * hm, 1e-1, STD_POS * hm};
    double S[4][4], Si[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            S[i][j] = k->P[i][j] + (i == j ? r[i] * r[i] : 0.0);
    if (!inv4_spd(S, Si)) {
        kf_init(k, b); /* a degenerate covariance cannot be repaired: restart from the measurement */
        return;
    }
    /* K = P H^T S^-1 = P[:, 0:4] Si (8x4) */
    double K[8][4];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0.0;
            for (int m = 0; m < 4; m++)
                s += k->P[i][m] * Si[m][j];
            K[i][j] = s;
        }
    double y[4];
    for (int i = 0; i < 4; i++)
        y[i] = z[i] - k->x[i];
    for (int i = 0; i < 8; i++)
        k->x[i] += K[i][0] * y[0] + K[i][1] * y[1] + K[i][2] * y[2] + K[i][3] * y[3];
    /* P <- P - K H P = P - K P[0:4, :] */
    double HP[4][8];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            HP[i][j] = k->P[i][j];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            k->P[i][j] -= K[i][0] * HP[0][j] + K[i][1] * HP[1][j] + K[i][2] * HP[2][j] + K[i][3] * HP[3][j];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < i; j++) {
            double s = 0.5 * (k->P[i][j] + k->P[j][i]);
            k->P[i][j] = k->P[j][i] = s;
        }
}

static FpBox kf_box(const Kalman *k)
{
    double h = k->x[3], w = k->x[2] * h;
    FpBox b = {(float)(k->x[0] - 0.5 * w), (float)(k->x[1] - 0.5 * h), (float)(k->x[0] + 0.5 * w),
               (float)(k->x[1] + 0.5 * h)};
    return b;
}

static float box_iou(const FpBox *a, const FpBox *b)
{
    /* plain comparisons: fminf/fmaxf are library calls without -ffast-math */
    float iw = (a->x2 < b->x2 ? a->x2 : b->x2) - (a->x1 > b->x1 ? a->x1 : b->x1);
    float ih = (a->y2 < b->y2 ? a->y2 : b->y2) - (a->y1 > b->y1 ? a->y1 : b->y1);
    if (iw <= 0.0f || ih <= 0.0f)
        return 0.0f;
    float inter = iw * ih;
    float uni = (a->x2 - a->x1) * (a->y2 - a->y1) + (b->x2 - b->x1) * (b->y2 - b->y1) - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

/* ---- association ---- */

static int uf_find(int *parent, int i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

static void uf_union(int *parent, int a, int b)
{
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a != b)
        parent[a < b ? b : a] = a < b ? a : b;
}

/* Heap sort of idx[0..n) by dets[idx].box.x1 (no allocation, unlike some qsort implementations). */
static void sort_by_x1(const WorkDet *d, int *idx, int n)
{
#define KEY(i) (d[idx[i]].box.x1)
    for (int start = n / 2 - 1; start >= 0; start--) {
        for (int root = start;;) {
            int child = 2 * root + 1;
            if (child >= n)
                break;
            if (child + 1 < n && KEY(child + 1) > KEY(child))
                child++;
            if (KEY(root) >= KEY(child))
                break;
            int tmp = idx[root];
            idx[root] = idx[child];
            idx[child] = tmp;
            root = child;
        }
    }
    for (int end = n - 1; end > 0; end--) {
        int tmp = idx[0];
        idx[0] = idx[end];
        idx[end] = tmp;
        for (int root = 0;;) {
            int child = 2 * root + 1;
            if (child >= end)
                break;
            if (child + 1 < end && KEY(child + 1) > KEY(child))
                child++;
            if (KEY(root) >= KEY(child))
                break;
            tmp = idx[root];
            idx[root] = idx[child];
            idx[child] = tmp;
            root = child;
        }
    }
#undef KEY
}

static bool edge_ok(const FpTracker *t, int track, const WorkDet *d, float thr, float *iou)
{
    if (t->cfg.per_class && t->tracks[track].class_id != d->class_id)
        return false;
    *iou = box_iou(&t->pred[track], &d->box);
    return *iou >= thr && *iou > 0.0f;
}

/*
 * Hungarian method (Kuhn-Munkres with potentials, O(n^2 m)) on the n x m
 * matrix a (row-major, n <= m): p[j] (1-based) receives the row assigned to
 * column j, 0 for none.
 */
static void hungarian(FpTracker *t, const float *a, int n, int m)
{
    double *u = t->hu, *v = t->hv, *minv = t->hminv;
    int *p = t->hp, *way = t->hway;
    bool *used = t->hused;
    for (int j = 0; j <= m; j++) {
        v[j] = 0.0;
        p[j] = 0;
        way[j] = 0;
    }
    for (int i = 0; i <= n; i++)
        u[i] = 0.0;
    for (int i = 1; i <= n; i++) {
        p[0] = i;
        int j0 = 0;
        for (int j = 0; j <= m; j++) {
            minv[j] = DBL_MAX;
            used[j] = false;
        }
        do {
            used[j0] = true;
            int i0 = p[j0], j1 = 0;
            double delta = DBL_MAX;
            const float *row = a + (size_t)(i0 - 1) * (size_t)m;
            for (int j = 1; j <= m; j++) {
                if (used[j])
                    continue;
                double cur = (double)row[j - 1] - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (int j = 0; j <= m; j++) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            int j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
}

static void solve_component(FpTracker *t, int nr, int nc, float thr)
{
    const int *cr = t->comp_rows, *cc = t->comp_cols;
    float iou;
    if (nr == 1 && nc == 1) {
        t->track_match[cr[0]] = cc[0];
        t->det_match[cc[0]] = cr[0];
        return;
    }
    bool transpose = nr > nc; /* the solver wants rows <= columns */
    int n = transpose ? nc : nr, m = transpose ? nr : nc;
    if ((size_t)n * (size_t)m > t->matrix_cap) {
        /* greedy fallback: each track in turn takes its best free detection */
        for (int i = 0; i < nr; i++) {
            int best = -1;
            float best_iou = 0.0f;
            for (int j = 0; j < nc; j++)
                if (t->det_match[cc[j]] < 0 && edge_ok(t, cr[i], &t->dets[cc[j]], thr, &iou) && iou > best_iou) {
                    best = j;
                    best_iou = iou;
                }
            if (best >= 0) {
                t->track_match[cr[i]] = cc[best];
                t->det_match[cc[best]] = cr[i];
            }
        }
        return;
    }
    /* cost = -(IoU - thr) on edges (a tiny bonus keeps IoU == thr above "no match"), 0 elsewhere */
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) {
            float c = edge_ok(t, cr[i], &t->dets[cc[j]], thr, &iou) ? -(iou - thr) - 1e-6f : 0.0f;
            if (transpose)
                t->cost[(size_t)j * (size_t)m + (size_t)i] = c;
            else
                t->cost[(size_t)i * (size_t)m + (size_t)j] = c;
        }
    hungarian(t, t->cost, n, m);
    for (int j = 1; j <= m; j++) {
        int i = t->hp[j];
        if (i == 0)
            continue;
        int r = transpose ? j - 1 : i - 1, c = transpose ? i - 1 : j - 1;
        if (!edge_ok(t, cr[r], &t->dets[cc[c]], thr, &iou))
            continue; /* assigned on a non-edge: means unmatched */
        t->track_match[cr[r]] = cc[c];
        t->det_match[cc[c]] = cr[r];
    }
}

/*
 * One matching stage: tracks t->rows[0..nr) against the kept detections
 * listed in t->order[0..nc) (indices into t->dets), least IoU thr.
 * Writes t->track_match / t->det_match for the pairs it matches.
 */
static void match_stage(FpTracker *t, int nr, int nc, float thr)
{
    if (nr == 0 || nc == 0)
        return;
    int *order = t->order, *parent = t->parent;
    sort_by_x1(t->dets, order, nc);
    float max_w = 0.0f;
    for (int j = 0; j < nc; j++) {
        const FpBox *b = &t->dets[order[j]].box;
        max_w = fmaxf(max_w, b->x2 - b->x1);
    }
    for (int k = 0; k < nr + nc; k++) {
        parent[k] = k;
        t->has_edge[k] = false;
        t->first[k] = -1;
    }
    for (int i = 0; i < nr; i++) {
        const FpBox *pb = &t->pred[t->rows[i]];
        /* first detection with x1 > pb->x1 - max_w: earlier ones end before the track starts */
        float lo_x = pb->x1 - max_w;
        int lo = 0, hi = nc;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (t->dets[order[mid]].box.x1 <= lo_x)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (int j = lo; j < nc && t->dets[order[j]].box.x1 < pb->x2; j++) {
            const FpBox *db = &t->dets[order[j]].box;
            if (db->x2 <= pb->x1 || db->y2 <= pb->y1 || db->y1 >= pb->y2)
                continue; /* no overlap: the sweep is over x only */
            float iou;
            if (edge_ok(t, t->rows[i], &t->dets[order[j]], thr, &iou)) {
                uf_union(parent, i, nr + j);
                t->has_edge[i] = t->has_edge[nr + j] = true;
            }
        }
    }
    /* components: linked lists of members per root (rows first, then columns) */
    for (int k = nr + nc - 1; k >= 0; k--) {
        if (!t->has_edge[k])
            continue;
        int r = uf_find(parent, k);
        t->next[k] = t->first[r];
        t->first[r] = k;
    }
    for (int r = 0; r < nr + nc; r++) {
        if (t->first[r] < 0)
            continue;
        int ncr = 0, ncc = 0;
        for (int k = t->first[r]; k >= 0; k = t->next[k]) {
            if (k < nr)
                t->comp_rows[ncr++] = t->rows[k];
            else
                t->comp_cols[ncc++] = order[k - nr];
        }
        solve_component(t, ncr, ncc, thr);
    }
}

static void remove_track(FpTracker *t, int i)
{
    int last = t->n_tracks - 1;
    if (i != last) {
        t->tracks[i] = t->tracks[last];
        t->kf[i] = t->kf[last];
        t->pred[i] = t->pred[last];
        t->track_match[i] = t->track_match[last];
        if (t->track_match[i] >= 0)
            t->det_match[t->track_match[i]] = i;
    }
    t->n_tracks = last;
}

static void remove_expired(FpTracker *t, int64_t t_ns)
{
    for (int i = t->n_tracks - 1; i >= 0; i--)
        if (t->track_match[i] < 0 && t_ns - t->tracks[i].last_ns >= t->cfg.max_age_ns)
            remove_track(t, i);
}

static bool det_usable(const FpDetection *d, float low)
{
    const FpBox *b = &d->box;
    return d->score >= low && isfinite(b->x1) && isfinite(b->y1) && isfinite(b->x2) && isfinite(b->y2) &&
           b->x2 > b->x1 && b->y2 > b->y1;
}

/* Min-heap of caller indices by score, size cap: keeps the cap best-scoring usable detections. */
static void heap_sift(const FpDetection *dets, int *h, int n, int root)
{
    for (;;) {
        int c = 2 * root + 1;
        if (c >= n)
            return;
        if (c + 1 < n && dets[h[c + 1]].score < dets[h[c]].score)
            c++;
        if (dets[h[root]].score <= dets[h[c]].score)
            return;
        int tmp = h[root];
        h[root] = h[c];
        h[c] = tmp;
        root = c;
    }
}

static void keep_detection(FpTracker *t, int *nk, const FpDetection *d, int index)
{
    WorkDet *w = &t->dets[(*nk)++];
    w->box = d->box;
    w->score = d->score;
    w->class_id = d->class_id;
    w->index = index;
}

static void fill_track(FpTrack *tr, const Kalman *k, const FpDetection *d, int index, int64_t t_ns)
{
    tr->class_id = d->class_id;
    tr->score = d->score;
    tr->det_box = d->box;
    tr->box = kf_box(k);
    tr->vx = (float)k->x[4];
    tr->vy = (float)k->x[5];
    tr->n_keypoints = d->n_keypoints < 0 ? 0 : d->n_keypoints > FP_MAX_KEYPOINTS ? FP_MAX_KEYPOINTS : d->n_keypoints;
    memcpy(tr->keypoints, d->keypoints, sizeof(tr->keypoints));
    tr->last_ns = t_ns;
    tr->hits++;
    tr->det_index = index;
}

int fp_tracker_update(FpTracker *t, const FpDetection *dets, int n, int64_t t_ns, uint64_t *track_ids)
{
    if (!t || n < 0 || (n > 0 && !dets))
        return fp_error(FP_EINVALID, "tracker: update with %d detections at %p", n, (const void *)dets);
    if (t->started && t_ns < t->last_t)
        return fp_error(FP_EINVALID, "tracker: time went back from %lld to %lld ns", (long long)t->last_t,
                        (long long)t_ns);
    const FpTrackerConfig *c = &t->cfg;
    double dt = t->started ? (double)(t_ns - t->last_t) * 1e-9 : 0.0;
    t->started = true;
    t->last_t = t_ns;
    if (track_ids)
        for (int i = 0; i < n; i++)
            track_ids[i] = 0;

    /* detections worth a look; beyond the cap only the best-scoring are kept */
    int nk = 0, usable = 0;
    for (int i = 0; i < n; i++)
        usable += det_usable(&dets[i], c->low_threshold);
    if (usable <= FP_TRACKER_MAX_DETECTIONS) {
        for (int i = 0; i < n; i++)
            if (det_usable(&dets[i], c->low_threshold))
                keep_detection(t, &nk, &dets[i], i);
    } else {
        int hn = 0;
        for (int i = 0; i < n; i++) {
            if (!det_usable(&dets[i], c->low_threshold))
                continue;
            if (hn < FP_TRACKER_MAX_DETECTIONS) {
                t->heap[hn++] = i;
                if (hn == FP_TRACKER_MAX_DETECTIONS)
                    for (int r = hn / 2 - 1; r >= 0; r--)
                        heap_sift(dets, t->heap, hn, r);
            } else if (dets[i].score > dets[t->heap[0]].score) {
                t->heap[0] = i;
                heap_sift(dets, t->heap, hn, 0);
            }
        }
        t->ignored += (uint64_t)(usable - hn);
        for (int k = 0; k < hn; k++)
            keep_detection(t, &nk, &dets[t->heap[k]], t->heap[k]);
    }
    for (int j = 0; j < nk; j++)
        t->det_match[j] = -1;

    /* age out, then predict every track to t_ns */
    for (int i = 0; i < t->n_tracks; i++)
        t->track_match[i] = -1;
    remove_expired(t, t_ns);
    for (int i = 0; i < t->n_tracks; i++) {
        if (t->tracks[i].state == FP_TRACK_LOST)
            t->kf[i].x[7] = 0.0; /* as ByteTrack: a lost box keeps its size while it coasts */
        kf_predict(&t->kf[i], dt);
        t->pred[i] = kf_box(&t->kf[i]);
    }

    /* stage 1: high-score detections against every track */
    int nr = 0, nc = 0;
    for (int i = 0; i < t->n_tracks; i++)
        t->rows[nr++] = i;
    for (int j = 0; j < nk; j++)
        if (t->dets[j].score >= c->high_threshold)
            t->order[nc++] = j;
    match_stage(t, nr, nc, c->match_iou);

    /* stage 2: low-score detections against the confirmed tracks left */
    nr = nc = 0;
    for (int i = 0; i < t->n_tracks; i++)
        if (t->track_match[i] < 0 && t->tracks[i].state != FP_TRACK_TENTATIVE)
            t->rows[nr++] = i;
    for (int j = 0; j < nk; j++)
        if (t->dets[j].score < c->high_threshold)
            t->order[nc++] = j;
    match_stage(t, nr, nc, c->low_match_iou);

    /* apply matches; unmatched tentative tracks go at once, confirmed ones become lost */
    for (int i = t->n_tracks - 1; i >= 0; i--) {
        FpTrack *tr = &t->tracks[i];
        int j = t->track_match[i];
        if (j >= 0) {
            const FpDetection *d = &dets[t->dets[j].index];
            kf_update(&t->kf[i], &d->box);
            fill_track(tr, &t->kf[i], d, t->dets[j].index, t_ns);
            if (tr->state != FP_TRACK_TENTATIVE || tr->hits >= c->min_hits)
                tr->state = FP_TRACK_CONFIRMED;
            if (track_ids)
                track_ids[t->dets[j].index] = tr->id;
        } else if (tr->state == FP_TRACK_TENTATIVE) {
            remove_track(t, i);
        } else {
            tr->state = FP_TRACK_LOST;
            tr->det_index = -1;
            tr->box = t->pred[i];
        }
    }
    remove_expired(t, t_ns); /* lost tracks whose age reached max_age_ns with this update */

    /* births */
    for (int j = 0; j < nk; j++) {
        if (t->det_match[j] >= 0 || t->dets[j].score < c->new_track_threshold)
            continue;
        if (t->n_tracks >= c->max_tracks) {
            t->dropped++;
            continue;
        }
        const FpDetection *d = &dets[t->dets[j].index];
        int i = t->n_tracks++;
        FpTrack *tr = &t->tracks[i];
        memset(tr, 0, sizeof(*tr));
        tr->id = t->next_id++;
        kf_init(&t->kf[i], &d->box);
        fill_track(tr, &t->kf[i], d, t->dets[j].index, t_ns);
        tr->first_ns = t_ns;
        tr->state = tr->hits >= c->min_hits ? FP_TRACK_CONFIRMED : FP_TRACK_TENTATIVE;
        t->track_match[i] = j;
        t->det_match[j] = i;
        if (track_ids)
            track_ids[t->dets[j].index] = tr->id;
    }
    return t->n_tracks;
}

int fp_tracker_tracks(const FpTracker *t, const FpTrack **out)
{
    *out = t->tracks;
    return t->n_tracks;
}

uint64_t fp_tracker_dropped(const FpTracker *t)
{
    return t->dropped;
}

uint64_t fp_tracker_ignored(const FpTracker *t)
{
    return t->ignored;
}
