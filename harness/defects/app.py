"""uvicorn factory for a core with seeded defects: patches first, then the core's own factory.

The one place that reads the defects from the environment: uvicorn builds the app in each worker process,
and a factory takes no arguments. ``Stack.start_core`` sets the variables from a ``Seeding`` value.

Usage: ``PAYHARNESS_DEFECTS=no_row_lock uvicorn harness.defects.app:app_from_env --factory --workers 2``
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from collections.abc import Callable, Mapping
from pathlib import Path

from fastapi import FastAPI

from harness.defects import ENV, RECORD_ENV, Seeding, patching

log = logging.getLogger("payharness.defects")


def seeding_from(env: Mapping[str, str]) -> Seeding:
    record = env.get(RECORD_ENV)
    return Seeding.named(env.get(ENV, "").split(","), Path(record) if record else None)


def _import_core() -> None:
    # Patches rebind functions wherever they were imported, so every core module must be loaded first.
    import core

    for info in pkgutil.walk_packages(core.__path__, "core."):
        if ".tests" not in info.name and not info.name.startswith("core.migrations"):
            importlib.import_module(info.name)


def build(seeding: Seeding, env: Mapping[str, str]) -> FastAPI:
    """Apply ``seeding``'s code, app and config parts around the core's factory; record what took effect."""
    from core.app import app_from_env as core_factory

    applied: dict[str, set[str]] = {d.name: set() for d in seeding.defects}
    _import_core()
    reported: set[str] = set()

    def reporter(name: str) -> Callable[[str], None]:
        def report(error: str) -> None:
            if name not in reported:  # once per defect and process: the first error says it
                reported.add(name)
                log.error("seeded defect %s: its patch raised %s", name, error)
                seeding.write_patch_error(name, error)
        return report

    for defect in seeding.defects:
        if defect.patch:
            with patching.reporting(reporter(defect.name)):
                defect.patch()
            applied[defect.name].add("code")
    app = core_factory()
    for defect in seeding.defects:
        if defect.app_patch:
            defect.app_patch(app)
            applied[defect.name].add("app")
        # A configuration defect took effect only if this process was started with its settings.
        if defect.core_env and all(env.get(k) == v for k, v in defect.core_env.items()):
            applied[defect.name].add("config")
    seeding.write_record("core", {name: parts for name, parts in applied.items() if parts})
    log.warning("core started WITH SEEDED DEFECTS: %s", ", ".join(seeding.names) or "none")
    return app


def app_from_env() -> FastAPI:
    return build(seeding_from(os.environ), os.environ)
