"""multilevel: multilevel (mixed-effects) models in Python, with lme4's numbers.

The public surface: :func:`fit`, :func:`objective_function`, :mod:`datasets` and the errors.
"""

from multilevel import datasets, inference, report, workflow
from multilevel.allfit import allfit
from multilevel.errors import (
    ConvergenceWarning,
    DataError,
    FormulaError,
    ModelError,
    MultilevelError,
    MultilevelWarning,
    NotSupportedError,
    SingularFitWarning,
)
from multilevel.fit import fit, objective_function
from multilevel.inference import *  # noqa: F403  (public functions of inference/)
from multilevel.mrp import poststratify
from multilevel.optimize import OptimizerControl
from multilevel.report import *  # noqa: F403
from multilevel.result import LMMResult
from multilevel.workflow import *  # noqa: F403  (public functions of workflow/)

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "FormulaError",
    "LMMResult",
    "ModelError",
    "MultilevelError",
    "MultilevelWarning",
    "NotSupportedError",
    "OptimizerControl",
    "SingularFitWarning",
    "allfit",
    "datasets",
    "fit",
    "objective_function",
    "poststratify",
]

__all__ += inference.__all__ + workflow.__all__ + report.__all__
