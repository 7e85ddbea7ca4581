# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Soak: watch.yml for 500 refreshes of 3 SSH hosts at the 1 s floor. The controller's memory
and open file descriptors (ansible-playbook and its worker processes) must stay flat after
warm-up. Takes about 9 minutes; the figures are printed and written to tests/output/soak.json."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from support import ROOT, VENV_BIN
from tests.fleet import HostSpec

pytestmark = [pytest.mark.slow, pytest.mark.soak]

CYCLES = 500
WARM_UP_CYCLES = 50
HOSTS = (HostSpec("soak-a", "busy"), HostSpec("soak-b", "busy-tp2"), HostSpec("soak-c", "idle"))
# Growth allowed from warm-up to the end: noise, not a leak (a leak of one result per refresh
# would grow by megabytes over 450 refreshes of 3 hosts).
RSS_GROWTH_LIMIT_KIB = 4096
FD_GROWTH_LIMIT = 2
# Cycles at the start (after warm-up) and at the end whose floors are compared.
WINDOW = 100


def process_tree(root_pid: int) -> list[int]:
    """ROOT_PID and its descendants (the workers that run each host's task)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def controller_usage(root_pid: int) -> dict:
    """RSS (KiB) and open descriptors of the ansible-playbook process tree, ssh clients excluded
    (ControlPersist masters come and go with the connection, not with the controller's state)."""
    rss = fds = processes = 0
    fds_by_pid = {}
    for pid in process_tree(root_pid):
        try:
            with open("/proc/%d/comm" % pid, encoding="ascii", errors="replace") as comm:
                if comm.read().strip() == "ssh":
                    continue
            with open("/proc/%d/status" % pid, encoding="ascii", errors="replace") as status:
                rss += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            fds_by_pid[pid] = len(os.listdir("/proc/%d/fd" % pid))
            fds += fds_by_pid[pid]
            processes += 1
        except (OSError, StopIteration):
            continue
    return {"rss_kib": rss, "fds": fds, "processes": processes, "fds_by_pid": fds_by_pid}


def descriptor_floor(window: list) -> int | None:
    """The descriptors each process holds at rest, summed: per process (the playbook and each
    host's worker, alive through the window) its fewest in the window. A worker holds 3-4 more
    while it collects; the fewest of the whole tree at one moment needs every worker at rest at
    once, which a window on a loaded machine may never see, while each one alone rests every cycle."""
    if not window:
        return None
    alive = set.intersection(*(set(sample["fds_by_pid"]) for sample in window))
    return sum(min(sample["fds_by_pid"][pid] for sample in window) for pid in alive)


def window_figures(window: list) -> dict:
    return {
        "cycles": [window[0]["cycle"], window[-1]["cycle"]] if window else None,
        "rss_kib_min": min(sample["rss_kib"] for sample in window) if window else None,
        "rss_kib_max": max(sample["rss_kib"] for sample in window) if window else None,
        "fds_min": min(sample["fds"] for sample in window) if window else None,
        "fds_max": max(sample["fds"] for sample in window) if window else None,
        "fds_floor": descriptor_floor(window),
    }


def refreshes(path) -> int:
    try:
        with open(path, encoding="utf-8") as records:
            return sum(1 for _line in records)
    except FileNotFoundError:
        return 0


def test_watch_soak_memory_and_descriptors_stay_flat(ssh_fleet, ansible_env, tmp_path):
    fleet = ssh_fleet(list(HOSTS))
    records = tmp_path / "soak.jsonl"
    env = dict(ansible_env, GPUFLEET_DASHBOARD_JSON=str(records))
    started = time.monotonic()
    process = subprocess.Popen(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            str(fleet.inventory),
            "playbooks/watch.yml",
            "-e",
            "watch_interval=1",
            "-e",
            "watch_cycles=%d" % CYCLES,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    samples = []
    try:
        while process.poll() is None and time.monotonic() - started < CYCLES * 3:
            done = refreshes(records) // len(HOSTS)
            if done >= WARM_UP_CYCLES:
                samples.append(
                    dict(controller_usage(process.pid), cycle=done, elapsed_s=round(time.monotonic() - started, 1))
                )
            time.sleep(0.5)
        rc = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read()
    # A sample taken while a collection is in flight holds its pipes and buffers: compare the
    # floors (RSS: the fewest KiB; descriptors: each process's fewest, summed) of the first and
    # the last WINDOW cycles, which a leak would lift.
    # Only samples with every host's worker still looping: the last cycles also see the workers
    # exit, which would lower the floor and hide a leak.
    first = [sample for sample in samples if sample["cycle"] < WARM_UP_CYCLES + WINDOW]
    looping = first[0]["processes"] if first else None
    last = [
        sample
        for sample in samples
        if CYCLES - WINDOW < sample["cycle"] < CYCLES - 2 and sample["processes"] == looping
    ]
    figures = {
        "hosts": len(HOSTS),
        "cycles": CYCLES,
        "wall_s": round(time.monotonic() - started, 1),
        "refreshes": refreshes(records),
        "samples": len(samples),
        "first": window_figures(first),
        "last": window_figures(last),
    }
    os.makedirs(ROOT / "tests" / "output", exist_ok=True)
    (ROOT / "tests" / "output" / "soak.json").write_text(json.dumps(figures, indent=1))
    print("soak figures:", json.dumps(figures))
    assert rc == 0, stderr[-3000:]
    assert figures["refreshes"] == CYCLES * len(HOSTS)
    assert first and last and last[0]["cycle"] - first[-1]["cycle"] >= CYCLES - WARM_UP_CYCLES - 3 * WINDOW
    assert figures["last"]["rss_kib_min"] - figures["first"]["rss_kib_min"] <= RSS_GROWTH_LIMIT_KIB, figures
    assert figures["last"]["fds_floor"] - figures["first"]["fds_floor"] <= FD_GROWTH_LIMIT, figures
