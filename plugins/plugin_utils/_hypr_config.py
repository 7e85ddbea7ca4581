# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading hypr's VM configs (TOML) and state files (JSON): load, merge over defaults, validate.

PRIVATE to the collection: not a public API, may change without notice.
Implements docs/dev/formats.md section 1 (hypr ``lib/hyperstack/config.rb`` ``ConfigLoader::DEFAULTS``
and accessors, state file keys). Controller side (Python >= 3.12, uses ``tomllib``).
Every value returned here came from a file: callers must treat it as untrusted text.
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
import json
import os
import re
import stat
import sys
import tomllib
from typing import Any


class HyprConfigError(Exception):
    """A hypr TOML file that cannot be used; the message names the file and the key or line."""


class NotAHyprFile(Exception):
    """A path that is not a small regular file; the message says what it is instead."""


# hypr's VM configs and state files are a few KB. Anything bigger is not one of them, and a
# bound keeps a path such as /dev/zero or a huge file from being read until memory runs out.
MAX_FILE_BYTES = 1024 * 1024
MAX_FILE_SIZE_TEXT = "1 MiB"


# hypr ConfigLoader::DEFAULTS (docs/dev/formats.md 1.2). wireguard_server_ip defaults to nil, which TOML
# cannot write: None here, and "subnet base + 1" when it is needed.
DEFAULTS: dict[str, Any] = {
    "auth": {"api_key_file": "~/.hyperstack"},
    "hyperstack": {"base_url": "https://infrahub-api.nexgencloud.com/v1"},
    "state": {"file": ".hyperstack-vm-state.json"},
    "vm": {
        "name_prefix": "hyperstack",
        "hostname": "hyperstack",
        "flavor_name": "n3-A100x1",
        "image_name": "Ubuntu Server 24.04 LTS R570 CUDA 12.8 with Docker",
        "assign_floating_ip": True,
        "create_bootable_volume": False,
        "enable_port_randomization": False,
        "labels": ["qwen36-27b", "wireguard"],
    },
    "ssh": {
        "username": "ubuntu",
        "private_key_path": "~/.ssh/id_rsa",
        "hyperstack_key_name": "earth",
        "port": 22,
        "connect_timeout_sec": 10,
    },
    "network": {
        "wireguard_udp_port": 56710,
        "wireguard_subnet": "192.168.3.0/24",
        "wireguard_server_ip": None,
        "ollama_port": 11434,
        "allowed_ssh_cidrs": ["auto"],
        "allowed_wireguard_cidrs": ["auto"],
    },
    "bootstrap": {
        "enable_guest_bootstrap": True,
        "install_wireguard": True,
        "configure_ufw": True,
        "configure_ollama_host": False,
    },
    "ollama": {
        "install": False,
        "models_dir": "/ephemeral/ollama/models",
        "listen_host": "0.0.0.0:11434",
        "gpu_overhead_mb": 2000,
        "num_parallel": 1,
        "context_length": 32768,
        "pull_models": ["qwen3-coder:30b", "qwen36-27b", "nemotron-3-super"],
    },
    "vllm": {
        "install": True,
        "model": "Qwen/Qwen3.6-27B-FP8",
        "hug_cache_dir": "/ephemeral/hug",
        "container_name": "vllm_qwen36_27b",
        "max_model_len": 262144,
        "gpu_memory_utilization": 0.92,
        "tensor_parallel_size": 1,
        "tool_call_parser": "qwen3_coder",
    },
    "local_client": {
        "check_wg1_service": True,
        "interface_name": "wg1",
        "config_path": "/etc/wireguard/wg1.conf",
    },
}

_STRING = "string"
_INTEGER = "integer"
_NUMBER = "number"
_BOOLEAN = "boolean"
_STRINGS = "array of strings"
_ANY = "any"

# Keys a preset may override (docs/dev/formats.md 1.2, `[vllm.presets.<name>]`); speculative_config is
# only shown in newer hypr docs, with no fixed shape.
_MODEL_KEYS = {
    "model": _STRING,
    "container_name": _STRING,
    "max_model_len": _INTEGER,
    "gpu_memory_utilization": _NUMBER,
    "tensor_parallel_size": _INTEGER,
    "tool_call_parser": _STRING,
    "trust_remote_code": _BOOLEAN,
    "extra_vllm_args": _STRINGS,
    "extra_docker_env": _STRINGS,
    "docker_image": _STRING,
    "pre_start_cmd": _STRING,
    "enable_prefix_caching": _BOOLEAN,
    "speculative_config": _ANY,
}

