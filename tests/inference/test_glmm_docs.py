"""The GLMM inference guide (docs/glmm_inference.md) runs and says what lme4 says."""

from __future__ import annotations

import numpy as np

from tests.conftest import EXTRA_DIR
from tests.workflow.test_docs import run_guide


def test_glmm_guide_runs(tmp_path):
    import json

    ns = run_guide("glmm_inference.md", tmp_path)
    ref = json.loads((EXTRA_DIR / "inference" / "glmm_cbpp.json").read_text())
    np.testing.assert_allclose(ns["ci"].iloc[0], [ref["profile"]["lower"][0],
                                                  ref["profile"]["upper"][0]], atol=5e-3)
    assert abs(ns["r"].marginal - ref["r2"]["marginal"]) < 1e-4
    assert ns["boot"].replicates.shape == (20, 5)
    assert list(ns["pred"].columns) == ["fit", "lower", "upper"]
