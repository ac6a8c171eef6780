"""Every code patch of a seeded defect is called exactly as the core function it replaces (no stack needed).

A refactor of the core that renames a parameter, adds one, or makes a function async must break this
test, not leave a patch that is never called (or fails at its first call) and a matrix row that says
nothing about the defect it names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.defects import catalog
from harness.defects.catalog import DEFECTS
from harness.defects.patching import StalePatch, check_fits, replace_everywhere, replace_method, shape

CODE_PATCHED = [d for d in DEFECTS if d.patch is not None]


def _replacements(patch: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """The (original, replacement) pairs a patch asks for, without rebinding anything in the core."""
    pairs: list[tuple[Any, Any]] = []

    def record(original: Any, replacement: Any) -> int:
        pairs.append((original, replacement))
        return 1

    def record_method(owner: type, name: str, replacement: Any) -> None:
        pairs.append((getattr(owner, name), replacement))

    monkeypatch.setattr(catalog, "replace_everywhere", record)
    monkeypatch.setattr(catalog, "replace_method", record_method)
    patch()
    return pairs


def test_the_catalog_has_code_patches_to_check() -> None:
    assert {"no_row_lock", "signature_skipped_without_secret"} <= {d.name for d in CODE_PATCHED}


@pytest.mark.parametrize("defect", CODE_PATCHED, ids=lambda d: d.name)
def test_every_code_patch_has_the_signature_of_the_function_it_replaces(defect: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert defect.patch is not None
    pairs = _replacements(defect.patch, monkeypatch)
    assert pairs, f"{defect.name}: its patch replaces nothing"
    for original, replacement in pairs:
        assert original.__module__.startswith("core."), original
        assert shape(replacement) == shape(original), (
            f"{defect.name}: {original.__module__}.{original.__qualname__} changed; update the patch"
        )


def test_a_replacement_with_another_signature_is_refused_before_anything_is_rebound() -> None:
    from core.webhooks import wompi

    original = wompi.check_fresh

    def renamed(timestamp: int, *, max_age: int, max_ahead: int, now: float | None = None) -> None:
        return None

    async def made_async(timestamp: int, *, max_age: int, max_future: int, now: float | None = None) -> None:
        return None

    for wrong in (renamed, made_async):
        with pytest.raises(StalePatch, match="stale"):
            replace_everywhere(original, wrong)
        assert wompi.check_fresh is original
    check_fits(original, lambda timestamp, *, max_age, max_future, now=None: None)


def test_a_method_patch_refuses_a_gone_method_and_another_signature_and_rebinds_a_fitting_one() -> None:
    class Order:
        def deciding(self) -> int:
            return 1

        def latest(self) -> int:
            return 2

        def other(self, extra: int) -> int:
            return extra

    with pytest.raises(StalePatch, match="gone"):
        replace_method(Order, "renamed", Order.latest)
    with pytest.raises(StalePatch, match="stale"):
        replace_method(Order, "deciding", Order.other)
    assert Order().deciding() == 1  # nothing rebound by a refused patch
    replace_method(Order, "deciding", Order.latest)
    assert Order().deciding() == 2
