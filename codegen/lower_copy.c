/* lower_copy.c — nodes lowered to runtime/copy.c: Transpose-13, Concat-13, Split-18, Slice-13,
 * Gather-13, Pad-18, Expand-13, DepthToSpace/SpaceToDepth-13, Tile-13 (strided copies generated
 * inline, the rest runtime calls). */
#include "lower.h"

static LLVMValueRef elem_off(Cg *c, LLVMValueRef p, SymInt elems, int64_t es) {
    elems.k *= es;
    if (!elems.n && elems.k == 0) return p;
    return cg_gep(c, p, cg_sym(c, elems));
}

int emit_transpose(Cg *c, const Node *n) {
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
int emit_concat_split(Cg *c, const Node *n) {
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

int emit_slice(Cg *c, const Node *n) {
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

int emit_gather(Cg *c, const Node *n) {
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

int emit_pad(Cg *c, const Node *n) {
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

int emit_expand(Cg *c, const Node *n) {
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

/* DepthToSpace-13 (DCR / CRD) and SpaceToDepth-13 as one strided copy in y's order. */
int emit_depth_space(Cg *c, const Node *n) {
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

/* Tile-13 as one strided copy: each repeated dim i becomes two, [repeats_i, dims_i], the
 * first with source stride 0. */
int emit_tile(Cg *c, const Node *n) {
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
