# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refresh throughput of the watch loop over the real sshd test fleet, against raw SSH.

For each fleet size N (real sshd hosts in network namespaces, scenario ``busy``, tests/fleet),
in the same run:
  seed      the Ruby watcher's method: one ``ssh host 'bash -se'`` per host per cycle, in
            parallel threads, running the same three commands against the same simulator;
  seed+mux  the same over SSH connection multiplexing (ControlMaster/ControlPersist);
  watch     playbooks/watch.yml as shipped (ansible.cfg: pipelining, ControlPersist, forks),
            optionally also with Mitogen (--mitogen);
each measured at saturation (interval 0) as host-updates per second in steady state, plus the
controller and remote CPU seconds per host-update and the controller's peak RSS, and for the
watch loop the per-host refresh period p50/p90 at the default 5 s interval. Needs root.

    .venv/bin/python benchmarks/fleet.py --hosts 1,10,30,50 --seconds 20 [--mitogen]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fleet import HostSpec  # noqa: E402  pylint: disable=wrong-import-position
from tests.fleet.harness import Fleet  # noqa: E402  pylint: disable=wrong-import-position

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
VENV_BIN = ROOT / ".venv" / "bin"
QUERY = "index,uuid,name,temperature.gpu,utilization.gpu,power.draw,power.limit,memory.used,memory.total"
# The seed's script (watcher.rb), plus the docker inspect that node_info also runs.
SEED_SCRIPT = """export PATH=/opt/fakegpu/bin:$PATH
nvidia-smi --query-gpu=%s --format=csv,noheader,nounits
docker container inspect --format '{{.State.Status}}' %%(container)s
echo ===VLLM===
_logs=$(docker logs --tail 300 %%(container)s 2>&1)
echo "$_logs" | grep 'Engine 0' | tail -1
echo ===LOADING===
echo "$_logs" | grep -E 'Starting to load|Loading model|model weight|Downloading|shard' | tail -1
""" % QUERY


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def remote_cpu_s(fleet: Fleet) -> float:
    """CPU of everything that ran on the hosts: each host's sshd is the init of its PID namespace
    and reaps every session, so its own plus its children's CPU covers them all."""
    total = 0
    for name in fleet.hosts:
        todo = _children(fleet.host(name).sshd.pid)
        while todo:
            pid = todo.pop()
            # A live process's own time plus that of its reaped children; live descendants
            # are visited themselves (ControlPersist keeps one session process alive).
            try:
                with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(value) for value in fields[11:15])
            todo.extend(_children(pid))
    return total / CLOCK_TICKS


def _children(pid: int) -> list:
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid), encoding="ascii") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def seed_method(fleet: Fleet, seconds: float, mux: bool, control_dir: str) -> dict:
    stop = time.monotonic() + seconds
    counts = {}

    def loop(host) -> None:
        argv = fleet.ssh_argv(host.name, "bash -se")
        if mux:
            argv[1:1] = ["-o", "ControlMaster=auto", "-o", "ControlPersist=60",
                         "-o", "ControlPath=%s/%%C" % control_dir]
        script = SEED_SCRIPT % {"container": host.spec.container or "vllm_qwen36_27b"}
        done = 0
        while time.monotonic() < stop:
            proc = subprocess.run(argv, input=script, capture_output=True, text=True, check=False)
            if proc.returncode == 0 and "===VLLM===" in proc.stdout:
                done += 1
        counts[host.name] = done

    cpu, remote, started = children_cpu_s(), remote_cpu_s(fleet), time.monotonic()
    threads = [threading.Thread(target=loop, args=(fleet.host(name),)) for name in fleet.hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if mux:
        for name in fleet.hosts:
            argv = fleet.ssh_argv(name)
            subprocess.run(argv[:-1] + ["-o", "ControlPath=%s/%%C" % control_dir, "-O", "exit", argv[-1]],
                           capture_output=True, check=False)
    updates = sum(counts.values())
    return {"updates_per_s": updates / elapsed,
            "controller_cpu_ms": 1000 * (children_cpu_s() - cpu) / max(updates, 1),
            "remote_cpu_ms": 1000 * (remote_cpu_s(fleet) - remote) / max(updates, 1)}


def watch(fleet: Fleet, interval: float, cycles: int, mitogen: bool, work: str) -> dict:
    records = os.path.join(work, "watch-%d.jsonl" % time.monotonic_ns())
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), GPUFLEET_DASHBOARD_JSON=records,
               ANSIBLE_FORKS=str(max(len(fleet.hosts), 5)))
    if mitogen:
        env.update(ANSIBLE_STRATEGY="mitogen_linear", ANSIBLE_STRATEGY_PLUGINS=str(mitogen_strategy_dir()))
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", fleet.inventory, "playbooks/watch.yml",
            "-e", "watch_interval=%g" % interval, "-e", "watch_min_interval=0", "-e", "watch_cycles=%d" % cycles]
    cpu, remote = children_cpu_s(), remote_cpu_s(fleet)
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    cpu, remote = children_cpu_s() - cpu, remote_cpu_s(fleet) - remote
    if proc.returncode != 0:
        raise RuntimeError("watch.yml failed (%d): %s" % (proc.returncode, proc.stderr[-2000:]))
    with open(records, encoding="utf-8") as lines:
        updates = [json.loads(line) for line in lines]
    times = {}
    for record in updates:
        if record["state"] != "unreachable" and record["document"] is not None:
            times.setdefault(record["host"], []).append(_epoch(record["time"]))
    # Steady state per host: from its second report on (its fork started, SSH connected); the
    # fleet's rate is the sum of the hosts' rates, which holds when hosts start staggered.
    periods = sorted(later - earlier for host_times in times.values()
                     for earlier, later in zip(host_times[1:], host_times[2:]))
    rate = sum((len(host_times) - 2) / (host_times[-1] - host_times[1])
               for host_times in times.values() if len(host_times) > 2 and host_times[-1] > host_times[1])
    return {"updates_per_s": rate,
            "controller_cpu_ms": 1000 * cpu / len(updates), "remote_cpu_ms": 1000 * remote / len(updates),
            "controller_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "period_p50_s": _percentile(periods, 50), "period_p90_s": _percentile(periods, 90)}


def _epoch(iso: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _percentile(values: list, percent: int) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(round(percent / 100 * (len(values) - 1))))]


