/* cg.h — private to codegen/: the state of one module under construction and the layers that
 * build it, each calling only the ones below it:
 *   api.c        the generated C API (entry points, argument checks, workspace layout)
 *   module.c     the walk over the nodes, and guarded regions
 *   kernels.c, elementwise.c, lower_*.c   the emitters, one per op family
 *   builder.c    LLVM helpers, value storage, functions, scratch, the thread team
 * Nothing outside codegen/ includes it. */
#ifndef ISBC_CODEGEN_CG_H
#define ISBC_CODEGEN_CG_H

#include <llvm-c/Core.h>

#include "codegen.h"

/* An integer known at compile time up to one factor of the run-time batch:
 * value = k * (n ? batch : 1). Dims and strides of values with a symbolic N are SymInts. */
typedef struct SymInt {
    int64_t k;
    bool n;
} SymInt;

static inline SymInt sym_const(int64_t k) {
    return (SymInt){k, false};
}
static inline SymInt sym_mul(SymInt a, SymInt b) {
    return (SymInt){a.k * b.k, a.n || b.n}; /* at most one of them carries N */
}
/* dims[d] of t as a SymInt. */
static inline SymInt sym_dim(const Type *t, int d) {
    return t->dims[d] == IR_DIM_N ? (SymInt){1, true} : sym_const(t->dims[d]);
}
/* Product of dims [from, to) of t. */
SymInt sym_prod(const Type *t, int from, int to);

/* A kernel call that needs scratch memory at the start of the workspace: `size_fn`
 * (size_t size_fn(const P *param), from isbrt.h) gives its byte count. */
typedef struct CgScratch {
    const char *size_fn;
    LLVMValueRef param;
} CgScratch;

typedef struct Cg {
    const Graph *g;
    const CodegenOptions *o;
    Diag *d;
    const char *prefix;
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTypeRef t_void, t_i1, t_i8, t_i32, t_i64, t_f32, t_f64, t_ptr;
    LLVMValueRef fn;         /* function being emitted */
    LLVMBasicBlockRef entry; /* its entry block (allocas go there) */
    LLVMValueRef batch;      /* i64: the batch multiplier (run-time batch, or 1 if static) */
    LLVMValueRef ws;         /* workspace base (kernel scratch lives at its start) */
    LLVMValueRef team;       /* the run's thread team (isbrt_team_begin), or NULL */
    LLVMValueRef team_fn;    /* the function that owns it: its early returns end the team */
    LLVMValueRef stats;      /* the run's context, i64[CG_CTX_SLOTS] (codegen/api.c) */
    LLVMValueRef ins, arena; /* the inputs array and the arena of the current function */
    LLVMValueRef items;      /* the items scratch (module.c, emit_nodes_items), or NULL */
    LLVMValueRef item_slice; /* i64: bytes of one thread's slice of it */
    LLVMValueRef *vptr;      /* per value id: its address, NULL if it has no storage */
    LLVMValueRef *consts;    /* per value id: the constant global, or NULL */
    CgScratch *scratch;      /* kernels that need scratch memory, for the scratch size */
    int nscratch, capscratch;
    int node; /* node being emitted, for diagnostics; -1 outside */
    int uid;  /* counter for unique internal names */
} Cg;

/* Diagnose a problem at the current node: "unsupported: OP (opset K) at node 'NAME': ..."
 * Returns -1. */
