/* conv.c — 2-D convolution (ONNX Conv-1/11/22, NCHW, float).
 *
 * Four paths, chosen from the parameters alone:
 *  - one input channel per group (depthwise, possibly with a channel multiplier): a direct
 *    loop per output row. If any tap of the plane falls outside the input columns, the plane
 *    is first copied into zero-padded rows (scratch), so every row kernel runs branch-free
 *    over the whole output width; for stride 2 the copy splits each row into even and odd
 *    columns so every tap is a contiguous load. Rows above and below the input simply skip
 *    kernel rows. 3x3 and 5x5 kernels with all rows inside run as one fused pass per output
 *    row (ReLU/Clip folded into its store); kernel widths 3, 5, 7 at stride 1 or 2 have
 *    unrolled row kernels; anything else (dilation, other sizes) a generic tap loop. Narrow
 *    planes with a square 3x3 or 5x5 kernel (any dilation) take a flat path over the whole
 *    (polyphase) padded plane instead.
 *  - 3x3, stride 1, one group, enough channels and output tiles: Winograd F(2x2, 3x3), 16
 *    GEMMs per instance.
 *  - 1x1, stride 1, no padding: the input plane already is the GEMM operand.
 *  - everything else: im2col into scratch, then the GEMM.
 * Weights may come packed (isbrt_conv2d_pack, p->packed; the compiler packs constant ones):
 * the GEMMs of one group then run on pointwise.c's kernel, which fuses bias, residual and
 * activation into its stores (im2col then goes over blocks of output rows that stay in
 * cache), and Winograd's weights come already transformed. Otherwise the GEMMs are sgemm,
 * one per group, over up to 4 instances side by side when the planes are small, and bias,
 * residual and activation are one pass over each output plane (a residual that is y itself
 * is folded into the GEMM as beta = 1). Every path splits into chunks over the run's team
 * (isbrt_conv2d_team); without one, large calls split over threads started for the call
 * (thread.c).
 */
#include <cblas.h>
#include <string.h>

#include "internal.h"

/* The flat depthwise path takes output planes narrower than this. */
#ifndef DW_FLAT_MAX_OW
#define DW_FLAT_MAX_OW 32
#endif
/* Winograd needs at least this many 2x2 output tiles per plane to beat im2col + GEMM. */
#ifndef WINO_MIN_TILES
#define WINO_MIN_TILES 16
#endif

static int conv_is_direct(const isbrt_conv *p) {
    return p->group == p->c_in;
}

static int conv_is_pointwise(const isbrt_conv *p) {
    return p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_t == 0 &&
           p->pad_l == 0 && p->pad_b == 0 && p->pad_r == 0 && p->oh == p->h && p->ow == p->w;
}

static size_t dw_scratch(const isbrt_conv *p);

/* Instances whose im2col columns go side by side into one GEMM: small output planes make
 * narrow GEMMs, so up to 4 instances are batched until the GEMM has 256 columns. */
static int64_t gemm_chunk(const isbrt_conv *p) {
    const int64_t ohow = p->oh * p->ow;
    if (conv_is_pointwise(p) || ohow >= 256) return 1;
    const int64_t nb = (256 + ohow - 1) / ohow;
    return nb > 4 ? 4 : nb;
}

static int conv_is_winograd(const isbrt_conv *p);
static size_t wino_scratch(const isbrt_conv *p);
static int conv_is_im2col_packed(const isbrt_conv *p);
static size_t i2c_scratch_floats(const isbrt_conv *p);

size_t isbrt_conv2d_scratch(const isbrt_conv *p) {
    if (conv_is_direct(p)) return dw_scratch(p);
    if (conv_is_winograd(p)) return wino_scratch(p);
    if (conv_is_pointwise(p)) return 0;
    if (p->packed && conv_is_im2col_packed(p)) return i2c_scratch_floats(p) * sizeof(float);
    const int64_t k = p->c_in / p->group * p->kh * p->kw, nb = gemm_chunk(p);
    return (size_t)((k + (nb > 1 ? p->c_out / p->group : 0)) * nb * p->oh * p->ow) * sizeof(float);
}

/* ---- im2col path ---------------------------------------------------------------------- */

/* col[((ci*kh + ky)*kw + kx) * ld + (oy - oy0)*ow + ox] =
 * x[ci][oy*sh - pt + ky*dh][ox*sw - pl + kx*dw], zero outside the input; channels ci in
 * [ci_lo, ci_hi), output rows oy in [oy0, oy1). */
