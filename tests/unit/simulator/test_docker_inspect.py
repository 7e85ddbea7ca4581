# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stand-in docker, run as a process: inspect templates and the error texts of
formats.md section 5."""

from __future__ import annotations

import json

import pytest

CONTAINER = "vllm_qwen36_27b"
# The node_info module's template (module_utils/_docker.py INSPECT_TEMPLATE).
MODULE_TEMPLATE = (
    "{{.State.Status}}\t{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}"
    "\t{{.RestartCount}}\t{{.State.OOMKilled}}\t{{.State.StartedAt}}\t{{.State.ExitCode}}"
    "\t{{.Config.Image}}\t{{.State.Error}}"
)
NO_HEALTH = ('template parsing error: template: :1:26: executing "" at <.State.Health.Status>: '
             'map has no entry for key "Health"\n')
OCI_FAILED = (
    "failed to create task for container: failed to create shim task: OCI runtime create "
    "failed: runc create failed: unable to start container process: error during container "
    "init: error running prestart hook #0: exit status 1, stdout: , stderr: Auto-detected mode "
    "as 'legacy'\nnvidia-container-cli: initialization error: nvml error: driver not loaded: "
    "unknown"
)
PERMISSION_DENIED = (
    "permission denied while trying to connect to the Docker daemon socket at "
    "unix:///var/run/docker.sock: Get \"http://%%2Fvar%%2Frun%%2Fdocker.sock/v1.50/containers/"
    "%s/json\": dial unix /var/run/docker.sock: connect: permission denied\n"
)
DAEMON_DOWN = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker "
               "daemon running?\n")


@pytest.mark.parametrize("scenario, fields", [
    ("busy", ["running", "none", "0", "false", "2026-11-27T23:57:14Z", "0",
              "vllm/vllm-openai:latest", ""]),
    ("healthcheck", ["running", "healthy", "0", "false", "2026-11-27T23:57:14Z", "0",
                     "vllm/vllm-openai:v0.11.0", ""]),
    ("cuda-oom", ["exited", "none", "0", "false", "2026-11-28T00:52:14Z", "1",
                  "vllm/vllm-openai:v0.11.0", ""]),
    ("restart-loop", ["running", "none", "2", "false", "2026-11-28T00:56:54Z", "0",
                      "vllm/vllm-openai:v0.11.0", ""]),
    ("driver-not-loaded", ["created", "none", "0", "false", "0001-01-01T00:00:00Z", "128",
                           "vllm/vllm-openai:v0.11.0", OCI_FAILED]),
    ("vllm-0.33", ["running", "none", "0", "false", "2026-11-27T23:57:14Z", "0",
                   "vllm/vllm-openai:v0.33.0", ""]),
])
def test_module_template(make_host, scenario, fields):
    done = make_host(scenario).docker("container", "inspect", "--format", MODULE_TEMPLATE,
                                      CONTAINER)
    assert (done.returncode, done.stdout.decode(), done.stderr) == (
        0, "\t".join(fields) + "\n", b"")


@pytest.mark.parametrize("command", [("inspect",), ("container", "inspect")])
def test_unguarded_health_fails_without_a_healthcheck(make_host, command):
    template = "{{.State.Status}} {{.State.Health.Status}} {{.RestartCount}}"
    done = make_host("busy").docker(*command, "--format", template, CONTAINER)
    assert (done.returncode, done.stdout, done.stderr.decode()) == (1, b"", NO_HEALTH)
    guarded = make_host("healthcheck").docker(*command, "--format", template, CONTAINER)
    assert (guarded.returncode, guarded.stdout.decode()) == (0, "running healthy 0\n")


@pytest.mark.parametrize("elapsed, status", [("40", "starting"), ("3600", "healthy")])
def test_health_follows_the_start_up(make_host, elapsed, status):
    done = make_host("healthcheck", "--elapsed", elapsed).docker(
        "inspect", "-f", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}", CONTAINER)
    assert done.stdout.decode() == status + " 0\n"


def test_plain_inspect_prints_the_document(make_host):
    done = make_host("busy").docker("inspect", CONTAINER)
    (document,) = json.loads(done.stdout)
    assert document["Name"] == "/" + CONTAINER
    assert document["State"] == {
        "Status": "running", "Running": True, "Paused": False, "Restarting": False,
        "OOMKilled": False, "Dead": False, "Pid": 48211, "ExitCode": 0, "Error": "",
        "StartedAt": "2026-11-27T23:57:14Z", "FinishedAt": "0001-01-01T00:00:00Z"}
    assert "Health" not in document["State"] and "Healthcheck" not in document["Config"]


@pytest.mark.parametrize("scenario, argv, status, stdout, stderr", [
    ("container-missing", ["inspect", CONTAINER], 1, "[]\n",
     "Error: No such object: %s\n" % CONTAINER),
    ("container-missing", ["inspect", "-f", "{{.Id}}", CONTAINER], 1, "",
     "Error: No such object: %s\n" % CONTAINER),
    ("container-missing", ["container", "inspect", "-f", MODULE_TEMPLATE, CONTAINER], 1, "",
     "Error response from daemon: No such container: %s\n" % CONTAINER),
    ("busy", ["container", "inspect", "-f", "{{.Id}}", "other"], 1, "",
     "Error response from daemon: No such container: other\n"),
    ("docker-permission-denied", ["container", "inspect", "-f", MODULE_TEMPLATE, CONTAINER], 1, "",
     PERMISSION_DENIED % CONTAINER),
    ("docker-daemon-down", ["inspect", CONTAINER], 1, "", DAEMON_DOWN),
    ("busy", ["inspect", "-f", "{{.State.Status", CONTAINER], 1, "",
     "template parsing error: template: :1: unclosed action\n"),
    ("busy", ["inspect", "-f", "{{nope .State}}", CONTAINER], 1, "",
     "template parsing error: template: :1: function \"nope\" not defined\n"),
])
def test_errors(make_host, scenario, argv, status, stdout, stderr):
    done = make_host(scenario).docker(*argv)
    assert (done.returncode, done.stdout.decode(), done.stderr.decode()) == (status, stdout, stderr)


def test_permission_denied_names_the_container_asked_for(make_host):
    host = make_host("docker-permission-denied", "--container", "vllm_other")
    done = host.docker("container", "inspect", "-f", MODULE_TEMPLATE, "vllm_other")
    assert done.stderr.decode() == PERMISSION_DENIED % "vllm_other"


def test_template_parse_errors_come_before_the_daemon(make_host):
    done = make_host("docker-daemon-down").docker("inspect", "-f", "{{end}}", CONTAINER)
    assert done.stderr.decode() == "template parsing error: template: :1: unexpected {{end}}\n"


def test_client_version_needs_no_daemon(make_host):
    done = make_host("docker-daemon-down").docker("--version")
    assert (done.returncode, done.stdout.decode()) == (0, "Docker version 28.2.2, build e6534b4\n")