_SCHEMA: dict[str, dict[str, str]] = {
    "auth": {"api_key_file": _STRING},
    "hyperstack": {"base_url": _STRING},
    "state": {"file": _STRING},
    "vm": {
        "name_prefix": _STRING,
        "hostname": _STRING,
        "environment_name": _STRING,
        "flavor_name": _STRING,
        "image_name": _STRING,
        "assign_floating_ip": _BOOLEAN,
        "create_bootable_volume": _BOOLEAN,
        "enable_port_randomization": _BOOLEAN,
        "labels": _STRINGS,
        "user_data": _STRING,
        "user_data_file": _STRING,
    },
    "ssh": {
        "username": _STRING,
        "private_key_path": _STRING,
        "hyperstack_key_name": _STRING,
        "port": _INTEGER,
        "connect_timeout_sec": _INTEGER,
    },
    "network": {
        "wireguard_udp_port": _INTEGER,
        "wireguard_subnet": _STRING,
        "wireguard_server_ip": _STRING,
        "ollama_port": _INTEGER,
        "allowed_ssh_cidrs": _STRINGS,
        "allowed_wireguard_cidrs": _STRINGS,
    },
    "bootstrap": {
        "enable_guest_bootstrap": _BOOLEAN,
        "install_wireguard": _BOOLEAN,
        "configure_ufw": _BOOLEAN,
        "configure_ollama_host": _BOOLEAN,
    },
    "ollama": {
        "install": _BOOLEAN,
        "models_dir": _STRING,
        "listen_host": _STRING,
        "gpu_overhead_mb": _INTEGER,
        "num_parallel": _INTEGER,
        "context_length": _INTEGER,
        "pull_models": _STRINGS,
    },
    "vllm": {"install": _BOOLEAN, "hug_cache_dir": _STRING, **_MODEL_KEYS},
    "wireguard": {"auto_setup": _BOOLEAN, "setup_script": _STRING},
    "local_client": {
        "check_wg1_service": _BOOLEAN,
        "interface_name": _STRING,
        "config_path": _STRING,
    },
}

# hypr validates vm.hostname with /\A[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\z/; it also keeps a
# name from starting with "-", where ssh would read it as an option.
_HOSTNAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# The interface names wg-quick accepts.
_INTERFACE_RE = re.compile(r"[a-zA-Z0-9_=+.-]{1,15}")
_GPU_COUNT_RE = re.compile(r"x(\d+)$")

# State keys the inventory reads, with the JSON types hypr writes (docs/dev/formats.md 1.3).
# hypr's state ``services``: which model service provisioning enabled.
_SERVICE_FLAGS = ("vllm_enabled", "ollama_enabled")
_STATE_STRINGS = (
    "vm_name",
    "region",
    "flavor_name",
    "status",
    "public_ip",
    "vllm_model",
    "vllm_container_name",
    "vllm_preset",
)
_DESCRIBE_LIMIT = 80
_NESTED_TOO_DEEPLY = "arrays or tables nested too deeply"


def _describe(value: Any) -> str:
    """Name a value as TOML/JSON would, for error messages: "string 'x'", "integer 3"."""
    if isinstance(value, bool):
        return "boolean " + ("true" if value else "false")
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        text = repr(value)
        if len(text) > _DESCRIBE_LIMIT:
            text = text[: _DESCRIBE_LIMIT - 4] + "...'"
        return f"string {text}"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return f"date-time {value.isoformat()}"
    if value is None:
        return "null"
    return type(value).__name__


def _has_type(expected: str, value: Any) -> bool:
    if expected == _ANY:
        return True
    if expected == _STRING:
        return isinstance(value, str)
    if expected == _BOOLEAN:
        return isinstance(value, bool)
    if isinstance(value, bool):
        # bool is an int subclass in Python; TOML `port = true` is still wrong.
        return False
    if expected == _INTEGER:
        return isinstance(value, int)
    if expected == _NUMBER:
        return isinstance(value, (int, float))
    raise AssertionError(f"unknown type name {expected!r}")


