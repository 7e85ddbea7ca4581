# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End-to-end runs of playbooks/watch.yml on the demo fleet (scripts/demo, the README's first
command): without a terminal, with JSON lines (and files that cannot take them), with settings
that are refused, under a pseudo-terminal, and in tmux with 40 simulated VMs, where the visible
screen is read back, the terminal resized, and the watch ended by SIGINT, SIGTERM and SIGHUP."""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from support import ROOT, VENV_BIN, PtyRun, run

pytestmark = pytest.mark.slow

DEMO = str(ROOT / "scripts" / "demo")
POLLED = ("demo-busy", "demo-down", "demo-idle", "demo-loading", "demo-oom")
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


@pytest.fixture
def demo_env(ansible_env, tmp_path):
    return dict(ansible_env, GPUFLEET_DEMO_HOSTS=str(tmp_path / "hosts"))


def lines_by_host(stdout: str) -> dict:
    by_host = collections.defaultdict(list)
    for line in stdout.splitlines():
        name = line.split(" ", 1)[0]
        if name.startswith("demo-"):
            by_host[name].append(line)
    return by_host


# The default strategy, and Mitogen (the documented option for large fleets, README "Performance").
STRATEGIES = ["linear", "mitogen_linear"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_plain_lines_without_a_terminal(demo_env, strategy):
    proc = run([DEMO, "-e", "watch_cycles=2", "-e", "watch_interval=1"], dict(demo_env, ANSIBLE_STRATEGY=strategy))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout
    by_host = lines_by_host(proc.stdout)
    assert {name: len(lines) for name, lines in by_host.items()} == {**{name: 2 for name in POLLED}, "demo-new": 1}
    assert by_host["demo-busy"][-1].startswith("demo-busy serving gpu=2/2 ")
    # The demo's VMs serve vLLM's HTTP: the second refresh's figures come from /metrics (counter
    # rates, the simulator's 4 running), not the log's 176.5 tok/s and 7 running.
    assert re.search(
        r" gen=[1-9][0-9.]*tok/s prompt=[1-9][0-9.]*tok/s run=4 wait=0 kv=[0-9.]+% src=metrics checks=ok ",
        by_host["demo-busy"][-1],
    ), by_host["demo-busy"][-1]
    # Idle: the age of its last stats line, not the figures of that line.
    assert re.match(r"demo-idle idle stats_age=\d+s gpu=1/1 .* checks=ok age=\d+s$", by_host["demo-idle"][-1])
    assert by_host["demo-oom"][-1].startswith("demo-oom failed error=cuda_oom ")
    assert "CUDA out of memory" in by_host["demo-oom"][-1]
    assert by_host["demo-loading"][-1].startswith("demo-loading loading stage=")
    assert by_host["demo-down"][-1].startswith("demo-down unreachable ")
    assert "Connection refused" in by_host["demo-down"][-1]
    assert by_host["demo-new"][0].startswith("demo-new not_provisioned ")
    assert "gpufleet watch: 6 hosts, refresh every 1s" in proc.stdout
    assert "gpufleet watch ended after" in proc.stdout


def test_json_lines(demo_env, tmp_path):
    path = tmp_path / "watch.jsonl"
    proc = run(
        [DEMO, "-e", "watch_cycles=2", "-e", "watch_interval=2s"], dict(demo_env, GPUFLEET_DASHBOARD_JSON=str(path))
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert {record["schema_version"] for record in records} == {1}
    states = {record["host"]: (record["state"], record["health"]) for record in records}
    assert states == {
        "demo-busy": ("serving", "ok"),
        "demo-down": ("unreachable", "fail"),
        "demo-idle": ("idle", "ok"),
        "demo-loading": ("loading", "warn"),
        "demo-oom": ("failed", "fail"),
        "demo-new": ("not_provisioned", None),
    }
    busy = [record for record in records if record["host"] == "demo-busy"]
    assert len(busy) == 2
    assert [device["name"] for device in busy[-1]["document"]["gpu"]["devices"]] == ["NVIDIA H100 80GB HBM3"] * 2
    # Each demo VM serves vLLM's HTTP as vLLM would: the busy one has latency figures over the
    # window between its two refreshes, its engine figures from /metrics; the loading one refuses,
    # which its health leaves to the log (loading is a warning, not an HTTP failure).
    assert busy[-1]["serving"]["window"] == "interval" and busy[-1]["serving"]["ttft_s"]["p90"] > 0
    assert busy[-1]["figures_source"] == "metrics"
    loading = [record for record in records if record["host"] == "demo-loading"][-1]
    assert loading["document"]["http"]["health"]["status"] == "refused" and loading["serving"] is None
    assert "http_health" not in {check["name"] for check in loading["checks"]}
    # "2s" is two seconds, not the one-second floor a float filter used to turn it into.
    assert "refresh every 2s" in proc.stdout


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("{tmp}/missing/watch.jsonl", "No such file or directory"),
        ("{tmp}", "Is a directory"),
        ("/proc/version", None),
    ],
)
def test_json_lines_file_that_cannot_be_opened_stops_before_polling(demo_env, tmp_path, path, reason):
    path = path.format(tmp=tmp_path)
    proc = run([DEMO, "-e", "watch_cycles=1"], dict(demo_env, GPUFLEET_DASHBOARD_JSON=path))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert output.count(f"cannot open the JSON lines file {path}") == 1, output
    assert reason is None or reason in output
    assert "Traceback" not in output and "Callback dispatch" not in output
    # Nothing was polled.
    assert re.search(r"^demo-\S+ (serving|idle|loading|failed|unreachable) ", proc.stdout, re.MULTILINE) is None


def test_json_lines_on_a_full_disk_say_so_once_and_exit_non_zero(demo_env):
    proc = run(
        [DEMO, "-e", "watch_cycles=2", "-e", "watch_interval=1"], dict(demo_env, GPUFLEET_DASHBOARD_JSON="/dev/full")
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert output.count("cannot write the JSON lines file /dev/full: No space left on device") == 1, output
    assert "Traceback" not in output and "Callback dispatch" not in output
    assert "gpufleet watch ended after" in output  # the watch itself went on


# Each refusal is unit-tested (test__watch_settings.py); these two show it stops a real run.
@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("watch_interval", "5x", "seconds such as 5 or 2.5"),
        ("gpufleet_thresholds", '{"kv_cache_pct": {"warn": 90, "fail": 80}}', "warn (90) is above fail (80)"),
    ],
)
def test_a_bad_setting_stops_the_run_before_any_host_is_polled(demo_env, tmp_path, variable, value, accepted):
    path = tmp_path / "watch.jsonl"
    proc = run(
        [
            DEMO,
            "-e",
            f"{variable}={value}" if not value.startswith("{") else f'{{"{variable}": {value}}}',
            "-e",
            "watch_cycles=1",
        ],
        dict(demo_env, GPUFLEET_DASHBOARD_JSON=str(path)),
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert f"watch settings: {variable}" in output and accepted in output
    assert "Traceback" not in output
    assert re.search(r"^demo-\S+ (serving|idle|loading|failed|unreachable) ", proc.stdout, re.MULTILINE) is None
    assert [json.loads(line)["host"] for line in path.read_text().splitlines()] == []


def test_a_bad_host_variable_on_one_host_stops_the_run_before_any_host_is_polled(demo_env, tmp_path):
    # Every host checks its own settings, not only the first one: a second inventory source gives
    # one demo VM (not the first by name) a timeout that is not a number.
    extra = tmp_path / "extra.yml"
    extra.write_text("all:\n  hosts:\n    demo-oom:\n      gpufleet_command_timeout: abc\n")
    path = tmp_path / "watch.jsonl"
    proc = run([DEMO, "-i", str(extra), "-e", "watch_cycles=1"], dict(demo_env, GPUFLEET_DASHBOARD_JSON=str(path)))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert re.search(r"\[demo-oom\].*watch settings: gpufleet_command_timeout", output), output
    assert "Traceback" not in output
    assert re.search(r"^demo-\S+ (serving|idle|loading|failed|unreachable) ", proc.stdout, re.MULTILINE) is None
    assert path.read_text() == ""


OWN_PLAY = """
- name: My own watch
  hosts: demo-busy,demo-oom
  gather_facts: false
  vars:
    gpufleet_dashboard: true
  tasks:
    - name: Refresh
      gpufleet.vllm.node_info:
        container: "{{ hyperstack_vllm_container }}"
        docker_path: "{{ gpufleet_docker_path }}"
        nvidia_smi_path: "{{ gpufleet_nvidia_smi_path }}"
        refresh_interval: 2
      until: false
      retries: 1
      delay: 0
      ignore_errors: true
