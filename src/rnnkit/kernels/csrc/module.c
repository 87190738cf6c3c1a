/* rnnkit.kernels._fused: the time loops of RNN, LSTM and GRU, and the fused elementwise part of
 * one time step.
 *
 * The *_seq functions run a whole direction's time loop (sequence.h) without the GIL: per step
 * the recurrent product, through the cblas gemm of NumPy's BLAS (registered once with use_blas
 * by rnnkit/kernels/blas.py), then one step function of steps.h, which does everything
 * elementwise in one pass (with the equations; exp / sigmoid / tanh in vmath.h). Their arrays
 * are whole C-contiguous (F, T, N) sequences, (G*H, H) and (G*H, I) weights and (H, N) states;
 * the forward loops' input x (I, T, N) may be a view with any row stride (or None with W_ih None:
 * the input projections are in place already). Each call is
 * a Loop: its arrays, its scratch and its P participants (threads of pool.h that each run a
 * slice of the hidden units; P from OpenBLAS's thread count, registered by use_blas_threads).
 *
 * The *_step functions are the step functions alone, for the kernels' Python loops (where
 * NumPy's BLAS cannot be called from C, and for Cho's GRU). Their array arguments are 2-d
 * float32 or float64 NumPy arrays (all of one dtype) whose rows are contiguous and may be
 * strided, as the step-t slice ``x[:, t]`` of a (F, T, N) sequence array is: a gate block
 * (G*H, N), a state (H, N), or a product NumPy wrote for the B running columns, (G*H, B). dh_sq
 * is the 1-d row dh_sq[t] (N,). Columns B..N-1 are finished sequences: their states are carried
 * from the previous step, and their gate gradients are set to 0.
 *
 * copy_seq copies a sequence between the user's layout and the kernels' one (layout.h).
 *
 * In float32 on x86-64 with AVX-512 the loops' larger step products run on packed.h's kernel
 * (packed_products sets when), and gate_gradients takes the LSTM's products after its backward
 * loop in one pass (gradients.h).
 *
 * On x86-64 Linux with GCC >= 12 and glibc, each step function is compiled three times (AVX-512,
 * AVX2+FMA, baseline) and the loader picks the best one the CPU supports; elsewhere once, for
 * the compiler's default target. gru_backward_nz leaves the finished columns to gru_backward_r,
 * which runs right after it and zeroes all three gate blocks there.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "vmath.h"

/* target_clones needs GCC >= 12 (for arch=x86-64-vN) and glibc's ifunc support; RK_NO_CLONES
 * turns it off (tests/test_fused_build.py compiles once per target to read the vectoriser) */
#if !defined(RK_NO_CLONES) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && defined(__linux__) && \
    defined(__GLIBC__)
#define RK_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#elif defined(__GNUC__)
/* kept out of line: inlined into the bindings, GCC stops vectorising the LSTM and GRU loops */
#define RK_TARGET_CLONES __attribute__((noinline))
#elif defined(_MSC_VER)
#define RK_TARGET_CLONES __declspec(noinline)
#else
#define RK_TARGET_CLONES
#endif

#if defined(_MSC_VER)
#define restrict __restrict
#endif

#include "packed.h"

/* What the time loops of sequence.h need besides the arrays. */
typedef struct {
    void *gemm;    /* cblas_sgemm or cblas_dgemm of NumPy's BLAS */
    void *gemv;    /* cblas_sgemv or cblas_dgemv, for products with one column (NULL: gemm) */
    int ilp64;     /* its integers are 64-bit */
} Blas;

typedef struct {
    Py_ssize_t H, T, N;
    int reverse;
    const int64_t *batch_sizes; /* (T,) or NULL: every column runs at every step */
    const void *x;              /* forward loops: the input (I, T, N), rows ldx values apart; NULL:
                                   the gates (RNN: hs's output slots) hold W_ih x_t already */
    Py_ssize_t I, ldx;
    Py_ssize_t ys[3];           /* element strides of the array of kind 'Y' (dy at any strides) */
} Seq;

/* running columns at step t: columns n < batch_sizes[t] run */
static Py_ssize_t seq_active(const Seq *s, Py_ssize_t t)
{
    if (!s->batch_sizes) return s->N;
    /* checked when taken, but another thread may write the array while the loop runs */
    Py_ssize_t B = (Py_ssize_t)s->batch_sizes[t];
    return B < 0 ? 0 : B > s->N ? s->N : B;
}

#include "pool.h"

#define MAX_SEQ_ARRAYS 16

/* One call of a *_seq function, shared by its P participants (sequence.h, pool.h) */
typedef struct Loop Loop;
struct Loop {
    Seq s;
    Blas b;
    int P;                   /* participants; participant k runs the hidden units of part_rows() */
    Py_ssize_t hk_max;       /* the most hidden units one has */
    Barrier bar;
    void *p[MAX_SEQ_ARRAYS]; /* the arrays, in the binding's order (NULL for None) */
    Py_ssize_t slots[MAX_SEQ_ARRAYS]; /* their time slots (second axis; SLOT in sequence.h) */
    int relu;
    void *mem;               /* the scratch allocation, of which: */
    char *part;              /* P blocks of part_bytes: each participant's own scratch */
    size_t part_bytes, sq_offset; /* sq_offset: where in its block its dh_sq partial sums are */
    void *shared, *zeros;
    void *Wg, *Wig;          /* W_hh and W_ih with each participant's rows together (group_rows), or NULL */
    int pk_rec, pk_in;       /* float32 step products with packed W_hh, W_ih (packed.h; loop_scratch) */
    int pk_fused;            /* the LSTM's fused step: one product for both, and its gate pass (pk_gates) */
    size_t pk_offset;        /* where in each participant's block its packed weights are */
    size_t pk_panel;         /* and its panel for B (packed.h: pk_product_via; 0: none) */
    int pk_kernel;           /* the packed kernel's lanes (packed.h: pk_lanes at the start; 0: none) */
    int claims;              /* the participants claim chunks of units step by step (claim; the LSTM's
                                packed loops); else each runs its part_rows() */
    Py_ssize_t chunk, chunks; /* with claims: units per chunk (a multiple of PK_MR), and how many */
    Py_ssize_t xchunks;      /* and, claimed after them, chunks of as many rows of dx (the LSTM's backward:
                                lstm_bwd_claimed), or 0 */
    void *claim_words;       /* with claims: per participant, a cache line: its own chunks left this step */
    void *pk_all;            /* with claims: the packed weights of all units, which every participant reads */
    void *sq_chunks;         /* with claims, backward: (chunks - 1, T, N) partial sums of dh_sq, chunk 1 on */
    int pk_grads;            /* the LSTM's and RNN's backward: their chunks' weight gradients on the AVX-512 kernel
                                (sequence.h: chunk_grads_packed), else through the BLAS */
    size_t gr_offset;        /* with pk_grads: where in each participant's block its packed ring rows are, */
    size_t gr_wi_offset;     /* and (the RNN's backward: Need.gr_dx) its packed W_ih.T for dx */
    void *gr_Bt;             /* and the shared transposed [h~; x] of a chunk of steps */
    void (*fn)(Loop *, int); /* the loop, for one participant */
};

/* participant k's share [*lo, *hi) of n things (units, chunks, columns) split over L->P */
static void share(const Loop *L, Py_ssize_t n, int k, Py_ssize_t *lo, Py_ssize_t *hi)
{
    *lo = n * k / L->P;
    *hi = n * (k + 1) / L->P;
}

/* participant k's hidden units [h0, h1) */
static void part_rows(const Loop *L, int k, Py_ssize_t *h0, Py_ssize_t *h1) { share(L, L->s.H, k, h0, h1); }

static void *part_scratch(const Loop *L, int k) { return L->part + (size_t)k * L->part_bytes; }

/* Claimed chunks (Loop.claims). A static split waits, at every step's barrier, for the slowest
 * participant; on a shared machine one core is often slower than the other for a while (measured
 * on the 2-core development machine, LSTM training: 6-18% of each participant's loop time spent
 * waiting there, now one of them, now the other). So the LSTM's packed loops cut the units into
 * chunks; at each step participant k takes the chunks of its own range first, from the front,
 * then what is left of the others' ranges, from the back: a slower participant's last chunks go
 * to whoever is done first. Which participant computes a chunk changes nothing in the result.
 * A participant's range is one word: (step << 40) | (next << 20) | end, taken by compare-and-swap;
 * the step in it keeps a participant still in step i - 1 from taking a chunk of step i. */
static void part_chunks(const Loop *L, int k, Py_ssize_t *c0, Py_ssize_t *c1) { share(L, L->chunks, k, c0, c1); }

/* participant k's chunks of dx's rows [*d0, *d1) (Loop.xchunks). A participant's range of claims
 * is its units' chunks, then these: split apart, as the units' are, each gate pass has its share
 * of the units (one participant with all of dx's rows would have fewer units: the others would
 * wait for its gate pass at every step's barrier: 2-3% of a training step at 64x100x32x128). */
static void part_xchunks(const Loop *L, int k, Py_ssize_t *d0, Py_ssize_t *d1) { share(L, L->xchunks, k, d0, d1); }

/* the chunk at place v of participant o's range: a unit chunk (< chunks) or chunks + a chunk of dx.
 * Without dx's chunks (every forward) that is v itself: no divisions on each claim. */
static Py_ssize_t chunk_at(const Loop *L, int o, Py_ssize_t v)
{
    if (!L->xchunks) return v;
    Py_ssize_t c0, c1, d0, d1;
    part_chunks(L, o, &c0, &c1);
    part_xchunks(L, o, &d0, &d1);
    Py_ssize_t j = v - (c0 + d0);
    return j < c1 - c0 ? c0 + j : L->chunks + d0 + j - (c1 - c0);
}

/* the units [*u0, *u0 + return) of chunk c */
static Py_ssize_t chunk_units(const Loop *L, Py_ssize_t c, Py_ssize_t *u0)
{
    *u0 = c * L->chunk;
    return L->s.H - *u0 < L->chunk ? L->s.H - *u0 : L->chunk;
}

#ifndef RK_NO_POOL
typedef _Atomic uint64_t ClaimWord;
#define CLAIM_LOAD(w) atomic_load_explicit(w, memory_order_acquire)
#define CLAIM_STORE(w, v) atomic_store_explicit(w, v, memory_order_release)
#define CLAIM_SWAP(w, old, new) \
    atomic_compare_exchange_weak_explicit(w, old, new, memory_order_acq_rel, memory_order_acquire)
#else /* no pool: one participant, which takes its chunks in turn */
typedef uint64_t ClaimWord;
#define CLAIM_LOAD(w) (*(w))
#define CLAIM_STORE(w, v) (*(w) = (v))
#define CLAIM_SWAP(w, old, new) (*(w) = (new), 1)
#endif
#define CLAIM_WORD(step, lo, hi) (((uint64_t)(step) & 0xFFFFFFu) << 40 | (uint64_t)(lo) << 20 | (uint64_t)(hi))

static ClaimWord *claim_word(const Loop *L, int k) { return (ClaimWord *)((char *)L->claim_words + (size_t)k * 64); }

/* participant k's own chunks, for step `step` (before the barrier that starts it) */
static void claims_reset(const Loop *L, int k, Py_ssize_t step)
{
    Py_ssize_t c0, c1, d0, d1;
    part_chunks(L, k, &c0, &c1);
    part_xchunks(L, k, &d0, &d1);
    CLAIM_STORE(claim_word(L, k), CLAIM_WORD(step, c0 + d0, c1 + d1));
}

/* the next chunk participant k computes at step `step` (chunk_at), or -1: none left */
static Py_ssize_t claim(const Loop *L, int k, Py_ssize_t step)
{
    for (int d = 0; d < L->P; d++) {
        ClaimWord *w = claim_word(L, (k + d) % L->P);
        uint64_t v = CLAIM_LOAD(w);
        for (;;) {
            Py_ssize_t lo = (Py_ssize_t)(v >> 20 & 0xFFFFFu), hi = (Py_ssize_t)(v & 0xFFFFFu);
            if ((v >> 40) != ((uint64_t)step & 0xFFFFFFu) || lo >= hi) break;
            uint64_t next = d == 0 ? CLAIM_WORD(step, lo + 1, hi) : CLAIM_WORD(step, lo, hi - 1);
            if (CLAIM_SWAP(w, &v, next)) return chunk_at(L, (k + d) % L->P, d == 0 ? lo : hi - 1);
        }
    }
    return -1;
}

/* a participant's packed weights, for its step products (sequence.h: pack_weights, pack_claimed);
 * NULL where its products go through the BLAS. The LSTM's fused step: W is [W_hh | W_ih] for
 * pk_gates, with bias and z. */
typedef struct {
    const void *W, *Wi, *bias;
    void *z;
    void *panel; /* where B goes first when its rows are far apart (packed.h: pk_product_via), or NULL */
} Packed;
static void *part_sq(const Loop *L, int k) { return L->part + (size_t)k * L->part_bytes + L->sq_offset; }

#define REAL float
#define RK(name) name##_f
#define SIGMOID rk_sigmoid_f
#define TANH rk_tanh_f
#define RK_PACKED PK_BUILT
#include "steps.h"
#include "layout.h"
#include "sequence.h"
#undef REAL
#undef RK
#undef SIGMOID
#undef TANH
#undef RK_PACKED

