# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health checks of vLLM's HTTP source: http_health, inference_probe, ttft_p90_s, itl_p90_s,
request_errors_pct; each left out when its input is missing."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.gpufleet.vllm.plugins.plugin_utils import _health as health
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds

SERVING_CHECKS = ("http_health", "inference_probe", "ttft_p90_s", "itl_p90_s", "request_errors_pct")
OK_HEALTH = {"status": "ok", "http_status": 200, "message": None}


def histogram(buckets, count):
    return {"metric": "m", "buckets": buckets, "count": count, "sum": 0.0}


def document(health=None, probe=None, engines=None, phase="serving", at="2026-11-28T02:00:10Z", http_5xx=0.0):
    health = OK_HEALTH if health is None else health
    if engines is None:
        engines = [
            {
                "engine": 0,
                "prompt_tokens_total": 100.0,
                "generation_tokens_total": 50.0,
                "requests_finished": {"stop": 10.0, "abort": 0.0, "error": 0.0},
                # 10 first tokens: p90 rank 9 in (1.0, 10.0] holding 5..10: 1 + 9 * 4 / 5 = 8.2 s;
                # p50 rank 5 is the top of (0.5, 1.0]: 1 s
                "histograms": {
                    "ttft_s": histogram([[0.5, 2.0], [1.0, 5.0], [10.0, 10.0]], 10.0),
                    "itl_s": histogram([[0.01, 100.0], [0.05, 100.0]], 100.0),
                },
            }
        ]
    return {
        "schema_version": 1,
        "collected_at": at,
        "gpu": {"status": "ok", "message": None, "devices": [{"index": 0, "temperature_c": 40}]},
        "container": {"name": "vllm", "status": "running", "restart_count": 0, "oom_killed": False},
        "vllm": {"phase": phase, "log_status": "ok", "engines": [], "errors": [], "loading": None},
        "http": {
            "url": "http://127.0.0.1:8000",
            "health": health,
            "probe": probe,
            "metrics": {"status": "ok", "engines": engines, "http_requests": {"2xx": 10.0, "5xx": http_5xx}},
        },
    }


def serving(checks):
    return {check["name"]: (check["status"], check["message"]) for check in checks if check["name"] in SERVING_CHECKS}


def test_slow_first_token_fails_since_start():
    checks = serving(health.evaluate(document(), Thresholds()))
    assert checks["http_health"] == ("ok", "GET /health answered 200")
    assert checks["ttft_p90_s"] == (
        "fail",
        "p90 8.2 s (p50 1 s, p99 9.82 s; 10 observations since the server started; warn at 2 s, fail at 5 s)",
    )
    assert checks["itl_p90_s"][0] == "ok" and checks["itl_p90_s"][1].startswith("p90 9 ms")
    assert checks["request_errors_pct"][0] == "ok"
    assert "inference_probe" not in checks  # no probe asked: left out


def test_window_from_the_previous_document():
    before = document(
        at="2026-11-28T02:00:00Z",
        engines=[
            {
                "engine": 0,
                "requests_finished": {"stop": 5.0, "abort": 0.0, "error": 0.0},
                "histograms": {"ttft_s": histogram([[0.5, 2.0], [1.0, 5.0], [10.0, 5.0]], 5.0)},
            }
        ],
    )
    after = copy.deepcopy(document())
    after["http"]["metrics"]["engines"][0]["requests_finished"] = {"stop": 6.0, "abort": 4.0, "error": 0.0}
    checks = serving(health.evaluate(after, Thresholds(), previous=before))
    # 5 new first tokens, all in (1.0, 10.0]: p90 rank 4.5 -> 1 + 9 * 4.5 / 5
    assert checks["ttft_p90_s"][1].startswith("p90 9.1 s (p50 5.5 s")
    assert "over 10 s" in checks["ttft_p90_s"][1]
    # 5 finished in the window, 4 of them aborted
    assert checks["request_errors_pct"] == (
        "fail",
        "80% errors (4 aborted, failed or HTTP 5xx of 5 finished over 10 s; warn at 1%, fail at 5%)",
    )


