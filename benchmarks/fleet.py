# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Steady-state cost of the watch loop over the real sshd test fleet, against raw SSH.

For each fleet size N (real sshd hosts in network namespaces, scenario ``busy``, tests/fleet),
in the same run:
  seed      the Ruby watcher's method: one ``ssh host 'bash -se'`` per host per cycle, in
            parallel threads, running the same three commands against the same simulator;
  seed+mux  the same over SSH connection multiplexing (ControlMaster/ControlPersist);
  watch     playbooks/watch.yml with the shipped ansible.cfg, and with each --config given
            (``mitogen``: the large-fleet setting; ``poll=S``: another internal_poll_interval);
each at saturation (interval 0) and, for the watch loop, at the default 5 s interval.

Every figure comes from a steady-state window: the window opens once every host has reported
twice (its worker started, SSH connected), and closes --seconds later. CPU is counted over every
process the run started, including the detached ssh ControlMasters and Mitogen's processes (this
process is a child subreaper, so they stay its descendants), split by component, and divided by
the host-updates reported inside the window. Remote CPU (each host's sshd and everything under
it) is reported apart.

--floor N measures the controller's own floor instead: N hosts on a connection that does nothing
(benchmarks/connection_plugins/gpufleet_noop.py answers with a recorded node_info result), so
only the strategy, the workers, the module build and the dashboard cost anything.

Needs root. Every run stops by itself (a hard limit per playbook run; Ctrl-C cleans up).

    .venv/bin/python benchmarks/fleet.py --hosts 30 --seconds 30 --config defaults --config mitogen
    .venv/bin/python benchmarks/fleet.py --floor 300 --intervals 5 --config poll=0.001 --config defaults
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import json
import os
import re
import resource
import signal
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
PR_SET_CHILD_SUBREAPER = 36
# How long a playbook run may take beyond its window before it is stopped.
START_LIMIT_S = 240
STOP_LIMIT_S = 30
# "Saturation": the shortest interval watch_settings accepts (0 is refused), with no floor.
SATURATION_INTERVAL_S = 0.001
QUERY = "index,uuid,name,temperature.gpu,utilization.gpu,power.draw,power.limit,memory.used,memory.total"
# The seed's script (watcher.rb), plus the docker inspect that node_info also runs (its JSON).
SEED_SCRIPT = (
    """export PATH=/opt/fakegpu/bin:$PATH
nvidia-smi --query-gpu=%s --format=csv,noheader,nounits
docker container inspect %%(container)s
echo ===VLLM===
_logs=$(docker logs --tail 300 %%(container)s 2>&1)
echo "$_logs" | grep 'Engine 0' | tail -1
echo ===LOADING===
echo "$_logs" | grep -E 'Starting to load|Loading model|model weight|Downloading|shard' | tail -1
"""
    % QUERY
)
CONFIG_COPIES: list = []
COMPONENTS = (
    "main: main thread",
    "main: other threads",
    "workers",
    "ssh client per refresh",
    "ControlMaster",
    "Mitogen processes",
    "other",
)


# -- CPU of every process this benchmark started -----------------------------------------------


