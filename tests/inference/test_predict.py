"""predict, simulate and conditional variances of the random effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import multilevel as ml
from tests.inference.conftest import quiet_fit


def test_predict_fitted_and_newdata(sleep, sleep_fit):
    np.testing.assert_allclose(sleep_fit.predict(), sleep_fit.fitted, rtol=1e-12)
    np.testing.assert_allclose(sleep_fit.predict(newdata=sleep), sleep_fit.fitted, rtol=1e-12)
    pop = sleep_fit.predict(re_form="~0")
    np.testing.assert_allclose(pop, sleep_fit.design.X @ sleep_fit.estimates.beta, rtol=1e-12)
    assert sleep_fit.predict(re_form="NA").equals(pop)


def test_predict_new_levels_and_missing(sleep_fit):
    nd = pd.DataFrame({"Days": [1.0, 2.0, np.nan], "Subject": ["308", "999", "308"]},
                      index=["a", "b", "c"])
    with pytest.raises(ml.DataError, match="allow_new_levels"):
        sleep_fit.predict(newdata=nd)
    p = sleep_fit.predict(newdata=nd, allow_new_levels=True)
    assert list(p.index) == ["a", "b", "c"]
    assert np.isnan(p["c"])
    beta = sleep_fit.fixef
    assert p["b"] == pytest.approx(beta["(Intercept)"] + 2 * beta["Days"])
    b = sleep_fit.ranef["Subject"].loc["308"]
    expected = beta["(Intercept)"] + b["(Intercept)"] + 1 * (beta["Days"] + b["Days"])
    assert p["a"] == pytest.approx(expected)


def test_predict_re_form_subset(hsb):
    m = quiet_fit("mAch ~ ses + (1 | school) + (1 | sector)", hsb)
    only_school = m.predict(re_form="~(1|school)")
    k = [t.group for t in m.design.terms].index("school")
    t = m.design.terms[k]
    expected = m.design.X @ m.estimates.beta + m.estimates.b[k][t.grouping.codes, 0]
    np.testing.assert_allclose(only_school, expected, rtol=1e-12)
    with pytest.raises(ml.ModelError, match="not a random-effects term"):
        m.predict(re_form="~(1|sx)")


def test_predict_unknown_fixed_level(hsb):
    m = quiet_fit("mAch ~ sector + (1 | school)", hsb)
    nd = pd.DataFrame({"sector": ["Other"], "school": ["1224"]})
    with pytest.raises(ml.DataError, match="levels of 'sector'"):
        m.predict(newdata=nd)


def test_prediction_intervals(sleep_fit, sleep):
    a = sleep_fit.predict(newdata=sleep.head(5), interval="prediction", seed=3, nsim=2000)
    b = sleep_fit.predict(newdata=sleep.head(5), interval="prediction", seed=3, nsim=2000)
    assert a.equals(b)
    assert list(a.columns) == ["fit", "lower", "upper"]
    assert np.all((a["lower"] < a["fit"]) & (a["fit"] < a["upper"]))
    c = sleep_fit.predict(newdata=sleep.head(5), interval="confidence", seed=3, nsim=2000)
    assert np.all(c["upper"] - c["lower"] < a["upper"] - a["lower"])
    # prediction half-width is at least 1.96 sigma
    assert np.all((a["upper"] - a["lower"]) / 2 > 1.8 * sleep_fit.sigma)


def test_simulate(sleep_fit):
    s = sleep_fit.simulate(3, seed=1)
    assert s.shape == (180, 3) and list(s.columns) == ["sim_1", "sim_2", "sim_3"]
    assert s.equals(sleep_fit.simulate(3, seed=1))
    cond = sleep_fit.simulate(400, seed=2, re_form=None)
    resid = cond.to_numpy() - sleep_fit.fitted.to_numpy()[:, None]
    assert abs(resid.mean()) < 0.5
    assert resid.std() == pytest.approx(sleep_fit.sigma, rel=0.02)
    marg = sleep_fit.simulate(400, seed=2)
    assert marg.to_numpy().std(axis=1).mean() > resid.std() * 1.2


def _dense_condsd(m) -> np.ndarray:
    z = sp.hstack([t.matrix() for t in m.system.terms]).toarray()
    lam = sp.block_diag([sp.kron(sp.identity(t.nlevels), lam)
                         for t, lam in zip(m.system.terms, m.lambdas, strict=True)]).toarray()
    a = lam.T @ z.T @ z @ lam + np.eye(z.shape[1])
    v = m.sigma**2 * lam @ np.linalg.inv(a) @ lam.T
    return np.sqrt(np.diag(v))


@pytest.mark.parametrize(
    ("formula", "dataset"),
    [
        ("diameter ~ 1 + (1|plate) + (1|sample)", "Penicillin"),
        ("strength ~ 1 + (1|batch/cask)", "Pastes"),
        ("Reaction ~ Days + (Days|Subject)", "sleepstudy"),
    ],
)
def test_ranef_table_conditional_sd(formula, dataset):
    m = quiet_fit(formula, ml.datasets.load(dataset))
    table = m.ranef_table()
    assert list(table.columns) == ["grpvar", "term", "grp", "condval", "condsd"]
    dense = _dense_condsd(m)
    # dense order: term by term, level-major within a term; table: term, column, level
    expected = []
    pos = 0
    for t in m.design.terms:
        block = dense[pos : pos + t.q * t.nlevels].reshape(t.nlevels, t.q)
        expected.extend(block.T.ravel())
        pos += t.q * t.nlevels
    np.testing.assert_allclose(table["condsd"], expected, rtol=1e-8)


def test_ranef_table_sleepstudy_value(sleep_fit):
    t = sleep_fit.ranef_table()
    # lme4: as.data.frame(ranef(fm1, condVar = TRUE)) condsd for the intercepts
    assert t["condsd"].iloc[0] == pytest.approx(12.0708, rel=1e-3)
    assert t["condval"].iloc[0] == pytest.approx(sleep_fit.ranef["Subject"].iloc[0, 0])
