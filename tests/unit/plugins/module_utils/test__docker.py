# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _docker: CLI texts from docs/dev/formats.md section 5 (docker 28.2.2, moby, libpod);
the docker 29 connection wordings are as printed by docker 29.x CLIs in public transcripts."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._docker import (
    INSPECT_TEMPLATE,
    InvalidContainerName,
    InvalidInspectOutput,
    classify_error,
    classify_logs_error,
    container_section,
    inspect_command,
    logs_command,
    parse_inspect,
    validate_container_name,
)

NO_SUCH_CONTAINER = "Error response from daemon: No such container: vllm_qwen\n"
NO_SUCH_OBJECT = "Error: No such object: vllm_qwen\n"
PODMAN_MISSING = 'Error: no container with name or ID "vllm_qwen" found: no such container\n'
PODMAN_MISSING_OLD = (
    "Error: unable to find container vllm_qwen: no container with name or ID vllm_qwen found: "
    "no such container\n"
)
PODMAN_MISSING_RM = 'Error: no container with ID or name "vllm_qwen" found: no such container\n'
DAEMON_DOWN = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
    "Is the docker daemon running?\n"
)
DAEMON_DOWN_29 = (
    "failed to connect to the docker API at unix:///var/run/docker.sock; check if the path is "
    "correct and if the daemon is running: dial unix /var/run/docker.sock: connect: no such "
    "file or directory\n"
)
PERMISSION = (
    "permission denied while trying to connect to the Docker daemon socket at "
    "unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.50/containers/"
    "vllm_qwen/json\": dial unix /var/run/docker.sock: connect: permission denied\n"
)
PERMISSION_OLD = (
    "Got permission denied while trying to connect to the Docker daemon socket at "
    "unix:///var/run/docker.sock: Get http://%2Fvar%2Frun%2Fdocker.sock/v1.24/containers/"
    "vllm_qwen/json: dial unix /var/run/docker.sock: connect: permission denied\n"
)
PERMISSION_29 = (
    "permission denied while trying to connect to the docker API at unix:///var/run/docker.sock\n"
)
LOGS_UNSUPPORTED = (
    "Error response from daemon: configured logging driver does not support reading\n"
)
NO_HEALTH_TEMPLATE_ERROR = (
    'template parsing error: template: :1:26: executing "" at <.State.Health.Status>: map has '
    'no entry for key "Health"\n'
)

MISSING_MESSAGE = (
    "container vllm_qwen does not exist (exit 1); check the container name or start the model"
)
DAEMON_MESSAGE = (
    "cannot connect to the Docker daemon (exit 1); start it (sudo systemctl start docker) and "
    "check it with docker info"
)
PERMISSION_MESSAGE = (
    "permission denied on the Docker daemon socket (exit 1); add the SSH user to the docker "
    "group (sudo usermod -aG docker USER, then reconnect) or run the module with become"
)


def inspect_line(status="running", health="none", restarts="0", oom="false",
                 started="2026-11-28T01:30:00.123456789Z", exit_code="0",
                 image="vllm/vllm-openai:latest", error=""):
    return "\t".join((status, health, restarts, oom, started, exit_code, image, error)) + "\n"


def test_inspect_template():
    assert INSPECT_TEMPLATE == (
        "{{.State.Status}}\t{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}\t"
        "{{.RestartCount}}\t{{.State.OOMKilled}}\t{{.State.StartedAt}}\t{{.State.ExitCode}}\t"
        "{{.Config.Image}}\t{{.State.Error}}"
    )
    assert INSPECT_TEMPLATE.count("\t") == 7


def test_commands():
    assert inspect_command("/usr/bin/docker", "vllm_qwen") == [
        "/usr/bin/docker", "container", "inspect", "--format", INSPECT_TEMPLATE, "vllm_qwen",
    ]
    assert logs_command("podman", "vllm_qwen", 300) == [
        "podman", "logs", "--timestamps", "--tail", "300", "vllm_qwen",
    ]


@pytest.mark.parametrize("name", [
    "vllm_qwen36_27b", "vllm", "/vllm", "a1", "0x", "my.container-1_b", "A" * 255,
])
def test_valid_container_names(name):
    assert validate_container_name(name) is None


