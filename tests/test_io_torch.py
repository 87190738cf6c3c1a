"""Weights to and from PyTorch through state dicts and safetensors files, with real torch modules.

Both directions give torch's outputs; tensors that need grad, float16 tensors and non-contiguous
tensors are read as they are; the layout flag (batch_first, True in rnnkit and False in torch by
default) does not touch the weights; what rnnkit cannot hold (an LSTM with proj_size) is refused
by name."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit

torch = pytest.importorskip("torch")

KINDS = [("LSTM", {}), ("GRU", {}), ("RNN", {"nonlinearity": "relu"})]


def _pair(kind, extra, batch_first=False):
    kw = dict(batch_first=batch_first)  # torch's default is False, rnnkit's True
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, **extra, **kw).double()
    ours = getattr(rnnkit, kind)(3, 4, num_layers=2, bidirectional=True, dtype="float64", seed=1, **extra, **kw)
    return theirs, ours.eval()


def _outputs_equal(theirs, ours, batch_first):
    x = np.random.default_rng(2).standard_normal((5, 7, 3) if batch_first else (7, 5, 3))
    y_t, state_t = theirs(torch.from_numpy(x))
    y, state = ours(x)
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(state if isinstance(state, tuple) else (state,),
                    state_t if isinstance(state_t, tuple) else (state_t,)):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind, extra", KINDS, ids=[k for k, _ in KINDS])
@pytest.mark.parametrize("batch_first", [False, True])
def test_state_dicts_move_both_ways_whatever_the_layout(kind, extra, batch_first):
    theirs, ours = _pair(kind, extra, batch_first=batch_first)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # "_reverse" names and order included
    ours.load_state_dict(theirs.state_dict())
    _outputs_equal(theirs, ours, batch_first)
    # the reverse direction: torch takes rnnkit's arrays as they are
    other = getattr(rnnkit, kind)(3, 4, num_layers=2, bidirectional=True, dtype="float64", seed=5,
                                  batch_first=batch_first, **extra).eval()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in other.state_dict().items()})
    _outputs_equal(theirs, other, batch_first)


def test_a_layer_of_the_other_layout_takes_the_same_weights():
    """torch's default is batch_first=False, rnnkit's True: the weights are the same, only x moves."""
    theirs, _ = _pair("GRU", {})
    ours = rnnkit.GRU(3, 4, num_layers=2, bidirectional=True, dtype="float64").eval()  # batch_first=True
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(3).standard_normal((7, 5, 3))  # (T, N, I), torch's layout
    y_t, _ = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(ours(x.transpose(1, 0, 2))[0].transpose(1, 0, 2), y_t.detach().numpy(), atol=1e-12)


def test_parameters_that_need_grad_half_and_non_contiguous_tensors_are_read():
    theirs, ours = _pair("LSTM", {})
    ours.load_state_dict(dict(theirs.named_parameters()))  # requires_grad=True
    _outputs_equal(theirs, ours, False)
    strided = {k: v.detach().t().contiguous().t() if v.ndim == 2 else v.detach()[::1] for k, v in
               theirs.state_dict().items()}
    assert not strided["weight_ih_l0"].is_contiguous()
    ours.load_state_dict(strided)
    _outputs_equal(theirs, ours, False)
    half = {k: v.half() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(half)
    for k, v in half.items():
        np.testing.assert_array_equal(ours.params[k], v.double().numpy(), err_msg=k)


def test_an_lstm_with_proj_size_is_refused_by_name():
    theirs = torch.nn.LSTM(3, 4, proj_size=2)
    ours = rnnkit.LSTM(3, 4)
    before = ours.state_dict()
    with pytest.raises(ValueError, match=r"unexpected keys \['weight_hr_l0'\], wrong shapes \[weight_hh_l0: "
                                         r"expected \(16, 4\), got \(16, 2\)\], the weight_hr_l\* tensors are "
                                         r"those of a torch LSTM with proj_size > 0"):
        ours.load_state_dict(theirs.state_dict())
    assert all(np.array_equal(v, ours.params[k]) for k, v in before.items())


def test_bfloat16_tensors_are_read():
    theirs = torch.nn.GRU(3, 4)
    ours = rnnkit.GRU(3, 4)
    ours.load_state_dict({k: v.bfloat16() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours.params["weight_ih_l0"], theirs.weight_ih_l0.detach().bfloat16().float().numpy())


def test_a_saved_layer_loads_into_torch_through_the_safetensors_package(tmp_path):
    from safetensors.torch import load_file, save_file

    theirs, ours = _pair("LSTM", {})
    ours.save(tmp_path / "ours.safetensors")
    theirs.load_state_dict(load_file(tmp_path / "ours.safetensors"))
    _outputs_equal(theirs, ours, False)
    # and a torch file read back into rnnkit
    torch.nn.init.uniform_(theirs.weight_hh_l1_reverse, -1, 1)
    save_file(theirs.state_dict(), tmp_path / "theirs.safetensors")
    ours.load_state_dict(rnnkit.io.read_safetensors(tmp_path / "theirs.safetensors")[0])
    _outputs_equal(theirs, ours, False)


def test_float64_values_a_float32_layer_cannot_hold_are_refused_not_made_inf():
    ours = rnnkit.GRU(3, 4)
    state = {k: v.astype(np.float64) for k, v in ours.state_dict().items()}
    before = ours.state_dict()
    state["weight_hh_l0"][1, 2] = -1e300
    with pytest.raises(ValueError, match=r"'weight_hh_l0' holds values up to 1e\+300, beyond the range of this "
                                         r"layer's float32 \(max 3.4\d*e\+38\); they would become inf"):
        ours.load_state_dict(state)
    assert all(np.array_equal(v, ours.params[k]) for k, v in before.items())
    state["weight_hh_l0"][1, 2] = np.inf   # inf stays inf: not an overflow of the cast
    ours.load_state_dict(state)
    assert np.isinf(ours.params["weight_hh_l0"][1, 2])
