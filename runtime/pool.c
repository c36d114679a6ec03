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
#include <string.h>

#include "internal.h"

static void pool_plane(const isbrt_pool2d *p, const float *xp, float *yp) {
    const int64_t h = p->h, w = p->w, ow = p->ow;
    const int64_t sh = p->stride_h, sw = p->stride_w, dh = p->dil_h, dw = p->dil_w;
    const int max = p->kind == ISBRT_POOL_MAX;
    for (int64_t oy = 0; oy < p->oh; oy++) {
        float *restrict acc = yp + oy * ow;
        const int64_t iy0 = oy * sh - p->pad_t;
        const float init = max ? -INFINITY : 0.0f;
        for (int64_t ox = 0; ox < ow; ox++) acc[ox] = init;
        int64_t ky_lo, ky_hi;
        isbrt__valid_range(iy0, dh, h, p->kh, &ky_lo, &ky_hi);
        for (int64_t ky = ky_lo; ky < ky_hi; ky++) {
            const float *row = xp + (iy0 + ky * dh) * w;
            for (int64_t kx = 0; kx < p->kw; kx++) {
                int64_t off = kx * dw - p->pad_l, lo, hi;
                isbrt__valid_range(off, sw, w, ow, &lo, &hi);
                if (hi <= lo) continue;
                const float *restrict s = row + lo * sw + off;
                float *restrict a = acc + lo;
                const int64_t n = hi - lo;
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
        }
        if (max) continue;
        int64_t cnt_h;
        if (p->count_include_pad)
            cnt_h = isbrt__count_in(iy0, p->kh, dh, -p->pad_t, h + p->pad_b);
        else
            cnt_h = ky_hi - ky_lo;
        for (int64_t ox = 0; ox < ow; ox++) {
            const int64_t ix0 = ox * sw - p->pad_l;
            int64_t cnt_w;
            if (p->count_include_pad)
                cnt_w = isbrt__count_in(ix0, p->kw, dw, -p->pad_l, w + p->pad_r);
            else
                cnt_w = isbrt__count_in(ix0, p->kw, dw, 0, w);
            const int64_t cnt = cnt_h * cnt_w;
            acc[ox] = cnt > 0 ? acc[ox] / (float)cnt : 0.0f;
        }
    }
}

void isbrt_pool2d_f32(const isbrt_pool2d *p, int64_t n, const float *x, float *y) {
    if (p->oh <= 0 || p->ow <= 0) return;
    const int64_t hw = p->h * p->w, ohow = p->oh * p->ow;
    for (int64_t i = 0; i < n * p->c; i++) pool_plane(p, x + i * hw, y + i * ohow);
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
