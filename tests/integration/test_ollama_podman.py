# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hypr's Ollama VMs and podman, where a user meets them: ``ansible-inventory`` over an Ollama
VM's hypr files, ``node_info`` in a playbook against a simulated podman host, and
``playbooks/health.yml`` over a fleet with an Ollama VM and a podman VM (neither failed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from support import FAKEGPU, ROOT, VENV_BIN, run

pytestmark = pytest.mark.slow

HEALTH = str(ROOT / "playbooks" / "health.yml")
VLLM_CHECKS = {
    "container_running",
    "container_restarts",
    "container_oom",
    "fatal_errors",
    "engine_serving",
    "kv_cache",
    "engine_stalled",
    "stats_fresh",
}
CONTAINER = "vllm_qwen36_27b"
# The simulator's containers carry this token in Config.Env (as hypr's extra_docker_env may).
SECRET = "hf_fakegpuSecretTokenNeverShown0123456789"
OLLAMA_TOML = """\
[vm]
hostname = "ollama1"
flavor_name = "n3-A100x1"
[ollama]
install = true
[vllm]
install = false
[state]
file = ".ollama-vm-state.json"
[wireguard]
auto_setup = false
"""
# What hypr's provisioning writes for an Ollama VM (keys of its state file).
OLLAMA_STATE = {
    "vm_id": 5121,
    "vm_name": "hyperstack-20261128080000",
    "public_ip": "203.0.113.51",
    "status": "ACTIVE",
    "ollama_installed_at": "2026-11-28T08:05:00Z",
    "ollama_setup_at": "2026-11-28T08:06:00Z",
    "ollama_models_dir": "/ephemeral/ollama/models",
    "ollama_pulled_models": ["qwen3-coder:30b"],
    "provisioned_at": "2026-11-28T08:09:00Z",
    "services": {"vllm_enabled": False, "ollama_enabled": True},
}


def make_sim_host(directory, scenario, engine="docker"):
    argv = [str(FAKEGPU), "make-host", str(directory), scenario, "--engine", engine]
    subprocess.run(argv, check=True, capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable})
    return directory


def write_inventory(folder, hosts: dict) -> str:
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": str(VENV_BIN / "python"),
                "hyperstack_vllm_container": CONTAINER,
            },
            "hosts": hosts,
        }
    }
    path = folder / "inventory.json"
    path.write_text(json.dumps(inventory))
    return str(path)


def summary_lines(stdout: str) -> list[str]:
    block = stdout.split("TASK [Summary, one line per host]", 1)[1].split("TASK [", 1)[0]
    return json.loads(block[block.index("{") : block.rindex("}") + 1])["msg"]


