# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real node_info module run by Ansible (connection local) against every simulator scenario.

One ansible-playbook run collects all scenarios at once (one host per scenario, results saved
by the tree callback); each test then asserts one scenario's document."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import FAKEGPU, ROOT, ansible_module, make_sim_host, run, simulator_env

pytestmark = pytest.mark.slow

# Per scenario: the module's command timeout (the hang), seconds since the container started (the
# loading scenario loads weights from 6.8 s to 30.1 s: 8 s leaves room for a slow run).
SCENARIO_OPTIONS = {"nvidia-smi-hang": {"command_timeout": 2}, "loading": {"elapsed": 8}}


def all_scenarios() -> list:
    listing = subprocess.run(
        [str(FAKEGPU), "list"], check=True, capture_output=True, text=True, env=simulator_env()
    ).stdout
    return [line.split()[0] for line in listing.splitlines() if line.strip()]


SCENARIOS = all_scenarios()


@pytest.fixture(scope="module")
def documents(tmp_path_factory, ansible_env):
    """Run playbook-of-all-scenarios once; return {scenario: result}."""
    work = tmp_path_factory.mktemp("node_info")
    hosts = {}
    for scenario in SCENARIOS:
        home = make_sim_host(
            work / "hosts" / scenario, scenario, elapsed=SCENARIO_OPTIONS.get(scenario, {}).get("elapsed")
        )
        container = json.loads((home / "state.json").read_text())["container"]
        hosts[scenario] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "sim_container": container,
            "sim_home": str(home),
            "sim_timeout": SCENARIO_OPTIONS.get(scenario, {}).get("command_timeout", 10),
        }
    (work / "inventory.json").write_text(json.dumps({"all": {"hosts": hosts}}))
    (work / "collect.yml").write_text(
        json.dumps(
            [
                {
                    "name": "Collect every scenario",
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Collect",
                            "gpufleet.vllm.node_info": {
                                "container": "{{ sim_container }}",
                                "docker_path": "{{ sim_home }}/bin/docker",
                                "nvidia_smi_path": "{{ sim_home }}/bin/nvidia-smi",
                                "dmesg_path": "{{ sim_home }}/bin/dmesg",
                                "journalctl_path": "{{ sim_home }}/bin/journalctl",
                                "proc_path": "{{ sim_home }}/proc",
                                "command_timeout": "{{ sim_timeout }}",
                            },
                        }
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
        ANSIBLE_FORKS=str(len(SCENARIOS)),
    )
    proc = run(
        [
            str(ROOT / ".venv" / "bin" / "ansible-playbook"),
            "-i",
            str(work / "inventory.json"),
            str(work / "collect.yml"),
        ],
        env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {scenario: json.loads((tree / scenario).read_text()) for scenario in SCENARIOS}


def test_every_scenario_returns_a_schema_v1_document(documents):
    for scenario, document in documents.items():
        assert document["changed"] is False, scenario
        assert document["schema_version"] == 1, scenario
        assert document["reachable"] is True, scenario
        assert set(document["gpu"]) == {"status", "message", "devices", "compute_apps", "xid"}, scenario
        assert set(document["vllm"]) == {
            "phase",
            "log_status",
            "message",
            "engines",
            "loading",
            "errors",
            "ready",
            "last_log_at",
            "log_lines_read",
        }, scenario


def summary(document) -> dict:
    gpu, container, vllm = document["gpu"], document["container"], document["vllm"]
    return {
        "gpu": (gpu["status"], len(gpu["devices"])),
        "container": (container["status"], container["error_kind"], container["restart_count"]),
        "phase": (vllm["phase"], vllm["log_status"]),
        "engines": [
            (
                engine["engine"],
                engine["aggregated_engines"],
                engine["prompt_tps"],
                engine["generation_tps"],
                engine["running"],
                engine["waiting"],
                engine["kv_cache_pct"],
                engine["prefix_cache_hit_pct"],
            )
            for engine in vllm["engines"]
        ],
        "errors": [error["kind"] for error in vllm["errors"]],
    }


# What each scenario's texts mean, from docs/dev/formats.md; the numbers are the scenario's stats line.
EXPECTED = {
    "busy": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 1234.5, 87.6, 3, 1, 42.3, 61.2)],
        "errors": [],
    },
    "busy-tp2": {
        "gpu": ("ok", 2),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 2345.6, 176.5, 7, 0, 38.9, 44.4)],
        "errors": [],
    },
    "idle": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("idle", "ok"),
        "engines": [(0, None, 0.0, 0.0, 0, 0, 0.0, 48.8)],
        "errors": [],
    },
    "cuda-oom": {
        "gpu": ("ok", 1),
        "container": ("exited", None, 0),
        "phase": ("failed", "ok"),
        "engines": [],
        "errors": ["cuda_oom", "engine_init_failed"],
    },
    "kv-cache-too-small": {
        "gpu": ("ok", 1),
        "container": ("exited", None, 0),
        "phase": ("failed", "ok"),
        "engines": [],
        "errors": ["kv_cache_insufficient", "engine_init_failed"],
    },
    "restart-loop": {
        "gpu": ("ok", 1),
        "container": ("running", None, 2),
        "phase": ("loading", "ok"),
        "engines": [],
        "errors": [],
    },
    "container-missing": {
        "gpu": ("ok", 1),
        "container": ("missing", None, None),
        "phase": ("stopped", "not_read"),
        "engines": [],
        "errors": [],
    },
    "docker-permission-denied": {
        "gpu": ("ok", 1),
        "container": ("error", "permission_denied", None),
        "phase": ("unknown", "not_read"),
        "engines": [],
        "errors": [],
    },
    "docker-daemon-down": {
        "gpu": ("ok", 1),
        "container": ("error", "daemon_down", None),
        "phase": ("unknown", "not_read"),
        "engines": [],
        "errors": [],
    },
    "logging-driver-none": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("unknown", "unsupported"),
        "engines": [],
        "errors": [],
    },
    "driver-not-loaded": {
        "gpu": ("driver_error", 0),
        "container": ("created", None, 0),
        "phase": ("stopped", "ok"),
        "engines": [],
        "errors": [],
    },
    "nvml-missing": {
        "gpu": ("driver_error", 0),
        "container": ("created", None, 0),
        "phase": ("stopped", "ok"),
        "engines": [],
        "errors": [],
    },
    "no-devices": {
        "gpu": ("no_devices", 0),
        "container": ("exited", None, 0),
        "phase": ("stopped", "ok"),
        "engines": [],
        "errors": [],
    },
    "gpu-lost": {
        "gpu": ("gpu_lost", 1),
        "container": ("exited", None, 0),
        "phase": ("failed", "ok"),
        "engines": [(0, None, 2345.6, 176.5, 7, 0, 38.9, 44.4)],
        "errors": ["engine_died"],
    },
    "nvidia-smi-hang": {
        "gpu": ("timeout", 0),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 1200.0, 80.0, 3, 0, 40.0, 60.0)],
        "errors": [],
    },
    "data-parallel": {
        "gpu": ("ok", 2),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 1111.1, 55.5, 2, 0, 21.5, 33.3), (1, None, 999.9, 44.4, 1, 1, 12.5, 30.0)],
        "errors": [],
    },
    "aggregated": {
        "gpu": ("ok", 2),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(None, 2, 3333.3, 222.2, 6, 2, 27.5, 52.5)],
        "errors": [],
    },
    "v0-engine": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 456.7, 34.5, 2, 1, 18.4, 25.75)],
        "errors": [],
    },
    "vllm-0.10-ansi": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 765.4, 65.4, 4, 0, 33.3, 22.2)],
        "errors": [],
    },
    "vllm-0.11-ansi": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 876.5, 76.5, 5, 2, 55.5, 66.6)],
        "errors": [],
    },
    "vllm-0.33": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 2048.0, 133.7, 5, 2, 57.1, 73.4)],
        "errors": [],
    },
    "healthcheck": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 1357.9, 97.5, 2, 0, 24.6, 80.2)],
        "errors": [],
    },
    "hostile": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 314.2, 27.1, 1, 0, 8.8, 9.9)],
        "errors": [],
    },
    "foreign-process": {
        "gpu": ("ok", 1),
        "container": ("exited", None, 0),
        "phase": ("failed", "ok"),
        "engines": [],
        "errors": ["cuda_oom", "engine_init_failed"],
    },
    "ecc-error": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 1111.0, 77.7, 3, 0, 40.1, 50.0)],
        "errors": [],
    },
    "thermal-throttle": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 801.5, 55.2, 3, 2, 40.2, 50.0)],
        "errors": [],
    },
    "xid-79": {
        "gpu": ("gpu_lost", 1),
        "container": ("exited", None, 0),
        "phase": ("failed", "ok"),
        "engines": [(0, None, 2345.6, 176.5, 7, 0, 38.9, 44.4)],
        "errors": ["engine_died"],
    },
    "kernel-log-unreadable": {
        "gpu": ("ok", 1),
        "container": ("running", None, 0),
        "phase": ("serving", "ok"),
        "engines": [(0, None, 1234.5, 87.6, 3, 1, 42.3, 61.2)],
        "errors": [],
    },
}


