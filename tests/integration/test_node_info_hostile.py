# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile and broken input, through the real node_info module and action plugin run by
ansible-playbook (connection local) against simulated hosts: impossible nvidia-smi readings, no
rows, duplicate indexes, a flood past the byte cap, binaries that cannot be executed, a log whose
clock runs ahead of the VM's, a VM whose Python is a broken pyenv shim, bad option values.

One playbook run serves every case (one host each); it registers the result and evaluates the
health checks on it, as the health role does, and the tree callback keeps both per host."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from support import FAKEGPU, ROOT, make_sim_host, run, simulator_env

pytestmark = pytest.mark.slow

# 2999-01-01T00:00:00Z: the simulated VM's docker daemon stamps its log lines with this clock.
YEAR_2999 = 32472144000
# Everything that is not JSON (Python's json writes these for non-finite floats) or that moves text
# on a terminal: format characters (bidi marks, zero-width ones) and the line/paragraph separators.
NOT_JSON_RE = re.compile(r"\b(?:Infinity|NaN)\b")
FORMAT_CHARACTERS_RE = re.compile(
    "[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u206f\ufeff]|"
    r"\\u(?:00ad|061c|200[b-f]|202[a-e89]|206[0-4]|206[6-9a-f]|feff)",
    re.IGNORECASE,
)

# The default query's last four fields (ECC errors, retired pages and remapped rows pending, clock
# event reasons), all well.
HEALTHY_TAIL = ", 0, No, No, 0x0000000000000000"
IMPLAUSIBLE_ROWS = (
    # A GPU name full of bidi and zero-width characters and a line separator, a negative temperature,
    # utilisation over 100, power of 1e309 (infinity), more memory used than there is.
    "0, GPU-aaaa, NVIDIA\u202e H100\u200b\u2066 80GB\u2028HBM3\u200f, -5, 101, 1e309, 700.00, 90000, 81559"
    + HEALTHY_TAIL
    + "\n1, GPU-bbbb, NVIDIA H100 80GB HBM3, 41, 87, 212.44, 700.00, 74213, 81559"
    + HEALTHY_TAIL
    + "\n"
)
ROW_A = "0, GPU-a, A, 40, 1, 1.0, 2.0, 1, 2" + HEALTHY_TAIL + "\n"
ROWS = {
    "implausible": IMPLAUSIBLE_ROWS,
    "no-rows": "",
    "duplicate-index": ROW_A + "0, GPU-b, B, 41, 1, 1.0, 2.0, 1, 2" + HEALTHY_TAIL + "\n",
    "flood": ROW_A * 40000,  # 2.3 MB, over the 1 MiB cap
}
# Option values refused before anything runs, naming the option.
BAD_OPTIONS = {
    "nan-timeout": ({"sim_timeout": "nan"}, "command_timeout must be a number of seconds above 0 to 3600, got 'nan'"),
    "text-refresh": ({"sim_refresh": "abc"}, "refresh_interval must be a number of seconds from 0 to 86400, got 'abc'"),
    "negative-fresh": ({"sim_fresh": -1}, "serving_fresh_after must be a number of seconds above 0 to 86400, got -1"),
    "nan-lines": ({"sim_log_lines": "nan"}, "log_lines must be a whole number of lines from 1 to 10000, got 'nan'"),
}
PYENV_SHIM = """#!/bin/sh
echo "pyenv: python3.13: command not found" >&2
echo "" >&2
echo "The \\`python3.13' command exists in these Python versions:" >&2
echo "  3.13.1" >&2
exit 127
"""


def sim_host(work, name, scenario="busy", now=None):
    """A simulated VM; with NOW (epoch seconds) its clock, docker's stamps included, reads NOW."""
    if now is None:
        return make_sim_host(work / name, scenario)
    subprocess.run(
        [str(FAKEGPU), "make-host", str(work / name), scenario],
        check=True,
        capture_output=True,
        env=dict(simulator_env(), FAKEGPU_NOW=str(now)),
    )
    return work / name


