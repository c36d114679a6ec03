/* main.c — classify images with a model compiled ahead of time by isbc.
 *
 * Build (see Makefile): isbc compile model.onnx -o model.o --header model.h --name net
 *                       cc main.c model.o -lisbrt -lopenblas -lm
 * Usage: classify INPUT.npy   (float32, C order, [N, 3, 224, 224])
 * Prints the top-5 classes (index and score) of each of the N instances. The generated API
 * is net_workspace_size(batch) and net_run(batch, in, out, workspace); see model.h. Built
 * with -DBRANCH_STATS (examples/isbnet) it calls net_run_stats instead and also prints the
 * branches run and skipped and the FLOPs executed against the dense model. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#ifndef NUM_CLASSES
#define NUM_CLASSES 1000
#endif
#ifndef IMAGE_SIZE
#define IMAGE_SIZE (3 * 224 * 224)
#endif

/* A .npy file (format 1.0-3.0) holding little-endian float32 in C order. */
typedef struct Npy {
    int64_t shape[8];
    int rank;
    float *data;
} Npy;

static int npy_fail(const char *path, const char *why) {
    fprintf(stderr, "classify: %s: %s\n", path, why);
    return -1;
}

static int npy_read(const char *path, Npy *a) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    unsigned char pre[10];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        fclose(f);
        return npy_fail(path, "not a .npy file");
    }
    size_t hlen = pre[8] | (size_t)pre[9] << 8;
    if (pre[6] >= 2) { /* format 2.0+: 4-byte header length */
        unsigned char ext[2];
        if (fread(ext, 1, 2, f) != 2) {
            fclose(f);
            return npy_fail(path, "truncated header");
        }
        hlen |= (size_t)ext[0] << 16 | (size_t)ext[1] << 24;
    }
    char *h = calloc(1, hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen) {
        free(h);
        fclose(f);
        return npy_fail(path, "truncated header");
    }
    const char *shape = strstr(h, "'shape'");
    if (!strstr(h, "'descr': '<f4'") || !strstr(h, "'fortran_order': False") || !shape) {
        free(h);
        fclose(f);
        return npy_fail(path, "need float32 ('<f4') in C order");
    }
    const char *p = strchr(shape, '(');
    int64_t count = 1;
    a->rank = 0;
    while (p && *++p && *p != ')') {
        if (isdigit((unsigned char)*p) && a->rank < 8) {
            char *end;
            a->shape[a->rank] = strtoll(p, &end, 10);
            count *= a->shape[a->rank++];
            p = end - 1;
        }
    }
    free(h);
    a->data = malloc((size_t)count * sizeof(float) + 1);
    if (!a->data || fread(a->data, sizeof(float), (size_t)count, f) != (size_t)count) {
        free(a->data);
        fclose(f);
        return npy_fail(path, "truncated data");
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s INPUT.npy\n", argv[0]);
        return 2;
    }
    Npy in;
    if (npy_read(argv[1], &in) != 0) return 1;
    int64_t batch = in.rank > 0 ? in.shape[0] : 0, per = 1;
    for (int i = 1; i < in.rank; i++) per *= in.shape[i];
    if (batch < 1 || per != IMAGE_SIZE) {
        fprintf(stderr, "classify: %s: expected [N, ...] with %d floats per instance\n", argv[1],
                IMAGE_SIZE);
        return 1;
    }

    /* The workspace holds all activations of one call; it must be 64-byte aligned. */
    size_t ws_size = net_workspace_size(batch);
    void *ws = aligned_alloc(64, (ws_size + 63) / 64 * 64 + 64);
    float *out = malloc((size_t)batch * NUM_CLASSES * sizeof(float));
    if (!ws || !out) {
        fprintf(stderr, "classify: out of memory\n");
        return 1;
    }
#ifdef BRANCH_STATS
    net_stats st;
    const void *ins[1] = {in.data};
    void *outs[1] = {out};
    int rc = net_run_stats(batch, ins, outs, ws, &st);
#else
    int rc = net_run(batch, in.data, out, ws);
#endif
    if (rc != 0) {
        fprintf(stderr, "classify: net_run failed with status %d\n", rc);
        return 1;
    }

    for (int64_t n = 0; n < batch; n++) {
        const float *y = out + n * NUM_CLASSES;
        int top[5];
        for (int k = 0; k < 5; k++) {
            top[k] = -1;
            for (int c = 0; c < NUM_CLASSES; c++) {
                int taken = 0;
                for (int j = 0; j < k; j++) taken |= top[j] == c;
                if (!taken && (top[k] < 0 || y[c] > y[top[k]])) top[k] = c;
            }
        }
        printf("instance %lld: top-5", (long long)n);
        for (int k = 0; k < 5; k++) printf("  %d:%.4f", top[k], y[top[k]]);
        printf("\n");
    }
#ifdef BRANCH_STATS
    printf("branches: %lld per instance; over %lld instances %lld run, %lld skipped\n",
           (long long)st.branches, (long long)batch, (long long)st.branches_run,
           (long long)st.branches_skipped);
    printf("FLOPs: %lld executed of %lld dense (%.3f)\n", (long long)st.flops_executed,
           (long long)st.flops_dense,
           st.flops_dense ? (double)st.flops_executed / (double)st.flops_dense : 1.0);
#endif
    free(out);
    free(ws);
    free(in.data);
    return 0;
}
