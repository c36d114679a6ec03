/* test_runtime.c — libisbrt kernels against naive reference loops.
 *
 * Usage: test_runtime [SUITE]   (no SUITE: run all). Every suite sweeps shapes and parameters,
 * computes a plain reference in double, and compares by normalised error:
 * max|got - ref| <= 1e-5 * max(1, max|ref|). Data-movement kernels compare bytes exactly.
 * A failure prints the case and the suite returns nonzero. Outputs are poisoned with NaN
 * before each call so an element the kernel forgets to write fails the comparison. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isbrt.h"

#define TOL 1e-5

typedef struct rng {
    uint64_t s;
} rng;

static uint32_t rng_u32(rng *r) {
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(r->s >> 32);
}

/* Uniform integer in [0, n). */
static int64_t rng_int(rng *r, int64_t n) {
    return (int64_t)(rng_u32(r) % (uint32_t)n);
}

static float rng_float(rng *r) {
    return (float)rng_u32(r) / 2147483648.0f - 1.0f;
}

static void fill_rand(rng *r, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = rng_float(r);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static float *poisoned(int64_t n) {
    float *p = xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

/* Normalised comparison; prints the first bad element and returns 0 on failure. */
static int close_enough(const char *what, const float *got, const double *ref, int64_t n) {
    double mref = 1.0, mdiff = 0.0;
    int64_t worst = -1;
    for (int64_t i = 0; i < n; i++)
        if (fabs(ref[i]) > mref) mref = fabs(ref[i]);
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (isnan(ref[i]) && isnan(got[i])) d = 0.0;
        if (!(d <= mdiff)) {
            mdiff = isnan(d) ? INFINITY : d;
            worst = i;
        }
    }
    if (mdiff <= TOL * mref) return 1;
    fprintf(stderr, "FAIL %s: max|diff| %g > %g at [%lld]: got %.8g want %.8g\n", what, mdiff,
            TOL * mref, (long long)worst, worst >= 0 ? got[worst] : 0.0,
            worst >= 0 ? ref[worst] : 0.0);
    return 0;
}

static const char *act_names[] = {"none",      "relu",      "clip", "sigmoid", "hardsigmoid",
                                  "hardswish", "leakyrelu", "silu", "tanh"};
enum { NUM_ACTS = 9 };

static isbrt_actp make_act(int kind) {
    isbrt_actp a = {kind, 0.0f, 0.0f};
    if (kind == ISBRT_ACT_CLIP) a.a = -0.25f, a.b = 0.5f;
    if (kind == ISBRT_ACT_HARDSIGMOID) a.a = 0.2f, a.b = 0.5f;
    if (kind == ISBRT_ACT_LEAKYRELU) a.a = 0.1f;
    return a;
}

static double ref_act(const isbrt_actp *a, double x) {
    switch (a->kind) {
    case ISBRT_ACT_RELU: return x > 0 ? x : 0;
    case ISBRT_ACT_CLIP: return fmin(fmax(x, a->a), a->b);
    case ISBRT_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case ISBRT_ACT_HARDSIGMOID: return fmax(0, fmin(1, a->a * x + a->b));
    case ISBRT_ACT_HARDSWISH: return x * fmax(0, fmin(1, x / 6 + 0.5));
    case ISBRT_ACT_LEAKYRELU: return x >= 0 ? x : a->a * x;
    case ISBRT_ACT_SILU: return x / (1 + exp(-x));
    case ISBRT_ACT_TANH: return tanh(x);
    default: return x;
    }
}

/* ---- conv ---------------------------------------------------------------------------- */

typedef struct conv_case {
    int64_t n, c_in, c_out, h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, group;
    int bias, residual; /* residual: 0 none, 1 separate buffer, 2 in place (== y) */
    int act;
} conv_case;

static void print_conv(const conv_case *c) {
    fprintf(stderr,
            "  conv n=%lld c_in=%lld c_out=%lld hw=%lldx%lld k=%lldx%lld s=%lld,%lld "
            "pads(t,l,b,r)=%lld,%lld,%lld,%lld dil=%lld,%lld group=%lld bias=%d residual=%d "
            "act=%s\n",
            (long long)c->n, (long long)c->c_in, (long long)c->c_out, (long long)c->h,
            (long long)c->w, (long long)c->kh, (long long)c->kw, (long long)c->sh, (long long)c->sw,
            (long long)c->pt, (long long)c->pl, (long long)c->pb, (long long)c->pr,
            (long long)c->dh, (long long)c->dw, (long long)c->group, c->bias, c->residual,
            act_names[c->act]);
}

/* Returns 1 on pass, 0 on failure, -1 when the case has an empty output (skipped). */
static int run_conv_on(rng *r, const conv_case *c, void *team) {
    isbrt_conv p = {0};
    p.c_in = c->c_in, p.h = c->h, p.w = c->w, p.c_out = c->c_out, p.kh = c->kh, p.kw = c->kw;
    p.stride_h = c->sh, p.stride_w = c->sw, p.pad_t = c->pt, p.pad_l = c->pl, p.pad_b = c->pb;
    p.pad_r = c->pr, p.dil_h = c->dh, p.dil_w = c->dw, p.group = c->group;
    p.act = make_act(c->act);
    p.oh = (c->h + c->pt + c->pb - c->dh * (c->kh - 1) - 1) / c->sh + 1;
    p.ow = (c->w + c->pl + c->pr - c->dw * (c->kw - 1) - 1) / c->sw + 1;
    if (c->h + c->pt + c->pb - c->dh * (c->kh - 1) <= 0 ||
        c->w + c->pl + c->pr - c->dw * (c->kw - 1) <= 0)
        return -1;
    const int64_t cig = c->c_in / c->group, cog = c->c_out / c->group;
    const int64_t nx = c->n * c->c_in * c->h * c->w, nw = c->c_out * cig * c->kh * c->kw;
    const int64_t ny = c->n * c->c_out * p.oh * p.ow;
    float *x = xmalloc((size_t)nx * sizeof(float)), *w = xmalloc((size_t)nw * sizeof(float));
    float *b = xmalloc((size_t)c->c_out * sizeof(float)), *res = NULL;
    float *y = poisoned(ny);
    double *ref = xmalloc((size_t)ny * sizeof(double));
    fill_rand(r, x, nx);
    fill_rand(r, w, nw);
    fill_rand(r, b, c->c_out);
    if (c->residual == 1) {
        res = xmalloc((size_t)ny * sizeof(float));
        fill_rand(r, res, ny);
    } else if (c->residual == 2) {
        fill_rand(r, y, ny);
        res = y;
    }
    /* Reference: the direct 7-loop convolution, in double. */
    for (int64_t in = 0; in < c->n; in++)
        for (int64_t co = 0; co < c->c_out; co++)
            for (int64_t oy = 0; oy < p.oh; oy++)
                for (int64_t ox = 0; ox < p.ow; ox++) {
                    const int64_t g = co / cog;
                    double s = c->bias ? b[co] : 0.0;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t ky = 0; ky < c->kh; ky++)
                            for (int64_t kx = 0; kx < c->kw; kx++) {
                                int64_t iy = oy * c->sh - c->pt + ky * c->dh;
                                int64_t ix = ox * c->sw - c->pl + kx * c->dw;
                                if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
                                s +=
                                    (double)
                                        x[((in * c->c_in + g * cig + ci) * c->h + iy) * c->w + ix] *
                                    w[((co * cig + ci) * c->kh + ky) * c->kw + kx];
                            }
                    int64_t o = ((in * c->c_out + co) * p.oh + oy) * p.ow + ox;
                    if (res) s += res[o];
                    ref[o] = ref_act(&p.act, s);
                }
    size_t ss = isbrt_conv2d_scratch(&p);
    void *scratch = ss ? xmalloc(ss) : NULL;
    float *y0 = xmalloc((size_t)ny * sizeof(float)); /* y before the call (in-place residual) */
    memcpy(y0, y, (size_t)ny * sizeof(float));
    isbrt_conv2d_team(team, &p, c->n, x, w, c->bias ? b : NULL, res, y, scratch);
    int ok = close_enough("conv", y, ref, ny);
    /* The same convolution on pre-packed weights (when it has a packed form). */
    const size_t ps = isbrt_conv2d_packed_size(&p);
    if (ok && ps > 0) {
        float *wp = xmalloc(ps), *y2 = xmalloc((size_t)ny * sizeof(float));
        memcpy(y2, y0, (size_t)ny * sizeof(float));
        isbrt_conv2d_pack(&p, w, wp);
        p.packed = 1;
        void *s2 = xmalloc(isbrt_conv2d_scratch(&p) + 1);
        isbrt_conv2d_team(team, &p, c->n, x, wp, c->bias ? b : NULL, c->residual == 2 ? y2 : res,
                          y2, s2);
        ok = close_enough("conv packed", y2, ref, ny);
        free(wp), free(y2), free(s2);
    }
    if (!ok) print_conv(c);
    free(scratch), free(y0);
    free(x), free(w), free(b), free(y), free(ref);
    if (c->residual == 1) free(res);
    return ok;
}

