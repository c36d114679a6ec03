/* test_codegen.c — every codegen emitter on hand-built graphs (types, offsets and guards set
 * by hand, as the pipeline would), JIT-compiled and compared with plain C reference loops at
 * several batch sizes; plus exp/sigmoid accuracy against libm, the bad-argument returns, and
 * object/header/shared-library emission.
 *
 * Usage: test_codegen [SUITE [WORKDIR]]   (no SUITE or "all": every suite). Environment
 * CODEGEN_OPT (0-3) and CODEGEN_CPU (native, generic, or an LLVM CPU) select the options.
 * The workspace is poisoned before each run, so a value read before it is written shows. */
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"

/* One suite's state: its random stream, its failure count, where files go. */
typedef struct T {
    uint32_t rng;
    int fails;
    const char *dir;
} T;

/* Uniform in [-1, 1). */
static float frand(T *t) {
    t->rng = t->rng * 1103515245u + 12345u;
    return (float)((t->rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

#define ty(dt, rank, ...) type_make(dt, rank, (int64_t[]){0, __VA_ARGS__} + 1)
#define N IR_DIM_N

static int in(Graph *g, const char *name, Type t) {
    int v = graph_add_value(g, name, t);
    gval(g, v)->flags |= VAL_INPUT;
    graph_add_input(g, v);
    return v;
}
static int val(Graph *g, const char *name, Type t) {
    return graph_add_value(g, name, t);
}
static void out(Graph *g, int v) {
    gval(g, v)->flags |= VAL_OUTPUT;
    graph_add_output(g, v);
}
static Node *node(Graph *g, int op, int nin, const int *ins, int nout, const int *outs) {
    int id = graph_add_node(g, op, "", nin, ins, nout, outs);
    gnode(g, id)->guard = -1;
    return gnode(g, id);
}
static int cnst(Graph *g, const char *name, Type t, const void *data) {
    return graph_add_const(g, name, t, data);
}
static int cnst_rand(T *tt, Graph *g, const char *name, Type t) {
    int64_t n = type_numel(&t, 1);
    float *p = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) p[i] = frand(tt);
    int v = cnst(g, name, t, p);
    free(p);
    return v;
}

/* sequential plan: every non-input non-const value gets its own slot */
static void plan(Graph *g) {
    int64_t off = 0;
    for (int v = 0; v < g->nval; v++) {
        Value *val = gval(g, v);
        if (val->flags & (VAL_INPUT | VAL_CONST)) continue;
        val->offset = off;
        off += (type_bytes(&val->type, 1) + 63) / 64 * 64;
    }
    g->mem_per_batch = off;
}

typedef void (*RefFn)(const Graph *g, int64_t batch, void **ins, void **outs);

/* Codegen options for the JIT: CODEGEN_OPT / CODEGEN_CPU, default -O2 native. */
static CodegenOptions opts(const char *prefix) {
    const char *lvl = getenv("CODEGEN_OPT"), *cpu = getenv("CODEGEN_CPU");
    return (CodegenOptions){prefix, lvl ? atoi(lvl) : 2, cpu ? cpu : "native"};
}

/* The data of constant `name`. */
static const float *cdata(const Graph *g, const char *name) {
    return gval(g, graph_find_value(g, name))->data;
}

static void *alloc_val(const Graph *g, int v, int64_t batch) {
    size_t b = (size_t)type_bytes(&gval(g, v)->type, batch);
    return calloc(1, b ? b : 1);
}

static void fill(T *tt, const Graph *g, int v, void *p, int64_t batch) {
    const Type *t = &gval(g, v)->type;
    int64_t n = type_numel(t, batch);
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case DT_F32: ((float *)p)[i] = frand(tt) * 3; break;
        case DT_I64: ((int64_t *)p)[i] = (int64_t)(frand(tt) * 5); break;
        case DT_I32: ((int32_t *)p)[i] = (int32_t)(frand(tt) * 5); break;
        case DT_BOOL: ((uint8_t *)p)[i] = frand(tt) > 0; break;
        }
    }
}

static double maxdiff(const Graph *g, int v, const void *a, const void *b, int64_t batch) {
    const Type *t = &gval(g, v)->type;
    int64_t n = type_numel(t, batch);
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double x, y;
        switch (t->dtype) {
        case DT_F32:
            x = ((const float *)a)[i];
            y = ((const float *)b)[i];
            if (isnan(x) && isnan(y)) continue;
            break;
        case DT_I64: x = ((const int64_t *)a)[i], y = ((const int64_t *)b)[i]; break;
        case DT_I32: x = ((const int32_t *)a)[i], y = ((const int32_t *)b)[i]; break;
        case DT_BOOL: x = ((const uint8_t *)a)[i], y = ((const uint8_t *)b)[i]; break;
        default: x = y = 0;
        }
        double dd = fabs(x - y) / (1 + fabs(y));
        if (!(dd <= m)) m = dd;
    }
    return m;
}

static void check(T *t, const char *name, Graph *g, RefFn ref, double tol, int nb,
                  const int64_t *batches) {
    Diag d = {0};
    CodegenOptions o = opts("t");
    Jit *j = jit_compile(g, &o, &d);
    if (!j) {
        printf("FAIL %s: compile: %s\n", name, d.msg);
        t->fails++;
        return;
    }
    int ok = 1;
    for (int bi = 0; bi < nb; bi++) {
        int64_t batch = batches[bi];
        void *ins[16], *outs[16], *refs[16];
        for (int i = 0; i < g->ninput; i++) {
            ins[i] = alloc_val(g, g->inputs[i], batch);
            fill(t, g, g->inputs[i], ins[i], batch);
        }
        for (int i = 0; i < g->noutput; i++) {
            outs[i] = alloc_val(g, g->outputs[i], batch);
            refs[i] = alloc_val(g, g->outputs[i], batch);
        }
        size_t ws = jit_workspace_size(j, batch);
        void *w = aligned_alloc(64, (ws + 63) / 64 * 64 + 64);
        memset(w, 0xff, ws); /* poison */
        int rc = jit_run(j, batch, (const void *const *)ins, outs, w);
        ref(g, batch, ins, refs);
        if (rc) {
            printf("FAIL %s: batch %ld rc %d\n", name, (long)batch, rc);
            ok = 0;
        }
        for (int i = 0; i < g->noutput; i++) {
            double m = maxdiff(g, g->outputs[i], outs[i], refs[i], batch);
            if (!(m <= tol)) {
                printf("FAIL %s: batch %ld output %d maxdiff %g\n", name, (long)batch, i, m);
                ok = 0;
            }
        }
        for (int i = 0; i < g->ninput; i++) free(ins[i]);
        for (int i = 0; i < g->noutput; i++) free(outs[i]), free(refs[i]);
        free(w);
    }
    jit_free(j);
    printf("%s %s\n", ok ? "ok  " : "FAIL", name);
    if (!ok) t->fails++;
}

