"""The ``multilevel`` command line: fit a model, run the demo, list the bundled datasets.

Usage::

    multilevel fit DATA FORMULA [--ml] [--json]
    multilevel demo
    multilevel datasets
    multilevel report DATA FORMULA [-o report.html] [--term TERM] [--ml]

``DATA`` is a CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file, or the name of
a bundled dataset (``multilevel datasets`` lists them). Errors the library raises on purpose are
printed as ``error: <message>`` on stderr, with exit code 2.

The heavy imports (pandas, the fitting engine) happen inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multilevel.errors import DataError, MultilevelError

if TYPE_CHECKING:
    import pandas as pd

DEMO_FORMULA = "mAch ~ meanses*cses + sector*cses + (1 + cses|school)"

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``multilevel`` command."""
    parser = argparse.ArgumentParser(
        prog="multilevel",
        description="Multilevel (mixed-effects) models with lme4 formulas and lme4's numbers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    fit = sub.add_parser(
        "fit",
        help="fit a model and print its summary",
        description="Fit a linear mixed model given by an lme4 formula and print its summary.",
    )
    fit.add_argument(
        "data", metavar="DATA", help="CSV, CSV.gz or Parquet file, or a bundled dataset name"
    )
    fit.add_argument(
        "formula", metavar="FORMULA", help="lme4 formula, e.g. 'Reaction ~ Days + (Days|Subject)'"
    )
    fit.add_argument("--ml", action="store_true", help="fit by maximum likelihood instead of REML")
    fit.add_argument(
        "--json", action="store_true", help="print the result as JSON instead of the summary"
    )

    sub.add_parser(
        "demo",
        help="fit a model to High School and Beyond and print it",
        description=f"Fit {DEMO_FORMULA} to the bundled Hsb82 data and print the summary.",
    )
    sub.add_parser(
        "datasets",
        help="list the bundled datasets",
        description="List the bundled datasets: name, rows and a one-line description.",
    )
    report = sub.add_parser(
        "report",
        help="write an HTML report of the multilevel workflow for a model",
        description="Fit a model and write one self-contained HTML page: summary, ICC, "
        "variance decomposition, pooling comparison, caterpillar and shrinkage plots.",
    )
    report.add_argument("data", metavar="DATA", help="CSV or Parquet file, or a bundled dataset")
    report.add_argument("formula", metavar="FORMULA", help="lme4 formula of the mixed model")
    report.add_argument("-o", "--output", default="report.html", help="output file")
    report.add_argument("--term", help="coefficient of the pooling comparison")
    report.add_argument("--ml", action="store_true", help="fit by ML instead of REML")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``multilevel`` command.

    Parameters
    ----------
    argv
        Arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code: 0 on success, 2 on a usage error or any :class:`MultilevelError`.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "fit":
            return _cmd_fit(args.data, args.formula, ml=args.ml, as_json=args.json)
        if args.command == "demo":
            return _cmd_demo()
        if args.command == "report":
            from multilevel.workflow.report import run_cli

            return run_cli(args.data, args.formula, args.output, args.term, args.ml)
        return _cmd_datasets()
    except MultilevelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _cmd_fit(data: str, formula: str, *, ml: bool, as_json: bool) -> int:
    frame = read_data(data)
    import multilevel

    result = multilevel.fit(formula, frame, reml=not ml)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=_json_default))
    else:
        print(result.summary())
    return 0


def _cmd_demo() -> int:
    from multilevel import datasets

    frame = datasets.load("Hsb82")
    import multilevel

    print(
        "High School and Beyond: math achievement of "
        f"{len(frame)} students in {frame['school'].nunique()} schools"
    )
    print()
    result = multilevel.fit(DEMO_FORMULA, frame, reml=True)
    print(result.summary())
    return 0


def _cmd_datasets() -> int:
    from multilevel import datasets

    names = datasets.names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {datasets.describe(name)}")
    return 0


def read_data(source: str) -> pd.DataFrame:
    """Read ``source`` as a file path if such a file exists, else as a bundled dataset name.

    CSV columns of strings become categorical with sorted levels; Parquet and bundled data keep
    their stored types.

    Raises
    ------
    DataError
        If the file cannot be read, or ``source`` is neither a file nor a bundled dataset.
    """
    import pandas as pd

    path = Path(source)
    lower = path.name.lower()
    if not path.is_file():
        if lower.endswith(_CSV_SUFFIXES + _PARQUET_SUFFIXES) or path.parent != Path("."):
            raise DataError(f"no such file: {source}")
        from multilevel import datasets

        return datasets.load(source)
    try:
        if lower.endswith(_PARQUET_SUFFIXES):
            frame = pd.read_parquet(path)
        else:
            sep = "\t" if lower.endswith(".tsv") else ","
            frame = pd.read_csv(path, sep=sep)
    except ImportError as exc:
        raise DataError(f"cannot read {source}: {exc} (pip install pyarrow)") from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {source}: {exc}") from exc
    if not lower.endswith(_PARQUET_SUFFIXES):
        for col in frame.select_dtypes(include=["object", "string"]).columns:
            values = frame[col]
            frame[col] = pd.Categorical(values, categories=sorted(values.dropna().unique()))
    return frame


def _json_default(value: Any) -> Any:
    """Make numpy and pandas values JSON-serialisable."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("multilevel")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
