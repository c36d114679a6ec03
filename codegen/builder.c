/* builder.c — what every emitter builds with: LLVM helpers (constants, addresses, calls,
 * loops, parameter structs), value storage (where each value lives: the activation arena, a
 * constant global, a graph input, or the buffer of the view it aliases), functions of the
 * generated module, kernel scratch and the run's thread team. Calls nothing else in codegen/. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/isbrt.h"
#include "cg.h"

SymInt sym_prod(const Type *t, int from, int to) {
    SymInt s = sym_const(1);
    for (int i = from; i < to; i++) s = sym_mul(s, sym_dim(t, i));
    return s;
}

int cg_fail(Cg *c, const char *fmt, ...) {
    char detail[512], lbl[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (c->node < 0) return diag(c->d, "codegen: %s", detail);
    const Node *n = gnode(c->g, c->node);
    node_label(c->g, c->node, lbl, sizeof lbl);
    return diag_unsupported(c->d, op_info(n->op)->name, NULL, c->g->opset, lbl, ": %s", detail);
}

/* ---- small IR helpers ---------------------------------------------------------------- */

LLVMValueRef cg_i32(Cg *c, int64_t v) {
    return LLVMConstInt(c->t_i32, (unsigned long long)v, 1);
}
LLVMValueRef cg_i64(Cg *c, int64_t v) {
    return LLVMConstInt(c->t_i64, (unsigned long long)v, 1);
}
LLVMValueRef cg_f32(Cg *c, float v) {
    return LLVMConstReal(c->t_f32, v);
}
LLVMValueRef cg_sym(Cg *c, SymInt s) {
    if (!s.n) return cg_i64(c, s.k);
    if (s.k == 1) return c->batch;
    return LLVMBuildNUWMul(c->b, c->batch, cg_i64(c, s.k), "");
}
LLVMValueRef cg_gep(Cg *c, LLVMValueRef p, LLVMValueRef bytes) {
    return LLVMBuildInBoundsGEP2(c->b, c->t_i8, p, &bytes, 1, "");
}
LLVMValueRef cg_gep_c(Cg *c, LLVMValueRef p, int64_t bytes) {
    return bytes ? cg_gep(c, p, cg_i64(c, bytes)) : p;
}

LLVMValueRef cg_const_bytes(Cg *c, const void *bytes, size_t size, unsigned align,
                            const char *name) {
    LLVMValueRef init = LLVMConstStringInContext2(c->ctx, bytes, size, 1);
    LLVMValueRef gv = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name ? name : "param");
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(gv, align);
    return gv;
}

LLVMValueRef cg_alloca(Cg *c, size_t bytes, unsigned align) {
    LLVMBuilderRef tb = LLVMCreateBuilderInContext(c->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(c->entry);
    if (first)
        LLVMPositionBuilderBefore(tb, first);
    else
        LLVMPositionBuilderAtEnd(tb, c->entry);
    LLVMValueRef a = LLVMBuildAlloca(tb, LLVMArrayType2(c->t_i8, bytes), "");
    LLVMSetAlignment(a, align);
    LLVMDisposeBuilder(tb);
    return a;
}

LLVMValueRef cg_i64_array(Cg *c, int count, const SymInt *v) {
    int64_t buf[64] = {0};
    size_t offs[64];
    SymInt patch[64];
    int np = 0;
    assert(count <= 64);
    for (int i = 0; i < count; i++) {
        buf[i] = v[i].n ? 0 : v[i].k;
        if (v[i].n) {
            offs[np] = (size_t)i * 8;
            patch[np++] = v[i];
        }
    }
    return cg_param(c, buf, (size_t)(count ? count : 1) * 8, np, offs, patch);
}

LLVMValueRef cg_param(Cg *c, const void *bytes, size_t size, int npatch, const size_t *offs,
                      const SymInt *vals) {
    LLVMValueRef gv = cg_const_bytes(c, bytes, size, 16, "param");
    if (npatch == 0) return gv;
    LLVMValueRef a = cg_alloca(c, size, 16);
    LLVMBuildMemCpy(c->b, a, 16, gv, 16, cg_i64(c, (int64_t)size));
    for (int i = 0; i < npatch; i++) {
        LLVMValueRef st =
            LLVMBuildStore(c->b, cg_sym(c, vals[i]), cg_gep_c(c, a, (int64_t)offs[i]));
        LLVMSetAlignment(st, 8);
    }
    return a;
}

LLVMValueRef cg_call(Cg *c, const char *name, LLVMTypeRef ret, int nargs, LLVMTypeRef *types,
                     LLVMValueRef *args) {
    LLVMTypeRef ft = LLVMFunctionType(ret, types, (unsigned)nargs, 0);
    LLVMValueRef f = LLVMGetNamedFunction(c->mod, name);
    if (!f) {
        f = LLVMAddFunction(c->mod, name, ft);
        unsigned k = LLVMGetEnumAttributeKindForName("nounwind", 8);
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                                LLVMCreateEnumAttribute(c->ctx, k, 0));
    }
    return LLVMBuildCall2(c->b, ft, f, args, (unsigned)nargs, "");
}

