# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-call wall time of the stand-ins (median of 50 runs), printed for the record (``-s``).

The target is < 60 ms per call; the bound asserted here is looser so that a busy CI machine
does not fail the suite, yet it still catches an accidental heavy import or a quadratic log."""

from __future__ import annotations

import statistics
import subprocess
import time

from simhost import NOW, clock_env

RUNS = 50
BOUND_SECONDS = 0.25


def median_seconds(argv) -> float:
    env = clock_env(NOW)
    times = []
    for _run in range(RUNS):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_each_executable_starts_fast(make_host):
    host = make_host("busy")
    bin_dir = host.path / "bin"
    calls = {
        "nvidia-smi --query-gpu": [
            str(bin_dir / "nvidia-smi"),
            "--query-gpu=index,uuid,name,"
            "temperature.gpu,utilization.gpu,power.draw,power.limit,"
            "memory.used,memory.total",
            "--format=csv,noheader,nounits",
        ],
        "docker container inspect": [str(bin_dir / "docker"), "container", "inspect", "vllm_qwen36_27b"],
        "docker logs --tail 300": [str(bin_dir / "docker"), "logs", "--timestamps", "--tail", "300", "vllm_qwen36_27b"],
    }
    medians = {name: median_seconds(argv) for name, argv in calls.items()}
    for name, seconds in medians.items():
        print("%-26s median %.1f ms over %d runs" % (name, seconds * 1000, RUNS))
    assert max(medians.values()) < BOUND_SECONDS, medians
