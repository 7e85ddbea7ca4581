# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _docker: CLI texts from docs/dev/formats.md section 5 (docker 28.2.2, moby, libpod);
the docker 29 connection wordings are as printed by docker 29.x CLIs in public transcripts."""

from __future__ import annotations

import json

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._docker import (
    InvalidContainerName,
    InvalidInspectOutput,
    classify_error,
    classify_logs_error,
    container_section,
    inspect_command,
    load_inspect_document,
    logs_command,
    parse_inspect,
    validate_container_name,
)

NO_SUCH_CONTAINER = "Error response from daemon: No such container: vllm_qwen\n"
NO_SUCH_OBJECT = "Error: No such object: vllm_qwen\n"
PODMAN_MISSING = 'Error: no container with name or ID "vllm_qwen" found: no such container\n'
PODMAN_MISSING_OLD = (
    "Error: unable to find container vllm_qwen: no container with name or ID vllm_qwen found: no such container\n"
)
PODMAN_MISSING_RM = 'Error: no container with ID or name "vllm_qwen" found: no such container\n'
DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
DAEMON_DOWN_29 = (
    "failed to connect to the docker API at unix:///var/run/docker.sock; check if the path is "
    "correct and if the daemon is running: dial unix /var/run/docker.sock: connect: no such "
    "file or directory\n"
)
PERMISSION = (
    "permission denied while trying to connect to the Docker daemon socket at "
    'unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.50/containers/'
    'vllm_qwen/json": dial unix /var/run/docker.sock: connect: permission denied\n'
)
PERMISSION_OLD = (
    "Got permission denied while trying to connect to the Docker daemon socket at "
    "unix:///var/run/docker.sock: Get http://%2Fvar%2Frun%2Fdocker.sock/v1.24/containers/"
    "vllm_qwen/json: dial unix /var/run/docker.sock: connect: permission denied\n"
)
PERMISSION_29 = "permission denied while trying to connect to the docker API at unix:///var/run/docker.sock\n"
LOGS_UNSUPPORTED = "Error response from daemon: configured logging driver does not support reading\n"
NO_HEALTH_TEMPLATE_ERROR = (
    'template parsing error: template: :1:26: executing "" at <.State.Health.Status>: map has '
    'no entry for key "Health"\n'
)

MISSING_MESSAGE = "container vllm_qwen does not exist (exit 1); check the container name or start the model"
DAEMON_MESSAGE = (
    "cannot connect to the Docker daemon (exit 1); start it (sudo systemctl start docker) and check it with docker info"
)
PERMISSION_MESSAGE = (
    "permission denied on the Docker daemon socket (exit 1); add the SSH user to the docker "
    "group (sudo usermod -aG docker USER, then reconnect) or run the module with become"
)


# hypr passes [vllm] extra_docker_env into the container: Config.Env may hold tokens.
SECRET = "hf_SecretTokenThatMustNeverLeave0123456789"
ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "HUGGING_FACE_HUB_TOKEN=" + SECRET]
ABSENT = object()


def inspect_json(
    engine="docker",
    status="running",
    health=ABSENT,
    restarts=0,
    oom=False,
    started="2026-11-28T01:30:00.123456789Z",
    exit_code=0,
    image="vllm/vllm-openai:latest",
    error="",
    **top,
):
    """``docker container inspect`` (moby's shape) or ``podman container inspect`` (libpod's:
    name without "/", ImageName, State.Health with an empty status without a HEALTHCHECK) of
    one container. ABSENT leaves a key out; TOP replaces top-level keys."""
    state = {
        "Status": status,
        "Running": status == "running",
        "Paused": False,
        "Restarting": False,
        "OOMKilled": oom,
        "Dead": False,
        "Pid": 4821,
        "ExitCode": exit_code,
        "Error": error,
        "StartedAt": started,
        "FinishedAt": "0001-01-01T00:00:00Z",
    }
    if engine == "podman":
        state["Health"] = {"Status": "", "FailingStreak": 0, "Log": None}
    if health is not ABSENT:
        # A string is the status; anything else (null, a list) is Health itself.
        state["Health"] = {"Status": health, "FailingStreak": 0, "Log": []} if isinstance(health, str) else health
    document = {
        "Id": "3f9c1a7e",
        "Name": "/vllm_qwen",
        "State": state,
        "RestartCount": restarts,
        "Config": {"Hostname": "hyperstack", "Env": list(ENV), "Image": image},
    }
    if engine == "podman":
        document.update(Name="vllm_qwen", ImageName="docker.io/" + image, Driver="overlay")
        document["Config"]["Image"] = "docker.io/" + image
    for key, value in top.items():
        if value is ABSENT:
            document.pop(key, None)
        else:
            document[key] = value
    for key in [key for key, value in state.items() if value is ABSENT]:
        del state[key]
    return json.dumps([document], indent=4) + "\n"


def test_commands():
    assert inspect_command("/usr/bin/docker", "vllm_qwen") == [
        "/usr/bin/docker",
        "container",
        "inspect",
        "vllm_qwen",
    ]
    assert inspect_command("/usr/bin/podman", "vllm_qwen") == [
        "/usr/bin/podman",
        "container",
        "inspect",
        "vllm_qwen",
    ]
    assert logs_command("podman", "vllm_qwen", 300) == [
        "podman",
        "logs",
        "--timestamps",
        "--tail",
        "300",
        "vllm_qwen",
    ]


@pytest.mark.parametrize(
    "name",
    [
        "vllm_qwen36_27b",
        "vllm",
        "/vllm",
        "a1",
        "0x",
        "my.container-1_b",
        "A" * 255,
    ],
)
def test_valid_container_names(name):
    assert validate_container_name(name) is None


RULE = (
    "docker names are 2-255 characters, start with a letter or digit and contain only letters, digits, '_', '.' and '-'"
)


@pytest.mark.parametrize(
    "name, shown",
    [
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
    ],
)
def test_invalid_container_names(name, shown):
    with pytest.raises(InvalidContainerName) as excinfo:
        validate_container_name(name)
    assert str(excinfo.value) == "invalid container name %s: %s" % (shown, RULE)


@pytest.mark.parametrize(
    "name, message",
    [
        (None, "container name must be a string, got NoneType"),
        (["vllm"], "container name must be a string, got list"),
    ],
)
def test_container_name_must_be_a_string(name, message):
    with pytest.raises(InvalidContainerName) as excinfo:
        validate_container_name(name)
    assert str(excinfo.value) == message


RUNNING = {
    "status": "running",
    "health": "none",
    "restart_count": 0,
    "started_at": "2026-11-28T01:30:00.123456Z",
    "oom_killed": False,
    "exit_code": 0,
    "image": "vllm/vllm-openai:latest",
    "message": None,
}


def with_(base, **changes):
    result = dict(base)
    result.update(changes)
    return result


PODMAN_RUNNING = with_(RUNNING, image="docker.io/vllm/vllm-openai:latest")


@pytest.mark.parametrize(
    "stdout, expected",
    [
        (inspect_json(), RUNNING),
        (inspect_json().rstrip("\n"), RUNNING),
        (inspect_json().replace("\n", "\r\n"), RUNNING),
        (json.dumps(json.loads(inspect_json())), RUNNING),
        (inspect_json(health="healthy"), with_(RUNNING, health="healthy")),
        (inspect_json(health="starting"), with_(RUNNING, health="starting")),
        (inspect_json(health="unhealthy"), with_(RUNNING, health="unhealthy")),
        (inspect_json(health=None), RUNNING),
        # A status no engine defines, or a Health that is not an object: unknown, not "none".
        (inspect_json(health="sick"), with_(RUNNING, health=None)),
        (inspect_json(health=[]), with_(RUNNING, health=None)),
        (
            inspect_json(status="restarting", restarts=14, exit_code=1),
            with_(RUNNING, status="restarting", restart_count=14, exit_code=1),
        ),
        (
            inspect_json(status="exited", oom=True, exit_code=137, started="2026-11-28T02:30:00.5+01:00"),
            with_(RUNNING, status="exited", oom_killed=True, exit_code=137, started_at="2026-11-28T01:30:00.500000Z"),
        ),
        # Never started: Go's zero time.
        (
            inspect_json(status="created", started="0001-01-01T00:00:00Z"),
            with_(RUNNING, status="created", started_at=None),
        ),
        (inspect_json(status="dead", started=""), with_(RUNNING, status="dead", started_at=None)),
        (inspect_json(status="paused"), with_(RUNNING, status="paused")),
        (inspect_json(status="removing"), with_(RUNNING, status="removing")),
        (inspect_json(exit_code=-1), with_(RUNNING, exit_code=-1)),
        (inspect_json(restarts=-3), with_(RUNNING, restart_count=None)),
        (inspect_json(RestartCount=ABSENT), with_(RUNNING, restart_count=None)),
        (inspect_json(image=""), with_(RUNNING, image=None)),
        (inspect_json(Config=None), with_(RUNNING, image=None)),
        # State.Error is free text: tabs and newlines become spaces, escapes go.
        (
            inspect_json(
                status="exited",
                exit_code=128,
                error="OCI runtime create failed:\tnvidia-container-cli: initialization error",
            ),
            with_(
                RUNNING,
                status="exited",
                exit_code=128,
                message="OCI runtime create failed: nvidia-container-cli: initialization error",
            ),
        ),
        (inspect_json(error="a\tb\tc\nd\x1b[31me"), with_(RUNNING, message="a b c de")),
        (inspect_json(error="x" * 1000), with_(RUNNING, message="x" * 299 + "\u2026")),
        (
            inspect_json(image="vllm/vllm-openai:v0.11.0\x1b]0;pwn\x07"),
            with_(RUNNING, image="vllm/vllm-openai:v0.11.0"),
        ),
        # podman 4+: State.Health with an empty status when the image has no HEALTHCHECK.
        (inspect_json("podman"), PODMAN_RUNNING),
        (inspect_json("podman", health="healthy"), with_(PODMAN_RUNNING, health="healthy")),
        # podman < 4: State.Healthcheck instead of State.Health.
        (inspect_json("podman", health=ABSENT).replace('"Health"', '"Healthcheck"'), PODMAN_RUNNING),
        (
            inspect_json("podman", health="starting").replace('"Health"', '"Healthcheck"'),
            with_(PODMAN_RUNNING, health="starting"),
        ),
        (inspect_json("podman", status="configured"), with_(PODMAN_RUNNING, status="created")),
        (inspect_json("podman", status="initialized"), with_(PODMAN_RUNNING, status="created")),
        (inspect_json("podman", status="stopped", exit_code=0), with_(PODMAN_RUNNING, status="exited")),
        # podman prints times in the VM's local zone.
        (inspect_json("podman", started="2026-11-28T07:00:00.123456789+05:30"), PODMAN_RUNNING),
        # Only ImageName: the image still shows.
        (inspect_json("podman", Config={"Env": ENV}), PODMAN_RUNNING),
    ],
)
def test_parse_inspect(stdout, expected):
    assert parse_inspect(stdout) == expected


@pytest.mark.parametrize(
    "stdout, message",
    [
        ("", "docker inspect did not print a JSON document (invalid JSON)"),
        ("running none 3\n", "docker inspect did not print a JSON document (invalid JSON)"),
        ("[]\n", "docker inspect printed an array of 0 entries, expected a JSON array of one container object"),
        ("{}", "docker inspect printed a JSON dict, expected a JSON array of one container object"),
        ("null", "docker inspect printed a JSON NoneType, expected a JSON array of one container object"),
        ("[1]", "docker inspect printed an array of 1 entries, expected a JSON array of one container object"),
        ("[{}, {}]", "docker inspect printed an array of 2 entries, expected a JSON array of one container object"),
        (
            '[{"State": {"Status": "running", "OOMKilled": false, "ExitCode": NaN}}]',
            "docker inspect did not print a JSON document (unreadable JSON)",
        ),
        ("[" * 100000 + "]" * 100000, "docker inspect printed JSON nested more than 64 levels deep"),
        # Python refuses integers past 4300 digits with a ValueError of its own.
        ('[{"RestartCount": %s}]' % ("9" * 5000), "docker inspect did not print a JSON document (unreadable JSON)"),
        ('[{"State": "running"}]', "docker inspect: State is not an object"),
        (inspect_json(status="stopping"), "docker inspect: unknown container status 'stopping'"),
        (inspect_json(status="\x1b[2Jrunning"), "docker inspect: unknown container status '\\x1b[2Jrunning'"),
        (inspect_json(status=3), "docker inspect: State.Status is not a string"),
        (inspect_json(oom="false"), "docker inspect: State.OOMKilled is not a boolean: 'false'"),
        (inspect_json(oom=ABSENT), "docker inspect: State.OOMKilled is not a boolean: 'NoneType'"),
        (inspect_json(restarts="many"), "docker inspect: RestartCount is not an integer: 'many'"),
        (inspect_json(restarts=True), "docker inspect: RestartCount is not an integer: 'bool'"),
        (inspect_json(exit_code=1.5), "docker inspect: State.ExitCode is not an integer: 'float'"),
        (inspect_json(exit_code=10**19), "docker inspect: State.ExitCode is not an integer: 'an integer of 20 digits'"),
        (inspect_json(started=12), "docker inspect: State.StartedAt is not a string"),
        (inspect_json(error=["x"]), "docker inspect: State.Error is not a string"),
    ],
)
def test_parse_inspect_rejects(stdout, message):
    with pytest.raises(InvalidInspectOutput) as excinfo:
        parse_inspect(stdout)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    "stdout",
    [
        inspect_json(),
        inspect_json("podman"),
        inspect_json(status="stopping"),
        inspect_json(oom="x"),
        inspect_json(Config={"Env": ENV, "Image": ENV}),
        inspect_json(error=12),
    ],
)
def test_the_environment_never_leaves(stdout):
    """Config.Env is deleted before anything reads the document: neither the section nor an
    error message about the document can carry a token."""
    assert "Env" not in load_inspect_document(stdout).get("Config", {})
    section = container_section("vllm_qwen", 0, stdout, "")
    assert SECRET not in json.dumps(section)
    assert "HUGGING_FACE" not in json.dumps(section)


@pytest.mark.parametrize(
    "rc, stdout, stderr, expected",
    [
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
        (
            1,
            "",
            NO_HEALTH_TEMPLATE_ERROR,
            (
                "error",
                "error",
                'docker failed (exit 1): template parsing error: template: :1:26: executing "" at <.State.Health.Status>: '
                'map has no entry for key "Health"',
            ),
        ),
        (
            1,
            "",
            "\n\nError response from daemon: \x1b[31mboom\x1b[0m\nsecond line\n",
            ("error", "error", "docker failed (exit 1): Error response from daemon: boom"),
        ),
        (2, "", "", ("error", "error", "docker failed (exit 2): no output")),
        (None, "", "", ("error", "error", "docker failed (exit code unknown): no output")),
    ],
)
def test_classify_error(rc, stdout, stderr, expected):
    assert classify_error(rc, stdout, stderr, "vllm_qwen") == expected


def test_classify_error_without_name():
    assert classify_error(1, "", NO_SUCH_CONTAINER) == (
        "missing",
        None,
        "the container does not exist (exit 1); check the container name or start the model",
    )


def test_classify_error_is_bounded():
    status, kind, message = classify_error(1, "", "E" * 10000)
    assert (status, kind, len(message)) == ("error", "error", 300)


@pytest.mark.parametrize(
    "rc, output, expected",
    [
        (
            1,
            LOGS_UNSUPPORTED,
            (
                "unsupported",
                "docker cannot read this container's logs: its logging driver does not support reading (exit 1); "
                "run the container with the json-file, local or journald driver",
            ),
        ),
        (1, NO_SUCH_CONTAINER, ("not_read", MISSING_MESSAGE)),
        (125, PODMAN_MISSING, ("not_read", MISSING_MESSAGE.replace("exit 1", "exit 125"))),
        (1, DAEMON_DOWN, ("not_read", DAEMON_MESSAGE)),
        (1, DAEMON_DOWN_29, ("not_read", DAEMON_MESSAGE)),
        (1, PERMISSION, ("not_read", PERMISSION_MESSAGE)),
        (1, PERMISSION_OLD, ("not_read", PERMISSION_MESSAGE)),
        (1, PERMISSION_29, ("not_read", PERMISSION_MESSAGE)),
        (
            1,
            "unknown flag: --timestamps\nSee 'docker logs --help'.\n",
            ("error", "docker failed (exit 1): unknown flag: --timestamps"),
        ),
    ],
)
def test_classify_logs_error(rc, output, expected):
    assert classify_logs_error(rc, output, "vllm_qwen") == expected


UNKNOWN = {
    "health": None,
    "restart_count": None,
    "started_at": None,
    "oom_killed": None,
    "exit_code": None,
    "image": None,
}


def unknown(status, error_kind, message):
    result = {"name": "vllm_qwen", "status": status, "error_kind": error_kind}
    result.update(UNKNOWN)
    result["message"] = message
    return result


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (
            {"rc": 0, "stdout": inspect_json()},
            {
                "name": "vllm_qwen",
                "status": "running",
                "error_kind": None,
                "health": "none",
                "restart_count": 0,
                "started_at": "2026-11-28T01:30:00.123456Z",
                "oom_killed": False,
                "exit_code": 0,
                "image": "vllm/vllm-openai:latest",
                "message": None,
            },
        ),
        ({"rc": 1, "stderr": NO_SUCH_CONTAINER}, unknown("missing", None, MISSING_MESSAGE)),
        ({"rc": 1, "stderr": DAEMON_DOWN}, unknown("error", "daemon_down", DAEMON_MESSAGE)),
        ({"rc": 1, "stderr": PERMISSION}, unknown("error", "permission_denied", PERMISSION_MESSAGE)),
        (
            {"rc": None, "not_found": True, "binary": "/usr/bin/docker"},
            unknown(
                "error",
                "not_installed",
                "docker CLI not found (looked for /usr/bin/docker); install docker or set docker_path",
            ),
        ),
        (
            {"rc": None, "timed_out": True, "stdout": inspect_json()},
            unknown(
                "error",
                "timeout",
                "docker container inspect did not answer in time; the Docker daemon may be hung (check systemctl status docker)",
            ),
        ),
        (
            {"rc": 0, "stdout": "garbage\n"},
            unknown("error", "error", "docker inspect did not print a JSON document (invalid JSON)"),
        ),
        (
            {"rc": 125, "stderr": PODMAN_MISSING},
            unknown("missing", None, MISSING_MESSAGE.replace("exit 1", "exit 125")),
        ),
    ],
)
def test_container_section(kwargs, expected):
    arguments = {"name": "vllm_qwen", "stdout": "", "stderr": ""}
    arguments.update(kwargs)
    section = container_section(**arguments)
    assert section == expected
    assert list(section) == [
        "name",
        "status",
        "error_kind",
        "health",
        "restart_count",
        "started_at",
        "oom_killed",
        "exit_code",
        "image",
        "message",
    ]
