/* sequence.c — static sequences and Loop unrolling, resolved while importing.
 *
 * Contract: the IR has tensors only. A sequence whose length and elements are known at
 * compile time is kept here as a list of value ids (a SeqList entry bound to the ONNX name
 * in the current Scope), and the sequence operators (ONNX opset 11+) become ordinary nodes:
 *   SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceErase  -> list edits, no node
 *   SequenceAt         -> Identity of the element
 *   SequenceLength     -> a constant
 *   SplitToSequence    -> Split (+ Squeeze per element when keepdims=0 and no split given)
 *   ConcatFromSequence -> Concat (Unsqueeze of each element first when new_axis=1)
 * Positions and split sizes must be constants; a split needs the input's dims. Loop (opset
 * 1-16) is unrolled: its trip count must be a constant and its condition constant true (or
 * absent), and the body's condition output must stay constant (true, or false to stop
 * early) in every iteration; the body's nodes are imported once per iteration in a Scope
 * that maps its names to that iteration's values, and scan outputs are stacked with
 * Unsqueeze+Concat along a new axis 0. Loop-carried values may be sequences. When a needed
 * constant or type is not there yet, the importer asks ImportOptions.settle (inference and
 * folding of the graph so far) once and looks again. Everything else — a sequence that is a
 * graph input or output, a position computed at run time, a data-dependent trip count — is
 * a clean `unsupported:` error naming op, opset and node (and the graph input to --bind when
 * one would make it static). */
#include "internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum {
    SEQ_MAX = 4096,             /* elements of one sequence */
    UNROLL_MAX_NODES = 1 << 16, /* body nodes times iterations, per Loop */
    GRAPH_MAX_NODES = 1 << 18,  /* nodes of the whole graph while unrolling (nested Loops) */
    CONCAT_MAX = 64,            /* inputs of one Concat node (ir/ops.def) */
};

typedef struct Seq {
    int n;
    int *elems; /* value ids (graph arena) */
    int dtype;  /* element dtype, DT_UNDEF if not known */
} Seq;

struct SeqList {
    Seq *items;
    int n, cap;
};

static const char *const seq_ops[] = {"SequenceEmpty",   "SequenceConstruct",  "SequenceInsert",
                                      "SequenceErase",   "SequenceAt",         "SequenceLength",
                                      "SplitToSequence", "ConcatFromSequence", "Loop"};

bool seq_handles(const char *op_type) {
    for (size_t i = 0; i < sizeof seq_ops / sizeof seq_ops[0]; i++)
        if (!strcmp(op_type, seq_ops[i])) return true;
    return false;
}

/* ---- per-node context ---------------------------------------------------------------------- */

typedef struct Ctx {
    Importer *im;
    Graph *g;
    const Onnx__NodeProto *np;
    const char *op;
    char label[256];
} Ctx;

static int fail(Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(Ctx *c, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return diag_unsupported(c->im->d, c->op, NULL, c->g->opset, c->label, ": %s", msg);
}

static const char *in_name(const Ctx *c, size_t i) {
    return i < c->np->n_input && c->np->input[i] ? c->np->input[i] : "";
}

static const Onnx__AttributeProto *find_attr(const Ctx *c, const char *name) {
    for (size_t i = 0; i < c->np->n_attribute; i++)
        if (c->np->attribute[i]->name && !strcmp(c->np->attribute[i]->name, name))
            return c->np->attribute[i];
    return NULL;
}

static int64_t int_attr(const Ctx *c, const char *name, int64_t dflt) {
    const Onnx__AttributeProto *a = find_attr(c, name);
    return a && a->has_i ? a->i : dflt;
}

/* ---- sequences ------------------------------------------------------------------------------ */

static int seq_new(Importer *im, int n, const int *elems, int dtype) {
    SeqList *l = im->seq;
    if (!l) l = im->seq = calloc(1, sizeof *l);
    if (!l) abort();
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->items = realloc(l->items, (size_t)l->cap * sizeof *l->items);
        if (!l->items) abort();
    }
    Seq *s = &l->items[l->n];
    s->n = n;
    s->elems = graph_alloc(im->g, (size_t)(n + 1) * sizeof(int));
    if (n) memcpy(s->elems, elems, (size_t)n * sizeof(int));
    s->dtype = dtype;
    return l->n++;
}

