/* kernels.c — nodes lowered to calls into libisbrt (runtime/isbrt.h): Conv-11 (with the
 * _act/_residual epilogue of passes/fuse_conv.c), Gemm-13, MatMul-13, MaxPool-12,
 * AveragePool-11, GlobalAveragePool-1, GlobalMaxPool-1, Softmax-13/LogSoftmax-13 (and the
 * 2-D coercion of opsets < 13), ReduceMean/Sum/Max/Min-18 (axes as attribute or constant
 * input), Transpose-13, Concat-13, Split-18, Slice-13, Gather-13, Pad-18, Expand-13.
 * Parameter structs are filled here as the C structs of isbrt.h and emitted as constant
 * globals (their bytes, so the layout is the C compiler's); a field that depends on the
 * run-time batch is patched into a stack copy. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../runtime/isbrt.h"
#include "cg.h"

#define PARAM(c, s) cg_param((c), &(s), sizeof(s), 0, NULL, NULL)

static const Type *vtype(Cg *c, int v) {
    return &gval(c->g, v)->type;
}

/* Inputs [0, count) (all if count < 0) must be f32. */
static int need_f32(Cg *c, const Node *n, int count) {
    for (int i = 0; i < n->nin && (count < 0 || i < count); i++)
        if (n->in[i] >= 0 && vtype(c, n->in[i])->dtype != DT_F32)
            return cg_fail(c, "input %d is %s, only f32 is supported", i,
                           dtype_name(vtype(c, n->in[i])->dtype));
    return 0;
}

/* Address of input i, failing if it has none. */
static int in_ptr(Cg *c, const Node *n, int i, LLVMValueRef *p) {
    *p = i < n->nin && n->in[i] >= 0 ? cg_ptr(c, n->in[i]) : NULL;
    if (!*p) return cg_fail(c, "input %d has no storage", i);
    return 0;
}

static LLVMValueRef opt_ptr(Cg *c, const Node *n, int i) {
    LLVMValueRef p = i < n->nin && n->in[i] >= 0 ? cg_ptr(c, n->in[i]) : NULL;
    return p ? p : LLVMConstPointerNull(c->t_ptr);
}

/* Call `name(args)` with every argument typed from its LLVM value. */
static LLVMValueRef call(Cg *c, const char *name, LLVMTypeRef ret, int nargs, LLVMValueRef *args) {
    LLVMTypeRef t[16];
    for (int i = 0; i < nargs; i++) t[i] = LLVMTypeOf(args[i]);
    return cg_call(c, name, ret, nargs, t, args);
}

/* Call a kernel that returns int32 0, or nonzero on bad input data (an index, axis or target
 * out of range): then the run returns EBADARG. */
static void call_checked(Cg *c, const char *name, int nargs, LLVMValueRef *args) {
    LLVMValueRef rc = call(c, name, c->t_i32, nargs, args);
    cg_bail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, rc, cg_i32(c, 0), ""));
}

static int ints_or(const Node *n, const char *name, int count, int64_t dflt, int64_t *out) {
    const int64_t *v;
    int k = attr_ints(n, name, &v);
    for (int i = 0; i < count; i++) out[i] = dflt;
    if (k < 0) return 0;
    if (k != count) return -1;
    for (int i = 0; i < count; i++) out[i] = v[i];
    return 0;
}

/* A scalar (rank 0) takes axis 0, as a rank-1 tensor would. */
static int norm_axis(Cg *c, int64_t axis, int rank, int64_t *out) {
    int a = axis_index(axis, rank ? rank : 1);
    *out = a < 0 ? 0 : a;
    if (a < 0) return cg_fail(c, "axis %" PRId64 " out of range", axis);
    return 0;
}

/* ---- epilogue, windows ------------------------------------------------------------------- */

static int parse_act(Cg *c, const Node *n, isbrt_actp *a) {
    static const struct {
        const char *name;
        int kind;
    } acts[] = {
        {"relu", ISBRT_ACT_RELU},           {"clip", ISBRT_ACT_CLIP},
        {"sigmoid", ISBRT_ACT_SIGMOID},     {"hardsigmoid", ISBRT_ACT_HARDSIGMOID},
        {"hardswish", ISBRT_ACT_HARDSWISH}, {"leakyrelu", ISBRT_ACT_LEAKYRELU},
        {"silu", ISBRT_ACT_SILU},           {"tanh", ISBRT_ACT_TANH},
    };
    memset(a, 0, sizeof *a);
    const char *s = attr_string(n, "_act", NULL);
    if (!s || !*s || strcasecmp(s, "none") == 0) return 0;
    a->a = attr_float(n, "_act_a", 0);
    a->b = attr_float(n, "_act_b", 0);
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++)
        if (strcasecmp(s, acts[i].name) == 0) {
            a->kind = acts[i].kind;
            return 0;
        }
    return cg_fail(c, "unknown fused activation '%s'", s);
}

/* Spatial window of a 1-D or 2-D Conv/Pool (ONNX Conv-11, MaxPool-12, AveragePool-11):
 * x [n, c, (h,) w], y [n, c', (oh,) ow]. kernel gives (kh, kw). Fills h..dil of out[]. */
typedef struct Win {
    int64_t h, w, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
} Win;

static int window(Cg *c, const Node *n, const Type *xt, const Type *yt, const int64_t *kernel,
                  Win *o) {
    int sp = xt->rank - 2;
    if (sp < 1 || sp > 2 || yt->rank != xt->rank)
        return cg_fail(c, "%d-D windows are not supported (1-D and 2-D are)", sp);
    int64_t st[2], dl[2], pd[4];
    if (ints_or(n, "strides", sp, 1, st) < 0 || ints_or(n, "dilations", sp, 1, dl) < 0 ||
        ints_or(n, "pads", 2 * sp, 0, pd) < 0)
        return cg_fail(c, "strides/dilations/pads do not match the %d spatial dims", sp);
    int64_t in[2], out[2];
    for (int i = 0; i < sp; i++) {
        in[i] = xt->dims[2 + i];
        out[i] = yt->dims[2 + i];
    }
    const char *ap = attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
        for (int i = 0; i < sp; i++) {
            int64_t total = (out[i] - 1) * st[i] + (kernel[i] - 1) * dl[i] + 1 - in[i];
            if (total < 0) total = 0;
            int64_t small = total / 2, big = total - small;
            pd[i] = ap[5] == 'U' ? small : big;
            pd[sp + i] = ap[5] == 'U' ? big : small;
        }
    } else if (strcmp(ap, "VALID") == 0) {
        for (int i = 0; i < 2 * sp; i++) pd[i] = 0;
    } else if (strcmp(ap, "NOTSET") != 0) {
        return cg_fail(c, "auto_pad '%s'", ap);
    }
    memset(o, 0, sizeof *o);
    if (sp == 1) {
        *o = (Win){1, in[0], 1, out[0], 1, kernel[0], 1, st[0], 0, pd[0], 0, pd[1], 1, dl[0]};
    } else {
        *o = (Win){in[0], in[1], out[0], out[1], kernel[0], kernel[1], st[0],
                   st[1], pd[0], pd[1],  pd[2],  pd[3],     dl[0],     dl[1]};
    }
    return 0;
}

/* ---- Conv, Gemm, MatMul ------------------------------------------------------------------ */

