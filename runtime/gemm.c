/* gemm.c — ONNX Gemm-13 and MatMul-13 on cblas_sgemm, and the thread setting. Products too
 * small to pay for OpenBLAS's threads, and those of a chunk of a team job (thread.c), run on
 * our own kernel on the calling thread (isbrt__sgemm): the runtime never changes OpenBLAS's
 * process-wide thread count, only the caller does (isbrt_set_threads).
 *
 * Gemm: Y = act(alpha * op(A) op(B) + beta * C). C is broadcast into Y first (scaled by beta),
 * then one sgemm accumulates with beta = 1; the activation is a last pass over Y.
 * MatMul: one sgemm per batch index of Y, except when B is shared by every batch index and A's
 * batches are contiguous: then the batches fold into the M dimension of a single sgemm. */
#include <cblas.h>
#include <string.h>

#include "internal.h"

/* Declared by OpenBLAS's cblas.h; repeated here in case another cblas.h is found first. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_procs(void);
int openblas_get_num_threads(void);

/* Below this many multiply-adds per OpenBLAS thread a product runs on our own kernel (the
 * threads' wake-up and hand-off would cost more than they save). Blocks of the own kernel:
 * depth OWN_KC and OWN_NB columns of op(B), so a block of B stays in L2 while every row block
 * of A runs over it; a B^T is packed OWN_NB_PACKED columns at a time (the stack holds at
 * most 76 KB of packed blocks). */
enum {
    SGEMM_MIN_MACS_PER_THREAD = 4 << 20,
    OWN_KC = 256,
    OWN_NB = 256,
    OWN_NB_PACKED = 64,
    OWN_DOT_ROWS = 4
};

/* C[i][j] = alpha sum_p op(A)[i][p] B[j][p] + beta C[i][j] for op(B) = B^T and few rows:
 * dot products along B's rows, nothing packed. */
ISBRT_CLONES static void own_dots(int trans_a, int64_t m, int64_t n, int64_t k, float alpha,
                                  const float *a, int64_t lda, const float *b, int64_t ldb,
                                  float beta, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            const float *br = b + j * ldb;
            float s = 0.0f;
            if (trans_a)
                for (int64_t p = 0; p < k; p++) s += a[p * lda + i] * br[p];
            else
                for (int64_t p = 0; p < k; p++) s += a[i * lda + p] * br[p];
            float *cij = c + i * ldc + j;
            *cij = beta == 0.0f ? alpha * s : alpha * s + beta * *cij;
        }
}

/* C = alpha op(A) op(B) + beta C on the calling thread alone, on pointwise.c's tile kernel:
 * per block of depth, blocks of ISBRT__PW_MR rows of alpha op(A) are packed on the stack
 * (op(B) too, one block of columns at a time, when it is B^T). No OpenBLAS call, so nothing
 * of OpenBLAS's process-wide thread setting is touched. */
static void own_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                      float *c, int64_t ldc) {
    if (trans_b && m <= OWN_DOT_ROWS) {
        own_dots(trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    if (beta != 0.0f && beta != 1.0f)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] *= beta;
    if (k <= 0 || alpha == 0.0f) {
        if (beta == 0.0f)
            for (int64_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(float));
        return;
    }
    _Alignas(64) float ap[ISBRT__PW_MR * OWN_KC];
    _Alignas(64) float bp[OWN_KC * OWN_NB_PACKED];
    const int64_t nb = trans_b ? OWN_NB_PACKED : OWN_NB;
    for (int64_t k0 = 0; k0 < k; k0 += OWN_KC) {
        const int64_t kc = k - k0 < OWN_KC ? k - k0 : OWN_KC;
        const int acc = k0 > 0 || beta != 0.0f; /* add to what C holds */
        for (int64_t j0 = 0; j0 < n; j0 += nb) {
            const int64_t nc = n - j0 < nb ? n - j0 : nb;
            const float *bb = b + k0 * ldb + j0;
            int64_t ldbb = ldb;
            if (trans_b) {
                for (int64_t kk = 0; kk < kc; kk++)
                    for (int64_t j = 0; j < nc; j++) bp[kk * nc + j] = b[(j0 + j) * ldb + k0 + kk];
                bb = bp;
                ldbb = nc;
            }
            for (int64_t i0 = 0; i0 < m; i0 += ISBRT__PW_MR) {
                const int64_t mr = m - i0 < ISBRT__PW_MR ? m - i0 : ISBRT__PW_MR;
                for (int64_t kk = 0; kk < kc; kk++)
                    for (int64_t r = 0; r < ISBRT__PW_MR; r++) {
                        const int64_t i = i0 + r, p = k0 + kk;
                        ap[kk * ISBRT__PW_MR + r] =
                            r < mr ? alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]) : 0.0f;
                    }
                float *cc = c + i0 * ldc + j0;
                isbrt__pw_gemm(ap, mr, kc, 0, 1, bb, ldbb, 0, nc, cc, ldc, NULL, acc ? cc : NULL,
                               NULL);
            }
        }
    }
}

