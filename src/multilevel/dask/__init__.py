"""Fits on Dask DataFrames (extra ``[dask]``): out of core, and on a cluster.

``ml.fit(formula, ddf)`` with a ``dask.dataframe.DataFrame`` fits a linear mixed model in two
passes over the data: the levels of every factor (:mod:`~multilevel.dask.levels`), then each
partition's sufficient statistics in the engine's block layout, summed by a tree reduction
(:mod:`~multilevel.dask.stats`). θ is optimized on the client with the in-memory code
(:mod:`~multilevel.dask.fit`), so the result is an :class:`~multilevel.result.LMMResult` equal to
the in-memory fit. Predictions on Dask data are Dask series (:mod:`~multilevel.dask.predict`).
The graphs run on the active scheduler: threads by default, or a ``distributed.Client``.
"""

from multilevel.dask.fit import fit_dask
from multilevel.dask.predict import predict_dask
from multilevel.dask.result import DaskDesign, DaskLMMResult

__all__ = ["DaskDesign", "DaskLMMResult", "fit_dask", "predict_dask"]
