"""The compiled kernels are found in numba's disk cache by a new process, not compiled again.

numba caches only module-level functions; a kernel defined inside a function (or calling one
that is) is compiled anew in every process, seconds before the first fit.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

SCRIPT = """
import warnings
import numpy as np
import multilevel as ml
from multilevel.fit import pls_system
from multilevel.lmm.objective import objective
warnings.simplefilter("ignore")
ml.fit("diameter ~ 1 + (1|plate) + (1|sample)", ml.datasets.load("Penicillin"))
ml.fit("Reaction ~ Days + (Days|Subject)", ml.datasets.load("sleepstudy"))
ml.fit("cbind(incidence, size - incidence) ~ period + (1|herd)", ml.datasets.load("cbpp"),
       family="binomial", nagq=5)
ml.fit("r2 ~ Anger + Gender + (1|id) + (1|item)", ml.datasets.load("VerbAgg"),
       family="binomial", nagq=0)
ml.fit("r2 ~ Anger + (1|id) + (1|item)", ml.datasets.load("VerbAgg"), family="binomial")
r = ml.fit("Reaction ~ Days + (Days|Subject) + (1|Days)", ml.datasets.load("sleepstudy"))
objective(r.system, r.theta, True)  # the general blocked path and its kernels
"""


def _run(cache: str) -> str:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, NUMBA_DEBUG_CACHE="1")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, check=True, timeout=900)
    return done.stdout + done.stderr


def test_second_process_compiles_nothing(tmp_path):
    first = _run(str(tmp_path))
    assert "data saved" in first  # the first process compiled and saved the kernels
    second = _run(str(tmp_path))
    saved = [line for line in second.splitlines() if "data saved" in line]
    assert not saved, "compiled again in a new process:\n" + "\n".join(saved[:10])
