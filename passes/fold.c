/* fold.c — pass_fold: constant folding.
 * Requires: a typed graph (pass_infer). Guarantees: every node that passes/eval.c can compute
 * and whose inputs are all constant (any size) is replaced by constants, in node order, so
 * chains fold completely; its output values become constants in place (same ids and names).
 * Dead nodes are dropped; initializers left without uses are for DCE to remove. */
#include "eval.h"

int pass_fold(Graph *g, Diag *d) {
    for (int i = 0; i < g->nnode; i++)
        if (!gnode(g, i)->dead) eval_node(g, i, -1);
    return graph_compact(g, d);
}