def depth(document) -> dict:
    """Who holds the memory, GPU health fields and XIDs of one document."""
    gpu = document["gpu"]
    return {
        "processes": [
            (p["gpu_index"], p["pid"], p["name"], p["used_memory_mib"], (p["container_id"] or "")[:12], p["watched"])
            for p in gpu["compute_apps"]["processes"]
        ],
        "health": [
            (d["ecc_uncorrected_volatile"], d["remapped_rows_pending"], d["clock_event_reasons"])
            for d in gpu["devices"]
        ],
        "xid": (gpu["xid"]["status"], gpu["xid"]["source"], [e["code"] for e in gpu["xid"]["events"]]),
    }


DEPTH = {
    "busy": {
        "processes": [(0, 4194400, "python3", 75545, "3f9c1a7e5b2d", True)],
        "health": [(0, False, [])],
        "xid": ("ok", "dmesg", []),
    },
    # The Jupyter container and a host process hold GPU 0; the vLLM container has exited.
    "foreign-process": {
        "processes": [
            (0, 4194500, "/opt/conda/bin/python", 51324, "9a8b7c6d5e4f", False),
            (0, 4194501, "python", 1024, "", False),
        ],
        "health": [(0, False, ["gpu_idle"])],
        "xid": ("ok", "dmesg", []),
    },
    "ecc-error": {
        "processes": [(0, 4194400, "python3", 75545, "3f9c1a7e5b2d", True)],
        "health": [(2, True, [])],
        "xid": ("ok", "dmesg", [63]),
    },
    "thermal-throttle": {
        "processes": [(0, 4194400, "python3", 75545, "3f9c1a7e5b2d", True)],
        "health": [(0, False, ["sw_thermal_slowdown", "hw_thermal_slowdown"])],
        "xid": ("ok", "dmesg", []),
    },
    # The XID 13 logged before the container started is not this run's.
    "xid-79": {"processes": [], "health": [(0, False, ["gpu_idle"])], "xid": ("ok", "dmesg", [79])},
    "kernel-log-unreadable": {
        "processes": [(0, 4194400, "python3", 75545, "3f9c1a7e5b2d", True)],
        "health": [(0, False, [])],
        "xid": ("unreadable", None, []),
    },
}


