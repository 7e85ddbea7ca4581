# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vLLM's HTTP source end to end: the simulator's HTTP server per VM (loopback), node_info run by
the real ``ansible`` (probe, API key), and playbooks/health.yml failing a VM whose TTFT p90 is over
its threshold, whose engine answers 503, whose probe gets a 500; the JUnit report carries the
probe's latency and the percentiles."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from support import ROOT, ansible_module, make_sim_host
from test_health_playbook import outcomes, parse_junit, playbook, summary_lines, write_inventory

pytestmark = pytest.mark.slow

SIMULATOR = ROOT / "simulator"


def start_http(directory, **settings):
    """The simulator's vLLM HTTP server for DIRECTORY on a free loopback port; (process, port)."""
    sys.path.insert(0, str(SIMULATOR))
    try:
        from fakegpu import vllm_http
    finally:
        sys.path.remove(str(SIMULATOR))
    directory.mkdir(parents=True, exist_ok=True)
    vllm_http.configure(str(directory), **settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "fakegpu.vllm_http", str(directory)], env=dict(os.environ, PYTHONPATH=str(SIMULATOR))
    )
    port_file = directory / "http.port"
    deadline = time.monotonic() + 20
    while not port_file.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the simulator's HTTP server did not start"
        time.sleep(0.05)
    return process, int(port_file.read_text())


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("http")
    started = {}
    specs = {
        "vm1": {"version": "0.11", "mode": "busy"},
        "vm2": {"version": "0.17-dp2", "mode": "slow"},
        "vm3": {"version": "0.11", "mode": "dead"},
        "vm4": {"version": "0.6", "mode": "erroring"},
        "keyed": {"version": "0.15-api-servers", "mode": "busy", "api_key": "sekret"},
    }
    try:
        for name, settings in specs.items():
            # 100 s of traffic already served, so that every histogram has observations.
            started[name] = start_http(folder / name, started_epoch=time.time() - 100, **settings)
        yield folder, {name: port for name, (_process, port) in started.items()}
    finally:
        for process, _port in started.values():
            process.terminate()
            process.wait(10)


def test_probe_and_api_key_through_the_real_module(servers, ansible_env, tmp_path):
    ports = servers[1]
    sim = make_sim_host(tmp_path / "sim", "busy")
    args = {
        "container": "vllm_qwen36_27b",
        "docker_path": str(sim / "bin" / "docker"),
        "nvidia_smi_path": str(sim / "bin" / "nvidia-smi"),
        "http_port": ports["keyed"],
        "probe": True,
    }
    rc, result = ansible_module(ansible_env, "gpufleet.vllm.node_info", args)
    assert rc == 0, result
    http = result["http"]
    assert http["health"]["status"] == "ok" and http["version"]["version"] == "0.15.0"
    assert http["metrics"]["status"] == "ok" and http["metrics"]["engines"][0]["histograms"]["ttft_s"]["count"] > 0
    assert http["models"]["http_status"] == 401 and http["models"]["message"].startswith("API key required")
    assert http["probe"]["http_status"] == 401
    rc, result = ansible_module(ansible_env, "gpufleet.vllm.node_info", dict(args, api_key="sekret"))
    assert result["http"]["probe"]["status"] == "ok" and result["http"]["probe"]["model"] == "Qwen/Qwen3.6-27B"
    assert result["http"]["probe"]["latency_s"] >= 0.05
    # no_log: the key never comes back in the result.
    assert "sekret" not in json.dumps(result)


@pytest.fixture(scope="module")
def gate(servers, tmp_path_factory, ansible_env):
    ports = servers[1]
    folder = tmp_path_factory.mktemp("gate")
    inventory = write_inventory(
        folder, {name: {"scenario": "busy", "gpufleet_vllm_port": ports[name]} for name in ("vm1", "vm2", "vm3", "vm4")}
    )
    junit = folder / "health.xml"
    return {"proc": playbook(ansible_env, inventory, "-e", f"health_junit_path={junit}"), "junit": junit}


