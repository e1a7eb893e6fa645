"""What GLMM results do not offer is refused with NotSupportedError; plots draw."""

from __future__ import annotations

import warnings

import matplotlib
import pytest

import multilevel as ml

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def glmm():
    cbpp = ml.datasets.load("cbpp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                      family="binomial")


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.anova(ddf="satterthwaite"),
        lambda m: m.vcov_robust(),
        lambda m: m.emmeans("period", ddf="kenward-roger"),
        lambda m: m.coef_table(ddf="satterthwaite"),
        lambda m: m.coef_table(ddf="kenward-roger"),
    ],
)
def test_glmm_not_supported(glmm, call):
    with pytest.raises(ml.NotSupportedError):
        call(glmm)


def test_glmm_ddf_message(glmm):
    with pytest.raises(ml.NotSupportedError, match="Wald z tests"):
        glmm.coef_table(ddf="satterthwaite")
    assert glmm.coef_table(ddf=None).equals(glmm.coef_table())


def test_anova_refuses_lmm_with_glmm(glmm):
    cbpp = glmm.data.assign(prop=glmm.data["incidence"] / glmm.data["size"])
    lmm = ml.fit("prop ~ period + (1 | herd)", cbpp)
    with pytest.raises(ml.ModelError, match="not comparable"):
        ml.anova(lmm, glmm)


def test_glmm_plots(glmm):
    fig = glmm.plot.caterpillar()
    assert len([a for a in fig.axes if a.get_visible()]) == 1


def test_plots(sleep_fit):
    fig = sleep_fit.plot.caterpillar()
    assert len([a for a in fig.axes if a.get_visible()]) == 2
    assert len([a for a in sleep_fit.plot.qq().axes if a.get_visible()]) == 2
    assert sleep_fit.plot.residuals().axes[0].get_xlabel() == "fitted"
    assert sleep_fit.plot() is not None
