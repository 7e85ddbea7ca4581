# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Table tests of the Prometheus text parser and of the vLLM series read from it, on two
generated full /metrics bodies (fixtures/: vLLM 0.11 V1 single API server, 0.6.6 V0 multiprocess)
and on bodies written here for the other version families."""

from __future__ import annotations

import math
import pathlib

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils import _prometheus
from ansible_collections.gpufleet.vllm.plugins.module_utils._vllm_http import metrics_summary

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
V1_BODY = (FIXTURES / "metrics-v1-0.11.txt").read_text()
V0_BODY = (FIXTURES / "metrics-v0-0.6.6-multiprocess.txt").read_text()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3.0", 3.0),
        ("0.0", 0.0),
        ("-1.0", -1.0),
        ("1.760431025117304e+09", 1760431025.117304),
        ("4.2e-05", 4.2e-05),
        ("1e+06", 1e6),
        ("+Inf", math.inf),
        ("-Inf", -math.inf),
        (".5", 0.5),
        ("7", 7.0),
        ("infinity", None),
        ("1_000", None),
        ("0x10", None),
        ("", None),
        ("3.0.1", None),
        ("nan1", None),
    ],
)
def test_values(text, expected):
    assert _prometheus.parse_value(text) == expected


def test_nan_value():
    assert math.isnan(_prometheus.parse_value("NaN"))


@pytest.mark.parametrize(
    "line, name, labels, value",
    [
        (
            'vllm:num_requests_running{engine="0",model_name="m"} 4.0',
            "vllm:num_requests_running",
            {"engine": "0", "model_name": "m"},
            4.0,
        ),
        ('vllm:x{model_name="m/x\\"y\\\\z"} 1.0', "vllm:x", {"model_name": 'm/x"y\\z'}, 1.0),
        ('vllm:x{a="line\\nbreak",b=""} 2.0', "vllm:x", {"a": "line\nbreak", "b": ""}, 2.0),
        (
            'vllm:lora_requests_info{max_lora="0",running_lora_adapters="a,b",waiting_lora_adapters=""} 1.733829466203e+09',
            "vllm:lora_requests_info",
            {"max_lora": "0", "running_lora_adapters": "a,b", "waiting_lora_adapters": ""},
            1.733829466203e09,
        ),
        ('odd{a="}{=,"} 5', "odd", {"a": "}{=,"}, 5.0),
        ("plain_total 12 1700000000000", "plain_total", {}, 12.0),
        ('spaced{ a = "1" , } 3', "spaced", {"a": "1"}, 3.0),
        ('comma{a="b",c="d",} 1', "comma", {"a": "b", "c": "d"}, 1.0),
        ('quoted{a="b=\\",c=\\"d"} 1', "quoted", {"a": 'b=",c="d'}, 1.0),
        ('blank{a="b" ,c="d"} 1', "blank", {"a": "b", "c": "d"}, 1.0),
    ],
)
def test_sample_lines(line, name, labels, value):
    assert _prometheus.parse_sample(line) == (name, _prometheus.Sample(labels, value))


@pytest.mark.parametrize(
    "line",
    [
        'vllm:x{model_name="unterminated} 1',
        "vllm:x{model_name=m} 1",
        "vllm:x",
        "vllm:x one",
        "1bad 1",
        'vllm:x{"a"="b"} 1',
        "vllm:x 1 2 3",
        'vllm:x{a="b"}1',
        # The canonical form's shortcut (split at '",') must refuse what the grammar refuses.
        'x{a="b",,c="d"} 1',
        'x{a="b"c="d"} 1',
        'x{,a="b"} 1',
        'x{a="b"",c="d"} 1',
        'x{a="b",c="d} 1',
        'x{"} 1',
        'x{a="b",1c="d"} 1',
        'x{a="b",c=d"} 1',
    ],
)
def test_malformed_lines_are_skipped(line):
    assert _prometheus.parse_sample(line) is None
    assert _prometheus.parse(line + "\nok_total 1\n").skipped == 1


def test_v1_sample_body():
    exposition = _prometheus.parse(V1_BODY)
    assert exposition.skipped == 0
    assert exposition.types["vllm:time_to_first_token_seconds"] == "histogram"
    # _created families are their own names: never summed into the counter.
    assert "vllm:prompt_tokens_created" in exposition.samples
    summary = metrics_summary(exposition)
    (engine,) = summary["engines"]
    assert engine["engine"] == 0 and engine["model_name"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert engine["requests_finished"] == {"stop": 96.0, "length": 46.0, "abort": 0.0}
    ttft = engine["histograms"]["ttft_s"]
    assert ttft["metric"] == "vllm:time_to_first_token_seconds"
    # The empty buckets below 0.02 s and the full ones above 1 s (up to 2560 s) are left out: the
    # edge bucket kept on each side says the same.
    assert ttft["count"] == 142.0 and ttft["buckets"] == [
        [0.02, 0.0],
        [0.04, 10.0],
        [0.06, 56.0],
        [0.08, 102.0],
        [0.1, 130.0],
        [0.25, 134.0],
        [0.5, 136.0],
        [0.75, 141.0],
        [1.0, 142.0],
    ]
    # No empty bucket at the low end: nothing is left out there.
    assert engine["histograms"]["e2e_s"]["buckets"][0] == [0.3, 35.0]
    assert engine["histograms"]["e2e_s"]["buckets"][-1] == [10.0, 142.0]
    assert engine["histograms"]["itl_s"]["metric"] == "vllm:inter_token_latency_seconds"
    assert set(engine["histograms"]) == {"ttft_s", "itl_s", "e2e_s", "queue_s"}
    assert summary["http_requests"]["2xx"] > 0


def test_v0_multiprocess_sample_body():
    summary = metrics_summary(_prometheus.parse(V0_BODY))
    (engine,) = summary["engines"]
    assert engine["engine"] is None
    assert engine["running"] == 3.0 and engine["waiting"] == 0.0
    assert engine["kv_cache_pct"] == pytest.approx(1.734)  # gpu_cache_usage_perc 0.01734
    assert engine["prompt_tokens_total"] == 82636.0 and engine["generation_tokens_total"] == 7217.0
    assert engine["requests_finished"] == {"stop": 31.0, "length": 26.0}
    # TPOT before 0.10.2; _sum before the buckets (multiprocess order).
    assert engine["histograms"]["itl_s"]["metric"] == "vllm:time_per_output_token_seconds"
    assert engine["histograms"]["itl_s"]["sum"] == pytest.approx(125.06984713388758)
    assert summary["http_requests"] is None


DP2_BODY = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 4.0
vllm:num_requests_running{engine="1",model_name="m"} 3.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 1.0
vllm:num_requests_waiting{engine="1",model_name="m"} 0.0
# TYPE vllm:num_requests_waiting_by_reason gauge
vllm:num_requests_waiting_by_reason{engine="0",model_name="m",reason="capacity"} 99.0
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="m"} 1.234567e+06
vllm:prompt_tokens_total{engine="1",model_name="m"} 10.0
# TYPE vllm:prompt_tokens_cached_total counter
vllm:prompt_tokens_cached_total{engine="0",model_name="m"} 777.0
# TYPE vllm:prompt_tokens_created gauge
vllm:prompt_tokens_created{engine="0",model_name="m"} 1.760431025117304e+09
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="1",finished_reason="stop",model_name="m"} 51.0
vllm:request_success_total{engine="1",finished_reason="error",model_name="m"} 2.0
vllm:request_success_total{engine="1",finished_reason="repetition",model_name="m"} 0.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m",pid="27894"} 0.25
vllm:kv_cache_usage_perc{engine="0",model_name="m",pid="27895"} 0.5
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_sum{engine="1",model_name="m"} 3.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="0.1",model_name="m"} 2.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="+Inf",model_name="m"} 4.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="1.0",model_name="m"} 3.0
vllm:time_to_first_token_seconds_count{engine="1",model_name="m"} 4.0
# HELP vllm:inter_token_latency_seconds Histogram of inter-token latency in seconds.
# TYPE vllm:inter_token_latency_seconds histogram
# HELP http_requests_total Total number of requests by method, status and handler.
# TYPE http_requests_total counter
http_requests_total{handler="/v1/completions",method="POST",status="2xx"} 40.0
http_requests_total{handler="/v1/chat/completions",method="POST",status="2xx"} 2.0
http_requests_total{handler="/v1/completions",method="POST",status="5xx"} 3.0
# HELP vllm:spec_decode_draft_acceptance_rate Speulative token acceptance rate.
# TYPE vllm:spec_decode_draft_acceptance_rate gauge
vllm:spec_decode_draft_acceptance_rate{model_name="m"} NaN
# HELP vllm:gpu_prefix_cache_hit_rate GPU prefix cache block hit rate.
# TYPE vllm:gpu_prefix_cache_hit_rate gauge
vllm:gpu_prefix_cache_hit_rate{model_name="m"} -1.0
"""