static const int64_t B13[] = {1, 3};
#define CHECK(name, g, ref, tol) check(t, name, g, ref, tol, 2, B13)

/* ---- tests ---- */

/* 1. Elementwise code with broadcast: y = relu(x0 + x1) * #0.5, x0 [N,3,4], x1 [4] */
static void ref_ew1(const Graph *g, int64_t b, void **in, void **out) {
    float *x = in[0], *y = in[1], *o = out[0];
    for (int64_t i = 0; i < b * 12; i++) {
        float v = x[i] + y[i % 4];
        o[i] = (v < 0 ? 0 : v) * 0.5f;
    }
}
static void t_ew1(T *t) {
    Graph *g = graph_new("ew1");
    int x = in(g, "x", ty(DT_F32, 3, N, 3, 4)), y = in(g, "y.b", ty(DT_F32, 1, 4));
    int o = val(g, "o", ty(DT_F32, 3, N, 3, 4));
    Node *n = node(g, OP_Elementwise, 2, (int[]){x, y}, 1, &o);
    node_set_string(g, n, "_code", "x0 x1 Add Relu #0.5 Mul");
    out(g, o);
    plan(g);
    CHECK("elementwise broadcast code", g, ref_ew1, 1e-6);
    Diag d;
    CodegenOptions co = {"e", 2, "native"};
    codegen_emit_llvm(g, &co, "/tmp/cgtest/ew1.ll", &d);
    graph_free(g);
}

/* 2. unary math chain: sigmoid, tanh, exp, log(abs+1), sqrt, erf, floor, ceil, neg, recip,
 * leakyrelu, hardsigmoid, hardswish via several plain nodes feeding outputs */
static int uops[] = {OP_Sigmoid,     OP_Tanh,      OP_Exp, OP_Abs,        OP_Erf,
                     OP_Floor,       OP_Ceil,      OP_Neg, OP_Reciprocal, OP_LeakyRelu,
                     OP_HardSigmoid, OP_HardSwish, OP_Relu};
#define NU (int)(sizeof uops / sizeof *uops)
static float uref(int op, float x) {
    switch (op) {
    case OP_Sigmoid: return 1 / (1 + expf(-x));
    case OP_Tanh: return tanhf(x);
    case OP_Exp: return expf(x);
    case OP_Abs: return fabsf(x);
    case OP_Erf: return erff(x);
    case OP_Floor: return floorf(x);
    case OP_Ceil: return ceilf(x);
    case OP_Neg: return -x;
    case OP_Reciprocal: return 1 / x;
    case OP_LeakyRelu: return x < 0 ? 0.1f * x : x;
    case OP_HardSigmoid: return fmaxf(0, fminf(1, 0.3f * x + 0.4f));
    case OP_HardSwish: return x * fmaxf(0, fminf(1, x / 6 + 0.5f));
    case OP_Relu: return x < 0 ? 0 : x;
    }
    return 0;
}
static void ref_unary(const Graph *g, int64_t b, void **in, void **out) {
    float *x = in[0];
    for (int k = 0; k < NU; k++)
        for (int64_t i = 0; i < b * 37; i++) ((float *)out[k])[i] = uref(uops[k], x[i]);
}
static void t_unary(T *t) {
    Graph *g = graph_new("unary");
    int x = in(g, "x", ty(DT_F32, 2, N, 37));
    for (int k = 0; k < NU; k++) {
        int o = val(g, NULL, ty(DT_F32, 2, N, 37));
        Node *n = node(g, uops[k], 1, &x, 1, &o);
        if (uops[k] == OP_LeakyRelu) node_set_float(g, n, "alpha", 0.1f);
        if (uops[k] == OP_HardSigmoid) {
            node_set_float(g, n, "alpha", 0.3f);
            node_set_float(g, n, "beta", 0.4f);
        }
        out(g, o);
    }
    plan(g);
    CHECK("plain unary ops", g, ref_unary, 2e-6);
    graph_free(g);
}

/* 3. binary + int + bool: Sub, Div, Pow(x,2), Max(3 inputs), Min, Clip(x, lo, hi),
 * Equal/Less/Greater on i64, Where(bool, f, f), Not, Cast f32->i64, Cast i64->f32, int Add/Mul */
