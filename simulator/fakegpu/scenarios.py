# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scenarios a simulated host can play, as data.

A scenario says what the GPUs read (as a function of the seconds since the container's current
run started), how nvidia-smi and docker fail if they do, the container's state, and what the
container logs: a run builder (``fakegpu.vllm_runs``) plus a periodic statistics schedule. The
statistics values are distinct per scenario so tests can assert exact numbers.
"""

from __future__ import annotations

from fakegpu import vllm_runs
from fakegpu.gpus import A100, H100, Load
from fakegpu.vllm_text import (
    API,
    START,
    STATS_INTERVAL_V0,
    STATS_INTERVAL_V1,
    VllmVersion,
    v0_prefix_line,
    v0_stats,
    v1_stats,
)

DEFAULT_CONTAINER = "vllm_qwen36_27b"  # hypr's [vllm] container_name (docs/dev/formats.md 1.2)

V0_6_6 = VllmVersion("0.6.6.post1")
V0_10_ANSI = VllmVersion("0.10.1.1", colour=True)
V0_11 = VllmVersion("0.11.0")
V0_11_ANSI = VllmVersion("0.11.0", colour=True)
V0_14 = VllmVersion("0.14.0")
V0_33 = VllmVersion("0.33.0")


class Stats:
    """Statistics lines every INTERVAL seconds from FIRST (until LAST, when the engine goes
    idle); ``lines(k)`` gives the ``(process, message)`` records of the k-th tick."""

    def __init__(self, lines, first=START["first_stats"], interval=STATS_INTERVAL_V1, last=None):
        self.lines = lines
        self.first = first
        self.interval = interval
        self.last = last


class Scenario:
    """One simulated host. ``loads(elapsed)`` gives a ``gpus.Load`` per card."""

    def __init__(
        self,
        name,
        description,
        cards,
        loads,
        version=V0_11,
        run=None,
        stats=None,
        tp=1,
        dp=1,
        default_elapsed=3600.0,
        image=None,
        nvidia_smi=None,
        lost_gpus=(),
        docker=None,
        container_exists=True,
        logs_readable=True,
        healthcheck=False,
        exit_at=None,
        exit_code=0,
        start_error=None,
        earlier_runs=(),
        foreign=(),
        gpu_faults=None,
        kernel_lines=(),
        kernel_log_readable=True,
    ):
        self.name = name
        self.description = description
        self.cards = cards
        self.loads = loads if callable(loads) else (lambda elapsed: loads)
        self.version = version
        self.run = run
        self.stats = stats
        self.tp = tp
        self.dp = dp
        self.default_elapsed = default_elapsed
        self.image = image or "vllm/vllm-openai:v%s" % version.number
        self.nvidia_smi = nvidia_smi  # None | driver_not_loaded | nvml_missing | no_devices | hang
        self.lost_gpus = lost_gpus
        self.docker = docker  # None | permission_denied | daemon_down
        self.container_exists = container_exists
        self.logs_readable = logs_readable
        self.healthcheck = healthcheck
        self.exit_at = exit_at  # seconds after the start at which the container exits
        self.exit_code = exit_code
        self.start_error = start_error  # State.Error of a container whose start failed
        # (offset from the current start, run builder, exit after): runs before the current.
        self.earlier_runs = earlier_runs
        # (GPU index, pid, process name, MiB): processes outside the vLLM container
        # (fakegpu.kernel.FOREIGN_CGROUPS gives their cgroups).
        self.foreign = foreign
        # {GPU index: {nvidia-smi field: value}} over the readings (ECC errors, clock events).
        self.gpu_faults = gpu_faults or {}
        # (seconds from the current start, text): kernel log lines after the boot lines.
        self.kernel_lines = kernel_lines
        self.kernel_log_readable = kernel_log_readable


def _healthy_v1(script):
    vllm_runs.v1_startup(script, vllm_runs.Deployment())


def _steady(message):
    return Stats(lambda k: [(API, message)])


def _loading_loads(elapsed):
    """A100 readings through a V1 start-up: memory grows with the weight shards, jumps when the
    KV cache is allocated, then the engine serves."""
    if elapsed < START["load_model"]:
        return [Load(33, 0, 54.12, 0)]
    shards_seconds = START["shards"] * START["shard_seconds"]
    if elapsed < START["compile_begin"]:
        done = max(0.0, min(1.0, (elapsed - START["shards_begin"]) / shards_seconds))
        return [Load(36, 2, 78.40, 530 + int(29400 * done))]
    if elapsed < START["kv_cache"]:
        return [Load(44, 38, 131.50, 31210)]
    if elapsed < START["graphs_done"]:
        return [Load(52, 61, 187.20, 75120)]
    if elapsed < START["first_stats"]:
        return [Load(49, 0, 72.30, 75990)]
    return [Load(58, 64, 201.12, 76012)]


IDLE_AFTER = 615.0


def _idle_stats(k):
    if START["first_stats"] + k * STATS_INTERVAL_V1 < IDLE_AFTER:
        return [(API, v1_stats(543.2, 43.2, 2, 0, 15.4, 48.8))]
    # V1 logs one all-zero line after the load stops, then only at DEBUG (docs/dev/formats.md 2.3).
    return [(API, v1_stats(0.0, 0.0, 0, 0, 0.0, 48.8))]


def _v033_stats(k):
    if k == 0:
        # 0.33: no prefix-cache hit rate until requests have been observed (docs/dev/formats.md 2.3).
        return [(API, v1_stats(0.0, 0.0, 0, 3, 0.0, kv_fetch=(3, 0, 0)))]
    return [(API, v1_stats(2048.0, 133.7, 5, 2, 57.1, 73.4, kv_fetch=(1, 1, 0)))]


def _data_parallel_stats(k):
    return [
        (API, v1_stats(1111.1, 55.5, 2, 0, 21.5, 33.3, engine_id=0)),
        (API, v1_stats(999.9, 44.4, 1, 1, 12.5, 30.0, engine_id=1)),
    ]


def _v0_stats(k):
    return [(API, v0_stats(456.7, 34.5, 2, 0, 1, 18.4, 0.0)), (API, v0_prefix_line(25.75, 0.0))]


HOSTILE_LINES = (
    # Cursor movement and screen clearing.
    "\x1b[2J\x1b[H\x1b[3A\x1b[10;1Hcursor moved here",
    # OSC window title and an OSC 8 hyperlink.
    "\x1b]0;owned by the log\x07title changed \x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    # rich console markup.
    "[red]FAKE[/red] [bold blink]ALERT[/] [link=http://evil.example/]click here[/link]",
    # A line dressed up as another VM's panel header.
    "\u2500\u2500\u2500\u2500 hyperstack-vm2 \u2500 serving \u2500 99999.9 tok/s \u2500 0 errors "
    "\u2500\u2500\u2500\u2500",
    # A stats look-alike with markup in the numbers.
    "Engine 000: Avg prompt throughput: [red]99999.9[/red] tokens/s, Running: [b]9[/b] reqs",
    # Invalid UTF-8 (written as raw bytes through surrogateescape).
    "bad bytes \udcff\udcfe\udcc3( end",
)
HUGE_LINE_LENGTH = 1 << 20


def _hostile_run(script):
    _healthy_v1(script)
    for number, text in enumerate(HOSTILE_LINES + ("x" * HUGE_LINE_LENGTH,)):
        script.log(START["server_ready"] + 1.0 + number * 0.5, API, "serving_chat.py:1040", text)


GPU_LOST_AT = 3300.0


def _gpu_lost_run(script):
    _healthy_v1(script)
    vllm_runs.engine_died(script, GPU_LOST_AT)


def _cuda_oom(script):
    vllm_runs.cuda_oom_run(script, vllm_runs.Deployment())


_OCI_START_FAILED = (
    "failed to create task for container: failed to create shim task: OCI runtime create "
    "failed: runc create failed: unable to start container process: error during container "
    "init: error running prestart hook #0: exit status 1, stdout: , stderr: Auto-detected mode "
    "as 'legacy'\nnvidia-container-cli: initialization error: "
)

_EMPTY_A100 = [Load(33, 0, 54.12, 0)]

_SCENARIOS = (
    Scenario(
        "busy",
        "one A100, vLLM 0.11 V1 (uncoloured tags) serving; stats every 10 s under load",
        [A100],
        [Load(67, 87, 241.67, 76045, mem_temp=74, mem_util=45)],
        run=_healthy_v1,
        stats=_steady(v1_stats(1234.5, 87.6, 3, 1, 42.3, 61.2)),
        image="vllm/vllm-openai:latest",
    ),
    Scenario(
        "busy-tp2",
        "two H100s, tensor parallel (Worker_TP0/TP1 tags), vLLM 0.11 serving",
        [H100, H100],
        [Load(71, 93, 562.18, 78311, 79, 51), Load(69, 91, 548.90, 78299, 77, 50)],
        run=_healthy_v1,
        tp=2,
        stats=_steady(v1_stats(2345.6, 176.5, 7, 0, 38.9, 44.4)),
    ),
    Scenario(
        "idle",
        "served until %d s, logged one all-zero stats line, silent since (~10 min)" % IDLE_AFTER,
        [A100],
        [Load(36, 0, 63.42, 76045, sm=210)],
        run=_healthy_v1,
        stats=Stats(_idle_stats, last=IDLE_AFTER),
        default_elapsed=IDLE_AFTER + 600.0,
    ),
    Scenario(
        "loading",
        "vLLM 0.11 starting with the wall clock: banner, weight shards, compile, KV "
        "cache, CUDA graphs, ready at ~55 s, stats from 65 s",
        [A100],
        _loading_loads,
        run=_healthy_v1,
        stats=_steady(v1_stats(642.1, 51.3, 2, 0, 12.7, 5.0)),
        default_elapsed=0.0,
    ),
    Scenario(
        "cuda-oom",
        "CUDA out of memory at weight shard 4/11, engine core initialization failed; container exited with 1",
        [A100],
        [Load(41, 0, 72.15, 51324)],
        run=_cuda_oom,
        exit_at=vllm_runs.CUDA_OOM_EXIT_AT,
        exit_code=1,
        default_elapsed=300.0,
    ),
    Scenario(
        "kv-cache-too-small",
        "V1 'To serve at least one request with the models's max seq len' after compile; container exited with 1",
        [A100],
        _EMPTY_A100,
        run=lambda script: vllm_runs.kv_cache_too_small_run(script, vllm_runs.Deployment(gpu_memory_utilization=0.5)),
        exit_at=vllm_runs.KV_CACHE_EXIT_AT,
        exit_code=1,
        default_elapsed=300.0,
    ),
    Scenario(
        "restart-loop",
        "two earlier runs died of CUDA OOM; the current (third) run is loading; RestartCount 2",
        [A100],
        _loading_loads,
        run=_healthy_v1,
        stats=_steady(v1_stats(642.1, 51.3, 2, 0, 12.7, 5.0)),
        default_elapsed=20.0,
        earlier_runs=((-36.7, _cuda_oom, vllm_runs.CUDA_OOM_EXIT_AT), (-18.4, _cuda_oom, vllm_runs.CUDA_OOM_EXIT_AT)),
    ),
    Scenario(
        "container-missing",
        "GPU idle and empty; the container does not exist",
        [A100],
        [Load(33, 0, 54.12, 0)],
        container_exists=False,
    ),
    Scenario(
        "docker-permission-denied",
        "vLLM serving, but the SSH user may not use the docker socket",
        [A100],
        [Load(66, 85, 236.02, 76045)],
        run=_healthy_v1,
        stats=_steady(v1_stats(1234.5, 87.6, 3, 1, 42.3, 61.2)),
        docker="permission_denied",
    ),
    Scenario(
        "docker-daemon-down",
        "the docker daemon is not running; GPU idle and empty",
        [A100],
        [Load(32, 0, 53.77, 0)],
        docker="daemon_down",
    ),
    Scenario(
        "logging-driver-none",
        "vLLM serving with --log-driver none: inspect works, logs fail",
        [A100],
        [Load(65, 84, 233.50, 76045)],
        run=_healthy_v1,
        stats=_steady(v1_stats(1234.5, 87.6, 3, 1, 42.3, 61.2)),
        logs_readable=False,
    ),
    Scenario(
        "driver-not-loaded",
        "no NVIDIA kernel driver: nvidia-smi exit 9; the container never started",
        [A100],
        _EMPTY_A100,
        nvidia_smi="driver_not_loaded",
        start_error=_OCI_START_FAILED + "nvml error: driver not loaded: unknown",
    ),
    Scenario(
        "nvml-missing",
        "libnvidia-ml.so missing: nvidia-smi exit 12; the container never started",
        [A100],
        _EMPTY_A100,
        nvidia_smi="nvml_missing",
        start_error=_OCI_START_FAILED + "load library failed: libnvidia-ml.so.1: cannot open "
        "shared object file: no such file or directory: unknown",
    ),
    Scenario(
        "no-devices",
        "driver loaded but no GPU visible: nvidia-smi exit 6; vLLM exited with 1",
        [A100],
        _EMPTY_A100,
        nvidia_smi="no_devices",
        run=lambda script: vllm_runs.no_device_run(script, vllm_runs.Deployment()),
        exit_at=3.5,
        exit_code=1,
        default_elapsed=120.0,
    ),
    Scenario(
        "gpu-lost",
        "two H100s, GPU 1 fell off the bus (nvidia-smi exit 15); the engine died at "
        "%d s and the container exited with 1" % GPU_LOST_AT,
        [H100, H100],
        [Load(48, 0, 121.37, 1), Load(0, 0, 0.0, 0)],
        run=_gpu_lost_run,
        tp=2,
        stats=Stats(lambda k: [(API, v1_stats(2345.6, 176.5, 7, 0, 38.9, 44.4))], last=GPU_LOST_AT - 5.0),
        lost_gpus=(1,),
        exit_at=GPU_LOST_AT + 2.0,
        exit_code=1,
    ),
    Scenario(
        "nvidia-smi-hang",
        "nvidia-smi never answers (for timeout tests); vLLM serving",
        [A100],
        [Load(64, 83, 230.11, 76045)],
        run=_healthy_v1,
        stats=_steady(v1_stats(1200.0, 80.0, 3, 0, 40.0, 60.0)),
        nvidia_smi="hang",
    ),
    Scenario(
        "data-parallel",
        "two H100s, two engines (EngineCore_DP0/DP1): Engine 000 and Engine 001 stats lines",
        [H100, H100],
        [Load(64, 78, 455.31, 77120), Load(60, 66, 402.77, 77104)],
        run=_healthy_v1,
        dp=2,
        stats=Stats(_data_parallel_stats),
    ),
    Scenario(
        "aggregated",
        "vLLM 0.14, two data-parallel engines logged as '2 Engines Aggregated:'",
        [H100, H100],
        [Load(63, 80, 470.12, 77120), Load(62, 79, 466.85, 77108)],
        version=V0_14,
        dp=2,
        run=lambda script: vllm_runs.v1_startup(
            script, vllm_runs.Deployment(extra_args={"aggregate_engine_logging": True})
        ),
        stats=_steady(v1_stats(3333.3, 222.2, 6, 2, 27.5, 52.5, engines=2)),
    ),
    Scenario(
        "v0-engine",
        "vLLM 0.6.6 V0 engine: prefix without '[', stats every 5 s plus a separate prefix-cache line",
        [A100],
        [Load(58, 72, 198.44, 75364)],
        version=V0_6_6,
        run=lambda script: vllm_runs.v0_startup(
            script, vllm_runs.Deployment(model="Qwen/Qwen2.5-Coder-32B-Instruct-AWQ", max_model_len=32768)
        ),
        stats=Stats(_v0_stats, first=45.0, interval=STATS_INTERVAL_V0),
    ),
    Scenario(
        "vllm-0.10-ansi",
        "vLLM 0.10.1.1: ESC[1;36m(APIServer pid=1)ESC[0;0m coloured tags, (EngineCore_0 pid=P)",
        [A100],
        [Load(61, 75, 210.09, 75890)],
        version=V0_10_ANSI,
        run=_healthy_v1,
        stats=_steady(v1_stats(765.4, 65.4, 4, 0, 33.3, 22.2)),
    ),
    Scenario(
        "vllm-0.11-ansi",
        "vLLM 0.11.0 as it really prints: coloured tags, (EngineCore_DP0 pid=P)",
        [A100],
        [Load(63, 79, 219.73, 75912)],
        version=V0_11_ANSI,
        run=_healthy_v1,
        stats=_steady(v1_stats(876.5, 76.5, 5, 2, 55.5, 66.6)),
    ),
    Scenario(
        "vllm-0.33",
        "vLLM 0.33: tag in the format, KV fetch part, no prefix hit rate in the "
        "first stats line (before requests), 'vLLM server version' banner",
        [H100],
        [Load(59, 70, 402.66, 77893)],
        version=V0_33,
        run=_healthy_v1,
        stats=Stats(_v033_stats),
    ),
    Scenario(
        "healthcheck",
        "a container WITH a HEALTHCHECK (healthy once serving); vLLM 0.11 serving",
        [A100],
        [Load(62, 76, 215.40, 76045)],
        run=_healthy_v1,
        stats=_steady(v1_stats(1357.9, 97.5, 2, 0, 24.6, 80.2)),
        healthcheck=True,
    ),
    Scenario(
        "hostile",
        "serving, but the log holds escapes, rich markup, a fake VM header, a 1 MiB line and invalid UTF-8",
        [A100],
        [Load(50, 20, 120.00, 76045)],
        run=_hostile_run,
        stats=_steady(v1_stats(314.2, 27.1, 1, 0, 8.8, 9.9)),
        default_elapsed=600.0,
    ),
    Scenario(
        "foreign-process",
        "CUDA out of memory at start: a Jupyter container (PID 4194500) holds "
        "50 GiB of GPU 0, a host process 1 GiB; the vLLM container exited with 1",
        [A100],
        [Load(41, 0, 72.15, 51324 + 1024 + 512)],
        run=_cuda_oom,
        exit_at=vllm_runs.CUDA_OOM_EXIT_AT,
        exit_code=1,
        default_elapsed=300.0,
        foreign=((0, 4194500, "/opt/conda/bin/python", 51324), (0, 4194501, "python", 1024)),
    ),
    Scenario(
        "ecc-error",
        "vLLM serving, GPU 0 has 2 uncorrected ECC errors and a remapped row pending a reset",
        [A100],
        [Load(64, 82, 228.31, 76045)],
        run=_healthy_v1,
        stats=_steady(v1_stats(1111.0, 77.7, 3, 0, 40.1, 50.0)),
        gpu_faults={0: {"ecc.errors.uncorrected.volatile.total": 2, "remapped_rows.pending": "Yes"}},
        kernel_lines=(
            (
                120.0,
                "NVRM: Xid (PCI:0000:01:00): 63, pid=48311, name=python3, Row Remapper: "
                "New row marked for remapping, reset gpu to activate.",
            ),
        ),
    ),
    Scenario(
        "thermal-throttle",
        "vLLM serving on an A100 at 86 C, clocks held down by HW and SW thermal slowdown",
        [A100],
        [Load(86, 97, 251.80, 76045, sm=1005)],
        run=_healthy_v1,
        stats=_steady(v1_stats(801.5, 55.2, 3, 2, 40.2, 50.0)),
        gpu_faults={0: {"clocks_event_reasons.active": "0x0000000000000060"}},
    ),
    Scenario(
        "xid-79",
        "two H100s, GPU 1 fell off the bus: XID 79 in the kernel log (and an XID 13 "
        "from before the container started), nvidia-smi exit 15, the engine died",
        [H100, H100],
        [Load(48, 0, 121.37, 1), Load(0, 0, 0.0, 0)],
        run=_gpu_lost_run,
        tp=2,
        stats=Stats(lambda k: [(API, v1_stats(2345.6, 176.5, 7, 0, 38.9, 44.4))], last=GPU_LOST_AT - 5.0),
        lost_gpus=(1,),
        exit_at=GPU_LOST_AT + 2.0,
        exit_code=1,
        kernel_lines=(
            (
                -300.0,
                "NVRM: Xid (PCI:0000:01:00): 13, pid=1771, name=python3, Graphics Exception: ESR 0x504648=0x2000f",
            ),
            (
                GPU_LOST_AT - 1.0,
                "NVRM: Xid (PCI:0000:02:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.",
            ),
            (GPU_LOST_AT - 0.5, "NVRM: GPU 0000:02:00.0: GPU has fallen off the bus."),
        ),
    ),
    Scenario(
        "kernel-log-unreadable",
        "vLLM serving; dmesg is restricted (Operation not permitted) and "
        "journalctl shows the user only their own journal",
        [A100],
        [Load(66, 86, 238.00, 76045)],
        run=_healthy_v1,
        stats=_steady(v1_stats(1234.5, 87.6, 3, 1, 42.3, 61.2)),
        kernel_log_readable=False,
    ),
)

SCENARIOS = {scenario.name: scenario for scenario in _SCENARIOS}
