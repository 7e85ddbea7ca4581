# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of plugin_utils/_hypr_config.py: hypr TOML/state loading, merging and validation."""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import subprocess
import sys

import pytest

from ansible_collections.gpufleet.vllm.plugins.plugin_utils import _hypr_config as hypr

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "inventory", "fixtures")
HYPR_VM1 = os.path.abspath(os.path.join(FIXTURES, "hypr", "hyperstack-vm1.toml"))

# A user file with every required part, to which each case adds one wrong value.
BASE_TOML = """\
[vm]
environment_name = "snonux-ollama"

[wireguard]
auto_setup = false
setup_script = "./wg1-setup.sh"
"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"ssh": {"port": "x"}}, "f.toml: ssh.port: expected integer, found string 'x'"),
        ({"ssh": {"port": True}}, "f.toml: ssh.port: expected integer, found boolean true"),
        ({"ssh": {"port": 22.0}}, "f.toml: ssh.port: expected integer, found float 22.0"),
        ({"vm": {"labels": 3}}, "f.toml: vm.labels: expected array of strings, found integer 3"),
        ({"vm": {"labels": ["a", 3]}}, "f.toml: vm.labels[1]: expected string, found integer 3"),
        ({"vm": {"hostname": ["a"]}}, "f.toml: vm.hostname: expected string, found array"),
        ({"vm": 3}, "f.toml: vm: expected table, found integer 3"),
        ({"vm": {"assign_floating_ip": "yes"}}, "f.toml: vm.assign_floating_ip: expected boolean, found string 'yes'"),
        (
            {"vllm": {"gpu_memory_utilization": "high"}},
            "f.toml: vllm.gpu_memory_utilization: expected number, found string 'high'",
        ),
        ({"vllm": {"presets": []}}, "f.toml: vllm.presets: expected table, found array"),
        ({"vllm": {"presets": {"big": "x"}}}, "f.toml: vllm.presets.big: expected table, found string 'x'"),
        (
            {"vllm": {"presets": {"big": {"tensor_parallel_size": "8"}}}},
            "f.toml: vllm.presets.big.tensor_parallel_size: expected integer, found string '8'",
        ),
        (
            {"state": {"file": datetime.date(2026, 1, 2)}},
            "f.toml: state.file: expected string, found date-time 2026-01-02",
        ),
        ({"network": {"ollama_port": {"a": 1}}}, "f.toml: network.ollama_port: expected integer, found table"),
    ],
)
def test_validate_config_wrong_types(data, message):
    with pytest.raises(hypr.HyprConfigError) as info:
        hypr.validate_config(data, "f.toml")
    assert str(info.value) == message


def test_validate_config_shortens_long_values():
    # A long value is cut in the message, never dumped whole.
    with pytest.raises(hypr.HyprConfigError) as info:
        hypr.validate_config({"ssh": {"port": "9" * 100}}, "f.toml")
    assert str(info.value) == "f.toml: ssh.port: expected integer, found string '" + "9" * 75 + "...'"


@pytest.mark.parametrize(
    ("data", "unknown"),
    [
        ({}, []),
        ({"vm": {"hostname": "a", "spot": True}}, ["vm.spot"]),
        ({"telemetry": {"x": 1}, "ssh": {"port": 22}}, ["telemetry"]),
        (
            {"vllm": {"presets": {"p": {"model": "m", "kv_offload": "cpu", "speculative_config": {"n": 2}}}}},
            ["vllm.presets.p.kv_offload"],
        ),
        ({"vllm": {"model": "m", "speculative_config": "{}", "future": 1}}, ["vllm.future"]),
    ],
)
def test_validate_config_reports_unknown_keys(data, unknown):
    assert hypr.validate_config(data, "f.toml") == unknown


@pytest.mark.parametrize(
    ("base", "override", "merged"),
    [
        ({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}, {"a": {"b": 1, "c": 3}}),
        ({"a": {"b": 1}}, {"a": 5}, {"a": 5}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": 1}, {"b": {"c": 2}}, {"a": 1, "b": {"c": 2}}),
        ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"d": 4}}}, {"a": {"b": {"c": 1, "d": 4}}}),
    ],
)
def test_deep_merge(base, override, merged):
    assert hypr.deep_merge(base, override) == merged


def test_deep_merge_leaves_inputs_alone():
    base = {"vm": {"labels": ["a"]}}
    merged = hypr.deep_merge(base, {})
    merged["vm"]["labels"].append("b")
    assert base == {"vm": {"labels": ["a"]}}


def _write(tmp_path, text, name="vm.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[ssh]\nport = "x"\n', "ssh.port: expected integer, found string 'x'"),
        ("[ssh]\nport = 0\n", "ssh.port: expected an integer from 1 to 65535, found integer 0"),
        ("[ssh]\nport = 65536\n", "ssh.port: expected an integer from 1 to 65535, found integer 65536"),
        (
            "[ssh]\nconnect_timeout_sec = 0\n",
            "ssh.connect_timeout_sec: expected an integer of at least 1, found integer 0",
        ),
        ("[network]\nollama_port = -1\n", "network.ollama_port: expected an integer from 1 to 65535, found integer -1"),
        (
            "[vllm]\ntensor_parallel_size = 0\n",
            "vllm.tensor_parallel_size: expected an integer of at least 1, found integer 0",
        ),
        (
            "[vllm.presets.big]\ntensor_parallel_size = 0\n",
            "vllm.presets.big.tensor_parallel_size: expected an integer of at least 1, found integer 0",
        ),
        (
            '[local_client]\ninterface_name = "wg 1"\n',
            "local_client.interface_name: expected an interface name (1 to 15 of a-z A-Z 0-9 _ = + . -), "
            "found string 'wg 1'",
        ),
        (
            '[network]\nwireguard_subnet = "192.168.3.0/33"\n',
            "network.wireguard_subnet: expected a network such as '192.168.3.0/24', found string '192.168.3.0/33'",
        ),
        (
            '[network]\nwireguard_server_ip = "10.0.0.1"\n',
            "network.wireguard_server_ip: expected an IP address inside network.wireguard_subnet 192.168.3.0/24, "
            "found string '10.0.0.1'",
        ),
        (
            '[network]\nwireguard_server_ip = "hyperstack1"\n',
            "network.wireguard_server_ip: expected an IP address inside network.wireguard_subnet 192.168.3.0/24, "
            "found string 'hyperstack1'",
        ),
    ],
)
def test_load_config_rejects_bad_values(tmp_path, extra, message):
    path = _write(tmp_path, BASE_TOML + extra)
    with pytest.raises(hypr.HyprConfigError) as info:
        hypr.load_config(path)
    assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    "hostname",
    ["Hyperstack1", "-oProxyCommand=id", "host_1", "a" * 64, "end-", "", "a.b"],
)
def test_load_config_rejects_hostnames_hypr_rejects(tmp_path, hostname):
    path = _write(tmp_path, BASE_TOML.replace("[vm]\n", f'[vm]\nhostname = "{hostname}"\n'))
    with pytest.raises(hypr.HyprConfigError) as info:
        hypr.load_config(path)
    assert str(info.value) == (
        f"{path}: vm.hostname: expected a lower-case DNS label (a-z, 0-9 and '-', 1 to 63 characters, "
        f"no '-' at either end), found string {hostname!r}"
    )


@pytest.mark.parametrize("hostname", ["a", "hyperstack1", "a" * 63, "0-gpu-9"])
def test_load_config_accepts_hostnames_hypr_accepts(tmp_path, hostname):
    path = _write(tmp_path, BASE_TOML.replace("[vm]\n", f'[vm]\nhostname = "{hostname}"\n'))
    assert hypr.load_config(path)[0]["vm"]["hostname"] == hostname


def test_load_config_merges_over_defaults(tmp_path):
    config, unknown = hypr.load_config(_write(tmp_path, BASE_TOML))
    assert unknown == []
    assert config == hypr.deep_merge(
        hypr.DEFAULTS,
        {
            "vm": {"environment_name": "snonux-ollama"},
            "wireguard": {"auto_setup": False, "setup_script": "./wg1-setup.sh"},
        },
    )
    assert config["ssh"] == {
        "username": "ubuntu",
        "private_key_path": "~/.ssh/id_rsa",
        "hyperstack_key_name": "earth",
        "port": 22,
        "connect_timeout_sec": 10,
    }


def test_load_config_on_hypr_vm1():
    config, unknown = hypr.load_config(HYPR_VM1)
    assert unknown == []
    assert config["state"]["file"] == ".hyperstack-vm1-state.json"
    assert config["vm"]["hostname"] == "hyperstack1"
    assert config["network"]["wireguard_server_ip"] == "192.168.3.1"
    assert sorted(config["vllm"]["presets"]) == [
        "deepseek-r1-32b",
        "devstral",
        "gemma4-31b",
        "nemotron-super",
        "qwen25-coder-32b",
        "qwen3-32b",
        "qwen3-coder-30b",
        "qwen36-27b",
        "qwen36-35b-a3b",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[vm]\nhostname = "a"\nflavor_name = n3-A100x1\n', "invalid TOML: Invalid value (at line 3, column 15)"),
        (b"[vm]\n[vm]\n", "invalid TOML: Cannot declare ('vm',) twice (at line 2, column 4)"),
        (b"[vm\n", "invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 4)"),
        (
            b'[vm]\nhostname = "\xff"\n',
            "not UTF-8 text: 'utf-8' codec can't decode byte 0xff in position 17: invalid start byte",
        ),
    ],
)
def test_load_toml_errors_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "vm.toml"
    path.write_bytes(content)
    with pytest.raises(hypr.HyprConfigError) as info:
        hypr.load_toml(str(path))
    assert str(info.value) == f"{path}: {message}"


def test_load_toml_missing_file(tmp_path):
    path = str(tmp_path / "absent.toml")
    with pytest.raises(hypr.HyprConfigError) as info:
        hypr.load_toml(path)
    assert str(info.value) == f"{path}: cannot read: No such file or directory"


@pytest.mark.parametrize(
    ("content", "state", "error"),
    [
        (
            b'{"vm_id": 7, "public_ip": "203.0.113.9", "x": [1]}',
            {"vm_id": 7, "public_ip": "203.0.113.9", "x": [1]},
            None,
        ),
        (b'{"vm_id": null, "public_ip": null}', {"vm_id": None, "public_ip": None}, None),
        (b'{"public_ip": "2001:db8::1"}', {"public_ip": "2001:db8::1"}, None),
        (b"", {}, "state file is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        (
            b'{"vm_id": 1,\n',
            {},
            "state file is not valid JSON: Expecting property name enclosed in double quotes: line 2 column 1 (char 13)",
        ),
        (b"[]", {}, "state file is not a JSON object (found array)"),
        (b'"x"', {}, "state file is not a JSON object (found string 'x')"),
        (b'{"vm_id": true}', {}, "state file key vm_id: expected integer or string, found boolean true"),
        (b'{"vm_id": 1.5}', {}, "state file key vm_id: expected integer or string, found float 1.5"),
        (b'{"vm_name": 3}', {}, "state file key vm_name: expected string, found integer 3"),
        (b'{"vllm_model": ["a"]}', {}, "state file key vllm_model: expected string, found array"),
        (
            b'{"public_ip": "-oProxyCommand=id"}',
            {},
            "state file key public_ip: expected an IP address, found string '-oProxyCommand=id'",
        ),
        (b'{"public_ip": ""}', {}, "state file key public_ip: expected an IP address, found string ''"),
        (
            b'{"vm_name": "\xff"}',
            {},
            "state file is not UTF-8 text: 'utf-8' codec can't decode byte 0xff in position 13: invalid start byte",
        ),
    ],
)
def test_load_state(tmp_path, content, state, error):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    assert hypr.load_state(str(path)) == (state, error)


def test_load_state_missing(tmp_path):
    assert hypr.load_state(str(tmp_path / "absent.json")) == ({}, "state file does not exist")


def load_isolated(function: str, path: str) -> str | list:
    """``hypr.<function>(path)`` in a child process bound in time (10 s) and memory (1 GiB), so
    that a reader which blocks on a FIFO or reads /dev/zero without end fails the test instead of
    hanging the suite or the machine. Returns the JSON of the result, or the error's message."""
    code = (
        "import json, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))\n"
        "from ansible_collections.gpufleet.vllm.plugins.plugin_utils import _hypr_config as hypr\n"
        "try:\n"
        f"    print(json.dumps(hypr.{function}(sys.argv[1])))\n"
        "except hypr.HyprConfigError as exc:\n"
        "    print(json.dumps(str(exc)))\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, path],
        capture_output=True,
        text=True,
        timeout=10,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        check=False,
    )
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout)


