/* plan.c — memory planning: one activation arena.
 * Requires: inferred types, a graph in valid order (run last). Guarantees: every value
 * produced by a node gets `offset`, a 64-byte aligned byte offset per batch instance in one
 * arena (run-time address = workspace + offset * batch), sized type_bytes(type, 1) — values
 * without the batch dim are counted the same way, so every address stays linear in batch;
 * g->mem_per_batch is the arena size per instance. Buffers are reused after their last use:
 * greedy best fit over the node order, a buffer being free from the node after its last
 * reader. Graph outputs are planned like the rest and never freed (codegen copies them out).
 * Views (ops.def lowering view: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout's 0)
 * alias their input: same offset, the input's lifetime extended to theirs; a view of a graph
 * input or constant gets offset -1 (codegen uses the input's or constant's own pointer). A
 * view in another guard than its input is not aliased (a guarded region may run on a
 * gathered sub-batch): it gets its own buffer, and codegen copies. "Reader" means every read
 * the generated code makes (node_reads): a guard's gates are read by every node of the guard,
 * a BranchSum reads the gates of the branches it adds. Graph inputs and constants keep offset
 * -1. plan_verify (ir/verify.c) checks the result. */
#include "passes.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64

typedef struct Block {
    int64_t off, size;
} Block;

typedef struct Heap {
    Block *free; /* sorted by offset, disjoint, not adjacent */
    int n, cap;
    int64_t top; /* high-water mark */
} Heap;

static int64_t heap_alloc(Heap *h, int64_t size) {
    int best = -1;
    for (int i = 0; i < h->n; i++)
        if (h->free[i].size >= size && (best < 0 || h->free[i].size < h->free[best].size)) best = i;
    if (best >= 0) {
        int64_t off = h->free[best].off;
        h->free[best].off += size;
        h->free[best].size -= size;
        if (h->free[best].size == 0) {
            memmove(&h->free[best], &h->free[best + 1], sizeof(Block) * (size_t)(h->n - best - 1));
            h->n--;
        }
        return off;
    }
    /* No hole fits: grow the arena, starting inside a free block that ends at the top. */
    if (h->n && h->free[h->n - 1].off + h->free[h->n - 1].size == h->top) {
        int64_t off = h->free[--h->n].off;
        h->top = off + size;
        return off;
    }
    int64_t off = h->top;
    h->top += size;
    return off;
}

static void heap_free(Heap *h, int64_t off, int64_t size) {
    int i = 0;
    while (i < h->n && h->free[i].off < off) i++;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->free = realloc(h->free, sizeof(Block) * (size_t)h->cap);
        if (!h->free) abort();
    }
    memmove(&h->free[i + 1], &h->free[i], sizeof(Block) * (size_t)(h->n - i));
    h->free[i] = (Block){off, size};
    h->n++;
    if (i + 1 < h->n && h->free[i].off + h->free[i].size == h->free[i + 1].off) {
        h->free[i].size += h->free[i + 1].size;
        memmove(&h->free[i + 1], &h->free[i + 2], sizeof(Block) * (size_t)(h->n - i - 2));
        h->n--;
    }
    if (i > 0 && h->free[i - 1].off + h->free[i - 1].size == h->free[i].off) {
        h->free[i - 1].size += h->free[i].size;
        memmove(&h->free[i], &h->free[i + 1], sizeof(Block) * (size_t)(h->n - i - 1));
        h->n--;
    }
}

/* A buffer lives until the last node whose code reads it (node_reads: inputs and the
 * implicit reads of guard conditions and branch sums). */
typedef struct Reads {
    const int *root;
    int *last, node;
} Reads;

static void note_read(int v, void *ctx) {
    Reads *r = ctx;
    if (r->last[r->root[v]] < r->node) r->last[r->root[v]] = r->node;
}

int pass_plan(Graph *g, Diag *d) {
    int nv = g->nval, nn = g->nnode;
    Arena *tmp = arena_new(); /* this pass's scratch */
    int *root = arena_alloc(tmp, sizeof(int) * ((size_t)nv + 1));
    int *last = arena_alloc(tmp, sizeof(int) * ((size_t)nv + 1)); /* per root: last reader */
    int64_t *size = arena_alloc(tmp, sizeof(int64_t) * ((size_t)nv + 1));
    for (int v = 0; v < nv; v++) {
        root[v] = v;
        last[v] = -1;
        gval(g, v)->offset = -1;
    }
    for (int i = 0; i < nn; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        if (op_is_view(n->op) && n->in[0] >= 0) {
            int src = n->in[0], pd = gval(g, src)->def;
            int sg = pd >= 0 ? gnode(g, pd)->guard : -1;
            if (sg == n->guard) root[n->out[0]] = root[src];
        }
        for (int k = 0; k < n->nout; k++) {
            int v = n->out[k];
            const Type *t = &gval(g, v)->type;
            if (!type_known(t)) {
                char lbl[256];
                arena_free(tmp);
                return diag(d, "plan: output '%s' of node '%s' has no known type", gval(g, v)->name,
                            node_label(g, i, lbl, sizeof lbl));
            }
            if (last[root[v]] < i) last[root[v]] = i;
        }
    }
    Reads r = {root, last, 0};
    for (int i = 0; i < nn; i++)
        if (!gnode(g, i)->dead) r.node = i, node_reads(g, i, note_read, &r);
    for (int i = 0; i < g->noutput; i++) last[root[g->outputs[i]]] = INT_MAX;

    /* Allocate each buffer at its producer, release it after its last reader. frees[i] lists
     * the roots whose last reader is node i (CSR). */
    int *fstart = arena_alloc(tmp, sizeof(int) * ((size_t)nn + 2));
    int *froots = arena_alloc(tmp, sizeof(int) * ((size_t)nv + 1));
    int *fill = arena_alloc(tmp, sizeof(int) * ((size_t)nn + 1));
    for (int v = 0; v < nv; v++)
        if (root[v] == v && gval(g, v)->def >= 0 && last[v] != INT_MAX && last[v] >= 0)
            fstart[last[v] + 1]++;
    for (int i = 0; i < nn; i++) fstart[i + 1] += fstart[i];
    for (int v = 0; v < nv; v++)
        if (root[v] == v && gval(g, v)->def >= 0 && last[v] != INT_MAX && last[v] >= 0)
            froots[fstart[last[v]] + fill[last[v]]++] = v;
    Heap h = {0};
    for (int i = 0; i < nn; i++) {
        const Node *n = gnode(g, i);
        if (n->dead) continue;
        for (int k = 0; k < n->nout; k++) {
            int v = n->out[k];
            if (root[v] != v) continue;
            int64_t bytes = type_bytes(&gval(g, v)->type, 1);
            size[v] = (bytes + ALIGN - 1) / ALIGN * ALIGN;
            gval(g, v)->offset = size[v] ? heap_alloc(&h, size[v]) : 0;
        }
        for (int e = fstart[i]; e < fstart[i + 1]; e++)
            if (size[froots[e]]) heap_free(&h, gval(g, froots[e])->offset, size[froots[e]]);
    }
    /* Aliases take their root's offset (-1 for a graph input or constant). */
    for (int v = 0; v < nv; v++)
        if (root[v] != v && gval(g, v)->def >= 0) gval(g, v)->offset = gval(g, root[v])->offset;
    g->mem_per_batch = h.top;
    free(h.free);
    arena_free(tmp);
    return 0;
}
