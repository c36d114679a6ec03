/* isbc.c — the command-line driver, the one place that knows every layer.
 * Exit status: 0 success, 1 bad input or unsupported model, 2 usage error. */
#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "runtime/isbrt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 64
#define MAX_SHAPES 32

typedef struct Opts {
    const char *cmd; /* the command, for usage errors */
    const char *model;
    const char *out;
    const char *header;
    const char *prefix;
    const char *emit_llvm;
    const char *dump_after;
    const char *dump_dir;
    const char *passes; /* dump --passes */
    const char *cpu;
    int opt_level;
    const char *inputs[MAX_FILES];
    int ninputs;
    const char *outputs[MAX_FILES];
    int noutputs;
    ShapeOverride shapes[MAX_SHAPES];
    int nshapes;
    const char *bind_names[MAX_SHAPES], *bind_files[MAX_SHAPES]; /* --bind NAME=FILE */
    int nbinds;
    bool weights, dot, json;
    bool no_skip, stats, has_threshold; /* --no-skip, --stats, --threshold */
    float threshold;
    int iters, threads, warmup;
    int64_t batch;
} Opts;

/* ---- messages ------------------------------------------------------------------------- */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("isbc: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
    fprintf(stderr, "isbc %s: ", cmd);
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, "\nTry 'isbc %s --help'.\n", cmd);
    return 2;
}

static const char help_main[] =
    "usage: isbc COMMAND [ARGS]\n"
    "\n"
    "isbc compiles ONNX models ahead of time to native code through LLVM.\n"
    "\n"
    "commands:\n"
    "  compile  MODEL.onnx -o OUT.o|OUT.so   compile to an object or shared library + header\n"
    "  run      MODEL.onnx -i IN ...          compile in-process (JIT) and run on inputs\n"
    "  dump     MODEL.onnx|MODEL.ir           print the IR (after a pass, with --after)\n"
    "  info     MODEL.onnx                    inputs, outputs, ops, params, FLOPs\n"
    "  bench    MODEL.onnx                    time the JIT-compiled model\n"
    "\n"
    "'isbc COMMAND --help' describes each command.\n";

static const char help_compile[] =
    "usage: isbc compile MODEL.onnx -o OUT.o|OUT.so [options]\n"
    "\n"
    "Compile MODEL to a relocatable object (.o) or a shared library (.so, linked with\n"
    "libisbrt) and write the C header of its API.\n"
    "\n"
    "  -o FILE              output: .o or .so (required)\n"
    "  --header FILE        the generated C header (default: OUT with .h)\n"
    "  --name PREFIX        symbol prefix of the generated API (default: model)\n"
    "  --shape NAME=DIMS    fix the dims of input NAME, e.g. input=1x3x224x224\n"
    "  --bind NAME=FILE     make graph input NAME a constant holding the tensor in FILE\n"
    "                       (.pb or .npy); NAME is no longer an input of the compiled model\n"
    "  -O0 .. -O3           LLVM optimisation level (default -O2)\n"
    "  --cpu native|generic|NAME  target CPU (default native)\n"
    "  --emit-llvm FILE     also write the LLVM IR\n"
    "  --dump-after PASS|all  print the IR after a pass (to stderr or --dump-dir)\n"
    "  --dump-dir DIR       write dumps to DIR/NN-PASS.ir\n"
    "  --no-skip            ignore branch annotations: run every branch (dense)\n"
    "  --threshold T        use threshold T for every annotated branch\n";

static const char help_run[] =
    "usage: isbc run MODEL.onnx -i IN.pb|IN.npy ... [-o OUT.pb|OUT.npy ...] [options]\n"
    "\n"
    "JIT-compile MODEL and run it once. Inputs are given in graph-input order, outputs in\n"
    "graph-output order; the file extension chooses the format (ONNX TensorProto .pb or\n"
    "NumPy .npy). Without -o, a summary of each output is printed.\n"
    "\n"
    "  -i FILE              an input tensor (once per graph input not bound by --bind)\n"
    "  -o FILE              where to write an output tensor (once per graph output)\n"
    "  --shape NAME=DIMS    fix the dims of input NAME\n"
    "  --bind NAME=FILE     as for compile\n"
    "  --no-skip, --threshold T  as for compile\n"
    "  --stats              print branches run and skipped and FLOPs executed, per instance\n"
    "                       (lines 'stats.instance N run=R skipped=S flops=F mask=0101...',\n"
    "                       mask: 1 = skipped, one char per branch in isb.branches order)\n"
    "  -O0 .. -O3, --cpu    as for compile\n";

static const char help_dump[] =
    "usage: isbc dump MODEL.onnx|MODEL.ir [options]\n"
    "\n"
    "Print the IR in its text form (the same language `isbc dump` reads back from .ir).\n"
    "Without --after or --passes the graph is printed as imported.\n"
    "\n"
    "  --after PASS|all     run the pipeline up to PASS (all: print after every pass)\n"
    "  --passes P1,P2,...   run exactly these passes, then print (golden tests)\n"
    "  --weights            print constant payloads in full instead of a hash\n"
    "  --dot                print a Graphviz graph instead: guard regions as clusters\n"
    "                       (gate, threshold, FLOPs), dashed edges from what decides them\n"
    "  --shape NAME=DIMS    fix the dims of input NAME\n"
    "  --bind NAME=FILE     as for compile\n";

static const char help_info[] =
    "usage: isbc info MODEL.onnx [--shape NAME=DIMS] [--bind NAME=FILE]\n"
    "\n"
    "Print the model's inputs and outputs, op counts, parameter count and dense FLOPs per\n"
    "instance (after shape inference), and its annotated branches (isb.branches) with their\n"
    "gate, threshold and the FLOPs of each branch's exclusive cone.\n";

static const char help_bench[] =
    "usage: isbc bench MODEL.onnx [-i IN] [options]\n"
    "\n"
    "JIT-compile MODEL and time repeated runs (random inputs unless -i is given).\n"
    "\n"
    "  -i FILE              an input tensor (once per graph input)\n"
    "  --iters N            timed runs (default 50)\n"
    "  --warmup N           untimed runs first (default 5)\n"
    "  --threads T          kernel threads (default: all cores)\n"
    "  --batch B            batch size for random inputs of a symbolic batch (default 1)\n"
    "  --shape NAME=DIMS    fix the dims of input NAME\n"
    "  --bind NAME=FILE     as for compile\n"
    "  --json               print one JSON object instead of text\n"
    "  --no-skip, --threshold T  as for compile\n"
    "  -O0 .. -O3, --cpu    as for compile\n";

