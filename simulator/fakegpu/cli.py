# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``fakegpu`` command: make simulated hosts, inject faults, list scenarios, show answers.

    fakegpu make-host DIR SCENARIO [--elapsed SECONDS] [--container NAME] [--engine docker|podman]
    fakegpu set DIR KEY=VALUE|restart ...
    fakegpu list
    fakegpu show DIR [--tail N]

Mistakes are reported as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from fakegpu import hoststate
from fakegpu.hoststate import OVERRIDES, SimulatorError
from fakegpu.scenarios import DEFAULT_CONTAINER, SCENARIOS

EXIT_USAGE = 2
SIMULATOR_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODULE_GPU_FIELDS = "index,uuid,name,temperature.gpu,utilization.gpu,power.draw,power.limit,memory.used,memory.total"

_EXECUTABLE = """#!{python} -IS
# Made by 'fakegpu make-host': the {command} of the simulated host {host_dir}
import sys
sys.path.insert(0, {root!r})
from fakegpu.entry import {entry}
sys.exit({entry}(sys.argv[1:], {host_dir!r}))
"""
# Linux reads at most this much of a "#!" line (BINPRM_BUF_SIZE, kernel >= 5.1).
_SHEBANG_LIMIT = 255


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise SimulatorError(message)


def _write_executable(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o755)


def make_host(host_dir: str, scenario_name: str, elapsed=None, container=None, engine="docker") -> None:
    scenario = hoststate.scenario_named(scenario_name)
    if engine not in hoststate.ENGINES:
        raise SimulatorError("--engine must be one of %s, got %r" % (", ".join(hoststate.ENGINES), engine))
    if elapsed is not None and elapsed < 0:
        raise SimulatorError("--elapsed must be 0 or more seconds, got %s" % elapsed)
    python = sys.executable
    if not python or " " in python or len(python) + 5 > _SHEBANG_LIMIT:
        raise SimulatorError(
            "cannot use %r in a #! line (empty, has a space or too long); run fakegpu with another Python" % python
        )
    host_dir = os.path.abspath(host_dir)
    os.makedirs(os.path.join(host_dir, "bin"), exist_ok=True)
    for command, entry in (("nvidia-smi", "nvidia_smi_main"), (engine, "docker_main")):
        _write_executable(
            os.path.join(host_dir, "bin", command),
            _EXECUTABLE.format(python=python, command=command, host_dir=host_dir, root=SIMULATOR_ROOT, entry=entry),
        )
    # The kernel-log commands and the process table that node_info's GPU depth reads (fakegpu.kernel).
    from fakegpu import kernel
    from fakegpu.runs import CONTAINER_ID

    for command, entry in (("dmesg", "dmesg_main"), ("journalctl", "journalctl_main")):
        _write_executable(
            os.path.join(host_dir, "bin", command),
            _EXECUTABLE.format(python=python, command=command, host_dir=host_dir, root=SIMULATOR_ROOT, entry=entry),
        )
    kernel.write_proc(host_dir, CONTAINER_ID)
    now = hoststate.clock()
    hoststate.save_state(
        host_dir,
        {
            "scenario": scenario.name,
            "engine": engine,
            "container": container or DEFAULT_CONTAINER,
            "started_epoch": now - (scenario.default_elapsed if elapsed is None else elapsed),
            "overrides": {},
            "previous_runs": [],
        },
    )


def set_state(host_dir: str, items) -> dict:
    """Apply KEY=VALUE items (and ``restart``) in order; returns the new state."""
    state = hoststate.load_state(host_dir)
    now = hoststate.clock()
    overrides = state.setdefault("overrides", {})
    for item in items:
        key, has_value, value = item.partition("=")
        if key == "restart" and not has_value:
            state.setdefault("previous_runs", []).append(
                {"scenario": state["scenario"], "started_epoch": state["started_epoch"], "finished_epoch": now}
            )
            state["started_epoch"] = now
        elif not has_value:
            raise SimulatorError("expected KEY=VALUE or restart, got %r" % item)
        elif key == "scenario":
            state["scenario"] = hoststate.scenario_named(value).name
        elif key == "elapsed":
            state["started_epoch"] = now - _number(key, value)
        elif key == "nvidia_smi_output":
            if value == "default":
                overrides.pop(key, None)
            elif not os.path.isfile(value):
                raise SimulatorError("nvidia_smi_output must name a file, got %r" % value)
            else:
                overrides[key] = os.path.abspath(value)
        elif key == "restart_count":
            if value == "default":
                overrides.pop(key, None)
            else:
                overrides[key] = int(_number(key, value))
        elif key in OVERRIDES:
            if value == "default":
                overrides.pop(key, None)
            elif value in OVERRIDES[key]:
                overrides[key] = value
            else:
                raise SimulatorError(
                    "%s must be one of %s or default, got %r" % (key, ", ".join(OVERRIDES[key]), value)
                )
        else:
            raise SimulatorError(
                "unknown key %r (known: scenario, elapsed, restart_count, %s, "
                "nvidia_smi_output, restart)" % (key, ", ".join(OVERRIDES))
            )
    hoststate.save_state(host_dir, state)
    return state


