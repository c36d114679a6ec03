/* graph.c — arena, string map, dtypes, types, the op table, and graph construction.
 * Everything a Graph owns lives in its arena; the growable arrays (values, nodes, ...) are
 * re-allocated from the arena when they grow (the old copy is simply abandoned). */
#include "ir.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int diag(Diag *d, const char *fmt, ...) {
    if (d) {
        char raw[sizeof d->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        /* Names from a model may hold control characters: a message is one printable line. */
        str_printable(raw, d->msg, sizeof d->msg);
    }
    return -1;
}

const char *str_printable(const char *s, char *buf, size_t len) {
    size_t k = 0;
    for (; *s && k + 5 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            k += (size_t)snprintf(buf + k, 5, "\\x%02x", c);
        else
            buf[k++] = (char)c;
    }
    if (len) buf[k < len ? k : len - 1] = 0;
    return buf;
}

/* ---- arena ------------------------------------------------------------------------------ */

typedef struct Chunk {
    struct Chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} Chunk;

struct Arena {
    Chunk *head;
};

Arena *arena_new(void) {
    Arena *a = calloc(1, sizeof *a);
    if (!a) abort();
    return a;
}

void arena_free(Arena *a) {
    if (!a) return;
    for (Chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

void *arena_alloc(Arena *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    Chunk *c = a->head;
    if (!c || c->size - c->used < size) {
        size_t cap = size > (1 << 20) ? size : (1 << 20);
        if (size > (1 << 18) && c) {
            /* A large block gets a chunk of its own, behind the current one. */
            Chunk *big = malloc(sizeof *big + size);
            if (!big) abort();
            big->size = big->used = size;
            big->next = c->next;
            c->next = big;
            memset(big->data, 0, size);
            return big->data;
        }
        c = malloc(sizeof *c + cap);
        if (!c) abort();
        c->size = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strdup(Arena *a, const char *s) {
    return arena_memdup(a, s, strlen(s) + 1);
}

void *arena_memdup(Arena *a, const void *p, size_t size) {
    void *q = arena_alloc(a, size ? size : 1);
    if (size) memcpy(q, p, size);
    return q;
}

/* ---- string map ------------------------------------------------------------------------- */

static uint64_t str_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void strmap_init(StrMap *m, Arena *a) {
    memset(m, 0, sizeof *m);
    m->arena = a;
}

static void strmap_grow(StrMap *m) {
    int cap = m->cap ? m->cap * 2 : 64;
    const char **keys = arena_alloc(m->arena, sizeof *keys * cap);
    int *vals = arena_alloc(m->arena, sizeof *vals * cap);
    for (int i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = str_hash(m->keys[i]) & (cap - 1);
        while (keys[j]) j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
}

void strmap_put(StrMap *m, const char *key, int val) {
    if ((m->len + 1) * 2 > m->cap) strmap_grow(m);
    size_t j = str_hash(key) & (m->cap - 1);
    while (m->keys[j] && strcmp(m->keys[j], key) != 0) j = (j + 1) & (m->cap - 1);
    if (!m->keys[j]) m->len++;
    m->keys[j] = key;
    m->vals[j] = val;
}

int strmap_get(const StrMap *m, const char *key) {
    if (!m->cap) return -1;
    size_t j = str_hash(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

/* ---- dtypes and types ------------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t size;
} dtypes[DT_COUNT] = {
    [DT_UNDEF] = {"?", 0},    [DT_F32] = {"f32", 4},   [DT_U8] = {"u8", 1},   [DT_I8] = {"i8", 1},
    [DT_U16] = {"u16", 2},    [DT_I16] = {"i16", 2},   [DT_I32] = {"i32", 4}, [DT_I64] = {"i64", 8},
    [DT_STRING] = {"str", 0}, [DT_BOOL] = {"bool", 1}, [DT_F16] = {"f16", 2}, [DT_F64] = {"f64", 8},
    [DT_U32] = {"u32", 4},    [DT_U64] = {"u64", 8},
};

size_t dtype_size(int dt) {
    return dt > 0 && dt < DT_COUNT ? dtypes[dt].size : 0;
}

const char *dtype_name(int dt) {
    return dt >= 0 && dt < DT_COUNT ? dtypes[dt].name : "?";
}

int dtype_from_name(const char *s) {
    for (int i = 1; i < DT_COUNT; i++)
        if (strcmp(dtypes[i].name, s) == 0) return i;
    return DT_UNDEF;
}

bool dtype_is_float(int dt) {
    return dt == DT_F32 || dt == DT_F64 || dt == DT_F16;
}

Type type_make(int dtype, int rank, const int64_t *dims) {
    Type t = {.dtype = dtype, .rank = rank};
    assert(rank <= IR_MAX_RANK);
    for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
    return t;
}

bool type_known(const Type *t) {
    if (t->rank < 0 || t->dtype == DT_UNDEF) return false;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] < 0 && !(i == 0 && t->dims[i] == IR_DIM_N)) return false;
    return true;
}

bool type_has_batch(const Type *t) {
    return t->rank > 0 && t->dims[0] == IR_DIM_N;
}

bool type_equal(const Type *a, const Type *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

int64_t type_numel(const Type *t, int64_t batch) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        int64_t e = t->dims[i] == IR_DIM_N ? batch : t->dims[i];
        if (e < 0 || __builtin_mul_overflow(n, e, &n) || n > IR_MAX_BYTES) return -1;
    }
    return n;
}

int64_t type_bytes(const Type *t, int64_t batch) {
    int64_t n = type_numel(t, batch);
    if (n < 0 || n > IR_MAX_BYTES / (int64_t)(dtype_size(t->dtype) ? dtype_size(t->dtype) : 1))
        return -1;
    return n * (int64_t)dtype_size(t->dtype);
}

int64_t sat_mul(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

char *type_str(const Type *t, char *buf, size_t len) {
    size_t k = (size_t)snprintf(buf, len, "%s[", dtype_name(t->dtype));
    if (t->rank == IR_RANK_UNKNOWN) {
        k += (size_t)snprintf(buf + (k < len ? k : len), k < len ? len - k : 0, "*");
    }
    for (int i = 0; i < t->rank; i++) {
        const char *sep = i ? "," : "";
        char d[32];
        if (t->dims[i] == IR_DIM_N)
            snprintf(d, sizeof d, "N");
        else if (t->dims[i] < 0)
            snprintf(d, sizeof d, "?");
        else
            snprintf(d, sizeof d, "%lld", (long long)t->dims[i]);
        k += (size_t)snprintf(buf + (k < len ? k : len), k < len ? len - k : 0, "%s%s", sep, d);
    }
    snprintf(buf + (k < len ? k : len), k < len ? len - k : 0, "]");
    return buf;
}

/* ---- op table --------------------------------------------------------------------------- */

static const OpInfo op_table[OP_COUNT] = {
#define OP(id, mi, xi, mo, xo, fl, at) {#id, mi, xi, mo, xo, fl, at},
#include "ops.def"
#undef OP
};

const OpInfo *op_info(int op) {
    assert(op >= 0 && op < OP_COUNT);
    return &op_table[op];
}

int op_from_name(const char *name) {
    for (int i = 0; i < OP_COUNT; i++)
        if (strcmp(op_table[i].name, name) == 0) return i;
    return -1;
}

static const struct {
    const char *name;
    AttrKind kind;
} attr_kinds[] = {
    {"i", ATTR_INT},         {"f", ATTR_FLOAT},       {"s", ATTR_STRING},
    {"ints", ATTR_INTS},     {"floats", ATTR_FLOATS}, {"strings", ATTR_STRINGS},
    {"tensor", ATTR_TENSOR}, {"graph", ATTR_GRAPH},
};

int op_attr_kind(int op, const char *name) {
    const char *s = op_info(op)->attrs;
    size_t nlen = strlen(name);
    while (*s) {
        while (*s == ' ') s++;
        const char *colon = strchr(s, ':');
        if (!colon) break;
        const char *end = colon + strcspn(colon, " ");
        if ((size_t)(colon - s) == nlen && memcmp(s, name, nlen) == 0) {
            for (size_t k = 0; k < sizeof attr_kinds / sizeof *attr_kinds; k++)
                if (strlen(attr_kinds[k].name) == (size_t)(end - colon - 1) &&
                    memcmp(attr_kinds[k].name, colon + 1, (size_t)(end - colon - 1)) == 0)
                    return (int)attr_kinds[k].kind;
            assert(!"bad attribute kind in ops.def");
        }
        s = end;
    }
    return -1;
}

/* ---- graph ------------------------------------------------------------------------------ */

/* Grow an arena-backed array so it holds at least need elements. */
static void *grow(Arena *a, void *arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return arr;
    int ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) ncap *= 2;
    void *n = arena_alloc(a, elem * (size_t)ncap);
    if (*cap) memcpy(n, arr, elem * (size_t)*cap);
    *cap = ncap;
    return n;
}

Graph *graph_new(const char *name) {
    Arena *a = arena_new();
    Graph *g = arena_alloc(a, sizeof *g);
    g->arena = a;
    g->name = arena_strdup(a, name ? name : "main");
    strmap_init(&g->names, a);
    return g;
}

void graph_free(Graph *g) {
    if (g) arena_free(g->arena);
}

void *graph_alloc(Graph *g, size_t size) {
    return arena_alloc(g->arena, size);
}

char *graph_strdup(Graph *g, const char *s) {
    return arena_strdup(g->arena, s);
}

int graph_add_value(Graph *g, const char *name, Type t) {
    char buf[256];
    const char *base = name && *name ? name : "t";
    if (!name || !*name || strmap_get(&g->names, name) >= 0) {
        /* make a unique name: base.K */
        for (int k = g->nval;; k++) {
            snprintf(buf, sizeof buf, "%.200s.%d", base, k);
            if (strmap_get(&g->names, buf) < 0) break;
        }
        name = buf;
    }
    g->vals = grow(g->arena, g->vals, &g->capval, g->nval + 1, sizeof *g->vals);
    int id = g->nval++;
    Value *v = &g->vals[id];
    memset(v, 0, sizeof *v);
    v->name = arena_strdup(g->arena, name);
    v->type = t;
    v->def = -1;
    v->offset = -1;
    strmap_put(&g->names, v->name, id);
    return id;
}

int graph_add_const(Graph *g, const char *name, Type t, const void *data) {
    int id = graph_add_value(g, name, t);
    Value *v = gval(g, id);
    v->flags |= VAL_CONST;
    if (data) {
        v->data = arena_memdup(g->arena, data, (size_t)type_bytes(&t, 1));
        v->hash = value_hash(&t, data);
    }
    return id;
}

int graph_find_value(const Graph *g, const char *name) {
    return strmap_get(&g->names, name);
}

void graph_add_input(Graph *g, int v) {
    g->inputs = grow(g->arena, g->inputs, &g->capinput, g->ninput + 1, sizeof(int));
    g->inputs[g->ninput++] = v;
    g->vals[v].flags |= VAL_INPUT;
}

void graph_add_output(Graph *g, int v) {
    g->outputs = grow(g->arena, g->outputs, &g->capoutput, g->noutput + 1, sizeof(int));
    g->outputs[g->noutput++] = v;
    g->vals[v].flags |= VAL_OUTPUT;
}

void graph_set_meta(Graph *g, const char *key, const char *value) {
    for (int i = 0; i < g->nmeta; i++)
        if (strcmp(g->meta[i].key, key) == 0) {
            g->meta[i].value = arena_strdup(g->arena, value);
            return;
        }
    g->meta = grow(g->arena, g->meta, &g->capmeta, g->nmeta + 1, sizeof *g->meta);
    g->meta[g->nmeta].key = arena_strdup(g->arena, key);
    g->meta[g->nmeta].value = arena_strdup(g->arena, value);
    g->nmeta++;
}

const char *graph_meta(const Graph *g, const char *key) {
    for (int i = 0; i < g->nmeta; i++)
        if (strcmp(g->meta[i].key, key) == 0) return g->meta[i].value;
    return NULL;
}

int graph_add_guard(Graph *g, Guard gd) {
    g->guards = grow(g->arena, g->guards, &g->capguard, g->nguard + 1, sizeof *g->guards);
    gd.name = arena_strdup(g->arena, gd.name ? gd.name : "");
    GuardTerm *t = graph_alloc(g, sizeof *t * (size_t)(gd.nterm > 0 ? gd.nterm : 1));
    if (gd.nterm > 0) memcpy(t, gd.terms, sizeof *t * (size_t)gd.nterm);
    gd.terms = t;
    g->guards[g->nguard] = gd;
    return g->nguard++;
}

void graph_apply_order(Graph *g, const int *order) {
    int n = g->nnode;
    Node *copy = malloc(sizeof *copy * (size_t)(n + 1));
    if (!copy) abort();
    memcpy(copy, g->nodes, sizeof *copy * (size_t)n);
    for (int i = 0; i < n; i++) {
        g->nodes[i] = copy[order[i]];
        for (int j = 0; j < g->nodes[i].nout; j++) gval(g, g->nodes[i].out[j])->def = i;
    }
    free(copy);
}

void graph_pin_guards(const Graph *g, bool *pinned) {
    for (int i = 0; i < g->nguard; i++) {
        for (int t = 0; t < g->guards[i].nterm; t++) pinned[g->guards[i].terms[t].gate] = true;
        if (g->guards[i].value >= 0) pinned[g->guards[i].value] = true;
    }
}

bool op_is_view(int op) {
    return (op_info(op)->flags & OPF_VIEW) || op == OP_Identity || op == OP_Dropout;
}

int value_branch_guard(const Graph *g, int v) {
    int def = v >= 0 ? gval(g, v)->def : -1;
    if (def < 0) return -1;
    for (int q = 0; q < g->nguard; q++)
        if (g->guards[q].value == v && gnode(g, def)->guard == q) return q;
    return -1;
}

static void guard_gate_reads(const Graph *g, int gid, void (*fn)(int v, void *ctx), void *ctx) {
    for (int t = 0; t < g->guards[gid].nterm; t++) fn(g->guards[gid].terms[t].gate, ctx);
}

void node_reads(const Graph *g, int i, void (*fn)(int v, void *ctx), void *ctx) {
    const Node *n = gnode(g, i);
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] >= 0) fn(n->in[k], ctx);
    if (n->guard >= 0) guard_gate_reads(g, n->guard, fn, ctx);
    if (n->op == OP_BranchSum)
        for (int k = 0; k < n->nin; k++) {
            int q = value_branch_guard(g, n->in[k]);
            if (q >= 0) guard_gate_reads(g, q, fn, ctx);
        }
}

int graph_add_node(Graph *g, int op, const char *name, int nin, const int *in, int nout,
                   const int *out) {
    g->nodes = grow(g->arena, g->nodes, &g->capnode, g->nnode + 1, sizeof *g->nodes);
    int id = g->nnode++;
    Node *n = &g->nodes[id];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = arena_strdup(g->arena, name ? name : "");
    n->nin = nin;
    n->nout = nout;
    n->in = arena_memdup(g->arena, in, sizeof(int) * (size_t)nin);
    n->out = arena_memdup(g->arena, out, sizeof(int) * (size_t)nout);
    n->guard = -1;
    for (int i = 0; i < nout; i++) g->vals[out[i]].def = id;
    return id;
}

void graph_replace_uses(Graph *g, int from, int to) {
    for (int i = 0; i < g->nnode; i++) {
        Node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == from) n->in[k] = to;
    }
    for (int i = 0; i < g->noutput; i++)
        if (g->outputs[i] == from) {
            g->outputs[i] = to;
            g->vals[to].flags |= VAL_OUTPUT;
        }
    bool still = false;
    for (int i = 0; i < g->noutput; i++) still |= g->outputs[i] == from;
    if (!still) g->vals[from].flags &= ~(unsigned)VAL_OUTPUT;
    for (int i = 0; i < g->nguard; i++) {
        if (g->guards[i].value == from) g->guards[i].value = to;
        for (int t = 0; t < g->guards[i].nterm; t++)
            if (g->guards[i].terms[t].gate == from) g->guards[i].terms[t].gate = to;
    }
}

int *graph_use_counts(const Graph *g) {
    int *uses = calloc((size_t)g->nval + 1, sizeof *uses);
    if (!uses) abort();
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0) uses[n->in[k]]++;
    }
    for (int i = 0; i < g->noutput; i++) uses[g->outputs[i]]++;
    return uses;
}

int graph_compact(Graph *g, Diag *d) {
    /* Kahn's algorithm over live nodes; among ready nodes the smallest old id goes first, so
     * a graph already in order keeps its order. Consumers are kept in CSR form. */
    int nn = g->nnode, nv = g->nval;
    int *pending = calloc((size_t)nn + 1, sizeof(int));
    int *order = malloc(sizeof(int) * ((size_t)nn + 1));
    int *cstart = calloc((size_t)nv + 2, sizeof(int));
    int nedge = 0;
    for (int i = 0; i < nn; i++) nedge += g->nodes[i].nin;
    int *cons = malloc(sizeof(int) * ((size_t)nedge + 1));
    int *fill = calloc((size_t)nv + 1, sizeof(int));
    /* ready set: a binary min-heap of node ids */
    int *heap = malloc(sizeof(int) * ((size_t)nn + 1));
    if (!pending || !order || !cstart || !cons || !fill || !heap) abort();
    int live = 0, hn = 0;
    for (int i = 0; i < nn; i++) {
        Node *n = &g->nodes[i];
        if (n->dead) continue;
        live++;
        for (int k = 0; k < n->nin; k++) {
            int v = n->in[k];
            if (v < 0) continue;
            int def = g->vals[v].def;
            if (def >= 0 && def < nn && !g->nodes[def].dead) {
                pending[i]++;
                cstart[v + 1]++;
            }
        }
    }
    for (int v = 0; v < nv; v++) cstart[v + 1] += cstart[v];
    for (int i = 0; i < nn; i++) {
        Node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->nin; k++) {
            int v = n->in[k];
            if (v < 0) continue;
            int def = g->vals[v].def;
            if (def >= 0 && def < nn && !g->nodes[def].dead) cons[cstart[v] + fill[v]++] = i;
        }
    }
#define HEAP_PUSH(x)                                                                               \
    do {                                                                                           \
        int c_ = hn++;                                                                             \
        heap[c_] = (x);                                                                            \
        while (c_ > 0 && heap[(c_ - 1) / 2] > heap[c_]) {                                          \
            int p_ = (c_ - 1) / 2, t_ = heap[p_];                                                  \
            heap[p_] = heap[c_];                                                                   \
            heap[c_] = t_;                                                                         \
            c_ = p_;                                                                               \
        }                                                                                          \
    } while (0)
    for (int i = 0; i < nn; i++)
        if (!g->nodes[i].dead && pending[i] == 0) HEAP_PUSH(i);
    int count = 0;
    while (hn > 0) {
        int pick = heap[0];
        heap[0] = heap[--hn];
        for (int c = 0;;) {
            int l = 2 * c + 1, r = l + 1, m = c;
            if (l < hn && heap[l] < heap[m]) m = l;
            if (r < hn && heap[r] < heap[m]) m = r;
            if (m == c) break;
            int t = heap[m];
            heap[m] = heap[c];
            heap[c] = t;
            c = m;
        }
        order[count++] = pick;
        Node *p = &g->nodes[pick];
        for (int o = 0; o < p->nout; o++) {
            int v = p->out[o];
            for (int e = cstart[v]; e < cstart[v + 1]; e++)
                if (--pending[cons[e]] == 0) HEAP_PUSH(cons[e]);
        }
    }
#undef HEAP_PUSH
    int rc = 0;
    if (count < live) {
        rc = diag(d, "graph has a cycle");
    } else {
        Node *nodes = arena_alloc(g->arena, sizeof *nodes * (size_t)(live ? live : 1));
        for (int i = 0; i < live; i++) nodes[i] = g->nodes[order[i]];
        g->nodes = nodes;
        g->nnode = g->capnode = live;
        for (int v = 0; v < nv; v++) g->vals[v].def = -1;
        for (int i = 0; i < live; i++)
            for (int o = 0; o < nodes[i].nout; o++) g->vals[nodes[i].out[o]].def = i;
    }
    free(pending);
    free(order);
    free(cstart);
    free(cons);
    free(fill);
    free(heap);
    return rc;
}
