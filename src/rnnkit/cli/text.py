"""``rnnkit text fit`` and ``rnnkit text sample``: a character-level language model with
:class:`rnnkit.TextGenerator`.

``fit`` trains on all but the last ``--holdout`` fraction of the corpus and reports the
perplexity of that held-out tail beside the unigram baseline (every character drawn with its
frequency in the training text; add-one smoothing), then prints a sample. Characters of the
tail that never occur in the training part cannot be scored and are left out (their count is
in metrics.json). ``sample`` continues a prompt.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from .errors import CLIError, message_for, training
from .inputs import read_text
from .options import (add_estimator_options, add_run_options, estimator_params, nonnegative_float, nonnegative_int,
                      out_path, positive_int, probability)
from .output import (METRICS_FILE, MODEL_FILE, RUN_FILE, history_curves, load_estimator_of, note_interrupted, out_dir,
                     print_written, save_plot, table, write_file, write_json, write_run_record)


def register(sub: Any) -> None:
    parser = sub.add_parser("text", help="train a character-level language model and sample from it",
                            description="A character-level language model. 'fit' trains on a text file and reports the "
                                        "held-out perplexity beside the unigram baseline; 'sample' continues a prompt.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    fit = actions.add_parser("fit", help="train a text generator on a corpus",
                             description="Train a TextGenerator on a text file. Writes model.safetensors, "
                                         "metrics.json (held-out perplexity beside the unigram baseline), "
                                         "history.png and run.json into --out.",
                             epilog="Example: rnnkit text fit corpus.txt --epochs 5 --out runs/text")
    fit.add_argument("corpus", metavar="CORPUS.txt", help="a text file")
    fit.add_argument("--out", type=out_path, required=True, metavar="DIR",
                     help="folder for the model, metrics and plot")
    fit.add_argument("--encoding", default="utf-8", help="the file's text encoding (default utf-8)")
    fit.add_argument("--max-chars", type=positive_int, metavar="N", help="use only the first N characters")
    fit.add_argument("--holdout", type=probability, default=0.1, metavar="F",
                     help="fraction at the end of the corpus held out for the perplexity (default 0.1; 0: none)")
    fit.add_argument("--sample-length", type=nonnegative_int, default=200, metavar="N",
                     help="characters of the sample printed after training (default 200; 0: none)")
    network = add_estimator_options(fit)
    network.add_argument("--seq-length", type=positive_int, metavar="N",
                         help="characters per training sequence (the BPTT length)")
    network.add_argument("--embedding-size", type=positive_int, metavar="E", help="size of each character's vector")
    add_run_options(fit)
    fit.set_defaults(func=fit_command)

    smp = actions.add_parser("sample", help="continue a prompt with a trained text generator",
                             description="Continue --prompt with --length characters drawn from a model of "
                                         "'rnnkit text fit'; prints the prompt and its continuation.",
                             epilog="Example: rnnkit text sample runs/text --prompt 'def ' --length 300 "
                                    "--temperature 0.8")
    smp.add_argument("model", metavar="MODEL", help=f"{MODEL_FILE}, or the --out folder of 'text fit'")
    smp.add_argument("--prompt", default="", help="text to continue (default: empty)")
    smp.add_argument("--length", type=positive_int, default=200, metavar="N", help="characters to generate")
    smp.add_argument("--temperature", type=nonnegative_float, default=1.0, metavar="T",
                     help="below 1: safer, above 1: more surprising, 0: always the likeliest (default 1)")
    smp.add_argument("--top-k", type=positive_int, metavar="K", help="draw only among the K likeliest characters")
    smp.add_argument("--seed", type=nonnegative_int, default=0, help="random seed of the draws (default 0)")
    smp.set_defaults(func=sample_command)


def unigram_perplexity(train: str, held_out: str) -> float:
    """The baseline: exp of the mean negative log-probability of the characters of
    ``held_out`` after the first (the ones the model predicts) under the character frequencies
    of ``train``, with add-one smoothing over the characters of ``train``::

        p(c) = (count_train(c) + 1) / (len(train) + V)
    """
    counts = Counter(train)
    total = len(train) + len(counts)
    scored = held_out[1:]
    return math.exp(-sum(math.log((counts[c] + 1) / total) for c in scored) / len(scored))


def fit_command(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from ..estimators import TextGenerator

    text = read_text(args.corpus, args.encoding)
    if args.max_chars:
        text = text[: args.max_chars]
    if not text.strip():
        raise CLIError(f"Cannot train on '{args.corpus}': the file has no text.")
    cut = len(text) - int(round(args.holdout * len(text)))
    train, held_out = text[:cut], text[cut:]
    gen = TextGenerator(**estimator_params(args, TextGenerator))
    with out_dir(args.out, (MODEL_FILE, METRICS_FILE, RUN_FILE, "history.png")) as out:
        with training(f"Cannot train on '{args.corpus}' ({len(train)} characters)"):
            gen.fit(train)
        note_interrupted(gen.history_)
        metrics = _holdout_metrics(gen, train, held_out, args.corpus) if args.holdout > 0 else {
            "corpus": args.corpus, "n_train_chars": len(train), "n_holdout_chars": 0, "training": gen.history_}
        write_file(out / MODEL_FILE, gen.save)
        write_json(out / METRICS_FILE, metrics)
        write_run_record(out, "text", argv, {"corpus": str(Path(args.corpus).resolve()), "encoding": args.encoding,
                                             "max_chars": args.max_chars, "holdout": args.holdout}, gen)
        written = [MODEL_FILE, METRICS_FILE, RUN_FILE]
        curves = history_curves(gen.history_)
        if curves:
            from ..plots import plot_learning_curves

            if save_plot(plot_learning_curves, out / "history.png", history=curves, title="Training (text)"):
                written.append("history.png")
    print(f"\nTrained on {len(train)} characters of '{args.corpus}'.")
    if metrics.get("holdout_perplexity") is not None:
        print(table(["", "model", "unigram baseline"],
                    [["held-out perplexity", metrics["holdout_perplexity"], metrics["unigram_perplexity"]]]))
    if args.sample_length:
        print(f"Sample (temperature 1, seed {args.seed}):\n{gen.sample('', args.sample_length, seed=args.seed)}")
    print_written(out, written)
    return 0


def _holdout_metrics(gen: Any, train: str, held_out: str, corpus: str) -> dict[str, Any]:
    """metrics.json of a fit with a held-out tail (--holdout > 0): the sizes, the held-out and
    unigram perplexities (None when fewer than 2 held-out characters occur in the training text,
    e.g. a tail rounded to 0 characters: a note on stderr says so) and the count of held-out
    characters left out because training never saw them."""
    metrics: dict[str, Any] = {"corpus": corpus, "n_train_chars": len(train), "n_holdout_chars": len(held_out),
                               "training": gen.history_}
    known = "".join(c for c in held_out if c in gen.vocab_)  # characters never seen in training cannot be scored
    metrics["holdout_unknown_chars"] = len(held_out) - len(known)
    if len(known) >= 2:
        metrics.update(holdout_perplexity=float(gen.perplexity(known)),
                       unigram_perplexity=unigram_perplexity(train, known))
    else:
        metrics.update(holdout_perplexity=None, unigram_perplexity=None)
        print(f"rnnkit: note: no held-out perplexity: the last {len(held_out)} character(s) of '{corpus}' have "
              f"{len(known)} that occur in the training text, and scoring needs at least 2. Use a larger "
              "--holdout or a longer corpus.", file=sys.stderr)
    return metrics


def sample_command(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    gen, _ = load_estimator_of(args.model, "TextGenerator", "rnnkit text sample")
    try:
        out = gen.sample(args.prompt, args.length, temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    except ValueError as exc:
        raise CLIError(f"Cannot continue --prompt {args.prompt!r}: {message_for(exc)}") from exc
    print(out)
    return 0
