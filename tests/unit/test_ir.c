/* test_ir.c — IR construction, verifier, compaction and the text round trip. */
#include "ir/ir.h"

#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static char *print_to_string(const Graph *g, unsigned flags) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    graph_print(g, f, flags);
    fclose(f);
    return buf;
}

/* x:[N,4] -> Relu -> Add(w) -> out, with a small constant and a big (elided) one. */
static Graph *build(void) {
    Graph *g = graph_new("t");
    g->opset = 13;
    int64_t d[2] = {IR_DIM_N, 4};
    int x = graph_add_value(g, "x", type_make(DT_F32, 2, d));
    graph_add_input(g, x);
    float wv[4] = {1.5f, -2.0f, 0.1f, 1e-30f};
    int64_t wd[1] = {4};
    int w = graph_add_const(g, "w", type_make(DT_F32, 1, wd), wv);
    float big[64];
    for (int i = 0; i < 64; i++) big[i] = (float)i / 7.0f;
    int64_t bd[2] = {16, 4};
    int b = graph_add_const(g, "big weight", type_make(DT_F32, 2, bd), big);
    int r = graph_add_value(g, "r", type_make(DT_F32, 2, d));
    int in1[1] = {x};
    int n1 = graph_add_node(g, OP_Relu, "relu1", 1, in1, 1, &r);
    (void)n1;
    int a = graph_add_value(g, "a", type_make(DT_F32, 2, d));
    int in2[2] = {r, w};
    graph_add_node(g, OP_Add, "", 2, in2, 1, &a);
    int64_t od[2] = {IR_DIM_N, 16};
    int m = graph_add_value(g, "m", type_make(DT_F32, 2, od));
    int in3[3] = {a, b, -1};
    int n3 = graph_add_node(g, OP_Gemm, "fc", 3, in3, 1, &m);
    node_set_int(g, gnode(g, n3), "transB", 1);
    node_set_float(g, gnode(g, n3), "alpha", 0.5f);
    graph_add_output(g, m);
    graph_set_meta(g, "isb.version", "1");
    return g;
}

static void test_roundtrip(void) {
    Graph *g = build();
    Diag d = {{0}};
    CHECK(graph_verify(g, true, &d) == 0);
    for (unsigned flags = 0; flags <= PRINT_WEIGHTS; flags++) {
        char *t1 = print_to_string(g, flags);
        Graph *h = graph_parse(t1, "t1", &d);
        CHECK(h != NULL);
        if (!h) {
            fprintf(stderr, "%s\n%s\n", d.msg, t1);
            free(t1);
            continue;
        }
        CHECK(graph_verify(h, true, &d) == 0);
        char *t2 = print_to_string(h, flags);
        CHECK(strcmp(t1, t2) == 0);
        if (flags & PRINT_WEIGHTS) {
            /* full payloads read back bit for bit, so the hash is the same */
            int v = graph_find_value(h, "big weight");
            CHECK(v >= 0 && gval(h, v)->data != NULL);
            CHECK(v >= 0 && gval(h, v)->hash == gval(g, graph_find_value(g, "big weight"))->hash);
            int w = graph_find_value(h, "w");
            CHECK(w >= 0 && ((const float *)gval(h, w)->data)[3] == 1e-30f);
        } else {
            CHECK(strstr(t1, "const %\"big weight\": f32[16,4] = #") != NULL);
            CHECK(strstr(t1, "\"relu1\"") != NULL);
        }
        free(t1);
        free(t2);
        graph_free(h);
    }
    graph_free(g);
}

