/* One time step of each recurrent cell, fused: everything elementwise in one pass.
 *
 * Included twice by module.c, with REAL = float and REAL = double (RK(name) appends _f or _d,
 * SIGMOID / TANH pick the matching functions of vmath.h). The Python kernels in
 * rnnkit/kernels/{rnn,lstm,gru}.py run the time loop, do the matrix products with NumPy and
 * call one of these per step; their docstrings give the equations in full.
 *
 * Layout (see rnnkit/kernels/common.py): a gate block is (G*H, N) row-major, the batch fastest.
 * Columns n < B are the running sequences; the others are finished (packed sequences).
 * Every loop below runs over `rows` rows of `width` columns with row stride `ld`; when all N
 * columns run, the callers pass rows = 1, width = H*N so that one long loop vectorises even
 * for N = 1. `gs` is the distance between two gate blocks (H*N), `gb` the same in the
 * compact (G*H, B) product `gh` that NumPy wrote (H*B).
 */

#define TARGETS RK_TARGET_CLONES

/* LSTM, PyTorch gate order [i; f; g; o]. a holds W_ih x_t + b (from before the loop).
 *   i = sigma(a_i + gh_i)  f = sigma(a_f + gh_f)  g = tanh(a_g + gh_g)  o = sigma(a_o + gh_o)
 *   c = f * c_prev + i * g          tc = tanh(c)          h = o * tc
 * a is overwritten with the activations [i; f; g; o] that the backward step needs. */
TARGETS static void RK(lstm_fwd)(REAL *restrict a, const REAL *restrict gh, const REAL *restrict c_prev,
                                 REAL *restrict c, REAL *restrict tc, REAL *restrict h,
                                 long rows, long width, long ld, long gs, long gb)
{
    for (long j = 0; j < rows; j++) {
        REAL *ai = a + j * ld, *af = ai + gs, *ag = af + gs, *ao = ag + gs;
        const REAL *hi = gh + j * width, *hf = hi + gb, *hg = hf + gb, *ho = hg + gb;
        const REAL *cp = c_prev + j * ld;
        REAL *cj = c + j * ld, *tj = tc + j * ld, *hj = h + j * ld;
        for (long n = 0; n < width; n++) {
            REAL i = SIGMOID(ai[n] + hi[n]), f = SIGMOID(af[n] + hf[n]);
            REAL g = TANH(ag[n] + hg[n]), o = SIGMOID(ao[n] + ho[n]);
            REAL cn = f * cp[n] + i * g;
            REAL t = TANH(cn);
            ai[n] = i; af[n] = f; ag[n] = g; ao[n] = o;
            cj[n] = cn; tj[n] = t; hj[n] = o * t;
        }
    }
}

/* LSTM backward, a = [i; f; g; o] from the forward, overwritten with [da_i; da_f; da_g; da_o]:
 *   dh = dh + dy                       dh_sq[n] = sum_j dh[j, n]^2
 *   dc = dc + dh * o * (1 - tc^2)
 *   da_i = dc * g * i (1 - i)   da_f = dc * c_prev * f (1 - f)
 *   da_g = dc * i * (1 - g^2)   da_o = dh * tc * o (1 - o)
 *   dc = dc * f                         (now dL/dc_{t-1})
 * dy is (H, N) zeros when the outputs get no gradient. */
TARGETS static void RK(lstm_bwd)(REAL *restrict a, const REAL *restrict dh, const REAL *restrict dy,
                                 REAL *restrict dc, const REAL *restrict c_prev, const REAL *restrict tc,
                                 REAL *restrict dh_sq, long H, long B, long ld)
{
    long gs = H * ld;
    for (long n = 0; n < B; n++) dh_sq[n] = 0;
    for (long j = 0; j < H; j++) {
        REAL *ai = a + j * ld, *af = ai + gs, *ag = af + gs, *ao = ag + gs;
        const REAL *dhj = dh + j * ld, *cp = c_prev + j * ld, *tj = tc + j * ld;
        const REAL *dyj = dy + j * ld;
        REAL *dcj = dc + j * ld;
        for (long n = 0; n < B; n++) {
            REAL d = dhj[n] + dyj[n];
            dh_sq[n] += d * d;
            REAL i = ai[n], f = af[n], g = ag[n], o = ao[n], t = tj[n];
            REAL dcn = dcj[n] + d * o * (1 - t * t);
            ai[n] = dcn * g * i * (1 - i);
            af[n] = dcn * cp[n] * f * (1 - f);
            ag[n] = dcn * i * (1 - g * g);
            ao[n] = d * t * o * (1 - o);
            dcj[n] = dcn * f;
        }
    }
}

