/* The time loop of one direction in C.
 *
 * Included twice by module.c after steps.h (REAL = float, double). Each loop does per step what
 * the Python loop in rnnkit/kernels/{rnn,lstm,gru}.py does: the recurrent product through the
 * cblas gemm of NumPy's own BLAS (registered by rnnkit/kernels/blas.py; it uses its own threads),
 * then the fused step of steps.h. What this saves over the Python loop is the interpreter's work
 * between steps: several microseconds per step, which is most of a step at N = 1.
 *
 * Arrays are whole (F, S, N) C-contiguous sequence arrays (S = T or T + 1 slots): row stride
 * S * N, step stride N. The (F, N) block of step t starts at p + t * N.
 */

typedef void (*RK(gemm64_fn))(int, int, int, int64_t, int64_t, int64_t, REAL, const REAL *, int64_t,
                               const REAL *, int64_t, REAL, REAL *, int64_t);
typedef void (*RK(gemm32_fn))(int, int, int, int32_t, int32_t, int32_t, REAL, const REAL *, int32_t,
                               const REAL *, int32_t, REAL, REAL *, int32_t);

/* C (M, n) = op(W) @ B (K, n), row-major, with W the (G*H, H) weight (ld H):
 * op(W) = W (M = G*H, K = H) forwards, W.T (M = H, K = G*H) backwards */
static void RK(gemm)(const Blas *b, int trans, Py_ssize_t M, Py_ssize_t n, Py_ssize_t K, const REAL *W,
                     Py_ssize_t ldw, const REAL *B, Py_ssize_t ldb, REAL *C, Py_ssize_t ldc)
{
    enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
    int op = trans ? TRANS : NO_TRANS;
    if (b->ilp64)
        ((RK(gemm64_fn))b->gemm)(ROW_MAJOR, op, NO_TRANS, M, n, K, 1, W, ldw, B, ldb, 0, C, ldc);
    else
        ((RK(gemm32_fn))b->gemm)(ROW_MAJOR, op, NO_TRANS, (int32_t)M, (int32_t)n, (int32_t)K, 1, W, (int32_t)ldw,
                                 B, (int32_t)ldb, 0, C, (int32_t)ldc);
}

/* The loops below share these names: H, T, N; lda = T * N and lds = (T + 1) * N the row strides
 * of (F, T, N) and (F, T + 1, N) arrays; B the running columns at step t (n < B run, see
 * kernels/common.py); (prev, cur) the state slots of step t; scratch blocks (gh, hm, dah, dhm,
 * zeros) are compact (rows, B). */

#define SEQ_DIMS                                       \
    Py_ssize_t H = s->H, T = s->T, N = s->N;           \
    Py_ssize_t lda = T * N, lds = (T + 1) * N;         \
    (void)lda; (void)lds
#define STEP_T(k) (s->reverse ? T - 1 - (k) : (k))    /* forward order */
#define BACK_T(k) (s->reverse ? (k) : T - 1 - (k))    /* backward order */
#define PREV(t) (s->reverse ? (t) + 1 : (t))
#define CUR(t) (s->reverse ? (t) : (t) + 1)

/* h~ = h_prev * rec_mask (ld N) for the B running columns, into the compact (H, B) block hm */
static void RK(mask_state)(REAL *restrict hm, const REAL *restrict hp, Py_ssize_t ldhp, const REAL *restrict m,
                           Py_ssize_t ldm, Py_ssize_t H, Py_ssize_t B)
{
    for (Py_ssize_t j = 0; j < H; j++)
        for (Py_ssize_t n = 0; n < B; n++) hm[j * B + n] = hp[j * ldhp + n] * m[j * ldm + n];
}

/* dh = op(W) @ da for the B running columns, times rec_mask where there is one */
static void RK(state_grad)(const Blas *b, Py_ssize_t M, Py_ssize_t K, const REAL *W, Py_ssize_t ldw, const REAL *da,
                           Py_ssize_t ldda, REAL *dh, Py_ssize_t lddh, const REAL *m, Py_ssize_t ldm, Py_ssize_t B)
{
    RK(gemm)(b, 1, M, B, K, W, ldw, da, ldda, dh, lddh);
    if (m)
        for (Py_ssize_t j = 0; j < M; j++)
            for (Py_ssize_t n = 0; n < B; n++) dh[j * lddh + n] *= m[j * ldm + n];
}

/* rows of dst take columns B..N-1 of src (both with row stride ld): finished sequences keep their state */
static void RK(carry_cols)(REAL *dst, const REAL *src, Py_ssize_t ld, Py_ssize_t rows, Py_ssize_t B, Py_ssize_t N)
{
    for (Py_ssize_t j = 0; j < rows; j++) memcpy(dst + j * ld + B, src + j * ld + B, (size_t)(N - B) * sizeof(REAL));
}

