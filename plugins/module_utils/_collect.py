# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collection of one node's state: runs nvidia-smi and docker, assembles the schema v1 document.

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8. The document is described in
docs/schema-v1.md and in the node_info module's RETURN.
"""

from __future__ import annotations

import threading

from ansible_collections.gpufleet.vllm.plugins.module_utils import _docker
from ansible_collections.gpufleet.vllm.plugins.module_utils import _gpu_depth
from ansible_collections.gpufleet.vllm.plugins.module_utils import _nvidia_smi
from ansible_collections.gpufleet.vllm.plugins.module_utils import _vllm_http
from ansible_collections.gpufleet.vllm.plugins.module_utils import _vllm_log
from ansible_collections.gpufleet.vllm.plugins.module_utils._runner import run_command
from ansible_collections.gpufleet.vllm.plugins.module_utils._text import byte_size
from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import format_utc
from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import parse_rfc3339
from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import utc_now

SCHEMA_VERSION = 1
# A stats-free log can still be huge (a 1 MB line, a flood of tracebacks): cap what is read.
LOG_BYTES_LIMIT = 4 * 1024 * 1024
CLI_BYTES_LIMIT = 1024 * 1024
# Container states in which docker still has the log to read.
_LOGLESS_CONTAINER_STATES = ("missing", "error")
# The model services hypr installs (its state file's ``services``). Only vLLM is watched; on a
# VM that runs another one, the GPUs are still collected and the container and engine sections
# say why they are empty, so that no check can fail or pass on data that was never read.
WATCHED_SERVICE = "vllm"
SERVICES = ("vllm", "ollama", "none")
NOT_WATCHED = "not_watched"
_NOT_WATCHED_MESSAGES = {
    "ollama": "Ollama: not watched by this collection",
    "none": "no model service: neither vLLM nor Ollama is enabled on this VM; not watched by this collection",
}


class CollectError(Exception):
    """A user mistake found before anything ran (bad container name, bad query field)."""


def validate_request(container: str | None, gpu_query_fields, service: str = WATCHED_SERVICE) -> None:
    if service not in SERVICES:
        raise CollectError("service must be one of %s, got %r" % (", ".join(SERVICES), str(service)[:40]))
    if service == WATCHED_SERVICE and container is None:
        raise CollectError("container is required when service is vllm")
    try:
        if container is not None:
            _docker.validate_container_name(container)
        _nvidia_smi.validate_fields(gpu_query_fields)
    except (_docker.InvalidContainerName, _nvidia_smi.InvalidQueryField) as exc:
        raise CollectError(str(exc)) from exc


def collect(
    container: str | None,
    docker_path: str | None,
    nvidia_smi_path: str | None,
    log_lines: int,
    command_timeout: float,
    gpu_query_fields,
    serving_fresh_after: float,
    http_port: int | None = None,
    http_host: str = "127.0.0.1",
    http_timeout: float = 5.0,
    api_key: str | None = None,
    probe: bool = False,
    http_collector=_vllm_http.collect_http,
    dmesg_path: str | None = None,
    journalctl_path: str | None = None,
    proc_path: str = "/proc",
    runner=run_command,
    clock=utc_now,
    service: str = WATCHED_SERVICE,
) -> dict:
    """Run the three commands (concurrently: they are independent and each may take a while on
    a loaded VM) and build the document. A failing command never raises: it is classified in
    its section and the other sections are still returned. For a SERVICE other than vLLM only
    nvidia-smi runs; docker is not asked."""
    validate_request(container, gpu_query_fields, service)
    if service != WATCHED_SERVICE:
        # Another service (Ollama) may listen on the vLLM port: neither docker nor HTTP is asked.
        docker_path = http_port = None
    try:
        _vllm_http.validate_host(http_host)
    except ValueError as exc:
        raise CollectError(str(exc)) from exc
    results = {}

    def read_http() -> None:
        # vLLM's HTTP endpoints (http_port set): a second source, read while the commands run.
        try:
            results["http"] = http_collector(http_host, http_port, http_timeout, api_key=api_key, probe=probe)
        except Exception as exc:  # noqa: BLE001 - the HTTP source must never cost the other sections
            results["http"] = _vllm_http.failed_section("HTTP source failed: %s" % type(exc).__name__)

    def run_gpu_query() -> None:
        if nvidia_smi_path is None:
            results["gpu"] = None
        else:
            results["gpu"] = runner(
                _nvidia_smi.query_command(nvidia_smi_path, gpu_query_fields),
                timeout=command_timeout,
                max_bytes=CLI_BYTES_LIMIT,
            )

    def run_logs() -> None:
        if docker_path is not None:
            results["logs"] = runner(
                _docker.logs_command(docker_path, container, log_lines),
                timeout=command_timeout,
                max_bytes=LOG_BYTES_LIMIT,
                merge_stderr=True,
                keep_tail=True,
            )

    # The GPU processes and the kernel log, next to the other commands (_gpu_depth).
    depth = _gpu_depth.start(runner, nvidia_smi_path, dmesg_path, command_timeout)
    workers = [threading.Thread(target=run_gpu_query), threading.Thread(target=run_logs)]
    if http_port is not None:
        workers.append(threading.Thread(target=read_http))
    for worker in workers:
        worker.start()
    inspect_result = None
    if docker_path is not None:
        inspect_result = runner(
            _docker.inspect_command(docker_path, container), timeout=command_timeout, max_bytes=CLI_BYTES_LIMIT
        )
    for worker in workers:
        worker.join()
    now = clock()

    gpu = gpu_document(results.get("gpu"), gpu_query_fields, nvidia_smi_path)
    if service != WATCHED_SERVICE:
        container_doc, vllm = not_watched_documents(container, _NOT_WATCHED_MESSAGES[service])
    else:
        container_doc = container_document(container, inspect_result, docker_path)
        vllm = vllm_document(container_doc, results.get("logs"), now, serving_fresh_after)
    # Once the GPUs and the container are known: the processes are matched to them, journalctl
    # (when dmesg could not be read) asked from the container's start.
    _gpu_depth.finish(depth, gpu, container_doc, inspect_result, journalctl_path, proc_path)
    return {
        "schema_version": SCHEMA_VERSION,
        "collected_at": format_utc(now),
        "gpu": gpu,
        "container": container_doc,
        "vllm": vllm,
        "http": results.get("http"),
    }


def gpu_document(result, fields, binary: str | None) -> dict:
    binary = binary or "nvidia-smi on PATH"
    if result is None:
        return _nvidia_smi.gpu_section(None, "", "", fields, not_found=True, binary=binary)
    return _nvidia_smi.gpu_section(
        result.rc,
        result.stdout,
        result.stderr,
        fields,
        timed_out=result.timed_out,
        not_found=result.not_found,
        binary=binary,
        not_executable=result.not_executable,
        stopped_at=result.bytes_read if result.stopped else None,
    )


def not_watched_documents(name: str | None, message: str) -> tuple:
    """The container and vllm sections of a VM whose model service this collection does not
    watch: every value unknown, the reason in both messages."""
    container = {
        "name": name,
        "status": NOT_WATCHED,
        "error_kind": None,
        "health": None,
        "restart_count": None,
        "started_at": None,
        "oom_killed": None,
        "exit_code": None,
        "image": None,
        "message": message,
    }
    vllm = {
        "phase": NOT_WATCHED,
        "log_status": "not_read",
        "message": message,
        "engines": [],
        "loading": None,
        "errors": [],
        "ready": False,
        "last_log_at": None,
        "log_lines_read": 0,
    }
    return container, vllm


def container_document(name: str, result, binary: str | None) -> dict:
    binary = binary or "docker on PATH"
    if result is None:
        return _docker.container_section(name, None, "", "", not_found=True, binary=binary)
    return _docker.container_section(
        name,
        result.rc,
        result.stdout,
        result.stderr,
        timed_out=result.timed_out,
        not_found=result.not_found,
        binary=binary,
        not_executable=result.not_executable,
        stopped_at=result.bytes_read if result.stopped else None,
    )


def vllm_document(container: dict, result, now, serving_fresh_after: float) -> dict:
    document = {
        "phase": "unknown",
        "log_status": "ok",
        "message": None,
        "engines": [],
        "loading": None,
        "errors": [],
        "ready": False,
        "last_log_at": None,
        "log_lines_read": 0,
    }
    if container["status"] in _LOGLESS_CONTAINER_STATES or result is None:
        document["log_status"] = "not_read"
        document["phase"], document["message"] = _vllm_log.decide_phase(
            container["status"], _vllm_log.parse_log_text("", None, now), serving_fresh_after
        )
        if container["status"] == "error":
            document["message"] = container["message"]
        return document
    if result.timed_out:
        document["log_status"] = "timeout"
        document["message"] = "docker logs did not answer in time; the docker daemon may be overloaded"
        return document
    if result.rc != 0 and not result.truncated:
        document["log_status"], document["message"] = _docker.classify_logs_error(
            result.rc, result.stdout, name=container["name"]
        )
        return document

    started_at = parse_rfc3339(container["started_at"])
    parsed = _vllm_log.parse_log_text(result.stdout, started_at, now)
    phase, message = _vllm_log.decide_phase(container["status"], parsed, serving_fresh_after)
    ahead = _clock_ahead(parsed, started_at, now)
    if ahead is not None:
        document["log_status"] = "clock_ahead"
        if phase not in ("failed", "stopped"):
            # Ages cannot be computed (and with the start ahead no line counts): neither serving,
            # idle nor loading can be told.
            phase, message = "unknown", _vllm_log.clock_ahead_message(*ahead)
    document.update(
        phase=phase,
        message=message,
        engines=parsed["engines"],
        loading=_vllm_log.loading_or_starting(parsed) if phase == "loading" else None,
        errors=parsed["errors"],
        ready=parsed["ready"],
        last_log_at=parsed["last_log_at"],
        log_lines_read=parsed["log_lines_read"],
    )
    if result.truncated:
        document["message"] = (message + "; " if message else "") + _log_cap_note(result)
    return document


def _clock_ahead(parsed: dict, started_at, now):
    """(seconds, what) when the log's newest stamp or the container's start lies ahead of the VM's
    clock by more than the tolerance, else None."""
    stamps = [parse_rfc3339(engine["logged_at"]) for engine in parsed["engines"]]
    stamps.append(parse_rfc3339(parsed["last_log_at"]))
    newest = max((stamp for stamp in stamps if stamp is not None), default=None)
    for moment, what in ((newest, "the newest log line"), (started_at, "the container's start time")):
        ahead_s = _vllm_log.clock_ahead_s(moment, now)
        if ahead_s is not None:
            return ahead_s, what
    return None


def _log_cap_note(result) -> str:
    """What the byte cap did to ``docker logs``: the tail kept (it printed more than the cap),
    or reading stopped (it printed more than the read cap, so the newest lines were never read)."""
    kept = byte_size(LOG_BYTES_LIMIT)
    if result.stopped:
        return (
            "docker logs printed more than %s; stopped reading there, so the newest lines were not read "
            "(the %s before that were parsed): lower log_lines" % (byte_size(result.bytes_read), kept)
        )
    return "docker logs printed %s; only the newest %s were parsed" % (byte_size(result.bytes_read), kept)
