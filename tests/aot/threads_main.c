/* threads_main.c — two different compiled models (prefixes a_ and b_, headers a.h and b.h,
 * one input and one output each) run at once from two threads, repeatedly, while a third
 * thread watches OpenBLAS's process-wide thread count. Each run's output must be
 * bit-identical to the same model's output computed alone before the threads start, and the
 * thread count must never change (the runtime writes no process state; isbrt.h).
 * Usage: prog BATCH_A BATCH_B ROUNDS; exit 0 if all runs match and the count held. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "a.h"
#include "b.h"
#include "isbrt.h"

int openblas_get_num_threads(void);

typedef int (*run_fn)(int64_t, const void *const *, void *const *, void *);

typedef struct job {
    const char *name;
    run_fn run;
    int64_t batch;
    size_t in_count, out_count, ws_bytes;
    float *in, *ref;
    int rounds, mismatches, errors;
} job;

static atomic_int stop;
static atomic_int changed; /* times the watcher saw another thread count */
static int threads_set;

static void *aligned(size_t bytes) {
    void *p = aligned_alloc(64, (bytes + 64) / 64 * 64);
    if (!p) abort();
    memset(p, 0, (bytes + 64) / 64 * 64);
    return p;
}

/* One run of j's model into out; returns the model's status. */
static int run_once(const job *j, float *out, void *ws) {
    const void *ins[1] = {j->in};
    void *outs[1] = {out};
    return j->run(j->batch, ins, outs, ws);
}

static void *runner(void *arg) {
    job *j = arg;
    float *out = aligned(j->out_count * sizeof(float));
    void *ws = aligned(j->ws_bytes);
    for (int r = 0; r < j->rounds; r++) {
        memset(out, 0xFF, j->out_count * sizeof(float));
        if (run_once(j, out, ws) != 0)
            j->errors++;
        else if (memcmp(out, j->ref, j->out_count * sizeof(float)) != 0)
            j->mismatches++;
    }
    free(out);
    free(ws);
    return NULL;
}

static void *watcher(void *arg) {
    (void)arg;
    while (!atomic_load(&stop))
        if (openblas_get_num_threads() != threads_set) atomic_fetch_add(&changed, 1);
    return NULL;
}

static void setup(job *j, const char *name, run_fn run, int64_t batch, size_t in_per,
                  size_t out_per, size_t ws_bytes, unsigned seed) {
    j->name = name, j->run = run, j->batch = batch;
    j->in_count = in_per * (size_t)batch, j->out_count = out_per * (size_t)batch;
    j->ws_bytes = ws_bytes;
    j->in = aligned(j->in_count * sizeof(float));
    j->ref = aligned(j->out_count * sizeof(float));
    for (size_t i = 0; i < j->in_count; i++) {
        seed = seed * 1664525u + 1013904223u;
        j->in[i] = (float)(seed >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
    void *ws = aligned(ws_bytes);
    if (run_once(j, j->ref, ws) != 0) {
        fprintf(stderr, "%s: the run alone failed\n", name);
        exit(1);
    }
    free(ws);
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    const int64_t ba = atoll(argv[1]), bb = atoll(argv[2]);
    const int rounds = atoi(argv[3]);
    isbrt_set_threads(2);
    threads_set = openblas_get_num_threads();
    job ja = {0}, jb = {0};
    setup(&ja, "a", a_run_v, ba, A_IN_PER, A_OUT_PER, a_workspace_size(ba), 1);
    setup(&jb, "b", b_run_v, bb, B_IN_PER, B_OUT_PER, b_workspace_size(bb), 2);
    ja.rounds = jb.rounds = rounds;
    pthread_t ta, tb, tw;
    pthread_create(&tw, NULL, watcher, NULL);
    pthread_create(&ta, NULL, runner, &ja);
    pthread_create(&tb, NULL, runner, &jb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    atomic_store(&stop, 1);
    pthread_join(tw, NULL);
    int fail = 0;
    const job *js[2] = {&ja, &jb};
    for (int i = 0; i < 2; i++) {
        printf("model %s (batch %lld): %d runs, %d not bit-identical, %d errors\n", js[i]->name,
               (long long)js[i]->batch, rounds, js[i]->mismatches, js[i]->errors);
        fail |= js[i]->mismatches != 0 || js[i]->errors != 0;
    }
    printf("OpenBLAS thread count %d, seen changed %d times\n", threads_set, atomic_load(&changed));
    fail |= atomic_load(&changed) != 0;
    printf("%s\n", fail ? "FAIL" : "PASS");
    for (int i = 0; i < 2; i++) free(js[i]->in), free(js[i]->ref);
    return fail;
}