/* ---- option parsing ------------------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int parse_shape_arg(const char *cmd, const char *arg, Opts *o) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return usage_error(cmd, "--shape expects NAME=DIMS, got '%s'", arg);
    if (o->nshapes == MAX_SHAPES) return usage_error(cmd, "too many --shape options%s", "");
    ShapeOverride *s = &o->shapes[o->nshapes];
    Diag d;
    if (parse_dims(eq + 1, s, &d)) return usage_error(cmd, "--shape: %s", d.msg);
    size_t n = (size_t)(eq - arg);
    char *name = malloc(n + 1);
    if (!name) abort();
    memcpy(name, arg, n);
    name[n] = 0;
    s->name = name;
    o->nshapes++;
    return 0;
}

static int parse_int_arg(const char *cmd, const char *flag, const char *arg, int lo, int hi,
                         int *out) {
    char *end;
    errno = 0;
    long x = strtol(arg, &end, 10);
    if (*end || end == arg || errno || x < lo || x > hi) {
        fprintf(stderr, "isbc %s: %s expects a whole number from %d to %d, got '%s'\n", cmd, flag,
                lo, hi, arg);
        fprintf(stderr, "Try 'isbc %s --help'.\n", cmd);
        return 2;
    }
    *out = (int)x;
    return 0;
}

/* --cpu NAME: a CPU LLVM can generate code for here, else a usage error listing those it knows. */
static int check_cpu_arg(const char *cmd, const char *cpu) {
    Diag d;
    char *known = NULL;
    if (codegen_check_cpu(cpu, &known, &d) == 0) return 0;
    fprintf(stderr, "isbc %s: --cpu: %s\nKnown CPUs: native (this machine's), generic (baseline)",
            cmd, d.msg);
    int col = 91;
    for (char *save, *t = known ? strtok_r(known, " ", &save) : NULL; t;
         t = strtok_r(NULL, " ", &save)) {
        int n = (int)strlen(t) + 2;
        if (col + n > 92) {
            fputs(",\n ", stderr);
            col = 1;
        } else {
            fputc(',', stderr);
            col++;
        }
        fprintf(stderr, " %s", t);
        col += n - 1;
    }
    fprintf(stderr, "\nTry 'isbc %s --help'.\n", cmd);
    free(known);
    return 2;
}

/* Parse argv for command cmd. allowed: which options the command takes. */
static int parse_opts(const char *cmd, int argc, char **argv, const char *allowed, Opts *o) {
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->opt_level = 2;
    o->cpu = "native";
    o->prefix = "model";
    o->iters = 50;
    o->warmup = 5;
    o->batch = 1;
#define NEXT()                                                                                     \
    do {                                                                                           \
        if (i + 1 >= argc) return usage_error(cmd, "option %s needs an argument", a);              \
        v = argv[++i];                                                                             \
    } while (0)
#define ALLOW(name)                                                                                \
    do {                                                                                           \
        if (!strstr(allowed, " " name " ")) return usage_error(cmd, "unknown option %s", a);       \
    } while (0)
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return 3;
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (o->model) return usage_error(cmd, "unexpected argument '%s'", a);
            o->model = a;
        } else if (strcmp(a, "-o") == 0) {
            ALLOW("-o");
            NEXT();
            if (strcmp(cmd, "run") == 0) {
                if (o->noutputs == MAX_FILES) return usage_error(cmd, "too many -o%s", "");
                o->outputs[o->noutputs++] = v;
            } else
                o->out = v;
        } else if (strcmp(a, "-i") == 0) {
            ALLOW("-i");
            NEXT();
            if (o->ninputs == MAX_FILES) return usage_error(cmd, "too many -i%s", "");
            o->inputs[o->ninputs++] = v;
        } else if (strcmp(a, "--header") == 0) {
            ALLOW("--header");
            NEXT();
            o->header = v;
        } else if (strcmp(a, "--name") == 0) {
            ALLOW("--name");
            NEXT();
            Diag d;
            if (codegen_check_prefix(v, &d)) return usage_error(cmd, "%s", d.msg);
            o->prefix = v;
        } else if (strcmp(a, "--shape") == 0) {
            ALLOW("--shape");
            NEXT();
            int rc = parse_shape_arg(cmd, v, o);
            if (rc) return rc;
        } else if (strncmp(a, "-O", 2) == 0 && a[2] >= '0' && a[2] <= '3' && !a[3]) {
            ALLOW("-O");
            o->opt_level = a[2] - '0';
        } else if (strcmp(a, "--bind") == 0) {
            ALLOW("--bind");
            NEXT();
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || !eq[1])
                return usage_error(cmd, "--bind expects NAME=FILE, got '%s'", v);
            if (o->nbinds == MAX_SHAPES) return usage_error(cmd, "too many --bind options%s", "");
            char *name = malloc((size_t)(eq - v) + 1);
            if (!name) abort();
            memcpy(name, v, (size_t)(eq - v));
            name[eq - v] = 0;
            o->bind_names[o->nbinds] = name;
            o->bind_files[o->nbinds++] = eq + 1;
        } else if (strcmp(a, "--cpu") == 0) {
            ALLOW("--cpu");
            NEXT();
            if (check_cpu_arg(cmd, v)) return 2;
            o->cpu = v;
        } else if (strcmp(a, "--emit-llvm") == 0) {
            ALLOW("--emit-llvm");
            NEXT();
            o->emit_llvm = v;
        } else if (strcmp(a, "--dump-after") == 0 || strcmp(a, "--after") == 0) {
            ALLOW("--after");
            NEXT();
            o->dump_after = v;
        } else if (strcmp(a, "--dump-dir") == 0) {
            ALLOW("--dump-dir");
            NEXT();
            o->dump_dir = v;
        } else if (strcmp(a, "--passes") == 0) {
            ALLOW("--passes");
            NEXT();
            o->passes = v;
        } else if (strcmp(a, "--weights") == 0) {
            ALLOW("--weights");
            o->weights = true;
        } else if (strcmp(a, "--dot") == 0) {
            ALLOW("--dot");
            o->dot = true;
        } else if (strcmp(a, "--json") == 0) {
            ALLOW("--json");
            o->json = true;
        } else if (strcmp(a, "--iters") == 0) {
            ALLOW("--iters");
            NEXT();
            if (parse_int_arg(cmd, a, v, 1, 1000000000, &o->iters)) return 2;
        } else if (strcmp(a, "--warmup") == 0) {
            ALLOW("--warmup");
            NEXT();
            if (parse_int_arg(cmd, a, v, 0, 1000000000, &o->warmup)) return 2;
        } else if (strcmp(a, "--threads") == 0) {
            ALLOW("--threads");
            NEXT();
            if (parse_int_arg(cmd, a, v, 1, 1024, &o->threads)) return 2;
        } else if (strcmp(a, "--no-skip") == 0) {
            ALLOW("--no-skip");
            o->no_skip = true;
        } else if (strcmp(a, "--stats") == 0) {
            ALLOW("--stats");
            o->stats = true;
        } else if (strcmp(a, "--threshold") == 0) {
            ALLOW("--threshold");
            NEXT();
            char *end;
            double t = strtod(v, &end);
            if (end == v || *end || !isfinite((float)t))
                return usage_error(cmd, "--threshold expects a finite number, got '%s'", v);
            if (t < 0)
                return usage_error(cmd,
                                   "--threshold must be >= 0 (a branch runs where its gate weight "
                                   "is >= T; 0 runs every branch, as --no-skip does), got '%s'",
                                   v);
            o->threshold = (float)t;
            o->has_threshold = true;
        } else if (strcmp(a, "--batch") == 0) {
            ALLOW("--batch");
            NEXT();
            int b;
            if (parse_int_arg(cmd, a, v, 1, 1000000000, &b)) return 2;
            o->batch = b;
        } else {
            return usage_error(cmd, "unknown option %s", a);
        }
    }
