/* module.c — the walk that hands every node to its emitter (ops.def's lower column), and
 * guarded regions (docs/architecture.md): a region runs as its own function over the compact
 * sub-batch of the instances whose gates are on. Called by api.c; calls the emitters. */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cg.h"

/* ---- guards ---------------------------------------------------------------------------- */

/* stats[k] += v */
static void stats_add(Cg *c, int k, LLVMValueRef v) {
    LLVMValueRef p = cg_gep_c(c, c->stats, 8 * k);
    LLVMBuildStore(c->b, LLVMBuildAdd(c->b, LLVMBuildLoad2(c->b, c->t_i64, p, ""), v, ""), p);
}

/* Elements of one instance's row of a gate tensor. */
static int64_t gate_row(const Graph *g, int gate) {
    const Type *gt = &gval(g, gate)->type;
    SymInt rows = sym_dim(gt, 0);
    int64_t nrows1 = rows.n ? 1 : (rows.k ? rows.k : 1); /* rows at batch 1 */
    return type_numel(gt, 1) / nrows1;
}

/* The call's threshold override (P_options.threshold; < 0: none), from the run's context. */
LLVMValueRef cg_threshold_override(Cg *c) {
    return LLVMBuildLoad2(c->b, c->t_f32, cg_gep_c(c, c->stats, 8 * CG_CTX_THRESHOLD), "thr.ovr");
}

/* The threshold term gt applies in this call: its own, or the call's override. A term on a
 * GateMask's 0/1 mask keeps its own: the override applies inside the GateMask (lower_act.c). */
static LLVMValueRef term_threshold(Cg *c, const GuardTerm *gt) {
    int def = gval(c->g, gt->gate)->def;
    if (def >= 0 && gnode(c->g, def)->op == OP_GateMask) return cg_f32(c, gt->threshold);
    LLVMValueRef o = cg_threshold_override(c);
    LLVMValueRef set = LLVMBuildFCmp(c->b, LLVMRealOGE, o, cg_f32(c, 0.0f), "");
    return LLVMBuildSelect(c->b, set, o, cg_f32(c, gt->threshold), "thr");
}

/* Does instance r run the guard: for one of its terms, its threshold is <= 0 (dense) or
 * gate[r*K + index] >= threshold. */
static LLVMValueRef guard_active(Cg *c, const Guard *gd, LLVMValueRef r) {
    LLVMValueRef any = NULL;
    for (int t = 0; t < gd->nterm; t++) {
        const GuardTerm *gt = &gd->terms[t];
        LLVMValueRef idx =
            LLVMBuildNUWAdd(c->b, LLVMBuildNUWMul(c->b, r, cg_i64(c, gate_row(c->g, gt->gate)), ""),
                            cg_i64(c, gt->index), "");
        LLVMValueRef p = LLVMBuildInBoundsGEP2(c->b, c->t_f32, cg_ptr(c, gt->gate), &idx, 1, "");
        LLVMValueRef x = LLVMBuildLoad2(c->b, c->t_f32, p, "");
        LLVMValueRef thr = term_threshold(c, gt);
        LLVMValueRef on = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOLE, thr, cg_f32(c, 0), ""),
                                      LLVMBuildFCmp(c->b, LLVMRealOGE, x, thr, ""), "");
        any = any ? LLVMBuildOr(c->b, any, on, "") : on;
    }
    return any;
}

/* Column of guard gid in the mask of branches run (P_options.mask): its rank among the
 * branch guards (value >= 0), or -1 for a shared region. */
static int branch_column(const Graph *g, int gid) {
    if (g->guards[gid].value < 0) return -1;
    int col = 0;
    for (int i = 0; i < gid; i++) col += g->guards[i].value >= 0;
    return col;
}

static int branch_count(const Graph *g) {
    int n = 0;
    for (int i = 0; i < g->nguard; i++) n += g->guards[i].value >= 0;
    return n;
}

/* mask[r * branches + column] = on (i1), when the call asked for the mask. */
static void mask_store(Cg *c, int gid, LLVMValueRef r, LLVMValueRef on) {
    int col = branch_column(c->g, gid);
    if (col < 0) return;
    LLVMValueRef m = LLVMBuildLoad2(c->b, c->t_ptr, cg_gep_c(c, c->stats, 8 * CG_CTX_MASK), "mask");
    LLVMBasicBlockRef put = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "mask.put");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "mask.done");
    LLVMBuildCondBr(c->b, LLVMBuildIsNull(c->b, m, ""), done, put);
    LLVMPositionBuilderAtEnd(c->b, put);
    LLVMValueRef at = LLVMBuildNUWAdd(
        c->b, LLVMBuildNUWMul(c->b, r, cg_i64(c, branch_count(c->g)), ""), cg_i64(c, col), "");
    LLVMBuildStore(c->b, LLVMBuildZExt(c->b, on, c->t_i8, ""), cg_gep(c, m, at));
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
}

static int emit_nodes(Cg *c, int first, int last) {
    for (int i = first; i < last; i++)
        if (cg_emit_node(c, i) < 0) return -1;
    return 0;
}

/* Compact sub-batch buffers of a guard region [first, last): for every value with the batch
 * dim read from outside the region (gathered rows of the active instances) and every value
 * produced inside except views (the region runs on them at batch = active count), off[v]
 * bytes per instance into the guard scratch (address = scratch + off[v] * count; -1 if v
 * has no such buffer). The guard scratch is outside the arena, whose planned reuse assumes
 * whole-batch execution. Returns the bytes per instance (multiple of 64). */
static int64_t guard_compact_layout(const Graph *g, int first, int last, int64_t *off) {
    int64_t at = 0;
    for (int v = 0; v < g->nval; v++) off[v] = -1; /* the caller reads every entry */
    for (int i = first; i < last; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        for (int k = 0; k < n->nin; k++) {
            int x = n->in[k];
            if (x < 0 || off[x] >= 0 || (gval(g, x)->flags & VAL_CONST)) continue;
            int def = gval(g, x)->def;
            if ((def >= first && def < last) || !type_has_batch(&gval(g, x)->type)) continue;
            off[x] = at;
            at += (cg_instance_bytes(g, x) + 63) / 64 * 64;
        }
        for (int k = 0; k < n->nout; k++) {
            if (cg_aliases_input(g, n->out[k])) continue;
            off[n->out[k]] = at;
            at += (cg_instance_bytes(g, n->out[k]) + 63) / 64 * 64;
        }
    }
    return at;
}

/* Max over guards of guard_compact_layout: guard scratch bytes per batch instance. */
int64_t cg_guards_scratch_per_batch(const Graph *g) {
    int64_t *off = malloc(sizeof *off * (size_t)(g->nval + 1));
    if (!off) abort();
    int64_t m = 0;
    for (int i = 0; i < g->nnode;) {
        int gid = gnode(g, i)->guard, j = i + 1;
        if (gid < 0) {
            i++;
            continue;
        }
        while (j < g->nnode && gnode(g, j)->guard == gid) j++;
        int64_t b = guard_compact_layout(g, i, j, off);
        if (b < 64) b = 64; /* the index list of a region run by items (emit_nodes_items) */
        if (b > m) m = b;
        i = j;
    }
    free(off);
    return m;
}

