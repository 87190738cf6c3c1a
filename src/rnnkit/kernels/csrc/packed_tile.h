/* One instruction set's packed kernel (packed.h): included twice, with PK_LANES = 16 (AVX-512F,
 * zmm registers) and PK_LANES = 8 (AVX2 with FMA, ymm), each time defining PKN(name) = name_avx512
 * or name_avx2. The same algorithm in both; only the tile shapes differ, by how many registers
 * hold accumulators (32 vector registers with AVX-512, 16 with AVX2):
 *
 *                    AVX-512 (16 lanes)                 AVX2 (8 lanes)
 *   pk_product_to    64 columns at a time: 6 x 64,      16 at a time: 6 x 16,
 *                    6 x 48, 12 x 32, 24 x 16 tiles     12 x 8 tiles
 *   pk_gates         12 rows (3 units) x 32 columns     6 rows x 16 columns (twice each)
 *
 * at most 24 accumulators with AVX-512 and 12 with AVX2, beside the vectors of B's row k and the
 * broadcast weight.
 */

#if PK_LANES == 16
#define PKN(name) name##_avx512
#define PK_TGT __attribute__((target("avx512f")))
#define PKV __m512
#define PK_MASK __mmask16
#define PK_LOAD(p) _mm512_loadu_ps(p)
#define PK_MLOAD(m, p) _mm512_maskz_loadu_ps(m, p)
#define PK_STORE(p, v) _mm512_storeu_ps(p, v)
#define PK_MSTORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define PK_SET1(x) _mm512_set1_ps(x)
#define PK_ZERO() _mm512_setzero_ps()
#define PK_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define PK_NB 4 /* the most blocks of PK_MR rows per tile */
#define PK_NV 4 /* the most vectors of columns per tile */
#elif PK_LANES == 8
#define PKN(name) name##_avx2
#define PK_TGT __attribute__((target("avx2,fma")))
#define PKV __m256
#define PK_MASK __m256i
#define PK_LOAD(p) _mm256_loadu_ps(p)
#define PK_MLOAD(m, p) _mm256_maskload_ps(p, m)
#define PK_STORE(p, v) _mm256_storeu_ps(p, v)
#define PK_MSTORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#define PK_SET1(x) _mm256_set1_ps(x)
#define PK_ZERO() _mm256_setzero_ps()
#define PK_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define PK_NB 2
#define PK_NV 2
#else
#error "packed_tile.h: PK_LANES must be 16 or 8"
#endif

/* One tile: rows [0, min(rows, nb * PK_MR)) and nv vectors (of PK_LANES columns) of
 *   C = op(W) @ [B; B2] (+ bias),
 * from nb consecutive packed blocks at w (PK_MR * (K + K2) values each), B (K rows, row stride
 * ldb) and B2 (K2 rows, ldb2; K2 = 0: none) from their first column, bias (one value per row,
 * or NULL). The last vector's columns are those of mask `last`. Row r of the tile is row r0 + r
 * of a group that goes to C + ((r0 + r) / G) * ldc + ((r0 + r) % G) * cg (G = 1: row r at C +
 * r * ldc); with add (G = 1), it is added to what C holds there. nb, nv, G, r0 and add are
 * constants wherever this is inlined, so the accumulators live in registers. */
PK_TGT static inline __attribute__((always_inline)) void PKN(pk_tile)(
    const int nb, const int nv, const int G, const int r0, const int add, const float *w, Py_ssize_t K, const float *b,
    Py_ssize_t ldb, Py_ssize_t K2, const float *b2, Py_ssize_t ldb2, const float *bias, PK_MASK last, float *C,
    Py_ssize_t ldc, Py_ssize_t cg, Py_ssize_t rows)
{
    PKV acc[PK_NB * PK_MR][PK_NV];
    Py_ssize_t bs = PK_MR * (K + K2); /* block stride */
#pragma GCC unroll 24
    for (int r = 0; r < nb * PK_MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[r][v] = bias ? PK_SET1(bias[r]) : PK_ZERO();
    /* C += ...: start from C's rows (G = 1). Unrolled over all nb * PK_MR rows, each under its own
     * test: with a loop bounded by `rows` as well, GCC 12 kept the accumulators of the add tiles
     * on the stack (pk_product_to_avx512: 96 vector loads and stores on the stack; none now), and
     * the chunk weight gradients with I = 8 (24 x 16 tiles) took 25% longer (LSTM training steps
     * 5% less time now at 32x100x8x64; the same results bit for bit) */
    if (add)
#pragma GCC unroll 24
        for (int r = 0; r < nb * PK_MR; r++)
            if (r < rows)
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++)
                    acc[r][v] = v < nv - 1 ? PK_LOAD(C + r * ldc + PK_LANES * v)
                                           : PK_MLOAD(last, C + r * ldc + PK_LANES * v);
    for (int part = 0; part < 2; part++) {
        Py_ssize_t n = part ? K2 : K, ld = part ? ldb2 : ldb;
        const float *bk = part ? b2 : b;
        for (Py_ssize_t k = 0; k < n; k++, bk += ld, w += PK_MR) {
            PKV x[PK_NV];
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                x[v] = v < nv - 1 ? PK_LOAD(bk + PK_LANES * v) : PK_MLOAD(last, bk + PK_LANES * v);
#pragma GCC unroll 4
            for (int q = 0; q < nb; q++)
#pragma GCC unroll 6
                for (int r = 0; r < PK_MR; r++) {
                    PKV a = PK_SET1(w[q * bs + r]);
#pragma GCC unroll 4
                    for (int v = 0; v < nv; v++)
                        acc[q * PK_MR + r][v] = PK_FMA(a, x[v], acc[q * PK_MR + r][v]);
                }
        }
    }
#pragma GCC unroll 24
    for (int r = 0; r < nb * PK_MR; r++) {
        if (r >= rows) break;
        float *c = C + ((r0 + r) / G) * ldc + ((r0 + r) % G) * cg;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            if (v < nv - 1) PK_STORE(c + PK_LANES * v, acc[r][v]);
            else PK_MSTORE(c + PK_LANES * v, last, acc[r][v]);
        }
    }
}