static void RK(zero_cols)(REAL *a, Py_ssize_t ld, Py_ssize_t rows, Py_ssize_t B, Py_ssize_t N)
{
    for (Py_ssize_t j = 0; j < rows; j++) memset(a + j * ld + B, 0, (size_t)(N - B) * sizeof(REAL));
}

/* the recurrent input of step t: h_prev itself, or h~ = h_prev * rec_mask in hm */
static const REAL *RK(recurrent_input)(const REAL *hp, Py_ssize_t lds, const REAL *mask, const Seq *s, REAL *hm,
                                       Py_ssize_t B, Py_ssize_t *ld)
{
    if (!mask) {
        *ld = lds;
        return hp;
    }
    RK(mask_state)(hm, hp, lds, mask, s->N, s->H, B);
    *ld = B;
    return hm;
}

/* a += bias (one value per row) for the B running columns of a step's (rows, .) block, just
 * before the fused step reads it: a pass over a block in cache, instead of over the whole
 * (rows, T, N) array before the loop */
static void RK(add_bias)(REAL *restrict a, Py_ssize_t lda, const REAL *restrict bias, Py_ssize_t rows, Py_ssize_t B)
{
    if (!bias) return;
    for (Py_ssize_t j = 0; j < rows; j++) {
        REAL b = bias[j];
        for (Py_ssize_t n = 0; n < B; n++) a[j * lda + n] += b;
    }
}

/* Elman RNN forward (rnn_fwd): hs (H, T+1, N) holds the input projections W_ih x_t in the output
 * slots. bias (H,) = b_ih + b_hh, or NULL for none; the forward loops add it to the running
 * columns only (finished columns keep W_ih x_t: unused, and zeroed by the backward). */
static void RK(rnn_fwd_seq)(const Seq *s, const Blas *b, REAL *hs, const REAL *W, const REAL *bias, const REAL *mask,
                            int relu, REAL *gh, REAL *hm)
{
    SEQ_DIMS;
    for (Py_ssize_t k = 0; k < T; k++) {
        Py_ssize_t t = STEP_T(k), B = seq_active(s, t), ldin;
        REAL *hp = hs + PREV(t) * N, *hc = hs + CUR(t) * N;
        if (B > 0) {
            const REAL *hin = RK(recurrent_input)(hp, lds, mask, s, hm, B, &ldin);
            RK(gemm)(b, 0, H, B, H, W, H, hin, ldin, gh, B);
            RK(add_bias)(hc, lds, bias, H, B);
            RK(rnn_fwd)(hc, lds, gh, B, H, B, relu);
        }
        if (B < N) RK(carry_cols)(hc, hp, lds, H, B, N);
    }
}

/* Elman RNN backward (rnn_bwd): dA (H, T, N) receives da_t; dh (H, N) carried; dy (H, T, N) or
 * NULL (then zeros, an (H, N) block of zeros, stands in for every step) */
static void RK(rnn_bwd_seq)(const Seq *s, const Blas *b, REAL *dA, const REAL *hs, const REAL *W, const REAL *dy,
                            REAL *dh, REAL *dh_sq, const REAL *mask, int relu, const REAL *zeros)
{
    SEQ_DIMS;
    for (Py_ssize_t k = 0; k < T; k++) {
        Py_ssize_t t = BACK_T(k), B = seq_active(s, t);
        REAL *da = dA + t * N;
        RK(rnn_bwd)(da, lda, dh, N, dy ? dy + t * N : zeros, dy ? lda : N, hs + CUR(t) * N, lds,
                    dh_sq + t * N, H, B, relu);
        if (B < N) RK(zero_cols)(da, lda, H, B, N);
        if (B > 0) RK(state_grad)(b, H, H, W, H, da, lda, dh, N, mask, N, B);
    }
}

/* LSTM forward (lstm_fwd): A (4H, T, N) projections -> activations; hs, cs (H, T+1, N); tcs (H, T, N);
 * bias (4H,) */
