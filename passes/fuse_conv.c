/* fuse_conv.c — Conv/Gemm epilogue fusion.
 * Requires: inferred types; BatchNormalization already folded (fold_bn). Guarantees: a Conv or
 * Gemm followed by, in this order and each optional,
 *   1. Add of a constant that broadcasts per channel (dim 1 of the output; a scalar too):
 *      merged into the bias (Conv input 2; Gemm input C, beta becomes 1);
 *   2. Add of another tensor of exactly the output's type (a residual, as in ResNet):
 *      becomes Conv input 3 with attribute _residual=1, or the C input of a Gemm that has
 *      none (beta becomes 1);
 *   3. an activation Relu, Clip (constant min/max; Clip-6 attributes), Sigmoid, HardSigmoid,
 *      HardSwish, LeakyRelu, Tanh, or Mul(y, Sigmoid(y)) (SiLU) or Mul(y, HardSigmoid(y))
 *      with alpha 1/6, beta 1/2 (HardSwish as PyTorch exports it before opset 14): attribute
 *      _act = "relu", "clip", "sigmoid", "hardsigmoid", "hardswish", "leakyrelu", "tanh",
 *      "silu" with parameters _act_a/_act_b (clip: min/max; hardsigmoid: alpha/beta;
 *      leakyrelu: alpha), as enum isbrt_act in runtime/isbrt.h
 * is one node, computing act(conv + bias + residual). A step applies only when the
 * intermediate has this one use (SiLU/HardSwish: these two), is not a graph output nor a
 * guard's gate/value nor named in the isb.branches annotation, and all nodes are in the same
 * guard. The fused node takes the place of the last node it absorbs, so every input (a
 * residual computed later than the Conv) is defined before it. */
#include "passes.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

typedef struct Ctx {
    Graph *g;
    int *uses;     /* use counts (graph_use_counts) */
    int *consumer; /* the last node reading the value (the only one when uses == 1) */
    int *first;    /* the first node reading it (the other one when uses == 2) */
    bool *pinned;  /* referenced by a guard or the annotation */
    Arena *tmp;    /* this pass's scratch */
} Ctx;

static const float *const_f32(const Graph *g, int v) {
    if (v < 0) return NULL;
    const Value *val = gval(g, v);
    if (!(val->flags & VAL_CONST) || !val->data || val->type.dtype != DT_F32 ||
        type_has_batch(&val->type))
        return NULL;
    return val->data;
}

/* A single-element f32 constant (Clip min/max); false otherwise. */
static bool const_scalar(const Graph *g, int v, float *out) {
    const float *p = const_f32(g, v);
    if (!p || type_numel(&gval(g, v)->type, 1) != 1) return false;
    *out = p[0];
    return true;
}

/* If constant c broadcasts against output type yt (rank >= 2) as a per-channel (dim 1) or
 * scalar vector, write the C = yt->dims[1] values to out and return true. */
static bool per_channel(const Graph *g, int c, const Type *yt, float *out) {
    const float *p = const_f32(g, c);
    if (!p) return false;
    const Type *ct = &gval(g, c)->type;
    if (ct->rank > yt->rank) return false;
    int64_t C = yt->dims[1];
    bool vec = false;
    for (int j = 0; j < ct->rank; j++) {
        int yd = j + yt->rank - ct->rank;
        if (ct->dims[j] == 1) continue;
        if (yd != 1 || ct->dims[j] != C) return false;
        vec = true;
    }
    for (int64_t i = 0; i < C; i++) out[i] = p[vec ? i : 0];
    return true;
}

