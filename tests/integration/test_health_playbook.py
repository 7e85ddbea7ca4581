# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/health.yml through the real ansible-playbook against simulated VMs (connection
local, a generated inventory): exit code, the per-host summary lines, the JUnit XML parsed with
ElementTree, wait mode's per-poll progress; configuration errors (settings, JUnit paths) end the
run with exit code 1 before any VM is polled; the report is written on the controller even when
an inventory host is called localhost, never over anything but a regular file."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from support import FAKEGPU, ROOT, VENV_BIN, run

pytestmark = pytest.mark.slow

PLAYBOOK = str(ROOT / "playbooks" / "health.yml")
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
]


def make_sim_host(directory, scenario, elapsed=None):
    # The simulator's CLI is a shell script that runs $PYTHON; the hosts it makes run with it too.
    argv = [str(FAKEGPU), "make-host", str(directory), scenario] + (
        ["--elapsed", str(elapsed)] if elapsed is not None else []
    )
    subprocess.run(argv, check=True, capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable})
    return directory


def write_inventory(folder, hosts: dict) -> str:
    """Hosts named in HOSTS get a simulator host each when they say ``scenario`` (popped)."""
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": str(VENV_BIN / "python"),
                "hyperstack_vllm_container": "vllm_qwen36_27b",
            },
            "hosts": {},
        }
    }
    for name, settings in hosts.items():
        settings = dict(settings)
        scenario = settings.pop("scenario", None)
        if scenario is not None:
            sim = make_sim_host(folder / "hosts" / name, scenario, elapsed=settings.pop("elapsed", None))
            settings.update(
                gpufleet_docker_path=str(sim / "bin" / "docker"),
                gpufleet_nvidia_smi_path=str(sim / "bin" / "nvidia-smi"),
                gpufleet_dmesg_path=str(sim / "bin" / "dmesg"),
                gpufleet_journalctl_path=str(sim / "bin" / "journalctl"),
                gpufleet_proc_path=str(sim / "proc"),
            )
        inventory["all"]["hosts"][name] = settings
    path = folder / "inventory.json"
    path.write_text(json.dumps(inventory))
    return str(path)


def playbook(env, inventory, *extra, timeout=180):
    return run([str(VENV_BIN / "ansible-playbook"), "-i", inventory, PLAYBOOK, *extra], env, timeout)


def summary_lines(stdout: str) -> list[str]:
    """The msg list of the "Summary, one line per host" task."""
    block = stdout.split("TASK [Summary, one line per host]", 1)[1].split("TASK [", 1)[0]
    return json.loads(block[block.index("{") : block.rindex("}") + 1])["msg"]


def parse_junit(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.split("\n", 1)[1])


def outcomes(root) -> dict:
    """{(classname, name): 'failure' | 'skipped' | 'ok' | 'warn'}."""
    result = {}
    for case in root.iter("testcase"):
        children = {child.tag: child for child in case}
        if "failure" in children:
            state = "failure"
        elif "skipped" in children:
            state = "skipped"
        else:
            state = children["system-out"].text.split(":", 1)[0].lower()
        result[(case.get("classname"), case.get("name"))] = state
    return result


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory, ansible_env):
    folder = tmp_path_factory.mktemp("health")
    inventory = write_inventory(
        folder,
        {
            "hyperstack-vm1": {"scenario": "busy", "hyperstack_expected_gpu_count": 1},
            "hyperstack-vm2": {"scenario": "cuda-oom"},
            "hyperstack-vm3": {"scenario": "container-missing"},
            "hyperstack-vm4": {"scenario": "busy-tp2", "hyperstack_expected_gpu_count": 4},
            "hyperstack-vm5": {
                "scenario": "busy",
                "health_thresholds": {"kv_cache_pct": {"warn": 40, "fail": 90}},
                "health_custom_checks": [
                    {"name": "two_engines", "severity": "warn", "expression": "length(vllm.engines) >= `2`"}
                ],
            },
            "hyperstack-vm6": {"scenario": "hostile"},
            "hyperstack-vm7": {"hyperstack_provisioned": False},
            "hyperstack-vm8": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1},
        },
    )
    junit = folder / "reports" / "health.xml"
    junit.parent.mkdir()
    return {"proc": playbook(ansible_env, inventory, "-e", f"health_junit_path={junit}"), "junit": junit}


