"""payharness load: Locust users for the webhook path, the Wompi simulator, the checkout and Efecty cash.

Thin users; what they send is built in ``load.payloads``, done in ``load.actions``, and audited by
``load.listeners`` when Locust quits. The shape (``--shape steady|ramp|spike``) turns ``--rate`` events/s
into users paced at ``--user-rate`` each, closed-loop (each waits for its answer), or (``--pacing open``) into
``--open-users`` users per Locust process whatever the rate, each sending its share on a fixed schedule
(load/shapes.py).

Usage::

    locust -f load/locustfile.py --headless --host http://127.0.0.1:8000 --database-url postgresql://… \\
           --wompi-url http://127.0.0.1:8082 --rate 500 --duration 60 -t 70s
    locust -f load/locustfile.py --host … --database-url …          # web UI on http://127.0.0.1:8089
"""

from __future__ import annotations

import gc
import itertools
import logging
import random
import time
import uuid
from decimal import Decimal
from typing import Any

import gevent
from gevent.pool import Group
from locust import FastHttpUser, LoadTestShape, constant_throughput, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner

import load.listeners  # noqa: F401 - registers the options, the seeding, the ledger collection and the audit
from harness.stack import simulator_credentials
from load.actions import (
    Context,
    WompiKeys,
    acceptance_token,
    checkout,
    deliver,
    efecty_cash,
    not_sent,
    pay_at_simulator,
)
from load.openloop import OpenLoop
from load.payloads import (
    Delivery,
    Mix,
    Renderer,
    Signed,
    SignedRequest,
    plan_sim_story,
    plan_story,
    presign,
    secrets_from,
    sign_story,
)
from load.shapes import OPEN, Pacer, Stage, open_rate, stage_at, users_for, webhook_stages
from load.state import LoadState, state_of

_user_ids = itertools.count(1)


def _opts(environment: Any) -> Any:
    """Parsed options with the custom ones (payharness load adds them to Locust's parser at start-up)."""
    return environment.parsed_options


def _duration(opts: Any) -> float:
    """The shape's length: ``--duration``, else ``--run-time``; steady runs until stopped when neither is set."""
    return float(opts.duration or opts.run_time or (60.0 if opts.shape != "steady" else 10.0**9))


# Open pacing: when this process's first webhook user of each run started, the origin of the shape's rate factor
# (a worker has no shape of its own; its users start when the master's shape clock does, within a tick).
_OPEN_STARTED: dict[str, float] = {}


def _credentials() -> dict[str, dict[str, str]]:
    return _CREDENTIALS


# Read once when Locust loads this file: the simulators' configs import their apps, seconds of CPU that
# would otherwise stall the first user (and every other greenlet) after the test started.
_CREDENTIALS = simulator_credentials()


class _LoadUser(FastHttpUser):
    abstract = True
    connection_timeout = 5.0
    network_timeout = 15.0
    pool: str = ""

    def _ctx(self) -> Context:
        state = state_of(self.environment)
        assert state.writer is not None, "the ledger opens at test_start"
        return Context(state.writer, state.run_id, _opts(self.environment).max_tries)


