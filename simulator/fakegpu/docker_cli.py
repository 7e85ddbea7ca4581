# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the ``docker`` CLI, and for ``podman`` on a host made with ``--engine podman``:
``[container] inspect`` and ``[container] logs``.

docker texts are docker CLI 28.2.2 / moby; every error goes to stderr with exit status 1.
podman texts are libpod's: a missing container is exit status 125. ``logs`` writes each entry
to the stream the container wrote it on, stamped when ``--timestamps`` is given: docker's
RFC3339NanoFixed in UTC, podman's RFC3339Nano in the local zone (``TZ``). ``inspect --format``
(a Go template) is not simulated: the module reads the JSON document.
"""

from __future__ import annotations

from fakegpu.output import Output

DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
PERMISSION_DENIED = (
    "permission denied while trying to connect to the Docker daemon socket at "
    'unix:///var/run/docker.sock: Get "http://%%2Fvar%%2Frun%%2Fdocker.sock/v1.50/containers/'
    '%s/json": dial unix /var/run/docker.sock: connect: permission denied\n'
)
NO_SUCH_CONTAINER = "Error response from daemon: No such container: %s\n"
NO_SUCH_OBJECT = "Error: No such object: %s\n"
PODMAN_NO_SUCH_CONTAINER = 'Error: no container with name or ID "%s" found: no such container\n'
EXIT_PODMAN_ERROR = 125
FORMAT_NOT_SIMULATED = (
    "fakegpu: %s inspect --format is not simulated (no Go template engine); read the JSON document without --format\n"
)
EXIT_SIMULATOR_ERROR = 2
LOGS_UNSUPPORTED = "Error response from daemon: configured logging driver does not support reading\n"
CLIENT_VERSION = "Docker version 28.2.2, build e6534b4\n"
PODMAN_VERSION = "podman version 4.9.3\n"
HANG_SECONDS = 3600
EXIT_USAGE = 125  # cobra flag errors

_GLOBAL_FLAGS_WITH_VALUE = ("-H", "--host", "-c", "--context", "--config", "-l", "--log-level")


class UsageError(Exception):
    """A command line docker rejects before asking the daemon; carries the exit status."""

    def __init__(self, message: str, status: int = EXIT_USAGE):
        super().__init__(message)
        self.status = status


def _split_options(argv, command: str, with_value, switches):
    """Cobra-style parsing: flags anywhere, ``--flag=value``, ``--flag value`` and ``-nVALUE``."""
    values, positional = {}, []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            positional.extend(args)
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, has_value, value = arg.partition("=")
        if name not in with_value and not has_value and len(arg) > 2 and arg[1] != "-" and arg[:2] in with_value:
            name, has_value, value = arg[:2], True, arg[2:]
        if name in with_value:
            if not has_value:
                if not args:
                    raise UsageError("flag needs an argument: %s\nSee 'docker %s --help'.\n" % (name, command))
                value = args.pop(0)
            values[with_value[name]] = value
        elif name in switches:
            values[switches[name]] = True
        else:
            raise UsageError("unknown flag: %s\nSee 'docker %s --help'.\n" % (name, command))
    return values, positional


def _daemon_error(host, name: str, out: Output):
    """The answer when the daemon cannot be asked, else None."""
    fault = host.docker_fault
    if fault == "hang":
        out.hang(HANG_SECONDS)
        return out
    if fault == "daemon_down":
        return out.finish(1, stderr=DAEMON_DOWN)
    if fault == "permission_denied":
        # The CLI's first request is GET /containers/<name>/json (docs/dev/formats.md 5).
        return out.finish(1, stderr=PERMISSION_DENIED % name)
    return None


def _missing(host, name: str, out: Output, plain: bool = False) -> None:
    """The CLI's answer for a container that does not exist (stderr and status)."""
    if host.engine == "podman":
        out.stderr(PODMAN_NO_SUCH_CONTAINER % name)
        out.status = EXIT_PODMAN_ERROR
    else:
        out.stderr((NO_SUCH_OBJECT if plain else NO_SUCH_CONTAINER) % name)
        out.status = 1


def _exists(host, name: str) -> bool:
    return host.container_exists and name in (host.container, "/" + host.container)


