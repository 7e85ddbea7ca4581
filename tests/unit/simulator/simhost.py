# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the simulator's tests: simulated hosts made and queried as real processes, with
the clock pinned (FAKEGPU_NOW) so every timestamp and reading is exact."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SIMULATOR = Path(__file__).resolve().parents[3] / "simulator"
FAKEGPU = SIMULATOR / "bin" / "fakegpu"
# 2026-11-28T00:57:14Z
NOW = 1795827434.0


class Host:
    """A simulated host in a temporary folder."""

    def __init__(self, path: Path):
        self.path = path

    def run(
        self, command: str, *args: str, now: float = NOW, merged: bool = False, timeout: float = 30, env: dict = None
    ) -> subprocess.CompletedProcess:
        """Run bin/COMMAND ARGS; bytes out. MERGED sends stderr into stdout, as the module does.
        ENV adds variables (TZ for podman's local times)."""
        return subprocess.run(
            [str(self.path / "bin" / command), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE,
            env=dict(clock_env(now), **(env or {})),
            timeout=timeout,
            check=False,
        )

    def nvidia_smi(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.run("nvidia-smi", *args, **kwargs)

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.run("docker", *args, **kwargs)

    def set(self, *items: str, now: float = NOW) -> subprocess.CompletedProcess:
        return fakegpu("set", str(self.path), *items, now=now)


def clock_env(now: float) -> dict:
    env = dict(os.environ)
    env["FAKEGPU_NOW"] = repr(now)
    return env


def fakegpu(*args: str, now: float = NOW, python: str = sys.executable) -> subprocess.CompletedProcess:
    """Run simulator/bin/fakegpu with PYTHON, which then also runs the hosts' executables."""
    env = clock_env(now)
    env["PYTHON"] = python
    return subprocess.run(
        [str(FAKEGPU), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        timeout=60,
        check=False,
        universal_newlines=True,
    )