class _WebhookUser(_LoadUser):
    """Plays one story per task: its steps in order, each step's deliveries at the same moment.

    ``--pacing closed``: the task sends the story and waits for its answers, then the pacer's delay.
    ``--pacing open``: the task only hands the story to the user's ``OpenLoop`` (load/openloop.py), which
    sends each step at its scheduled instant, timed from it, within the user's cap of requests in flight."""

    abstract = True

    def __init__(self, environment: Any) -> None:
        opts = environment.parsed_options
        if opts is not None and opts.pacing == OPEN:
            # One connection per request in flight: a request queued for a connection inside the client would
            # still be timed from its instant, but the cap, not the client's pool, is what bounds a user.
            self.concurrency = max(self.concurrency, opts.max_in_flight)
        super().__init__(environment)

    def on_start(self) -> None:
        opts = _opts(self.environment)
        self.mix = Mix.parse(opts.mix)
        self.render = Renderer(secrets_from(_credentials()))
        self.open: OpenLoop | None = None
        if opts.pacing == OPEN:
            state = state_of(self.environment)
            # --rate shared by --open-users users on each process (--user-rate plays no part), the shape on the rate.
            rate, factor = open_rate(opts.shape, rate=opts.rate, per_process=opts.open_users, processes=state.workers,
                                     duration=_duration(opts),
                                     started=_OPEN_STARTED.setdefault(state.run_id, time.perf_counter()))
            self.open = OpenLoop(rate, opts.max_in_flight, self._refuse, factor=factor)
        # Closed: ⌈rate / user-rate⌉ users share the rate exactly (rounding up the users must not raise the rate).
        self.pacer = Pacer(opts.rate / users_for(opts.rate, opts.user_rate))
        self.bursts = Group()
        self.delay = 0.0
        # A gateway keeps no cookies, and the cookie jar's bookkeeping was ~6 % of this process's samples
        # (py-spy at 500 events/s): geventhttpclient skips it when its user agent has none.
        self.client.client.cookiejar = None
        gevent.sleep(self.open.wait() if self.open else self.pacer.first_delay())

    def on_stop(self) -> None:
        self.bursts.kill(block=True)  # requests in flight write their ledger entries as they die
        if self.open:
            self.open.stop()

    def wait_time(self) -> float:
        return self.open.wait() if self.open else self.delay

    def _refuse(self, delivery: Delivery, in_flight: int, cap: int) -> None:
        not_sent(self.environment.events.request, delivery, in_flight=in_flight, cap=cap)

    def _send(self, step: tuple[tuple[Delivery, SignedRequest], ...], ctx: Context) -> None:
        if len(step) == 1:
            deliver(self.client, *step[0], ctx)
            return
        for delivery, request in step:
            self.bursts.spawn(deliver, self.client, delivery, request, ctx)
        self.bursts.join()

    def _steps(self, state: LoadState) -> tuple[tuple[tuple[Delivery, SignedRequest], ...], ...]:
        index = state.next_index(self.pool)
        signed = _PRESIGNED.get((state.run_id, self.pool, index))
        if signed is None:  # a run started from the web UI with another mix, or a pool that wrapped around
            signed = sign_story(plan_story(state.run_id, self.pool, index, self.mix), self.render)
        return signed.steps

    @task
    def story(self) -> None:
        state, ctx = state_of(self.environment), self._ctx()
        if self.open:  # each story played in its own greenlet, each step timed from its scheduled instant
            client = self.client
            self.open.start_due(lambda: self._steps(state),
                                lambda delivery, request, at: deliver(client, delivery, request, ctx, scheduled=at))
            return
        steps = self._steps(state)
        for n, step in enumerate(steps):
            if n:
                gevent.sleep(self.pacer.after(len(steps[n - 1])))
            self._send(step, ctx)
        self.delay = self.pacer.after(len(steps[-1]))


# The webhook stories this process will drive, signed at test start (before the shape's clock starts): the
# users then only send bytes. Keyed by run, so a second run of a web-UI session signs its own.
_PRESIGNED: dict[tuple[str, str, int], Signed] = {}


@events.test_start.add_listener
def _presign(environment: Any, **_: Any) -> None:
    """Runs after load.listeners' test_start (registered first), which seeds and sets the run's pools."""
    if isinstance(environment.runner, MasterRunner):
        return  # the master sends nothing
    state, opts = state_of(environment), _opts(environment)
    mix, secrets = Mix.parse(opts.mix), secrets_from(_credentials())
    _PRESIGNED.clear()
    started = time.perf_counter()
    for cls in environment.runner.user_classes:
        if issubclass(cls, _WebhookUser) and cls.pool in state.pools:
            for index, signed in presign(state.run_id, cls.pool, state.indices(cls.pool), mix, secrets).items():
                _PRESIGNED[(state.run_id, cls.pool, index)] = signed
    logging.getLogger("payharness.load").warning("payharness load: signed %d stories in %.1f s", len(_PRESIGNED),
                                                 time.perf_counter() - started)
    gc.collect()
    gc.freeze()  # as load.listeners does: what lives the whole run stays out of the collector's sight


class WompiWebhookUser(_WebhookUser):
    """Signed ``transaction.updated`` events for orders seeded beforehand."""

    pool = "wompi"
    weight = 3


class PayUWebhookUser(_WebhookUser):
    """Signed PayU confirmations (form-encoded) for orders seeded beforehand."""

    pool = "payu"
    weight = 1


class WompiGatewayUser(_LoadUser):
    """Pays seeded orders at the Wompi simulator, which then sends the events (and retries them) itself."""

    pool = "sim"
    fixed_count = 1

    def on_start(self) -> None:
        opts = _opts(self.environment)
        if not opts.wompi_url:
            raise StopUser  # nothing to drive without the simulator
        creds = _credentials()["wompi"]
        self.base = opts.wompi_url.rstrip("/")
        self.keys = WompiKeys(creds["public_key"], creds["private_key"], creds["integrity_secret"])
        self.acceptance = acceptance_token(self.client, self.base, self.keys)

    def wait_time(self) -> float:
        return float(constant_throughput(_opts(self.environment).sim_rate)(self))

    @task
    def pay(self) -> None:
        state = state_of(self.environment)
        if self.acceptance is None:
            self.acceptance = acceptance_token(self.client, self.base, self.keys)
            return
        story = plan_sim_story(state.run_id, state.next_index("sim"))
        pay_at_simulator(self.client, self.base, self.keys, story, self.acceptance, self._ctx())


