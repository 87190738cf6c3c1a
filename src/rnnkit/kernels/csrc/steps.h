/* One time step of each recurrent cell, fused: everything elementwise in one call (one pass over
 * each row; the LSTM's and GRU's forward steps two, see there).
 *
 * Included twice by module.c, with REAL = float and REAL = double (RK(name) appends _f or _d,
 * SIGMOID / TANH pick the matching functions of vmath.h). The time loops of sequence.h call one
 * of these per step after the recurrent product (and the kernels' Python loops in
 * rnnkit/kernels/{rnn,lstm,gru}.py do, through the *_step bindings); the kernels' docstrings
 * give the same equations.
 *
 * Arguments are (rows, N) blocks given by a pointer and a row stride `ld*` (in elements): the
 * step-t slice x[:, t] of a (F, T, N) sequence array has row stride T*N, a (H, N) state has
 * N, and the products NumPy writes per step are compact (G*H, B) blocks. Gate g of a (G*H, .)
 * block starts at row g*H. Only the B running columns (n < B) are touched; module.c handles
 * the finished ones.
 *
 * Every loop marked simd must compile to SIMD code: a small change (a branch inside the loop,
 * say) can make the compiler give up silently and a step 5x slower. tests/test_fused_build.py
 * reads GCC's vectoriser report and fails if one of them is not vectorised.
 */

#define TARGETS RK_TARGET_CLONES

/* LSTM, PyTorch gate order [i; f; g; o]. a = W_ih x_t + b (the input projection and the bias,
 * added before the step), gh = W_hh h~:
 *   i = sigma(a_i + gh_i)   f = sigma(a_f + gh_f)   g = tanh(a_g + gh_g)   o = sigma(a_o + gh_o)
 *   c = f * c_prev + i * g          tc = tanh(c)          h = o * tc
 * a is overwritten with the activations [i; f; g; o] that the backward step needs.
 *
 * Two passes over each row (or, for one sequence, over the rows): the four gates' activations,
 * then the cell from them (lstm_cell_row). Per element in one pass, the work was a chain of two
 * transcendental functions, a gate's and then tanh(c): some 200 instructions, more than the
 * CPU's out-of-order window overlaps with the next element's. Each pass's elements are
 * independent; the gate pass of the fused step took 47% less time for it (Zen 3, 32x100x8x64). */

/* the cell of B elements from their gates: c = f * cp + i * g, tc = tanh(c), h = o * tc (strides
 * s*, 1 for a row; the one-sequence forward's column of units has the arrays' row strides) */
RK_INLINE void RK(lstm_cell_row)(const REAL *restrict ai, const REAL *restrict af, const REAL *restrict ag,
                                 const REAL *restrict ao, Py_ssize_t sa, const REAL *restrict cp, Py_ssize_t scp,
                                 REAL *restrict c, Py_ssize_t sc, REAL *restrict tc, Py_ssize_t st, REAL *restrict h,
                                 Py_ssize_t sh, Py_ssize_t B)
{
    for (Py_ssize_t n = 0; n < B; n++) {  /* simd */
        REAL cn = af[n * sa] * cp[n * scp] + ai[n * sa] * ag[n * sa], t = TANH(cn);
        c[n * sc] = cn;
        tc[n * st] = t;
        h[n * sh] = ao[n * sa] * t;
    }
}

