/* normalize.c — old opset forms into the newest form, so later passes see one form of each op.
 * Requires: a node just imported at g->opset (1-21), attributes copied (including the legacy
 * attributes normalize_legacy_attr accepted), inputs as in the file.
 * Guarantees: attributes that later opsets turned into inputs are constant inputs (int64 1-D
 * for axes/pads/starts/ends/split/shape, scalars for values), and those attributes are gone;
 * attributes of opsets < 7 that carry no meaning for inference (consumed_inputs, is_test=1,
 * broadcast) are gone; an old broadcast rule (Add-6 `axis`, PRelu-6 per-channel slope) is
 * made numpy broadcasting by an Unsqueeze node inserted after the node (the importer restores
 * execution order). An old attribute met at an opset where it no longer exists, or with a
 * meaning isbc does not compute (is_test=0: training), is an unsupported attribute. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Remove attribute `name` from n, returning it in *out (its payload stays in the arena). */
static bool take_attr(Node *n, const char *name, Attr *out) {
    for (int i = 0; i < n->nattr; i++) {
        if (strcmp(n->attrs[i].name, name) != 0) continue;
        *out = n->attrs[i];
        memmove(&n->attrs[i], &n->attrs[i + 1], (size_t)(n->nattr - i - 1) * sizeof(Attr));
        n->nattr--;
        return true;
    }
    return false;
}

/* Replace n's inputs by in[0..nin), dropping trailing absent (-1) inputs. */
static void set_inputs(Graph *g, Node *n, int nin, const int *in) {
    while (nin > 1 && in[nin - 1] < 0) nin--;
    int *a = graph_alloc(g, (size_t)nin * sizeof(int));
    memcpy(a, in, (size_t)nin * sizeof(int));
    n->in = a;
    n->nin = nin;
}

/* A constant named after the node's first output, e.g. "y_axes". */
static int add_const(Graph *g, const Node *n, const char *suffix, Type t, const void *data) {
    const char *base = gval(g, n->out[0])->name;
    size_t len = strlen(base) + strlen(suffix) + 2;
    char *name = graph_alloc(g, len);
    snprintf(name, len, "%s_%s", base, suffix);
    return graph_add_const(g, name, t, data);
}

static int ints_const(Graph *g, const Node *n, const Attr *a) {
    int64_t len = a->n;
    return add_const(g, n, a->name, type_make(DT_I64, 1, &len), a->ints);
}

/* A scalar of the data input's dtype when that is known to be f64, else f32 (the old forms
 * of Clip, Pad and Dropout are float ops). */
static int float_const(Graph *g, const Node *n, const char *suffix, double v) {
    int dt = n->in[0] >= 0 && gval(g, n->in[0])->type.dtype == DT_F64 ? DT_F64 : DT_F32;
    float f = (float)v;
    return add_const(g, n, suffix, type_make(dt, 0, NULL), dt == DT_F64 ? (void *)&v : &f);
}

typedef struct Ctx {
    Graph *g;
    int node;
    Diag *d;
} Ctx;

static const char *label(const Ctx *c, char *buf, size_t len) {
    return node_label(c->g, c->node, buf, len);
}

/* The old form has exactly one (data) input. */
static int want_one_input(const Ctx *c, const Node *n) {
    char buf[256];
    if (n->nin == 1) return 0;
    return diag(c->d, "%s (opset %d) at node '%s': expected 1 input, got %d", op_info(n->op)->name,
                c->g->opset, label(c, buf, sizeof buf), n->nin);
}

static int missing(const Ctx *c, const Node *n, const char *attr) {
    char buf[256];
    return diag(c->d, "%s (opset %d) at node '%s': missing attribute '%s'", op_info(n->op)->name,
                c->g->opset, label(c, buf, sizeof buf), attr);
}

/* Attributes that only exist before opset `since`: at a later opset they are unsupported. */
static int reject_after(const Ctx *c, const Node *n, int since, const char *const *attrs) {
    char buf[256];
    if (c->g->opset < since) return 0;
    for (; *attrs; attrs++)
        if (node_attr(n, *attrs))
            return diag(c->d, "unsupported: %s attribute '%s' (opset %d) at node '%s'",
                        op_info(n->op)->name, *attrs, c->g->opset, label(c, buf, sizeof buf));
    return 0;
}

