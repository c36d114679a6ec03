/* dce.c — dead code elimination.
 * Requires: a graph in valid order. Guarantees: every remaining node has an output that is
 * read by a remaining node, is a graph output, or is a guard's gate or value (ONNX ops have
 * no side effects); values that are neither graph inputs, read, produced by a node, nor
 * referenced by a guard (unused constants, orphaned intermediates) are removed. Value ids
 * are renumbered (order kept); node order is kept. Guards left without nodes stay (their
 * value is then produced elsewhere or the guard is empty, which the verifier reports). */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

/* Remove values not marked in keep[]; renumber every reference. */
static void compact_values(Graph *g, const bool *keep) {
    int *map = malloc(sizeof(int) * ((size_t)g->nval + 1));
    if (!map) abort();
    int nv = 0;
    for (int v = 0; v < g->nval; v++) map[v] = keep[v] ? nv++ : -1;
    if (nv == g->nval) {
        free(map);
        return;
    }
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
    free(map);
}

int pass_dce(Graph *g, Diag *d) {
    int *uses = graph_use_counts(g);
    for (int i = 0; i < g->nguard; i++) {
        for (int t = 0; t < g->guards[i].nterm; t++) uses[g->guards[i].terms[t].gate]++;
        if (g->guards[i].value >= 0) uses[g->guards[i].value]++;
    }
    /* Reverse order: a node's consumers are decided before the node itself. */
    for (int i = g->nnode - 1; i >= 0; i--) {
        Node *n = gnode(g, i);
        if (n->dead) continue;
        bool used = false;
        for (int k = 0; k < n->nout; k++) used |= uses[n->out[k]] > 0;
        if (used) continue;
        n->dead = true;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0) uses[n->in[k]]--;
    }
    if (graph_compact(g, d)) {
        free(uses);
        return -1;
    }
    bool *keep = calloc((size_t)g->nval + 1, sizeof(bool));
    if (!keep) abort();
    for (int v = 0; v < g->nval; v++)
        keep[v] = uses[v] > 0 || (gval(g, v)->flags & (VAL_INPUT | VAL_OUTPUT));
    for (int i = 0; i < g->nnode; i++)
        for (int k = 0; k < gnode(g, i)->nout; k++) keep[gnode(g, i)->out[k]] = true;
    compact_values(g, keep);
    free(keep);
    free(uses);
    return 0;
}
