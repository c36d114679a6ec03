/* fuzz_import.c — libFuzzer target: bytes as an ONNX model through the importer and, when it
 * imports, the whole pass pipeline (verified after every pass). Any input must end in a
 * graph or a diagnostic; a crash, sanitizer report or failed assertion is a finding. */
#include "fuzz_common.h"

#include "frontend/frontend.h"
#include "passes/passes.h"

static int settle(Graph *g, Diag *d) {
    if (pass_infer(g, d) < 0) return -1;
    return pass_fold(g, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("model.onnx", data, size);
    Diag d = {{0}};
    ImportOptions io = {.settle = settle};
    Graph *g = onnx_import(path, &io, &d);
    if (!g) return 0;
    PassOptions po = {.verify = true};
    if (pipeline_run(g, &po, &d) < 0 && strncmp(d.msg, "after pass ", 11) == 0) {
        fprintf(stderr, "a pass broke the IR: %s\n", d.msg); /* our bug, not the input's */
        abort();
    }
    graph_free(g);
    return 0;
}
