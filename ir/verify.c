/* verify.c — structural checks of a Graph, run between passes in tests and debug builds.
 * Checks: value ids in range; every value defined once (by a node, or as input/constant);
 * every node input defined before use in node order; op arity and attribute schema; output
 * `def` links; guards well formed (gate defined, index in range of a known gate type, the
 * guarded value produced inside the guard); with `typed`, every live value has a known type.
 * A violation after a pass is a bug in that pass, reported with the node's label.
 * plan_verify checks the memory plan (ir.h). */
#include "ir.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int graph_verify(const Graph *g, bool typed, Diag *d) {
    char lbl[256];
    int rc = 0;
    unsigned char *def = calloc((size_t)g->nval + 1, 1);
    if (!def) abort();
    for (int i = 0; i < g->ninput; i++) {
        int v = g->inputs[i];
        if (v < 0 || v >= g->nval) {
            rc = diag(d, "verify: graph input %d out of range", i);
            goto out;
        }
        def[v] = 1;
    }
    for (int v = 0; v < g->nval; v++)
        if (gval(g, v)->flags & VAL_CONST) {
            if (def[v]) {
                rc = diag(d, "verify: '%s' is both an input and a constant", gval(g, v)->name);
                goto out;
            }
            def[v] = 1;
        }
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        const OpInfo *oi = op_info(n->op);
        node_label(g, i, lbl, sizeof lbl);
        if (n->nin < oi->min_in || n->nin > oi->max_in || n->nout < oi->min_out ||
            n->nout > oi->max_out) {
            rc = diag(d, "verify: %s '%s' has %d inputs and %d outputs", oi->name, lbl, n->nin,
                      n->nout);
            goto out;
        }
        for (int k = 0; k < n->nin; k++) {
            int v = n->in[k];
            if (v == -1 && k > 0) continue;
            if (v < 0 || v >= g->nval || !def[v]) {
                rc = diag(d, "verify: input %d of %s '%s' (%s) is not defined before use", k,
                          oi->name, lbl, v >= 0 && v < g->nval ? gval(g, v)->name : "?");
                goto out;
            }
        }
        for (int a = 0; a < n->nattr; a++)
            if (op_attr_kind(n->op, n->attrs[a].name) != (int)n->attrs[a].kind) {
                rc = diag(d, "verify: attribute '%s' of %s '%s' is not in the op's schema",
                          n->attrs[a].name, oi->name, lbl);
                goto out;
            }
        if (n->guard < -1 || n->guard >= g->nguard) {
            rc = diag(d, "verify: %s '%s' has a bad guard id %d", oi->name, lbl, n->guard);
            goto out;
        }
        for (int k = 0; k < n->nout; k++) {
            int v = n->out[k];
            if (v < 0 || v >= g->nval || def[v]) {
                rc = diag(d, "verify: output %d of %s '%s' is defined twice", k, oi->name, lbl);
                goto out;
            }
            if (gval(g, v)->def != i) {
                rc = diag(d, "verify: output '%s' of %s '%s' has a stale def link",
                          gval(g, v)->name, oi->name, lbl);
                goto out;
            }
            if (typed && !type_known(&gval(g, v)->type)) {
                rc = diag(d, "verify: output '%s' of %s '%s' has no known type", gval(g, v)->name,
                          oi->name, lbl);
                goto out;
            }
            def[v] = 1;
        }
    }
    for (int i = 0; i < g->noutput; i++) {
        int v = g->outputs[i];
        if (v < 0 || v >= g->nval || !def[v]) {
            rc = diag(d, "verify: graph output %d is not defined", i);
            goto out;
        }
    }
    for (int gi = 0; gi < g->nguard; gi++) {
        const Guard *gd = &g->guards[gi];
        if (gd->nterm < 1) {
            rc = diag(d, "verify: guard '%s' has no condition", gd->name);
            goto out;
        }
        for (int t = 0; t < gd->nterm; t++) {
            const GuardTerm *gt = &gd->terms[t];
            if (gt->gate < 0 || gt->gate >= g->nval || !def[gt->gate]) {
                rc = diag(d, "verify: guard '%s' has an undefined gate", gd->name);
                goto out;
            }
            const Type *ty = &gval(g, gt->gate)->type;
            if (ty->rank >= 2 && gt->index >= 0) {
                int64_t row = 1;
                for (int k = 1; k < ty->rank; k++) row *= ty->dims[k];
                if (gt->index >= row) {
                    rc = diag(d, "verify: guard '%s' index %d is outside its gate row", gd->name,
                              gt->index);
                    goto out;
                }
            }
        }
        if (gd->value < 0) continue; /* a shared region */
        if (gd->value >= g->nval || gd->nterm != 1) {
            rc = diag(d, "verify: branch guard '%s' needs one term and a value", gd->name);
            goto out;
        }
        int dv = gval(g, gd->value)->def;
        if (dv >= 0 && gnode(g, dv)->guard != gi) {
            rc = diag(d, "verify: value '%s' of guard '%s' is produced outside the guard",
                      gval(g, gd->value)->name, gd->name);
            goto out;
        }
    }
