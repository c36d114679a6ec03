/* elementwise.c — Elementwise nodes (a postfix `_code` over inputs x0..xK, see
 * passes/fuse_elementwise.c) and the plain ONNX elementwise ops (Add-14, Sub-14, Mul-14,
 * Div-14, Pow-15, Max-13, Min-13, Equal-13, Less-13, Greater-13, Where-16, Not-1, Relu-14,
 * Sigmoid-13, Tanh-13, Exp-13, Log-13, Sqrt-13, Neg-13, Abs-13, Reciprocal-13, Floor-13,
 * Ceil-13, Erf-13, Clip-13, LeakyRelu-16, HardSigmoid-6, HardSwish-14, Cast-13, and the
 * trigonometric, Softplus, Softsign, Selu, Elu, Celu, ThresholdedRelu, Shrink, Round, Sign,
 * IsNaN, IsInf, GreaterOrEqual, LessOrEqual, And, Or, Xor, Mod, BitShift, PRelu, Sum, Mean,
 * CastLike, Trilu and EyeLike rows of ir/ops.def) as one loop
 * nest per node in its own internal function, with multidirectional (numpy) broadcasting
 * resolved into per-input strides at compile time. Dims of size 1 are dropped and dims that
 * are contiguous for every operand merged, so the innermost loop is as long as possible and
 * unit-stride (or stride 0) for each operand; pointer arguments are `noalias` where the
 * memory plan proves it, so LLVM vectorises the loop for the target CPU. */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg.h"
#include "runtime/vmath.h"

/* ---- programs ------------------------------------------------------------------------ */

enum { TK_IN, TK_LIT, TK_OP };

typedef struct Tok {
    int kind;
    int idx;               /* TK_IN: node input index */
    double lit;            /* TK_LIT */
    int op;                /* TK_OP: OP_* */
    int nargs;             /* operands it pops */
    double p[2];           /* LeakyRelu alpha; HardSigmoid alpha, beta */
    int to;                /* Cast: target dtype */
    bool has_min, has_max; /* Clip */
    int64_t rows, cols;    /* Trilu, EyeLike: the last two dims of the output */
} Tok;

typedef struct Prog {
    Tok *t;
    int n, cap;
} Prog;

static Tok *prog_push(Prog *p, int kind) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->t = realloc(p->t, sizeof *p->t * (size_t)p->cap);
        if (!p->t) abort();
    }
    Tok *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    return t;
}

static void push_in(Prog *p, int idx) {
    prog_push(p, TK_IN)->idx = idx;
}
static void push_lit(Prog *p, double v) {
    prog_push(p, TK_LIT)->lit = v;
}
static Tok *push_op(Prog *p, int op, int nargs) {
    Tok *t = prog_push(p, TK_OP);
    t->op = op;
    t->nargs = nargs;
    return t;
}

/* Default parameters of an op token (ONNX defaults). */
/* The attributes an op's token takes as its parameters p[0], p[1] (a _code token's
 * ":a:b" arguments, in this order). */
static const char *const tok_params[OP_COUNT][2] = {
#define F1(o, p0, p1, expr) [OP_##o] = {p0, p1},
#include "ir/scalar.def"
#undef F1
    [OP_IsInf] = {"detect_negative", "detect_positive"},
};

/* The token's parameters as the schema's defaults (ops.def). */
static void op_defaults(Tok *t) {
    for (int i = 0; i < 2; i++)
        if (tok_params[t->op][i]) op_attr_default(t->op, tok_params[t->op][i], &t->p[i]);
}

/* Ops computed by a scan over input 0 per output element (arg_scan, red_scan). */
static bool is_scan(int op) {
    return op == OP_ArgMax || op == OP_ArgMin || op == OP_ReduceL1 || op == OP_ReduceL2 ||
           op == OP_ReduceSumSquare || op == OP_ReduceLogSum || op == OP_ReduceLogSumExp ||
           op == OP_ReduceProd;
}

/* The input axes a scan op reduces (ArgMax/ArgMin-13 `axis`; Reduce*-13 `axes`, all when
 * empty). false if the axes are not constant. */
static bool scan_axes(const Graph *g, const Node *n, bool *red) {
    const Type *xt = &gval(g, n->in[0])->type;
    int64_t ax[IR_MAX_RANK];
    int na;
    if (n->op == OP_ArgMax || n->op == OP_ArgMin) {
        ax[0] = attr_int(n, "axis", 0);
        na = 1;
    } else if (n->nin > 1 && n->in[1] >= 0) {
        if (!value_const_ints(g, n->in[1], ax, IR_MAX_RANK, &na)) return false;
    } else {
        const int64_t *a;
        na = attr_ints(n, "axes", &a);
        if (na > IR_MAX_RANK) return false;
        for (int i = 0; i < na; i++) ax[i] = a[i];
    }
    bool noop = na <= 0 && attr_int(n, "noop_with_empty_axes", 0);
    for (int d = 0; d < xt->rank; d++) red[d] = na <= 0 && !noop;
    for (int i = 0; i < na; i++) red[ax[i] < 0 ? ax[i] + xt->rank : ax[i]] = true;
    return true;
}

