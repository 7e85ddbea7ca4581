# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dashboard
type: stdout
short_description: Live view of a GPU fleet watched with gpufleet.vllm.node_info, every VM on one screen
version_added: 0.1.0
description:
  - Shows the fleet from the results of C(gpufleet.vllm.node_info), refreshed as each host reports, in plays
    that set the play variable C(gpufleet_dashboard=true) (C(playbooks/watch.yml) does).
  - On a terminal the view is fitted to the terminal's width and height at every frame, resizes included. When
    every VM's full panel fits (GPUs, container, vLLM phase, throughput, requests, KV cache, loading progress,
    checks, age of the data), panels, as many side by side as fit. Otherwise a table with one line per VM,
    worst first (failing, unreachable, warning, stale, loading, then healthy; by name within each), with the
    panels of the worst VMs in the lines left over; when even the table does not fit, the rows that fit and a
    line counting the others. A failing, unreachable or warning VM is never hidden while a healthier one is
    shown. The play variables C(watch_view) (V(auto), V(panels), V(table); or E(GPUFLEET_WATCH_VIEW)) and
    C(watch_sort) (V(severity), V(name); or E(GPUFLEET_WATCH_SORT)) choose, as checked by the watch's first
    task C(gpufleet.vllm.watch_settings), whose result also gives the refresh interval in use.
  - Without a terminal (CI logs, pipes) it prints one plain line per host per refresh, with no escape codes.
    It can also write JSON lines for machines.
  - Plays without C(gpufleet_dashboard) are shown exactly as by the C(default) callback, so the callback
    can stay configured for every playbook.
  - Every string that came from a VM is cleaned of control characters and escape sequences and rendered
    as text, never as markup.
  - Every VM's colour, in panels, table rows and the summary, is the overall status of the health checks of
    C(gpufleet.vllm.health) (check mode; an engine loading for less than the play variable
    C(gpufleet_wait_timeout), default 1800 seconds, is a warning), with the thresholds of the play variable
    C(gpufleet_thresholds) and the custom checks of C(gpufleet_custom_checks), so what is red on screen is
    what fails the health gate. Engine figures that are not current (a stopped container, an idle engine,
    stats older than the freshness window, a host that stopped answering) are dimmed or not shown.
  - On Ctrl-C the last frame stays on screen and the cursor is restored; C(ansible-playbook) exits with 99.
    On SIGTERM and SIGHUP too, and then it dies of the signal as Ansible does, with every worker stopped.
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
        else plain lines. Under ansible-runner (and so AWX, AAP and ansible-navigator) V(auto) is plain lines, as
        the job's output is a log, even though the runner gives ansible-playbook a terminal.
        V(live) and V(lines) force one or the other, except that a job runner always gets plain lines
        (V(live) there is ignored with a warning, as frames in a job log are noise that nobody sees live).
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
        health, the node_info document, checks). Unset writes none. Strict JSON (a number that is not finite
        is written as V(null)).
      - A file that cannot be opened (a missing folder, a directory, a read-only file) stops the run before any
        host is polled, with one error and exit status 1; a write that fails later (a full disk) is reported
        once, no more records are written and the watch exits with 1.
    type: path
    env:
      - name: GPUFLEET_DASHBOARD_JSON
    ini:
      - section: gpufleet_dashboard
        key: json_lines_path
  prometheus_path:
    description:
      - Rewrite this file with the fleet's metrics in the Prometheus text format (node_exporter's textfile
        collector; docs/prometheus.md lists the metrics) as results arrive, once a refresh has reported every
        host or a second has passed, and once more when the watch ends. Unset writes none.
      - Written atomically (a temporary file in the same folder, then one rename), never over anything but a
        regular file. A path that cannot be written stops the run before any host is polled, with one error and
        exit status 1; a write that fails later is reported once, no more are tried and the watch exits with 1.
    type: path
    env:
      - name: GPUFLEET_DASHBOARD_PROM
    ini:
      - section: gpufleet_dashboard
        key: prometheus_path
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

