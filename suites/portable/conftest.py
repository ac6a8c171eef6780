"""Fixtures for the portable scenarios: one profiled service per session, its state reset before each test.

``pytest suites/portable --target-profile shop.toml`` loads the profile, brings the service up (or reaches
its ``base_url``), runs the preflight once — a failure stops the session with its one line — and hands
each test a ``Target``. A scenario the profile cannot support is "not runnable" with the missing fields
named (``harness.target.applicability``), decided before the test asks for the service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from harness.postgres import PostgresHandle
from harness.pytest_scenarios import not_runnable, scenario_ids
from harness.target.applicability import WEBHOOK_GATEWAYS, why_not
from harness.target.preflight import PreflightFailed, preflight
from harness.target.profile import Profile, ProfileError, load_profile
from harness.target.run import TargetFailed, TargetRun
from harness.target.target import Target


@pytest.fixture(scope="session")
def target_profile(request: pytest.FixtureRequest) -> Profile:
    path = Path(str(request.config.getoption("--target-profile")))
    try:
        return load_profile(path)
    except ProfileError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(params=WEBHOOK_GATEWAYS)
def gateway(request: pytest.FixtureRequest) -> str:
    """The gateway a webhook scenario attacks: each test asking for it runs once per gateway."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _applicable(request: pytest.FixtureRequest, target_profile: Profile) -> None:
    """Each scenario the test names must be supported by the profile (for the test's gateway, if it has one);
    otherwise "not runnable" and why."""
    callspec = getattr(request.node, "callspec", None)
    gateway = callspec.params.get("gateway") if callspec is not None else None
    for scenario in scenario_ids(request.node):
        reason = why_not(target_profile, scenario, gateway)
        if reason is not None:
            pytest.skip(not_runnable(reason))


async def _preflight(run: TargetRun) -> list[str]:
    async with Target(run) as target:
        return await preflight(target)


@pytest.fixture(scope="session")
def target_run(request: pytest.FixtureRequest, target_profile: Profile) -> Iterator[TargetRun]:
    """The profiled service for the session, after a passed preflight (a failed one stops the session)."""
    postgres: PostgresHandle | None = None
    if target_profile.service.command is not None:
        postgres = request.getfixturevalue("postgres")
    name = target_profile.source.name if target_profile.source else "profile"
    try:
        with TargetRun.start(target_profile, postgres=postgres) as run:
            try:
                asyncio.run(_preflight(run))
            except PreflightFailed as exc:
                pytest.exit(f"preflight: {exc}", returncode=pytest.ExitCode.INTERNAL_ERROR)
            yield run
    except TargetFailed as exc:
        pytest.exit(f"preflight: {name}: {exc}", returncode=pytest.ExitCode.INTERNAL_ERROR)


@pytest.fixture
async def target(request: pytest.FixtureRequest, target_run: TargetRun) -> AsyncIterator[Target]:
    """The service with its state reset (the profile's reset statements, the simulators)."""
    async with Target(target_run) as reached:
        try:
            await reached.reset()
        except Exception as exc:  # the state is unknown: no later test would say anything either
            pytest.exit(f"the reset before {request.node.nodeid} failed: {exc}",
                        returncode=pytest.ExitCode.INTERNAL_ERROR)
        yield reached


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The card-testing scenario last: a service's rate-limit counters outlive any reset it offers."""
    items.sort(key=lambda item: "T-API-RATE-LIMIT" in scenario_ids(item))