static void ref_bin(const Graph *g, int64_t b, void **in, void **out) {
    float *x = in[0], *y = in[1];
    int64_t *p = in[2], *q = in[3];
    for (int64_t i = 0; i < b; i++)
        for (int j = 0; j < 6; j++) {
            int64_t e = i * 6 + j;
            float xv = x[e], yv = y[j];
            ((float *)out[0])[e] = xv - yv;
            ((float *)out[1])[e] = xv / yv;
            ((float *)out[2])[e] = xv * xv;
            ((float *)out[3])[e] = fmaxf(fmaxf(xv, yv), 0.25f);
            ((float *)out[4])[e] = fminf(fmaxf(xv, -0.5f), 0.5f);
            ((uint8_t *)out[5])[e] = p[e] == q[e];
            ((uint8_t *)out[6])[e] = p[e] < q[e];
            ((uint8_t *)out[7])[e] = !(p[e] > q[e]);
            ((float *)out[8])[e] = p[e] < q[e] ? xv : yv;
            ((int64_t *)out[9])[e] = (int64_t)(xv * 2);
            ((int64_t *)out[10])[e] = p[e] * q[e] + p[e];
            ((float *)out[11])[e] = (float)p[e];
            ((int64_t *)out[12])[e] = q[e] != 0 ? p[e] / q[e] : p[e];
        }
}
static void t_binary(T *t) {
    Graph *g = graph_new("bin");
    int x = in(g, "x", ty(DT_F32, 2, N, 6)), y = in(g, "y", ty(DT_F32, 1, 6));
    int p = in(g, "p", ty(DT_I64, 2, N, 6)), q = in(g, "q", ty(DT_I64, 2, N, 6));
    Type f = ty(DT_F32, 2, N, 6), bo = ty(DT_BOOL, 2, N, 6), i64 = ty(DT_I64, 2, N, 6);
    float quarter = 0.25f, lo = -0.5f, hi = 0.5f, two = 2;
    int cq = cnst(g, "quarter", ty(DT_F32, 0), &quarter), clo = cnst(g, "lo", ty(DT_F32, 0), &lo),
        chi = cnst(g, "hi", ty(DT_F32, 0), &hi), c2 = cnst(g, "two", ty(DT_F32, 0), &two);
    int o[13];
    o[0] = val(g, "sub", f);
    node(g, OP_Sub, 2, (int[]){x, y}, 1, &o[0]);
    o[1] = val(g, "div", f);
    node(g, OP_Div, 2, (int[]){x, y}, 1, &o[1]);
    o[2] = val(g, "pow", f);
    node(g, OP_Pow, 2, (int[]){x, c2}, 1, &o[2]);
    o[3] = val(g, "max", f);
    node(g, OP_Max, 3, (int[]){x, y, cq}, 1, &o[3]);
    o[4] = val(g, "clip", f);
    node(g, OP_Clip, 3, (int[]){x, clo, chi}, 1, &o[4]);
    o[5] = val(g, "eq", bo);
    node(g, OP_Equal, 2, (int[]){p, q}, 1, &o[5]);
    o[6] = val(g, "lt", bo);
    node(g, OP_Less, 2, (int[]){p, q}, 1, &o[6]);
    int gt = val(g, "gt", bo);
    node(g, OP_Greater, 2, (int[]){p, q}, 1, &gt);
    o[7] = val(g, "notgt", bo);
    node(g, OP_Not, 1, &gt, 1, &o[7]);
    o[8] = val(g, "where", f);
    node(g, OP_Where, 3, (int[]){o[6], x, y}, 1, &o[8]);
    int x2 = val(g, "x2", f);
    node(g, OP_Add, 2, (int[]){x, x}, 1, &x2);
    o[9] = val(g, "cast", i64);
    node_set_int(g, node(g, OP_Cast, 1, &x2, 1, &o[9]), "to", DT_I64);
    int pq = val(g, "pq", i64);
    node(g, OP_Mul, 2, (int[]){p, q}, 1, &pq);
    o[10] = val(g, "pqp", i64);
    node(g, OP_Add, 2, (int[]){pq, p}, 1, &o[10]);
    o[11] = val(g, "castf", f);
    node_set_int(g, node(g, OP_Cast, 1, &p, 1, &o[11]), "to", DT_F32);
    o[12] = val(g, "idiv", i64);
    node(g, OP_Div, 2, (int[]){p, q}, 1, &o[12]);
    for (int i = 0; i < 13; i++) out(g, o[i]);
    plan(g);
    CHECK("binary/int/bool ops", g, ref_bin, 1e-6);
    graph_free(g);
}

/* 4. Conv 3x3 pad 1 stride 2 + bias + residual? + relu; grouped conv too */
enum {
    CI = 4,
    CO = 6,
    H = 9,
    W = 7,
    KH = 3,
    KW = 3,
    SH = 2,
    SW = 1,
    PT = 1,
    PL = 1,
    PB = 1,
    PR = 0,
    GR = 2,
    OH = (H + PT + PB - KH) / SH + 1,
    OW = (W + PL + PR - KW) / SW + 1
};
static void conv_ref(int64_t b, const float *x, const float *w, const float *bias, float *y,
                     int relu) {
    for (int64_t n = 0; n < b; n++)
        for (int64_t co = 0; co < CO; co++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    int64_t g = co / (CO / GR), cig = CI / GR;
                    double s = bias ? bias[co] : 0;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t ky = 0; ky < KH; ky++)
                            for (int64_t kx = 0; kx < KW; kx++) {
                                int64_t iy = oy * SH - PT + ky, ix = ox * SW - PL + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                s += x[((n * CI + g * cig + ci) * H + iy) * W + ix] *
                                     w[((co * cig + ci) * KH + ky) * KW + kx];
                            }
                    y[((n * CO + co) * OH + oy) * OW + ox] = relu && s < 0 ? 0 : (float)s;
                }
}
static void ref_conv(const Graph *g, int64_t b, void **in, void **out) {
    conv_ref(b, in[0], cdata(g, "w"), cdata(g, "b"), out[0], 1);
}
static void t_conv(T *t) {
    Graph *g = graph_new("conv");
    int x = in(g, "x", ty(DT_F32, 4, N, CI, H, W));
    int w = cnst_rand(t, g, "w", ty(DT_F32, 4, CO, CI / GR, KH, KW));
    int bb = cnst_rand(t, g, "b", ty(DT_F32, 1, CO));
    int y = val(g, "y", ty(DT_F32, 4, N, CO, OH, OW));
    Node *n = node(g, OP_Conv, 3, (int[]){x, w, bb}, 1, &y);
    node_set_ints(g, n, "kernel_shape", (int64_t[]){KH, KW}, 2);
    node_set_ints(g, n, "strides", (int64_t[]){SH, SW}, 2);
    node_set_ints(g, n, "pads", (int64_t[]){PT, PL, PB, PR}, 4);
    node_set_int(g, n, "group", GR);
    node_set_string(g, n, "_act", "relu");
    out(g, y);
    plan(g);
    CHECK("conv grouped strided padded relu", g, ref_conv, 1e-4);
    graph_free(g);
}

