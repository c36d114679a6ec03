/* pipeline.c — the default pass order (docs/architecture.md) and the pass runner.
 * Requires: a graph from the frontend or the parser. Guarantees: each pass runs in order;
 * after `infer`, the isb.branches annotation is validated with every type known;
 * with PassOptions.verify the graph is verified after every pass (and the memory plan
 * after pass plan: plan_verify); the IR is dumped after the
 * named pass (or all), headed by `# after NAME`; the run stops after PassOptions.stop_after. */
#include "passes.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

const PassInfo pass_pipeline[] = {
    {"infer", pass_infer, "shape inference and validation"},
    {"fold", pass_fold, "constant folding (including shape subgraphs)"},
    {"fold_bn", pass_fold_bn, "fold BatchNormalization into Conv/Gemm (else Mul+Add)"},
    {"fuse_conv", pass_fuse_conv, "fuse bias, residual Add and activation into Conv/Gemm"},
    {"fuse_elementwise", pass_fuse_elementwise, "fuse elementwise chains into Elementwise"},
    {"insert_guards", pass_insert_guards, "branch cones, shared regions and live sums (guards)"},
    {"fuse_selection", pass_fuse_selection,
     "SelectionNets scheduled early; one active mask per gate"},
    {"dce", pass_dce, "dead code elimination"},
    {"plan", pass_plan, "memory planning: one activation arena with offsets"},
    {NULL, NULL, NULL},
};

const PassInfo *pass_find(const char *name) {
    for (const PassInfo *p = pass_pipeline; p->name; p++)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

static bool all_typed(const Graph *g) {
    for (int v = 0; v < g->nval; v++)
        if (!type_known(&gval(g, v)->type)) return false;
    return true;
}

static int dump(const Graph *g, const PassInfo *p, int seq, const PassOptions *o, Diag *d) {
    if (!o->dump_after ||
        (strcmp(o->dump_after, "all") != 0 && strcmp(o->dump_after, p->name) != 0))
        return 0;
    if (!o->dump_dir) {
        FILE *f = o->dump_file ? o->dump_file : stderr;
        fprintf(f, "# after %s\n", p->name);
        graph_print(g, f, 0);
        return 0;
    }
    char path[4096];
    if (mkdir(o->dump_dir, 0777) != 0 && errno != EEXIST)
        return diag(d, "cannot create %s: %s", o->dump_dir, strerror(errno));
    snprintf(path, sizeof path, "%s/%02d-%s.ir", o->dump_dir, seq, p->name);
    FILE *f = fopen(path, "w");
    if (!f) return diag(d, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "# after %s\n", p->name);
    graph_print(g, f, 0);
    if (fclose(f) != 0) return diag(d, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Run passes[0..n) in order; seq numbers dumps from 1. */
static int run(Graph *g, const PassInfo *const *passes, int n, const PassOptions *o, Diag *d) {
    static const PassOptions none = {0};
    if (!o) o = &none;
    if (o->dump_after && strcmp(o->dump_after, "all") != 0 && !pass_find(o->dump_after))
        return diag(d, "unknown pass '%s'", o->dump_after);
    if (o->stop_after && !pass_find(o->stop_after))
        return diag(d, "unknown pass '%s'", o->stop_after);
    bool typed = all_typed(g);
    for (int i = 0; i < n; i++) {
        const PassInfo *p = passes[i];
        if (p->fn(g, d)) return -1;
        if (p->fn == pass_infer) {
            typed = true;
            /* The annotation again, now that every type is known (gate types, batch dims):
             * each command reaches here, so each one refuses the same annotations. */
            Branch *bs;
            if (annot_branches(g, &bs, d) < 0) return -1;
        }
        if (o->verify) {
            Diag vd;
            if (graph_verify(g, typed, &vd) || (p->fn == pass_plan && plan_verify(g, &vd)))
                return diag(d, "internal error (an isbc bug): after pass %s: %s", p->name, vd.msg);
        }
        if (dump(g, p, i + 1, o, d)) return -1;
        if (o->stop_after && strcmp(o->stop_after, p->name) == 0) break;
    }
    return 0;
}

int pipeline_run(Graph *g, const PassOptions *o, Diag *d) {
    const PassInfo *passes[sizeof pass_pipeline / sizeof *pass_pipeline];
    int n = 0;
    for (const PassInfo *p = pass_pipeline; p->name; p++) passes[n++] = p;
    return run(g, passes, n, o, d);
}

int pipeline_run_list(Graph *g, const char *names, const PassOptions *o, Diag *d) {
    const PassInfo *passes[64];
    int n = 0;
    for (const char *s = names; *s;) {
        size_t len = strcspn(s, ",");
        char name[64];
        if (len == 0 || len >= sizeof name) return diag(d, "bad pass list '%s'", names);
        memcpy(name, s, len);
        name[len] = 0;
        const PassInfo *p = pass_find(name);
        if (!p) return diag(d, "unknown pass '%s'", name);
        if (n == (int)(sizeof passes / sizeof *passes))
            return diag(d, "too many passes in '%s'", names);
        passes[n++] = p;
        s += len;
        if (*s == ',') s++;
    }
    return run(g, passes, n, o, d);
}
