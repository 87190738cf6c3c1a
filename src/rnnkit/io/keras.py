"""Weights to and from Keras 3: ``keras.layers.SimpleRNN``, ``LSTM``, ``GRU`` and ``Bidirectional``.

rnnkit keeps PyTorch's parameters (``weight_ih_l{l}`` (G*H, I_l), ``weight_hh_l{l}`` (G*H, H),
``bias_ih_l{l}`` and ``bias_hh_l{l}`` (G*H,), gates LSTM i,f,g,o, GRU r,z,n); a Keras layer keeps
per direction the list that ``get_weights()`` returns::

    kernel           = W_ih[keras gate order].T                     (I_l, G*H)
    recurrent_kernel = W_hh[keras gate order].T                     (H, G*H)
    bias             = (b_ih + b_hh)[keras gate order]              (G*H,)    SimpleRNN, LSTM,
                                                                               GRU(reset_after=False)
    bias             = [b_ih; b_hh][:, keras gate order]            (2, 3H)   GRU(reset_after=True)

Keras's gate order: LSTM i, f, c, o (PyTorch's i, f, g, o: the same blocks); GRU z, r, h
(PyTorch's r, z, n with the first two H-row blocks swapped). ``use_bias=False`` lists have no
bias. A ``Bidirectional`` layer's list is the forward layer's list, then the backward layer's.

Folding b_ih + b_hh into Keras's one bias is exact in the maths wherever Keras has one bias:
every gate pre-activation adds both biases outside any product; so does the GRU's candidate in
Cho et al.'s form, ``n_t = tanh(x_t @ W_in.T + b_in + (r_t * h_{t-1}) @ W_hn.T + b_hn)``, which is
Keras's ``hh = tanh(x W_h + b_h + (r * h) U_h)`` with ``b_h = b_in + b_hn``. In PyTorch's form
(``reset_after=True``), ``b_hn`` sits inside ``r_t * (h_{t-1} @ W_hn.T + b_hn)``, and Keras keeps
it as its second bias row. Reading a single Keras bias, rnnkit puts it into b_ih and sets
b_hh = 0, so ``from_keras`` then ``to_keras`` gives back the same arrays, while ``to_keras`` then
``from_keras`` keeps only the sums b_ih + b_hh (the same layer, other parameters).

Keras itself is imported only by :func:`layer_from_keras`, the one function that takes a Keras
layer object; ``to_keras`` and ``from_keras`` work on NumPy arrays alone.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._checks import check_dtype
from ..layers.gru import GRU
from ..layers.lstm import LSTM
from ..layers.recurrent import RecurrentLayer, param_suffix
from ..layers.rnn import RNN

#: Keras's gate blocks as rnnkit's (PyTorch's) block indices: Keras block j is rnnkit block ORDER[j]
_ORDER = {"RNN": (0,), "LSTM": (0, 1, 2, 3), "GRU": (1, 0, 2)}
_KERAS_CLASS = {"RNN": "SimpleRNN", "LSTM": "LSTM", "GRU": "GRU"}
_CLASSES = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}


def _kind(layer: Any) -> str:
    """"RNN", "LSTM" or "GRU" for an rnnkit recurrent layer; TypeError for anything else."""
    for kind, cls in _CLASSES.items():
        if isinstance(layer, cls):
            return kind
    raise TypeError(
        f"Expected an rnnkit RNN, LSTM or GRU layer, got {type(layer).__name__}. "
        "Keras weights exist for whole recurrent layers only (not cells or Sequential models)."
    )


def _two_biases(layer: RecurrentLayer) -> bool:
    """Whether the Keras layer keeps b_ih and b_hh apart (GRU with reset_after=True)."""
    return isinstance(layer, GRU) and layer.options["reset_after"]


def _reorder(a: np.ndarray, order: tuple[int, ...], H: int) -> np.ndarray:
    """Gate blocks of H along the last axis of ``a``, in ``order``. The same permutation maps
    rnnkit's order to Keras's and back, since both orders differ by at most one swap."""
    return np.concatenate([a[..., g * H:(g + 1) * H] for g in order], axis=-1)


def _keras_arrays(layer: RecurrentLayer, l: int) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every array in stacked layer ``l``'s Keras list, both directions."""
    G, H = layer._gates, layer.hidden_size
    I_l = layer.input_size if l == 0 else layer.num_directions * H
    one = [("kernel", (I_l, G * H)), ("recurrent_kernel", (H, G * H))]
    if layer.bias:
        one.append(("bias", (2, G * H) if _two_biases(layer) else (G * H,)))
    return one * layer.num_directions