/* 5. Gemm with transB, bias row + relu; MatMul batched with broadcast */
static void ref_gemm(const Graph *g, int64_t b, void **in, void **out) {
    const float *gw = cdata(g, "w"), *gb = cdata(g, "bias"), *mb = cdata(g, "m");
    float *x = in[0], *y = out[0];
    for (int64_t i = 0; i < b; i++)
        for (int j = 0; j < 5; j++) {
            double s = 0.5 * gb[j];
            for (int k = 0; k < 7; k++) s += 2.0 * x[i * 7 + k] * gw[j * 7 + k];
            y[i * 5 + j] = s < 0 ? 0 : (float)s;
        }
    /* matmul: a [N,2,3,4] x mb [4,5] -> [N,2,3,5]; and a x a^T-like batched: skip */
    float *a = in[1], *m = out[1];
    for (int64_t i = 0; i < b * 6; i++)
        for (int j = 0; j < 5; j++) {
            double s = 0;
            for (int k = 0; k < 4; k++) s += a[i * 4 + k] * mb[k * 5 + j];
            m[i * 5 + j] = (float)s;
        }
    /* batched broadcast: c [3,4,2] (const mb reused? no) : a [N,2,3,4] x bb [2,4,3] -> [N,2,3,3] */
    float *bb = in[2], *r = out[2];
    for (int64_t n = 0; n < b; n++)
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    double s = 0;
                    for (int k = 0; k < 4; k++)
                        s += a[((n * 2 + h) * 3 + i) * 4 + k] * bb[(h * 4 + k) * 3 + j];
                    r[((n * 2 + h) * 3 + i) * 3 + j] = (float)s;
                }
}
static void t_gemm(T *t) {
    Graph *g = graph_new("gemm");
    int x = in(g, "x", ty(DT_F32, 2, N, 7));
    int a = in(g, "a", ty(DT_F32, 4, N, 2, 3, 4));
    int bbv = in(g, "bb", ty(DT_F32, 3, 2, 4, 3));
    int w = cnst_rand(t, g, "w", ty(DT_F32, 2, 5, 7)),
        bias = cnst_rand(t, g, "bias", ty(DT_F32, 1, 5));
    int m = cnst_rand(t, g, "m", ty(DT_F32, 2, 4, 5));
    int y = val(g, "y", ty(DT_F32, 2, N, 5));
    Node *n = node(g, OP_Gemm, 3, (int[]){x, w, bias}, 1, &y);
    node_set_int(g, n, "transB", 1);
    node_set_float(g, n, "alpha", 2);
    node_set_float(g, n, "beta", 0.5f);
    node_set_string(g, n, "_act", "relu");
    int mm = val(g, "mm", ty(DT_F32, 4, N, 2, 3, 5));
    node(g, OP_MatMul, 2, (int[]){a, m}, 1, &mm);
    int mm2 = val(g, "mm2", ty(DT_F32, 4, N, 2, 3, 3));
    node(g, OP_MatMul, 2, (int[]){a, bbv}, 1, &mm2);
    out(g, y);
    out(g, mm);
    out(g, mm2);
    plan(g);
    CHECK("gemm transB alpha beta relu; matmul folded + batched", g, ref_gemm, 1e-4);
    graph_free(g);
}

