/* pointwise.c — 1x1, stride 1, unpadded, one-group convolution (ONNX Conv-11) on weights
 * pre-packed by the compiler: y[co][p] = act(bias[co] + sum_ci w[co][ci] x[ci][p] (+ res)).
 *
 * A small GEMM of its own instead of cblas_sgemm: the weights are already in the kernel's
 * layout (packed once, isbrt__pw_pack), the input is read in place (no packing of the large
 * operand) and bias, residual and activation are applied as each register tile is stored,
 * so the output is written once. The packed form is CPU-independent (blocks of PW_MR output
 * channels, channel-minor); the tile kernel is picked per call: AVX-512 (PW_MR x 32), AVX2
 * (PW_MR x 8 steps) or plain C. Output columns go in blocks of PW_NB: the block of input
 * rows stays in L1 while every channel block runs over it. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <string.h>

#include "internal.h"

/* Tile rows and columns; depth of a block of k (its slice of the input, PW_KC x PW_NB floats,
 * stays in L1 while every row block runs over it). */
enum { PW_MR = ISBRT__PW_MR, PW_NB = 32, PW_KC = 256 };

size_t isbrt__pw_rows_floats(int64_t m, int64_t k) {
    return (size_t)((m + PW_MR - 1) / PW_MR * PW_MR * k);
}

/* out[blk][kk][r] = w[blk * PW_MR + r][kk], zero past m. */
void isbrt__pw_pack_rows(int64_t m, int64_t k, const float *w, float *out) {
    const int64_t nblk = (m + PW_MR - 1) / PW_MR;
    for (int64_t b = 0; b < nblk; b++)
        for (int64_t kk = 0; kk < k; kk++)
            for (int64_t r = 0; r < PW_MR; r++) {
                const int64_t row = b * PW_MR + r;
                out[(b * k + kk) * PW_MR + r] = row < m ? w[row * k + kk] : 0.0f;
            }
}

/* What a tile needs to finish its rows: output rows y (stride ld), residual rows res (NULL,
 * or y itself: accumulate), bias per row (NULL: 0), activation. */
typedef struct pw_out {
    float *y;
    const float *res;
    const float *bias;
    int64_t ld;
    const isbrt_actp *act;
    float lo, hi; /* ReLU / Clip as a clamp (else -inf, inf) */
    int other;    /* another activation: applied after the store */
} pw_out;

/* The epilogue of one finished row segment of `n` values already stored at y. */
static void pw_row_act(const pw_out *o, float *y, int64_t n) {
    if (o->other) isbrt__act_inline(o->act, y, n);
}
#if defined(__x86_64__) || defined(__i386__)
/* The same for `rows` finished rows of a tile (row stride o->ld), compiled for the ISA of the
 * tile kernel that calls it, once after all its rows are stored: the activation loops
 * vectorise at that width, and no accumulator is live across the call. */
__attribute__((target("avx2,fma"))) static void pw_rows_act_avx2(const pw_out *o, float *y,
                                                                 int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++) isbrt__act_inline(o->act, y + r * o->ld, n);
}
__attribute__((target("avx512f,fma"))) static void pw_rows_act_avx512(const pw_out *o, float *y,
                                                                      int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++) isbrt__act_inline(o->act, y + r * o->ld, n);
}
#endif

#if defined(__x86_64__) || defined(__i386__)
/* The R x (16 * NV) tile (R <= PW_MR rows, NV = 1 or 2) in AVX-512 registers, the columns
 * past nc masked. */
__attribute__((target("avx512f,fma"))) static inline __attribute__((always_inline)) void
pw_tile512(const float *restrict a, const float *restrict x, int64_t ldx, int64_t k, int64_t mr,
           int64_t nc, const pw_out *o, int64_t co, const int R, const int NV) {
    __m512 acc[PW_MR][2];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const __mmask16 m0 = nc >= 16 ? 0xFFFF : (__mmask16)((1u << nc) - 1);
    const __mmask16 m1 = nc >= 32 ? 0xFFFF : nc <= 16 ? 0 : (__mmask16)((1u << (nc - 16)) - 1);
    for (int64_t ci = 0; ci < k; ci++) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, x + ci * ldx);
        const __m512 b1 = NV == 2 ? _mm512_maskz_loadu_ps(m1, x + ci * ldx + 16) : b0;
        const float *ar = a + ci * PW_MR;
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            const __m512 av = _mm512_set1_ps(ar[r]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            if (NV == 2) acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    const __m512 lo = _mm512_set1_ps(o->lo), hi = _mm512_set1_ps(o->hi);
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        if (r >= mr) continue;
        float *y = o->y + (co + r) * o->ld;
        const __m512 bv = _mm512_set1_ps(o->bias ? o->bias[co + r] : 0.0f);
        __m512 v0 = _mm512_add_ps(acc[r][0], bv), v1 = _mm512_add_ps(acc[r][1], bv);
        if (o->res) {
            const float *rr = o->res + (co + r) * o->ld;
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, rr));
            if (NV == 2) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, rr + 16));
        }
        v0 = _mm512_min_ps(_mm512_max_ps(v0, lo), hi);
        _mm512_mask_storeu_ps(y, m0, v0);
        if (NV == 2) {
            v1 = _mm512_min_ps(_mm512_max_ps(v1, lo), hi);
            _mm512_mask_storeu_ps(y + 16, m1, v1);
        }
    }
    if (o->other) pw_rows_act_avx512(o, o->y + co * o->ld, mr < R ? mr : R, nc);
}

