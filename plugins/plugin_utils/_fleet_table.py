# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compact fleet table: one line per VM (label, address, short model, state, GPU count,
utilisation, VRAM, hottest GPU, power, prompt and generation tok/s, running/waiting, KV cache,
and the worst check's message cut to fit), for fleets whose panels do not fit the terminal.

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12, rich). Columns are dropped, least useful first, until the
message keeps a readable width; rows are cached per host like panels.
"""

from __future__ import annotations

import dataclasses

try:
    from rich.segment import Segment
    from rich.style import Style
except ImportError as exc:  # rich is a controller requirement; the callback reports its absence
    RICH_IMPORT_ERROR: ImportError | None = exc
else:
    RICH_IMPORT_ERROR = None

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import FleetState, HostState, Severity
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._node_view import NA, format_age, short_model, text
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._panels import Line, compact
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._serving import format_seconds
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._theme import NULL, health_style, level_style, style

GAP = 1
MESSAGE_MIN_WIDTH = 24
NAMED_MESSAGE_WIDTH = 50
NAME_WIDTH_LIMIT = 24
TEXT_COLUMN_LIMIT = 18
# Dropped in this order when the terminal is too narrow for every column.
DROP_ORDER = (
    "address",
    "model",
    "power",
    "prompt",
    "errors",
    "vram",
    "gpus",
    "run",
    "gen",
    "util",
    "temp",
    "ttft",
    "kv",
)
# Shown only while a VM has figures from vLLM's /metrics (node_info's http_port).
SERVING_COLUMNS = ("ttft", "errors")
STATE_WORDS = {"not_provisioned": "not prov.", "unreachable": "unreachable"}


@dataclasses.dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: int
    right: bool = False


def _fixed_columns(name_width: int, address_width: int, model_width: int) -> list[Column]:
    return [
        Column("name", "VM", name_width),
        Column("state", "state", 11),
        Column("address", "address", address_width),
        Column("model", "model", model_width),
        Column("gpus", "GPU", 3, True),
        Column("util", "util", 4, True),
        Column("vram", "VRAM", 4, True),
        Column("temp", "temp", 5, True),
        Column("power", "power", 6, True),
        Column("prompt", "prompt", 6, True),
        Column("gen", "gen", 6, True),
        Column("run", "run/wait", 8, True),
        Column("kv", "KV", 4, True),
        Column("ttft", "TTFT90", 6, True),
        Column("errors", "err%", 5, True),
    ]


def columns_for(hosts: list[HostState], width: int) -> list[Column]:
    """The columns of a table WIDTH wide: every fixed column that leaves the message at least
    MESSAGE_MIN_WIDTH, then the message taking the rest."""

    def longest(values, limit: int, floor: int) -> int:
        return min(max([floor, *(len(value) for value in values if value)]), limit)

    name_width = longest((text(host.name, 80) for host in hosts), NAME_WIDTH_LIMIT, 4)
    address_width = longest((text(host.address, 80) for host in hosts), TEXT_COLUMN_LIMIT, 7)
    model_width = longest((short_model(host.model) for host in hosts), TEXT_COLUMN_LIMIT, 5)
    columns = _fixed_columns(name_width, address_width, model_width)
    if not any(host.serving for host in hosts):
        columns = [column for column in columns if column.key not in SERVING_COLUMNS]

    def used(chosen: list[Column]) -> int:
        return sum(column.width + GAP for column in chosen)

    for key in DROP_ORDER:
        if used(columns) + MESSAGE_MIN_WIDTH <= width:
            break
        columns = [column for column in columns if column.key != key]
    rest = width - used(columns)
    if rest < MESSAGE_MIN_WIDTH // 2:
        # Too narrow even for name, state and a short message: the name gives way.
        columns[0] = dataclasses.replace(columns[0], width=max(columns[0].width - (MESSAGE_MIN_WIDTH // 2 - rest), 4))
        rest = width - used(columns)
    return columns + [Column("message", "worst check", max(rest, 1))]


def _fit(value: str, column: Column) -> str:
    if len(value) > column.width:
        value = value[: column.width - 1] + "…" if column.width > 1 else value[: column.width]
    return value.rjust(column.width) if column.right else value.ljust(column.width)


def header_line(columns: list[Column]) -> Line:
    return [
        Segment((" " * GAP).join(_fit(column.header, column) for column in columns).rstrip(), style("table.header"))
    ]


def _state_word(host: HostState, severity: Severity) -> str:
    if severity == Severity.STALE:
        return "stale"
    node = host.node
    if host.state == "loading" and node is not None and node.loading_pct is not None:
        return f"loading {node.loading_pct:.0f}%"
    return STATE_WORDS.get(host.state, host.state)


def _message(fleet: FleetState, host: HostState, severity: Severity, now: float, width: int) -> tuple[str, Style]:
    if severity == Severity.NOT_PROVISIONED:
        return text(host.not_provisioned_reason) or "not provisioned", style("muted")
    if severity == Severity.UNREACHABLE:
        return text(host.unreachable) or NA, health_style("fail")
    worst = host.worst_check()
    if worst is not None and (severity.is_problem or severity == Severity.LOADING):
        # In a narrow column the message says more than the check's name.
        named = f"{worst.get('name')}: " if width >= NAMED_MESSAGE_WIDTH else ""
        return f"{named}{worst.get('message')}", health_style(worst.get("status"))
    if severity == Severity.STALE:
        return f"no result for {stale_for(fleet, host, now)}", style("notice")
    if severity == Severity.PENDING:
        return "waiting for the first result", style("muted")
    return "", NULL


def stale_for(fleet: FleetState, host: HostState, now: float) -> str:
    """How long a stale VM has had no result, coarse (``<1m``, ``3m``): a row that changes once
    a minute rather than every second."""
    return format_age(now - host.reference_time(fleet.started_at), coarse=True)


def _figures(fleet: FleetState, host: HostState, now: float) -> dict[str, tuple[str, Style]]:
    node = host.node
    if node is None:
        return {}
    thresholds = fleet.thresholds
    figures: dict[str, tuple[str, Style]] = {}
    if host.current_node is not None and not fleet.is_stale(host, now):
        util, vram = node.mean_utilization_pct, node.vram_pct
        hottest, power = node.hottest_c, node.power_w
        figures["gpus"] = (
            str(len(node.gpus)) if node.gpu_status == "ok" else "!",
            NULL if node.gpu_status == "ok" else health_style("fail"),
        )
        figures["util"] = (NA if util is None else f"{util:.0f}%", level_style(thresholds.utilization_pct.level(util)))
        figures["vram"] = (NA if vram is None else f"{vram:.0f}%", level_style(thresholds.memory_pct.level(vram)))
        figures["temp"] = (
            NA if hottest is None else f"{hottest:.0f}°C",
            level_style(thresholds.temperature_c.level(hottest)),
        )
        figures["power"] = (
            NA if power is None else f"{power / 1000:.1f}kW" if power >= 10000 else f"{power:.0f}W",
            NULL,
        )
    if fleet.engines_current(host, now):
        prompt, generation = node.engine_total("prompt_tps"), node.engine_total("generation_tps")
        running, waiting = node.engine_total("running"), node.engine_total("waiting")
        kv = node.kv_cache_pct
        figures["prompt"] = (NA if prompt is None else f"{prompt:.0f}", NULL)
        figures["gen"] = (NA if generation is None else f"{generation:.0f}", NULL)
        figures["run"] = (
            f"{'?' if running is None else f'{running:.0f}'}/{'?' if waiting is None else f'{waiting:.0f}'}",
            NULL,
        )
        figures["kv"] = (NA if kv is None else f"{kv:.0f}%", level_style(thresholds.kv_cache_pct.level(kv)))
    serving = host.serving if host.current_node is not None and not fleet.is_stale(host, now) else None
    if serving:
        ttft = (serving.get("ttft_s") or {}).get("p90")
        errors = serving.get("errors_pct")
        figures["ttft"] = (
            NA if ttft is None else format_seconds(ttft).replace(" ", ""),
            level_style(thresholds.ttft_p90_s.level(ttft)),
        )
        figures["errors"] = (
            NA if errors is None else f"{errors:.1f}",
            level_style(thresholds.request_errors_pct.level(errors)),
        )
    return figures


def row_line(
    fleet: FleetState, host: HostState, severity: Severity, now: float, columns: list[Column], cache: dict
) -> Line:
    """The table line of HOST (from CACHE while nothing it shows changed)."""
    stale_age = stale_for(fleet, host, now) if severity == Severity.STALE else None
    key = (host.updates, severity, stale_age, fleet.engines_current(host, now), tuple(columns))
    entry = cache.get(host.name)
    if entry is not None and entry[0] == key:
        return entry[1]
    colour = health_style(host.health)
    figures = _figures(fleet, host, now)
    message, message_style = _message(fleet, host, severity, now, columns[-1].width)
    segments = []
    for position, column in enumerate(columns):
        if column.key == "name":
            cell = (text(host.name, 80) or NA, colour + style("label"))
        elif column.key == "state":
            cell = (_state_word(host, severity), colour)
        elif column.key == "address":
            cell = (text(host.address, 80) or "", style("muted"))
        elif column.key == "model":
            cell = (short_model(host.model) or "", style("model"))
        elif column.key == "message":
            cell = (message, message_style)
        else:
            cell = figures.get(column.key, ("–" if column.key != "gpus" else "", style("muted")))
        if position:
            segments.append(Segment(" " * GAP))
        segments.append(Segment(_fit(cell[0], column), cell[1] or None))
    line = compact(segments)
    # Trailing blanks cost bytes on every frame and wrap on a terminal that is one column short.
    if line and not line[-1].control:
        last = line[-1]
        line[-1] = Segment(last.text.rstrip(), last.style)
    cache[host.name] = (key, line)
    return line
