/* passes.h — graph-to-graph passes. One file per pass under passes/, one entry point each,
 * `int pass_NAME(Graph *g, Diag *d)`, returning 0 or -1 with d set (a user-input error,
 * e.g. an unsupported op or a shape mismatch, naming the node, op and opset). Each file
 * starts with a comment: what the pass requires and what it guarantees. pipeline.c holds
 * the default order. */
#ifndef ISBC_PASSES_H
#define ISBC_PASSES_H

#include "../ir/ir.h"

typedef struct PassOptions {
    bool verify;            /* run graph_verify after every pass (tests, debug builds) */
    const char *dump_after; /* pass name, "all", or NULL */
    FILE *dump_file;        /* where dumps go when dump_dir is NULL (default stderr) */
    const char *dump_dir;   /* write DIR/NN-PASS.ir per dumped pass */
    const char *stop_after; /* stop the pipeline after this pass (isbc dump --after) */
} PassOptions;

typedef int (*PassFn)(Graph *g, Diag *d);

typedef struct PassInfo {
    const char *name;
    PassFn fn;
    const char *what; /* one line for --help */
} PassInfo;

/* The default pipeline, in order; NULL-terminated by name. */
extern const PassInfo pass_pipeline[];
const PassInfo *pass_find(const char *name);

/* Run the default pipeline. */
int pipeline_run(Graph *g, const PassOptions *o, Diag *d);
/* Run the comma-separated list of passes `names` (golden tests). */
int pipeline_run_list(Graph *g, const char *names, const PassOptions *o, Diag *d);

int pass_infer(Graph *g, Diag *d);            /* shape inference + folding of shape arithmetic */
int pass_fold(Graph *g, Diag *d);             /* constant folding */
int pass_fold_bn(Graph *g, Diag *d);          /* BatchNormalization into Conv/Gemm */
int pass_fuse_conv(Graph *g, Diag *d);        /* Conv/Gemm + bias + residual + activation */
int pass_fuse_elementwise(Graph *g, Diag *d); /* chains of elementwise ops -> Elementwise */
int pass_insert_guards(Graph *g, Diag *d);    /* annotated branches -> guard regions */
int pass_fuse_selection(Graph *g, Diag *d);   /* SelectionNet cones early, gate masks */
int pass_dce(Graph *g, Diag *d);              /* dead code elimination */
int pass_plan(Graph *g, Diag *d);             /* memory planning */

#endif
