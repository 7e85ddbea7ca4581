# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One frame of the fleet view, fitted to the terminal's width and height.

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12, rich). Below the header (time, refresh interval, the fleet's
summary, warnings), the first of these that fits:

1. panels: every VM's full panel, as many per row as fit, widened to share the columns;
2. the fleet table, one line per VM, worst first, with full panels of the worst VMs in the
   rows left over (``watch_view=auto``);
3. the table rows that fit, worst first, and a last line counting the VMs not shown
   (``+41 more: 39 ok, 2 idle``);
4. when even the problems outnumber the table's rows: the labels of the VMs, several per line,
   worst first, and the same last line.

A failing, unreachable or warning VM is never left out while a healthier one is shown, and the
frame is at most ``height - 1`` lines (the cursor's line after it would scroll the screen and
leave a copy of the header above the frame) and never wider than ``width``.
"""

from __future__ import annotations

import math
import time

try:
    from rich import box as rich_box
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.segment import Segment
    from rich.text import Text
except ImportError as exc:  # rich is a controller requirement; the callback reports its absence
    RICH_IMPORT_ERROR: ImportError | None = exc
else:
    RICH_IMPORT_ERROR = None

from ansible_collections.gpufleet.vllm.plugins.plugin_utils import _fleet_table as table
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import (
    FleetState,
    HostState,
    Severity,
    class_counts,
)
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._node_view import format_number, text
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._panels import PANEL_GAP, Line, panel, panel_layout
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._theme import health_style, style

MIN_WIDTH = 40
MIN_HEIGHT = 6
SHORT_WORDS = {
    Severity.FAILING: "fail",
    Severity.UNREACHABLE: "down",
    Severity.WARNING: "warn",
    Severity.STALE: "stale",
    Severity.LOADING: "load",
    Severity.PENDING: "wait",
    Severity.HEALTHY: "ok",
    Severity.NOT_PROVISIONED: "n/p",
}


class FrameCache:
    """Rendered panels and table rows by host name, kept by the callback for its lifetime so
    that an unchanged VM costs nothing to draw again."""

    def __init__(self) -> None:
        self.panels: dict = {}
        self.rows: dict = {}
        self.columns: tuple | None = None

    def retain(self, names: set[str]) -> None:
        for store in (self.panels, self.rows):
            for name in [name for name in store if name not in names]:
                del store[name]


# --- header -----------------------------------------------------------------------------------


def summary(fleet: FleetState, now: float, pairs: list[tuple[HostState, Severity]]) -> Text:
    """``27/30 VMs healthy (2 failing, 1 unreachable)  prompt … tok/s  gen … tok/s  N running
    M waiting``: healthy per the health checks; totals over engines whose figures are current."""
    healthy = sum(1 for _host, severity in pairs if severity == Severity.HEALTHY)
    counted = [pair for pair in pairs if pair[1] not in (Severity.HEALTHY,)]
    total = len(pairs)
    status = "ok" if healthy == total else "fail" if healthy == 0 else "warn"
    line = Text()
    line.append(f"{healthy}/{total} VMs healthy", health_style(status) + style("label"))
    tally = class_counts(counted)
    if tally:
        line.append(" (" + ", ".join(f"{count} {word}" for count, word in tally) + ")")
    current = [host.node for host in fleet.hosts if fleet.engines_current(host, now)]
    if not current:
        line.append("  no current engine stats", style("muted"))
        return line

    def over(key: str) -> float | None:
        values = [node.engine_total(key) for node in current]
        present = [value for value in values if value is not None]
        return sum(present) if present else None

    line.append(
        f"  prompt {format_number(over('prompt_tps'))} tok/s  gen {format_number(over('generation_tps'))} tok/s"
        f"  {format_number(over('running'), '{:.0f}')} running  {format_number(over('waiting'), '{:.0f}')} waiting"
    )
    return line


def header(fleet: FleetState, now: float, pairs: list[tuple[HostState, Severity]]) -> list[Text]:
    interval = "refresh interval not known yet" if fleet.interval_s is None else f"refresh every {fleet.interval_s:g}s"
    lines = [
        Text.assemble(
            ("gpufleet watch", style("header.title")),
            (f"  {time.strftime('%H:%M:%S', time.localtime(now))}  {interval}  Ctrl-C to stop", style("header.dim")),
        ),
        summary(fleet, now, pairs),
    ]
    lines += [Text(f"warning: {text(warning, 500)}", style=style("header.warning")) for warning in fleet.warnings]
    return lines


# --- the body ---------------------------------------------------------------------------------


def _join_row(row: list[list[Line]], panel_width: int) -> list[Line]:
    """Panels side by side, PANEL_GAP apart, shorter ones padded with blank lines."""
    blank = [Segment(" " * panel_width)]
    lines = []
    for index in range(max(len(lines_of) for lines_of in row)):
        line: Line = []
        for position, lines_of in enumerate(row):
            if position:
                line.append(Segment(" " * PANEL_GAP))
            line.extend(lines_of[index] if index < len(lines_of) else blank)
        lines.append(line)
    return lines


def _panel_rows(
    console: Console, fleet: FleetState, hosts: list[HostState], now: float, width: int, budget: int, cache: FrameCache
) -> tuple[list[Line], int]:
    """Rows of panels of HOSTS in order, as many whole rows as fit in BUDGET lines: (lines,
    number of hosts shown)."""
    columns, panel_width = panel_layout(width)
    border = rich_box.ROUNDED.substitute(console.options, safe=console.safe_box)
    lines: list[Line] = []
    shown = 0
    for start in range(0, len(hosts), columns):
        group = hosts[start : start + columns]
        row = _join_row(
            [panel(console, border, fleet, host, now, panel_width, cache.panels) for host in group], panel_width
        )
        if len(lines) + len(row) > budget:
            break
        lines += row
        shown += len(group)
    return lines, shown


def _left_over_panels(
    console: Console, fleet: FleetState, hosts: list[HostState], now: float, width: int, budget: int, cache: FrameCache
) -> list[Line]:
    """Panels of the worst of HOSTS (in order) in the BUDGET lines left under the table: a panel
    too tall for the space left gives way to the next one that fits."""
    columns, panel_width = panel_layout(width)
    border = rich_box.ROUNDED.substitute(console.options, safe=console.safe_box)
    lines: list[Line] = []
    row: list[list[Line]] = []
    skipped = 0
    for host in hosts:
        left = budget - len(lines)
        if left < 3 or skipped > 2 * columns:  # 3: the smallest panel; a few tall ones tried, no more
            break
        lines_of = panel(console, border, fleet, host, now, panel_width, cache.panels)
        if len(lines_of) > left:
            skipped += 1
            continue
        row.append(lines_of)
        if len(row) == columns:
            lines += _join_row(row, panel_width)
            row = []
    if row:
        lines += _join_row(row, panel_width)
    return lines


def _more_line(hidden: list[tuple[HostState, Severity]], width: int) -> Line:
    words = ", ".join(f"{count} {word}" for count, word in class_counts(hidden))
    more = Text(f"+{len(hidden)} more: {words}", style=style("muted"))
    if any(severity.is_problem for _host, severity in hidden):
        more.stylize(health_style("fail"))
    more.truncate(width, overflow="ellipsis")
    return [Segment(more.plain, more.style or None)]


def _label_grid(pairs: list[tuple[HostState, Severity]], width: int, budget: int) -> tuple[list[Line], int]:
    """VM labels with a short state word, several per line, in order: for when even the
    problems outnumber the lines. Returns (lines, number of hosts shown)."""
    name_width = min(max(len(text(host.name, 80) or "") for host, _severity in pairs), table.NAME_WIDTH_LIMIT)
    cell_width = name_width + 6
    per_line = max(1, (width + 2) // (cell_width + 2))
    shown = min(len(pairs), per_line * budget)
    lines = []
    for start in range(0, shown, per_line):
        line: Line = []
        for position, (host, severity) in enumerate(pairs[start : start + per_line]):
            if position:
                line.append(Segment("  "))
            name = (text(host.name, 80) or "")[:name_width]
            line.append(Segment(f"{name:<{name_width}} {SHORT_WORDS[severity]:<5}", health_style(host.health)))
        last = line[-1]
        line[-1] = Segment(last.text.rstrip(), last.style)
        lines.append(line)
    return lines, shown


def _table(fleet: FleetState, width: int, cache: FrameCache) -> tuple[list[table.Column], Line]:
    """The table's columns and header line, measured once per fleet and width (names, addresses
    and models do not change while a play runs)."""
    key = (width, tuple(id(host) for host in fleet.hosts))
    if cache.columns is None or cache.columns[0] != key:
        columns = table.columns_for(fleet.hosts, width)
        cache.columns = (key, columns, table.header_line(columns))
    return cache.columns[1], cache.columns[2]


def body(
    console: Console,
    fleet: FleetState,
    pairs: list[tuple[HostState, Severity]],
    now: float,
    width: int,
    budget: int,
    cache: FrameCache,
) -> list[Line]:
    hosts = [host for host, _severity in pairs]
    if budget <= 0 or not pairs:
        return []
    if fleet.view in ("auto", "panels"):
        columns, _panel_width = panel_layout(width)
        # Every panel is at least 3 lines: skip rendering them when they cannot fit anyway.
        if fleet.view == "panels" or math.ceil(len(hosts) / columns) * 3 <= budget:
            reserve = 0 if fleet.view == "auto" else 1
            lines, shown = _panel_rows(console, fleet, hosts, now, width, budget - reserve, cache)
            if shown == len(hosts):
                return lines
            if fleet.view == "panels":
                return lines + [_more_line(pairs[shown:], width)]
    columns, header_line = _table(fleet, width, cache)
    if 1 + len(pairs) <= budget:
        lines = [header_line] + [
            table.row_line(fleet, host, severity, now, columns, cache.rows) for host, severity in pairs
        ]
        left = budget - len(lines) - 1
        if fleet.view == "auto" and left >= 3:
            worst = [host for host, severity in pairs if severity != Severity.NOT_PROVISIONED]
            panel_lines = _left_over_panels(console, fleet, worst, now, width, left, cache)
            if panel_lines:
                lines += [[]] + panel_lines
        return lines
    problems = sum(1 for _host, severity in pairs if severity.is_problem)
    rows = budget - 2  # the table's header and the "+N more" line
    if problems <= rows:
        lines = [header_line] + [
            table.row_line(fleet, host, severity, now, columns, cache.rows) for host, severity in pairs[:rows]
        ]
        return lines + [_more_line(pairs[rows:], width)]
    lines, shown = _label_grid(pairs, width, budget - 1)
    return lines + ([_more_line(pairs[shown:], width)] if shown < len(pairs) else [])


class FleetFrame:
    """The frame for a terminal WIDTH x HEIGHT. Rendered lazily, at print time: render it while
    the state it reads is not changing (the callback holds its lock)."""

    def __init__(self, fleet: FleetState, now: float, width: int, height: int, cache: FrameCache) -> None:
        self._fleet, self._now, self._width, self._height, self._cache = fleet, now, width, height, cache

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width, height = min(self._width, options.max_width), self._height
        new_line = Segment.line()
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            message = Text(f"terminal too small: {width}x{height} < {MIN_WIDTH}x{MIN_HEIGHT}", style=style("notice"))
            message.truncate(max(width, 1), overflow="ellipsis")
            yield from message.render(console)
            yield new_line
            return
        fleet, now = self._fleet, self._now
        pairs = fleet.ordered(now)
        head = header(fleet, now, pairs)
        # The header never takes more than half the screen (warnings are cut first).
        head = head[: max(2, (height - 1) // 2)]
        for line in head:
            line.truncate(width, overflow="ellipsis")
            yield from line.render(console)
            yield new_line
        budget = height - 1 - len(head) - 1
        lines = body(console, fleet, pairs, now, width, budget, self._cache)
        if lines:
            yield new_line
        for line in lines:
            yield from line
            yield new_line
        self._cache.retain({host.name for host in fleet.hosts})


def render_frame(fleet: FleetState, now: float, width: int, height: int, cache: FrameCache | None = None) -> FleetFrame:
    """The whole frame for a terminal WIDTH columns by HEIGHT rows. Pass the same CACHE every
    frame so that unchanged panels and rows are not rendered again."""
    return FleetFrame(fleet, now, width, height, cache if cache is not None else FrameCache())
