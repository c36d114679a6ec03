/* fuzz_annot.c — libFuzzer target: bytes as the isb.branches annotation (DESIGN.md, "Branch
 * annotations") of a small fixed graph with two gates, then, when it validates, the pass
 * pipeline (guard insertion, SelectionNet fusion, planning). */
#include "fuzz_common.h"

#include "passes/passes.h"

static const char *const GRAPH =
    "graph \"fuzz\" opset 13 {\n"
    "  input %x: f32[N,4]\n"
    "  input %y: f32[N,4]\n"
    "  %g: f32[N,3] = Softmax(%y) {axis=1}\n"
    "  %a: f32[N,4] = Relu(%x)\n"
    "  %s0: f32[N,1], %s1: f32[N,1], %s2: f32[N,1] = Split(%g) {axis=1, num_outputs=3}\n"
    "  %v0: f32[N,4] = Mul(%a, %s0)\n"
    "  %b: f32[N,4] = Sigmoid(%x)\n"
    "  %v1: f32[N,4] = Mul(%b, %s1)\n"
    "  %c: f32[N,4] = Tanh(%a)\n"
    "  %v2: f32[N,4] = Mul(%c, %s2)\n"
    "  %t: f32[N,4] = Add(%v0, %v1)\n"
    "  %o: f32[N,4] = Add(%t, %v2)\n"
    "  output %o\n"
    "}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Diag d = {{0}};
    Graph *g = graph_parse(GRAPH, "fuzz.ir", &d);
    if (!g) abort(); /* our own graph */
    char *text = fuzz_text(data, size);
    graph_set_meta(g, "isb.version", "1");
    graph_set_meta(g, "isb.branches", text);
    free(text);
    Branch *bs;
    if (annot_branches(g, &bs, &d) >= 0) {
        PassOptions po = {.verify = true};
        if (pipeline_run(g, &po, &d) < 0 && strncmp(d.msg, "after pass ", 11) == 0) {
            fprintf(stderr, "a pass broke the IR: %s\n", d.msg);
            abort();
        }
    }
    graph_free(g);
    return 0;
}
