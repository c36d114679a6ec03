/* fold_bn.c — BatchNormalization (inference form, ONNX BatchNormalization-9/14/15) folded away.
 * Requires: inferred types (and pass fold, so constant parameters are constants). Guarantees: no
 * BatchNormalization node remains, so no BN kernel is needed. With s = scale/sqrt(var+eps)
 * and t = B - mean*s (per channel, dim 1 of X):
 *  - X produced only by a Conv with constant weight (and bias, if any): W'[c] = W[c]*s[c],
 *    b'[c] = b[c]*s[c] + t[c] (the bias is created if absent);
 *  - X produced only by a Gemm (Y = alpha*A*op(B) + beta*C, channel = column) with constant B
 *    and a constant per-column or absent C: column c of op(B) is scaled by s[c] (a row of B
 *    when transB), C' = beta*C*s + t and beta becomes 1;
 *  - any other BN becomes Mul(X, s) then Add(., t) with constant [C,1,..,1] operands;
 *  - a BN whose parameters are not all constant becomes (X - mean) * (scale /
 *    sqrt(var + epsilon)) + B on its parameters reshaped to [C,1,..,1] (fuse_elementwise then
 *    makes two Elementwise nodes of it).
 * ("Only": X has no other reader and is not a graph output, a guard's gate/value, nor named
 * in the isb.branches annotation.)
 * Old weights are left unused for dce. Errors: training mode, parameters that are not
 * f32[C] ("unsupported: BatchNormalization (opset N) ... at node 'x'"). */
#include "passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The payload of v if it is an f32 constant with data, else NULL. */
static const float *const_f32(const Graph *g, int v) {
    if (v < 0) return NULL;
    const Value *val = gval(g, v);
    if (!(val->flags & VAL_CONST) || !val->data || val->type.dtype != DT_F32 ||
        type_has_batch(&val->type))
        return NULL;
    return val->data;
}

/* A new constant named after value `base`: "<base>.<suffix>". */
static int add_const(Graph *g, int base, const char *suffix, Type t, const float *data) {
    char name[512];
    snprintf(name, sizeof name, "%s.%s", gval(g, base)->name, suffix);
    return graph_add_const(g, name, t, data);
}

/* The BN node bn (output y) is absorbed by producer p: p now defines y. */
static void absorb(Graph *g, int p, int bn) {
    Node *pn = gnode(g, p), *bnn = gnode(g, bn);
    int x = pn->out[0], y = bnn->out[0];
    pn->out[0] = y;
    gval(g, y)->def = p;
    gval(g, x)->def = -1;
    for (int k = 1; k < bnn->nout; k++) gval(g, bnn->out[k])->def = -1;
    bnn->dead = true;
}

static bool fold_conv(Graph *g, int p, int bn, int64_t C, const float *s, const float *t,
                      Arena *tmp) {
    Node *n = gnode(g, p);
    if (node_attr(n, "_act") || node_attr(n, "_residual")) return false;
    int w = n->in[1], b = n->nin > 2 ? n->in[2] : -1;
    const float *wd = const_f32(g, w), *bd = b >= 0 ? const_f32(g, b) : NULL;
    const Type *wt = &gval(g, w)->type;
    if (!wd || wt->rank < 1 || wt->dims[0] != C || (b >= 0 && !bd) ||
        (b >= 0 && type_numel(&gval(g, b)->type, 1) != C))
        return false;
    int64_t numel = type_numel(wt, 1), per = numel / C;
    float *nw = arena_alloc(tmp, sizeof(float) * (size_t)numel);
    float *nb = arena_alloc(tmp, sizeof(float) * (size_t)C);
    for (int64_t c = 0; c < C; c++) {
        for (int64_t i = 0; i < per; i++) nw[c * per + i] = wd[c * per + i] * s[c];
        nb[c] = (bd ? bd[c] : 0.0f) * s[c] + t[c];
    }
    int y = gnode(g, bn)->out[0];
    int nwv = add_const(g, y, "weight", *wt, nw);
    int nbv = add_const(g, y, "bias", type_make(DT_F32, 1, &C), nb);
    node_set_input(g, gnode(g, p), 1, nwv);
    node_set_input(g, gnode(g, p), 2, nbv);
    absorb(g, p, bn);
    return true;
}