int seq_lookup(const Importer *im, const char *name) {
    for (const Scope *s = im->scope; s; s = s->parent) {
        int k = strmap_get(&s->seqs, name);
        if (k >= 0) return k;
        if (s->parent && strmap_get(&s->vals, name) >= 0) return -1;
    }
    return -1;
}

static void seq_bind(Importer *im, const char *name, int k) {
    strmap_put(&im->scope->seqs, graph_strdup(im->g, name), k);
}

/* Define output 0 of the node as sequence k. */
static int bind_out_seq(Ctx *c, int k) {
    const char *name = c->np->n_output ? c->np->output[0] : "";
    if (!name || !*name) return 0;
    if (im_defined_here(c->im, name))
        return diag_node(c->im->d, c->op, c->g->opset, c->label,
                         ": output '%s' is defined more than once", name);
    seq_bind(c->im, name, k);
    return 0;
}

/* The sequence named by input i; -1 with a message if it is not a static sequence. */
static int seq_input(Ctx *c, size_t i) {
    const char *name = in_name(c, i);
    int k = *name ? seq_lookup(c->im, name) : -1;
    if (k >= 0) return k;
    if (!*name) return fail(c, "input %zu (a sequence) is absent", i);
    int v = im_lookup(c->im, name);
    if (v >= 0) return fail(c, "input '%s' is a tensor, expected a sequence", name);
    return diag_node(c->im->d, c->op, c->g->opset, c->label,
                     ": input '%s' is not defined before use", name);
}

static Seq *seq_at(Importer *im, int k) {
    return &im->seq->items[k];
}

/* The tensor named by input i; -1 with a message if absent or not a tensor. */
static int tensor_input(Ctx *c, size_t i) {
    const char *name = in_name(c, i);
    int v = *name ? im_lookup(c->im, name) : -1;
    if (v >= 0) return v;
    if (*name && seq_lookup(c->im, name) >= 0)
        return fail(c, "input '%s' is a sequence, expected a tensor", name);
    if (!*name) return fail(c, "required input %zu is absent", i);
    return diag_node(c->im->d, c->op, c->g->opset, c->label,
                     ": input '%s' is not defined before use", name);
}

/* ---- compile-time facts ---------------------------------------------------------------------- */

static int through_identity(const Graph *g, int v) {
    while (gval(g, v)->def >= 0) {
        const Node *n = gnode(g, gval(g, v)->def);
        if (n->op != OP_Identity || n->dead) break;
        v = n->in[0];
    }
    return v;
}

/* Run ImportOptions.settle on the graph so far; false if there is none or it failed (its
 * message is then in d, and *err set). */
static bool settle(Ctx *c, bool *err) {
    const ImportOptions *o = c->im->opts;
    if (!o || !o->settle) return false;
    if (o->settle(c->g, c->im->d) < 0) {
        *err = true;
        return false;
    }
    return true;
}

/* A graph input that value v is computed from (v itself first), or -1. */
static int input_in_cone(const Graph *g, int v, int depth) {
    const Value *val = gval(g, v);
    if (val->flags & VAL_INPUT) return v;
    if (val->def < 0 || depth > 64) return -1;
    const Node *n = gnode(g, val->def);
    for (int i = 0; i < n->nin; i++) {
        if (n->in[i] < 0) continue;
        int u = input_in_cone(g, n->in[i], depth + 1);
        if (u >= 0) return u;
    }
    return -1;
}

/* Ints of the constant value v (what: its role, for messages); -1 with a message if it is
 * not a compile-time constant. */
