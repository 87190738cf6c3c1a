"""Losses and metrics, second read: targets at masked-out steps are not read (PyTorch's
ignore_index), out-of-range targets are refused, label types are not mixed, parameters are checked,
and the seasonal-naive docstring formula is the code's."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnkit import losses as L
from rnnkit import metrics as M
from rnnkit.metrics import baselines

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _torch_value_grad(fn, pred, *args, **kwargs):
    p = torch.tensor(pred, requires_grad=True)
    value = fn(p, *args, **kwargs)
    value.backward()
    return value.item(), p.grad.numpy()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("pad", [-100, -1, np.nan])
def test_cross_entropy_does_not_read_targets_at_masked_out_steps(reduction, pad):
    rng = np.random.default_rng(0)
    N, T, C = 3, 6, 4
    z = rng.standard_normal((N, T, C))
    lengths = np.array([6, 4, 2])
    mask = np.arange(T)[None, :] < lengths[:, None]
    k = rng.integers(0, C, (N, T))
    padded = np.where(mask, k, pad)                   # int for -100/-1, float (with NaN) for NaN
    value, grad = L.cross_entropy(z, padded, mask=mask, reduction=reduction)
    ignore = torch.tensor(np.where(mask, k, -100))
    tv, tg = _torch_value_grad(lambda p: F.cross_entropy(p.reshape(-1, C), ignore.reshape(-1), ignore_index=-100,
                                                          reduction=reduction), z)
    assert value == pytest.approx(tv, rel=1e-12)
    np.testing.assert_allclose(grad, tg, atol=1e-14, err_msg="dL/dlogits")
    with pytest.raises(ValueError, match=r"class indices in 0\.\.3"):  # a counted step still must hold a class
        L.cross_entropy(z, np.where(mask, pad if pad == pad else -1, k), mask=mask)


def test_cross_entropy_refuses_infinite_float_class_ids():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="NaN or infinite"):   # was cast to int: a garbage index
        L.cross_entropy(z, np.array([0.0, np.inf]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        L.cross_entropy(z, np.array([0.0, np.nan]))
    with pytest.raises(TypeError, match="with fractional values"):
        L.cross_entropy(z, np.array([0.0, 1.5]))


def test_cross_entropy_checks_the_shape_of_float_class_ids_first():
    """whole-number floats of the wrong shape: the shape is the problem, not their dtype"""
    with pytest.raises(ValueError, match=r"Expected class indices of shape \(4,\) .* got \(4, 1\)"):
        L.cross_entropy(np.zeros((4, 3)), np.zeros((4, 1)))


@pytest.mark.parametrize("pos_weight", [None, [0.5, 2.0]])
def test_bce_does_not_read_targets_at_masked_out_steps(pos_weight):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((3, 5, 2)) * 3
    y = (rng.random((3, 5, 2)) > 0.5).astype(float)
    mask = rng.random((3, 5)) > 0.4
    padded = np.where(mask[..., None], y, -1.0)
    value, grad = L.binary_cross_entropy_with_logits(z, padded, mask=mask, pos_weight=pos_weight)
    m = torch.tensor(mask)
    kw = {} if pos_weight is None else {"pos_weight": torch.tensor(pos_weight, dtype=torch.float64)}
    tv, tg = _torch_value_grad(lambda p: F.binary_cross_entropy_with_logits(p[m], torch.tensor(y)[m], **kw), z)
    assert value == pytest.approx(tv, rel=1e-12)
    np.testing.assert_allclose(grad, tg, atol=1e-14, err_msg="dL/dlogits")


def test_bce_refuses_nan_and_out_of_range_targets_where_they_count():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"targets in \[0, 1\].*1 outside it: \[nan\]"):  # was a silent NaN loss
        L.binary_cross_entropy_with_logits(z, np.array([[0, 1, np.nan], [1, 0, 1]]))
    with pytest.raises(ValueError, match=r"targets in \[0, 1\].*\[2\.0\]"):
        L.binary_cross_entropy_with_logits(z, np.array([[0, 1, 2], [1, 0, 1]]), mask=[True, False])


def test_accuracy_refuses_strings_mixed_with_numbers_in_one_array():
    mixed = np.array([1, "a", 2], dtype=object)
    with pytest.raises(ValueError, match=r"Mix of label input types \(string and number\).*y_true"):
        M.accuracy(mixed, mixed)                       # scikit-learn refuses it too; the old answer was 1.0
    with pytest.raises(ValueError, match=r"Mix of label input types.*y_pred"):
        M.accuracy(np.array(["1", "a", "2"]), mixed)
    assert M.accuracy(np.array([1, 2.0]), np.array([1, 2])) == 1.0    # ints and floats are both numbers


@pytest.mark.parametrize("min_strength, error", [(float("nan"), ValueError), (-0.1, ValueError),
                                                 (float("inf"), ValueError), ("x", TypeError), (True, TypeError)])
def test_guess_seasonal_period_checks_min_strength(min_strength, error):
    t = np.arange(240)
    y = np.sin(2 * np.pi * t / 12)
    with pytest.raises(error, match=r"'min_strength' parameter of guess_seasonal_period must be a finite float >= 0"):
        M.guess_seasonal_period(y, min_strength=min_strength)     # NaN used to answer 1 (no season) for any series
    assert M.guess_seasonal_period(y, min_strength=0) == 12
    assert M.guess_seasonal_period(y, min_strength=np.float32(0.3)) == 12


@pytest.mark.parametrize("m, horizon", [(1, 3), (4, 10), (5, 5)])
def test_seasonal_naive_docstring_formula_is_the_code(m, horizon):
    line = next(s for s in baselines.__doc__.splitlines() if "y_hat[T + h] =" in s)
    got = re.fullmatch(r"\s*y_hat\[T \+ h\] = (.+?)\s+for h = (\S+)\.\.(\S+)\s*", line)
    assert got, f"Expected the formula line 'y_hat[T + h] = ... for h = a..b', got {line!r}"
    rhs, first, last = got.groups()
    y = np.arange(1.0, 13.0) ** 2
    T, H = len(y), horizon
    full = np.concatenate([y, M.seasonal_naive(y, horizon, m)])
    for h in range(eval(first, {"H": H}), eval(last, {"H": H}) + 1):
        assert full[T + h] == eval(rhs, {"y": y, "T": T, "m": m, "h": h}), f"h = {h}"


def test_accuracy_and_the_estimators_share_one_missing_label_rule():
    """a NumPy float NaN inside an object array is missing for accuracy as it is for fit"""
    from rnnkit.estimators.labels import encode_labels

    y = np.array([1, np.float32("nan")], dtype=object)
    with pytest.raises(ValueError, match="missing labels"):
        M.accuracy(y, [1, 2])
    with pytest.raises(ValueError, match="(?i)missing"):
        encode_labels(y, 2, "fit")


def test_accuracy_names_label_kinds_in_words():
    with pytest.raises(ValueError, match=r"\(strings and other objects\): accuracy got mixed .* in y_true"):
        M.accuracy(np.array(["a", (1,)], dtype=object), np.array(["a", "b"], dtype=object))
