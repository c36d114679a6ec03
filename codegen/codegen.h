/* codegen.h — IR to native code through the LLVM-C API. Object files, shared libraries and
 * the in-process JIT share every line of module construction (codegen_module). */
#ifndef ISBC_CODEGEN_H
#define ISBC_CODEGEN_H

#include "../ir/ir.h"

typedef struct CodegenOptions {
    const char *prefix; /* symbol prefix of the generated API (default "model") */
    int opt_level;      /* 0..3 */
    const char *cpu;    /* "native", "generic" or an LLVM CPU name */
} CodegenOptions;

/* Write OUT.o (or OUT.so: the object linked with libisbrt into a shared library). */
int codegen_emit_object(const Graph *g, const CodegenOptions *o, const char *path, Diag *d);
int codegen_emit_shared(const Graph *g, const CodegenOptions *o, const char *path, Diag *d);
int codegen_emit_llvm(const Graph *g, const CodegenOptions *o, const char *path, Diag *d);
/* The generated C header (plain C, re-entrant API; see docs/api.md). */
int codegen_emit_header(const Graph *g, const CodegenOptions *o, const char *path, Diag *d);

/* In-process JIT (ORC LLJIT) of the same module. */
typedef struct Jit Jit;
Jit *jit_compile(const Graph *g, const CodegenOptions *o, Diag *d);
/* Workspace bytes for a batch. */
size_t jit_workspace_size(Jit *j, int64_t batch);
/* Run: inputs/outputs in graph order, batch as given; returns the generated code's status
 * (0 ok, nonzero bad argument). */
int jit_run(Jit *j, int64_t batch, const void *const *inputs, void *const *outputs,
            void *workspace);
/* The same, filling stats as P_run_stats does (see the generated header). */
int jit_run_stats(Jit *j, int64_t batch, const void *const *inputs, void *const *outputs,
                  void *workspace, int64_t stats[5]);
void jit_free(Jit *j);

#endif
