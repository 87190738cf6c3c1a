"""The shared part of the recurrent layers' docstrings (one text, three layers)."""

COMMON = """
    Shapes (N batch, T time steps, I = input_size, H = hidden_size, L = num_layers,
    D = 2 if bidirectional else 1):

    - ``x``: (N, T, I) if ``batch_first`` (the default) else (T, N, I); or (T, I) unbatched.
    - ``y``: (N, T, D*H) (or (T, N, D*H); (T, D*H) unbatched): the last layer's h_t for every t,
      both directions concatenated.
    - ``state``: {state}; ``None`` means zeros.
    - ``lengths``: N ints in 1..T, any order, for a padded batch. Same as PyTorch's
      ``pack_padded_sequence(..., enforce_sorted=False)`` + ``pad_packed_sequence``: outputs at
      padded steps are 0, the final state is taken at each sequence's last valid step, the
      reverse direction starts there, and padding gets no gradient.

    Methods:

    - ``y, state = layer.forward(x, state=None, lengths=None)`` (or ``layer(x, ...)``).
    - ``dx, dstate0 = layer.backward(dy, dstate=None)``: Backpropagation Through Time through
      the last forward call. ``dy`` = dL/dy (shape of y), ``dstate`` = dL/d(final state) (same
      structure as the state, None = zeros); returns dL/dx and dL/d(initial state), and *adds*
      the parameter gradients into ``layer.grads``. ``layer.zero_grad()`` clears them.
      One backward per forward: it consumes the forward's cache (as PyTorch frees its graph).
      A forward under ``with rnnkit.no_grad():`` keeps no cache (the same outputs; the LSTM
      needs a quarter of the memory, the GRU a third); backward after it raises.
    - ``layer.hidden_grad_norms``: after backward, an (L, D, T) array with the norm over the
      batch of dL/dh_t (everything that reaches h_t, through y_t and through later steps): the
      picture of vanishing and exploding gradients.

    Parameters ``layer.params`` (live arrays; ``state_dict()`` gives copies) carry PyTorch's
    names and shapes: ``weight_ih_l{{k}}`` ({G}*H, I for k = 0 else D*H), ``weight_hh_l{{k}}``
    ({G}*H, H), ``bias_ih_l{{k}}``, ``bias_hh_l{{k}}`` ({G}*H,), suffix ``_reverse`` for the reverse
    direction; ``load_state_dict`` accepts a PyTorch state dict converted with ``.numpy()``.

    Args:
        input_size: I, features per time step.
        hidden_size: H, units per direction.
        num_layers: L, stacked layers; layer k > 0 reads layer k-1's output.
        bias: whether to learn b_ih and b_hh.
        batch_first: layout of x and y: (N, T, ...) if True, (T, N, ...) if False.
        dropout: probability of zeroing each output of every layer but the last, in training
            mode (inverted dropout, as PyTorch).
        bidirectional: add a second direction that reads each sequence backwards.
        recurrent_dropout: variational dropout on h_{{t-1}} where it enters the product with
            W_hh: one mask per sequence and direction, reused at every step (as Keras), in
            training mode only.
        init: ``"pytorch"``: all weights and biases ~ U(-1/sqrt(H), 1/sqrt(H)); ``"keras"``:
            Glorot-uniform W_ih, orthogonal H x H blocks in W_hh, zero biases{keras_extra}.
        dtype: ``"float32"`` or ``"float64"``; float input of another precision is converted.
        seed: int, ``numpy.random.Generator`` or None; draws the initial weights and the dropout
            masks. ``layer.set_rng(seed)`` restarts the mask stream.

    The layer is in training mode after construction (as PyTorch); ``eval()`` switches dropout off.
"""


def layer_doc(state: str, gates: int, keras_extra: str = "") -> str:
    return COMMON.format(state=state, G=gates, keras_extra=keras_extra)
