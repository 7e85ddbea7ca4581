# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker / podman CLI: the ``container inspect`` and ``logs`` commands, the inspect JSON, and
the CLI's error texts, turned into the ``container`` section of node_info schema v1.

Format facts: docs/dev/formats.md section 5 (docker CLI 28.2.2, moby and libpod sources).
``State.Health`` is absent without a HEALTHCHECK; podman < 4 calls it ``State.Healthcheck``.
``Config.Env`` is deleted from the parsed document before anything else reads it: it holds the
container's environment, API tokens included, and must never reach a result or a log. Docker
29 reworded the connection errors ("... to the docker API at ..."); both wordings are
recognised.

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import byte_size, clean_text
from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import (
    format_utc,
    parse_rfc3339,
)

# docker and podman both print ``container inspect`` as a JSON array of one object per name.
# Read as JSON rather than through a Go template, so that no template engine has to be
# emulated and a missing ``State.Health`` (no HEALTHCHECK) is just an absent key. Nesting is
# bounded before json.loads: a hostile document must not exhaust the recursion limit.
_INSPECT_MAX_DEPTH = 64

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
_DAEMON_DOWN_RE = re.compile(r"Cannot connect to the Docker daemon|failed to connect to the docker API", re.IGNORECASE)
_LOGS_UNSUPPORTED = "configured logging driver does not support reading"

_QUOTE_LIMIT = 160
_MESSAGE_LIMIT = 300


class InvalidContainerName(ValueError):
    """A container name that must not reach the command line."""


class InvalidInspectOutput(ValueError):
    """Output of ``container inspect`` that is not the JSON document docker or podman prints."""


def validate_container_name(name: str) -> None:
    """Reject anything docker would not accept as a container name, before anything runs
    (so no option such as ``-rm`` and no shell syntax can reach the command line)."""
    if not isinstance(name, str):
        raise InvalidContainerName("container name must be a string, got %s" % type(name).__name__)
    if len(name) > _CONTAINER_NAME_MAX or not _CONTAINER_NAME_RE.fullmatch(name):
        raise InvalidContainerName(
            "invalid container name %r: docker names are 2-255 characters, start with a "
            "letter or digit and contain only letters, digits, '_', '.' and '-'" % (name[:80],)
        )


def inspect_command(binary: str, name: str) -> List[str]:
    return [binary, "container", "inspect", name]


def logs_command(binary: str, name: str, lines: int) -> List[str]:
    return [binary, "logs", "--timestamps", "--tail", str(lines), name]


def _quote(text: str) -> str:
    return repr(clean_text(text, _QUOTE_LIMIT))


def _int_field(label: str, value: Any) -> Optional[int]:
    """An integer field; None when the document leaves it out (unknown, never 0)."""
    if value is None:
        return None
    # Bounded: docker's counts and codes are small, and a JSON integer of thousands of digits
    # must not become a number that later arithmetic or comparisons choke on.
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 10**18:
        raise InvalidInspectOutput("docker inspect: %s is not an integer: %s" % (label, _quote(_shown(value))))
    return value


def _shown(value: Any) -> str:
    """What a wrong value is, never the value itself beyond a short string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return "an integer of %d digits" % len(str(abs(value)))
    return value[:_QUOTE_LIMIT] if isinstance(value, str) else type(value).__name__


def _nesting_depth(text: str) -> int:
    """Deepest bracket nesting of TEXT outside JSON strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _reject_constant(name: str) -> None:
    raise ValueError("%s is not JSON" % name)


