/* lower_gemm.c — nodes lowered to runtime/gemm.c: Gemm-13 (with the fused activation) and
 * MatMul-13. */
#include "lower.h"

int emit_gemm(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *at = vtype(c, n->in[0]), *bt = vtype(c, n->in[1]);
    if (at->rank != 2 || bt->rank != 2) return cg_fail(c, "Gemm operands must be 2-D");
    isbrt_gemm p;
    memset(&p, 0, sizeof p);
    p.trans_a = (int32_t)attr_int(n, "transA", 0);
    p.trans_b = (int32_t)attr_int(n, "transB", 0);
    p.alpha = attr_num(n, "alpha");
    p.beta = attr_num(n, "beta");
    SymInt m = sym_dim(at, p.trans_a ? 1 : 0), k = sym_dim(at, p.trans_a ? 0 : 1),
           nn = sym_dim(bt, p.trans_b ? 0 : 1);
    if (parse_act(c, n, &p.act) < 0) return -1;
    p.c_kind = ISBRT_BIAS_NONE;
    if (n->nin > 2 && n->in[2] >= 0) {
        const Type *ct = vtype(c, n->in[2]);
        int r = ct->rank;
        int64_t c0 = r >= 2 ? ct->dims[r - 2] : 1, c1 = r >= 1 ? ct->dims[r - 1] : 1;
        bool c0m = r >= 2 && (m.n ? ct->dims[r - 2] == IR_DIM_N : c0 == m.k);
        if (r > 2) return cg_fail(c, "C of rank %d", r);
        if (c0 == 1 && c1 == 1)
            p.c_kind = ISBRT_BIAS_SCALAR;
        else if (c0 == 1 && c1 == nn.k)
            p.c_kind = ISBRT_BIAS_ROW;
        else if (c0m && c1 == 1)
            p.c_kind = ISBRT_BIAS_COL;
        else if (c0m && c1 == nn.k)
            p.c_kind = ISBRT_BIAS_FULL;
        else
            return cg_fail(c, "C does not broadcast to [M, N]");
    }
    p.m = m.k, p.n = nn.k, p.k = k.k;
    size_t offs[3];
    SymInt vals[3];
    int np = 0;
    if (m.n) offs[np] = offsetof(isbrt_gemm, m), vals[np++] = m;
    if (nn.n) offs[np] = offsetof(isbrt_gemm, n), vals[np++] = nn;
    if (k.n) offs[np] = offsetof(isbrt_gemm, k), vals[np++] = k;
    LLVMValueRef a, b, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &a) < 0 || in_ptr(c, n, 1, &b) < 0) return -1;
    LLVMValueRef args[5] = {cg_param(c, &p, sizeof p, np, offs, vals), a, b,
                            p.c_kind ? opt_ptr(c, n, 2) : LLVMConstPointerNull(c->t_ptr), y};
    call(c, "isbrt_gemm_f32", c->t_void, 5, args);
    return 0;
}

int emit_matmul(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *at = vtype(c, n->in[0]), *bt = vtype(c, n->in[1]), *yt = vtype(c, n->out[0]);
    int ra = at->rank, rb = bt->rank;
    if (ra < 1 || rb < 1) return cg_fail(c, "MatMul of a scalar");
    SymInt M = ra >= 2 ? sym_dim(at, ra - 2) : sym_const(1), K = sym_dim(at, ra - 1);
    SymInt N = rb >= 2 ? sym_dim(bt, rb - 1) : sym_const(1);
    int nb = yt->rank - (ra >= 2) - (rb >= 2);
    if (nb < 0 || nb > 6) return cg_fail(c, "%d batch dims (at most 6)", nb);
    isbrt_matmul p;
    memset(&p, 0, sizeof p);
    SymInt batch[6];
    bool a_full = true; /* A has every batch dim of Y, unbroadcast */
    int64_t as[6], bs[6];
    int64_t sa = M.k * K.k, sb = (rb >= 2 ? sym_dim(bt, rb - 2).k : 1) * N.k;
    for (int i = nb - 1; i >= 0; i--) {
        batch[i] = sym_dim(yt, i);
        int ja = i - (nb - (ra - 2)), jb = i - (nb - (rb - 2));
        bool ha = ra >= 2 && ja >= 0 && !(at->dims[ja] == 1 && yt->dims[i] != 1);
        bool hb = rb >= 2 && jb >= 0 && !(bt->dims[jb] == 1 && yt->dims[i] != 1);
        as[i] = ha ? sa : 0;
        bs[i] = hb ? sb : 0;
        if (!ha) a_full = false;
        if (ra >= 2 && ja >= 0) sa *= at->dims[ja] == IR_DIM_N ? 1 : at->dims[ja];
        if (rb >= 2 && jb >= 0) sb *= bt->dims[jb] == IR_DIM_N ? 1 : bt->dims[jb];
    }
    bool b_batched = false;
    for (int i = 0; i < nb; i++)
        if (bs[i]) b_batched = true;
    if (a_full && !b_batched && nb > 0 && ra >= 2) {
        /* [.., M, K] x [K, N]: one GEMM with the batch dims folded into M */
        for (int i = 0; i < nb; i++) M = sym_mul(M, batch[i]);
        nb = 0;
    }
    if (M.n && K.n) return cg_fail(c, "symbolic batch in two dims");
    p.m = M.k, p.n = N.k, p.k = K.k, p.nb = nb;
    size_t offs[8];
    SymInt vals[8];
    int np = 0;
    if (M.n) offs[np] = offsetof(isbrt_matmul, m), vals[np++] = M;
    if (N.n) offs[np] = offsetof(isbrt_matmul, n), vals[np++] = N;
    if (K.n) offs[np] = offsetof(isbrt_matmul, k), vals[np++] = K;
    for (int i = 0; i < nb; i++) {
        p.batch[i] = batch[i].k;
        p.a_strides[i] = as[i];
        p.b_strides[i] = bs[i];
        if (batch[i].n)
            offs[np] = offsetof(isbrt_matmul, batch) + 8 * (size_t)i, vals[np++] = batch[i];
    }
    LLVMValueRef a, b, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &a) < 0 || in_ptr(c, n, 1, &b) < 0) return -1;
    LLVMValueRef args[4] = {cg_param(c, &p, sizeof p, np, offs, vals), a, b, y};
    call(c, "isbrt_matmul_f32", c->t_void, 4, args);
    return 0;
}
