/* The per-step products of the float32 time loops with the weight packed once per call
 * (x86-64 with AVX-512).
 *
 * A time step's product is C (M, n) = op(W) @ B (K, n), B's rows ldb values apart:
 *   forwards   gh = (this participant's G*hk rows of W_hh) @ h~_{t-1}   (K = H), and
 *              gx = (its rows of W_ih) @ x_t                           (K = I);
 *   backwards  dh[h0:h1] = W_hh[:, h0:h1].T @ da_t                      (M = hk, K = G*H);
 * n = B, the running columns (the batch). The weight is the same at every step. NumPy's OpenBLAS
 * copies it into its own panel layout on every call (hundreds of calls per sequence), and at such
 * short n its kernel reaches about 100 GFLOP/s a core on the development machine (Zen 4). Here each
 * participant packs its op(W) once, at the start of its loop (pk_pack), into blocks of PK_MR
 * rows, k-major,
 *     Wp[q][k][r] = op(W)[q * PK_MR + r][k]        (0 for rows past M),
 * and one register-blocked kernel (pk_tile) computes a (nb * PK_MR, 16 * nv) tile of C per pass
 * over k, its nb * PK_MR * nv accumulators (at most 24 of the 32 vector registers) held in
 * registers throughout: per k, nv loads of B's row k, nb * PK_MR broadcasts from Wp and
 * nb * PK_MR * nv fused multiply-adds. About 115 GFLOP/s a core there, for M = 128..512,
 * K = 64..1024 and n = 64: 12-20% less time per product than OpenBLAS's sgemm. Each element of
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
 * PK_BUILT is 1 where this is compiled (GCC or Clang on x86-64), 0 elsewhere; pk_supported() says
 * whether the CPU runs it (AVX-512F, with the OS saving its registers). The loops use it for
 * float32 with at least PK_MIN_N columns and PK_MIN_WEIGHT values of op(W) (module.c:
 * loop_scratch): with fewer columns most of a vector would be masked off, and with a smaller
 * weight OpenBLAS is as fast (measured: M*K = 8192 and 12288 no faster, 16384 15% faster). The
 * LSTM's fused step pays whatever the weight (3-15% faster forwards at H = 32 to 64), from
 * PK_MIN_N columns. Its sums associate differently from the unfused ones ((b + W_hh h~) + W_ih x_t
 * against (W_ih x_t + b) + W_hh h~): the same to rounding, not bit for bit.
 */
#ifndef RNNKIT_PACKED_H
#define RNNKIT_PACKED_H

#define PK_MR 6       /* rows of op(W) per packed block */
#define PK_MIN_N 16   /* the fewest columns (batch) a loop uses packed products for */
#define PK_MIN_WEIGHT 16384 /* and the fewest values of op(W) (M * K) per participant: below it, OpenBLAS's
                               own packing costs little and its kernel is as fast */

#define PK_UNITS 24   /* units per epilogue call of pk_gates */
#define PK_COLS 32    /* columns per tile of pk_gates */

/* values in the packed op(W) of an (M, K) product: whole blocks of PK_MR rows */
static Py_ssize_t pk_values(Py_ssize_t M, Py_ssize_t K) { return (M + PK_MR - 1) / PK_MR * PK_MR * K; }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(RK_NO_PACKED)
#define PK_BUILT 1
#include <immintrin.h>

#define PK_TARGET __attribute__((target("avx512f")))

static int pk_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

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

/* One tile: rows [0, min(rows, nb * PK_MR)) and nv vectors of columns of
 *   C = op(W) @ [B; B2] (+ bias),
 * from nb consecutive packed blocks at w (PK_MR * (K + K2) values each), B (K rows, row stride
 * ldb) and B2 (K2 rows, ldb2; K2 = 0: none) from their first column, bias (one value per row,
 * or NULL). The last vector's columns are those of mask `last`. Row r of the tile goes to
 * C + (r / G) * ldc + (r % G) * cg (G = 1: row r at C + r * ldc); with add (G = 1), it is added
 * to what C holds there. nb, nv, G and add are constants wherever this is inlined, so the
 * accumulators live in registers. */