def _keras_description(layer: RecurrentLayer) -> str:
    """The Keras layer whose weights fit ``layer``, e.g. 'Bidirectional(GRU(units=4, reset_after=False))'."""
    kind = _kind(layer)
    args = [f"units={layer.hidden_size}", f"use_bias={layer.bias}"]
    if kind == "RNN":
        args.append(f"activation={layer.options['nonlinearity']!r}")
    if kind == "GRU":
        args.append(f"reset_after={layer.options['reset_after']}")
    inner = f"{_KERAS_CLASS[kind]}({', '.join(args)})"
    return f"Bidirectional({inner})" if layer.bidirectional else inner


def to_keras(layer: RecurrentLayer) -> list[list[np.ndarray]]:
    """The weights of an rnnkit RNN / LSTM / GRU in Keras's layout, one list per stacked layer.

    For stacked layer l (input size I_l = I for l = 0, D*H above), per direction::

        kernel           = W_ih[keras gate order].T                  (I_l, G*H)
        recurrent_kernel = W_hh[keras gate order].T                  (H, G*H)
        bias             = (b_ih + b_hh)[keras gate order]           (G*H,)   RNN, LSTM, GRU(reset_after=False)
        bias             = [b_ih; b_hh][:, keras gate order]         (2, 3H)  GRU(reset_after=True)

    Keras's gate order: LSTM i, f, c, o (rnnkit's i, f, g, o); GRU z, r, h (rnnkit's r, z, n).
    With ``bias=False`` there is no bias entry (Keras's ``use_bias=False``).

    Args:
        layer: an ``rnnkit.RNN``, ``LSTM`` or ``GRU``.

    Returns:
        ``weights[l]``: the list that ``keras.layers.SimpleRNN/LSTM/GRU(...).set_weights()`` takes
        (bidirectional: that ``keras.layers.Bidirectional(...).set_weights()`` takes, the forward
        layer's arrays, then the backward layer's), as new C-contiguous arrays of the layer's
        dtype. The Keras layer must have units=H, the same use_bias, ``activation`` equal to
        the RNN's nonlinearity and the GRU's ``reset_after``.
    """
    kind = _kind(layer)
    order, H = _ORDER[kind], layer.hidden_size
    out = []
    for l in range(layer.num_layers):
        ws: list[np.ndarray] = []
        for d in range(layer.num_directions):
            W_ih, W_hh, b_ih, b_hh = layer._weights(l, d)
            ws.append(np.ascontiguousarray(_reorder(W_ih.T, order, H)))
            ws.append(np.ascontiguousarray(_reorder(W_hh.T, order, H)))
            if layer.bias:
                ws.append(_reorder(np.stack([b_ih, b_hh]) if _two_biases(layer) else b_ih + b_hh, order, H))
        out.append(ws)
    return out


