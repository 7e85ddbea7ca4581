# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH test fleet: N real sshd hosts, each in its own network namespace, for integration tests.

Recipe: docs/dev/mechanics.md "Test hosts in network namespaces". Host k of the machine
is the network namespace ``gpft-k``, reached through the veth pair ``gpftk`` (root side,
10.200.k.1/24) / ``eth0`` (inside, 10.200.k.2/24). Its sshd runs in private mount, UTS and PID
namespaces where the host's simulator dir is bind-mounted at /opt/fakegpu and its own home at
/home/gpft, so every host has its own GPUs at the same path. The namespaces have no route
anywhere else; an ``unreachable`` route (metric 4242) keeps 10.200.k.0/24 from ever reaching the
default route while the veth is down. Traffic therefore stays on this machine.

Teardown also stops the ssh clients still connected to the fleet (Ansible's ControlPersist
masters). Everything a fleet creates is named ``gpft...`` (namespaces, veths, /tmp/gpft-fleet-* dirs), so
``cleanup()`` can remove what a crashed run left. Needs root, iproute2, util-linux and
openssh-server (scripts/install-test-deps).

The hypr-style files under ``<fleet dir>/inventory`` (one TOML and state file per host and
``fleet.hyperstack.yml``) let the real inventory plugin gpufleet.vllm.hyperstack drive runs.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import dataclasses
import datetime
import functools
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Iterable

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SIMULATOR = os.path.join(REPO, "simulator", "bin", "fakegpu")
# The hosts run the simulator as the test user, who cannot enter /root (pyenv): the system
# Python is reachable by everyone.
HOST_PYTHON = "/usr/bin/python3"

PREFIX = "gpft"
NETNS_PREFIX = PREFIX + "-"
FLEET_DIR_PREFIX = PREFIX + "-fleet-"
TEST_USER = "gpft"
TEST_HOME = "/home/" + TEST_USER
SIMULATOR_MOUNT = "/opt/fakegpu"
SSH_PORT = 22
# Subnet k of 10.200.0.0/16 is host k; 0 and 255 are left out.
NETWORK = ipaddress.ip_network("10.200.0.0/16")
INDEXES = range(1, 255)
GUARD_METRIC = 4242
SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
DEFAULT_SCENARIO = "busy"
DEFAULT_CONTAINER = "vllm_qwen36_27b"
DEFAULT_MODEL = "Qwen/Qwen3.6-27B-FP8"
DEFAULT_FLAVOR = "n3-A100x1"
CONNECT_TIMEOUT_SEC = 5
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 3.0

# A listener that accepts TCP connections and never answers: a host whose sshd hangs.
BLACKHOLE_SERVER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(512)
held = []
while True:
    held.append(server.accept()[0])
"""

# The host's own UTS, mount and PID namespaces. sshd is the init of its PID namespace, so it
# reaps its orphaned session processes (this machine's init does not); when it stops, its sessions
# go with it, as on a host whose sshd died. unshare stays as its parent and passes SIGTERM on.
HOST_NAMESPACES = (
    "unshare",
    "--uts",
    "--mount",
    "--pid",
    "--fork",
    "--kill-child=SIGTERM",
    "--mount-proc",
    "--propagation",
    "private",
)

# Inside the host's namespaces: give it its name, its simulator and home at the shared paths.
HOST_LAUNCHER = 'hostname "$1" && mount --bind "$2" "$3" && mount --bind "$4" "$5" && shift 5 && exec "$@"'

# The simulated vLLM HTTP server of a host with HostSpec.http: started by the launcher inside the
# host's namespaces (so it stops with the host), bound to the host's loopback only.
HTTP_PORT = 11434
HTTP_LAUNCHER = (
    'PYTHONPATH="$1" "$2" -m fakegpu.vllm_http "$3" --host 127.0.0.1 --port "$4" '
    '>/dev/null 2>&1 </dev/null & shift 4 && exec "$@"'
)

PLAIN_BASHRC = "# Test host of gpufleet.vllm (tests/fleet): a plain shell, nothing to start.\n"


class FleetError(Exception):
    """The fleet could not be set up, changed or torn down; the message says what and why."""


@dataclasses.dataclass
class HostSpec:
    """What one host simulates. ``flavor`` None: derived from the scenario's GPUs."""

    name: str
    scenario: str = DEFAULT_SCENARIO
    elapsed: float | None = None
    container: str = DEFAULT_CONTAINER
    model: str = DEFAULT_MODEL
    flavor: str | None = None
    # vLLM's HTTP server (simulator/fakegpu/vllm_http.py settings, e.g. {"mode": "busy"}), served
    # inside the host on 127.0.0.1:HTTP_PORT (hypr's default port); by default it follows the
    # scenario as vLLM would (refused while loading or stopped). None: nothing listens there.
    http: dict | None = dataclasses.field(default_factory=lambda: {"mode": "scenario"})


