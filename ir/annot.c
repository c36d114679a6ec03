/* annot.c — the isb.branches annotation (docs/annotations.md) read from a graph's
 * metadata: a JSON array of objects {name, gate, index, value, threshold?}, with the default
 * threshold in isb.threshold. A small JSON reader of our own (RFC 8259 syntax), so that the
 * IR layer and the passes need no JSON library. Every error names the branch. */
#include "ir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct J {
    const char *s, *p;
    Graph *g;
    Diag *d;
} J;

static void ws(J *j) {
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r') j->p++;
}

static int jerr(J *j, const char *what) {
    return diag(j->d, "isb.branches: malformed JSON at offset %d: %s", (int)(j->p - j->s), what);
}

/* A JSON string into the arena (escapes decoded; \u limited to one byte or passed as '?').
 * It takes at most as many bytes as its raw text: parsing is linear in time and memory. */
static int jstring(J *j, const char **out) {
    if (*j->p != '"') return jerr(j, "expected a string");
    j->p++;
    const char *q = j->p;
    while (*q && *q != '"') q += q[0] == '\\' && q[1] ? 2 : 1;
    size_t cap = (size_t)(q - j->p) + 1, n = 0;
    char *buf = graph_alloc(j->g, cap);
    for (;;) {
        char c = *j->p++;
        if (c == 0) return jerr(j, "unterminated string");
        if (c == '"') break;
        if ((unsigned char)c < 0x20) return jerr(j, "control character in string");
        if (c == '\\') {
            char e = *j->p++;
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    char h = *j->p++;
                    v <<= 4;
                    if (h >= '0' && h <= '9')
                        v |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f')
                        v |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F')
                        v |= (unsigned)(h - 'A' + 10);
                    else
                        return jerr(j, "bad \\u escape");
                }
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            default: return jerr(j, "bad escape");
            }
        }
        buf[n++] = c;
    }
    buf[n] = 0;
    *out = buf;
    return 0;
}

static int jnumber(J *j, double *out) {
    const char *start = j->p;
    if (*j->p == '-') j->p++;
    if (!(*j->p >= '0' && *j->p <= '9')) return jerr(j, "expected a value");
    char *end;
    *out = strtod(start, &end);
    if (end == start) return jerr(j, "bad number");
    j->p = end;
    return 0;
}

static int jvalue_skip(J *j, int depth);

static int jlit(J *j, const char *lit) {
    size_t n = strlen(lit);
    if (strncmp(j->p, lit, n) != 0) return jerr(j, "expected a value");
    j->p += n;
    return 0;
}

/* Skip any JSON value (for keys we do not read). */
static int jvalue_skip(J *j, int depth) {
    if (depth > 64) return jerr(j, "nested too deeply");
    ws(j);
    const char *s;
    double x;
    switch (*j->p) {
    case '"': return jstring(j, &s);
    case 't': return jlit(j, "true");
    case 'f': return jlit(j, "false");
    case 'n': return jlit(j, "null");
    case '[':
    case '{': {
        char close = *j->p == '[' ? ']' : '}';
        bool obj = close == '}';
        j->p++;
        ws(j);
        if (*j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            ws(j);
            if (obj) {
                if (jstring(j, &s)) return -1;
                ws(j);
                if (*j->p++ != ':') return jerr(j, "expected ':'");
            }
            if (jvalue_skip(j, depth + 1)) return -1;
            ws(j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p++ != close)
                return jerr(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
            return 0;
        }
    }
    default: return jnumber(j, &x);
    }
}

/* r[v] = whether value v is computed from value `gate` (forward reachability over the node
 * list; r[gate] itself is false). */
static void downstream(const Graph *g, int gate, bool *r) {
    memset(r, 0, (size_t)g->nval + 1);
    r[gate] = true;
    /* nodes may be out of order before compaction: iterate to a fixed point */
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < g->nnode; i++) {
            const Node *n = gnode(g, i);
            if (n->dead) continue;
            bool any = false;
            for (int k = 0; k < n->nin; k++)
                if (n->in[k] >= 0 && r[n->in[k]]) any = true;
            if (!any) continue;
            for (int k = 0; k < n->nout; k++)
                if (!r[n->out[k]]) r[n->out[k]] = changed = true;
        }
    }
    r[gate] = false;
}

/* Row length of a gate of known type (-1 if unknown): elements per batch instance. */
static int64_t gate_row(const Type *t) {
    if (t->rank < 1) return -1;
    for (int i = 1; i < t->rank; i++)
        if (t->dims[i] < 0) return -1;
    int64_t k = 1;
    for (int i = 1; i < t->rank; i++) k = sat_mul(k, t->dims[i]);
    return k;
}

/* Every check of one branch but reachability. `first`: the first branch whose gate type is
 * known (NULL if none yet): all gates share the batch dim. */
