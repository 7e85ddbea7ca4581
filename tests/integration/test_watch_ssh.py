# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""watch.yml over real SSH (sshd hosts in network namespaces, the real inventory plugin):
a host that goes down mid-watch is shown unreachable while the others keep refreshing, and
rejoins when it comes back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import ROOT, VENV_BIN, LineReader
from tests.fleet import HostSpec

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("strategy", ["linear", "mitogen_linear"])
def test_host_down_mid_watch_comes_back(ssh_fleet, ansible_env, strategy):
    fleet = ssh_fleet([HostSpec("gpu-a", "busy"), HostSpec("gpu-b", "idle")])
    # No key is known yet: under Mitogen (strict host-key checking) watch.yml records them first.
    assert all(Path(fleet.host(name).known_hosts).read_text(encoding="utf-8") == "" for name in fleet.hosts)
    process = subprocess.Popen(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            str(fleet.inventory),
            "playbooks/watch.yml",
            "-e",
            "watch_interval=1",
            "-e",
            "watch_cycles=40",
        ],
        cwd=ROOT,
        env=dict(ansible_env, ANSIBLE_STRATEGY=strategy),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    reader = LineReader(process)
    try:
        reader.wait_for(lambda line: line.startswith("gpu-a serving "), 60)
        reader.wait_for(lambda line: line.startswith("gpu-b idle "), 60)
        fleet.host_down("gpu-a")
        down_at = reader.wait_for(lambda line: line.startswith("gpu-a unreachable "), 40)
        # A collection in flight when the link dies is reported as such first (ssh's words, or
        # Mitogen's); the next refresh dials again and gets ssh's cause.
        in_flight = "connection lost while collecting" if strategy == "linear" else "Mitogen was disconnected"
        if "No route to host" not in reader.lines[down_at]:
            assert in_flight in reader.lines[down_at], reader.lines[down_at]
            down_at = reader.wait_for(
                lambda line: line.startswith("gpu-a unreachable ") and "No route to host" in line, 20, start=down_at
            )
        if strategy == "linear":
            assert "ssh: connect to host" in reader.lines[down_at]
        # The other host keeps refreshing while gpu-a is down.
        reader.wait_for(lambda line: line.startswith("gpu-b idle "), 10, start=down_at)
        fleet.host_up("gpu-a")
        up_at = reader.wait_for(lambda line: line.startswith("gpu-a serving "), 30, start=down_at)
        assert up_at > down_at
    finally:
        process.kill()
        process.wait()
