/* insert_guards.c — annotated branches become guard regions (docs/annotations.md and
 * docs/architecture.md, pass 6).
 * Requires: a typed graph whose isb.branches tensors survived fusion (the fuse passes pin
 * them). Guarantees, for every branch with threshold > 0:
 * - branch guard: the nodes that exist only to produce its `value` (walking back from
 *   value's producer while every reader of a node's outputs is already in the cone; never a
 *   graph output, a gate, another branch's value, or a node already guarded) carry
 *   Node.guard = a guard with the branch's one term; its flops are the cone's node_flops.
 * - shared regions: an unguarded node whose outputs (with the batch dim) are read only by
 *   guarded nodes, directly or through other such nodes, runs only where one of those
 *   guards' terms holds: it moves into a region "shared.<k>" whose terms are the union of
 *   theirs, placed just before the first region that reads it; adjacent nodes with the same
 *   terms share a region.
 * - live sums: an unguarded Add, or fused Elementwise that only adds its inputs, whose
 *   inputs all have its output type and some of which are branch values becomes a
 *   BranchSum, which adds a branch value only for the instances where its branch ran.
 * Each region's nodes are contiguous. threshold <= 0: no guard (dense, exactly). */
#include "passes.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Move every guard's nodes to the position of its last node (valid: cone nodes are read
 * only inside the cone, whose last node is the value's producer). */
static void make_contiguous(Graph *g) {
    int n = g->nnode;
    int *last = malloc(sizeof *last * (size_t)(g->nguard + 1));
    int *order = calloc((size_t)n + 1, sizeof *order);
    if (!last || !order) abort();
    for (int i = 0; i < g->nguard; i++) last[i] = -1;
    for (int i = 0; i < n; i++)
        if (gnode(g, i)->guard >= 0) last[gnode(g, i)->guard] = i;
    int k = 0;
    for (int i = 0; i < n; i++) {
        int gd = gnode(g, i)->guard;
        if (gd < 0) {
            order[k++] = i;
        } else if (last[gd] == i) {
            for (int j = 0; j < n; j++)
                if (gnode(g, j)->guard == gd) order[k++] = j;
        }
    }
    graph_apply_order(g, order);
    free(last);
    free(order);
}

static int branch_guards(Graph *g, const Branch *bs, int nb, Diag *d) {
    int nv = g->nval, nn = g->nnode;
    bool *pinned = calloc((size_t)nv + 1, 1);
    bool *cone = calloc((size_t)nn + 1, 1);
    int *uses = graph_use_counts(g);
    int *readers = calloc((size_t)nv + 1, sizeof *readers); /* readers[v] inside the cone */
    if (!pinned || !cone || !readers) abort();
    for (int i = 0; i < g->noutput; i++) pinned[g->outputs[i]] = true;
    for (int i = 0; i < nb; i++) {
        pinned[graph_find_value(g, bs[i].gate)] = true;
        pinned[graph_find_value(g, bs[i].value)] = true;
    }
    graph_pin_guards(g, pinned);
    int rc = 0;
    for (int b = 0; b < nb && rc == 0; b++) {
        const Branch *br = &bs[b];
        bool exists = false;
        for (int i = 0; i < g->nguard; i++)
            if (strcmp(g->guards[i].name, br->name) == 0) exists = true;
        if (exists || br->threshold <= 0) continue;
        int value = graph_find_value(g, br->value);
        int p = gval(g, value)->def;
        if (p < 0 || gnode(g, p)->guard >= 0) {
            rc = diag(d, "insert_guards: branch '%s': value '%s' is not computed by its own node",
                      br->name, br->value);
            break;
        }
        /* reverse walk: every reader of a node comes after it */
        memset(cone, 0, (size_t)nn);
        memset(readers, 0, sizeof *readers * (size_t)nv);
        for (int i = p; i >= 0; i--) {
            Node *n = gnode(g, i);
            if (n->dead || n->guard >= 0) continue;
            if (i != p) {
                bool ok = n->nout > 0;
                for (int k = 0; k < n->nout && ok; k++) {
                    int o = n->out[k];
                    if (pinned[o] || uses[o] == 0 || readers[o] != uses[o]) ok = false;
                }
                if (!ok) continue;
            }
            cone[i] = true;
            for (int k = 0; k < n->nin; k++)
                if (n->in[k] >= 0) readers[n->in[k]]++;
        }
        GuardTerm t = {graph_find_value(g, br->gate), br->index, br->threshold};
        Guard gd = {.name = br->name, .terms = &t, .nterm = 1, .value = value};
        for (int i = 0; i <= p; i++)
            if (cone[i]) gd.flops = sat_add(gd.flops, node_flops(g, gnode(g, i)));
        int gid = graph_add_guard(g, gd);
        for (int i = 0; i <= p; i++)
            if (cone[i]) gnode(g, i)->guard = gid;
    }
    free(pinned);
    free(cone);
    free(uses);
    free(readers);
    return rc;
}

