# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fakegpu command: list, make-host, set (fault injection at run time), show, and its errors."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from simhost import NOW, Host, clock_env, fakegpu

CONTAINER = "vllm_qwen36_27b"
SCENARIOS = {
    "busy",
    "busy-tp2",
    "idle",
    "loading",
    "cuda-oom",
    "kv-cache-too-small",
    "restart-loop",
    "container-missing",
    "docker-permission-denied",
    "docker-daemon-down",
    "logging-driver-none",
    "driver-not-loaded",
    "nvml-missing",
    "no-devices",
    "gpu-lost",
    "nvidia-smi-hang",
    "data-parallel",
    "aggregated",
    "v0-engine",
    "vllm-0.10-ansi",
    "vllm-0.11-ansi",
    "vllm-0.33",
    "healthcheck",
    "hostile",
    "foreign-process",
    "ecc-error",
    "thermal-throttle",
    "xid-79",
    "kernel-log-unreadable",
}
GPU_QUERY = ("--query-gpu=index,name", "--format=csv,noheader,nounits")


def test_list_names_every_scenario_once_with_a_description():
    done = fakegpu("list")
    rows = [line.split(None, 1) for line in done.stdout.splitlines()]
    assert done.returncode == 0
    assert sorted(name for name, _description in rows) == sorted(SCENARIOS)
    assert all(len(description) > 20 for _name, description in rows)


def test_make_host_writes_fast_executables_and_state(make_host):
    host = make_host("idle")
    for command, entry in (("nvidia-smi", "nvidia_smi_main"), ("docker", "docker_main")):
        path = host.path / "bin" / command
        assert os.access(str(path), os.X_OK)
        text = path.read_text()
        assert text.splitlines()[0] == "#!%s -IS" % sys.executable
        assert "%s(sys.argv[1:], %r)" % (entry, str(host.path)) in text
    assert json.loads((host.path / "state.json").read_text()) == {
        "scenario": "idle",
        "engine": "docker",
        "container": CONTAINER,
        "started_epoch": NOW - 1215.0,
        "overrides": {},
        "previous_runs": [],
    }


def test_make_host_options(make_host):
    host = make_host("busy", "--elapsed", "12.5", "--container", "vllm_other")
    state = json.loads((host.path / "state.json").read_text())
    assert (state["container"], state["started_epoch"]) == ("vllm_other", NOW - 12.5)
    assert host.docker("logs", CONTAINER).returncode == 1
    assert host.docker("logs", "vllm_other").returncode == 0


@pytest.mark.parametrize(
    "scenario, items, argv, status, fragment",
    [
        (
            "busy",
            ["nvidia_smi=driver_not_loaded"],
            ["nvidia-smi", *GPU_QUERY],
            9,
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
        ),
        (
            "busy",
            ["nvidia_smi=nvml_missing"],
            ["nvidia-smi", *GPU_QUERY],
            12,
            "NVIDIA-SMI couldn't find libnvidia-ml.so library in your system.",
        ),
        ("busy", ["nvidia_smi=no_devices"], ["nvidia-smi", *GPU_QUERY], 6, "No devices were found\n"),
        (
            "busy-tp2",
            ["nvidia_smi=gpu_lost"],
            ["nvidia-smi", *GPU_QUERY],
            15,
            "0, NVIDIA H100 80GB HBM3\nUnable to determine the device handle for GPU 0000:02:00.0: GPU "
            "is lost.  Reboot the system to recover this GPU\n",
        ),
        ("driver-not-loaded", ["nvidia_smi=ok"], ["nvidia-smi", *GPU_QUERY], 0, "0, NVIDIA A100 80GB PCIe\n"),
        (
            "driver-not-loaded",
            ["nvidia_smi=ok", "nvidia_smi=default"],
            ["nvidia-smi", *GPU_QUERY],
            9,
            "NVIDIA-SMI has failed",
        ),
        ("busy", ["docker=daemon_down"], ["docker", "logs", CONTAINER], 1, "Cannot connect to the Docker daemon"),
        (
            "busy",
            ["docker=permission_denied"],
            ["docker", "inspect", CONTAINER],
            1,
            '/v1.50/containers/vllm_qwen36_27b/json": dial unix /var/run/docker.sock: connect: permission denied\n',
        ),
        ("docker-permission-denied", ["docker=ok"], ["docker", "inspect", CONTAINER], 0, '"Status": "running"'),
        ("busy", ["container=absent"], ["docker", "inspect", CONTAINER], 1, "Error: No such object: vllm_qwen36_27b\n"),
        ("container-missing", ["container=present"], ["docker", "inspect", CONTAINER], 0, '"Status": "running"'),
        (
            "busy",
            ["logs=unsupported"],
            ["docker", "logs", CONTAINER],
            1,
            "configured logging driver does not support reading",
        ),
        ("busy", ["scenario=cuda-oom"], ["docker", "inspect", CONTAINER], 0, '"Status": "exited"'),
        ("busy", ["elapsed=20"], ["docker", "inspect", CONTAINER], 0, '"StartedAt": "2026-11-28T00:56:54Z"'),
        ("busy", ["restart_count=7"], ["docker", "inspect", CONTAINER], 0, '"RestartCount": 7,'),
        ("busy", ["restart", "restart"], ["docker", "inspect", CONTAINER], 0, '"RestartCount": 2,'),
    ],
)
def test_set_switches_faults_at_run_time(make_host, scenario, items, argv, status, fragment):
    host = make_host(scenario)
    changed = host.set(*items)
    assert (changed.returncode, changed.stderr) == (0, "")
    done = host.run(*argv, merged=True)
    assert done.returncode == status
    assert fragment in done.stdout.decode()


