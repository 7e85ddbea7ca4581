# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of plugin_utils/_health.py: the health evaluation as a table (document + thresholds +
options -> checks), custom checks, the texts built from checks and the JUnit XML, plus the
threshold validation the evaluation relies on (plugin_utils/_thresholds.py)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import re
import sys
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.gpufleet.vllm.plugins.plugin_utils import _health as health
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Band, Thresholds

# A healthy two-GPU VM serving requests: schema version 1 (docs/schema-v1.md).
BASE = {
    "schema_version": 1,
    "collected_at": "2026-11-28T01:40:00.123456Z",
    "gpu": {
        "status": "ok",
        "message": None,
        "devices": [
            {"index": 0, "uuid": "GPU-0", "name": "NVIDIA H100 80GB HBM3", "temperature_c": 41, "utilization_pct": 87},
            {"index": 1, "uuid": "GPU-1", "name": "NVIDIA H100 80GB HBM3", "temperature_c": 45, "utilization_pct": 85},
        ],
    },
    "container": {
        "name": "vllm_qwen36_27b",
        "status": "running",
        "error_kind": None,
        "health": "none",
        "restart_count": 0,
        "started_at": "2026-11-28T01:30:00.000000Z",
        "oom_killed": False,
        "exit_code": 0,
        "image": "vllm/vllm-openai:v0.11.0",
        "message": None,
    },
    "vllm": {
        "phase": "serving",
        "log_status": "ok",
        "message": None,
        "engines": [
            {
                "engine": 0,
                "aggregated_engines": None,
                "prompt_tps": 6154.6,
                "generation_tps": 27.4,
                "running": 1,
                "waiting": 0,
                "kv_cache_pct": 0.7,
                "kv_cache_device": "GPU",
                "logged_at": "2026-11-28T01:39:55.000000Z",
                "age_s": 5.1,
            },
        ],
        "loading": None,
        "errors": [],
        "ready": True,
        "last_log_at": "2026-11-28T01:39:55.000000Z",
        "log_lines_read": 300,
    },
}

HEALTHY = [
    ("reachable", "ok", "collected at 2026-11-28T01:40:00.123456Z"),
    ("gpu_driver", "ok", "nvidia-smi answered: 2 GPU(s)"),
    ("gpu_count", "ok", "2 GPU(s), no expected count"),
    ("gpu_temperature", "ok", "hottest GPU at 45 C (warn at 80 C, fail at 90 C)"),
    ("container_running", "ok", "vllm_qwen36_27b running since 2026-11-28T01:30:00.000000Z"),
    ("container_restarts", "ok", "0 restart(s) since created (warn at 1, fail at 3)"),
    ("container_oom", "ok", "not OOM-killed"),
    ("fatal_errors", "ok", "no fatal error since the container started"),
    ("engine_serving", "ok", "serving requests"),
    ("kv_cache", "ok", "highest usage 0.7% (warn at 80%, fail at 95%)"),
    ("engine_stalled", "ok", "no engine with running requests at 0 tok/s"),
    ("stats_fresh", "ok", "no stats older than 60 s while requests were in flight"),
]
ENGINE_CHECKS = ("engine_serving", "kv_cache", "engine_stalled", "stats_fresh")

OOM_MESSAGE = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB. "
    "GPU 0 has a total capacity of 79.25 GiB of which 187.75 MiB is free."
)
SSH_ERROR = "Failed to connect to the host via ssh: ssh: connect to host 10.200.3.2 port 22: Connection refused"
LOADING = {
    "stage": "loading_weights",
    "progress_pct": 50,
    "message": "Loading safetensors checkpoint shards:  50% Completed | 23/46 [00:23<00:21,  1.09it/s]",
}
NOT_RUNNING = {"vllm.log_status": "not_read", "vllm.phase": "stopped", "vllm.engines": []}


def document(**changes):
    """BASE with dotted-path changes: ``document(**{"container.status": "exited"})``."""
    result = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        target = result
        for key in parents:
            target = target[key]
        target[leaf] = value
    return result


def engine(**changes):
    return {**BASE["vllm"]["engines"][0], **changes}


def expect(replace=None, drop=(), append=()):
    """HEALTHY with some checks replaced by (status, message) and some left out."""
    replace = replace or {}
    result = [
        (name, *replace[name]) if name in replace else (name, status, message)
        for name, status, message in HEALTHY
        if name not in drop
    ]
    return result + list(append)


def run(doc, thresholds=None, **options):
    checks = health.evaluate(doc, thresholds or Thresholds(), **options)
    assert all(set(check) == {"name", "status", "message"} for check in checks)
    return [(check["name"], check["status"], check["message"]) for check in checks]


