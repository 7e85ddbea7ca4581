# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rates and windowed percentiles from two scrapes, against values computed by hand."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._serving import histogram_quantile, serving_figures

# 10 observations: 2 up to 0.1 s, 4 in (0.1, 0.5], 3 in (0.5, 1.0], 1 in (1.0, 2.5].
BUCKETS = [[0.1, 2.0], [0.5, 6.0], [1.0, 9.0], [2.5, 10.0]]


@pytest.mark.parametrize(
    "quantile, buckets, count, expected",
    [
        # rank 5 in (0.1, 0.5] holding counts 2..6: 0.1 + 0.4 * (5 - 2) / (6 - 2)
        (0.5, BUCKETS, 10.0, (0.4, False)),
        # rank 9 is the top of (0.5, 1.0]: 0.5 + 0.5 * (9 - 6) / (9 - 6)
        (0.9, BUCKETS, 10.0, (1.0, False)),
        # rank 9.9 in (1.0, 2.5]: 1.0 + 1.5 * 0.9 / 1
        (0.99, BUCKETS, 10.0, (2.35, False)),
        # the first bucket starts at 0: 0.1 * 2 / 4
        (0.5, [[0.1, 4.0], [1.0, 4.0]], 4.0, (0.05, False)),
        # rank 9 of 10 lies beyond the highest finite bound: that bound, flagged
        (0.9, [[1.0, 5.0]], 10.0, (1.0, True)),
        (0.5, BUCKETS, 0.0, None),
        (0.5, [], 3.0, None),
    ],
)
def test_histogram_quantile(quantile, buckets, count, expected):
    result = histogram_quantile(quantile, buckets, count)
    if expected is None:
        assert result is None
    else:
        assert result[0] == pytest.approx(expected[0]) and result[1] is expected[1]


def document(at, buckets, count, prompt, generation, finished, http_5xx=None, engine=0):
    return {
        "collected_at": at,
        "http": {
            "metrics": {
                "status": "ok",
                "http_requests": ({"2xx": 100.0, "5xx": http_5xx} if http_5xx is not None else None),
                "engines": [
                    {
                        "engine": engine,
                        "prompt_tokens_total": prompt,
                        "generation_tokens_total": generation,
                        "requests_finished": finished,
                        "histograms": {
                            "ttft_s": {
                                "metric": "vllm:time_to_first_token_seconds",
                                "buckets": buckets,
                                "count": count,
                                "sum": 1.0,
                            }
                        },
                    }
                ],
            }
        },
    }


BEFORE = document(
    "2026-11-28T02:00:00Z",
    [[0.1, 1.0], [0.5, 2.0], [1.0, 2.0], [2.5, 2.0]],
    2.0,
    1000.0,
    500.0,
    {"stop": 2.0, "abort": 0.0, "error": 0.0},
    http_5xx=0.0,
)
# The window's deltas are BUCKETS above: p50 0.4, p90 1.0, p99 2.35.
AFTER = document(
    "2026-11-28T02:00:10Z",
    [[0.1, 3.0], [0.5, 8.0], [1.0, 11.0], [2.5, 12.0]],
    12.0,
    3000.0,
    1500.0,
    {"stop": 10.0, "abort": 1.0, "error": 1.0},
    http_5xx=2.0,
)


def test_window_between_two_scrapes():
    figures = serving_figures(AFTER, BEFORE)
    assert figures["window"] == "interval" and figures["window_s"] == 10.0
    assert figures["prompt_tps"] == 200.0 and figures["generation_tps"] == 100.0
    # 10 finished (8 stop, 1 abort, 1 error) plus 2 HTTP 5xx: 4 errors of 12 attempts.
    assert figures["requests"] == 10.0 and figures["errors"] == 4.0
    assert figures["errors_pct"] == pytest.approx(33.333)
    assert figures["requests_per_s"] == 1.0 and figures["errors_per_s"] == 0.4
    ttft = figures["ttft_s"]
    assert (ttft["p50"], ttft["p90"], ttft["p99"], ttft["count"]) == (0.4, 1.0, 2.35, 10.0)
    assert ttft["over_highest_bucket"] is False
    assert figures["itl_s"] is None  # not scraped: absent, not zero


def test_one_scrape_is_since_start_without_rates():
    figures = serving_figures(AFTER)
    assert figures["window"] == "since_start" and figures["window_s"] is None
    assert figures["prompt_tps"] is None and figures["requests_per_s"] is None
    assert figures["requests"] == 12.0 and figures["ttft_s"]["count"] == 12.0


def test_counter_that_went_down_is_a_restart_never_a_negative_rate():
    restarted = document(
        "2026-11-28T02:00:20Z",
        [[0.1, 1.0], [0.5, 1.0], [1.0, 1.0], [2.5, 1.0]],
        1.0,
        10.0,
        5.0,
        {"stop": 1.0, "abort": 0.0, "error": 0.0},
        http_5xx=0.0,
    )
    figures = serving_figures(restarted, AFTER)
    assert figures["window"] == "since_restart"
    assert figures["prompt_tps"] is None and figures["requests"] == 1.0 and figures["errors"] == 0.0
    assert figures["ttft_s"]["p50"] == pytest.approx(0.05)


