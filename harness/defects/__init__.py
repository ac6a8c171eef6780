"""Seeded defects: named patches that put the seed report's findings back into the reference core.

A defect is applied from outside the core's normal code paths — never as an if-branch inside the core:

* ``kind="code"``: a patch function that replaces a core function (everywhere it was imported) or
  alters the app after ``create_app``; applied by ``harness.defects.app:app_from_env`` in every uvicorn
  worker, when ``PAYHARNESS_DEFECTS`` names it;
* ``kind="schema"``: SQL run after the migrations, on the template database and on the core's database;
* ``kind="config"``: environment the core is started with (with a code patch where the seed's code
  reacted to that configuration).

``payharness defects`` starts the stack once per defect and records which tests fail: the detection
matrix. ``payharness core --defect NAME`` / ``PAYHARNESS_DEFECTS=a,b`` start a core with defects on.

Usage::

    from harness.defects import REGISTRY, active_defects
    for defect in active_defects():      # from PAYHARNESS_DEFECTS
        ...
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ENV = "PAYHARNESS_DEFECTS"


@dataclass(frozen=True)
class Defect:
    name: str
    title: str
    finding: str  # where the seed report (or our catalog) names it
    severity: str  # critical | high | medium | low
    kind: str  # code | schema | config
    patch: Callable[[], None] | None = None  # code patch, before the app is built
    app_patch: Callable[[Any], None] | None = None  # alters the built FastAPI app
    schema_sql: tuple[str, ...] = ()
    core_env: dict[str, str] = field(default_factory=dict)
    load: bool = False  # also caught by the load run's consistency audit
    quick: tuple[str, ...] = ()  # the suites `payharness defects --quick` runs for it


def _registry() -> dict[str, Defect]:
    from harness.defects.catalog import DEFECTS

    return {d.name: d for d in DEFECTS}


class _Lazy(dict[str, Defect]):
    def __missing__(self, key: str) -> Defect:
        self.update(_registry())
        if key not in self:
            raise KeyError(f"no defect named {key!r}; known: {', '.join(sorted(self))}")
        return self[key]

    def all(self) -> list[Defect]:
        self.update(_registry())
        return list(self.values())


REGISTRY = _Lazy()


def names_from_env() -> list[str]:
    return [n.strip() for n in os.environ.get(ENV, "").split(",") if n.strip()]


def active_defects() -> list[Defect]:
    return [REGISTRY[name] for name in names_from_env()]
