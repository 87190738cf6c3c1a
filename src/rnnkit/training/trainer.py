"""``Trainer``: the training loop behind ``model.fit``.

One epoch::

    for each mini-batch (seeded shuffle):
        model.zero_grad()
        out = model(x, lengths)                 # or chunk by chunk with tbptt=(k1, k2)
        value, dout = loss(out, y, mask)        # mask: valid steps for per-step targets
        model.backward(dout)                    # BPTT through every layer
        check value and gradients are finite    # else NonFiniteError, weights untouched
        clip (by value, then by global norm); optimizer.step()
    validation, history, schedule, early stopping, checkpoint

Ctrl-C during ``fit`` finishes the current batch, writes the checkpoint (if one is configured;
resuming from it continues mid-epoch exactly) and returns the history with
``stop_reason == "interrupted"``; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from .. import losses, optim
from .._random import as_generator, generator_from_state
from ..errors import NonFiniteError
from ..layers.recurrent import RecurrentLayer
from ..layers.sequential import Sequential, leaf_layers
from ..optim.clip import clip_grad_norm, clip_grad_value, global_norm
from ..optim.schedules import ReduceLROnPlateau
from .checkpoint import load_checkpoint, save_checkpoint
from .batching import Dataset, batch_indices, prepare, split_validation, step_mask
from .epoch_stats import EpochStats
from .evaluate import evaluate_dataset, is_per_step, is_sequence_input
from .history import History
from .options import FitOptions
from .progress import progress_bar, summary_line
from .tbptt import split_model, tbptt_batch


def fit(model: Sequential, X: Any, y: Any, lengths: Any = None, *, loss: Any = "mse", optimizer: Any = "adam",
        validation_data: tuple | None = None, **options: Any) -> History:
    """Train ``model`` on (X, y); see :class:`Trainer` and :class:`FitOptions` for the options."""
    return Trainer(model, loss, optimizer, FitOptions.from_kwargs(options)).fit(X, y, lengths, validation_data)


def _user_level() -> int:
    """``stacklevel`` for ``warnings.warn`` called where this is: the first frame outside the
    rnnkit package, whichever entry point (``Sequential.fit``, ``training.fit``, an estimator)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(root + os.sep):
        frame, level = frame.f_back, level + 1
    return level