LLVMValueRef cg_intrinsic(Cg *c, const char *name, int nover, LLVMTypeRef *over, int nargs,
                          LLVMValueRef *args) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    assert(id != 0);
    LLVMTypeRef t0 = LLVMTypeOf(args[0]);
    if (nover == 0) {
        nover = 1;
        over = &t0;
    }
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, over, (size_t)nover);
    LLVMTypeRef ft = LLVMIntrinsicGetType(c->ctx, id, over, (size_t)nover);
    return LLVMBuildCall2(c->b, ft, f, args, (unsigned)nargs, "");
}

void cg_memcpy(Cg *c, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef bytes) {
    LLVMBuildMemCpy(c->b, dst, 1, src, 1, bytes);
}
void cg_memset0(Cg *c, LLVMValueRef dst, LLVMValueRef bytes) {
    LLVMBuildMemSet(c->b, dst, LLVMConstInt(c->t_i8, 0, 0), bytes, 1);
}

LLVMValueRef cg_bytes(Cg *c, int v) {
    const Type *t = &gval(c->g, v)->type;
    SymInt s = sym_prod(t, 0, t->rank);
    s.k *= (int64_t)dtype_size(t->dtype);
    return cg_sym(c, s);
}

CgLoop cg_loop_begin(Cg *c, LLVMValueRef trip, const char *name) {
    CgLoop l;
    l.pre = LLVMGetInsertBlock(c->b);
    l.body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, name);
    l.trip = trip;
    LLVMBuildBr(c->b, l.body);
    LLVMPositionBuilderAtEnd(c->b, l.body);
    l.iv = LLVMBuildPhi(c->b, c->t_i64, "i");
    return l;
}

