/* lower_norm.c — nodes lowered to runtime/norm.c: LayerNormalization-17, InstanceNormalization-6,
 * MeanVarianceNormalization-13, LpNormalization-1, NegativeLogLikelihoodLoss-13,
 * SoftmaxCrossEntropyLoss-13. */
#include "lower.h"

/* Strides of t (broadcast unidirectionally, right-aligned) over the dims of x: 0 where t has
 * no dim or a dim of 1. */
static void bcast_strides(const Type *t, const Type *xt, int64_t *s) {
    int64_t st = 1;
    for (int d = xt->rank - 1; d >= 0; d--) {
        int j = d - (xt->rank - t->rank);
        s[d] = j < 0 || t->dims[j] == 1 ? 0 : st;
        if (j >= 0) st *= t->dims[j];
    }
}

static LLVMValueRef opt_out(Cg *c, const Node *n, int k) {
    LLVMValueRef p = k < n->nout && n->out[k] >= 0 ? cg_ptr(c, n->out[k]) : NULL;
    return p ? p : LLVMConstPointerNull(c->t_ptr);
}

/* LayerNormalization-17, InstanceNormalization-6, MeanVarianceNormalization-13 as one
 * normalization over a set of axes (isbrt_normalize_f32). */
int emit_normalize(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]);
    int r = xt->rank;
    isbrt_norm p;
    memset(&p, 0, sizeof p);
    p.rank = r;
    for (int d = 0; d < r; d++) p.dims[d] = xt->dims[d] == IR_DIM_N ? 1 : xt->dims[d];
    if (n->op == OP_LayerNormalization) {
        int64_t first;
        if (norm_axis(c, attr_int(n, "axis", -1), r, &first) < 0) return -1;
        for (int d = (int)first; d < r; d++) p.red_mask |= 1 << d;
        p.epsilon = attr_num(n, "epsilon");
        bcast_strides(vtype(c, n->in[1]), xt, p.scale_strides);
        if (n->nin > 2 && n->in[2] >= 0) bcast_strides(vtype(c, n->in[2]), xt, p.bias_strides);
    } else if (n->op == OP_InstanceNormalization) {
        for (int d = 2; d < r; d++) p.red_mask |= 1 << d;
        p.epsilon = attr_num(n, "epsilon");
        p.scale_strides[1] = p.bias_strides[1] = 1;
    } else { /* MVN-13: (x - mean) / (sqrt(var) + 1e-9), its function body's epsilon */
        const int64_t *axes;
        static const int64_t dflt[3] = {0, 2, 3};
        int na = attr_ints(n, "axes", &axes);
        if (na < 0) axes = dflt, na = 3;
        for (int i = 0; i < na; i++) {
            int64_t a;
            if (norm_axis(c, axes[i], r, &a) < 0) return -1;
            p.red_mask |= 1 << a;
        }
        p.epsilon = 1e-9f;
        p.eps_outside = 1;
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef scale =
        n->op == OP_MeanVarianceNormalization ? LLVMConstPointerNull(c->t_ptr) : opt_ptr(c, n, 1);
    LLVMValueRef bias =
        n->op == OP_MeanVarianceNormalization ? LLVMConstPointerNull(c->t_ptr) : opt_ptr(c, n, 2);
    size_t off = offsetof(isbrt_norm, dims);
    SymInt nb = sym_dim(xt, 0);
    LLVMValueRef args[7] = {
        cg_param(c, &p, sizeof p, r && nb.n ? 1 : 0, &off, &nb),
        x,
        scale,
        bias,
        y,
        n->op == OP_LayerNormalization ? opt_out(c, n, 1) : LLVMConstPointerNull(c->t_ptr),
        n->op == OP_LayerNormalization ? opt_out(c, n, 2) : LLVMConstPointerNull(c->t_ptr)};
    call(c, "isbrt_normalize_f32", c->t_void, 7, args);
    return 0;
}

/* LpNormalization-1 along axis (default -1), p 1 or 2. */
int emit_lpnorm(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]);
    int64_t axis;
    if (norm_axis(c, attr_int(n, "axis", -1), xt->rank, &axis) < 0) return -1;
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef args[6] = {cg_sym(c, sym_prod(xt, 0, (int)axis)),
                            cg_sym(c, sym_dim(xt, (int)axis)),
                            cg_sym(c, sym_prod(xt, (int)axis + 1, xt->rank)),
                            cg_i32(c, attr_int(n, "p", 2)),
                            x,
                            y};
    call(c, "isbrt_lp_normalize_f32", c->t_void, 6, args);
    return 0;
}

/* NegativeLogLikelihoodLoss-13 and SoftmaxCrossEntropyLoss-13 (with its log_prob output). */
int emit_loss(Cg *c, const Node *n) {
    if (need_f32(c, n, 1) < 0) return -1;
    if (n->nin > 2 && n->in[2] >= 0 && vtype(c, n->in[2])->dtype != DT_F32)
        return cg_fail(c, "weight of type %s, only f32 is supported",
                       dtype_name(vtype(c, n->in[2])->dtype));
    const Type *xt = vtype(c, n->in[0]), *tt = vtype(c, n->in[1]);
    if (tt->dtype != DT_I64)
        return cg_fail(c, "target of type %s (int64 supported)", dtype_name(tt->dtype));
    bool sce = n->op == OP_SoftmaxCrossEntropyLoss;
    LLVMValueRef y = opt_out(c, n, 0), lp = sce ? opt_out(c, n, 1) : LLVMConstPointerNull(c->t_ptr);
    if (LLVMIsNull(y) && LLVMIsNull(lp)) return 0;
    LLVMValueRef x, t;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &t) < 0) return -1;
    const char *rs = attr_string(n, "reduction", "mean");
    int red = !strcmp(rs, "none")  ? ISBRT_LOSS_NONE
              : !strcmp(rs, "sum") ? ISBRT_LOSS_SUM
                                   : ISBRT_LOSS_MEAN;
    LLVMValueRef args[12] = {cg_sym(c, sym_dim(xt, 0)),
                             cg_sym(c, sym_dim(xt, 1)),
                             cg_sym(c, sym_prod(xt, 2, xt->rank)),
                             x,
                             t,
                             opt_ptr(c, n, 2),
                             cg_i32(c, node_attr(n, "ignore_index") != NULL),
                             cg_i64(c, attr_int(n, "ignore_index", 0)),
                             cg_i32(c, red),
                             cg_i32(c, sce),
                             y,
                             lp};
    call_checked(c, "isbrt_nll_loss_f32", 12, args); /* target out of range */
    return 0;
}
