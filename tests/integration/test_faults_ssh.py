# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection over real SSH: playbooks/watch.yml against the SSH test fleet (tests/fleet:
sshd hosts in network namespaces, the real inventory plugin), one fault per host.

Each test checks what the operator sees for the faulty host (the plain line, the JSON record)
and that the other hosts keep refreshing with their normal state meanwhile. Two watches carry
most faults, to keep the runtime low: one over hosts broken before it starts (refused, TCP
blackhole, hanging nvidia-smi, docker permission denied, hostile logs, a container name with
shell syntax), and one where faults come and go mid-watch (sshd killed and restarted,
container removed and back, host key changed, a host crashing during a collection). Hostile
logs on a terminal run on their own."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import signal
import subprocess
import time
import tomllib
import uuid

import pytest

from support import PtyRun, VENV_BIN, WatchRun, running_fleet
from tests.fleet import HostSpec

pytestmark = pytest.mark.slow

INTERVAL = 1.0
CYCLES = 3
COMMAND_TIMEOUT = 2
# A healthy host's refreshes start INTERVAL apart, or when the previous collection ended if it
# took longer: on a busy 2-core machine, with every host collecting at once, up to ~3.5 s
# (measured). Still below the 5 s a blackholed host hangs, which a stalled host would show.
STEADY_GAP = 4.0
ESCAPE_BYTES = re.compile(rb"[\x07\x1b]")
C1_CHARACTERS = re.compile("[\u0080-\u009f]")
SGR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def record_time(record: dict) -> float:
    return datetime.datetime.fromisoformat(record["time"]).timestamp()


def host_records(records: list, name: str) -> list:
    return [record for record in records if record["host"] == name]


def host_lines(lines: list, name: str) -> list:
    return [line for line in lines if line.startswith(name + " ")]


def gaps(times: list) -> list:
    return [round(later - earlier, 2) for earlier, later in zip(times, times[1:])]


def connect_timeout(fleet, name: str) -> int:
    """The ConnectTimeout the inventory gives ssh: hypr's [ssh] connect_timeout_sec."""
    with open(fleet.host(name).toml_path, "rb") as handle:
        return tomllib.load(handle)["ssh"]["connect_timeout_sec"]


# --- faults present before the watch starts ------------------------------------------------------

STANDING_STATES = {
    "gpu-ok": "serving",
    "gpu-idle": "idle",
    "gpu-refused": "unreachable",
    "gpu-blackhole": "unreachable",
    "gpu-smi-hang": "serving",
    "gpu-docker-denied": "unknown",
    "gpu-hostile": "serving",
    "gpu-shell-name": "failed",
}
HEALTHY = ("gpu-ok", "gpu-idle")


@dataclasses.dataclass
class StandingRun:
    returncode: int
    raw: list  # stdout lines as bytes
    lines: list
    records: list
    addresses: dict
    connect_timeout_s: int
    canary: str
    canary_existed: bool
    logs: str


@pytest.fixture(scope="module")
def standing(tmp_path_factory, ansible_env) -> StandingRun:
    canary = "/tmp/PWNED_%s" % uuid.uuid4().hex[:12]
    specs = [
        HostSpec("gpu-ok", "busy"),
        HostSpec("gpu-idle", "idle"),
        HostSpec("gpu-refused", "busy"),
        HostSpec("gpu-blackhole", "busy"),
        # These two are about the log's figures: no HTTP server, whose /metrics would replace them.
        HostSpec("gpu-smi-hang", "busy", http=None),
        HostSpec("gpu-docker-denied", "docker-permission-denied"),
        HostSpec("gpu-hostile", "hostile", http=None),
        HostSpec("gpu-shell-name", "busy", container="vllm;touch " + canary),
    ]
    json_path = tmp_path_factory.mktemp("standing") / "watch.jsonl"
    with running_fleet(specs) as fleet:
        # The canary check below is meaningful only if the hosts' /tmp is this machine's /tmp.
        probe = "/tmp/gpft-probe-%s" % uuid.uuid4().hex[:12]
        assert fleet.ssh("gpu-ok", "touch", probe).returncode == 0 and os.path.exists(probe)
        os.unlink(probe)
        fleet.kill_sshd("gpu-refused")
        fleet.tcp_blackhole("gpu-blackhole")
        fleet.simulator_set("gpu-smi-hang", nvidia_smi="hang")
        with WatchRun(
            fleet.inventory,
            ansible_env,
            json_path,
            interval=INTERVAL,
            cycles=CYCLES,
            extra_vars=("gpufleet_command_timeout=%d" % COMMAND_TIMEOUT,),
        ) as watch:
            returncode = watch.wait(120)
        return StandingRun(
            returncode=returncode,
            raw=list(watch.reader.raw),
            lines=list(watch.reader.lines),
            records=watch.records(),
            addresses={name: fleet.host(name).address for name in STANDING_STATES},
            connect_timeout_s=connect_timeout(fleet, "gpu-blackhole"),
            canary=canary,
            canary_existed=os.path.exists(canary),
            logs=fleet.logs(),
        )


