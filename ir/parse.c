/* parse.c — reads the IR text form written by print.c (grammar at the top of print.c).
 * Errors are "file:line:col: message". Values may be referenced before their definition
 * (a guard header names its value before the block defines it); every referenced value
 * must be defined by the end. */
#include "ir.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Parser {
    const char *src, *p, *file;
    const char *end; /* the text's terminating NUL */
    Graph *g;
    Diag *d;
    unsigned char *defined; /* per value id: defined yet? (grown on demand) */
    int ndefined;
    int err;
} Parser;

static int perr(Parser *P, const char *fmt, const char *arg) {
    if (P->err) return -1;
    int line = 1, col = 1;
    for (const char *q = P->src; q < P->p; q++) {
        if (*q == '\n')
            line++, col = 1;
        else
            col++;
    }
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    diag(P->d, "%s:%d:%d: %s", P->file, line, col, msg);
    P->err = 1;
    return -1;
}

static void skip_ws(Parser *P) {
    for (;;) {
        while (*P->p == ' ' || *P->p == '\t' || *P->p == '\r' || *P->p == '\n') P->p++;
        if (*P->p == ';' || (*P->p == '#' && P->p[1] == ' ') ||
            (*P->p == '#' && (P->p == P->src || P->p[-1] == '\n'))) {
            while (*P->p && *P->p != '\n') P->p++; /* comment to end of line */
            continue;
        }
        break;
    }
}

static bool accept(Parser *P, const char *tok) {
    skip_ws(P);
    size_t n = strlen(tok);
    if (strncmp(P->p, tok, n) != 0) return false;
    if (isalpha((unsigned char)tok[n - 1]) && (isalnum((unsigned char)P->p[n]) || P->p[n] == '_'))
        return false;
    P->p += n;
    return true;
}

static int expect(Parser *P, const char *tok) {
    if (accept(P, tok)) return 0;
    return perr(P, "expected '%s'", tok);
}

/* A quoted string with C escapes, into the graph arena. */
static const char *parse_str(Parser *P) {
    skip_ws(P);
    if (*P->p != '"') {
        perr(P, "expected a string", NULL);
        return NULL;
    }
    P->p++;
    size_t cap = 64, len = 0;
    char *buf = malloc(cap);
    if (!buf) abort();
    while (*P->p && *P->p != '"') {
        char c = *P->p++;
        if (c == '\\') {
            char e = *P->p++;
            if (e == 'n')
                c = '\n';
            else if (e == 't')
                c = '\t';
            else if (e == 'x' && isxdigit((unsigned char)P->p[0]) &&
                     isxdigit((unsigned char)P->p[1])) {
                char hex[3] = {P->p[0], P->p[1], 0};
                c = (char)strtol(hex, NULL, 16);
                P->p += 2;
            } else if (e == '"' || e == '\\')
                c = e;
            else {
                free(buf);
                perr(P, "bad escape in string", NULL);
                return NULL;
            }
        }
        if (len + 2 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        buf[len++] = c;
    }
    if (*P->p != '"') {
        free(buf);
        perr(P, "unterminated string", NULL);
        return NULL;
    }
    P->p++;
    buf[len] = 0;
    const char *s = graph_strdup(P->g, buf);
    free(buf);
    return s;
}

static bool ident_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '/' || c == '-';
}

static int parse_word(Parser *P, char *buf, size_t len) {
    skip_ws(P);
    size_t n = 0;
    while (isalnum((unsigned char)*P->p) || *P->p == '_') {
        if (n + 1 < len) buf[n++] = *P->p;
        P->p++;
    }
    buf[n] = 0;
    return n ? 0 : perr(P, "expected a word", NULL);
}

static void mark_defined(Parser *P, int v, bool def) {
    if (v >= P->ndefined) {
        int n = P->ndefined ? P->ndefined : 64;
        while (n <= v) n *= 2;
        P->defined = realloc(P->defined, (size_t)n);
        if (!P->defined) abort();
        memset(P->defined + P->ndefined, 0, (size_t)(n - P->ndefined));
        P->ndefined = n;
    }
    if (def) P->defined[v] = 1;
}