def _per_layer(layer: RecurrentLayer, weights: Any) -> list[list[Any]]:
    """``weights`` as one list per stacked layer (a single flat Keras list when num_layers == 1)."""
    L = layer.num_layers
    how = f"Pass one Keras weight list per stacked layer ({L} in all, as to_keras returns)"
    how += ", or the single list that keras_layer.get_weights() returns." if L == 1 else "."
    if not isinstance(weights, (list, tuple)) or len(weights) == 0:
        got = f"an empty {type(weights).__name__}" if isinstance(weights, (list, tuple)) else type(weights).__name__
        raise TypeError(f"Expected the weights as a non-empty list, got {got}. {how}")
    nested = [isinstance(w, (list, tuple)) for w in weights]
    if all(nested):
        if len(weights) != L:
            raise ValueError(f"Expected {L} weight list(s), one per stacked layer of {layer!r}, got {len(weights)}. "
                             f"{how}")
        return [list(w) for w in weights]
    if any(nested):
        raise TypeError(f"Expected the weights as a list of arrays or a list of lists of arrays, got a list that "
                        f"mixes both (entries {[type(w).__name__ for w in weights]}). {how}")
    if L != 1:
        raise ValueError(f"Got a single Keras weight list ({len(weights)} arrays) for a layer with num_layers={L}. "
                         f"{how}")
    return [list(weights)]


def _count_hint(layer: RecurrentLayer, n: int) -> str:
    """Why a Keras list of ``n`` arrays may not fit ``layer``, when the count says so."""
    D, per = layer.num_directions, 3 if layer.bias else 2
    if n == D * (5 - per):
        return f" The list looks like one of a Keras layer with use_bias={not layer.bias}: build the rnnkit layer " \
               f"with bias={not layer.bias}."
    if n == 2 * per and D == 1:
        return " The list looks like a Bidirectional layer's: build the rnnkit layer with bidirectional=True."
    if n == per and D == 2:
        return " The list looks like a single direction's: build the rnnkit layer with bidirectional=False."
    return ""


def _shape_hint(layer: RecurrentLayer, name: str, got: tuple[int, ...]) -> str:
    if name == "bias" and isinstance(layer, GRU):
        H = layer.hidden_size
        if got == (2, 3 * H) and not layer.options["reset_after"]:
            return " That is the bias of a Keras GRU with reset_after=True: build rnnkit.GRU(..., reset_after=True)."
        if got == (3 * H,) and layer.options["reset_after"]:
            return " That is the bias of a Keras GRU with reset_after=False: build rnnkit.GRU(..., reset_after=False)."
    return " Build the rnnkit layer with the Keras layer's units, input size and options (layer_from_keras does)."


def _as_weight(w: Any, where: str, dtype: np.dtype) -> np.ndarray:
    """One Keras array as a finite array of ``dtype`` (numbers only; a copy is made later)."""
    if hasattr(w, "detach") and hasattr(w, "numpy"):  # a torch tensor (Keras's torch backend)
        w = w.detach().cpu().numpy()
    try:
        a = np.asarray(w)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Expected {where} to be an array of numbers, got {type(w).__name__}: {exc}") from None
    if a.dtype.kind == "V" and a.dtype.name.startswith(("bfloat", "float")):  # ml_dtypes' bfloat16, float8_*
        a = a.astype(dtype)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"Expected {where} to hold real numbers, got dtype {a.dtype}. "
                        "Pass the arrays that keras_layer.get_weights() returns.")
    with np.errstate(over="ignore", invalid="ignore"):
        a = a.astype(dtype, copy=False)
    bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    if bad:
        raise ValueError(f"Expected finite values in {where}, got {bad} NaN or infinite value(s) (as {dtype.name}). "
                         "Weights that are not finite give NaN outputs; check the Keras model first.")
    return a


