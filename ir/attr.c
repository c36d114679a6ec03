/* attr.c — node attributes (set/get), node labels for messages, constant payload helpers. */
#include "ir.h"

#include <assert.h>

#include <string.h>

Attr *node_attr(const Node *n, const char *name) {
    for (int i = 0; i < n->nattr; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

/* The slot for attribute `name`: the existing one (cleared) or a new one at the end. */
static Attr *attr_slot(Graph *g, Node *n, const char *name, AttrKind kind) {
    Attr *a = node_attr(n, name);
    if (!a) {
        Attr *attrs = graph_alloc(g, sizeof *attrs * (size_t)(n->nattr + 1));
        if (n->nattr) memcpy(attrs, n->attrs, sizeof *attrs * (size_t)n->nattr);
        n->attrs = attrs;
        a = &n->attrs[n->nattr++];
    }
    memset(a, 0, sizeof *a);
    a->name = graph_strdup(g, name);
    a->kind = kind;
    return a;
}

void node_set_int(Graph *g, Node *n, const char *name, int64_t v) {
    attr_slot(g, n, name, ATTR_INT)->i = v;
}

void node_set_float(Graph *g, Node *n, const char *name, float v) {
    attr_slot(g, n, name, ATTR_FLOAT)->f = v;
}

void node_set_string(Graph *g, Node *n, const char *name, const char *s) {
    attr_slot(g, n, name, ATTR_STRING)->s = graph_strdup(g, s);
}

void node_set_ints(Graph *g, Node *n, const char *name, const int64_t *v, int count) {
    Attr *a = attr_slot(g, n, name, ATTR_INTS);
    a->n = count;
    a->ints = arena_memdup(g->arena, v, sizeof *v * (size_t)count);
}

void node_set_floats(Graph *g, Node *n, const char *name, const float *v, int count) {
    Attr *a = attr_slot(g, n, name, ATTR_FLOATS);
    a->n = count;
    a->floats = arena_memdup(g->arena, v, sizeof *v * (size_t)count);
}

void node_set_attr(Graph *g, Node *n, const Attr *src) {
    Attr *a = attr_slot(g, n, src->name, src->kind);
    const char *name = a->name;
    *a = *src;
    a->name = name;
    if (src->s) a->s = graph_strdup(g, src->s);
    if (src->ints) a->ints = arena_memdup(g->arena, src->ints, sizeof(int64_t) * (size_t)src->n);
    if (src->floats)
        a->floats = arena_memdup(g->arena, src->floats, sizeof(float) * (size_t)src->n);
    if (src->strings) {
        a->strings = graph_alloc(g, sizeof(char *) * (size_t)(src->n ? src->n : 1));
        for (int i = 0; i < src->n; i++) a->strings[i] = graph_strdup(g, src->strings[i]);
    }
    if (src->tdata)
        a->tdata = arena_memdup(g->arena, src->tdata, (size_t)type_bytes(&src->ttype, 1));
}

int64_t attr_int(const Node *n, const char *name, int64_t dflt) {
    Attr *a = node_attr(n, name);
    return a && a->kind == ATTR_INT ? a->i : dflt;
}

float attr_float(const Node *n, const char *name, float dflt) {
    Attr *a = node_attr(n, name);
    return a && a->kind == ATTR_FLOAT ? a->f : dflt;
}

double attr_num(const Node *n, const char *name) {
    Attr *a = node_attr(n, name);
    if (a && a->kind == ATTR_FLOAT) return a->f;
    if (a && a->kind == ATTR_INT) return (double)a->i;
    double d = 0;
    bool has = op_attr_default(n->op, name, &d);
    assert(has && "attr_num: the schema gives no default");
    (void)has;
    return d;
}

const char *attr_string(const Node *n, const char *name, const char *dflt) {
    Attr *a = node_attr(n, name);
    return a && a->kind == ATTR_STRING ? a->s : dflt;
}

int attr_ints(const Node *n, const char *name, const int64_t **v) {
    Attr *a = node_attr(n, name);
    if (!a || a->kind != ATTR_INTS) {
        *v = NULL;
        return -1;
    }
    *v = a->ints;
    return a->n;
}

const char *node_label(const Graph *g, int node, char *buf, size_t len) {
    const Node *n = gnode(g, node);
    if (n->name && *n->name)
        snprintf(buf, len, "%s", n->name);
    else
        snprintf(buf, len, "%s#%d", op_info(n->op)->name, node);
    return buf;
}

uint64_t value_hash(const Type *t, const void *data) {
    uint64_t h = 1469598103934665603ull;
    h = (h ^ (uint64_t)t->dtype) * 1099511628211ull;
    for (int i = 0; i < t->rank; i++) h = (h ^ (uint64_t)t->dims[i]) * 1099511628211ull;
    const unsigned char *p = data;
    int64_t nb = type_bytes(t, 1);
    for (int64_t i = 0; i < nb; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* The constant value v when its payload is known, static and holds at most max elements
 * (*n of them); else NULL. */
static const Value *const_payload(const Graph *g, int v, int max, int64_t *n) {
    if (v < 0) return NULL;
    const Value *val = gval(g, v);
    if (!(val->flags & VAL_CONST) || !val->data || !type_known(&val->type) ||
        type_has_batch(&val->type))
        return NULL;
    *n = type_numel(&val->type, 1);
    return *n <= max ? val : NULL;
}

bool value_const_ints(const Graph *g, int v, int64_t *out, int max, int *count) {
    int64_t n;
    const Value *val = const_payload(g, v, max, &n);
    if (!val) return false;
    for (int64_t i = 0; i < n; i++) {
        switch (val->type.dtype) {
        case DT_I64: out[i] = ((const int64_t *)val->data)[i]; break;
        case DT_I32: out[i] = ((const int32_t *)val->data)[i]; break;
        case DT_I16: out[i] = ((const int16_t *)val->data)[i]; break;
        case DT_I8: out[i] = ((const int8_t *)val->data)[i]; break;
        case DT_U8: out[i] = ((const uint8_t *)val->data)[i]; break;
        case DT_BOOL: out[i] = ((const uint8_t *)val->data)[i] != 0; break;
        case DT_U32: out[i] = ((const uint32_t *)val->data)[i]; break;
        case DT_U64: out[i] = (int64_t)((const uint64_t *)val->data)[i]; break;
        default: return false;
        }
    }
    *count = (int)n;
    return true;
}

bool value_const_floats(const Graph *g, int v, double *out, int max, int *count) {
    int64_t n;
    const Value *val = const_payload(g, v, max, &n);
    if (!val) return false;
    for (int64_t i = 0; i < n; i++) {
        switch (val->type.dtype) {
        case DT_F32: out[i] = ((const float *)val->data)[i]; break;
        case DT_F64: out[i] = ((const double *)val->data)[i]; break;
        default: return false;
        }
    }
    *count = (int)n;
    return true;
}

void node_set_input(Graph *g, Node *n, int k, int v) {
    if (k >= n->nin) {
        int *in = graph_alloc(g, sizeof(int) * (size_t)(k + 1));
        memcpy(in, n->in, sizeof(int) * (size_t)n->nin);
        for (int i = n->nin; i < k; i++) in[i] = -1;
        n->in = in;
        n->nin = k + 1;
    }
    n->in[k] = v;
}