def make_special(tmp_path, kind: str) -> str:
    """A path that is not a regular file: a folder, a FIFO, a device, a socket, or a link to a FIFO."""
    path = str(tmp_path / f"{kind}.state")
    if kind == "directory":
        os.mkdir(path)
    elif kind in ("fifo", "link-to-fifo"):
        os.mkfifo(str(tmp_path / "fifo"))
        os.symlink(str(tmp_path / "fifo"), path)
    elif kind == "socket":
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.close()
    else:
        return kind  # a device path such as /dev/zero
    return path


SPECIAL_FILES = [
    ("directory", "a directory, not a regular file"),
    ("fifo", "a named pipe (FIFO), not a regular file"),
    ("link-to-fifo", "a named pipe (FIFO), not a regular file"),
    ("socket", "a socket, not a regular file"),
    ("/dev/zero", "a character device, not a regular file"),
    ("/dev/null", "a character device, not a regular file"),
]


@pytest.mark.parametrize(("kind", "what"), SPECIAL_FILES)
def test_load_state_reads_only_regular_files(tmp_path, kind, what):
    path = make_special(tmp_path, kind)
    assert load_isolated("load_state", path) == [{}, f"state file is {what}"]


@pytest.mark.parametrize(("kind", "what"), SPECIAL_FILES)
def test_load_toml_reads_only_regular_files(tmp_path, kind, what):
    path = make_special(tmp_path, kind)
    assert load_isolated("load_toml", path) == f"{path}: cannot read: {what}"


