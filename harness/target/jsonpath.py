"""Where a value sits in a JSON answer: ``$.a.b``, ``$.items[0].id`` — member and index steps only.

Why not jsonpath-ng: a profile names one value per answer (an id, a reference, a status); filters,
wildcards and slices would only let a profile say something ambiguous, and a path is checked when the
profile loads, so a typo is a profile error rather than a "nothing found" half-way through a run.

Usage: ``read(parse("$.data.id"), {"data": {"id": 7}}) == 7``
"""

from __future__ import annotations

import re
from typing import Any

PATH = re.compile(r"^\$((?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*)$")
STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")
Step = str | int


class PathError(ValueError):
    """A path that is not ``$`` followed by ``.name`` and ``[index]`` steps, or that finds nothing."""


def parse(path: str) -> tuple[Step, ...]:
    match = PATH.match(path)
    if match is None:
        raise PathError(f"not a JSON path of the form $.a.b[0]: {path!r}")
    return tuple(name if name else int(index) for name, index in STEP.findall(match.group(1)))


def read(steps: tuple[Step, ...], document: Any) -> Any:
    """The value at ``steps``; PathError naming the first step that finds nothing."""
    value = document
    for i, step in enumerate(steps):
        found = (isinstance(step, int) and isinstance(value, list) and step < len(value)) or (
            isinstance(step, str) and isinstance(value, dict) and step in value)
        if found:
            value = value[step]
        else:
            where = "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps[: i + 1])
            raise PathError(f"{where}: not in the answer")
    return value