/* The program of a plain ONNX elementwise node. */
static int plain_prog(Cg *c, const Node *n, Prog *p) {
    int op = n->op;
    const OpInfo *oi = op_info(op);
    if (op == OP_Clip) {
        push_in(p, 0);
        Tok t = {0};
        t.has_min = n->nin > 1 && n->in[1] >= 0;
        t.has_max = n->nin > 2 && n->in[2] >= 0;
        if (t.has_min)
            push_in(p, 1);
        else if (node_attr(n, "min")) {
            push_lit(p, attr_float(n, "min", 0));
            t.has_min = true;
        }
        if (t.has_max)
            push_in(p, 2);
        else if (node_attr(n, "max")) {
            push_lit(p, attr_float(n, "max", 0));
            t.has_max = true;
        }
        Tok *k = push_op(p, OP_Clip, 1 + t.has_min + t.has_max);
        k->has_min = t.has_min;
        k->has_max = t.has_max;
        return 0;
    }
    if (op == OP_Max || op == OP_Min || op == OP_Sum || op == OP_Mean) {
        int bop = op == OP_Sum || op == OP_Mean ? OP_Add : op;
        push_in(p, 0);
        for (int i = 1; i < n->nin; i++) {
            push_in(p, i);
            push_op(p, bop, 2);
        }
        if (n->nin == 1) push_op(p, OP_Identity, 1);
        if (op == OP_Mean && n->nin > 1) { /* Mean-13: the sum divided by the count */
            push_lit(p, n->nin);
            push_op(p, OP_Div, 2);
        }
        return 0;
    }
    if (op == OP_Trilu || op == OP_EyeLike) { /* Trilu-14, EyeLike-9: by element position */
        const Type *yt = &gval(c->g, n->out[0])->type;
        if (yt->rank < 2 || (yt->dims[yt->rank - 2] == IR_DIM_N) ||
            (yt->dims[yt->rank - 1] == IR_DIM_N))
            return cg_fail(c, "%s over a symbolic dim", oi->name);
        int nargs = 0;
        if (op == OP_Trilu) {
            push_in(p, 0);
            if (n->nin > 1 && n->in[1] >= 0)
                push_in(p, 1);
            else
                push_lit(p, 0);
            nargs = 2;
        }
        Tok *t = push_op(p, op, nargs);
        t->p[0] = op == OP_Trilu ? (double)attr_int(n, "upper", 1) : (double)attr_int(n, "k", 0);
        t->rows = yt->dims[yt->rank - 2];
        t->cols = yt->dims[yt->rank - 1];
        return 0;
    }
    if (is_scan(op)) { /* a scan of one block of adjacent reduced axes per output element */
        const Type *xt = &gval(c->g, n->in[0])->type;
        bool red[IR_MAX_RANK];
        if (!scan_axes(c->g, n, red)) return cg_fail(c, "%s with non-constant axes", oi->name);
        int lo = -1, hi = -1;
        for (int d = 0; d < xt->rank; d++)
            if (red[d]) {
                if (lo < 0) lo = d;
                hi = d;
            }
        if (lo < 0) return cg_fail(c, "%s with no axes to reduce", oi->name);
        int64_t len = 1, st = 1;
        for (int d = xt->rank - 1; d > hi; d--) st *= xt->dims[d];
        for (int d = lo; lo >= 0 && d <= hi; d++) {
            if (!red[d] && xt->dims[d] != 1)
                return cg_fail(c, "%s over axes that are not adjacent", oi->name);
            if (xt->dims[d] == IR_DIM_N)
                return cg_fail(c, "%s over the symbolic batch dim", oi->name);
            len *= xt->dims[d];
        }
        if (len == 0) return cg_fail(c, "%s over an empty axis", oi->name);
        Tok *t = push_op(p, op, 0);
        t->rows = len; /* scan length */
        t->cols = st;  /* and stride, in elements */
        t->p[0] = (double)attr_int(n, "select_last_index", 0);
        return 0;
    }
    if (op == OP_Hardmax) { /* Hardmax-13: 1 at the first maximum along axis, else 0 */
        const Type *xt = &gval(c->g, n->in[0])->type;
        if (c->g->opset < 13) return cg_fail(c, "Hardmax before opset 13 (2-D coercion)");
        int ax = (int)attr_int(n, "axis", -1);
        if (ax < 0) ax += xt->rank;
        if (ax < 0 || ax >= xt->rank || xt->dims[ax] == IR_DIM_N || xt->dims[ax] == 0)
            return cg_fail(c, "Hardmax over axis %d", ax);
        int64_t st = 1;
        for (int d = xt->rank - 1; d > ax; d--) st *= xt->dims[d];
        Tok *t = push_op(p, op, 0);
        t->rows = xt->dims[ax];
        t->cols = st;
        return 0;
    }
    if (op == OP_CastLike) { /* CastLike-15: Cast to the type of input 1 (never read) */
        push_in(p, 0);
        push_op(p, OP_Cast, 1)->to = gval(c->g, n->out[0])->type.dtype;
        return 0;
    }
    if (op == OP_Where) {
        for (int i = 0; i < 3; i++) push_in(p, i);
        push_op(p, op, 3);
        return 0;
    }
    int nargs = (oi->flags & OPF_BINARY) ? 2 : 1;
    for (int i = 0; i < nargs; i++) push_in(p, i);
    Tok *t = push_op(p, op, nargs);
    for (int i = 0; i < 2; i++)
        if (tok_params[op][i]) t->p[i] = attr_num(n, tok_params[op][i]);
    if (op == OP_Cast) t->to = (int)attr_int(n, "to", gval(c->g, n->out[0])->type.dtype);
    if (op == OP_Mod) t->p[0] = (double)attr_int(n, "fmod", 0);
    if (op == OP_BitShift) t->p[0] = !strcmp(attr_string(n, "direction", ""), "LEFT");
    return 0;
}

/* Parse `_code` (grammar: passes/fuse_elementwise.c). Tokens are separated by blanks:
 *   xK          push input K
 *   #F          push the literal F (a C float literal, inf/nan allowed)
 *   Op          pop the op's operands, push its result; Op may carry parameters after
 *               colons: LeakyRelu:ALPHA, HardSigmoid:ALPHA:BETA, Cast:DTYPE (number or
 *               name), Clip:MIN_FLAGS (see below); Clip pops 3 (x, min, max).
 * The program must leave exactly one value on the stack. */
static int parse_code(Cg *c, const Node *n, const char *code, Prog *p) {
    int depth = 0;
    const char *s = code;
    while (*s) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != ' ' && *e != '\t') e++;
        char tok[128];
        size_t len = (size_t)(e - s);
        if (len >= sizeof tok) return cg_fail(c, "_code token too long");
        memcpy(tok, s, len);
        tok[len] = 0;
        s = e;
        if (tok[0] == 'x' && tok[1] >= '0' && tok[1] <= '9') {
            char *end;
            long k = strtol(tok + 1, &end, 10);
            if (*end || k < 0 || k >= n->nin || n->in[k] < 0)
                return cg_fail(c, "_code: bad input '%s'", tok);
            push_in(p, (int)k);
            depth++;
            continue;
        }
        if (tok[0] == '#') {
            char *end;
            double v = strtod(tok + 1, &end);
            if (*end || end == tok + 1) return cg_fail(c, "_code: bad literal '%s'", tok);
            push_lit(p, v);
            depth++;
            continue;
        }
        char *colon = strchr(tok, ':');
        if (colon) *colon = 0;
        int op = op_from_name(tok);
        /* a token takes a fixed number of operands: not the variadic Sum, Mean, CastLike */
        if (op < 0 || !(op_info(op)->lower == LOWER_ELEMWISE || op == OP_Identity) ||
            (op_info(op)->flags & OPF_INTERNAL) || op == OP_Sum || op == OP_Mean ||
            op == OP_CastLike)
            return cg_fail(c, "_code: op '%s' is not elementwise", tok);
        const OpInfo *oi = op_info(op);
        int nargs = (oi->flags & OPF_BINARY) || op == OP_Max || op == OP_Min ? 2
                    : op == OP_Where || op == OP_Clip                        ? 3
                                                                             : 1;
        Tok *t = push_op(p, op, nargs);
        op_defaults(t);
        t->has_min = t->has_max = true;
        for (int i = 0; colon; i++) {
            char *arg = colon + 1;
            colon = strchr(arg, ':');
            if (colon) *colon = 0;
            if (op == OP_Cast && i == 0) {
                char *end;
                long dt = strtol(arg, &end, 10);
                t->to = *end ? dtype_from_name(arg) : (int)dt;
                if (t->to <= DT_UNDEF || t->to >= DT_COUNT)
                    return cg_fail(c, "_code: bad Cast target '%s'", arg);
            } else if (i < 2) {
                char *end;
                t->p[i] = strtod(arg, &end);
                if (*end) return cg_fail(c, "_code: bad parameter '%s' of %s", arg, tok);
            }
        }
        if (op == OP_Cast && !t->to) return cg_fail(c, "_code: Cast without a target type");
        if (depth < nargs) return cg_fail(c, "_code: stack underflow at '%s'", tok);
        depth -= nargs - 1;
    }
    if (depth != 1) return cg_fail(c, "_code: program leaves %d values", depth);
    return 0;
}

/* ---- scalar evaluation ------------------------------------------------------------------ */

typedef struct Sv {
    LLVMValueRef v; /* NULL for a literal not yet given a type */
    int dt;
    double lit;
} Sv;

static bool dt_unsigned(int dt) {
    return dt == DT_U8 || dt == DT_U16 || dt == DT_U32 || dt == DT_U64 || dt == DT_BOOL;
}
static bool dt_float(int dt) {
    return dt == DT_F32 || dt == DT_F64 || dt == DT_F16;
}

/* Register type of a dtype (bool is i1; float16 is a storage type computed in f32), or NULL
 * if unsupported. */
static LLVMTypeRef reg_type(Cg *c, int dt) {
    switch (dt) {
    case DT_F16:
    case DT_F32: return c->t_f32;
    case DT_F64: return c->t_f64;
    case DT_BOOL: return c->t_i1;
    case DT_I8:
    case DT_U8: return c->t_i8;
    case DT_I16:
    case DT_U16: return LLVMInt16TypeInContext(c->ctx);
    case DT_I32:
    case DT_U32: return c->t_i32;
    case DT_I64:
    case DT_U64: return c->t_i64;
    default: return NULL;
    }
}
static LLVMTypeRef mem_type(Cg *c, int dt) {
    if (dt == DT_F16) return LLVMHalfTypeInContext(c->ctx);
    return dt == DT_BOOL ? c->t_i8 : reg_type(c, dt);
}

