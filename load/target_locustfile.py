"""Locust users for a profiled service: signed webhook events, prepared by ``load.target``, posted at a rate.

Each user picks events at random from the prepared set (so approvals arrive many times, concurrently) and
writes every answer to the ledger (one JSON line per request, one file per process) for the audit.
Run by ``python -m load.target``, never alone: the events and the ledger folder come in its environment.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from locust import HttpUser, constant_throughput, task

EVENTS = json.loads(Path(os.environ.get("PAYHARNESS_TARGET_EVENTS", "/dev/null")).read_text() or "[]")
LEDGER = Path(os.environ.get("PAYHARNESS_TARGET_LEDGER", "."))
USER_RATE = float(os.environ.get("PAYHARNESS_TARGET_USER_RATE", "1"))


class TargetWebhookUser(HttpUser):
    """Posts the prepared events to the service's webhook path, ``USER_RATE`` a second."""

    wait_time = constant_throughput(USER_RATE)

    def on_start(self) -> None:
        LEDGER.mkdir(parents=True, exist_ok=True)
        self.ledger = (LEDGER / f"{os.getpid()}-{id(self)}.jsonl").open("a")
        self.rng = random.Random()

    def on_stop(self) -> None:
        self.ledger.close()

    @task
    def deliver(self) -> None:
        event: dict[str, Any] = self.rng.choice(EVENTS)
        with self.client.post(event["path"], data=event["body"].encode(), headers=event["headers"],
                              name=f"webhook {event['gateway']}", catch_response=True) as answer:
            status = answer.status_code
            if 200 <= status < 300:
                answer.success()
            else:
                answer.failure(f"{status}")
        self.ledger.write(json.dumps({"payment": event["payment"], "status": status}) + "\n")
        self.ledger.flush()
