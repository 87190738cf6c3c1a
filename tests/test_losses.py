"""Losses: value and gradient equal torch (with masks: torch on the selected elements),
finite differences, numerical stability, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit
from rnnkit import losses
from training_helpers import assert_close, numeric_grad

RNG = np.random.default_rng(0)


def _torch_value_grad(fn, pred, *args):
    p = torch.tensor(pred, requires_grad=True)
    v = fn(p, *args)
    v.backward()
    return float(v.detach()), p.grad.numpy()


REGRESSION = [
    ("mse", losses.mse, lambda p, t, r: F.mse_loss(p, t, reduction=r)),
    ("mae", losses.mae, lambda p, t, r: F.l1_loss(p, t, reduction=r)),
    ("huber", losses.huber, lambda p, t, r: F.huber_loss(p, t, reduction=r, delta=1.0)),
]


@pytest.mark.parametrize("name,ours,theirs", REGRESSION, ids=[r[0] for r in REGRESSION])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("masked", [False, True])
def test_regression_losses_match_torch(name, ours, theirs, reduction, masked):
    pred = RNG.standard_normal((4, 6, 3)) * 2
    target = RNG.standard_normal((4, 6, 3))
    mask = np.arange(6)[None, :] < np.array([6, 2, 4, 1])[:, None] if masked else None
    value, grad = ours(pred, target, mask, reduction)
    sel = torch.tensor(mask) if masked else slice(None)
    ref_v, ref_g = _torch_value_grad(lambda p: theirs(p[sel], torch.tensor(target)[sel], reduction), pred)
    assert_close(f"{name} value", value, ref_v, 1e-12, 1e-14)
    assert_close(f"{name} grad", grad, ref_g, 1e-12, 1e-14)


def test_huber_delta_matches_torch_and_class_forms_agree():
    pred, target = RNG.standard_normal((5, 2)) * 3, RNG.standard_normal((5, 2))
    v, g = losses.HuberLoss(delta=0.5)(pred, target)
    rv, rg = _torch_value_grad(lambda p: F.huber_loss(p, torch.tensor(target), delta=0.5), pred)
    assert_close("value", v, rv, 1e-12)
    assert_close("grad", g, rg, 1e-12)
    for cls, fn in [(losses.MSELoss, losses.mse), (losses.L1Loss, losses.mae)]:
        a, b = cls(reduction="sum")(pred, target), fn(pred, target, reduction="sum")
        assert a[0] == b[0] and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_matches_torch(per_step, reduction):
    if per_step:
        logits = RNG.standard_normal((3, 5, 4)) * 3
        target = RNG.integers(0, 4, (3, 5))
        mask = np.arange(5)[None, :] < np.array([5, 1, 3])[:, None]
        sel = torch.tensor(mask)
    else:
        logits = RNG.standard_normal((6, 4)) * 3
        target = RNG.integers(0, 4, 6)
        mask, sel = None, slice(None)
    v, g = losses.cross_entropy(logits, target, mask, reduction)
    rv, rg = _torch_value_grad(lambda p: F.cross_entropy(p[sel], torch.tensor(target)[sel], reduction=reduction),
                               logits)
    assert_close("value", v, rv, 1e-12, 1e-14)
    assert_close("grad", g, rg, 1e-12, 1e-14)


def test_cross_entropy_with_class_probabilities_matches_torch():
    logits = RNG.standard_normal((5, 3))
    q = RNG.random((5, 3))
    q /= q.sum(1, keepdims=True)
    v, g = losses.cross_entropy(logits, q)
    rv, rg = _torch_value_grad(lambda p: F.cross_entropy(p, torch.tensor(q)), logits)
    assert_close("value", v, rv, 1e-12)
    assert_close("grad", g, rg, 1e-12)


@pytest.mark.parametrize("pos_weight", [None, [2.0, 0.5, 1.0]])
@pytest.mark.parametrize("masked", [False, True])
def test_bce_with_logits_matches_torch(pos_weight, masked):
    logits = RNG.standard_normal((4, 5, 3)) * 4
    target = (RNG.random((4, 5, 3)) > 0.5).astype(np.float64)
    target[0, 0, 0] = 0.3  # soft targets are allowed
    mask = np.arange(5)[None, :] < np.array([5, 2, 1, 4])[:, None] if masked else None
    sel = torch.tensor(mask) if masked else slice(None)
    v, g = losses.binary_cross_entropy_with_logits(logits, target, mask, pos_weight=pos_weight)
    pw = None if pos_weight is None else torch.tensor(pos_weight)
    rv, rg = _torch_value_grad(
        lambda p: F.binary_cross_entropy_with_logits(p[sel], torch.tensor(target)[sel], pos_weight=pw), logits)
    assert_close("value", v, rv, 1e-12, 1e-14)
    assert_close("grad", g, rg, 1e-12, 1e-14)


LOSS_FNS = [losses.mse, losses.mae, losses.huber, losses.cross_entropy, losses.binary_cross_entropy_with_logits]


@pytest.mark.parametrize("fn", LOSS_FNS, ids=lambda f: f.__name__)
def test_loss_gradients_match_finite_differences(fn):
    pred = RNG.standard_normal((3, 4, 2)) * 2
    if fn is losses.cross_entropy:
        target = RNG.integers(0, 2, (3, 4))
    elif fn is losses.binary_cross_entropy_with_logits:
        target = RNG.random((3, 4, 2))
    else:
        target = pred + RNG.choice([-3.0, -0.5, 0.4, 2.0], size=pred.shape)  # stay off kinks
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=bool)
    _, g = fn(pred, target, mask)
    assert_close(f"{fn.__name__} grad", g, numeric_grad(lambda: fn(pred, target, mask)[0], pred), 1e-6, 1e-9)
    assert np.all(g[~mask] == 0), "masked elements must get no gradient"


def test_losses_are_stable_for_extreme_logits():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        v, g = losses.cross_entropy(np.array([[1e4, -1e4, 0.0]]), np.array([1]))
        assert v == pytest.approx(2e4) and np.all(np.isfinite(g))
        v, g = losses.binary_cross_entropy_with_logits(np.array([1e4, -1e4]), np.array([0.0, 1.0]))
        assert v == pytest.approx(1e4) and np.allclose(g, [0.5, -0.5])
        v32, _ = losses.cross_entropy(np.array([[100.0, 0.0]], dtype=np.float32), np.array([1]))
        assert v32 == pytest.approx(100.0, rel=1e-6)


def test_loss_dtype_follows_predictions_and_empty_mask_gives_zero():
    pred = np.zeros((2, 3), dtype=np.float32)
    v, g = losses.mse(pred, np.ones((2, 3)))
    assert g.dtype == np.float32 and v == pytest.approx(1.0)
    v, g = losses.mse(pred, np.ones((2, 3)), mask=np.zeros(2, dtype=bool))
    assert v == 0.0 and not g.any()


def test_loss_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"Expected targets of shape \(4, 1\).*reshape"):
        losses.mse(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match=r"class indices in 0..2"):
        losses.cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"class indices of shape \(2,\)"):
        losses.cross_entropy(np.zeros((2, 3)), np.array([[0], [1]]))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 5\)"):
        losses.mse(np.zeros((2, 5, 1)), np.zeros((2, 5, 1)), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"0/1"):
        losses.mse(np.zeros((2, 1)), np.zeros((2, 1)), mask=np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        losses.binary_cross_entropy_with_logits(np.zeros(2), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="'reduction'"):
        losses.MSELoss(reduction="none")
    with pytest.raises(TypeError, match="float predictions"):
        losses.mse(np.zeros(2, dtype=int), np.zeros(2))
    with pytest.raises(rnnkit.ConfigError, match="Unknown loss 'msee'"):
        losses.get("msee")
    assert isinstance(losses.get("cross_entropy"), losses.CrossEntropyLoss)
