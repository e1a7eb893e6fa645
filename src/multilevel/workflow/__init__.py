"""The applied multilevel workflow: ICCs, variance decomposition, pooling comparisons, panel
estimators and simulation studies.

The functions here take data or fitted results; the mixin in :mod:`~multilevel.workflow.methods`
exposes the ones that act on a fitted model as methods of the result objects.
"""

__all__: list[str] = []
