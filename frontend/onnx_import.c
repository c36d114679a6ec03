/* onnx_import.c — an ONNX ModelProto (opsets 1-21 of the default domain) into a Graph.
 * Initializers and Constant nodes become constants; other nodes are looked up in ir/ops.def
 * and their attributes checked against its schema; old opset forms are normalised
 * (normalize.c). Types come from the model's inputs, outputs and value_info where given; a
 * leading dim_param of a graph input is the symbolic batch N, other open dims stay unknown
 * unless a --shape override fixes them. Every error is a message, never a crash. */
#include "internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum { OPSET_MIN = 1, OPSET_MAX = 21 };

static bool default_domain(const char *dom) {
    return !dom || !*dom || !strcmp(dom, "ai.onnx");
}

/* Label of ONNX node i for messages, before the IR node exists. */
static const char *np_label(const Onnx__NodeProto *np, int i, char *buf, size_t len) {
    if (np->name && *np->name) return np->name;
    snprintf(buf, len, "%s#%d", np->op_type ? np->op_type : "?", i);
    return buf;
}

/* Prefix the message already in d with `fmt ...: `. */
static int wrap(Diag *d, const char *prefix) {
    if (!d) return -1;
    char msg[sizeof d->msg];
    snprintf(msg, sizeof msg, "%s", d->msg);
    return diag(d, "%s: %s", prefix, msg);
}

/* ---- names ------------------------------------------------------------------------------- */

int im_lookup(const Importer *im, const char *name) {
    for (const Scope *s = im->scope; s; s = s->parent) {
        if (!s->parent) return graph_find_value(im->g, name);
        int v = strmap_get(&s->vals, name);
        if (v >= 0) return v;
        if (strmap_get(&s->seqs, name) >= 0) return -1;
    }
    return graph_find_value(im->g, name);
}

bool im_defined_here(const Importer *im, const char *name) {
    const Scope *s = im->scope;
    if (s && strmap_get(&s->seqs, name) >= 0) return true;
    if (!s || !s->parent) return graph_find_value(im->g, name) >= 0;
    return strmap_get(&s->vals, name) >= 0;
}

int im_define(Importer *im, const char *name, Type t) {
    const Scope *s = im->scope;
    if (!s || !s->parent || !name || !*name) return graph_add_value(im->g, name, t);
    char buf[512];
    snprintf(buf, sizeof buf, "%.400s%s", name, s->suffix);
    int v = graph_add_value(im->g, buf, t);
    im_bind(im, name, v);
    return v;
}

void im_bind(Importer *im, const char *name, int v) {
    Scope *s = im->scope;
    assert(s && s->parent);
    strmap_put(&s->vals, graph_strdup(im->g, name), v);
}

/* ---- types --------------------------------------------------------------------------------- */

/* The Type of a ValueInfoProto. A dim_param on dim 0 of a graph input is the batch N; other
 * dim_params and unset dims are IR_DIM_UNKNOWN; no shape at all is IR_RANK_UNKNOWN. */
static int vi_type(Importer *im, const Onnx__ValueInfoProto *vi, bool graph_input, Type *t) {
    const char *name = vi->name ? vi->name : "";
    *t = type_make(DT_UNDEF, 0, NULL);
    t->rank = IR_RANK_UNKNOWN;
    if (!vi->type) {
        if (graph_input) return diag(im->d, "graph input '%s' has no type", name);
        return 0;
    }
    if (vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type)
        return diag(im->d,
                    "unsupported: value '%s' is not a tensor (sequence, map, optional and "
                    "sparse types are not supported)",
                    name);
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    int dt = tt->has_elem_type ? tt->elem_type : DT_UNDEF;
    if (dt < 0 || dt >= DT_COUNT)
        return diag(im->d, "unsupported: value '%s' has element type %d", name, dt);
    if (graph_input && dtype_size(dt) == 0)
        return diag(im->d, "unsupported: graph input '%s' of element type %s", name,
                    dt == DT_STRING ? "string" : "undefined");
    t->dtype = dt;
    if (!tt->shape) return 0;
    if (tt->shape->n_dim > IR_MAX_RANK)
        return diag(im->d, "unsupported: value '%s' has rank %zu (at most %d)", name,
                    tt->shape->n_dim, IR_MAX_RANK);
    t->rank = (int)tt->shape->n_dim;
    for (int i = 0; i < t->rank; i++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
        t->dims[i] = IR_DIM_UNKNOWN;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            dim->dim_value >= 0)
            t->dims[i] = dim->dim_value;
        else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                 graph_input && i == 0)
            t->dims[i] = IR_DIM_N;
    }
    return 0;
}

/* Declared type of an intermediate value or graph output (value_info / graph.output). With a
 * shape override, declared dims may describe other input shapes: only dtype and rank stay. */
static int declared_type(Importer *im, const char *name, Type *t) {
    *t = type_make(DT_UNDEF, 0, NULL);
    t->rank = IR_RANK_UNKNOWN;
    if (im->scope && im->scope->parent) return 0; /* a Loop body: inferred later */
    int k = strmap_get(&im->vinfo, name);
    if (k < 0) return 0;
    if (vi_type(im, im->vis[k], false, t) < 0) return -1;
    if (im->opts && im->opts->nshapes > 0)
        for (int i = 0; i < t->rank; i++) t->dims[i] = IR_DIM_UNKNOWN;
    return 0;
}