def become_subreaper() -> None:
    """Orphans (ssh ControlMasters detach; Mitogen's processes may outlive their parent) are
    re-parented to this process instead of init, so they stay countable descendants."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _stat(pid: int, tid: int | None = None) -> tuple | None:
    """(ppid, own CPU ticks, reaped children's CPU ticks) of a process or one of its threads."""
    path = "/proc/%d/stat" % pid if tid is None else "/proc/%d/task/%d/stat" % (pid, tid)
    try:
        with open(path, encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _cmdline(pid: int) -> str:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as cmdline:
            return cmdline.read(4096).replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


class Snapshot:
    """CPU ticks of every live (or not yet reaped) descendant of this process, outside the
    excluded subtrees (the hosts' sshd), classified by component."""

    def __init__(self, exclude: set, playbook: int | None, mitogen_roots: set):
        self.taken = time.monotonic()
        self.reaped_by_us = resource.getrusage(resource.RUSAGE_CHILDREN)
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _stat(int(entry))
                if stat is not None:
                    parents[int(entry)] = stat
        children = {}
        for pid, (ppid, _own, _reaped) in parents.items():
            children.setdefault(ppid, []).append(pid)
        self.ticks = dict.fromkeys(COMPONENTS, 0)
        self.pids = set()
        todo = [(pid, "other") for pid in children.get(os.getpid(), [])]
        while todo:
            pid, inherited = todo.pop()
            if pid in exclude:
                continue
            self.pids.add(pid)
            _ppid, own, reaped = parents[pid]
            component = self._component(pid, inherited, playbook, mitogen_roots)
            if pid == playbook:
                main_thread = _stat(pid, pid)
                main_ticks = main_thread[1] if main_thread else 0
                self.ticks["main: main thread"] += main_ticks
                self.ticks["main: other threads"] += own - main_ticks
                self.ticks["other"] += reaped  # workers that ended
                below = "workers"
            else:
                self.ticks[component] += own
                # What a worker reaped is its ssh clients (one per refresh on the default path).
                self.ticks["ssh client per refresh" if component == "workers" else component] += reaped
                below = "ssh client per refresh" if component == "workers" else component
            todo.extend((child, below) for child in children.get(pid, []))
        usage = self.reaped_by_us
        self.ticks["other"] += round((usage.ru_utime + usage.ru_stime) * CLOCK_TICKS)

    @staticmethod
    def _component(pid: int, inherited: str, playbook: int | None, mitogen_roots: set) -> str:
        if pid in mitogen_roots or inherited == "Mitogen processes":
            return "Mitogen processes"
        if _cmdline(pid).rstrip().endswith("[mux]"):
            return "ControlMaster"  # OpenSSH names its master "ssh: <control path> [mux]"
        if inherited == "workers" and playbook is not None:
            return "workers"
        return inherited

    def since(self, earlier: "Snapshot") -> dict:
        """CPU seconds per component between two snapshots."""
        return {name: (self.ticks[name] - earlier.ticks[name]) / CLOCK_TICKS for name in COMPONENTS}


def mitogen_processes(playbook: int) -> set:
    """Mitogen's multiplexer processes: the playbook's children that have children of their own
    (the ssh and local interpreters Mitogen keeps); task workers under Mitogen start none."""
    return {pid for pid in _children(playbook) if _children(pid)}


def remote_cpu_s(fleet: Fleet) -> float:
    """CPU of everything that ran on the hosts: each host's sshd is the init of its PID namespace
    and reaps every session, so its own plus its children's CPU covers them all."""
    total = 0
    for name in fleet.hosts:
        todo = [fleet.host(name).sshd.pid]
        while todo:
            pid = todo.pop()
            stat = _stat(pid)
            if stat is None:
                continue
            total += stat[1] + stat[2]
            todo.extend(_children(pid))
    return total / CLOCK_TICKS


def _children(pid: int) -> list:
    found = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return found
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid), encoding="ascii") as children:
                found.extend(int(child) for child in children.read().split())
        except OSError:
            pass
    return found


def sshd_pids(fleet: Fleet | None) -> set:
    return {fleet.host(name).sshd.pid for name in fleet.hosts} if fleet is not None else set()


def stop_leftovers(keep: set) -> None:
    """End what a run left behind (ControlMasters, Mitogen's processes): only this process's own
    descendants, by pid, never the fleet's sshd; then reap them."""
    leftovers = Snapshot(keep, None, set()).pids
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        reap_orphans()
        if not any(_stat(pid) for pid in leftovers):
            break
        time.sleep(0.1)
    reap_orphans()


def reap_orphans() -> None:
    for pid in list(_children(os.getpid())):
        stat_path = "/proc/%d/stat" % pid
        try:
            with open(stat_path, encoding="ascii", errors="replace") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


# -- the seed's method ----------------------------------------------------------------------------