static int check_branch(Graph *g, const Branch *b, const Branch *first, Diag *d) {
    int gv = graph_find_value(g, b->gate), vv = graph_find_value(g, b->value);
    char tb[160], tb2[160];
    if (gv < 0)
        return diag(d, "isb.branches: branch '%s': unknown gate tensor '%s'", b->name, b->gate);
    if (vv < 0)
        return diag(d, "isb.branches: branch '%s': unknown value tensor '%s'", b->name, b->value);
    if (b->index < 0)
        return diag(d, "isb.branches: branch '%s': negative index %d", b->name, b->index);
    const Type *gt = &gval(g, gv)->type, *vt = &gval(g, vv)->type;
    if (gval(g, gv)->flags & VAL_CONST)
        return diag(d,
                    "isb.branches: branch '%s': gate '%s' is a constant (an initializer or "
                    "Constant); a gate must be computed per instance",
                    b->name, b->gate);
    if (gt->dtype != DT_UNDEF && (gt->dtype != DT_F32 || gt->rank == 0))
        return diag(d, "isb.branches: branch '%s': gate '%s' is %s, not a float tensor [N, K]",
                    b->name, b->gate, type_str(gt, tb, sizeof tb));
    int64_t k = gate_row(gt);
    if (k >= 0 && b->index >= k)
        return diag(
            d, "isb.branches: branch '%s': index %d out of range of gate '%s' (%lld per instance)",
            b->name, b->index, b->gate, (long long)k);
    if (!type_known(gt)) return 0;
    if (type_known(vt) && (vt->rank < 1 || vt->dims[0] != gt->dims[0]))
        return diag(
            d, "isb.branches: branch '%s': value '%s' %s and gate '%s' %s differ in batch dim",
            b->name, b->value, type_str(vt, tb, sizeof tb), b->gate, type_str(gt, tb2, sizeof tb2));
    if (first) {
        const Type *ft = &gval(g, graph_find_value(g, first->gate))->type;
        if (ft->dims[0] != gt->dims[0])
            return diag(d,
                        "isb.branches: branch '%s': gate '%s' %s and gate '%s' %s of branch '%s' "
                        "differ in batch dim",
                        b->name, b->gate, type_str(gt, tb, sizeof tb), first->gate,
                        type_str(ft, tb2, sizeof tb2), first->name);
    }
    return 0;
}

/* All checks of bs[0..n), the first failing branch (in array order) reported. Reachability is
 * computed once per distinct gate. */
static int check_branches(Graph *g, const Branch *bs, int n, Diag *d) {
    const Branch *first = NULL;
    for (int i = 0; i < n; i++) {
        if (check_branch(g, &bs[i], first, d)) return -1;
        if (!first && type_known(&gval(g, graph_find_value(g, bs[i].gate))->type)) first = &bs[i];
    }
    /* next[i]: the next branch with the same gate; head[gate value]: the first one */
    int *next = malloc(sizeof(int) * ((size_t)n + 1)),
        *head = malloc(sizeof(int) * ((size_t)g->nval + 1));
    bool *down = calloc((size_t)n + 1, 1), *r = malloc((size_t)g->nval + 1);
    if (!next || !head || !down || !r) abort();
    for (int v = 0; v < g->nval; v++) head[v] = -1;
    for (int i = n - 1; i >= 0; i--) {
        int gv = graph_find_value(g, bs[i].gate);
        next[i] = head[gv];
        head[gv] = i;
    }
    for (int v = 0; v < g->nval; v++) {
        if (head[v] < 0) continue;
        downstream(g, v, r);
        for (int i = head[v]; i >= 0; i = next[i]) down[i] = r[graph_find_value(g, bs[i].value)];
    }
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        if (!down[i])
            rc = diag(d, "isb.branches: branch '%s': value '%s' is not downstream of gate '%s'",
                      bs[i].name, bs[i].value, bs[i].gate);
    free(next);
    free(head);
    free(down);
    free(r);
    return rc;
}

/* "'name'" once the branch's name is known, else "#k" (its position in the array). */
static const char *blabel(const Branch *b, int k, char *buf, size_t len) {
    if (b->name)
        snprintf(buf, len, "'%s'", b->name);
    else
        snprintf(buf, len, "#%d", k);
    return buf;
}

static int parse_threshold(const char *s, const char *key, float *out, Diag *d) {
    char *end;
    double t = strtod(s, &end);
    if (end == s || *end || !isfinite((float)t))
        return diag(d, "%s: not a finite number: '%s'", key, s);
    *out = (float)t;
    return 0;
}