static void RK(lstm_fwd_seq)(const Seq *s, const Blas *b, REAL *A, REAL *hs, REAL *cs, REAL *tcs, const REAL *W,
                             const REAL *bias, const REAL *mask, REAL *gh, REAL *hm)
{
    SEQ_DIMS;
    for (Py_ssize_t k = 0; k < T; k++) {
        Py_ssize_t t = STEP_T(k), B = seq_active(s, t), ldin;
        REAL *hp = hs + PREV(t) * N, *hc = hs + CUR(t) * N;
        REAL *cp = cs + PREV(t) * N, *cc = cs + CUR(t) * N;
        if (B > 0) {
            const REAL *hin = RK(recurrent_input)(hp, lds, mask, s, hm, B, &ldin);
            RK(gemm)(b, 0, 4 * H, B, H, W, H, hin, ldin, gh, B);
            RK(add_bias)(A + t * N, lda, bias, 4 * H, B);
            RK(lstm_fwd)(A + t * N, lda, gh, B, cp, lds, cc, lds, tcs + t * N, lda, hc, lds, H, B);
        }
        if (B < N) {
            RK(carry_cols)(cc, cp, lds, H, B, N);
            RK(carry_cols)(hc, hp, lds, H, B, N);
        }
    }
}

/* LSTM backward (lstm_bwd): A's activations -> gate gradients; dh, dc (H, N) carried */
static void RK(lstm_bwd_seq)(const Seq *s, const Blas *b, REAL *A, const REAL *cs, const REAL *tcs, const REAL *W,
                             const REAL *dy, REAL *dh, REAL *dc, REAL *dh_sq, const REAL *mask, const REAL *zeros)
{
    SEQ_DIMS;
    for (Py_ssize_t k = 0; k < T; k++) {
        Py_ssize_t t = BACK_T(k), B = seq_active(s, t);
        REAL *a = A + t * N;
        RK(lstm_bwd)(a, lda, dh, N, dy ? dy + t * N : zeros, dy ? lda : N, dc, N,
                     cs + PREV(t) * N, lds, tcs + t * N, lda, dh_sq + t * N, H, B);
        if (B < N) RK(zero_cols)(a, lda, 4 * H, B, N);
        if (B > 0) RK(state_grad)(b, H, 4 * H, W, H, a, lda, dh, N, mask, N, B);
    }
}

/* GRU (reset_after) forward (gru_fwd): A (3H, T, N); side (H, T, N) keeps W_hn h~ + b_hn; bias (3H,)
 * = [b_ir + b_hr; b_iz + b_hz; b_in] (b_hn stays inside r * (...)) */
static void RK(gru_fwd_seq)(const Seq *s, const Blas *b, REAL *A, REAL *hs, REAL *side, const REAL *W,
                            const REAL *bias, const REAL *b_hn, const REAL *mask, REAL *gh, REAL *hm)
{
    SEQ_DIMS;
    for (Py_ssize_t k = 0; k < T; k++) {
        Py_ssize_t t = STEP_T(k), B = seq_active(s, t), ldin;
        REAL *hp = hs + PREV(t) * N, *hc = hs + CUR(t) * N, *st = side + t * N;
        if (B > 0) {
            const REAL *hin = RK(recurrent_input)(hp, lds, mask, s, hm, B, &ldin);
            RK(gemm)(b, 0, 3 * H, B, H, W, H, hin, ldin, gh, B);
            RK(add_bias)(A + t * N, lda, bias, 3 * H, B);
            RK(gru_fwd)(A + t * N, lda, gh, B, b_hn, hp, lds, st, lda, hc, lds, H, B);
        }
        if (B < N) {
            RK(carry_cols)(hc, hp, lds, H, B, N);
            RK(zero_cols)(st, lda, H, B, N);
        }
    }
}

/* GRU (reset_after) backward (gru_bwd): dh (H, N) carried; dah (3H, N) and dhm (H, N) scratch */
static void RK(gru_bwd_seq)(const Seq *s, const Blas *b, REAL *A, const REAL *hs, REAL *side, const REAL *W,
                            const REAL *dy, REAL *dh, REAL *dh_sq, const REAL *mask, const REAL *zeros, REAL *dah,
                            REAL *dhm)
{
    SEQ_DIMS;
    for (Py_ssize_t k = 0; k < T; k++) {
        Py_ssize_t t = BACK_T(k), B = seq_active(s, t);
        REAL *a = A + t * N, *st = side + t * N, *dhc = dh;
        RK(gru_bwd)(a, lda, dhc, N, dy ? dy + t * N : zeros, dy ? lda : N, hs + PREV(t) * N, lds, st, lda,
                    dah, B, dh_sq + t * N, H, B);
        if (B < N) {
            RK(zero_cols)(a, lda, 3 * H, B, N);
            RK(zero_cols)(st, lda, H, B, N);
        }
        if (B > 0) {
            RK(state_grad)(b, H, 3 * H, W, H, dah, B, dhm, B, mask, N, B);
            for (Py_ssize_t j = 0; j < H; j++)
                for (Py_ssize_t n = 0; n < B; n++) dhc[j * N + n] += dhm[j * B + n];
        }
    }
}

#undef SEQ_DIMS
#undef STEP_T
#undef BACK_T
#undef PREV
#undef CUR
