/* lower_poolnd.c — nodes lowered to runtime/poolnd.c: pools of other ranks or with indices, LRN-13,
 * MaxUnpool-11. */
#include "lower.h"

/* MaxPool/AveragePool outside the fast 2-D f32 path: other spatial ranks, the Indices
 * output, u8/i8 (MaxPool-12). */
int emit_poolnd(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    bool max = n->op == OP_MaxPool;
    int dt = xt->dtype;
    if (!(dt == DT_F32 || (max && (dt == DT_U8 || dt == DT_I8))))
        return cg_fail(c, "input 0 is %s", dtype_name(dt));
    int sp = xt->rank - 2;
    const int64_t *ks;
    if (sp < 1 || attr_ints(n, "kernel_shape", &ks) != sp) return cg_fail(c, "kernel_shape");
    int64_t st[IR_MAX_RANK], dl[IR_MAX_RANK], pd[2 * IR_MAX_RANK];
    if (window_nd(c, n, xt, yt, ks, st, dl, pd) < 0) return -1;
    isbrt_poolnd p;
    memset(&p, 0, sizeof p);
    p.kind = max ? ISBRT_POOL_MAX : ISBRT_POOL_AVG;
    p.count_include_pad = (int32_t)attr_int(n, "count_include_pad", 0);
    p.storage_order = (int32_t)attr_int(n, "storage_order", 0);
    p.nsp = sp, p.c = xt->dims[1];
    for (int i = 0; i < sp; i++) {
        p.in[i] = xt->dims[2 + i], p.out[i] = yt->dims[2 + i], p.k[i] = ks[i];
        p.stride[i] = st[i], p.dil[i] = dl[i], p.pad[i] = pd[i], p.pad_end[i] = pd[sp + i];
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    LLVMValueRef ind = n->nout > 1 ? cg_ptr(c, n->out[1]) : NULL;
    if (!y && !ind) return 0;
    if (!y) return cg_fail(c, "Indices without Y");
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef args[6] = {PARAM(c, p),
                            cg_i32(c, dt),
                            cg_sym(c, sym_dim(xt, 0)),
                            x,
                            y,
                            ind ? ind : LLVMConstPointerNull(c->t_ptr)};
    call(c, "isbrt_poolnd_run", c->t_void, 6, args);
    return 0;
}

int emit_lrn(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]);
    int64_t size = attr_int(n, "size", 0);
    if (xt->rank < 2 || size < 1) return cg_fail(c, "size %" PRId64 ", rank %d", size, xt->rank);
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef args[9] = {cg_sym(c, sym_dim(xt, 0)),
                            cg_i64(c, xt->dims[1]),
                            cg_sym(c, sym_prod(xt, 2, xt->rank)),
                            cg_i64(c, size),
                            cg_f32(c, attr_num(n, "alpha")),
                            cg_f32(c, attr_num(n, "beta")),
                            cg_f32(c, attr_num(n, "bias")),
                            x,
                            y};
    call(c, "isbrt_lrn_f32", c->t_void, 9, args);
    return 0;
}

int emit_maxunpool(Cg *c, const Node *n) {
    if (need_f32(c, n, 1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    int sp = xt->rank - 2;
    int64_t ks[IR_MAX_RANK], st[IR_MAX_RANK], pd[2 * IR_MAX_RANK];
    SymInt frame[IR_MAX_RANK], out[IR_MAX_RANK];
    if (ints_or(n, "kernel_shape", sp, 0, ks) < 0 || ints_or(n, "strides", sp, 1, st) < 0 ||
        ints_or(n, "pads", 2 * sp, 0, pd) < 0)
        return cg_fail(c, "kernel_shape/strides/pads do not match the %d spatial dims", sp);
    for (int i = 0; i < sp; i++) {
        frame[i] = sym_const((xt->dims[2 + i] - 1) * st[i] + ks[i] - pd[i] - pd[sp + i]);
        out[i] = sym_dim(yt, 2 + i);
    }
    LLVMValueRef x, idx, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &idx) < 0) return -1;
    LLVMValueRef args[8] = {cg_i32(c, sp),
                            cg_i64_array(c, sp, frame),
                            cg_i64_array(c, sp, out),
                            cg_sym(c, sym_prod(xt, 0, 2)),
                            cg_sym(c, sym_prod(xt, 0, xt->rank)),
                            x,
                            idx,
                            y};
    /* an index out of range (bad input data) makes the run return EBADARG */
    LLVMValueRef rc = call(c, "isbrt_maxunpool_f32", c->t_i32, 8, args);
    cg_bail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, rc, cg_i32(c, 0), ""));
    return 0;
}
