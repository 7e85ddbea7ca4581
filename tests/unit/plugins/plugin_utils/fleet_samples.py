# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""node_info documents (schema v1) and fleets built from them as the dashboard callback builds
them: every result goes through the health evaluation (``health_checks``) before it is shown.
Shared by the dashboard's unit tests and ``benchmarks/render.py``."""

from __future__ import annotations

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import FleetState, HostState, health_checks
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
INTERVAL = 5.0
H100 = "NVIDIA H100 80GB HBM3"
OOM = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB. GPU 0 has a total "
    "capacity of 79.19 GiB of which 187.75 MiB is free. Including non-PyTorch memory, this process "
    "has 78.99 GiB memory in use."
)
SSH_TIMEOUT = "ssh: connect to host hyperstack2.wg1 port 22: Connection timed out"
TQDM = "Loading safetensors checkpoint shards:  50% Completed | 23/46 [00:23<00:21,  1.09it/s]"


def device(
    index=0,
    name="NVIDIA A100 80GB PCIe",
    temperature=41,
    utilization=87,
    power=212.44,
    power_limit=300.0,
    used=74213,
    total=81920,
):
    return {
        "index": index,
        "uuid": f"GPU-5d1d0c1e-{index:04d}",
        "name": name,
        "temperature_c": temperature,
        "utilization_pct": utilization,
        "power_w": power,
        "power_limit_w": power_limit,
        "memory_used_mib": used,
        "memory_total_mib": total,
    }


def engine(
    index=0,
    prompt=1234.5,
    generation=87.6,
    running=3,
    waiting=1,
    kv=42.3,
    hits=18.0,
    age=5.1,
    swapped=None,
    preemptions=None,
    aggregated=None,
):
    return {
        "engine": index,
        "aggregated_engines": aggregated,
        "prompt_tps": prompt,
        "generation_tps": generation,
        "running": running,
        "waiting": waiting,
        "swapped": swapped,
        "preemptions": preemptions,
        "kv_cache_pct": kv,
        "kv_cache_device": "GPU",
        "cpu_kv_cache_pct": None,
        "prefix_cache_hit_pct": hits,
        "logged_at": "2027-01-15T07:59:55.000000Z",
        "age_s": age,
    }


def container(
    status="running",
    health="none",
    restarts=0,
    oom_killed=False,
    exit_code=0,
    error_kind=None,
    message=None,
    name="vllm_qwen36_27b",
):
    return {
        "name": name,
        "status": status,
        "error_kind": error_kind,
        "health": health,
        "restart_count": restarts,
        "started_at": "2027-01-15T07:30:00.000000Z",
        "oom_killed": oom_killed,
        "exit_code": exit_code,
        "image": "vllm/vllm-openai:latest",
        "message": message,
    }


def document(
    phase="serving",
    devices=None,
    engines=None,
    container_section=None,
    loading=None,
    errors=(),
    log_status="ok",
    message=None,
    gpu_status="ok",
    gpu_message=None,
):
    return {
        "schema_version": 1,
        "collected_at": "2027-01-15T07:59:58.123456Z",
        "gpu": {"status": gpu_status, "message": gpu_message, "devices": [device()] if devices is None else devices},
        "container": container() if container_section is None else container_section,
        "vllm": {
            "phase": phase,
            "log_status": log_status,
            "message": message,
            "engines": [engine()] if engines is None else engines,
            "loading": loading,
            "errors": list(errors),
            "ready": phase in ("serving", "idle"),
            "last_log_at": "2027-01-15T07:59:55.000000Z",
            "log_lines_read": 300,
        },
    }


