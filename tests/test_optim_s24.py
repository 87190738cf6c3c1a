"""Optimizers, clipping and schedules (review s24): long runs against torch.optim, and the inputs
that used to give a wrong answer or a deep traceback: eps = 0, missing or misshapen gradients,
corrupt saved state, integer gradients, a negative norm, bad schedule state, a failed resume."""

from __future__ import annotations

import copy
import json
import math
from fractions import Fraction

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import optim
from rnnkit.errors import LoadError
from training_helpers import ParamsOnly, assert_close, params_module


_Params, _module = ParamsOnly, params_module  # tests/training_helpers.py


def _torch_twin(m):
    return {k: torch.tensor(v.copy(), requires_grad=True) for k, v in m.params.items()}


# -- long runs against torch.optim ----------------------------------------------------------------
LONG = [
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.5)),
    ("Adam", dict(lr=0.01, betas=(0.0, 0.5), weight_decay=0.3, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.6, 0.9), eps=1e-3)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.0, weight_decay=0.3)),
    ("RMSprop", dict(lr=0.001, alpha=0.5, centered=True, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.001, alpha=0.0)),
]


@pytest.mark.parametrize("name,kwargs", LONG, ids=[f"{n}-{i}" for i, (n, _) in enumerate(LONG)])
def test_two_hundred_steps_with_zero_gradients_equal_torch(name, kwargs):
    rng = np.random.default_rng(1)
    m = _module()
    tp = _torch_twin(m)
    ours, theirs = getattr(optim, name)(m, **kwargs), getattr(torch.optim, name)(list(tp.values()), **kwargs)
    for step in range(200):
        for k in m.params:
            g = np.zeros(m.params[k].shape) if step % 7 == 3 else rng.standard_normal(m.params[k].shape)
            m.grads[k][...] = g
            tp[k].grad = torch.tensor(g)
        ours.step()
        theirs.step()
    for k in m.params:
        assert_close(f"{name} param {k}", m.params[k], tp[k].detach().numpy(), 1e-12, 1e-15)


# -- hyperparameters ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop"])
def test_eps_zero_is_refused(name):
    # eps = 0 had been taken: a zero gradient on the first step gave 0 / 0 and NaN weights
    with pytest.raises(ValueError, match=rf"The 'eps' parameter of {name} must be a float in \(0.0, inf\)\. "
                                         "Got 0.0 instead"):
        getattr(optim, name)(_module(), eps=0.0)
    m = _module()
    getattr(optim, name)(m, eps=1e-300).step()   # the smallest positive eps is fine: zero gradients
    assert all(np.isfinite(p).all() for p in m.params.values())


def test_hyperparameters_beyond_float_range_get_a_clear_error():
    # an int past float's range reached np.isfinite: "ufunc 'isfinite' not supported" (TypeError)
    with pytest.raises(ValueError, match=r"The 'lr' parameter of SGD must be a float in \[0.0, inf\)"):
        optim.SGD(_module(), lr=10 ** 400)
    assert optim.SGD(_module(), lr=Fraction(1, 4)).lr == 0.25   # any real number (it had failed the same way)
    for bad in (True, "0.1", None, complex(1, 0), np.array(0.1), math.nan, -1e-9):
        with pytest.raises(ValueError, match="'lr' parameter of Adam"):
            optim.Adam(_module(), lr=bad)


# -- gradients --------------------------------------------------------------------------------------
def test_step_refuses_missing_or_misshapen_gradients_and_changes_nothing():
    m = _module()
    opt = optim.Adam(m)
    before = {k: v.copy() for k, v in m.params.items()}
    del m.grads["b"]       # had been a bare KeyError: 'b'
    with pytest.raises(ValueError, match=r"Expected a gradient for every parameter in Adam.step\(\), got none for "
                                         r"\['b'\] \(module.grads holds \['w'\]\)"):
        opt.step()
    m.grads["b"] = np.ones(4)
    with pytest.raises(ValueError, match=r"gradient of 'b' .* parameter's shape \(5,\), got \(4,\)"):
        opt.step()
    m.grads["b"], m.grads["w"] = np.ones(5), np.ones(4)   # (4,) broadcasts to (3, 4): had been taken silently
    with pytest.raises(ValueError, match=r"gradient of 'w' .* parameter's shape \(3, 4\), got \(4,\)"):
        opt.step()
    m.grads["w"] = [[0.0] * 4] * 3
    with pytest.raises(TypeError, match="gradient of 'w' in Adam.step.. to be a real NumPy array, got list"):
        opt.step()
    m.grads["w"] = np.ones((3, 4), dtype=complex)
    with pytest.raises(TypeError, match="got an array of complex128"):
        opt.step()
    for k in before:
        np.testing.assert_array_equal(m.params[k], before[k], err_msg=k)
    assert opt.state == {} and opt.steps == 0


