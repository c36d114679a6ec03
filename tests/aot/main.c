/* main.c — a user's program built against the generated object (or shared library) and
 * header of tests/aot: runs the model on BATCH instances read from a file through the typed
 * entry, on the first instance alone through the array entry, checks the bad-argument
 * returns, and compares the outputs with the expected files.
 * Usage: prog BATCH input.bin expected0.bin expected1.bin; exit 0 if all match. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

static float *read_file(const char *path, long *count) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *p = malloc((size_t)bytes + 4);
    if (!p || fread(p, 1, (size_t)bytes, f) != (size_t)bytes) exit(2);
    fclose(f);
    *count = bytes / (long)sizeof(float);
    return p;
}

/* max |a - b| relative to max |b|, over n elements */
static double rel_err(const float *a, const float *b, long n) {
    double m = 0, s = 1e-12;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d;
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return m / s;
}

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    int64_t batch = atoll(argv[1]);
    long nin, n0, n1;
    float *in = read_file(argv[2], &nin), *e0 = read_file(argv[3], &n0),
          *e1 = read_file(argv[4], &n1);
    float *o0 = calloc((size_t)n0, sizeof(float)), *o1 = calloc((size_t)n1, sizeof(float));
    int fail = 0;
#if !net_BATCH_SYMBOLIC || net_NUM_INPUTS != 1 || net_NUM_OUTPUTS != 2
    fprintf(stderr, "unexpected header\n");
    return 1;
#endif
    size_t ws = net_workspace_size(batch);
    void *w = aligned_alloc(64, (ws + 64) / 64 * 64);
    int rc = net_run(batch, in, o0, o1, w);
    double err0 = rel_err(o0, e0, n0), err1 = rel_err(o1, e1, n1);
    printf("batch %lld: rc %d, workspace %zu bytes, probs err %.3g, pooled err %.3g\n",
           (long long)batch, rc, ws, err0, err1);
    if (rc != net_OK || !(err0 < 1e-4) || !(err1 < 1e-4)) fail = 1;

    /* instance 0 alone, through the array entry */
    memset(o0, 0, (size_t)n0 * sizeof(float));
    memset(o1, 0, (size_t)n1 * sizeof(float));
    const void *ins[1] = {in};
    void *outs[2] = {o0, o1};
    rc = net_run_v(1, ins, outs, w);
    err0 = rel_err(o0, e0, n0 / batch);
    err1 = rel_err(o1, e1, n1 / batch);
    printf("batch 1 (run_v): rc %d, probs err %.3g, pooled err %.3g\n", rc, err0, err1);
    if (rc != net_OK || !(err0 < 1e-4) || !(err1 < 1e-4)) fail = 1;

    /* bad arguments */
    int bad = net_run(0, in, o0, o1, w) == net_EBADARG &&
              net_run(1, NULL, o0, o1, w) == net_EBADARG &&
              net_run(1, in, o0, o1, (char *)w + 4) == net_EBADARG &&
              net_run_v(1, NULL, outs, w) == net_EBADARG && net_workspace_size(0) == 0;
    printf("bad arguments rejected: %s\n", bad ? "yes" : "NO");
    if (!bad) fail = 1;
    free(w);
    free(in);
    free(e0);
    free(e1);
    free(o0);
    free(o1);
    printf("%s\n", fail ? "FAIL" : "PASS");
    return fail;
}
