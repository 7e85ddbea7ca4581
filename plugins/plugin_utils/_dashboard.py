# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure rendering of the gpufleet.vllm.dashboard callback: fleet state -> rich renderable,
plain log line, or JSON record.

PRIVATE to the collection: not a public API, may change without notice.
Renders node_info documents of schema version 1 (``docs/schema-v1.md``) and shows what the
Ruby watcher it replaces showed (per GPU name/temperature/power and utilisation/VRAM bars,
throughput, requests, KV cache and prefix cache bars), plus container, phase, staleness and
health checks. Controller side (Python >= 3.12, rich).

Nothing here reads the clock: every function takes ``now`` (``time.time()``). Every string
that came from a VM, an inventory or a file goes through ``clean_text`` (escapes, control and
bidi characters removed) and into ``rich.text.Text``, never through markup. Colours come from
``Thresholds`` only. Documents are read defensively: a missing key, ``None`` or a value of
the wrong type shows as ``n/a``.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import time
from collections.abc import Iterable

try:
    from rich import box as rich_box
    from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
    from rich.segment import Segment
    from rich.style import Style
    from rich.text import Text
except ImportError as exc:  # rich is a controller requirement; the callback reports its absence
    RICH_IMPORT_ERROR: ImportError | None = exc
else:
    RICH_IMPORT_ERROR = None

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text
from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import format_utc
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Level, Thresholds

JSON_SCHEMA_VERSION = 1
PANEL_WIDTH = 60
MIN_WIDTH = PANEL_WIDTH
PANEL_GAP = 1
LABEL_WIDTH = 10  # the seed's LABEL_W: every value (and so every bar) starts in one column
BAR_CELLS = 10
GPU_NAME_WIDTH = 26  # the seed's %-26s
HISTORY_LENGTH = 40
MESSAGE_LINES = 3  # an error message wraps to at most this many lines inside a panel
PLAIN_VALUE_LIMIT = 200
NA = "n/a"
PHASES = ("serving", "idle", "loading", "failed", "stopped", "unknown")
SPARK_CHARS = "▁▂▃▄▅▆▇█"
# The prefix cache hit rate is not a health metric (high is good), so it has no band.
HIT_RATE_STYLE = "cyan"
_CONTAINER_LEVELS = {
    "running": Level.OK,
    "restarting": Level.WARN,
    "created": Level.WARN,
    "paused": Level.WARN,
    "removing": Level.WARN,
    "exited": Level.FAIL,
    "dead": Level.FAIL,
    "missing": Level.FAIL,
    "error": Level.FAIL,
}
_PHASE_LEVELS = {
    "serving": Level.OK,
    "idle": Level.WARN,
    "loading": Level.WARN,
    "unknown": Level.WARN,
    "failed": Level.FAIL,
    "stopped": Level.FAIL,
    "unreachable": Level.FAIL,
}
_CHECK_LEVELS = {"ok": Level.OK, "warn": Level.WARN, "fail": Level.FAIL}


# --- view model ------------------------------------------------------------------------------


@dataclasses.dataclass
class HostView:
    """What the dashboard knows about one inventory host. The callback owns and mutates it and
    bumps ``updates`` whenever it changes anything but ``checks`` and ``updated_at`` (which
    are compared every frame): ``updates`` keys the rendered panel in the PanelCache."""

    name: str
    address: str | None = None
    model: str | None = None
    provisioned: bool = True
    not_provisioned_reason: str | None = None
    document: dict | None = None
    unreachable: str | None = None
    failure: str | None = None
    updated_at: float | None = None
    updates: int = 0
    generation_history: collections.deque = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=HISTORY_LENGTH)
    )
    checks: list | None = None


@dataclasses.dataclass
class FleetView:
    hosts: list[HostView]
    interval_s: float
    started_at: float
    warnings: list[str] = dataclasses.field(default_factory=list)
    thresholds: Thresholds = dataclasses.field(default_factory=Thresholds)


# --- defensive document access -----------------------------------------------------------------


