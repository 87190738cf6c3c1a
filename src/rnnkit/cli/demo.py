"""``rnnkit demo``: the main job on the data shipped with rnnkit, in about a minute on 2 cores.

It is ``rnnkit forecast fit`` on the monthly Mauna Loa CO2 series (1958-03..2001-12, see
:func:`rnnkit.datasets.load_co2`): an LSTM forecaster reads the last 3 years and forecasts the
next 2; the last 2 years are held out and scored beside the seasonal-naive baseline. It writes
the series (``co2.csv``), the model, ``metrics.json``, ``forecast.png`` and ``history.png`` to
``runs/demo/`` (``--out``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Sequence

from .forecast import FIT_FILES, fit_and_report, read_series
from .options import nonnegative_int, out_path, positive_int

#: the demo's data and Forecaster settings (30 to 40 s on 2 busy cores; early stopping at epoch 151)
DATA_FILE, TARGET, TIME = "co2.csv", "co2_ppmv", "month"
SETTINGS = {"cell": "lstm", "lookback": 36, "horizon": 24}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo", help="train an LSTM forecaster on the shipped CO2 series (about a minute)",
        description="Train an LSTM forecaster on the monthly Mauna Loa CO2 series shipped with rnnkit "
                    "(about a minute on 2 cores): it reads 3 years and forecasts the next 2; the last 2 years are "
                    "held out and scored beside the seasonal-naive baseline. Writes the series, the model, "
                    "metrics.json and the plots to --out.",
        epilog="Then: rnnkit info runs/demo; rnnkit forecast predict runs/demo runs/demo/co2.csv")
    parser.add_argument("--out", type=out_path, default="runs/demo", metavar="DIR",
                        help="output folder (default runs/demo)")
    parser.add_argument("--epochs", type=positive_int, metavar="N",
                        help="most passes over the data (default: the demo's; 1 for a quick check)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    parser.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from .._files import atomic_write
    from ..datasets._files import data_file
    from .output import out_dir, write_file

    start = time.perf_counter()
    with out_dir(args.out, (DATA_FILE, *FIT_FILES)) as out:
        with data_file("co2", "co2_monthly.csv") as shipped:
            series = Path(shipped).read_bytes()
        write_file(out / DATA_FILE, lambda p: atomic_write(p, lambda f: f.write(series)))
        source = str(out / DATA_FILE)
        y, times = read_series(source, TARGET, TIME, None)
        params = dict(SETTINGS, seed=args.seed, verbose=not args.quiet)
        if args.epochs is not None:
            params["epochs"] = args.epochs
        print(f"rnnkit demo: an {SETTINGS['cell'].upper()} forecaster on the Mauna Loa CO2 series ({len(y)} "
              f"months, {times[0]}..{times[-1]}): reads {SETTINGS['lookback']} months, forecasts the next "
              f"{SETTINGS['horizon']}.")
        record = {"file": str((out / DATA_FILE).resolve()), "target": TARGET, "time": TIME, "fill": None,
                  "delimiter": ","}
        fit_and_report(y, times, params, out, source=source, target=TARGET, refit=False, argv=argv,
                       data_record=record, written=[DATA_FILE])
    print(f"Done in {time.perf_counter() - start:.0f} s. Next: rnnkit info {out}; "
          f"rnnkit forecast predict {out} {out / DATA_FILE} --out forecast.csv")
    return 0