def seed_method(fleet: Fleet, seconds: float, mux: bool, control_dir: str) -> dict:
    """hypr's loop, measured over the same kind of window: warm-up first (every host done once)."""
    stop = threading.Event()
    counts = {name: 0 for name in fleet.hosts}

    def loop(host) -> None:
        argv = fleet.ssh_argv(host.name, "bash -se")
        if mux:
            argv[1:1] = [
                "-o",
                "ControlMaster=auto",
                "-o",
                "ControlPersist=60",
                "-o",
                "ControlPath=%s/%%C" % control_dir,
            ]
        script = SEED_SCRIPT % {"container": host.spec.container or "vllm_qwen36_27b"}
        while not stop.is_set():
            proc = subprocess.run(argv, input=script, capture_output=True, text=True, check=False, timeout=60)
            if proc.returncode == 0 and "===VLLM===" in proc.stdout:
                counts[host.name] += 1

    exclude = sshd_pids(fleet)
    threads = [threading.Thread(target=loop, args=(fleet.host(name),), daemon=True) for name in fleet.hosts]
    for thread in threads:
        thread.start()
    warm_deadline = time.monotonic() + START_LIMIT_S
    while min(counts.values()) < 1 and time.monotonic() < warm_deadline:
        time.sleep(0.2)
    before, remote, done = Snapshot(exclude, None, set()), remote_cpu_s(fleet), sum(counts.values())
    time.sleep(seconds)
    after, remote, done = Snapshot(exclude, None, set()), remote_cpu_s(fleet) - remote, sum(counts.values()) - done
    stop.set()
    for thread in threads:
        thread.join(90)
    stop_leftovers(exclude)
    cpu = after.since(before)
    return {
        "updates": done,
        "updates_per_s": done / (after.taken - before.taken),
        "controller_cpu_ms": 1000 * sum(cpu.values()) / max(done, 1),
        "remote_cpu_ms": 1000 * remote / max(done, 1),
    }


# -- the watch loop ---------------------------------------------------------------------------


def watch_env(config: str, records: str, forks: int) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), GPUFLEET_DASHBOARD_JSON=records, ANSIBLE_FORKS=str(max(forks, 5))
    )
    for part in (config or "").split("+"):
        if part == "mitogen":
            env.update(ANSIBLE_STRATEGY="mitogen_linear")
        elif part.startswith("poll="):
            # internal_poll_interval has no environment variable: a copy of ansible.cfg next to it
            # (its relative paths resolve against its folder) with the value replaced.
            env.update(ANSIBLE_CONFIG=poll_config(float(part[len("poll=") :])))
        elif part not in ("", "defaults"):
            raise SystemExit("unknown --config %r: use defaults, mitogen, poll=SECONDS or a + of them" % part)
    return env


def poll_config(seconds: float) -> str:
    path = ROOT / (".benchmark-poll-%g-%d.cfg" % (seconds, os.getpid()))
    text = (ROOT / "ansible.cfg").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("internal_poll_interval")]
    lines.insert(lines.index("[defaults]") + 1, "internal_poll_interval = %r" % seconds)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    CONFIG_COPIES.append(path)
    return str(path)


def watch(
    inventory: str,
    hosts: list,
    interval: float,
    seconds: float,
    config: str,
    work: str,
    fleet: Fleet | None = None,
    extra_env: dict | None = None,
    profile: str | None = None,
) -> dict:
    """One watch.yml run: wait for steady state, measure a window of ``seconds``, stop it."""
    records = os.path.join(work, "watch-%d.jsonl" % time.monotonic_ns())
    env = watch_env(config, records, len(hosts))
    env.update(extra_env or {})
    argv = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        inventory,
        "playbooks/watch.yml",
        "-e",
        "watch_interval=%g" % (interval or SATURATION_INTERVAL_S),
        "-e",
        "watch_min_interval=0",
        "-e",
        "watch_cycles=100000",
    ]
    exclude = sshd_pids(fleet)
    log = open(os.path.join(work, "watch.log"), "w", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
        start_new_session=True,
    )
    try:
        reader = RecordReader(records)
        deadline = time.monotonic() + START_LIMIT_S
        while not reader.every_host_reported(hosts, 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    "watch.yml did not reach steady state (exit %s): %s"
                    % (proc.poll(), Path(log.name).read_text(encoding="utf-8", errors="replace")[-2000:])
                )
            time.sleep(0.2)
        mitogen = mitogen_processes(proc.pid) if "mitogen" in config else set()
        before, remote, first = (
            Snapshot(exclude, proc.pid, mitogen),
            remote_cpu_s(fleet) if fleet else 0,
            reader.count(),
        )
        if profile:
            sample(proc.pid, seconds, profile)
        else:
            time.sleep(seconds)
        reader.read()
        after, last = Snapshot(exclude, proc.pid, mitogen), reader.count()
        remote = (remote_cpu_s(fleet) - remote) if fleet else 0
    finally:
        stop_run(proc)
        log.close()
        stop_leftovers(exclude)
    window = reader.records[first:last]
    updates = len(window)
    cpu = after.since(before)
    per_update = {name: 1000 * value / max(updates, 1) for name, value in cpu.items()}
    periods = reader.periods(first, last)
    return {
        "updates": updates,
        "window_s": after.taken - before.taken,
        "updates_per_s": updates / (after.taken - before.taken),
        "unreachable": sum(1 for record in window if record.get("state") == "unreachable"),
        # Why, counted (host names and addresses taken out, so that equal causes add up).
        "unreachable_reasons": collections.Counter(
            re.sub(r"bench\d+|\d+\.\d+\.\d+\.\d+", "*", str(record.get("unreachable")))[:200]
            for record in window
            if record.get("state") == "unreachable"
        ).most_common(5),
        "states": sorted({str(record.get("state")) for record in window}),
        "controller_cpu_ms": sum(per_update.values()),
        "components_ms": per_update,
        "remote_cpu_ms": 1000 * remote / max(updates, 1),
        "period_p50_s": _percentile(periods, 50),
        "period_p90_s": _percentile(periods, 90),
        "period_max_s": periods[-1] if periods else None,
    }


