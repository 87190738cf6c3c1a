"""rnnkit vs PyTorch: outputs, final states, dx, dstate0 and every parameter gradient.

PyTorch (torch.nn.RNN/LSTM/GRU + pack_padded_sequence(enforce_sorted=False) /
pad_packed_sequence(total_length=T)) is the reference. GRU(reset_after=False) has no torch
module; it is compared with the hand-written torch-autograd loop in conftest
(``torch_reference``), which is itself checked against torch.nn here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from conftest import (
    CELL_VARIANT_IDS,
    CELL_VARIANTS,
    RandomLoss,
    assert_all_close,
    copy_torch_params,
    make_layer,
    reference_hidden_grad_norms,
    split_state,
    torch_reference,
)

torch.set_num_threads(1)

TOL = {"float64": dict(rtol=1e-9, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}
NP_DTYPE = {"float64": np.float64, "float32": np.float32}
TORCH_DTYPE = {"float64": torch.float64, "float32": torch.float32}


def torch_module(kind, extra, I, H, *, num_layers=1, bias=True, batch_first=True, bidirectional=False,
                 dtype="float64", seed=0):
    torch.manual_seed(seed)
    kw = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional,
              dtype=TORCH_DTYPE[dtype])
    if kind == "RNN":
        return torch.nn.RNN(I, H, nonlinearity=extra.get("nonlinearity", "tanh"), **kw)
    return getattr(torch.nn, kind)(I, H, **kw)  # GRU(reset_after=False) only borrows the parameters


def run_torch(kind, extra, module, x, h0, c0, lengths, batch_first, loss, use_reference=False):
    """Forward + backward in torch (float64). Returns dict of numpy results."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    h0t = torch.tensor(h0, dtype=torch.float64, requires_grad=True)
    c0t = torch.tensor(c0, dtype=torch.float64, requires_grad=True) if kind == "LSTM" else None
    module = module.double()
    module.zero_grad()
    params = dict(module.named_parameters())
    if use_reference or extra.get("reset_after") is False:
        unbatched = x.ndim == 2
        xb = xt.unsqueeze(1 if not batch_first else 0) if unbatched else xt
        hb = h0t.unsqueeze(1) if unbatched else h0t
        cb = (c0t.unsqueeze(1) if unbatched else c0t) if c0t is not None else None
        ref = torch_reference(
            kind, params, xb, hb, cb, lengths, hidden_size=module.hidden_size, num_layers=module.num_layers,
            bidirectional=module.bidirectional, batch_first=batch_first,
            nonlinearity=extra.get("nonlinearity", "tanh"), reset_after=extra.get("reset_after", True),
        )
        y, hn, cn = ref["y"], ref["h_n"], ref["c_n"]
        if unbatched:
            y = y.squeeze(0 if batch_first else 1)
            hn = hn.squeeze(1)
            cn = cn.squeeze(1) if cn is not None else None
    else:
        st = (h0t, c0t) if kind == "LSTM" else h0t
        if lengths is not None:
            packed = pack_padded_sequence(xt, torch.as_tensor(lengths), batch_first=batch_first, enforce_sorted=False)
            out, st_n = module(packed, st)
            y, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=x.shape[1 if batch_first else 0])
        else:
            y, st_n = module(xt, st)
        hn, cn = (st_n if kind == "LSTM" else (st_n, None))
    states = [hn] + ([cn] if kind == "LSTM" else [])
    loss.torch(y, *states).backward()
    res = {"y": y, "h_n": hn, "x.grad": xt.grad, "h0.grad": h0t.grad}
    if kind == "LSTM":
        res.update({"c_n": cn, "c0.grad": c0t.grad})
    for k, p in params.items():
        res[k + ".grad"] = p.grad if p.grad is not None else torch.zeros_like(p)
    return {k: v.detach().numpy() for k, v in res.items()}