out:
    free(def);
    return rc;
}

/* ---- memory plan ---------------------------------------------------------------------- */

typedef struct Live {
    int v;              /* the alias group's root */
    int start, end;     /* first and last node (INT_MAX: a graph output) */
    int64_t off, bytes; /* per batch instance */
} Live;

typedef struct LastRead {
    int *end;
    int node;
} LastRead;

static void note_last_read(int v, void *ctx) {
    LastRead *r = ctx;
    if (r->end[v] < r->node) r->end[v] = r->node;
}

static int by_start(const void *a, const void *b) {
    const Live *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

static const char *live_end(int end, char *buf, size_t len) {
    if (end == INT_MAX) return "the end (graph output)";
    snprintf(buf, len, "node %d", end);
    return buf;
}

int plan_verify(const Graph *g, Diag *d) {
    int nv = g->nval, rc = 0;
    int *end = malloc(sizeof *end * ((size_t)nv + 1));
    int *root = malloc(sizeof *root * ((size_t)nv + 1));
    Live *live = malloc(sizeof *live * ((size_t)nv + 1));
    Live *act = malloc(sizeof *act * ((size_t)nv + 1));
    if (!end || !root || !live || !act) abort();
    for (int v = 0; v < nv; v++) end[v] = -1, root[v] = v;
    LastRead r = {end, 0};
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        r.node = i;
        node_reads(g, i, note_last_read, &r);
        int x = n->nin > 0 ? n->in[0] : -1;
        if (op_is_view(n->op) && x >= 0 && gval(g, x)->offset >= 0 &&
            gval(g, n->out[0])->offset == gval(g, x)->offset)
            root[n->out[0]] = root[x];
    }
    for (int i = 0; i < g->noutput; i++) end[g->outputs[i]] = INT_MAX;
    /* one interval per alias group, from its first producer to its last read */
    int *slot = malloc(sizeof *slot * ((size_t)nv + 1));
    if (!slot) abort();
    int nl = 0;
    for (int v = 0; v < nv; v++) slot[v] = -1;
    for (int v = 0; v < nv && rc == 0; v++) {
        const Value *val = gval(g, v);
        if (val->offset < 0 || val->def < 0 || gnode(g, val->def)->dead) continue;
        int64_t bytes = type_bytes(&val->type, 1);
        if (bytes <= 0) continue;
        if (val->offset % 64 || val->offset + bytes > g->mem_per_batch) {
            rc = diag(d,
                      "plan: '%s' at [%" PRId64 ", %" PRId64
                      ") is unaligned or outside the %" PRId64 "-byte arena",
                      val->name, val->offset, val->offset + bytes, g->mem_per_batch);
            break;
        }
        int s = slot[root[v]];
        if (s < 0) {
            s = slot[root[v]] = nl++;
            live[s] = (Live){root[v], val->def, val->def, val->offset, bytes};
        }
        Live *l = &live[s];
        if (val->offset != l->off) {
            rc = diag(d, "plan: view '%s' does not share the offset of '%s'", val->name,
                      gval(g, l->v)->name);
            break;
        }
        if (val->def < l->start) l->start = val->def;
        if (end[v] > l->end) l->end = end[v];
        if (bytes > l->bytes) l->bytes = bytes;
    }
    /* sweep in start order; `act` holds the intervals still live */
    qsort(live, (size_t)nl, sizeof *live, by_start);
    int na = 0;
    for (int i = 0; i < nl && rc == 0; i++) {
        const Live *l = &live[i];
        int k = 0;
        for (int a = 0; a < na; a++)
            if (act[a].end >= l->start) act[k++] = act[a];
        na = k;
        for (int a = 0; a < na; a++) {
            const Live *o = &act[a];
            if (o->off < l->off + l->bytes && l->off < o->off + o->bytes) {
                char b1[32], b2[32];
                rc = diag(d,
                          "plan: '%s' [%" PRId64 ", %" PRId64 ") live from node %d to %s overlaps "
                          "'%s' [%" PRId64 ", %" PRId64 ") live from node %d to %s",
                          gval(g, l->v)->name, l->off, l->off + l->bytes, l->start,
                          live_end(l->end, b1, sizeof b1), gval(g, o->v)->name, o->off,
                          o->off + o->bytes, o->start, live_end(o->end, b2, sizeof b2));
                break;
            }
        }
        act[na++] = *l;
    }
    free(end);
    free(root);
    free(live);
    free(act);
    free(slot);
    return rc;
}
