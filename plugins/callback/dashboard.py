# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dashboard
type: stdout
short_description: Live dashboard of a GPU fleet watched with gpufleet.vllm.node_info
version_added: 0.1.0
description:
  - Draws one panel per VM (GPUs, container, vLLM phase, throughput, requests, KV cache, loading progress,
    first fatal error, age of the data) from the results of C(gpufleet.vllm.node_info), refreshed as each
    host reports, in plays that set the play variable C(gpufleet_dashboard=true) (C(playbooks/watch.yml) does).
  - On a terminal the dashboard redraws in place (rich); without one (CI logs, pipes) it prints one plain
    line per host per refresh, with no escape codes. It can also write JSON lines for machines.
  - Plays without C(gpufleet_dashboard) are shown exactly as by the C(default) callback, so the callback
    can stay configured for every playbook.
  - Every string that came from a VM is cleaned of control characters and escape sequences and rendered
    as text, never as markup.
  - Each panel is coloured by the health checks of C(gpufleet.vllm.health) (check mode; an engine loading
    for less than the play variable C(gpufleet_wait_timeout), default 1800 seconds, is a warning), with the
    thresholds of the play variable C(gpufleet_thresholds) and the custom checks of C(gpufleet_custom_checks),
    so what is red on screen is what fails the health gate.
  - On Ctrl-C the last frame stays on screen and the cursor is restored; C(ansible-playbook) exits with 99.
    After O(ignore:watch_cycles) refreshes it exits with 0.
requirements:
  - rich >= 13 (on the controller)
extends_documentation_fragment:
  - ansible.builtin.default_callback
  - ansible.builtin.result_format_callback
options:
  display_mode:
    description:
      - V(auto) draws the live dashboard when standard output is a terminal and verbosity is below C(-vv),
        else plain lines. V(live) and V(lines) force one or the other.
    type: str
    default: auto
    choices: [auto, live, lines]
    env:
      - name: GPUFLEET_DASHBOARD_MODE
    ini:
      - section: gpufleet_dashboard
        key: display_mode
  json_lines_path:
    description:
      - Append one JSON object per host per refresh to this file (C(schema_version), host, time, state,
        the node_info document). Unset writes none.
    type: path
    env:
      - name: GPUFLEET_DASHBOARD_JSON
    ini:
      - section: gpufleet_dashboard
        key: json_lines_path
  redraw_interval:
    description:
      - Least seconds between two redraws of the live dashboard; results arriving faster are coalesced
        into the next frame.
    type: float
    default: 0.25
    env:
      - name: GPUFLEET_DASHBOARD_REDRAW_INTERVAL
    ini:
      - section: gpufleet_dashboard
        key: redraw_interval
