"""Reporting: side-by-side tables, broom.mixed-style tidiers and the JSON schema of results.

- :func:`table`: several results side by side as text, Markdown, HTML, LaTeX or a DataFrame.
- :func:`tidy`, :func:`glance`, :func:`augment`: broom.mixed's verbs and column names.
- :func:`from_json`: read a result written by ``to_json()`` (or the CLI's ``--json``) back as
  a :class:`~multilevel.report.stored.StoredResult` that tables and plots accept.

Every function reads results by duck typing (:mod:`multilevel.report._access`), so LMM, GLMM,
Bayesian, workflow (OLS, panel, two-stage) and stored results all work. The schema is
documented in :mod:`multilevel.report.schema` and ``docs/reporting.md``.
"""

from multilevel.report.augment import augment
from multilevel.report.glance import glance
from multilevel.report.schema import from_json
from multilevel.report.table import table
from multilevel.report.tidy import tidy

__all__ = ["augment", "from_json", "glance", "table", "tidy"]