/* ---- attributes ---------------------------------------------------------------------------- */

static const char *kind_name(int k) {
    static const char *const names[] = {"int",    "float",   "string", "ints",
                                        "floats", "strings", "tensor", "graph"};
    return k >= 0 && k < (int)(sizeof names / sizeof names[0]) ? names[k] : "unknown";
}

/* The AttrKind of an AttributeProto; old writers may leave `type` unset. */
static int proto_attr_kind(const Onnx__AttributeProto *a) {
    if (a->has_type) {
        switch (a->type) {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return ATTR_INT;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return ATTR_FLOAT;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return ATTR_STRING;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return ATTR_INTS;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return ATTR_FLOATS;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return ATTR_STRINGS;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return ATTR_TENSOR;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return ATTR_GRAPH;
        default: return -1;
        }
    }
    if (a->has_i) return ATTR_INT;
    if (a->has_f) return ATTR_FLOAT;
    if (a->has_s) return ATTR_STRING;
    if (a->t) return ATTR_TENSOR;
    if (a->g) return ATTR_GRAPH;
    if (a->n_ints) return ATTR_INTS;
    if (a->n_floats) return ATTR_FLOATS;
    if (a->n_strings) return ATTR_STRINGS;
    return -1;
}

static const char *bytes_str(Graph *g, ProtobufCBinaryData b) {
    char *s = graph_alloc(g, b.len + 1);
    if (b.len) memcpy(s, b.data, b.len);
    return s;
}

/* Copy attribute a of ONNX node np into IR node `node` (op `op`). */
static int import_attr(Importer *im, int node, int op, const Onnx__NodeProto *np, int idx,
                       const Onnx__AttributeProto *a) {
    Graph *g = im->g;
    char lb[256];
    const char *lab = np_label(np, idx, lb, sizeof lb);
    const char *aname = a->name ? a->name : "";
    const char *opname = op_info(op)->name;
    int kind = aname[0] == '_' ? -1 : op_attr_kind(op, aname);
    int have = proto_attr_kind(a);
    /* An attribute of an old version of the op (an empty list may carry no kind: ints). */
    int old_kind = have >= 0 ? have : ATTR_INTS;
    if (kind != have && normalize_legacy_attr(op, aname, old_kind, g->opset)) kind = old_kind;
    if (kind < 0 || kind == ATTR_GRAPH)
        return diag(im->d, "unsupported: %s attribute '%s' (opset %d) at node '%s'", opname, aname,
                    g->opset, lab);
    if (a->ref_attr_name && *a->ref_attr_name)
        return diag(im->d,
                    "unsupported: %s attribute '%s' refers to a function attribute "
                    "(opset %d) at node '%s'",
                    opname, aname, g->opset, lab);
    /* An empty list has no field to tell its kind by. */
    bool empty_list = !a->has_type && have < 0 &&
                      (kind == ATTR_INTS || kind == ATTR_FLOATS || kind == ATTR_STRINGS);
    if (have != kind && !empty_list)
        return diag(im->d, "%s (opset %d) at node '%s': attribute '%s' is %s, expected %s", opname,
                    g->opset, lab, aname, kind_name(have), kind_name(kind));
    if (a->n_ints > 1 << 20 || a->n_floats > 1 << 20 || a->n_strings > 1 << 20)
        return diag(im->d, "%s (opset %d) at node '%s': attribute '%s' is too long", opname,
                    g->opset, lab, aname);
    Node *n = gnode(g, node);
    const char *name = aname;
    switch (kind) {
    case ATTR_INT: node_set_int(g, n, name, a->i); break;
    case ATTR_FLOAT: node_set_float(g, n, name, a->f); break;
    case ATTR_STRING: node_set_string(g, n, name, bytes_str(g, a->s)); break;
    case ATTR_INTS: node_set_ints(g, n, name, a->ints, (int)a->n_ints); break;
    case ATTR_FLOATS: node_set_floats(g, n, name, a->floats, (int)a->n_floats); break;
    case ATTR_STRINGS: {
        Attr at = {.name = name, .kind = ATTR_STRINGS, .n = (int)a->n_strings};
        at.strings = graph_alloc(g, (a->n_strings + 1) * sizeof(char *));
        for (size_t i = 0; i < a->n_strings; i++) at.strings[i] = bytes_str(g, a->strings[i]);
        node_set_attr(g, n, &at);
        break;
    }
    case ATTR_TENSOR: {
        Attr at = {.name = name, .kind = ATTR_TENSOR};
        if (tensor_from_proto(a->t, im->dir, &at.ttype, &at.tdata, im->d) < 0) {
            char pre[512];
            snprintf(pre, sizeof pre, "%s (opset %d) at node '%s': attribute '%s'", opname,
                     g->opset, lab, aname);
            return wrap(im->d, pre);
        }
        node_set_attr(g, n, &at);
        free(at.tdata);
        break;
    }
    default: assert(!"attribute kind");
    }
    return 0;
}

/* ---- values -------------------------------------------------------------------------------- */

/* Empty payloads still need a non-NULL pointer: NULL means "elided" to graph_add_const. */
static const uint8_t empty_payload[16];

int im_add_const(Importer *im, const char *name, Type t, const void *data) {
    if (im_defined_here(im, name)) return diag(im->d, "value '%s' is defined more than once", name);
    int v = im_define(im, name, t);
    Value *val = gval(im->g, v);
    val->flags |= VAL_CONST;
    if (!data) data = empty_payload;
    val->data = arena_memdup(im->g->arena, data, (size_t)type_bytes(&t, 1));
    val->hash = value_hash(&t, data);
    return v;
}