static LLVMValueRef lit_as(Cg *c, double v, int dt) {
    if (dt_float(dt)) return LLVMConstReal(reg_type(c, dt), v);
    if (dt == DT_BOOL) return LLVMConstInt(c->t_i1, v != 0, 0);
    return LLVMConstInt(reg_type(c, dt), (unsigned long long)(long long)v, 1);
}

static Sv typed(Cg *c, Sv a, int dt) {
    if (!a.v) {
        a.v = lit_as(c, a.lit, dt);
        a.dt = dt;
    }
    return a;
}

/* Cast-13 semantics between the supported dtypes. */
static LLVMValueRef convert(Cg *c, LLVMValueRef v, int from, int to) {
    if (from == to) return v;
    LLVMBuilderRef b = c->b;
    LLVMTypeRef tt = reg_type(c, to);
    if (to == DT_BOOL) {
        if (dt_float(from))
            return LLVMBuildFCmp(b, LLVMRealUNE, v, LLVMConstReal(LLVMTypeOf(v), 0), "");
        return LLVMBuildICmp(b, LLVMIntNE, v, LLVMConstInt(LLVMTypeOf(v), 0, 0), "");
    }
    if (dt_float(from) && dt_float(to)) return LLVMBuildFPCast(b, v, tt, "");
    if (dt_float(from)) {
        LLVMTypeRef ov[2] = {tt, LLVMTypeOf(v)};
        return cg_intrinsic(c, dt_unsigned(to) ? "llvm.fptoui.sat" : "llvm.fptosi.sat", 2, ov, 1,
                            &v);
    }
    if (dt_float(to))
        return dt_unsigned(from) ? LLVMBuildUIToFP(b, v, tt, "") : LLVMBuildSIToFP(b, v, tt, "");
    return LLVMBuildIntCast2(b, v, tt, !dt_unsigned(from), "");
}

static LLVMValueRef fconst(LLVMValueRef like, double v) {
    return LLVMConstReal(LLVMTypeOf(like), v);
}

static LLVMValueRef fmaxnum(Cg *c, LLVMValueRef a, LLVMValueRef b) {
    LLVMValueRef args[2] = {a, b};
    return cg_intrinsic(c, "llvm.maxnum", 0, NULL, 2, args);
}
static LLVMValueRef fminnum(Cg *c, LLVMValueRef a, LLVMValueRef b) {
    LLVMValueRef args[2] = {a, b};
    return cg_intrinsic(c, "llvm.minnum", 0, NULL, 2, args);
}
static LLVMValueRef unary_intr(Cg *c, const char *name, LLVMValueRef x) {
    return cg_intrinsic(c, name, 0, NULL, 1, &x);
}
/* libm call (expm1f, log1pf, ...; the double variants for f64). */
static LLVMValueRef libm(Cg *c, const char *fname, LLVMValueRef x) {
    LLVMTypeRef t = LLVMTypeOf(x);
    char name[32];
    snprintf(name, sizeof name, "%s%s", fname, t == c->t_f32 ? "f" : "");
    return cg_call(c, name, t, 1, &t, &x);
}

/* ---- vector math: runtime/vmath.h's exp, tanh and erf as straight-line f32 code the loop
 * vectoriser widens (libm's are scalar calls); the algorithms and constants are that header's.
 * f64 keeps the LLVM intrinsic or the libm call. */
static LLVMValueRef fconst32(Cg *c, float v) {
    return LLVMConstReal(c->t_f32, (double)v);
}
static LLVMValueRef fsel(Cg *c, LLVMRealPredicate pred, LLVMValueRef a, LLVMValueRef b,
                         LLVMValueRef then, LLVMValueRef other) {
    return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, pred, a, b, ""), then, other, "");
}
/* p[0] + p[1] t + ... + p[n-1] t^(n-1), Horner with llvm.fmuladd (fused where the target has
 * FMA, as the runtime's C is compiled with -ffp-contract=fast) */
static LLVMValueRef horner(Cg *c, const float *p, int n, LLVMValueRef t) {
    LLVMValueRef y = fconst32(c, p[n - 1]);
    for (int i = n - 2; i >= 0; i--) {
        LLVMValueRef args[3] = {y, t, fconst32(c, p[i])};
        y = cg_intrinsic(c, "llvm.fmuladd", 0, NULL, 3, args);
    }
    return y;
}
static LLVMValueRef f_of_i32(Cg *c, LLVMValueRef i) {
    return LLVMBuildBitCast(c->b, i, c->t_f32, "");
}

static LLVMValueRef fast_exp(Cg *c, LLVMValueRef x) {
    if (LLVMTypeOf(x) != c->t_f32) return unary_intr(c, "llvm.exp", x);
    static const float p[] = {ISBRT__EXP_P};
    LLVMBuilderRef b = c->b;
    LLVMValueRef lo = fconst32(c, ISBRT__EXP_LO), hi = fconst32(c, ISBRT__EXP_HI);
    x = fsel(c, LLVMRealOLT, x, lo, lo, x); /* NaN passes both */
    x = fsel(c, LLVMRealOGT, x, hi, hi, x);
    LLVMValueRef sh = fconst32(c, ISBRT__SHIFTER);
    LLVMValueRef t = LLVMBuildFAdd(b, LLVMBuildFMul(b, x, fconst32(c, ISBRT__LOG2E), ""), sh, "");
    LLVMValueRef n = LLVMBuildSub(b, LLVMBuildBitCast(b, t, c->t_i32, ""),
                                  LLVMBuildBitCast(b, sh, c->t_i32, ""), "");
    LLVMValueRef nf = LLVMBuildFSub(b, t, sh, "");
    LLVMValueRef r = LLVMBuildFSub(b, x, LLVMBuildFMul(b, nf, fconst32(c, ISBRT__LN2_HI), ""), "");
    r = LLVMBuildFSub(b, r, LLVMBuildFMul(b, nf, fconst32(c, ISBRT__LN2_LO), ""), "");
    LLVMValueRef y = LLVMBuildFAdd(
        b, LLVMBuildFAdd(b, fconst32(c, 1), r, ""),
        LLVMBuildFMul(b, LLVMBuildFMul(b, r, r, ""), horner(c, p, ISBRT__EXP_NP, r), ""), "");
    LLVMValueRef h = LLVMBuildAShr(b, n, cg_i32(c, 1), "");
    LLVMValueRef s1 = LLVMBuildShl(b, LLVMBuildAdd(b, h, cg_i32(c, 127), ""), cg_i32(c, 23), "");
    LLVMValueRef s2 = LLVMBuildShl(
        b, LLVMBuildAdd(b, LLVMBuildSub(b, n, h, ""), cg_i32(c, 127), ""), cg_i32(c, 23), "");
    return LLVMBuildFMul(b, LLVMBuildFMul(b, y, f_of_i32(c, s1), ""), f_of_i32(c, s2), "");
}

static LLVMValueRef copysign_of(Cg *c, LLVMValueRef mag, LLVMValueRef sign) {
    LLVMValueRef args[2] = {mag, sign};
    return cg_intrinsic(c, "llvm.copysign", 0, NULL, 2, args);
}

static LLVMValueRef fast_tanh(Cg *c, LLVMValueRef x) {
    static const float p[] = {ISBRT__TANH_P};
    LLVMBuilderRef b = c->b;
    LLVMValueRef ax = unary_intr(c, "llvm.fabs", x), x2 = LLVMBuildFMul(b, ax, ax, "");
    LLVMValueRef small = LLVMBuildFAdd(
        b, ax, LLVMBuildFMul(b, LLVMBuildFMul(b, ax, x2, ""), horner(c, p, ISBRT__TANH_NP, x2), ""),
        "");
    LLVMValueRef e = fast_exp(c, LLVMBuildFMul(b, fconst32(c, 2), ax, ""));
    LLVMValueRef big = LLVMBuildFSub(
        b, fconst32(c, 1),
        LLVMBuildFDiv(b, fconst32(c, 2), LLVMBuildFAdd(b, e, fconst32(c, 1), ""), ""), "");
    return copysign_of(c, fsel(c, LLVMRealOLT, ax, fconst32(c, ISBRT__TANH_SPLIT), small, big), x);
}