@pytest.mark.parametrize("scenario", sorted(DEPTH))
def test_gpu_depth(documents, scenario):
    assert depth(documents[scenario]) == DEPTH[scenario]


def test_unreadable_kernel_log_says_why_and_how_to_fix(documents):
    message = documents["kernel-log-unreadable"]["gpu"]["xid"]["message"]
    assert "dmesg: read kernel buffer failed: Operation not permitted" in message
    assert "not seeing messages from other users" in message and "become: true" in message


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_document(documents, scenario):
    assert summary(documents[scenario]) == EXPECTED[scenario]


def test_every_scenario_has_an_expectation():
    assert sorted(EXPECTED) == sorted(set(SCENARIOS) - {"loading"})


def test_loading_reports_stage_and_progress(documents):
    vllm = documents["loading"]["vllm"]
    assert vllm["phase"] == "loading"
    assert vllm["loading"]["stage"] == "loading_weights"
    message, progress = vllm["loading"]["message"], vllm["loading"]["progress_pct"]
    if "checkpoint shards" in message:
        assert 0 <= progress <= 100
    else:
        assert message.startswith(("Starting to load model", "Loading weights took", "Model loading took"))


def test_serving_engine_ages_are_recent(documents):
    engine = documents["busy"]["vllm"]["engines"][0]
    assert 0 <= engine["age_s"] <= 15
    assert documents["idle"]["vllm"]["engines"][0]["age_s"] > 300