/* The values a region [first, last) hands to the rest of the graph: the storage owners of
 * its outputs read after it (or graph outputs) that it produces itself. Returns the count. */
static int region_results(const Graph *g, int first, int last, int *out) {
    int nr = 0;
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = gnode(g, i);
        if ((i >= first && i < last) || n->dead) continue;
        for (int k = 0; k < n->nin; k++) {
            int x = n->in[k];
            int def = x >= 0 ? gval(g, x)->def : -1;
            if (def < first || def >= last) continue;
            int o = x;
            while (cg_aliases_input(g, o) && gval(g, o)->def >= first && gval(g, o)->def < last)
                o = gnode(g, gval(g, o)->def)->in[0];
            int odef = gval(g, o)->def;
            if (odef < first || odef >= last) continue;
            bool dup = false;
            for (int t = 0; t < nr; t++) dup |= out[t] == o;
            if (!dup) out[nr++] = o;
        }
    }
    for (int i = 0; i < g->noutput; i++) {
        int o = g->outputs[i];
        while (cg_aliases_input(g, o) && gval(g, o)->def >= first && gval(g, o)->def < last)
            o = gnode(g, gval(g, o)->def)->in[0];
        int odef = gval(g, o)->def;
        bool dup = odef < first || odef >= last;
        for (int t = 0; t < nr; t++) dup |= out[t] == o;
        if (!dup) out[nr++] = o;
    }
    return nr;
}

/* Copy row r of every gathered input to row j of its compact buffer (gather), or row j of
 * the compact value to row r of `value` (scatter). */
static void copy_rows(Cg *c, int v, LLVMValueRef dst, LLVMValueRef dst_row, LLVMValueRef src,
                      LLVMValueRef src_row) {
    LLVMValueRef bytes = cg_i64(c, cg_instance_bytes(c->g, v));
    cg_memcpy(c, cg_gep(c, dst, LLVMBuildNUWMul(c->b, dst_row, bytes, "")),
              cg_gep(c, src, LLVMBuildNUWMul(c->b, src_row, bytes, "")), bytes);
}

/* For each instance r with guard gd active, in order (j counts them): copy row r of full[v]
 * to row j of compact[v] (gather), or row j of compact[v] to row r of full[v] (scatter), for
 * the values vs[0..nv). */
static void copy_active_rows(Cg *c, const Guard *gd, LLVMValueRef nrows, int nv, const int *vs,
                             LLVMValueRef *compact, LLVMValueRef *full, bool gather) {
    LLVMValueRef jslot = cg_alloca(c, 8, 8);
    LLVMBuildStore(c->b, cg_i64(c, 0), jslot);
    CgLoop l = cg_loop_begin(c, nrows, gather ? "guard.gather" : "guard.scatter");
    LLVMBasicBlockRef take = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
    LLVMBuildCondBr(c->b, guard_active(c, gd, l.iv), take, next);
    LLVMPositionBuilderAtEnd(c->b, take);
    LLVMValueRef j = LLVMBuildLoad2(c->b, c->t_i64, jslot, "");
    for (int t = 0; t < nv; t++) {
        int v = vs[t];
        if (gather)
            copy_rows(c, v, compact[v], j, full[v], l.iv);
        else
            copy_rows(c, v, full[v], l.iv, compact[v], j);
    }
    LLVMBuildStore(c->b, LLVMBuildNUWAdd(c->b, j, cg_i64(c, 1), ""), jslot);
    LLVMBuildBr(c->b, next);
    LLVMPositionBuilderAtEnd(c->b, next);
    cg_loop_end(c, &l);
}

/* Run nodes [first, last) once for the `count` active instances (docs/architecture.md,
 * "Guards": gather, run, scatter). When every instance is active (`all`) the region runs
 * in place on the whole batch; otherwise the rows of the region's inputs are first gathered
 * into the guard scratch, the region runs at batch = count on compact buffers, and the rows
 * of its results scatter back to their instances (the other rows are left as they are). The
 * region's code is emitted once; its buffers are selected by `all`. */
static int emit_nodes_compact(Cg *c, int first, int last, const Guard *gd, LLVMValueRef nrows,
                              LLVMValueRef count, LLVMValueRef all, LLVMValueRef scratch) {
    const Graph *g = c->g;
    LLVMValueRef *saved = malloc(sizeof *saved * (size_t)(g->nval + 1));
    int64_t *off = malloc(sizeof *off * (size_t)(g->nval + 1));
    int *xs = calloc((size_t)g->nval + 1, sizeof *xs);
    LLVMValueRef *compact = malloc(sizeof *compact * (size_t)(g->nval + 1));
    if (!saved || !off || !xs || !compact) abort();
    memcpy(saved, c->vptr, sizeof *saved * (size_t)g->nval);
    guard_compact_layout(g, first, last, off);
    for (int v = 0; v < g->nval; v++)
        compact[v] = off[v] >= 0
                         ? cg_gep(c, scratch, LLVMBuildNUWMul(c->b, count, cg_i64(c, off[v]), ""))
                         : NULL;
    LLVMBasicBlockRef gather = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "guard.gather");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "guard.body");
    LLVMBuildCondBr(c->b, all, body, gather);

    /* gather */
    LLVMPositionBuilderAtEnd(c->b, gather);
    int nx = 0;
    for (int i = first; i < last; i++) {
        const Node *n = gnode(g, i);
        for (int q = 0; q < n->nin; q++) {
            int x = n->in[q];
            if (x < 0 || off[x] < 0) continue;
            int def = gval(g, x)->def;
            if (def >= first && def < last) continue;
            bool dup = false;
            for (int t = 0; t < nx; t++) dup |= xs[t] == x;
            if (!dup) xs[nx++] = x;
        }
    }
    copy_active_rows(c, gd, nrows, nx, xs, compact, saved, true);
    LLVMBuildBr(c->b, body);

    /* run: whole-batch buffers if all, else compact ones */
    LLVMPositionBuilderAtEnd(c->b, body);
    for (int i = first; i < last; i++) {
        const Node *n = gnode(g, i);
        for (int q = 0; q < n->nin + n->nout; q++) {
            int v = q < n->nin ? n->in[q] : n->out[q - n->nin];
            if (v < 0 || c->vptr[v] != saved[v]) continue;
            if (off[v] >= 0)
                c->vptr[v] = LLVMBuildSelect(c->b, all, saved[v], compact[v], "");
            else if (q >= n->nin && n->in[0] >= 0) /* a view made inside: its source's address */
                c->vptr[v] = c->vptr[n->in[0]];
        }
    }
    int nr = region_results(g, first, last, xs);
    LLVMValueRef batch = c->batch;
    c->batch = count;
    int rc = emit_nodes(c, first, last);
    c->batch = batch;
    memcpy(c->vptr, saved, sizeof *saved * (size_t)g->nval);

    /* scatter the results */
    if (rc == 0 && nr > 0) {
        LLVMBasicBlockRef scatter = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "guard.scatter");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
        LLVMBuildCondBr(c->b, all, done, scatter);
        LLVMPositionBuilderAtEnd(c->b, scatter);
        copy_active_rows(c, gd, nrows, nr, xs, compact, saved, false);
        LLVMBuildBr(c->b, done);
        LLVMPositionBuilderAtEnd(c->b, done);
    }
    free(saved);
    free(off);
    free(xs);
    free(compact);
    return rc;
}

