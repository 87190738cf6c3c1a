/* A small thread pool: the threads that the time loops of sequence.h split each step over (and
 * module.c's layout copies their time steps), and that NumPy's OpenBLAS runs its own
 * multithreaded work on.
 *
 * Why both. A time step is a product W_hh @ h followed by the elementwise gate pass, and the
 * next step needs all of h. With OpenBLAS's threads doing the product, the gate pass runs on
 * one core, and OpenBLAS's idle pool threads keep spinning for about 0.1 s after every product
 * (its THREAD_TIMEOUT), taking the other cores from anything else. So here the P participants
 * of a loop each own a slice of the hidden units: per step each multiplies its rows of W_hh by h
 * (OpenBLAS single-threaded) and runs the gate pass on its slice, then all meet at a barrier,
 * oneDNN's scheme. And OpenBLAS is handed this pool (openblas_set_threads_callback_function,
 * OpenBLAS >= 0.3.27: "caller-managed threading"), so that no thread of its own spins beside
 * ours; a worker here spins for at most SPIN_NS after a job, then sleeps.
 *
 *   pool_reserve(n)          make n workers exist; returns how many do
 *   pool_run(n, fn, ctx)     fn(ctx, k) for k = 0..n-1 at once: k = 0 on the calling thread,
 *                            the others on workers; returns when all are done. One run at a
 *                            time: a second caller waits. -1 (nothing run) where n - 1 workers
 *                            cannot be had.
 *   pool_run_all(n, fn, ctx) the same, never refused: should the workers not be had (not expected
 *                            where pool_reserve gave them first), on threads started for the run
 *   barrier_wait(b)          all n participants of a run meet
 *   pool_blas_callback       OpenBLAS's jobs as a run of the pool
 *
 * fork() waits for the run in flight (pthread_atfork), and the child starts with no workers.
 *
 * Only with POSIX threads; elsewhere (RK_NO_POOL) the loops run on the calling thread alone and
 * OpenBLAS keeps its own threads.
 */
#ifndef RNNKIT_POOL_H
#define RNNKIT_POOL_H

#if defined(_WIN32) || !defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L || defined(__STDC_NO_ATOMICS__)
#define RK_NO_POOL 1
#endif

typedef void (*pool_fn)(void *ctx, int k);

#define POOL_MAX 64           /* workers; OpenBLAS's MAX_THREADS in NumPy's wheels is 64 */

#ifndef RK_NO_POOL
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define SPIN_NS 200000        /* a worker spins this long for the next job before it sleeps */
#define SPINS_BEFORE_YIELD 4096

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* spin until *v != old (acquire); yield the core after a while, for when participants
 * outnumber the cores that run them */
static void wait_change(atomic_int *v, int old)
{
    for (long i = 0; atomic_load_explicit(v, memory_order_acquire) == old; i++) {
        if (i < SPINS_BEFORE_YIELD) cpu_relax();
        else sched_yield();
    }
}

typedef struct {
    atomic_int count, gen;
    int n;
} Barrier;

static void barrier_init(Barrier *b, int n)
{
    atomic_init(&b->count, 0);
    atomic_init(&b->gen, 0);
    b->n = n;
}

/* the last to arrive resets the count and opens the next generation */
static void barrier_wait(Barrier *b)
{
    if (b->n <= 1) return;
    int gen = atomic_load_explicit(&b->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == b->n - 1) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->gen, 1, memory_order_release);
    } else {
        wait_change(&b->gen, gen);
    }
}

