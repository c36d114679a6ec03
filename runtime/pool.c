/* pool.c — ONNX MaxPool-12 / AveragePool-19 (2-D) and GlobalMaxPool / GlobalAveragePool-1.
 *
 * Each output row accumulates kernel row by kernel row; for every kernel column the output
 * columns whose tap lands inside the input form one interval, so the inner loops carry no
 * bounds checks. Padding never contributes a value to a max. For AveragePool with
 * count_include_pad the divisor counts window positions inside the padded input
 * [-pad, size + pad_end) but not positions past it (ceil_mode windows): the ONNX reference
 * (onnx/reference/ops/_op_common_pool.py) and PyTorch agree on this. Without
 * count_include_pad the divisor is the number of window positions inside the input. */
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

void isbrt_pool2d_f32(const isbrt_pool2d *p, int64_t n, const float *x, float *y) {
    if (p->oh <= 0 || p->ow <= 0) return;
    const int64_t h = p->h, w = p->w, oh = p->oh, ow = p->ow, kw = p->kw;
    const int avg = p->kind == ISBRT_POOL_AVG;
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
    for (int64_t oy = 0; avg && oy < oh; oy++) {
        const int64_t iy0 = oy * p->stride_h - p->pad_t;
        int64_t cnt_h = p->count_include_pad
                            ? isbrt__count_in(iy0, p->kh, p->dil_h, -p->pad_t, h + p->pad_b)
                            : gm.ky_hi[oy] - gm.ky_lo[oy];
        for (int64_t ox = 0; ox < ow; ox++) {
            const int64_t ix0 = ox * p->stride_w - p->pad_l;
            int64_t cnt_w = p->count_include_pad
                                ? isbrt__count_in(ix0, p->kw, p->dil_w, -p->pad_l, w + p->pad_r)
                                : isbrt__count_in(ix0, p->kw, p->dil_w, 0, w);
            int64_t cnt = cnt_h * cnt_w;
            rcp[oy * ow + ox] = cnt > 0 ? 1.0f / (float)cnt : 0.0f;
        }
    }
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
