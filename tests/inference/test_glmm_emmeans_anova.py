"""Marginal means, pairwise contrasts and type III Wald tests of GLMMs, against emmeans 1.8.4-1
and car 3.1-1 on glmer fits (``reference/extra/make_glmm_emmeans.R``, glmerControl(tolPwrss =
1e-12); our fits agree with lme4's to about 1e-5). Tolerance 1e-4 relative; p-values on the log
scale."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

import multilevel as ml
from multilevel.inference.emmeans import emmeans
from tests.conftest import EXTRA_DIR, load_dataset
from tests.inference.conftest import quiet_fit

REF = json.loads((EXTRA_DIR / "inference" / "glmm_emmeans.json").read_text())
RTOL = 1e-4
_FITS: dict[tuple[str, bool], object] = {}


def _fit(key: str, sum_contrasts: bool | None = None):
    ref = REF[key]
    use_sum = ref["sum_contrasts"] if sum_contrasts is None else sum_contrasts
    if (key, use_sum) not in _FITS:
        kw = {"contrasts": {ref["spec"]: "sum"}} if use_sum else {}
        _FITS[(key, use_sum)] = quiet_fit(ref["formula"], load_dataset(ref["dataset"]),
                                          family=ref["family"], **kw)
    return _FITS[(key, use_sum)]


def _close(got, want, rtol=RTOL):
    """Relative to each value, or to the largest one for values near 0."""
    want = np.asarray(want, float)
    np.testing.assert_allclose(np.asarray(got, float), want, rtol=rtol,
                               atol=rtol * float(np.max(np.abs(want))))


def _close_p(got, want):
    got, want = np.asarray(got, float), np.asarray(want, float)
    big = want > 1e-10  # Tukey p-values below ~1e-13 are 0 in scipy
    np.testing.assert_allclose(np.log(got[big]), np.log(want[big]), rtol=RTOL, atol=1e-4)


@pytest.mark.parametrize("key", list(REF))
def test_emmeans_link_scale(key):
    ref = REF[key]
    m = _fit(key)
    e = m.emmeans(ref["spec"])
    want = ref["emmeans"]
    assert [str(v) for v in e.table[ref["spec"]]] == want[ref["spec"]]
    _close(e.table["emmean"], want["emmean"])
    _close(e.table["SE"], want["SE"])
    assert np.all(np.isinf(e.table["df"]))
    _close(e.table["lower.CL"], want["asymp.LCL"])
    _close(e.table["upper.CL"], want["asymp.UCL"])


@pytest.mark.parametrize("key", list(REF))
def test_emmeans_response_scale(key):
    ref = REF[key]
    e = emmeans(_fit(key), ref["spec"], type="response")
    want = ref["emmeans_response"]
    name = "prob" if ref["family"] == "binomial" else "rate"
    assert name in e.table.columns
    _close(e.table[name], want[name])
    _close(e.table["SE"], want["SE"])
    _close(e.table["lower.CL"], want["asymp.LCL"])
    _close(e.table["upper.CL"], want["asymp.UCL"])
    # the same table from link-scale means, and from the result's method
    link = _fit(key).emmeans(ref["spec"])
    assert link.summary(type="response").equals(e.table)
    assert _fit(key).emmeans(ref["spec"], type="response").table.equals(e.table)


@pytest.mark.parametrize("key", list(REF))
def test_pairs_link_and_response(key):
    ref = REF[key]
    e = _fit(key).emmeans(ref["spec"])
    p = e.pairs()
    want = ref["pairs"]
    _close(p["estimate"], want["estimate"])
    _close(p["SE"], want["SE"])
    _close(p["z.ratio"], want["z.ratio"])
    _close_p(p["p.value"], want["p.value"])
    _close(p["lower.CL"], want["asymp.LCL"])  # Tukey-adjusted limits
    _close(p["upper.CL"], want["asymp.UCL"])
    r = e.pairs(type="response")
    want = ref["pairs_response"]
    name = "odds.ratio" if ref["family"] == "binomial" else "ratio"
    assert r["contrast"].str.contains(" / ").all()
    _close(r[name], want[name])
    _close(r["SE"], want["SE"])
    _close(r["lower.CL"], want["asymp.LCL"])
    _close(r["upper.CL"], want["asymp.UCL"])
    np.testing.assert_array_equal(r["p.value"], p["p.value"])
    b = e.pairs(adjust="bonferroni")
    want = ref["pairs_bonferroni"]
    _close_p(b["p.value"], want["p.value"])
    _close(b["lower.CL"], want["asymp.LCL"])


def test_emmeans_by_hand():
    """A cell mean is ℓᵀβ̂ with SE √(ℓᵀVℓ) from the model's covariance; back-transformed by
    the inverse logit with the delta-method SE."""
    m = _fit("cbpp")
    beta, v = m.beta, m.vcov_matrix
    e = m.emmeans("period", level=0.9)
    ell = np.array([1.0, 0.0, 1.0, 0.0])  # period 3
    eta, se = ell @ beta, np.sqrt(ell @ v @ ell)
    row = e.table.iloc[2]
    np.testing.assert_allclose([row["emmean"], row["SE"]], [eta, se], rtol=1e-12)
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(row["upper.CL"], eta + z * se, rtol=1e-12)
    resp = e.summary(type="response").iloc[2]
    mu = 1 / (1 + np.exp(-eta))
    np.testing.assert_allclose([resp["prob"], resp["SE"], resp["lower.CL"]],
                               [mu, mu * (1 - mu) * se, 1 / (1 + np.exp(-(eta - z * se)))],
                               rtol=1e-12)
    c = e.contrast({"3 vs 1": [-1, 0, 1, 0]})
    np.testing.assert_allclose(c["estimate"], beta[2], rtol=1e-12)
    np.testing.assert_allclose(c["std.error"], np.sqrt(v[2, 2]), rtol=1e-12)


@pytest.mark.parametrize("key", list(REF))
def test_anova_wald_chisq(key):
    ref = REF[key]
    a = _fit(key).anova(ddf=None)
    want = ref["anova"]
    terms = want["term"][1:]  # car's intercept row is left out
    assert list(a.index) == terms
    assert list(a.columns) == ["Chisq", "Df", "Pr(>Chisq)"]
    _close(a["Chisq"], want["Chisq"][1:])
    assert list(a["Df"]) == want["Df"][1:]
    _close_p(a["Pr(>Chisq)"], want["p"][1:])
    assert a.equals(_fit(key).anova(ddf="wald"))
    assert a.equals(_fit(key).anova())  # the default test of a GLMM is the Wald χ²


def test_anova_coding_invariant():
    """Fitted with treatment contrasts, the interaction model's type III tests are car's on
    the sum-to-zero fit."""
    a = _fit("grouse_int", sum_contrasts=False).anova(ddf=None)
    want = REF["grouse_int"]["anova"]
    _close(a["Chisq"], want["Chisq"][1:], rtol=5e-4)


def test_glmm_refusals():
    m = _fit("cbpp")
    with pytest.raises(ml.NotSupportedError, match="Wald chi-square"):
        m.anova(ddf="satterthwaite")
    with pytest.raises(ml.NotSupportedError, match="Wald chi-square"):
        m.anova(ddf="kenward-roger")
    with pytest.raises(ml.NotSupportedError, match="asymptotic z"):
        m.emmeans("period", ddf="satterthwaite")
    with pytest.raises(ml.NotSupportedError, match="vcov_matrix"):
        m.vcov_robust()
    with pytest.raises(ml.ModelError, match="type must be"):
        m.emmeans("period").pairs(type="probability")


def test_lmm_response_scale_is_link_scale():
    pen = ml.datasets.load("Penicillin")
    m = quiet_fit("diameter ~ sample + (1|plate)", pen)
    e = emmeans(m, "sample", type="response")
    assert e.table.equals(m.emmeans("sample").table)
    assert e.pairs().equals(m.emmeans("sample").pairs())