def test_fatal_error_messages_are_cleaned_lines(documents):
    first = documents["cuda-oom"]["vllm"]["errors"][0]
    assert first["message"].startswith("torch.OutOfMemoryError: CUDA out of memory.")
    assert len(first["message"]) <= 300 and "\x1b" not in first["message"]


def test_failures_are_classified_with_messages(documents):
    assert "exit 9" in documents["driver-not-loaded"]["gpu"]["message"]
    assert "docker group" in documents["docker-permission-denied"]["container"]["message"]
    assert (
        "vllm_qwen36_27b"
        in documents["container-missing"]["vllm"]["message"] + documents["container-missing"]["container"]["message"]
    )
    assert documents["gpu-lost"]["gpu"]["devices"][0]["index"] == 0


def test_absent_values_are_null_not_zero(documents):
    missing = documents["container-missing"]["container"]
    assert (missing["restart_count"], missing["oom_killed"], missing["started_at"]) == (None, None, None)
    assert documents["busy"]["vllm"]["engines"][0]["swapped"] is None


def test_hostile_log_text_is_cleaned(documents):
    text = json.dumps(documents["hostile"])
    assert "\\u001b" not in text and "\\u0007" not in text


def test_invalid_container_name_fails_before_running_anything(ansible_env, tmp_path):
    home = make_sim_host(tmp_path / "host", "busy")
    rc, result = ansible_module(
        ansible_env,
        "gpufleet.vllm.node_info",
        {"container": "x; touch %s/pwned" % tmp_path, "docker_path": str(home / "bin" / "docker")},
    )
    assert rc == 2
    assert result["msg"].startswith("invalid container name 'x; touch ")
    assert not (tmp_path / "pwned").exists()


def test_adhoc_command_prints_the_document(ansible_env, tmp_path):
    home = make_sim_host(tmp_path / "host", "busy")
    rc, result = ansible_module(
        ansible_env,
        "gpufleet.vllm.node_info",
        {
            "container": "vllm_qwen36_27b",
            "docker_path": str(home / "bin" / "docker"),
            "nvidia_smi_path": str(home / "bin" / "nvidia-smi"),
        },
    )
    assert rc == 0
    assert summary(result) == EXPECTED["busy"]


def test_missing_binaries_are_not_installed(ansible_env, tmp_path):
    rc, result = ansible_module(
        ansible_env,
        "gpufleet.vllm.node_info",
        {
            "container": "vllm",
            "docker_path": str(tmp_path / "nope" / "docker"),
            "nvidia_smi_path": str(tmp_path / "nope" / "nvidia-smi"),
        },
    )
    assert rc == 0
    assert (result["gpu"]["status"], result["container"]["error_kind"], result["vllm"]["phase"]) == (
        "not_installed",
        "not_installed",
        "unknown",
    )