/* Move the ints attribute `attr` (if present) to input 1 (Split-13, Squeeze-13,
 * Unsqueeze-13, ReduceSum-13, Reduce{Mean,Max,Min,Prod,L1,L2,SumSquare,LogSum,LogSumExp}-18). */
static int axes_to_input(const Ctx *c, Node *n, const char *attr, int since, bool required) {
    const char *names[] = {attr, NULL};
    if (c->g->opset >= since) return reject_after(c, n, since, names);
    if (n->op == OP_Split && c->g->opset < 2 && n->nin == 2 && !node_attr(n, attr))
        return 0; /* Split-1: `split` given as input 1 */
    if (want_one_input(c, n) < 0) return -1;
    Attr a;
    if (!take_attr(n, attr, &a)) return required ? missing(c, n, attr) : 0;
    int in[2] = {n->in[0], ints_const(c->g, n, &a)};
    set_inputs(c->g, n, 2, in);
    return 0;
}

/* ---- opsets < 7 ------------------------------------------------------------------------ */

/* Rank of value v. When the model declares no type for it, the shape rules of the nodes
 * imported so far are run (their types are set again by shape inference later);
 * IR_RANK_UNKNOWN when that does not settle it. */
static int rank_of(const Ctx *c, int v) {
    Graph *g = c->g;
    if (gval(g, v)->type.rank != IR_RANK_UNKNOWN) return gval(g, v)->type.rank;
    for (int i = 0; i < c->node; i++) {
        const Node *m = gnode(g, i);
        bool open = false;
        for (int k = 0; k < m->nout; k++) open |= !type_known(&gval(g, m->out[k])->type);
        if (open) infer_node(g, i, NULL);
    }
    return gval(g, v)->type.rank;
}

/* Input k of the node becomes Unsqueeze-13(input k, axes [first, first+count)), a node
 * appended after it. */
static void unsqueeze_input(const Ctx *c, int k, int first, int count) {
    Graph *g = c->g;
    int64_t axes[IR_MAX_RANK], len = count;
    for (int i = 0; i < count; i++) axes[i] = first + i;
    const Node *n = gnode(g, c->node);
    const char *src = gval(g, n->in[k])->name;
    char name[300];
    snprintf(name, sizeof name, "%s_bcast", src);
    int in[2] = {n->in[k], add_const(g, n, "bcast_axes", type_make(DT_I64, 1, &len), axes)};
    Type t = type_make(DT_UNDEF, 0, NULL);
    t.rank = IR_RANK_UNKNOWN;
    int out = graph_add_value(g, name, t);
    graph_add_node(g, OP_Unsqueeze, name, 2, in, 1, &out);
    node_set_input(g, gnode(g, c->node), k, out);
}

static int unknown_rank(const Ctx *c, const Node *n, const char *what) {
    char buf[256];
    return diag(c->d,
                "unsupported: %s %s (opset %d) at node '%s': the rank of an input is not known "
                "at import (declare it in the model's value_info)",
                op_info(n->op)->name, what, c->g->opset, label(c, buf, sizeof buf));
}

/* Add-1/6 (and Sub, Mul, Div, Pow, Equal, Less, Greater, And, Or, Xor before opset 7):
 * `broadcast`=1 lets B broadcast to A, aligned to the trailing dims of A (numpy's rule) or,
 * with `axis`, to dims [axis, axis + rank(B)) of A. The axis form becomes numpy broadcasting
 * by appending rank(A) - axis - rank(B) unit dims to B. broadcast=0 requires equal shapes,
 * which numpy broadcasting computes the same way. */
static int old_broadcast(const Ctx *c) {
    Node *n = gnode(c->g, c->node);
    char buf[256];
    Attr a, ax;
    bool bc = take_attr(n, "broadcast", &a) && a.i != 0;
    bool has_axis = take_attr(n, "axis", &ax);
    if (!bc || !has_axis || n->nin != 2) return 0;
    int ra = rank_of(c, n->in[0]), rb = rank_of(c, n->in[1]);
    if (ra == IR_RANK_UNKNOWN || rb == IR_RANK_UNKNOWN) return unknown_rank(c, n, "broadcast axis");
    int64_t axis = ax.i < 0 ? ax.i + ra : ax.i;
    if (axis < 0 || axis + rb > ra)
        return diag(
            c->d, "%s (opset %d) at node '%s': broadcast axis %lld does not fit ranks %d and %d",
            op_info(n->op)->name, c->g->opset, label(c, buf, sizeof buf), (long long)ax.i, ra, rb);
    if (ra - axis - rb > 0) unsqueeze_input(c, 1, rb, (int)(ra - axis - rb));
    return 0;
}

