"""A seeded defect whose patch raises its own programming error is no catch: the core fails for another reason.

``trust_unsigned_reference``'s patch read a key the core's Wompi events no longer carry: every Wompi event
answered 500, and the matrix counted the tests that failed on it as the defect caught.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.defects import Seeding, applied_parts, catalog, patch_errors, patching


def _replacement_of(patch: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The replacement a catalog patch binds, captured without touching the core."""
    made: list[Any] = []

    def capture(original: Any, replacement: Any) -> int:
        made.append(replacement)
        return 1

    monkeypatch.setattr(catalog, "replace_everywhere", capture)
    patch()
    (replacement,) = made
    return replacement


def test_a_patchs_own_key_error_is_reported_once_named_where_it_was_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = _replacement_of(catalog._trust_unsigned_reference, monkeypatch)
    seen: list[str] = []
    with patching.reporting(seen.append):
        guarded = patching.guard(ours)
    with pytest.raises(KeyError):
        guarded(SimpleNamespace(payload={"data": {}}))  # an event without the field the patch reads
    assert len(seen) == 1 and seen[0].startswith("KeyError: 'transaction' in ours (catalog.py:"), seen


def test_errors_raised_outside_the_patchs_own_code_or_on_purpose_are_not_its_bugs() -> None:
    seen: list[str] = []

    def deliberate(event: Any) -> None:
        raise PermissionError("a domain refusal a patch may raise on purpose")

    def lookup(data: dict[str, str]) -> str:
        return data["reference"]  # a KeyError raised here, outside harness/defects (as in a core function)

    with patching.reporting(seen.append):
        elsewhere = patching.guard(lookup)
        in_c = patching.guard(dict.__getitem__)  # raised by C code: the innermost frame is the guard's own
        refusal = patching.guard(deliberate)
    with pytest.raises(KeyError):
        elsewhere({})
    with pytest.raises(KeyError):
        in_c({}, "reference")
    with pytest.raises(PermissionError):
        refusal(None)
    assert seen == []


def test_without_a_reporter_the_replacement_is_bound_as_it_is() -> None:
    assert patching.guard(json.loads) is json.loads


def test_a_defect_whose_patch_raised_is_not_applied_in_code(tmp_path: Path) -> None:
    seeding = Seeding.named(["trust_unsigned_reference", "no_amount_check"], tmp_path)
    seeding.write_record("core", {"trust_unsigned_reference": {"code"}, "no_amount_check": {"code"}})
    assert applied_parts(tmp_path) == {"trust_unsigned_reference": {"code"}, "no_amount_check": {"code"}}
    seeding.write_patch_error("trust_unsigned_reference", "KeyError: 'reference' in ours (catalog.py:104)")
    assert patch_errors(tmp_path) == {"trust_unsigned_reference": "KeyError: 'reference' in ours (catalog.py:104)"}
    assert applied_parts(tmp_path) == {"trust_unsigned_reference": set(), "no_amount_check": {"code"}}
