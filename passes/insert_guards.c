/* insert_guards.c — each annotated branch's exclusive cone becomes a guard region
 * (DESIGN.md, "Branch annotations" and "Passes" 5).
 * Requires: a typed graph whose isb.branches tensors survived fusion (the fuse passes pin
 * them). Guarantees: for every branch with threshold > 0, the nodes that exist only to
 * produce its `value` (walking back from value's producer while every reader of a node's
 * outputs is already in the cone; never a graph output, a gate, another branch's value, or
 * a node already guarded) carry Node.guard = the new guard, whose flops are the cone's
 * node_flops; each guard's nodes are contiguous, ending where `value` was produced. Nodes
 * shared by several branches stay unguarded (dense). threshold <= 0: no guard (dense). */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

/* Move every guard's nodes to the position of its last node (valid: cone nodes are read
 * only inside the cone, whose last node is the value's producer). */
static void make_contiguous(Graph *g) {
    int n = g->nnode;
    int *last = malloc(sizeof *last * (size_t)(g->nguard + 1));
    int *order = malloc(sizeof *order * (size_t)(n + 1));
    Node *copy = malloc(sizeof *copy * (size_t)(n + 1));
    if (!last || !order || !copy) abort();
    for (int i = 0; i < g->nguard; i++) last[i] = -1;
    for (int i = 0; i < n; i++)
        if (gnode(g, i)->guard >= 0) last[gnode(g, i)->guard] = i;
    int k = 0;
    for (int i = 0; i < n; i++) {
        int gd = gnode(g, i)->guard;
        if (gd < 0) {
            order[k++] = i;
        } else if (last[gd] == i) {
            for (int j = 0; j < n; j++)
                if (gnode(g, j)->guard == gd) order[k++] = j;
        }
    }
    memcpy(copy, g->nodes, sizeof *copy * (size_t)n);
    for (int i = 0; i < n; i++) {
        g->nodes[i] = copy[order[i]];
        for (int j = 0; j < g->nodes[i].nout; j++) gval(g, g->nodes[i].out[j])->def = i;
    }
    free(last);
    free(order);
    free(copy);
}

int pass_insert_guards(Graph *g, Diag *d) {
    Branch *bs;
    int nb = annot_branches(g, &bs, d);
    if (nb <= 0) return nb;
    int nv = g->nval, nn = g->nnode;
    bool *pinned = calloc((size_t)nv + 1, 1);
    bool *cone = calloc((size_t)nn + 1, 1);
    int *uses = graph_use_counts(g);
    int *readers = calloc((size_t)nv + 1, sizeof *readers); /* readers[v] inside the cone */
    if (!pinned || !cone || !readers) abort();
    for (int i = 0; i < g->noutput; i++) pinned[g->outputs[i]] = true;
    for (int i = 0; i < nb; i++) {
        pinned[graph_find_value(g, bs[i].gate)] = true;
        pinned[graph_find_value(g, bs[i].value)] = true;
    }
    for (int i = 0; i < g->nguard; i++)
        pinned[g->guards[i].gate] = pinned[g->guards[i].value] = true;
    int rc = 0;
    for (int b = 0; b < nb && rc == 0; b++) {
        const Branch *br = &bs[b];
        bool exists = false;
        for (int i = 0; i < g->nguard; i++)
            if (strcmp(g->guards[i].name, br->name) == 0) exists = true;
        if (exists || br->threshold <= 0) continue;
        int gate = graph_find_value(g, br->gate), value = graph_find_value(g, br->value);
        int p = gval(g, value)->def;
        if (p < 0 || gnode(g, p)->guard >= 0) {
            rc = diag(d, "insert_guards: branch '%s': value '%s' is not computed by its own node",
                      br->name, br->value);
            break;
        }
        /* reverse walk: every reader of a node comes after it */
        memset(cone, 0, (size_t)nn);
        memset(readers, 0, sizeof *readers * (size_t)nv);
        for (int i = p; i >= 0; i--) {
            Node *n = gnode(g, i);
            if (n->dead || n->guard >= 0) continue;
            if (i != p) {
                bool ok = n->nout > 0;
                for (int k = 0; k < n->nout && ok; k++) {
                    int o = n->out[k];
                    if (pinned[o] || uses[o] == 0 || readers[o] != uses[o]) ok = false;
                }
                if (!ok) continue;
            }
            cone[i] = true;
            for (int k = 0; k < n->nin; k++)
                if (n->in[k] >= 0) readers[n->in[k]]++;
        }
        Guard gd = {.name = graph_strdup(g, br->name),
                    .gate = gate,
                    .index = br->index,
                    .threshold = br->threshold,
                    .value = value};
        for (int i = 0; i <= p; i++)
            if (cone[i]) gd.flops += node_flops(g, gnode(g, i));
        int gid = graph_add_guard(g, gd);
        for (int i = 0; i <= p; i++)
            if (cone[i]) gnode(g, i)->guard = gid;
    }
    free(pinned);
    free(cone);
    free(uses);
    free(readers);
    if (rc == 0) make_contiguous(g);
    return rc;
}