EVALUATION_CASES = [
    pytest.param(document(), {}, expect(), id="healthy"),
    pytest.param(
        None,
        {"reachable": False, "error": SSH_ERROR},
        [("reachable", "fail", f"unreachable: {SSH_ERROR}")],
        id="unreachable",
    ),
    pytest.param(
        None,
        {"reachable": False, "error": SSH_ERROR, "mode": "wait", "waited_s": 30, "wait_timeout_s": 1800},
        [("reachable", "warn", f"unreachable: {SSH_ERROR}")],
        id="unreachable-wait-goes-on",
    ),
    pytest.param(
        None,
        {"reachable": False, "error": SSH_ERROR, "mode": "wait", "waited_s": 1800, "wait_timeout_s": 1800},
        [("reachable", "fail", f"unreachable: {SSH_ERROR}; still so after waiting 30m")],
        id="unreachable-wait-timed-out",
    ),
    pytest.param(
        None,
        {"reachable": False},
        [("reachable", "fail", "unreachable: no reason given")],
        id="unreachable-without-reason",
    ),
    pytest.param(
        None,
        {"error": "MODULE FAILURE: /usr/bin/python3: not found"},
        [("reachable", "fail", "no node_info document: MODULE FAILURE: /usr/bin/python3: not found")],
        id="module-failed",
    ),
    # The action plugin's classified message when the VM's Python cannot run the module: its own cause.
    pytest.param(
        None,
        {"error": "Python not usable on the VM (exit status 127): pyenv: python3.13: command not found"},
        [
            (
                "reachable",
                "fail",
                "no node_info document: Python not usable on the VM (exit status 127): "
                "pyenv: python3.13: command not found",
            )
        ],
        id="python-unusable",
    ),
    # Readings that cannot be true are null, and the GPU check warns naming them.
    pytest.param(
        document(
            **{
                "gpu.message": "readings that cannot be true, shown as null: GPU 0: temperature.gpu -5 "
                "is out of range (0 to 150 C)",
                "gpu.devices": [{"index": 0, "temperature_c": None}, {"index": 1, "temperature_c": 45}],
            }
        ),
        {},
        expect(
            {
                "gpu_driver": (
                    "warn",
                    "nvidia-smi answered: 2 GPU(s), but readings that cannot be true, "
                    "shown as null: GPU 0: temperature.gpu -5 is out of range (0 to 150 C)",
                )
            }
        ),
        id="implausible-gpu-readings",
    ),
    # The log's clock runs ahead of the VM's: its errors still count, the phase is unknown and says why.
    pytest.param(
        document(
            **{
                "vllm.log_status": "clock_ahead",
                "vllm.phase": "unknown",
                "vllm.message": "the newest log line is 972 years ahead of the VM's clock",
            }
        ),
        {},
        expect({"engine_serving": ("fail", "state unknown: the newest log line is 972 years ahead of the VM's clock")}),
        id="log-clock-ahead",
    ),
    pytest.param(
        document(
            **{
                "gpu.status": "driver_error",
                "gpu.devices": [],
                "gpu.message": "NVIDIA driver not loaded (nvidia-smi exit 9)",
            }
        ),
        {},
        expect(
            replace={"gpu_driver": ("fail", "driver_error: NVIDIA driver not loaded (nvidia-smi exit 9)")},
            drop=("gpu_count", "gpu_temperature"),
        ),
        id="driver-error-hides-count-and-temperature",
    ),
    pytest.param(
        document(**{"gpu.status": "timeout", "gpu.devices": [], "gpu.message": None}),
        {"mode": "wait"},
        expect(replace={"gpu_driver": ("fail", "timeout: nvidia-smi failed")}, drop=("gpu_count", "gpu_temperature")),
        id="nvidia-smi-timeout-fails-even-when-waiting",
    ),
    pytest.param(
        document(**{"gpu.status": "no_devices", "gpu.devices": [], "gpu.message": "No devices were found"}),
        {},
        expect(
            replace={"gpu_driver": ("ok", "nvidia-smi answered: 0 GPU(s)"), "gpu_count": ("fail", "no GPU found")},
            drop=("gpu_temperature",),
        ),
        id="no-devices-is-a-count-failure",
    ),
    pytest.param(
        document(),
        {"expected_gpu_count": 4},
        expect(replace={"gpu_count": ("fail", "2 GPU(s) found, 4 expected")}),
        id="fewer-gpus-than-flavour",
    ),
    pytest.param(
        document(),
        {"expected_gpu_count": 2},
        expect(replace={"gpu_count": ("ok", "2 GPU(s), 2 expected")}),
        id="gpus-as-expected",
    ),
    pytest.param(
        document(),
        {"expected_gpu_count": 1},
        expect(replace={"gpu_count": ("ok", "2 GPU(s), 1 expected")}),
        id="more-gpus-than-expected",
    ),
    pytest.param(
        document(**{"gpu.devices": [{"index": 0, "temperature_c": 41}, {"index": 1, "temperature_c": 85}]}),
        {},
        expect(replace={"gpu_temperature": ("warn", "GPU 1 at 85 C (warn at 80 C, fail at 90 C)")}),
        id="one-gpu-warm",
    ),
    pytest.param(
        document(),
        {"thresholds": Thresholds.from_mapping({"temperature_c": {"warn": 40, "fail": 44}})},
        expect(replace={"gpu_temperature": ("fail", "GPU 0 at 41 C, GPU 1 at 45 C (warn at 40 C, fail at 44 C)")}),
        id="temperature-thresholds-overridden",
    ),
    pytest.param(
        document(**{"gpu.devices": [{"index": 0, "temperature_c": None}, {"index": 1, "temperature_c": None}]}),
        {},
        expect(replace={"gpu_temperature": ("ok", "temperature not reported by nvidia-smi")}),
        id="absent-temperature-is-not-zero",
    ),
    pytest.param(
        document(
            **{
                "container.status": "missing",
                "container.started_at": None,
                "container.restart_count": None,
                "container.oom_killed": None,
                **NOT_RUNNING,
            }
        ),
        {},
        expect(
            replace={"container_running": ("fail", "vllm_qwen36_27b does not exist")},
            drop=("container_restarts", "container_oom", "fatal_errors", *ENGINE_CHECKS),
        ),
        id="container-missing",
    ),
    pytest.param(
        document(**{"container.status": "missing", **NOT_RUNNING}),
        {"mode": "wait", "waited_s": 5, "wait_timeout_s": 60},
        expect(
            replace={"container_running": ("warn", "vllm_qwen36_27b does not exist")},
            drop=("container_restarts", "container_oom", "fatal_errors", *ENGINE_CHECKS),
        ),
        id="container-missing-wait-goes-on",
    ),
    pytest.param(
        document(**{"container.status": "restarting", "container.restart_count": 2}),
        {},
        expect(
            replace={
                "container_running": ("fail", "vllm_qwen36_27b is restarting"),
                "container_restarts": ("warn", "2 restart(s) since created (warn at 1, fail at 3)"),
            },
            drop=ENGINE_CHECKS,
        ),
        id="restarting",
    ),
    pytest.param(
        document(**{"container.status": "restarting", "container.restart_count": 3}),
        {"mode": "wait", "waited_s": 5, "wait_timeout_s": 60},
        expect(
            replace={
                "container_running": ("warn", "vllm_qwen36_27b is restarting"),
                "container_restarts": ("fail", "3 restart(s) since created (warn at 1, fail at 3)"),
            },
            drop=ENGINE_CHECKS,
        ),
        id="crash-loop-ends-a-wait",
    ),
    pytest.param(
        document(**{"container.restart_count": 1}),
        {"thresholds": Thresholds.from_mapping({"restart_count": {"warn": 2}})},
        expect(replace={"container_restarts": ("ok", "1 restart(s) since created (warn at 2, fail at 3)")}),
        id="restart-thresholds-overridden",
    ),
    pytest.param(
        document(
            **{
                "container.status": "exited",
                "container.exit_code": 137,
                "container.oom_killed": True,
                "vllm.phase": "stopped",
                "vllm.engines": [],
            }
        ),
        {"mode": "wait", "waited_s": 5, "wait_timeout_s": 60},
        expect(
            replace={
                "container_running": ("fail", "vllm_qwen36_27b is exited (exit code 137)"),
                "container_oom": (
                    "fail",
                    "the kernel OOM killer stopped the container (exit code 137): host memory, not GPU memory",
                ),
            },
            drop=ENGINE_CHECKS,
        ),
        id="oom-killed-fails-even-when-waiting",
    ),
    pytest.param(
        document(**{"container.status": "paused"}),
        {"mode": "wait"},
        expect(replace={"container_running": ("fail", "vllm_qwen36_27b is paused")}, drop=ENGINE_CHECKS),
        id="paused",
    ),
    pytest.param(
        document(**{"container.status": "running", "container.health": "unhealthy"}),
        {},
        expect(
            replace={
                "container_running": (
                    "warn",
                    "vllm_qwen36_27b running since 2026-11-28T01:30:00.000000Z, but docker reports it unhealthy",
                )
            }
        ),
        id="docker-healthcheck-unhealthy",
    ),
    pytest.param(
        document(
            **{
                "container.status": "error",
                "container.error_kind": "daemon_down",
                "container.message": "cannot connect to the Docker daemon (exit 1)",
                **NOT_RUNNING,
            }
        ),
        {},
        expect(
            replace={"container_running": ("fail", "docker: cannot connect to the Docker daemon (exit 1)")},
            drop=("container_restarts", "container_oom", "fatal_errors", *ENGINE_CHECKS),
        ),
        id="docker-daemon-down",
    ),
    pytest.param(
        document(
            **{
                "container.status": "error",
                "container.error_kind": "daemon_down",
                "container.message": "cannot connect to the Docker daemon (exit 1)",
                **NOT_RUNNING,
            }
        ),
        {"mode": "wait", "waited_s": 0, "wait_timeout_s": 60},
        expect(
            replace={"container_running": ("warn", "docker: cannot connect to the Docker daemon (exit 1)")},
            drop=("container_restarts", "container_oom", "fatal_errors", *ENGINE_CHECKS),
        ),
        id="docker-daemon-down-while-booting",
    ),
    pytest.param(
        document(
            **{
                "container.status": "error",
                "container.error_kind": "permission_denied",
                "container.message": "permission denied on the Docker daemon socket",
                **NOT_RUNNING,
            }
        ),
        {"mode": "wait", "waited_s": 0, "wait_timeout_s": 60},
        expect(
            replace={"container_running": ("fail", "docker: permission denied on the Docker daemon socket")},
            drop=("container_restarts", "container_oom", "fatal_errors", *ENGINE_CHECKS),
        ),
        id="docker-permission-denied-fails-at-once",
    ),
    pytest.param(
        document(**{"container.status": "dead", "container.name": None, **NOT_RUNNING}),
        {},
        expect(
            replace={"container_running": ("fail", "the vLLM container is dead (exit code 0)")},
            drop=("fatal_errors", *ENGINE_CHECKS),
        ),
        id="container-without-name",
    ),
    pytest.param(
        document(
            **{
                "vllm.phase": "failed",
                "vllm.message": OOM_MESSAGE,
                "vllm.engines": [],
                "vllm.errors": [{"kind": "cuda_oom", "message": OOM_MESSAGE, "logged_at": "2026-11-28T01:39:55Z"}],
            }
        ),
        {"mode": "wait", "waited_s": 20, "wait_timeout_s": 1800},
        expect(
            replace={
                "fatal_errors": ("fail", f"cuda_oom: {OOM_MESSAGE}"),
                "engine_serving": ("fail", f"failed: {OOM_MESSAGE}"),
                "kv_cache": ("ok", "no KV cache usage logged since the container started"),
            }
        ),
        id="cuda-oom-while-loading-fails-fast",
    ),
    pytest.param(
        document(
            **{
                "container.status": "exited",
                "container.exit_code": 1,
                "vllm.phase": "failed",
                "vllm.engines": [],
                "vllm.errors": [
                    {"kind": "cuda_oom", "message": OOM_MESSAGE},
                    {"kind": "engine_init_failed", "message": "RuntimeError: Engine core initialization failed."},
                ],
            }
        ),
        {},
        expect(
            replace={
                "container_running": ("fail", "vllm_qwen36_27b is exited (exit code 1)"),
                "fatal_errors": ("fail", f"cuda_oom: {OOM_MESSAGE} (+1 more)"),
            },
            drop=ENGINE_CHECKS,
        ),
        id="crashed-container-root-cause-first",
    ),
    pytest.param(
        document(**{"vllm.phase": "loading", "vllm.loading": LOADING, "vllm.engines": [], "vllm.ready": False}),
        {},
        expect(
            replace={
                "engine_serving": ("fail", f"loading: loading_weights 50% ({LOADING['message']})"),
                "kv_cache": ("ok", "no KV cache usage logged since the container started"),
            }
        ),
        id="loading-is-not-serving",
    ),
    pytest.param(
        document(**{"vllm.phase": "loading", "vllm.loading": LOADING, "vllm.engines": []}),
        {"mode": "wait", "waited_s": 130, "wait_timeout_s": 1800},
        expect(
            replace={
                "engine_serving": ("warn", f"loading: loading_weights 50% ({LOADING['message']})"),
                "kv_cache": ("ok", "no KV cache usage logged since the container started"),
            }
        ),
        id="loading-within-budget",
    ),
    pytest.param(
        document(**{"vllm.phase": "loading", "vllm.loading": LOADING, "vllm.engines": []}),
        {"mode": "wait", "waited_s": 1800.4, "wait_timeout_s": 1800},
        expect(
            replace={
                "engine_serving": (
                    "fail",
                    f"loading: loading_weights 50% ({LOADING['message']}); still so after waiting 30m",
                ),
                "kv_cache": ("ok", "no KV cache usage logged since the container started"),
            }
        ),
        id="loading-past-budget",
    ),
    pytest.param(
        document(
            **{
                "vllm.phase": "loading",
                "vllm.engines": [],
                "vllm.loading": {"stage": "starting", "progress_pct": None, "message": None},
            }
        ),
        {"mode": "wait", "waited_s": 1, "wait_timeout_s": 1800},
        expect(
            replace={
                "engine_serving": ("warn", "loading: starting"),
                "kv_cache": ("ok", "no KV cache usage logged since the container started"),
            }
        ),
        id="loading-without-progress",
    ),
    pytest.param(
        document(
            **{
                "vllm.phase": "idle",
                "vllm.engines": [engine(running=0, generation_tps=0.0, prompt_tps=0.0, kv_cache_pct=0.0, age_s=612.0)],
            }
        ),
        {},
        expect(
            replace={
                "engine_serving": ("ok", "ready, no requests in the latest stats interval"),
                "kv_cache": ("ok", "highest usage 0% (warn at 80%, fail at 95%)"),
            }
        ),
        id="idle-is-ready",
    ),
    pytest.param(
        document(
            **{
                "vllm.phase": "unknown",
                "vllm.log_status": "unsupported",
                "vllm.engines": [],
                "vllm.message": "its logging driver does not support reading",
            }
        ),
        {"mode": "wait", "waited_s": 1, "wait_timeout_s": 60},
        expect(
            replace={
                "fatal_errors": ("warn", "log not read (unsupported): its logging driver does not support reading"),
                "engine_serving": ("fail", "unknown: its logging driver does not support reading"),
                "kv_cache": ("ok", "no KV cache usage logged since the container started"),
            }
        ),
        id="unreadable-log-cannot-be-waited-for",
    ),
    pytest.param(
        document(
            **{
                "vllm.phase": "unknown",
                "vllm.log_status": "timeout",
                "vllm.engines": [],
                "vllm.message": "docker logs did not answer in time",
            }
        ),
        {"mode": "wait", "waited_s": 1, "wait_timeout_s": 60},
        expect(
            replace={
                "fatal_errors": ("warn", "log not read (timeout): docker logs did not answer in time"),
                "engine_serving": ("warn", "state unknown: docker logs did not answer in time"),
                "kv_cache": ("ok", "no KV cache usage logged since the container started"),
            }
        ),
        id="log-timeout-wait-goes-on",
    ),
    pytest.param(
        document(**{"vllm.engines": [engine(kv_cache_pct=85.0)]}),
        {},
        expect(replace={"kv_cache": ("warn", "engine 0 at 85% (warn at 80%, fail at 95%)")}),
        id="kv-cache-warn",
    ),
    pytest.param(
        document(**{"vllm.engines": [engine(engine=0, kv_cache_pct=12.5), engine(engine=1, kv_cache_pct=97.2)]}),
        {},
        expect(replace={"kv_cache": ("fail", "engine 1 at 97.2% (warn at 80%, fail at 95%)")}),
        id="kv-cache-one-dp-engine-full",
    ),
    pytest.param(
        document(**{"vllm.engines": [engine(engine=None, aggregated_engines=2, kv_cache_pct=96.0)]}),
        {},
        expect(replace={"kv_cache": ("fail", "2 engines aggregated at 96% (warn at 80%, fail at 95%)")}),
        id="kv-cache-aggregated-line",
    ),
    pytest.param(
        document(**{"vllm.engines": [engine(kv_cache_pct=None)]}),
        {},
        expect(replace={"kv_cache": ("ok", "no KV cache usage logged since the container started")}),
        id="absent-kv-cache-is-not-zero",
    ),
    pytest.param(
        document(**{"vllm.engines": [engine(kv_cache_pct=85.0)]}),
        {"thresholds": Thresholds.from_mapping({"kv_cache_pct": {"warn": 90}})},
        expect(replace={"kv_cache": ("ok", "highest usage 85% (warn at 90%, fail at 95%)")}),
        id="kv-cache-thresholds-overridden",
    ),
    pytest.param(
        document(**{"vllm.engines": [engine(running=3, generation_tps=0.0, prompt_tps=0.0)]}),
        {},
        expect(replace={"engine_stalled": ("fail", "engine 0: 3 running at 0 tok/s")}),
        id="stalled",
    ),
    pytest.param(
        document(**{"vllm.engines": [engine(running=1, generation_tps=0.0, prompt_tps=5120.0)]}),
        {},
        expect(),
        id="long-prefill-is-not-a-stall",
    ),
    pytest.param(
        document(**{"vllm.engines": [engine(running=None, generation_tps=None)]}),
        {},
        expect(),
        id="absent-request-counts-are-not-a-stall",
    ),
    pytest.param(
        document(
            **{
                "vllm.phase": "idle",
                "vllm.engines": [engine(running=2, waiting=1, generation_tps=0.0, prompt_tps=0.0, age_s=312.4)],
            }
        ),
        {},
        expect(
            replace={
                "engine_serving": ("ok", "ready, no requests in the latest stats interval"),
                "stats_fresh": (
                    "fail",
                    "engine 0: last stats 312 s ago with 2 running, 1 waiting (stale after 60 s): engine may be hung",
                ),
            }
        ),
        id="silent-with-requests-in-flight",
    ),
    pytest.param(
        document(**{"vllm.phase": "idle", "vllm.engines": [engine(running=2, waiting=None, age_s=312.4)]}),
        {"thresholds": Thresholds.from_mapping({"stats_stale_s": 400})},
        expect(
            replace={
                "engine_serving": ("ok", "ready, no requests in the latest stats interval"),
                "stats_fresh": ("ok", "no stats older than 400 s while requests were in flight"),
            }
        ),
        id="stale-threshold-overridden",
    ),
    pytest.param(
        {"schema_version": 1, "gpu": "garbage", "container": None, "vllm": []},
        {},
        [
            ("reachable", "ok", "collected"),
            ("gpu_driver", "fail", "unknown: nvidia-smi failed"),
            ("container_running", "fail", "the vLLM container: unknown container status None"),
            ("fatal_errors", "warn", "log not read (unknown): no reason given"),
        ],
        id="malformed-sections",
    ),
]

