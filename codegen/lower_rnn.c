/* lower_rnn.c — nodes lowered to runtime/rnn.c: RNN-14, GRU-14, LSTM-14. */
#include "lower.h"

/* RNN-14, GRU-14, LSTM-14 (shape rule in ir/shape.c). */
int emit_rnn(Cg *c, const Node *n) {
    for (int i = 0; i < n->nin; i++) {
        int want = i == 4 ? DT_I32 : DT_F32; /* sequence_lens is int32 */
        if (n->in[i] >= 0 && vtype(c, n->in[i])->dtype != want)
            return cg_fail(c, "input %d is %s, expected %s", i,
                           dtype_name(vtype(c, n->in[i])->dtype), dtype_name(want));
    }
    const Type *xt = vtype(c, n->in[0]), *wt = vtype(c, n->in[1]);
    isbrt_rnn p;
    memset(&p, 0, sizeof p);
    p.kind = n->op == OP_RNN ? ISBRT_RNN : n->op == OP_GRU ? ISBRT_GRU : ISBRT_LSTM;
    p.dirs = (int32_t)wt->dims[0];
    p.reverse = !strcmp(attr_string(n, "direction", "forward"), "reverse");
    p.layout = (int32_t)attr_int(n, "layout", 0);
    p.linear_before_reset = (int32_t)attr_int(n, "linear_before_reset", 0);
    p.input_forget = (int32_t)attr_int(n, "input_forget", 0);
    p.seq = xt->dims[p.layout ? 1 : 0];
    p.input = xt->dims[2];
    p.hidden = vtype(c, n->in[2])->dims[2];
    p.clip = attr_float(n, "clip", 0);
    if (rnn_activations(c, n, p.kind == ISBRT_RNN ? 1 : p.kind == ISBRT_GRU ? 2 : 3, &p) < 0)
        return -1;
    LLVMValueRef x, w, r;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &w) < 0 || in_ptr(c, n, 2, &r) < 0) return -1;
    LLVMValueRef outs[3];
    bool any = false;
    for (int i = 0; i < 3; i++) {
        outs[i] = i < n->nout && n->out[i] >= 0 ? cg_ptr(c, n->out[i]) : NULL;
        any |= outs[i] != NULL;
        if (!outs[i]) outs[i] = LLVMConstPointerNull(c->t_ptr);
    }
    if (!any) return 0;
    for (int i = 0; i < n->nout; i++)
        for (int j = 0; j < n->nin; j++)
            if (n->out[i] >= 0 && n->in[j] >= 0 && cg_may_overlap(c, n->in[j], n->out[i]))
                return cg_fail(c, "an input shares storage with an output");
    LLVMValueRef param = PARAM(c, p);
    cg_add_scratch(c, "isbrt_rnn_scratch", param);
    LLVMValueRef args[14] = {param,
                             cg_sym(c, sym_dim(xt, p.layout ? 0 : 1)),
                             x,
                             w,
                             r,
                             opt_ptr(c, n, 3),
                             opt_ptr(c, n, 4),
                             opt_ptr(c, n, 5),
                             opt_ptr(c, n, 6),
                             opt_ptr(c, n, 7),
                             outs[0],
                             outs[1],
                             outs[2],
                             c->ws};
    call(c, "isbrt_rnn_f32", c->t_void, 14, args);
    return 0;
}
