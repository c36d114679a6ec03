/* ir.h — the isbc graph IR: the one internal header of the ir/ layer.
 *
 * A Graph owns everything it refers to in one arena (freed at once by graph_free). Values and
 * nodes are referred to by integer ids (indices into g->vals / g->nodes), never by pointer,
 * because the arrays grow. Every value has a dtype and a static shape, except that the
 * leading dim may be the symbolic batch N (IR_DIM_N), which becomes a run-time argument.
 *
 * Nodes are kept in a valid execution order (every input defined before use). A node's op
 * comes from the X-macro table ir/ops.def. A guard is a region of nodes that runs per
 * instance only where gate[n][index] >= threshold (docs/annotations.md).
 *
 * Errors on user input go through Diag (message, exit status 1 in the driver); violations
 * of our own invariants are assert()s.
 */
#ifndef ISBC_IR_H
#define ISBC_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- diagnostics --------------------------------------------------------------------- */

typedef struct Diag {
    char msg[1024];
} Diag;

/* s with its control characters (bytes < 0x20 and 0x7f) written as \xNN, into buf (truncated
 * to len); returns buf. Names from a model pass through it before reaching a terminal. */
const char *str_printable(const char *s, char *buf, size_t len);
/* Format msg into d (if d != NULL) and return -1, so callers write `return diag(d, ...)`.
 * Control characters in the message are escaped (str_printable). */