void cg_loop_end(Cg *c, CgLoop *l) {
    LLVMValueRef next = LLVMBuildNUWAdd(c->b, l->iv, cg_i64(c, 1), "");
    LLVMValueRef more = LLVMBuildICmp(c->b, LLVMIntULT, next, l->trip, "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "");
    LLVMBuildCondBr(c->b, more, l->body, exit);
    LLVMValueRef vals[2] = {cg_i64(c, 0), next};
    LLVMBasicBlockRef blocks[2] = {l->pre, latch};
    LLVMAddIncoming(l->iv, vals, blocks, 2);
    LLVMPositionBuilderAtEnd(c->b, exit);
}

/* ---- value addresses ----------------------------------------------------------------- */

/* Bytes of v per batch instance: the range [offset, offset + this) holds it for batch 1. */
int64_t cg_instance_bytes(const Graph *g, int v) {
    return type_bytes(&gval(g, v)->type, 1);
}

/* Is v a view's output sharing its input's buffer (the plan gave it the input's offset, or
 * none)? A view in another region than its input has a buffer of its own (passes/plan.c). */
bool cg_aliases_input(const Graph *g, int v) {
    const Value *val = gval(g, v);
    if (val->def < 0) return false;
    const Node *n = gnode(g, val->def);
    if (!op_is_view(n->op) || n->out[0] != v || n->in[0] < 0) return false;
    return val->offset < 0 || val->offset == gval(g, n->in[0])->offset;
}

/* The value that owns v's storage: v itself, or the source of the view chain it ends. */
int cg_storage_owner(const Graph *g, int v) {
    for (int depth = 0; depth < 10000; depth++) {
        const Value *val = gval(g, v);
        if (val->offset >= 0 || (val->flags & (VAL_INPUT | VAL_CONST)) || val->def < 0) break;
        const Node *n = gnode(g, val->def);
        if (!op_is_view(n->op) || n->in[0] < 0) break;
        v = n->in[0];
    }
    return v;
}

bool cg_may_overlap(const Cg *c, int a, int b) {
    const Graph *g = c->g;
    a = cg_storage_owner(g, a);
    b = cg_storage_owner(g, b);
    if (a == b) return true;
    const Value *va = gval(g, a), *vb = gval(g, b);
    if ((va->flags & VAL_CONST) || (vb->flags & VAL_CONST)) return false;
    if ((va->flags & VAL_INPUT) && (vb->flags & VAL_INPUT)) return true; /* the user's call */
    if ((va->flags & VAL_INPUT) || (vb->flags & VAL_INPUT)) return false;
    if (va->offset < 0 || vb->offset < 0) return true;
    int64_t ea = va->offset + cg_instance_bytes(g, a), eb = vb->offset + cg_instance_bytes(g, b);
    return va->offset < eb && vb->offset < ea;
}

static LLVMValueRef const_global(Cg *c, int v) {
    if (c->consts[v]) return c->consts[v];
    const Value *val = gval(c->g, v);
    if (!val->data) return NULL;
    char name[300];
    snprintf(name, sizeof name, "w.%s", val->name);
    size_t sz = (size_t)type_bytes(&val->type, 1);
    static const char zero[8] = {0};
    c->consts[v] = cg_const_bytes(c, sz ? val->data : zero, sz ? sz : 1, 64, name);
    return c->consts[v];
}

/* Address of v given the function's inputs/outputs arrays are already loaded into vptr for
 * graph inputs; computes arena addresses and resolves views (memoised in c->vptr). */
LLVMValueRef cg_resolve_ptr(Cg *c, LLVMValueRef arena, int v, int depth) {
    if (c->vptr[v]) return c->vptr[v];
    const Value *val = gval(c->g, v);
    LLVMValueRef p = NULL;
    if (val->flags & VAL_CONST) {
        p = const_global(c, v);
    } else if (val->offset >= 0) {
        LLVMValueRef off = LLVMBuildNUWMul(c->b, cg_i64(c, val->offset), c->batch, "");
        p = cg_gep(c, arena, off);
        LLVMSetValueName2(p, val->name, strlen(val->name));
    } else if (val->def >= 0 && depth < 10000) {
        const Node *n = gnode(c->g, val->def);
        if (op_is_view(n->op) && n->out[0] == v && n->in[0] >= 0)
            p = cg_resolve_ptr(c, arena, n->in[0], depth + 1);
    }
    c->vptr[v] = p;
    return p;
}

#ifndef NDEBUG
typedef struct Touch {
    int v;
    bool found;
} Touch;

static void touch(int v, void *ctx) {
    Touch *t = ctx;
    t->found |= t->v == v;
}

/* Is v among what node i writes or reads (node_reads, which the memory plan trusts)? */
static bool node_touches(const Graph *g, int i, int v) {
    const Node *n = gnode(g, i);
    for (int k = 0; k < n->nout; k++)
        if (n->out[k] == v) return true;
    Touch t = {v, false};
    node_reads(g, i, touch, &t);
    return t.found;
}
#endif

LLVMValueRef cg_ptr(Cg *c, int v) {
    assert(c->node < 0 || v < 0 || node_touches(c->g, c->node, v));
    return v >= 0 ? c->vptr[v] : NULL;
}

/* Arena bytes per batch instance, rounded up so that the guard scratch after it is aligned. */
int64_t cg_arena_per_batch(const Graph *g) {
    return (g->mem_per_batch + 63) / 64 * 64;
}

/* ---- batch ----------------------------------------------------------------------------- */

/* A graph is batch-symbolic if an input or output has dims[0] == N. A graph without the
 * symbolic batch computes its tensors as declared, once per call: its batch is fixed to 1
 * (the multiplier of every arena offset), whatever its leading dims are. */
bool codegen_batch_info(const Graph *g, int64_t *fixed) {
    *fixed = 1;
    for (int i = 0; i < g->ninput + g->noutput; i++) {
        int v = i < g->ninput ? g->inputs[i] : g->outputs[i - g->ninput];
        if (type_has_batch(&gval(g, v)->type)) return true;
    }
    return false;
}

LLVMValueRef cg_add_fn(Cg *c, const char *suffix, LLVMTypeRef ft, bool internal) {
    char name[256];
    snprintf(name, sizeof name, "%s%s", c->prefix, suffix);
    LLVMValueRef f = LLVMAddFunction(c->mod, name, ft);
    if (internal) LLVMSetLinkage(f, LLVMInternalLinkage);
    unsigned k = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, k, 0));
    return f;
}