def load_inspect_document(stdout: str) -> Dict[str, Any]:
    """The one container object of ``container inspect`` output, with ``Config.Env`` already
    deleted. Raises InvalidInspectOutput (its message never quotes the document: it may hold
    secrets) when the output is not a JSON array holding exactly one object."""
    if _nesting_depth(stdout) > _INSPECT_MAX_DEPTH:
        raise InvalidInspectOutput("docker inspect printed JSON nested more than %d levels deep" % _INSPECT_MAX_DEPTH)
    try:
        document = json.loads(stdout, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and Python's limit on an integer's digits.
        reason = "invalid JSON" if isinstance(exc, json.JSONDecodeError) else "unreadable JSON"
        raise InvalidInspectOutput("docker inspect did not print a JSON document (%s)" % reason) from None
    if not isinstance(document, list) or len(document) != 1 or not isinstance(document[0], dict):
        count = len(document) if isinstance(document, list) else None
        raise InvalidInspectOutput(
            "docker inspect printed %s, expected a JSON array of one container object"
            % ("a JSON %s" % type(document).__name__ if count is None else "an array of %d entries" % count)
        )
    container = document[0]
    config = container.get("Config")
    if isinstance(config, dict):
        config.pop("Env", None)
    return container


def _mapping(container: Dict[str, Any], key: str) -> Dict[str, Any]:
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInspectOutput("docker inspect: %s is not an object" % key)
    return value


def _string(label: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInspectOutput("docker inspect: %s is not a string" % label)
    return value


def _health(state: Dict[str, Any]) -> Optional[str]:
    """State.Health.Status; "none" when the image has no HEALTHCHECK; None when unknown. Podman
    before 4 reports the same under State.Healthcheck."""
    health = state.get("Health", state.get("Healthcheck"))
    if health is None:
        return "none"
    status = health.get("Status") if isinstance(health, dict) else None
    # Podman reports "" for a container without a HEALTHCHECK.
    if status == "":
        return "none"
    return status if status in _HEALTH_STATUSES else None


def parse_inspect(stdout: str) -> Dict[str, Any]:
    """The container's state from ``container inspect`` JSON (docker's or podman's shape), as
    schema values.

    Raises InvalidInspectOutput when the output is not such a document or holds a status
    docker does not define."""
    container = load_inspect_document(stdout)
    state = _mapping(container, "State")
    config = _mapping(container, "Config")
    status_text = _string("State.Status", state.get("Status"))
    status = _PODMAN_STATUSES.get(status_text, status_text)
    if status not in _STATUSES:
        # repr, not clean_text: a status that only looks like a known one must show why not.
        raise InvalidInspectOutput("docker inspect: unknown container status %r" % (status_text[:_QUOTE_LIMIT],))
    oom_killed = state.get("OOMKilled")
    if not isinstance(oom_killed, bool):
        raise InvalidInspectOutput("docker inspect: State.OOMKilled is not a boolean: %s" % _quote(_shown(oom_killed)))
    restarts = _int_field("RestartCount", container.get("RestartCount"))
    # Podman names the image the container was created from ImageName; Config.Image is docker's.
    image = _string("Config.Image", config.get("Image")) or _string("ImageName", container.get("ImageName"))
    return {
        "status": status,
        "health": _health(state),
        # A negative count cannot be true: unknown, not a number to compare with thresholds.
        "restart_count": restarts if restarts is not None and restarts >= 0 else None,
        "started_at": format_utc(parse_rfc3339(_string("State.StartedAt", state.get("StartedAt")))),
        "oom_killed": oom_killed,
        "exit_code": _int_field("State.ExitCode", state.get("ExitCode")),
        "image": clean_text(image) or None,
        "message": clean_text(_string("State.Error", state.get("Error"))) or None,
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
        return (
            "error",
            "permission_denied",
            _bounded(
                "permission denied on the Docker daemon socket (%s); add the SSH user to the docker "
                "group (sudo usermod -aG docker USER, then reconnect) or run the module with become" % note
            ),
        )
    if _DAEMON_DOWN_RE.search(text):
        return (
            "error",
            "daemon_down",
            _bounded(
                "cannot connect to the Docker daemon (%s); start it (sudo systemctl start docker) "
                "and check it with docker info" % note
            ),
        )
    if _MISSING_RE.search(text):
        subject = "container %s" % name if name else "the container"
        return (
            "missing",
            None,
            _bounded("%s does not exist (%s); check the container name or start the model" % (subject, note)),
        )
    first = lines[0] if lines else "no output"
    return "error", "error", _bounded("docker failed (%s): %s" % (note, first))


def classify_logs_error(rc: Optional[int], output: str, name: Optional[str] = None) -> Tuple[str, str]:
    """(log_status, message) for a failed ``docker logs`` (stderr merged into OUTPUT).

    log_status: unsupported (the logging driver cannot be read back), not_read (container
    missing, daemon down, permission denied) or error."""
    if _LOGS_UNSUPPORTED in output:
        return "unsupported", _bounded(
            "docker cannot read this container's logs: its logging driver does not support "
            "reading (%s); run the container with the json-file, local or journald driver" % _exit_note(rc)
        )
    status, error_kind, message = classify_error(rc, output, "", name)
    if status == "missing" or error_kind in ("daemon_down", "permission_denied"):
        return "not_read", message
    return "error", message


def _unknown_state(name: str, status: str, error_kind: Optional[str], message: str) -> Dict[str, Any]:
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
        return _unknown_state(
            name,
            "error",
            "not_installed",
            _bounded("docker CLI not found (looked for %s); install docker or set docker_path" % binary),
        )
    if not_executable:
        return _unknown_state(
            name,
            "error",
            "error",
            _bounded(
                "docker CLI at %s is not executable (%s); make it executable or set docker_path"
                % (binary, clean_text(stderr, _QUOTE_LIMIT) or "permission denied")
            ),
        )
    if timed_out:
        return _unknown_state(
            name,
            "error",
            "timeout",
            _bounded(
                "docker container inspect did not answer in time; the Docker daemon may be hung "
                "(check systemctl status docker)"
            ),
        )
    if stopped_at is not None:
        return _unknown_state(
            name,
            "error",
            "error",
            _bounded(
                "docker container inspect printed more than %s; stopped reading it (its answer is one "
                "container's JSON document of a few KiB: check that %s is the docker CLI)"
                % (byte_size(stopped_at), binary)
            ),
        )
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