/* ---- shared regions ----------------------------------------------------------------- */

typedef struct Shared {
    Graph *g;
    int words;      /* 64-bit words per guard set */
    uint64_t *need; /* need[i*words ..]: the guards that read node i (through others) */
    bool *deferred; /* node i moves into a shared region */
    bool *emitted;
    int *order, norder; /* the new node order */
} Shared;

static uint64_t *need_of(Shared *s, int i) {
    return s->need + (size_t)i * (size_t)s->words;
}

/* Place node i, after the deferred nodes it reads. */
static void emit_with_deps(Shared *s, int i) {
    if (s->emitted[i]) return;
    const Node *n = gnode(s->g, i);
    for (int k = 0; k < n->nin; k++) {
        int x = n->in[k];
        int d = x >= 0 ? gval(s->g, x)->def : -1;
        if (d >= 0 && s->deferred[d]) emit_with_deps(s, d);
    }
    s->emitted[i] = true;
    s->order[s->norder++] = i;
}

/* The node's guard set, or false if it must always run. */
static bool compute_need(Shared *s, int i, const int *const *readers, const int *nreaders,
                         const bool *gate) {
    Graph *g = s->g;
    const Node *n = gnode(g, i);
    uint64_t *set = need_of(s, i);
    bool any = false;
    for (int k = 0; k < n->nout; k++) {
        int o = n->out[k];
        const Value *v = gval(g, o);
        if ((v->flags & VAL_OUTPUT) || gate[o] || !type_has_batch(&v->type)) return false;
        for (int r = 0; r < nreaders[o]; r++) {
            const Node *rn = gnode(g, readers[o][r]);
            if (rn->guard >= 0) {
                set[rn->guard / 64] |= 1ull << (rn->guard % 64);
            } else if (s->deferred[readers[o][r]]) {
                const uint64_t *rs = need_of(s, readers[o][r]);
                for (int w = 0; w < s->words; w++) set[w] |= rs[w];
            } else {
                return false;
            }
            any = true;
        }
    }
    return any;
}

