/* dce.c — dead code elimination.
 * Requires: a graph in valid order. Guarantees: every remaining node has an output that is
 * read by a remaining node, is a graph output, or is a guard's gate or value (ONNX ops have
 * no side effects); values that are neither graph inputs, read, produced by a node, nor
 * referenced by a guard (unused constants, orphaned intermediates) are removed. Value ids
 * are renumbered (order kept); node order is kept. A guard's gates and value are read while
 * one of its nodes remains; guards left without nodes are dropped (ids renumbered). */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

/* Remove values not marked in keep[]; renumber every reference. */
/* Drop the guards no live node belongs to (renumbering the others). */
static void compact_guards(Graph *g, const bool *live, Arena *tmp) {
    int *map = arena_alloc(tmp, sizeof(int) * ((size_t)g->nguard + 1));
    int ng = 0;
    for (int i = 0; i < g->nguard; i++) {
        map[i] = live[i] ? ng : -1;
        if (live[i]) g->guards[ng++] = g->guards[i];
    }
    g->nguard = ng;
    for (int i = 0; i < g->nnode; i++)
        if (gnode(g, i)->guard >= 0) gnode(g, i)->guard = map[gnode(g, i)->guard];
}

static void compact_values(Graph *g, const bool *keep, Arena *tmp) {
    int *map = arena_alloc(tmp, sizeof(int) * ((size_t)g->nval + 1));
    int nv = 0;
    for (int v = 0; v < g->nval; v++) map[v] = keep[v] ? nv++ : -1;
    if (nv == g->nval) return;
    Value *vals = graph_alloc(g, sizeof(Value) * (size_t)(nv ? nv : 1));
    strmap_init(&g->names, g->arena);
    for (int v = 0; v < g->nval; v++)
        if (map[v] >= 0) {
            vals[map[v]] = g->vals[v];
            strmap_put(&g->names, vals[map[v]].name, map[v]);
        }
    g->vals = vals;
    g->nval = g->capval = nv;
    for (int i = 0; i < g->nnode; i++) {
        Node *n = gnode(g, i);
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0) n->in[k] = map[n->in[k]];
        for (int k = 0; k < n->nout; k++) n->out[k] = map[n->out[k]];
    }
    for (int i = 0; i < g->ninput; i++) g->inputs[i] = map[g->inputs[i]];
    for (int i = 0; i < g->noutput; i++) g->outputs[i] = map[g->outputs[i]];
    for (int i = 0; i < g->nguard; i++) {
        for (int t = 0; t < g->guards[i].nterm; t++)
            g->guards[i].terms[t].gate = map[g->guards[i].terms[t].gate];
        if (g->guards[i].value >= 0) g->guards[i].value = map[g->guards[i].value];
    }
}

int pass_dce(Graph *g, Diag *d) {
    Arena *tmp = arena_new(); /* this pass's scratch */
    int *uses = graph_use_counts(g);
    bool *live_guard = arena_alloc(tmp, (size_t)g->nguard + 1);
    /* Reverse order: a node's consumers are decided before the node itself; a region's gates
     * (computed before it) are read while one of its nodes stays. */
    for (int i = g->nnode - 1; i >= 0; i--) {
        Node *n = gnode(g, i);
        if (n->dead) continue;
        bool used = false;
        for (int k = 0; k < n->nout; k++) used |= uses[n->out[k]] > 0;
        if (used && n->guard >= 0 && !live_guard[n->guard]) {
            live_guard[n->guard] = true;
            const Guard *gd = &g->guards[n->guard];
            for (int t = 0; t < gd->nterm; t++) uses[gd->terms[t].gate]++;
            if (gd->value >= 0) uses[gd->value]++;
        }
        if (used) continue;
        n->dead = true;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0) uses[n->in[k]]--;
    }
    int rc = graph_compact(g, d);
    if (rc == 0) {
        compact_guards(g, live_guard, tmp);
        bool *keep = arena_alloc(tmp, (size_t)g->nval + 1);
        for (int v = 0; v < g->nval; v++)
            keep[v] = uses[v] > 0 || (gval(g, v)->flags & (VAL_INPUT | VAL_OUTPUT));
        for (int i = 0; i < g->nnode; i++)
            for (int k = 0; k < gnode(g, i)->nout; k++) keep[gnode(g, i)->out[k]] = true;
        compact_values(g, keep, tmp);
    }
    arena_free(tmp);
    free(uses);
    return rc;
}
