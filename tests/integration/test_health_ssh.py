# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/health.yml over real SSH (the SSH test fleet of tests/fleet and the real inventory
plugin): a healthy VM, a VM whose vLLM died of CUDA OOM and a VM whose sshd is down. The exit
code, the summary lines, the gate's messages and the JUnit report name exactly the failing VMs
and checks."""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET

import pytest

from support import VENV_BIN, run, running_fleet
from tests.fleet import HostSpec

pytestmark = pytest.mark.slow

CHECK_NAMES = [
    "reachable",
    "gpu_driver",
    "gpu_count",
    "gpu_temperature",
    "gpu_foreign_processes",
    "gpu_ecc",
    "gpu_throttle",
    "gpu_xid",
    "container_running",
    "container_restarts",
    "container_oom",
    "fatal_errors",
    "engine_serving",
    "kv_cache",
    "engine_stalled",
    "stats_fresh",
    # The fleet's VMs serve vLLM's HTTP on the inventory's hyperstack_vllm_port, as hypr's do.
    "http_health",
    "inference_probe",
    "ttft_p90_s",
    "itl_p90_s",
    "request_errors_pct",
]
# A container that is not running hides the four engine checks (docs/health.md, "Rules"), and
# its port refuses, which leaves the HTTP checks to the log's judgement.
OOM_CHECKS = {
    "reachable": "ok",
    "gpu_driver": "ok",
    "gpu_count": "ok",
    "gpu_temperature": "ok",
    "gpu_foreign_processes": "ok",
    "gpu_ecc": "ok",
    "gpu_throttle": "ok",
    "gpu_xid": "ok",
    "container_running": "failure",
    "container_restarts": "ok",
    "container_oom": "ok",
    "fatal_errors": "failure",
}


@dataclasses.dataclass
class HealthRun:
    returncode: int
    stdout: str
    junit_text: str
    refused: str  # ssh's error for the VM whose sshd is down


@pytest.fixture(scope="module")
def health_run(tmp_path_factory, ansible_env) -> HealthRun:
    junit = tmp_path_factory.mktemp("health_ssh") / "health.xml"
    specs = [HostSpec("vm-healthy", "busy"), HostSpec("vm-oom", "cuda-oom"), HostSpec("vm-down", "busy")]
    with running_fleet(specs) as fleet:
        fleet.kill_sshd("vm-down")
        proc = run(
            [
                str(VENV_BIN / "ansible-playbook"),
                "-i",
                fleet.inventory,
                "playbooks/health.yml",
                "-e",
                "health_junit_path=%s" % junit,
            ],
            ansible_env,
            timeout=180,
        )
        refused = "ssh: connect to host %s port 22: Connection refused" % fleet.host("vm-down").address
    return HealthRun(proc.returncode, proc.stdout + proc.stderr, junit.read_text(encoding="utf-8"), refused)


def summary_lines(stdout: str) -> list:
    """The msg list of the "Summary, one line per host" task."""
    block = stdout.split("TASK [Summary, one line per host]", 1)[1].split("TASK [", 1)[0]
    return json.loads(block[block.index("{") : block.rindex("}") + 1])["msg"]


def junit_cases(text: str) -> tuple[dict, dict]:
    """(the testsuite's attributes, {(classname, name): (outcome, message)}) where outcome is
    failure, skipped, ok or warn."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.split("\n", 1)[1])
    [suite] = list(root)
    cases = {}
    for case in root.iter("testcase"):
        children = {child.tag: child for child in case}
        if "failure" in children:
            outcome = ("failure", children["failure"].get("message"))
        elif "skipped" in children:
            outcome = ("skipped", children["skipped"].get("message"))
        else:
            status, _colon, message = children["system-out"].text.partition(": ")
            outcome = (status.lower(), message)
        cases[(case.get("classname"), case.get("name"))] = outcome
    return suite.attrib, cases


def test_exit_code_two_and_the_gate_fails_exactly_the_failing_vms(health_run):
    assert health_run.returncode == 2, health_run.stdout
    recap = {
        host: (int(unreachable), int(failed))
        for host, unreachable, failed in re.findall(
            r"^(vm-[\w-]+)\s+: ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", health_run.stdout, re.M
        )
    }
    # An unreachable VM is a failed reachable check, not an Ansible "unreachable" (exit code 4).
    assert recap == {"vm-down": (0, 1), "vm-healthy": (0, 0), "vm-oom": (0, 1)}
    assert "1 health check(s) failed on vm-down: reachable: unreachable: %s" % health_run.refused in health_run.stdout
    assert re.search(
        r"2 health check\(s\) failed on vm-oom: container_running: vllm_qwen36_27b is exited "
        r"\(exit code 1\) \| fatal_errors: cuda_oom: torch.OutOfMemoryError: CUDA out of memory",
        health_run.stdout,
    )
    assert "failed on vm-healthy" not in health_run.stdout


def test_summary_names_exactly_the_failing_vms_and_checks(health_run):
    assert summary_lines(health_run.stdout) == [
        "vm-down: FAIL 1 failed (reachable), 0 ok",
        "vm-healthy: OK 21 ok",
        "vm-oom: FAIL 2 failed (container_running, fatal_errors), 10 ok",
    ]


def test_junit_has_the_expected_cases_per_vm(health_run):
    suite, cases = junit_cases(health_run.junit_text)
    assert suite == {"name": "gpufleet.vllm.health", "tests": "34", "failures": "3", "errors": "0", "skipped": "0"}
    outcomes = {key: outcome for key, (outcome, _message) in cases.items()}
    expected = {("vm-healthy", "vm-healthy :: %s" % name): "ok" for name in CHECK_NAMES}
    expected.update({("vm-oom", "vm-oom :: %s" % name): outcome for name, outcome in OOM_CHECKS.items()})
    expected[("vm-down", "vm-down :: reachable")] = "failure"
    assert outcomes == expected
    assert cases[("vm-down", "vm-down :: reachable")] == ("failure", "unreachable: " + health_run.refused)
    assert cases[("vm-oom", "vm-oom :: container_running")] == ("failure", "vllm_qwen36_27b is exited (exit code 1)")
    assert cases[("vm-oom", "vm-oom :: fatal_errors")][1].startswith(
        "cuda_oom: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB."
    )
    assert cases[("vm-healthy", "vm-healthy :: engine_serving")] == ("ok", "serving requests")
