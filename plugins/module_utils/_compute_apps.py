# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who holds GPU memory: ``nvidia-smi --query-compute-apps`` rows, each PID mapped to its
container through ``/proc/<pid>/cgroup``.

Format facts: one row per process with a CUDA context, ``gpu_uuid, pid, process_name,
used_memory`` separated by ``", "``; no row at all when nothing runs. A field NVML cannot read
prints as ``[Insufficient Permissions]``, ``[N/A]`` (or any other ``[...]`` text). The PID is a
PID of the host's namespace: node_info runs on the host, so ``/proc/<pid>/cgroup`` resolves it.

cgroup layouts (one line per hierarchy, ``ID:CONTROLLERS:PATH``):
- v1, docker: ``.../docker/<64 hex>`` (or ``/system.slice/docker-<id>.scope`` with the systemd
  cgroup driver);
- v2 (the single ``0::PATH`` line): ``/system.slice/docker-<id>.scope``;
- podman: ``libpod-<id>.scope`` (under machine.slice or a user slice, sometimes followed by
  ``/container``), ``/libpod_parent/libpod-<id>`` with cgroupfs.
A process outside any container has a path without such an ID (``/user.slice/...``).

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text

QUERY_FIELDS = ("gpu_uuid", "pid", "process_name", "used_memory")
# A cgroup file is a few lines; a process in a deep hierarchy has a few hundred bytes.
CGROUP_BYTES_LIMIT = 64 * 1024
# Rows kept: a GPU has at most a few dozen contexts; more is a flood, not information.
MAX_PROCESSES = 256
_MESSAGE_LIMIT = 300

# An ID of 64 hex digits as a path element or at the end of one (``docker-<id>.scope``,
# ``cri-containerd-<id>.scope``); the runtime is named when the prefix says docker or libpod.
_CONTAINER_ID_RE = re.compile(r"(?:(docker|libpod)[-/]|[-/_]|^)(?P<id>[0-9a-f]{64})(?:\.scope)?(?=/|$)")
_RUNTIME_NAMES = {"docker": "docker", "libpod": "podman"}
_PID_RE = re.compile(r"\d{1,10}")
_MEMORY_RE = re.compile(r"\d{1,12}")
_FULL_ID_RE = re.compile(r"[0-9a-f]{64}")


class ComputeAppsError(ValueError):
    """A row that does not have the four fields asked for."""


def query_command(binary: str) -> List[str]:
    return [binary, "--query-compute-apps=" + ",".join(QUERY_FIELDS), "--format=csv,noheader,nounits"]


def _unavailable(cell: str) -> bool:
    return cell in ("", "N/A") or (cell.startswith("[") and cell.endswith("]"))


def parse_rows(stdout: str) -> List[Dict[str, Any]]:
    """One dict per row: ``gpu_uuid``, ``pid``, ``name``, ``used_memory_mib`` (None when
    unavailable). The process name may itself hold ", " (a path): the first two cells and the
    last one are fixed, the name is what lies between. Raises ComputeAppsError naming the line."""
    processes = []
    for number, line in enumerate(stdout.split("\n"), start=1):
        if not line.strip():
            continue
        head = line.split(",", 2)
        if len(head) != 3 or "," not in head[2]:
            raise ComputeAppsError(
                "nvidia-smi compute-apps line %d has fewer than 4 values: %r" % (number, clean_text(line, 120))
            )
        name, memory = (cell.strip() for cell in head[2].rsplit(",", 1))
        uuid, pid = head[0].strip(), head[1].strip()
        if not _PID_RE.fullmatch(pid):
            raise ComputeAppsError(
                "nvidia-smi compute-apps line %d: pid is not a number: %r" % (number, clean_text(pid, 40))
            )
        processes.append(
            {
                "gpu_uuid": None if _unavailable(uuid) else clean_text(uuid, 80),
                "pid": int(pid),
                "name": None if _unavailable(name) else clean_text(name, 120),
                "used_memory_mib": int(memory) if _MEMORY_RE.fullmatch(memory) else None,
            }
        )
    return processes