#define REAL double
#define RK(name) name##_d
#define SIGMOID rk_sigmoid_d
#define TANH rk_tanh_d
#define RK_PACKED 0
#include "steps.h"
#include "layout.h"
#include "sequence.h"
#undef REAL
#undef RK
#undef SIGMOID
#undef TANH
#undef RK_PACKED

/* ---- argument handling ----------------------------------------------------------------- */

#define MAX_BUFS 20

typedef struct {
    Py_buffer v[MAX_BUFS];
    int n;
    int size; /* 4 (float32) or 8 (float64), from the first array */
    Py_ssize_t H, N, B;
} Args;

typedef struct {
    char *p;
    Py_ssize_t ld; /* row stride in elements */
} Block;

static void release(Args *g)
{
    for (int i = 0; i < g->n; i++) PyBuffer_Release(&g->v[i]);
    g->n = 0;
}

/* 4 (float32) or 8 (float64) for a buffer of native-order floats, else 0 */
static int float_size(const Py_buffer *v)
{
    const char *f = v->format ? v->format : "B";
    char c = f[strlen(f) - 1];
    if (f[0] != c && f[0] != '<' && f[0] != '=' && f[0] != '@') return 0;
    return (c == 'f' && v->itemsize == 4) ? 4 : (c == 'd' && v->itemsize == 8) ? 8 : 0;
}

/* The item size of the just-taken buffer v, which must hold floats of the dtype of the arrays
 * taken before it (the first one sets it); 0 with a TypeError naming it. */
static int check_dtype(Args *g, const Py_buffer *v, const char *name)
{
    int size = float_size(v);
    if (!size) {
        PyErr_Format(PyExc_TypeError, "_fused: %s must be float32 or float64, got format '%s'", name,
                     v->format ? v->format : "B");
        return 0;
    }
    if (g->size == 0) {
        g->size = size;
    } else if (g->size != size) {
        PyErr_Format(PyExc_TypeError, "_fused: %s has itemsize %d, the other arrays %d", name, size, g->size);
        return 0;
    }
    return size;
}

/* Take `o` as a writable float array of the common dtype with shape (rows, cols) and unit
 * stride along its rows. rows < 0 (the first array): shape (-rows * H, N) sets H and N. */
static int take(Args *g, PyObject *o, const char *name, Py_ssize_t rows, Py_ssize_t cols, Block *out)
{
    Py_buffer *v = &g->v[g->n];
    if (PyObject_GetBuffer(o, v, PyBUF_STRIDES | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "_fused: %s must be a writable float32 or float64 array, got %s%s", name,
                     Py_TYPE(o)->tp_name, PyObject_CheckBuffer(o) ? " (read-only or without strides)" : "");
        return -1;
    }
    g->n++;
    int size = check_dtype(g, v, name);
    if (!size) return -1;
    if (rows == 0) { /* a 1-d row of N values */
        if (v->ndim != 1 || v->shape[0] != g->N || (v->strides && v->strides[0] != size)) {
            PyErr_Format(PyExc_ValueError, "_fused: %s must be a contiguous 1-d array of %zd values, got %d-d "
                         "with %zd values", name, g->N, v->ndim, v->ndim >= 1 ? v->shape[0] : 1);
            return -1;
        }
        out->p = (char *)v->buf;
        out->ld = 0;
        return 0;
    }
    if (v->ndim != 2) {
        PyErr_Format(PyExc_ValueError, "_fused: %s must be 2-d with contiguous rows, got %d-d", name, v->ndim);
        return -1;
    }
    /* the stride of an axis of length 1 is never used: give it its contiguous value */
    Py_ssize_t s1 = v->shape[1] <= 1 ? size : v->strides[1];
    Py_ssize_t s0 = v->shape[0] <= 1 ? v->shape[1] * size : v->strides[0];
    if (s1 != size || s0 % size != 0 || s0 < v->shape[1] * size) {
        PyErr_Format(PyExc_ValueError, "_fused: %s must be 2-d with contiguous rows, got byte strides (%zd, %zd) "
                     "for shape (%zd, %zd)", name, v->strides[0], v->strides[1], v->shape[0], v->shape[1]);
        return -1;
    }
    if (rows < 0) {
        if (v->shape[0] % (-rows) != 0) {
            PyErr_Format(PyExc_ValueError, "_fused: %s has %zd rows, expected a multiple of %zd", name, v->shape[0], -rows);
            return -1;
        }
        g->H = (Py_ssize_t)(v->shape[0] / (-rows));
        g->N = (Py_ssize_t)v->shape[1];
        if (g->B < 0 || g->B > g->N) {
            PyErr_Format(PyExc_ValueError, "_fused: B = %zd, expected 0 <= B <= N = %zd", g->B, g->N);
            return -1;
        }
    } else if (v->shape[0] != rows || v->shape[1] != cols) {
        PyErr_Format(PyExc_ValueError, "_fused: %s has shape (%zd, %zd), expected (%zd, %zd)", name,
                     v->shape[0], v->shape[1], rows, cols);
        return -1;
    }
    out->p = (char *)v->buf;
    out->ld = s0 / size;
    return 0;
}

/* The trailing integer arguments: B (checked against N when the first array is taken), and `relu`
 * (0 or 1) where the function has it. Integers beyond Py_ssize_t are clipped to it, so that they
 * fail those range checks with a ValueError (not an OverflowError); a relu flag of 2**32 once
 * passed as 0 (tanh) through the cast to int. */
static int parse(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t expect, const char *fn, Args *g, Py_ssize_t *flag)
{
    if (nargs != expect) {
        PyErr_Format(PyExc_TypeError, "_fused.%s takes %zd arguments, got %zd", fn, expect, nargs);
        return -1;
    }
    Py_ssize_t nb = flag ? expect - 2 : expect - 1;
    g->B = PyNumber_AsSsize_t(args[nb], NULL);
    if (g->B == -1 && PyErr_Occurred()) return -1;
    if (flag) {
        *flag = PyNumber_AsSsize_t(args[nb + 1], NULL);
        if (*flag == -1 && PyErr_Occurred()) return -1;
        if (*flag != 0 && *flag != 1) {
            PyErr_Format(PyExc_ValueError, "_fused.%s: relu = %R, expected 0 (tanh) or 1 (relu)", fn, args[nb + 1]);
            return -1;
        }
    }
    return 0;
}

/* ---- finished columns ------------------------------------------------------------------ */

static void carry(Block dst, Block src, Py_ssize_t rows, Py_ssize_t B, Py_ssize_t N, int size)
{
    for (Py_ssize_t j = 0; j < rows; j++)
        memcpy(dst.p + (j * dst.ld + B) * size, src.p + (j * src.ld + B) * size, (size_t)(N - B) * size);
}

static void zero_tail(Block a, Py_ssize_t rows, Py_ssize_t B, Py_ssize_t N, int size)
{
    for (Py_ssize_t j = 0; j < rows; j++) memset(a.p + (j * a.ld + B) * size, 0, (size_t)(N - B) * size);
}

#define CALL(fn, ...)                                         \
    do {                                                      \
        Py_BEGIN_ALLOW_THREADS                                \
        if (g.size == 4) fn##_f(__VA_ARGS__);                 \
        else fn##_d(__VA_ARGS__);                             \
        Py_END_ALLOW_THREADS                                  \
    } while (0)

#define P(b) ((void *)(b).p), (b).ld
#define FAIL do { release(&g); return NULL; } while (0)
#define DONE do { release(&g); Py_RETURN_NONE; } while (0)

/* lstm_forward_step(a, gh, c_prev, h_prev, c, tc, h, B) */
static PyObject *lstm_forward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Block a, gh, cp, hp, c, tc, h;
    if (parse(args, nargs, 8, "lstm_forward_step", &g, NULL) < 0) return NULL;
    if (take(&g, args[0], "a", -4, 0, &a) || take(&g, args[1], "gh", 4 * g.H, g.B, &gh) ||
        take(&g, args[2], "c_prev", g.H, g.N, &cp) || take(&g, args[3], "h_prev", g.H, g.N, &hp) ||
        take(&g, args[4], "c", g.H, g.N, &c) || take(&g, args[5], "tc", g.H, g.N, &tc) ||
        take(&g, args[6], "h", g.H, g.N, &h))
        FAIL;
    CALL(lstm_fwd, P(a), g.H * a.ld, P(gh), g.H * gh.ld, P(cp), P(c), P(tc), P(h), g.H, g.B);
    if (g.B < g.N) {
        carry(c, cp, g.H, g.B, g.N, g.size);
        carry(h, hp, g.H, g.B, g.N, g.size);
    }
    DONE;
}

/* lstm_backward_step(a, dh, dy, dc, c_prev, tc, dh_sq, B) */
static PyObject *lstm_backward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Block a, dh, dy, dc, cp, tc, sq;
    if (parse(args, nargs, 8, "lstm_backward_step", &g, NULL) < 0) return NULL;
    if (take(&g, args[0], "a", -4, 0, &a) || take(&g, args[1], "dh", g.H, g.N, &dh) ||
        take(&g, args[2], "dy", g.H, g.N, &dy) || take(&g, args[3], "dc", g.H, g.N, &dc) ||
        take(&g, args[4], "c_prev", g.H, g.N, &cp) || take(&g, args[5], "tc", g.H, g.N, &tc) ||
        take(&g, args[6], "dh_sq", 0, 0, &sq))
        FAIL;
    CALL(lstm_bwd, P(a), g.H * a.ld, P(dh), P(dy), P(dc), P(cp), P(tc), NULL, 0, 0, (void *)sq.p, g.H, g.B);
    if (g.B < g.N) zero_tail(a, 4 * g.H, g.B, g.N, g.size);
    DONE;
}

/* rnn_forward_step(a, gh, h_prev, B, relu): a = phi(a + gh) in place (a is h_t's slot) */
static PyObject *rnn_forward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Py_ssize_t relu;
    Block a, gh, hp;
    if (parse(args, nargs, 5, "rnn_forward_step", &g, &relu) < 0) return NULL;
    if (take(&g, args[0], "a", -1, 0, &a) || take(&g, args[1], "gh", g.H, g.B, &gh) ||
        take(&g, args[2], "h_prev", g.H, g.N, &hp))
        FAIL;
    CALL(rnn_fwd, P(a), P(gh), g.H, g.B, (int)relu);
    if (g.B < g.N) carry(a, hp, g.H, g.B, g.N, g.size);
    DONE;
}

/* rnn_backward_step(da, dh, dy, h, dh_sq, B, relu) */
static PyObject *rnn_backward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Py_ssize_t relu;
    Block da, dh, dy, h, sq;
    if (parse(args, nargs, 7, "rnn_backward_step", &g, &relu) < 0) return NULL;
    if (take(&g, args[0], "da", -1, 0, &da) || take(&g, args[1], "dh", g.H, g.N, &dh) ||
        take(&g, args[2], "dy", g.H, g.N, &dy) || take(&g, args[3], "h", g.H, g.N, &h) ||
        take(&g, args[4], "dh_sq", 0, 0, &sq))
        FAIL;
    CALL(rnn_bwd, P(da), P(dh), P(dy), P(h), (void *)sq.p, g.H, g.B, (int)relu);
    if (g.B < g.N) zero_tail(da, g.H, g.B, g.N, g.size);
    DONE;
}

/* gru_forward_step(a, gh, b_hn, h_prev, side, h, B)   (reset_after=True; b_hn is (H, 1)) */
static PyObject *gru_forward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Block a, gh, bhn, hp, side, h;
    if (parse(args, nargs, 7, "gru_forward_step", &g, NULL) < 0) return NULL;
    if (take(&g, args[0], "a", -3, 0, &a) || take(&g, args[1], "gh", 3 * g.H, g.B, &gh) ||
        take(&g, args[2], "b_hn", g.H, 1, &bhn) || take(&g, args[3], "h_prev", g.H, g.N, &hp) ||
        take(&g, args[4], "side", g.H, g.N, &side) || take(&g, args[5], "h", g.H, g.N, &h))
        FAIL;
    if (bhn.ld != 1) {
        PyErr_SetString(PyExc_ValueError, "_fused: b_hn must be contiguous");
        FAIL;
    }
    CALL(gru_fwd, P(a), g.H * a.ld, P(gh), g.H * gh.ld, (void *)bhn.p, P(hp), P(side), P(h), g.H, g.B);
    if (g.B < g.N) {
        carry(h, hp, g.H, g.B, g.N, g.size);
        zero_tail(side, g.H, g.B, g.N, g.size);
    }
    DONE;
}

/* gru_backward_step(a, dh, dy, h_prev, side, dah, dh_sq, B)   (reset_after=True) */
static PyObject *gru_backward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Block a, dh, dy, hp, side, dah, sq;
    if (parse(args, nargs, 8, "gru_backward_step", &g, NULL) < 0) return NULL;
    if (take(&g, args[0], "a", -3, 0, &a) || take(&g, args[1], "dh", g.H, g.N, &dh) ||
        take(&g, args[2], "dy", g.H, g.N, &dy) || take(&g, args[3], "h_prev", g.H, g.N, &hp) ||
        take(&g, args[4], "side", g.H, g.N, &side) || take(&g, args[5], "dah", 3 * g.H, g.B, &dah) ||
        take(&g, args[6], "dh_sq", 0, 0, &sq))
        FAIL;
    CALL(gru_bwd, P(a), g.H * a.ld, P(dh), P(dy), P(hp), P(side), P(dah), g.H * dah.ld, (void *)sq.p, g.H, g.B);
    if (g.B < g.N) {
        zero_tail(a, 3 * g.H, g.B, g.N, g.size);
        zero_tail(side, g.H, g.B, g.N, g.size);
    }
    DONE;
}

