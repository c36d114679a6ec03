/* thread.c — run one kernel on a team of threads.
 *
 * Two kinds of team, neither with global state:
 *  - the team of a run (isbrt_team_begin/end): its threads are created once per model run and
 *    live in memory the caller owns (generated code keeps it on the run's stack); between
 *    kernels they spin briefly, then sleep on a condition variable. A kernel given the team
 *    hands its parts to the waiting threads: no thread creation per kernel, so even small
 *    kernels split.
 *  - without a team (a kernel called directly), a team created for that call: the caller's
 *    thread is part 0, the other parts are threads created here and joined before returning.
 *    Only worth it for large calls (creation costs ~70 us).
 * A part that cannot get a thread shrinks the team (the parts actually running are known
 * before any of them starts), so a kernel only splits work by team->part / team->parts and
 * never depends on the requested count. While a team runs a kernel, OpenBLAS is kept on one
 * thread per call and the caller's setting restored afterwards. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "internal.h"

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* Spins of a waiting thread before it yields the CPU (each spin is one pause) and, for an idle
 * member of a run's team, before it goes to sleep. */
enum { SPIN_YIELD = 2000, SPIN_SLEEP = 40000 };

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* ---- the team of a run ----------------------------------------------------------------- */

typedef struct run_team {
    int parts;            /* threads of the team, the caller's included */
    _Atomic unsigned gen; /* bumped to post a job (or the stop) */
    _Atomic int done;     /* members finished with the current job */
    _Atomic int stop;
    _Atomic int sleepers;
    _Atomic int bar_count;
    _Atomic unsigned bar_gen;
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

/* Wait until the job generation moves past `seen`; returns it. */
static unsigned wait_job(run_team *t, unsigned seen) {
    unsigned g;
    for (int i = 0; i < SPIN_SLEEP; i++) {
        if ((g = atomic_load_explicit(&t->gen, memory_order_acquire)) != seen) return g;
        cpu_relax();
    }
    pthread_mutex_lock(&t->mu);
    atomic_fetch_add(&t->sleepers, 1);
    while ((g = atomic_load(&t->gen)) == seen) pthread_cond_wait(&t->cv, &t->mu);
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
        isbrt__team me = {m->part, t->parts, NULL, t};
        t->fn(t->ctx, &me);
        atomic_fetch_add_explicit(&t->done, 1, memory_order_release);
    }
    return NULL;
}

/* Post a job (or the stop) to the members. */
static void post(run_team *t) {
    atomic_store_explicit(&t->done, 0, memory_order_relaxed);
    atomic_fetch_add(&t->gen, 1);
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
    post(t);
    for (int i = 1; i < t->parts; i++) pthread_join(t->m[i].th, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    t->parts = 1;
}

int isbrt__team_parts(const void *team) {
    return team ? ((const run_team *)team)->parts : 1;
}

static void run_on_team(run_team *t, isbrt__team_fn fn, void *ctx) {
    const int saved = openblas_get_num_threads();
    if (saved > 1) openblas_set_num_threads(1);
    t->fn = fn;
    t->ctx = ctx;
    post(t);
    isbrt__team self = {0, t->parts, NULL, t};
    fn(ctx, &self);
    for (int i = 0; atomic_load_explicit(&t->done, memory_order_acquire) < t->parts - 1; i++) {
        if (i < SPIN_YIELD)
            cpu_relax();
        else
            sched_yield();
    }
    if (saved > 1) openblas_set_num_threads(saved);
}

/* ---- a team created for one call --------------------------------------------------------- */

typedef struct team_ctl {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_barrier_t bar;
    int ready; /* parts is final and bar initialised */
    int parts;
    isbrt__team_fn fn;
    void *ctx;
} team_ctl;

typedef struct member {
    team_ctl *ctl;
    isbrt__team team;
} member;

static void *member_main(void *arg) {
    member *m = arg;
    team_ctl *c = m->ctl;
    pthread_mutex_lock(&c->mu);
    while (!c->ready) pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    m->team.parts = c->parts;
    m->team.bar = &c->bar;
    c->fn(c->ctx, &m->team);
    return NULL;
}

int isbrt__threads(void) {
    int t = openblas_get_num_threads();
    return t < 1 ? 1 : t > ISBRT__MAX_PARTS ? ISBRT__MAX_PARTS : t;
}

static void parallel_new(int parts, isbrt__team_fn fn, void *ctx) {
    team_ctl c = {.ready = 0, .parts = 1, .fn = fn, .ctx = ctx};
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    member ms[ISBRT__MAX_PARTS];
    pthread_t th[ISBRT__MAX_PARTS];
    for (int i = 1; i < parts; i++) {
        ms[c.parts] = (member){&c, {c.parts, 0, NULL, NULL}};
        if (pthread_create(&th[c.parts], NULL, member_main, &ms[c.parts]) != 0) break;
        c.parts++;
    }
    const int saved = openblas_get_num_threads();
    if (saved > 1) openblas_set_num_threads(1);
    if (c.parts > 1) pthread_barrier_init(&c.bar, NULL, (unsigned)c.parts);
    pthread_mutex_lock(&c.mu);
    c.ready = 1;
    pthread_cond_broadcast(&c.cv);
    pthread_mutex_unlock(&c.mu);
    isbrt__team self = {0, c.parts, c.parts > 1 ? &c.bar : NULL, NULL};
    fn(ctx, &self);
    for (int i = 1; i < c.parts; i++) pthread_join(th[i], NULL);
    if (c.parts > 1) pthread_barrier_destroy(&c.bar);
    if (saved > 1) openblas_set_num_threads(saved);
    pthread_cond_destroy(&c.cv);
    pthread_mutex_destroy(&c.mu);
}

void isbrt__parallel(const void *team, int64_t work, isbrt__team_fn fn, void *ctx) {
    run_team *t = (run_team *)team;
    if (t != NULL && t->parts > 1 && work >= ISBRT__TEAM_MIN_WORK) {
        run_on_team(t, fn, ctx);
        return;
    }
    const int parts = t == NULL && work >= ISBRT__NEW_MIN_WORK ? isbrt__threads() : 1;
    if (parts <= 1) {
        isbrt__team solo = {0, 1, NULL, NULL};
        fn(ctx, &solo);
        return;
    }
    parallel_new(parts, fn, ctx);
}

void isbrt__sync(const isbrt__team *t) {
    if (t->parts <= 1) return;
    if (t->run == NULL) {
        pthread_barrier_wait(t->bar);
        return;
    }
    run_team *r = t->run;
    const unsigned g = atomic_load(&r->bar_gen);
    if (atomic_fetch_add(&r->bar_count, 1) + 1 == t->parts) {
        atomic_store(&r->bar_count, 0);
        atomic_fetch_add(&r->bar_gen, 1);
        return;
    }
    for (int i = 0; atomic_load(&r->bar_gen) == g; i++) {
        if (i < SPIN_YIELD)
            cpu_relax();
        else
            sched_yield();
    }
}

void isbrt__share(const isbrt__team *t, int64_t n, int64_t *lo, int64_t *hi) {
    *lo = n * t->part / t->parts;
    *hi = n * (t->part + 1) / t->parts;
}
