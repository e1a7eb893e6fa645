"""``scipy.stats``, imported on first use.

Importing ``scipy.stats`` takes about 0.6 s, a third of ``import multilevel``, and a fit needs
none of it: only p-values, intervals and the workflow's tests do. Modules take ``stats`` from
here; the real module is imported when one of its attributes is first read. Type checkers see
``scipy.stats`` itself.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class _LazyModule:
    """A stand-in that imports its module on the first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)


if TYPE_CHECKING:
    from scipy import stats as stats
else:
    stats = _LazyModule("scipy.stats")

__all__ = ["stats"]