/* 6. pools, global pool, softmax, logsoftmax, reduce mean over [2,3] and reduce max axis 1 */
static void ref_pool(const Graph *g, int64_t b, void **in, void **out) {
    float *x = in[0];
    int C = 3, h = 6, w = 5, oh = 3, ow = 3; /* maxpool 3x3 s2 p1 */
    float *mp = out[0], *ap = out[1], *gp = out[2], *sm = out[3], *ls = out[4], *rm = out[5],
          *rx = out[6], *r13 = out[7], *r02 = out[8];
    for (int64_t n = 0; n < b; n++) /* mean over C and W */
        for (int i = 0; i < h; i++) {
            double s = 0;
            for (int c = 0; c < C; c++)
                for (int j = 0; j < w; j++) s += x[((n * C + c) * h + i) * w + j];
            r13[n * h + i] = (float)(s / (C * w));
        }
    for (int c = 0; c < C; c++) /* max over N and H */
        for (int j = 0; j < w; j++) {
            float m = -INFINITY;
            for (int64_t n = 0; n < b; n++)
                for (int i = 0; i < h; i++) m = fmaxf(m, x[((n * C + c) * h + i) * w + j]);
            r02[c * w + j] = m;
        }
    for (int64_t n = 0; n < b; n++)
        for (int c = 0; c < C; c++) {
            const float *xp = x + (n * C + c) * h * w;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    float m = -INFINITY;
                    double s = 0;
                    int cnt = 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            m = fmaxf(m, xp[iy * w + ix]);
                            s += xp[iy * w + ix];
                            cnt++;
                        }
                    mp[((n * C + c) * oh + oy) * ow + ox] = m;
                    ap[((n * C + c) * oh + oy) * ow + ox] = (float)(s / cnt);
                }
            double s = 0;
            float mx = -INFINITY;
            for (int i = 0; i < h * w; i++) s += xp[i], mx = fmaxf(mx, xp[i]);
            gp[n * C + c] = (float)(s / (h * w));
            rm[n * C + c] = (float)(s / (h * w));
            (void)mx;
        }
    /* softmax over axis 1 (C) of [N,3,6,5]: inner = 30 */
    for (int64_t n = 0; n < b; n++)
        for (int i = 0; i < h * w; i++) {
            float m = -INFINITY;
            for (int c = 0; c < C; c++) m = fmaxf(m, x[(n * C + c) * h * w + i]);
            double s = 0;
            for (int c = 0; c < C; c++) s += exp(x[(n * C + c) * h * w + i] - m);
            for (int c = 0; c < C; c++) {
                float v = x[(n * C + c) * h * w + i];
                sm[(n * C + c) * h * w + i] = (float)(exp(v - m) / s);
                ls[(n * C + c) * h * w + i] = (float)(v - m - log(s));
                rx[n * h * w + i] = m;
            }
        }
}
static void t_pool(T *t) {
    Graph *g = graph_new("pool");
    int x = in(g, "x", ty(DT_F32, 4, N, 3, 6, 5));
    int o[7];
    o[0] = val(g, "mp", ty(DT_F32, 4, N, 3, 3, 3));
    Node *n = node(g, OP_MaxPool, 1, &x, 1, &o[0]);
    node_set_ints(g, n, "kernel_shape", (int64_t[]){3, 3}, 2);
    node_set_ints(g, n, "strides", (int64_t[]){2, 2}, 2);
    node_set_ints(g, n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    o[1] = val(g, "ap", ty(DT_F32, 4, N, 3, 3, 3));
    n = node(g, OP_AveragePool, 1, &x, 1, &o[1]);
    node_set_ints(g, n, "kernel_shape", (int64_t[]){3, 3}, 2);
    node_set_ints(g, n, "strides", (int64_t[]){2, 2}, 2);
    node_set_ints(g, n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    o[2] = val(g, "gp", ty(DT_F32, 4, N, 3, 1, 1));
    node(g, OP_GlobalAveragePool, 1, &x, 1, &o[2]);
    o[3] = val(g, "sm", ty(DT_F32, 4, N, 3, 6, 5));
    node_set_int(g, node(g, OP_Softmax, 1, &x, 1, &o[3]), "axis", 1);
    o[4] = val(g, "ls", ty(DT_F32, 4, N, 3, 6, 5));
    node_set_int(g, node(g, OP_LogSoftmax, 1, &x, 1, &o[4]), "axis", 1);
    o[5] = val(g, "rm", ty(DT_F32, 2, N, 3));
    int64_t axes[2] = {2, 3};
    int ax = cnst(g, "axes", ty(DT_I64, 1, 2), axes);
    node_set_int(g, node(g, OP_ReduceMean, 2, (int[]){x, ax}, 1, &o[5]), "keepdims", 0);
    o[6] = val(g, "rx", ty(DT_F32, 4, N, 1, 6, 5));
    n = node(g, OP_ReduceMax, 1, &x, 1, &o[6]);
    node_set_ints(g, n, "axes", (int64_t[]){-3}, 1);
    int ra[2] = {val(g, "r13", ty(DT_F32, 2, N, 6)), val(g, "r02", ty(DT_F32, 4, 1, 3, 1, 5))};
    n = node(g, OP_ReduceMean, 1, &x, 1, &ra[0]);
    node_set_ints(g, n, "axes", (int64_t[]){1, 3}, 2);
    node_set_int(g, n, "keepdims", 0);
    n = node(g, OP_ReduceMax, 1, &x, 1, &ra[1]);
    node_set_ints(g, n, "axes", (int64_t[]){0, 2}, 2);
    for (int i = 0; i < 7; i++) out(g, o[i]);
    out(g, ra[0]);
    out(g, ra[1]);
    g->opset = 17;
    plan(g);
    CHECK("pools, softmax, reduce", g, ref_pool, 1e-5);
    graph_free(g);
}

/* 7. data movement: transpose, concat, split, slice, gather, pad, expand, reshape view/copy */
static void ref_move(const Graph *g, int64_t b, void **in, void **out) {
    float *x = in[0]; /* [N,2,3,4] */
    float *tr = out[0], *cc = out[1], *s0 = out[2], *s1 = out[3], *sl = out[4], *ga = out[5],
          *pd = out[6], *ex = out[7], *rs = out[8];
#define X(n, c, h, w) x[(((n)*2 + (c)) * 3 + (h)) * 4 + (w)]
    for (int64_t n = 0; n < b; n++)
        for (int c = 0; c < 2; c++)
            for (int h = 0; h < 3; h++)
                for (int w = 0; w < 4; w++) {
                    /* transpose perm [0,3,1,2] -> [N,4,2,3] */
                    tr[((n * 4 + w) * 2 + c) * 3 + h] = X(n, c, h, w);
                    /* concat x, x along axis 2 -> [N,2,6,4] */
                    cc[((n * 2 + c) * 6 + h) * 4 + w] = X(n, c, h, w);
                    cc[((n * 2 + c) * 6 + h + 3) * 4 + w] = X(n, c, h, w);
                    /* split axis 3 into [1,3] */
                    if (w < 1)
                        s0[((n * 2 + c) * 3 + h) * 1 + w] = X(n, c, h, w);
                    else
                        s1[((n * 2 + c) * 3 + h) * 3 + w - 1] = X(n, c, h, w);
                    /* pad h by (1,0) w by (0,2) constant 0.5 -> [N,2,4,6] */
                    pd[((n * 2 + c) * 4 + h + 1) * 6 + w] = X(n, c, h, w);
                    rs[((n * 2 + c) * 3 + h) * 4 + w] = X(n, c, h, w) * 2;
                }
    for (int64_t n = 0; n < b; n++)
        for (int c = 0; c < 2; c++) {
            for (int w = 0; w < 6; w++) pd[((n * 2 + c) * 4 + 0) * 6 + w] = 0.5f;
            for (int h = 1; h < 4; h++)
                for (int w = 4; w < 6; w++) pd[((n * 2 + c) * 4 + h) * 6 + w] = 0.5f;
            /* slice h [2:0:-1], w [::2] -> [N,2,2,2] */
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    sl[((n * 2 + c) * 2 + i) * 2 + j] = X(n, c, 2 - i, j * 2);
            /* gather axis 3 indices [3,0,-1] -> [N,2,3,3] */
            for (int h = 0; h < 3; h++) {
                ga[((n * 2 + c) * 3 + h) * 3 + 0] = X(n, c, h, 3);
                ga[((n * 2 + c) * 3 + h) * 3 + 1] = X(n, c, h, 0);
                ga[((n * 2 + c) * 3 + h) * 3 + 2] = X(n, c, h, 3);
            }
        }
    float *e = in[1]; /* [3,1] expand to [N,3,4] */
    for (int64_t n = 0; n < b; n++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) ex[(n * 3 + i) * 4 + j] = e[i];
}
static void t_move(T *t) {
    Graph *g = graph_new("move");
    int x = in(g, "x", ty(DT_F32, 4, N, 2, 3, 4));
    int e = in(g, "e", ty(DT_F32, 2, 3, 1));
    int o[9];
    o[0] = val(g, "tr", ty(DT_F32, 4, N, 4, 2, 3));
    node_set_ints(g, node(g, OP_Transpose, 1, &x, 1, &o[0]), "perm", (int64_t[]){0, 3, 1, 2}, 4);
    o[1] = val(g, "cc", ty(DT_F32, 4, N, 2, 6, 4));
    node_set_int(g, node(g, OP_Concat, 2, (int[]){x, x}, 1, &o[1]), "axis", -2);
    o[2] = val(g, "s0", ty(DT_F32, 4, N, 2, 3, 1));
    o[3] = val(g, "s1", ty(DT_F32, 4, N, 2, 3, 3));
    node_set_int(g, node(g, OP_Split, 1, &x, 2, &o[2]), "axis", 3);
    o[4] = val(g, "sl", ty(DT_F32, 4, N, 2, 2, 2));
    int64_t st[2] = {2, 0}, en[2] = {0, 100}, ax[2] = {2, 3}, sp[2] = {-1, 2};
    int cst = cnst(g, "st", ty(DT_I64, 1, 2), st), cen = cnst(g, "en", ty(DT_I64, 1, 2), en),
        cax = cnst(g, "ax", ty(DT_I64, 1, 2), ax), csp = cnst(g, "sp", ty(DT_I64, 1, 2), sp);
    node(g, OP_Slice, 5, (int[]){x, cst, cen, cax, csp}, 1, &o[4]);
    o[5] = val(g, "ga", ty(DT_F32, 4, N, 2, 3, 3));
    int64_t idx[3] = {3, 0, -1};
    int cidx = cnst(g, "idx", ty(DT_I64, 1, 3), idx);
    node_set_int(g, node(g, OP_Gather, 2, (int[]){x, cidx}, 1, &o[5]), "axis", 3);
    o[6] = val(g, "pd", ty(DT_F32, 4, N, 2, 4, 6));
    int64_t pads[8] = {0, 0, 1, 0, 0, 0, 0, 2};
    float pv = 0.5f;
    int cp = cnst(g, "pads", ty(DT_I64, 1, 8), pads), cv = cnst(g, "pv", ty(DT_F32, 0), &pv);
    node(g, OP_Pad, 3, (int[]){x, cp, cv}, 1, &o[6]);
    o[7] = val(g, "ex", ty(DT_F32, 3, N, 3, 4));
    int64_t shp[3] = {1, 3, 4};
    int cs = cnst(g, "shp", ty(DT_I64, 1, 3), shp);
    node(g, OP_Expand, 2, (int[]){e, cs}, 1, &o[7]);
    /* Reshape view chain: x2 = x+x (arena), r = Reshape(x2) same offset (view), out = r */
    int x2 = val(g, "x2", ty(DT_F32, 4, N, 2, 3, 4));
    node(g, OP_Add, 2, (int[]){x, x}, 1, &x2);
    o[8] = val(g, "rs", ty(DT_F32, 2, N, 24));
    int64_t rsh[2] = {-1, 24};
    int crs = cnst(g, "rsh", ty(DT_I64, 1, 2), rsh);
    node(g, OP_Reshape, 2, (int[]){x2, crs}, 1, &o[8]);
    for (int i = 0; i < 9; i++) out(g, o[i]);
    plan(g);
    gval(g, o[8])->offset = gval(g, x2)->offset; /* in place view */
    CHECK("transpose concat split slice gather pad expand reshape", g, ref_move, 0);
    /* view of an input: offset -1 */
    graph_free(g);
}

/* 8. guard: value = gate[:,1] * relu(x); skipped instances must be zero */
static void ref_guard(const Graph *g, int64_t b, void **in, void **out) {
    float *x = in[0], *gate = in[1], *y = out[0];
    for (int64_t n = 0; n < b; n++)
        for (int i = 0; i < 8; i++) {
            float v = x[n * 8 + i] < 0 ? 0 : x[n * 8 + i];
            y[n * 8 + i] = gate[n * 2 + 1] >= 0.2f ? v * gate[n * 2 + 1] : 0;
        }
}

/* A branch guard with one term: gate[n][index] >= threshold. */
static int add_guard(Graph *g, const char *name, int gate, int index, float threshold, int value) {
    GuardTerm t = {gate, index, threshold};
    return graph_add_guard(g, (Guard){.name = name, .terms = &t, .nterm = 1, .value = value});
}

static void t_guard(T *t) {
    Graph *g = graph_new("guard");
    int x = in(g, "x", ty(DT_F32, 2, N, 8)), gate = in(g, "gate", ty(DT_F32, 2, N, 2));
    int r = val(g, "r", ty(DT_F32, 2, N, 8)), gs = val(g, "gs", ty(DT_F32, 2, N, 1)),
        v = val(g, "v", ty(DT_F32, 2, N, 8));
    int gid = add_guard(g, "b1", gate, 1, 0.2f, v);
    Node *n = node(g, OP_Relu, 1, &x, 1, &r);
    n->guard = gid;
    int64_t st[1] = {1}, en[1] = {2}, ax[1] = {1};
    int cst = cnst(g, "st", ty(DT_I64, 1, 1), st), cen = cnst(g, "en", ty(DT_I64, 1, 1), en),
        cax = cnst(g, "ax", ty(DT_I64, 1, 1), ax);
    n = node(g, OP_Slice, 4, (int[]){gate, cst, cen, cax}, 1, &gs);
    n->guard = gid;
    n = node(g, OP_Mul, 2, (int[]){r, gs}, 1, &v);
    n->guard = gid;
    int y = val(g, "y", ty(DT_F32, 2, N, 8));
    node(g, OP_Identity, 1, &v, 1, &y);
    out(g, y);
    plan(g);
    static const int64_t bs[] = {1, 1, 1, 4, 7};
    check(t, "guard skip/zero", g, ref_guard, 1e-6, 5, bs);
    graph_free(g);
}

/* 8b. guards around kernels: v1 = conv(x)*gate[:,1:2] (guard idx 1), v2 = gemm(xf)*gate[:,0:1]
 * (guard idx 0), y = v1 flattened + v2 via Add on [N,75]+... kept separate as outputs */
static void ref_guard2(const Graph *g, int64_t b, void **in, void **out) {
    const float *g2w = cdata(g, "w"), *g2m = cdata(g, "m");
    float *x = in[0], *gate = in[1], *v1 = out[0], *v2 = out[1];
    for (int64_t n = 0; n < b; n++) {
        float g1 = gate[n * 2 + 1], g0 = gate[n * 2 + 0];
        for (int co = 0; co < 3; co++)
            for (int oy = 0; oy < 5; oy++)
                for (int ox = 0; ox < 5; ox++) {
                    double s = 0;
                    for (int ci = 0; ci < 2; ci++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = oy - 1 + ky, ix = ox - 1 + kx;
                                if (iy < 0 || iy >= 5 || ix < 0 || ix >= 5) continue;
                                s += x[((n * 2 + ci) * 5 + iy) * 5 + ix] *
                                     g2w[((co * 2 + ci) * 3 + ky) * 3 + kx];
                            }
                    v1[((n * 3 + co) * 5 + oy) * 5 + ox] = g1 >= 0.5f ? (float)s * g1 : 0;
                }
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int k = 0; k < 50; k++) s += x[n * 50 + k] * g2m[k * 4 + j];
            v2[n * 4 + j] = g0 >= 0.5f ? (float)s * g0 : 0;
        }
    }
}
static void t_guard2(T *t) {
    Graph *g = graph_new("guard2");
    int x = in(g, "x", ty(DT_F32, 4, N, 2, 5, 5)), gate = in(g, "gate", ty(DT_F32, 2, N, 2));
    int w = cnst_rand(t, g, "w", ty(DT_F32, 4, 3, 2, 3, 3)),
        m = cnst_rand(t, g, "m", ty(DT_F32, 2, 50, 4));
    int r = val(g, "r", ty(DT_F32, 4, N, 3, 5, 5)), g1 = val(g, "g1", ty(DT_F32, 2, N, 1)),
        g1r = val(g, "g1r", ty(DT_F32, 4, N, 1, 1, 1)),
        v1 = val(g, "v1", ty(DT_F32, 4, N, 3, 5, 5));
    int xf = val(g, "xf", ty(DT_F32, 2, N, 50)), mm = val(g, "mm", ty(DT_F32, 2, N, 4)),
        g0 = val(g, "g0", ty(DT_F32, 2, N, 1)), v2 = val(g, "v2", ty(DT_F32, 2, N, 4));
    int gid1 = add_guard(g, "b1", gate, 1, 0.5f, v1);
    int gid0 = add_guard(g, "b0", gate, 0, 0.5f, v2);
    node_set_int(g, node(g, OP_Flatten, 1, &x, 1, &xf), "axis", 1);
    Node *n = node(g, OP_Conv, 2, (int[]){x, w}, 1, &r);
    node_set_ints(g, n, "kernel_shape", (int64_t[]){3, 3}, 2);
    node_set_ints(g, n, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    n->guard = gid1;
    int64_t st1[1] = {1}, en1[1] = {2}, st0[1] = {0}, ax[1] = {1}, shp[4] = {-1, 1, 1, 1};
    int cst1 = cnst(g, "st1", ty(DT_I64, 1, 1), st1), cen1 = cnst(g, "en1", ty(DT_I64, 1, 1), en1),
        cst0 = cnst(g, "st0", ty(DT_I64, 1, 1), st0), cax = cnst(g, "ax", ty(DT_I64, 1, 1), ax),
        cshp = cnst(g, "shp", ty(DT_I64, 1, 4), shp);
    node(g, OP_Slice, 4, (int[]){gate, cst1, cen1, cax}, 1, &g1)->guard = gid1;
    node(g, OP_Reshape, 2, (int[]){g1, cshp}, 1, &g1r)->guard = gid1;
    node(g, OP_Mul, 2, (int[]){r, g1r}, 1, &v1)->guard = gid1;
    node(g, OP_MatMul, 2, (int[]){xf, m}, 1, &mm)->guard = gid0;
    node(g, OP_Slice, 4, (int[]){gate, cst0, cst1, cax}, 1, &g0)->guard = gid0;
    node(g, OP_Mul, 2, (int[]){mm, g0}, 1, &v2)->guard = gid0;
    out(g, v1);
    out(g, v2);
    plan(g);
    gval(g, xf)->offset = -1; /* a view of the input */
    static const int64_t bs[] = {1, 1, 1, 1, 2, 5, 9};
    check(t, "guards around conv/matmul (per-instance path)", g, ref_guard2, 1e-5, 7, bs);
    graph_free(g);
}

/* 9. static batch model: x [2,5] -> y = exp(x); batch must be 2 */
static void ref_static(const Graph *g, int64_t b, void **in, void **out) {
    for (int i = 0; i < 10; i++) ((float *)out[0])[i] = expf(((float *)in[0])[i]);
}
static void t_static(T *t) {
    Graph *g = graph_new("static");
    int x = in(g, "x", ty(DT_F32, 2, 2, 5));
    int y = val(g, "y", ty(DT_F32, 2, 2, 5));
    node(g, OP_Exp, 1, &x, 1, &y);
    out(g, y);
    plan(g);
    static const int64_t b2[] = {1};
    check(t, "static batch", g, ref_static, 1e-6, 1, b2);
    Diag d;
    CodegenOptions o = opts("t");
    Jit *j = jit_compile(g, &o, &d);
    float xin[10] = {0}, yout[10];
    void *ws = aligned_alloc(64, 4096);
    const void *ins[1] = {xin};
    void *outs[1] = {yout};
    int bad = jit_run(j, 2, ins, outs, ws) == 1 && jit_run(j, 0, ins, outs, ws) == 1 &&
              jit_run(j, 1, ins, outs, (char *)ws + 8) == 1 && jit_run(j, 1, NULL, outs, ws) == 1 &&
              jit_run(j, 1, (const void *[]){NULL}, outs, ws) == 1 &&
              jit_run(j, 1, ins, outs, ws) == 0;
    printf("%s bad-argument checks\n", bad ? "ok  " : "FAIL");
    if (!bad) t->fails++;
    jit_free(j);
    free(ws);
    graph_free(g);
}

/* 10. output = input directly, and output = constant */
static const float pt_const[3] = {1, 2, 3};
static void ref_passthru(const Graph *g, int64_t b, void **in, void **out) {
    memcpy(out[0], in[0], sizeof(float) * 4 * b);
    memcpy(out[1], pt_const, sizeof pt_const);
    memcpy(out[2], in[0], sizeof(float) * 4 * b);
}
static void t_passthru(T *t) {
    Graph *g = graph_new("pt");
    int x = in(g, "x", ty(DT_F32, 2, N, 4));
    int c = cnst(g, "c", ty(DT_F32, 1, 3), pt_const);
    int f = val(g, "f", ty(DT_F32, 2, N, 4));
    node_set_int(g, node(g, OP_Flatten, 1, &x, 1, &f), "axis", 1);
    out(g, x);
    out(g, c);
    out(g, f);
    plan(g);
    gval(g, f)->offset = -1; /* a view of the input */
    CHECK("outputs from input, constant, view of input", g, ref_passthru, 0);
    graph_free(g);
}

/* 11. exp / sigmoid accuracy sweep against libm */
static void t_exp(T *t) {
    Graph *g = graph_new("exp");
    int K = 1 << 16;
    int x = in(g, "x", ty(DT_F32, 2, N, K));
    int y = val(g, "y", ty(DT_F32, 2, N, K)), s = val(g, "s", ty(DT_F32, 2, N, K));
    node_set_string(g, node(g, OP_Elementwise, 1, &x, 1, &y), "_code", "x0 Exp");
    node_set_string(g, node(g, OP_Elementwise, 1, &x, 1, &s), "_code", "x0 Sigmoid");
    out(g, y);
    out(g, s);
    plan(g);
    Diag d;
    CodegenOptions o = opts("t");
    Jit *j = jit_compile(g, &o, &d);
    float *xi = malloc(sizeof(float) * K), *yo = malloc(sizeof(float) * K),
          *so = malloc(sizeof(float) * K);
    for (int i = 0; i < K - 8; i++) xi[i] = -105.0f + 210.0f * i / (K - 8);
    float sp[8] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 88.72f, -87.3f, 1e-8f};
    memcpy(xi + K - 8, sp, sizeof sp);
    void *ws = aligned_alloc(64, jit_workspace_size(j, 1) + 64);
    const void *ins[1] = {xi};
    void *outs[2] = {yo, so};
    int rc = jit_run(j, 1, ins, outs, ws);
    double maxrel = 0, maxs = 0;
    int bad = 0;
    for (int i = 0; i < K; i++) {
        float r = expf(xi[i]), sr = 1 / (1 + expf(-xi[i]));
        if (isnan(r) != isnan(yo[i]))
            bad++;
        else if (isinf(r) || isinf(yo[i]))
            bad += r != yo[i] && !(r > 3.4e38f);
        else if (r >= 1.1754944e-38f)
            maxrel = fmax(maxrel, fabs(yo[i] - r) / r);
        else if (yo[i] > 1.2e-38f)
            bad++;
        if (!isnan(sr)) maxs = fmax(maxs, fabs(so[i] - sr));
    }
    int ok = rc == 0 && !bad && maxrel < 3e-7 && maxs < 2e-7;
    printf("%s exp sweep: max rel err %.3g (ulp ~ %.1f), sigmoid abs err %.3g, bad %d\n",
           ok ? "ok  " : "FAIL", maxrel, maxrel / 5.96e-8, maxs, bad);
    if (!ok) t->fails++;
    jit_free(j);
    free(ws), free(xi), free(yo), free(so);
    graph_free(g);
}