static void shared_regions(Graph *g) {
    int nn = g->nnode, nv = g->nval;
    Shared s = {.g = g, .words = (g->nguard + 63) / 64};
    s.need = calloc((size_t)nn * (size_t)s.words + 1, sizeof *s.need);
    s.deferred = calloc((size_t)nn + 1, 1);
    s.emitted = calloc((size_t)nn + 1, 1);
    s.order = malloc(sizeof *s.order * (size_t)(nn + 1));
    int *nreaders = calloc((size_t)nv + 1, sizeof *nreaders);
    int **readers = calloc((size_t)nv + 1, sizeof *readers);
    bool *gate = calloc((size_t)nv + 1, 1);
    if (!s.need || !s.deferred || !s.emitted || !s.order || !nreaders || !readers || !gate) abort();
    for (int i = 0; i < g->nguard; i++)
        for (int t = 0; t < g->guards[i].nterm; t++) gate[g->guards[i].terms[t].gate] = true;
    for (int i = 0; i < nn; i++) {
        const Node *n = gnode(g, i);
        for (int k = 0; k < n->nin && !n->dead; k++)
            if (n->in[k] >= 0) nreaders[n->in[k]]++;
    }
    for (int v = 0; v < nv; v++) {
        readers[v] = malloc(sizeof **readers * (size_t)(nreaders[v] + 1));
        if (!readers[v]) abort();
        nreaders[v] = 0;
    }
    for (int i = 0; i < nn; i++) {
        const Node *n = gnode(g, i);
        for (int k = 0; k < n->nin && !n->dead; k++) {
            int x = n->in[k];
            if (x < 0) continue;
            bool dup = false;
            for (int r = 0; r < nreaders[x]; r++) dup |= readers[x][r] == i;
            if (!dup) readers[x][nreaders[x]++] = i;
        }
    }
    for (int i = nn - 1; i >= 0; i--) {
        const Node *n = gnode(g, i);
        if (n->dead || n->guard >= 0 || n->nout == 0 || n->op == OP_BranchSum) continue;
        s.deferred[i] = compute_need(&s, i, (const int *const *)readers, nreaders, gate);
    }
    /* new order: deferred nodes just before the first node (or region) that reads them */
    for (int i = 0; i < nn; i++) {
        if (s.deferred[i] || s.emitted[i]) continue;
        int gid = gnode(g, i)->guard, j = i + 1;
        if (gid < 0) {
            emit_with_deps(&s, i);
            continue;
        }
        while (j < nn && gnode(g, j)->guard == gid) j++;
        for (int k = i; k < j; k++) { /* the region's inputs first, then the region */
            const Node *n = gnode(g, k);
            for (int q = 0; q < n->nin; q++) {
                int d = n->in[q] >= 0 ? gval(g, n->in[q])->def : -1;
                if (d >= 0 && s.deferred[d]) emit_with_deps(&s, d);
            }
        }
        for (int k = i; k < j; k++) emit_with_deps(&s, k);
    }
    assert(s.norder == nn);
    graph_apply_order(g, s.order);
    /* regions: runs of deferred nodes with equal guard sets (ids now in the new order) */
    GuardTerm *terms = malloc(sizeof *terms * (size_t)(g->nguard + 1));
    if (!terms) abort();
    int nshared = 0;
    for (int i = 0; i < nn;) {
        int old = s.order[i], j = i + 1;
        if (!s.deferred[old]) {
            i++;
            continue;
        }
        const uint64_t *set = need_of(&s, old);
        while (j < nn && s.deferred[s.order[j]] &&
               memcmp(need_of(&s, s.order[j]), set, sizeof *set * (size_t)s.words) == 0)
            j++;
        int nt = 0;
        for (int q = 0; q < g->nguard; q++) {
            if (!(set[q / 64] >> (q % 64) & 1)) continue;
            for (int t = 0; t < g->guards[q].nterm; t++) {
                GuardTerm gt = g->guards[q].terms[t];
                bool dup = false;
                for (int u = 0; u < nt; u++)
                    dup |= terms[u].gate == gt.gate && terms[u].index == gt.index &&
                           terms[u].threshold == gt.threshold;
                if (!dup && nt < g->nguard) terms[nt++] = gt;
            }
        }
        char name[32];
        snprintf(name, sizeof name, "shared.%d", nshared++);
        Guard gd = {.name = name, .terms = terms, .nterm = nt, .value = -1};
        for (int k = i; k < j; k++) gd.flops = sat_add(gd.flops, node_flops(g, gnode(g, k)));
        int gid = graph_add_guard(g, gd);
        for (int k = i; k < j; k++) gnode(g, k)->guard = gid;
        i = j;
    }
    free(terms);
    for (int v = 0; v < nv; v++) free(readers[v]);
    free(readers);
    free(nreaders);
    free(gate);
    free(s.need);
    free(s.deferred);
    free(s.emitted);
    free(s.order);
}

/* ---- live sums ---------------------------------------------------------------------- */

/* Does n only add its inputs, each once, in any grouping ("x0 x1 Add x2 Add", or
 * fuse_elementwise's trees such as "x0 x1 x2 Add Add"), then maybe apply unary ops to the
 * sum ("... Add Relu")? An Add is such a node. *tail: the offset in the `_code` of that
 * unary suffix (its length if none, 0 for an Add). */
