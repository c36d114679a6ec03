/* lower_softmax.c — nodes lowered to runtime/softmax.c: Softmax-13/LogSoftmax-13 (and the 2-D
 * coercion of opsets < 13). */
#include "lower.h"

int emit_softmax(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]);
    bool v13 = c->g->opset >= 13;
    int64_t axis;
    if (norm_axis(c, attr_int(n, "axis", v13 ? -1 : 1), xt->rank, &axis) < 0) return -1;
    SymInt outer = sym_prod(xt, 0, (int)axis);
    SymInt len = v13 ? sym_dim(xt, (int)axis) : sym_prod(xt, (int)axis, xt->rank);
    SymInt inner = v13 ? sym_prod(xt, (int)axis + 1, xt->rank) : sym_const(1);
    if (xt->rank == 0) outer = len = inner = sym_const(1);
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef args[6] = {cg_sym(c, outer),
                            cg_sym(c, len),
                            cg_sym(c, inner),
                            x,
                            y,
                            cg_i32(c, n->op == OP_LogSoftmax)};
    call(c, "isbrt_softmax_f32", c->t_void, 6, args);
    return 0;
}
