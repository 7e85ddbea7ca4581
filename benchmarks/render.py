# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Frame cost of the dashboard renderer (plugins/plugin_utils/_dashboard.py).

Run from the repository root: ``.venv/bin/python benchmarks/render.py [--width 200]``.
Prints the median milliseconds per frame for 1, 10, 30 and 50 hosts with 8 GPUs each,
printed in truecolor to an in-memory terminal: cold (empty panel cache, every panel
rendered) and warm (one panel changed since the previous frame, the clock moved one second).
"""

from __future__ import annotations

import argparse
import importlib
import io
import pathlib
import statistics
import sys
import time

try:
    importlib.import_module("ansible_collections.gpufleet.vllm")
except ImportError:
    # Outside pytest the checkout is importable through the link scripts/bootstrap makes.
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / ".venv" / "collections"))

from rich.console import Console

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._dashboard import (
    FleetView,
    HostView,
    PanelCache,
    render_dashboard,
)

GPUS_PER_HOST = 8
HOST_COUNTS = (1, 10, 30, 50)
NOW = 1_800_000_000.0


def node_info(host_index: int) -> dict:
    """A serving 8-GPU host as node_info reports it (schema v1), numbers varied per host."""
    devices = [
        {
            "index": gpu, "uuid": f"GPU-{host_index:04d}-{gpu}", "name": "NVIDIA H100 80GB HBM3",
            "temperature_c": 40 + (host_index + gpu) % 45, "utilization_pct": (host_index * 7 + gpu * 13) % 101,
            "power_w": 250.0 + gpu, "power_limit_w": 700.0,
            "memory_used_mib": 70000 + gpu * 100, "memory_total_mib": 81559,
        }
        for gpu in range(GPUS_PER_HOST)
    ]
    engine = {
        "engine": 0, "aggregated_engines": None, "prompt_tps": 1000.0 + host_index, "generation_tps": 80.5,
        "running": 3, "waiting": 1, "swapped": None, "preemptions": None, "kv_cache_pct": 42.3,
        "kv_cache_device": "GPU", "cpu_kv_cache_pct": None, "prefix_cache_hit_pct": 18.0,
        "logged_at": "2026-11-28T01:39:55.000000Z", "age_s": 5.1,
    }
    return {
        "schema_version": 1, "collected_at": "2026-11-28T01:40:00.123456Z",
        "gpu": {"status": "ok", "message": None, "devices": devices},
        "container": {
            "name": "vllm_qwen36_27b", "status": "running", "error_kind": None, "health": "none",
            "restart_count": 0, "started_at": "2026-11-28T01:30:00.000000Z", "oom_killed": False,
            "exit_code": 0, "image": "vllm/vllm-openai:latest", "message": None,
        },
        "vllm": {
            "phase": "serving", "log_status": "ok", "message": None, "engines": [engine], "loading": None,
            "errors": [], "ready": True, "last_log_at": "2026-11-28T01:39:55.000000Z", "log_lines_read": 300,
        },
    }


def fleet_of(count: int) -> FleetView:
    hosts = []
    for index in range(count):
        host = HostView(
            name=f"hyperstack-vm{index + 1}", address=f"hyperstack{index + 1}.wg1", model="Qwen/Qwen3.6-27B-FP8",
            document=node_info(index), updated_at=NOW - 2, updates=1,
        )
        host.generation_history.extend(float(sample % 90) for sample in range(40))
        hosts.append(host)
    return FleetView(hosts=hosts, interval_s=5.0, started_at=NOW - 600, warnings=[])


def frame_ms(console: Console, fleet: FleetView, now: float, cache: PanelCache) -> float:
    console.file = io.StringIO()
    start = time.perf_counter()
    console.print(render_dashboard(fleet, now, console.width, cache))
    return (time.perf_counter() - start) * 1000.0


def measure(count: int, width: int, cold_runs: int, warm_runs: int) -> tuple[float, float]:
    console = Console(width=width, force_terminal=True, color_system="truecolor", _environ={})
    fleet = fleet_of(count)
    cold = statistics.median(frame_ms(console, fleet, NOW, PanelCache()) for _run in range(cold_runs))
    cache = PanelCache()
    frame_ms(console, fleet, NOW, cache)
    warm = []
    for run in range(warm_runs):
        changed = fleet.hosts[run % count]
        changed.updates += 1
        changed.updated_at = NOW + run
        warm.append(frame_ms(console, fleet, NOW + run + 1, cache))
    return cold, statistics.median(warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=200, help="terminal columns (default 200: 3 panels a row)")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--warm-runs", type=int, default=30)
    args = parser.parse_args()
    print(f"width {args.width}, {GPUS_PER_HOST} GPUs per host, median ms per frame")
    print(f"{'hosts':>5}  {'cold ms':>8}  {'warm ms':>8}  {'cold/warm':>9}")
    for count in HOST_COUNTS:
        cold, warm = measure(count, args.width, args.cold_runs, args.warm_runs)
        print(f"{count:>5}  {cold:>8.1f}  {warm:>8.1f}  {cold / warm:>9.1f}")


if __name__ == "__main__":
    main()