TARGETS static void RK(lstm_fwd)(REAL *restrict a, Py_ssize_t lda, Py_ssize_t ga, const REAL *restrict gh,
                                 Py_ssize_t ldg, Py_ssize_t gg, const REAL *restrict cp, Py_ssize_t ldcp, REAL *restrict c, Py_ssize_t ldc,
                                 REAL *restrict tc, Py_ssize_t ldt, REAL *restrict h, Py_ssize_t ldh, Py_ssize_t H, Py_ssize_t B)
{
    if (B == 1) { /* one sequence: vectorise across the rows instead */
        REAL *ai = a, *af = a + ga, *ag = af + ga, *ao = ag + ga;
        for (Py_ssize_t j = 0; j < H; j++) ai[j * lda] = SIGMOID(ai[j * lda] + gh[j * ldg]);  /* simd */
        for (Py_ssize_t j = 0; j < H; j++) af[j * lda] = SIGMOID(af[j * lda] + gh[gg + j * ldg]);  /* simd */
        for (Py_ssize_t j = 0; j < H; j++) ag[j * lda] = TANH(ag[j * lda] + gh[2 * gg + j * ldg]);  /* simd */
        for (Py_ssize_t j = 0; j < H; j++) ao[j * lda] = SIGMOID(ao[j * lda] + gh[3 * gg + j * ldg]);  /* simd */
        RK(lstm_cell_row)(ai, af, ag, ao, lda, cp, ldcp, c, ldc, tc, ldt, h, ldh, H);
        return;
    }
    for (Py_ssize_t j = 0; j < H; j++) {
        REAL *ai = a + j * lda, *af = ai + ga, *ag = af + ga, *ao = ag + ga;
        const REAL *g = gh + j * ldg;
        for (Py_ssize_t n = 0; n < B; n++) ai[n] = SIGMOID(ai[n] + g[n]);  /* simd */
        for (Py_ssize_t n = 0; n < B; n++) af[n] = SIGMOID(af[n] + g[gg + n]);  /* simd */
        for (Py_ssize_t n = 0; n < B; n++) ag[n] = TANH(ag[n] + g[2 * gg + n]);  /* simd */
        for (Py_ssize_t n = 0; n < B; n++) ao[n] = SIGMOID(ao[n] + g[3 * gg + n]);  /* simd */
        RK(lstm_cell_row)(ai, af, ag, ao, 1, cp + j * ldcp, 1, c + j * ldc, 1, tc + j * ldt, 1, h + j * ldh, 1, B);
    }
}

#if RK_PACKED /* used by the packed fused step only */
/* The same step from the whole pre-activations z = W_ih x_t + W_hh h~ + b, gate g of row j at
 * z[j * ldz + g * gz] (the one product of sequence.h's fused LSTM step): a, written only,
 * receives [i; f; g; o]. */
TARGETS static void RK(lstm_fwd_z)(REAL *restrict a, Py_ssize_t lda, Py_ssize_t ga, const REAL *restrict z,
                                   Py_ssize_t ldz, Py_ssize_t gz, const REAL *restrict cp, Py_ssize_t ldcp,
                                   REAL *restrict c, Py_ssize_t ldc, REAL *restrict tc, Py_ssize_t ldt,
                                   REAL *restrict h, Py_ssize_t ldh, Py_ssize_t H, Py_ssize_t B)
{
    for (Py_ssize_t j = 0; j < H; j++) {
        REAL *ai = a + j * lda, *af = ai + ga, *ag = af + ga, *ao = ag + ga;
        const REAL *zj = z + j * ldz;
        for (Py_ssize_t n = 0; n < B; n++) ai[n] = SIGMOID(zj[n]);  /* simd */
        for (Py_ssize_t n = 0; n < B; n++) af[n] = SIGMOID(zj[gz + n]);  /* simd */
        for (Py_ssize_t n = 0; n < B; n++) ag[n] = TANH(zj[2 * gz + n]);  /* simd */
        for (Py_ssize_t n = 0; n < B; n++) ao[n] = SIGMOID(zj[3 * gz + n]);  /* simd */
        RK(lstm_cell_row)(ai, af, ag, ao, 1, cp + j * ldcp, 1, c + j * ldc, 1, tc + j * ldt, 1, h + j * ldh, 1, B);
    }
}
#endif

/* LSTM backward; from a = [i; f; g; o] of the forward, [da_i; da_f; da_g; da_o]:
 *   d = dh + dy                          dh_sq[n] = sum_j d[j, n]^2
 *   dc = dc + d * o * (1 - tc^2)
 *   da_i = dc * g * i (1 - i)   da_f = dc * c_prev * f (1 - f)
 *   da_g = dc * i * (1 - g^2)   da_o = d * tc * o (1 - o)
 *   dc = dc * f                          (now dL/dc_{t-1})
 * into dah where it is not NULL (gate g of row j at dah + j * lddah + g * gdah; a left as it is):
 * the C loops' compact block for the product W_hh.T @ da that follows; else over a (the Python
 * loop's step). dh itself is left alone: the caller replaces it with W_hh.T @ da. */