static struct {
    pthread_mutex_t run;    /* held for a whole pool_run */
    pthread_mutex_t lock;   /* guards sleeping workers and the worker count */
    pthread_cond_t wake;
    int workers, sleepers, fork_handler;
    atomic_uint run_word;   /* the latest run: (its sequence number << 8) | its n (n <= POOL_MAX + 1) */
    atomic_int pending;     /* its participants still running */
    unsigned start_word[POOL_MAX + 1]; /* run_word when worker k started */
    pool_fn fn;             /* the latest run's work: stays put until its participants are done */
    void *ctx;
} pool = {.run = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static _Thread_local int in_pool; /* this thread is a participant of a run */
static atomic_int pool_refused;   /* the tests: pool_run refuses every run of n > 1 (_fused.pool_refuse) */
static atomic_long pool_refusals; /* and counts them */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Worker k runs fn(ctx, k) of every run with n > k. It reads the run's n from the same word
 * that announces it, so a worker that a run does not need never reads the fields of a later one;
 * it goes back to sleep at once. A participant spins for SPIN_NS after its part, then sleeps. */
static void *pool_worker(void *arg)
{
    int k = (int)(intptr_t)arg, spin = 1;
    unsigned seen = pool.start_word[k], w;
    in_pool = 1;
    for (;;) {
        double start = now_ns();
        for (long i = 0; (w = atomic_load_explicit(&pool.run_word, memory_order_acquire)) == seen; i++) {
            if (spin) {
                cpu_relax();
                if ((i & 255) == 255 && now_ns() - start > SPIN_NS) spin = 0;
                continue;
            }
            pthread_mutex_lock(&pool.lock);
            pool.sleepers++;
            while (atomic_load_explicit(&pool.run_word, memory_order_acquire) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pool.sleepers--;
            pthread_mutex_unlock(&pool.lock);
        }
        seen = w;
        spin = k < (int)(w & 255u);
        if (spin) {
            pool.fn(pool.ctx, k);
            atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
        }
    }
    return NULL;
}

/* fork(): no run may be in flight (its participants could hold locks inside OpenBLAS that the
 * child would inherit, locked), so the fork waits for the current one and holds pool.run over it.
 * The child has none of the parent's threads: it starts again from no workers. */
static void pool_before_fork(void) { pthread_mutex_lock(&pool.run); }
static void pool_after_fork_parent(void) { pthread_mutex_unlock(&pool.run); }

static void pool_after_fork(void)
{
    pthread_mutex_init(&pool.run, NULL);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pool.workers = pool.sleepers = 0;
    atomic_store(&pool.run_word, 0u);
    atomic_store(&pool.pending, 0);
    in_pool = 0;
}

static int pool_reserve(int n)
{
    if (n > POOL_MAX) n = POOL_MAX;
    pthread_mutex_lock(&pool.lock);
    if (!pool.fork_handler)
        pool.fork_handler = pthread_atfork(pool_before_fork, pool_after_fork_parent, pool_after_fork) == 0;
    while (pool.workers < n) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pool.start_word[pool.workers + 1] = atomic_load(&pool.run_word); /* changes under pool.lock only */
        int err = pthread_create(&t, &attr, pool_worker, (void *)(intptr_t)(pool.workers + 1));
        pthread_attr_destroy(&attr);
        if (err) break;
        pool.workers++;
    }
    int have = pool.workers;
    pthread_mutex_unlock(&pool.lock);
    return have;
}

/* fn(ctx, k) for k < n at once; -1 (nothing run) when n - 1 workers cannot be had */
static int pool_run(int n, pool_fn fn, void *ctx)
{
    if (n <= 1) {
        fn(ctx, 0);
        return 0;
    }
    if (atomic_load_explicit(&pool_refused, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&pool_refusals, 1, memory_order_relaxed);
        return -1;
    }
    if (pool_reserve(n - 1) < n - 1) return -1;
    pthread_mutex_lock(&pool.run);
    pool.fn = fn;
    pool.ctx = ctx;
    atomic_store_explicit(&pool.pending, n - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool.lock);
    unsigned w = ((atomic_load_explicit(&pool.run_word, memory_order_relaxed) >> 8) + 1u) << 8 | (unsigned)n;
    atomic_store_explicit(&pool.run_word, w, memory_order_release);
    if (pool.sleepers) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    int outer = in_pool;
    in_pool = 1;
    fn(ctx, 0);
    in_pool = outer;
    for (long i = 0; atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; i++) {
        if (i < SPINS_BEFORE_YIELD) cpu_relax();
        else sched_yield();
    }
    pthread_mutex_unlock(&pool.run);
    return 0;
}

/* fn(ctx, k) for k < n on threads started for it: for a run asked from inside a run */
typedef struct {
    pool_fn fn;
    void *ctx;
    int k;
} Detached;

static void *detached_main(void *arg)
{
    Detached *d = (Detached *)arg;
    d->fn(d->ctx, d->k);
    return NULL;
}

static void run_detached(int n, pool_fn fn, void *ctx)
{
    pthread_t t[POOL_MAX + 1];
    Detached d[POOL_MAX + 1];
    int started[POOL_MAX + 1] = {0};
    for (int k = 1; k < n && k <= POOL_MAX; k++) {
        d[k] = (Detached){fn, ctx, k};
        started[k] = pthread_create(&t[k], NULL, detached_main, &d[k]) == 0;
    }
    fn(ctx, 0);
    for (int k = 1; k < n && k <= POOL_MAX; k++) {
        if (started[k]) pthread_join(t[k], NULL);
        else fn(ctx, k); /* no thread to be had: in turn, the best left */
    }
}

/* fn(ctx, k) for k < n at once, on the pool or else on threads started for the run: a loop's
 * participants meet at barriers, so each needs a thread of its own (run_detached runs a
 * participant whose thread cannot be started after the others, which then wait for it forever:
 * only where the pool refused too) */
static void pool_run_all(int n, pool_fn fn, void *ctx)
{
    if (pool_run(n, fn, ctx)) run_detached(n, fn, ctx);
}

/* OpenBLAS's caller-managed threading: numjobs jobs dojob(k, jobdata + k * size, arg) that must
 * run at the same time (its level-3 jobs wait for each other) */
typedef void (*blas_dojob)(int k, void *job, int arg);

typedef struct {
    blas_dojob dojob;
    char *jobs;
    size_t size;
    int arg;
} BlasJobs;

static void blas_job(void *ctx, int k)
{
    BlasJobs *j = (BlasJobs *)ctx;
    j->dojob(k, j->jobs + (size_t)k * j->size, j->arg);
}

static void pool_blas_callback(int sync, blas_dojob dojob, int numjobs, size_t size, void *jobs, int arg)
{
    BlasJobs j = {dojob, (char *)jobs, size, arg};
    (void)sync; /* always run to the end: asked not to wait, waiting is still correct */
    if (numjobs <= 1) {
        if (numjobs == 1) blas_job(&j, 0);
        return;
    }
    /* from a participant (a loop's product, should it be threaded after all): the pool is busy */
    if (in_pool || numjobs > POOL_MAX + 1 || pool_run(numjobs, blas_job, &j)) run_detached(numjobs, blas_job, &j);
}

static int pool_workers(void)
{
    pthread_mutex_lock(&pool.lock);
    int n = pool.workers;
    pthread_mutex_unlock(&pool.lock);
    return n;
}

#else /* RK_NO_POOL */

typedef struct {
    int n;
} Barrier;
static void barrier_init(Barrier *b, int n) { b->n = n; }
static void barrier_wait(Barrier *b) { (void)b; }
static int pool_reserve(int n) { (void)n; return 0; }
static int pool_workers(void) { return 0; }
static int pool_refused;
static long pool_refusals;
/* n is 1 here: without the pool, loops and jobs get one participant (pool_reserve gives none) */
static void pool_run_all(int n, pool_fn fn, void *ctx)
{
    for (int k = 0; k < n; k++) fn(ctx, k);
}

#endif /* RK_NO_POOL */
#endif /* RNNKIT_POOL_H */