int annot_branches(Graph *g, Branch **out, Diag *d) {
    *out = NULL;
    const char *text = graph_meta(g, "isb.branches");
    if (!text) return 0;
    float deflt = 0, over = 0;
    const char *ts = graph_meta(g, "isb.threshold"), *os = graph_meta(g, ANNOT_THRESHOLD_OVERRIDE);
    if (ts && parse_threshold(ts, "isb.threshold", &deflt, d)) return -1;
    if (os && parse_threshold(os, ANNOT_THRESHOLD_OVERRIDE, &over, d)) return -1;
    J j = {.s = text, .p = text, .g = g, .d = d};
    ws(&j);
    if (*j.p++ != '[') return jerr(&j, "expected a JSON array");
    int cap = 8, n = 0;
    Branch *bs = malloc(sizeof *bs * (size_t)cap);
    if (!bs) abort();
    Arena *tmp = arena_new();
    StrMap names;
    strmap_init(&names, tmp);
    ws(&j);
    bool empty = *j.p == ']';
    if (empty) j.p++;
    while (!empty) {
        ws(&j);
        if (*j.p++ != '{') {
            free(bs);
            arena_free(tmp);
            return jerr(&j, "expected an object per branch");
        }
        Branch b = {0};
        char lb[300];
        bool has_index = false, has_thr = false;
        double thr = 0;
        ws(&j);
        bool first = true;
        while (*j.p != '}') {
            if (!first) {
                if (*j.p++ != ',') goto bad_obj;
                ws(&j);
            }
            first = false;
            const char *key;
            if (jstring(&j, &key)) goto fail;
            ws(&j);
            if (*j.p++ != ':') goto bad_obj;
            ws(&j);
            const char **sf = strcmp(key, "name") == 0    ? &b.name
                              : strcmp(key, "gate") == 0  ? &b.gate
                              : strcmp(key, "value") == 0 ? &b.value
                                                          : NULL;
            if (sf) {
                if (*j.p != '"') {
                    diag(d, "isb.branches: branch %s: field '%s' must be a string",
                         blabel(&b, n, lb, sizeof lb), key);
                    goto fail;
                }
                if (jstring(&j, sf)) goto fail;
            } else if (strcmp(key, "index") == 0 || strcmp(key, "threshold") == 0) {
                double x;
                if (*j.p != '-' && !(*j.p >= '0' && *j.p <= '9')) {
                    diag(d, "isb.branches: branch %s: field '%s' must be a number",
                         blabel(&b, n, lb, sizeof lb), key);
                    goto fail;
                }
                if (jnumber(&j, &x)) goto fail;
                if (key[0] == 'i') {
                    if (x != floor(x) || fabs(x) > 1e9) {
                        diag(d, "isb.branches: branch %s: index must be an integer",
                             blabel(&b, n, lb, sizeof lb));
                        goto fail;
                    }
                    b.index = (int)x;
                    has_index = true;
                } else {
                    if (!isfinite((float)x)) {
                        diag(d, "isb.branches: branch %s: threshold %g is not a finite float",
                             blabel(&b, n, lb, sizeof lb), x);
                        goto fail;
                    }
                    thr = x;
                    has_thr = true;
                }
            } else if (jvalue_skip(&j, 1)) {
                goto fail;
            }
            ws(&j);
        }
        j.p++;
        const char *label = b.name ? b.name : NULL;
        const char *missing = !b.name      ? "name"
                              : !b.gate    ? "gate"
                              : !b.value   ? "value"
                              : !has_index ? "index"
                                           : NULL;
        if (missing) {
            if (label)
                diag(d, "isb.branches: branch '%s': missing field '%s'", label, missing);
            else
                diag(d, "isb.branches: branch #%d: missing field '%s'", n, missing);
            goto fail;
        }
        if (strmap_get(&names, b.name) >= 0) {
            diag(d, "isb.branches: branch '%s': name used twice", b.name);
            goto fail;
        }
        strmap_put(&names, b.name, n);
        b.threshold = os ? over : has_thr ? (float)thr : deflt;
        if (n == cap) {
            cap *= 2;
            bs = realloc(bs, sizeof *bs * (size_t)cap);
            if (!bs) abort();
        }
        bs[n++] = b;
        ws(&j);
        if (*j.p == ',') {
            j.p++;
            continue;
        }
        if (*j.p++ != ']') {
            jerr(&j, "expected ',' or ']'");
            goto fail;
        }
        break;
    }
    ws(&j);
    if (*j.p) {
        jerr(&j, "trailing characters");
        goto fail;
    }
    if (check_branches(g, bs, n, d)) goto fail;
    *out = n ? graph_alloc(g, sizeof *bs * (size_t)n) : NULL;
    if (n) memcpy(*out, bs, sizeof *bs * (size_t)n);
    free(bs);
    arena_free(tmp);
    return n;
bad_obj:
    jerr(&j, "expected ',' or '}' in a branch object");
fail:
    free(bs);
    arena_free(tmp);
    return -1;
}

/* Pin the tensors named in the isb.branches annotation (docs/annotations.md):
 * gates and branch values must survive until guard insertion. Every JSON string that names
 * a value counts (names are plain strings; a false match only means less fusion). */
void annot_pin_values(const Graph *g, bool *pinned) {
    const char *j = graph_meta(g, "isb.branches");
    char buf[512];
    for (const char *p = j ? strchr(j, '"') : NULL; p; p = strchr(p + 1, '"')) {
        const char *e = strchr(p + 1, '"');
        if (!e) break;
        size_t n = (size_t)(e - p - 1);
        if (n < sizeof buf) {
            memcpy(buf, p + 1, n);
            buf[n] = 0;
            int v = graph_find_value(g, buf);
            if (v >= 0) pinned[v] = true;
        }
        p = e;
    }
}
