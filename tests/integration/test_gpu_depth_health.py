# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU depth through the real playbooks/health.yml: the simulator's foreign process, ECC error,
thermal throttling, XID 79 and unreadable kernel log scenarios reach the summary lines, and the
run's Prometheus metrics (health_prometheus_path) parse with prometheus_client and promtool."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_health_playbook import playbook, summary_lines, write_inventory

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def depth_run(tmp_path_factory, ansible_env):
    folder = tmp_path_factory.mktemp("gpu_depth")
    inventory = write_inventory(
        folder,
        {
            "vm-busy": {"scenario": "busy"},
            "vm-foreign": {"scenario": "foreign-process"},
            "vm-ecc": {"scenario": "ecc-error"},
            "vm-hot": {"scenario": "thermal-throttle"},
            "vm-xid": {"scenario": "xid-79"},
            "vm-klog": {"scenario": "kernel-log-unreadable"},
            "vm-down": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1},
        },
    )
    prom = folder / "textfile" / "gpufleet.prom"
    prom.parent.mkdir()
    proc = playbook(ansible_env, inventory, "-e", f"health_prometheus_path={prom}")
    return {"proc": proc, "prom": prom}


def test_summary_names_each_gpu_problem(depth_run):
    lines = dict(line.split(": ", 1) for line in summary_lines(depth_run["proc"].stdout))
    assert lines["vm-busy"] == "OK 16 ok"
    assert lines["vm-foreign"].startswith(
        "FAIL 2 failed (container_running, fatal_errors), 1 warned (gpu_foreign_processes)"
    )
    assert lines["vm-ecc"].startswith("FAIL 1 failed (gpu_ecc), 1 warned (gpu_xid)")
    assert lines["vm-hot"].startswith("WARN 2 warned (gpu_temperature, gpu_throttle)")
    assert lines["vm-xid"].startswith("FAIL 4 failed (gpu_driver, gpu_xid, container_running, fatal_errors)")
    assert lines["vm-klog"].startswith("WARN 1 warned (gpu_xid)")


def test_gate_message_names_the_holder_of_the_memory(depth_run):
    stdout = depth_run["proc"].stdout
    assert "cuda_oom: GPU 0: 50.1 GiB held by PID 4194500 /opt/conda/bin/python (container 9a8b7c6d5e4f)" in stdout
    assert "XID 79 (GPU has fallen off the bus) on PCI 0000:02:00" in stdout


def samples(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_prometheus_metrics_of_the_run(depth_run):
    prom = depth_run["prom"]
    assert stat.S_ISREG(os.stat(prom).st_mode) and oct(os.stat(prom).st_mode & 0o777) == "0o644"
    found = samples(prom.read_text())
    assert found[("gpufleet_up", (("host", "vm-busy"),))] == 1
    assert found[("gpufleet_up", (("host", "vm-down"),))] == 0
    assert found[("gpufleet_state", (("host", "vm-down"), ("state", "unreachable")))] == 1
    assert found[("gpufleet_state", (("host", "vm-busy"), ("state", "serving")))] == 1
    assert found[("gpufleet_check_status", (("check", "gpu_throttle"), ("host", "vm-hot")))] == 1
    assert found[("gpufleet_check_status", (("check", "gpu_xid"), ("host", "vm-xid")))] == 2
    assert found[("gpufleet_engine_generation_tokens_per_second", (("engine", "0"), ("host", "vm-busy")))] == 87.6
    assert found[("gpufleet_engine_kv_cache_usage_ratio", (("engine", "0"), ("host", "vm-busy")))] == pytest.approx(
        0.423
    )
    assert (
        found[("gpufleet_gpu_foreign_memory_bytes", (("gpu", "0"), ("host", "vm-foreign")))] == (51324 + 1024) * 2**20
    )
    assert found[("gpufleet_gpu_ecc_uncorrected_errors", (("gpu", "0"), ("host", "vm-ecc")))] == 2
    assert found[("gpufleet_gpu_xid_events", (("code", "79"), ("host", "vm-xid")))] == 1
    assert found[("gpufleet_kernel_log_readable", (("host", "vm-klog"),))] == 0
    assert (
        found[
            ("gpufleet_gpu_clock_event_active", (("gpu", "0"), ("host", "vm-hot"), ("reason", "hw_thermal_slowdown")))
        ]
        == 1
    )
    assert found[("gpufleet_gpu_temperature_celsius", (("gpu", "0"), ("host", "vm-hot")))] == 86


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (scripts/install-test-deps)")
def test_promtool_accepts_the_run_metrics(depth_run):
    proc = subprocess.run(
        ["promtool", "check", "metrics"],
        stdin=depth_run["prom"].open(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_metrics_path_that_cannot_be_written_ends_before_any_vm_is_polled(tmp_path, ansible_env):
    inventory = write_inventory(tmp_path, {"vm-a": {"scenario": "busy"}})
    proc = playbook(ansible_env, inventory, "-e", f"health_prometheus_path={tmp_path}")
    assert proc.returncode == 1
    assert "health_prometheus_path" in proc.stdout + proc.stderr
    assert "Collect the state of the VM" not in proc.stdout
