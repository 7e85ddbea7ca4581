# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GPU sections beyond the readings: who holds GPU memory (the compute-apps query, mapped to
containers with the watched container's ID) and the XID errors since the container started (the
kernel log). ``start`` runs dmesg next to the other commands; ``finish`` waits for it, runs
the compute-apps query, reads journalctl when dmesg could not be read (it needs the
container's start), and adds both sections to the GPU section.

The compute-apps query runs only once the GPU query listed GPUs: with a hung driver a second
nvidia-smi would hang as well, and without a GPU list its rows match nothing.

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8.
"""

from __future__ import annotations

import re
import threading

from ansible_collections.gpufleet.vllm.plugins.module_utils import _compute_apps
from ansible_collections.gpufleet.vllm.plugins.module_utils import _docker
from ansible_collections.gpufleet.vllm.plugins.module_utils import _kernel_log
from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import parse_rfc3339

CLI_BYTES_LIMIT = 1024 * 1024
_FULL_ID_RE = re.compile(r"[0-9a-f]{64}")


def watched_container_id(inspect_result) -> str | None:
    """The full ID (``Id``, 64 hex digits, docker's and podman's key alike) from the container
    inspect JSON, or None when inspect failed or the document has none."""
    if inspect_result is None or inspect_result.rc != 0 or inspect_result.stopped or inspect_result.timed_out:
        return None
    try:
        # The one bounded reader of inspect output (nesting capped, Config.Env dropped first).
        container = _docker.load_inspect_document(inspect_result.stdout)
    except _docker.InvalidInspectOutput:
        return None
    found = container.get("Id")
    return found if isinstance(found, str) and _FULL_ID_RE.fullmatch(found) else None


class Pending:
    """dmesg, running."""

    def __init__(self, runner, nvidia_smi_path, dmesg_path, command_timeout: float):
        self.results = {}
        self.runner = runner
        self.nvidia_smi_path = nvidia_smi_path
        self.command_timeout = command_timeout

        def read_dmesg() -> None:
            self.results["dmesg"] = runner(
                _kernel_log.dmesg_command(dmesg_path),
                timeout=command_timeout,
                max_bytes=_kernel_log.LOG_BYTES_LIMIT,
                keep_tail=True,
            )

        self.workers = []
        if dmesg_path is not None:
            self.workers.append(threading.Thread(target=read_dmesg))
        for worker in self.workers:
            worker.start()


def start(runner, nvidia_smi_path, dmesg_path, command_timeout: float) -> Pending:
    return Pending(runner, nvidia_smi_path, dmesg_path, command_timeout)


def finish(pending: Pending, gpu: dict, container: dict, inspect_result, journalctl_path, proc_path: str) -> None:
    """Add ``compute_apps`` and ``xid`` to the GPU section GPU (in place); INSPECT_RESULT is the
    container inspect run that gave CONTAINER."""
    for worker in pending.workers:
        worker.join()
    results = pending.results
    since = parse_rfc3339(container.get("started_at")) if container.get("status") not in ("missing", "error") else None
    dmesg = results.get("dmesg")
    journal = None
    if journalctl_path is not None and _kernel_log.section(dmesg, None, since)["status"] != "ok":
        journal = pending.runner(
            _kernel_log.journalctl_command(journalctl_path, since),
            timeout=pending.command_timeout,
            max_bytes=_kernel_log.LOG_BYTES_LIMIT,
            keep_tail=True,
        )
    watched_id = watched_container_id(inspect_result)
    apps = None
    if pending.nvidia_smi_path is not None and gpu.get("status") == "ok" and gpu.get("devices"):
        apps = pending.runner(
            _compute_apps.query_command(pending.nvidia_smi_path),
            timeout=pending.command_timeout,
            max_bytes=CLI_BYTES_LIMIT,
        )
    gpu["compute_apps"] = _compute_apps.section(apps, gpu.get("devices") or [], proc_path, watched_id)
    gpu["compute_apps"]["watched_container_id"] = watched_id
    gpu["xid"] = _kernel_log.section(dmesg, journal, since)