def _section(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _items(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _clean(value: object, limit: int = 300) -> str | None:
    if value is None:
        return None
    return clean_text(str(value), limit) or None


def _sum(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) if present else None


def _max(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def _engines(document: dict | None) -> list[dict]:
    return _items(_section(_section(document).get("vllm")).get("engines"))


def _short_model(model: str | None) -> str | None:
    cleaned = _clean(model, 120)
    return cleaned.rsplit("/", 1)[-1] if cleaned else None


def _format_number(value: float | None, pattern: str = "{:.1f}") -> str:
    return NA if value is None else pattern.format(value)


def _format_age(seconds: float, coarse: bool = False) -> str:
    """``42s``, ``3m05s``, ``2h07m``, ``3d04h``; COARSE drops seconds (``<1m``, ``9m``) so a
    text that sits inside a cached panel changes at most once a minute."""
    whole = int(max(seconds, 0.0))
    if whole < 60:
        return "<1m" if coarse else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m" if coarse else f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


# --- derived state -----------------------------------------------------------------------------


def host_state(host: HostView) -> str:
    """One word for the host: not_provisioned, unreachable, failed (task failure), pending
    (no result yet), else the document's ``vllm.phase`` (``unknown`` when not one of PHASES)."""
    if not host.provisioned:
        return "not_provisioned"
    if host.unreachable is not None:
        return "unreachable"
    if host.failure is not None:
        return "failed"
    if host.document is None:
        return "pending"
    phase = _section(host.document.get("vllm")).get("phase")
    return phase if phase in PHASES else "unknown"


def generation_total(document: dict | None) -> float | None:
    """Total generation tok/s of a document, for ``HostView.generation_history``: the sum
    over engines while serving, 0.0 while idle (an idle engine stops logging because it
    generates nothing), None otherwise or when no engine reports it."""
    phase = _section(_section(document).get("vllm")).get("phase")
    if phase == "idle":
        return 0.0
    if phase != "serving":
        return None
    return _sum(_number(engine.get("generation_tps")) for engine in _engines(document))


def _reference_time(host: HostView, fleet: FleetView) -> float:
    return host.updated_at if host.updated_at is not None else fleet.started_at


def _is_stale(host: HostView, fleet: FleetView, now: float) -> bool:
    if not host.provisioned:
        return False
    limit = fleet.thresholds.stale_intervals * fleet.interval_s
    return now - _reference_time(host, fleet) > limit


def _check_counts(checks: list | None) -> collections.Counter:
    return collections.Counter(check.get("status") for check in _items(checks))


def _first_check(checks: list | None, status: str) -> dict | None:
    return next((check for check in _items(checks) if check.get("status") == status), None)


def _is_healthy(host: HostView, fleet: FleetView, now: float) -> bool:
    state = host_state(host)
    if state in ("not_provisioned", "unreachable", "failed", "pending") or _is_stale(host, fleet, now):
        return False
    if host.checks:
        return _check_counts(host.checks)["fail"] == 0
    document = host.document or {}
    return (
        state in ("serving", "idle")
        and _section(document.get("gpu")).get("status") == "ok"
        and _section(document.get("container")).get("status") == "running"
        and not _items(_section(document.get("vllm")).get("errors"))
    )


def _fresh_engines(host: HostView, fleet: FleetView, now: float) -> list[dict]:
    """Engines whose numbers describe the present: those of a serving or idle host with current
    data (an idle engine's last line is all zeros: vLLM stops logging after one such line)."""
    if host_state(host) not in ("serving", "idle") or _is_stale(host, fleet, now):
        return []
    return _engines(host.document)


def _panel_level(host: HostView, state: str, stale: bool, thresholds: Thresholds) -> Level | None:
    """Worst level shown by the panel border; None draws it dim (nothing known to judge).

    With health checks the border is their worst status (and yellow when stale): the same
    evaluation as the health gate, so a red panel is a failing check. Without them it is judged
    from the document with the same thresholds."""
    if state == "not_provisioned":
        return None
    levels = [_CHECK_LEVELS.get(check.get("status")) for check in _items(host.checks)]
    if host.checks:
        present = [level for level in levels if level is not None] + ([Level.WARN] if stale else [])
        return max(present) if present else None
    if state == "failed":
        levels.append(Level.FAIL)
    levels.append(_PHASE_LEVELS.get(state))
    if stale:
        levels.append(Level.WARN)
    if host.document is not None and state != "unreachable":
        document = host.document
        gpu = _section(document.get("gpu"))
        if gpu.get("status") not in (None, "ok"):
            levels.append(Level.FAIL)
        for device in _items(gpu.get("devices")):
            levels.append(thresholds.temperature_c.level(_number(device.get("temperature_c"))))
        levels.append(_CONTAINER_LEVELS.get(_section(document.get("container")).get("status")))
        for engine in _engines(document):
            levels.append(thresholds.kv_cache_pct.level(_number(engine.get("kv_cache_pct"))))
    present = [level for level in levels if level is not None]
    return max(present) if present else None


# --- plain line ----------------------------------------------------------------------------------


def _plain_value(value: object) -> str:
    text = _clean(value, PLAIN_VALUE_LIMIT)
    if text is None:
        return NA
    if any(char in text for char in ' "=\\'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _plain_gpu_fields(document: dict) -> list[str]:
    gpu = _section(document.get("gpu"))
    devices = _items(gpu.get("devices"))
    status = gpu.get("status")
    utilizations = [_number(device.get("utilization_pct")) for device in devices]
    reporting = sum(1 for value in utilizations if value is not None)
    gpu_field = f"{reporting}/{len(devices)}" if status == "ok" else _plain_value(status)
    pairs = [
        (_number(device.get("memory_used_mib")), _number(device.get("memory_total_mib")))
        for device in devices
    ]
    pairs = [(used, total) for used, total in pairs if used is not None and total]
    present = [value for value in utilizations if value is not None]
    util = sum(present) / len(present) if present else None
    vram = 100.0 * sum(used for used, _total in pairs) / sum(total for _used, total in pairs) if pairs else None
    temperature = _max(_number(device.get("temperature_c")) for device in devices)
    return [
        f"gpu={gpu_field}",
        f"util={_format_number(util, '{:.0f}%')}",
        f"vram={_format_number(vram, '{:.0f}%')}",
        f"temp={_format_number(temperature, '{:.0f}C')}",
    ]


def _plain_engine_fields(engines: list[dict]) -> list[str]:
    def total(key: str) -> float | None:
        return _sum(_number(engine.get(key)) for engine in engines)

    fields = [
        f"gen={_format_number(total('generation_tps'), '{:.1f}tok/s')}",
        f"prompt={_format_number(total('prompt_tps'), '{:.1f}tok/s')}",
        f"run={_format_number(total('running'), '{:.0f}')}",
        f"wait={_format_number(total('waiting'), '{:.0f}')}",
    ]
    swapped = total("swapped")
    if swapped:
        fields.append(f"swapped={swapped:.0f}")
    kv = _max(_number(engine.get("kv_cache_pct")) for engine in engines)
    fields.append(f"kv={_format_number(kv, '{:.1f}%')}")
    return fields


def _plain_state_fields(host: HostView, state: str, now: float) -> list[str]:
    vllm = _section(_section(host.document).get("vllm"))
    if state == "not_provisioned":
        return [f"reason={_plain_value(host.not_provisioned_reason)}"]
    if state == "unreachable":
        return [f"error={_plain_value(host.unreachable)}"]
    if state == "failed" and host.failure is not None:
        return [f"failure={_plain_value(host.failure)}"]
    if state == "failed":
        errors = _items(vllm.get("errors"))
        first = errors[0] if errors else {}
        return [f"error={_plain_value(first.get('kind'))}", f"msg={_plain_value(first.get('message'))}"]
    if state == "loading":
        loading = _section(vllm.get("loading"))
        progress = _number(loading.get("progress_pct"))
        return [f"stage={_plain_value(loading.get('stage'))}", f"progress={_format_number(progress, '{:.0f}%')}"]
    if state == "idle":
        stats_age = _stats_age(host, now)
        return [f"stats_age={_format_number(stats_age, '{:.0f}s')}"]
    if state == "stopped":
        return [f"container={_plain_value(_section(host.document.get('container')).get('status'))}"]
    if state == "unknown":
        return [f"msg={_plain_value(vllm.get('message'))}"]
    return []


def plain_line(host: HostView, now: float) -> str:
    """One escape-free line for logs and pipes. Keys, always in this order (absent ones left
    out, unknown values ``n/a``, values with blanks or quotes double-quoted):

    ``NAME STATE`` then the state's own keys (not_provisioned: ``reason``; unreachable:
    ``error``; failed: ``failure`` for a task failure, else ``error`` (kind) and ``msg``;
    loading: ``stage`` ``progress``; idle: ``stats_age``; stopped: ``container``; unknown:
    ``msg``), then for a document that is current (not unreachable, no task failure)
    ``gpu`` (GPUs reporting utilisation/GPUs listed, or the gpu status when not ok) ``util``
    (mean) ``vram`` (used/total over GPUs) ``temp`` (hottest), then when it has engines
    ``gen`` ``prompt`` ``run`` ``wait`` (sums) ``swapped`` (only when > 0) ``kv`` (fullest),
    then ``checks`` (``2fail,1warn`` or ``ok``) when checks exist, then ``age`` when a
    result arrived."""
    state = host_state(host)
    fields = [_plain_value(host.name), state, *_plain_state_fields(host, state, now)]
    if host.document is not None and state not in ("not_provisioned", "unreachable") and host.failure is None:
        fields.extend(_plain_gpu_fields(host.document))
        engines = _engines(host.document)
        if engines:
            fields.extend(_plain_engine_fields(engines))
    if host.checks:
        counts = _check_counts(host.checks)
        summary = ",".join(f"{counts[status]}{status}" for status in ("fail", "warn") if counts[status])
        fields.append(f"checks={summary or 'ok'}")
    if host.updated_at is not None:
        fields.append(f"age={_format_number(max(now - host.updated_at, 0.0), '{:.0f}s')}")
    return " ".join(fields)


# --- JSON record ---------------------------------------------------------------------------------


def json_record(host: HostView, now: float) -> dict:
    """A JSON-serialisable record of one host for JSON-lines output (version JSON_SCHEMA_VERSION).
    Strings are passed as received: JSON encoding escapes control characters."""
    moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    age = None if host.updated_at is None else round(max(now - host.updated_at, 0.0), 3)
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "host": host.name,
        "time": format_utc(moment),
        "state": host_state(host),
        "age_s": age,
        "document": host.document,
        "unreachable": host.unreachable,
        "failure": host.failure,
        "checks": host.checks,
    }


# --- panel body ----------------------------------------------------------------------------------


def _row(label: str, *parts: str | tuple[str, str] | Text) -> Text:
    text = Text(f"{label:<{LABEL_WIDTH}} ")
    for part in parts:
        if isinstance(part, Text):
            text.append_text(part)
        elif isinstance(part, tuple):
            text.append(*part)
        else:
            text.append(part)
    return text


def _bar(pct: float | None, style: str) -> list[tuple[str, str] | str]:
    if pct is None:
        return [NA]
    filled = min(max(int(pct / 100.0 * BAR_CELLS + 0.5), 0), BAR_CELLS)
    return ["[", ("█" * filled, style), " " * (BAR_CELLS - filled) + "]", f" {pct:5.1f}%"]


def _band_bar(pct: float | None, band) -> list[tuple[str, str] | str]:
    level = band.level(pct)
    return _bar(pct, level.style if level is not None else "")


def _message_rows(console: Console, label: str, message: str | None, style: str, width: int) -> list[Text]:
    """LABEL then MESSAGE word-wrapped into the value column, at most MESSAGE_LINES lines."""
    value_width = width - LABEL_WIDTH - 1
    cleaned = _clean(message, value_width * MESSAGE_LINES) or NA
    lines = list(Text(cleaned, style=style).wrap(console, value_width, overflow="fold"))
    if len(lines) > MESSAGE_LINES:
        lines = lines[:MESSAGE_LINES]
        lines[-1].truncate(value_width - 1)
        lines[-1].append("…", style)
    return [_row(label if index == 0 else "", line) for index, line in enumerate(lines)]


def _gpu_rows(console: Console, gpu: dict, thresholds: Thresholds, width: int) -> list[Text]:
    rows = []
    status = gpu.get("status")
    if status not in (None, "ok"):
        rows += _message_rows(console, "gpu", f"{_clean(status, 40)}: {_clean(gpu.get('message')) or NA}", "red", width)
    devices = _items(gpu.get("devices"))
    if status in (None, "ok") and not devices:
        rows.append(_row("gpu", NA))
    for device in devices:
        index = _number(device.get("index"))
        name = Text(_clean(device.get("name"), 80) or NA)
        name.truncate(GPU_NAME_WIDTH, overflow="ellipsis", pad=True)
        temperature = _number(device.get("temperature_c"))
        temperature_level = thresholds.temperature_c.level(temperature)
        power = _number(device.get("power_w"))
        limit = _number(device.get("power_limit_w"))
        power_text = NA if power is None else f"{power:.0f}W" if limit is None else f"{power:.0f}/{limit:.0f}W"
        temperature_text = f"{NA:>5}" if temperature is None else f"{temperature:>3.0f}°C"
        rows.append(_row(
            f"GPU{'?' if index is None else f'{index:.0f}'}",
            name,
            " ",
            (temperature_text, temperature_level.style if temperature_level is not None else ""),
            f"  {power_text:>9}",
        ))
        rows.append(_row("util", *_band_bar(_number(device.get("utilization_pct")), thresholds.utilization_pct)))
        used, total = _number(device.get("memory_used_mib")), _number(device.get("memory_total_mib"))
        vram = 100.0 * used / total if used is not None and total else None
        vram_row = _row("VRAM", *_band_bar(vram, thresholds.memory_pct))
        if vram is not None:
            vram_row.append(f"  {used / 1024:.1f}/{total / 1024:.1f} GiB", "dim")
        rows.append(vram_row)
    return rows


def _container_rows(console: Console, container: dict, width: int) -> list[Text]:
    if not container:
        return [_row("container", NA)]
    status = _clean(container.get("status"), 20)
    level = _CONTAINER_LEVELS.get(status)
    parts: list = [(status or NA, level.style if level is not None else "")]
    if status == "error" and container.get("error_kind") is not None:
        parts.append((f" ({_clean(container.get('error_kind'), 30)})", "red"))
    if status == "exited" and _number(container.get("exit_code")) is not None:
        parts.append(f" (exit {_number(container.get('exit_code')):.0f})")
    health = _clean(container.get("health"), 20)
    if health not in (None, "none"):
        health_style = {"healthy": "green", "unhealthy": "red"}.get(health, "yellow")
        parts.append(("  " + (health if health in ("healthy", "unhealthy") else f"health {health}"), health_style))
    restarts = _number(container.get("restart_count"))
    parts.append((f"  restarts {_format_number(restarts, '{:.0f}')}", "yellow" if restarts else ""))
    if container.get("oom_killed") is True:
        parts.append(("  OOM-killed", "bold red"))
    name = _clean(container.get("name"), 80)
    if name:
        parts.append(("  " + name, "dim"))
    rows = [_row("container", *parts)]
    if container.get("message") is not None:
        rows += _message_rows(console, "", container.get("message"), "red" if level == Level.FAIL else "yellow", width)
    return rows


def _stats_age(host: HostView, now: float) -> float | None:
    """Seconds since the newest stats line, as of NOW (the document's age plus its own age)."""
    newest = min((age for age in (_number(e.get("age_s")) for e in _engines(host.document)) if age is not None),
                 default=None)
    if newest is None or host.updated_at is None:
        return newest
    return newest + max(now - host.updated_at, 0.0)


def _idle_text(host: HostView, now: float) -> str:
    stats_age = _stats_age(host, now)
    return "idle" if stats_age is None else f"idle: last stats {_format_age(stats_age, coarse=True)} ago"


def _phase_rows(console: Console, host: HostView, vllm: dict, now: float, width: int) -> list[Text]:
    phase = vllm.get("phase") if vllm.get("phase") in PHASES else "unknown"
    rows = []
    if phase == "serving":
        aggregated = _number(_engines(host.document)[0].get("aggregated_engines")) if _engines(host.document) else None
        rows.append(_row("vllm", ("serving", "green"),
                         f"  ({aggregated:.0f} engines aggregated)" if aggregated else ""))
    elif phase == "idle":
        rows.append(_row("vllm", (_idle_text(host, now), "yellow")))
    elif phase == "loading":
        loading = _section(vllm.get("loading"))
        progress = _number(loading.get("progress_pct"))
        stage = _clean(loading.get("stage"), 30) or NA
        meter = _bar(progress, "yellow") if progress is not None else []
        rows.append(_row("vllm", (f"loading: {stage}", "yellow"), " " if meter else "", *meter))
        if loading.get("message") is not None:
            rows += _message_rows(console, "", loading.get("message"), "dim", width)
    elif phase == "failed":
        errors = _items(vllm.get("errors"))
        first = errors[0] if errors else {}
        rows.append(_row("vllm", (f"failed: {_clean(first.get('kind'), 40) or NA}", "bold red"),
                         f"  (+{len(errors) - 1} more)" if len(errors) > 1 else ""))
        if first.get("message") is not None:
            rows += _message_rows(console, "", first.get("message"), "red", width)
    else:
        rows.append(_row("vllm", (phase, "red" if phase == "stopped" else "yellow")))
        if vllm.get("message") is not None:
            rows += _message_rows(console, "", vllm.get("message"), "yellow", width)
    log_status = _clean(vllm.get("log_status"), 30)
    if log_status not in (None, "ok"):
        detail = f"{log_status}: {_clean(vllm.get('message')) or NA}" if phase != "unknown" else log_status
        rows += _message_rows(console, "logs", detail, "yellow", width)
    return rows


def _engine_block(engine: dict, thresholds: Thresholds) -> list[Text]:
    requests = [
        f"{_format_number(_number(engine.get('running')), '{:.0f}')} running",
        f"  {_format_number(_number(engine.get('waiting')), '{:.0f}')} waiting",
    ]
    swapped, preemptions = _number(engine.get("swapped")), _number(engine.get("preemptions"))
    if swapped:
        requests.append((f"  {swapped:.0f} swapped", "yellow"))
    if preemptions:
        requests.append((f"  {preemptions:.0f} preempted", "yellow"))
    hits = _number(engine.get("prefix_cache_hit_pct"))
    return [
        _row("throughput",
             f"prefill {_format_number(_number(engine.get('prompt_tps')))} tok/s"
             f"  decode {_format_number(_number(engine.get('generation_tps')))} tok/s"),
        _row("requests", *requests),
        _row("KV cache", *_band_bar(_number(engine.get("kv_cache_pct")), thresholds.kv_cache_pct)),
        _row("cache hits", *_bar(hits, HIT_RATE_STYLE)),
    ]


def _engine_table(engines: list[dict], thresholds: Thresholds) -> list[Text]:
    """One row per data-parallel engine: engine, prefill, decode, running, waiting, KV, hits."""
    def cells(label: str, prompt, generation, running, waiting) -> list:
        return [
            f"{label:<{LABEL_WIDTH}} ",
            f"{_format_number(prompt):>8} {_format_number(generation):>7}",
            f" {_format_number(running, '{:.0f}'):>4} {_format_number(waiting, '{:.0f}'):>5}",
        ]

    rows = [Text(f"{'engine':<{LABEL_WIDTH}}  prefill  decode  run  wait      KV   hits", style="dim")]
    for engine in engines:
        index = _number(engine.get("engine"))
        kv = _number(engine.get("kv_cache_pct"))
        kv_level = thresholds.kv_cache_pct.level(kv)
        swapped = _number(engine.get("swapped"))
        text = Text.assemble(
            *cells(NA if index is None else f"{index:.0f}", _number(engine.get("prompt_tps")),
                   _number(engine.get("generation_tps")), _number(engine.get("running")),
                   _number(engine.get("waiting"))),
            (f" {_format_number(kv, '{:.1f}%'):>7}", kv_level.style if kv_level is not None else ""),
            (f" {_format_number(_number(engine.get('prefix_cache_hit_pct')), '{:.1f}%'):>6}", HIT_RATE_STYLE),
            (f"  {swapped:.0f} swapped" if swapped else "", "yellow"),
        )
        rows.append(text)
    totals = [_sum(_number(engine.get(key)) for engine in engines)
              for key in ("prompt_tps", "generation_tps", "running", "waiting")]
    rows.append(Text.assemble(*cells("total", *totals), style="bold"))
    return rows


def _sparkline_row(history: Iterable[float | None], width: int) -> Text | None:
    samples = list(history)[-(width - LABEL_WIDTH - 1 - 14):]
    present = [value for value in samples if value is not None]
    if not present:
        return None
    peak = max(present)
    top = len(SPARK_CHARS) - 1
    chars = "".join(
        " " if value is None else SPARK_CHARS[min(max(int(value / peak * top + 0.5), 0), top) if peak > 0 else 0]
        for value in samples
    )
    return _row("gen tok/s", (chars, "cyan"), f"  peak {peak:.1f}")


def _checks_rows(console: Console, checks: list | None, width: int) -> list[Text]:
    if not checks:
        return []
    counts = _check_counts(checks)
    if not counts["fail"] and not counts["warn"]:
        return [_row("checks", (f"all {counts['ok']} ok", "green"))]
    summary = ", ".join(f"{counts[status]} {status}" for status in ("fail", "warn") if counts[status])
    first, style = (_first_check(checks, "fail"), "red") if counts["fail"] else (_first_check(checks, "warn"), "yellow")
    rows = [_row("checks", (summary, style))]
    message = f"{_clean(first.get('name'), 40) or NA}: {_clean(first.get('message')) or NA}"
    return rows + _message_rows(console, "", message, style, width)


def _document_rows(console: Console, host: HostView, thresholds: Thresholds, now: float, width: int) -> list[Text]:
    document = host.document or {}
    vllm = _section(document.get("vllm"))
    rows = _gpu_rows(console, _section(document.get("gpu")), thresholds, width)
    rows += _container_rows(console, _section(document.get("container")), width)
    rows += _phase_rows(console, host, vllm, now, width)
    engines = _engines(document)
    if len(engines) == 1:
        rows += _engine_block(engines[0], thresholds)
    elif engines:
        rows += _engine_table(engines, thresholds)
    sparkline = _sparkline_row(host.generation_history, width)
    if sparkline is not None:
        rows.append(sparkline)
    return rows


def _status_rows(console: Console, head: str, message: str | None, style: str, width: int) -> list[Text]:
    """``HEAD: MESSAGE`` across the whole panel width, at most MESSAGE_LINES lines."""
    text = Text(f"{head}: {_clean(message, width * MESSAGE_LINES) or NA}", style=style)
    lines = list(text.wrap(console, width, overflow="fold"))
    if len(lines) > MESSAGE_LINES:
        lines = lines[:MESSAGE_LINES]
        lines[-1].truncate(width - 1)
        lines[-1].append("…", style)
    return lines


def _panel_body(console: Console, host: HostView, fleet: FleetView, now: float, width: int) -> list[Text]:
    state = host_state(host)
    if state == "not_provisioned":
        return _status_rows(console, "not provisioned", host.not_provisioned_reason, "dim", width)
    rows: list[Text] = []
    if state == "unreachable":
        rows += _status_rows(console, "unreachable", host.unreachable, "bold red", width)
    elif host.failure is not None:
        rows += _status_rows(console, "task failed", host.failure, "bold red", width)
    rows += _checks_rows(console, host.checks, width)
    if host.document is None:
        if state == "pending":
            rows.append(Text("waiting for the first result…", style="dim"))
        return rows
    document_rows = _document_rows(console, host, fleet.thresholds, now, width)
    if state == "unreachable" or host.failure is not None:
        # Last known data stays visible, dimmed, so an outage does not blank the panel.
        rows.append(Text("last known data:", style="dim"))
        for row in document_rows:
            row.stylize("dim")
    rows += document_rows
    return rows


# --- panels, cache and the frame -----------------------------------------------------------------

_CONTENT_WIDTH = PANEL_WIDTH - 4  # borders and one column of padding on each side
_SUMMARY_ORDER = ("failed", "unreachable", "stopped", "unknown", "loading", "pending", "stale",
                  "failing checks", "degraded", "not provisioned")


def _title(host: HostView) -> Text:
    title = Text()
    title.append(_clean(host.name, 80) or NA, "bold")
    address = _clean(host.address, 80)
    if address:
        title.append(f"  {address}", "dim")
    model = _short_model(host.model)
    if model:
        title.append(f"  {model}", "cyan")
    return title


def _age_label(host: HostView, fleet: FleetView, now: float, stale: bool) -> list[Segment]:
    if not host.provisioned:
        return [Segment("never polled", Style(dim=True))]
    age = _format_age(now - _reference_time(host, fleet))
    text = f"no data for {age}" if host.updated_at is None else f"{age} ago"
    if not stale:
        return [Segment(text, Style(dim=True))]
    return [Segment("STALE", Style(bold=True, color="yellow")), Segment(f" {text}", Style(color="yellow"))]


def _bottom_border(border: rich_box.Box, style: Style, label: list[Segment]) -> list[Segment]:
    label_width = sum(segment.cell_length for segment in label)
    fill = max(PANEL_WIDTH - 2 - label_width - 3, 0)
    return [
        Segment(border.bottom_left + border.bottom * fill + " ", style),
        *label,
        Segment(" " + border.bottom + border.bottom_right, style),
    ]


def _blank_safe(style: Style | None) -> bool:
    """Whether blanks look the same in STYLE as unstyled (nothing drawn on a space)."""
    return style is None or not (
        style.bgcolor or style.underline or style.underline2 or style.reverse or style.strike
        or style.overline or style.link
    )


def _compact(line: Iterable[Segment]) -> list[Segment]:
    """Fewer segments for the same look: rich spends ~2 us per segment per frame, so merge
    neighbours of one style, and blanks into a neighbour whose style does not show on them."""
    compacted: list[Segment] = []
    for text, style, control in line:
        style = style or None  # Style.null() is falsy and looks like no style
        if control or not compacted or compacted[-1].control:
            compacted.append(Segment(text, style, control))
            continue
        previous_text, previous_style, _control = compacted[-1]
        if previous_style == style or (text.isspace() and _blank_safe(previous_style)):
            compacted[-1] = Segment(previous_text + text, previous_style)
        elif previous_text.isspace() and _blank_safe(style):
            compacted[-1] = Segment(previous_text + text, style)
        else:
            compacted.append(Segment(text, style))
    return compacted


def _panel_lines(console: Console, border: rich_box.Box, border_style: Style, title: Text,
                 body: list[Text]) -> list[list[Segment]]:
    """A bordered panel PANEL_WIDTH wide, without its bottom border, as compacted lines.
    Drawn here rather than with rich's Panel: a quarter of the cost, one line per row."""
    title.truncate(PANEL_WIDTH - 6, overflow="ellipsis")
    title.stylize_before(border_style)
    fill = PANEL_WIDTH - 5 - title.cell_len
    lines = [[
        Segment(border.top_left + border.top + " ", border_style),
        *title.render(console),
        Segment(" " + border.top * fill + border.top_right, border_style),
    ]]
    left, right = Segment(border.mid_left + " ", border_style), Segment(" " + border.mid_right, border_style)
    for row in body:
        row.truncate(_CONTENT_WIDTH, overflow="ellipsis", pad=True)
        lines.append([left, *row.render(console), right])
    return [_compact(line) for line in lines]


def _join(line: list[Segment], following: list[Segment]) -> None:
    """Append the gap and FOLLOWING to LINE, merging the panel borders on both sides of the
    gap into one segment when they share a style (borders are plain colours: blank-safe)."""
    last, first = line[-1], following[0]
    if last.style == first.style:
        line[-1] = Segment(last.text + " " * PANEL_GAP + first.text, last.style)
        line.extend(following[1:])
    else:
        line[-1] = Segment(last.text + " " * PANEL_GAP, last.style)
        line.extend(following)


@dataclasses.dataclass
class _CachedPanel:
    key: tuple
    lines: list[list[Segment]]  # every line but the bottom border, which carries the age
    border_style: Style


class PanelCache:
    """Rendered panels by host name, reused while their key (updates, staleness, the idle
    age, checks, thresholds, box) is unchanged. The callback keeps one for its lifetime."""

    def __init__(self) -> None:
        self._entries: dict[str, _CachedPanel] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str, key: tuple) -> _CachedPanel | None:
        entry = self._entries.get(name)
        if entry is not None and entry.key == key:
            self.hits += 1
            return entry
        self.misses += 1
        return None

    def put(self, name: str, entry: _CachedPanel) -> None:
        self._entries[name] = entry

    def retain(self, names: Iterable[str]) -> None:
        """Forget the panels of hosts that are no longer shown."""
        keep = set(names)
        for name in [name for name in self._entries if name not in keep]:
            del self._entries[name]


def _checks_fingerprint(checks: list | None) -> tuple:
    return tuple((check.get("name"), check.get("status"), check.get("message")) for check in _items(checks))


def _summary(fleet: FleetView, now: float) -> Text:
    healthy = 0
    problems: collections.Counter = collections.Counter()
    engines: list[dict] = []
    for host in fleet.hosts:
        engines += _fresh_engines(host, fleet, now)
        if _is_healthy(host, fleet, now):
            healthy += 1
            continue
        state = host_state(host)
        if state in ("serving", "idle"):
            if _is_stale(host, fleet, now):
                state = "stale"
            elif host.checks:
                state = "failing checks"
            else:
                state = "degraded"
        problems[state.replace("_", " ")] += 1
    total = len(fleet.hosts)
    level = Level.OK if healthy == total else Level.FAIL if healthy == 0 else Level.WARN
    summary = Text(no_wrap=False)
    summary.append(f"{healthy}/{total} VMs healthy", f"bold {level.style}")
    if problems:
        tally = ", ".join(f"{problems[state]} {state}" for state in _SUMMARY_ORDER if problems[state])
        summary.append(f" ({tally})")

    def total_of(key: str) -> float | None:
        return _sum(_number(engine.get(key)) for engine in engines)

    if not engines:
        summary.append("  no engine stats", "dim")
        return summary
    summary.append(
        f"  prompt {_format_number(total_of('prompt_tps'))} tok/s"
        f"  gen {_format_number(total_of('generation_tps'))} tok/s"
        f"  {_format_number(total_of('running'), '{:.0f}')} running"
        f"  {_format_number(total_of('waiting'), '{:.0f}')} waiting"
    )
    return summary


def _header(fleet: FleetView, now: float) -> list[Text]:
    lines = [
        Text.assemble(
            ("gpufleet watch", "bold cyan"),
            (f"  {time.strftime('%H:%M:%S', time.localtime(now))}", "dim"),
            (f"  refresh every {fleet.interval_s:g}s  Ctrl-C to stop", "dim"),
        ),
        _summary(fleet, now),
    ]
    lines += [Text(f"warning: {_clean(warning, 500)}", style="yellow") for warning in fleet.warnings]
    return lines


class _Dashboard:
    """The frame: header, then panels in rows. Panels are rendered lazily, at print time,
    against the console's options, so render it while the state it reads is not changing."""

    def __init__(self, fleet: FleetView, now: float, width: int, cache: PanelCache) -> None:
        self._fleet = fleet
        self._now = now
        self._width = width
        self._cache = cache

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = min(self._width, options.max_width)
        if width < MIN_WIDTH:
            yield Text(f"terminal too narrow ({width} cols): need at least {MIN_WIDTH}", style="bold yellow")
            return
        yield from console.render(Group(*_header(self._fleet, self._now), Text("")), options.update_width(width))
        border = rich_box.ROUNDED.substitute(options, safe=console.safe_box)
        panels = [self._cached_panel(console, border, host) for host in self._fleet.hosts]
        self._cache.retain(host.name for host in self._fleet.hosts)
        columns = max(1, (width + PANEL_GAP) // (PANEL_WIDTH + PANEL_GAP))
        blank, new_line = [Segment(" " * PANEL_WIDTH)], Segment.line()
        for start in range(0, len(panels), columns):
            row = panels[start:start + columns]
            for index in range(max(len(lines) for lines in row)):
                line = list(row[0][index]) if index < len(row[0]) else list(blank)
                for lines in row[1:]:
                    _join(line, lines[index] if index < len(lines) else blank)
                yield from line
                yield new_line

    def _cached_panel(self, console: Console, border: rich_box.Box, host: HostView) -> list[list[Segment]]:
        fleet, now = self._fleet, self._now
        stale = _is_stale(host, fleet, now)
        state = host_state(host)
        key = (
            host.updates, stale, _idle_text(host, now) if state == "idle" else None,
            _checks_fingerprint(host.checks), fleet.thresholds, border,
        )
        entry = self._cache.get(host.name, key)
        if entry is None:
            level = _panel_level(host, state, stale, fleet.thresholds)
            border_style = console.get_style(level.style if level is not None else "dim")
            lines = _panel_lines(console, border, border_style, _title(host),
                                 _panel_body(console, host, fleet, now, _CONTENT_WIDTH))
            entry = _CachedPanel(key, lines, border_style)
            self._cache.put(host.name, entry)
        return [*entry.lines, _bottom_border(border, entry.border_style, _age_label(host, fleet, now, stale))]


def render_dashboard(fleet: FleetView, now: float, width: int, cache: PanelCache | None = None) -> RenderableType:
    """The whole frame for a terminal WIDTH columns wide (a one-line message below MIN_WIDTH).
    Pass the same CACHE every frame so unchanged panels are not rendered again."""
    return _Dashboard(fleet, now, width, cache if cache is not None else PanelCache())
