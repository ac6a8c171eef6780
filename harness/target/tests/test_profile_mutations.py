"""The real profiles, mutated one mistake at a time: the loader accepts only what a run can use, and refuses
anything else in one line naming the field, before `payharness audit --target` starts anything.

The profiles are core.toml, the seed shop's two and the tiny shop's; a mutation drops a key, changes a value's
type, empties a string, adds an unknown key, a placeholder nobody fills or a malformed JSON path, gives an
[evidence] query a parameter it is not given (or takes one away) or a malformed column, or swaps the command
for a bad ``base_url``. Whether an accepted profile is usable is decided here on its own terms
(every template filled with every known value, every path parsed), not by asking the loader again.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from rich.console import Console

from harness.paths import repo_root
from harness.target import jsonpath
from harness.target.audit import audit_target
from harness.target.profile import (
    REQUEST_PLACEHOLDERS,
    SERVICE_PLACEHOLDERS,
    HttpRead,
    Profile,
    ProfileError,
    Request,
    fill,
    parse_profile,
)

ROOT = repo_root()
PROFILES = {path.name if path.parent.name != "seed_shop" else f"seed_{path.name}": tomllib.loads(path.read_text())
            for path in (ROOT / "harness/target/core.toml", ROOT / "examples/seed_shop/target.toml",
                         ROOT / "examples/seed_shop/target-fixed.toml", Path(__file__).with_name("tiny_shop.toml"))}
# Tables whose keys the profile's author names (headers, bodies, users, gateways…): any key may appear there.
FREE = frozenset({"env", "json", "form", "headers", "values", "users", "run", "login", "pay", "webhooks"})
JSON_PATH_KEYS = frozenset({"order_id", "reference", "gateway_id", "code", "value"})
# Values of other types than the one they replace: a string, an int, a list, a table, a boolean.
OTHER_TYPES: tuple[Any, ...] = ("text", 7, ["text"], {"x": "text"}, True)
BAD_JSON_PATHS = ("id", "$..id", "$.a[", "$[-1]", "$.a b", "")
BAD_COLUMNS = ("codes", "a.b.c.d", "a b.c", "t.c;--", "t.", ".c", "t.c ")
SQL_PARAMS = ("gateway_id", "taken", "own")  # what [evidence] SQL is given
BAD_URLS = ("", "nope", "127.0.0.1:8000", "ftp://127.0.0.1:8000", "http://", "http:///x", "http://[::1")
Path_ = tuple[str | int, ...]


# -- a TOML writer for mutated documents (tomllib only reads) ------------------------------------------------
def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return json.dumps(value)  # a JSON string or number is a TOML basic string or number
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_inline(v)}" for k, v in value.items()) + "}"


def to_toml(document: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(k)} = {_inline(v)}\n" for k, v in document.items())


# -- key paths and edits --------------------------------------------------------------------------------------
def key_paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found = []
    for key, child in items:
        found.append((*prefix, key))
        found += key_paths(child, (*prefix, key))
    return found


def dotted(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def at(document: Any, path: Path_) -> Any:
    for key in path:
        document = document[key]
    return document


def edited(document: dict[str, Any], path: Path_, value: Any = None, *, drop: bool = False) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(document))
    parent = at(copy, path[:-1])
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy


def is_model_table(document: dict[str, Any], path: Path_) -> bool:
    return isinstance(at(document, path), dict) and not any(p in FREE for p in path)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, dict[str, Any], Path_, str]:
    """(profile name, the mutated document, the path mutated, the kind of mutation)."""
    name = draw(st.sampled_from(sorted(PROFILES)))
    doc = PROFILES[name]
    paths = key_paths(doc)
    strings = [p for p in paths if isinstance(at(doc, p), str)]
    kind = draw(st.sampled_from(["drop", "retype", "empty", "unknown", "placeholder", "jsonpath", "url", "sql"]))
    if kind == "sql":  # an [evidence] field's SQL parameters or column, mistaken
        name = draw(st.sampled_from(sorted(n for n, d in PROFILES.items() if "evidence" in d)))
        doc = PROFILES[name]
        path = draw(st.sampled_from([p for p in key_paths(doc)
                                     if p[:1] == ("evidence",) and isinstance(at(doc, p), str)]))
        text = at(doc, path)
        wrong = BAD_COLUMNS if path[-1] == "column" else [
            *(text.replace(f":{n}", f":{n}x") for n in SQL_PARAMS if f":{n}" in text),
            *(text.replace(f":{n}", "'x'") for n in SQL_PARAMS if f":{n}" in text),
            text + " AND :nope IS NULL", *(["SELECT 1; " + text] if path[-1] == "repeat" else [])]
        return name, edited(doc, path, draw(st.sampled_from(wrong))), path, kind
    if kind == "drop":
        path = draw(st.sampled_from(paths))
        return name, edited(doc, path, drop=True), path, kind
    if kind == "retype":
        path = draw(st.sampled_from(paths))
        value = draw(st.sampled_from([v for v in OTHER_TYPES if type(v) is not type(at(doc, path))]))
        return name, edited(doc, path, value), path, kind
    if kind == "empty":
        path = draw(st.sampled_from(strings))
        return name, edited(doc, path, ""), path, kind
    if kind == "unknown":
        path = draw(st.sampled_from([(), *[p for p in paths if is_model_table(doc, p)]]))
        key = draw(st.sampled_from(["bogus", "ready_paht", "refrence", "source"]))
        return name, edited(doc, (*path, key), "x"), (*path, key), kind
    if kind == "placeholder":
        path = draw(st.sampled_from(strings))
        # Unknown, formatted, or known but not filled at every step (no order id before the order exists).
        suffix = draw(st.sampled_from(["{nope}", "{amount:>9}", "{order_id!r}", "{order_id}", "{wompi_card_token}"]))
        return name, edited(doc, path, at(doc, path) + suffix), path, kind
    if kind == "jsonpath":
        path = draw(st.sampled_from([p for p in strings if p[-1] in JSON_PATH_KEYS and not FREE & set(p[:-1])]))
        return name, edited(doc, path, draw(st.sampled_from(BAD_JSON_PATHS))), path, kind
    service = {k: v for k, v in doc["service"].items() if k not in ("command", "setup", "env")}
    service["base_url"] = draw(st.sampled_from([*BAD_URLS, "http://127.0.0.1:8000"]))
    mutated = {**doc, "service": service, "database": {**doc.get("database", {}), "url": "postgresql://127.0.0.1/x"}}
    return name, mutated, ("service", "base_url"), kind if service["base_url"] in BAD_URLS else "running"


# -- is an accepted profile usable? --------------------------------------------------------------------------
EVERY = {"currency": "COP", "idempotency_key": "k", "customer_email": "a@b.co"}  # Target.request's own
ORDER = {**EVERY, "order_id": "1"}


def _requests(profile: Profile) -> list[tuple[str, Request | HttpRead, dict[str, str]]]:
    """Every request a run makes, with the values a run has at that step (Target's create_order, pay, reads)."""
    api = profile.api
    found: list[tuple[str, Request | HttpRead, dict[str, str]]] = [
        ("api.create_order", api.create_order, {**EVERY, "amount": "1"})]
    if api.get_order is not None:
        found.append(("api.get_order", api.get_order, ORDER))
    for gateway, pay in api.pay.items():
        found += [(f"api.pay.{gateway}.{m or ''}", api.pay_template(gateway, m),
                   {n: "1" for n in REQUEST_PLACEHOLDERS}) for m in [None, *pay.methods]]
    reads = {"order_status": ORDER, "amount_paid": ORDER, "transactions": ORDER,
             "webhook_events": {**EVERY, "event_id": "e"}, "order_count": EVERY}
    for name, values in reads.items():
        read = getattr(profile.observe, name)
        if isinstance(read, HttpRead):
            found.append((f"observe.{name}", read, values))
    return found


def _sql_names(query: str) -> set[str]:
    return set(re.findall(r"(?<![:\w]):([A-Za-z_]\w*)", query))


def _need(condition: object, why: str) -> None:
    if not condition:
        raise ValueError(why)


def _argv(argv: Any, values: dict[str, str]) -> None:
    _need(isinstance(argv, list) and argv and all(isinstance(a, str) for a in fill(argv, values)), f"argv {argv!r}")


def unusable(profile: Profile) -> str | None:
    """Why a run could not use ``profile`` (a placeholder nobody fills, a path a request cannot take…), or None."""
    service_values = {n: "1" for n in SERVICE_PLACEHOLDERS}
    try:
        _need(profile.name.strip(), "name")
        for where, spec, request_values in _requests(profile):
            path = fill(spec.path, request_values)
            _need(isinstance(path, str) and path.startswith("/"), f"{where}.path {path!r}")
            if isinstance(spec, HttpRead):
                jsonpath.parse(spec.value)
                continue
            headers = fill(spec.headers, request_values)
            _need(isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values()), f"{where}.headers")
            form = fill(spec.form, request_values)
            _need(form is None or all(isinstance(v, str) for v in form.values()), f"{where}.form")
            json.dumps(fill(spec.json_body, request_values))
            for jp in ("order_id", "reference", "gateway_id", "code"):
                if getattr(spec, jp, None) is not None:
                    jsonpath.parse(getattr(spec, jp))
        service = profile.service
        if service.command is not None:
            _argv(service.command, service_values)
        for argv in service.setup:
            _argv(argv, service_values)
        _need(all(isinstance(v, str) for v in fill(service.env, service_values).values()), "service.env")
        _need(service.ready_path.startswith("/"), "service.ready_path")
        if service.base_url is not None:
            url = httpx.URL(service.base_url)
            _need(url.scheme in ("http", "https") and url.host, f"service.base_url {service.base_url!r}")
            # Nothing is started for a running service: no port, database, token secret or simulators to fill in.
            service_values = {"python": "1", "base_url": "1"}
            for where, spec, _ in _requests(profile):
                _need("{wompi_card_token}" not in json.dumps(spec.model_dump(by_alias=True)), f"{where} card token")
        if profile.database.url is not None:
            scheme = httpx.URL(profile.database.url).scheme
            _need(scheme in ("postgresql", "postgres", "postgresql+asyncpg"), "database.url")
        _need(all(s.strip() for s in profile.database.reset), "database.reset")
        auth_values = {**service_values, **{n: "1" for n in [*profile.auth.run, *profile.auth.login]}}
        for argv in profile.auth.run.values():
            _argv(argv, service_values)
        for headers in profile.auth.users.values():
            _need(all(isinstance(fill(v, auth_values), str) for v in headers.values()), "auth.users")
        for login in profile.auth.login.values():
            _need(login.path.startswith("/"), "auth.login path")
        _need(all(p.startswith("/") for p in profile.webhooks.values()), "webhooks")
        evidence = profile.evidence
        if evidence.event_transaction is not None:
            _need(_sql_names(evidence.event_transaction) == {"gateway_id"}, "evidence.event_transaction parameters")
        if evidence.efecty_code is not None:
            code = evidence.efecty_code
            _need(_sql_names(code.repeat) == {"taken", "own"}, "evidence.efecty_code.repeat parameters")
            _need(code.repeat.split()[0].upper() in ("UPDATE", "INSERT"), "evidence.efecty_code.repeat: not a write")
            _need(re.fullmatch(r"[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*){1,2}", code.column), "evidence.efecty_code.column")
        observe = profile.observe
        for name in ("order_status", "amount_paid", "transactions", "webhook_events", "order_count"):
            read = getattr(observe, name)
            _need(not isinstance(read, str) or read.strip(), f"observe.{name}")
        if observe.status_map is not None:
            _need(observe.status_map.paid, "observe.status_map.paid")
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# -- the line a refusal gives -----------------------------------------------------------------------------------
LINE = re.compile(r"^(?P<source>[\w.-]+\.toml): (?P<field>[\w\-\[\].]+): (?P<why>\S.*)$")