@dataclasses.dataclass
class Host:
    """A running host: its spec, network identity and files."""

    spec: HostSpec
    index: int
    dir: str
    inventory_dir: str
    # The `unshare` that runs sshd as the init of the host's PID namespace (started here).
    sshd: subprocess.Popen | None = None
    blackhole: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def netns(self) -> str:
        return netns_name(self.index)

    @property
    def veth(self) -> str:
        return veth_name(self.index)

    @property
    def address(self) -> str:
        return "10.200.%d.2" % self.index

    @property
    def gateway(self) -> str:
        return "10.200.%d.1" % self.index

    @property
    def subnet(self) -> str:
        return "10.200.%d.0/24" % self.index

    @property
    def sim_dir(self) -> str:
        return os.path.join(self.dir, "sim")

    @property
    def home_dir(self) -> str:
        return os.path.join(self.dir, "home")

    @property
    def host_key(self) -> str:
        return os.path.join(self.dir, "ssh_host_ed25519_key")

    @property
    def sshd_config(self) -> str:
        return os.path.join(self.dir, "sshd_config")

    @property
    def sshd_log(self) -> str:
        return os.path.join(self.dir, "sshd.log")

    @property
    def pid_file(self) -> str:
        return os.path.join(self.dir, "sshd.pid")

    @property
    def toml_path(self) -> str:
        return os.path.join(self.inventory_dir, self.name + ".toml")

    @property
    def state_path(self) -> str:
        return os.path.join(self.inventory_dir, ".%s-state.json" % self.name)

    @property
    def known_hosts(self) -> str:
        """hypr's known-hosts file: ``<state file>.known_hosts``."""
        return self.state_path + ".known_hosts"


def netns_name(index: int) -> str:
    return "%s%d" % (NETNS_PREFIX, index)


def veth_name(index: int) -> str:
    return "%s%d" % (PREFIX, index)


def _run(argv: list[str], *, check: bool = True, timeout: float = 30, **kwargs: Any) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    except FileNotFoundError as exc:
        raise FleetError("%s: not installed (run scripts/install-test-deps)" % argv[0]) from exc
    if check and result.returncode != 0:
        raise FleetError(
            "%s: exit %d: %s" % (" ".join(argv), result.returncode, (result.stderr or result.stdout).strip())
        )
    return result


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["ip", *args], check=check)


@functools.lru_cache(maxsize=None)
def unavailable_reason() -> str | None:
    """Why a fleet cannot start here (for a pytest skip), or None when it can."""
    if os.geteuid() != 0:
        return "the SSH test fleet needs root (network namespaces, sshd, a test user)"
    for tool in ("ip", "unshare", "ssh", "ssh-keygen", "runuser", "useradd"):
        if shutil.which(tool) is None:
            return "%s is not installed (run scripts/install-test-deps)" % tool
    for path in (SSHD, HOST_PYTHON):
        if not os.access(path, os.X_OK):
            return "%s is missing (run scripts/install-test-deps)" % path
    if not os.path.isfile(SIMULATOR):
        return "the GPU simulator %s is missing" % SIMULATOR
    probe = "%sprobe%d" % (NETNS_PREFIX, os.getpid())
    made = _run(["ip", "netns", "add", probe], check=False)
    if made.returncode != 0:
        return "ip netns is not usable here: %s" % made.stderr.strip()
    _run(["ip", "netns", "del", probe], check=False)
    return None


def ensure_test_user() -> None:
    """The unprivileged SSH user of every host; unlocked, as sshd with UsePAM no requires."""
    if _run(["id", "-u", TEST_USER], check=False).returncode == 0:
        return
    _run(["useradd", "-m", "-s", "/bin/bash", TEST_USER])
    _run(["usermod", "-p", "*", TEST_USER])


def _user_ids() -> tuple[int, int]:
    out = _run(["id", "-u", TEST_USER]).stdout.strip(), _run(["id", "-g", TEST_USER]).stdout.strip()
    return int(out[0]), int(out[1])


