/* Copying a sequence between the user's layout and the kernels' one.
 *
 * Included twice by module.c (REAL = float, double). dst[f, t, n] = src[f, t, n] for two
 * (F, T, N) arrays given by element strides: between (N, T, F) or (T, N, F) user arrays and
 * (F, T, N) kernel arrays this is a transpose of every step's (F, N) block. Done in square
 * tiles, each tile reads whole cache lines of one array and writes whole lines of the other,
 * where a plain loop would touch a new cache line at every element on one side.
 */

#define RK_TILE 16

static void RK(copy_seq)(REAL *restrict dst, const Py_ssize_t *ds, const REAL *restrict src, const Py_ssize_t *ss,
                         Py_ssize_t F, Py_ssize_t T, Py_ssize_t N)
{
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
