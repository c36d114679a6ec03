/* print.c — the IR text form. ir/parse.c reads exactly what this writes, and
 * print(parse(text)) == text. The grammar, by example:
 *
 *   graph "torch_jit" opset 13 mem 802816 {
 *     meta "isb.version" = "1"
 *     input %input: f32[N,3,224,224]
 *     const %w: f32[64,3,7,7] = #5d0f3e2a9c11b7e4        (payload elided: content hash)
 *     const %shape: i64[2] = [1, -1]                     (small or --weights: the payload)
 *     %y: f32[N,64,112,112] @0 = Conv(%input, %w, _) {group=1, pads=[3,3,3,3]} "conv1"
 *     %a: f32[N,2], %b: f32[N,2] = Split(%x, %s) {axis=1}
 *     guard "cell0.edge1.sep3" (%gate[2] >= 0.5) value=%v flops=1204224 {
 *     guard "shared.0" (%gate[2] >= 0.5 || %gate[3] >= 0.5) flops=3136 {
 *       %v: f32[N,8,16,16] = Mul(%c, %g2)
 *     }
 *     output %y
 *   }
 *
 * `%name` is bare when it is made of [A-Za-z0-9_./-], else quoted with C escapes. `_` is an
 * absent optional input. `@K` is the planned arena offset (bytes per batch instance). The
 * trailing string is the ONNX node name. Attribute kinds come from the op's schema, so the
 * text needs no type tags; floats always carry a '.' or exponent. */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void print_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static bool bare_name(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (!(((*s | 32) >= 'a' && (*s | 32) <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '.' || *s == '/' || *s == '-'))
            return false;
    return true;
}

static void print_ref(FILE *f, const Graph *g, int v) {
    if (v < 0) {
        fputc('_', f);
        return;
    }
    const char *name = gval(g, v)->name;
    fputc('%', f);
    if (bare_name(name))
        fputs(name, f);
    else
        print_str(f, name);
}

static void print_float(FILE *f, double x, bool dbl) {
    if (isnan(x)) {
        fputs("nan", f);
        return;
    }
    if (isinf(x)) {
        fputs(x < 0 ? "-inf" : "inf", f);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, dbl ? "%.17g" : "%.9g", x);
    fputs(buf, f);
    if (!strpbrk(buf, ".e")) fputs(".0", f);
}

static void print_type(FILE *f, const Type *t) {
    char buf[256];
    fputs(type_str(t, buf, sizeof buf), f);
}

/* One element of a payload. */
static void print_elem(FILE *f, int dt, const void *data, int64_t i) {
    switch (dt) {
    case DT_F32: print_float(f, ((const float *)data)[i], false); break;
    case DT_F64: print_float(f, ((const double *)data)[i], true); break;
    case DT_I64: fprintf(f, "%lld", (long long)((const int64_t *)data)[i]); break;
    case DT_I32: fprintf(f, "%d", ((const int32_t *)data)[i]); break;
    case DT_I16: fprintf(f, "%d", ((const int16_t *)data)[i]); break;
    case DT_I8: fprintf(f, "%d", ((const int8_t *)data)[i]); break;
    case DT_U8:
    case DT_BOOL: fprintf(f, "%u", ((const uint8_t *)data)[i]); break;
    case DT_U16:
    case DT_F16: fprintf(f, "%u", ((const uint16_t *)data)[i]); break;
    case DT_U32: fprintf(f, "%u", ((const uint32_t *)data)[i]); break;
    case DT_U64: fprintf(f, "%llu", (unsigned long long)((const uint64_t *)data)[i]); break;
    default: fputs("0", f); break;
    }
}

static void print_payload(FILE *f, const Type *t, const void *data) {
    int64_t n = type_numel(t, 1);
    fputc('[', f);
    for (int64_t i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        print_elem(f, t->dtype, data, i);
    }
    fputc(']', f);
}

static void print_attr(FILE *f, const Attr *a) {
    fprintf(f, "%s=", a->name);
    switch (a->kind) {
    case ATTR_INT: fprintf(f, "%lld", (long long)a->i); break;
    case ATTR_FLOAT: print_float(f, a->f, false); break;
    case ATTR_STRING: print_str(f, a->s); break;
    case ATTR_INTS:
        fputc('[', f);
        for (int i = 0; i < a->n; i++) fprintf(f, "%s%lld", i ? "," : "", (long long)a->ints[i]);
        fputc(']', f);
        break;
    case ATTR_FLOATS:
        fputc('[', f);
        for (int i = 0; i < a->n; i++) {
            if (i) fputc(',', f);
            print_float(f, a->floats[i], false);
        }
        fputc(']', f);
        break;
    case ATTR_STRINGS:
        fputc('[', f);
        for (int i = 0; i < a->n; i++) {
            if (i) fputc(',', f);
            print_str(f, a->strings[i]);
        }
        fputc(']', f);
        break;
    case ATTR_TENSOR:
        print_type(f, &a->ttype);
        fputc(' ', f);
        print_payload(f, &a->ttype, a->tdata);
        break;
    case ATTR_GRAPH: fputs("<graph>", f); break;
    }
}

static void print_value_decl(FILE *f, const Graph *g, int v) {
    const Value *val = gval(g, v);
    print_ref(f, g, v);
    fputs(": ", f);
    print_type(f, &val->type);
    if (val->offset >= 0) fprintf(f, " @%lld", (long long)val->offset);
}

static void print_node(FILE *f, const Graph *g, const Node *n, const char *indent) {
    fputs(indent, f);
    for (int o = 0; o < n->nout; o++) {
        if (o) fputs(", ", f);
        print_value_decl(f, g, n->out[o]);
    }
    fprintf(f, " = %s(", op_info(n->op)->name);
    for (int i = 0; i < n->nin; i++) {
        if (i) fputs(", ", f);
        print_ref(f, g, n->in[i]);
    }
    fputc(')', f);
    if (n->nattr) {
        fputs(" {", f);
        for (int i = 0; i < n->nattr; i++) {
            if (i) fputs(", ", f);
            print_attr(f, &n->attrs[i]);
        }
        fputc('}', f);
    }
    if (n->name && *n->name) {
        fputc(' ', f);
        print_str(f, n->name);
    }
    fputc('\n', f);
}

static void print_guard_header(FILE *f, const Graph *g, int gid) {
    const Guard *gd = &g->guards[gid];
    fputs("  guard ", f);
    print_str(f, gd->name);
    fputs(" (", f);
    for (int i = 0; i < gd->nterm; i++) {
        if (i) fputs(" || ", f);
        print_ref(f, g, gd->terms[i].gate);
        fprintf(f, "[%d] >= ", gd->terms[i].index);
        print_float(f, gd->terms[i].threshold, false);
    }
    fputs(")", f);
    if (gd->value >= 0) {
        fputs(" value=", f);
        print_ref(f, g, gd->value);
    }
    fprintf(f, " flops=%lld {\n", (long long)gd->flops);
}

void graph_print(const Graph *g, FILE *f, unsigned flags) {
    fputs("graph ", f);
    print_str(f, g->name);
    fprintf(f, " opset %d", g->opset);
    if (g->mem_per_batch > 0) fprintf(f, " mem %lld", (long long)g->mem_per_batch);
    fputs(" {\n", f);
    for (int i = 0; i < g->nmeta; i++) {
        fputs("  meta ", f);
        print_str(f, g->meta[i].key);
        fputs(" = ", f);
        print_str(f, g->meta[i].value);
        fputc('\n', f);
    }
    for (int i = 0; i < g->ninput; i++) {
        fputs("  input ", f);
        print_value_decl(f, g, g->inputs[i]);
        fputc('\n', f);
    }
    /* Constants that are used (or graph outputs), in id order. */
    int *uses = graph_use_counts(g);
    for (int v = 0; v < g->nval; v++) {
        const Value *val = gval(g, v);
        if (!(val->flags & VAL_CONST) || (!uses[v] && !(val->flags & VAL_OUTPUT))) continue;
        fputs("  const ", f);
        print_value_decl(f, g, v);
        fputs(" = ", f);
        if (val->data && ((flags & PRINT_WEIGHTS) || type_numel(&val->type, 1) <= 16))
            print_payload(f, &val->type, val->data);
        else
            fprintf(f, "#%016llx", (unsigned long long)val->hash);
        fputc('\n', f);
    }
    free(uses);
    int cur = -1;
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        if (n->guard != cur) {
            if (cur >= 0) fputs("  }\n", f);
            cur = n->guard;
            if (cur >= 0) print_guard_header(f, g, cur);
        }
        print_node(f, g, n, cur >= 0 ? "    " : "  ");
    }
    if (cur >= 0) fputs("  }\n", f);
    for (int i = 0; i < g->noutput; i++) {
        fputs("  output ", f);
        print_ref(f, g, g->outputs[i]);
        fputc('\n', f);
    }
    fputs("}\n", f);
}
