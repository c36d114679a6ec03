/* rnn.c — RNN-14, GRU-14 and LSTM-14 (forward, reverse, bidirectional; layout 0 and 1;
 * optional bias, sequence_lens, initial_h/c, peepholes; clip; the activation functions of
 * the spec). Contract in isbrt.h.
 *
 * The batch runs in chunks of RNN_CHUNK instances so the scratch does not depend on it. Per
 * chunk, direction and time step: the rows of X for that step are gathered (each instance has
 * its own time index when running backwards over a shorter sequence), then one sgemm for
 * X W^T and one for H R^T per gate block, then the elementwise gate equations. Instances
 * past their sequence length keep their state and write zeros to Y. */
#include <stdbool.h>
#include <string.h>

#include "internal.h"

enum { RNN_CHUNK = 32 };

static int gates_of(const isbrt_rnn *p) {
    return p->kind == ISBRT_RNN ? 1 : p->kind == ISBRT_GRU ? 3 : 4;
}

size_t isbrt_rnn_scratch(const isbrt_rnn *p) {
    int64_t gh = gates_of(p) * p->hidden;
    /* xbuf [C, in], gx [C, G*H], gh [C, G*H], h [C, H], c [C, H], t [C, H] */
    int64_t floats = RNN_CHUNK * (p->input + 2 * gh + 3 * p->hidden);
    return (size_t)floats * sizeof(float);
}

/* The gate function f of the spec (enum isbrt_act): the runtime's one formula of it. */
static float fn_apply(const isbrt_actp *f, float x) {
    return isbrt__act1(f->kind, f->a, f->b, x);
}

static float clipv(const isbrt_rnn *p, float x) {
    if (p->clip > 0) x = x < -p->clip ? -p->clip : x > p->clip ? p->clip : x;
    return x;
}

/* Everything one direction of one chunk needs. */
typedef struct Dir {
    const isbrt_rnn *p;
    int64_t n, b0, rows, d; /* batch, first instance, instances in the chunk, direction */
    const float *w, *r, *wb, *rb, *peep;
    float *xbuf, *gx, *gh, *h, *c, *t;
} Dir;

/* Offset (elements) of X[time t, instance b] and of Y[t, dir d, b] / Y_h[d, b]. */
static int64_t x_off(const isbrt_rnn *p, int64_t n, int64_t t, int64_t b) {
    return (p->layout ? b * p->seq + t : t * n + b) * p->input;
}
static int64_t y_off(const isbrt_rnn *p, int64_t n, int64_t t, int64_t d, int64_t b) {
    return (p->layout ? (b * p->seq + t) * p->dirs + d : (t * p->dirs + d) * n + b) * p->hidden;
}
static int64_t h_off(const isbrt_rnn *p, int64_t n, int64_t d, int64_t b) {
    return (p->layout ? b * p->dirs + d : d * n + b) * p->hidden;
}

/* out[rows, cols] = a[rows, k] m[cols, k]^T (+ bias row), m with row stride k. */
static void proj(int64_t rows, int64_t cols, int64_t k, const float *a, const float *m,
                 const float *bias, float *out, int64_t ldo) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) out[i * ldo + j] = bias ? bias[j] : 0.0f;
    if (k > 0) isbrt__sgemm(NULL, 0, 1, rows, cols, k, 1.0f, a, k, m, k, 1.0f, out, ldo);
}

/* One time step for the active rows: gx = X W^T + Wb is ready; updates h (and c). */
static void step(Dir *s) {
    const isbrt_rnn *p = s->p;
    const int64_t H = p->hidden, rows = s->rows;
    const isbrt_actp *fn = p->fn[s->d];
    if (p->kind == ISBRT_RNN) {
        proj(rows, H, H, s->h, s->r, s->rb, s->gh, H);
        for (int64_t i = 0; i < rows * H; i++)
            s->h[i] = fn_apply(&fn[0], clipv(p, s->gx[i] + s->gh[i]));
    } else if (p->kind == ISBRT_GRU) {
        const int64_t G = 3 * H;
        /* z and r: H R^T for the first 2H rows of R */
        proj(rows, p->linear_before_reset ? G : 2 * H, H, s->h, s->r, s->rb, s->gh, G);
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < 2 * H; j++)
                s->gx[i * G + j] = fn_apply(&fn[0], clipv(p, s->gx[i * G + j] + s->gh[i * G + j]));
        if (!p->linear_before_reset) { /* (r . H) Rh^T + Rbh */
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < H; j++)
                    s->t[i * H + j] = s->gx[i * G + H + j] * s->h[i * H + j];
            proj(rows, H, H, s->t, s->r + 2 * H * H, s->rb ? s->rb + 2 * H : NULL, s->gh + 2 * H,
                 G);
        }
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < H; j++) {
                float z = s->gx[i * G + j], r = s->gx[i * G + H + j];
                float hh = s->gh[i * G + 2 * H + j];
                if (p->linear_before_reset) hh *= r;
                float ht = fn_apply(&fn[1], clipv(p, s->gx[i * G + 2 * H + j] + hh));
                s->h[i * H + j] = (1 - z) * ht + z * s->h[i * H + j];
            }
    } else {
        const int64_t G = 4 * H;
        proj(rows, G, H, s->h, s->r, s->rb, s->gh, G);
        const float *pi = s->peep, *po = s->peep ? s->peep + H : NULL,
                    *pf = s->peep ? s->peep + 2 * H : NULL;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < H; j++) {
                const float *gx = s->gx + i * G, *gh = s->gh + i * G;
                float cp = s->c[i * H + j];
                float it = fn_apply(&fn[0], clipv(p, gx[j] + gh[j] + (pi ? pi[j] * cp : 0)));
                float ft = p->input_forget
                               ? 1 - it
                               : fn_apply(&fn[0], clipv(p, gx[2 * H + j] + gh[2 * H + j] +
                                                               (pf ? pf[j] * cp : 0)));
                float ct = fn_apply(&fn[1], clipv(p, gx[3 * H + j] + gh[3 * H + j]));
                float cn = ft * cp + it * ct;
                float ot =
                    fn_apply(&fn[0], clipv(p, gx[H + j] + gh[H + j] + (po ? po[j] * cn : 0)));
                s->c[i * H + j] = cn;
                s->t[i * H + j] = ot * fn_apply(&fn[2], cn);
            }
        memcpy(s->h, s->t, sizeof(float) * (size_t)(rows * H));
    }
}