static int static_ints(Ctx *c, int v, const char *what, int64_t *out, int max, int *count) {
    bool err = false;
    for (int round = 0; round < 2; round++) {
        if (value_const_ints(c->g, through_identity(c->g, v), out, max, count)) return 0;
        if (round == 0 && !settle(c, &err)) break;
    }
    if (err) return -1;
    int u = input_in_cone(c->g, v, 0);
    if (u < 0) return fail(c, "the %s is not a compile-time constant", what);
    const char *un = gval(c->g, u)->name;
    char nc[300];
    snprintf(nc, sizeof nc, "with a non-constant %s", what);
    return diag_unsupported(c->im->d, c->op, nc, c->g->opset, c->label,
                            "; it %s the graph input '%s': give its value at compile time with "
                            "--bind %s=FILE",
                            u == v ? "is" : "depends on", un, un);
}

static int static_scalar(Ctx *c, int v, const char *what, int64_t *out) {
    int count;
    if (static_ints(c, v, what, out, 1, &count) < 0) return -1;
    if (count != 1) return fail(c, "the %s has %d elements, expected 1", what, count);
    return 0;
}

/* The type of v with every dim known (N not allowed on `axis` if axis >= 0). */
static int static_type(Ctx *c, int v, Type *t) {
    bool err = false;
    for (int round = 0; round < 2; round++) {
        *t = gval(c->g, v)->type;
        if (type_known(t) && t->dtype != DT_UNDEF) return 0;
        if (round == 0 && !settle(c, &err)) break;
    }
    if (err) return -1;
    return fail(c, "the shape of input '%s' is not known at compile time", gval(c->g, v)->name);
}

/* ---- nodes ------------------------------------------------------------------------------------
 */

static Type unknown_type(void) {
    Type t = type_make(DT_UNDEF, 0, NULL);
    t.rank = IR_RANK_UNKNOWN;
    return t;
}

static void remember(Importer *im, int v) {
    if (im->nseq_made == im->capseq_made) {
        im->capseq_made = im->capseq_made ? 2 * im->capseq_made : 64;
        im->seq_made = realloc(im->seq_made, (size_t)im->capseq_made * sizeof(int));
        if (!im->seq_made) abort();
    }
    im->seq_made[im->nseq_made++] = v;
}

static int const_i64(Ctx *c, const int64_t *v, int n, bool scalar) {
    int64_t len = n;
    Type t = scalar ? type_make(DT_I64, 0, NULL) : type_make(DT_I64, 1, &len);
    return graph_add_const(c->g, NULL, t, v);
}

/* A node of this ONNX node's name; out[i] < 0 gets a fresh helper value. */
static void add_node(Ctx *c, int op, int nin, const int *in, int nout, int *out) {
    for (int i = 0; i < nout; i++)
        if (out[i] < 0) {
            out[i] = graph_add_value(c->g, NULL, unknown_type());
            remember(c->im, out[i]);
        }
    graph_add_node(c->g, op, c->np->name, nin, in, nout, out);
}

/* Define output j of the ONNX node as a copy of value v (so the name is a real value). */
static int define_out(Ctx *c, size_t j, int v) {
    const char *name = j < c->np->n_output ? c->np->output[j] : "";
    if (!name || !*name) return 0;
    if (im_defined_here(c->im, name))
        return diag_node(c->im->d, c->op, c->g->opset, c->label,
                         ": output '%s' is defined more than once", name);
    int out = im_define(c->im, name, unknown_type());
    add_node(c, OP_Identity, 1, &v, 1, &out);
    return 0;
}

static int unsqueeze(Ctx *c, int v, int64_t axis) {
    int in[2] = {v, const_i64(c, &axis, 1, false)}, out = -1;
    add_node(c, OP_Unsqueeze, 2, in, 1, &out);
    return out;
}

/* Concat of n values along axis (trees of at most CONCAT_MAX inputs); out < 0: fresh. */
static int concat(Ctx *c, const int *vals, int n, int64_t axis, int out) {
    assert(n >= 1);
    if (n <= CONCAT_MAX) {
        add_node(c, OP_Concat, n, vals, 1, &out);
        node_set_int(c->g, gnode(c->g, c->g->nnode - 1), "axis", axis);
        return out;
    }
    int parts[CONCAT_MAX], np = 0;
    int per = (n + CONCAT_MAX - 1) / CONCAT_MAX;
    for (int i = 0; i < n; i += per)
        parts[np++] = concat(c, vals + i, n - i < per ? n - i : per, axis, -1);
    return concat(c, parts, np, axis, out);
}