def test_read_small_file_has_a_cap(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b"{}" + b" " * (hypr.MAX_FILE_BYTES - 2))
    assert hypr.read_small_file(str(path)) == path.read_bytes()
    assert hypr.load_state(str(path)) == ({}, None)
    with open(path, "ab") as handle:
        handle.write(b" ")
    reason = f"larger than 1 MiB ({hypr.MAX_FILE_BYTES + 1} bytes): too big for a hypr file"
    with pytest.raises(hypr.NotAHyprFile, match=re.escape(reason)):
        hypr.read_small_file(str(path))
    assert hypr.load_state(str(path)) == ({}, "state file is " + reason)
    with pytest.raises(hypr.HyprConfigError) as info:
        hypr.load_toml(str(path))
    assert str(info.value) == f"{path}: cannot read: {reason}"


def test_read_small_file_follows_links_to_regular_files(tmp_path):
    (tmp_path / "state.json").write_text('{"vm_id": 7}')
    os.symlink(str(tmp_path / "state.json"), str(tmp_path / "link.json"))
    assert hypr.load_state(str(tmp_path / "link.json")) == ({"vm_id": 7}, None)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("[" * 100_000 + "]" * 100_000, "state file is not valid JSON: arrays or objects nested too deeply"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "state file is not valid JSON: arrays or objects nested too deeply"),
        ('{"vm_id": ' + "1" * 5001 + "}", "state file is not valid JSON: an integer has more than 4300 digits"),
    ],
)
def test_load_state_hostile_json(tmp_path, content, error):
    path = tmp_path / "state.json"
    path.write_text(content)
    assert hypr.load_state(str(path)) == ({}, error)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x = " + "[" * 100_000 + "]" * 100_000, "invalid TOML: arrays or tables nested too deeply"),
        # Dotted keys: tomllib reads them without recursion, the merge over the defaults cannot.
        ("[vm]\n" + "x." * 5000 + "y = 1", "invalid TOML: arrays or tables nested too deeply"),
        ("[ssh]\nport = " + "1" * 5001, "invalid TOML: an integer has more than 4300 digits"),
    ],
)
def test_load_config_hostile_toml_names_the_file(tmp_path, content, message):
    path = tmp_path / "vm.toml"
    path.write_text(content)
    with pytest.raises(hypr.HyprConfigError) as info:
        hypr.load_config(str(path))
    assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("state", "provisioned"),
    [
        ({"vm_id": 418823, "public_ip": "38.80.122.17"}, True),
        ({"vm_id": "vm-1", "public_ip": "38.80.122.17"}, True),
        ({"vm_id": 0, "public_ip": "38.80.122.17"}, True),
        ({"vm_id": 418823}, False),
        ({"public_ip": "38.80.122.17"}, False),
        ({"vm_id": "", "public_ip": "38.80.122.17"}, False),
        ({"vm_id": None, "public_ip": None}, False),
        ({}, False),
    ],
)
def test_is_provisioned(state, provisioned):
    assert hypr.is_provisioned(state) is provisioned


