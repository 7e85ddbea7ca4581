# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _collect: how command outcomes become the document (commands replaced by a table)."""

from __future__ import annotations

import datetime
import re

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._collect import CollectError, collect
from ansible_collections.gpufleet.vllm.plugins.module_utils._nvidia_smi import DEFAULT_QUERY_FIELDS
from ansible_collections.gpufleet.vllm.plugins.module_utils._runner import CommandResult

NOW = datetime.datetime(2026, 11, 28, 2, 0, 0, tzinfo=datetime.timezone.utc)
GPU_ROW = "0, GPU-1, NVIDIA A100 80GB PCIe, 41, 87, 212.44, 300.00, 74213, 81920, 0, [N/A], No, 0x0000000000000000\n"
INSPECT = (
    '[{"Name": "/vllm_x", "RestartCount": 0, "State": {"Status": "running", "OOMKilled": false, '
    '"ExitCode": 0, "Error": "", "StartedAt": "2026-11-28T01:00:00.000000000Z"}, '
    '"Config": {"Image": "vllm/vllm-openai:latest", "Env": ["HF_TOKEN=hf_secret"]}}]\n'
)
STATS = (
    "2026-11-28T01:59:55.000000000Z INFO 11-28 01:59:55 [loggers.py:123] Engine 000: Avg prompt "
    "throughput: 10.0 tokens/s, Avg generation throughput: 20.0 tokens/s, Running: 1 reqs, Waiting: 0 "
    "reqs, GPU KV cache usage: 5.0%, Prefix cache hit rate: 1.0%\n"
)


def result(rc=0, stdout="", stderr="", timed_out=False, truncated=False, not_found=False, **kwargs):
    return CommandResult([], rc, stdout, stderr, timed_out, truncated, not_found, 0.01, **kwargs)


MIB = 1024 * 1024


class FakeRunner:
    """Answers each command by its second word (inspect: 'container', logs: 'logs', nvidia-smi)."""

    def __init__(self, gpu=None, inspect=None, logs=None):
        self.answers = {
            "gpu": gpu or result(stdout=GPU_ROW),
            "container": inspect or result(stdout=INSPECT),
            "logs": logs or result(stdout=STATS),
        }
        self.calls = []

    def __call__(self, argv, timeout, max_bytes, merge_stderr=False, keep_tail=False):
        self.calls.append((argv, merge_stderr, keep_tail))
        key = argv[1] if argv[1] in ("container", "logs") else "gpu"
        if argv[1].startswith("--query-compute-apps"):
            return result(stdout="")
        return self.answers[key]


def run(runner, container="vllm_x"):
    return collect(
        container,
        "/bin/docker",
        "/bin/nvidia-smi",
        300,
        5.0,
        list(DEFAULT_QUERY_FIELDS),
        30.0,
        runner=runner,
        clock=lambda: NOW,
    )


def test_commands_are_argument_lists():
    runner = FakeRunner()
    run(runner)
    assert sorted(runner.calls) == sorted(
        [
            (
                ["/bin/nvidia-smi", "--query-gpu=" + ",".join(DEFAULT_QUERY_FIELDS), "--format=csv,noheader,nounits"],
                False,
                False,
            ),
            (["/bin/docker", "container", "inspect", "vllm_x"], False, False),
            (["/bin/docker", "logs", "--timestamps", "--tail", "300", "vllm_x"], True, True),
            (
                [
                    "/bin/nvidia-smi",
                    "--query-compute-apps=gpu_uuid,pid,process_name,used_memory",
                    "--format=csv,noheader,nounits",
                ],
                False,
                False,
            ),
        ]
    )


@pytest.mark.parametrize(
    "service, message",
    [
        ("ollama", "Ollama: not watched by this collection"),
        ("none", "no model service: neither vLLM nor Ollama is enabled on this VM; not watched by this collection"),
    ],
)
@pytest.mark.parametrize("container", [None, "vllm_x"])
def test_a_service_other_than_vllm_collects_the_gpus_only(service, message, container):
    runner = FakeRunner()
    document = collect(
        container,
        "/bin/docker",
        "/bin/nvidia-smi",
        300,
        5.0,
        list(DEFAULT_QUERY_FIELDS),
        30.0,
        runner=runner,
        clock=lambda: NOW,
        service=service,
    )
    binaries = {argv[0] for argv, _merge, _tail in runner.calls}
    assert "/bin/nvidia-smi" in binaries and "/bin/docker" not in binaries
    assert "status" in document["gpu"]
    assert document["container"] == {
        "name": container,
        "status": "not_watched",
        "error_kind": None,
        "health": None,
        "restart_count": None,
        "started_at": None,
        "oom_killed": None,
        "exit_code": None,
        "image": None,
        "message": message,
    }
    assert document["vllm"] == {
        "phase": "not_watched",
        "log_status": "not_read",
        "message": message,
        "engines": [],
        "loading": None,
        "errors": [],
        "ready": False,
        "last_log_at": None,
        "log_lines_read": 0,
    }


