# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dashboard's outputs for logs and machines: one plain line per host per refresh (CI logs,
pipes) and one JSON record per host per refresh (JSON lines).

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12), importable without rich: a CI log does not need it.
Plain lines carry no escape code; JSON lines are strict JSON (a non-finite number from a VM is
written as null, never as NaN or Infinity, which JSON does not have).
"""

from __future__ import annotations

import datetime
import json
import math

from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import format_utc
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import FleetState, HostState
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._node_view import NA, format_number, text

JSON_SCHEMA_VERSION = 1
PLAIN_VALUE_LIMIT = 200


def _plain_value(value: object) -> str:
    cleaned = text(value, PLAIN_VALUE_LIMIT)
    if cleaned is None:
        return NA
    if any(char in cleaned for char in ' "=\\'):
        return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return cleaned


def stats_age(host: HostState, now: float) -> float | None:
    """Seconds since the newest stats line, as of NOW (the document's age plus its own)."""
    newest = host.node.newest_stats_age_s if host.node is not None else None
    if newest is None or host.updated_at is None:
        return newest
    return newest + max(now - host.updated_at, 0.0)


def _state_fields(host: HostState, state: str, now: float) -> list[str]:
    node = host.node
    if state == "not_provisioned":
        return [f"reason={_plain_value(host.not_provisioned_reason)}"]
    if state == "unreachable":
        return [f"error={_plain_value(host.unreachable)}"]
    if state == "failed" and host.failure is not None:
        return [f"failure={_plain_value(host.failure)}"]
    if node is None:
        return []
    if state == "failed":
        first = node.errors[0] if node.errors else None
        return [f"error={_plain_value(first and first.kind)}", f"msg={_plain_value(first and first.message)}"]
    if state == "loading":
        return [f"stage={_plain_value(node.loading_stage)}", f"progress={format_number(node.loading_pct, '{:.0f}%')}"]
    if state == "idle":
        return [f"stats_age={format_number(stats_age(host, now), '{:.0f}s')}"]
    if state == "stopped":
        return [f"container={_plain_value(node.container_status)}"]
    if state == "unknown":
        return [f"msg={_plain_value(node.message)}"]
    return []


def plain_line(fleet: FleetState, host: HostState, now: float) -> str:
    """One escape-free line. Keys, always in this order (absent ones left out, unknown values
    ``n/a``, values with blanks or quotes double-quoted):

    ``NAME STATE`` then the state's own keys (not_provisioned: ``reason``; unreachable:
    ``error``; failed: ``failure`` for a task failure, else ``error`` (kind) and ``msg``;
    loading: ``stage`` ``progress``; idle: ``stats_age``; stopped: ``container``; unknown:
    ``msg``), then for a document that is current (not unreachable, no task failure)
    ``gpu`` (GPUs reporting utilisation/GPUs listed, or the gpu status when not ok) ``util``
    (mean) ``vram`` (used/total over GPUs) ``temp`` (hottest), then while the engine figures
    are current (serving, stats within the freshness window) ``gen`` ``prompt`` ``run``
    ``wait`` (sums) ``swapped`` (only when > 0) ``kv`` (fullest) ``src=metrics`` (only when
    these figures come from vLLM's /metrics rather than the logs), then ``checks``
    (``2fail,1warn`` or ``ok``) when checks exist, then ``age`` when a result arrived."""
    state = host.state
    fields = [_plain_value(host.name), state, *_state_fields(host, state, now)]
    node = host.current_node
    if node is not None:
        gpu = f"{node.gpus_reporting}/{len(node.gpus)}" if node.gpu_status == "ok" else _plain_value(node.gpu_status)
        fields += [
            f"gpu={gpu}",
            f"util={format_number(node.mean_utilization_pct, '{:.0f}%')}",
            f"vram={format_number(node.vram_pct, '{:.0f}%')}",
            f"temp={format_number(node.hottest_c, '{:.0f}C')}",
        ]
        if fleet.engines_current(host, now):
            fields += [
                f"gen={format_number(node.engine_total('generation_tps'), '{:.1f}tok/s')}",
                f"prompt={format_number(node.engine_total('prompt_tps'), '{:.1f}tok/s')}",
                f"run={format_number(node.engine_total('running'), '{:.0f}')}",
                f"wait={format_number(node.engine_total('waiting'), '{:.0f}')}",
            ]
            swapped = node.engine_total("swapped")
            if swapped:
                fields.append(f"swapped={swapped:.0f}")
            fields.append(f"kv={format_number(node.kv_cache_pct, '{:.1f}%')}")
            if node.figures_source == "metrics":
                fields.append("src=metrics")
    if host.checks:
        counts = host.check_counts()
        summary = ",".join(f"{counts[status]}{status}" for status in ("fail", "warn") if counts[status])
        fields.append(f"checks={summary or 'ok'}")
    if host.updated_at is not None:
        fields.append(f"age={format_number(max(now - host.updated_at, 0.0), '{:.0f}s')}")
    return " ".join(fields)


def json_record(host: HostState, now: float) -> dict:
    """A record of one host for JSON lines (version JSON_SCHEMA_VERSION). Strings are passed as
    received: the JSON encoding escapes control characters."""
    moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    age = None if host.updated_at is None else round(max(now - host.updated_at, 0.0), 3)
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "host": host.name,
        "time": format_utc(moment),
        "state": host.state,
        "health": host.health,
        "age_s": age,
        "document": host.document,
        "unreachable": host.unreachable,
        "failure": host.failure,
        "checks": host.checks,
        "serving": host.serving,
        # "metrics" or "log": where the figures the screen shows (tok/s, running, waiting, KV
        # cache) came from; None without any.
        "figures_source": host.current_node.figures_source if host.current_node is not None else None,
    }


def _finite(value: object) -> object:
    """VALUE with every non-finite float replaced by None (a NaN can come from a VM)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def json_line(record: dict) -> str:
    """One line of strict JSON (no NaN, no Infinity), keys sorted, ending in a newline."""
    try:
        # Nearly every record is finite: encoding refuses the others, and only they are copied.
        return json.dumps(record, sort_keys=True, allow_nan=False, default=str) + "\n"
    except ValueError:
        return json.dumps(_finite(record), sort_keys=True, allow_nan=False, default=str) + "\n"
