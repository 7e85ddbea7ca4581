# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of gpufleet.vllm.node_info: pacing and connection failures as results.

Why an action plugin: a task that retries itself (``until``/``retries``) is how the watch loop
refreshes, and a host that raises "unreachable" leaves that loop for good, even with
``ignore_unreachable`` (measured, see mechanics.md). With ``unreachable_as_result`` the SSH error
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

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text

# Retries of one task on one host run in one worker process, each with a new ActionModule, so
# the previous start time lives at module level, keyed by host and task.
_previous_start: dict[tuple[str, str], float] = {}
_previous_start_lock = threading.Lock()
_ERROR_LIMIT = 500
# Ansible's wording around the SSH client's own error, and the ControlMaster chatter that comes
# before it; what is left ("ssh: connect to host ... No route to host") is what an operator needs.
_BOILERPLATE_RE = re.compile(
    r"^(?:Data could not be sent to remote host \"[^\"]*\"\. Make sure this host can be reached over ssh: "
    r"|Failed to connect to the host via ssh: |EOF on stream; last 100 lines received:)")
_NOISE_LINE_RE = re.compile(r"^(?:mux_client_\w+|muxclient|control_persist|Control socket|"
                            r"Warning: Permanently added)")


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        self._pace(float(self._task.args.get("refresh_interval") or 0), str((task_vars or {}).get("inventory_hostname", "")))
        try:
            result.update(self._execute_module(task_vars=task_vars))
        except AnsibleConnectionFailure as exc:
            if not boolean(self._task.args.get("unreachable_as_result", False), strict=False):
                raise
            self._forget_connection()
            result.update(changed=False, failed=False, reachable=False,
                          msg=clean_text(connection_error_summary(str(exc)), _ERROR_LIMIT))
            return result
        result["reachable"] = True
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

    def _forget_connection(self) -> None:
        # The next retry must dial again rather than reuse a half-dead connection.
        try:
            self._connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
            pass


def connection_error_summary(text: str) -> str:
    """The SSH client's error lines of a connection failure, without Ansible's wrapping."""
    lines = [_BOILERPLATE_RE.sub("", line).strip() for line in text.splitlines()]
    useful = [line for line in lines if line and not _NOISE_LINE_RE.match(line)]
    return "; ".join(useful) if useful else text.strip()
