/* emit.c — the outputs of codegen: object file, shared library, textual LLVM IR, the C header
 * of the generated API, and the in-process ORC LLJIT. Every path builds its module with
 * cg_build_module and optimises it with the same new-PM pipeline (default<ON>) for the same
 * target machine (--cpu native: the host CPU and its features; generic: baseline x86-64;
 * otherwise an LLVM CPU name), relocation model PIC so objects can go into shared libraries.
 *
 * Shared libraries are linked by running `cc -shared` on the object, the static libisbrt
 * (position-independent; runtime_lib says which one), -lopenblas and -lm, so the .so needs
 * only OpenBLAS at run time.
 *
 * The JIT resolves runtime kernels and libm against the running process
 * (LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess): the executable must export
 * libisbrt's symbols (link it with -rdynamic / ENABLE_EXPORTS and whole libisbrt). */
#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "../runtime/isbrt.h"
#include "cg.h"

#ifndef ISBC_RUNTIME_LIB
#define ISBC_RUNTIME_LIB ""
#endif
#ifndef ISBC_RUNTIME_INSTALLED_LIB
#define ISBC_RUNTIME_INSTALLED_LIB ""
#endif
#ifndef ISBC_BUILD_DIR
#define ISBC_BUILD_DIR ""
#endif
#ifndef ISBC_BIN_TO_LIB
#define ISBC_BIN_TO_LIB ""
#endif

static const char *prefix_of(const CodegenOptions *o) {
    return o && o->prefix && *o->prefix ? o->prefix : "model";
}

int codegen_check_prefix(const char *p, Diag *d) {
    if (!p || !*p) p = "model";
    if (!(isalpha((unsigned char)p[0]) || p[0] == '_'))
        return diag(d, "--name '%s' is not a C identifier", p);
    for (const char *s = p; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return diag(d, "--name '%s' is not a C identifier", p);
    if (strlen(p) > 100) return diag(d, "--name '%s' is too long", p);
    return 0;
}

static int llvm_error(Diag *d, const char *what, LLVMErrorRef e) {
    char *msg = LLVMGetErrorMessage(e);
    diag(d, "%s: %s", what, msg);
    LLVMDisposeErrorMessage(msg);
    return -1;
}

/* ---- target machine, optimisation ---------------------------------------------------------- */

static LLVMTargetMachineRef create_tm(const CodegenOptions *o, Diag *d) {
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    char *triple = LLVMGetDefaultTargetTriple(), *err = NULL;
    LLVMTargetRef target;
    if (LLVMGetTargetFromTriple(triple, &target, &err)) {
        diag(d, "codegen: no LLVM target for %s: %s", triple, err ? err : "");
        LLVMDisposeMessage(err);
        LLVMDisposeMessage(triple);
        return NULL;
    }
    const char *cpu = o && o->cpu && *o->cpu ? o->cpu : "native";
    char *hcpu = NULL, *hfeat = NULL;
    const char *features = "";
    if (strcmp(cpu, "native") == 0) {
        hcpu = LLVMGetHostCPUName();
        hfeat = LLVMGetHostCPUFeatures();
        cpu = hcpu;
        features = hfeat;
    } else if (strcmp(cpu, "generic") == 0) {
        cpu = strncmp(triple, "x86_64", 6) == 0 ? "x86-64" : "generic";
    }
    int lvl = o ? o->opt_level : 2;
    LLVMCodeGenOptLevel cl = lvl <= 0   ? LLVMCodeGenLevelNone
                             : lvl == 1 ? LLVMCodeGenLevelLess
                             : lvl == 2 ? LLVMCodeGenLevelDefault
                                        : LLVMCodeGenLevelAggressive;
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, cpu, features, cl,
                                                      LLVMRelocPIC, LLVMCodeModelDefault);
    if (!tm) diag(d, "codegen: cannot create a target machine for %s (cpu %s)", triple, cpu);
    LLVMDisposeMessage(hcpu);
    LLVMDisposeMessage(hfeat);
    LLVMDisposeMessage(triple);
    return tm;
}

/* ---- --cpu NAME ---------------------------------------------------------------------------- */