int diag(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one form of a message about a node: "OP (opset N) at node 'NODE'" followed by the
 * formatted tail, which brings its own separator (": expected 2 inputs", "; fix it with
 * --shape") or is NULL. diag_unsupported: "unsupported: OP WHAT (opset N) at node 'NODE'" and
 * the tail, for what isbc does not handle (WHAT says which part, e.g. "attribute 'x'"; NULL
 * when it is the op itself). Both return -1 like diag. */
int diag_node(Diag *d, const char *op, int opset, const char *node, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int diag_unsupported(Diag *d, const char *op, const char *what, int opset, const char *node,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---- arena --------------------------------------------------------------------------- */

typedef struct Arena Arena;
Arena *arena_new(void);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t size); /* zeroed, 16-byte aligned; aborts on OOM */
char *arena_strdup(Arena *a, const char *s);
void *arena_memdup(Arena *a, const void *p, size_t size);

/* ---- string -> int map (open addressing, arena-backed) ------------------------------- */

typedef struct StrMap {
    Arena *arena;
    const char **keys;
    int *vals;
    int cap, len;
} StrMap;
void strmap_init(StrMap *m, Arena *a);
void strmap_put(StrMap *m, const char *key, int val); /* key must outlive the map */
int strmap_get(const StrMap *m, const char *key);     /* -1 if absent */

/* ---- dtypes (numbered as ONNX TensorProto.DataType) ---------------------------------- */

enum {
    DT_UNDEF = 0,
    DT_F32 = 1,
    DT_U8 = 2,
    DT_I8 = 3,
    DT_U16 = 4,
    DT_I16 = 5,
    DT_I32 = 6,
    DT_I64 = 7,
    DT_STRING = 8,
    DT_BOOL = 9,
    DT_F16 = 10,
    DT_F64 = 11,
    DT_U32 = 12,
    DT_U64 = 13,
    DT_COUNT
};
size_t dtype_size(int dt);          /* 0 for undefined/string */
const char *dtype_name(int dt);     /* "f32", "i64", ... ; "?" if unknown */
int dtype_from_name(const char *s); /* DT_UNDEF if unknown */
bool dtype_is_float(int dt);

/* ---- types --------------------------------------------------------------------------- */

#define IR_MAX_RANK 8
#define IR_DIM_N (-1)       /* the symbolic batch dim (only ever dims[0]) */
#define IR_DIM_UNKNOWN (-2) /* not yet inferred */
#define IR_RANK_UNKNOWN (-1)

typedef struct Type {
    int32_t dtype;
    int32_t rank; /* IR_RANK_UNKNOWN before shape inference */
    int64_t dims[IR_MAX_RANK];
} Type;

Type type_make(int dtype, int rank, const int64_t *dims);
bool type_known(const Type *t);                /* rank and every dim known (N allowed) */
bool type_has_batch(const Type *t);            /* dims[0] == IR_DIM_N */
bool type_equal(const Type *a, const Type *b); /* dtype, rank and dims */
/* The largest tensor isbc accepts, in bytes (64 TiB): shape inference refuses any value whose
 * size at batch 1 exceeds it, so size sums over a graph's values cannot wrap int64. */
#define IR_MAX_BYTES ((int64_t)1 << 46)
/* Element count and byte size with N replaced by `batch`, or -1 if a dim is negative or the
 * size exceeds IR_MAX_BYTES (checked: never wraps). */
int64_t type_numel(const Type *t, int64_t batch);
int64_t type_bytes(const Type *t, int64_t batch);
/* a * b, saturating at INT64_MAX (for non-negative counts such as FLOPs). */
int64_t sat_mul(int64_t a, int64_t b);
int64_t sat_add(int64_t a, int64_t b);
/* "f32[N,3,224,224]" into buf; returns buf. */
char *type_str(const Type *t, char *buf, size_t len);
/* ONNX axis a (negative counts from the end) of a tensor of rank `rank` as an index in
 * [0, rank), or -1 if it is out of range. */
static inline int axis_index(int64_t a, int rank) {
    if (a < -rank || a >= rank) return -1;
    return (int)(a < 0 ? a + rank : a);
}

/* ---- attributes ---------------------------------------------------------------------- */

typedef enum AttrKind {
    ATTR_INT,
    ATTR_FLOAT,
    ATTR_STRING,
    ATTR_INTS,
    ATTR_FLOATS,
    ATTR_STRINGS,
    ATTR_TENSOR,
    ATTR_GRAPH,
} AttrKind;

struct Graph;

typedef struct Attr {
    const char *name;
    AttrKind kind;
    int64_t i;
    float f;
    const char *s;
    int n; /* element count of ints / floats / strings */
    int64_t *ints;
    float *floats;
    const char **strings;
    Type ttype; /* ATTR_TENSOR: type and payload */
    void *tdata;
    struct Graph *graph; /* ATTR_GRAPH: a subgraph in the same arena */
} Attr;

/* ---- ops ----------------------------------------------------------------------------- */

enum {
    OPF_ELEMWISE = 1 << 0, /* output[i] depends on input[i] after broadcasting */
    OPF_UNARY = 1 << 1,
    OPF_BINARY = 1 << 2,
    OPF_FOLD = 1 << 3,     /* may be evaluated at compile time when inputs are constant */
    OPF_INTERNAL = 1 << 5, /* not an ONNX op */
    OPF_FUSE = 1 << 6,     /* a token of a fused elementwise program (passes/fuse_elementwise.c) */
};

/* How codegen lowers an op (ops.def's lower column). */
typedef enum Lower {
    LOWER_NONE = 0,
    LOWER_ELEMWISE, /* codegen/elementwise.c's loop over the broadcast output */
    LOWER_LOOP,     /* a loop nest of its own in codegen/elementwise.c (reductions, Trilu, ...) */
    LOWER_KERNEL,   /* codegen/kernels.c (mostly a call into the runtime) */
    LOWER_VIEW,     /* output 0 aliases input 0's bytes */
    LOWER_SHAPE_OF, /* a constant computed from the input's shape */
    LOWER_INTERNAL, /* codegen/module.c itself (BranchSum) */
    LOWER_IMPORT,   /* rewritten into other ops at import (frontend/normalize.c) */
} Lower;

/* The FLOPs rule of an op (ops.def's flops column; node_flops in ir/shape.c). out / in: the
 * elements of output 0 / input 0 per instance. */
typedef enum Flops {
    FL_MISSING = 0,    /* no rule: tests/unit/test_optable.c fails */
    FL_NONE,           /* no FLOPs (data movement), or none counted */
    FL_OUT,            /* out */
    FL_IN,             /* in */
    FL_CONV,           /* 2 * out * (c_in/group * kernel) */
    FL_CONV_TRANSPOSE, /* 2 * in * (c_out/group * kernel) */
    FL_GEMM,           /* 2 * out * k */
    FL_MATMUL,         /* 2 * out * k */
    FL_POOL,           /* out * kernel */
    FL_SOFTMAX,        /* 5 * out */
    FL_SOFTMAX_IN,     /* 5 * in */
    FL_BATCHNORM,      /* 2 * out */
    FL_PROGRAM,        /* out * the ops of the _code program */
    FL_BRANCH_SUM,     /* out * (inputs - 1) */
    FL_NORM,           /* 7 * in: mean, variance, scale and shift */
    FL_LPNORM,         /* 3 * in */
    FL_GRID_SAMPLE,    /* out * the taps of the mode (1, 4 or 16) * 2 */
    FL_RNN,            /* per direction and step, 2 * gates*H * (I + H) + the gates' pointwise */
} Flops;

typedef enum Op {
#define OP(id, mi, xi, mo, xo, fl, lo, act, flops, at) OP_##id,
#include "ops.def"
#undef OP
    OP_COUNT
} Op;

typedef struct OpInfo {
    const char *name;
    int min_in, max_in, min_out, max_out;
    unsigned flags;
    Lower lower;
    const char *act; /* fused activation name, or NULL */
    Flops flops;
    const char *attrs; /* schema, see ops.def */
} OpInfo;

const OpInfo *op_info(int op);
/* Does output 0 of op alias input 0's bytes (ops.def lowering view)? The
 * memory plan gives it the input's buffer when both run in the same region. */
bool op_is_view(int op);
int op_from_name(const char *name); /* -1 if unknown */
/* Kind of attribute `name` in op's schema, or -1 if the schema does not have it. */
int op_attr_kind(int op, const char *name);
/* The schema's default of attribute `name` of op (ops.def "name:kind=default"): true and *out
 * set if it has one. */
bool op_attr_default(int op, const char *name, double *out);
/* Does ir/shape.c have a shape rule for op? */
bool op_has_shape_rule(int op);

/* ---- values, nodes, guards, graph ------------------------------------------------------ */

enum {
    VAL_INPUT = 1 << 0,  /* a graph input */
    VAL_OUTPUT = 1 << 1, /* a graph output */
    VAL_CONST = 1 << 2,  /* an initializer / folded constant: data (or hash) is set */
};

typedef struct Value {
    const char *name; /* unique within the graph */
    Type type;
    int def;          /* producing node id, -1 for inputs and constants */
    unsigned flags;   /* VAL_* */
    const void *data; /* VAL_CONST payload, row-major; NULL if elided (parsed from a dump) */
    uint64_t hash;    /* VAL_CONST: content hash (value_hash) */
    int64_t offset;   /* memory plan: byte offset per batch instance; -1 if not planned */
} Value;

typedef struct Node {
    int op;
    const char *name; /* the ONNX node name ("" if none) */
    int nin, nout;
    int *in;  /* value ids; -1 for an absent optional input */
    int *out; /* value ids */
    int nattr;
    Attr *attrs;
    int guard; /* guard id or -1 */
    bool dead; /* removed; graph_compact drops it */
} Node;

typedef struct GuardTerm {
    int gate;        /* value id of a gate tensor, [N, ...] */
    int index;       /* element of the instance's gate row (row-major) */
    float threshold; /* the term holds for instance n iff gate[n][index] >= threshold */
} GuardTerm;

/* A region of nodes that runs, per instance, only where one of its terms holds. A branch
 * guard (one term, value >= 0) yields `value`, zero for the other instances. A shared region
 * (value -1; passes/insert_guards.c) holds nodes that only guarded regions read: its terms
 * are theirs, and its outputs are defined only for the instances where a term holds. */
typedef struct Guard {
    const char *name; /* branch name from the annotation; "shared.<k>" for a shared region */
    GuardTerm *terms;
    int nterm;
    int value;     /* the branch's weighted contribution (zero where skipped); -1 if shared */
    int64_t flops; /* static FLOPs of the region per instance */
} Guard;

typedef struct MetaProp {
    const char *key, *value;
} MetaProp;

typedef struct Graph {
    Arena *arena;
    const char *name;
    int opset; /* default-domain opset the model was imported with */
    Value *vals;
    int nval, capval;
    Node *nodes;
    int nnode, capnode;
    int *inputs; /* value ids, in order */
    int ninput, capinput;
    int *outputs; /* value ids, in order */
    int noutput, capoutput;
    Guard *guards;
    int nguard, capguard;
    MetaProp *meta;
    int nmeta, capmeta;
    StrMap names;          /* value name -> id */
    int64_t mem_per_batch; /* memory plan: activation arena bytes per batch instance */
} Graph;

Graph *graph_new(const char *name);
void graph_free(Graph *g);
void *graph_alloc(Graph *g, size_t size);
char *graph_strdup(Graph *g, const char *s);

/* A fresh value; name NULL or taken -> a unique name is made from `name` or "t". */
int graph_add_value(Graph *g, const char *name, Type t);
/* A constant value; the payload is copied into the arena (data NULL: elided, hash kept). */
int graph_add_const(Graph *g, const char *name, Type t, const void *data);
int graph_find_value(const Graph *g, const char *name); /* -1 if none */
void graph_add_input(Graph *g, int v);
void graph_add_output(Graph *g, int v);
void graph_set_meta(Graph *g, const char *key, const char *value);
const char *graph_meta(const Graph *g, const char *key); /* NULL if absent */
/* Add a guard; its name and terms are copied into the arena. */
int graph_add_guard(Graph *g, Guard gd);
/* Reorder the nodes: order[i] is the id of the node that moves to position i (a permutation
 * that keeps every value defined before its readers; defs are updated). */
void graph_apply_order(Graph *g, const int *order);
/* pinned[v] = true for every guard's gates and value (values passes must keep). */
void graph_pin_guards(const Graph *g, bool *pinned);

/* The branch guard whose `value` v is, when v is produced inside that guard; else -1. */
int value_branch_guard(const Graph *g, int v);
/* Every value the generated code of node i reads, each passed to fn once or more: its
 * inputs; the gates of its guard's terms (a region tests them per instance when it counts,
 * gathers, scatters and zeroes rows); for a BranchSum, the gates of the guards whose values
 * it adds row by row. Memory-plan lifetimes and the plan checker are built on this, and
 * codegen asserts that a node's code reads nothing else. */
void node_reads(const Graph *g, int i, void (*fn)(int v, void *ctx), void *ctx);

/* Append a node (its outputs' def is set to it). in/out are copied. Returns the node id. */
int graph_add_node(Graph *g, int op, const char *name, int nin, const int *in, int nout,
                   const int *out);
/* Replace every use of value `from` (node inputs, graph outputs) by `to`. */
void graph_replace_uses(Graph *g, int from, int to);
/* uses[v] = number of node inputs + graph outputs reading v (caller frees with free()). */
int *graph_use_counts(const Graph *g);
/* Drop dead nodes and restore a valid order (stable topological sort); renumbers nodes,
 * keeps value ids. Returns -1 (with d set) if the graph has a cycle. */
int graph_compact(Graph *g, Diag *d);

static inline Value *gval(const Graph *g, int v) {
    return &g->vals[v];
}
static inline Node *gnode(const Graph *g, int n) {
    return &g->nodes[n];
}

/* Make input k of n be v, growing the input list with absent (-1) inputs if needed. */
void node_set_input(Graph *g, Node *n, int k, int v);

/* Attributes: set replaces an existing attribute of the same name. */
Attr *node_attr(const Node *n, const char *name); /* NULL if absent */
void node_set_int(Graph *g, Node *n, const char *name, int64_t v);
void node_set_float(Graph *g, Node *n, const char *name, float v);
void node_set_string(Graph *g, Node *n, const char *name, const char *s);
void node_set_ints(Graph *g, Node *n, const char *name, const int64_t *v, int count);
void node_set_floats(Graph *g, Node *n, const char *name, const float *v, int count);
void node_set_attr(Graph *g, Node *n, const Attr *a); /* deep copy into the arena */
int64_t attr_int(const Node *n, const char *name, int64_t dflt);
float attr_float(const Node *n, const char *name, float dflt);
/* A float or int attribute, else its default in the op's schema (ops.def "name:kind=default";
 * asserts the schema has one). */
double attr_num(const Node *n, const char *name);
const char *attr_string(const Node *n, const char *name, const char *dflt);
/* Returns the count (or -1 if absent) and sets *v. */
int attr_ints(const Node *n, const char *name, const int64_t **v);

/* A node's display name for messages: its ONNX name, or "<op>#<id>" if it has none. */
const char *node_label(const Graph *g, int node, char *buf, size_t len);

/* Content hash of a constant payload (FNV-1a 64 over type and bytes). */
uint64_t value_hash(const Type *t, const void *data);
/* Constant payload as int64 (converting integer dtypes); false if not const/elided/too big. */
bool value_const_ints(const Graph *g, int v, int64_t *out, int max, int *count);
/* The same for a float (f32/f64) constant, as double. */
bool value_const_floats(const Graph *g, int v, double *out, int max, int *count);

/* ---- checks, text form ----------------------------------------------------------------- */

/* Memory-plan check (after passes/plan.c): every planned buffer is 64-byte aligned inside
 * [0, mem_per_batch), and no two values live at the same time (from their producer to their
 * last read, node_reads; graph outputs to the end) share a byte unless one is a view of the
 * other (op_is_view) with the same offset. -1 with d naming both values otherwise. */
int plan_verify(const Graph *g, Diag *d);

/* Structural verification: single definition, defined before use, arity and attribute
 * schema, known types after inference (if `typed`), guard well-formedness. */
int graph_verify(const Graph *g, bool typed, Diag *d);

enum { PRINT_WEIGHTS = 1 << 0 };
/* The text form (docs/ir.md): print(parse(text)) == text. */
void graph_print(const Graph *g, FILE *f, unsigned flags);
/* Parse the text form; NULL with d set on error ("file:line:col: message"). */
Graph *graph_parse(const char *text, const char *filename, Diag *d);

/* Shape rule of one node (ir/shape.c): set its outputs' types from its inputs' types (and
 * constant inputs such as Reshape's shape). -1 with d set on a user-input error. */
int infer_node(Graph *g, int node, Diag *d);

/* ConvTranspose-11 geometry of node n (x, w its input and weight types): pads
 * [begin..., end...] resolved from pads/auto_pad/output_shape and the spatial output dims.
 * -1 if the attributes are inconsistent. */
int convtranspose_geometry(const Node *n, const Type *x, const Type *w, int64_t *pads,
                           int64_t *out);

/* Static FLOPs of one node per batch instance (multiply-add = 2). */
int64_t node_flops(const Graph *g, const Node *n);

/* ---- branch annotations (issue 3, ir/annot.c) ------------------------------------------ */

/* One entry of the isb.branches annotation (docs/annotations.md). */
typedef struct Branch {
    const char *name, *gate, *value; /* value names as in the annotation */
    int index;
    float threshold; /* resolved: override, else per-branch, else isb.threshold, else 0 */
} Branch;

/* Meta key the driver sets for --threshold T / --no-skip (= 0): overrides every threshold. */
#define ANNOT_THRESHOLD_OVERRIDE "isbc.threshold"

/* Parse and validate g's isb.branches: well-formed JSON, fields present and typed, tensors
 * exist, index within the gate row (when the gate's type is known), value downstream of
 * its gate. *out (arena) gets the branches; returns their count (0 without annotation), or
 * -1 with d naming the branch. */
int annot_branches(Graph *g, Branch **out, Diag *d);

/* pinned[v] = true for every value named in isb.branches (gates and branch values), which
 * fusion passes must keep until guard insertion. Tolerant: no validation, no errors. */
void annot_pin_values(const Graph *g, bool *pinned);

/* ---- Einsum equations (ir/einsum.c) ----------------------------------------------------- */

#define EINSUM_MAX_IN 16
#define EINSUM_MAX_LABELS 64

/* A parsed Einsum-12 equation over given input types. Labels (letters and the dims an
 * ellipsis stands for) are numbered 0..nlab-1; dims[l] is the size of label l (IR_DIM_N for
 * the symbolic batch); an ellipsis dim of size 1 broadcasts. */
typedef struct EinsumSpec {
    int nlab, nin;
    int64_t dims[EINSUM_MAX_LABELS];
    int rank[EINSUM_MAX_IN];
    int lab[EINSUM_MAX_IN][IR_MAX_RANK]; /* label of each input axis */
    int out_rank;
    int out_lab[IR_MAX_RANK];
} EinsumSpec;

/* Parse `eq` for nin inputs of types ins (implicit output: the ellipsis dims, then the
 * labels used once, in alphabetical order). -1 with a reason in err (a malformed equation or
 * mismatched dims). */
int einsum_parse(const char *eq, int nin, const Type *const *ins, EinsumSpec *s, char *err,
                 size_t errlen);

#endif
