"""Datasets bundled with ``multilevel``: the classic examples of lme4 and mlmRev.

Each dataset is stored as ``data/NAME.csv.gz`` beside a ``data/NAME.json`` that gives the row
count and, for every column, its type (``numeric``, ``integer`` or ``categorical``) and, for a
categorical column, its levels in R's order. :func:`load` returns a :class:`pandas.DataFrame`
with categorical columns as :class:`pandas.Categorical` of strings with those levels in that
order, so the first level is the reference level of treatment contrasts, as in R.

Datasets
--------
sleepstudy
    Reaction times in a sleep-deprivation study (Belenky et al., 2003), from lme4: average
    reaction time per day (``Reaction``, ms) of 18 subjects (``Subject``) on days 0 to 9
    (``Days``) of restriction to 3 hours of sleep a night. 180 rows. This copy adds ``w``,
    positive precision weights (0.5 to 2) for testing weighted fits; lme4's has no such column.
Dyestuff
    Yield of dyestuff (``Yield``, grams of standard colour) from 5 preparations of each of 6
    batches (``Batch``) of an intermediate product (Davies and Goldsmith, 1972), from lme4.
    30 rows.
Dyestuff2
    Simulated data of the same design as Dyestuff (Box and Tiao, 1973), from lme4; the
    between-batch variance is estimated as zero (a singular fit). 30 rows.
Penicillin
    Potency assay of 6 penicillin samples (``sample``), each on each of 24 plates (``plate``):
    ``diameter`` (mm) of the zone where growth is inhibited. Two fully crossed grouping
    factors; from lme4. 144 rows.
Pastes
    Strength of a chemical paste (``strength``): 10 delivery batches (``batch``), 3 casks
    (``cask``) from each batch, 2 assays of each cask; ``sample`` is the batch:cask
    combination, a grouping factor nested in ``batch``. From lme4. 60 rows.
Hsb82
    High School and Beyond, 1982: math achievement (``mAch``) of 7185 students in 160 schools
    (``school``), with minority status (``minrty``), sex (``sx``), socio-economic status
    (``ses``), its school mean (``meanses``) and the school-centred ``cses``, and the school
    ``sector`` (Public or Catholic). From mlmRev. 7185 rows.
ScotsSec
    Scottish secondary school attainment: attainment score (``attain``) of 3435 students, with
    verbal reasoning score (``verbal``), ``sex`` and social class (``social``), in 148 primary
    schools (``primary``) crossed with 19 secondary schools (``second``). From mlmRev.
    3435 rows.
InstEval
    University lecture evaluations by students at ETH Zurich, from lme4: ratings ``y`` (1 to 5)
    by 2972 students (``s``) of 1128 lecturers (``d``), with student age (``studage``),
    lecture age (``lectage``), service course (``service``) and department (``dept``).
    73421 rows; a large crossed design.
cbpp
    Contagious bovine pleuropneumonia in Ethiopia, from lme4: new serological cases
    (``incidence``) among ``size`` zebu cattle, in 15 herds (``herd``) over 4 periods
    (``period``). Binomial response. 56 rows.
VerbAgg
    Verbal aggression item responses, from lme4: 316 respondents (``id``), with trait anger
    score (``Anger``) and ``Gender``, answer 24 items (``item``) with ``resp`` (no, perhaps,
    yes) and its dichotomisation ``r2`` (N, Y); items vary by behaviour type (``btype``),
    situation (``situ``) and mode (``mode``, want or do). 7584 rows.

Examples
--------
>>> from multilevel import datasets
>>> df = datasets.load("sleepstudy")
>>> df.shape
(180, 4)
>>> list(df["Subject"].cat.categories[:3])
['308', '309', '310']
"""

from __future__ import annotations

import difflib
import functools
import json
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import pandas as pd

from multilevel.datasets.survey import simulated_survey as simulated_survey
from multilevel.errors import DataError

__all__ = ["describe", "load", "names"]

_DESCRIPTIONS: dict[str, str] = {
    "sleepstudy": "Reaction times of 18 subjects over 10 days of sleep deprivation (lme4)",
    "Dyestuff": "Yield of dyestuff from 6 batches, 5 preparations each (lme4)",
    "Dyestuff2": "Simulated Dyestuff design with zero between-batch variance (lme4)",
    "Penicillin": "Penicillin potency: 6 samples crossed with 24 plates (lme4)",
    "Pastes": "Paste strength: casks nested in 10 batches (lme4)",
    "Hsb82": "High School and Beyond: math achievement of students in schools (mlmRev)",
    "ScotsSec": "Scottish secondary attainment: primary crossed with secondary schools (mlmRev)",
    "InstEval": "ETH Zurich lecture ratings: students crossed with lecturers (lme4)",
    "cbpp": "Contagious bovine pleuropneumonia incidence in 15 herds (lme4)",
    "VerbAgg": "Verbal aggression item responses of 316 respondents (lme4)",
}