static LLVMValueRef fast_erf(Cg *c, LLVMValueRef x) {
    static const float p[] = {ISBRT__ERF_P}, q[] = {ISBRT__ERF_Q};
    LLVMBuilderRef b = c->b;
    LLVMValueRef ax = unary_intr(c, "llvm.fabs", x);
    LLVMValueRef small =
        LLVMBuildFMul(b, ax, horner(c, p, ISBRT__ERF_NP, LLVMBuildFMul(b, ax, ax, "")), "");
    LLVMValueRef top = fconst32(c, ISBRT__ERF_HI);
    LLVMValueRef t = fsel(c, LLVMRealOGT, ax, top, top, ax);
    LLVMValueRef u = LLVMBuildFSub(b, t, fconst32(c, ISBRT__ERF_MID), "");
    LLVMValueRef big = LLVMBuildFSub(b, fconst32(c, 1),
                                     fast_exp(c, LLVMBuildFSub(b, horner(c, q, ISBRT__ERF_NQ, u),
                                                               LLVMBuildFMul(b, t, t, ""), "")),
                                     "");
    return copysign_of(c, fsel(c, LLVMRealOLT, ax, fconst32(c, ISBRT__ERF_SPLIT), small, big), x);
}

/* The libm function `name` of x (ir/scalar.def's FN): for f32 tanh and erf the vector code
 * above; the LLVM intrinsic where there is one (nearbyint: llvm.roundeven, the default
 * rounding mode's half to even); else the call. */
static LLVMValueRef math_fn(Cg *c, const char *name, LLVMValueRef x) {
    static const char *const intr[][2] = {
        {"sqrt", "llvm.sqrt"}, {"floor", "llvm.floor"},
        {"ceil", "llvm.ceil"}, {"fabs", "llvm.fabs"},
        {"log", "llvm.log"},   {"sin", "llvm.sin"},
        {"cos", "llvm.cos"},   {"nearbyint", "llvm.roundeven"},
    };
    if (LLVMTypeOf(x) == c->t_f32 && !strcmp(name, "tanh")) return fast_tanh(c, x);
    if (LLVMTypeOf(x) == c->t_f32 && !strcmp(name, "erf")) return fast_erf(c, x);
    for (size_t i = 0; i < sizeof intr / sizeof *intr; i++)
        if (!strcmp(name, intr[i][0])) return unary_intr(c, intr[i][1], x);
    return libm(c, name, x);
}

static LLVMValueRef imax(Cg *c, LLVMValueRef a, LLVMValueRef b, bool uns) {
    LLVMValueRef args[2] = {a, b};
    return cg_intrinsic(c, uns ? "llvm.umax" : "llvm.smax", 0, NULL, 2, args);
}
static LLVMValueRef imin(Cg *c, LLVMValueRef a, LLVMValueRef b, bool uns) {
    LLVMValueRef args[2] = {a, b};
    return cg_intrinsic(c, uns ? "llvm.umin" : "llvm.smin", 0, NULL, 2, args);
}

/* Apply op token t to operands a[0..nargs). Returns -1 (diagnosed) on a type it does not
 * support. */