/* Merge per-channel vector bv (C values) into the bias of node n; false if impossible. */
static bool merge_bias(Graph *g, Node *n, int64_t C, const float *bv, Arena *tmp) {
    int old = n->nin > 2 ? n->in[2] : -1;
    const float *od = NULL;
    int64_t on = 0;
    float beta = 1.0f;
    if (old >= 0) {
        const Type *ot = &gval(g, old)->type;
        od = const_f32(g, old);
        on = od ? type_numel(ot, 1) : 0;
        /* Conv B is [C]; Gemm C must be per column ([], [1], [C], [1,C]) to stay a vector. */
        if (!od || !(on == 1 || (on == C && ot->dims[ot->rank - 1] == C))) return false;
        if (n->op == OP_Gemm) beta = attr_num(n, "beta");
    }
    float *nb = arena_alloc(tmp, sizeof(float) * (size_t)C);
    for (int64_t i = 0; i < C; i++) nb[i] = (od ? beta * od[on == 1 ? 0 : i] : 0.0f) + bv[i];
    char name[512];
    snprintf(name, sizeof name, "%s.bias", gval(g, n->out[0])->name);
    node_set_input(g, n, 2, graph_add_const(g, name, type_make(DT_F32, 1, &C), nb));
    if (n->op == OP_Gemm && old >= 0) node_set_float(g, n, "beta", 1.0f);
    return true;
}

/* Move node `from` into the slot of `to` (which it absorbs); return the new slot. */
static int move_into(Ctx *x, int from, int to) {
    Graph *g = x->g;
    Node moved = *gnode(g, from);
    int y = moved.out[0], z = gnode(g, to)->out[0];
    moved.out = graph_alloc(g, sizeof(int));
    moved.out[0] = z;
    *gnode(g, to) = moved;
    gnode(g, from)->dead = true;
    gval(g, z)->def = to;
    gval(g, y)->def = -1;
    return to;
}

/* The activation node u as _act attributes on n (its name: ops.def's act column); false if u
 * is not a fusable activation. */
static bool set_act(Graph *g, Node *n, const Node *u) {
    float a = 0, b = 0;
    const char *act = op_info(u->op)->act;
    if (!act) return false;
    switch (u->op) {
    case OP_LeakyRelu: a = attr_num(u, "alpha"); break;
    case OP_HardSigmoid:
        a = attr_num(u, "alpha");
        b = attr_num(u, "beta");
        break;
    case OP_Clip:
        /* Clip-11+: optional inputs min, max; Clip-6: attributes (default lowest/max). */
        a = attr_float(u, "min", -FLT_MAX);
        b = attr_float(u, "max", FLT_MAX);
        if (u->nin > 1 && u->in[1] >= 0 && !const_scalar(g, u->in[1], &a)) return false;
        if (u->nin > 2 && u->in[2] >= 0 && !const_scalar(g, u->in[2], &b)) return false;
        break;
    default: break;
    }
    node_set_string(g, n, "_act", act);
    if (u->op == OP_LeakyRelu || u->op == OP_HardSigmoid || u->op == OP_Clip) {
        node_set_float(g, n, "_act_a", a);
        node_set_float(g, n, "_act_b", b);
    }
    return true;
}

/* y = n's output read by exactly s = Sigmoid(y) (or HardSigmoid(y), alpha 1/6, beta 1/2) and
 * m = Mul(y, s): SiLU (or HardSwish as exported before HardSwish-14). Returns m or -1. */
static int gated_act(Ctx *x, const Node *n, int y, const char **act) {
    Graph *g = x->g;
    int a = x->first[y], b = x->consumer[y];
    if (x->uses[y] != 2 || a < 0 || a == b) return -1;
    const Node *s = gnode(g, a), *m = gnode(g, b);
    if (s->op == OP_Mul) {
        const Node *t = s;
        s = m;
        m = t;
    }
    if (m->op != OP_Mul || s->in[0] != y || s->nout != 1 || s->guard != n->guard ||
        m->guard != n->guard)
        return -1;
    int sv = s->out[0];
    if (!((m->in[0] == y && m->in[1] == sv) || (m->in[1] == y && m->in[0] == sv)) ||
        x->uses[sv] != 1 || (gval(g, sv)->flags & VAL_OUTPUT) || x->pinned[sv])
        return -1;
    if (s->op == OP_Sigmoid)
        *act = "silu";
    else if (s->op == OP_HardSigmoid && attr_num(s, "alpha") == (float)(1.0 / 6.0) &&
             attr_num(s, "beta") == 0.5f)
        *act = "hardswish";
    else
        return -1;
    return m == gnode(g, b) ? b : a;
}