def _type_error(source: str, key: str, expected: str, value: Any) -> HyprConfigError:
    return HyprConfigError(f"{source}: {key}: expected {expected}, found {_describe(value)}")


def _check_table(source: str, prefix: str, table: dict[str, Any], schema: dict[str, str]) -> list[str]:
    """Raise on the first value of the wrong type; return the dotted names of unknown keys."""
    unknown = []
    for key, value in table.items():
        name = f"{prefix}.{key}"
        expected = schema.get(key)
        if expected is None:
            unknown.append(name)
        elif expected == _STRINGS:
            if not isinstance(value, list):
                raise _type_error(source, name, expected, value)
            for index, item in enumerate(value):
                if not isinstance(item, str):
                    raise _type_error(source, f"{name}[{index}]", _STRING, item)
        elif not _has_type(expected, value):
            raise _type_error(source, name, expected, value)
    return unknown


def validate_config(data: dict[str, Any], source: str) -> list[str]:
    """Check the types of a user TOML document (before merging) against hypr's schema.

    Raises HyprConfigError("<source>: <key>: expected X, found Y") on the first wrong type.
    Returns the dotted names of keys hypr's schema does not have: hypr grows new keys, so
    callers warn about them instead of failing.
    """
    unknown = []
    for section, table in data.items():
        schema = _SCHEMA.get(section)
        if schema is None:
            unknown.append(section)
            continue
        if not isinstance(table, dict):
            raise _type_error(source, section, "table", table)
        body = table
        if section == "vllm" and "presets" in table:
            presets = table["presets"]
            if not isinstance(presets, dict):
                raise _type_error(source, "vllm.presets", "table", presets)
            for preset_name, preset in presets.items():
                name = f"vllm.presets.{preset_name}"
                if not isinstance(preset, dict):
                    raise _type_error(source, name, "table", preset)
                unknown.extend(_check_table(source, name, preset, _MODEL_KEYS))
            body = {key: value for key, value in table.items() if key != "presets"}
        unknown.extend(_check_table(source, section, body, schema))
    return unknown


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """hypr's deep merge: tables merge key by key, any other value replaces the base value."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _check_range(source: str, key: str, value: int, low: int, high: int | None) -> None:
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise HyprConfigError(f"{source}: {key}: expected an integer {bound}, found {_describe(value)}")


def _check_values(config: dict[str, Any], source: str) -> None:
    """Check the merged values the inventory turns into connection settings."""
    hostname = config["vm"]["hostname"]
    if not _HOSTNAME_RE.fullmatch(hostname):
        raise HyprConfigError(
            f"{source}: vm.hostname: expected a lower-case DNS label (a-z, 0-9 and '-', "
            f"1 to 63 characters, no '-' at either end), found {_describe(hostname)}"
        )
    interface = config["local_client"]["interface_name"]
    if not _INTERFACE_RE.fullmatch(interface):
        raise HyprConfigError(
            f"{source}: local_client.interface_name: expected an interface name "
            f"(1 to 15 of a-z A-Z 0-9 _ = + . -), found {_describe(interface)}"
        )
    _check_range(source, "ssh.port", config["ssh"]["port"], 1, 65535)
    _check_range(source, "ssh.connect_timeout_sec", config["ssh"]["connect_timeout_sec"], 1, None)
    _check_range(source, "network.ollama_port", config["network"]["ollama_port"], 1, 65535)
    _check_range(source, "vllm.tensor_parallel_size", config["vllm"]["tensor_parallel_size"], 1, None)
    for name, preset in config["vllm"].get("presets", {}).items():
        if "tensor_parallel_size" in preset:
            _check_range(source, f"vllm.presets.{name}.tensor_parallel_size", preset["tensor_parallel_size"], 1, None)

    network = config["network"]
    try:
        subnet = ipaddress.ip_network(network["wireguard_subnet"], strict=False)
    except ValueError as exc:
        raise HyprConfigError(
            f"{source}: network.wireguard_subnet: expected a network such as '192.168.3.0/24', "
            f"found {_describe(network['wireguard_subnet'])}"
        ) from exc
    server_ip = network["wireguard_server_ip"]
    if server_ip is not None:
        try:
            inside = ipaddress.ip_address(server_ip) in subnet
        except ValueError:
            inside = False
        if not inside:
            raise HyprConfigError(
                f"{source}: network.wireguard_server_ip: expected an IP address inside "
                f"network.wireguard_subnet {subnet}, found {_describe(server_ip)}"
            )


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def read_small_file(path: str) -> bytes:
    """The content of a regular file of at most MAX_FILE_BYTES (symbolic links are followed).

    Never blocks and never reads more than MAX_FILE_BYTES + 1 bytes: a FIFO, device, directory or
    socket is refused before it is opened, and the open does not wait should the path turn
    into a FIFO meanwhile. Raises OSError (FileNotFoundError, ...) or NotAHyprFile, whose
    message says what was found ("a named pipe (FIFO), not a regular file").
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotAHyprFile(f"{_file_kind(mode)}, not a regular file")
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotAHyprFile(f"{_file_kind(info.st_mode)}, not a regular file")
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        size = f" ({info.st_size} bytes)" if info.st_size > MAX_FILE_BYTES else ""
        raise NotAHyprFile(f"larger than {MAX_FILE_SIZE_TEXT}{size}: too big for a hypr file")
    return raw