def check_layer_parity(kind, extra, *, N, T, I, H, num_layers=1, bias=True, batch_first=True,
                       bidirectional=False, lengths=None, with_state=True, state_loss=True, unbatched=False,
                       dtype="float64", seed=0, context=""):
    """Build torch + rnnkit with identical weights, run forward/backward, compare everything."""
    npd = NP_DTYPE[dtype]
    rng = np.random.default_rng(seed)
    D = 2 if bidirectional else 1
    module = torch_module(kind, extra, I, H, num_layers=num_layers, bias=bias, batch_first=batch_first,
                          bidirectional=bidirectional, dtype=dtype, seed=seed)
    layer = make_layer(kind, I, H, num_layers=num_layers, bias=bias, batch_first=batch_first,
                       bidirectional=bidirectional, dtype=dtype, seed=seed, **extra)
    copy_torch_params(layer, module)
    if unbatched:
        xshape, sshape, yshape = (T, I), (num_layers * D, H), (T, D * H)
    else:
        xshape = (N, T, I) if batch_first else (T, N, I)
        sshape = (num_layers * D, N, H)
        yshape = (N, T, D * H) if batch_first else (T, N, D * H)
    x = rng.standard_normal(xshape).astype(npd)
    n_state = 2 if kind == "LSTM" else 1
    s_arrs = [(0.5 * rng.standard_normal(sshape)).astype(npd) if with_state else np.zeros(sshape, npd)
              for _ in range(n_state)]
    loss = RandomLoss(rng, yshape, [sshape] * n_state, state_weights=state_loss)
    # round the loss weights to the layer precision so both sides see the same dy
    loss.Wy = loss.Wy.astype(npd).astype(np.float64)
    loss.Ws = [w.astype(npd).astype(np.float64) for w in loss.Ws]

    state = (tuple(s_arrs) if kind == "LSTM" else s_arrs[0]) if with_state else None
    x_before = x.copy()
    layer.zero_grad()
    y, st = layer(x, state, lengths)
    dx, ds0 = layer.backward(loss.dy(npd), loss.dstate(npd))
    np.testing.assert_array_equal(x, x_before, err_msg="forward/backward modified the input x")

    ref = run_torch(kind, extra, module, x, s_arrs[0], s_arrs[1] if kind == "LSTM" else None, lengths,
                    batch_first, loss)
    got_states = split_state(st)
    got_dstates = split_state(ds0)
    assert len(got_states) == n_state, f"state has {len(got_states)} parts, expected {n_state}"
    assert len(got_dstates) == n_state, f"dstate0 has {len(got_dstates)} parts, expected {n_state}"
    for name, arr in [("y", y), ("dx", dx)] + [(f"state[{i}]", s) for i, s in enumerate(got_states)] + \
            [(f"dstate0[{i}]", s) for i, s in enumerate(got_dstates)] + [(f"grads[{k}]", g) for k, g in layer.grads.items()]:
        assert arr.dtype == npd, f"{name} dtype {arr.dtype}, expected the layer dtype {npd}"
    pairs = [("y", y, ref["y"]), ("h_n", got_states[0], ref["h_n"]), ("dx", dx, ref["x.grad"]),
             ("dh0", got_dstates[0], ref["h0.grad"])]
    if kind == "LSTM":
        pairs += [("c_n", got_states[1], ref["c_n"]), ("dc0", got_dstates[1], ref["c0.grad"])]
    assert list(layer.grads) == [k for k, _ in module.named_parameters()]
    pairs += [(f"grad {k}", layer.grads[k], ref[k + ".grad"]) for k in layer.grads]
    assert_all_close(pairs, context=context, **TOL[dtype])


# --------------------------------------------------------------------------------------
# randomised configurations
# --------------------------------------------------------------------------------------


def random_config(i):
    r = np.random.default_rng(20_000 + i)
    kind, extra, cid = CELL_VARIANTS[i % len(CELL_VARIANTS)]
    N, T = int(r.integers(1, 5)), int(r.integers(1, 7))
    cfg = dict(
        N=N, T=T, I=int(r.integers(1, 6)), H=int(r.integers(1, 6)), num_layers=int(r.integers(1, 4)),
        bidirectional=bool(r.integers(2)), bias=bool(r.random() < 0.75), batch_first=bool(r.integers(2)),
        lengths=None if r.random() < 0.35 else [int(v) for v in r.integers(1, T + 1, size=N)],
        with_state=bool(r.integers(2)), state_loss=bool(r.random() < 0.75), seed=i,
    )
    cid_full = (f"{i}-{cid}-N{N}T{T}I{cfg['I']}H{cfg['H']}L{cfg['num_layers']}"
                + ("-bi" if cfg["bidirectional"] else "") + ("" if cfg["bias"] else "-nobias")
                + ("-bf" if cfg["batch_first"] else "-tf") + ("-len" if cfg["lengths"] else "")
                + ("-h0" if cfg["with_state"] else "") + ("-dstate" if cfg["state_loss"] else ""))
    return (kind, extra, cfg), cid_full


