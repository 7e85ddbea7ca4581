# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SSH test fleet (tests/fleet) itself: real sshd hosts in network namespaces, their
simulators, faults, teardown and crash cleanup, and the hypr files it writes for the inventory
plugin. The fleet tests need root and are skipped elsewhere; the file writers are tested anywhere."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._hypr_config import (
    expected_gpu_count,
    load_config,
    load_state,
    wireguard_ip,
)
from tests.fleet import harness, pytest_plugin
from tests.fleet.harness import Fleet, HostSpec

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ANSIBLE = os.path.join(REPO, ".venv", "bin", "ansible")
INVENTORY_PLUGIN = os.path.join(REPO, "plugins", "inventory", "hyperstack.py")
NVIDIA_SMI = "/opt/fakegpu/bin/nvidia-smi"
QUERY_NAMES = (NVIDIA_SMI, "--query-gpu=name", "--format=csv,noheader")

slow = pytest.mark.slow
# The fixture, for as long as no conftest registers tests.fleet.pytest_plugin.
ssh_fleet = pytest_plugin.ssh_fleet


def remote_gpu_names(fleet: Fleet, name: str) -> str:
    result = fleet.ssh(name, *QUERY_NAMES)
    assert result.returncode == 0, result.stderr
    return result.stdout


def local_gpu_names(fleet: Fleet, name: str) -> str:
    """What the host's simulator answers when run here, outside its namespaces."""
    tool = os.path.join(fleet.host(name).sim_dir, "bin", "nvidia-smi")
    return subprocess.run([tool, *QUERY_NAMES[1:]], capture_output=True, text=True, check=True).stdout


def timed_ssh(fleet: Fleet, name: str, connect_timeout: int = harness.CONNECT_TIMEOUT_SEC):
    started = time.monotonic()
    result = fleet.ssh(name, "true", connect_timeout=connect_timeout)
    return result, time.monotonic() - started


def netns_inodes(fleet: Fleet) -> list[int]:
    return [os.stat("/run/netns/" + host.netns).st_ino for host in fleet.hosts.values()]


# Files the fleet writes (no root needed) ----------------------------------------------------


def sample_host(tmp_path, index=7, name="vm3", scenario="busy-tp2"):
    return harness.Host(
        HostSpec(name, scenario, container="vllm_x", model="org/model-7B"),
        index,
        str(tmp_path / "hosts" / name),
        str(tmp_path),
    )


def test_host_toml_is_a_valid_hypr_config_for_the_namespace_address(tmp_path):
    host = sample_host(tmp_path)
    with open(host.toml_path, "w", encoding="utf-8") as handle:
        handle.write(harness.host_toml(host, "/fleet/id_ed25519", "n3-H100x2"))
    config, unknown = load_config(host.toml_path)
    assert unknown == []
    assert wireguard_ip(config) == "10.200.7.2"
    assert expected_gpu_count(config["vm"]["flavor_name"]) == 2
    assert {key: config["ssh"][key] for key in ("username", "port", "private_key_path", "connect_timeout_sec")} == {
        "username": "gpft",
        "port": 22,
        "private_key_path": "/fleet/id_ed25519",
        "connect_timeout_sec": 5,
    }
    assert (config["state"]["file"], config["vm"]["hostname"], config["network"]["wireguard_subnet"]) == (
        ".vm3-state.json",
        "vm3",
        "10.200.7.0/24",
    )
    assert (config["vllm"]["container_name"], config["vllm"]["model"]) == ("vllm_x", "org/model-7B")
    assert config["wireguard"] == {"auto_setup": False, "setup_script": "./wg1-setup.sh"}


