# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the integration tests: real ansible processes against the simulator.

Imported by name (``from support import ...``): pyproject.toml puts tests/integration on sys.path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
FAKEGPU = ROOT / "simulator" / "bin" / "fakegpu"


def make_sim_host(directory: Path, scenario: str, *, elapsed: float | None = None,
                  container: str | None = None) -> Path:
    """Create a simulated VM (its bin/docker and bin/nvidia-smi) with the simulator's CLI."""
    argv = [str(FAKEGPU), "make-host", str(directory), scenario]
    if elapsed is not None:
        argv += ["--elapsed", str(elapsed)]
    if container is not None:
        argv += ["--container", container]
    subprocess.run(argv, check=True, capture_output=True, text=True, env=simulator_env())
    return directory


def simulator_env() -> dict:
    """The simulator runs with this interpreter (its executables start with its absolute path)."""
    return dict(os.environ, PYTHON=sys.executable)


def clean_ansible_env() -> dict:
    """Environment for ansible commands: this checkout's ansible.cfg, no colour, the venv first."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "GPUFLEET_")) and key not in ("NO_COLOR", "COLUMNS")}
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=str(VENV_BIN) + os.pathsep + env.get("PATH", ""),
        PYTHONUNBUFFERED="1",
    )
    return env


def run(argv: list, env: dict, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
                          **kwargs)


def ansible_module(env: dict, module: str, args: dict, timeout: float = 60) -> tuple[int, dict]:
    """Run one module on localhost (``ansible localhost -m MODULE -a JSON``); return (rc, result).

    The ad-hoc command prints ``localhost | STATUS => {json}``: the JSON after the arrow is the result."""
    proc = run([str(VENV_BIN / "ansible"), "localhost", "-m", module, "-a", json.dumps(args)], env, timeout)
    head, arrow, body = proc.stdout.partition(" => ")
    if not arrow:
        raise AssertionError("unexpected ansible output (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, json.loads(body)