/* ---- regions run instance by instance ---------------------------------------------------
 * A region whose nodes each compute an instance's rows from that instance's rows alone runs,
 * when some but not all instances are active, once per active instance at batch 1 (an
 * "item"), reading and writing the rows of the whole-batch buffers in place: no gathered
 * copies of its inputs, no scatter of its results. Its temporaries (values it produces that
 * nothing after it reads) live in a per-thread slice of the items scratch, the rows of its
 * results in the arena. The items are split over the run's team (isbrt_team_items), so the
 * branches of small planes still use every thread. */

/* Threads whose slices the items scratch holds (the runtime's thread indices are below it:
 * ISBRT__MAX_PARTS). */
enum { ITEM_THREADS = 8 };

/* Is v a tensor of one row per instance (dims[0] = N), or one the region reads whole (no N)? */
static bool has_batch(const Graph *g, int v) {
    return type_has_batch(&gval(g, v)->type);
}

/* Does node n compute row r of each output from row r of its batch inputs only? */
static bool node_per_instance(const Graph *g, const Node *n) {
    if (n->nout < 1) return false;
    for (int k = 0; k < n->nout; k++)
        if (n->out[k] < 0 || !has_batch(g, n->out[k])) return false;
    for (int k = 0; k < n->nin; k++) /* no shape data that changes with the batch */
        if (n->in[k] >= 0 && gval(g, n->in[k])->type.dtype != DT_F32 && has_batch(g, n->in[k]))
            return false;
    const Type *yt = &gval(g, n->out[0])->type;
    const OpInfo *oi = op_info(n->op);
    if (oi->lower == LOWER_ELEMWISE) { /* broadcasting aligns N with N only at equal rank */
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && has_batch(g, n->in[k]) && gval(g, n->in[k])->type.rank != yt->rank)
                return false;
        return true;
    }
    bool in0 = n->nin > 0 && n->in[0] >= 0 && has_batch(g, n->in[0]);
    bool rest = true; /* weights, shapes, indices: not per instance */
    for (int k = 1; k < n->nin; k++) rest &= n->in[k] < 0 || !has_batch(g, n->in[k]);
    switch (n->op) {
    case OP_Conv:
    case OP_MaxPool:
    case OP_AveragePool:
    case OP_GlobalAveragePool:
    case OP_GlobalMaxPool:
    case OP_BatchNormalization: return in0 && rest && n->nout == 1;
    case OP_Reshape:
    case OP_Flatten:
    case OP_Squeeze:
    case OP_Unsqueeze:
    case OP_Identity: return in0 && rest && n->nout == 1;
    case OP_Gather: {
        int r = gval(g, n->in[0])->type.rank;
        int64_t a = attr_int(n, "axis", 0);
        return in0 && rest && axis_index(a, r) > 0;
    }
    case OP_Concat: {
        int64_t a = attr_int(n, "axis", 0);
        if (axis_index(a, yt->rank) <= 0) return false;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] < 0 || !has_batch(g, n->in[k])) return false;
        return true;
    }
    default: return false;
    }
}

/* Is v produced in [first, last)? */
static bool made_in(const Graph *g, int v, int first, int last) {
    int d = gval(g, v)->def;
    return d >= first && d < last;
}

/* Can region [first, last) run by items (see above)? Its nodes are per instance, and no result
 * shares bytes with a whole-batch value the region reads (the whole-batch order the memory
 * plan assumes would let a result overwrite rows of an input other items still read). */
static bool region_items_ok(Cg *c, int first, int last, const Guard *gd) {
    const Graph *g = c->g;
    int *res = malloc(sizeof *res * (size_t)(g->nval + 1));
    if (!res) abort();
    int nr = region_results(g, first, last, res);
    bool ok = true;
    for (int i = first; i < last && ok; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        ok = node_per_instance(g, n);
        for (int k = 0; k < n->nin && ok; k++) {
            int x = n->in[k];
            if (x < 0 || made_in(g, x, first, last) || (gval(g, x)->flags & VAL_CONST)) continue;
            for (int t = 0; t < nr && ok; t++) ok = !cg_may_overlap(c, res[t], x);
        }
    }
    for (int t = 0; t < gd->nterm && ok; t++)
        for (int q = 0; q < nr && ok; q++) ok = !cg_may_overlap(c, res[q], gd->terms[t].gate);
    for (int q = 0; q < nr && ok; q++) ok = has_batch(g, res[q]);
    free(res);
    return ok;
}

/* Temporaries of a region run by items: off[v] bytes into a thread's slice for every value
 * produced in [first, last) that is neither a result nor a view sharing its input's bytes
 * (-1 for the others). Returns the bytes (multiple of 64). */
static int64_t region_item_temps(const Graph *g, int first, int last, int64_t *off) {
    int *res = malloc(sizeof *res * (size_t)(g->nval + 1));
    if (!res) abort();
    int nr = region_results(g, first, last, res);
    int64_t at = 0;
    for (int v = 0; v < g->nval; v++) off[v] = -1;
    for (int i = first; i < last; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        for (int k = 0; k < n->nout; k++) {
            int v = n->out[k];
            bool result = false;
            for (int t = 0; t < nr; t++) result |= res[t] == v;
            if (v < 0 || result || cg_aliases_input(g, v)) continue;
            off[v] = at;
            at += (cg_instance_bytes(g, v) + 63) / 64 * 64;
        }
    }
    free(res);
    return at;
}

/* Bytes of one thread's slice of the items scratch beyond its kernel scratch: the max over the
 * regions that may run by items of their temporaries (0 if none may). */
int64_t cg_items_temps_per_thread(Cg *c, bool *any) {
    const Graph *g = c->g;
    int64_t *off = malloc(sizeof *off * (size_t)(g->nval + 1));
    if (!off) abort();
    int64_t m = 0;
    *any = false;
    for (int i = 0; i < g->nnode;) {
        int gid = gnode(g, i)->guard, j = i + 1;
        if (gid < 0) {
            i++;
            continue;
        }
        while (j < g->nnode && gnode(g, j)->guard == gid) j++;
        if (region_items_ok(c, i, j, &g->guards[gid])) {
            *any = true;
            int64_t b = region_item_temps(g, i, j, off);
            if (b > m) m = b;
        }
        i = j;
    }
    free(off);
    return m;
}

