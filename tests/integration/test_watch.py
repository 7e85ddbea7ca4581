# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End-to-end runs of playbooks/watch.yml on the demo fleet (scripts/demo, the README's first
command), without a terminal, with JSON lines, and under a pseudo-terminal with Ctrl-C."""

from __future__ import annotations

import collections
import json
import os
import re
import time

import pytest

from support import ROOT, PtyRun, run

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
    assert {name: len(lines) for name, lines in by_host.items()} == {
        **{name: 2 for name in POLLED}, "demo-new": 1}
    assert by_host["demo-busy"][-1].startswith("demo-busy serving gpu=2/2 ")
    assert "gen=176.5tok/s prompt=2345.6tok/s run=7 wait=0 kv=38.9%" in by_host["demo-busy"][-1]
    assert by_host["demo-idle"][-1].startswith("demo-idle idle ")
    assert by_host["demo-oom"][-1].startswith("demo-oom failed error=cuda_oom ")
    assert "CUDA out of memory" in by_host["demo-oom"][-1]
    assert by_host["demo-loading"][-1].startswith("demo-loading loading stage=")
    assert by_host["demo-down"][-1].startswith("demo-down unreachable ")
    assert "Connection refused" in by_host["demo-down"][-1]
    assert by_host["demo-new"][0].startswith("demo-new not_provisioned ")
    assert "gpufleet watch ended after" in proc.stdout


def test_json_lines(demo_env, tmp_path):
    path = tmp_path / "watch.jsonl"
    proc = run([DEMO, "-e", "watch_cycles=2", "-e", "watch_interval=1"],
               dict(demo_env, GPUFLEET_DASHBOARD_JSON=str(path)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert {record["schema_version"] for record in records} == {1}
    states = {record["host"]: record["state"] for record in records}
    assert states == {"demo-busy": "serving", "demo-down": "unreachable", "demo-idle": "idle",
                      "demo-loading": "loading", "demo-oom": "failed", "demo-new": "not_provisioned"}
    busy = [record for record in records if record["host"] == "demo-busy"]
    assert len(busy) == 2
    assert [device["name"] for device in busy[-1]["document"]["gpu"]["devices"]] == ["NVIDIA H100 80GB HBM3"] * 2


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
    assert "gpufleet watch" in plain and "Ctrl-C to stop" in plain
    for title in ("demo-busy  demo2.wg1  Qwen3-32B-AWQ", "demo-down  127.0.0.1", "demo-idle  demo3.wg1",
                  "demo-loading  demo1.wg1", "demo-oom  demo4.wg1", "demo-new  demo6.wg1"):
        assert title in plain
    assert "NVIDIA H100 80GB HBM3" in plain and "failed: cuda_oom" in plain and "not provisioned" in plain
    assert "VMs healthy" in plain
    # The cursor is hidden while drawing and shown again at the end.
    assert text.rfind(SHOW_CURSOR) > text.rfind(HIDE_CURSOR) > -1


def test_ctrl_c_leaves_the_last_frame_and_restores_the_cursor(demo_env):
    session = PtyRun([DEMO, "-e", "watch_interval=1"], demo_env)
    try:
        assert session.read_until(lambda text: "demo-busy" in text and "serving" in text, 90), session.text
        started = time.monotonic()
        os.write(session.master, b"\x03")  # Ctrl-C as typed: the terminal sends SIGINT
        rc = session.wait(30)
        stopped_in = time.monotonic() - started
    finally:
        session.close()
    assert rc == 99, session.text[-2000:]
    assert stopped_in < 10
    text = session.text
    assert text.rfind(SHOW_CURSOR) > text.rfind(HIDE_CURSOR) > -1
    tail = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text[text.rfind(HIDE_CURSOR):])
    assert "demo-busy" in tail and "╰" in tail
