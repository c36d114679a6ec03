/* select.c — selection and indexing kernels: TopK-11, OneHot-11, GatherND-13, ScatterND-16,
 * ReverseSequence-10, Einsum-12 (a direct loop over every label), Det-11. Contracts are in
 * isbrt.h; none allocates memory. */
#include <string.h>

#include "internal.h"

/* ---- TopK -------------------------------------------------------------------------------- */

void isbrt_topk_f32(int64_t outer, int64_t len, int64_t inner, int64_t k, int32_t largest,
                    const float *x, float *y, int64_t *idx) {
    if (k <= 0) return;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            const float *xs = x + o * len * inner + in;
            int64_t *is = idx + o * k * inner + in, have = 0;
            /* is[0..have): the best indices so far, sorted; a later index never beats an
             * equal value */
            for (int64_t j = 0; j < len; j++) {
                float v = xs[j * inner];
                int64_t lo = 0, hi = have;
                while (lo < hi) {
                    int64_t mid = (lo + hi) / 2;
                    float m = xs[is[mid * inner] * inner];
                    if (largest ? v > m : v < m)
                        hi = mid;
                    else
                        lo = mid + 1;
                }
                if (lo >= k) continue;
                for (int64_t t = have < k ? have : k - 1; t > lo; t--)
                    is[t * inner] = is[(t - 1) * inner];
                is[lo * inner] = j;
                if (have < k) have++;
            }
            if (y)
                for (int64_t t = 0; t < k; t++)
                    y[(o * k + t) * inner + in] = xs[is[t * inner] * inner];
        }
}

/* ---- OneHot ------------------------------------------------------------------------------ */

/* Element i of an index tensor of dtype (enum isbrt_dtype: i32, i64, f32 or f64); a float
 * that no int64 holds (NaN, huge) gives INT64_MIN, out of range for any axis. */
static int64_t index_at(int32_t dtype, const void *p, int64_t i) {
    double v;
    switch (dtype) {
    case ISBRT_DT_I32: return ((const int32_t *)p)[i];
    case ISBRT_DT_F32: v = ((const float *)p)[i]; break;
    case ISBRT_DT_F64: v = ((const double *)p)[i]; break;
    default: return ((const int64_t *)p)[i];
    }
    return v > -0x1p63 && v < 0x1p63 ? (int64_t)v : INT64_MIN;
}

void isbrt_onehot(int64_t outer, int64_t depth, int64_t inner, int32_t idx_dtype, const void *idx,
                  int64_t elem_size, const void *values, void *y) {
    const char *off = values, *on = (const char *)values + elem_size;
    char *out = y;
    size_t es = (size_t)elem_size;
    for (int64_t i = 0; i < outer * depth * inner; i++) memcpy(out + i * es, off, es);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            int64_t v = index_at(idx_dtype, idx, o * inner + in);
            if (v < 0) v += depth;
            if (v < 0 || v >= depth) continue; /* out of range: all off */
            memcpy(out + ((o * depth + v) * inner + in) * es, on, es);
        }
}

/* ---- GatherND / ScatterND ---------------------------------------------------------------- */

/* Element offset of index tuple t[0..q) into dims with slices of `slice`; -1 if out of range. */
static int64_t tuple_offset(int32_t q, const int64_t *dims, int64_t slice, const int64_t *t) {
    int64_t off = 0;
    for (int32_t i = 0; i < q; i++) {
        int64_t v = t[i];
        if (v < 0) v += dims[i];
        if (v < 0 || v >= dims[i]) return -1;
        off = off * dims[i] + v;
    }
    return off * slice;
}

int isbrt_gather_nd(int64_t nbatch, int64_t ntup, int32_t q, const int64_t *dims, int64_t slice,
                    int64_t xbatch, const int64_t *idx, int64_t elem_size, const void *x, void *y) {
    const char *xs = x;
    char *ys = y;
    size_t bytes = (size_t)(slice * elem_size);
    for (int64_t b = 0; b < nbatch; b++)
        for (int64_t j = 0; j < ntup; j++) {
            int64_t off = tuple_offset(q, dims, slice, idx + (b * ntup + j) * q);
            if (off < 0) return -1;
            memcpy(ys + (b * ntup + j) * (int64_t)bytes, xs + (b * xbatch + off) * elem_size,
                   bytes);
        }
    return 0;
}

int isbrt_scatter_nd(int32_t red, int64_t ntup, int32_t q, const int64_t *dims, int64_t slice,
                     int64_t total, const int64_t *idx, int32_t dtype, int64_t elem_size,
                     const void *x, const void *updates, void *y) {
    if (y != x) memmove(y, x, (size_t)(total * elem_size));
    size_t bytes = (size_t)(slice * elem_size);
    for (int64_t j = 0; j < ntup; j++) {
        int64_t off = tuple_offset(q, dims, slice, idx + j * q);
        if (off < 0 || off + slice > total) return -1;
        char *dst = (char *)y + off * elem_size;
        const char *src = (const char *)updates + j * (int64_t)bytes;
        if (red == ISBRT_SCATTER_NONE)
            memcpy(dst, src, bytes);
        else if (isbrt__scatter_reduce(dtype, red, dst, src, slice) < 0)
            return -1;
    }
    return 0;
}

