/* infer.c — pass_infer: shape inference, validation, and folding of shape arithmetic.
 *
 * Requires: an imported (or parsed) graph in execution order; every graph input and constant
 * has a known type (the batch dim may be N), otherwise "unsupported: ... (fix it with
 * --shape)". Guarantees: every live value and every graph output has a known type (ir/shape.c
 * rules, ONNX semantics); every OPF_FOLD node whose inputs are all constant and whose outputs
 * hold at most FOLD_MAX elements, and every Shape/Size of a static shape, has been replaced by
 * constants (its output values become constants in place: same ids and names); dead nodes are
 * dropped. Unused constants stay for DCE.
 *
 * The symbolic batch. PyTorch exports `x.view(x.size(0), -1)` as
 *     Shape(x) -> Gather(0) -> Unsqueeze -> Concat(with [-1]) -> Reshape(x, that)
 * which, when dims[0] of x is N, is not a constant. The pass keeps a side table of "symbolic
 * int vectors": scalars or 1-D integer vectors (at most SYM_MAX elements) whose elements are
 * each a known int or N. Shape of a value with N starts one; Gather, Slice, Unsqueeze,
 * Squeeze, Concat, Cast (to i32/i64) and Identity move elements around; Add/Sub/Mul/Div
 * compute known elements and keep N only through N*1, N/1, N+0, N-0 (anything else ends the
 * vector, the node stays and later shape rules report a non-constant input). A vector that no
 * longer mentions N is folded into a constant (so Shape(x)[1] becomes a plain 3). Two
 * consumers are rewritten:
 *   - Reshape(x, v) where x has N at dims[0] and v = [N, rest...] with rest known: the shape
 *     becomes the constant [-1, rest'] where rest' resolves rest's 0 (copy) and -1 against x's
 *     per-instance dims, so the rest is fixed and the -1 can only mean N (Reshape-14);
 *   - Expand(x, v) where x = [N, ...] and v = [N, known...] of the same rank: element 0
 *     becomes 1, which broadcasts to N (Expand-13).
 * The table lives only during the pass. */
#include "eval.h"

#include <stdlib.h>
#include <string.h>

#define FOLD_MAX (64 * 1024) /* largest output (elements) folded during inference */
#define SYM_MAX 16

typedef struct Sym {
    bool set;
    int rank; /* 0 (scalar) or 1 */
    int len;
    int64_t v[SYM_MAX];
    unsigned nmask; /* bit i: element i is N */
} Sym;

typedef struct Infer {
    Graph *g;
    Sym *tab; /* indexed by value id, for ids < ntab */
    int ntab;
} Infer;

static bool is_int_dt(int dt) {
    return dt == DT_I64 || dt == DT_I32;
}

/* The symbolic vector of v: its table entry, or a small constant integer vector. */
static bool get_sym(const Infer *s, int v, Sym *out) {
    if (v < 0) return false;
    if (v < s->ntab && s->tab[v].set) {
        *out = s->tab[v];
        return true;
    }
    const Type *t = &gval(s->g, v)->type;
    if (t->rank > 1 || !is_int_dt(t->dtype)) return false;
    memset(out, 0, sizeof *out);
    if (!value_const_ints(s->g, v, out->v, SYM_MAX, &out->len)) return false;
    out->set = true;
    out->rank = t->rank;
    return true;
}

/* Element op of two symbolic elements; false if the result is not representable. */
static bool sym_arith(int op, int64_t a, bool an, int64_t b, bool bn, int64_t *r, bool *rn) {
    *rn = false;
    if (an && bn) return false;
    if (an || bn) {
        int64_t k = an ? b : a;
        bool keeps = (op == OP_Mul && k == 1) || (an && op == OP_Div && k == 1) ||
                     (op == OP_Add && k == 0) || (an && op == OP_Sub && k == 0);
        *rn = keeps;
        return keeps;
    }
    switch (op) {
    case OP_Add: *r = a + b; return true;
    case OP_Sub: *r = a - b; return true;
    case OP_Mul: *r = a * b; return true;
    case OP_Div:
        if (b == 0) return false;
        *r = a / b;
        return true;
    default: return false;
    }
}

