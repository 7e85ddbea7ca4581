# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter gpufleet.vllm.write_report: write a report file on the controller, atomically and
never over anything but a regular file (plugin_utils/_report.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: write_report
short_description: Write a report file on the controller, atomically, never over anything but a regular file
version_added: 0.1.0
author:
  - gpufleet.vllm contributors
description:
  - Writes the text (UTF-8) to O(path) on the controller and returns V(true); with an empty O(path) writes nothing.
  - The text goes to a temporary file in the same folder, which then replaces the report with one rename, so a
    reader never sees half a report and a failed write leaves the previous one. An existing report keeps its
    permissions; a new one gets C(0644).
  - O(path) may be a regular file, a name that does not exist yet, a symbolic link (the file it leads to is
    replaced, the link stays) or C(/dev/null) (the report is discarded, the device left alone). Anything else
    (a directory, a FIFO, a socket, another device) is refused, as is a folder that does not exist or takes no new
    file; the error names the variable, the path and the cause. Check the path before the work with
    P(gpufleet.vllm.check_report_path#filter).
  - "A filter runs where Ansible templates it, on the controller, whatever the inventory calls its hosts: unlike a
    task delegated to C(localhost), it cannot be sent to an inventory host that took the name C(localhost). As the
    condition of a C(meta) task (evaluated in Ansible's main process), an error ends the whole run with exit code 1
    rather than failing a host."
positional: _input
options:
  _input:
    description: The text of the report.
    type: str
    required: true
  path:
    description: Where to write it; empty or null means no report.
    type: str
    required: true
  variable:
    description: Name of the variable the path came from, named in the error.
    type: str
    default: path
"""

EXAMPLES = r"""
- name: Write the JUnit report on the controller (an error ends the run with exit code 1)
  run_once: true
  ansible.builtin.meta: end_host
  when: not (results | gpufleet.vllm.health_junit | gpufleet.vllm.write_report(health_junit_path))
"""

RETURN = r"""
_value:
  description: V(true); a report that cannot be written raises an error instead.
  type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._report import ReportPathError, write_report as write


def write_report(text, path, variable="path"):
    if path is None or path == "":
        return True
    if not isinstance(text, str):
        raise AnsibleFilterError(f"write_report: the report must be text, not {type(text).__name__}")
    try:
        write(path, text)
    except ReportPathError as exc:
        raise AnsibleFilterError(f"{variable}: {exc}") from None
    return True


class FilterModule:
    def filters(self):
        return {"write_report": write_report}
