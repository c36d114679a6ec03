/* vmath.h — float exp, sigmoid, tanh and erf as branch-free straight-line code (selects, no
 * calls), so the loops around them vectorise; each within a few ulp of the exact result over
 * all floats (NaN in, NaN out; denormal results of exp kept, not flushed). The runtime's
 * activations (internal.h) and softmax use the C functions below (exp, sigmoid, tanh);
 * codegen/elementwise.c emits the same algorithms, erf too, with these constants, as LLVM IR
 * for the generated loops.
 * tests/unit/check_vmath.py measures both against NumPy in float64.
 *
 * exp(x): clamp x to [EXP_LO, EXP_HI] (beyond them the result is 0 or inf anyway);
 *   n = round(x / ln 2) (by adding and subtracting 1.5 * 2^23: no rounding call);
 *   r = x - n ln 2 in two steps (ln2_hi has 15 significant bits, so n * ln2_hi is exact),
 *   |r| <= ln 2 / 2; exp(r) = 1 + r + r^2 P(r), P of degree 4 (relative error 3e-9);
 *   times 2^n built in the exponent bits in two halves, so n in [-150, 128] needs no special
 *   case: results below FLT_MIN come out as correctly scaled denormals, above FLT_MAX as inf.
 * sigmoid(x) = s / (1 + e) with e = exp(-|x|) and s = e for x < 0, else 1: never overflows,
 *   keeps tiny results for very negative x.
 * tanh(x) = sign(x) * (|x| < TANH_SPLIT ? |x| + |x|^3 P(x^2) : 1 - 2 / (exp(2|x|) + 1)).
 * erf(x) = sign(x) * (|x| < ERF_SPLIT ? |x| P(x^2) : 1 - exp(Q(|x| - ERF_MID) - x^2)), where
 *   Q approximates log(erfc(t)) + t^2 on [ERF_SPLIT, ERF_HI]; |x| is clamped to ERF_HI, past
 *   which erf rounds to 1.
 * The polynomials are weighted least-squares (near-minimax) fits made with NumPy by
 * tools/vmath_fit.py, which prints these coefficients and the fit errors. */
#ifndef ISBRT_VMATH_H
#define ISBRT_VMATH_H

#include <stdint.h>
#include <string.h>

#define ISBRT__EXP_LO -104.0f
#define ISBRT__EXP_HI 88.8f
#define ISBRT__LOG2E 1.44269504f
#define ISBRT__SHIFTER 12582912.0f /* 1.5 * 2^23 */
#define ISBRT__LN2_HI 0.693145751953125f
#define ISBRT__LN2_LO 1.42860677e-06f
/* exp(r) = 1 + r + r^2 (P0 + P1 r + ... + P4 r^4), |r| <= ln 2 / 2 */
#define ISBRT__EXP_P 0.49999994f, 0.1666652f, 0.041668396f, 0.008368911f, 0.0013814855f
#define ISBRT__EXP_NP 5
/* tanh(x) = x + x^3 (P0 + P1 x^2 + ... + P4 x^8), |x| < 0.625 */
#define ISBRT__TANH_SPLIT 0.625f
#define ISBRT__TANH_P -0.3333328f, 0.13331445f, -0.053739924f, 0.020639723f, -0.00570565f
#define ISBRT__TANH_NP 5
/* erf(x) = x (P0 + P1 x^2 + ... + P6 x^12), |x| < 0.875 */
#define ISBRT__ERF_SPLIT 0.875f
#define ISBRT__ERF_P                                                                               \
    1.1283792f, -0.37612635f, 0.11283737f, -0.026861781f, 0.0052072397f, -0.00082167814f,          \
        8.699979e-05f
#define ISBRT__ERF_NP 7
/* log(erfc(t)) + t^2 = Q0 + Q1 u + ... + Q7 u^7, u = t - 2.4, t in [0.875, 3.93] */
#define ISBRT__ERF_MID 2.4f
#define ISBRT__ERF_HI 3.93f
#define ISBRT__ERF_Q                                                                               \
    -1.5209751f, -0.3642373f, 0.05949808f, -0.011760759f, 0.002402778f, -0.00046081387f,           \
        8.287692e-05f, -2.0561116e-05f
#define ISBRT__ERF_NQ 8

#define ISBRT__VM static inline __attribute__((always_inline))

ISBRT__VM float isbrt__f_of_bits(int32_t i) {
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}
ISBRT__VM int32_t isbrt__bits_of_f(float f) {
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* p[0] + p[1] t + ... + p[n-1] t^(n-1), Horner */
ISBRT__VM float isbrt__horner(const float *p, int n, float t) {
    float y = p[n - 1];
    for (int i = n - 2; i >= 0; i--) y = y * t + p[i];
    return y;
}

ISBRT__VM float isbrt__expf(float x) {
    static const float p[] = {ISBRT__EXP_P};
    x = x < ISBRT__EXP_LO ? ISBRT__EXP_LO : x; /* NaN passes both */
    x = x > ISBRT__EXP_HI ? ISBRT__EXP_HI : x;
    float t = x * ISBRT__LOG2E + ISBRT__SHIFTER; /* an integer in its low mantissa bits */
    int32_t n = isbrt__bits_of_f(t) - isbrt__bits_of_f(ISBRT__SHIFTER);
    float nf = t - ISBRT__SHIFTER;
    float r = x - nf * ISBRT__LN2_HI;
    r = r - nf * ISBRT__LN2_LO;
    float y = 1.0f + r + r * r * isbrt__horner(p, ISBRT__EXP_NP, r);
    int32_t h = n >> 1;
    y = y * isbrt__f_of_bits((h + 127) << 23);
    return y * isbrt__f_of_bits((n - h + 127) << 23);
}

ISBRT__VM float isbrt__sigmoidf(float x) {
    float e = isbrt__expf(-__builtin_fabsf(x));
    return (x < 0.0f ? e : 1.0f) / (1.0f + e);
}

ISBRT__VM float isbrt__tanhf(float x) {
    static const float p[] = {ISBRT__TANH_P};
    float ax = __builtin_fabsf(x), x2 = ax * ax;
    float small = ax + ax * x2 * isbrt__horner(p, ISBRT__TANH_NP, x2);
    float big = 1.0f - 2.0f / (isbrt__expf(2.0f * ax) + 1.0f);
    return __builtin_copysignf(ax < ISBRT__TANH_SPLIT ? small : big, x);
}

#undef ISBRT__VM
#endif