/* gru_forward_rz(a, gh, hm, side, B)   (reset_after=False, first half) */
static PyObject *gru_forward_rz(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Block a, gh, hm, side;
    if (parse(args, nargs, 5, "gru_forward_rz", &g, NULL) < 0) return NULL;
    if (take(&g, args[0], "a", -3, 0, &a) || take(&g, args[1], "gh", 2 * g.H, g.B, &gh) ||
        take(&g, args[2], "hm", g.H, g.N, &hm) || take(&g, args[3], "side", g.H, g.N, &side))
        FAIL;
    CALL(gru_fwd_rz, P(a), P(gh), P(hm), P(side), g.H, g.B);
    if (g.B < g.N) zero_tail(side, g.H, g.B, g.N, g.size);
    DONE;
}

/* gru_forward_n(a, gh, h_prev, h, B)   (reset_after=False, second half) */
static PyObject *gru_forward_n(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Block a, gh, hp, h;
    if (parse(args, nargs, 5, "gru_forward_n", &g, NULL) < 0) return NULL;
    if (take(&g, args[0], "a", -3, 0, &a) || take(&g, args[1], "gh", g.H, g.B, &gh) ||
        take(&g, args[2], "h_prev", g.H, g.N, &hp) || take(&g, args[3], "h", g.H, g.N, &h))
        FAIL;
    CALL(gru_fwd_n, P(a), P(gh), P(hp), P(h), g.H, g.B);
    if (g.B < g.N) carry(h, hp, g.H, g.B, g.N, g.size);
    DONE;
}

/* gru_backward_nz(a, dh, dy, h_prev, dh_sq, B)   (reset_after=False, first half) */
static PyObject *gru_backward_nz(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Block a, dh, dy, hp, sq;
    if (parse(args, nargs, 6, "gru_backward_nz", &g, NULL) < 0) return NULL;
    if (take(&g, args[0], "a", -3, 0, &a) || take(&g, args[1], "dh", g.H, g.N, &dh) ||
        take(&g, args[2], "dy", g.H, g.N, &dy) || take(&g, args[3], "h_prev", g.H, g.N, &hp) ||
        take(&g, args[4], "dh_sq", 0, 0, &sq))
        FAIL;
    CALL(gru_bwd_nz, P(a), P(dh), P(dy), P(hp), (void *)sq.p, g.H, g.B);
    DONE;
}

/* gru_backward_r(a, drh, hm, B)   (reset_after=False, second half) */
static PyObject *gru_backward_r(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Block a, drh, hm;
    if (parse(args, nargs, 4, "gru_backward_r", &g, NULL) < 0) return NULL;
    if (take(&g, args[0], "a", -3, 0, &a) || take(&g, args[1], "drh", g.H, g.B, &drh) ||
        take(&g, args[2], "hm", g.H, g.N, &hm))
        FAIL;
    CALL(gru_bwd_r, P(a), P(drh), P(hm), g.H, g.B);
    if (g.B < g.N) zero_tail(a, 3 * g.H, g.B, g.N, g.size);
    DONE;
}

/* ---- whole sequences (sequence.h) ------------------------------------------------------ */

/* "(2, 3, 4)" */
static void shape_text(char *buf, size_t size, int ndim, const Py_ssize_t *shape)
{
    size_t k = (size_t)PyOS_snprintf(buf, size, "(");
    for (int i = 0; i < ndim && k < size; i++)
        k += (size_t)PyOS_snprintf(buf + k, size - k, i ? ", %zd" : "%zd", shape[i]);
    if (k < size) PyOS_snprintf(buf + k, size - k, ndim == 1 ? ",)" : ")");
}

/* Take `o` as a C-contiguous float array of the common dtype (writable if asked) with exactly
 * the given shape (ndim values), or the 3-d shape `alt` where it is not NULL (a forward's cache
 * with fewer time slots, sequence.h). */