static void test_verify_errors(void) {
    Diag d = {{0}};
    Graph *g = build();
    /* use before definition: swap the first two nodes */
    Node tmp = g->nodes[0];
    g->nodes[0] = g->nodes[1];
    g->nodes[1] = tmp;
    g->vals[g->nodes[0].out[0]].def = 0;
    g->vals[g->nodes[1].out[0]].def = 1;
    CHECK(graph_verify(g, true, &d) != 0);
    CHECK(strstr(d.msg, "not defined before use") != NULL);
    /* compaction restores a valid order */
    CHECK(graph_compact(g, &d) == 0);
    CHECK(graph_verify(g, true, &d) == 0);
    CHECK(g->nodes[0].op == OP_Relu);
    /* an attribute outside the schema */
    node_set_int(g, gnode(g, 0), "bogus", 3);
    CHECK(graph_verify(g, true, &d) != 0);
    CHECK(strstr(d.msg, "bogus") != NULL);
    graph_free(g);
}

static void test_dead_and_uses(void) {
    Diag d = {{0}};
    Graph *g = build();
    int *u = graph_use_counts(g);
    CHECK(u[graph_find_value(g, "x")] == 1);
    CHECK(u[graph_find_value(g, "m")] == 1); /* graph output */
    free(u);
    /* replace Relu's output by x directly and drop the Relu */
    int r = graph_find_value(g, "r"), x = graph_find_value(g, "x");
    graph_replace_uses(g, r, x);
    gnode(g, 0)->dead = true;
    CHECK(graph_compact(g, &d) == 0);
    CHECK(g->nnode == 2);
    CHECK(gnode(g, 0)->in[0] == x);
    CHECK(graph_verify(g, true, &d) == 0);
    graph_free(g);
}

static void test_parse_errors(void) {
    struct {
        const char *text, *want;
    } cases[] = {
        {"graph \"g\" opset 13 {\n  %y: f32[2] = Frob(%x)\n}\n", "unknown op 'Frob'"},
        {"graph \"g\" opset 13 {\n  input %x: f32[2]\n  %y: f32[2] = Relu(%z)\n}\n",
         "never defined"},
        {"graph \"g\" opset 13 {\n  input %x: f32[2]\n  %x: f32[2] = Relu(%x)\n}\n",
         "defined twice"},
        {"graph \"g\" opset 13 {\n  input %x: q9[2]\n}\n", "unknown dtype"},
        {"graph \"g\" opset 13 {\n  input %x: f32[2]\n  %y: f32[2] = Relu(%x) {alpha=1.0}\n}\n",
         "unknown attribute 'alpha'"},
        {"graph \"g\" opset 13 {\n  input %x: f32[2]\n", "missing '}'"},
        {"", "expected 'graph'"},
        /* issue 9: thresholds are finite everywhere, also in the text form */
        {"graph \"g\" opset 13 {\n  input %x: f32[N,2]\n"
         "  guard \"b\" (%x[0] >= inf) value=%v flops=0 {\n"
         "    %v: f32[N,2] = Relu(%x)\n  }\n  output %v\n}\n",
         "a guard threshold must be a finite float"},
        {"graph \"g\" opset 13 {\n  input %x: f32[N,2]\n"
         "  guard \"b\" (%x[0] >= 1e39) value=%v flops=0 {\n"
         "    %v: f32[N,2] = Relu(%x)\n  }\n  output %v\n}\n",
         "a guard threshold must be a finite float"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Diag d = {{0}};
        Graph *g = graph_parse(cases[i].text, "case.ir", &d);
        CHECK(g == NULL);
        if (g) graph_free(g);
        if (!strstr(d.msg, cases[i].want) || strncmp(d.msg, "case.ir:", 8) != 0) {
            fprintf(stderr, "case %zu: got '%s', want '%s'\n", i, d.msg, cases[i].want);
            failures++;
        }
    }
}

static void test_strmap_and_types(void) {
    Arena *a = arena_new();
    StrMap m;
    strmap_init(&m, a);
    char buf[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "k%d", i);
        strmap_put(&m, arena_strdup(a, buf), i);
    }
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "k%d", i);
        ok &= strmap_get(&m, buf) == i;
    }
    CHECK(ok);
    CHECK(strmap_get(&m, "nope") == -1);
    arena_free(a);
    int64_t d[3] = {IR_DIM_N, 3, 5};
    Type t = type_make(DT_I64, 3, d);
    CHECK(type_numel(&t, 4) == 60);
    CHECK(type_bytes(&t, 2) == 240);
    CHECK(strcmp(type_str(&t, buf, sizeof buf), "i64[N,3,5]") == 0);
    CHECK(op_attr_kind(OP_Conv, "pads") == ATTR_INTS);
    CHECK(op_attr_kind(OP_Conv, "group") == ATTR_INT);
    CHECK(op_attr_kind(OP_Conv, "nope") == -1);
    CHECK(op_from_name("Conv") == OP_Conv && op_from_name("Nope") == -1);
}