/* Compute node i's output as a symbolic vector. false if not applicable. */
static bool sym_eval(Infer *s, int i, Sym *out) {
    Graph *g = s->g;
    Node *n = gnode(g, i);
    memset(out, 0, sizeof *out);
    out->set = true;
    out->rank = 1;
    if (n->nout != 1 || !is_int_dt(gval(g, n->out[0])->type.dtype)) return false;
    if (n->op == OP_Shape) {
        const Type *x = &gval(g, n->in[0])->type;
        if (!type_has_batch(x)) return false;
        int64_t first, len;
        slice_bounds(x->rank, attr_int(n, "start", 0), attr_int(n, "end", INT64_MAX), 1, &first,
                     &len);
        out->len = (int)len;
        for (int k = 0; k < len; k++) {
            out->v[k] = x->dims[first + k];
            if (first + k == 0) out->nmask |= 1u;
        }
        return true;
    }
    Sym in[8];
    bool any_n = false;
    if (n->nin > 8) return false;
    for (int k = 0; k < n->nin; k++) {
        if (n->in[k] < 0) {
            in[k].set = false;
            continue;
        }
        if (!get_sym(s, n->in[k], &in[k])) return false;
        any_n |= in[k].nmask != 0;
    }
    if (!any_n) return false;
    const Sym *x = &in[0];
    switch (n->op) {
    case OP_Identity:
    case OP_Cast: *out = *x; return true;
    case OP_Gather: {
        const Sym *ix = &in[1];
        int64_t axis = attr_int(n, "axis", 0);
        if (x->rank != 1 || ix->nmask || (axis != 0 && axis != -1)) return false;
        out->rank = ix->rank;
        out->len = ix->rank ? ix->len : 1;
        for (int k = 0; k < out->len; k++) {
            int64_t j = ix->v[k] < 0 ? ix->v[k] + x->len : ix->v[k];
            if (j < 0 || j >= x->len) return false;
            out->v[k] = x->v[j];
            if (x->nmask >> j & 1) out->nmask |= 1u << k;
        }
        return true;
    }
    case OP_Slice: {
        if (x->rank != 1 || n->nin < 3) return false;
        for (int k = 1; k < n->nin; k++)
            if (in[k].set && (in[k].nmask || in[k].len != 1)) return false;
        if (n->nin > 3 && in[3].set && in[3].v[0] != 0 && in[3].v[0] != -1) return false;
        int64_t step = n->nin > 4 && in[4].set ? in[4].v[0] : 1, first, len;
        if (step == 0) return false;
        slice_bounds(x->len, in[1].v[0], in[2].v[0], step, &first, &len);
        out->len = (int)len;
        for (int k = 0; k < len; k++) {
            int64_t j = first + k * step;
            out->v[k] = x->v[j];
            if (x->nmask >> j & 1) out->nmask |= 1u << k;
        }
        return true;
    }
    case OP_Unsqueeze: /* scalar -> [1] */
        if (x->rank != 0 ||
            (n->nin > 1 && (in[1].len != 1 || (in[1].v[0] != 0 && in[1].v[0] != -1))))
            return false;
        *out = *x;
        out->rank = 1;
        return true;
    case OP_Squeeze: /* [1] -> scalar */
        if (x->rank != 1 || x->len != 1) return false;
        *out = *x;
        out->rank = 0;
        return true;
    case OP_Concat:
        for (int k = 0; k < n->nin; k++) {
            if (!in[k].set || in[k].rank != 1 || out->len + in[k].len > SYM_MAX) return false;
            for (int j = 0; j < in[k].len; j++) {
                if (in[k].nmask >> j & 1) out->nmask |= 1u << out->len;
                out->v[out->len++] = in[k].v[j];
            }
        }
        return true;
    case OP_Add:
    case OP_Sub:
    case OP_Mul:
    case OP_Div: {
        const Sym *a = &in[0], *b = &in[1];
        int la = a->rank ? a->len : 1, lb = b->rank ? b->len : 1;
        if (la != lb && la != 1 && lb != 1) return false;
        out->rank = a->rank > b->rank ? a->rank : b->rank;
        out->len = la > lb ? la : lb;
        for (int k = 0; k < out->len; k++) {
            int ka = la == 1 ? 0 : k, kb = lb == 1 ? 0 : k;
            bool rn;
            if (!sym_arith(n->op, a->v[ka], a->nmask >> ka & 1, b->v[kb], b->nmask >> kb & 1,
                           &out->v[k], &rn))
                return false;
            if (rn) out->nmask |= 1u << k;
        }
        return true;
    }
    default: return false;
    }
}

/* Record node i's symbolic output, or fold it to a constant if it no longer mentions N. */
static void sym_step(Infer *s, int i) {
    Sym r;
    if (!sym_eval(s, i, &r)) return;
    Graph *g = s->g;
    Node *n = gnode(g, i);
    int v = n->out[0];
    const Type *t = &gval(g, v)->type;
    if (type_numel(t, 1) != (r.rank ? r.len : 1) || t->rank != r.rank) return;
    if (r.nmask == 0) {
        void *data = graph_alloc(g, (size_t)type_bytes(t, 1));
        for (int k = 0; k < r.len; k++) {
            if (t->dtype == DT_I64)
                ((int64_t *)data)[k] = r.v[k];
            else
                ((int32_t *)data)[k] = (int32_t)r.v[k];
        }
        eval_set_const(g, v, data);
        n->dead = true;
        return;
    }
    if (v < s->ntab) s->tab[v] = r;
}

/* Replace input 1 of node i by a new constant i64 vector. */
static void set_shape_input(Graph *g, int i, const int64_t *v, int len) {
    Node *n = gnode(g, i);
    int64_t dims[1] = {len};
    int c = graph_add_const(g, gval(g, n->in[1])->name, type_make(DT_I64, 1, dims), v);
    gnode(g, i)->in[1] = c;
}

/* Before inferring a Reshape/Expand whose shape input is a symbolic vector with N, try to
 * turn it into an equivalent constant (see the comment at the top). */