"""


def test_a_play_of_ones_own_without_the_settings_task(demo_env, tmp_path):
    assert run([DEMO, "--list-hosts"], demo_env).returncode == 0  # makes the simulated VMs
    playbook = tmp_path / "own.yml"
    playbook.write_text(OWN_PLAY)
    proc = run([str(VENV_BIN / "ansible-playbook"), "-i", "inventory/demo/hyperstack.yml", str(playbook)], demo_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    by_host = lines_by_host(proc.stdout)
    assert "gpufleet watch: 2 hosts" in proc.stdout
    assert len(by_host["demo-busy"]) == 2 and by_host["demo-oom"][-1].startswith("demo-oom failed ")


def test_warns_when_forks_are_fewer_than_hosts(demo_env):
    proc = run([DEMO, "-f", "2", "-e", "watch_cycles=1"], demo_env)
    assert "forks (2) < hosts (5)" in proc.stdout + proc.stderr


def test_live_dashboard_on_a_terminal(demo_env):
    session = PtyRun([DEMO, "-e", "watch_cycles=2", "-e", "watch_interval=1"], demo_env)
    try:
        assert session.wait(90) == 0, session.text
    finally:
        session.close()
    text = session.text
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    assert "gpufleet watch" in plain and "Ctrl-C to stop" in plain and "refresh every 1s" in plain
    for title in (
        "demo-busy  demo2.wg1  Qwen3-32B-AWQ",
        "demo-down  127.0.0.1",
        "demo-idle  demo3.wg1",
        "demo-loading  demo1.wg1",
        "demo-oom  demo4.wg1",
        "demo-new  demo6.wg1",
    ):
        assert title in plain
    assert "NVIDIA H100 80GB HBM3" in plain and "failed: cuda_oom" in plain and "not provisioned" in plain
    assert "VMs healthy" in plain
    # The cursor is hidden while drawing and shown again at the end.
    assert text.rfind(SHOW_CURSOR) > text.rfind(HIDE_CURSOR) > -1


def test_ctrl_c_ends_the_demo_normally_with_the_last_frame(demo_env):
    session = PtyRun([DEMO, "-e", "watch_interval=1"], demo_env)
    try:
        assert session.read_until(lambda text: "demo-busy" in text and "serving" in text, 90), session.text
        started = time.monotonic()
        os.killpg(session.process.pid, signal.SIGINT)  # Ctrl-C as typed: the terminal's whole group
        rc = session.wait(30)
        stopped_in = time.monotonic() - started
    finally:
        session.close()
    # The demo's own Ctrl-C is its normal end: no "make: *** Error 99" under make demo.
    assert rc == 0, session.text[-2000:]
    assert stopped_in < 10
    text = session.text
    assert text.rfind(SHOW_CURSOR) > text.rfind(HIDE_CURSOR) > -1
    tail = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text[text.rfind(HIDE_CURSOR) :])
    assert "demo-busy" in tail and "╰" in tail


# --- 40 simulated VMs in tmux: the visible screen -------------------------------------------------

FLEET_SIZE = 40


class Tmux:
    """One tmux server of its own (a private socket), one window of a given size."""

    def __init__(self, tmp_path, columns: int, rows: int):
        self.socket = str(tmp_path / "tmux.sock")
        self.columns, self.rows = columns, rows

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], check=True, capture_output=True, text=True).stdout

    def start(self, command: str, env: dict) -> None:
        subprocess.run(
            [
                "tmux",
                "-S",
                self.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "watch",
                "-x",
                str(self.columns),
                "-y",
                str(self.rows),
                command,
            ],
            check=True,
            env=env,
            cwd=ROOT,
        )

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "watch")

    def cursor_visible(self) -> bool:
        return self("display-message", "-p", "-t", "watch", "#{cursor_flag}").strip() == "1"

    def resize(self, columns: int, rows: int) -> None:
        self("resize-window", "-t", "watch", "-x", str(columns), "-y", str(rows))

    def stop(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, check=False)


def marked_processes(marker: str) -> list[int]:
    """ansible-playbook processes whose command line holds MARKER: the run and its forked
    workers (which keep its command line), not the shell or tmux that started it."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    argv = handle.read().split(b"\0")
            except OSError:
                continue
            if any(marker.encode() in arg for arg in argv) and any(
                arg.endswith(b"/ansible-playbook") for arg in argv[:2]
            ):
                found.append(int(entry))
    return found


