"""A second, held-out-style check: simulated unbalanced schools data (groups of 1 to 60, some
missing values, a three-level school factor), against R (``data/make_schools_reference.R``).

Nothing in the workflow code is tuned to Hsb82; this data set has other names, other sizes
and singleton groups.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

DATA = Path(__file__).parent / "data"
FORMULA = "score ~ x + z + type"


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    df = pd.read_csv(DATA / "schools_sim.csv.gz")
    df["type"] = pd.Categorical(df["type"], categories=["state", "church", "private"])
    return df


@pytest.fixture(scope="module")
def want() -> dict:
    return json.loads((DATA / "schools_sim.json").read_text())


def values(d: dict) -> list[float]:
    return list(d.values())


def test_icc_anova(sim, want):
    r = ml.icc_anova(sim, "score", "school")
    w = want["icc_anova"]
    for name in ("icc", "msb", "msw", "n0"):
        assert getattr(r, name) == pytest.approx(w[name], rel=1e-8, abs=1e-8)
    assert r.eta_squared == pytest.approx(w["ss_ratio"], abs=1e-8)
    assert (r.lower, r.upper) == pytest.approx((w["lower"], w["upper"]), abs=1e-6)


@pytest.mark.parametrize("se", ["iid", "HC1", "CR1", "CR2"])
def test_ols(sim, want, se):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        r = ml.ols(FORMULA, sim, cluster="school", se=se)
    w = want["ols"]
    assert r.nobs == len(sim.dropna())
    assert r.coef.index.tolist() == list(w["coef"])
    np.testing.assert_allclose(r.coef, values(w["coef"]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(r.se, values(w[f"se_{se.lower()}"]), rtol=0, atol=1e-6)
    if se == "CR2":
        np.testing.assert_allclose(r.df, values(w["df_cr2"]), rtol=1e-8)


def test_panel_and_hausman(sim, want):
    w = want["panel"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        fits = {m: ml.panel(FORMULA, sim, "school", model=m) for m in ("re", "fe", "between",
                                                                        "pooled")}
    for model, tol in (("re", 1e-6), ("fe", 1e-6), ("between", 1e-6), ("pooled", 1e-6)):
        assert fits[model].coef.index.tolist() == list(w[f"{model}_coef"])
        np.testing.assert_allclose(fits[model].coef, values(w[f"{model}_coef"]), atol=tol)
        np.testing.assert_allclose(fits[model].se, values(w[f"{model}_se"]), atol=tol)
    s2 = fits["re"].sigma2
    assert isinstance(s2, dict)
    assert s2["idios"] == pytest.approx(w["re_sigma2"]["idios"], rel=1e-10)
    assert s2["id"] == pytest.approx(w["re_sigma2"]["id"], rel=1e-10)
    h = ml.hausman(fits["fe"], fits["re"])
    assert h.statistic == pytest.approx(w["hausman_stat"], abs=1e-4)
    assert h.df == w["hausman_df"]
    assert h.pvalue == pytest.approx(w["hausman_p"], rel=1e-6, abs=1e-12)


def test_model_icc(sim, want):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        m0 = ml.fit("score ~ 1 + (1 | school)", sim)
        m1 = ml.fit("score ~ x + z + type + (1 + x | school)", sim)
    assert m0.icc().loc["school", "adjusted"] == pytest.approx(
        want["icc_model"]["adjusted"], abs=1e-4
    )
    total = m1.icc(by_group=False).loc["total"]
    assert total["adjusted"] == pytest.approx(want["icc_slope"]["adjusted"], abs=1e-4)
    assert total["conditional"] == pytest.approx(want["icc_slope"]["conditional"], abs=1e-4)
