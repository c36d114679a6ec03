/* lower_select.c — nodes lowered to runtime/select.c: TopK-11, OneHot-11, GatherND-13,
 * ScatterND-16, ReverseSequence-10, Einsum-12, Det-11. */
#include "lower.h"

/* TopK-11 (k from the constant input, or the attribute of TopK-1). */
int emit_topk(Cg *c, const Node *n) {
    if (need_f32(c, n, 1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    int64_t axis;
    if (norm_axis(c, attr_int(n, "axis", -1), xt->rank, &axis) < 0) return -1;
    LLVMValueRef x, y = cg_ptr(c, n->out[0]), idx = cg_ptr(c, n->out[1]);
    if (!y && !idx) return 0;
    if (!idx) return cg_fail(c, "the Indices output is unused (it is needed)");
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef args[8] = {cg_sym(c, sym_prod(xt, 0, (int)axis)),
                            cg_sym(c, sym_dim(xt, (int)axis)),
                            cg_sym(c, sym_prod(xt, (int)axis + 1, xt->rank)),
                            cg_i64(c, yt->dims[axis]),
                            cg_i32(c, attr_int(n, "largest", 1) != 0),
                            x,
                            y ? y : LLVMConstPointerNull(c->t_ptr),
                            idx};
    call(c, "isbrt_topk_f32", c->t_void, 8, args);
    return 0;
}

/* OneHot-11: depth is the output's dim at axis. */
int emit_onehot(Cg *c, const Node *n) {
    const Type *it = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    int dt = it->dtype;
    if (dt != DT_I32 && dt != DT_I64 && dt != DT_F32 && dt != DT_F64)
        return cg_fail(c, "indices of type %s", dtype_name(dt));
    int64_t axis;
    if (norm_axis(c, attr_int(n, "axis", -1), yt->rank, &axis) < 0) return -1;
    LLVMValueRef idx, vals, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &idx) < 0 || in_ptr(c, n, 2, &vals) < 0) return -1;
    LLVMValueRef args[8] = {cg_sym(c, sym_prod(it, 0, (int)axis)),
                            cg_i64(c, yt->dims[axis]),
                            cg_sym(c, sym_prod(it, (int)axis, it->rank)),
                            cg_i32(c, dt),
                            idx,
                            cg_i64(c, (int64_t)dtype_size(yt->dtype)),
                            vals,
                            y};
    call(c, "isbrt_onehot", c->t_void, 8, args);
    return 0;
}

/* GatherND-13 (shape rule in ir/shape.c); a bad index makes the run return EBADARG. */
int emit_gathernd(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *it = vtype(c, n->in[1]);
    int b = (int)attr_int(n, "batch_dims", 0), q = (int)it->dims[it->rank - 1];
    SymInt dims[IR_MAX_RANK];
    for (int i = 0; i < q; i++) dims[i] = sym_dim(xt, b + i);
    LLVMValueRef x, idx, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &idx) < 0) return -1;
    LLVMValueRef args[10] = {cg_sym(c, sym_prod(xt, 0, b)),
                             cg_sym(c, sym_prod(it, b, it->rank - 1)),
                             cg_i32(c, q),
                             cg_i64_array(c, q, dims),
                             cg_sym(c, sym_prod(xt, b + q, xt->rank)),
                             cg_sym(c, sym_prod(xt, b, xt->rank)),
                             idx,
                             cg_i64(c, (int64_t)dtype_size(xt->dtype)),
                             x,
                             y};
    call_checked(c, "isbrt_gather_nd", 10, args);
    return 0;
}

/* ScatterND-16 (reduction none/add/mul/max/min; the last four on the dtypes of
 * ScatterElements). */
int emit_scatternd(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *it = vtype(c, n->in[1]);
    const char *rs = attr_string(n, "reduction", "none");
    int red = scatter_red(rs);
    if (red != ISBRT_SCATTER_NONE && !scatter_dtype_ok(xt->dtype))
        return cg_fail(c, "reduction '%s' on %s", rs, dtype_name(xt->dtype));
    int q = (int)it->dims[it->rank - 1];
    SymInt dims[IR_MAX_RANK];
    for (int i = 0; i < q; i++) dims[i] = sym_dim(xt, i);
    LLVMValueRef x, idx, up, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &idx) < 0 || in_ptr(c, n, 2, &up) < 0) return -1;
    if (cg_may_overlap(c, n->in[1], n->out[0]) || cg_may_overlap(c, n->in[2], n->out[0]))
        return cg_fail(c, "indices or updates share storage with the output");
    LLVMValueRef args[12] = {cg_i32(c, red),
                             cg_sym(c, sym_prod(it, 0, it->rank - 1)),
                             cg_i32(c, q),
                             cg_i64_array(c, q, dims),
                             cg_sym(c, sym_prod(xt, q, xt->rank)),
                             cg_sym(c, sym_prod(xt, 0, xt->rank)),
                             idx,
                             cg_i32(c, xt->dtype),
                             cg_i64(c, (int64_t)dtype_size(xt->dtype)),
                             x,
                             up,
                             y};
    call_checked(c, "isbrt_scatter_nd", 12, args);
    return 0;
}

