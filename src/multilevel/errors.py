"""Errors and warnings raised by ``multilevel``.

Every error the library raises on purpose derives from :class:`MultilevelError`, so callers can
catch one class. Each subclass names a kind of problem; the message names the problem itself and,
where there is one, the fix.
"""

from __future__ import annotations


class MultilevelError(Exception):
    """Root of every error raised by ``multilevel``."""


class FormulaError(MultilevelError, ValueError):
    """A formula that cannot be parsed or understood.

    Parameters
    ----------
    message
        What is wrong.
    formula
        The formula text, if known.
    position
        Zero-based character offset of the offending token, if known. The message then shows
        the formula with a caret under that position.
    """

    def __init__(self, message: str, formula: str | None = None, position: int | None = None):
        self.formula = formula
        self.position = position
        text = message
        if formula is not None:
            text += f"\n    {formula}"
            if position is not None:
                text += "\n    " + " " * max(0, min(position, len(formula))) + "^"
        super().__init__(text)


class DataError(MultilevelError, ValueError):
    """Data that cannot be used as given (missing column, NA, wrong type, too few levels)."""


class ModelError(MultilevelError, ValueError):
    """A model that cannot be fitted as specified (unidentifiable terms, bad options)."""


class ConvergenceError(MultilevelError, RuntimeError):
    """The optimizer failed in a way no result can be returned for."""


class NotSupportedError(MultilevelError, NotImplementedError):
    """A feature that is recognised but not (yet) supported, with what to use instead."""


class MultilevelWarning(UserWarning):
    """Root of every warning emitted by ``multilevel``."""


class SingularFitWarning(MultilevelWarning):
    """Some variance component is estimated at (or next to) zero, as lme4's ``isSingular``."""


class ConvergenceWarning(MultilevelWarning):
    """The optimizer stopped without meeting its convergence criteria."""


class DataWarning(MultilevelWarning):
    """Data were changed on the way in (rows dropped, columns dropped, types converted)."""


__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "FormulaError",
    "ModelError",
    "MultilevelError",
    "MultilevelWarning",
    "NotSupportedError",
    "SingularFitWarning",
]