def test_centered_rmsprop_stays_finite_where_rounding_makes_the_variance_negative():
    # a constant gradient: s - a * a is 0 up to rounding; below 0 its root was NaN (torch's too)
    rng = np.random.default_rng(0)
    g = rng.standard_normal(1000)
    m = _Params(w=np.zeros(1000))
    tw = torch.zeros(1000, dtype=torch.float64, requires_grad=True)
    ours = optim.RMSprop(m, lr=0.01, alpha=0.5, centered=True)
    theirs = torch.optim.RMSprop([tw], lr=0.01, alpha=0.5, centered=True)
    for step in range(300):
        m.grads["w"][...] = g
        tw.grad = torch.tensor(g)
        ours.step()
        theirs.step()
        if step == 9:   # variance about 0.5**10 g**2: cancellation costs 3 digits, so torch agrees to 1e-10
            assert_close("RMSprop centered after 10 steps", m.params["w"], tw.detach().numpy(), 1e-10, 0)
    assert np.isfinite(m.params["w"]).all()   # at 300 steps the variance is rounding noise: was NaN


@pytest.mark.parametrize("name,turn_on", [("Adam", "amsgrad"), ("RMSprop", "momentum"), ("RMSprop", "centered")])
def test_switching_a_variant_on_mid_run_starts_its_buffer_at_zero(name, turn_on):
    # these had raised KeyError ('max_exp_avg_sq', 'momentum_buffer', 'grad_avg') at the next step
    rng = np.random.default_rng(2)
    grads = [{k: rng.standard_normal(v.shape) for k, v in _module().params.items()} for _ in range(3)]
    a, b = _module(), _module()
    opt_a, opt_b = getattr(optim, name)(a, lr=0.01), getattr(optim, name)(b, lr=0.01)
    for step, g in enumerate(grads):
        if step == 2:
            setattr(opt_b, turn_on, 0.5 if turn_on == "momentum" else True)
            if name == "RMSprop":
                square = {k: s["square_avg"] * 0.99 + 0.01 * g[k] ** 2 for k, s in opt_a.state.items()}
        for m, o in ((a, opt_a), (b, opt_b)):
            for k, v in g.items():
                m.grads[k][...] = v
            o.step()
    for k in a.params:
        if turn_on == "centered":   # a = 0.01 g (from 0): p -= lr g / (sqrt(s - a^2) + eps)
            before = a.params[k] + 0.01 * grads[2][k] / (np.sqrt(square[k]) + 1e-8)
            want = before - 0.01 * grads[2][k] / (np.sqrt(square[k] - (0.01 * grads[2][k]) ** 2) + 1e-8)
            assert_close(f"centered from step 3 {k}", b.params[k], want, 1e-13, 0)
        else:   # max(0, v) = v and 0.5 * 0 + g / r = g / r: the step is that of the plain rule
            np.testing.assert_array_equal(b.params[k], a.params[k], err_msg=k)
    assert set(opt_b.state["w"]) == set(opt_b._slots())


# -- saved state: refused when corrupt, before anything changes ---------------------------------------
def _adam_state():
    m = _module()
    opt = optim.Adam(m, lr=0.01, amsgrad=True)
    for k in m.grads:
        m.grads[k][...] = 0.5
    opt.step()
    return opt.state_dict()


CORRUPT = [
    ("w", "exp_avg", 0.5, r"'exp_avg' of parameter 'w' must be a float array of the parameter's shape \(3, 4\), "
                          "got 0.5"),
    ("w", "step", "3", r"'step' of parameter 'w' must be an int >= 0 \(the updates so far\), got '3'"),
    ("w", "step", -1, "'step' of parameter 'w' must be an int >= 0"),
    ("w", "step", True, "'step' of parameter 'w' must be an int >= 0"),
    ("b", "exp_avg", np.full(5, np.nan), "'exp_avg' of parameter 'b' holds NaN or inf"),
    ("b", "max_exp_avg_sq", -np.ones(5), "'max_exp_avg_sq' of parameter 'b' holds negative values"),
    ("b", "exp_avg_sq", np.zeros(5, dtype=np.int64), "got an array of int64"),
    ("b", "momentum", np.zeros(5), None),
    ("b", "bogus", 7, "'bogus' of parameter 'b' must be a float array"),
]


@pytest.mark.parametrize("pname,slot,value,message", CORRUPT, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CORRUPT)])
def test_load_state_dict_refuses_corrupt_buffers(pname, slot, value, message):
    sd = _adam_state()
    sd["state"][pname][slot] = value
    target = optim.Adam(_module(), lr=0.5)
    if message is None:   # an extra float buffer of the right shape is kept (a variant switched off)
        target.load_state_dict(sd)
        np.testing.assert_array_equal(target.state["b"]["momentum"], np.zeros(5))
        return
    with pytest.raises(ValueError, match=message):
        target.load_state_dict(sd)
    assert target.lr == 0.5 and target.state == {} and target.steps == 0


