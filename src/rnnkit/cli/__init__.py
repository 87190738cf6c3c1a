"""The ``rnnkit`` command line: the estimators of :mod:`rnnkit.estimators` on files.

One module per command group, each adding its parsers with ``register(subparsers)``:

- :mod:`~rnnkit.cli.demo`: ``rnnkit demo`` (the main job on the shipped CO2 series);
- :mod:`~rnnkit.cli.forecast`: ``rnnkit forecast fit|predict`` (CSV series, ``Forecaster``);
- :mod:`~rnnkit.cli.classify`: ``rnnkit classify fit|predict`` (``.ts`` / CSV sequences,
  ``SequenceClassifier``; file layouts in :mod:`~rnnkit.cli.sequence_files`);
- :mod:`~rnnkit.cli.text`: ``rnnkit text fit|sample`` (``TextGenerator``);
- :mod:`~rnnkit.cli.info`: ``rnnkit info MODEL``.

Shared pieces: :mod:`~rnnkit.cli.main` (the parser, ``main(argv) -> exit code``),
:mod:`~rnnkit.cli.errors` (messages and exit codes), :mod:`~rnnkit.cli.options`,
:mod:`~rnnkit.cli.inputs` and :mod:`~rnnkit.cli.output`. The user guide is docs/cli.md.
"""

from .main import build_parser, main

__all__ = ["main", "build_parser"]
