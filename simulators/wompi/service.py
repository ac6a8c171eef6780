"""WompiGateway: the simulated merchant account's behaviour over time (finalising, events, Nequi tokens).

Usage: ``gateway = WompiGateway(config, clock=..., scheduler=..., dispatcher=..., journal=...)``
"""

from __future__ import annotations

from typing import Any

from simulators.common.clock import SimClock
from simulators.common.delivery import WebhookDispatcher
from simulators.common.journal import Journal
from simulators.common.scheduler import Scheduler
from simulators.wompi.config import WompiConfig
from simulators.wompi.events import transaction_event
from simulators.wompi.state import EXPIRED_MESSAGE, NequiToken, Transaction, WompiState


class WompiGateway:
    """Gateway side of ``app.state.sim``: the store plus what happens on the simulated clock."""

    def __init__(
        self,
        config: WompiConfig,
        *,
        clock: SimClock,
        scheduler: Scheduler,
        dispatcher: WebhookDispatcher,
        journal: Journal,
    ) -> None:
        self.config = config
        self.clock = clock
        self.scheduler = scheduler
        self.dispatcher = dispatcher
        self.journal = journal
        self.store = WompiState(config)
        self.events_url: str | None = config.events_url

    def reset(self) -> None:
        """Back to start-up state (the shared admin reset clears clock, journal, faults and chaos)."""
        self.store.reset()
        self.events_url = self.config.events_url

    def transaction_json(self, tx: Transaction) -> dict[str, Any]:
        return tx.to_json(self.clock.now(), self.store.merchant_summary())

    def accept_transaction(self, tx: Transaction) -> None:
        """Store a new PENDING transaction and schedule its sandbox outcome on the simulated clock."""
        self.store.add_transaction(tx)
        if tx.async_url is not None:
            ready = tx.created_at.timestamp() + self.config.async_url_delay_seconds
            tx.async_url_ready_at = self.clock.to_datetime(ready)

        async def settle() -> None:
            if tx.status != "PENDING":
                return
            if tx.expires_at is not None and self.clock.now() >= tx.expires_at:
                # Chosen (Wompi does not say): past its expiration_time a payment is declined, never approved.
                self.finalize(tx, "DECLINED")
                tx.status_message = EXPIRED_MESSAGE
                return
            self.finalize(tx, tx.outcome)

        tx.job_id = self.scheduler.call_later(
            self.config.finalize_delay_seconds, settle, name=f"wompi finalize {tx.id}"
        )

    def finalize(self, tx: Transaction, status: str) -> None:
        """Make a transaction final now and queue its transaction.updated event when an events URL is set."""
        if tx.job_id is not None:
            self.scheduler.cancel(tx.job_id)
        self.store.finalize(tx, status, self.clock.now())
        self.journal.record("state", gateway="wompi", transaction_id=tx.id, reference=tx.reference, status=status)
        if self.events_url:
            message = transaction_event(tx, config=self.config, clock=self.clock, url=self.events_url)
            self.dispatcher.send(message)

    def create_nequi_token(self, phone_number: str) -> NequiToken:
        token = self.store.add_nequi_token(phone_number, self.clock.now())

        async def settle() -> None:
            self.store.settle_nequi_token(token)

        self.scheduler.call_later(self.config.nequi_token_delay_seconds, settle, name=f"nequi {token.id}")
        return token