def test_load_state_dict_refuses_state_that_is_not_a_dict():
    sd = _adam_state()
    with pytest.raises(ValueError, match=r"'config' and 'state' .* to be dicts .* got dict and list"):
        optim.Adam(_module()).load_state_dict({**sd, "state": []})       # had been AttributeError
    with pytest.raises(ValueError, match=r"'config' and 'state' .* got list and dict"):
        optim.Adam(_module()).load_state_dict({**sd, "config": [1]})     # had been TypeError from dict()
    with pytest.raises(ValueError, match="state of parameter 'w' to be a dict of its buffers, got list"):
        optim.Adam(_module()).load_state_dict({**sd, "state": {"w": [1.0]}})


# -- clipping ---------------------------------------------------------------------------------------
def test_clip_refuses_integer_and_non_array_gradients():
    ints = {"a": np.array([3, 4])}
    # clip_grad_norm had scaled in place by int64(0.2) = 0: the gradients became zeros, norm 5 returned
    with pytest.raises(TypeError, match="gradient 'a' to be a float NumPy array, got an array of int64"):
        optim.clip_grad_norm(ints, 1.0)
    with pytest.raises(TypeError, match="got an array of int64"):
        optim.clip_grad_value(ints, 1.5)               # had been a UFuncTypeError from np.clip
    with pytest.raises(TypeError, match="gradient 'a' to be a float NumPy array, got list"):
        optim.global_norm({"a": [3.0, 4.0]})            # had been AttributeError: 'list' ... 'ravel'
    np.testing.assert_array_equal(ints["a"], [3, 4])


def test_clip_grad_norm_refuses_a_negative_norm():
    grads = {"a": np.array([3.0, 4.0])}
    # norm=-1 had given coef = 1 / (-1 + 1e-6) < 1: the gradients were flipped (-3, -4) and training ascended
    for bad in (-1.0, "5", True):
        with pytest.raises(ValueError, match="The 'norm' parameter of clip_grad_norm must be None or"):
            optim.clip_grad_norm(grads, 1.0, norm=bad)
    np.testing.assert_array_equal(grads["a"], [3.0, 4.0])
    assert math.isnan(optim.clip_grad_norm(grads, 1.0, norm=math.nan))   # global_norm's NaN passes through


@pytest.mark.parametrize("max_norm", [0.0, 1e-3, 2.0, 50.0])
def test_clip_grad_norm_matches_torch_at_every_scale(max_norm):
    rng = np.random.default_rng(4)
    for scale in (1e-8, 1.0, 1e3):
        grads = {"a": rng.standard_normal((3, 4)) * scale, "b": rng.standard_normal(5) * scale}
        tp = [torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for v in grads.values()]
        for p, v in zip(tp, grads.values()):
            p.grad = torch.tensor(v.copy())
        norm = optim.clip_grad_norm(grads, max_norm)
        assert norm == pytest.approx(float(torch.nn.utils.clip_grad_norm_(tp, max_norm)), rel=1e-14)
        for (k, g), p in zip(grads.items(), tp):
            assert_close(f"clipped {k} at scale {scale}", g, p.grad.numpy(), 1e-14, 0)


# -- schedules --------------------------------------------------------------------------------------
def _schedule_pair(kind, lr=0.1):
    o = optim.SGD(_module(), lr=lr)
    t = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=lr)
    S = torch.optim.lr_scheduler
    if kind == "step":
        return optim.StepLR(o, step_size=3, gamma=0.5), S.StepLR(t, step_size=3, gamma=0.5), t
    if kind == "cosine":
        return optim.CosineAnnealingLR(o, T_max=7, eta_min=0.01), S.CosineAnnealingLR(t, T_max=7, eta_min=0.01), t
    kw = dict(mode="max", factor=0.5, patience=1, threshold=0.01, cooldown=1, min_lr=0.001)
    return optim.ReduceLROnPlateau(o, **kw), S.ReduceLROnPlateau(t, **kw), t


