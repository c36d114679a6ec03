/* thread.c — run one kernel as chunks of work spread over a team of threads.
 *
 * A kernel cuts its work into chunks (isbrt__parallel); the threads of the team take chunks
 * one at a time from a shared counter until none are left, the caller's thread included. So a
 * thread that the OS has taken away (the machine is shared) just takes fewer chunks instead of
 * holding every other thread up, as a fixed split would. A phase that must finish before the
 * next starts is a call of its own. Two kinds of team, neither with global state:
 *  - the team of a run (isbrt_team_begin/end): its threads are created once per model run and
 *    live in memory the caller owns (generated code keeps it on the run's stack); between
 *    kernels they spin briefly, then sleep on a condition variable. No thread creation per
 *    kernel, so even small kernels split.
 *  - without one (a kernel called directly), a run's team started and ended for that call:
 *    only for large calls (thread creation costs ~70 us).
 * The products of a chunk run on the chunk's thread (isbrt__sgemm), so no OpenBLAS thread
 * is started from inside a team and nothing here writes OpenBLAS's process-wide setting. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "internal.h"

int openblas_get_num_threads(void);

/* Spins of a waiting thread before it yields the CPU (each spin is one pause) and, for an idle
 * member of a run's team, before it goes to sleep. */
enum { SPIN_YIELD = 200, SPIN_SLEEP = 20000 };

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* ---- the team of a run ----------------------------------------------------------------- */

/* The chunk counter: job generation (16 bits) | chunk count (16 bits) | next chunk (32 bits).
 * One atomic add both takes a chunk and tells which job it belongs to. */
#define CTR(gen, n) (((uint64_t)(gen) << 48) | ((uint64_t)(n) << 32))
enum { MAX_CHUNKS = 0xFFFF };

typedef struct run_team {
    int parts;             /* threads of the team, the caller's included */
    unsigned gen;          /* generation of the current job (caller's thread only) */
    _Atomic uint64_t ctr;  /* see CTR */
    _Atomic int64_t done;  /* chunks of the current job finished */
    _Atomic unsigned wake; /* bumped to post a job (or the stop) */
    _Atomic int stop;
    _Atomic int sleepers;
    isbrt__team_fn fn;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct run_member {
        struct run_team *team;
        int part;
        pthread_t th;
    } m[ISBRT__MAX_PARTS];
} run_team;

_Static_assert(sizeof(run_team) <= ISBRT_TEAM_BYTES, "ISBRT_TEAM_BYTES too small");

/* Take and run chunks of the posted job until none is left; `thread` names this thread. */
static void take_chunks(run_team *t, int thread) {
    for (;;) {
        const uint64_t v = atomic_fetch_add_explicit(&t->ctr, 1, memory_order_acq_rel);
        const int64_t n = (int64_t)((v >> 32) & 0xFFFF), i = (int64_t)(v & 0xFFFFFFFFu);
        if (i >= n) return;
        /* the job cannot finish while this chunk is not done, so fn and ctx are its own */
        isbrt__team me = {(int)i, (int)n, thread};
        t->fn(t->ctx, &me);
        atomic_fetch_add_explicit(&t->done, 1, memory_order_acq_rel);
    }
}

/* Wait until `wake` moves past `seen`; returns it. */
static unsigned wait_job(run_team *t, unsigned seen) {
    unsigned g;
    for (int i = 0; i < SPIN_SLEEP; i++) {
        if ((g = atomic_load_explicit(&t->wake, memory_order_acquire)) != seen) return g;
        if (i < SPIN_YIELD)
            cpu_relax();
        else
            sched_yield(); /* a loaded machine gets the core back */
    }
    pthread_mutex_lock(&t->mu);
    atomic_fetch_add(&t->sleepers, 1);
    while ((g = atomic_load(&t->wake)) == seen) pthread_cond_wait(&t->cv, &t->mu);
    atomic_fetch_sub(&t->sleepers, 1);
    pthread_mutex_unlock(&t->mu);
    return g;
}

static void *member_loop(void *arg) {
    struct run_member *m = arg;
    run_team *t = m->team;
    unsigned seen = 0;
    for (;;) {
        seen = wait_job(t, seen);
        if (atomic_load_explicit(&t->stop, memory_order_acquire)) break;
        take_chunks(t, m->part);
    }
    return NULL;
}