RULE = ("docker names are 2-255 characters, start with a letter or digit and contain only "
        "letters, digits, '_', '.' and '-'")


@pytest.mark.parametrize("name, shown", [
    ("", "''"),
    ("v", "'v'"),
    ("/", "'/'"),
    ("x; rm -rf /", "'x; rm -rf /'"),
    ("$(id)", "'$(id)'"),
    ("`id`", "'`id`'"),
    ("-rm", "'-rm'"),
    ("--format={{.}}", "'--format={{.}}'"),
    ("_vllm", "'_vllm'"),
    (".vllm", "'.vllm'"),
    ("vllm qwen", "'vllm qwen'"),
    ("vllm\n", "'vllm\\n'"),
    ("vllm\nrm", "'vllm\\nrm'"),
    ("vllm\x00", "'vllm\\x00'"),
    ("vllm/qwen", "'vllm/qwen'"),
    ("//vllm", "'//vllm'"),
    ("vllm:latest", "'vllm:latest'"),
    ("v\u00e9llm", "'v\u00e9llm'"),
    ("A" * 256, repr("A" * 80)),
])
def test_invalid_container_names(name, shown):
    with pytest.raises(InvalidContainerName) as excinfo:
        validate_container_name(name)
    assert str(excinfo.value) == "invalid container name %s: %s" % (shown, RULE)


@pytest.mark.parametrize("name, message", [
    (None, "container name must be a string, got NoneType"),
    (["vllm"], "container name must be a string, got list"),
])
def test_container_name_must_be_a_string(name, message):
    with pytest.raises(InvalidContainerName) as excinfo:
        validate_container_name(name)
    assert str(excinfo.value) == message


RUNNING = {
    "status": "running", "health": "none", "restart_count": 0,
    "started_at": "2026-11-28T01:30:00.123456Z", "oom_killed": False, "exit_code": 0,
    "image": "vllm/vllm-openai:latest", "message": None,
}


def with_(base, **changes):
    result = dict(base)
    result.update(changes)
    return result


@pytest.mark.parametrize("stdout, expected", [
    (inspect_line(), RUNNING),
    (inspect_line().rstrip("\n"), RUNNING),
    (inspect_line().replace("\n", "\r\n"), RUNNING),
    (inspect_line(health="healthy"), with_(RUNNING, health="healthy")),
    (inspect_line(health="starting"), with_(RUNNING, health="starting")),
    (inspect_line(health="unhealthy"), with_(RUNNING, health="unhealthy")),
    # Podman with a .State.Health but no check: unknown, not "none".
    (inspect_line(health=""), with_(RUNNING, health=None)),
    (inspect_line(status="restarting", restarts="14", exit_code="1"),
     with_(RUNNING, status="restarting", restart_count=14, exit_code=1)),
    (inspect_line(status="exited", oom="true", exit_code="137",
                  started="2026-11-28T02:30:00.5+01:00"),
     with_(RUNNING, status="exited", oom_killed=True, exit_code=137,
           started_at="2026-11-28T01:30:00.500000Z")),
    # Never started: Go's zero time.
    (inspect_line(status="created", started="0001-01-01T00:00:00Z", exit_code="0"),
     with_(RUNNING, status="created", started_at=None)),
    (inspect_line(status="dead", started=""), with_(RUNNING, status="dead", started_at=None)),
    (inspect_line(status="paused"), with_(RUNNING, status="paused")),
    (inspect_line(status="removing"), with_(RUNNING, status="removing")),
    (inspect_line(status="configured"), with_(RUNNING, status="created")),
    (inspect_line(status="initialized"), with_(RUNNING, status="created")),
    (inspect_line(status="stopped"), with_(RUNNING, status="exited")),
    (inspect_line(exit_code="-1"), with_(RUNNING, exit_code=-1)),
    (inspect_line(restarts="-3"), with_(RUNNING, restart_count=None)),
    (inspect_line(image=""), with_(RUNNING, image=None)),
    # State.Error is free text: tabs and newlines become spaces, escapes go.
    (inspect_line(status="exited", exit_code="128",
                  error="OCI runtime create failed:\tnvidia-container-cli: initialization error"),
     with_(RUNNING, status="exited", exit_code=128,
           message="OCI runtime create failed: nvidia-container-cli: initialization error")),
    (inspect_line(error="a\tb\tc\nd\x1b[31me"), with_(RUNNING, message="a b c de")),
    (inspect_line(error="x" * 1000), with_(RUNNING, message="x" * 299 + "\u2026")),
    (inspect_line(image="vllm/vllm-openai:v0.11.0\x1b]0;pwn\x07"),
     with_(RUNNING, image="vllm/vllm-openai:v0.11.0")),
])
def test_parse_inspect(stdout, expected):
    assert parse_inspect(stdout) == expected


