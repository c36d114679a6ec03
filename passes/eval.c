/* eval.c — a small reference evaluator: computes one node on constant inputs at compile time
 * (eval.h states the contract). It covers the OPF_FOLD ops on f32, f64 and the integer and
 * bool dtypes: elementwise ops with numpy broadcasting, Cast, the shape and data-movement
 * ops, reductions, Softmax, MatMul, Gemm, BatchNormalization and the global pools. Floats are
 * computed in double and rounded once to the output dtype; integers in int64 (wrapping).
 * Conv, MaxPool and AveragePool are not folded. Anything unsupported is "not folded" (1),
 * never an error: the node then simply stays in the graph. Semantics follow the ONNX spec of
 * each op in its newest form (attribute forms of Clip/Pad/Slice/Split/Squeeze/Unsqueeze/
 * Reduce* parameters are accepted too). */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAXP = 64 }; /* most values read from a parameter input (axes, pads, ...) */

/* ---- element access ---------------------------------------------------------------------- */

static bool dt_ok(int dt) {
    switch (dt) {
    case DT_F32:
    case DT_F64:
    case DT_I64:
    case DT_I32:
    case DT_I16:
    case DT_I8:
    case DT_U8:
    case DT_U16:
    case DT_U32:
    case DT_U64:
    case DT_BOOL: return true;
    default: return false;
    }
}

static double ldf(int dt, const void *p, int64_t i) {
    switch (dt) {
    case DT_F32: return ((const float *)p)[i];
    case DT_F64: return ((const double *)p)[i];
    case DT_I64: return (double)((const int64_t *)p)[i];
    case DT_I32: return ((const int32_t *)p)[i];
    case DT_I16: return ((const int16_t *)p)[i];
    case DT_I8: return ((const int8_t *)p)[i];
    case DT_U8: return ((const uint8_t *)p)[i];
    case DT_U16: return ((const uint16_t *)p)[i];
    case DT_U32: return ((const uint32_t *)p)[i];
    case DT_U64: return (double)((const uint64_t *)p)[i];
    case DT_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return 0;
    }
}