/* Run, in a child process, what a compile for `cpu` does first: a target machine and the
 * code of an empty function. LLVM reports an unknown CPU only on stderr (and then may abort:
 * a 32-bit CPU on a 64-bit target), so the child's stderr is captured into *out (malloc'ed).
 * For cpu "help", LLVM prints the CPUs it knows. Returns true if the child exited 0. */
static bool probe_cpu(const char *cpu, char **out) {
    int fd[2];
    *out = NULL;
    if (pipe(fd) != 0) return false;
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return false;
    }
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        CodegenOptions o = {.cpu = cpu, .opt_level = 0};
        Diag d;
        LLVMTargetMachineRef tm = create_tm(&o, &d);
        if (!tm) _exit(1);
        LLVMContextRef ctx = LLVMContextCreate();
        LLVMModuleRef m = LLVMModuleCreateWithNameInContext("probe", ctx);
        LLVMTypeRef ft = LLVMFunctionType(LLVMVoidTypeInContext(ctx), NULL, 0, 0);
        LLVMValueRef f = LLVMAddFunction(m, "probe", ft);
        LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
        LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, f, ""));
        LLVMBuildRetVoid(b);
        char *err = NULL;
        LLVMMemoryBufferRef buf;
        if (LLVMTargetMachineEmitToMemoryBuffer(tm, m, LLVMObjectFile, &err, &buf)) _exit(1);
        _exit(0);
    }
    close(fd[1]);
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    if (!text) abort();
    for (;;) {
        if (cap - len < 2) {
            cap *= 2;
            text = realloc(text, cap);
            if (!text) abort();
        }
        ssize_t k = read(fd[0], text + len, cap - len - 1);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        len += (size_t)k;
    }
    text[len] = 0;
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    *out = text;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int codegen_check_cpu(const char *cpu, char **known, Diag *d) {
    *known = NULL;
    if (!cpu || !*cpu || strcmp(cpu, "native") == 0 || strcmp(cpu, "generic") == 0) return 0;
    char *out;
    bool ok = probe_cpu(cpu, &out) && strcmp(cpu, "help") != 0;
    bool unknown = !out || strstr(out, "is not a recognized processor") || !strcmp(cpu, "help");
    free(out);
    if (ok && !unknown) return 0;
    char *triple = LLVMGetDefaultTargetTriple();
    if (unknown)
        diag(d, "unknown CPU '%s' for %s", cpu, triple);
    else
        diag(d, "CPU '%s' cannot generate code for %s", cpu, triple);
    LLVMDisposeMessage(triple);
    /* the names from LLVM's own table: "  name   - Select the name processor." */
    probe_cpu("help", &out);
    const char *p = out ? strstr(out, "Available CPUs for this target:") : NULL;
    size_t cap = 64, len = 0;
    char *list = malloc(cap);
    if (!list) abort();
    list[0] = 0;
    for (p = p ? strchr(p, '\n') : NULL; p && *p; p = strchr(p + 1, '\n')) {
        const char *q = p + 1;
        while (*q == ' ') q++;
        if (*q == '\n') continue;
        if (!strstr(q, " - ") || strncmp(q, "Available", 9) == 0) break;
        size_t n = strcspn(q, " \n");
        char name[128], *probe_out;
        snprintf(name, sizeof name, "%.*s", (int)(n < 127 ? n : 127), q);
        /* only those this target can use (a 32-bit CPU cannot generate x86-64 code) */
        bool usable =
            probe_cpu(name, &probe_out) && !strstr(probe_out, "is not a recognized processor");
        free(probe_out);
        if (!usable || strcmp(name, "generic") == 0) continue;
        if (len + n + 2 > cap) {
            cap = 2 * (len + n + 2);
            list = realloc(list, cap);
            if (!list) abort();
        }
        if (len) list[len++] = ' ';
        memcpy(list + len, q, n);
        len += n;
        list[len] = 0;
    }
    free(out);
    *known = list;
    return -1;
}

/* Build, retarget and optimise the module for tm. */
/* The module references the runtime's isbrt_abi_<ISBRT_ABI_VERSION> (kept by llvm.used), so
 * linking or loading it against a libisbrt of another ABI version fails with that symbol
 * undefined instead of misreading the parameter structs. */