def test_inventory_puts_an_ollama_vm_in_its_group(tmp_path):
    (tmp_path / "ollama-vm.toml").write_text(OLLAMA_TOML)
    (tmp_path / ".ollama-vm-state.json").write_text(json.dumps(OLLAMA_STATE))
    config = tmp_path / "hyperstack.yml"
    vm1 = ROOT / "tests" / "unit" / "plugins" / "inventory" / "fixtures" / "hypr" / "hyperstack-vm1.toml"
    config.write_text(
        "plugin: gpufleet.vllm.hyperstack\nconfig_files:\n  - %s\n  - %s\n"
        % (json.dumps(str(tmp_path / "ollama-vm.toml")), json.dumps(str(vm1)))
    )
    env = {**os.environ, "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", str(config), "--list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert listed["ollama"]["hosts"] == ["ollama-vm"]
    assert sorted(listed["provisioned"]["hosts"]) == ["hyperstack-vm1", "ollama-vm"]
    # Every value the plugin read from hypr's files is marked unsafe: {"__ansible_unsafe": text}.
    ollama = {
        key: value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value
        for key, value in listed["_meta"]["hostvars"]["ollama-vm"].items()
    }
    assert {
        key: ollama[key]
        for key in (
            "hyperstack_service",
            "hyperstack_vllm_enabled",
            "hyperstack_ollama_enabled",
            "hyperstack_vllm_container",
            "hyperstack_vllm_model",
        )
    } == {
        "hyperstack_service": "ollama",
        "hyperstack_vllm_enabled": False,
        "hyperstack_ollama_enabled": True,
        "hyperstack_vllm_container": None,
        "hyperstack_vllm_model": None,
    }
    assert listed["_meta"]["hostvars"]["hyperstack-vm1"]["hyperstack_service"] == {"__ansible_unsafe": "vllm"}


def test_node_info_reads_podman_and_never_shows_the_environment(tmp_path, ansible_env):
    """A vLLM VM that runs podman (gpufleet_docker_path: /usr/bin/podman in real life): the
    module reads libpod's inspect JSON and its local-zone ``logs --timestamps``; even at -vvv
    (module arguments and results printed) the container's environment never shows."""
    sim = make_sim_host(tmp_path / "podman-vm", "busy", engine="podman")
    play = tmp_path / "podman.yml"
    play.write_text(f"""\
- name: node_info against podman
  hosts: all
  gather_facts: false
  tasks:
    - name: Collect
      gpufleet.vllm.node_info:
        container: {CONTAINER}
        docker_path: {sim / "bin" / "podman"}
        nvidia_smi_path: {sim / "bin" / "nvidia-smi"}
      register: node
    - name: Show
      ansible.builtin.debug:
        msg: "{{{{ node | to_json }}}}"
""")
    inventory = write_inventory(tmp_path, {"podman-vm": {}})
    # The VM's zone is not UTC: podman prints every time in it.
    env = {**ansible_env, "TZ": "Asia/Kolkata"}
    proc = run([str(VENV_BIN / "ansible-playbook"), "-vvv", "-i", inventory, str(play)], env, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    shown = proc.stdout.split("TASK [Show]", 1)[1]
    node = json.loads(json.loads(shown[shown.index('"msg": ') + 7 : shown.index("\n", shown.index('"msg": '))]))
    container = node["container"]
    assert (container["status"], container["health"], container["image"], container["restart_count"]) == (
        "running",
        "none",
        "docker.io/vllm/vllm-openai:latest",
        0,
    )
    # Local-zone times are UTC in the document; the engine's stats are fresh.
    assert container["started_at"].endswith("Z")
    assert node["vllm"]["phase"] == "serving" and node["vllm"]["log_status"] == "ok"
    assert node["vllm"]["engines"][0]["logged_at"].endswith("Z") and node["vllm"]["engines"][0]["age_s"] < 30


def test_health_passes_an_ollama_vm_and_a_podman_vm(tmp_path, ansible_env):
    # The Ollama VM's simulated docker has no container: were it asked, container_running would fail.
    ollama = make_sim_host(tmp_path / "ollama-vm", "container-missing")
    podman = make_sim_host(tmp_path / "podman-vm", "busy", engine="podman")
    inventory = write_inventory(
        tmp_path,
        {
            "ollama-vm": {
                "hyperstack_service": "ollama",
                "hyperstack_vllm_container": None,
                "gpufleet_docker_path": str(ollama / "bin" / "docker"),
                "gpufleet_nvidia_smi_path": str(ollama / "bin" / "nvidia-smi"),
            },
            "podman-vm": {
                "gpufleet_docker_path": str(podman / "bin" / "podman"),
                "gpufleet_nvidia_smi_path": str(podman / "bin" / "nvidia-smi"),
            },
        },
    )
    junit = tmp_path / "health.xml"
    proc = run(
        [str(VENV_BIN / "ansible-playbook"), "-i", inventory, HEALTH, "-e", f"health_junit_path={junit}"],
        ansible_env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [re.sub(r"\d+ ok$", "N ok", line) for line in summary_lines(proc.stdout)] == [
        "ollama-vm: OK N ok",
        "podman-vm: OK N ok",
    ]
    checks = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        checks.setdefault(case.get("classname"), set()).add(case.get("name").split(" :: ", 1)[1])
    # The Ollama VM: GPU checks only; the container and the engine are neither failed nor passed.
    assert {"reachable", "gpu_driver", "gpu_count", "gpu_temperature"} <= checks["ollama-vm"]
    assert not checks["ollama-vm"] & VLLM_CHECKS
    assert VLLM_CHECKS <= checks["podman-vm"]
    # Wait mode has nothing to wait for on an Ollama VM: it ends with the first poll (not after 60).
    waited = run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            inventory,
            HEALTH,
            "--limit",
            "ollama-vm",
            "-e",
            "health_mode=wait",
            "-e",
            "health_wait_delay=1",
            "-e",
            '{"health_wait_timeout": 60}',
        ],
        ansible_env,
        timeout=180,
    )
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert re.fullmatch(r"ollama-vm: OK \d+ ok", summary_lines(waited.stdout)[0])
    assert len(re.findall(r"^ok: \[ollama-vm\] => \(item=", waited.stdout, re.M)) == 1, waited.stdout