/* A Constant node (Constant-13: value, value_float(s), value_int(s)) becomes a constant. */
static int import_constant(Importer *im, const Onnx__NodeProto *np, int idx) {
    Graph *g = im->g;
    char lb[256], pre[512];
    const char *lab = np_label(np, idx, lb, sizeof lb);
    snprintf(pre, sizeof pre, "Constant (opset %d) at node '%s'", g->opset, lab);
    if (np->n_output != 1 || !*np->output[0] || np->n_input != 0)
        return diag(im->d, "%s: expected no inputs and one output", pre);
    if (np->n_attribute != 1) return diag(im->d, "%s: expected exactly one value attribute", pre);
    const Onnx__AttributeProto *a = np->attribute[0];
    const char *an = a->name ? a->name : "";
    Type t;
    void *data = NULL;
    int64_t len;
    if (!strcmp(an, "value") && a->t) {
        if (tensor_from_proto(a->t, im->dir, &t, &data, im->d) < 0) return wrap(im->d, pre);
    } else if (!strcmp(an, "value_float") && a->has_f) {
        t = type_make(DT_F32, 0, NULL);
        data = malloc(sizeof(float));
        memcpy(data, &a->f, sizeof(float));
    } else if (!strcmp(an, "value_int") && a->has_i) {
        t = type_make(DT_I64, 0, NULL);
        data = malloc(sizeof(int64_t));
        memcpy(data, &a->i, sizeof(int64_t));
    } else if (!strcmp(an, "value_floats")) {
        len = (int64_t)a->n_floats;
        t = type_make(DT_F32, 1, &len);
        data = a->n_floats ? malloc(a->n_floats * sizeof(float)) : NULL;
        if (data) memcpy(data, a->floats, a->n_floats * sizeof(float));
    } else if (!strcmp(an, "value_ints")) {
        len = (int64_t)a->n_ints;
        t = type_make(DT_I64, 1, &len);
        data = a->n_ints ? malloc(a->n_ints * sizeof(int64_t)) : NULL;
        if (data) memcpy(data, a->ints, a->n_ints * sizeof(int64_t));
    } else {
        return diag(im->d, "unsupported: Constant attribute '%s' (opset %d) at node '%s'", an,
                    g->opset, lab);
    }
    int v = im_add_const(im, np->output[0], t, data);
    free(data);
    return v < 0 ? wrap(im->d, pre) : 0;
}

/* ---- nodes --------------------------------------------------------------------------------- */

static int import_if(Importer *im, const Onnx__NodeProto *np, int idx);

/* Ops of opsets 18-21 that are compositions of existing ops are imported as that
 * composition (fuse_elementwise makes the elementwise parts one loop):
 *   Gelu-20, approximate "none": y = x * 0.5 * (1 + Erf(x * (1/sqrt(2))))
 *            approximate "tanh": y = x * 0.5 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
 *   Mish-18: y = x * Tanh(Softplus(x))
 *   GroupNormalization-18/21 (X [N, C, ...], num_groups G, epsilon): X viewed as [N, G, -1],
 *     normalised by the mean and variance of each group, viewed back; then scale and bias:
 *     per group ([G]) at 18, per channel ([C]) since 21.
 * Float constants are scalars of x's dtype (f64 when declared so, else f32). */
typedef struct Expand {
    Graph *g;
    const char *base, *node_name;
    int dt, step;
} Expand;

static int expand_const(Expand *e, double v) {
    char name[600];
    float f = (float)v;
    snprintf(name, sizeof name, "%.500s_c%d", e->base, e->step++);
    return graph_add_const(e->g, name, type_make(e->dt, 0, NULL),
                           e->dt == DT_F64 ? (const void *)&v : (const void *)&f);
}

static int expand_ints(Expand *e, int64_t n, const int64_t *v) {
    char name[600];
    snprintf(name, sizeof name, "%.500s_c%d", e->base, e->step++);
    return graph_add_const(e->g, name, type_make(DT_I64, 1, &n), v);
}

/* A node op(a) or op(a, b) (b < 0: none) with a fresh output value. */
static int expand_node(Expand *e, int op, int a, int b) {
    char name[600];
    Type open = {.dtype = DT_UNDEF, .rank = IR_RANK_UNKNOWN};
    snprintf(name, sizeof name, "%.500s_%d", e->base, e->step++);
    int ins[2] = {a, b}, out = graph_add_value(e->g, name, open);
    graph_add_node(e->g, op, e->node_name, b < 0 ? 1 : 2, ins, 1, &out);
    return out;
}

/* The checks every expanded op shares: exactly nin inputs, all given and defined, and one
 * output not defined before. Sets in[], *yt (the output's declared type) and the Expand. */
