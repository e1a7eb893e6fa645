"""Interpolating the inverse of a profile trace, as R's ``interpSpline`` + ``backSpline``.

The forward spline is the natural cubic spline interpolating ζ against the parameter. Its
inverse (the parameter against ζ) is piecewise cubic between the knots, matching the values
and the reciprocal slopes of the forward spline at both ends of inner intervals; the first and
last intervals are quadratic (matching the slope at their inner end only) or, if that would
bend the wrong way, linear. A trace whose ζ is not increasing falls back to linear
interpolation (as lme4 does when the spline fails). Outside the range of ζ the inverse is
undefined (NaN).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import CubicSpline

FloatArray = NDArray[np.float64]


def _linear(z: FloatArray, x: FloatArray, at: FloatArray) -> FloatArray:
    """Linear interpolation of x against z, ties in z averaged (R's ``approxfun``)."""
    zs, inverse = np.unique(z, return_inverse=True)
    xs = np.bincount(inverse, weights=x) / np.bincount(inverse)
    out = np.interp(at, zs, xs)
    return np.where((at < zs[0]) | (at > zs[-1]), np.nan, out)


def back_spline_predict(values: FloatArray, zeta: FloatArray, at: FloatArray) -> FloatArray:
    """The parameter value at each ζ in ``at``, from a trace of (value, ζ) points.

    Parameters
    ----------
    values
        Parameter values of the trace.
    zeta
        ζ at those values.
    at
        ζ values to invert.

    Returns
    -------
    ndarray
        Parameter values (NaN outside the trace's range of ζ).
    """
    order = np.argsort(values)
    x = np.asarray(values, dtype=float)[order]
    z = np.asarray(zeta, dtype=float)[order]
    at = np.asarray(at, dtype=float)
    keep = np.r_[True, np.diff(x) > 0]
    x, z = x[keep], z[keep]
    if x.size < 2:
        return np.full(at.shape, np.nan)
    if x.size == 2 or not np.all(np.diff(z) > 0):
        return _linear(z, x, at)
    slope = CubicSpline(x, z, bc_type="natural")(x, 1)
    if np.any(slope <= 0):
        return _linear(z, x, at)
    nk = x.size
    adiff = np.diff(z)
    kdiff = np.diff(x)
    coef = np.zeros((nk - 1, 4))
    coef[:, 0] = x[:-1]
    coef[:, 1] = 1.0 / slope[:-1]
    inv_slope = 1.0 / slope
    for i in range(nk - 1):
        a = np.array([[adiff[i] ** 2, adiff[i] ** 3], [2 * adiff[i], 3 * adiff[i] ** 2]])
        b = np.array([kdiff[i] - adiff[i] * coef[i, 1], inv_slope[i + 1] - coef[i, 1]])
        coef[i, 2:] = np.linalg.solve(a, b)
    last = nk - 2
    if nk > 2:
        coef[0, 3] = coef[last, 3] = 0.0
        a = np.array([[adiff[0], adiff[0] ** 2], [1.0, 2 * adiff[0]]])
        coef[0, 1:3] = np.linalg.solve(a, np.array([kdiff[0], inv_slope[1]]))
        coef[last, 2] = (kdiff[last] - adiff[last] * coef[last, 1]) / adiff[last] ** 2
    if coef[0, 2] > 0:
        coef[0, 2] = 0.0
        coef[0, 1] = kdiff[0] / adiff[0]
    if coef[last, 2] < 0:
        coef[last, 2] = 0.0
        coef[last, 1] = kdiff[last] / adiff[last]
    out = np.full(at.shape, np.nan)
    for n, v in enumerate(at.ravel()):
        if not z[0] <= v <= z[-1]:
            continue
        i = min(max(int(np.searchsorted(z, v, side="left")) - 1, 0), nk - 2)
        d = v - z[i]
        c = coef[i]
        out.flat[n] = c[0] + d * (c[1] + d * (c[2] + d * c[3]))
    return out