/* Float to int64: truncation toward zero, saturating, NaN -> 0. */
static int64_t f2i(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

static int64_t ldi(int dt, const void *p, int64_t i) {
    switch (dt) {
    case DT_F32:
    case DT_F64: return f2i(ldf(dt, p, i));
    case DT_I64: return ((const int64_t *)p)[i];
    case DT_U64: return (int64_t)((const uint64_t *)p)[i];
    default: return (int64_t)ldf(dt, p, i);
    }
}

static void sti(int dt, void *p, int64_t i, int64_t v) {
    switch (dt) {
    case DT_F32: ((float *)p)[i] = (float)v; break;
    case DT_F64: ((double *)p)[i] = (double)v; break;
    case DT_I64: ((int64_t *)p)[i] = v; break;
    case DT_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case DT_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case DT_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case DT_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case DT_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case DT_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case DT_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: break;
    }
}

static void stf(int dt, void *p, int64_t i, double v) {
    switch (dt) {
    case DT_F32: ((float *)p)[i] = (float)v; break;
    case DT_F64: ((double *)p)[i] = v; break;
    case DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: sti(dt, p, i, f2i(v)); break;
    }
}

/* ---- index helpers ----------------------------------------------------------------------- */

static void row_strides(const Type *t, int64_t *st) {
    int64_t s = 1;
    for (int j = t->rank - 1; j >= 0; j--) {
        st[j] = s;
        s *= t->dims[j];
    }
}

/* Strides of t broadcast (numpy rules) to out's rank: 0 along broadcast dims. */
static void bcast_strides(const Type *t, const Type *out, int64_t *st) {
    int off = out->rank - t->rank;
    int64_t s = 1;
    for (int j = out->rank - 1; j >= 0; j--) {
        int k = j - off;
        if (k < 0) {
            st[j] = 0;
            continue;
        }
        st[j] = t->dims[k] == 1 ? 0 : s;
        s *= t->dims[k];
    }
}

/* Advance a row-major multi-index over dims; the offsets off[q] follow strides st[q]. */
static void step_index(int rank, const int64_t *dims, int64_t *idx, int nq,
                       int64_t st[][IR_MAX_RANK], int64_t *off) {
    for (int j = rank - 1; j >= 0; j--) {
        for (int q = 0; q < nq; q++) off[q] += st[q][j];
        if (++idx[j] < dims[j]) return;
        for (int q = 0; q < nq; q++) off[q] -= st[q][j] * dims[j];
        idx[j] = 0;
    }
}

static int64_t prod(const int64_t *d, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

/* ---- the node being evaluated ------------------------------------------------------------ */

typedef struct Ev {
    Graph *g;
    Node *n;
    int nin;
    const Type *it[64]; /* input types; NULL if absent */
    const void *ip[64]; /* input payloads */
    const Type *ot[64]; /* output types */
    void *op[64];       /* output buffers */
} Ev;

/* Ints of an optional parameter: input i if present, else attribute `name`; count -1 if
 * neither. false if not readable. */
static bool param(Ev *e, int i, const char *name, int64_t *v, int *count) {
    if (i < e->nin && e->it[i]) return value_const_ints(e->g, e->n->in[i], v, MAXP, count);
    const int64_t *a;
    int k = attr_ints(e->n, name, &a);
    if (k > MAXP) return false;
    for (int j = 0; j < k; j++) v[j] = a[j];
    *count = k;
    return true;
}

/* ---- elementwise ------------------------------------------------------------------------- */

static double unary_f(int op, const Node *n, double x, bool *ok) {
    switch (op) {
    case OP_Relu: return x > 0 ? x : 0;
    case OP_Sigmoid: return 1 / (1 + exp(-x));
    case OP_Tanh: return tanh(x);
    case OP_Exp: return exp(x);
    case OP_Log: return log(x);
    case OP_Sqrt: return sqrt(x);
    case OP_Neg: return -x;
    case OP_Abs: return fabs(x);
    case OP_Reciprocal: return 1 / x;
    case OP_Floor: return floor(x);
    case OP_Ceil: return ceil(x);
    case OP_Erf: return erf(x);
    case OP_LeakyRelu: return x >= 0 ? x : attr_float(n, "alpha", 0.01f) * x;
    case OP_HardSigmoid: {
        double y = attr_float(n, "alpha", 0.2f) * x + attr_float(n, "beta", 0.5f);
        return y < 0 ? 0 : y > 1 ? 1 : y;
    }
    case OP_HardSwish: {
        double y = x / 6 + 0.5;
        return x * (y < 0 ? 0 : y > 1 ? 1 : y);
    }
    case OP_Sin: return sin(x);
    case OP_Cos: return cos(x);
    case OP_Tan: return tan(x);
    case OP_Asin: return asin(x);
    case OP_Acos: return acos(x);
    case OP_Atan: return atan(x);
    case OP_Sinh: return sinh(x);
    case OP_Cosh: return cosh(x);
    case OP_Asinh: return asinh(x);
    case OP_Acosh: return acosh(x);
    case OP_Atanh: return atanh(x);
    case OP_Softplus: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    case OP_Softsign: return x / (1 + fabs(x));
    case OP_Selu: /* Selu-6 defaults */
        return attr_float(n, "gamma", 1.05070102214813232421875f) *
               (x > 0 ? x : attr_float(n, "alpha", 1.67326319217681884765625f) * (exp(x) - 1));
    case OP_Elu: return x >= 0 ? x : attr_float(n, "alpha", 1) * (exp(x) - 1);
    case OP_Celu: {
        double a = attr_float(n, "alpha", 1);
        return (x > 0 ? x : 0) + fmin(0, a * (exp(x / a) - 1));
    }
    case OP_ThresholdedRelu: return x > attr_float(n, "alpha", 1) ? x : 0;
    case OP_Shrink: {
        double l = attr_float(n, "lambd", 0.5f), b = attr_float(n, "bias", 0);
        return x < -l ? x + b : x > l ? x - b : 0;
    }
    case OP_Round: return nearbyint(x); /* Round-11: half to even */
    case OP_Sign: return x > 0 ? 1 : x < 0 ? -1 : x == 0 ? 0 : x;
    case OP_IsNaN: return x != x;
    case OP_IsInf: /* IsInf-10 */
        return (x == INFINITY && attr_int(n, "detect_positive", 1)) ||
               (x == -INFINITY && attr_int(n, "detect_negative", 1));
    case OP_Identity:
    case OP_Dropout: return x;
    default: *ok = false; return 0;
    }
}

static int64_t unary_i(int op, int64_t x, bool *ok) {
    switch (op) {
    case OP_Relu: return x > 0 ? x : 0;
    case OP_Neg: return (int64_t)(0 - (uint64_t)x);
    case OP_Abs: return x < 0 ? (int64_t)(0 - (uint64_t)x) : x;
    case OP_Not: return !x;
    case OP_Sign: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case OP_Identity:
    case OP_Dropout: return x;
    default: *ok = false; return 0;
    }
}

/* Binary ops; comparisons return 0/1. */
static double binary_f(int op, const Node *n, double a, double b, bool *ok) {
    switch (op) {
    case OP_Add: return a + b;
    case OP_Sub: return a - b;
    case OP_Mul: return a * b;
    case OP_Div: return a / b;
    case OP_Pow: return pow(a, b);
    case OP_Max: return a != a || b != b ? NAN : a > b ? a : b;
    case OP_Min: return a != a || b != b ? NAN : a < b ? a : b;
    case OP_Equal: return a == b;
    case OP_Less: return a < b;
    case OP_Greater: return a > b;
    case OP_GreaterOrEqual: return a >= b;
    case OP_LessOrEqual: return a <= b;
    case OP_PRelu: return a < 0 ? a * b : a;
    case OP_Sum:
    case OP_Mean: return a + b; /* Mean divides afterwards */
    case OP_Mod: {              /* Mod-13: fmod=0 takes the divisor's sign */
        double r = fmod(a, b);
        if (!attr_int(n, "fmod", 0) && r != 0 && (r < 0) != (b < 0)) r += b;
        return r;
    }
    default: *ok = false; return 0;
    }
}

static int64_t binary_i(int op, const Node *n, int64_t a, int64_t b, bool *ok) {
    switch (op) {
    case OP_Add: return (int64_t)((uint64_t)a + (uint64_t)b);
    case OP_Sub: return (int64_t)((uint64_t)a - (uint64_t)b);
    case OP_Mul: return (int64_t)((uint64_t)a * (uint64_t)b);
    case OP_Div:
        if (b == 0 || (a == INT64_MIN && b == -1)) {
            *ok = false;
            return 0;
        }
        return a / b; /* truncation, as the ONNX reference casts a / b back to the int type */
    case OP_Pow: {
        if (b < 0) {
            *ok = false;
            return 0;
        }
        uint64_t r = 1, base = (uint64_t)a;
        for (; b; b >>= 1, base *= base)
            if (b & 1) r *= base;
        return (int64_t)r;
    }
    case OP_Max: return a > b ? a : b;
    case OP_Min: return a < b ? a : b;
    case OP_Equal: return a == b;
    case OP_Less: return a < b;
    case OP_Greater: return a > b;
    case OP_GreaterOrEqual: return a >= b;
    case OP_LessOrEqual: return a <= b;
    case OP_And: return a && b;
    case OP_Or: return a || b;
    case OP_Xor: return !a != !b;
    case OP_PRelu: return a < 0 ? (int64_t)((uint64_t)a * (uint64_t)b) : a;
    case OP_Sum:
    case OP_Mean: return (int64_t)((uint64_t)a + (uint64_t)b);
    case OP_Mod: { /* Mod-13 */
        if (b == 0 || (a == INT64_MIN && b == -1)) {
            *ok = false;
            return 0;
        }
        int64_t r = a % b;
        if (!attr_int(n, "fmod", 0) && r != 0 && (r < 0) != (b < 0)) r += b;
        return r;
    }
    case OP_BitShift: { /* BitShift-11: unsigned types only; the store truncates */
        if (b < 0 || b >= 64) return 0;
        bool left = !strcmp(attr_string(n, "direction", ""), "LEFT");
        return (int64_t)(left ? (uint64_t)a << b : (uint64_t)a >> b);
    }
    default: *ok = false; return 0;
    }
}

/* Ops whose result is bool whatever the input type. */
static bool is_cmp(int op) {
    return op == OP_Equal || op == OP_Less || op == OP_Greater || op == OP_GreaterOrEqual ||
           op == OP_LessOrEqual || op == OP_IsNaN || op == OP_IsInf;
}

/* Every elementwise op (OPF_ELEMWISE, Dropout's first output) except the internal one. */
static bool ev_elementwise(Ev *e) {
    const Node *n = e->n;
    const Type *ot = e->ot[0];
    int op = n->op, odt = ot->dtype;
    int src = op == OP_Where ? 1 : 0;
    int sdt = e->it[src]->dtype;
    /* Pow of an integer base to a float exponent: computed in double, truncated. */
    bool fl = dtype_is_float(sdt) || (op == OP_Pow && dtype_is_float(e->it[1]->dtype));
    bool ok = true;
    if (op == OP_Dropout && e->nin > 2 && e->it[2] && ldi(e->it[2]->dtype, e->ip[2], 0))
        return false; /* training_mode: random */
    int nq = 0, qi[64];
    int64_t st[64][IR_MAX_RANK], off[64] = {0}, idx[IR_MAX_RANK] = {0};
    int nin = op == OP_Dropout || op == OP_CastLike ? 1 : e->nin;
    for (int i = 0; i < nin; i++)
        if (e->it[i]) {
            bcast_strides(e->it[i], ot, st[nq]);
            qi[nq++] = i;
        }
    /* Clip-11 bounds default to the attributes of Clip-6 (themselves defaulting to +-inf). */
    double lo = attr_float(n, "min", -INFINITY), hi = attr_float(n, "max", INFINITY);
    int64_t total = type_numel(ot, 1);
    for (int64_t k = 0; k < total; k++, step_index(ot->rank, ot->dims, idx, nq, st, off)) {
        if (op == OP_Cast || op == OP_CastLike) {
            if (fl)
                stf(odt, e->op[0], k, ldf(sdt, e->ip[0], off[0]));
            else
                sti(odt, e->op[0], k, ldi(sdt, e->ip[0], off[0]));
            continue;
        }
        if (fl) {
            double a[64], r;
            for (int q = 0; q < nq; q++) a[q] = ldf(e->it[qi[q]]->dtype, e->ip[qi[q]], off[q]);
            if (op == OP_Where)
                r = a[0] != 0 ? a[1] : a[2];
            else if (op == OP_Clip) {
                double l = e->it[1] && nq > 1 ? a[1] : lo;
                double h = e->it[2] ? a[nq - 1] : hi;
                r = a[0] < l ? l : a[0] > h ? h : a[0];
            } else if (op_info(op)->flags & OPF_UNARY || op == OP_Dropout)
                r = unary_f(op, n, a[0], &ok);
            else {
                r = a[0];
                for (int q = 1; q < nq; q++) r = binary_f(op, n, r, a[q], &ok);
                if (op == OP_Mean) r /= nq;
            }
            if (!ok) return false;
            if (is_cmp(op))
                sti(odt, e->op[0], k, r != 0);
            else
                stf(odt, e->op[0], k, r);
        } else {
            int64_t a[64], r;
            for (int q = 0; q < nq; q++) a[q] = ldi(e->it[qi[q]]->dtype, e->ip[qi[q]], off[q]);
            if (op == OP_Where)
                r = a[0] ? a[1] : a[2];
            else if (op == OP_Clip) {
                int64_t l = e->it[1] ? a[1] : INT64_MIN, h = e->it[2] ? a[nq - 1] : INT64_MAX;
                r = a[0] < l ? l : a[0] > h ? h : a[0];
            } else if (op_info(op)->flags & OPF_UNARY || op == OP_Dropout)
                r = unary_i(op, a[0], &ok);
            else {
                r = a[0];
                for (int q = 1; q < nq; q++) r = binary_i(op, n, r, a[q], &ok);
                if (op == OP_Mean) r /= nq;
            }
            if (!ok) return false;
            sti(odt, e->op[0], k, r);
        }
    }
    if (op == OP_Dropout && e->n->nout > 1) /* inference: the mask is all true */
        memset(e->op[1], 1, (size_t)type_numel(e->ot[1], 1));
    return true;
}

/* ---- data movement ----------------------------------------------------------------------- */

/* out[k] = in[off] with off following strides ist over out's index space (elem size es). */
static void gather_strided(const Type *ot, const int64_t *ist, int64_t base, size_t es,
                           const void *in, void *out) {
    int64_t st[1][IR_MAX_RANK], off = base, idx[IR_MAX_RANK] = {0};
    memcpy(st[0], ist, sizeof st[0]);
    int64_t total = type_numel(ot, 1);
    for (int64_t k = 0; k < total; k++, step_index(ot->rank, ot->dims, idx, 1, st, &off))
        memcpy((char *)out + (size_t)k * es, (const char *)in + (size_t)off * es, es);
}

static bool ev_shape(Ev *e) {
    const Type *x = &gval(e->g, e->n->in[0])->type;
    int64_t first, len;
    slice_bounds(x->rank, attr_int(e->n, "start", 0), attr_int(e->n, "end", INT64_MAX), 1, &first,
                 &len);
    for (int64_t i = 0; i < len; i++) {
        if (x->dims[first + i] < 0) return false;
        ((int64_t *)e->op[0])[i] = x->dims[first + i];
    }
    return true;
}

static bool ev_gather(Ev *e) {
    const Type *x = e->it[0], *it = e->it[1];
    size_t es = dtype_size(x->dtype);
    int ax = axis_index(attr_int(e->n, "axis", 0), x->rank);
    if (ax < 0) return false;
    int64_t outer = prod(x->dims, 0, ax), len = x->dims[ax];
    size_t inner = (size_t)prod(x->dims, ax + 1, x->rank) * es;
    int64_t ni = type_numel(it, 1);
    char *y = e->op[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t k = ldi(it->dtype, e->ip[1], j);
            if (k < 0) k += len;
            if (k < 0 || k >= len) return false;
            memcpy(y, (const char *)e->ip[0] + ((size_t)(o * len + k)) * inner, inner);
            y += inner;
        }
    return true;
}

/* Concat (split = false) or Split (split = true) along axis: one big tensor `whole` and the
 * parts, outer = prod(dims[:axis]). */
static bool ev_concat_split(Ev *e, bool split) {
    const Type *whole = split ? e->it[0] : e->ot[0];
    int np = split ? e->n->nout : e->nin;
    const Type *const *pt = split ? e->ot : e->it;
    size_t es = dtype_size(whole->dtype);
    int ax = axis_index(attr_int(e->n, "axis", 0), whole->rank);
    if (ax < 0) return false;
    int64_t outer = prod(whole->dims, 0, ax);
    size_t inner = (size_t)prod(whole->dims, ax + 1, whole->rank) * es;
    char *w = split ? (char *)e->ip[0] : (char *)e->op[0];
    for (int64_t o = 0; o < outer; o++)
        for (int p = 0; p < np; p++) {
            size_t chunk = (size_t)pt[p]->dims[ax] * inner;
            char *part = (char *)(split ? e->op[p] : (void *)e->ip[p]) + (size_t)o * chunk;
            if (split)
                memcpy(part, w, chunk);
            else
                memcpy(w, part, chunk);
            w += chunk;
        }
    return true;
}

static bool ev_slice(Ev *e) {
    const Type *x = e->it[0];
    int64_t s[MAXP], en[MAXP], ax[MAXP], sp[MAXP];
    int ns, ne, na, np = -1;
    if (!param(e, 1, "starts", s, &ns) || !param(e, 2, "ends", en, &ne) ||
        !param(e, 3, "axes", ax, &na))
        return false;
    if (e->nin > 4 && e->it[4] && !value_const_ints(e->g, e->n->in[4], sp, MAXP, &np)) return false;
    int64_t xs[IR_MAX_RANK], st[IR_MAX_RANK], base = 0;
    row_strides(x, xs);
    memcpy(st, xs, sizeof st);
    for (int i = 0; i < ns; i++) {
        int a = axis_index(na >= 0 ? ax[i] : i, x->rank);
        int64_t step = np >= 0 ? sp[i] : 1, first, len;
        if (a < 0 || step == 0) return false;
        slice_bounds(x->dims[a], s[i], en[i], step, &first, &len);
        base += first * xs[a];
        st[a] = step * xs[a];
    }
    gather_strided(e->ot[0], st, base, dtype_size(x->dtype), e->ip[0], e->op[0]);
    return true;
}

static bool ev_transpose(Ev *e) {
    const Type *x = e->it[0];
    int64_t xs[IR_MAX_RANK], st[IR_MAX_RANK];
    row_strides(x, xs);
    const int64_t *p;
    int np = attr_ints(e->n, "perm", &p);
    for (int i = 0; i < x->rank; i++) st[i] = xs[np >= 0 ? p[i] : x->rank - 1 - i];
    gather_strided(e->ot[0], st, 0, dtype_size(x->dtype), e->ip[0], e->op[0]);
    return true;
}

static bool ev_expand(Ev *e) {
    int64_t st[IR_MAX_RANK];
    bcast_strides(e->it[0], e->ot[0], st);
    gather_strided(e->ot[0], st, 0, dtype_size(e->it[0]->dtype), e->ip[0], e->op[0]);
    return true;
}

static bool ev_constant_of_shape(Ev *e) {
    Attr *v = node_attr(e->n, "value");
    size_t es = dtype_size(e->ot[0]->dtype);
    int64_t total = type_numel(e->ot[0], 1);
    if (!v || !v->tdata) return true; /* zeros: the buffer is zeroed */
    if (v->ttype.dtype != e->ot[0]->dtype) return false;
    for (int64_t k = 0; k < total; k++) memcpy((char *)e->op[0] + (size_t)k * es, v->tdata, es);
    return true;
}

static bool ev_range(Ev *e) {
    const Type *ot = e->ot[0];
    int dt = ot->dtype;
    int64_t len = ot->dims[0];
    for (int64_t k = 0; k < len; k++) {
        if (dtype_is_float(dt))
            stf(dt, e->op[0], k, ldf(dt, e->ip[0], 0) + (double)k * ldf(dt, e->ip[2], 0));
        else
            sti(dt, e->op[0], k,
                (int64_t)((uint64_t)ldi(dt, e->ip[0], 0) +
                          (uint64_t)k * (uint64_t)ldi(dt, e->ip[2], 0)));
    }
    return true;
}

/* Pad-19: constant, reflect, edge or wrap. */
static bool ev_pad(Ev *e) {
    const Type *x = e->it[0], *ot = e->ot[0];
    int64_t pads[MAXP], axes[MAXP], pb[IR_MAX_RANK] = {0};
    int np, na = -1;
    if (!param(e, 1, "pads", pads, &np)) return false;
    if (e->nin > 3 && e->it[3] && !value_const_ints(e->g, e->n->in[3], axes, MAXP, &na))
        return false;
    if (na < 0) {
        na = x->rank;
        for (int i = 0; i < na; i++) axes[i] = i;
    }
    for (int i = 0; i < na; i++) {
        int a = axis_index(axes[i], x->rank);
        if (a < 0) return false;
        pb[a] = pads[i];
    }
    size_t es = dtype_size(x->dtype);
    char value[16] = {0};
    if (e->nin > 2 && e->it[2])
        memcpy(value, e->ip[2], es);
    else
        stf(x->dtype, value, 0, attr_float(e->n, "value", 0));
    const char *mode = attr_string(e->n, "mode", "constant");
    int m = !strcmp(mode, "reflect") ? 1
            : !strcmp(mode, "edge")  ? 2
            : !strcmp(mode, "wrap")  ? 3
                                     : 0;
    int64_t xs[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    row_strides(x, xs);
    int64_t total = type_numel(ot, 1);
    for (int64_t k = 0; k < total; k++) {
        int64_t off = 0;
        bool inside = true;
        for (int j = 0; j < x->rank; j++) {
            int64_t i = idx[j] - pb[j], d = x->dims[j];
            if (i < 0 || i >= d) {
                if (m == 0 || d == 0)
                    inside = false;
                else if (m == 2)
                    i = i < 0 ? 0 : d - 1;
                else if (m == 3)
                    i = (i % d + d) % d;
                else {
                    if (d == 1) i = 0;
                    while (i < 0 || i >= d) i = i < 0 ? -i : 2 * (d - 1) - i;
                }
            }
            off += i * xs[j];
        }
        memcpy((char *)e->op[0] + (size_t)k * es,
               inside ? (const char *)e->ip[0] + (size_t)off * es : value, es);
        for (int j = ot->rank - 1; j >= 0; j--) {
            if (++idx[j] < ot->dims[j]) break;
            idx[j] = 0;
        }
    }
    return true;
}

/* ---- reductions and float compute -------------------------------------------------------- */

static bool ev_reduce(Ev *e) {
    const Type *x = e->it[0], *ot = e->ot[0];
    int64_t axes[MAXP];
    int na;
    if (!param(e, 1, "axes", axes, &na)) return false;
    bool red[IR_MAX_RANK] = {false};
    bool noop = attr_int(e->n, "noop_with_empty_axes", 0) != 0;
    for (int i = 0; i < x->rank; i++) red[i] = na <= 0 && !noop;
    for (int i = 0; i < na; i++) {
        int a = axis_index(axes[i], x->rank);
        if (a < 0) return false;
        red[a] = true;
    }
    /* Output strides over the input index space: 0 along reduced axes. */
    int64_t st[1][IR_MAX_RANK], s = 1, off = 0, idx[IR_MAX_RANK] = {0};
    for (int j = x->rank - 1; j >= 0; j--) {
        st[0][j] = red[j] ? 0 : s;
        if (!red[j]) s *= x->dims[j];
    }
    int64_t nout = type_numel(ot, 1), total = type_numel(x, 1), count = nout ? total / nout : 0;
    int op = e->n->op, dt = x->dtype;
    bool fl = dtype_is_float(dt);
    double *acc = calloc((size_t)nout + 1, sizeof *acc);
    int64_t *iacc = calloc((size_t)nout + 1, sizeof *iacc);
    unsigned char *seen = calloc((size_t)nout + 1, 1);
    bool ok = acc && iacc && seen;
    for (int64_t k = 0; ok && k < total; k++, step_index(x->rank, x->dims, idx, 1, st, &off)) {
        double v = ldf(dt, e->ip[0], k);
        int64_t iv = ldi(dt, e->ip[0], k);
        if (!seen[off]) {
            seen[off] = 1;
            acc[off] = v;
            iacc[off] = iv;
            continue;
        }
        switch (op) {
        case OP_ReduceSum:
        case OP_ReduceMean:
            acc[off] += v;
            iacc[off] = (int64_t)((uint64_t)iacc[off] + (uint64_t)iv);
            break;
        case OP_ReduceMax:
            acc[off] = v > acc[off] || v != v ? v : acc[off];
            iacc[off] = iv > iacc[off] ? iv : iacc[off];
            break;
        default:
            acc[off] = v < acc[off] || v != v ? v : acc[off];
            iacc[off] = iv < iacc[off] ? iv : iacc[off];
            break;
        }
    }
    /* Empty reductions: sums are 0, max/min are not folded. */
    for (int64_t k = 0; ok && k < nout; k++) {
        if (!seen[k] && op != OP_ReduceSum)
            ok = false;
        else if (fl)
            stf(dt, e->op[0], k, op == OP_ReduceMean ? acc[k] / (double)count : acc[k]);
        else
            sti(dt, e->op[0], k, op == OP_ReduceMean ? iacc[k] / count : iacc[k]);
    }
    free(acc);
    free(iacc);
    free(seen);
    return ok;
}

/* Softmax-13 / LogSoftmax-13 over one axis; before opset 13 over the flattened dims[axis:]. */
static bool ev_softmax(Ev *e) {
    const Type *x = e->it[0];
    int old = e->g->opset < 13;
    int ax = axis_index(attr_int(e->n, "axis", old ? 1 : -1), x->rank);
    if (ax < 0) return false;
    int64_t outer = prod(x->dims, 0, ax);
    int64_t len = old ? prod(x->dims, ax, x->rank) : x->dims[ax];
    int64_t inner = old ? 1 : prod(x->dims, ax + 1, x->rank);
    int dt = x->dtype;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t b = o * len * inner + i;
            double mx = -INFINITY, sum = 0;
            for (int64_t k = 0; k < len; k++) mx = fmax(mx, ldf(dt, e->ip[0], b + k * inner));
            for (int64_t k = 0; k < len; k++) sum += exp(ldf(dt, e->ip[0], b + k * inner) - mx);
            for (int64_t k = 0; k < len; k++) {
                double v = ldf(dt, e->ip[0], b + k * inner) - mx;
                stf(dt, e->op[0], b + k * inner,
                    e->n->op == OP_LogSoftmax ? v - log(sum) : exp(v) / sum);
            }
        }
    return true;
}

/* MatMul-13 with numpy batch broadcasting. */
static bool ev_matmul(Ev *e) {
    const Type *a = e->it[0], *b = e->it[1], *ot = e->ot[0];
    int dt = ot->dtype;
    int64_t m = a->rank >= 2 ? a->dims[a->rank - 2] : 1, k = a->dims[a->rank - 1];
    int64_t n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    Type ba = {.rank = a->rank >= 2 ? a->rank - 2 : 0},
         bb = {.rank = b->rank >= 2 ? b->rank - 2 : 0};
    memcpy(ba.dims, a->dims, sizeof(int64_t) * (size_t)ba.rank);
    memcpy(bb.dims, b->dims, sizeof(int64_t) * (size_t)bb.rank);
    Type bo = {.rank = ba.rank > bb.rank ? ba.rank : bb.rank};
    for (int j = 0; j < bo.rank; j++) {
        int ia = j - (bo.rank - ba.rank), ib = j - (bo.rank - bb.rank);
        int64_t da = ia >= 0 ? ba.dims[ia] : 1, db = ib >= 0 ? bb.dims[ib] : 1;
        bo.dims[j] = da == 1 ? db : da;
    }
    int64_t st[2][IR_MAX_RANK], off[2] = {0}, idx[IR_MAX_RANK] = {0};
    bcast_strides(&ba, &bo, st[0]);
    bcast_strides(&bb, &bo, st[1]);
    int64_t nb = type_numel(&bo, 1);
    for (int64_t q = 0; q < nb; q++, step_index(bo.rank, bo.dims, idx, 2, st, off)) {
        int64_t ao = off[0] * m * k, bo_ = off[1] * k * n, yo = q * m * n;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++)
                    s += ldf(a->dtype, e->ip[0], ao + i * k + p) *
                         ldf(b->dtype, e->ip[1], bo_ + p * n + j);
                stf(dt, e->op[0], yo + i * n + j, s);
            }
    }
    return true;
}