ISBRT_CLONES static void im2col(const isbrt_conv *p, int64_t ci_lo, int64_t ci_hi, const float *x,
                                float *col, int64_t ld, int64_t oy0, int64_t oy1) {
    const int64_t h = p->h, w = p->w, ow = p->ow;
    const int64_t sh = p->stride_h, sw = p->stride_w;
    float *dst = col + ci_lo * p->kh * p->kw * ld;
    for (int64_t ci = ci_lo; ci < ci_hi; ci++) {
        const float *xp = x + ci * h * w;
        for (int64_t ky = 0; ky < p->kh; ky++) {
            for (int64_t kx = 0; kx < p->kw; kx++, dst += ld) {
                int64_t xoff = kx * p->dil_w - p->pad_l, lo, hi;
                isbrt__valid_range(xoff, sw, w, ow, &lo, &hi);
                for (int64_t oy = oy0; oy < oy1; oy++) {
                    float *d = dst + (oy - oy0) * ow;
                    int64_t iy = oy * sh - p->pad_t + ky * p->dil_h;
                    if (iy < 0 || iy >= h) {
                        memset(d, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    for (int64_t ox = 0; ox < lo; ox++) d[ox] = 0.0f;
                    if (hi > lo) {
                        const float *s = xp + iy * w + lo * sw + xoff;
                        if (sw == 1) {
                            memcpy(d + lo, s, (size_t)(hi - lo) * sizeof(float));
                        } else if (sw == 2) { /* a constant stride vectorises */
                            for (int64_t i = 0; i < hi - lo; i++) d[lo + i] = s[2 * i];
                        } else {
                            for (int64_t i = 0; i < hi - lo; i++) d[lo + i] = s[i * sw];
                        }
                    }
                    for (int64_t ox = hi; ox < ow; ox++) d[ox] = 0.0f;
                }
            }
        }
    }
}

typedef struct gemm_job {
    const isbrt_conv *p;
    int64_t n;
    const float *x, *w, *bias, *residual;
    float *y, *col;
    int inplace;
    int cols;           /* chunks split output columns (else output channels) */
    int64_t b0, nb, gi; /* im2col phases: instances [b0, b0 + nb) of group gi */
    const float *src;   /* the GEMM's right operand: col, or x for a pointwise conv */
} gemm_job;

/* Output channels [c_lo, c_hi) (of group gi) x columns [lo, hi) of instance b from the GEMM
 * of src (row stride ld): y (+)= W src, then the epilogue. */
static void gemm_block(const isbrt__team *t, const gemm_job *j, int64_t b, int64_t gi,
                       const float *src, int64_t ld, int64_t c_lo, int64_t c_hi, int64_t lo,
                       int64_t hi) {
    const isbrt_conv *p = j->p;
    const int64_t cog = p->c_out / p->group, ohow = p->oh * p->ow;
    const int64_t k = p->c_in / p->group * p->kh * p->kw;
    if (c_hi <= c_lo || hi <= lo) return;
    float *yg = j->y + (b * p->c_out + gi * cog) * ohow;
    isbrt__sgemm(t, 0, 0, c_hi - c_lo, hi - lo, k, 1.0f, j->w + (gi * cog + c_lo) * k, k, src + lo,
                 ld, j->inplace ? 1.0f : 0.0f, yg + c_lo * ohow + lo, ohow);
    for (int64_t co = c_lo; co < c_hi; co++) {
        const int64_t c = gi * cog + co;
        const float *res = j->residual ? j->residual + (b * p->c_out + c) * ohow + lo : NULL;
        isbrt__epilogue(yg + co * ohow + lo, hi - lo, j->bias ? j->bias[c] : 0.0f, res, &p->act);
    }
}

/* This chunk's share of the columns (in 64-byte runs) or of the output channels. */
static void gemm_share(const gemm_job *j, const isbrt__team *t, int64_t *c_lo, int64_t *c_hi,
                       int64_t *lo, int64_t *hi) {
    const int64_t cog = j->p->c_out / j->p->group, ohow = j->p->oh * j->p->ow;
    *c_lo = 0, *c_hi = cog, *lo = 0, *hi = ohow;
    if (j->cols) {
        isbrt__share(t, (ohow + 15) / 16, lo, hi);
        *lo *= 16;
        *hi = *hi * 16 < ohow ? *hi * 16 : ohow;
    } else {
        isbrt__share(t, cog, c_lo, c_hi);
    }
}

/* A pointwise conv: the input planes are the GEMM operand; every instance and group. */
static void gemm_pw_chunk(void *ctx, const isbrt__team *t) {
    const gemm_job *j = ctx;
    const isbrt_conv *p = j->p;
    const int64_t g = p->group, cig = p->c_in / g, hw = p->h * p->w;
    int64_t c_lo, c_hi, lo, hi;
    gemm_share(j, t, &c_lo, &c_hi, &lo, &hi);
    for (int64_t b = 0; b < j->n; b++)
        for (int64_t gi = 0; gi < g; gi++)
            gemm_block(t, j, b, gi, j->x + (b * p->c_in + gi * cig) * hw, hw, c_lo, c_hi, lo, hi);
}

/* im2col phase: a share of the input channels of instances [b0, b0 + nb), group gi. */
static void gemm_im2col_chunk(void *ctx, const isbrt__team *t) {
    const gemm_job *j = ctx;
    const isbrt_conv *p = j->p;
    const int64_t cig = p->c_in / p->group, hw = p->h * p->w, ohow = p->oh * p->ow;
    const float *xg = j->x + (j->b0 * p->c_in + j->gi * cig) * hw;
    int64_t lo, hi;
    isbrt__share(t, cig, &lo, &hi);
    for (int64_t bi = 0; bi < j->nb; bi++)
        im2col(p, lo, hi, xg + bi * p->c_in * hw, j->col + bi * ohow, j->nb * ohow, 0, p->oh);
}

/* GEMM phase after im2col. One instance: a share of columns or channels, straight into y.
 * Several (nb > 1, small planes side by side): a share of the channels into a buffer after
 * col, then copied to each instance's planes. */
static void gemm_rows_chunk(void *ctx, const isbrt__team *t) {
    const gemm_job *j = ctx;
    const isbrt_conv *p = j->p;
    const int64_t cog = p->c_out / p->group, ohow = p->oh * p->ow;
    const int64_t k = p->c_in / p->group * p->kh * p->kw, nb = j->nb, ld = nb * ohow;
    int64_t c_lo, c_hi, lo, hi;
    gemm_share(j, t, &c_lo, &c_hi, &lo, &hi);
    if (nb == 1) {
        gemm_block(t, j, j->b0, j->gi, j->col, ohow, c_lo, c_hi, lo, hi);
        return;
    }
    if (c_hi <= c_lo) return;
    float *tmp = j->col + k * ld;
    isbrt__sgemm(t, 0, 0, c_hi - c_lo, ld, k, 1.0f, j->w + (j->gi * cog + c_lo) * k, k, j->col, ld,
                 0.0f, tmp + c_lo * ld, ld);
    float *yg = j->y + (j->b0 * p->c_out + j->gi * cog) * ohow;
    for (int64_t co = c_lo; co < c_hi; co++) {
        const int64_t c = j->gi * cog + co;
        for (int64_t bi = 0; bi < nb; bi++) {
            float *yr = yg + (bi * p->c_out + co) * ohow;
            if (j->inplace) {
                for (int64_t i = 0; i < ohow; i++) yr[i] += tmp[co * ld + bi * ohow + i];
            } else {
                memcpy(yr, tmp + co * ld + bi * ohow, (size_t)ohow * sizeof(float));
            }
            const float *res =
                j->residual ? j->residual + ((j->b0 + bi) * p->c_out + c) * ohow : NULL;
            isbrt__epilogue(yr, ohow, j->bias ? j->bias[c] : 0.0f, res, &p->act);
        }
    }
}

/* Chunks of a GEMM phase: two per thread (each chunk packs its own copy of the operand it
 * does not split). Columns are split when there are more of them than output channels. */
static int64_t gemm_chunks(const void *team, int64_t macs, const gemm_job *j) {
    const int64_t cog = j->p->c_out / j->p->group, ohow = j->p->oh * j->p->ow;
    const int64_t items = j->cols ? (ohow + 15) / 16 : cog;
    const int64_t c = 2 * (int64_t)isbrt__parts_for(team, macs);
    return items < c ? (items > 0 ? items : 1) : c;
}

static void conv_gemm(const void *team, const isbrt_conv *p, int64_t n, const float *x,
                      const float *w, const float *bias, const float *residual, float *y,
                      float *col) {
    const int inplace = residual != NULL && residual == y;
    const int64_t macs = p->c_out * (p->c_in / p->group) * p->kh * p->kw * p->oh * p->ow * n;
    const int64_t cog = p->c_out / p->group, ohow = p->oh * p->ow;
    gemm_job j = {p,           n, x, w, bias, inplace ? NULL : residual, y, col, inplace,
                  ohow >= cog, 0, 1, 0, NULL};
    if (conv_is_pointwise(p)) {
        isbrt__parallel(team, macs, gemm_chunks(team, macs, &j), gemm_pw_chunk, &j);
        return;
    }
    const int64_t chunk = gemm_chunk(p), cig = p->c_in / p->group;
    if (chunk > 1) j.cols = 0;
    for (j.b0 = 0; j.b0 < n; j.b0 += chunk) {
        j.nb = n - j.b0 < chunk ? n - j.b0 : chunk;
        for (j.gi = 0; j.gi < p->group; j.gi++) {
            isbrt__parallel(team, macs, isbrt__chunks(team, macs, cig), gemm_im2col_chunk, &j);
            isbrt__parallel(team, macs, gemm_chunks(team, macs, &j), gemm_rows_chunk, &j);
        }
    }
}

/* ---- im2col on packed weights ----------------------------------------------------------
 * One group, weights packed for pointwise.c's kernel: blocks of whole output rows (about 384
 * positions) are lowered into the calling thread's slice of scratch and multiplied there with
 * the epilogue fused, so the lowered matrix stays in cache and the weights are not repacked
 * on every call as sgemm does. */
static int64_t i2c_rows(const isbrt_conv *p) {
    const int64_t r = 384 / p->ow;
    return r < 1 ? 1 : r > p->oh ? p->oh : r;
}

static size_t i2c_thread_floats(const isbrt_conv *p) {
    return (size_t)(p->c_in * p->kh * p->kw * i2c_rows(p) * p->ow);
}

/* An output of fewer than 4 row blocks (small planes) would split over few threads: it is
 * lowered whole instead (split by input channel), then multiplied split by output channel. */
static int i2c_whole(const isbrt_conv *p) {
    const int64_t rows = i2c_rows(p);
    return (p->oh + rows - 1) / rows < 4;
}

static size_t i2c_scratch_floats(const isbrt_conv *p) {
    if (i2c_whole(p)) return (size_t)(p->c_in * p->kh * p->kw * p->oh * p->ow);
    return i2c_thread_floats(p) * ISBRT__MAX_PARTS;
}

typedef struct i2c_job {
    const isbrt_conv *p;
    int64_t n;
    const float *x, *w, *bias, *res;
    float *y, *scratch;
    int64_t b; /* whole: the instance of the current phases */
} i2c_job;

/* Whole: a share of the input channels of instance b lowered into scratch. */
static void i2c_whole_im2col(void *ctx, const isbrt__team *t) {
    const i2c_job *j = ctx;
    const isbrt_conv *p = j->p;
    int64_t lo, hi;
    isbrt__share(t, p->c_in, &lo, &hi);
    im2col(p, lo, hi, j->x + j->b * p->c_in * p->h * p->w, j->scratch, p->oh * p->ow, 0, p->oh);
}

/* Whole: a share of the output channel blocks of instance b. */
static void i2c_whole_gemm(void *ctx, const isbrt__team *t) {
    const i2c_job *j = ctx;
    const isbrt_conv *p = j->p;
    const int64_t ohow = p->oh * p->ow, at = j->b * p->c_out * ohow;
    int64_t lo, hi;
    isbrt__share(t, (p->c_out + ISBRT__PW_MR - 1) / ISBRT__PW_MR, &lo, &hi);
    isbrt__pw_gemm(j->w, p->c_out, p->c_in * p->kh * p->kw, lo, hi, j->scratch, ohow, 0, ohow,
                   j->y + at, ohow, j->bias, j->res ? j->res + at : NULL, &p->act);
}

/* A share of the (instance, block of output rows) pairs. */
static void i2c_chunk(void *ctx, const isbrt__team *t) {
    const i2c_job *j = ctx;
    const isbrt_conv *p = j->p;
    const int64_t rows = i2c_rows(p), nrb = (p->oh + rows - 1) / rows;
    const int64_t k = p->c_in * p->kh * p->kw, hw = p->h * p->w, ohow = p->oh * p->ow;
    const int64_t mblk = (p->c_out + ISBRT__PW_MR - 1) / ISBRT__PW_MR;
    float *col = j->scratch + i2c_thread_floats(p) * (size_t)t->thread;
    int64_t lo, hi;
    isbrt__share(t, j->n * nrb, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        const int64_t b = i / nrb, oy0 = i % nrb * rows;
        const int64_t oy1 = oy0 + rows < p->oh ? oy0 + rows : p->oh, ld = (oy1 - oy0) * p->ow;
        im2col(p, 0, p->c_in, j->x + b * p->c_in * hw, col, ld, oy0, oy1);
        const int64_t at = b * p->c_out * ohow + oy0 * p->ow;
        isbrt__pw_gemm(j->w, p->c_out, k, 0, mblk, col, ld, 0, ld, j->y + at, ohow, j->bias,
                       j->res ? j->res + at : NULL, &p->act);
    }
}

static void conv_i2c_packed(const void *team, const isbrt_conv *p, int64_t n, const float *x,
                            const float *w, const float *bias, const float *residual, float *y,
                            float *scratch) {
    i2c_job j = {p, n, x, w, bias, residual, y, scratch, 0};
    const int64_t rows = i2c_rows(p), nrb = (p->oh + rows - 1) / rows;
    const int64_t macs = p->c_out * p->c_in * p->kh * p->kw * p->oh * p->ow * n;
    if (i2c_whole(p)) {
        const int64_t mblk = (p->c_out + ISBRT__PW_MR - 1) / ISBRT__PW_MR;
        for (j.b = 0; j.b < n; j.b++) {
            isbrt__parallel(team, macs, isbrt__chunks(team, macs, p->c_in), i2c_whole_im2col, &j);
            isbrt__parallel(team, macs, isbrt__chunks(team, macs, mblk), i2c_whole_gemm, &j);
        }
        return;
    }
    isbrt__parallel(team, macs, isbrt__chunks(team, macs, n * nrb), i2c_chunk, &j);
}

/* ---- Winograd F(2x2, 3x3) path -------------------------------------------------------- */

/* 3x3, stride 1, no dilation, one group: y = A^T [(G g G^T) . (B^T d B)] A per 2x2 output tile
 * (Lavin & Gray 2016), as 16 GEMMs M[e] (c_out x tiles) = U[e] (c_out x c_in) V[e] (c_in x
 * tiles). Taken only when the 2.25x fewer multiply-adds outweigh the transforms: enough tiles
 * per plane and enough channels. Scratch: U, V and M. */
static int conv_is_winograd(const isbrt_conv *p) {
    const int64_t tiles = ((p->oh + 1) / 2) * ((p->ow + 1) / 2);
    return p->group == 1 && p->kh == 3 && p->kw == 3 && p->stride_h == 1 && p->stride_w == 1 &&
           p->dil_h == 1 && p->dil_w == 1 && p->c_in >= 16 && p->c_out >= 16 &&
           tiles >= WINO_MIN_TILES;
}

static size_t wino_scratch(const isbrt_conv *p) {
    const int64_t tiles = ((p->oh + 1) / 2) * ((p->ow + 1) / 2);
    const int64_t u = p->packed ? 0 : p->c_out * p->c_in; /* packed: U is the weight input */
    return (size_t)(16 * (u + (p->c_in + p->c_out) * tiles)) * sizeof(float);
}

/* U[e][k][c] = (G g[k][c] G^T)[e], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. Blocks of WB
 * pairs go through a local buffer so each of the 16 output rows is written in runs. */
enum { WB = 64 };

/* v[e] = (G g G^T)[e] for one 3x3 kernel g. */
static inline __attribute__((always_inline)) void wino_g(const float *g, float v[16]) {
    float t[4][3];
    for (int c = 0; c < 3; c++) {
        t[0][c] = g[c];
        t[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
        t[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
        t[3][c] = g[6 + c];
    }
    for (int a = 0; a < 4; a++) {
        v[a * 4 + 0] = t[a][0];
        v[a * 4 + 1] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
        v[a * 4 + 2] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
        v[a * 4 + 3] = t[a][2];
    }
}

ISBRT_CLONES static void wino_weights(int64_t kc, int64_t lo, int64_t hi, const float *w,
                                      float *u) {
    float r[16][WB];
    for (int64_t i0 = lo; i0 < hi; i0 += WB) {
        const int64_t nb = hi - i0 < WB ? hi - i0 : WB;
        for (int64_t j = 0; j < nb; j++) {
            float v[16];
            wino_g(w + (i0 + j) * 9, v);
            for (int e = 0; e < 16; e++) r[e][j] = v[e];
        }
        for (int e = 0; e < 16; e++) memcpy(u + e * kc + i0, r[e], (size_t)nb * sizeof(float));
    }
}

/* The packed form: U[e] (c_out x c_in) of each e in pointwise.c's row blocks, one after the
 * other (isbrt__pw_rows_floats apart). */
static void wino_weights_packed(const isbrt_conv *p, const float *w, float *out) {
    const int64_t k = p->c_in, stride = (int64_t)isbrt__pw_rows_floats(p->c_out, k);
    memset(out, 0, (size_t)(16 * stride) * sizeof(float));
    for (int64_t co = 0; co < p->c_out; co++)
        for (int64_t ci = 0; ci < k; ci++) {
            float v[16];
            wino_g(w + (co * k + ci) * 9, v);
            const int64_t at = ((co / ISBRT__PW_MR) * k + ci) * ISBRT__PW_MR + co % ISBRT__PW_MR;
            for (int e = 0; e < 16; e++) out[e * stride + at] = v[e];
        }
}

/* V[e][c][t] = (B^T d B)[e] for the 4x4 input patch d of tile t (zero outside the input),
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Works on blocks of up to WB tiles of one
 * tile row: the four input rows they cover are copied zero-padded into a local buffer, the
 * transforms then run across the tiles (vectorised) and each of the 16 results is written
 * as one run. Channels [c_lo, c_hi); rows of V have length ld. */
ISBRT_CLONES static void wino_input(const isbrt_conv *p, const float *x, float *v, int64_t c_lo,
                                    int64_t c_hi, int64_t ld) {
    const int64_t h = p->h, w = p->w, th = (p->oh + 1) / 2, tw = (p->ow + 1) / 2;
    const int64_t cs = p->c_in * ld;
    float d[4][2 * WB + 2], t[4][4][WB], r[16][WB];
    for (int64_t c = c_lo; c < c_hi; c++) {
        const float *xp = x + c * h * w;
        for (int64_t ty = 0; ty < th; ty++) {
            const int64_t iy0 = 2 * ty - p->pad_t;
            for (int64_t tx0 = 0; tx0 < tw; tx0 += WB) {
                const int64_t nb = tw - tx0 < WB ? tw - tx0 : WB;
                /* the transforms run over nv >= nb lanes, a multiple of 8 (whole vectors; the
                 * extra lanes read zeros and are not stored) */
                const int64_t nv = (nb + 7) & ~(int64_t)7;
                const int64_t ix0 = 2 * tx0 - p->pad_l, span = 2 * nv + 2;
                int64_t lo = -ix0, hi = w - ix0; /* valid columns of d */
                lo = lo < 0 ? 0 : lo > span ? span : lo;
                hi = hi > span ? span : hi < lo ? lo : hi;
                for (int a = 0; a < 4; a++) {
                    const int64_t iy = iy0 + a;
                    if (iy < 0 || iy >= h) {
                        memset(d[a], 0, (size_t)span * sizeof(float));
                        continue;
                    }
                    memset(d[a], 0, (size_t)lo * sizeof(float));
                    memcpy(d[a] + lo, xp + iy * w + ix0 + lo, (size_t)(hi - lo) * sizeof(float));
                    memset(d[a] + hi, 0, (size_t)(span - hi) * sizeof(float));
                }
                for (int a = 0; a < 4; a++) {
                    const float *restrict da = d[a];
                    for (int64_t j = 0; j < nv; j++) {
                        const float d0 = da[2 * j], d1 = da[2 * j + 1], d2 = da[2 * j + 2];
                        const float d3 = da[2 * j + 3];
                        t[a][0][j] = d0 - d2;
                        t[a][1][j] = d1 + d2;
                        t[a][2][j] = d2 - d1;
                        t[a][3][j] = d1 - d3;
                    }
                }
                for (int b = 0; b < 4; b++)
                    for (int64_t j = 0; j < nv; j++) {
                        r[0 + b][j] = t[0][b][j] - t[2][b][j];
                        r[4 + b][j] = t[1][b][j] + t[2][b][j];
                        r[8 + b][j] = t[2][b][j] - t[1][b][j];
                        r[12 + b][j] = t[1][b][j] - t[3][b][j];
                    }
                float *o = v + c * ld + ty * tw + tx0;
                for (int e = 0; e < 16; e++) memcpy(o + e * cs, r[e], (size_t)nb * sizeof(float));
            }
        }
    }
}

/* y[k] (+)= A^T M A per tile, A^T = [1 1 1 0; 0 1 -1 -1]; accumulate when `add`. Blocks of
 * up to WB tiles of one tile row are read into a local buffer, transformed across the tiles
 * and stored as two output rows. Output channels [k_lo, k_hi); rows of M have length ld. */
ISBRT_CLONES static void wino_output(const isbrt_conv *p, const float *m, float *y, int add,
                                     int64_t k_lo, int64_t k_hi, int64_t ld) {
    const int64_t oh = p->oh, ow = p->ow, th = (oh + 1) / 2, tw = (ow + 1) / 2;
    const int64_t ks = p->c_out * ld;
    float q[16][WB], s[2][4][WB], o[2][2 * WB];
    memset(q, 0, sizeof q); /* lanes past nb (see nv) stay zero */
    for (int64_t k = k_lo; k < k_hi; k++) {
        float *yp = y + k * oh * ow;
        for (int64_t ty = 0; ty < th; ty++) {
            for (int64_t tx0 = 0; tx0 < tw; tx0 += WB) {
                const int64_t nb = tw - tx0 < WB ? tw - tx0 : WB;
                const int64_t nv = (nb + 7) & ~(int64_t)7; /* whole vectors, as in wino_input */
                const float *src = m + k * ld + ty * tw + tx0;
                for (int e = 0; e < 16; e++) memcpy(q[e], src + e * ks, (size_t)nb * sizeof(float));
                for (int b = 0; b < 4; b++)
                    for (int64_t j = 0; j < nv; j++) {
                        s[0][b][j] = q[b][j] + q[4 + b][j] + q[8 + b][j];
                        s[1][b][j] = q[4 + b][j] - q[8 + b][j] - q[12 + b][j];
                    }
                for (int a = 0; a < 2; a++)
                    for (int64_t j = 0; j < nv; j++) {
                        o[a][2 * j] = s[a][0][j] + s[a][1][j] + s[a][2][j];
                        o[a][2 * j + 1] = s[a][1][j] - s[a][2][j] - s[a][3][j];
                    }
                const int64_t cols = ow - 2 * tx0 < 2 * nb ? ow - 2 * tx0 : 2 * nb;
                for (int a = 0; a < 2 && 2 * ty + a < oh; a++) {
                    float *restrict row = yp + (2 * ty + a) * ow + 2 * tx0;
                    const float *restrict oa = o[a];
                    if (add)
                        for (int64_t i = 0; i < cols; i++) row[i] += oa[i];
                    else
                        memcpy(row, oa, (size_t)cols * sizeof(float));
                }
            }
        }
    }
}

typedef struct wino_job {
    const isbrt_conv *p;
    const float *x, *w, *bias, *residual;
    float *y, *u, *v, *m;
    int inplace;
    int64_t b; /* instance of the current phase */
} wino_job;

/* The phases of a Winograd convolution, each split into chunks: the weight transform (unless
 * packed), then per instance the input transform, the 16 GEMMs and the output transform. */
static void wino_weights_chunk(void *ctx, const isbrt__team *t) {
    const wino_job *j = ctx;
    const int64_t kc = j->p->c_out * j->p->c_in;
    int64_t lo, hi;
    isbrt__share(t, kc, &lo, &hi);
    wino_weights(kc, lo, hi, j->w, j->u);
}

static void wino_input_chunk(void *ctx, const isbrt__team *t) {
    const wino_job *j = ctx;
    const isbrt_conv *p = j->p;
    const int64_t tiles = ((p->oh + 1) / 2) * ((p->ow + 1) / 2);
    int64_t lo, hi;
    isbrt__share(t, p->c_in, &lo, &hi);
    wino_input(p, j->x + j->b * p->c_in * p->h * p->w, j->v, lo, hi, tiles);
}

static void wino_gemm_chunk(void *ctx, const isbrt__team *t) {
    const wino_job *j = ctx;
    const isbrt_conv *p = j->p;
    const int64_t kc = p->c_out * p->c_in, tiles = ((p->oh + 1) / 2) * ((p->ow + 1) / 2);
    int64_t lo, hi;
    isbrt__share(t, 16, &lo, &hi);
    if (p->packed) {
        const int64_t stride = (int64_t)isbrt__pw_rows_floats(p->c_out, p->c_in);
        const int64_t mblk = (p->c_out + ISBRT__PW_MR - 1) / ISBRT__PW_MR;
        for (int64_t e = lo; e < hi; e++)
            isbrt__pw_gemm(j->u + e * stride, p->c_out, p->c_in, 0, mblk,
                           j->v + e * p->c_in * tiles, tiles, 0, tiles, j->m + e * p->c_out * tiles,
                           tiles, NULL, NULL, NULL);
        return;
    }
    for (int64_t e = lo; e < hi; e++)
        isbrt__sgemm(t, 0, 0, p->c_out, tiles, p->c_in, 1.0f, j->u + e * kc, p->c_in,
                     j->v + e * p->c_in * tiles, tiles, 0.0f, j->m + e * p->c_out * tiles, tiles);
}

static void wino_output_chunk(void *ctx, const isbrt__team *t) {
    const wino_job *j = ctx;
    const isbrt_conv *p = j->p;
    const int64_t ohow = p->oh * p->ow, tiles = ((p->oh + 1) / 2) * ((p->ow + 1) / 2);
    float *yb = j->y + j->b * p->c_out * ohow;
    int64_t lo, hi;
    isbrt__share(t, p->c_out, &lo, &hi);
    wino_output(p, j->m, yb, j->inplace, lo, hi, tiles);
    for (int64_t c = lo; c < hi; c++) {
        const float *res = j->residual ? j->residual + (j->b * p->c_out + c) * ohow : NULL;
        isbrt__epilogue(yb + c * ohow, ohow, j->bias ? j->bias[c] : 0.0f, res, &p->act);
    }
}

static void conv_winograd(const void *team, const isbrt_conv *p, int64_t n, const float *x,
                          const float *w, const float *bias, const float *residual, float *y,
                          float *buf) {
    const int64_t kc = p->c_out * p->c_in;
    const int64_t tiles = ((p->oh + 1) / 2) * ((p->ow + 1) / 2);
    const int inplace = residual != NULL && residual == y;
    float *v = buf + (p->packed ? 0 : 16 * kc), *m = v + 16 * p->c_in * tiles;
    wino_job j = {p, x, w, bias, inplace ? NULL : residual, y, buf, v, m, inplace, 0};
    const int64_t macs = 16 * kc * tiles * n;
    if (!p->packed) {
        isbrt__parallel(team, macs, isbrt__chunks(team, macs, kc), wino_weights_chunk, &j);
    } else {
        j.u = (float *)w;
    }
    for (j.b = 0; j.b < n; j.b++) {
        isbrt__parallel(team, macs, isbrt__chunks(team, macs, p->c_in), wino_input_chunk, &j);
        isbrt__parallel(team, macs, isbrt__chunks(team, macs, 16), wino_gemm_chunk, &j);
        isbrt__parallel(team, macs, isbrt__chunks(team, macs, p->c_out), wino_output_chunk, &j);
    }
}

/* ---- direct path (one input channel per group) ---------------------------------------- */

/* Geometry. Output column ox, kernel column kx reads input column ox*sw - pl + kx*dw. When
 * some of those fall outside [0, w), the plane is first copied into a buffer whose rows are
 * zero-padded on both sides (row length wp, column origin at -pl), so the row kernels run
 * over the whole output width with no border code. For stride 2 (no dilation, kernel width
 * 3, 5 or 7) the copy also splits each padded row into its even columns followed by its odd
 * columns (the odd half starts at `half`): every tap then reads contiguous memory. */
typedef struct dw_geom {
    int64_t wp;   /* padded row length; 0 when the input rows are read directly */
    int64_t half; /* split rows: start of the odd columns; 0 when rows are not split */
} dw_geom;

static dw_geom dw_geometry(const isbrt_conv *p) {
    dw_geom g = {0, 0};
    const int64_t kw = p->kw;
    const int64_t last = (p->ow - 1) * p->stride_w + (kw - 1) * p->dil_w; /* from col 0 */
    const int split = p->stride_w == 2 && p->dil_w == 1 && (kw == 3 || kw == 5 || kw == 7);
    if (!split && p->pad_l == 0 && last < p->w) return g;
    g.wp = p->pad_l + p->w + p->pad_r;
    if (g.wp < last + 1) g.wp = last + 1;
    if (split) g.half = (g.wp + 1) / 2;
    return g;
}

/* ---- flat small-plane depthwise ----
 * A square 3x3 or 5x5 kernel (any dilation, stride 1 or 2, any pads) on a plane too narrow
 * for the row kernels to vectorise well. The zero-padded input is copied into phase planes
 * of width wq (isbrt__phase_copy): for stride 1 the padded plane itself, for stride 2 its
 * four polyphase components. Every tap of output (oy, ox) is then one phase plane at
 * q + off with q = oy * wq + ox, so one flat loop over q (each row's wq - ow extra columns
 * computed and dropped) runs the whole plane as long vectors; the rows are then copied out
 * through the bias/residual/activation epilogue. Scratch per part: the phase planes and the
 * flat result. */
typedef struct dwf_geom {
    int64_t wq, hq, phases; /* phase plane width, height (with one row of overrun), count */
} dwf_geom;

static int dw_is_flat(const isbrt_conv *p) {
    return p->kh == p->kw && (p->kh == 3 || p->kh == 5) && p->dil_h == p->dil_w &&
           p->stride_h == p->stride_w && (p->stride_w == 1 || p->stride_w == 2) &&
           p->ow < DW_FLAT_MAX_OW;
}

/* The kernel's extent e = (k - 1) * dil reaches e / s phase columns (rows) past the output
 * position; one extra row absorbs the flat loop's overrun past the last output row. */
static dwf_geom dwf_geometry(const isbrt_conv *p) {
    const int64_t s = p->stride_w, e = (p->kw - 1) * p->dil_w / s;
    dwf_geom g = {p->ow + e, p->oh + e + 1, s * s};
    return g;
}

static size_t dwf_floats(const isbrt_conv *p) {
    const dwf_geom g = dwf_geometry(p);
    return (size_t)(g.phases * g.hq * g.wq + p->oh * g.wq);
}

/* t[q] = bias + sum of the 9 taps k: wk[k] * tap[k][q], for q < len. */
static inline __attribute__((always_inline)) void dwf_taps(const float *const *tap,
                                                           const float *restrict wk, float bias,
                                                           float *restrict t, int64_t len) {
    const float *restrict t0 = tap[0], *restrict t1 = tap[1], *restrict t2 = tap[2];
    const float *restrict t3 = tap[3], *restrict t4 = tap[4], *restrict t5 = tap[5];
    const float *restrict t6 = tap[6], *restrict t7 = tap[7], *restrict t8 = tap[8];
    const float w0 = wk[0], w1 = wk[1], w2 = wk[2], w3 = wk[3], w4 = wk[4], w5 = wk[5];
    const float w6 = wk[6], w7 = wk[7], w8 = wk[8];
    for (int64_t i = 0; i < len; i++) {
        const float s0 = w0 * t0[i] + w1 * t1[i] + w2 * t2[i];
        const float s1 = w3 * t3[i] + w4 * t4[i] + w5 * t5[i];
        const float s2 = w6 * t6[i] + w7 * t7[i] + w8 * t8[i];
        t[i] = bias + (s0 + s1) + s2;
    }
}

/* 5x5: one pass per kernel row (its 5 weights stay in registers), t[q] = (ky == 0 ? bias :
 * t[q]) + sum_kx wk[ky*5 + kx] * tap[ky*5 + kx][q]. */
static inline __attribute__((always_inline)) void dwf_taps5(const float *const *tap,
                                                            const float *restrict wk, float bias,
                                                            float *restrict t, int64_t len) {
    for (int ky = 0; ky < 5; ky++) {
        const float *const *tr = tap + ky * 5;
        const float *restrict t0 = tr[0], *restrict t1 = tr[1], *restrict t2 = tr[2];
        const float *restrict t3 = tr[3], *restrict t4 = tr[4];
        const float w0 = wk[ky * 5], w1 = wk[ky * 5 + 1], w2 = wk[ky * 5 + 2];
        const float w3 = wk[ky * 5 + 3], w4 = wk[ky * 5 + 4];
        if (ky == 0)
            for (int64_t i = 0; i < len; i++)
                t[i] = bias + ((w0 * t0[i] + w1 * t1[i]) + (w2 * t2[i] + w3 * t3[i]) + w4 * t4[i]);
        else
            for (int64_t i = 0; i < len; i++)
                t[i] += (w0 * t0[i] + w1 * t1[i]) + (w2 * t2[i] + w3 * t3[i]) + w4 * t4[i];
    }
}

/* One output plane on the flat path; arguments as dw_plane. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) ISBRT_CLONES static void
dwf_plane(const isbrt_conv *p, const float *xp, const float *wk, float bias, const float *rp,
          float *yp, float *buf) {
    const dwf_geom g = dwf_geometry(p);
    const int64_t s = p->stride_w, d = p->dil_w, k = p->kw, oh = p->oh, ow = p->ow, wq = g.wq;
    float *t = buf + g.phases * g.hq * wq;
    isbrt__phase_copy(xp, p->h, p->w, p->pad_t, p->pad_l, s, g.hq, wq, 0.0f, buf);
    const float *tap[25];
    for (int64_t ky = 0; ky < k; ky++)
        for (int64_t kx = 0; kx < k; kx++) {
            const int64_t dy = ky * d, dx = kx * d;
            const int64_t ph = s == 1 ? 0 : (dy & 1) * 2 + (dx & 1);
            tap[ky * k + kx] = buf + ph * g.hq * wq + dy / s * wq + dx / s;
        }
    if (k == 3)
        dwf_taps(tap, wk, bias, t, oh * wq);
    else
        dwf_taps5(tap, wk, bias, t, oh * wq);
    const int inplace = rp == yp;
    for (int64_t oy = 0; oy < oh; oy++) {
        float *restrict yr = yp + oy * ow;
        const float *restrict tr = t + oy * wq;
        if (inplace)
            for (int64_t i = 0; i < ow; i++) yr[i] += tr[i];
        else
            for (int64_t i = 0; i < ow; i++) yr[i] = tr[i];
    }
    isbrt__epilogue_inline(yp, oh * ow, 0.0f, inplace ? NULL : rp, &p->act);
}

/* One padded plane (or the flat path's buffers) per part of a team. */
static size_t dw_plane_floats(const isbrt_conv *p) {
    if (dw_is_flat(p)) return dwf_floats(p);
    return (size_t)(dw_geometry(p).wp * p->h);
}

static size_t dw_scratch(const isbrt_conv *p) {
    return dw_plane_floats(p) * ISBRT__MAX_PARTS * sizeof(float);
}

/* Tap kx of output i in row r, for stride S (1, or 2 on a split row). */
static inline __attribute__((always_inline)) float dw_tap(const float *restrict r, int64_t half,
                                                          int64_t i, int kx, int S) {
    if (S == 1) return r[i + kx];
    return (kx & 1) ? r[half + i + kx / 2] : r[i + kx / 2];
}

/* Interior row kernels. Each specialisation is a small function of its own, with its own
 * AVX2+FMA clone, so the compiler keeps the broadcast weights in registers; the constant
 * kernel size and stride unroll the tap loops and the i loop vectorises. */

/* a[i] += sum_kx wr[kx] * tap(s, i, kx): one kernel row of width K. */
static inline __attribute__((always_inline)) void dw_row_t(float *restrict a,
                                                           const float *restrict s, int64_t half,
                                                           const float *restrict wr, int64_t n,
                                                           int K, int S) {
    float wv[7];
    for (int kx = 0; kx < K; kx++) wv[kx] = wr[kx];
    for (int64_t i = 0; i < n; i++) {
        float sum = 0.0f;
        for (int kx = 0; kx < K; kx++) sum += wv[kx] * dw_tap(s, half, i, kx, S);
        a[i] += sum;
    }
}

/* A whole K x K kernel (K = 3 or 5) with every kernel row inside the input (r[ky] are the
 * rows): v = (set ? bias : a[i] + bias) + taps, then a[i] = clamp(v, lo, hi) (fused ReLU or
 * Clip; -inf/+inf otherwise). One partial sum per kernel row keeps dependency chains short. */
static inline __attribute__((always_inline)) void
dw_rows_t(float *restrict a, const float *const *r, int64_t half, const float *restrict wk,
          int64_t n, int K, int S, int set, float bias, float lo, float hi) {
    const float *restrict r0 = r[0], *restrict r1 = r[1], *restrict r2 = r[2];
    if (K == 3) {
        const float w0 = wk[0], w1 = wk[1], w2 = wk[2], w3 = wk[3], w4 = wk[4], w5 = wk[5];
        const float w6 = wk[6], w7 = wk[7], w8 = wk[8];
        for (int64_t i = 0; i < n; i++) {
            float s0 = w0 * dw_tap(r0, half, i, 0, S) + w1 * dw_tap(r0, half, i, 1, S) +
                       w2 * dw_tap(r0, half, i, 2, S);
            float s1 = w3 * dw_tap(r1, half, i, 0, S) + w4 * dw_tap(r1, half, i, 1, S) +
                       w5 * dw_tap(r1, half, i, 2, S);
            float s2 = w6 * dw_tap(r2, half, i, 0, S) + w7 * dw_tap(r2, half, i, 1, S) +
                       w8 * dw_tap(r2, half, i, 2, S);
            float v = (set ? bias : a[i] + bias) + (s0 + s1) + s2;
            v = v < lo ? lo : v;
            a[i] = v > hi ? hi : v;
        }
    } else {
        const float *restrict r3 = r[3], *restrict r4 = r[4];
        for (int64_t i = 0; i < n; i++) {
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f, s4 = 0.0f;
            for (int kx = 0; kx < 5; kx++) {
                s0 += wk[kx] * dw_tap(r0, half, i, kx, S);
                s1 += wk[5 + kx] * dw_tap(r1, half, i, kx, S);
                s2 += wk[10 + kx] * dw_tap(r2, half, i, kx, S);
                s3 += wk[15 + kx] * dw_tap(r3, half, i, kx, S);
                s4 += wk[20 + kx] * dw_tap(r4, half, i, kx, S);
            }
            float v = (set ? bias : a[i] + bias) + ((s0 + s1) + (s2 + s3) + s4);
            v = v < lo ? lo : v;
            a[i] = v > hi ? hi : v;
        }
    }
}

#define DW_ROW_FN(K, S)                                                                            \
    ISBRT_CLONES static void dw_row_k##K##s##S(float *restrict a, const float *restrict s,         \
                                               int64_t half, const float *restrict wr,             \
                                               int64_t n) {                                        \
        dw_row_t(a, s, half, wr, n, K, S);                                                         \
    }
DW_ROW_FN(3, 1)
DW_ROW_FN(3, 2)
DW_ROW_FN(5, 1)
DW_ROW_FN(5, 2)
DW_ROW_FN(7, 1)
DW_ROW_FN(7, 2)

#define DW_ROWS_FN(K, S)                                                                           \
    ISBRT_CLONES static void dw_rows_k##K##s##S(float *restrict a, const float *const *r,          \
                                                int64_t half, const float *restrict wk, int64_t n, \
                                                int set, float bias, float lo, float hi) {         \
        if (set)                                                                                   \
            dw_rows_t(a, r, half, wk, n, K, S, 1, bias, lo, hi);                                   \
        else                                                                                       \
            dw_rows_t(a, r, half, wk, n, K, S, 0, bias, lo, hi);                                   \
    }
DW_ROWS_FN(3, 1)
DW_ROWS_FN(3, 2)
DW_ROWS_FN(5, 1)
DW_ROWS_FN(5, 2)

/* Copy input plane xp into the padded (and for stride 2, split) rows of buf. The padding
 * positions stay zero from conv_direct's memset. */
static inline __attribute__((always_inline)) void
dw_copy_plane(const isbrt_conv *p, const dw_geom *g, const float *xp, float *buf) {
    const int64_t w = p->w, pl = p->pad_l;
    for (int64_t iy = 0; iy < p->h; iy++) {
        float *restrict d = buf + iy * g->wp;
        const float *restrict s = xp + iy * w;
        if (g->half == 0) {
            for (int64_t c = 0; c < w; c++) d[pl + c] = s[c];
            continue;
        }
        /* Padded column t = c + pl goes to d[t/2] (t even) or d[half + t/2] (t odd). */
        const int64_t ce = pl & 1, co = 1 - ce;
        float *restrict e = d + (pl + ce) / 2, *restrict o = d + g->half + (pl + co) / 2;
        for (int64_t j = 0; ce + 2 * j < w; j++) e[j] = s[ce + 2 * j];
        for (int64_t j = 0; co + 2 * j < w; j++) o[j] = s[co + 2 * j];
    }
}

/* A 3x3, stride 1, "same" (one pixel of padding all round) plane without residual, read in
 * place: the interior columns run the fused row kernel straight on the input rows (a zeroed
 * row, zrow, stands for the rows above and below the input), the two edge columns are summed
 * here. Saves dw_plane's copy of the plane into padded rows. */
static inline __attribute__((always_inline)) void dw_plane_same3(const isbrt_conv *p,
                                                                 const float *xp, const float *wk,
                                                                 float bias, float *yp,
                                                                 const float *zrow) {
    const int64_t h = p->h, w = p->w;
    float lo = -INFINITY, hi = INFINITY;
    int clamp = 1;
    if (p->act.kind == ISBRT_ACT_RELU)
        lo = 0.0f;
    else if (p->act.kind == ISBRT_ACT_CLIP)
        lo = p->act.a, hi = p->act.b;
    else
        clamp = isbrt__act_none(&p->act);
    for (int64_t oy = 0; oy < h; oy++) {
        float *a = yp + oy * w;
        const float *rows[3];
        for (int ky = 0; ky < 3; ky++) {
            const int64_t iy = oy - 1 + ky;
            rows[ky] = iy < 0 || iy >= h ? zrow : xp + iy * w;
        }
        dw_rows_k3s1(a + 1, rows, 0, wk, w - 2, 1, bias, lo, hi);
        float e0 = bias, e1 = bias;
        for (int ky = 0; ky < 3; ky++) {
            const float *r = rows[ky], *k = wk + ky * 3;
            e0 += k[1] * r[0] + k[2] * r[1];
            e1 += k[0] * r[w - 2] + k[1] * r[w - 1];
        }
        e0 = e0 < lo ? lo : e0 > hi ? hi : e0;
        e1 = e1 < lo ? lo : e1 > hi ? hi : e1;
        a[0] = e0, a[w - 1] = e1;
        if (!clamp) isbrt__act_inline(&p->act, a, w);
    }
}

/* One output plane of a depthwise convolution: yp = act(conv(xp, wk) + bias + rp). rp may be
 * yp itself (in-place residual). buf: dw_scratch bytes. */
ISBRT_CLONES static void dw_plane(const isbrt_conv *p, const float *xp, const float *wk, float bias,
                                  const float *rp, float *yp, float *buf) {
    const int64_t h = p->h, oh = p->oh, ow = p->ow, kh = p->kh, kw = p->kw;
    const int64_t sh = p->stride_h, sw = p->stride_w, dh = p->dil_h, dw = p->dil_w;
    if (kh == 3 && kw == 3 && sh == 1 && sw == 1 && dh == 1 && dw == 1 && p->pad_t == 1 &&
        p->pad_l == 1 && oh == h && ow == p->w && ow >= 3 && rp == NULL && buf != NULL) {
        dw_plane_same3(p, xp, wk, bias, yp, buf); /* buf: zeroed by dw_part, >= w floats */
        return;
    }
    const dw_geom g = dw_geometry(p);
    const float *src = xp;
    int64_t rs = p->w; /* row stride of src */
    if (g.wp > 0) {
        dw_copy_plane(p, &g, xp, buf);
        src = buf;
        rs = g.wp;
    }
    const int64_t half = g.half;
    const int fuse = dw == 1 && (sw == 1 || sw == 2) && kh == kw && (kh == 3 || kh == 5);
    /* Without a residual the activation is applied row by row (ReLU and Clip inside the
     * fused kernel); with one, rows are accumulated first and the final pass adds the
     * residual and applies the activation. With an in-place residual every row accumulates
     * onto y; otherwise each row starts from the bias. */
    const int inplace = rp == yp;
    const int row_act = rp == NULL;
    float lo = -INFINITY, hi = INFINITY;
    int clamp = 0;
    if (row_act && p->act.kind == ISBRT_ACT_RELU) lo = 0.0f, clamp = 1;
    if (row_act && p->act.kind == ISBRT_ACT_CLIP) lo = p->act.a, hi = p->act.b, clamp = 1;
    int64_t ky_lo = 0, ky_hi = kh;

    for (int64_t oy = 0; oy < oh; oy++) {
        float *a = yp + oy * ow;
        const int64_t iy0 = oy * sh - p->pad_t;
        if (iy0 < 0 || iy0 + (kh - 1) * dh >= h)
            isbrt__valid_range(iy0, dh, h, kh, &ky_lo, &ky_hi);
        else
            ky_lo = 0, ky_hi = kh;
        if (fuse && ky_lo == 0 && ky_hi == kh) {
            const float *rows[5];
            for (int64_t ky = 0; ky < kh; ky++) rows[ky] = src + (iy0 + ky * dh) * rs;
            const int set = !inplace;
            if (kh == 3 && sw == 1)
                dw_rows_k3s1(a, rows, half, wk, ow, set, bias, lo, hi);
            else if (kh == 3)
                dw_rows_k3s2(a, rows, half, wk, ow, set, bias, lo, hi);
            else if (sw == 1)
                dw_rows_k5s1(a, rows, half, wk, ow, set, bias, lo, hi);
            else
                dw_rows_k5s2(a, rows, half, wk, ow, set, bias, lo, hi);
            if (row_act && !clamp) isbrt__act_inline(&p->act, a, ow);
            continue;
        }
        if (inplace)
            for (int64_t i = 0; i < ow; i++) a[i] += bias;
        else
            for (int64_t i = 0; i < ow; i++) a[i] = bias;
        for (int64_t ky = ky_lo; ky < ky_hi; ky++) {
            const float *s = src + (iy0 + ky * dh) * rs;
            const float *wr = wk + ky * kw;
            if (dw == 1 && sw == 1 && kw == 3)
                dw_row_k3s1(a, s, half, wr, ow);
            else if (dw == 1 && sw == 2 && kw == 3)
                dw_row_k3s2(a, s, half, wr, ow);
            else if (dw == 1 && sw == 1 && kw == 5)
                dw_row_k5s1(a, s, half, wr, ow);
            else if (dw == 1 && sw == 2 && kw == 5)
                dw_row_k5s2(a, s, half, wr, ow);
            else if (dw == 1 && sw == 1 && kw == 7)
                dw_row_k7s1(a, s, half, wr, ow);
            else if (dw == 1 && sw == 2 && kw == 7)
                dw_row_k7s2(a, s, half, wr, ow);
            else {
                for (int64_t kx = 0; kx < kw; kx++) {
                    const float wv = wr[kx], *sk = s + kx * dw;
                    for (int64_t i = 0; i < ow; i++) a[i] += wv * sk[i * sw];
                }
            }
        }
        if (row_act) isbrt__act_inline(&p->act, a, ow);
    }
    if (!row_act) isbrt__epilogue_inline(yp, oh * ow, 0.0f, inplace ? NULL : rp, &p->act);
}

typedef struct dw_job {
    const isbrt_conv *p;
    int64_t n;
    const float *x, *w, *bias, *residual;
    float *y, *buf;
} dw_job;

/* One part of a depthwise convolution: a share of the (instance, channel) planes, with its
 * own padded-plane buffer. */
static void dw_part(void *ctx, const isbrt__team *t) {
    const dw_job *j = ctx;
    const isbrt_conv *p = j->p;
    const int64_t hw = p->h * p->w, ohow = p->oh * p->ow, mult = p->c_out / p->group;
    const size_t plane = dw_plane_floats(p);
    float *buf = plane ? j->buf + plane * (size_t)t->thread : NULL;
    const int flat = dw_is_flat(p);
    if (buf != NULL && !flat) memset(buf, 0, plane * sizeof(float));
    int64_t lo, hi;
    isbrt__share(t, j->n * p->c_out, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        const int64_t b = i / p->c_out, c = i % p->c_out;
        const float *xp = j->x + (b * p->c_in + c / mult) * hw;
        const float *rp = j->residual ? j->residual + i * ohow : NULL;
        const float *wk = j->w + c * p->kh * p->kw, bc = j->bias ? j->bias[c] : 0.0f;
        if (flat)
            dwf_plane(p, xp, wk, bc, rp, j->y + i * ohow, buf);
        else
            dw_plane(p, xp, wk, bc, rp, j->y + i * ohow, buf);
    }
}

static void conv_direct(const void *team, const isbrt_conv *p, int64_t n, const float *x,
                        const float *w, const float *bias, const float *residual, float *y,
                        float *buf) {
    dw_job j = {p, n, x, w, bias, residual, y, buf};
    /* Never on threads created for the call: a depthwise conv is too small to pay for them. */
    const int64_t work = team ? n * p->c_out * p->oh * p->ow * p->kh * p->kw : 0;
    isbrt__parallel(team, work, isbrt__chunks(team, work, n * p->c_out), dw_part, &j);
}

/* Pointwise convs of one group run on pointwise.c's kernel when their weights are packed. */
static int conv_is_pw_packed(const isbrt_conv *p) {
    return conv_is_pointwise(p) && p->group == 1;
}

/* im2col convs of one group run on pointwise.c's kernel when their weights are packed. */
static int conv_is_im2col_packed(const isbrt_conv *p) {
    return p->group == 1 && !conv_is_direct(p) && !conv_is_winograd(p) && !conv_is_pointwise(p);
}

size_t isbrt_conv2d_packed_size(const isbrt_conv *p) {
    if (conv_is_winograd(p)) return 16 * isbrt__pw_rows_floats(p->c_out, p->c_in) * sizeof(float);
    if (conv_is_pw_packed(p)) return isbrt__pw_rows_floats(p->c_out, p->c_in) * sizeof(float);
    if (conv_is_im2col_packed(p))
        return isbrt__pw_rows_floats(p->c_out, p->c_in * p->kh * p->kw) * sizeof(float);
    return 0;
}

void isbrt_conv2d_pack(const isbrt_conv *p, const float *w, float *out) {
    if (conv_is_winograd(p))
        wino_weights_packed(p, w, out);
    else if (conv_is_pw_packed(p))
        isbrt__pw_pack_rows(p->c_out, p->c_in, w, out);
    else if (conv_is_im2col_packed(p))
        isbrt__pw_pack_rows(p->c_out, p->c_in * p->kh * p->kw, w, out);
}

void isbrt_conv2d_team(void *team, const isbrt_conv *p, int64_t n, const float *x, const float *w,
                       const float *bias, const float *residual, float *y, void *scratch) {
    if (n <= 0 || p->c_out <= 0 || p->oh <= 0 || p->ow <= 0) return;
    if (conv_is_direct(p))
        conv_direct(team, p, n, x, w, bias, residual, y, scratch);
    else if (p->packed && conv_is_pw_packed(p))
        isbrt__pw_conv(team, p, n, x, w, bias, residual, y);
    else if (p->packed && conv_is_im2col_packed(p))
        conv_i2c_packed(team, p, n, x, w, bias, residual, y, scratch);
    else if (conv_is_winograd(p))
        conv_winograd(team, p, n, x, w, bias, residual, y, scratch);
    else
        conv_gemm(team, p, n, x, w, bias, residual, y, scratch);
}

void isbrt_conv2d(const isbrt_conv *p, int64_t n, const float *x, const float *w, const float *bias,
                  const float *residual, float *y, void *scratch) {
    isbrt_conv2d_team(NULL, p, n, x, w, bias, residual, y, scratch);
}