/* Elman RNN. a holds W_ih x_t + b; a = phi(a + gh), phi = tanh (relu = 0) or max(0, .). */
TARGETS static void RK(rnn_fwd)(REAL *restrict a, const REAL *restrict gh, long rows, long width, long ld, int relu)
{
    for (long j = 0; j < rows; j++) {
        REAL *aj = a + j * ld;
        const REAL *gj = gh + j * width;
        if (relu) {
            for (long n = 0; n < width; n++) { REAL v = aj[n] + gj[n]; aj[n] = v > 0 ? v : (v == v ? 0 : v); }
        } else {
            for (long n = 0; n < width; n++) aj[n] = TANH(aj[n] + gj[n]);
        }
    }
}

/* Elman RNN backward: dh = dh + dy, dh_sq as for the LSTM, da = dh * phi'(a) written to da,
 * with tanh' = 1 - h^2 and relu' = [h > 0] (h = phi(a) from the forward). */
TARGETS static void RK(rnn_bwd)(REAL *restrict da, const REAL *restrict dh, const REAL *restrict dy,
                                const REAL *restrict h, REAL *restrict dh_sq, long H, long B, long ld, int relu)
{
    for (long n = 0; n < B; n++) dh_sq[n] = 0;
    for (long j = 0; j < H; j++) {
        const REAL *dhj = dh + j * ld, *hj = h + j * ld, *dyj = dy + j * ld;
        REAL *daj = da + j * ld;
        for (long n = 0; n < B; n++) {
            REAL d = dhj[n] + dyj[n];
            dh_sq[n] += d * d;
            REAL hv = hj[n];
            daj[n] = relu ? (hv > 0 ? d : 0) : d * (1 - hv * hv);
        }
    }
}

/* GRU, PyTorch gate order [r; z; n]; a holds W_ih x_t + b_ih (+ b_hh on r, z).
 * reset_after (PyTorch, cuDNN), gh = W_hh @ h~, bhn = b_hn broadcast to (H, N) (zeros without bias):
 *   r = sigma(a_r + gh_r)   z = sigma(a_z + gh_z)   s = gh_n + b_hn
 *   n = tanh(a_n + r * s)   h = n + z * (h_prev - n)
 * a is overwritten with [r; z; n], s is kept in side for the backward step. */
TARGETS static void RK(gru_fwd)(REAL *restrict a, const REAL *restrict gh, const REAL *restrict bhn,
                                const REAL *restrict h_prev, REAL *restrict side, REAL *restrict h,
                                long rows, long width, long ld, long gs, long gb)
{
    for (long j = 0; j < rows; j++) {
        REAL *ar = a + j * ld, *az = ar + gs, *an = az + gs;
        const REAL *hr = gh + j * width, *hz = hr + gb, *hn = hz + gb;
        const REAL *bj = bhn + j * ld, *hp = h_prev + j * ld;
        REAL *sj = side + j * ld, *hj = h + j * ld;
        for (long n = 0; n < width; n++) {
            REAL r = SIGMOID(ar[n] + hr[n]), z = SIGMOID(az[n] + hz[n]);
            REAL s = hn[n] + bj[n];
            REAL nn = TANH(an[n] + r * s);
            ar[n] = r; az[n] = z; an[n] = nn;
            sj[n] = s;
            hj[n] = nn + z * (hp[n] - nn);
        }
    }
}

/* GRU reset_after backward, a = [r; z; n] overwritten with [da_r; da_z; da_n]:
 *   dh = dh + dy        dh_sq as for the LSTM
 *   da_n = dh (1 - z) (1 - n^2)     da_z = dh (h_prev - n) z (1 - z)     da_r = da_n s r (1 - r)
 *   side = da_n * r                 (the n block of the recurrent side's gate gradient)
 *   dah = [da_r; da_z; da_n * r]    (B compact columns, for dh~ = W_hh.T @ dah)
 *   dh = dh * z                     (the direct path h_{t-1} -> h_t; the caller adds dh~) */
TARGETS static void RK(gru_bwd)(REAL *restrict a, REAL *restrict dh, const REAL *restrict dy,
                                const REAL *restrict h_prev, REAL *restrict side, REAL *restrict dah,
                                REAL *restrict dh_sq, long H, long B, long ld)
{
    long gs = H * ld, gb = H * B;
    for (long n = 0; n < B; n++) dh_sq[n] = 0;
    for (long j = 0; j < H; j++) {
        REAL *ar = a + j * ld, *az = ar + gs, *an = az + gs;
        REAL *dhj = dh + j * ld, *sj = side + j * ld;
        const REAL *dyj = dy + j * ld, *hp = h_prev + j * ld;
        REAL *dr = dah + j * B, *dz = dr + gb, *dn = dz + gb;
        for (long n = 0; n < B; n++) {
            REAL d = dhj[n] + dyj[n];
            dh_sq[n] += d * d;
            REAL r = ar[n], z = az[n], nn = an[n];
            REAL da_n = d * (1 - z) * (1 - nn * nn);
            REAL da_z = d * (hp[n] - nn) * z * (1 - z);
            REAL da_r = da_n * sj[n] * r * (1 - r);
            ar[n] = da_r; az[n] = da_z; an[n] = da_n;
            sj[n] = da_n * r;
            dr[n] = da_r; dz[n] = da_z; dn[n] = da_n * r;
            dhj[n] = d * z;
        }
    }
}