PK_TARGET static inline __attribute__((always_inline)) void pk_tile(
    const int nb, const int nv, const int G, const int add, const float *w, Py_ssize_t K, const float *b,
    Py_ssize_t ldb, Py_ssize_t K2, const float *b2, Py_ssize_t ldb2, const float *bias, __mmask16 last, float *C,
    Py_ssize_t ldc, Py_ssize_t cg, Py_ssize_t rows)
{
    __m512 acc[4 * PK_MR][4];
    Py_ssize_t bs = PK_MR * (K + K2); /* block stride */
#pragma GCC unroll 24
    for (int r = 0; r < nb * PK_MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[r][v] = bias ? _mm512_set1_ps(bias[r]) : _mm512_setzero_ps();
    if (add) /* C += ...: start from C's rows (G = 1) */
#pragma GCC unroll 24
        for (int r = 0; r < nb * PK_MR && r < rows; r++)
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = v < nv - 1 ? _mm512_loadu_ps(C + r * ldc + 16 * v)
                                       : _mm512_maskz_loadu_ps(last, C + r * ldc + 16 * v);
    for (int part = 0; part < 2; part++) {
        Py_ssize_t n = part ? K2 : K, ld = part ? ldb2 : ldb;
        const float *bk = part ? b2 : b;
        for (Py_ssize_t k = 0; k < n; k++, bk += ld, w += PK_MR) {
            __m512 x[4];
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                x[v] = v < nv - 1 ? _mm512_loadu_ps(bk + 16 * v) : _mm512_maskz_loadu_ps(last, bk + 16 * v);
#pragma GCC unroll 4
            for (int q = 0; q < nb; q++)
#pragma GCC unroll 6
                for (int r = 0; r < PK_MR; r++) {
                    __m512 a = _mm512_set1_ps(w[q * bs + r]);
#pragma GCC unroll 4
                    for (int v = 0; v < nv; v++)
                        acc[q * PK_MR + r][v] = _mm512_fmadd_ps(a, x[v], acc[q * PK_MR + r][v]);
                }
        }
    }
#pragma GCC unroll 24
    for (int r = 0; r < nb * PK_MR; r++) {
        if (r >= rows) break;
        float *c = C + (r / G) * ldc + (r % G) * cg;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            if (v < nv - 1) _mm512_storeu_ps(c + 16 * v, acc[r][v]);
            else _mm512_mask_storeu_ps(c + 16 * v, last, acc[r][v]);
        }
    }
}

/* the mask of the last of the vectors that hold w columns (1 <= w <= 16 * vectors) */
static inline __mmask16 pk_last(Py_ssize_t w, int nv) { return (__mmask16)(0xFFFFu >> (16 * nv - w)); }

/* the tiles of nv vectors over all row blocks: nb blocks at a time, then one at a time */
#define PK_TILES(nb, nv, add)                                                                         \
    do {                                                                                              \
        Py_ssize_t q = 0;                                                                             \
        for (; q + (nb) <= blocks; q += (nb))                                                         \
            pk_tile(nb, nv, 1, add, Wp + q * PK_MR * K, K, b, ldb, 0, NULL, 0, NULL, last, c + q * PK_MR * ldc, \
                    ldc, 0, M - q * PK_MR);                                                           \
        for (; q < blocks; q++)                                                                       \
            pk_tile(1, nv, 1, add, Wp + q * PK_MR * K, K, b, ldb, 0, NULL, 0, NULL, last, c + q * PK_MR * ldc, \
                    ldc, 0, M - q * PK_MR);                                                           \
    } while (0)

/* C (M, n) = op(W) @ B (K, n), or C += op(W) @ B with add: Wp the packed op(W) (pk_pack, Kt = K),
 * B and C with row strides ldb, ldc */
PK_TARGET static void pk_product_to(const float *Wp, Py_ssize_t M, Py_ssize_t K, const float *B, Py_ssize_t ldb,
                                    Py_ssize_t n, float *C, Py_ssize_t ldc, int add)
{
    Py_ssize_t blocks = (M + PK_MR - 1) / PK_MR;
    for (Py_ssize_t c0 = 0; c0 < n; c0 += 64) {
        Py_ssize_t w = n - c0 < 64 ? n - c0 : 64;
        int nv = (int)((w + 15) / 16);
        __mmask16 last = pk_last(w, nv);
        const float *b = B + c0;
        float *c = C + c0;
        switch (nv * 2 + !!add) {
        case 8: PK_TILES(1, 4, 0); break;
        case 9: PK_TILES(1, 4, 1); break;
        case 6: PK_TILES(1, 3, 0); break;
        case 7: PK_TILES(1, 3, 1); break;
        case 4: PK_TILES(2, 2, 0); break;
        case 5: PK_TILES(2, 2, 1); break;
        case 2: PK_TILES(4, 1, 0); break;
        default: PK_TILES(4, 1, 1); break;
        }
    }
}
#undef PK_TILES

