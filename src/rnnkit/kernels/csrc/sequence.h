/* The time loop of one direction in C.
 *
 * Included twice by module.c after steps.h (REAL = float, double). Each loop does per step what
 * the Python loop in rnnkit/kernels/{rnn,lstm,gru}.py does: the recurrent product through the
 * cblas gemm of NumPy's own BLAS (registered by rnnkit/kernels/blas.py), or in float32 where it
 * pays through packed.h's kernel on weights each participant packs once (pack_weights,
 * step_product), then the fused step of steps.h. The LSTM's forward, packed, does both in one
 * (packed.h: pk_gates, with lstm_epilogue). What this saves over the Python loop is the
 * interpreter's work between steps: several microseconds per step, which is most of a step at N = 1.
 *
 * Each loop is written for one participant k of L->P (pool.h): the hidden units j in
 * [h0, h1) of part_rows(), with their rows of every gate. Forwards, a step is: gx = (this part's
 * rows of W_ih) @ x_t (the input projection, which needs nobody's h), wait for all of h_{t-1}
 * (barrier), gh = (this part's rows of W_hh) @ h~, a = gx + bias, the gate pass on the slice.
 * The input projection runs step by step rather than as one (G*H, I) @ (I, T*N) product before
 * the loop: the same arithmetic, but its (G*hk, N) result is still in cache when the gate pass
 * reads it, instead of a whole (G*H, T, N) array written to memory and read back (4-10% faster
 * forward loops from N = 16). For small N the caller does the one product instead (a product
 * call per step costs more there) and passes x = NULL; then a = a + bias. Backwards:
 * the gate pass on the slice, wait for all of da_t (barrier), dh[h0:h1] = W_hh[:, h0:h1].T @ da_t
 * (the RNN's and the LSTM's backward also take their shares of every weight gradient and of dx, a
 * chunk of steps at a time: rnn_bwd_seq, lstm_bwd_seq).
 * One barrier per step; with P = 1, [h0, h1) = [0, H) and the barrier is a no-op. The LSTM's
 * packed loops take chunks of units step by step instead of a fixed slice (module.c: claim;
 * lstm_fwd_claimed, lstm_bwd_claimed; one participant: one chunk), from weights packed once for
 * all of them. The product is single-threaded when P > 1 (module.c asks OpenBLAS for one thread
 * meanwhile), and uses OpenBLAS's threads (this pool, through its callback) when P = 1.
 *
 * Arrays are whole (F, S, N) C-contiguous sequence arrays (S = T or T + 1 slots): row stride
 * S * N, step stride N. The (F, N) block of step t starts at p + t * N. The LSTM's caches A, cs
 * and tcs are time-major instead, (S, F, N): step t's block at p + t * F * N, row stride N
 * (TM_SLOT), so that a step reads and writes one contiguous block of each, which the CPU's
 * prefetchers follow (in (F, T, N) its rows were a time axis apart and every step stalled on
 * them); the LSTM's backward reads dy (T, H, N) so too. The input x (I, T, N) may
 * have any row stride s->ldx (a view such as hs[:, 1:] of the layer below); the dy of the RNN's
 * backward any strides at all (s->ys: a view of the user's array).
 *
 * A forward that no backward will follow (an inference-only call) needs its caches for one step
 * only: the LSTM's gates A and tanh(c) tcs, the GRU's A and side, may then have one time slot
 * (A only where the loop projects x itself), the LSTM's cells cs two. Step t uses slot t mod
 * slots of such an array (SLOT), whose row stride is slots * N (SLOT_LD): every step writes the
 * same block (c_{t-1} and c_t: the two slots in turn), which stays in cache, instead of a whole
 * (F, T, N) array. Each participant reads and writes only its own rows there, so a participant a
 * step ahead cannot overwrite what another still reads.
 */

typedef void (*RK(gemm64_fn))(int, int, int, int64_t, int64_t, int64_t, REAL, const REAL *, int64_t,
                               const REAL *, int64_t, REAL, REAL *, int64_t);
typedef void (*RK(gemm32_fn))(int, int, int, int32_t, int32_t, int32_t, REAL, const REAL *, int32_t,
                               const REAL *, int32_t, REAL, REAL *, int32_t);

typedef void (*RK(gemv64_fn))(int, int, int64_t, int64_t, REAL, const REAL *, int64_t, const REAL *, int64_t, REAL,
                               REAL *, int64_t);
typedef void (*RK(gemv32_fn))(int, int, int32_t, int32_t, REAL, const REAL *, int32_t, const REAL *, int32_t, REAL,
                               REAL *, int32_t);

/* C = alpha op(A) @ op(B) + beta C, row-major (cblas_?gemm of NumPy's BLAS): op(A) (M, K),
 * op(B) (K, n); ta, tb: transpose A, B. One column (n = 1, B not transposed) goes through
 * cblas_?gemv where it is registered: y = op(A) x with x, y B's and C's column (strides ldb,
 * ldc; A as stored is (M, K), or (K, M) with ta). With beta = 0, C is zeroed first and gemv adds
 * to it: whether OpenBLAS's gemv scales y by 0 (which keeps a NaN of the scratch) or zeroes it has
 * changed between its versions. */
static void RK(gemm_ex)(const Blas *b, int ta, int tb, Py_ssize_t M, Py_ssize_t n, Py_ssize_t K, const REAL *A,
                        Py_ssize_t lda, const REAL *B, Py_ssize_t ldb, REAL beta, REAL *C, Py_ssize_t ldc)
{
    enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
    int opa = ta ? TRANS : NO_TRANS, opb = tb ? TRANS : NO_TRANS;
    if (n == 1 && !tb && b->gemv) {
        Py_ssize_t rows = ta ? K : M, cols = ta ? M : K;
        if (beta == 0) {
            for (Py_ssize_t j = 0; j < M; j++) C[j * ldc] = 0;
            beta = 1;
        }
        if (b->ilp64)
            ((RK(gemv64_fn))b->gemv)(ROW_MAJOR, opa, rows, cols, 1, A, lda, B, ldb, beta, C, ldc);
        else
            ((RK(gemv32_fn))b->gemv)(ROW_MAJOR, opa, (int32_t)rows, (int32_t)cols, 1, A, (int32_t)lda, B,
                                     (int32_t)ldb, beta, C, (int32_t)ldc);
        return;
    }
    if (b->ilp64)
        ((RK(gemm64_fn))b->gemm)(ROW_MAJOR, opa, opb, M, n, K, 1, A, lda, B, ldb, beta, C, ldc);
    else
        ((RK(gemm32_fn))b->gemm)(ROW_MAJOR, opa, opb, (int32_t)M, (int32_t)n, (int32_t)K, 1, A, (int32_t)lda,
                                 B, (int32_t)ldb, beta, C, (int32_t)ldc);
}

/* C (M, n) = op(W) @ B (K, n), row-major, W with row stride ldw: W_hh (G*H, H) or W_ih (G*H, I);
 * op(W) = W forwards, W.T (W_hh only: M = H, K = G*H) backwards */
static void RK(gemm)(const Blas *b, int trans, Py_ssize_t M, Py_ssize_t n, Py_ssize_t K, const REAL *W,
                     Py_ssize_t ldw, const REAL *B, Py_ssize_t ldb, REAL *C, Py_ssize_t ldc)
{
    RK(gemm_ex)(b, trans, 0, M, n, K, W, ldw, B, ldb, 0, C, ldc);
}

/* A step product, C (M, n) = op(W) @ B (K, n): with op(W) packed (Wp, packed.h) where the loop
 * packed it (B through pk->panel where there is one), else through the BLAS as gemm */
static void RK(step_product)(const Loop *L, const Packed *pk, const void *Wp, int trans, Py_ssize_t M, Py_ssize_t n,
                             Py_ssize_t K, const REAL *W, Py_ssize_t ldw, const REAL *B, Py_ssize_t ldb, REAL *C,
                             Py_ssize_t ldc)
{
#if RK_PACKED
    if (Wp) {
        pk_product_via(L->pk_kernel, (const float *)Wp, M, K, B, ldb, n, C, ldc, (float *)pk->panel);
        return;
    }
#else
    (void)pk;
#endif
    RK(gemm)(&L->b, trans, M, n, K, W, ldw, B, ldb, C, ldc);
}

