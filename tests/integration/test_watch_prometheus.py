# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPUFLEET_DASHBOARD_PROM: the watch loop rewrites a node_exporter textfile with the fleet's
metrics (the demo fleet, real ansible-playbook), parsed back with prometheus_client."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import ROOT, run

pytestmark = pytest.mark.slow

DEMO = str(ROOT / "scripts" / "demo")


def samples(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_watch_writes_the_metrics_file(ansible_env, tmp_path):
    prom = tmp_path / "gpufleet.prom"
    env = dict(ansible_env, GPUFLEET_DEMO_HOSTS=str(tmp_path / "hosts"), GPUFLEET_DASHBOARD_PROM=str(prom))
    proc = run([DEMO, "-e", "watch_cycles=2", "-e", "watch_interval=1"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = prom.read_text()
    found = samples(text)
    assert found[("gpufleet_up", (("host", "demo-busy"),))] == 1
    assert found[("gpufleet_up", (("host", "demo-down"),))] == 0
    assert found[("gpufleet_state", (("host", "demo-oom"), ("state", "failed")))] == 1
    assert found[("gpufleet_check_status", (("check", "fatal_errors"), ("host", "demo-oom")))] == 2
    assert found[("gpufleet_engine_generation_tokens_per_second", (("engine", "0"), ("host", "demo-busy")))] == 176.5
    assert found[("gpufleet_gpu_temperature_celsius", (("gpu", "1"), ("host", "demo-busy")))] > 0
    # Not provisioned: never polled, no series (not "down").
    assert not [key for key in found if ("host", "demo-new") in key[1]]
    # Written by rename: no temporary file is left next to it.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["gpufleet.prom", "hosts"]
    if shutil.which("promtool"):
        check = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr


def test_a_metrics_path_that_cannot_be_written_stops_before_polling(ansible_env, tmp_path):
    env = dict(
        ansible_env,
        GPUFLEET_DEMO_HOSTS=str(tmp_path / "hosts"),
        GPUFLEET_DASHBOARD_PROM=str(tmp_path / "missing" / "gpufleet.prom"),
    )
    proc = run([DEMO, "-e", "watch_cycles=1", "-e", "watch_interval=1"], env)
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert "GPUFLEET_DASHBOARD_PROM" in output and "missing" in output
    assert "demo-busy serving" not in output