static void fuse_from(Ctx *x, int cur) {
    Graph *g = x->g;
    for (;;) {
        Node *n = gnode(g, cur);
        int y = n->out[0];
        if (node_attr(n, "_act") || (gval(g, y)->flags & VAL_OUTPUT) || x->pinned[y]) return;
        const char *act;
        int m = gval(g, y)->type.dtype == DT_F32 ? gated_act(x, n, y, &act) : -1;
        if (m >= 0) {
            int s = gnode(g, m)->in[0] == y ? gnode(g, m)->in[1] : gnode(g, m)->in[0];
            gnode(g, gval(g, s)->def)->dead = true;
            gval(g, s)->def = -1;
            node_set_string(g, gnode(g, cur), "_act", act);
            move_into(x, cur, m);
            return;
        }
        if (x->uses[y] != 1) return;
        int k = x->consumer[y];
        Node *u = gnode(g, k);
        if (u->guard != n->guard || u->dead) return;
        const Type *yt = &gval(g, y)->type;
        if (u->op == OP_Add && yt->rank >= 2 && yt->dtype == DT_F32) {
            int other = u->in[0] == y ? u->in[1] : u->in[0];
            int64_t C = yt->dims[1];
            float *bv = arena_alloc(x->tmp, sizeof(float) * (size_t)(C > 0 ? C : 1));
            bool ok = C > 0 && per_channel(g, other, yt, bv) && merge_bias(g, n, C, bv, x->tmp);
            if (ok) {
                cur = move_into(x, cur, k);
                continue;
            }
            if (n->op == OP_Conv && !node_attr(n, "_residual") &&
                type_equal(&gval(g, other)->type, yt)) {
                node_set_input(g, n, 3, other);
                node_set_int(g, n, "_residual", 1);
                cur = move_into(x, cur, k);
                continue;
            }
            if (n->op == OP_Gemm && (n->nin < 3 || n->in[2] < 0) &&
                type_equal(&gval(g, other)->type, yt)) {
                /* ONNX Gemm: Y = alpha*A*B + beta*C, C of the output's shape */
                node_set_input(g, n, 2, other);
                node_set_float(g, n, "beta", 1.0f);
                cur = move_into(x, cur, k);
                continue;
            }
            return;
        }
        if (u->in[0] != y || yt->dtype != DT_F32 || !set_act(g, n, u)) return;
        move_into(x, cur, k);
        return;
    }
}

int pass_fuse_conv(Graph *g, Diag *d) {
    Ctx x = {.g = g, .uses = graph_use_counts(g), .tmp = arena_new()};
    x.consumer = arena_alloc(x.tmp, sizeof(int) * ((size_t)g->nval + 1));
    x.first = arena_alloc(x.tmp, sizeof(int) * ((size_t)g->nval + 1));
    x.pinned = arena_alloc(x.tmp, sizeof(bool) * ((size_t)g->nval + 1));
    for (int v = 0; v < g->nval; v++) x.consumer[v] = x.first[v] = -1;
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0) {
                if (x.first[n->in[k]] < 0) x.first[n->in[k]] = i;
                x.consumer[n->in[k]] = i;
            }
    }
    graph_pin_guards(g, x.pinned);
    annot_pin_values(g, x.pinned);
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = gnode(g, i);
        if (!n->dead && (n->op == OP_Conv || n->op == OP_Gemm) && n->nout == 1) fuse_from(&x, i);
    }
    free(x.uses);
    arena_free(x.tmp);
    return graph_compact(g, d);
}
