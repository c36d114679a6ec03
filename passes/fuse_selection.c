/* fuse_selection.c — SelectionNet fusion (docs/architecture.md, pass 7).
 * Requires: guards from insert_guards (their terms name the gate tensors). Guarantees, for
 * every gate tensor G of isb.branches that guard terms read:
 * - G's SelectionNet — the nodes that exist only to compute G (walking back from G's
 *   producer while every reader of a node's outputs is in the cone; not a graph output, not
 *   in a region) — is scheduled as early as its inputs allow, its nodes kept together;
 * - one GateMask node right after G computes the per-instance active mask M (f32, G's type:
 *   1 where G >= the threshold of that element's guard term, else 0), and every term on G
 *   reads M instead, with its threshold unchanged: (M >= t) holds exactly when (G >= t) did,
 *   for every t > 0 a guard has. Each instance's mask is computed once, before any cell.
 * A gate whose elements carry different thresholds in different terms is left as it is. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

/* Thresholds per element of G's row from the terms that read G; false if they disagree. */
static bool gate_thresholds(const Graph *g, int gate, int64_t k, float *thr, bool *set) {
    for (int64_t j = 0; j < k; j++) thr[j] = 0, set[j] = false;
    for (int i = 0; i < g->nguard; i++)
        for (int t = 0; t < g->guards[i].nterm; t++) {
            const GuardTerm *gt = &g->guards[i].terms[t];
            if (gt->gate != gate || gt->index < 0 || gt->index >= k) continue;
            if (set[gt->index] && thr[gt->index] != gt->threshold) return false;
            thr[gt->index] = gt->threshold;
            set[gt->index] = true;
        }
    return true;
}

/* cone[i] for the nodes that exist only to compute value v (see the file comment). */
static void selection_cone(const Graph *g, int v, const int *uses, bool *cone) {
    int p = gval(g, v)->def;
    int *readers = calloc((size_t)g->nval + 1, sizeof *readers);
    if (!readers) abort();
    memset(cone, 0, (size_t)g->nnode);
    for (int i = p; i >= 0; i--) {
        const Node *n = gnode(g, i);
        if (n->dead || n->guard >= 0) continue;
        if (i != p) {
            bool ok = n->nout > 0;
            for (int k = 0; k < n->nout && ok; k++) {
                int o = n->out[k];
                ok = !(gval(g, o)->flags & VAL_OUTPUT) && uses[o] > 0 && readers[o] == uses[o];
            }
            if (!ok) continue;
        }
        cone[i] = true;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0) readers[n->in[k]]++;
    }
    free(readers);
}

/* New order: the cone's nodes as early as their inputs allow (in their own order), the mask
 * node `mask` (the last node, appended) right after the gate's producer `gp`. */
static void schedule(Graph *g, const bool *cone, int gp, int mask) {
    int n = g->nnode;
    int *order = malloc(sizeof *order * (size_t)(n + 1));
    int *pos = malloc(sizeof *pos * (size_t)(n + 1)); /* old id -> index in order, or -1 */
    if (!order || !pos) abort();
    int len = 0;
    for (int i = 0; i < n; i++) {
        pos[i] = -1;
        if (!cone[i] && i != mask) pos[i] = len, order[len++] = i;
    }
    for (int i = 0; i <= gp; i++) {
        if (!cone[i]) continue;
        int at = 0; /* after the last producer of its inputs */
        const Node *nd = gnode(g, i);
        for (int k = 0; k < nd->nin; k++) {
            int d = nd->in[k] >= 0 ? gval(g, nd->in[k])->def : -1;
            if (d >= 0 && pos[d] + 1 > at) at = pos[d] + 1;
        }
        if (i == gp) { /* the mask follows the gate */
            memmove(&order[at + 2], &order[at], sizeof *order * (size_t)(len - at));
            order[at] = i;
            order[at + 1] = mask;
            len += 2;
        } else {
            memmove(&order[at + 1], &order[at], sizeof *order * (size_t)(len - at));
            order[at] = i;
            len++;
        }
        for (int q = 0; q < len; q++) pos[order[q]] = q;
    }
    graph_apply_order(g, order);
    free(order);
    free(pos);
}

int pass_fuse_selection(Graph *g, Diag *d) {
    Branch *bs;
    int nb = annot_branches(g, &bs, d);
    if (nb <= 0) return nb;
    int ngate = 0;
    int *gates = malloc(sizeof *gates * (size_t)(g->nguard + 1));
    if (!gates) abort();
    for (int i = 0; i < g->nguard; i++)
        for (int t = 0; t < g->guards[i].nterm; t++) {
            int v = g->guards[i].terms[t].gate, def = gval(g, v)->def;
            bool annotated = false; /* a SelectionNet's gate, not e.g. an If's condition */
            for (int b = 0; b < nb; b++) annotated |= graph_find_value(g, bs[b].gate) == v;
            bool seen = !annotated || def < 0 || gnode(g, def)->op == OP_GateMask;
            for (int q = 0; q < ngate; q++) seen |= gates[q] == v;
            if (!seen) gates[ngate++] = v;
        }
    for (int q = ngate - 1; q >= 0; q--) { /* last first: equal positions keep their order */
        int gate = gates[q];
        const Type *gt = &gval(g, gate)->type;
        if (gt->dtype != DT_F32 || gt->rank < 1 || !type_known(gt)) continue;
        int64_t rows1 = gt->dims[0] == IR_DIM_N ? 1 : (gt->dims[0] ? gt->dims[0] : 1);
        int64_t k = type_numel(gt, 1) / rows1;
        float *thr = malloc(sizeof *thr * (size_t)(k + 1));
        bool *set = malloc((size_t)k + 1);
        if (!thr || !set) abort();
        bool ok = gate_thresholds(g, gate, k, thr, set);
        if (ok) {
            int *uses = graph_use_counts(g);
            bool *cone = malloc((size_t)g->nnode + 2);
            if (!cone) abort();
            selection_cone(g, gate, uses, cone);
            char name[300];
            snprintf(name, sizeof name, "%s.mask", gval(g, gate)->name);
            int m = graph_add_value(g, name, *gt);
            int gp = gval(g, gate)->def;
            int id = graph_add_node(g, OP_GateMask, "", 1, &gate, 1, &m);
            node_set_floats(g, gnode(g, id), "_thresholds", thr, (int)k);
            cone[id] = false;
            schedule(g, cone, gp, id);
            for (int i = 0; i < g->nguard; i++)
                for (int t = 0; t < g->guards[i].nterm; t++)
                    if (g->guards[i].terms[t].gate == gate) g->guards[i].terms[t].gate = m;
            free(uses);
            free(cone);
        }
        free(thr);
        free(set);
    }
    free(gates);
    return 0;
}