#undef NEXT
#undef ALLOW
    if (!o->model) return usage_error(cmd, "no model given%s", "");
    return 0;
}

/* ---- loading -------------------------------------------------------------------------- */

static char *read_text(const char *path, Diag *d) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag(d, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) abort();
    size_t k;
    while ((k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
    }
    fclose(f);
    buf[len] = 0;
    if (strlen(buf) != len) {
        free(buf);
        diag(d, "'%s' is not a text file", path);
        return NULL;
    }
    return buf;
}

/* ImportOptions.settle: what the importer may ask for while resolving a Loop or a sequence
 * (frontend.h) — the shapes and constants of the graph built so far. */
static int settle_graph(Graph *g, Diag *d) {
    if (pass_infer(g, d) < 0) return -1;
    return pass_fold(g, d);
}

static Graph *load_model(const Opts *o, Diag *d) {
    if (has_suffix(o->model, ".ir")) {
        char *text = read_text(o->model, d);
        if (!text) return NULL;
        if (o->nbinds) {
            free(text);
            diag(d, "--bind applies to ONNX models, not to '%s'", o->model);
            return NULL;
        }
        Graph *g = graph_parse(text, o->model, d);
        free(text);
        Branch *bs; /* the annotation checks the ONNX importer runs */
        if (g && annot_branches(g, &bs, d) < 0) {
            graph_free(g);
            return NULL;
        }
        return g;
    }
    Tensor vals[MAX_SHAPES];
    InputBinding binds[MAX_SHAPES];
    int nread = 0;
    Graph *g = NULL;
    for (; nread < o->nbinds; nread++) {
        binds[nread] = (InputBinding){o->bind_names[nread], o->bind_files[nread], &vals[nread]};
        if (tensor_read(o->bind_files[nread], &vals[nread], d) < 0) {
            char msg[sizeof d->msg];
            snprintf(msg, sizeof msg, "%s", d->msg);
            diag(d, "--bind %s: %s", o->bind_names[nread], msg);
            goto out;
        }
    }
    ImportOptions io = {.shapes = o->shapes,
                        .nshapes = o->nshapes,
                        .binds = binds,
                        .nbinds = o->nbinds,
                        .settle = settle_graph};
    g = onnx_import(o->model, &io, d);
out:
    for (int i = 0; i < nread; i++) tensor_free(&vals[i]);
    return g;
}

/* The op that computes value v, looking through views and Identity; -1 for none. */
static int producer_op(const Graph *g, int v) {
    for (int hops = 0; hops < 64; hops++) {
        int def = gval(g, v)->def;
        if (def < 0) return -1;
        const Node *n = gnode(g, def);
        if (op_info(n->op)->lower != LOWER_VIEW || n->op == OP_Dropout) return n->op;
        if (n->nin < 1 || n->in[0] < 0) return -1;
        v = n->in[0];
    }
    return -1;
}

/* --no-skip / --threshold T: every branch threshold becomes 0 / T (ir.h, annot_branches).
 * A gate may be any float tensor (docs/annotations.md), so T > 1 can be meaningful; but when
 * every gate is a Softmax or Sigmoid output (in [0, 1]) it would skip every branch: a usage
 * error (2, printed here). Returns 0, or 1 with d set. */