def test_host_state_is_a_provisioned_hypr_state(tmp_path):
    host = sample_host(tmp_path)
    created = harness.datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=harness.datetime.timezone.utc)
    with open(host.state_path, "w", encoding="utf-8") as handle:
        json.dump(harness.host_state(host, "n3-H100x2", created), handle)
    state, problem = load_state(host.state_path)
    assert problem is None
    assert state == {
        "vm_id": 90007,
        "vm_name": "vm3-20260102030405",
        "environment_name": "gpft-test-fleet",
        "flavor_name": "n3-H100x2",
        "public_ip": "10.200.7.2",
        "status": "ACTIVE",
        "created_at": "2026-01-02T03:04:05Z",
        "provisioned_at": "2026-01-02T03:04:05Z",
        "vllm_model": "org/model-7B",
        "vllm_container_name": "vllm_x",
    }
    assert host.known_hosts == str(tmp_path / ".vm3-state.json.known_hosts")


def test_plugin_config_points_the_tools_at_the_simulator():
    assert harness.plugin_config().splitlines()[1:] == [
        "plugin: gpufleet.vllm.hyperstack",
        "config_files:",
        '  - "*.toml"',
        "address: wireguard_ip",
        "compose:",
        "  gpufleet_docker_path: \"'/opt/fakegpu/bin/docker'\"",
        "  gpufleet_nvidia_smi_path: \"'/opt/fakegpu/bin/nvidia-smi'\"",
        "  gpufleet_dmesg_path: \"'/opt/fakegpu/bin/dmesg'\"",
        "  gpufleet_journalctl_path: \"'/opt/fakegpu/bin/journalctl'\"",
        "  gpufleet_proc_path: \"'/opt/fakegpu/proc'\"",
        "  ansible_python_interpreter: \"'/usr/bin/python3'\"",
    ]


def test_sshd_config_has_the_required_options(tmp_path):
    lines = harness.sshd_config(sample_host(tmp_path), "/fleet/authorized_keys").splitlines()
    for line in (
        "ListenAddress 10.200.7.2:22",
        "PasswordAuthentication no",
        "UsePAM no",
        "MaxStartups 200",
        "PermitRootLogin no",
        "AllowUsers gpft",
        "AuthorizedKeysFile /fleet/authorized_keys",
        "HostKey %s/hosts/vm3/ssh_host_ed25519_key" % tmp_path,
        "PidFile %s/hosts/vm3/sshd.pid" % tmp_path,
    ):
        assert line in lines


@pytest.mark.parametrize(
    "cards, flavor",
    [
        (["NVIDIA A100 80GB PCIe"], "n3-A100x1"),
        (["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"], "n3-H100x2"),
        (["Some Card"], "n3-GPUx1"),
        ([], "n3-A100x1"),
    ],
)
def test_flavor_from_cards(cards, flavor):
    assert harness._flavor_from_cards(cards) == flavor


@pytest.mark.parametrize(
    "hosts, message",
    [
        (["vm1", "vm1"], "host names must be unique, got ['vm1', 'vm1']"),
        (["VM_1"], "host name 'VM_1' is not a lower-case DNS label (hypr's vm.hostname)"),
    ],
)
def test_bad_host_names_are_refused(hosts, message):
    with pytest.raises(harness.FleetError) as caught:
        Fleet(hosts)
    assert str(caught.value) == message


# Real hosts ------------------------------------------------------------------------------------


@slow
def test_each_host_answers_with_its_own_simulator(ssh_fleet):
    fleet = ssh_fleet([HostSpec("vm1", "busy"), HostSpec("vm2", "busy-tp2")])
    names = {name: remote_gpu_names(fleet, name) for name in ("vm1", "vm2")}
    assert names == {name: local_gpu_names(fleet, name) for name in ("vm1", "vm2")}
    assert [len(text.splitlines()) for text in names.values()] == [1, 2]
    assert names["vm1"] != names["vm2"]
    assert [fleet.ssh(name, "hostname").stdout for name in ("vm1", "vm2")] == ["vm1\n", "vm2\n"]
    for host in fleet.hosts.values():
        # accept-new recorded each host's own key, in that host's known-hosts file only.
        with open(host.host_key + ".pub", encoding="utf-8") as handle:
            key = handle.read().split()[:2]
        found = subprocess.run(
            ["ssh-keygen", "-F", host.address, "-f", host.known_hosts], capture_output=True, text=True, check=True
        ).stdout
        assert [line.split()[1:] for line in found.splitlines() if not line.startswith("#")] == [key]
        assert ipaddress.ip_address(host.address) in harness.NETWORK