class _ApiUser(_LoadUser):
    abstract = True

    def on_start(self) -> None:
        opts = _opts(self.environment)
        if not opts.token_secret:
            raise StopUser  # the API needs tokens signed with the core's secret
        from pydantic import SecretStr

        from core.auth import mint_token
        from core.settings import AuthSettings

        self.auth = AuthSettings(token_secret=SecretStr(opts.token_secret))
        self.mint = mint_token
        self.rng = random.Random()
        self.uid = f"{next(_user_ids)}{uuid.uuid4().hex[:4]}"
        self.n = 0

    def wait_time(self) -> float:
        return float(constant_throughput(_opts(self.environment).checkout_rate)(self))

    def buyer_token(self) -> str:
        # A buyer per payment: the per-buyer rate limit is about people, not about this test.
        self.n += 1
        return str(self.mint(self.auth, f"load-{state_of(self.environment).run_id}-{self.uid}-{self.n}", "buyer"))

    def amount(self) -> Decimal:
        return Decimal(self.rng.randrange(10_000, 500_000))


class CheckoutUser(_ApiUser):
    """Creates an order and pays it by card through ``POST /payments/process``; the simulator approves later."""

    fixed_count = 1

    def on_start(self) -> None:
        super().on_start()
        opts = _opts(self.environment)
        if not opts.wompi_url:
            raise StopUser  # cards are tokenised at the Wompi simulator
        creds = _credentials()["wompi"]
        self.wompi = opts.wompi_url.rstrip("/")
        self.keys = WompiKeys(creds["public_key"], creds["private_key"], creds["integrity_secret"])

    @task
    def pay_by_card(self) -> None:
        checkout(
            self.client,
            self.buyer_token(),
            self.amount(),
            "4242424242424242",
            self._ctx(),
            wompi=self.wompi,
            keys=self.keys,
            replay=self.rng.random() < 0.2,
        )


class EfectyUser(_ApiUser):
    """Pays an order in cash: voucher from the core, paid at the simulator's counter, confirmed by an admin."""

    fixed_count = 1

    def on_start(self) -> None:
        super().on_start()
        if not _opts(self.environment).efecty_url:
            raise StopUser  # the counter payment happens at the Efecty simulator
        self.efecty = _opts(self.environment).efecty_url.rstrip("/")
        self.admin = str(self.mint(self.auth, "load-admin", "admin", ttl=24 * 3600))

    @task
    def pay_in_cash(self) -> None:
        efecty_cash(
            self.client,
            self.buyer_token(),
            self.admin,
            self.amount(),
            self._ctx(),
            efecty=self.efecty,
            confirm_twice=self.rng.random() < 0.2,
        )


class RateShape(LoadTestShape):
    """``--shape`` over ``--duration`` (else ``--run-time``; steady runs until stopped when neither is set)."""

    use_common_options = True

    def reset_time(self) -> None:
        super().reset_time()
        self._stages: tuple[Stage, ...] | None = None
        self._run: str | None = None

    def _plan(self) -> None:
        runner = self.runner
        assert runner is not None
        opts = _opts(runner.environment)
        self._webhooks = any(issubclass(u, _WebhookUser) for u in runner.user_classes)
        self._fixed = sum(u.fixed_count for u in runner.user_classes)
        processes = runner.worker_count if isinstance(runner, MasterRunner) else 1
        self._stages = webhook_stages(opts.pacing, opts.shape, rate=opts.rate, user_rate=opts.user_rate,
                                      open_per_process=opts.open_users, processes=max(1, processes),
                                      duration=_duration(opts))

    def tick(self) -> tuple[int, float] | None:
        if getattr(self, "_stages", None) is None:
            self._plan()
        assert self._stages is not None and self.runner is not None
        state = state_of(self.runner.environment)
        run = state.run_ids[-1] if state.run_ids else None
        if run != getattr(self, "_run", None):
            # The clock starts once the run's orders are seeded: seeding blocks test_start for seconds.
            self._run = run
            self.start_time = time.perf_counter()
        stage = stage_at(self._stages, self.get_run_time() if run else 0.0)
        if stage is None:
            return None
        # The fixed-count users (simulator, checkout, Efecty) come on top of the paced webhook users.
        webhook_users = stage.users if self._webhooks else 0
        return webhook_users + self._fixed, max(stage.spawn_rate, float(self._fixed))