static bool fold_gemm(Graph *g, int p, int bn, int64_t C, const float *s, const float *t,
                      Arena *tmp) {
    Node *n = gnode(g, p);
    if (node_attr(n, "_act")) return false;
    int bw = n->in[1], cv = n->nin > 2 ? n->in[2] : -1;
    const float *bd = const_f32(g, bw), *cd = cv >= 0 ? const_f32(g, cv) : NULL;
    const Type *bt = &gval(g, bw)->type;
    if (!bd || bt->rank != 2 || (cv >= 0 && !cd)) return false;
    bool transb = attr_int(n, "transB", 0) != 0;
    int64_t K = transb ? bt->dims[1] : bt->dims[0];
    if ((transb ? bt->dims[0] : bt->dims[1]) != C) return false;
    /* C must broadcast per column: [], [1], [C], [1,C], [1,1] (ONNX Gemm-13 unidirectional). */
    int64_t cn = 0;
    if (cv >= 0) {
        const Type *ct = &gval(g, cv)->type;
        cn = type_numel(ct, 1);
        if (!(cn == 1 || (cn == C && ct->dims[ct->rank - 1] == C))) return false;
    }
    float beta = attr_num(n, "beta");
    float *nw = arena_alloc(tmp, sizeof(float) * (size_t)(K * C));
    float *nc = arena_alloc(tmp, sizeof(float) * (size_t)C);
    for (int64_t k = 0; k < K; k++)
        for (int64_t c = 0; c < C; c++) {
            int64_t i = transb ? c * K + k : k * C + c;
            nw[i] = bd[i] * s[c];
        }
    for (int64_t c = 0; c < C; c++)
        nc[c] = (cv >= 0 ? beta * cd[cn == 1 ? 0 : c] : 0.0f) * s[c] + t[c];
    int y = gnode(g, bn)->out[0];
    int nwv = add_const(g, y, "weight", *bt, nw);
    int ncv = add_const(g, y, "bias", type_make(DT_F32, 1, &C), nc);
    node_set_input(g, gnode(g, p), 1, nwv);
    node_set_input(g, gnode(g, p), 2, ncv);
    if (cv >= 0) node_set_float(g, gnode(g, p), "beta", 1.0f);
    absorb(g, p, bn);
    return true;
}

/* A new node op(ins) computing a fresh value of type t ("<y>.<suffix>", y the BN output), in
 * the BN's guard; appended to the node list (pass_fold_bn moves it before the BN). */
static int add_before(Graph *g, int bn, int op, const char *suffix, int nin, const int *ins,
                      Type t) {
    char name[512];
    snprintf(name, sizeof name, "%s.%s", gval(g, gnode(g, bn)->out[0])->name, suffix);
    int v = graph_add_value(g, name, t);
    const char *bname = gnode(g, bn)->name;
    snprintf(name, sizeof name, "%s%s%s", bname, *bname ? "." : "", *bname ? suffix : "");
    int id = graph_add_node(g, op, name, nin, ins, 1, &v);
    gnode(g, id)->guard = gnode(g, bn)->guard;
    return v;
}

/* The BN node itself becomes the final Add(a, b), keeping its output, name and place. */
static void become_add(Graph *g, int bn, int a, int b) {
    Node *n = gnode(g, bn);
    for (int k = 1; k < n->nout; k++) gval(g, n->out[k])->def = -1;
    n->op = OP_Add;
    n->nin = 2;
    n->in[0] = a;
    n->in[1] = b;
    n->nout = 1;
    n->nattr = 0;
    n->attrs = NULL;
}

