# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The full panel of one VM: per GPU name, temperature, power, utilisation and VRAM bars; the
container; the engine's phase, throughput, requests, KV cache and prefix cache; the health
checks; a sparkline of generation throughput; the age of the data in the bottom border.

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12, rich). Drawn as lists of segments rather than with rich's
Panel (a quarter of the cost, one line per row) and cached per host: a panel is rendered again
only when its host recorded a result, turned stale, or the panel width changed. Every string
shown here was cleaned when the view model was built, and goes into ``Text``, never markup.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

try:
    from rich import box as rich_box
    from rich.console import Console
    from rich.segment import Segment
    from rich.style import Style
    from rich.text import Text
except ImportError as exc:  # rich is a controller requirement; the callback reports its absence
    RICH_IMPORT_ERROR: ImportError | None = exc
else:
    RICH_IMPORT_ERROR = None

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import FleetState, HostState
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import oom_holder
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._lines_output import stats_age
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._node_view import (
    NA,
    EngineView,
    NodeView,
    format_age,
    format_number,
    short_model,
    text,
)
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._serving import format_seconds, window_text
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._theme import health_style, level_style, style
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Band, Thresholds

PANEL_MIN_WIDTH = 60
PANEL_GAP = 1
LABEL_WIDTH = 10  # every value (and so every bar) starts in one column
BAR_CELLS = 10
GPU_NAME_WIDTH = 26
MESSAGE_LINES = 3  # a message wraps to at most this many lines inside a panel
SPARK_CHARS = "▁▂▃▄▅▆▇█"

Line = list  # of rich Segments: one line of a frame