/* the mask of the last of the nv vectors that hold w columns (1 <= w <= PK_LANES * nv) */
#if PK_LANES == 16
PK_TGT static inline PK_MASK PKN(pk_last)(Py_ssize_t w, int nv) { return (__mmask16)(0xFFFFu >> (16 * nv - w)); }
#else
PK_TGT static inline PK_MASK PKN(pk_last)(Py_ssize_t w, int nv)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(w - 8 * (nv - 1))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

/* C (M, n) = op(W) @ B (K, n), or C += op(W) @ B with add: Wp the packed op(W) (pk_pack, Kt = K),
 * B and C with row strides ldb, ldc */
#if PK_LANES == 16
/* the tiles of nv vectors over all row blocks: nb blocks at a time, then one at a time */
#define PK_TILES(nb, nv, add)                                                                         \
    do {                                                                                              \
        Py_ssize_t q = 0;                                                                             \
        for (; q + (nb) <= blocks; q += (nb))                                                         \
            PKN(pk_tile)(nb, nv, 1, 0, add, Wp + q * PK_MR * K, K, b, ldb, 0, NULL, 0, NULL, last,     \
                         c + q * PK_MR * ldc, ldc, 0, M - q * PK_MR);                                 \
        for (; q < blocks; q++)                                                                       \
            PKN(pk_tile)(1, nv, 1, 0, add, Wp + q * PK_MR * K, K, b, ldb, 0, NULL, 0, NULL, last,      \
                         c + q * PK_MR * ldc, ldc, 0, M - q * PK_MR);                                 \
    } while (0)