/* C (M, n) = op(W) @ B (K, n) (pk_product_to) */
PK_TARGET static void pk_product(const float *Wp, Py_ssize_t M, Py_ssize_t K, const float *B, Py_ssize_t ldb,
                                 Py_ssize_t n, float *C, Py_ssize_t ldc)
{
    pk_product_to(Wp, M, K, B, ldb, n, C, ldc, 0);
}

/* A step's whole gate pre-activations, for the 4 gates of each of `units` units (the LSTM's),
 *   z = W_hh h~ + W_ih x_t + b,
 * handed to an epilogue that finishes the step from them while they are in cache (sequence.h:
 * the LSTM's fused step): one product with K = H + I instead of two, the bias added in the
 * accumulators, and no pass over memory between the product and the gate pass. Wp is op(W) =
 * [W_hh | W_ih] (4 * units rows, unit-major, Kt = K + K2: pk_pack twice), bias its rows' biases
 * in the same order (whole blocks), B = h~ (K = H rows, ldb), B2 = x_t (K2 = I rows, ldb2).
 * Tiles of 3 units (12 rows: 2 blocks) by PK_COLS columns; the epilogue gets PK_UNITS units by
 * PK_COLS columns at a time: fn(ctx, u0, units, c0, w, z, ldz, gz), unit u0 + u's gate g at column
 * c0 + n in z[u * ldz + g * gz + n] (z: scratch of 4 * PK_UNITS * PK_COLS values). */
typedef void (*pk_epilogue)(void *ctx, Py_ssize_t u0, Py_ssize_t units, Py_ssize_t c0, Py_ssize_t w,
                            const float *z, Py_ssize_t ldz, Py_ssize_t gz);

PK_TARGET static void pk_gates(const float *Wp, const float *bias, Py_ssize_t units, Py_ssize_t K, const float *B,
                               Py_ssize_t ldb, Py_ssize_t K2, const float *B2, Py_ssize_t ldb2, Py_ssize_t n,
                               float *z, pk_epilogue fn, void *ctx)
{
    Py_ssize_t Kt = K + K2, M = 4 * units, gz = PK_UNITS * PK_COLS;
    for (Py_ssize_t u0 = 0; u0 < units; u0 += PK_UNITS) {
        Py_ssize_t ug = units - u0 < PK_UNITS ? units - u0 : PK_UNITS;
        for (Py_ssize_t c0 = 0; c0 < n; c0 += PK_COLS) {
            Py_ssize_t w = n - c0 < PK_COLS ? n - c0 : PK_COLS;
            int nv = w > 16 ? 2 : 1;
            __mmask16 last = pk_last(w, nv);
            for (Py_ssize_t u = u0; u < u0 + ug; u += 3) { /* rows 4u.., blocks 4u / PK_MR.. */
                const float *wt = Wp + 4 * u * Kt, *bt = bias + 4 * u;
                float *zt = z + (u - u0) * PK_COLS;
                Py_ssize_t rows = M - 4 * u;
                if (rows > PK_MR && nv == 2)
                    pk_tile(2, 2, 4, 0, wt, K, B + c0, ldb, K2, B2 + c0, ldb2, bt, last, zt, PK_COLS, gz, rows);
                else if (rows > PK_MR)
                    pk_tile(2, 1, 4, 0, wt, K, B + c0, ldb, K2, B2 + c0, ldb2, bt, last, zt, PK_COLS, gz, rows);
                else if (nv == 2)
                    pk_tile(1, 2, 4, 0, wt, K, B + c0, ldb, K2, B2 + c0, ldb2, bt, last, zt, PK_COLS, gz, rows);
                else
                    pk_tile(1, 1, 4, 0, wt, K, B + c0, ldb, K2, B2 + c0, ldb2, bt, last, zt, PK_COLS, gz, rows);
            }
            fn(ctx, u0, ug, c0, w, z, PK_COLS, gz);
        }
    }
}

#else
#define PK_BUILT 0
static int pk_supported(void) { return 0; }
#endif

#endif