/* PRelu-1/6: a 1-D slope of more than one element is per channel (dim 1 of X); PRelu-7
 * broadcasts numpy-style, so the slope gets rank(X) - 2 trailing unit dims. */
static int old_prelu(const Ctx *c) {
    const Node *n = gnode(c->g, c->node);
    if (n->nin != 2) return 0;
    const Type *st = &gval(c->g, n->in[1])->type;
    if (st->rank == 1 && st->dims[0] == 1) return 0;
    int rs = rank_of(c, n->in[1]);
    if (rs != 1) return rs == IR_RANK_UNKNOWN ? unknown_rank(c, n, "slope") : 0;
    int rx = rank_of(c, n->in[0]);
    if (rx == IR_RANK_UNKNOWN) return unknown_rank(c, n, "slope");
    if (rx > 2) unsqueeze_input(c, 1, 1, rx - 2);
    return 0;
}

/* BatchNormalization-1/6 and Dropout-1/6: is_test=0 (the default) is training mode. */
static int want_test_mode(const Ctx *c, Node *n) {
    char buf[256];
    Attr a;
    if (take_attr(n, "is_test", &a) && a.i != 0) return 0;
    return diag(c->d,
                "unsupported: %s attribute 'is_test'=0 (opset %d) at node '%s': training mode",
                op_info(n->op)->name, c->g->opset, label(c, buf, sizeof buf));
}

/* Cast-1: `to` is a string naming the TensorProto data type; Cast-6 takes its number. */
static int old_cast(const Ctx *c, Node *n) {
    static const char *const names[] = {"UNDEFINED", "FLOAT",  "UINT8",  "INT8",   "UINT16",
                                        "INT16",     "INT32",  "INT64",  "STRING", "BOOL",
                                        "FLOAT16",   "DOUBLE", "UINT32", "UINT64"};
    char buf[256];
    const Attr *a = node_attr(n, "to");
    if (!a || a->kind != ATTR_STRING) return 0;
    for (int i = 1; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(a->s, names[i])) {
            node_set_int(c->g, n, "to", i);
            return 0;
        }
    return diag(c->d, "unsupported: Cast to '%s' (opset %d) at node '%s'", a->s, c->g->opset,
                label(c, buf, sizeof buf));
}

/* Attributes of opsets < 7 that no newer version of the op has; the importer accepts them
 * (normalize_legacy_attr) and normalize_node removes them. */
typedef struct Legacy {
    int op; /* -1: any op */
    const char *name;
    int kind;
    int until; /* first opset without the attribute */
} Legacy;

static const Legacy legacy[] = {
    {-1, "consumed_inputs", ATTR_INTS, 6}, /* a memory-reuse hint of version-1 ops */
    {OP_Add, "broadcast", ATTR_INT, 7},     {OP_Add, "axis", ATTR_INT, 7},
    {OP_Sub, "broadcast", ATTR_INT, 7},     {OP_Sub, "axis", ATTR_INT, 7},
    {OP_Mul, "broadcast", ATTR_INT, 7},     {OP_Mul, "axis", ATTR_INT, 7},
    {OP_Div, "broadcast", ATTR_INT, 7},     {OP_Div, "axis", ATTR_INT, 7},
    {OP_Pow, "broadcast", ATTR_INT, 7},     {OP_Pow, "axis", ATTR_INT, 7},
    {OP_Equal, "broadcast", ATTR_INT, 7},   {OP_Equal, "axis", ATTR_INT, 7},
    {OP_Less, "broadcast", ATTR_INT, 7},    {OP_Less, "axis", ATTR_INT, 7},
    {OP_Greater, "broadcast", ATTR_INT, 7}, {OP_Greater, "axis", ATTR_INT, 7},
    {OP_And, "broadcast", ATTR_INT, 7},     {OP_And, "axis", ATTR_INT, 7},
    {OP_Or, "broadcast", ATTR_INT, 7},      {OP_Or, "axis", ATTR_INT, 7},
    {OP_Xor, "broadcast", ATTR_INT, 7},     {OP_Xor, "axis", ATTR_INT, 7},
    {OP_Gemm, "broadcast", ATTR_INT, 7},    {OP_BatchNormalization, "is_test", ATTR_INT, 7},
    {OP_Dropout, "is_test", ATTR_INT, 7},   {OP_Reshape, "shape", ATTR_INTS, 5},
    {OP_Pad, "paddings", ATTR_INTS, 2},     {OP_Cast, "to", ATTR_STRING, 6},
};

