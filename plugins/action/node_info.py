# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of gpufleet.vllm.node_info: pacing and connection failures as results.

Why an action plugin: a task that retries itself (``until``/``retries``) is how the watch loop
refreshes, and a host that raises "unreachable" leaves that loop for good, even with
``ignore_unreachable`` (measured, see docs/dev/mechanics.md). With ``unreachable_as_result`` the SSH error
comes back as an ordinary result (``reachable: false``), so the next retry reconnects and the host
rejoins when it recovers. ``refresh_interval`` paces the retries so that collections start every
N seconds whatever each one took (a plain ``delay`` would add the collection time to every period).
"""

from __future__ import annotations

import re
import threading
import time

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.gpufleet.vllm.plugins.module_utils._options import LIMITS, InvalidOption, check_option
from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text

# Retries of one task on one host run in one worker process, each with a new ActionModule, so
# the previous start time lives at module level, keyed by host and task.
_previous_start: dict[tuple[str, str], float] = {}
_previous_start_lock = threading.Lock()
# Ansible's wordings around the SSH client's own error, ssh's chatter, and the lines of its
# "host key changed" banner that say nothing an operator needs; what is left ("ssh: connect to
# host ... No route to host", "Host key verification failed.") is the cause.
_BOILERPLATE_RE = re.compile(
    r"^(?:Data could not be sent to remote host [\"'][^\"']*[\"']\. Make sure this host can be reached "
    r"over ssh:?|Failed to connect to the host via ssh:|EOF on stream; last 100 lines received:)\s*",
    re.IGNORECASE,
)
_NOISE_LINE_RE = re.compile(
    r"^(?:mux_client_\w+|muxclient|control_persist|Control socket|Warning: Permanently added|"
    r"IT IS POSSIBLE THAT SOMEONE|Someone could be eavesdropping|It is also possible that a host key|"
    r"The fingerprint for the|SHA256:|Please contact your system administrator|Add correct host key in|"
    r"Offending \S+ key in|remove with:|ssh-keygen -f|Password authentication is disabled|"
    r"Keyboard-interactive authentication is disabled|Agent forwarding is disabled|"
    r"X11 forwarding is disabled|UpdateHostkeys is disabled)"
)
_ERROR_LIMIT = 500
# Exit statuses from 128 up: a process killed by signal N (128 + N), and ssh's own 255 for a
# connection error.
_SHELL_SIGNAL_BASE = 128
_LOST_CONNECTION = "connection lost while collecting"
SSH_REASON_LOST = "connection failed while sending the module ([Errno 32] Broken pipe; ssh's reason was not captured)"
_BROKEN_PIPE = "[Errno 32] Broken pipe"
# The shell's statuses for a command not found (127) or found but not runnable (126).
_SHELL_CANNOT_RUN = (126, 127)
# What the VM prints when its Python cannot start or cannot run the module: no interpreter, a
# pyenv/asdf shim without that version, a broken install, a Python too old for the module.
_PYTHON_UNUSABLE_RE = re.compile(
    r"command not found|not found|No such file or directory|bad interpreter|cannot execute|"
    r"Permission denied|error while loading shared libraries|pyenv:|asdf:|"
    r"No module named '?encodings|Fatal Python error|SyntaxError|invalid syntax"
)
PYTHON_UNUSABLE = "Python not usable on the VM"
# Ansible's wordings for a module run that printed no result (2.19+, and older ones).
_ANSIBLE_NO_RESULT_RE = re.compile(
    r"Module result deserialization failed|MODULE FAILURE|The module failed to execute correctly"
)
_VM_WORDS_LIMIT = 300
MODULE_CRASHED = "node_info crashed on the VM"


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        try:
            # Checked before anything runs (and before the pace's sleep): NaN, infinities, text.
            for name in LIMITS:
                check_option(name, self._task.args.get(name))
        except InvalidOption as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        self._pace(
            float(check_option("refresh_interval", self._task.args.get("refresh_interval")) or 0),
            str((task_vars or {}).get("inventory_hostname", "")),
        )
        # The dashboard's header shows the interval really paced at, learned from each result.
        result["refresh_interval_s"] = float(
            check_option("refresh_interval", self._task.args.get("refresh_interval")) or 0
        )
        as_result = boolean(self._task.args.get("unreachable_as_result", False), strict=False)
        try:
            module_result = self._execute_module(task_vars=task_vars)
        except AnsibleConnectionFailure as exc:
            if not as_result:
                raise
            summary = connection_error_summary(str(exc))
            if summary == SSH_REASON_LOST:
                summary = self._ssh_reason() or summary
            return self._unreachable(result, summary)
        if as_result and _lost_connection(module_result):
            details = _useful_lines(str(module_result.get("module_stderr") or ""))
            return self._unreachable(
                result,
                "%s (exit status %s%s)"
                % (_LOST_CONNECTION, module_result.get("rc"), ": " + "; ".join(details) if details else ""),
            )
        result.update(module_result)
        result["reachable"] = True
        failure = module_start_failure(module_result)
        if failure is not None:
            result["failure_kind"], result["msg"] = failure
            # Ansible's own exception would be displayed instead of the message: it says only
            # that no result came back.
            result.pop("exception", None)
        return result

    def _unreachable(self, result: dict, message: str) -> dict:
        self._forget_connection()
        result.update(changed=False, failed=False, reachable=False, msg=clean_text(message, _ERROR_LIMIT))
        return result

    def _pace(self, interval: float, host: str) -> None:
        if interval <= 0:
            return
        key = (self._task._uuid, host)
        with _previous_start_lock:
            previous = _previous_start.get(key)
        if previous is not None:
            remaining = interval - (time.monotonic() - previous)
            if remaining > 0:
                time.sleep(remaining)
        with _previous_start_lock:
            _previous_start[key] = time.monotonic()

    def _ssh_reason(self) -> str | None:
        """Why the connection fails, asked again with a command that sends nothing: ssh had
        already exited (a refused connection is that fast) when Ansible wrote the module to it,
        and Ansible keeps only the write's "Broken pipe". None when the second try connects."""
        try:
            self._connection.exec_command("true")
        except AnsibleConnectionFailure as exc:
            reason = connection_error_summary(str(exc))
            return None if reason == SSH_REASON_LOST else reason
        except Exception:  # noqa: BLE001 - any other failure of the second try tells nothing more
            return None
        return None

    def _forget_connection(self) -> None:
        # The next retry must dial again rather than reuse a half-dead connection.
        try:
            self._connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
            pass


