/* fuse_elementwise.c — elementwise trees become one Elementwise node.
 * Requires: inferred types. Guarantees: every float elementwise op listed below (not Cast,
 * Identity, Not, comparisons, Where, nor any op with an input of another dtype) is part of an
 * `Elementwise` node, even when alone, so codegen has one path for them. A tree is maximal:
 * an input produced by another such op is absorbed when that value has this one use, is not
 * a graph output nor a guard's gate/value nor named in the isb.branches annotation, is in
 * the same guard, and has exactly the type of the tree's result (inputs from outside the
 * tree may broadcast). Single-element constants become literals. The node keeps the root's
 * output and name and takes the root's place.
 *
 * The `_code` attribute: a postfix program, evaluated independently for every element of
 * the output, on a stack of scalars of the output's dtype.
 *
 *   code  := token (' ' token)*      (single spaces; leaves exactly one value on the stack)
 *   token := 'x' K                   push input K of the node (K decimal, 0-based). Input K is
 *                                    read at the output element's index under ONNX (numpy)
 *                                    multidirectional broadcasting against the output shape.
 *                                    Every input appears at least once.
 *          | '#' NUMBER              push a literal, in C strtod syntax ("%.9g" for f32,
 *                                    "%.17g" for f64): 1.5, -3.40282347e+38, inf, -inf, nan
 *          | OP (':' PARAM)*         pop the operands of OP (the top of the stack is its last
 *                                    operand), push OP's result. PARAMs are OP's attributes,
 *                                    written like literals, always all present (defaults
 *                                    filled in).
 *   OP, by operand count, with the ONNX semantics of that op:
 *     1  Relu Sigmoid Tanh Exp Log Sqrt Neg Abs Reciprocal Floor Ceil Erf HardSwish
 *        LeakyRelu:ALPHA               (LeakyRelu-16)
 *        HardSigmoid:ALPHA:BETA        max(0, min(1, ALPHA*x + BETA)) (HardSigmoid-6)
 *     2  Add Sub Mul Div Pow Max Min   ("a b Sub" is a - b; an ONNX Max/Min of k inputs is
 *                                      written as k-1 binary Max/Min tokens)
 *     3  Clip                          (x min max): min(max(x, min), max) (Clip-13); an
 *                                      absent bound is -3.40282347e+38 / 3.40282347e+38
 *                                      (float lowest / max, the spec's defaults)
 *
 * Example: LeakyRelu(Add(conv, Mul(s, 2))), s a [C,1,1] tensor and 2 a scalar constant:
 * "x0 x1 #2 Mul Add LeakyRelu:0.00999999978". */
#include "passes.h"

#include <assert.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

/* Operand count of a fusable op's token (0: not fusable, OPF_FUSE in ops.def). */
static int op_operands(int op) {
    const OpInfo *oi = op_info(op);
    if (!(oi->flags & OPF_FUSE)) return 0;
    return op == OP_Clip ? 3 : (oi->flags & OPF_UNARY) ? 1 : 2;
}

typedef struct Buf {
    char *s;
    size_t len, cap;
} Buf;

static void put(Buf *b, const char *tok) {
    size_t n = strlen(tok);
    if (b->len + n + 2 > b->cap) {
        b->cap = (b->len + n + 2) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) abort();
    }
    if (b->len) b->s[b->len++] = ' ';
    memcpy(b->s + b->len, tok, n + 1);
    b->len += n;
}

typedef struct Fuse {
    Graph *g;
    int *uses;
    bool *pinned;
    int root;
    Type rtype;  /* the root's output type */
    int ins[16]; /* external inputs, in xK order */
    int nin;
    int *absorbed; /* producers merged into the tree */
    int nabsorbed;
    Buf code;
    bool fail;       /* more than 16 external inputs */
    bool flat;       /* retry: absorb no producer */
    bool noliterals; /* retry: constants are inputs (all inputs were literals) */
} Fuse;

/* Whether node i may be part of an Elementwise node (as root or absorbed). */
static bool fusable(const Graph *g, int i) {
    const Node *n = gnode(g, i);
    if (n->dead || n->nout != 1 || !(op_info(n->op)->flags & OPF_ELEMWISE)) return false;
    if (n->op != OP_Elementwise && op_operands(n->op) == 0) return false;
    int dt = gval(g, n->out[0])->type.dtype;
    if (!dtype_is_float(dt) || !type_known(&gval(g, n->out[0])->type)) return false;
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] >= 0 && gval(g, n->in[k])->type.dtype != dt) return false;
    return true;
}

static void emit_node(Fuse *F, int i);

static void emit_literal(Fuse *F, double x) {
    char tok[64];
    snprintf(tok, sizeof tok, F->rtype.dtype == DT_F64 ? "#%.17g" : "#%.9g", x);
    put(&F->code, tok);
}