static int apply_threshold_opts(const Opts *o, Graph *g, Diag *d) {
    if (!o->no_skip && !o->has_threshold) return 0;
    if (!o->no_skip && o->threshold > 1) {
        Branch *bs;
        int nb = annot_branches(g, &bs, d);
        if (nb < 0) return 1;
        int unit = 0;
        for (int i = 0; i < nb; i++) {
            int op = producer_op(g, graph_find_value(g, bs[i].gate));
            unit += op == OP_Softmax || op == OP_Sigmoid || op == OP_HardSigmoid;
        }
        if (nb > 0 && unit == nb) {
            fprintf(stderr,
                    "isbc %s: --threshold %g is above 1, but every gate of this model is a "
                    "Softmax or Sigmoid output, in [0, 1] (gate '%s'): every branch would be "
                    "skipped\nTry 'isbc %s --help'.\n",
                    o->cmd, (double)o->threshold, bs[0].gate, o->cmd);
            return 2;
        }
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", o->no_skip ? 0.0 : (double)o->threshold);
    graph_set_meta(g, ANNOT_THRESHOLD_OVERRIDE, buf);
    return 0;
}

/* --stats: every gate tensor also becomes a graph output (after the user's outputs), so
 * that the run reports which branches each instance skipped. */
static int add_gate_outputs(Graph *g, Branch **out, Diag *d) {
    Branch *bs;
    int nb = annot_branches(g, &bs, d);
    if (nb < 0) return -1;
    *out = bs;
    for (int i = 0; i < nb; i++) {
        int v = graph_find_value(g, bs[i].gate);
        bool seen = false;
        for (int k = 0; k < g->noutput; k++)
            if (g->outputs[k] == v) seen = true;
        if (!seen) graph_add_output(g, v);
    }
    return nb;
}

/* Import + full pipeline, ready for codegen: 0 with *out set, 1 with d set (bad input), or
 * 2 (a usage error, already printed). With --stats, *bs / *nb get the annotated branches as
 * read before the passes (in the graph's arena; dead code elimination may remove a branch
 * that nothing reads). */
static int load_and_optimize(const Opts *o, Graph **out, int *nuser, Branch **bs, int *nb,
                             Diag *d) {
    *out = NULL;
    Graph *g = load_model(o, d);
    if (!g) return 1;
    int rc = apply_threshold_opts(o, g, d);
    if (rc) {
        graph_free(g);
        return rc;
    }
    if (nuser) *nuser = g->noutput;
    if (o->stats && (*nb = add_gate_outputs(g, bs, d)) < 0) {
        graph_free(g);
        return 1;
    }
    /* The IR verifier and the memory-plan checker run on every compile, release builds
     * included: they cost little next to codegen, and a plan bug is a silently wrong answer. */
    PassOptions po = {
        .verify = true, .dump_after = o->dump_after, .dump_dir = o->dump_dir, .dump_file = stderr};
    if (pipeline_run(g, &po, d)) {
        graph_free(g);
        return 1;
    }
    *out = g;
    return 0;
}

static CodegenOptions codegen_opts(const Opts *o) {
    CodegenOptions c = {.prefix = o->prefix, .opt_level = o->opt_level, .cpu = o->cpu};
    return c;
}

/* ---- compile -------------------------------------------------------------------------- */

static int cmd_compile(const Opts *o) {
    if (!o->out) return usage_error("compile", "-o OUT.o|OUT.so is required%s", "");
    bool shared = has_suffix(o->out, ".so");
    if (!shared && !has_suffix(o->out, ".o"))
        return usage_error("compile", "-o must name a .o or .so file, not '%s'", o->out);
    Diag d = {{0}};
    Graph *g;
    int st = load_and_optimize(o, &g, NULL, NULL, NULL, &d);
    if (st) return st == 2 ? 2 : fail("%s", d.msg);
    CodegenOptions co = codegen_opts(o);
    /* Every output goes to a temporary file beside it and is renamed into place only when
     * all of them were written: a failure leaves no half-written or stale-looking output. */
    enum { OUT_MAIN, OUT_HEADER, OUT_LLVM, NOUT };
    char *final[NOUT] = {strdup(o->out), NULL, o->emit_llvm ? strdup(o->emit_llvm) : NULL};
    char *tmp[NOUT] = {NULL, NULL, NULL};
    if (o->header) {
        final[OUT_HEADER] = strdup(o->header);
    } else {
        size_t n = strlen(o->out), cut = shared ? n - 3 : n - 2;
        final[OUT_HEADER] = malloc(cut + 3);
        if (final[OUT_HEADER]) {
            memcpy(final[OUT_HEADER], o->out, cut);
            strcpy(final[OUT_HEADER] + cut, ".h");
        }
    }
    for (int i = 0; i < NOUT; i++) {
        if (!final[i]) continue;
        size_t n = strlen(final[i]) + 32;
        tmp[i] = malloc(n);
        if (!tmp[i]) abort();
        snprintf(tmp[i], n, "%s.isbc-tmp%ld", final[i], (long)getpid());
    }
    if (!final[OUT_MAIN] || !final[OUT_HEADER]) abort();
    int rc = shared ? codegen_emit_shared(g, &co, tmp[OUT_MAIN], &d)
                    : codegen_emit_object(g, &co, tmp[OUT_MAIN], &d);
    if (!rc) rc = codegen_emit_header(g, &co, tmp[OUT_HEADER], &d);
    if (!rc && tmp[OUT_LLVM]) rc = codegen_emit_llvm(g, &co, tmp[OUT_LLVM], &d);
    for (int i = 0; i < NOUT && !rc; i++)
        if (tmp[i] && rename(tmp[i], final[i]) != 0)
            rc = diag(&d, "cannot write %s: %s", final[i], strerror(errno));
    if (rc) { /* name the user's file, not the temporary one */
        for (int i = 0; i < NOUT; i++) {
            if (!tmp[i]) continue;
            unlink(tmp[i]);
            char *at = strstr(d.msg, tmp[i]);
            if (at) {
                char rest[sizeof d.msg];
                snprintf(rest, sizeof rest, "%s", at + strlen(tmp[i]));
                snprintf(at, sizeof d.msg - (size_t)(at - d.msg), "%s%s", final[i], rest);
            }
        }
    }
    for (int i = 0; i < NOUT; i++) {
        free(tmp[i]);
        free(final[i]);
    }
    graph_free(g);
    return rc ? fail("%s", d.msg) : 0;
}

/* ---- run / bench shared ----------------------------------------------------------------- */

typedef struct Prepared {
    Graph *g;
    Jit *jit;
    int64_t batch;
    Tensor *in;       /* g->ninput tensors */
    void **out;       /* g->noutput buffers */
    int nuser;        /* the model's own outputs: the first nuser (then gates, with --stats) */
    Branch *branches; /* --stats: the annotated branches (load_and_optimize) */
    int nbranch;
    void *ws;
    int64_t stats[5]; /* of the last run (P_run_stats) */
} Prepared;

static void prepared_free(Prepared *p) {
    if (p->in)
        for (int i = 0; p->g && i < p->g->ninput; i++) tensor_free(&p->in[i]);
    free(p->in);
    if (p->out)
        for (int i = 0; p->g && i < p->g->noutput; i++) free(p->out[i]);
    free(p->out);
    free(p->ws);
    if (p->jit) jit_free(p->jit);
    graph_free(p->g);
    memset(p, 0, sizeof *p);
}

/* Fill a tensor of type t (batch resolved) with reproducible pseudo-random data. */
static void random_tensor(Tensor *t, const Type *ty, int64_t batch, uint64_t seed) {
    t->type = *ty;
    if (type_has_batch(ty)) t->type.dims[0] = batch;
    int64_t n = type_numel(&t->type, 1);
    size_t es = dtype_size(ty->dtype);
    t->data = calloc((size_t)(n ? n : 1), es ? es : 1);
    t->name = NULL;
    if (!t->data) abort();
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) / 9007199254740992.0; /* [0,1) */
        switch (ty->dtype) {
        case DT_F32: ((float *)t->data)[i] = (float)(2 * u - 1); break;
        case DT_F64: ((double *)t->data)[i] = 2 * u - 1; break;
        case DT_I64: ((int64_t *)t->data)[i] = (int64_t)(u * 4); break;
        case DT_I32: ((int32_t *)t->data)[i] = (int32_t)(u * 4); break;
        default: ((uint8_t *)t->data)[i] = (uint8_t)(u * 2); break;
        }
    }
}

