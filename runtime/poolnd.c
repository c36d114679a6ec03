/* poolnd.c — pooling of any spatial rank with MaxPool's Indices output (ONNX MaxPool-12 on
 * f32, u8 and i8; AveragePool-11 on f32), MaxUnpool-11 and LRN-13.
 *
 * The generic path next to pool.c's fast 2-D one: every output position walks its window
 * with an odometer. Window positions in the padding never contribute to a max (the first
 * maximum in window order wins, as in the ONNX reference); the average divisor follows
 * pool.c (count_include_pad counts positions inside [-pad, size + pad_end)). Indices are
 * flat positions in x: ((b*c + ch) * plane + spatial offset), the spatial offset row-major,
 * or column-major with storage_order 1. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Window of output position o (multi-index): per dim the first tap and the tap range
 * [lo, hi) that lands inside the input; returns the product of the tap counts inside, and in
 * *padded those inside the padded extent. */
static int64_t pool_window(const isbrt_poolnd *p, const int64_t *o, int64_t *start, int64_t *lo,
                           int64_t *hi, int64_t *padded) {
    int64_t inside = 1, pad_count = 1;
    for (int d = 0; d < p->nsp; d++) {
        start[d] = o[d] * p->stride[d] - p->pad[d];
        int64_t l = isbrt__ceildiv(-start[d], p->dil[d]);
        int64_t h = isbrt__floordiv(p->in[d] - 1 - start[d], p->dil[d]) + 1;
        lo[d] = l < 0 ? 0 : l;
        hi[d] = h > p->k[d] ? p->k[d] : h;
        if (hi[d] < lo[d]) hi[d] = lo[d];
        inside *= hi[d] - lo[d];
        pad_count *=
            isbrt__count_in(start[d], p->k[d], p->dil[d], -p->pad[d], p->in[d] + p->pad_end[d]);
    }
    *padded = pad_count;
    return inside;
}

/* Spatial offset of input multi-index i: row-major, or column-major for storage_order 1. */
static int64_t pool_offset(const isbrt_poolnd *p, const int64_t *i) {
    int64_t off = 0;
    if (p->storage_order)
        for (int d = p->nsp - 1; d >= 0; d--) off = off * p->in[d] + i[d];
    else
        for (int d = 0; d < p->nsp; d++) off = off * p->in[d] + i[d];
    return off;
}