/* Emit value v: absorbed producer, literal, or external input. */
static void emit_value(Fuse *F, int v) {
    Graph *g = F->g;
    const Value *val = gval(g, v);
    int p = val->def;
    if (p >= 0 && !F->flat && F->uses[v] == 1 && !(val->flags & VAL_OUTPUT) && !F->pinned[v] &&
        gnode(g, p)->guard == gnode(g, F->root)->guard && fusable(g, p) &&
        type_equal(&val->type, &F->rtype)) {
        F->absorbed[F->nabsorbed++] = p;
        emit_node(F, p);
        return;
    }
    if (!F->noliterals && (val->flags & VAL_CONST) && val->data && type_numel(&val->type, 1) == 1 &&
        !type_has_batch(&val->type) && (val->type.dtype == DT_F32 || val->type.dtype == DT_F64)) {
        emit_literal(F, val->type.dtype == DT_F32 ? *(const float *)val->data
                                                  : *(const double *)val->data);
        return;
    }
    int k = 0;
    while (k < F->nin && F->ins[k] != v) k++;
    if (k == F->nin) {
        if (F->nin == 16) {
            F->fail = true;
            return;
        }
        F->ins[F->nin++] = v;
    }
    char tok[32];
    snprintf(tok, sizeof tok, "x%d", k);
    put(&F->code, tok);
}

/* Optional input k of n, or the literal dflt if absent. */
static void emit_opt(Fuse *F, const Node *n, int k, double dflt) {
    if (k < n->nin && n->in[k] >= 0)
        emit_value(F, n->in[k]);
    else
        emit_literal(F, dflt);
}

static void emit_node(Fuse *F, int i) {
    const Node *n = gnode(F->g, i);
    const char *name = op_info(n->op)->name;
    switch (n->op) {
    case OP_Elementwise: {
        /* splice: its xK are replaced by its inputs */
        const char *s = attr_string(n, "_code", "");
        char tok[64];
        while (*s) {
            size_t len = strcspn(s, " ");
            snprintf(tok, sizeof tok, "%.*s", (int)len, s);
            if (tok[0] == 'x')
                emit_value(F, n->in[atoi(tok + 1)]);
            else
                put(&F->code, tok);
            s += len;
            while (*s == ' ') s++;
        }
        return;
    }
    case OP_Max:
    case OP_Min:
        emit_value(F, n->in[0]);
        for (int k = 1; k < n->nin; k++) {
            emit_value(F, n->in[k]);
            put(&F->code, name);
        }
        return;
    case OP_LeakyRelu:
    case OP_HardSigmoid: {
        /* attributes as token parameters (LeakyRelu-16, HardSigmoid-6 defaults) */
        char tok[96];
        emit_value(F, n->in[0]);
        if (n->op == OP_LeakyRelu)
            snprintf(tok, sizeof tok, "LeakyRelu:%.9g", attr_num(n, "alpha"));
        else
            snprintf(tok, sizeof tok, "HardSigmoid:%.9g:%.9g", attr_num(n, "alpha"),
                     attr_num(n, "beta"));
        put(&F->code, tok);
        return;
    }
    case OP_Clip:
        /* Clip-11+: optional inputs; Clip-6: attributes min/max */
        emit_value(F, n->in[0]);
        emit_opt(F, n, 1, attr_float(n, "min", -FLT_MAX));
        emit_opt(F, n, 2, attr_float(n, "max", FLT_MAX));
        break;
    default:
        for (int k = 0; k < n->nin; k++) emit_value(F, n->in[k]);
        break;
    }
    put(&F->code, name);
}

int pass_fuse_elementwise(Graph *g, Diag *d) {
    int *uses = graph_use_counts(g);
    Arena *tmp = arena_new(); /* this pass's scratch */
    bool *pinned = arena_alloc(tmp, sizeof(bool) * ((size_t)g->nval + 1));
    int *absorbed = arena_alloc(tmp, sizeof(int) * ((size_t)g->nnode + 1));
    graph_pin_guards(g, pinned);
    annot_pin_values(g, pinned);
    /* Consumers before producers, so a producer is absorbed by the tree that reads it. */
    for (int r = g->nnode - 1; r >= 0; r--) {
        if (!fusable(g, r)) continue;
        /* Retry without absorbing (more than 16 inputs) or without literals (no input). */
        bool flat = false, noliterals = false;
        Fuse F;
        for (;;) {
            F = (Fuse){.g = g, .uses = uses, .pinned = pinned, .root = r, .absorbed = absorbed};
            F.rtype = gval(g, gnode(g, r)->out[0])->type;
            F.flat = flat;
            F.noliterals = noliterals;
            emit_node(&F, r);
            if (!F.fail && F.nin > 0) break;
            free(F.code.s);
            assert(!(F.fail ? flat : noliterals));
            if (F.fail)
                flat = true;
            else
                noliterals = true;
        }
        for (int k = 0; k < F.nabsorbed; k++) {
            Node *p = gnode(g, absorbed[k]);
            p->dead = true;
            gval(g, p->out[0])->def = -1;
        }
        Node *n = gnode(g, r);
        n->op = OP_Elementwise;
        n->in = arena_memdup(g->arena, F.ins, sizeof(int) * (size_t)F.nin);
        n->nin = F.nin;
        n->nattr = 0;
        n->attrs = NULL;
        node_set_string(g, n, "_code", F.code.s);
        free(F.code.s);
    }
    free(uses);
    arena_free(tmp);
    return graph_compact(g, d);
}