/* The [C,1,..,1] type that broadcasts per channel against x (rank >= 2). */
static Type channel_type(const Type *xt, int64_t C) {
    int64_t dims[IR_MAX_RANK];
    dims[0] = C;
    for (int i = 1; i < xt->rank - 1; i++) dims[i] = 1;
    return type_make(DT_F32, xt->rank - 1, dims);
}

/* Rewrite BN node bn as Mul(X, s) + t with constant s and t. */
static void to_mul_add(Graph *g, int bn, int64_t C, const float *s, const float *t) {
    int x = gnode(g, bn)->in[0], y = gnode(g, bn)->out[0];
    Type xt = gval(g, x)->type, pt = channel_type(&xt, C);
    int sv = add_const(g, y, "scale", pt, s);
    int tv = add_const(g, y, "shift", pt, t);
    int m = add_before(g, bn, OP_Mul, "mul", 2, (int[]){x, sv}, xt);
    become_add(g, bn, m, tv);
}

/* Rewrite BN node bn, whose parameters are not all constant, as elementwise ops on its
 * parameters reshaped to [C,1,..,1]: (X - mean) * (scale / sqrt(var + epsilon)) + B. */
static void to_runtime(Graph *g, int bn, int64_t C, float eps) {
    int x = gnode(g, bn)->in[0], y = gnode(g, bn)->out[0], p[4];
    Type xt = gval(g, x)->type, pt = channel_type(&xt, C);
    static const char *names[4] = {"scale_c", "bias_c", "mean_c", "var_c"};
    for (int k = 0; k < 4; k++) p[k] = gnode(g, bn)->in[k + 1];
    if (xt.rank > 2) {
        int64_t shape[IR_MAX_RANK], r = pt.rank;
        for (int i = 0; i < pt.rank; i++) shape[i] = pt.dims[i];
        char name[512];
        snprintf(name, sizeof name, "%s.shape", gval(g, y)->name);
        int sh = graph_add_const(g, name, type_make(DT_I64, 1, &r), shape);
        for (int k = 0; k < 4; k++)
            p[k] = add_before(g, bn, OP_Reshape, names[k], 2, (int[]){p[k], sh}, pt);
    }
    int ev = add_const(g, y, "epsilon", type_make(DT_F32, 0, NULL), &eps);
    int v = add_before(g, bn, OP_Add, "var_eps", 2, (int[]){p[3], ev}, pt);
    v = add_before(g, bn, OP_Sqrt, "std", 1, &v, pt);
    v = add_before(g, bn, OP_Div, "scale", 2, (int[]){p[0], v}, pt);
    int c = add_before(g, bn, OP_Sub, "centered", 2, (int[]){x, p[2]}, xt);
    c = add_before(g, bn, OP_Mul, "mul", 2, (int[]){c, v}, xt);
    become_add(g, bn, c, p[1]);
}