bool normalize_legacy_attr(int op, const char *name, int kind, int opset) {
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++)
        if ((legacy[i].op < 0 || legacy[i].op == op) && !strcmp(legacy[i].name, name) &&
            legacy[i].kind == kind && opset < legacy[i].until)
            return true;
    return false;
}

/* Upsample-7 (scales attribute), Upsample-9 (scales input) and Resize-10 (X, scales) as
 * Resize-13: inputs (X, roi absent, scales), coordinates "asymmetric" (x_original =
 * x_resized / scale, the only mapping those opsets define), nearest rounding down. */
static int resize_from_old(const Ctx *c, Node *n) {
    Graph *g = c->g;
    int scales = n->nin > 1 ? n->in[1] : -1;
    Attr a;
    bool upsample = n->op == OP_Upsample;
    if (upsample && g->opset < 9) {
        if (want_one_input(c, n) < 0) return -1;
        if (!take_attr(n, "scales", &a)) return missing(c, n, "scales");
        int64_t len = a.n;
        scales = add_const(g, n, "scales", type_make(DT_F32, 1, &len), a.floats);
    } else {
        const char *old[] = {"scales", NULL};
        if (upsample && reject_after(c, n, 9, old) < 0) return -1;
        if (n->nin != 2) {
            char buf[256];
            return diag(c->d, "%s (opset %d) at node '%s': expected 2 inputs, got %d",
                        op_info(n->op)->name, g->opset, label(c, buf, sizeof buf), n->nin);
        }
    }
    int in[3] = {n->in[0], -1, scales};
    set_inputs(g, n, 3, in);
    n->op = OP_Resize;
    const char *mode = attr_string(n, "mode", "nearest");
    if (!strcmp(mode, "bilinear")) node_set_string(g, n, "mode", "linear");
    node_set_string(g, n, "coordinate_transformation_mode", "asymmetric");
    node_set_string(g, n, "nearest_mode", "floor");
    return 0;
}

/* Resize-18/19 forms as Resize-13 where they mean the same:
 *  - `axes` with constant `scales` (one per listed axis): scales for every axis, 1 elsewhere
 *    (with `sizes` or a run-time `scales` the attribute stays and shape inference refuses it);
 *  - coordinate_transformation_mode "half_pixel_symmetric" is "half_pixel" whenever every
 *    output size is exactly input size × scale (the spec's adjustment is then 1): always with
 *    `sizes`, and with constant `scales` on dims known at import that scale to whole numbers.
 *    Otherwise it stays, and codegen refuses it. */
