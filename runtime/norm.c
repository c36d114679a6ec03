/* norm.c — normalizations over a set of axes and the classification losses (isbrt.h,
 * "Normalizations and losses"): LayerNormalization-17, InstanceNormalization-6,
 * MeanVarianceNormalization-13, LpNormalization-1, NegativeLogLikelihoodLoss-13,
 * SoftmaxCrossEntropyLoss-13. Statistics and loss sums accumulate in double. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* An odometer over a subset of the dims of a tensor, tracking the offsets (elements) of the
 * current position in x, scale and bias. */
typedef struct Odo {
    int nd;
    int64_t dims[ISBRT_MAX_RANK];
    int64_t st[3][ISBRT_MAX_RANK]; /* strides in x, scale, bias */
    int64_t cnt[ISBRT_MAX_RANK];
    int64_t off[3];
    int64_t total;
} Odo;

/* The dims d of p with ((red_mask >> d) & 1) == want. */
static void odo_init(Odo *o, const isbrt_norm *p, int want) {
    int64_t xs[ISBRT_MAX_RANK], st = 1;
    for (int d = p->rank - 1; d >= 0; d--) {
        xs[d] = st;
        st *= p->dims[d];
    }
    memset(o, 0, sizeof *o);
    o->total = 1;
    for (int d = 0; d < p->rank; d++) {
        if (((p->red_mask >> d) & 1) != want) continue;
        o->dims[o->nd] = p->dims[d];
        o->st[0][o->nd] = xs[d];
        o->st[1][o->nd] = p->scale_strides[d];
        o->st[2][o->nd] = p->bias_strides[d];
        o->total *= p->dims[d];
        o->nd++;
    }
}

static void odo_reset(Odo *o) {
    memset(o->cnt, 0, sizeof o->cnt);
    memset(o->off, 0, sizeof o->off);
}

static void odo_next(Odo *o) {
    for (int d = o->nd - 1; d >= 0; d--) {
        if (++o->cnt[d] < o->dims[d]) {
            for (int k = 0; k < 3; k++) o->off[k] += o->st[k][d];
            return;
        }
        for (int k = 0; k < 3; k++) o->off[k] -= (o->dims[d] - 1) * o->st[k][d];
        o->cnt[d] = 0;
    }
}

void isbrt_normalize_f32(const isbrt_norm *p, const float *x, const float *scale, const float *bias,
                         float *y, float *mean, float *inv_std) {
    Odo kept, red;
    odo_init(&kept, p, 0);
    odo_init(&red, p, 1);
    int64_t cnt = red.total;
    for (int64_t g = 0; g < kept.total; g++, odo_next(&kept)) {
        const float *xg = x + kept.off[0];
        float *yg = y + kept.off[0];
        double sum = 0, sq = 0;
        odo_reset(&red);
        for (int64_t e = 0; e < cnt; e++, odo_next(&red)) sum += xg[red.off[0]];
        double mu = cnt ? sum / (double)cnt : 0;
        odo_reset(&red);
        for (int64_t e = 0; e < cnt; e++, odo_next(&red)) {
            double v = xg[red.off[0]] - mu;
            sq += v * v;
        }
        double var = cnt ? sq / (double)cnt : 0;
        double inv = p->eps_outside ? 1 / (sqrt(var) + p->epsilon) : 1 / sqrt(var + p->epsilon);
        if (mean) mean[g] = (float)mu;
        if (inv_std) inv_std[g] = (float)inv;
        odo_reset(&red);
        for (int64_t e = 0; e < cnt; e++, odo_next(&red)) {
            double v = (xg[red.off[0]] - mu) * inv;
            if (scale) v *= scale[kept.off[1] + red.off[1]];
            if (bias) v += bias[kept.off[2] + red.off[2]];
            yg[red.off[0]] = (float)v;
        }
    }
}

void isbrt_lp_normalize_f32(int64_t outer, int64_t len, int64_t inner, int32_t p, const float *x,
                            float *y) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xr = x + o * len * inner + i;
            float *yr = y + o * len * inner + i;
            double s = 0;
            for (int64_t j = 0; j < len; j++)
                s += p == 1 ? fabs(xr[j * inner]) : (double)xr[j * inner] * xr[j * inner];
            double nrm = p == 1 ? s : sqrt(s), inv = nrm > 0 ? 1 / nrm : 0;
            for (int64_t j = 0; j < len; j++) yr[j * inner] = (float)(xr[j * inner] * inv);
        }
}

int isbrt_nll_loss_f32(int64_t n, int64_t c, int64_t d, const float *x, const int64_t *target,
                       const float *weight, int32_t has_ignore, int64_t ignore_index,
                       int32_t reduction, int32_t softmax, float *y, float *log_prob) {
    double total = 0, wsum = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x + i * c * d;
        for (int64_t k = 0; k < d; k++) {
            double lse = 0;
            if (softmax) { /* log-sum-exp over c, shifted by the maximum */
                double mx = -INFINITY, s = 0;
                for (int64_t j = 0; j < c; j++)
                    if (xi[j * d + k] > mx) mx = xi[j * d + k];
                for (int64_t j = 0; j < c; j++) s += exp(xi[j * d + k] - mx);
                lse = mx + log(s);
                if (log_prob)
                    for (int64_t j = 0; j < c; j++)
                        log_prob[i * c * d + j * d + k] = (float)(xi[j * d + k] - lse);
            }
            int64_t t = target[i * d + k];
            double l = 0;
            if (!(has_ignore && t == ignore_index)) {
                if (t < 0 || t >= c) return -1;
                double w = weight ? weight[t] : 1;
                l = -w * (xi[t * d + k] - lse);
                wsum += w;
            }
            if (reduction == ISBRT_LOSS_NONE) {
                if (y) y[i * d + k] = (float)l;
            } else {
                total += l;
            }
        }
    }
    if (y && reduction == ISBRT_LOSS_SUM) y[0] = (float)total;
    if (y && reduction == ISBRT_LOSS_MEAN) y[0] = (float)(total / wsum);
    return 0;
}
