"""Linear mixed models: the PLS system, its blocked Cholesky factor and the profiled objective."""

from multilevel.lmm.factor import BlockedFactor, update_factor
from multilevel.lmm.objective import Estimates, criterion, estimates, make_objective, objective
from multilevel.lmm.system import PLSSystem, TermBlock, build_system
from multilevel.lmm.theta import ThetaLayout

__all__ = [
    "BlockedFactor",
    "Estimates",
    "PLSSystem",
    "TermBlock",
    "ThetaLayout",
    "build_system",
    "criterion",
    "estimates",
    "make_objective",
    "objective",
    "update_factor",
]