/* Check an input tensor against the graph input; sets/validates *batch. */
static int check_input(const Graph *g, int idx, const Tensor *t, int64_t *batch, Diag *d) {
    const Value *v = gval(g, g->inputs[idx]);
    char want[256], got[256];
    type_str(&v->type, want, sizeof want);
    type_str(&t->type, got, sizeof got);
    if (t->type.dtype != v->type.dtype || t->type.rank != v->type.rank)
        return diag(d, "input %d ('%s') must be %s, the file holds %s", idx, v->name, want, got);
    for (int k = 0; k < v->type.rank; k++) {
        if (v->type.dims[k] == IR_DIM_N) {
            if (*batch > 0 && *batch != t->type.dims[0])
                return diag(d, "input %d ('%s') has batch %lld, another input has %lld", idx,
                            v->name, (long long)t->type.dims[0], (long long)*batch);
            if (t->type.dims[0] < 1)
                return diag(d, "input %d ('%s') has an empty batch", idx, v->name);
            *batch = t->type.dims[0];
        } else if (v->type.dims[k] != t->type.dims[k]) {
            return diag(d, "input %d ('%s') must be %s, the file holds %s", idx, v->name, want,
                        got);
        }
    }
    return 0;
}

/* 0, -1 with d set, or 2: a usage error, already printed. */
static int prepare(const Opts *o, bool random_inputs, Prepared *p, Diag *d) {
    memset(p, 0, sizeof *p);
    int st = load_and_optimize(o, &p->g, &p->nuser, &p->branches, &p->nbranch, d);
    if (st) return st == 2 ? 2 : -1;
    Graph *g = p->g;
    if (!random_inputs && o->ninputs != g->ninput)
        return diag(d, "the model has %d input%s, %d given with -i", g->ninput,
                    g->ninput == 1 ? "" : "s", o->ninputs);
    p->in = calloc((size_t)g->ninput + 1, sizeof *p->in);
    p->out = calloc((size_t)g->noutput + 1, sizeof *p->out);
    if (!p->in || !p->out) abort();
    int64_t batch = -1;
    for (int i = 0; i < g->ninput; i++) {
        if (random_inputs) {
            random_tensor(&p->in[i], &gval(g, g->inputs[i])->type, o->batch, (uint64_t)i + 1);
        } else if (tensor_read(o->inputs[i], &p->in[i], d)) {
            return -1;
        }
        if (check_input(g, i, &p->in[i], &batch, d)) return -1;
    }
    p->batch = batch > 0 ? batch : 1;
    for (int i = 0; i < g->noutput; i++) {
        const Type *t = &gval(g, g->outputs[i])->type;
        int64_t nb = type_bytes(t, p->batch);
        if (nb < 0)
            return diag(d, "output '%s' is too large at batch %lld", gval(g, g->outputs[i])->name,
                        (long long)p->batch);
        p->out[i] = calloc((size_t)(nb ? nb : 1), 1);
        if (!p->out[i]) abort();
    }
    CodegenOptions co = codegen_opts(o);
    p->jit = jit_compile(g, &co, d);
    if (!p->jit) return -1;
    size_t ws = jit_workspace_size(p->jit, p->batch);
    if (ws == SIZE_MAX)
        return diag(d, "batch %lld is too large for this model", (long long)p->batch);
    p->ws = aligned_alloc(64, (ws + 63) / 64 * 64 + 64);
    if (!p->ws) return diag(d, "cannot allocate a workspace of %zu bytes", ws);
    return 0;
}

static int run_once(Prepared *p, Diag *d) {
    const void *ins[MAX_FILES];
    for (int i = 0; i < p->g->ninput && i < MAX_FILES; i++) ins[i] = p->in[i].data;
    int rc = jit_run_stats(p->jit, p->batch, ins, p->out, p->ws, p->stats);
    if (rc) return diag(d, "the compiled model rejected its arguments (status %d)", rc);
    return 0;
}

static void print_summary(const Graph *g, int i, const void *data, int64_t batch) {
    const Value *v = gval(g, g->outputs[i]);
    Type t = v->type;
    if (type_has_batch(&t)) t.dims[0] = batch;
    char ts[256];
    char pn[256];
    printf("output %d '%s': %s", i, str_printable(v->name, pn, sizeof pn),
           type_str(&t, ts, sizeof ts));
    int64_t n = type_numel(&t, 1);
    if (t.dtype == DT_F32 && n > 0) {
        const float *x = data;
        double sum = 0;
        int64_t arg = 0;
        for (int64_t k = 0; k < n; k++) {
            sum += x[k];
            if (x[k] > x[arg]) arg = k;
        }
        printf("  mean %.6g  argmax %lld (%.6g)", sum / (double)n, (long long)arg, x[arg]);
        printf("  [");
        for (int64_t k = 0; k < n && k < 6; k++) printf("%s%.6g", k ? ", " : "", x[k]);
        printf("%s]", n > 6 ? ", ..." : "");
    }
    printf("\n");
}

static int64_t graph_flops(const Graph *g);

/* --stats: per instance, the branches run and skipped (mask in isb.branches order, 1 =
 * skipped) and the FLOPs executed (every region whose terms all fail is skipped), from the
 * gate values the compiled model computed and the guards it was compiled with; then the
 * totals the generated code counted itself (P_run_stats). */
static bool term_holds(const Prepared *p, const GuardTerm *t, int64_t n) {
    const Graph *g = p->g;
    int gate = t->gate, def = gval(g, gate)->def;
    if (def >= 0 && gnode(g, def)->op == OP_GateMask) gate = gnode(g, def)->in[0]; /* same test */
    for (int k = 0; k < g->noutput; k++) {
        if (g->outputs[k] != gate) continue;
        const Type *ty = &gval(g, gate)->type;
        int64_t row = type_has_batch(ty) ? type_numel(ty, 1)
                                         : type_numel(ty, 1) / (ty->dims[0] ? ty->dims[0] : 1);
        return ((const float *)p->out[k])[n * row + t->index] >= t->threshold;
    }
    return true; /* not an output: counted as run */
}

