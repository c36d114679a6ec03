/* api.c — the generated C API (docs/api.md): one LLVM module per graph defining
 *   size_t P_workspace_size(int64_t batch);
 *   int P_run_ex(int64_t batch, const void *const *in, void *const *out, void *ws,
 *                const P_options *opts, int64_t stats[5]);
 *   int P_run_stats(int64_t batch, const void *const *in, void *const *out, void *ws,
 *                   int64_t stats[5]);
 *   int P_run_v(int64_t batch, const void *const *in, void *const *out, void *ws);
 *   int P_run(int64_t batch, <one pointer per input>, <one per output>, void *ws);
 *   const P_tensor_info *P_input_info(int i), *P_output_info(int i);
 *   const char *P_branch_name(int b);
 * with no mutable global state; argument checks, then the walk of module.c.
 *
 * Requires a graph after the full pipeline: every value typed, dims static except dims[0]
 * may be N, memory planned (Value.offset: per-instance byte offset in the activation arena,
 * address = arena + offset * batch; -1 on a view of a graph input or constant, whose address
 * is that of its source). Guarantees a verified module. Workspace layout: [kernel scratch,
 * 64-aligned][arena, rounded up to 64 per instance][guard scratch: compact sub-batches of
 * guarded regions]. */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>

#include "cg.h"

/* ---- entry points ---------------------------------------------------------------------- */

static LLVMValueRef align64(Cg *c, LLVMValueRef v) {
    LLVMValueRef s = LLVMBuildAdd(c->b, v, cg_i64(c, 63), "");
    return LLVMBuildAnd(c->b, s, cg_i64(c, ~(int64_t)63), "");
}

/* P.scratch(): max over the kernels of cg_add_scratch of their scratch size, rounded up to 64. */
static void emit_scratch_fn(Cg *c, LLVMValueRef f) {
    cg_begin_fn(c, f);
    LLVMValueRef m = cg_i64(c, 0);
    for (int i = 0; i < c->nscratch; i++) {
        LLVMTypeRef pt = c->t_ptr;
        LLVMValueRef s = cg_call(c, c->scratch[i].size_fn, c->t_i64, 1, &pt, &c->scratch[i].param);
        LLVMValueRef gt = LLVMBuildICmp(c->b, LLVMIntUGT, s, m, "");
        m = LLVMBuildSelect(c->b, gt, s, m, "");
    }
    LLVMBuildRet(c->b, align64(c, m));
}

static LLVMValueRef batch_mult(Cg *c, LLVMValueRef batch, bool symbolic) {
    return symbolic ? batch : cg_i64(c, 1);
}

/* The largest batch the generated code handles: batch times the per-instance bytes of the
 * workspace, or of any one value, stays within INT64_MAX / 2 (the kernel scratch, sized per
 * instance, fits in the other half), so no size or offset computed at run time wraps. */
static int64_t max_batch(const Graph *g) {
    int64_t per = cg_arena_per_batch(g) + cg_guards_scratch_per_batch(g);
    for (int v = 0; v < g->nval; v++) {
        int64_t b = type_bytes(&gval(g, v)->type, 1);
        if (b > per) per = b;
    }
    return INT64_MAX / 2 / (per > 0 ? per : 1);
}

/* P_workspace_size(batch): 0 if batch < 1, SIZE_MAX if batch > max_batch (P_run refuses it). */
static void emit_workspace_fn(Cg *c, LLVMValueRef f, LLVMValueRef scratch_fn, bool symbolic) {
    cg_begin_fn(c, f);
    LLVMValueRef batch = LLVMGetParam(f, 0);
    LLVMValueRef s =
        LLVMBuildCall2(c->b, LLVMGlobalGetValueType(scratch_fn), scratch_fn, NULL, 0, "");
    LLVMValueRef arena =
        LLVMBuildMul(c->b, cg_i64(c, cg_arena_per_batch(c->g) + cg_guards_scratch_per_batch(c->g)),
                     batch_mult(c, batch, symbolic), "");
    LLVMValueRef total = LLVMBuildAdd(c->b, s, arena, "");
    if (symbolic) total = LLVMBuildAdd(c->b, total, cg_items_scratch_bytes(c, s), "");
    LLVMValueRef bad = LLVMBuildICmp(c->b, LLVMIntSLT, batch, cg_i64(c, 1), "");
    LLVMValueRef big = LLVMBuildICmp(c->b, LLVMIntSGT, batch, cg_i64(c, max_batch(c->g)), "");
    total = LLVMBuildSelect(c->b, big, cg_i64(c, -1), total, "");
    LLVMBuildRet(c->b, LLVMBuildSelect(c->b, bad, cg_i64(c, 0), total, ""));
}