static int resize_18(const Ctx *c, Node *n) {
    Graph *g = c->g;
    int x = n->in[0], scales = n->nin > 2 ? n->in[2] : -1, sizes = n->nin > 3 ? n->in[3] : -1;
    const Value *sv = scales >= 0 ? gval(g, scales) : NULL;
    bool const_scales =
        sv && (sv->flags & VAL_CONST) && sv->data && sv->type.dtype == DT_F32 && sv->type.rank == 1;
    const Attr *ax = node_attr(n, "axes");
    if (ax && const_scales && sizes < 0 && (n->nin < 2 || n->in[1] < 0) &&
        sv->type.dims[0] == ax->n) {
        int r = rank_of(c, x);
        if (r == IR_RANK_UNKNOWN) return unknown_rank(c, n, "with 'axes'");
        float full[IR_MAX_RANK];
        for (int i = 0; i < r; i++) full[i] = 1.0f;
        for (int i = 0; i < ax->n; i++) {
            int64_t a = ax->ints[i] < 0 ? ax->ints[i] + r : ax->ints[i];
            if (a < 0 || a >= r) {
                char buf[256];
                return diag(c->d, "Resize (opset %d) at node '%s': axis %lld out of range",
                            g->opset, label(c, buf, sizeof buf), (long long)ax->ints[i]);
            }
            full[a] = ((const float *)sv->data)[i];
        }
        int64_t len = r;
        Attr dropped;
        take_attr(n, "axes", &dropped);
        node_set_input(g, n, 2,
                       add_const(g, n, "scales_all_axes", type_make(DT_F32, 1, &len), full));
        sv = gval(g, n->in[2]);
    }
    const char *ct = attr_string(n, "coordinate_transformation_mode", "half_pixel");
    if (strcmp(ct, "half_pixel_symmetric") != 0 || node_attr(n, "axes")) return 0;
    bool whole = sizes >= 0;
    const Type *xt = &gval(g, x)->type;
    if (!whole && const_scales && xt->rank == sv->type.dims[0]) {
        whole = true;
        for (int i = 0; i < xt->rank && whole; i++) {
            double sc = ((const float *)sv->data)[i];
            if (sc == 1.0) continue;
            double o = (double)xt->dims[i] * sc;
            whole = xt->dims[i] >= 0 && o == floor(o);
        }
    }
    if (whole) node_set_string(g, n, "coordinate_transformation_mode", "half_pixel");
    return 0;
}