/* ---- the sequence operators (ONNX opset 11) -----------------------------------------------------
 */

static int elem_dtype(Ctx *c, int v) {
    return gval(c->g, v)->type.dtype;
}

static int check_dtype(Ctx *c, Seq *s, int v) {
    int dt = elem_dtype(c, v);
    if (s->dtype != DT_UNDEF && dt != DT_UNDEF && dt != s->dtype)
        return fail(c, "element type %s does not match the sequence's %s", dtype_name(dt),
                    dtype_name(s->dtype));
    return 0;
}

/* Position input i of sequence length n: 0 <= result < n + extra (SequenceInsert: extra 1). */
static int position(Ctx *c, size_t i, int n, int extra, int dflt, int *pos) {
    if (!*in_name(c, i)) {
        *pos = dflt;
        return 0;
    }
    int v = tensor_input(c, i);
    if (v < 0) return -1;
    int64_t p;
    if (static_scalar(c, v, "position", &p) < 0) return -1;
    if (p < -(int64_t)n || p >= (int64_t)n + extra)
        return fail(c, "position %lld is out of range for a sequence of %d", (long long)p, n);
    *pos = (int)(p < 0 ? p + n : p);
    return 0;
}

static int seq_construct(Ctx *c) {
    int n = (int)c->np->n_input;
    if (n > SEQ_MAX) return fail(c, "more than %d elements", SEQ_MAX);
    int *e = malloc((size_t)(n + 1) * sizeof(int));
    int dt = DT_UNDEF, rc = -1;
    for (int i = 0; i < n; i++) {
        if ((e[i] = tensor_input(c, (size_t)i)) < 0) goto out;
        int t = elem_dtype(c, e[i]);
        if (dt != DT_UNDEF && t != DT_UNDEF && t != dt) {
            fail(c, "elements of types %s and %s", dtype_name(dt), dtype_name(t));
            goto out;
        }
        if (t != DT_UNDEF) dt = t;
    }
    rc = bind_out_seq(c, seq_new(c->im, n, e, dt));
out:
    free(e);
    return rc;
}

static int seq_insert(Ctx *c, bool erase) {
    int k = seq_input(c, 0);
    if (k < 0) return -1;
    Seq s = *seq_at(c->im, k);
    int v = -1, pos;
    if (!erase && ((v = tensor_input(c, 1)) < 0 || check_dtype(c, &s, v) < 0)) return -1;
    if (erase && s.n == 0) return fail(c, "erasing from an empty sequence");
    if (!erase && s.n >= SEQ_MAX) return fail(c, "more than %d elements", SEQ_MAX);
    if (position(c, erase ? 1 : 2, s.n, !erase, erase ? s.n - 1 : s.n, &pos) < 0) return -1;
    int *e = malloc((size_t)(s.n + 2) * sizeof(int)), m = 0;
    for (int i = 0; i <= s.n; i++) {
        if (i == pos && !erase) e[m++] = v;
        if (i < s.n && !(erase && i == pos)) e[m++] = s.elems[i];
    }
    int dt = s.dtype != DT_UNDEF ? s.dtype : v >= 0 ? elem_dtype(c, v) : DT_UNDEF;
    int rc = bind_out_seq(c, seq_new(c->im, m, e, dt));
    free(e);
    return rc;
}

static int seq_empty(Ctx *c) {
    int dt = (int)int_attr(c, "dtype", DT_F32);
    if (dt <= DT_UNDEF || dt >= DT_COUNT || dtype_size(dt) == 0)
        return fail(c, "element type %d", dt);
    return bind_out_seq(c, seq_new(c->im, 0, NULL, dt));
}