int cg_fail(Cg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

LLVMValueRef cg_i32(Cg *c, int64_t v);
LLVMValueRef cg_i64(Cg *c, int64_t v);
LLVMValueRef cg_f32(Cg *c, float v);
LLVMValueRef cg_sym(Cg *c, SymInt s);                           /* as an i64 */
LLVMValueRef cg_gep(Cg *c, LLVMValueRef p, LLVMValueRef bytes); /* p + bytes */
LLVMValueRef cg_gep_c(Cg *c, LLVMValueRef p, int64_t bytes);
/* A private constant global holding `size` bytes (aligned to `align`). */
LLVMValueRef cg_const_bytes(Cg *c, const void *bytes, size_t size, unsigned align,
                            const char *name);
/* A stack slot of `bytes` in the entry block of the current function. */
LLVMValueRef cg_alloca(Cg *c, size_t bytes, unsigned align);
/* A pointer to an array of int64 SymInts: a constant global if none depends on the batch,
 * else a stack slot filled at this point. */
LLVMValueRef cg_i64_array(Cg *c, int count, const SymInt *v);
/* A parameter struct given as the bytes of a C struct from isbrt.h; the int64 fields at
 * byte offsets `offs` are replaced by the SymInts `vals` (which may depend on the batch). */
LLVMValueRef cg_param(Cg *c, const void *bytes, size_t size, int npatch, const size_t *offs,
                      const SymInt *vals);
/* Record that a kernel called with `param` needs size_fn(param) bytes of scratch. */
void cg_add_scratch(Cg *c, const char *size_fn, LLVMValueRef param);
/* Call (declaring on first use) an external function; ret may be t_void. */
LLVMValueRef cg_call(Cg *c, const char *name, LLVMTypeRef ret, int nargs, LLVMTypeRef *types,
                     LLVMValueRef *args);
void cg_memcpy(Cg *c, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef bytes);
void cg_memset0(Cg *c, LLVMValueRef dst, LLVMValueRef bytes);
/* Address of value v in the current function; NULL if it has none (unused output). */
LLVMValueRef cg_ptr(Cg *c, int v);
/* Byte count of value v as an i64 (scales with the batch when it has N). */
LLVMValueRef cg_bytes(Cg *c, int v);
/* Can the storage of values a and b overlap? (false for distinct graph inputs/constants and
 * for arena ranges that are disjoint per batch instance) */
bool cg_may_overlap(const Cg *c, int a, int b);

/* Simple counted loop: for (iv = 0; iv < trip; iv++), trip >= 1 (bottom-tested). */
typedef struct CgLoop {
    LLVMBasicBlockRef body, pre;
    LLVMValueRef iv, trip;
} CgLoop;
CgLoop cg_loop_begin(Cg *c, LLVMValueRef trip, const char *name);
void cg_loop_end(Cg *c, CgLoop *l);

/* Call an LLVM intrinsic ("llvm.exp" ...) overloaded on the nover types `over` (nover 0: on
 * the type of args[0]). */
LLVMValueRef cg_intrinsic(Cg *c, const char *name, int nover, LLVMTypeRef *over, int nargs,
                          LLVMValueRef *args);

/* ---- builder.c: storage ---- */

/* Bytes of v per batch instance: the range [offset, offset + this) holds it for batch 1. */
int64_t cg_instance_bytes(const Graph *g, int v);
/* Is v a view's output sharing its input's buffer (the plan gave it the input's offset, or
 * none)? A view in another region than its input has a buffer of its own (passes/plan.c). */
bool cg_aliases_input(const Graph *g, int v);
/* The value that owns v's storage: v itself, or the source of the view chain it ends. */
int cg_storage_owner(const Graph *g, int v);
/* Address of v given the function's inputs are already loaded into c->vptr: computes arena
 * addresses and resolves views (memoised in c->vptr). */
LLVMValueRef cg_resolve_ptr(Cg *c, LLVMValueRef arena, int v, int depth);
/* Arena bytes per batch instance, rounded up so that the guard scratch after it is aligned. */
int64_t cg_arena_per_batch(const Graph *g);
/* True if the batch is symbolic; else *fixed is the batch the model was exported with. */
bool codegen_batch_info(const Graph *g, int64_t *fixed);

/* ---- builder.c: functions ---- */

/* Status codes of the generated entry points. */
enum { CG_RET_OK = 0, CG_RET_EBADARG = 1 };

/* The run's context (Cg.stats), i64 slots on the entry function's stack, passed to every
 * region function: the five P_stats accumulators, then the call's options (P_options). */
enum {
    CG_CTX_BRANCHES,  /* guarded branches per instance */
    CG_CTX_RUN,       /* branches run, summed over instances */
    CG_CTX_SKIPPED,   /* branches skipped, summed over instances */
    CG_CTX_FLOPS,     /* FLOPs executed */
    CG_CTX_DENSE,     /* FLOPs of the dense model */
    CG_CTX_THRESHOLD, /* f32 in the slot's first 4 bytes: the threshold override, < 0: none */
    CG_CTX_MASK,      /* u8 *: instances x branches, 1 where the instance ran it; or NULL */
    CG_CTX_SLOTS
};
/* Add function PREFIX+suffix (nounwind; internal linkage if asked). */
LLVMValueRef cg_add_fn(Cg *c, const char *suffix, LLVMTypeRef ft, bool internal);
/* Make f the current function and position at its new entry block. */
void cg_begin_fn(Cg *c, LLVMValueRef f);
/* The run's thread team (runtime: isbrt_team_begin): P_run_ex keeps a team on its stack
 * from after its argument checks to its return; region functions get it as an argument.
 * `threads` (i32, <= 0: the runtime's setting) bounds its size; a run of `inst` instances
 * (i64) of `flops` each (the dense model's) starts threads only when inst * flops reaches
 * TEAM_MIN_RUN_FLOPS (builder.c), else it runs on the caller's thread. */
void cg_team_begin(Cg *c, LLVMValueRef threads, LLVMValueRef inst, int64_t flops);
void cg_team_end(Cg *c); /* only in the function that began it */
/* f32: the call's threshold override (P_options.threshold), < 0 when there is none. */
LLVMValueRef cg_threshold_override(Cg *c);
/* In an entry or region function: return EBADARG if the i1 `bad` holds (ending the team
 * first in the function that owns it), else go on. */
void cg_bail_if(Cg *c, LLVMValueRef bad);

/* ---- the emitters ---- */

/* Per-op emitters (return 0, or -1 with the diagnostic set): cg_emit_elementwise for the ops
 * whose lowering (ops.def) is elementwise or loop, cg_emit_kernel for kernel. */
int cg_emit_elementwise(Cg *c, const Node *n);
int cg_emit_kernel(Cg *c, const Node *n);

/* ---- module.c: the walk and guarded regions ---- */

/* Emit node id with the emitter its lowering names; 0, or -1 with the diagnostic set. */
int cg_emit_node(Cg *c, int id);
/* Emit the guarded region [first, last) of guard gid as its own function and call it from
 * the current function (inputs `ins`, the arena and the guard scratch). */
int cg_emit_region(Cg *c, int gid, int first, int last, LLVMValueRef ins, LLVMValueRef arena,
                   LLVMValueRef gscratch);
/* Guard scratch bytes per batch instance (max over the guarded regions). */
int64_t cg_guards_scratch_per_batch(const Graph *g);
/* The items scratch of regions run instance by instance (emit_nodes_items): its bytes (i64, 0
 * if no region runs so) given `kscratch`, P.scratch(); and the bytes of a thread's slice of
 * it beyond its kernel scratch (*any: some region runs so). */
LLVMValueRef cg_items_scratch_bytes(Cg *c, LLVMValueRef kscratch);
int64_t cg_items_temps_per_thread(Cg *c, bool *any);

/* ---- api.c ---- */

/* The module for graph g (the one function every output path shares); NULL with d set. */
LLVMModuleRef cg_build_module(LLVMContextRef ctx, const Graph *g, const CodegenOptions *o, Diag *d);

#endif