def host(
    name="hyperstack-vm1",
    number=1,
    doc="serving",
    age=2.0,
    history=(),
    unreachable=None,
    failure=None,
    thresholds=None,
    custom_checks=(),
    expected_gpu_count=None,
    model="Qwen/Qwen3.6-27B-FP8",
):
    """A HostState as the callback keeps it after one result (DOC: a document, or a phase name
    for a default one; None for no result yet), its checks from the health evaluation."""
    state = HostState(name=name, address=f"hyperstack{number}.wg1", model=model)
    state.generation_history.extend(history)
    doc = document(phase=doc) if isinstance(doc, str) else doc
    if age is None:
        return state
    checks = health_checks(
        doc,
        unreachable=unreachable,
        failure=failure,
        thresholds=thresholds or Thresholds(),
        expected_gpu_count=expected_gpu_count,
        custom_checks=custom_checks,
    )
    state.record(NOW - age, document=doc, unreachable=unreachable, failure=failure, checks=checks)
    return state


def serving():
    return host(history=(12.0, 40.5, None, 66.0, 87.6, 80.1, 87.6))


def eight_gpus(name="hyperstack-vm1", number=1, age=2.0, seed=0):
    devices = [
        device(
            gpu, H100, 40 + (seed + gpu) % 35, (seed * 7 + gpu * 13) % 101, 250.0 + gpu, 700.0, 70000 + gpu * 100, 81559
        )
        for gpu in range(8)
    ]
    doc = document(devices=devices, engines=[engine(prompt=1000.0 + seed, generation=80.5, kv=42.3)])
    return host(name, number, doc, age=age, history=[float(sample % 90) for sample in range(40)])


def tensor_parallel():
    devices = [device(0, H100, 52, 96, 402.7, 700.0, 76329, 81559), device(1, H100, 49, 94, 388.1, 700.0, 76329, 81559)]
    return host(
        "hyperstack-vm2",
        2,
        document(
            devices=devices, engines=[engine(prompt=6154.6, generation=27.4, running=1, waiting=0, kv=0.7, hits=0.0)]
        ),
    )


def data_parallel():
    devices = [device(0, H100, 61, 88, 512.0, 700.0, 74000, 81559), device(1, H100, 58, 85, 498.5, 700.0, 73900, 81559)]
    engines = [engine(0, 2210.4, 143.2, 7, 2, 63.5, 41.2), engine(1, 1980.0, 138.9, 6, 0, 96.1, None)]
    return host("hyperstack-vm3", 3, document(devices=devices, engines=engines), history=(250.0, 282.1))


def idle(name="hyperstack-vm4", number=4):
    """Idle for 9 minutes (vLLM stopped logging after a line of zeros)."""
    return host(
        name,
        number,
        document(
            phase="idle",
            devices=[device(utilization=0, power=61.0)],
            engines=[engine(prompt=0.0, generation=0.0, running=0, waiting=0, kv=0.0, hits=35.0, age=538.0)],
        ),
    )


def loading(name="hyperstack-vm5", number=5):
    doc = document(
        phase="loading",
        devices=[device(utilization=0, power=88.0, used=20480)],
        engines=[],
        container_section=container(health="starting"),
        loading={"stage": "loading_weights", "progress_pct": 50, "message": TQDM},
    )
    return host(name, number, doc)


def failed_oom(name="hyperstack-vm6", number=6):
    doc = document(
        phase="failed",
        devices=[device(utilization=0, power=70.0, used=80100)],
        engines=[],
        container_section=container(status="restarting", restarts=4, exit_code=1),
        errors=[
            {"kind": "cuda_oom", "message": OOM, "logged_at": "2027-01-15T07:59:40.000000Z"},
            {
                "kind": "engine_init_failed",
                "message": "RuntimeError: Engine core initialization failed.",
                "logged_at": "2027-01-15T07:59:41.000000Z",
            },
        ],
    )
    return host(name, number, doc)


def unreachable(name="hyperstack-vm2", number=2):
    return host(name, number, "serving", age=3.0, unreachable=SSH_TIMEOUT)


def not_provisioned(name="hyperstack-vm7", number=7):
    return HostState(
        name=name,
        address=f"hyperstack{number}.wg1",
        model="zai-org/GLM-4.6V-FP8",
        provisioned=False,
        not_provisioned_reason="not yet provisioned — run create --vm 7",
    )


