# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gpufleet.vllm.hyperstack through the real CLIs: ansible-inventory --list/--graph and ansible,
run from the repository root (its ansible.cfg finds the collection) on hypr's example files."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

pytestmark = pytest.mark.slow

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(REPO, ".venv", "bin")
FIXTURES = os.path.join(REPO, "tests", "unit", "plugins", "inventory", "fixtures")
HYPR = os.path.join(FIXTURES, "hypr")
SHARED_EXAMPLES = os.path.join(REPO, "..", "shared", "examples", "hypr")


def run(tool, *args, home, extra_env=None):
    env = {
        **os.environ,
        "HOME": str(home),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(home / ".ansible-tmp"),
        **(extra_env or {}),
    }
    return subprocess.run([os.path.join(BIN, tool), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def write_config(folder, *patterns, extra=""):
    path = folder / "hyperstack.yml"
    lines = "".join(f"  - {json.dumps(pattern)}\n" for pattern in patterns)
    path.write_text(f"plugin: gpufleet.vllm.hyperstack\nconfig_files:\n{lines}{extra}")
    return str(path)


def plain(value):
    """--list writes every untrusted string as {"__ansible_unsafe": text}: take the text."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_list_shows_both_hypr_vms(tmp_path, home):
    config = write_config(tmp_path, os.path.join(HYPR, "hyperstack-vm*.toml"))
    result = run("ansible-inventory", "-i", config, "--list", home=home)
    assert result.returncode == 0, result.stderr
    inventory = plain(json.loads(result.stdout))
    hostvars = inventory.pop("_meta")["hostvars"]
    assert inventory == {
        "all": {"children": ["ungrouped", "provisioned", "unprovisioned"]},
        "provisioned": {"hosts": ["hyperstack-vm1"]},
        "unprovisioned": {"hosts": ["hyperstack-vm2"]},
    }
    state1 = os.path.join(HYPR, ".hyperstack-vm1-state.json")
    vm1, vm2 = hostvars["hyperstack-vm1"], hostvars["hyperstack-vm2"]
    assert {key: vm1[key] for key in (
        "ansible_host", "ansible_user", "ansible_port", "ansible_ssh_common_args", "hyperstack_provisioned",
        "hyperstack_vm_id", "hyperstack_public_ip", "hyperstack_vllm_model", "hyperstack_vllm_container",
        "hyperstack_vllm_port", "hyperstack_expected_gpu_count", "hyperstack_state_error")} == {
        "ansible_host": "hyperstack1.wg1",
        "ansible_user": "ubuntu",
        "ansible_port": 22,
        "ansible_ssh_common_args": f"-o 'UserKnownHostsFile=\"{state1}.known_hosts\"' "
                                   "-o StrictHostKeyChecking=accept-new -o ConnectTimeout=10 "
                                   "-o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o BatchMode=yes",
        "hyperstack_provisioned": True,
        "hyperstack_vm_id": 418823,
        "hyperstack_public_ip": "38.80.122.17",
        "hyperstack_vllm_model": "Qwen/Qwen3.6-27B-FP8",
        "hyperstack_vllm_container": "vllm_qwen36_27b",
        "hyperstack_vllm_port": 11434,
        "hyperstack_expected_gpu_count": 1,
        "hyperstack_state_error": None,
    }
    assert "ansible_ssh_private_key_file" not in vm1
    assert {key: vm2[key] for key in (
        "ansible_host", "hyperstack_provisioned", "hyperstack_vm_id", "hyperstack_vllm_model",
        "hyperstack_state_error")} == {
        "ansible_host": "hyperstack2.wg1",
        "hyperstack_provisioned": False,
        "hyperstack_vm_id": None,
        "hyperstack_vllm_model": "cyankiwi/gemma-4-31B-it-AWQ-4bit",
        "hyperstack_state_error": "state file does not exist",
    }
    state2 = os.path.join(HYPR, ".hyperstack-vm2-state.json")
    assert f"[WARNING]: hyperstack-vm2: state file does not exist ({state2}); the host is marked not provisioned" \
        in result.stderr


def test_graph_with_keyed_groups(tmp_path, home):
    config = write_config(tmp_path, os.path.join(HYPR, "*.toml"),
                          extra="keyed_groups:\n  - key: hyperstack_vllm_preset\n    prefix: preset\n"
                                "    default_value: none\n")
    result = run("ansible-inventory", "-i", config, "--graph", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "@all:\n"
        "  |--@ungrouped:\n"
        "  |--@provisioned:\n"
        "  |  |--hyperstack-vm1\n"
        "  |--@unprovisioned:\n"
        "  |  |--hyperstack-vm2\n"
        "  |--@preset_qwen36_27b:\n"
        "  |  |--hyperstack-vm1\n"
        "  |--@preset_none:\n"
        "  |  |--hyperstack-vm2\n"
    )


@pytest.mark.skipif(not os.path.isdir(SHARED_EXAMPLES), reason="needs ../shared beside the repository")
def test_example_config_reads_the_shared_examples(home):
    result = run("ansible-inventory", "-i", "inventory/example.hyperstack.yml", "--list", home=home)
    assert result.returncode == 0, result.stderr
    inventory = plain(json.loads(result.stdout))
    assert (inventory["provisioned"], inventory["unprovisioned"]) == (
        {"hosts": ["hyperstack-vm1"]}, {"hosts": ["hyperstack-vm2"]})


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("malformed.toml", "malformed.toml: invalid TOML: Invalid value (at line 4, column 15)"),
        ("bad-port.toml", "bad-port.toml: ssh.port: expected integer, found string 'x'"),
        ("bad-labels.toml", "bad-labels.toml: vm.labels: expected array of strings, found integer 3"),
    ],
)
def test_broken_toml_fails_with_file_and_line_or_key(tmp_path, home, name, message):
    config = write_config(tmp_path, os.path.join(FIXTURES, "edge", name))
    result = run("ansible-inventory", "-i", config, "--list", home=home,
                 extra_env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    assert result.returncode != 0
    assert f"Failed to parse inventory with 'auto' plugin: {os.path.join(FIXTURES, 'edge', message)}" \
        in " ".join(result.stderr.split())


def test_pattern_without_match_warns(tmp_path, home):
    config = write_config(tmp_path, "no-such-vm*.toml")
    result = run("ansible-inventory", "-i", config, "--graph", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "@all:\n  |--@ungrouped:\n  |--@provisioned:\n  |--@unprovisioned:\n"
    assert (f"[WARNING]: gpufleet.vllm.hyperstack: config_files: 'no-such-vm*.toml' matched no file "
            f"({tmp_path}/no-such-vm*.toml)") in " ".join(result.stderr.split())


def test_jinja_in_files_is_never_run(tmp_path, home):
    canary = tmp_path / "pwned"
    (tmp_path / "vm.toml").write_text(
        '[state]\nfile = "vm-state.json"\n'
        '[vm]\nhostname = "vm"\nlabels = ["{{ lookup(\'pipe\', \'id\') }}"]\n'
        '[wireguard]\nauto_setup = false\n'
    )
    (tmp_path / "vm-state.json").write_text(json.dumps({
        "vm_id": 1,
        "public_ip": "203.0.113.7",
        "vllm_model": "{{ lookup('pipe', 'id') }}",
        "vllm_container_name": f"{{{{ lookup('pipe', 'touch {canary}') }}}}",
    }))
    config = write_config(tmp_path, "vm.toml", extra="compose:\n  model_copy: hyperstack_vllm_model\n")

    listed = run("ansible-inventory", "-i", config, "--list", home=home)
    assert listed.returncode == 0, listed.stderr
    hostvars = plain(json.loads(listed.stdout))["_meta"]["hostvars"]["vm"]
    assert (hostvars["hyperstack_vllm_model"], hostvars["model_copy"], hostvars["hyperstack_labels"],
            hostvars["hyperstack_vllm_container"]) == (
        "{{ lookup('pipe', 'id') }}", "{{ lookup('pipe', 'id') }}", ["{{ lookup('pipe', 'id') }}"],
        f"{{{{ lookup('pipe', 'touch {canary}') }}}}")

    for variable in ("hyperstack_vllm_model", "hyperstack_vllm_container", "model_copy"):
        shown = run("ansible", "vm", "-i", config, "-m", "ansible.builtin.debug", "-a", f"var={variable}",
                    home=home)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert json.loads(shown.stdout.split(" => ", 1)[1]) == {variable: hostvars[variable]}
        assert "uid=" not in shown.stdout
    assert not canary.exists()