/* Sizes never wrap (issue 9): counts over IR_MAX_BYTES are -1, FLOPs saturate, and the text
 * parser refuses a constant larger than its text before allocating it. */
static void test_sizes(void) {
    int64_t d[2] = {(int64_t)1 << 62, 4};
    Type t = type_make(DT_F32, 2, d);
    CHECK(type_numel(&t, 1) == -1 && type_bytes(&t, 1) == -1);
    d[0] = ((int64_t)1 << 62) + 1; /* (2^62+1)*4 wraps to 4 */
    t = type_make(DT_F32, 2, d);
    CHECK(type_numel(&t, 1) == -1);
    int64_t n[2] = {IR_DIM_N, 1 << 20};
    t = type_make(DT_F32, 2, n);
    CHECK(type_bytes(&t, 1 << 24) == (int64_t)1 << 46);
    CHECK(type_bytes(&t, (1 << 24) + 1) == -1);
    CHECK(type_bytes(&t, (int64_t)1 << 50) == -1);
    CHECK(sat_mul((int64_t)1 << 40, (int64_t)1 << 40) == INT64_MAX && sat_mul(3, 5) == 15);
    CHECK(sat_add(INT64_MAX - 1, 2) == INT64_MAX);

    /* 2 * (8192*1025*1025 outputs) * (1024*1024*1024 weights per output): 1.8e19 FLOPs. */
    const char *text = "graph \"f\" opset 13 {\n  input %x: f32[1,1024,2048,2048]\n"
                       "  input %w: f32[8192,1024,1024,1024]\n"
                       "  %y: ?[*] = Conv(%x, %w)\n  output %y\n}\n";
    Diag dg = {{0}};
    Graph *g = graph_parse(text, "f.ir", &dg);
    CHECK(g != NULL);
    if (g) {
        CHECK(infer_node(g, 0, &dg) == 0);
        CHECK(node_flops(g, gnode(g, 0)) == INT64_MAX);
        graph_free(g);
    }
    text = "graph \"c\" opset 13 {\n  const %c: f32[4611686018427387905,4] = [1, 2, 3, 4]\n"
           "  output %c\n}\n";
    g = graph_parse(text, "c.ir", &dg);
    CHECK(g == NULL && strstr(dg.msg, "more elements than the text holds") != NULL);
}

/* Values not yet typed print as ?[*] and read back. */
static void test_untyped(void) {
    const char *text = "graph \"u\" opset 13 {\n  input %x: f32[2]\n"
                       "  %y: ?[*] = Relu(%x)\n  output %y\n}\n";
    Diag d = {{0}};
    Graph *g = graph_parse(text, "u.ir", &d);
    CHECK(g != NULL);
    if (!g) return;
    CHECK(graph_verify(g, false, &d) == 0);
    char *t = print_to_string(g, 0);
    CHECK(strcmp(t, text) == 0);
    free(t);
    graph_free(g);
}

/* node_flops follows the op's rule in ops.def; LSTM and GridSample used to count 0. */
static int64_t flops_of(const char *text) {
    Diag d = {{0}};
    Graph *g = graph_parse(text, "fl.ir", &d);
    if (!g) {
        fprintf(stderr, "%s\n", d.msg);
        return -1;
    }
    int64_t f = infer_node(g, 0, &d) == 0 ? node_flops(g, gnode(g, 0)) : -1;
    graph_free(g);
    return f;
}