static void sym_rewrite(Infer *s, int i) {
    Graph *g = s->g;
    Node *n = gnode(g, i);
    if ((n->op != OP_Reshape && n->op != OP_Expand) || n->in[1] < 0 || n->in[1] >= s->ntab ||
        !s->tab[n->in[1]].set)
        return;
    const Sym *sv = &s->tab[n->in[1]];
    const Type *x = &gval(g, n->in[0])->type;
    if (!type_known(x) || !type_has_batch(x) || sv->rank != 1 || sv->nmask != 1u) return;
    int64_t v[SYM_MAX];
    if (n->op == OP_Expand) {
        if (sv->len != x->rank) return;
        memcpy(v, sv->v, sizeof v);
        v[0] = 1;
        set_shape_input(g, i, v, sv->len);
        return;
    }
    bool allowzero = attr_int(n, "allowzero", 0) != 0;
    int64_t in_n = 1, known = 1;
    int infer = -1;
    for (int k = 1; k < x->rank; k++) in_n *= x->dims[k];
    v[0] = -1;
    for (int k = 1; k < sv->len; k++) {
        v[k] = sv->v[k];
        if (v[k] == 0 && !allowzero) {
            if (k >= x->rank) return;
            v[k] = x->dims[k];
        } else if (v[k] == -1) {
            if (infer >= 0) return;
            infer = k;
            continue;
        } else if (v[k] < 0)
            return;
        known = sat_mul(known, v[k]);
    }
    if (infer >= 0) {
        if (known == 0 || in_n % known) return;
        v[infer] = in_n / known;
    }
    set_shape_input(g, i, v, sv->len);
}

static int infer_all(Graph *g, const Type *decl, Arena *tmp, Diag *d);

static int check_typed(Graph *g, int v, const char *what, Diag *d) {
    const Value *val = gval(g, v);
    char b[128];
    if (!type_known(&val->type))
        return diag(d, "unsupported: %s '%s' of unknown shape %s (fix it with --shape)", what,
                    val->name, type_str(&val->type, b, sizeof b));
    if (type_bytes(&val->type, 1) < 0)
        return diag(d, "%s '%s' of type %s is too large (more than %lld bytes per instance)", what,
                    val->name, type_str(&val->type, b, sizeof b), (long long)IR_MAX_BYTES);
    return 0;
}

/* A graph output's declared type (from the model) against the inferred one: when a shape is
 * declared, dtype, rank and every dim it fixes must agree (a declared fixed dim may stand
 * for N). */
static int check_declared(const Graph *g, int v, const Type *decl, Diag *d) {
    const Type *t = &gval(g, v)->type;
    if (decl->rank == IR_RANK_UNKNOWN) return 0; /* no shape declared (or an untyped IR value) */
    bool bad = (decl->dtype != DT_UNDEF && decl->dtype != t->dtype) || decl->rank != t->rank;
    for (int i = 0; i < decl->rank && !bad; i++)
        bad |= decl->dims[i] >= 0 && t->dims[i] != IR_DIM_N && decl->dims[i] != t->dims[i];
    if (!bad) return 0;
    char b1[160], b2[160];
    return diag(d, "graph output '%s': the model declares %s, but it is %s", gval(g, v)->name,
                type_str(decl, b1, sizeof b1), type_str(t, b2, sizeof b2));
}

int pass_infer(Graph *g, Diag *d) {
    /* declared output types, before inference replaces them */
    Arena *tmp = arena_new(); /* this pass's scratch */
    Type *decl = arena_alloc(tmp, sizeof *decl * ((size_t)g->noutput + 1));
    for (int k = 0; k < g->noutput; k++) decl[k] = gval(g, g->outputs[k])->type;
    int rc = infer_all(g, decl, tmp, d);
    arena_free(tmp);
    return rc;
}

static int infer_all(Graph *g, const Type *decl, Arena *tmp, Diag *d) {
    for (int k = 0; k < g->ninput; k++)
        if (check_typed(g, g->inputs[k], "graph input", d) < 0) return -1;
    for (int v = 0; v < g->nval; v++)
        if (gval(g, v)->flags & VAL_CONST && check_typed(g, v, "constant", d) < 0) return -1;
    Infer s = {.g = g, .ntab = g->nval};
    s.tab = arena_alloc(tmp, sizeof *s.tab * ((size_t)s.ntab + 1));
    int rc = 0;
    for (int i = 0; i < g->nnode && rc == 0; i++) {
        if (gnode(g, i)->dead) continue;
        sym_rewrite(&s, i);
        if (infer_node(g, i, d) < 0) {
            rc = -1;
            break;
        }
        if (eval_node(g, i, FOLD_MAX) == 0) continue;
        sym_step(&s, i);
    }
    if (rc < 0) return -1;
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        for (int k = 0; k < n->nout; k++)
            if (check_typed(g, n->out[k], "value", d) < 0) return -1;
    }
    for (int k = 0; k < g->noutput; k++)
        if (check_typed(g, g->outputs[k], "graph output", d) < 0 ||
            check_declared(g, g->outputs[k], &decl[k], d) < 0)
            return -1;
    return graph_compact(g, d);
}
