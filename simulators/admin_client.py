"""SimulatorAdmin: a typed HTTP client for a running simulator's /__admin API (clock, faults, journal, webhooks).

Usage::

    admin = SimulatorAdmin("wompi", "http://127.0.0.1:8002")
    admin.faults.inject(HttpError(503), path="/v1/transactions", method="POST", count=1)
    admin.clock.advance(1800)
    admin.journal.assert_one("CREATE_TRANSACTION", reference="order-1")
    admin.deliveries.wait(url=shop_url + "/webhooks/wompi", outcome="delivered")

Synchronous on purpose: the simulators run in their own threads or processes, so a test (sync or
async) can call this without an event loop of its own. Every failed admin call raises
``httpx.HTTPStatusError``; every failed assertion raises ``AssertionError`` with what was seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Self

import httpx

from simulators.common.chaos import ChaosRule, WebhookChaosPlan
from simulators.common.faults import Fault, FaultPlan, FaultRule

Gateway = Literal["payu", "wompi", "efecty"]
JournalKind = Literal["request", "webhook", "admin", "state"]
Outcome = Literal["delivered", "retry_scheduled", "exhausted", "replayed"]

# Where each simulator keeps its account-level webhook URL (a PayU request's notifyUrl still wins).
TARGET_PATHS: dict[str, str] = {
    "payu": "/__admin/payu/confirmation-url",
    "wompi": "/__admin/wompi/events-url",
    "efecty": "/__admin/notify-url",
}


class Clock:
    """The simulated clock: wall time plus an offset that only moves forward."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def now(self) -> str:
        """The simulated present, ISO-8601 UTC. Usage: ``sim.clock.now()``."""
        return str(_json(self._http.get("/__admin/clock"))["now"])

    def advance(self, seconds: float) -> int:
        """Move time forward and run every job that came due (state changes, webhook attempts).

        Returns how many jobs ran; when it returns, every attempt that came due has been made.
        Usage: ``sim.clock.advance(30 * 60)`` reaches Wompi's first retry.
        """
        return int(_json(self._http.post("/__admin/clock/advance", json={"seconds": seconds}))["jobs_run"])


class Faults:
    """The fault plan applied to the simulator's public API (never to /__admin)."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def inject(
        self,
        fault: Fault,
        *,
        path: str = "*",
        method: str = "*",
        count: int | None = None,
        probability: float = 1.0,
        match_command: str | None = None,
    ) -> None:
        """Add one rule after the rules already in the plan.

        ``path`` is an fnmatch glob on the URL path; ``count`` limits the rule to the next N matches;
        ``match_command`` matches PayU's body ``command``. Usage:
        ``sim.faults.inject(HttpError(503), path="/v1/transactions", method="POST", count=1)``.
        """
        rule = FaultRule(fault, path=path, method=method, count=count, probability=probability,
                         match_command=match_command)
        current = self.plan()
        self.set_plan(FaultPlan(rules=(*current.rules, rule), seed=current.seed))

    def set_plan(self, plan: FaultPlan) -> None:
        """Replace the whole plan. Usage: ``sim.faults.set_plan(FaultPlan((FaultRule(Latency(200)),), seed=7))``."""
        _json(self._http.put("/__admin/faults", json=plan.to_dict()))

    def plan(self) -> FaultPlan:
        """The plan in force now."""
        return FaultPlan.from_dict(_json(self._http.get("/__admin/faults"))["plan"])

    def applied(self) -> list[int]:
        """How many times each rule fired, in plan order. Usage: ``assert sim.faults.applied() == [1]``."""
        return [int(n) for n in _json(self._http.get("/__admin/faults"))["applied"]]

    def clear(self) -> None:
        """Remove every fault rule. Usage: ``sim.faults.clear()``."""
        _json(self._http.delete("/__admin/faults"))


class Chaos:
    """The webhook chaos plan: duplicates, reordering, delays, replays, tampering."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def set_plan(self, plan: WebhookChaosPlan) -> None:
        """Replace the chaos plan. Usage: ``sim.chaos.set_plan(WebhookChaosPlan((ChaosRule(Duplicate(2)),)))``."""
        _json(self._http.put("/__admin/chaos", json=plan.to_dict()))

    def add(self, rule: ChaosRule) -> None:
        """Add one rule after the rules already in the plan."""
        current = WebhookChaosPlan.from_dict(_json(self._http.get("/__admin/chaos"))["plan"])
        self.set_plan(WebhookChaosPlan(rules=(*current.rules, rule), seed=current.seed))

    def clear(self) -> None:
        """Remove every chaos rule."""
        _json(self._http.delete("/__admin/chaos"))