def test_engines_are_summed():
    two = document("2026-11-28T02:00:10Z", BUCKETS, 10.0, 100.0, 50.0, {"stop": 10.0})
    two["http"]["metrics"]["engines"].append(dict(two["http"]["metrics"]["engines"][0], engine=1))
    figures = serving_figures(two)
    assert figures["ttft_s"]["count"] == 20.0 and figures["ttft_s"]["p50"] == pytest.approx(0.4)
    assert figures["requests"] == 20.0


@pytest.mark.parametrize(
    "broken",
    [
        None,
        {},
        {"http": None},
        {"http": {"metrics": {"status": "refused", "engines": []}}},
        {"http": {"metrics": {"status": "ok", "engines": []}}},
    ],
)
def test_no_metrics_no_figures(broken):
    assert serving_figures(broken) is None


def test_no_requests_yet_gives_no_percentile_and_no_error_share():
    idle = document(
        "2026-11-28T02:00:10Z", [[0.1, 0.0], [1.0, 0.0]], 0.0, 0.0, 0.0, {"stop": 0.0, "abort": 0.0, "error": 0.0}
    )
    figures = serving_figures(idle)
    assert figures["ttft_s"]["p90"] is None and figures["errors_pct"] is None


BOUNDS = [0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0]
# (earlier cumulative counts, their total, later counts, their total): windows node_info may send
# with its empty low buckets and full high buckets left out, differently in each scrape. A total
# above the last bucket is observations over 10 s (the +Inf bucket).
WINDOWS = [
    ([0, 0, 0, 1, 2, 2, 2, 2], 2, [0, 0, 0, 3, 8, 11, 12, 12], 12),  # trimmed on both sides, both scrapes
    ([0, 0, 0, 0, 0, 0, 0, 0], 0, [0, 0, 4, 9, 9, 9, 9, 9], 9),  # nothing yet, then a narrow spread
    ([0, 0, 2, 2, 2, 2, 2, 2], 2, [0, 0, 2, 2, 2, 2, 7, 9], 9),  # the window's requests all slower
    ([1, 3, 5, 7, 9, 11, 13, 15], 16, [2, 5, 9, 14, 20, 26, 30, 34], 36),  # every bucket informative
    ([0, 0, 0, 0, 1, 1, 1, 3], 3, [0, 0, 0, 0, 1, 1, 1, 5], 9),  # rank above the highest finite bound
]


def _ttft(counts, total, trimmed):
    from ansible_collections.gpufleet.vllm.plugins.module_utils._vllm_http import _informative_span

    first, last = _informative_span(counts, total) if trimmed else (0, len(counts))
    return [[bound, float(count)] for bound, count in list(zip(BOUNDS, counts))[first:last]]


@pytest.mark.parametrize("earlier, total_before, later, total_after", WINDOWS)
def test_edge_buckets_left_out_give_the_same_percentiles(earlier, total_before, later, total_after):
    """node_info leaves out the uninformative edge buckets; the figures are those of the full
    histograms, for the window, for one scrape, and for engines summed."""

    def scrape(at, counts, total, trimmed, engines=1):
        doc = document(at, _ttft(counts, total, trimmed), float(total), 0.0, 0.0, {"stop": float(total)})
        first = doc["http"]["metrics"]["engines"][0]
        for index in range(1, engines):
            # The second engine's own histogram: the first's counts doubled, trimmed on its own.
            twice = [2 * count for count in counts]
            histogram = dict(first["histograms"]["ttft_s"], buckets=_ttft(twice, 2 * total, trimmed), count=2.0 * total)
            doc["http"]["metrics"]["engines"].append(dict(first, engine=index, histograms={"ttft_s": histogram}))
        return doc

    assert len(_ttft(later, total_after, True)) < len(BOUNDS) or later == WINDOWS[3][2]  # the case is real
    for engines in (1, 2):
        full = serving_figures(
            scrape("2026-11-28T02:00:10Z", later, total_after, False, engines),
            scrape("2026-11-28T02:00:00Z", earlier, total_before, False, engines),
        )
        trimmed = serving_figures(
            scrape("2026-11-28T02:00:10Z", later, total_after, True, engines),
            scrape("2026-11-28T02:00:00Z", earlier, total_before, True, engines),
        )
        assert trimmed["ttft_s"] == full["ttft_s"], engines
        since_start = serving_figures(scrape("2026-11-28T02:00:10Z", later, total_after, True, engines))
        assert (
            since_start["ttft_s"]
            == serving_figures(scrape("2026-11-28T02:00:10Z", later, total_after, False, engines))["ttft_s"]
        ), engines