static bool guard_holds(const Prepared *p, const Guard *gd, int64_t n) {
    for (int t = 0; t < gd->nterm; t++)
        if (gd->terms[t].threshold <= 0 || term_holds(p, &gd->terms[t], n)) return true;
    return false;
}

static void print_stats(const Prepared *p) {
    const Graph *g = p->g;
    const Branch *bs = p->branches;
    int nb = p->nbranch;
    int *gid = calloc((size_t)nb + 1, sizeof *gid);
    char *mask = malloc((size_t)nb + 1);
    if (!gid || !mask) abort();
    for (int i = 0; i < nb; i++) {
        gid[i] = -1;
        for (int k = 0; k < g->nguard; k++)
            if (strcmp(g->guards[k].name, bs[i].name) == 0) gid[i] = k;
    }
    int64_t dense = graph_flops(g);
    for (int64_t n = 0; n < p->batch; n++) {
        int skipped = 0;
        int64_t flops = dense;
        for (int k = 0; k < g->nguard; k++)
            if (!guard_holds(p, &g->guards[k], n)) flops -= g->guards[k].flops;
        for (int i = 0; i < nb; i++) {
            /* a branch without a guard is dense (threshold <= 0) or was removed as dead code:
             * its mask bit is still the thresholded decision on its gate */
            GuardTerm t = {graph_find_value(g, bs[i].gate), bs[i].index, bs[i].threshold};
            bool skip = gid[i] >= 0 ? !guard_holds(p, &g->guards[gid[i]], n)
                                    : t.threshold > 0 && t.gate >= 0 && !term_holds(p, &t, n);
            mask[i] = skip ? '1' : '0';
            skipped += skip;
        }
        mask[nb] = 0;
        printf("stats.instance %lld run=%d skipped=%d flops=%lld mask=%s\n", (long long)n,
               nb - skipped, skipped, (long long)flops, mask);
    }
    const int64_t *st = p->stats;
    printf("stats: %lld instance%s, %d branches, mean skipped %.2f, mean FLOPs %.0f of %lld dense "
           "(%.3f)\n",
           (long long)p->batch, p->batch == 1 ? "" : "s", nb, (double)st[2] / (double)p->batch,
           (double)st[3] / (double)p->batch, (long long)dense,
           st[4] ? (double)st[3] / (double)st[4] : 1.0);
    free(gid);
    free(mask);
}

static int cmd_run(const Opts *o) {
    if (o->noutputs) {
        for (int i = 0; i < o->noutputs; i++)
            if (!has_suffix(o->outputs[i], ".pb") && !has_suffix(o->outputs[i], ".npy"))
                return usage_error("run", "-o must name a .pb or .npy file, not '%s'",
                                   o->outputs[i]);
    }
    Diag d = {{0}};
    Prepared p;
    int st = prepare(o, false, &p, &d);
    if (st || run_once(&p, &d)) {
        prepared_free(&p);
        return st == 2 ? 2 : fail("%s", d.msg);
    }
    Graph *g = p.g;
    if (o->noutputs && o->noutputs != p.nuser) {
        int n = p.nuser;
        prepared_free(&p);
        return fail("the model has %d output%s, %d given with -o", n, n == 1 ? "" : "s",
                    o->noutputs);
    }
    int rc = 0;
    for (int i = 0; i < p.nuser; i++) {
        if (!o->noutputs) {
            print_summary(g, i, p.out[i], p.batch);
            continue;
        }
        Tensor t = {.type = gval(g, g->outputs[i])->type,
                    .data = p.out[i],
                    .name = (char *)gval(g, g->outputs[i])->name};
        if (type_has_batch(&t.type)) t.type.dims[0] = p.batch;
        if (tensor_write(o->outputs[i], &t, &d)) {
            rc = fail("%s", d.msg);
            break;
        }
    }
    if (rc == 0 && o->stats) print_stats(&p);
    prepared_free(&p);
    return rc;
}

/* ---- bench ---------------------------------------------------------------------------- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, int n, double q) {
    double pos = q * (n - 1);
    int lo = (int)floor(pos), hi = (int)ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

static int64_t graph_flops(const Graph *g) {
    int64_t f = 0;
    for (int i = 0; i < g->nnode; i++)
        if (!gnode(g, i)->dead) f = sat_add(f, node_flops(g, gnode(g, i)));
    return f;
}

static int cmd_bench(const Opts *o) {
    Diag d = {{0}};
    Prepared p;
    if (o->threads)
        isbrt_set_threads(o->threads);
    else
        isbrt_set_threads(0);
    double t0 = now_ms();
    int st = prepare(o, o->ninputs == 0, &p, &d);
    if (st) {
        prepared_free(&p);
        return st == 2 ? 2 : fail("%s", d.msg);
    }
    double compile_ms = now_ms() - t0;
    double *times = malloc(sizeof(double) * (size_t)o->iters);
    if (!times) abort();
    int rc = 0;
    for (int i = 0; i < o->warmup && !rc; i++) rc = run_once(&p, &d);
    for (int i = 0; i < o->iters && !rc; i++) {
        double s = now_ms();
        rc = run_once(&p, &d);
        times[i] = now_ms() - s;
    }
    if (rc) {
        free(times);
        prepared_free(&p);
        return fail("%s", d.msg);
    }
    qsort(times, (size_t)o->iters, sizeof *times, cmp_double);
    double med = percentile(times, o->iters, 0.5), p10 = percentile(times, o->iters, 0.1),
           p90 = percentile(times, o->iters, 0.9);
    /* FLOPs of the code that ran in the last run (P_run_stats), against the dense model */
    double executed = (double)p.stats[3], dense = (double)p.stats[4];
    double gflop = executed / 1e9, ratio = dense > 0 ? executed / dense : 1.0;
    int threads = o->threads ? o->threads : 0;
    if (o->json) {
        printf("{\"model\": \"%s\", \"batch\": %lld, \"threads\": %d, \"iters\": %d, "
               "\"median_ms\": %.4f, \"p10_ms\": %.4f, \"p90_ms\": %.4f, \"gflops\": %.3f, "
               "\"flops_executed\": %.0f, \"flops_dense\": %.0f, \"flops_ratio\": %.4f, "
               "\"branches_skipped\": %lld, \"compile_ms\": %.1f, \"workspace_bytes\": %zu}\n",
               o->model, (long long)p.batch, threads, o->iters, med, p10, p90, gflop / (med / 1e3),
               executed, dense, ratio, (long long)p.stats[2], compile_ms,
               jit_workspace_size(p.jit, p.batch));
    } else {
        printf("%s: batch %lld, threads %s, %d iters\n", o->model, (long long)p.batch,
               threads ? "set" : "all", o->iters);
        printf("  median %.3f ms   p10 %.3f ms   p90 %.3f ms   %.2f GFLOP/s\n", med, p10, p90,
               gflop / (med / 1e3));
        if (p.stats[0] > 0)
            printf("  branches: %lld of %lld skipped; FLOPs executed %.0f of %.0f dense (%.3f)\n",
                   (long long)p.stats[2], (long long)(p.stats[0] * p.batch), executed, dense,
                   ratio);
        printf("  compile %.0f ms, workspace %zu bytes\n", compile_ms,
               jit_workspace_size(p.jit, p.batch));
    }
    free(times);
    prepared_free(&p);
    return 0;
}