/* Object, header, LLVM IR and shared library of a small model; the library is loaded with
 * dlopen and run. */
typedef int (*RunV)(int64_t, const void *const *, void *const *, void *);
typedef size_t (*WsSize)(int64_t);
static void t_emit(T *t) {
    Graph *g = graph_new("emitmodel");
    int x = in(g, "input.1", ty(DT_F32, 2, N, 4));
    int y = val(g, "out", ty(DT_F32, 2, N, 4));
    Node *n = node(g, OP_Elementwise, 1, &x, 1, &y);
    node_set_string(g, n, "_code", "x0 Sigmoid x0 Mul");
    out(g, y);
    plan(g);
    Diag d = {0};
    CodegenOptions o = {"mdl", 3, "generic"};
    char obj[4096], hdr[4096], ll[4096], so[4096];
    snprintf(obj, sizeof obj, "%s/mdl.o", t->dir);
    snprintf(hdr, sizeof hdr, "%s/mdl.h", t->dir);
    snprintf(ll, sizeof ll, "%s/mdl.ll", t->dir);
    snprintf(so, sizeof so, "%s/libmdl.so", t->dir);
    int rc = codegen_emit_object(g, &o, obj, &d);
    if (!rc) rc = codegen_emit_header(g, &o, hdr, &d);
    if (!rc) rc = codegen_emit_llvm(g, &o, ll, &d);
    if (!rc) rc = codegen_emit_shared(g, &o, so, &d);
    double err = -1;
    if (!rc) {
        void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        RunV run = h ? (RunV)(uintptr_t)dlsym(h, "mdl_run_v") : NULL;
        WsSize wsz = h ? (WsSize)(uintptr_t)dlsym(h, "mdl_workspace_size") : NULL;
        if (!run || !wsz) {
            snprintf(d.msg, sizeof d.msg, "dlopen: %.900s", dlerror());
            rc = -1;
        } else {
            float xi[8], yo[8];
            for (int i = 0; i < 8; i++) xi[i] = (float)i - 3.5f;
            void *ws = aligned_alloc(64, (wsz(2) + 64) / 64 * 64);
            const void *ins[1] = {xi};
            void *outs[1] = {yo};
            rc = run(2, ins, outs, ws);
            err = 0;
            for (int i = 0; i < 8; i++) err = fmax(err, fabs(yo[i] - xi[i] / (1 + expf(-xi[i]))));
            if (rc) snprintf(d.msg, sizeof d.msg, "mdl_run_v returned %d", rc);
            free(ws);
        }
        if (h) dlclose(h);
    }
    bool ok = rc == 0 && err >= 0 && err < 1e-6;
    printf("%s object, header, IR and shared library (dlopen, run: err %g) %s\n",
           ok ? "ok  " : "FAIL", err, rc ? d.msg : "");
    if (!ok) t->fails++;
    graph_free(g);
}