/* GRU in Cho et al.'s form (reset before the product), forward in two halves around the
 * product W_hn @ (r * h~):
 *   rz:  r = sigma(a_r + gh_r)   z = sigma(a_z + gh_z)   side = r * h~     (gh = [W_hr; W_hz] @ h~)
 *   n:   n = tanh(a_n + gh_n)    h = n + z * (h_prev - n)                  (gh_n = W_hn @ side) */
TARGETS static void RK(gru_fwd_rz)(REAL *restrict a, const REAL *restrict gh, const REAL *restrict hm,
                                   REAL *restrict side, long rows, long width, long ld, long gs, long gb)
{
    for (long j = 0; j < rows; j++) {
        REAL *ar = a + j * ld, *az = ar + gs;
        const REAL *hr = gh + j * width, *hz = hr + gb, *mj = hm + j * ld;
        REAL *sj = side + j * ld;
        for (long n = 0; n < width; n++) {
            REAL r = SIGMOID(ar[n] + hr[n]);
            ar[n] = r;
            az[n] = SIGMOID(az[n] + hz[n]);
            sj[n] = r * mj[n];
        }
    }
}

TARGETS static void RK(gru_fwd_n)(REAL *restrict a, const REAL *restrict gh, const REAL *restrict h_prev,
                                  REAL *restrict h, long rows, long width, long ld, long gs)
{
    for (long j = 0; j < rows; j++) {
        REAL *az = a + gs + j * ld, *an = az + gs;
        const REAL *hn = gh + j * width, *hp = h_prev + j * ld;
        REAL *hj = h + j * ld;
        for (long n = 0; n < width; n++) {
            REAL nn = TANH(an[n] + hn[n]);
            an[n] = nn;
            hj[n] = nn + az[n] * (hp[n] - nn);
        }
    }
}

/* Cho et al.'s form backward, in two halves around drh = W_hn.T @ da_n:
 *   nz:  dh = dh + dy, dh_sq;  da_n = dh (1 - z) (1 - n^2);  da_z = dh (h_prev - n) z (1 - z);
 *        dh = dh * z
 *   r:   da_r = drh * h~ * r (1 - r);  drh = drh * r        (the caller adds [W_hr; W_hz].T @ [da_r; da_z]) */
TARGETS static void RK(gru_bwd_nz)(REAL *restrict a, REAL *restrict dh, const REAL *restrict dy,
                                   const REAL *restrict h_prev, REAL *restrict dh_sq, long H, long B, long ld)
{
    long gs = H * ld;
    for (long n = 0; n < B; n++) dh_sq[n] = 0;
    for (long j = 0; j < H; j++) {
        REAL *az = a + gs + j * ld, *an = az + gs;
        REAL *dhj = dh + j * ld;
        const REAL *dyj = dy + j * ld, *hp = h_prev + j * ld;
        for (long n = 0; n < B; n++) {
            REAL d = dhj[n] + dyj[n];
            dh_sq[n] += d * d;
            REAL z = az[n], nn = an[n];
            an[n] = d * (1 - z) * (1 - nn * nn);
            az[n] = d * (hp[n] - nn) * z * (1 - z);
            dhj[n] = d * z;
        }
    }
}

TARGETS static void RK(gru_bwd_r)(REAL *restrict a, REAL *restrict drh, const REAL *restrict hm,
                                  long H, long B, long ld)
{
    for (long j = 0; j < H; j++) {
        REAL *ar = a + j * ld, *dj = drh + j * B;
        const REAL *mj = hm + j * ld;
        for (long n = 0; n < B; n++) {
            REAL r = ar[n];
            ar[n] = dj[n] * mj[n] * r * (1 - r);
            dj[n] = dj[n] * r;
        }
    }
}

/* y = sigmoid(x) (which = 0) or tanh(x) (which = 1) */
TARGETS static void RK(activation)(REAL *restrict y, const REAL *restrict x, long n, int which)
{
    if (which) for (long i = 0; i < n; i++) y[i] = TANH(x[i]);
    else for (long i = 0; i < n; i++) y[i] = SIGMOID(x[i]);
}

#undef TARGETS
