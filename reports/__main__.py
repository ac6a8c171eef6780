"""``python -m reports ARTEFACTS``: the same as ``payharness report ARTEFACTS``."""

import sys

from reports.cli import main

sys.exit(main())