/* %name or _ ; creates the value on first mention. Returns id, -1 for `_`, -2 on error. */
static int parse_ref(Parser *P) {
    skip_ws(P);
    if (*P->p == '_' && !ident_char(P->p[1])) {
        P->p++;
        return -1;
    }
    if (*P->p != '%') {
        perr(P, "expected a value (%%name)", NULL);
        return -2;
    }
    P->p++;
    const char *name;
    char buf[512];
    if (*P->p == '"') {
        name = parse_str(P);
        if (!name) return -2;
    } else {
        size_t n = 0;
        while (ident_char(*P->p)) {
            if (n + 1 < sizeof buf) buf[n++] = *P->p;
            P->p++;
        }
        buf[n] = 0;
        if (!n) {
            perr(P, "expected a value name after '%%'", NULL);
            return -2;
        }
        name = buf;
    }
    int v = graph_find_value(P->g, name);
    if (v < 0) {
        Type t = {.dtype = DT_UNDEF, .rank = IR_RANK_UNKNOWN};
        v = graph_add_value(P->g, name, t);
    }
    mark_defined(P, v, false);
    return v;
}

static int parse_i64(Parser *P, int64_t *out) {
    skip_ws(P);
    char *end;
    errno = 0;
    long long x = strtoll(P->p, &end, 10);
    if (end == P->p || errno) return perr(P, "expected an integer", NULL);
    P->p = end;
    *out = x;
    return 0;
}

static int parse_double(Parser *P, double *out) {
    skip_ws(P);
    const char *s = P->p;
    bool neg = false;
    if (*s == '-') neg = true, s++;
    if (strncmp(s, "inf", 3) == 0 && !isalnum((unsigned char)s[3])) {
        *out = neg ? -INFINITY : INFINITY;
        P->p = s + 3;
        return 0;
    }
    if (strncmp(s, "nan", 3) == 0 && !isalnum((unsigned char)s[3])) {
        *out = NAN;
        P->p = s + 3;
        return 0;
    }
    char *end;
    *out = strtod(P->p, &end);
    if (end == P->p) return perr(P, "expected a number", NULL);
    P->p = end;
    return 0;
}

/* dtype[d0,d1,...] */
static int parse_type(Parser *P, Type *t) {
    char w[32];
    skip_ws(P);
    if (*P->p == '?') { /* a value not yet typed */
        P->p++;
        strcpy(w, "?");
    } else if (parse_word(P, w, sizeof w)) {
        return -1;
    }
    memset(t, 0, sizeof *t);
    t->dtype = dtype_from_name(w);
    if (t->dtype == DT_UNDEF && strcmp(w, "?") != 0) return perr(P, "unknown dtype '%s'", w);
    if (expect(P, "[")) return -1;
    if (accept(P, "*")) {
        t->rank = IR_RANK_UNKNOWN;
        return expect(P, "]");
    }
    if (accept(P, "]")) return 0;
    do {
        if (t->rank == IR_MAX_RANK) return perr(P, "too many dims", NULL);
        skip_ws(P);
        if (accept(P, "N"))
            t->dims[t->rank++] = IR_DIM_N;
        else if (accept(P, "?"))
            t->dims[t->rank++] = IR_DIM_UNKNOWN;
        else {
            int64_t x;
            if (parse_i64(P, &x)) return -1;
            if (x < 0) return perr(P, "negative dim", NULL);
            t->dims[t->rank++] = x;
        }
    } while (accept(P, ","));
    return expect(P, "]");
}