/* Gemm-13: alpha op(A) op(B) + beta C. */
static bool ev_gemm(Ev *e) {
    const Type *a = e->it[0], *b = e->it[1], *c = e->nin > 2 ? e->it[2] : NULL, *ot = e->ot[0];
    bool ta = attr_int(e->n, "transA", 0) != 0, tb = attr_int(e->n, "transB", 0) != 0;
    double alpha = attr_float(e->n, "alpha", 1), beta = attr_float(e->n, "beta", 1);
    int64_t m = ot->dims[0], n = ot->dims[1], k = a->dims[ta ? 0 : 1];
    int64_t cst[IR_MAX_RANK] = {0};
    if (c) bcast_strides(c, ot, cst);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += ldf(a->dtype, e->ip[0], ta ? p * m + i : i * k + p) *
                     ldf(b->dtype, e->ip[1], tb ? j * k + p : p * n + j);
            s *= alpha;
            if (c) s += beta * ldf(c->dtype, e->ip[2], i * cst[0] + j * cst[1]);
            stf(ot->dtype, e->op[0], i * n + j, s);
        }
    return true;
}

/* BatchNormalization-15, inference form. */
static bool ev_batchnorm(Ev *e) {
    const Type *x = e->it[0];
    int dt = x->dtype;
    if (e->n->nout > 1 || attr_int(e->n, "training_mode", 0)) return false;
    double eps = attr_float(e->n, "epsilon", 1e-5f);
    int64_t c = x->rank >= 2 ? x->dims[1] : 1, inner = x->rank >= 2 ? prod(x->dims, 2, x->rank) : 1;
    int64_t total = type_numel(x, 1);
    for (int64_t k = 0; k < total; k++) {
        int64_t ch = (k / inner) % c;
        double sc = ldf(dt, e->ip[1], ch), bi = ldf(dt, e->ip[2], ch);
        double mu = ldf(dt, e->ip[3], ch), var = ldf(dt, e->ip[4], ch);
        stf(dt, e->op[0], k, sc * (ldf(dt, e->ip[0], k) - mu) / sqrt(var + eps) + bi);
    }
    return true;
}

