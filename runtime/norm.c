/* norm.c — InstanceNormalization (ONNX InstanceNormalization-6): every (n, c) row normalised
 * by its own mean and biased variance (accumulated in double), then scaled and shifted per
 * channel. y may not alias x partially; y == x is allowed. */
#include "isbrt.h"

#include <math.h>

void isbrt_instance_norm_f32(int64_t rows, int64_t channels, int64_t len, float eps, const float *x,
                             const float *scale, const float *bias, float *y) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * len;
        float *yr = y + r * len;
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < len; i++) sum += xr[i];
        double mean = len ? sum / (double)len : 0;
        for (int64_t i = 0; i < len; i++) sq += (xr[i] - mean) * (xr[i] - mean);
        double var = len ? sq / (double)len : 0;
        int64_t c = r % channels;
        double k = scale[c] / sqrt(var + eps);
        for (int64_t i = 0; i < len; i++) yr[i] = (float)((xr[i] - mean) * k + bias[c]);
    }
}