static int seq_at_op(Ctx *c) {
    int k = seq_input(c, 0), pos;
    if (k < 0) return -1;
    Seq *s = seq_at(c->im, k);
    if (s->n == 0) return fail(c, "the sequence is empty");
    if (!*in_name(c, 1)) return fail(c, "required input 1 is absent");
    if (position(c, 1, s->n, 0, 0, &pos) < 0) return -1;
    return define_out(c, 0, s->elems[pos]);
}

static int seq_length(Ctx *c) {
    int k = seq_input(c, 0);
    if (k < 0) return -1;
    int64_t n = seq_at(c->im, k)->n;
    return define_out(c, 0, const_i64(c, &n, 1, true));
}

/* SplitToSequence-11: split absent -> pieces of 1 (squeezed when keepdims=0); a scalar ->
 * pieces of that size, the last one shorter; a 1-D tensor -> those sizes. */
static int split_to_seq(Ctx *c) {
    int x = tensor_input(c, 0);
    if (x < 0) return -1;
    int64_t axis = int_attr(c, "axis", 0), keep = int_attr(c, "keepdims", 1);
    bool has_split = *in_name(c, 1);
    int64_t *sz = malloc(SEQ_MAX * sizeof(int64_t));
    int *outs = NULL, n = 0, rc = -1;
    Type xt = gval(c->g, x)->type;
    if (has_split) {
        int sv = tensor_input(c, 1), count;
        if (sv < 0 || static_ints(c, sv, "split", sz, SEQ_MAX, &count) < 0) goto out;
        int srank = gval(c->g, through_identity(c->g, sv))->type.rank;
        if (srank == 0) {
            if (sz[0] <= 0) {
                fail(c, "split size %lld is not positive", (long long)sz[0]);
                goto out;
            }
            if (static_type(c, x, &xt) < 0) goto out;
        } else {
            n = count;
        }
    } else if (static_type(c, x, &xt) < 0) {
        goto out;
    }
    /* The dims decide the count unless the sizes were given as a list. */
    if (n == 0 || !has_split) {
        if (axis < -xt.rank || axis >= xt.rank) {
            fail(c, "axis %lld is out of range for rank %d", (long long)axis, xt.rank);
            goto out;
        }
        int64_t dim = xt.dims[axis < 0 ? axis + xt.rank : axis];
        if (dim == IR_DIM_N) {
            fail(c, "splitting along the batch dim");
            goto out;
        }
        int64_t piece = has_split ? sz[0] : 1;
        if (dim / piece + 1 > SEQ_MAX) {
            fail(c, "more than %d pieces", SEQ_MAX);
            goto out;
        }
        for (int64_t left = dim; left > 0; left -= piece) sz[n++] = left < piece ? left : piece;
    }
    if (n == 0 || n > CONCAT_MAX) {
        fail(c, "%d pieces (isbc splits into 1 to %d)", n, CONCAT_MAX);
        goto out;
    }
    outs = malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) outs[i] = -1;
    int in[2] = {x, const_i64(c, sz, n, false)};
    add_node(c, OP_Split, 2, in, n, outs);
    node_set_int(c->g, gnode(c->g, c->g->nnode - 1), "axis", axis);
    if (!has_split && keep == 0)
        for (int i = 0; i < n; i++) {
            int sq[2] = {outs[i], const_i64(c, &axis, 1, false)}, o = -1;
            add_node(c, OP_Squeeze, 2, sq, 1, &o);
            outs[i] = o;
        }
    rc = bind_out_seq(c, seq_new(c->im, n, outs, xt.dtype));
out:
    free(sz);
    free(outs);
    return rc;
}

/* ConcatFromSequence-11: Concat along axis, or along a new axis (new_axis=1). */
static int concat_from_seq(Ctx *c) {
    int k = seq_input(c, 0);
    if (k < 0) return -1;
    Seq *s = seq_at(c->im, k);
    if (!find_attr(c, "axis")) return fail(c, "the required attribute 'axis' is absent");
    int64_t axis = int_attr(c, "axis", 0);
    bool new_axis = int_attr(c, "new_axis", 0) != 0;
    if (s->n == 0) return fail(c, "the sequence is empty");
    int *e = malloc((size_t)s->n * sizeof(int));
    for (int i = 0; i < s->n; i++) e[i] = new_axis ? unsqueeze(c, s->elems[i], axis) : s->elems[i];
    int v = concat(c, e, s->n, axis, -1);
    free(e);
    return define_out(c, 0, v);
}

