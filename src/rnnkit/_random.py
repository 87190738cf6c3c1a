"""Explicit randomness: every random draw in rnnkit comes from a ``numpy.random.Generator``."""

from __future__ import annotations

import numbers

import numpy as np


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a Generator: ``seed`` itself if it is one, else ``np.random.default_rng(seed)``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise TypeError(
        f"The 'seed' parameter must be a non-negative int, a numpy.random.Generator or None. Got {seed!r} instead."
    )


def seed_for_config(seed: int | np.random.Generator | None) -> int | None:
    """The serialisable part of a seed: the int itself, or None for a Generator."""
    return int(seed) if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) else None


BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def generator_from_state(state: dict) -> np.random.Generator:
    """A Generator whose bit generator has ``state`` (``Generator.bit_generator.state``).

    Only NumPy's own bit generators are accepted, so a state read from a file cannot name
    arbitrary code.
    """
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise ValueError(f"Expected a NumPy bit generator state naming one of {BIT_GENERATORS}, got {name!r}.")
    bit_gen = getattr(np.random, name)()
    bit_gen.state = state
    return np.random.Generator(bit_gen)