def _too_many_digits() -> str:
    """Python refuses to convert integers longer than this (a guard against slow conversions)."""
    return f"an integer has more than {sys.get_int_max_str_digits()} digits"


def load_toml(path: str) -> dict[str, Any]:
    """Read one TOML file; syntax errors name the file, line and column."""
    try:
        raw = read_small_file(path)
    except NotAHyprFile as exc:
        raise HyprConfigError(f"{path}: cannot read: {exc}") from exc
    except OSError as exc:
        raise HyprConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HyprConfigError(f"{path}: not UTF-8 text: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)".
        raise HyprConfigError(f"{path}: invalid TOML: {exc}") from exc
    except ValueError as exc:
        # Not a TOMLDecodeError: Python's limit on the digits of an integer.
        raise HyprConfigError(f"{path}: invalid TOML: {_too_many_digits()}") from exc
    except RecursionError as exc:
        raise HyprConfigError(f"{path}: invalid TOML: {_NESTED_TOO_DEEPLY}") from exc


def load_config(path: str) -> tuple[dict[str, Any], list[str]]:
    """Load a hypr VM config: validated, deep-merged over DEFAULTS.

    Returns (config, unknown_keys). Raises HyprConfigError naming the file and the line (syntax)
    or the key (type or value).
    """
    data = load_toml(path)
    try:
        unknown = validate_config(data, path)
        config = deep_merge(DEFAULTS, data)
    except RecursionError as exc:
        # A document tomllib still read, nested too deeply to copy.
        raise HyprConfigError(f"{path}: invalid TOML: {_NESTED_TOO_DEEPLY}") from exc
    _check_values(config, path)
    return config, unknown


def resolve_path(path: str, base_dir: str) -> str:
    """hypr's Config#expand_path: expand ``~``, then resolve a relative path against base_dir."""
    return os.path.abspath(os.path.join(base_dir, os.path.expanduser(path)))


def _state_problem(state: Any) -> str | None:
    if not isinstance(state, dict):
        return f"state file is not a JSON object (found {_describe(state)})"
    vm_id = state.get("vm_id")
    if vm_id is not None and (isinstance(vm_id, bool) or not isinstance(vm_id, (int, str))):
        return f"state file key vm_id: expected integer or string, found {_describe(vm_id)}"
    for key in _STATE_STRINGS:
        value = state.get(key)
        if value is not None and not isinstance(value, str):
            return f"state file key {key}: expected string, found {_describe(value)}"
    services = state.get("services")
    if services is not None:
        if not isinstance(services, dict):
            return f"state file key services: expected an object, found {_describe(services)}"
        for key in _SERVICE_FLAGS:
            value = services.get(key)
            if value is not None and not isinstance(value, bool):
                return f"state file key services.{key}: expected boolean, found {_describe(value)}"
    public_ip = state.get("public_ip")
    if public_ip is not None:
        try:
            ipaddress.ip_address(public_ip)
        except ValueError:
            return f"state file key public_ip: expected an IP address, found {_describe(public_ip)}"
    return None


def load_state(path: str) -> tuple[dict[str, Any], str | None]:
    """Read a hypr state file. Returns (state, None), or ({}, reason) when it cannot be used.

    JSON null counts as absent. Keys the inventory does not read are not checked: hypr adds keys.
    """
    try:
        raw = read_small_file(path)
    except FileNotFoundError:
        return {}, "state file does not exist"
    except NotAHyprFile as exc:
        return {}, f"state file is {exc}"
    except OSError as exc:
        return {}, f"cannot read state file: {exc.strerror}"
    try:
        state = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return {}, f"state file is not UTF-8 text: {exc}"
    except json.JSONDecodeError as exc:
        return {}, f"state file is not valid JSON: {exc}"
    except ValueError:
        # Not a JSONDecodeError: Python's limit on the digits of an integer.
        return {}, f"state file is not valid JSON: {_too_many_digits()}"
    except RecursionError:
        return {}, "state file is not valid JSON: arrays or objects nested too deeply"
    problem = _state_problem(state)
    if problem is not None:
        return {}, problem
    return state, None


def is_provisioned(state: dict[str, Any]) -> bool:
    """hypr's "active": the state has both a vm_id and a public_ip."""
    return state.get("vm_id") not in (None, "") and state.get("public_ip") is not None


def expected_gpu_count(flavor: str | None) -> int | None:
    """GPUs a Hyperstack flavour carries, from its ``xN`` suffix (``n3-A100x1`` -> 1)."""
    match = _GPU_COUNT_RE.search(flavor) if flavor else None
    return int(match.group(1)) if match else None


def wireguard_hostname(config: dict[str, Any]) -> str:
    """hypr's wireguard_gateway_hostname: ``<vm.hostname>.<local_client.interface_name>``."""
    return f"{config['vm']['hostname']}.{config['local_client']['interface_name']}"


def wireguard_ip(config: dict[str, Any]) -> str:
    """hypr's wireguard_gateway_ip: wireguard_server_ip, else the subnet's first address."""
    network = config["network"]
    if network["wireguard_server_ip"] is not None:
        return network["wireguard_server_ip"]
    subnet = ipaddress.ip_network(network["wireguard_subnet"], strict=False)
    return str(subnet.network_address + 1)


def _first_set(*values: Any) -> Any:
    return next((value for value in values if value not in (None, "")), None)


def unknown_preset(config: dict[str, Any], state: dict[str, Any]) -> str | None:
    """The preset the state names in ``vllm_preset`` when the TOML has no such
    ``[vllm.presets.<name>]`` (vllm_settings then falls back to ``[vllm]``), else None."""
    name = _first_set(state.get("vllm_preset"))
    if name is None or name in config["vllm"].get("presets", {}):
        return None
    return name


def vllm_settings(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """What the VM serves: the state's values, else the preset the state names, else ``[vllm]``.

    Returns {"model", "container_name", "preset", "tensor_parallel_size"}.
    """
    vllm = config["vllm"]
    preset_name = _first_set(state.get("vllm_preset"))
    preset = vllm.get("presets", {}).get(preset_name, {}) if preset_name else {}
    return {
        "model": _first_set(state.get("vllm_model"), preset.get("model"), vllm["model"]),
        "container_name": _first_set(
            state.get("vllm_container_name"), preset.get("container_name"), vllm["container_name"]
        ),
        "preset": preset_name,
        "tensor_parallel_size": _first_set(preset.get("tensor_parallel_size"), vllm["tensor_parallel_size"]),
    }


def service_flags(config: dict[str, Any], state: dict[str, Any]) -> dict[str, bool]:
    """Which model services the VM runs: the state's ``services`` (written by hypr's
    provisioning), else the TOML's ``[vllm] install`` and ``[ollama] install``.

    Returns {"vllm_enabled", "ollama_enabled"}."""
    services = state.get("services") or {}
    return {
        "vllm_enabled": _first_bool(services.get("vllm_enabled"), config["vllm"]["install"]),
        "ollama_enabled": _first_bool(services.get("ollama_enabled"), config["ollama"]["install"]),
    }


def _first_bool(*values: Any) -> bool:
    return next(value for value in values if isinstance(value, bool))


def watched_service(flags: dict[str, bool]) -> str:
    """The service node_info is asked to watch: ``vllm`` whenever vLLM is enabled, ``ollama``
    for an Ollama VM, ``none`` when neither runs."""
    if flags["vllm_enabled"]:
        return "vllm"
    return "ollama" if flags["ollama_enabled"] else "none"