static int take_whole(Args *g, PyObject *o, const char *name, int ndim, const Py_ssize_t *shape, char **out,
                      int writable, const Py_ssize_t *alt)
{
    Py_buffer *v = &g->v[g->n];
    if (PyObject_GetBuffer(o, v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0) {
        PyErr_Clear();
        const char *why = "";
        if (PyObject_CheckBuffer(o)) { /* which one failed: C-contiguity or writability */
            int contiguous = PyObject_GetBuffer(o, v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) == 0;
            if (contiguous) PyBuffer_Release(v);
            else PyErr_Clear();
            why = contiguous ? " (read-only)" : " (not C-contiguous)";
        }
        PyErr_Format(PyExc_TypeError, "_fused: %s must be a %sC-contiguous float32 or float64 array, got %s%s", name,
                     writable ? "writable " : "", Py_TYPE(o)->tp_name, why);
        return -1;
    }
    g->n++;
    int size = check_dtype(g, v, name);
    if (!size) return -1;
    int ok = v->ndim == ndim, ok_alt = alt && v->ndim == 3;
    for (int i = 0; ok && i < ndim; i++) ok = v->shape[i] == shape[i];
    for (int i = 0; ok_alt && i < 3; i++) ok_alt = v->shape[i] == alt[i];
    if (!ok && !ok_alt) {
        char want[96], got[96], or_alt[100] = "";
        shape_text(want, sizeof want, ndim, shape);
        shape_text(got, sizeof got, v->ndim, v->shape);
        if (alt) {
            memcpy(or_alt, " or ", 5);
            shape_text(or_alt + 4, sizeof or_alt - 4, 3, alt);
        }
        PyErr_Format(PyExc_ValueError, "_fused: %s must have shape %s%s, got %s", name, want, or_alt, got);
        return -1;
    }
    *out = (char *)v->buf;
    return 0;
}

static int take_lengths(Args *g, PyObject *o, Py_ssize_t T, Py_ssize_t N, const int64_t **out)
{
    *out = NULL;
    if (o == Py_None) return 0;
    Py_buffer *v = &g->v[g->n];
    if (PyObject_GetBuffer(o, v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "_fused: batch_sizes must be None or a contiguous int64 array, got %s%s",
                     Py_TYPE(o)->tp_name, PyObject_CheckBuffer(o) ? " (not contiguous)" : "");
        return -1;
    }
    g->n++;
    const char *f = v->format ? v->format : "B";
    char c = f[strlen(f) - 1];
    if (v->itemsize != 8 || (c != 'q' && c != 'l') || (f[0] != c && f[0] != '<' && f[0] != '=' && f[0] != '@') ||
        v->ndim != 1 || v->shape[0] != T) {
        PyErr_Format(PyExc_ValueError, "_fused: batch_sizes must be a 1-d native int64 array of T = %zd values, "
                     "got format '%s', %d-d with %zd values", T, f, v->ndim, v->ndim >= 1 ? v->shape[0] : 1);
        return -1;
    }
    const int64_t *bs = (const int64_t *)v->buf;
    for (Py_ssize_t t = 0; t < T; t++)
        if (bs[t] < 0 || bs[t] > N) {
            PyErr_Format(PyExc_ValueError, "_fused: batch_sizes[%zd] = %lld, expected 0 <= it <= N = %zd", t,
                         (long long)bs[t], N);
            return -1;
        }
    *out = bs;
    return 0;
}

/* NumPy's BLAS, registered once by rnnkit/kernels/blas.py through use_blas() and use_blas_gemv() */
static void *blas_sgemm, *blas_dgemm, *blas_sgemv, *blas_dgemv;
static int blas_ilp64;

/* OpenBLAS's thread count, for the loops' participants and their single-threaded products
 * (registered by use_blas_threads; NULL: the loops run on the calling thread alone) */
static int (*blas_get_threads)(void);
static void (*blas_set_threads)(int);
static int forced_parts;      /* loop_threads(n): n participants whatever the sizes; 0: chosen */

/* packed_products(mode): the float32 loops' step products with packed weights (packed.h) never
 * (0), where they pay (1: from PK_MIN_N columns, whatever the weight), or for every product (2, for
 * the tests); -1: not set
 * yet, then 1 where the CPU can, 0 with the environment variable RNNKIT_NO_PACKED set to anything
 * but "" or "0" */
static int pk_mode = -1;

static int packed_mode(void)
{
    if (pk_mode < 0) {
        const char *no = getenv("RNNKIT_NO_PACKED");
        pk_mode = pk_supported() && !(no && *no && strcmp(no, "0") != 0) ? 1 : 0;
    }
    return pk_mode;
}

/* use_blas(sgemm, dgemm, ilp64): the addresses of cblas_sgemm and cblas_dgemm (with 64-bit
 * integers if ilp64) in the BLAS NumPy loaded */
static PyObject *use_blas(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* an integer argument in lo..hi, named in the error */
static int int_arg(PyObject *o, const char *fn, const char *name, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t *out)
{
    *out = PyNumber_AsSsize_t(o, PyExc_OverflowError);
    if (*out == -1 && PyErr_Occurred()) {
        int overflow = PyErr_ExceptionMatches(PyExc_OverflowError);
        PyErr_Clear();
        if (overflow)
            PyErr_Format(PyExc_ValueError, "_fused.%s: %s = %R, expected %zd <= %s <= %zd", fn, name, o, lo, name, hi);
        else
            PyErr_Format(PyExc_TypeError, "_fused.%s: %s must be an integer, got %s", fn, name, Py_TYPE(o)->tp_name);
        return -1;
    }
    if (*out < lo || *out > hi) {
        PyErr_Format(PyExc_ValueError, "_fused.%s: %s = %zd, expected %zd <= %s <= %zd", fn, name, *out, lo, name, hi);
        return -1;
    }
    return 0;
}

/* the BLAS for arrays of `size` bytes per value; with 32-bit BLAS integers, every size and row
 * stride the loops pass must fit */
static int seq_blas(const Seq *s, int size, Py_ssize_t G, Blas *b)
{
    b->gemm = size == 4 ? blas_sgemm : blas_dgemm;
    b->gemv = size == 4 ? blas_sgemv : blas_dgemv;
    b->ilp64 = blas_ilp64;
    if (!b->gemm) {
        PyErr_SetString(PyExc_RuntimeError,
                        "_fused: no BLAS registered (rnnkit.kernels.blas.find() registers NumPy's)");
        return -1;
    }
    if (!blas_ilp64 && ((s->T + 1) * s->N > INT32_MAX || G * s->H > INT32_MAX || s->ldx > INT32_MAX)) {
        PyErr_Format(PyExc_ValueError, "_fused: (T + 1) * N = %zd, G * H = %zd, x's row stride %zd: too large for "
                     "NumPy's BLAS, whose integers are 32-bit (at most 2147483647)", (s->T + 1) * s->N, G * s->H,
                     s->ldx);
        return -1;
    }
    return 0;
}



/* H, T, N from the first array, (G*H, T + extra, N) */
static int seq_dims(PyObject *o, const char *name, Py_ssize_t G, Py_ssize_t extra, int tm, Seq *s)
{
    Py_buffer v;
    if (PyObject_GetBuffer(o, &v, PyBUF_STRIDES) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "_fused: %s must be a float32 or float64 array, got %s", name,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    int r = tm ? 1 : 0; /* the axis of its rows; time is the other of the first two */
    int ok = v.ndim == 3 && v.shape[r] >= G && v.shape[r] % G == 0 && v.shape[1 - r] >= extra;
    if (ok) {
        s->H = v.shape[r] / G;
        s->T = v.shape[1 - r] - extra;
        s->N = v.shape[2];
    } else {
        char got[96];
        shape_text(got, sizeof got, v.ndim, v.shape);
        PyErr_Format(PyExc_ValueError,
                     "_fused: %s must be 3-d with a positive multiple of %zd rows (axis %d) and at least %zd time "
                     "slots (axis %d), got shape %s", name, G, r, extra, 1 - r, got);
    }
    PyBuffer_Release(&v);
    return ok ? 0 : -1;
}

/* an optional whole array: None gives NULL */
static int take_opt(Args *g, PyObject *o, const char *name, int ndim, const Py_ssize_t *shape, char **out, int writable)
{
    *out = NULL;
    return o == Py_None ? 0 : take_whole(g, o, name, ndim, shape, out, writable, NULL);
}

/* Take `o`'s buffer at any strides, read only, as *v: its item size if it holds floats of the
 * common dtype, else 0 with a TypeError naming it (take_steps, take_strided check the rest) */
static int take_view(Args *g, PyObject *o, const char *name, Py_buffer **v)
{
    *v = &g->v[g->n];
    if (PyObject_GetBuffer(o, *v, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "_fused: %s must be a float32 or float64 array, got %s", name,
                     Py_TYPE(o)->tp_name);
        return 0;
    }
    g->n++;
    return check_dtype(g, *v, name);
}

/* Take x, a (I, T, N) float array of the common dtype whose rows are C-contiguous (T, N) blocks at
 * any row stride (a C-contiguous array, or a view such as hs[:, 1:] of an (I, T + 1, N) one); sets
 * s->x, s->I, s->ldx. */
static int take_steps(Args *g, PyObject *o, const char *name, Seq *s)
{
    if (o == Py_None) return 0; /* s->x stays NULL */
    Py_buffer *v;
    int size = take_view(g, o, name, &v);
    if (!size) return -1;
    if (v->ndim != 3 || v->shape[0] < 1 || v->shape[1] != s->T || v->shape[2] != s->N) {
        char got[96];
        shape_text(got, sizeof got, v->ndim, v->shape);
        PyErr_Format(PyExc_ValueError, "_fused: %s must have shape (I, %zd, %zd) with I >= 1, got %s", name, s->T,
                     s->N, got);
        return -1;
    }
    /* the stride of an axis of length 1 is never used: give it its contiguous value */
    Py_ssize_t s2 = v->shape[2] <= 1 ? size : v->strides[2];
    Py_ssize_t s1 = v->shape[1] <= 1 ? v->shape[2] * size : v->strides[1];
    Py_ssize_t s0 = v->shape[0] <= 1 ? v->shape[1] * v->shape[2] * size : v->strides[0];
    if (s2 != size || s1 != v->shape[2] * size || s0 % size != 0 || s0 < v->shape[1] * v->shape[2] * size) {
        PyErr_Format(PyExc_TypeError, "_fused: %s must have C-contiguous (T, N) rows (any row stride), got byte "
                     "strides (%zd, %zd, %zd)", name, v->strides[0], v->strides[1], v->strides[2]);
        return -1;
    }
    s->x = v->buf;
    s->I = v->shape[0];
    s->ldx = s0 / size;
    return 0;
}

/* Take dy, an (H, T, N) float array of the common dtype at any strides (a view of the user's
 * (N, T, H) or (T, N, H) array), read only; sets *out and s->ys (element strides). None: NULL. */
static int take_strided(Args *g, PyObject *o, const char *name, Seq *s, char **out)
{
    *out = NULL;
    if (o == Py_None) return 0;
    Py_buffer *v;
    int size = take_view(g, o, name, &v);
    if (!size) return -1;
    if (v->ndim != 3 || v->shape[0] != s->H || v->shape[1] != s->T || v->shape[2] != s->N) {
        char got[96];
        shape_text(got, sizeof got, v->ndim, v->shape);
        PyErr_Format(PyExc_ValueError, "_fused: %s must have shape (%zd, %zd, %zd), got %s", name, s->H, s->T, s->N,
                     got);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        if (v->strides[i] % size != 0) {
            PyErr_Format(PyExc_ValueError, "_fused: %s has byte strides (%zd, %zd, %zd), not whole items of %d bytes",
                         name, v->strides[0], v->strides[1], v->strides[2], size);
            return -1;
        }
        s->ys[i] = v->strides[i] / size;
    }
    *out = (char *)v->buf;
    return 0;
}

/* ---- participants ---------------------------------------------------------------------- */


/* a step's product G*H x H x N below this: one participant (a barrier per step costs more than
 * the split saves) */
#define PARTS_MIN_WORK 20000.0
#define PARTS_MIN_ROWS 8      /* hidden units per participant, at least */
#ifndef CLAIM_CHUNKS
#define CLAIM_CHUNKS 8        /* chunks per participant, about (Loop.claims) */
#endif

static int blas_threads(void);

/* P participants, or as many as the pool has workers for (one at least) */
static int reserve_parts(Py_ssize_t P)
{
    if (P <= 1) return 1;
    int have = pool_reserve((int)(P < POOL_MAX + 1 ? P : POOL_MAX + 1) - 1);
    return have + 1 < P ? have + 1 : (int)P;
}

/* the participants of a loop whose step product is (G*H x H) @ (H x N): loop_threads(n) if
 * set, else OpenBLAS's thread count, one below PARTS_MIN_WORK, PARTS_MIN_ROWS units each;
 * never more than H. One where OpenBLAS's thread controls are not registered. */
static int loop_parts(Py_ssize_t G, Py_ssize_t H, Py_ssize_t N)
{
    if (!blas_get_threads || !blas_set_threads) return 1;
    Py_ssize_t P = forced_parts;
    if (!P) {
        P = blas_threads();
        if ((double)G * H * H * N < PARTS_MIN_WORK) P = 1;
        if (P > H / PARTS_MIN_ROWS) P = H / PARTS_MIN_ROWS;
    }
    return reserve_parts(P < H ? P : H);
}

#ifndef RK_NO_POOL
/* While a loop with several participants runs, OpenBLAS runs single-threaded (each participant
 * calls it): a process-wide setting. The first loop in saves the thread count, the last one out
 * puts it back, unless someone set another count meanwhile (theirs stays); meanwhile other
 * threads' loops read the saved count (blas_threads). A child forked during a loop inherits the
 * count 1: it is put back at the child's first loop (fork_restore). */
static pthread_mutex_t single_lock = PTHREAD_MUTEX_INITIALIZER;
static int single_depth, single_saved, fork_restore, single_fork_handler;

/* fork(): not while a thread is between get and set (OpenBLAS's set_num_threads may restart
 * its own threads under its own lock, which the child would inherit held) */
static void single_before_fork(void) { pthread_mutex_lock(&single_lock); }
static void single_after_fork_parent(void) { pthread_mutex_unlock(&single_lock); }

static void single_after_fork(void)
{
    pthread_mutex_init(&single_lock, NULL);
    if (single_depth > 0) fork_restore = single_saved;
    single_depth = 0;
}

/* under single_lock */
static void apply_fork_restore(void)
{
    if (fork_restore && blas_get_threads() == 1) blas_set_threads(fork_restore);
    fork_restore = 0;
}

static void blas_single(int enter)
{
    pthread_mutex_lock(&single_lock);
    apply_fork_restore();
    if (enter && single_depth++ == 0) {
        single_saved = blas_get_threads();
        blas_set_threads(1);
    } else if (!enter && --single_depth == 0 && blas_get_threads() == 1) {
        blas_set_threads(single_saved);
    }
    pthread_mutex_unlock(&single_lock);
}

/* OpenBLAS's thread count as the user set it (not the 1 of a running loop) */
static int blas_threads(void)
{
    pthread_mutex_lock(&single_lock);
    apply_fork_restore();
    int n = single_depth ? single_saved : blas_get_threads();
    pthread_mutex_unlock(&single_lock);
    return n;
}
#else
static void blas_single(int enter) { (void)enter; }
static int blas_threads(void) { return 1; }
#endif

static void loop_part(void *ctx, int k)
{
    Loop *L = (Loop *)ctx;
    L->fn(L, k);
}

/* run L->fn for each participant (without the GIL) */
static void run_loop(Loop *L)
{
    if (L->P == 1) {
        L->fn(L, 0);
        return;
    }
    blas_single(1);
    pool_run_all(L->P, loop_part, L); /* the P participants its scratch was laid out for */
    blas_single(0);
}

#define LOOP_ARGS "reverse"

/* One array argument of a *_seq function: its name; its shape, by kind: 'G' (G*H, T, N) gates,
 * 'S' (H, T+1, N) states, 'C' (H, T, N), 'Y' (H, T, N) at any strides (take_strided, read only),
 * 'X' (I, T, N) input (take_steps: any row stride, sets I), 'D' (I, T, N) (after 'X'), 'W' (G*H, H),
 * 'I' (G*H, I) (after 'X'; None exactly when x is), 'R' (H, N), 'Q' (T, N),
 * 'g' (G*H,), 'b' (H,); whether the loop writes it; whether None may stand for it; how many time
 * slots it may have instead of T (or T + 1) in its time axis (0: no other number): a forward's
 * cache that an inference-only call keeps for one step (or two state slots) only (sequence.h);
 * whether it is time-major, its time axis first: (T, G*H, N) for 'G', (T + 1, H, N) for 'S',
 * (T, H, N) for 'C' (the LSTM's caches A, cs, tcs and its backward's dy: sequence.h, TM_SLOT). */
typedef struct {
    const char *name;
    char kind, written, optional, fewer, tm;
} ArgSpec;

/* A *_seq function: fn(arrays..., batch_sizes[, relu], reverse). Its first array, (G*H, T, N)
 * (kind 'G'; (T, G*H, N) time-major) or (H, T + 1, N) (kind 'S'), gives H, T and N. */
typedef struct {
    const char *fn;
    Py_ssize_t G;
    const ArgSpec *arrays;
    int n_arrays, has_relu;
} SeqSpec;

/* Check and take every argument of a call of f: the arrays into p[] (NULL for None) and the
 * length of their second axis into slots[] (3-d arrays of kind G, S, C, D), then batch_sizes,
 * relu (where f has it) and reverse into s; and the BLAS for the dtype. */
static int seq_args(const SeqSpec *f, PyObject *const *args, Py_ssize_t nargs, Args *g, Seq *s, Blas *b, void **p,
                    Py_ssize_t *slots, Py_ssize_t *relu)
{
    Py_ssize_t expect = f->n_arrays + 2 + f->has_relu, reverse;
    if (nargs != expect) {
        PyErr_Format(PyExc_TypeError, "_fused.%s takes %zd arguments, got %zd", f->fn, expect, nargs);
        return -1;
    }
    int states = f->arrays[0].kind == 'S';
    if (seq_dims(args[0], f->arrays[0].name, states ? 1 : f->G, states, f->arrays[0].tm, s) ||
        int_arg(args[expect - 1], f->fn, "reverse", 0, 1, &reverse) ||
        (f->has_relu && int_arg(args[f->n_arrays + 1], f->fn, "relu", 0, 1, relu)))
        return -1;
    s->reverse = (int)reverse;
    for (int i = 0; i < f->n_arrays; i++) {
        const ArgSpec *a = &f->arrays[i];
        Py_ssize_t GH = f->G * s->H, H = s->H, T = s->T, N = s->N, shape[3] = {0};
        int ndim = 3;
        switch (a->kind) {
        case 'G': shape[0] = GH; shape[1] = T; shape[2] = N; break;
        case 'S': shape[0] = H; shape[1] = T + 1; shape[2] = N; break;
        case 'C': shape[0] = H; shape[1] = T; shape[2] = N; break;
        case 'W': ndim = 2; shape[0] = GH; shape[1] = H; break;
        case 'I': ndim = 2; shape[0] = GH; shape[1] = s->I; break;
        case 'D': shape[0] = s->I; shape[1] = T; shape[2] = N; break;
        case 'R': ndim = 2; shape[0] = H; shape[1] = N; break;
        case 'Q': ndim = 2; shape[0] = T; shape[1] = N; break;
        case 'g': ndim = 1; shape[0] = GH; break;
        default: ndim = 1; shape[0] = H; break; /* 'b' */
        }
        int tax = a->tm ? 0 : 1; /* the time axis */
        if (a->tm) {
            Py_ssize_t rows = shape[0];
            shape[0] = shape[1];
            shape[1] = rows;
        }
        Py_ssize_t alt[3] = {shape[0], shape[1], shape[2]}; /* with fewer time slots */
        alt[tax] = a->fewer;
        char *ptr = NULL;
        if (a->kind == 'X') {
            if (take_steps(g, args[i], a->name, s)) return -1;
            p[i] = (void *)s->x;
            continue;
        }
        if (a->kind == 'Y') {
            if (take_strided(g, args[i], a->name, s, &ptr)) return -1;
            p[i] = ptr;
            continue;
        }
        if (a->kind == 'I' && !a->written && (args[i] == Py_None) != (s->I == 0)) {
            PyErr_Format(PyExc_TypeError, "_fused.%s: x and W_ih must both be arrays, or both None (the input "
                         "projections already in place), got x %s and W_ih %s", f->fn, s->I ? "an array" : "None",
                         args[i] == Py_None ? "None" : "an array");
            return -1;
        }
        if (a->optional ? take_opt(g, args[i], a->name, ndim, shape, &ptr, a->written)
                        : take_whole(g, args[i], a->name, ndim, shape, &ptr, a->written, a->fewer ? alt : NULL))
            return -1;
        p[i] = ptr;
        slots[i] = ptr && ndim == 3 ? g->v[g->n - 1].shape[tax] : 0;
    }
    for (int i = 0; i < f->n_arrays; i++)
        if (f->arrays[i].kind == 'G' && p[i] && slots[i] < s->T && !s->x) {
            PyErr_Format(PyExc_ValueError, "_fused.%s: %s with %zd time slot needs x: without x it holds the "
                         "input projections of all %zd steps", f->fn, f->arrays[i].name, slots[i], s->T);
            return -1;
        }
    if (take_lengths(g, args[f->n_arrays], s->T, s->N, &s->batch_sizes)) return -1;
    return seq_blas(s, g->size, f->G, b);
}

/* What a loop needs beside its arrays (loop_scratch) */
typedef struct {
    Py_ssize_t unit_rows; /* rows of N values per hidden unit in each participant's block (its gh: G) */
    int hm;               /* + hm (H, N) blocks for its masked state h~ (with rec_mask) */
    Py_ssize_t shared;    /* values that all participants share */
    Py_ssize_t zero_rows; /* rows of N zeros standing in for dy = None */
    int group;            /* forward loops: their rows of W_hh and W_ih are their products' (grouped copies,
                             or packed with W_ih too); backward loops: their columns of W_hh, transposed */
    int fuse;             /* the LSTM's forward: packed, it fuses its step (Loop.pk_fused) where it has x */
    int compact;          /* its step products read compact blocks only (the LSTM's and GRU's backward
                             loops: dah): no panel for B */
    int claims;           /* packed, its participants claim chunks of units (Loop.claims): 1 the LSTM's
                             forward (its fused step: the only way it runs), 2 the LSTM's backward */
    Py_ssize_t dx_rows;   /* the LSTM's backward: the rows of W_ih.T its claimed chunks take too */
    int grads;            /* the LSTM's and RNN's backward: the steps of their chunks (LSTM_CHUNK,
                             RNN_CHUNK), whose weight gradients may run packed (pk_grads) */
    int gr_dx;            /* the RNN's backward: with pk_grads, dx too (each participant packs W_ih.T) */
} Need;

/* the index of f's first array of `kind` ('W': W_hh, 'I': W_ih, 'Q': dh_sq), or -1 */
static int spec_index(const SeqSpec *f, char kind)
{
    for (int i = 0; i < f->n_arrays; i++)
        if (f->arrays[i].kind == kind) return i;
    return -1;
}

/* whether a product with M*K values of packed weight per participant and N columns is a packed
 * one: in mode 1 from PK_MIN_N columns and `least` values (0 for the loops' step products, which
 * pay whatever the weight; gate_gradients: gr_min_weight) */
static int packs(int size, Py_ssize_t MK, Py_ssize_t least, Py_ssize_t N)
{
    int mode = size == 4 ? packed_mode() : 0;
    return mode == 2 || (mode == 1 && N >= PK_MIN_N && MK >= least);
}

/* the lanes of the packed kernel a loop or job starting now runs on (packed.h: pk_lanes; 0: none).
 * Asked first thing: pk_lanes is -1 until pk_supported() has run. */
static int pk_kernel_now(void) { return pk_supported() ? pk_lanes : 0; }

/* units per claimed chunk: about CLAIM_CHUNKS chunks per participant (8: against fixed halves 1-8%
 * less time per LSTM training step on the development machine and 3-12% per forward; 4 and 16
 * chunks about the same, 2 less), one for a single participant (nobody to share them with), a
 * multiple of PK_MR units (the backward's packed blocks, PK_MR units each, start at each chunk) */
static Py_ssize_t claim_chunk(Py_ssize_t H, int P)
{
    Py_ssize_t u = P == 1 ? H : (H + (Py_ssize_t)CLAIM_CHUNKS * P - 1) / ((Py_ssize_t)CLAIM_CHUNKS * P);
    return (u + PK_MR - 1) / PK_MR * PK_MR;
}

/* Per-call scratch of a loop of f, one allocation: per participant unit_rows * hk_max * N values
 * (+ hm * H * N for hm, + T * N for its dh_sq partial sums when f has dh_sq, + its packed weights
 * where it packs them: W_hh, and W_ih in forward loops with x); `shared` values; the grouped copies
 * of W_hh (G*H, H) and W_ih (G*H, I) when `group`, G > 1 and P > 1 and they are not packed; a copy
 * of batch_sizes. zeros, zero_rows * N values, is calloc'ed when zero_rows > 0. Returns -1 with
 * MemoryError set. */
static int loop_scratch(Loop *L, int size, const SeqSpec *f, Need need)
{
    Py_ssize_t G = f->G, H = L->s.H, N = L->s.N > 0 ? L->s.N : 1;
    L->P = loop_parts(G, H, L->s.N);
    L->hk_max = (H + L->P - 1) / L->P;
    barrier_init(&L->bar, L->P);
    L->pk_kernel = pk_kernel_now();
    L->pk_fused = need.fuse && L->s.x && packs(size, 0, 0, L->s.N);
    /* whatever the weight (packed.h): faster than OpenBLAS's sgemm, which repacks it at every call
     * (Zen 3, AVX2: RNN and GRU steps 4-10% less time at 32x100x8x64, 1-7% at the larger shapes;
     * Zen 5, AVX-512: 27-42% for the RNN's at 32x100x8x64 and 64x100x32x128) */
    L->pk_rec = L->pk_fused || packs(size, 0, 0, L->s.N);
    L->pk_in = !L->pk_fused && need.group && L->s.x && packs(size, 0, 0, L->s.N);
    L->claims = need.claims == 1 ? L->pk_fused : need.claims == 2 && L->pk_rec;
    L->chunk = claim_chunk(H, L->P);
    L->chunks = L->claims ? (H + L->chunk - 1) / L->chunk : 0;
    L->xchunks = L->claims ? (need.dx_rows + L->chunk - 1) / L->chunk : 0;
    /* the chunks' weight gradients on the AVX-512 kernel (sequence.h: chunk_grads_packed), whose
     * transposes multiply by rec_mask themselves: the backward loops' hm (chunk_states, for the
     * BLAS's products) is then not needed */
    L->pk_grads = need.grads && L->pk_rec && L->pk_kernel == 16;
    if (L->pk_grads) need.hm = 0;
    Py_ssize_t part = need.unit_rows * L->hk_max * N + need.hm * H * N;
    L->sq_offset = (size_t)part * size;
    part += spec_index(f, 'Q') >= 0 && !L->claims ? L->s.T * N : 0; /* with claims: by chunk, sq_chunks */
    part = (part + 15) / 16 * 16; /* whole 64-byte lines: no cache line shared by two participants */
    L->pk_offset = (size_t)part * size;
    if (L->claims && L->pk_fused) /* z; the packed weights are shared */
        part += pk_gates_scratch(L->pk_kernel, H + L->s.I, N);
    else if (L->claims) /* the chunks it claimed at the last step (sizeof(Py_ssize_t) <= 2 values) */
        part += 2 * L->chunks;
    else
        part += (L->pk_rec ? pk_values(L->hk_max, G * H) : 0) + (L->pk_in ? pk_values(G * L->hk_max, L->s.I) : 0);
    /* with pk_grads: each participant's rows of a ring packed, and one shared (need.grads * N, H + I)
     * transposed [h~; x] */
    Py_ssize_t gr_K = need.grads * N, gr_bt = L->pk_grads ? gr_K * (H + L->s.I) : 0;
    if (L->pk_grads) {
        part = (part + 15) / 16 * 16;
        L->gr_offset = (size_t)part * size;
        part += pk_values(GR_ROWS, gr_K);
        L->gr_wi_offset = (size_t)part * size;
        part += need.gr_dx ? pk_values(L->s.I, H) : 0;
    }
    L->pk_panel = 0;
    Py_ssize_t panel = pk_panel_values(L->pk_kernel, G * H > L->s.I ? G * H : L->s.I, N);
    if (!L->pk_fused && !need.compact && (L->pk_rec || L->pk_in) && panel) {
        part = (part + 15) / 16 * 16;
        L->pk_panel = (size_t)part * size;
        part += panel;
    }
    part = (part + 15) / 16 * 16;
    L->part_bytes = (size_t)part * size;
    int grouped = need.group && L->P > 1 && G > 1;
    Py_ssize_t wg = grouped && !L->pk_rec ? G * H * H : 0;
    Py_ssize_t wig = grouped && !L->pk_in && !L->pk_fused && L->s.x ? G * H * L->s.I : 0, wp = wg + wig;
    Py_ssize_t shared = need.shared, claim_at = 0, pk_at = 0, sq_at = 0;
    if (L->claims) { /* the claim words (a line each), all units' packed weights, dh_sq's partial sums */
        shared = claim_at = (shared + 15) / 16 * 16;
        shared = pk_at = shared + 16 * L->P;
        /* backwards W_hh.T, then from row chunks * chunk W_ih.T where the loop takes dx */
        shared += L->pk_fused ? pk_values(G * H, H + L->s.I) + pk_values(G * H, 1)
                              : pk_values(L->chunks * L->chunk + (L->xchunks ? need.dx_rows : 0), G * H);
        sq_at = shared;
        shared += L->pk_fused ? 0 : (L->chunks - 1) * L->s.T * N;
    }
    Py_ssize_t bt_at = shared = (shared + 15) / 16 * 16;
    shared += gr_bt;
    Py_ssize_t sizes = L->s.batch_sizes ? L->s.T : 0;
    /* batch_sizes' copy after the values, at a multiple of 8 bytes (float32: an odd count of values before it) */
    size_t sizes_at = ((size_t)(shared + wp) * size + 7) / 8 * 8;
    size_t total = (size_t)L->P * part * size + sizes_at + (size_t)sizes * sizeof(int64_t) + 64;
    L->mem = PyMem_RawMalloc(total);
    L->zeros = need.zero_rows ? PyMem_RawCalloc((size_t)(need.zero_rows * N), size) : NULL;
    if (!L->mem || (need.zero_rows && !L->zeros)) {
        PyMem_RawFree(L->mem);
        PyMem_RawFree(L->zeros);
        PyErr_NoMemory();
        return -1;
    }
    L->part = (char *)(((uintptr_t)L->mem + 63) & ~(uintptr_t)63);
    L->shared = L->part + L->P * L->part_bytes;
    L->claim_words = L->claims ? (char *)L->shared + (size_t)claim_at * size : NULL;
    L->pk_all = L->claims ? (char *)L->shared + (size_t)pk_at * size : NULL;
    L->sq_chunks = L->claims && !L->pk_fused ? (char *)L->shared + (size_t)sq_at * size : NULL;
    L->gr_Bt = gr_bt ? (char *)L->shared + (size_t)bt_at * size : NULL;
    L->Wg = wg ? (char *)L->shared + (size_t)shared * size : NULL;
    L->Wig = wig ? (char *)L->shared + (size_t)(shared + wg) * size : NULL;
    if (sizes) { /* one copy that every participant reads: they agree on B even if the array changes */
        int64_t *copy = (int64_t *)((char *)L->shared + sizes_at);
        memcpy(copy, L->s.batch_sizes, (size_t)sizes * sizeof(int64_t));
        L->s.batch_sizes = copy;
    }
    return 0;
}

static void loop_free(Loop *L)
{
    PyMem_RawFree(L->mem);
    PyMem_RawFree(L->zeros);
}

/* The start of a *_seq binding: declarations, then every argument taken (or return NULL) */
#define SEQ_BEGIN(spec)                                                     \
    Args g = {0};                                                           \
    Loop L = {0};                                                           \
    Py_ssize_t relu = 0;                                                    \
    if (seq_args(&spec, args, nargs, &g, &L.s, &L.b, L.p, L.slots, &relu)) { \
        release(&g);                                                        \
        return NULL;                                                        \
    }                                                                       \
    L.relu = (int)relu

/* the participants and their scratch for what the loop needs (a Need), or return NULL */
#define SEQ_SCRATCH(spec, ...)                                              \
    if (loop_scratch(&L, g.size, &spec, (Need){__VA_ARGS__})) {             \
        release(&g);                                                        \
        return NULL;                                                        \
    }

/* run the loop for the dtype without the GIL: first the grouped copies of W_hh and W_ih where
 * loop_scratch made room for them, then the participants, then (backward loops) the sum of their
 * partial dh_sq into dh_sq; free the scratch, release the buffers, return None */
#define SEQ_RUN(loop, spec)                                                 \
    do {                                                                    \
        int w = spec_index(&spec, 'W'), wi = spec_index(&spec, 'I');        \
        int sq = spec_index(&spec, 'Q');                                    \
        L.fn = g.size == 4 ? loop##_f : loop##_d;                           \
        Py_BEGIN_ALLOW_THREADS                                              \
        if (g.size == 4) {                                                  \
            if (L.Wg) group_rows_f(&L, L.Wg, L.p[w], spec.G, L.s.H);        \
            if (L.Wig) group_rows_f(&L, L.Wig, L.p[wi], spec.G, L.s.I);     \
            run_loop(&L);                                                   \
            if (sq >= 0) sum_parts_f(&L, L.p[sq]);                          \
        } else {                                                            \
            if (L.Wg) group_rows_d(&L, L.Wg, L.p[w], spec.G, L.s.H);        \
            if (L.Wig) group_rows_d(&L, L.Wig, L.p[wi], spec.G, L.s.I);     \
            run_loop(&L);                                                   \
            if (sq >= 0) sum_parts_d(&L, L.p[sq]);                          \
        }                                                                   \
        Py_END_ALLOW_THREADS                                                \
        loop_free(&L);                                                      \
        DONE;                                                               \
    } while (0)

static const ArgSpec RNN_FWD_ARGS[] = {
    {"hs", 'S', 1, 0, 0, 0}, {"x", 'X', 0, 1, 0, 0}, {"W_ih", 'I', 0, 1, 0, 0}, {"W_hh", 'W', 0, 0, 0, 0},
    {"bias", 'g', 0, 1, 0, 0}, {"rec_mask", 'R', 0, 1, 0, 0}};
static const SeqSpec RNN_FWD = {"rnn_forward_seq", 1, RNN_FWD_ARGS, 6, 1};

/* rnn_forward_seq(hs, x, W_ih, W_hh, bias, rec_mask, batch_sizes, relu, reverse); bias (H,) or None;
 * x and W_ih None: hs's output slots hold the input projections W_ih x_t already */
static PyObject *rnn_forward_seq(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SEQ_BEGIN(RNN_FWD);
    SEQ_SCRATCH(RNN_FWD, .unit_rows = 2, .hm = L.p[5] != NULL, .group = 1); /* gh, gx, hm */
    SEQ_RUN(rnn_fwd_seq, RNN_FWD);
}

static const ArgSpec RNN_BWD_ARGS[] = {
    {"hs", 'S', 0, 0, 0, 0}, {"x", 'X', 0, 0, 0, 0}, {"W_ih", 'I', 0, 0, 0, 0}, {"W_hh", 'W', 0, 0, 0, 0},
    {"dy", 'Y', 0, 1, 0, 0}, {"dh", 'R', 1, 0, 0, 0}, {"dh_sq", 'Q', 1, 0, 0, 0}, {"dW_ih", 'I', 1, 0, 0, 0},
    {"dW_hh", 'W', 1, 0, 0, 0}, {"db", 'b', 1, 1, 0, 0}, {"dx", 'D', 1, 0, 0, 0}, {"rec_mask", 'R', 0, 1, 0, 0}};
static const SeqSpec RNN_BWD = {"rnn_backward_seq", 1, RNN_BWD_ARGS, 12, 1};

/* rnn_backward_seq(hs, x, W_ih, W_hh, dy, dh, dh_sq, dW_ih, dW_hh, db, dx, rec_mask, batch_sizes,
 * relu, reverse): the whole backward; dW_ih, dW_hh, db are added to; dy at any strides; dx may
 * be x */
static PyObject *rnn_backward_seq(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SEQ_BEGIN(RNN_BWD); /* x is an array here: W_ih may not be None, and x None needs W_ih None */
    SEQ_SCRATCH(RNN_BWD, .hm = L.p[11] ? RNN_CHUNK : 0, .shared = 2 * RNN_CHUNK * L.s.H * L.s.N,
                .zero_rows = L.p[4] ? 0 : L.s.H, .grads = RNN_CHUNK, .gr_dx = 1); /* hm; the two rings */
    SEQ_RUN(rnn_bwd_seq, RNN_BWD);
}

static const ArgSpec LSTM_FWD_ARGS[] = {
    {"hs", 'S', 1, 0, 0, 0}, {"A", 'G', 1, 0, 1, 1}, {"cs", 'S', 1, 0, 2, 1}, {"tcs", 'C', 1, 0, 1, 1},
    {"x", 'X', 0, 1, 0, 0}, {"W_ih", 'I', 0, 1, 0, 0}, {"W_hh", 'W', 0, 0, 0, 0}, {"bias", 'g', 0, 1, 0, 0},
    {"rec_mask", 'R', 0, 1, 0, 0}};
static const SeqSpec LSTM_FWD = {"lstm_forward_seq", 4, LSTM_FWD_ARGS, 9, 0};

/* lstm_forward_seq(hs, A, cs, tcs, x, W_ih, W_hh, bias, rec_mask, batch_sizes, reverse); bias (4H,) or None;
 * A (T, 4H, N), cs (T + 1, H, N) and tcs (T, H, N) time-major; x and W_ih None: A holds the input
 * projections already. Without a backward to follow, A and tcs may have one time slot (A only with
 * x) and cs two: step t uses slot t mod slots */
static PyObject *lstm_forward_seq(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SEQ_BEGIN(LSTM_FWD);
    SEQ_SCRATCH(LSTM_FWD, .unit_rows = 8, .hm = L.p[8] != NULL, .group = 1, .fuse = 1, .claims = 1); /* gh, gx, hm */
    SEQ_RUN(lstm_fwd_seq, LSTM_FWD);
}

/* whether the na and nb values of `size` bytes from a and from b share a byte (none: n <= 0) */
static int ranges_overlap(const void *a, Py_ssize_t na, const void *b, Py_ssize_t nb, int size)
{
    if (na <= 0 || nb <= 0) return 0;
    const char *p = a, *q = b;
    return p < q + nb * size && q < p + na * size;
}

static const ArgSpec LSTM_BWD_ARGS[] = {
    {"A", 'G', 0, 0, 0, 1}, {"cs", 'S', 0, 0, 0, 1}, {"tcs", 'C', 0, 0, 0, 1}, {"hs", 'S', 0, 0, 0, 0},
    {"x", 'X', 0, 0, 0, 0}, {"W_ih", 'I', 0, 0, 0, 0}, {"W_hh", 'W', 0, 0, 0, 0}, {"dy", 'C', 0, 1, 0, 1},
    {"dh", 'R', 1, 0, 0, 0}, {"dc", 'R', 1, 0, 0, 0}, {"dh_sq", 'Q', 1, 0, 0, 0}, {"dW_ih", 'I', 1, 0, 0, 0},
    {"dW_hh", 'W', 1, 0, 0, 0}, {"db", 'g', 1, 1, 0, 0}, {"dx", 'D', 1, 0, 0, 0}, {"rec_mask", 'R', 0, 1, 0, 0}};
static const SeqSpec LSTM_BWD = {"lstm_backward_seq", 4, LSTM_BWD_ARGS, 16, 0};

/* lstm_backward_seq(A, cs, tcs, hs, x, W_ih, W_hh, dy, dh, dc, dh_sq, dW_ih, dW_hh, db, dx, rec_mask,
 * batch_sizes, reverse): the whole backward (sequence.h: lstm_bwd_seq). The forward's time-major
 * caches A, cs, tcs, its hs and x, and dy (T, H, N) time-major (or None), read only; dW_ih, dW_hh
 * and db (4H,) (or None: no bias) are added to; dx (I, T, N) must not share memory with x, which
 * the weight gradients read after dx_t is written */
static PyObject *lstm_backward_seq(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SEQ_BEGIN(LSTM_BWD);
    if (ranges_overlap(L.p[14], L.s.I * L.s.T * L.s.N, L.s.x, (L.s.I - 1) * L.s.ldx + L.s.T * L.s.N, g.size)) {
        PyErr_SetString(PyExc_ValueError, "_fused.lstm_backward_seq: dx must not share memory with x (the weight "
                        "gradients read x after dx is written): pass an array of its own");
        release(&g);
        return NULL;
    }
    /* dah, two (4H, N) blocks, then the two rings (4H, LSTM_CHUNK * N), shared; hm per participant */
    Py_ssize_t N1 = L.s.N > 0 ? L.s.N : 1;
    SEQ_SCRATCH(LSTM_BWD, .zero_rows = L.p[7] ? 0 : L.s.H, .hm = L.p[15] ? LSTM_CHUNK : 0,
                .shared = 2 * 4 * L.s.H * N1 * (1 + LSTM_CHUNK), .compact = 1, .claims = 2, .dx_rows = L.s.I,
                .grads = LSTM_CHUNK);
    SEQ_RUN(lstm_bwd_seq, LSTM_BWD);
}

static const ArgSpec GRU_FWD_ARGS[] = {
    {"hs", 'S', 1, 0, 0, 0}, {"A", 'G', 1, 0, 1, 0}, {"side", 'C', 1, 0, 1, 0}, {"x", 'X', 0, 1, 0, 0},
    {"W_ih", 'I', 0, 1, 0, 0}, {"W_hh", 'W', 0, 0, 0, 0}, {"bias", 'g', 0, 1, 0, 0}, {"b_hn", 'b', 0, 0, 0, 0},
    {"rec_mask", 'R', 0, 1, 0, 0}};
static const SeqSpec GRU_FWD = {"gru_forward_seq", 3, GRU_FWD_ARGS, 9, 0};

/* gru_forward_seq(hs, A, side, x, W_ih, W_hh, bias, b_hn, rec_mask, batch_sizes, reverse); bias (3H,) or
 * None (reset_after=True; b_hn (H,)); x and W_ih None: A holds the input projections already. A
 * (only with x) and side may have one time slot, as for lstm_forward_seq */
static PyObject *gru_forward_seq(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SEQ_BEGIN(GRU_FWD);
    SEQ_SCRATCH(GRU_FWD, .unit_rows = 6, .hm = L.p[8] != NULL, .group = 1); /* gh, gx, hm; weights grouped */
    SEQ_RUN(gru_fwd_seq, GRU_FWD);
}

static const ArgSpec GRU_BWD_ARGS[] = {
    {"A", 'G', 1, 0, 0, 0}, {"hs", 'S', 0, 0, 0, 0}, {"side", 'C', 1, 0, 0, 0}, {"W_hh", 'W', 0, 0, 0, 0},
    {"dy", 'C', 0, 1, 0, 0}, {"dh", 'R', 1, 0, 0, 0}, {"dh_sq", 'Q', 1, 0, 0, 0}, {"rec_mask", 'R', 0, 1, 0, 0}};
static const SeqSpec GRU_BWD = {"gru_backward_seq", 3, GRU_BWD_ARGS, 8, 0};

/* gru_backward_seq(A, hs, side, W_hh, dy, dh, dh_sq, rec_mask, batch_sizes, reverse)   (reset_after=True) */
static PyObject *gru_backward_seq(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SEQ_BEGIN(GRU_BWD);
    /* dhm (hk, N) each; dah, two (3H, N) blocks, shared */
    SEQ_SCRATCH(GRU_BWD, .unit_rows = 1, .shared = 2 * 3 * L.s.H * (L.s.N > 0 ? L.s.N : 1),
                .zero_rows = L.p[4] ? 0 : L.s.H, .compact = 1);
    SEQ_RUN(gru_bwd_seq, GRU_BWD);
}

/* ---- registration and threads --------------------------------------------------------- */

/* an address argument, of the function `what`: a non-zero int that fits a pointer (0 allowed if may_be_zero) */
static int address_arg(PyObject *o, const char *fn, const char *name, const char *what, int may_be_zero, void **out)
{
    size_t a = PyLong_Check(o) ? PyLong_AsSize_t(o) : 0; /* negative or too big: error, (size_t)-1 */
    if ((a == (size_t)-1 && PyErr_Occurred()) || (!a && !(may_be_zero && PyLong_Check(o)))) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "_fused.%s: %s must be the address of %s, %s int that fits a pointer, got %R",
                     fn, name, what, may_be_zero ? "an" : "a non-zero", o);
        return -1;
    }
    *out = (void *)(uintptr_t)a;
    return 0;
}

/* the first two of `expected` arguments of fn: the addresses of cblas_s<routine> and
 * cblas_d<routine> into out; -1 with the error set */
static int routine_pair(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t expected, const char *fn,
                        const char *routine, int may_be_zero, void **out)
{
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError, "_fused.%s takes %zd arguments, got %zd", fn, expected, nargs);
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        char name[16], what[24];
        PyOS_snprintf(name, sizeof name, "%c%s", "sd"[i], routine);
        PyOS_snprintf(what, sizeof what, "cblas_%s", name);
        if (address_arg(args[i], fn, name, what, may_be_zero, &out[i])) return -1;
    }
    return 0;
}