class Trainer:
    """Holds the model, the loss, the optimizer and the options; ``fit`` runs the loop.

    Args:
        model: a :class:`Sequential`.
        loss: a name ("mse", "cross_entropy", ...), a loss object or a callable
            (pred, target, mask) -> (value, grad).
        optimizer: a name ("adam", "sgd", "adamw", "rmsprop") or an optimizer built on ``model``.
        options: :class:`FitOptions`.
    """

    def __init__(self, model: Sequential, loss: Any = "mse", optimizer: Any = "adam",
                 options: FitOptions | None = None) -> None:
        if not isinstance(model, Sequential):
            raise TypeError(f"Expected a Sequential model for fit, got {type(model).__name__}. "
                            "Wrap layers with rnnkit.Sequential([...]).")
        self.model = model
        self.loss_fn = losses.get(loss)
        self.optimizer = optim.get(optimizer, model)
        self.options = options if options is not None else FitOptions()
        if self.options.scheduler is not None and self.options.scheduler.optimizer is not self.optimizer:
            raise ValueError("Expected a scheduler built on the optimizer given to fit, got one that drives another "
                             "optimizer (pass optimizer=opt and scheduler=StepLR(opt, ...)).")
        self.history = History()
        self._stop_requested = False

    # -- the loop ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, lengths: Any = None, validation_data: tuple | None = None) -> History:
        """Train; returns the :class:`History` (also ``trainer.history``)."""
        o, model = self.options, self.model
        seq = is_sequence_input(model, X)
        self.per_step = is_per_step(model, seq)
        train = prepare(X, y, lengths, seq)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("Expected validation_data as (X_val, y_val) or (X_val, y_val, lengths_val), "
                                 f"got {type(validation_data).__name__}"
                                 + (f" of length {len(validation_data)}."
                                    if isinstance(validation_data, (tuple, list)) else "."))
            val = prepare(validation_data[0], validation_data[1],
                          validation_data[2] if len(validation_data) == 3 else None, seq, "X_val")
        elif o.validation_split:
            train, val = split_validation(train, o.validation_split)
        if o.tbptt is not None:
            if not seq:
                raise ValueError("Expected sequence input (N, T, F) for truncated BPTT, got X without a time axis.")
            split_model(model, self.per_step)
        monitor = o.monitor or ("val_loss" if val is not None else "loss")
        keys = ["loss", *o.metrics] + ([f"val_{k}" for k in ["loss", *o.metrics]] if val is not None else [])
        if (o.patience is not None or isinstance(o.scheduler, ReduceLROnPlateau)) and monitor not in keys:
            raise ValueError(f"Expected 'monitor' to be one of {keys}, got {monitor!r}.")
        self.monitor, self.maximize = monitor, "accuracy" in monitor
        st = self._fresh_state()
        resume_path = o.checkpoint if o.resume is True else (o.resume or None)
        if resume_path is not None and (o.resume is not True or os.path.exists(resume_path)):
            st = self._restore(resume_path)
        with self._interrupt_guard():
            self._loop(train, val, st)
        if o.progress:
            summary_line(self.history)
        if (self.best_weights is not None and o.restore_best_weights and o.patience is not None
                and self.history.stop_reason != "interrupted"):
            model.load_state_dict(self.best_weights)
        return self.history

    def _fresh_state(self) -> dict[str, Any]:
        self.history = History()
        self.rng = as_generator(self.options.seed)
        self.best_weights = None
        return {"epoch": 0, "batch": 0, "epoch_rng": None, "stats": None,
                "best": None, "best_epoch": None, "wait": 0}

    def _loop(self, train: Dataset, val: Dataset | None, st: dict[str, Any]) -> None:
        o, model = self.options, self.model
        model.train()
        if self.history.stop_reason == "early_stopping":  # resumed from a run that had stopped
            warnings.warn(f"fit(resume=...): the checkpoint's run stopped early after epoch {st['epoch']}, so no "
                          "epoch is trained (whatever epochs or patience this call gives). To train further, start "
                          "a new run: resume=False, or another checkpoint path.", UserWarning, stacklevel=_user_level())
            return
        for epoch in range(st["epoch"] + 1, o.epochs + 1):
            if st["batch"] == 0:
                st["epoch_rng"] = self.rng.bit_generator.state
                stats = EpochStats(o.metrics, self.loss_fn)
            else:  # resumed mid-epoch: replay the same permutation
                self.rng = generator_from_state(st["epoch_rng"])
                stats = EpochStats.from_dict(st["stats"], self.loss_fn)
            batches = batch_indices(len(train), o.batch_size, self.rng if o.shuffle else None)
            bar = progress_bar(len(batches), f"Epoch {epoch}/{o.epochs}", o.progress, initial=st["batch"])
            try:
                for b in range(st["batch"], len(batches)):
                    start = time.perf_counter()
                    self._train_batch(train.take(batches[b], per_step=self.per_step), stats, epoch, b + 1, len(batches))
                    stats.seconds += time.perf_counter() - start
                    st["batch"] = b + 1
                    bar.update(1)
                    bar.set_postfix(loss=stats.loss, refresh=False)
                    if self._stop_requested:
                        break
                if st["batch"] < len(batches):  # interrupted mid-epoch
                    st["stats"] = stats.to_dict()
                    self.history.stop_reason = "interrupted"
                    self._save(st)
                    return
                stop = self._end_epoch(epoch, stats, val, st)
                bar.set_postfix(**{k: v[-1] for k, v in self.history.history.items()
                                   if k in ("loss", "val_loss", *o.metrics, *(f"val_{m}" for m in o.metrics))})
            finally:
                bar.close()
            if self._stop_requested:
                self.history.stop_reason = "interrupted"
            if stop or self._stop_requested:
                return
        if self.history.stop_reason is None:
            self.history.stop_reason = "completed"

    def _end_epoch(self, epoch: int, stats: EpochStats, val: Dataset | None, st: dict[str, Any]) -> bool:
        """Validation, history, schedule, early stopping, checkpoint; True to stop."""
        o = self.options
        values = stats.summary()
        if val is not None:
            v = evaluate_dataset(self.model, val, self.loss_fn, o.metrics, self.per_step, o.batch_size)
            values.update({f"val_{k}": x for k, x in v.items()})
        values["lr"] = self.optimizer.lr
        self.history.append(epoch, values)
        current = values.get(self.monitor, math.nan)
        if o.scheduler is not None:
            o.scheduler.step(current) if isinstance(o.scheduler, ReduceLROnPlateau) else o.scheduler.step()
        stop = False
        if o.patience is not None:
            best = st["best"]
            better = best is None or (current > best + o.min_delta if self.maximize else current < best - o.min_delta)
            if better:
                st["best"], st["best_epoch"], st["wait"] = float(current), epoch, 0
                self.best_weights = self.model.state_dict()
            else:
                st["wait"] += 1
                stop = st["wait"] >= o.patience
            self.history.best_epoch = st["best_epoch"]
        st["epoch"], st["batch"], st["stats"], st["epoch_rng"] = epoch, 0, None, None
        if stop:
            self.history.stop_reason = "early_stopping"
        elif epoch == o.epochs:
            self.history.stop_reason = "completed"
        self._save(st)
        return stop

    # -- one batch -----------------------------------------------------------------------------
    def _train_batch(self, batch: Dataset, stats: EpochStats, epoch: int, b: int, nb: int) -> None:
        model, o = self.model, self.options

        kept = ("those before this batch" if o.tbptt is None else
                "those before this chunk: the batch's earlier chunks have already updated them")

        def checked_loss(pred, target, mask):
            value, grad = losses.checked_call(self.loss_fn, pred, target, mask)
            if not math.isfinite(value):
                raise NonFiniteError(
                    f"Non-finite loss ({value}) at epoch {epoch}, batch {b} of {nb}. Training stopped; the model "
                    f"keeps its last finite weights ({kept}). Try a lower learning rate, "
                    "clip_norm=1.0, or check the targets.", epoch, b, "loss")
            return value, grad

        update = lambda: self._update(stats, epoch, b, nb)
        model.zero_grad()
        if o.tbptt is not None:
            res = tbptt_batch(model, checked_loss, batch.X, batch.y, batch.lengths, *o.tbptt, self.per_step,
                              after_chunk=lambda: (update(), model.zero_grad()),
                              mean=losses.reduction_of(self.loss_fn) == "mean")
            value, pred, hidden_sq, mask = res.loss, res.pred, res.hidden_sq, res.mask
        else:
            pred = model(batch.X, lengths=batch.lengths)
            mask = step_mask(batch.lengths, len(batch), pred.shape[1]) if self.per_step else None
            value, grad = checked_loss(pred, batch.y, mask)
            model.backward(grad)
            rec = next((layer for layer in leaf_layers(model.layers) if isinstance(layer, RecurrentLayer)), None)
            hidden_sq = None if rec is None else rec.hidden_grad_norms[0].astype(np.float64) ** 2
            update()
        stats.add_outputs(value, pred, batch.y, mask, self.per_step, hidden_sq)

    def _update(self, stats: EpochStats, epoch: int, b: int, nb: int) -> None:
        """Check the gradients, clip, step; keep the old weights if anything is non-finite."""
        model, o = self.model, self.options
        norm = global_norm(model)
        if not math.isfinite(norm):
            bad = next((f"first in '{k}'" for k, g in model.grads.items() if not np.all(np.isfinite(g))),
                       "finite entries whose norm exceeds the largest float")
            raise NonFiniteError(
                f"Non-finite gradient (global norm {norm}, {bad}) at epoch {epoch}, batch {b} of {nb}. "
                "Training stopped; the model keeps its last finite weights (those before this update). "
                "Gradients explode through the recurrence: try clip_norm=1.0 or a lower learning rate.",
                epoch, b, "gradient")
        stats.add_update(norm)
        if o.clip_value is not None:
            clip_grad_value(model, o.clip_value)
        if o.clip_norm is not None:  # the norm above is still that of the gradients unless values were clipped
            clip_grad_norm(model, o.clip_norm, norm=norm if o.clip_value is None else None)
        backup = model.state_dict()  # the optimizer's state is not copied: 2 more copies of every weight
        self.optimizer.step()         # per update (Adam) for a failure that ends training
        bad = [k for k, p in model.params.items() if not np.all(np.isfinite(p))]
        if bad:
            model.load_state_dict(backup)
            raise NonFiniteError(
                f"The update at epoch {epoch}, batch {b} of {nb} made the weights {bad} non-finite. Training "
                "stopped; the model keeps the weights from before this update (the optimizer's moments and step "
                "count include it: build a new optimizer to train on). Try a lower learning rate.",
                epoch, b, "weights")

    # -- checkpoints and Ctrl-C ----------------------------------------------------------------
    def _save(self, st: dict[str, Any]) -> None:
        if self.options.checkpoint is None:
            return
        state = dict(st, rng=self.rng.bit_generator.state, history=self.history.to_dict())
        save_checkpoint(self.options.checkpoint, self.model, self.optimizer, self.options.scheduler, state,
                        self.best_weights)

    def _restore(self, path: Any) -> dict[str, Any]:
        st, self.best_weights = load_checkpoint(path, self.model, self.optimizer, self.options.scheduler)
        self.rng = generator_from_state(st.pop("rng"))
        self.history = History.from_dict(st.pop("history"))
        if self.history.stop_reason != "early_stopping":  # an early-stopped run stays stopped
            self.history.stop_reason = None
        return st

    @contextmanager
    def _interrupt_guard(self) -> Iterator[None]:
        """First Ctrl-C: stop after the current batch. Second: KeyboardInterrupt right away."""
        self._stop_requested = False
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            sys.stderr.write("\nrnnkit: stopping after the current batch (press Ctrl-C again to stop now).\n")

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