static LLVMValueRef or_bad(Cg *c, LLVMValueRef bad, LLVMValueRef cond) {
    return bad ? LLVMBuildOr(c->b, bad, cond, "") : cond;
}

static LLVMValueRef is_null(Cg *c, LLVMValueRef p) {
    return LLVMBuildIsNull(c->b, p, "");
}

/* Field offsets of P_options {float threshold; int32_t threads; uint8_t *mask;}. */
enum { OPT_THRESHOLD = 0, OPT_THREADS = 4, OPT_MASK = 8, OPT_BYTES = 16 };

/* P_run_ex(batch, inputs, outputs, ws, opts, stats): the model. opts (may be NULL: the
 * defaults) sets the call's threshold override, thread team and mask buffer (CG_CTX_*);
 * stats (may be NULL) receives the branch statistics: {branches per instance, branches run,
 * branches skipped (both summed over instances), FLOPs executed, FLOPs of the dense model
 * (both summed over instances)}. */
static int emit_run_ex(Cg *c, LLVMValueRef f, LLVMValueRef scratch_fn, bool symbolic,
                       int64_t fixed) {
    const Graph *g = c->g;
    cg_begin_fn(c, f);
    LLVMValueRef batch = LLVMGetParam(f, 0), ins = LLVMGetParam(f, 1), outs = LLVMGetParam(f, 2),
                 ws = LLVMGetParam(f, 3), opts = LLVMGetParam(f, 4), stats_out = LLVMGetParam(f, 5);
    c->stats = cg_alloca(c, CG_CTX_SLOTS * 8, 8);
    /* the options, or the defaults {-1, 0, NULL} when opts is NULL */
    LLVMValueRef defaults = cg_alloca(c, OPT_BYTES, 8);
    LLVMBuildStore(c->b, cg_f32(c, -1.0f), cg_gep_c(c, defaults, OPT_THRESHOLD));
    LLVMBuildStore(c->b, cg_i32(c, 0), cg_gep_c(c, defaults, OPT_THREADS));
    LLVMBuildStore(c->b, LLVMConstPointerNull(c->t_ptr), cg_gep_c(c, defaults, OPT_MASK));
    opts = LLVMBuildSelect(c->b, is_null(c, opts), defaults, opts, "opts");
    LLVMValueRef thr = LLVMBuildLoad2(c->b, c->t_f32, cg_gep_c(c, opts, OPT_THRESHOLD), "");
    LLVMValueRef threads = LLVMBuildLoad2(c->b, c->t_i32, cg_gep_c(c, opts, OPT_THREADS), "");
    LLVMValueRef mask = LLVMBuildLoad2(c->b, c->t_ptr, cg_gep_c(c, opts, OPT_MASK), "");
    /* NaN counts as no override */
    thr = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealUNO, thr, thr, ""), cg_f32(c, -1.0f),
                          thr, "threshold");
    LLVMBuildStore(c->b, cg_i64(c, 0), cg_gep_c(c, c->stats, 8 * CG_CTX_THRESHOLD));
    LLVMBuildStore(c->b, thr, cg_gep_c(c, c->stats, 8 * CG_CTX_THRESHOLD));
    LLVMBuildStore(c->b, mask, cg_gep_c(c, c->stats, 8 * CG_CTX_MASK));
    LLVMValueRef bad = LLVMBuildICmp(c->b, LLVMIntSLT, batch, cg_i64(c, 1), "");
    bad = or_bad(c, bad, LLVMBuildICmp(c->b, LLVMIntSGT, batch, cg_i64(c, max_batch(g)), ""));
    if (!symbolic)
        bad = or_bad(c, bad, LLVMBuildICmp(c->b, LLVMIntNE, batch, cg_i64(c, fixed), ""));
    if (g->ninput) bad = or_bad(c, bad, is_null(c, ins));
    if (g->noutput) bad = or_bad(c, bad, is_null(c, outs));
    cg_bail_if(c, bad);

    c->batch = batch_mult(c, batch, symbolic);
    bad = NULL;
    LLVMValueRef *optr = calloc((size_t)g->noutput + 1, sizeof *optr);
    for (int i = 0; i < g->ninput; i++) {
        LLVMValueRef idx = cg_i64(c, i);
        LLVMValueRef p = LLVMBuildLoad2(
            c->b, c->t_ptr, LLVMBuildInBoundsGEP2(c->b, c->t_ptr, ins, &idx, 1, ""), "");
        LLVMSetValueName2(p, gval(g, g->inputs[i])->name, strlen(gval(g, g->inputs[i])->name));
        c->vptr[g->inputs[i]] = p;
        /* a tensor with no elements may come without storage (NULL) */
        if (type_numel(&gval(g, g->inputs[i])->type, 1) != 0) bad = or_bad(c, bad, is_null(c, p));
    }
    for (int i = 0; i < g->noutput; i++) {
        LLVMValueRef idx = cg_i64(c, i);
        optr[i] = LLVMBuildLoad2(c->b, c->t_ptr,
                                 LLVMBuildInBoundsGEP2(c->b, c->t_ptr, outs, &idx, 1, ""), "");
        if (type_numel(&gval(g, g->outputs[i])->type, 1) != 0)
            bad = or_bad(c, bad, is_null(c, optr[i]));
    }
    LLVMValueRef scratch =
        LLVMBuildCall2(c->b, LLVMGlobalGetValueType(scratch_fn), scratch_fn, NULL, 0, "scratch");
    LLVMValueRef total = LLVMBuildAdd(
        c->b, scratch,
        LLVMBuildMul(c->b, cg_i64(c, cg_arena_per_batch(g) + cg_guards_scratch_per_batch(g)),
                     c->batch, ""),
        "");
    if (symbolic) total = LLVMBuildAdd(c->b, total, cg_items_scratch_bytes(c, scratch), "");
    LLVMValueRef wsi = LLVMBuildPtrToInt(c->b, ws, c->t_i64, "");
    LLVMValueRef misaligned = LLVMBuildICmp(
        c->b, LLVMIntNE, LLVMBuildAnd(c->b, wsi, cg_i64(c, 63), ""), cg_i64(c, 0), "");
    LLVMValueRef need = LLVMBuildICmp(c->b, LLVMIntNE, total, cg_i64(c, 0), "");
    bad = or_bad(c, bad, misaligned);
    bad = or_bad(c, bad, LLVMBuildAnd(c->b, need, is_null(c, ws), ""));
    cg_bail_if(c, bad);

    c->ws = ws;
    int64_t nbranch = 0, fl_plain = 0, fl_all = 0;
    for (int i = 0; i < g->nguard; i++) nbranch += g->guards[i].value >= 0;
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        int64_t f = node_flops(g, n);
        fl_all += f;
        if (n->guard < 0) fl_plain += f;
    }
    /* node_flops counts one instance of a symbolic batch, every instance of a fixed one */
    LLVMValueRef inst = batch_mult(c, batch, symbolic);
    LLVMValueRef init[5] = {cg_i64(c, nbranch), cg_i64(c, 0), cg_i64(c, 0),
                            LLVMBuildMul(c->b, inst, cg_i64(c, fl_plain), ""),
                            LLVMBuildMul(c->b, inst, cg_i64(c, fl_all), "")};
    cg_team_begin(c, threads, inst, fl_all);
    for (int k = 0; k < 5; k++) LLVMBuildStore(c->b, init[k], cg_gep_c(c, c->stats, 8 * k));
    LLVMValueRef arena = cg_gep(c, ws, scratch);
    /* the guard scratch (emit_nodes_compact) follows the arena */
    LLVMValueRef gscratch =
        cg_gep(c, arena, LLVMBuildNUWMul(c->b, cg_i64(c, cg_arena_per_batch(g)), c->batch, ""));
    /* the items scratch (module.c, emit_nodes_items) follows the guard scratch */
    bool any_items;
    int64_t item_temps = cg_items_temps_per_thread(c, &any_items);
    c->items = NULL;
    c->item_slice = NULL;
    if (symbolic && any_items) {
        c->items =
            cg_gep(c, gscratch,
                   LLVMBuildNUWMul(c->b, cg_i64(c, cg_guards_scratch_per_batch(g)), c->batch, ""));
        c->item_slice = LLVMBuildAdd(c->b, scratch, cg_i64(c, item_temps), "");
    }
    c->ins = ins;
    c->arena = arena;
    for (int v = 0; v < g->nval; v++) {
        const Value *val = gval(g, v);
        if ((val->flags & VAL_CONST) && !val->data) continue; /* diagnosed at use */
        cg_resolve_ptr(c, arena, v, 0);
    }
    int rc = 0;
    for (int i = 0; i < g->nnode && rc == 0;) {
        const Node *n = gnode(g, i);
        for (int j = 0; j < n->nin; j++) {
            int v = n->in[j];
            if (v >= 0 && (gval(g, v)->flags & VAL_CONST) && !gval(g, v)->data) {
                c->node = i;
                rc = cg_fail(c, "constant '%s' has no data (weights elided)", gval(g, v)->name);
                break;
            }
        }
        if (rc) break;
        if (n->guard >= 0 && !n->dead) {
            int j = i + 1;
            while (j < g->nnode && gnode(g, j)->guard == n->guard) j++;
            rc = cg_emit_region(c, n->guard, i, j, ins, arena, gscratch);
            i = j;
        } else {
            rc = cg_emit_node(c, i);
            i++;
        }
    }
    for (int i = 0; i < g->noutput && rc == 0; i++) {
        int v = g->outputs[i];
        LLVMValueRef src = cg_ptr(c, v);
        if (!src) {
            rc = diag(c->d, "codegen: graph output '%s' has no storage", gval(g, v)->name);
            break;
        }
        cg_memcpy(c, optr[i], src, cg_bytes(c, v));
    }
    free(optr);
    if (rc) {
        c->team = NULL;
        return -1;
    }
    LLVMBasicBlockRef put = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "stats");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "done");
    LLVMBuildCondBr(c->b, is_null(c, stats_out), done, put);
    LLVMPositionBuilderAtEnd(c->b, put);
    cg_memcpy(c, stats_out, c->stats, cg_i64(c, 5 * 8));
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
    cg_team_end(c);
    c->team = NULL;
    LLVMBuildRet(c->b, cg_i32(c, CG_RET_OK));
    return 0;
}