@pytest.fixture(scope="module")
def results(tmp_path_factory, ansible_env):
    """Run the playbook once; return {host: {"node": registered result, "checks": health checks}}."""
    work = tmp_path_factory.mktemp("hostile")
    hosts = {}

    def add(name, home, **variables):
        hosts[name] = dict(
            {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "sim_home": str(home),
                "sim_docker": str(home / "bin" / "docker"),
                "sim_nvidia_smi": str(home / "bin" / "nvidia-smi"),
                "sim_env": {},
            },
            **variables,
        )

    for name, rows in ROWS.items():
        home = sim_host(work, name)
        (work / (name + ".csv")).write_text(rows, encoding="utf-8")
        subprocess.run(
            [str(FAKEGPU), "set", str(home), "nvidia_smi_output=%s" % (work / (name + ".csv"))],
            check=True,
            capture_output=True,
            env=simulator_env(),
        )
        add(name, home)

    home = sim_host(work, "not-executable")
    (home / "bin" / "nvidia-smi").chmod(0o644)
    add("not-executable", home, sim_docker=str(home / "bin"))  # a directory

    add("clock-ahead", sim_host(work, "clock-ahead", now=YEAR_2999), sim_env={"FAKEGPU_NOW": str(YEAR_2999)})

    shim = work / "pyenv-shims" / "python3"
    shim.parent.mkdir()
    shim.write_text(PYENV_SHIM)
    shim.chmod(0o755)
    add("broken-python", sim_host(work, "broken-python"), ansible_python_interpreter=str(shim))

    for name, (variables, _message) in BAD_OPTIONS.items():
        add(name, sim_host(work, name), **variables)

    (work / "inventory.json").write_text(json.dumps({"all": {"hosts": hosts}}))
    (work / "play.yml").write_text(
        json.dumps(
            [
                {
                    "name": "Collect hostile input",
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Collect",
                            "gpufleet.vllm.node_info": {
                                "container": "vllm_qwen36_27b",
                                "docker_path": "{{ sim_docker }}",
                                "nvidia_smi_path": "{{ sim_nvidia_smi }}",
                                "command_timeout": "{{ sim_timeout | default(10) }}",
                                "refresh_interval": "{{ sim_refresh | default(0) }}",
                                "serving_fresh_after": "{{ sim_fresh | default(30) }}",
                                "log_lines": "{{ sim_log_lines | default(300) }}",
                            },
                            "environment": "{{ sim_env }}",
                            "register": "node",
                            "failed_when": False,
                        },
                        {
                            "name": "Evaluate as the health role does",
                            "ansible.builtin.set_fact": {
                                "node": "{{ node }}",
                                "checks": "{{ node | gpufleet.vllm.health_checks }}",
                            },
                        },
                    ],
                }
            ]
        )
    )
    tree = work / "tree"
    env = dict(
        ansible_env,
        ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree",
        ANSIBLE_CALLBACK_TREE_DIR=str(tree),
        ANSIBLE_FORKS=str(len(hosts)),
    )
    proc = run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(work / "inventory.json"), str(work / "play.yml")],
        env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    texts = {name: (tree / name).read_text(encoding="utf-8") for name in hosts}
    facts = {name: json.loads(text)["ansible_facts"] for name, text in texts.items()}
    return {
        name: {
            "node": facts[name]["node"],
            "checks": {check["name"]: (check["status"], check["message"]) for check in facts[name]["checks"]},
            "text": texts[name],
        }
        for name in hosts
    }


def test_results_are_json_without_infinity_nan_or_format_characters(results):
    for name, result in results.items():
        assert NOT_JSON_RE.search(result["text"]) is None, name
        assert FORMAT_CHARACTERS_RE.search(result["text"]) is None, name


def test_implausible_readings_are_null_and_named(results):
    gpu = results["implausible"]["node"]["gpu"]
    first, second = gpu["devices"]
    assert first == {
        "index": 0,
        "uuid": "GPU-aaaa",
        "name": "NVIDIA H100 80GB HBM3",
        "temperature_c": None,
        "utilization_pct": None,
        "power_w": None,
        "power_limit_w": 700.0,
        "memory_used_mib": None,
        "memory_total_mib": 81559,
        "ecc_uncorrected_volatile": 0,
        "retired_pages_pending": False,
        "remapped_rows_pending": False,
        "clock_event_reasons": [],
    }
    assert second["temperature_c"] == 41 and second["memory_used_mib"] == 74213
    assert gpu["status"] == "ok"
    assert gpu["message"] == (
        "readings that cannot be true, shown as null: GPU 0: temperature.gpu -5 is out of range (0 to 150 C), "
        "utilization.gpu 101 is out of range (0 to 100 %), power.draw 1e309 is not a finite number, "
        "memory.used 90000 is more than memory.total 81559"
    )
    status, message = results["implausible"]["checks"]["gpu_driver"]
    assert (status, message.startswith("nvidia-smi answered: 2 GPU(s), but readings that cannot be true")) == (
        "warn",
        True,
    )


