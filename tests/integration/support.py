# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the integration tests: real ansible processes against the simulator.

Imported by name (``from support import ...``): pyproject.toml puts tests/integration on sys.path."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest


ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
FAKEGPU = ROOT / "simulator" / "bin" / "fakegpu"


def make_sim_host(
    directory: Path, scenario: str, *, elapsed: float | None = None, container: str | None = None
) -> Path:
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
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "GPUFLEET_")) and key not in ("NO_COLOR", "COLUMNS")
    }
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=str(VENV_BIN) + os.pathsep + env.get("PATH", ""),
        PYTHONUNBUFFERED="1",
    )
    return env


def run(argv: list, env: dict, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def ansible_module(env: dict, module: str, args: dict, timeout: float = 60) -> tuple[int, dict]:
    """Run one module on localhost (``ansible localhost -m MODULE -a JSON``); return (rc, result).

    The ad-hoc command prints ``localhost | STATUS => {json}``: the JSON after the arrow is the result."""
    proc = run([str(VENV_BIN / "ansible"), "localhost", "-m", module, "-a", json.dumps(args)], env, timeout)
    head, arrow, body = proc.stdout.partition(" => ")
    if not arrow:
        raise AssertionError("unexpected ansible output (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, json.loads(body)


class LineReader:
    """Collects a process's output lines on a thread, each with the moment (time.monotonic) it
    arrived, so a test can wait for a given line and time what it waited for.

    The process may be text or binary: ``lines`` are text (invalid UTF-8 replaced), ``raw`` the
    bytes as written when the process is binary."""

    def __init__(self, process):
        self.lines: list[str] = []
        self.raw: list[bytes] = []
        self.times: list[float] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process):
        for line in process.stdout:
            now = time.monotonic()
            raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape")
            with self._changed:
                self.raw.append(raw.rstrip(b"\n"))
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.times.append(now)
                self._changed.notify_all()

    def wait_for(self, predicate, timeout: float, start: int = 0) -> int:
        """Index of the first line from START that matches, or AssertionError after TIMEOUT."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index in range(start, len(self.lines)):
                    if predicate(self.lines[index]):
                        return index
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no matching line in %gs; output:\n%s" % (timeout, "\n".join(self.lines)))
                self._changed.wait(remaining)

    def join(self, timeout: float) -> None:
        """Wait until the process closed its output (it ended), at most TIMEOUT seconds."""
        self._thread.join(timeout)


class WatchRun:
    """``ansible-playbook playbooks/watch.yml`` in its own process group, without a terminal (plain
    lines, read by a LineReader) and with JSON lines at JSON_PATH. Use as a context manager: on
    exit the whole group (workers, ssh clients) is stopped."""

    def __init__(
        self,
        inventory: str,
        env: dict,
        json_path: Path,
        *,
        interval: float = 1,
        cycles: int = 3,
        extra_vars: tuple = (),
    ):
        self.json_path = Path(json_path)
        argv = [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            "playbooks/watch.yml",
            "-e",
            "watch_interval=%g" % interval,
            "-e",
            "watch_cycles=%d" % cycles,
        ]
        for item in extra_vars:
            argv += ["-e", item]
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=dict(env, GPUFLEET_DASHBOARD_JSON=str(json_path)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.reader = LineReader(self.process)

    def __enter__(self) -> "WatchRun":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def wait(self, timeout: float) -> int:
        """The exit status once the watch ended by itself (after its cycles); output all read."""
        try:
            returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                "the watch did not end in %gs; output:\n%s" % (timeout, "\n".join(self.reader.lines))
            ) from None
        self.reader.join(10)
        return returncode

    def stop(self) -> None:
        """Ctrl-C to the whole process group as a terminal would send it, SIGKILL if it lingers."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        self.reader.join(5)

    def records(self) -> list[dict]:
        """The JSON lines written so far (a line still being written is left out)."""
        try:
            text = self.json_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


class PtyRun:
    """A command on a pseudo-terminal of a given size, its whole output kept (the live dashboard)."""

    def __init__(self, argv, env, columns=200, rows=60):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = dict(env, TERM="xterm-256color")
        env.pop("ANSIBLE_NOCOLOR", None)
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.output = b""

    def read_until(self, predicate, timeout) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.text):
                return True
            ready, _writable, _failed = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the other side closed
                    return predicate(self.text)
                if not chunk:
                    return predicate(self.text)
                self.output += chunk
        return predicate(self.text)

    def wait(self, timeout) -> int:
        self.read_until(lambda _text: self.process.poll() is not None, timeout)
        self.read_until(lambda _text: False, 0.5)
        return self.process.wait(timeout=5)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def close(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)


@contextlib.contextmanager
def running_fleet(specs: list) -> Iterator:
    """An SSH test fleet (tests/fleet) for a module-scoped fixture, where the function-scoped
    ``ssh_fleet`` cannot serve; skips as that fixture does where fleets cannot run."""
    from tests.fleet import Fleet, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with Fleet(specs) as fleet:
        yield fleet