static int apply(Cg *c, const Tok *t, Sv *a, Sv *out) {
    LLVMBuilderRef b = c->b;
    int op = t->op;
    /* give literals the type of the first typed operand (f32 if none) */
    int dt = DT_UNDEF;
    for (int i = 0; i < t->nargs; i++)
        if (a[i].v && !(op == OP_Where && i == 0)) {
            dt = a[i].dt;
            break;
        }
    if (dt == DT_UNDEF) dt = DT_F32;
    for (int i = 0; i < t->nargs; i++) {
        if (op == OP_Where && i == 0)
            a[i] = typed(c, a[i], DT_BOOL);
        else
            a[i] = typed(c, a[i], dt);
        if (op == OP_Pow && i == 1 && a[i].dt != dt) { /* Pow-15: exponent of any numeric type */
            a[i].v = convert(c, a[i].v, a[i].dt, dt);
            a[i].dt = dt;
        }
        if (!(op == OP_Where && i == 0) && a[i].dt != dt)
            return cg_fail(c, "%s on mixed types %s and %s", op_info(op)->name, dtype_name(a[i].dt),
                           dtype_name(dt));
    }
    LLVMValueRef x = a[0].v, y = t->nargs > 1 ? a[1].v : NULL;
    bool fl = dt_float(dt), uns = dt_unsigned(dt);
    out->dt = dt;
    out->lit = 0;
    switch (op) {
    case OP_Identity: out->v = x; return 0;
    case OP_Cast:
        if (!reg_type(c, t->to)) return cg_fail(c, "Cast to %s", dtype_name(t->to));
        out->v = convert(c, x, dt, t->to);
        out->dt = t->to;
        return 0;
    case OP_Add: out->v = fl ? LLVMBuildFAdd(b, x, y, "") : LLVMBuildAdd(b, x, y, ""); return 0;
    case OP_Sub: out->v = fl ? LLVMBuildFSub(b, x, y, "") : LLVMBuildSub(b, x, y, ""); return 0;
    case OP_Mul: out->v = fl ? LLVMBuildFMul(b, x, y, "") : LLVMBuildMul(b, x, y, ""); return 0;
    case OP_Div:
        if (fl)
            out->v = LLVMBuildFDiv(b, x, y, "");
        else {
            /* integer division by zero is undefined in ONNX; avoid LLVM UB: divide by 1 */
            LLVMValueRef zero = LLVMConstInt(LLVMTypeOf(y), 0, 0);
            LLVMValueRef safe = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, y, zero, ""),
                                                LLVMConstInt(LLVMTypeOf(y), 1, 0), y, "");
            out->v = uns ? LLVMBuildUDiv(b, x, safe, "") : LLVMBuildSDiv(b, x, safe, "");
        }
        return 0;
    case OP_Max: out->v = fl ? fmaxnum(c, x, y) : imax(c, x, y, uns); return 0;
    case OP_Min: out->v = fl ? fminnum(c, x, y) : imin(c, x, y, uns); return 0;
    case OP_Equal:
        out->v =
            fl ? LLVMBuildFCmp(b, LLVMRealOEQ, x, y, "") : LLVMBuildICmp(b, LLVMIntEQ, x, y, "");
        out->dt = DT_BOOL;
        return 0;
    case OP_Less:
        out->v = fl ? LLVMBuildFCmp(b, LLVMRealOLT, x, y, "")
                    : LLVMBuildICmp(b, uns ? LLVMIntULT : LLVMIntSLT, x, y, "");
        out->dt = DT_BOOL;
        return 0;
    case OP_Greater:
        out->v = fl ? LLVMBuildFCmp(b, LLVMRealOGT, x, y, "")
                    : LLVMBuildICmp(b, uns ? LLVMIntUGT : LLVMIntSGT, x, y, "");
        out->dt = DT_BOOL;
        return 0;
    case OP_GreaterOrEqual:
        out->v = fl ? LLVMBuildFCmp(b, LLVMRealOGE, x, y, "")
                    : LLVMBuildICmp(b, uns ? LLVMIntUGE : LLVMIntSGE, x, y, "");
        out->dt = DT_BOOL;
        return 0;
    case OP_LessOrEqual:
        out->v = fl ? LLVMBuildFCmp(b, LLVMRealOLE, x, y, "")
                    : LLVMBuildICmp(b, uns ? LLVMIntULE : LLVMIntSLE, x, y, "");
        out->dt = DT_BOOL;
        return 0;
    case OP_And:
    case OP_Or:
    case OP_Xor:
        if (dt != DT_BOOL) break;
        out->v = op == OP_And  ? LLVMBuildAnd(b, x, y, "")
                 : op == OP_Or ? LLVMBuildOr(b, x, y, "")
                               : LLVMBuildXor(b, x, y, "");
        return 0;
    case OP_PRelu: { /* PRelu-16: x < 0 ? slope * x : x */
        LLVMValueRef neg = fl ? LLVMBuildFCmp(b, LLVMRealOLT, x, fconst(x, 0), "")
                              : LLVMBuildICmp(b, uns ? LLVMIntULT : LLVMIntSLT, x,
                                              LLVMConstInt(LLVMTypeOf(x), 0, 0), "");
        LLVMValueRef m = fl ? LLVMBuildFMul(b, x, y, "") : LLVMBuildMul(b, x, y, "");
        out->v = LLVMBuildSelect(b, neg, m, x, "");
        return 0;
    }
    case OP_Sign: {
        if (dt == DT_BOOL) break;
        LLVMTypeRef ty = LLVMTypeOf(x);
        LLVMValueRef one = fl ? fconst(x, 1) : LLVMConstInt(ty, 1, 0);
        LLVMValueRef mone = fl ? fconst(x, -1) : LLVMConstInt(ty, (unsigned long long)-1, 1);
        LLVMValueRef zero = fl ? LLVMBuildFMul(b, x, fconst(x, 0), "") /* keeps NaN */
                               : LLVMConstInt(ty, 0, 0);
        LLVMValueRef gt =
            fl ? LLVMBuildFCmp(b, LLVMRealOGT, x, fconst(x, 0), "")
               : LLVMBuildICmp(b, uns ? LLVMIntUGT : LLVMIntSGT, x, LLVMConstInt(ty, 0, 0), "");
        LLVMValueRef lt =
            fl ? LLVMBuildFCmp(b, LLVMRealOLT, x, fconst(x, 0), "")
               : LLVMBuildICmp(b, uns ? LLVMIntULT : LLVMIntSLT, x, LLVMConstInt(ty, 0, 0), "");
        out->v = LLVMBuildSelect(b, gt, one, LLVMBuildSelect(b, lt, mone, zero, ""), "");
        return 0;
    }
    case OP_Mod: { /* Mod-13: fmod=0 gives the result the divisor's sign */
        if (dt == DT_BOOL) break;
        LLVMValueRef r;
        if (fl)
            r = LLVMBuildFRem(b, x, y, "");
        else {
            LLVMValueRef zero = LLVMConstInt(LLVMTypeOf(y), 0, 0);
            LLVMValueRef safe = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, y, zero, ""),
                                                LLVMConstInt(LLVMTypeOf(y), 1, 0), y, "");
            r = uns ? LLVMBuildURem(b, x, safe, "") : LLVMBuildSRem(b, x, safe, "");
        }
        if (t->p[0] == 0 && !uns) {
            LLVMValueRef z = fl ? fconst(r, 0) : LLVMConstInt(LLVMTypeOf(r), 0, 0);
            LLVMValueRef rneg = fl ? LLVMBuildFCmp(b, LLVMRealOLT, r, z, "")
                                   : LLVMBuildICmp(b, LLVMIntSLT, r, z, "");
            LLVMValueRef yneg = fl ? LLVMBuildFCmp(b, LLVMRealOLT, y, z, "")
                                   : LLVMBuildICmp(b, LLVMIntSLT, y, z, "");
            LLVMValueRef nz = fl ? LLVMBuildFCmp(b, LLVMRealONE, r, z, "")
                                 : LLVMBuildICmp(b, LLVMIntNE, r, z, "");
            LLVMValueRef fix = LLVMBuildAnd(b, nz, LLVMBuildXor(b, rneg, yneg, ""), "");
            LLVMValueRef ry = fl ? LLVMBuildFAdd(b, r, y, "") : LLVMBuildAdd(b, r, y, "");
            r = LLVMBuildSelect(b, fix, ry, r, "");
        }
        out->v = r;
        return 0;
    }
    case OP_BitShift: { /* BitShift-11; a shift by the width or more gives 0 */
        if (fl || dt == DT_BOOL) break;
        LLVMTypeRef ty = LLVMTypeOf(x);
        LLVMValueRef big =
            LLVMBuildICmp(b, LLVMIntUGE, y, LLVMConstInt(ty, LLVMGetIntTypeWidth(ty), 0), "");
        LLVMValueRef safe = LLVMBuildSelect(b, big, LLVMConstInt(ty, 0, 0), y, "");
        LLVMValueRef v =
            t->p[0] != 0 ? LLVMBuildShl(b, x, safe, "") : LLVMBuildLShr(b, x, safe, "");
        out->v = LLVMBuildSelect(b, big, LLVMConstInt(ty, 0, 0), v, "");
        return 0;
    }
    case OP_Where: out->v = LLVMBuildSelect(b, a[0].v, a[1].v, a[2].v, ""); return 0;
    case OP_Not:
        if (dt != DT_BOOL) break;
        out->v = LLVMBuildNot(b, x, "");
        return 0;
    case OP_Clip: {
        LLVMValueRef v = x;
        int k = 1;
        if (t->has_min) {
            LLVMValueRef lo = a[k++].v;
            v = fl ? fmaxnum(c, v, lo) : imax(c, v, lo, uns);
        }
        if (t->has_max) {
            LLVMValueRef hi = a[k++].v;
            v = fl ? fminnum(c, v, hi) : imin(c, v, hi, uns);
        }
        out->v = v;
        return 0;
    }
    case OP_Neg:
        if (uns) break;
        out->v = fl ? LLVMBuildFNeg(b, x, "") : LLVMBuildNeg(b, x, "");
        return 0;
    case OP_Abs:
        if (fl)
            out->v = unary_intr(c, "llvm.fabs", x);
        else if (uns)
            out->v = x;
        else {
            LLVMValueRef args[2] = {x, LLVMConstInt(c->t_i1, 0, 0)};
            out->v = cg_intrinsic(c, "llvm.abs", 0, NULL, 2, args);
        }
        return 0;
    case OP_Relu:
        if (fl) /* x < 0 ? 0 : x (keeps NaN) */
            out->v = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, fconst(x, 0), ""),
                                     fconst(x, 0), x, "");
        else
            out->v = uns ? x : imax(c, x, LLVMConstInt(LLVMTypeOf(x), 0, 0), false);
        return 0;
    default: break;
    }
    if (op == OP_Pow && !fl && dt != DT_BOOL) { /* integer Pow through f64 */
        LLVMValueRef args[2] = {convert(c, x, dt, DT_F64), convert(c, y, dt, DT_F64)};
        out->v = convert(c, cg_intrinsic(c, "llvm.pow", 0, NULL, 2, args), DT_F64, dt);
        return 0;
    }
    if (!fl) return cg_fail(c, "%s on %s is not supported", op_info(op)->name, dtype_name(dt));
    switch (op) {
        /* the float-only ops: their one formula (ir/scalar.def), as LLVM IR */
#define X x
#define P0 fconst(x, t->p[0])
#define P1 fconst(x, t->p[1])
#define K(v) fconst(x, v)
#define NEG(a) LLVMBuildFNeg(c->b, a, "")
#define ADD(a, b2) LLVMBuildFAdd(c->b, a, b2, "")
#define SUB(a, b2) LLVMBuildFSub(c->b, a, b2, "")
#define MUL(a, b2) LLVMBuildFMul(c->b, a, b2, "")
#define DIV(a, b2) LLVMBuildFDiv(c->b, a, b2, "")
#define MAXN(a, b2) fmaxnum(c, a, b2)
#define MINN(a, b2) fminnum(c, a, b2)
#define SEL(cond, a, b2) LLVMBuildSelect(c->b, cond, a, b2, "")
#define LT(a, b2) LLVMBuildFCmp(c->b, LLVMRealOLT, a, b2, "")
#define GT(a, b2) LLVMBuildFCmp(c->b, LLVMRealOGT, a, b2, "")
#define EXP(a) fast_exp(c, a)
#define FN(f, a) math_fn(c, #f, a)
#define F1(o, p0, p1, expr)                                                                        \
    case OP_##o:                                                                                   \
        out->v = expr;                                                                             \
        return 0;
#include "ir/scalar.def"
#undef F1
#undef X
#undef P0
#undef P1
#undef K
#undef NEG
#undef ADD
#undef SUB
#undef MUL
#undef DIV
#undef MAXN
#undef MINN
#undef SEL
#undef LT
#undef GT
#undef EXP
#undef FN
    case OP_Pow:
        if (LLVMIsAConstantFP(y)) {
            LLVMBool lossy;
            double e = LLVMConstRealGetDouble(y, &lossy);
            if (e == 2) {
                out->v = LLVMBuildFMul(b, x, x, "");
                return 0;
            }
            if (e == 1) {
                out->v = x;
                return 0;
            }
            if (e == 0.5) {
                out->v = unary_intr(c, "llvm.sqrt", x);
                return 0;
            }
        }
        {
            LLVMValueRef args[2] = {x, y};
            out->v = cg_intrinsic(c, "llvm.pow", 0, NULL, 2, args);
        }
        return 0;
    case OP_IsNaN:
        out->v = LLVMBuildFCmp(b, LLVMRealUNO, x, x, "");
        out->dt = DT_BOOL;
        return 0;
    case OP_IsInf: { /* IsInf-10 */
        LLVMValueRef v = LLVMConstInt(c->t_i1, 0, 0);
        if (t->p[0] != 0)
            v = LLVMBuildOr(b, v, LLVMBuildFCmp(b, LLVMRealOEQ, x, fconst(x, -INFINITY), ""), "");
        if (t->p[1] != 0)
            v = LLVMBuildOr(b, v, LLVMBuildFCmp(b, LLVMRealOEQ, x, fconst(x, INFINITY), ""), "");
        out->v = v;
        out->dt = DT_BOOL;
        return 0;
    }
    default: break;
    }
    return cg_fail(c, "%s on %s is not supported", op_info(op)->name, dtype_name(dt));
}

