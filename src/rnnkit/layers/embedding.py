"""``rnnkit.Embedding``: a lookup table from token ids to vectors, as ``torch.nn.Embedding``."""

from __future__ import annotations

import numbers
from typing import Any, Iterator

import numpy as np

from .._checks import check_dtype, check_positive_int, check_shape
from .._random import as_generator, seed_for_config
from .module import Module


class Embedding(Module):
    """Row lookup: ``y[..., :] = W[ids[...], :]`` with W = weight (V, E).

    Shapes (V = num_embeddings, E = embedding_dim): ids (...) of integers in 0..V-1 ->
    y (..., E); a batch of token sequences (N, T) becomes (N, T, E).

    Backward: every occurrence of id v adds its output gradient to row v::

        np.add.at(dW, ids, dy)

    The ids are integers, so backward returns None (there is no dL/dids).

    Args:
        num_embeddings: V, the vocabulary size.
        embedding_dim: E.
        padding_idx: an id whose row starts at zero and never receives gradient (as PyTorch),
            or None.
        dtype: ``"float32"`` or ``"float64"``.
        seed: int, ``numpy.random.Generator`` or None, for the initial weights.

    Initialisation (PyTorch's): W ~ N(0, 1).
    """

    _saved_attr = "_ids"

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        dtype: str | np.dtype = "float32",
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if not isinstance(padding_idx, numbers.Integral) or isinstance(padding_idx, bool) or not (
                    -self.num_embeddings <= padding_idx < self.num_embeddings):
                raise ValueError(
                    f"The 'padding_idx' parameter of Embedding must be None or an int in "
                    f"[-{self.num_embeddings}, {self.num_embeddings}). Got {padding_idx!r} instead."
                )
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        self.dtype = check_dtype(dtype, "Embedding")
        self._seed = seed_for_config(seed)
        weight = as_generator(seed).standard_normal((self.num_embeddings, self.embedding_dim))
        if padding_idx is not None:
            weight[padding_idx] = 0.0
        self._init_params({"weight": weight.astype(self.dtype)})
        self._ids: np.ndarray | None = None

    def get_config(self) -> dict[str, Any]:
        return dict(num_embeddings=self.num_embeddings, embedding_dim=self.embedding_dim,
                    padding_idx=self.padding_idx, dtype=self.dtype.name, seed=self._seed)

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> Iterator[tuple[str, tuple[int, ...]]]:
        """``("weight", (V, E))`` for ``Embedding(**config)``, without building it (V and E
        checked as the constructor checks them)."""
        from .registry import constructor_arguments

        a = constructor_arguments(cls, config)
        yield "weight", (check_positive_int(a["num_embeddings"], "num_embeddings", "Embedding"),
                         check_positive_int(a["embedding_dim"], "embedding_dim", "Embedding"))

    def output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape) + (self.embedding_dim,)

    def __repr__(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}{pad})"

    def forward(self, ids: Any) -> np.ndarray:
        """ids (...) ints in 0..V-1 -> y (..., E)."""
        ids = np.asarray(ids)
        if ids.dtype.kind == "f" and ids.size and np.all(ids == np.round(ids)):
            ids = ids.astype(np.int64)  # padded id batches often arrive as floats
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Expected integer token ids for Embedding, got dtype {ids.dtype}.")
        bad = ids[(ids < 0) | (ids >= self.num_embeddings)]
        if bad.size:
            raise ValueError(
                f"Expected token ids in 0..{self.num_embeddings - 1} (num_embeddings = "
                f"{self.num_embeddings}), got {np.unique(bad)[:10].tolist()}."
            )
        self._ids = ids if self._keeps_for_backward() else None
        return self.params["weight"][ids]

    def backward(self, dy: Any) -> None:
        """dy (..., E): adds into ``grads['weight']``; returns None (ids have no gradient)."""
        ids = self._saved_for_backward()
        dy = np.asarray(dy, dtype=self.dtype)
        check_shape(dy, ids.shape + (self.embedding_dim,), "dy", "dy must have the shape of y.")
        self._ids = None  # consumed: one backward per forward
        ids, dy2 = ids.reshape(-1), dy.reshape(-1, self.embedding_dim)
        if self.padding_idx is not None:
            keep = ids != self.padding_idx
            ids, dy2 = ids[keep], dy2[keep]
        np.add.at(self.grads["weight"], ids, dy2)
        return None