# node_info's document for a VM that runs Ollama (service=ollama): GPUs only.
OLLAMA_MESSAGE = "Ollama: not watched by this collection"
NOT_WATCHED = {
    "container": {
        "name": None,
        "status": "not_watched",
        "error_kind": None,
        "health": None,
        "restart_count": None,
        "started_at": None,
        "oom_killed": None,
        "exit_code": None,
        "image": None,
        "message": OLLAMA_MESSAGE,
    },
    "vllm": {
        "phase": "not_watched",
        "log_status": "not_read",
        "message": OLLAMA_MESSAGE,
        "engines": [],
        "loading": None,
        "errors": [],
        "ready": False,
        "last_log_at": None,
        "log_lines_read": 0,
    },
}
GPU_CHECKS = ("reachable", "gpu_driver", "gpu_count", "gpu_temperature")
EVALUATION_CASES += [
    # The container and engine checks are left out: never failed, never passed.
    pytest.param(
        document(**NOT_WATCHED), {}, [check for check in expect() if check[0] in GPU_CHECKS], id="ollama-gpus-only"
    ),
    pytest.param(
        document(**NOT_WATCHED),
        {"mode": "wait", "waited_s": 5, "wait_timeout_s": 1800},
        [check for check in expect() if check[0] in GPU_CHECKS],
        id="ollama-wait",
    ),
    # The GPU checks still judge an Ollama VM.
    pytest.param(
        document(**NOT_WATCHED, **{"gpu.devices": []}),
        {"expected_gpu_count": 1},
        [
            ("reachable", "ok", "collected at 2026-11-28T01:40:00.123456Z"),
            ("gpu_driver", "ok", "nvidia-smi answered: 0 GPU(s)"),
            ("gpu_count", "fail", "0 GPU(s) found, 1 expected"),
        ],
        id="ollama-gpu-missing",
    ),
]