static int expand_begin(Importer *im, const Onnx__NodeProto *np, const char *lab, size_t nin,
                        int *in, Type *yt, Expand *e, char *base, size_t blen) {
    Graph *g = im->g;
    const char *op = np->op_type;
    if (np->n_input != nin || np->n_output != 1 || !*np->output[0])
        return diag(im->d, "%s (opset %d) at node '%s': expected %zu input%s and 1 output", op,
                    g->opset, lab, nin, nin == 1 ? "" : "s");
    for (size_t i = 0; i < nin; i++) {
        in[i] = *np->input[i] ? im_lookup(im, np->input[i]) : -1;
        if (in[i] < 0)
            return diag(im->d, "%s (opset %d) at node '%s': input %zu ('%s') is not defined", op,
                        g->opset, lab, i, np->input[i]);
    }
    if (im_defined_here(im, np->output[0]))
        return diag(im->d, "%s (opset %d) at node '%s': output '%s' is defined more than once", op,
                    g->opset, lab, np->output[0]);
    if (declared_type(im, np->output[0], yt) < 0) return -1;
    snprintf(base, blen, "%.400s_%.40s", np->output[0], op);
    *e = (Expand){g, base, np->name, gval(g, in[0])->type.dtype == DT_F64 ? DT_F64 : DT_F32, 0};
    return 0;
}

/* The last node of an expansion, writing the ONNX node's output. */
static void expand_end(Importer *im, const Onnx__NodeProto *np, const Type *yt, int op, int a,
                       int b) {
    int y = im_define(im, np->output[0], *yt), ins[2] = {a, b};
    graph_add_node(im->g, op, np->name, 2, ins, 1, &y);
}

static int unsupported_attr(Importer *im, const Onnx__NodeProto *np, const char *lab,
                            const Onnx__AttributeProto *a) {
    return diag(im->d, "unsupported: %s attribute '%s' (opset %d) at node '%s'", np->op_type,
                a->name ? a->name : "", im->g->opset, lab);
}

static int import_expanded(Importer *im, const Onnx__NodeProto *np, int idx) {
    Graph *g = im->g;
    char lb[256], base[520];
    const char *lab = np_label(np, idx, lb, sizeof lb), *op = np->op_type;
    bool gelu = !strcmp(op, "Gelu"), mish = !strcmp(op, "Mish"), tanh_form = false;
    int64_t groups = -1, stash = 1;
    double eps = 1e-5;
    for (size_t i = 0; i < np->n_attribute; i++) {
        const Onnx__AttributeProto *a = np->attribute[i];
        const char *an = a->name ? a->name : "";
        if (gelu && !strcmp(an, "approximate")) {
            char v[16] = "";
            snprintf(v, sizeof v, "%.*s", (int)(a->s.len < 15 ? a->s.len : 15),
                     a->s.data ? (const char *)a->s.data : "");
            tanh_form = !strcmp(v, "tanh");
            if (!tanh_form && strcmp(v, "none") != 0)
                return diag(im->d,
                            "Gelu (opset %d) at node '%s': attribute 'approximate' is '%s', "
                            "expected 'none' or 'tanh'",
                            g->opset, lab, v);
        } else if (!gelu && !mish && !strcmp(an, "num_groups")) {
            groups = a->i;
        } else if (!gelu && !mish && !strcmp(an, "epsilon")) {
            eps = a->f;
        } else if (!gelu && !mish && !strcmp(an, "stash_type") && g->opset >= 21) {
            stash = a->i;
        } else {
            return unsupported_attr(im, np, lab, a);
        }
    }
    int in[3];
    Type yt;
    Expand e;
    if (expand_begin(im, np, lab, gelu || mish ? 1 : 3, in, &yt, &e, base, sizeof base) < 0)
        return -1;
    int x = in[0];
    if (gelu) {
        int core;
        if (tanh_form) {
            int x3 = expand_node(&e, OP_Mul, expand_node(&e, OP_Mul, x, x), x);
            int kx3 = expand_node(&e, OP_Mul, x3, expand_const(&e, 0.044715));
            int inner = expand_node(&e, OP_Add, x, kx3);
            int arg = expand_node(&e, OP_Mul, inner, expand_const(&e, 0.79788456080286535588));
            core = expand_node(&e, OP_Tanh, arg, -1); /* the constant: sqrt(2/pi) */
        } else {
            int arg = expand_node(&e, OP_Mul, x, expand_const(&e, 0.70710678118654752440));
            core = expand_node(&e, OP_Erf, arg, -1); /* the constant: 1/sqrt(2) */
        }
        int p1 = expand_node(&e, OP_Add, core, expand_const(&e, 1.0));
        expand_end(im, np, &yt, OP_Mul, expand_node(&e, OP_Mul, x, expand_const(&e, 0.5)), p1);
        return 0;
    }
    if (mish) {
        int t = expand_node(&e, OP_Tanh, expand_node(&e, OP_Softplus, x, -1), -1);
        expand_end(im, np, &yt, OP_Mul, x, t);
        return 0;
    }
    /* GroupNormalization */
    int rank = gval(g, x)->type.rank;
    if (groups < 1)
        return diag(im->d, "GroupNormalization (opset %d) at node '%s': num_groups must be >= 1",
                    g->opset, lab);
    if (stash != 1)
        return diag(im->d,
                    "unsupported: GroupNormalization stash_type %lld (opset %d) at node '%s'",
                    (long long)stash, g->opset, lab);
    if (rank == IR_RANK_UNKNOWN || rank < 2)
        return diag(im->d,
                    "unsupported: GroupNormalization (opset %d) at node '%s': the rank of X is "
                    "not known at import (declare it)",
                    g->opset, lab);
    int64_t gshape[3] = {0, groups, -1}, ax = 2, col[2] = {-1, 1}, chan[IR_MAX_RANK];
    int xg = expand_node(&e, OP_Reshape, x, expand_ints(&e, 3, gshape));
    int axes = expand_ints(&e, 1, &ax);
    int mean = expand_node(&e, OP_ReduceMean, xg, axes);
    int dev = expand_node(&e, OP_Sub, xg, mean);
    int var = expand_node(&e, OP_ReduceMean, expand_node(&e, OP_Mul, dev, dev), axes);
    int sd = expand_node(&e, OP_Sqrt, expand_node(&e, OP_Add, var, expand_const(&e, eps)), -1);
    int xhat = expand_node(&e, OP_Div, dev, sd);
    int xs = expand_node(&e, OP_Shape, x, -1);
    if (g->opset < 21) { /* scale and bias per group: [G, 1] against [N, G, C/G * ...] */
        int s = expand_node(&e, OP_Reshape, in[1], expand_ints(&e, 2, col));
        int b = expand_node(&e, OP_Reshape, in[2], expand_ints(&e, 2, col));
        int yg = expand_node(&e, OP_Add, expand_node(&e, OP_Mul, xhat, s), b);
        expand_end(im, np, &yt, OP_Reshape, yg, xs);
        return 0;
    }
    /* per channel: [C, 1, ...] against [N, C, ...] */
    chan[0] = -1;
    for (int i = 1; i < rank - 1; i++) chan[i] = 1;
    int shape = expand_ints(&e, rank - 1, chan);
    int s = expand_node(&e, OP_Reshape, in[1], shape);
    int b = expand_node(&e, OP_Reshape, in[2], shape);
    int xr = expand_node(&e, OP_Reshape, xhat, xs);
    expand_end(im, np, &yt, OP_Add, expand_node(&e, OP_Mul, xr, s), b);
    return 0;
}

