/* thread.c — run one kernel on a small team of threads created for that call.
 *
 * No pool and no global state: the caller's thread is part 0, the other parts are threads
 * created here and joined before returning. A part that cannot get a thread shrinks the
 * team (the parts actually running are known before any of them starts), so a kernel only
 * splits work by team->part / team->parts and never depends on the requested count. While
 * the team runs, OpenBLAS is kept on one thread per call and the caller's setting restored. */
#include <pthread.h>

#include "internal.h"

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

enum { MAX_PARTS = 16 };

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
    return t < 1 ? 1 : t > MAX_PARTS ? MAX_PARTS : t;
}

void isbrt__parallel(int parts, isbrt__team_fn fn, void *ctx) {
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    if (parts <= 1) {
        isbrt__team solo = {0, 1, NULL};
        fn(ctx, &solo);
        return;
    }
    team_ctl c = {.ready = 0, .parts = 1, .fn = fn, .ctx = ctx};
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    member ms[MAX_PARTS];
    pthread_t th[MAX_PARTS];
    for (int i = 1; i < parts; i++) {
        ms[c.parts] = (member){&c, {c.parts, 0, NULL}};
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
    isbrt__team self = {0, c.parts, c.parts > 1 ? &c.bar : NULL};
    fn(ctx, &self);
    for (int i = 1; i < c.parts; i++) pthread_join(th[i], NULL);
    if (c.parts > 1) pthread_barrier_destroy(&c.bar);
    if (saved > 1) openblas_set_num_threads(saved);
    pthread_cond_destroy(&c.cv);
    pthread_mutex_destroy(&c.mu);
}

void isbrt__sync(const isbrt__team *t) {
    if (t->parts > 1) pthread_barrier_wait(t->bar);
}

void isbrt__share(const isbrt__team *t, int64_t n, int64_t *lo, int64_t *hi) {
    *lo = n * t->part / t->parts;
    *hi = n * (t->part + 1) / t->parts;
}
