/* pool.c — ONNX MaxPool-12 / AveragePool-19 (2-D) and GlobalMaxPool / GlobalAveragePool-1.
 *
 * Each output row accumulates kernel row by kernel row; for every kernel column the output
 * columns whose tap lands inside the input form one interval, so the inner loops carry no
 * bounds checks. Padding never contributes a value to a max. For AveragePool with
 * count_include_pad the divisor counts window positions inside the padded input
 * [-pad, size + pad_end) but not positions past it (ceil_mode windows): the ONNX reference
 * (onnx/reference/ops/_op_common_pool.py) and PyTorch agree on this. Without
 * count_include_pad the divisor is the number of window positions inside the input. Small
 * 3x3 pools run on a flat path over the whole (polyphase) padded plane instead (pool_flat). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Geometry shared by every plane of one call: for kernel column kx, the output columns
 * [lo, hi) whose tap lands inside the input, reading input column ox*sw + off; for output
 * row oy, the kernel rows [ky_lo, ky_hi) inside the input; for AveragePool, 1/divisor of
 * every output position. */
typedef struct pool_geom {
    int64_t *col_lo, *col_hi, *col_off; /* [kw] */
    int64_t *ky_lo, *ky_hi;             /* [oh] */
    float *rcp;                         /* [oh*ow], AVG only */
} pool_geom;

/* Separable: for each output row, the valid kernel rows are reduced into one input-width
 * row v (full-width contiguous passes), then each kernel column's interval of output
 * columns reduces from v. A max never sees padding; an average is scaled by rcp. */
static ISBRT_CLONES void pool_plane(const isbrt_pool2d *p, const pool_geom *gm, const float *xp,
                                    float *restrict v, float *yp) {
    const int64_t w = p->w, ow = p->ow, sw = p->stride_w;
    const int max = p->kind == ISBRT_POOL_MAX;
    for (int64_t oy = 0; oy < p->oh; oy++) {
        float *restrict acc = yp + oy * ow;
        const int64_t iy0 = oy * p->stride_h - p->pad_t, lo_y = gm->ky_lo[oy], hi_y = gm->ky_hi[oy];
        if (hi_y <= lo_y) {
            for (int64_t ox = 0; ox < ow; ox++) acc[ox] = max ? -INFINITY : 0.0f;
            continue;
        }
        const float *restrict r0 = xp + (iy0 + lo_y * p->dil_h) * w;
        for (int64_t x = 0; x < w; x++) v[x] = r0[x];
        for (int64_t ky = lo_y + 1; ky < hi_y; ky++) {
            const float *restrict r = xp + (iy0 + ky * p->dil_h) * w;
            if (max)
                for (int64_t x = 0; x < w; x++) v[x] = v[x] > r[x] ? v[x] : r[x];
            else
                for (int64_t x = 0; x < w; x++) v[x] += r[x];
        }
        for (int64_t ox = 0; ox < ow; ox++) acc[ox] = max ? -INFINITY : 0.0f;
        for (int64_t kx = 0; kx < p->kw; kx++) {
            const int64_t lo = gm->col_lo[kx], n = gm->col_hi[kx] - lo;
            const float *restrict s = v + lo * sw + gm->col_off[kx];
            float *restrict a = acc + lo;
            if (max) {
                if (sw == 1)
                    for (int64_t i = 0; i < n; i++) a[i] = a[i] > s[i] ? a[i] : s[i];
                else
                    for (int64_t i = 0; i < n; i++) a[i] = a[i] > s[i * sw] ? a[i] : s[i * sw];
            } else {
                if (sw == 1)
                    for (int64_t i = 0; i < n; i++) a[i] += s[i];
                else
                    for (int64_t i = 0; i < n; i++) a[i] += s[i * sw];
            }
        }
        if (!max) {
            const float *restrict rc = gm->rcp + oy * ow;
            for (int64_t ox = 0; ox < ow; ox++) acc[ox] *= rc[ox];
        }
    }
}