@pytest.mark.parametrize(
    "command, items, argv",
    [
        ("nvidia-smi", ["nvidia_smi=hang"], GPU_QUERY),
        ("docker", ["docker=hang"], ("logs", CONTAINER)),
    ],
)
def test_set_hang(make_host, command, items, argv):
    host = make_host("busy")
    assert host.set(*items).returncode == 0
    process = subprocess.Popen([str(host.path / "bin" / command), *argv], stdout=subprocess.DEVNULL, env=clock_env(NOW))
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=1.5)
    finally:
        process.kill()
        process.wait()


def test_set_restart_records_the_run(make_host):
    host = make_host("busy")
    assert host.set("restart", now=NOW + 10).returncode == 0
    state = json.loads((host.path / "state.json").read_text())
    assert state["previous_runs"] == [{"scenario": "busy", "started_epoch": NOW - 3600, "finished_epoch": NOW + 10}]
    assert state["started_epoch"] == NOW + 10


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "fakegpu: the following arguments are required: COMMAND"),
        (
            ["frob"],
            "fakegpu: argument COMMAND: invalid choice: 'frob' (choose from 'make-host', 'set', 'list', 'show')",
        ),
        (["make-host", "{dir}", "nosuch"], "fakegpu: unknown scenario 'nosuch' (run 'fakegpu list')"),
        (["make-host", "{dir}", "busy", "--elapsed", "-5"], "fakegpu: --elapsed must be 0 or more seconds, got -5.0"),
        (
            ["set", "{dir}/none", "scenario=busy"],
            "fakegpu: no simulated host at {dir}/none (no state.json; create one with 'fakegpu "
            "make-host DIR SCENARIO')",
        ),
        (
            ["show", "{dir}/none"],
            "fakegpu: no simulated host at {dir}/none (no state.json; create one with 'fakegpu "
            "make-host DIR SCENARIO')",
        ),
        (
            ["set", "{dir}/host", "bogus=1"],
            "fakegpu: unknown key 'bogus' (known: scenario, elapsed, restart_count, nvidia_smi, docker, "
            "container, logs, nvidia_smi_output, restart)",
        ),
        (
            ["set", "{dir}/host", "nvidia_smi_output={dir}/none"],
            "fakegpu: nvidia_smi_output must name a file, got '{dir}/none'",
        ),
        (
            ["set", "{dir}/host", "docker=maybe"],
            "fakegpu: docker must be one of ok, permission_denied, daemon_down, hang or default, got 'maybe'",
        ),
        (["set", "{dir}/host", "elapsed=-1"], "fakegpu: elapsed must be 0 or more, got '-1'"),
        (["set", "{dir}/host", "scenario=nosuch"], "fakegpu: unknown scenario 'nosuch' (run 'fakegpu list')"),
        (["set", "{dir}/host", "restartx"], "fakegpu: expected KEY=VALUE or restart, got 'restartx'"),
    ],
)
def test_cli_errors_are_one_line_exit_2(tmp_path, args, message):
    assert fakegpu("make-host", str(tmp_path / "host"), "busy").returncode == 0
    before = (tmp_path / "host" / "state.json").read_text()
    done = fakegpu(*[arg.format(dir=tmp_path) for arg in args])
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message.format(dir=tmp_path) + "\n")
    assert (tmp_path / "host" / "state.json").read_text() == before