static bool is_add_chain(const Node *n, size_t *tail) {
    *tail = 0;
    if (n->op == OP_Add) return true;
    if (n->op != OP_Elementwise) return false;
    const char *code = attr_string(n, "_code", "");
    uint64_t seen = 0;
    int depth = 0, nop = 0;
    for (const char *t = code; *t;) {
        size_t len = strcspn(t, " ");
        char tok[64];
        if (len >= sizeof tok) return false;
        memcpy(tok, t, len);
        tok[len] = 0;
        if (nop == n->nin && depth == 1) { /* after the sum: unary ops only */
            tok[strcspn(tok, ":")] = 0;
            int op = op_from_name(tok);
            if (op < 0 || !(op_info(op)->flags & OPF_FUSE) || !(op_info(op)->flags & OPF_UNARY))
                return false;
        } else if (strcmp(tok, "Add") == 0) {
            if (depth < 2) return false;
            depth--;
            if (nop == n->nin && depth == 1) *tail = (size_t)(t + len - code);
        } else {
            char *end;
            long k = tok[0] == 'x' ? strtol(tok + 1, &end, 10) : -1;
            if (k < 0 || k >= n->nin || k >= 64 || *end || (seen >> k & 1)) return false;
            seen |= 1ull << k;
            depth++, nop++;
        }
        t += len;
        while (*t == ' ') t++;
    }
    return n->nin >= 2 && nop == n->nin && depth == 1;
}

/* Sums of branch values become BranchSums. A sum followed by unary ops (fuse_elementwise
 * fused the Relu after a cell's sum) is split: a BranchSum of the inputs, then an
 * Elementwise of the unary ops on it, just after. */
static void live_sums(Graph *g) {
    int nn = g->nnode;
    int *order = malloc(sizeof *order * (size_t)(2 * nn + 1)), no = 0;
    if (!order) abort();
    for (int i = 0; i < nn; i++) {
        Node *n = gnode(g, i);
        size_t tail;
        /* inside a region a sum may run on a gathered sub-batch: it stays a plain sum */
        if (n->dead || n->guard >= 0 || n->nout != 1 || !is_add_chain(n, &tail)) {
            order[no++] = i;
            continue;
        }
        const Type *yt = &gval(g, n->out[0])->type;
        bool branch_in = false, same = yt->dtype == DT_F32;
        for (int k = 0; k < n->nin && same; k++) {
            int x = n->in[k];
            same = x >= 0 && type_equal(&gval(g, x)->type, yt);
            for (int q = 0; q < g->nguard && same; q++) branch_in |= g->guards[q].value == x;
        }
        if (!same || !branch_in) {
            order[no++] = i;
            continue;
        }
        const char *code = n->op == OP_Elementwise ? attr_string(n, "_code", "") : "";
        if (code[tail] == 0) { /* only adds */
            n->op = OP_BranchSum;
            n->nattr = 0;
            order[no++] = i;
            continue;
        }
        char name[256];
        snprintf(name, sizeof name, "%s/branch_sum", gval(g, n->out[0])->name);
        int s = graph_add_value(g, name, *yt);
        int b = graph_add_node(g, OP_BranchSum, name, n->nin, n->in, 1, &s);
        n = gnode(g, i); /* graph_add_node may move the nodes */
        char *rest = malloc(strlen(code + tail) + 4);
        if (!rest) abort();
        sprintf(rest, "x0%s", code + tail);
        n->in = graph_alloc(g, sizeof *n->in);
        n->in[0] = s;
        n->nin = 1;
        n->nattr = 0;
        node_set_string(g, n, "_code", rest);
        free(rest);
        order[no++] = b;
        order[no++] = i;
    }
    graph_apply_order(g, order);
    free(order);
}

int pass_insert_guards(Graph *g, Diag *d) {
    Branch *bs;
    int nb = annot_branches(g, &bs, d);
    if (nb <= 0) return nb;
    int before = g->nguard;
    if (branch_guards(g, bs, nb, d) < 0) return -1;
    if (g->nguard == before) return 0;
    make_contiguous(g);
    live_sums(g);
    shared_regions(g);
    return 0;
}