/* The items scratch: ITEM_THREADS slices of [kernel scratch, rounded to 64][temporaries]; 0
 * bytes when no region runs by items. `kscratch` is P.scratch(). */
LLVMValueRef cg_items_scratch_bytes(Cg *c, LLVMValueRef kscratch) {
    bool any;
    int64_t t = cg_items_temps_per_thread(c, &any);
    if (!any) return cg_i64(c, 0);
    LLVMValueRef slice = LLVMBuildAdd(c->b, kscratch, cg_i64(c, t), "");
    return LLVMBuildMul(c->b, slice, cg_i64(c, ITEM_THREADS), "");
}

/* The context an items function reads (a stack struct of the region function). */
enum { IC_BATCH, IC_INS, IC_ARENA, IC_IDX, IC_ITEMS, IC_SLICE, IC_STATS, IC_COUNT };

/* Emit P.regionK.items(ctx, lo, hi, thread, team): for j in [lo, hi), instance idx[j] runs
 * nodes [first, last) at batch 1 on its rows. */
static int emit_items_fn(Cg *c, int first, int last, LLVMValueRef f) {
    const Graph *g = c->g;
    LLVMValueRef sfn = c->fn, sbatch = c->batch, sws = c->ws, steam = c->team, sstats = c->stats;
    LLVMBasicBlockRef sentry = c->entry, saved_bb = LLVMGetInsertBlock(c->b);
    LLVMValueRef *svptr = c->vptr;
    LLVMValueRef *base = calloc((size_t)g->nval + 1, sizeof *base);
    int64_t *toff = malloc(sizeof *toff * (size_t)(g->nval + 1));
    c->vptr = calloc((size_t)g->nval + 1, sizeof *c->vptr);
    if (!base || !toff || !c->vptr) abort();
    cg_begin_fn(c, f);
    LLVMValueRef ctx = LLVMGetParam(f, 0), lo = LLVMGetParam(f, 1), hi = LLVMGetParam(f, 2);
    LLVMValueRef thread = LLVMBuildSExt(c->b, LLVMGetParam(f, 3), c->t_i64, "");
    LLVMValueRef field[IC_COUNT];
    for (int k = 0; k < IC_COUNT; k++) {
        LLVMTypeRef t = k == IC_BATCH || k == IC_SLICE ? c->t_i64 : c->t_ptr;
        field[k] = LLVMBuildLoad2(c->b, t, cg_gep_c(c, ctx, 8 * k), "");
    }
    c->batch = field[IC_BATCH];
    c->team = LLVMGetParam(f, 4);
    c->stats = field[IC_STATS]; /* read only here (the threshold override) */
    /* this thread's slice: [kernel scratch][temporaries]; field IC_SLICE is its size, the
     * temporaries are its last `temps` bytes */
    LLVMValueRef slice =
        cg_gep(c, field[IC_ITEMS], LLVMBuildNUWMul(c->b, thread, field[IC_SLICE], ""));
    int64_t temps = region_item_temps(g, first, last, toff);
    LLVMValueRef tbase =
        cg_gep(c, slice, LLVMBuildSub(c->b, field[IC_SLICE], cg_i64(c, temps), ""));
    for (int i = 0; i < g->ninput; i++) {
        LLVMValueRef idx = cg_i64(c, i);
        c->vptr[g->inputs[i]] = LLVMBuildLoad2(
            c->b, c->t_ptr, LLVMBuildInBoundsGEP2(c->b, c->t_ptr, field[IC_INS], &idx, 1, ""), "");
    }
    /* whole-batch addresses (temporaries: the slice) */
    for (int i = first; i < last; i++) {
        const Node *n = gnode(g, i);
        for (int k = 0; k < n->nin + n->nout; k++) {
            int v = k < n->nin ? n->in[k] : n->out[k - n->nin];
            if (v < 0 || base[v]) continue;
            if (toff[v] >= 0)
                base[v] = cg_gep_c(c, tbase, toff[v]);
            else if (!(k >= n->nin && cg_aliases_input(g, v)))
                base[v] = cg_resolve_ptr(c, field[IC_ARENA], v, 0);
        }
    }
    c->ws = slice;
    c->batch = cg_i64(c, 1);
    CgLoop l = cg_loop_begin(c, LLVMBuildSub(c->b, hi, lo, ""), "items");
    LLVMValueRef j = LLVMBuildNUWAdd(c->b, lo, l.iv, "");
    LLVMValueRef r = LLVMBuildLoad2(
        c->b, c->t_i64, LLVMBuildInBoundsGEP2(c->b, c->t_i64, field[IC_IDX], &j, 1, ""), "row");
    memset(c->vptr, 0, sizeof *c->vptr * (size_t)g->nval);
    for (int i = first; i < last; i++) {
        const Node *n = gnode(g, i);
        for (int k = 0; k < n->nin + n->nout; k++) {
            int v = k < n->nin ? n->in[k] : n->out[k - n->nin];
            if (v < 0 || c->vptr[v]) continue;
            if (k >= n->nin && cg_aliases_input(g, v)) { /* a view made here: its input's row */
                c->vptr[v] = c->vptr[n->in[0]];
                continue;
            }
            if (!base[v]) continue; /* no storage */
            if (toff[v] >= 0 || !has_batch(g, v) || (gval(g, v)->flags & VAL_CONST)) {
                c->vptr[v] = base[v];
                continue;
            }
            LLVMValueRef off = LLVMBuildNUWMul(c->b, r, cg_i64(c, cg_instance_bytes(g, v)), "");
            c->vptr[v] = cg_gep(c, base[v], off);
        }
    }
    int rc = emit_nodes(c, first, last);
    if (rc == 0) {
        cg_loop_end(c, &l);
        LLVMBuildRet(c->b, cg_i32(c, CG_RET_OK));
    }
    free(base);
    free(toff);
    free(c->vptr);
    c->vptr = svptr;
    c->fn = sfn;
    c->entry = sentry;
    c->batch = sbatch;
    c->ws = sws;
    c->team = steam;
    c->stats = sstats;
    LLVMPositionBuilderAtEnd(c->b, saved_bb);
    return rc;
}

/* Run nodes [first, last) for the `count` active instances, whose rows are listed in idx:
 * in place on the whole batch when every instance is active (`all`), else item by item
 * (emit_items_fn) on the run's team. */
