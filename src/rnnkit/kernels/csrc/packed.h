/* The per-step products of the float32 time loops with the weight packed once per call
 * (x86-64 with AVX-512, or AVX2 with FMA).
 *
 * A time step's product is C (M, n) = op(W) @ B (K, n), B's rows ldb values apart:
 *   forwards   gh = (this participant's G*hk rows of W_hh) @ h~_{t-1}   (K = H), and
 *              gx = (its rows of W_ih) @ x_t                           (K = I);
 *   backwards  dh[h0:h1] = W_hh[:, h0:h1].T @ da_t                      (M = hk, K = G*H);
 * n = B, the running columns (the batch). The weight is the same at every step. NumPy's OpenBLAS
 * copies it into its own panel layout on every call (hundreds of calls per sequence), and at such
 * short n its kernel reaches about 100 GFLOP/s a core on the development machine (Zen 4). Here each
 * participant packs its op(W) once, at the start of its loop (pk_pack; or, where the participants
 * claim chunks of units, each its share of one op(W) for all), into blocks of PK_MR
 * rows, k-major,
 *     Wp[q][k][r] = op(W)[q * PK_MR + r][k]        (0 for rows past M),
 * and one register-blocked kernel (pk_tile) computes a (nb * PK_MR, 16 * nv) tile of C per pass
 * over k, its nb * PK_MR * nv accumulators (at most 24 of the 32 vector registers) held in
 * registers throughout: per k, nv loads of B's row k, nb * PK_MR broadcasts from Wp and
 * nb * PK_MR * nv fused multiply-adds. About 115 GFLOP/s a core there, for M = 128..512,
 * K = 64..1024 and n = 64: 12-20% less time per product than OpenBLAS's sgemm. On a Zen 5 core
 * (512-bit units at full width) 220-227 GFLOP/s, where NumPy's OpenBLAS runs its AVX2 (Haswell)
 * kernel at about 100. Each element of
 * C is one running float sum of its K products, k = 0, 1, ... in turn.
 *
 * Columns go 64 at a time (nv = 4); the last tile of a row has nv = ceil(w / 16) vectors, its last
 * one masked (loads and stores past column n are suppressed). With fewer vectors a tile takes more
 * rows (nb = 2 for nv = 2, 4 for nv = 1), so that it keeps enough accumulators busy.
 *
 * The LSTM's forward step goes further (pk_gates): one product for z = W_hh h~ + W_ih x_t + b
 * (op(W) = [W_hh | W_ih], K = H + I, the bias in the accumulators), in tiles of 3 units' 4 gates
 * by 32 columns, and the gate pass (steps.h: lstm_fwd_z) on each 24 units' z while it is in the
 * first-level cache. Against two products, the pass a = W_ih x_t + b and a gate pass reading
 * both from memory, 4-6% less time per forward (14% against OpenBLAS).
 *
 * The kernel comes twice (packed_tile.h, included once per instruction set): for AVX-512F (zmm,
 * 16 lanes, as above) and for AVX2 with FMA (ymm, 8 lanes: 32 vector registers become 16, so
 * tiles of 6 x 16 and 12 x 8, and the fused step's tiles 6 rows by 16 columns), the best the CPU
 * runs (pk_lanes). On a Zen 3 core (AVX2) its plain products run at OpenBLAS's Haswell kernel's
 * speed, 84 against 82 GFLOP/s, near that core's peak, from a compact B (pk_product_via); the
 * loops gain from not repacking the weight at every step (RNN and GRU steps 1-10%) and from the
 * LSTM's fused step (forwards 1-19%).
 *
 * PK_BUILT is 1 where this is compiled (GCC or Clang on x86-64), 0 elsewhere; pk_supported() says
 * whether the CPU runs either (AVX-512F, or AVX2 and FMA, with the OS saving their registers). The
 * float32 loops use it for every step product from PK_MIN_N columns, whatever the weight
 * (module.c: loop_scratch; with fewer columns most of a vector would be masked off). With AVX-512
 * they once did so only from 16384 values of op(W) per participant: on a Zen 4 core (AVX-512 on
 * 256-bit units) OpenBLAS was as fast below that (M*K = 8192 and 12288). On a Zen 5 core (512-bit
 * units) the packed products of smaller weights took the RNN's training steps 27-30% less time at
 * 32x100x8x64 and 64x100x32x128 (its inference 31-42%), the GRU's 28% at 32x100x8x64: NumPy's
 * OpenBLAS 0.3.31 runs its AVX2 kernel there (it does not know the CPU, OpenBLAS issue 6029), and
 * repacks a small weight at every call on any CPU. The LSTM's fused forward step gains 3-15% at
 * H = 32 to 64; its backward's participants claim chunks of one packed W_hh.T (module.c:
 * loop_scratch). Its sums associate differently from the unfused ones ((b + W_hh h~) + W_ih x_t
 * against (W_ih x_t + b) + W_hh h~): the same to rounding, not bit for bit.
 */