@pytest.mark.parametrize(("doc", "options", "expected"), EVALUATION_CASES)
def test_evaluate(doc, options, expected):
    assert run(doc, **options) == expected


def test_evaluate_does_not_change_the_document():
    doc = document()
    health.evaluate(doc, Thresholds(), custom_checks=[{"name": "x", "expression": "gpu.status"}])
    assert doc == BASE


def test_messages_are_cleaned_and_bounded():
    hostile = "\x1b[31mred\x1b[0m " + "x" * 1000
    running = run(document(**{"container.name": "c", "container.status": "running", "container.started_at": hostile}))[
        4
    ]
    assert running == ("container_running", "ok", "c running since red " + "x" * 35 + "\u2026")
    fatal = run(document(**{"vllm.errors": [{"kind": "cuda_oom", "message": hostile}]}))[7]
    assert fatal[2].startswith("cuda_oom: red xxx") and len(fatal[2]) == health.MESSAGE_LIMIT


# --- custom checks ------------------------------------------------------------------------------

CUSTOM_CASES = [
    pytest.param(
        {"name": "two_engines", "expression": "length(vllm.engines) >= `2`", "severity": "warn"},
        ("two_engines", "warn", "length(vllm.engines) >= `2` -> false"),
        id="false-warns",
    ),
    pytest.param(
        {"name": "cool", "expression": "max(gpu.devices[].temperature_c) < `85`"},
        ("cool", "ok", "max(gpu.devices[].temperature_c) < `85` -> true"),
        id="true-passes",
    ),
    pytest.param(
        {"name": "cool", "expression": "max(gpu.devices[].temperature_c) < `44`", "message": "a GPU runs hot"},
        ("cool", "fail", "a GPU runs hot"),
        id="own-message-severity-defaults-to-fail",
    ),
    pytest.param(
        {"name": "no-waiting", "expression": "vllm.engines[0].waiting"},
        ("no-waiting", "ok", "vllm.engines[0].waiting -> 0"),
        id="zero-is-true-in-jmespath",
    ),
    pytest.param(
        {"name": "gpu5", "expression": "gpu.devices[5].temperature_c"},
        ("gpu5", "fail", "gpu.devices[5].temperature_c -> null"),
        id="null-fails",
    ),
    pytest.param(
        {"name": "models", "expression": "gpu.devices[?temperature_c > `100`]", "severity": "fail"},
        ("models", "fail", "gpu.devices[?temperature_c > `100`] -> []"),
        id="empty-list-fails",
    ),
    pytest.param(
        {"name": "names", "expression": "gpu.devices[].name"},
        ("names", "ok", 'gpu.devices[].name -> ["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"]'),
        id="result-shown-as-json",
    ),
]


