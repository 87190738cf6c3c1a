"""float64 central-difference checks of every gradient the layers and cells return:
dx, dstate0 (h0, and c0 for LSTM) and every parameter gradient in ``layer.grads``."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import (
    CELL_VARIANT_IDS,
    CELL_VARIANTS,
    RandomLoss,
    assert_grads_match,
    make_cell,
    make_layer,
    split_state,
)

# (num_layers, bidirectional)
TOPOLOGIES = [(1, False), (1, True), (2, False), (2, True)]
TOPOLOGY_IDS = ["L1", "L1-bi", "L2", "L2-bi"]

# (bias, batch_first, T, lengths, with_initial_state)
VARIANTS = [
    (True, True, 3, None, True),
    (False, False, 4, [3, 1, 4], False),  # unsorted lengths, one full length
    (True, False, 4, [2, 3, 1], True),  # unsorted lengths, max(lengths) < T
    (False, True, 3, None, False),
]
VARIANT_IDS = [
    "bias-bf-state",
    "nobias-tf-lengths",
    "bias-tf-lengths<T-state",
    "nobias-bf",
]


def _state_arrays(kind, rng, shape, with_state):
    """Explicit initial-state arrays (zeros when the forward uses state=None)."""
    n = 2 if kind == "LSTM" else 1
    if with_state:
        arrs = [0.5 * rng.standard_normal(shape) for _ in range(n)]
    else:
        arrs = [np.zeros(shape) for _ in range(n)]
    return arrs


def _as_state(kind, arrs):
    return tuple(arrs) if kind == "LSTM" else arrs[0]


def run_layer_gradcheck(layer, kind, x, state_arrs, with_state, lengths, loss, mask_seed=None, context=""):
    """Analytic backward (forward with state or None) vs finite differences of the loss."""

    def forward(state):
        if mask_seed is not None:
            layer.set_rng(mask_seed)
        return layer.forward(x, state, lengths)

    layer.zero_grad()
    y, st = forward(_as_state(kind, state_arrs) if with_state else None)
    if mask_seed is not None:  # masks must replay exactly, or the check is meaningless
        y2, _ = forward(_as_state(kind, state_arrs) if with_state else None)
        np.testing.assert_allclose(y, y2, rtol=1e-12, atol=1e-14, err_msg="set_rng(seed) did not replay the dropout masks")
        layer.zero_grad()
        y, st = forward(_as_state(kind, state_arrs) if with_state else None)
    dx, dstate0 = layer.backward(loss.dy(), loss.dstate())
    assert dx.shape == x.shape, f"dx shape {dx.shape} != x shape {x.shape}"

    analytic = {"x": dx}
    inputs = {"x": x}
    names = ["h0", "c0"]
    dstates = split_state(dstate0)
    assert len(dstates) == len(state_arrs), f"dstate0 has {len(dstates)} parts, expected {len(state_arrs)}"
    for name, s, ds in zip(names, state_arrs, dstates):
        analytic[name] = ds
        inputs[name] = s
    for k, v in layer.params.items():
        analytic[k] = layer.grads[k].copy()
        inputs[k] = v

    # numerical side always passes the explicit state arrays (zeros == state=None)
    def f():
        yy, ss = forward(_as_state(kind, state_arrs))
        return loss(yy, ss)

    assert_grads_match(f, analytic, inputs, context=context)


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("topology", TOPOLOGIES, ids=TOPOLOGY_IDS)
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_layer_gradients_match_finite_differences(cell, topology, variant):
    kind, extra, cid = cell
    num_layers, bidirectional = topology
    bias, batch_first, T, lengths, with_state = variant
    N, I, H = (3 if lengths is not None else 2), 2, 2
    D = 2 if bidirectional else 1
    seed = 1000 + TOPOLOGIES.index(topology) * 10 + VARIANTS.index(variant) + 100 * CELL_VARIANT_IDS.index(cid)
    rng = np.random.default_rng(seed)
    layer = make_layer(
        kind, I, H, num_layers=num_layers, bias=bias, batch_first=batch_first,
        bidirectional=bidirectional, dtype="float64", seed=seed, **extra,
    )
    if kind == "RNN" and extra["nonlinearity"] == "relu":
        # relu has a kink at 0 that finite differences cannot cross. A pre-activation is
        # exactly 0 when all of its inputs are (bias=False, h0=0, all lower units off), so keep
        # unit 0 of every layer on at the first step: positive x, positive weight_ih row 0.
        x = rng.uniform(0.2, 1.0, (N, T, I) if batch_first else (T, N, I))
        for k, v in layer.params.items():
            if k.startswith("weight_ih"):
                v[0] = np.abs(v[0])
    else:
        x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    state_arrs = _state_arrays(kind, rng, (num_layers * D, N, H), with_state)
    y_shape = (N, T, D * H) if batch_first else (T, N, D * H)
    loss = RandomLoss(rng, y_shape, [s.shape for s in state_arrs])
    run_layer_gradcheck(
        layer, kind, x, state_arrs, with_state, lengths, loss,
        context=f"{cid} L={num_layers} bi={bidirectional} bias={bias} batch_first={batch_first} "
        f"lengths={lengths} state={with_state}",
    )


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_unbatched_layer_gradients(cell, bidirectional):
    kind, extra, cid = cell
    T, I, H, L = 3, 2, 2, 2
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(7)
    layer = make_layer(kind, I, H, num_layers=L, bidirectional=bidirectional, dtype="float64", seed=3, **extra)
    x = rng.uniform(0.2, 1.0, (T, I)) if extra.get("nonlinearity") == "relu" else rng.standard_normal((T, I))
    state_arrs = _state_arrays(kind, rng, (L * D, H), True)
    loss = RandomLoss(rng, (T, D * H), [s.shape for s in state_arrs])
    run_layer_gradcheck(layer, kind, x, state_arrs, True, None, loss, context=f"unbatched {cid} bi={bidirectional}")


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_gradients_without_state_loss(cell):
    """backward(dy, dstate=None): loss depends on y only."""
    kind, extra, cid = cell
    N, T, I, H = 3, 4, 2, 3
    rng = np.random.default_rng(11)
    layer = make_layer(kind, I, H, num_layers=2, bidirectional=True, dtype="float64", seed=5, **extra)
    x = rng.uniform(0.2, 1.0, (N, T, I)) if extra.get("nonlinearity") == "relu" else rng.standard_normal((N, T, I))
    state_arrs = _state_arrays(kind, rng, (4, N, H), True)
    loss = RandomLoss(rng, (N, T, 2 * H), state_weights=False)
    assert loss.dstate() is None
    run_layer_gradcheck(layer, kind, x, state_arrs, True, [4, 2, 3], loss, context=f"{cid} dstate=None")


# (num_layers, bidirectional, dropout, recurrent_dropout, lengths)
DROPOUT_CASES = [
    (2, True, 0.5, 0.0, None),
    (1, True, 0.0, 0.4, [2, 4, 3]),
    (2, False, 0.3, 0.5, [4, 1, 3]),
    (3, True, 0.4, 0.3, [1, 3, 4]),
]
DROPOUT_IDS = ["dropout-L2-bi", "recdrop-L1-bi-lengths", "both-L2-lengths", "both-L3-bi-lengths"]


@pytest.mark.parametrize("case", DROPOUT_CASES, ids=DROPOUT_IDS)
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_dropout_gradients_with_fixed_masks(cell, case):
    """Training mode, masks held fixed by layer.set_rng(same seed) before every forward."""
    kind, extra, cid = cell
    num_layers, bidirectional, dropout, rec_dropout, lengths = case
    N, T, I, H = 3, 4, 2, 3
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(21)
    layer = make_layer(
        kind, I, H, num_layers=num_layers, bidirectional=bidirectional, dropout=dropout,
        recurrent_dropout=rec_dropout, dtype="float64", seed=9, **extra,
    )
    assert layer.training, "layers must start in training mode"
    x = rng.uniform(0.2, 1.0, (N, T, I)) if extra.get("nonlinearity") == "relu" else rng.standard_normal((N, T, I))
    state_arrs = _state_arrays(kind, rng, (num_layers * D, N, H), True)
    # the masks must actually do something, or this is just the no-dropout check again
    layer.set_rng(123)
    y_train, _ = layer.forward(x, _as_state(kind, state_arrs), lengths)
    layer.eval()
    y_eval, _ = layer.forward(x, _as_state(kind, state_arrs), lengths)
    layer.train()
    assert not np.allclose(y_train, y_eval), "dropout had no effect in training mode"
    loss = RandomLoss(rng, (N, T, D * H), [s.shape for s in state_arrs])
    run_layer_gradcheck(
        layer, kind, x, state_arrs, True, lengths, loss, mask_seed=123,
        context=f"{cid} dropout={dropout} recurrent_dropout={rec_dropout} L={num_layers} bi={bidirectional}",
    )


@pytest.mark.parametrize("cell", CELL_VARIANT_IDS[2:3] + CELL_VARIANT_IDS[4:5], ids=["lstm", "gru_reset_before"])
def test_dropout_layer_in_eval_mode_gradients(cell):
    """eval(): dropout/recurrent_dropout off, gradients are still exact."""
    kind, extra, cid = CELL_VARIANTS[CELL_VARIANT_IDS.index(cell)]
    N, T, I, H = 2, 3, 2, 2
    rng = np.random.default_rng(5)
    layer = make_layer(kind, I, H, num_layers=2, dropout=0.5, recurrent_dropout=0.5, dtype="float64", seed=1, **extra)
    assert layer.eval() is layer
    x = rng.standard_normal((N, T, I))
    state_arrs = _state_arrays(kind, rng, (2, N, H), True)
    loss = RandomLoss(rng, (N, T, H), [s.shape for s in state_arrs])
    run_layer_gradcheck(layer, kind, x, state_arrs, True, None, loss, context=f"eval {cid}")


# --------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_state", [True, False], ids=["state", "nostate"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_cell_gradients_match_finite_differences(cell, bias, with_state, batched):
    kind, extra, cid = cell
    N, I, H = 3, 3, 2
    rng = np.random.default_rng(31)
    c = make_cell(kind, I, H, bias=bias, dtype="float64", seed=4, **extra)
    xs = (N, I) if batched else (I,)
    hs = (N, H) if batched else (H,)
    x = rng.uniform(0.2, 1.0, xs) if extra.get("nonlinearity") == "relu" else rng.standard_normal(xs)
    n = 2 if kind == "LSTM" else 1
    state_arrs = [0.5 * rng.standard_normal(hs) if with_state else np.zeros(hs) for _ in range(n)]
    W = [rng.standard_normal(hs) for _ in range(n)]

    def state_of(arrs):
        return tuple(arrs) if kind == "LSTM" else arrs[0]

    def loss(out):
        return sum(float(np.sum(o * w)) for o, w in zip(split_state(out), W))

    before = {k: g.copy() for k, g in c.grads.items()}
    c(x, state_of(state_arrs) if with_state else None)
    dx, dstate = c.backward(state_of([w.copy() for w in W]))
    analytic = {"x": dx}
    inputs = {"x": x}
    for name, s, ds in zip(["h", "c"], state_arrs, split_state(dstate)):
        analytic[name], inputs[name] = ds, s
    for k, v in c.params.items():
        analytic[k], inputs[k] = c.grads[k] - before[k], v

    assert_grads_match(lambda: loss(c(x, state_of(state_arrs))), analytic, inputs, context=f"cell {cid}")