@pytest.mark.parametrize(
    "content, message",
    [
        (
            None,
            "fakegpu: no simulated host at {dir} (no state.json; create one with 'fakegpu make-host DIR SCENARIO')\n",
        ),
        ("{bad", "fakegpu: cannot read {dir}/state.json: expected a key at offset 1\n"),
        ('{"scenario": "busy"}', "fakegpu: {dir}/state.json is not a fakegpu state (KeyError: 'container')\n"),
    ],
)
def test_executables_report_a_broken_host_in_one_line(make_host, content, message):
    host = make_host("busy")
    state = host.path / "state.json"
    if content is None:
        state.unlink()
    else:
        state.write_text(content)
    for argv in (("nvidia-smi", "-L"), ("docker", "logs", CONTAINER)):
        done = host.run(*argv)
        assert (done.returncode, done.stdout, done.stderr.decode()) == (2, b"", message.format(dir=host.path))


def test_show_prints_the_three_module_calls_safely(make_host):
    done = fakegpu("show", str(make_host("hostile").path), "--tail", "300")
    assert done.returncode == 0
    assert "\x1b" not in done.stdout and "\r" not in done.stdout
    assert (
        "\n$ nvidia-smi --query-gpu=index,uuid,name,temperature.gpu,utilization.gpu,"
        "power.draw,power.limit,memory.used,memory.total --format=csv,noheader,nounits\n"
        "out| 0, GPU-5d1d7a3c-2f4e-8b61-9a0c-3e7f1b2d4c60, NVIDIA A100 80GB PCIe, 50, 20, "
        "120.00, 300.00, 76045, 81920\n(exit 0)\n" in done.stdout
    )
    assert "\n$ docker container inspect vllm_qwen36_27b\nout| [\n" in done.stdout
    assert 'out|             "StartedAt": "2026-11-28T00:47:14Z",\n' in done.stdout
    assert "[serving_chat.py:1040] bad bytes \\xff\\xfe\\xc3( end\n" in done.stdout
    hang = fakegpu("show", str(make_host("nvidia-smi-hang").path))
    assert "(hangs: no answer for 3600 s)" in hang.stdout


def _python38():
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python")))
    return found[0] if found else None


@pytest.mark.skipif(_python38() is None, reason="no Python 3.8 interpreter on this machine")
def test_runs_on_python_3_8(tmp_path):
    answers = []
    for python in (sys.executable, _python38()):
        path = tmp_path / os.path.basename(os.path.dirname(os.path.dirname(python)))
        assert fakegpu("make-host", str(path), "restart-loop", python=python).returncode == 0
        host = Host(path)
        assert host.path.joinpath("bin", "docker").read_text().startswith("#!" + python + " -IS")
        answers.append(
            [
                host.nvidia_smi(*GPU_QUERY).stdout,
                host.docker("logs", "-t", CONTAINER, merged=True).stdout,
                host.docker("inspect", CONTAINER).stdout,
            ]
        )
    assert answers[0] == answers[1]


def test_nvidia_smi_output_replays_a_file(make_host, tmp_path):
    host = make_host("busy")
    rows = tmp_path / "rows.csv"
    rows.write_bytes(b"0, GPU-x, Odd \xe2\x80\xae name, -5, 101, 1e309, 300.00, 9, 8\n0, dup\n\xff\n")
    assert host.set("nvidia_smi_output=%s" % rows).returncode == 0
    done = host.nvidia_smi(*GPU_QUERY)
    assert (done.returncode, done.stdout) == (0, rows.read_bytes())
    # Only queries replay; the plain screen is the scenario's, and default removes the override.
    assert b"NVIDIA-SMI" in host.nvidia_smi().stdout
    assert host.set("nvidia_smi_output=default").returncode == 0
    assert host.nvidia_smi(*GPU_QUERY).stdout.startswith(b"0, NVIDIA A100")
