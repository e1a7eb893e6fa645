"""scipy.stats is imported on first use, not with the package."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import multilevel as ml
assert "scipy.stats" not in sys.modules, "imported with the package"
m = ml.fit("Reaction ~ Days + (Days|Subject)", ml.datasets.load("sleepstudy"))
from multilevel.lazy import stats
import scipy.stats
assert stats.norm is scipy.stats.norm
print(round(float(stats.norm.ppf(0.975)), 6), m.coef_table().shape[0])
"""


def test_scipy_stats_waits_for_first_use():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.split() == ["1.959964", "2"]


def test_stand_in_forwards_attributes():
    import scipy.stats

    from multilevel.lazy import stats

    assert stats.t.sf(2.0, 10) == scipy.stats.t.sf(2.0, 10)
    assert not hasattr(stats, "__wrapped__")