def sample(pid: int, seconds: float, path: str) -> None:
    """py-spy's samples of the playbook, its threads and every process under it, for ``seconds``."""
    subprocess.run(
        [
            "py-spy",
            "record",
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            "200",
            "--duration",
            "%d" % seconds,
            "--output",
            path,
            "--pid",
            str(pid),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def stop_run(proc: subprocess.Popen) -> None:
    """Ctrl-C (the dashboard ends with 99), then the whole session if it does not end."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            proc.wait(STOP_LIMIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class RecordReader:
    """The dashboard's JSON lines (one per host-update), read as they grow."""

    def __init__(self, path: str):
        self.path, self.offset, self.records, self._partial = path, 0, [], b""

    def read(self) -> None:
        try:
            with open(self.path, "rb") as lines:
                lines.seek(self.offset)
                data = lines.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        self.records.extend(json.loads(line) for line in complete if line.strip())

    def count(self) -> int:
        self.read()
        return len(self.records)

    def every_host_reported(self, hosts: list, times: int) -> bool:
        self.read()
        seen = {}
        for record in self.records:
            seen[record["host"]] = seen.get(record["host"], 0) + 1
        return all(seen.get(host, 0) >= times for host in hosts)

    def periods(self, first: int, last: int) -> list:
        """Per-host refresh periods ending inside the window."""
        times = {}
        for index, record in enumerate(self.records[:last]):
            times.setdefault(record["host"], []).append((index, _epoch(record["time"])))
        return sorted(
            later - earlier
            for host_times in times.values()
            for (_i, earlier), (index, later) in zip(host_times, host_times[1:])
            if index >= first
        )


def _epoch(iso: str) -> float:
    from datetime import datetime  # pylint: disable=import-outside-toplevel

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _percentile(values: list, percent: int) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(round(percent / 100 * (len(values) - 1))))]


# -- the controller floor ---------------------------------------------------------------------


def recorded_result(work: str) -> str:
    """A real node_info result of a busy host (one host of the test fleet, once)."""
    with Fleet([HostSpec("record00", "busy")]) as fleet:
        env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
        env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
        proc = subprocess.run(
            [
                str(VENV_BIN / "ansible"),
                "-i",
                fleet.inventory,
                "all",
                "-m",
                "gpufleet.vllm.node_info",
                "-a",
                "container=vllm_qwen36_27b docker_path={{ gpufleet_docker_path }} "
                "nvidia_smi_path={{ gpufleet_nvidia_smi_path }}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        stop_leftovers(sshd_pids(fleet))
    try:
        # The ad-hoc command's own output: "record00 | SUCCESS => {...}".
        result = json.loads(proc.stdout.split(" => ", 1)[1])
    except (ValueError, IndexError) as exc:
        raise RuntimeError(
            "could not record a node_info result: %s %s" % (proc.stdout[-1000:], proc.stderr[-1000:])
        ) from exc
    module_output = {key: value for key, value in result.items() if not key.startswith("_ansible")}
    module_output.pop("reachable", None)
    path = os.path.join(work, "node_info_result.json")
    Path(path).write_text(json.dumps(module_output), encoding="utf-8")
    return path


def floor_inventory(work: str, count: int) -> tuple:
    hosts = ["floor%03d" % index for index in range(count)]
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "gpufleet_noop",
                "ansible_python_interpreter": "/usr/bin/python3",
                "hyperstack_vllm_container": "vllm_qwen36_27b",
            },
            "hosts": {name: {} for name in hosts},
        }
    }
    path = os.path.join(work, "floor.yml")
    Path(path).write_text(json.dumps(inventory), encoding="utf-8")
    return path, hosts


