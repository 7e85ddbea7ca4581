# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet as Prometheus metrics, in the text format node_exporter's textfile collector reads
(``*.prom`` files: ``# HELP``, ``# TYPE``, then ``name{label="value"} number`` lines).

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12), pure: ``render`` takes the hosts and returns the text; the
callers write it with ``_report.write_report`` (temporary file, then one rename). Used by the
gpufleet.vllm.health_prometheus filter (playbooks/health.yml) and the dashboard callback
(``GPUFLEET_DASHBOARD_PROM``). See docs/prometheus.md for every metric.

Rules:
- Names ``gpufleet_*`` in base units (bytes, seconds, ratios 0-1), labels ``host``, ``gpu``,
  ``engine``, ``check``, ``state``, ``reason``, ``code``. Every family has HELP and TYPE and
  is written once, its samples together.
- Label values come from VMs and inventories: untrusted. They are cleaned (one line, no
  control or format characters, bounded) and escaped (backslash, double quote, newline).
- An absent figure is no sample, never 0: Prometheus then reports the series missing, which
  ``absent()`` can alert on, where a 0 would look like an idle GPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import FAIL, OK, WARN, overall_status

try:  # the serving figures (latency percentiles) come with the HTTP /metrics source
    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._serving import serving_figures
except ImportError:  # pragma: no cover - a collection without the HTTP source
    serving_figures = None

MIB = 1024 * 1024
STATUS_VALUES = {OK: 0, WARN: 1, FAIL: 2}
STATES = ("serving", "idle", "loading", "failed", "stopped", "unknown", "unreachable", "not_watched")
CLOCK_EVENT_REASONS = (
    "gpu_idle",
    "applications_clocks_setting",
    "sw_power_cap",
    "hw_slowdown",
    "sync_boost",
    "sw_thermal_slowdown",
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
    "display_clock_setting",
)
_LABEL_LIMIT = 200

# name: (type, help). Order is the order of the file.
FAMILIES = {
    "gpufleet_up": (
        "gauge",
        "1 when node_info answered for the VM in this run or refresh, 0 when the VM was unreachable "
        "or the module failed.",
    ),
    "gpufleet_state": (
        "gauge",
        "1 for the VM's current state (serving, idle, loading, failed, stopped, unknown, "
        "unreachable, not_watched), 0 for the others.",
    ),
    "gpufleet_health_status": ("gauge", "Worst health check of the VM: 0 ok, 1 warn, 2 fail."),
    "gpufleet_check_status": ("gauge", "Status of one health check: 0 ok, 1 warn, 2 fail."),
    "gpufleet_container_restarts": ("gauge", "Docker RestartCount of the vLLM container."),
    "gpufleet_gpu_utilization_ratio": ("gauge", "GPU utilisation, 0 to 1 (nvidia-smi utilization.gpu)."),
    "gpufleet_gpu_memory_used_bytes": ("gauge", "GPU memory used (nvidia-smi memory.used)."),
    "gpufleet_gpu_memory_total_bytes": ("gauge", "GPU memory total (nvidia-smi memory.total)."),
    "gpufleet_gpu_temperature_celsius": ("gauge", "GPU core temperature (nvidia-smi temperature.gpu)."),
    "gpufleet_gpu_power_watts": ("gauge", "GPU power draw (nvidia-smi power.draw)."),
    "gpufleet_gpu_power_limit_watts": ("gauge", "GPU power limit (nvidia-smi power.limit)."),
    "gpufleet_gpu_ecc_uncorrected_errors": (
        "gauge",
        "Uncorrected ECC errors since the driver loaded (ecc.errors.uncorrected.volatile.total).",
    ),
    "gpufleet_gpu_memory_rows_pending": ("gauge", "1 when retired pages or remapped rows wait for a GPU reset."),
    "gpufleet_gpu_clock_event_active": ("gauge", "1 when the clock event (throttle) reason is active, 0 when not."),
    "gpufleet_gpu_foreign_memory_bytes": ("gauge", "GPU memory held by processes outside the watched container."),
    "gpufleet_gpu_xid_events": (
        "gauge",
        "XID errors of that code in the kernel log since the container started (at most the 10 newest are counted).",
    ),
    "gpufleet_kernel_log_readable": ("gauge", "1 when the kernel log could be read for XID errors, 0 when not."),
    "gpufleet_engine_prompt_tokens_per_second": ("gauge", "Prompt throughput of the newest vLLM stats line."),
    "gpufleet_engine_generation_tokens_per_second": ("gauge", "Generation throughput of the newest vLLM stats line."),
    "gpufleet_engine_requests_running": ("gauge", "Requests running (newest vLLM stats line)."),
    "gpufleet_engine_requests_waiting": ("gauge", "Requests waiting (newest vLLM stats line)."),
    "gpufleet_engine_kv_cache_usage_ratio": ("gauge", "GPU KV cache usage, 0 to 1 (newest vLLM stats line)."),
    "gpufleet_latency_seconds": (
        "gauge",
        "Serving latency percentile from vLLM's /metrics histograms "
        "(metric ttft, itl, e2e or queue; percentile 0.5, 0.9, 0.99).",
    ),
}


