"""``simulate_study`` (tiny settings), the progress bar, and the plots."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

import multilevel as ml
from multilevel.progress import Progress, track
from multilevel.workflow.plots import conditional_sd


@pytest.fixture(scope="module")
def study():
    return ml.simulate_study(
        (5, 12), (4,), nsim=6, methods=("ols", "ols_cr2", "two_stage", "fe", "re", "mixed"),
        seed=3, progress=False,
    )


def test_summary_shape_and_metrics(study):
    s = study.summary
    assert s.index.names == ["n_groups", "group_size", "method"]
    assert len(s) == 2 * 6
    assert {"bias", "rmse", "coverage", "power", "singular", "mean_se", "sd", "failed"} <= set(s)
    assert s.loc[(5, 4, "fe"), "n"] == 0  # z is a level-2 covariate: FE cannot estimate it
    assert np.isnan(s.loc[(5, 4, "ols"), "singular"])
    assert 0 <= s.loc[(5, 4, "mixed"), "singular"] <= 1
    est = study.estimates
    assert len(est) == 2 * 6 * 6
    ok = est.dropna(subset=["estimate"])
    assert ((ok["lower"] < ok["estimate"]) & (ok["estimate"] < ok["upper"])).all()
    # bias and RMSE by definition
    sub = ok[(ok["n_groups"] == 12) & (ok["method"] == "ols")]
    assert s.loc[(12, 4, "ols"), "bias"] == pytest.approx((sub["estimate"] - 0.3).mean())
    assert s.loc[(12, 4, "ols"), "rmse"] == pytest.approx(
        np.sqrt(((sub["estimate"] - 0.3) ** 2).mean())
    )
    assert study.table("coverage").shape == (2, 6)


def test_seeded_and_methods_share_the_data(study):
    # the same seed gives the same data, whichever methods are fitted to them
    same = ml.simulate_study((5, 12), (4,), nsim=6, methods=("ols",), seed=3, progress=False)
    np.testing.assert_array_equal(
        same.estimates["estimate"].to_numpy(),
        study.estimates.query("method == 'ols'")["estimate"].to_numpy(),
    )


def test_level1_target_with_confounding_shows_re_bias():
    s = ml.simulate_study((40,), (10,), nsim=8, methods=("fe", "re"), target="x",
                          x_u_corr=0.8, x_icc=0.5, icc=0.4, seed=1, progress=False)
    bias = s.summary["bias"].xs(40, level="n_groups").droplevel(0)
    assert abs(bias["fe"]) < abs(bias["re"])


def test_bad_arguments():
    with pytest.raises(ml.ModelError, match="unknown methods"):
        ml.simulate_study(methods=("gee",), progress=False)
    with pytest.raises(ml.ModelError, match="target"):
        ml.simulate_study(target="w", progress=False)


def test_progress_bar_text_and_off_switch():
    out = io.StringIO()
    with Progress(4, "fits", stream=out) as bar:
        for _ in range(4):
            bar.update()
    text = out.getvalue()
    assert "fits [" in text and "4/4" in text and text.endswith("\n")
    assert "\r" not in text  # not a terminal: one line per tenth, no carriage returns
    quiet = io.StringIO()
    assert list(track(range(3), 3, "x", enabled=False)) == [0, 1, 2]
    with Progress(3, enabled=False, stream=quiet) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""


def test_plots_render(hsb, study):
    pytest.importorskip("matplotlib")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        m = ml.fit("mAch ~ ses + (1 + ses | school)", hsb)
    for fig in (ml.plot.shrinkage(m), ml.plot.caterpillar(m), study.plot("coverage")):
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.getvalue()[:4] == b"\x89PNG"


def test_conditional_sd_matches_lme4_condvar(hsb):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        m = ml.fit("mAch ~ ses + sector + meanses + (1 + ses | school)", hsb)
    sd = conditional_sd(m)["school"]
    # sqrt(attr(ranef(m, condVar = TRUE)$school, "postVar")[k, k, 1:3]), lme4 1.1-31
    np.testing.assert_allclose(sd.iloc[:3, 0], [1.12046198, 0.97445060, 0.94712112], atol=1e-4)
    np.testing.assert_allclose(sd.iloc[:3, 1], [0.64557225, 0.61262268, 0.60738811], atol=1e-4)