/* ---- Loop (ONNX Loop-1/11/13/16), unrolled ----------------------------------------------------
 */

typedef struct Carried {
    int v;   /* value id, or -1 */
    int seq; /* sequence index, or -1 */
} Carried;

/* The value or sequence `name` in the current scope. */
static int carried(Ctx *c, const char *name, const char *what, Carried *out) {
    out->v = *name ? im_lookup(c->im, name) : -1;
    out->seq = out->v < 0 && *name ? seq_lookup(c->im, name) : -1;
    if (out->v < 0 && out->seq < 0)
        return diag_node(c->im->d, c->op, c->g->opset, c->label, ": %s '%s' is not defined", what,
                         name);
    return 0;
}

static void bind_carried(Importer *im, const char *name, Carried cv) {
    if (!name || !*name) return;
    if (cv.v >= 0)
        im_bind(im, name, cv.v);
    else
        strmap_put(&im->scope->seqs, graph_strdup(im->g, name), cv.seq);
}

/* Condition value v: 1 true, 0 false; -1 with a message if not a compile-time constant. */
static int static_cond(Ctx *c, int v, const char *what) {
    int64_t b;
    if (static_scalar(c, v, what, &b) < 0) return -1;
    return b != 0;
}

/* Import the body's nodes for one iteration in a fresh scope under `body`. */
static int unroll_once(Ctx *c, const Onnx__GraphProto *bg, Scope *body, int64_t iter, int cond,
                       Carried *state, int nstate, Carried *out_state, int *scan, int nscan,
                       int *cond_out) {
    Importer *im = c->im;
    char suffix[256];
    snprintf(suffix, sizeof suffix, "%.200s#%lld", body->suffix, (long long)iter);
    Scope it = {.suffix = graph_strdup(c->g, suffix), .parent = body};
    strmap_init(&it.vals, c->g->arena);
    strmap_init(&it.seqs, c->g->arena);
    Scope *saved = im->scope;
    im->scope = &it;
    int rc = -1;
    const char *iname = bg->input[0]->name ? bg->input[0]->name : "";
    const char *cname = bg->input[1]->name ? bg->input[1]->name : "";
    if (*iname) im_bind(im, iname, const_i64(c, &iter, 1, true));
    if (*cname) im_bind(im, cname, cond);
    for (int i = 0; i < nstate; i++) bind_carried(im, bg->input[2 + i]->name, state[i]);
    for (size_t j = 0; j < bg->n_node; j++)
        if (import_node(im, bg->node[j], (int)j) < 0) goto out;
    const char *con = bg->output[0]->name ? bg->output[0]->name : "";
    if ((*cond_out = im_lookup(im, con)) < 0) {
        diag_node(im->d, c->op, c->g->opset, c->label, ": body condition '%s' is not a tensor",
                  con);
        goto out;
    }
    for (int i = 0; i < nstate; i++)
        if (carried(c, bg->output[1 + i]->name ? bg->output[1 + i]->name : "", "body output",
                    &out_state[i]) < 0)
            goto out;
    for (int i = 0; i < nscan; i++) {
        const char *sn = bg->output[1 + nstate + i]->name ? bg->output[1 + nstate + i]->name : "";
        if ((scan[i] = im_lookup(im, sn)) < 0) {
            fail(c, "scan output '%s' is not a tensor", sn);
            goto out;
        }
    }
    rc = 0;
out:
    im->scope = saved;
    return rc;
}