/* ---- ReverseSequence --------------------------------------------------------------------- */

int isbrt_reverse_sequence(int32_t time_axis, int64_t a, int64_t b, int64_t inner, const void *lens,
                           int32_t lens64, int64_t elem_size, const void *x, void *y) {
    int64_t nt = time_axis == 0 ? a : b, nb = time_axis == 0 ? b : a;
    size_t row = (size_t)(inner * elem_size);
    for (int64_t bi = 0; bi < nb; bi++) {
        int64_t len = lens64 ? ((const int64_t *)lens)[bi] : ((const int32_t *)lens)[bi];
        if (len < 0 || len > nt) return -1;
        for (int64_t t = 0; t < nt; t++) {
            int64_t src = t < len ? len - 1 - t : t;
            int64_t to = time_axis == 0 ? t * nb + bi : bi * nt + t;
            int64_t from = time_axis == 0 ? src * nb + bi : bi * nt + src;
            memcpy((char *)y + to * (int64_t)row, (const char *)x + from * (int64_t)row, row);
        }
    }
    return 0;
}

/* ---- Einsum ------------------------------------------------------------------------------ */

#define EINSUM_BODY(T)                                                                             \
    do {                                                                                           \
        for (int64_t i = 0; i < ycount; i++) y[i] = 0;                                             \
        int64_t cnt[ISBRT_EINSUM_MAX_LABELS] = {0}, off[17] = {0};                                 \
        for (int32_t l = 0; l < nlab; l++)                                                         \
            if (dims[l] <= 0) return;                                                              \
        int32_t last = nlab - 1;                                                                   \
        for (;;) {                                                                                 \
            int64_t n = nlab ? dims[last] : 1;                                                     \
            for (int64_t j = 0; j < n; j++) {                                                      \
                T p = 1;                                                                           \
                for (int32_t i = 0; i < nin; i++)                                                  \
                    p *= xs[i][off[i] + (nlab ? j * strides[i * nlab + last] : 0)];                \
                y[off[16] + (nlab ? j * ystrides[last] : 0)] += p;                                 \
            }                                                                                      \
            int32_t l = last - 1;                                                                  \
            for (; l >= 0; l--) {                                                                  \
                for (int32_t i = 0; i < nin; i++) off[i] += strides[i * nlab + l];                 \
                off[16] += ystrides[l];                                                            \
                if (++cnt[l] < dims[l]) break;                                                     \
                for (int32_t i = 0; i < nin; i++) off[i] -= strides[i * nlab + l] * dims[l];       \
                off[16] -= ystrides[l] * dims[l];                                                  \
                cnt[l] = 0;                                                                        \
            }                                                                                      \
            if (l < 0) return;                                                                     \
        }                                                                                          \
    } while (0)

enum { ISBRT_EINSUM_MAX_LABELS = 64 };

void isbrt_einsum_f32(int32_t nlab, const int64_t *dims, int32_t nin, const float *const *xs,
                      const int64_t *strides, const int64_t *ystrides, float *y, int64_t ycount) {
    if (nin > 16 || nlab > ISBRT_EINSUM_MAX_LABELS) return;
    EINSUM_BODY(float);
}

void isbrt_einsum_f64(int32_t nlab, const int64_t *dims, int32_t nin, const double *const *xs,
                      const int64_t *strides, const int64_t *ystrides, double *y, int64_t ycount) {
    if (nin > 16 || nlab > ISBRT_EINSUM_MAX_LABELS) return;
    EINSUM_BODY(double);
}

/* ---- Det --------------------------------------------------------------------------------- */

enum { DET_MAX = 64 };

void isbrt_det_f32(int64_t count, int64_t m, const float *x, float *y) {
    double a[DET_MAX * DET_MAX];
    if (m > DET_MAX) return;
    for (int64_t t = 0; t < count; t++) {
        for (int64_t i = 0; i < m * m; i++) a[i] = x[t * m * m + i];
        double det = 1;
        for (int64_t col = 0; col < m && det != 0; col++) {
            int64_t piv = col;
            for (int64_t r = col + 1; r < m; r++)
                if (fabs(a[r * m + col]) > fabs(a[piv * m + col])) piv = r;
            if (a[piv * m + col] == 0) {
                det = 0;
                break;
            }
            if (piv != col) {
                for (int64_t j = 0; j < m; j++) {
                    double s = a[col * m + j];
                    a[col * m + j] = a[piv * m + j];
                    a[piv * m + j] = s;
                }
                det = -det;
            }
            double d = a[col * m + col];
            det *= d;
            for (int64_t r = col + 1; r < m; r++) {
                double f = a[r * m + col] / d;
                for (int64_t j = col; j < m; j++) a[r * m + j] -= f * a[col * m + j];
            }
        }
        y[t] = (float)det;
    }
}
