/* act.c — activations (ONNX Relu, Clip, Sigmoid, HardSigmoid, HardSwish, LeakyRelu, Tanh and
 * the SiLU pattern x * Sigmoid(x)), the bias/residual/activation epilogue of conv and gemm,
 * the accumulation of branch contributions and the active-branch mask of a gate.
 * The loops live in internal.h; these are the out-of-line, AVX2-cloned entry points. */

#include "internal.h"

ISBRT_CLONES void isbrt_act_apply(const isbrt_actp *act, float *x, int64_t count) {
    isbrt__act_inline(act, x, count);
}

ISBRT_CLONES void isbrt__epilogue(float *y, int64_t len, float bias, const float *res,
                                  const isbrt_actp *act) {
    isbrt__epilogue_inline(y, len, bias, res, act);
}

ISBRT_CLONES void isbrt_acc_f32(int64_t n, const float *restrict x, float *restrict y) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void isbrt_gate_mask(int64_t rows, int64_t k, const float *thr, const float *gate, float *mask) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < k; j++) mask[r * k + j] = gate[r * k + j] >= thr[j] ? 1.0f : 0.0f;
}
