# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory plugin gpufleet.vllm.hyperstack: one host per hypr VM config (TOML) and its state file.

Implements docs/dev/design.md "Inventory" with the formats of docs/dev/formats.md section 1 (hypr's
TOML schema, state keys, and the ssh options of its watcher).
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: hyperstack
short_description: Hosts from hypr's Hyperstack VM configs and state files
version_added: 0.1.0
author:
  - gpufleet maintainers (@gpufleet)
description:
  - Reads the VM configs of L(hypr,https://github.com/snonux/hypr) (C(hyperstack-vm1.toml), ...)
    and the state file each one names, and makes one host per TOML file. The host name is the
    file name without C(.toml), as hypr labels it (C(hyperstack-vm1)).
  - Each TOML file is deep-merged over hypr's defaults. The state path (C([state].file)) is
    resolved against the TOML file's folder, with C(~) expanded.
  - SSH settings reproduce hypr's own ssh call - user, port, key (only when the file exists),
    C(UserKnownHostsFile=<state file>.known_hosts), C(StrictHostKeyChecking=accept-new),
    C(ConnectTimeout), C(ServerAliveInterval=5), C(ServerAliveCountMax=3), C(BatchMode=yes).
  - Host key checking is never turned off. Each host gets C(ansible_ssh_host_key_checking=true),
    which outranks C(ANSIBLE_HOST_KEY_CHECKING=False) (set by ansible-runner, AWX, AAP and
    ansible-navigator) and C(host_key_checking) in C(ansible.cfg); otherwise Ansible would put
    C(StrictHostKeyChecking=no) ahead of C(accept-new), and ssh keeps the first value.
  - A VM whose state file is missing, unreadable or corrupt is still a host, in group
    C(unprovisioned), with the reason in C(hyperstack_state_error) and one warning. That includes
    a state path that is not a regular file (a FIFO, C(/dev/zero)), one larger than 1 MiB, JSON
    nested too deeply and integers longer than Python reads; such a path is never opened or read
    beyond 1 MiB. A state that names a C(vllm_preset) the TOML does not define gives a warning.
    A VM is
    provisioned when its state has both C(vm_id) and C(public_ip); it is then in group
    C(provisioned).
  - "Host variables: C(hyperstack_label), C(hyperstack_config_path), C(hyperstack_state_path),
    C(hyperstack_state_error) (null when the state file is usable), C(hyperstack_provisioned),
    C(hyperstack_vm_id), C(hyperstack_vm_name), C(hyperstack_public_ip), C(hyperstack_region),
    C(hyperstack_status) (from the state, null when absent), C(hyperstack_flavor) (the state's
    flavour, else the TOML C(vm.flavor_name)), C(hyperstack_expected_gpu_count) (the flavour's
    C(xN) suffix, null without one), C(hyperstack_labels) (C(vm.labels)),
    C(hyperstack_vllm_model), C(hyperstack_vllm_container) (from the state, else the preset the
    state names in C(vllm_preset), else C([vllm])), C(hyperstack_vllm_preset),
    C(hyperstack_vllm_port) (C(network.ollama_port): vLLM listens there),
    C(hyperstack_tensor_parallel_size), C(hyperstack_wireguard_hostname),
    C(hyperstack_wireguard_ip)."
  - "Model service variables: C(hyperstack_vllm_enabled) and C(hyperstack_ollama_enabled) (the state's
    C(services.vllm_enabled) and C(services.ollama_enabled), else the TOML's C([vllm] install) and
    C([ollama] install)), and C(hyperstack_service) - V(vllm) when vLLM is enabled, else V(ollama) for an
    Ollama VM, else V(none). The playbooks pass it to M(gpufleet.vllm.node_info) as O(gpufleet.vllm.node_info#module:service):
    an Ollama VM's GPUs are watched, its model service is shown as not watched and never failed.
    When vLLM is not enabled the C(hyperstack_vllm_model), C(hyperstack_vllm_container),
    C(hyperstack_vllm_preset) and C(hyperstack_tensor_parallel_size) are null."
  - Ollama VMs (C(hyperstack_service=ollama)) are also in group C(ollama).
  - "Connection variables: C(ansible_host), C(ansible_user), C(ansible_port),
    C(ansible_ssh_private_key_file), C(ansible_ssh_common_args), C(ansible_ssh_host_key_checking)
    (always true), and C(ansible_ssh_timeout)
    (Ansible puts its own C(ConnectTimeout) before C(ansible_ssh_common_args), and ssh keeps
    the first value, so the timeout is set there too), and for the optional Mitogen executor
    C(mitogen_ssh_keepalive_interval) 5 and C(mitogen_ssh_keepalive_count) 3 (hypr's
    server-alive settings, which Mitogen would otherwise override)."
  - Every value read from the files is marked unsafe, so a C({{ ... }}) in a TOML or state file
    is kept as text and never templated or run.
  - A malformed TOML file or a value of the wrong type stops the inventory with an error naming
    the file and the line or key; so does a VM config that is not a regular file, is larger than
    1 MiB, is nested too deeply or holds an integer longer than Python reads. Keys hypr's schema
    does not know give a warning.
  - A VM config whose host name would also be the name of a group of the inventory (C(all),
    C(ungrouped), C(provisioned), C(unprovisioned), C(ollama), or one that O(groups) or O(keyed_groups)
    make), or Ansible's implicit C(localhost) (C(localhost), C(127.0.0.1), C(::1)), is left out
    with a warning naming the file; the other VMs are kept.
requirements:
  - Python 3.11 or newer on the controller (C(tomllib)).
extends_documentation_fragment:
  - ansible.builtin.constructed
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    type: str
    required: true
    choices: [gpufleet.vllm.hyperstack]
  config_files:
    description:
      - The hypr VM config files to read, as glob patterns (C(*), C(?), C([...]), C(**)).
      - A relative pattern is resolved against the folder of this configuration file; C(~) is
        expanded. A pattern that matches no file gives a warning, and so does an empty list.
      - Two files with the same name in different folders would give the same host name, which
        is an error.
    type: list
    elements: str
    required: true
  address:
    description:
      - How Ansible reaches each VM (C(ansible_host)).
      - V(wireguard_hostname) is what hypr uses, C(<vm.hostname>.<local_client.interface_name>)
        (for example C(hyperstack1.wg1)); hypr's C(wg1-setup.sh) puts it in C(/etc/hosts).
      - V(wireguard_ip) is C(network.wireguard_server_ip), else the first address of
        C(network.wireguard_subnet).
      - V(public_ip) is the state's C(public_ip). A VM that is not provisioned has none, so it
        keeps the WireGuard hostname.
    type: str
    default: wireguard_hostname
    choices: [wireguard_hostname, wireguard_ip, public_ip]
"""

EXAMPLES = r"""
# hyperstack.yml next to a hypr checkout: every VM config of the checkout, addressed as hypr
# does (over WireGuard, e.g. hyperstack1.wg1).
plugin: gpufleet.vllm.hyperstack
config_files:
  - ~/git/hypr/hyperstack-vm*.toml

---
# fleet.hyperstack.yml: reach the VMs on their public IP and group them by model and flavour.
plugin: gpufleet.vllm.hyperstack
config_files:
  - ../hypr/hyperstack-vm1.toml
  - ../hypr/hyperstack-vm2.toml
address: public_ip
keyed_groups:
  - key: hyperstack_vllm_model
    prefix: model
  - key: hyperstack_flavor
    prefix: flavor
groups:
  multi_gpu: hyperstack_expected_gpu_count is not none and hyperstack_expected_gpu_count > 1
compose:
  vllm_url: "'http://' ~ hyperstack_wireguard_hostname ~ ':' ~ hyperstack_vllm_port ~ '/v1'"
"""

import glob
import os
import shlex
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._hypr_config import (
    HyprConfigError,
    expected_gpu_count,
    is_provisioned,
    load_config,
    load_state,
    resolve_path,
    service_flags,
    unknown_preset,
    vllm_settings,
    watched_service,
    wireguard_hostname,
    wireguard_ip,
)

CONFIG_NAMES = ("hyperstack.yml", "hyperstack.yaml")
CONFIG_SUFFIXES = (".hyperstack.yml", ".hyperstack.yaml")
GROUP_PROVISIONED = "provisioned"
GROUP_UNPROVISIONED = "unprovisioned"
GROUP_OLLAMA = "ollama"
PLUGIN_GROUPS = (GROUP_PROVISIONED, GROUP_UNPROVISIONED, GROUP_OLLAMA)
# Groups every inventory has.
ANSIBLE_GROUPS = ("all", "ungrouped")
# hypr's watcher: ssh -o ServerAliveInterval=5 -o ServerAliveCountMax=3 (docs/dev/formats.md 1.4).
SERVER_ALIVE_INTERVAL = 5
SERVER_ALIVE_COUNT_MAX = 3


def expand_config_files(patterns: list[str], base_dir: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Resolve the glob patterns of O(config_files) against base_dir, with ``~`` expanded.

    Returns (files, unmatched): absolute paths of the matching files, in pattern order then
    name order, each once; and (pattern, resolved pattern) for each pattern that matched nothing.
    Folders are left out; anything else that matches (a FIFO, a device) is kept, so that
    reading it reports what it is.
    """
    files: list[str] = []
    unmatched = []
    for pattern in patterns:
        resolved = os.path.abspath(os.path.join(base_dir, os.path.expanduser(pattern)))
        matches = sorted(match for match in glob.glob(resolved, recursive=True) if not os.path.isdir(match))
        if not matches:
            unmatched.append((pattern, resolved))
        files.extend(match for match in matches if match not in files)
    return files, unmatched


def host_label(config_path: str) -> str:
    """hypr's label: File.basename(path, '.toml')."""
    name = os.path.basename(config_path)
    return name[: -len(".toml")] if name.endswith(".toml") else name


def refused_label(label: str, group_names: set[str]) -> str | None:
    """Why a host name cannot be used, or None.

    A host named like a group makes Ansible take the one for the other (a group inside itself,
    a traceback for ``ungrouped``); a host named like Ansible's implicit localhost takes over
    ``delegate_to: localhost`` and every other task meant for the controller.
    """
    if label in group_names:
        return f"its host name {label!r} is the name of the inventory group {label!r}"
    if label in C.LOCALHOST:
        return (
            f"its host name {label!r} is Ansible's name for the controller, so tasks meant for the "
            "controller (delegate_to: localhost) would run on this VM"
        )
    return None


def _ssh_config_quote(value: str) -> str:
    """Quote a path for an ssh ``-o Key=value`` item: ssh splits values on spaces, reads
    backslash escapes inside double quotes and expands ``%`` tokens in UserKnownHostsFile."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def ssh_common_args(known_hosts_path: str, connect_timeout: int) -> str:
    """hypr's ssh options as one ``-o Key=Value`` string; Ansible splits it shell-style."""
    options = [
        f"UserKnownHostsFile={_ssh_config_quote(known_hosts_path)}",
        "StrictHostKeyChecking=accept-new",
        f"ConnectTimeout={connect_timeout}",
        f"ServerAliveInterval={SERVER_ALIVE_INTERVAL}",
        f"ServerAliveCountMax={SERVER_ALIVE_COUNT_MAX}",
        "BatchMode=yes",
    ]
    return " ".join(f"-o {shlex.quote(option)}" for option in options)


def build_host_vars(
    label: str,
    config_path: str,
    config: dict[str, Any],
    state_path: str,
    state: dict[str, Any],
    state_error: str | None,
    address: str,
    private_key_file: str | None,
) -> dict[str, Any]:
    """All variables of one host. private_key_file: the key's path when the file exists, else None."""
    provisioned = is_provisioned(state)
    flavor = state.get("flavor_name") or config["vm"]["flavor_name"]
    services = service_flags(config, state)
    service = watched_service(services)
    vllm = (
        vllm_settings(config, state)
        if services["vllm_enabled"]
        else dict.fromkeys(("model", "container_name", "preset", "tensor_parallel_size"))
    )
    wg_hostname = wireguard_hostname(config)
    wg_ip = wireguard_ip(config)
    if address == "wireguard_ip":
        ansible_host = wg_ip
    elif address == "public_ip" and provisioned:
        ansible_host = state["public_ip"]
    else:
        ansible_host = wg_hostname
    ssh = config["ssh"]
    host_vars = {
        "ansible_host": ansible_host,
        "ansible_user": ssh["username"],
        "ansible_port": ssh["port"],
        "ansible_ssh_common_args": ssh_common_args(state_path + ".known_hosts", ssh["connect_timeout_sec"]),
        "ansible_ssh_timeout": ssh["connect_timeout_sec"],
        # ansible-runner (so AWX, AAP, ansible-navigator) exports ANSIBLE_HOST_KEY_CHECKING=False;
        # Ansible would then put StrictHostKeyChecking=no ahead of the accept-new above, and ssh
        # keeps the first value. A host variable beats the environment and ansible.cfg.
        "ansible_ssh_host_key_checking": True,
        # Mitogen (the optional executor) puts its own keep-alive options first (30 s x 10):
        # these keep hypr's 5 s x 3, so a dead host is noticed as fast with Mitogen as without.
        "mitogen_ssh_keepalive_interval": SERVER_ALIVE_INTERVAL,
        "mitogen_ssh_keepalive_count": SERVER_ALIVE_COUNT_MAX,
        "hyperstack_label": label,
        "hyperstack_config_path": config_path,
        "hyperstack_state_path": state_path,
        "hyperstack_state_error": state_error,
        "hyperstack_provisioned": provisioned,
        "hyperstack_vm_id": state.get("vm_id"),
        "hyperstack_vm_name": state.get("vm_name"),
        "hyperstack_public_ip": state.get("public_ip"),
        "hyperstack_flavor": flavor,
        "hyperstack_region": state.get("region"),
        "hyperstack_status": state.get("status"),
        "hyperstack_expected_gpu_count": expected_gpu_count(flavor),
        "hyperstack_labels": config["vm"]["labels"],
        "hyperstack_vllm_model": vllm["model"],
        "hyperstack_vllm_container": vllm["container_name"],
        "hyperstack_vllm_preset": vllm["preset"],
        "hyperstack_vllm_port": config["network"]["ollama_port"],
        "hyperstack_tensor_parallel_size": vllm["tensor_parallel_size"],
        "hyperstack_vllm_enabled": services["vllm_enabled"],
        "hyperstack_ollama_enabled": services["ollama_enabled"],
        "hyperstack_service": service,
        "hyperstack_wireguard_hostname": wg_hostname,
        "hyperstack_wireguard_ip": wg_ip,
    }
    if private_key_file is not None:
        host_vars["ansible_ssh_private_key_file"] = private_key_file
    return host_vars


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "gpufleet.vllm.hyperstack"
    # Host variables come from files hypr (or a VM's provisioning) wrote, not from this plugin's
    # own configuration: Ansible must not treat them as templates.
    trusted_by_default = False

    def verify_file(self, path: str) -> bool:
        if not super().verify_file(path):
            return False
        name = os.path.basename(path)
        return name in CONFIG_NAMES or name.endswith(CONFIG_SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        self._populate(os.path.dirname(os.path.abspath(path)), path)

    def _populate(self, base_dir: str, source: str = "gpufleet.vllm.hyperstack") -> None:
        """Add one host per matching TOML file; relative patterns resolve against base_dir.
        source: this configuration file, for messages."""
        patterns = self.get_option("config_files")
        if not patterns:
            self.display.warning(f"{source}: config_files is empty, so this inventory has no hosts")
        files, unmatched = expand_config_files(patterns, base_dir)
        for pattern, resolved in unmatched:
            self.display.warning(f"gpufleet.vllm.hyperstack: config_files: {pattern!r} matched no file ({resolved})")
        # The status groups always exist (a play may target them); the service group ollama only
        # when a VM runs Ollama, so a vLLM fleet's graph shows no empty group.
        for group in (GROUP_PROVISIONED, GROUP_UNPROVISIONED):
            self.inventory.add_group(group)
        sources: dict[str, str] = {}
        hosts = []
        for config_path in files:
            label = host_label(config_path)
            if label in sources:
                raise AnsibleParserError(
                    f"{config_path}: host name {label!r} is already used by {sources[label]}; "
                    "hypr names hosts after the file, so give the TOML files distinct names"
                )
            sources[label] = config_path
            hosts.append((label, config_path, self._host_vars(label, config_path)))
        group_names = self._group_names([host_vars for _label, _path, host_vars in hosts])
        for label, config_path, host_vars in hosts:
            problem = refused_label(label, group_names)
            if problem is None:
                self._add_host(label, host_vars)
            else:
                self.display.warning(f"{config_path}: VM left out of the inventory: {problem}; rename the file")

    def _host_vars(self, label: str, config_path: str) -> dict[str, Any]:
        """The variables of one host, marked unsafe; warns about what it had to leave out."""
        try:
            config, unknown = load_config(config_path)
        except HyprConfigError as exc:
            raise AnsibleParserError(str(exc)) from exc
        if unknown:
            self.display.warning(
                f"{config_path}: ignoring keys hypr's schema does not have (a newer hypr may use them): "
                + ", ".join(unknown)
            )
        config_dir = os.path.dirname(config_path)
        state_path = resolve_path(config["state"]["file"], config_dir)
        state, state_error = load_state(state_path)
        if state_error is not None:
            self.display.warning(f"{label}: {state_error} ({state_path}); the host is marked not provisioned")
        preset = unknown_preset(config, state)
        if preset is not None:
            self.display.warning(
                f"{label}: the state file names vllm_preset {preset!r} ({state_path}), which {config_path} "
                "does not define; the model, container and tensor parallel size come from [vllm] instead"
            )
        private_key_file = resolve_path(config["ssh"]["private_key_path"], config_dir)
        return wrap_var(
            build_host_vars(
                label,
                config_path,
                config,
                state_path,
                state,
                state_error,
                self.get_option("address"),
                private_key_file if os.path.isfile(private_key_file) else None,
            )
        )

    def _group_names(self, all_host_vars: list[dict[str, Any]]) -> set[str]:
        """Every group name the inventory will have: Ansible's, this plugin's, those of other
        sources already read, and those compose, groups and keyed_groups make from the hosts'
        variables (found by adding the hosts under neutral names to a scratch inventory)."""
        names = set(self.inventory.groups) | set(ANSIBLE_GROUPS)
        real = self.inventory
        self.inventory = InventoryData()
        try:
            for group in PLUGIN_GROUPS:
                self.inventory.add_group(group)
            for index, host_vars in enumerate(all_host_vars):
                self._add_host(f"\x00host-{index}", host_vars)
            return names | set(self.inventory.groups)
        finally:
            self.inventory = real

    def _add_host(self, label: str, host_vars: dict[str, Any]) -> None:
        """Add the host to self.inventory with its variables and groups."""
        self.inventory.add_host(label)
        group = GROUP_PROVISIONED if host_vars["hyperstack_provisioned"] else GROUP_UNPROVISIONED
        self.inventory.add_child(group, label)
        if host_vars["hyperstack_service"] == "ollama":
            self.inventory.add_group(GROUP_OLLAMA)
            self.inventory.add_child(GROUP_OLLAMA, label)
        for name, value in host_vars.items():
            self.inventory.set_variable(label, name, value)

        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), host_vars, label, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), host_vars, label, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, label, strict=strict)
