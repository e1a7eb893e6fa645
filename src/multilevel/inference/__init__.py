"""Inference on fitted models: tests with proper df, intervals, predictions, R².

The functions here take a fitted result; :class:`~multilevel.inference.methods.InferenceMethods`
exposes them as methods of the result objects.
"""

__all__: list[str] = []
