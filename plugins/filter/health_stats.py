# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter gpufleet.vllm.health_stats: the per-VM results of a health run as data, for
ansible.builtin.set_stats (AWX/AAP workflow conditions, ansible-runner artifacts)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: health_stats
short_description: Per-VM health results as data for set_stats
version_added: 0.1.0
author:
  - gpufleet.vllm contributors
description:
  - "Turns the checks that P(gpufleet.vllm.health_checks#filter) returned per host into one small mapping per
    host: its overall status and the names of its failed and warned checks. C(playbooks/health.yml) publishes it
    with M(ansible.builtin.set_stats) as C(gpufleet_health), so that an AWX/AAP workflow can branch on it
    (for example C(gpufleet_health.failed_hosts | length == 0))."
  - "A host whose checks are V(null) (not provisioned, not evaluated) has status V(skipped)."
positional: _input
options:
  _input:
    description: Mapping of host name to its list of checks, or to V(null) when it was not evaluated.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Publish the results (run once, after every host was evaluated)
  run_once: true
  vars:
    results: >-
      {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'health_checks'))) }}
  ansible.builtin.set_stats:
    data:
      gpufleet_health: "{{ results | gpufleet.vllm.health_stats }}"
    per_host: false
"""

RETURN = r"""
_value:
  description: C(hosts) (host name to C(status), C(failed), C(warned)), C(failed_hosts), C(passed_hosts), C(skipped_hosts).
  type: dict
  sample:
    hosts:
      hyperstack-vm1: {status: ok, failed: [], warned: []}
      hyperstack-vm2: {status: fail, failed: [fatal_errors], warned: []}
    failed_hosts: [hyperstack-vm2]
    passed_hosts: [hyperstack-vm1]
    skipped_hosts: []
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import FAIL, WARN, overall_status

SKIPPED = "skipped"


def health_stats(results):
    if not isinstance(results, Mapping):
        raise AnsibleFilterError(
            "health_stats expects a mapping of host name to checks, got %s" % type(results).__name__
        )
    hosts = {}
    for host, checks in results.items():
        if checks is None:
            hosts[str(host)] = {"status": SKIPPED, "failed": [], "warned": []}
            continue
        hosts[str(host)] = {
            "status": overall_status(checks),
            "failed": [str(check.get("name")) for check in checks if check.get("status") == FAIL],
            "warned": [str(check.get("name")) for check in checks if check.get("status") == WARN],
        }
    return {
        "hosts": hosts,
        "failed_hosts": [host for host, result in hosts.items() if result["status"] == FAIL],
        "passed_hosts": [host for host, result in hosts.items() if result["status"] not in (FAIL, SKIPPED)],
        "skipped_hosts": [host for host, result in hosts.items() if result["status"] == SKIPPED],
    }


class FilterModule:
    def filters(self):
        return {"health_stats": health_stats}
