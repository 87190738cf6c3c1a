"""``BaseEstimator``: scikit-learn's estimator conventions without depending on scikit-learn.

- The constructor stores its arguments under the same names and does nothing else.
- ``fit`` validates them and the data, learns attributes whose names end in ``_`` and returns
  ``self``; calling ``fit`` again starts from scratch, and sets the attributes only once
  training has succeeded (a ``fit`` that raises leaves the previous fitted state intact).
- ``get_params()`` returns the constructor arguments (read from the ``__init__`` signature, so
  the argument list lives in one place) and ``set_params(**params)`` changes them, so
  ``sklearn.base.clone`` and pickling work for every estimator, and ``Pipeline``,
  ``cross_val_score`` and ``GridSearchCV`` for :class:`SequenceClassifier`, the one with
  scikit-learn's ``fit(X, y)`` / ``score(X, y)`` (the Forecaster's ``fit(y, X)`` is evaluated
  with ``backtest``). ``__sklearn_tags__`` imports scikit-learn only when scikit-learn asks.
- Using an estimator before ``fit`` raises :class:`rnnkit.data.NotFittedError` (a ValueError
  and AttributeError); once scikit-learn is imported, the error is also an instance of
  ``sklearn.exceptions.NotFittedError`` (see :mod:`rnnkit._sklearn`), so code that catches
  scikit-learn's class catches it too.
- ``save(path)`` writes one safetensors file (see :mod:`rnnkit.estimators.persistence`).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from .._sklearn import sklearn_compatible
from ..data.errors import NotFittedError


class BaseEstimator:
    """Parameters, representation, fitted checks and saving shared by the rnnkit estimators.

    Subclasses list every parameter as a keyword of ``__init__`` and store it unchanged as an
    attribute of the same name. They implement ``_get_state()`` / ``_set_state()`` for saving.
    """

    #: "classifier", "regressor" or None; read by scikit-learn (old versions) and the tags below
    _estimator_type: str | None = None

    # -- parameters ----------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        """The keyword arguments of ``__init__``, in order (the one list of parameters)."""
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments as a dict ``{name: value}`` (``deep`` is accepted for
        scikit-learn and has no effect: no parameter is itself an estimator)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "BaseEstimator":
        """Set constructor arguments by name; returns ``self``. They are validated by ``fit``.

        Raises:
            ValueError: a name that is not a parameter of this estimator.
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                                 f"Valid parameters are: {valid}.")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = value is default or (type(value) is type(default) and value == default)
            except (TypeError, ValueError):  # arrays, generators
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    # -- scikit-learn tags (only called by scikit-learn, so importing it here is safe) -------
    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        kind = self._estimator_type
        return Tags(estimator_type=kind, target_tags=TargetTags(required=kind is not None),
                    classifier_tags=ClassifierTags() if kind == "classifier" else None,
                    regressor_tags=RegressorTags() if kind == "regressor" else None,
                    non_deterministic=getattr(self, "seed", None) is None,
                    input_tags=InputTags(two_d_array=True, three_d_array=True))

    # -- fitted state --------------------------------------------------------------------------
    def _check_fitted(self, method: str) -> None:
        """Raise NotFittedError (a ValueError and AttributeError; also scikit-learn's
        NotFittedError once scikit-learn is imported) if ``fit`` has not run."""
        if not hasattr(self, "model_"):
            raise sklearn_compatible(NotFittedError, "NotFittedError")(
                f"This {type(self).__name__} is not fitted yet. Call fit(...) before {method}().")

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:  # pragma: no cover - abstract
        """(JSON-able fitted attributes, arrays to store as tensors) for :meth:`save`."""
        raise NotImplementedError

    def _set_state(self, state: dict[str, Any], arrays: dict[str, Any]) -> None:  # pragma: no cover
        """Restore what :meth:`_get_state` returned (``model_`` is set by the loader)."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted estimator to one safetensors file: the network's config and weights
        plus the estimator's parameters and fitted attributes (JSON and arrays, no pickle).

        ``rnnkit.estimators.load_estimator(path)`` (or ``rnnkit.load(path)``) gives back an
        estimator whose predictions are bit-identical.
        """
        from .persistence import save_estimator

        self._check_fitted("save")
        save_estimator(self, path)