def container_of(cgroup_text: str) -> Tuple[Optional[str], Optional[str]]:
    """(runtime, full container ID) named by a /proc/<pid>/cgroup text, or (None, None) for a
    process outside any container. runtime is ``docker``, ``podman`` or None (an ID in a layout
    that names no runtime, such as cgroup v1 under another manager)."""
    for line in cgroup_text.split("\n"):
        path = line.split(":", 2)[-1] if line.count(":") >= 2 else ""
        # The innermost ID wins: a container nested in another names the outer one first.
        found = None
        for match in _CONTAINER_ID_RE.finditer(path):
            found = match
        if found is not None:
            return _RUNTIME_NAMES.get(found.group(1) or ""), found.group("id")
    return None, None


def read_cgroup(proc_path: str, pid: int) -> Tuple[Optional[str], Optional[str]]:
    """(text, None) or (None, why it could not be read)."""
    path = os.path.join(proc_path, str(pid), "cgroup")
    try:
        with open(path, "rb") as handle:
            data = handle.read(CGROUP_BYTES_LIMIT)
    except FileNotFoundError:
        return None, "process %d has exited (no %s)" % (pid, path)
    except OSError as exc:
        return None, "cannot read %s: %s" % (path, exc.strerror or exc)
    return data.decode("utf-8", "replace"), None


def attribute(
    processes: List[Dict[str, Any]], devices: List[Dict[str, Any]], proc_path: str, watched_id: Optional[str]
) -> List[Dict[str, Any]]:
    """Add ``gpu_index``, ``container_runtime``, ``container_id`` and ``watched`` to each process.

    ``watched`` is True for a process of the watched container (its full ID WATCHED_ID), False
    for any other process, None when that cannot be told (its cgroup unreadable, or the watched
    container's ID unknown while the process runs in a container)."""
    by_uuid = {device.get("uuid"): device.get("index") for device in devices if device.get("uuid")}
    watched_id = watched_id if isinstance(watched_id, str) and _FULL_ID_RE.fullmatch(watched_id) else None
    for process in processes:
        process["gpu_index"] = by_uuid.get(process["gpu_uuid"])
        text, problem = read_cgroup(proc_path, process["pid"])
        runtime, container_id = container_of(text) if text is not None else (None, None)
        process["container_runtime"] = runtime
        process["container_id"] = container_id
        process["note"] = clean_text(problem, 160) if problem else None
        if text is None:
            process["watched"] = None
        elif container_id is None:
            process["watched"] = False
        elif watched_id is None:
            process["watched"] = None
        else:
            process["watched"] = container_id == watched_id
    return processes


def section(result, devices: List[Dict[str, Any]], proc_path: str, watched_id: Optional[str]) -> Dict[str, Any]:
    """The ``gpu.compute_apps`` dict of schema v1 from one query run (None: not run)."""
    if result is None:
        return {
            "status": "not_read",
            "message": "the GPU query did not succeed, so the GPU processes were not asked for",
            "processes": [],
        }
    if result.timed_out:
        return {
            "status": "timeout",
            "message": "nvidia-smi --query-compute-apps did not answer in time",
            "processes": [],
        }
    if result.rc != 0 or result.stopped:
        first = clean_text((result.stdout + "\n" + result.stderr).strip().split("\n")[0], 160) or "no output"
        message = "nvidia-smi --query-compute-apps failed (exit %s): %s" % (result.rc, first)
        return {"status": "error", "message": clean_text(message, _MESSAGE_LIMIT), "processes": []}
    try:
        processes = parse_rows(result.stdout)
    except ComputeAppsError as exc:
        return {"status": "error", "message": clean_text(str(exc), _MESSAGE_LIMIT), "processes": []}
    message = None
    if len(processes) > MAX_PROCESSES:
        message = "nvidia-smi listed %d processes; only the first %d are kept" % (len(processes), MAX_PROCESSES)
        processes = processes[:MAX_PROCESSES]
    return {"status": "ok", "message": message, "processes": attribute(processes, devices, proc_path, watched_id)}