/* Flat small-plane path: a 3x3 window (dilation 1, stride 1 or 2, ow and oh < POOL_FLAT_MAX)
 * on a plane too narrow for row loops to vectorise. The plane is copied into phase planes
 * padded with -inf (max) or 0 (average) (isbrt__phase_copy, as conv.c's flat depthwise path),
 * so every tap of output (oy, ox) is one phase plane at q + off, q = oy * wq + ox; one flat
 * loop over q reduces the 9 taps and the rows are copied out (scaled by 1/divisor for an
 * average). All tables live on the stack. */
#define POOL_FLAT_MAX 32
enum {
    POOL_FLAT_FLOATS =
        4 * (POOL_FLAT_MAX + 1) * (POOL_FLAT_MAX + 2) + POOL_FLAT_MAX * (POOL_FLAT_MAX + 1)
};

static int pool_is_flat(const isbrt_pool2d *p) {
    return p->kh == 3 && p->kw == 3 && p->dil_h == 1 && p->dil_w == 1 &&
           p->stride_h == p->stride_w && (p->stride_w == 1 || p->stride_w == 2) &&
           p->oh < POOL_FLAT_MAX && p->ow < POOL_FLAT_MAX;
}

/* t[q] = reduction of the 9 taps tap[k][q], for q < len. */
static inline __attribute__((always_inline)) void pool_taps(const float *const *tap, int max,
                                                            float *restrict t, int64_t len) {
    const float *restrict t0 = tap[0], *restrict t1 = tap[1], *restrict t2 = tap[2];
    const float *restrict t3 = tap[3], *restrict t4 = tap[4], *restrict t5 = tap[5];
    const float *restrict t6 = tap[6], *restrict t7 = tap[7], *restrict t8 = tap[8];
    if (max)
        for (int64_t i = 0; i < len; i++) {
            const float a = t0[i] > t1[i] ? t0[i] : t1[i], b = t2[i] > t3[i] ? t2[i] : t3[i];
            const float c = t4[i] > t5[i] ? t4[i] : t5[i], d = t6[i] > t7[i] ? t6[i] : t7[i];
            const float e = a > b ? a : b, f = c > d ? c : d, g = e > f ? e : f;
            t[i] = g > t8[i] ? g : t8[i];
        }
    else
        for (int64_t i = 0; i < len; i++)
            t[i] =
                ((t0[i] + t1[i]) + (t2[i] + t3[i])) + ((t4[i] + t5[i]) + (t6[i] + t7[i])) + t8[i];
}

__attribute__((optimize("no-tree-loop-distribute-patterns"))) ISBRT_CLONES static void
pool_flat(const isbrt_pool2d *p, int64_t planes, const float *rcp, const float *x, float *y) {
    const int64_t s = p->stride_w, oh = p->oh, ow = p->ow, e = 2 / s;
    const int64_t wq = ow + e, hq = oh + e + 1, len = oh * wq;
    const int max = p->kind == ISBRT_POOL_MAX;
    float buf[POOL_FLAT_FLOATS];
    float *t = buf + s * s * hq * wq;
    const float *tap[9];
    for (int64_t ky = 0; ky < 3; ky++)
        for (int64_t kx = 0; kx < 3; kx++) {
            const int64_t ph = s == 1 ? 0 : (ky & 1) * 2 + (kx & 1);
            tap[ky * 3 + kx] = buf + ph * hq * wq + ky / s * wq + kx / s;
        }
    for (int64_t i = 0; i < planes; i++) {
        const float *xp = x + i * p->h * p->w;
        float *yp = y + i * oh * ow;
        isbrt__phase_copy(xp, p->h, p->w, p->pad_t, p->pad_l, s, hq, wq, max ? -INFINITY : 0.0f,
                          buf);
        if (max)
            pool_taps(tap, 1, t, len);
        else
            pool_taps(tap, 0, t, len);
        for (int64_t oy = 0; oy < oh; oy++) {
            float *restrict yr = yp + oy * ow;
            const float *restrict tr = t + oy * wq;
            if (max)
                for (int64_t ox = 0; ox < ow; ox++) yr[ox] = tr[ox];
            else {
                const float *restrict rc = rcp + oy * ow;
                for (int64_t ox = 0; ox < ow; ox++) yr[ox] = tr[ox] * rc[ox];
            }
        }
    }
}