/* ReverseSequence-10; a length out of range makes the run return EBADARG. */
int emit_reverse_sequence(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *lt = vtype(c, n->in[1]);
    LLVMValueRef x, lens, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &lens) < 0) return -1;
    if (cg_may_overlap(c, n->in[0], n->out[0])) return cg_fail(c, "input shares the output");
    LLVMValueRef args[9] = {cg_i32(c, attr_int(n, "time_axis", 0)),
                            cg_sym(c, sym_dim(xt, 0)),
                            cg_sym(c, sym_dim(xt, 1)),
                            cg_sym(c, sym_prod(xt, 2, xt->rank)),
                            lens,
                            cg_i32(c, lt->dtype == DT_I64),
                            cg_i64(c, (int64_t)dtype_size(xt->dtype)),
                            x,
                            y};
    call_checked(c, "isbrt_reverse_sequence", 9, args);
    return 0;
}

/* Einsum-12 as the direct loop over every label (a label repeated in one operand sums its
 * strides: a diagonal). */
int emit_einsum(Cg *c, const Node *n) {
    const Type *ins[EINSUM_MAX_IN], *yt = vtype(c, n->out[0]);
    for (int i = 0; i < n->nin; i++) ins[i] = vtype(c, n->in[i]);
    if (yt->dtype != DT_F32 && yt->dtype != DT_F64)
        return cg_fail(c, "element type %s (f32 and f64 are supported)", dtype_name(yt->dtype));
    EinsumSpec s;
    char err[200];
    if (einsum_parse(attr_string(n, "equation", ""), n->nin, ins, &s, err, sizeof err) < 0)
        return cg_fail(c, "%s", err);
    int L = s.nlab;
    SymInt dims[EINSUM_MAX_LABELS], st[EINSUM_MAX_IN * EINSUM_MAX_LABELS], ys[EINSUM_MAX_LABELS];
    for (int l = 0; l < L; l++) {
        dims[l] = s.dims[l] == IR_DIM_N ? (SymInt){1, true} : sym_const(s.dims[l]);
        ys[l] = sym_const(0);
        for (int i = 0; i < s.nin; i++) st[i * L + l] = sym_const(0);
    }
    for (int i = 0; i < s.nin; i++) {
        SymInt xs[IR_MAX_RANK];
        strides_of(ins[i], xs);
        for (int a = 0; a < s.rank[i]; a++) {
            SymInt *t = &st[i * L + s.lab[i][a]];
            if (ins[i]->dims[a] == 1 && s.dims[s.lab[i][a]] != 1) continue; /* broadcast */
            if ((t->k && t->n != xs[a].n)) return cg_fail(c, "a diagonal over the batch dim");
            *t = (SymInt){t->k + xs[a].k, t->n || xs[a].n};
        }
    }
    SymInt yst[IR_MAX_RANK];
    strides_of(yt, yst);
    for (int a = 0; a < s.out_rank; a++) ys[s.out_lab[a]] = yst[a];
    LLVMValueRef y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    LLVMValueRef ptrs = cg_alloca(c, sizeof(void *) * (size_t)s.nin, 8);
    for (int i = 0; i < s.nin; i++) {
        LLVMValueRef p;
        if (in_ptr(c, n, i, &p) < 0) return -1;
        if (cg_may_overlap(c, n->in[i], n->out[0])) return cg_fail(c, "input shares the output");
        LLVMValueRef ix = cg_i64(c, i);
        LLVMBuildStore(c->b, p, LLVMBuildInBoundsGEP2(c->b, c->t_ptr, ptrs, &ix, 1, ""));
    }
    LLVMValueRef args[8] = {cg_i32(c, L),
                            cg_i64_array(c, L, dims),
                            cg_i32(c, s.nin),
                            ptrs,
                            cg_i64_array(c, s.nin * L, st),
                            cg_i64_array(c, L, ys),
                            y,
                            cg_sym(c, sym_prod(yt, 0, yt->rank))};
    call(c, yt->dtype == DT_F32 ? "isbrt_einsum_f32" : "isbrt_einsum_f64", c->t_void, 8, args);
    return 0;
}

int emit_det(Cg *c, const Node *n) {
    if (need_f32(c, n, 1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]);
    int r = xt->rank;
    if (xt->dims[r - 1] > 64) return cg_fail(c, "matrices larger than 64 x 64");
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef args[4] = {cg_sym(c, sym_prod(xt, 0, r - 2)), cg_i64(c, xt->dims[r - 1]), x, y};
    call(c, "isbrt_det_f32", c->t_void, 4, args);
    return 0;
}