@pytest.mark.parametrize("stdout, message", [
    ("", "docker inspect printed 1 fields, expected 8: ''"),
    ("running none 3\n", "docker inspect printed 1 fields, expected 8: 'running none 3'"),
    ("running\tnone\t0\tfalse\t\t0\n", "docker inspect printed 6 fields, expected 8: 'running none 0 false  0'"),
    (NO_HEALTH_TEMPLATE_ERROR,
     "docker inspect printed 1 fields, expected 8: 'template parsing error: template: :1:26: executing \"\" at <.State.Health.Status>: "
     "map has no entry for key \"Health\"'"),
    (inspect_line(status="stopping"), "docker inspect: unknown container status 'stopping'"),
    (inspect_line(status="<no value>"), "docker inspect: unknown container status '<no value>'"),
    (inspect_line(status="\x1b[2Jrunning"), "docker inspect: unknown container status '\\x1b[2Jrunning'"),
    (inspect_line(oom="<no value>"), "docker inspect: OOMKilled is not a boolean: '<no value>'"),
    (inspect_line(restarts="many"), "docker inspect: RestartCount is not an integer: 'many'"),
    (inspect_line(exit_code=""), "docker inspect: ExitCode is not an integer: ''"),
    # More digits than any count: refused (Python's int() would raise its own error past 4300 digits).
    (inspect_line(restarts="9" * 5000), "docker inspect: RestartCount is not an integer: '" + "9" * 159 + "\u2026'"),
    (inspect_line(exit_code="1" * 19), "docker inspect: ExitCode is not an integer: '" + "1" * 19 + "'"),
])
def test_parse_inspect_rejects(stdout, message):
    with pytest.raises(InvalidInspectOutput) as excinfo:
        parse_inspect(stdout)
    assert str(excinfo.value) == message


@pytest.mark.parametrize("rc, stdout, stderr, expected", [
    (1, "", NO_SUCH_CONTAINER, ("missing", None, MISSING_MESSAGE)),
    (1, "[]\n", NO_SUCH_OBJECT, ("missing", None, MISSING_MESSAGE)),
    (125, "", PODMAN_MISSING, ("missing", None, MISSING_MESSAGE.replace("exit 1", "exit 125"))),
    (125, "", PODMAN_MISSING_OLD, ("missing", None, MISSING_MESSAGE.replace("exit 1", "exit 125"))),
    (125, "", PODMAN_MISSING_RM, ("missing", None, MISSING_MESSAGE.replace("exit 1", "exit 125"))),
    (1, "", DAEMON_DOWN, ("error", "daemon_down", DAEMON_MESSAGE)),
    (1, "", DAEMON_DOWN_29, ("error", "daemon_down", DAEMON_MESSAGE)),
    (1, "", PERMISSION, ("error", "permission_denied", PERMISSION_MESSAGE)),
    (1, "", PERMISSION_OLD, ("error", "permission_denied", PERMISSION_MESSAGE)),
    (1, "", PERMISSION_29, ("error", "permission_denied", PERMISSION_MESSAGE)),
    (1, "", NO_HEALTH_TEMPLATE_ERROR,
     ("error", "error", "docker failed (exit 1): template parsing error: template: :1:26: executing \"\" at <.State.Health.Status>: "
                        "map has no entry for key \"Health\"")),
    (1, "", "\n\nError response from daemon: \x1b[31mboom\x1b[0m\nsecond line\n",
     ("error", "error", "docker failed (exit 1): Error response from daemon: boom")),
    (2, "", "", ("error", "error", "docker failed (exit 2): no output")),
    (None, "", "", ("error", "error", "docker failed (exit code unknown): no output")),
])
def test_classify_error(rc, stdout, stderr, expected):
    assert classify_error(rc, stdout, stderr, "vllm_qwen") == expected