@pytest.mark.parametrize(
    "container, service, message",
    [
        (None, "vllm", "container is required when service is vllm"),
        ("vllm_x", "comfyui", "service must be one of vllm, ollama, none, got 'comfyui'"),
        ("-rm", "ollama", "invalid container name '-rm'"),
    ],
)
def test_bad_service_requests_run_nothing(container, service, message):
    runner = FakeRunner()
    with pytest.raises(CollectError, match=re.escape(message)):
        collect(
            container,
            "/bin/docker",
            "/bin/nvidia-smi",
            300,
            5.0,
            list(DEFAULT_QUERY_FIELDS),
            30.0,
            runner=runner,
            clock=lambda: NOW,
            service=service,
        )
    assert runner.calls == []


def test_serving_document():
    document = run(FakeRunner())
    assert document["collected_at"] == "2026-11-28T02:00:00.000000Z"
    assert (document["gpu"]["status"], document["container"]["status"], document["vllm"]["phase"]) == (
        "ok",
        "running",
        "serving",
    )
    assert document["vllm"]["engines"][0]["age_s"] == 5.0


@pytest.mark.parametrize(
    "logs, log_status, phase, message_part",
    [
        # More than the kept 4 MiB, read to its end: the newest part was parsed, and the message says how much came.
        (
            result(rc=0, stdout="x" * 10 + "\n" + STATS, truncated=True, bytes_read=10 * MIB),
            "ok",
            "serving",
            "docker logs printed 10 MiB; only the newest 4 MiB were parsed",
        ),
        # Past the read cap reading stops (the -9 is the module's own kill): the newest lines were never read.
        (
            result(rc=-9, stdout="x" * 10 + "\n" + STATS, truncated=True, stopped=True, bytes_read=64 * MIB),
            "ok",
            "serving",
            "docker logs printed more than 64 MiB; stopped reading there, so the newest lines were not read",
        ),
        (result(rc=None, timed_out=True), "timeout", "unknown", "did not answer in time"),
        (
            result(rc=1, stdout="Error response from daemon: configured logging driver does not support reading\n"),
            "unsupported",
            "unknown",
            "logging driver",
        ),
    ],
)
def test_log_outcomes(logs, log_status, phase, message_part):
    vllm = run(FakeRunner(logs=logs))["vllm"]
    assert (vllm["log_status"], vllm["phase"]) == (log_status, phase)
    assert message_part in vllm["message"]


def test_missing_container_does_not_read_logs():
    missing = result(rc=1, stderr="Error response from daemon: No such container: vllm_x\n")
    document = run(FakeRunner(inspect=missing, logs=result(stdout=STATS)))
    assert document["container"]["status"] == "missing"
    assert (document["vllm"]["phase"], document["vllm"]["log_status"], document["vllm"]["engines"]) == (
        "stopped",
        "not_read",
        [],
    )


def test_a_failing_gpu_query_keeps_the_other_sections():
    document = run(
        FakeRunner(
            gpu=result(
                rc=9,
                stdout="NVIDIA-SMI has failed because it couldn't communicate "
                "with the NVIDIA driver. Make sure that the latest NVIDIA "
                "driver is installed and running.\n\n",
            )
        )
    )
    assert document["gpu"]["status"] == "driver_error"
    assert document["vllm"]["phase"] == "serving"


def test_binaries_not_found_on_path():
    document = collect(
        "vllm_x", None, None, 300, 5.0, list(DEFAULT_QUERY_FIELDS), 30.0, runner=FakeRunner(), clock=lambda: NOW
    )
    assert document["gpu"]["message"].startswith("nvidia-smi not found (looked for nvidia-smi on PATH)")
    assert document["container"]["message"].startswith("docker CLI not found (looked for docker on PATH)")
    assert document["vllm"]["phase"] == "unknown"


@pytest.mark.parametrize(
    "container, fields, message",
    [
        ("x;id", list(DEFAULT_QUERY_FIELDS), "invalid container name 'x;id'"),
        ("vllm_x", ["index", "name;id"], "name;id"),
    ],
)
def test_bad_requests_run_nothing(container, fields, message):
    runner = FakeRunner()
    with pytest.raises(CollectError, match=re.escape(message)):
        collect(container, "/bin/docker", "/bin/nvidia-smi", 300, 5.0, fields, 30.0, runner=runner, clock=lambda: NOW)
    assert runner.calls == []


