/* lower.c — the helpers codegen/lower_*.c share (lower.h). */
#include "lower.h"

const Type *vtype(Cg *c, int v) {
    return &gval(c->g, v)->type;
}

/* Inputs [0, count) (all if count < 0) must be f32. */
int need_f32(Cg *c, const Node *n, int count) {
    for (int i = 0; i < n->nin && (count < 0 || i < count); i++)
        if (n->in[i] >= 0 && vtype(c, n->in[i])->dtype != DT_F32)
            return cg_fail(c, "input %d is %s, only f32 is supported", i,
                           dtype_name(vtype(c, n->in[i])->dtype));
    return 0;
}

/* Address of input i, failing if it has none. */
int in_ptr(Cg *c, const Node *n, int i, LLVMValueRef *p) {
    *p = i < n->nin && n->in[i] >= 0 ? cg_ptr(c, n->in[i]) : NULL;
    if (!*p) return cg_fail(c, "input %d has no storage", i);
    return 0;
}

LLVMValueRef opt_ptr(Cg *c, const Node *n, int i) {
    LLVMValueRef p = i < n->nin && n->in[i] >= 0 ? cg_ptr(c, n->in[i]) : NULL;
    return p ? p : LLVMConstPointerNull(c->t_ptr);
}

/* Call `name(args)` with every argument typed from its LLVM value. */
LLVMValueRef call(Cg *c, const char *name, LLVMTypeRef ret, int nargs, LLVMValueRef *args) {
    LLVMTypeRef t[16];
    for (int i = 0; i < nargs; i++) t[i] = LLVMTypeOf(args[i]);
    return cg_call(c, name, ret, nargs, t, args);
}

/* Call a kernel that returns int32 0, or nonzero on bad input data (an index, axis or target
 * out of range): then the run returns EBADARG. */
void call_checked(Cg *c, const char *name, int nargs, LLVMValueRef *args) {
    LLVMValueRef rc = call(c, name, c->t_i32, nargs, args);
    cg_bail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, rc, cg_i32(c, 0), ""));
}

int ints_or(const Node *n, const char *name, int count, int64_t dflt, int64_t *out) {
    const int64_t *v;
    int k = attr_ints(n, name, &v);
    for (int i = 0; i < count; i++) out[i] = dflt;
    if (k < 0) return 0;
    if (k != count) return -1;
    for (int i = 0; i < count; i++) out[i] = v[i];
    return 0;
}

/* A scalar (rank 0) takes axis 0, as a rank-1 tensor would. */
int norm_axis(Cg *c, int64_t axis, int rank, int64_t *out) {
    int a = axis_index(axis, rank ? rank : 1);
    *out = a < 0 ? 0 : a;
    if (a < 0) return cg_fail(c, "axis %" PRId64 " out of range", axis);
    return 0;
}

/* The runtime's activations (enum isbrt_act) by name, matched without case: a fused
 * epilogue's _act (ops.def's act column, passes/fuse_conv.c) and RNN-14/GRU-14/LSTM-14's
 * activation names; `nab` of a and b come from an RNN's activation_alpha/beta (defaults a, b). */
enum { ACT_EPILOGUE = 1, ACT_RNN = 2 };

static const struct {
    const char *name;
    int kind, uses, nab;
    float a, b;
} act_names[] = {
    {"relu", ISBRT_ACT_RELU, ACT_EPILOGUE | ACT_RNN, 0, 0, 0},
    {"clip", ISBRT_ACT_CLIP, ACT_EPILOGUE, 0, 0, 0},
    {"sigmoid", ISBRT_ACT_SIGMOID, ACT_EPILOGUE | ACT_RNN, 0, 0, 0},
    {"hardsigmoid", ISBRT_ACT_HARDSIGMOID, ACT_EPILOGUE | ACT_RNN, 2, 0.2f, 0.5f},
    {"hardswish", ISBRT_ACT_HARDSWISH, ACT_EPILOGUE, 0, 0, 0},
    {"leakyrelu", ISBRT_ACT_LEAKYRELU, ACT_EPILOGUE | ACT_RNN, 1, 0.01f, 0},
    {"silu", ISBRT_ACT_SILU, ACT_EPILOGUE, 0, 0, 0},
    {"tanh", ISBRT_ACT_TANH, ACT_EPILOGUE | ACT_RNN, 0, 0, 0},
    {"affine", ISBRT_ACT_AFFINE, ACT_RNN, 2, 1, 0},
    {"thresholdedrelu", ISBRT_ACT_THRESHOLDEDRELU, ACT_RNN, 1, 1, 0},
    {"scaledtanh", ISBRT_ACT_SCALEDTANH, ACT_RNN, 2, 1, 1},
    {"elu", ISBRT_ACT_ELU, ACT_RNN, 1, 1, 0},
    {"softsign", ISBRT_ACT_SOFTSIGN, ACT_RNN, 0, 0, 0},
    {"softplus", ISBRT_ACT_SOFTPLUS, ACT_RNN, 0, 0, 0},
};