/* Participant k packs the weights of its step products into its scratch (module.c: loop_scratch
 * says which; packed.h): forwards (backward = 0) its G*hk rows of W_hh (G*H, H) into pk->W and
 * of W_ih (G*H, I) into pk->Wi, the op(W) of gemm forwards; backwards its columns of W_hh,
 * transposed: W_hh[:, h0:h1].T (hk, G*H), into pk->W. NULL for what it does not pack: those
 * products go through the BLAS. (The LSTM's packed loops pack for all participants at once:
 * pack_claimed.) */
static void RK(pack_weights)(const Loop *L, int k, Py_ssize_t G, int backward, const REAL *W, const REAL *Wi,
                             Packed *pk)
{
    *pk = (Packed){0};
#if RK_PACKED
    Py_ssize_t H = L->s.H, I = L->s.I, h0, h1;
    part_rows(L, k, &h0, &h1);
    Py_ssize_t hk = h1 - h0;
    float *p = (float *)((char *)part_scratch(L, k) + L->pk_offset);
    if (L->pk_rec) {
        if (backward) pk_pack(p, G * H, 0, W + h0, 1, 0, hk, 1, G * H, H, 0);
        else pk_pack(p, H, 0, W + h0 * H, G, H * H, hk, H, H, 1, 0);
        pk->W = p;
        p += pk_values(L->hk_max, G * H);
    }
    if (L->pk_in && Wi) {
        pk_pack(p, I, 0, Wi + h0 * I, G, H * I, hk, I, I, 1, 0);
        pk->Wi = p;
    }
    if (L->pk_panel) pk->panel = (char *)part_scratch(L, k) + L->pk_panel;
#else
    (void)L; (void)k; (void)G; (void)backward; (void)W; (void)Wi;
#endif
}

/* With claimed chunks (module.c: claim), all units' packed weights in L->pk_all, in the layout
 * pack_weights gives one participant's: participant k packs its own chunks' units (the barrier
 * before any product waits for the others'). Forwards (the LSTM's fused step) [W_hh | W_ih] and
 * the bias, unit-major, and z in its scratch; backwards (G = 4) W_hh.T, and where the loop takes
 * dx (L->xchunks) W_ih.T from row chunks * chunk on, the rows of its own dx chunks. */
static void RK(pack_claimed)(const Loop *L, int k, int backward, const REAL *W, const REAL *Wi, const REAL *bias,
                             Packed *pk)
{
    *pk = (Packed){0};
#if RK_PACKED
    Py_ssize_t H = L->s.H, I = L->s.I, G = 4, c0, c1;
    part_chunks(L, k, &c0, &c1);
    Py_ssize_t u0 = c0 * L->chunk, u1 = c1 * L->chunk < H ? c1 * L->chunk : H;
    float *p = (float *)L->pk_all;
    if (backward) {
        if (u1 > u0) pk_pack(p + u0 * G * H, G * H, 0, W + u0, 1, 0, u1 - u0, 1, G * H, H, 0);
        Py_ssize_t d0, d1;
        part_xchunks(L, k, &d0, &d1);
        Py_ssize_t r0 = d0 * L->chunk, r1 = d1 * L->chunk < I ? d1 * L->chunk : I;
        if (r1 > r0) pk_pack(p + (L->chunks * L->chunk + r0) * G * H, G * H, 0, Wi + r0, 1, 0, r1 - r0, 1, G * H, I, 0);
        pk->W = p;
        return;
    }
    Py_ssize_t Kt = H + I;
    if (u1 > u0) {
        pk_pack(p + G * u0 * Kt, Kt, 0, W + u0 * H, G, H * H, u1 - u0, H, H, 1, 1);
        pk_pack(p + G * u0 * Kt, Kt, H, Wi + u0 * I, G, H * I, u1 - u0, I, I, 1, 1);
    }
    float *b = p + pk_values(G * H, Kt);
    Py_ssize_t r1 = c1 == L->chunks ? pk_values(G * H, 1) : G * u1; /* the last range: the padding rows too */
    for (Py_ssize_t r = G * u0; r < r1; r++) b[r] = bias && r < G * H ? bias[r % G * H + r / G] : 0.0f;
    *pk = (Packed){.W = p, .bias = b, .z = (char *)part_scratch(L, k) + L->pk_offset};
#else
    (void)L; (void)k; (void)backward; (void)W; (void)Wi; (void)bias;
#endif
}

#if RK_PACKED
/* where the LSTM's fused step writes: this participant's rows (its unit 0 first) of step t's
 * gates a (gate stride ga), c_{t-1}, c_t (row stride lc), tanh(c_t), h_t */
typedef struct {
    REAL *a;
    Py_ssize_t la, ga;
    const REAL *cp;
    REAL *c;
    Py_ssize_t lc;
    REAL *tc;
    Py_ssize_t lt;
    REAL *h;
    Py_ssize_t lh;
} RK(LstmRows);

/* pk_gates' epilogue for the LSTM: the gate pass (lstm_fwd_z) on the units and columns whose
 * pre-activations z the product just computed */
static void RK(lstm_epilogue)(void *ctx, Py_ssize_t u0, Py_ssize_t units, Py_ssize_t c0, Py_ssize_t w,
                              const float *z, Py_ssize_t ldz, Py_ssize_t gz)
{
    const RK(LstmRows) *o = ctx;
    RK(lstm_fwd_z)(o->a + u0 * o->la + c0, o->la, o->ga, z, ldz, gz, o->cp + u0 * o->lc + c0, o->lc,
                   o->c + u0 * o->lc + c0, o->lc, o->tc + u0 * o->lt + c0, o->lt, o->h + u0 * o->lh + c0, o->lh,
                   units, w);
}
#endif

/* The loops below share these names: H, T, N; lda = T * N and lds = (T + 1) * N the row strides
 * of (F, T, N) and (F, T + 1, N) arrays; B the running columns at step t (n < B run, see
 * kernels/common.py); (prev, cur) the state slots of step t; [h0, h1) this participant's hidden
 * units, hk = h1 - h0 of them; its gate block g starts at row g * H + h0. Compact scratch blocks
 * (gh, hm, dah, dhm) have row stride B. */

#define SEQ_DIMS                                       \
    Py_ssize_t H = L->s.H, T = L->s.T, N = L->s.N;     \
    Py_ssize_t lda = T * N, lds = (T + 1) * N;         \
    Py_ssize_t h0, h1;                                 \
    part_rows(L, k, &h0, &h1);                         \
    Py_ssize_t hk = h1 - h0;                           \
    const Seq *s = &L->s;                              \
    const Blas *b = &L->b;                             \
    (void)lda; (void)lds; (void)hk; (void)s; (void)b
#define STEP_T(i) (s->reverse ? T - 1 - (i) : (i))    /* forward order */
#define BACK_T(i) (s->reverse ? (i) : T - 1 - (i))    /* backward order */
#define PREV(t) (s->reverse ? (t) + 1 : (t))
#define CUR(t) (s->reverse ? (t) : (t) + 1)
#define SLOT(i, t) ((t) % L->slots[i] * N) /* where step (or state slot) t is in array i */
#define SLOT_LD(i) (L->slots[i] * N)       /* array i's row stride */
#define TM_SLOT(i, t, F) ((t) % L->slots[i] * (F) * N) /* the (F, N) block of step t in time-major array i */

/* h~ = h_prev * rec_mask (ld ldm) for the B running columns, into hm (row stride ldhm) */
static void RK(mask_state)(REAL *restrict hm, Py_ssize_t ldhm, const REAL *restrict hp, Py_ssize_t ldhp,
                           const REAL *restrict m, Py_ssize_t ldm, Py_ssize_t H, Py_ssize_t B)
{
    for (Py_ssize_t j = 0; j < H; j++)
        for (Py_ssize_t n = 0; n < B; n++) hm[j * ldhm + n] = hp[j * ldhp + n] * m[j * ldm + n];
}

