# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The simulator's /metrics bodies: each version family's shape (engine labels, _created
families, line order), counters that advance with time and reset on a restart, read back with
the collection's own parser."""

from __future__ import annotations

import pytest
from fakegpu import vllm_http

from ansible_collections.gpufleet.vllm.plugins.module_utils import _prometheus
from ansible_collections.gpufleet.vllm.plugins.module_utils._vllm_http import metrics_summary

NOW = 1_800_000_000.0


def body(version, mode="busy", elapsed=100.0, now=NOW):
    return vllm_http.metrics_text(
        dict(vllm_http.DEFAULTS, version=version, mode=mode, started_epoch=NOW - elapsed), now
    )


@pytest.mark.parametrize(
    "version, engines, created, itl",
    [
        ("0.6", [None], False, "vllm:time_per_output_token_seconds"),
        ("0.11", [0], True, "vllm:inter_token_latency_seconds"),
        ("0.15-api-servers", [0], False, "vllm:inter_token_latency_seconds"),
        ("0.17-dp2", [0, 1], False, "vllm:inter_token_latency_seconds"),
    ],
)
def test_version_families(version, engines, created, itl):
    text = body(version)
    exposition = _prometheus.parse(text)
    assert exposition.skipped == 0
    summary = metrics_summary(exposition)
    assert [engine["engine"] for engine in summary["engines"]] == engines
    assert ("vllm:prompt_tokens_created" in exposition.samples) is created
    assert summary["engines"][0]["histograms"]["itl_s"]["metric"] == itl
    # Multiprocess text writes _sum before the buckets.
    first = next(line for line in text.splitlines() if line.startswith("vllm:time_to_first_token_seconds_"))
    assert first.startswith("vllm:time_to_first_token_seconds_sum") is (not created)


def test_counters_advance_and_reset_on_restart():
    before = metrics_summary(_prometheus.parse(body("0.11")))["engines"][0]
    after = metrics_summary(_prometheus.parse(body("0.11", now=NOW + 10)))["engines"][0]
    assert after["generation_tokens_total"] - before["generation_tokens_total"] == 20 * vllm_http.GENERATED_TOKENS
    restarted = metrics_summary(_prometheus.parse(body("0.11", elapsed=1)))["engines"][0]
    assert restarted["generation_tokens_total"] < before["generation_tokens_total"]


def test_erroring_reports_aborts_and_5xx_and_idle_stays_still():
    erroring = metrics_summary(_prometheus.parse(body("0.17-dp2", "erroring")))
    assert erroring["engines"][0]["requests_finished"]["error"] > 0
    assert erroring["http_requests"]["5xx"] > 0
    idle = [
        metrics_summary(_prometheus.parse(body("0.11", "idle", elapsed=elapsed)))["engines"][0]
        for elapsed in (100, 200)
    ]
    assert idle[0]["generation_tokens_total"] == idle[1]["generation_tokens_total"] > 0


def test_configure_refuses_unknown_values(tmp_path):
    with pytest.raises(ValueError):
        vllm_http.configure(str(tmp_path), mode="sleepy")
    settings = vllm_http.configure(str(tmp_path), restart=True)
    assert settings["started_epoch"] > NOW - 10**9


@pytest.mark.parametrize(
    "scenario, options, expected",
    [
        ("busy", (), "busy"),
        ("idle", (), "idle"),  # stats lines stopped: counters frozen
        ("loading", ("--elapsed", "30"), "refused"),  # uvicorn not started yet: nothing listens
        ("busy", ("--elapsed", "30"), "refused"),  # the same while any model loads
        ("cuda-oom", (), "refused"),  # container exited
        ("container-missing", (), "refused"),
        ("gpu-lost", (), "refused"),  # the engine died and the container exited
        ("data-parallel", (), "busy"),
    ],
)
def test_scenario_mode_follows_the_simulated_host(make_host, scenario, options, expected):
    from simhost import NOW

    host = make_host(scenario, *options)
    assert vllm_http.scenario_mode(str(host.path), NOW) == expected


def test_scenario_mode_server_refuses_until_the_host_listens(make_host):
    """The socket is closed while the simulated vLLM would not listen, open once it would."""
    import socket
    import threading
    import time as clock

    host = make_host("busy")
    directory = str(host.path)
    vllm_http.configure(directory, mode="scenario")
    thread = threading.Thread(target=vllm_http.serve, args=(directory, "127.0.0.1", 0, 0.05), daemon=True)
    thread.start()
    port_file = host.path / "http.port"
    deadline = clock.time() + 10
    while not port_file.exists() and clock.time() < deadline:
        clock.sleep(0.05)
    port = int(port_file.read_text())
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert host.set("scenario=cuda-oom").returncode == 0  # the container exits: the port closes
    deadline = clock.time() + 10
    refused = False
    while not refused and clock.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            clock.sleep(0.05)
        except ConnectionRefusedError:
            refused = True
        except ConnectionResetError:
            pass  # accepted into the backlog as the socket closed
    assert refused
