"""A fitted Forecaster's state in a file (``Forecaster._get_state`` / ``_set_state``, used by
``estimators.persistence``): the JSON-able attributes, the arrays, and the checks a loaded state
must pass, so that a hand-edited or damaged file fails at load, not deep inside ``predict``.

Files written before an attribute was kept still load: covariates' statistics (then X is
standardised by the history passed to ``predict``, as then), the column names (not checked), the
fitted horizon and strategy (the saved parameters were the fitted ones), ``n_known_`` (0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: the JSON-able fitted attributes that a saved Forecaster stores
STATE_KEYS = ("seasonal_period_", "lookback_", "anchor_period_", "n_channels_", "n_covariates_", "is_list_",
              "univariate_", "index_info_", "names_", "history_")
#: the column names of X and known given as DataFrames at fit (None for arrays)
NAMES = ("covariate_names_", "known_names_")
#: X's statistics fixed at fit (arrays of a Forecaster fitted with X; absent in older files)
COVARIATE_STATS = ("covariate_mean_", "covariate_scale_")
#: the arrays of a Forecaster fitted with known covariates
KNOWN_ARRAYS = ("known_tails_", "known_mean_", "known_scale_")


def get_state(f: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(JSON-able attributes, arrays) of the fitted Forecaster ``f``."""
    state = {k: getattr(f, k) for k in STATE_KEYS}
    state["n_known_"] = getattr(f, "n_known_", 0)   # 0 for one unpickled from before known covariates
    for name in NAMES:
        state[name] = getattr(f, name, None)
    for name in ("horizon", "strategy"):   # the fitted ones (the parameters of one unpickled from before)
        state[name + "_"] = getattr(f, name + "_", getattr(f, name))
    arrays = {"tails_": f.tails_, "floors_": f.floors_}
    for name in ("covariate_tails_", *COVARIATE_STATS, *KNOWN_ARRAYS):
        if getattr(f, name, None) is not None:
            arrays[name] = getattr(f, name)
    return state, arrays


def set_state(f: Any, state: dict[str, Any], arrays: dict[str, Any]) -> None:
    """Give ``f`` the fitted attributes of a file (:func:`get_state`'s), then :func:`check_state`."""
    for k in STATE_KEYS:  # each one required: a file missing one is refused (KeyError)
        setattr(f, k, state[k])
    f.tails_, f.floors_ = arrays["tails_"], arrays["floors_"]
    f.covariate_tails_ = arrays.get("covariate_tails_")
    for name in COVARIATE_STATS:   # absent in files written before them (and without X)
        setattr(f, name, arrays.get(name))
    f.n_known_ = int(state.get("n_known_", 0))   # absent in files written before known covariates
    for name in NAMES:   # absent in files written before they were kept: not checked
        setattr(f, name, state.get(name))
    # absent in files written before they were kept: the saved parameters were the fitted ones
    f.horizon_, f.strategy_ = int(state.get("horizon_", f.horizon)), state.get("strategy_", f.strategy)
    for name in KNOWN_ARRAYS:   # each one required with known covariates (KeyError otherwise)
        setattr(f, name, arrays[name] if f.n_known_ else None)
    check_state(f)


def check_state(f: Any) -> None:
    """ValueError (a LoadError once load_estimator adds the file) where a loaded state cannot be
    the one fit leaves."""
    from .forecaster import STRATEGIES  # here: forecaster.py imports this module

    def whole(name: str, least: int) -> int:
        v = getattr(f, name)
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < least:
            raise ValueError(f"{name} must be an int >= {least}, got {v!r}")
        return int(v)

    L, C = whole("lookback_", 1), whole("n_channels_", 1)
    whole("seasonal_period_", 1), whole("n_covariates_", 0), whole("n_known_", 0), whole("horizon_", 1)
    if not 1 <= whole("anchor_period_", 1) <= L:
        raise ValueError(f"anchor_period_ must lie in 1..lookback_ = {L}, got {f.anchor_period_!r}")
    for name in ("is_list_", "univariate_"):
        if not isinstance(getattr(f, name), bool):
            raise ValueError(f"{name} must be a bool, got {getattr(f, name)!r}")
    if f.strategy_ not in STRATEGIES:
        raise ValueError(f"strategy_ must be one of {STRATEGIES}, got {f.strategy_!r}")
    S = len(f.tails_)
    for name in ("index_info_", "names_"):
        if not isinstance(getattr(f, name), list) or len(getattr(f, name)) != S:
            raise ValueError(f"{name} must be a list of {S} entries (one per series), got {getattr(f, name)!r}")
    shapes = {"tails_": (S, L, C), "floors_": (S, C)}
    if f.covariate_tails_ is not None:
        shapes["covariate_tails_"] = (S, L, f.n_covariates_)
    for name, shape in shapes.items():
        if getattr(f, name).shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {getattr(f, name).shape}")
