/* lower_index.c — nodes lowered to runtime/index.c: GatherElements-13, ScatterElements-16, Scatter,
 * CumSum-14. */
#include "lower.h"

/* GatherElements-13, ScatterElements-16 (reduction none/add/mul, max/min from 18),
 * Scatter-9/11 (ScatterElements without reduction). */
int emit_index_elements(Cg *c, const Node *n) {
    bool gather = n->op == OP_GatherElements;
    const Type *xt = vtype(c, n->in[0]), *it = vtype(c, n->in[1]);
    int64_t axis;
    if (norm_axis(c, attr_int(n, "axis", 0), xt->rank, &axis) < 0) return -1;
    if (it->dtype != DT_I64)
        return cg_fail(c, "indices of type %s (int64 supported)", dtype_name(it->dtype));
    LLVMValueRef x, idx, u = NULL, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &idx) < 0) return -1;
    if (!gather && in_ptr(c, n, 2, &u) < 0) return -1;
    if (gather) {
        LLVMValueRef args[8] = {cg_i32(c, xt->rank),
                                dims_array(c, xt),
                                dims_array(c, it),
                                cg_i32(c, axis),
                                idx,
                                cg_i64(c, (int64_t)dtype_size(xt->dtype)),
                                x,
                                y};
        call_checked(c, "isbrt_gather_elements", 8, args);
    } else {
        const char *rs = attr_string(n, "reduction", "none");
        int red = scatter_red(rs);
        int dt = xt->dtype;
        if (dt == DT_BOOL && red == ISBRT_SCATTER_NONE) dt = DT_U8; /* a plain byte copy */
        if (!scatter_dtype_ok(dt)) return cg_fail(c, "data of type %s", dtype_name(xt->dtype));
        LLVMValueRef args[10] = {cg_i32(c, dt),
                                 cg_i32(c, red),
                                 cg_i32(c, xt->rank),
                                 dims_array(c, xt),
                                 dims_array(c, it),
                                 cg_i32(c, axis),
                                 idx,
                                 x,
                                 u,
                                 y};
        call_checked(c, "isbrt_scatter_elements", 10, args);
    }
    return 0;
}

/* CumSum-14: the axis input is read at run time unless constant. */
int emit_cumsum(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *at = vtype(c, n->in[1]);
    int dt = xt->dtype;
    if (dt != DT_F32 && dt != DT_F64 && dt != DT_I32 && dt != DT_I64 && dt != DT_U32 &&
        dt != DT_U64)
        return cg_fail(c, "input of type %s", dtype_name(dt));
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    int64_t ax;
    int na;
    LLVMValueRef axis;
    if (value_const_ints(c->g, n->in[1], &ax, 1, &na)) {
        axis = cg_i64(c, ax);
    } else {
        LLVMValueRef ap;
        if (in_ptr(c, n, 1, &ap) < 0) return -1;
        LLVMTypeRef t = at->dtype == DT_I64 ? c->t_i64 : c->t_i32;
        axis = LLVMBuildSExt(c->b, LLVMBuildLoad2(c->b, t, ap, ""), c->t_i64, "");
    }
    LLVMValueRef args[8] = {cg_i32(c, dt),
                            cg_i32(c, xt->rank),
                            dims_array(c, xt),
                            axis,
                            cg_i32(c, attr_int(n, "exclusive", 0) != 0),
                            cg_i32(c, attr_int(n, "reverse", 0) != 0),
                            x,
                            y};
    call_checked(c, "isbrt_cumsum", 8, args); /* axis out of range */
    return 0;
}
