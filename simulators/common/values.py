"""Shared plumbing for "faults are values": JSON round-trips of frozen dataclasses by a type tag."""

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, ClassVar


class TaggedValue:
    """Mixin for frozen dataclasses that serialise as ``{"type": "<tag>", **fields}``."""

    type_tag: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_tag, **asdict(self)}  # type: ignore[call-overload]


def _norm(tag: str) -> str:
    return tag.replace("_", "").replace("-", "").lower()


def registry(*classes: type[TaggedValue]) -> dict[str, type[TaggedValue]]:
    """Index classes by their tag, accepting ``http_error``, ``HttpError`` and ``httperror`` alike."""
    return {_norm(cls.type_tag): cls for cls in classes}


def from_dict(data: Mapping[str, Any], known: Mapping[str, type[TaggedValue]], what: str) -> Any:
    if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
        raise ValueError(f"a {what} is an object with a string 'type'")
    cls = known.get(_norm(data["type"]))
    if cls is None:
        tags = sorted(c.type_tag for c in known.values())
        raise ValueError(f"unknown {what} type {data['type']!r}; expected one of {tags}")
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    extra = set(data) - names - {"type"}
    if extra:
        raise ValueError(f"{cls.type_tag} does not take {sorted(extra)}")
    try:
        return cls(**{k: v for k, v in data.items() if k != "type"})
    except TypeError as exc:
        raise ValueError(f"{cls.type_tag}: {exc}") from exc


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