static void reference_abi(LLVMModuleRef m) {
    LLVMContextRef ctx = LLVMGetModuleContext(m);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx), ptr = LLVMPointerTypeInContext(ctx, 0);
    char name[32];
    snprintf(name, sizeof name, "isbrt_abi_%d", ISBRT_ABI_VERSION);
    LLVMValueRef abi = LLVMAddGlobal(m, i32, name);
    LLVMSetGlobalConstant(abi, 1);
    LLVMValueRef ref = LLVMAddGlobal(m, ptr, "isbc.abi");
    LLVMSetInitializer(ref, abi);
    LLVMSetGlobalConstant(ref, 1);
    LLVMSetLinkage(ref, LLVMInternalLinkage);
    LLVMValueRef used = LLVMAddGlobal(m, LLVMArrayType2(ptr, 1), "llvm.used");
    LLVMSetInitializer(used, LLVMConstArray2(ptr, &ref, 1));
    LLVMSetLinkage(used, LLVMAppendingLinkage);
    LLVMSetSection(used, "llvm.metadata");
}

static LLVMModuleRef make_module(LLVMContextRef ctx, const Graph *g, const CodegenOptions *o,
                                 LLVMTargetMachineRef tm, Diag *d) {
    if (codegen_check_prefix(prefix_of(o), d) < 0) return NULL;
    CodegenOptions def = {"model", 2, "native"};
    LLVMModuleRef m = cg_build_module(ctx, g, o ? o : &def, d);
    if (!m) return NULL;
    reference_abi(m);
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(m, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(m, dl);
    LLVMDisposeTargetData(dl);
    int lvl = o ? o->opt_level : 2;
    if (lvl < 0) lvl = 0;
    if (lvl > 3) lvl = 3;
    char pipeline[32];
    snprintf(pipeline, sizeof pipeline, "default<O%d>", lvl);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(po, lvl >= 2);
    LLVMPassBuilderOptionsSetSLPVectorization(po, lvl >= 2);
    LLVMPassBuilderOptionsSetLoopUnrolling(po, lvl >= 2);
    LLVMPassBuilderOptionsSetLoopInterleaving(po, lvl >= 2);
    LLVMErrorRef e = LLVMRunPasses(m, pipeline, tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (e) {
        llvm_error(d, "codegen: optimisation failed", e);
        LLVMDisposeModule(m);
        return NULL;
    }
    return m;
}

/* ---- files ------------------------------------------------------------------------------- */

int codegen_emit_object(const Graph *g, const CodegenOptions *o, const char *path, Diag *d) {
    LLVMTargetMachineRef tm = create_tm(o, d);
    if (!tm) return -1;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef m = make_module(ctx, g, o, tm, d);
    int rc = -1;
    if (m) {
        char *err = NULL;
        if (LLVMTargetMachineEmitToFile(tm, m, (char *)path, LLVMObjectFile, &err))
            diag(d, "cannot write %s: %s", path, err ? err : "");
        else
            rc = 0;
        LLVMDisposeMessage(err);
        LLVMDisposeModule(m);
    }
    LLVMContextDispose(ctx);
    LLVMDisposeTargetMachine(tm);
    return rc;
}

int codegen_emit_llvm(const Graph *g, const CodegenOptions *o, const char *path, Diag *d) {
    LLVMTargetMachineRef tm = create_tm(o, d);
    if (!tm) return -1;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef m = make_module(ctx, g, o, tm, d);
    int rc = -1;
    if (m) {
        char *err = NULL;
        if (LLVMPrintModuleToFile(m, path, &err))
            diag(d, "cannot write %s: %s", path, err ? err : "");
        else
            rc = 0;
        LLVMDisposeMessage(err);
        LLVMDisposeModule(m);
    }
    LLVMContextDispose(ctx);
    LLVMDisposeTargetMachine(tm);
    return rc;
}

/* Run argv (execvp) and wait; -1 with d set unless it exits 0. */
static int run_cmd(char *const *argv, Diag *d) {
    pid_t pid = fork();
    if (pid < 0) return diag(d, "cannot run %s: %s", argv[0], strerror(errno));
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return diag(d, "cannot wait for %s: %s", argv[0], strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char cmd[900] = "";
        for (int i = 0; argv[i]; i++) {
            strncat(cmd, argv[i], sizeof cmd - strlen(cmd) - 2);
            strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
        }
        return diag(d, "linking the shared library failed (status %d): %s",
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1, cmd);
    }
    return 0;
}

/* The static libisbrt a shared library is linked with, first found of:
 *  1. <directory of the running executable>/ISBC_BIN_TO_LIB/libisbrt.a — an installed isbc
 *     (bin/isbc beside lib/libisbrt.a) works wherever its prefix was installed or moved;
 *  2. the build tree's ISBC_RUNTIME_LIB, for a program run from the build tree (or when the
 *     executable's path is unknown);
 *  3. ISBC_RUNTIME_INSTALLED_LIB, the configure-time install path;
 *  4. -lisbrt, for the linker to find. */
static const char *runtime_lib(char *buf, size_t len) {
    const char *name = strrchr(ISBC_RUNTIME_LIB, '/');
    name = name ? name + 1 : "libisbrt.a";
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    bool in_build = n <= 0;
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash && *ISBC_BIN_TO_LIB) {
            *slash = 0;
            snprintf(buf, len, "%s/%s/%s", exe, ISBC_BIN_TO_LIB, name);
            *slash = '/';
            if (access(buf, R_OK) == 0) return buf;
        }
        size_t bl = strlen(ISBC_BUILD_DIR);
        in_build = bl && strncmp(exe, ISBC_BUILD_DIR, bl) == 0 && exe[bl] == '/';
    }
    if (in_build && *ISBC_RUNTIME_LIB && access(ISBC_RUNTIME_LIB, R_OK) == 0)
        return ISBC_RUNTIME_LIB;
    if (*ISBC_RUNTIME_INSTALLED_LIB && access(ISBC_RUNTIME_INSTALLED_LIB, R_OK) == 0)
        return ISBC_RUNTIME_INSTALLED_LIB;
    return "-lisbrt";
}