def from_keras(layer: RecurrentLayer, weights: Sequence[Any]) -> None:
    """Load Keras weights into an rnnkit RNN / LSTM / GRU, in place: the inverse of :func:`to_keras`.

    Per direction of stacked layer l, with Keras's gate blocks put back into rnnkit's order
    (LSTM i, f, c, o -> i, f, g, o; GRU z, r, h -> r, z, n)::

        W_ih = kernel.T,  W_hh = recurrent_kernel.T
        b_ih = bias, b_hh = 0                  one Keras bias (G*H,)
        b_ih, b_hh = bias[0], bias[1]          GRU(reset_after=True): bias (2, 3H)

    Args:
        layer: an ``rnnkit.RNN``, ``LSTM`` or ``GRU`` whose configuration matches the Keras
            layer's (hidden_size = units, bias = use_bias, the RNN's nonlinearity = activation,
            the GRU's reset_after; bidirectional for a ``Bidirectional`` layer).
        weights: one Keras weight list per stacked layer (``weights[l]``, as :func:`to_keras`
            returns), or for num_layers == 1 one flat list, as ``keras_layer.get_weights()``
            returns. Arrays of numbers (NumPy, or tensors with ``.detach()``); they are
            converted to the layer's dtype.

    Raises:
        TypeError: ``layer`` is not an RNN / LSTM / GRU, ``weights`` not a list (of lists) of
            numeric arrays.
        ValueError: a wrong number of lists or arrays, an array of the wrong shape (the
            message names it: kernel, recurrent_kernel or bias), or NaN / infinite values.
            Nothing in the layer changes then.
    """
    kind = _kind(layer)
    order, H = _ORDER[kind], layer.hidden_size
    per_layer = _per_layer(layer, weights)
    new: dict[str, np.ndarray] = {}
    for l, ws in enumerate(per_layer):
        expected = _keras_arrays(layer, l)
        if len(ws) != len(expected):
            names = ", ".join(f"{name} {shape}" for name, shape in expected)
            raise ValueError(
                f"Expected {len(expected)} Keras arrays for stacked layer {l} of {layer!r} ({names}), got "
                f"{len(ws)}.{_count_hint(layer, len(ws))} A fitting Keras layer: {_keras_description(layer)}."
            )
        per = len(expected) // layer.num_directions
        arrays = []
        for j, ((name, shape), w) in enumerate(zip(expected, ws)):
            direction = "" if layer.num_directions == 1 else (" of the forward layer" if j < per else
                                                              " of the backward layer")
            where = f"weights[{l}][{j}] (Keras '{name}'{direction})"
            a = _as_weight(w, where, layer.dtype)
            if a.shape != shape:
                raise ValueError(
                    f"Expected {where} of shape {shape}, got {a.shape}, for {layer!r} "
                    f"(Keras: {_keras_description(layer)}).{_shape_hint(layer, name, a.shape)}"
                )
            arrays.append(a)
        for d in range(layer.num_directions):
            s, part = param_suffix(l, d), arrays[d * per:(d + 1) * per]
            new["weight_ih" + s] = _reorder(part[0], order, H).T
            new["weight_hh" + s] = _reorder(part[1], order, H).T
            if layer.bias:
                b = _reorder(part[2], order, H)
                new["bias_ih" + s], new["bias_hh" + s] = (b[0], b[1]) if b.ndim == 2 else (b, np.zeros_like(b))
    params = layer.params
    for k, v in new.items():
        np.copyto(params[k], v)


def _function_name(value: Any) -> str:
    """An activation as get_config() gives it: its name, or 'a custom function' (a config dict)."""
    return repr(value) if isinstance(value, str) or value is None else "a custom function"