def _number(key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SimulatorError("%s must be a number, got %r" % (key, value)) from None
    if number < 0:
        raise SimulatorError("%s must be 0 or more, got %r" % (key, value))
    return number


def _printable_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a raw byte kept by surrogateescape
        return "\\x%02x" % (code - 0xDC00)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return "\\x%02x" % code
    return char


def _printable(text: str, limit: int = 200) -> str:
    """Control characters as \\xNN and long lines cut: ``show`` must not drive the terminal."""
    shown = "".join(_printable_char(char) for char in text[:limit])
    if len(text) > limit:
        shown += "... (%d characters)" % len(text)
    return shown


def show(host_dir: str, tail: int) -> str:
    from fakegpu import docker_cli, nvidia_smi

    host = hoststate.Host(host_dir)
    calls = (
        ("nvidia-smi", nvidia_smi.answer, ["--query-gpu=" + MODULE_GPU_FIELDS, "--format=csv,noheader,nounits"]),
        (host.engine, docker_cli.answer, ["container", "inspect", host.container]),
        (host.engine, docker_cli.answer, ["logs", "--timestamps", "--tail", str(tail), host.container]),
    )
    lines = [
        "%s: scenario %s (%s), container %s, %.1f s since the current start"
        % (host_dir, host.scenario.name, host.scenario.description, host.container, host.elapsed)
    ]
    if host.overrides:
        lines.append("overrides: " + ", ".join("%s=%s" % item for item in sorted(host.overrides.items())))
    for command, answer, argv in calls:
        out = answer(host, argv)
        lines.append("")
        lines.append("$ %s %s" % (command, " ".join(_printable(arg) for arg in argv)))
        for fd, text in out.chunks:
            for line in text.splitlines():
                lines.append("%s %s" % ("err|" if fd == 2 else "out|", _printable(line)))
        if out.hang_seconds is not None:
            lines.append("(hangs: no answer for %d s)" % out.hang_seconds)
        else:
            lines.append("(exit %d)" % out.status)
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fakegpu", description="Simulated GPU hosts (nvidia-smi and docker).")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    make = commands.add_parser("make-host", help="create DIR/bin/{nvidia-smi,docker} and state")
    make.add_argument("dir")
    make.add_argument("scenario")
    make.add_argument("--elapsed", type=float, help="seconds since the container started")
    make.add_argument("--container", help="container name (default %s)" % DEFAULT_CONTAINER)
    make.add_argument(
        "--engine",
        default="docker",
        help="container CLI the host has: docker (bin/docker, the default) or podman (bin/podman)",
    )
    change = commands.add_parser("set", help="change a host at run time (fault injection)")
    change.add_argument("dir")
    change.add_argument("items", nargs="+", metavar="KEY=VALUE|restart")
    commands.add_parser("list", help="scenario names and what they show")
    look = commands.add_parser("show", help="what the host's commands answer now")
    look.add_argument("dir")
    look.add_argument("--tail", type=int, default=20)
    return parser


def main(argv) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "make-host":
            make_host(args.dir, args.scenario, args.elapsed, args.container, args.engine)
        elif args.command == "set":
            set_state(args.dir, args.items)
        elif args.command == "list":
            width = max(len(name) for name in SCENARIOS)
            sys.stdout.write(
                "".join("%s  %s\n" % (name.ljust(width), scenario.description) for name, scenario in SCENARIOS.items())
            )
        else:
            sys.stdout.write(show(args.dir, args.tail))
    except SimulatorError as exc:
        sys.stderr.write("fakegpu: %s\n" % exc)
        return EXIT_USAGE
    except OSError as exc:
        sys.stderr.write("fakegpu: %s\n" % exc)
        return EXIT_USAGE
    return 0
