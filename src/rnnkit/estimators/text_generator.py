"""``TextGenerator``: a character-level language model (Karpathy's char-rnn, with BPTT by hand).

The text becomes ids over ``vocab_`` (its distinct characters, sorted). The network reads
characters and predicts, at every step, the next one::

    Embedding(V, E) -> LSTM/GRU/RNN(E, H, num_layers) -> [Dropout] -> Linear(H, V)
    loss = mean over steps of -log softmax(z_t)[c_{t+1}]

``fit`` cuts the text into consecutive chunks of ``seq_length`` + 1 characters (input: the
first seq_length, target: the same shifted by one), holds out the last ``validation_fraction``
of the text for early stopping, and trains with Adam and global-norm clipping.

``sample`` runs the prompt through the network and then draws one character at a time
(:mod:`.sampling`), feeding each back with the carried hidden state. ``perplexity(text)`` is
exp(mean negative log-likelihood per predicted character), computed in one stream whose state
is carried across chunks; a model that knew nothing would score V.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._checks import check_positive_int, check_probability
from .._random import as_generator
from ..layers.grad_mode import evaluating
from ..losses.cross_entropy import log_softmax
from .base import BaseEstimator
from .checks import check_common, spawn_seeds
from .network import build_network, train_network
from .sampling import check_sampling, next_token

#: characters per forward pass in perplexity()
_EVAL_CHUNK = 256


class TextGenerator(BaseEstimator):
    """Character-level recurrent language model.

    Args:
        cell: "lstm", "gru" or "rnn".
        hidden_size: H. num_layers: stacked recurrent layers.
        embedding_size: E, the size of each character's vector.
        seq_length: characters per training sequence (the BPTT length).
        dropout: p in [0, 1) between stacked layers and before the output layer.
        epochs, batch_size, lr: the training loop (Adam).
        validation_fraction: the final part of the text held out for early stopping (0: none).
        patience: epochs without a lower validation loss before stopping.
        seed: int, numpy Generator or None (weights, shuffling, dropout; ``sample`` has its own).
        verbose: show a progress bar per epoch.

    Attributes (after fit):
        vocab_: the characters (Unicode code points), sorted (a str). char_counts_: (V,) how
        often each occurred (the first character of an empty prompt is drawn from them).
        model_, history_.

    Example:
        >>> from rnnkit.estimators import TextGenerator
        >>> gen = TextGenerator(hidden_size=16, seq_length=16, epochs=2, seed=0, verbose=False)
        >>> gen = gen.fit("abcabcabd " * 60)
        >>> len(gen.sample("ab", length=10, seed=0)), gen.perplexity("abcabc") < len(gen.vocab_)
        (12, True)
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = 128, num_layers: int = 1, embedding_size: int = 32,
                 seq_length: int = 64, dropout: float = 0.0, epochs: int = 10, batch_size: int = 32,
                 lr: float = 1e-2, validation_fraction: float = 0.1, patience: int = 2,
                 seed: int | np.random.Generator | None = None, verbose: bool = True) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.embedding_size = embedding_size
        self.seq_length = seq_length
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.seed = seed
        self.verbose = verbose

    # -- fit -------------------------------------------------------------------------------
    def _check_params(self) -> None:
        owner = type(self).__name__
        check_common(self)
        for name in ("embedding_size", "seq_length", "patience"):
            check_positive_int(getattr(self, name), name, owner)
        check_probability(self.validation_fraction, "validation_fraction", owner)

    def _chunks(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        S = min(self.seq_length, len(ids) - 1)
        n = (len(ids) - 1) // S
        x = ids[: n * S].reshape(n, S)
        y = ids[1: n * S + 1].reshape(n, S)
        return x, y

    def fit(self, text: str) -> "TextGenerator":
        """Learn the character statistics of ``text`` (a str of at least 2 characters; its last
        ``validation_fraction`` is held out only when that part and the rest each have at least
        seq_length + 1 characters, else nothing is and the training loss is watched). The fitted
        attributes are set only once training has succeeded: when fit raises, a generator fitted
        before keeps its state."""
        self._check_params()
        if not isinstance(text, str):
            raise TypeError(f"TextGenerator.fit expected a str, got {type(text).__name__}. Read files with "
                            "open(path, encoding='utf-8').read().")
        if len(text) < 2:
            raise ValueError(f"TextGenerator.fit expected a text of at least 2 characters, got {len(text)}.")
        vocab = "".join(sorted(set(text)))
        ids = self._encode(text, "fit", vocab)
        char_counts = np.bincount(ids, minlength=len(vocab)).astype(np.int64)
        n_val = int(round(self.validation_fraction * len(ids)))
        validation = None
        if n_val >= self.seq_length + 1 and len(ids) - n_val >= self.seq_length + 1:
            validation = self._chunks(ids[len(ids) - n_val:])
            ids = ids[: len(ids) - n_val]
        X, y = self._chunks(ids)
        s = spawn_seeds(self.seed, 5)
        V = len(vocab)
        model = build_network(self.cell, 0, self.hidden_size, self.num_layers, False, self.dropout, V, None, s[:4],
                              embedding=(V, self.embedding_size))
        history = train_network(model, X, y, loss="cross_entropy", lr=self.lr, epochs=self.epochs,
                                batch_size=self.batch_size, patience=self.patience,
                                validation_data=validation, seed=s[4], verbose=self.verbose)
        # only now that training succeeded: a failed refit leaves the previous fitted state whole
        self.vocab_, self.char_counts_, self.model_, self.history_ = vocab, char_counts, model, history
        return self

    def _encode(self, text: str, method: str, vocab: str | None = None) -> np.ndarray:
        """``text`` as ids (T,) into ``vocab`` (default: the fitted ``vocab_``)."""
        vocab = self.vocab_ if vocab is None else vocab
        index = {c: i for i, c in enumerate(vocab)}
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            shown = vocab if len(vocab) <= 100 else vocab[:100] + "..."
            raise ValueError(f"TextGenerator.{method} got characters that are not in the vocabulary learned by fit: "
                             f"{unknown[:20]!r}. Remove or replace them; the training text's characters are "
                             f"{shown!r}.")
        return np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))

    # -- generation ------------------------------------------------------------------------
    def sample(self, prompt: str = "", length: int = 200, temperature: float = 1.0, top_k: int | None = None,
               seed: int | np.random.Generator | None = None) -> str:
        """Continue ``prompt`` by ``length`` characters drawn from the model.

        Args:
            prompt: the start (characters of ``vocab_``); "" draws the first character from the
                training text's character frequencies, with the same ``temperature`` and ``top_k``
                (temperature 0: the most frequent character); it counts in ``length``.
            length: characters to generate (>= 1).
            temperature: > 0 divides the logits (lower: safer, higher: more varied); 0: greedy.
            top_k: draw only among the k most likely characters (None: all).
            seed: int, Generator or None for the draws (an int gives the same text every time).

        Returns:
            ``prompt`` followed by the ``length`` generated characters.
        """
        self._check_fitted("sample")
        if not isinstance(prompt, str):
            raise TypeError(f"TextGenerator.sample expected the prompt as a str, got {type(prompt).__name__}.")
        length = check_positive_int(length, "length", "TextGenerator.sample")
        temperature, top_k = check_sampling(temperature, top_k, "TextGenerator.sample")
        rng = as_generator(seed)
        ids = list(self._encode(prompt, "sample"))
        if not ids:   # the first character: the unigram model, drawn as every later one is
            with np.errstate(divide="ignore"):
                unigram = np.log(self.char_counts_ / self.char_counts_.sum())
            ids = [next_token(unigram, temperature, top_k, rng)]
        model = self.model_
        with evaluating(model):
            logits = model(np.array([ids]))[0, -1]
            out = ids[len(ids) - 1:] if not prompt else []
            while len(out) < length:
                nxt = next_token(logits, temperature, top_k, rng)
                out.append(nxt)
                logits = model(np.array([[nxt]]), states=model.last_states)[0, -1]
        return prompt + "".join(self.vocab_[i] for i in out)

    def perplexity(self, text: str) -> float:
        """exp(mean -log p(c_{t+1} | c_1..c_t)) over the text's characters after the first.

        Args:
            text: at least 2 characters, all in ``vocab_``.
        """
        self._check_fitted("perplexity")
        if not isinstance(text, str) or len(text) < 2:
            raise ValueError(f"TextGenerator.perplexity expected a str of at least 2 characters, got {text!r:.40}.")
        ids = self._encode(text, "perplexity")
        model = self.model_
        nll, states = 0.0, None
        with evaluating(model):
            for start in range(0, len(ids) - 1, _EVAL_CHUNK):
                x = ids[start: min(start + _EVAL_CHUNK, len(ids) - 1)]
                target = ids[start + 1: start + 1 + len(x)]
                logp = log_softmax(model(x[None], states=states)[0].astype(np.float64))
                states = model.last_states
                nll -= float(logp[np.arange(len(x)), target].sum())
        return math.exp(nll / (len(ids) - 1))

    # -- saving ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"vocab_": self.vocab_, "history_": self.history_}, {"char_counts_": self.char_counts_}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, Any]) -> None:
        self.vocab_, self.history_ = state["vocab_"], state["history_"]
        self.char_counts_ = arrays["char_counts_"]