def escape_label(value: object) -> str:
    """A label value as the text format wants it: cleaned of control and format characters,
    bounded, then backslash, double quote and newline escaped."""
    text = clean_text(str(value), _LABEL_LIMIT) or ""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _format(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _mapping(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _items(value: object) -> list:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


class _Samples:
    def __init__(self) -> None:
        self.by_family: dict[str, list[str]] = {name: [] for name in FAMILIES}

    def add(self, family: str, labels: Mapping[str, object], value: object, scale: float = 1.0) -> None:
        number = _number(value)
        if number is None:
            return
        text = ",".join(f'{key}="{escape_label(label)}"' for key, label in labels.items())
        self.by_family[family].append(f"{family}{{{text}}} {_format(number * scale)}")

    def text(self) -> str:
        lines = []
        for family, samples in self.by_family.items():
            if not samples:
                continue
            kind, help_text = FAMILIES[family]
            lines.append(f"# HELP {family} {help_text}")
            lines.append(f"# TYPE {family} {kind}")
            lines.extend(samples)
        return "\n".join(lines) + "\n" if lines else ""


def _gpu_label(device: Mapping, position: int) -> str:
    index = device.get("index")
    return str(index) if isinstance(index, int) else str(position)


def _add_gpus(samples: _Samples, host: str, gpu: Mapping) -> None:
    devices = _items(gpu.get("devices"))
    for position, device in enumerate(devices):
        labels = {"host": host, "gpu": _gpu_label(device, position)}
        samples.add("gpufleet_gpu_utilization_ratio", labels, device.get("utilization_pct"), 0.01)
        samples.add("gpufleet_gpu_memory_used_bytes", labels, device.get("memory_used_mib"), MIB)
        samples.add("gpufleet_gpu_memory_total_bytes", labels, device.get("memory_total_mib"), MIB)
        samples.add("gpufleet_gpu_temperature_celsius", labels, device.get("temperature_c"))
        samples.add("gpufleet_gpu_power_watts", labels, device.get("power_w"))
        samples.add("gpufleet_gpu_power_limit_watts", labels, device.get("power_limit_w"))
        samples.add("gpufleet_gpu_ecc_uncorrected_errors", labels, device.get("ecc_uncorrected_volatile"))
        pending = [device.get(key) for key in ("retired_pages_pending", "remapped_rows_pending")]
        if any(isinstance(flag, bool) for flag in pending):
            samples.add("gpufleet_gpu_memory_rows_pending", labels, 1 if True in pending else 0)
        reasons = device.get("clock_event_reasons")
        if isinstance(reasons, list):
            for reason in CLOCK_EVENT_REASONS:
                samples.add(
                    "gpufleet_gpu_clock_event_active", {**labels, "reason": reason}, 1 if reason in reasons else 0
                )
    apps = _mapping(gpu.get("compute_apps"))
    if apps.get("status") == "ok":
        foreign: dict[str, float] = {}
        for position, device in enumerate(devices):
            foreign[_gpu_label(device, position)] = 0.0
        for process in _items(apps.get("processes")):
            index = process.get("gpu_index")
            memory = _number(process.get("used_memory_mib"))
            if process.get("watched") is False and isinstance(index, int) and memory is not None:
                foreign[str(index)] = foreign.get(str(index), 0.0) + memory
        for label, memory in foreign.items():
            samples.add("gpufleet_gpu_foreign_memory_bytes", {"host": host, "gpu": label}, memory, MIB)
    xid = _mapping(gpu.get("xid"))
    if xid:
        readable = xid.get("status") == "ok"
        samples.add("gpufleet_kernel_log_readable", {"host": host}, 1 if readable else 0)
        counts: dict[int, int] = {}
        for event in _items(xid.get("events")):
            code = event.get("code")
            if isinstance(code, int) and not isinstance(code, bool):
                counts[code] = counts.get(code, 0) + 1
        for code, count in sorted(counts.items()):
            samples.add("gpufleet_gpu_xid_events", {"host": host, "code": code}, count)


def _engine_label(engine: Mapping) -> str:
    aggregated = engine.get("aggregated_engines")
    if isinstance(aggregated, int):
        return f"{aggregated}_aggregated"
    index = engine.get("engine")
    return str(index) if isinstance(index, int) else "0"


def _add_engines(samples: _Samples, host: str, vllm: Mapping) -> None:
    for engine in _items(vllm.get("engines")):
        labels = {"host": host, "engine": _engine_label(engine)}
        samples.add("gpufleet_engine_prompt_tokens_per_second", labels, engine.get("prompt_tps"))
        samples.add("gpufleet_engine_generation_tokens_per_second", labels, engine.get("generation_tps"))
        samples.add("gpufleet_engine_requests_running", labels, engine.get("running"))
        samples.add("gpufleet_engine_requests_waiting", labels, engine.get("waiting"))
        samples.add("gpufleet_engine_kv_cache_usage_ratio", labels, engine.get("kv_cache_pct"), 0.01)


def _add_latency(samples: _Samples, host: str, document: Mapping, previous: Mapping | None) -> None:
    if serving_figures is None:
        return
    figures = serving_figures(document, previous) or {}
    for key in ("ttft_s", "itl_s", "e2e_s", "queue_s"):
        latency = _mapping(figures.get(key))
        # "percentile", not "quantile": Prometheus reserves that label for summaries, and these
        # are gauges (the percentiles of a window the collection chose).
        for name, percentile in (("p50", "0.5"), ("p90", "0.9"), ("p99", "0.99")):
            samples.add(
                "gpufleet_latency_seconds",
                {"host": host, "metric": key[:-2], "percentile": percentile},
                latency.get(name),
            )


def render(hosts: Iterable[Mapping]) -> str:
    """The metrics of HOSTS, each ``{"name", "document", "checks", "state", "previous"}``:
    the node_info document (None when there is none), its health checks (None: not evaluated),
    its state word (``serving``... ``unreachable``), and optionally the same host's preceding
    document (for latency percentiles over the interval between the two)."""
    samples = _Samples()
    for host in hosts:
        name = str(host.get("name"))
        document = _mapping(host.get("document"))
        checks = host.get("checks")
        state = host.get("state")
        up = bool(document) and state != "unreachable"
        samples.add("gpufleet_up", {"host": name}, 1 if up else 0)
        if state is not None:
            shown = state if state in STATES else "unknown"
            for each in STATES:
                samples.add("gpufleet_state", {"host": name, "state": each}, 1 if each == shown else 0)
        if checks:
            samples.add("gpufleet_health_status", {"host": name}, STATUS_VALUES[overall_status(checks)])
            for check in checks:
                if isinstance(check, Mapping) and check.get("status") in STATUS_VALUES:
                    samples.add(
                        "gpufleet_check_status",
                        {"host": name, "check": check.get("name")},
                        STATUS_VALUES[check["status"]],
                    )
        if not up:
            continue
        samples.add(
            "gpufleet_container_restarts", {"host": name}, _mapping(document.get("container")).get("restart_count")
        )
        _add_gpus(samples, name, _mapping(document.get("gpu")))
        _add_engines(samples, name, _mapping(document.get("vllm")))
        _add_latency(samples, name, document, host.get("previous"))
    return samples.text()


def state_of(document: Mapping | None) -> str:
    """The state word of a node_info result: unreachable when the VM did not answer, else the
    engine's phase."""
    document = _mapping(document)
    if not document or document.get("reachable") is False or "vllm" not in document:
        return "unreachable"
    phase = _mapping(document.get("vllm")).get("phase")
    return phase if isinstance(phase, str) else "unknown"


def fleet_hosts(fleet) -> list[dict]:
    """``render``'s input from the dashboard's FleetState: every provisioned host that reported
    (one not polled yet is not "down"), its document only while it describes the present (not
    the last data of a host now unreachable)."""
    hosts = []
    for host in fleet.hosts:
        if not host.provisioned or host.state == "pending":
            continue
        current = host.current_node is not None
        hosts.append(
            {
                "name": host.name,
                "document": host.document if current else None,
                "checks": host.checks,
                "state": host.state,
            }
        )
    return hosts
