"""uvicorn factory for a core with seeded defects: patches first, then the core's own factory.

Usage: ``PAYHARNESS_DEFECTS=no_row_lock uvicorn harness.defects.app:app_from_env --factory --workers 2``
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

from fastapi import FastAPI

from harness.defects import active_defects

log = logging.getLogger("payharness.defects")


def _import_core() -> None:
    # Patches rebind functions wherever they were imported, so every core module must be loaded first.
    import core

    for info in pkgutil.walk_packages(core.__path__, "core."):
        if ".tests" not in info.name and not info.name.startswith("core.migrations"):
            importlib.import_module(info.name)


def app_from_env() -> FastAPI:
    from core.app import app_from_env as core_factory

    defects = active_defects()
    _import_core()
    for defect in defects:
        if defect.patch:
            defect.patch()
    app = core_factory()
    for defect in defects:
        if defect.app_patch:
            defect.app_patch(app)
    log.warning("core started WITH SEEDED DEFECTS: %s", ", ".join(d.name for d in defects) or "none")
    return app
