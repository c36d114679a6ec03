/* internal.h — private helpers shared by the libisbrt kernel files. Not installed.
 *
 * Symbols here are hidden in the shared library; the isbrt__ prefix keeps them out of a user's
 * namespace when the static library is linked. */
#ifndef ISBRT_INTERNAL_H
#define ISBRT_INTERNAL_H

#include <math.h>

#include "isbrt.h"
#include "vmath.h"

#define ISBRT_HIDDEN __attribute__((visibility("hidden")))

/* Hot kernels get an AVX2+FMA clone next to the baseline x86-64 (SSE2) one; the dynamic
 * loader picks one per process (ifunc), so the library still runs on any x86-64. */
#define ISBRT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

/* y[i] = act(y[i] + bias + (res ? res[i] : 0)) for i < len, in one pass over y (blocks that
 * stay in L1). res must not overlap y. */
ISBRT_HIDDEN void isbrt__epilogue(float *y, int64_t len, float bias, const float *res,
                                  const isbrt_actp *act);

/* One chunk of a kernel's work (thread.c): chunk `part` of `parts`, run by thread `thread`
 * (0: the caller's; < ISBRT__MAX_PARTS, for per-thread scratch). */
typedef struct isbrt__team {
    int part, parts;
    int thread;
} isbrt__team;
typedef void (*isbrt__team_fn)(void *ctx, const isbrt__team *chunk);

/* Most threads a team has; per-thread scratch is sized for this many. */
#define ISBRT__MAX_PARTS 8
/* Work (multiply-adds, or comparable units) from which a kernel splits over the run's team,
 * and over threads started for the call when it has no team (creation costs ~70 us). */
#define ISBRT__TEAM_MIN_WORK (1 << 16)
#define ISBRT__NEW_MIN_WORK (8 << 20)
/* Chunks per thread: more balance the load when a thread is slowed down, fewer cost less. */
#define ISBRT__CHUNKS_PER_PART 4

/* C = alpha op(A) op(B) + beta C, row-major. Called from a chunk of a team job (`chunk`, see
 * isbrt__parallel) or with too few multiply-adds to pay for OpenBLAS's threads, it runs on
 * our own kernel on the calling thread; otherwise cblas_sgemm with OpenBLAS's thread setting
 * as the caller left it. Never writes OpenBLAS's (process-wide) thread count. */