static bool ev_global_pool(Ev *e) {
    const Type *x = e->it[0];
    int64_t rows = prod(x->dims, 0, 2), len = prod(x->dims, 2, x->rank);
    bool avg = e->n->op == OP_GlobalAveragePool;
    if (len == 0) return false;
    for (int64_t r = 0; r < rows; r++) {
        double acc = avg ? 0 : -INFINITY;
        for (int64_t k = 0; k < len; k++) {
            double v = ldf(x->dtype, e->ip[0], r * len + k);
            acc = avg ? acc + v : fmax(acc, v);
        }
        stf(x->dtype, e->op[0], r, avg ? acc / (double)len : acc);
    }
    return true;
}

/* ---- entry points ------------------------------------------------------------------------ */

void eval_set_const(Graph *g, int v, void *data) {
    Value *val = gval(g, v);
    val->flags |= VAL_CONST;
    val->data = data;
    val->hash = value_hash(&val->type, data);
    val->def = -1;
}

static bool compute(Ev *e) {
    int op = e->n->op;
    bool fl = true; /* all float dtypes (float compute ops) */
    for (int i = 0; i < e->nin; i++)
        if (e->it[i] && !dtype_is_float(e->it[i]->dtype)) fl = false;
    switch (op) {
    case OP_Shape: return ev_shape(e);
    case OP_Size: *(int64_t *)e->op[0] = type_numel(e->it[0], 1); return true;
    case OP_Identity:
    case OP_Flatten:
    case OP_Reshape:
    case OP_Squeeze:
    case OP_Unsqueeze: memcpy(e->op[0], e->ip[0], (size_t)type_bytes(e->it[0], 1)); return true;
    case OP_Gather: return ev_gather(e);
    case OP_Concat: return ev_concat_split(e, false);
    case OP_Split: return ev_concat_split(e, true);
    case OP_Slice: return ev_slice(e);
    case OP_Transpose: return ev_transpose(e);
    case OP_Expand: return ev_expand(e);
    case OP_ConstantOfShape: return ev_constant_of_shape(e);
    case OP_Range: return ev_range(e);
    case OP_Pad: return ev_pad(e);
    case OP_ReduceMean:
    case OP_ReduceSum:
    case OP_ReduceMax:
    case OP_ReduceMin: return ev_reduce(e);
    case OP_Softmax:
    case OP_LogSoftmax: return fl && ev_softmax(e);
    case OP_MatMul: return fl && ev_matmul(e);
    case OP_Gemm: return fl && ev_gemm(e);
    case OP_BatchNormalization: return fl && ev_batchnorm(e);
    case OP_GlobalAveragePool:
    case OP_GlobalMaxPool: return fl && ev_global_pool(e);
    case OP_Conv:
    case OP_MaxPool:
    case OP_AveragePool:
    case OP_Elementwise: return false;
    default: return (op_info(op)->flags & OPF_ELEMWISE || op == OP_Dropout) && ev_elementwise(e);
    }
}