__attribute__((target("avx512f,fma"))) static void
pw_tile_avx512(const float *restrict a, const float *restrict x, int64_t ldx, int64_t k, int64_t mr,
               int64_t nc, const pw_out *o, int64_t co) {
    /* the last row block of an output not a multiple of PW_MR rows: only the rows it has */
    if (mr <= 6) {
        if (nc > 16)
            pw_tile512(a, x, ldx, k, mr, nc, o, co, 6, 2);
        else
            pw_tile512(a, x, ldx, k, mr, nc, o, co, 6, 1);
    } else if (nc > 16) {
        pw_tile512(a, x, ldx, k, mr, nc, o, co, PW_MR, 2);
    } else {
        pw_tile512(a, x, ldx, k, mr, nc, o, co, PW_MR, 1);
    }
}

/* AVX2: the PW_MR x PW_NB tile as steps of 8 columns. */
__attribute__((target("avx2,fma"))) static void pw_tile_avx2(const float *restrict a,
                                                             const float *restrict x, int64_t ldx,
                                                             int64_t k, int64_t mr, int64_t nc,
                                                             const pw_out *o, int64_t co) {
    const __m256 lo = _mm256_set1_ps(o->lo), hi = _mm256_set1_ps(o->hi);
    for (int64_t c0 = 0; c0 < nc; c0 += 8) {
        const int64_t n = nc - c0 < 8 ? nc - c0 : 8;
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane);
        __m256 acc[PW_MR];
#pragma GCC unroll 12
        for (int r = 0; r < PW_MR; r++) acc[r] = _mm256_setzero_ps();
        for (int64_t ci = 0; ci < k; ci++) {
            const __m256 b = _mm256_maskload_ps(x + ci * ldx + c0, mask);
            const float *ar = a + ci * PW_MR;
#pragma GCC unroll 12
            for (int r = 0; r < PW_MR; r++)
                acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(ar + r), b, acc[r]);
        }
#pragma GCC unroll 12
        for (int r = 0; r < PW_MR; r++) {
            if (r >= mr) continue;
            float *y = o->y + (co + r) * o->ld + c0;
            __m256 v = _mm256_add_ps(acc[r], _mm256_set1_ps(o->bias ? o->bias[co + r] : 0.0f));
            if (o->res)
                v = _mm256_add_ps(v, _mm256_maskload_ps(o->res + (co + r) * o->ld + c0, mask));
            v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
            _mm256_maskstore_ps(y, mask, v);
        }
    }
    if (o->other) pw_rows_act_avx2(o, o->y + co * o->ld, mr, nc);
}

#endif

/* Any x86-64 (or other CPU): plain loops. */
static void pw_tile_c(const float *restrict a, const float *restrict x, int64_t ldx, int64_t k,
                      int64_t mr, int64_t nc, const pw_out *o, int64_t co) {
    for (int64_t r = 0; r < mr; r++) {
        float acc[PW_NB];
        for (int64_t j = 0; j < nc; j++) acc[j] = 0.0f;
        for (int64_t ci = 0; ci < k; ci++) {
            const float av = a[ci * PW_MR + r];
            for (int64_t j = 0; j < nc; j++) acc[j] += av * x[ci * ldx + j];
        }
        float *y = o->y + (co + r) * o->ld;
        const float bv = o->bias ? o->bias[co + r] : 0.0f;
        for (int64_t j = 0; j < nc; j++) {
            float v = acc[j] + bv + (o->res ? o->res[(co + r) * o->ld + j] : 0.0f);
            v = v < o->lo ? o->lo : v;
            y[j] = v > o->hi ? o->hi : v;
        }
        pw_row_act(o, y, nc);
    }
}

typedef void (*pw_tile_fn)(const float *, const float *, int64_t, int64_t, int64_t, int64_t,
                           const pw_out *, int64_t);

