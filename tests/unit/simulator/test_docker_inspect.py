# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stand-in docker and podman, run as processes: the inspect JSON each prints (the module's
own parser reads it back) and their error texts."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._docker import container_section, parse_inspect
from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text

CONTAINER = "vllm_qwen36_27b"
PODMAN_MISSING = 'Error: no container with name or ID "%s" found: no such container\n'
SECRET = "hf_fakegpuSecretTokenNeverShown0123456789"
OCI_FAILED = (
    "failed to create task for container: failed to create shim task: OCI runtime create "
    "failed: runc create failed: unable to start container process: error during container "
    "init: error running prestart hook #0: exit status 1, stdout: , stderr: Auto-detected mode "
    "as 'legacy'\nnvidia-container-cli: initialization error: nvml error: driver not loaded: "
    "unknown"
)
PERMISSION_DENIED = (
    "permission denied while trying to connect to the Docker daemon socket at "
    'unix:///var/run/docker.sock: Get "http://%%2Fvar%%2Frun%%2Fdocker.sock/v1.50/containers/'
    '%s/json": dial unix /var/run/docker.sock: connect: permission denied\n'
)
DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"


@pytest.mark.parametrize(
    "scenario, expected",
    [
        ("busy", ("running", "none", 0, False, "2026-11-27T23:57:14.000000Z", 0, "vllm/vllm-openai:latest", None)),
        (
            "healthcheck",
            ("running", "healthy", 0, False, "2026-11-27T23:57:14.000000Z", 0, "vllm/vllm-openai:v0.11.0", None),
        ),
        ("cuda-oom", ("exited", "none", 0, False, "2026-11-28T00:52:14.000000Z", 1, "vllm/vllm-openai:v0.11.0", None)),
        (
            "restart-loop",
            ("running", "none", 2, False, "2026-11-28T00:56:54.000000Z", 0, "vllm/vllm-openai:v0.11.0", None),
        ),
        (
            "driver-not-loaded",
            ("created", "none", 0, False, None, 128, "vllm/vllm-openai:v0.11.0", clean_text(OCI_FAILED, 300)),
        ),
    ],
)
@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_the_module_reads_both_engines_alike(make_host, scenario, expected, engine):
    """One scenario, the same state through docker's and podman's JSON (podman: local zone,
    "configured" for never started, docker.io/ image names, empty Health status)."""
    host = make_host(scenario, "--engine", engine)
    env = {"TZ": "Asia/Kolkata"} if engine == "podman" else {}
    done = host.run(engine, "container", "inspect", CONTAINER, env=env)
    assert (done.returncode, done.stderr) == (0, b"")
    state = parse_inspect(done.stdout.decode())
    image = expected[6] if engine == "docker" else "docker.io/" + expected[6]
    assert (
        state["status"],
        state["health"],
        state["restart_count"],
        state["oom_killed"],
        state["started_at"],
        state["exit_code"],
        state["image"],
        state["message"],
    ) == expected[:6] + (image, expected[7])


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_the_environment_is_in_the_json_but_never_in_the_section(make_host, engine):
    done = make_host("busy", "--engine", engine).run(engine, "container", "inspect", CONTAINER)
    (document,) = json.loads(done.stdout)
    assert any(SECRET in variable for variable in document["Config"]["Env"])
    assert SECRET not in json.dumps(container_section(CONTAINER, 0, done.stdout.decode(), ""))


def test_podman_json_has_libpod_shape(make_host):
    done = make_host("busy", "--engine", "podman").run(
        "podman", "container", "inspect", CONTAINER, env={"TZ": "Asia/Kolkata"}
    )
    (document,) = json.loads(done.stdout)
    assert (document["Name"], document["ImageName"]) == (CONTAINER, "docker.io/vllm/vllm-openai:latest")
    assert document["State"]["StartedAt"] == "2026-11-28T05:27:14+05:30"
    assert document["State"]["Health"] == {"Status": "", "FailingStreak": 0, "Log": None}


@pytest.mark.parametrize("elapsed, status", [("40", "starting"), ("3600", "healthy")])
def test_health_follows_the_start_up(make_host, elapsed, status):
    done = make_host("healthcheck", "--elapsed", elapsed).docker("inspect", CONTAINER)
    (document,) = json.loads(done.stdout)
    assert (document["State"]["Health"]["Status"], document["State"]["Health"]["FailingStreak"]) == (status, 0)


def test_plain_inspect_prints_the_document(make_host):
    done = make_host("busy").docker("inspect", CONTAINER)
    (document,) = json.loads(done.stdout)
    assert document["Name"] == "/" + CONTAINER
    assert document["State"] == {
        "Status": "running",
        "Running": True,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 48211,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": "2026-11-27T23:57:14Z",
        "FinishedAt": "0001-01-01T00:00:00Z",
    }
    assert "Health" not in document["State"] and "Healthcheck" not in document["Config"]


@pytest.mark.parametrize(
    "scenario, argv, status, stdout, stderr",
    [
        ("container-missing", ["inspect", CONTAINER], 1, "[]\n", "Error: No such object: %s\n" % CONTAINER),
        (
            "container-missing",
            ["container", "inspect", CONTAINER],
            1,
            "",
            "Error response from daemon: No such container: %s\n" % CONTAINER,
        ),
        ("busy", ["container", "inspect", "other"], 1, "", "Error response from daemon: No such container: other\n"),
        ("docker-permission-denied", ["container", "inspect", CONTAINER], 1, "", PERMISSION_DENIED % CONTAINER),
        ("docker-daemon-down", ["inspect", CONTAINER], 1, "", DAEMON_DOWN),
        # Go templates are not simulated: the module reads the JSON.
        (
            "busy",
            ["inspect", "-f", "{{.State.Status}}", CONTAINER],
            2,
            "",
            "fakegpu: docker inspect --format is not simulated (no Go template engine); read the JSON "
            "document without --format\n",
        ),
    ],
)
def test_errors(make_host, scenario, argv, status, stdout, stderr):
    done = make_host(scenario).docker(*argv)
    assert (done.returncode, done.stdout.decode(), done.stderr.decode()) == (status, stdout, stderr)


@pytest.mark.parametrize(
    "scenario, argv",
    [
        ("container-missing", ["container", "inspect", CONTAINER]),
        ("container-missing", ["logs", "--timestamps", "--tail", "5", CONTAINER]),
        ("busy", ["container", "inspect", "other"]),
        # No daemon to be down or to refuse the socket: podman answers.
        ("docker-daemon-down", ["container", "inspect", "other"]),
    ],
)
def test_podman_errors(make_host, scenario, argv):
    done = make_host(scenario, "--engine", "podman").run("podman", *argv)
    name = argv[-1]
    assert (done.returncode, done.stdout.decode(), done.stderr.decode()) == (125, "", PODMAN_MISSING % name)


def test_podman_host_has_no_docker(make_host):
    host = make_host("busy", "--engine", "podman")
    commands = os.listdir(host.path / "bin")
    assert "podman" in commands and "nvidia-smi" in commands and "docker" not in commands
    assert host.run("podman", "--version").stdout.decode() == "podman version 4.9.3\n"


def test_permission_denied_names_the_container_asked_for(make_host):
    host = make_host("docker-permission-denied", "--container", "vllm_other")
    done = host.docker("container", "inspect", "vllm_other")
    assert done.stderr.decode() == PERMISSION_DENIED % "vllm_other"


def test_client_version_needs_no_daemon(make_host):
    done = make_host("docker-daemon-down").docker("--version")
    assert (done.returncode, done.stdout.decode()) == (0, "Docker version 28.2.2, build e6534b4\n")
