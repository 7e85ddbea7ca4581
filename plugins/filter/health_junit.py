# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter gpufleet.vllm.health_junit: JUnit XML (the common Jenkins/GitLab/pytest schema) from
gpufleet.vllm.health_checks results of several hosts (plugin_utils/_health.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: health_junit
short_description: JUnit XML report of the health checks of several hosts
version_added: 0.1.0
author:
  - gpufleet.vllm contributors
description:
  - "Builds a JUnit XML document from the checks that P(gpufleet.vllm.health_checks#filter) returned for each
    host: one C(testsuite) holding one C(testcase) per host and check, named C(<host> :: <check>) with the host as
    C(classname)."
  - "A V(fail) check is a C(failure) whose message is the check's message. A V(warn) check passes, with
    C(WARN: <message>) in its C(system-out) (a warning is neither a failure nor a test that did not run); an V(ok)
    check has C(OK: <message>) there."
  - "A host whose checks are V(null) (skipped, not provisioned) is one C(skipped) test case C(<host> :: health)."
  - The XML is built with ElementTree, which escapes the messages (they come from the VM); characters that XML
    cannot carry are removed. Write it with M(ansible.builtin.copy) and O(ansible.builtin.copy#module:content).
positional: _input
options:
  _input:
    description: Mapping of host name to its list of checks, or to V(null) when it was not evaluated.
    type: dict
    required: true
  suite_name:
    description: Name of the C(testsuites) and C(testsuite) elements.
    type: str
    default: gpufleet.vllm.health
"""

EXAMPLES = r"""
# Every host of the play must have health_checks: set it to null first for hosts the health role skips.
- name: Write the JUnit report on the controller
  run_once: true
  delegate_to: localhost
  vars:
    results: >-
      {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'health_checks'))) }}
  ansible.builtin.copy:
    content: "{{ results | gpufleet.vllm.health_junit }}"
    dest: "{{ playbook_dir }}/health-junit.xml"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The XML document, with an XML declaration.
  type: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import JUNIT_SUITE, junit_xml


def health_junit(results, suite_name=JUNIT_SUITE):
    if not isinstance(results, Mapping):
        raise AnsibleFilterError(
            f"health_junit: input must be a mapping of host to checks, not {type(results).__name__}"
        )
    return junit_xml(
        {str(host): None if checks is None else list(checks) for host, checks in results.items()},
        suite_name=str(suite_name),
    )


class FilterModule:
    def filters(self):
        return {"health_junit": health_junit}
