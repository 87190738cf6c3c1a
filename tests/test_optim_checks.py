"""Optimizers beyond the plain update rule: non-finite gradients, overflow-safe clipping, state
restored only when it fits, parameters added later and zero gradients (against torch.optim)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import optim
from rnnkit.errors import NonFiniteError
from training_helpers import ParamsOnly, params_module


_Params, _module = ParamsOnly, params_module  # tests/training_helpers.py


ALL = [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), ("Adam", dict(lr=0.01, amsgrad=True)),
       ("AdamW", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True))]


# -- non-finite gradients -------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name,kwargs", ALL, ids=[a[0] for a in ALL])
def test_step_refuses_non_finite_gradients_and_changes_nothing(name, kwargs, bad):
    m = _module()
    opt = getattr(optim, name)(m, **kwargs)
    m.grads["w"][...] = 1.0
    m.grads["b"][...] = 1.0
    opt.step()
    params, state = {k: v.copy() for k, v in m.params.items()}, opt.state_dict()
    m.grads["b"][2] = bad
    with pytest.raises(NonFiniteError, match=r"finite gradients for .*step\(\), got NaN or inf in \['b'\]") as info:
        opt.step()
    assert info.value.what == "gradient" and info.value.epoch is None
    for k in params:
        np.testing.assert_array_equal(m.params[k], params[k], err_msg=k)
    assert opt.steps == 1
    for k, slots in state["state"].items():
        for slot, v in slots.items():
            np.testing.assert_array_equal(opt.state[k][slot], v, err_msg=f"{k}/{slot}")


def test_step_takes_finite_gradients_whose_sum_overflows():
    m = _Params(w=np.zeros(4, dtype=np.float32))
    m.params["w"] = m.params["w"].astype(np.float32)
    m.grads["w"] = np.full(4, 3e38, dtype=np.float32)  # finite; their float32 sum is inf
    optim.SGD(m, lr=1e-39).step()
    assert np.all(np.isfinite(m.params["w"]))


# -- clipping -----------------------------------------------------------------------------------
def test_global_norm_does_not_overflow_for_finite_gradients():
    rng = np.random.default_rng(0)
    grads = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
    ref = float(torch.nn.utils.get_total_norm([torch.tensor(g) for g in grads.values()]))
    big = {k: v * 1e200 for k, v in grads.items()}   # squares overflow float64 (torch returns inf)
    assert optim.global_norm(big) == pytest.approx(ref * 1e200, rel=1e-14)
    assert optim.clip_grad_norm(big, 2.0) == pytest.approx(ref * 1e200, rel=1e-14)
    assert optim.global_norm(big) == pytest.approx(2.0, rel=1e-12)
    for k in grads:  # clipped in the direction of the original gradients
        np.testing.assert_allclose(big[k], grads[k] * 2.0 / ref, rtol=1e-12)
    f32 = {k: (v * 1e30).astype(np.float32) for k, v in grads.items()}  # float32 squares overflow
    assert optim.global_norm(f32) == pytest.approx(ref * 1e30, rel=1e-6)
    inf, nan = {k: v.copy() for k, v in grads.items()}, {k: v.copy() for k, v in grads.items()}
    inf["a"][0, 0], nan["a"][0, 0] = np.inf, np.nan
    assert optim.global_norm(inf) == math.inf and math.isnan(optim.global_norm(nan))
    assert optim.clip_grad_norm(inf, 1.0) == math.inf and inf["b"][0] == grads["b"][0]  # left as it is


def test_fit_clips_huge_finite_gradients_instead_of_crashing():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 5, 2)), rng.standard_normal((8, 1))
    model = rnnkit.Sequential([rnnkit.GRU(2, 4, seed=0, dtype="float64"), rnnkit.LastStep(),
                               rnnkit.Linear(4, 1, seed=0, dtype="float64")])

    def huge(pred, target, mask):
        value, grad = rnnkit.losses.mse(pred, target, mask)
        return value, grad * 1e160   # finite gradients whose squares overflow

    before = {k: v.copy() for k, v in model.params.items()}
    hist = model.fit(x, y, loss=huge, optimizer=optim.SGD(model, lr=0.1), epochs=1, batch_size=8, clip_norm=1.0,
                     progress=False)
    assert hist["grad_norm"][0] > 1e150
    step = np.sqrt(sum(np.sum((model.params[k] - before[k]) ** 2) for k in before))
    assert step == pytest.approx(0.1, rel=1e-9)   # lr * the clipped norm


def test_fit_names_a_finite_gradient_whose_norm_overflows_instead_of_raising_stop_iteration():
    model = rnnkit.Sequential([rnnkit.Linear(3, 4, seed=0, dtype="float64")])
    x, y = np.ones((1, 3)), np.zeros((1, 4))

    def beyond(pred, target, mask):   # 1e308 in every entry of dW and db: finite, their norm is not
        return 1.0, np.full_like(pred, 1e308)

    before = model.state_dict()
    with pytest.raises(NonFiniteError, match=r"global norm inf, finite entries whose norm exceeds the largest "
                                             r"float\) at epoch 1, batch 1 of 1"):
        model.fit(x, y, loss=beyond, epochs=1, batch_size=1, progress=False)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


# -- state: restored only when it fits ----------------------------------------------------------------
def _stepped(name="Adam", **kwargs):
    m = _module()
    opt = getattr(optim, name)(m, **kwargs)
    for k in m.grads:
        m.grads[k][...] = 0.5
    opt.step()
    return m, opt


def test_load_state_dict_refuses_buffers_of_another_shape():
    _, opt = _stepped()
    other = _Params(w=np.zeros((3, 4)), b=np.zeros((5, 1)))
    target = optim.Adam(other, lr=0.5)
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 'b' has shape \(5,\), expected .* \(5, 1\)"):
        target.load_state_dict(opt.state_dict())
    assert target.lr == 0.5 and target.state == {} and target.steps == 0   # nothing changed


def test_load_state_dict_checks_the_hyperparameters_and_the_slots():
    m, opt = _stepped("Adam", amsgrad=True)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match=r"unknown hyperparameters \['momentum'\]"):
        optim.Adam(m).load_state_dict({**sd, "config": {**sd["config"], "momentum": 0.9}})
    with pytest.raises(ValueError, match="'lr' parameter of Adam"):
        optim.Adam(m).load_state_dict({**sd, "config": {**sd["config"], "lr": -1.0}})
    with pytest.raises(ValueError, match="'steps'"):
        optim.Adam(m).load_state_dict({**sd, "steps": -1})
    broken = {**sd, "state": {"w": {k: v for k, v in sd["state"]["w"].items() if k != "max_exp_avg_sq"}}}
    with pytest.raises(ValueError, match=r"parameter 'w' lacks \['max_exp_avg_sq'\]"):
        optim.Adam(m).load_state_dict(broken)
    with pytest.raises(ValueError, match="without \\['state'\\]"):
        optim.Adam(m).load_state_dict({k: v for k, v in sd.items() if k != "state"})


@pytest.mark.parametrize("name,kwargs", ALL, ids=[a[0] for a in ALL])
def test_state_round_trip_resumes_identically(name, kwargs):
    rng = np.random.default_rng(3)
    grads = [{k: rng.standard_normal(v.shape) for k, v in _module().params.items()} for _ in range(6)]
    a, b = _module(), _module()
    opt_a = getattr(optim, name)(a, **kwargs)
    for g in grads[:3]:
        for k, v in g.items():
            a.grads[k][...] = v
        opt_a.step()
    b.params = {k: v.copy() for k, v in a.params.items()}
    opt_b = getattr(optim, name)(b, lr=0.123)
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.get_config() == opt_a.get_config()
    for g in grads[3:]:
        for m, o in ((a, opt_a), (b, opt_b)):
            for k, v in g.items():
                m.grads[k][...] = v
            o.step()
    for k in a.params:
        np.testing.assert_array_equal(b.params[k], a.params[k], err_msg=k)


# -- against torch: parameters added later, zero gradients ---------------------------------------------
@pytest.mark.parametrize("name,kwargs", ALL, ids=[a[0] for a in ALL])
def test_parameters_added_later_and_zero_gradients_match_torch(name, kwargs):
    rng = np.random.default_rng(1)
    m = _Params(w=rng.standard_normal((2, 3)))
    tp = {"w": torch.tensor(m.params["w"].copy(), requires_grad=True)}
    ours, theirs = getattr(optim, name)(m, **kwargs), getattr(torch.optim, name)([tp["w"]], **kwargs)
    for step in range(8):
        if step == 3:
            m.params["b"], m.grads["b"] = rng.standard_normal(4), np.zeros(4)
            tp["b"] = torch.tensor(m.params["b"].copy(), requires_grad=True)
            theirs.add_param_group({"params": [tp["b"]]})
        for k in m.params:
            g = np.zeros(m.params[k].shape) if step % 3 == 2 else rng.standard_normal(m.params[k].shape)
            m.grads[k][...] = g
            tp[k].grad = torch.tensor(g)
        ours.step()
        theirs.step()
    for k in m.params:
        np.testing.assert_allclose(m.params[k], tp[k].detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=k)