class Journal:
    """What the simulator received, sent and was told, oldest first."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def entries(self, kind: JournalKind | None = None, *, since: int = 0) -> list[dict[str, Any]]:
        """Journal entries, optionally of one kind and after sequence number ``since``.

        Usage: ``[e["status"] for e in sim.journal.entries("request")]``.
        """
        params: dict[str, str | int] = {"since": since}
        if kind is not None:
            params["kind"] = kind
        return list(_json(self._http.get("/__admin/journal", params=params))["entries"])

    def calls(self, operation: str, *, reference: str | None = None) -> list[dict[str, Any]]:
        """Requests the gateway handled as ``operation``, optionally for one merchant reference.

        ``operation`` is what the journal's summary names the call: ``CREATE_TRANSACTION`` (Wompi),
        ``SUBMIT_TRANSACTION`` (PayU), ``register`` or ``pay`` (Efecty). A request refused by an
        injected fault never reached the gateway and is not a call; a handled request whose answer a
        fault damaged (``malformed``, ``truncated``) is.
        """
        found = []
        for entry in self.entries("request"):
            summary = entry.get("summary") or {}
            if operation not in (summary.get("operation"), summary.get("command")):
                continue
            if reference is not None and reference not in (summary.get("reference"), summary.get("payment_code")):
                continue
            found.append(entry)
        return found

    def assert_count(self, expected: int, operation: str, *, reference: str | None = None) -> list[dict[str, Any]]:
        """Fail unless exactly ``expected`` such calls were made; returns them.

        Usage: ``sim.journal.assert_count(0, "CREATE_TRANSACTION", reference="order-7")``.
        """
        found = self.calls(operation, reference=reference)
        if len(found) != expected:
            what = operation + (f" for reference {reference!r}" if reference is not None else "")
            seen = [(e.get("method"), e.get("path"), e.get("status"), e.get("summary")) for e in found]
            raise AssertionError(f"expected {expected} {what}, the journal holds {len(found)}: {seen}")
        return found

    def assert_one(self, operation: str, *, reference: str | None = None) -> dict[str, Any]:
        """Fail unless exactly one such call was made; returns its journal entry.

        Usage: ``sim.journal.assert_one("CREATE_TRANSACTION", reference="order-1")["summary"]["transaction_id"]``.
        """
        return self.assert_count(1, operation, reference=reference)[0]


class Deliveries:
    """Webhook attempts the simulator made, and where it sends them."""

    def __init__(self, http: httpx.Client, gateway: Gateway) -> None:
        self._http = http
        self._gateway = gateway

    def attempts(self, *, url: str | None = None, outcome: Outcome | None = None) -> list[dict[str, Any]]:
        """Every attempt (url, attempt, status, outcome, request and response bodies), oldest first.

        Usage: ``[a["status"] for a in sim.deliveries.attempts(url=hook)]``.
        """
        log: list[dict[str, Any]] = _json(self._http.get("/__admin/deliveries"))
        return [a for a in log if (url is None or a["url"] == url) and (outcome is None or a["outcome"] == outcome)]

    def summary(self) -> list[dict[str, Any]]:
        """One line per delivery: its status (pending, delivered, exhausted) and attempts so far."""
        return list(_json(self._http.get("/__admin/deliveries/summary")))

    def wait(
        self,
        *,
        url: str | None = None,
        outcome: Outcome | None = None,
        count: int = 1,
        timeout: float = 10.0,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Poll until at least ``count`` attempts match, then return the matching ones.

        A first attempt is made as soon as the event happens, on real time; retries wait for the
        simulated clock (``sim.clock.advance``). Raises ``AssertionError`` listing what did arrive
        after ``timeout`` seconds. Usage: ``sim.deliveries.wait(url=hook, outcome="delivered")``.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = [a for a in self.attempts(url=url, outcome=outcome) if where is None or where(a)]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                seen = [(a["url"], a["attempt"], a["status"], a["outcome"]) for a in self.attempts()]
                raise AssertionError(
                    f"waited {timeout}s for {count} webhook attempt(s) to {url or 'any URL'}"
                    f" with outcome {outcome or 'any'}; attempts so far: {seen}"
                )
            time.sleep(0.02)

    def target(self, url: str | None) -> None:
        """Send this gateway's webhooks to ``url`` from now on (``None``: send none).

        It is the account-level setting: Wompi's events URL, PayU's confirmation URL (a payment's
        own ``notifyUrl`` still wins), Efecty's push URL. A reset restores the configured one.
        Usage: ``sim.deliveries.target(shop_url + "/webhooks/wompi")``.
        """
        _json(self._http.put(TARGET_PATHS[self._gateway], json={"url": url}))

    def current_target(self) -> str | None:
        """Where webhooks go now (``None``: nowhere)."""
        url = _json(self._http.get(TARGET_PATHS[self._gateway]))["url"]
        return None if url is None else str(url)


class SimulatorAdmin:
    """A client for one running simulator's admin API, grouped as clock, faults, chaos, journal, deliveries.

    Usage: ``with SimulatorAdmin("payu", base_url) as admin: admin.reset()``. Close it (or use it as a
    context manager) to release its connections.
    """

    def __init__(self, gateway: Gateway, base_url: str, *, timeout: float = 30.0) -> None:
        if gateway not in TARGET_PATHS:
            raise ValueError(f"unknown gateway {gateway!r}; expected one of {sorted(TARGET_PATHS)}")
        self.gateway: Gateway = gateway
        self.base_url = base_url.rstrip("/")
        # The reset waits for deliveries on the wire (up to 15 s), hence a timeout above that.
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self.clock = Clock(self._http)
        self.faults = Faults(self._http)
        self.chaos = Chaos(self._http)
        self.journal = Journal(self._http)
        self.deliveries = Deliveries(self._http, gateway)

    def reset(self) -> dict[str, Any]:
        """Forget state, journal, faults, chaos, deliveries and pending jobs; clock back to the wall.

        Deliveries already on the wire get their answer first. Usage: ``sim.reset()``.
        """
        return dict(_json(self._http.post("/__admin/reset")))

    def get(self, path: str) -> Any:
        """GET a gateway-specific admin path, e.g. ``sim.get("/__admin/payu/orders")``; returns the JSON."""
        return _json(self._http.get(path))

    def post(self, path: str, json: Mapping[str, Any] | None = None) -> Any:
        """POST to a gateway-specific admin path, e.g. ``sim.post("/__admin/vouchers/C-1/pay")``; returns the JSON."""
        return _json(self._http.post(path, json=dict(json) if json is not None else None))

    def close(self) -> None:
        """Release the client's connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()
