# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker / podman CLI: the ``container inspect`` and ``logs`` commands, the inspect template's
output, and the CLI's error texts, turned into the ``container`` section of node_info schema v1.

Format facts: docs/dev/formats.md section 5 (docker CLI 28.2.2, moby and libpod sources). The
inspect template guards ``.State.Health``, which is absent without a HEALTHCHECK and would
otherwise fail the whole command. Docker 29 reworded the connection errors ("... to the docker
API at ..."); both wordings are recognised.

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import byte_size, clean_text
from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import (
    format_utc,
    parse_rfc3339,
)

# TAB-separated; State.Error goes last because it is free text that may hold tabs or newlines.
INSPECT_TEMPLATE = (
    "{{.State.Status}}"
    "\t{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}"
    "\t{{.RestartCount}}"
    "\t{{.State.OOMKilled}}"
    "\t{{.State.StartedAt}}"
    "\t{{.State.ExitCode}}"
    "\t{{.Config.Image}}"
    "\t{{.State.Error}}"
)
_INSPECT_FIELD_COUNT = 8

# docker's own rule (daemon/names: validContainerNamePattern).
_CONTAINER_NAME_RE = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_CONTAINER_NAME_MAX = 255

# moby api/types/container/state.go, plus podman's extra states mapped onto docker's.
_STATUSES = frozenset(("created", "running", "paused", "restarting", "removing", "exited", "dead"))
_PODMAN_STATUSES = {"configured": "created", "initialized": "created", "stopped": "exited"}
_HEALTH_STATUSES = frozenset(("none", "starting", "healthy", "unhealthy"))

_MISSING_RE = re.compile(
    r"No such container|No such object|no container with (?:name or ID|ID or name)",
    re.IGNORECASE,
)
# Older CLIs: "Got permission denied while trying to connect to the Docker daemon socket";
# docker 29: "permission denied while trying to connect to the docker API at ...".
_PERMISSION_RE = re.compile(
    r"permission denied while trying to connect to the docker (?:daemon socket|API)",
    re.IGNORECASE,
)
# docker <= 28: "Cannot connect to the Docker daemon at ..."; docker 29: "failed to connect to
# the docker API at ...; check if the path is correct and if the daemon is running".
_DAEMON_DOWN_RE = re.compile(
    r"Cannot connect to the Docker daemon|failed to connect to the docker API", re.IGNORECASE
)
_LOGS_UNSUPPORTED = "configured logging driver does not support reading"

_QUOTE_LIMIT = 160
_MESSAGE_LIMIT = 300


class InvalidContainerName(ValueError):
    """A container name that must not reach the command line."""


class InvalidInspectOutput(ValueError):
    """Output of ``container inspect --format INSPECT_TEMPLATE`` that does not fit it."""


def validate_container_name(name: str) -> None:
    """Reject anything docker would not accept as a container name, before anything runs
    (so no option such as ``-rm`` and no shell syntax can reach the command line)."""
    if not isinstance(name, str):
        raise InvalidContainerName(
            "container name must be a string, got %s" % type(name).__name__
        )
    if len(name) > _CONTAINER_NAME_MAX or not _CONTAINER_NAME_RE.fullmatch(name):
        raise InvalidContainerName(
            "invalid container name %r: docker names are 2-255 characters, start with a "
            "letter or digit and contain only letters, digits, '_', '.' and '-'" % (name[:80],)
        )


def inspect_command(binary: str, name: str) -> List[str]:
    return [binary, "container", "inspect", "--format", INSPECT_TEMPLATE, name]


def logs_command(binary: str, name: str, lines: int) -> List[str]:
    return [binary, "logs", "--timestamps", "--tail", str(lines), name]


def _quote(text: str) -> str:
    return repr(clean_text(text, _QUOTE_LIMIT))


def _int_field(label: str, text: str) -> int:
    # Bounded: docker's counts and codes are small, and int() of a string over 4300 digits raises
    # ValueError (Python >= 3.11) where this must raise InvalidInspectOutput.
    if not re.fullmatch(r"-?\d{1,18}", text):
        raise InvalidInspectOutput(
            "docker inspect: %s is not an integer: %s" % (label, _quote(text))
        )
    return int(text)


def parse_inspect(stdout: str) -> Dict[str, Any]:
    """The fields of INSPECT_TEMPLATE as schema values.

    Raises InvalidInspectOutput when the output does not have the template's shape or holds
    a status docker does not define."""
    fields = stdout.rstrip("\r\n").split("\t", _INSPECT_FIELD_COUNT - 1)
    if len(fields) != _INSPECT_FIELD_COUNT:
        raise InvalidInspectOutput(
            "docker inspect printed %d fields, expected %d: %s"
            % (len(fields), _INSPECT_FIELD_COUNT, _quote(stdout))
        )
    status_text, health, restarts, oom_killed, started_at, exit_code, image, error = fields
    status = _PODMAN_STATUSES.get(status_text, status_text)
    if status not in _STATUSES:
        # repr, not clean_text: a status that only looks like a known one must show why not.
        raise InvalidInspectOutput(
            "docker inspect: unknown container status %r" % (status_text[:_QUOTE_LIMIT],)
        )
    if oom_killed not in ("true", "false"):
        raise InvalidInspectOutput(
            "docker inspect: OOMKilled is not a boolean: %s" % _quote(oom_killed)
        )
    return {
        "status": status,
        # Podman < 4 has no .State.Health; an unexpected value is unknown, not "none".
        "health": health if health in _HEALTH_STATUSES else None,
        # A negative count cannot be true: unknown, not a number to compare with thresholds.
        "restart_count": _int_field("RestartCount", restarts) if not restarts.startswith("-") else None,
        "started_at": format_utc(parse_rfc3339(started_at)),
        "oom_killed": oom_killed == "true",
        "exit_code": _int_field("ExitCode", exit_code),
        "image": clean_text(image) or None,
        "message": clean_text(error) or None,
    }


def _lines(*texts: str) -> List[str]:
    return [line.strip() for text in texts for line in text.splitlines() if line.strip()]


def _exit_note(rc: Optional[int]) -> str:
    return "exit %d" % rc if rc is not None else "exit code unknown"


def _bounded(message: str) -> str:
    return clean_text(message, _MESSAGE_LIMIT) or ""


def classify_error(
    rc: Optional[int], stdout: str, stderr: str, name: Optional[str] = None
) -> Tuple[str, Optional[str], str]:
    """(status, error_kind, message) for a failed docker/podman CLI run.

    status is "missing" (error_kind None) when the container does not exist, else "error"
    with error_kind daemon_down, permission_denied or error."""
    lines = _lines(stderr, stdout)
    text = "\n".join(lines)
    note = _exit_note(rc)
    if _PERMISSION_RE.search(text):
        return "error", "permission_denied", _bounded(
            "permission denied on the Docker daemon socket (%s); add the SSH user to the docker "
            "group (sudo usermod -aG docker USER, then reconnect) or run the module with become"
            % note
        )
    if _DAEMON_DOWN_RE.search(text):
        return "error", "daemon_down", _bounded(
            "cannot connect to the Docker daemon (%s); start it (sudo systemctl start docker) "
            "and check it with docker info" % note
        )
    if _MISSING_RE.search(text):
        subject = "container %s" % name if name else "the container"
        return "missing", None, _bounded(
            "%s does not exist (%s); check the container name or start the model" % (subject, note)
        )
    first = lines[0] if lines else "no output"
    return "error", "error", _bounded("docker failed (%s): %s" % (note, first))


def classify_logs_error(
    rc: Optional[int], output: str, name: Optional[str] = None
) -> Tuple[str, str]:
    """(log_status, message) for a failed ``docker logs`` (stderr merged into OUTPUT).

    log_status: unsupported (the logging driver cannot be read back), not_read (container
    missing, daemon down, permission denied) or error."""
    if _LOGS_UNSUPPORTED in output:
        return "unsupported", _bounded(
            "docker cannot read this container's logs: its logging driver does not support "
            "reading (%s); run the container with the json-file, local or journald driver"
            % _exit_note(rc)
        )
    status, error_kind, message = classify_error(rc, output, "", name)
    if status == "missing" or error_kind in ("daemon_down", "permission_denied"):
        return "not_read", message
    return "error", message


def _unknown_state(
    name: str, status: str, error_kind: Optional[str], message: str
) -> Dict[str, Any]:
    """A container section whose state could not be read: every state value unknown."""
    return {
        "name": name,
        "status": status,
        "error_kind": error_kind,
        "health": None,
        "restart_count": None,
        "started_at": None,
        "oom_killed": None,
        "exit_code": None,
        "image": None,
        "message": message,
    }


def container_section(
    name: str,
    rc: Optional[int],
    stdout: str,
    stderr: str,
    timed_out: bool = False,
    not_found: bool = False,
    binary: str = "docker",
    not_executable: bool = False,
    stopped_at: Optional[int] = None,
) -> Dict[str, Any]:
    """The ``container`` dict of schema v1 from one ``inspect_command`` run. STOPPED_AT is the
    byte cap when reading stopped there (the command was killed, its exit status is the kill's)."""
    if not_found:
        return _unknown_state(name, "error", "not_installed", _bounded(
            "docker CLI not found (looked for %s); install docker or set docker_path" % binary
        ))
    if not_executable:
        return _unknown_state(name, "error", "error", _bounded(
            "docker CLI at %s is not executable (%s); make it executable or set docker_path"
            % (binary, clean_text(stderr, _QUOTE_LIMIT) or "permission denied")
        ))
    if timed_out:
        return _unknown_state(name, "error", "timeout", _bounded(
            "docker container inspect did not answer in time; the Docker daemon may be hung "
            "(check systemctl status docker)"
        ))
    if stopped_at is not None:
        return _unknown_state(name, "error", "error", _bounded(
            "docker container inspect printed more than %s; stopped reading it (its answer is one "
            "short line: check that %s is the docker CLI)" % (byte_size(stopped_at), binary)
        ))
    if rc != 0:
        status, error_kind, message = classify_error(rc, stdout, stderr, name)
        return _unknown_state(name, status, error_kind, message)
    try:
        state = parse_inspect(stdout)
    except InvalidInspectOutput as exc:
        return _unknown_state(name, "error", "error", _bounded(str(exc)))
    section: Dict[str, Any] = {"name": name, "status": state["status"], "error_kind": None}
    section.update(state)
    return section
