"""The target profile: how payharness starts, drives and observes a payment service that is not ours.

A profile is a TOML file (README "Audit your own service"); ``load_profile`` reads it into frozen
pydantic models and turns every mistake into one line naming the field, ``shop.toml: api.create_order.
order_id: missing``. Placeholders (``{port}``, ``{amount}``) are checked here against what payharness can
fill at that place, and JSON paths are parsed here, so a typo never waits for a run to show itself.

Usage::

    profile = load_profile(Path("shop.toml"))
    profile.api.create_order.path        # "/api/orders"
"""

from __future__ import annotations

import re
import string
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness.target import jsonpath

GATEWAYS = ("wompi", "payu", "efecty")
Gateway = Literal["wompi", "payu", "efecty"]
# What payharness fills in the service's command and environment (and in auth commands).
SERVICE_PLACEHOLDERS = frozenset({
    "python", "port", "base_url", "database_url", "token_secret", "payu_url", "wompi_url", "efecty_url",
    "payu_api_key", "payu_api_login", "payu_merchant_id", "payu_account_id", "wompi_public_key",
    "wompi_private_key", "wompi_events_secret", "wompi_integrity_secret", "efecty_merchant_api_key",
    "efecty_convenio",
})
# What payharness fills for a service already running (base_url): it starts no database or simulators for it.
RUNNING_PLACEHOLDERS = frozenset({"python", "base_url"})
# What a caller may choose per payment (a PayU sandbox card's holder decides its outcome, a number failing Luhn
# is refused, Nequi's sandbox phone and PSE's bank code decide theirs); a pay template gives defaults in `values`.
CHOSEN_PLACEHOLDERS = frozenset({"card_holder", "card_number", "nequi_phone", "pse_bank"})
# What payharness fills in a request template, per request.
REQUEST_PLACEHOLDERS = frozenset({"amount", "currency", "order_id", "wompi_card_token", "idempotency_key",
                                  "customer_email"}) | CHOSEN_PLACEHOLDERS


class ProfileError(ValueError):
    """A profile that cannot be used; the message is one line per mistake, each naming its field."""


def _placeholders(text: str) -> set[str]:
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text)
                  if name is not None]
    except ValueError as exc:  # an unbalanced brace
        raise ValueError(f"{text!r}: {exc}") from None
    for name, spec, conversion in fields:
        # Every value is filled as text: a format spec or conversion fails (or changes the value) only at fill time.
        if spec or conversion:
            raise ValueError(f"{text!r}: a placeholder is {{{name}}} alone, with no format spec or conversion")
    return {name for name, _, _ in fields}


def _unknown(text: str, allowed: frozenset[str] | set[str], where: str) -> set[str]:
    try:
        return _placeholders(text) - allowed
    except ValueError as exc:
        raise PydanticCustomError("placeholder", "{why}", {"sub": where, "why": str(exc)}) from None


def _only(allowed: frozenset[str]) -> Any:
    def check(value: Any) -> Any:
        for where, text in _strings(value):
            unknown = _unknown(text, allowed, where)
            if unknown:
                # The key inside the value travels in the error's context: the line names the whole field.
                raise PydanticCustomError("placeholder", "unknown placeholder {name} (known: {known})",
                                          {"sub": where, "name": f"{{{sorted(unknown)[0]}}}",
                                           "known": ", ".join(sorted(allowed))})
        return value
    return check


