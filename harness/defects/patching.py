"""Replacing a core function everywhere it is bound: its module and every ``from x import f`` copy."""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# A patch's own programming error (a key the core's data no longer has, an attribute renamed) makes the core
# fail for a reason that is not the defect: every request 500s and every test "catches" it. Raised by a
# replacement's own code (its innermost frame in harness/defects), such an error is reported, once per defect
# and process, through the reporter the defect factory sets around each patch (``reporting``).
PATCH_BUGS = (LookupError, AttributeError, TypeError, NameError, AssertionError)
_HOME = Path(__file__).resolve().parent
_reporter: Callable[[str], None] | None = None


class StalePatch(RuntimeError):
    """A patch no longer fits the core: the function it replaces moved, was renamed or changed its signature."""


def shape(func: Callable[..., Any]) -> tuple[bool, tuple[tuple[str, Any, Any], ...]]:
    """What a caller relies on: sync or async, and each parameter's name, kind and default (not annotations)."""
    params = inspect.signature(func).parameters.values()
    return inspect.iscoroutinefunction(func), tuple((p.name, p.kind, p.default) for p in params)


def check_fits(original: Callable[..., Any], replacement: Callable[..., Any]) -> None:
    """Raise ``StalePatch`` unless ``replacement`` is called exactly as ``original`` is."""
    if shape(original) != shape(replacement):
        raise StalePatch(
            f"{original.__module__}.{original.__qualname__}{inspect.signature(original)} is replaced by "
            f"{replacement.__qualname__}{inspect.signature(replacement)}: the defect patch is stale"
        )


def replace_everywhere(original: Callable[..., Any], replacement: Callable[..., Any]) -> int:
    """Rebind ``original`` to ``replacement`` in every loaded ``core`` module; returns how many bindings.

    Refuses (``StalePatch``) a replacement whose signature differs, and one that finds nothing to rebind:
    either would leave a matrix row that says nothing about the defect it names.
    """
    check_fits(original, replacement)
    guarded = guard(replacement)
    count = 0
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "core" or name.startswith("core.")):
            continue
        for attr, value in list(vars(module).items()):
            if value is original:
                setattr(module, attr, guarded)
                count += 1
    if count == 0:
        raise StalePatch(f"{original.__qualname__} is bound nowhere: the defect patch is stale")
    return count


def replace_method(owner: type, name: str, replacement: Callable[..., Any]) -> None:
    """Rebind the method ``owner.name`` — every caller reaches it through the class — to ``replacement``.

    Refuses (``StalePatch``) a method that is gone and a replacement called another way, as
    ``replace_everywhere`` does for functions.
    """
    original = getattr(owner, name, None)
    if not callable(original):
        raise StalePatch(f"{owner.__qualname__}.{name} is gone: the defect patch is stale")
    check_fits(original, replacement)
    setattr(owner, name, guard(replacement))


@contextlib.contextmanager
def reporting(report: Callable[[str], None]) -> Iterator[None]:
    """Replacements made inside report their own programming errors to ``report`` (one line each)."""
    global _reporter
    previous, _reporter = _reporter, report
    try:
        yield
    finally:
        _reporter = previous


def patch_bug(exc: BaseException) -> str | None:
    """One line naming ``exc`` when a patch's own code raised it (a programming error in harness/defects)."""
    if not isinstance(exc, PATCH_BUGS) or exc.__traceback__ is None:
        return None
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    where = Path(tb.tb_frame.f_code.co_filename).resolve()
    if _HOME not in where.parents or where == Path(__file__).resolve():  # here: a C function raised under guard
        return None
    return f"{type(exc).__name__}: {exc} in {tb.tb_frame.f_code.co_name} ({where.name}:{tb.tb_lineno})"


def guard(replacement: Callable[..., Any]) -> Callable[..., Any]:
    """``replacement``, reporting its own programming errors to the current reporter (none: unchanged)."""
    report = _reporter
    if report is None:
        return replacement

    def seen(exc: BaseException) -> None:
        if (line := patch_bug(exc)) is not None:
            report(line)

    if inspect.iscoroutinefunction(replacement):
        @functools.wraps(replacement)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await replacement(*args, **kwargs)
            except BaseException as exc:
                seen(exc)
                raise

        return guarded_async

    @functools.wraps(replacement)
    def guarded_sync(*args: Any, **kwargs: Any) -> Any:
        try:
            return replacement(*args, **kwargs)
        except BaseException as exc:
            seen(exc)
            raise

    return guarded_sync