@pytest.mark.filterwarnings("ignore:Detected call of")
@pytest.mark.parametrize("kind", ["step", "cosine", "plateau"])
def test_schedule_resumed_from_json_mid_schedule_follows_torch_every_epoch(kind):
    ours, theirs, t = _schedule_pair(kind)
    values = np.random.default_rng(0).permutation([1.0, 0.9, 1.2, 0.97, 0.96, 0.8] * 8).tolist()
    lrs, ref = [], []
    for e in range(len(values)):
        if e == 17:   # save mid-schedule through JSON (as a checkpoint does) and go on with a new schedule
            saved = json.loads(json.dumps(ours.state_dict()))
            opt = optim.SGD(_module(), lr=0.5)
            opt.load_state_dict(ours.optimizer.state_dict())
            ours = _schedule_pair(kind, lr=0.5)[0]
            ours.optimizer = opt
            ours.load_state_dict(saved)
        ours.step(values[e]) if kind == "plateau" else ours.step()
        theirs.step(values[e]) if kind == "plateau" else theirs.step()
        lrs.append(ours.optimizer.lr)
        ref.append(t.param_groups[0]["lr"])
    assert len(set(np.round(lrs, 12))) > 3
    assert_close(f"{kind} learning rates", lrs, ref, 1e-12, 1e-15)


def test_schedule_state_is_checked_before_anything_changes():
    sched = optim.StepLR(optim.SGD(_module(), lr=0.1), step_size=2)
    good = optim.StepLR(optim.SGD(_module(), lr=0.1), step_size=3, gamma=0.5)
    for _ in range(3):
        good.step()
    sd = good.state_dict()
    # a negative gamma had been loaded (lr -0.1 two epochs later: gradient ascent)
    with pytest.raises(ValueError, match=r"The 'gamma' parameter of StepLR must be a float in \[0.0, inf\)"):
        sched.load_state_dict({**sd, "gamma": -1.0})
    with pytest.raises(ValueError, match="'epoch' parameter of a StepLR state must be an int >= 0. Got 'x'"):
        sched.load_state_dict({**sd, "epoch": "x"})
    # a partial state had been merged into the schedule, and keys before a bad one applied
    with pytest.raises(ValueError, match=r"keys \['base_lr', 'epoch', 'gamma', 'step_size'\], got one with "
                                         r"\['bogus', 'epoch'\] \(missing \['base_lr', 'gamma', 'step_size'\]"):
        sched.load_state_dict({"epoch": 5, "bogus": 1})
    with pytest.raises(TypeError, match="Expected a StepLR state"):
        sched.load_state_dict([1])
    assert sched.state_dict() == {"base_lr": 0.1, "epoch": 0, "step_size": 2, "gamma": 0.1}
    plateau = optim.ReduceLROnPlateau(optim.SGD(_module(), lr=0.1))
    for best in (math.nan, -math.inf, "1.0"):
        with pytest.raises(ValueError, match="'best' entry of a ReduceLROnPlateau state"):
            plateau.load_state_dict({**plateau.state_dict(), "best": best})
    with pytest.raises(ValueError, match="'num_bad_epochs' parameter of a ReduceLROnPlateau state"):
        plateau.load_state_dict({**plateau.state_dict(), "num_bad_epochs": -1})
    sched.load_state_dict(sd)
    assert sched.state_dict() == sd


def test_schedules_take_numpy_integers():
    o = optim.SGD(_module(), lr=0.1)   # np.int64(3) had been refused as "not an int >= 1"
    assert optim.StepLR(o, step_size=np.int64(3)).step_size == 3
    assert optim.CosineAnnealingLR(o, T_max=np.int32(4)).T_max == 4
    assert optim.ReduceLROnPlateau(o, patience=np.int64(2), cooldown=np.uint8(1)).patience == 2


def test_a_resume_refused_for_its_schedule_leaves_the_optimizer_as_it_was(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 5, 2)), rng.standard_normal((8, 1))

    def build():
        m = rnnkit.Sequential([rnnkit.GRU(2, 4, seed=0), rnnkit.LastStep(), rnnkit.Linear(4, 1, seed=0)])
        return m, optim.Adam(m, lr=1e-2)

    path = tmp_path / "run.ckpt"
    m, o = build()
    m.fit(x, y, optimizer=o, scheduler=optim.StepLR(o, 1, 0.5), epochs=2, checkpoint=path, seed=1, progress=False)
    m, o = build()
    cosine = optim.CosineAnnealingLR(o, T_max=5)
    with pytest.raises(LoadError, match="schedule state does not fit this schedule"):
        m.fit(x, y, optimizer=o, scheduler=cosine, epochs=4, checkpoint=path, resume=True, seed=1, progress=False)
    # the optimizer had already taken the checkpoint's state (lr 0.0025, 2 steps, Adam's buffers)
    assert o.lr == 1e-2 and o.steps == 0 and o.state == {}
    assert cosine.state_dict() == {"base_lr": 1e-2, "epoch": 0, "T_max": 5, "eta_min": 0.0}
    sched = optim.StepLR(o, 1, 0.5)
    m.fit(x, y, optimizer=o, scheduler=sched, epochs=3, checkpoint=path, resume=True, seed=1, progress=False)
    assert sched.epoch == 3 and o.lr == pytest.approx(1e-2 * 0.5 ** 3, rel=1e-15)