ISBRT_HIDDEN void isbrt__sgemm(const isbrt__team *chunk, int trans_a, int trans_b, int64_t m,
                               int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                               const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* Threads a kernel may use: OpenBLAS's current setting (isbrt_set_threads). */
ISBRT_HIDDEN int isbrt__threads(void);
/* Threads a call of `work` on `team` (a run's team, or NULL) runs on: the team's when work >=
 * ISBRT__TEAM_MIN_WORK; without a team isbrt__threads() when work >= ISBRT__NEW_MIN_WORK;
 * else 1. */
ISBRT_HIDDEN int isbrt__parts_for(const void *team, int64_t work);
/* A chunk count for splitting `items` (at most items, at least 1) on those threads. */
ISBRT_HIDDEN int64_t isbrt__chunks(const void *team, int64_t work, int64_t items);
/* Run fn for chunks [0, chunks) on isbrt__parts_for(team, work) threads (inline when 1), each
 * chunk once, in any order, concurrently; returns when all are done. A chunk's products
 * go through isbrt__sgemm with the chunk, so they stay on the chunk's thread. */
ISBRT_HIDDEN void isbrt__parallel(const void *team, int64_t work, int64_t chunks, isbrt__team_fn fn,
                                  void *ctx);
/* This chunk's share [lo, hi) of n items. */
ISBRT_HIDDEN void isbrt__share(const isbrt__team *chunk, int64_t n, int64_t *lo, int64_t *hi);

/* GEMM on weights pre-packed in blocks of output rows (pointwise.c), with the conv epilogue
 * fused into the store. isbrt__pw_pack_rows packs a [m, k] row-major matrix into
 * isbrt__pw_rows_floats(m, k) floats. isbrt__pw_gemm: for the packed row blocks [rb_lo,
 * rb_hi) (ISBRT__PW_MR rows each) and columns [c_lo, c_hi): y[r][c] = act(sum_kk a[r][kk]
 * x[kk][c] + bias[r] + res[r][c]) (bias, res, act may be NULL; res may be y; y and res rows
 * have stride ldy, x rows ldx). isbrt__pw_conv: a 1x1, stride 1, unpadded, one-group
 * convolution on weights so packed, split over the run's team when given. */
#define ISBRT__PW_MR 12
ISBRT_HIDDEN size_t isbrt__pw_rows_floats(int64_t m, int64_t k);
ISBRT_HIDDEN void isbrt__pw_pack_rows(int64_t m, int64_t k, const float *w, float *out);
ISBRT_HIDDEN void isbrt__pw_gemm(const float *a, int64_t m, int64_t k, int64_t rb_lo, int64_t rb_hi,
                                 const float *x, int64_t ldx, int64_t c_lo, int64_t c_hi, float *y,
                                 int64_t ldy, const float *bias, const float *res,
                                 const isbrt_actp *act);
ISBRT_HIDDEN void isbrt__pw_conv(const void *team, const isbrt_conv *p, int64_t n, const float *x,
                                 const float *packed, const float *bias, const float *residual,
                                 float *y);

/* True if the activation is the identity. */
static inline int isbrt__act_none(const isbrt_actp *act) {
    return act == NULL || act->kind == ISBRT_ACT_NONE;
}

/* The one formula of each activation (enum isbrt_act), on one value. */
static inline __attribute__((always_inline)) float isbrt__act1(int kind, float a, float b,
                                                               float x) {
    switch (kind) {
    case ISBRT_ACT_RELU: return x < 0.0f ? 0.0f : x;
    case ISBRT_ACT_CLIP: {
        float v = x < a ? a : x;
        return v > b ? b : v;
    }
    case ISBRT_ACT_SIGMOID: return isbrt__sigmoidf(x);
    case ISBRT_ACT_HARDSIGMOID: {
        float v = a * x + b;
        v = v < 0.0f ? 0.0f : v;
        return v > 1.0f ? 1.0f : v;
    }
    case ISBRT_ACT_HARDSWISH: {
        float v = x * (1.0f / 6.0f) + 0.5f;
        v = v < 0.0f ? 0.0f : v;
        v = v > 1.0f ? 1.0f : v;
        return x * v;
    }
    case ISBRT_ACT_LEAKYRELU: return x >= 0.0f ? x : a * x;
    case ISBRT_ACT_SILU: return x * isbrt__sigmoidf(x);
    case ISBRT_ACT_TANH: return isbrt__tanhf(x);
    case ISBRT_ACT_AFFINE: return a * x + b;
    case ISBRT_ACT_THRESHOLDEDRELU: return x > a ? x : 0.0f;
    case ISBRT_ACT_SCALEDTANH: return a * isbrt__tanhf(b * x);
    case ISBRT_ACT_ELU: return x >= 0.0f ? x : a * (isbrt__expf(x) - 1.0f);
    case ISBRT_ACT_SOFTSIGN: return x / (1.0f + fabsf(x));
    case ISBRT_ACT_SOFTPLUS: return log1pf(isbrt__expf(x));
    default: return x;
    }
}

/* The activation and epilogue loops, inlined into each kernel that uses them so they are
 * compiled inside that kernel's AVX2 clone. The switch is outside the loops (each case a
 * loop over isbrt__act1 of a constant kind) so GCC can vectorise each. */
#define ISBRT__ACT_LOOP(K)                                                                         \
    case K:                                                                                        \
        for (int64_t i = 0; i < count; i++) x[i] = isbrt__act1(K, a, b, x[i]);                     \
        break;
static inline __attribute__((always_inline)) void isbrt__act_inline(const isbrt_actp *act, float *x,
                                                                    int64_t count) {
    if (isbrt__act_none(act) || count <= 0) return;
    const float a = act->a, b = act->b;
    switch (act->kind) {
        ISBRT__ACT_LOOP(ISBRT_ACT_RELU)
        ISBRT__ACT_LOOP(ISBRT_ACT_CLIP)
        ISBRT__ACT_LOOP(ISBRT_ACT_SIGMOID)
        ISBRT__ACT_LOOP(ISBRT_ACT_HARDSIGMOID)
        ISBRT__ACT_LOOP(ISBRT_ACT_HARDSWISH)
        ISBRT__ACT_LOOP(ISBRT_ACT_LEAKYRELU)
        ISBRT__ACT_LOOP(ISBRT_ACT_SILU)
        ISBRT__ACT_LOOP(ISBRT_ACT_TANH)
        ISBRT__ACT_LOOP(ISBRT_ACT_AFFINE)
        ISBRT__ACT_LOOP(ISBRT_ACT_THRESHOLDEDRELU)
        ISBRT__ACT_LOOP(ISBRT_ACT_SCALEDTANH)
        ISBRT__ACT_LOOP(ISBRT_ACT_ELU)
        ISBRT__ACT_LOOP(ISBRT_ACT_SOFTSIGN)
        ISBRT__ACT_LOOP(ISBRT_ACT_SOFTPLUS)
    default: break;
    }
}
#undef ISBRT__ACT_LOOP

static inline __attribute__((always_inline)) void
isbrt__epilogue_inline(float *y, int64_t len, float bias, const float *res, const isbrt_actp *act) {
    enum { BLOCK = 2048 };
    int none = isbrt__act_none(act);
    if (res == NULL && bias == 0.0f && none) return;
    for (int64_t i0 = 0; i0 < len; i0 += BLOCK) {
        int64_t nb = len - i0 < BLOCK ? len - i0 : BLOCK;
        float *restrict yb = y + i0;
        if (res != NULL) {
            const float *restrict rb = res + i0;
            for (int64_t i = 0; i < nb; i++) yb[i] += bias + rb[i];
        } else if (bias != 0.0f) {
            for (int64_t i = 0; i < nb; i++) yb[i] += bias;
        }
        if (!none) isbrt__act_inline(act, yb, nb);
    }
}

/* Floor and ceiling of a / b for b > 0 and any sign of a. */
static inline int64_t isbrt__floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static inline int64_t isbrt__ceildiv(int64_t a, int64_t b) {
    return -isbrt__floordiv(-a, b);
}

/* Output positions o in [0, n_out) whose tap o*stride + off lands inside [0, n_in): they form
 * the range [*lo, *hi) (empty when *lo == *hi). */
static inline void isbrt__valid_range(int64_t off, int64_t stride, int64_t n_in, int64_t n_out,
                                      int64_t *lo, int64_t *hi) {
    int64_t l = isbrt__ceildiv(-off, stride);
    int64_t h = isbrt__floordiv(n_in - 1 - off, stride) + 1;
    if (l < 0) l = 0;
    if (h > n_out) h = n_out;
    if (h < l) h = l;
    if (l > n_out) l = h = n_out;
    *lo = l;
    *hi = h;
}

/* The reduction (enum isbrt_scatter_red other than none) of ScatterElements-16 and
 * ScatterND-16 over n elements of dtype (enum isbrt_dtype: f32, f64, i32, i64, u32, u64, u8,
 * i8): y[i] = red(y[i], u[i]). Integer add and mul are done unsigned, so overflow wraps
 * instead of being undefined. Returns -1 for another dtype, else 0 (index.c). */
ISBRT_HIDDEN int isbrt__scatter_reduce(int32_t dtype, int32_t red, void *y, const void *u,
                                       int64_t n);

/* Number of j in [0, k) with lo <= start + j*d < hi (d > 0). */
static inline int64_t isbrt__count_in(int64_t start, int64_t k, int64_t d, int64_t lo, int64_t hi) {
    int64_t first = isbrt__ceildiv(lo - start, d);
    int64_t last = isbrt__floordiv(hi - 1 - start, d) + 1;
    if (first < 0) first = 0;
    if (last > k) last = k;
    return last > first ? last - first : 0;
}

/* Polyphase copy of one zero-padded (or `fill`-padded) plane, for the flat small-plane paths
 * of depthwise conv (conv.c) and pooling (pool.c): for stride s (1 or 2),
 * Q[a][b][i][j] = x[s*i + a - pad_t][s*j + b - pad_l] for i < hq, j < wq, and `fill` where
 * that lies outside the h x w input; phase (a, b) starts at q + (a*s + b) * hq * wq. A tap
 * (dy, dx) of the padded plane at output (oy, ox) is then phase ((dy & 1), (dx & 1)) at
 * (oy + dy/s) * wq + ox + dx/s (stride 1: dy * wq + ox + dx). Short rows: the copies are plain
 * loops; callers should disable GCC's memcpy/memset pattern replacement. */
static inline __attribute__((always_inline)) void
isbrt__phase_copy(const float *restrict x, int64_t h, int64_t w, int64_t pad_t, int64_t pad_l,
                  int64_t s, int64_t hq, int64_t wq, float fill, float *restrict q) {
    for (int64_t a = 0; a < s; a++)
        for (int64_t b = 0; b < s; b++) {
            float *restrict ph = q + (a * s + b) * hq * wq;
            /* columns j with 0 <= s*j + b - pad_l < w */
            int64_t lo, hi;
            isbrt__valid_range(b - pad_l, s, w, wq, &lo, &hi);
            for (int64_t i = 0; i < hq; i++) {
                float *restrict d = ph + i * wq;
                const int64_t iy = s * i + a - pad_t;
                if (iy < 0 || iy >= h || hi <= lo) {
                    for (int64_t j = 0; j < wq; j++) d[j] = fill;
                    continue;
                }
                for (int64_t j = 0; j < lo; j++) d[j] = fill;
                const float *restrict src = x + iy * w + (s * lo + b - pad_l);
                if (s == 1)
                    for (int64_t j = 0; j < hi - lo; j++) d[lo + j] = src[j];
                else
                    for (int64_t j = 0; j < hi - lo; j++) d[lo + j] = src[2 * j];
                for (int64_t j = hi; j < wq; j++) d[j] = fill;
            }
        }
}

#endif
