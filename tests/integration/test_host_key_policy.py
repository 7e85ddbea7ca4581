# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host-key policy of gpufleet.vllm.hyperstack survives the environment of every runner.

ansible-runner (and so AWX, AAP and ansible-navigator) exports ANSIBLE_HOST_KEY_CHECKING=False.
Without the inventory's per-host pin, Ansible would put ``-o StrictHostKeyChecking=no`` ahead of
the inventory's ``accept-new`` and ssh would silently take a changed host key. Real runs against
a real sshd whose key changed: plain ansible-playbook with the variable set, ansible-runner, and
the Mitogen strategy. Each must refuse the re-keyed host, keep its known-hosts file as it was,
and still reach the host whose key did not change."""

from __future__ import annotations

import re
import subprocess

import pytest

from support import VENV_BIN, running_fleet
from tests.fleet import HostSpec

pytestmark = pytest.mark.slow

STEADY, REKEYED = "gpu-steady", "gpu-rekeyed"
PLAYBOOK = """\
- name: Host-key policy probe
  hosts: all
  gather_facts: false
  tasks:
    - name: Show the host-key setting of the environment
      ansible.builtin.debug:
        msg: "ANSIBLE_HOST_KEY_CHECKING={{ lookup('ansible.builtin.env', 'ANSIBLE_HOST_KEY_CHECKING') }}"
      run_once: true
    - name: Reach the host
      ansible.builtin.ping:
"""
# ssh's (and Mitogen's) words for a known host that shows another key.
REFUSED = re.compile(
    r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed"
    r"|SSH reported an unrecognized or mismatching host key"
)  # the last: Mitogen
# -vvv shows each ssh command as "SSH: EXEC ssh ... <address> '/bin/sh -c ...'".
SSH_EXEC = re.compile(r"SSH: EXEC (ssh .*)")


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def rekeyed_fleet():
    """Two hosts whose keys are known (recorded by hypr's own ssh call); then one gets a new key."""
    with running_fleet([HostSpec(STEADY, "busy"), HostSpec(REKEYED, "busy")]) as fleet:
        for name in (STEADY, REKEYED):
            first = fleet.ssh(name, "true")
            assert first.returncode == 0, first.stderr
        fleet.rotate_host_key(REKEYED)
        fleet.known_hosts_before = {name: read_text(fleet.host(name).known_hosts) for name in (STEADY, REKEYED)}
        yield fleet


def run_env(ansible_env: dict, tmp_path, **extra) -> dict:
    """A fresh ssh control-path folder per run: no ControlPersist master outlives a run into the next."""
    control = tmp_path / "cp"
    control.mkdir()
    return dict(ansible_env, ANSIBLE_SSH_CONTROL_PATH_DIR=str(control), ANSIBLE_STDOUT_CALLBACK="default", **extra)


def assert_rekeyed_host_refused(fleet, output: str) -> None:
    """The re-keyed host unreachable with ssh's key-change refusal, the other reached, and no
    known-hosts file changed."""
    assert re.search(r"fatal: \[%s\]: UNREACHABLE!" % REKEYED, output), output
    assert REFUSED.search(output), output
    assert re.search(r"\n%s +: ok=\d+ +changed=0 +unreachable=1 +failed=0 " % REKEYED, output), output
    assert re.search(r"\n%s +: ok=\d+ +changed=0 +unreachable=0 +failed=0 " % STEADY, output), output
    for name, before in fleet.known_hosts_before.items():
        assert read_text(fleet.host(name).known_hosts) == before, name


def assert_ssh_keeps_accept_new(output: str) -> None:
    """Every ssh command Ansible ran says StrictHostKeyChecking once, and accept-new."""
    commands = SSH_EXEC.findall(output)
    assert commands, output
    for command in commands:
        assert re.findall(r"StrictHostKeyChecking=\S+", command) == ["StrictHostKeyChecking=accept-new"], command


def write_playbook(folder) -> str:
    path = folder / "probe.yml"
    path.write_text(PLAYBOOK)
    return str(path)


def test_ansible_playbook_with_host_key_checking_off_refuses_a_changed_key(rekeyed_fleet, ansible_env, tmp_path):
    env = run_env(ansible_env, tmp_path, ANSIBLE_HOST_KEY_CHECKING="False")
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-vvv", "-i", rekeyed_fleet.inventory, write_playbook(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output  # 4: a host was unreachable
    assert "ANSIBLE_HOST_KEY_CHECKING=False" in output
    assert_rekeyed_host_refused(rekeyed_fleet, output)
    assert_ssh_keeps_accept_new(output)


def test_ansible_runner_refuses_a_changed_key(rekeyed_fleet, ansible_env, tmp_path):
    """ansible-runner sets ANSIBLE_HOST_KEY_CHECKING=False itself (the environment here has none)."""
    assert "ANSIBLE_HOST_KEY_CHECKING" not in ansible_env
    private_data_dir = tmp_path / "runner"
    (private_data_dir / "project").mkdir(parents=True)
    write_playbook(private_data_dir / "project")
    env = run_env(ansible_env, tmp_path)
    del env["ANSIBLE_SSH_CONTROL_PATH_DIR"]  # ansible-runner picks its own, inside private_data_dir
    proc = subprocess.run(
        [
            str(VENV_BIN / "ansible-runner"),
            "run",
            str(private_data_dir),
            "-p",
            "probe.yml",
            "--inventory",
            rekeyed_fleet.inventory,
            "-vvv",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert "ANSIBLE_HOST_KEY_CHECKING=False" in output
    assert_rekeyed_host_refused(rekeyed_fleet, output)
    assert_ssh_keeps_accept_new(output)


@pytest.mark.skipif(
    not (VENV_BIN.parent / "mitogen-strategy").is_dir(), reason="needs Mitogen's strategies (scripts/bootstrap)"
)
def test_mitogen_with_host_key_checking_off_refuses_a_changed_key(rekeyed_fleet, ansible_env, tmp_path):
    env = run_env(ansible_env, tmp_path, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_STRATEGY="mitogen_linear")
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", rekeyed_fleet.inventory, write_playbook(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert "ANSIBLE_HOST_KEY_CHECKING=False" in output
    assert_rekeyed_host_refused(rekeyed_fleet, output)