#ifndef RNNKIT_PACKED_H
#define RNNKIT_PACKED_H

#define PK_MR 6       /* rows of op(W) per packed block */
#define PK_MIN_N 16   /* the fewest columns (batch) a loop uses packed products for */

#define PK_UNITS 24   /* units per epilogue call of pk_gates */
#define PK_COLS 32    /* columns per tile of pk_gates */

/* values in the packed op(W) of an (M, K) product: whole blocks of PK_MR rows */
static Py_ssize_t pk_values(Py_ssize_t M, Py_ssize_t K) { return (M + PK_MR - 1) / PK_MR * PK_MR * K; }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(RK_NO_PACKED)
#define PK_BUILT 1
#include <immintrin.h>

/* Pack op(W) (M = G * hk rows) into Wp, whose blocks hold Kt values of k each (Kt >= k0 + K):
 * Wp[q][k0 + k][r] = op(W)[q * PK_MR + r][k] for k < K, 0 for rows past M. Row r of op(W) is
 * (g, j), g < G, j < hk, at W + g * gs + j * rs, its element k at + k * ks; (g, j) =
 * (r / hk, r % hk) (gate-major: the rows of gate 0 first) or, with um, (r % G, r / G)
 * (unit-major: the G gates of a unit together, for pk_gates):
 *   forwards,  a participant's rows of W (G*H, K):   W = its first row, gs = H * K, rs = K, ks = 1;
 *   backwards, W_hh[:, h0:h1].T (G = 1):             W = W_hh + h0, gs = 0, rs = 1, ks = H. */
static void pk_pack(float *restrict Wp, Py_ssize_t Kt, Py_ssize_t k0, const float *restrict W, Py_ssize_t G,
                    Py_ssize_t gs, Py_ssize_t hk, Py_ssize_t rs, Py_ssize_t K, Py_ssize_t ks, int um)
{
    Py_ssize_t M = G * hk;
    for (Py_ssize_t q = 0; q * PK_MR < M; q++) {
        const float *src[PK_MR];
        for (int r = 0; r < PK_MR; r++) {
            Py_ssize_t row = q * PK_MR + r, g = um ? row % G : row / hk, j = um ? row / G : row % hk;
            src[r] = row < M ? W + g * gs + j * rs : NULL;
        }
        float *dst = Wp + (q * Kt + k0) * PK_MR;
        for (Py_ssize_t k = 0; k < K; k++, dst += PK_MR)
            for (int r = 0; r < PK_MR; r++) dst[r] = src[r] ? src[r][k * ks] : 0.0f;
    }
}

/* the kernel the products run on: 16 (AVX-512F), 8 (AVX2 with FMA) or 0 (none; the BLAS), the
 * best the CPU has unless module.c's packed_kernel() chose another; -1 until pk_supported() first
 * asks */
static int pk_lanes = -1;

/* whether the CPU runs the kernel of `lanes` (16: AVX-512F, 8: AVX2 with FMA);
 * __builtin_cpu_supports also checks that the OS saves the vector registers */