/* The tile kernel for `nc` columns: AVX-512 (AVX2 for 8 columns or fewer, half the width),
 * else AVX2, else plain C. */
static pw_tile_fn pw_tile_pick(int64_t nc) {
#if defined(__x86_64__) || defined(__i386__)
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (__builtin_cpu_supports("avx512f") && (nc > 8 || !avx2)) return pw_tile_avx512;
    if (avx2) return pw_tile_avx2;
#endif
    (void)nc;
    return pw_tile_c;
}

void isbrt__pw_gemm(const float *a, int64_t m, int64_t k, int64_t rb_lo, int64_t rb_hi,
                    const float *x, int64_t ldx, int64_t c_lo, int64_t c_hi, float *y, int64_t ldy,
                    const float *bias, const float *res, const isbrt_actp *act) {
    /* The last block of k adds the bias and applies the activation; the others have none. */
    pw_out last = {NULL, NULL, bias, ldy, act, -INFINITY, INFINITY, 0};
    if (act && act->kind == ISBRT_ACT_RELU)
        last.lo = 0.0f;
    else if (act && act->kind == ISBRT_ACT_CLIP)
        last.lo = act->a, last.hi = act->b;
    else
        last.other = !isbrt__act_none(act);
    const pw_out inner = {NULL, NULL, NULL, ldy, NULL, -INFINITY, INFINITY, 0};
    for (int64_t c0 = c_lo, nc; c0 < c_hi; c0 += nc) {
        /* 32 columns at a time; a remainder of 17 to 24 as 16 and the rest (narrower tiles
         * cost less) */
        const int64_t rem = c_hi - c0;
        nc = rem >= PW_NB ? PW_NB : rem > 16 && rem <= 24 ? 16 : rem;
        const pw_tile_fn tile = pw_tile_pick(nc);
        for (int64_t k0 = 0; k0 < k; k0 += PW_KC) {
            const int64_t kc = k - k0 < PW_KC ? k - k0 : PW_KC;
            pw_out o = k0 + kc == k ? last : inner;
            o.y = y + c0;
            /* the first block adds the residual, the later ones what is already in y */
            o.res = k0 == 0 ? (res ? res + c0 : NULL) : y + c0;
            for (int64_t rb = rb_lo; rb < rb_hi; rb++) {
                const int64_t row = rb * PW_MR, mr = m - row < PW_MR ? m - row : PW_MR;
                tile(a + rb * PW_MR * k + k0 * PW_MR, x + k0 * ldx + c0, ldx, kc, mr, nc, &o, row);
            }
        }
    }
}

typedef struct pw_job {
    const isbrt_conv *p;
    int64_t n;
    const float *x, *w, *bias, *res;
    float *y;
    int cols; /* chunks split column blocks (else channel blocks) */
} pw_job;

/* One chunk: a share of the column blocks of every instance (or, with few column blocks, of
 * the channel blocks). */
static void pw_part(void *ctx, const isbrt__team *t) {
    const pw_job *j = ctx;
    const isbrt_conv *p = j->p;
    const int64_t hw = p->h * p->w, k = p->c_in;
    const int64_t nblk = (hw + PW_NB - 1) / PW_NB, mblk = (p->c_out + PW_MR - 1) / PW_MR;
    int64_t clo = 0, chi = nblk, rlo = 0, rhi = mblk;
    if (j->cols)
        isbrt__share(t, nblk, &clo, &chi);
    else
        isbrt__share(t, mblk, &rlo, &rhi);
    clo *= PW_NB;
    chi = chi * PW_NB < hw ? chi * PW_NB : hw;
    for (int64_t b = 0; b < j->n; b++)
        isbrt__pw_gemm(j->w, p->c_out, k, rlo, rhi, j->x + b * k * hw, hw, clo, chi,
                       j->y + b * p->c_out * hw, hw, j->bias,
                       j->res ? j->res + b * p->c_out * hw : NULL, &p->act);
}

void isbrt__pw_conv(const void *team, const isbrt_conv *p, int64_t n, const float *x,
                    const float *packed, const float *bias, const float *residual, float *y) {
    const int64_t work = n * p->c_out * p->c_in * p->h * p->w, hw = p->h * p->w;
    const int64_t nblk = (hw + PW_NB - 1) / PW_NB, mblk = (p->c_out + PW_MR - 1) / PW_MR;
    const int64_t parts = isbrt__parts_for(team, work);
    pw_job j = {p, n, x, packed, bias, residual, y, nblk >= 2 * parts || mblk < parts};
    isbrt__parallel(team, work, isbrt__chunks(team, work, j.cols ? nblk : mblk), pw_part, &j);
}