@pytest.mark.parametrize(("definition", "expected"), CUSTOM_CASES)
def test_custom_check(definition, expected):
    assert run(document(), custom_checks=[definition]) == expect(append=[expected])


class _Tagged(dict):
    """Stands for the dict/str subclasses Ansible hands to filters: jmespath checks exact types."""


class _TaggedStr(str):
    pass


def test_custom_checks_see_plain_types():
    doc = _Tagged(document())
    doc["vllm"] = _Tagged(doc["vllm"], engines=[_Tagged(doc["vllm"]["engines"][0])])
    doc["container"] = _Tagged(doc["container"], name=_TaggedStr("vllm_x"))
    checks = run(
        doc, custom_checks=[{"name": "n", "expression": "length(vllm.engines) == `1` && length(container.name) == `6`"}]
    )
    assert checks[-1] == ("n", "ok", "length(vllm.engines) == `1` && length(container.name) == `6` -> true")


LOADING_DOCUMENT = document(**{"vllm.phase": "loading", "vllm.loading": LOADING, "vllm.engines": []})
CUSTOM = [{"name": "two_engines", "expression": "length(vllm.engines) >= `2`", "severity": "warn"}]


@pytest.mark.parametrize(
    ("doc", "options", "present"),
    [
        pytest.param(LOADING_DOCUMENT, {"mode": "wait", "waited_s": 1, "wait_timeout_s": 60}, False, id="wait-loading"),
        pytest.param(document(), {"mode": "wait", "waited_s": 1, "wait_timeout_s": 60}, True, id="wait-serving"),
        pytest.param(LOADING_DOCUMENT, {}, True, id="check-loading"),
        pytest.param(None, {"reachable": False}, False, id="unreachable"),
    ],
)
def test_when_custom_checks_run(doc, options, present):
    names = [check[0] for check in run(doc, custom_checks=CUSTOM, **options)]
    assert ("two_engines" in names) is present