/* one element of it: the four gate gradients into da[0..3], dc and dh_sq updated */
RK_INLINE void RK(lstm_bwd_point)(REAL i, REAL f, REAL g, REAL o, REAL dh, REAL dy, REAL *dc, REAL cp, REAL t,
                                  REAL *dh_sq, REAL *da)
{
    REAL d = dh + dy;
    *dh_sq += d * d;
    REAL dcn = *dc + d * o * (1 - t * t);
    da[0] = dcn * g * i * (1 - i);
    da[1] = dcn * cp * f * (1 - f);
    da[2] = dcn * i * (1 - g * g);
    da[3] = d * t * o * (1 - o);
    *dc = dcn * f;
}

TARGETS static void RK(lstm_bwd)(REAL *restrict a, Py_ssize_t lda, Py_ssize_t ga, const REAL *restrict dh,
                                 Py_ssize_t lddh,
                                 const REAL *restrict dy, Py_ssize_t ldy, REAL *restrict dc, Py_ssize_t lddc,
                                 const REAL *restrict cp, Py_ssize_t ldcp, const REAL *restrict tc, Py_ssize_t ldt,
                                 REAL *restrict dah, Py_ssize_t lddah, Py_ssize_t gdah, REAL *restrict dh_sq,
                                 Py_ssize_t H, Py_ssize_t B)
{
    for (Py_ssize_t n = 0; n < B; n++) dh_sq[n] = 0;
    for (Py_ssize_t j = 0; j < H; j++) {
        REAL *ai = a + j * lda, *af = ai + ga, *ag = af + ga, *ao = ag + ga;
        const REAL *dhj = dh + j * lddh, *dyj = dy + j * ldy, *cpj = cp + j * ldcp, *tj = tc + j * ldt;
        REAL *dcj = dc + j * lddc;
        /* two loops: with dah, a stays clean (no line of it is written back to memory); the
         * other writes over what it reads, which one body with restrict pointers could not */
        if (dah) {
            REAL *di = dah + j * lddah, *df = di + gdah, *dg = df + gdah, *dq = dg + gdah;
            for (Py_ssize_t n = 0; n < B; n++) {  /* simd */
                REAL da[4];
                RK(lstm_bwd_point)(ai[n], af[n], ag[n], ao[n], dhj[n], dyj[n], dcj + n, cpj[n], tj[n], dh_sq + n, da);
                di[n] = da[0];
                df[n] = da[1];
                dg[n] = da[2];
                dq[n] = da[3];
            }
            continue;
        }
        for (Py_ssize_t n = 0; n < B; n++) {  /* simd */
            REAL da[4];
            RK(lstm_bwd_point)(ai[n], af[n], ag[n], ao[n], dhj[n], dyj[n], dcj + n, cpj[n], tj[n], dh_sq + n, da);
            ai[n] = da[0];
            af[n] = da[1];
            ag[n] = da[2];
            ao[n] = da[3];
        }
    }
}

/* Elman RNN: a = phi(a + gh) in place, phi = tanh (relu = 0) or max(., 0) (NaN stays NaN).
 * One loop per phi: with the choice inside the loop the compiler leaves the tanh loop scalar. */
RK_INLINE void RK(tanh_point)(REAL *a, REAL gh) { *a = TANH(*a + gh); }

RK_INLINE void RK(relu_point)(REAL *a, REAL gh)
{
    REAL v = *a + gh;
    *a = v < 0 ? 0 : v;
}

TARGETS static void RK(rnn_fwd)(REAL *restrict a, Py_ssize_t lda, const REAL *restrict gh, Py_ssize_t ldg,
                                Py_ssize_t H, Py_ssize_t B, int relu)
{
    if (B == 1) { /* one sequence: vectorise across the rows instead */
        if (relu) for (Py_ssize_t j = 0; j < H; j++) RK(relu_point)(a + j * lda, gh[j * ldg]);  /* simd */
        else for (Py_ssize_t j = 0; j < H; j++) RK(tanh_point)(a + j * lda, gh[j * ldg]);  /* simd */
        return;
    }
    for (Py_ssize_t j = 0; j < H; j++) {
        REAL *aj = a + j * lda;
        const REAL *gj = gh + j * ldg;
        if (relu) for (Py_ssize_t n = 0; n < B; n++) RK(relu_point)(aj + n, gj[n]);  /* simd */
        else for (Py_ssize_t n = 0; n < B; n++) RK(tanh_point)(aj + n, gj[n]);  /* simd */
    }
}