EXAMPLES = r"""
# The dashboard shows a play only when it is the stdout callback. From the collection installed with
# ansible-galaxy (it needs rich and jmespath in the controller's Python: pip install rich jmespath):
#
#   ANSIBLE_STDOUT_CALLBACK=gpufleet.vllm.dashboard ansible-playbook -i hosts.yml gpufleet.vllm.watch
#
# or once for a project, in its ansible.cfg (plays that do not set gpufleet_dashboard print exactly as
# with the default callback, so it can stay on):
#
#   [defaults]
#   stdout_callback = gpufleet.vllm.dashboard
#
# Under ansible-runner, AWX, AAP or ansible-navigator, set ANSIBLE_STDOUT_CALLBACK=gpufleet.vllm.dashboard
# in the job's environment (ansible-runner: env/envvars) and bound the watch with watch_cycles: the runner
# keeps it in lines mode, one event per host per refresh.
#
#   ansible-runner run /srv/job -p watch.yml --cmdline '-e watch_cycles=3'
#
# Your own play on the dashboard: set the play variable and poll with node_info.
- name: Watch two VMs
  hosts: gpu_vms
  gather_facts: false
  vars:
    gpufleet_dashboard: true
  tasks:
    - name: Refresh node state
      gpufleet.vllm.node_info:
        container: vllm_qwen
"""

import atexit
import collections
import os
import signal
import sys
import threading
import time

from ansible import constants as C
from ansible import context
from ansible.errors import AnsibleError
from ansible.plugins.callback.default import CallbackModule as DefaultCallbackModule
from ansible.template import Templar

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import DEFAULT_WAIT_TIMEOUT_S
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import HISTORY_LENGTH
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import FleetState
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import HostState
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import health_checks
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._lines_output import json_line
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._lines_output import json_record
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._lines_output import plain_line
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._prometheus_export import fleet_hosts
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._prometheus_export import render as render_metrics
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._report import ReportPathError
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._report import check_report_path
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._report import write_report
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._serving import serving_figures
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._stdout_callback import under_job_runner
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._watch_settings import SettingsError
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._watch_settings import WatchSettings
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._watch_settings import watch_settings

try:
    from rich.console import Console
    from rich.live import Live

    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._layout import FrameCache
    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._layout import render_frame
    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._theme import THEME
except ImportError as exc:
    RICH_IMPORT_ERROR: ImportError | None = exc
else:
    RICH_IMPORT_ERROR = None

