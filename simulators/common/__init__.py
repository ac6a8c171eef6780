"""The engine every simulator shares: clock, scheduler, faults, webhook chaos and delivery, admin API."""

from simulators.common.admin import build_admin_router
from simulators.common.chaos import (
    ChaosRule,
    Delay,
    Duplicate,
    MissingSignature,
    Reorder,
    ReplayLater,
    TamperSigned,
    TamperUnsigned,
    WebhookChaosPlan,
    WrongSecret,
    chaos_from_dict,
)
from simulators.common.clock import SimClock
from simulators.common.delivery import WebhookBuilder, WebhookDispatcher, WebhookMessage
from simulators.common.faults import (
    ConnectionReset,
    FailThenSucceed,
    FaultInjector,
    FaultPlan,
    FaultRule,
    Hang,
    HttpError,
    Latency,
    Malformed,
    RateLimited,
    Truncated,
    fault_from_dict,
)
from simulators.common.journal import Journal
from simulators.common.middleware import fault_middleware, journal_middleware
from simulators.common.runtime import SimRuntime
from simulators.common.scheduler import Scheduler
from simulators.common.serve import ThreadedServer, serve

__all__ = [
    "ChaosRule",
    "ConnectionReset",
    "Delay",
    "Duplicate",
    "FailThenSucceed",
    "FaultInjector",
    "FaultPlan",
    "FaultRule",
    "Hang",
    "HttpError",
    "Journal",
    "Latency",
    "Malformed",
    "MissingSignature",
    "RateLimited",
    "Reorder",
    "ReplayLater",
    "Scheduler",
    "SimClock",
    "SimRuntime",
    "TamperSigned",
    "TamperUnsigned",
    "ThreadedServer",
    "Truncated",
    "WebhookBuilder",
    "WebhookChaosPlan",
    "WebhookDispatcher",
    "WebhookMessage",
    "WrongSecret",
    "build_admin_router",
    "chaos_from_dict",
    "fault_from_dict",
    "fault_middleware",
    "journal_middleware",
    "serve",
]
