/* rnnkit.kernels._fused: the elementwise part of one time step of RNN, LSTM and GRU, fused.
 *
 * The kernels in rnnkit/kernels/{rnn,lstm,gru}.py keep the time loop and the matrix products (NumPy's
 * BLAS); per step they call one function of this module instead of a dozen NumPy ufuncs,
 * each of which would make its own pass over memory and cost its own call overhead. The
 * arithmetic is in steps.h (with the equations), exp / sigmoid / tanh in vmath.h.
 *
 * Every array argument is a C-contiguous float32 or float64 buffer (all of one dtype), in the
 * kernels' layout: a gate block (G*H, N), a state (H, N), products written by NumPy as a
 * compact (G*H, B) block (any buffer of at least that many elements). B is the number of
 * running columns; columns B..N-1 are finished sequences: their states are carried from
 * the previous step, and their gate gradients are set to 0.
 *
 * On x86-64 Linux with GCC, each step function is compiled three times (AVX-512, AVX2+FMA,
 * baseline) and the loader picks the best one the CPU supports.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "vmath.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define RK_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RK_TARGET_CLONES
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

/* ---- finished columns ------------------------------------------------------------------ */

static void carry(char *dst, const char *src, long rows, long B, long N, int size)
{
    for (long j = 0; j < rows; j++)
        memcpy(dst + (j * N + B) * size, src + (j * N + B) * size, (size_t)(N - B) * size);
}

static void zero_tail(char *a, long rows, long B, long N, int size)
{
    for (long j = 0; j < rows; j++)
        memset(a + (j * N + B) * size, 0, (size_t)(N - B) * size);
}

/* ---- argument handling ----------------------------------------------------------------- */

#define MAX_BUFS 10

typedef struct {
    Py_buffer v[MAX_BUFS];
    int n;
    int size; /* 4 (float32) or 8 (float64), from the first buffer */
    long H, N;
} Args;

static void release(Args *g)
{
    for (int i = 0; i < g->n; i++) PyBuffer_Release(&g->v[i]);
    g->n = 0;
}

/* Take `o` as a writable C-contiguous float buffer of the common dtype. rows > 0: it must be
 * exactly (rows, N) (the first call, with rows = -k, sets H = shape[0] / k and N = shape[1]);
 * rows == 0: it must hold at least `need` elements. */
static char *take(Args *g, PyObject *o, const char *name, long rows, Py_ssize_t need)
{
    Py_buffer *v = &g->v[g->n];
    if (PyObject_GetBuffer(o, v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyErr_Format(PyExc_TypeError, "_fused: %s must be a writable C-contiguous float32 or float64 array", name);
        return NULL;
    }
    g->n++;
    const char *f = v->format ? v->format : "B";
    char c = f[strlen(f) - 1];
    int size = (c == 'f' && v->itemsize == 4) ? 4 : (c == 'd' && v->itemsize == 8) ? 8 : 0;
    if (!size || (f[0] != c && f[0] != '<' && f[0] != '=' && f[0] != '@')) {
        PyErr_Format(PyExc_TypeError, "_fused: %s must be float32 or float64, got format '%s'", name, f);
        return NULL;
    }
    if (g->size == 0) {
        g->size = size;
    } else if (g->size != size) {
        PyErr_Format(PyExc_TypeError, "_fused: %s has itemsize %d, the other arrays %d", name, size, g->size);
        return NULL;
    }
    if (rows < 0) {
        if (v->ndim != 2 || v->shape[0] % (-rows) != 0) {
            PyErr_Format(PyExc_ValueError, "_fused: %s must be a 2-d (%ld*H, N) array", name, -rows);
            return NULL;
        }
        g->H = (long)(v->shape[0] / (-rows));
        g->N = (long)v->shape[1];
        return (char *)v->buf;
    }
    Py_ssize_t expect = rows > 0 ? (Py_ssize_t)rows * g->N : need;
    Py_ssize_t have = v->len / size;
    if (rows > 0 ? have != expect : have < expect) {
        PyErr_Format(PyExc_ValueError, "_fused: %s has %zd elements, expected %s%zd", name, have,
                     rows > 0 ? "" : "at least ", expect);
        return NULL;
    }
    return (char *)v->buf;
}

static int parse(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t expect, const char *fn, long *B, long *flag)
{
    if (nargs != expect) {
        PyErr_Format(PyExc_TypeError, "_fused.%s takes %zd arguments, got %zd", fn, expect, nargs);
        return -1;
    }
    Py_ssize_t nb = flag ? expect - 2 : expect - 1;
    *B = PyLong_AsLong(args[nb]);
    if (*B == -1 && PyErr_Occurred()) return -1;
    if (flag) {
        *flag = PyLong_AsLong(args[nb + 1]);
        if (*flag == -1 && PyErr_Occurred()) return -1;
    }
    return 0;
}

static int check_B(Args *g, long B)
{
    if (B < 0 || B > g->N) {
        PyErr_Format(PyExc_ValueError, "_fused: B = %ld, expected 0 <= B <= N = %ld", B, g->N);
        return -1;
    }
    return 0;
}

/* rows/width/ld of a sweep over the running columns: one long row when all columns run */
#define SWEEP(H, B, N) long rows = (B) == (N) ? 1 : (H), width = (B) == (N) ? (H) * (N) : (B)

#define CALL(fn, ...)                                         \
    do {                                                      \
        Py_BEGIN_ALLOW_THREADS                                \
        if (g.size == 4) fn##_f(__VA_ARGS__);                 \
        else fn##_d(__VA_ARGS__);                             \
        Py_END_ALLOW_THREADS                                  \
    } while (0)

#define F(p) ((void *)(p))

/* lstm_forward_step(a, gh, c_prev, h_prev, c, tc, h, B) */
static PyObject *lstm_forward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long B;
    char *a, *gh, *cp, *hp, *c, *tc, *h;
    if (parse(args, nargs, 8, "lstm_forward_step", &B, NULL) < 0) return NULL;
    if (!(a = take(&g, args[0], "a", -4, 0)) || check_B(&g, B) < 0 ||
        !(gh = take(&g, args[1], "gh", 0, 4 * g.H * B)) || !(cp = take(&g, args[2], "c_prev", g.H, 0)) ||
        !(hp = take(&g, args[3], "h_prev", g.H, 0)) || !(c = take(&g, args[4], "c", g.H, 0)) ||
        !(tc = take(&g, args[5], "tc", g.H, 0)) || !(h = take(&g, args[6], "h", g.H, 0))) {
        release(&g);
        return NULL;
    }
    long H = g.H, N = g.N;
    SWEEP(H, B, N);
    CALL(lstm_fwd, F(a), F(gh), F(cp), F(c), F(tc), F(h), rows, width, N, H * N, H * B);
    if (B < N) {
        carry(c, cp, H, B, N, g.size);
        carry(h, hp, H, B, N, g.size);
    }
    release(&g);
    Py_RETURN_NONE;
}