/* P_run_stats(batch, inputs, outputs, ws, stats) = P_run_ex(..., NULL, stats);
 * P_run_v(batch, inputs, outputs, ws) = P_run_ex(..., NULL, NULL). */
static void emit_run_via_ex(Cg *c, LLVMValueRef f, LLVMValueRef run_ex, bool with_stats) {
    cg_begin_fn(c, f);
    LLVMValueRef null = LLVMConstPointerNull(c->t_ptr);
    LLVMValueRef args[6] = {LLVMGetParam(f, 0),
                            LLVMGetParam(f, 1),
                            LLVMGetParam(f, 2),
                            LLVMGetParam(f, 3),
                            null,
                            with_stats ? LLVMGetParam(f, 4) : null};
    LLVMBuildRet(c->b, LLVMBuildCall2(c->b, LLVMGlobalGetValueType(run_ex), run_ex, args, 6, ""));
}

/* ---- self-description: P_input_info, P_output_info, P_branch_name ------------------------ */

/* A private constant C string. */
static LLVMValueRef const_str(Cg *c, const char *s) {
    return cg_const_bytes(c, s, strlen(s) + 1, 1, "str");
}

/* f(i) = table[i] for 0 <= i < n, else NULL: a switch over constant pointers. */
static void emit_table_fn(Cg *c, LLVMValueRef f, LLVMValueRef *table, int n) {
    cg_begin_fn(c, f);
    LLVMBasicBlockRef none = LLVMAppendBasicBlockInContext(c->ctx, f, "none");
    LLVMValueRef sw = LLVMBuildSwitch(c->b, LLVMGetParam(f, 0), none, (unsigned)n);
    for (int i = 0; i < n; i++) {
        LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(c->ctx, f, "entry");
        LLVMAddCase(sw, cg_i32(c, i), bb);
        LLVMPositionBuilderAtEnd(c->b, bb);
        LLVMBuildRet(c->b, table[i]);
    }
    LLVMPositionBuilderAtEnd(c->b, none);
    LLVMBuildRet(c->b, LLVMConstPointerNull(c->t_ptr));
}

