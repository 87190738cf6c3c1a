"""Shared helpers for the rnnkit core test suite.

* ``numerical_grad`` / ``assert_grads_match``: float64 central differences.
* ``copy_torch_params``: copy a torch module's ``state_dict`` into an rnnkit layer/cell.
* ``RandomLoss``: L = sum(y * Wy) + sum(h_n * Wh) (+ sum(c_n * Wc)) with fixed random weights,
  so that dy / dstate are random and the loss is linear in the outputs.
* ``torch_reference``: a hand-written torch-autograd loop (all cell kinds, stacked,
  bidirectional, variable lengths) that also exposes every h_t for ``retain_grad``. It is
  the reference for GRU(reset_after=False), which PyTorch cannot express, and for
  ``hidden_grad_norms``; ``test_torch_parity`` checks it against torch.nn itself.
"""

from __future__ import annotations

import numpy as np
import pytest

# --------------------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------------------

KIND_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}

# (kind, extra constructor kwargs, id) for every cell variant of the spec
CELL_VARIANTS = [
    ("RNN", {"nonlinearity": "tanh"}, "rnn_tanh"),
    ("RNN", {"nonlinearity": "relu"}, "rnn_relu"),
    ("LSTM", {}, "lstm"),
    ("GRU", {"reset_after": True}, "gru_reset_after"),
    ("GRU", {"reset_after": False}, "gru_reset_before"),
]
CELL_VARIANT_IDS = [v[2] for v in CELL_VARIANTS]


def param_names(num_layers: int, bidirectional: bool, bias: bool) -> list[str]:
    """PyTorch's parameter names, in PyTorch's order."""
    names = []
    for layer in range(num_layers):
        for sfx in ([""] + (["_reverse"] if bidirectional else [])):
            names += [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}"]
            if bias:
                names += [f"bias_ih_l{layer}{sfx}", f"bias_hh_l{layer}{sfx}"]
    return names


def split_state(state):
    """state -> list of arrays ([h] or [h, c])."""
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return list(state)
    return [state]


def make_layer(kind, input_size, hidden_size, **kwargs):
    import rnnkit

    return getattr(rnnkit, kind)(input_size, hidden_size, **kwargs)


def make_cell(kind, input_size, hidden_size, **kwargs):
    import rnnkit

    return getattr(rnnkit, kind + "Cell")(input_size, hidden_size, **kwargs)


# --------------------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------------------