@pytest.mark.parametrize(
    ("definitions", "message"),
    [
        ({"name": "x"}, "custom checks must be a list of mappings, not dict"),
        (["x"], "custom check #1 must be a mapping with name and expression"),
        (
            [{"name": "has space", "expression": "a"}],
            "custom check #1: name 'has space' must be letters, digits, '_', '.' or '-'",
        ),
        ([{"expression": "a"}], "custom check #1: name None must be letters, digits, '_', '.' or '-'"),
        (
            [{"name": "x", "expression": "a", "level": "warn"}],
            "custom check 'x': unknown key(s) 'level'; known: expression, message, name, severity",
        ),
        (
            [{"name": "kv_cache", "expression": "a"}],
            "custom check 'kv_cache': the name is already used by a built-in check",
        ),
        (
            [{"name": "x", "expression": "a"}, {"name": "x", "expression": "b"}],
            "custom check 'x': the name is already used by another custom check",
        ),
        ([{"name": "x", "expression": "  "}], "custom check 'x': expression must be a non-empty JMESPath string"),
        (
            [{"name": "x", "expression": "a", "severity": "error"}],
            "custom check 'x': severity must be 'warn' or 'fail', not 'error'",
        ),
        ([{"name": "x", "expression": "a", "message": 3}], "custom check 'x': message must be a string"),
    ],
)
def test_malformed_custom_checks(definitions, message):
    with pytest.raises(health.HealthError) as info:
        health.evaluate(document(), Thresholds(), custom_checks=definitions)
    assert str(info.value) == message


def test_expression_that_does_not_compile_is_named_even_for_an_unreachable_host():
    with pytest.raises(health.HealthError) as info:
        health.evaluate(
            None, Thresholds(), reachable=False, custom_checks=[{"name": "broken", "expression": "length(vllm.engines"}]
        )
    assert re.fullmatch(
        r"custom check 'broken': cannot compile JMESPath expression 'length\(vllm\.engines': .+", str(info.value)
    )


@pytest.mark.parametrize(
    ("expression", "detail"),
    [
        ("length(gpu.devices[0].temperature_c)", "In function length(), invalid type for value: 41"),
        ("nosuch(gpu)", "Unknown function: nosuch()"),
    ],
)
def test_expression_that_fails_on_the_document_is_named(expression, detail):
    with pytest.raises(health.HealthError) as info:
        health.evaluate(document(), Thresholds(), custom_checks=[{"name": "bad", "expression": expression}])
    prefix = f"custom check 'bad': JMESPath expression {expression!r} failed on this document: "
    assert str(info.value).startswith(prefix + detail)


# Deep enough for any Python recursion limit Ansible runs with (the default is 1000).
DEEP_EXPRESSION = "(" * 5000 + "gpu.status" + ")" * 5000