static int loop_op(Ctx *c) {
    Importer *im = c->im;
    const Onnx__AttributeProto *ba = find_attr(c, "body");
    const Onnx__GraphProto *bg = ba ? ba->g : NULL;
    if (!bg) return fail(c, "the required attribute 'body' is absent");
    if (c->np->n_attribute != 1) return fail(c, "unexpected attributes besides 'body'");
    if (c->np->n_input < 2) return fail(c, "expected at least 2 inputs");
    int nstate = (int)c->np->n_input - 2;
    int nscan = (int)bg->n_output - 1 - nstate;
    if ((int)bg->n_input != 2 + nstate || nscan < 0)
        return fail(c, "the body has %zu inputs and %zu outputs for %d loop-carried values",
                    bg->n_input, bg->n_output, nstate);
    if ((int)c->np->n_output > nstate + nscan)
        return fail(c, "%zu outputs, the body yields %d", c->np->n_output, nstate + nscan);
    if (!*in_name(c, 0))
        return fail(c, "no trip count: a loop that only its condition ends cannot be unrolled");
    int mv = tensor_input(c, 0);
    int64_t trips;
    if (mv < 0 || static_scalar(c, mv, "trip count", &trips) < 0) return -1;
    int cond = -1;
    if (*in_name(c, 1)) {
        if ((cond = tensor_input(c, 1)) < 0) return -1;
        int b = static_cond(c, cond, "condition");
        if (b < 0) return -1;
        if (!b) trips = 0;
    }
    if (trips < 0) trips = 0;
    if (trips > 0 && (int64_t)bg->n_node * trips > UNROLL_MAX_NODES)
        return fail(c, "%lld iterations of %zu nodes is too much to unroll (at most %d nodes)",
                    (long long)trips, bg->n_node, UNROLL_MAX_NODES);
    bool t = true;
    int cond_true = graph_add_const(c->g, NULL, type_make(DT_BOOL, 0, NULL), &t);

    /* The body's own initializers, once, in a scope shared by the iterations. */
    char suffix[256];
    snprintf(suffix, sizeof suffix, "%.100s#%.100s", im->scope->suffix,
             c->np->name && *c->np->name ? c->np->name : "loop");
    Scope body = {.suffix = graph_strdup(c->g, suffix), .parent = im->scope};
    strmap_init(&body.vals, c->g->arena);
    strmap_init(&body.seqs, c->g->arena);
    Carried *state = calloc((size_t)nstate + 1, sizeof *state);
    Carried *next = calloc((size_t)nstate + 1, sizeof *next);
    int *scan = calloc((size_t)nscan + 1, sizeof *scan);
    int **stacks = calloc((size_t)nscan + 1, sizeof *stacks);
    int rc = -1, done = 0;
    for (int i = 0; i < nstate; i++)
        if (carried(c, in_name(c, 2 + (size_t)i), "loop-carried input", &state[i]) < 0) goto out;
    for (int i = 0; i < nscan; i++) stacks[i] = malloc((size_t)(trips + 1) * sizeof(int));
    Scope *saved = im->scope;
    im->scope = &body;
    for (size_t i = 0; i < bg->n_initializer; i++) {
        const Onnx__TensorProto *tp = bg->initializer[i];
        Type ty;
        void *data;
        int v = -1;
        if (tp->name && *tp->name && tensor_from_proto(tp, im->dir, &ty, &data, im->d) == 0) {
            v = im_add_const(im, tp->name, ty, data);
            free(data);
        }
        if (v < 0) {
            im->scope = saved;
            if (!tp->name || !*tp->name) fail(c, "a body initializer has no name");
            goto out;
        }
    }
    im->scope = saved;

    for (int64_t k = 0; k < trips; k++) {
        int cv;
        if (c->g->nnode > GRAPH_MAX_NODES) {
            fail(c, "unrolling makes more than %d nodes", GRAPH_MAX_NODES);
            goto out;
        }
        /* The condition is known true here: each iteration reads the constant, so that no
         * chain of Identity nodes grows across iterations. */
        if (unroll_once(c, bg, &body, k, cond_true, state, nstate, next, scan, nscan, &cv) < 0)
            goto out;
        for (int i = 0; i < nstate; i++) state[i] = next[i];
        for (int i = 0; i < nscan; i++) stacks[i][done] = scan[i];
        done++;
        int b = static_cond(c, cv, "body condition");
        if (b < 0) goto out;
        if (!b) break;
    }
    for (int i = 0; i < nstate && i < (int)c->np->n_output; i++) {
        const char *on = c->np->output[i] ? c->np->output[i] : "";
        if (state[i].v >= 0) {
            if (define_out(c, (size_t)i, state[i].v) < 0) goto out;
        } else if (*on) {
            if (im_defined_here(im, on)) {
                diag_node(im->d, c->op, c->g->opset, c->label,
                          ": output '%s' is defined more than once", on);
                goto out;
            }
            seq_bind(im, on, state[i].seq);
        }
    }
    for (int i = 0; i < nscan && nstate + i < (int)c->np->n_output; i++) {
        if (!*c->np->output[nstate + i]) continue;
        if (done == 0) {
            fail(c, "scan output '%s' of zero iterations", c->np->output[nstate + i]);
            goto out;
        }
        for (int k = 0; k < done; k++) stacks[i][k] = unsqueeze(c, stacks[i][k], 0);
        if (define_out(c, (size_t)(nstate + i), concat(c, stacks[i], done, 0, -1)) < 0) goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < nscan; i++) free(stacks[i]);
    free(stacks);
    free(state);
    free(next);
    free(scan);
    return rc;
}

