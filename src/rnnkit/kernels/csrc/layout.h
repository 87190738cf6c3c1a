/* Copying a sequence between the user's layout and the kernels' one.
 *
 * Included twice by module.c (REAL = float, double). dst[f, t, n] = src[f, t, n] for two
 * (F, T, N) arrays given by element strides: between (N, T, F) or (T, N, F) user arrays and
 * (F, T, N) kernel arrays this is a transpose of every step's (F, N) block. Done in square
 * tiles, each tile reads whole cache lines of one array and writes whole lines of the other,
 * where a plain loop would touch a new cache line at every element on one side.
 */

#define RK_TILE 16

/* A full tile of the usual case, a transpose: d[n * ld_d + f] = s[f * ld_s + n] for f, n < 16.
 * The constant bounds let the compiler unroll it and keep the 16 rows in registers. */
static inline void RK(transpose_tile)(REAL *restrict d, Py_ssize_t ldd, const REAL *restrict s, Py_ssize_t lds)
{
    for (Py_ssize_t n = 0; n < RK_TILE; n++)
        for (Py_ssize_t f = 0; f < RK_TILE; f++) d[n * ldd + f] = s[f * lds + n];
}

/* d[c * ldd + r] = s[r * lds + c] for r < R, c < C: the (R, C) matrix s, transposed into d */
RK_TARGET_CLONES static void RK(transpose)(REAL *restrict d, Py_ssize_t ldd, const REAL *restrict s,
                                           Py_ssize_t lds, Py_ssize_t R, Py_ssize_t C)
{
    Py_ssize_t R16 = R - R % RK_TILE, C16 = C - C % RK_TILE;
    for (Py_ssize_t r0 = 0; r0 < R16; r0 += RK_TILE)
        for (Py_ssize_t c0 = 0; c0 < C16; c0 += RK_TILE)
            RK(transpose_tile)(d + c0 * ldd + r0, ldd, s + r0 * lds + c0, lds);
    for (Py_ssize_t r = 0; r < R; r++) /* the edges: rows past R16, columns past C16 */
        for (Py_ssize_t c = r < R16 ? C16 : 0; c < C; c++) d[c * ldd + r] = s[r * lds + c];
}

static void RK(copy_seq)(REAL *restrict dst, const Py_ssize_t *ds, const REAL *restrict src, const Py_ssize_t *ss,
                         Py_ssize_t F, Py_ssize_t T, Py_ssize_t N)
{
    /* the transposes between the layouts: src rows along n and dst rows along f, or the reverse */
    int to_user = ss[2] == 1 && ds[0] == 1, to_kernel = ss[0] == 1 && ds[2] == 1;
    if (to_user || to_kernel) {
        /* to_user: d[n * ds[2] + f] = s[f * ss[0] + n]; to_kernel: d[f * ds[0] + n] = s[n * ss[2] + f],
         * the same transpose with the roles of f and n swapped */
        Py_ssize_t R = to_user ? F : N, C = to_user ? N : F;         /* source rows, columns */
        Py_ssize_t lds = to_user ? ss[0] : ss[2], ldd = to_user ? ds[2] : ds[0];
        for (Py_ssize_t t = 0; t < T; t++) RK(transpose)(dst + t * ds[1], ldd, src + t * ss[1], lds, R, C);
        return;
    }
    for (Py_ssize_t t = 0; t < T; t++) {
        REAL *d = dst + t * ds[1];
        const REAL *s = src + t * ss[1];
        for (Py_ssize_t f0 = 0; f0 < F; f0 += RK_TILE) {
            Py_ssize_t f1 = f0 + RK_TILE < F ? f0 + RK_TILE : F;
            for (Py_ssize_t n0 = 0; n0 < N; n0 += RK_TILE) {
                Py_ssize_t n1 = n0 + RK_TILE < N ? n0 + RK_TILE : N;
                if (ds[2] == 1 || (ss[0] == 1 && ds[0] != 1)) /* dst contiguous along n: n inside */
                    for (Py_ssize_t f = f0; f < f1; f++)
                        for (Py_ssize_t n = n0; n < n1; n++) d[f * ds[0] + n * ds[2]] = s[f * ss[0] + n * ss[2]];
                else
                    for (Py_ssize_t n = n0; n < n1; n++)
                        for (Py_ssize_t f = f0; f < f1; f++) d[f * ds[0] + n * ds[2]] = s[f * ss[0] + n * ss[2]];
            }
        }
    }
}

#undef RK_TILE
