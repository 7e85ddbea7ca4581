# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Serving figures of one VM from vLLM's /metrics as node_info returns it (``http.metrics``):
token, request and error rates and latency percentiles over the window between two consecutive
scrapes of the same host, or since the server started when there is only one.

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12), pure: no clock, no I/O. Used by the health checks
(``_health.py``), the dashboard's fleet state and its JSON lines. See docs/schema-v1.md
("Serving figures").

- Percentiles interpolate linearly inside the bucket that holds the rank, as Prometheus'
  ``histogram_quantile`` does, on the bucket bounds read from the output (vLLM 0.30+ lets them
  be configured). A rank in the open ``+Inf`` bucket gives the highest finite bound, flagged
  ``over_highest_bucket``: the true value is at least that.
- A counter lower than in the previous scrape means the server restarted: the figures are then
  those since the restart (the current scrape alone), never a negative rate.
- Engines (data parallel ranks) are summed: counters and buckets add up per host.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import parse_rfc3339

QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
LATENCIES = ("ttft_s", "itl_s", "e2e_s", "queue_s")
COUNTERS = ("prompt_tokens_total", "generation_tokens_total")
# Finish reasons that are not a success for the client.
ERROR_REASONS = ("abort", "error")
WINDOW = "interval"
SINCE_START = "since_start"
SINCE_RESTART = "since_restart"
_WINDOW_TEXT = {
    WINDOW: "over {window}",
    SINCE_START: "since the server started",
    SINCE_RESTART: "since the server restarted",
}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _mapping(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def histogram_quantile(quantile: float, buckets: list, count: float) -> tuple[float, bool] | None:
    """(value, over_highest_bucket) of QUANTILE from cumulative finite BUCKETS ``[[le, n], ...]``
    sorted by ``le`` and the total COUNT (the ``+Inf`` bucket); None without observations."""
    if count <= 0 or not buckets:
        return None
    rank = quantile * count
    lower_bound, lower_count = 0.0, 0.0
    for upper_bound, upper_count in buckets:
        if upper_count >= rank:
            if upper_bound <= 0:
                return upper_bound, False
            if upper_count == lower_count:
                return upper_bound, False
            return lower_bound + (upper_bound - lower_bound) * (rank - lower_count) / (upper_count - lower_count), False
        lower_bound, lower_count = upper_bound, upper_count
    return buckets[-1][0], True


def _host_totals(metrics: Mapping) -> dict | None:
    """The engines of one scrape summed into one set of counters and histograms."""
    engines = [engine for engine in metrics.get("engines") or () if isinstance(engine, Mapping)]
    if not engines:
        return None
    totals: dict = {name: None for name in COUNTERS}
    totals["finished"] = {}
    totals["histograms"] = {}
    for engine in engines:
        for name in COUNTERS:
            value = _number(engine.get(name))
            if value is not None:
                totals[name] = (totals[name] or 0.0) + value
        for reason, value in _mapping(engine.get("requests_finished")).items():
            value = _number(value)
            if value is not None:
                totals["finished"][str(reason)] = totals["finished"].get(str(reason), 0.0) + value
        for name, histogram in _mapping(engine.get("histograms")).items():
            histogram = _mapping(histogram)
            count = _number(histogram.get("count"))
            buckets = _buckets(histogram.get("buckets"))
            if count is None or buckets is None:
                continue
            this = {"metric": histogram.get("metric"), "count": count, "buckets": buckets}
            merged = totals["histograms"].get(name)
            if merged is None:
                totals["histograms"][name] = this
            else:
                # Engines share their bounds but may each leave out different edge buckets.
                merged["buckets"] = {bound: below + here for bound, below, here in _aligned(merged, this)}
                merged["count"] += count
    http = _mapping(metrics.get("http_requests"))
    totals["http_5xx"] = _number(http.get("5xx"))
    return totals


def _buckets(value: object) -> dict | None:
    if not isinstance(value, list):
        return None
    buckets = {}
    for pair in value:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            return None
        bound, count = _number(pair[0]), _number(pair[1])
        if bound is None or count is None:
            return None
        buckets[bound] = count
    return buckets


def _cumulative_at(histogram: dict, bound: float, lowest: float, highest: float) -> float | None:
    """HISTOGRAM's cumulative count at BOUND, also where node_info left an edge bucket out: 0
    below a kept empty first bucket (at LOWEST), the total above a kept full last one (at HIGHEST;
    docs/schema-v1.md); None where it cannot be known."""
    buckets = histogram["buckets"]
    value = buckets.get(bound)
    if value is not None:
        return value
    if bound < lowest and buckets[lowest] == 0:
        return 0.0
    if bound > highest and buckets[highest] >= histogram["count"]:
        return histogram["count"]
    return None


def _aligned(first: dict, second: dict) -> list:
    """(bound, first's count, second's count) at every bound of either histogram where both
    counts are known, sorted by bound."""
    if not first["buckets"] or not second["buckets"]:
        return []
    edges = [(min(each["buckets"]), max(each["buckets"])) for each in (first, second)]
    rows = []
    for bound in sorted(set(first["buckets"]) | set(second["buckets"])):
        one = _cumulative_at(first, bound, *edges[0])
        other = _cumulative_at(second, bound, *edges[1])
        if one is not None and other is not None:
            rows.append((bound, one, other))
    return rows


def _went_down(current: dict, previous: dict) -> bool:
    pairs = [(current[name], previous[name]) for name in COUNTERS]
    pairs += [(current["finished"].get(reason), value) for reason, value in previous["finished"].items()]
    pairs += [
        (current["histograms"].get(name, {}).get("count"), histogram["count"])
        for name, histogram in previous["histograms"].items()
    ]
    pairs.append((current["http_5xx"], previous["http_5xx"]))
    return any(now is not None and before is not None and now < before for now, before in pairs)


def _delta(now: float | None, before: float | None) -> float | None:
    if now is None:
        return None
    return now - (before or 0.0)


def _window_histogram(current: dict, previous: dict | None) -> dict | None:
    if previous is None:
        buckets = [[bound, current["buckets"][bound]] for bound in sorted(current["buckets"])]
        count = current["count"]
    else:
        buckets = [[bound, now - before] for bound, now, before in _aligned(current, previous)]
        count = current["count"] - previous["count"]
    if not buckets:
        return None
    figures = {"count": count, "metric": current.get("metric")}
    over = False
    for name, quantile in QUANTILES:
        result = histogram_quantile(quantile, buckets, count)
        figures[name] = round(result[0], 6) if result else None
        over = over or bool(result and result[1])
    figures["over_highest_bucket"] = over
    return figures


def _seconds_between(current: Mapping, previous: Mapping) -> float | None:
    now, before = (
        parse_rfc3339(document.get("collected_at")) if isinstance(document.get("collected_at"), str) else None
        for document in (current, previous)
    )
    if now is None or before is None:
        return None
    seconds = (now - before).total_seconds()
    return seconds if seconds > 0 else None


def metrics_of(document: Mapping | None) -> Mapping | None:
    """``http.metrics`` of a node_info document when /metrics answered, else None."""
    metrics = _mapping(_mapping(_mapping(document).get("http")).get("metrics"))
    return metrics if metrics.get("status") == "ok" else None


def serving_figures(document: Mapping | None, previous: Mapping | None = None) -> dict | None:
    """Rates, error share and latency percentiles of DOCUMENT's /metrics over the window since
    PREVIOUS (the same host's preceding document), or since the server (re)started; None when
    /metrics did not answer. Absent inputs give None figures, never 0."""
    metrics = metrics_of(document)
    current = _host_totals(metrics) if metrics is not None else None
    if current is None:
        return None
    before_metrics = metrics_of(previous)
    before = _host_totals(before_metrics) if before_metrics is not None else None
    window_s = _seconds_between(document, previous) if before is not None else None
    if before is None or window_s is None:
        window, before = SINCE_START, None
    elif _went_down(current, before):
        window, before, window_s = SINCE_RESTART, None, None
    else:
        window = WINDOW
    finished = {
        reason: _delta(value, (before or {}).get("finished", {}).get(reason))
        for reason, value in current["finished"].items()
    }
    requests = sum(finished.values()) if finished else None
    http_5xx = _delta(current["http_5xx"], (before or {}).get("http_5xx"))
    errors = None
    if finished or http_5xx is not None:
        errors = sum(finished.get(reason, 0.0) for reason in ERROR_REASONS) + (http_5xx or 0.0)
    attempts = (requests or 0.0) + (http_5xx or 0.0)
    figures = {
        "window": window,
        "window_s": round(window_s, 3) if window_s else None,
        "requests": requests,
        "errors": errors,
        "errors_pct": round(100.0 * errors / attempts, 3) if errors is not None and attempts > 0 else None,
        "prompt_tps": None,
        "generation_tps": None,
        "requests_per_s": None,
        "errors_per_s": None,
    }
    if window == WINDOW:
        for name, key in (("prompt_tokens_total", "prompt_tps"), ("generation_tokens_total", "generation_tps")):
            delta = _delta(current[name], before[name]) if before[name] is not None else None
            figures[key] = round(delta / window_s, 3) if delta is not None else None
        figures["requests_per_s"] = round(requests / window_s, 3) if requests is not None else None
        figures["errors_per_s"] = round(errors / window_s, 3) if errors is not None else None
    for name in LATENCIES:
        histogram = current["histograms"].get(name)
        figures[name] = (
            _window_histogram(histogram, (before or {}).get("histograms", {}).get(name))
            if histogram and histogram["buckets"] is not None
            else None
        )
    return figures


def engine_figures(document: Mapping | None, previous: Mapping | None = None) -> list[dict] | None:
    """Per engine, the figures the dashboard shows next to the log's (``EngineView``'s keys)
    from DOCUMENT's /metrics: prompt and generation tok/s and preemptions from the counters'
    rise since PREVIOUS (None with one scrape only or after a restart: a rate needs a window),
    running, waiting and KV cache from the gauges, the prefix cache hit share over the window.
    None when /metrics did not answer (the log's figures stand)."""
    metrics = metrics_of(document)
    if metrics is None:
        return None
    window_s = _seconds_between(document, previous) if metrics_of(previous) is not None else None
    before = (
        {
            engine.get("engine"): engine
            for engine in _mapping(metrics_of(previous)).get("engines") or ()
            if isinstance(engine, Mapping)
        }
        if window_s
        else {}
    )
    result = []
    for engine in metrics.get("engines") or ():
        if not isinstance(engine, Mapping):
            continue
        earlier = _mapping(before.get(engine.get("engine")))
        queries = _counter_rise(engine, earlier, "prefix_cache_queries_total")
        hits = _counter_rise(engine, earlier, "prefix_cache_hits_total")
        result.append(
            {
                "engine": _number(engine.get("engine")),
                "prompt_tps": _counter_rate(engine, earlier, "prompt_tokens_total", window_s),
                "generation_tps": _counter_rate(engine, earlier, "generation_tokens_total", window_s),
                "running": _number(engine.get("running")),
                "waiting": _number(engine.get("waiting")),
                "kv_cache_pct": _number(engine.get("kv_cache_pct")),
                "prefix_cache_hit_pct": round(100.0 * hits / queries, 3) if queries and hits is not None else None,
                "preemptions": _counter_rise(engine, earlier, "preemptions_total"),
            }
        )
    return result or None


def _counter_rise(engine: Mapping, earlier: Mapping, name: str) -> float | None:
    now, then = _number(engine.get(name)), _number(earlier.get(name))
    # A counter that went down is a restart: no rate rather than a negative one.
    return now - then if now is not None and then is not None and now >= then else None


def _counter_rate(engine: Mapping, earlier: Mapping, name: str, window_s: float | None) -> float | None:
    delta = _counter_rise(engine, earlier, name)
    return round(delta / window_s, 3) if delta is not None and window_s else None


def window_text(figures: Mapping) -> str:
    """``over 10 s``, ``since the server started``: the window the figures cover, for people."""
    window = figures.get("window")
    seconds = _number(figures.get("window_s"))
    return _WINDOW_TEXT.get(window, "").format(window=f"{seconds:g} s" if seconds is not None else "the interval")


def format_seconds(value: float | None) -> str:
    """``850 ms``, ``1.24 s``, ``-`` for None: a latency for people."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.3g} s"
