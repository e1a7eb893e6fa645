"""The ``multilevel`` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from multilevel import cli, datasets

SLEEP_FORMULA = "Reaction ~ Days + (Days|Subject)"


def _needs_fit() -> None:
    """Skip unless the fitting engine is importable (it lands separately)."""
    ml = pytest.importorskip("multilevel")
    if not callable(getattr(ml, "fit", None)):
        pytest.skip("multilevel.fit is not available yet")


def test_parser_fit_arguments() -> None:
    args = cli.build_parser().parse_args(["fit", "data.csv", "y ~ x + (1|g)", "--ml", "--json"])
    assert args.command == "fit"
    assert args.data == "data.csv"
    assert args.formula == "y ~ x + (1|g)"
    assert args.ml is True
    assert args.json is True


def test_parser_fit_defaults_to_reml_and_summary() -> None:
    args = cli.build_parser().parse_args(["fit", "sleepstudy", SLEEP_FORMULA])
    assert args.ml is False
    assert args.json is False


@pytest.mark.parametrize("command", ["demo", "datasets"])
def test_parser_other_commands(command: str) -> None:
    assert cli.build_parser().parse_args([command]).command == command


def test_missing_arguments_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fit", "sleepstudy"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "datasets" in capsys.readouterr().err


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "fit" in capsys.readouterr().out


def test_datasets_lists_every_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == datasets.names()


def test_bad_dataset_name_exits_2_with_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fit", "sleepstudyy", SLEEP_FORMULA]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    assert "sleepstudy" in captured.err
    assert "Traceback" not in captured.err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fit", str(tmp_path / "nope.csv"), "y ~ x + (1|g)"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_read_data_csv_strings_become_sorted_categoricals(tmp_path: Path) -> None:
    path = tmp_path / "d.csv.gz"
    pd.DataFrame({"y": [1.0, 2.0, 3.0], "n": [1, 2, 3], "g": ["b", "a", "b"]}).to_csv(
        path, index=False
    )
    frame = cli.read_data(str(path))
    assert isinstance(frame["g"].dtype, pd.CategoricalDtype)
    assert list(frame["g"].cat.categories) == ["a", "b"]
    assert pd.api.types.is_float_dtype(frame["y"].dtype)
    assert pd.api.types.is_integer_dtype(frame["n"].dtype)


def test_read_data_falls_back_to_bundled_dataset() -> None:
    assert cli.read_data("SleepStudy").shape == (180, 4)


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "multilevel", "datasets"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sleepstudy" in proc.stdout


def test_fit_prints_summary(capsys: pytest.CaptureFixture[str]) -> None:
    _needs_fit()
    assert cli.main(["fit", "sleepstudy", SLEEP_FORMULA]) == 0
    assert "Random effects" in capsys.readouterr().out


def test_fit_json_output_parses(capsys: pytest.CaptureFixture[str]) -> None:
    _needs_fit()
    assert cli.main(["fit", "sleepstudy", SLEEP_FORMULA, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert "fixef" in payload
