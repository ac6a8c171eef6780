"""The ``Target``: what a scenario may do to a profiled service and see of it — requests and observations.

Everything a scenario knows of the service goes through here: requests built from the profile's templates,
answers read through its JSON paths, state read through its observe queries (SQL with ``:name``
parameters on the service's database, or an HTTP read). Amounts are ``Decimal`` from text, never float.

Usage::

    async with Target(run) as target:
        order = await target.create_order(Decimal("50000.00"))
        paid = await target.pay("wompi", order.order_id, Decimal("50000.00"))
        await target.amount_paid(order.order_id)        # Decimal("0")
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any, Self

import asyncpg
import httpx

from harness.target import jsonpath
from harness.target.profile import (
    SQL_PARAM,
    HttpRead,
    Observation,
    ProfileError,
    Request,
    fill,
    template_placeholders,
)
from harness.target.run import TargetRun

# A user the profile's [auth] names ("buyer", "other"), or the headers of an identity the caller holds (the
# built-in suites mint a fresh buyer per test with the core's secret: a core-only power, suites.support.core_target).
User = str | Mapping[str, str]
# One TLS context for every Target: httpx builds a new one per client (~17 ms, the CA bundle loaded again),
# and the built-in suites open a Target per order they make.
TLS = ssl.create_default_context()
DEFAULT_CARD = "4242424242424242"  # Wompi's sandbox card that approves
BOGOTA_OFFSET = timedelta(hours=-5)  # Colombia keeps UTC-5 all year: Efecty's collection days are Bogota's
PARAM = SQL_PARAM  # :order_id, not the ::text of a cast


class ObserveFailed(RuntimeError):
    """An observe query that errors or answers nothing; the message names the profile field."""


@dataclass(frozen=True)
class Answer:
    """A request's answer, with the ids the profile says it carries (None where it carries none)."""

    status: int
    body: Any
    text: str
    headers: httpx.Headers
    order_id: str | None = None
    reference: str | None = None
    gateway_id: str | None = None
    code: str | None = None
    response: httpx.Response | None = field(default=None, repr=False, compare=False)  # the whole answer