# -- report ---------------------------------------------------------------------------------


def load_average() -> str:
    return Path("/proc/loadavg").read_text(encoding="ascii").split(" ", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="30,100", help="fleet sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=30, help="length of each steady-state window")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        help="a watch setting to measure (repeatable; default: defaults, the shipped ansible.cfg): "
        "defaults, mitogen, poll=SECONDS, or a + of them (mitogen+poll=0.001)",
    )
    parser.add_argument("--no-seed", action="store_true", help="skip the seed and seed+mux baselines")
    parser.add_argument("--intervals", default="0,5", help="watch intervals in seconds, 0 = saturation")
    parser.add_argument("--floor", type=int, help="measure the controller floor with this many no-op hosts instead")
    parser.add_argument("--json", help="write the figures to this file too")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="also sample each watch run's window with py-spy (on PATH; not in requirements) into "
        "DIR as collapsed stacks, one file per run (sampling costs CPU: figures of such runs are not comparable)",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("benchmarks/fleet.py needs root (the test fleet's network namespaces)")
    become_subreaper()
    try:
        return measure(args)
    finally:
        for path in CONFIG_COPIES:
            path.unlink(missing_ok=True)


def measure(args) -> int:
    configs = args.config or ["defaults"]
    intervals = [float(part) for part in args.intervals.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as work:
        if args.floor:
            path, hosts = floor_inventory(work, args.floor)
            extra = {
                "GPUFLEET_NOOP_RESULT": recorded_result(work),
                "ANSIBLE_CONNECTION_PLUGINS": str(ROOT / "benchmarks" / "connection_plugins"),
            }
            for config in configs:
                for interval in intervals:
                    row = {
                        "hosts": args.floor,
                        "method": "floor, " + config,
                        "interval": interval,
                        "load": load_average(),
                    }
                    row.update(
                        watch(
                            path,
                            hosts,
                            interval,
                            args.seconds,
                            config,
                            work,
                            extra_env=extra,
                            profile=profile_path(args, row),
                        )
                    )
                    results.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
        for count in [] if args.floor else [int(part) for part in args.hosts.split(",")]:
            specs = [HostSpec("bench%03d" % index, "busy") for index in range(count)]
            with Fleet(specs) as fleet:
                runs = [] if args.no_seed else [("seed", False), ("seed+mux", True)]
                for label, mux in runs:
                    row = {"hosts": count, "method": label, "load": load_average()}
                    row.update(seed_method(fleet, args.seconds, mux, work))
                    results.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
                for config in configs:
                    for interval in intervals:
                        row = {
                            "hosts": count,
                            "method": "watch, " + config,
                            "interval": interval,
                            "load": load_average(),
                        }
                        row.update(
                            watch(
                                fleet.inventory,
                                list(fleet.hosts),
                                interval,
                                args.seconds,
                                config,
                                work,
                                fleet,
                                profile=profile_path(args, row),
                            )
                        )
                        results.append(row)
                        print(json.dumps(row), file=sys.stderr, flush=True)
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


def profile_path(args, row: dict) -> str | None:
    if not args.profile:
        return None
    os.makedirs(args.profile, exist_ok=True)
    name = "%d-%s-%g.txt" % (row["hosts"], row["method"].replace(", ", "-"), row["interval"])
    return os.path.join(args.profile, name)


def print_table(results: list) -> None:
    print("| hosts | method | interval | updates/s | controller ms/update | remote ms | p50 s | p90 s | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in results:
        print(
            "| %d | %s | %g | %.2f | %.1f | %.1f | %s | %s | %s |"
            % (
                row["hosts"],
                row["method"],
                row.get("interval", 0),
                row["updates_per_s"],
                row["controller_cpu_ms"],
                row["remote_cpu_ms"],
                _fmt(row.get("period_p50_s")),
                _fmt(row.get("period_p90_s")),
                row["load"],
            )
        )
    print()
    print("| hosts | method | interval | " + " | ".join(COMPONENTS) + " |")
    print("|---|---|---|" + "---|" * len(COMPONENTS))
    for row in results:
        if "components_ms" in row:
            figures = " | ".join("%.1f" % row["components_ms"][name] for name in COMPONENTS)
            print("| %d | %s | %g | %s |" % (row["hosts"], row["method"], row.get("interval", 0), figures))


def _fmt(value) -> str:
    return "-" if value is None else "%.2f" % value


if __name__ == "__main__":
    sys.exit(main())