def panel_layout(width: int) -> tuple[int, int]:
    """(panels per row, panel width) for a frame WIDTH columns wide: as many panels of at
    least PANEL_MIN_WIDTH as fit, widened to share the columns there are."""
    columns = max(1, (width + PANEL_GAP) // (PANEL_MIN_WIDTH + PANEL_GAP))
    return columns, max((width - PANEL_GAP * (columns - 1)) // columns, 1)


# --- rows -------------------------------------------------------------------------------------


def _row(label: str, *parts: str | tuple[str, Style | str] | Text) -> Text:
    row = Text(f"{label:<{LABEL_WIDTH}} ")
    for part in parts:
        if isinstance(part, Text):
            row.append_text(part)
        elif isinstance(part, tuple):
            row.append(*part)
        else:
            row.append(part)
    return row


def _bar(pct: float | None, bar_style: Style) -> list:
    if pct is None:
        return [NA]
    filled = min(max(int(pct / 100.0 * BAR_CELLS + 0.5), 0), BAR_CELLS)
    return ["[", ("█" * filled, bar_style), " " * (BAR_CELLS - filled) + "]", f" {pct:5.1f}%"]


def _band_bar(pct: float | None, band: Band) -> list:
    return _bar(pct, level_style(band.level(pct)))


def _wrapped(console: Console, message: str, message_style: Style, width: int) -> list[Text]:
    lines = list(Text(message, style=message_style).wrap(console, width, overflow="fold"))
    if len(lines) > MESSAGE_LINES:
        lines = lines[:MESSAGE_LINES]
        lines[-1].truncate(width - 1)
        lines[-1].append("…", message_style)
    return lines


def _message_rows(console: Console, label: str, message: str | None, message_style: Style, width: int) -> list[Text]:
    """LABEL then MESSAGE word-wrapped into the value column, at most MESSAGE_LINES lines."""
    value_width = width - LABEL_WIDTH - 1
    lines = _wrapped(console, (message or NA)[: value_width * MESSAGE_LINES], message_style, value_width)
    return [_row(label if index == 0 else "", line) for index, line in enumerate(lines)]


def _status_rows(console: Console, head: str, message: str | None, message_style: Style, width: int) -> list[Text]:
    """``HEAD: MESSAGE`` across the whole panel width, at most MESSAGE_LINES lines."""
    return _wrapped(console, f"{head}: {(message or NA)[: width * MESSAGE_LINES]}", message_style, width)


def _gpu_rows(console: Console, node: NodeView, thresholds: Thresholds, width: int) -> list[Text]:
    rows = []
    if node.gpu_status not in (None, "ok"):
        rows += _message_rows(console, "gpu", f"{node.gpu_status}: {node.gpu_message or NA}", style("problem"), width)
    if node.gpu_status in (None, "ok") and not node.gpus:
        rows.append(_row("gpu", NA))
    for gpu in node.gpus:
        name = Text(gpu.name or NA)
        name.truncate(GPU_NAME_WIDTH, overflow="ellipsis", pad=True)
        if gpu.power_w is None:
            power = NA
        elif gpu.power_limit_w is None:
            power = f"{gpu.power_w:.0f}W"
        else:
            power = f"{gpu.power_w:.0f}/{gpu.power_limit_w:.0f}W"
        temperature = f"{NA:>5}" if gpu.temperature_c is None else f"{gpu.temperature_c:>3.0f}°C"
        rows.append(
            _row(
                f"GPU{'?' if gpu.index is None else f'{gpu.index:.0f}'}",
                name,
                " ",
                (temperature, level_style(thresholds.temperature_c.level(gpu.temperature_c))),
                f"  {power:>9}",
            )
        )
        rows.append(_row("util", *_band_bar(gpu.utilization_pct, thresholds.utilization_pct)))
        vram_row = _row("VRAM", *_band_bar(gpu.vram_pct, thresholds.memory_pct))
        if gpu.vram_pct is not None:
            vram_row.append(f"  {gpu.memory_used_mib / 1024:.1f}/{gpu.memory_total_mib / 1024:.1f} GiB", style("muted"))
        rows.append(vram_row)
    return rows


def _container_rows(console: Console, node: NodeView, width: int) -> list[Text]:
    if not node.container_present:
        return [_row("container", NA)]
    if node.phase == "not_watched":
        return []  # an Ollama VM: the phase row says so, once
    parts: list = [node.container_status or NA]
    if node.container_status == "error" and node.container_error_kind is not None:
        parts.append(f" ({node.container_error_kind})")
    if node.container_status == "exited" and node.exit_code is not None:
        parts.append(f" (exit {node.exit_code:.0f})")
    if node.container_health not in (None, "none"):
        health = node.container_health
        parts.append("  " + (health if health in ("healthy", "unhealthy") else f"health {health}"))
    parts.append(f"  restarts {format_number(node.restart_count, '{:.0f}')}")
    if node.oom_killed:
        parts.append(("  OOM-killed", style("error")))
    if node.container_name:
        parts.append(("  " + node.container_name, style("muted")))
    rows = [_row("container", *parts)]
    if node.container_message is not None:
        rows += _message_rows(console, "", node.container_message, style("notice"), width)
    return rows


def idle_text(host: HostState, now: float) -> str:
    age = stats_age(host, now)
    return "idle" if age is None else f"idle: last stats {format_age(age, coarse=True)} ago"


def _phase_rows(console: Console, host: HostState, node: NodeView, now: float, width: int) -> list[Text]:
    rows = []
    phase = node.phase
    if phase == "serving":
        aggregated = node.engines[0].aggregated_engines if node.engines else None
        rows.append(_row("vllm", "serving", f"  ({aggregated:.0f} engines aggregated)" if aggregated else ""))
    elif phase == "idle":
        rows.append(_row("vllm", idle_text(host, now)))
    elif phase == "loading":
        meter = _bar(node.loading_pct, style("loading")) if node.loading_pct is not None else []
        rows.append(
            _row("vllm", (f"loading: {node.loading_stage or NA}", style("loading")), " " if meter else "", *meter)
        )
        if node.loading_message is not None:
            rows += _message_rows(console, "", node.loading_message, style("muted"), width)
    elif phase == "failed":
        first = node.errors[0] if node.errors else None
        rows.append(
            _row(
                "vllm",
                (f"failed: {(first and first.kind) or NA}", style("error")),
                f"  (+{len(node.errors) - 1} more)" if len(node.errors) > 1 else "",
            )
        )
        if first is not None and first.message is not None:
            rows += _message_rows(console, "", first.message, style("problem"), width)
        holder = oom_holder(host.document) if first is not None and first.kind == "cuda_oom" else None
        if holder is not None:
            rows += _message_rows(console, "", holder, style("problem"), width)
    else:
        rows.append(_row("vllm", phase))
        if node.message is not None:
            rows += _message_rows(console, "", node.message, style("notice"), width)
    if node.log_status not in (None, "ok") and phase != "not_watched":
        detail = f"{node.log_status}: {node.message or NA}" if phase != "unknown" else node.log_status
        rows += _message_rows(console, "logs", detail, style("notice"), width)
    return rows


def _source_note(source: str | None) -> tuple[str, Style | str]:
    """The small marker of figures read from vLLM's /metrics (log figures carry none)."""
    return ("  /metrics" if source == "metrics" else "", style("muted"))


def _engine_block(engine: EngineView, thresholds: Thresholds, source: str | None = None) -> list[Text]:
    requests: list = [
        f"{format_number(engine.running, '{:.0f}')} running",
        f"  {format_number(engine.waiting, '{:.0f}')} waiting",
    ]
    if engine.swapped:
        requests.append((f"  {engine.swapped:.0f} swapped", style("notice")))
    if engine.preemptions:
        requests.append((f"  {engine.preemptions:.0f} preempted", style("notice")))
    return [
        _row(
            "throughput",
            f"prefill {format_number(engine.prompt_tps)} tok/s  decode {format_number(engine.generation_tps)} tok/s",
            _source_note(source),
        ),
        _row("requests", *requests),
        _row("KV cache", *_band_bar(engine.kv_cache_pct, thresholds.kv_cache_pct)),
        _row("cache hits", *_bar(engine.prefix_cache_hit_pct, style("hit_rate"))),
    ]


def _engine_table(engines: tuple[EngineView, ...], thresholds: Thresholds, source: str | None = None) -> list[Text]:
    """One row per data-parallel engine: engine, prefill, decode, running, waiting, KV, hits."""

    def cells(label: str, prompt, generation, running, waiting) -> list:
        return [
            f"{label:<{LABEL_WIDTH}} ",
            f"{format_number(prompt):>8} {format_number(generation):>7}",
            f" {format_number(running, '{:.0f}'):>4} {format_number(waiting, '{:.0f}'):>5}",
        ]

    rows = [
        Text(
            f"{'engine':<{LABEL_WIDTH}}  prefill  decode  run  wait      KV   hits{_source_note(source)[0]}",
            style=style("muted"),
        )
    ]
    for engine in engines:
        rows.append(
            Text.assemble(
                *cells(
                    NA if engine.engine is None else f"{engine.engine:.0f}",
                    engine.prompt_tps,
                    engine.generation_tps,
                    engine.running,
                    engine.waiting,
                ),
                (
                    f" {format_number(engine.kv_cache_pct, '{:.1f}%'):>7}",
                    level_style(thresholds.kv_cache_pct.level(engine.kv_cache_pct)),
                ),
                (f" {format_number(engine.prefix_cache_hit_pct, '{:.1f}%'):>6}", style("hit_rate")),
                (f"  {engine.swapped:.0f} swapped" if engine.swapped else "", style("notice")),
            )
        )
    totals = [
        sum(getattr(engine, key) or 0.0 for engine in engines)
        for key in ("prompt_tps", "generation_tps", "running", "waiting")
    ]
    rows.append(Text.assemble(*cells("total", *totals), style=style("label")))
    return rows


def _sparkline_row(history: Iterable[float | None], width: int) -> Text | None:
    samples = list(history)[-(width - LABEL_WIDTH - 1 - 14) :]
    present = [value for value in samples if value is not None]
    if not present:
        return None
    peak = max(present)
    top = len(SPARK_CHARS) - 1
    chars = "".join(
        " " if value is None else SPARK_CHARS[min(max(int(value / peak * top + 0.5), 0), top) if peak > 0 else 0]
        for value in samples
    )
    return _row("gen tok/s", (chars, style("sparkline")), f"  peak {peak:.1f}")


def _checks_rows(console: Console, host: HostState, width: int) -> list[Text]:
    if not host.checks:
        return []
    counts = host.check_counts()
    if not counts["fail"] and not counts["warn"]:
        return [_row("checks", (f"all {counts['ok']} ok", health_style("ok")))]
    summary = ", ".join(f"{counts[status]} {status}" for status in ("fail", "warn") if counts[status])
    worst = host.worst_check() or {}
    check_style = health_style(worst.get("status"))
    message = f"{text(worst.get('name'), 40) or NA}: {text(worst.get('message')) or NA}"
    return [_row("checks", (summary, check_style))] + _message_rows(console, "", message, check_style, width)


def _document_rows(console: Console, fleet: FleetState, host: HostState, now: float, width: int) -> list[Text]:
    node = host.node
    rows = _gpu_rows(console, node, fleet.thresholds, width)
    rows += _container_rows(console, node, width)
    rows += _phase_rows(console, host, node, now, width)
    # Engine figures only while they describe the present: the last line of a stopped
    # container or a quiet engine would read as live traffic.
    if fleet.engines_current(host, now):
        if len(node.engines) == 1:
            rows += _engine_block(node.engines[0], fleet.thresholds, node.figures_source)
        else:
            rows += _engine_table(node.engines, fleet.thresholds, node.figures_source)
    elif node.engines and node.phase not in ("idle",):
        age = stats_age(host, now)
        rows.append(
            _row(
                "engine",
                (
                    f"no current stats (last line {format_age(age, coarse=True)} old)"
                    if age is not None
                    else "no current stats",
                    style("muted"),
                ),
            )
        )
    rows += _serving_rows(host, fleet.thresholds)
    sparkline = _sparkline_row(host.generation_history, width)
    if sparkline is not None:
        rows.append(sparkline)
    return rows


def _serving_rows(host: HostState, thresholds: Thresholds) -> list[Text]:
    """Latency percentiles, request rate and error share from vLLM's /metrics (``host.serving``),
    coloured by the thresholds of the health checks; none without /metrics."""
    figures = host.serving if host.current_node is not None else None
    if not figures:
        return []
    rows = []
    for label, key, band in (("TTFT", "ttft_s", thresholds.ttft_p90_s), ("ITL", "itl_s", thresholds.itl_p90_s)):
        latency = figures.get(key) or {}
        if latency.get("p90") is None:
            continue
        rows.append(
            _row(
                label,
                f"p50 {format_seconds(latency['p50'])}  ",
                (f"p90 {format_seconds(latency['p90'])}", level_style(band.level(latency["p90"]))),
                f"  p99 {format_seconds(latency['p99'])}",
            )
        )
    parts: list = []
    if figures.get("requests_per_s") is not None:
        parts.append(f"{figures['requests_per_s']:.1f}/s  ")
    if figures.get("errors_pct") is not None:
        parts.append(
            (
                f"errors {figures['errors_pct']:.1f}%",
                level_style(thresholds.request_errors_pct.level(figures["errors_pct"])),
            )
        )
    if parts:
        rows.append(_row("requests", *parts))
    if rows and figures.get("window") != "interval":
        rows.append(_row("", (window_text(figures), style("muted"))))
    return rows


def _panel_body(
    console: Console, fleet: FleetState, host: HostState, now: float, stale: bool, width: int
) -> list[Text]:
    state = host.state
    if state == "not_provisioned":
        return _status_rows(console, "not provisioned", text(host.not_provisioned_reason), style("muted"), width)
    rows: list[Text] = []
    if state == "unreachable":
        # The reachable check says the same: the SSH error is shown once, here.
        rows += _status_rows(console, "unreachable", text(host.unreachable), style("error"), width)
    elif host.failure is not None:
        rows += _status_rows(console, "task failed", text(host.failure), style("error"), width)
    else:
        rows += _checks_rows(console, host, width)
    if host.node is None:
        if state == "pending":
            rows.append(Text("waiting for the first result…", style=style("muted")))
        return rows
    document_rows = _document_rows(console, fleet, host, now, width)
    if host.current_node is None or stale:
        # Last known data stays visible, dimmed, so an outage does not blank the panel.
        rows.append(Text("last known data:", style=style("last_seen")))
        for row in document_rows:
            row.stylize(style("last_seen"))
    return rows + document_rows


# --- drawing ----------------------------------------------------------------------------------


def _title(host: HostState) -> Text:
    title = Text()
    title.append(text(host.name, 80) or NA, style("label"))
    address = text(host.address, 80)
    if address:
        title.append(f"  {address}", style("muted"))
    model = short_model(host.model)
    if model:
        title.append(f"  {model}", style("model"))
    return title


def age_label(fleet: FleetState, host: HostState, now: float, stale: bool) -> list[Segment]:
    if not host.provisioned:
        return [Segment("never polled", style("muted"))]
    age = format_age(now - host.reference_time(fleet.started_at))
    label = f"no data for {age}" if host.updated_at is None else f"{age} ago"
    if not stale:
        return [Segment(label, style("muted"))]
    return [Segment("STALE", style("stale")), Segment(f" {label}", style("notice"))]


def _blank_safe(segment_style: Style | None) -> bool:
    """Whether blanks look the same in the style as unstyled (nothing drawn on a space)."""
    return segment_style is None or not (
        segment_style.bgcolor
        or segment_style.underline
        or segment_style.underline2
        or segment_style.reverse
        or segment_style.strike
        or segment_style.overline
        or segment_style.link
    )


def compact(line: Iterable[Segment]) -> Line:
    """Fewer segments for the same look: rich spends ~2 us per segment per frame, so merge
    neighbours of one style, and blanks into a neighbour whose style does not show on them."""
    compacted: Line = []
    for segment_text, segment_style, control in line:
        segment_style = segment_style or None  # Style.null() is falsy and looks like no style
        if control or not compacted or compacted[-1].control:
            compacted.append(Segment(segment_text, segment_style, control))
            continue
        previous_text, previous_style, _control = compacted[-1]
        if previous_style == segment_style or (segment_text.isspace() and _blank_safe(previous_style)):
            compacted[-1] = Segment(previous_text + segment_text, previous_style)
        elif previous_text.isspace() and _blank_safe(segment_style):
            compacted[-1] = Segment(previous_text + segment_text, segment_style)
        else:
            compacted.append(Segment(segment_text, segment_style))
    return compacted


@dataclasses.dataclass
class CachedPanel:
    key: tuple
    lines: list[Line]  # every line but the bottom border, which carries the age
    border_style: Style


def _draw(
    console: Console, border: rich_box.Box, border_style: Style, title: Text, body: list[Text], width: int
) -> list[Line]:
    title.truncate(width - 6, overflow="ellipsis")
    title.stylize_before(border_style)
    fill = max(width - 5 - title.cell_len, 0)
    lines = [
        [
            Segment(border.top_left + border.top + " ", border_style),
            *title.render(console),
            Segment(" " + border.top * fill + border.top_right, border_style),
        ]
    ]
    left, right = Segment(border.mid_left + " ", border_style), Segment(" " + border.mid_right, border_style)
    for row in body:
        row.truncate(width - 4, overflow="ellipsis", pad=True)
        lines.append([left, *row.render(console), right])
    return [compact(line) for line in lines]


def _bottom(border: rich_box.Box, border_style: Style, label: list[Segment], width: int) -> Line:
    fill = max(width - 5 - sum(segment.cell_length for segment in label), 0)
    return [
        Segment(border.bottom_left + border.bottom * fill + " ", border_style),
        *label,
        Segment(" " + border.bottom + border.bottom_right, border_style),
    ]


def panel(
    console: Console, border: rich_box.Box, fleet: FleetState, host: HostState, now: float, width: int, cache: dict
) -> list[Line]:
    """The panel of HOST, WIDTH columns wide, as lines of segments (from CACHE when unchanged)."""
    stale = fleet.is_stale(host, now)
    key = (
        host.updates,
        stale,
        idle_text(host, now) if host.state == "idle" else None,
        fleet.engines_current(host, now),
        width,
        border,
        fleet.thresholds,
    )
    entry = cache.get(host.name)
    if entry is None or entry.key != key:
        border_style = health_style(host.health)
        body = _panel_body(console, fleet, host, now, stale, width - 4)
        entry = CachedPanel(key, _draw(console, border, border_style, _title(host), body, width), border_style)
        cache[host.name] = entry
    return [*entry.lines, _bottom(border, entry.border_style, age_label(fleet, host, now, stale), width)]