def test_data_parallel_and_several_api_servers():
    summary = metrics_summary(_prometheus.parse(DP2_BODY))
    zero, one = summary["engines"][:2]
    assert (zero["engine"], one["engine"]) == (0, 1)
    # Exact names: neither waiting_by_reason, prompt_tokens_cached nor prompt_tokens_created counts.
    assert zero["waiting"] == 1.0 and zero["prompt_tokens_total"] == 1234567.0
    assert one["prompt_tokens_total"] == 10.0
    # One KV cache series per API-server pid: the highest is kept.
    assert zero["kv_cache_pct"] == 50.0
    assert one["requests_finished"] == {"stop": 51.0, "error": 2.0, "repetition": 0.0}
    # Buckets out of order on the wire, +Inf left to count; ITL declared without samples is absent.
    assert one["histograms"] == {
        "ttft_s": {
            "metric": "vllm:time_to_first_token_seconds",
            "buckets": [[0.1, 2.0], [1.0, 3.0]],
            "count": 4.0,
            "sum": 3.0,
        }
    }
    assert summary["http_requests"] == {"2xx": 42.0, "5xx": 3.0}


def test_histograms_summed_over_api_servers_and_broken_ones_dropped():
    body = "\n".join(
        [
            'vllm:e2e_request_latency_seconds_bucket{le="1.0",model_name="m",pid="1"} 1.0',
            'vllm:e2e_request_latency_seconds_bucket{le="1.0",model_name="m",pid="2"} 2.0',
            'vllm:e2e_request_latency_seconds_count{model_name="m",pid="1"} 1.0',
            'vllm:e2e_request_latency_seconds_count{model_name="m",pid="2"} 3.0',
            # Not cumulative: a bucket below its predecessor. Left out, never half-used.
            'vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} 5.0',
            'vllm:time_to_first_token_seconds_bucket{le="1.0",model_name="m"} 4.0',
            'vllm:time_to_first_token_seconds_count{model_name="m"} 5.0',
        ]
    )
    (engine,) = metrics_summary(_prometheus.parse(body))["engines"]
    assert engine["histograms"] == {
        "e2e_s": {"metric": "vllm:e2e_request_latency_seconds", "buckets": [[1.0, 3.0]], "count": 4.0, "sum": None}
    }


