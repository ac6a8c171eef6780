"""Replacing a core function everywhere it is bound: its module and every ``from x import f`` copy."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any


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
    count = 0
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "core" or name.startswith("core.")):
            continue
        for attr, value in list(vars(module).items()):
            if value is original:
                setattr(module, attr, replacement)
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
    setattr(owner, name, replacement)
