/* lower_convnd.c — nodes lowered to runtime/convnd.c: Conv of other spatial ranks and
 * ConvTranspose-11. */
#include "lower.h"

int emit_convtranspose(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *wt = vtype(c, n->in[1]), *yt = vtype(c, n->out[0]);
    int64_t pads[2 * IR_MAX_RANK], od[IR_MAX_RANK], st[IR_MAX_RANK], dl[IR_MAX_RANK];
    int sp = xt->rank - 2;
    if (convtranspose_geometry(n, xt, wt, pads, od) < 0) return cg_fail(c, "bad geometry");
    if (ints_or(n, "strides", sp, 1, st) < 0 || ints_or(n, "dilations", sp, 1, dl) < 0)
        return cg_fail(c, "strides/dilations do not match the %d spatial dims", sp);
    isbrt_convnd p;
    memset(&p, 0, sizeof p);
    p.nsp = sp, p.c_in = xt->dims[1], p.c_out = yt->dims[1], p.group = attr_int(n, "group", 1);
    for (int i = 0; i < sp; i++) {
        p.in[i] = xt->dims[2 + i], p.out[i] = od[i], p.k[i] = wt->dims[2 + i];
        p.stride[i] = st[i], p.dil[i] = dl[i], p.pad[i] = pads[i];
    }
    LLVMValueRef x, wp, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &wp) < 0) return -1;
    LLVMValueRef param = PARAM(c, p);
    cg_add_scratch(c, "isbrt_convtranspose_scratch", param);
    LLVMValueRef args[7] = {param, cg_sym(c, sym_dim(xt, 0)), x, wp, opt_ptr(c, n, 2), y, c->ws};
    call(c, "isbrt_convtranspose_f32", c->t_void, 7, args);
    return 0;
}

int emit_convnd(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *wt = vtype(c, n->in[1]), *yt = vtype(c, n->out[0]);
    int sp = xt->rank - 2;
    int64_t st[IR_MAX_RANK], dl[IR_MAX_RANK], pd[2 * IR_MAX_RANK];
    if (wt->rank != xt->rank) return cg_fail(c, "weight rank %d", wt->rank);
    if (window_nd(c, n, xt, yt, wt->dims + 2, st, dl, pd) < 0) return -1;
    isbrt_convnd p;
    memset(&p, 0, sizeof p);
    p.nsp = sp, p.c_in = xt->dims[1], p.c_out = yt->dims[1], p.group = attr_int(n, "group", 1);
    for (int i = 0; i < sp; i++) {
        p.in[i] = xt->dims[2 + i], p.out[i] = yt->dims[2 + i], p.k[i] = wt->dims[2 + i];
        p.stride[i] = st[i], p.dil[i] = dl[i], p.pad[i] = pd[i];
    }
    if (parse_act(c, n, &p.act) < 0) return -1;
    return conv_call(c, n, PARAM(c, p), "isbrt_convnd_scratch", "isbrt_convnd_f32", NULL, NULL);
}