def test_families_without_samples_and_foreign_labels():
    body = (
        "# HELP vllm:num_requests_running Number of requests currently running on GPU.\n"
        "# TYPE vllm:num_requests_running gauge\n"
        "# HELP vllm:tokens_total Number of prefill plus generation tokens processed. \n"
        "# TYPE vllm:tokens_total counter\n"
        '# a free comment with {"braces"}\n'
        'vllm:cache_config_info{block_size="16",engine="0"} 1.0\n'
    )
    exposition = _prometheus.parse(body)
    assert exposition.skipped == 0 and set(exposition.samples) == {"vllm:cache_config_info"}
    assert metrics_summary(exposition)["engines"] == []


@pytest.mark.parametrize("body", [V1_BODY, V0_BODY, DP2_BODY], ids=["v1-0.11", "v0-0.6.6-mp", "dp2-api-servers"])
def test_same_samples_as_prometheus_client(body):
    """The reference parser (prometheus_client, a dev dependency) reads the same samples."""
    parser = pytest.importorskip("prometheus_client.parser")

    def key(name, labels, value):
        return name, tuple(sorted(labels.items())), "nan" if math.isnan(value) else value

    reference = sorted(
        key(sample.name, sample.labels, sample.value)
        for family in parser.text_string_to_metric_families(body)
        for sample in family.samples
    )
    ours = sorted(
        key(name, sample.labels, sample.value)
        for name, samples in _prometheus.parse(body).samples.items()
        for sample in samples
    )
    assert ours == reference
