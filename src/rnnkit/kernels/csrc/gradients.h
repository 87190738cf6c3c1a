/* What a backward multiplies after its time loop (the RNN's and the LSTM's where their loops
 * run in Python: kernels/common.py, weight_gradients; the GRU's: kernels/gru.py), in one pass over
 * dA (float32, with packed.h's kernel):
 *
 *     dW_ih = dA @ x.T      dW_hh = dA @ (h_prev * rec_mask).T      db = dA @ 1      dx = W_ih.T @ dA
 *
 * The GRU (PyTorch's form) feeds its candidate's recurrent side with r * (W_hn h~ + b_hn), so the
 * last H rows of dW_hh come from side = da_n * r instead of from dA's last H rows (`side`, the
 * rows from Ms = M - H on): for those rows the x part and the h part are two products, from two
 * packed blocks. On the Zen 5 machine, whose CPU NumPy's OpenBLAS 0.3.31 runs its AVX2 kernel on,
 * GRU training steps 19-22% less time than with NumPy's products at 64x100x32x128 and 64x200x64x256
 * (32x100x8x64: see GR_MIN_WEIGHT).
 *
 * every (F, T, N) array read as the (F, K) matrix it is, K = T * N (kernels/common.py:
 * weight_gradients does the same with NumPy). NumPy's OpenBLAS takes these as three products
 * (and one more for db) that read dA, 4H * K values, four times from memory; its kernel runs
 * them at about 97 GFLOP/s a core on the development machine (Zen 4), packed.h's at 110-115:
 * 10-16% less time for all four at 64x100x32x128 and 64x200x64x256 (6-7 ms of 58-60 at the latter).
 * With packed.h's AVX2 kernel it takes twice NumPy's time (Zen 3: 18.2 against 9.2 ms at
 * 64x100x32x128; its tiles pass over dA's and W_ih's chunks four times as often), so module.c uses
 * it there only when told to (packed_products mode 2, for the tests).
 *
 * Here K goes by chunks of GR_KC columns. For each chunk:
 *   1. the participants transpose Z = [x; h_prev * rec_mask] ((I + H), chunk) into Bt (chunk,
 *      I + H), each its share of Z's rows (layout.h's tiled transpose), into one of two shared
 *      buffers used in turn;
 *   2. each packs its rows of dA's chunk (pk_pack) and adds their sums to db;
 *   barrier (Bt whole);
 *   3. each adds its rows' Ap @ Bt into its block C (rows, I + H) of [dW_ih | dW_hh];
 *   4. each computes its share of the chunk's columns of dx = W_ih.T @ dA (W_ih.T packed once).
 * A participant may start the next chunk's transposes while another still multiplies with this
 * one's Bt: they go into the other buffer, and the one after that waits for the barrier of the
 * next chunk, which the other reaches only once done. dx may be x itself: a chunk's columns of x
 * are read (step 1) before the barrier that precedes their columns of dx (step 4), and never after.
 * Each element of the products is a float sum of K products, chunk by chunk.
 */

#define GR_KC 128 /* columns of K per chunk: Bt (GR_KC, I + H) and each Ap (rows, GR_KC) stay in cache */
/* the fewest values of [dW_ih | dW_hh] (G*H * (I + H)) this pays from. It was 32768, set on Zen 4 while
 * the kernel's add tiles still kept their accumulators on the stack (packed_tile.h), from "0.85-0.94x
 * NumPy's time at H = 64 (18432, 20480 values), 1.0-1.16x from 49152". On the Zen 5 machine,
 * since then, GRU training steps at 32x100x8x64 and 16x100x8x64 (13824 values) took 20-25% less time
 * with the pass than with NumPy's products on its OpenBLAS (Haswell kernel), 1-4% less with
 * OPENBLAS_CORETYPE=SkylakeX (medians of 40 paired rounds); at H = 32 (3840 values at I = 8) -16% to
 * +3%, mixed: so from 12288, H = 64 for the GRU. Below GR_MIN_WEIGHT_ANY (32768, the value of
 * before) only where the pass's scratch (each participant's packed rows of dA and side, GR_KC
 * columns, and its block of the gradients; the shared Bt and packed W_ih.T; module.c: gate_gradients)
 * is no larger than dA, G*H * T*N values: about 450 kB for the GRU at H = 64 on two threads, which
 * would take a training step at 1x100x8x64 from 0.25 MB to about 0.7 MB, past PyTorch's 0.29
 * (tests/test_training_memory.py), and one at 16x5x8x64 from 0.25 to 0.67 (PyTorch's 0.23). From
 * GR_MIN_WEIGHT_ANY whatever the scratch, as before (the pass was 9-30% faster at N = 1 too). */
#define GR_MIN_WEIGHT 12288
#define GR_MIN_WEIGHT_ANY 32768