/* P_tensor_info {const char *name; int32_t dtype; int32_t rank; const int64_t *dims;} of each
 * graph input (or output), dims -1 for the symbolic batch. */
static void emit_info_fn(Cg *c, LLVMValueRef f, const int *vals, int n) {
    LLVMTypeRef st_fields[4] = {c->t_ptr, c->t_i32, c->t_i32, c->t_ptr};
    LLVMTypeRef st = LLVMStructTypeInContext(c->ctx, st_fields, 4, 0);
    LLVMValueRef *table = calloc((size_t)n + 1, sizeof *table);
    if (!table) abort();
    for (int i = 0; i < n; i++) {
        const Value *v = gval(c->g, vals[i]);
        const Type *t = &v->type;
        int64_t dims[IR_MAX_RANK + 1];
        for (int d = 0; d < t->rank; d++) dims[d] = t->dims[d] < 0 ? -1 : t->dims[d];
        LLVMValueRef fields[4] = {
            const_str(c, v->name), cg_i32(c, t->dtype), cg_i32(c, t->rank),
            t->rank ? cg_const_bytes(c, dims, sizeof(int64_t) * (size_t)t->rank, 8, "dims")
                    : LLVMConstPointerNull(c->t_ptr)};
        LLVMValueRef gv = LLVMAddGlobal(c->mod, st, "info");
        LLVMSetInitializer(gv, LLVMConstNamedStruct(st, fields, 4));
        LLVMSetGlobalConstant(gv, 1);
        LLVMSetLinkage(gv, LLVMPrivateLinkage);
        LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
        table[i] = gv;
    }
    emit_table_fn(c, f, table, n);
    free(table);
}