def assert_every_host_kept_its_state(run: StandingRun) -> None:
    """Every host refreshed all its cycles, each in its own state: no fault leaked into another
    host, stopped its refreshes or ended the watch early."""
    assert run.returncode == 0, "\n".join(run.lines)
    states = {name: [record["state"] for record in host_records(run.records, name)] for name in STANDING_STATES}
    assert states == {name: [state] * CYCLES for name, state in STANDING_STATES.items()}, run.logs
    for name, state in STANDING_STATES.items():
        lines = host_lines(run.lines, name)
        assert len(lines) == CYCLES and all(line.startswith("%s %s " % (name, state)) for line in lines), lines
    for name in HEALTHY:
        times = [record_time(record) for record in host_records(run.records, name)]
        assert max(gaps(times)) <= STEADY_GAP, (name, gaps(times))


def test_host_down_from_the_start_is_shown_refused(standing):
    assert_every_host_kept_its_state(standing)
    refused = "ssh: connect to host %s port 22: Connection refused" % standing.addresses["gpu-refused"]
    # Now and then Ansible fails writing the module to an ssh that has already exited and keeps
    # only "[Errno 32] Broken pipe": the action plugin then asks ssh again, so the cause shows
    # every time.
    lines = host_lines(standing.lines, "gpu-refused")
    assert len(lines) == CYCLES
    assert all(line == 'gpu-refused unreachable error="%s" checks=1fail age=0s' % refused for line in lines), lines
    for record in host_records(standing.records, "gpu-refused"):
        assert record["unreachable"] == refused
        assert record["document"] is None
        assert [(check["name"], check["status"]) for check in record["checks"]] == [("reachable", "fail")]


def test_tcp_blackhole_is_bounded_by_the_connect_timeout_and_stalls_no_one(standing):
    assert_every_host_kept_its_state(standing)
    timeout = standing.connect_timeout_s
    assert timeout == 5
    for line in host_lines(standing.lines, "gpu-blackhole"):
        assert line.startswith('gpu-blackhole unreachable error="Connection timed out during banner exchange')
        assert "Connection to %s port 22 timed out" % standing.addresses["gpu-blackhole"] in line
    times = [record_time(record) for record in host_records(standing.records, "gpu-blackhole")]
    # Each attempt hangs in the banner exchange until ConnectTimeout, then the next starts at once.
    assert all(timeout - 0.5 <= gap <= timeout + 2.0 for gap in gaps(times)), gaps(times)
    first_result = min(record_time(record) for record in standing.records)
    assert times[0] - first_result <= timeout + 2.0
    # The healthy hosts refreshed at their own pace, never waiting for the blackholed host: none of
    # their refreshes took as long as one hung attempt, and they were done before its last one.
    for name in HEALTHY:
        healthy_times = [record_time(record) for record in host_records(standing.records, name)]
        assert max(gaps(healthy_times)) < timeout and healthy_times[-1] < times[-1], (name, gaps(healthy_times))


