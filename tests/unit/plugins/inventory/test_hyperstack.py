# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the gpufleet.vllm.hyperstack inventory plugin: _populate() with a real InventoryData
on real hypr files (fixtures/hypr is hypr's own examples, fixtures/edge the edge cases)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess

import pytest
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.template import is_trusted_as_template, trust_as_template

from ansible_collections.gpufleet.vllm.plugins.inventory.hyperstack import (
    InventoryModule,
    expand_config_files,
    host_label,
    refused_label,
    ssh_common_args,
)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
HYPR = os.path.join(FIXTURES, "hypr")
EDGE = os.path.join(FIXTURES, "edge")
# The documented defaults of the plugin's options (ours and ansible.builtin.constructed's).
OPTION_DEFAULTS = {
    "address": "wireguard_hostname",
    "compose": {},
    "groups": {},
    "keyed_groups": [],
    "strict": False,
    "leading_separator": True,
    "use_extra_vars": False,
}
SSH_TAIL = (
    "-o StrictHostKeyChecking=accept-new -o ConnectTimeout={} -o ServerAliveInterval=5 "
    "-o ServerAliveCountMax=3 -o BatchMode=yes"
)
JINJA_ID = "{{ lookup('pipe', 'id') }}"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty HOME, so that ~/.ssh/id_rsa of the machine running the tests plays no part."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


def trusted(value):
    """Mark strings as Ansible marks everything in a plugin's own configuration file: trusted."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    return value


@pytest.fixture
def make_plugin(monkeypatch, home):
    """Build the plugin with a fresh InventoryData and the given options; collect its warnings."""
    warnings: list[str] = []

    def build(config_files, **options):
        plugin = InventoryModule()
        plugin.inventory = InventoryData()
        plugin.loader = DataLoader()
        values = trusted({**OPTION_DEFAULTS, "config_files": config_files, **options})
        monkeypatch.setattr(plugin, "get_option", values.__getitem__)
        monkeypatch.setattr(plugin.display, "warning", lambda message, *args, **kwargs: warnings.append(message))
        return plugin

    build.warnings = warnings
    return build


def host_vars(plugin, name):
    """The variables the plugin set on a host (without those InventoryData adds itself)."""
    variables = dict(plugin.inventory.get_host(name).vars)
    del variables["inventory_file"], variables["inventory_dir"]
    return variables


def group_hosts(plugin):
    """Members of each group; the group ollama only when it has some (the Ollama tests check it)."""
    return {
        name: sorted(host.name for host in group.get_hosts())
        for name, group in plugin.inventory.groups.items()
        if name not in ("all", "ungrouped") and (name != "ollama" or group.get_hosts())
    }


def hypr_vm1_vars(address_host="hyperstack1.wg1"):
    state = os.path.join(HYPR, ".hyperstack-vm1-state.json")
    return {
        "ansible_host": address_host,
        "ansible_user": "ubuntu",
        "ansible_port": 22,
        "ansible_ssh_common_args": f"-o 'UserKnownHostsFile=\"{state}.known_hosts\"' " + SSH_TAIL.format(10),
        "ansible_ssh_timeout": 10,
        "ansible_ssh_host_key_checking": True,
        "mitogen_ssh_keepalive_interval": 5,
        "mitogen_ssh_keepalive_count": 3,
        "hyperstack_label": "hyperstack-vm1",
        "hyperstack_config_path": os.path.join(HYPR, "hyperstack-vm1.toml"),
        "hyperstack_state_path": state,
        "hyperstack_state_error": None,
        "hyperstack_provisioned": True,
        "hyperstack_vm_id": 418823,
        "hyperstack_vm_name": "hyperstack1-20261126091502",
        "hyperstack_public_ip": "38.80.122.17",
        "hyperstack_flavor": "n3-A100x1",
        "hyperstack_region": "CANADA-1",
        "hyperstack_status": "ACTIVE",
        "hyperstack_expected_gpu_count": 1,
        "hyperstack_labels": ["qwen36-27b", "wireguard"],
        "hyperstack_vllm_model": "Qwen/Qwen3.6-27B-FP8",
        "hyperstack_vllm_container": "vllm_qwen36_27b",
        "hyperstack_vllm_preset": "qwen36-27b",
        "hyperstack_vllm_port": 11434,
        "hyperstack_tensor_parallel_size": 1,
        "hyperstack_vllm_enabled": True,
        "hyperstack_ollama_enabled": False,
        "hyperstack_service": "vllm",
        "hyperstack_wireguard_hostname": "hyperstack1.wg1",
        "hyperstack_wireguard_ip": "192.168.3.1",
    }


def hypr_vm2_vars(address_host="hyperstack2.wg1"):
    state = os.path.join(HYPR, ".hyperstack-vm2-state.json")
    return {
        "ansible_host": address_host,
        "ansible_user": "ubuntu",
        "ansible_port": 22,
        "ansible_ssh_common_args": f"-o 'UserKnownHostsFile=\"{state}.known_hosts\"' " + SSH_TAIL.format(10),
        "ansible_ssh_timeout": 10,
        "ansible_ssh_host_key_checking": True,
        "mitogen_ssh_keepalive_interval": 5,
        "mitogen_ssh_keepalive_count": 3,
        "hyperstack_label": "hyperstack-vm2",
        "hyperstack_config_path": os.path.join(HYPR, "hyperstack-vm2.toml"),
        "hyperstack_state_path": state,
        "hyperstack_state_error": "state file does not exist",
        "hyperstack_provisioned": False,
        "hyperstack_vm_id": None,
        "hyperstack_vm_name": None,
        "hyperstack_public_ip": None,
        "hyperstack_flavor": "n3-A100x1",
        "hyperstack_region": None,
        "hyperstack_status": None,
        "hyperstack_expected_gpu_count": 1,
        "hyperstack_labels": ["gemma4-31b", "wireguard"],
        "hyperstack_vllm_model": "cyankiwi/gemma-4-31B-it-AWQ-4bit",
        "hyperstack_vllm_container": "vllm_gemma4_31b",
        "hyperstack_vllm_preset": None,
        "hyperstack_vllm_port": 11434,
        "hyperstack_tensor_parallel_size": 1,
        "hyperstack_vllm_enabled": True,
        "hyperstack_ollama_enabled": False,
        "hyperstack_service": "vllm",
        "hyperstack_wireguard_hostname": "hyperstack2.wg1",
        "hyperstack_wireguard_ip": "192.168.3.3",
    }


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("hyperstack.yml", True),
        ("hyperstack.yaml", True),
        ("fleet.hyperstack.yml", True),
        ("fleet.hyperstack.yaml", True),
        ("hyperstack-vm1.toml", False),
        ("hyperstack.toml", False),
        ("inventory.yml", False),
        ("myhyperstack.yml", False),
        ("hyperstack.yml.bak", False),
    ],
)
def test_verify_file(tmp_path, name, accepted):
    path = tmp_path / name
    path.write_text("plugin: gpufleet.vllm.hyperstack\n")
    assert InventoryModule().verify_file(str(path)) is accepted


def test_verify_file_needs_an_existing_file(tmp_path):
    assert InventoryModule().verify_file(str(tmp_path / "hyperstack.yml")) is False


def test_expand_config_files(tmp_path, home):
    hypr_dir = tmp_path / "hypr"
    (hypr_dir / "old").mkdir(parents=True)
    for name in ("hyperstack-vm2.toml", "hyperstack-vm1.toml", "old/hyperstack-vm.toml", "notes.md"):
        (hypr_dir / name).write_text("")
    (hypr_dir / "dir.toml").mkdir()
    (home / "cfg").mkdir()
    (home / "cfg" / "gpu.toml").write_text("")

    files, unmatched = expand_config_files(
        ["hypr/hyperstack-vm*.toml", "hypr/*.toml", "~/cfg/*.toml", str(hypr_dir / "**" / "*.toml"), "none/*.toml"],
        str(tmp_path),
    )

    assert files == [
        str(hypr_dir / "hyperstack-vm1.toml"),
        str(hypr_dir / "hyperstack-vm2.toml"),
        str(home / "cfg" / "gpu.toml"),
        str(hypr_dir / "old" / "hyperstack-vm.toml"),
    ]
    assert unmatched == [("none/*.toml", str(tmp_path / "none" / "*.toml"))]


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/srv/hypr/hyperstack-vm1.toml", "hyperstack-vm1"),
        ("/srv/hypr/hyperstack-vm1-coder.toml", "hyperstack-vm1-coder"),
        ("/srv/hypr/vm.toml.toml", "vm.toml"),
        ("/srv/hypr/vm.conf", "vm.conf"),
    ],
)
def test_host_label(path, label):
    assert host_label(path) == label


@pytest.mark.parametrize(
    ("known_hosts", "timeout", "expected"),
    [
        (
            "/srv/hypr/.s.json.known_hosts",
            10,
            "-o 'UserKnownHostsFile=\"/srv/hypr/.s.json.known_hosts\"' " + SSH_TAIL.format(10),
        ),
        (
            "/srv/my hypr/s.known_hosts",
            3,
            "-o 'UserKnownHostsFile=\"/srv/my hypr/s.known_hosts\"' " + SSH_TAIL.format(3),
        ),
        (
            "/srv/it's/100%/a\"b\\c",
            10,
            "-o 'UserKnownHostsFile=\"/srv/it'\"'\"'s/100%%/a\\\"b\\\\c\"' " + SSH_TAIL.format(10),
        ),
    ],
)
def test_ssh_common_args(known_hosts, timeout, expected):
    assert ssh_common_args(known_hosts, timeout) == expected


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")
@pytest.mark.parametrize("known_hosts", ["/srv/hypr/.s.json.known_hosts", '/srv/100%/a"b/c', "/srv/x'y/z"])
def test_ssh_reads_the_options_as_hypr_passes_them(known_hosts):
    # Split as Ansible splits ssh_common_args (shlex), then ask ssh what it understood.
    args = shlex.split(ssh_common_args(known_hosts, 7))
    result = subprocess.run(
        ["ssh", "-G", *args, "vm.invalid"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"], "HOME": "/nonexistent"},
    )
    config = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert (
        config["userknownhostsfile"],
        config["stricthostkeychecking"],
        config["connecttimeout"],
        config["serveraliveinterval"],
        config["serveralivecountmax"],
        config["batchmode"],
    ) == (known_hosts, "accept-new", "7", "5", "3", "yes")


def test_populate_hypr_examples(make_plugin):
    plugin = make_plugin([os.path.join(HYPR, "hyperstack-vm*.toml")])
    plugin._populate("/unused")

    assert sorted(plugin.inventory.hosts) == ["hyperstack-vm1", "hyperstack-vm2"]
    assert host_vars(plugin, "hyperstack-vm1") == hypr_vm1_vars()
    assert host_vars(plugin, "hyperstack-vm2") == hypr_vm2_vars()
    assert group_hosts(plugin) == {"provisioned": ["hyperstack-vm1"], "unprovisioned": ["hyperstack-vm2"]}
    state2 = os.path.join(HYPR, ".hyperstack-vm2-state.json")
    assert make_plugin.warnings == [
        f"hyperstack-vm2: state file does not exist ({state2}); the host is marked not provisioned"
    ]


def test_populate_resolves_relative_patterns_against_the_config_folder(make_plugin):
    plugin = make_plugin(["hypr/hyperstack-vm1.toml"])
    plugin._populate(FIXTURES)
    assert host_vars(plugin, "hyperstack-vm1") == hypr_vm1_vars()


def test_populate_sets_the_key_file_only_when_it_exists(make_plugin, home):
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("placeholder, not a key")
    plugin = make_plugin([os.path.join(HYPR, "hyperstack-vm1.toml")])
    plugin._populate("/unused")
    assert host_vars(plugin, "hyperstack-vm1") == {
        **hypr_vm1_vars(),
        "ansible_ssh_private_key_file": str(home / ".ssh" / "id_rsa"),
    }


@pytest.mark.parametrize(
    ("address", "vm1_host", "vm2_host"),
    [
        ("wireguard_hostname", "hyperstack1.wg1", "hyperstack2.wg1"),
        ("wireguard_ip", "192.168.3.1", "192.168.3.3"),
        # VM2 has no state, so no public IP: it keeps the WireGuard hostname.
        ("public_ip", "38.80.122.17", "hyperstack2.wg1"),
    ],
)
def test_populate_address(make_plugin, address, vm1_host, vm2_host):
    plugin = make_plugin([os.path.join(HYPR, "*.toml")], address=address)
    plugin._populate("/unused")
    assert host_vars(plugin, "hyperstack-vm1") == hypr_vm1_vars(vm1_host)
    assert host_vars(plugin, "hyperstack-vm2") == hypr_vm2_vars(vm2_host)


def test_populate_preset_named_by_state(make_plugin):
    plugin = make_plugin([os.path.join(EDGE, "preset.toml")], address="public_ip")
    plugin._populate("/unused")
    state = os.path.join(EDGE, ".preset-state.json")
    assert host_vars(plugin, "preset") == {
        "ansible_host": "198.51.100.23",
        "ansible_user": "operator",
        "ansible_port": 2222,
        "ansible_ssh_common_args": f"-o 'UserKnownHostsFile=\"{state}.known_hosts\"' " + SSH_TAIL.format(5),
        "ansible_ssh_timeout": 5,
        "ansible_ssh_host_key_checking": True,
        "mitogen_ssh_keepalive_interval": 5,
        "mitogen_ssh_keepalive_count": 3,
        "ansible_ssh_private_key_file": os.path.join(EDGE, "id_placeholder"),
        "hyperstack_label": "preset",
        "hyperstack_config_path": os.path.join(EDGE, "preset.toml"),
        "hyperstack_state_path": state,
        "hyperstack_state_error": None,
        "hyperstack_provisioned": True,
        "hyperstack_vm_id": "vm-7781",
        "hyperstack_vm_name": "hyperstack-20261127100000",
        "hyperstack_public_ip": "198.51.100.23",
        "hyperstack_flavor": "n3-H100x8",
        "hyperstack_region": "NORWAY-1",
        "hyperstack_status": "ACTIVE",
        "hyperstack_expected_gpu_count": 8,
        "hyperstack_labels": [],
        "hyperstack_vllm_model": "cyankiwi/NVIDIA-Nemotron-3-Super-120B-A12B-AWQ-4bit",
        "hyperstack_vllm_container": "vllm_nemotron_super",
        "hyperstack_vllm_preset": "big",
        "hyperstack_vllm_port": 8000,
        "hyperstack_tensor_parallel_size": 8,
        "hyperstack_vllm_enabled": True,
        "hyperstack_ollama_enabled": False,
        "hyperstack_service": "vllm",
        "hyperstack_wireguard_hostname": "gpu8.wg0",
        "hyperstack_wireguard_ip": "10.77.0.1",
    }
    assert make_plugin.warnings == []


def test_populate_minimal_config_takes_hypr_defaults(make_plugin):
    plugin = make_plugin([os.path.join(EDGE, "minimal.toml")])
    plugin._populate("/unused")
    state = os.path.join(EDGE, ".hyperstack-vm-state.json")
    assert host_vars(plugin, "minimal") == {
        "ansible_host": "hyperstack.wg1",
        "ansible_user": "ubuntu",
        "ansible_port": 22,
        "ansible_ssh_common_args": f"-o 'UserKnownHostsFile=\"{state}.known_hosts\"' " + SSH_TAIL.format(10),
        "ansible_ssh_timeout": 10,
        "ansible_ssh_host_key_checking": True,
        "mitogen_ssh_keepalive_interval": 5,
        "mitogen_ssh_keepalive_count": 3,
        "hyperstack_label": "minimal",
        "hyperstack_config_path": os.path.join(EDGE, "minimal.toml"),
        "hyperstack_state_path": state,
        "hyperstack_state_error": "state file does not exist",
        "hyperstack_provisioned": False,
        "hyperstack_vm_id": None,
        "hyperstack_vm_name": None,
        "hyperstack_public_ip": None,
        "hyperstack_flavor": "n3-A100x1",
        "hyperstack_region": None,
        "hyperstack_status": None,
        "hyperstack_expected_gpu_count": 1,
        "hyperstack_labels": ["qwen36-27b", "wireguard"],
        "hyperstack_vllm_model": "Qwen/Qwen3.6-27B-FP8",
        "hyperstack_vllm_container": "vllm_qwen36_27b",
        "hyperstack_vllm_preset": None,
        "hyperstack_vllm_port": 11434,
        "hyperstack_tensor_parallel_size": 1,
        "hyperstack_vllm_enabled": True,
        "hyperstack_ollama_enabled": False,
        "hyperstack_service": "vllm",
        "hyperstack_wireguard_hostname": "hyperstack.wg1",
        "hyperstack_wireguard_ip": "192.168.3.1",
    }


def test_populate_corrupt_state_keeps_the_host_unprovisioned(make_plugin):
    plugin = make_plugin([os.path.join(EDGE, "corrupt.toml")], address="public_ip")
    plugin._populate("/unused")
    variables = host_vars(plugin, "corrupt")
    reason = "state file is not valid JSON: Unterminated string starting at: line 5 column 13 (char 115)"
    assert {
        key: variables[key]
        for key in (
            "ansible_host",
            "hyperstack_state_error",
            "hyperstack_provisioned",
            "hyperstack_vm_id",
            "hyperstack_public_ip",
            "hyperstack_region",
            "hyperstack_vllm_model",
            "hyperstack_vllm_preset",
        )
    } == {
        "ansible_host": "corrupt.wg1",
        "hyperstack_state_error": reason,
        "hyperstack_provisioned": False,
        "hyperstack_vm_id": None,
        "hyperstack_public_ip": None,
        "hyperstack_region": None,
        "hyperstack_vllm_model": "Qwen/Qwen3.6-27B-FP8",
        "hyperstack_vllm_preset": None,
    }
    assert group_hosts(plugin) == {"provisioned": [], "unprovisioned": ["corrupt"]}
    state = os.path.join(EDGE, ".corrupt-state.json")
    assert make_plugin.warnings == [f"corrupt: {reason} ({state}); the host is marked not provisioned"]


def test_populate_keeps_jinja_in_files_as_text(make_plugin):
    canary = "/tmp/gpufleet-inventory-pwned"  # the state file's lookup would create it if run
    assert not os.path.exists(canary)
    plugin = make_plugin(
        [os.path.join(EDGE, "unsafe.toml")],
        compose={
            "model_seen": "hyperstack_vllm_model",
            "status_seen": "hyperstack_status",
            "container_seen": "hyperstack_vllm_container",
        },
        keyed_groups=[{"key": "hyperstack_labels", "prefix": "label"}],
        strict=True,
    )
    plugin._populate("/unused")
    variables = host_vars(plugin, "unsafe")
    container = "{{ lookup('pipe', 'touch /tmp/gpufleet-inventory-pwned') }}"
    assert {
        key: variables[key]
        for key in (
            "hyperstack_vm_name",
            "hyperstack_status",
            "hyperstack_vllm_model",
            "hyperstack_vllm_container",
            "hyperstack_labels",
            "model_seen",
            "status_seen",
            "container_seen",
        )
    } == {
        "hyperstack_vm_name": JINJA_ID,
        "hyperstack_status": "{{ 7 * 6 }}",
        "hyperstack_vllm_model": JINJA_ID,
        "hyperstack_vllm_container": container,
        "hyperstack_labels": [JINJA_ID, "{% raw %}x"],
        "model_seen": JINJA_ID,
        "status_seen": "{{ 7 * 6 }}",
        "container_seen": container,
    }
    assert not os.path.exists(canary)
    # Group names made from the values are sanitized text, not the result of running them.
    assert group_hosts(plugin) == {
        "provisioned": ["unsafe"],
        "unprovisioned": [],
        "label____lookup__pipe____id_____": ["unsafe"],
        "label____raw___x": ["unsafe"],
    }


def _untrusted_everywhere(value):
    if isinstance(value, str):
        return not is_trusted_as_template(value)
    if isinstance(value, list):
        return all(_untrusted_everywhere(item) for item in value)
    return True


def test_populate_never_marks_values_as_templates(make_plugin, tmp_path):
    # The plugin's own configuration is trusted (Ansible loads it as such); paths built from it
    # must still not become templates, even a folder whose name looks like one.
    folder = tmp_path / "{{ 7 * 6 }}"
    folder.mkdir()
    for name in ("unsafe.toml", ".unsafe-state.json"):
        shutil.copy(os.path.join(EDGE, name), folder / name)
    plugin = make_plugin([str(folder / "unsafe.toml")], compose={"path_seen": "hyperstack_config_path"})
    plugin._populate("/unused")
    variables = host_vars(plugin, "unsafe")
    assert variables["path_seen"] == str(folder / "unsafe.toml")
    assert [name for name, value in variables.items() if not _untrusted_everywhere(value)] == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("malformed.toml", "invalid TOML: Invalid value (at line 4, column 15)"),
        ("bad-port.toml", "ssh.port: expected integer, found string 'x'"),
        ("bad-labels.toml", "vm.labels: expected array of strings, found integer 3"),
    ],
)
def test_populate_rejects_broken_toml_naming_file_and_line_or_key(make_plugin, name, message):
    path = os.path.join(EDGE, name)
    plugin = make_plugin([os.path.join(HYPR, "hyperstack-vm1.toml"), path])
    with pytest.raises(AnsibleParserError) as info:
        plugin._populate("/unused")
    assert str(info.value) == f"{path}: {message}"


def test_populate_warns_about_unknown_keys(make_plugin):
    path = os.path.join(EDGE, "unknown-keys.toml")
    plugin = make_plugin([path])
    plugin._populate("/unused")
    assert host_vars(plugin, "unknown-keys")["ansible_host"] == "future.wg1"
    assert make_plugin.warnings == [
        f"{path}: ignoring keys hypr's schema does not have (a newer hypr may use them): "
        "vm.spot_instance, vllm.presets.fast.kv_offload, telemetry",
        f"unknown-keys: state file does not exist ({os.path.join(EDGE, '.hyperstack-vm-state.json')}); "
        "the host is marked not provisioned",
    ]


def test_populate_warns_about_patterns_without_matches(make_plugin, tmp_path):
    plugin = make_plugin(["hyperstack-vm*.toml", "~/nothing/*.toml"])
    plugin._populate(str(tmp_path))
    assert plugin.inventory.hosts == {}
    assert group_hosts(plugin) == {"provisioned": [], "unprovisioned": []}
    assert make_plugin.warnings == [
        f"gpufleet.vllm.hyperstack: config_files: 'hyperstack-vm*.toml' matched no file "
        f"({tmp_path}/hyperstack-vm*.toml)",
        f"gpufleet.vllm.hyperstack: config_files: '~/nothing/*.toml' matched no file "
        f"({os.environ['HOME']}/nothing/*.toml)",
    ]


def test_populate_rejects_two_files_with_one_host_name(make_plugin, tmp_path):
    copy = tmp_path / "hyperstack-vm1.toml"
    shutil.copy(os.path.join(HYPR, "hyperstack-vm1.toml"), copy)
    plugin = make_plugin([os.path.join(HYPR, "hyperstack-vm1.toml"), str(copy)])
    with pytest.raises(AnsibleParserError) as info:
        plugin._populate("/unused")
    assert str(info.value) == (
        f"{copy}: host name 'hyperstack-vm1' is already used by {os.path.join(HYPR, 'hyperstack-vm1.toml')}; "
        "hypr names hosts after the file, so give the TOML files distinct names"
    )


def test_populate_constructed_options(make_plugin):
    plugin = make_plugin(
        [os.path.join(HYPR, "*.toml"), os.path.join(EDGE, "preset.toml")],
        keyed_groups=[
            {"key": "hyperstack_flavor", "prefix": "flavor"},
            {"key": "hyperstack_region", "prefix": "region", "default_value": "none"},
        ],
        groups={"multi_gpu": "hyperstack_expected_gpu_count > 1", "serving_qwen": "'Qwen' in hyperstack_vllm_model"},
        compose={"vllm_url": "'http://' ~ ansible_host ~ ':' ~ hyperstack_vllm_port ~ '/v1'"},
    )
    plugin._populate("/unused")
    assert group_hosts(plugin) == {
        "provisioned": ["hyperstack-vm1", "preset"],
        "unprovisioned": ["hyperstack-vm2"],
        "flavor_n3_A100x1": ["hyperstack-vm1", "hyperstack-vm2"],
        "flavor_n3_H100x8": ["preset"],
        "region_CANADA_1": ["hyperstack-vm1"],
        "region_none": ["hyperstack-vm2"],
        "region_NORWAY_1": ["preset"],
        "multi_gpu": ["preset"],
        "serving_qwen": ["hyperstack-vm1"],
    }
    assert [host_vars(plugin, name)["vllm_url"] for name in ("hyperstack-vm1", "hyperstack-vm2", "preset")] == [
        "http://hyperstack1.wg1:11434/v1",
        "http://hyperstack2.wg1:11434/v1",
        "http://gpu8.wg0:8000/v1",
    ]


@pytest.fixture
def time_limit():
    """Fails the test after 20 s instead of hanging the suite: a FIFO opened for reading waits
    for a writer, and the alarm interrupts that wait."""

    def expired(signum, frame):
        raise TimeoutError("the test took more than 20 s (blocked on a FIFO?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def write_vm(folder, label, state=None):
    """A minimal hypr VM config <label>.toml with its own state file (written when given)."""
    (folder / f"{label}.toml").write_text(f'[state]\nfile = "{label}-state.json"\n[wireguard]\nauto_setup = false\n')
    if state is not None:
        (folder / f"{label}-state.json").write_text(state)
    return str(folder / f"{label}.toml")


PROVISIONED_STATE = '{"vm_id": 1, "public_ip": "203.0.113.7", "flavor_name": "n3-H100x2"}'


@pytest.mark.parametrize(
    ("label", "options"),
    [
        ("all", {}),
        ("ungrouped", {}),
        ("provisioned", {}),
        ("unprovisioned", {}),
        ("ollama", {}),
        ("multi_gpu", {"groups": {"multi_gpu": "hyperstack_expected_gpu_count > 1"}}),
        ("flavor_n3_H100x2", {"keyed_groups": [{"key": "hyperstack_flavor", "prefix": "flavor"}]}),
    ],
)
def test_populate_leaves_out_a_vm_named_like_a_group(make_plugin, tmp_path, label, options):
    keep = write_vm(tmp_path, "keep", PROVISIONED_STATE)
    refused = write_vm(tmp_path, label, PROVISIONED_STATE)
    plugin = make_plugin([keep, refused], **options)
    plugin._populate("/unused")
    assert sorted(plugin.inventory.hosts) == ["keep"]
    assert plugin.inventory.groups["provisioned"].get_hosts()[0].name == "keep"
    # No group became a member of another (Ansible takes a host name it also knows as a group for the group).
    assert {name: group.child_groups for name, group in plugin.inventory.groups.items() if name != "all"} == {
        name: [] for name in plugin.inventory.groups if name != "all"
    }
    assert make_plugin.warnings == [
        f"{refused}: VM left out of the inventory: its host name {label!r} is the name of the inventory group "
        f"{label!r}; rename the file"
    ]


@pytest.mark.parametrize("label", ["localhost", "127.0.0.1", "::1"])
def test_populate_leaves_out_a_vm_named_like_the_controller(make_plugin, tmp_path, label):
    keep = write_vm(tmp_path, "keep", PROVISIONED_STATE)
    refused = write_vm(tmp_path, label, PROVISIONED_STATE)
    plugin = make_plugin([keep, refused])
    plugin._populate("/unused")
    assert sorted(plugin.inventory.hosts) == ["keep"]
    assert make_plugin.warnings == [
        f"{refused}: VM left out of the inventory: its host name {label!r} is Ansible's name for the controller, "
        "so tasks meant for the controller (delegate_to: localhost) would run on this VM; rename the file"
    ]


def test_refused_label():
    assert refused_label("gpu1", {"all", "provisioned"}) is None
    assert (
        refused_label("provisioned", {"all", "provisioned"})
        == "its host name 'provisioned' is the name of the inventory group 'provisioned'"
    )
    assert refused_label("localhost", set()).startswith("its host name 'localhost' is Ansible's name")


def test_populate_keeps_the_other_vms_when_state_files_are_hostile(make_plugin, tmp_path, time_limit):
    keep = write_vm(tmp_path, "keep", PROVISIONED_STATE)
    deep = write_vm(tmp_path, "deep", "[" * 100_000 + "]" * 100_000)
    digits = write_vm(tmp_path, "digits", '{"vm_id": ' + "9" * 5001 + "}")
    fifo = write_vm(tmp_path, "fifo")
    os.mkfifo(str(tmp_path / "fifo-state.json"))
    # /dev/null, not /dev/zero: should the check regress, reading /dev/zero here would take all
    # memory (the /dev/zero cases run in bounded child processes).
    device = str(tmp_path / "device.toml")
    (tmp_path / "device.toml").write_text('[state]\nfile = "/dev/null"\n[wireguard]\nauto_setup = false\n')
    plugin = make_plugin([keep, deep, digits, fifo, device])
    plugin._populate("/unused")
    assert group_hosts(plugin) == {"provisioned": ["keep"], "unprovisioned": ["deep", "device", "digits", "fifo"]}
    assert {
        name: host_vars(plugin, name)["hyperstack_state_error"] for name in ("deep", "digits", "fifo", "device")
    } == {
        "deep": "state file is not valid JSON: arrays or objects nested too deeply",
        "digits": "state file is not valid JSON: an integer has more than 4300 digits",
        "fifo": "state file is a named pipe (FIFO), not a regular file",
        "device": "state file is a character device, not a regular file",
    }
    assert make_plugin.warnings == [
        f"deep: state file is not valid JSON: arrays or objects nested too deeply ({tmp_path}/deep-state.json); "
        "the host is marked not provisioned",
        f"digits: state file is not valid JSON: an integer has more than 4300 digits ({tmp_path}/digits-state.json); "
        "the host is marked not provisioned",
        f"fifo: state file is a named pipe (FIFO), not a regular file ({tmp_path}/fifo-state.json); "
        "the host is marked not provisioned",
        "device: state file is a character device, not a regular file (/dev/null); the host is marked not provisioned",
    ]


def test_populate_reports_a_config_that_is_not_a_regular_file(make_plugin, tmp_path, time_limit):
    keep = write_vm(tmp_path, "keep", PROVISIONED_STATE)
    os.mkfifo(str(tmp_path / "fifo.toml"))
    plugin = make_plugin([keep, str(tmp_path / "*.toml")])
    with pytest.raises(AnsibleParserError) as info:
        plugin._populate("/unused")
    assert str(info.value) == f"{tmp_path}/fifo.toml: cannot read: a named pipe (FIFO), not a regular file"


def test_populate_warns_about_a_preset_the_config_does_not_define(make_plugin, tmp_path):
    config = write_vm(tmp_path, "vm", '{"vm_id": 1, "public_ip": "203.0.113.7", "vllm_preset": "nope"}')
    plugin = make_plugin([config])
    plugin._populate("/unused")
    variables = host_vars(plugin, "vm")
    assert (variables["hyperstack_vllm_preset"], variables["hyperstack_vllm_model"]) == ("nope", "Qwen/Qwen3.6-27B-FP8")
    assert make_plugin.warnings == [
        f"vm: the state file names vllm_preset 'nope' ({tmp_path}/vm-state.json), which {config} does not define; "
        "the model, container and tensor parallel size come from [vllm] instead"
    ]


def test_populate_warns_about_an_empty_config_files(make_plugin):
    plugin = make_plugin([])
    plugin._populate("/unused", "/srv/fleet.hyperstack.yml")
    assert plugin.inventory.hosts == {}
    assert make_plugin.warnings == ["/srv/fleet.hyperstack.yml: config_files is empty, so this inventory has no hosts"]


OLLAMA_TOML = "[ollama]\ninstall = true\n[vllm]\ninstall = false\n"
VLLM_OFF = {
    "hyperstack_vllm_model": None,
    "hyperstack_vllm_container": None,
    "hyperstack_vllm_preset": None,
    "hyperstack_tensor_parallel_size": None,
}


@pytest.mark.parametrize(
    ("toml", "services", "expected", "groups"),
    [
        pytest.param(
            "",
            None,
            {
                "hyperstack_vllm_enabled": True,
                "hyperstack_ollama_enabled": False,
                "hyperstack_service": "vllm",
                "hyperstack_vllm_container": "vllm_qwen36_27b",
            },
            ["provisioned"],
            id="vllm-by-default",
        ),
        pytest.param(
            OLLAMA_TOML,
            None,
            {
                "hyperstack_vllm_enabled": False,
                "hyperstack_ollama_enabled": True,
                "hyperstack_service": "ollama",
                **VLLM_OFF,
            },
            ["ollama", "provisioned"],
            id="ollama-from-the-toml",
        ),
        pytest.param(
            "",
            {"vllm_enabled": False, "ollama_enabled": True},
            {
                "hyperstack_vllm_enabled": False,
                "hyperstack_ollama_enabled": True,
                "hyperstack_service": "ollama",
                **VLLM_OFF,
            },
            ["ollama", "provisioned"],
            id="ollama-from-the-state-over-the-toml",
        ),
        pytest.param(
            OLLAMA_TOML,
            {"vllm_enabled": True, "ollama_enabled": False},
            {
                "hyperstack_vllm_enabled": True,
                "hyperstack_ollama_enabled": False,
                "hyperstack_service": "vllm",
                "hyperstack_vllm_container": "vllm_qwen36_27b",
            },
            ["provisioned"],
            id="vllm-from-the-state-over-the-toml",
        ),
        pytest.param(
            "",
            {"vllm_enabled": True, "ollama_enabled": True},
            {"hyperstack_service": "vllm"},
            ["provisioned"],
            id="both-watches-vllm",
        ),
        pytest.param(
            "[vllm]\ninstall = false\n",
            {"vllm_enabled": None},
            {
                "hyperstack_vllm_enabled": False,
                "hyperstack_ollama_enabled": False,
                "hyperstack_service": "none",
                **VLLM_OFF,
            },
            ["provisioned"],
            id="neither",
        ),
    ],
)
def test_populate_ollama_vms(make_plugin, tmp_path, toml, services, expected, groups):
    state = {"vm_id": 7, "public_ip": "203.0.113.9"}
    if services is not None:
        state["services"] = services
    (tmp_path / "vm.toml").write_text(toml + '[state]\nfile = "vm-state.json"\n[wireguard]\nauto_setup = false\n')
    (tmp_path / "vm-state.json").write_text(json.dumps(state))
    plugin = make_plugin([str(tmp_path / "vm.toml")])
    plugin._populate("/unused")
    variables = host_vars(plugin, "vm")
    assert {name: variables[name] for name in expected} == expected
    assert sorted(name for name, hosts in group_hosts(plugin).items() if hosts == ["vm"]) == groups
    assert make_plugin.warnings == []


@pytest.mark.parametrize(
    ("services", "problem"),
    [
        ('"yes"', "state file key services: expected an object, found string 'yes'"),
        ('{"vllm_enabled": "true"}', "state file key services.vllm_enabled: expected boolean, found string 'true'"),
        ('{"ollama_enabled": 1}', "state file key services.ollama_enabled: expected boolean, found integer 1"),
    ],
)
def test_populate_bad_services_keep_the_host_unprovisioned(make_plugin, tmp_path, services, problem):
    path = write_vm(tmp_path, "vm", '{"vm_id": 7, "public_ip": "203.0.113.9", "services": %s}' % services)
    plugin = make_plugin([path])
    plugin._populate("/unused")
    variables = host_vars(plugin, "vm")
    assert (variables["hyperstack_state_error"], variables["hyperstack_provisioned"]) == (problem, False)
    # Without a usable state the TOML decides: hypr's default is vLLM.
    assert variables["hyperstack_service"] == "vllm"
