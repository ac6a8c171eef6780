"""The preflight: before any scenario or load, every part of the profile is used once, or the run stops.

Each check exercises one field the scenarios will lean on — the service answers, an order can be created
and its id found, each observe query answers for that order, each [evidence] field is understood by the
database, each gateway's payment answers with the paths the profile names, each webhook path exists, the
reset runs — and the first that fails stops the
run with one line naming the field: ``shop.toml: observe.amount_paid: returned no row for {'order_id': '1'}``.

Usage: ``await preflight(target)`` (raises PreflightFailed) or ``payharness audit --target shop.toml``.
"""

from __future__ import annotations

import asyncio
import secrets
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx

from harness.postgres import PostgresHandle
from harness.target.evidence import event_links, locate
from harness.target.profile import load_profile
from harness.target.run import TargetFailed, TargetRun
from harness.target.target import ObserveFailed, Target, sql_params

AMOUNT = Decimal("50000.00")


class PreflightFailed(RuntimeError):
    """One line: the profile file, the field, what went wrong."""


async def preflight(target: Target) -> list[str]:
    """Run every check; returns what was checked (one line each), raises PreflightFailed at the first failure."""
    source = target.profile.source.name if target.profile.source else "profile"
    try:
        return await _checks(target)
    except ObserveFailed as exc:
        raise PreflightFailed(f"{source}: {exc}") from None
    except httpx.TransportError as exc:
        where = "service.base_url" if target.profile.service.base_url else "service.command"
        raise PreflightFailed(f"{source}: {where}: {target.run.base_url}: {type(exc).__name__} "
                              f"({exc or 'no answer'})") from None
    except _Failed as exc:
        raise PreflightFailed(f"{source}: {exc}") from None
    except Exception as exc:  # fail closed: any other failure stops the audit in one line too
        raise PreflightFailed(f"{source}: the preflight stopped on {type(exc).__name__}: "
                              f"{(str(exc).strip().splitlines() or ['no message'])[0][:200]}") from None


class _Failed(Exception):
    pass


async def _checks(target: Target) -> list[str]:
    profile, done = target.profile, []
    ready = await target.http.get(profile.service.ready_path)
    if not ready.is_success:
        raise _Failed(f"service.ready_path: GET {profile.service.ready_path} answered {ready.status_code}")
    done.append(f"service answers at {target.run.base_url}")
    await target.reset()
    done.append("database.reset runs" if profile.database.reset else "no database.reset (state carries over)")
    order = await target.create_order(AMOUNT)
    spec = profile.api.create_order
    if not 200 <= order.status < 300:
        raise _Failed(f"api.create_order: {spec.method} {spec.path} answered {order.status}: {order.text[:120]!r}")
    if order.order_id is None:
        raise _Failed(f"api.create_order.order_id: {spec.order_id}: not in the answer {order.text[:120]!r}")
    _an_id("api.create_order.order_id", spec.order_id, order.order_id)
    done.append(f"create_order answers an id ({order.order_id})")
    done += await _observe(target, order.order_id)
    done += await _evidence(target)
    for gateway, pay_spec in profile.api.pay.items():
        fresh = await target.create_order(AMOUNT)
        assert fresh.order_id is not None
        paid = await target.pay(gateway, fresh.order_id, AMOUNT)
        if not 200 <= paid.status < 300:
            raise _Failed(f"api.pay.{gateway}: {pay_spec.method} {pay_spec.path} answered {paid.status}: "
                          f"{paid.text[:120]!r}")
        for name in ("reference", "gateway_id", "code"):
            path = getattr(pay_spec, name)
            if path is not None and getattr(paid, name) is None:
                raise _Failed(f"api.pay.{gateway}.{name}: {path}: not in the answer {paid.text[:120]!r}")
            if path is not None:
                _an_id(f"api.pay.{gateway}.{name}", path, getattr(paid, name))
        done.append(f"pay.{gateway} answers a reference ({paid.reference})")
    for gateway, path in profile.webhooks.items():
        answer = await target.http.post(path, content=b"{}", headers={"content-type": "application/json"})
        if answer.status_code in (404, 405):
            raise _Failed(f"webhooks.{gateway}: POST {path} answered {answer.status_code} (no such route)")
        done.append(f"webhooks.{gateway} exists (an empty event: {answer.status_code})")
    await target.reset()
    return done


def _an_id(field: str, path: str, value: object) -> None:
    # An id is filled into paths and queries as text: an object's or a list's text is no id of the service's.
    if isinstance(value, dict | list):
        kind = "an object" if isinstance(value, dict) else "a list"
        raise _Failed(f"{field}: {path}: {kind} in the answer, not an id: {str(value)[:80]}")


async def _observe(target: Target, order_id: str) -> list[str]:
    observe, done = target.profile.observe, []
    if observe.order_status is not None:
        state = await target.order_state(order_id)
        if state.startswith("other"):
            word = state.removeprefix("other: ")
            raise _Failed(f"observe.status_map: {word!r}, a new order's status, is in none of paid, pending, failed")
        done.append(f"order_status of a new order: {state}")
    if observe.amount_paid is not None:
        done.append(f"amount_paid of a new order: {await target.amount_paid(order_id)}")
    if observe.transactions is not None:
        done.append(f"transactions of a new order: {len(await target.transactions(order_id))}")
    if observe.webhook_events is not None:
        done.append(f"webhook_events of an unknown event: {await target.webhook_events(secrets.token_hex(6))}")
    if observe.order_count is not None:
        done.append(f"order_count: {await target.order_count()}")
    return done


async def _evidence(target: Target) -> list[str]:
    """Each [evidence] field is understood by the database: the query answers, the column exists and the probe
    statement prepares (prepared only, never run: the probe runs in its scenario, rolled back)."""
    evidence, done = target.profile.evidence, []
    if evidence.event_transaction is not None:
        links = await event_links(target, secrets.token_hex(6))
        done.append(f"evidence.event_transaction of an unknown transaction: {len(links)} events")
    spec = evidence.efecty_code
    if spec is not None:
        async with target.database("evidence.efecty_code") as conn:
            column = await locate(conn, spec)
            try:
                async with conn.transaction():
                    await conn.prepare(sql_params(spec.repeat)[0])
                    raise _RolledBack
            except _RolledBack:
                pass
            except asyncpg.PostgresError as exc:
                raise _Failed(f"evidence.efecty_code.repeat: {str(exc).strip().splitlines()[0]}") from None
        done.append(f"evidence.efecty_code: {column.table}.{column.name} exists, the repeat statement prepares")
    return done


class _RolledBack(Exception):
    """Raised inside a transaction to leave it by rollback."""


def check_profile(path: Path, *, postgres: PostgresHandle | None = None, log_dir: Path | None = None) -> list[str]:
    """Load the profile at ``path``, bring its service up, run the preflight, stop it all; PreflightFailed
    (or ProfileError) with one line naming the field. Usage: ``payharness audit --target shop.toml``."""
    profile = load_profile(path)
    try:
        with TargetRun.start(profile, postgres=postgres, log_dir=log_dir) as run:
            return asyncio.run(_with_target(run))
    except TargetFailed as exc:
        raise PreflightFailed(f"{path.name}: {exc}") from None


async def _with_target(run: TargetRun) -> list[str]:
    async with Target(run) as target:
        return await preflight(target)
