# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU processes and the kernel log of a simulated host.

- ``nvidia-smi --query-compute-apps=gpu_uuid,pid,process_name,used_memory``: the vLLM process
  on every GPU holding memory while the container runs, plus the scenario's foreign processes.
- ``DIR/proc/<pid>/cgroup`` for every simulated PID (written by ``make-host``). The PIDs are
  above the Linux limit (4194304), so a host without the simulator's proc tree never finds a
  real process under them.
- ``dmesg --time-format iso`` and ``journalctl -k -o short-iso [--since @EPOCH | -b]``: a few
  boot lines, and the scenario's XID lines at their offsets from the container's start; or the
  texts of a kernel log the user may not read.
"""

from __future__ import annotations

import os
import time

from fakegpu.output import Output

VLLM_PID_BASE = 4194400
VLLM_PROCESS = "python3"
# cgroup v2, docker with the systemd driver.
VLLM_CGROUP = "0::/system.slice/docker-%s.scope\n"
# Foreign processes of every scenario: (pid, cgroup text).
JUPYTER_ID = "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9"
FOREIGN_CGROUPS = {
    4194500: "0::/system.slice/docker-%s.scope\n" % JUPYTER_ID,
    4194501: "0::/user.slice/user-1000.slice/session-3.scope\n",
}
BOOT_LINES = (
    (-900.0, "Linux version 6.8.0-49-generic (buildd@lcy02-amd64-103) #49-Ubuntu SMP"),
    (-899.0, "nvidia: loading out-of-tree module taints kernel."),
    (-898.0, "NVRM: loading NVIDIA UNIX x86_64 Kernel Module  570.133.20"),
)
DMESG_DENIED = "dmesg: read kernel buffer failed: Operation not permitted\n"
JOURNAL_HINT = (
    "Hint: You are currently not seeing messages from other users and the system.\n"
    "      Users in groups 'adm', 'systemd-journal' can see all messages.\n"
    "      Pass -q to turn off this notice.\n"
)


def write_proc(host_dir: str, container_id: str) -> None:
    for index in range(8):
        _write_cgroup(host_dir, VLLM_PID_BASE + index, VLLM_CGROUP % container_id)
    for pid, text in FOREIGN_CGROUPS.items():
        _write_cgroup(host_dir, pid, text)


def _write_cgroup(host_dir: str, pid: int, text: str) -> None:
    folder = os.path.join(host_dir, "proc", str(pid))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "cgroup"), "w", encoding="utf-8") as handle:
        handle.write(text)


def processes(host, host_rows, running: bool) -> list:
    """(gpu_uuid, pid, name, used MiB) rows."""
    found = []
    by_index = {each["index"]: each for each in host_rows}
    foreign = [item for item in host.scenario.foreign if item[0] in by_index]
    for each in host_rows:
        held = sum(item[3] for item in foreign if item[0] == each["index"])
        own = each["memory.used"] - held - 500
        if running and own > 0:
            found.append((each["uuid"], VLLM_PID_BASE + each["index"], VLLM_PROCESS, own))
    for index, pid, name, mib in foreign:
        found.append((by_index[index]["uuid"], pid, name, mib))
    return found


def compute_apps(out: Output, host, host_rows, running: bool, with_units: bool) -> int:
    for uuid, pid, name, mib in processes(host, host_rows, running):
        out.stdout("%s, %d, %s, %s\n" % (uuid, pid, name, "%d MiB" % mib if with_units else mib))
    return 0


def _lines(host):
    start = host.started_epoch
    lines = [(start + offset, text) for offset, text in BOOT_LINES]
    lines += [(start + offset, text) for offset, text in host.scenario.kernel_lines]
    return [(moment, text) for moment, text in sorted(lines) if moment <= host.now]


def _iso(moment: float, dmesg: bool) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment))
    if dmesg:
        return "%s,%06d+00:00" % (stamp, int((moment % 1) * 1e6))
    return stamp + "+0000"


def dmesg(host, argv) -> Output:
    out = Output()
    if not host.scenario.kernel_log_readable:
        return out.finish(1, stderr=DMESG_DENIED)
    if argv != ["--time-format", "iso"]:
        return out.finish(1, stderr="dmesg: the simulator answers only --time-format iso\n")
    for moment, text in _lines(host):
        out.stdout("%s %s\n" % (_iso(moment, True), text))
    return out


def journalctl(host, argv) -> Output:
    out = Output()
    if not host.scenario.kernel_log_readable:
        out.stdout(JOURNAL_HINT + "-- No entries --\n")
        return out
    since = None
    if "--since" in argv:
        value = argv[argv.index("--since") + 1]
        since = float(value.lstrip("@"))
    shown = [(moment, text) for moment, text in _lines(host) if since is None or moment >= since]
    for moment, text in shown:
        out.stdout("%s gpu-vm kernel: %s\n" % (_iso(moment, False), text))
    if not shown:
        out.stdout("-- No entries --\n")
    return out