def test_health_gate_fails_slow_dead_and_erroring_vms(gate):
    proc = gate["proc"]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = {line.split(":", 1)[0]: line for line in summary_lines(proc.stdout)}
    assert lines["vm1"].startswith("vm1: OK "), lines["vm1"]
    assert "ttft_p90_s" in lines["vm2"].split("failed (", 1)[1].split(")")[0]
    assert "http_health" in lines["vm3"].split("failed (", 1)[1].split(")")[0]
    failed_vm4 = lines["vm4"].split("failed (", 1)[1].split(")")[0]
    assert "inference_probe" in failed_vm4 and "request_errors_pct" in failed_vm4


def test_junit_carries_probe_latency_and_percentiles(gate):
    root = parse_junit(gate["junit"])
    states = outcomes(root)
    for check in ("http_health", "inference_probe", "ttft_p90_s", "itl_p90_s", "request_errors_pct"):
        assert states[("vm1", f"vm1 :: {check}")] == "ok", check
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert "answered in" in cases["vm1 :: inference_probe"].find("system-out").text
    slow = cases["vm2 :: ttft_p90_s"].find("failure").get("message")
    assert slow.startswith("p90 ") and "since the server started" in slow
    assert cases["vm3 :: http_health"].find("failure").get("message") == "engine dead: GET /health answered HTTP 503"
    assert "HTTP 500" in cases["vm4 :: inference_probe"].find("failure").get("message")


def test_watch_json_lines_carry_the_window_figures(servers, tmp_path, ansible_env):
    ports = servers[1]
    inventory = write_inventory(tmp_path, {"vm2": {"scenario": "busy", "gpufleet_vllm_port": ports["vm2"]}})
    records_path = tmp_path / "watch.jsonl"
    proc = subprocess.run(
        [
            str(pathlib.Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            inventory,
            # The slow server finishes a request every 2 s: scrapes 3 s apart (give or take the
            # module's start-up jitter) always have one between them; 2 s apart sometimes did not.
            str(ROOT / "playbooks" / "watch.yml"),
            "-e",
            "watch_cycles=2",
            "-e",
            "watch_interval=3",
        ],
        cwd=ROOT,
        env=dict(ansible_env, GPUFLEET_DASHBOARD_JSON=str(records_path)),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = [json.loads(line) for line in records_path.read_text().splitlines()]
    first, second = [record["serving"] for record in records if record["host"] == "vm2"][:2]
    assert first["window"] == "since_start" and first["ttft_s"]["p90"] > 5  # 100 s of slow traffic
    # The second result covers the window since the first: rates over it, not since the start.
    assert second["window"] == "interval" and second["window_s"] > 0
    assert second["generation_tps"] > 0 and second["requests"] < first["requests"]
    checks = {check["name"]: check["status"] for check in records[-1]["checks"]}
    assert checks["http_health"] == "ok"


def test_probe_and_metrics_over_ssh_in_the_test_fleet(ansible_env, tmp_path):
    """A fleet host serving vLLM's HTTP inside its namespace (loopback only): health.yml reads it
    through the real module over SSH and fails the VM on the probe's 500 and the error share."""
    from support import run, running_fleet
    from tests.fleet import HostSpec

    junit = tmp_path / "health.xml"
    http = {"version": "0.11", "mode": "erroring", "started_epoch": time.time() - 100}
    specs = [HostSpec("vm-http", "busy", http=http)]
    with running_fleet(specs) as fleet:
        proc = run(
            [
                str(pathlib.Path(sys.executable).parent / "ansible-playbook"),
                "-i",
                fleet.inventory,
                "playbooks/health.yml",
                "-e",
                "gpufleet_vllm_port=11434",
                "-e",
                f"health_junit_path={junit}",
            ],
            ansible_env,
            timeout=180,
        )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = summary_lines(proc.stdout)
    failed = line.split("failed (", 1)[1].split(")")[0].split(", ")
    assert set(failed) == {"inference_probe", "request_errors_pct"}, line
    cases = {case.get("name"): case for case in parse_junit(junit).iter("testcase")}
    assert cases["vm-http :: http_health"].find("system-out").text == "OK: GET /health answered 200"
    assert "HTTP 500: EngineCore encountered an issue" in cases["vm-http :: inference_probe"].find("failure").get(
        "message"
    )