/* The guarded branches in guard order (P_stats.branches, the columns of the mask). */
static void emit_branch_name_fn(Cg *c, LLVMValueRef f) {
    const Graph *g = c->g;
    LLVMValueRef *table = calloc((size_t)g->nguard + 1, sizeof *table);
    if (!table) abort();
    int n = 0;
    for (int i = 0; i < g->nguard; i++)
        if (g->guards[i].value >= 0) table[n++] = const_str(c, g->guards[i].name);
    emit_table_fn(c, f, table, n);
    free(table);
}

/* P_run(batch, in0.., out0.., ws): packs the pointers and calls P_run_v. */
static void emit_run(Cg *c, LLVMValueRef f, LLVMValueRef run_v) {
    const Graph *g = c->g;
    cg_begin_fn(c, f);
    int k = g->ninput, m = g->noutput;
    LLVMValueRef ins = cg_alloca(c, (size_t)(k ? k : 1) * 8, 8);
    LLVMValueRef outs = cg_alloca(c, (size_t)(m ? m : 1) * 8, 8);
    for (int i = 0; i < k + m; i++)
        LLVMBuildStore(c->b, LLVMGetParam(f, (unsigned)(1 + i)),
                       cg_gep_c(c, i < k ? ins : outs, (int64_t)(i < k ? i : i - k) * 8));
    LLVMValueRef args[4] = {LLVMGetParam(f, 0), ins, outs, LLVMGetParam(f, (unsigned)(1 + k + m))};
    LLVMBuildRet(c->b, LLVMBuildCall2(c->b, LLVMGlobalGetValueType(run_v), run_v, args, 4, ""));
}

static int check_graph(const Graph *g, Diag *d) {
    for (int v = 0; v < g->nval; v++) {
        const Type *t = &gval(g, v)->type;
        if (!type_known(t)) continue; /* only values that are used matter; checked at nodes */
        for (int i = 1; i < t->rank; i++)
            if (t->dims[i] < 0)
                return diag(d, "codegen: value '%s' has a symbolic dim other than the first",
                            gval(g, v)->name);
    }
    for (int i = 0; i < g->ninput; i++)
        if (!type_known(&gval(g, g->inputs[i])->type))
            return diag(d, "codegen: input '%s' has no known type", gval(g, g->inputs[i])->name);
    for (int i = 0; i < g->noutput; i++)
        if (!type_known(&gval(g, g->outputs[i])->type))
            return diag(d, "codegen: output '%s' has no known type", gval(g, g->outputs[i])->name);
    if (g->mem_per_batch < 0) return diag(d, "codegen: graph has no memory plan");
    return 0;
}

