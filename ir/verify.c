/* verify.c — structural checks of a Graph, run between passes in tests and debug builds.
 * Checks: value ids in range; every value defined once (by a node, or as input/constant);
 * every node input defined before use in node order; op arity and attribute schema; output
 * `def` links; guards well formed (gate defined, index in range of a known gate type, the
 * guarded value produced inside the guard); with `typed`, every live value has a known type.
 * A violation after a pass is a bug in that pass, reported with the node's label. */
#include "ir.h"

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