static int run_conv(rng *r, const conv_case *c) {
    return run_conv_on(r, c, NULL);
}

static int pick(rng *r, const int64_t *v, int n) {
    return (int)v[rng_int(r, n)];
}

static int test_conv(void) {
    rng r = {1};
    int fails = 0, runs = 0;
    isbrt_set_threads(2); /* so the large cases run on a team of threads */
    /* Targeted cases: the fast paths and their edges. */
    const conv_case fixed[] = {
        /* n  cin cout h  w  kh kw sh sw pt pl pb pr dh dw g  bias res act */
        {1, 8, 16, 9, 11, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1},    /* pointwise */
        {3, 8, 6, 5, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 1, 1, 0},      /* pointwise grouped */
        {2, 6, 6, 7, 7, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0},      /* 1x1 stride 2 */
        {1, 4, 4, 8, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},      /* 1x1 padded */
        {1, 16, 16, 20, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16, 1, 0, 1}, /* dw 3x3 s1 fused */
        {2, 8, 8, 33, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, 1, 0, 3},    /* dw same, read in place */
        {3, 16, 16, 21, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 16, 1, 1, 5}, /* dw 3x3 s2 fused */
        {1, 8, 8, 17, 23, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 8, 1, 2, 6},    /* dw 5x5 s1 fused */
        {1, 8, 8, 18, 26, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 8, 1, 0, 7},    /* dw 5x5 s2 fused */
        {1, 4, 4, 15, 30, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 4, 0, 0, 8},    /* dw 7x7 */
        {1, 4, 4, 15, 30, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 4, 1, 0, 0},    /* dw 7x7 s2 */
        {2, 4, 8, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 1, 1},      /* dw multiplier 2 */
        {1, 4, 4, 9, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 4, 1, 0, 0},      /* dw dilated */
        {1, 3, 3, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 0, 0},      /* dw tiny input */
        {1, 3, 3, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 0, 0},      /* dw 1x1 input */
        {1, 2, 2, 6, 3, 1, 5, 1, 1, 0, 4, 0, 4, 1, 1, 2, 1, 0, 0},      /* dw kernel > w */
        {1, 3, 8, 56, 56, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 0, 1},    /* resnet stem */
        {1, 16, 16, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* resnet block */
        {2, 16, 24, 15, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 2, 1},  /* winograd odd, in place */
        {1, 17, 16, 12, 140, 3, 3, 1, 1, 0, 2, 1, 0, 1, 1, 1, 1, 1, 2}, /* winograd wide, asym */
        {3, 16, 16, 16, 16, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0},  /* winograd unpadded */
        {2, 48, 40, 28, 27, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1},  /* winograd threaded */
        {1, 40, 48, 30, 29, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2},  /* winograd threaded */
        {2, 64, 48, 30, 30, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1},  /* im2col threaded */
        {2, 64, 63, 40, 40, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1},  /* pointwise threaded */
        {1, 64, 64, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0, 2},  /* grouped threaded */
        {3, 8, 12, 9, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1},     /* batched im2col */
        {4, 64, 64, 28, 28, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1},  /* batched threaded */
        {5, 32, 32, 13, 13, 3, 3, 1, 1, 0, 0, 0, 0, 2, 2, 1, 1, 1, 2},  /* batched, partial */
        {5, 48, 48, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1},  /* winograd batched */
        {1, 3, 5, 9, 8, 3, 2, 3, 2, 0, 1, 2, 0, 2, 1, 1, 1, 0, 0},      /* asymmetric all */
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0},      /* scalar */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        int rc = run_conv(&r, &fixed[i]);
        if (rc >= 0) runs++, fails += !rc;
    }
    /* The same on a run's team of 3 threads (uneven splits; small convs split too). */
    _Alignas(64) unsigned char team[ISBRT_TEAM_BYTES];
    isbrt_team_begin(team, 3);
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        int rc = run_conv_on(&r, &fixed[i], team);
        if (rc >= 0) runs++, fails += !rc;
    }
    const conv_case big[] = {
        /* n  cin cout h  w  kh kw sh sw pt pl pb pr dh dw g  bias res act */
        {2, 32, 16, 56, 56, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2},  /* pointwise by columns */
        {1, 96, 24, 28, 28, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 2, 1},  /* columns, in place */
        {1, 64, 160, 7, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1},   /* pointwise by rows */
        {2, 48, 48, 57, 55, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 48, 1, 1, 2}, /* depthwise s2 */
        {1, 40, 40, 33, 31, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 40, 1, 2, 1}, /* depthwise in place */
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        for (int on = 0; on < 2; on++) {
            int rc = run_conv_on(&r, &big[i], on ? team : NULL);
            if (rc >= 0) runs++, fails += !rc;
        }
    isbrt_team_end(team);
    /* Every activation, on both the GEMM and the direct path, with each residual mode. */
    for (int act = 0; act < NUM_ACTS; act++)
        for (int res = 0; res < 3; res++) {
            conv_case g = {2, 4, 6, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, res, act};
            conv_case d = {2, 5, 5, 7, 9, 3, 3, 2, 1, 1, 0, 1, 2, 1, 1, 5, 1, res, act};
            fails += !run_conv(&r, &g) + !run_conv(&r, &d);
            runs += 2;
        }
    /* Random sweep. */
    const int64_t sizes[] = {1, 2, 3, 5, 7, 8, 13, 16, 17};
    const int64_t ks[] = {1, 2, 3, 3, 5};
    const int64_t strides[] = {1, 1, 2, 3};
    const int64_t pads[] = {0, 0, 1, 2};
    const int64_t dils[] = {1, 1, 2};
    const int64_t chans[] = {1, 2, 3, 4, 6};
    for (int t = 0; t < 1500; t++) {
        conv_case c;
        c.n = rng_int(&r, 4) == 0 ? 3 : 1;
        int kind = (int)rng_int(&r, 4); /* 0: group 1, 1: group 2, 2: depthwise, 3: dw x2 */
        int64_t base = pick(&r, chans, 5);
        c.group = kind == 0 ? 1 : kind == 1 ? 2 : base;
        c.c_in = kind == 1 ? 2 * base : base;
        if (kind == 1)
            c.c_out = 2 * pick(&r, chans, 5);
        else if (kind == 2)
            c.c_out = base;
        else if (kind == 3)
            c.c_out = 2 * base;
        else
            c.c_out = pick(&r, chans, 5);
        c.h = pick(&r, sizes, 9), c.w = pick(&r, sizes, 9);
        c.kh = pick(&r, ks, 5), c.kw = rng_int(&r, 3) == 0 ? pick(&r, ks, 5) : c.kh;
        c.sh = pick(&r, strides, 4), c.sw = rng_int(&r, 3) == 0 ? pick(&r, strides, 4) : c.sh;
        c.pt = pick(&r, pads, 4), c.pl = pick(&r, pads, 4);
        c.pb = rng_int(&r, 2) ? c.pt : pick(&r, pads, 4);
        c.pr = rng_int(&r, 2) ? c.pl : pick(&r, pads, 4);
        c.dh = pick(&r, dils, 3), c.dw = rng_int(&r, 2) ? c.dh : pick(&r, dils, 3);
        c.bias = (int)rng_int(&r, 2);
        c.residual = (int)rng_int(&r, 3);
        c.act = rng_int(&r, 2) ? 0 : (int)rng_int(&r, NUM_ACTS);
        int rc = run_conv(&r, &c);
        if (rc >= 0) runs++, fails += !rc;
    }
    isbrt_set_threads(0);
    printf("conv: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

/* ---- gemm ---------------------------------------------------------------------------- */

static int test_gemm(void) {
    rng r = {2};
    int fails = 0, runs = 0;
    const int64_t dims[] = {1, 2, 3, 7, 16, 33, 64};
    for (int t = 0; t < 400; t++) {
        isbrt_gemm p = {0};
        p.m = dims[rng_int(&r, 7)], p.n = dims[rng_int(&r, 7)];
        p.k = t % 50 == 0 ? 0 : dims[rng_int(&r, 7)];
        p.trans_a = (int32_t)rng_int(&r, 2), p.trans_b = (int32_t)rng_int(&r, 2);
        p.alpha = rng_int(&r, 3) == 0 ? 1.0f : rng_float(&r) * 2.0f;
        p.beta = rng_int(&r, 3) == 0 ? 1.0f : rng_float(&r) * 2.0f;
        p.c_kind = (int32_t)rng_int(&r, 5);
        p.act = make_act(rng_int(&r, 2) ? 0 : (int)rng_int(&r, NUM_ACTS));
        int inplace = p.c_kind == ISBRT_BIAS_FULL && rng_int(&r, 2);
        const int64_t m = p.m, n = p.n, k = p.k;
        float *a = xmalloc((size_t)(m * k) * sizeof(float) + 4);
        float *b = xmalloc((size_t)(k * n) * sizeof(float) + 4);
        float *c = xmalloc((size_t)(m * n) * sizeof(float));
        float *y = poisoned(m * n);
        double *ref = xmalloc((size_t)(m * n) * sizeof(double));
        fill_rand(&r, a, m * k);
        fill_rand(&r, b, k * n);
        fill_rand(&r, c, m * n);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t l = 0; l < k; l++)
                    s += (double)(p.trans_a ? a[l * m + i] : a[i * k + l]) *
                         (p.trans_b ? b[j * k + l] : b[l * n + j]);
                s *= p.alpha;
                double cv = 0;
                switch (p.c_kind) {
                case ISBRT_BIAS_SCALAR: cv = c[0]; break;
                case ISBRT_BIAS_ROW: cv = c[j]; break;
                case ISBRT_BIAS_COL: cv = c[i]; break;
                case ISBRT_BIAS_FULL: cv = c[i * n + j]; break;
                default: break;
                }
                ref[i * n + j] = ref_act(&p.act, s + p.beta * cv);
            }
        if (inplace) memcpy(y, c, (size_t)(m * n) * sizeof(float));
        isbrt_gemm_f32(&p, a, b, inplace ? y : c, y);
        runs++;
        if (!close_enough("gemm", y, ref, m * n)) {
            fails++;
            fprintf(stderr,
                    "  gemm m=%lld n=%lld k=%lld ta=%d tb=%d alpha=%g beta=%g c_kind=%d "
                    "inplace=%d act=%s\n",
                    (long long)m, (long long)n, (long long)k, p.trans_a, p.trans_b, p.alpha, p.beta,
                    p.c_kind, inplace, act_names[p.act.kind]);
        }
        free(a), free(b), free(c), free(y), free(ref);
    }
    printf("gemm: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

static int test_matmul(void) {
    rng r = {3};
    int fails = 0, runs = 0;
    for (int t = 0; t < 300; t++) {
        isbrt_matmul p = {0};
        p.m = 1 + rng_int(&r, 9), p.n = 1 + rng_int(&r, 9), p.k = rng_int(&r, 9);
        p.nb = (int32_t)rng_int(&r, 4);
        int64_t adims[6], bdims[6];
        for (int d = 0; d < p.nb; d++) {
            int64_t sz = 1 + rng_int(&r, 3);
            int mode = (int)rng_int(&r, 3); /* 0: both, 1: A broadcast, 2: B broadcast */
            adims[d] = mode == 1 ? 1 : sz;
            bdims[d] = mode == 2 ? 1 : sz;
            p.batch[d] = sz;
        }
        if (t % 4 == 0)
            for (int d = 0; d < p.nb; d++) bdims[d] = 1; /* shared B: the folded path */
        int64_t as = p.m * p.k, bs = p.k * p.n, na = as, nbb = bs;
        for (int d = p.nb - 1; d >= 0; d--) {
            p.a_strides[d] = adims[d] == 1 ? 0 : as;
            p.b_strides[d] = bdims[d] == 1 ? 0 : bs;
            as *= adims[d], bs *= bdims[d];
        }
        na = as, nbb = bs;
        int64_t total = 1;
        for (int d = 0; d < p.nb; d++) total *= p.batch[d];
        const int64_t ny = total * p.m * p.n;
        float *a = xmalloc((size_t)na * sizeof(float)), *b = xmalloc((size_t)nbb * sizeof(float));
        float *y = poisoned(ny);
        double *ref = xmalloc((size_t)ny * sizeof(double));
        fill_rand(&r, a, na);
        fill_rand(&r, b, nbb);
        for (int64_t tb = 0; tb < total; tb++) {
            int64_t rem = tb, ao = 0, bo = 0;
            for (int d = p.nb - 1; d >= 0; d--) {
                int64_t i = rem % p.batch[d];
                rem /= p.batch[d];
                ao += i * p.a_strides[d], bo += i * p.b_strides[d];
            }
            for (int64_t i = 0; i < p.m; i++)
                for (int64_t j = 0; j < p.n; j++) {
                    double s = 0;
                    for (int64_t l = 0; l < p.k; l++)
                        s += (double)a[ao + i * p.k + l] * b[bo + l * p.n + j];
                    ref[(tb * p.m + i) * p.n + j] = s;
                }
        }
        isbrt_matmul_f32(&p, a, b, y);
        runs++;
        if (!close_enough("matmul", y, ref, ny)) {
            fails++;
            fprintf(stderr,
                    "  matmul m=%lld n=%lld k=%lld nb=%d batch/a/b strides:", (long long)p.m,
                    (long long)p.n, (long long)p.k, p.nb);
            for (int d = 0; d < p.nb; d++)
                fprintf(stderr, " %lld/%lld/%lld", (long long)p.batch[d], (long long)p.a_strides[d],
                        (long long)p.b_strides[d]);
            fprintf(stderr, "\n");
        }
        free(a), free(b), free(y), free(ref);
    }
    printf("matmul: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

/* ---- pool ---------------------------------------------------------------------------- */

/* Output size per ONNX MaxPool/AveragePool (opset 19): floor or ceil; with ceil_mode a window
 * that would start in the end padding or past it is dropped. */
static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d,
                        int ceil_mode) {
    int64_t span = in + p0 + p1 - d * (k - 1) - 1;
    if (span < 0) return 0;
    int64_t o = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
    if (ceil_mode && (o - 1) * s >= in + p0) o--;
    return o;
}

static int test_pool(void) {
    rng r = {4};
    int fails = 0, runs = 0;
    for (int t = 0; t < 1200; t++) {
        isbrt_pool2d p = {0};
        p.kind = (int32_t)rng_int(&r, 2);
        p.count_include_pad = (int32_t)rng_int(&r, 2);
        const int64_t n = 1 + rng_int(&r, 2) * 2;
        p.c = 1 + rng_int(&r, 3), p.h = 1 + rng_int(&r, 12), p.w = 1 + rng_int(&r, 12);
        p.kh = 1 + rng_int(&r, 4), p.kw = rng_int(&r, 2) ? p.kh : 1 + rng_int(&r, 4);
        p.stride_h = 1 + rng_int(&r, 3), p.stride_w = 1 + rng_int(&r, 3);
        p.dil_h = 1 + (rng_int(&r, 4) == 0), p.dil_w = 1 + (rng_int(&r, 4) == 0);
        if (t % 4 == 0) { /* pool.c's flat path: 3x3, dilation 1, stride 1 or 2 */
            p.kh = p.kw = 3, p.dil_h = p.dil_w = 1;
            p.stride_h = p.stride_w = 1 + (p.stride_h & 1);
        }
        /* ONNX requires pads smaller than the kernel. */
        p.pad_t = rng_int(&r, p.kh), p.pad_b = rng_int(&r, p.kh);
        p.pad_l = rng_int(&r, p.kw), p.pad_r = rng_int(&r, p.kw);
        int ceil_mode = (int)rng_int(&r, 2);
        p.oh = pool_out(p.h, p.kh, p.stride_h, p.pad_t, p.pad_b, p.dil_h, ceil_mode);
        p.ow = pool_out(p.w, p.kw, p.stride_w, p.pad_l, p.pad_r, p.dil_w, ceil_mode);
        if (p.oh <= 0 || p.ow <= 0) continue;
        const int64_t nx = n * p.c * p.h * p.w, ny = n * p.c * p.oh * p.ow;
        float *x = xmalloc((size_t)nx * sizeof(float)), *y = poisoned(ny);
        double *ref = xmalloc((size_t)ny * sizeof(double));
        fill_rand(&r, x, nx);
        for (int64_t pl = 0; pl < n * p.c; pl++)
            for (int64_t oy = 0; oy < p.oh; oy++)
                for (int64_t ox = 0; ox < p.ow; ox++) {
                    double acc = p.kind == ISBRT_POOL_MAX ? -INFINITY : 0.0;
                    int64_t cnt = 0;
                    for (int64_t ky = 0; ky < p.kh; ky++)
                        for (int64_t kx = 0; kx < p.kw; kx++) {
                            int64_t iy = oy * p.stride_h - p.pad_t + ky * p.dil_h;
                            int64_t ix = ox * p.stride_w - p.pad_l + kx * p.dil_w;
                            int inside = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
                            int in_padded = iy >= -p.pad_t && iy < p.h + p.pad_b &&
                                            ix >= -p.pad_l && ix < p.w + p.pad_r;
                            if (p.count_include_pad ? in_padded : inside) cnt++;
                            if (!inside) continue;
                            double v = x[(pl * p.h + iy) * p.w + ix];
                            acc = p.kind == ISBRT_POOL_MAX ? fmax(acc, v) : acc + v;
                        }
                    ref[(pl * p.oh + oy) * p.ow + ox] =
                        p.kind == ISBRT_POOL_MAX ? acc : (cnt ? acc / (double)cnt : 0.0);
                }
        isbrt_pool2d_f32(&p, n, x, y);
        runs++;
        if (!close_enough("pool", y, ref, ny)) {
            fails++;
            fprintf(stderr,
                    "  pool %s cip=%d n=%lld c=%lld hw=%lldx%lld k=%lldx%lld s=%lld,%lld "
                    "pads(t,l,b,r)=%lld,%lld,%lld,%lld dil=%lld,%lld ceil=%d out=%lldx%lld\n",
                    p.kind ? "avg" : "max", p.count_include_pad, (long long)n, (long long)p.c,
                    (long long)p.h, (long long)p.w, (long long)p.kh, (long long)p.kw,
                    (long long)p.stride_h, (long long)p.stride_w, (long long)p.pad_t,
                    (long long)p.pad_l, (long long)p.pad_b, (long long)p.pad_r, (long long)p.dil_h,
                    (long long)p.dil_w, ceil_mode, (long long)p.oh, (long long)p.ow);
        }
        free(x), free(y), free(ref);
    }
    /* Global pools. */
    const int64_t lens[] = {1, 7, 8, 9, 49, 3136};
    for (int kind = 0; kind < 2; kind++)
        for (int li = 0; li < 6; li++) {
            const int64_t rows = 5, len = lens[li];
            float *x = xmalloc((size_t)(rows * len) * sizeof(float)), *y = poisoned(rows);
            double ref[5];
            fill_rand(&r, x, rows * len);
            for (int64_t i = 0; i < rows; i++) {
                double acc = kind == ISBRT_POOL_MAX ? -INFINITY : 0.0;
                for (int64_t j = 0; j < len; j++)
                    acc = kind == ISBRT_POOL_MAX ? fmax(acc, x[i * len + j]) : acc + x[i * len + j];
                ref[i] = kind == ISBRT_POOL_MAX ? acc : acc / (double)len;
            }
            isbrt_global_pool_f32(kind, rows, len, x, y);
            runs++;
            if (!close_enough("global_pool", y, ref, rows)) {
                fails++;
                fprintf(stderr, "  global pool kind=%d len=%lld\n", kind, (long long)len);
            }
            free(x), free(y);
        }
    printf("pool: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

/* ---- softmax, reduce ----------------------------------------------------------------- */

static int test_softmax(void) {
    rng r = {5};
    int fails = 0, runs = 0;
    const int64_t outers[] = {1, 3}, lens[] = {1, 2, 10, 1000}, inners[] = {1, 5, 64, 70};
    for (int oi = 0; oi < 2; oi++)
        for (int li = 0; li < 4; li++)
            for (int ii = 0; ii < 4; ii++)
                for (int lg = 0; lg < 2; lg++)
                    for (int inplace = 0; inplace < 2; inplace++) {
                        const int64_t outer = outers[oi], len = lens[li], inner = inners[ii];
                        const int64_t nt = outer * len * inner;
                        float *x = xmalloc((size_t)nt * sizeof(float)), *y = poisoned(nt);
                        double *ref = xmalloc((size_t)nt * sizeof(double));
                        fill_rand(&r, x, nt);
                        /* Large magnitudes: only a max-subtracting softmax survives them. */
                        for (int64_t i = 0; i < nt; i++) x[i] *= (li & 1) ? 100.0f : 5.0f;
                        for (int64_t o = 0; o < outer; o++)
                            for (int64_t i = 0; i < inner; i++) {
                                double mx = -INFINITY, s = 0;
                                for (int64_t l = 0; l < len; l++)
                                    mx = fmax(mx, x[(o * len + l) * inner + i]);
                                for (int64_t l = 0; l < len; l++)
                                    s += exp(x[(o * len + l) * inner + i] - mx);
                                for (int64_t l = 0; l < len; l++) {
                                    double v = x[(o * len + l) * inner + i] - mx;
                                    ref[(o * len + l) * inner + i] = lg ? v - log(s) : exp(v) / s;
                                }
                            }
                        float *dst = y;
                        if (inplace) memcpy(y, x, (size_t)nt * sizeof(float));
                        isbrt_softmax_f32(outer, len, inner, inplace ? y : x, dst, lg);
                        runs++;
                        if (!close_enough(lg ? "logsoftmax" : "softmax", y, ref, nt)) {
                            fails++;
                            fprintf(stderr, "  softmax outer=%lld len=%lld inner=%lld inplace=%d\n",
                                    (long long)outer, (long long)len, (long long)inner, inplace);
                        }
                        free(x), free(y), free(ref);
                    }
    printf("softmax: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

static const char *red_names[] = {"sum", "mean", "max",   "min",    "prod",
                                  "l1",  "l2",   "sumsq", "logsum", "logsumexp"};

static int test_reduce(void) {
    rng r = {6};
    int fails = 0, runs = 0;
    const int64_t outers[] = {1, 4}, lens[] = {0, 1, 3, 17, 300}, inners[] = {1, 3, 64, 65};
    for (int kind = 0; kind < 10; kind++)
        for (int oi = 0; oi < 2; oi++)
            for (int li = 0; li < 5; li++)
                for (int ii = 0; ii < 4; ii++) {
                    const int64_t outer = outers[oi], len = lens[li], inner = inners[ii];
                    float *x = xmalloc((size_t)(outer * len * inner) * sizeof(float));
                    float *y = poisoned(outer * inner);
                    double *ref = xmalloc((size_t)(outer * inner) * sizeof(double));
                    fill_rand(&r, x, outer * len * inner);
                    /* Keep products and logs well-defined: values in [0.5, 1.5]. */
                    if (kind == ISBRT_RED_PROD || kind == ISBRT_RED_LOGSUM)
                        for (int64_t i = 0; i < outer * len * inner; i++) x[i] = 1.0f + x[i] / 2;
                    for (int64_t o = 0; o < outer; o++)
                        for (int64_t i = 0; i < inner; i++) {
                            double acc = kind == ISBRT_RED_PROD  ? 1.0
                                         : kind == ISBRT_RED_MAX ? -INFINITY
                                         : kind == ISBRT_RED_MIN ? INFINITY
                                                                 : 0.0;
                            for (int64_t l = 0; l < len; l++) {
                                double v = x[(o * len + l) * inner + i];
                                switch (kind) {
                                case ISBRT_RED_MAX: acc = fmax(acc, v); break;
                                case ISBRT_RED_MIN: acc = fmin(acc, v); break;
                                case ISBRT_RED_PROD: acc *= v; break;
                                case ISBRT_RED_L1: acc += fabs(v); break;
                                case ISBRT_RED_L2:
                                case ISBRT_RED_SUMSQUARE: acc += v * v; break;
                                case ISBRT_RED_LOGSUMEXP: acc += exp(v); break;
                                default: acc += v; break;
                                }
                            }
                            if (kind == ISBRT_RED_MEAN) acc = len ? acc / (double)len : NAN;
                            if (kind == ISBRT_RED_L2) acc = sqrt(acc);
                            if (kind == ISBRT_RED_LOGSUM || kind == ISBRT_RED_LOGSUMEXP)
                                acc = log(acc);
                            ref[o * inner + i] = acc;
                        }
                    isbrt_reduce_f32(kind, outer, len, inner, x, y);
                    runs++;
                    /* Empty reductions give infinities: compare those exactly. */
                    int ok = 1;
                    for (int64_t i = 0; i < outer * inner; i++)
                        if (isinf(ref[i]) && (double)y[i] != ref[i]) ok = 0;
                    if (ok && !isinf(ref[0])) ok = close_enough("reduce", y, ref, outer * inner);
                    if (!ok) {
                        fails++;
                        fprintf(stderr, "  reduce %s outer=%lld len=%lld inner=%lld\n",
                                red_names[kind], (long long)outer, (long long)len,
                                (long long)inner);
                    }
                    free(x), free(y), free(ref);
                }
    printf("reduce: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

/* ---- data movement ------------------------------------------------------------------- */

static void fill_bytes(rng *r, unsigned char *p, int64_t n) {
    for (int64_t i = 0; i < n; i++) p[i] = (unsigned char)rng_u32(r);
}

static int test_copy(void) {
    rng r = {7};
    int fails = 0, runs = 0;
    const int64_t esizes[] = {1, 2, 4, 8, 3, 12};
    for (int t = 0; t < 2000; t++) {
        const int32_t rank = (int32_t)rng_int(&r, 9);
        const int64_t es = esizes[rng_int(&r, 6)];
        int64_t dims[8], sdims[8], sst[8], dst_st[8], count = 1;
        for (int d = 0; d < rank; d++) {
            dims[d] = rank > 5 ? 1 + rng_int(&r, 3) : 1 + rng_int(&r, 6);
            if (rng_int(&r, 40) == 0) dims[d] = 0;
            count *= dims[d];
        }
        /* Source: a larger dense tensor of shape sdims; the view is a slice (offset, step
         * +-1 or +-2), a permutation of its dims, or a broadcast (stride 0). */
        int perm[8];
        for (int d = 0; d < rank; d++) perm[d] = d;
        if (rng_int(&r, 2))
            for (int d = rank - 1; d > 0; d--) {
                int j = (int)rng_int(&r, d + 1), tmp = perm[d];
                perm[d] = perm[j], perm[j] = tmp;
            }
        int64_t step[8], srcsz = 1;
        for (int d = 0; d < rank; d++) {
            int mode = (int)rng_int(&r, 6);
            step[d] = mode == 0 ? 0 : mode == 1 ? -1 : mode == 2 ? 2 : mode == 3 ? -2 : 1;
            int64_t a = step[d] < 0 ? -step[d] : step[d];
            sdims[d] = dims[d] == 0 ? 1 : (dims[d] - 1) * a + 1 + rng_int(&r, 2);
        }
        for (int d = 0; d < rank; d++) srcsz *= sdims[d];
        /* Source dense strides in permuted order: dim perm[d] of the view is physical dim d. */
        int64_t phys[8], acc = 1;
        for (int d = rank - 1; d >= 0; d--) phys[perm[d]] = acc, acc *= sdims[perm[d]];
        int64_t base = 0;
        for (int d = 0; d < rank; d++) {
            sst[d] = step[d] * phys[d];
            if (step[d] < 0 && dims[d] > 0) base += (dims[d] - 1) * -step[d] * phys[d];
        }
        /* Destination: dense, or with a gap in one dim (as when writing one input of Concat). */
        int64_t dd[8], dsz = 1;
        int gapdim = rank > 0 ? (int)rng_int(&r, rank) : 0;
        for (int d = 0; d < rank; d++) dd[d] = dims[d] + (d == gapdim && rng_int(&r, 2) ? 2 : 0);
        for (int d = rank - 1; d >= 0; d--) dst_st[d] = dsz, dsz *= dd[d];
        unsigned char *src = xmalloc((size_t)(srcsz * es)), *got = xmalloc((size_t)(dsz * es));
        unsigned char *want = xmalloc((size_t)(dsz * es));
        fill_bytes(&r, src, srcsz * es);
        fill_bytes(&r, got, dsz * es);
        memcpy(want, got, (size_t)(dsz * es));
        for (int64_t i = 0; i < count; i++) {
            int64_t rem = i, so = base, doff = 0;
            for (int d = rank - 1; d >= 0; d--) {
                int64_t id = rem % dims[d];
                rem /= dims[d];
                so += id * sst[d], doff += id * dst_st[d];
            }
            memcpy(want + doff * es, src + so * es, (size_t)es);
        }
        isbrt_copy_strided(rank, dims, sst, dst_st, es, src + base * es, got);
        runs++;
        if (memcmp(got, want, (size_t)(dsz * es)) != 0) {
            fails++;
            fprintf(stderr, "FAIL copy rank=%d es=%lld dims/src/dst strides:", rank, (long long)es);
            for (int d = 0; d < rank; d++)
                fprintf(stderr, " %lld/%lld/%lld", (long long)dims[d], (long long)sst[d],
                        (long long)dst_st[d]);
            fprintf(stderr, "\n");
        }
        free(src), free(got), free(want);
    }
    printf("copy: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

static int test_gather(void) {
    rng r = {8};
    int fails = 0, runs = 0;
    for (int t = 0; t < 300; t++) {
        const int64_t outer = 1 + rng_int(&r, 3), axis = 1 + rng_int(&r, 6);
        const int64_t inner = rng_int(&r, 5), es = 1 + rng_int(&r, 8), nidx = rng_int(&r, 7);
        const int bad = rng_int(&r, 5) == 0 && nidx > 0;
        int64_t idx[8];
        for (int64_t j = 0; j < nidx; j++) idx[j] = rng_int(&r, 2 * axis) - axis;
        if (bad) idx[rng_int(&r, nidx)] = rng_int(&r, 2) ? axis : -axis - 1;
        const int64_t row = inner * es;
        unsigned char *x = xmalloc((size_t)(outer * axis * row));
        unsigned char *y = xmalloc((size_t)(outer * nidx * row));
        unsigned char *want = xmalloc((size_t)(outer * nidx * row));
        fill_bytes(&r, x, outer * axis * row);
        fill_bytes(&r, y, outer * nidx * row);
        memcpy(want, y, (size_t)(outer * nidx * row));
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < nidx; j++) {
                int64_t i = idx[j] < 0 ? idx[j] + axis : idx[j];
                if (i < 0 || i >= axis) continue;
                memcpy(want + (o * nidx + j) * row, x + (o * axis + i) * row, (size_t)row);
            }
        int rc = isbrt_gather(outer, axis, inner, idx, nidx, es, x, y);
        runs++;
        if (rc != (bad ? -1 : 0) || memcmp(y, want, (size_t)(outer * nidx * row)) != 0) {
            fails++;
            fprintf(stderr, "FAIL gather outer=%lld axis=%lld inner=%lld es=%lld nidx=%lld rc=%d\n",
                    (long long)outer, (long long)axis, (long long)inner, (long long)es,
                    (long long)nidx, rc);
        }
        /* Scatter back into a copy of x: must reproduce x wherever idx points. */
        unsigned char *z = xmalloc((size_t)(outer * axis * row));
        unsigned char *zw = xmalloc((size_t)(outer * axis * row));
        fill_bytes(&r, z, outer * axis * row);
        memcpy(zw, z, (size_t)(outer * axis * row));
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < nidx; j++) {
                int64_t i = idx[j] < 0 ? idx[j] + axis : idx[j];
                if (i < 0 || i >= axis) continue;
                memcpy(zw + (o * axis + i) * row, want + (o * nidx + j) * row, (size_t)row);
            }
        rc = isbrt_scatter(outer, axis, inner, idx, nidx, es, want, z);
        runs++;
        if (rc != (bad ? -1 : 0) || memcmp(z, zw, (size_t)(outer * axis * row)) != 0) {
            fails++;
            fprintf(stderr, "FAIL scatter outer=%lld axis=%lld inner=%lld es=%lld nidx=%lld\n",
                    (long long)outer, (long long)axis, (long long)inner, (long long)es,
                    (long long)nidx);
        }
        free(x), free(y), free(want), free(z), free(zw);
    }
    printf("gather: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

/* numpy-style reflect / edge index for the reference. */
static int64_t ref_pad_index(int64_t i, int64_t n, int mode) {
    if (i >= 0 && i < n) return i;
    if (mode == 0) return -1;
    if (mode == 2 || n == 1) return i < 0 ? 0 : n - 1;
    /* Reflect step by step, as the definition reads. */
    while (i < 0 || i >= n) {
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
    }
    return i;
}

static int test_pad(void) {
    rng r = {9};
    int fails = 0, runs = 0;
    for (int t = 0; t < 1500; t++) {
        const int32_t rank = (int32_t)rng_int(&r, 5);
        const int mode = (int)rng_int(&r, 3);
        const int64_t es = (int64_t[]){1, 2, 4, 8, 3}[rng_int(&r, 5)];
        int64_t in[8], pads[16], out[8], nin = 1, nout = 1;
        for (int d = 0; d < rank; d++) {
            in[d] = 1 + rng_int(&r, 5);
            int64_t lim = mode == 0 ? 4 : 2 * in[d];
            pads[d] = rng_int(&r, lim + 1);
            pads[rank + d] = rng_int(&r, lim + 1);
            if (rng_int(&r, 4) == 0) pads[d] = -rng_int(&r, in[d] + 3); /* crop, even past */
            if (rng_int(&r, 4) == 0) pads[rank + d] = -rng_int(&r, in[d]);
            out[d] = in[d] + pads[d] + pads[rank + d];
            if (out[d] <= 0) pads[rank + d] -= out[d] - 1, out[d] = 1;
            nin *= in[d], nout *= out[d];
        }
        unsigned char *x = xmalloc((size_t)(nin * es)), *y = xmalloc((size_t)(nout * es));
        unsigned char *want = xmalloc((size_t)(nout * es)), val[8];
        fill_bytes(&r, x, nin * es);
        fill_bytes(&r, val, 8);
        memset(y, 0xAB, (size_t)(nout * es));
        for (int64_t o = 0; o < nout; o++) {
            int64_t rem = o, src = 0, stride = 1;
            for (int d = rank - 1; d >= 0; d--) {
                int64_t i = ref_pad_index(rem % out[d] - pads[d], in[d], mode);
                rem /= out[d];
                if (i < 0 || src < 0)
                    src = -1;
                else
                    src += i * stride;
                stride *= in[d];
            }
            memcpy(want + o * es, src < 0 ? val : x + src * es, (size_t)es);
        }
        isbrt_pad(rank, in, pads, mode, es, val, x, y);
        runs++;
        if (memcmp(y, want, (size_t)(nout * es)) != 0) {
            fails++;
            fprintf(stderr, "FAIL pad rank=%d mode=%d es=%lld in/begin/end:", rank, mode,
                    (long long)es);
            for (int d = 0; d < rank; d++)
                fprintf(stderr, " %lld/%lld/%lld", (long long)in[d], (long long)pads[d],
                        (long long)pads[rank + d]);
            fprintf(stderr, "\n");
        }
        free(x), free(y), free(want);
    }
    printf("pad: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

static int test_fill(void) {
    rng r = {10};
    int fails = 0, runs = 0;
    for (int t = 0; t < 200; t++) {
        const int64_t es = 1 + rng_int(&r, 16), count = rng_int(&r, 100);
        unsigned char val[16], *y = xmalloc((size_t)(count * es + 1));
        fill_bytes(&r, val, 16);
        if (t % 4 == 0) memset(val, 0, sizeof val);
        y[count * es] = 0x5A;
        isbrt_fill(count, es, val, y);
        int ok = y[count * es] == 0x5A;
        for (int64_t i = 0; i < count; i++) ok &= memcmp(y + i * es, val, (size_t)es) == 0;
        runs++;
        if (!ok) {
            fails++;
            fprintf(stderr, "FAIL fill es=%lld count=%lld\n", (long long)es, (long long)count);
        }
        free(y);
    }
    printf("fill: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

static int test_act(void) {
    rng r = {11};
    int fails = 0, runs = 0;
    const int64_t n = 1003;
    float *x = xmalloc((size_t)n * sizeof(float));
    double *ref = xmalloc((size_t)n * sizeof(double));
    for (int kind = 0; kind < NUM_ACTS; kind++) {
        isbrt_actp a = make_act(kind);
        fill_rand(&r, x, n);
        for (int64_t i = 0; i < n; i++) x[i] *= 8.0f;
        x[0] = -100.0f, x[1] = 100.0f, x[2] = 0.0f, x[3] = -3.0f, x[4] = 3.0f;
        for (int64_t i = 0; i < n; i++) ref[i] = ref_act(&a, x[i]);
        isbrt_act_apply(&a, x, n);
        runs++;
        if (!close_enough(act_names[kind], x, ref, n)) fails++;
    }
    /* NULL means no activation. */
    x[0] = -1.0f;
    isbrt_act_apply(NULL, x, 1);
    runs++;
    if (x[0] != -1.0f) fails++, fprintf(stderr, "FAIL act NULL changed the data\n");
    free(x), free(ref);
    printf("act: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

/* Integer CumSum-14 and ScatterElements reductions (the ONNX data has only double CumSum and
 * float add/mul scatters): random 3-D cases against plain loops, exact. */
static int test_index(void) {
    rng r = {21};
    int fails = 0, runs = 0;
    for (int t = 0; t < 200; t++) {
        int64_t dims[3] = {1 + rng_int(&r, 4), 1 + rng_int(&r, 5), 1 + rng_int(&r, 4)};
        int64_t total = dims[0] * dims[1] * dims[2], axis = rng_int(&r, 3);
        int excl = (int)rng_int(&r, 2), rev = (int)rng_int(&r, 2);
        int64_t x[80], y[80], want[80];
        for (int64_t i = 0; i < total; i++) x[i] = rng_int(&r, 2001) - 1000;
        int64_t st = axis == 0 ? dims[1] * dims[2] : axis == 1 ? dims[2] : 1;
        for (int64_t i = 0; i < total; i++) { /* sum over the positions before (after) i */
            int64_t k = i / st % dims[axis], base = i - k * st, s = excl ? 0 : x[i];
            for (int64_t j = 0; j < dims[axis]; j++)
                if (rev ? j > k : j < k) s += x[base + j * st];
            want[i] = s;
        }
        int rc = isbrt_cumsum(ISBRT_DT_I64, 3, dims, axis - 3 * (t & 1), excl, rev, x, y);
        runs++;
        if (rc != 0 || memcmp(y, want, (size_t)total * 8) != 0) {
            fails++;
            fprintf(stderr, "FAIL cumsum i64 dims=%lldx%lldx%lld axis=%lld excl=%d rev=%d\n",
                    (long long)dims[0], (long long)dims[1], (long long)dims[2], (long long)axis,
                    excl, rev);
        }
        /* scatter along axis: indices [dims with axis shortened], reductions on i64 */
        int red = 1 + (int)rng_int(&r, 4);
        int64_t idims[3] = {dims[0], dims[1], dims[2]};
        idims[axis] = 1 + rng_int(&r, dims[axis]);
        int64_t itotal = idims[0] * idims[1] * idims[2], idx[80], u[80];
        memcpy(want, x, (size_t)total * 8);
        for (int64_t e = 0; e < itotal; e++) {
            idx[e] = rng_int(&r, 2 * dims[axis]) - dims[axis];
            u[e] = rng_int(&r, 21) - 10;
            int64_t pos[3] = {e / (idims[1] * idims[2]), e / idims[2] % idims[1], e % idims[2]};
            pos[axis] = idx[e] < 0 ? idx[e] + dims[axis] : idx[e];
            int64_t *w = &want[(pos[0] * dims[1] + pos[1]) * dims[2] + pos[2]];
            *w = red == ISBRT_SCATTER_ADD   ? *w + u[e]
                 : red == ISBRT_SCATTER_MUL ? *w * u[e]
                 : red == ISBRT_SCATTER_MAX ? (*w > u[e] ? *w : u[e])
                                            : (*w < u[e] ? *w : u[e]);
        }
        rc = isbrt_scatter_elements(ISBRT_DT_I64, red, 3, dims, idims, (int32_t)axis, idx, x, u, y);
        runs++;
        if (rc != 0 || memcmp(y, want, (size_t)total * 8) != 0) {
            fails++;
            fprintf(stderr, "FAIL scatter_elements i64 red=%d axis=%lld\n", red, (long long)axis);
        }
        idx[rng_int(&r, itotal)] = dims[axis]; /* out of range */
        rc = isbrt_scatter_elements(ISBRT_DT_I64, red, 3, dims, idims, (int32_t)axis, idx, x, u, y);
        runs++;
        if (rc != -1) {
            fails++;
            fprintf(stderr, "FAIL scatter_elements accepted an index out of range\n");
        }
    }
    int32_t a[4] = {1, 2, 3, 4}, b[4];
    int64_t d4 = 4;
    runs++;
    if (isbrt_cumsum(ISBRT_DT_I32, 1, &d4, 0, 1, 1, a, b) != 0 || b[0] != 9 || b[3] != 0 ||
        isbrt_cumsum(ISBRT_DT_I32, 1, &d4, 1, 0, 0, a, b) != -1) {
        fails++;
        fprintf(stderr, "FAIL cumsum i32 reverse exclusive / bad axis\n");
    }
    /* ScatterND add/mul on int32 wrap like ScatterElements (no signed overflow), and a
     * reduction on a dtype the scatters do not take is refused. */
    int32_t sx[2] = {INT32_MAX, 3}, su[2] = {1, INT32_MAX}, sy[2];
    int64_t sidx[2] = {0, 1}, sdim = 2;
    runs++;
    if (isbrt_scatter_nd(ISBRT_SCATTER_ADD, 2, 1, &sdim, 1, 2, sidx, ISBRT_DT_I32, 4, sx, su, sy) !=
            0 ||
        sy[0] != INT32_MIN || sy[1] != (int32_t)(3u + (uint32_t)INT32_MAX) ||
        isbrt_scatter_nd(ISBRT_SCATTER_MUL, 2, 1, &sdim, 1, 2, sidx, ISBRT_DT_I32, 4, sx, su, sy) !=
            0 ||
        sy[0] != INT32_MAX || sy[1] != (int32_t)(3u * (uint32_t)INT32_MAX) ||
        isbrt_scatter_nd(ISBRT_SCATTER_ADD, 2, 1, &sdim, 1, 2, sidx, 10 /* f16 */, 2, sx, su, sy) !=
            -1) {
        fails++;
        fprintf(stderr, "FAIL scatter_nd i32 add/mul wrap, or f16 reduction accepted\n");
    }
    /* OneHot: a float index no int64 holds (NaN, 1e30) is out of range: the row stays off */
    float oidx[3] = {NAN, 1e30f, 1.0f}, ovals[2] = {0.0f, 1.0f}, oy[6];
    runs++;
    isbrt_onehot(3, 2, 1, ISBRT_DT_F32, oidx, 4, ovals, oy);
    if (oy[0] != 0 || oy[1] != 0 || oy[2] != 0 || oy[3] != 0 || oy[4] != 0 || oy[5] != 1) {
        fails++;
        fprintf(stderr, "FAIL onehot with NaN / huge float indices\n");
    }
    printf("index: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

/* LpNormalization-1 (no ONNX node test exists for it): random [outer, len, inner], p 1 and 2,
 * and a zero row (which stays zero). */
static int test_lpnorm(void) {
    rng r = {34};
    int fails = 0, runs = 0;
    for (int t = 0; t < 100; t++) {
        int64_t outer = 1 + rng_int(&r, 4), len = 1 + rng_int(&r, 9), inner = 1 + rng_int(&r, 5);
        int32_t p = 1 + (int32_t)rng_int(&r, 2);
        int64_t n = outer * len * inner;
        float *x = xmalloc((size_t)n * sizeof(float)), *y = poisoned(n);
        double *ref = xmalloc((size_t)n * sizeof(double));
        fill_rand(&r, x, n);
        if (t % 10 == 0)
            for (int64_t j = 0; j < len; j++) x[j * inner] = 0;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                double s = 0;
                for (int64_t j = 0; j < len; j++) {
                    double v = x[(o * len + j) * inner + i];
                    s += p == 1 ? fabs(v) : v * v;
                }
                double nrm = p == 1 ? s : sqrt(s);
                for (int64_t j = 0; j < len; j++) {
                    int64_t at = (o * len + j) * inner + i;
                    ref[at] = nrm > 0 ? x[at] / nrm : 0;
                }
            }
        isbrt_lp_normalize_f32(outer, len, inner, p, x, y);
        runs++;
        if (!close_enough("lpnorm", y, ref, n)) fails++;
        free(x), free(y), free(ref);
    }
    printf("lpnorm: %d cases, %d failed\n", runs, fails);
    return fails != 0;
}

/* ---- N-d Conv and ConvTranspose (convnd.c): groups, batch > 1, fused epilogue ------------ */

/* Naive reference over 3 spatial dims: Conv y[b][co][o] += w * x[b][ci][o*s - p + k*d]; the
 * transposed form scatters x[b][ci][i] * w into y[b][co][i*s - p + k*d]. */
static void ref_convnd(const isbrt_convnd *p, int transposed, int64_t n, const float *x,
                       const float *w, const float *bias, double *y) {
    const int64_t cig = p->c_in / p->group, cog = p->c_out / p->group;
    const int64_t lo = p->out[0] * p->out[1] * p->out[2], li = p->in[0] * p->in[1] * p->in[2];
    const int64_t ks = p->k[0] * p->k[1] * p->k[2];
    for (int64_t i = 0; i < n * p->c_out * lo; i++) y[i] = bias ? bias[(i / lo) % p->c_out] : 0;
    /* a: the small-side grid (Conv: output, ConvTranspose: input), b: the other one */
    const int64_t *ad = transposed ? p->in : p->out, *bd = transposed ? p->out : p->in;
    for (int64_t b = 0; b < n; b++)
        for (int64_t g = 0; g < p->group; g++)
            for (int64_t ci = 0; ci < cig; ci++)
                for (int64_t co = 0; co < cog; co++)
                    for (int64_t kk = 0; kk < ks; kk++)
                        for (int64_t a = 0; a < (transposed ? li : lo); a++) {
                            int64_t k3[3] = {kk / (p->k[1] * p->k[2]), kk / p->k[2] % p->k[1],
                                             kk % p->k[2]};
                            int64_t a3[3] = {a / (ad[1] * ad[2]), a / ad[2] % ad[1], a % ad[2]};
                            int64_t off = 0, inside = 1;
                            for (int d = 0; d < 3; d++) {
                                int64_t v = a3[d] * p->stride[d] - p->pad[d] + k3[d] * p->dil[d];
                                if (v < 0 || v >= bd[d]) inside = 0;
                                off = off * bd[d] + v;
                            }
                            if (!inside) continue;
                            int64_t cin = g * cig + ci, cout = g * cog + co;
                            double wv = transposed ? w[(cin * cog + co) * ks + kk]
                                                   : w[(cout * cig + ci) * ks + kk];
                            if (transposed)
                                y[(b * p->c_out + cout) * lo + off] +=
                                    wv * x[(b * p->c_in + cin) * li + a];
                            else
                                y[(b * p->c_out + cout) * lo + a] +=
                                    wv * x[(b * p->c_in + cin) * li + off];
                        }
}

static int test_convnd(void) {
    rng r = {11};
    int bad = 0;
    for (int iter = 0; iter < 40 && !bad; iter++) {
        const int transposed = iter & 1;
        isbrt_convnd p;
        memset(&p, 0, sizeof p);
        p.nsp = 3;
        p.group = 1 + rng_int(&r, 2);
        p.c_in = p.group * (1 + rng_int(&r, 3));
        p.c_out = p.group * (1 + rng_int(&r, 3));
        for (int d = 0; d < 3; d++) {
            p.k[d] = 1 + rng_int(&r, 3), p.stride[d] = 1 + rng_int(&r, 2);
            p.dil[d] = 1 + rng_int(&r, 2), p.pad[d] = rng_int(&r, 2);
            p.in[d] = 3 + rng_int(&r, 4);
            int64_t ek = (p.k[d] - 1) * p.dil[d] + 1;
            if (transposed) {
                p.out[d] = (p.in[d] - 1) * p.stride[d] + ek - 2 * p.pad[d];
            } else {
                if (p.in[d] + 2 * p.pad[d] < ek) p.in[d] = ek;
                p.out[d] = (p.in[d] + 2 * p.pad[d] - ek) / p.stride[d] + 1;
            }
        }
        const int64_t n = 2, li = p.in[0] * p.in[1] * p.in[2], lo = p.out[0] * p.out[1] * p.out[2];
        const int64_t ks = p.k[0] * p.k[1] * p.k[2];
        const int64_t nw =
            transposed ? p.c_in * (p.c_out / p.group) * ks : p.c_out * (p.c_in / p.group) * ks;
        const int residual = !transposed && (iter & 2), inplace = residual && (iter & 4);
        if (!transposed) p.act = make_act(iter & 2 ? ISBRT_ACT_RELU : ISBRT_ACT_NONE);
        float *x = xmalloc(sizeof(float) * (size_t)(n * p.c_in * li));
        float *w = xmalloc(sizeof(float) * (size_t)nw),
              *bias = xmalloc(sizeof(float) * (size_t)p.c_out);
        float *res = xmalloc(sizeof(float) * (size_t)(n * p.c_out * lo)),
              *y = poisoned(n * p.c_out * lo);
        double *ref = xmalloc(sizeof(double) * (size_t)(n * p.c_out * lo));
        fill_rand(&r, x, n * p.c_in * li);
        fill_rand(&r, w, nw);
        fill_rand(&r, bias, p.c_out);
        fill_rand(&r, res, n * p.c_out * lo);
        size_t sb = transposed ? isbrt_convtranspose_scratch(&p) : isbrt_convnd_scratch(&p);
        void *scratch = xmalloc(sb);
        ref_convnd(&p, transposed, n, x, w, bias, ref);
        if (transposed) {
            isbrt_convtranspose_f32(&p, n, x, w, bias, y, scratch);
        } else {
            for (int64_t i = 0; i < n * p.c_out * lo; i++) {
                if (residual) ref[i] += res[i];
                ref[i] = ref_act(&p.act, ref[i]);
            }
            if (inplace) memcpy(y, res, sizeof(float) * (size_t)(n * p.c_out * lo));
            isbrt_convnd_f32(&p, n, x, w, bias, residual ? (inplace ? y : res) : NULL, y, scratch);
        }
        char what[160];
        snprintf(what, sizeof what, "%s group %lld c %lld->%lld res %d inplace %d",
                 transposed ? "convtranspose" : "convnd", (long long)p.group, (long long)p.c_in,
                 (long long)p.c_out, residual, inplace);
        if (!close_enough(what, y, ref, n * p.c_out * lo)) bad = 1;
        free(x), free(w), free(bias), free(res), free(y), free(ref), free(scratch);
    }
    return bad;
}

static int test_threads(void) {
    /* Only checks the call is accepted and that sgemm still works afterwards. */
    isbrt_set_threads(1);
    isbrt_set_threads(0);
    return test_gemm();
}

static const struct suite {
    const char *name;
    int (*run)(void);
} suites[] = {
    {"conv", test_conv},   {"gemm", test_gemm},       {"matmul", test_matmul},
    {"pool", test_pool},   {"softmax", test_softmax}, {"reduce", test_reduce},
    {"copy", test_copy},   {"gather", test_gather},   {"pad", test_pad},
    {"fill", test_fill},   {"act", test_act},         {"threads", test_threads},
    {"index", test_index}, {"lpnorm", test_lpnorm},   {"convnd", test_convnd},
};

int main(int argc, char **argv) {
    int failed = 0, found = 0;
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        if (argc > 1 && strcmp(argv[1], suites[i].name) != 0) continue;
        found = 1;
        failed |= suites[i].run();
    }
    if (!found) {
        fprintf(stderr, "unknown suite %s\n", argv[1]);
        return 2;
    }
    return failed ? 1 : 0;
}