int import_node(Importer *im, const Onnx__NodeProto *np, int idx) {
    const Onnx__ModelProto *m = im->model;
    Graph *g = im->g;
    char lb[256];
    const char *lab = np_label(np, idx, lb, sizeof lb);
    const char *opt = np->op_type ? np->op_type : "";
    if (!default_domain(np->domain)) {
        int64_t ver = 0;
        for (size_t i = 0; i < m->n_opset_import; i++)
            if (m->opset_import[i]->domain && !strcmp(m->opset_import[i]->domain, np->domain))
                ver = m->opset_import[i]->version;
        return diag(im->d, "unsupported: %s.%s (opset %lld) at node '%s'", np->domain, opt,
                    (long long)ver, lab);
    }
    if (!strcmp(opt, "Constant")) return import_constant(im, np, idx);
    if (!strcmp(opt, "If")) return import_if(im, np, idx);
    if ((!strcmp(opt, "Gelu") && g->opset >= 20) ||
        ((!strcmp(opt, "Mish") || !strcmp(opt, "GroupNormalization")) && g->opset >= 18))
        return import_expanded(im, np, idx);
    if (seq_handles(opt)) return seq_import_node(im, np, idx);
    int op = op_from_name(opt);
    if (op < 0 || (op_info(op)->flags & OPF_INTERNAL))
        return diag(im->d, "unsupported: %s (opset %d) at node '%s'", opt, g->opset, lab);
    if (np->n_input > 1024 || np->n_output > 1024)
        return diag(im->d, "%s (opset %d) at node '%s': too many inputs or outputs", opt, g->opset,
                    lab);

    int nin = (int)np->n_input, nout = (int)np->n_output;
    int *in = malloc((size_t)(nin + 1) * sizeof(int));
    int *out = malloc((size_t)(nout + 1) * sizeof(int));
    int rc = -1;
    for (int i = 0; i < nin; i++) {
        const char *s = np->input[i];
        in[i] = *s ? im_lookup(im, s) : -1;
        if (*s && in[i] < 0 && seq_lookup(im, s) >= 0) {
            diag(im->d,
                 "unsupported: %s (opset %d) at node '%s': input '%s' is a sequence (only "
                 "sequence operators read sequences)",
                 opt, g->opset, lab, s);
            goto out;
        }
        if (*s && in[i] < 0) {
            diag(im->d, "%s (opset %d) at node '%s': input '%s' is not defined before use", opt,
                 g->opset, lab, s);
            goto out;
        }
    }
    /* Trailing absent outputs are dropped; absent ones in the middle get a fresh value. */
    while (nout > 0 && !*np->output[nout - 1]) nout--;
    for (int i = 0; i < nout; i++) {
        const char *s = np->output[i];
        Type t;
        if (*s && im_defined_here(im, s)) {
            diag(im->d, "%s (opset %d) at node '%s': output '%s' is defined more than once", opt,
                 g->opset, lab, s);
            goto out;
        }
        if (declared_type(im, s, &t) < 0) goto out;
        out[i] = im_define(im, s, t);
    }
    int node = graph_add_node(g, op, np->name, nin, in, nout, out);
    for (size_t i = 0; i < np->n_attribute; i++)
        if (import_attr(im, node, op, np, idx, np->attribute[i]) < 0) goto out;
    if (normalize_node(g, node, im->d) < 0) goto out;

    const Node *n = gnode(g, node);
    const OpInfo *oi = op_info(n->op); /* normalize_node may have changed the op */
    if (n->nin < oi->min_in || n->nin > oi->max_in || n->nout < oi->min_out ||
        n->nout > oi->max_out) {
        diag(im->d,
             "%s (opset %d) at node '%s': %d inputs and %d outputs (expected %d-%d inputs, %d-%d "
             "outputs)",
             opt, g->opset, lab, n->nin, n->nout, oi->min_in, oi->max_in, oi->min_out, oi->max_out);
        goto out;
    }
    for (int i = 0; i < oi->min_in; i++)
        if (n->in[i] < 0) {
            diag(im->d, "%s (opset %d) at node '%s': required input %d is absent", opt, g->opset,
                 lab, i);
            goto out;
        }
    rc = 0;
out:
    free(in);
    free(out);
    return rc;
}