LLVMModuleRef cg_build_module(LLVMContextRef ctx, const Graph *g, const CodegenOptions *o,
                              Diag *d) {
    if (check_graph(g, d) < 0) return NULL;
    Cg cg = {0}, *c = &cg;
    c->g = g;
    c->o = o;
    c->d = d;
    c->prefix = o && o->prefix && *o->prefix ? o->prefix : "model";
    c->ctx = ctx;
    c->mod = LLVMModuleCreateWithNameInContext(g->name ? g->name : "model", ctx);
    c->b = LLVMCreateBuilderInContext(ctx);
    c->node = -1;
    c->t_void = LLVMVoidTypeInContext(ctx);
    c->t_i1 = LLVMInt1TypeInContext(ctx);
    c->t_i8 = LLVMInt8TypeInContext(ctx);
    c->t_i32 = LLVMInt32TypeInContext(ctx);
    c->t_i64 = LLVMInt64TypeInContext(ctx);
    c->t_f32 = LLVMFloatTypeInContext(ctx);
    c->t_f64 = LLVMDoubleTypeInContext(ctx);
    c->t_ptr = LLVMPointerTypeInContext(ctx, 0);
    c->vptr = calloc((size_t)g->nval + 1, sizeof *c->vptr);
    c->consts = calloc((size_t)g->nval + 1, sizeof *c->consts);

    int64_t fixed;
    bool symbolic = codegen_batch_info(g, &fixed);
    LLVMTypeRef p4[6] = {c->t_i64, c->t_ptr, c->t_ptr, c->t_ptr, c->t_ptr, c->t_ptr};
    LLVMValueRef scratch_fn =
        cg_add_fn(c, ".scratch", LLVMFunctionType(c->t_i64, NULL, 0, 0), true);
    LLVMValueRef ws_fn =
        cg_add_fn(c, "_workspace_size", LLVMFunctionType(c->t_i64, p4, 1, 0), false);
    LLVMValueRef run_ex = cg_add_fn(c, "_run_ex", LLVMFunctionType(c->t_i32, p4, 6, 0), false);
    LLVMValueRef run_stats =
        cg_add_fn(c, "_run_stats", LLVMFunctionType(c->t_i32, p4, 5, 0), false);
    LLVMValueRef run_v = cg_add_fn(c, "_run_v", LLVMFunctionType(c->t_i32, p4, 4, 0), false);
    int np = 2 + g->ninput + g->noutput;
    LLVMTypeRef *pr = calloc((size_t)np, sizeof *pr);
    pr[0] = c->t_i64;
    for (int i = 1; i < np; i++) pr[i] = c->t_ptr;
    LLVMValueRef run = cg_add_fn(c, "_run", LLVMFunctionType(c->t_i32, pr, (unsigned)np, 0), false);
    free(pr);

    LLVMTypeRef pint = c->t_i32;
    LLVMValueRef in_info =
        cg_add_fn(c, "_input_info", LLVMFunctionType(c->t_ptr, &pint, 1, 0), false);
    LLVMValueRef out_info =
        cg_add_fn(c, "_output_info", LLVMFunctionType(c->t_ptr, &pint, 1, 0), false);
    LLVMValueRef branch_name =
        cg_add_fn(c, "_branch_name", LLVMFunctionType(c->t_ptr, &pint, 1, 0), false);

    int rc = emit_run_ex(c, run_ex, scratch_fn, symbolic, fixed);
    if (rc == 0) {
        emit_run_via_ex(c, run_stats, run_ex, true);
        emit_run_via_ex(c, run_v, run_ex, false);
        emit_info_fn(c, in_info, g->inputs, g->ninput);
        emit_info_fn(c, out_info, g->outputs, g->noutput);
        emit_branch_name_fn(c, branch_name);
        emit_scratch_fn(c, scratch_fn);
        emit_workspace_fn(c, ws_fn, scratch_fn, symbolic);
        emit_run(c, run, run_v);
        char *msg = NULL;
        if (LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &msg)) {
            rc = diag(d, "codegen: internal error: invalid module: %.800s", msg ? msg : "");
        }
        LLVMDisposeMessage(msg);
    }
    LLVMDisposeBuilder(c->b);
    free(c->vptr);
    free(c->consts);
    free(c->scratch);
    if (rc) {
        LLVMDisposeModule(c->mod);
        return NULL;
    }
    return c->mod;
}