static int emit_nodes_items(Cg *c, int first, int last, LLVMValueRef count, LLVMValueRef all,
                            LLVMValueRef idx, int64_t flops) {
    LLVMBasicBlockRef whole = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "guard.all");
    LLVMBasicBlockRef some = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "guard.items");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
    LLVMBuildCondBr(c->b, all, whole, some);
    LLVMPositionBuilderAtEnd(c->b, whole);
    if (emit_nodes(c, first, last) < 0) return -1;
    LLVMBuildBr(c->b, done);

    LLVMPositionBuilderAtEnd(c->b, some);
    LLVMTypeRef pt[5] = {c->t_ptr, c->t_i64, c->t_i64, c->t_i32, c->t_ptr};
    char suffix[48];
    snprintf(suffix, sizeof suffix, ".items%d", c->uid++);
    LLVMValueRef f = cg_add_fn(c, suffix, LLVMFunctionType(c->t_i32, pt, 5, 0), true);
    LLVMValueRef ctx = cg_alloca(c, 8 * IC_COUNT, 8);
    LLVMValueRef field[IC_COUNT] = {c->batch, c->ins,        c->arena, idx,
                                    c->items, c->item_slice, c->stats};
    for (int k = 0; k < IC_COUNT; k++) LLVMBuildStore(c->b, field[k], cg_gep_c(c, ctx, 8 * k));
    LLVMValueRef args[5] = {c->team ? c->team : LLVMConstPointerNull(c->t_ptr), count,
                            cg_i64(c, flops > 0 ? flops : 1), f, ctx};
    LLVMTypeRef at[5] = {c->t_ptr, c->t_i64, c->t_i64, c->t_ptr, c->t_ptr};
    LLVMValueRef rc = cg_call(c, "isbrt_team_items", c->t_i32, 5, at, args);
    cg_bail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, rc, cg_i32(c, CG_RET_OK), ""));
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
    return emit_items_fn(c, first, last, f);
}

/* Must the rows of a branch value be zero where the branch did not run? Not when every
 * reader is a BranchSum (which adds only the rows of live branches). */
static bool value_needs_zero(const Graph *g, int value) {
    if (gval(g, value)->flags & VAL_OUTPUT) return true;
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = gnode(g, i);
        if (n->dead || n->op == OP_BranchSum) continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == value && gval(g, value)->def != i) return true;
    }
    return false;
}

/* Zero the rows of `v` of the instances that do not run guard gd. */
static void zero_inactive_rows(Cg *c, const Guard *gd, int v, LLVMValueRef nrows, int64_t row) {
    CgLoop z = cg_loop_begin(c, nrows, "guard.zero");
    LLVMBasicBlockRef zero = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
    LLVMBuildCondBr(c->b, guard_active(c, gd, z.iv), next, zero);
    LLVMPositionBuilderAtEnd(c->b, zero);
    LLVMValueRef off = LLVMBuildNUWMul(c->b, z.iv, cg_i64(c, row), "");
    cg_memset0(c, cg_gep(c, cg_ptr(c, v), off), cg_i64(c, row));
    LLVMBuildBr(c->b, next);
    LLVMPositionBuilderAtEnd(c->b, next);
    cg_loop_end(c, &z);
}

/* The batch rows of a guard's gates (all terms must agree), or a diagnostic. */
static int guard_check(Cg *c, const Guard *gd, SymInt *rows) {
    const Graph *g = c->g;
    for (int t = 0; t < gd->nterm; t++) {
        const GuardTerm *gt = &gd->terms[t];
        const Type *ty = &gval(g, gt->gate)->type;
        if (ty->dtype != DT_F32 || ty->rank < 1)
            return diag(c->d, "guard '%s': gate '%s' must be a float tensor [N, K]", gd->name,
                        gval(g, gt->gate)->name);
        SymInt r = sym_dim(ty, 0);
        if (t == 0) *rows = r;
        if (r.n != rows->n || r.k != rows->k) /* annot_branches refuses such branches */
            return diag(c->d, "guard '%s': gates '%s' and '%s' differ in batch dim", gd->name,
                        gval(g, gd->terms[0].gate)->name, gval(g, gt->gate)->name);
        if (!cg_ptr(c, gt->gate))
            return diag(c->d, "guard '%s': gate '%s' has no storage", gd->name,
                        gval(g, gt->gate)->name);
        int64_t k = gate_row(g, gt->gate);
        if (gt->index < 0 || gt->index >= k)
            return diag(c->d, "guard '%s': index %d out of the gate's %" PRId64 " elements",
                        gd->name, gt->index, k);
    }
    if (gd->value >= 0) {
        const Type *vt = &gval(g, gd->value)->type;
        const Type *gt = &gval(g, gd->terms[0].gate)->type;
        if (vt->rank < 1 || vt->dims[0] != gt->dims[0])
            return diag(c->d, "guard '%s': value '%s' and gate '%s' differ in batch dim", gd->name,
                        gval(g, gd->value)->name, gval(g, gd->terms[0].gate)->name);
        if (!cg_ptr(c, gd->value)) return diag(c->d, "guard '%s': value has no storage", gd->name);
    }
    return 0;
}

/* Nodes [first, last) all belong to guard gid: the thresholded network of docs/annotations.md
 * ("Branch annotations"): instance r runs the region iff one of its terms holds, and a
 * branch's `value` is zero for the others (unless only BranchSums read it). At run time, by
 * the number of active instances: none — the region is jumped over; some or all — with a
 * symbolic batch on the active instances (emit_nodes_compact), with a fixed batch densely. */
