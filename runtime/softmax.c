/* softmax.c — ONNX Softmax-13 / LogSoftmax-13 over the middle dim of [outer, len, inner].
 *
 * Numerically stable: the maximum along the axis is subtracted before exp. When inner > 1 the
 * axis is strided; the kernel then walks blocks of inner positions (row-contiguous loads) with
 * the per-position max and sum kept in small stack arrays. y may equal x. */
#include <math.h>

#include "internal.h"

enum { SOFTMAX_BLOCK = 64 };

ISBRT_CLONES void isbrt_softmax_f32(int64_t outer, int64_t len, int64_t inner, const float *x,
                                    float *y, int32_t log) {
    if (len <= 0 || inner <= 0) return;
    for (int64_t o = 0; o < outer; o++) {
        const float *xo = x + o * len * inner;
        float *yo = y + o * len * inner;
        for (int64_t i0 = 0; i0 < inner; i0 += SOFTMAX_BLOCK) {
            const int64_t nb = inner - i0 < SOFTMAX_BLOCK ? inner - i0 : SOFTMAX_BLOCK;
            float mx[SOFTMAX_BLOCK], sum[SOFTMAX_BLOCK];
            for (int64_t i = 0; i < nb; i++) {
                mx[i] = -INFINITY;
                sum[i] = 0.0f;
            }
            for (int64_t l = 0; l < len; l++) {
                const float *s = xo + l * inner + i0;
                for (int64_t i = 0; i < nb; i++) mx[i] = mx[i] > s[i] ? mx[i] : s[i];
            }
            /* An all -inf (or +inf) slice: keep exp finite, the result is NaN as in ONNX. */
            for (int64_t i = 0; i < nb; i++)
                if (isinf(mx[i])) mx[i] = mx[i] > 0 ? mx[i] : 0.0f;
            if (log) {
                for (int64_t l = 0; l < len; l++) {
                    const float *s = xo + l * inner + i0;
                    for (int64_t i = 0; i < nb; i++) sum[i] += isbrt__expf(s[i] - mx[i]);
                }
                for (int64_t i = 0; i < nb; i++) sum[i] = mx[i] + logf(sum[i]);
                for (int64_t l = 0; l < len; l++) {
                    const float *s = xo + l * inner + i0;
                    float *d = yo + l * inner + i0;
                    for (int64_t i = 0; i < nb; i++) d[i] = s[i] - sum[i];
                }
            } else {
                for (int64_t l = 0; l < len; l++) {
                    const float *s = xo + l * inner + i0;
                    float *d = yo + l * inner + i0;
                    for (int64_t i = 0; i < nb; i++) {
                        d[i] = isbrt__expf(s[i] - mx[i]);
                        sum[i] += d[i];
                    }
                }
                for (int64_t i = 0; i < nb; i++) sum[i] = 1.0f / sum[i];
                for (int64_t l = 0; l < len; l++) {
                    float *d = yo + l * inner + i0;
                    for (int64_t i = 0; i < nb; i++) d[i] *= sum[i];
                }
            }
        }
    }
}