/* Elman RNN backward: d = dh + dy, dh_sq as for the LSTM, da = d * phi'(a) with
 * tanh' = 1 - h^2 and relu' = [not h <= 0] (h = phi(a) from the forward; as PyTorch's
 * threshold_backward, a NaN h, from a NaN or inf - inf pre-activation, passes d on). da may be dy itself
 * (the same block: da is written over dy, as the C loop does with its copy of a user-layout
 * dy_t, and the Python loop with a dy it may overwrite). */
RK_INLINE void RK(rnn_bwd_point)(REAL *da, REAL dh, REAL dy, REAL h, REAL *dh_sq, int relu)
{
    REAL d = dh + dy;
    *dh_sq += d * d;
    *da = relu ? (h <= 0 ? 0 : d) : d * (1 - h * h);
}

TARGETS static void RK(rnn_bwd)(REAL *restrict da, Py_ssize_t ldda, const REAL *restrict dh, Py_ssize_t lddh,
                                const REAL *dy, Py_ssize_t ldy, const REAL *restrict h, Py_ssize_t ldh,
                                REAL *restrict dh_sq, Py_ssize_t H, Py_ssize_t B, int relu)
{
    int in_place = dy == da && ldy == ldda; /* then dy is read through da only */
    for (Py_ssize_t n = 0; n < B; n++) dh_sq[n] = 0;
    for (Py_ssize_t j = 0; j < H; j++) {
        const REAL *dhj = dh + j * lddh, *hj = h + j * ldh;
        REAL *daj = da + j * ldda;
        if (in_place)
            for (Py_ssize_t n = 0; n < B; n++) RK(rnn_bwd_point)(daj + n, dhj[n], daj[n], hj[n], dh_sq + n, relu);  /* simd */
        else {
            const REAL *restrict dyj = dy + j * ldy;
            for (Py_ssize_t n = 0; n < B; n++) RK(rnn_bwd_point)(daj + n, dhj[n], dyj[n], hj[n], dh_sq + n, relu);  /* simd */
        }
    }
}

/* GRU (reset_after, PyTorch and cuDNN), gate order [r; z; n]. a = W_ih x_t + b_ih (+ b_hh on
 * r and z), gh = W_hh h~, b_hn (H,):
 *   r = sigma(a_r + gh_r)   z = sigma(a_z + gh_z)   s = gh_n + b_hn
 *   n = tanh(a_n + r * s)   h = n + z * (h_prev - n)
 * a is overwritten with [r; z; n]; s is kept in side for the backward step. As the LSTM's, in
 * two passes (r and z, then the rest), so that no element chains two transcendental functions. */
RK_INLINE void RK(gru_rest)(REAL r, REAL z, REAL *an, REAL hn, REAL b, REAL hp, REAL *side, REAL *h)
{
    REAL s = hn + b;
    REAL n = TANH(*an + r * s);
    *an = n;
    *side = s;
    *h = n + z * (hp - n);
}

TARGETS static void RK(gru_fwd)(REAL *restrict a, Py_ssize_t lda, Py_ssize_t ga, const REAL *restrict gh,
                                Py_ssize_t ldg, Py_ssize_t gg, const REAL *restrict b_hn, const REAL *restrict hp, Py_ssize_t ldhp,
                                REAL *restrict side, Py_ssize_t lds, REAL *restrict h, Py_ssize_t ldh, Py_ssize_t H, Py_ssize_t B)
{
    if (B == 1) { /* one sequence: vectorise across the rows instead */
        REAL *ar = a, *az = a + ga, *an = az + ga;
        for (Py_ssize_t j = 0; j < H; j++) ar[j * lda] = SIGMOID(ar[j * lda] + gh[j * ldg]);  /* simd */
        for (Py_ssize_t j = 0; j < H; j++) az[j * lda] = SIGMOID(az[j * lda] + gh[gg + j * ldg]);  /* simd */
        for (Py_ssize_t j = 0; j < H; j++)  /* simd */
            RK(gru_rest)(ar[j * lda], az[j * lda], an + j * lda, gh[2 * gg + j * ldg], b_hn[j], hp[j * ldhp],
                         side + j * lds, h + j * ldh);
        return;
    }
    for (Py_ssize_t j = 0; j < H; j++) {
        REAL *ar = a + j * lda, *az = ar + ga, *an = az + ga, *sj = side + j * lds, *hj = h + j * ldh;
        const REAL *g = gh + j * ldg, *hpj = hp + j * ldhp;
        for (Py_ssize_t n = 0; n < B; n++) ar[n] = SIGMOID(ar[n] + g[n]);  /* simd */
        for (Py_ssize_t n = 0; n < B; n++) az[n] = SIGMOID(az[n] + g[gg + n]);  /* simd */
        for (Py_ssize_t n = 0; n < B; n++)  /* simd */
            RK(gru_rest)(ar[n], az[n], an + n, g[2 * gg + n], b_hn[j], hpj[n], sj + n, hj + n);
    }
}