def test_hanging_nvidia_smi_times_out_and_keeps_the_rest_of_the_document(standing):
    assert_every_host_kept_its_state(standing)
    for line in host_lines(standing.lines, "gpu-smi-hang"):
        assert line.startswith(
            "gpu-smi-hang serving gpu=timeout util=n/a vram=n/a temp=n/a "
            "gen=87.6tok/s prompt=1234.5tok/s run=3 wait=1 kv=42.3% checks=1fail "
        ), line
    records = host_records(standing.records, "gpu-smi-hang")
    for record in records:
        document = record["document"]
        assert document["gpu"]["status"] == "timeout"
        assert document["gpu"]["devices"] == []
        assert document["gpu"]["message"] == (
            "nvidia-smi did not answer in time; the driver may be hung (look for Xid "
            "errors in dmesg), reboot the VM if it persists"
        )
        assert document["container"]["status"] == "running"
        assert document["vllm"]["phase"] == "serving"
        assert [engine["generation_tps"] for engine in document["vllm"]["engines"]] == [87.6]
        assert [check["name"] for check in record["checks"] if check["status"] == "fail"] == ["gpu_driver"]
    # Bounded by the command timeout, and the refreshes go on.
    times = [record_time(record) for record in records]
    assert all(gap <= COMMAND_TIMEOUT + STEADY_GAP for gap in gaps(times)), gaps(times)


def test_docker_permission_denied_hints_at_the_docker_group(standing):
    assert_every_host_kept_its_state(standing)
    for line in host_lines(standing.lines, "gpu-docker-denied"):
        assert line.startswith('gpu-docker-denied unknown msg="permission denied on the Docker daemon socket'), line
        assert "add the SSH user to the docker group (sudo usermod -aG docker USER" in line
        assert " gpu=1/1 " in line
    for record in host_records(standing.records, "gpu-docker-denied"):
        container = record["document"]["container"]
        assert (container["status"], container["error_kind"]) == ("error", "permission_denied")
        assert "docker group" in container["message"]
        assert record["document"]["gpu"]["status"] == "ok"
        assert record["document"]["vllm"]["log_status"] == "not_read"


def test_hostile_logs_leave_the_plain_output_clean(standing):
    assert_every_host_kept_its_state(standing)
    assert [line for line in standing.raw if ESCAPE_BYTES.search(line)] == []
    text = b"\n".join(standing.raw).decode("utf-8")  # strict: no invalid UTF-8 passed through
    assert C1_CHARACTERS.search(text) is None
    for line in host_lines(standing.lines, "gpu-hostile"):
        assert line.startswith(
            "gpu-hostile serving gpu=1/1 util=20% vram=93% temp=50C gen=27.1tok/s "
            "prompt=314.2tok/s run=1 wait=0 kv=8.8% checks=ok "
        ), line
    # The log's look-alike VM header did not become a line of its own.
    assert not [line for line in standing.lines if "hyperstack-vm2" in line or "99999.9" in line]


def test_container_name_with_shell_syntax_is_rejected_and_nothing_runs(standing):
    assert_every_host_kept_its_state(standing)
    name = "vllm;touch " + standing.canary
    expected = (
        "gpu-shell-name failed failure=\"invalid container name '%s': docker names are 2-255 characters, "
        "start with a letter or digit and contain only letters, digits, '_', '.' and '-'\" checks=1fail age=0s" % name
    )
    assert host_lines(standing.lines, "gpu-shell-name") == [expected] * CYCLES
    for record in host_records(standing.records, "gpu-shell-name"):
        assert record["failure"].startswith("invalid container name '%s'" % name)
        assert record["document"] is None and record["unreachable"] is None
    assert not standing.canary_existed
    assert not os.path.exists(standing.canary)


# --- faults that come and go during the watch ----------------------------------------------------

MID_HOSTS = ("gpu-steady", "gpu-sshd", "gpu-container", "gpu-rekey", "gpu-crash")
# What the one refresh in flight when sshd stops ends as, depending on what the stop cuts: done
# just before, or the session or connection cut (unreachable, with ssh's cause when it gave one).
IN_FLIGHT = re.compile(r"\S+ (?:serving |unreachable )")