def test_output_over_the_cap_is_reported_as_such_not_as_the_kill():
    document = run(
        FakeRunner(
            gpu=result(rc=-9, stdout=GPU_ROW * 100, truncated=True, stopped=True, bytes_read=MIB),
            inspect=result(rc=-9, stdout="x" * 100, truncated=True, stopped=True, bytes_read=MIB),
        )
    )
    assert document["gpu"].pop("compute_apps")["status"] == "not_read"
    document["gpu"].pop("xid")
    assert document["gpu"] == {
        "status": "error",
        "devices": [],
        "message": "nvidia-smi printed more than 1 MiB; stopped reading it (a GPU list is a few KiB: check that "
        "/bin/nvidia-smi is NVIDIA's nvidia-smi)",
    }
    assert (document["container"]["status"], document["container"]["error_kind"]) == ("error", "error")
    assert document["container"]["message"].startswith("docker container inspect printed more than 1 MiB; stopped")
    assert "-9" not in document["gpu"]["message"] + document["container"]["message"]


def test_binaries_that_exist_but_cannot_run_are_not_executable():
    cannot = result(rc=None, stderr="Permission denied", not_executable=True)
    document = run(FakeRunner(gpu=cannot, inspect=cannot))
    document["gpu"].pop("compute_apps")
    document["gpu"].pop("xid")
    assert document["gpu"] == {
        "status": "error",
        "devices": [],
        "message": "nvidia-smi at /bin/nvidia-smi is not executable (Permission denied); make it executable "
        "or set nvidia_smi_path",
    }
    assert document["container"]["message"] == (
        "docker CLI at /bin/docker is not executable (Permission denied); make it executable or set docker_path"
    )


def stamped(
    when,
    text="INFO 11-28 01:59:55 [loggers.py:123] Engine 000: Avg prompt throughput: 10.0 tokens/s, "
    "Avg generation throughput: 20.0 tokens/s, Running: 1 reqs, Waiting: 0 reqs, "
    "GPU KV cache usage: 5.0%, Prefix cache hit rate: 1.0%",
):
    return "%s %s\n" % (when, text)


@pytest.mark.parametrize(
    "started, log, status, log_status, phase, message_start, ages",
    [
        # Log lines from year 2999: their ages mean nothing, and the phase says why it is unknown.
        (
            "2026-11-28T01:00:00.000000000Z",
            stamped("2999-01-01T00:00:00.000000000Z"),
            "running",
            "clock_ahead",
            "unknown",
            "the newest log line is 972 years ahead of the VM's clock",
            [None],
        ),
        # The container's start itself lies ahead: no line counts, which is not "loading".
        (
            "2999-01-01T00:00:00.000000000Z",
            stamped("2999-01-01T00:00:05.000000000Z"),
            "running",
            "clock_ahead",
            "unknown",
            "the newest log line is 972 years ahead",
            [None],
        ),
        (
            "2026-11-28T03:00:00.000000000Z",
            stamped("2026-11-28T01:59:00.000000000Z"),
            "running",
            "clock_ahead",
            "unknown",
            "the container's start time is 60 minutes ahead",
            [],
        ),
        # A few seconds ahead is a clock step: age 0, still serving.
        (
            "2026-11-28T01:00:00.000000000Z",
            stamped("2026-11-28T02:00:30.000000000Z"),
            "running",
            "ok",
            "serving",
            None,
            [0.0],
        ),
        # A fatal error is a fatal error whatever its time says.
        (
            "2026-11-28T01:00:00.000000000Z",
            stamped(
                "2999-01-01T00:00:00.000000000Z",
                "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
            ),
            "exited",
            "clock_ahead",
            "failed",
            "torch.OutOfMemoryError",
            [],
        ),
    ],
)
def test_log_clock_ahead_of_the_vm(started, log, status, log_status, phase, message_start, ages):
    inspect = INSPECT.replace('"running"', '"%s"' % status).replace("2026-11-28T01:00:00.000000000Z", started)
    vllm = run(FakeRunner(inspect=result(stdout=inspect), logs=result(stdout=log)))["vllm"]
    assert (vllm["log_status"], vllm["phase"]) == (log_status, phase)
    if message_start is None:
        assert vllm["message"] is None
    else:
        assert vllm["message"].startswith(message_start)
    assert [engine["age_s"] for engine in vllm["engines"]] == ages
