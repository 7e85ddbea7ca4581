# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _compute_apps: compute-apps rows and the PID -> container mapping by cgroup."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._compute_apps import (
    ComputeAppsError,
    attribute,
    container_of,
    parse_rows,
    section,
)
from ansible_collections.gpufleet.vllm.plugins.module_utils._runner import CommandResult

VLLM_ID = "3f9c1a7e5b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
OTHER_ID = "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9"
UUID = "GPU-5d1d7a3c-2f4e-8b61-9a0c-3e7f1b2d4c60"


@pytest.mark.parametrize(
    "stdout, expected",
    [
        ("", []),
        (
            "%s, 3981, python, 51324\n" % UUID,
            [{"gpu_uuid": UUID, "pid": 3981, "name": "python", "used_memory_mib": 51324}],
        ),
        # Without permission (or inside a container) the name and memory may be unreadable.
        (
            "%s, 524, [Insufficient Permissions], [N/A]\n" % UUID,
            [{"gpu_uuid": UUID, "pid": 524, "name": None, "used_memory_mib": None}],
        ),
        # A name holding ", " keeps it: the first two cells and the last are fixed.
        (
            "%s, 77, /opt/my, app/bin/python, 12\n" % UUID,
            [{"gpu_uuid": UUID, "pid": 77, "name": "/opt/my, app/bin/python", "used_memory_mib": 12}],
        ),
        ("[N/A], 1, x\x1b[31m, 1\n", [{"gpu_uuid": None, "pid": 1, "name": "x", "used_memory_mib": 1}]),
    ],
)
def test_parse_rows(stdout, expected):
    assert parse_rows(stdout) == expected


@pytest.mark.parametrize(
    "stdout, message",
    [
        ("%s, 3981\n" % UUID, "line 1 has fewer than 4 values"),
        ("%s, pid, python, 1\n" % UUID, "line 1: pid is not a number"),
        ("\n%s, %s, python, 1\n" % (UUID, "9" * 11), "line 2: pid is not a number"),
    ],
)
def test_bad_rows_name_the_line(stdout, message):
    with pytest.raises(ComputeAppsError, match=message):
        parse_rows(stdout)


@pytest.mark.parametrize(
    "cgroup, expected",
    [
        # cgroup v2, docker with the systemd driver.
        ("0::/system.slice/docker-%s.scope\n" % VLLM_ID, ("docker", VLLM_ID)),
        # cgroup v1, docker with the cgroupfs driver: one line per hierarchy.
        ("12:pids:/docker/%s\n11:memory:/docker/%s\n0::/\n" % (VLLM_ID, VLLM_ID), ("docker", VLLM_ID)),
        # podman (root, systemd) and rootless podman with the inner "container" cgroup.
        ("0::/machine.slice/libpod-%s.scope\n" % VLLM_ID, ("podman", VLLM_ID)),
        (
            "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-%s.scope/container\n" % VLLM_ID,
            ("podman", VLLM_ID),
        ),
        # podman with cgroupfs (v1).
        ("3:memory:/libpod_parent/libpod-%s\n" % VLLM_ID, ("podman", VLLM_ID)),
        # Another runtime's scope: a container all the same, runtime not named.
        ("0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-%s.scope\n" % VLLM_ID, (None, VLLM_ID)),
        # Outside containers.
        ("0::/user.slice/user-1000.slice/session-3.scope\n", (None, None)),
        ("0::/\n", (None, None)),
        # A 63-digit or 65-digit run is no container ID.
        ("0::/system.slice/docker-%s.scope\n" % VLLM_ID[:63], (None, None)),
        ("0::/system.slice/docker-%sa.scope\n" % VLLM_ID, (None, None)),
        ("garbage", (None, None)),
    ],
)
def test_container_of(cgroup, expected):
    assert container_of(cgroup) == expected


def _proc(tmp_path, pid, text):
    folder = tmp_path / str(pid)
    folder.mkdir()
    (folder / "cgroup").write_text(text)


def test_attribute_tells_the_watched_container_from_the_others(tmp_path):
    _proc(tmp_path, 10, "0::/system.slice/docker-%s.scope\n" % VLLM_ID)
    _proc(tmp_path, 11, "0::/system.slice/docker-%s.scope\n" % OTHER_ID)
    _proc(tmp_path, 12, "0::/user.slice/session-3.scope\n")
    processes = [{"gpu_uuid": UUID, "pid": pid, "name": "python", "used_memory_mib": 1} for pid in (10, 11, 12, 13)]
    devices = [{"index": 0, "uuid": UUID}]
    result = attribute(processes, devices, str(tmp_path), VLLM_ID)
    assert [(p["gpu_index"], p["container_id"], p["watched"]) for p in result] == [
        (0, VLLM_ID, True),
        (0, OTHER_ID, False),
        (0, None, False),
        (0, None, None),
    ]
    assert result[3]["note"].startswith("process 13 has exited")
    # Without the watched container's ID, a containerised process cannot be told; a host one can.
    again = attribute([dict(p) for p in processes], devices, str(tmp_path), None)
    assert [p["watched"] for p in again] == [None, None, False, None]


def _result(rc=0, stdout="", stderr="", timed_out=False):
    return CommandResult([], rc, stdout, stderr, timed_out, False, False, 0.01)


def test_section_outcomes(tmp_path):
    assert section(None, [], str(tmp_path), None)["status"] == "not_read"
    assert section(_result(timed_out=True), [], str(tmp_path), None)["status"] == "timeout"
    failed = section(
        _result(rc=9, stdout="NVIDIA-SMI has failed because it couldn't communicate"), [], str(tmp_path), None
    )
    assert failed["status"] == "error" and "exit 9" in failed["message"]
    bad = section(_result(stdout="x\n"), [], str(tmp_path), None)
    assert (bad["status"], bad["processes"]) == ("error", [])
    flood = section(_result(stdout="%s, 1, p, 1\n" % UUID * 300), [], str(tmp_path), None)
    assert len(flood["processes"]) == 256 and "300 processes" in flood["message"]