static PyObject *use_blas(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    void *fn[2];
    if (routine_pair(args, nargs, 3, "use_blas", "gemm", 0, fn)) return NULL;
    int ilp64 = PyObject_IsTrue(args[2]);
    if (ilp64 < 0) return NULL;
    blas_sgemm = fn[0];
    blas_dgemm = fn[1];
    blas_ilp64 = ilp64;
    Py_RETURN_NONE;
}

/* use_blas_gemv(sgemv, dgemv): the addresses of cblas_sgemv and cblas_dgemv of the BLAS use_blas
 * registered (same integers), or 0 for none. The loops' products with one column (one sequence)
 * then go through them: OpenBLAS's gemm copies the whole weight into its panel layout at every
 * call, its gemv reads it as it is (on a Zen 3 core 2.0 against 6.0 us for 256x64 @ 64x1; 19.9
 * against 70.1 for 1024x256). */
static PyObject *use_blas_gemv(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    void *fn[2];
    if (routine_pair(args, nargs, 2, "use_blas_gemv", "gemv", 1, fn)) return NULL;
    blas_sgemv = fn[0];
    blas_dgemv = fn[1];
    Py_RETURN_NONE;
}

/* use_blas_threads(get_num_threads, set_num_threads, set_threads_callback, threads_callback):
 * OpenBLAS's openblas_get_num_threads and openblas_set_num_threads, which let the loops split
 * each step over that many participants (pool.h); openblas_set_threads_callback_function (0:
 * none), through which OpenBLAS then runs its multithreaded work on this module's pool; and the
 * address of OpenBLAS's variable openblas_threads_callback_ (0: unknown), read first so that a
 * callback someone else installed is left in place. Returns 0 (no pool in this build: the loops
 * run on one thread, OpenBLAS keeps its own), 1 (OpenBLAS's work runs on the pool) or 2 (the
 * loops use the pool, OpenBLAS's work another library's callback). */
