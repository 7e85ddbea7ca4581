# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet's state as the gpufleet.vllm.dashboard callback records it, and what is derived
from it for every output: a host's state word, its severity class (the order of the fleet
table) and its health status (the one colour).

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12), no third-party import. Nothing here reads the clock: every
function takes ``now`` (``time.time()``). The colour of a VM is the overall status of its
health checks (``plugins/plugin_utils/_health.py``), computed by the callback when the result
arrives; nothing here judges a VM in any other way.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import re
from collections.abc import Iterable

from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import parse_rfc3339
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import (
    COMPUTED_HERE,
    FAIL,
    OK,
    WARN,
    HealthError,
    evaluate,
    overall_status,
)
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._node_view import NodeView, section
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._serving import engine_figures, serving_figures
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds

HISTORY_LENGTH = 40
# hypr's readiness wait: a model loading for longer than this is red, before it yellow.
DEFAULT_WAIT_TIMEOUT_S = 1800.0
VIEWS = ("auto", "panels", "table")
_DIGITS_RE = re.compile(r"(\d+)")
SORTS = ("severity", "name")


class Severity(enum.IntEnum):
    """Table order, worst first. The first three are problems: never hidden while a healthier
    VM is shown."""

    FAILING = 0
    UNREACHABLE = 1
    WARNING = 2
    STALE = 3
    LOADING = 4
    PENDING = 5
    HEALTHY = 6
    NOT_PROVISIONED = 7

    @property
    def is_problem(self) -> bool:
        return self <= Severity.WARNING

    @property
    def word(self) -> str:
        return self.name.lower().replace("_", " ")


@dataclasses.dataclass
class HostState:
    """What the dashboard knows about one inventory host. The callback owns it and changes it
    only through ``record``, which bumps ``updates`` (the key of cached renderings)."""

    name: str
    address: str | None = None
    model: str | None = None
    provisioned: bool = True
    not_provisioned_reason: str | None = None
    document: dict | None = None
    node: NodeView | None = None
    unreachable: str | None = None
    failure: str | None = None
    checks: list | None = None
    health: str | None = None  # overall status of ``checks``: ok, warn, fail; None before any
    # Rates, error share and latency percentiles from vLLM's /metrics over the window since the
    # previous document (``_serving.serving_figures``); None without /metrics. The JSON lines
    # carry it as "serving"; exporters read it here.
    serving: dict | None = None
    updated_at: float | None = None
    updates: int = 0
    generation_history: collections.deque = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=HISTORY_LENGTH)
    )

    def record(
        self,
        now: float,
        *,
        document: dict | None = None,
        unreachable: str | None = None,
        failure: str | None = None,
        checks: list | None = None,
        serving: dict | None | object = COMPUTED_HERE,
    ) -> None:
        """One result: a document (kept when the host is unreachable or the task failed, as
        the last known data), or an SSH error, or a task failure; then its health checks.
        SERVING: the document's serving figures when the caller computed them for the checks."""
        self.unreachable, self.failure = unreachable, failure
        if document is not None:
            self.serving = serving_figures(document, previous=self.document) if serving is COMPUTED_HERE else serving
            self.node = NodeView.from_document(document, engine_figures(document, previous=self.document))
            self.document = document
        self.checks = checks
        self.health = overall_status(checks) if checks else None
        self.updated_at = now
        self.updates += 1
        current = self.node if self.unreachable is None and self.failure is None else None
        self.generation_history.append(current.generation_total() if current is not None else None)

    @property
    def state(self) -> str:
        """One word: not_provisioned, unreachable, failed (task failure), pending (no result
        yet), else the document's phase."""
        if not self.provisioned:
            return "not_provisioned"
        if self.unreachable is not None:
            return "unreachable"
        if self.failure is not None:
            return "failed"
        if self.node is None:
            return "pending"
        return self.node.phase

    @property
    def current_node(self) -> NodeView | None:
        """The document when it describes the present (not the last data of a host that is now
        unreachable or whose task failed)."""
        return self.node if self.unreachable is None and self.failure is None else None

    def reference_time(self, started_at: float) -> float:
        return self.updated_at if self.updated_at is not None else started_at

    def worst_check(self) -> dict | None:
        """The first failing check (a fatal log error first: it says why the container
        stopped), else the first warning, else None."""
        for status in (FAIL, WARN):
            matching = [check for check in self.checks or () if check.get("status") == status]
            if matching:
                return min(matching, key=lambda check: check.get("name") != "fatal_errors")
        return None

    def check_counts(self) -> collections.Counter:
        return collections.Counter(check.get("status") for check in self.checks or ())