def sql_params(query: str) -> tuple[str, list[str]]:
    """``query`` with ``:name`` turned into ``$n`` for asyncpg, and the names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return PARAM.sub(number, query), names


class Target:
    """A profiled service, reached over HTTP and observed through the profile's queries."""

    def __init__(self, run: TargetRun, *, timeout: float = 30.0, http: httpx.AsyncClient | None = None) -> None:
        """``http``: a client of the caller's on the service's address (one kept-alive connection, say), kept
        open on exit; by default the Target opens its own."""
        self.run = run
        self.profile = run.profile
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(base_url=run.base_url, timeout=timeout, verify=TLS,
                                              limits=httpx.Limits(max_connections=64))
        self.sims = httpx.AsyncClient(timeout=timeout, verify=TLS)
        self._conn: asyncpg.Connection | None = None
        self._observer_lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._own_http:
            await self.http.aclose()
        await self.sims.aclose()
        await self._drop_observer()

    # -- requests ------------------------------------------------------------------------------------------
    async def request(self, spec: Request, values: dict[str, str], user: User = "buyer",
                      raw_body: bytes | None = None) -> httpx.Response:
        """``user``: a user the profile's ``[auth]`` names, or the headers of an identity the caller holds."""
        values = {"currency": "COP", "idempotency_key": secrets.token_hex(8),
                  "customer_email": "comprador@example.com", **values}
        who = self.run.headers(user) if isinstance(user, str) else dict(user)
        headers = {**who, **fill(spec.headers, values)}
        kwargs: dict[str, Any] = {"headers": headers}
        if raw_body is not None:
            kwargs["content"] = raw_body
        elif spec.json_body is not None:
            kwargs["json"] = fill(spec.json_body, values)
        elif spec.form is not None:
            kwargs["data"] = fill(spec.form, values)
        return await self.http.request(spec.method, fill(spec.path, values), **kwargs)

    async def create_order(self, amount: Decimal | str, *, user: User = "buyer") -> Answer:
        spec = self.profile.api.create_order
        response = await self.request(spec, {"amount": str(amount)}, user)
        body = _json(response)
        order_id = _pick(spec.order_id, body) if response.is_success else None
        return Answer(response.status_code, body, response.text, response.headers, order_id=order_id)

    async def pay(self, gateway: str, order_id: str, amount: Decimal | str, *, method: str | None = None,
                  user: User = "buyer", values: Mapping[str, str] | None = None) -> Answer:
        """Start a ``gateway`` payment by ``method`` (None: the gateway's own table) from the profile's template.

        ``values``: placeholders the caller chooses (``card_holder``, ``nequi_phone``, ``idempotency_key``…),
        over the template's defaults. One the template never sends is refused (ProfileError), so a test that
        chooses a value never silently runs without it; ``card_number`` goes to the Wompi tokeniser when the
        template sends ``{wompi_card_token}``.
        """
        spec = self.profile.api.pay_template(gateway, method)
        used = template_placeholders(spec)
        chosen = dict(values or {})
        unused = set(chosen) - used - ({"card_number"} if "wompi_card_token" in used else set())
        if unused:
            where = f"api.pay.{gateway}" + (f".{method}" if method else "")
            raise ProfileError(f"{where}: the template never sends {{{sorted(unused)[0]}}}")
        filled = {**spec.values, **chosen, "order_id": str(order_id), "amount": str(amount)}
        if "wompi_card_token" in used and "wompi_card_token" not in filled:
            filled["wompi_card_token"] = await self.wompi_card_token(filled.get("card_number", DEFAULT_CARD))
        response = await self.request(spec, filled, user)
        body = _json(response)
        found = {}
        if response.is_success:
            found = {"reference": _pick(spec.reference, body),
                     "gateway_id": _pick(spec.gateway_id, body) if spec.gateway_id else None,
                     "code": _pick(spec.code, body) if spec.code else None}
        return Answer(response.status_code, body, response.text, response.headers, order_id=str(order_id),
                      response=response, **found)

    async def get_order(self, order_id: str, *, user: User = "buyer") -> httpx.Response:
        assert self.profile.api.get_order is not None
        return await self.request(self.profile.api.get_order, {"order_id": order_id}, user)

    async def post_webhook(self, gateway: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """Deliver ``body`` to the service's webhook path for ``gateway``, as the gateway would."""
        return await self.http.post(self.profile.webhooks[gateway], content=body, headers=headers)  # type: ignore[index]

    async def reconcile_efecty(self) -> httpx.Response | None:
        """The profile's ``[efecty.reconcile]`` request for today (Bogota), as its scheduled job would make it;
        None when the profile names none (the service learns of cash payments by itself, or not at all)."""
        spec = self.profile.efecty.reconcile
        if spec is None:
            return None
        today = (datetime.now(UTC) + BOGOTA_OFFSET).date().isoformat()
        request = Request.model_construct(method=spec.method, path=spec.path, json_body=None, form=None, headers={})
        return await self.request(request, {"today": today}, spec.user)

    async def wompi_card_token(self, number: str = DEFAULT_CARD) -> str:
        """A card token from the Wompi simulator, as the payer's browser would get it (public key)."""
        values = self.run.values
        response = await self.sims.post(f"{values['wompi_url']}/v1/tokens/cards", json={
            "number": number, "cvc": "123", "exp_month": "08", "exp_year": "30", "card_holder": "Ana Pérez"},
            headers={"authorization": f"Bearer {values['wompi_public_key']}"})
        response.raise_for_status()
        return str(response.json()["data"]["id"])

    # -- observations --------------------------------------------------------------------------------------
    async def order_status(self, order_id: str) -> str:
        """The service's own word for the order's status."""
        params = {"order_id": order_id}
        word = await self._one("order_status", params)
        if word is None:  # str() would make it the word 'None', blamed on the status map
            raise ObserveFailed(f"observe.order_status: returned NULL for {params}")
        return str(word)

    async def order_state(self, order_id: str) -> str:
        """``paid``, ``pending``, ``failed`` through the profile's status map, or ``other: <word>``."""
        word = await self.order_status(order_id)
        words = self.profile.observe.status_map
        assert words is not None
        for state in ("paid", "pending", "failed"):
            if word in getattr(words, state):
                return state
        return f"other: {word}"

    async def amount_paid(self, order_id: str) -> Decimal:
        value = await self._one("amount_paid", {"order_id": order_id})
        return _decimal("observe.amount_paid", value)

    async def transactions(self, order_id: str) -> list[dict[str, Any]]:
        rows = await self._rows("transactions", {"order_id": order_id})
        return [{**row, **({"amount": _decimal("observe.transactions.amount", row["amount"])}
                           if "amount" in row else {})} for row in rows]

    async def webhook_events(self, event_id: str) -> int:
        return _count("observe.webhook_events", await self._one("webhook_events", {"event_id": event_id}))

    async def order_count(self) -> int:
        return _count("observe.order_count", await self._one("order_count", {}))

    async def reset(self) -> None:
        """The profile's reset statements, then the simulators' state (between scenarios)."""
        if self.profile.database.reset:
            conn = await self._connect("database.reset")
            try:
                for i, statement in enumerate(self.profile.database.reset):
                    try:
                        await conn.execute(statement)
                    except asyncpg.PostgresError as exc:
                        raise ObserveFailed(f"database.reset[{i}]: {_first_line(exc)}") from None
            finally:
                await conn.close()
        for name in ("payu", "wompi", "efecty"):
            url = self.run.values.get(f"{name}_url")
            if url:
                (await self.sims.post(f"{url}/__admin/reset")).raise_for_status()

    async def _rows(self, name: str, params: dict[str, str]) -> list[dict[str, Any]]:
        read: Observation | None = getattr(self.profile.observe, name)
        field = f"observe.{name}"
        if read is None:
            raise ObserveFailed(f"{field}: missing")
        if isinstance(read, HttpRead):
            # Checked when the profile loaded, against what this read is given ({event_id} here, not in a Request).
            spec = Request.model_construct(method=read.method, path=read.path, json_body=None, form=None, headers={})
            response = await self.request(spec, params)
            if not response.is_success:
                raise ObserveFailed(f"{field}: {read.method} {response.request.url.path} answered "
                                    f"{response.status_code}")
            value = _pick(read.value, _json(response), field)
            return list(value) if isinstance(value, list) else [{"value": value}]
        query, names = sql_params(read)
        try:
            args = [params[n] for n in names]
        except KeyError as exc:
            raise ObserveFailed(f"{field}: unknown parameter :{exc.args[0]} (known: {', '.join(params)})") from None
        async with self._observer_lock:
            reused = self._conn is not None
            conn = await self._observer(field)
            try:
                records = await fetch(conn, query, args)
            except (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, OSError) as exc:
                # The kept connection died between reads (the database restarted): once more on a new one.
                await self._drop_observer()
                if not reused:
                    raise ObserveFailed(f"{field}: {_first_line(exc)}") from None
                records = await self._fetch_fresh(field, query, args, params)
            except asyncpg.PostgresError as exc:
                raise ObserveFailed(f"{field}: {_first_line(exc)}") from None
            except (ValueError, InvalidOperation):
                raise ObserveFailed(f"{field}: a parameter of {params} is not of its column's type") from None
        return [dict(r) for r in records]

    async def _fetch_fresh(self, field: str, query: str, args: list[str], params: dict[str, str]) -> list[Any]:
        conn = await self._observer(field)
        try:
            return await fetch(conn, query, args)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            await self._drop_observer()
            raise ObserveFailed(f"{field}: {_first_line(exc)}") from None
        except (ValueError, InvalidOperation):
            raise ObserveFailed(f"{field}: a parameter of {params} is not of its column's type") from None

    async def _observer(self, field: str) -> asyncpg.Connection:
        # One connection for every observe query of this Target: a connect costs ~15 ms, and a scenario or a
        # Hypothesis example reads the service dozens of times. Idle between reads (no transaction held), so
        # it never stands in the way of a reset's TRUNCATE; one closed under it is replaced.
        if self._conn is not None and self._conn.is_closed():
            self._conn = None
        if self._conn is None:
            self._conn = await self._connect(field)
        return self._conn

    async def _drop_observer(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close(timeout=2)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()

    @contextlib.asynccontextmanager
    async def database(self, field: str) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the caller's own on the service's database, closed on exit (``[evidence]`` probes open
        transactions, which the shared observer connection must never hold); ObserveFailed naming ``field``."""
        conn = await self._connect(field)
        try:
            yield conn
        finally:
            await conn.close()

    async def _one(self, name: str, params: dict[str, str]) -> Any:
        rows = await self._rows(name, params)
        if not rows:
            raise ObserveFailed(f"observe.{name}: returned no row for {params}")
        return next(iter(rows[0].values()))

    async def _connect(self, field: str) -> asyncpg.Connection:
        url = self.run.database_url
        if url is None:
            raise ObserveFailed(f"{field}: no database (database.url: missing)")
        try:
            return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            raise ObserveFailed(f"{field}: cannot connect to the database: {_first_line(exc)}") from None


INTEGER_TYPES = frozenset({"int2", "int4", "int8"})


async def fetch(conn: asyncpg.Connection, query: str, values: list[str]) -> list[asyncpg.Record]:
    """Run ``query`` with ``values`` (ids travel as text) converted to the type Postgres infers for each ``$n``.

    A service whose ids are integers compares them to an integer parameter; one whose ids are text must get
    text even when an id happens to be all digits — so the type comes from the prepared statement, never
    from the look of the value.
    """
    statement = await conn.prepare(query)
    return await statement.fetch(*typed_args(statement, values))


def typed_args(statement: asyncpg.prepared_stmt.PreparedStatement, values: list[str]) -> list[Any]:
    """``values`` (text) as the types Postgres inferred for the prepared ``statement``'s parameters."""
    args: list[Any] = []
    for value, kind in zip(values, statement.get_parameters(), strict=True):
        if kind.name in INTEGER_TYPES:
            args.append(int(value))
        elif kind.name == "numeric":
            args.append(Decimal(value))
        else:
            args.append(value)
    return args


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _pick(path: str, body: Any, field: str = "") -> Any:
    try:
        value = jsonpath.read(jsonpath.parse(path), body)
    except jsonpath.PathError as exc:
        if field:
            raise ObserveFailed(f"{field}: {exc}") from None
        return None
    return value if value is None or isinstance(value, list | dict) else str(value)


def _decimal(field: str, value: Any) -> Decimal:
    # NULL is no amount: read as 0 it let a query that misses (a wrong column, an outer join) pass every check
    # that expects nothing paid. A sum over no rows is NULL in SQL: coalesce(sum(...), 0) says 0 on purpose.
    if value is None:
        raise ObserveFailed(f"{field}: NULL, not an amount; write coalesce(..., 0) if nothing paid reads 0")
    if isinstance(value, float):  # a float has already lost the exact amount: say so, never convert it
        raise ObserveFailed(f"{field}: a float ({value!r}); read it as text (amount::text)")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ObserveFailed(f"{field}: not a number: {value!r}") from None


def _count(field: str, value: Any) -> int:
    if value is None:  # count(*) is never NULL: a NULL is a query that does not count (as for amounts)
        raise ObserveFailed(f"{field}: NULL, not a count")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ObserveFailed(f"{field}: not a count: {value!r}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