@dataclasses.dataclass
class MidRun:
    lines: list
    times: list  # time.monotonic() each line arrived
    records: list
    addresses: dict
    fault_index: int  # first line after the faults
    restarted_at: float  # time.monotonic() once sshd answered again and the container was back
    restart_index: int
    old_host_key: str
    new_host_key: str
    known_hosts_before: str
    known_hosts_after: str

    def lines_of(self, name: str, start: int = 0, end: int | None = None) -> list:
        return [line for line in self.lines[start:end] if line.startswith(name + " ")]

    def indexed_lines_of(self, name: str, start: int = 0) -> list:
        return [
            (index, line) for index, line in enumerate(self.lines) if index >= start and line.startswith(name + " ")
        ]


def public_key(path: str) -> str:
    with open(path + ".pub", encoding="ascii") as handle:
        return handle.read().split()[1]


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def crash_host(fleet, name: str) -> None:
    """Every process of the host dies at once, as in a crash: SIGKILL to sshd, the init of the
    host's PID namespace (the harness's kill_sshd stops them one by one, leaves first, which lets
    a module that was waiting on a child finish). Its address stays up: later connections are
    refused."""
    launcher = fleet.host(name).sshd.pid
    with open("/proc/%d/task/%d/children" % (launcher, launcher), encoding="ascii") as handle:
        for pid in handle.read().split():
            os.kill(int(pid), signal.SIGKILL)


