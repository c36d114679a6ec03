/* index.c — element-wise indexing and running sums (isbrt.h, "Index ops, cumulative sums"):
 * GatherElements-13, ScatterElements-16 / Scatter-11, CumSum-14. Tensors are dense
 * row-major; an index outside its axis makes the call return -1. */
#include <string.h>

#include "internal.h"

/* Row-major strides (elements) of dims. */
static void strides_of(int32_t rank, const int64_t *dims, int64_t *s) {
    int64_t st = 1;
    for (int d = rank - 1; d >= 0; d--) {
        s[d] = st;
        st *= dims[d];
    }
}

static int64_t numel(int32_t rank, const int64_t *dims) {
    int64_t n = 1;
    for (int d = 0; d < rank; d++) n *= dims[d];
    return n;
}

/* Walks the elements of an index tensor (dims i_dims) in order, tracking the offset into the
 * data tensor (strides xs) of the same position with the `axis` component left out. */
typedef struct Walk {
    int32_t rank, axis;
    const int64_t *dims, *xs;
    int64_t cnt[ISBRT_MAX_RANK];
    int64_t off;
} Walk;

static void walk_next(Walk *w) {
    for (int d = w->rank - 1; d >= 0; d--) {
        int64_t step = d == w->axis ? 0 : w->xs[d];
        if (++w->cnt[d] < w->dims[d]) {
            w->off += step;
            return;
        }
        w->off -= (w->dims[d] - 1) * step;
        w->cnt[d] = 0;
    }
}

/* The data offset of index element e, or -1 if it is out of range. */
static int64_t walk_target(const Walk *w, const int64_t *idx, int64_t e, int64_t axis_len) {
    int64_t k = idx[e];
    if (k < 0) k += axis_len;
    if (k < 0 || k >= axis_len) return -1;
    return w->off + k * w->xs[w->axis];
}

static void copy_elem(void *dst, const void *src, int64_t es) {
    switch (es) {
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, (size_t)es);
    }
}

int isbrt_gather_elements(int32_t rank, const int64_t *x_dims, const int64_t *i_dims, int32_t axis,
                          const int64_t *idx, int64_t elem_size, const void *x, void *y) {
    int64_t xs[ISBRT_MAX_RANK];
    strides_of(rank, x_dims, xs);
    Walk w = {.rank = rank, .axis = axis, .dims = i_dims, .xs = xs};
    int64_t total = numel(rank, i_dims);
    const char *xb = x;
    char *yb = y;
    for (int64_t e = 0; e < total; e++) {
        int64_t at = walk_target(&w, idx, e, x_dims[axis]);
        if (at < 0) return -1;
        copy_elem(yb + e * elem_size, xb + at * elem_size, elem_size);
        walk_next(&w);
    }
    return 0;
}

/* y[i] = red(y[i], u[i]) for element type T; add and mul in U (unsigned for the integer
 * types, so overflow wraps instead of being undefined). */
#define REDUCE_LOOP(T, U)                                                                          \
    do {                                                                                           \
        T *yt = y;                                                                                 \
        const T *ut = u;                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T a = yt[i], b = ut[i];                                                                \
            switch (red) {                                                                         \
            case ISBRT_SCATTER_ADD: a = (T)((U)a + (U)b); break;                                   \
            case ISBRT_SCATTER_MUL: a = (T)((U)a * (U)b); break;                                   \
            case ISBRT_SCATTER_MAX: a = a > b ? a : b; break;                                      \
            case ISBRT_SCATTER_MIN: a = a < b ? a : b; break;                                      \
            default: a = b;                                                                        \
            }                                                                                      \
            yt[i] = a;                                                                             \
        }                                                                                          \
    } while (0)

