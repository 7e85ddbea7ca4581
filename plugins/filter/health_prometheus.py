# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter gpufleet.vllm.health_prometheus: the fleet's health checks and node_info documents as
Prometheus text for node_exporter's textfile collector (plugin_utils/_prometheus_export.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: health_prometheus
short_description: Health checks and node_info documents as Prometheus metrics (node_exporter textfile format)
version_added: 0.1.0
author:
  - gpufleet.vllm contributors
description:
  - "Renders the Prometheus text format: C(# HELP) and C(# TYPE) for every family, then one sample per line, names
    C(gpufleet_*) with the labels C(host), C(gpu), C(engine), C(check) (docs/prometheus.md lists every metric)."
  - "Per evaluated host: C(gpufleet_up), C(gpufleet_state), C(gpufleet_health_status), C(gpufleet_check_status) per
    check, and from its document the GPU readings (utilisation, memory, temperature, power, ECC, clock event
    reasons, foreign memory, XIDs), the engines' throughput, requests and KV cache, and the serving latency
    percentiles when vLLM's /metrics was read. A host whose checks are V(null) (not provisioned) has no sample."
  - Label values come from VMs and inventories; they are cleaned and escaped. An absent figure has no sample, never 0.
  - Write the text with P(gpufleet.vllm.write_report#filter) (atomically, never over anything but a regular file).
positional: _input
options:
  _input:
    description: Mapping of host name to its list of checks (P(gpufleet.vllm.health_checks#filter)), or V(null).
    type: dict
    required: true
  documents:
    description: Mapping of host name to its node_info result (V(null) or absent when there is none).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Write the fleet's metrics for node_exporter (an error ends the run with exit code 1)
  ansible.builtin.meta: end_play
  when: >-
    not (health_results | gpufleet.vllm.health_prometheus(health_documents)
         | gpufleet.vllm.write_report(health_prometheus_path, variable='health_prometheus_path'))
"""

RETURN = r"""
_value:
  description: The metrics, Prometheus text exposition format 0.0.4.
  type: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._prometheus_export import render, state_of


def health_prometheus(results, documents=None):
    if not isinstance(results, Mapping):
        raise AnsibleFilterError(
            f"health_prometheus: input must be a mapping of host to checks, not {type(results).__name__}"
        )
    if documents is not None and not isinstance(documents, Mapping):
        raise AnsibleFilterError(
            f"health_prometheus: documents must be a mapping of host to node_info result, "
            f"not {type(documents).__name__}"
        )
    documents = documents or {}
    hosts = []
    for host, checks in results.items():
        if checks is None:
            continue
        document = documents.get(host)
        hosts.append({"name": host, "document": document, "checks": list(checks), "state": state_of(document)})
    return render(hosts)


class FilterModule:
    def filters(self):
        return {"health_prometheus": health_prometheus}