/* lstm_backward_step(a, dh, dy, dc, c_prev, tc, dh_sq, B) */
static PyObject *lstm_backward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long B;
    char *a, *dh, *dy, *dc, *cp, *tc, *sq;
    if (parse(args, nargs, 8, "lstm_backward_step", &B, NULL) < 0) return NULL;
    if (!(a = take(&g, args[0], "a", -4, 0)) || check_B(&g, B) < 0 ||
        !(dh = take(&g, args[1], "dh", g.H, 0)) || !(dy = take(&g, args[2], "dy", g.H, 0)) ||
        !(dc = take(&g, args[3], "dc", g.H, 0)) || !(cp = take(&g, args[4], "c_prev", g.H, 0)) ||
        !(tc = take(&g, args[5], "tc", g.H, 0)) || !(sq = take(&g, args[6], "dh_sq", 1, 0))) {
        release(&g);
        return NULL;
    }
    long H = g.H, N = g.N;
    CALL(lstm_bwd, F(a), F(dh), F(dy), F(dc), F(cp), F(tc), F(sq), H, B, N);
    if (B < N) zero_tail(a, 4 * H, B, N, g.size);
    release(&g);
    Py_RETURN_NONE;
}

/* rnn_forward_step(a, gh, h_prev, B, relu): a = phi(a + gh) in place (a is h_t's slot) */
static PyObject *rnn_forward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long B, relu;
    char *a, *gh, *hp;
    if (parse(args, nargs, 5, "rnn_forward_step", &B, &relu) < 0) return NULL;
    if (!(a = take(&g, args[0], "a", -1, 0)) || check_B(&g, B) < 0 ||
        !(gh = take(&g, args[1], "gh", 0, g.H * B)) || !(hp = take(&g, args[2], "h_prev", g.H, 0))) {
        release(&g);
        return NULL;
    }
    long H = g.H, N = g.N;
    SWEEP(H, B, N);
    CALL(rnn_fwd, F(a), F(gh), rows, width, N, (int)relu);
    if (B < N) carry(a, hp, H, B, N, g.size);
    release(&g);
    Py_RETURN_NONE;
}