/* ---- If ----------------------------------------------------------------------------------- */

/* A fresh value named after `base` and `suffix`, type unknown (inferred later). */
static int fresh(Graph *g, const char *base, const char *suffix) {
    char name[300];
    snprintf(name, sizeof name, "%s.%s", base, suffix);
    Type t = type_make(DT_UNDEF, 0, NULL);
    t.rank = IR_RANK_UNKNOWN;
    return graph_add_value(g, name, t);
}

/* f32 [1] gate: 1 where the bool condition `cond` (one element) holds, or (negate) does not. */
static int if_gate(Graph *g, int cond, const char *base, bool negate) {
    int c = cond;
    if (negate) {
        int nc = fresh(g, base, "not");
        graph_add_node(g, OP_Not, "", 1, &c, 1, &nc);
        c = nc;
    }
    int f = fresh(g, base, negate ? "else_f" : "then_f");
    int cast = graph_add_node(g, OP_Cast, "", 1, &c, 1, &f);
    node_set_int(g, gnode(g, cast), "to", DT_F32);
    int64_t one = 1, shape1 = 1;
    int in[2] = {f, graph_add_const(g, NULL, type_make(DT_I64, 1, &one), &shape1)};
    int gate = fresh(g, base, negate ? "else_gate" : "then_gate");
    graph_add_node(g, OP_Reshape, "", 2, in, 1, &gate);
    return gate;
}

/* Import one branch subgraph of an If: its initializers and nodes, which become the region
 * of guard gid. out[k] = the value of its k-th output. */
static int import_branch(Importer *im, const Onnx__GraphProto *sub, int gid, const char *lab,
                         int *out, size_t nout) {
    Graph *g = im->g;
    if (sub->n_output != nout)
        return diag(im->d, "If (opset %d) at node '%s': a branch has %zu outputs, the node %zu",
                    g->opset, lab, sub->n_output, nout);
    for (size_t i = 0; i < sub->n_initializer; i++) {
        const Onnx__TensorProto *tp = sub->initializer[i];
        Type t;
        void *data;
        if (!tp->name || tensor_from_proto(tp, im->dir, &t, &data, im->d) < 0)
            return wrap(im->d, lab);
        int v = im_add_const(im, tp->name, t, data);
        free(data);
        if (v < 0) return -1;
    }
    int first = g->nnode;
    for (size_t i = 0; i < sub->n_node; i++) {
        const char *op = sub->node[i]->op_type ? sub->node[i]->op_type : "";
        if (!strcmp(op, "If") || !strcmp(op, "Loop") || !strcmp(op, "Scan"))
            return diag(im->d, "unsupported: %s inside If (opset %d) at node '%s'", op, g->opset,
                        lab);
        if (import_node(im, sub->node[i], (int)i) < 0) return -1;
    }
    for (int i = first; i < g->nnode; i++) gnode(g, i)->guard = gid;
    for (size_t k = 0; k < nout; k++) {
        const char *name = sub->output[k]->name ? sub->output[k]->name : "";
        if ((out[k] = graph_find_value(g, name)) < 0)
            return diag(im->d, "If (opset %d) at node '%s': branch output '%s' is not defined",
                        g->opset, lab, name);
    }
    return 0;
}

/* If-16 (and -1, -11, -13): each branch's nodes become a region (docs/annotations.md: an If is a
 * guard with an else-region) that runs only where the condition (a bool of one element) holds or
 * does not; output k = Where(cond, then_k, else_k), which reads only the branch that ran. */
static int import_if(Importer *im, const Onnx__NodeProto *np, int idx) {
    Graph *g = im->g;
    char lb[256];
    const char *lab = np_label(np, idx, lb, sizeof lb);
    const Onnx__GraphProto *br[2] = {NULL, NULL};
    for (size_t i = 0; i < np->n_attribute; i++) {
        const Onnx__AttributeProto *a = np->attribute[i];
        const char *an = a->name ? a->name : "";
        if (!strcmp(an, "then_branch") && a->g)
            br[0] = a->g;
        else if (!strcmp(an, "else_branch") && a->g)
            br[1] = a->g;
        else
            return diag(im->d, "unsupported: If attribute '%s' (opset %d) at node '%s'", an,
                        g->opset, lab);
    }
    int cond = np->n_input == 1 && *np->input[0] ? graph_find_value(g, np->input[0]) : -1;
    if (!br[0] || !br[1] || cond < 0)
        return diag(im->d,
                    "If (opset %d) at node '%s': needs a defined condition input and "
                    "then_branch and else_branch",
                    g->opset, lab);
    size_t nout = np->n_output;
    int *outs[2] = {calloc(nout + 1, sizeof(int)), calloc(nout + 1, sizeof(int))};
    if (!outs[0] || !outs[1]) abort();
    int rc = 0;
    for (int b = 0; b < 2 && rc == 0; b++) {
        char name[300];
        snprintf(name, sizeof name, "%s.%s", lab, b ? "else" : "then");
        GuardTerm t = {if_gate(g, cond, lab, b == 1), 0, 0.5f};
        int gid = graph_add_guard(g, (Guard){.name = name, .terms = &t, .nterm = 1, .value = -1});
        rc = import_branch(im, br[b], gid, lab, outs[b], nout);
    }
    for (size_t k = 0; k < nout && rc == 0; k++) {
        const char *s = np->output[k];
        Type t;
        if (!*s || graph_find_value(g, s) >= 0) {
            rc = diag(im->d, "If (opset %d) at node '%s': output %zu is unnamed or defined twice",
                      g->opset, lab, k);
            break;
        }
        if ((rc = declared_type(im, s, &t)) < 0) break;
        int y = graph_add_value(g, s, t);
        int in[3] = {cond, outs[0][k], outs[1][k]};
        graph_add_node(g, OP_Where, np->name, 3, in, 1, &y);
    }
    free(outs[0]);
    free(outs[1]);
    return rc;
}

