# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A connection that reaches nothing: every module run answers at once with a recorded result.

For benchmarks/fleet.py's controller floor only (the watch loop's own cost with no SSH and no VM):
the action plugin, the module build, the strategy and the dashboard all run as for a real host.
"""

from __future__ import annotations

DOCUMENTATION = """
name: gpufleet_noop
short_description: Benchmark connection that answers every module run with a recorded result
description:
  - Returns the contents of the file named by C(GPUFLEET_NOOP_RESULT) as the module's output, at once.
author: gpufleet.vllm contributors
options:
  pipelining:
    description: Send the module on stdin (always, there is nothing else).
    type: bool
    default: true
"""

import os

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection import ConnectionBase

_RESULT_LIMIT = 1024 * 1024


def _recorded_result() -> bytes:
    path = os.environ.get("GPUFLEET_NOOP_RESULT", "")
    try:
        with open(path, "rb") as result:
            return result.read(_RESULT_LIMIT)
    except OSError as exc:
        raise AnsibleConnectionFailure(
            "gpufleet_noop: set GPUFLEET_NOOP_RESULT to a readable module result file (%s)" % exc
        ) from exc


class Connection(ConnectionBase):
    transport = "gpufleet_noop"
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._result = None

    def _connect(self):
        if self._result is None:
            self._result = _recorded_result()
        self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        return 0, self._result, b""

    def put_file(self, in_path, out_path):
        raise AnsibleConnectionFailure("gpufleet_noop transfers no files (pipelining is always on)")

    def fetch_file(self, in_path, out_path):
        raise AnsibleConnectionFailure("gpufleet_noop transfers no files")

    def close(self):
        self._connected = False