/* ---- loop nest -------------------------------------------------------------------------- */

typedef struct Opnd {
    int v; /* value id, -1 if absent */
    int dt;
    int64_t s[IR_MAX_RANK]; /* element strides per (collapsed) output dim */
    bool scalar;            /* all strides 0 */
    LLVMValueRef base;      /* function parameter */
    LLVMValueRef sval;      /* scalar: the value loaded once */
} Opnd;

typedef struct Nest {
    int rank;
    SymInt d[IR_MAX_RANK];
    int nop; /* operands: [0] is the output, [1 + k] is node input k */
    Opnd op[17];
    const Prog *prog;
} Nest;

static LLVMValueRef load_elem(Cg *c, const Opnd *o, LLVMValueRef idx) {
    LLVMTypeRef mt = mem_type(c, o->dt);
    LLVMValueRef p = LLVMBuildInBoundsGEP2(c->b, mt, o->base, &idx, 1, "");
    LLVMValueRef v = LLVMBuildLoad2(c->b, mt, p, "");
    if (o->dt == DT_BOOL) v = LLVMBuildICmp(c->b, LLVMIntNE, v, LLVMConstInt(c->t_i8, 0, 0), "");
    if (o->dt == DT_F16) v = LLVMBuildFPExt(c->b, v, c->t_f32, "");
    return v;
}

/* Trilu-14 and EyeLike-9 at output element offset lin (the output is dense row-major, so
 * lin gives the position in the last two dims): Trilu keeps x where col - row >= k (upper)
 * or <= k (lower), else 0; EyeLike is 1 where col - row == k. */
static Sv by_position(Cg *c, const Nest *ns, const Tok *t, Sv *a, LLVMValueRef lin) {
    LLVMBuilderRef b = c->b;
    LLVMValueRef col = LLVMBuildURem(b, lin, cg_i64(c, t->cols), "");
    LLVMValueRef row =
        LLVMBuildURem(b, LLVMBuildUDiv(b, lin, cg_i64(c, t->cols), ""), cg_i64(c, t->rows), "");
    LLVMValueRef diff = LLVMBuildSub(b, col, row, "");
    int dt = ns->op[0].dt;
    if (t->op == OP_EyeLike) {
        LLVMValueRef on = LLVMBuildICmp(b, LLVMIntEQ, diff, cg_i64(c, (int64_t)t->p[0]), "");
        return (Sv){LLVMBuildSelect(b, on, lit_as(c, 1, dt), lit_as(c, 0, dt), ""), dt, 0};
    }
    Sv x = typed(c, a[0], dt), k = typed(c, a[1], DT_I64);
    LLVMValueRef keep = LLVMBuildICmp(b, t->p[0] != 0 ? LLVMIntSGE : LLVMIntSLE, diff, k.v, "");
    return (Sv){LLVMBuildSelect(b, keep, x.v, lit_as(c, 0, x.dt), ""), x.dt, 0};
}

/* ArgMax-13 / ArgMin-13 for one output element: scan t->rows elements of input 0 from
 * offset off with stride t->cols; the first (or with select_last_index the last) extreme
 * wins. The running best lives in stack slots of the loop function's entry block. */
