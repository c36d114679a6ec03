/* internal.h — private to frontend/: helpers shared by the importer, the opset normaliser and
 * the tensor-file reader. Not part of the frontend's interface (that is frontend.h). */
#ifndef ISBC_FRONTEND_INTERNAL_H
#define ISBC_FRONTEND_INTERNAL_H

#include "frontend.h"
#include "onnx.pb-c.h"

/* Read a whole regular file into a malloc'ed buffer; an empty file is an error. */
int read_whole_file(const char *path, uint8_t **buf, size_t *len, Diag *d);

/* Decode a TensorProto (ONNX IR, "Tensors": typed data fields, raw_data, or external data
 * resolved in `dir`; dir NULL forbids external data) into a dense row-major little-endian
 * buffer. *data is malloc'ed (NULL when the tensor has no elements). float16, string and
 * other dtypes isbc does not compute in are rejected. */
int tensor_from_proto(const Onnx__TensorProto *tp, const char *dir, Type *t, void **data, Diag *d);

/* Rewrite node `node` (freshly imported at g->opset) into the newest form of its op:
 * attributes that later opsets turned into inputs become constant inputs. */
int normalize_node(Graph *g, int node, Diag *d);

/* True for an attribute (name, kind) that an old version of `op`, valid at `opset`, has and
 * its newest version does not (e.g. Add-6 broadcast, Reshape-1 shape, Cast-1 `to` as a
 * string): the importer copies it and normalize_node rewrites or removes it. */
bool normalize_legacy_attr(int op, const char *name, int kind, int opset);

/* ---- the importer's state (onnx_import.c; sequence.c unrolls Loop bodies through it) ---- */

/* Names of the graph being imported. The top level resolves tensor names through the
 * graph's own value names; a Loop body being unrolled (sequence.c) opens a Scope whose
 * names map to the values of one iteration, and falls back to the enclosing scopes. Names
 * that denote a static sequence (sequence.c) live in `seqs` at every level. */
typedef struct Scope {
    StrMap vals;        /* ONNX name -> value id (unused at the top level) */
    StrMap seqs;        /* ONNX name -> index into Importer.seq */
    const char *suffix; /* appended to the names of values defined here ("" at top level) */
    struct Scope *parent;
} Scope;

typedef struct SeqList SeqList; /* sequence.c */

typedef struct Importer {
    Graph *g;
    const char *path;
    const char *dir; /* for external data */
    const ImportOptions *opts;
    Diag *d;
    StrMap vinfo; /* value name -> index into the types below */
    const Onnx__ValueInfoProto **vis;
    int nvis;
    const Onnx__ModelProto *model;
    Scope *scope;  /* innermost; the top-level scope has parent NULL */
    SeqList *seq;  /* static sequences (sequence.c), NULL until the first one */
    int *seq_made; /* values sequence.c created (dropped at the end if unused) */
    int nseq_made, capseq_made;
} Importer;

/* Value id of tensor name `name` in the current scope, or -1. */
int im_lookup(const Importer *im, const char *name);
/* Define tensor name `name` in the current scope as a fresh value of type t (a NULL or empty
 * name gets a made-up one); returns the value id. */
int im_define(Importer *im, const char *name, Type t);
/* Define `name` in the current scope as a constant (payload copied; NULL for no elements);
 * -1 with d set if the name is taken. */
int im_add_const(Importer *im, const char *name, Type t, const void *data);
/* Bind `name` in the current scope to the existing value v. */
void im_bind(Importer *im, const char *name, int v);
/* True if `name` is already defined in the current scope (tensor or sequence). */
bool im_defined_here(const Importer *im, const char *name);

/* Import ONNX node idx of the current (sub)graph: an ordinary op, a Constant, or one of the
 * ops sequence.c resolves at import time. */
int import_node(Importer *im, const Onnx__NodeProto *np, int idx);

/* ---- static sequences and Loop unrolling (sequence.c) ---- */

/* True if op_type (default domain) is handled by sequence.c. */
bool seq_handles(const char *op_type);
/* Import node np (op seq_handles) by resolving it at compile time; -1 with a message naming
 * op, opset and node when its structure is not static. */
int seq_import_node(Importer *im, const Onnx__NodeProto *np, int idx);
/* Index of the static sequence named `name` in the current scope, or -1. */
int seq_lookup(const Importer *im, const char *name);
/* After the whole graph is imported: drop helper nodes sequence.c made whose results are
 * never read (a SplitToSequence whose elements only SequenceLength counts). */
void seq_finish(Importer *im);
void seq_free(Importer *im);

#endif