int codegen_emit_shared(const Graph *g, const CodegenOptions *o, const char *path, Diag *d) {
    const char *tmpdir = getenv("TMPDIR");
    char dir[4096], obj[4200];
    snprintf(dir, sizeof dir, "%s/isbc-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) return diag(d, "cannot create a temporary directory: %s", strerror(errno));
    snprintf(obj, sizeof obj, "%s/%s.o", dir, prefix_of(o));
    int rc = codegen_emit_object(g, o, obj, d);
    if (rc == 0) {
        char rtbuf[4200];
        const char *rt = runtime_lib(rtbuf, sizeof rtbuf);
        /* --exclude-libs: the runtime's symbols stay private to this library, so two models
         * loaded into one process (or a program that links its own libisbrt) each call the
         * runtime they were built against, never each other's. */
        char *argv[] = {
            "cc",       "-shared",    "-o",  (char *)path, obj, "-Wl,--exclude-libs,ALL",
            (char *)rt, "-lopenblas", "-lm", NULL};
        rc = run_cmd(argv, d);
    }
    unlink(obj);
    rmdir(dir);
    return rc;
}

/* ---- header -------------------------------------------------------------------------------- */

static const char *c_type(int dt) {
    switch (dt) {
    case DT_F32: return "float";
    case DT_F64: return "double";
    case DT_I8: return "int8_t";
    case DT_U8: return "uint8_t";
    case DT_I16: return "int16_t";
    case DT_U16: return "uint16_t";
    case DT_F16: return "uint16_t";
    case DT_I32: return "int32_t";
    case DT_U32: return "uint32_t";
    case DT_I64: return "int64_t";
    case DT_U64: return "uint64_t";
    case DT_BOOL: return "uint8_t";
    default: return "void";
    }
}

static bool is_c_keyword(const char *s) {
    static const char *const kw[] = {
        "auto",     "break",  "case",   "char",     "const",    "continue", "default",   "do",
        "double",   "else",   "enum",   "extern",   "float",    "for",      "goto",      "if",
        "inline",   "int",    "long",   "register", "restrict", "return",   "short",     "signed",
        "sizeof",   "static", "struct", "switch",   "typedef",  "union",    "unsigned",  "void",
        "volatile", "while",  "bool",   "true",     "false",    "batch",    "workspace", NULL};
    for (int i = 0; kw[i]; i++)
        if (strcmp(s, kw[i]) == 0) return true;
    return false;
}

/* C parameter names for the inputs then outputs: sanitised, unique. */
static char **param_names(const Graph *g) {
    int n = g->ninput + g->noutput;
    char **names = calloc((size_t)n + 1, sizeof *names);
    if (!names) abort();
    for (int i = 0; i < n; i++) {
        const char *src = gval(g, i < g->ninput ? g->inputs[i] : g->outputs[i - g->ninput])->name;
        size_t len = strlen(src);
        char *s = malloc(len + 16);
        if (!s) abort();
        size_t k = 0;
        if (!isalpha((unsigned char)src[0]) && src[0] != '_') s[k++] = 'v';
        for (size_t j = 0; j < len && k < 64; j++)
            s[k++] = isalnum((unsigned char)src[j]) ? src[j] : '_';
        s[k] = 0;
        if (is_c_keyword(s)) strcat(s, "_");
        for (int dup = 2;; dup++) {
            bool clash = false;
            for (int j = 0; j < i; j++)
                if (strcmp(names[j], s) == 0) clash = true;
            if (!clash) break;
            snprintf(s + k, 16, "_%d", dup);
        }
        names[i] = s;
    }
    return names;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* A model's name inside a C comment: control characters escaped (str_printable) and every
 * "*" + "/" broken up, so that no name can end the comment. */
static const char *comment_safe(const char *name, char *buf, size_t len) {
    char tmp[300];
    str_printable(name, tmp, sizeof tmp);
    size_t k = 0;
    for (const char *s = tmp; *s && k + 3 < len; s++) {
        buf[k++] = *s;
        if (s[0] == '*' && s[1] == '/') buf[k++] = ' ';
    }
    buf[k] = 0;
    return buf;
}

int codegen_emit_header(const Graph *g, const CodegenOptions *o, const char *path, Diag *d) {
    if (codegen_check_prefix(prefix_of(o), d) < 0) return -1;
    const char *p = prefix_of(o);
    FILE *f = fopen(path, "w");
    if (!f) return diag(d, "cannot write %s: %s", path, strerror(errno));
    int64_t fixed;
    bool symbolic = codegen_batch_info(g, &fixed);
    int n = g->ninput + g->noutput;
    char **names = param_names(g);
    char guard[160], tbuf[256];
    size_t k = 0;
    for (const char *s = p; *s && k < 140; s++) guard[k++] = (char)toupper((unsigned char)*s);
    snprintf(guard + k, sizeof guard - k, "_H");

    char cb[300];
    fprintf(f, "/* %s.h — generated by isbc from %s.\n", p,
            comment_safe(g->name ? g->name : "model", cb, sizeof cb));
    for (int i = 0; i < n; i++) {
        int v = i < g->ninput ? g->inputs[i] : g->outputs[i - g->ninput];
        if (i == 0 || i == g->ninput) fprintf(f, " * %s:\n", i < g->ninput ? "Inputs" : "Outputs");
        fprintf(f, " *   %s: %s (\"%s\")\n", names[i],
                type_str(&gval(g, v)->type, tbuf, sizeof tbuf),
                comment_safe(gval(g, v)->name, cb, sizeof cb));
    }
    fprintf(f, " * N is the batch argument. Plain, re-entrant C API: no global state; the\n"
               " * caller provides the workspace. Link with libisbrt, -lopenblas and -lm. */\n");
    fprintf(f, "#ifndef %s\n#define %s\n\n#include <stddef.h>\n#include <stdint.h>\n\n", guard,
            guard);
    fprintf(f, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    fprintf(f, "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n", p, g->ninput, p,
            g->noutput);
    if (symbolic)
        fprintf(f, "#define %s_BATCH_SYMBOLIC 1\n", p);
    else
        fprintf(f,
                "#define %s_BATCH_SYMBOLIC 0\n"
                "#define %s_BATCH_FIXED %" PRId64 " /* no symbolic batch: tensors as declared */\n",
                p, p, fixed);
    fprintf(f, "\nenum { %s_OK = 0, %s_EBADARG = 1 };\n\n", p, p);
    fprintf(f,
            "/* Bytes of workspace a run with `batch` instances needs: 0 if batch < 1, SIZE_MAX\n"
            " * if the batch is too large for the sizes to fit (%s_run refuses that batch). The\n"
            " * workspace must be 64-byte aligned; it may be NULL when this is 0. */\n",
            p);
    fprintf(f, "size_t %s_workspace_size(int64_t batch);\n\n", p);
    fprintf(f,
            "/* Run the model on `batch` instances (%s). Returns %s_OK, or %s_EBADARG for\n"
            " * batch < 1%s, a NULL pointer or a misaligned workspace. Tensors are dense,\n"
            " * row-major; outputs must not overlap inputs or the workspace. */\n",
            symbolic ? "any batch >= 1" : "batch must be 1", p, p,
            symbolic ? " or too large" : " or > 1");
    fprintf(f, "int %s_run(int64_t batch", p);
    for (int i = 0; i < n; i++) {
        int v = i < g->ninput ? g->inputs[i] : g->outputs[i - g->ninput];
        fprintf(f, ",\n        %s%s *%s /* %s */", i < g->ninput ? "const " : "",
                c_type(gval(g, v)->type.dtype), names[i],
                type_str(&gval(g, v)->type, tbuf, sizeof tbuf));
    }
    fprintf(f, ",\n        void *workspace);\n\n");
    fprintf(f, "/* The same, inputs and outputs as arrays in the order above. */\n");
    fprintf(f,
            "int %s_run_v(int64_t batch, const void *const *inputs, void *const *outputs,\n"
            "        void *workspace);\n\n",
            p);
    fprintf(f,
            "/* Statistics of one call of %s_run_stats: the model's guarded branches\n"
            " * (isb.branches) and the FLOPs of the code that ran (static FLOPs of every\n"
            " * node or region that ran, per instance that ran it) against the dense model. */\n"
            "typedef struct %s_stats {\n"
            "    int64_t branches;         /* guarded branches per instance */\n"
            "    int64_t branches_run;     /* summed over the batch's instances */\n"
            "    int64_t branches_skipped; /* summed over the batch's instances */\n"
            "    int64_t flops_executed;   /* summed over the batch's instances */\n"
            "    int64_t flops_dense;      /* the same for the dense model */\n"
            "} %s_stats;\n\n",
            p, p, p);
    fprintf(f, "/* %s_run_v that also fills *stats (stats may be NULL). */\n", p);
    fprintf(f,
            "int %s_run_stats(int64_t batch, const void *const *inputs, void *const *outputs,\n"
            "        void *workspace, %s_stats *stats);\n\n",
            p, p);
    int nbranch = 0;
    for (int i = 0; i < g->nguard; i++) nbranch += g->guards[i].value >= 0;
    fprintf(f,
            "/* Guarded branches (isb.branches that can be skipped), in the order of\n"
            " * %s_branch_name and of the mask's columns. */\n"
            "#define %s_NUM_BRANCHES %d\n\n",
            p, p, nbranch);
    fprintf(f,
            "/* Options of one call of %s_run_ex (all zero but threshold = -1: the defaults). */\n"
            "typedef struct %s_options {\n"
            "    float threshold; /* < 0 or NaN: the compiled thresholds; >= 0: every guarded\n"
            "                        branch's threshold for this call (0: run every branch) */\n"
            "    int32_t threads; /* <= 0: the runtime's setting (OPENBLAS_NUM_THREADS); else\n"
            "                        the size of this call's thread team */\n"
            "    uint8_t *mask;   /* NULL, or instances * %s_NUM_BRANCHES bytes: mask[n *\n"
            "                        %s_NUM_BRANCHES + b] = 1 where instance n ran branch b */\n"
            "} %s_options;\n\n",
            p, p, p, p, p);
    fprintf(f,
            "/* %s_run_stats with options (opts and stats may be NULL). The instances are the\n"
            " * batch%s. */\n"
            "int %s_run_ex(int64_t batch, const void *const *inputs, void *const *outputs,\n"
            "        void *workspace, const %s_options *opts, %s_stats *stats);\n\n",
            p, symbolic ? "" : " (here fixed: the leading dim of the tensors)", p, p, p);
    fprintf(f,
            "/* An input or output: its ONNX name, element type (ONNX TensorProto code: 1 f32,\n"
            " * 7 i64, 9 bool, ...), rank and dims (-1: the batch N). */\n"
            "typedef struct %s_tensor_info {\n"
            "    const char *name;\n"
            "    int32_t dtype;\n"
            "    int32_t rank;\n"
            "    const int64_t *dims;\n"
            "} %s_tensor_info;\n\n"
            "/* Input i / output i in the order of %s_run; NULL when i is out of range. */\n"
            "const %s_tensor_info *%s_input_info(int i);\n"
            "const %s_tensor_info *%s_output_info(int i);\n\n"
            "/* Name of guarded branch b (0 <= b < %s_NUM_BRANCHES), else NULL. */\n"
            "const char *%s_branch_name(int b);\n\n",
            p, p, p, p, p, p, p, p, p);
    fprintf(f, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
    free_names(names, n);
    if (fclose(f) != 0) return diag(d, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ---- JIT ----------------------------------------------------------------------------------- */

typedef int (*RunFn)(int64_t, const void *const *, void *const *, void *, int64_t *);
typedef size_t (*WsFn)(int64_t);

struct Jit {
    LLVMOrcLLJITRef lljit;
    RunFn run;
    WsFn ws;
};

Jit *jit_compile(const Graph *g, const CodegenOptions *o, Diag *d) {
    LLVMTargetMachineRef tm = create_tm(o, d);
    if (!tm) return NULL;
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMModuleRef m = make_module(LLVMOrcThreadSafeContextGetContext(tsc), g, o, tm, d);
    LLVMDisposeTargetMachine(tm);
    if (!m) {
        LLVMOrcDisposeThreadSafeContext(tsc);
        return NULL;
    }
    /* a second machine with the same options, owned by the JIT */
    LLVMTargetMachineRef jtm = create_tm(o, d);
    if (!jtm) {
        LLVMDisposeModule(m);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return NULL;
    }
    LLVMOrcLLJITBuilderRef jb = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        jb, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jtm));
    Jit *j = calloc(1, sizeof *j);
    if (!j) abort();
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->lljit, jb);
    if (e) {
        llvm_error(d, "jit", e);
        LLVMDisposeModule(m);
        LLVMOrcDisposeThreadSafeContext(tsc);
        free(j);
        return NULL;
    }
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(j->lljit);
    LLVMOrcDefinitionGeneratorRef gen;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &gen, LLVMOrcLLJITGetGlobalPrefix(j->lljit), NULL, NULL);
    if (e) {
        llvm_error(d, "jit", e);
        LLVMDisposeModule(m);
        LLVMOrcDisposeThreadSafeContext(tsc);
        jit_free(j);
        return NULL;
    }
    LLVMOrcJITDylibAddGenerator(jd, gen);
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps the context alive */
    e = LLVMOrcLLJITAddLLVMIRModule(j->lljit, jd, tsm);
    if (e) { /* the module belongs to the JIT even on error */
        llvm_error(d, "jit", e);
        jit_free(j);
        return NULL;
    }
    const char *p = prefix_of(o);
    char name[160];
    LLVMOrcExecutorAddress a_run = 0, a_ws = 0;
    snprintf(name, sizeof name, "%s_run_stats", p);
    e = LLVMOrcLLJITLookup(j->lljit, &a_run, name);
    if (!e) {
        snprintf(name, sizeof name, "%s_workspace_size", p);
        e = LLVMOrcLLJITLookup(j->lljit, &a_ws, name);
    }
    if (e) {
        llvm_error(d, "jit (are the libisbrt symbols exported by this executable?)", e);
        jit_free(j);
        return NULL;
    }
    j->run = (RunFn)(uintptr_t)a_run;
    j->ws = (WsFn)(uintptr_t)a_ws;
    return j;
}

size_t jit_workspace_size(Jit *j, int64_t batch) {
    return j->ws(batch);
}

int jit_run(Jit *j, int64_t batch, const void *const *inputs, void *const *outputs,
            void *workspace) {
    return j->run(batch, inputs, outputs, workspace, NULL);
}

int jit_run_stats(Jit *j, int64_t batch, const void *const *inputs, void *const *outputs,
                  void *workspace, int64_t stats[5]) {
    return j->run(batch, inputs, outputs, workspace, stats);
}

void jit_free(Jit *j) {
    if (!j) return;
    if (j->lljit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->lljit);
        if (e) LLVMConsumeError(e);
    }
    free(j);
}