NODE_INFO_ACTIONS = frozenset(("gpufleet.vllm.node_info", "node_info"))
SETTINGS_ACTIONS = frozenset(("gpufleet.vllm.watch_settings", "watch_settings"))
DOCUMENT_KEYS = ("schema_version", "collected_at", "gpu", "container", "vllm", "http")
# A frame is redrawn at least this often so that ages and staleness move without new results.
IDLE_REDRAW_S = 1.0
# Exit status when the JSON records the user asked for could not be written.
RECORDS_LOST_EXIT = 1
# Signals that end ansible-playbook without Ctrl-C's KeyboardInterrupt: the terminal is given
# back from their handler (atexit does not run when a signal kills the process).
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class CallbackModule(DefaultCallbackModule):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "gpufleet.vllm.dashboard"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = threading.RLock()
        self._fleet: FleetState | None = None
        self._hosts: dict[str, HostState] = {}
        self._screen: _LiveScreen | None = None
        self._json_file = None
        self._json_path = None
        self._records_lost = False
        self._prometheus_path = None
        self._prometheus_written = 0.0
        self._prometheus_pending: set = set()
        self._custom_checks: list = []
        self._expected_gpus: dict[str, int | None] = {}
        self._wait_timeout = DEFAULT_WAIT_TIMEOUT_S
        self._settled = False
        # The watch_settings task's result, held until the polling task starts: another host's
        # settings may still be refused (any_errors_fatal then ends the play, nothing polled).
        self._checked_settings: dict | None = None
        self._previous_handlers: dict = {}
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
            raise AnsibleError(
                "the gpufleet.vllm.dashboard callback needs the Python library 'rich' "
                "on the controller: pip install rich"
            ) from RICH_IMPORT_ERROR
        self._play = play
        # Until the watch_settings task reports, the defaults (and the environment's view choices).
        try:
            defaults = watch_settings({}, _environ_choices())
        except SettingsError:
            defaults = WatchSettings()  # the watch_settings task reports the bad value
        with self._lock:
            self._hosts = {host.name: host for host in self._host_views(play)}
            self._fleet = FleetState(
                hosts=list(self._hosts.values()),
                started_at=time.time(),
                warnings=self._warnings(),
                view=defaults.view,
                sort=defaults.sort,
            )
            self._settled = False
            self._checked_settings = None
        self._open_json_lines()
        self._check_prometheus_path()
        self._install_signal_handlers()

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
            views.append(
                HostState(
                    name=host.name,
                    address=_text_or_none(value("ansible_host")) or host.name,
                    model=_text_or_none(value("hyperstack_vllm_model")),
                    provisioned=provisioned,
                    not_provisioned_reason=None
                    if provisioned
                    else _text_or_none(value("hyperstack_state_error") or "no state file: the VM was never created"),
                    generation_history=collections.deque(maxlen=HISTORY_LENGTH),
                )
            )
        return views

    def _warnings(self) -> list:
        polled = sum(1 for host in self._hosts.values() if host.provisioned)
        forks = context.CLIARGS.get("forks") or C.DEFAULT_FORKS
        if forks < polled:
            return [
                "forks (%d) < hosts (%d): hosts beyond the forks never refresh; run with -f %d or "
                "ANSIBLE_FORKS=%d" % (forks, polled, polled, polled)
            ]
        return []

    def _use_live_display(self) -> bool:
        mode = self.get_option("display_mode")
        # ansible-runner (AWX, AAP, ansible-navigator) runs the play in a pty, but its output is a job
        # log that keeps every frame: never draw live frames there, even when asked to.
        if under_job_runner(self.CALLBACK_NAME, os.environ):
            if mode == "live":
                self._display.warning(
                    "gpufleet.vllm.dashboard: display_mode=live (GPUFLEET_DASHBOARD_MODE) is "
                    "ignored under ansible-runner, AWX, AAP and ansible-navigator: a job's output "
                    "is a log, so the watch prints plain lines."
                )
            return False
        if mode != "auto":
            return mode == "live"
        return sys.stdout.isatty() and os.environ.get("TERM") != "dumb" and self._display.verbosity < 2

    def _open_json_lines(self) -> None:
        path = self.get_option("json_lines_path")
        if not path or self._json_file is not None:
            return
        self._json_path = path
        try:
            self._json_file = open(path, "a", encoding="utf-8")
        except OSError as exc:
            # A callback cannot fail a play (Ansible turns its exceptions into warnings), and
            # polling without the records asked for would lose them: stop here, before any
            # host is polled.
            self._display.error(
                "gpufleet.vllm.dashboard: cannot open the JSON lines file %s (GPUFLEET_DASHBOARD_JSON "
                "or [gpufleet_dashboard] json_lines_path): %s. Point it at a writable file in an "
                "existing directory, or unset it." % (path, exc.strerror or exc),
                wrap_text=False,
            )
            raise SystemExit(RECORDS_LOST_EXIT) from None

    def _check_prometheus_path(self) -> None:
        path = self.get_option("prometheus_path")
        if not path:
            return
        try:
            check_report_path(path)
        except ReportPathError as exc:
            # As for the JSON lines: polling without the export asked for would lose it.
            self._display.error(
                "gpufleet.vllm.dashboard: GPUFLEET_DASHBOARD_PROM (or [gpufleet_dashboard] prometheus_path): %s" % exc,
                wrap_text=False,
            )
            raise SystemExit(RECORDS_LOST_EXIT) from None
        self._prometheus_path = path

    def _write_prometheus(self, host, now: float, force: bool = False) -> None:
        """Rewrite the metrics file once every polled host reported since the last write (one
        refresh), or a second after it, or when forced (the end). Called with the lock held."""
        if self._prometheus_path is None:
            return
        if host is not None:
            self._prometheus_pending.add(host.name)
        polled = {each.name for each in self._hosts.values() if each.provisioned}
        if not force and not polled <= self._prometheus_pending and now - self._prometheus_written < 1.0:
            return
        self._prometheus_written, self._prometheus_pending = now, set()
        try:
            write_report(self._prometheus_path, render_metrics(fleet_hosts(self._fleet)))
        except ReportPathError as exc:
            self._prometheus_path = None
            self._records_lost = True
            message = (
                "gpufleet.vllm.dashboard: cannot write the Prometheus metrics: %s; no more are written and "
                "the watch will exit with status %d" % (exc, RECORDS_LOST_EXIT)
            )
            if self._screen is not None:
                self._fleet.warnings.append(message)
                self._screen.invalidate()
            else:
                self._display.error(message, wrap_text=False)

    # -- signals ------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        if self._previous_handlers or threading.current_thread() is not threading.main_thread():
            return
        for signum in TERMINATING_SIGNALS:
            self._previous_handlers[signum] = signal.getsignal(signum)
            signal.signal(signum, self._on_terminating_signal)

    def _on_terminating_signal(self, signum, frame) -> None:
        """SIGTERM or SIGHUP: give the terminal back (last frame, cursor shown), keep the JSON
        lines, then end as Ansible would: its own SIGTERM handler stops the workers and dies
        of the signal. Ansible has no SIGHUP handler and its workers run in sessions of their
        own, so a hangup would leave them polling: they get Ansible's SIGTERM treatment."""
        self._shutdown()
        ansible_handler = self._previous_handlers.get(signal.SIGTERM)
        if signum == signal.SIGTERM and callable(ansible_handler):
            ansible_handler(signum, frame)
            return
        for worker in getattr(getattr(ansible_handler, "__self__", None), "_workers", None) or ():
            if worker is not None and worker.is_alive() and worker.pid:
                try:
                    os.kill(worker.pid, signal.SIGTERM)
                except OSError:
                    pass
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    # -- results ------------------------------------------------------------------------------

    def _is_watched(self, result) -> bool:
        return self._fleet is not None and result.task.action in NODE_INFO_ACTIONS

    def _is_settings(self, result) -> bool:
        return self._fleet is not None and result.task.action in SETTINGS_ACTIONS

    def v2_runner_retry(self, result):
        if self._is_watched(result):
            self._record(result)
        else:
            super().v2_runner_retry(result)

    def v2_runner_on_ok(self, result):
        if self._is_watched(result):
            self._record(result)
        elif self._is_settings(result):
            # Every host checks its own settings (host variables differ); the play-wide ones
            # (interval, view, sort, thresholds) are the same in each: the first result is kept.
            if self._checked_settings is None:
                self._checked_settings = result.result.get("settings") or {}
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
        elif task.action in NODE_INFO_ACTIONS and not self._settled and self._checked_settings is not None:
            # Every host's settings passed: the polling starts, and so does the view.
            self._settle(self._checked_settings)

    def v2_playbook_on_stats(self, stats):
        if self._fleet is None:
            super().v2_playbook_on_stats(stats)
            return
        if self._settled:
            with self._lock:
                self._write_prometheus(None, time.time(), force=True)
        self._stop_screen()
        if not self._settled:
            # The settings were refused (the task's message is above): nothing was polled.
            super().v2_playbook_on_stats(stats)
            return
        self._display.display("gpufleet watch ended after %s" % _duration(time.time() - self._fleet.started_at))
        if self._records_lost:
            raise SystemExit(RECORDS_LOST_EXIT)

    def _settle(self, settings: dict) -> None:
        """The validated settings, from the watch_settings task: start showing the fleet."""
        with self._lock:
            fleet = self._fleet
            fleet.interval_s = _number(settings.get("refresh_interval_s"))
            fleet.view = settings.get("view") or fleet.view
            fleet.sort = settings.get("sort") or fleet.sort
            try:
                fleet.thresholds = Thresholds.from_mapping(settings.get("thresholds") or {})
            except ValueError:
                fleet.thresholds = Thresholds()
            self._custom_checks = list(settings.get("custom_checks") or [])
            self._wait_timeout = _number(settings.get("wait_timeout_s")) or DEFAULT_WAIT_TIMEOUT_S
            self._settled = True
        if self._use_live_display():
            self._screen = _LiveScreen(self._fleet, self._lock, self.get_option("redraw_interval"))
            self._screen.start()
        else:
            for warning in self._fleet.warnings:
                self._display.warning(warning)
            interval = ", refresh every %gs" % fleet.interval_s if fleet.interval_s is not None else ""
            self._display.display("gpufleet watch: %d hosts%s" % (len(self._hosts), interval))
        # Hosts that are never polled get their one line (and JSON record) now.
        now = time.time()
        with self._lock:
            for host in self._hosts.values():
                if not host.provisioned:
                    self._emit(host, now)

    def _record(self, result, unreachable: bool = False) -> None:
        payload = result.result
        now = time.time()
        with self._lock:
            host = self._hosts.get(result.host.get_name())
            if host is None:
                return
            if not self._settled:
                # A play of the operator's own, without the watch_settings task: the defaults,
                # and the interval as the results report it.
                self._settle(dict(WatchSettings().as_result(), refresh_interval_s=None))
            used = _number(payload.get("refresh_interval_s"))
            if used is not None:
                # The interval the action really paces at, when it reports it.
                self._fleet.interval_s = used
            error = failure = document = None
            if unreachable or payload.get("reachable") is False:
                error = str(payload.get("msg") or "host unreachable")
            elif "schema_version" in payload:
                document = {key: payload.get(key) for key in DOCUMENT_KEYS}
            else:
                failure = str(payload.get("msg") or "node_info failed without a message")
            # The window's rates and percentiles, computed once for the checks and the views.
            serving = serving_figures(document, previous=host.document) if document is not None else None
            checks = health_checks(
                document if document is not None else host.document,
                unreachable=error,
                failure=failure,
                thresholds=self._fleet.thresholds,
                expected_gpu_count=self._expected_gpus.get(host.name),
                wait_timeout_s=self._wait_timeout,
                custom_checks=self._custom_checks,
                previous=host.document if document is not None else None,
                serving=serving,
            )
            host.record(now, document=document, unreachable=error, failure=failure, checks=checks, serving=serving)
            self._emit(host, now)

    def _emit(self, host, now: float) -> None:
        """Publish one host's new state: a plain line without a terminal, a JSON record when asked,
        a redraw request with the live display. Called with the lock held."""
        if self._screen:
            self._screen.invalidate()
        else:
            self._display.display(plain_line(self._fleet, host, now))
        if self._json_file is not None:
            try:
                self._json_file.write(json_line(json_record(host, now)))
                self._json_file.flush()
            except OSError as exc:
                self._json_lost(exc)
        self._write_prometheus(host, now)

    def _json_lost(self, exc: OSError) -> None:
        """Once: the error, shown where the operator looks; no more writes; a non-zero exit."""
        self._records_lost = True
        message = (
            "gpufleet.vllm.dashboard: cannot write the JSON lines file %s: %s; no more records are written "
            "and the watch will exit with status %d" % (self._json_path, exc.strerror or exc, RECORDS_LOST_EXIT)
        )
        self._close_json()
        if self._screen is not None:
            self._fleet.warnings.append(message)
            self._screen.invalidate()
        else:
            self._display.error(message, wrap_text=False)

    def _close_json(self) -> None:
        json_file, self._json_file = self._json_file, None
        if json_file is not None:
            try:
                json_file.close()
            except OSError:
                pass  # a full disk: the loss was reported when the write failed

    # -- teardown --------------------------------------------------------------------------------

    def _stop_screen(self) -> None:
        screen, self._screen = self._screen, None
        if screen is not None:
            screen.stop()

    def _shutdown(self) -> None:
        # Ctrl-C skips v2_playbook_on_stats: this atexit hook restores the cursor and leaves the
        # last frame on screen.
        self._stop_screen()
        self._close_json()
        if self._records_lost:
            # Reported once already; said again last, where a scrolled terminal shows it.
            sys.stderr.write("gpufleet.vllm.dashboard: JSON lines records were lost (see above)\n")
            self._records_lost = False