def mitogen_strategy_dir() -> Path:
    import ansible_mitogen  # pylint: disable=import-outside-toplevel,import-error
    return Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"


def render_ms(hosts: int) -> float:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import render  # pylint: disable=import-outside-toplevel,import-error
    cold, warm = render.measure(hosts, 200, 3, 15)
    return warm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1,10,30,50")
    parser.add_argument("--seconds", type=float, default=20, help="duration of each saturation run")
    parser.add_argument("--mitogen", action="store_true", help="also measure watch.yml with Mitogen")
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args()
    results = []
    configs = [("watch (defaults)", False)] + ([("watch (Mitogen)", True)] if args.mitogen else [])
    with tempfile.TemporaryDirectory() as work:
        for count in (int(part) for part in args.hosts.split(",")):
            specs = [HostSpec("bench%02d" % index, "busy") for index in range(count)]
            with Fleet(specs) as fleet:
                row = {"hosts": count}
                row["seed"] = seed_method(fleet, args.seconds, False, work)
                row["seed+mux"] = seed_method(fleet, args.seconds, True, work)
                for label, mitogen in configs:
                    # Saturation: enough cycles for about --seconds of steady state.
                    probe = max(row["seed+mux"]["updates_per_s"] / count, 0.2)
                    cycles = max(6, int(min(probe, 4) * args.seconds) + 3)
                    row[label] = watch(fleet, 0, cycles, mitogen, work)
                    row[label + " @5s"] = watch(fleet, 5, 8, mitogen, work)
                results.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    print_table(results, [label for label, _mitogen in configs], render_ms(50))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def print_table(results: list, labels: list, render_50_ms: float) -> None:
    print("%5s %-18s %11s %9s %12s %12s %9s %9s %9s %9s" % (
        "hosts", "method", "updates/s", "x mux", "ctl CPU ms", "remote CPU", "RSS MiB", "upd/s @5s", "p50 @5s",
        "p90 @5s"))
    for row in results:
        floor = row["seed+mux"]["updates_per_s"]
        for label in ["seed", "seed+mux"] + labels:
            figures = row[label]
            at5 = row.get(label + " @5s", {})
            print("%5d %-18s %11.2f %9.2f %12.1f %12.1f %9s %9s %9s %9s" % (
                row["hosts"], label, figures["updates_per_s"], figures["updates_per_s"] / floor,
                figures["controller_cpu_ms"], figures["remote_cpu_ms"],
                "%.0f" % figures["controller_rss_mib"] if "controller_rss_mib" in figures else "-",
                "%.2f" % at5["updates_per_s"] if at5 else "-",
                "%.2f" % at5["period_p50_s"] if at5.get("period_p50_s") is not None else "-",
                "%.2f" % at5["period_p90_s"] if at5.get("period_p90_s") is not None else "-"))
    print("render, 50 hosts x 8 GPUs, one panel changed: %.1f ms per frame" % render_50_ms)


if __name__ == "__main__":
    sys.exit(main())