static PyObject *use_blas_threads(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    void *fn[4];
    static const char *names[4] = {"get_num_threads", "set_num_threads", "set_threads_callback", "threads_callback"};
    static const char *whats[4] = {"openblas_get_num_threads", "openblas_set_num_threads",
                                   "openblas_set_threads_callback_function", "openblas_threads_callback_"};
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "_fused.use_blas_threads takes 4 arguments, got %zd", nargs);
        return NULL;
    }
    for (int i = 0; i < 4; i++)
        if (address_arg(args[i], "use_blas_threads", names[i], whats[i], i >= 2, &fn[i])) return NULL;
#ifndef RK_NO_POOL
    blas_get_threads = (int (*)(void))fn[0];
    blas_set_threads = (void (*)(int))fn[1];
    if (!single_fork_handler)
        single_fork_handler = pthread_atfork(single_before_fork, single_after_fork_parent, single_after_fork) == 0;
    typedef void (*blas_callback)(int, blas_dojob, int, size_t, void *, int);
    blas_callback now = NULL;
    if (fn[3]) memcpy(&now, fn[3], sizeof now); /* the variable holds a function pointer */
    if (now && now != pool_blas_callback) return PyLong_FromLong(2);
    if (!fn[2]) return PyLong_FromLong(2);
    ((void (*)(blas_callback))fn[2])(pool_blas_callback);
    return PyLong_FromLong(1);