/* The call fn(param, n, x, w, bias, residual, y, scratch) of a Conv (isbrt_conv2d,
 * isbrt_convnd_f32), or fn_team(team, param, ...) when not NULL, its scratch sized by
 * scratch_fn(param). w is input 1, or `packed` (the pre-packed weights) when not NULL. */
static int conv_call(Cg *c, const Node *n, LLVMValueRef param, const char *scratch_fn,
                     const char *fn, const char *fn_team, LLVMValueRef packed) {
    LLVMValueRef x, wp = packed, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || (!packed && in_ptr(c, n, 1, &wp) < 0)) return -1;
    bool res = attr_int(n, "_residual", 0) != 0;
    if (res && (n->nin < 4 || n->in[3] < 0)) return cg_fail(c, "_residual without input 3");
    cg_add_scratch(c, scratch_fn, param);
    LLVMValueRef args[9] = {c->team ? c->team : LLVMConstPointerNull(c->t_ptr),
                            param,
                            cg_sym(c, sym_dim(vtype(c, n->in[0]), 0)),
                            x,
                            wp,
                            opt_ptr(c, n, 2),
                            res ? opt_ptr(c, n, 3) : LLVMConstPointerNull(c->t_ptr),
                            y,
                            c->ws};
    /* fn_team takes the run's thread team first (isbrt_conv2d_team) */
    if (fn_team)
        call(c, fn_team, c->t_void, 9, args);
    else
        call(c, fn, c->t_void, 8, args + 1);
    return 0;
}

static int emit_conv(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *wt = vtype(c, n->in[1]), *yt = vtype(c, n->out[0]);
    if (wt->rank != xt->rank) return cg_fail(c, "weight rank %d", wt->rank);
    int sp = xt->rank - 2;
    int64_t kernel[2] = {wt->dims[2], sp == 2 ? wt->dims[3] : 1};
    Win w;
    if (window(c, n, xt, yt, kernel, &w) < 0) return -1;
    isbrt_conv p;
    memset(&p, 0, sizeof p);
    p.c_in = xt->dims[1];
    p.h = w.h, p.w = w.w, p.c_out = wt->dims[0], p.kh = w.kh, p.kw = w.kw;
    p.oh = w.oh, p.ow = w.ow, p.stride_h = w.sh, p.stride_w = w.sw;
    p.pad_t = w.pt, p.pad_l = w.pl, p.pad_b = w.pb, p.pad_r = w.pr;
    p.dil_h = w.dh, p.dil_w = w.dw;
    p.group = attr_int(n, "group", 1);
    if (p.group < 1 || p.c_in % p.group || p.c_out % p.group || wt->dims[1] * p.group != p.c_in)
        return cg_fail(c, "group %" PRId64 " does not divide the channels", p.group);
    if (parse_act(c, n, &p.act) < 0) return -1;
    /* Constant weights go in the kernel's packed form (Winograd's transformed weights), so
     * the work is done once here instead of on every run; the original global is then
     * unused and dropped by the optimiser. The runtime is called to pack: it owns the form. */
    const Value *wv = gval(c->g, n->in[1]);
    const size_t packed_size = isbrt_conv2d_packed_size(&p);
    LLVMValueRef packed = NULL;
    if (packed_size > 0 && (wv->flags & VAL_CONST) && wv->data && cg_ptr(c, n->out[0])) {
        float *buf = malloc(packed_size);
        if (!buf) return cg_fail(c, "out of memory packing the weights");
        isbrt_conv2d_pack(&p, wv->data, buf);
        char name[300];
        snprintf(name, sizeof name, "wpack.%s", wv->name);
        packed = cg_const_bytes(c, buf, packed_size, 64, name);
        free(buf);
        p.packed = 1;
    }
    return conv_call(c, n, PARAM(c, p), "isbrt_conv2d_scratch", "isbrt_conv2d", "isbrt_conv2d_team",
                     packed);
}