void cg_begin_fn(Cg *c, LLVMValueRef f) {
    c->fn = f;
    c->entry = LLVMAppendBasicBlockInContext(c->ctx, f, "entry");
    LLVMPositionBuilderAtEnd(c->b, c->entry);
}

void cg_add_scratch(Cg *c, const char *size_fn, LLVMValueRef param) {
    if (c->nscratch == c->capscratch) {
        c->capscratch = c->capscratch ? 2 * c->capscratch : 16;
        c->scratch = realloc(c->scratch, sizeof *c->scratch * (size_t)c->capscratch);
        if (!c->scratch) abort();
    }
    c->scratch[c->nscratch++] = (CgScratch){size_fn, param};
}

/* ---- the run's thread team (runtime: isbrt_team_begin) ----------------------------------
 * P_run_stats keeps a team of threads on its stack from after its argument checks to its
 * return, so kernels split over threads without creating any (the runtime has no global
 * state to keep a pool in). Its region functions get the team as an argument; an early
 * return of P_run_stats itself (cg_bail_if) ends the team first. */
/* FLOPs (of the dense model, over the batch) from which a run starts its team: starting and
 * joining a thread costs about as much as 2 MFLOPs of small kernels, and splitting small
 * kernels gains little, so smaller runs (ISBNet at batch 1: 7.7 MFLOPs) stay on the caller's
 * thread, where a team made 2 threads twice as slow as 1. */
#define TEAM_MIN_RUN_FLOPS ((int64_t)16 << 20)

void cg_team_begin(Cg *c, LLVMValueRef threads, LLVMValueRef inst, int64_t flops) {
    c->team = cg_alloca(c, ISBRT_TEAM_BYTES, 64);
    c->team_fn = c->fn;
    LLVMValueRef big = LLVMConstInt(c->t_i1, flops >= TEAM_MIN_RUN_FLOPS, 0);
    if (flops > 0 && flops < TEAM_MIN_RUN_FLOPS) /* inst * flops >= min, without overflow */
        big = LLVMBuildICmp(c->b, LLVMIntSGE, inst,
                            cg_i64(c, (TEAM_MIN_RUN_FLOPS + flops - 1) / flops), "team.big");
    LLVMTypeRef t[2] = {c->t_ptr, c->t_i32};
    LLVMValueRef a[2] = {c->team, LLVMBuildSelect(c->b, big, threads, cg_i32(c, 1), "")};
    cg_call(c, "isbrt_team_begin", c->t_void, 2, t, a);
}

void cg_team_end(Cg *c) {
    if (!c->team || c->fn != c->team_fn) return;
    cg_call(c, "isbrt_team_end", c->t_void, 1, &c->t_ptr, &c->team);
}

void cg_bail_if(Cg *c, LLVMValueRef bad) {
    if (!bad) return;
    LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "bad");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "ok");
    LLVMBuildCondBr(c->b, bad, fail, ok);
    LLVMPositionBuilderAtEnd(c->b, fail);
    cg_team_end(c);
    LLVMBuildRet(c->b, cg_i32(c, CG_RET_EBADARG));
    LLVMPositionBuilderAtEnd(c->b, ok);
}