/* The op-specific rewrites. */
static int normalize_op(Ctx *c, Node *n) {
    Graph *g = c->g;
    Diag *d = c->d;
    char buf[256];
    Attr a, b, e;
    switch (n->op) {
    case OP_Clip: { /* Clip-6: min/max attributes; Clip-11: optional inputs */
        const char *old[] = {"min", "max", NULL};
        if (g->opset >= 11) return reject_after(c, n, 11, old);
        if (want_one_input(c, n) < 0) return -1;
        int in[3] = {n->in[0], -1, -1};
        if (take_attr(n, "min", &a)) in[1] = float_const(g, n, "min", a.f);
        if (take_attr(n, "max", &b)) in[2] = float_const(g, n, "max", b.f);
        set_inputs(g, n, 3, in);
        return 0;
    }
    case OP_Pad: { /* Pad-1: paddings; Pad-2: pads/value attributes; Pad-11: inputs */
        const char *old[] = {"pads", "value", NULL};
        const char *pads = g->opset < 2 ? "paddings" : "pads";
        if (g->opset >= 11) return reject_after(c, n, 11, old);
        if (g->opset < 2 && node_attr(n, "pads"))
            return diag(d, "unsupported: Pad attribute 'pads' (opset %d) at node '%s'", g->opset,
                        label(c, buf, sizeof buf));
        if (want_one_input(c, n) < 0) return -1;
        if (!take_attr(n, pads, &a)) return missing(c, n, pads);
        int in[3] = {n->in[0], ints_const(g, n, &a), -1};
        if (take_attr(n, "value", &b)) in[2] = float_const(g, n, "value", b.f);
        set_inputs(g, n, 3, in);
        return 0;
    }
    case OP_Slice: { /* Slice-1: starts/ends/axes attributes; Slice-10: inputs */
        const char *old[] = {"starts", "ends", "axes", NULL};
        if (g->opset >= 10) return reject_after(c, n, 10, old);
        if (want_one_input(c, n) < 0) return -1;
        if (!take_attr(n, "starts", &a)) return missing(c, n, "starts");
        if (!take_attr(n, "ends", &b)) return missing(c, n, "ends");
        int in[4] = {n->in[0], ints_const(g, n, &a), ints_const(g, n, &b), -1};
        if (take_attr(n, "axes", &e)) in[3] = ints_const(g, n, &e);
        set_inputs(g, n, 4, in);
        return 0;
    }
    case OP_Split: return axes_to_input(c, n, "split", 13, false);
    case OP_Squeeze: return axes_to_input(c, n, "axes", 13, false);
    case OP_Unsqueeze: return axes_to_input(c, n, "axes", 13, true);
    case OP_ReduceSum: return axes_to_input(c, n, "axes", 13, false);
    case OP_ReduceMean:
    case OP_ReduceMax:
    case OP_ReduceMin:
    case OP_ReduceProd:
    case OP_ReduceL1:
    case OP_ReduceL2:
    case OP_ReduceSumSquare:
    case OP_ReduceLogSum:
    case OP_ReduceLogSumExp: return axes_to_input(c, n, "axes", 18, false);
    case OP_Dropout: { /* Dropout-1/6: is_test; Dropout-7/10: ratio attribute; -12: input */
        const char *old[] = {"ratio", NULL};
        if (g->opset >= 12) return reject_after(c, n, 12, old);
        if (g->opset < 7 && want_test_mode(c, n) < 0) return -1;
        if (want_one_input(c, n) < 0) return -1;
        if (take_attr(n, "ratio", &a)) {
            int in[2] = {n->in[0], float_const(g, n, "ratio", a.f)};
            set_inputs(g, n, 2, in);
        }
        return 0;
    }
    case OP_BatchNormalization: { /* BatchNormalization-7: spatial (default 1), gone in -9 */
        const char *old[] = {"spatial", NULL};
        if (g->opset >= 9) return reject_after(c, n, 9, old);
        if (g->opset < 7 && want_test_mode(c, n) < 0) return -1; /* BatchNormalization-1/6 */
        if (take_attr(n, "spatial", &a) && a.i == 0)
            return diag(d,
                        "unsupported: BatchNormalization attribute 'spatial'=0 (opset %d) at "
                        "node '%s'",
                        g->opset, label(c, buf, sizeof buf));
        return 0;
    }
    case OP_Add:
    case OP_Sub:
    case OP_Mul:
    case OP_Div:
    case OP_Pow:
    case OP_Equal:
    case OP_Less:
    case OP_Greater:
    case OP_And:
    case OP_Or:
    case OP_Xor: return g->opset < 7 ? old_broadcast(c) : 0;
    case OP_Gemm: /* Gemm-1/6 broadcast: C broadcasts to (M, N) (always so since Gemm-7) */
        take_attr(n, "broadcast", &a);
        return 0;
    case OP_PRelu: return g->opset < 7 ? old_prelu(c) : 0;
    case OP_AveragePool: /* AveragePool-19: dilations */
        if (node_attr(n, "dilations") && g->opset < 19) {
            const char *dil[] = {"dilations", NULL};
            return reject_after(c, n, 1, dil);
        }
        return 0;
    case OP_Cast:
    case OP_CastLike: { /* Cast-19/CastLike-19: saturate, which only float8 targets read */
        if (node_attr(n, "saturate") && g->opset < 19) {
            const char *sat[] = {"saturate", NULL};
            return reject_after(c, n, 1, sat);
        }
        take_attr(n, "saturate", &a);
        return n->op == OP_Cast ? old_cast(c, n) : 0;
    }
    case OP_Concat: /* Concat-1: axis optional, default 1; required since Concat-4 */
        if (g->opset < 4 && !node_attr(n, "axis")) node_set_int(g, n, "axis", 1);
        return 0;
    case OP_Reshape: { /* Reshape-1: shape attribute; Reshape-5: shape input */
        if (g->opset >= 5) return 0;
        if (want_one_input(c, n) < 0) return -1;
        if (!take_attr(n, "shape", &a)) return missing(c, n, "shape");
        int in[2] = {n->in[0], ints_const(g, n, &a)};
        set_inputs(g, n, 2, in);
        return 0;
    }
    case OP_Upsample: return resize_from_old(c, n);
    case OP_Resize: return g->opset < 11 ? resize_from_old(c, n) : resize_18(c, n);
    default: return 0;
    }
}

int normalize_node(Graph *g, int node, Diag *d) {
    Ctx c = {g, node, d};
    Node *n = gnode(g, node);
    char buf[256];
    Attr a;
    if (normalize_op(&c, n) < 0) return -1;
    n = gnode(g, node); /* normalize_op may have appended nodes */
    take_attr(n, "consumed_inputs", &a);
    for (int i = 0; i < n->nattr; i++)
        if (op_attr_kind(n->op, n->attrs[i].name) != (int)n->attrs[i].kind)
            return diag(d, "unsupported: %s attribute '%s' (opset %d) at node '%s'",
                        op_info(n->op)->name, n->attrs[i].name, g->opset,
                        label(&c, buf, sizeof buf));
    return 0;
}
