# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Prometheus export: parsed back with prometheus_client's text parser (and checked with
promtool when installed), label values from hostile VMs escaped, absent figures left out."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.gpufleet.vllm.plugins.filter.health_prometheus import health_prometheus
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._prometheus_export import FAMILIES, escape_label, render

DOCUMENT = {
    "reachable": True,
    "gpu": {
        "status": "ok",
        "devices": [
            {
                "index": 0,
                "uuid": "GPU-0",
                "utilization_pct": 87,
                "memory_used_mib": 74213,
                "memory_total_mib": 81920,
                "temperature_c": 67,
                "power_w": 241.67,
                "power_limit_w": 300.0,
                "ecc_uncorrected_volatile": 2,
                "retired_pages_pending": None,
                "remapped_rows_pending": True,
                "clock_event_reasons": ["hw_thermal_slowdown"],
            },
            {
                "index": 1,
                "uuid": "GPU-1",
                "utilization_pct": None,
                "memory_used_mib": 10,
                "memory_total_mib": 81920,
                "temperature_c": None,
                "power_w": None,
                "power_limit_w": None,
            },
        ],
        "compute_apps": {
            "status": "ok",
            "processes": [
                {"gpu_index": 0, "used_memory_mib": 1024, "watched": False},
                {"gpu_index": 0, "used_memory_mib": 70000, "watched": True},
            ],
        },
        "xid": {"status": "ok", "events": [{"code": 79}, {"code": 13}, {"code": 79}]},
    },
    "container": {"status": "running", "restart_count": 1},
    "vllm": {
        "phase": "serving",
        "engines": [
            {
                "engine": 0,
                "aggregated_engines": None,
                "prompt_tps": 1234.5,
                "generation_tps": 87.6,
                "running": 3,
                "waiting": 1,
                "kv_cache_pct": 42.3,
            }
        ],
    },
}
# One scrape of /metrics: percentiles since the server started. TTFT buckets (cumulative) 10 under
# 0.1 s, 60 under 1 s, 100 under 10 s: p50 = 0.1 + 0.9 * (50 - 10) / 50 = 0.82 s, p90 = 1 + 9 * 30 / 40 = 7.75 s.
DOCUMENT["collected_at"] = "2026-11-28T02:00:00.000000Z"
DOCUMENT["http"] = {
    "health": {"status": "ok", "http_status": 200, "message": None},
    "probe": None,
    "metrics": {
        "status": "ok",
        "http_requests": None,
        "engines": [
            {
                "engine": 0,
                "requests_finished": {"stop": 100.0},
                "histograms": {
                    "ttft_s": {
                        "metric": "vllm:time_to_first_token_seconds",
                        "count": 100.0,
                        "sum": 250.0,
                        "buckets": [[0.1, 10.0], [1.0, 60.0], [10.0, 100.0]],
                    }
                },
            }
        ],
    },
}
CHECKS = [
    {"name": "reachable", "status": "ok"},
    {"name": "gpu_ecc", "status": "fail"},
    {"name": "gpu_throttle", "status": "warn"},
]