static int pk_runs(int lanes)
{
    __builtin_cpu_init();
    if (lanes == 16) return __builtin_cpu_supports("avx512f");
    return lanes == 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* whether the CPU runs either kernel; the first call sets pk_lanes to the best one (AVX-512F first) */
static int pk_supported(void)
{
    if (pk_lanes < 0) pk_lanes = pk_runs(16) ? 16 : pk_runs(8) ? 8 : 0;
    return pk_lanes > 0;
}

/* A step's whole gate pre-activations, for the 4 gates of each of `units` units (the LSTM's),
 *   z = W_hh h~ + W_ih x_t + b,
 * handed to an epilogue that finishes the step from them while they are in cache (sequence.h:
 * the LSTM's fused step): one product with K = H + I instead of two, the bias added in the
 * accumulators, and no pass over memory between the product and the gate pass. Wp is op(W) =
 * [W_hh | W_ih] (4 * units rows, unit-major, Kt = K + K2: pk_pack twice), bias its rows' biases
 * in the same order (whole blocks), B = h~ (K = H rows, ldb), B2 = x_t (K2 = I rows, ldb2).
 * Tiles of 3 units (12 rows: 2 blocks) by PK_COLS columns (AVX2: 6 rows by 16); the epilogue gets
 * PK_UNITS units by PK_COLS columns at a time: fn(ctx, u0, units, c0, w, z, ldz, gz), unit u0 + u's
 * gate g at column c0 + n in z[u * ldz + g * gz + n] (z: scratch of pk_gates_scratch(lanes, K + K2, n)
 * values). B and B2 as pk_gates_input gives them. */
typedef void (*pk_epilogue)(void *ctx, Py_ssize_t u0, Py_ssize_t units, Py_ssize_t c0, Py_ssize_t w,
                            const float *z, Py_ssize_t ldz, Py_ssize_t gz);

/* dst (rows, n), compact, = src (rows, n) with row stride ld: the compact copy of B that the AVX2
 * kernel reads where B's rows are far apart (pk_product_via, pk_gates_input) */
static void pk_compact(float *restrict dst, const float *restrict src, Py_ssize_t ld, Py_ssize_t rows, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < rows; k++) memcpy(dst + k * n, src + k * ld, (size_t)n * sizeof(float));
}

#define PK_LANES 16
#include "packed_tile.h"
#undef PK_LANES
#define PK_LANES 8
#include "packed_tile.h"
#undef PK_LANES

/* The functions below run on the kernel of `lanes` (16 or 8: pk_lanes as it was when the caller
 * started; a loop keeps the kernel it started with, whatever packed_kernel() does meanwhile). */

/* C (M, n) = op(W) @ B (K, n), or C += op(W) @ B with add: Wp the packed op(W) (pk_pack, Kt = K),
 * B and C with row strides ldb, ldc */
static void pk_product_to(int lanes, const float *Wp, Py_ssize_t M, Py_ssize_t K, const float *B, Py_ssize_t ldb,
                          Py_ssize_t n, float *C, Py_ssize_t ldc, int add)
{
    if (lanes == 16) pk_product_to_avx512(Wp, M, K, B, ldb, n, C, ldc, add);
    else pk_product_to_avx2(Wp, M, K, B, ldb, n, C, ldc, add);
}

/* C (M, n) = op(W) @ B (K, n) (pk_product_to) */
static void pk_product(int lanes, const float *Wp, Py_ssize_t M, Py_ssize_t K, const float *B, Py_ssize_t ldb,
                       Py_ssize_t n, float *C, Py_ssize_t ldc)
{
    pk_product_to(lanes, Wp, M, K, B, ldb, n, C, ldc, 0);
}

/* B's rows at least this many values apart are each on a page of their own (4 kB) */
#define PK_FAR_ROWS 1024

/* the values of the panel that pk_product_via needs for K rows of n columns: K * n for the AVX2
 * kernel, 0 (none) for the AVX-512 one */
static Py_ssize_t pk_panel_values(int lanes, Py_ssize_t K, Py_ssize_t n) { return lanes == 8 ? K * n : 0; }