def wait_for_host_process(fleet, name: str, text: str, timeout: float) -> None:
    """Until a process whose command line contains TEXT runs on host NAME (in its namespace)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = subprocess.run(
            ["ip", "netns", "pids", fleet.host(name).netns], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in pids:
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as handle:
                    if text.encode() in handle.read():
                        return
            except OSError:
                continue
        time.sleep(0.05)
    raise AssertionError("no %r process on %s after %gs" % (text, name, timeout))


@pytest.fixture(scope="module")
def mid_watch(tmp_path_factory, ansible_env) -> MidRun:
    json_path = tmp_path_factory.mktemp("mid") / "watch.jsonl"
    with running_fleet([HostSpec(name, "busy") for name in MID_HOSTS]) as fleet:
        # gpu-crash's collections hang in nvidia-smi (10 s, the default command timeout), so that
        # the crash surely cuts a running module.
        fleet.simulator_set("gpu-crash", nvidia_smi="hang")
        with WatchRun(fleet.inventory, ansible_env, json_path, interval=INTERVAL, cycles=90) as watch:
            reader = watch.reader
            for name in ("gpu-steady", "gpu-sshd", "gpu-container", "gpu-rekey"):
                reader.wait_for(lambda line, name=name: line.startswith(name + " serving "), 60)
            rekey = fleet.host("gpu-rekey")
            old_key, known_before = public_key(rekey.host_key), read_text(rekey.known_hosts)

            wait_for_host_process(fleet, "gpu-crash", "nvidia-smi", 15)
            fault_index = len(reader.lines)
            crash_host(fleet, "gpu-crash")
            fleet.kill_sshd("gpu-sshd")
            fleet.simulator_set("gpu-container", container="absent")
            fleet.rotate_host_key("gpu-rekey")
            for prefix in ("gpu-container stopped ", "gpu-rekey unreachable "):
                reader.wait_for(lambda line, prefix=prefix: line.startswith(prefix), 30, start=fault_index)
            crashed = reader.wait_for(lambda line: line.startswith("gpu-crash "), 30, start=fault_index)
            reader.wait_for(lambda line: line.startswith("gpu-crash "), 10, start=crashed + 1)
            # Two refused refreshes: the host stays down until sshd is back.
            refused = reader.wait_for(
                lambda line: line.startswith("gpu-sshd unreachable ") and "refused" in line, 30, start=fault_index
            )
            reader.wait_for(lambda line: line.startswith("gpu-sshd unreachable "), 10, start=refused + 1)

            fleet.start_sshd("gpu-sshd")
            fleet.simulator_set("gpu-container", container="present")
            restart_index, restarted_at = len(reader.lines), time.monotonic()
            back = [
                reader.wait_for(lambda line, prefix=prefix: line.startswith(prefix), 30, start=restart_index)
                for prefix in ("gpu-sshd serving ", "gpu-container serving ")
            ]
            # Two more refreshes of the re-keyed host: still refused after the others recovered.
            seen = max(back)
            for _refresh in range(2):
                seen = reader.wait_for(lambda line: line.startswith("gpu-rekey "), 10, start=seen + 1)
            last = reader.wait_for(lambda line: line.startswith("gpu-steady "), 10, start=seen)
            watch.stop()
        return MidRun(
            lines=reader.lines[: last + 1],
            times=reader.times[: last + 1],
            records=watch.records(),
            addresses={name: fleet.host(name).address for name in MID_HOSTS},
            fault_index=fault_index,
            restarted_at=restarted_at,
            restart_index=restart_index,
            old_host_key=old_key,
            new_host_key=public_key(rekey.host_key),
            known_hosts_before=known_before,
            known_hosts_after=read_text(rekey.known_hosts),
        )


def assert_steady_host_unaffected(run: MidRun) -> None:
    """gpu-steady served on every refresh, before, during and after the faults, at its pace."""
    steady = run.indexed_lines_of("gpu-steady")
    assert [line.split(" ", 2)[1] for _index, line in steady] == ["serving"] * len(steady)
    assert steady[0][0] < run.fault_index and steady[-1][0] > run.restart_index
    times = [run.times[index] for index, _line in steady]
    assert max(gaps(times)) <= STEADY_GAP, gaps(times)


def settled_after_fault(lines: list, settled_prefix: str, meanwhile: str | None = None) -> list:
    """A host's lines after a fault, from the first in the fault's state. Before it: at most the
    one refresh that was in flight when the fault hit, and lines saying MEANWHILE (the fault
    taking effect, such as sshd restarting with its new key)."""
    first = next((index for index, line in enumerate(lines) if line.startswith(settled_prefix)), None)
    assert first is not None, lines
    before = [line for line in lines[:first] if meanwhile is None or meanwhile not in line]
    assert len(before) <= 1 and all(IN_FLIGHT.match(line) for line in before), lines
    return lines[first:]


def test_sshd_killed_mid_watch_comes_back_within_two_intervals_of_the_restart(mid_watch):
    run = mid_watch
    assert_steady_host_unaffected(run)
    assert all(line.startswith("gpu-sshd serving gpu=1/1 ") for line in run.lines_of("gpu-sshd", 0, run.fault_index))
    refused = (
        'gpu-sshd unreachable error="ssh: connect to host %s port 22: Connection refused" checks=1fail age=0s'
        % run.addresses["gpu-sshd"]
    )
    down = settled_after_fault(run.lines_of("gpu-sshd", run.fault_index, run.restart_index), refused)
    # Refused until the restart (now and then a refused connection reads "[Errno 32] Broken pipe").
    assert down.count(refused) >= 2 and all(line.startswith("gpu-sshd unreachable ") for line in down), down
    after = run.indexed_lines_of("gpu-sshd", run.restart_index)
    back = next(position for position, (_index, line) in enumerate(after) if line.startswith("gpu-sshd serving "))
    # Back on the first refresh that started after the restart: before it at most the one that
    # was already in flight (refused). In time: the next refresh starts within an interval and
    # takes what a healthy host's refresh takes on this machine.
    assert back <= 1 and all(line.startswith("gpu-sshd unreachable ") for _index, line in after[:back]), after
    back_index, back_line = after[back]
    assert back_line.startswith("gpu-sshd serving gpu=1/1 util=87% vram=93% temp=67C gen=")
    came_back_in = run.times[back_index] - run.restarted_at
    assert came_back_in <= INTERVAL + STEADY_GAP, came_back_in
    assert all(line.startswith("gpu-sshd serving ") for _index, line in after[back:])


def test_container_removed_mid_watch_is_missing_then_back(mid_watch):
    run = mid_watch
    assert_steady_host_unaffected(run)
    missing = settled_after_fault(
        run.lines_of("gpu-container", run.fault_index, run.restart_index), "gpu-container stopped "
    )
    assert all(line.startswith("gpu-container stopped container=missing gpu=1/1 ") for line in missing), missing
    records = [record for record in host_records(run.records, "gpu-container") if record["state"] == "stopped"]
    assert len(records) == len([line for line in run.lines if line.startswith("gpu-container stopped ")])
    for record in records:
        document = record["document"]
        assert (document["container"]["status"], document["vllm"]["phase"]) == ("missing", "stopped")
        assert document["gpu"]["status"] == "ok"
        assert [check["name"] for check in record["checks"] if check["status"] == "fail"] == ["container_running"]
    after = run.lines_of("gpu-container", run.restart_index)
    back = next(index for index, line in enumerate(after) if line.startswith("gpu-container serving "))
    assert back <= 1 and all(line.startswith("gpu-container stopped ") for line in after[:back]), after
    assert all(line.startswith("gpu-container serving gpu=1/1 ") for line in after[back:]), after


def test_changed_host_key_is_refused_and_the_old_key_kept(mid_watch):
    run = mid_watch
    assert_steady_host_unaffected(run)
    # While sshd restarts with its new key, connections are refused.
    refused = settled_after_fault(
        run.lines_of("gpu-rekey", run.fault_index),
        'gpu-rekey unreachable error="WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!',
        meanwhile="Connection refused",
    )
    assert len(refused) >= 3, refused
    assert refused == [
        line
        for line in refused
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in line or "Host key verification failed" in line
    ], refused
    # Never accepted: the known-hosts file still pins the old key, and only that.
    assert run.old_host_key != run.new_host_key
    assert run.old_host_key in run.known_hosts_before
    assert run.known_hosts_after == run.known_hosts_before


def test_crash_during_a_collection_shows_the_cause(mid_watch):
    run = mid_watch
    assert_steady_host_unaffected(run)
    first = run.lines_of("gpu-crash", run.fault_index)[0]
    # The crash is shown as unreachable with a cause ("Connection closed by ...", "connection
    # lost"), not with Ansible's wrapper or ssh's chatter, as the action plugin promises.
    assert first.startswith('gpu-crash unreachable error="'), first
    assert "Data could not be sent" not in first and "Permanently added" not in first, first


# --- hostile logs on a terminal ------------------------------------------------------------------

# hypr's model name is shown in the panel title: markup there must stay text.
MARKUP_MODEL = "evil/Qwen-[bold red]FAKE[blink]"


def test_hostile_logs_and_markup_on_the_live_dashboard(ssh_fleet, ansible_env, tmp_path):
    fleet = ssh_fleet([HostSpec("gpu-hostile", "hostile", model=MARKUP_MODEL), HostSpec("gpu-ok", "busy")])
    json_path = tmp_path / "watch.jsonl"
    session = PtyRun(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            fleet.inventory,
            "playbooks/watch.yml",
            "-e",
            "watch_interval=1",
            "-e",
            "watch_cycles=3",
        ],
        dict(ansible_env, GPUFLEET_DASHBOARD_JSON=str(json_path)),
    )
    try:
        assert session.wait(90) == 0, session.text[-3000:]
    finally:
        session.close()
    text = session.text
    assert "\x1b]" not in text  # no OSC at all: no window title, no hyperlink
    assert "\x1b[2J" not in text and "\x07" not in text
    assert C1_CHARACTERS.search(text) is None
    plain = SGR.sub("", text)
    assert "owned by the log" not in plain and "evil.example" not in plain
    # The markup is shown as typed, inside one styled run (no style switch within it).
    assert "Qwen-[bold red]FAKE[blink]" in text
    final_frame = plain[plain.rfind("Ctrl-C to stop") :]
    assert len(re.findall(r"vllm\s+serving", final_frame)) == 2, final_frame
    states = {}
    for line in json_path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        states.setdefault(record["host"], []).append(record["state"])
    assert states == {"gpu-hostile": ["serving"] * 3, "gpu-ok": ["serving"] * 3}