static int emit_guard_run(Cg *c, int gid, int first, int last, LLVMValueRef scratch) {
    const Graph *g = c->g;
    const Guard *gd = &g->guards[gid];
    int64_t flops = 0; /* of the nodes here (Guard.flops may predate shape inference) */
    for (int i = first; i < last; i++)
        if (!gnode(g, i)->dead) flops += node_flops(g, gnode(g, i));
    bool dense = true;
    for (int t = 0; t < gd->nterm; t++) dense &= gd->terms[t].threshold <= 0;
    /* flops covers the gate's rows at batch 1 (with a fixed batch: all of them); the FLOPs
     * executed are counted by the instance (row) */
    if (dense) { /* dense by definition */
        SymInt r0 = sym_dim(&gval(g, gd->terms[0].gate)->type, 0);
        LLVMValueRef all = r0.n || r0.k ? cg_sym(c, r0) : cg_i64(c, 1);
        if (gd->value >= 0) {
            stats_add(c, CG_CTX_RUN, all);
            CgLoop l = cg_loop_begin(c, all, "guard.mask");
            mask_store(c, gid, l.iv, LLVMConstInt(c->t_i1, 1, 0));
            cg_loop_end(c, &l);
        }
        stats_add(c, CG_CTX_FLOPS,
                  LLVMBuildMul(c->b, all, cg_i64(c, flops / (r0.k ? r0.k : 1)), ""));
        return emit_nodes(c, first, last);
    }
    SymInt rows;
    if (guard_check(c, gd, &rows) < 0) return -1;
    int64_t nrows1 = rows.n ? 1 : (rows.k ? rows.k : 1); /* rows at batch 1 */
    bool zero = gd->value >= 0 && value_needs_zero(g, gd->value);
    int64_t vrow = gd->value >= 0 ? type_bytes(&gval(g, gd->value)->type, 1) / nrows1 : 0;

    /* count = number of active instances */
    LLVMValueRef nrows = cg_sym(c, rows);
    bool compact = rows.n && (gd->value < 0 || cg_storage_owner(g, gd->value) == gd->value);
    bool items = compact && c->items && region_items_ok(c, first, last, gd);
    LLVMValueRef cnt = cg_alloca(c, 8, 8);
    LLVMBuildStore(c->b, cg_i64(c, 0), cnt);
    CgLoop l = cg_loop_begin(c, nrows, "guard.count");
    LLVMValueRef on = guard_active(c, gd, l.iv);
    LLVMValueRef act = LLVMBuildZExt(c->b, on, c->t_i64, "");
    LLVMValueRef sofar = LLVMBuildLoad2(c->b, c->t_i64, cnt, "");
    if (items) /* the index list of the active instances: idx[count++] = r */
        LLVMBuildStore(c->b, l.iv, LLVMBuildInBoundsGEP2(c->b, c->t_i64, scratch, &sofar, 1, ""));
    LLVMBuildStore(c->b, LLVMBuildAdd(c->b, sofar, act, ""), cnt);
    mask_store(c, gid, l.iv, on);
    cg_loop_end(c, &l);
    LLVMValueRef count = LLVMBuildLoad2(c->b, c->t_i64, cnt, "active");
    if (gd->value >= 0) {
        stats_add(c, CG_CTX_RUN, count);
        stats_add(c, CG_CTX_SKIPPED, LLVMBuildSub(c->b, nrows, count, ""));
    }
    stats_add(c, CG_CTX_FLOPS,
              LLVMBuildMul(c->b, count, cg_i64(c, flops / (rows.k ? rows.k : 1)), ""));
    LLVMBasicBlockRef none = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "guard.none");
    LLVMBasicBlockRef some = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "guard.run");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "guard.join");
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, count, cg_i64(c, 0), ""), none, some);

    LLVMPositionBuilderAtEnd(c->b, none);
    if (zero) cg_memset0(c, cg_ptr(c, gd->value), cg_bytes(c, gd->value));
    LLVMBuildBr(c->b, join);

    LLVMPositionBuilderAtEnd(c->b, some);
    LLVMValueRef all = LLVMBuildICmp(c->b, LLVMIntEQ, count, nrows, "all");
    if (items) {
        if (emit_nodes_items(c, first, last, count, all, scratch, flops) < 0) return -1;
    } else if (compact) {
        if (emit_nodes_compact(c, first, last, gd, nrows, count, all, scratch) < 0) return -1;
    } else if (emit_nodes(c, first, last) < 0) {
        return -1;
    }
    if (zero) {
        LLVMBasicBlockRef z = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "guard.zero");
        LLVMBuildCondBr(c->b, all, join, z);
        LLVMPositionBuilderAtEnd(c->b, z);
        zero_inactive_rows(c, gd, gd->value, nrows, vrow);
    }
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, join);
    return 0;
}

/* Rows [lo, hi) of a BranchSum's output: each written once, from the rows of its plain inputs
 * (px[0..np)) and of the branch values bx[t] whose guard bg[t] ran for that instance (zero if
 * there is nothing to add). `row`: elements per row. */
static void emit_bsum_rows(Cg *c, int y, int np, const int *px, int nb, const int *bx,
                           const Guard **bg, int64_t row, LLVMValueRef lo, LLVMValueRef hi) {
    LLVMTypeRef ts[3] = {c->t_i64, c->t_ptr, c->t_ptr};
    LLVMValueRef started = cg_alloca(c, 1, 1);
    CgLoop l = cg_loop_begin(c, LLVMBuildSub(c->b, hi, lo, ""), "bsum.row");
    LLVMValueRef r = LLVMBuildNUWAdd(c->b, lo, l.iv, "");
    LLVMValueRef off = LLVMBuildNUWMul(c->b, r, cg_i64(c, row * 4), "");
    LLVMValueRef yrow = cg_gep(c, cg_ptr(c, y), off);
    for (int t = 0; t < np; t++) {
        LLVMValueRef xrow = cg_gep(c, cg_ptr(c, px[t]), off);
        if (t == 0) {
            cg_memcpy(c, yrow, xrow, cg_i64(c, row * 4));
        } else {
            LLVMValueRef args[3] = {cg_i64(c, row), xrow, yrow};
            cg_call(c, "isbrt_acc_f32", c->t_void, 3, ts, args);
        }
    }
    LLVMBuildStore(c->b, LLVMConstInt(c->t_i8, np > 0, 0), started);
    for (int t = 0; t < nb; t++) {
        LLVMBasicBlockRef live = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
        LLVMBasicBlockRef add = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
        LLVMBasicBlockRef copy = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
        LLVMBuildCondBr(c->b, guard_active(c, bg[t], r), live, next);
        LLVMPositionBuilderAtEnd(c->b, live);
        LLVMValueRef xrow = cg_gep(c, cg_ptr(c, bx[t]), off);
        LLVMValueRef st = LLVMBuildLoad2(c->b, c->t_i8, started, "");
        LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, st, LLVMConstInt(c->t_i8, 0, 0), ""),
                        add, copy);
        LLVMPositionBuilderAtEnd(c->b, add);
        LLVMValueRef args[3] = {cg_i64(c, row), xrow, yrow};
        cg_call(c, "isbrt_acc_f32", c->t_void, 3, ts, args);
        LLVMBuildBr(c->b, next);
        LLVMPositionBuilderAtEnd(c->b, copy);
        cg_memcpy(c, yrow, xrow, cg_i64(c, row * 4));
        LLVMBuildStore(c->b, LLVMConstInt(c->t_i8, 1, 0), started);
        LLVMBuildBr(c->b, next);
        LLVMPositionBuilderAtEnd(c->b, next);
    }
    if (np == 0) {
        LLVMBasicBlockRef zero = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
        LLVMValueRef st = LLVMBuildLoad2(c->b, c->t_i8, started, "");
        LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, st, LLVMConstInt(c->t_i8, 0, 0), ""),
                        done, zero);
        LLVMPositionBuilderAtEnd(c->b, zero);
        cg_memset0(c, yrow, cg_i64(c, row * 4));
        LLVMBuildBr(c->b, done);
        LLVMPositionBuilderAtEnd(c->b, done);
    }
    cg_loop_end(c, &l);
}

/* BranchSum (passes/insert_guards.c): y = the sum of its plain inputs and, row by row, of the
 * branch values whose branch ran for that instance. The rows are split over the run's team
 * (isbrt_team_items; in the entry function, which has the arena); each output row is written
 * once. */