def inspect(host, argv, plain: bool) -> Output:
    """``docker inspect`` (PLAIN) or ``docker container inspect``: the JSON array."""
    # Imported here, not at the top: ``docker logs`` calls need neither.
    import json

    from fakegpu.runs import inspect_document, podman_inspect_document

    out = Output()
    command = "inspect" if plain else "container inspect"
    values, names = _split_options(
        argv, command, {"-f": "format", "--format": "format", "--type": "type"}, {"-s": "size", "--size": "size"}
    )
    if not names:
        raise UsageError(
            "\"docker %s\" requires at least 1 argument.\nSee 'docker %s --help'.\n" % (command, command), status=1
        )
    if values.get("format"):
        return out.finish(EXIT_SIMULATOR_ERROR, stderr=FORMAT_NOT_SIMULATED % host.engine)
    failed = _daemon_error(host, names[0], out)
    if failed is not None:
        return failed
    document = podman_inspect_document if host.engine == "podman" else inspect_document
    found = []
    for name in names:
        if _exists(host, name):
            found.append(document(host))
        else:
            _missing(host, name, out, plain)
    if found or plain:
        out.chunks.insert(0, (1, json.dumps(found, indent=4, ensure_ascii=False) + "\n"))
    return out


def logs(host, argv) -> Output:
    """``docker logs [-t] [-n N|--tail N] [--since X] [--until X] NAME``."""
    out = Output()
    values, names = _split_options(
        argv,
        "logs",
        {"-n": "tail", "--tail": "tail", "--since": "since", "--until": "until"},
        {
            "-t": "timestamps",
            "--timestamps": "timestamps",
            "-f": "follow",
            "--follow": "follow",
            "--details": "details",
        },
    )
    if len(names) != 1:
        raise UsageError("\"docker logs\" requires exactly 1 argument.\nSee 'docker logs --help'.\n", status=1)
    name = names[0]
    failed = _daemon_error(host, name, out)
    if failed is not None:
        return failed
    if not _exists(host, name):
        _missing(host, name, out)
        return out
    if not host.logs_readable:
        return out.finish(1, stderr=LOGS_UNSUPPORTED)
    # Imported here, not at the top: ``docker inspect`` calls need neither.
    from fakegpu import logs as container_logs
    from fakegpu.runs import local_time, rfc3339
    from fakegpu.timeparse import parse_time

    tail = values.get("tail", "all")
    try:
        tail = int(tail)
    except ValueError:
        tail = -1  # moby: a tail value that is not a number means all lines
    bounds = {}
    for key in ("since", "until"):
        if key in values:
            bounds[key] = parse_time(values[key], host.now)
            if bounds[key] is None:
                return out.finish(1, stderr='failed to parse value as time or duration: "%s"\n' % values[key])
    selected = container_logs.entries(host, tail if tail >= 0 else None, bounds.get("since"), bounds.get("until"))
    stamps = values.get("timestamps", False)
    podman = host.engine == "podman"
    for entry in selected:
        if stamps:
            stamp = local_time(rfc3339(entry.ns)) if podman else rfc3339(entry.ns)
            text = stamp + " " + entry.text
        else:
            text = entry.text
        if entry.stream == "stderr":
            out.stderr(text + "\n")
        else:
            out.stdout(text + "\n")
    return out


def answer(host, argv) -> Output:
    """What ``docker ARGV`` prints on HOST, and its exit status."""
    args = list(argv)
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("-v", "--version"):
            return Output().finish(0, stdout=PODMAN_VERSION if host.engine == "podman" else CLIENT_VERSION)
        if flag in _GLOBAL_FLAGS_WITH_VALUE and args:
            args.pop(0)
    if args[:1] == ["container"]:
        args = args[1:]
        if args[:1] == ["inspect"]:
            return _guarded(inspect, host, args[1:], False)
    elif args[:1] == ["inspect"]:
        return _guarded(inspect, host, args[1:], True)
    if args[:1] == ["logs"]:
        return _guarded(logs, host, args[1:])
    shown = " ".join(argv) if argv else ""
    return Output().finish(
        1, stderr="docker: unknown command: docker %s\n\nRun 'docker --help' for more information\n" % shown
    )


def _guarded(command, host, *args) -> Output:
    try:
        return command(host, *args)
    except UsageError as exc:
        return Output().finish(exc.status, stderr=str(exc))
