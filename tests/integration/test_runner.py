# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The playbooks as AWX, AAP and ansible-navigator run them: ``ansible-runner run`` (its own stdout
callback awx_display, a pty, events and artifacts) against simulated VMs. The host-key policy under
the runner is tested in test_host_key_policy.py."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from support import VENV_BIN, clean_ansible_env, make_sim_host

pytestmark = pytest.mark.slow

CONTAINER = "vllm_qwen36_27b"
# What a live frame would put into the job output: cursor moves, hiding, clearing.
CURSOR_CONTROL = re.compile(r"\x1b\[(?:\?25[lh]|\d*[ABJK]|2J|\d+;\d+H)")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    base = tmp_path_factory.mktemp("runner-fleet")
    hosts = {}
    for name, scenario in {"vm-serving": "busy", "vm-oom": "cuda-oom"}.items():
        vm = make_sim_host(base / name, scenario, container=CONTAINER)
        hosts[name] = {
            "hyperstack_vllm_container": CONTAINER,
            "gpufleet_docker_path": str(vm / "bin" / "docker"),
            "gpufleet_nvidia_smi_path": str(vm / "bin" / "nvidia-smi"),
        }
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python")},
            "hosts": hosts,
        }
    }
    path = base / "hosts.json"
    path.write_text(json.dumps(inventory))
    return path


def runner(tmp_path: Path, fleet: Path, playbook: str, cmdline: str, envvars: dict | None = None):
    """``ansible-runner run`` of a project whose playbook imports the collection's; returns the
    process and the job's artifact folder. The collection is this checkout (ANSIBLE_CONFIG)."""
    private = tmp_path / "job"
    (private / "project").mkdir(parents=True)
    (private / "project" / "main.yml").write_text(
        "- name: Run %s\n  ansible.builtin.import_playbook: %s\n" % (playbook, playbook)
    )
    if envvars:
        (private / "env").mkdir()
        (private / "env" / "envvars").write_text(json.dumps(envvars))
    proc = subprocess.run(
        [
            str(VENV_BIN / "ansible-runner"),
            "run",
            str(private),
            "-p",
            "main.yml",
            "--ident",
            "job1",
            "--inventory",
            str(fleet),
            "--cmdline",
            cmdline,
        ],
        env=clean_ansible_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    return proc, private / "artifacts" / "job1"


def events(artifacts: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((artifacts / "job_events").glob("*.json"))]


def test_health_job_exit_code_events_set_stats_and_junit_in_the_artifacts(tmp_path, fleet):
    proc, artifacts = runner(tmp_path, fleet, "gpufleet.vllm.health", "-e health_junit_artifact=true")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert (artifacts / "rc").read_text().strip() == "2"
    job = events(artifacts)
    failed = {event["event_data"]["host"] for event in job if event["event"] == "runner_on_failed"}
    assert failed == {"vm-oom"}, failed
    (stats,) = [event for event in job if event["event"] == "playbook_on_stats"]
    published = stats["event_data"]["artifact_data"]["gpufleet_health"]
    assert published["failed_hosts"] == ["vm-oom"] and published["passed_hosts"] == ["vm-serving"], published
    assert "fatal_errors" in published["hosts"]["vm-oom"]["failed"]
    junit = ET.parse(artifacts / "health-junit.xml").getroot()
    cases = {case.get("name"): case.find("failure") is not None for case in junit.iter("testcase")}
    assert cases["vm-oom :: fatal_errors"] and not cases["vm-serving :: fatal_errors"]


@pytest.mark.parametrize("mode", ["auto", "live"])
def test_bounded_watch_job_prints_lines_not_live_frames(tmp_path, fleet, mode):
    # Forcing live frames in a job is refused (with a warning): they would only fill the job log.
    proc, artifacts = runner(
        tmp_path,
        fleet,
        "gpufleet.vllm.watch",
        "-e watch_cycles=2 -e watch_interval=1",
        {"ANSIBLE_STDOUT_CALLBACK": "gpufleet.vllm.dashboard", "GPUFLEET_DASHBOARD_MODE": mode},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    stdout = (artifacts / "stdout").read_text()
    assert ("display_mode=live (GPUFLEET_DASHBOARD_MODE) is ignored under ansible-runner" in stdout) == (mode == "live")
    lines = stdout.splitlines()
    assert len([line for line in lines if line.startswith("vm-serving serving ")]) >= 2, stdout
    assert [line for line in lines if line.startswith("vm-oom failed ")], stdout
    assert not CURSOR_CONTROL.search(stdout), repr(stdout[:2000])
    assert "FAILED - RETRYING" not in stdout


def test_watch_job_without_the_dashboard_says_to_set_it_in_the_jobs_environment(tmp_path, fleet):
    proc, artifacts = runner(tmp_path, fleet, "gpufleet.vllm.watch", "-e watch_cycles=2 -e watch_interval=1")
    stdout = (artifacts / "stdout").read_text()
    assert proc.returncode == 2, stdout
    assert "ANSIBLE_STDOUT_CALLBACK=gpufleet.vllm.dashboard in env/envvars" in stdout, stdout
    assert "FAILED - RETRYING" not in stdout and "Refresh node state" not in stdout