def _named(field: str) -> Path_:
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", field))


def assert_one_line_naming(message: str, source: str, document: dict[str, Any], mutated: Path_,
                           kind: str = "") -> None:
    lines = message.splitlines()
    if len(lines) > 1:
        # A table where a text was (order_status = { x = … }) is several mistakes inside that one field: a line for
        # each is allowed, but only about that field.
        assert isinstance(at(document, mutated), dict), message
        assert all(line.startswith(f"{source}: {dotted(mutated)}.") for line in lines), message
    for line in lines:
        _one_line(line, source, document, mutated, kind)


def _one_line(message: str, source: str, document: dict[str, Any], mutated: Path_, kind: str) -> None:
    assert "Traceback" not in message and "errors.pydantic.dev" not in message and "Value error" not in message
    line = LINE.match(message)
    assert line is not None and line["source"] == source, message
    named = _named(line["field"])
    # The line names a field of the mutated table: the mutated key, one of its ancestors, or a key beside it. A
    # service made a running one (a good base_url) leaves the fields that need a started one to be named.
    assert kind == "running" or named[:1] == mutated[:1], f"{message!r} does not name {dotted(mutated)}"
    with contextlib.suppress(KeyError, IndexError, TypeError):
        at(document, named[:-1])
        return
    pytest.fail(f"{message!r} names {line['field']}, which is not in the profile")