def test_expression_that_nests_beyond_the_recursion_limit_is_refused_naming_the_check():
    with pytest.raises(health.HealthError) as info:
        health.compile_custom_checks([{"name": "deep", "expression": DEEP_EXPRESSION}])
    assert str(info.value) == (
        "custom check 'deep': JMESPath expression "
        + repr("(" * 80)
        + "... (10010 characters) nests too deeply to compile (Python's recursion limit); "
        "write it with fewer nested levels"
    )


def test_expression_that_nests_beyond_the_recursion_limit_when_evaluated_is_refused_naming_the_check():
    # Compiled with room to spare, evaluated with less (Ansible's own frames take part of the stack):
    # 300 nested "not" nodes, each one level of the interpreter's recursion.
    [check] = health.compile_custom_checks([{"name": "deep", "expression": "!" * 300 + "gpu.status"}])
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 150)
    try:
        with pytest.raises(health.HealthError) as info:
            health._evaluate_custom(check, {"gpu": {"status": "ok"}})
    finally:
        sys.setrecursionlimit(limit)
    assert str(info.value) == (
        "custom check 'deep': JMESPath expression " + repr("!" * 80) + "... (310 characters) "
        "nests too deeply to evaluate (Python's recursion limit); write it with fewer nested levels"
    )


def test_validate_settings_returns_what_the_evaluation_uses():
    limits, checks = health.validate_settings(
        {"kv_cache_pct": {"warn": 70}}, [{"name": "x", "expression": "gpu.status"}]
    )
    assert limits.kv_cache_pct == Band(70.0, 95.0)
    assert [(check.name, check.severity) for check in checks] == [("x", "fail")]
    assert health.validate_settings(None, None) == (Thresholds(), [])


@pytest.mark.parametrize(
    ("thresholds", "custom_checks", "message"),
    [
        ({"kv_cache_pct": {"warn": "nan"}}, [], "threshold 'kv_cache_pct.warn' must be a finite number, not 'nan'"),
        ({}, [{"name": "deep", "expression": DEEP_EXPRESSION}], "custom check 'deep': JMESPath expression "),
        ({}, [{"name": "x"}], "custom check 'x': expression must be a non-empty JMESPath string"),
    ],
)
def test_validate_settings_names_the_threshold_or_check(thresholds, custom_checks, message):
    with pytest.raises(health.HealthError) as info:
        health.validate_settings(thresholds, custom_checks)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "watch"}, "mode must be one of check, wait, not 'watch'"),
        ({"expected_gpu_count": -1}, "expected GPU count must be a whole number >= 0, not -1"),
        ({"expected_gpu_count": True}, "expected GPU count must be a whole number >= 0, not True"),
        ({"expected_gpu_count": 2.0}, "expected GPU count must be a whole number >= 0, not 2.0"),
    ],
)
def test_bad_arguments(options, message):
    with pytest.raises(health.HealthError) as info:
        health.evaluate(document(), Thresholds(), **options)
    assert str(info.value) == message


# --- thresholds the evaluation reads -------------------------------------------------------------


def test_thresholds_merge_over_defaults():
    limits = Thresholds.from_mapping(
        {"kv_cache_pct": {"warn": 70}, "stats_stale_s": "90", "restart_count": {"fail": 5}}
    )
    assert limits.kv_cache_pct == Band(70.0, 95.0)
    assert limits.stats_stale_s == 90.0
    assert limits.restart_count == Band(1.0, 5.0)
    assert limits.temperature_c == Band(80.0, 90.0)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            {"kv_cache": {"warn": 1}},
            "unknown threshold 'kv_cache'; known: "
            + ", ".join(sorted(field.name for field in dataclasses.fields(Thresholds))),
        ),
        ({"kv_cache_pct": 90}, "threshold 'kv_cache_pct' must be a mapping with 'warn' and/or 'fail'"),
        (
            {"kv_cache_pct": {"warn": 1, "crit": 2}},
            "threshold 'kv_cache_pct' must be a mapping with 'warn' and/or 'fail'",
        ),
        ({"kv_cache_pct": {"warn": "high"}}, "threshold 'kv_cache_pct.warn' must be a number, not 'high'"),
        ({"temperature_c": {"fail": True}}, "threshold 'temperature_c.fail' must be a number, not True"),
        ({"stats_stale_s": None}, "threshold 'stats_stale_s' must be a number, not None"),
        ({"temperature_c": {"warn": 95}}, "threshold 'temperature_c': warn (95) is above fail (90)"),
        # NaN and infinity compare false with every reading: such a threshold would never warn nor fail.
        ({"kv_cache_pct": {"warn": float("nan")}}, "threshold 'kv_cache_pct.warn' must be a finite number, not nan"),
        ({"kv_cache_pct": {"fail": "NaN"}}, "threshold 'kv_cache_pct.fail' must be a finite number, not 'NaN'"),
        ({"temperature_c": {"fail": float("inf")}}, "threshold 'temperature_c.fail' must be a finite number, not inf"),
        ({"temperature_c": {"warn": "-inf"}}, "threshold 'temperature_c.warn' must be a finite number, not '-inf'"),
        ({"stats_stale_s": "1e999"}, "threshold 'stats_stale_s' must be a finite number, not '1e999'"),
        (
            {"stats_stale_s": 10**400},
            "threshold 'stats_stale_s' must be a finite number, not "
            "100000000000000000000000000000000000000000000000000000000...",
        ),
        ({"stats_stale_s": -1}, "threshold 'stats_stale_s' must be 0 or more, not -1"),
        ("kv_cache_pct=90", "thresholds must be a mapping of threshold name to value, not str"),
        ([{"kv_cache_pct": {"warn": 1}}], "thresholds must be a mapping of threshold name to value, not list"),
    ],
)
def test_bad_thresholds(mapping, message):
    with pytest.raises(ValueError) as info:
        Thresholds.from_mapping(mapping)
    assert str(info.value) == message


