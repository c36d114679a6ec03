/* lower_pool.c — nodes lowered to runtime/pool.c: MaxPool-12, AveragePool-11 (2-D f32),
 * GlobalAveragePool-1, GlobalMaxPool-1. */
#include "lower.h"

int emit_pool(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    if (n->nout > 1 && cg_ptr(c, n->out[1])) return cg_fail(c, "MaxPool Indices output");
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    int sp = xt->rank - 2;
    const int64_t *ks;
    if (sp < 1 || attr_ints(n, "kernel_shape", &ks) != sp) return cg_fail(c, "kernel_shape");
    Win w;
    if (window(c, n, xt, yt, ks, &w) < 0) return -1;
    isbrt_pool2d p;
    memset(&p, 0, sizeof p);
    p.kind = n->op == OP_MaxPool ? ISBRT_POOL_MAX : ISBRT_POOL_AVG;
    p.count_include_pad = (int32_t)attr_int(n, "count_include_pad", 0);
    p.c = xt->dims[1], p.h = w.h, p.w = w.w, p.oh = w.oh, p.ow = w.ow, p.kh = w.kh, p.kw = w.kw;
    p.stride_h = w.sh, p.stride_w = w.sw, p.pad_t = w.pt, p.pad_l = w.pl, p.pad_b = w.pb;
    p.pad_r = w.pr, p.dil_h = w.dh, p.dil_w = w.dw;
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef args[4] = {PARAM(c, p), cg_sym(c, sym_dim(xt, 0)), x, y};
    call(c, "isbrt_pool2d_f32", c->t_void, 4, args);
    return 0;
}

int emit_global_pool(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]);
    if (xt->rank < 2) return cg_fail(c, "input of rank %d", xt->rank);
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    int kind = n->op == OP_GlobalMaxPool ? ISBRT_POOL_MAX : ISBRT_POOL_AVG;
    LLVMValueRef args[5] = {cg_i32(c, kind), cg_sym(c, sym_prod(xt, 0, 2)),
                            cg_sym(c, sym_prod(xt, 2, xt->rank)), x, y};
    call(c, "isbrt_global_pool_f32", c->t_void, 5, args);
    return 0;
}
