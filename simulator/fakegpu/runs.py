# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runs of a simulated container (earliest first) and its ``docker inspect`` and
``podman container inspect`` documents.

Runs come from three places: the scenario's earlier runs (a restart loop), the runs ended by
``fakegpu set DIR restart`` (state.json ``previous_runs``) and the current run. Times are epoch
seconds; docker prints them as RFC 3339 with nanoseconds.
"""

from __future__ import annotations

import calendar
import time

from fakegpu.hoststate import scenario_named
from fakegpu.vllm_runs import MODEL, PORT

ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, as docker prints "never"
CONTAINER_ID = "3f9c1a7e5b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
IMAGE_ID = "sha256:9d2b7c4e1f3a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c"
HOST_PID = 48211
# hypr passes [vllm] extra_docker_env to the container: Config.Env may hold secrets. This fake
# token lets the tests check that no output of the collection ever carries it.
SECRET_ENV = "HUGGING_FACE_HUB_TOKEN=hf_fakegpuSecretTokenNeverShown0123456789"


class Run:
    """One start of the container: what it logs (``build``) and when it started and ended."""

    def __init__(self, scenario, build, started, finished):
        self.scenario = scenario
        self.build = build
        self.started = started
        self.finished = finished  # None while it runs


def epoch_to_ns(epoch: float) -> int:
    """Whole nanoseconds; via microseconds, which a float epoch still holds exactly."""
    return int(round(epoch * 1e6)) * 1000


def rfc3339(ns: int, fixed: bool = True) -> str:
    """``fixed``: docker logs' RFC3339NanoFixed (9 digits); else Go's RFC3339Nano, which trims
    trailing zeros (how inspect prints times)."""
    seconds, fraction = divmod(ns, 10**9)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = "%09d" % fraction
    if not fixed:
        digits = digits.rstrip("0")
    return text + ("." + digits if digits else "") + "Z"


def runs(host) -> list:
    """Every run of the container, earliest first; the last one is the current run."""
    scenario = host.scenario
    previous = []
    for entry in host.previous_runs:
        ran = scenario_named(entry["scenario"])
        finished = float(entry["finished_epoch"])
        if ran.exit_at is not None:
            finished = min(finished, float(entry["started_epoch"]) + ran.exit_at)
        previous.append(Run(ran, ran.run, float(entry["started_epoch"]), finished))
    anchor = previous[0].started if previous else host.started_epoch
    earlier = [
        Run(scenario, build, anchor + offset, anchor + offset + lasted)
        for offset, build, lasted in scenario.earlier_runs
    ]
    current = Run(scenario, scenario.run, host.started_epoch, None)
    if scenario.exit_at is not None and host.elapsed >= scenario.exit_at:
        current.finished = host.started_epoch + scenario.exit_at
    return earlier + previous + [current]


def _health(host, started: float) -> dict:
    """A HEALTHCHECK ``curl -f http://localhost:11434/health`` every 30 s: failing until the
    server is up (uvicorn ready at ~55 s), which keeps the status ``starting``."""
    checks = []
    at = started + 30.0
    while at <= host.now:
        checks.append(at)
        at += 30.0
    log = []
    for at in checks[-5:]:
        ready = at - started >= 60.0
        log.append(
            {
                "Start": rfc3339(epoch_to_ns(at), fixed=False),
                "End": rfc3339(epoch_to_ns(at + 0.021), fixed=False),
                "ExitCode": 0 if ready else 7,
                "Output": ""
                if ready
                else "curl: (7) Failed to connect to localhost port %d after 0 ms: Couldn't connect to server\n" % PORT,
            }
        )
    healthy = bool(log) and log[-1]["ExitCode"] == 0
    return {"Status": "healthy" if healthy else "starting", "FailingStreak": 0, "Log": log}


def inspect_document(host) -> dict:
    """The container as ``docker inspect`` returns it (moby InspectResponse, field order kept;
    ``State.Health`` present only with a HEALTHCHECK)."""
    scenario = host.scenario
    all_runs = runs(host)
    current = all_runs[-1]
    earlier_finish = [run.finished for run in all_runs[:-1]]
    if scenario.start_error:
        state = {
            "Status": "created",
            "Running": False,
            "Pid": 0,
            "ExitCode": 128,
            "Error": scenario.start_error,
            "StartedAt": ZERO_TIME,
            "FinishedAt": ZERO_TIME,
        }
    elif current.finished is not None:
        state = {
            "Status": "exited",
            "Running": False,
            "Pid": 0,
            "ExitCode": scenario.exit_code,
            "Error": "",
            "StartedAt": rfc3339(epoch_to_ns(current.started), fixed=False),
            "FinishedAt": rfc3339(epoch_to_ns(current.finished), fixed=False),
        }
    else:
        state = {
            "Status": "running",
            "Running": True,
            "Pid": HOST_PID,
            "ExitCode": 0,
            "Error": "",
            "StartedAt": rfc3339(epoch_to_ns(current.started), fixed=False),
            "FinishedAt": rfc3339(epoch_to_ns(earlier_finish[-1]), fixed=False) if earlier_finish else ZERO_TIME,
        }
    ordered_state = {
        "Status": state["Status"],
        "Running": state["Running"],
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": state["Pid"],
        "ExitCode": state["ExitCode"],
        "Error": state["Error"],
        "StartedAt": state["StartedAt"],
        "FinishedAt": state["FinishedAt"],
    }
    if scenario.healthcheck:
        ordered_state["Health"] = _health(host, current.started)
    config = {
        "Hostname": "hyperstack",
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", SECRET_ENV],
        "Cmd": ["--model", MODEL, "--host", "0.0.0.0", "--port", str(PORT)],
        "Image": scenario.image,
        "Entrypoint": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
        "Labels": {},
    }
    if scenario.healthcheck:
        config["Healthcheck"] = {
            "Test": ["CMD-SHELL", "curl -f http://localhost:%d/health || exit 1" % PORT],
            "Interval": 30000000000,
            "Timeout": 5000000000,
            "Retries": 3,
        }
    return {
        "Id": CONTAINER_ID,
        "Created": rfc3339(epoch_to_ns(all_runs[0].started - 0.8), fixed=False),
        "Path": "python3",
        "Args": [
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            MODEL,
            "--host",
            "0.0.0.0",
            "--port",
            str(PORT),
        ],
        "State": ordered_state,
        "Image": IMAGE_ID,
        "LogPath": "/var/lib/docker/containers/%s/%s-json.log" % (CONTAINER_ID, CONTAINER_ID),
        "Name": "/" + host.container,
        "RestartCount": host.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "HostConfig": {
            "LogConfig": {"Type": "json-file" if host.logs_readable else "none", "Config": {}},
            "NetworkMode": "host",
            "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0},
            "IpcMode": "host",
        },
        "Mounts": [],
        "Config": config,
    }


def local_time(text: str) -> str:
    """A docker UTC time (``...Z``) as Go's RFC3339Nano in the local zone (``TZ``), how podman
    prints times; Go's zero time stays as it is."""
    if text == ZERO_TIME:
        return text
    whole, _dot, fraction = text[:-1].partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    local = time.localtime(seconds)
    offset = local.tm_gmtoff or 0
    zone = (
        "Z"
        if offset == 0
        else "%s%02d:%02d" % ("+" if offset > 0 else "-", abs(offset) // 3600, abs(offset) % 3600 // 60)
    )
    digits = fraction.rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + ("." + digits if digits else "") + zone


def podman_inspect_document(host) -> dict:
    """The container as ``podman container inspect`` returns it (libpod's InspectContainerData,
    abridged): name without "/", times in the local zone, ``configured`` for a container that
    never started, ``ImageName``, and ``State.Health`` with an empty status when the image has
    no HEALTHCHECK."""
    docker = inspect_document(host)
    state = docker["State"]
    status = {"created": "configured"}.get(state["Status"], state["Status"])
    health = state.get("Health") or {"Status": "", "FailingStreak": 0, "Log": None}
    config = dict(docker["Config"])
    config["Image"] = "docker.io/" + config["Image"]
    return {
        "Id": docker["Id"],
        "Created": local_time(docker["Created"]),
        "Path": docker["Path"],
        "Args": docker["Args"],
        "State": {
            "OciVersion": "1.1.0+dev",
            "Status": status,
            "Running": state["Running"],
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": state["Pid"],
            "ConmonPid": state["Pid"] - 3 if state["Pid"] else 0,
            "ExitCode": state["ExitCode"],
            "Error": state["Error"],
            "StartedAt": local_time(state["StartedAt"]),
            "FinishedAt": local_time(state["FinishedAt"]),
            "Health": health,
            "CheckpointedAt": ZERO_TIME,
            "RestoredAt": ZERO_TIME,
        },
        "Image": docker["Image"][len("sha256:") :],
        "ImageName": config["Image"],
        "Rootfs": "",
        "Pod": "",
        "Name": host.container,
        "RestartCount": docker["RestartCount"],
        "Driver": "overlay",
        "OCIRuntime": "crun",
        "Config": config,
        "HostConfig": docker["HostConfig"],
    }