static void test_flops(void) {
    /* LSTM, 5 steps of input 10, hidden 20, one direction: per step 2 * 4*20 * (10 + 20 + 1) */
    CHECK(flops_of("graph \"l\" opset 14 {\n  input %x: f32[N,5,10]\n  input %w: f32[1,80,10]\n"
                   "  input %r: f32[1,80,20]\n  %y: ?[*] = LSTM(%x, %w, %r) {hidden_size=20, "
                   "layout=1}\n  output %y\n}\n") == 5 * 2 * 80 * 31);
    /* GridSample bilinear: 4 taps, a multiply-add each, per output element (3 x 6 x 7) */
    CHECK(flops_of("graph \"s\" opset 16 {\n  input %x: f32[N,3,8,8]\n  input %g: f32[N,6,7,2]\n"
                   "  %y: ?[*] = GridSample(%x, %g)\n  output %y\n}\n") == 8 * 3 * 6 * 7);
}

/* plan_verify: a valid plan passes; a BranchSum whose output shares the bytes of a gate it
 * still reads (issue 8), an overlap of two plain values and a buffer past the arena fail,
 * naming the values; a view at its source's offset is no overlap. */
static void test_plan_verify(void) {
    const char *head = "graph \"g\" opset 13 mem 256 {\n"
                       "  input %x: f32[N,4]\n  input %gin: f32[N,2]\n"
                       "  %gate: f32[N,2] @0 = Softmax(%gin) {axis=1}\n"
                       "  %p: f32[N,4] @64 = Relu(%x)\n"
                       "  guard \"b0\" (%gate[0] >= 0.5) value=%v flops=0 {\n"
                       "    %v: f32[N,4] @128 = Neg(%p)\n  }\n";
    struct {
        const char *tail, *want; /* want NULL: valid */
    } cases[] = {
        {"  %s: f32[N,4] @192 = BranchSum(%p, %v)\n  output %s\n}\n", NULL},
        {"  %s: f32[N,4] @0 = BranchSum(%p, %v)\n  output %s\n}\n", "'gate'"},
        {"  %s: f32[N,4] @128 = Add(%p, %v)\n  output %s\n}\n", "'v'"},
        {"  %s: f32[N,4] @240 = Add(%p, %v)\n  output %s\n}\n", "outside"},
        {"  %s: f32[N,4] @192 = Add(%p, %v)\n  %r: f32[N,2,2] @192 = Reshape(%s, %sh)\n"
         "  output %r\n}\n",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[2048];
        snprintf(text, sizeof text, "%s%s", head, cases[i].tail);
        if (strstr(cases[i].tail, "%sh")) { /* the Reshape's shape constant */
            char *at = strstr(text, "  %gate");
            char rest[2048];
            snprintf(rest, sizeof rest, "%s", at);
            snprintf(at, sizeof text - (size_t)(at - text), "  const %%sh: i64[3] = [-1, 2, 2]\n%s",
                     rest);
        }
        Diag d = {{0}};
        Graph *g = graph_parse(text, "plan.ir", &d);
        CHECK(g != NULL);
        if (!g) {
            fprintf(stderr, "case %zu: %s\n", i, d.msg);
            continue;
        }
        int rc = plan_verify(g, &d);
        if (cases[i].want) {
            CHECK(rc < 0);
            CHECK(strstr(d.msg, cases[i].want) != NULL);
        } else {
            CHECK(rc == 0);
            if (rc) fprintf(stderr, "case %zu: %s\n", i, d.msg);
        }
        graph_free(g);
    }
}

int main(void) {
    test_plan_verify();
    test_untyped();
    test_flops();
    test_roundtrip();
    test_verify_errors();
    test_dead_and_uses();
    test_parse_errors();
    test_strmap_and_types();
    test_sizes();
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    else
        printf("test_ir: all checks passed\n");
    return failures != 0;
}