static Sv arg_scan(Cg *c, const Nest *ns, const Tok *t, LLVMValueRef off) {
    LLVMBuilderRef b = c->b;
    const Opnd *x = &ns->op[1];
    LLVMTypeRef rt = reg_type(c, x->dt);
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(c->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(c->entry);
    if (first)
        LLVMPositionBuilderBefore(eb, first);
    else
        LLVMPositionBuilderAtEnd(eb, c->entry);
    LLVMValueRef best = LLVMBuildAlloca(eb, rt, "arg.best");
    LLVMValueRef bidx = LLVMBuildAlloca(eb, c->t_i64, "arg.idx");
    LLVMDisposeBuilder(eb);
    LLVMBuildStore(b, load_elem(c, x, off), best);
    LLVMBuildStore(b, cg_i64(c, 0), bidx);
    CgLoop l = cg_loop_begin(c, cg_i64(c, t->rows), "arg");
    LLVMValueRef v = load_elem(
        c, x, LLVMBuildNUWAdd(b, off, LLVMBuildNUWMul(b, l.iv, cg_i64(c, t->cols), ""), ""));
    LLVMValueRef cur = LLVMBuildLoad2(b, rt, best, "");
    bool mx = t->op == OP_ArgMax, last = t->p[0] != 0, fl = dt_float(x->dt),
         uns = dt_unsigned(x->dt);
    LLVMValueRef better;
    if (fl)
        better = LLVMBuildFCmp(
            b, mx ? (last ? LLVMRealOGE : LLVMRealOGT) : (last ? LLVMRealOLE : LLVMRealOLT), v, cur,
            "");
    else
        better = LLVMBuildICmp(
            b,
            mx ? (last ? (uns ? LLVMIntUGE : LLVMIntSGE) : (uns ? LLVMIntUGT : LLVMIntSGT))
               : (last ? (uns ? LLVMIntULE : LLVMIntSLE) : (uns ? LLVMIntULT : LLVMIntSLT)),
            v, cur, "");
    LLVMBuildStore(b, LLVMBuildSelect(b, better, v, cur, ""), best);
    LLVMBuildStore(b, LLVMBuildSelect(b, better, l.iv, LLVMBuildLoad2(b, c->t_i64, bidx, ""), ""),
                   bidx);
    cg_loop_end(c, &l);
    return (Sv){LLVMBuildLoad2(b, c->t_i64, bidx, ""), DT_I64, 0};
}

/* ReduceL1-13, ReduceL2-13, ReduceSumSquare-13, ReduceLogSum-13, ReduceLogSumExp-13 and
 * ReduceProd-13 (float) for one output element: t->rows elements of input 0 from offset off,
 * stride t->cols. LogSumExp subtracts the maximum first. */
static int red_scan(Cg *c, const Nest *ns, const Tok *t, LLVMValueRef off, Sv *out) {
    LLVMBuilderRef b = c->b;
    const Opnd *x = &ns->op[1];
    int op = t->op;
    if (!dt_float(x->dt)) return cg_fail(c, "%s on %s", op_info(op)->name, dtype_name(x->dt));
    LLVMTypeRef rt = reg_type(c, x->dt);
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(c->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(c->entry);
    if (first)
        LLVMPositionBuilderBefore(eb, first);
    else
        LLVMPositionBuilderAtEnd(eb, c->entry);
    LLVMValueRef acc = LLVMBuildAlloca(eb, rt, "red.acc");
    LLVMValueRef mx = LLVMBuildAlloca(eb, rt, "red.max");
    LLVMDisposeBuilder(eb);
    LLVMValueRef zero = LLVMConstReal(rt, 0);
    LLVMValueRef m = NULL;
    if (op == OP_ReduceLogSumExp) {
        LLVMBuildStore(b, LLVMConstReal(rt, -INFINITY), mx);
        CgLoop l = cg_loop_begin(c, cg_i64(c, t->rows), "red.max");
        LLVMValueRef v = load_elem(
            c, x, LLVMBuildNUWAdd(b, off, LLVMBuildNUWMul(b, l.iv, cg_i64(c, t->cols), ""), ""));
        LLVMBuildStore(b, fmaxnum(c, LLVMBuildLoad2(b, rt, mx, ""), v), mx);
        cg_loop_end(c, &l);
        m = LLVMBuildLoad2(b, rt, mx, "");
        /* all -inf: keep exp finite */
        m = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOEQ, m, LLVMConstReal(rt, -INFINITY), ""),
                            zero, m, "");
    }
    LLVMBuildStore(b, op == OP_ReduceProd ? LLVMConstReal(rt, 1) : zero, acc);
    CgLoop l = cg_loop_begin(c, cg_i64(c, t->rows), "red");
    LLVMValueRef v = load_elem(
        c, x, LLVMBuildNUWAdd(b, off, LLVMBuildNUWMul(b, l.iv, cg_i64(c, t->cols), ""), ""));
    LLVMValueRef a = LLVMBuildLoad2(b, rt, acc, "");
    switch (op) {
    case OP_ReduceL1: v = unary_intr(c, "llvm.fabs", v); break;
    case OP_ReduceL2:
    case OP_ReduceSumSquare: v = LLVMBuildFMul(b, v, v, ""); break;
    case OP_ReduceLogSumExp: v = fast_exp(c, LLVMBuildFSub(b, v, m, "")); break;
    default: break;
    }
    a = op == OP_ReduceProd ? LLVMBuildFMul(b, a, v, "") : LLVMBuildFAdd(b, a, v, "");
    LLVMBuildStore(b, a, acc);
    cg_loop_end(c, &l);
    a = LLVMBuildLoad2(b, rt, acc, "");
    if (op == OP_ReduceL2) a = unary_intr(c, "llvm.sqrt", a);
    if (op == OP_ReduceLogSum) a = unary_intr(c, "llvm.log", a);
    if (op == OP_ReduceLogSumExp) a = LLVMBuildFAdd(b, unary_intr(c, "llvm.log", a), m, "");
    *out = (Sv){a, x->dt, 0};
    return 0;
}

/* Evaluate the program for one element at per-operand element offsets idx[]. */
static int eval_elem(Cg *c, Nest *ns, LLVMValueRef *idx) {
    const Prog *p = ns->prog;
    Sv stack[256];
    int sp = 0;
    LLVMValueRef loaded[17] = {0};
    for (int i = 0; i < p->n; i++) {
        const Tok *t = &p->t[i];
        if (sp >= 256) return cg_fail(c, "_code too deep");
        if (t->kind == TK_IN) {
            Opnd *o = &ns->op[1 + t->idx];
            if (!loaded[1 + t->idx])
                loaded[1 + t->idx] = o->scalar ? o->sval : load_elem(c, o, idx[1 + t->idx]);
            stack[sp++] = (Sv){loaded[1 + t->idx], o->dt, 0};
        } else if (t->kind == TK_LIT) {
            stack[sp++] = (Sv){NULL, DT_UNDEF, t->lit};
        } else if (t->op == OP_ArgMax || t->op == OP_ArgMin) {
            stack[sp++] = arg_scan(c, ns, t, idx[1]);
        } else if (t->op == OP_Hardmax) { /* the first maximum of this element's row */
            LLVMValueRef cols = cg_i64(c, t->cols);
            LLVMValueRef pos =
                LLVMBuildURem(c->b, LLVMBuildUDiv(c->b, idx[0], cols, ""), cg_i64(c, t->rows), "");
            LLVMValueRef start =
                LLVMBuildSub(c->b, idx[1], LLVMBuildNUWMul(c->b, pos, cols, ""), "");
            Tok am = *t;
            am.op = OP_ArgMax;
            am.p[0] = 0;
            Sv best = arg_scan(c, ns, &am, start);
            int dt = ns->op[1].dt;
            LLVMValueRef hit = LLVMBuildICmp(c->b, LLVMIntEQ, best.v, pos, "");
            stack[sp++] =
                (Sv){LLVMBuildSelect(c->b, hit, lit_as(c, 1, dt), lit_as(c, 0, dt), ""), dt, 0};
        } else if (is_scan(t->op)) {
            Sv r;
            if (red_scan(c, ns, t, idx[1], &r) < 0) return -1;
            stack[sp++] = r;
        } else if (t->op == OP_Trilu || t->op == OP_EyeLike) {
            sp -= t->nargs;
            stack[sp] = by_position(c, ns, t, &stack[sp], idx[0]);
            sp++;
        } else {
            Sv r;
            sp -= t->nargs;
            if (apply(c, t, &stack[sp], &r) < 0) return -1;
            stack[sp++] = r;
        }
    }
    assert(sp == 1);
    Opnd *y = &ns->op[0];
    Sv r = typed(c, stack[0], y->dt);
    LLVMValueRef v = convert(c, r.v, r.dt, y->dt);
    if (y->dt == DT_BOOL) v = LLVMBuildZExt(c->b, v, c->t_i8, "");
    if (y->dt == DT_F16) v = LLVMBuildFPTrunc(c->b, v, LLVMHalfTypeInContext(c->ctx), "");
    LLVMTypeRef mt = mem_type(c, y->dt);
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(c->b, mt, y->base, &idx[0], 1, "");
    LLVMBuildStore(c->b, v, ptr);
    return 0;
}

/* Loops over dims [level, rank) with operand base offsets off[]. */
static int emit_nest(Cg *c, Nest *ns, int level, LLVMValueRef *off) {
    if (level == ns->rank) return eval_elem(c, ns, off);
    CgLoop l = cg_loop_begin(c, cg_sym(c, ns->d[level]), "ew");
    LLVMValueRef idx[17];
    for (int k = 0; k < ns->nop; k++) {
        const Opnd *o = &ns->op[k];
        if (o->v < 0 || o->scalar) {
            idx[k] = off[k];
            continue;
        }
        int64_t s = o->s[level];
        LLVMValueRef step = s == 1 ? l.iv : LLVMBuildNUWMul(c->b, l.iv, cg_i64(c, s), "");
        idx[k] = s == 0 ? off[k] : LLVMBuildNUWAdd(c->b, off[k], step, "");
    }
    if (emit_nest(c, ns, level + 1, idx) < 0) return -1;
    cg_loop_end(c, &l);
    return 0;
}

/* Strides of input type t broadcast to the output dims (numpy rules, right-aligned). */
/* Strides of ArgMax/ArgMin's input over the output's dims: the scanned axis is left out
 * (keepdims=0) or has stride 0 (keepdims=1, size 1). */