/* GRU (reset_after) backward; a = [r; z; n] is overwritten with [da_r; da_z; da_n]:
 *   d = dh + dy          dh_sq as for the LSTM
 *   da_n = d (1 - z) (1 - n^2)     da_z = d (h_prev - n) z (1 - z)     da_r = da_n s r (1 - r)
 *   side = da_n * r                  (the n block of the recurrent side's gate gradient)
 *   dah = [da_r; da_z; da_n * r]     (compact, for dh~ = W_hh.T @ dah)
 *   dh = d * z                       (the direct path h_{t-1} -> h_t; the caller adds dh~) */
TARGETS static void RK(gru_bwd)(REAL *restrict a, Py_ssize_t lda, Py_ssize_t ga, REAL *restrict dh, Py_ssize_t lddh,
                                const REAL *restrict dy, Py_ssize_t ldy, const REAL *restrict hp, Py_ssize_t ldhp,
                                REAL *restrict side, Py_ssize_t lds, REAL *restrict dah, Py_ssize_t ldah,
                                Py_ssize_t gdah, REAL *restrict dh_sq, Py_ssize_t H, Py_ssize_t B)
{
    for (Py_ssize_t n = 0; n < B; n++) dh_sq[n] = 0;
    for (Py_ssize_t j = 0; j < H; j++) {
        REAL *ar = a + j * lda, *az = ar + ga, *an = az + ga;
        REAL *dhj = dh + j * lddh, *sj = side + j * lds;
        const REAL *dyj = dy + j * ldy, *hpj = hp + j * ldhp;
        REAL *dr = dah + j * ldah, *dz = dr + gdah, *dn = dz + gdah;
        for (Py_ssize_t n = 0; n < B; n++) {  /* simd */
            REAL d = dhj[n] + dyj[n];
            dh_sq[n] += d * d;
            REAL r = ar[n], z = az[n], nn = an[n];
            REAL da_n = d * (1 - z) * (1 - nn * nn);
            REAL da_z = d * (hpj[n] - nn) * z * (1 - z);
            REAL da_r = da_n * sj[n] * r * (1 - r);
            ar[n] = da_r; az[n] = da_z; an[n] = da_n;
            sj[n] = da_n * r;
            dr[n] = da_r; dz[n] = da_z; dn[n] = da_n * r;
            dhj[n] = d * z;
        }
    }
}

/* GRU in Cho et al.'s form (reset before the product): the forward in two halves around the
 * product W_hn @ (r * h~):
 *   rz:  r = sigma(a_r + gh_r)   z = sigma(a_z + gh_z)   side = r * h~     (gh = [W_hr; W_hz] h~)
 *   n:   n = tanh(a_n + gh_n)    h = n + z * (h_prev - n)                  (gh_n = W_hn side) */
RK_INLINE void RK(gru_rz_point)(REAL *ar, REAL *az, REAL hr, REAL hz, REAL hm, REAL *side)
{
    REAL r = SIGMOID(*ar + hr);
    *ar = r;
    *az = SIGMOID(*az + hz);
    *side = r * hm;
}

RK_INLINE void RK(gru_n_point)(REAL z, REAL *an, REAL hn, REAL hp, REAL *h)
{
    REAL n = TANH(*an + hn);
    *an = n;
    *h = n + z * (hp - n);
}

TARGETS static void RK(gru_fwd_rz)(REAL *restrict a, Py_ssize_t lda, const REAL *restrict gh, Py_ssize_t ldg,
                                   const REAL *restrict hm, Py_ssize_t ldm, REAL *restrict side, Py_ssize_t lds,
                                   Py_ssize_t H, Py_ssize_t B)
{
    Py_ssize_t ga = H * lda, gg = H * ldg;
    if (B == 1) {
        for (Py_ssize_t j = 0; j < H; j++)  /* simd */
            RK(gru_rz_point)(a + j * lda, a + ga + j * lda, gh[j * ldg], gh[gg + j * ldg], hm[j * ldm],
                             side + j * lds);
        return;
    }
    for (Py_ssize_t j = 0; j < H; j++) {
        REAL *aj = a + j * lda, *sj = side + j * lds;
        const REAL *g = gh + j * ldg, *mj = hm + j * ldm;
        for (Py_ssize_t n = 0; n < B; n++) RK(gru_rz_point)(aj + n, aj + ga + n, g[n], g[gg + n], mj[n], sj + n);  /* simd */
    }
}