/* ---- graph --------------------------------------------------------------------------------- */

static const ShapeOverride *find_override(const ImportOptions *o, const char *name) {
    const ShapeOverride *s = NULL;
    for (int i = 0; o && i < o->nshapes; i++)
        if (!strcmp(o->shapes[i].name, name)) s = &o->shapes[i];
    return s;
}

static const InputBinding *find_binding(const ImportOptions *o, const char *name) {
    const InputBinding *b = NULL;
    for (int i = 0; o && i < o->nbinds; i++)
        if (!strcmp(o->binds[i].name, name)) b = &o->binds[i];
    return b;
}

/* --bind: graph input vi (declared type t) becomes a constant holding b->value. */
static int bind_input(Importer *im, const Onnx__ValueInfoProto *vi, const Type *t,
                      const InputBinding *b) {
    const Type *bt = &b->value->type;
    bool ok = bt->dtype == t->dtype && (t->rank == IR_RANK_UNKNOWN || t->rank == bt->rank);
    for (int k = 0; ok && t->rank != IR_RANK_UNKNOWN && k < t->rank; k++)
        ok = t->dims[k] < 0 || t->dims[k] == bt->dims[k];
    if (!ok) {
        char want[128], got[128];
        return diag(im->d, "--bind %s=%s: the file holds %s, the graph input '%s' is %s", b->name,
                    b->file, type_str(bt, got, sizeof got), vi->name,
                    type_str(t, want, sizeof want));
    }
    if (find_override(im->opts, vi->name))
        return diag(im->d, "--bind %s: the input also has a --shape; give one of them", b->name);
    return im_add_const(im, vi->name, *bt, b->value->data) < 0 ? -1 : 0;
}

static int import_graph(Importer *im, const Onnx__ModelProto *m) {
    Graph *g = im->g;
    const Onnx__GraphProto *gp = m->graph;

    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name) return diag(im->d, "initializer %zu has no name", i);
        Type t;
        void *data;
        if (tensor_from_proto(tp, im->dir, &t, &data, im->d) < 0) return wrap(im->d, im->path);
        int v = im_add_const(im, tp->name, t, data);
        free(data);
        if (v < 0) return -1;
    }
    if (gp->n_sparse_initializer)
        return diag(im->d, "unsupported: sparse initializer '%s'",
                    gp->sparse_initializer[0]->values && gp->sparse_initializer[0]->values->name
                        ? gp->sparse_initializer[0]->values->name
                        : "");

    /* Graph inputs (ONNX IR < 4 also lists the initializers there: those stay constants). */
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        const char *name = vi->name ? vi->name : "";
        int v = graph_find_value(g, name);
        if (v >= 0 && (gval(g, v)->flags & VAL_CONST)) continue;
        if (!*name) return diag(im->d, "graph input %zu has no name", i);
        if (v >= 0) return diag(im->d, "graph input '%s' is listed twice", name);
        Type t;
        if (vi_type(im, vi, true, &t) < 0) return -1;
        const InputBinding *b = find_binding(im->opts, name);
        if (b) {
            if (bind_input(im, vi, &t, b) < 0) return -1;
            continue;
        }
        const ShapeOverride *s = find_override(im->opts, name);
        if (s) {
            if (t.rank != IR_RANK_UNKNOWN && t.rank != s->rank)
                return diag(im->d, "--shape %s: %d dims given, the input has rank %d", name,
                            s->rank, t.rank);
            t.rank = s->rank;
            for (int k = 0; k < s->rank; k++) t.dims[k] = s->dims[k];
        }
        graph_add_input(g, graph_add_value(g, name, t));
    }
    for (int i = 0; im->opts && i < im->opts->nshapes; i++) {
        const char *name = im->opts->shapes[i].name;
        int v = graph_find_value(g, name);
        bool is_input = false;
        for (int j = 0; j < g->ninput; j++) is_input |= g->inputs[j] == v;
        if (v < 0 || !is_input)
            return diag(im->d, "--shape %s: the model has no graph input named '%s'", name, name);
    }
    for (int i = 0; im->opts && i < im->opts->nbinds; i++) {
        const char *name = im->opts->binds[i].name;
        int v = graph_find_value(g, name);
        bool bound = false;
        for (size_t j = 0; j < gp->n_input; j++)
            bound |= gp->input[j]->name && !strcmp(gp->input[j]->name, name);
        for (size_t j = 0; bound && j < gp->n_initializer; j++)
            bound = strcmp(gp->initializer[j]->name, name) != 0;
        if (v < 0 || !bound)
            return diag(im->d, "--bind %s: the model has no graph input named '%s'", name, name);
    }

    /* Declared types of intermediate values and outputs. */
    im->nvis = (int)(gp->n_value_info + gp->n_output);
    im->vis = malloc((size_t)(im->nvis + 1) * sizeof *im->vis);
    strmap_init(&im->vinfo, g->arena);
    int k = 0;
    for (size_t i = 0; i < gp->n_value_info; i++) im->vis[k++] = gp->value_info[i];
    for (size_t i = 0; i < gp->n_output; i++) im->vis[k++] = gp->output[i];
    for (int i = 0; i < im->nvis; i++)
        if (im->vis[i]->name && *im->vis[i]->name) strmap_put(&im->vinfo, im->vis[i]->name, i);

    for (size_t i = 0; i < gp->n_node; i++)
        if (import_node(im, gp->node[i], (int)i) < 0) return -1;
    /* normalize_node may append nodes (opsets < 7); restore execution order. */
    if (graph_compact(g, im->d) < 0) return -1;

    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name ? gp->output[i]->name : "";
        int v = graph_find_value(g, name);
        if (v < 0 && seq_lookup(im, name) >= 0)
            return diag(im->d,
                        "unsupported: graph output '%s' is a sequence (a compiled model returns "
                        "tensors only)",
                        name);
        if (v < 0) return diag(im->d, "graph output '%s' is not defined", name);
        graph_add_output(g, v);
    }
    if (gp->n_output == 0) return diag(im->d, "%s: the graph has no outputs", im->path);
    seq_finish(im);
    return graph_compact(g, im->d);
}

