/* gemm.c — ONNX Gemm-13 and MatMul-13 on cblas_sgemm, and the thread setting. Products too
 * small to pay for OpenBLAS's threads run on one thread (isbrt__sgemm).
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

/* Below this many multiply-adds per thread a product runs on one thread. */
enum { SGEMM_MIN_MACS_PER_THREAD = 4 << 20 };

void isbrt__sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc) {
    const int threads = openblas_get_num_threads();
    const int single = threads > 1 && m * n * k < (int64_t)SGEMM_MIN_MACS_PER_THREAD * threads;
    if (single) openblas_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
    if (single) openblas_set_num_threads(threads);
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
        isbrt__sgemm(p->trans_a, p->trans_b, m, n, k, p->alpha, a, p->trans_a ? m : k, b,
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
        isbrt__sgemm(0, 0, total * m, n, k, 1.0f, a, k, b, n, 0.0f, y, n);
        return;
    }
    int64_t idx[6] = {0};
    int64_t aoff = 0, boff = 0;
    for (int64_t t = 0; t < total; t++) {
        isbrt__sgemm(0, 0, m, n, k, 1.0f, a + aoff, k, b + boff, n, 0.0f, y + t * m * n, n);
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

void isbrt_set_threads(int threads) {
    openblas_set_num_threads(threads > 0 ? threads : openblas_get_num_procs());
}
