"""``python -m multilevel``: the command line (see :mod:`multilevel.cli`)."""

import sys

from multilevel.cli import main

sys.exit(main())