typedef struct {
    const float *dA, *x, *h, *mask, *Wi; /* Wi: W_ih.T packed (I rows, K = M) */
    const float *side;                   /* or NULL: dW_hh's rows from Ms on are side @ (h_prev * rec_mask).T */
    Py_ssize_t Ms;
    float *dW_ih, *dW_hh, *db, *dx;
    Py_ssize_t M, I, H, T, N, ldx, ldh;
    float *Bt[2];                        /* shared: the chunk's Z.T, GR_KC rows of I + H */
    char *part;                          /* each participant's Ap and C */
    size_t part_bytes;
    Py_ssize_t rows_max;                 /* the most rows of dA a participant has */
    int P;
    int lanes;                           /* the kernel (packed.h: pk_lanes when it started) */
    Barrier bar;
} Grads;

/* the values of a participant's packed rows of dA (and of side): its rows in up to two ranges, and
 * those of the second twice (grad_part) */
static Py_ssize_t grad_ap_values(const Grads *G)
{
    return G->side ? pk_values(G->rows_max, GR_KC) + 2 * pk_values(G->rows_max + PK_MR, GR_KC)
                   : pk_values(G->rows_max, GR_KC);
}

/* participant k's rows [m0, m1) of dA (whole blocks of PK_MR but the last) */
static void grad_rows(const Grads *G, int k, Py_ssize_t *m0, Py_ssize_t *m1)
{
    Py_ssize_t blocks = (G->M + PK_MR - 1) / PK_MR;
    *m0 = PK_MR * (blocks * k / G->P);
    *m1 = PK_MR * (blocks * (k + 1) / G->P);
    if (*m1 > G->M) *m1 = G->M;
}

static void grad_part(void *ctx, int k)
{
    Grads *G = (Grads *)ctx;
    Py_ssize_t M = G->M, I = G->I, J = I + G->H, K = G->T * G->N, m0, m1;
    grad_rows(G, k, &m0, &m1);
    Py_ssize_t rows = m1 - m0, j0 = J * k / G->P, j1 = J * (k + 1) / G->P;
    /* rows [m0, ms) take dA's rows on both sides, [ms, m1) side's on the h side */
    Py_ssize_t ms = !G->side || G->Ms >= m1 ? m1 : G->Ms > m0 ? G->Ms : m0, r1 = ms - m0, r2 = m1 - ms;
    float *Ap = (float *)(G->part + (size_t)k * G->part_bytes), *C = Ap + grad_ap_values(G);
    float *Ap2 = Ap + pk_values(r1, GR_KC), *As = Ap2 + pk_values(r2, GR_KC);
    memset(C, 0, (size_t)(rows * J) * sizeof(float));
    if (G->db && rows > 0) memset(G->db + m0, 0, (size_t)rows * sizeof(float));
    for (Py_ssize_t k0 = 0, q = 0; k0 < K; k0 += GR_KC, q++) {
        Py_ssize_t kc = K - k0 < GR_KC ? K - k0 : GR_KC;
        float *Bt = G->Bt[q & 1];
        /* Z = [x; h_prev * rec_mask], columns [k0, k0 + kc) (sequence.h) */
        stacked_transpose_f(Bt, J, j0, j1, G->x + k0, G->ldx, I, G->h + k0, G->ldh, 1, G->mask, k0, kc, G->N);
        if (r1 > 0) pk_pack(Ap, kc, 0, G->dA + m0 * K + k0, 1, 0, r1, K, kc, 1, 0);
        if (r2 > 0) {
            pk_pack(Ap2, kc, 0, G->dA + ms * K + k0, 1, 0, r2, K, kc, 1, 0);
            pk_pack(As, kc, 0, G->side + (ms - G->Ms) * K + k0, 1, 0, r2, K, kc, 1, 0);
        }
        if (G->db && rows > 0) add_row_sums_f(G->db + m0, G->dA + m0 * K + k0, K, rows, kc);
        barrier_wait(&G->bar);
        if (r1 > 0) pk_product_to(G->lanes, Ap, r1, kc, Bt, J, J, C, J, 1);
        if (r2 > 0) {
            pk_product_to(G->lanes, Ap2, r2, kc, Bt, J, I, C + r1 * J, J, 1);
            pk_product_to(G->lanes, As, r2, kc, Bt + I, J, G->H, C + r1 * J + I, J, 1);
        }
        Py_ssize_t c0 = k0 + kc * k / G->P, c1 = k0 + kc * (k + 1) / G->P;
        if (c1 > c0) pk_product(G->lanes, G->Wi, I, M, G->dA + c0, K, c1 - c0, G->dx + c0, K);
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        memcpy(G->dW_ih + (m0 + r) * I, C + r * J, (size_t)I * sizeof(float));
        memcpy(G->dW_hh + (m0 + r) * G->H, C + r * J + I, (size_t)G->H * sizeof(float));
    }
}