/* Steps instance b runs: sequence_lens[b] clamped to [0, T], T without sequence_lens. */
static int64_t row_len(const int32_t *seq_lens, int64_t b, int64_t T) {
    int64_t len = seq_lens ? seq_lens[b] : T;
    return len < 0 ? 0 : len > T ? T : len;
}

void isbrt_rnn_f32(const isbrt_rnn *p, int64_t n, const float *x, const float *w, const float *r,
                   const float *b, const int32_t *seq_lens, const float *h0, const float *c0,
                   const float *peep, float *y, float *y_h, float *y_c, void *scratch) {
    const int64_t H = p->hidden, G = gates_of(p) * H, I = p->input, T = p->seq;
    float *base = scratch;
    Dir s = {.p = p, .n = n};
    s.xbuf = base;
    s.gx = s.xbuf + RNN_CHUNK * I;
    s.gh = s.gx + RNN_CHUNK * G;
    s.h = s.gh + RNN_CHUNK * G;
    s.c = s.h + RNN_CHUNK * H;
    s.t = s.c + RNN_CHUNK * H;
    for (int64_t b0 = 0; b0 < n; b0 += RNN_CHUNK) {
        const int64_t rows = n - b0 < RNN_CHUNK ? n - b0 : RNN_CHUNK;
        s.b0 = b0, s.rows = rows;
        for (int64_t d = 0; d < p->dirs; d++) {
            const bool rev = p->dirs == 2 ? d == 1 : p->reverse != 0;
            s.d = d;
            s.w = w + d * G * I;
            s.r = r + d * G * H;
            s.wb = b ? b + d * 2 * G : NULL;
            s.rb = b ? b + d * 2 * G + G : NULL;
            s.peep = peep ? peep + d * 3 * H : NULL;
            for (int64_t i = 0; i < rows; i++) {
                for (int64_t j = 0; j < H; j++) {
                    s.h[i * H + j] = h0 ? h0[h_off(p, n, d, b0 + i) + j] : 0.0f;
                    s.c[i * H + j] = c0 ? c0[h_off(p, n, d, b0 + i) + j] : 0.0f;
                }
            }
            int64_t maxlen = 0;
            for (int64_t i = 0; i < rows; i++)
                if (row_len(seq_lens, b0 + i, T) > maxlen) maxlen = row_len(seq_lens, b0 + i, T);
            for (int64_t st = 0; st < T; st++) {
                if (st < maxlen) {
                    for (int64_t i = 0; i < rows; i++) {
                        int64_t len = row_len(seq_lens, b0 + i, T);
                        int64_t t = rev ? len - 1 - st : st;
                        if (st < len)
                            memcpy(s.xbuf + i * I, x + x_off(p, n, t, b0 + i),
                                   sizeof(float) * (size_t)I);
                        else
                            memset(s.xbuf + i * I, 0, sizeof(float) * (size_t)I);
                    }
                    proj(rows, G, I, s.xbuf, s.w, s.wb, s.gx, G);
                    bool partial = false;
                    for (int64_t i = 0; i < rows; i++)
                        if (st >= row_len(seq_lens, b0 + i, T)) partial = true;
                    if (!partial) {
                        step(&s);
                    } else { /* some rows are done: step the others one at a time */
                        Dir one = s;
                        one.rows = 1;
                        for (int64_t i = 0; i < rows; i++) {
                            if (st >= row_len(seq_lens, b0 + i, T)) continue;
                            one.gx = s.gx + i * G; /* gh and t are per-step scratch */
                            one.h = s.h + i * H;
                            one.c = s.c + i * H;
                            step(&one);
                        }
                    }
                }
                for (int64_t i = 0; i < rows; i++) {
                    int64_t len = row_len(seq_lens, b0 + i, T);
                    if (!y) continue;
                    if (st < len) {
                        int64_t t = rev ? len - 1 - st : st;
                        memcpy(y + y_off(p, n, t, d, b0 + i), s.h + i * H,
                               sizeof(float) * (size_t)H);
                    } else {
                        memset(y + y_off(p, n, st, d, b0 + i), 0, sizeof(float) * (size_t)H);
                    }
                }
            }
            for (int64_t i = 0; i < rows; i++) {
                if (y_h)
                    memcpy(y_h + h_off(p, n, d, b0 + i), s.h + i * H, sizeof(float) * (size_t)H);
                if (y_c)
                    memcpy(y_c + h_off(p, n, d, b0 + i), s.c + i * H, sizeof(float) * (size_t)H);
            }
        }
    }
}