RANDOM_F64 = [random_config(i) for i in range(40)]
RANDOM_F32 = [random_config(100 + i) for i in range(20)]


@pytest.mark.parametrize("case", [c for c, _ in RANDOM_F64], ids=[i for _, i in RANDOM_F64])
def test_random_config_matches_torch_float64(case):
    kind, extra, cfg = case
    check_layer_parity(kind, extra, dtype="float64", context=f"{kind} {extra} {cfg}", **cfg)


@pytest.mark.parametrize("case", [c for c, _ in RANDOM_F32], ids=[i for _, i in RANDOM_F32])
def test_random_config_matches_torch_float32(case):
    kind, extra, cfg = case
    check_layer_parity(kind, extra, dtype="float32", context=f"float32 {kind} {extra} {cfg}", **cfg)


@pytest.mark.parametrize("batch_first", [True, False], ids=["bf", "tf"])
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_bidirectional_two_layers_variable_lengths(cell, batch_first):
    kind, extra, cid = cell
    check_layer_parity(kind, extra, N=5, T=6, I=3, H=4, num_layers=2, bidirectional=True,
                       batch_first=batch_first, lengths=[3, 6, 1, 5, 2], with_state=True, seed=3,
                       context=f"{cid} L2 bi lengths")


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_lengths_all_shorter_than_T(cell):
    """total_length=T: every sequence shorter than T, trailing steps are all padding."""
    kind, extra, cid = cell
    check_layer_parity(kind, extra, N=3, T=6, I=2, H=3, num_layers=2, bidirectional=True,
                       lengths=np.array([2, 4, 1]), with_state=False, seed=4, context=f"{cid} max(lengths)<T")


@pytest.mark.parametrize("topology", [(1, False), (2, True)], ids=["L1", "L2-bi"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["bf", "tf"])
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_unbatched_input_matches_torch(cell, batch_first, topology):
    kind, extra, cid = cell
    L, bi = topology
    check_layer_parity(kind, extra, N=None, T=5, I=3, H=2, num_layers=L, bidirectional=bi,
                       batch_first=batch_first, with_state=True, unbatched=True, seed=6,
                       context=f"unbatched {cid}")


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_single_step_single_sequence(cell):
    kind, extra, cid = cell
    check_layer_parity(kind, extra, N=1, T=1, I=1, H=1, num_layers=2, bidirectional=True, lengths=[1],
                       seed=8, context=f"T=1 {cid}")


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_lengths_equal_T_same_as_no_lengths(cell):
    kind, extra, cid = cell
    rng = np.random.default_rng(0)
    layer = make_layer(kind, 3, 4, num_layers=2, bidirectional=True, dtype="float64", seed=1, **extra)
    x = rng.standard_normal((3, 5, 3))
    dy = rng.standard_normal((3, 5, 8))
    y1, s1 = layer.forward(x)
    dx1, d1 = layer.backward(dy)
    g1 = {k: v.copy() for k, v in layer.grads.items()}
    layer.zero_grad()
    y2, s2 = layer.forward(x, lengths=[5, 5, 5])
    dx2, d2 = layer.backward(dy)
    assert_all_close(
        [("y", y2, y1), ("dx", dx2, dx1)] + [(f"state{i}", a, b) for i, (a, b) in enumerate(zip(split_state(s2), split_state(s1)))]
        + [(f"dstate0{i}", a, b) for i, (a, b) in enumerate(zip(split_state(d2), split_state(d1)))]
        + [(k, layer.grads[k], g1[k]) for k in g1], rtol=1e-12, atol=1e-14, context="lengths=[T]*N vs None")


# --------------------------------------------------------------------------------------
# the torch reference loop itself (it is the oracle for reset_after=False and grad norms)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", [v for v in CELL_VARIANTS if v[1].get("reset_after") is not False],
                         ids=[v[2] for v in CELL_VARIANTS if v[1].get("reset_after") is not False])
def test_reference_loop_matches_torch_nn(cell):
    kind, extra, cid = cell
    rng = np.random.default_rng(1)
    module = torch_module(kind, extra, 3, 4, num_layers=2, bidirectional=True, batch_first=False, seed=2)
    x = rng.standard_normal((5, 3, 3))
    h0 = rng.standard_normal((4, 3, 4))
    c0 = rng.standard_normal((4, 3, 4))
    lengths = [5, 2, 4]
    loss = RandomLoss(rng, (5, 3, 8), [(4, 3, 4)] * (2 if kind == "LSTM" else 1))
    a = run_torch(kind, extra, module, x, h0, c0, lengths, False, loss)
    b = run_torch(kind, extra, module, x, h0, c0, lengths, False, loss, use_reference=True)
    assert_all_close([(k, b[k], a[k]) for k in a], rtol=1e-10, atol=1e-12, context="reference loop vs torch.nn")