@pytest.mark.parametrize("code", [503, 500])
def test_engine_dead(code):
    checks = serving(
        health.evaluate(document(health={"status": "http_status", "http_status": code, "message": "x"}), Thresholds())
    )
    assert checks["http_health"] == ("fail", f"engine dead: GET /health answered HTTP {code}")


def test_refused_is_left_to_the_log_while_loading_and_pending_otherwise():
    refused = {"status": "refused", "http_status": None, "message": "GET /health: connection refused on 127.0.0.1:8000"}
    loading = document(health=refused, phase="loading", engines=[])
    assert "http_health" not in serving(health.evaluate(loading, Thresholds()))
    serving_doc = document(health=refused)
    assert serving(health.evaluate(serving_doc, Thresholds()))["http_health"][0] == "fail"
    waiting = health.evaluate(serving_doc, Thresholds(), mode="wait", waited_s=1, wait_timeout_s=60)
    assert serving(waiting)["http_health"][0] == "warn"


@pytest.mark.parametrize(
    "status, message",
    [
        ("refused", "GET /health: connection refused on 127.0.0.1:8000"),
        ("timeout", "GET /health: no answer within 5s"),
        ("error", "GET /health: Remote end closed connection without response"),  # a server going down
    ],
)
@pytest.mark.parametrize("phase", ["loading", "stopped", "failed"])
def test_no_answer_while_the_log_explains_it_leaves_http_out(status, message, phase):
    """vLLM does not listen while it loads or once it stopped: the log's checks judge the VM, an
    HTTP check that failed it too would count the same fault twice (or fail a loading VM)."""
    answer = {"status": status, "http_status": None, "message": message}
    doc = document(health=answer, phase=phase, engines=[])
    doc["http"]["probe"] = dict(answer, latency_s=None, model=None)
    checks = serving(health.evaluate(doc, Thresholds()))
    assert "http_health" not in checks and "inference_probe" not in checks
    # The same while the log says it serves: dropped is a failure, refused pending.
    serving_doc = document(health=answer)
    assert serving(health.evaluate(serving_doc, Thresholds()))["http_health"][0] == "fail"


@pytest.mark.parametrize(
    "probe, expected",
    [
        (
            {"status": "ok", "http_status": 200, "latency_s": 0.25, "model": "org/m", "message": None},
            ("ok", "1-token completion of org/m answered in 250 ms"),
        ),
        (
            {"status": "ok", "http_status": 200, "latency_s": 12.5, "model": "org/m", "message": None},
            ("warn", "1-token completion of org/m answered in 12.5 s (warn above 10 s)"),
        ),
        (
            {
                "status": "http_status",
                "http_status": 500,
                "latency_s": 0.05,
                "model": "org/m",
                "message": "POST /v1/completions answered HTTP 500: CUDA error",
            },
            (
                "fail",
                "1-token completion of org/m failed after 50 ms: POST /v1/completions answered HTTP 500: CUDA error",
            ),
        ),
        (
            {
                "status": "timeout",
                "http_status": None,
                "latency_s": None,
                "model": None,
                "message": "POST /v1/completions: no answer within 5s",
            },
            ("fail", "1-token completion failed: POST /v1/completions: no answer within 5s"),
        ),
    ],
)
def test_probe(probe, expected):
    assert serving(health.evaluate(document(probe=probe), Thresholds()))["inference_probe"] == expected


def test_absent_inputs_leave_the_checks_out():
    without_http = document()
    del without_http["http"]
    assert serving(health.evaluate(without_http, Thresholds())) == {}
    no_requests = document(
        engines=[
            {"engine": 0, "requests_finished": {"stop": 0.0}, "histograms": {"ttft_s": histogram([[1.0, 0.0]], 0.0)}}
        ],
        http_5xx=None,
    )
    assert set(serving(health.evaluate(no_requests, Thresholds()))) == {"http_health"}


def test_junit_carries_latency_and_percentiles():
    probe = {"status": "ok", "http_status": 200, "latency_s": 0.25, "model": "org/m", "message": None}
    xml = health.junit_xml({"vm1": health.evaluate(document(probe=probe), Thresholds())})
    assert "vm1 :: inference_probe" in xml and "answered in 250 ms" in xml
    assert '<failure message="p90 8.2 s (p50 1 s, p99 9.82 s;' in xml