def _chown_tree(path: str, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for parent, dirs, files in os.walk(path):
        for entry in dirs + files:
            os.lchown(os.path.join(parent, entry), uid, gid)


def _check_address_space() -> None:
    """Refuse to shadow a real network: nothing but fleets may use 10.200.0.0/16 here."""
    routes = [(line, line.split()) for line in _ip("-4", "-o", "route", "show", "table", "all").stdout.splitlines()]
    # `ip -o addr` lines read "<n>: <device> inet <address>/<length> ...".
    addresses = [(line, line.split()) for line in _ip("-4", "-o", "addr", "show").stdout.splitlines()]
    for line, words in routes + addresses:
        device = words[words.index("dev") + 1] if "dev" in words else (words[1] if len(words) > 1 else "")
        if re.fullmatch(PREFIX + r"\d+", device):
            continue
        if words[:1] == ["unreachable"] and "metric" in words and words[words.index("metric") + 1] == str(GUARD_METRIC):
            continue
        for word in words:
            try:
                network = ipaddress.ip_network(word, strict=False)
            except ValueError:
                continue
            if network.prefixlen > 0 and network.overlaps(NETWORK):
                raise FleetError(
                    "%s is in use on this machine (%r); the test fleet needs it for itself" % (NETWORK, line.strip())
                )


def _netns_list() -> list[str]:
    return [line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line.strip()]


def _link_exists(name: str) -> bool:
    return os.path.exists(os.path.join("/sys/class/net", name))


def _netns_pids(netns: str) -> list[int]:
    result = _ip("netns", "pids", netns, check=False)
    return [int(word) for word in result.stdout.split() if word.isdigit()]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process, None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def _pid_alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def _with_descendants(pids: Iterable[int]) -> set[int]:
    """pids and every process below them, zombies included (their parent has yet to reap them)."""
    below: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None:
                below.setdefault(stat[1], []).append(int(entry))
    found: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(below.get(pid, []))
    return found


def _stop_pids(pids: Iterable[int], owned: Iterable[subprocess.Popen] = ()) -> None:
    """Stop a set of processes leaves first, so each is reaped by its own parent (sshd reaps its
    sessions) rather than orphaned: this machine's init does not reap, and an orphan would stay
    a zombie. SIGKILL for what is left after STOP_TIMEOUT; our own children are waited for."""
    children = list(owned)
    own_pids = {child.pid for child in children}
    remaining = _with_descendants(pid for pid in pids if pid != os.getpid())
    signalled: set[int] = set()
    deadline = time.monotonic() + STOP_TIMEOUT
    while remaining and time.monotonic() < deadline:
        for child in children:
            child.poll()
        stats = {pid: _proc_stat(pid) for pid in remaining}
        # A zombie is done once its parent reaps it; one whose parent is not being stopped
        # (init, or us for our own children) is done already.
        remaining = {
            pid
            for pid, stat in stats.items()
            if stat is not None and not (stat[0] == "Z" and (stat[1] not in remaining or pid in own_pids))
        }
        parents = {stats[pid][1] for pid in remaining}
        for pid in remaining - parents - signalled:
            signalled.add(pid)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if remaining:
            time.sleep(0.01)
    for pid in remaining:
        if _pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for child in children:
        try:
            child.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _self_and_ancestors() -> set[int]:
    """This process and every process above it."""
    found: set[int] = set()
    pid = os.getpid()
    while pid > 0 and pid not in found:
        found.add(pid)
        stat = _proc_stat(pid)
        pid = stat[1] if stat else 0
    return found


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains text (an ssh client that names a fleet file).

    This process and its ancestors are left out: a tool that runs ``down DIR`` and names the
    fleet's inventory on its own command line (ansible-playbook -i DIR/inventory/...) is no client."""
    found = []
    own = _self_and_ancestors()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in own:
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                cmdline = handle.read().decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline and _pid_alive(int(entry)):
            found.append(int(entry))
    return found


def processes_connected_to(networks: Iterable[ipaddress.IPv4Network]) -> list[int]:
    """Live processes of this network namespace with a TCP connection into one of the networks:
    the ssh masters (ControlPersist) of clients of the fleet, whose title no longer names it."""
    wanted = list(networks)
    inodes = set()
    for table in ("/proc/net/tcp",):
        try:
            with open(table, encoding="ascii") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote = fields[2].split(":")[0]
            address = ipaddress.ip_address(int(remote, 16).to_bytes(4, "little"))
            if any(address in network for network in wanted):
                inodes.add("socket:[%s]" % fields[9])
    if not inodes:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            links = {os.readlink("/proc/%s/fd/%s" % (entry, fd)) for fd in os.listdir("/proc/%s/fd" % entry)}
        except OSError:
            continue
        if links & inodes and _pid_alive(int(entry)):
            found.append(int(entry))
    return found


def processes_in_netns(inodes: Iterable[int]) -> list[int]:
    """Live processes in any of the network namespaces with these inode numbers."""
    wanted = {"net:[%d]" % inode for inode in inodes}
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink("/proc/%s/ns/net" % entry) in wanted and _pid_alive(int(entry)):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _wait_for_banner(
    address: str, port: int, timeout: float, expect_ssh: bool = True, alive: Callable[[], bool] = lambda: True
) -> None:
    """Until something on address:port accepts (and, for sshd, sends its SSH banner)."""
    deadline = time.monotonic() + timeout
    last = "nothing tried"
    while time.monotonic() < deadline:
        if not alive():
            raise FleetError("the server for %s:%d exited" % (address, port))
        try:
            with socket.create_connection((address, port), timeout=1.0) as conn:
                if not expect_ssh:
                    return
                conn.settimeout(2.0)
                if conn.recv(64).startswith(b"SSH-2.0-"):
                    return
                last = "no SSH banner"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.02)
    raise FleetError("%s:%d not ready after %.0f s (%s)" % (address, port, timeout, last))


def _toml_string(value: str) -> str:
    return json.dumps(value)


def _flavor_from_cards(cards: list[str]) -> str:
    """Hyperstack flavour name for the scenario's GPUs: n3-<model>x<count>."""
    if not cards:
        return DEFAULT_FLAVOR
    model = re.search(r"(A100|H100|H200|L40S?|A6000|RTX\w*)", cards[0])
    return "n3-%sx%d" % (model.group(1) if model else "GPU", len(cards))