def test_classify_error_without_name():
    assert classify_error(1, "", NO_SUCH_CONTAINER) == (
        "missing", None,
        "the container does not exist (exit 1); check the container name or start the model",
    )


def test_classify_error_is_bounded():
    status, kind, message = classify_error(1, "", "E" * 10000)
    assert (status, kind, len(message)) == ("error", "error", 300)


@pytest.mark.parametrize("rc, output, expected", [
    (1, LOGS_UNSUPPORTED, ("unsupported", "docker cannot read this container's logs: its logging driver does not support reading (exit 1); "
                                          "run the container with the json-file, local or journald driver")),
    (1, NO_SUCH_CONTAINER, ("not_read", MISSING_MESSAGE)),
    (125, PODMAN_MISSING, ("not_read", MISSING_MESSAGE.replace("exit 1", "exit 125"))),
    (1, DAEMON_DOWN, ("not_read", DAEMON_MESSAGE)),
    (1, DAEMON_DOWN_29, ("not_read", DAEMON_MESSAGE)),
    (1, PERMISSION, ("not_read", PERMISSION_MESSAGE)),
    (1, PERMISSION_OLD, ("not_read", PERMISSION_MESSAGE)),
    (1, PERMISSION_29, ("not_read", PERMISSION_MESSAGE)),
    (1, "unknown flag: --timestamps\nSee 'docker logs --help'.\n",
     ("error", "docker failed (exit 1): unknown flag: --timestamps")),
])
def test_classify_logs_error(rc, output, expected):
    assert classify_logs_error(rc, output, "vllm_qwen") == expected


UNKNOWN = {"health": None, "restart_count": None, "started_at": None, "oom_killed": None,
           "exit_code": None, "image": None}


def unknown(status, error_kind, message):
    result = {"name": "vllm_qwen", "status": status, "error_kind": error_kind}
    result.update(UNKNOWN)
    result["message"] = message
    return result


@pytest.mark.parametrize("kwargs, expected", [
    ({"rc": 0, "stdout": inspect_line()},
     {"name": "vllm_qwen", "status": "running", "error_kind": None, "health": "none",
      "restart_count": 0, "started_at": "2026-11-28T01:30:00.123456Z", "oom_killed": False,
      "exit_code": 0, "image": "vllm/vllm-openai:latest", "message": None}),
    ({"rc": 1, "stderr": NO_SUCH_CONTAINER}, unknown("missing", None, MISSING_MESSAGE)),
    ({"rc": 1, "stderr": DAEMON_DOWN}, unknown("error", "daemon_down", DAEMON_MESSAGE)),
    ({"rc": 1, "stderr": PERMISSION}, unknown("error", "permission_denied", PERMISSION_MESSAGE)),
    ({"rc": None, "not_found": True, "binary": "/usr/bin/docker"},
     unknown("error", "not_installed", "docker CLI not found (looked for /usr/bin/docker); install docker or set docker_path")),
    ({"rc": None, "timed_out": True, "stdout": inspect_line()},
     unknown("error", "timeout", "docker container inspect did not answer in time; the Docker daemon may be hung (check systemctl status docker)")),
    ({"rc": 0, "stdout": "garbage\n"},
     unknown("error", "error", "docker inspect printed 1 fields, expected 8: 'garbage'")),
])
def test_container_section(kwargs, expected):
    arguments = {"name": "vllm_qwen", "stdout": "", "stderr": ""}
    arguments.update(kwargs)
    section = container_section(**arguments)
    assert section == expected
    assert list(section) == ["name", "status", "error_kind", "health", "restart_count",
                             "started_at", "oom_killed", "exit_code", "image", "message"]