def _strings(value: Any, where: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{where}[{i}]")]
    return []


def _path(value: str) -> str:
    jsonpath.parse(value)
    return value


def _route(value: str) -> str:
    # Joined to the service's address as text (base_url + path): without the slash it is another host name.
    if not value.startswith("/"):
        raise ValueError(f"a path on the service starts with /: {value!r}")
    return value


def _filled(value: str) -> str:
    if not value.strip():
        raise ValueError("empty")
    return value


def _url(schemes: tuple[str, ...]) -> Any:
    def check(value: str) -> str:
        try:
            parts = urlsplit(value)
            usable = parts.scheme in schemes and bool(parts.hostname)
        except ValueError:  # an unclosed [ of an IPv6 address
            usable = False
        if not usable:
            raise ValueError(f"not a {' or '.join(schemes)} URL with a host: {value!r}")
        return value
    return check


JsonPath = Annotated[str, AfterValidator(_path)]
Filled = Annotated[str, AfterValidator(_filled)]
# A command's argv: its first item is the program, so an empty one has nothing to run.
Argv = Annotated[list[str], Field(min_length=1)]
Route = Annotated[str, AfterValidator(_route)]
Templated = Annotated[Any, AfterValidator(_only(REQUEST_PLACEHOLDERS))]
TemplatedRoute = Annotated[str, AfterValidator(_route), AfterValidator(_only(REQUEST_PLACEHOLDERS))]
# Header and form values are sent as text: a number or a table there would fail only when the request is made.
TemplatedTexts = Annotated[dict[str, str], AfterValidator(_only(REQUEST_PLACEHOLDERS))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Service(_Model):
    """Either a command payharness starts (ready when ``ready_path`` answers 2xx) or a running ``base_url``."""

    command: Annotated[list[str], AfterValidator(_only(SERVICE_PLACEHOLDERS))] | None = None
    env: Annotated[dict[str, str], AfterValidator(_only(SERVICE_PLACEHOLDERS))] = {}
    # Commands run to their end before the service starts (a schema migration), in the same environment.
    setup: Annotated[list[Argv], AfterValidator(_only(SERVICE_PLACEHOLDERS))] = []
    ready_path: Route = "/health"
    ready_timeout: float = Field(default=30.0, gt=0, le=600)
    base_url: Annotated[str, AfterValidator(_url(("http", "https")))] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Service:
        if (self.command is None) == (self.base_url is None):
            raise ValueError("give either command (payharness starts it) or base_url (it already runs), not both")
        if self.command is not None and not self.command:
            raise ValueError("command is empty")
        return self


class Database(_Model):
    reset: list[Filled] = []
    url: Annotated[str, AfterValidator(_url(("postgresql", "postgres", "postgresql+asyncpg")))] | None = None


class Login(_Model):
    """A login request made once the service is ready; ``value`` is where its answer carries the token."""

    method: Literal["GET", "POST"] = "POST"
    path: Route
    json_body: dict[str, Any] | None = Field(default=None, alias="json")
    form: dict[str, str] | None = None
    value: JsonPath


class Auth(_Model):
    """Headers per acting user; ``run`` names values printed by a command (a token), ``login`` values read
    from a login request's answer — both usable as placeholders in the headers."""

    users: dict[str, dict[str, str]] = {}
    run: Annotated[dict[str, Argv], AfterValidator(_only(SERVICE_PLACEHOLDERS))] = {}
    login: dict[str, Login] = {}

    @model_validator(mode="after")
    def _known_values(self) -> Auth:
        allowed = SERVICE_PLACEHOLDERS | set(self.run) | set(self.login)
        for user, headers in self.users.items():
            for header, value in headers.items():
                where = f"users.{user}.{header}"
                unknown = _unknown(value, allowed, where)
                if unknown:
                    raise PydanticCustomError("placeholder", "unknown placeholder {name} (name it under [auth.run] "
                                              "or [auth.login], or use a fixed value)",
                                              {"sub": where, "name": f"{{{sorted(unknown)[0]}}}"})
        return self


class Request(_Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: TemplatedRoute
    json_body: Templated = Field(default=None, alias="json")
    form: TemplatedTexts | None = None
    headers: TemplatedTexts = {}

    @model_validator(mode="after")
    def _one_body(self) -> Request:
        if self.json_body is not None and self.form is not None:
            raise ValueError("give json or form, not both")
        return self


class CreateOrder(Request):
    order_id: JsonPath


def template_placeholders(request: Request) -> set[str]:
    """Every ``{name}`` a request template fills: in its path, body and headers."""
    texts = _strings([request.path, request.json_body, request.form, request.headers])
    return {name for _, text in texts for name in _placeholders(text)}


# What every request is given; each template adds what its step has (an order's id exists only once it is made).
EVERY_REQUEST = frozenset({"currency", "idempotency_key", "customer_email"})
STEP_PLACEHOLDERS = {
    "create_order": EVERY_REQUEST | {"amount"},
    "get_order": EVERY_REQUEST | {"order_id"},
    "order_status": EVERY_REQUEST | {"order_id"},
    "amount_paid": EVERY_REQUEST | {"order_id"},
    "transactions": EVERY_REQUEST | {"order_id"},
    "webhook_events": EVERY_REQUEST | {"event_id"},
    "order_count": EVERY_REQUEST,
}


# What a reconciliation request is given: {today}, the collection day in Bogota (UTC-5, no DST), as Efecty's
# feed counts days (YYYY-MM-DD).
RECONCILE_PLACEHOLDERS = EVERY_REQUEST | {"today"}


class Reconcile(_Model):
    """``[efecty.reconcile]``: the request the service's own scheduled reconciliation answers (an operator's
    daily job, say); payharness plays the scheduler and makes it once after a cash payment, as ``user``."""

    method: Literal["GET", "POST"] = "POST"
    path: Annotated[str, AfterValidator(_route), AfterValidator(_only(RECONCILE_PLACEHOLDERS))]
    user: Filled = "buyer"


class EfectyConfirm(_Model):
    """``[efecty]``: how soon a voucher paid at an Efecty counter must reach its order (seed S15), and the
    reconciliation request that brings it there when the service learns by a scheduled job, not by itself.

    ``confirm_within``: seconds from the cash payment to the order paid; 10 by default (a poller of a few
    seconds fits), at most 120 (a scenario must end; a service whose job runs daily names it in ``reconcile``).
    """

    confirm_within: float = Field(default=10.0, gt=0, le=120)
    reconcile: Reconcile | None = None


def _step_fills(step: str, where: str, parts: dict[str, Any]) -> None:
    allowed = STEP_PLACEHOLDERS[step]
    for sub, text in _strings(parts):
        unknown = _placeholders(text) - allowed
        if unknown:
            raise PydanticCustomError("placeholder", "{name} is not filled for {step} (it is given only {known})",
                                      {"sub": f"{where}.{sub}", "name": f"{{{sorted(unknown)[0]}}}", "step": step,
                                       "known": ", ".join(f"{{{n}}}" for n in sorted(allowed))})


def _check_values(values: dict[str, str], used: set[str], where: str) -> None:
    for name in values:
        if name not in CHOSEN_PLACEHOLDERS:
            raise PydanticCustomError("values", "not a value a caller chooses (known: {known})",
                                      {"sub": f"{where}values.{name}", "known": ", ".join(sorted(CHOSEN_PLACEHOLDERS))})
        if name not in used:
            raise PydanticCustomError("values", "a default for {name}, which the template never uses",
                                      {"sub": f"{where}values.{name}", "name": f"{{{name}}}"})


class Pay(Request):
    """Starting a payment: the request, where its answer carries the ids, and defaults for chosen values."""

    reference: JsonPath
    gateway_id: JsonPath | None = None
    code: JsonPath | None = None
    values: dict[str, str] = {}

    @model_validator(mode="after")
    def _defaults_used(self) -> Pay:
        _check_values(self.values, template_placeholders(self), "")
        return self


def _method_name(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError("a payment method's table is named in lowercase letters, digits and _ (nequi, pse)")
    return name


MethodName = Annotated[str, AfterValidator(_method_name)]


class PayMethod(_Model):
    """``[api.pay.<gateway>.<method>]``: what differs from the gateway's table; the rest is inherited. A body
    (``json`` or ``form``) given here replaces the gateway's whole; ``values`` add to its defaults."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = None
    path: TemplatedRoute | None = None
    json_body: Templated = Field(default=None, alias="json")
    form: TemplatedTexts | None = None
    headers: TemplatedTexts | None = None
    reference: JsonPath | None = None
    gateway_id: JsonPath | None = None
    code: JsonPath | None = None
    values: dict[str, str] = {}


class GatewayPay(Pay):
    """``[api.pay.<gateway>]``: the gateway's default payment, and its other methods as sub-tables (any table
    under it whose key is not one of its fields)."""

    methods: dict[MethodName, PayMethod] = {}

    @model_validator(mode="before")
    @classmethod
    def _method_tables(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # A table under one of the pay table's own keys (reference = { … }) is that field's mistake, not a method.
        fields = {info.alias or name for name, info in cls.model_fields.items()}
        methods = {k: v for k, v in data.items() if isinstance(v, dict) and k not in fields}
        if not methods:
            return data
        return {**{k: v for k, v in data.items() if k not in methods}, "methods": {**data.get("methods", {}),
                                                                                  **methods}}

    @model_validator(mode="after")
    def _method_defaults_used(self) -> GatewayPay:
        for name in self.methods:
            spec = self.template(name)
            _check_values(self.methods[name].values, template_placeholders(spec), f"{name}.")
        return self

    def template(self, method: str | None = None) -> Pay:
        """The request for ``method`` (None: the gateway's own), with what it inherits filled in."""
        own = {f: getattr(self, f) for f in Pay.model_fields}
        if method is None:
            return Pay.model_construct(**own)
        if method not in self.methods:
            given = ", ".join(sorted(self.methods)) or "none"
            raise ProfileError(f"the profile gives no [api.pay.<gateway>.{method}] (its methods: {given})")
        override = self.methods[method]
        changed = {f: getattr(override, f) for f in override.model_fields_set}
        if {"json_body", "form"} & set(changed):
            own.update(json_body=None, form=None)
        return Pay.model_construct(**{**own, **changed, "values": {**self.values, **override.values}})


class GetOrder(Request):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"


class Api(_Model):
    create_order: CreateOrder
    pay: dict[Gateway, GatewayPay] = {}
    get_order: GetOrder | None = None

    @model_validator(mode="after")
    def _steps_fill(self) -> Api:
        for step in ("create_order", "get_order"):
            spec = getattr(self, step)
            if spec is not None:
                _step_fills(step, step, {"path": spec.path, "json": spec.json_body, "form": spec.form,
                                         "headers": spec.headers})
        return self

    def pay_template(self, gateway: str, method: str | None = None) -> Pay:
        """The request that starts a ``gateway`` payment by ``method``; ProfileError naming what is missing."""
        if gateway not in self.pay:
            raise ProfileError(f"the profile gives no [api.pay.{gateway}]")
        try:
            return self.pay[gateway].template(method)
        except ProfileError as exc:
            raise ProfileError(str(exc).replace("<gateway>", gateway)) from None


class HttpRead(_Model):
    """An observation by HTTP: the request, and where the value is in its JSON answer (read as buyer)."""

    method: Literal["GET", "POST"] = "GET"
    path: Annotated[str, AfterValidator(_route), AfterValidator(_only(REQUEST_PLACEHOLDERS | {"event_id"}))]
    value: JsonPath


def _observation_kind(value: Any) -> str:
    return "an HTTP read" if isinstance(value, dict | HttpRead) else "an SQL query"


# A table is an HTTP read and anything else a query: one mistake then gives one line, not one per reading.
Observation = Annotated[Annotated[Filled, Tag("an SQL query")] | Annotated[HttpRead, Tag("an HTTP read")],
                        Discriminator(_observation_kind)]


class StatusMap(_Model):
    paid: list[str] = Field(min_length=1)  # with no word for paid, no payment could ever be seen to succeed
    pending: list[str] = []
    failed: list[str] = []


class Observe(_Model):
    order_status: Observation | None = None
    amount_paid: Observation | None = None
    transactions: Observation | None = None
    webhook_events: Observation | None = None
    order_count: Observation | None = None  # rows of orders in all: "nothing written" for refused input
    status_map: StatusMap | None = None

    @model_validator(mode="after")
    def _reads_fill(self) -> Observe:
        for name in ("order_status", "amount_paid", "transactions", "webhook_events", "order_count"):
            read = getattr(self, name)
            if isinstance(read, HttpRead):
                _step_fills(name, name, {"path": read.path})
        return self

    @model_validator(mode="after")
    def _status_words(self) -> Observe:
        if self.order_status is not None and self.status_map is None:
            raise ValueError("order_status needs [observe.status_map] (the service's words for paid, pending, failed)")
        return self

    def uses_sql(self) -> bool:
        reads = (self.order_status, self.amount_paid, self.transactions, self.webhook_events, self.order_count)
        return any(isinstance(r, str) for r in reads)


# ``:name`` parameters of an SQL field (not the ``::text`` of a cast); harness.target.target fills them.
SQL_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_$]*"


def _sql_using(*names: str) -> Any:
    """An SQL text whose ``:name`` parameters are exactly ``names``: any other is never filled, and a query
    without them would read or change rows that are not the scenario's."""
    def check(value: str) -> str:
        used = set(SQL_PARAM.findall(value))
        if used - set(names):
            raise ValueError(f"unknown parameter :{sorted(used - set(names))[0]} (it is given only "
                             f"{', '.join(':' + n for n in names)})")
        if set(names) - used:
            raise ValueError(f"never uses :{sorted(set(names) - used)[0]} (it must use "
                             f"{', '.join(':' + n for n in names)})")
        return value
    return check


def _column(value: str) -> str:
    if not re.fullmatch(rf"{IDENTIFIER}(\.{IDENTIFIER}){{1,2}}", value):
        raise ValueError(f"not table.column (or schema.table.column) as the catalog spells them: {value!r}")
    return value


def _a_write(value: str) -> str:
    # Run inside a transaction that is always rolled back: a data change, never DDL, COMMIT or a function call.
    if not re.match(r"\s*(UPDATE|INSERT)\b", value, re.IGNORECASE):
        raise ValueError("an UPDATE (or INSERT) that gives one payment the code another holds")
    return value


class EfectyCode(_Model):
    """``[evidence.efecty_code]``: where the service keeps Efecty payment codes, and the statement that gives
    one payment (``:own``, its code) the code another already holds (``:taken``); run only inside a
    transaction that is always rolled back."""

    column: Annotated[str, AfterValidator(_column)]
    repeat: Annotated[str, AfterValidator(_filled), AfterValidator(_a_write),
                      AfterValidator(_sql_using("taken", "own"))]


class Evidence(_Model):
    """``[evidence]``: what only the service's database shows (README "Database evidence"); SQL on its database."""

    efecty_code: EfectyCode | None = None
    # One row per stored event about the gateway transaction :gateway_id; its first column the gateway
    # transaction id of the transaction row the event is linked to (NULL when it links none).
    event_transaction: Annotated[str, AfterValidator(_filled), AfterValidator(_sql_using("gateway_id"))] | None = None

    def uses_sql(self) -> bool:
        return self.efecty_code is not None or self.event_transaction is not None


class Profile(_Model):
    name: Filled
    description: str = ""
    service: Service
    database: Database = Database()
    auth: Auth = Auth()
    api: Api
    webhooks: dict[Gateway, Route] = {}
    observe: Observe = Observe()
    efecty: EfectyConfirm = EfectyConfirm()
    evidence: Evidence = Evidence()
    source: Path | None = None  # the file it was read from (set by load_profile)

    @model_validator(mode="after")
    def _running_values(self) -> Profile:
        if self.service.base_url is None:
            return self
        # Checked against what a started service has when the tables load; here the run has far less to give.
        allowed = RUNNING_PLACEHOLDERS | set(self.auth.run) | set(self.auth.login)
        texts = [(f"auth.run.{name}{where}", text) for name, argv in self.auth.run.items()
                 for where, text in _strings(argv)]
        texts += [(f"auth.users.{user}.{header}", value) for user, headers in self.auth.users.items()
                  for header, value in headers.items()]
        for where, text in texts:
            unknown = _placeholders(text) - allowed
            if unknown:
                raise PydanticCustomError("placeholder", "{name} is not filled for a service already running "
                                          "(service.base_url: only {known})",
                                          {"sub": where, "name": f"{{{sorted(unknown)[0]}}}",
                                           "known": ", ".join(f"{{{n}}}" for n in sorted(allowed))})
        for gateway, pay in self.api.pay.items():
            for method in (None, *pay.methods):
                if "wompi_card_token" in template_placeholders(pay.template(method)):
                    where = f"api.pay.{gateway}" + (f".{method}" if method else "")
                    raise PydanticCustomError("placeholder", "{name} needs the Wompi simulator, which payharness "
                                              "starts only for service.command, not for service.base_url",
                                              {"sub": where, "name": "{wompi_card_token}"})
        return self

    @model_validator(mode="after")
    def _reconcile_user(self) -> Profile:
        reconcile = self.efecty.reconcile
        if reconcile is not None and reconcile.user not in self.auth.users:
            raise PydanticCustomError("user", "{user} is not a user under [auth] users (known: {known})",
                                      {"sub": "efecty.reconcile.user", "user": repr(reconcile.user),
                                       "known": ", ".join(sorted(self.auth.users)) or "none"})
        return self

    @model_validator(mode="after")
    def _database_reachable(self) -> Profile:
        if self.service.base_url is not None and self.database.url is None and (
                self.database.reset or self.observe.uses_sql() or self.evidence.uses_sql()):
            raise ValueError("database.url: missing (a service already running needs its database named "
                             "for [database] reset, SQL observe queries and [evidence])")
        return self


def _where(loc: tuple[int | str, ...]) -> str:
    # Union members add their type or tag to the location (observe.order_status.an SQL query); no field is named so.
    parts = [p for p in loc if not (isinstance(p, str) and (p == "str" or " " in p or "[" in p))]
    if parts[:2] == ["api", "pay"] and parts[3:4] == ["methods"]:
        del parts[3]  # a method's table is written [api.pay.<gateway>.<method>]
    # An item of a list is written as the preflight writes it: service.setup[0], database.reset[1].
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")


def _lines(exc: ValidationError) -> list[str]:
    lines: dict[str, str] = {}
    for error in exc.errors():
        where = _where(error["loc"])
        sub = (error.get("ctx") or {}).get("sub")
        if sub:
            where = f"{where}{'' if sub.startswith('[') or not where else '.'}{sub}"
        message = "missing" if error["type"] == "missing" else str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "not a profile field (a typo?)"
        lines.setdefault(where, f"{where}: {message}" if where else message)
    return list(lines.values())


TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
TOML_HEADER = re.compile(r"^\[+\s*([^\]]+?)\s*\]+")
TOML_KEY = re.compile(r"^([A-Za-z0-9_.\-\s\"']+?)\s*=")


def _toml_field(text: str, message: str) -> str | None:
    """The key or table at the line tomllib names (it names lines, not keys): webhooks.wompi for a repeated key."""
    at = TOML_LINE.search(message)
    lines = text.splitlines()
    if at is None or int(at.group(1)) > len(lines):
        return None
    number = int(at.group(1))

    def name(raw: str) -> str:
        return ".".join(part.strip().strip("\"'") for part in raw.split("."))

    header = TOML_HEADER.match(lines[number - 1].strip())
    if header:
        return name(header.group(1))
    key = TOML_KEY.match(lines[number - 1].strip())
    if key is None:
        return None
    table = next((m.group(1) for line in reversed(lines[: number - 1]) if (m := TOML_HEADER.match(line.strip()))), "")
    return ".".join(p for p in (name(table) if table else "", name(key.group(1))) if p)


def parse_profile(text: str, source: str = "profile.toml") -> Profile:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        field = _toml_field(text, str(exc))
        raise ProfileError(f"{source}: {field + ': ' if field else ''}not TOML: {exc}") from None
    if "source" in raw:  # set by load_profile to the file's own path; a profile that gives one has a typo
        raise ProfileError(f"{source}: source: not a profile field (a typo?)")
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError("\n".join(f"{source}: {line}" for line in _lines(exc))) from None


def load_profile(path: Path) -> Profile:
    """The profile at ``path``; ProfileError with one line per mistake, each naming the file and the field."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ProfileError(f"{Path(path).name}: cannot read: {exc.strerror}") from None
    return parse_profile(text, Path(path).name).model_copy(update={"source": Path(path).resolve()})


def fill(value: Any, values: dict[str, str]) -> Any:
    """``value`` with every ``{name}`` in its strings replaced (names were checked when the profile loaded)."""
    if isinstance(value, str):
        return value.format_map(values)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value
