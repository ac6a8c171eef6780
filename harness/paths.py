"""Where the checkout is: the one place that turns this package's location into the repository's root.

payharness runs from a checkout: its commands start pytest on ``suites/``, read ``pyproject.toml`` and
write ``artefacts/`` beside the packages. Installed without one (a plain wheel in site-packages) there is
nothing to run, and ``repo_root`` says so instead of pointing every path into site-packages.

Usage::

    from harness.paths import repo_root
    subprocess.call([...], cwd=repo_root())
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

# What a checkout has beside the packages and an installed wheel does not.
MARKERS = ("pyproject.toml", "conftest.py", "suites")
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


class NotACheckout(RuntimeError):
    """The harness package is not inside a checkout of its repository."""


@cache
def repo_root(start: Path = PACKAGE_PARENT) -> Path:
    """The checkout that holds this package, or ``NotACheckout`` naming what is missing and the remedy."""
    missing = [name for name in MARKERS if not (start / name).exists()]
    if missing:
        raise NotACheckout(
            f"payharness runs from a checkout of its repository, but the package is installed at {start} "
            f"without one (no {', '.join(missing)} there; a plain wheel, for instance). Use a clone: "
            "`./payharness …`, or `pip install -e /path/to/clone`."
        )
    return start
