"""The compiled kernels are found in numba's disk cache by a new process, not compiled again.

numba caches only module-level functions; a kernel defined inside a function (or calling one
that is) is compiled anew in every process, seconds before the first fit.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

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
from multilevel.inference.refit import refit
for name, f in [("sleepstudy", "Reaction ~ Days + (Days|Subject)"),
                ("Penicillin", "diameter ~ 1 + (1|plate) + (1|sample)")]:
    m = ml.fit(f, ml.datasets.load(name))
    refit(m, y=m.fitted.to_numpy() + 1e-3 * np.arange(m.fitted.size) % 1.0)  # local Newton
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


def _kernel_files():
    import multilevel

    root = Path(multilevel.__file__).parent
    return {p: p.read_text() for p in root.rglob("*.py") if "njit(" in p.read_text()}


def test_kernels_compiled_in_from_other_files_are_named_by_hash():
    """numba's cache of a file does not notice edits to the files of the kernels it compiles
    in. Every kernel file that imports kernels from another names that file's hash in its
    COMPILED_IN, so an edit there must edit it too (which invalidates its cache)."""
    import importlib
    import re

    files = _kernel_files()
    by_module = {}
    for path in files:
        parts = path.with_suffix("").parts
        by_module[".".join(parts[parts.index("multilevel"):])] = path
    checked = 0
    for name, path in by_module.items():
        imported = re.findall(r"^from (multilevel\.[\w.]+) import", files[path], re.MULTILINE)
        deps = {by_module[m] for m in imported if m in by_module}
        declared = getattr(importlib.import_module(name), "COMPILED_IN", {})
        want = {d.name: hashlib.sha256(d.read_bytes()).hexdigest()[:16] for d in deps}
        assert declared == want, (
            f"{path.name} compiles in kernels of {sorted(want)}: set its COMPILED_IN to {want}"
        )
        checked += len(want)
    assert checked >= 3  # family_kernels twice, vector_math once
