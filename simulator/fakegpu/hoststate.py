# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A simulated host: DIR/state.json, read against its scenario at one instant.

state.json keys: ``scenario``, ``engine`` (``docker``, the default, or ``podman``: which CLI
the host has), ``container`` (name), ``started_epoch`` (start of the
container's current run), ``overrides`` (fault injections set with ``fakegpu set``) and
``previous_runs`` (``[{"scenario", "started_epoch", "finished_epoch"}]``, one per ``restart``).
The clock is the wall clock, or ``FAKEGPU_NOW`` (epoch seconds) when set, so tests can pin it.
"""

from __future__ import annotations

import os
import time

from fakegpu import minijson
from fakegpu.scenarios import SCENARIOS

STATE_FILE = "state.json"
ENGINES = ("docker", "podman")

# Values each override accepts; "default" removes the override (back to the scenario's way).
OVERRIDES = {
    "nvidia_smi": ("ok", "hang", "driver_not_loaded", "nvml_missing", "no_devices", "gpu_lost"),
    "docker": ("ok", "permission_denied", "daemon_down", "hang"),
    "container": ("absent", "present"),
    "logs": ("ok", "unsupported"),
}


class SimulatorError(Exception):
    """A mistake in using the simulator; the message is one line for the user."""


def clock() -> float:
    pinned = os.environ.get("FAKEGPU_NOW")
    if pinned is None:
        return time.time()
    try:
        return float(pinned)
    except ValueError:
        raise SimulatorError("FAKEGPU_NOW must be epoch seconds, got %r" % pinned) from None


def scenario_named(name: str):
    try:
        return SCENARIOS[name]
    except KeyError:
        raise SimulatorError("unknown scenario %r (run 'fakegpu list')" % name) from None


def state_path(host_dir: str) -> str:
    return os.path.join(host_dir, STATE_FILE)


def load_state(host_dir: str) -> dict:
    try:
        with open(state_path(host_dir), encoding="utf-8") as handle:
            return minijson.loads(handle.read())
    except FileNotFoundError:
        raise SimulatorError(
            "no simulated host at %s (no %s; create one with 'fakegpu make-host DIR SCENARIO')" % (host_dir, STATE_FILE)
        ) from None
    except (OSError, ValueError) as exc:
        raise SimulatorError("cannot read %s: %s" % (state_path(host_dir), exc)) from None


def save_state(host_dir: str, state: dict) -> None:
    """Write atomically: the executables may read it at any moment."""
    import json  # only the fakegpu command writes; the executables just read

    temporary = state_path(host_dir) + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(temporary, state_path(host_dir))


class Host:
    """What a simulated host answers now: its scenario with the overrides applied."""

    def __init__(self, host_dir: str, now: float = None):
        state = load_state(host_dir)
        self.dir = host_dir
        try:
            self.scenario = scenario_named(state["scenario"])
            self.container = str(state["container"])
            self.started_epoch = float(state["started_epoch"])
            self.overrides = dict(state.get("overrides", {}))
            self.previous_runs = list(state.get("previous_runs", []))
            self.engine = str(state.get("engine", "docker"))
            if self.engine not in ENGINES:
                raise ValueError("engine must be one of %s, not %r" % (", ".join(ENGINES), self.engine))
        except (KeyError, TypeError, ValueError) as exc:
            raise SimulatorError(
                "%s is not a fakegpu state (%s: %s)" % (state_path(host_dir), type(exc).__name__, exc)
            ) from None
        self.now = clock() if now is None else now

    @property
    def elapsed(self) -> float:
        return self.now - self.started_epoch

    @property
    def nvidia_smi_fault(self):
        """None when nvidia-smi works, else the name of its failure."""
        override = self.overrides.get("nvidia_smi")
        if override is None:
            return self.scenario.nvidia_smi
        return None if override in ("ok", "gpu_lost") else override

    @property
    def lost_gpus(self) -> tuple:
        override = self.overrides.get("nvidia_smi")
        if override == "gpu_lost":
            return (len(self.scenario.cards) - 1,)
        return () if override == "ok" else tuple(self.scenario.lost_gpus)

    @property
    def docker_fault(self):
        override = self.overrides.get("docker")
        fault = self.scenario.docker if override is None else None if override == "ok" else override
        # Podman has no daemon to be down or to refuse the socket: only a hang applies.
        if self.engine == "podman" and fault != "hang":
            return None
        return fault

    @property
    def container_exists(self) -> bool:
        override = self.overrides.get("container")
        if override is None:
            return self.scenario.container_exists
        return override == "present"

    @property
    def logs_readable(self) -> bool:
        override = self.overrides.get("logs")
        if override is None:
            return self.scenario.logs_readable
        return override == "ok"

    @property
    def restart_count(self) -> int:
        if "restart_count" in self.overrides:
            return int(self.overrides["restart_count"])
        return len(self.scenario.earlier_runs) + len(self.previous_runs)
