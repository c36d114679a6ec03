/* normalize.c — old opset forms into the newest form, so later passes see one form of each op.
 * Requires: a node just imported at g->opset, attributes copied, inputs as in the file.
 * Guarantees: attributes that later opsets turned into inputs are constant inputs (int64 1-D
 * for axes/pads/starts/ends/split, scalars for values), and those attributes are gone. An old
 * attribute met at an opset where it no longer exists is an unsupported attribute. */
#include "internal.h"

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
 * Unsqueeze-13, ReduceSum-13, Reduce{Mean,Max,Min}-18). */
static int axes_to_input(const Ctx *c, Node *n, const char *attr, int since, bool required) {
    const char *names[] = {attr, NULL};
    if (c->g->opset >= since) return reject_after(c, n, since, names);
    if (want_one_input(c, n) < 0) return -1;
    Attr a;
    if (!take_attr(n, attr, &a)) return required ? missing(c, n, attr) : 0;
    int in[2] = {n->in[0], ints_const(c->g, n, &a)};
    set_inputs(c->g, n, 2, in);
    return 0;
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

int normalize_node(Graph *g, int node, Diag *d) {
    Ctx c = {g, node, d};
    Node *n = gnode(g, node);
    char buf[256];
    Attr a, b, e;
    switch (n->op) {
    case OP_Clip: { /* Clip-6: min/max attributes; Clip-11: optional inputs */
        const char *old[] = {"min", "max", NULL};
        if (g->opset >= 11) return reject_after(&c, n, 11, old);
        if (want_one_input(&c, n) < 0) return -1;
        int in[3] = {n->in[0], -1, -1};
        if (take_attr(n, "min", &a)) in[1] = float_const(g, n, "min", a.f);
        if (take_attr(n, "max", &b)) in[2] = float_const(g, n, "max", b.f);
        set_inputs(g, n, 3, in);
        return 0;
    }
    case OP_Pad: { /* Pad-2: pads/value attributes; Pad-11: pads, constant_value inputs */
        const char *old[] = {"pads", "value", NULL};
        if (g->opset >= 11) return reject_after(&c, n, 11, old);
        if (want_one_input(&c, n) < 0) return -1;
        if (!take_attr(n, "pads", &a)) return missing(&c, n, "pads");
        int in[3] = {n->in[0], ints_const(g, n, &a), -1};
        if (take_attr(n, "value", &b)) in[2] = float_const(g, n, "value", b.f);
        set_inputs(g, n, 3, in);
        return 0;
    }
    case OP_Slice: { /* Slice-1: starts/ends/axes attributes; Slice-10: inputs */
        const char *old[] = {"starts", "ends", "axes", NULL};
        if (g->opset >= 10) return reject_after(&c, n, 10, old);
        if (want_one_input(&c, n) < 0) return -1;
        if (!take_attr(n, "starts", &a)) return missing(&c, n, "starts");
        if (!take_attr(n, "ends", &b)) return missing(&c, n, "ends");
        int in[4] = {n->in[0], ints_const(g, n, &a), ints_const(g, n, &b), -1};
        if (take_attr(n, "axes", &e)) in[3] = ints_const(g, n, &e);
        set_inputs(g, n, 4, in);
        return 0;
    }
    case OP_Split: return axes_to_input(&c, n, "split", 13, false);
    case OP_Squeeze: return axes_to_input(&c, n, "axes", 13, false);
    case OP_Unsqueeze: return axes_to_input(&c, n, "axes", 13, true);
    case OP_ReduceSum: return axes_to_input(&c, n, "axes", 13, false);
    case OP_ReduceMean:
    case OP_ReduceMax:
    case OP_ReduceMin: return axes_to_input(&c, n, "axes", 18, false);
    case OP_Dropout: { /* Dropout-7/10: ratio attribute; Dropout-12: ratio input */
        const char *old[] = {"ratio", NULL};
        if (g->opset >= 12) return reject_after(&c, n, 12, old);
        if (want_one_input(&c, n) < 0) return -1;
        if (take_attr(n, "ratio", &a)) {
            int in[2] = {n->in[0], float_const(g, n, "ratio", a.f)};
            set_inputs(g, n, 2, in);
        }
        return 0;
    }
    case OP_BatchNormalization: { /* BatchNormalization-7: spatial (default 1), gone in -9 */
        const char *old[] = {"spatial", NULL};
        if (g->opset >= 9) return reject_after(&c, n, 9, old);
        if (take_attr(n, "spatial", &a) && a.i == 0)
            return diag(d,
                        "unsupported: BatchNormalization attribute 'spatial'=0 (opset %d) at "
                        "node '%s'",
                        g->opset, label(&c, buf, sizeof buf));
        return 0;
    }
    case OP_Upsample: return resize_from_old(&c, n);
    case OP_Resize: return g->opset < 11 ? resize_from_old(&c, n) : 0;
    default: return 0;
    }
}

bool normalize_ignores_attr(int op, const char *name) {
    /* BatchNormalization-1 consumed_inputs: a legacy memory-reuse hint. */
    return op == OP_BatchNormalization && !strcmp(name, "consumed_inputs");
}
