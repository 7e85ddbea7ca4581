# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/fleet.py still runs: the controller floor at a tiny size (no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support import ROOT
from tests.fleet.harness import unavailable_reason

pytestmark = pytest.mark.slow


def test_floor_benchmark_measures_a_steady_state_window(tmp_path):
    reason = unavailable_reason() if os.geteuid() == 0 else "needs root"
    if reason:
        pytest.skip(reason)
    figures = tmp_path / "figures.json"
    proc = subprocess.run(
        [
            sys.executable,
            "benchmarks/fleet.py",
            "--floor",
            "3",
            "--seconds",
            "2",
            "--intervals",
            "0",
            "--config",
            "defaults",
            "--config",
            "mitogen",
            "--json",
            str(figures),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(figures.read_text(encoding="utf-8"))
    assert [row["method"] for row in rows] == ["floor, defaults", "floor, mitogen"]
    for row in rows:
        # Every host reported inside the window, none through an error, and the window's CPU
        # was found on the playbook's own process. Its main thread alone can stay under one clock
        # tick (10 ms) in a short window with a 10 ms poll, so the process's threads are summed.
        assert row["updates"] >= 3 and row["unreachable"] == 0, row
        components = row["components_ms"]
        assert components["main: main thread"] + components["main: other threads"] > 0, row
        assert components["workers"] > 0, row
    assert "| 3 | floor, defaults | 0 |" in proc.stdout