def connection_error_summary(text: str) -> str:
    """The SSH client's error lines of a connection failure, without Ansible's wrapping, ssh's
    chatter and the '@' frame of its banners."""
    useful = _useful_lines(text)
    if not useful:
        return _LOST_CONNECTION + " (ssh gave no reason)"
    if useful == [_BROKEN_PIPE]:
        # Ansible could not write the module to ssh, which had already exited: its reason is lost.
        return SSH_REASON_LOST
    return "; ".join(useful)


def _useful_lines(text: str) -> list:
    lines = [_BOILERPLATE_RE.sub("", line.strip("@ \t\r")).strip() for line in text.splitlines()]
    return [line for line in lines if line and not _NOISE_LINE_RE.match(line)]


def module_start_failure(module_result: dict):
    """(failure_kind, message) when the module printed no result at all, else None.

    Ansible then says only "Module result deserialization failed: No start of json char found"
    (or "MODULE FAILURE"); the cause is in what the VM printed. failure_kind is python_unusable
    when the VM's Python could not start or run the module (exit 126/127, a shim's "command not
    found", a missing library, a Python too old to read the module), else module_crashed."""
    if module_result.get("failed") is not True or not _ANSIBLE_NO_RESULT_RE.match(str(module_result.get("msg") or "")):
        return None
    rc = module_result.get("rc")
    stderr = str(module_result.get("module_stderr") or "")
    stdout = str(module_result.get("module_stdout") or "")
    words = _useful_lines(stderr) or _useful_lines(stdout)
    status = "exit status %s" % rc if rc is not None else "no exit status"
    if rc in _SHELL_CANNOT_RUN or _PYTHON_UNUSABLE_RE.search(stderr + "\n" + stdout):
        said = clean_text("; ".join(words), _VM_WORDS_LIMIT) if words else "it printed nothing"
        return "python_unusable", "%s (%s): %s; set ansible_python_interpreter to a working Python 3.8 or later" % (
            PYTHON_UNUSABLE,
            status,
            said,
        )
    # A traceback ends with the exception: the last line says the most.
    cause = clean_text(words[-1], _VM_WORDS_LIMIT) if words else "it printed nothing"
    return "module_crashed", "%s (%s): %s" % (MODULE_CRASHED, status, cause)


def _lost_connection(module_result: dict) -> bool:
    """A module run cut off under it (sshd killed, VM rebooting): no module output at all and
    ssh's connection-error status 255, or the remote interpreter killed by a signal (a negative
    status, or 128 + the signal as the shell reports it). Ansible reports these as a result it
    cannot parse; a module that really fails prints its error on stdout or exits normally."""
    rc = module_result.get("rc")
    killed = isinstance(rc, int) and (rc < 0 or rc >= _SHELL_SIGNAL_BASE)
    return module_result.get("failed") is True and killed and not str(module_result.get("module_stdout") or "").strip()
