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
 * K = 64..1024 and n = 64: 15-25% less time per product than OpenBLAS's sgemm. Each element of
 * C is one running float sum of its K products, k = 0, 1, ... in turn.
 *
 * Columns go 64 at a time (nv = 4); the last tile of a row has nv = ceil(w / 16) vectors, its last
 * one masked (loads and stores past column n are suppressed). With fewer vectors a tile takes more
 * rows (nb = 2 for nv = 2, 4 for nv = 1), so that it keeps enough accumulators busy.
 *
 * PK_BUILT is 1 where this is compiled (GCC or Clang on x86-64), 0 elsewhere; pk_supported() says
 * whether the CPU runs it (AVX-512F, with the OS saving its registers). The loops use it for
 * float32 with at least PK_MIN_N columns and PK_MIN_WEIGHT values of op(W) (module.c:
 * loop_scratch): with fewer columns most of a vector would be masked off, and with a smaller
 * weight OpenBLAS is as fast (measured: M*K = 8192 and 12288 no faster, 16384 15% faster).
 */
#ifndef RNNKIT_PACKED_H
#define RNNKIT_PACKED_H

#define PK_MR 6       /* rows of op(W) per packed block */
#define PK_MIN_N 16   /* the fewest columns (batch) a loop uses packed products for */
#define PK_MIN_WEIGHT 16384 /* and the fewest values of op(W) (M * K) per participant: below it, OpenBLAS's
                               own packing costs little and its kernel is as fast */

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

/* Wp = op(W) packed (M = G * hk rows, K columns). Row r = g * hk + j (g < G, j < hk) of op(W) is at
 * W + g * gs + j * rs, and its element k at + k * ks:
 *   forwards,  op(W) = a participant's rows of W (G*H, K):   gs = H * K, rs = K, ks = 1;
 *   backwards, op(W) = W_hh[:, h0:h1].T (G = 1):             gs = 0, rs = 1, ks = H. */
static void pk_pack(float *restrict Wp, const float *restrict W, Py_ssize_t G, Py_ssize_t gs, Py_ssize_t hk,
                    Py_ssize_t rs, Py_ssize_t K, Py_ssize_t ks)
{
    Py_ssize_t M = G * hk;
    for (Py_ssize_t q = 0; q * PK_MR < M; q++) {
        const float *src[PK_MR];
        for (int r = 0; r < PK_MR; r++) {
            Py_ssize_t row = q * PK_MR + r;
            src[r] = row < M ? W + row / hk * gs + row % hk * rs : NULL;
        }
        float *dst = Wp + q * PK_MR * K;
        for (Py_ssize_t k = 0; k < K; k++, dst += PK_MR)
            for (int r = 0; r < PK_MR; r++) dst[r] = src[r] ? src[r][k * ks] : 0.0f;
    }
}

/* One tile: rows [0, min(rows, nb * PK_MR)) and nv vectors of columns of C (row stride ldc) from
 * nb consecutive packed blocks at w (PK_MR * K values each) and B (row stride ldb) from its first
 * column; the last vector's columns are those of mask `last`. nb and nv are constants wherever it
 * is inlined, so the accumulators live in registers. */
PK_TARGET static inline __attribute__((always_inline)) void pk_tile(const int nb, const int nv, const float *w,
                                                                     Py_ssize_t K, const float *b, Py_ssize_t ldb,
                                                                     __mmask16 last, float *C, Py_ssize_t ldc,
                                                                     Py_ssize_t rows)
{
    __m512 acc[4 * PK_MR][4];
#pragma GCC unroll 24
    for (int r = 0; r < nb * PK_MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (Py_ssize_t k = 0; k < K; k++, b += ldb, w += PK_MR) {
        __m512 x[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            x[v] = v < nv - 1 ? _mm512_loadu_ps(b + 16 * v) : _mm512_maskz_loadu_ps(last, b + 16 * v);
#pragma GCC unroll 4
        for (int q = 0; q < nb; q++)
#pragma GCC unroll 6
            for (int r = 0; r < PK_MR; r++) {
                __m512 a = _mm512_set1_ps(w[q * PK_MR * K + r]);
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++) acc[q * PK_MR + r][v] = _mm512_fmadd_ps(a, x[v], acc[q * PK_MR + r][v]);
            }
    }
#pragma GCC unroll 24
    for (int r = 0; r < nb * PK_MR; r++) {
        if (r >= rows) break;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            if (v < nv - 1) _mm512_storeu_ps(C + r * ldc + 16 * v, acc[r][v]);
            else _mm512_mask_storeu_ps(C + r * ldc + 16 * v, last, acc[r][v]);
        }
    }
}

/* the tiles of nv vectors over all row blocks: nb blocks at a time, then one at a time */
#define PK_TILES(nb, nv)                                                                              \
    do {                                                                                              \
        Py_ssize_t q = 0;                                                                             \
        for (; q + (nb) <= blocks; q += (nb))                                                         \
            pk_tile(nb, nv, Wp + q * PK_MR * K, K, b, ldb, last, c + q * PK_MR * ldc, ldc, M - q * PK_MR); \
        for (; q < blocks; q++)                                                                       \
            pk_tile(1, nv, Wp + q * PK_MR * K, K, b, ldb, last, c + q * PK_MR * ldc, ldc, M - q * PK_MR); \
    } while (0)

/* C (M, n) = op(W) @ B (K, n): Wp the packed op(W) (pk_pack), B and C with row strides ldb, ldc */
PK_TARGET static void pk_product(const float *Wp, Py_ssize_t M, Py_ssize_t K, const float *B, Py_ssize_t ldb,
                                 Py_ssize_t n, float *C, Py_ssize_t ldc)
{
    Py_ssize_t blocks = (M + PK_MR - 1) / PK_MR;
    for (Py_ssize_t c0 = 0; c0 < n; c0 += 64) {
        Py_ssize_t w = n - c0 < 64 ? n - c0 : 64;
        int nv = (int)((w + 15) / 16);
        __mmask16 last = (__mmask16)(0xFFFFu >> (16 * nv - w));
        const float *b = B + c0;
        float *c = C + c0;
        switch (nv) {
        case 4: PK_TILES(1, 4); break;
        case 3: PK_TILES(1, 3); break;
        case 2: PK_TILES(2, 2); break;
        default: PK_TILES(4, 1); break;
        }
    }
}
#undef PK_TILES

#else
#define PK_BUILT 0
static int pk_supported(void) { return 0; }
#endif

#endif