static int emit_gemm(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *at = vtype(c, n->in[0]), *bt = vtype(c, n->in[1]);
    if (at->rank != 2 || bt->rank != 2) return cg_fail(c, "Gemm operands must be 2-D");
    isbrt_gemm p;
    memset(&p, 0, sizeof p);
    p.trans_a = (int32_t)attr_int(n, "transA", 0);
    p.trans_b = (int32_t)attr_int(n, "transB", 0);
    p.alpha = attr_float(n, "alpha", 1.0f);
    p.beta = attr_float(n, "beta", 1.0f);
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

static int emit_matmul(Cg *c, const Node *n) {
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

/* ---- pools, softmax, reductions ---------------------------------------------------------- */

static int emit_pool(Cg *c, const Node *n) {
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

static int emit_global_pool(Cg *c, const Node *n) {
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

static int emit_softmax(Cg *c, const Node *n) {
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

/* Row-major strides (elements) of t. */
static void strides_of(const Type *t, SymInt *s) {
    SymInt st = sym_const(1);
    for (int d = t->rank - 1; d >= 0; d--) {
        s[d] = st;
        st = sym_mul(st, sym_dim(t, d));
    }
}

/* A reduction over axes that are not adjacent (ReduceMean over N, H, W), as a loop nest: the
 * kept dims outside, the reduced dims inside, accumulating in a stack slot. */
typedef struct RedLoops {
    const Node *n;
    const Type *xt;
    int order[IR_MAX_RANK], nkept;
    SymInt xs[IR_MAX_RANK];
    LLVMValueRef x, y, acc, count;
} RedLoops;

static void red_level(Cg *c, RedLoops *rl, int level, LLVMValueRef in, LLVMValueRef out) {
    int op = rl->n->op;
    if (level == rl->nkept) {
        double init = op == OP_ReduceMax ? -INFINITY : op == OP_ReduceMin ? INFINITY : 0;
        LLVMBuildStore(c->b, cg_f32(c, (float)init), rl->acc);
    }
    if (level == rl->xt->rank) {
        LLVMValueRef v = LLVMBuildLoad2(
            c->b, c->t_f32, LLVMBuildInBoundsGEP2(c->b, c->t_f32, rl->x, &in, 1, ""), "");
        LLVMValueRef a = LLVMBuildLoad2(c->b, c->t_f32, rl->acc, "");
        LLVMValueRef args[2] = {a, v};
        a = op == OP_ReduceMax   ? cg_intrinsic(c, "llvm.maxnum", 0, NULL, 2, args)
            : op == OP_ReduceMin ? cg_intrinsic(c, "llvm.minnum", 0, NULL, 2, args)
                                 : LLVMBuildFAdd(c->b, a, v, "");
        LLVMBuildStore(c->b, a, rl->acc);
    } else {
        int d = rl->order[level];
        CgLoop l = cg_loop_begin(c, cg_sym(c, sym_dim(rl->xt, d)), "red");
        LLVMValueRef in2 =
            LLVMBuildNUWAdd(c->b, in, LLVMBuildNUWMul(c->b, l.iv, cg_sym(c, rl->xs[d]), ""), "");
        LLVMValueRef out2 = out;
        if (level < rl->nkept)
            out2 = LLVMBuildNUWAdd(
                c->b, LLVMBuildNUWMul(c->b, out, cg_sym(c, sym_dim(rl->xt, d)), ""), l.iv, "");
        red_level(c, rl, level + 1, in2, out2);
        cg_loop_end(c, &l);
    }
    if (level == rl->nkept) {
        LLVMValueRef a = LLVMBuildLoad2(c->b, c->t_f32, rl->acc, "");
        if (op == OP_ReduceMean)
            a = LLVMBuildFDiv(c->b, a, LLVMBuildSIToFP(c->b, rl->count, c->t_f32, ""), "");
        LLVMBuildStore(c->b, a, LLVMBuildInBoundsGEP2(c->b, c->t_f32, rl->y, &out, 1, ""));
    }
}

static int emit_reduce_loops(Cg *c, const Node *n, const bool *red, LLVMValueRef x,
                             LLVMValueRef y) {
    RedLoops rl = {.n = n, .xt = vtype(c, n->in[0]), .x = x, .y = y};
    int r = rl.xt->rank, k = 0;
    SymInt count = sym_const(1);
    for (int i = 0; i < r; i++)
        if (!red[i]) rl.order[k++] = i;
    rl.nkept = k;
    for (int i = 0; i < r; i++)
        if (red[i]) rl.order[k++] = i, count = sym_mul(count, sym_dim(rl.xt, i));
    strides_of(rl.xt, rl.xs);
    for (int i = 0; i < r; i++)
        if (!rl.xs[i].n && rl.xt->dims[i] == 0) return 0; /* empty */
    rl.acc = cg_alloca(c, 4, 4);
    rl.count = cg_sym(c, count);
    red_level(c, &rl, 0, cg_i64(c, 0), cg_i64(c, 0));
    return 0;
}

static int emit_reduce(Cg *c, const Node *n) {
    if (need_f32(c, n, 1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]);
    int r = xt->rank;
    int64_t axes[IR_MAX_RANK];
    int na = -1;
    if (n->nin > 1 && n->in[1] >= 0) {
        if (!value_const_ints(c->g, n->in[1], axes, IR_MAX_RANK, &na))
            return cg_fail(c, "axes must be a constant");
    } else {
        const int64_t *v;
        na = attr_ints(n, "axes", &v);
        if (na > IR_MAX_RANK) return cg_fail(c, "too many axes");
        for (int i = 0; i < na; i++) axes[i] = v[i];
    }
    bool red[IR_MAX_RANK] = {0};
    if (na <= 0) {
        if (attr_int(n, "noop_with_empty_axes", 0))
            na = 0;
        else
            for (int i = 0; i < r; i++) red[i] = true;
    }
    for (int i = 0; i < na; i++) {
        int64_t a;
        if (norm_axis(c, axes[i], r, &a) < 0) return -1;
        red[a] = true;
    }
    /* the reduced dims (ignoring unit dims) must be consecutive: [outer, len, inner] */
    int first = -1, last = -1;
    for (int i = 0; i < r; i++) {
        if (!red[i] || (xt->dims[i] == 1)) continue;
        if (first < 0) first = i;
        last = i;
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    SymInt outer = sym_prod(xt, 0, r), len = sym_const(1), inner = sym_const(1);
    if (first >= 0) {
        for (int i = first; i <= last; i++)
            if (!red[i] && xt->dims[i] != 1) return emit_reduce_loops(c, n, red, x, y);
        outer = sym_prod(xt, 0, first);
        len = sym_prod(xt, first, last + 1);
        inner = sym_prod(xt, last + 1, r);
    }
    int kind = n->op == OP_ReduceSum    ? ISBRT_RED_SUM
               : n->op == OP_ReduceMean ? ISBRT_RED_MEAN
               : n->op == OP_ReduceMax  ? ISBRT_RED_MAX
                                        : ISBRT_RED_MIN;
    LLVMValueRef args[6] = {
        cg_i32(c, kind), cg_sym(c, outer), cg_sym(c, len), cg_sym(c, inner), x, y};
    call(c, "isbrt_reduce_f32", c->t_void, 6, args);
    return 0;
}

/* ---- data movement ------------------------------------------------------------------------ */

static void copy_strided(Cg *c, int rank, const SymInt *dims, const SymInt *ss, const SymInt *ds,
                         int64_t es, LLVMValueRef src, LLVMValueRef dst) {
    LLVMValueRef args[7] = {cg_i32(c, rank),
                            cg_i64_array(c, rank, dims),
                            cg_i64_array(c, rank, ss),
                            cg_i64_array(c, rank, ds),
                            cg_i64(c, es),
                            src,
                            dst};
    call(c, "isbrt_copy_strided", c->t_void, 7, args);
}

static LLVMValueRef elem_off(Cg *c, LLVMValueRef p, SymInt elems, int64_t es) {
    elems.k *= es;
    if (!elems.n && elems.k == 0) return p;
    return cg_gep(c, p, cg_sym(c, elems));
}

static int emit_transpose(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    int r = xt->rank;
    int64_t perm[IR_MAX_RANK];
    const int64_t *pv;
    int np = attr_ints(n, "perm", &pv);
    for (int i = 0; i < r; i++) perm[i] = np < 0 ? r - 1 - i : pv[i];
    if (np >= 0 && np != r) return cg_fail(c, "perm of length %d for rank %d", np, r);
    SymInt xs[IR_MAX_RANK], ys[IR_MAX_RANK], ss[IR_MAX_RANK], dims[IR_MAX_RANK];
    strides_of(xt, xs);
    strides_of(yt, ys);
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r) return cg_fail(c, "bad perm");
        ss[i] = xs[perm[i]];
        dims[i] = sym_dim(yt, i);
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    copy_strided(c, r, dims, ss, ys, (int64_t)dtype_size(xt->dtype), x, y);
    return 0;
}

/* Concat/Split: every piece is a 2-D copy [rows, cols_i] between a row of the whole
 * (row length `whole`) at column offset col_i. */
static int emit_concat_split(Cg *c, const Node *n) {
    bool concat = n->op == OP_Concat;
    int whole_v = concat ? n->out[0] : n->in[0];
    const Type *wt = vtype(c, whole_v);
    int64_t axis;
    if (norm_axis(c, attr_int(n, "axis", 0), wt->rank, &axis) < 0) return -1;
    int64_t es = (int64_t)dtype_size(wt->dtype);
    LLVMValueRef whole = cg_ptr(c, whole_v);
    if (!whole) {
        if (concat) return 0;
        return cg_fail(c, "input has no storage");
    }
    SymInt rows = sym_prod(wt, 0, (int)axis), wcols = sym_prod(wt, (int)axis, wt->rank);
    int npiece = concat ? n->nin : n->nout;
    SymInt col = sym_const(0);
    for (int i = 0; i < npiece; i++) {
        int pv = concat ? n->in[i] : n->out[i];
        if (pv < 0) continue;
        const Type *pt = vtype(c, pv);
        SymInt cols = sym_prod(pt, (int)axis, pt->rank);
        LLVMValueRef piece = cg_ptr(c, pv);
        bool empty = !cols.n && cols.k == 0;
        if (!empty && concat && !piece) return cg_fail(c, "input %d has no storage", i);
        if (!empty && piece) {
            if (col.n && col.k) return cg_fail(c, "symbolic offset along the batch axis");
            SymInt dims[2] = {rows, cols}, ps[2] = {cols, sym_const(1)},
                   ws[2] = {wcols, sym_const(1)};
            LLVMValueRef at = elem_off(c, whole, col, es);
            if (concat)
                copy_strided(c, 2, dims, ps, ws, es, piece, at);
            else
                copy_strided(c, 2, dims, ws, ps, es, at, piece);
        }
        col = (SymInt){col.k + cols.k, col.n || cols.n};
    }
    return 0;
}

static bool const_list(Cg *c, const Node *n, int i, int64_t *out, int *count) {
    return i < n->nin && n->in[i] >= 0 && value_const_ints(c->g, n->in[i], out, IR_MAX_RANK, count);
}

static int emit_slice(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    int r = xt->rank;
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
    int ns, ne, na = -1, nst = -1;
    if (n->nin >= 3) {
        if (!const_list(c, n, 1, starts, &ns) || !const_list(c, n, 2, ends, &ne))
            return cg_fail(c, "starts/ends must be constants");
        if (n->nin > 3 && n->in[3] >= 0 && !const_list(c, n, 3, axes, &na))
            return cg_fail(c, "axes must be a constant");
        if (n->nin > 4 && n->in[4] >= 0 && !const_list(c, n, 4, steps, &nst))
            return cg_fail(c, "steps must be a constant");
    } else { /* Slice-1 attributes */
        const int64_t *v;
        ns = attr_ints(n, "starts", &v);
        for (int i = 0; i < ns && i < IR_MAX_RANK; i++) starts[i] = v[i];
        ne = attr_ints(n, "ends", &v);
        for (int i = 0; i < ne && i < IR_MAX_RANK; i++) ends[i] = v[i];
        na = attr_ints(n, "axes", &v);
        for (int i = 0; i < na && i < IR_MAX_RANK; i++) axes[i] = v[i];
    }
    if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns) || ns > IR_MAX_RANK)
        return cg_fail(c, "inconsistent starts/ends/axes/steps");
    int64_t st[IR_MAX_RANK], sp[IR_MAX_RANK];
    for (int d = 0; d < r; d++) st[d] = 0, sp[d] = 1;
    for (int i = 0; i < ns; i++) {
        int64_t a;
        if (norm_axis(c, na >= 0 ? axes[i] : i, r, &a) < 0) return -1;
        int64_t step = nst >= 0 ? steps[i] : 1;
        if (step == 0) return cg_fail(c, "step 0");
        if (xt->dims[a] == IR_DIM_N) {
            if (starts[i] != 0 || step != 1 || ends[i] < INT32_MAX)
                return cg_fail(c, "slicing the symbolic batch dim");
            continue;
        }
        int64_t dim = xt->dims[a], s = starts[i];
        if (s < 0) s += dim;
        if (step > 0)
            s = s < 0 ? 0 : s > dim ? dim : s;
        else
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
        st[a] = s;
        sp[a] = step;
    }
    SymInt xs[IR_MAX_RANK], ys[IR_MAX_RANK], ss[IR_MAX_RANK], dims[IR_MAX_RANK];
    strides_of(xt, xs);
    strides_of(yt, ys);
    int64_t base = 0;
    for (int d = 0; d < r; d++) {
        dims[d] = sym_dim(yt, d);
        if (!dims[d].n && dims[d].k == 0) return 0;
        ss[d] = (SymInt){xs[d].k * sp[d], xs[d].n};
        base += st[d] * xs[d].k; /* st[d] != 0 only on static dims, whose stride is static */
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    int64_t es = (int64_t)dtype_size(xt->dtype);
    copy_strided(c, r, dims, ss, ys, es, cg_gep_c(c, x, base * es), y);
    return 0;
}

static int emit_gather(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *it = vtype(c, n->in[1]);
    int64_t axis;
    if (norm_axis(c, attr_int(n, "axis", 0), xt->rank, &axis) < 0) return -1;
    LLVMValueRef x, idx, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &idx) < 0) return -1;
    if (it->dtype != DT_I64) {
        const Value *iv = gval(c->g, n->in[1]);
        int64_t cnt = type_numel(it, 1);
        if (!(iv->flags & VAL_CONST) || !iv->data || type_has_batch(it) || cnt > 1 << 20)
            return cg_fail(c, "indices of type %s (int64 or constant int32 supported)",
                           dtype_name(it->dtype));
        int64_t *tmp = malloc(sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
        int got = 0;
        if (!tmp) abort();
        if (!value_const_ints(c->g, n->in[1], tmp, (int)cnt, &got)) {
            free(tmp);
            return cg_fail(c, "indices of type %s", dtype_name(it->dtype));
        }
        idx = cg_const_bytes(c, tmp, sizeof(int64_t) * (size_t)(cnt ? cnt : 1), 8, "idx");
        free(tmp);
    }
    LLVMValueRef args[8] = {cg_sym(c, sym_prod(xt, 0, (int)axis)),
                            cg_sym(c, sym_dim(xt, (int)axis)),
                            cg_sym(c, sym_prod(xt, (int)axis + 1, xt->rank)),
                            idx,
                            cg_sym(c, sym_prod(it, 0, it->rank)),
                            cg_i64(c, (int64_t)dtype_size(xt->dtype)),
                            x,
                            y};
    call_checked(c, "isbrt_gather", 8, args);
    return 0;
}

static int emit_pad(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]);
    int r = xt->rank;
    int64_t raw[2 * IR_MAX_RANK], pads[2 * IR_MAX_RANK] = {0}, axes[IR_MAX_RANK];
    int np = -1, na = -1;
    if (n->nin > 1 && n->in[1] >= 0) {
        if (!value_const_ints(c->g, n->in[1], raw, 2 * IR_MAX_RANK, &np))
            return cg_fail(c, "pads must be a constant");
    } else {
        const int64_t *v;
        np = attr_ints(n, "pads", &v);
        for (int i = 0; i < np && i < 2 * IR_MAX_RANK; i++) raw[i] = v[i];
    }
    if (n->nin > 3 && n->in[3] >= 0) {
        if (!value_const_ints(c->g, n->in[3], axes, IR_MAX_RANK, &na))
            return cg_fail(c, "axes must be a constant");
    } else {
        na = r;
        for (int i = 0; i < r; i++) axes[i] = i;
    }
    if (np != 2 * na) return cg_fail(c, "%d pads for %d axes", np, na);
    for (int i = 0; i < na; i++) {
        int64_t a;
        if (norm_axis(c, axes[i], r, &a) < 0) return -1;
        pads[a] = raw[i];
        pads[r + a] = raw[na + i];
        if (xt->dims[a] == IR_DIM_N && (pads[a] || pads[r + a]))
            return cg_fail(c, "padding the symbolic batch dim");
    }
    const char *mode = attr_string(n, "mode", "constant");
    int m = strcmp(mode, "constant") == 0  ? 0
            : strcmp(mode, "reflect") == 0 ? 1
            : strcmp(mode, "edge") == 0    ? 2
            : strcmp(mode, "wrap") == 0    ? 3
                                           : -1;
    if (m < 0) return cg_fail(c, "mode '%s'", mode);
    LLVMValueRef value;
    int64_t es = (int64_t)dtype_size(xt->dtype);
    if (n->nin > 2 && n->in[2] >= 0) {
        value = cg_ptr(c, n->in[2]);
        if (!value) return cg_fail(c, "constant_value has no storage");
    } else if (node_attr(n, "value") && xt->dtype == DT_F32) {
        float v = attr_float(n, "value", 0);
        value = cg_const_bytes(c, &v, sizeof v, 4, "padv");
    } else {
        value = LLVMConstPointerNull(c->t_ptr); /* zero */
    }
    SymInt dims[IR_MAX_RANK];
    for (int d = 0; d < r; d++) dims[d] = sym_dim(xt, d);
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    SymInt ps[2 * IR_MAX_RANK];
    for (int i = 0; i < 2 * r; i++) ps[i] = sym_const(pads[i]);
    LLVMValueRef args[8] = {cg_i32(c, r),
                            cg_i64_array(c, r, dims),
                            cg_i64_array(c, 2 * r, ps),
                            cg_i32(c, m),
                            cg_i64(c, es),
                            value,
                            x,
                            y};
    call(c, "isbrt_pad", c->t_void, 8, args);
    return 0;
}

/* GateMask (passes/fuse_selection.c): the per-instance active mask of a gate. */
static int emit_gate_mask(Cg *c, const Node *n) {
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

static int emit_expand(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    int R = yt->rank, r = xt->rank;
    if (r > R) return cg_fail(c, "input rank %d above output rank %d", r, R);
    SymInt dims[IR_MAX_RANK], ss[IR_MAX_RANK], ys[IR_MAX_RANK];
    strides_of(yt, ys);
    int64_t st = 1;
    for (int d = R - 1; d >= 0; d--) {
        int j = d - (R - r);
        dims[d] = sym_dim(yt, d);
        if (!dims[d].n && dims[d].k == 0) return 0;
        if (j < 0 || (xt->dims[j] == 1 && yt->dims[d] != 1)) {
            ss[d] = sym_const(0);
            continue;
        }
        ss[d] = sym_const(st);
        if (xt->dims[j] != IR_DIM_N) st *= xt->dims[j];
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    copy_strided(c, R, dims, ss, ys, (int64_t)dtype_size(xt->dtype), x, y);
    return 0;
}

/* ---- element indexing, running sums, normalizations, losses (runtime/index.c, norm.c) ---- */

/* The runtime's enum isbrt_dtype numbers dtypes as the IR does (ONNX TensorProto codes). */
_Static_assert((int)ISBRT_DT_F32 == DT_F32 && (int)ISBRT_DT_U8 == DT_U8 &&
                   (int)ISBRT_DT_I8 == DT_I8 && (int)ISBRT_DT_I32 == DT_I32 &&
                   (int)ISBRT_DT_I64 == DT_I64 && (int)ISBRT_DT_F64 == DT_F64 &&
                   (int)ISBRT_DT_U32 == DT_U32 && (int)ISBRT_DT_U64 == DT_U64,
               "isbrt_dtype and the IR dtypes differ");

/* ScatterElements-16 / ScatterND-16 attribute reduction (enum isbrt_scatter_red). */
static int scatter_red(const char *rs) {
    return !strcmp(rs, "add")   ? ISBRT_SCATTER_ADD
           : !strcmp(rs, "mul") ? ISBRT_SCATTER_MUL
           : !strcmp(rs, "max") ? ISBRT_SCATTER_MAX
           : !strcmp(rs, "min") ? ISBRT_SCATTER_MIN
                                : ISBRT_SCATTER_NONE;
}

/* Dtypes the scatter reductions take (isbrt_scatter_elements). */
static bool scatter_dtype_ok(int dt) {
    return dt == DT_F32 || dt == DT_F64 || dt == DT_I32 || dt == DT_I64 || dt == DT_U32 ||
           dt == DT_U64 || dt == DT_U8 || dt == DT_I8;
}

static LLVMValueRef dims_array(Cg *c, const Type *t) {
    SymInt d[IR_MAX_RANK];
    for (int i = 0; i < t->rank; i++) d[i] = sym_dim(t, i);
    return cg_i64_array(c, t->rank ? t->rank : 1, t->rank ? d : (SymInt[]){sym_const(1)});
}

/* GatherElements-13, ScatterElements-16 (reduction none/add/mul, max/min from 18),
 * Scatter-9/11 (ScatterElements without reduction). */
static int emit_index_elements(Cg *c, const Node *n) {
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
static int emit_cumsum(Cg *c, const Node *n) {
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

/* Strides of t (broadcast unidirectionally, right-aligned) over the dims of x: 0 where t has
 * no dim or a dim of 1. */
static void bcast_strides(const Type *t, const Type *xt, int64_t *s) {
    int64_t st = 1;
    for (int d = xt->rank - 1; d >= 0; d--) {
        int j = d - (xt->rank - t->rank);
        s[d] = j < 0 || t->dims[j] == 1 ? 0 : st;
        if (j >= 0) st *= t->dims[j];
    }
}

static LLVMValueRef opt_out(Cg *c, const Node *n, int k) {
    LLVMValueRef p = k < n->nout && n->out[k] >= 0 ? cg_ptr(c, n->out[k]) : NULL;
    return p ? p : LLVMConstPointerNull(c->t_ptr);
}

/* LayerNormalization-17, InstanceNormalization-6, MeanVarianceNormalization-13 as one
 * normalization over a set of axes (isbrt_normalize_f32). */
static int emit_normalize(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]);
    int r = xt->rank;
    isbrt_norm p;
    memset(&p, 0, sizeof p);
    p.rank = r;
    for (int d = 0; d < r; d++) p.dims[d] = xt->dims[d] == IR_DIM_N ? 1 : xt->dims[d];
    if (n->op == OP_LayerNormalization) {
        int64_t first;
        if (norm_axis(c, attr_int(n, "axis", -1), r, &first) < 0) return -1;
        for (int d = (int)first; d < r; d++) p.red_mask |= 1 << d;
        p.epsilon = attr_float(n, "epsilon", 1e-5f);
        bcast_strides(vtype(c, n->in[1]), xt, p.scale_strides);
        if (n->nin > 2 && n->in[2] >= 0) bcast_strides(vtype(c, n->in[2]), xt, p.bias_strides);
    } else if (n->op == OP_InstanceNormalization) {
        for (int d = 2; d < r; d++) p.red_mask |= 1 << d;
        p.epsilon = attr_float(n, "epsilon", 1e-5f);
        p.scale_strides[1] = p.bias_strides[1] = 1;
    } else { /* MVN-13: (x - mean) / (sqrt(var) + 1e-9), its function body's epsilon */
        const int64_t *axes;
        static const int64_t dflt[3] = {0, 2, 3};
        int na = attr_ints(n, "axes", &axes);
        if (na < 0) axes = dflt, na = 3;
        for (int i = 0; i < na; i++) {
            int64_t a;
            if (norm_axis(c, axes[i], r, &a) < 0) return -1;
            p.red_mask |= 1 << a;
        }
        p.epsilon = 1e-9f;
        p.eps_outside = 1;
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef scale =
        n->op == OP_MeanVarianceNormalization ? LLVMConstPointerNull(c->t_ptr) : opt_ptr(c, n, 1);
    LLVMValueRef bias =
        n->op == OP_MeanVarianceNormalization ? LLVMConstPointerNull(c->t_ptr) : opt_ptr(c, n, 2);
    size_t off = offsetof(isbrt_norm, dims);
    SymInt nb = sym_dim(xt, 0);
    LLVMValueRef args[7] = {
        cg_param(c, &p, sizeof p, r && nb.n ? 1 : 0, &off, &nb),
        x,
        scale,
        bias,
        y,
        n->op == OP_LayerNormalization ? opt_out(c, n, 1) : LLVMConstPointerNull(c->t_ptr),
        n->op == OP_LayerNormalization ? opt_out(c, n, 2) : LLVMConstPointerNull(c->t_ptr)};
    call(c, "isbrt_normalize_f32", c->t_void, 7, args);
    return 0;
}

/* LpNormalization-1 along axis (default -1), p 1 or 2. */
static int emit_lpnorm(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]);
    int64_t axis;
    if (norm_axis(c, attr_int(n, "axis", -1), xt->rank, &axis) < 0) return -1;
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef args[6] = {cg_sym(c, sym_prod(xt, 0, (int)axis)),
                            cg_sym(c, sym_dim(xt, (int)axis)),
                            cg_sym(c, sym_prod(xt, (int)axis + 1, xt->rank)),
                            cg_i32(c, attr_int(n, "p", 2)),
                            x,
                            y};
    call(c, "isbrt_lp_normalize_f32", c->t_void, 6, args);
    return 0;
}

/* NegativeLogLikelihoodLoss-13 and SoftmaxCrossEntropyLoss-13 (with its log_prob output). */
static int emit_loss(Cg *c, const Node *n) {
    if (need_f32(c, n, 1) < 0) return -1;
    if (n->nin > 2 && n->in[2] >= 0 && vtype(c, n->in[2])->dtype != DT_F32)
        return cg_fail(c, "weight of type %s, only f32 is supported",
                       dtype_name(vtype(c, n->in[2])->dtype));
    const Type *xt = vtype(c, n->in[0]), *tt = vtype(c, n->in[1]);
    if (tt->dtype != DT_I64)
        return cg_fail(c, "target of type %s (int64 supported)", dtype_name(tt->dtype));
    bool sce = n->op == OP_SoftmaxCrossEntropyLoss;
    LLVMValueRef y = opt_out(c, n, 0), lp = sce ? opt_out(c, n, 1) : LLVMConstPointerNull(c->t_ptr);
    if (LLVMIsNull(y) && LLVMIsNull(lp)) return 0;
    LLVMValueRef x, t;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &t) < 0) return -1;
    const char *rs = attr_string(n, "reduction", "mean");
    int red = !strcmp(rs, "none")  ? ISBRT_LOSS_NONE
              : !strcmp(rs, "sum") ? ISBRT_LOSS_SUM
                                   : ISBRT_LOSS_MEAN;
    LLVMValueRef args[12] = {cg_sym(c, sym_dim(xt, 0)),
                             cg_sym(c, sym_dim(xt, 1)),
                             cg_sym(c, sym_prod(xt, 2, xt->rank)),
                             x,
                             t,
                             opt_ptr(c, n, 2),
                             cg_i32(c, node_attr(n, "ignore_index") != NULL),
                             cg_i64(c, attr_int(n, "ignore_index", 0)),
                             cg_i32(c, red),
                             cg_i32(c, sce),
                             y,
                             lp};
    call_checked(c, "isbrt_nll_loss_f32", 12, args); /* target out of range */
    return 0;
}