/* rnn_backward_step(da, dh, dy, h, dh_sq, B, relu) */
static PyObject *rnn_backward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long B, relu;
    char *da, *dh, *dy, *h, *sq;
    if (parse(args, nargs, 7, "rnn_backward_step", &B, &relu) < 0) return NULL;
    if (!(da = take(&g, args[0], "da", -1, 0)) || check_B(&g, B) < 0 ||
        !(dh = take(&g, args[1], "dh", g.H, 0)) || !(dy = take(&g, args[2], "dy", g.H, 0)) ||
        !(h = take(&g, args[3], "h", g.H, 0)) || !(sq = take(&g, args[4], "dh_sq", 1, 0))) {
        release(&g);
        return NULL;
    }
    long H = g.H, N = g.N;
    CALL(rnn_bwd, F(da), F(dh), F(dy), F(h), F(sq), H, B, N, (int)relu);
    if (B < N) zero_tail(da, H, B, N, g.size);
    release(&g);
    Py_RETURN_NONE;
}

/* gru_forward_step(a, gh, bhn, h_prev, side, h, B)   (reset_after=True) */
static PyObject *gru_forward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long B;
    char *a, *gh, *bhn, *hp, *side, *h;
    if (parse(args, nargs, 7, "gru_forward_step", &B, NULL) < 0) return NULL;
    if (!(a = take(&g, args[0], "a", -3, 0)) || check_B(&g, B) < 0 ||
        !(gh = take(&g, args[1], "gh", 0, 3 * g.H * B)) || !(bhn = take(&g, args[2], "bhn", g.H, 0)) ||
        !(hp = take(&g, args[3], "h_prev", g.H, 0)) || !(side = take(&g, args[4], "side", g.H, 0)) ||
        !(h = take(&g, args[5], "h", g.H, 0))) {
        release(&g);
        return NULL;
    }
    long H = g.H, N = g.N;
    SWEEP(H, B, N);
    CALL(gru_fwd, F(a), F(gh), F(bhn), F(hp), F(side), F(h), rows, width, N, H * N, H * B);
    if (B < N) {
        carry(h, hp, H, B, N, g.size);
        zero_tail(side, H, B, N, g.size);
    }
    release(&g);
    Py_RETURN_NONE;
}

/* gru_backward_step(a, dh, dy, h_prev, side, dah, dh_sq, B)   (reset_after=True) */
static PyObject *gru_backward_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long B;
    char *a, *dh, *dy, *hp, *side, *dah, *sq;
    if (parse(args, nargs, 8, "gru_backward_step", &B, NULL) < 0) return NULL;
    if (!(a = take(&g, args[0], "a", -3, 0)) || check_B(&g, B) < 0 ||
        !(dh = take(&g, args[1], "dh", g.H, 0)) || !(dy = take(&g, args[2], "dy", g.H, 0)) ||
        !(hp = take(&g, args[3], "h_prev", g.H, 0)) || !(side = take(&g, args[4], "side", g.H, 0)) ||
        !(dah = take(&g, args[5], "dah", 0, 3 * g.H * B)) || !(sq = take(&g, args[6], "dh_sq", 1, 0))) {
        release(&g);
        return NULL;
    }
    long H = g.H, N = g.N;
    CALL(gru_bwd, F(a), F(dh), F(dy), F(hp), F(side), F(dah), F(sq), H, B, N);
    if (B < N) {
        zero_tail(a, 3 * H, B, N, g.size);
        zero_tail(side, H, B, N, g.size);
    }
    release(&g);
    Py_RETURN_NONE;
}

/* gru_forward_rz(a, gh, hm, side, B)   (reset_after=False, first half) */
static PyObject *gru_forward_rz(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long B;
    char *a, *gh, *hm, *side;
    if (parse(args, nargs, 5, "gru_forward_rz", &B, NULL) < 0) return NULL;
    if (!(a = take(&g, args[0], "a", -3, 0)) || check_B(&g, B) < 0 ||
        !(gh = take(&g, args[1], "gh", 0, 2 * g.H * B)) || !(hm = take(&g, args[2], "hm", g.H, 0)) ||
        !(side = take(&g, args[3], "side", g.H, 0))) {
        release(&g);
        return NULL;
    }
    long H = g.H, N = g.N;
    SWEEP(H, B, N);
    CALL(gru_fwd_rz, F(a), F(gh), F(hm), F(side), rows, width, N, H * N, H * B);
    if (B < N) zero_tail(side, H, B, N, g.size);
    release(&g);
    Py_RETURN_NONE;
}