TARGETS static void RK(gru_fwd_n)(REAL *restrict a, Py_ssize_t lda, const REAL *restrict gh, Py_ssize_t ldg,
                                  const REAL *restrict hp, Py_ssize_t ldhp, REAL *restrict h, Py_ssize_t ldh,
                                  Py_ssize_t H, Py_ssize_t B)
{
    Py_ssize_t ga = H * lda;
    if (B == 1) {
        for (Py_ssize_t j = 0; j < H; j++)  /* simd */
            RK(gru_n_point)(a[ga + j * lda], a + 2 * ga + j * lda, gh[j * ldg], hp[j * ldhp], h + j * ldh);
        return;
    }
    for (Py_ssize_t j = 0; j < H; j++) {
        const REAL *zj = a + ga + j * lda, *g = gh + j * ldg, *hpj = hp + j * ldhp;
        REAL *nj = a + 2 * ga + j * lda, *hj = h + j * ldh;
        for (Py_ssize_t n = 0; n < B; n++) RK(gru_n_point)(zj[n], nj + n, g[n], hpj[n], hj + n);  /* simd */
    }
}

/* Cho et al.'s form backward, in two halves around drh = W_hn.T @ da_n:
 *   nz:  d = dh + dy, dh_sq;  da_n = d (1 - z) (1 - n^2);  da_z = d (h_prev - n) z (1 - z);  dh = d * z
 *   r:   da_r = drh * h~ * r (1 - r);  drh = drh * r   (the caller adds [W_hr; W_hz].T @ [da_r; da_z]) */
TARGETS static void RK(gru_bwd_nz)(REAL *restrict a, Py_ssize_t lda, REAL *restrict dh, Py_ssize_t lddh,
                                   const REAL *restrict dy, Py_ssize_t ldy, const REAL *restrict hp, Py_ssize_t ldhp,
                                   REAL *restrict dh_sq, Py_ssize_t H, Py_ssize_t B)
{
    for (Py_ssize_t n = 0; n < B; n++) dh_sq[n] = 0;
    for (Py_ssize_t j = 0; j < H; j++) {
        REAL *az = a + (H + j) * lda, *an = az + H * lda;
        REAL *dhj = dh + j * lddh;
        const REAL *dyj = dy + j * ldy, *hpj = hp + j * ldhp;
        for (Py_ssize_t n = 0; n < B; n++) {  /* simd */
            REAL d = dhj[n] + dyj[n];
            dh_sq[n] += d * d;
            REAL z = az[n], nn = an[n];
            an[n] = d * (1 - z) * (1 - nn * nn);
            az[n] = d * (hpj[n] - nn) * z * (1 - z);
            dhj[n] = d * z;
        }
    }
}

TARGETS static void RK(gru_bwd_r)(REAL *restrict a, Py_ssize_t lda, REAL *restrict drh, Py_ssize_t ldr,
                                  const REAL *restrict hm, Py_ssize_t ldm, Py_ssize_t H, Py_ssize_t B)
{
    for (Py_ssize_t j = 0; j < H; j++) {
        REAL *ar = a + j * lda, *dj = drh + j * ldr;
        const REAL *mj = hm + j * ldm;
        for (Py_ssize_t n = 0; n < B; n++) {  /* simd */
            REAL r = ar[n];
            ar[n] = dj[n] * mj[n] * r * (1 - r);
            dj[n] = dj[n] * r;
        }
    }
}

/* y = sigmoid(x) (which = 0) or tanh(x) (which = 1), elementwise over n values */
TARGETS static void RK(activation)(REAL *restrict y, const REAL *restrict x, Py_ssize_t n, int which)
{
    if (which) for (Py_ssize_t i = 0; i < n; i++) y[i] = TANH(x[i]);  /* simd */
    else for (Py_ssize_t i = 0; i < n; i++) y[i] = SIGMOID(x[i]);  /* simd */
}

#undef TARGETS
