# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gpufleet.vllm.hyperstack through the real CLIs: ansible-inventory --list/--graph and ansible,
run from the repository root (its ansible.cfg finds the collection) on hypr's example files."""

from __future__ import annotations

import json
import os
import resource
import subprocess

import pytest

pytestmark = pytest.mark.slow

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(REPO, ".venv", "bin")
FIXTURES = os.path.join(REPO, "tests", "unit", "plugins", "inventory", "fixtures")
HYPR = os.path.join(FIXTURES, "hypr")
SHARED_EXAMPLES = os.path.join(REPO, "..", "shared", "examples", "hypr")


def run(tool, *args, home, extra_env=None, timeout=120):
    env = {
        **os.environ,
        "HOME": str(home),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(home / ".ansible-tmp"),
        **(extra_env or {}),
    }
    return subprocess.run(
        [os.path.join(BIN, tool), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=_memory_cap,
    )


def _memory_cap():
    """4 GiB of address space: a run that reads /dev/zero without end fails instead of taking the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


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
    assert {
        key: vm1[key]
        for key in (
            "ansible_host",
            "ansible_user",
            "ansible_port",
            "ansible_ssh_common_args",
            "hyperstack_provisioned",
            "hyperstack_vm_id",
            "hyperstack_public_ip",
            "hyperstack_vllm_model",
            "hyperstack_vllm_container",
            "hyperstack_vllm_port",
            "hyperstack_expected_gpu_count",
            "hyperstack_state_error",
        )
    } == {
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
    assert {
        key: vm2[key]
        for key in (
            "ansible_host",
            "hyperstack_provisioned",
            "hyperstack_vm_id",
            "hyperstack_vllm_model",
            "hyperstack_state_error",
        )
    } == {
        "ansible_host": "hyperstack2.wg1",
        "hyperstack_provisioned": False,
        "hyperstack_vm_id": None,
        "hyperstack_vllm_model": "cyankiwi/gemma-4-31B-it-AWQ-4bit",
        "hyperstack_state_error": "state file does not exist",
    }
    state2 = os.path.join(HYPR, ".hyperstack-vm2-state.json")
    assert (
        f"[WARNING]: hyperstack-vm2: state file does not exist ({state2}); the host is marked not provisioned"
        in result.stderr
    )


def test_graph_with_keyed_groups(tmp_path, home):
    config = write_config(
        tmp_path,
        os.path.join(HYPR, "*.toml"),
        extra="keyed_groups:\n  - key: hyperstack_vllm_preset\n    prefix: preset\n    default_value: none\n",
    )
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
        {"hosts": ["hyperstack-vm1"]},
        {"hosts": ["hyperstack-vm2"]},
    )


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
    result = run(
        "ansible-inventory", "-i", config, "--list", home=home, extra_env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"}
    )
    assert result.returncode != 0
    assert f"Failed to parse inventory with 'auto' plugin: {os.path.join(FIXTURES, 'edge', message)}" in " ".join(
        result.stderr.split()
    )


def test_pattern_without_match_warns(tmp_path, home):
    config = write_config(tmp_path, "no-such-vm*.toml")
    result = run("ansible-inventory", "-i", config, "--graph", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "@all:\n  |--@ungrouped:\n  |--@provisioned:\n  |--@unprovisioned:\n"
    assert (
        f"[WARNING]: gpufleet.vllm.hyperstack: config_files: 'no-such-vm*.toml' matched no file "
        f"({tmp_path}/no-such-vm*.toml)"
    ) in " ".join(result.stderr.split())


def test_jinja_in_files_is_never_run(tmp_path, home):
    canary = tmp_path / "pwned"
    (tmp_path / "vm.toml").write_text(
        '[state]\nfile = "vm-state.json"\n'
        "[vm]\nhostname = \"vm\"\nlabels = [\"{{ lookup('pipe', 'id') }}\"]\n"
        "[wireguard]\nauto_setup = false\n"
    )
    (tmp_path / "vm-state.json").write_text(
        json.dumps(
            {
                "vm_id": 1,
                "public_ip": "203.0.113.7",
                "vllm_model": "{{ lookup('pipe', 'id') }}",
                "vllm_container_name": f"{{{{ lookup('pipe', 'touch {canary}') }}}}",
            }
        )
    )
    config = write_config(tmp_path, "vm.toml", extra="compose:\n  model_copy: hyperstack_vllm_model\n")

    listed = run("ansible-inventory", "-i", config, "--list", home=home)
    assert listed.returncode == 0, listed.stderr
    hostvars = plain(json.loads(listed.stdout))["_meta"]["hostvars"]["vm"]
    assert (
        hostvars["hyperstack_vllm_model"],
        hostvars["model_copy"],
        hostvars["hyperstack_labels"],
        hostvars["hyperstack_vllm_container"],
    ) == (
        "{{ lookup('pipe', 'id') }}",
        "{{ lookup('pipe', 'id') }}",
        ["{{ lookup('pipe', 'id') }}"],
        f"{{{{ lookup('pipe', 'touch {canary}') }}}}",
    )

    for variable in ("hyperstack_vllm_model", "hyperstack_vllm_container", "model_copy"):
        shown = run("ansible", "vm", "-i", config, "-m", "ansible.builtin.debug", "-a", f"var={variable}", home=home)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert json.loads(shown.stdout.split(" => ", 1)[1]) == {variable: hostvars[variable]}
        assert "uid=" not in shown.stdout
    assert not canary.exists()


def write_vm(folder, label, state=None, state_file=None):
    """A minimal hypr VM config <label>.toml; its state file <label>-state.json (or STATE_FILE)."""
    state_file = state_file or f"{label}-state.json"
    (folder / f"{label}.toml").write_text(f'[state]\nfile = "{state_file}"\n[wireguard]\nauto_setup = false\n')
    if state is not None:
        (folder / state_file).write_text(state)


def flat(text):
    """Ansible wraps long warnings: compare with the whitespace folded."""
    return " ".join(text.split())


def test_bad_vm_files_cost_only_their_own_host(tmp_path, home):
    """Hostile state files and labels, all in one inventory: each costs at most its own host, with
    one warning naming its file; the good VM is kept. Bounded: a blocking read of the FIFO or an
    endless one of /dev/zero would hit the timeout or the memory cap."""
    vms = tmp_path / "vms"
    vms.mkdir()
    provisioned = '{"vm_id": 1, "public_ip": "203.0.113.7", "flavor_name": "n3-H100x2"}'
    write_vm(vms, "good", provisioned)
    write_vm(vms, "deep", "[" * 100_000 + "]" * 100_000)
    write_vm(vms, "digits", '{"vm_id": ' + "7" * 5001 + "}")
    write_vm(vms, "fifo")
    os.mkfifo(vms / "fifo-state.json")
    write_vm(vms, "zero", state_file="/dev/zero")
    write_vm(vms, "nope", '{"vm_id": 2, "public_ip": "203.0.113.8", "vllm_preset": "nope"}')
    for label in ("all", "ungrouped", "provisioned", "localhost", "flavor_n3_H100x2"):
        write_vm(vms, label, provisioned)
    config = write_config(
        tmp_path, "vms/*.toml", extra="keyed_groups:\n  - key: hyperstack_flavor\n    prefix: flavor\n"
    )
    result = run("ansible-inventory", "-i", config, "--graph", home=home, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "@all:\n"
        "  |--@ungrouped:\n"
        "  |--@provisioned:\n"
        "  |  |--good\n"
        "  |  |--nope\n"
        "  |--@unprovisioned:\n"
        "  |  |--deep\n"
        "  |  |--digits\n"
        "  |  |--fifo\n"
        "  |  |--zero\n"
        "  |--@flavor_n3_A100x1:\n"
        "  |  |--deep\n"
        "  |  |--digits\n"
        "  |  |--fifo\n"
        "  |  |--nope\n"
        "  |  |--zero\n"
        "  |--@flavor_n3_H100x2:\n"
        "  |  |--good\n"
    )
    warnings = flat(result.stderr)
    for message in (
        [
            f"deep: state file is not valid JSON: arrays or objects nested too deeply ({vms}/deep-state.json)",
            f"digits: state file is not valid JSON: an integer has more than 4300 digits ({vms}/digits-state.json)",
            f"fifo: state file is a named pipe (FIFO), not a regular file ({vms}/fifo-state.json)",
            "zero: state file is a character device, not a regular file (/dev/zero)",
            f"nope: the state file names vllm_preset 'nope' ({vms}/nope-state.json), which {vms}/nope.toml does not define",
        ]
        + [
            f"{vms}/{label}.toml: VM left out of the inventory: its host name '{label}' is the name of the inventory "
            f"group '{label}'; rename the file"
            for label in ("all", "ungrouped", "provisioned", "flavor_n3_H100x2")
        ]
        + [
            f"{vms}/localhost.toml: VM left out of the inventory: its host name 'localhost' is Ansible's name for the "
            "controller",
        ]
    ):
        assert warnings.count(message) == 1, (message, result.stderr)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x = " + "[" * 100_000 + "]" * 100_000, "invalid TOML: arrays or tables nested too deeply"),
        ("[ssh]\nport = " + "1" * 5001, "invalid TOML: an integer has more than 4300 digits"),
        (None, "cannot read: a named pipe (FIFO), not a regular file"),
    ],
    ids=["deep", "digits", "fifo"],
)
def test_hostile_toml_fails_the_source_naming_the_file(tmp_path, home, content, message):
    path = tmp_path / "vm.toml"
    if content is None:
        os.mkfifo(path)
    else:
        path.write_text(content)
    config = write_config(tmp_path, "*.toml")
    result = run(
        "ansible-inventory",
        "-i",
        config,
        "--list",
        home=home,
        timeout=60,
        extra_env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"},
    )
    assert result.returncode != 0
    assert f"Failed to parse inventory with 'auto' plugin: {path}: {message}" in flat(result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_empty_config_files_warns(tmp_path, home):
    path = tmp_path / "hyperstack.yml"
    path.write_text("plugin: gpufleet.vllm.hyperstack\nconfig_files: []\n")
    result = run("ansible-inventory", "-i", str(path), "--graph", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "@all:\n  |--@ungrouped:\n  |--@provisioned:\n  |--@unprovisioned:\n"
    assert f"[WARNING]: {path}: config_files is empty, so this inventory has no hosts" in flat(result.stderr)


def test_host_key_checking_off_in_the_environment_leaves_accept_new_alone(tmp_path, home):
    """ANSIBLE_HOST_KEY_CHECKING=False (what ansible-runner, AWX and ansible-navigator set): the ssh
    command Ansible builds still has StrictHostKeyChecking=accept-new and nothing else for that
    option. Runs without an SSH server: the VM is a closed port on loopback (the refusal comes
    at once); tests/integration/test_host_key_policy.py does the same against a re-keyed sshd."""
    write_vm(tmp_path, "vm", '{"vm_id": 1, "public_ip": "127.0.0.1"}')
    with open(tmp_path / "vm.toml", "a", encoding="utf-8") as handle:
        handle.write("[ssh]\nport = 9\nconnect_timeout_sec = 5\n")
    config = write_config(tmp_path, "vm.toml", extra="address: public_ip\n")
    result = run(
        "ansible",
        "vm",
        "-i",
        config,
        "-m",
        "ansible.builtin.ping",
        "-vvv",
        home=home,
        timeout=60,
        extra_env={"ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_STDOUT_CALLBACK": "default"},
    )
    assert result.returncode == 4, result.stdout + result.stderr  # unreachable
    commands = [line for line in result.stdout.splitlines() if "SSH: EXEC ssh " in line]
    assert commands, result.stdout
    for command in commands:
        assert [word for word in command.split() if word.startswith("StrictHostKeyChecking=")] == [
            "StrictHostKeyChecking=accept-new"
        ], command