int eval_node(Graph *g, int node, int64_t max_elems) {
    Ev e = {.g = g, .n = gnode(g, node)};
    Node *n = e.n;
    if (n->dead || !(op_info(n->op)->flags & OPF_FOLD) || n->nin > 64 || n->nout > 64) return 1;
    bool shape_only = n->op == OP_Shape || n->op == OP_Size;
    e.nin = n->nin;
    for (int i = 0; i < n->nin; i++) {
        if (n->in[i] < 0) continue;
        const Value *v = gval(g, n->in[i]);
        e.it[i] = &v->type;
        if (!type_known(&v->type) || !dt_ok(v->type.dtype)) return 1;
        if (shape_only) continue;
        if (!(v->flags & VAL_CONST) || !v->data || type_has_batch(&v->type)) return 1;
        e.ip[i] = v->data;
    }
    if (n->op == OP_Size && type_has_batch(e.it[0])) return 1;
    int64_t total = 0;
    for (int k = 0; k < n->nout; k++) {
        const Type *t = &gval(g, n->out[k])->type;
        if (!type_known(t) || type_has_batch(t) || !dt_ok(t->dtype)) return 1;
        e.ot[k] = t;
        total += type_numel(t, 1);
    }
    if (max_elems >= 0 && total > max_elems) return 1;
    for (int k = 0; k < n->nout; k++) e.op[k] = graph_alloc(g, (size_t)type_bytes(e.ot[k], 1));
    if (!compute(&e)) return 1; /* the arena keeps the buffers until the graph is freed */
    for (int k = 0; k < n->nout; k++) eval_set_const(g, n->out[k], e.op[k]);
    n->dead = true;
    return 0;
}