def test_exit_0_without_rows_is_no_devices(results):
    gpu = results["no-rows"]["node"]["gpu"]
    assert (gpu["status"], gpu["devices"]) == ("no_devices", [])
    assert gpu["message"].startswith("nvidia-smi exited 0 but listed no GPU")
    assert results["no-rows"]["checks"]["gpu_count"] == ("fail", "no GPU found")


def test_duplicate_gpu_index_is_an_error(results):
    gpu = results["duplicate-index"]["node"]["gpu"]
    assert (gpu["status"], gpu["message"]) == (
        "error",
        "nvidia-smi listed GPU index 0 twice; its output cannot be trusted (check the driver, reboot the VM)",
    )
    assert results["duplicate-index"]["checks"]["gpu_driver"][0] == "fail"


def test_output_over_the_byte_cap_is_named_not_the_kill(results):
    gpu = results["flood"]["node"]["gpu"]
    assert (gpu["status"], gpu["devices"]) == ("error", [])
    assert gpu["message"].startswith("nvidia-smi printed more than 1 MiB; stopped reading it")
    assert "exit -9" not in gpu["message"]


def test_binaries_that_cannot_be_executed_are_not_executable(results):
    node = results["not-executable"]["node"]
    assert node["gpu"]["status"] == "error"
    assert re.fullmatch(
        r"nvidia-smi at \S+/bin/nvidia-smi is not executable \(Permission denied\); make it "
        r"executable or set nvidia_smi_path",
        node["gpu"]["message"],
    )
    assert (node["container"]["status"], node["container"]["error_kind"]) == ("error", "error")
    assert re.fullmatch(
        r"docker CLI at \S+/bin is not executable \(it is a directory\); make it executable or set "
        r"docker_path",
        node["container"]["message"],
    )
    assert "not found" not in node["gpu"]["message"] + node["container"]["message"]


def test_log_clock_ahead_of_the_vm_is_its_own_condition(results):
    vllm = results["clock-ahead"]["node"]["vllm"]
    assert (vllm["phase"], vllm["log_status"]) == ("unknown", "clock_ahead")
    assert re.match(r"the newest log line is 97\d years ahead of the VM's clock", vllm["message"])
    assert all(engine["age_s"] is None for engine in vllm["engines"]) and vllm["engines"]
    status, message = results["clock-ahead"]["checks"]["engine_serving"]
    assert (status, message.startswith("state unknown: the newest log line is 97")) == ("fail", True)


def test_broken_python_on_the_vm_shows_its_own_words(results):
    node = results["broken-python"]["node"]
    expected = (
        "Python not usable on the VM (exit status 127): pyenv: python3.13: command not found; The "
        "`python3.13' command exists in these Python versions:; 3.13.1; set ansible_python_interpreter "
        "to a working Python 3.8 or later"
    )
    assert (node["msg"], node["failure_kind"], node["reachable"]) == (expected, "python_unusable", True)
    assert results["broken-python"]["checks"] == {"reachable": ("fail", "no node_info document: " + expected)}
    assert "deserialization" not in results["broken-python"]["text"].split('"module_stderr"')[0]


@pytest.mark.parametrize("host", sorted(BAD_OPTIONS))
def test_bad_option_values_are_refused_naming_the_option(results, host):
    node = results[host]["node"]
    assert node["msg"] == BAD_OPTIONS[host][1]
    assert "schema_version" not in node
    assert results[host]["checks"]["reachable"] == ("fail", "no node_info document: " + BAD_OPTIONS[host][1])


def test_module_side_checks_hold_without_the_action_plugin(tmp_path):
    """The module checks the options again on the VM (run here without the action plugin)."""
    module = ROOT / "plugins" / "modules" / "node_info.py"
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"container": "vllm", "command_timeout": float("nan")}}))
    env = dict(os.environ, PYTHONPATH=str(ROOT / ".venv" / "collections"))
    proc = subprocess.run(
        [sys.executable, str(module), str(args)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    result = json.loads(proc.stdout)
    assert (result["failed"], result["msg"]) == (
        True,
        "command_timeout must be a number of seconds above 0 to 3600, got nan",
    )