/* ---- dump / info ---------------------------------------------------------------------- */

/* A Graphviz string body: quotes and backslashes escaped, control bytes as \x.. text. */
static void dot_str(FILE *f, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\\\x%02x", c);
        else
            fputc(c, f);
    }
}

/* The dot node that stands for value v: its producer n<i>, or v<id> for an input. */
static void dot_src(FILE *f, const Graph *g, int v) {
    int def = gval(g, v)->def;
    if (def >= 0)
        fprintf(f, "n%d", def);
    else
        fprintf(f, "v%d", v);
}

/* --dot: nodes and data edges; each guard region is a cluster labelled with its name, its
 * condition (gate element >= threshold, OR of the terms), the value it guards and its FLOPs
 * per instance; a dashed edge runs from the node computing each term's gate (the GateMask,
 * after fuse_selection) to the region it controls. */
static void print_dot(const Graph *g, FILE *f) {
    fputs("digraph \"", f);
    dot_str(f, g->name ? g->name : "graph");
    fputs("\" {\n  compound=true;\n  node [shape=box, fontname=monospace];\n", f);
    for (int i = 0; i < g->ninput; i++) {
        fprintf(f, "  v%d [label=\"input ", g->inputs[i]);
        dot_str(f, gval(g, g->inputs[i])->name);
        fputs("\", shape=ellipse];\n", f);
    }
    char ts[256];
    for (int gid = -1; gid < g->nguard; gid++) {
        const char *ind = "  ";
        int first = -1;
        if (gid >= 0) {
            for (int i = 0; i < g->nnode && first < 0; i++)
                if (!gnode(g, i)->dead && gnode(g, i)->guard == gid) first = i;
            if (first < 0) continue;
            const Guard *gd = &g->guards[gid];
            fprintf(f,
                    "  subgraph cluster_guard%d {\n    style=\"rounded,filled\"; "
                    "fillcolor=\"#eef3fb\"; fontname=monospace;\n    label=\"guard \\\"",
                    gid);
            dot_str(f, gd->name);
            fputs("\\\"", f);
            for (int t = 0; t < gd->nterm; t++) {
                fputs(t ? " ||\\l" : "\\l", f);
                dot_str(f, gval(g, gd->terms[t].gate)->name);
                fprintf(f, "[%d] >= %g", gd->terms[t].index, (double)gd->terms[t].threshold);
            }
            if (gd->value >= 0) {
                fputs("\\lvalue=", f);
                dot_str(f, gval(g, gd->value)->name);
            }
            fprintf(f, "\\lflops=%lld\\l\";\n", (long long)gd->flops);
            ind = "    ";
        }
        for (int i = 0; i < g->nnode; i++) {
            const Node *n = gnode(g, i);
            if (n->dead || n->guard != gid) continue;
            fprintf(f, "%sn%d [label=\"%s", ind, i, op_info(n->op)->name);
            if (n->nout) {
                fputs("\\n", f);
                dot_str(f, gval(g, n->out[0])->name);
                fprintf(f, ": %s", type_str(&gval(g, n->out[0])->type, ts, sizeof ts));
            }
            fputs("\"", f);
            if (n->op == OP_GateMask)
                fputs(", style=filled, fillcolor=\"#fde9c8\"", f);
            else if (n->op == OP_BranchSum)
                fputs(", style=filled, fillcolor=\"#e3f2dc\"", f);
            fputs("];\n", f);
        }
        if (gid >= 0) fputs("  }\n", f);
        if (gid >= 0) { /* what decides whether the region runs */
            const Guard *gd = &g->guards[gid];
            for (int t = 0; t < gd->nterm; t++) {
                bool dup = false;
                for (int u = 0; u < t; u++) dup |= gd->terms[u].gate == gd->terms[t].gate;
                if (dup) continue;
                fputs("  ", f);
                dot_src(f, g, gd->terms[t].gate);
                fprintf(f,
                        " -> n%d [lhead=cluster_guard%d, style=dashed, color=\"#c0392b\", "
                        "label=\"controls\", fontname=monospace];\n",
                        first, gid);
            }
        }
    }
    for (int i = 0; i < g->nnode; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        for (int k = 0; k < n->nin; k++) {
            int v = n->in[k];
            if (v < 0 || (gval(g, v)->flags & VAL_CONST)) continue;
            fputs("  ", f);
            dot_src(f, g, v);
            fprintf(f, " -> n%d;\n", i);
        }
    }
    for (int i = 0; i < g->noutput; i++) {
        fprintf(f, "  o%d [label=\"output ", i);
        dot_str(f, gval(g, g->outputs[i])->name);
        fputs("\", shape=ellipse];\n", f);
        if (gval(g, g->outputs[i])->def >= 0 || !(gval(g, g->outputs[i])->flags & VAL_CONST)) {
            fputs("  ", f);
            dot_src(f, g, g->outputs[i]);
            fprintf(f, " -> o%d;\n", i);
        }
    }
    fprintf(f, "}\n");
}

