"""``TimePool``: finite-difference gradient check, masking of padded steps, config round trip."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit.estimators import TimePool


@pytest.mark.parametrize("bidirectional", [False, True])
def test_time_pool_gradient_matches_finite_differences(bidirectional):
    rng = np.random.default_rng(0)
    y = rng.standard_normal((3, 6, 4))
    lengths = np.array([6, 2, 4])
    pool = TimePool(("mean", "max", "last"), bidirectional=bidirectional)
    w = rng.standard_normal((3, 12))
    loss = lambda a: float((pool.forward(a, lengths) * w).sum())  # noqa: E731
    loss(y)
    dy = pool.backward(w)
    num = np.zeros_like(y)
    eps = 1e-6
    for idx in np.ndindex(y.shape):
        plus, minus = y.copy(), y.copy()
        plus[idx] += eps
        minus[idx] -= eps
        num[idx] = (loss(plus) - loss(minus)) / (2 * eps)
    np.testing.assert_allclose(dy, num, atol=1e-6, err_msg="dL/dy of TimePool")
    assert np.all(dy[1, 2:] == 0), "padded steps must get no gradient"


def test_time_pool_ignores_padding_and_round_trips_config():
    y = np.arange(2 * 4 * 1, dtype=np.float64).reshape(2, 4, 1)
    out = TimePool(("mean", "max", "last")).forward(y, lengths=[4, 2])
    np.testing.assert_array_equal(out, [[1.5, 3, 3], [4.5, 5, 5]])
    model = rnnkit.Sequential([rnnkit.GRU(1, 3, seed=0), TimePool(("mean", "last")), rnnkit.Linear(6, 2, seed=0)])
    back = rnnkit.Sequential.from_config(model.get_config())
    back.load_state_dict(model.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 5, 1)).astype(np.float32)
    np.testing.assert_array_equal(back(x, lengths=[5, 3]), model(x, lengths=[5, 3]))
    with pytest.raises(ValueError, match="'modes' parameter of TimePool"):
        TimePool(("mean", "mean"))