@dataclasses.dataclass
class FleetState:
    hosts: list[HostState]
    started_at: float
    # The refresh interval the hosts really use, as node_info reports it; None until known.
    interval_s: float | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    thresholds: Thresholds = dataclasses.field(default_factory=Thresholds)
    view: str = "auto"
    sort: str = "severity"

    def is_stale(self, host: HostState, now: float) -> bool:
        """No result for ``stale_intervals`` refresh intervals (never for hosts not polled)."""
        if not host.provisioned or self.interval_s is None:
            return False
        return now - host.reference_time(self.started_at) > self.thresholds.stale_intervals * self.interval_s

    def engines_current(self, host: HostState, now: float) -> bool:
        node = host.current_node
        return node is not None and not self.is_stale(host, now) and node.engines_current(self.thresholds.stats_stale_s)

    def severity(self, host: HostState, now: float) -> Severity:
        if not host.provisioned:
            return Severity.NOT_PROVISIONED
        if host.unreachable is not None:
            return Severity.UNREACHABLE
        if host.health == FAIL:
            return Severity.FAILING
        loading = host.node is not None and host.node.phase == "loading"
        if host.health == WARN:
            # A model loading within its time budget is a warning of the health gate's wait
            # mode; alone, it sorts as loading, not as a problem.
            other = [
                check
                for check in host.checks or ()
                if check.get("status") == WARN and not (loading and check.get("name") == "engine_serving")
            ]
            if other:
                return Severity.WARNING
        if self.is_stale(host, now):
            return Severity.STALE
        if loading:
            return Severity.LOADING
        if host.health is None:
            return Severity.PENDING
        return Severity.HEALTHY

    def ordered(self, now: float) -> list[tuple[HostState, Severity]]:
        """Hosts with their severity, in the order of ``sort``: worst first then by name, or by
        name."""
        pairs = [(host, self.severity(host, now)) for host in self.hosts]
        if self.sort == "name":
            return sorted(pairs, key=lambda pair: natural_key(pair[0].name))
        return sorted(pairs, key=lambda pair: (pair[1], natural_key(pair[0].name)))


def natural_key(name: str) -> tuple:
    """vm2 before vm10: digit runs compare as numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in _DIGITS_RE.split(name) if part)


def class_counts(pairs: Iterable[tuple[HostState, Severity]]) -> list[tuple[int, str]]:
    """``[(39, "ok"), (2, "idle")]``: hosts per severity, healthy ones split by phase, worst
    first, for the line that counts the VMs a frame does not show."""
    counts: collections.Counter = collections.Counter()
    for host, severity in pairs:
        if severity == Severity.HEALTHY:
            counts["idle" if host.state == "idle" else OK] += 1
        else:
            counts[severity.word] += 1
    order = [severity.word for severity in Severity if severity < Severity.HEALTHY] + [OK, "idle", "not provisioned"]
    return [(counts[word], word) for word in order if counts[word]]


def health_checks(
    document: dict | None,
    *,
    unreachable: str | None = None,
    failure: str | None = None,
    thresholds: Thresholds,
    expected_gpu_count: int | None = None,
    wait_timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
    custom_checks: list | tuple = (),
    previous: dict | None = None,
    serving: dict | None | object = COMPUTED_HERE,
) -> list[dict]:
    """The health gate's checks of one result, which decide the VM's colour everywhere.

    Check mode, as playbooks/health.yml, except that an engine still loading within
    WAIT_TIMEOUT_S of its container's start is a warning (the health role's wait mode). A
    custom expression that fails on this document is shown as a failing check, not raised.
    PREVIOUS, the host's preceding document, makes the latency and error checks cover the window
    between the two; SERVING, the figures of that window when the caller has them already."""
    current = None if unreachable or failure else document
    vllm = section(section(current).get("vllm"))
    started = parse_rfc3339(_timestamp(section(section(current).get("container")).get("started_at")))
    collected = parse_rfc3339(_timestamp(section(current).get("collected_at")))
    waited = (collected - started).total_seconds() if started and collected else None
    try:
        return evaluate(
            current,
            thresholds,
            expected_gpu_count=expected_gpu_count,
            mode="wait" if vllm.get("phase") == "loading" else "check",
            waited_s=waited,
            wait_timeout_s=wait_timeout_s,
            reachable=unreachable is None,
            error=unreachable or failure,
            custom_checks=custom_checks,
            previous=previous,
            serving_window=serving,
        )
    except HealthError as exc:
        return [{"name": "custom_checks", "status": FAIL, "message": str(exc)}]


def _timestamp(value: object) -> str | None:
    return value if isinstance(value, str) else None
