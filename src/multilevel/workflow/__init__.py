"""The applied multilevel workflow: ICCs, variance decomposition, pooling comparisons, panel
estimators and simulation studies.

The functions here take data or fitted results; the mixin in :mod:`~multilevel.workflow.methods`
exposes the ones that act on a fitted model as methods of the result objects.

Modules, one concept each: :mod:`~multilevel.workflow.icc` (ICC(1) of the data, ICCs of a
fitted model), :mod:`~multilevel.workflow.decomposition` (variance components by level, PVE),
:mod:`~multilevel.workflow.ols` (OLS with iid, HC1, CR1 and CR2 SEs),
:mod:`~multilevel.workflow.panel` (pooled, within, between and random-effects GLS estimators
as plm's; Hausman test), :mod:`~multilevel.workflow.pooling` (no pooling, shrinkage),
:mod:`~multilevel.workflow.twostage` (the two-stage estimator),
:mod:`~multilevel.workflow.centering` (within/between and Mundlak splits),
:mod:`~multilevel.workflow.compare` (the pooling comparison table),
:mod:`~multilevel.workflow.simulation` (how many groups: simulation studies),
:mod:`~multilevel.workflow.plots` (``ml.plot``: shrinkage, caterpillar, simulation plots) and
:mod:`~multilevel.workflow.report` (the HTML report of ``multilevel report``). The guide is
``docs/workflow.md``.
"""

from multilevel.workflow import plots as plot
from multilevel.workflow.centering import within_between
from multilevel.workflow.compare import compare_pooling
from multilevel.workflow.decomposition import pve, variance_decomposition
from multilevel.workflow.icc import ICCAnova, icc_anova, model_icc
from multilevel.workflow.ols import OLSResult, ols
from multilevel.workflow.panel import HausmanTest, PanelResult, hausman, panel
from multilevel.workflow.pooling import NoPoolingResult, no_pooling, shrinkage
from multilevel.workflow.simulation import SimulationStudy, simulate_study
from multilevel.workflow.twostage import TwoStageResult, two_stage

__all__: list[str] = [
    "HausmanTest",
    "ICCAnova",
    "NoPoolingResult",
    "OLSResult",
    "PanelResult",
    "SimulationStudy",
    "TwoStageResult",
    "compare_pooling",
    "hausman",
    "icc_anova",
    "model_icc",
    "no_pooling",
    "ols",
    "panel",
    "plot",
    "pve",
    "shrinkage",
    "simulate_study",
    "two_stage",
    "variance_decomposition",
    "within_between",
]
