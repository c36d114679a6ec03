/* convnd.c — convolution of any spatial rank (ONNX Conv-11, the path for ranks other than
 * the 1-D/2-D ones conv.c handles) and transposed convolution (ONNX ConvTranspose-11), f32.
 *
 * Conv: per instance and group, im2col of the N-d windows into scratch, then one sgemm
 * W[c_out/g, c_in/g * K] x col[c_in/g * K, L_out]. ConvTranspose is its adjoint: one sgemm
 * col[c_out/g * K, L_in] = W^T X, then col2im scatters every column entry to the output
 * position i*stride - pad + k*dil it feeds (positions outside the output are dropped:
 * they are the cropped pads). Both walk the window grid the same way (window_map). */
#include <string.h>

#include "internal.h"

static int64_t prod(const int64_t *v, int n) {
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= v[i];
    return p;
}

/* For one kernel offset kk: every position a of grid `adims` maps to b = a*stride - pad +
 * kk*dil in grid `bdims`. gather: row[a] = src[b] (0 where b is outside); else (scatter):
 * dst[b] += row[a] where b is inside. row has prod(adims) entries. */
static void window_map(const isbrt_convnd *p, const int64_t *adims, const int64_t *bdims,
                       const int64_t *kk, int gather, float *row, const float *src, float *dst) {
    const int s = p->nsp, l = s - 1;
    const int64_t aw = adims[l], outer = prod(adims, l);
    const int64_t st = p->stride[l], off0 = kk[l] * p->dil[l] - p->pad[l];
    int64_t lo, hi;
    isbrt__valid_range(off0, st, bdims[l], aw, &lo, &hi);
    int64_t a[ISBRT_MAX_RANK] = {0};
    for (int64_t r = 0; r < outer; r++, row += aw) {
        int inside = 1;
        int64_t off = 0;
        for (int d = 0; d < l; d++) {
            int64_t b = a[d] * p->stride[d] - p->pad[d] + kk[d] * p->dil[d];
            if (b < 0 || b >= bdims[d]) inside = 0;
            off = off * bdims[d] + b;
        }
        off = off * bdims[l] + off0;
        if (gather) {
            if (!inside || hi <= lo) {
                memset(row, 0, sizeof(float) * (size_t)aw);
            } else {
                memset(row, 0, sizeof(float) * (size_t)lo);
                for (int64_t i = lo; i < hi; i++) row[i] = src[off + i * st];
                memset(row + hi, 0, sizeof(float) * (size_t)(aw - hi));
            }
        } else if (inside) {
            for (int64_t i = lo; i < hi; i++) dst[off + i * st] += row[i];
        }
        for (int d = l - 1; d >= 0; d--) { /* odometer over the leading dims */
            if (++a[d] < adims[d]) break;
            a[d] = 0;
        }
    }
}

/* Next kernel offset (odometer); returns 0 after the last. */
static int next_k(const isbrt_convnd *p, int64_t *kk) {
    for (int d = p->nsp - 1; d >= 0; d--) {
        if (++kk[d] < p->k[d]) return 1;
        kk[d] = 0;
    }
    return 0;
}

size_t isbrt_convnd_scratch(const isbrt_convnd *p) {
    return (size_t)(p->c_in / p->group * prod(p->k, p->nsp) * prod(p->out, p->nsp)) * sizeof(float);
}

size_t isbrt_convtranspose_scratch(const isbrt_convnd *p) {
    return (size_t)(p->c_out / p->group * prod(p->k, p->nsp) * prod(p->in, p->nsp)) * sizeof(float);
}

void isbrt_convnd_f32(const isbrt_convnd *p, int64_t n, const float *x, const float *w,
                      const float *bias, const float *residual, float *y, void *scratch) {
    const int inplace = residual == y; /* y += conv: accumulate in the GEMM */
    const int64_t cig = p->c_in / p->group, cog = p->c_out / p->group;
    const int64_t lin = prod(p->in, p->nsp), lout = prod(p->out, p->nsp), ks = prod(p->k, p->nsp);
    float *col = scratch;
    for (int64_t b = 0; b < n; b++) {
        for (int64_t g = 0; g < p->group; g++) {
            const float *xg = x + (b * p->c_in + g * cig) * lin;
            float *row = col;
            for (int64_t ci = 0; ci < cig; ci++) {
                int64_t kk[ISBRT_MAX_RANK] = {0};
                do {
                    window_map(p, p->out, p->in, kk, 1, row, xg + ci * lin, NULL);
                    row += lout;
                } while (next_k(p, kk));
            }
            float *yg = y + (b * p->c_out + g * cog) * lout;
            isbrt__sgemm(NULL, 0, 0, cog, lout, cig * ks, 1.0f, w + g * cog * cig * ks, cig * ks,
                         col, lout, inplace ? 1.0f : 0.0f, yg, lout);
        }
        for (int64_t co = 0; co < p->c_out; co++) {
            const int64_t at = (b * p->c_out + co) * lout;
            isbrt__epilogue(y + at, lout, bias ? bias[co] : 0.0f,
                            residual && !inplace ? residual + at : NULL, &p->act);
        }
    }
}

void isbrt_convtranspose_f32(const isbrt_convnd *p, int64_t n, const float *x, const float *w,
                             const float *bias, float *y, void *scratch) {
    const int64_t cig = p->c_in / p->group, cog = p->c_out / p->group;
    const int64_t lin = prod(p->in, p->nsp), lout = prod(p->out, p->nsp), ks = prod(p->k, p->nsp);
    float *col = scratch;
    for (int64_t b = 0; b < n; b++) {
        for (int64_t g = 0; g < p->group; g++) {
            const float *xg = x + (b * p->c_in + g * cig) * lin;
            isbrt__sgemm(NULL, 1, 0, cog * ks, lin, cig, 1.0f, w + g * cig * cog * ks, cog * ks, xg,
                         lin, 0.0f, col, lin);
            float *yg = y + (b * p->c_out + g * cog) * lout;
            memset(yg, 0, sizeof(float) * (size_t)(cog * lout));
            float *row = col;
            for (int64_t co = 0; co < cog; co++) {
                int64_t kk[ISBRT_MAX_RANK] = {0};
                do {
                    window_map(p, p->in, p->out, kk, 0, row, NULL, yg + co * lout);
                    row += lin;
                } while (next_k(p, kk));
            }
        }
        if (bias)
            for (int64_t co = 0; co < p->c_out; co++)
                isbrt__epilogue(y + (b * p->c_out + co) * lout, lout, bias[co], NULL, NULL);
    }
}
