# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _collect: how command outcomes become the document (commands replaced by a table)."""

from __future__ import annotations

import datetime
import re

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._collect import CollectError, collect
from ansible_collections.gpufleet.vllm.plugins.module_utils._docker import INSPECT_TEMPLATE
from ansible_collections.gpufleet.vllm.plugins.module_utils._nvidia_smi import DEFAULT_QUERY_FIELDS
from ansible_collections.gpufleet.vllm.plugins.module_utils._runner import CommandResult

NOW = datetime.datetime(2026, 11, 28, 2, 0, 0, tzinfo=datetime.timezone.utc)
GPU_ROW = "0, GPU-1, NVIDIA A100 80GB PCIe, 41, 87, 212.44, 300.00, 74213, 81920\n"
INSPECT = "running\tnone\t0\tfalse\t2026-11-28T01:00:00.000000000Z\t0\tvllm/vllm-openai:latest\t\n"
STATS = ("2026-11-28T01:59:55.000000000Z INFO 11-28 01:59:55 [loggers.py:123] Engine 000: Avg prompt "
         "throughput: 10.0 tokens/s, Avg generation throughput: 20.0 tokens/s, Running: 1 reqs, Waiting: 0 "
         "reqs, GPU KV cache usage: 5.0%, Prefix cache hit rate: 1.0%\n")


def result(rc=0, stdout="", stderr="", timed_out=False, truncated=False, not_found=False):
    return CommandResult([], rc, stdout, stderr, timed_out, truncated, not_found, 0.01)


class FakeRunner:
    """Answers each command by its second word (inspect: 'container', logs: 'logs', nvidia-smi)."""

    def __init__(self, gpu=None, inspect=None, logs=None):
        self.answers = {"gpu": gpu or result(stdout=GPU_ROW), "container": inspect or result(stdout=INSPECT),
                        "logs": logs or result(stdout=STATS)}
        self.calls = []

    def __call__(self, argv, timeout, max_bytes, merge_stderr=False, keep_tail=False):
        self.calls.append((argv, merge_stderr, keep_tail))
        key = argv[1] if argv[1] in ("container", "logs") else "gpu"
        return self.answers[key]


def run(runner, container="vllm_x"):
    return collect(container, "/bin/docker", "/bin/nvidia-smi", 300, 5.0, list(DEFAULT_QUERY_FIELDS), 30.0,
                   runner=runner, clock=lambda: NOW)


def test_commands_are_argument_lists():
    runner = FakeRunner()
    run(runner)
    assert sorted(runner.calls) == sorted([
        (["/bin/nvidia-smi", "--query-gpu=" + ",".join(DEFAULT_QUERY_FIELDS), "--format=csv,noheader,nounits"],
         False, False),
        (["/bin/docker", "container", "inspect", "--format", INSPECT_TEMPLATE, "vllm_x"], False, False),
        (["/bin/docker", "logs", "--timestamps", "--tail", "300", "vllm_x"], True, True),
    ])


def test_serving_document():
    document = run(FakeRunner())
    assert document["collected_at"] == "2026-11-28T02:00:00.000000Z"
    assert (document["gpu"]["status"], document["container"]["status"], document["vllm"]["phase"]) == \
        ("ok", "running", "serving")
    assert document["vllm"]["engines"][0]["age_s"] == 5.0


@pytest.mark.parametrize("logs, log_status, phase, message_part", [
    (result(rc=-9, stdout="x" * 10 + "\n" + STATS, truncated=True), "ok", "serving", "only its newest part"),
    (result(rc=None, timed_out=True), "timeout", "unknown", "did not answer in time"),
    (result(rc=1, stdout="Error response from daemon: configured logging driver does not support reading\n"),
     "unsupported", "unknown", "logging driver"),
])
def test_log_outcomes(logs, log_status, phase, message_part):
    vllm = run(FakeRunner(logs=logs))["vllm"]
    assert (vllm["log_status"], vllm["phase"]) == (log_status, phase)
    assert message_part in vllm["message"]


def test_missing_container_does_not_read_logs():
    missing = result(rc=1, stderr="Error response from daemon: No such container: vllm_x\n")
    document = run(FakeRunner(inspect=missing, logs=result(stdout=STATS)))
    assert document["container"]["status"] == "missing"
    assert (document["vllm"]["phase"], document["vllm"]["log_status"], document["vllm"]["engines"]) == \
        ("stopped", "not_read", [])


def test_a_failing_gpu_query_keeps_the_other_sections():
    document = run(FakeRunner(gpu=result(rc=9, stdout="NVIDIA-SMI has failed because it couldn't communicate "
                                                      "with the NVIDIA driver. Make sure that the latest NVIDIA "
                                                      "driver is installed and running.\n\n")))
    assert document["gpu"]["status"] == "driver_error"
    assert document["vllm"]["phase"] == "serving"


def test_binaries_not_found_on_path():
    document = collect("vllm_x", None, None, 300, 5.0, list(DEFAULT_QUERY_FIELDS), 30.0,
                       runner=FakeRunner(), clock=lambda: NOW)
    assert document["gpu"]["message"].startswith("nvidia-smi not found (looked for nvidia-smi on PATH)")
    assert document["container"]["message"].startswith("docker CLI not found (looked for docker on PATH)")
    assert document["vllm"]["phase"] == "unknown"


@pytest.mark.parametrize("container, fields, message", [
    ("x;id", list(DEFAULT_QUERY_FIELDS), "invalid container name 'x;id'"),
    ("vllm_x", ["index", "name;id"], "name;id"),
])
def test_bad_requests_run_nothing(container, fields, message):
    runner = FakeRunner()
    with pytest.raises(CollectError, match=re.escape(message)):
        collect(container, "/bin/docker", "/bin/nvidia-smi", 300, 5.0, fields, 30.0, runner=runner,
                clock=lambda: NOW)
    assert runner.calls == []
