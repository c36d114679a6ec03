/* eval.h — the reference evaluator behind constant folding (passes/eval.c), plus the
 * ir/shape.c helper that ir/ir.h does not declare yet. */
#ifndef ISBC_EVAL_H
#define ISBC_EVAL_H

#include "passes.h"

/* ir/shape.c: Slice-13 clamping of one axis of size dim -> first index taken, count taken. */
void slice_bounds(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first,
                  int64_t *len);

/* Fold `node` (already typed): if every present input is a constant with a payload (Shape
 * and Size need only the shape they report to be static), its op and dtypes are supported,
 * and its outputs are fully static with at most max_elems elements in all (< 0: no limit),
 * compute the outputs, turn each output value into a constant in place (same id and name,
 * so graph outputs keep their names) and mark the node dead. Returns 0 if folded, 1 if not;
 * never an error. */
int eval_node(Graph *g, int node, int64_t max_elems);

/* Make value v (fully static type) a constant whose payload is `data`, memory from
 * graph_alloc(g, type_bytes(&type, 1)) that the value adopts. The caller marks the node that
 * defined v dead. */
void eval_set_const(Graph *g, int v, void *data);

#endif