def test_gru_reset_before_differs_from_reset_after():
    """Same weights, reset_after False vs True must give different outputs (it is another model)."""
    rng = np.random.default_rng(2)
    a = make_layer("GRU", 3, 4, reset_after=True, dtype="float64", seed=0)
    b = make_layer("GRU", 3, 4, reset_after=False, dtype="float64", seed=0)
    b.load_state_dict(a.state_dict())
    for v in (a.params, b.params):  # make b_hn matter
        v["bias_hh_l0"][8:] = 0.7
    x = rng.standard_normal((2, 4, 3))
    h0 = rng.standard_normal((1, 2, 4))
    ya, _ = a.forward(x, h0)
    yb, _ = b.forward(x, h0)
    assert not np.allclose(ya, yb), "GRU(reset_after=False) computes the same as reset_after=True"


def test_gru_reset_before_single_step_formula():
    """n = tanh(W_in x + b_in + W_hn (r * h) + b_hn), written out in numpy."""
    rng = np.random.default_rng(3)
    I, H, N = 3, 2, 4
    layer = make_layer("GRU", I, H, reset_after=False, dtype="float64", seed=5)
    p = {k: 0.5 * rng.standard_normal(v.shape) for k, v in layer.params.items()}
    layer.load_state_dict(p)
    x = rng.standard_normal((N, 1, I))
    h = rng.standard_normal((1, N, H))
    y, hn = layer.forward(x, h)
    sig = lambda v: 1 / (1 + np.exp(-v))
    Wi, Wh, bi, bh = p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]
    xt, ht = x[:, 0], h[0]
    r = sig(xt @ Wi[:H].T + bi[:H] + ht @ Wh[:H].T + bh[:H])
    z = sig(xt @ Wi[H:2 * H].T + bi[H:2 * H] + ht @ Wh[H:2 * H].T + bh[H:2 * H])
    n = np.tanh(xt @ Wi[2 * H:].T + bi[2 * H:] + (r * ht) @ Wh[2 * H:].T + bh[2 * H:])
    expected = (1 - z) * n + z * ht
    assert_all_close([("h_1", y[:, 0], expected), ("h_n", hn[0], expected)], rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------------------
# hidden_grad_norms
# --------------------------------------------------------------------------------------

# (num_layers, bidirectional, lengths)
NORM_CASES = [(1, False, None), (1, True, None), (1, False, [4, 2, 5]), (2, True, [3, 5, 1])]


@pytest.mark.parametrize("case", NORM_CASES, ids=["L1", "L1-bi", "L1-lengths", "L2-bi-lengths"])
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_hidden_grad_norms_match_torch_retain_grad(cell, case):
    kind, extra, cid = cell
    num_layers, bi, lengths = case
    N, T, I, H = 3, 5, 2, 3
    D = 2 if bi else 1
    rng = np.random.default_rng(17)
    module = torch_module(kind, extra, I, H, num_layers=num_layers, bidirectional=bi, seed=5)
    layer = make_layer(kind, I, H, num_layers=num_layers, bidirectional=bi, dtype="float64", seed=0, **extra)
    copy_torch_params(layer, module)
    x = rng.standard_normal((N, T, I))
    h0 = rng.standard_normal((num_layers * D, N, H))
    c0 = rng.standard_normal((num_layers * D, N, H))
    loss = RandomLoss(rng, (N, T, D * H), [h0.shape] * (2 if kind == "LSTM" else 1))

    layer.forward(x, (h0, c0) if kind == "LSTM" else h0, lengths)
    layer.backward(loss.dy(), loss.dstate())
    got = np.asarray(layer.hidden_grad_norms)

    params = {k: v.detach().requires_grad_(True) for k, v in module.named_parameters()}
    xt = torch.tensor(x, requires_grad=True)
    ref = torch_reference(kind, params, xt, torch.tensor(h0, requires_grad=True),
                          torch.tensor(c0, requires_grad=True) if kind == "LSTM" else None, lengths,
                          hidden_size=H, num_layers=num_layers, bidirectional=bi, batch_first=True,
                          nonlinearity=extra.get("nonlinearity", "tanh"), reset_after=extra.get("reset_after", True))
    states = [ref["h_n"]] + ([ref["c_n"]] if kind == "LSTM" else [])
    loss.torch(ref["y"], *states).backward()
    expected = reference_hidden_grad_norms(ref, num_layers, bi, T)
    assert got.shape == (num_layers, D, T), f"hidden_grad_norms shape {got.shape}, expected {(num_layers, D, T)}"
    if lengths is not None:
        assert np.all(got[:, :, max(lengths):] == 0), "padded-only steps must have zero hidden-grad norm"
    assert_all_close([("hidden_grad_norms", got, expected)], rtol=1e-9, atol=1e-12, context=f"{cid} {case}")


# --------------------------------------------------------------------------------------
# dropout: no bit-parity with torch is possible, check the semantics instead
# --------------------------------------------------------------------------------------


def _fwd_bwd(layer, x, h0, dy, lengths=None, seed=None):
    if seed is not None:
        layer.set_rng(seed)
    layer.zero_grad()
    y, st = layer.forward(x, h0, lengths)
    dx, ds = layer.backward(dy)
    return {"y": y, "dx": dx, **{f"grad {k}": v.copy() for k, v in layer.grads.items()}}


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_dropout_eval_mode_equals_no_dropout(cell):
    kind, extra, cid = cell
    rng = np.random.default_rng(0)
    plain = make_layer(kind, 3, 4, num_layers=3, bidirectional=True, dtype="float64", seed=1, **extra)
    drop = make_layer(kind, 3, 4, num_layers=3, bidirectional=True, dropout=0.5, recurrent_dropout=0.5,
                      dtype="float64", seed=1, **extra)
    drop.load_state_dict(plain.state_dict())
    assert drop.eval() is drop and drop.training is False
    x = rng.standard_normal((2, 5, 3))
    dy = rng.standard_normal((2, 5, 8))
    a = _fwd_bwd(plain, x, None, dy, [5, 3])
    b = _fwd_bwd(drop, x, None, dy, [5, 3])
    assert_all_close([(k, b[k], a[k]) for k in a], rtol=1e-12, atol=1e-14, context="eval-mode dropout vs dropout=0")


@pytest.mark.parametrize("rates", [(0.5, 0.0), (0.0, 0.5), (0.3, 0.3)], ids=["dropout", "recurrent", "both"])
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_dropout_training_replays_with_set_rng_and_differs_from_eval(cell, rates):
    kind, extra, cid = cell
    dropout, rec = rates
    rng = np.random.default_rng(0)
    layer = make_layer(kind, 3, 4, num_layers=2, bidirectional=True, dropout=dropout, recurrent_dropout=rec,
                       dtype="float64", seed=1, **extra)
    x = rng.standard_normal((3, 5, 3))
    dy = rng.standard_normal((3, 5, 8))
    a = _fwd_bwd(layer, x, None, dy, seed=42)
    b = _fwd_bwd(layer, x, None, dy, seed=42)
    assert_all_close([(k, b[k], a[k]) for k in a], rtol=1e-12, atol=1e-14, context="same set_rng seed twice")
    c = _fwd_bwd(layer, x, None, dy, seed=43)
    assert not np.allclose(a["y"], c["y"]), "a different set_rng seed gave the same dropout masks"
    layer.eval()
    e = _fwd_bwd(layer, x, None, dy)
    assert not np.allclose(a["y"], e["y"]), "training-mode output equals eval-mode output: dropout inactive"
    assert not np.allclose(a["dx"], e["dx"]), "training-mode dx equals eval-mode dx: dropout inactive in backward"


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_dropout_not_applied_after_last_layer(cell):
    """dropout acts between stacked layers only: a 1-layer model is unaffected."""
    kind, extra, cid = cell
    rng = np.random.default_rng(0)
    layer = make_layer(kind, 3, 4, num_layers=1, bidirectional=True, dropout=0.5, dtype="float64", seed=1, **extra)
    x = rng.standard_normal((3, 5, 3))
    dy = rng.standard_normal((3, 5, 8))
    a = _fwd_bwd(layer, x, None, dy, seed=1)
    layer.eval()
    b = _fwd_bwd(layer, x, None, dy)
    assert_all_close([(k, a[k], b[k]) for k in a], rtol=1e-12, atol=1e-14, context="dropout on a 1-layer model")
