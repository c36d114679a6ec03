/* shape.c — shape rules: the output Types of a node from its input Types (and, for the
 * data-dependent ops, its constant inputs), following the ONNX operator spec in the newest
 * opset form (the frontend rewrites older forms: Clip/Pad/Slice/Split/Squeeze/Unsqueeze/
 * Reduce* take their parameters as inputs; the attribute forms are still accepted here).
 * Broadcasting is numpy's (ONNX "Broadcasting in ONNX", multidirectional).
 *
 *   int infer_node(Graph *g, int node, Diag *d);
 *     Sets the types of node's outputs. Returns 0, or -1 with d set to a message naming the
 *     op, opset and node: "unsupported: ..." for what isbc does not handle, a plain message
 *     for a malformed model (mismatched shapes, bad attributes).
 *   void slice_bounds(int64_t dim, int64_t start, int64_t end, int64_t step,
 *                     int64_t *first, int64_t *len);
 *     Slice-13 clamping of one axis (also used by the evaluator).
 *
 * The symbolic batch N is only ever dims[0]. It flows through ops that keep dim 0 in place;
 * a rule that would move N elsewhere, merge it with other dims, or equate it with a fixed
 * size fails with "unsupported: <op> moves the batch dimension ...; fix it with --shape".
 *
 * node_flops counts the FLOPs of one node per batch instance (dims[0] == N counted as 1),
 * multiply-add = 2. */
#include "ir.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* Not yet in ir.h (passes/eval.h declares it meanwhile). */
void slice_bounds(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first,
                  int64_t *len);

#define MAXV 64 /* most elements read from a constant parameter input */

typedef struct Ctx {
    Graph *g;
    Node *n;
    const char *op;
    Diag *d;
    char label[200];
} Ctx;

/* ---- messages ---------------------------------------------------------------------------- */