/* ---- entry points ------------------------------------------------------------------------------
 */

int seq_import_node(Importer *im, const Onnx__NodeProto *np, int idx) {
    Ctx c = {.im = im, .g = im->g, .np = np, .op = np->op_type};
    if (np->name && *np->name)
        snprintf(c.label, sizeof c.label, "%s", np->name);
    else
        snprintf(c.label, sizeof c.label, "%s#%d", np->op_type, idx);
    if (strcmp(c.op, "Loop") && c.g->opset < 11)
        return diag_unsupported(im->d, c.op, NULL, c.g->opset, c.label,
                                ": sequences need opset 11");
    if (np->n_output != 1 && strcmp(c.op, "Loop"))
        return fail(&c, "expected one output, got %zu", np->n_output);
    for (size_t i = 0; i < np->n_attribute; i++)
        if (np->attribute[i]->ref_attr_name && *np->attribute[i]->ref_attr_name)
            return fail(&c, "attribute '%s' refers to a function attribute",
                        np->attribute[i]->name);
    if (!strcmp(c.op, "SequenceEmpty")) return seq_empty(&c);
    if (!strcmp(c.op, "SequenceConstruct")) return seq_construct(&c);
    if (!strcmp(c.op, "SequenceInsert")) return seq_insert(&c, false);
    if (!strcmp(c.op, "SequenceErase")) return seq_insert(&c, true);
    if (!strcmp(c.op, "SequenceAt")) return seq_at_op(&c);
    if (!strcmp(c.op, "SequenceLength")) return seq_length(&c);
    if (!strcmp(c.op, "SplitToSequence")) return split_to_seq(&c);
    if (!strcmp(c.op, "ConcatFromSequence")) return concat_from_seq(&c);
    if (!strcmp(c.op, "Loop")) return loop_op(&c);
    assert(!"seq_handles and seq_import_node disagree");
    return -1;
}

void seq_finish(Importer *im) {
    Graph *g = im->g;
    if (!im->nseq_made) return;
    int *uses = graph_use_counts(g);
    /* Newest first, so a Squeeze dropped frees its Split. */
    for (int i = im->nseq_made - 1; i >= 0; i--) {
        int v = im->seq_made[i];
        int def = gval(g, v)->def;
        if (def < 0 || gnode(g, def)->dead) continue;
        Node *n = gnode(g, def);
        bool unused = true;
        for (int j = 0; j < n->nout; j++) unused &= uses[n->out[j]] == 0;
        if (!unused) continue;
        n->dead = true;
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] >= 0) uses[n->in[j]]--;
    }
    free(uses);
}

void seq_free(Importer *im) {
    if (im->seq) free(im->seq->items);
    free(im->seq);
    free(im->seq_made);
    im->seq = NULL;
    im->seq_made = NULL;
}
