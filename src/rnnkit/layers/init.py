"""Weight initialisation schemes for recurrent layers and cells.

``"pytorch"`` (default): every weight and bias ~ U(-k, k) with k = 1/sqrt(H), as
``torch.nn.RNN/LSTM/GRU`` do.

``"keras"``: as ``keras.layers.LSTM/GRU/SimpleRNN`` do: W_ih Glorot-uniform,
U(-l, l) with l = sqrt(6 / (I + G*H)); each H x H gate block of W_hh orthogonal; biases 0,
except the LSTM forget-gate block of b_ih, which is 1 (Keras ``unit_forget_bias``).
"""

from __future__ import annotations

import numpy as np

INIT_SCHEMES = ("pytorch", "keras")


def _orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random n x n orthogonal matrix (QR of a Gaussian matrix, signs fixed by diag(R))."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def init_recurrent(
    scheme: str,
    gates: int,
    input_size: int,
    hidden_size: int,
    bias: bool,
    rng: np.random.Generator,
    dtype: np.dtype,
    forget_gate: int | None = None,
) -> dict[str, np.ndarray]:
    """Fresh weight_ih (G*H, I), weight_hh (G*H, H) and, if ``bias``, bias_ih/bias_hh (G*H,).

    ``forget_gate`` is the index of the forget-gate block (LSTM: 1) for the Keras scheme.
    """
    G, H, I = gates, hidden_size, input_size
    if scheme == "pytorch":
        k = 1.0 / np.sqrt(H)
        p = {
            "weight_ih": rng.uniform(-k, k, (G * H, I)),
            "weight_hh": rng.uniform(-k, k, (G * H, H)),
        }
        if bias:
            p["bias_ih"] = rng.uniform(-k, k, G * H)
            p["bias_hh"] = rng.uniform(-k, k, G * H)
    else:
        limit = np.sqrt(6.0 / (I + G * H))
        p = {
            "weight_ih": rng.uniform(-limit, limit, (G * H, I)),
            "weight_hh": np.concatenate([_orthogonal(H, rng) for _ in range(G)]),
        }
        if bias:
            p["bias_ih"] = np.zeros(G * H)
            p["bias_hh"] = np.zeros(G * H)
            if forget_gate is not None:
                p["bias_ih"][forget_gate * H : (forget_gate + 1) * H] = 1.0
    return {k: v.astype(dtype) for k, v in p.items()}