static int emit_branch_sum(Cg *c, const Node *n) {
    const Graph *g = c->g;
    int y = n->out[0];
    LLVMValueRef yp = cg_ptr(c, y);
    if (!yp) return 0;
    const Type *yt = &gval(g, y)->type;
    if (yt->dtype != DT_F32) return cg_fail(c, "output is %s, only f32", dtype_name(yt->dtype));
    int *px = malloc(sizeof *px * (size_t)(n->nin + 1)), np = 0;
    int *bx = malloc(sizeof *bx * (size_t)(n->nin + 1)), nb = 0;
    const Guard **bg = malloc(sizeof *bg * (size_t)(n->nin + 1));
    if (!px || !bx || !bg) abort();
    int bad = 0;
    SymInt rows = sym_dim(yt, 0);
    for (int k = 0; k < n->nin && !bad; k++) {
        int x = n->in[k], gid = value_branch_guard(g, x);
        if (!cg_ptr(c, x))
            bad = cg_fail(c, "input %d has no storage", k);
        else if (cg_may_overlap(c, x, y))
            bad = cg_fail(c, "input %d overlaps the output", k);
        if (bad || gid < 0) {
            px[np++] = x;
            continue;
        }
        SymInt r;
        bad = guard_check(c, &g->guards[gid], &r);
        if (!bad && nb > 0 && (r.n != rows.n || r.k != rows.k))
            bad = cg_fail(c, "branch values of different batch rows");
        rows = r;
        bx[nb] = x, bg[nb++] = &g->guards[gid];
    }
    if (!bad && nb == 0 && np == 0) cg_memset0(c, yp, cg_bytes(c, y));
    if (bad || (nb == 0 && np == 0)) {
        free(px), free(bx), free(bg);
        return bad;
    }
    int64_t nrows1 = rows.n ? 1 : (rows.k ? rows.k : 1);
    int64_t row = type_numel(yt, 1) / nrows1;
    LLVMValueRef nrows = cg_sym(c, rows);
    if (!c->arena || c->fn != c->team_fn) {
        emit_bsum_rows(c, y, np, px, nb, bx, bg, row, cg_i64(c, 0), nrows);
        free(px), free(bx), free(bg);
        return 0;
    }
    /* P.bsumK(ctx, lo, hi, thread, team): rows [lo, hi), on the run's team */
    LLVMTypeRef pt[5] = {c->t_ptr, c->t_i64, c->t_i64, c->t_i32, c->t_ptr};
    char suffix[48];
    snprintf(suffix, sizeof suffix, ".bsum%d", c->uid++);
    LLVMValueRef f = cg_add_fn(c, suffix, LLVMFunctionType(c->t_i32, pt, 5, 0), true);
    LLVMValueRef ctx = cg_alloca(c, 8 * IC_COUNT, 8);
    LLVMValueRef field[3] = {c->batch, c->ins, c->arena};
    for (int k = 0; k < 3; k++) LLVMBuildStore(c->b, field[k], cg_gep_c(c, ctx, 8 * k));
    LLVMBuildStore(c->b, c->stats, cg_gep_c(c, ctx, 8 * IC_STATS));
    LLVMValueRef args[5] = {c->team ? c->team : LLVMConstPointerNull(c->t_ptr), nrows,
                            cg_i64(c, row * (n->nin > 0 ? n->nin : 1)), f, ctx};
    LLVMTypeRef at[5] = {c->t_ptr, c->t_i64, c->t_i64, c->t_ptr, c->t_ptr};
    cg_call(c, "isbrt_team_items", c->t_i32, 5, at, args);

    LLVMValueRef sfn = c->fn, sbatch = c->batch, sstats = c->stats;
    LLVMBasicBlockRef sentry = c->entry, saved_bb = LLVMGetInsertBlock(c->b);
    LLVMValueRef *svptr = c->vptr;
    c->vptr = calloc((size_t)g->nval + 1, sizeof *c->vptr);
    if (!c->vptr) abort();
    cg_begin_fn(c, f);
    LLVMValueRef fctx = LLVMGetParam(f, 0);
    c->batch = LLVMBuildLoad2(c->b, c->t_i64, cg_gep_c(c, fctx, 8 * IC_BATCH), "");
    LLVMValueRef ins = LLVMBuildLoad2(c->b, c->t_ptr, cg_gep_c(c, fctx, 8 * IC_INS), "");
    LLVMValueRef arena = LLVMBuildLoad2(c->b, c->t_ptr, cg_gep_c(c, fctx, 8 * IC_ARENA), "");
    c->stats = LLVMBuildLoad2(c->b, c->t_ptr, cg_gep_c(c, fctx, 8 * IC_STATS), "");
    for (int i = 0; i < g->ninput; i++) {
        LLVMValueRef idx = cg_i64(c, i);
        c->vptr[g->inputs[i]] = LLVMBuildLoad2(
            c->b, c->t_ptr, LLVMBuildInBoundsGEP2(c->b, c->t_ptr, ins, &idx, 1, ""), "");
    }
    cg_resolve_ptr(c, arena, y, 0);
    for (int k = 0; k < n->nin; k++) cg_resolve_ptr(c, arena, n->in[k], 0);
    for (int t = 0; t < nb; t++)
        for (int q = 0; q < bg[t]->nterm; q++) cg_resolve_ptr(c, arena, bg[t]->terms[q].gate, 0);
    emit_bsum_rows(c, y, np, px, nb, bx, bg, row, LLVMGetParam(f, 1), LLVMGetParam(f, 2));
    LLVMBuildRet(c->b, cg_i32(c, CG_RET_OK));
    free(c->vptr);
    c->vptr = svptr;
    c->fn = sfn;
    c->entry = sentry;
    c->batch = sbatch;
    c->stats = sstats;
    LLVMPositionBuilderAtEnd(c->b, saved_bb);
    free(px), free(bx), free(bg);
    return 0;
}

/* ---- nodes ----------------------------------------------------------------------------- */

/* Dropout-13 in training mode with a nonzero ratio is random: not compiled. */
static bool dropout_is_identity(const Graph *g, const Node *n) {
    if (n->nin < 3 || n->in[2] < 0) return true;
    int64_t train = 1;
    int cnt = 0;
    if (value_const_ints(g, n->in[2], &train, 1, &cnt) && cnt == 1 && !train) return true;
    if (n->nin < 2 || n->in[1] < 0) return false; /* default ratio 0.5 */
    const Value *r = gval(g, n->in[1]);
    return (r->flags & VAL_CONST) && r->data && r->type.dtype == DT_F32 &&
           type_numel(&r->type, 1) == 1 && *(const float *)r->data == 0.0f;
}

