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

/* --name PREFIX: 0 if PREFIX is a C identifier of at most 100 characters, else -1 with d set. */
int codegen_check_prefix(const char *prefix, Diag *d);
/* --cpu NAME: 0 if LLVM can generate code for NAME on this machine's target ("native" and
 * "generic" always can); else -1 with d set and *known (malloc'ed, the caller frees it) the
 * names of the CPUs LLVM knows that it can generate code for here, separated by spaces
 * (isbc's "generic" is not among them: it is LLVM's baseline CPU of the target). Runs LLVM in a
 * child process: LLVM reports an unknown CPU only on stderr and may then abort. */
int codegen_check_cpu(const char *cpu, char **known, Diag *d);

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
