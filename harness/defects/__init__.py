"""Seeded defects: named patches that put the seed report's findings back into the reference core.

A defect is applied from outside the core's normal code paths — never as an if-branch inside the core:

* ``kind="code"``: a patch function that replaces a core function (everywhere it was imported) or
  alters the app after ``create_app``; applied by ``harness.defects.app:app_from_env`` in every uvicorn
  worker;
* ``kind="schema"``: SQL run after the migrations, on the template database and on the core's database;
* ``kind="config"``: environment the core is started with (with a code patch where the seed's code
  reacted to that configuration).

Which defects a run seeds is a value, ``Seeding``, handed to ``Stack.start`` and ``DatabaseFactory``;
only the core's uvicorn factory, a separate process, reads it back from its environment (``Seeding.env``).
Each part that applies a defect writes what it applied into ``Seeding.record`` (a folder of the run's
artefacts), so the detection matrix can tell a caught defect from a run in which it never took effect.

``payharness defects`` runs the detection matrix; ``payharness up --defect NAME`` starts a core with
defects on.

Usage::

    seeding = Seeding.named(["no_row_lock"], record=Path("artefacts/defects/no_row_lock.applied"))
    with Stack.start(seeding=seeding) as stack:
        ...
    applied_parts(seeding.record)        # {"no_row_lock": {"code"}} once a core worker started
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV = "PAYHARNESS_DEFECTS"  # read by the uvicorn factory only
RECORD_ENV = "PAYHARNESS_DEFECTS_RECORD"  # likewise: where the factory writes what it applied
PARTS = ("code", "app", "config", "schema")


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

    @property
    def parts(self) -> frozenset[str]:
        """What must be confirmed applied before a run with this defect says anything about it."""
        present = {"code": self.patch, "app": self.app_patch, "config": self.core_env, "schema": self.schema_sql}
        return frozenset(part for part, value in present.items() if value)

    @property
    def core_parts(self) -> frozenset[str]:
        """The parts the core's factory applies (the schema is the harness's)."""
        return self.parts - {"schema"}


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


@dataclass(frozen=True)
class Seeding:
    """The defects one run seeds, and the folder where whatever applies them records it (``None``: no record)."""

    defects: tuple[Defect, ...] = ()
    record: Path | None = None

    @classmethod
    def named(cls, names: Iterable[str], record: Path | None = None) -> Seeding:
        """Look the names up (``KeyError`` naming the known ones for a typo); blanks and repeats are dropped."""
        unique = dict.fromkeys(n.strip() for n in names if n.strip())
        return cls(tuple(REGISTRY[n] for n in unique), record)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.defects)

    @property
    def for_core(self) -> bool:
        """Whether the core must be served by the defect factory instead of its own."""
        return any(d.core_parts for d in self.defects)

    def env(self) -> dict[str, str]:
        """The core process's environment for these defects: the names, the record folder, their settings."""
        # Both always set, so nothing inherited from the caller's environment can stand in for this value.
        env = {ENV: ",".join(self.names), RECORD_ENV: str(self.record or "")}
        for defect in self.defects:
            env.update(defect.core_env)
        return env

    def write_patch_error(self, defect: str, error: str) -> None:
        """Record that ``defect``'s patch raised its own programming error (``patching.patch_bug``)."""
        if self.record is None:
            return
        self.record.mkdir(parents=True, exist_ok=True)
        target = self.record / f"{defect}-{os.getpid()}-{os.urandom(3).hex()}.patch-error"
        partial = target.with_suffix(".part")
        partial.write_text(json.dumps({"defect": defect, "pid": os.getpid(), "error": error}))
        partial.replace(target)

    def write_record(self, by: str, applied: dict[str, Iterable[str]]) -> None:
        """Record ``{defect: parts}`` applied by one process (``by``: core, schema); one file per writer."""
        if self.record is None or not applied:
            return
        self.record.mkdir(parents=True, exist_ok=True)
        body = {"by": by, "pid": os.getpid(), "applied": {name: sorted(parts) for name, parts in applied.items()}}
        target = self.record / f"{by}-{os.getpid()}-{os.urandom(3).hex()}.json"
        # Written whole, then renamed: a reader never sees half a record.
        partial = target.with_suffix(".part")
        partial.write_text(json.dumps(body))
        partial.replace(target)


def patch_errors(record: Path) -> dict[str, str]:
    """``{defect: error}``: defects whose patch's own code raised (``Seeding.write_patch_error``)."""
    found: dict[str, str] = {}
    if not record.is_dir():
        return found
    for path in sorted(record.glob("*.patch-error")):
        try:
            body = json.loads(path.read_text())
            found.setdefault(str(body["defect"]), str(body["error"]))
        except (OSError, ValueError, KeyError, TypeError):
            found.setdefault(path.stem, "an unreadable patch-error record")
    return found


def applied_parts(record: Path) -> dict[str, set[str]]:
    """What every writer of ``record`` applied, merged: ``{defect: {part, …}}``; unreadable files are ignored."""
    merged: dict[str, set[str]] = {}
    if not record.is_dir():
        return merged
    for path in sorted(record.glob("*.json")):
        try:
            applied = json.loads(path.read_text())["applied"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for name, parts in applied.items():
            merged.setdefault(str(name), set()).update(str(p) for p in parts)
    # A code patch that raised its own error did not put the defect back: the core failed for another reason.
    for name in patch_errors(record):
        merged.get(name, set()).discard("code")
    return merged