/* [e0, e1, ...] of dtype t into a malloc'ed payload. */
static void *parse_payload(Parser *P, const Type *t) {
    int64_t n = type_numel(t, 1);
    size_t es = dtype_size(t->dtype);
    if (t->rank < 0 || !es || type_has_batch(t)) {
        perr(P, "constant needs a static type", NULL);
        return NULL;
    }
    /* Each element takes at least two characters of text: bounds the allocation. */
    if (n < 0 || type_bytes(t, 1) < 0 || n > (P->end - P->p) / 2 + 1) {
        perr(P, "constant has more elements than the text holds", NULL);
        return NULL;
    }
    unsigned char *data = calloc((size_t)(n ? n : 1), es);
    if (!data) abort();
    if (expect(P, "[")) goto fail;
    for (int64_t i = 0; i < n; i++) {
        if (i && expect(P, ",")) goto fail;
        if (dtype_is_float(t->dtype) && t->dtype != DT_F16) {
            double x;
            if (parse_double(P, &x)) goto fail;
            if (t->dtype == DT_F32)
                ((float *)data)[i] = (float)x;
            else
                ((double *)data)[i] = x;
        } else {
            int64_t x;
            if (t->dtype == DT_U64) {
                skip_ws(P);
                char *end;
                unsigned long long u = strtoull(P->p, &end, 10);
                if (end == P->p) {
                    perr(P, "expected an integer", NULL);
                    goto fail;
                }
                P->p = end;
                x = (int64_t)u;
            } else if (parse_i64(P, &x))
                goto fail;
            switch (es) {
            case 1: ((uint8_t *)data)[i] = (uint8_t)x; break;
            case 2: ((uint16_t *)data)[i] = (uint16_t)x; break;
            case 4: ((uint32_t *)data)[i] = (uint32_t)x; break;
            default: ((int64_t *)data)[i] = x; break;
            }
        }
    }
    if (expect(P, "]")) goto fail;
    return data;
fail:
    free(data);
    return NULL;
}

static int parse_attr(Parser *P, Graph *g, Node *n) {
    char name[128];
    skip_ws(P);
    size_t k = 0;
    while (isalnum((unsigned char)*P->p) || *P->p == '_') {
        if (k + 1 < sizeof name) name[k++] = *P->p;
        P->p++;
    }
    name[k] = 0;
    if (!k) return perr(P, "expected an attribute name", NULL);
    int kind = op_attr_kind(n->op, name);
    if (kind < 0) return perr(P, "unknown attribute '%s'", name);
    if (expect(P, "=")) return -1;
    Attr a = {.name = name, .kind = (AttrKind)kind};
    int64_t ibuf[256];
    float fbuf[256];
    const char *sbuf[256];
    switch (a.kind) {
    case ATTR_INT:
        if (parse_i64(P, &a.i)) return -1;
        break;
    case ATTR_FLOAT: {
        double x;
        if (parse_double(P, &x)) return -1;
        a.f = (float)x;
        break;
    }
    case ATTR_STRING:
        if (!(a.s = parse_str(P))) return -1;
        break;
    case ATTR_INTS:
    case ATTR_FLOATS:
    case ATTR_STRINGS:
        if (expect(P, "[")) return -1;
        if (!accept(P, "]")) {
            do {
                if (a.n == 256) return perr(P, "attribute list too long", NULL);
                if (a.kind == ATTR_INTS) {
                    if (parse_i64(P, &ibuf[a.n])) return -1;
                } else if (a.kind == ATTR_FLOATS) {
                    double x;
                    if (parse_double(P, &x)) return -1;
                    fbuf[a.n] = (float)x;
                } else if (!(sbuf[a.n] = parse_str(P)))
                    return -1;
                a.n++;
            } while (accept(P, ","));
            if (expect(P, "]")) return -1;
        }
        a.ints = a.kind == ATTR_INTS ? ibuf : NULL;
        a.floats = a.kind == ATTR_FLOATS ? fbuf : NULL;
        a.strings = a.kind == ATTR_STRINGS ? sbuf : NULL;
        if (a.n == 0) {
            /* keep an empty list distinguishable from an absent attribute */
            a.ints = a.kind == ATTR_INTS ? ibuf : NULL;
        }
        break;
    case ATTR_TENSOR: {
        if (parse_type(P, &a.ttype)) return -1;
        void *data = parse_payload(P, &a.ttype);
        if (!data) return -1;
        a.tdata = data;
        node_set_attr(g, n, &a);
        free(data);
        return 0;
    }
    case ATTR_GRAPH: return perr(P, "graph attributes have no text form yet", NULL);
    }
    node_set_attr(g, n, &a);
    if ((a.kind == ATTR_INTS || a.kind == ATTR_FLOATS || a.kind == ATTR_STRINGS) && a.n == 0) {
        Attr *na = node_attr(n, name);
        na->n = 0;
    }
    return 0;
}