static int cmd_dump(const Opts *o) {
    Diag d = {{0}};
    Graph *g = load_model(o, &d);
    if (!g) return fail("%s", d.msg);
    PassOptions po = {.verify = true, .dump_file = stdout};
    int rc = 0;
    if (o->passes) {
        rc = pipeline_run_list(g, o->passes, &po, &d);
    } else if (o->dump_after) {
        if (strcmp(o->dump_after, "all") == 0) {
            po.dump_after = "all";
            rc = pipeline_run(g, &po, &d);
            graph_free(g);
            return rc ? fail("%s", d.msg) : 0;
        }
        if (!pass_find(o->dump_after)) {
            graph_free(g);
            return usage_error("dump", "unknown pass '%s'", o->dump_after);
        }
        po.stop_after = o->dump_after;
        rc = pipeline_run(g, &po, &d);
    }
    if (!rc) {
        if (o->dot)
            print_dot(g, stdout);
        else
            graph_print(g, stdout, o->weights ? PRINT_WEIGHTS : 0);
    }
    graph_free(g);
    return rc ? fail("%s", d.msg) : 0;
}

static int cmd_info(const Opts *o) {
    Diag d = {{0}};
    Graph *g = load_model(o, &d);
    if (!g) return fail("%s", d.msg);
    if (pipeline_run_list(g, "infer", NULL, &d)) { /* with the annotation checks */
        graph_free(g);
        return fail("%s", d.msg);
    }
    char ts[256];
    char pn[256];
    printf("model: %s (graph '%s', opset %d)\n", o->model, str_printable(g->name, pn, sizeof pn),
           g->opset);
    for (int i = 0; i < g->ninput; i++)
        printf("input  %d: %s %s\n", i, str_printable(gval(g, g->inputs[i])->name, pn, sizeof pn),
               type_str(&gval(g, g->inputs[i])->type, ts, sizeof ts));
    for (int i = 0; i < g->noutput; i++)
        printf("output %d: %s %s\n", i, str_printable(gval(g, g->outputs[i])->name, pn, sizeof pn),
               type_str(&gval(g, g->outputs[i])->type, ts, sizeof ts));
    int64_t params = 0, nconst = 0;
    int *uses = graph_use_counts(g);
    for (int v = 0; v < g->nval; v++)
        if ((gval(g, v)->flags & VAL_CONST) && uses[v] && dtype_is_float(gval(g, v)->type.dtype)) {
            params += type_numel(&gval(g, v)->type, 1);
            nconst++;
        }
    free(uses);
    int counts[OP_COUNT] = {0};
    int live = 0;
    for (int i = 0; i < g->nnode; i++)
        if (!gnode(g, i)->dead) counts[gnode(g, i)->op]++, live++;
    printf("nodes: %d\nops:", live);
    for (int k = 0; k < OP_COUNT; k++)
        if (counts[k]) printf(" %s=%d", op_info(k)->name, counts[k]);
    printf("\nparams: %lld (%lld float tensors)\n", (long long)params, (long long)nconst);
    int64_t fl = graph_flops(g);
    if (fl == INT64_MAX) /* node_flops saturates */
        printf("dense FLOPs per instance: more than %lld\n", (long long)INT64_MAX - 1);
    else
        printf("dense FLOPs per instance: %lld (%.3f GFLOP)\n", (long long)fl, (double)fl / 1e9);
    /* Branches: each one's exclusive cone (insert_guards with every branch guarded). */
    Branch *bs;
    int nb = annot_branches(g, &bs, &d);
    if (nb > 0) {
        graph_set_meta(g, ANNOT_THRESHOLD_OVERRIDE, "1");
        if (pipeline_run_list(g, "insert_guards", NULL, &d)) {
            graph_free(g);
            return fail("%s", d.msg);
        }
        int64_t sum = 0;
        printf("branches: %d (FLOPs per instance of each exclusive cone)\n", nb);
        for (int i = 0; i < nb; i++) {
            int64_t f = 0;
            for (int k = 0; k < g->nguard; k++)
                if (strcmp(g->guards[k].name, bs[i].name) == 0) f = g->guards[k].flops;
            sum += f;
            char nb1[256], nb2[256]; /* names may hold control characters */
            printf("  %-32s %s[%d] >= %g  %lld FLOPs\n", str_printable(bs[i].name, nb1, sizeof nb1),
                   str_printable(bs[i].gate, nb2, sizeof nb2), bs[i].index, (double)bs[i].threshold,
                   (long long)f);
        }
        printf("branch FLOPs: %lld of %lld dense (%.3f)\n", (long long)sum, (long long)fl,
               fl ? (double)sum / (double)fl : 0.0);
    } else if (nb < 0) {
        graph_free(g);
        return fail("%s", d.msg);
    }
    graph_free(g);
    return 0;
}

/* ---- main ----------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(help_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("isbc 0.1.0\n");
        return 0;
    }
    static const struct {
        const char *name, *help, *allowed;
        int (*fn)(const Opts *);
    } cmds[] = {
        {"compile", help_compile,
         " -o --header --name --shape --bind -O --cpu --emit-llvm --after --dump-dir --no-skip "
         "--threshold ",
         cmd_compile},
        {"run", help_run, " -i -o --shape --bind -O --cpu --no-skip --threshold --stats ", cmd_run},
        {"dump", help_dump, " --after --passes --weights --dot --shape --bind ", cmd_dump},
        {"info", help_info, " --shape --bind ", cmd_info},
        {"bench", help_bench,
         " -i --iters --warmup --threads --batch --shape --bind --json -O --cpu --no-skip "
         "--threshold ",
         cmd_bench},
    };
    for (size_t k = 0; k < sizeof cmds / sizeof *cmds; k++) {
        if (strcmp(argv[1], cmds[k].name) != 0) continue;
        Opts o;
        int rc = parse_opts(cmds[k].name, argc - 2, argv + 2, cmds[k].allowed, &o);
        if (rc == 3) {
            fputs(cmds[k].help, stdout);
            if (!strcmp(cmds[k].name, "dump") || !strcmp(cmds[k].name, "compile")) {
                printf("\nPasses, in pipeline order (for --after, --dump-after, --passes):\n");
                for (const PassInfo *pi = pass_pipeline; pi->name; pi++)
                    printf("  %-18s %s\n", pi->name, pi->what);
            }
            return 0;
        }
        if (rc) return rc;
        rc = cmds[k].fn(&o);
        for (int i = 0; i < o.nshapes; i++) free((void *)o.shapes[i].name);
        for (int i = 0; i < o.nbinds; i++) free((void *)o.bind_names[i]);
        return rc;
    }
    fprintf(stderr, "isbc: unknown command '%s'\n\n%s", argv[1], help_main);
    return 2;
}