/* gru_forward_n(a, gh, h_prev, h, B)   (reset_after=False, second half) */
static PyObject *gru_forward_n(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long B;
    char *a, *gh, *hp, *h;
    if (parse(args, nargs, 5, "gru_forward_n", &B, NULL) < 0) return NULL;
    if (!(a = take(&g, args[0], "a", -3, 0)) || check_B(&g, B) < 0 ||
        !(gh = take(&g, args[1], "gh", 0, g.H * B)) || !(hp = take(&g, args[2], "h_prev", g.H, 0)) ||
        !(h = take(&g, args[3], "h", g.H, 0))) {
        release(&g);
        return NULL;
    }
    long H = g.H, N = g.N;
    SWEEP(H, B, N);
    CALL(gru_fwd_n, F(a), F(gh), F(hp), F(h), rows, width, N, H * N);
    if (B < N) carry(h, hp, H, B, N, g.size);
    release(&g);
    Py_RETURN_NONE;
}

/* gru_backward_nz(a, dh, dy, h_prev, dh_sq, B)   (reset_after=False, first half) */
static PyObject *gru_backward_nz(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long B;
    char *a, *dh, *dy, *hp, *sq;
    if (parse(args, nargs, 6, "gru_backward_nz", &B, NULL) < 0) return NULL;
    if (!(a = take(&g, args[0], "a", -3, 0)) || check_B(&g, B) < 0 ||
        !(dh = take(&g, args[1], "dh", g.H, 0)) || !(dy = take(&g, args[2], "dy", g.H, 0)) ||
        !(hp = take(&g, args[3], "h_prev", g.H, 0)) || !(sq = take(&g, args[4], "dh_sq", 1, 0))) {
        release(&g);
        return NULL;
    }
    CALL(gru_bwd_nz, F(a), F(dh), F(dy), F(hp), F(sq), g.H, B, g.N);
    release(&g);
    Py_RETURN_NONE;
}

/* gru_backward_r(a, drh, hm, B)   (reset_after=False, second half) */
static PyObject *gru_backward_r(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long B;
    char *a, *drh, *hm;
    if (parse(args, nargs, 4, "gru_backward_r", &B, NULL) < 0) return NULL;
    if (!(a = take(&g, args[0], "a", -3, 0)) || check_B(&g, B) < 0 ||
        !(drh = take(&g, args[1], "drh", 0, g.H * B)) || !(hm = take(&g, args[2], "hm", g.H, 0))) {
        release(&g);
        return NULL;
    }
    long H = g.H, N = g.N;
    CALL(gru_bwd_r, F(a), F(drh), F(hm), H, B, N);
    if (B < N) zero_tail(a, 3 * H, B, N, g.size);
    release(&g);
    Py_RETURN_NONE;
}

/* activation(x, out, which): out = sigmoid(x) (which = 0) or tanh(x) (which = 1), elementwise
 * over two buffers of one size: the functions of vmath.h alone, for the tests (and students). */
static PyObject *activation(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Args g = {0};
    long n, which;
    char *x, *y;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_fused.activation takes 3 arguments, got %zd", nargs);
        return NULL;
    }
    which = PyLong_AsLong(args[2]);
    if (which == -1 && PyErr_Occurred()) return NULL;
    if (!(x = take(&g, args[0], "x", 0, 0))) goto fail;
    n = (long)(g.v[0].len / g.size);
    if (!(y = take(&g, args[1], "out", 0, n))) goto fail;
    CALL(activation, F(y), F(x), n, (int)which);
    release(&g);
    Py_RETURN_NONE;
fail:
    release(&g);
    return NULL;
}

#define DEF(name, doc) {#name, (PyCFunction)(void (*)(void))name, METH_FASTCALL, doc}

static PyMethodDef methods[] = {
    DEF(lstm_forward_step, "lstm_forward_step(a, gh, c_prev, h_prev, c, tc, h, B)"),
    DEF(lstm_backward_step, "lstm_backward_step(a, dh, dy, dc, c_prev, tc, dh_sq, B)"),
    DEF(rnn_forward_step, "rnn_forward_step(a, gh, h_prev, B, relu)"),
    DEF(rnn_backward_step, "rnn_backward_step(da, dh, dy, h, dh_sq, B, relu)"),
    DEF(gru_forward_step, "gru_forward_step(a, gh, bhn, h_prev, side, h, B)"),
    DEF(gru_backward_step, "gru_backward_step(a, dh, dy, h_prev, side, dah, dh_sq, B)"),
    DEF(gru_forward_rz, "gru_forward_rz(a, gh, hm, side, B)"),
    DEF(gru_forward_n, "gru_forward_n(a, gh, h_prev, h, B)"),
    DEF(gru_backward_nz, "gru_backward_nz(a, dh, dy, h_prev, dh_sq, B)"),
    DEF(gru_backward_r, "gru_backward_r(a, drh, hm, B)"),
    DEF(activation, "activation(x, out, which): out = sigmoid(x) (which=0) or tanh(x) (which=1)"),
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fused",
    "Fused elementwise time steps of RNN, LSTM and GRU (see rnnkit/kernels/csrc/).", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fused(void) { return PyModule_Create(&module); }
