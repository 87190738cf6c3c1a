/* rnnkit.kernels._fused: the elementwise part of one time step of RNN, LSTM and GRU, fused.
 *
 * The kernels in rnnkit/kernels/{rnn,lstm,gru}.py keep the time loop and the matrix products (NumPy's
 * BLAS); per step they call one function of this module instead of a dozen NumPy ufuncs,
 * each of which would make its own pass over memory and cost its own call overhead. The
 * arithmetic is in steps.h (with the equations), exp / sigmoid / tanh in vmath.h.
 *
 * Every array argument is a 2-d float32 or float64 NumPy array (all of one dtype) whose rows
 * are contiguous and may be strided, as the step-t slice ``x[:, t]`` of a (F, T, N) sequence
 * array is: a gate block (G*H, N), a state (H, N), or a product NumPy wrote for the B running
 * columns, (G*H, B). dh_sq is the 1-d row dh_sq[t] (N,). Columns B..N-1 are finished sequences:
 * their states are carried from the previous step, and their gate gradients are set to 0.
 *
 * On x86-64 Linux with GCC >= 12 and glibc, each step function is compiled three times (AVX-512,
 * AVX2+FMA, baseline) and the loader picks the best one the CPU supports; elsewhere once, for
 * the compiler's default target. gru_backward_nz leaves the finished columns to gru_backward_r,
 * which runs right after it and zeroes all three gate blocks there.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
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

#define REAL float
#define RK(name) name##_f
#define SIGMOID rk_sigmoid_f
#define TANH rk_tanh_f
#include "steps.h"
#undef REAL
#undef RK
#undef SIGMOID
#undef TANH

#define REAL double
#define RK(name) name##_d
#define SIGMOID rk_sigmoid_d
#define TANH rk_tanh_d
#include "steps.h"
#undef REAL
#undef RK
#undef SIGMOID
#undef TANH

/* ---- argument handling ----------------------------------------------------------------- */

#define MAX_BUFS 10

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
    const char *f = v->format ? v->format : "B";
    char c = f[strlen(f) - 1];
    int size = (c == 'f' && v->itemsize == 4) ? 4 : (c == 'd' && v->itemsize == 8) ? 8 : 0;
    if (!size || (f[0] != c && f[0] != '<' && f[0] != '=' && f[0] != '@')) {
        PyErr_Format(PyExc_TypeError, "_fused: %s must be float32 or float64, got format '%s'", name, f);
        return -1;
    }
    if (g->size == 0) {
        g->size = size;
    } else if (g->size != size) {
        PyErr_Format(PyExc_TypeError, "_fused: %s has itemsize %d, the other arrays %d", name, size, g->size);
        return -1;
    }
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

/* The trailing integer arguments: B, and `relu` where the function has it. */
static int parse(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t expect, const char *fn, Args *g, Py_ssize_t *flag)
{
    if (nargs != expect) {
        PyErr_Format(PyExc_TypeError, "_fused.%s takes %zd arguments, got %zd", fn, expect, nargs);
        return -1;
    }
    Py_ssize_t nb = flag ? expect - 2 : expect - 1;
    g->B = PyNumber_AsSsize_t(args[nb], PyExc_OverflowError);
    if (g->B == -1 && PyErr_Occurred()) return -1;
    if (flag) {
        *flag = PyNumber_AsSsize_t(args[nb + 1], PyExc_OverflowError);
        if (*flag == -1 && PyErr_Occurred()) return -1;
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
    CALL(lstm_fwd, P(a), P(gh), P(cp), P(c), P(tc), P(h), g.H, g.B);
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
    CALL(lstm_bwd, P(a), P(dh), P(dy), P(dc), P(cp), P(tc), (void *)sq.p, g.H, g.B);
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
    CALL(gru_fwd, P(a), P(gh), (void *)bhn.p, P(hp), P(side), P(h), g.H, g.B);
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
    CALL(gru_bwd, P(a), P(dh), P(dy), P(hp), P(side), P(dah), (void *)sq.p, g.H, g.B);
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
    which = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
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
    DEF(activation, "activation(x, out, which): out = sigmoid(x) (which=0) or tanh(x) (which=1); 2-d arrays"),
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fused",
    "Fused elementwise time steps of RNN, LSTM and GRU (see rnnkit/kernels/csrc/).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fused(void) { return PyModule_Create(&module); }