/* by 64 columns (mostly one pass: n is the batch), all row blocks in each */
PK_TGT static void PKN(pk_product_to)(const float *Wp, Py_ssize_t M, Py_ssize_t K, const float *B, Py_ssize_t ldb,
                                      Py_ssize_t n, float *C, Py_ssize_t ldc, int add)
{
    Py_ssize_t blocks = (M + PK_MR - 1) / PK_MR;
    for (Py_ssize_t c0 = 0; c0 < n; c0 += 64) {
        Py_ssize_t w = n - c0 < 64 ? n - c0 : 64;
        int nv = (int)((w + 15) / 16);
        PK_MASK last = PKN(pk_last)(w, nv);
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
#else
/* by row blocks, all columns 16 at a time in each: a block of Wp (PK_MR * K values) is read once
 * and stays in cache over the columns (by columns first, as above, all of Wp would be read from
 * memory again for every 16 of them) */
#define PK_ROW_TILES(p, nb, nv)                                                                        \
    do {                                                                                              \
        if (add)                                                                                      \
            PKN(pk_tile)(nb, nv, 1, 0, 1, Wp + (p) * PK_MR * K, K, B + c0, ldb, 0, NULL, 0, NULL, last, \
                         C + (p) * PK_MR * ldc + c0, ldc, 0, M - (p) * PK_MR);                        \
        else                                                                                          \
            PKN(pk_tile)(nb, nv, 1, 0, 0, Wp + (p) * PK_MR * K, K, B + c0, ldb, 0, NULL, 0, NULL, last, \
                         C + (p) * PK_MR * ldc + c0, ldc, 0, M - (p) * PK_MR);                        \
    } while (0)

PK_TGT static void PKN(pk_product_to)(const float *Wp, Py_ssize_t M, Py_ssize_t K, const float *B, Py_ssize_t ldb,
                                      Py_ssize_t n, float *C, Py_ssize_t ldc, int add)
{
    Py_ssize_t blocks = (M + PK_MR - 1) / PK_MR;
    for (Py_ssize_t q = 0; q < blocks; q += 2) { /* two blocks (12 rows) at a time, the last maybe one */
        int nb = q + 2 <= blocks ? 2 : 1;
        for (Py_ssize_t c0 = 0; c0 < n; c0 += 16) {
            Py_ssize_t w = n - c0 < 16 ? n - c0 : 16;
            PK_MASK last = PKN(pk_last)(w, w > 8 ? 2 : 1);
            if (w > 8) /* 6 x 16 tiles, block by block */
                for (Py_ssize_t p = q; p < q + nb; p++) PK_ROW_TILES(p, 1, 2);
            else if (nb == 2) /* one 12 x 8 tile */
                PK_ROW_TILES(q, 2, 1);
            else
                PK_ROW_TILES(q, 1, 1);
        }
    }
}
#undef PK_ROW_TILES
#endif

/* A step's whole gate pre-activations z = W_hh h~ + W_ih x_t + b for the 4 gates of each of
 * `units` units (packed.h: pk_gates; B and B2 as pk_gates_input gives them) */
PK_TGT static void PKN(pk_gates)(const float *Wp, const float *bias, Py_ssize_t units, Py_ssize_t K, const float *B,
                                 Py_ssize_t ldb, Py_ssize_t K2, const float *B2, Py_ssize_t ldb2, Py_ssize_t n,
                                 float *z, pk_epilogue fn, void *ctx)
{
    Py_ssize_t Kt = K + K2, M = 4 * units, gz = PK_UNITS * PK_COLS;
    for (Py_ssize_t u0 = 0; u0 < units; u0 += PK_UNITS) {
        Py_ssize_t ug = units - u0 < PK_UNITS ? units - u0 : PK_UNITS;
        for (Py_ssize_t c0 = 0; c0 < n; c0 += PK_COLS) {
            Py_ssize_t w = n - c0 < PK_COLS ? n - c0 : PK_COLS;
#if PK_LANES == 16
            int nv = w > 16 ? 2 : 1;
            PK_MASK last = PKN(pk_last)(w, nv);
            for (Py_ssize_t u = u0; u < u0 + ug; u += 3) { /* rows 4u.., blocks 4u / PK_MR.. */
                const float *wt = Wp + 4 * u * Kt, *bt = bias + 4 * u;
                float *zt = z + (u - u0) * PK_COLS;
                Py_ssize_t rows = M - 4 * u;
                if (rows > PK_MR && nv == 2)
                    PKN(pk_tile)(2, 2, 4, 0, 0, wt, K, B + c0, ldb, K2, B2 + c0, ldb2, bt, last, zt, PK_COLS, gz, rows);
                else if (rows > PK_MR)
                    PKN(pk_tile)(2, 1, 4, 0, 0, wt, K, B + c0, ldb, K2, B2 + c0, ldb2, bt, last, zt, PK_COLS, gz, rows);
                else if (nv == 2)
                    PKN(pk_tile)(1, 2, 4, 0, 0, wt, K, B + c0, ldb, K2, B2 + c0, ldb2, bt, last, zt, PK_COLS, gz, rows);
                else
                    PKN(pk_tile)(1, 1, 4, 0, 0, wt, K, B + c0, ldb, K2, B2 + c0, ldb2, bt, last, zt, PK_COLS, gz, rows);
            }
#else
            for (Py_ssize_t u = u0; u < u0 + ug; u += 3) { /* rows 4u.., blocks 4u / PK_MR.. */
                const float *wt = Wp + 4 * u * Kt, *bt = bias + 4 * u;
                Py_ssize_t rows = M - 4 * u;
                for (Py_ssize_t c1 = 0; c1 < w; c1 += 16) { /* 16 columns at a time */
                    Py_ssize_t w1 = w - c1 < 16 ? w - c1 : 16;
                    PK_MASK last = PKN(pk_last)(w1, w1 > 8 ? 2 : 1);
                    const float *b = B + c0 + c1, *b2 = B2 + c0 + c1;
                    float *zt = z + (u - u0) * PK_COLS + c1;
                    /* the group's rows 0-5, then 6-11 (from unit 1's gate 2: r0 = 6) */
                    if (w1 > 8) {
                        PKN(pk_tile)(1, 2, 4, 0, 0, wt, K, b, ldb, K2, b2, ldb2, bt, last, zt, PK_COLS, gz, rows);
                        if (rows > PK_MR)
                            PKN(pk_tile)(1, 2, 4, PK_MR, 0, wt + PK_MR * Kt, K, b, ldb, K2, b2, ldb2, bt + PK_MR, last,
                                         zt, PK_COLS, gz, rows - PK_MR);
                    } else {
                        PKN(pk_tile)(1, 1, 4, 0, 0, wt, K, b, ldb, K2, b2, ldb2, bt, last, zt, PK_COLS, gz, rows);
                        if (rows > PK_MR)
                            PKN(pk_tile)(1, 1, 4, PK_MR, 0, wt + PK_MR * Kt, K, b, ldb, K2, b2, ldb2, bt + PK_MR, last,
                                         zt, PK_COLS, gz, rows - PK_MR);
                    }
                }
            }
#endif
            fn(ctx, u0, ug, c0, w, z, PK_COLS, gz);
        }
    }
}

#undef PKN
#undef PK_TGT
#undef PKV
#undef PK_MASK
#undef PK_LOAD
#undef PK_MLOAD
#undef PK_STORE
#undef PK_MSTORE
#undef PK_SET1
#undef PK_ZERO
#undef PK_FMA
#undef PK_NB
#undef PK_NV