"""

import atexit
import collections
import json
import os
import sys
import threading
import time

from ansible import constants as C
from ansible import context
from ansible.errors import AnsibleError
from ansible.plugins.callback.default import CallbackModule as DefaultCallbackModule
from ansible.template import Templar

from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import parse_rfc3339
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import HealthError
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import compile_custom_checks
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import evaluate
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds

try:
    from rich.console import Console
    from rich.live import Live

    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._dashboard import FleetView
    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._dashboard import HostView
    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._dashboard import PanelCache
    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._dashboard import generation_total
    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._dashboard import json_record
    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._dashboard import plain_line
    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._dashboard import render_dashboard
except ImportError as exc:
    RICH_IMPORT_ERROR: ImportError | None = exc
else:
    RICH_IMPORT_ERROR = None

NODE_INFO_ACTIONS = frozenset(("gpufleet.vllm.node_info", "node_info"))
DOCUMENT_KEYS = ("schema_version", "collected_at", "gpu", "container", "vllm")
DEFAULT_INTERVAL_S = 5.0
# hypr's readiness wait: a model loading for longer than this is red, before it yellow.
DEFAULT_WAIT_TIMEOUT_S = 1800.0
MIN_INTERVAL_S = 1.0
HISTORY_LENGTH = 40
# A frame is redrawn at least this often so that ages and staleness move without new results.
IDLE_REDRAW_S = 1.0


class CallbackModule(DefaultCallbackModule):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "gpufleet.vllm.dashboard"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = threading.RLock()
        self._fleet: FleetView | None = None
        self._hosts: dict[str, HostView] = {}
        self._screen: _LiveScreen | None = None
        self._json_file = None
        self._thresholds = None
        self._custom_checks: list = []
        self._expected_gpus: dict[str, int | None] = {}
        self._wait_timeout = DEFAULT_WAIT_TIMEOUT_S
        atexit.register(self._shutdown)

    # -- play set-up ------------------------------------------------------------------------

    def v2_playbook_on_play_start(self, play):
        play_vars = play.get_variable_manager().get_vars(play=play)
        templar = Templar(loader=play._loader, variables=play_vars)
        if not _truthy(templar.template(play_vars.get("gpufleet_dashboard", False))):
            self._stop_screen()
            self._fleet = None
            super().v2_playbook_on_play_start(play)
            return
        if RICH_IMPORT_ERROR is not None:
            raise AnsibleError("the gpufleet.vllm.dashboard callback needs the Python library 'rich' "
                               "on the controller: pip install rich") from RICH_IMPORT_ERROR
        self._play = play
        interval = max(_to_float(templar.template(play_vars.get("watch_interval", DEFAULT_INTERVAL_S)),
                                 DEFAULT_INTERVAL_S), MIN_INTERVAL_S)
        try:
            thresholds = Thresholds.from_mapping(templar.template(play_vars.get("gpufleet_thresholds") or {}))
            self._custom_checks = templar.template(play_vars.get("gpufleet_custom_checks") or [])
            compile_custom_checks(self._custom_checks)
        except (ValueError, HealthError) as exc:
            raise AnsibleError("gpufleet.vllm.dashboard: %s" % exc) from exc
        self._thresholds = thresholds
        self._wait_timeout = _to_float(templar.template(play_vars.get("gpufleet_wait_timeout", DEFAULT_WAIT_TIMEOUT_S)),
                                       DEFAULT_WAIT_TIMEOUT_S)
        with self._lock:
            self._hosts = {host.name: host for host in self._host_views(play)}
            self._fleet = FleetView(hosts=list(self._hosts.values()), interval_s=interval,
                                    started_at=time.time(), warnings=self._warnings(), thresholds=thresholds)
        self._open_json_lines()
        if self._use_live_display():
            self._screen = _LiveScreen(self._fleet, self._lock, self.get_option("redraw_interval"))
            self._screen.start()
        else:
            for warning in self._fleet.warnings:
                self._display.warning(warning)
            self._display.display("gpufleet watch: %d hosts, refresh every %gs" % (len(self._hosts), interval))
        # Hosts that are never polled get their one line (and JSON record) now.
        now = time.time()
        for host in self._hosts.values():
            if not host.provisioned:
                self._emit(host, now)

    def _host_views(self, play) -> list:
        variable_manager = play.get_variable_manager()
        inventory = variable_manager._inventory
        views = []
        for host in inventory.get_hosts(play.hosts):
            host_vars = variable_manager.get_vars(play=play, host=host, include_hostvars=False)
            templar = Templar(loader=play._loader, variables=host_vars)

            def value(name, default=None, _vars=host_vars, _templar=templar):
                raw = _vars.get(name, default)
                try:
                    return _templar.template(raw)
                except AnsibleError:
                    return raw

            provisioned = _truthy(value("hyperstack_provisioned", True))
            expected = value("hyperstack_expected_gpu_count")
            self._expected_gpus[host.name] = int(expected) if str(expected).isdigit() else None
            views.append(HostView(
                name=host.name,
                address=_text_or_none(value("ansible_host")) or host.name,
                model=_text_or_none(value("hyperstack_vllm_model")),
                provisioned=provisioned,
                not_provisioned_reason=None if provisioned else _text_or_none(
                    value("hyperstack_state_error") or "no state file: the VM was never created"),
                generation_history=collections.deque(maxlen=HISTORY_LENGTH),
            ))
        return views

    def _warnings(self) -> list:
        polled = sum(1 for host in self._hosts.values() if host.provisioned)
        forks = context.CLIARGS.get("forks") or C.DEFAULT_FORKS
        if forks < polled:
            return ["forks (%d) < hosts (%d): hosts beyond the forks never refresh; run with -f %d or "
                    "ANSIBLE_FORKS=%d" % (forks, polled, polled, polled)]
        return []

    def _use_live_display(self) -> bool:
        mode = self.get_option("display_mode")
        if mode != "auto":
            return mode == "live"
        return sys.stdout.isatty() and os.environ.get("TERM") != "dumb" and self._display.verbosity < 2

    def _open_json_lines(self) -> None:
        path = self.get_option("json_lines_path")
        if path and self._json_file is None:
            try:
                self._json_file = open(path, "a", encoding="utf-8")
            except OSError as exc:
                raise AnsibleError("cannot open the dashboard's JSON lines file %s: %s" % (path, exc)) from exc

    # -- results ------------------------------------------------------------------------------

    def _is_watched(self, result) -> bool:
        return self._fleet is not None and result.task.action in NODE_INFO_ACTIONS

    def v2_runner_retry(self, result):
        if self._is_watched(result):
            self._record(result)
        else:
            super().v2_runner_retry(result)

    def v2_runner_on_ok(self, result):
        if self._is_watched(result):
            self._record(result)
        else:
            super().v2_runner_on_ok(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if self._is_watched(result):
            self._record(result)
        else:
            super().v2_runner_on_failed(result, ignore_errors)

    def v2_runner_on_unreachable(self, result):
        if self._is_watched(result):
            self._record(result, unreachable=True)
        else:
            super().v2_runner_on_unreachable(result)

    def v2_runner_on_skipped(self, result):
        if self._fleet is None:
            super().v2_runner_on_skipped(result)

    def v2_playbook_on_task_start(self, task, is_conditional):
        if self._fleet is None:
            super().v2_playbook_on_task_start(task, is_conditional)

    def v2_playbook_on_stats(self, stats):
        if self._fleet is None:
            super().v2_playbook_on_stats(stats)
            return
        self._stop_screen()
        self._display.display("gpufleet watch ended after %s" % _duration(time.time() - self._fleet.started_at))

    def _record(self, result, unreachable: bool = False) -> None:
        payload = result.result
        now = time.time()
        with self._lock:
            host = self._hosts.get(result.host.get_name())
            if host is None:
                return
            # Each result replaces the previous outcome: at most one of the three is current.
            host.unreachable = host.failure = None
            if unreachable or payload.get("reachable") is False:
                host.unreachable = str(payload.get("msg") or "host unreachable")
            elif "schema_version" in payload:
                host.document = {key: payload.get(key) for key in DOCUMENT_KEYS}
            else:
                host.failure = str(payload.get("msg") or "node_info failed without a message")
            host.checks = self._evaluate(host)
            host.updated_at = now
            host.updates += 1
            host.generation_history.append(None if host.unreachable else generation_total(host.document))
            self._emit(host, now)

    def _evaluate(self, host) -> list:
        """The health gate's checks of this host, for the panel's colours and the JSON record.

        Check mode, as playbooks/health.yml, except that an engine still loading within
        gpufleet_wait_timeout of its container's start is a warning (the role's wait mode)."""
        document = None if host.unreachable or host.failure else host.document
        vllm = (document or {}).get("vllm") or {}
        started = parse_rfc3339(((document or {}).get("container") or {}).get("started_at"))
        collected = parse_rfc3339((document or {}).get("collected_at"))
        waited = (collected - started).total_seconds() if started and collected else None
        try:
            return evaluate(document, self._thresholds, expected_gpu_count=self._expected_gpus.get(host.name),
                            mode="wait" if vllm.get("phase") == "loading" else "check",
                            waited_s=waited, wait_timeout_s=self._wait_timeout,
                            reachable=host.unreachable is None, error=host.unreachable or host.failure,
                            custom_checks=self._custom_checks)
        except HealthError as exc:
            # A custom expression that fails on this host's document: shown, not fatal.
            return [{"name": "custom_checks", "status": "fail", "message": str(exc)}]

    def _emit(self, host, now: float) -> None:
        """Publish one host's new state: a plain line without a terminal, a JSON record when asked,
        a redraw request with the live display. Called with the lock held or before threads start."""
        if self._screen:
            self._screen.invalidate()
        else:
            self._display.display(plain_line(host, now))
        if self._json_file is not None:
            self._json_file.write(json.dumps(json_record(host, now), sort_keys=True) + "\n")
            self._json_file.flush()

    # -- teardown --------------------------------------------------------------------------------

    def _stop_screen(self) -> None:
        screen, self._screen = self._screen, None
        if screen is not None:
            screen.stop()

    def _shutdown(self) -> None:
        # Ctrl-C skips v2_playbook_on_stats: this atexit hook restores the cursor and leaves the
        # last frame on screen.
        self._stop_screen()
        if self._json_file is not None:
            self._json_file.close()
            self._json_file = None


class _LiveScreen:
    """Owns the rich Live display and redraws it from a thread, at most every ``redraw_interval``
    seconds and at least every second, so bursts of results cost one frame."""

    def __init__(self, fleet, lock, redraw_interval: float):
        self._fleet = fleet
        self._lock = lock
        self._redraw_interval = max(float(redraw_interval), 0.02)
        self._console = Console(highlight=False, no_color=C.ANSIBLE_NOCOLOR or None)
        self._cache = PanelCache()
        self._live = Live(console=self._console, auto_refresh=False, transient=False,
                          redirect_stdout=False, redirect_stderr=False)
        self._dirty = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpufleet-dashboard", daemon=True)

    def start(self) -> None:
        self._live.start()
        self._draw()
        self._thread.start()

    def invalidate(self) -> None:
        self._dirty.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._dirty.wait(IDLE_REDRAW_S)
            if self._stopped.is_set():
                return
            self._dirty.clear()
            self._draw()
            self._stopped.wait(self._redraw_interval)

    def _draw(self) -> None:
        with self._lock:
            if self._stopped.is_set() and self._live.is_started is False:
                return
            frame = render_dashboard(self._fleet, time.time(), self._console.size.width, self._cache)
            self._live.update(frame, refresh=True)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._dirty.set()
        with self._lock:
            self._live.update(render_dashboard(self._fleet, time.time(), self._console.size.width, self._cache),
                              refresh=True)
            self._live.stop()


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _to_float(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _text_or_none(value) -> str | None:
    return None if value in (None, "") else str(value)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return "%dm%02ds" % (minutes, secs) if minutes else "%ds" % secs
