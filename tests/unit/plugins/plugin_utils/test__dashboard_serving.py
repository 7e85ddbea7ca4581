# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Latency and error figures from vLLM's /metrics on the dashboard: panel rows, table columns
(only while some VM has them) and the JSON lines' "serving" record, over two results."""

from __future__ import annotations

import copy
import io
import json
import time

import pytest
from rich.console import Console

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import HostState, health_checks
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._layout import render_frame
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._lines_output import json_line, json_record, plain_line
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._theme import THEME
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds
from tests.unit.plugins.plugin_utils.fleet_samples import NOW, document, fleet, host


@pytest.fixture(autouse=True)
def utc_clock(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def with_metrics(at, finished, first_tokens):
    """A serving document whose /metrics has FINISHED requests (one aborted in ten) and
    FIRST_TOKENS cumulative TTFT buckets [[0.1, n], [1.0, n], [10.0, n]]."""
    doc = document()
    doc["collected_at"] = at
    doc["http"] = {
        "url": "http://127.0.0.1:8000",
        "health": {"status": "ok", "http_status": 200, "message": None},
        "probe": None,
        "metrics": {
            "status": "ok",
            "http_requests": None,
            "engines": [
                {
                    "engine": 0,
                    "prompt_tokens_total": finished * 500.0,
                    "generation_tokens_total": finished * 100.0,
                    "requests_finished": {"stop": finished * 0.9, "abort": finished * 0.1},
                    "histograms": {
                        "ttft_s": {
                            "metric": "vllm:time_to_first_token_seconds",
                            "count": first_tokens[-1],
                            "sum": 0.0,
                            "buckets": [[0.1, first_tokens[0]], [1.0, first_tokens[1]], [10.0, first_tokens[2]]],
                        }
                    },
                }
            ],
        },
    }
    return doc


def two_results():
    state = HostState(name="hyperstack-vm1", address="hyperstack1.wg1", model="Qwen/Qwen3.6-27B-FP8")
    previous = None
    for age, doc in (
        (12.0, with_metrics("2027-01-15T07:59:48.123456Z", 100.0, [50.0, 90.0, 100.0])),
        (2.0, with_metrics("2027-01-15T07:59:58.123456Z", 200.0, [100.0, 180.0, 200.0])),
    ):
        checks = health_checks(doc, thresholds=Thresholds(), previous=previous)
        state.record(NOW - age, document=doc, checks=checks)
        previous = doc
    return state


def frame(view, width):
    console = Console(
        width=width,
        height=200,
        force_terminal=False,
        color_system=None,
        record=True,
        _environ={},
        file=io.StringIO(),
        theme=THEME,
    )
    console.print(render_frame(view, NOW, width, 200, None))
    return console.export_text()


def test_window_figures_on_the_panel_and_in_json_lines():
    state = two_results()
    figures = state.serving
    # 100 requests in 10 s, 10 aborted; first tokens: 50 up to 0.1 s, 40 in (0.1, 1], 10 in (1, 10].
    assert figures["window"] == "interval" and figures["requests_per_s"] == 10.0 and figures["errors_pct"] == 10.0
    # p90 rank 90 tops (0.1, 1.0]: 1 s
    assert figures["ttft_s"]["p90"] == 1.0
    names = {check["name"]: check["status"] for check in state.checks}
    assert names["request_errors_pct"] == "fail" and names["ttft_p90_s"] == "ok"
    text = frame(fleet(state, view="panels"), 100)
    assert "TTFT       p50 100 ms  p90 1 s  p99 9.1 s" in text
    assert "requests   10.0/s  errors 10.0%" in text
    record = json.loads(json_line(json_record(state, NOW)))
    assert record["serving"]["ttft_s"]["p90"] == 1.0 and record["document"]["http"]["metrics"]["status"] == "ok"


def test_table_columns_only_with_figures():
    served = two_results()
    plain = host(name="hyperstack-vm2", number=2)
    table = frame(fleet(served, plain, view="table"), 200)
    header = next(line for line in table.splitlines() if line.startswith("VM "))
    assert "TTFT90" in header and "err%" in header
    row = next(line for line in table.splitlines() if line.startswith("hyperstack-vm1 "))
    assert "1s" in row and "10.0" in row
    without = frame(fleet(host(), view="table"), 200)
    assert "TTFT90" not in without


def test_one_result_is_labelled_since_start():
    state = HostState(name="hyperstack-vm1")
    doc = with_metrics("2027-01-15T07:59:58.123456Z", 200.0, [100.0, 180.0, 200.0])
    state.record(NOW, document=doc, checks=health_checks(doc, thresholds=Thresholds()))
    assert state.serving["window"] == "since_start" and state.serving["requests_per_s"] is None
    assert "since the server started" in frame(fleet(state, view="panels"), 100)
    restarted = copy.deepcopy(doc)
    restarted["collected_at"] = "2027-01-15T08:00:08.123456Z"
    restarted["http"]["metrics"]["engines"][0]["generation_tokens_total"] = 5.0
    state.record(NOW, document=restarted, checks=[])
    assert state.serving["window"] == "since_restart"


def test_engine_figures_come_from_metrics_when_it_answers_else_from_the_logs():
    """The log says 1234.5/87.6 tok/s, 3 running, 1 waiting, KV 42.3 %; /metrics says otherwise:
    its figures are shown, marked, in the panel, the plain line and the JSON record."""
    state = HostState(name="hyperstack-vm1")
    for at, finished, gauges in (
        ("2027-01-15T07:59:48.123456Z", 100.0, (5.0, 7.0, 61.5)),
        ("2027-01-15T07:59:58.123456Z", 200.0, (9.0, 2.0, 73.25)),
    ):
        doc = with_metrics(at, finished, [finished / 2, finished * 0.9, finished])
        metrics_engine = doc["http"]["metrics"]["engines"][0]
        metrics_engine["running"], metrics_engine["waiting"], metrics_engine["kv_cache_pct"] = gauges
        state.record(NOW, document=doc, checks=[])
    node = state.node
    # Counters rose by 50,000 prompt and 10,000 generation tokens in 10 s.
    assert node.figures_source == "metrics"
    assert (node.engine_total("prompt_tps"), node.engine_total("generation_tps")) == (5000.0, 1000.0)
    assert (node.engine_total("running"), node.engine_total("waiting"), node.kv_cache_pct) == (9.0, 2.0, 73.25)
    view = fleet(state, view="panels")
    text = frame(view, 100)
    assert "prefill 5000.0 tok/s  decode 1000.0 tok/s  /metrics" in text and "9 running  2 waiting" in text
    assert "1234.5" not in text
    line = plain_line(view, state, NOW)
    assert "gen=1000.0tok/s" in line and "run=9" in line and "kv=73.2%" in line
    assert "src=metrics" in line
    assert json_record(state, NOW)["figures_source"] == "metrics"

    # /metrics refused: the log's figures, unmarked.
    refused = copy.deepcopy(doc)
    refused["http"]["metrics"] = {"status": "refused", "message": "connection refused"}
    state.record(NOW, document=refused, checks=[])
    assert state.node.figures_source == "log" and state.node.engine_total("prompt_tps") == 1234.5
    text = frame(fleet(state, view="panels"), 100)
    assert "decode 87.6 tok/s" in text and "/metrics" not in text.split("decode 87.6 tok/s")[1].splitlines()[0]
    assert "src=" not in plain_line(fleet(state), state, NOW)
    assert json_record(state, NOW)["figures_source"] == "log"


def test_one_scrape_has_no_rate_and_a_restart_gives_none_not_a_negative_rate():
    state = HostState(name="hyperstack-vm1")
    first = with_metrics("2027-01-15T07:59:48.123456Z", 100.0, [50.0, 90.0, 100.0])
    state.record(NOW, document=first, checks=[])
    assert state.node.figures_source == "metrics" and state.node.engine_total("generation_tps") is None
    restarted = with_metrics("2027-01-15T07:59:58.123456Z", 10.0, [5.0, 9.0, 10.0])
    state.record(NOW, document=restarted, checks=[])
    assert state.node.engine_total("prompt_tps") is None and state.node.engine_total("generation_tps") is None