static int fold_one(Graph *g, int bn, const int *uses, const bool *pinned, Arena *tmp, Diag *d) {
    const Node *n = gnode(g, bn);
    char lbl[256];
    node_label(g, bn, lbl, sizeof lbl);
    if (attr_int(n, "training_mode", 0) != 0)
        return diag(d, "unsupported: BatchNormalization (opset %d) training_mode=1 at node '%s'",
                    g->opset, lbl);
    for (int k = 1; k < n->nout; k++)
        if (uses[n->out[k]])
            return diag(d,
                        "unsupported: BatchNormalization (opset %d) training outputs at node '%s'",
                        g->opset, lbl);
    int x = n->in[0];
    const Type *xt = &gval(g, x)->type;
    if (xt->dtype != DT_F32 || xt->rank < 2 || xt->dims[1] < 0)
        return diag(d, "unsupported: BatchNormalization (opset %d) on %s input at node '%s'",
                    g->opset, dtype_name(xt->dtype), lbl);
    int64_t C = xt->dims[1];
    const float *p[4];
    bool all_const = true;
    for (int k = 0; k < 4; k++) {
        const Type *pt = &gval(g, n->in[k + 1])->type;
        if (pt->dtype != DT_F32 || !type_known(pt) || type_has_batch(pt) ||
            type_numel(pt, 1) != C ||
            (pt->rank != 1 && !(gval(g, n->in[k + 1])->flags & VAL_CONST)))
            return diag(d,
                        "unsupported: BatchNormalization (opset %d) with parameters that are not "
                        "f32[%lld] at node '%s'",
                        g->opset, (long long)C, lbl);
        p[k] = const_f32(g, n->in[k + 1]);
        all_const &= p[k] != NULL;
    }
    float eps = attr_num(n, "epsilon");
    if (!all_const) {
        to_runtime(g, bn, C, eps);
        return 0;
    }
    float *s = arena_alloc(tmp, sizeof(float) * (size_t)C);
    float *t = arena_alloc(tmp, sizeof(float) * (size_t)C);
    for (int64_t c = 0; c < C; c++) {
        double sc = (double)p[0][c] / sqrt((double)p[3][c] + (double)eps);
        s[c] = (float)sc;
        t[c] = (float)((double)p[1][c] - (double)p[2][c] * sc);
    }
    int pr = gval(g, x)->def;
    bool done = false;
    if (pr >= 0 && uses[x] == 1 && !(gval(g, x)->flags & VAL_OUTPUT) && !pinned[x] &&
        gnode(g, pr)->guard == n->guard && gnode(g, pr)->out[0] == x) {
        if (gnode(g, pr)->op == OP_Conv)
            done = fold_conv(g, pr, bn, C, s, t, tmp);
        else if (gnode(g, pr)->op == OP_Gemm && xt->rank == 2)
            done = fold_gemm(g, pr, bn, C, s, t, tmp);
    }
    if (!done) to_mul_add(g, bn, C, s, t);
    return 0;
}

int pass_fold_bn(Graph *g, Diag *d) {
    int nold = g->nnode;
    Arena *tmp = arena_new(); /* this pass's scratch */
    int *uses = graph_use_counts(g);
    bool *pinned = arena_alloc(tmp, (size_t)g->nval + 1);
    graph_pin_guards(g, pinned);
    annot_pin_values(g, pinned);
    /* before[j] = the BN that new node nold + j must precede */
    int *before = NULL, cap = 0, rc = 0;
    for (int i = 0; i < nold && rc == 0; i++) {
        if (gnode(g, i)->dead || gnode(g, i)->op != OP_BatchNormalization) continue;
        int first = g->nnode;
        rc = fold_one(g, i, uses, pinned, tmp, d);
        if (g->nnode - nold > cap) {
            cap = 2 * (g->nnode - nold) + 16;
            before = realloc(before, sizeof(int) * (size_t)cap);
            if (!before) abort();
        }
        for (int j = first; j < g->nnode; j++) before[j - nold] = i;
    }
    free(uses);
    arena_free(tmp);
    if (rc == 0 && g->nnode > nold) {
        /* Put the new nodes right before their BN, keeping every other node's place. */
        int nnew = g->nnode - nold;
        Node *nodes = graph_alloc(g, sizeof(Node) * (size_t)g->nnode);
        int k = 0, j = 0;
        for (int i = 0; i < nold; i++) {
            for (; j < nnew && before[j] == i; j++) nodes[k++] = g->nodes[nold + j];
            nodes[k++] = g->nodes[i];
        }
        g->nodes = nodes;
        g->capnode = g->nnode;
        for (int i = 0; i < g->nnode; i++)
            if (!nodes[i].dead)
                for (int o = 0; o < nodes[i].nout; o++) gval(g, nodes[i].out[o])->def = i;
    }
    free(before);
    if (rc) return rc;
    return graph_compact(g, d);
}
