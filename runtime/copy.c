/* copy.c — data movement for any element size: strided copy (Transpose, Slice, Concat, Split,
 * Expand), Gather-13, the inverse scatter used to put a guarded branch's sub-batch back,
 * Pad-18 (constant, reflect, edge) and fill.
 *
 * The strided copy first drops unit dims and merges dims that are contiguous in both source
 * and destination; when the innermost remaining dim is contiguous in both, each row is one
 * memcpy. Source and destination must not overlap. */
#include <string.h>

#include "internal.h"

/* Copy n elements of size es from s (stride ss) to d (stride ds), strides in elements. */
static void copy_row(int64_t n, int64_t es, const char *s, int64_t ss, char *d, int64_t ds) {
    if (ss == 1 && ds == 1) {
        memcpy(d, s, (size_t)(n * es));
        return;
    }
    const int64_t sb = ss * es, db = ds * es;
    switch (es) {
    case 1:
        for (int64_t i = 0; i < n; i++) d[i * db] = s[i * sb];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * db, s + i * sb, 2);
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * db, s + i * sb, 4);
        break;
    case 8:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * db, s + i * sb, 8);
        break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * db, s + i * sb, (size_t)es);
        break;
    }
}

void isbrt_copy_strided(int32_t rank, const int64_t *dims, const int64_t *src_strides,
                        const int64_t *dst_strides, int64_t elem_size, const void *src, void *dst) {
    int64_t d[ISBRT_MAX_RANK], ss[ISBRT_MAX_RANK], ds[ISBRT_MAX_RANK];
    int r = 0;
    if (rank > ISBRT_MAX_RANK) return;
    for (int32_t i = 0; i < rank; i++) {
        if (dims[i] <= 0) return;
        if (dims[i] == 1) continue;
        if (r > 0 && ss[r - 1] == src_strides[i] * dims[i] &&
            ds[r - 1] == dst_strides[i] * dims[i]) {
            d[r - 1] *= dims[i];
            ss[r - 1] = src_strides[i];
            ds[r - 1] = dst_strides[i];
            continue;
        }
        d[r] = dims[i];
        ss[r] = src_strides[i];
        ds[r] = dst_strides[i];
        r++;
    }
    const char *s = src;
    char *t = dst;
    if (r == 0) {
        memcpy(t, s, (size_t)elem_size);
        return;
    }
    const int outer = r - 1;
    int64_t idx[ISBRT_MAX_RANK] = {0};
    for (;;) {
        copy_row(d[outer], elem_size, s, ss[outer], t, ds[outer]);
        int k = outer - 1;
        for (; k >= 0; k--) {
            s += ss[k] * elem_size;
            t += ds[k] * elem_size;
            if (++idx[k] < d[k]) break;
            s -= ss[k] * d[k] * elem_size;
            t -= ds[k] * d[k] * elem_size;
            idx[k] = 0;
        }
        if (k < 0) return;
    }
}

int isbrt_gather(int64_t outer, int64_t axis_len, int64_t inner, const int64_t *idx, int64_t nidx,
                 int64_t elem_size, const void *x, void *y) {
    const size_t row = (size_t)(inner * elem_size);
    const char *s = x;
    char *d = y;
    int rc = 0;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < nidx; j++) {
            int64_t i = idx[j] < 0 ? idx[j] + axis_len : idx[j];
            if (i < 0 || i >= axis_len) {
                rc = -1;
                continue;
            }
            memcpy(d + (o * nidx + j) * (int64_t)row, s + (o * axis_len + i) * (int64_t)row, row);
        }
    }
    return rc;
}

int isbrt_scatter(int64_t outer, int64_t axis_len, int64_t inner, const int64_t *idx, int64_t nidx,
                  int64_t elem_size, const void *x, void *y) {
    const size_t row = (size_t)(inner * elem_size);
    const char *s = x;
    char *d = y;
    int rc = 0;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < nidx; j++) {
            int64_t i = idx[j] < 0 ? idx[j] + axis_len : idx[j];
            if (i < 0 || i >= axis_len) {
                rc = -1;
                continue;
            }
            memcpy(d + (o * axis_len + i) * (int64_t)row, s + (o * nidx + j) * (int64_t)row, row);
        }
    }
    return rc;
}