def test_exit_code_is_non_zero_when_a_vm_fails(fleet_run):
    proc = fleet_run["proc"]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    recap = dict(
        re.findall(r"^(hyperstack-vm\d)\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=(\d)", proc.stdout, re.M)
    )
    assert recap == {
        "hyperstack-vm1": "0",
        "hyperstack-vm2": "1",
        "hyperstack-vm3": "1",
        "hyperstack-vm4": "1",
        "hyperstack-vm5": "0",
        "hyperstack-vm6": "0",
        "hyperstack-vm7": "0",
        "hyperstack-vm8": "1",
    }


def test_one_summary_line_per_host(fleet_run):
    proc = fleet_run["proc"]
    assert summary_lines(proc.stdout) == [
        "hyperstack-vm1: OK 16 ok",
        "hyperstack-vm2: FAIL 2 failed (container_running, fatal_errors), 10 ok",
        "hyperstack-vm3: FAIL 1 failed (container_running), 8 ok",
        "hyperstack-vm4: FAIL 1 failed (gpu_count), 15 ok",
        "hyperstack-vm5: WARN 2 warned (kv_cache, two_engines), 15 ok",
        "hyperstack-vm6: OK 16 ok",
        "hyperstack-vm7: SKIPPED not evaluated",
        "hyperstack-vm8: FAIL 1 failed (reachable), 0 ok",
    ]


def test_failed_gate_names_the_checks(fleet_run):
    proc = fleet_run["proc"]
    assert "1 health check(s) failed on hyperstack-vm4: gpu_count: 2 GPU(s) found, 4 expected" in proc.stdout
    assert re.search(
        r"2 health check\(s\) failed on hyperstack-vm2: container_running: vllm_qwen36_27b is exited "
        r"\(exit code 1\) \| fatal_errors: cuda_oom: torch.OutOfMemoryError: CUDA out of memory",
        proc.stdout,
    )
    assert re.search(r"failed on hyperstack-vm8: reachable: unreachable: .*Connection refused", proc.stdout)


def test_junit_has_one_test_case_per_vm_and_check(fleet_run):
    root = parse_junit(fleet_run["junit"])
    assert root.tag == "testsuites"
    [suite] = list(root)
    assert suite.attrib == {
        "name": "gpufleet.vllm.health",
        "tests": "88",
        "failures": "5",
        "errors": "0",
        "skipped": "1",
    }
    cases = outcomes(root)
    expected = {}
    for host in ("hyperstack-vm1", "hyperstack-vm5", "hyperstack-vm6"):
        expected.update({(host, f"{host} :: {name}"): "ok" for name in CHECK_NAMES})
    expected[("hyperstack-vm5", "hyperstack-vm5 :: kv_cache")] = "warn"
    expected[("hyperstack-vm5", "hyperstack-vm5 :: two_engines")] = "warn"
    gpu_checks = CHECK_NAMES[:8]
    expected.update(
        {
            ("hyperstack-vm2", f"hyperstack-vm2 :: {name}"): "ok"
            for name in (*gpu_checks, "container_restarts", "container_oom")
        }
    )
    expected[("hyperstack-vm2", "hyperstack-vm2 :: container_running")] = "failure"
    expected[("hyperstack-vm2", "hyperstack-vm2 :: fatal_errors")] = "failure"
    expected.update({("hyperstack-vm3", f"hyperstack-vm3 :: {name}"): "ok" for name in gpu_checks})
    expected[("hyperstack-vm3", "hyperstack-vm3 :: container_running")] = "failure"
    expected.update({("hyperstack-vm4", f"hyperstack-vm4 :: {name}"): "ok" for name in CHECK_NAMES})
    expected[("hyperstack-vm4", "hyperstack-vm4 :: gpu_count")] = "failure"
    expected[("hyperstack-vm7", "hyperstack-vm7 :: health")] = "skipped"
    expected[("hyperstack-vm8", "hyperstack-vm8 :: reachable")] = "failure"
    assert cases == expected
    failure = next(case for case in root.iter("testcase") if case.get("name") == "hyperstack-vm4 :: gpu_count")
    assert failure.find("failure").get("message") == "2 GPU(s) found, 4 expected"


