/* fuzz_ir_parse.c — libFuzzer target: bytes as IR text (ir/parse.c). A graph the parser
 * accepts must print, and its printed text must parse again and print the same
 * (print(parse(text)) is a fixed point, DESIGN.md "IR"); a difference aborts. */
#include "fuzz_common.h"

#include "ir/ir.h"

static char *print(const Graph *g) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) abort();
    graph_print(g, f, PRINT_WEIGHTS);
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    Diag d = {{0}};
    Graph *g = graph_parse(text, "fuzz.ir", &d);
    free(text);
    if (!g) return 0;
    graph_verify(g, false, &d);
    char *t1 = print(g);
    graph_free(g);
    Graph *h = graph_parse(t1, "printed.ir", &d);
    if (!h) {
        fprintf(stderr, "printed text does not parse: %s\n%s", d.msg, t1);
        abort();
    }
    char *t2 = print(h);
    graph_free(h);
    if (strcmp(t1, t2) != 0) {
        fprintf(stderr, "print(parse(print(g))) differs:\n%s---\n%s", t1, t2);
        abort();
    }
    free(t1);
    free(t2);
    return 0;
}