/* The index in act_names of `name` for a use, or -1. */
int act_index(const char *name, int use) {
    for (int i = 0; i < (int)(sizeof act_names / sizeof *act_names); i++)
        if ((act_names[i].uses & use) && strcasecmp(name, act_names[i].name) == 0) return i;
    return -1;
}

int parse_act(Cg *c, const Node *n, isbrt_actp *a) {
    memset(a, 0, sizeof *a);
    const char *s = attr_string(n, "_act", NULL);
    if (!s || !*s || strcasecmp(s, "none") == 0) return 0;
    a->a = attr_float(n, "_act_a", 0);
    a->b = attr_float(n, "_act_b", 0);
    int i = act_index(s, ACT_EPILOGUE);
    if (i < 0) return cg_fail(c, "unknown fused activation '%s'", s);
    a->kind = act_names[i].kind;
    return 0;
}

int window(Cg *c, const Node *n, const Type *xt, const Type *yt, const int64_t *kernel, Win *o) {
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

/* The call fn(param, n, x, w, bias, residual, y, scratch) of a Conv (isbrt_conv2d,
 * isbrt_convnd_f32), or fn_team(team, param, ...) when not NULL, its scratch sized by
 * scratch_fn(param). w is input 1, or `packed` (the pre-packed weights) when not NULL. */
int conv_call(Cg *c, const Node *n, LLVMValueRef param, const char *scratch_fn, const char *fn,
              const char *fn_team, LLVMValueRef packed) {
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

/* Row-major strides (elements) of t. */
void strides_of(const Type *t, SymInt *s) {
    SymInt st = sym_const(1);
    for (int d = t->rank - 1; d >= 0; d--) {
        s[d] = st;
        st = sym_mul(st, sym_dim(t, d));
    }
}

void copy_strided(Cg *c, int rank, const SymInt *dims, const SymInt *ss, const SymInt *ds,
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

/* The runtime's enum isbrt_dtype numbers dtypes as the IR does (ONNX TensorProto codes). */
_Static_assert((int)ISBRT_DT_F32 == DT_F32 && (int)ISBRT_DT_U8 == DT_U8 &&
                   (int)ISBRT_DT_I8 == DT_I8 && (int)ISBRT_DT_I32 == DT_I32 &&
                   (int)ISBRT_DT_I64 == DT_I64 && (int)ISBRT_DT_F64 == DT_F64 &&
                   (int)ISBRT_DT_U32 == DT_U32 && (int)ISBRT_DT_U64 == DT_U64,
               "isbrt_dtype and the IR dtypes differ");

/* ScatterElements-16 / ScatterND-16 attribute reduction (enum isbrt_scatter_red). */
int scatter_red(const char *rs) {
    return !strcmp(rs, "add")   ? ISBRT_SCATTER_ADD
           : !strcmp(rs, "mul") ? ISBRT_SCATTER_MUL
           : !strcmp(rs, "max") ? ISBRT_SCATTER_MAX
           : !strcmp(rs, "min") ? ISBRT_SCATTER_MIN
                                : ISBRT_SCATTER_NONE;
}

/* Dtypes the scatter reductions take (isbrt_scatter_elements). */
bool scatter_dtype_ok(int dt) {
    return dt == DT_F32 || dt == DT_F64 || dt == DT_I32 || dt == DT_I64 || dt == DT_U32 ||
           dt == DT_U64 || dt == DT_U8 || dt == DT_I8;
}

LLVMValueRef dims_array(Cg *c, const Type *t) {
    SymInt d[IR_MAX_RANK];
    for (int i = 0; i < t->rank; i++) d[i] = sym_dim(t, i);
    return cg_i64_array(c, t->rank ? t->rank : 1, t->rank ? d : (SymInt[]){sym_const(1)});
}

/* Strides, dilations and pads (auto_pad resolved) of an N-d Conv/Pool window (Conv-11,
 * MaxPool-12, AveragePool-11). */
int window_nd(Cg *c, const Node *n, const Type *xt, const Type *yt, const int64_t *kernel,
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

/* The activation list of RNN-14/GRU-14/LSTM-14 into p->fn; alpha/beta are consumed in order
 * by the functions that take them. */
int rnn_activations(Cg *c, const Node *n, int per_dir, isbrt_rnn *p) {
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
            int f = act_index(name, ACT_RNN);
            if (f < 0) return cg_fail(c, "activation '%s'", name);
            isbrt_actp *o = &p->fn[d][j];
            o->kind = act_names[f].kind, o->a = act_names[f].a, o->b = act_names[f].b;
            if (act_names[f].nab >= 1 && al && ia < al->n) o->a = al->floats[ia++];
            if (act_names[f].nab >= 2 && be && ib < be->n) o->b = be->floats[ib++];
        }
    return 0;
}