#define POOL_MAX_FN(NAME, T)                                                                       \
    static void NAME(const isbrt_poolnd *p, int64_t planes, const T *x, T *y, int64_t *ind) {      \
        const int s = p->nsp;                                                                      \
        int64_t lin = 1, lout = 1;                                                                 \
        for (int d = 0; d < s; d++) lin *= p->in[d], lout *= p->out[d];                            \
        for (int64_t pl = 0; pl < planes; pl++) {                                                  \
            const T *xp = x + pl * lin;                                                            \
            int64_t o[ISBRT_MAX_RANK] = {0};                                                       \
            for (int64_t q = 0; q < lout; q++) {                                                   \
                int64_t st[ISBRT_MAX_RANK], lo[ISBRT_MAX_RANK], hi[ISBRT_MAX_RANK], padded;        \
                int64_t cnt = pool_window(p, o, st, lo, hi, &padded);                              \
                T best = 0;                                                                        \
                int64_t besti = -1;                                                                \
                if (cnt > 0) {                                                                     \
                    int64_t k[ISBRT_MAX_RANK], i[ISBRT_MAX_RANK];                                  \
                    for (int d = 0; d < s; d++) k[d] = lo[d];                                      \
                    for (;;) {                                                                     \
                        for (int d = 0; d < s; d++) i[d] = st[d] + k[d] * p->dil[d];               \
                        int64_t off = 0;                                                           \
                        for (int d = 0; d < s; d++) off = off * p->in[d] + i[d];                   \
                        if (besti < 0 || xp[off] > best)                                           \
                            best = xp[off], besti = pool_offset(p, i);                             \
                        int d = s - 1;                                                             \
                        for (; d >= 0; d--) {                                                      \
                            if (++k[d] < hi[d]) break;                                             \
                            k[d] = lo[d];                                                          \
                        }                                                                          \
                        if (d < 0) break;                                                          \
                    }                                                                              \
                }                                                                                  \
                y[pl * lout + q] = best;                                                           \
                if (ind) ind[pl * lout + q] = besti < 0 ? -1 : pl * lin + besti;                   \
                for (int d = s - 1; d >= 0; d--) {                                                 \
                    if (++o[d] < p->out[d]) break;                                                 \
                    o[d] = 0;                                                                      \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

POOL_MAX_FN(pool_max_f32, float)
POOL_MAX_FN(pool_max_u8, uint8_t)
POOL_MAX_FN(pool_max_i8, int8_t)

static void pool_avg_f32(const isbrt_poolnd *p, int64_t planes, const float *x, float *y) {
    const int s = p->nsp;
    int64_t lin = 1, lout = 1;
    for (int d = 0; d < s; d++) lin *= p->in[d], lout *= p->out[d];
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * lin;
        int64_t o[ISBRT_MAX_RANK] = {0};
        for (int64_t q = 0; q < lout; q++) {
            int64_t st[ISBRT_MAX_RANK], lo[ISBRT_MAX_RANK], hi[ISBRT_MAX_RANK], padded;
            int64_t cnt = pool_window(p, o, st, lo, hi, &padded);
            double sum = 0;
            if (cnt > 0) {
                int64_t k[ISBRT_MAX_RANK];
                for (int d = 0; d < s; d++) k[d] = lo[d];
                for (;;) {
                    int64_t off = 0;
                    for (int d = 0; d < s; d++) off = off * p->in[d] + st[d] + k[d] * p->dil[d];
                    sum += xp[off];
                    int d = s - 1;
                    for (; d >= 0; d--) {
                        if (++k[d] < hi[d]) break;
                        k[d] = lo[d];
                    }
                    if (d < 0) break;
                }
            }
            int64_t div = p->count_include_pad ? padded : cnt;
            y[pl * lout + q] = div > 0 ? (float)(sum / (double)div) : 0.0f;
            for (int d = s - 1; d >= 0; d--) {
                if (++o[d] < p->out[d]) break;
                o[d] = 0;
            }
        }
    }
}

void isbrt_poolnd_run(const isbrt_poolnd *p, int32_t dtype, int64_t n, const void *x, void *y,
                      int64_t *indices) {
    const int64_t planes = n * p->c;
    if (p->kind == ISBRT_POOL_AVG) {
        pool_avg_f32(p, planes, x, y);
        return;
    }
    switch (dtype) {
    case 2: pool_max_u8(p, planes, x, y, indices); break;
    case 3: pool_max_i8(p, planes, x, y, indices); break;
    default: pool_max_f32(p, planes, x, y, indices); break;
    }
}

int isbrt_maxunpool_f32(int32_t nsp, const int64_t *frame, const int64_t *out, int64_t planes,
                        int64_t nx, const float *x, const int64_t *idx, float *y) {
    int64_t lf = 1, lo = 1;
    for (int d = 0; d < nsp; d++) lf *= frame[d], lo *= out[d];
    memset(y, 0, sizeof(float) * (size_t)(planes * lo));
    int rc = 0;
    for (int64_t i = 0; i < nx; i++) {
        int64_t v = idx[i], plane = v / lf, rem = v % lf, off = 0, stride = 1;
        int ok = v >= 0 && plane < planes;
        for (int d = nsp - 1; d >= 0 && ok; d--) {
            int64_t coord = rem % frame[d];
            rem /= frame[d];
            if (coord >= out[d]) ok = 0;
            off += coord * stride;
            stride *= out[d];
        }
        if (!ok) {
            rc = -1;
            continue;
        }
        y[plane * lo + off] = x[i];
    }
    return rc;
}

void isbrt_lrn_f32(int64_t n, int64_t c, int64_t inner, int64_t size, float alpha, float beta,
                   float bias, const float *x, float *y) {
    const int64_t before = (size - 1) / 2, after = size - 1 - before;
    const double scale = (double)alpha / (double)size;
    for (int64_t b = 0; b < n; b++) {
        const float *xb = x + b * c * inner;
        float *yb = y + b * c * inner;
        for (int64_t ch = 0; ch < c; ch++) {
            int64_t lo = ch - before < 0 ? 0 : ch - before;
            int64_t hi = ch + after >= c ? c - 1 : ch + after;
            for (int64_t i = 0; i < inner; i++) {
                double sq = 0;
                for (int64_t k = lo; k <= hi; k++) {
                    double v = xb[k * inner + i];
                    sq += v * v;
                }
                yb[ch * inner + i] = (float)(xb[ch * inner + i] / pow(bias + scale * sq, beta));
            }
        }
    }
}
