"""Optimizers, clipping and schedules against torch.optim / torch.nn.utils / lr_scheduler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import optim
from training_helpers import assert_close

STEPS = 6


def _model_and_torch_params(seed=0):
    model = rnnkit.Sequential([rnnkit.GRU(3, 4, dtype="float64", seed=seed), rnnkit.LastStep(),
                               rnnkit.Linear(4, 2, dtype="float64", seed=seed)])
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in model.params.items()}
    return model, tparams


def _grad_sequence(model, seed=1):
    rng = np.random.default_rng(seed)
    return [{k: rng.standard_normal(v.shape) for k, v in model.params.items()} for _ in range(STEPS)]


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9))),  # torch's lerp takes its other branch for weight >= 0.5
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.5, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.8, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
                                                     for n, kw in CASES])
def test_optimizer_steps_equal_torch_optim(name, kwargs):
    model, tparams = _model_and_torch_params()
    ours = getattr(optim, name)(model, **kwargs)
    theirs = getattr(torch.optim, name)(list(tparams.values()), **kwargs)
    for grads in _grad_sequence(model):
        for k, g in grads.items():
            model.grads[k][...] = g
            tparams[k].grad = torch.tensor(g)
        ours.step()
        theirs.step()
    for k, p in model.params.items():
        assert_close(f"{name} param {k}", p, tparams[k].detach().numpy(), 1e-12, 1e-14)


def test_optimizer_float32_parameters_stay_float32_and_close_to_torch():
    model = rnnkit.Sequential([rnnkit.LSTM(2, 3, seed=0), rnnkit.LastStep(), rnnkit.Linear(3, 1, seed=0)])
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in model.params.items()}
    ours, theirs = optim.Adam(model, lr=0.01), torch.optim.Adam(list(tparams.values()), lr=0.01)
    for grads in _grad_sequence(model):
        for k, g in grads.items():
            model.grads[k][...] = g
            tparams[k].grad = torch.tensor(g, dtype=torch.float32)
        ours.step()
        theirs.step()
    for k, p in model.params.items():
        assert p.dtype == np.float32
        assert_close(k, p, tparams[k].detach().numpy(), 1e-5, 1e-6)


def test_optimizer_state_dict_round_trip_continues_identically():
    model_a, _ = _model_and_torch_params()
    model_b, _ = _model_and_torch_params()
    grads = _grad_sequence(model_a)
    opt_a = optim.Adam(model_a, lr=0.01, amsgrad=True)
    for g in grads[:3]:
        for k, v in g.items():
            model_a.grads[k][...] = v
        opt_a.step()
    model_b.load_state_dict(model_a.state_dict())
    opt_b = optim.Adam(model_b, lr=0.5)
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.lr == 0.01 and opt_b.steps == 3
    for g in grads[3:]:
        for m, o in ((model_a, opt_a), (model_b, opt_b)):
            for k, v in g.items():
                m.grads[k][...] = v
            o.step()
    for k in model_a.params:
        np.testing.assert_array_equal(model_b.params[k], model_a.params[k], err_msg=k)
    with pytest.raises(ValueError, match="state of SGD"):
        optim.SGD(model_b, lr=0.1).load_state_dict(opt_a.state_dict())


def test_clip_grad_norm_and_value_match_torch():
    model, tparams = _model_and_torch_params()
    grads = _grad_sequence(model)[0]
    for k, g in grads.items():
        model.grads[k][...] = g * 3
        tparams[k].grad = torch.tensor(g * 3)
    norm = optim.clip_grad_norm(model, 1.5)
    ref = torch.nn.utils.clip_grad_norm_(list(tparams.values()), 1.5)
    assert norm == pytest.approx(float(ref), rel=1e-12)
    for k in grads:
        assert_close(f"clipped {k}", model.grads[k], tparams[k].grad.numpy(), 1e-12, 0)
    assert optim.global_norm(model) == pytest.approx(1.5, rel=1e-5)
    assert optim.clip_grad_norm(model, 100.0) == pytest.approx(1.5, rel=1e-5)  # no change below max
    optim.clip_grad_value(model, 0.1)
    torch.nn.utils.clip_grad_value_(list(tparams.values()), 0.1)
    for k in grads:
        assert_close(f"value-clipped {k}", model.grads[k], tparams[k].grad.numpy(), 1e-12, 0)
    assert max(np.abs(g).max() for g in model.grads.values()) <= 0.1



def test_clip_grad_norm_uses_a_norm_already_computed():
    model, _ = _model_and_torch_params()
    for k, g in _grad_sequence(model)[0].items():
        model.grads[k][...] = g * 3
    twin = {k: g.copy() for k, g in model.grads.items()}
    norm = optim.global_norm(model)
    assert optim.clip_grad_norm(model, 1.5, norm=norm) == norm
    assert optim.clip_grad_norm(twin, 1.5) == norm
    for k in twin:
        np.testing.assert_array_equal(model.grads[k], twin[k], err_msg=k)
    # the given norm is taken as it is, not computed again
    assert optim.clip_grad_norm(twin, 1.0, norm=3.0) == 3.0
    assert optim.global_norm(twin) == pytest.approx(1.5 / 3.0, rel=1e-5)

def _lrs(sched_ours, sched_theirs, opt_theirs, values=None, epochs=25):
    ours, theirs = [], []
    for e in range(epochs):
        if values is None:
            sched_ours.step()
            sched_theirs.step()
        else:
            sched_ours.step(values[e])
            sched_theirs.step(values[e])
        ours.append(sched_ours.optimizer.lr)
        theirs.append(opt_theirs.param_groups[0]["lr"])
    return np.array(ours), np.array(theirs)


@pytest.mark.filterwarnings("ignore:Detected call of")
@pytest.mark.parametrize("kind", ["step", "cosine", "plateau-min-rel", "plateau-max-abs"])
def test_schedules_equal_torch_lr_scheduler(kind):
    model, tparams = _model_and_torch_params()
    o = optim.SGD(model, lr=0.1)
    t = torch.optim.SGD(list(tparams.values()), lr=0.1)
    S = torch.optim.lr_scheduler
    values = None
    if kind == "step":
        ours, theirs = optim.StepLR(o, step_size=3, gamma=0.5), S.StepLR(t, step_size=3, gamma=0.5)
    elif kind == "cosine":
        ours, theirs = optim.CosineAnnealingLR(o, T_max=10, eta_min=0.001), S.CosineAnnealingLR(t, T_max=10, eta_min=0.001)
    else:
        mode, tm = ("min", "rel") if kind == "plateau-min-rel" else ("max", "abs")
        kw = dict(mode=mode, factor=0.5, patience=2, threshold=0.01, threshold_mode=tm, cooldown=1, min_lr=0.01)
        ours, theirs = optim.ReduceLROnPlateau(o, **kw), S.ReduceLROnPlateau(t, **kw)
        values = list(np.random.default_rng(0).permutation([1.0, 0.9, 0.95, 0.97, 0.96, 0.8] * 5).tolist())
    a, b = _lrs(ours, theirs, t, values)
    assert len(set(a.round(12))) > 2, "the schedule should change the rate several times"
    assert_close(f"{kind} learning rates", a, b, 1e-12, 1e-15)


def test_optimizer_and_schedule_errors():
    model, _ = _model_and_torch_params()
    with pytest.raises(ValueError, match="'lr' parameter of Adam"):
        optim.Adam(model, lr=-1.0)
    with pytest.raises(ValueError, match=r"'betas\[1\]'"):
        optim.Adam(model, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0"):
        optim.SGD(model, lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="'params' and 'grads'"):
        optim.SGD(object(), lr=0.1)
    with pytest.raises(rnnkit.ConfigError, match="Unknown optimizer 'adamm'"):
        optim.get("adamm", model)
    with pytest.raises(ValueError, match="another module"):
        optim.get(optim.SGD(rnnkit.Linear(2, 2), lr=0.1), model)
    with pytest.raises(ValueError, match="step_size"):
        optim.StepLR(optim.SGD(model, lr=0.1), step_size=0)
    with pytest.raises(TypeError, match="monitored value"):
        optim.ReduceLROnPlateau(optim.SGD(model, lr=0.1)).step()
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_grad_norm(model, -1)