def stale(name="hyperstack-vm8", number=8):
    return host(name, number, "serving", age=20.0)


def pending(name="hyperstack-vm9", number=9):
    return host(name, number, None, age=None)


def task_failure():
    return host(
        "hyperstack-vm10",
        10,
        "serving",
        age=4.0,
        failure="Unsupported parameters for (gpufleet.vllm.node_info) module: tail_lines",
    )


def broken_node():
    """Everything that can go wrong on a VM at once."""
    doc = document(
        phase="unknown",
        devices=[],
        gpu_status="driver_error",
        gpu_message="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
        container_section=container(
            status="error",
            error_kind="daemon_down",
            health=None,
            restarts=None,
            oom_killed=None,
            exit_code=None,
            message="Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
        ),
        engines=[],
        log_status="not_read",
        message="container state unknown: docker daemon is down",
    )
    return host("hyperstack-vm11", 11, doc)


def stopped(name="hyperstack-vm12", number=12):
    """An exited, OOM-killed container whose last stats line said 4 running at 231 tok/s."""
    doc = document(
        phase="stopped",
        engines=[engine(generation=231.0, running=4, age=700.0)],
        devices=[device(utilization=0, power=55.0, used=0)],
        container_section=container(status="exited", restarts=2, oom_killed=True, exit_code=137),
    )
    return host(name, number, doc)


def kv_warning(name="hyperstack-vm16", number=16):
    return host(name, number, document(engines=[engine(kv=88.0)]))


def aggregated_v0():
    engines = [engine(None, 310.2, 95.4, 4, 0, 88.8, None, swapped=2, preemptions=5, aggregated=4)]
    return host("hyperstack-vm13", 13, document(engines=engines))


def all_none():
    """Every leaf of the document None: each value shows n/a."""
    doc = {
        "schema_version": None,
        "collected_at": None,
        "gpu": {"status": None, "message": None, "devices": [{key: None for key in device()}]},
        "container": {key: None for key in container()},
        "vllm": {
            "phase": None,
            "log_status": None,
            "message": None,
            "engines": [{key: None for key in engine()}],
            "loading": None,
            "errors": [{"kind": None, "message": None, "logged_at": None}],
            "ready": None,
            "last_log_at": None,
            "log_lines_read": None,
        },
    }
    return host("hyperstack-vm14", 14, doc, age=1.0)


def wrong_shapes():
    """Sections missing or of the wrong type: never a crash."""
    doc = {"gpu": None, "container": "running", "vllm": {"phase": "serving", "engines": [None, "x", {"running": "3"}]}}
    return host("hyperstack-vm15", 15, doc, age=1.0)


def fleet(
    *hosts, warnings=(), thresholds=None, view="auto", sort="severity", interval=INTERVAL, started_at=NOW - 600.0
):
    return FleetState(
        hosts=list(hosts),
        started_at=started_at,
        interval_s=interval,
        warnings=list(warnings),
        thresholds=thresholds or Thresholds(),
        view=view,
        sort=sort,
    )


# One in 30 VMs of a mixed fleet fails (CUDA OOM), one is unreachable, one warns (KV cache),
# one has an exited container: the first six are one of each kind, so that small fleets mix too.
_PATTERN = {
    0: failed_oom,
    1: unreachable,
    2: kv_warning,
    3: loading,
    4: idle,
    5: stopped,
    9: stale,
    13: not_provisioned,
    21: pending,
}


def mixed_fleet(count: int, **options) -> FleetState:
    """COUNT VMs in mixed states (most serving on 8 GPUs), names hyperstack-vm1.. in order."""
    hosts = []
    for index in range(count):
        number = index + 1
        build = _PATTERN.get(index % 30)
        name = f"hyperstack-vm{number}"
        hosts.append(build(name, number) if build is not None else eight_gpus(name, number, seed=index))
    return fleet(*hosts, **options)


PROBLEMS = ("failing", "unreachable", "warning")