def _data_dir() -> Traversable:
    return resources.files(__name__).joinpath("data")


@functools.cache
def _catalog() -> dict[str, str]:
    """Map each lower-cased dataset name to its stored spelling."""
    stems = [
        entry.name.removesuffix(".json")
        for entry in _data_dir().iterdir()
        if entry.name.endswith(".json")
    ]
    return {stem.lower(): stem for stem in stems}


def names() -> list[str]:
    """Names of the bundled datasets.

    Returns
    -------
    list of str
        The names as stored (for example ``"Hsb82"``), sorted case-insensitively.
    """
    return sorted(_catalog().values(), key=str.lower)


def _resolve(name: str) -> str:
    """Return the stored spelling of ``name``, matched case-insensitively.

    Raises
    ------
    DataError
        If no bundled dataset has that name; the message lists the available names and the
        closest match.
    """
    catalog = _catalog()
    if not isinstance(name, str):
        raise DataError(f"a dataset name must be a string, not {type(name).__name__}")
    stored = catalog.get(name.strip().lower())
    if stored is not None:
        return stored
    close = difflib.get_close_matches(name.strip().lower(), list(catalog), n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(catalog[c]) for c in close)}?" if close else ""
    raise DataError(f"no bundled dataset named {name!r}.{hint} Available: {', '.join(names())}.")


def _metadata(name: str) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(_data_dir().joinpath(f"{name}.json").read_text("utf-8"))
    return meta


def describe(name: str) -> str:
    """One-line description of a bundled dataset.

    Parameters
    ----------
    name
        Dataset name, matched case-insensitively.

    Returns
    -------
    str
        What the dataset is, where it comes from and its number of rows (the module docstring
        says more).
    """
    stored = _resolve(name)
    nrow = int(_metadata(stored)["nrow"])
    return f"{_DESCRIPTIONS.get(stored, stored)}; {nrow} rows"


@functools.cache
def _read(name: str) -> pd.DataFrame:
    """Parse one stored dataset (cached; callers must copy)."""
    meta = _metadata(name)
    columns: dict[str, dict[str, Any]] = meta["columns"]
    categorical = [col for col, spec in columns.items() if spec["type"] == "categorical"]
    with _data_dir().joinpath(f"{name}.csv.gz").open("rb") as fh:
        frame = pd.read_csv(fh, compression="gzip", dtype=dict.fromkeys(categorical, str))
    if list(frame.columns) != list(columns):
        raise DataError(f"bundled dataset {name!r} does not match its description")
    for col, spec in columns.items():
        kind = spec["type"]
        if kind == "categorical":
            levels = [str(level) for level in spec["levels"]]
            values = frame[col]
            cat = pd.Categorical(values, categories=levels, ordered=bool(spec.get("ordered")))
            if int(cat.isna().sum()) != int(values.isna().sum()):
                raise DataError(f"column {col!r} of bundled dataset {name!r} has unknown levels")
            frame[col] = cat
        elif kind == "integer":
            if not frame[col].isna().any():
                frame[col] = frame[col].astype("int64")
        elif kind == "numeric":
            frame[col] = frame[col].astype("float64")
        else:
            raise DataError(f"column {col!r} of bundled dataset {name!r} has type {kind!r}")
    if len(frame) != int(meta["nrow"]):
        raise DataError(f"bundled dataset {name!r} has {len(frame)} rows, not {meta['nrow']}")
    return frame


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame.

    Parameters
    ----------
    name
        Dataset name, matched case-insensitively (``"hsb82"`` loads ``Hsb82``). See
        :func:`names` for the list and the module docstring for what each dataset is.

    Returns
    -------
    pandas.DataFrame
        A fresh copy: changing it does not change what later calls return. Categorical columns
        are :class:`pandas.Categorical` of strings, with the levels in the stored (R) order;
        numeric columns are ``float64`` and integer columns ``int64``.

    Raises
    ------
    DataError
        If there is no bundled dataset of that name; the message lists the available names and
        the closest match.

    Examples
    --------
    >>> from multilevel import datasets
    >>> datasets.load("hsb82").shape
    (7185, 8)
    """
    return _read(_resolve(name)).copy(deep=True)