/* ---- spatial ops: Resize-13, ConvTranspose-11, Conv/MaxPool/AveragePool of any spatial
 * rank and MaxPool's Indices, DepthToSpace-13, SpaceToDepth-13, LRN-13, MaxUnpool-11,
 * GridSample-16 ------------------------------------------------------------------------------
 */

/* Index of s in names[0..count), or -1. */
static int name_index(const char *s, const char *const *names, int count) {
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static int emit_resize(Cg *c, const Node *n) {
    if (need_f32(c, n, 1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {"half_pixel",           "pytorch_half_pixel",
                                         "align_corners",        "asymmetric",
                                         "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil"};
    isbrt_resize p;
    memset(&p, 0, sizeof p);
    const char *m = attr_string(n, "mode", "nearest"),
               *ct = attr_string(n, "coordinate_transformation_mode", "half_pixel"),
               *nm = attr_string(n, "nearest_mode", "round_prefer_floor");
    if ((p.mode = name_index(m, modes, 3)) < 0) return cg_fail(c, "mode '%s'", m);
    if ((p.coord = name_index(ct, coords, 6)) < 0)
        return cg_fail(c, "coordinate_transformation_mode '%s'", ct);
    if ((p.nearest = name_index(nm, nearest, 4)) < 0) return cg_fail(c, "nearest_mode '%s'", nm);
    p.exclude_outside = (int32_t)attr_int(n, "exclude_outside", 0);
    p.cubic_a = attr_float(n, "cubic_coeff_a", -0.75f);
    p.extrapolation = attr_float(n, "extrapolation_value", 0.0f);
    int r = xt->rank;
    p.rank = r;
    double sc[IR_MAX_RANK], roi[2 * IR_MAX_RANK];
    int64_t sizes[IR_MAX_RANK];
    int nsz = -1, nsc = -1, nroi = -1;
    if (!(n->nin > 3 && n->in[3] >= 0 &&
          value_const_ints(c->g, n->in[3], sizes, IR_MAX_RANK, &nsz) && nsz == r) &&
        !(n->nin > 2 && value_const_floats(c->g, n->in[2], sc, IR_MAX_RANK, &nsc) && nsc == r))
        return cg_fail(c, "scales or sizes must be constants of %d values", r);
    if (p.coord == ISBRT_COORD_TF_CROP_AND_RESIZE &&
        !(n->nin > 1 && value_const_floats(c->g, n->in[1], roi, 2 * IR_MAX_RANK, &nroi) &&
          nroi == 2 * r))
        return cg_fail(c, "tf_crop_and_resize needs a constant roi of %d values", 2 * r);
    SymInt batch = sym_const(1);
    for (int d = 0; d < r; d++) {
        p.in[d] = xt->dims[d], p.out[d] = yt->dims[d];
        p.scale[d] = nsz == r ? (double)p.out[d] / (double)p.in[d] : sc[d];
        p.roi_start[d] = nroi > 0 ? roi[d] : 0, p.roi_end[d] = nroi > 0 ? roi[r + d] : 1;
        if (xt->dims[d] == IR_DIM_N) {
            if (yt->dims[d] != IR_DIM_N) return cg_fail(c, "resizing the symbolic batch dim");
            p.in[d] = p.out[d] = 1, p.scale[d] = 1, batch = sym_dim(xt, d);
        }
        if (p.in[d] == 0 || p.out[d] == 0) return 0;
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef param = PARAM(c, p);
    cg_add_scratch(c, "isbrt_resize_scratch", param);
    LLVMValueRef args[5] = {param, cg_sym(c, batch), x, y, c->ws};
    call(c, "isbrt_resize_f32", c->t_void, 5, args);
    return 0;
}

static int emit_convtranspose(Cg *c, const Node *n) {
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

/* Strides, dilations and pads (auto_pad resolved) of an N-d Conv/Pool window (Conv-11,
 * MaxPool-12, AveragePool-11). */
static int window_nd(Cg *c, const Node *n, const Type *xt, const Type *yt, const int64_t *kernel,
                     int64_t *st, int64_t *dl, int64_t *pd) {
    int sp = xt->rank - 2;
    if (sp < 1 || sp > IR_MAX_RANK - 2 || yt->rank != xt->rank ||
        ints_or(n, "strides", sp, 1, st) < 0 || ints_or(n, "dilations", sp, 1, dl) < 0 ||
        ints_or(n, "pads", 2 * sp, 0, pd) < 0)
        return cg_fail(c, "strides/dilations/pads do not match the %d spatial dims", sp);
    const char *ap = attr_string(n, "auto_pad", "NOTSET");
    bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
    if (!same && strcmp(ap, "VALID") && strcmp(ap, "NOTSET"))
        return cg_fail(c, "auto_pad '%s'", ap);
    for (int i = 0; i < sp; i++) {
        int64_t total =
            (yt->dims[2 + i] - 1) * st[i] + (kernel[i] - 1) * dl[i] + 1 - xt->dims[2 + i];
        if (total < 0) total = 0;
        if (same) {
            pd[i] = ap[5] == 'U' ? total / 2 : total - total / 2;
            pd[sp + i] = total - pd[i];
        } else if (ap[0] == 'V') {
            pd[i] = pd[sp + i] = 0;
        }
    }
    return 0;
}

static int emit_convnd(Cg *c, const Node *n) {
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

/* MaxPool/AveragePool outside the fast 2-D f32 path: other spatial ranks, the Indices
 * output, u8/i8 (MaxPool-12). */
static int emit_poolnd(Cg *c, const Node *n) {
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

/* DepthToSpace-13 (DCR / CRD) and SpaceToDepth-13 as one strided copy in y's order. */
static int emit_depth_space(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    int64_t b = attr_int(n, "blocksize", 1);
    SymInt dims[6], ss[6], ds[6];
    dims[0] = sym_dim(xt, 0);
    if (n->op == OP_DepthToSpace) {
        const char *mode = attr_string(n, "mode", "DCR");
        bool crd = !strcmp(mode, "CRD");
        if (!crd && strcmp(mode, "DCR")) return cg_fail(c, "mode '%s'", mode);
        int64_t C = yt->dims[1], H = xt->dims[2], W = xt->dims[3];
        /* y viewed [N, C, H, b1, W, b2]; x is [N, b1, b2, C, H, W] (DCR) or [N, C, b1, b2, H,
         * W] */
        int64_t dv[6] = {0, C, H, b, W, b};
        int64_t sv[6] = {xt->dims[1] * H * W,
                         crd ? b * b * H * W : H * W,
                         W,
                         crd ? b * H * W : b * C * H * W,
                         1,
                         crd ? H * W : C * H * W};
        for (int i = 1; i < 6; i++) dims[i] = sym_const(dv[i]);
        for (int i = 0; i < 6; i++) ss[i] = sym_const(sv[i]);
    } else {
        int64_t C = xt->dims[1], H = yt->dims[2], W = yt->dims[3], Wx = xt->dims[3];
        /* y viewed [N, b1, b2, C, H', W']; x is [N, C, H', b1, W', b2] */
        int64_t dv[6] = {0, b, b, C, H, W};
        int64_t sv[6] = {C * xt->dims[2] * Wx, Wx, 1, xt->dims[2] * Wx, b * Wx, b};
        for (int i = 1; i < 6; i++) dims[i] = sym_const(dv[i]);
        for (int i = 0; i < 6; i++) ss[i] = sym_const(sv[i]);
    }
    SymInt st = sym_const(1);
    for (int i = 5; i >= 0; i--) ds[i] = st, st = sym_mul(st, dims[i]);
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    copy_strided(c, 6, dims, ss, ds, (int64_t)dtype_size(xt->dtype), x, y);
    return 0;
}

static int emit_lrn(Cg *c, const Node *n) {
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
                            cg_f32(c, attr_float(n, "alpha", 1e-4f)),
                            cg_f32(c, attr_float(n, "beta", 0.75f)),
                            cg_f32(c, attr_float(n, "bias", 1.0f)),
                            x,
                            y};
    call(c, "isbrt_lrn_f32", c->t_void, 9, args);
    return 0;
}

static int emit_maxunpool(Cg *c, const Node *n) {
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

static int emit_gridsample(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    static const char *const modes[] = {"bilinear", "nearest", "bicubic"};
    static const char *const pads[] = {"zeros", "border", "reflection"};
    isbrt_gridsample p;
    memset(&p, 0, sizeof p);
    const char *m = attr_string(n, "mode", "bilinear"),
               *pm = attr_string(n, "padding_mode", "zeros");
    if ((p.mode = name_index(m, modes, 3)) < 0) return cg_fail(c, "mode '%s'", m);
    if ((p.padding = name_index(pm, pads, 3)) < 0) return cg_fail(c, "padding_mode '%s'", pm);
    p.align_corners = (int32_t)attr_int(n, "align_corners", 0);
    p.c = xt->dims[1], p.h = xt->dims[2], p.w = xt->dims[3], p.oh = yt->dims[2], p.ow = yt->dims[3];
    LLVMValueRef x, g, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &g) < 0) return -1;
    LLVMValueRef args[5] = {PARAM(c, p), cg_sym(c, sym_dim(xt, 0)), x, g, y};
    call(c, "isbrt_gridsample_f32", c->t_void, 5, args);
    return 0;
}

static int emit_roialign(Cg *c, const Node *n) {
    if (need_f32(c, n, 2) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]), *bt = vtype(c, n->in[2]);
    if (bt->dtype != DT_I64) return cg_fail(c, "batch_indices must be i64");
    const char *m = attr_string(n, "mode", "avg"),
               *ct = attr_string(n, "coordinate_transformation_mode", "half_pixel");
    isbrt_roialign p;
    memset(&p, 0, sizeof p);
    if (strcmp(m, "avg") && strcmp(m, "max")) return cg_fail(c, "mode '%s'", m);
    if (strcmp(ct, "half_pixel") && strcmp(ct, "output_half_pixel"))
        return cg_fail(c, "coordinate_transformation_mode '%s'", ct);
    p.max = !strcmp(m, "max"), p.half_pixel = !strcmp(ct, "half_pixel");
    p.c = xt->dims[1], p.h = xt->dims[2], p.w = xt->dims[3], p.oh = yt->dims[2], p.ow = yt->dims[3];
    p.nroi = yt->dims[0], p.sampling_ratio = attr_int(n, "sampling_ratio", 0);
    p.spatial_scale = attr_float(n, "spatial_scale", 1.0f);
    LLVMValueRef x, rois, bi, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &rois) < 0 || in_ptr(c, n, 2, &bi) < 0)
        return -1;
    LLVMValueRef args[6] = {PARAM(c, p), cg_sym(c, sym_dim(xt, 0)), x, rois, bi, y};
    /* a batch index out of range (bad input data) makes the run return EBADARG */
    LLVMValueRef rc = call(c, "isbrt_roialign_f32", c->t_i32, 6, args);
    cg_bail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, rc, cg_i32(c, 0), ""));
    return 0;
}