@pytest.mark.parametrize(
    ("flavor", "count"),
    [
        ("n3-A100x1", 1),
        ("n3-H100x8", 8),
        ("n3-RTX-A6000x2", 2),
        ("n3-H100x12", 12),
        ("n3-A100", None),
        ("x", None),
        ("", None),
        (None, None),
    ],
)
def test_expected_gpu_count(flavor, count):
    assert hypr.expected_gpu_count(flavor) == count


@pytest.mark.parametrize(
    ("network", "local_client", "vm", "hostname", "ip"),
    [
        ({}, {}, {}, "hyperstack.wg1", "192.168.3.1"),
        ({"wireguard_server_ip": "192.168.3.3"}, {}, {"hostname": "hyperstack2"}, "hyperstack2.wg1", "192.168.3.3"),
        (
            {"wireguard_subnet": "10.77.0.0/16"},
            {"interface_name": "wg0"},
            {"hostname": "gpu8"},
            "gpu8.wg0",
            "10.77.0.1",
        ),
        ({"wireguard_subnet": "10.77.5.9/24"}, {}, {}, "hyperstack.wg1", "10.77.5.1"),
        ({"wireguard_subnet": "fd00:3::/64"}, {}, {}, "hyperstack.wg1", "fd00:3::1"),
    ],
)
def test_wireguard_address(network, local_client, vm, hostname, ip):
    config = hypr.deep_merge(hypr.DEFAULTS, {"network": network, "local_client": local_client, "vm": vm})
    assert hypr.wireguard_hostname(config) == hostname
    assert hypr.wireguard_ip(config) == ip


