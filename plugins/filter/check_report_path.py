# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter gpufleet.vllm.check_report_path: is a report file on the controller writable, checked
before any work is done (plugin_utils/_report.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: check_report_path
short_description: Check, before any host is polled, that a report can be written at a path on the controller
version_added: 0.1.0
author:
  - gpufleet.vllm contributors
description:
  - Returns V(true) when P(gpufleet.vllm.write_report#filter) can write a report at the path, or when the path is
    empty (no report); otherwise raises an error naming the variable, the path and the cause.
  - "Accepted: a regular file (replaced), a name that does not exist yet in an existing folder, a symbolic link (the
    file it leads to is replaced), the null device C(/dev/null) (the report is discarded, the device left alone).
    Refused: a missing folder, a directory, a FIFO, a socket, any other device, a folder where no file can be
    created (permissions, a read-only or virtual file system such as C(/proc)): a temporary file is created in the
    folder and removed to find out."
  - Runs on the controller; relative paths are relative to the folder ansible-playbook runs in.
  - Used as the condition of a C(meta) task, which Ansible evaluates in its main process, the error ends the whole
    run with exit code 1 before any host is polled (see docs/health.md, "Exit codes").
positional: _input
options:
  _input:
    description: The path; empty or null means no report.
    type: str
    required: true
  variable:
    description: Name of the variable the path came from, named in the error.
    type: str
    default: path
"""

EXAMPLES = r"""
- name: Refuse a JUnit path that cannot be written, before any VM is polled (exit code 1)
  run_once: true
  ansible.builtin.meta: end_host
  when: not (health_junit_path | gpufleet.vllm.check_report_path(variable='health_junit_path'))
"""

RETURN = r"""
_value:
  description: V(true); a path that cannot be written raises an error instead.
  type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._report import ReportPathError, check_report_path as check


def check_report_path(path, variable="path"):
    if path is None or path == "":
        return True
    try:
        check(path)
    except ReportPathError as exc:
        raise AnsibleFilterError(f"{variable}: {exc}") from None
    return True


class FilterModule:
    def filters(self):
        return {"check_report_path": check_report_path}