/* dh = op(W) @ da for the B running columns (op(W) = W.T, or packed: pk->W), times rec_mask where there is one */
static void RK(state_grad)(const Loop *L, const Packed *pk, Py_ssize_t M, Py_ssize_t K, const REAL *W,
                           Py_ssize_t ldw, const REAL *da, Py_ssize_t ldda, REAL *dh, Py_ssize_t lddh, const REAL *m,
                           Py_ssize_t ldm, Py_ssize_t B)
{
    RK(step_product)(L, pk, pk->W, 1, M, B, K, W, ldw, da, ldda, dh, lddh);
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

/* The LSTM's gate gradients of step t, units [u0, u0 + u) of each gate: from the compact block
 * dah (4H, B) of the B running columns into the chunk's ring (4H, LSTM_CHUNK * N) at d, the column
 * of step t (row stride ld), 0 in the finished columns. A loop, not memcpy per row: at N = 1 a
 * call per value cost a single sequence's training step 0.3 ms in 1.1. */
static void RK(gates_out)(REAL *restrict d, Py_ssize_t ld, const REAL *restrict dah, Py_ssize_t B, Py_ssize_t H,
                          Py_ssize_t u0, Py_ssize_t u, Py_ssize_t N)
{
    for (Py_ssize_t g = 0; g < 4; g++)
        for (Py_ssize_t r = g * H + u0; r < g * H + u0 + u; r++) {
            REAL *dr = d + r * ld;
            const REAL *sr = dah + r * B;
            for (Py_ssize_t n = 0; n < B; n++) dr[n] = sr[n];
            for (Py_ssize_t n = B; n < N; n++) dr[n] = 0;
        }
}

/* zero_cols on this participant's rows of each of the G gate blocks of a (G*H, .) step block */
static void RK(zero_gate_cols)(REAL *a, Py_ssize_t ld, Py_ssize_t G, Py_ssize_t H, Py_ssize_t h0, Py_ssize_t hk,
                               Py_ssize_t B, Py_ssize_t N)
{
    for (Py_ssize_t g = 0; g < G; g++) RK(zero_cols)(a + (g * H + h0) * ld, ld, hk, B, N);
}

/* the recurrent input of step t: h_prev itself, or h~ = h_prev * rec_mask (all H rows: every
 * participant's product reads all of them) in this participant's hm */
static const REAL *RK(recurrent_input)(const REAL *hp, Py_ssize_t lds, const REAL *mask, const Seq *s, REAL *hm,
                                       Py_ssize_t B, Py_ssize_t *ld)
{
    if (!mask) {
        *ld = lds;
        return hp;
    }
    RK(mask_state)(hm, B, hp, lds, mask, s->N, s->H, B);
    *ld = B;
    return hm;
}

/* The input projection of step t for this participant, gx = Wi @ x_t: Wi its rows of W_ih
 * (part_weight; or packed: pk->Wi), gx the compact (G*hk, B) block of its scratch. Nothing without x
 * (the caller projected all steps already) or running columns. */
static void RK(project_input)(const Loop *L, const Packed *pk, const REAL *Wi, Py_ssize_t G, Py_ssize_t hk,
                              Py_ssize_t t, Py_ssize_t B, REAL *gx)
{
    const Seq *s = &L->s;
    if (!s->x || B <= 0) return;
    RK(step_product)(L, pk, pk->Wi, 0, G * hk, B, s->I, Wi, s->I, (const REAL *)s->x + t * s->N, s->ldx, gx, B);
}

/* a += bias (a holds W_ih x_t already; bias NULL: none), for gate_input */
static void RK(add_bias)(REAL *restrict a, Py_ssize_t lda, const REAL *restrict bias, Py_ssize_t G, Py_ssize_t H,
                         Py_ssize_t h0, Py_ssize_t hk, Py_ssize_t B)
{
    if (!bias) return;
    for (Py_ssize_t g = 0; g < G; g++)
        for (Py_ssize_t j = g * H + h0; j < g * H + h0 + hk; j++) {
            REAL v = bias[j];
            for (Py_ssize_t n = 0; n < B; n++) a[j * lda + n] += v;
        }
}

/* a = gx + bias (one value per row; bias NULL: none), for gate_input */
static void RK(set_input)(REAL *restrict a, Py_ssize_t lda, const REAL *restrict gx, const REAL *restrict bias,
                          Py_ssize_t G, Py_ssize_t H, Py_ssize_t h0, Py_ssize_t hk, Py_ssize_t B)
{
    for (Py_ssize_t g = 0; g < G; g++)
        for (Py_ssize_t j = 0; j < hk; j++) {
            Py_ssize_t row = g * H + h0 + j;
            REAL v = bias ? bias[row] : 0;
            const REAL *x = gx + (g * hk + j) * B;
            for (Py_ssize_t n = 0; n < B; n++) a[row * lda + n] = x[n] + v;
        }
}

/* The gate pre-activations' input part, just before the fused step reads them, for the B running
 * columns of this participant's rows [h0, h0 + hk) of each of the G gate blocks of a (row stride
 * lda): a = gx + bias with x (gx still in cache from project_input), else a += bias (the caller's
 * projections are in a). A pass over a block in cache, instead of over the whole (G*H, T, N)
 * array before the loop. */
static void RK(gate_input)(const Seq *s, REAL *a, Py_ssize_t lda, const REAL *gx, const REAL *bias, Py_ssize_t G,
                           Py_ssize_t h0, Py_ssize_t hk, Py_ssize_t B)
{
    if (s->x) RK(set_input)(a, lda, gx, bias, G, s->H, h0, hk, B);
    else RK(add_bias)(a, lda, bias, G, s->H, h0, hk, B);
}

/* this participant's rows of a (G*H, K) weight (W_hh: K = H; W_ih: K = I), gates stacked:
 * (G*hk, K). W itself when P = 1 or G = 1; else its slice of Wg, the copy module.c makes with
 * the rows grouped by participant (group_rows) */
static const REAL *RK(part_weight)(const Loop *L, const REAL *W, const void *Wg, Py_ssize_t G, Py_ssize_t K,
                                   Py_ssize_t h0)
{
    if (!W) return NULL; /* W_ih without x */
    if (L->P > 1 && G > 1) return Wg ? (const REAL *)Wg + G * h0 * K : NULL; /* NULL: packed instead */
    return W + h0 * K;
}

/* Wg = W (G*H, K) with the rows of participant k (its rows of each gate) together */
static void RK(group_rows)(const Loop *L, REAL *Wg, const REAL *W, Py_ssize_t G, Py_ssize_t K)
{
    Py_ssize_t H = L->s.H;
    for (int k = 0; k < L->P; k++) {
        Py_ssize_t h0, h1;
        part_rows(L, k, &h0, &h1);
        for (Py_ssize_t g = 0; g < G; g++, Wg += (h1 - h0) * K)
            memcpy(Wg, W + (g * H + h0) * K, (size_t)((h1 - h0) * K) * sizeof(REAL));
    }
}

/* dh_sq[t] = sum over participants of their partial sums (participant 0 wrote its own into
 * dh_sq, the others into their scratch, part_sq) */
static void RK(sum_parts)(const Loop *L, REAL *dh_sq)
{
    Py_ssize_t TN = L->s.T * L->s.N;
    if (L->claims) { /* chunk 0 wrote into dh_sq, chunk c > 0 into partial c - 1: summed in chunk order */
        for (Py_ssize_t c = 1; c < L->chunks; c++) {
            const REAL *q = (const REAL *)L->sq_chunks + (c - 1) * TN;
            for (Py_ssize_t i = 0; i < TN; i++) dh_sq[i] += q[i];
        }
        return;
    }
    for (int k = 1; k < L->P; k++) {
        const REAL *q = (const REAL *)part_sq(L, k);
        for (Py_ssize_t i = 0; i < TN; i++) dh_sq[i] += q[i];
    }
}

/* where participant k sums dh^2: dh_sq itself for k = 0, else its zeroed scratch */
static REAL *RK(sq_target)(const Loop *L, int k, REAL *dh_sq)
{
    if (k == 0) return dh_sq;
    REAL *q = (REAL *)part_sq(L, k);
    memset(q, 0, (size_t)(L->s.T * L->s.N) * sizeof(REAL));
    return q;
}

/* Elman RNN forward (rnn_fwd): hs (H, T+1, N); the output slots receive h_t (and hold W_ih x_t
 * before, without x). bias (H,) = b_ih + b_hh, or NULL for none.
 * p: hs, x, W_ih, W_hh, bias, rec_mask; part scratch: gh, gx (hk, N), hm (H, N) */
static void RK(rnn_fwd_seq)(Loop *L, int k)
{
    SEQ_DIMS;
    REAL *hs = L->p[0];
    const REAL *Wi = RK(part_weight)(L, L->p[2], NULL, 1, s->I, h0);
    const REAL *W = RK(part_weight)(L, L->p[3], NULL, 1, H, h0), *bias = L->p[4], *mask = L->p[5];
    REAL *gh = (REAL *)part_scratch(L, k), *gx = gh + L->hk_max * N, *hm = gx + L->hk_max * N;
    Packed pk;
    RK(pack_weights)(L, k, 1, 0, L->p[3], L->p[2], &pk);
    for (Py_ssize_t i = 0; i < T; i++) {
        Py_ssize_t t = STEP_T(i), B = seq_active(s, t), ldin;
        REAL *hp = hs + PREV(t) * N, *hc = hs + CUR(t) * N + h0 * lds;
        RK(project_input)(L, &pk, Wi, 1, hk, t, B, gx);
        if (i) barrier_wait(&L->bar);
        if (B > 0) {
            const REAL *hin = RK(recurrent_input)(hp, lds, mask, s, hm, B, &ldin);
            RK(step_product)(L, &pk, pk.W, 0, hk, B, H, W, H, hin, ldin, gh, B);
            RK(gate_input)(s, hs + CUR(t) * N, lds, gx, bias, 1, h0, hk, B);
            RK(rnn_fwd)(hc, lds, gh, B, hk, B, L->relu);
        }
        if (B < N) RK(carry_cols)(hc, hp + h0 * lds, lds, hk, B, N);
    }
}

/* dy_t's rows [h0, h0 + hk) for the B running columns, from dy (H, T, N) at any element strides
 * ys (such as a view of the user's (N, T, H) or (T, N, H) dL/dy): the block itself where its
 * columns are contiguous (*ld its row stride), else a copy into the block buf, row stride ldb
 * (*ld = ldb), by tiles where its rows are contiguous (the user's layouts: a transpose,
 * layout.h) */
static const REAL *RK(step_rows)(const REAL *dy, const Py_ssize_t *ys, Py_ssize_t t, Py_ssize_t h0, Py_ssize_t hk,
                                 Py_ssize_t B, REAL *buf, Py_ssize_t ldb, Py_ssize_t *ld)
{
    const REAL *p = dy + t * ys[1] + h0 * ys[0];
    if (ys[2] == 1 || B <= 1) {
        *ld = ys[0];
        return p;
    }
    *ld = ldb;
    if (ys[0] == 1) RK(transpose)(buf, ldb, p, ys[2], B, hk);
    else
        for (Py_ssize_t j = 0; j < hk; j++)
            for (Py_ssize_t n = 0; n < B; n++) buf[j * ldb + n] = p[j * ys[0] + n * ys[2]];
    return buf;
}

/* The RNN's backward keeps the gradients da_t of RNN_CHUNK steps at a time, in a ring, and takes
 * every product with them there, one per chunk: K = RNN_CHUNK * N runs near the machine's peak,
 * a product per step (K = N) well below it. */
#ifndef RNN_CHUNK
#define RNN_CHUNK 16
#endif
/* The LSTM's backward, the same way (lstm_chunk), 8 steps at a time: its rings hold 4H rows, and
 * chunks of 4, 8 and 16 steps measured the same LSTM training steps on a Zen 3 core (within 3% at
 * N = 1, 32 and 64 sequences, now one ahead, now another); 8 holds half the memory of 16. */
#ifndef LSTM_CHUNK
#define LSTM_CHUNK 8
#endif
#ifndef GR_ROWS
#define GR_ROWS (4 * PK_MR) /* rows of a ring that chunk_grads_packed packs at a time */
#endif

/* h~ = h * rec_mask for the n consecutive slots from hp (H, n*N), into hm; h itself without a
 * mask */
static const REAL *RK(chunk_states)(const Loop *L, Py_ssize_t n, const REAL *hp, const REAL *mask, REAL *hm,
                                    Py_ssize_t *ld)
{
    Py_ssize_t N = L->s.N, lds = (L->s.T + 1) * N, K = n * N;
    *ld = lds;
    if (!mask) return hp;
    for (Py_ssize_t c = 0; c < n; c++) RK(mask_state)(hm + c * N, K, hp + c * N, lds, mask, N, L->s.H, N);
    *ld = K;
    return hm;
}

/* the sum over the K columns of each of the rows of a (row stride lda), added to db; in 16
 * running sums per row, which the compiler keeps in one vector register (a single running sum
 * would be a chain of dependent scalar additions, which it may not reorder) */
static void RK(add_row_sums)(REAL *restrict db, const REAL *restrict a, Py_ssize_t lda, Py_ssize_t rows, Py_ssize_t K)
{
    for (Py_ssize_t j = 0; j < rows; j++) {
        const REAL *aj = a + j * lda;
        REAL acc[16] = {0}, sum = 0;
        Py_ssize_t c = 0;
        for (; c + 16 <= K; c += 16)
            for (int l = 0; l < 16; l++) acc[l] += aj[c + l];
        for (; c < K; c++) sum += aj[c];
        for (int l = 0; l < 16; l++) sum += acc[l];
        db[j] += sum;
    }
}

#if RK_PACKED
/* Rows [j0, j1) of Z = [Z0; Z1] (J rows: n0 of Z0 at row stride ld0, then those of Z1 at ld1),
 * kc columns from each block's pointer, transposed into Bt (row stride J): Bt[c * J + j] = Z[j][c].
 * The rows of block mb (0 or 1) are h~ = h * rec_mask: times mask[row of the block][(k0 + c) % N]
 * (mask (rows, N); NULL: none). The products of a backward's weight gradients read Z = [h~; x]
 * (chunk_grads_packed) or [x; h~] (gradients.h: grad_part) this way, a chunk of K's columns at a
 * time, their participants each a share of Z's rows. */
static void RK(stacked_transpose)(float *Bt, Py_ssize_t J, Py_ssize_t j0, Py_ssize_t j1, const float *Z0,
                                   Py_ssize_t ld0, Py_ssize_t n0, const float *Z1, Py_ssize_t ld1, int mb,
                                   const float *mask, Py_ssize_t k0, Py_ssize_t kc, Py_ssize_t N)
{
    for (int b = 0; b < 2; b++) {
        Py_ssize_t lo = b ? n0 : 0, a = j0 > lo ? j0 : lo, e = b ? j1 : j1 < n0 ? j1 : n0, ld = b ? ld1 : ld0;
        if (a >= e) continue;
        transpose_f(Bt + a, J, (b ? Z1 : Z0) + (a - lo) * ld, ld, e - a, kc);
        if (b != mb || !mask) continue;
        for (Py_ssize_t c = 0; c < kc; c++) {
            const float *m = mask + (k0 + c) % N;
            float *row = Bt + c * J;
            for (Py_ssize_t j = a; j < e; j++) row[j] *= m[(j - lo) * N];
        }
    }
}

/* A chunk's weight gradients on the AVX-512 kernel (Loop.pk_grads; module.c: loop_scratch): the
 * LSTM's (lstm_chunk_grads, below) and the RNN's (rnn_bwd_seq). NumPy's OpenBLAS 0.3.31 runs its
 * AVX2 (Haswell) kernel on AMD's Zen 5 (it does not know the CPU: OpenBLAS issue 6029); on its
 * full-width AVX-512 units that is half the rate of packed.h's AVX-512 kernel, about 100 against
 * 220 GFLOP/s, and these products are a third of a training step's. So: the
 * participants transpose Z = [h~_c; x_c] (H + I, K) into the shared Bt (K, H + I), each its
 * share of Z's rows (times rec_mask for h~), and meet at a barrier (every participant comes here
 * at the same step); then each packs its rows [r0, r1) of the ring, GR_ROWS at a time (Ap, pk_pack),
 * and adds
 *     dW_hh[r0:r1] += Ap @ Bt[:, :H]      dW_ih[r0:r1] += Ap @ Bt[:, H:]
 * Each element is a running float sum over k in turn, whoever computes it. Bt is written again
 * only at the next chunk's end, after a step barrier that every participant passes once done
 * with this one. Returns 0 where it did not run (the BLAS then takes the products).
 * The RNN's backward (rnn_bwd_seq) takes its chunks' weight gradients here too: the arguments say
 * whose: the ring (row stride ldr) of the n steps from lo, the states hs (H, T + 1, N), x, rec_mask
 * (or NULL), and the gradients dW_hh, dW_ih added to. */
static int RK(chunk_grads_packed)(const Loop *L, int k, const float *ring, Py_ssize_t ldr, Py_ssize_t lo,
                                  Py_ssize_t n, const float *hs, const float *xs, const float *mask, float *dW,
                                  float *dWi, Py_ssize_t r0, Py_ssize_t r1)
{
    if (!L->pk_grads) return 0;
    Py_ssize_t H = L->s.H, N = L->s.N, I = L->s.I, J = H + I, K = n * N, j0, j1;
    const Seq *s = &L->s;
    float *Bt = L->gr_Bt;
    share(L, J, k, &j0, &j1); /* Z = [h~; x] of the chunk: h_{t-1} of its steps, and x_t */
    RK(stacked_transpose)(Bt, J, j0, j1, hs + PREV(lo) * N, (s->T + 1) * N, H, xs + lo * N, s->ldx, 0, mask, 0, K, N);
    barrier_wait((Barrier *)&L->bar);
    float *Ap = (float *)((char *)part_scratch(L, k) + L->gr_offset);
    for (Py_ssize_t q = r0; q < r1; q += GR_ROWS) { /* GR_ROWS rows at a time: a small Ap */
        Py_ssize_t rows = r1 - q < GR_ROWS ? r1 - q : GR_ROWS;
        pk_pack(Ap, K, 0, ring + q * ldr, 1, 0, rows, ldr, K, 1, 0);
        pk_product_to(L->pk_kernel, Ap, rows, K, Bt, J, H, dW + q * H, H, 1);
        if (I > 0) pk_product_to(L->pk_kernel, Ap, rows, K, Bt + H, J, I, dWi + q * I, I, 1);
    }
    return 1;
}
#endif

/* Elman RNN backward, the whole of it (rnn_bwd): the time loop and, a chunk of steps t = t_lo ..
 * t_lo + n - 1 at a time (t_lo a multiple of RNN_CHUNK), every product with da_t:
 *   dW_hh += da @ h~_{t-1}.T     dW_ih += da @ x_t.T     db += da @ 1     dx_t = W_ih.T @ da
 * (dW_hh, dW_ih and db are added to; db NULL: no bias). So no (H, T, N) array of da_t is ever
 * written: a step writes its da_t at position t - t_lo of the chunk's ring (H, RNN_CHUNK*N), where
 * the barrier's other side reads it (dh = W_hh.T @ da_t). At the chunk's last step, before the
 * barrier, each participant adds its rows of dW_hh, dW_ih and db (its rows of the ring); after it
 * (every row written), its share of the chunk's columns of dx. With the AVX-512 kernel (pk_grads)
 * the rows of dW_hh and dW_ih come after the barrier instead, from all participants' share of the
 * chunk's [h~; x] transposed (chunk_grads_packed), and dx from W_ih.T packed by each participant:
 * RNN training steps 9-14% less time on the Zen 5 machine from 32x100x8x64 to 64x200x64x256, and
 * the same results bit for bit on any number of threads. Two rings in turn, by chunk: one is
 * written again only after the barrier of the next chunk's first step, when every participant is
 * done with its dx. dx may be x itself (dW_ih, or chunk_grads_packed's transposes with its
 * barrier, have read the chunk's x before any dx of it is written). dy
 * (H, T, N) at any strides (s->ys) or NULL (zeros); x (I, T, N) with row stride s->ldx.
 * p: hs, x, W_ih, W_hh, dy, dh, dh_sq, dW_ih, dW_hh, db, dx, rec_mask; shared scratch: the rings
 * (and with pk_grads Bt); part scratch: hm (H, RNN_CHUNK*N) with rec_mask but without pk_grads
 * (with it: the packed ring rows and W_ih.T) */
static void RK(rnn_bwd_seq)(Loop *L, int k)
{
    SEQ_DIMS;
    const REAL *hs = L->p[0], *x = L->p[1], *Wi = L->p[2], *W = (const REAL *)L->p[3] + h0, *dy = L->p[4];
    REAL *dh = (REAL *)L->p[5] + h0 * N, *sq = RK(sq_target)(L, k, L->p[6]);
    REAL *dWi = (REAL *)L->p[7] + h0 * s->I, *dW = (REAL *)L->p[8] + h0 * H, *db = L->p[9], *dx = L->p[10];
    const REAL *mask = L->p[11];
    const REAL *zeros = L->zeros ? (const REAL *)L->zeros + h0 * N : NULL;
    REAL *hm = (REAL *)part_scratch(L, k);
    Py_ssize_t ldr = RNN_CHUNK * N, I = s->I;
    Packed pk;
    RK(pack_weights)(L, k, 1, 1, L->p[3], NULL, &pk);
#if RK_PACKED
    float *Wip = L->pk_grads ? (float *)((char *)part_scratch(L, k) + L->gr_wi_offset) : NULL; /* W_ih.T */
    if (Wip) pk_pack(Wip, H, 0, Wi, 1, 0, I, 1, H, I, 0);
#endif
    for (Py_ssize_t i = 0; i < T; i++) {
        Py_ssize_t t = BACK_T(i), B = seq_active(s, t), ldy = N, ldh;
        Py_ssize_t t_lo = t - t % RNN_CHUNK, n = T - t_lo < RNN_CHUNK ? T - t_lo : RNN_CHUNK, K = n * N;
        int last = s->reverse ? t == t_lo + n - 1 : t == t_lo; /* the chunk's last step backwards */
        REAL *ring = (REAL *)L->shared + ((t / RNN_CHUNK) & 1) * H * ldr, *da = ring + (t - t_lo) * N;
        /* dy_t where it is (the kernels' layout), or copied into da's block for rnn_bwd to write
         * da over */
        const REAL *dyt = dy ? RK(step_rows)(dy, s->ys, t, h0, hk, B, da + h0 * ldr, ldr, &ldy) : zeros;
        RK(rnn_bwd)(da + h0 * ldr, ldr, dh, N, dyt, ldy, hs + h0 * lds + CUR(t) * N, lds, sq + t * N, hk, B,
                    L->relu);
        if (B < N) RK(zero_cols)(da + h0 * ldr, ldr, hk, B, N);
        if (last && K > 0) { /* this participant's rows of the chunk's weight gradients (or after the
                                barrier, on the AVX-512 kernel: chunk_grads_packed) */
            if (!L->pk_grads) {
                const REAL *hin = RK(chunk_states)(L, n, hs + PREV(t_lo) * N, mask, hm, &ldh);
                RK(gemm_ex)(b, 0, 1, hk, H, K, ring + h0 * ldr, ldr, hin, ldh, 1, dW, H);
                RK(gemm_ex)(b, 0, 1, hk, I, K, ring + h0 * ldr, ldr, x + t_lo * N, s->ldx, 1, dWi, I);
            }
            if (db) RK(add_row_sums)(db + h0, ring + h0 * ldr, ldr, hk, K);
        }
        barrier_wait(&L->bar);
        if (B > 0) RK(state_grad)(L, &pk, hk, H, W, H, da, ldr, dh, N, mask ? mask + h0 * N : NULL, N, B);
#if RK_PACKED
        /* every participant's x columns are in Bt (its barrier) before any writes dx below */
        if (last && K > 0)
            RK(chunk_grads_packed)(L, k, ring, ldr, t_lo, n, hs, x, mask, L->p[8], L->p[7], h0, h1);
#endif
        if (last && K > 0) { /* this participant's columns [c0, c1) of the chunk's dx */
            Py_ssize_t c0, c1;
            share(L, K, k, &c0, &c1);
            if (c1 <= c0) continue;
#if RK_PACKED
            if (Wip) {
                pk_product(L->pk_kernel, Wip, I, H, ring + c0, ldr, c1 - c0, dx + t_lo * N + c0, lda);
                continue;
            }
#endif
            RK(gemm_ex)(b, 1, 0, I, c1 - c0, H, Wi, I, ring + c0, ldr, 0, dx + t_lo * N + c0, lda);
        }
    }
}

#if RK_PACKED
/* One step of lstm_fwd_seq with claimed chunks (module.c: claim; packed, fused): [h~; x_t] as
 * pk_gates reads them once (h~ in hm with rec_mask), then for each chunk this participant claims,
 * its units through pk_gates and the gate pass, and the finished columns of its rows */
static void RK(lstm_fwd_claimed)(Loop *L, int k, Py_ssize_t i, const Packed *pk, Py_ssize_t t, Py_ssize_t B,
                                  REAL *hm)
{
    Py_ssize_t H = L->s.H, N = L->s.N, lds = (L->s.T + 1) * N, Kt = H + L->s.I, ldin, ldx = L->s.ldx;
    const Seq *s = &L->s;
    REAL *hs = L->p[0], *A = L->p[1], *cs = L->p[2], *tcs = L->p[3];
    REAL *a = A + TM_SLOT(1, t, 4 * H);
    const REAL *hp = hs + PREV(t) * N, *hin = NULL, *x = (const REAL *)s->x + t * N;
    if (B > 0) {
        hin = RK(recurrent_input)(hp, lds, L->p[8], s, hm, B, &ldin);
        pk_gates_input(L->pk_kernel, H, &hin, &ldin, s->I, &x, &ldx, B, pk->z);
    }
    for (Py_ssize_t c; (c = claim(L, k, i)) >= 0;) {
        Py_ssize_t u0, u = chunk_units(L, c, &u0);
        REAL *cp = cs + TM_SLOT(2, PREV(t), H) + u0 * N, *cc = cs + TM_SLOT(2, CUR(t), H) + u0 * N;
        REAL *hc = hs + CUR(t) * N + u0 * lds, *tc = tcs + TM_SLOT(3, t, H) + u0 * N;
        if (B > 0) {
            RK(LstmRows) o = {a + u0 * N, N, H * N, cp, cc, N, tc, N, hc, lds};
            pk_gates(L->pk_kernel, (const float *)pk->W + 4 * u0 * Kt, (const float *)pk->bias + 4 * u0, u, H, hin,
                     ldin, s->I, x, ldx, B, pk->z, RK(lstm_epilogue), &o);
        }
        if (B < N) {
            RK(zero_gate_cols)(a, N, 4, H, u0, u, B, N);
            RK(carry_cols)(cc, cp, N, u, B, N);
            RK(carry_cols)(hc, hp + u0 * lds, lds, u, B, N);
        }
    }
}
#endif

/* LSTM forward (lstm_fwd): A (T, 4H, N) receives the activations [i; f; g; o] (0 in finished
 * columns; without x it holds W_ih x_t before); hs (H, T+1, N), cs (T+1, H, N); tcs (T, H, N);
 * bias (4H,). A, tcs may have one time slot, cs two (TM_SLOT). p: hs, A, cs, tcs, x, W_ih, W_hh, bias, rec_mask;
 * part scratch: gh, gx (4hk, N), hm (H, N), packed weights. Packed (with x: the fused step), the
 * participants claim chunks of units, each a pk_gates call: W_hh h~ + W_ih x_t + b and the gate
 * pass (lstm_fwd_z) on its result (lstm_fwd_claimed; one participant claims all of them). */
static void RK(lstm_fwd_seq)(Loop *L, int k)
{
    SEQ_DIMS;
    REAL *hs = L->p[0], *A = L->p[1], *cs = L->p[2], *tcs = L->p[3];
    const REAL *Wi = RK(part_weight)(L, L->p[5], L->Wig, 4, s->I, h0);
    const REAL *W = RK(part_weight)(L, L->p[6], L->Wg, 4, H, h0), *bias = L->p[7], *mask = L->p[8];
    REAL *gh = (REAL *)part_scratch(L, k), *gx = gh + 4 * L->hk_max * N, *hm = gx + 4 * L->hk_max * N;
    Packed pk;
    if (L->claims) RK(pack_claimed)(L, k, 0, L->p[6], L->p[5], bias, &pk);
    else RK(pack_weights)(L, k, 4, 0, L->p[6], L->p[5], &pk);
    for (Py_ssize_t i = 0; i < T; i++) {
        Py_ssize_t t = STEP_T(i), B = seq_active(s, t), ldin;
#if RK_PACKED
        if (L->claims) { /* the first barrier also waits for every participant's packed weights */
            claims_reset(L, k, i);
            barrier_wait(&L->bar);
            RK(lstm_fwd_claimed)(L, k, i, &pk, t, B, hm);
            continue;
        }
#endif
        REAL *hp = hs + PREV(t) * N, *hc = hs + CUR(t) * N + h0 * lds;
        REAL *cp = cs + TM_SLOT(2, PREV(t), H) + h0 * N, *cc = cs + TM_SLOT(2, CUR(t), H) + h0 * N;
        REAL *a = A + TM_SLOT(1, t, 4 * H), *tc = tcs + TM_SLOT(3, t, H) + h0 * N;
        RK(project_input)(L, &pk, Wi, 4, hk, t, B, gx);
        if (i) barrier_wait(&L->bar);
        if (B > 0) {
            const REAL *hin = RK(recurrent_input)(hp, lds, mask, s, hm, B, &ldin);
            RK(step_product)(L, &pk, pk.W, 0, 4 * hk, B, H, W, H, hin, ldin, gh, B);
            RK(gate_input)(s, a, N, gx, bias, 4, h0, hk, B);
            RK(lstm_fwd)(a + h0 * N, N, H * N, gh, B, hk * B, cp, N, cc, N, tc, N, hc, lds, hk, B);
        }
        if (B < N) {
            RK(zero_gate_cols)(a, N, 4, H, h0, hk, B, N);
            RK(carry_cols)(cc, cp, N, hk, B, N);
            RK(carry_cols)(hc, hp + h0 * lds, lds, hk, B, N);
        }
    }
}

/* Chunk q of dx's rows in lstm_bwd_claimed: rows [q * chunk, ...) of dx_t = W_ih.T @ da_t, from
 * the compact da_t (dah, row stride B) into dx_t (row stride lda), 0 in finished columns */
static void RK(dx_chunk)(const Loop *L, const Packed *pk, Py_ssize_t q, const REAL *Wi, const REAL *dah, Py_ssize_t B,
                         REAL *dxt, Py_ssize_t lda)
{
    Py_ssize_t H = L->s.H, I = L->s.I, r0 = q * L->chunk, r = I - r0 < L->chunk ? I - r0 : L->chunk;
    const void *Wp = (const REAL *)pk->W + (L->chunks * L->chunk + r0) * 4 * H;
    if (B > 0) RK(step_product)(L, pk, Wp, 1, r, B, 4 * H, Wi + r0, I, dah, B, dxt + r0 * lda, lda);
    if (B < L->s.N) RK(zero_cols)(dxt + r0 * lda, lda, r, B, L->s.N);
}

/* The chunk of steps t = lo .. lo + n - 1 (lo a multiple of LSTM_CHUNK) that the LSTM's backward is
 * in at step t, as rnn_bwd_seq has it: its gate gradients go into the ring (4H, LSTM_CHUNK * N) of
 * the chunk, two in turn; `last`: t is its last step backwards */
typedef struct {
    Py_ssize_t lo, n;
    int last;
    REAL *ring;
} RK(Chunk);

static RK(Chunk) RK(lstm_chunk)(const Loop *L, Py_ssize_t t)
{
    Py_ssize_t T = L->s.T, lo = t - t % LSTM_CHUNK, n = T - lo < LSTM_CHUNK ? T - lo : LSTM_CHUNK;
    REAL *rings = (REAL *)L->shared + 2 * 4 * L->s.H * L->s.N; /* after the two dah blocks */
    return (RK(Chunk)){lo, n, L->s.reverse ? t == lo + n - 1 : t == lo,
                       rings + ((t / LSTM_CHUNK) & 1) * 4 * L->s.H * LSTM_CHUNK * L->s.N};
}

/* The LSTM's weight gradients of chunk c, once all its gate gradients are in its ring (after the
 * barrier of its last step): participant k's share [r0, r1) of the 4H rows of
 *   dW_ih[r] += ring[r] @ x_c.T     dW_hh[r] += ring[r] @ h~_c.T     db[r] += ring[r] @ 1
 * with x_c and h~_c the chunk's n*N columns of x and of h~ = h_{t-1} * rec_mask (chunk_states,
 * into hm). Products with K = n*N, from a ring still in cache, instead of a (4H, T, N) array of
 * all the gate gradients written to memory and read back by three products after the loop (LSTM
 * training steps on a Zen 3 core 2-3.5% less time at 32x100x8x64, -0.5 to 2.5% at 64x100x32x128,
 * the same within the noise at 64x200x64x256; 4H*T*N values less memory). */

static void RK(lstm_chunk_grads)(const Loop *L, int k, const RK(Chunk) *c, REAL *hm)
{
    Py_ssize_t H = L->s.H, N = L->s.N, I = L->s.I, ldr = LSTM_CHUNK * N, K = c->n * N, r0, r1, ldh;
    const Seq *s = &L->s;
    const REAL *hs = L->p[3], *x = L->p[4], *mask = L->p[15], *ring = c->ring;
    REAL *dWi = L->p[11], *dW = L->p[12], *db = L->p[13];
    share(L, 4 * H, k, &r0, &r1);
#if RK_PACKED
    if (K > 0 && RK(chunk_grads_packed)(L, k, ring, ldr, c->lo, c->n, hs, x, mask, dW, dWi, r0, r1)) {
        if (db && r1 > r0) RK(add_row_sums)(db + r0, ring + r0 * ldr, ldr, r1 - r0, K);
        return;
    }
#endif
    if (r1 <= r0 || K == 0) return;
    const REAL *hin = RK(chunk_states)(L, c->n, hs + PREV(c->lo) * N, mask, hm, &ldh);
    RK(gemm_ex)(&L->b, 0, 1, r1 - r0, H, K, ring + r0 * ldr, ldr, hin, ldh, 1, dW + r0 * H, H);
    RK(gemm_ex)(&L->b, 0, 1, r1 - r0, I, K, ring + r0 * ldr, ldr, x + c->lo * N, s->ldx, 1, dWi + r0 * I, I);
    if (db) RK(add_row_sums)(db + r0, ring + r0 * ldr, ldr, r1 - r0, K);
}

/* lstm_bwd_seq with claimed chunks (module.c: claim; packed). A step's gate pass needs the rows
 * of dh that its participant's product wrote at the step before: so each participant's gate pass
 * takes the chunks it claimed for its product at the step before (at the first step, its own), and
 * only the products are claimed anew. dh_sq's partial sums are by chunk (L->sq_chunks; chunk 0
 * into dh_sq), summed in chunk order after the loop (sum_parts): the same whoever ran a chunk.
 * The products of dx_t = W_ih.T @ da_t are claimed too, as chunks after each participant's
 * units' (module.c: chunk_at; dx_chunk): da_t is still in cache, where the product W_ih.T @ dA
 * after the loop read all of dA from memory again (LSTM training steps about 2% faster on a Zen 3
 * core at 32x100x8x64, 3% at 64x100x32x128, the same at 64x200x64x256). The weight gradients:
 * by chunk of steps, after the claims of its last step (lstm_chunk_grads). */
static void RK(lstm_bwd_claimed)(Loop *L, int k)
{
    Py_ssize_t H = L->s.H, T = L->s.T, N = L->s.N, lda = T * N, c0, c1, n = 0, ldr = LSTM_CHUNK * N;
    const Seq *s = &L->s;
    REAL *dh = L->p[8], *dc = L->p[9], *dx = L->p[14], *hm = (REAL *)part_scratch(L, k);
    const REAL *A = L->p[0], *cs = L->p[1], *tcs = L->p[2], *W = L->p[6], *dy = L->p[7], *mask = L->p[15];
    const REAL *zeros = L->zeros, *Wi = L->p[5];
    Packed pk;
    RK(pack_claimed)(L, k, 1, W, Wi, NULL, &pk);
    Py_ssize_t *mine = (Py_ssize_t *)((char *)part_scratch(L, k) + L->pk_offset);
    part_chunks(L, k, &c0, &c1);
    for (Py_ssize_t c = c0; c < c1; c++) {
        mine[n++] = c;
        if (c) memset((REAL *)L->sq_chunks + (c - 1) * lda, 0, (size_t)lda * sizeof(REAL));
    }
    for (Py_ssize_t i = 0; i < T; i++) {
        Py_ssize_t t = BACK_T(i), B = seq_active(s, t);
        RK(Chunk) ch = RK(lstm_chunk)(L, t);
        REAL *a = (REAL *)A + t * 4 * H * N, *dah = (REAL *)L->shared + (i & 1) * 4 * H * N; /* a: read (dah given) */
        for (Py_ssize_t j = 0; j < n; j++) {
            Py_ssize_t c = mine[j], u0, u = chunk_units(L, c, &u0);
            REAL *sq = c ? (REAL *)L->sq_chunks + (c - 1) * lda : (REAL *)L->p[10];
            RK(lstm_bwd)(a + u0 * N, N, H * N, dh + u0 * N, N, (dy ? dy + t * H * N : zeros) + u0 * N, N,
                         dc + u0 * N, N, cs + PREV(t) * H * N + u0 * N, N, tcs + t * H * N + u0 * N, N,
                         dah + u0 * B, B, H * B, sq + t * N, u, B);
            RK(gates_out)(ch.ring + (t - ch.lo) * N, ldr, dah, B, H, u0, u, N);
        }
        claims_reset(L, k, i); /* the first barrier also waits for every participant's packed weights */
        barrier_wait(&L->bar);
        n = 0;
        for (Py_ssize_t c; (c = claim(L, k, i)) >= 0;) {
            if (c >= L->chunks) {
                RK(dx_chunk)(L, &pk, c - L->chunks, Wi, dah, B, dx + t * N, lda);
                continue;
            }
            Py_ssize_t u0, u = chunk_units(L, c, &u0);
            mine[n++] = c;
            Packed pc = pk;
            pc.W = (const REAL *)pk.W + u0 * 4 * H;
            if (B > 0)
                RK(state_grad)(L, &pc, u, 4 * H, W + u0, H, dah, B, dh + u0 * N, N, mask ? mask + u0 * N : NULL, N, B);
        }
        if (ch.last) RK(lstm_chunk_grads)(L, k, &ch, hm);
    }
}

/* LSTM backward (lstm_bwd), the whole of it: the time loop and, a chunk of steps at a time as the
 * RNN's (rnn_bwd_seq), every product with the gate gradients da_t:
 *   dW_ih += da @ x_t.T     dW_hh += da @ h~_{t-1}.T     db += da @ 1     dx_t = W_ih.T @ da
 * (dW_ih, dW_hh and db added to; db NULL: no bias). dh, dc (H, N) carried. Shared scratch: dah,
 * two (4H, N) blocks used in turn, as the GRU's: the gate gradients, compact, for the product
 * W_hh.T @ da (read from an (F, T, N) A, whose rows are a time axis apart, every participant copied
 * all of them into its panel at every step: the loop took 8-10% longer); from there into the
 * chunk's ring (gates_out; lstm_chunk: two rings in turn, (4H, LSTM_CHUNK * N)), so no (4H, T, N)
 * array of them is ever written. At a chunk's last step, after the barrier (the gate gradients of
 * every participant in the ring), each participant adds its share of the rows of the weight
 * gradients (lstm_chunk_grads); without claims, also its share of the chunk's columns of dx. A ring
 * is written again only after the barrier of the next chunk's first step, when every participant
 * is done with it. A, cs, tcs and dy time-major, only read; x (I, T, N) at row stride s->ldx, read
 * by the weight gradients at a chunk's end, after dx_t was written: dx must not be x.
 * p: A, cs, tcs, hs, x, W_ih, W_hh, dy, dh, dc, dh_sq, dW_ih, dW_hh, db, dx, rec_mask; part scratch:
 * hm (H, LSTM_CHUNK * N) with rec_mask but without pk_grads. With claims (lstm_bwd_claimed) dx_t step by step. */
static void RK(lstm_bwd_seq)(Loop *L, int k)
{
    SEQ_DIMS;
    if (L->claims) {
        RK(lstm_bwd_claimed)(L, k);
        return;
    }
    REAL *dh = (REAL *)L->p[8] + h0 * N, *dc = (REAL *)L->p[9] + h0 * N, *dx = L->p[14];
    REAL *sq = RK(sq_target)(L, k, L->p[10]), *hm = (REAL *)part_scratch(L, k);
    const REAL *A = L->p[0], *cs = L->p[1], *tcs = L->p[2], *W = (const REAL *)L->p[6] + h0, *dy = L->p[7];
    const REAL *mask = L->p[15], *Wi = L->p[5];
    const REAL *zeros = L->zeros ? (const REAL *)L->zeros + h0 * N : NULL;
    Py_ssize_t ldr = LSTM_CHUNK * N;
    Packed pk;
    RK(pack_weights)(L, k, 4, 1, L->p[6], NULL, &pk);
    for (Py_ssize_t i = 0; i < T; i++) {
        Py_ssize_t t = BACK_T(i), B = seq_active(s, t);
        RK(Chunk) ch = RK(lstm_chunk)(L, t);
        REAL *a = (REAL *)A + t * 4 * H * N, *dah = (REAL *)L->shared + (i & 1) * 4 * H * N; /* a: read (dah given) */
        RK(lstm_bwd)(a + h0 * N, N, H * N, dh, N, dy ? dy + t * H * N + h0 * N : zeros, N, dc, N,
                     cs + PREV(t) * H * N + h0 * N, N, tcs + t * H * N + h0 * N, N, dah + h0 * B, B, H * B, sq + t * N,
                     hk, B);
        RK(gates_out)(ch.ring + (t - ch.lo) * N, ldr, dah, B, H, h0, hk, N);
        barrier_wait(&L->bar);
        if (B > 0) RK(state_grad)(L, &pk, hk, 4 * H, W, H, dah, B, dh, N, mask ? mask + h0 * N : NULL, N, B);
        if (!ch.last) continue;
        RK(lstm_chunk_grads)(L, k, &ch, hm);
        Py_ssize_t c0, c1; /* this participant's columns [c0, c1) of the chunk's dx */
        share(L, ch.n * N, k, &c0, &c1);
        if (c1 > c0)
            RK(gemm_ex)(b, 1, 0, s->I, c1 - c0, 4 * H, Wi, s->I, ch.ring + c0, ldr, 0, dx + ch.lo * N + c0, lda);
    }
}

/* GRU (reset_after) forward (gru_fwd): A (3H, T, N) receives the activations (0 in finished
 * columns; without x it holds W_ih x_t before); side (H, T, N) keeps W_hn h~ + b_hn; bias (3H,) =
 * [b_ir + b_hr; b_iz + b_hz; b_in] (b_hn stays inside r * (...)). A and side may have one time
 * slot (SLOT). p: hs, A, side, x, W_ih, W_hh, bias, b_hn, rec_mask; part scratch: gh, gx (3hk, N),
 * hm (H, N) */
static void RK(gru_fwd_seq)(Loop *L, int k)
{
    SEQ_DIMS;
    REAL *hs = L->p[0], *A = L->p[1], *side = L->p[2];
    Py_ssize_t la = SLOT_LD(1), ls = SLOT_LD(2);
    const REAL *Wi = RK(part_weight)(L, L->p[4], L->Wig, 3, s->I, h0);
    const REAL *W = RK(part_weight)(L, L->p[5], L->Wg, 3, H, h0), *bias = L->p[6];
    const REAL *b_hn = (const REAL *)L->p[7] + h0, *mask = L->p[8];
    REAL *gh = (REAL *)part_scratch(L, k), *gx = gh + 3 * L->hk_max * N, *hm = gx + 3 * L->hk_max * N;
    Packed pk;
    RK(pack_weights)(L, k, 3, 0, L->p[5], L->p[4], &pk);
    for (Py_ssize_t i = 0; i < T; i++) {
        Py_ssize_t t = STEP_T(i), B = seq_active(s, t), ldin;
        REAL *hp = hs + PREV(t) * N, *hc = hs + CUR(t) * N + h0 * lds, *st = side + SLOT(2, t) + h0 * ls;
        REAL *a = A + SLOT(1, t);
        RK(project_input)(L, &pk, Wi, 3, hk, t, B, gx);
        if (i) barrier_wait(&L->bar);
        if (B > 0) {
            const REAL *hin = RK(recurrent_input)(hp, lds, mask, s, hm, B, &ldin);
            RK(step_product)(L, &pk, pk.W, 0, 3 * hk, B, H, W, H, hin, ldin, gh, B);
            RK(gate_input)(s, a, la, gx, bias, 3, h0, hk, B);
            RK(gru_fwd)(a + h0 * la, la, H * la, gh, B, hk * B, b_hn, hp + h0 * lds, lds, st, ls, hc, lds, hk, B);
        }
        if (B < N) {
            RK(zero_gate_cols)(a, la, 3, H, h0, hk, B, N);
            RK(carry_cols)(hc, hp + h0 * lds, lds, hk, B, N);
            RK(zero_cols)(st, ls, hk, B, N);
        }
    }
}

/* GRU (reset_after) backward (gru_bwd): dh (H, N) carried. Shared scratch: dah, two (3H, N)
 * blocks used in turn (a participant may write step t-1's while another still reads step t's);
 * part scratch: dhm (hk, N). p: A, hs, side, W_hh, dy, dh, dh_sq, rec_mask */
static void RK(gru_bwd_seq)(Loop *L, int k)
{
    SEQ_DIMS;
    REAL *A = L->p[0], *side = L->p[2], *dh = (REAL *)L->p[5] + h0 * N, *sq = RK(sq_target)(L, k, L->p[6]);
    const REAL *hs = L->p[1], *W = (const REAL *)L->p[3] + h0, *dy = L->p[4], *mask = L->p[7];
    const REAL *zeros = L->zeros ? (const REAL *)L->zeros + h0 * N : NULL;
    REAL *dhm = (REAL *)part_scratch(L, k);
    if (mask) mask += h0 * N;
    Packed pk;
    RK(pack_weights)(L, k, 3, 1, L->p[3], NULL, &pk);
    for (Py_ssize_t i = 0; i < T; i++) {
        Py_ssize_t t = BACK_T(i), B = seq_active(s, t);
        REAL *a = A + t * N, *st = side + t * N + h0 * lda, *dah = (REAL *)L->shared + (i & 1) * 3 * H * N;
        RK(gru_bwd)(a + h0 * lda, lda, H * lda, dh, N, dy ? dy + h0 * lda + t * N : zeros, dy ? lda : N,
                    hs + h0 * lds + PREV(t) * N, lds, st, lda, dah + h0 * B, B, H * B, sq + t * N, hk, B);
        if (B < N) {
            RK(zero_gate_cols)(a, lda, 3, H, h0, hk, B, N);
            RK(zero_cols)(st, lda, hk, B, N);
        }
        barrier_wait(&L->bar);
        if (B > 0) {
            RK(state_grad)(L, &pk, hk, 3 * H, W, H, dah, B, dhm, B, mask, N, B);
            for (Py_ssize_t j = 0; j < hk; j++)
                for (Py_ssize_t n = 0; n < B; n++) dh[j * N + n] += dhm[j * B + n];
        }
    }
}

#undef SEQ_DIMS
#undef STEP_T
#undef BACK_T
#undef PREV
#undef CUR
#undef SLOT
#undef SLOT_LD