static void wake_members(run_team *t) {
    atomic_fetch_add(&t->wake, 1);
    if (atomic_load(&t->sleepers) > 0) {
        pthread_mutex_lock(&t->mu);
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
}

void isbrt_team_begin(void *mem, int threads) {
    run_team *t = mem;
    memset(t, 0, sizeof *t);
    if (threads <= 0) threads = isbrt__threads();
    if (threads > ISBRT__MAX_PARTS) threads = ISBRT__MAX_PARTS;
    t->parts = 1;
    if (threads <= 1) return;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    for (int i = 1; i < threads; i++) {
        struct run_member *m = &t->m[t->parts];
        m->team = t;
        m->part = t->parts;
        if (pthread_create(&m->th, NULL, member_loop, m) != 0) break;
        t->parts++;
    }
}

void isbrt_team_end(void *mem) {
    run_team *t = mem;
    if (t == NULL || t->parts <= 1) return;
    atomic_store(&t->stop, 1);
    wake_members(t);
    for (int i = 1; i < t->parts; i++) pthread_join(t->m[i].th, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    t->parts = 1;
}

/* Run chunks [0, n) of fn on the team; returns when all are done. */
static void run_on_team(run_team *t, int64_t n, isbrt__team_fn fn, void *ctx) {
    t->fn = fn;
    t->ctx = ctx;
    t->gen = (t->gen + 1) & 0xFFFF;
    atomic_store(&t->done, 0);
    atomic_store(&t->ctr, CTR(t->gen, n));
    wake_members(t);
    take_chunks(t, 0);
    for (int i = 0; atomic_load_explicit(&t->done, memory_order_acquire) < n; i++) {
        if (i < SPIN_YIELD)
            cpu_relax();
        else
            sched_yield();
    }
}

int isbrt__threads(void) {
    int t = openblas_get_num_threads();
    return t < 1 ? 1 : t > ISBRT__MAX_PARTS ? ISBRT__MAX_PARTS : t;
}

int isbrt__parts_for(const void *team, int64_t work) {
    const run_team *t = team;
    if (t != NULL) return work >= ISBRT__TEAM_MIN_WORK ? t->parts : 1;
    return work >= ISBRT__NEW_MIN_WORK ? isbrt__threads() : 1;
}

void isbrt__parallel(const void *team, int64_t work, int64_t chunks, isbrt__team_fn fn, void *ctx) {
    const int parts = isbrt__parts_for(team, work);
    if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
    if (parts <= 1 || chunks <= 1) {
        for (int64_t i = 0; i < chunks; i++) {
            isbrt__team solo = {(int)i, (int)chunks, 0};
            fn(ctx, &solo);
        }
        return;
    }
    if (team != NULL) {
        run_on_team((run_team *)team, chunks, fn, ctx);
        return;
    }
    _Alignas(64) unsigned char mem[ISBRT_TEAM_BYTES];
    isbrt_team_begin(mem, parts);
    run_on_team((run_team *)mem, chunks, fn, ctx);
    isbrt_team_end(mem);
}

int64_t isbrt__chunks(const void *team, int64_t work, int64_t items) {
    const int64_t c = (int64_t)isbrt__parts_for(team, work) * ISBRT__CHUNKS_PER_PART;
    return items < c ? (items > 0 ? items : 1) : c;
}

void isbrt__share(const isbrt__team *t, int64_t n, int64_t *lo, int64_t *hi) {
    *lo = n * t->part / t->parts;
    *hi = n * (t->part + 1) / t->parts;
}

/* ---- items of a guarded region (isbrt_team_items) ---------------------------------------- */

typedef struct items_job {
    int64_t n;
    isbrt_items_fn fn;
    void *ctx;
    _Atomic int32_t status;
} items_job;

static void items_chunk(void *ctx, const isbrt__team *t) {
    items_job *j = ctx;
    int64_t lo, hi;
    isbrt__share(t, j->n, &lo, &hi);
    if (lo >= hi) return;
    const int32_t rc = j->fn(j->ctx, lo, hi, t->thread, NULL);
    if (rc != 0) atomic_store(&j->status, rc);
}

int32_t isbrt_team_items(void *team, int64_t n, int64_t work_per_item, isbrt_items_fn fn,
                         void *ctx) {
    if (n <= 0) return 0;
    const int64_t work = work_per_item > INT64_MAX / n ? INT64_MAX : n * work_per_item;
    if (team == NULL || n < 2 || isbrt__parts_for(team, work) <= 1) return fn(ctx, 0, n, 0, team);
    items_job j = {n, fn, ctx, 0};
    isbrt__parallel(team, work, isbrt__chunks(team, work, n), items_chunk, &j);
    return atomic_load(&j.status);
}
