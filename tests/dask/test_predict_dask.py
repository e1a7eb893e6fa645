"""Fitted values, residuals, predictions and the summary of fits on Dask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.dask import predict_dask
from multilevel.errors import DataError, NotSupportedError
from tests.dask.conftest import dd, quiet_fit

SLEEP = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep_data() -> pd.DataFrame:
    data = ml.datasets.load("sleepstudy")
    data.loc[[4, 50], "Reaction"] = np.nan
    return data


@pytest.fixture(scope="module")
def fits(client, sleep_data):
    ddf = dd.from_pandas(sleep_data, npartitions=4)
    return quiet_fit(SLEEP, ddf, weights="w"), quiet_fit(SLEEP, sleep_data, weights="w")


def test_fitted_and_residuals_are_dask_series(fits) -> None:
    res, mem = fits
    for name in ("fitted", "residuals"):
        lazy = getattr(res, name)
        assert type(lazy).__module__.startswith("dask")
        got, want = lazy.compute(), getattr(mem, name)
        assert got.name == want.name
        assert list(got.index) == list(want.index)
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6, atol=1e-4)


def test_summary_residual_quantiles_exact(fits) -> None:
    res, mem = fits
    r = mem.residuals.to_numpy() * np.sqrt(mem.design.weights) / mem.sigma
    want = np.quantile(r, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(res.residual_quartiles(), want, rtol=1e-5, atol=1e-6)
    text = res.summary()
    assert "Scaled residuals:" in text and "Number of obs: 178" in text
    assert "(2 observations deleted due to missingness)" in text


@pytest.mark.parametrize("re_form", [None, "~0", "~(1 + Days | Subject)"])
def test_predict_new_dask_data(fits, sleep_data, re_form) -> None:
    _, mem = fits
    new = sleep_data.copy()
    new["Subject"] = new["Subject"].astype(str)
    new.loc[new.index[:10], "Subject"] = "999"
    new.loc[new.index[12], "Days"] = np.nan
    got = predict_dask(mem, dd.from_pandas(new, npartitions=3), re_form=re_form,
                       allow_new_levels=True)
    assert type(got).__module__.startswith("dask")
    want = mem.predict(new, re_form=re_form, allow_new_levels=True)
    got = got.compute()
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12, equal_nan=True)


def test_predict_from_dask_fit(fits, sleep_data) -> None:
    res, mem = fits
    ddf = dd.from_pandas(sleep_data, npartitions=2)
    got = res.predict(ddf).compute()
    np.testing.assert_allclose(got.to_numpy(), mem.predict(sleep_data).to_numpy(),
                               rtol=1e-6, equal_nan=True)
    own = res.predict(re_form="~0").compute()
    np.testing.assert_allclose(own.to_numpy(), mem.predict(re_form="~0").to_numpy(), rtol=1e-6)
    pandas_pred = res.predict(sleep_data.head(8))
    assert isinstance(pandas_pred, pd.Series)
    np.testing.assert_allclose(pandas_pred.to_numpy(), mem.predict(sleep_data.head(8)),
                               rtol=1e-6)


def test_predict_new_level_refused(fits, sleep_data) -> None:
    res, _ = fits
    new = sleep_data.head(20).copy()
    new["Subject"] = "999"
    with pytest.raises(DataError, match="allow_new_levels"):
        res.predict(dd.from_pandas(new, npartitions=2)).compute()
    with pytest.raises(NotSupportedError, match="intervals"):
        res.predict(dd.from_pandas(new, npartitions=2), interval="prediction")


def test_inference_from_the_system(fits) -> None:
    res, mem = fits
    got, want = res.coef_table(), mem.coef_table()
    np.testing.assert_allclose(got["df"], want["df"], rtol=1e-4)
    np.testing.assert_allclose(res.confint("wald").to_numpy(), mem.confint("wald").to_numpy(),
                               rtol=1e-5, equal_nan=True)
    for method in ("simulate", "r2", "icc", "anova"):
        with pytest.raises(NotSupportedError):
            getattr(res, method)()