Graph *onnx_import(const char *path, const ImportOptions *o, Diag *d) {
    uint8_t *buf;
    size_t len;
    if (read_whole_file(path, &buf, &len, d) < 0) return NULL;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!m) {
        diag(d, "%s: not an ONNX model (the protobuf is corrupt or truncated)", path);
        return NULL;
    }
    Graph *g = NULL;
    int64_t opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++)
        if (default_domain(m->opset_import[i]->domain)) opset = m->opset_import[i]->version;
    if (!m->graph) {
        diag(d, "%s: the model has no graph", path);
    } else if (opset < 0) {
        /* e.g. only ai.onnx.preview.training (Adagrad, Adam, Momentum): name the domain */
        const Onnx__OperatorSetIdProto *other = m->n_opset_import ? m->opset_import[0] : NULL;
        if (other && other->domain)
            diag(d,
                 "%s: unsupported: domain '%s' (opset %lld); the model imports no opset of the "
                 "default ONNX domain",
                 path, other->domain, (long long)other->version);
        else
            diag(d, "%s: the model imports no opset of the default ONNX domain", path);
    } else if (opset < OPSET_MIN || opset > OPSET_MAX) {
        diag(d, "%s: unsupported: opset %lld (isbc supports opsets %d-%d)", path, (long long)opset,
             OPSET_MIN, OPSET_MAX);
    } else {
        g = graph_new(m->graph->name ? m->graph->name : "");
        g->opset = (int)opset;
        for (size_t i = 0; i < m->n_metadata_props; i++) {
            const Onnx__StringStringEntryProto *p = m->metadata_props[i];
            if (p->key && p->value) graph_set_meta(g, p->key, p->value);
        }
        char *dir = strdup(path), *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            strcpy(dir, ".");
        Scope top = {.suffix = "", .parent = NULL};
        strmap_init(&top.vals, g->arena);
        strmap_init(&top.seqs, g->arena);
        Importer im = {
            .g = g, .path = path, .dir = dir, .opts = o, .d = d, .model = m, .scope = &top};
        int rc = import_graph(&im, m);
        seq_free(&im);
        Branch *branches; /* docs/annotations.md: a bad one is an error */
        if (rc == 0 && annot_branches(g, &branches, d) < 0) rc = -1;
        free(im.vis);
        free(dir);
        if (rc < 0) {
            graph_free(g);
            g = NULL;
        }
    }
    onnx__model_proto__free_unpacked(m, NULL);
    return g;
}

/* ---- --shape ------------------------------------------------------------------------------- */

int parse_dims(const char *text, ShapeOverride *s, Diag *d) {
    const char *p = text;
    s->rank = 0;
    if (!*p) return diag(d, "empty shape (expected dims like 1x3x224x224)");
    for (;;) {
        if (*p < '0' || *p > '9')
            return diag(d, "bad shape '%s': expected positive integers separated by 'x'", text);
        int64_t v = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (v > ((int64_t)1 << 40)) return diag(d, "bad shape '%s': dim too large", text);
            v = v * 10 + (*p - '0');
        }
        if (v == 0) return diag(d, "bad shape '%s': dims must be positive", text);
        if (s->rank == IR_MAX_RANK)
            return diag(d, "bad shape '%s': more than %d dims", text, IR_MAX_RANK);
        s->dims[s->rank++] = v;
        if (!*p) return 0;
        if (*p != 'x' || !p[1])
            return diag(d, "bad shape '%s': expected positive integers separated by 'x'", text);
        p++;
    }
}