#else
    return PyLong_FromLong(0);
#endif
}

/* loop_threads(n): from now on, every C loop splits its steps over n participants (n >= 1), or
 * chooses by size and OpenBLAS's thread count (n = 0, the default). Returns the previous n. */
static PyObject *loop_threads(PyObject *self, PyObject *arg)
{
    Py_ssize_t n = PyNumber_AsSsize_t(arg, NULL); /* clipped: out of range below, a ValueError */
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 0 || n > POOL_MAX + 1) {
        PyErr_Format(PyExc_ValueError, "_fused.loop_threads: n = %zd, expected 0 (automatic) to %d", n, POOL_MAX + 1);
        return NULL;
    }
    int old = forced_parts;
    forced_parts = (int)n;
    return PyLong_FromLong(old);
}

/* packed_products(mode): from now on, the float32 loops' step products use packed weights never
 * (0), where they pay (1) or always (2; packed.h, pk_mode); a mode other than 0 needs a CPU with
 * AVX-512 or AVX2 (ValueError otherwise). Returns the previous mode. packed_products(-1) only returns it. */
static PyObject *packed_products(PyObject *self, PyObject *arg)
{
    Py_ssize_t mode = PyNumber_AsSsize_t(arg, NULL); /* clipped: out of range below, a ValueError */
    if (mode == -1 && PyErr_Occurred()) return NULL;
    if (mode < -1 || mode > 2) {
        PyErr_Format(PyExc_ValueError, "_fused.packed_products: mode = %zd, expected 0 (never), 1 (where they pay), "
                     "2 (always) or -1 (only return the mode)", mode);
        return NULL;
    }
    if (mode > 0 && !pk_supported()) {
        PyErr_Format(PyExc_ValueError, "_fused.packed_products: mode = %zd needs an x86-64 CPU with AVX-512 or AVX2 "
                     "(with FMA) and a GCC or Clang build; %s", mode,
                     PK_BUILT ? "this CPU has neither" : "this build has no packed kernel");
        return NULL;
    }
    int old = packed_mode();
    if (mode >= 0) pk_mode = (int)mode;
    return PyLong_FromLong(old);
}

/* packed_kernel(name): from now on, the packed products run on the kernel "avx512" or "avx2"
 * (packed.h: pk_lanes; the CPU must run it, ValueError otherwise), as the tests do to check both
 * on a CPU with AVX-512; None only returns it. Returns the previous kernel's name, None where the
 * CPU runs neither. */
static PyObject *packed_kernel(PyObject *self, PyObject *arg)
{
    pk_supported();
    PyObject *old = pk_lanes == 16 ? PyUnicode_FromString("avx512")
                    : pk_lanes == 8 ? PyUnicode_FromString("avx2") : (Py_INCREF(Py_None), Py_None);
    if (!old || arg == Py_None) return old;
    int lanes = 0;
    if (PyUnicode_Check(arg))
        lanes = PyUnicode_CompareWithASCIIString(arg, "avx512") == 0 ? 16
                : PyUnicode_CompareWithASCIIString(arg, "avx2") == 0 ? 8 : 0;
    if (!lanes) {
        PyErr_Format(PyExc_ValueError, "_fused.packed_kernel: expected \"avx512\", \"avx2\" or None, got %R", arg);
    } else if (!pk_runs(lanes)) {
        if (old == Py_None)
            PyErr_Format(PyExc_ValueError, "_fused.packed_kernel: this %s runs no packed kernel, got %R",
                         PK_BUILT ? "CPU" : "build", arg);
        else /* only the AVX2 kernel: an AVX-512 CPU runs both */
            PyErr_Format(PyExc_ValueError, "_fused.packed_kernel: this CPU runs no %U kernel; expected %R, got %R", arg,
                         old, arg);
        lanes = 0;
    }
    if (!lanes) {
        Py_DECREF(old);
        return NULL;
    }
    pk_lanes = lanes;
    return old;
}

/* The arguments (G, H, N) of loop_parts and loop_packs into v, and the participants P that a loop
 * with that step product would have now; -1 with the error set */
static int loop_query(PyObject *const *args, Py_ssize_t nargs, const char *fn, Py_ssize_t *v)
{
    static const char *names[3] = {"G", "H", "N"};
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_fused.%s takes 3 arguments, got %zd", fn, nargs);
        return -1;
    }
    for (int i = 0; i < 3; i++)
        if (int_arg(args[i], fn, names[i], 1, PY_SSIZE_T_MAX, &v[i])) return -1;
    int P;
    Py_BEGIN_ALLOW_THREADS
    P = loop_parts(v[0], v[1], v[2]);
    Py_END_ALLOW_THREADS
    return P;
}

/* loop_parts(G, H, N): how many participants a loop with that product would have now */
static PyObject *loop_parts_py(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t v[3];
    int P = loop_query(args, nargs, "loop_parts", v);
    return P < 0 ? NULL : PyLong_FromLong(P);
}

/* loop_packs(G, H, N): whether a float32 loop with that step product would pack W_hh now (from
 * PK_MIN_N columns whatever the weight, in mode 1: loop_scratch) */
static PyObject *loop_packs_py(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t v[3];
    int P = loop_query(args, nargs, "loop_packs", v);
    if (P < 0) return NULL;
    return PyBool_FromLong(packs(4, 0, 0, v[2]));
}

/* loop_chunks(G, H, N): the chunks of hidden units that the participants of a float32 LSTM loop
 * (G = 4; its forward with x) with that step product would claim now (Loop.claims; 1 for one
 * participant); 0 where its steps are not packed (each participant runs its own slice), and for G
 * other than 4 */
static PyObject *loop_chunks_py(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t v[3];
    int P = loop_query(args, nargs, "loop_chunks", v);
    if (P < 0) return NULL;
    if (v[0] != 4 || !packs(4, 0, 0, v[2])) return PyLong_FromLong(0);
    Py_ssize_t chunk = claim_chunk(v[1], P);
    return PyLong_FromSsize_t((v[1] + chunk - 1) / chunk);
}

/* pool_workers(): how many worker threads the pool has started */
static PyObject *pool_workers_py(PyObject *self, PyObject *unused) { return PyLong_FromLong(pool_workers()); }

/* pool_refuse(on): for the tests, from now on the pool refuses (True) or takes (False) every run of
 * several participants, as if its workers could not be had: the loops, copies and gradients then
 * run on threads started for each call (pool.h: pool_run_all), and OpenBLAS's jobs too. Returns
 * how many runs it refused since the last call. */
static PyObject *pool_refuse(PyObject *self, PyObject *arg)
{
    if (!PyBool_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "_fused.pool_refuse: expected True or False, got %R", arg);
        return NULL;
    }
#ifndef RK_NO_POOL
    atomic_store(&pool_refused, arg == Py_True);
    return PyLong_FromLong(atomic_exchange(&pool_refusals, 0));
#else
    pool_refused = arg == Py_True;
    long n = pool_refusals;
    pool_refusals = 0;
    return PyLong_FromLong(n);
#endif
}

/* A copy of copy_seq split over threads by time steps: participant k copies steps [t0, t1) */
typedef struct {
    char *dst;
    const char *src;
    const Py_ssize_t *ds, *ss;
    Py_ssize_t F, T, N;
    int size, P;
} Copy;

static void copy_part(void *ctx, int k)
{
    const Copy *c = (const Copy *)ctx;
    Py_ssize_t t0 = c->T * k / c->P, t1 = c->T * (k + 1) / c->P;
    char *d = c->dst + t0 * c->ds[1] * c->size;
    const char *s = c->src + t0 * c->ss[1] * c->size;
    if (c->size == 4) copy_seq_f((float *)d, c->ds, (const float *)s, c->ss, c->F, t1 - t0, c->N);
    else copy_seq_d((double *)d, c->ds, (const double *)s, c->ss, c->F, t1 - t0, c->N);
}

/* copies from 256 kB up are split over OpenBLAS's thread count, like the loops (or over
 * loop_threads(n) threads whatever the size): the transposes are bound by the latency of their
 * scattered reads or writes more than by memory bandwidth, and two threads copied 1.6-2.2x as
 * fast as one from 0.8 to 13 MB (64x100x32 to 64x200x256 float32) */
#define COPY_MIN_BYTES (256 * 1024)

/* the participants of a job split into `most` parts at most: loop_threads(n)'s n where set, else
 * OpenBLAS's thread count (1 without its controls), their workers reserved */
static int job_parts(Py_ssize_t most)
{
    if (!blas_get_threads || !blas_set_threads) return 1;
    Py_ssize_t P = forced_parts ? forced_parts : blas_threads();
    return reserve_parts(P < most ? P : most);
}

static int copy_parts(Py_ssize_t bytes, Py_ssize_t T)
{
    return !forced_parts && bytes < COPY_MIN_BYTES ? 1 : job_parts(T);
}

/* copy_seq(src, dst): dst[...] = src for two 3-d float arrays of one shape and dtype, any strides
 * (multiples of the item size): layout.h, the user's layout to the kernels' one and back. */
static PyObject *copy_seq(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer v[2];
    const char *names[2] = {"src", "dst"};
    int n = 0;
    Py_ssize_t st[2][3];
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_fused.copy_seq takes 2 arguments, got %zd", nargs);
        return NULL;
    }
    for (; n < 2; n++) {
        if (PyObject_GetBuffer(args[n], &v[n], PyBUF_STRIDES | PyBUF_FORMAT | (n ? PyBUF_WRITABLE : 0)) < 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "_fused.copy_seq: %s must be a %sfloat32 or float64 array, got %s", names[n],
                         n ? "writable " : "", Py_TYPE(args[n])->tp_name);
            goto fail;
        }
        const char *f = v[n].format ? v[n].format : "B";
        int ok = v[n].ndim == 3 && float_size(&v[n]);
        for (int k = 0; ok && k < 3; k++) {
            ok = v[n].strides[k] % v[n].itemsize == 0;
            st[n][k] = v[n].strides[k] / v[n].itemsize;
        }
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "_fused.copy_seq: %s must be a 3-d float32 or float64 array with strides "
                         "in whole items, got %d-d, format '%s'", names[n], v[n].ndim, f);
            n++;
            goto fail;
        }
    }
    if (v[0].itemsize != v[1].itemsize || v[0].shape[0] != v[1].shape[0] || v[0].shape[1] != v[1].shape[1] ||
        v[0].shape[2] != v[1].shape[2]) {
        PyErr_Format(PyExc_ValueError, "_fused.copy_seq: src (%zd, %zd, %zd) and dst (%zd, %zd, %zd) must have one "
                     "shape and one dtype (itemsize %zd and %zd)", v[0].shape[0], v[0].shape[1], v[0].shape[2],
                     v[1].shape[0], v[1].shape[1], v[1].shape[2], v[0].itemsize, v[1].itemsize);
        goto fail;
    }
    char *lo[2], *hi[2]; /* the bytes each array spans */
    for (int k = 0; k < 2; k++) {
        lo[k] = hi[k] = (char *)v[k].buf;
        for (int a = 0; a < 3; a++) {
            if (v[k].shape[a] == 0) lo[k] = hi[k] = NULL;
            Py_ssize_t span = (v[k].shape[a] - 1) * v[k].strides[a];
            if (lo[k] && span < 0) lo[k] += span;
            if (hi[k] && span > 0) hi[k] += span;
        }
    }
    if (lo[0] && lo[1] && lo[0] <= hi[1] + v[1].itemsize - 1 && lo[1] <= hi[0] + v[0].itemsize - 1) {
        PyErr_SetString(PyExc_ValueError, "_fused.copy_seq: src and dst must not overlap");
        goto fail;
    }
    Copy c = {(char *)v[1].buf, (const char *)v[0].buf, st[1], st[0], v[0].shape[0], v[0].shape[1], v[0].shape[2],
              (int)v[0].itemsize, 1};
    Py_BEGIN_ALLOW_THREADS
    c.P = copy_parts(c.F * c.T * c.N * c.size, c.T);
    pool_run_all(c.P, copy_part, &c);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v[0]);
    PyBuffer_Release(&v[1]);
    Py_RETURN_NONE;
fail:
    for (int k = 0; k < n; k++) PyBuffer_Release(&v[k]);
    return NULL;
}

#if PK_BUILT
#include "gradients.h"

/* `least` of gate_gradients: with the AVX-512 kernel GR_MIN_WEIGHT where the pass's scratch fits
 * (is no larger than dA), else GR_MIN_WEIGHT_ANY (gradients.h); with the AVX2 one never but in mode
 * 2 (on Zen 3 it took twice the time of NumPy's products) */
static Py_ssize_t gr_min_weight(int lanes, int fits)
{
    return lanes != 16 ? PY_SSIZE_T_MAX : fits ? GR_MIN_WEIGHT : GR_MIN_WEIGHT_ANY;
}
#endif