@settings(max_examples=300)
@given(mutations())
def test_a_mutated_profile_is_either_usable_or_refused_in_one_line_naming_the_field(
    mutation: tuple[str, dict[str, Any], Path_, str],
) -> None:
    name, document, path, kind = mutation
    note(f"{name}: {kind} at {dotted(path)}")
    try:
        profile = parse_profile(to_toml(document), name)
    except ProfileError as exc:
        assert_one_line_naming(str(exc), name, document, path, kind)
        return
    # An unknown key and a malformed JSON path or URL are always mistakes; anything else accepted must be usable.
    assert kind not in ("unknown", "jsonpath", "url", "sql"), f"{kind} at {dotted(path)} accepted"
    why = unusable(profile)
    assert why is None, f"{kind} at {dotted(path)} accepted but not usable: {why}"


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_real_profile_loads_and_is_usable(name: str) -> None:
    """The oracle above on the unmutated profiles: none of its refusals is the oracle's own mistake."""
    profile = parse_profile(to_toml(PROFILES[name]), name)
    assert unusable(profile) is None


@settings(max_examples=20)
@given(mutations())
def test_the_target_audit_exits_2_on_a_refused_profile_before_it_starts_anything(
    mutation: tuple[str, dict[str, Any], Path_, str],
) -> None:
    name, document, _, _ = mutation
    try:
        parse_profile(to_toml(document), name)
    except ProfileError as exc:
        refusal = str(exc)  # judged by the test above: one line, or one per mistake inside one field
    else:
        return  # accepted: the test above judges it
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="profile-mutation-")))
        (folder / name).write_text(to_toml(document))
        started = stack.enter_context(mock.patch("harness.target.audit.check_profile",
                                                 side_effect=AssertionError("the service was started")))
        errors = stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        code = audit_target(folder / name, folder / "out", None, Console(file=io.StringIO()))
    assert code == 2 and not started.called
    assert errors.getvalue().splitlines() == refusal.splitlines(), errors.getvalue()
