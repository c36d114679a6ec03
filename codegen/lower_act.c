/* lower_act.c — nodes lowered to runtime/act.c: GateMask (passes/fuse_selection.c). */
#include "lower.h"

/* GateMask (passes/fuse_selection.c): the per-instance active mask of a gate. */
int emit_gate_mask(Cg *c, const Node *n) {
    const Type *gt = vtype(c, n->in[0]);
    const Attr *a = node_attr(n, "_thresholds");
    SymInt rows = sym_dim(gt, 0);
    int64_t rows1 = rows.n ? 1 : (rows.k ? rows.k : 1);
    int64_t k = type_numel(gt, 1) / rows1;
    if (!a || a->kind != ATTR_FLOATS || a->n != k)
        return cg_fail(c, "_thresholds must hold %" PRId64 " floats", k);
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (need_f32(c, n, -1) < 0 || in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef thr = cg_const_bytes(c, a->floats, sizeof(float) * (size_t)(k ? k : 1), 4, "thr");
    LLVMValueRef args[5] = {cg_sym(c, rows), cg_i64(c, k), thr, x, y};
    call(c, "isbrt_gate_mask", c->t_void, 5, args);
    return 0;
}