/* A malformed model: "<op> (opset N) at node 'x': <detail>". */
static int fail(Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(Ctx *c, const char *fmt, ...) {
    char buf[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return diag(c->d, "%s (opset %d) at node '%s': %s", c->op, c->g->opset, c->label, buf);
}

/* Something isbc does not handle: "unsupported: <op> <what> (opset N) at node 'x'". */
static int unsupported(Ctx *c, const char *what) {
    return diag(c->d, "unsupported: %s %s (opset %d) at node '%s'", c->op, what, c->g->opset,
                c->label);
}

static int batch_moved(Ctx *c) {
    return diag(c->d,
                "unsupported: %s moves the batch dimension (opset %d) at node '%s'; fix it with "
                "--shape",
                c->op, c->g->opset, c->label);
}

/* N meets a fixed size where the two must be equal. */
static int batch_fixed(Ctx *c, int64_t other) {
    return diag(c->d,
                "unsupported: %s equates the batch dimension N with the fixed size %lld (opset "
                "%d) at node '%s'; fix it with --shape",
                c->op, (long long)other, c->g->opset, c->label);
}

static const char *tstr(const Type *t, char *buf) {
    return type_str(t, buf, 128);
}

/* ---- small helpers ----------------------------------------------------------------------- */

static const Type *tin(Ctx *c, int i) {
    if (i >= c->n->nin || c->n->in[i] < 0) return NULL;
    return &gval(c->g, c->n->in[i])->type;
}

static void set_out(Ctx *c, int k, Type t) {
    if (k < c->n->nout && c->n->out[k] >= 0) gval(c->g, c->n->out[k])->type = t;
}

static int64_t prod(const int64_t *dims, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p = sat_mul(p, dims[i]);
    return p;
}

static int norm_axis(Ctx *c, int64_t a, int rank, int *out) {
    *out = axis_index(a, rank);
    if (*out < 0) {
        *out = 0;
        return fail(c, "axis %lld is out of range for rank %d", (long long)a, rank);
    }
    return 0;
}

/* Input i (named `what` in messages) is not a constant. When it is a graph input, the
 * message names the driver option that makes it one. */
static int non_constant(Ctx *c, int i, const char *what) {
    const Value *v = gval(c->g, c->n->in[i]);
    if (!(v->flags & VAL_INPUT))
        return diag(c->d, "unsupported: %s with a non-constant %s (opset %d) at node '%s'", c->op,
                    what, c->g->opset, c->label);
    return diag(c->d,
                "unsupported: %s with a non-constant %s (opset %d) at node '%s'; it is the graph "
                "input '%s': give its value at compile time with --bind %s=FILE",
                c->op, what, c->g->opset, c->label, v->name, v->name);
}

/* Ints from constant input i (what: its name for messages). -1 with d set if not constant. */
static int const_input(Ctx *c, int i, const char *what, int64_t *out, int *count) {
    if (!value_const_ints(c->g, c->n->in[i], out, MAXV, count)) return non_constant(c, i, what);
    return 0;
}

/* An ints parameter that the newest opset takes as input i and older opsets as attribute
 * `name`. *count = -1 if neither is given. */
static int param_ints(Ctx *c, int i, const char *name, int64_t *out, int *count) {
    if (tin(c, i)) return const_input(c, i, name, out, count);
    const int64_t *v;
    int k = attr_ints(c->n, name, &v);
    if (k > MAXV) return fail(c, "too many values in '%s'", name);
    for (int j = 0; j < k; j++) out[j] = v[j];
    *count = k;
    return 0;
}

/* Ints attribute `name` of exactly `want` values, or `dflt` everywhere if absent. */
static int attr_vec(Ctx *c, const char *name, int want, int64_t dflt, int64_t *out) {
    const int64_t *v;
    int k = attr_ints(c->n, name, &v);
    if (k < 0) {
        for (int i = 0; i < want; i++) out[i] = dflt;
        return 0;
    }
    if (k != want) return fail(c, "'%s' has %d values, expected %d", name, k, want);
    for (int i = 0; i < want; i++) out[i] = v[i];
    return 0;
}

/* Output rank check (the IR has a fixed maximum). */
static int check_rank(Ctx *c, int rank) {
    if (rank > IR_MAX_RANK) {
        char buf[64];
        snprintf(buf, sizeof buf, "with an output of rank %d (max %d)", rank, IR_MAX_RANK);
        return unsupported(c, buf);
    }
    return 0;
}

/* ---- broadcasting ------------------------------------------------------------------------ */

/* Multidirectional (numpy) broadcast of ts[0..nt) into out->rank/dims. */
static int broadcast(Ctx *c, int nt, const Type *const *ts, Type *out) {
    int r = 0;
    for (int i = 0; i < nt; i++)
        if (ts[i]->rank > r) r = ts[i]->rank;
    out->rank = r;
    for (int j = 0; j < r; j++) {
        int64_t dim = 1;
        for (int i = 0; i < nt; i++) {
            int k = j - (r - ts[i]->rank);
            if (k < 0) continue;
            int64_t e = ts[i]->dims[k];
            if (e == IR_DIM_N && j != 0) return batch_moved(c);
            if (e == 1) continue;
            if (dim == 1)
                dim = e;
            else if (dim != e) {
                if (dim == IR_DIM_N || e == IR_DIM_N) return batch_fixed(c, dim + e - IR_DIM_N);
                char msg[600] = "", b[128];
                for (int q = 0; q < nt; q++) {
                    strncat(msg, q ? " and " : "", sizeof msg - strlen(msg) - 1);
                    strncat(msg, tstr(ts[q], b), sizeof msg - strlen(msg) - 1);
                }
                return fail(c, "shapes %s do not broadcast", msg);
            }
        }
        out->dims[j] = dim;
    }
    return 0;
}

/* The elementwise ops: all inputs broadcast; out dtype `dt` (or input 0's if DT_UNDEF).
 * `same`: present inputs from `first` on must share input `first`'s dtype. */
static int rule_broadcast(Ctx *c, int first, int dt, bool same) {
    const Type *ts[64];
    int nt = 0;
    for (int i = first; i < c->n->nin; i++) {
        const Type *t = tin(c, i);
        /* None of these ops has an optional input; a variadic one (Max-13, Sum-13 …) may not
         * be given as "" either. */
        if (!t) return fail(c, "input %d is empty (it is not optional)", i);
        if (same && nt && t->dtype != ts[0]->dtype) {
            char a[128], b[128];
            return fail(c, "input types %s and %s differ", tstr(ts[0], a), tstr(t, b));
        }
        ts[nt++] = t;
    }
    Type out = {.dtype = dt ? dt : ts[0]->dtype};
    if (broadcast(c, nt, ts, &out) < 0) return -1;
    set_out(c, 0, out);
    return 0;
}

/* ---- convolution and pooling ------------------------------------------------------------- */

/* Output size of one spatial axis (ONNX Conv-11, MaxPool-12, AveragePool-19 formulas; with
 * ceil_mode a window that would start in the trailing padding is dropped, as in PyTorch and
 * onnx/onnx#5741). */
static int spatial_out(Ctx *c, const char *auto_pad, int64_t in, int64_t k, int64_t s, int64_t dil,
                       int64_t pb, int64_t pe, bool ceil_mode, int64_t *out) {
    if (k < 1 || s < 1 || dil < 1 || pb < 0 || pe < 0)
        return fail(c, "bad kernel %lld, stride %lld, dilation %lld or pads %lld,%lld",
                    (long long)k, (long long)s, (long long)dil, (long long)pb, (long long)pe);
    int64_t ek = (k - 1) * dil + 1;
    if (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER")) {
        *out = (in + s - 1) / s;
        return 0;
    }
    if (!strcmp(auto_pad, "VALID"))
        pb = pe = 0;
    else if (strcmp(auto_pad, "NOTSET") != 0) {
        char buf[128];
        snprintf(buf, sizeof buf, "with auto_pad '%.60s'", auto_pad);
        return unsupported(c, buf);
    }
    int64_t span = in + pb + pe - ek;
    if (span < 0)
        return fail(c, "kernel extent %lld exceeds the padded input size %lld", (long long)ek,
                    (long long)(in + pb + pe));
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + pb) o--;
    *out = o;
    return 0;
}

/* Spatial dims of x (rank r, spatial axes 2..r) into out->dims[2..]. */
static int spatial_all(Ctx *c, const Type *x, const int64_t *kernel, bool ceil_mode, bool dils,
                       Type *out) {
    int s = x->rank - 2;
    int64_t strides[IR_MAX_RANK], dil[IR_MAX_RANK], pads[2 * IR_MAX_RANK];
    if (attr_vec(c, "strides", s, 1, strides) < 0 || attr_vec(c, "pads", 2 * s, 0, pads) < 0)
        return -1;
    if (dils) {
        if (attr_vec(c, "dilations", s, 1, dil) < 0) return -1;
    } else {
        for (int i = 0; i < s; i++) dil[i] = 1;
    }
    const char *ap = attr_string(c->n, "auto_pad", "NOTSET");
    for (int i = 0; i < s; i++)
        if (spatial_out(c, ap, x->dims[2 + i], kernel[i], strides[i], dil[i], pads[i], pads[s + i],
                        ceil_mode, &out->dims[2 + i]) < 0)
            return -1;
    return 0;
}

static int need_image(Ctx *c, const Type *x) {
    char b[128];
    if (x->rank < 3) return fail(c, "input %s must have rank >= 3 (N, C, spatial...)", tstr(x, b));
    return 0;
}

/* Conv-11: X [N, C, D...], W [M, C/group, k...], B [M] -> [N, M, O...]. */
static int rule_conv(Ctx *c) {
    const Type *x = tin(c, 0), *w = tin(c, 1), *b = tin(c, 2);
    char b1[128], b2[128];
    if (need_image(c, x) < 0) return -1;
    if (w->rank != x->rank || type_has_batch(w))
        return fail(c, "weight %s does not match input %s", tstr(w, b1), tstr(x, b2));
    int64_t group = attr_int(c->n, "group", 1);
    if (group < 1 || x->dims[1] != w->dims[1] * group || w->dims[0] % group != 0)
        return fail(c, "input %s, weight %s and group %lld do not agree", tstr(x, b1), tstr(w, b2),
                    (long long)group);
    int s = x->rank - 2;
    const int64_t *ks;
    int nk = attr_ints(c->n, "kernel_shape", &ks);
    if (nk >= 0 && (nk != s || memcmp(ks, w->dims + 2, sizeof *ks * (size_t)s) != 0))
        return fail(c, "kernel_shape does not match weight %s", tstr(w, b1));
    if (b && (b->rank != 1 || b->dims[0] != w->dims[0]))
        return fail(c, "bias %s does not match weight %s", tstr(b, b1), tstr(w, b2));
    Type out = *x;
    out.dims[1] = w->dims[0];
    if (spatial_all(c, x, w->dims + 2, false, true, &out) < 0) return -1;
    set_out(c, 0, out);
    return 0;
}

/* MaxPool-12 / AveragePool-11: kernel_shape required; MaxPool's Indices output is i64. */
static int rule_pool(Ctx *c) {
    const Type *x = tin(c, 0);
    if (need_image(c, x) < 0) return -1;
    const int64_t *ks;
    int nk = attr_ints(c->n, "kernel_shape", &ks);
    if (nk != x->rank - 2) return fail(c, "kernel_shape must have %d values", x->rank - 2);
    Type out = *x;
    /* dilations: MaxPool-10, AveragePool-19 (the frontend refuses them on older AveragePool) */
    if (spatial_all(c, x, ks, attr_int(c->n, "ceil_mode", 0) != 0, true, &out) < 0) return -1;
    set_out(c, 0, out);
    out.dtype = DT_I64;
    set_out(c, 1, out);
    return 0;
}

static int rule_global_pool(Ctx *c) {
    const Type *x = tin(c, 0);
    if (need_image(c, x) < 0) return -1;
    Type out = *x;
    for (int i = 2; i < x->rank; i++) out.dims[i] = 1;
    set_out(c, 0, out);
    return 0;
}

/* BatchNormalization-15 (inference): X [N, C, ...], scale/B/mean/var [C]. */
static int rule_batchnorm(Ctx *c) {
    const Type *x = tin(c, 0);
    char b1[128], b2[128];
    int64_t ch = x->rank >= 2 ? x->dims[1] : 1;
    for (int i = 1; i < 5; i++) {
        const Type *p = tin(c, i);
        if (p->rank != 1 || p->dims[0] != ch)
            return fail(c, "parameter %d %s does not match input %s", i, tstr(p, b1), tstr(x, b2));
    }
    set_out(c, 0, *x);
    for (int k = 1; k < 3; k++) set_out(c, k, type_make(x->dtype, 1, &ch));
    return 0;
}

/* ---- matrix products --------------------------------------------------------------------- */

static int no_batch_after_0(Ctx *c, const Type *t) {
    for (int i = 1; i < t->rank; i++)
        if (t->dims[i] == IR_DIM_N) return batch_moved(c);
    return 0;
}

/* Gemm-13: Y = alpha op(A) op(B) + beta C, op(A) [M,K], op(B) [K,N], C broadcast to [M,N]. */
static int rule_gemm(Ctx *c) {
    const Type *a = tin(c, 0), *b = tin(c, 1), *cc = tin(c, 2);
    char b1[128], b2[128];
    if (a->rank != 2 || b->rank != 2)
        return fail(c, "inputs %s and %s must be matrices", tstr(a, b1), tstr(b, b2));
    bool ta = attr_int(c->n, "transA", 0) != 0, tb = attr_int(c->n, "transB", 0) != 0;
    int64_t m = a->dims[ta], k = a->dims[!ta], kb = b->dims[tb], nn = b->dims[!tb];
    if (k == IR_DIM_N || kb == IR_DIM_N || nn == IR_DIM_N) return batch_moved(c);
    if (k != kb) return fail(c, "inner dimensions of %s and %s differ", tstr(a, b1), tstr(b, b2));
    int64_t dims[2] = {m, nn};
    Type out = type_make(a->dtype, 2, dims);
    if (cc) {
        if (cc->rank > 2) return fail(c, "C %s has rank > 2", tstr(cc, b1));
        for (int i = 0; i < cc->rank; i++) {
            int64_t e = cc->dims[i], o = out.dims[2 - cc->rank + i];
            if (e != 1 && e != o) {
                if (e == IR_DIM_N || o == IR_DIM_N) return batch_fixed(c, e + o - IR_DIM_N);
                return fail(c, "C %s does not broadcast to %s", tstr(cc, b1), tstr(&out, b2));
            }
        }
    }
    set_out(c, 0, out);
    return 0;
}

/* MatMul-13: numpy matmul; 1-D operands get a dim prepended (A) / appended (B), removed after. */
static int rule_matmul(Ctx *c) {
    const Type *a = tin(c, 0), *b = tin(c, 1);
    char b1[128], b2[128];
    if (a->rank < 1 || b->rank < 1)
        return fail(c, "inputs %s and %s must have rank >= 1", tstr(a, b1), tstr(b, b2));
    int64_t ka = a->dims[a->rank - 1], kb = b->dims[b->rank >= 2 ? b->rank - 2 : 0];
    if (ka == IR_DIM_N || kb == IR_DIM_N) return batch_moved(c);
    if (ka != kb) return fail(c, "inner dimensions of %s and %s differ", tstr(a, b1), tstr(b, b2));
    Type ba = {.rank = a->rank >= 2 ? a->rank - 2 : 0},
         bb = {.rank = b->rank >= 2 ? b->rank - 2 : 0};
    memcpy(ba.dims, a->dims, sizeof(int64_t) * (size_t)ba.rank);
    memcpy(bb.dims, b->dims, sizeof(int64_t) * (size_t)bb.rank);
    const Type *ts[2] = {&ba, &bb};
    Type out = {.dtype = a->dtype};
    if (broadcast(c, 2, ts, &out) < 0) return -1;
    if (a->rank >= 2) out.dims[out.rank++] = a->dims[a->rank - 2];
    if (b->rank >= 2) {
        if (check_rank(c, out.rank + 1) < 0) return -1;
        out.dims[out.rank++] = b->dims[b->rank - 1];
    }
    if (no_batch_after_0(c, &out) < 0) return -1;
    set_out(c, 0, out);
    return 0;
}

/* ---- reductions, softmax ----------------------------------------------------------------- */

/* Softmax-13 / LogSoftmax-13 (older forms have the same output shape). */
static int rule_softmax(Ctx *c) {
    const Type *x = tin(c, 0);
    int ax;
    if (norm_axis(c, attr_int(c->n, "axis", c->g->opset >= 13 ? -1 : 1), x->rank, &ax) < 0)
        return -1;
    set_out(c, 0, *x);
    return 0;
}

/* ReduceX-18 (ReduceSum-13): axes from input 1 (or the older attribute); empty means all
 * axes, or none with noop_with_empty_axes. Reducing over N merges instances: unsupported. */
static int rule_reduce(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t axes[MAXV];
    int na;
    if (param_ints(c, 1, "axes", axes, &na) < 0) return -1;
    bool keep = attr_int(c->n, "keepdims", 1) != 0;
    bool red[IR_MAX_RANK] = {false};
    if (na <= 0) {
        bool noop = attr_int(c->n, "noop_with_empty_axes", 0) != 0;
        for (int i = 0; i < x->rank; i++) red[i] = !noop;
    }
    for (int i = 0; i < na; i++) {
        int a;
        if (norm_axis(c, axes[i], x->rank, &a) < 0) return -1;
        if (red[a]) return fail(c, "axis %lld is repeated", (long long)axes[i]);
        red[a] = true;
    }
    Type out = {.dtype = x->dtype};
    for (int i = 0; i < x->rank; i++) {
        if (red[i] && x->dims[i] == IR_DIM_N) return batch_moved(c);
        if (!red[i])
            out.dims[out.rank++] = x->dims[i];
        else if (keep)
            out.dims[out.rank++] = 1;
    }
    set_out(c, 0, out);
    return 0;
}

/* ---- shape and data movement ------------------------------------------------------------- */

/* Flatten-13: [prod(dims[:axis]), prod(dims[axis:])]. N stays only as [N, rest]. */
static int rule_flatten(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t axis = attr_int(c->n, "axis", 1);
    if (axis < -x->rank || axis > x->rank)
        return fail(c, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
    int ax = (int)(axis < 0 ? axis + x->rank : axis);
    int64_t dims[2];
    if (type_has_batch(x)) {
        if (ax == 0 || prod(x->dims, 1, ax) != 1) return batch_moved(c);
        dims[0] = IR_DIM_N;
    } else {
        dims[0] = prod(x->dims, 0, ax);
    }
    dims[1] = prod(x->dims, ax, x->rank);
    set_out(c, 0, type_make(x->dtype, 2, dims));
    return 0;
}

/* Reshape-14: 0 copies the input dim (unless allowzero), one -1 is inferred. With N in the
 * input, the target must keep N at dim 0: target[0] is 0 (copy) or -1 with the rest fixed. */
static int rule_reshape(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t t[MAXV];
    int nt;
    if (const_input(c, 1, "shape", t, &nt) < 0) return -1;
    if (check_rank(c, nt) < 0) return -1;
    bool allowzero = attr_int(c->n, "allowzero", 0) != 0;
    bool batch = type_has_batch(x);
    Type out = {.dtype = x->dtype, .rank = nt};
    int infer = -1;
    for (int i = 0; i < nt; i++) {
        int64_t e = t[i];
        if (e == 0 && !allowzero) {
            if (i >= x->rank) return fail(c, "shape element %d copies a missing input dim", i);
            e = x->dims[i];
        } else if (e == -1) {
            if (infer >= 0) return fail(c, "shape has more than one -1");
            infer = i;
        } else if (e < 0) {
            return fail(c, "shape element %d is %lld", i, (long long)e);
        }
        out.dims[i] = e;
    }
    /* Element counts per instance when the input has N (dims[0] counted as 1). */
    int64_t in_n = batch ? prod(x->dims, 1, x->rank) : prod(x->dims, 0, x->rank);
    int64_t known = 1;
    for (int i = 0; i < nt; i++)
        if (i != infer && out.dims[i] != IR_DIM_N) known = sat_mul(known, out.dims[i]);
    if (batch) {
        bool keeps = nt >= 1 && (out.dims[0] == IR_DIM_N || (infer == 0));
        for (int i = 1; i < nt; i++)
            if (i != infer && out.dims[i] == IR_DIM_N) keeps = false; /* the -1 equals IR_DIM_N */
        if (!keeps) return batch_moved(c);
        if (infer == 0) {
            if (known != in_n) return batch_moved(c);
            out.dims[0] = IR_DIM_N;
            infer = -1;
        }
    }
    if (infer >= 0) {
        if (known == 0 || in_n % known != 0)
            return fail(c, "cannot reshape %lld elements with a -1 into a shape of %lld",
                        (long long)in_n, (long long)known);
        out.dims[infer] = in_n / known;
        known = in_n;
    }
    if (known != in_n) {
        char b1[128], b2[128];
        return fail(c, "cannot reshape %s into %s", tstr(x, b1), tstr(&out, b2));
    }
    set_out(c, 0, out);
    return 0;
}

/* Squeeze-13: axes from input 1 (or attribute); without axes every size-1 dim goes. */
static int rule_squeeze(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t axes[MAXV];
    int na;
    if (param_ints(c, 1, "axes", axes, &na) < 0) return -1;
    bool drop[IR_MAX_RANK] = {false};
    if (na < 0) {
        for (int i = 0; i < x->rank; i++) drop[i] = x->dims[i] == 1;
    }
    for (int i = 0; i < na; i++) {
        int a;
        if (norm_axis(c, axes[i], x->rank, &a) < 0) return -1;
        if (x->dims[a] == IR_DIM_N) return batch_moved(c);
        if (x->dims[a] != 1)
            return fail(c, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
        drop[a] = true;
    }
    Type out = {.dtype = x->dtype};
    for (int i = 0; i < x->rank; i++)
        if (!drop[i]) out.dims[out.rank++] = x->dims[i];
    set_out(c, 0, out);
    return 0;
}

/* Unsqueeze-13: axes (input 1 or attribute) index the output. */
static int rule_unsqueeze(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t axes[MAXV];
    int na;
    if (param_ints(c, 1, "axes", axes, &na) < 0) return -1;
    if (na < 0) return fail(c, "axes are required");
    int r = x->rank + na;
    if (check_rank(c, r) < 0) return -1;
    bool ins[IR_MAX_RANK] = {false};
    for (int i = 0; i < na; i++) {
        int a;
        if (norm_axis(c, axes[i], r, &a) < 0) return -1;
        if (ins[a]) return fail(c, "axis %lld is repeated", (long long)axes[i]);
        ins[a] = true;
    }
    if (type_has_batch(x) && ins[0]) return batch_moved(c);
    Type out = {.dtype = x->dtype, .rank = r};
    for (int i = 0, k = 0; i < r; i++) out.dims[i] = ins[i] ? 1 : x->dims[k++];
    set_out(c, 0, out);
    return 0;
}

/* Transpose-13: perm defaults to reversing the dims. */
static int rule_transpose(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t perm[IR_MAX_RANK];
    const int64_t *p;
    int np = attr_ints(c->n, "perm", &p);
    if (np >= 0 && np != x->rank) return fail(c, "perm has %d values for rank %d", np, x->rank);
    bool seen[IR_MAX_RANK] = {false};
    for (int i = 0; i < x->rank; i++) {
        perm[i] = np >= 0 ? p[i] : x->rank - 1 - i;
        if (perm[i] < 0 || perm[i] >= x->rank || seen[perm[i]]) return fail(c, "bad perm");
        seen[perm[i]] = true;
    }
    if (type_has_batch(x) && perm[0] != 0) return batch_moved(c);
    Type out = {.dtype = x->dtype, .rank = x->rank};
    for (int i = 0; i < x->rank; i++) out.dims[i] = x->dims[perm[i]];
    set_out(c, 0, out);
    return 0;
}

/* Concat-13: same rank and dims except along axis. */
static int rule_concat(Ctx *c) {
    const Type *x = tin(c, 0);
    char b1[128], b2[128];
    if (x->rank == 0) return fail(c, "cannot concatenate scalars");
    int ax;
    if (norm_axis(c, attr_int(c->n, "axis", 0), x->rank, &ax) < 0) return -1;
    Type out = *x;
    out.dims[ax] = 0;
    for (int i = 0; i < c->n->nin; i++) {
        const Type *t = tin(c, i);
        if (!t) return fail(c, "input %d is missing", i);
        if (t->dtype != x->dtype || t->rank != x->rank)
            return fail(c, "input %s does not match %s", tstr(t, b1), tstr(x, b2));
        for (int k = 0; k < x->rank; k++) {
            if (k == ax) continue;
            if (t->dims[k] != x->dims[k]) {
                if (t->dims[k] == IR_DIM_N || x->dims[k] == IR_DIM_N)
                    return batch_fixed(c, t->dims[k] + x->dims[k] - IR_DIM_N);
                return fail(c, "input %s does not match %s", tstr(t, b1), tstr(x, b2));
            }
        }
        if (t->dims[ax] == IR_DIM_N) return batch_moved(c);
        out.dims[ax] += t->dims[ax];
    }
    set_out(c, 0, out);
    return 0;
}

/* Split-18: sizes from input 1 (or attribute 'split'), else num_outputs parts of
 * ceil(dim / num_outputs) (the last one smaller), else equal parts. */
static int rule_split(Ctx *c) {
    const Type *x = tin(c, 0);
    int ax;
    if (norm_axis(c, attr_int(c->n, "axis", 0), x->rank, &ax) < 0) return -1;
    if (x->dims[ax] == IR_DIM_N) return batch_moved(c);
    int64_t dim = x->dims[ax], sz[MAXV];
    int no = c->n->nout, ns;
    if (param_ints(c, 1, "split", sz, &ns) < 0) return -1;
    if (ns >= 0) {
        int64_t sum = 0;
        for (int i = 0; i < ns; i++) sum += sz[i] >= 0 ? sz[i] : -1;
        if (ns != no || sum != dim)
            return fail(c, "split sizes (%d of them) do not add up to dim %lld for %d outputs", ns,
                        (long long)dim, no);
    } else {
        int64_t parts = attr_int(c->n, "num_outputs", no);
        if (parts != no) return fail(c, "num_outputs %lld but %d outputs", (long long)parts, no);
        int64_t chunk = (dim + no - 1) / no;
        if (!node_attr(c->n, "num_outputs") && dim % no != 0)
            return fail(c, "dim %lld does not split evenly into %d outputs", (long long)dim, no);
        for (int i = 0; i < no; i++) {
            int64_t left = dim - chunk * i;
            sz[i] = left < chunk ? (left > 0 ? left : 0) : chunk;
        }
    }
    for (int i = 0; i < no; i++) {
        Type out = *x;
        out.dims[ax] = sz[i];
        set_out(c, i, out);
    }
    return 0;
}

/* Slice-13 on one axis of size dim: the first index taken and the number taken. */
void slice_bounds(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first,
                  int64_t *len) {
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        *len = end > start ? (end - start + step - 1) / step : 0;
    } else {
        start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
        end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
        *len = start > end ? (start - end + (-step) - 1) / (-step) : 0;
    }
    *first = start;
}

/* Slice-13: starts, ends, axes, steps (inputs 1..4, or the Slice-1 attributes). */
static int rule_slice(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t st[MAXV], en[MAXV], ax[MAXV], sp[MAXV];
    int ns, ne, na, np;
    if (param_ints(c, 1, "starts", st, &ns) < 0 || param_ints(c, 2, "ends", en, &ne) < 0 ||
        param_ints(c, 3, "axes", ax, &na) < 0)
        return -1;
    np = -1;
    if (tin(c, 4) && const_input(c, 4, "steps", sp, &np) < 0) return -1;
    if (ns < 0 || ne != ns || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return fail(c, "starts, ends, axes and steps differ in length");
    Type out = *x;
    bool seen[IR_MAX_RANK] = {false};
    for (int i = 0; i < ns; i++) {
        int a;
        if (norm_axis(c, na >= 0 ? ax[i] : i, x->rank, &a) < 0) return -1;
        if (seen[a]) return fail(c, "axis %d is repeated", a);
        seen[a] = true;
        int64_t step = np >= 0 ? sp[i] : 1;
        if (step == 0) return fail(c, "step is 0");
        if (x->dims[a] == IR_DIM_N) {
            /* Only the whole batch, in order, keeps N. */
            if (step != 1 || (st[i] != 0 && st[i] > -((int64_t)1 << 62)) ||
                en[i] < (int64_t)INT32_MAX)
                return batch_moved(c);
            continue;
        }
        int64_t first;
        slice_bounds(x->dims[a], st[i], en[i], step, &first, &out.dims[a]);
    }
    set_out(c, 0, out);
    return 0;
}

/* Gather-13: data[:axis] + indices.shape + data[axis+1:]. */
static int rule_gather(Ctx *c) {
    const Type *x = tin(c, 0), *idx = tin(c, 1);
    if (idx->dtype != DT_I64 && idx->dtype != DT_I32) return fail(c, "indices must be i32 or i64");
    if (x->rank == 0) return fail(c, "data must have rank >= 1");
    int ax;
    if (norm_axis(c, attr_int(c->n, "axis", 0), x->rank, &ax) < 0) return -1;
    int r = x->rank - 1 + idx->rank;
    if (check_rank(c, r) < 0) return -1;
    if (x->dims[ax] == IR_DIM_N || (type_has_batch(idx) && ax != 0)) return batch_moved(c);
    int64_t iv[MAXV];
    int ni;
    if (value_const_ints(c->g, c->n->in[1], iv, MAXV, &ni))
        for (int i = 0; i < ni; i++)
            if (iv[i] < -x->dims[ax] || iv[i] >= x->dims[ax])
                return fail(c, "index %lld is out of range for dim %lld", (long long)iv[i],
                            (long long)x->dims[ax]);
    Type out = {.dtype = x->dtype, .rank = r};
    int k = 0;
    for (int i = 0; i < ax; i++) out.dims[k++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++) out.dims[k++] = idx->dims[i];
    for (int i = ax + 1; i < x->rank; i++) out.dims[k++] = x->dims[i];
    set_out(c, 0, out);
    return 0;
}

/* Shape-15: i64 [end - start] (start/end clamped like Slice). */
static int rule_shape(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t first, len;
    slice_bounds(x->rank, attr_int(c->n, "start", 0), attr_int(c->n, "end", INT64_MAX), 1, &first,
                 &len);
    set_out(c, 0, type_make(DT_I64, 1, &len));
    return 0;
}

/* Expand-13: bidirectional broadcast of the input with the constant shape. */
static int rule_expand(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t sh[MAXV];
    int ns;
    if (const_input(c, 1, "shape", sh, &ns) < 0) return -1;
    if (check_rank(c, ns) < 0) return -1;
    Type st = {.dtype = x->dtype, .rank = ns};
    for (int i = 0; i < ns; i++) {
        if (sh[i] < 0) return fail(c, "shape element %d is %lld", i, (long long)sh[i]);
        st.dims[i] = sh[i];
    }
    const Type *ts[2] = {x, &st};
    Type out = {.dtype = x->dtype};
    if (broadcast(c, 2, ts, &out) < 0) return -1;
    set_out(c, 0, out);
    return 0;
}

/* Pad-18: pads (input 1 or attribute) as [begins..., ends...] over `axes` (input 3, default
 * all). Padding the batch dim is unsupported. */
static int rule_pad(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t pads[MAXV], axes[MAXV];
    int np, na;
    if (param_ints(c, 1, "pads", pads, &np) < 0) return -1;
    na = -1;
    if (tin(c, 3) && const_input(c, 3, "axes", axes, &na) < 0) return -1;
    if (na < 0) {
        na = x->rank;
        for (int i = 0; i < na; i++) axes[i] = i;
    }
    if (np != 2 * na) return fail(c, "pads has %d values for %d axes", np, na);
    const char *mode = attr_string(c->n, "mode", "constant");
    if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge") &&
        strcmp(mode, "wrap")) {
        char buf[128];
        snprintf(buf, sizeof buf, "with mode '%.60s'", mode);
        return unsupported(c, buf);
    }
    Type out = *x;
    for (int i = 0; i < na; i++) {
        int a;
        if (norm_axis(c, axes[i], x->rank, &a) < 0) return -1;
        if (x->dims[a] == IR_DIM_N) {
            if (pads[i] || pads[na + i]) return batch_moved(c);
            continue;
        }
        /* wrap beyond one period: numpy (the ONNX reference) and ONNX Runtime disagree */
        if (!strcmp(mode, "wrap") && (pads[i] > x->dims[a] || pads[na + i] > x->dims[a]))
            return unsupported(c, "with mode 'wrap' and a pad wider than its axis");
        out.dims[a] = x->dims[a] + pads[i] + pads[na + i];
        if (out.dims[a] < 0) return fail(c, "pads make axis %d negative", a);
    }
    set_out(c, 0, out);
    return 0;
}

/* ConstantOfShape-9: dtype of the 'value' tensor (default f32 0). */
static int rule_constant_of_shape(Ctx *c) {
    int64_t sh[MAXV];
    int ns;
    if (const_input(c, 0, "shape", sh, &ns) < 0) return -1;
    if (check_rank(c, ns) < 0) return -1;
    Attr *v = node_attr(c->n, "value");
    Type out = {.dtype = v ? v->ttype.dtype : DT_F32, .rank = ns};
    for (int i = 0; i < ns; i++) {
        if (sh[i] < 0) return fail(c, "shape element %d is %lld", i, (long long)sh[i]);
        out.dims[i] = sh[i];
    }
    set_out(c, 0, out);
    return 0;
}

/* A constant scalar as double. */
static bool const_scalar(const Graph *g, int v, double *out) {
    if (v < 0) return false;
    const Value *val = gval(g, v);
    if (!(val->flags & VAL_CONST) || !val->data || type_numel(&val->type, 1) != 1) return false;
    const void *p = val->data;
    switch (val->type.dtype) {
    case DT_F32: *out = *(const float *)p; return true;
    case DT_F64: *out = *(const double *)p; return true;
    default: {
        int64_t i;
        int n;
        if (!value_const_ints(g, v, &i, 1, &n)) return false;
        *out = (double)i;
        return true;
    }
    }
}

/* Range-11: max(ceil((limit - start) / delta), 0) elements of start's dtype. */
static int rule_range(Ctx *c) {
    double v[3];
    static const char *const what[3] = {"start", "limit", "delta"};
    for (int i = 0; i < 3; i++)
        if (!const_scalar(c->g, c->n->in[i], &v[i])) return non_constant(c, i, what[i]);
    if (v[2] == 0) return fail(c, "delta is 0");
    double len = ceil((v[1] - v[0]) / v[2]);
    int64_t n = len > 0 ? (int64_t)len : 0;
    set_out(c, 0, type_make(tin(c, 0)->dtype, 1, &n));
    return 0;
}

/* ---- element indexing, running sums, normalizations, losses ------------------------------ */

/* GatherElements-13, ScatterElements-16, Scatter-11: data (input 0) and indices (input 1) of
 * the same rank; along every axis but `axis` the indices may not be longer than the data.
 * Indexing along the batch axis mixes instances: unsupported. */
static int rule_index_elements(Ctx *c, int *axis) {
    const Type *x = tin(c, 0), *idx = tin(c, 1);
    char b1[128], b2[128];
    if (idx->dtype != DT_I64 && idx->dtype != DT_I32) return fail(c, "indices must be i32 or i64");
    if (x->rank < 1 || idx->rank != x->rank)
        return fail(c, "data %s and indices %s differ in rank", tstr(x, b1), tstr(idx, b2));
    if (norm_axis(c, attr_int(c->n, "axis", 0), x->rank, axis) < 0) return -1;
    if ((type_has_batch(x) || type_has_batch(idx)) &&
        (*axis == 0 || !type_has_batch(x) || !type_has_batch(idx)))
        return batch_moved(c);
    for (int d = 0; d < x->rank; d++)
        if (d != *axis && idx->dims[d] != IR_DIM_N && idx->dims[d] > x->dims[d])
            return fail(c, "indices %s exceed data %s along axis %d", tstr(idx, b2), tstr(x, b1),
                        d);
    return 0;
}

static int rule_gather_elements(Ctx *c) {
    int axis;
    if (rule_index_elements(c, &axis) < 0) return -1;
    Type out = *tin(c, 1);
    out.dtype = tin(c, 0)->dtype;
    set_out(c, 0, out);
    return 0;
}

static int rule_scatter_elements(Ctx *c) {
    int axis;
    if (rule_index_elements(c, &axis) < 0) return -1;
    const Type *idx = tin(c, 1), *u = tin(c, 2);
    char b1[128], b2[128];
    if (u->dtype != tin(c, 0)->dtype || u->rank != idx->rank ||
        memcmp(u->dims, idx->dims, sizeof(int64_t) * (size_t)u->rank) != 0)
        return fail(c, "updates %s do not match indices %s", tstr(u, b1), tstr(idx, b2));
    const char *red = attr_string(c->n, "reduction", "none");
    if (strcmp(red, "none") && strcmp(red, "add") && strcmp(red, "mul") &&
        !(c->g->opset >= 18 && (!strcmp(red, "max") || !strcmp(red, "min"))))
        return fail(c, "reduction '%s'", red);
    set_out(c, 0, *tin(c, 0));
    return 0;
}

/* CumSum-14: x's type; axis is an int32/int64 scalar, read at run time when not constant
 * (then the batch dim must be static, since the sum could run along it). */
static int rule_cumsum(Ctx *c) {
    const Type *x = tin(c, 0), *a = tin(c, 1);
    if ((a->dtype != DT_I64 && a->dtype != DT_I32) || type_numel(a, 1) != 1 || a->rank > 1)
        return fail(c, "axis must be an int32 or int64 scalar");
    int64_t ax;
    int na;
    if (value_const_ints(c->g, c->n->in[1], &ax, 1, &na)) {
        int axis;
        if (norm_axis(c, ax, x->rank ? x->rank : 1, &axis) < 0) return -1;
        if (axis == 0 && type_has_batch(x)) return batch_moved(c);
    } else if (type_has_batch(x)) {
        return unsupported(c, "with a non-constant axis over a symbolic batch dim");
    }
    set_out(c, 0, *x);
    return 0;
}

/* The normalized axes [axis, rank) of LayerNormalization-17 in *first (axis default -1). */
static int rule_layernorm(Ctx *c) {
    const Type *x = tin(c, 0);
    int first;
    if (x->rank < 1) return fail(c, "input of rank 0");
    if (norm_axis(c, attr_int(c->n, "axis", -1), x->rank, &first) < 0) return -1;
    if (first == 0 && type_has_batch(x)) return batch_moved(c);
    for (int i = 1; i < 3; i++) { /* Scale, B: unidirectionally broadcast to x.dims[axis:] */
        const Type *t = tin(c, i);
        if (!t) continue;
        char b1[128], b2[128];
        bool ok = t->rank <= x->rank - first && t->dtype == x->dtype;
        for (int j = 0; ok && j < t->rank; j++) {
            int64_t td = t->dims[j], xd = x->dims[x->rank - t->rank + j];
            ok = td == 1 || (td == xd && td != IR_DIM_N);
        }
        if (!ok)
            return fail(c, "%s %s does not broadcast to the normalized part of %s",
                        i == 1 ? "Scale" : "B", tstr(t, b1), tstr(x, b2));
    }
    int64_t stash = attr_int(c->n, "stash_type", 1);
    if (stash != DT_F32) return unsupported(c, "with a stash_type other than float");
    set_out(c, 0, *x);
    Type st = {.dtype = DT_F32, .rank = x->rank};
    for (int d = 0; d < x->rank; d++) st.dims[d] = d < first ? x->dims[d] : 1;
    set_out(c, 1, st);
    set_out(c, 2, st);
    return 0;
}

/* InstanceNormalization-6: x [N, C, D1, ...], scale and B [C]. */
static int rule_instancenorm(Ctx *c) {
    const Type *x = tin(c, 0);
    char b1[128], b2[128];
    if (x->rank < 2) return fail(c, "input %s of rank below 2", tstr(x, b1));
    for (int i = 1; i < 3; i++) {
        const Type *t = tin(c, i);
        if (t->rank != 1 || t->dims[0] != x->dims[1] || t->dtype != x->dtype)
            return fail(c, "%s %s is not [C] of %s", i == 1 ? "scale" : "B", tstr(t, b1),
                        tstr(x, b2));
    }
    set_out(c, 0, *x);
    return 0;
}

/* MeanVarianceNormalization-13: axes (default [0, 2, 3]) within the rank, not the batch. */
static int rule_mvn(Ctx *c) {
    const Type *x = tin(c, 0);
    const int64_t *axes;
    static const int64_t dflt[3] = {0, 2, 3};
    int na = attr_ints(c->n, "axes", &axes);
    if (na < 0) axes = dflt, na = 3;
    for (int i = 0; i < na; i++) {
        int a;
        if (norm_axis(c, axes[i], x->rank, &a) < 0) return -1;
        if (x->dims[a] == IR_DIM_N) return batch_moved(c);
    }
    set_out(c, 0, *x);
    return 0;
}

/* LpNormalization-1: x's type; p is 1 or 2; axis (default -1) not the batch. */
static int rule_lpnorm(Ctx *c) {
    const Type *x = tin(c, 0);
    int axis;
    if (norm_axis(c, attr_int(c->n, "axis", -1), x->rank, &axis) < 0) return -1;
    if (x->dims[axis] == IR_DIM_N) return batch_moved(c);
    int64_t p = attr_int(c->n, "p", 2);
    if (p != 1 && p != 2) return fail(c, "p = %lld (1 or 2)", (long long)p);
    set_out(c, 0, *x);
    return 0;
}

/* NegativeLogLikelihoodLoss-13, SoftmaxCrossEntropyLoss-13: input [N, C, d1..dk] (float),
 * target [N, d1..dk] (int64), weight [C]. The loss is [N, d1..dk] for reduction none, else a
 * scalar (a sum over the batch: unsupported with a symbolic N); SoftmaxCrossEntropyLoss's
 * second output, log_prob, has the input's type. */
static int rule_loss(Ctx *c) {
    const Type *x = tin(c, 0), *t = tin(c, 1), *w = tin(c, 2);
    char b1[128], b2[128];
    bool ok = x->rank >= 2 && t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
    for (int d = 1; ok && d < t->rank; d++) ok = t->dims[d] == x->dims[d + 1];
    if (!ok) return fail(c, "target %s does not match input %s", tstr(t, b1), tstr(x, b2));
    if (t->dtype != DT_I64 && t->dtype != DT_I32) return fail(c, "target must be i32 or i64");
    if (w && (w->rank != 1 || w->dims[0] != x->dims[1] || w->dtype != x->dtype))
        return fail(c, "weight %s is not [C] of %s", tstr(w, b1), tstr(x, b2));
    const char *red = attr_string(c->n, "reduction", "mean");
    bool none = !strcmp(red, "none");
    if (!none && strcmp(red, "sum") && strcmp(red, "mean")) return fail(c, "reduction '%s'", red);
    if (!none && type_has_batch(x)) return batch_moved(c);
    Type out = *t;
    out.dtype = x->dtype;
    if (!none) out.rank = 0;
    set_out(c, 0, out);
    set_out(c, 1, *x);
    return 0;
}

/* ---- spatial ops: Resize, ConvTranspose, DepthToSpace, SpaceToDepth, LRN, MaxUnpool,
 * GridSample, RoiAlign --------------------------------------------------------------------- */

/* Resize-13 (and Resize-10 / Upsample-7/9, normalized to it): output dims from the constant
 * `sizes` (input 3) or floor(input dim * scale) from the constant `scales` (input 2), as the
 * ONNX reference computes them. The batch dim N must keep scale 1. */
static int rule_resize(Ctx *c) {
    const Type *x = tin(c, 0);
    int r = x->rank;
    if (attr_int(c->n, "antialias", 0) != 0) return unsupported(c, "with antialias");
    if (node_attr(c->n, "axes")) return unsupported(c, "with 'axes'");
    if (strcmp(attr_string(c->n, "keep_aspect_ratio_policy", "stretch"), "stretch") != 0)
        return unsupported(c, "with keep_aspect_ratio_policy");
    int64_t sizes[MAXV];
    int ns = -1;
    if (tin(c, 3) && const_input(c, 3, "sizes", sizes, &ns) < 0) return -1;
    Type out = *x;
    if (ns > 0) {
        if (ns != r) return fail(c, "sizes has %d values for rank %d", ns, r);
        for (int i = 0; i < r; i++) {
            if (sizes[i] < 0) return fail(c, "sizes[%d] is negative", i);
            if (x->dims[i] == IR_DIM_N) return batch_fixed(c, sizes[i]);
            out.dims[i] = sizes[i];
        }
    } else {
        double sc[MAXV];
        int nsc = -1;
        if (!tin(c, 2) || !value_const_floats(c->g, c->n->in[2], sc, MAXV, &nsc))
            return tin(c, 2) ? non_constant(c, 2, "scales")
                             : unsupported(c, "without scales or sizes");
        if (nsc != r) return fail(c, "scales has %d values for rank %d", nsc, r);
        for (int i = 0; i < r; i++) {
            if (!(sc[i] > 0)) return fail(c, "scales[%d] is not positive", i);
            if (x->dims[i] == IR_DIM_N) {
                if (sc[i] != 1) return batch_moved(c);
                continue;
            }
            out.dims[i] = (int64_t)((double)x->dims[i] * sc[i]);
        }
    }
    set_out(c, 0, out);
    return 0;
}

int convtranspose_geometry(const Node *n, const Type *x, const Type *w, int64_t *pads,
                           int64_t *out) {
    int s = x->rank - 2;
    if (s < 1 || s > IR_MAX_RANK - 2 || w->rank != x->rank) return -1;
    int64_t st[IR_MAX_RANK], dl[IR_MAX_RANK], op[IR_MAX_RANK], os[IR_MAX_RANK];
    const int64_t *v;
    int k;
#define VEC(name, dst, cnt, dflt)                                                                  \
    k = attr_ints(n, name, &v);                                                                    \
    if (k >= 0 && k != (cnt)) return -1;                                                           \
    for (int i = 0; i < (cnt); i++) dst[i] = k >= 0 ? v[i] : (dflt);
    VEC("strides", st, s, 1)
    VEC("dilations", dl, s, 1)
    VEC("output_padding", op, s, 0)
    VEC("pads", pads, 2 * s, 0)
#undef VEC
    int nos = attr_ints(n, "output_shape", &v);
    if (nos == s + 2) v += 2, nos = s;
    if (nos >= 0 && nos != s) return -1;
    for (int i = 0; i < s; i++) os[i] = nos >= 0 ? v[i] : -1;
    const char *ap = attr_string(n, "auto_pad", "NOTSET");
    bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
    if (!same && strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return -1;
    for (int i = 0; i < s; i++) {
        int64_t in = x->dims[2 + i], ek = (w->dims[2 + i] - 1) * dl[i] + 1;
        if (st[i] < 1 || dl[i] < 1 || op[i] < 0 || (op[i] >= st[i] && op[i] >= dl[i])) return -1;
        int64_t full = st[i] * (in - 1) + op[i] + ek;
        if (!strcmp(ap, "VALID")) pads[i] = pads[s + i] = 0;
        if (same && os[i] < 0) os[i] = in * st[i];
        if (os[i] >= 0) { /* ConvTranspose-11: pads from output_shape */
            int64_t total = full - os[i];
            if (total < 0) total = 0;
            bool upper = !strcmp(ap, "SAME_UPPER");
            pads[i] = upper ? total / 2 : total - total / 2;
            pads[s + i] = upper ? total - total / 2 : total / 2;
            out[i] = os[i];
        } else {
            if (pads[i] < 0 || pads[s + i] < 0) return -1;
            out[i] = full - pads[i] - pads[s + i];
        }
        if (out[i] < 1) return -1;
    }
    return 0;
}

/* ConvTranspose-11: X [N, C, D...], W [C, M/group, k...], B [M] -> [N, M, O...]. */
static int rule_convtranspose(Ctx *c) {
    const Type *x = tin(c, 0), *w = tin(c, 1), *b = tin(c, 2);
    char b1[128], b2[128];
    if (need_image(c, x) < 0) return -1;
    int64_t group = attr_int(c->n, "group", 1);
    if (w->rank != x->rank || type_has_batch(w) || group < 1 || w->dims[0] != x->dims[1] ||
        x->dims[1] % group)
        return fail(c, "input %s, weight %s and group %lld do not agree", tstr(x, b1), tstr(w, b2),
                    (long long)group);
    int64_t pads[2 * IR_MAX_RANK], od[IR_MAX_RANK];
    if (convtranspose_geometry(c->n, x, w, pads, od) < 0)
        return fail(c, "bad strides, dilations, pads, output_padding, output_shape or auto_pad");
    Type out = *x;
    out.dims[1] = w->dims[1] * group;
    if (b && (b->rank != 1 || b->dims[0] != out.dims[1]))
        return fail(c, "bias %s does not match weight %s", tstr(b, b1), tstr(w, b2));
    for (int i = 2; i < x->rank; i++) out.dims[i] = od[i - 2];
    set_out(c, 0, out);
    return 0;
}

/* DepthToSpace-13 / SpaceToDepth-13: [N, C, H, W] <-> [N, C/(b*b), H*b, W*b]. */
static int rule_depth_space(Ctx *c) {
    const Type *x = tin(c, 0);
    char b1[128];
    int64_t bs = attr_int(c->n, "blocksize", 0);
    if (x->rank != 4 || bs < 1)
        return fail(c, "input %s, blocksize %lld", tstr(x, b1), (long long)bs);
    Type out = *x;
    if (c->n->op == OP_DepthToSpace) {
        if (x->dims[1] % (bs * bs)) return fail(c, "channels not divisible by blocksize^2");
        out.dims[1] = x->dims[1] / (bs * bs), out.dims[2] *= bs, out.dims[3] *= bs;
    } else {
        if (x->dims[2] % bs || x->dims[3] % bs) return fail(c, "H, W not divisible by blocksize");
        out.dims[1] = x->dims[1] * bs * bs, out.dims[2] /= bs, out.dims[3] /= bs;
    }
    set_out(c, 0, out);
    return 0;
}

/* MaxUnpool-11: X and I [N, C, D...]; output_shape (input 2, constant) or the default
 * (in - 1) * stride + kernel - pads. */
static int rule_maxunpool(Ctx *c) {
    const Type *x = tin(c, 0), *ix = tin(c, 1);
    if (need_image(c, x) < 0) return -1;
    if (ix->dtype != DT_I64 || ix->rank != x->rank)
        return fail(c, "indices must be i64 of the input's rank");
    int s = x->rank - 2;
    int64_t ks[IR_MAX_RANK], st[IR_MAX_RANK], pd[2 * IR_MAX_RANK], os[MAXV];
    if (attr_vec(c, "kernel_shape", s, -1, ks) < 0 || attr_vec(c, "strides", s, 1, st) < 0 ||
        attr_vec(c, "pads", 2 * s, 0, pd) < 0)
        return -1;
    Type out = *x;
    int nos = -1;
    if (tin(c, 2) && const_input(c, 2, "output_shape", os, &nos) < 0) return -1;
    if (nos >= 0 && nos != x->rank) return fail(c, "output_shape has %d values", nos);
    for (int i = 0; i < s; i++) {
        if (ks[i] < 1) return fail(c, "kernel_shape must have %d values", s);
        out.dims[2 + i] =
            nos >= 0 ? os[2 + i] : (x->dims[2 + i] - 1) * st[i] + ks[i] - pd[i] - pd[s + i];
    }
    set_out(c, 0, out);
    return 0;
}

/* GridSample-16: X [N, C, H, W], grid [N, Ho, Wo, 2] -> [N, C, Ho, Wo]. */
static int rule_gridsample(Ctx *c) {
    const Type *x = tin(c, 0), *gr = tin(c, 1);
    char b1[128], b2[128];
    if (x->rank != 4 || gr->rank != 4 || gr->dims[3] != 2 || gr->dims[0] != x->dims[0])
        return fail(c, "input %s and grid %s do not agree", tstr(x, b1), tstr(gr, b2));
    Type out = *x;
    out.dims[2] = gr->dims[1], out.dims[3] = gr->dims[2];
    set_out(c, 0, out);
    return 0;
}

/* RoiAlign-16: X [N, C, H, W], rois [R, 4], batch_indices [R] -> [R, C, oh, ow]. */
static int rule_roialign(Ctx *c) {
    const Type *x = tin(c, 0), *ro = tin(c, 1), *bi = tin(c, 2);
    char b1[128], b2[128];
    if (x->rank != 4 || ro->rank != 2 || ro->dims[1] != 4 || bi->rank != 1 ||
        bi->dims[0] != ro->dims[0] || type_has_batch(ro))
        return fail(c, "input %s and rois %s do not agree", tstr(x, b1), tstr(ro, b2));
    Type out = *x;
    out.dims[0] = ro->dims[0];
    out.dims[2] = attr_int(c->n, "output_height", 1);
    out.dims[3] = attr_int(c->n, "output_width", 1);
    set_out(c, 0, out);
    return 0;
}

/* ---- selection, indexing and recurrent ops ----------------------------------------------- */

/* TopK-11: values and i64 indices with dims[axis] = k (input 1, or attribute k of TopK-1). */
static int rule_topk(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t k;
    int nk = 1;
    if (tin(c, 1)) {
        if (const_input(c, 1, "k", &k, &nk) < 0) return -1;
    } else {
        k = attr_int(c->n, "k", -1);
    }
    int ax;
    if (x->rank == 0) return fail(c, "input must have rank >= 1");
    if (norm_axis(c, attr_int(c->n, "axis", -1), x->rank, &ax) < 0) return -1;
    if (x->dims[ax] == IR_DIM_N) return batch_moved(c);
    if (nk != 1 || k < 0 || k > x->dims[ax])
        return fail(c, "k = %lld for an axis of size %lld", (long long)k, (long long)x->dims[ax]);
    Type out = *x;
    out.dims[ax] = k;
    set_out(c, 0, out);
    out.dtype = DT_I64;
    set_out(c, 1, out);
    return 0;
}

/* Tile-13: dims[i] * repeats[i], repeats a constant input. */
static int rule_tile(Ctx *c) {
    const Type *x = tin(c, 0);
    int64_t rep[MAXV];
    int nr;
    if (const_input(c, 1, "repeats", rep, &nr) < 0) return -1;
    if (nr != x->rank) return fail(c, "%d repeats for rank %d", nr, x->rank);
    Type out = *x;
    for (int i = 0; i < nr; i++) {
        if (rep[i] < 0) return fail(c, "repeat %lld", (long long)rep[i]);
        if (x->dims[i] == IR_DIM_N) {
            if (rep[i] != 1) return batch_moved(c);
            continue;
        }
        out.dims[i] = x->dims[i] * rep[i];
    }
    set_out(c, 0, out);
    return 0;
}

/* OneHot-11: a new axis of size depth (constant input 1) at `axis`; dtype of values. */
static int rule_onehot(Ctx *c) {
    const Type *idx = tin(c, 0), *vals = tin(c, 2);
    double depth;
    if (!const_scalar(c->g, c->n->in[1], &depth)) return non_constant(c, 1, "depth");
    if (depth < 1 || depth > (double)INT32_MAX) return fail(c, "depth %g", depth);
    if (type_numel(vals, 1) != 2) return fail(c, "values must have 2 elements");
    int r = idx->rank + 1, ax;
    if (check_rank(c, r) < 0) return -1;
    if (norm_axis(c, attr_int(c->n, "axis", -1), r, &ax) < 0) return -1;
    if (ax == 0 && type_has_batch(idx)) return batch_moved(c);
    Type out = {.dtype = vals->dtype, .rank = r};
    for (int i = 0, k = 0; i < r; i++) out.dims[i] = i == ax ? (int64_t)depth : idx->dims[k++];
    set_out(c, 0, out);
    return 0;
}

/* GatherND-13: indices [B.., I.., q] into data [B.., D0..Dq-1, S..] gives [B.., I.., S..]. */
static int rule_gathernd(Ctx *c) {
    const Type *x = tin(c, 0), *idx = tin(c, 1);
    if (idx->dtype != DT_I64) return fail(c, "indices must be i64");
    int64_t b = attr_int(c->n, "batch_dims", 0);
    if (idx->rank < 1 || b < 0 || b >= idx->rank || b >= x->rank)
        return fail(c, "batch_dims %lld for ranks %d and %d", (long long)b, x->rank, idx->rank);
    int64_t q = idx->dims[idx->rank - 1];
    if (q < 1 || q > x->rank - b) return fail(c, "index tuples of %lld elements", (long long)q);
    for (int i = 0; i < b; i++)
        if (x->dims[i] != idx->dims[i]) {
            if (x->dims[i] == IR_DIM_N || idx->dims[i] == IR_DIM_N) return batch_moved(c);
            return fail(c, "batch dim %d differs between data and indices", i);
        }
    if (b == 0 && type_has_batch(x)) return batch_moved(c);
    int r = idx->rank - 1 + x->rank - b - (int)q;
    if (check_rank(c, r) < 0) return -1;
    Type out = {.dtype = x->dtype, .rank = r};
    int k = 0;
    for (int i = 0; i < idx->rank - 1; i++) out.dims[k++] = idx->dims[i];
    for (int i = (int)(b + q); i < x->rank; i++) out.dims[k++] = x->dims[i];
    set_out(c, 0, out);
    return 0;
}

/* ScatterND-16: the type of data; updates [I.., S..] for indices [I.., q]. */
static int rule_scatternd(Ctx *c) {
    const Type *x = tin(c, 0), *idx = tin(c, 1), *up = tin(c, 2);
    if (idx->dtype != DT_I64) return fail(c, "indices must be i64");
    if (up->dtype != x->dtype) return fail(c, "updates and data types differ");
    if (idx->rank < 1) return fail(c, "indices must have rank >= 1");
    int64_t q = idx->dims[idx->rank - 1];
    if (q < 1 || q > x->rank) return fail(c, "index tuples of %lld elements", (long long)q);
    if (type_has_batch(x) || type_has_batch(idx) || type_has_batch(up)) return batch_moved(c);
    int ur = idx->rank - 1 + x->rank - (int)q;
    bool ok = up->rank == ur;
    for (int i = 0; ok && i < idx->rank - 1; i++) ok = up->dims[i] == idx->dims[i];
    for (int i = (int)q; ok && i < x->rank; i++) ok = up->dims[idx->rank - 1 + i - q] == x->dims[i];
    if (!ok) return fail(c, "updates do not match indices and data");
    const char *red = attr_string(c->n, "reduction", "none");
    if (strcmp(red, "none") && strcmp(red, "add") && strcmp(red, "mul") && strcmp(red, "max") &&
        strcmp(red, "min"))
        return fail(c, "reduction '%s'", red);
    set_out(c, 0, *x);
    return 0;
}

/* Einsum-12 (equation parsed by ir/einsum.c); N may only stay at output axis 0. */
static int rule_einsum(Ctx *c) {
    const Type *ins[EINSUM_MAX_IN];
    int nin = c->n->nin;
    if (nin > EINSUM_MAX_IN) return unsupported(c, "with more than 16 inputs");
    for (int i = 0; i < nin; i++) {
        ins[i] = tin(c, i);
        if (!ins[i] || ins[i]->dtype != ins[0]->dtype) return fail(c, "input %d type", i);
    }
    EinsumSpec s;
    char err[200];
    if (einsum_parse(attr_string(c->n, "equation", ""), nin, ins, &s, err, sizeof err) < 0)
        return fail(c, "%s", err);
    Type out = {.dtype = ins[0]->dtype, .rank = s.out_rank};
    bool has_n = false;
    for (int l = 0; l < s.nlab; l++) has_n |= s.dims[l] == IR_DIM_N;
    for (int i = 0; i < s.out_rank; i++) {
        out.dims[i] = s.dims[s.out_lab[i]];
        if (out.dims[i] == IR_DIM_N && i != 0) return batch_moved(c);
    }
    if (has_n && !type_has_batch(&out)) return batch_moved(c);
    set_out(c, 0, out);
    return 0;
}

/* ReverseSequence-10: the type of input 0, time and batch axes 0 and 1. */
static int rule_reverse_sequence(Ctx *c) {
    const Type *x = tin(c, 0), *sl = tin(c, 1);
    int64_t ba = attr_int(c->n, "batch_axis", 1), ta = attr_int(c->n, "time_axis", 0);
    if (x->rank < 2 || !((ba == 0 && ta == 1) || (ba == 1 && ta == 0)))
        return fail(c, "batch_axis %lld, time_axis %lld for rank %d", (long long)ba, (long long)ta,
                    x->rank);
    if (ba != 0 && type_has_batch(x)) return batch_moved(c);
    if (sl->rank != 1 || (sl->dims[0] != x->dims[ba]) ||
        (sl->dtype != DT_I64 && sl->dtype != DT_I32))
        return fail(c, "sequence_lens must be i64 [batch]");
    set_out(c, 0, *x);
    return 0;
}

/* Det-11: [*, M, M] -> [*]. */
static int rule_det(Ctx *c) {
    const Type *x = tin(c, 0);
    int r = x->rank;
    if (r < 2 || x->dims[r - 1] != x->dims[r - 2] || x->dims[r - 1] == IR_DIM_N)
        return fail(c, "input must be [*, M, M]");
    Type out = *x;
    out.rank = r - 2;
    set_out(c, 0, out);
    return 0;
}

/* RNN-14, GRU-14, LSTM-14: X [seq, batch, in] (layout 1: [batch, seq, in]); Y [seq, dirs,
 * batch, H] ([batch, seq, dirs, H]); Y_h, Y_c [dirs, batch, H] ([batch, dirs, H]). */
static int rule_rnn(Ctx *c) {
    const Type *x = tin(c, 0), *w = tin(c, 1), *r = tin(c, 2);
    int64_t layout = attr_int(c->n, "layout", 0), hid = attr_int(c->n, "hidden_size", -1);
    int gates = c->n->op == OP_RNN ? 1 : c->n->op == OP_GRU ? 3 : 4;
    if (x->rank != 3 || w->rank != 3 || r->rank != 3 || (layout != 0 && layout != 1))
        return fail(c, "X, W, R must have rank 3 (layout 0 or 1)");
    int64_t dirs = w->dims[0];
    if (hid < 1) hid = r->dims[2];
    if ((dirs != 1 && dirs != 2) || w->dims[1] != gates * hid || w->dims[2] != x->dims[2] ||
        r->dims[0] != dirs || r->dims[1] != gates * hid || r->dims[2] != hid)
        return fail(c, "W/R shapes do not match hidden_size %lld", (long long)hid);
    const char *dir = attr_string(c->n, "direction", "forward");
    if ((dirs == 2) != (strcmp(dir, "bidirectional") == 0))
        return fail(c, "direction '%s' with %lld directions in W", dir, (long long)dirs);
    int64_t seq = x->dims[layout ? 1 : 0], batch = x->dims[layout ? 0 : 1];
    if (seq == IR_DIM_N || x->dims[2] == IR_DIM_N) return batch_moved(c);
    if (layout == 0 && type_has_batch(x)) return batch_moved(c); /* N would be seq */
    Type y = {.dtype = x->dtype, .rank = 4}, h = {.dtype = x->dtype, .rank = 3};
    if (layout == 0) {
        y.dims[0] = seq, y.dims[1] = dirs, y.dims[2] = batch, y.dims[3] = hid;
        h.dims[0] = dirs, h.dims[1] = batch, h.dims[2] = hid;
    } else {
        y.dims[0] = batch, y.dims[1] = seq, y.dims[2] = dirs, y.dims[3] = hid;
        h.dims[0] = batch, h.dims[1] = dirs, h.dims[2] = hid;
    }
    set_out(c, 0, y);
    set_out(c, 1, h);
    set_out(c, 2, h);
    return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static int infer_rule(Graph *g, int node, Diag *d);

int infer_node(Graph *g, int node, Diag *d) {
    if (infer_rule(g, node, d) < 0) return -1;
    /* Every size computed from these types (buffers, offsets, FLOPs) stays far from int64. */
    const Node *n = gnode(g, node);
    for (int k = 0; k < n->nout; k++) {
        const Type *t = n->out[k] >= 0 ? &gval(g, n->out[k])->type : NULL;
        if (!t || !type_known(t) || type_bytes(t, 1) >= 0) continue;
        Ctx c = {.g = g, .n = gnode(g, node), .d = d, .op = op_info(n->op)->name};
        node_label(g, node, c.label, sizeof c.label);
        char b[160];
        return fail(&c, "output %d of type %s is too large (more than %lld bytes per instance)", k,
                    tstr(t, b), (long long)IR_MAX_BYTES);
    }
    return 0;
}

static int infer_rule(Graph *g, int node, Diag *d) {
    Ctx c = {.g = g, .n = gnode(g, node), .d = d};
    Node *n = c.n;
    const OpInfo *oi = op_info(n->op);
    c.op = oi->name;
    node_label(g, node, c.label, sizeof c.label);
    for (int i = 0; i < n->nin; i++) {
        const Type *t = tin(&c, i);
        if (!t) {
            if (i < oi->min_in) return fail(&c, "required input %d is missing", i);
            continue;
        }
        if (!type_known(t)) {
            char buf[300], b[128];
            snprintf(buf, sizeof buf,
                     "with input '%.100s' of unknown shape %s (fix it with --shape)",
                     gval(g, n->in[i])->name, tstr(t, b));
            return unsupported(&c, buf);
        }
    }
    const Type *x = tin(&c, 0);
    /* Unary elementwise ops (OPF_UNARY in ops.def) keep their input's type; the ones that
     * change the element type have their own rules below. */
    if ((oi->flags & OPF_UNARY) && n->op != OP_Cast && n->op != OP_IsNaN && n->op != OP_IsInf) {
        set_out(&c, 0, *x);
        return 0;
    }
    switch (n->op) {
    case OP_Clip:
    case OP_Hardmax: set_out(&c, 0, *x); return 0;
    case OP_IsNaN:
    case OP_IsInf: {
        Type out = *x;
        out.dtype = DT_BOOL;
        set_out(&c, 0, out);
        return 0;
    }
    case OP_Cast: {
        int64_t to = attr_int(n, "to", DT_UNDEF);
        if (to <= DT_UNDEF || to >= DT_COUNT || dtype_size((int)to) == 0) {
            char buf[64];
            snprintf(buf, sizeof buf, "to dtype %lld", (long long)to);
            return unsupported(&c, buf);
        }
        Type out = *x;
        out.dtype = (int32_t)to;
        set_out(&c, 0, out);
        return 0;
    }
    case OP_Trilu: /* Trilu-14: over the last two dims */
        if (x->rank < 2) return fail(&c, "input of rank %d (at least 2 expected)", x->rank);
        if (n->nin > 1 && n->in[1] >= 0 && (tin(&c, 1)->rank != 0 || tin(&c, 1)->dtype != DT_I64))
            return fail(&c, "k is not an int64 scalar");
        set_out(&c, 0, *x);
        return 0;
    case OP_EyeLike: { /* EyeLike-9 */
        Type out = *x;
        int64_t dt = attr_int(n, "dtype", x->dtype);
        if (x->rank != 2) return fail(&c, "input of rank %d (2 expected)", x->rank);
        if (dt <= DT_UNDEF || dt >= DT_COUNT || dtype_size((int)dt) == 0)
            return unsupported(&c, "dtype");
        out.dtype = (int32_t)dt;
        set_out(&c, 0, out);
        return 0;
    }
    case OP_ArgMax:
    case OP_ArgMin: { /* ArgMax-13, ArgMin-13 */
        int ax;
        if (norm_axis(&c, attr_int(n, "axis", 0), x->rank, &ax) < 0) return -1;
        Type out = {.dtype = DT_I64};
        for (int d = 0; d < x->rank; d++)
            if (d != ax)
                out.dims[out.rank++] = x->dims[d];
            else if (attr_int(n, "keepdims", 1))
                out.dims[out.rank++] = 1;
        set_out(&c, 0, out);
        return 0;
    }
    case OP_CastLike: { /* CastLike-15: the element type of input 1 */
        Type out = *x;
        out.dtype = tin(&c, 1)->dtype;
        set_out(&c, 0, out);
        return 0;
    }
    case OP_Dropout: {
        set_out(&c, 0, *x);
        Type mask = *x;
        mask.dtype = DT_BOOL;
        set_out(&c, 1, mask);
        return 0;
    }
    case OP_Add:
    case OP_Sub:
    case OP_Mul:
    case OP_Div:
    case OP_Max:
    case OP_Min:
    case OP_Mod:
    case OP_BitShift:
    case OP_PRelu:
    case OP_Sum:
    case OP_Mean:
    case OP_And:
    case OP_Or:
    case OP_Xor: return rule_broadcast(&c, 0, DT_UNDEF, true);
    case OP_Pow: return rule_broadcast(&c, 0, x->dtype, false);
    case OP_Equal:
    case OP_Less:
    case OP_Greater:
    case OP_GreaterOrEqual:
    case OP_LessOrEqual: return rule_broadcast(&c, 0, DT_BOOL, true);
    case OP_Where: {
        const Type *a = tin(&c, 1), *b = tin(&c, 2);
        char b1[128], b2[128];
        if (x->dtype != DT_BOOL) return fail(&c, "condition %s is not bool", tstr(x, b1));
        if (a->dtype != b->dtype)
            return fail(&c, "input types %s and %s differ", tstr(a, b1), tstr(b, b2));
        return rule_broadcast(&c, 0, a->dtype, false);
    }
    case OP_Elementwise: {
        int dt = n->nout ? gval(g, n->out[0])->type.dtype : DT_UNDEF;
        return rule_broadcast(&c, 0, dt, false);
    }
    case OP_BranchSum: return rule_broadcast(&c, 0, x->dtype, false);
    case OP_GateMask: {
        char b1[128];
        if (x->dtype != DT_F32 || x->rank < 1)
            return fail(&c, "gate %s is not f32 [N, ...]", tstr(x, b1));
        set_out(&c, 0, *x);
        return 0;
    }
    case OP_Conv: return rule_conv(&c);
    case OP_BatchNormalization: return rule_batchnorm(&c);
    case OP_Gemm: return rule_gemm(&c);
    case OP_MatMul: return rule_matmul(&c);
    case OP_MaxPool:
    case OP_AveragePool: return rule_pool(&c);
    case OP_GlobalAveragePool:
    case OP_GlobalMaxPool: return rule_global_pool(&c);
    case OP_Softmax:
    case OP_LogSoftmax: return rule_softmax(&c);
    case OP_ReduceMean:
    case OP_ReduceSum:
    case OP_ReduceMax:
    case OP_ReduceMin:
    case OP_ReduceL1:
    case OP_ReduceL2:
    case OP_ReduceSumSquare:
    case OP_ReduceLogSum:
    case OP_ReduceLogSumExp:
    case OP_ReduceProd: return rule_reduce(&c);
    case OP_Flatten: return rule_flatten(&c);
    case OP_Reshape: return rule_reshape(&c);
    case OP_Squeeze: return rule_squeeze(&c);
    case OP_Unsqueeze: return rule_unsqueeze(&c);
    case OP_Transpose: return rule_transpose(&c);
    case OP_Concat: return rule_concat(&c);
    case OP_Split: return rule_split(&c);
    case OP_Slice: return rule_slice(&c);
    case OP_Gather: return rule_gather(&c);
    case OP_Shape: return rule_shape(&c);
    case OP_Size: set_out(&c, 0, type_make(DT_I64, 0, NULL)); return 0;
    case OP_Expand: return rule_expand(&c);
    case OP_Pad: return rule_pad(&c);
    case OP_ConstantOfShape: return rule_constant_of_shape(&c);
    case OP_Range: return rule_range(&c);
    case OP_GatherElements: return rule_gather_elements(&c);
    case OP_ScatterElements:
    case OP_Scatter: return rule_scatter_elements(&c);
    case OP_CumSum: return rule_cumsum(&c);
    case OP_LayerNormalization: return rule_layernorm(&c);
    case OP_InstanceNormalization: return rule_instancenorm(&c);
    case OP_MeanVarianceNormalization: return rule_mvn(&c);
    case OP_LpNormalization: return rule_lpnorm(&c);
    case OP_NegativeLogLikelihoodLoss:
    case OP_SoftmaxCrossEntropyLoss: return rule_loss(&c);
    case OP_Resize: return rule_resize(&c);
    case OP_ConvTranspose: return rule_convtranspose(&c);
    case OP_DepthToSpace:
    case OP_SpaceToDepth: return rule_depth_space(&c);
    case OP_LRN: set_out(&c, 0, *x); return 0;
    case OP_MaxUnpool: return rule_maxunpool(&c);
    case OP_GridSample: return rule_gridsample(&c);
    case OP_RoiAlign: return rule_roialign(&c);
    case OP_TopK: return rule_topk(&c);
    case OP_Tile: return rule_tile(&c);
    case OP_OneHot: return rule_onehot(&c);
    case OP_GatherND: return rule_gathernd(&c);
    case OP_ScatterND: return rule_scatternd(&c);
    case OP_Einsum: return rule_einsum(&c);
    case OP_ReverseSequence: return rule_reverse_sequence(&c);
    case OP_Det: return rule_det(&c);
    case OP_RNN:
    case OP_GRU:
    case OP_LSTM: return rule_rnn(&c);
    }
    return unsupported(&c, "has no shape rule");
}

/* ---- FLOPs ------------------------------------------------------------------------------- */

static int64_t numel1(const Graph *g, int v) {
    if (v < 0 || !type_known(&gval(g, v)->type)) return 0;
    int64_t n = type_numel(&gval(g, v)->type, 1);
    return n < 0 ? INT64_MAX : n;
}

int64_t node_flops(const Graph *g, const Node *n) {
    int64_t out = n->nout ? numel1(g, n->out[0]) : 0;
    int64_t in = n->nin ? numel1(g, n->in[0]) : 0;
    const Type *w = n->nin > 1 && n->in[1] >= 0 ? &gval(g, n->in[1])->type : NULL;
    switch (n->op) {
    case OP_Conv: /* 2 * cout*oh*ow * cin/group*kh*kw */
        return w && w->rank >= 2 ? sat_mul(sat_mul(2, out), prod(w->dims, 1, w->rank)) : 0;
    case OP_ConvTranspose: /* 2 * cin*ih*iw * cout/group*kh*kw */
        return w && w->rank >= 2 ? sat_mul(sat_mul(2, in), prod(w->dims, 1, w->rank)) : 0;
    case OP_Gemm: {
        const Type *a = &gval(g, n->in[0])->type;
        return a->rank == 2 ? sat_mul(sat_mul(2, out), a->dims[attr_int(n, "transA", 0) ? 0 : 1])
                            : 0;
    }
    case OP_MatMul: {
        const Type *a = &gval(g, n->in[0])->type;
        return a->rank >= 1 ? sat_mul(sat_mul(2, out), a->dims[a->rank - 1]) : 0;
    }
    case OP_MaxPool:
    case OP_AveragePool: {
        const int64_t *ks;
        int nk = attr_ints(n, "kernel_shape", &ks);
        return nk > 0 ? sat_mul(out, prod(ks, 0, nk)) : out;
    }
    case OP_GlobalAveragePool:
    case OP_GlobalMaxPool:
    case OP_ReduceMean:
    case OP_ReduceSum:
    case OP_ReduceMax:
    case OP_ReduceMin: return in;
    case OP_Softmax:
    case OP_LogSoftmax: return sat_mul(5, out);
    case OP_BatchNormalization: return sat_mul(2, out);
    case OP_Elementwise: { /* one FLOP per element per op in the postfix program */
        const char *code = attr_string(n, "_code", "");
        int64_t ops = 0;
        for (const char *s = code; *s; s++)
            if ((s == code || s[-1] == ' ') && *s >= 'A' && *s <= 'Z') ops++;
        return sat_mul(out, ops ? ops : 1);
    }
    case OP_BranchSum: return sat_mul(out, n->nin - 1);
    case OP_GateMask: return out;
    case OP_Identity:
    case OP_Dropout:
    case OP_Cast: return 0;
    case OP_CumSum:
    case OP_NegativeLogLikelihoodLoss: return in;
    case OP_SoftmaxCrossEntropyLoss: return sat_mul(5, in);
    case OP_LayerNormalization: /* mean, variance, then scale and shift */
    case OP_InstanceNormalization:
    case OP_MeanVarianceNormalization: return sat_mul(7, in);
    case OP_LpNormalization: return sat_mul(3, in);
    default: return op_info(n->op)->flags & OPF_ELEMWISE ? out : 0;
    }
}