int isbrt__scatter_reduce(int32_t dtype, int32_t red, void *y, const void *u, int64_t n) {
    switch (dtype) {
    case ISBRT_DT_F32: REDUCE_LOOP(float, float); break;
    case ISBRT_DT_F64: REDUCE_LOOP(double, double); break;
    case ISBRT_DT_I32: REDUCE_LOOP(int32_t, uint32_t); break;
    case ISBRT_DT_I64: REDUCE_LOOP(int64_t, uint64_t); break;
    case ISBRT_DT_U32: REDUCE_LOOP(uint32_t, uint32_t); break;
    case ISBRT_DT_U64: REDUCE_LOOP(uint64_t, uint64_t); break;
    case ISBRT_DT_U8: REDUCE_LOOP(uint8_t, unsigned); break;
    case ISBRT_DT_I8: REDUCE_LOOP(int8_t, unsigned); break;
    default: return -1;
    }
    return 0;
}

static int64_t dtype_bytes(int32_t dtype) {
    switch (dtype) {
    case ISBRT_DT_U8:
    case ISBRT_DT_I8: return 1;
    case ISBRT_DT_F32:
    case ISBRT_DT_I32:
    case ISBRT_DT_U32: return 4;
    case ISBRT_DT_F64:
    case ISBRT_DT_I64:
    case ISBRT_DT_U64: return 8;
    default: return 0;
    }
}

int isbrt_scatter_elements(int32_t dtype, int32_t reduction, int32_t rank, const int64_t *x_dims,
                           const int64_t *i_dims, int32_t axis, const int64_t *idx, const void *x,
                           const void *u, void *y) {
    int64_t es = dtype_bytes(dtype);
    if (es == 0) return -1;
    if (x != y) memcpy(y, x, (size_t)(numel(rank, x_dims) * es));
    int64_t xs[ISBRT_MAX_RANK];
    strides_of(rank, x_dims, xs);
    Walk w = {.rank = rank, .axis = axis, .dims = i_dims, .xs = xs};
    int64_t total = numel(rank, i_dims);
    char *yb = y;
    const char *ub = u;
    for (int64_t e = 0; e < total; e++) {
        int64_t at = walk_target(&w, idx, e, x_dims[axis]);
        if (at < 0) return -1;
        if (reduction == ISBRT_SCATTER_NONE)
            copy_elem(yb + at * es, ub + e * es, es);
        else
            isbrt__scatter_reduce(dtype, reduction, yb + at * es, ub + e * es, 1);
        walk_next(&w);
    }
    return 0;
}

/* One running sum per (outer, inner) pair over the middle dim of [outer, len, inner]. */
#define CUMSUM_LOOP(T)                                                                             \
    do {                                                                                           \
        const T *xt = x;                                                                           \
        T *yt = y;                                                                                 \
        for (int64_t o = 0; o < outer; o++)                                                        \
            for (int64_t i = 0; i < inner; i++) {                                                  \
                T acc = 0;                                                                         \
                for (int64_t j = 0; j < len; j++) {                                                \
                    int64_t k = reverse ? len - 1 - j : j;                                         \
                    int64_t at = (o * len + k) * inner + i;                                        \
                    T v = xt[at];                                                                  \
                    if (exclusive) {                                                               \
                        yt[at] = acc;                                                              \
                        acc += v;                                                                  \
                    } else {                                                                       \
                        acc += v;                                                                  \
                        yt[at] = acc;                                                              \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
    } while (0)

int isbrt_cumsum(int32_t dtype, int32_t rank, const int64_t *dims, int64_t axis, int32_t exclusive,
                 int32_t reverse, const void *x, void *y) {
    int32_t r = rank ? rank : 1;
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return -1;
    int64_t outer = 1, len = rank ? dims[axis] : 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= dims[d];
    for (int d = (int)axis + 1; d < rank; d++) inner *= dims[d];
    switch (dtype) {
    case ISBRT_DT_F32: CUMSUM_LOOP(float); break;
    case ISBRT_DT_F64: CUMSUM_LOOP(double); break;
    /* signed sums in unsigned arithmetic: the same bits, and overflow wraps instead of UB */
    case ISBRT_DT_I32:
    case ISBRT_DT_U32: CUMSUM_LOOP(uint32_t); break;
    case ISBRT_DT_I64:
    case ISBRT_DT_U64: CUMSUM_LOOP(uint64_t); break;
    default: return -1;
    }
    return 0;
}