/* Define value v with type t (and optional @offset); error if defined twice. */
static int define(Parser *P, int v, const Type *t, int64_t offset) {
    if (v < 0) return perr(P, "expected a value name, not '_'", NULL);
    mark_defined(P, v, false);
    if (P->defined[v]) return perr(P, "value '%s' defined twice", gval(P->g, v)->name);
    mark_defined(P, v, true);
    gval(P->g, v)->type = *t;
    gval(P->g, v)->offset = offset;
    return 0;
}

static int parse_decl(Parser *P, int *v, Type *t, int64_t *offset) {
    if ((*v = parse_ref(P)) < -1) return -1;
    if (expect(P, ":") || parse_type(P, t)) return -1;
    *offset = -1;
    if (accept(P, "@") && parse_i64(P, offset)) return -1;
    return 0;
}

static int parse_node(Parser *P, int guard) {
    Graph *g = P->g;
    int outs[64], nout = 0;
    Type types[64];
    int64_t offs[64];
    do {
        if (nout == 64) return perr(P, "too many outputs", NULL);
        if (parse_decl(P, &outs[nout], &types[nout], &offs[nout])) return -1;
        nout++;
    } while (accept(P, ","));
    if (expect(P, "=")) return -1;
    char opname[64];
    if (parse_word(P, opname, sizeof opname)) return -1;
    int op = op_from_name(opname);
    if (op < 0) return perr(P, "unknown op '%s'", opname);
    int ins[64], nin = 0;
    if (expect(P, "(")) return -1;
    if (!accept(P, ")")) {
        do {
            if (nin == 64) return perr(P, "too many inputs", NULL);
            int v = parse_ref(P);
            if (v < -1) return -1;
            ins[nin++] = v;
        } while (accept(P, ","));
        if (expect(P, ")")) return -1;
    }
    for (int i = 0; i < nout; i++)
        if (define(P, outs[i], &types[i], offs[i])) return -1;
    int id = graph_add_node(g, op, "", nin, ins, nout, outs);
    Node *n = gnode(g, id);
    n->guard = guard;
    if (accept(P, "{")) {
        if (!accept(P, "}")) {
            do {
                if (parse_attr(P, g, gnode(g, id))) return -1;
            } while (accept(P, ","));
            if (expect(P, "}")) return -1;
        }
    }
    skip_ws(P);
    if (*P->p == '"') {
        const char *name = parse_str(P);
        if (!name) return -1;
        gnode(g, id)->name = name;
    }
    return 0;
}