def wait_for(predicate, timeout: float, what: str, describe=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:g}s\n{describe()}")


def whole_frame_with(screen: str, labels: set[str]) -> str | None:
    """SCREEN when it starts with the frame's header and shows every one of LABELS."""
    if screen.startswith("gpufleet watch") and labels <= set(re.findall(r"demo-\d+", screen)):
        return screen
    return None


def problems_from_records(path) -> set[str]:
    """The VMs the operator must see, from the watch's own JSON records (their last state)."""
    last = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        last[record["host"]] = record
    return {
        name
        for name, record in last.items()
        if record["state"] == "unreachable"
        or record["health"] == "fail"
        or (record["health"] == "warn" and record["state"] != "loading")
    }


@pytest.fixture(scope="module")
def fleet_of_40(ansible_env, tmp_path_factory):
    """40 simulated VMs made by the demo (-e demo_size=40); the demo's own run lists them only."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/install-test-deps installs it)")
    hosts = tmp_path_factory.mktemp("fleet40") / "hosts"
    env = dict(ansible_env, GPUFLEET_DEMO_HOSTS=str(hosts))
    proc = run([DEMO, "-e", f"demo_size={FLEET_SIZE}", "--list-hosts"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return env, hosts.parent / "fleet" / "hyperstack.yml"


@pytest.mark.parametrize("stop_signal", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_forty_vms_every_problem_visible_after_resize_and_terminal_given_back(fleet_of_40, tmp_path, stop_signal):
    env, inventory = fleet_of_40
    marker = f"gpufleet_test_{uuid.uuid4().hex}"
    records = tmp_path / "watch.jsonl"
    exit_file = tmp_path / "exit"
    env = {key: value for key, value in env.items() if key != "ANSIBLE_NOCOLOR"}
    env.update(TERM="xterm-256color", GPUFLEET_DASHBOARD_JSON=str(records))
    tmux = Tmux(tmp_path, 160, 50)
    command = (
        f"{VENV_BIN / 'ansible-playbook'} -i {inventory} playbooks/watch.yml -e watch_interval=20 "
        f"-e {marker}=1; echo $? > {exit_file}; exec sleep 600"
    )  # the pane stays: its cursor is read
    tmux.start(command, env)
    try:
        polled = FLEET_SIZE
        wait_for(
            lambda: (
                records.exists()
                and len({json.loads(line)["host"] for line in records.read_text().splitlines()}) >= polled
            ),
            180,
            "every VM reported",
            tmux.screen,
        )
        problems = problems_from_records(records)
        assert len(problems) >= 8  # 4 CUDA OOM, 4 unreachable, by the demo's mix
        for columns, rows in ((160, 50), (80, 24), (120, 40)):
            if (columns, rows) != (160, 50):
                tmux.resize(columns, rows)
            # Redrawn within a second at the new size (the frame is fitted at every draw).
            screen = wait_for(
                lambda: whole_frame_with(tmux.screen(), problems),
                15,
                f"every problem VM visible at {columns}x{rows}",
                tmux.screen,
            )
            assert max(len(line) for line in screen.splitlines()) <= columns
        parent = min(marked_processes(marker))  # the workers are forked after it: higher process ids
        if stop_signal == "SIGINT":
            tmux("send-keys", "-t", "watch", "C-c")  # as typed
        else:
            os.kill(parent, getattr(signal, stop_signal))
        wait_for(exit_file.exists, 30, "ansible-playbook ended", tmux.screen)
        status = int(exit_file.read_text())
        # Ansible's exit codes: 99 for Ctrl-C; death by the signal for SIGTERM (its own handler)
        # and SIGHUP (no handler of its own), as the shell reports them (128 + signal).
        assert status == {"SIGINT": 99, "SIGTERM": 128 + signal.SIGTERM, "SIGHUP": 128 + signal.SIGHUP}[stop_signal]
        wait_for(
            lambda: not marked_processes(marker), 15, "no worker left behind", lambda: str(marked_processes(marker))
        )
        screen = tmux.screen()
        assert tmux.cursor_visible(), screen
        assert problems <= set(re.findall(r"demo-\d+", screen)), screen  # the last frame stays
        assert "Traceback" not in screen
    finally:
        tmux.stop()
        for pid in marked_processes(marker):
            os.kill(pid, signal.SIGKILL)