/* A batch whose workspace does not fit (issue 9): x [N,3,4] -> Relu -> Neg. The workspace
 * size is SIZE_MAX and the run refuses the batch before touching any memory. */
static void t_bigbatch(T *t) {
    Graph *g = graph_new("big");
    int x = in(g, "x", ty(DT_F32, 3, N, 3, 4));
    int r = val(g, "r", ty(DT_F32, 3, N, 3, 4)), o = val(g, "o", ty(DT_F32, 3, N, 3, 4));
    node(g, OP_Relu, 1, &x, 1, &r);
    node(g, OP_Neg, 1, &r, 1, &o);
    out(g, o);
    plan(g);
    Diag d = {0};
    CodegenOptions co = opts("b");
    Jit *j = jit_compile(g, &co, &d);
    int ok = j != NULL;
    if (j) {
        size_t w1 = jit_workspace_size(j, 1), w40 = jit_workspace_size(j, (int64_t)1 << 40);
        ok &= w1 >= 48 && w1 < 1 << 20 && w40 != SIZE_MAX && w40 >= ((size_t)48 << 40);
        ok &= jit_workspace_size(j, (int64_t)1 << 60) == SIZE_MAX;
        ok &= jit_workspace_size(j, INT64_MAX) == SIZE_MAX;
        ok &= jit_workspace_size(j, 0) == 0;
        static float xin[12], yout[12];
        void *w = aligned_alloc(64, 1 << 20);
        const void *ins[1] = {xin};
        void *outs[1] = {yout};
        ok &= jit_run(j, (int64_t)1 << 60, ins, outs, w) == 1;
        ok &= jit_run(j, 1, ins, outs, w) == 0;
        free(w);
        jit_free(j);
    }
    printf("%s workspace size and run refuse a batch of 2^60 %s\n", ok ? "ok  " : "FAIL",
           j ? "" : d.msg);
    if (!ok) t->fails++;
    graph_free(g);
}

typedef struct Suite {
    const char *name;
    void (*fn)(T *);
} Suite;

static const Suite suites[] = {
    {"elementwise", t_ew1}, {"unary", t_unary},       {"binary", t_binary},
    {"conv", t_conv},       {"gemm", t_gemm},         {"pool", t_pool},
    {"move", t_move},       {"guard", t_guard},       {"guard_kernels", t_guard2},
    {"static", t_static},   {"passthru", t_passthru}, {"exp", t_exp},
    {"emit", t_emit},       {"bigbatch", t_bigbatch},
};

int main(int argc, char **argv) {
    const char *only = argc > 1 && strcmp(argv[1], "all") != 0 ? argv[1] : NULL;
    const char *dir = argc > 2 ? argv[2] : ".";
    int fails = 0, ran = 0;
    for (size_t i = 0; i < sizeof suites / sizeof *suites; i++) {
        if (only && strcmp(only, suites[i].name) != 0) continue;
        T t = {12345u + (uint32_t)i, 0, dir};
        suites[i].fn(&t);
        fails += t.fails;
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "unknown suite %s\n", only);
        return 2;
    }
    return fails != 0;
}