class _LiveScreen:
    """Owns the rich Live display and redraws it from a thread, at most every ``redraw_interval``
    seconds and at least every second, so bursts of results cost one frame. The frame is sized
    to the terminal at every draw, resizes included."""

    def __init__(self, fleet, lock, redraw_interval: float):
        self._fleet = fleet
        self._lock = lock
        self._redraw_interval = max(float(redraw_interval), 0.02)
        self._console = Console(highlight=False, no_color=C.ANSIBLE_NOCOLOR or None, theme=THEME)
        self._cache = FrameCache()
        # Output of other code (Ansible's warnings) goes above the frame rather than through it.
        self._live = Live(
            console=self._console,
            auto_refresh=False,
            transient=False,
            vertical_overflow="crop",
            redirect_stdout=True,
            redirect_stderr=True,
        )
        self._dirty = threading.Event()
        self._stopped = threading.Event()
        self._size = None
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

    def _frame(self):
        size = self._console.size
        return render_frame(self._fleet, time.time(), size.width, size.height, self._cache)

    def _draw(self) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            size = self._console.size
            if self._size is not None and size != self._size:
                # The terminal re-wrapped the old frame to the new width: redrawing in place
                # would leave its pieces above the new one.
                self._console.clear()
            self._size = size
            self._live.update(self._frame(), refresh=True)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._dirty.set()
        with self._lock:
            try:
                self._live.update(self._frame(), refresh=True)
                self._live.stop()
            except OSError:
                pass  # the terminal is gone (a hangup): nothing left to give back


def _environ_choices() -> dict:
    return {name: os.environ[name] for name in ("GPUFLEET_WATCH_VIEW", "GPUFLEET_WATCH_SORT") if name in os.environ}


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _text_or_none(value) -> str | None:
    return None if value in (None, "") else str(value)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return "%dm%02ds" % (minutes, secs) if minutes else "%ds" % secs
