"""NumPy transcriptions of the equations of ``rnnkit/kernels/csrc/steps.h``, one per fused step
function, evaluated in ``np.longdouble``: the references of test_fused_steps.py.

Each takes the arguments of the C function (arrays as (rows, cols) blocks, then B and the
other integers), returns the values the arrays should hold afterwards, and says which
columns >= B module.c carries, zeroes or leaves alone.
"""

from __future__ import annotations

import numpy as np

from fused_helpers import H, sigmoid, tanh


def gates(x, G):
    """The G row blocks [x_0; ...; x_{G-1}] of a (G*H, .) array (views)."""
    h = x.shape[0] // G
    return [x[k * h : (k + 1) * h] for k in range(G)]


def ref_lstm_forward(a, gh, c_prev, h_prev, c, tc, h, B):
    """LSTM forward step, PyTorch gate order [i; f; g; o], for the columns n < B::

        i = sigma(a_i + gh_i)   f = sigma(a_f + gh_f)   g = tanh(a_g + gh_g)   o = sigma(a_o + gh_o)
        c = f * c_prev + i * g          tc = tanh(c)          h = o * tc
        a <- [i; f; g; o]

    Columns n >= B: c and h carried from c_prev and h_prev; a and tc untouched.
    """
    pre = [ak[:, :B] + gk for ak, gk in zip(gates(a, 4), gates(gh, 4))]
    i, f, g, o = sigmoid(pre[0]), sigmoid(pre[1]), tanh(pre[2]), sigmoid(pre[3])
    c_new = f * c_prev[:, :B] + i * g
    out = dict(a=a.copy(), c=c_prev.copy(), tc=tc.copy(), h=h_prev.copy())
    out["a"][:, :B] = np.concatenate([i, f, g, o])
    out["c"][:, :B] = c_new
    out["tc"][:, :B] = tanh(c_new)
    out["h"][:, :B] = o * tanh(c_new)
    return out


def ref_lstm_backward(a, dh, dy, dc, c_prev, tc, dh_sq, B):
    """LSTM backward step; a holds the forward's [i; f; g; o]. For the columns n < B::

        d = dh + dy                      dh_sq[n] = sum_j d[j, n]^2
        dc' = dc + d * o * (1 - tc^2)
        da_i = dc' * g * i (1 - i)       da_f = dc' * c_prev * f (1 - f)
        da_g = dc' * i * (1 - g^2)       da_o = d * tc * o (1 - o)
        a <- [da_i; da_f; da_g; da_o]    dc <- dc' * f

    Columns n >= B: a zeroed; dc and dh_sq untouched. dh is never written.
    """
    i, f, g, o = (x[:, :B] for x in gates(a, 4))
    d = dh[:, :B] + dy[:, :B]
    t = tc[:, :B]
    dcn = dc[:, :B] + d * o * (1 - t * t)
    out = dict(a=np.zeros_like(a), dc=dc.copy(), dh_sq=dh_sq.copy())
    out["a"][:, :B] = np.concatenate(
        [dcn * g * i * (1 - i), dcn * c_prev[:, :B] * f * (1 - f), dcn * i * (1 - g * g), d * t * o * (1 - o)]
    )
    out["dc"][:, :B] = dcn * f
    out["dh_sq"][:B] = (d * d).sum(axis=0)
    return out


def ref_rnn_forward(a, gh, h_prev, B, relu):
    """Elman RNN forward step, in place: for the columns n < B, a <- phi(a + gh) with
    phi = tanh, or relu(v) = max(v, 0); columns n >= B: a <- h_prev (carried)."""
    v = a[:, :B] + gh
    out = dict(a=h_prev.copy())
    out["a"][:, :B] = np.where(v < 0, 0, v) if relu else tanh(v)
    return out


def ref_rnn_backward(da, dh, dy, h, dh_sq, B, relu):
    """Elman RNN backward step, for the columns n < B::

        d = dh + dy      dh_sq[n] = sum_j d[j, n]^2
        da = d * (1 - h^2)  (tanh)      da = d * [not h <= 0]  (relu; a NaN h passes d, as PyTorch)

    Columns n >= B: da zeroed, dh_sq untouched. dh is never written.
    """
    d = dh[:, :B] + dy[:, :B]
    hb = h[:, :B]
    out = dict(da=np.zeros_like(da), dh_sq=dh_sq.copy())
    out["da"][:, :B] = np.where(hb <= 0, 0, d) if relu else d * (1 - hb * hb)
    out["dh_sq"][:B] = (d * d).sum(axis=0)
    return out