/* ---- selection, indexing, Einsum, Det, recurrent layers (runtime/select.c, rnn.c) -------- */

/* TopK-11 (k from the constant input, or the attribute of TopK-1). */
static int emit_topk(Cg *c, const Node *n) {
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

/* Tile-13 as one strided copy: each repeated dim i becomes two, [repeats_i, dims_i], the
 * first with source stride 0. */
static int emit_tile(Cg *c, const Node *n) {
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    int r = xt->rank, k = 0;
    SymInt xs[IR_MAX_RANK], ys[IR_MAX_RANK], dims[ISBRT_MAX_RANK], ss[ISBRT_MAX_RANK],
        ds[ISBRT_MAX_RANK];
    strides_of(xt, xs);
    strides_of(yt, ys);
    for (int i = 0; i < r; i++) {
        SymInt d = sym_dim(xt, i);
        if (!d.n && d.k == 0) return 0;
        int64_t rep = d.n ? 1 : yt->dims[i] / d.k;
        if (rep == 0) return 0;
        if (k + (rep > 1) + 1 > ISBRT_MAX_RANK) return cg_fail(c, "too many repeated dims");
        if (rep > 1) {
            dims[k] = sym_const(rep), ss[k] = sym_const(0);
            ds[k++] = (SymInt){ys[i].k * d.k, ys[i].n};
        }
        dims[k] = d, ss[k] = xs[i], ds[k++] = ys[i];
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    copy_strided(c, k, dims, ss, ds, (int64_t)dtype_size(xt->dtype), x, y);
    return 0;
}

/* OneHot-11: depth is the output's dim at axis. */
static int emit_onehot(Cg *c, const Node *n) {
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
static int emit_gathernd(Cg *c, const Node *n) {
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
static int emit_scatternd(Cg *c, const Node *n) {
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
static int emit_reverse_sequence(Cg *c, const Node *n) {
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
static int emit_einsum(Cg *c, const Node *n) {
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

static int emit_det(Cg *c, const Node *n) {
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

/* The activation list of RNN-14/GRU-14/LSTM-14 into p->fn; alpha/beta are consumed in order
 * by the functions that take them. */
static int rnn_activations(Cg *c, const Node *n, int per_dir, isbrt_rnn *p) {
    static const struct {
        const char *name;
        int kind, nab;
        float a, b;
    } fns[] = {
        {"Sigmoid", ISBRT_RFN_SIGMOID, 0, 0, 0},
        {"Tanh", ISBRT_RFN_TANH, 0, 0, 0},
        {"Relu", ISBRT_RFN_RELU, 0, 0, 0},
        {"Affine", ISBRT_RFN_AFFINE, 2, 1, 0},
        {"LeakyRelu", ISBRT_RFN_LEAKYRELU, 1, 0.01f, 0},
        {"ThresholdedRelu", ISBRT_RFN_THRESHOLDEDRELU, 1, 1, 0},
        {"ScaledTanh", ISBRT_RFN_SCALEDTANH, 2, 1, 1},
        {"HardSigmoid", ISBRT_RFN_HARDSIGMOID, 2, 0.2f, 0.5f},
        {"Elu", ISBRT_RFN_ELU, 1, 1, 0},
        {"Softsign", ISBRT_RFN_SOFTSIGN, 0, 0, 0},
        {"Softplus", ISBRT_RFN_SOFTPLUS, 0, 0, 0},
    };
    static const char *const dflt[3][3] = {
        {"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
    const char *const *names = dflt[p->kind];
    const Attr *acts = node_attr(n, "activations");
    const Attr *al = node_attr(n, "activation_alpha"), *be = node_attr(n, "activation_beta");
    if (acts && acts->n != per_dir * p->dirs)
        return cg_fail(c, "%d activations for %d directions", acts->n, p->dirs);
    int ia = 0, ib = 0;
    for (int d = 0; d < p->dirs; d++)
        for (int j = 0; j < per_dir; j++) {
            const char *name = acts ? acts->strings[d * per_dir + j] : names[j];
            size_t f = 0;
            while (f < sizeof fns / sizeof *fns && strcasecmp(fns[f].name, name)) f++;
            if (f == sizeof fns / sizeof *fns) return cg_fail(c, "activation '%s'", name);
            isbrt_rnn_fnp *o = &p->fn[d][j];
            o->kind = fns[f].kind, o->a = fns[f].a, o->b = fns[f].b;
            if (fns[f].nab >= 1 && al && ia < al->n) o->a = al->floats[ia++];
            if (fns[f].nab >= 2 && be && ib < be->n) o->b = be->floats[ib++];
        }
    return 0;
}

/* RNN-14, GRU-14, LSTM-14 (shape rule in ir/shape.c). */
static int emit_rnn(Cg *c, const Node *n) {
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

int cg_emit_kernel(Cg *c, const Node *n) {
    switch (n->op) {
    case OP_Conv: return vtype(c, n->in[0])->rank > 4 ? emit_convnd(c, n) : emit_conv(c, n);
    case OP_Gemm: return emit_gemm(c, n);
    case OP_MatMul: return emit_matmul(c, n);
    case OP_MaxPool:
    case OP_AveragePool: {
        bool idx = n->nout > 1 && cg_ptr(c, n->out[1]);
        const Type *xt = vtype(c, n->in[0]);
        return idx || xt->rank > 4 || xt->dtype != DT_F32 ? emit_poolnd(c, n) : emit_pool(c, n);
    }
    case OP_GlobalAveragePool:
    case OP_GlobalMaxPool: return emit_global_pool(c, n);
    case OP_Softmax:
    case OP_LogSoftmax: return emit_softmax(c, n);
    case OP_ReduceMean:
    case OP_ReduceSum:
    case OP_ReduceMax:
    case OP_ReduceMin: return emit_reduce(c, n);
    case OP_Transpose: return emit_transpose(c, n);
    case OP_Concat:
    case OP_Split: return emit_concat_split(c, n);
    case OP_TopK: return emit_topk(c, n);
    case OP_Tile: return emit_tile(c, n);
    case OP_OneHot: return emit_onehot(c, n);
    case OP_GatherND: return emit_gathernd(c, n);
    case OP_ScatterND: return emit_scatternd(c, n);
    case OP_ReverseSequence: return emit_reverse_sequence(c, n);
    case OP_Einsum: return emit_einsum(c, n);
    case OP_Det: return emit_det(c, n);
    case OP_RNN:
    case OP_GRU:
    case OP_LSTM: return emit_rnn(c, n);
    case OP_Slice: return emit_slice(c, n);
    case OP_Gather: return emit_gather(c, n);
    case OP_Pad: return emit_pad(c, n);
    case OP_Expand: return emit_expand(c, n);
    case OP_GateMask: return emit_gate_mask(c, n);
    case OP_GatherElements:
    case OP_ScatterElements:
    case OP_Scatter: return emit_index_elements(c, n);
    case OP_CumSum: return emit_cumsum(c, n);
    case OP_LayerNormalization:
    case OP_InstanceNormalization:
    case OP_MeanVarianceNormalization: return emit_normalize(c, n);
    case OP_LpNormalization: return emit_lpnorm(c, n);
    case OP_NegativeLogLikelihoodLoss:
    case OP_SoftmaxCrossEntropyLoss: return emit_loss(c, n);
    case OP_Resize: return emit_resize(c, n);
    case OP_ConvTranspose: return emit_convtranspose(c, n);
    case OP_DepthToSpace:
    case OP_SpaceToDepth: return emit_depth_space(c, n);
    case OP_LRN: return emit_lrn(c, n);
    case OP_MaxUnpool: return emit_maxunpool(c, n);
    case OP_GridSample: return emit_gridsample(c, n);
    case OP_RoiAlign: return emit_roialign(c, n);
    default: return cg_fail(c, "no code generator for this op");
    }
}