def _rnnkit_options(keras_layer: Any, keras: Any, backward: bool = False) -> tuple[str, dict[str, Any]]:
    """The rnnkit class and constructor arguments for one Keras SimpleRNN / LSTM / GRU layer."""
    classes = (("RNN", keras.layers.SimpleRNN), ("LSTM", keras.layers.LSTM), ("GRU", keras.layers.GRU))
    for kind, cls in classes:
        if type(keras_layer) is cls:
            break
    else:
        got = f"{type(keras_layer).__module__}.{type(keras_layer).__name__}"
        parent = next((c.__name__ for _, c in classes + (("", keras.layers.Bidirectional),)
                       if isinstance(keras_layer, c)), None)
        if parent is not None:
            raise TypeError(f"Expected a keras.layers.{parent} itself, got its subclass {got}, whose computation "
                            f"rnnkit cannot know. Copy its weights into a plain keras.layers.{parent} if it computes "
                            "the same, or into the rnnkit layer with from_keras.")
        hint = (" That is a whole Keras model: pass one of its recurrent layers (e.g. model.layers[i])."
                if isinstance(keras_layer, keras.Model) else "")
        raise TypeError(f"Expected a keras.layers.SimpleRNN, LSTM, GRU, or Bidirectional around one of them, got "
                        f"{got}.{hint}")
    cfg, name = keras_layer.get_config(), f"Keras {type(keras_layer).__name__} {keras_layer.name!r}"
    if cfg.get("stateful"):
        raise ValueError(f"{name} has stateful=True, which rnnkit does not support. Build it with stateful=False "
                         "and pass the state between calls yourself: y, state = layer(x, state).")
    if bool(cfg.get("go_backwards")) != backward:
        raise ValueError(f"{name} has go_backwards={cfg.get('go_backwards')}; rnnkit reads go_backwards=True only "
                         "as the backward layer of a Bidirectional. For a layer of its own, build it with "
                         "go_backwards=False and feed rnnkit x[:, ::-1]: that gives Keras's outputs, in Keras's "
                         "reversed order.")
    allowed = ("tanh", "relu") if kind == "RNN" else ("tanh",)
    if cfg.get("activation") not in allowed:
        raise ValueError(f"{name} has activation={_function_name(cfg.get('activation'))}; rnnkit supports "
                         f"{' or '.join(repr(a) for a in allowed)} for {type(keras_layer).__name__}.")
    if kind != "RNN" and cfg.get("recurrent_activation") != "sigmoid":
        raise ValueError(f"{name} has recurrent_activation={_function_name(cfg.get('recurrent_activation'))}; "
                         "rnnkit supports 'sigmoid' only.")
    options: dict[str, Any] = {"hidden_size": int(cfg["units"]), "bias": bool(cfg["use_bias"])}
    if kind == "RNN":
        options["nonlinearity"] = cfg["activation"]
    if kind == "GRU":
        options["reset_after"] = bool(cfg["reset_after"])
    return kind, options