def numerical_grad(f, arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` w.r.t. ``arr`` (modified in place
    and restored)."""
    assert arr.dtype == np.float64, f"finite differences need float64, got {arr.dtype}"
    grad = np.zeros(arr.shape, dtype=np.float64)
    for idx in np.ndindex(*arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        fp = f()
        arr[idx] = old - eps
        fm = f()
        arr[idx] = old
        grad[idx] = (fp - fm) / (2.0 * eps)
    return grad


def describe_mismatch(name, actual, expected, rtol, atol) -> str | None:
    """None if close, else a one-line description of the worst element."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return f"{name}: shape {actual.shape} != expected {expected.shape}"
    if actual.size == 0:
        return None
    if not np.all(np.isfinite(actual)):
        return f"{name}: non-finite values {actual}"
    err = np.abs(actual - expected)
    tol = atol + rtol * np.abs(expected)
    if np.all(err <= tol):
        return None
    worst = np.unravel_index(np.argmax(err - tol), err.shape)
    return (
        f"{name}: max abs err {err.max():.3e} (at {tuple(int(i) for i in worst)}: "
        f"got {actual[worst]:.12g}, expected {expected[worst]:.12g}); "
        f"{int(np.sum(err > tol))}/{err.size} elements out of tolerance"
    )


def assert_all_close(pairs, rtol, atol, context=""):
    """pairs: iterable of (name, actual, expected). Fails listing every tensor that differs."""
    problems = [m for m in (describe_mismatch(n, a, e, rtol, atol) for n, a, e in pairs) if m]
    if problems:
        head = f"{context}: " if context else ""
        pytest.fail(head + f"{len(problems)} tensor(s) differ:\n  " + "\n  ".join(problems))


def assert_grads_match(f, analytic: dict, inputs: dict, eps=1e-6, rtol=1e-6, atol=1e-8, context=""):
    """Compare analytic gradients against central differences of ``f()``.

    analytic: name -> analytic gradient; inputs: name -> the float64 array that ``f`` reads
    (perturbed in place). Every name in ``inputs`` must be in ``analytic``.
    """
    missing = [k for k in inputs if k not in analytic or analytic[k] is None]
    assert not missing, f"{context}: no analytic gradient for {missing}"
    pairs = [(name, analytic[name], numerical_grad(f, arr, eps)) for name, arr in inputs.items()]
    assert_all_close(pairs, rtol, atol, context=context or "gradcheck")


# --------------------------------------------------------------------------------------
# torch helpers
# --------------------------------------------------------------------------------------


def torch_state_dict_numpy(module) -> dict:
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def copy_torch_params(obj, module):
    """Copy ``module``'s parameters into the rnnkit layer or cell ``obj``."""
    sd = torch_state_dict_numpy(module)
    if hasattr(obj, "load_state_dict"):
        obj.load_state_dict(sd)
    else:  # cells: params are live arrays
        for k, v in sd.items():
            obj.params[k][...] = v
    for k, v in sd.items():
        np.testing.assert_array_equal(
            obj.params[k], v.astype(obj.params[k].dtype), err_msg=f"parameter {k} was not copied"
        )
    return obj


class RandomLoss:
    """L = sum(y * Wy) + sum(h_n * Wh) (+ sum(c_n * Wc)), weights fixed at construction.

    ``state_weights=False`` makes the loss depend on y only (dstate=None in backward).
    """

    def __init__(self, rng, y_shape, state_shapes=(), state_weights=True):
        self.Wy = rng.standard_normal(y_shape)
        self.Ws = [rng.standard_normal(s) for s in state_shapes] if state_weights else []

    # numpy --------------------------------------------------------------------------
    def __call__(self, y, state=None) -> float:
        total = float(np.sum(np.asarray(y, dtype=np.float64) * self.Wy))
        for s, w in zip(split_state(state), self.Ws):
            total += float(np.sum(np.asarray(s, dtype=np.float64) * w))
        return total

    def dy(self, dtype=np.float64):
        return self.Wy.astype(dtype)

    def dstate(self, dtype=np.float64):
        """None, h-gradient, or (h, c) tuple, matching what the layer expects."""
        if not self.Ws:
            return None
        ws = [w.astype(dtype) for w in self.Ws]
        return ws[0] if len(ws) == 1 else tuple(ws)

    # torch --------------------------------------------------------------------------
    def torch(self, y, *states):
        import torch

        total = (y * torch.as_tensor(self.Wy, dtype=y.dtype)).sum()
        for s, w in zip(states, self.Ws):
            total = total + (s * torch.as_tensor(w, dtype=s.dtype)).sum()
        return total


def torch_cell_step(kind, x, h, c, p, *, nonlinearity="tanh", reset_after=True):
    """One step of a cell in torch. p: dict with weight_ih, weight_hh, bias_ih, bias_hh
    (biases may be None). Returns (h', c') (c' is None unless LSTM)."""
    import torch

    gi = x @ p["weight_ih"].T
    if p.get("bias_ih") is not None:
        gi = gi + p["bias_ih"]
    if kind == "GRU" and not reset_after:
        H = h.shape[-1]
        W_hr, W_hz, W_hn = p["weight_hh"][:H], p["weight_hh"][H : 2 * H], p["weight_hh"][2 * H :]
        b = p.get("bias_hh")
        gh_r = h @ W_hr.T
        gh_z = h @ W_hz.T
        if b is not None:
            gh_r = gh_r + b[:H]
            gh_z = gh_z + b[H : 2 * H]
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + gh_r)
        z = torch.sigmoid(i_z + gh_z)
        hn = (r * h) @ W_hn.T
        if b is not None:
            hn = hn + b[2 * H :]
        n = torch.tanh(i_n + hn)
        return (1 - z) * n + z * h, None
    gh = h @ p["weight_hh"].T
    if p.get("bias_hh") is not None:
        gh = gh + p["bias_hh"]
    if kind == "RNN":
        pre = gi + gh
        return (torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)), None
    if kind == "LSTM":
        i, f, g, o = (gi + gh).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c1 = f * c + i * g
        return o * torch.tanh(c1), c1
    if kind == "GRU":
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h, None
    raise ValueError(kind)


def torch_reference(
    kind,
    params: dict,
    x,
    h0=None,
    c0=None,
    lengths=None,
    *,
    hidden_size,
    num_layers=1,
    bidirectional=False,
    batch_first=True,
    nonlinearity="tanh",
    reset_after=True,
):
    """Hand-written torch-autograd stacked (bi)directional RNN with pack_padded semantics.

    x: batched torch tensor. params: name -> torch tensor (PyTorch names).
    Returns dict(y, h_n, c_n, hs, mask) where hs[(layer, direction)][t] is the h_t tensor
    (retain_grad() already called when it requires grad) and mask is (T, N, 1).
    """
    import torch

    xs = x.transpose(0, 1) if batch_first else x  # (T, N, I)
    T, N, _ = xs.shape
    D = 2 if bidirectional else 1
    H = hidden_size
    mask = torch.ones(T, N, 1, dtype=x.dtype)
    if lengths is not None:
        lens = torch.as_tensor(np.asarray(lengths))
        mask = (torch.arange(T)[:, None] < lens[None, :]).to(x.dtype)[:, :, None]
    if h0 is None:
        h0 = torch.zeros(num_layers * D, N, H, dtype=x.dtype)
    if kind == "LSTM" and c0 is None:
        c0 = torch.zeros(num_layers * D, N, H, dtype=x.dtype)
    inp = xs
    hs, hn, cn = {}, [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            p = {k: params.get(k + sfx) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            h = h0[layer * D + d]
            c = c0[layer * D + d] if kind == "LSTM" else None
            steps = [None] * T
            out = [None] * T
            for t in range(T) if d == 0 else range(T - 1, -1, -1):
                h_new, c_new = torch_cell_step(
                    kind, inp[t], h, c, p, nonlinearity=nonlinearity, reset_after=reset_after
                )
                m = mask[t]
                h = m * h_new + (1 - m) * h
                if kind == "LSTM":
                    c = m * c_new + (1 - m) * c
                if h.requires_grad:
                    h.retain_grad()
                steps[t] = h
                out[t] = h * m
            hs[(layer, d)] = steps
            outs.append(torch.stack(out))
            hn.append(h)
            cn.append(c)
        inp = torch.cat(outs, dim=-1)
    y = inp.transpose(0, 1) if batch_first else inp
    return {
        "y": y,
        "h_n": torch.stack(hn),
        "c_n": torch.stack(cn) if kind == "LSTM" else None,
        "hs": hs,
        "mask": mask,
    }


def reference_hidden_grad_norms(ref, num_layers, bidirectional, T):
    """(L, D, T) Frobenius norms over the batch of dL/dh_t (after loss.backward())."""
    D = 2 if bidirectional else 1
    out = np.zeros((num_layers, D, T))
    for layer in range(num_layers):
        for d in range(D):
            for t in range(T):
                h = ref["hs"][(layer, d)][t]
                if h.grad is None:
                    continue
                g = h.grad * ref["mask"][t]
                out[layer, d, t] = float(g.double().norm())
    return out


@pytest.fixture
def threads():
    """_fused.loop_threads for a test that sets it; as it was after it (0, automatic, unless the
    whole run set another)"""
    from rnnkit.kernels import _fused

    old = _fused.loop_threads(0)
    _fused.loop_threads(old)
    yield _fused.loop_threads
    _fused.loop_threads(old)


@pytest.fixture
def kernel_modes():
    """(_fused.packed_products, _fused.loop_threads) for a test that sets either (or
    _fused.packed_kernel); all three as they were after it"""
    from rnnkit.kernels import _fused

    mode, parts, kernel = _fused.packed_products(-1), _fused.loop_threads(0), _fused.packed_kernel(None)
    yield _fused.packed_products, _fused.loop_threads
    _fused.packed_products(mode)
    _fused.loop_threads(parts)
    if kernel is not None:
        _fused.packed_kernel(kernel)


@pytest.fixture(scope="module")
def global_state_restored():
    """Python's, NumPy's and torch's global random states and torch's thread count, restored after
    the module (Keras draws its default seeds from Python's `random`; other modules' tests must
    not notice)."""
    import random

    import torch

    states = (random.getstate(), np.random.get_state(), torch.get_rng_state(), torch.get_num_threads())
    yield
    random.setstate(states[0]), np.random.set_state(states[1]), torch.set_rng_state(states[2])
    torch.set_num_threads(states[3])


def fitted_state(est) -> dict:
    """Every fitted attribute of an estimator (name ending in "_"), the model's weights as arrays."""
    state = {k: v for k, v in vars(est).items() if k.endswith("_") and k != "model_"}
    state.update({f"model_.{k}": v for k, v in est.model_.state_dict().items()})
    return state


def assert_same_state(before: dict, after: dict) -> None:
    """Two :func:`fitted_state` results are equal, array by array; the message names the attribute."""
    assert before.keys() == after.keys()
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(after[k], v, err_msg=f"fitted attribute {k} changed")
        else:
            assert after[k] == v, f"fitted attribute {k} changed"


@pytest.fixture(params=["C", "python"])
def kernel_loop(request, monkeypatch):
    """Run the kernels' C loops, or their Python loops (the kernel-argument tests)."""
    from rnnkit.kernels import blas

    if request.param == "C" and blas.find() is None:
        pytest.skip("no C loops here")
    monkeypatch.setattr(blas, "c_loops", lambda: request.param == "C")
    return request.param