@slow
def test_plain_ssh_command_from_the_brief_works(ssh_fleet):
    fleet = ssh_fleet(1)
    host = fleet.host("vm1")
    result = subprocess.run(
        [
            "ssh",
            "-i",
            fleet.key_path,
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "UserKnownHostsFile=" + host.known_hosts,
            "gpft@" + host.address,
            *QUERY_NAMES,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, local_gpu_names(fleet, "vm1"))


@slow
def test_host_down_fails_fast_and_host_up_restores(ssh_fleet):
    fleet = ssh_fleet(2)
    fleet.host_down("vm1")
    result, seconds = timed_ssh(fleet, "vm1")
    assert result.returncode == 255
    assert result.stderr.strip().splitlines()[-1] == "ssh: connect to host 10.200.%d.2 port 22: No route to host" % (
        fleet.host("vm1").index
    )
    assert seconds < 2
    assert fleet.ssh("vm2", "true").returncode == 0
    fleet.host_up("vm1")
    assert fleet.ssh("vm1", "true").returncode == 0


@slow
def test_silent_host_down_times_out(ssh_fleet):
    fleet = ssh_fleet(1)
    fleet.host_down("vm1", silent=True)
    result, seconds = timed_ssh(fleet, "vm1", connect_timeout=1)
    assert result.returncode == 255
    assert result.stderr.strip().splitlines()[-1] == "ssh: connect to host %s port 22: Connection timed out" % (
        fleet.host("vm1").address
    )
    assert 0.9 < seconds < 3
    fleet.host_up("vm1")
    assert fleet.ssh("vm1", "true").returncode == 0


@slow
def test_killed_sshd_refuses_and_restarts(ssh_fleet):
    fleet = ssh_fleet(1)
    fleet.kill_sshd("vm1")
    result, seconds = timed_ssh(fleet, "vm1")
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (
        255,
        "ssh: connect to host %s port 22: Connection refused" % fleet.host("vm1").address,
    )
    assert seconds < 2
    fleet.start_sshd("vm1")
    assert fleet.ssh("vm1", "true").returncode == 0


@slow
def test_tcp_blackhole_hangs_until_connect_timeout(ssh_fleet):
    fleet = ssh_fleet(1)
    fleet.tcp_blackhole("vm1")
    result, seconds = timed_ssh(fleet, "vm1", connect_timeout=1)
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (
        255,
        "Connection to %s port 22 timed out" % fleet.host("vm1").address,
    )
    assert 0.9 < seconds < 3
    fleet.start_sshd("vm1")
    assert fleet.ssh("vm1", "true").returncode == 0


@slow
def test_rotated_host_key_is_refused(ssh_fleet):
    fleet = ssh_fleet(1)
    assert fleet.ssh("vm1", "true").returncode == 0
    fleet.rotate_host_key("vm1")
    result = fleet.ssh("vm1", "true")
    assert result.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "Host key verification failed."


@slow
def test_simulator_faults_and_scenario_switch(ssh_fleet):
    fleet = ssh_fleet(2)
    fleet.simulator_set("vm1", nvidia_smi="driver_not_loaded")
    assert fleet.ssh("vm1", *QUERY_NAMES).returncode == 9
    assert fleet.ssh("vm2", *QUERY_NAMES).returncode == 0
    fleet.set_scenario("vm2", "busy-tp2")
    assert remote_gpu_names(fleet, "vm2") == local_gpu_names(fleet, "vm2")
    assert len(remote_gpu_names(fleet, "vm2").splitlines()) == 2
    config = load_config(fleet.host("vm2").toml_path)[0]
    assert config["vm"]["flavor_name"] == "n3-H100x2"


@slow
def test_teardown_leaves_nothing_behind_even_after_a_failure(ssh_fleet):
    fleet = Fleet(2)
    with pytest.raises(RuntimeError), fleet:
        inodes = netns_inodes(fleet)
        namespaces = [host.netns for host in fleet.hosts.values()]
        # An ssh master that outlives its command, as Ansible's ControlPersist leaves one.
        control = os.path.join(fleet.dir, "control-%C")
        master = fleet.ssh_argv("vm1", "true")
        master[1:1] = ["-o", "ControlMaster=yes", "-o", "ControlPersist=300", "-o", "ControlPath=" + control]
        assert subprocess.run(master, capture_output=True, timeout=30, check=False).returncode == 0
        assert harness.processes_connected_to([ipaddress.ip_network(fleet.host("vm1").subnet)])
        assert harness.processes_in_netns(inodes)
        raise RuntimeError("the test failed")
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert [name for name in namespaces if name in listed.split()] == []
    assert harness.processes_in_netns(inodes) == []
    assert harness.processes_mentioning(fleet.dir) == []
    assert harness.processes_connected_to([harness.NETWORK]) == []
    assert [name for name in (host.veth for host in fleet.hosts.values()) if harness._link_exists(name)] == []
    assert [host.subnet for host in fleet.hosts.values() if harness._guard_route_exists(host.subnet)] == []
    assert not os.path.exists(fleet.dir)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "tests.fleet", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


@slow
def test_cli_fleet_outlives_its_process_until_down(ssh_fleet):
    started = run_cli("up", "-n", "2", "-s", "busy", "-s", "idle")
    assert started.returncode == 0, started.stderr
    report = json.loads(started.stdout)
    fleet = Fleet.attach(report["dir"])
    try:
        assert [row["scenario"] for row in report["hosts"]] == ["busy", "idle"]
        assert remote_gpu_names(fleet, "vm2") == local_gpu_names(fleet, "vm2")
        inodes = netns_inodes(fleet)
    finally:
        stopped = run_cli("down", report["dir"])
    assert stopped.returncode == 0, stopped.stderr
    assert harness.processes_in_netns(inodes) == []
    assert not os.path.exists(report["dir"])


@slow
def test_cleanup_removes_a_crashed_fleet(ssh_fleet):
    if any(harness.leftovers().values()):
        pytest.skip("another fleet is running on this machine; cleanup would stop it too")
    started = run_cli("up", "-n", "2")
    assert started.returncode == 0, started.stderr
    left = harness.leftovers()
    assert [len(left[kind]) for kind in ("namespaces", "links", "routes", "dirs")] == [2, 2, 2, 1]
    assert len(left["processes"]) >= 2
    cleaned = run_cli("cleanup")
    assert cleaned.returncode == 0, cleaned.stderr
    assert json.loads(cleaned.stdout)["namespaces"] == left["namespaces"]
    assert harness.leftovers() == {"namespaces": [], "links": [], "routes": [], "dirs": [], "processes": []}


@slow
@pytest.mark.skipif(
    not os.path.exists(INVENTORY_PLUGIN), reason="the inventory plugin gpufleet.vllm.hyperstack is not there yet"
)
def test_ansible_pings_every_host_through_the_inventory_plugin(ssh_fleet, tmp_path):
    fleet = ssh_fleet(2)
    env = {**os.environ, "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")}
    result = subprocess.run(
        [ANSIBLE, "-i", fleet.inventory, "all", "-m", "ansible.builtin.ping"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(line for line in result.stdout.splitlines() if "SUCCESS" in line) == [
        "vm1 | SUCCESS => {",
        "vm2 | SUCCESS => {",
    ]
    assert result.stdout.count('"ping": "pong"') == 2