static void argx_strides(const Graph *g, const Node *n, const Type *xt, const Type *yt,
                         int64_t *s) {
    bool red[IR_MAX_RANK];
    if (!scan_axes(g, n, red)) return; /* plain_prog has failed already */
    int64_t xs[IR_MAX_RANK], st = 1;
    for (int d = xt->rank - 1; d >= 0; d--) {
        xs[d] = st;
        if (xt->dims[d] != IR_DIM_N) st *= xt->dims[d];
    }
    bool keep = yt->rank == xt->rank;
    for (int d = 0, j = 0; d < xt->rank; d++) {
        if (red[d]) {
            if (keep) s[j++] = 0;
            continue;
        }
        s[j++] = xt->dims[d] == 1 ? 0 : xs[d];
    }
}

static int broadcast_strides(Cg *c, const Type *yt, const Type *t, int64_t *s) {
    int R = yt->rank, r = t->rank;
    if (r > R) return cg_fail(c, "input of rank %d broadcast to rank %d", r, R);
    int64_t st = 1;
    for (int d = R - 1; d >= 0; d--) {
        int j = d - (R - r);
        if (j < 0) {
            s[d] = 0;
            continue;
        }
        int64_t td = t->dims[j], yd = yt->dims[d];
        if (td == yd && (td != IR_DIM_N || j == 0))
            s[d] = (td == 1) ? 0 : st;
        else if (td == 1)
            s[d] = 0;
        else
            return cg_fail(c, "input dim %d (%" PRId64 ") does not broadcast to %" PRId64, j, td,
                           yd);
        if (td != IR_DIM_N) st *= td;
    }
    return 0;
}

int cg_emit_elementwise(Cg *c, const Node *n) {
    const Graph *g = c->g;
    if (n->nout != 1) return cg_fail(c, "%d outputs", n->nout);
    int yv = n->out[0];
    const Type *yt = &gval(g, yv)->type;
    LLVMValueRef yptr = cg_ptr(c, yv);
    if (!yptr) return 0; /* output unused and unplanned */
    if (n->nin > 16) return cg_fail(c, "more than 16 inputs");
    for (int d = 0; d < yt->rank; d++)
        if (yt->dims[d] == 0) return 0; /* empty tensor */

    Prog prog = {0};
    int rc = n->op == OP_Elementwise ? parse_code(c, n, attr_string(n, "_code", ""), &prog)
                                     : plain_prog(c, n, &prog);
    if (rc < 0) {
        free(prog.t);
        return -1;
    }

    Nest ns = {0};
    ns.prog = &prog;
    ns.nop = 1 + n->nin;
    ns.rank = yt->rank;
    for (int d = 0; d < yt->rank; d++) ns.d[d] = sym_dim(yt, d);
    ns.op[0].v = yv;
    ns.op[0].dt = yt->dtype;
    {
        int64_t st = 1;
        for (int d = yt->rank - 1; d >= 0; d--) {
            ns.op[0].s[d] = st;
            st *= ns.d[d].k;
        }
    }
    if (!reg_type(c, yt->dtype)) {
        free(prog.t);
        return cg_fail(c, "output type %s", dtype_name(yt->dtype));
    }
    for (int k = 0; k < n->nin; k++) {
        Opnd *o = &ns.op[1 + k];
        o->v = n->in[k];
        if ((n->op == OP_CastLike && k == 1) || n->op == OP_EyeLike)
            o->v = -1; /* only its type or shape matters */
        if (o->v < 0) continue;
        const Type *t = &gval(g, o->v)->type;
        o->dt = t->dtype;
        if (!reg_type(c, t->dtype)) {
            free(prog.t);
            return cg_fail(c, "input type %s", dtype_name(t->dtype));
        }
        if (is_scan(n->op)) {
            if (k > 0) {
                o->v = -1; /* Reduce* axes: read at compile time */
                continue;
            }
            argx_strides(g, n, t, yt, o->s);
        } else if (broadcast_strides(c, yt, t, o->s) < 0) {
            free(prog.t);
            return -1;
        }
        if (!cg_ptr(c, o->v)) {
            free(prog.t);
            return cg_fail(c, "input '%s' has no storage", gval(g, o->v)->name);
        }
    }
    /* drop static unit dims, then merge dims contiguous for every operand */
    int r = 0;
    for (int d = 0; d < ns.rank; d++) {
        if (!ns.d[d].n && ns.d[d].k == 1) continue;
        ns.d[r] = ns.d[d];
        for (int k = 0; k < ns.nop; k++) ns.op[k].s[r] = ns.op[k].s[d];
        r++;
    }
    ns.rank = r;
    for (int d = ns.rank - 2; d >= 0; d--) {
        bool ok = true;
        for (int k = 0; k < ns.nop && ok; k++)
            if (ns.op[k].v >= 0 && ns.op[k].s[d] != ns.op[k].s[d + 1] * ns.d[d + 1].k) ok = false;
        if (!ok) continue;
        ns.d[d] = sym_mul(ns.d[d], ns.d[d + 1]);
        for (int k = 0; k < ns.nop; k++) ns.op[k].s[d] = ns.op[k].s[d + 1];
        for (int e = d + 1; e + 1 < ns.rank; e++) {
            ns.d[e] = ns.d[e + 1];
            for (int k = 0; k < ns.nop; k++) ns.op[k].s[e] = ns.op[k].s[e + 1];
        }
        ns.rank--;
    }

    /* void P.ewN(i64 batch, ptr y, ptr x0, ...) */
    LLVMTypeRef pt[18];
    pt[0] = c->t_i64;
    for (int k = 0; k < ns.nop; k++) pt[1 + k] = c->t_ptr;
    char name[300];
    snprintf(name, sizeof name, "%s.ew.%d", c->prefix, c->node);
    LLVMValueRef f =
        LLVMAddFunction(c->mod, name, LLVMFunctionType(c->t_void, pt, (unsigned)(1 + ns.nop), 0));
    LLVMSetLinkage(f, LLVMInternalLinkage);
    unsigned k_noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    unsigned k_nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(c->ctx, k_nounwind, 0));
    bool y_alone = true;
    for (int k = 1; k < ns.nop; k++) {
        int v = ns.op[k].v;
        if (v < 0) continue;
        if (cg_may_overlap(c, v, yv))
            y_alone = false;
        else
            LLVMAddAttributeAtIndex(f, (unsigned)(2 + k),
                                    LLVMCreateEnumAttribute(c->ctx, k_noalias, 0));
    }
    if (y_alone) LLVMAddAttributeAtIndex(f, 2, LLVMCreateEnumAttribute(c->ctx, k_noalias, 0));

    LLVMValueRef args[18];
    args[0] = c->batch;
    args[1] = yptr;
    for (int k = 1; k < ns.nop; k++)
        args[1 + k] = ns.op[k].v >= 0 ? cg_ptr(c, ns.op[k].v) : LLVMConstPointerNull(c->t_ptr);
    LLVMBuildCall2(c->b, LLVMGlobalGetValueType(f), f, args, (unsigned)(1 + ns.nop), "");

    /* body of the loop function */
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(c->b);
    LLVMValueRef sfn = c->fn, sbatch = c->batch;
    LLVMBasicBlockRef sentry = c->entry;
    c->fn = f;
    c->entry = LLVMAppendBasicBlockInContext(c->ctx, f, "entry");
    LLVMPositionBuilderAtEnd(c->b, c->entry);
    c->batch = LLVMGetParam(f, 0);
    LLVMValueRef off[17];
    for (int k = 0; k < ns.nop; k++) {
        Opnd *o = &ns.op[k];
        off[k] = cg_i64(c, 0);
        if (o->v < 0) continue;
        o->base = LLVMGetParam(f, (unsigned)(1 + k));
        o->scalar = k > 0 && !is_scan(n->op) && n->op != OP_Hardmax;
        for (int d = 0; d < ns.rank; d++)
            if (o->s[d]) o->scalar = false;
        if (o->scalar) o->sval = load_elem(c, o, off[k]);
    }
    rc = emit_nest(c, &ns, 0, off);
    if (rc == 0) LLVMBuildRetVoid(c->b);
    c->fn = sfn;
    c->batch = sbatch;
    c->entry = sentry;
    LLVMPositionBuilderAtEnd(c->b, saved);
    free(prog.t);
    return rc;
}