/* the shape of an ndim-d array argument (for take_whole), or -1 with a TypeError / ValueError */
static int peek_shape(PyObject *o, const char *fn, const char *name, int ndim, Py_ssize_t *shape)
{
    Py_buffer v;
    if (PyObject_GetBuffer(o, &v, PyBUF_ND) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "_fused.%s: %s must be a %d-d float32 or float64 array, got %s", fn, name, ndim,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    int got = v.ndim;
    if (got == ndim) memcpy(shape, v.shape, (size_t)ndim * sizeof *shape);
    PyBuffer_Release(&v);
    if (got != ndim) {
        PyErr_Format(PyExc_ValueError, "_fused.%s: %s must be %d-d, got %d-d", fn, name, ndim, got);
        return -1;
    }
    return 0;
}

/* gate_gradients(dA, x, h, rec_mask, W_ih, dW_ih, dW_hh, db, dx): after a backward loop,
 *   dW_ih = dA @ x.T   dW_hh = dA @ (h * rec_mask).T   db = dA @ 1   dx = W_ih.T @ dA
 * for dA (G*H, T, N) C-contiguous, x (I, T, N) and h (H, T, N) with C-contiguous (T, N) rows at
 * any row stride (h: the view of h_{t-1} in the states hs), rec_mask (H, N) or None, W_ih (G*H, I);
 * into dW_ih (G*H, I), dW_hh (G*H, H), db (G*H,) or None, dx (I, T, N), all C-contiguous and
 * written (not added to); dx may be x itself. An optional tenth argument side (H, T, N), C-contiguous,
 * or None: the last H rows of dW_hh are side @ (h * rec_mask).T instead (the GRU's candidate: dA's
 * last H rows still give dW_ih's, db's and dx's). With packed.h's kernel in one pass over dA, split
 * over the loops' threads (gradients.h), and True; False, with nothing done, where that kernel
 * does not apply (float64, packed_products off, or in mode 1 the AVX2 kernel, or fewer than
 * gr_min_weight values of [dW_ih | dW_hh] or PK_MIN_N columns): the caller then
 * uses NumPy (kernels/common.py: weight_gradients). */
static PyObject *gate_gradients(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    static const char *fn = "gate_gradients";
    Args g = {0};
    Seq sx = {0}, sh = {0};
    char *dA, *W, *dWi, *dW, *db = NULL, *dx = NULL, *mask = NULL, *side = NULL;
    Py_ssize_t a[3];
    if (nargs != 9 && nargs != 10) {
        PyErr_Format(PyExc_TypeError, "_fused.gate_gradients takes 9 or 10 arguments, got %zd", nargs);
        return NULL;
    }
    if (peek_shape(args[0], fn, "dA", 3, a)) return NULL;
    Py_ssize_t M = a[0], T = a[1], N = a[2];
    sx.T = sh.T = T;
    sx.N = sh.N = N;
    if (take_whole(&g, args[0], "dA", 3, a, &dA, 0, NULL) || take_steps(&g, args[1], "x", &sx) ||
        take_steps(&g, args[2], "h", &sh))
        goto fail;
    if (!sx.x || !sh.x) {
        PyErr_Format(PyExc_TypeError, "_fused.gate_gradients: x and h must be arrays, got None");
        goto fail;
    }
    Py_ssize_t I = sx.I, H = sh.I, ms[2] = {H, N}, wis[2] = {M, I}, whs[2] = {M, H}, bs[1] = {M}, xs[3] = {I, T, N};
    if ((args[3] != Py_None && take_whole(&g, args[3], "rec_mask", 2, ms, &mask, 0, NULL)) ||
        take_whole(&g, args[4], "W_ih", 2, wis, &W, 0, NULL) ||
        take_whole(&g, args[5], "dW_ih", 2, wis, &dWi, 1, NULL) ||
        take_whole(&g, args[6], "dW_hh", 2, whs, &dW, 1, NULL) ||
        (args[7] != Py_None && take_whole(&g, args[7], "db", 1, bs, &db, 1, NULL)) ||
        take_whole(&g, args[8], "dx", 3, xs, &dx, 1, NULL))
        goto fail;
    Py_ssize_t ss[3] = {H, T, N};
    if (nargs == 10 && args[9] != Py_None && take_whole(&g, args[9], "side", 3, ss, &side, 0, NULL)) goto fail;
    if (side && H > M) {
        PyErr_Format(PyExc_ValueError, "_fused.gate_gradients: side has H = %zd rows, more than dA's %zd", H, M);
        goto fail;
    }
    int done = 0;
#if PK_BUILT
    Py_ssize_t K = T * N, J = I + H;
    int lanes = pk_kernel_now();
    /* packs at all (the smaller threshold), then with the threshold its scratch allows */
    if (M > 0 && K > 0 && packs(g.size, M * J, gr_min_weight(lanes, 1), K)) {
        Grads G = {.dA = (const float *)dA, .x = (const float *)sx.x, .h = (const float *)sh.x,
                   .mask = (const float *)mask, .dW_ih = (float *)dWi, .dW_hh = (float *)dW, .db = (float *)db,
                   .dx = (float *)dx, .M = M, .I = I, .H = H, .T = T, .N = N, .ldx = sx.ldx, .ldh = sh.ldx,
                   .lanes = lanes, .side = (const float *)side, .Ms = side ? M - H : M};
        Py_BEGIN_ALLOW_THREADS
        G.P = job_parts((M + PK_MR - 1) / PK_MR);
        Py_END_ALLOW_THREADS
        G.rows_max = PK_MR * (((M + PK_MR - 1) / PK_MR + G.P - 1) / G.P);
        size_t part = (size_t)(grad_ap_values(&G) + G.rows_max * J + 16) * sizeof(float);
        G.part_bytes = (part + 63) / 64 * 64;
        size_t shared = (size_t)(2 * GR_KC * J + pk_values(I, M) + 32) * sizeof(float);
        size_t scratch = shared + G.P * G.part_bytes + 64;
        if (!packs(g.size, M * J, gr_min_weight(lanes, scratch <= (size_t)(M * K) * sizeof(float)), K)) {
            release(&g);
            Py_RETURN_FALSE;
        }
        char *mem = PyMem_RawMalloc(scratch);
        if (!mem) {
            release(&g);
            return PyErr_NoMemory();
        }
        char *base = (char *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
        G.part = base;
        G.Bt[0] = (float *)(base + G.P * G.part_bytes);
        G.Bt[1] = G.Bt[0] + GR_KC * J + 16;
        float *Wi = G.Bt[1] + GR_KC * J + 16;
        G.Wi = Wi;
        barrier_init(&G.bar, G.P);
        Py_BEGIN_ALLOW_THREADS
        pk_pack(Wi, M, 0, (const float *)W, 1, 0, I, 1, M, I, 0);
        pool_run_all(G.P, grad_part, &G);
        Py_END_ALLOW_THREADS
        PyMem_RawFree(mem);
        done = 1;
    }
#endif
    release(&g);
    return PyBool_FromLong(done);
fail:
    release(&g);
    return NULL;
}

/* activation(x, out, which): out = sigmoid(x) (which = 0) or tanh(x) (which = 1), for two
 * (rows, N) arrays: the functions of vmath.h alone, for the tests (and students). */
static PyObject *activation(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    Py_ssize_t which;
    Block x, y;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_fused.activation takes 3 arguments, got %zd", nargs);
        return NULL;
    }
    which = PyNumber_AsSsize_t(args[2], NULL); /* clipped: out of range below, a ValueError */
    if (which == -1 && PyErr_Occurred()) return NULL;
    if (which != 0 && which != 1) {
        PyErr_Format(PyExc_ValueError, "_fused.activation: which must be 0 (sigmoid) or 1 (tanh), got %zd", which);
        return NULL;
    }
    if (take(&g, args[0], "x", -1, 0, &x) || take(&g, args[1], "out", g.H, g.N, &y)) FAIL;
    for (Py_ssize_t j = 0; j < g.H; j++) {
        char *xp = x.p + j * x.ld * g.size, *yp = y.p + j * y.ld * g.size;
        CALL(activation, (void *)yp, (void *)xp, g.N, (int)which);
    }
    DONE;
}

#define DEF(name, doc) {#name, (PyCFunction)(void (*)(void))name, METH_FASTCALL, doc}

static PyMethodDef methods[] = {
    DEF(lstm_forward_step, "lstm_forward_step(a, gh, c_prev, h_prev, c, tc, h, B)"),
    DEF(lstm_backward_step, "lstm_backward_step(a, dh, dy, dc, c_prev, tc, dh_sq, B)"),
    DEF(rnn_forward_step, "rnn_forward_step(a, gh, h_prev, B, relu)"),
    DEF(rnn_backward_step, "rnn_backward_step(da, dh, dy, h, dh_sq, B, relu)"),
    DEF(gru_forward_step, "gru_forward_step(a, gh, b_hn, h_prev, side, h, B)"),
    DEF(gru_backward_step, "gru_backward_step(a, dh, dy, h_prev, side, dah, dh_sq, B)"),
    DEF(gru_forward_rz, "gru_forward_rz(a, gh, hm, side, B)"),
    DEF(gru_forward_n, "gru_forward_n(a, gh, h_prev, h, B)"),
    DEF(gru_backward_nz, "gru_backward_nz(a, dh, dy, h_prev, dh_sq, B)"),
    DEF(gru_backward_r, "gru_backward_r(a, drh, hm, B)"),
    DEF(use_blas, "use_blas(sgemm, dgemm, ilp64): register NumPy's BLAS for the *_seq functions"),
    DEF(use_blas_gemv, "use_blas_gemv(sgemv, dgemv): its gemv (0: none), for the loops' one-column products"),
    DEF(use_blas_threads, "use_blas_threads(get_num_threads, set_num_threads, set_threads_callback): OpenBLAS's "
                          "thread controls, for the loops' participants and the pool"),
    {"loop_threads", (PyCFunction)loop_threads, METH_O,
     "loop_threads(n): split every C loop's steps over n threads (0: chosen by size); returns the previous n"},
    {"loop_parts", (PyCFunction)(void (*)(void))loop_parts_py, METH_FASTCALL,
     "loop_parts(G, H, N): the threads a C loop whose step product is (G*H x H) @ (H x N) would use now"},
    {"loop_packs", (PyCFunction)(void (*)(void))loop_packs_py, METH_FASTCALL,
     "loop_packs(G, H, N): whether a float32 C loop with that step product would pack W_hh now"},
    {"loop_chunks", (PyCFunction)(void (*)(void))loop_chunks_py, METH_FASTCALL,
     "loop_chunks(G, H, N): the chunks of hidden units a float32 LSTM loop's participants would claim now (0: not "
     "packed, fixed slices)"},
    {"pool_workers", (PyCFunction)pool_workers_py, METH_NOARGS, "pool_workers(): worker threads started"},
    {"pool_refuse", (PyCFunction)pool_refuse, METH_O,
     "pool_refuse(on): the tests: the pool refuses runs of several participants (True) or not; returns the runs "
     "it refused since the last call"},
    {"packed_products", (PyCFunction)packed_products, METH_O,
     "packed_products(mode): float32 step products with packed weights never (0), where they pay (1) or always (2);"
     " returns the previous mode (-1: only that)"},
    {"packed_kernel", (PyCFunction)packed_kernel, METH_O,
     "packed_kernel(name): the packed products' kernel from now on, \"avx512\" or \"avx2\"; returns the previous"
     " one's name (None: only that; None returned: the CPU runs neither)"},
    DEF(rnn_forward_seq, "rnn_forward_seq(hs, x, W_ih, W_hh, bias, rec_mask, batch_sizes, relu, " LOOP_ARGS ")"),
    DEF(rnn_backward_seq, "rnn_backward_seq(hs, x, W_ih, W_hh, dy, dh, dh_sq, dW_ih, dW_hh, db, dx, rec_mask, "
        "batch_sizes, relu, " LOOP_ARGS "): the whole backward, weight gradients added to"),
    DEF(lstm_forward_seq,
        "lstm_forward_seq(hs, A, cs, tcs, x, W_ih, W_hh, bias, rec_mask, batch_sizes, " LOOP_ARGS ")"),
    DEF(lstm_backward_seq,
        "lstm_backward_seq(A, cs, tcs, hs, x, W_ih, W_hh, dy, dh, dc, dh_sq, dW_ih, dW_hh, db, dx, rec_mask, "
        "batch_sizes, " LOOP_ARGS "): the whole backward, weight gradients added to"),
    DEF(gru_forward_seq,
        "gru_forward_seq(hs, A, side, x, W_ih, W_hh, bias, b_hn, rec_mask, batch_sizes, " LOOP_ARGS ")"),
    DEF(gru_backward_seq, "gru_backward_seq(A, hs, side, W_hh, dy, dh, dh_sq, rec_mask, batch_sizes, " LOOP_ARGS ")"),
    DEF(copy_seq, "copy_seq(src, dst): dst[...] = src for 3-d arrays, in tiles (layout.h)"),
    DEF(gate_gradients, "gate_gradients(dA, x, h, rec_mask, W_ih, dW_ih, dW_hh, db, dx[, side]): the products after a "
                        "backward loop in one pass over dA (gradients.h; db may be None); False "
                        "(nothing done) where they do not apply"),
    DEF(activation, "activation(x, out, which): out = sigmoid(x) (which=0) or tanh(x) (which=1); 2-d arrays"),
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fused",
    "Fused elementwise time steps of RNN, LSTM and GRU (see rnnkit/kernels/csrc/).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fused(void) { return PyModule_Create(&module); }
