/* reduce.c — ONNX Reduce{Sum,Mean,Max,Min,Prod,L1,L2,SumSquare,LogSum,LogSumExp}-18 over the
 * middle dim of [outer, len, inner]; y: [outer, inner].
 *
 * Accumulates in double (these reductions are not on the hot path; accuracy matters more).
 * An empty axis (len == 0) gives the identity of the reduction: 0 for sums, 1 for Prod,
 * -inf for Max, LogSum and LogSumExp, +inf for Min, NaN for Mean. LogSumExp subtracts the
 * maximum first. When inner > 1 the kernel walks blocks of inner positions so loads stay
 * row-contiguous. */
#include <math.h>

#include "internal.h"

enum { REDUCE_BLOCK = 64 };

static double reduce_init(int32_t kind) {
    switch (kind) {
    case ISBRT_RED_MAX:
    case ISBRT_RED_LOGSUMEXP: return -INFINITY;
    case ISBRT_RED_MIN: return INFINITY;
    case ISBRT_RED_PROD: return 1.0;
    default: return 0.0;
    }
}

void isbrt_reduce_f32(int32_t kind, int64_t outer, int64_t len, int64_t inner, const float *x,
                      float *y) {
    if (inner <= 0) return;
    for (int64_t o = 0; o < outer; o++) {
        const float *xo = x + o * len * inner;
        for (int64_t i0 = 0; i0 < inner; i0 += REDUCE_BLOCK) {
            const int64_t nb = inner - i0 < REDUCE_BLOCK ? inner - i0 : REDUCE_BLOCK;
            double acc[REDUCE_BLOCK], mx[REDUCE_BLOCK];
            for (int64_t i = 0; i < nb; i++) acc[i] = reduce_init(kind);
            if (kind == ISBRT_RED_LOGSUMEXP) {
                for (int64_t l = 0; l < len; l++) {
                    const float *s = xo + l * inner + i0;
                    for (int64_t i = 0; i < nb; i++) acc[i] = acc[i] > s[i] ? acc[i] : s[i];
                }
                for (int64_t i = 0; i < nb; i++) {
                    mx[i] = isinf(acc[i]) ? 0.0 : acc[i];
                    acc[i] = 0.0;
                }
            }
            for (int64_t l = 0; l < len; l++) {
                const float *s = xo + l * inner + i0;
                switch (kind) {
                case ISBRT_RED_MAX:
                    for (int64_t i = 0; i < nb; i++) acc[i] = acc[i] > s[i] ? acc[i] : s[i];
                    break;
                case ISBRT_RED_MIN:
                    for (int64_t i = 0; i < nb; i++) acc[i] = acc[i] < s[i] ? acc[i] : s[i];
                    break;
                case ISBRT_RED_PROD:
                    for (int64_t i = 0; i < nb; i++) acc[i] *= s[i];
                    break;
                case ISBRT_RED_L1:
                    for (int64_t i = 0; i < nb; i++) acc[i] += fabs((double)s[i]);
                    break;
                case ISBRT_RED_L2:
                case ISBRT_RED_SUMSQUARE:
                    for (int64_t i = 0; i < nb; i++) acc[i] += (double)s[i] * s[i];
                    break;
                case ISBRT_RED_LOGSUMEXP:
                    for (int64_t i = 0; i < nb; i++) acc[i] += exp(s[i] - mx[i]);
                    break;
                default: /* SUM, MEAN, LOGSUM */
                    for (int64_t i = 0; i < nb; i++) acc[i] += s[i];
                    break;
                }
            }
            float *d = y + o * inner + i0;
            for (int64_t i = 0; i < nb; i++) {
                double v = acc[i];
                switch (kind) {
                case ISBRT_RED_MEAN: v = len > 0 ? v / (double)len : NAN; break;
                case ISBRT_RED_L2: v = sqrt(v); break;
                case ISBRT_RED_LOGSUM: v = log(v); break;
                case ISBRT_RED_LOGSUMEXP: v = mx[i] + log(v); break;
                default: break;
                }
                d[i] = (float)v;
            }
        }
    }
}