# --- summary, progress, JUnit --------------------------------------------------------------------


def _checks(*rows):
    return [{"name": name, "status": status, "message": message} for name, status, message in rows]


@pytest.mark.parametrize(
    ("host", "checks", "line"),
    [
        ("vm1", _checks(*HEALTHY), "vm1: OK 12 ok"),
        (
            "vm2",
            _checks(
                ("gpu_count", "fail", "a"),
                ("kv_cache", "fail", "b"),
                ("container_restarts", "warn", "c"),
                ("reachable", "ok", "d"),
            ),
            "vm2: FAIL 2 failed (gpu_count, kv_cache), 1 warned (container_restarts), 1 ok",
        ),
        ("vm3", _checks(("kv_cache", "warn", "b")), "vm3: WARN 1 warned (kv_cache), 0 ok"),
        ("vm4", None, "vm4: SKIPPED not evaluated"),
        ("vm\x1b[2J5", [], "vm5: OK 0 ok"),
    ],
)
def test_summary_line(host, checks, line):
    assert health.summary_line(host, checks) == line


@pytest.mark.parametrize(
    ("checks", "waited", "timeout", "line"),
    [
        (
            _checks(("reachable", "ok", "x"), ("engine_serving", "warn", "loading: loading_weights 50% (shards)")),
            130,
            1800,
            "[2m10s/30m] warn: engine_serving: loading: loading_weights 50% (shards)",
        ),
        (
            _checks(("reachable", "warn", "unreachable: refused")),
            5,
            1800,
            "[5s/30m] warn: reachable: unreachable: refused",
        ),
        (
            _checks(
                ("container_running", "fail", "exited (exit code 1)"),
                ("fatal_errors", "fail", "cuda_oom: CUDA out of memory"),
                ("engine_serving", "warn", "x"),
            ),
            3725,
            7200,
            "[1h02m/2h00m] fail: fatal_errors: cuda_oom: CUDA out of memory",
        ),
        (
            _checks(("gpu_count", "fail", "1 GPU(s) found, 2 expected"), ("engine_serving", "ok", "serving requests")),
            60,
            None,
            "[1m] fail: gpu_count: 1 GPU(s) found, 2 expected",
        ),
        (_checks(("engine_serving", "ok", "serving requests")), None, None, "ok: engine_serving: serving requests"),
        ([], 0, 10, "[0s/10s] no checks"),
    ],
)
def test_progress_line(checks, waited, timeout, line):
    assert health.progress_line(checks, waited, timeout) == line


def test_junit_report():
    results = {
        "hyperstack-vm1": _checks(("reachable", "ok", "collected"), ("kv_cache", "warn", "engine 0 at 85%")),
        "hyperstack-vm2": _checks(
            ("reachable", "ok", "collected"),
            ("fatal_errors", "fail", 'cuda_oom: <b>"CUDA" & out\x00 of memory\x1b</b>'),
        ),
        "hyperstack-vm3": None,
    }
    text = health.junit_xml(results)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.tag == "testsuites"
    assert root.attrib == {"name": "gpufleet.vllm.health", "tests": "5", "failures": "1", "errors": "0", "skipped": "1"}
    [suite] = root
    assert suite.attrib == {
        "name": "gpufleet.vllm.health",
        "tests": "5",
        "failures": "1",
        "errors": "0",
        "skipped": "1",
    }
    cases = [
        (case.get("classname"), case.get("name"), [(child.tag, child.get("message"), child.text) for child in case])
        for case in suite
    ]
    assert cases == [
        ("hyperstack-vm1", "hyperstack-vm1 :: reachable", [("system-out", None, "OK: collected")]),
        ("hyperstack-vm1", "hyperstack-vm1 :: kv_cache", [("system-out", None, "WARN: engine 0 at 85%")]),
        ("hyperstack-vm2", "hyperstack-vm2 :: reachable", [("system-out", None, "OK: collected")]),
        (
            "hyperstack-vm2",
            "hyperstack-vm2 :: fatal_errors",
            [("failure", 'cuda_oom: <b>"CUDA" & out of memory</b>', 'cuda_oom: <b>"CUDA" & out of memory</b>')],
        ),
        (
            "hyperstack-vm3",
            "hyperstack-vm3 :: health",
            [("skipped", "not evaluated (host skipped or not provisioned)", None)],
        ),
    ]
    assert "&lt;b&gt;" in text and "\x00" not in text and "\x1b" not in text


def test_junit_report_of_nothing():
    root = ET.fromstring(health.junit_xml({}, suite_name="smoke").split("\n", 1)[1])
    assert root.attrib == {"name": "smoke", "tests": "0", "failures": "0", "errors": "0", "skipped": "0"}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (60, "1m"), (130, "2m10s"), (1800, "30m"), (3725, "1h02m"), (-5, "0s")],
)
def test_format_duration(seconds, text):
    assert health.format_duration(seconds) == text


def test_junit_report_carries_no_format_characters():
    # From the log (a check message) or from the name itself: bidi marks, zero-width characters and
    # line separators would reorder or break the text wherever the report is shown.
    results = {
        "vm\u202e1\u200b": _checks(("fatal_errors", "fail", "cuda_oom: \u2066evil\u2069 \u202eesrever\u2028next"))
    }
    text = health.junit_xml(results)
    case = ET.fromstring(text.split("\n", 1)[1])[0][0]
    assert (case.get("classname"), case.get("name"), case[0].get("message")) == (
        "vm1",
        "vm1 :: fatal_errors",
        "cuda_oom: evil esrever next",
    )
    assert re.search("[\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]", text) is None