void isbrt_fill(int64_t count, int64_t elem_size, const void *value, void *dst) {
    if (count <= 0 || elem_size <= 0) return;
    const unsigned char *v = value;
    int same = 1;
    for (int64_t i = 1; i < elem_size; i++) same &= v[i] == v[0];
    if (same) {
        memset(dst, v[0], (size_t)(count * elem_size));
        return;
    }
    char *d = dst;
    if (elem_size == 4) {
        uint32_t u;
        memcpy(&u, value, 4);
        uint32_t *restrict p = dst;
        for (int64_t i = 0; i < count; i++) p[i] = u;
        return;
    }
    /* Doubling copies: log2(count) memcpy calls. */
    memcpy(d, value, (size_t)elem_size);
    int64_t done = 1;
    while (done < count) {
        int64_t n = done < count - done ? done : count - done;
        memcpy(d + done * elem_size, d, (size_t)(n * elem_size));
        done += n;
    }
}

/* ---- Pad ----------------------------------------------------------------------------- */

enum { PAD_CONSTANT = 0, PAD_REFLECT = 1, PAD_EDGE = 2, PAD_WRAP = 3 };

/* Source index along a dim of size n for the (possibly out-of-range) index i; -1 means
 * "the constant". Reflect mirrors without repeating the edge (numpy 'reflect'), any number of
 * times; wrap repeats the dim periodically (numpy 'wrap', Pad-19). */
static int64_t pad_src(int64_t i, int64_t n, int32_t mode) {
    if (i >= 0 && i < n) return i;
    if (mode == PAD_CONSTANT || n <= 0) return -1;
    if (mode == PAD_WRAP) return (i % n + n) % n;
    if (mode == PAD_EDGE || n == 1) return i < 0 ? 0 : n - 1;
    const int64_t period = 2 * (n - 1);
    int64_t m = i % period;
    if (m < 0) m += period;
    return m < n ? m : period - m;
}

void isbrt_pad(int32_t rank, const int64_t *in_dims, const int64_t *pads, int32_t mode,
               int64_t elem_size, const void *value, const void *x, void *y) {
    const int64_t es = elem_size;
    const char *xs = x;
    char *yd = y;
    char zero[64] = {0};
    const void *val = value;
    if (val == NULL) {
        if (es > (int64_t)sizeof zero) return;
        val = zero;
    }
    if (rank == 0) {
        memcpy(yd, xs, (size_t)es);
        return;
    }
    if (rank < 0 || rank > ISBRT_MAX_RANK) return;
    int64_t od[ISBRT_MAX_RANK] = {0}, is[ISBRT_MAX_RANK] = {0};
    int any_empty = 0;
    for (int32_t d = 0; d < rank; d++) {
        od[d] = in_dims[d] + pads[d] + pads[rank + d];
        if (od[d] <= 0) return;
        if (in_dims[d] <= 0) any_empty = 1;
    }
    if (any_empty) mode = PAD_CONSTANT;
    is[rank - 1] = 1;
    for (int32_t d = rank - 1; d > 0; d--) is[d - 1] = is[d] * in_dims[d];

    const int32_t last = rank - 1;
    const int64_t n_in = in_dims[last], n_out = od[last], begin = pads[last];
    /* Output columns [lo, hi) copy straight from the input row. */
    int64_t lo = begin < 0 ? 0 : begin, hi = begin + n_in;
    if (hi > n_out) hi = n_out;
    if (hi < 0) hi = 0;
    if (lo > hi) lo = hi;
    if (any_empty) lo = hi = 0;

    int64_t idx[ISBRT_MAX_RANK] = {0};
    for (;;) {
        /* Source row for the current outer output index, or -1 for a constant row. */
        int64_t src = 0;
        for (int32_t d = 0; d < last && src >= 0; d++) {
            int64_t i = pad_src(idx[d] - pads[d], in_dims[d], mode);
            src = i < 0 ? -1 : src + i * is[d];
        }
        if (src < 0) {
            isbrt_fill(n_out, es, val, yd);
        } else {
            const char *row = xs + src * es;
            for (int64_t o = 0; o < lo; o++) {
                int64_t i = pad_src(o - begin, n_in, mode);
                memcpy(yd + o * es, i < 0 ? val : row + i * es, (size_t)es);
            }
            if (hi > lo) memcpy(yd + lo * es, row + (lo - begin) * es, (size_t)((hi - lo) * es));
            for (int64_t o = hi; o < n_out; o++) {
                int64_t i = pad_src(o - begin, n_in, mode);
                memcpy(yd + o * es, i < 0 ? val : row + i * es, (size_t)es);
            }
        }
        yd += n_out * es;
        int32_t k = last - 1;
        for (; k >= 0; k--) {
            if (++idx[k] < od[k]) break;
            idx[k] = 0;
        }
        if (k < 0) return;
    }
}