static int emit_view(Cg *c, const Node *n) {
    if (n->op == OP_Dropout && !dropout_is_identity(c->g, n))
        return cg_fail(c, "training_mode (random dropout)");
    for (int j = 0; j < n->nout; j++) {
        int o = n->out[j];
        LLVMValueRef dst = cg_ptr(c, o);
        if (!dst) continue;
        if (j == 1 && n->op == OP_Dropout) { /* the mask of Dropout at inference: all true */
            LLVMBuildMemSet(c->b, dst, LLVMConstInt(c->t_i8, 1, 0), cg_bytes(c, o), 1);
            continue;
        }
        if (j > 0) return cg_fail(c, "output %d", j);
        LLVMValueRef src = cg_ptr(c, n->in[0]);
        if (!src) return cg_fail(c, "input '%s' has no storage", gval(c->g, n->in[0])->name);
        if (src == dst) continue;
        const Value *vi = gval(c->g, n->in[0]), *vo = gval(c->g, o);
        if (vi->offset >= 0 && vi->offset == vo->offset) continue;
        cg_memcpy(c, dst, src, cg_bytes(c, o));
    }
    return 0;
}

/* Shape-15 / Size-1 of a value with a symbolic batch (static ones are folded). */
static int emit_shape(Cg *c, const Node *n) {
    const Type *t = &gval(c->g, n->in[0])->type;
    LLVMValueRef dst = cg_ptr(c, n->out[0]);
    if (!dst) return 0;
    if (n->op == OP_Size) {
        LLVMBuildStore(c->b, cg_sym(c, sym_prod(t, 0, t->rank)), dst);
        return 0;
    }
    int64_t start = attr_int(n, "start", 0), end = attr_int(n, "end", t->rank);
    if (start < 0) start += t->rank;
    if (end < 0) end += t->rank;
    if (start < 0) start = 0;
    if (end > t->rank) end = t->rank;
    for (int64_t i = start; i < end; i++) {
        LLVMValueRef p = cg_gep_c(c, dst, (i - start) * 8);
        LLVMBuildStore(c->b, cg_sym(c, sym_dim(t, (int)i)), p);
    }
    return 0;
}

int cg_emit_node(Cg *c, int id) {
    const Node *n = gnode(c->g, id);
    c->node = id;
    if (n->dead) return 0;
    for (int j = 0; j < n->nout; j++) {
        const Type *t = &gval(c->g, n->out[j])->type;
        if (!type_known(t))
            return cg_fail(c, "output '%s' has no known type", gval(c->g, n->out[j])->name);
    }
    int r;
    switch (op_info(n->op)->lower) {
    case LOWER_VIEW: r = emit_view(c, n); break;
    case LOWER_SHAPE_OF: r = emit_shape(c, n); break;
    case LOWER_INTERNAL: r = emit_branch_sum(c, n); break; /* BranchSum, the only one */
    case LOWER_ELEMWISE:
    case LOWER_LOOP: r = cg_emit_elementwise(c, n); break;
    default: r = cg_emit_kernel(c, n); break;
    }
    c->node = -1;
    return r;
}

/* A guard region as its own function, called from the entry function: one huge function
 * with every region's control flow costs the backend (register allocation) far more than the
 * calls. The region function gets the batch, the input pointers, the workspace, the arena, the
 * guard scratch, the statistics accumulators and the run's thread team, and returns the run's
 * status. */
int cg_emit_region(Cg *c, int gid, int first, int last, LLVMValueRef ins, LLVMValueRef arena,
                   LLVMValueRef gscratch) {
    const Graph *g = c->g;
    LLVMTypeRef pt[9] = {c->t_i64, c->t_ptr, c->t_ptr, c->t_ptr, c->t_ptr,
                         c->t_ptr, c->t_ptr, c->t_ptr, c->t_i64};
    char suffix[48];
    snprintf(suffix, sizeof suffix, ".region%d", c->uid++);
    LLVMValueRef f = cg_add_fn(c, suffix, LLVMFunctionType(c->t_i32, pt, 9, 0), true);
    LLVMValueRef null = LLVMConstPointerNull(c->t_ptr);
    LLVMValueRef args[9] = {c->batch,
                            ins ? ins : null,
                            c->ws,
                            arena,
                            gscratch,
                            c->stats,
                            c->team ? c->team : null,
                            c->items ? c->items : null,
                            c->item_slice ? c->item_slice : cg_i64(c, 0)};
    LLVMValueRef rc = LLVMBuildCall2(c->b, LLVMGlobalGetValueType(f), f, args, 9, "");
    cg_bail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, rc, cg_i32(c, CG_RET_OK), ""));

    LLVMBasicBlockRef saved_bb = LLVMGetInsertBlock(c->b);
    LLVMValueRef sfn = c->fn, sbatch = c->batch, sws = c->ws, sstats = c->stats, steam = c->team;
    LLVMValueRef sins = c->ins, sarena = c->arena, sitems = c->items, sslice = c->item_slice;
    LLVMBasicBlockRef sentry = c->entry;
    LLVMValueRef *svptr = c->vptr;
    c->vptr = calloc((size_t)g->nval + 1, sizeof *c->vptr);
    if (!c->vptr) abort();
    cg_begin_fn(c, f);
    c->batch = LLVMGetParam(f, 0);
    c->ws = LLVMGetParam(f, 2);
    c->stats = LLVMGetParam(f, 5);
    c->team = LLVMGetParam(f, 6);
    c->ins = LLVMGetParam(f, 1);
    c->arena = LLVMGetParam(f, 3);
    c->items = c->items ? LLVMGetParam(f, 7) : NULL;
    c->item_slice = LLVMGetParam(f, 8);
    for (int i = 0; i < g->ninput; i++) {
        LLVMValueRef idx = cg_i64(c, i);
        c->vptr[g->inputs[i]] = LLVMBuildLoad2(
            c->b, c->t_ptr, LLVMBuildInBoundsGEP2(c->b, c->t_ptr, LLVMGetParam(f, 1), &idx, 1, ""),
            "");
    }
    const Guard *gd = &g->guards[gid];
    for (int t = 0; t < gd->nterm; t++) cg_resolve_ptr(c, LLVMGetParam(f, 3), gd->terms[t].gate, 0);
    if (gd->value >= 0) cg_resolve_ptr(c, LLVMGetParam(f, 3), gd->value, 0);
    for (int i = first; i < last; i++) {
        const Node *n = gnode(g, i);
        for (int k = 0; k < n->nin + n->nout; k++) {
            int v = k < n->nin ? n->in[k] : n->out[k - n->nin];
            if (v >= 0) cg_resolve_ptr(c, LLVMGetParam(f, 3), v, 0);
        }
    }
    int r = emit_guard_run(c, gid, first, last, LLVMGetParam(f, 4));
    if (r == 0) LLVMBuildRet(c->b, cg_i32(c, CG_RET_OK));
    free(c->vptr);
    c->vptr = svptr;
    c->fn = sfn;
    c->entry = sentry;
    c->batch = sbatch;
    c->ws = sws;
    c->stats = sstats;
    c->team = steam;
    c->ins = sins;
    c->arena = sarena;
    c->items = sitems;
    c->item_slice = sslice;
    LLVMPositionBuilderAtEnd(c->b, saved_bb);
    return r;
}
