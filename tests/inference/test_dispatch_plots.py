"""GLMM results are refused with NotSupportedError; plots draw."""

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
        lambda m: m.coef_table(),
        lambda m: m.anova(),
        lambda m: m.vcov_robust(),
        lambda m: m.emmeans("period"),
        lambda m: m.confint(),
        lambda m: m.profile(),
        lambda m: m.simulate(),
        lambda m: m.ranef_table(),
        lambda m: m.r2(),
        lambda m: ml.bootstrap(m, 2, progress=False),
    ],
)
def test_glmm_not_supported(glmm, call):
    with pytest.raises(ml.NotSupportedError):
        call(glmm)


def test_plots(sleep_fit):
    fig = sleep_fit.plot.caterpillar()
    assert len([a for a in fig.axes if a.get_visible()]) == 2
    assert len([a for a in sleep_fit.plot.qq().axes if a.get_visible()]) == 2
    assert sleep_fit.plot.residuals().axes[0].get_xlabel() == "fitted"
    assert sleep_fit.plot() is not None
