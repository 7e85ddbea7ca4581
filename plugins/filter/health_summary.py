# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter gpufleet.vllm.health_summary: one line per host from gpufleet.vllm.health_checks
results (plugin_utils/_health.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: health_summary
short_description: One summary line per host from health check results
version_added: 0.1.0
author:
  - gpufleet.vllm contributors
description:
  - "Builds one line per host, in the order of the input, from the checks that P(gpufleet.vllm.health_checks#filter)
    returned, for example: hyperstack-vm1: FAIL 2 failed (gpu_count, kv_cache), 1 warned (container_restarts), 9 ok."
  - "The status word is the worst of the host's checks (V(FAIL), V(WARN), V(OK)); a host whose checks are V(null)
    (skipped, not provisioned) gives C(<host>: SKIPPED not evaluated)."
positional: _input
options:
  _input:
    description: Mapping of host name to its list of checks, or to V(null) when it was not evaluated.
    type: dict
    required: true
"""

EXAMPLES = r"""
# Every host of the play must have health_checks: set it to null first for hosts the health role skips.
- name: Print one line per host (run once, after every host was evaluated)
  run_once: true
  vars:
    results: >-
      {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'health_checks'))) }}
  ansible.builtin.debug:
    msg: "{{ results | gpufleet.vllm.health_summary }}"
"""

RETURN = r"""
_value:
  description: One line per host.
  type: list
  elements: str
  sample: ["hyperstack-vm1: OK 12 ok", "hyperstack-vm2: FAIL 1 failed (fatal_errors), 11 ok"]
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import summary_line


def health_summary(results):
    if not isinstance(results, Mapping):
        raise AnsibleFilterError(
            f"health_summary: input must be a mapping of host to checks, not {type(results).__name__}"
        )
    return [summary_line(host, None if checks is None else list(checks)) for host, checks in results.items()]


class FilterModule:
    def filters(self):
        return {"health_summary": health_summary}