def layer_from_keras(keras_layer: Any, dtype: str | np.dtype | None = None) -> RecurrentLayer:
    """A new rnnkit layer with the configuration and weights of a built Keras 3 recurrent layer.

    ``keras.layers.SimpleRNN`` -> ``rnnkit.RNN`` (activation "tanh" or "relu" -> nonlinearity),
    ``keras.layers.LSTM`` -> ``rnnkit.LSTM``, ``keras.layers.GRU`` -> ``rnnkit.GRU`` (with its
    ``reset_after``), ``keras.layers.Bidirectional(..., merge_mode="concat")`` around one of them
    -> bidirectional=True. Always num_layers=1 and batch_first=True (Keras is batch-major), so
    ``y, state = layer(x)`` gives Keras's ``return_sequences=True`` output y (N, T, D*H) and its
    final states (``return_state=True``) as state[k], k = direction.

    A Keras layer with ``return_sequences=False`` outputs y[:, -1]; a Bidirectional one outputs
    ``concat(y[:, -1, :H], y[:, 0, H:])`` (the two final h; ``rnnkit.LastStep(bidirectional=True)``
    picks it), not y[:, -1].

    Keras's ``dropout`` and ``recurrent_dropout`` act in training only and are not carried over
    (the rnnkit layer has dropout=0 and recurrent_dropout=0), so inference gives the same
    outputs; set ``layer.recurrent_dropout`` to train with one (rnnkit's is one mask on h_{t-1}
    shared by all gates, Keras's one per gate). ``unroll``, ``unit_forget_bias``, initializers,
    regularizers and constraints do not change the outputs and are ignored.

    Masks are not read (a layer holds none): for a ``Masking`` layer before it, or post-padded
    sequences, pass ``lengths=`` (N valid lengths) to the rnnkit layer. Outputs at valid steps
    and the final states then equal Keras's; at padded steps rnnkit gives 0, as Keras's
    Bidirectional does, while a Keras layer alone repeats its last valid output there.

    A Keras dtype policy that computes in float16 or bfloat16 ("mixed_float16", "bfloat16", ...)
    is refused unless ``dtype`` is given: rnnkit computes in float32 or float64, so its outputs
    then differ from Keras's by float16 rounding. Subclasses of the Keras layers are refused
    (their computation may differ); so are generic ``keras.layers.RNN(cell)`` and whole models.

    Args:
        keras_layer: a built Keras layer (called once or ``build((None, T, I))``), whose
            ``get_weights()`` is read.
        dtype: "float32" or "float64"; None: the dtype of the Keras layer's weights.

    Returns:
        an ``rnnkit.RNN``, ``LSTM`` or ``GRU`` in training mode (call ``.eval()`` for inference).

    Raises:
        TypeError: not one of the Keras layers above (a subclass or a model included), dtype not
            float32 / float64, or dtype None for weights or a computation in another precision.
        ValueError: an unsupported option, named in the message: stateful=True, go_backwards=True,
            another activation (LSTM / GRU: tanh with recurrent_activation sigmoid only), a
            Bidirectional merge_mode other than "concat", a Bidirectional whose two layers differ;
            or a layer that is not built yet.
    """
    import keras  # only here: rnnkit itself never needs Keras

    if type(keras_layer) is keras.layers.Bidirectional:
        if keras_layer.merge_mode != "concat":
            raise ValueError(f"Keras Bidirectional {keras_layer.name!r} has merge_mode={keras_layer.merge_mode!r}; "
                             "rnnkit supports 'concat' only (outputs [forward, backward] along the features).")
        fwd, bwd = keras_layer.forward_layer, keras_layer.backward_layer
        kind, options = _rnnkit_options(fwd, keras)
        kind_b, options_b = _rnnkit_options(bwd, keras, backward=True)
        if (kind, options) != (kind_b, options_b):
            raise ValueError(f"Keras Bidirectional {keras_layer.name!r} has a forward layer {kind} {options} and a "
                             f"backward layer {kind_b} {options_b}; rnnkit needs the same layer in both directions.")
        bidirectional, parts = True, (keras_layer, fwd, bwd)
    else:
        kind, options = _rnnkit_options(keras_layer, keras)
        bidirectional, parts = False, (keras_layer,)
    weights = keras_layer.get_weights()
    if not weights:
        raise ValueError(f"Keras layer {keras_layer.name!r} has no weights yet. Build it first: call it on an input "
                         "or keras_layer.build((None, T, I)).")
    if dtype is None:
        dtype = np.asarray(weights[0]).dtype
        low = sorted({str(p.compute_dtype) for p in parts} - {"float32", "float64"})
        if dtype.name not in ("float32", "float64") or low:
            policy = keras_layer.dtype_policy.name
            raise TypeError(f"Keras layer {keras_layer.name!r} (dtype policy {policy!r}) holds {dtype.name} weights "
                            f"and computes in {', '.join(low) or dtype.name}; rnnkit computes in float32 or "
                            "float64 only, so its outputs would differ from Keras's by that precision's rounding "
                            "(about 1e-3 for float16). Pass dtype='float32' or dtype='float64' to accept that.")
    dtype = check_dtype(dtype, "layer_from_keras")
    hidden_size = options.pop("hidden_size")
    input_size = int(np.shape(weights[0])[0])
    layer = _CLASSES[kind](input_size, hidden_size, batch_first=True, bidirectional=bidirectional,
                           dtype=dtype, **options)
    from_keras(layer, weights)
    return layer
