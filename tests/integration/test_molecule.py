# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The molecule scenarios of the health role (extensions/molecule/), run with ``molecule test``
from the repository root as a developer would: create the simulated VMs, converge (the role in
check or wait mode), verify (verify.yml asserts each VM's outcome), destroy. ``ssh_fleet`` runs
the role over real SSH against the SSH test fleet (tests/fleet), which needs root and ``ip netns``."""

from __future__ import annotations

import re

import pytest

from support import ROOT, VENV_BIN, run
from tests.fleet import harness

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;;[^\x1b]*\x1b\\")


# Where extensions/molecule/ssh_fleet starts its fleet (fleet_dir of its inventory/hosts.yml).
SSH_FLEET_DIR = ROOT / ".cache" / "molecule" / "ssh_fleet" / "fleet"


@pytest.mark.parametrize("scenario", ["health_check", "health_wait", "ssh_fleet"])
def test_scenario(scenario, ansible_env):
    reason = harness.unavailable_reason() if scenario == "ssh_fleet" else None
    if reason:
        pytest.skip(reason)
    # Molecule writes its own ansible.cfg; the scenarios' config.yml points ansible at the checkout.
    env = {key: value for key, value in ansible_env.items() if key != "ANSIBLE_CONFIG"}
    proc = run([str(VENV_BIN / "molecule"), "test", "-s", scenario], env, timeout=600)
    output = ANSI.sub("", proc.stdout + proc.stderr)
    assert proc.returncode == 0, output[-6000:]
    # The closing summary: one line per action ("➜" on a terminal, ">" otherwise), then the recap.
    for action in ("create", "converge", "verify", "destroy"):
        assert re.search(rf"^{scenario} (?:>|➜) {action}: Executed: Successful", output, re.M), action
    assert re.search(
        rf"^{scenario} +: actions=6 +successful=6 +disabled=0 +skipped=0 +missing=0 +failed=0", output, re.M
    )
    if scenario == "ssh_fleet":
        # destroy.yml stopped the fleet: its dir is gone and no process (sshd, ssh master) names it.
        assert not SSH_FLEET_DIR.exists()
        assert harness.processes_mentioning(str(SSH_FLEET_DIR)) == []