def test_all_healthy_exits_zero_and_reports_no_failure(tmp_path, ansible_env):
    inventory = write_inventory(tmp_path, {"vm-a": {"scenario": "busy"}, "vm-b": {"scenario": "idle"}})
    junit = tmp_path / "health.xml"
    proc = playbook(ansible_env, inventory, "-e", f"health_junit_path={junit}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary_lines(proc.stdout) == ["vm-a: OK 16 ok", "vm-b: OK 16 ok"]
    assert parse_junit(junit).attrib == {
        "name": "gpufleet.vllm.health",
        "tests": "32",
        "failures": "0",
        "errors": "0",
        "skipped": "0",
    }


def test_wait_mode_shows_each_poll_and_fails_fast_on_a_fatal_error(tmp_path, ansible_env):
    inventory = write_inventory(
        tmp_path,
        {
            # Loads for about 55 s: a 6 s wait times out in the middle of the weight shards.
            "slow": {"scenario": "loading", "elapsed": 8},
            # CUDA out of memory 18.2 s after the start: 16 s in, so the error comes during the wait.
            "oom": {"scenario": "cuda-oom", "elapsed": 16, "health_wait_timeout": 120},
        },
    )
    proc = playbook(
        ansible_env,
        inventory,
        "-e",
        "health_mode=wait",
        "-e",
        "health_wait_delay=1",
        "-e",
        '{"health_wait_timeout": 6}',
        "-e",
        "health_junit_path=" + str(tmp_path / "wait.xml"),
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    polls = re.findall(
        r"^ok: \[slow\] => \(item=\[(\d+)s/6s\] (warn|fail): engine_serving: loading: loading_weights (\d+)% ",
        proc.stdout,
        re.M,
    )
    # Polls start 1 s apart for 6 s; on a loaded 2-core machine each can take over 2 s, and then
    # fewer fit: three (the first, one between, the one past the timeout) show the progress.
    assert len(polls) >= 3
    assert polls[-1][1] == "fail" and int(polls[-1][0]) >= 6
    percents = [int(poll[2]) for poll in polls]
    assert percents == sorted(percents)
    assert re.search(
        r"failed on slow: engine_serving: loading: loading_weights \d+% .*; still so after waiting 6s", proc.stdout
    )
    assert re.search(
        r"^ok: \[oom\] => \(item=\[\d+s/6s\] fail: fatal_errors: cuda_oom: torch.OutOfMemoryError", proc.stdout, re.M
    )
    cases = outcomes(parse_junit(tmp_path / "wait.xml"))
    assert cases[("oom", "oom :: fatal_errors")] == "failure"
    assert cases[("slow", "slow :: engine_serving")] == "failure"


# --- configuration errors: exit code 1, before any VM is polled ----------------------------------

COLLECT_TASK = "TASK [gpufleet.vllm.health : Collect the state of the VM]"


def error_text(proc) -> str:
    """Ansible's [ERROR] block (stderr), on one line."""
    return " ".join(proc.stderr.split())


@pytest.mark.parametrize(
    ("host_vars", "extra_vars", "error"),
    [
        (
            {},
            {"health_custom_checks": [{"name": "broken", "expression": "length(vllm.engines"}]},
            "invalid health settings of host vm-a: health_custom_checks: custom check 'broken': cannot compile JMESPath "
            "expression 'length(vllm.engines'",
        ),
        # Deeper than Python's recursion limit.
        (
            {},
            {"health_custom_checks": [{"name": "deep", "expression": "(" * 3000 + "gpu.status" + ")" * 3000}]},
            "invalid health settings of host vm-a: health_custom_checks: custom check 'deep': JMESPath expression "
            + repr("(" * 80)
            + "... (6010 characters) nests too deeply to compile (Python's recursion limit)",
        ),
        # A host's own thresholds: NaN compares false with every reading, so it would never fail.
        (
            {"vm-b": {"health_thresholds": {"kv_cache_pct": {"warn": 70, "fail": "nan"}}}},
            {},
            "invalid health settings of host vm-b: health_thresholds: threshold 'kv_cache_pct.fail' must be a finite "
            "number, not 'nan'",
        ),
        # What the role's argument specs refuse is refused as early, with the same exit code.
        (
            {},
            {"health_mode": "watch"},
            "invalid health settings of host vm-a: value of health_mode must be one of: check, wait, got: watch",
        ),
    ],
    ids=["custom-check-syntax", "custom-check-recursion", "threshold-nan", "argument-spec"],
)
def test_configuration_error_exits_1_naming_it_before_any_vm_is_polled(
    tmp_path, ansible_env, host_vars, extra_vars, error
):
    hosts = {"vm-a": {"scenario": "busy"}, "vm-b": {"scenario": "busy"}}
    for host, settings in host_vars.items():
        hosts[host].update(settings)
    junit = tmp_path / "health.xml"
    proc = playbook(
        ansible_env,
        write_inventory(tmp_path, hosts),
        "-e",
        f"health_junit_path={junit}",
        *(["-e", json.dumps(extra_vars)] if extra_vars else []),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert error in error_text(proc)
    assert COLLECT_TASK not in proc.stdout
    assert "PLAY RECAP" not in proc.stdout
    assert not junit.exists()


def _fifo(folder):
    os.mkfifo(folder / "pipe")
    return folder / "pipe"


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (
            lambda folder: folder / "missing" / "health.xml",
            "the folder of the report path {path} does not exist ({folder}/missing); create it first",
        ),
        (lambda folder: folder, "{path} is a directory; give the name of a file in it, for example {path}/health.xml"),
        (
            lambda folder: "/proc/health.xml",
            "cannot create the report /proc/health.xml: cannot create a file in /proc: ",
        ),
        # Opened for writing, a FIFO would block the run; as root, a device would be replaced by a file.
        (
            _fifo,
            "{path} is a FIFO (named pipe): a report replaces only a regular file (use /dev/null to discard the report)",
        ),
        (lambda folder: "/dev/full", "/dev/full is a character device: a report replaces only a regular file"),
    ],
    ids=["missing-folder", "directory", "proc", "fifo", "device"],
)
def test_junit_path_that_cannot_be_written_exits_1_before_any_vm_is_polled(tmp_path, ansible_env, make, error):
    inventory = write_inventory(tmp_path, {"vm-a": {"scenario": "busy"}})
    path = make(tmp_path)
    before = os.lstat(path) if os.path.lexists(path) else None
    proc = playbook(ansible_env, inventory, "-e", f"health_junit_path={path}", timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "health_junit_path: " + error.format(path=path, folder=tmp_path) in error_text(proc)
    assert COLLECT_TASK not in proc.stdout
    if before is not None:
        after = os.lstat(path)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)


def test_dev_null_discards_the_report_and_stays_a_device(tmp_path, ansible_env):
    before = os.stat("/dev/null")
    proc = playbook(
        ansible_env, write_inventory(tmp_path, {"vm-a": {"scenario": "busy"}}), "-e", "health_junit_path=/dev/null"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary_lines(proc.stdout) == ["vm-a: OK 16 ok"]
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_report_that_cannot_be_written_after_the_polls_exits_1_after_the_summary(tmp_path, ansible_env):
    """The folder is there when the run starts and gone when the report is written (here the VM's
    docker CLI removes it): the summary is printed, the run ends with 1, no VM is blamed."""
    reports = tmp_path / "reports"
    reports.mkdir()
    inventory = write_inventory(tmp_path, {"vm-a": {"scenario": "busy"}})
    docker = tmp_path / "docker"
    docker.write_text(f"#!/bin/sh\nrm -rf '{reports}'\nexec '{tmp_path}/hosts/vm-a/bin/docker' \"$@\"\n")
    docker.chmod(0o755)
    data = json.loads(Path(inventory).read_text())
    data["all"]["hosts"]["vm-a"]["gpufleet_docker_path"] = str(docker)
    Path(inventory).write_text(json.dumps(data))
    proc = playbook(ansible_env, inventory, "-e", f"health_junit_path={reports}/health.xml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary_lines(proc.stdout) == ["vm-a: OK 16 ok"]
    assert (
        f"health_junit_path: the folder of the report path {reports}/health.xml does not exist ({reports}); "
        "create it first"
    ) in error_text(proc)


def test_host_named_localhost_does_not_receive_the_controller_work(tmp_path, ansible_env):
    """An inventory host called localhost (a VM, here unreachable) is polled and blamed like any
    VM; the JUnit report is still written on the controller, not sent over SSH to it."""
    inventory = write_inventory(
        tmp_path,
        {
            # First, so that it is the host run_once tasks run for.
            "localhost": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1},
            "vm-a": {"scenario": "busy"},
        },
    )
    junit = tmp_path / "health.xml"
    proc = playbook(ansible_env, inventory, "-e", f"health_junit_path={junit}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    failed = dict(
        re.findall(r"^(localhost|vm-a)\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=(\d)", proc.stdout, re.M)
    )
    assert failed == {"localhost": "1", "vm-a": "0"}
    assert summary_lines(proc.stdout) == ["localhost: FAIL 1 failed (reachable), 0 ok", "vm-a: OK 16 ok"]
    cases = outcomes(parse_junit(junit))
    assert cases[("localhost", "localhost :: reachable")] == "failure"
    assert [state for (host, _name), state in cases.items() if host == "vm-a"] == ["ok"] * 16