void isbrt__sgemm(const isbrt__team *chunk, int trans_a, int trans_b, int64_t m, int64_t n,
                  int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                  float beta, float *c, int64_t ldc) {
    const int threads = openblas_get_num_threads();
    if (threads > 1 &&
        (chunk != NULL || m * n * k < (int64_t)SGEMM_MIN_MACS_PER_THREAD * threads)) {
        own_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
}

void isbrt_gemm_f32(const isbrt_gemm *p, const float *a, const float *b, const float *c, float *y) {
    const int64_t m = p->m, n = p->n, k = p->k;
    if (m <= 0 || n <= 0) return;
    float beta = 0.0f;
    if (c != NULL && p->c_kind != ISBRT_BIAS_NONE && p->beta != 0.0f) {
        const float bt = p->beta;
        switch (p->c_kind) {
        case ISBRT_BIAS_SCALAR:
            for (int64_t i = 0; i < m * n; i++) y[i] = bt * c[0];
            break;
        case ISBRT_BIAS_ROW:
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) y[i * n + j] = bt * c[j];
            break;
        case ISBRT_BIAS_COL:
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) y[i * n + j] = bt * c[i];
            break;
        default: /* ISBRT_BIAS_FULL; c may be y itself */
            if (c != y || bt != 1.0f)
                for (int64_t i = 0; i < m * n; i++) y[i] = bt * c[i];
            break;
        }
        beta = 1.0f;
    }
    if (k > 0 && p->alpha != 0.0f) {
        isbrt__sgemm(NULL, p->trans_a, p->trans_b, m, n, k, p->alpha, a, p->trans_a ? m : k, b,
                     p->trans_b ? k : n, beta, y, n);
    } else if (beta == 0.0f) {
        memset(y, 0, (size_t)(m * n) * sizeof(float));
    }
    isbrt_act_apply(&p->act, y, m * n);
}

void isbrt_matmul_f32(const isbrt_matmul *p, const float *a, const float *b, float *y) {
    const int64_t m = p->m, n = p->n, k = p->k;
    int64_t total = 1;
    for (int32_t d = 0; d < p->nb; d++) total *= p->batch[d];
    if (m <= 0 || n <= 0 || total <= 0) return;
    if (k <= 0) {
        memset(y, 0, (size_t)(total * m * n) * sizeof(float));
        return;
    }
    /* Fold the batch into M when B is shared and A's batches are laid out densely. */
    int fold = 1;
    int64_t expect = m * k;
    for (int32_t d = p->nb - 1; d >= 0; d--) {
        if (p->batch[d] == 1) continue;
        if (p->b_strides[d] != 0 || p->a_strides[d] != expect) fold = 0;
        expect *= p->batch[d];
    }
    if (fold) {
        isbrt__sgemm(NULL, 0, 0, total * m, n, k, 1.0f, a, k, b, n, 0.0f, y, n);
        return;
    }
    int64_t idx[6] = {0};
    int64_t aoff = 0, boff = 0;
    for (int64_t t = 0; t < total; t++) {
        isbrt__sgemm(NULL, 0, 0, m, n, k, 1.0f, a + aoff, k, b + boff, n, 0.0f, y + t * m * n, n);
        for (int32_t d = p->nb - 1; d >= 0; d--) {
            aoff += p->a_strides[d];
            boff += p->b_strides[d];
            if (++idx[d] < p->batch[d]) break;
            aoff -= p->a_strides[d] * p->batch[d];
            boff -= p->b_strides[d] * p->batch[d];
            idx[d] = 0;
        }
    }
}

const int ISBRT_ABI_SYMBOL = ISBRT_ABI_VERSION;

void isbrt_set_threads(int threads) {
    openblas_set_num_threads(threads > 0 ? threads : openblas_get_num_procs());
}
