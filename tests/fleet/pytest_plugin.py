# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest plugin for the SSH test fleet: the ``ssh_fleet`` factory fixture.

Register it once (``-p tests.fleet.pytest_plugin``, or ``pytest_plugins`` in the root
conftest.py); then a test starts hosts with ``fleet = ssh_fleet(3)`` or
``ssh_fleet([HostSpec("vm1", "busy"), HostSpec("vm2", "gpu-lost")])``. Every fleet a test started
is torn down after it, whatever the outcome (Ctrl-C and SIGTERM included). The test is skipped, with the
reason, where fleets cannot run (not root, no ``ip netns``, sshd missing). When a test fails,
its report gets the hosts' sshd logs.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable, Iterator

import pytest

from tests.fleet.harness import DEFAULT_SCENARIO, Fleet, FleetError, unavailable_reason

FLEETS_ATTRIBUTE = "_gpft_fleets"


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("SIGTERM")


def _catch_sigterm() -> Callable[[], None]:
    """While fleets run, SIGTERM (a CI timeout) ends the session like Ctrl-C, so pytest tears
    the fleets down instead of dying with them running. Returns what undoes it."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return lambda: None
    signal.signal(signal.SIGTERM, _interrupt)
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture
def ssh_fleet(request: pytest.FixtureRequest) -> Iterator[Callable[..., Fleet]]:
    """Factory: ``ssh_fleet(hosts=2, scenario="busy", **Fleet options)`` returns a running Fleet."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    fleets: list[Fleet] = []
    setattr(request.node, FLEETS_ATTRIBUTE, fleets)
    restore_sigterm = _catch_sigterm()

    def start(hosts: Any = 2, scenario: str = DEFAULT_SCENARIO, **options: Any) -> Fleet:
        fleet = Fleet(hosts, scenario, **options)
        fleets.append(fleet)
        return fleet.up()

    yield start
    problems = []
    for fleet in reversed(fleets):
        try:
            fleet.down()
        except FleetError as exc:
            problems.append(str(exc))
    restore_sigterm()
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    fleets = getattr(item, FLEETS_ATTRIBUTE, None)
    if report.when == "call" and report.failed and fleets:
        logs = "\n".join(filter(None, (fleet.logs() for fleet in fleets if fleet.dir)))
        if logs:
            report.sections.append(("ssh fleet logs", logs))