def ref_gru_forward(a, gh, b_hn, h_prev, side, h, B):
    """GRU forward step with reset_after (PyTorch), gate order [r; z; n], for the columns n < B::

        r = sigma(a_r + gh_r)   z = sigma(a_z + gh_z)   s = gh_n + b_hn
        n = tanh(a_n + r * s)   h = n + z * (h_prev - n)
        a <- [r; z; n]          side <- s

    Columns n >= B: h carried from h_prev, side zeroed, a untouched.
    """
    a_r, a_z, a_n = (x[:, :B] for x in gates(a, 3))
    g_r, g_z, g_n = gates(gh, 3)
    r, z = sigmoid(a_r + g_r), sigmoid(a_z + g_z)
    s = g_n + b_hn
    n = tanh(a_n + r * s)
    out = dict(a=a.copy(), side=np.zeros_like(side), h=h_prev.copy())
    out["a"][:, :B] = np.concatenate([r, z, n])
    out["side"][:, :B] = s
    out["h"][:, :B] = n + z * (h_prev[:, :B] - n)
    return out


def ref_gru_backward(a, dh, dy, h_prev, side, dah, dh_sq, B):
    """GRU (reset_after) backward step; a holds [r; z; n], side holds s. For the columns n < B::

        d = dh + dy                        dh_sq[n] = sum_j d[j, n]^2
        da_n = d (1 - z) (1 - n^2)         da_z = d (h_prev - n) z (1 - z)
        da_r = da_n * s * r (1 - r)
        a <- [da_r; da_z; da_n]    side <- da_n * r    dah <- [da_r; da_z; da_n * r]    dh <- d * z

    Columns n >= B: a and side zeroed; dh and dh_sq untouched. dah is (3H, B).
    """
    r, z, n = (x[:, :B] for x in gates(a, 3))
    d = dh[:, :B] + dy[:, :B]
    da_n = d * (1 - z) * (1 - n * n)
    da_z = d * (h_prev[:, :B] - n) * z * (1 - z)
    da_r = da_n * side[:, :B] * r * (1 - r)
    out = dict(a=np.zeros_like(a), side=np.zeros_like(side), dh=dh.copy(), dh_sq=dh_sq.copy())
    out["a"][:, :B] = np.concatenate([da_r, da_z, da_n])
    out["side"][:, :B] = da_n * r
    out["dah"] = np.concatenate([da_r, da_z, da_n * r])
    out["dh"][:, :B] = d * z
    out["dh_sq"][:B] = (d * d).sum(axis=0)
    return out


def ref_gru_forward_rz(a, gh, hm, side, B):
    """GRU in Cho et al.'s form, first half of the forward step, for the columns n < B::

        r = sigma(a_r + gh_r)    z = sigma(a_z + gh_z)    side = r * hm
        a <- [r; z; a_n]  (the n block untouched)

    Columns n >= B: side zeroed, a untouched.
    """
    a_r, a_z, _ = (x[:, :B] for x in gates(a, 3))
    g_r, g_z = gates(gh, 2)
    r, z = sigmoid(a_r + g_r), sigmoid(a_z + g_z)
    out = dict(a=a.copy(), side=np.zeros_like(side))
    out["a"][: 2 * H, :B] = np.concatenate([r, z])
    out["side"][:, :B] = r * hm[:, :B]
    return out


def ref_gru_forward_n(a, gh, h_prev, h, B):
    """GRU in Cho et al.'s form, second half of the forward step (a holds [r; z; a_n], gh = W_hn side),
    for the columns n < B::

        n = tanh(a_n + gh)    h = n + z * (h_prev - n)    a_n <- n

    Columns n >= B: h carried from h_prev, a untouched.
    """
    _, z, a_n = (x[:, :B] for x in gates(a, 3))
    n = tanh(a_n + gh)
    out = dict(a=a.copy(), h=h_prev.copy())
    out["a"][2 * H :, :B] = n
    out["h"][:, :B] = n + z * (h_prev[:, :B] - n)
    return out


def ref_gru_backward_nz(a, dh, dy, h_prev, dh_sq, B):
    """GRU in Cho et al.'s form, first half of the backward step (a holds [r; z; n]), for n < B::

        d = dh + dy     dh_sq[n] = sum_j d[j, n]^2
        a_n <- d (1 - z) (1 - n^2)     a_z <- d (h_prev - n) z (1 - z)     dh <- d * z

    The r block, and every column n >= B, untouched (gru_backward_r zeroes them).
    """
    _, z, n = (x[:, :B] for x in gates(a, 3))
    d = dh[:, :B] + dy[:, :B]
    out = dict(a=a.copy(), dh=dh.copy(), dh_sq=dh_sq.copy())
    out["a"][H:, :B] = np.concatenate([d * (h_prev[:, :B] - n) * z * (1 - z), d * (1 - z) * (1 - n * n)])
    out["dh"][:, :B] = d * z
    out["dh_sq"][:B] = (d * d).sum(axis=0)
    return out


def ref_gru_backward_r(a, drh, hm, B):
    """GRU in Cho et al.'s form, second half of the backward step (a holds [r; da_z; da_n],
    drh = W_hn.T @ da_n is (H, B)), for n < B::

        a_r <- drh * hm * r (1 - r)      drh <- drh * r

    Columns n >= B: the whole of a (3H rows) zeroed.
    """
    r = a[:H, :B]
    out = dict(a=a.copy(), drh=drh * r)
    out["a"][:H, :B] = drh * hm[:, :B] * r * (1 - r)
    out["a"][:, B:] = 0
    return out
