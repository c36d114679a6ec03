/* lower_act.c — nodes lowered to runtime/act.c: GateMask (passes/fuse_selection.c). */
#include <math.h>

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
    /* the call's threshold override (P_options.threshold >= 0) replaces every element's; an
     * override <= 0 runs every branch, whatever the gate holds */
    if (k > 0) {
        LLVMValueRef o = cg_threshold_override(c);
        LLVMValueRef set = LLVMBuildFCmp(c->b, LLVMRealOGE, o, cg_f32(c, 0.0f), "");
        LLVMValueRef pos = LLVMBuildFCmp(c->b, LLVMRealOGT, o, cg_f32(c, 0.0f), "");
        LLVMValueRef fill = LLVMBuildSelect(c->b, pos, o, cg_f32(c, -INFINITY), "");
        LLVMValueRef own = cg_alloca(c, sizeof(float) * (size_t)k, 4);
        CgLoop l = cg_loop_begin(c, cg_i64(c, k), "thr.fill");
        LLVMBuildStore(c->b, fill, LLVMBuildInBoundsGEP2(c->b, c->t_f32, own, &l.iv, 1, ""));
        cg_loop_end(c, &l);
        thr = LLVMBuildSelect(c->b, set, own, thr, "thr");
    }
    LLVMValueRef args[5] = {cg_sym(c, rows), cg_i64(c, k), thr, x, y};
    call(c, "isbrt_gate_mask", c->t_void, 5, args);
    return 0;
}