def samples(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_every_figure_of_a_serving_host():
    text = render([{"name": "vm1", "document": DOCUMENT, "checks": CHECKS, "state": "serving"}])
    found = samples(text)
    h = ("host", "vm1")
    assert found[("gpufleet_up", (h,))] == 1
    assert found[("gpufleet_state", (h, ("state", "serving")))] == 1
    assert found[("gpufleet_state", (h, ("state", "failed")))] == 0
    assert found[("gpufleet_health_status", (h,))] == 2
    assert found[("gpufleet_check_status", (("check", "gpu_throttle"), h))] == 1
    assert found[("gpufleet_gpu_utilization_ratio", (("gpu", "0"), h))] == pytest.approx(0.87)
    assert found[("gpufleet_gpu_memory_used_bytes", (("gpu", "0"), h))] == 74213 * 1024 * 1024
    assert found[("gpufleet_gpu_ecc_uncorrected_errors", (("gpu", "0"), h))] == 2
    assert found[("gpufleet_gpu_memory_rows_pending", (("gpu", "0"), h))] == 1
    assert found[("gpufleet_gpu_clock_event_active", (("gpu", "0"), h, ("reason", "hw_thermal_slowdown")))] == 1
    assert found[("gpufleet_gpu_clock_event_active", (("gpu", "0"), h, ("reason", "sw_power_cap")))] == 0
    assert found[("gpufleet_gpu_foreign_memory_bytes", (("gpu", "0"), h))] == 1024 * 1024 * 1024
    assert found[("gpufleet_gpu_foreign_memory_bytes", (("gpu", "1"), h))] == 0
    assert found[("gpufleet_gpu_xid_events", (("code", "79"), h))] == 2
    assert found[("gpufleet_kernel_log_readable", (h,))] == 1
    assert found[("gpufleet_engine_generation_tokens_per_second", (("engine", "0"), h))] == 87.6
    assert found[("gpufleet_engine_kv_cache_usage_ratio", (("engine", "0"), h))] == pytest.approx(0.423)
    assert found[("gpufleet_container_restarts", (h,))] == 1
    ttft = (h, ("metric", "ttft"))
    assert found[("gpufleet_latency_seconds", ttft + (("percentile", "0.5"),))] == pytest.approx(0.82)
    assert found[("gpufleet_latency_seconds", ttft + (("percentile", "0.9"),))] == pytest.approx(7.75)
    # Absent readings are no sample, never 0.
    assert ("gpufleet_latency_seconds", (h, ("metric", "itl"), ("percentile", "0.9"))) not in found
    assert ("gpufleet_gpu_temperature_celsius", (("gpu", "1"), h)) not in found
    assert ("gpufleet_gpu_utilization_ratio", (("gpu", "1"), h)) not in found


def test_help_and_type_once_per_family():
    text = render([{"name": f"vm{n}", "document": DOCUMENT, "checks": CHECKS, "state": "serving"} for n in range(3)])
    for family in FAMILIES:
        assert text.count(f"# TYPE {family} ") <= 1
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP")]
    assert names == helps and len(names) == len(set(names))


def test_an_unreachable_host_is_down_with_its_checks_only():
    text = render(
        [
            {
                "name": "vm2",
                "document": {"reachable": False, "msg": "ssh: connect"},
                "state": "unreachable",
                "checks": [{"name": "reachable", "status": "fail"}],
            }
        ]
    )
    found = samples(text)
    assert found[("gpufleet_up", (("host", "vm2"),))] == 0
    assert found[("gpufleet_state", (("host", "vm2"), ("state", "unreachable")))] == 1
    assert not [key for key in found if key[0].startswith(("gpufleet_gpu_", "gpufleet_engine_"))]


HOSTILE = 'vm"} 1\ngpufleet_up{host="evil\\\x1b[31m\u202e'


def test_hostile_label_values_stay_in_their_label():
    document = {**DOCUMENT, "vllm": {"engines": []}}
    text = render(
        [{"name": HOSTILE, "document": document, "state": "serving", "checks": [{"name": 'x"}\n', "status": "ok"}]}]
    )
    found = samples(text)
    hosts = {dict(labels)["host"] for _name, labels in found}
    assert hosts == {'vm"} 1 gpufleet_up{host="evil\\'}
    assert ("gpufleet_check_status", (("check", 'x"}'), ("host", 'vm"} 1 gpufleet_up{host="evil\\'))) in found
    assert escape_label('a"b\\c') == 'a\\"b\\\\c'


def test_filter_skips_hosts_not_evaluated():
    text = health_prometheus({"vm1": CHECKS, "vm3": None}, {"vm1": DOCUMENT})
    hosts = {dict(labels)["host"] for _name, labels in samples(text)}
    assert hosts == {"vm1"}
    assert health_prometheus({}, {}) == ""


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (scripts/install-test-deps)")
def test_promtool_accepts_the_output():
    text = render(
        [
            {"name": "vm1", "document": DOCUMENT, "checks": CHECKS, "state": "serving"},
            {
                "name": HOSTILE,
                "document": None,
                "checks": [{"name": "reachable", "status": "fail"}],
                "state": "unreachable",
            },
        ]
    )
    proc = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