def scenario_cards() -> dict[str, list[str]]:
    """GPU names per simulator scenario; empty when the simulator cannot say."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from fakegpu.scenarios import SCENARIOS; "
        "print(json.dumps({n: [c.name for c in s.cards] for n, s in SCENARIOS.items()}))"
    )
    result = _run([HOST_PYTHON, "-c", code, os.path.join(REPO, "simulator")], check=False)
    try:
        return json.loads(result.stdout) if result.returncode == 0 else {}
    except ValueError:
        return {}


def host_toml(host: Host, key_path: str, flavor: str) -> str:
    """hypr VM config (docs/dev/formats.md 1.2) for one fleet host, reached on its namespace address."""
    spec = host.spec
    return "\n".join(
        [
            "# SSH test fleet host %s: network namespace %s (tests/fleet)." % (spec.name, host.netns),
            "[state]",
            "file = %s" % _toml_string(os.path.basename(host.state_path)),
            "",
            "[vm]",
            "name_prefix = %s" % _toml_string(spec.name),
            "hostname = %s" % _toml_string(spec.name),
            'environment_name = "gpft-test-fleet"',
            "flavor_name = %s" % _toml_string(flavor),
            'labels = ["gpft", %s]' % _toml_string(spec.scenario),
            "",
            "[ssh]",
            "username = %s" % _toml_string(TEST_USER),
            "private_key_path = %s" % _toml_string(key_path),
            'hyperstack_key_name = "gpft"',
            "port = %d" % SSH_PORT,
            "connect_timeout_sec = %d" % CONNECT_TIMEOUT_SEC,
            "",
            "[network]",
            "wireguard_subnet = %s" % _toml_string(host.subnet),
            "wireguard_server_ip = %s" % _toml_string(host.address),
            "",
            "[vllm]",
            "model = %s" % _toml_string(spec.model),
            "container_name = %s" % _toml_string(spec.container),
            "",
            "[wireguard]",
            "auto_setup = false",
            'setup_script = "./wg1-setup.sh"',
            "",
            "[local_client]",
            "check_wg1_service = false",
            'interface_name = "wg1"',
            'config_path = "/etc/wireguard/wg1.conf"',
            "",
        ]
    )


def host_state(host: Host, flavor: str, created: datetime.datetime) -> dict[str, Any]:
    """hypr state file (docs/dev/formats.md 1.3) of a provisioned VM."""
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "vm_id": 90000 + host.index,
        "vm_name": "%s-%s" % (host.name, created.strftime("%Y%m%d%H%M%S")),
        "environment_name": "gpft-test-fleet",
        "flavor_name": flavor,
        "public_ip": host.address,
        "status": "ACTIVE",
        "created_at": stamp,
        "provisioned_at": stamp,
        "vllm_model": host.spec.model,
        "vllm_container_name": host.spec.container,
    }


def plugin_config() -> str:
    """fleet.hyperstack.yml: every host of the fleet, addressed by its namespace address."""
    return "\n".join(
        [
            "# SSH test fleet (tests/fleet): the hosts are network namespaces on this machine.",
            "plugin: gpufleet.vllm.hyperstack",
            "config_files:",
            '  - "*.toml"',
            "address: wireguard_ip",
            "compose:",
            "  gpufleet_docker_path: \"'%s/bin/docker'\"" % SIMULATOR_MOUNT,
            "  gpufleet_nvidia_smi_path: \"'%s/bin/nvidia-smi'\"" % SIMULATOR_MOUNT,
            "  gpufleet_dmesg_path: \"'%s/bin/dmesg'\"" % SIMULATOR_MOUNT,
            "  gpufleet_journalctl_path: \"'%s/bin/journalctl'\"" % SIMULATOR_MOUNT,
            "  gpufleet_proc_path: \"'%s/proc'\"" % SIMULATOR_MOUNT,
            "  ansible_python_interpreter: \"'%s'\"" % HOST_PYTHON,
            "",
        ]
    )


def sshd_config(host: Host, authorized_keys: str) -> str:
    return "\n".join(
        [
            "# sshd of SSH test fleet host %s (tests/fleet)" % host.name,
            "ListenAddress %s:%d" % (host.address, SSH_PORT),
            "HostKey %s" % host.host_key,
            # Holds 1: sshd is the init of the host's PID namespace.
            "PidFile %s" % host.pid_file,
            "AuthorizedKeysFile %s" % authorized_keys,
            # The fleet's files live under /tmp, which StrictModes rejects (world-writable parent).
            "StrictModes no",
            "AllowUsers %s" % TEST_USER,
            "PermitRootLogin no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "MaxStartups 200",
            "MaxSessions 100",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "LogLevel VERBOSE",
            "Subsystem sftp %s" % SFTP_SERVER,
            "",
        ]
    )


class Fleet:
    """N sshd hosts in network namespaces. Use as a context manager, or call up() and down().

    ``hosts``: a count (hosts vm1..vmN running ``scenario``), or names / HostSpec objects.
    ``parent``: where the fleet dir (``gpft-fleet-*``) is made; it must be traversable by the
    test user (sshd reads the authorized keys as that user), so not a 0700 pytest tmp dir.
    ``fleet_dir``: the fleet dir itself instead, at a known place (a Molecule scenario's inventory
    names its ``inventory/fleet.hyperstack.yml``); made when missing, refused unless empty, and
    removed by down() like any fleet dir. The cleanup command does not look for it.
    """

    def __init__(
        self,
        hosts: int | Iterable[str | HostSpec] = 2,
        scenario: str = DEFAULT_SCENARIO,
        parent: str | None = None,
        keep_dir: bool = False,
        fleet_dir: str | None = None,
    ):
        if isinstance(hosts, int):
            specs = [HostSpec("vm%d" % number, scenario) for number in range(1, hosts + 1)]
        else:
            specs = [HostSpec(item, scenario) if isinstance(item, str) else item for item in hosts]
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise FleetError("host names must be unique, got %s" % names)
        for name in names:
            if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", name):
                raise FleetError("host name %r is not a lower-case DNS label (hypr's vm.hostname)" % name)
        self.specs = specs
        self.parent = parent or tempfile.gettempdir()
        self.keep_dir = keep_dir
        self.fleet_dir = os.path.abspath(fleet_dir) if fleet_dir else None
        self.dir = ""
        self.hosts: dict[str, Host] = {}
        self._lock = threading.Lock()
        self._running = False

    # Paths -------------------------------------------------------------------------------
    @property
    def key_path(self) -> str:
        """The client's private key (ed25519, no passphrase), the same for every host."""
        return os.path.join(self.dir, "id_ed25519")

    @property
    def authorized_keys(self) -> str:
        return os.path.join(self.dir, "authorized_keys")

    @property
    def inventory_dir(self) -> str:
        return os.path.join(self.dir, "inventory")

    @property
    def inventory(self) -> str:
        """The gpufleet.vllm.hyperstack configuration for this fleet."""
        return os.path.join(self.inventory_dir, "fleet.hyperstack.yml")

    @property
    def manifest(self) -> str:
        return os.path.join(self.dir, "fleet.json")

    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise FleetError("no host %r in this fleet (hosts: %s)" % (name, ", ".join(self.hosts))) from None

    # Start and stop ----------------------------------------------------------------------
    def __enter__(self) -> "Fleet":
        return self.up()

    def __exit__(self, *exc_info: Any) -> None:
        self.down()

    def up(self) -> "Fleet":
        reason = unavailable_reason()
        if reason:
            raise FleetError(reason)
        self._running = True
        atexit.register(self.down)
        try:
            self._up()
        except BaseException:
            self.down()
            raise
        return self

    def _up(self) -> None:
        _check_address_space()
        ensure_test_user()
        os.makedirs(SIMULATOR_MOUNT, exist_ok=True)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.dir = self._make_dir()
        os.chmod(self.dir, 0o755)
        os.makedirs(self.inventory_dir)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gpft-fleet-client", "-f", self.key_path])
        shutil.copyfile(self.key_path + ".pub", self.authorized_keys)
        os.chmod(self.authorized_keys, 0o644)
        if _run(["runuser", "-u", TEST_USER, "--", "test", "-r", self.authorized_keys], check=False).returncode:
            raise FleetError(
                "%s: the test user cannot read it (sshd reads it as that user): start the fleet "
                "under a folder all users can enter, not %s" % (self.authorized_keys, self.parent)
            )

        for spec in self.specs:
            index = self._claim_index()
            host = Host(spec, index, os.path.join(self.dir, "hosts", spec.name), self.inventory_dir)
            self.hosts[spec.name] = host
            self._write_manifest()
        cards = scenario_cards()
        created = datetime.datetime.now(datetime.timezone.utc)
        uid, gid = _user_ids()
        workers = min(16, len(self.hosts)) or 1
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda host: self._prepare(host, cards, created, uid, gid), self.hosts.values()))
        with open(self.inventory, "w", encoding="utf-8") as handle:
            handle.write(plugin_config())
        for host in self.hosts.values():
            self._launch_sshd(host)
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(self._wait_sshd, self.hosts.values()))

    def _make_dir(self) -> str:
        if self.fleet_dir is None:
            return tempfile.mkdtemp(prefix=FLEET_DIR_PREFIX, dir=self.parent)
        os.makedirs(self.fleet_dir, exist_ok=True)
        # Never adopt what is there: down() removes the fleet dir, and a fleet.json there may
        # be a running fleet.
        if os.listdir(self.fleet_dir):
            raise FleetError("%s is not empty (a fleet there? stop it with the down command first)" % self.fleet_dir)
        return self.fleet_dir

    def _claim_index(self) -> int:
        """The first free 10.200.k.0/24; `ip netns add` fails when another fleet took it."""
        for index in INDEXES:
            if _link_exists(veth_name(index)) or os.path.exists("/run/netns/" + netns_name(index)):
                continue
            if _ip("netns", "add", netns_name(index), check=False).returncode == 0:
                return index
        raise FleetError("no free 10.200.k.0/24 left for a host (%d in use); run the cleanup command" % len(INDEXES))

    def _prepare(self, host: Host, cards: dict[str, list[str]], created: datetime.datetime, uid: int, gid: int) -> None:
        """Network, keys, sshd config, simulator dir, home and hypr files of one host."""
        ns = host.netns
        _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("addr", "add", host.gateway + "/24", "dev", host.veth)
        _ip("link", "set", host.veth, "up")
        # Without carrier (host_down) the veth route is skipped and the guard route answers.
        with open(
            "/proc/sys/net/ipv4/conf/%s/ignore_routes_with_linkdown" % host.veth, "w", encoding="ascii"
        ) as handle:
            handle.write("1")
        _ip("route", "add", "unreachable", host.subnet, "metric", str(GUARD_METRIC))
        _ip("-n", ns, "addr", "add", host.address + "/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")

        os.makedirs(host.dir)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", host.host_key])
        with open(host.sshd_config, "w", encoding="utf-8") as handle:
            handle.write(sshd_config(host, self.authorized_keys))

        os.makedirs(host.home_dir)
        for name in (".bashrc", ".profile"):
            with open(os.path.join(host.home_dir, name), "w", encoding="utf-8") as handle:
                handle.write(PLAIN_BASHRC)
        os.chmod(host.home_dir, 0o755)
        _chown_tree(host.home_dir, uid, gid)
        os.makedirs(host.sim_dir)
        os.chmod(host.sim_dir, 0o755)
        os.chown(host.sim_dir, uid, gid)
        self._make_simulator(host)

        self._write_hypr_files(host, cards, created)
        open(host.known_hosts, "w", encoding="utf-8").close()

    def _fakegpu(self, *args: str) -> subprocess.CompletedProcess:
        """simulator/bin/fakegpu as the test user, so the files it writes stay writable on the
        host, and with the system Python, which then also runs the host's executables."""
        return _run(["runuser", "-u", TEST_USER, "--", "env", "PYTHON=" + HOST_PYTHON, SIMULATOR, *args], cwd="/")

    def _make_simulator(self, host: Host) -> None:
        spec = host.spec
        options = ["--container", spec.container]
        if spec.elapsed is not None:
            options += ["--elapsed", str(spec.elapsed)]
        self._fakegpu("make-host", host.sim_dir, spec.scenario, *options)

    def _write_hypr_files(self, host: Host, cards: dict[str, list[str]], created: datetime.datetime) -> None:
        flavor = host.spec.flavor or _flavor_from_cards(cards.get(host.spec.scenario, []))
        with open(host.toml_path, "w", encoding="utf-8") as handle:
            handle.write(host_toml(host, self.key_path, flavor))
        # A host that serves no HTTP (http=None) has the HTTP source turned off, as an operator
        # would for such a VM: otherwise its refused port fails http_health while it serves.
        host_vars = os.path.join(self.inventory_dir, "host_vars")
        os.makedirs(host_vars, exist_ok=True)
        no_http = os.path.join(host_vars, host.name + ".yml")
        if host.spec.http is None:
            with open(no_http, "w", encoding="utf-8") as handle:
                handle.write(
                    "# SSH test fleet: this host serves no vLLM HTTP (HostSpec.http=None).\ngpufleet_vllm_port: null\n"
                )
        elif os.path.exists(no_http):
            os.remove(no_http)
        with open(host.state_path, "w", encoding="utf-8") as handle:
            json.dump(host_state(host, flavor, created), handle, indent=2)

    def _launch_sshd(self, host: Host) -> None:
        http = []
        if host.spec.http is not None:
            sys.path.insert(0, os.path.join(REPO, "simulator"))
            try:
                from fakegpu import vllm_http
            finally:
                sys.path.pop(0)
            vllm_http.configure(host.sim_dir, **host.spec.http)
            http = [
                "sh",
                "-c",
                HTTP_LAUNCHER,
                "http",
                os.path.join(REPO, "simulator"),
                HOST_PYTHON,
                SIMULATOR_MOUNT,
                str(HTTP_PORT),
            ]
        with open(os.path.join(host.dir, "launch.log"), "ab") as log:
            host.sshd = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    host.netns,
                    *HOST_NAMESPACES,
                    "sh",
                    "-c",
                    HOST_LAUNCHER,
                    "launch",
                    host.name,
                    host.sim_dir,
                    SIMULATOR_MOUNT,
                    host.home_dir,
                    TEST_HOME,
                    *http,
                    SSHD,
                    "-D",
                    "-f",
                    host.sshd_config,
                    "-E",
                    host.sshd_log,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self._write_manifest()

    def _wait_sshd(self, host: Host) -> None:
        process = host.sshd
        try:
            _wait_for_banner(
                host.address, SSH_PORT, READY_TIMEOUT, alive=lambda: process is not None and process.poll() is None
            )
        except FleetError as exc:
            raise FleetError("host %s: sshd did not start: %s\n%s" % (host.name, exc, self._logs(host))) from exc

    def _logs(self, host: Host, limit: int = 2000) -> str:
        parts = []
        for name in ("launch.log", "sshd.log", "blackhole.log"):
            try:
                with open(os.path.join(host.dir, name), encoding="utf-8", errors="replace") as handle:
                    text = handle.read()[-limit:]
            except OSError:
                continue
            if text:
                parts.append("== %s %s\n%s" % (host.name, name, text.rstrip()))
        return "\n".join(parts)

    def logs(self, limit: int = 2000) -> str:
        """The last characters of every host's sshd (and launcher) log, for a failure report."""
        return "\n".join(filter(None, (self._logs(host, limit) for host in self.hosts.values())))

    def down(self) -> None:
        """Stop everything this fleet started and remove its namespaces, links and files.

        Idempotent; carries on past failures and reports them all at the end."""
        with self._lock:
            if not self._running:
                return
            self._running = False
        atexit.unregister(self.down)
        errors = []
        hosts = list(self.hosts.values())
        clients = set(processes_connected_to(ipaddress.ip_network(host.subnet) for host in hosts))
        if self.dir:
            clients.update(processes_mentioning(self.dir))
        _stop_pids(clients)
        _stop_pids(
            [pid for host in hosts for pid in _netns_pids(host.netns)],
            [process for host in hosts for process in (host.sshd, host.blackhole) if process],
        )
        for host in hosts:
            errors.extend(_remove_host_network(host.index))
        if self.dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise FleetError("fleet teardown incomplete (run the cleanup command): " + "; ".join(errors))

    def _write_manifest(self) -> None:
        """fleet.json: what `down DIR` and `status DIR` of the CLI need from another process."""
        data = {
            "dir": self.dir,
            "key": self.key_path,
            "inventory": self.inventory,
            "hosts": [
                {
                    "name": host.name,
                    "index": host.index,
                    "netns": host.netns,
                    "address": host.address,
                    "scenario": host.spec.scenario,
                    "known_hosts": host.known_hosts,
                }
                for host in self.hosts.values()
            ],
        }
        with open(self.manifest + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        os.replace(self.manifest + ".tmp", self.manifest)

    @classmethod
    def attach(cls, fleet_dir: str) -> "Fleet":
        """The fleet that another process started in fleet_dir (from its fleet.json)."""
        try:
            with open(os.path.join(fleet_dir, "fleet.json"), encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            raise FleetError("%s: no fleet there (%s)" % (fleet_dir, exc)) from exc
        fleet = cls(
            [HostSpec(item["name"], item["scenario"]) for item in data["hosts"]], parent=os.path.dirname(data["dir"])
        )
        fleet.dir = data["dir"]
        for item, spec in zip(data["hosts"], fleet.specs):
            fleet.hosts[spec.name] = Host(
                spec, item["index"], os.path.join(fleet.dir, "hosts", spec.name), fleet.inventory_dir
            )
        fleet._running = True
        return fleet

    # Client side --------------------------------------------------------------------------
    def ssh_argv(self, name: str, *remote: str, connect_timeout: int = CONNECT_TIMEOUT_SEC) -> list[str]:
        """A plain ssh command for host name, with hypr's options (docs/dev/formats.md 1.4)."""
        host = self.host(name)
        return [
            "ssh",
            "-i",
            self.key_path,
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "UserKnownHostsFile=" + host.known_hosts,
            "-o",
            "ConnectTimeout=%d" % connect_timeout,
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-p",
            str(SSH_PORT),
            "%s@%s" % (TEST_USER, host.address),
            *remote,
        ]

    def ssh(
        self, name: str, *remote: str, timeout: float = 30, connect_timeout: int = CONNECT_TIMEOUT_SEC
    ) -> subprocess.CompletedProcess:
        return _run(self.ssh_argv(name, *remote, connect_timeout=connect_timeout), check=False, timeout=timeout)

    # Faults ------------------------------------------------------------------------------
    def host_down(self, name: str, silent: bool = False) -> None:
        """Cut the host off. Its link goes down, and ssh fails at once with "No route to host"
        (the guard route answers while the veth has no carrier). silent=True keeps the link and
        drops every packet instead: ssh fails with "Connection timed out" after ConnectTimeout,
        and open connections hang, as with a host that froze."""
        host = self.host(name)
        if silent:
            _ip("-n", host.netns, "route", "add", "blackhole", host.gateway + "/32")
        else:
            _ip("-n", host.netns, "link", "set", "eth0", "down")

    def host_up(self, name: str) -> None:
        """Undo host_down (either kind); returns once the host's port answers again."""
        host = self.host(name)
        _ip("-n", host.netns, "route", "del", "blackhole", host.gateway + "/32", check=False)
        _ip("-n", host.netns, "link", "set", "eth0", "up")
        if self._server_running(host):
            _wait_for_banner(host.address, SSH_PORT, READY_TIMEOUT, expect_ssh=host.blackhole is None)

    def _server_running(self, host: Host) -> bool:
        return any(process is not None and process.poll() is None for process in (host.sshd, host.blackhole))

    def kill_sshd(self, name: str) -> None:
        """Stop the host's sshd and its sessions (ssh masters lose their connection): new
        connections get "Connection refused"."""
        host = self.host(name)
        self._stop_servers(host)

    def start_sshd(self, name: str) -> None:
        """(Re)start the host's sshd, replacing a blackhole listener; returns once it answers."""
        host = self.host(name)
        self._stop_servers(host)
        self._launch_sshd(host)
        self._wait_sshd(host)

    def tcp_blackhole(self, name: str) -> None:
        """Replace sshd by a listener that accepts on the SSH port and never speaks: the client
        hangs in the banner exchange until its ConnectTimeout."""
        host = self.host(name)
        self._stop_servers(host)
        with open(os.path.join(host.dir, "blackhole.log"), "ab") as log:
            host.blackhole = subprocess.Popen(
                ["ip", "netns", "exec", host.netns, HOST_PYTHON, "-c", BLACKHOLE_SERVER, host.address, str(SSH_PORT)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        blackhole = host.blackhole
        _wait_for_banner(
            host.address, SSH_PORT, READY_TIMEOUT, expect_ssh=False, alive=lambda: blackhole.poll() is None
        )

    def _stop_servers(self, host: Host) -> None:
        """Stop the listener (sshd or blackhole) and the sessions of that sshd."""
        _stop_pids(_netns_pids(host.netns), [process for process in (host.sshd, host.blackhole) if process])
        host.sshd = host.blackhole = None

    def rotate_host_key(self, name: str) -> None:
        """New host key and a restarted sshd: clients that know the old key must refuse it."""
        host = self.host(name)
        for path in (host.host_key, host.host_key + ".pub"):
            os.unlink(path)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", host.host_key])
        self.start_sshd(name)

    def set_scenario(self, name: str, scenario: str, elapsed: float | None = None) -> None:
        """Make the host simulate another scenario from now on (``fakegpu set scenario=...``).
        Its hypr files follow: the flavour (GPU count) of the new scenario, unless one was given."""
        host = self.host(name)
        settings = {"scenario": scenario}
        if elapsed is not None:
            settings["elapsed"] = str(elapsed)
        self.simulator_set(name, **settings)
        host.spec.scenario = scenario
        if elapsed is not None:
            host.spec.elapsed = elapsed
        self._write_hypr_files(host, scenario_cards(), datetime.datetime.now(datetime.timezone.utc))
        self._write_manifest()

    def simulator_set(self, name: str, *actions: str, **settings: Any) -> None:
        """``fakegpu set DIR restart KEY=VALUE ...`` on the host's simulator (fault injection),
        e.g. simulator_set("vm1", nvidia_smi="hang") or simulator_set("vm1", "restart")."""
        host = self.host(name)
        self._fakegpu("set", host.sim_dir, *actions, *("%s=%s" % (key, value) for key, value in settings.items()))

    # Reporting ---------------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        rows = []
        for host in self.hosts.values():
            link = _ip("-n", host.netns, "-o", "link", "show", "eth0", check=False).stdout
            rows.append(
                {
                    "name": host.name,
                    "address": host.address,
                    "netns": host.netns,
                    "link": "up" if ",UP" in link or "<UP" in link else ("down" if link else "gone"),
                    "processes": len(_netns_pids(host.netns)),
                    "scenario": host.spec.scenario,
                }
            )
        return rows


def _remove_host_network(index: int) -> list[str]:
    """Delete host index's namespace, veth and guard route; returns what failed."""
    errors = []
    netns, veth, subnet = netns_name(index), veth_name(index), "10.200.%d.0/24" % index
    if os.path.exists("/run/netns/" + netns):
        result = _ip("netns", "del", netns, check=False)
        if result.returncode != 0:
            errors.append("ip netns del %s: %s" % (netns, result.stderr.strip()))
    # The veth pair goes with the namespace, a moment later.
    deadline = time.monotonic() + 2.0
    while _link_exists(veth) and time.monotonic() < deadline:
        time.sleep(0.01)
    if _link_exists(veth):
        result = _ip("link", "del", veth, check=False)
        if result.returncode != 0 and _link_exists(veth):
            errors.append("ip link del %s: %s" % (veth, result.stderr.strip()))
    if _guard_route_exists(subnet):
        result = _ip("route", "del", "unreachable", subnet, "metric", str(GUARD_METRIC), check=False)
        if result.returncode != 0:
            errors.append("ip route del unreachable %s: %s" % (subnet, result.stderr.strip()))
    return errors


def _guard_route_exists(subnet: str) -> bool:
    out = _ip("-4", "-o", "route", "show", "type", "unreachable", subnet, check=False).stdout
    return "metric %d" % GUARD_METRIC in out


def leftovers() -> dict[str, list[str]]:
    """What fleets (running or crashed) hold on this machine, by kind."""
    namespaces = [name for name in _netns_list() if name.startswith(NETNS_PREFIX)]
    links = sorted(name for name in os.listdir("/sys/class/net") if re.fullmatch(PREFIX + r"\d+", name))
    routes = [
        line.split()[1]
        for line in _ip("-4", "-o", "route", "show", "type", "unreachable").stdout.splitlines()
        if "metric %d" % GUARD_METRIC in line
    ]
    parent = tempfile.gettempdir()
    dirs = sorted(os.path.join(parent, name) for name in os.listdir(parent) if name.startswith(FLEET_DIR_PREFIX))
    pids = sorted(
        {pid for ns in namespaces for pid in _netns_pids(ns)}
        | set(processes_mentioning("/" + FLEET_DIR_PREFIX))
        | set(processes_connected_to([NETWORK]))
    )
    return {
        "namespaces": namespaces,
        "links": links,
        "routes": routes,
        "dirs": dirs,
        "processes": ["%d %s" % (pid, _cmdline(pid)) for pid in pids],
    }


def _cmdline(pid: int) -> str:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return "?"


def cleanup() -> dict[str, list[str]]:
    """Remove what every fleet on this machine left (after a crash or a kill -9): processes in
    gpft-* namespaces, naming a gpft-fleet-* file or connected into 10.200.0.0/16, the
    namespaces, veths, guard routes and fleet dirs. Also stops fleets still running. Returns
    what it found."""
    found = leftovers()
    _stop_pids(int(line.split()[0]) for line in found["processes"])
    indexes = {int(name[len(NETNS_PREFIX) :]) for name in found["namespaces"] if name[len(NETNS_PREFIX) :].isdigit()}
    indexes |= {int(name[len(PREFIX) :]) for name in found["links"]}
    indexes |= {int(subnet.split(".")[2]) for subnet in found["routes"]}
    for ns in found["namespaces"]:
        _ip("netns", "del", ns, check=False)
    for index in sorted(indexes):
        _remove_host_network(index)
    for path in found["dirs"]:
        shutil.rmtree(path, ignore_errors=True)
    return found


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="test-fleet", description=__doc__.split("\n\n", maxsplit=1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a fleet and leave it running; prints its dir")
    up.add_argument("-n", "--hosts", type=int, help="number of hosts (default: as many as names, else 2)")
    up.add_argument(
        "-N",
        "--name",
        action="append",
        default=[],
        help="host name; repeat to name hosts 1, 2, ... (default vm1, vm2, ...)",
    )
    up.add_argument(
        "-s",
        "--scenario",
        action="append",
        default=[],
        help="simulator scenario; repeat to give hosts 1, 2, ... their own (default %s)" % DEFAULT_SCENARIO,
    )
    up.add_argument(
        "--dir",
        help="the fleet dir, made if missing, refused unless empty (default: a new "
        "%s%s* dir)" % (os.path.join(tempfile.gettempdir(), ""), FLEET_DIR_PREFIX),
    )
    down = commands.add_parser("down", help="tear down the fleet started in DIR")
    down.add_argument("dir")
    status = commands.add_parser("status", help="hosts of the fleet in DIR, or all leftovers")
    status.add_argument("dir", nargs="?")
    simulate = commands.add_parser("set", help="fakegpu set on HOST's simulator (clock, scenario, faults)")
    simulate.add_argument("dir")
    simulate.add_argument("host")
    simulate.add_argument(
        "change",
        nargs="+",
        metavar="KEY=VALUE|restart",
        help="as simulator/bin/fakegpu set takes them, applied in order",
    )
    commands.add_parser("cleanup", help="remove everything any fleet left on this machine")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            count = args.hosts if args.hosts is not None else len(args.name) or 2
            if len(args.name) > count:
                parser.error("%d names for %d hosts" % (len(args.name), count))
            names = args.name + ["vm%d" % n for n in range(len(args.name) + 1, count + 1)]
            scenarios = args.scenario or [DEFAULT_SCENARIO]
            specs = [HostSpec(name, scenarios[min(n, len(scenarios) - 1)]) for n, name in enumerate(names)]
            started = time.monotonic()
            fleet = Fleet(specs, fleet_dir=args.dir).up()
            # The fleet outlives this process: `down DIR` or `cleanup` ends it.
            atexit.unregister(fleet.down)
            print(
                json.dumps(
                    {
                        "dir": fleet.dir,
                        "inventory": fleet.inventory,
                        "key": fleet.key_path,
                        "seconds": round(time.monotonic() - started, 2),
                        "hosts": fleet.status(),
                    },
                    indent=2,
                )
            )
        elif args.command == "down":
            started = time.monotonic()
            Fleet.attach(args.dir).down()
            print("down in %.2f s" % (time.monotonic() - started))
        elif args.command == "set":
            Fleet.attach(args.dir).simulator_set(args.host, *args.change)
        elif args.command == "status":
            report: Any = Fleet.attach(args.dir).status() if args.dir else leftovers()
            print(json.dumps(report, indent=2))
        else:
            print(json.dumps(cleanup(), indent=2))
    except FleetError as exc:
        print("test-fleet: %s" % exc, file=sys.stderr)
        return 1
    return 0
