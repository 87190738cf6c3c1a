"""Losses: parameters checked where they are given (pos_weight, delta), clear messages for
targets of the wrong form, and torch parity in float32 and float64 at large logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit import losses

BCE = losses.binary_cross_entropy_with_logits


def _torch_value_grad(fn, pred):
    p = torch.tensor(pred, requires_grad=True)
    v = fn(p)
    v.backward()
    return float(v.detach()), p.grad.numpy()


# -- pos_weight -----------------------------------------------------------------------------------
@pytest.mark.parametrize("pos_weight,match", [
    ([1.0, 2.0], r"K = 3 outputs on their last axis need 3 weights .* Got 2"),
    (-1.0, r"finite float > 0 or a 1-D list of them\. Got -1\.0"),
    (0.0, r"Got 0\.0"),
    (float("inf"), r"Got inf"),
    (float("nan"), r"Got nan"),
    ([[1.0, 2.0, 3.0]], r"1-D list"),
    (True, r"Got True"),
])
def test_bce_pos_weight_is_checked_by_the_function_and_the_class(pos_weight, match):
    logits, target = np.zeros((4, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match="'pos_weight' parameter of binary_cross_entropy_with_logits"):
        BCE(logits, target, pos_weight=pos_weight)
    with pytest.raises(ValueError, match=match):
        BCE(logits, target, pos_weight=pos_weight)
    if np.ndim(pos_weight) == 1:   # the class cannot know K before it sees logits
        with pytest.raises(ValueError, match=match):
            losses.BCEWithLogitsLoss(pos_weight=pos_weight)(logits, target)
    else:
        with pytest.raises(ValueError, match="'pos_weight' parameter of BCEWithLogitsLoss"):
            losses.BCEWithLogitsLoss(pos_weight=pos_weight)
    with pytest.raises(TypeError, match="'pos_weight'"):
        BCE(logits, target, pos_weight="heavy")


def test_bce_pos_weight_per_output_matches_torch_per_step():
    rng = np.random.default_rng(0)
    logits, target = rng.standard_normal((2, 4, 3)) * 3, (rng.random((2, 4, 3)) > 0.4).astype(float)
    pw = [0.5, 2.0, 4.0]
    v, g = losses.BCEWithLogitsLoss(reduction="sum", pos_weight=np.array(pw))(logits, target)
    rv, rg = _torch_value_grad(lambda p: F.binary_cross_entropy_with_logits(
        p, torch.tensor(target), pos_weight=torch.tensor(pw), reduction="sum"), logits)
    np.testing.assert_allclose(v, rv, rtol=1e-13)
    np.testing.assert_allclose(g, rg, rtol=1e-12, atol=1e-15)


def test_bce_one_pos_weight_in_a_list_counts_for_every_output_as_in_torch():
    rng = np.random.default_rng(1)
    logits, target = rng.standard_normal((4, 3)), (rng.random((4, 3)) > 0.5).astype(float)
    v, g = BCE(logits, target, pos_weight=[2.0])
    rv, rg = _torch_value_grad(lambda p: F.binary_cross_entropy_with_logits(
        p, torch.tensor(target), pos_weight=torch.tensor([2.0])), logits)
    np.testing.assert_allclose(v, rv, rtol=1e-13)
    np.testing.assert_allclose(g, rg, rtol=1e-12, atol=1e-15)


# -- huber delta ----------------------------------------------------------------------------------
def test_huber_takes_any_real_delta_and_refuses_non_finite_ones():
    pred, target = np.array([[0.2, -3.0, 1.0]]), np.zeros((1, 3))
    ref = F.huber_loss(torch.tensor(pred), torch.tensor(target), delta=0.5).item()
    for delta in (np.float32(0.5), np.float64(0.5), 0.5):
        assert losses.huber(pred, target, delta=delta)[0] == pytest.approx(ref, rel=1e-7)
        assert losses.HuberLoss(delta=delta).delta == 0.5
    for delta in (float("inf"), float("nan"), 0, -1.0, True, "1"):
        with pytest.raises(ValueError, match=r"'delta' parameter of huber must be a finite float > 0"):
            losses.huber(pred, target, delta=delta)


# -- cross-entropy targets ------------------------------------------------------------------------
def test_cross_entropy_integer_one_hot_targets_say_to_pass_floats():
    logits, labels = np.zeros((4, 3), dtype=np.float32), np.array([0, 1, 2, 0])
    one_hot = np.eye(3, dtype=np.int64)[labels]
    with pytest.raises(ValueError, match=r"got \(4, 3\)\. One-hot or probability targets .* "
                                         r"target\.astype\('float32'\)"):
        losses.cross_entropy(logits, one_hot)
    assert losses.cross_entropy(logits, one_hot.astype(np.float32))[0] == pytest.approx(
        losses.cross_entropy(logits, labels)[0])


# -- parity at large logits, float32 and float64 --------------------------------------------------
LARGE = np.array([-1e4, -800.0, -100.0, -30.0, -17.0, -1.0, 0.0, 1.0, 17.0, 30.0, 100.0, 800.0, 1e4])


@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-15), (np.float32, 3e-7)])
@pytest.mark.parametrize("pos_weight", [None, 3.0])
def test_bce_large_logits_match_torch(dtype, atol, pos_weight):
    z = LARGE.astype(dtype)
    for y in (np.ones_like(z), np.zeros_like(z), np.full_like(z, 0.25)):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            v, g = BCE(z, y, reduction="sum", pos_weight=pos_weight)
        pw = None if pos_weight is None else torch.tensor(pos_weight, dtype=torch.float64 if dtype == np.float64
                                                          else torch.float32)
        rv, rg = _torch_value_grad(lambda p: F.binary_cross_entropy_with_logits(
            p, torch.tensor(y), pos_weight=pw, reduction="sum"), z)
        assert g.dtype == dtype
        np.testing.assert_allclose(v, rv, rtol=1e-6 if dtype == np.float32 else 1e-14)
        np.testing.assert_allclose(g, rg, rtol=0, atol=atol)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-13), (np.float32, 1e-5)])
def test_cross_entropy_large_logits_match_torch(dtype, rtol):
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((6, 4)) * 500).astype(dtype)
    labels = rng.integers(0, 4, 6)
    probs = rng.random((6, 4)).astype(dtype)
    probs /= probs.sum(1, keepdims=True)
    for target in (labels, probs):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            v, g = losses.cross_entropy(logits, target)
        rv, rg = _torch_value_grad(lambda p: F.cross_entropy(p, torch.tensor(target)), logits)
        assert g.dtype == dtype and np.isfinite(v)
        np.testing.assert_allclose(v, rv, rtol=rtol)
        np.testing.assert_allclose(g, rg, rtol=rtol, atol=1e-7 if dtype == np.float32 else 1e-15)