/* C (M, n) = op(W) @ B (K, n) (pk_product), with the AVX2 kernel from a compact copy of B in
 * panel (pk_panel_values(lanes, K, n) values; NULL: none) where B's rows are PK_FAR_ROWS or more apart:
 * its tiles pass over B once per 6 or 12 rows of C and 16 columns, and B's rows a page apart
 * each (the time steps of (F, T, N) arrays) cost a TLB miss a row every time. On a Zen 3 core,
 * 128x1024 @ 1024x64: 346 us from rows 12800 values apart, 194 from a compact B (OpenBLAS's
 * sgemm, which copies B itself, 217). */
static void pk_product_via(int lanes, const float *Wp, Py_ssize_t M, Py_ssize_t K, const float *B, Py_ssize_t ldb,
                           Py_ssize_t n, float *C, Py_ssize_t ldc, float *panel)
{
    if (panel && ldb >= PK_FAR_ROWS && ldb != n) { /* a panel exists with the AVX2 kernel only */
        pk_compact(panel, B, ldb, K, n);
        B = panel, ldb = n;
    }
    pk_product_to(lanes, Wp, M, K, B, ldb, n, C, ldc, 0);
}

/* the values of pk_gates' scratch z: the pre-activations of PK_UNITS units by PK_COLS columns
 * and, for the AVX2 kernel, a compact copy of [B; B2] (Kt = K + K2 rows of n) */
static Py_ssize_t pk_gates_scratch(int lanes, Py_ssize_t Kt, Py_ssize_t n)
{
    return 4 * PK_UNITS * PK_COLS + (lanes == 8 ? Kt * n : 0);
}

/* [B; B2] as pk_gates reads them: for the AVX2 kernel a compact copy in z (pk_gates_scratch),
 * whose B and B2 replace the caller's (rows of B ldb values apart, of B2 ldb2); with AVX-512 B and
 * B2 themselves. Once per step: the step's pk_gates calls (one per claimed chunk) all read it. */
static void pk_gates_input(int lanes, Py_ssize_t K, const float **B, Py_ssize_t *ldb, Py_ssize_t K2, const float **B2,
                           Py_ssize_t *ldb2, Py_ssize_t n, float *z)
{
    if (lanes != 8) return;
    /* B's and B2's rows are pages apart (time steps of (F, T, N) arrays), and the AVX2 tiles pass
     * over them 4 times as often: a compact copy first, 5-19% faster forwards */
    float *Bc = z + 4 * PK_UNITS * PK_COLS;
    pk_compact(Bc, *B, *ldb, K, n);
    pk_compact(Bc + K * n, *B2, *ldb2, K2, n);
    *B = Bc, *ldb = n, *B2 = Bc + K * n, *ldb2 = n;
}

static void pk_gates(int lanes, const float *Wp, const float *bias, Py_ssize_t units, Py_ssize_t K, const float *B,
                     Py_ssize_t ldb, Py_ssize_t K2, const float *B2, Py_ssize_t ldb2, Py_ssize_t n, float *z,
                     pk_epilogue fn, void *ctx)
{
    if (lanes == 16) pk_gates_avx512(Wp, bias, units, K, B, ldb, K2, B2, ldb2, n, z, fn, ctx);
    else pk_gates_avx2(Wp, bias, units, K, B, ldb, K2, B2, ldb2, n, z, fn, ctx);
}

#else
#define PK_BUILT 0
static int pk_lanes = 0;
static int pk_supported(void) { return 0; }
static int pk_runs(int lanes) { (void)lanes; return 0; }
static Py_ssize_t pk_gates_scratch(int lanes, Py_ssize_t Kt, Py_ssize_t n)
{
    (void)lanes; (void)Kt; (void)n;
    return 4 * PK_UNITS * PK_COLS;
}
static Py_ssize_t pk_panel_values(int lanes, Py_ssize_t K, Py_ssize_t n)
{
    (void)lanes; (void)K; (void)n;
    return 0;
}
#endif

#endif
