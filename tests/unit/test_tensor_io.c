/* test_tensor_io.c — the frontend: tensor files (.pb, .npy) and the ONNX importer.
 *
 *   test_tensor_io tensor DATA TESTDATA   tensor files: round trips, numpy/onnx-written files
 *                                          bit for bit, truncated and garbage files
 *   test_tensor_io import DATA TESTDATA   onnx_import on ONNX backend test models, old opset
 *                                          forms, external data, errors, corrupt models
 *
 * DATA is written by make_frontend_data.py (a ctest fixture); each expected tensor X comes with
 * X.bin (bytes) and X.shape (dims). TESTDATA is Debian's libonnx-testdata data directory. */
#include "frontend/frontend.h"

#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* The call failed and the message contains `want`. */
#define CHECK_ERR(call, d, want)                                                                   \
    do {                                                                                           \
        if ((call) == 0 || !strstr((d).msg, want)) {                                               \
            fprintf(stderr, "%s:%d: expected error containing \"%s\", got \"%s\"\n", __FILE__,     \
                    __LINE__, want, (d).msg);                                                      \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static const char *data_dir, *testdata;

static char *path_in(const char *dir, const char *name) {
    static _Thread_local char buf[4][1024];
    static _Thread_local int k;
    char *p = buf[k++ & 3];
    if (snprintf(p, 1024, "%s/%s", dir, name) >= 1024) abort();
    return p;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

/* Compare t with the expected X.bin / X.shape written by numpy. */
static bool matches_expected(const Tensor *t, const char *expected) {
    char p[1100];
    size_t n, sn;
    snprintf(p, sizeof p, "%s.bin", expected);
    uint8_t *want = slurp(p, &n);
    snprintf(p, sizeof p, "%s.shape", expected);
    char *shape = (char *)slurp(p, &sn);
    bool ok = want && shape;
    if (ok) {
        shape[sn] = 0;
        int rank = 0;
        char *s = shape, *e;
        for (long long v; (v = strtoll(s, &e, 10)), e != s; s = e)
            ok &= rank < t->type.rank && t->type.dims[rank++] == v;
        ok &= rank == t->type.rank;
        ok &= (int64_t)n == type_bytes(&t->type, 1) && (n == 0 || !memcmp(t->data, want, n));
    }
    if (!ok) fprintf(stderr, "  %s: does not match\n", expected);
    free(want);
    free(shape);
    return ok;
}

/* ---- tensor files -------------------------------------------------------------------------- */

static void fill(Tensor *t, int dt, int rank, const int64_t *dims, unsigned seed) {
    memset(t, 0, sizeof *t);
    t->type = type_make(dt, rank, dims);
    size_t n = (size_t)type_bytes(&t->type, 1);
    t->data = n ? malloc(n) : NULL;
    for (size_t i = 0; i < n; i++) ((uint8_t *)t->data)[i] = (uint8_t)(seed * 131 + i * 7 + 1);
    if (dt == DT_BOOL)
        for (size_t i = 0; i < n; i++) ((uint8_t *)t->data)[i] &= 1;
}

/* Write with our writer, read back with our reader; leave the file for the numpy check. */
static void test_round_trip(void) {
    static const int dts[] = {DT_F32, DT_F64, DT_I64, DT_I32, DT_I16, DT_U16,
                              DT_U32, DT_U64, DT_I8,  DT_U8,  DT_BOOL};
    static const int64_t shapes[][IR_MAX_RANK + 1] = {
        {0}, {1, 5}, {2, 2, 3}, {4, 1, 2, 3, 4}, {1, 0}, {8, 2, 1, 2, 1, 2, 1, 2, 3}};
    Diag d;
    int k = 0;
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++, k++)
            for (int ext = 0; ext < 2; ext++) {
                Tensor t, r;
                fill(&t, dts[i], (int)shapes[s][0], shapes[s] + 1, (unsigned)k);
                t.name = ext == 0 ? strdup("tensor_name") : NULL;
                char name[128];
                snprintf(name, sizeof name, "ours_%s_%zu.%s", dtype_name(dts[i]), s,
                         ext ? "npy" : "pb");
                const char *p = path_in(data_dir, name);
                CHECK(tensor_write(p, &t, &d) == 0);
                CHECK(tensor_read(p, &r, &d) == 0);
                CHECK(type_equal(&t.type, &r.type));
                size_t n = (size_t)type_bytes(&t.type, 1);
                CHECK(n == 0 || memcmp(t.data, r.data, n) == 0);
                CHECK(ext == 1 ? r.name == NULL : r.name && !strcmp(r.name, "tensor_name"));
                /* expected content for make_frontend_data.py check */
                char q[1100];
                snprintf(q, sizeof q, "%s.bin", p);
                spit(q, t.data, n);
                snprintf(q, sizeof q, "%s.shape", p);
                FILE *f = fopen(q, "w");
                for (int j = 0; j < t.type.rank; j++)
                    fprintf(f, "%lld ", (long long)t.type.dims[j]);
                fprintf(f, "\n");
                fclose(f);
                tensor_free(&t);
                tensor_free(&r);
            }
}

/* Files written by numpy (np.save, format 1.0/2.0/3.0) and onnx (typed fields, raw_data). */
static void test_foreign_files(void) {
    static const char *keys[] = {"f32", "f64", "i64", "i32",  "i16",    "u16",   "u32",
                                 "u64", "i8",  "u8",  "bool", "scalar", "empty", "rank8"};
    static const char *kinds[] = {"np_%s.npy", "pbtyped_%s.pb", "pbraw_%s.pb"};
    Diag d;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        for (size_t k = 0; k < 3; k++) {
            char name[64];
            snprintf(name, sizeof name, kinds[k], keys[i]);
            const char *p = path_in(data_dir, name);
            Tensor t;
            int rc = tensor_read(p, &t, &d);
            if (rc) fprintf(stderr, "  %s: %s\n", name, d.msg);
            CHECK(rc == 0 && matches_expected(&t, p));
            if (k > 0) CHECK(t.name && !strcmp(t.name, keys[i]));
            tensor_free(&t);
        }
    const char *more[] = {"np_v2.npy", "np_v3.npy"};
    for (int i = 0; i < 2; i++) {
        Tensor t;
        const char *p = path_in(data_dir, more[i]);
        CHECK(tensor_read(p, &t, &d) == 0 && matches_expected(&t, p));
        tensor_free(&t);
    }
    /* ONNX backend test data, compared with what onnx.numpy_helper reads */
    static const char *td[][2] = {
        {"node/test_relu/test_data_set_0/input_0.pb", "td_test_relu.pb"},
        {"node/test_gather_0/test_data_set_0/input_1.pb", "td_test_gather_0.pb"},
        {"node/test_and2d/test_data_set_0/input_0.pb", "td_test_and2d.pb"},
        {"node/test_cast_FLOAT_to_DOUBLE/test_data_set_0/output_0.pb",
         "td_test_cast_FLOAT_to_DOUBLE.pb"},
    };
    for (size_t i = 0; i < sizeof td / sizeof td[0]; i++) {
        Tensor t;
        int rc = tensor_read(path_in(testdata, td[i][0]), &t, &d);
        if (rc) fprintf(stderr, "  %s: %s\n", td[i][0], d.msg);
        CHECK(rc == 0 && matches_expected(&t, path_in(data_dir, td[i][1])));
        tensor_free(&t);
    }
    Tensor t;
    CHECK(tensor_read(path_in(testdata, td[0][0]), &t, &d) == 0);
    CHECK(t.type.dtype == DT_F32 && t.type.rank == 3 && t.type.dims[0] == 3 &&
          t.type.dims[1] == 4 && t.type.dims[2] == 5 && t.name && !strcmp(t.name, "x"));
    tensor_free(&t);
    CHECK(tensor_read(path_in(testdata, td[2][0]), &t, &d) == 0 && t.type.dtype == DT_BOOL);
    tensor_free(&t);
}

static void test_bad_files(void) {
    Diag d;
    Tensor t;
    CHECK_ERR(tensor_read(path_in(data_dir, "bad_fortran.npy"), &t, &d), d, "Fortran");
    CHECK_ERR(tensor_read(path_in(data_dir, "bad_bigendian.npy"), &t, &d), d, "big-endian");
    /* float16 is a storage type: read as its bits */
    CHECK(tensor_read(path_in(data_dir, "bad_f16.npy"), &t, &d) == 0 && t.type.dtype == DT_F16);
    tensor_free(&t);
    CHECK_ERR(tensor_read(path_in(data_dir, "bad_structured.npy"), &t, &d), d, "dtype");
    CHECK_ERR(tensor_read(path_in(data_dir, "nonexistent.npy"), &t, &d), d, "cannot open");
    CHECK_ERR(tensor_read(path_in(data_dir, "x.txt"), &t, &d), d, "extension");
    CHECK_ERR(tensor_read(path_in(data_dir, "np_f32.npy.bin"), &t, &d), d, "extension");
    spit(path_in(data_dir, "empty.pb"), "", 0);
    CHECK_ERR(tensor_read(path_in(data_dir, "empty.pb"), &t, &d), d, "empty");
    spit(path_in(data_dir, "text.npy"), "hello world, not numpy", 22);
    CHECK_ERR(tensor_read(path_in(data_dir, "text.npy"), &t, &d), d, "magic");
    CHECK_ERR(tensor_read(data_dir, &t, &d), d, "extension");

    Tensor w;
    int64_t dims[2] = {IR_DIM_N, 3};
    fill(&w, DT_F32, 2, (int64_t[]){2, 3}, 1);
    w.type.dims[0] = dims[0];
    CHECK_ERR(tensor_write(path_in(data_dir, "sym.npy"), &w, &d), d, "symbolic");
    w.type.dims[0] = 2;
    CHECK_ERR(tensor_write(path_in(data_dir, "out.bin"), &w, &d), d, "extension");
    CHECK_ERR(tensor_write("/nonexistent-dir/x.pb", &w, &d), d, "cannot create");
    w.type.dtype = DT_STRING;
    CHECK_ERR(tensor_write(path_in(data_dir, "str.npy"), &w, &d), d, "str");
    tensor_free(&w);

    /* Every proper prefix of a valid file is an error (an .npy's size is exact; raw_data is
     * the last field of these .pb files, but a typed-field file cut before its name is valid).
     * Garbage never crashes. */
    const char *files[] = {"np_f32.npy", "pbraw_i64.pb", "np_v3.npy", "ours_f32_3.pb",
                           "pbtyped_f32.pb"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t n;
        uint8_t *b = slurp(path_in(data_dir, files[f]), &n);
        CHECK(b != NULL);
        if (!b) continue;
        const char *ext = strrchr(files[f], '.');
        char name[64];
        snprintf(name, sizeof name, "trunc%s", ext);
        const char *p = path_in(data_dir, name);
        int ok = 0;
        for (size_t len = 0; len < n; len++) {
            spit(p, b, len);
            if (tensor_read(p, &t, &d) == 0) {
                ok++;
                fprintf(stderr, "  %s truncated to %zu bytes was accepted\n", files[f], len);
                tensor_free(&t);
            }
        }
        CHECK(f == 4 || ok == 0);
        /* flip bytes: must not crash; accepted files must be self-consistent */
        snprintf(name, sizeof name, "flip%s", ext);
        p = path_in(data_dir, name);
        for (size_t i = 0; i < n; i++)
            for (int bit = 0; bit < 8; bit += 3) {
                b[i] ^= (uint8_t)(1 << bit);
                spit(p, b, n);
                if (tensor_read(p, &t, &d) == 0) {
                    CHECK(type_bytes(&t.type, 1) >= 0);
                    tensor_free(&t);
                }
                b[i] ^= (uint8_t)(1 << bit);
            }
        free(b);
    }
    srand(1);
    for (int i = 0; i < 200; i++) {
        uint8_t b[300];
        size_t n = 1 + (size_t)(rand() % 300);
        for (size_t j = 0; j < n; j++) b[j] = (uint8_t)rand();
        if (i % 2) memcpy(b, "\x93NUMPY\x01\x00", n < 8 ? n : 8);
        const char *p = path_in(data_dir, i % 2 ? "garbage.npy" : "garbage.pb");
        spit(p, b, n);
        if (tensor_read(p, &t, &d) == 0) tensor_free(&t);
    }
}

/* ---- importer ------------------------------------------------------------------------------ */

static int count_op(const Graph *g, int op) {
    int k = 0;
    for (int i = 0; i < g->nnode; i++) k += g->nodes[i].op == op;
    return k;
}

static const Node *find_node(const Graph *g, const char *name) {
    for (int i = 0; i < g->nnode; i++)
        if (!strcmp(g->nodes[i].name, name)) return &g->nodes[i];
    return NULL;
}

/* Input i of n is a constant with these int64 values. */
static bool const_ints(const Graph *g, const Node *n, int i, const int64_t *want, int count) {
    if (!n || i >= n->nin || n->in[i] < 0) return false;
    const Value *v = gval(g, n->in[i]);
    if (!(v->flags & VAL_CONST) || v->type.dtype != DT_I64 || v->type.rank != 1 ||
        v->type.dims[0] != count)
        return false;
    return count == 0 || !memcmp(v->data, want, (size_t)count * sizeof *want);
}

static bool const_float(const Graph *g, const Node *n, int i, float want) {
    if (!n || i >= n->nin || n->in[i] < 0) return false;
    const Value *v = gval(g, n->in[i]);
    return (v->flags & VAL_CONST) && v->type.dtype == DT_F32 && v->type.rank == 0 &&
           *(const float *)v->data == want;
}

/* 0 if the model imports (the graph is dropped), -1 with d set if not. */
static int try_import(const char *path, const ImportOptions *o, Diag *d) {
    Graph *g = onnx_import(path, o, d);
    if (!g) return -1;
    graph_free(g);
    return 0;
}

static Graph *import(const char *dir, const char *name, const ImportOptions *o) {
    Diag d;
    Graph *g = onnx_import(path_in(dir, name), o, &d);
    if (!g) fprintf(stderr, "  %s: %s\n", name, d.msg);
    CHECK(g != NULL);
    if (g && graph_verify(g, false, &d) != 0) {
        fprintf(stderr, "  %s: verify: %s\n", name, d.msg);
        failures++;
    }
    return g;
}

static void test_backend_models(void) {
    Graph *g = import(testdata, "node/test_conv_with_strides_padding/model.onnx", NULL);
    if (g) {
        CHECK(g->nnode == 1 && g->nodes[0].op == OP_Conv && g->ninput == 2 && g->noutput == 1);
        CHECK(g->opset == 11 && !strcmp(g->name, "test_conv_with_strides_padding"));
        const Value *x = gval(g, g->inputs[0]);
        CHECK(!strcmp(x->name, "x") && x->type.dtype == DT_F32 && x->type.rank == 4 &&
              x->type.dims[2] == 7 && x->type.dims[3] == 5);
        const int64_t *v;
        CHECK(attr_ints(&g->nodes[0], "strides", &v) == 2 && v[0] == 2 && v[1] == 2);
        CHECK(attr_ints(&g->nodes[0], "pads", &v) == 4);
        const Value *y = gval(g, g->outputs[0]);
        CHECK(y->def == 0 && y->type.rank == 4 && y->type.dims[2] == 4 && y->type.dims[3] == 3);
        graph_free(g);
    }
    g = import(testdata, "node/test_clip/model.onnx", NULL);
    if (g) {
        CHECK(g->nnode == 1 && g->nodes[0].op == OP_Clip && g->nodes[0].nin == 3);
        CHECK(g->opset == 13 && g->ninput == 3);
        graph_free(g);
    }
    g = import(testdata, "node/test_dropout_default_old/model.onnx", NULL);
    if (g) {
        CHECK(g->nnode == 1 && g->nodes[0].op == OP_Dropout && g->nodes[0].nin == 1);
        graph_free(g);
    }
    /* initializers listed as graph inputs (ONNX IR 3), opset 6 -> relabelled to 7 */
    g = import(data_dir, "relabel_test_BatchNorm2d_eval.onnx", NULL);
    if (g) {
        CHECK(g->nnode == 1 && g->nodes[0].op == OP_BatchNormalization && g->ninput == 1);
        CHECK(g->nodes[0].nin == 5 && (gval(g, g->nodes[0].in[1])->flags & VAL_CONST));
        CHECK(gval(g, g->nodes[0].in[4])->type.dims[0] == 3);
        graph_free(g);
    }
    g = import(data_dir, "relabel_test_ConstantPad2d.onnx", NULL);
    if (g) {
        const Node *n = &g->nodes[0];
        CHECK(g->nnode == 1 && n->op == OP_Pad && n->nin == 3 && !node_attr(n, "pads"));
        CHECK(const_ints(g, n, 1, (int64_t[]){0, 0, 3, 1, 0, 0, 4, 2}, 8));
        CHECK(const_float(g, n, 2, 2.0f));
        CHECK(!strcmp(attr_string(n, "mode", ""), "constant"));
        graph_free(g);
    }
    g = import(data_dir, "relabel_test_GLU.onnx", NULL);
    if (g) {
        CHECK(g->nnode == 3 && g->nodes[0].op == OP_Split && g->nodes[0].nin == 1 &&
              g->nodes[0].nout == 2 && attr_int(&g->nodes[0], "axis", 0) == -1);
        graph_free(g);
    }
    g = import(data_dir, "relabel_test_operator_index.onnx", NULL);
    if (g) {
        const Node *s = &g->nodes[0], *q = &g->nodes[1];
        CHECK(s->op == OP_Slice && s->nin == 4 && s->nattr == 0);
        CHECK(const_ints(g, s, 1, (int64_t[]){0}, 1) && const_ints(g, s, 2, (int64_t[]){1}, 1) &&
              const_ints(g, s, 3, (int64_t[]){0}, 1));
        CHECK(q->op == OP_Squeeze && q->nin == 2 && const_ints(g, q, 1, (int64_t[]){0}, 1));
        graph_free(g);
    }
    g = import(data_dir, "relabel_test_operator_clip.onnx", NULL);
    if (g) {
        const Node *n = &g->nodes[0];
        CHECK(n->op == OP_Clip && n->nin == 3 && n->nattr == 0);
        CHECK(const_float(g, n, 1, -0.5f) && const_float(g, n, 2, 0.5f));
        graph_free(g);
    }
    g = import(data_dir, "relabel_test_operator_reduced_mean.onnx", NULL);
    if (g) {
        const Node *n = &g->nodes[0];
        CHECK(n->op == OP_ReduceMean && n->nin == 2 && !node_attr(n, "axes"));
        CHECK(const_ints(g, n, 1, (int64_t[]){2}, 1));
        graph_free(g);
    }
    /* opset 6 as exported: BatchNormalization-6 is_test=1 is dropped on import */
    g = import(testdata, "pytorch-converted/test_BatchNorm2d_eval/model.onnx", NULL);
    if (g) {
        const Node *n = gnode(g, 0);
        CHECK(g->opset == 6 && n->op == OP_BatchNormalization && !node_attr(n, "is_test"));
        graph_free(g);
    }
}

static void test_old_forms(void) {
    Graph *g = import(data_dir, "old_forms.onnx", NULL);
    if (!g) return;
    CHECK(g->nnode == 11 && g->opset == 9);
    const Node *n = find_node(g, "clip");
    CHECK(n && n->nin == 3 && n->nattr == 0 && const_float(g, n, 1, -1.0f) &&
          const_float(g, n, 2, 2.5f));
    n = find_node(g, "clipmax");
    CHECK(n && n->nin == 3 && n->in[1] == -1 && const_float(g, n, 2, 6.0f));
    n = find_node(g, "pad");
    CHECK(n && n->nin == 3 && const_ints(g, n, 1, (int64_t[]){0, 0, 1, 1, 0, 0, 1, 1}, 8) &&
          const_float(g, n, 2, 0.5f) && n->nattr == 1);
    n = find_node(g, "slice");
    CHECK(n && n->nin == 4 && const_ints(g, n, 1, (int64_t[]){1, 1}, 2) &&
          const_ints(g, n, 2, (int64_t[]){3, 4}, 2) && const_ints(g, n, 3, (int64_t[]){2, 3}, 2));
    n = find_node(g, "split");
    CHECK(n && n->nin == 2 && n->nout == 2 && const_ints(g, n, 1, (int64_t[]){1, 2}, 2) &&
          attr_int(n, "axis", 0) == 1 && !node_attr(n, "split"));
    n = find_node(g, "squeeze");
    CHECK(n && n->nin == 2 && const_ints(g, n, 1, (int64_t[]){1}, 1) && n->nattr == 0);
    n = find_node(g, "unsqueeze");
    CHECK(n && n->nin == 2 && const_ints(g, n, 1, (int64_t[]){0}, 1));
    n = find_node(g, "rmean");
    CHECK(n && n->nin == 2 && const_ints(g, n, 1, (int64_t[]){2, 3}, 2) &&
          attr_int(n, "keepdims", 0) == 1);
    n = find_node(g, "rsum");
    CHECK(n && n->nin == 2 && const_ints(g, n, 1, (int64_t[]){1}, 1));
    n = find_node(g, "rmax");
    CHECK(n && n->nin == 1);
    n = find_node(g, "drop");
    CHECK(n && n->nin == 2 && const_float(g, n, 1, 0.25f) && n->nattr == 0);
    graph_free(g);

    g = import(data_dir, "bn_spatial1.onnx", NULL);
    if (g) {
        CHECK(g->nnode == 1 && !node_attr(&g->nodes[0], "spatial"));
        graph_free(g);
    }
    Diag d;
    CHECK_ERR(try_import(path_in(data_dir, "bn_spatial0.onnx"), NULL, &d), d,
              "unsupported: BatchNormalization attribute 'spatial'=0 (opset 7) at node 'bn'");
    CHECK_ERR(try_import(path_in(data_dir, "err_clip_attr13.onnx"), NULL, &d), d,
              "unsupported: Clip attribute 'min' (opset 13) at node 'clip'");
}

static void test_types_and_constants(void) {
    Graph *g = import(data_dir, "typed.onnx", NULL);
    if (!g) return;
    static const char *keys[] = {"f32", "f64", "i64", "i32", "i16", "u16",
                                 "u32", "u64", "i8",  "u8",  "bool"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        for (int raw = 0; raw < 2; raw++) {
            char name[64], exp[64];
            snprintf(name, sizeof name, "%s_%s", raw ? "raw" : "typed", keys[i]);
            snprintf(exp, sizeof exp, "init_%s", keys[i]);
            int v = graph_find_value(g, name);
            CHECK(v >= 0 && (gval(g, v)->flags & VAL_CONST));
            if (v < 0) continue;
            Tensor t = {.type = gval(g, v)->type, .data = (void *)gval(g, v)->data};
            CHECK(matches_expected(&t, path_in(data_dir, exp)));
        }
    CHECK(g->ninput == 1 && !strcmp(gval(g, g->inputs[0])->name, "x"));
    const Type *x = &gval(g, g->inputs[0])->type;
    CHECK(x->rank == 4 && x->dims[0] == IR_DIM_N && x->dims[1] == 3 &&
          x->dims[2] == IR_DIM_UNKNOWN && x->dims[3] == 8);
    const Type *y = &gval(g, g->outputs[0])->type;
    CHECK(y->dtype == DT_F32 && y->rank == 4 && y->dims[0] == IR_DIM_UNKNOWN && y->dims[1] == 4);
    const Type *conv = &gval(g, graph_find_value(g, "conv"))->type;
    CHECK(conv->dtype == DT_F32 && conv->rank == 4 && conv->dims[1] == 4);
    CHECK(gval(g, g->outputs[1])->type.dtype == DT_I64);
    CHECK(gval(g, g->outputs[1])->type.rank == IR_RANK_UNKNOWN);
    CHECK(g->nnode == 3 && count_op(g, OP_Conv) == 1 && count_op(g, OP_Relu) == 1);
    CHECK(!strcmp(g->name, "typed_graph"));
    CHECK(graph_meta(g, "isb.version") && !strcmp(graph_meta(g, "isb.version"), "1"));
    CHECK(graph_meta(g, "note") && !strcmp(graph_meta(g, "note"), "hello"));
    int k = graph_find_value(g, "k_f");
    CHECK(k >= 0 && gval(g, k)->type.dtype == DT_F32 && gval(g, k)->type.rank == 0 &&
          *(const float *)gval(g, k)->data == 1.5f);
    k = graph_find_value(g, "k_is");
    int64_t ints[4];
    int cnt;
    CHECK(k >= 0 && value_const_ints(g, k, ints, 4, &cnt) && cnt == 3 && ints[2] == 5);
    k = graph_find_value(g, "k_i");
    CHECK(k >= 0 && gval(g, k)->type.rank == 0 && *(const int64_t *)gval(g, k)->data == -7);
    k = graph_find_value(g, "k_fs");
    CHECK(k >= 0 && gval(g, k)->type.dims[0] == 2 && ((const float *)gval(g, k)->data)[1] == 2);
    k = graph_find_value(g, "k_t");
    CHECK(k >= 0 && gval(g, k)->type.dtype == DT_I32 && gval(g, k)->type.dims[1] == 3 &&
          ((const int32_t *)gval(g, k)->data)[5] == 5);
    const Node *cos = find_node(g, "cos");
    const Attr *a = cos ? node_attr(cos, "value") : NULL;
    CHECK(a && a->kind == ATTR_TENSOR && a->ttype.dtype == DT_I64 && *(int64_t *)a->tdata == 2);
    graph_free(g);

    /* --shape overrides */
    ShapeOverride s = {.name = "x"};
    Diag d;
    CHECK(parse_dims("4x3x16x8", &s, &d) == 0);
    ImportOptions o = {.shapes = &s, .nshapes = 1};
    g = import(data_dir, "typed.onnx", &o);
    if (g) {
        x = &gval(g, g->inputs[0])->type;
        CHECK(x->dims[0] == 4 && x->dims[2] == 16);
        /* declared intermediate dims are dropped under an override, dtype and rank kept */
        conv = &gval(g, graph_find_value(g, "conv"))->type;
        CHECK(conv->dtype == DT_F32 && conv->rank == 4 && conv->dims[1] == IR_DIM_UNKNOWN);
        graph_free(g);
    }
    CHECK(parse_dims("1x3", &s, &d) == 0);
    CHECK_ERR(try_import(path_in(data_dir, "typed.onnx"), &o, &d), d, "rank 4");
    s.name = "w";
    CHECK(parse_dims("4x3x3x3", &s, &d) == 0);
    CHECK_ERR(try_import(path_in(data_dir, "typed.onnx"), &o, &d), d, "no graph input named 'w'");
    s.name = "zzz";
    CHECK_ERR(try_import(path_in(data_dir, "typed.onnx"), &o, &d), d, "no graph input named 'zzz'");
}

static void test_parse_dims(void) {
    ShapeOverride s;
    Diag d;
    CHECK(parse_dims("1x3x224x224", &s, &d) == 0 && s.rank == 4 && s.dims[0] == 1 &&
          s.dims[3] == 224);
    CHECK(parse_dims("7", &s, &d) == 0 && s.rank == 1 && s.dims[0] == 7);
    CHECK(parse_dims("1x1x1x1x1x1x1x2", &s, &d) == 0 && s.rank == 8 && s.dims[7] == 2);
    CHECK_ERR(parse_dims("1x1x1x1x1x1x1x1x1", &s, &d), d, "more than 8");
    CHECK_ERR(parse_dims("", &s, &d), d, "empty");
    CHECK_ERR(parse_dims("1x0x3", &s, &d), d, "positive");
    CHECK_ERR(parse_dims("1x-3", &s, &d), d, "bad shape");
    CHECK_ERR(parse_dims("1x", &s, &d), d, "bad shape");
    CHECK_ERR(parse_dims("x1", &s, &d), d, "bad shape");
    CHECK_ERR(parse_dims("1,3", &s, &d), d, "bad shape");
    CHECK_ERR(parse_dims("1X3", &s, &d), d, "bad shape");
    CHECK_ERR(parse_dims("99999999999999999999", &s, &d), d, "too large");
}

static void test_external_data(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/ext", data_dir);
    Graph *g = import(dir, "model.onnx", NULL);
    if (g) {
        int w = graph_find_value(g, "w");
        CHECK(w >= 0 && (gval(g, w)->flags & VAL_CONST));
        Tensor t = {.type = gval(g, w)->type, .data = (void *)gval(g, w)->data};
        CHECK(matches_expected(&t, path_in(dir, "w")));
        int b = graph_find_value(g, "b"); /* at a non-zero offset in the same file */
        CHECK(b >= 0 && (gval(g, b)->flags & VAL_CONST));
        Tensor tb = {.type = gval(g, b)->type, .data = (void *)gval(g, b)->data};
        CHECK(matches_expected(&tb, path_in(dir, "b")));
        graph_free(g);
    }
    Diag d;
    CHECK_ERR(try_import(path_in(dir, "bad_dotdot.onnx"), NULL, &d), d,
              "leaves the model directory");
    CHECK_ERR(try_import(path_in(dir, "bad_abs.onnx"), NULL, &d), d, "absolute path");
    CHECK_ERR(try_import(path_in(dir, "bad_symlink.onnx"), NULL, &d), d,
              "leaves the model directory");
    CHECK_ERR(try_import(path_in(dir, "bad_missing.onnx"), NULL, &d), d, "cannot open");
    CHECK_ERR(try_import(path_in(dir, "bad_length.onnx"), NULL, &d), d, "length 12");
}

static void test_import_errors(void) {
    static const char *cases[][2] = {
        {"err_unknown_op.onnx", "unsupported: FooBar (opset 13) at node 'foo'"},
        {"err_domain.onnx", "unsupported: com.microsoft.FusedConv (opset 1) at node 'fc'"},
        {"err_attr.onnx", "unsupported: Relu attribute 'bogus' (opset 13) at node 'r'"},
        {"err_internal_attr.onnx", "unsupported: Relu attribute '_act' (opset 13) at node 'r'"},
        {"err_attr_type.onnx", "Softmax (opset 13) at node 'sm': attribute 'axis' is float"},
        {"err_undef.onnx", "Add (opset 13) at node 'add': input 'nope' is not defined"},
        {"err_opset22.onnx", "unsupported: opset 22 (isbc supports opsets 1-21)"},
        {"err_twice.onnx", "output 'y' is defined more than once"},
        {"err_graph_attr.onnx", "unsupported: Relu attribute 'body' (opset 13) at node 'r'"},
        {"err_arity.onnx", "Conv (opset 13) at node 'c': 1 inputs"},
        {"err_nograph.onnx", "has no graph"},
        {"nonexistent.onnx", "cannot open"},
        {"np_f32.npy", "not an ONNX model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Diag d = {{0}};
        CHECK_ERR(try_import(path_in(data_dir, cases[i][0]), NULL, &d), d, cases[i][1]);
    }
    Diag d;
    spit(path_in(data_dir, "empty.onnx"), "", 0);
    CHECK_ERR(try_import(path_in(data_dir, "empty.onnx"), NULL, &d), d, "empty");
    CHECK_ERR(try_import(data_dir, NULL, &d), d, "not a regular file");
    /* float16 initializers import (as a storage type) */
    Graph *g = import(data_dir, "err_f16.onnx", NULL);
    if (g) {
        int h = graph_find_value(g, "h");
        CHECK(h >= 0 && gval(g, h)->type.dtype == DT_F16);
        graph_free(g);
    }
}

/* Every prefix and many bit flips of real models: an error or a graph, never a crash. */
static void test_corrupt_models(void) {
    const char *models[] = {"node/test_conv_with_strides_padding/model.onnx",
                            "pytorch-converted/test_BatchNorm2d_eval/model.onnx"};
    const char *p = path_in(data_dir, "corrupt.onnx");
    for (size_t m = 0; m < 2; m++) {
        size_t n;
        uint8_t *b = slurp(path_in(testdata, models[m]), &n);
        CHECK(b != NULL);
        if (!b) continue;
        int accepted = 0;
        for (size_t len = 0; len < n; len++) {
            Diag d;
            spit(p, b, len);
            Graph *g = onnx_import(p, NULL, &d);
            if (g) {
                accepted++;
                CHECK(graph_verify(g, false, &d) == 0);
                graph_free(g);
            } else {
                CHECK(d.msg[0] != 0);
            }
        }
        CHECK(accepted < (int)n / 4);
        for (size_t i = 0; i < n; i++) {
            for (int bit = 0; bit < 8; bit++) {
                Diag d;
                b[i] ^= (uint8_t)(1 << bit);
                spit(p, b, n);
                Graph *g = onnx_import(p, NULL, &d);
                if (g) graph_free(g);
                b[i] ^= (uint8_t)(1 << bit);
            }
        }
        free(b);
    }
}

/* Smoke: every model of the ONNX node tests imports or fails with a message. */
static void test_all_node_models(void) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -d %s/node/*/ %s/simple/*/ %s/pytorch-*/*/ %s/real/*/", testdata,
             testdata, testdata, testdata);
    FILE *ls = popen(cmd, "r");
    CHECK(ls != NULL);
    if (!ls) return;
    char line[1024];
    int ok = 0, total = 0;
    while (fgets(line, sizeof line, ls)) {
        line[strcspn(line, "\n")] = 0;
        Diag d = {{0}};
        Graph *g = onnx_import(path_in(line, "model.onnx"), NULL, &d);
        total++;
        if (g) {
            ok++;
            if (graph_verify(g, false, &d) != 0) {
                fprintf(stderr, "  %s: verify: %s\n", line, d.msg);
                failures++;
            }
            graph_free(g);
        } else {
            CHECK(d.msg[0] != 0);
        }
    }
    pclose(ls);
    printf("imported %d of %d backend test models\n", ok, total);
    CHECK(total > 900 && ok > 300);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s tensor|import DATA TESTDATA\n", argv[0]);
        return 2;
    }
    data_dir = argv[2];
    testdata = argv[3];
    if (!strcmp(argv[1], "tensor")) {
        test_round_trip();
        test_foreign_files();
        test_bad_files();
    } else {
        test_parse_dims();
        test_backend_models();
        test_old_forms();
        test_types_and_constants();
        test_external_data();
        test_import_errors();
        test_corrupt_models();
        test_all_node_models();
    }
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    else
        printf("ok\n");
    return failures != 0;
}