/* rcp[oy * ow + ox] = 1 / divisor of AveragePool output (oy, ox) (0 for an empty window). */
static void pool_rcp(const isbrt_pool2d *p, float *rcp) {
    const int64_t h = p->h, w = p->w;
    for (int64_t oy = 0; oy < p->oh; oy++) {
        const int64_t iy0 = oy * p->stride_h - p->pad_t;
        int64_t cnt_h = p->count_include_pad
                            ? isbrt__count_in(iy0, p->kh, p->dil_h, -p->pad_t, h + p->pad_b)
                            : isbrt__count_in(iy0, p->kh, p->dil_h, 0, h);
        for (int64_t ox = 0; ox < p->ow; ox++) {
            const int64_t ix0 = ox * p->stride_w - p->pad_l;
            int64_t cnt_w = p->count_include_pad
                                ? isbrt__count_in(ix0, p->kw, p->dil_w, -p->pad_l, w + p->pad_r)
                                : isbrt__count_in(ix0, p->kw, p->dil_w, 0, w);
            int64_t cnt = cnt_h * cnt_w;
            rcp[oy * p->ow + ox] = cnt > 0 ? 1.0f / (float)cnt : 0.0f;
        }
    }
}

void isbrt_pool2d_f32(const isbrt_pool2d *p, int64_t n, const float *x, float *y) {
    if (p->oh <= 0 || p->ow <= 0) return;
    const int64_t h = p->h, w = p->w, oh = p->oh, ow = p->ow, kw = p->kw;
    const int avg = p->kind == ISBRT_POOL_AVG;
    if (pool_is_flat(p)) {
        float rcp[POOL_FLAT_MAX * POOL_FLAT_MAX];
        if (avg) pool_rcp(p, rcp);
        pool_flat(p, n * p->c, rcp, x, y);
        return;
    }
    size_t words = (size_t)(3 * kw + 2 * oh);
    int64_t *ints = malloc(words * sizeof *ints);
    float *rcp = avg ? malloc((size_t)(oh * ow) * sizeof *rcp) : NULL;
    if (!ints || (avg && !rcp)) abort();
    pool_geom gm = {ints, ints + kw, ints + 2 * kw, ints + 3 * kw, ints + 3 * kw + oh, rcp};
    for (int64_t kx = 0; kx < kw; kx++) {
        int64_t off = kx * p->dil_w - p->pad_l;
        isbrt__valid_range(off, p->stride_w, w, ow, &gm.col_lo[kx], &gm.col_hi[kx]);
        gm.col_off[kx] = off;
    }
    for (int64_t oy = 0; oy < oh; oy++)
        isbrt__valid_range(oy * p->stride_h - p->pad_t, p->dil_h, h, p->kh, &gm.ky_lo[oy],
                           &gm.ky_hi[oy]);
    if (avg) pool_rcp(p, rcp);
    float *v = malloc((size_t)w * sizeof *v);
    if (!v) abort();
    for (int64_t i = 0; i < n * p->c; i++) pool_plane(p, &gm, x + i * h * w, v, y + i * oh * ow);
    free(v);
    free(ints);
    free(rcp);
}

void isbrt_global_pool_f32(int32_t kind, int64_t rows, int64_t len, const float *x, float *y) {
    enum { LANES = 8 };
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict s = x + r * len;
        float acc[LANES];
        int64_t i = 0;
        if (kind == ISBRT_POOL_MAX) {
            for (int j = 0; j < LANES; j++) acc[j] = -INFINITY;
            for (; i + LANES <= len; i += LANES)
                for (int j = 0; j < LANES; j++) acc[j] = acc[j] > s[i + j] ? acc[j] : s[i + j];
            float m = -INFINITY;
            for (int j = 0; j < LANES; j++) m = m > acc[j] ? m : acc[j];
            for (; i < len; i++) m = m > s[i] ? m : s[i];
            y[r] = m;
        } else {
            for (int j = 0; j < LANES; j++) acc[j] = 0.0f;
            for (; i + LANES <= len; i += LANES)
                for (int j = 0; j < LANES; j++) acc[j] += s[i + j];
            float sum =
                ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            for (; i < len; i++) sum += s[i];
            y[r] = len > 0 ? sum / (float)len : 0.0f;
        }
    }
}