VLLM = {
    "model": "toml/model",
    "container_name": "toml_c",
    "tensor_parallel_size": 1,
    "presets": {
        "big": {"model": "preset/model", "container_name": "preset_c", "tensor_parallel_size": 8},
        "bare": {"max_model_len": 4096},
    },
}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({}, {"model": "toml/model", "container_name": "toml_c", "preset": None, "tensor_parallel_size": 1}),
        (
            {"vllm_model": "state/model", "vllm_container_name": "state_c"},
            {"model": "state/model", "container_name": "state_c", "preset": None, "tensor_parallel_size": 1},
        ),
        (
            {"vllm_preset": "big"},
            {"model": "preset/model", "container_name": "preset_c", "preset": "big", "tensor_parallel_size": 8},
        ),
        (
            {"vllm_preset": "big", "vllm_model": "state/model", "vllm_container_name": None},
            {"model": "state/model", "container_name": "preset_c", "preset": "big", "tensor_parallel_size": 8},
        ),
        (
            {"vllm_preset": "bare"},
            {"model": "toml/model", "container_name": "toml_c", "preset": "bare", "tensor_parallel_size": 1},
        ),
        (
            {"vllm_preset": "gone", "vllm_model": ""},
            {"model": "toml/model", "container_name": "toml_c", "preset": "gone", "tensor_parallel_size": 1},
        ),
    ],
)
def test_vllm_settings(state, expected):
    config = hypr.deep_merge(hypr.DEFAULTS, {"vllm": VLLM})
    assert hypr.vllm_settings(config, state) == expected


@pytest.mark.parametrize(
    ("path", "base_dir", "resolved"),
    [
        (".hyperstack-vm1-state.json", "/srv/hypr", "/srv/hypr/.hyperstack-vm1-state.json"),
        ("state/../vm.json", "/srv/hypr", "/srv/hypr/vm.json"),
        ("/var/lib/hypr/s.json", "/srv/hypr", "/var/lib/hypr/s.json"),
        ("~/hypr/s.json", "/srv/hypr", "/home/op/hypr/s.json"),
    ],
)
def test_resolve_path(monkeypatch, path, base_dir, resolved):
    monkeypatch.setenv("HOME", "/home/op")
    assert hypr.resolve_path(path, base_dir) == resolved