static int parse_guard(Parser *P) {
    Graph *g = P->g;
    Guard gd = {.value = -1};
    GuardTerm terms[64];
    if (!(gd.name = parse_str(P))) return -1;
    if (expect(P, "(")) return -1;
    do {
        GuardTerm *t = &terms[gd.nterm];
        if (gd.nterm == 64) return perr(P, "more than 64 terms in a guard", NULL);
        if ((t->gate = parse_ref(P)) < 0) return perr(P, "expected the gate value", NULL);
        int64_t idx;
        double thr;
        if (expect(P, "[") || parse_i64(P, &idx) || expect(P, "]") || expect(P, ">=") ||
            parse_double(P, &thr))
            return -1;
        if (!isfinite((float)thr)) return perr(P, "a guard threshold must be a finite float", NULL);
        t->index = (int)idx;
        t->threshold = (float)thr;
        gd.nterm++;
    } while (accept(P, "||"));
    if (expect(P, ")")) return -1;
    gd.terms = terms;
    if (accept(P, "value")) {
        if (expect(P, "=")) return -1;
        if ((gd.value = parse_ref(P)) < 0) return perr(P, "expected the guarded value", NULL);
    }
    if (expect(P, "flops") || expect(P, "=") || parse_i64(P, &gd.flops)) return -1;
    int gid = -1;
    for (int i = 0; i < g->nguard; i++)
        if (strcmp(g->guards[i].name, gd.name) == 0) gid = i;
    if (gid < 0) gid = graph_add_guard(g, gd);
    if (expect(P, "{")) return -1;
    while (!accept(P, "}")) {
        if (!*P->p) return perr(P, "unterminated guard", NULL);
        if (parse_node(P, gid)) return -1;
    }
    return 0;
}

static int parse_graph(Parser *P) {
    Graph *g = P->g;
    if (expect(P, "graph")) return -1;
    const char *name = parse_str(P);
    if (!name) return -1;
    g->name = name;
    int64_t x;
    if (expect(P, "opset") || parse_i64(P, &x)) return -1;
    g->opset = (int)x;
    if (accept(P, "mem")) {
        if (parse_i64(P, &g->mem_per_batch)) return -1;
    }
    if (expect(P, "{")) return -1;
    for (;;) {
        skip_ws(P);
        if (!*P->p) return perr(P, "unexpected end of input (missing '}')", NULL);
        if (accept(P, "}")) break;
        if (accept(P, "meta")) {
            const char *k = parse_str(P);
            if (!k || expect(P, "=")) return -1;
            const char *v = parse_str(P);
            if (!v) return -1;
            graph_set_meta(g, k, v);
        } else if (accept(P, "input")) {
            int v;
            Type t;
            int64_t off;
            if (parse_decl(P, &v, &t, &off) || define(P, v, &t, off)) return -1;
            graph_add_input(g, v);
        } else if (accept(P, "const")) {
            int v;
            Type t;
            int64_t off;
            if (parse_decl(P, &v, &t, &off) || define(P, v, &t, off)) return -1;
            if (expect(P, "=")) return -1;
            Value *val = gval(g, v);
            val->flags |= VAL_CONST;
            skip_ws(P);
            if (*P->p == '#') {
                P->p++;
                char *end;
                val->hash = strtoull(P->p, &end, 16);
                if (end == P->p) return perr(P, "expected a hash after '#'", NULL);
                P->p = end;
            } else {
                void *data = parse_payload(P, &t);
                if (!data) return -1;
                val->data = arena_memdup(g->arena, data, (size_t)type_bytes(&t, 1));
                val->hash = value_hash(&t, data);
                free(data);
            }
        } else if (accept(P, "guard")) {
            if (parse_guard(P)) return -1;
        } else if (accept(P, "output")) {
            int v = parse_ref(P);
            if (v < 0) return perr(P, "expected an output value", NULL);
            graph_add_output(g, v);
        } else if (parse_node(P, -1)) {
            return -1;
        }
    }
    skip_ws(P);
    if (*P->p) return perr(P, "text after the end of the graph", NULL);
    for (int v = 0; v < g->nval; v++) {
        mark_defined(P, v, false);
        if (!P->defined[v])
            return perr(P, "value '%s' is used but never defined", gval(g, v)->name);
    }
    return 0;
}

Graph *graph_parse(const char *text, const char *filename, Diag *d) {
    Parser P = {.src = text,
                .p = text,
                .end = text + strlen(text),
                .file = filename ? filename : "<input>",
                .d = d};
    P.g = graph_new("main");
    int rc = parse_graph(&P);
    free(P.defined);
    if (rc) {
        graph_free(P.g);
        return NULL;
    }
    return P.g;
}
