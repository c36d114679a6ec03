/* lower_reduce.c — nodes lowered to runtime/reduce.c: ReduceMean/Sum/Max/Min-18 (axes as attribute
 * or constant input); non-adjacent axes as a generated loop nest. */
#include "lower.h"

/* A reduction over axes that are not adjacent (ReduceMean over N, H, W), as a loop nest: the
 * kept dims outside, the reduced dims inside, accumulating in a stack slot. */
typedef struct RedLoops {
    const Node *n;
    const Type *xt;
    int order[IR_MAX_RANK], nkept;
    SymInt xs[IR_MAX_RANK];
    LLVMValueRef x, y, acc, count;
} RedLoops;

static void red_level(Cg *c, RedLoops *rl, int level, LLVMValueRef in, LLVMValueRef out) {
    int op = rl->n->op;
    if (level == rl->nkept) {
        double init = op == OP_ReduceMax ? -INFINITY : op == OP_ReduceMin ? INFINITY : 0;
        LLVMBuildStore(c->b, cg_f32(c, (float)init), rl->acc);
    }
    if (level == rl->xt->rank) {
        LLVMValueRef v = LLVMBuildLoad2(
            c->b, c->t_f32, LLVMBuildInBoundsGEP2(c->b, c->t_f32, rl->x, &in, 1, ""), "");
        LLVMValueRef a = LLVMBuildLoad2(c->b, c->t_f32, rl->acc, "");
        LLVMValueRef args[2] = {a, v};
        a = op == OP_ReduceMax   ? cg_intrinsic(c, "llvm.maxnum", 0, NULL, 2, args)
            : op == OP_ReduceMin ? cg_intrinsic(c, "llvm.minnum", 0, NULL, 2, args)
                                 : LLVMBuildFAdd(c->b, a, v, "");
        LLVMBuildStore(c->b, a, rl->acc);
    } else {
        int d = rl->order[level];
        CgLoop l = cg_loop_begin(c, cg_sym(c, sym_dim(rl->xt, d)), "red");
        LLVMValueRef in2 =
            LLVMBuildNUWAdd(c->b, in, LLVMBuildNUWMul(c->b, l.iv, cg_sym(c, rl->xs[d]), ""), "");
        LLVMValueRef out2 = out;
        if (level < rl->nkept)
            out2 = LLVMBuildNUWAdd(
                c->b, LLVMBuildNUWMul(c->b, out, cg_sym(c, sym_dim(rl->xt, d)), ""), l.iv, "");
        red_level(c, rl, level + 1, in2, out2);
        cg_loop_end(c, &l);
    }
    if (level == rl->nkept) {
        LLVMValueRef a = LLVMBuildLoad2(c->b, c->t_f32, rl->acc, "");
        if (op == OP_ReduceMean)
            a = LLVMBuildFDiv(c->b, a, LLVMBuildSIToFP(c->b, rl->count, c->t_f32, ""), "");
        LLVMBuildStore(c->b, a, LLVMBuildInBoundsGEP2(c->b, c->t_f32, rl->y, &out, 1, ""));
    }
}

static int emit_reduce_loops(Cg *c, const Node *n, const bool *red, LLVMValueRef x,
                             LLVMValueRef y) {
    RedLoops rl = {.n = n, .xt = vtype(c, n->in[0]), .x = x, .y = y};
    int r = rl.xt->rank, k = 0;
    SymInt count = sym_const(1);
    for (int i = 0; i < r; i++)
        if (!red[i]) rl.order[k++] = i;
    rl.nkept = k;
    for (int i = 0; i < r; i++)
        if (red[i]) rl.order[k++] = i, count = sym_mul(count, sym_dim(rl.xt, i));
    strides_of(rl.xt, rl.xs);
    for (int i = 0; i < r; i++)
        if (!rl.xs[i].n && rl.xt->dims[i] == 0) return 0; /* empty */
    rl.acc = cg_alloca(c, 4, 4);
    rl.count = cg_sym(c, count);
    red_level(c, &rl, 0, cg_i64(c, 0), cg_i64(c, 0));
    return 0;
}

int emit_reduce(Cg *c, const Node *n) {
    if (need_f32(c, n, 1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]);
    int r = xt->rank;
    int64_t axes[IR_MAX_RANK];
    int na = -1;
    if (n->nin > 1 && n->in[1] >= 0) {
        if (!value_const_ints(c->g, n->in[1], axes, IR_MAX_RANK, &na))
            return cg_fail(c, "axes must be a constant");
    } else {
        const int64_t *v;
        na = attr_ints(n, "axes", &v);
        if (na > IR_MAX_RANK) return cg_fail(c, "too many axes");
        for (int i = 0; i < na; i++) axes[i] = v[i];
    }
    bool red[IR_MAX_RANK] = {0};
    if (na <= 0) {
        if (attr_int(n, "noop_with_empty_axes", 0))
            na = 0;
        else
            for (int i = 0; i < r; i++) red[i] = true;
    }
    for (int i = 0; i < na; i++) {
        int64_t a;
        if (norm_axis(c, axes[i], r, &a) < 0) return -1;
        red[a] = true;
    }
    /* the reduced dims (ignoring unit dims) must be consecutive: [outer, len, inner] */
    int first = -1, last = -1;
    for (int i = 0; i < r; i++) {
        if (!red[i] || (xt->dims[i] == 1)) continue;
        if (first < 0) first = i;
        last = i;
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    SymInt outer = sym_prod(xt, 0, r), len = sym_const(1), inner = sym_const(1);
    if (first >= 0) {
        for (int i = first; i <= last; i++)
            if (!red[i] && xt->dims[i] != 1) return emit_reduce_loops(c, n, red, x, y);
        outer = sym_prod(xt, 0, first);
        len = sym_prod(xt, first, last + 1);
        inner = sym_prod(xt, last + 1, r);
    }
    int kind = n->op == OP_ReduceSum    ? ISBRT_RED_SUM
               : n->op == OP_ReduceMean ? ISBRT_RED_MEAN
               : n->op == OP_ReduceMax  ? ISBRT_RED_MAX
                                        : ISBRT_RED_MIN;
    LLVMValueRef args[6] = {
        cg_i32(c, kind), cg_sym(c, outer), cg_sym(c, len), cg_sym(c, inner), x, y};
    call(c, "isbrt_reduce_f32", c->t_void, 6, args);
    return 0;
}
