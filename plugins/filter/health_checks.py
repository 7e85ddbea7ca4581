# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter gpufleet.vllm.health_checks: the health evaluation of plugin_utils/_health.py on a
registered gpufleet.vllm.node_info result."""

from __future__ import annotations

DOCUMENTATION = r"""
name: health_checks
short_description: Evaluate the health checks of one vLLM GPU VM from its node_info result
version_added: 0.1.0
author:
  - gpufleet.vllm contributors
description:
  - Turns the result registered from M(gpufleet.vllm.node_info) into a list of checks, each
    C({name, status, message}) with RV(_value[].status) one of V(ok), V(warn), V(fail).
  - "Built-in checks, in this order: V(reachable), V(gpu_driver), V(gpu_count), V(gpu_temperature),
    V(container_running), V(container_restarts), V(container_oom), V(fatal_errors), V(engine_serving),
    V(kv_cache), V(engine_stalled), V(stats_fresh); then the custom checks in the order given."
  - A check whose input does not exist is left out, so each problem is reported once at its cause. An
    unreachable host (a result with C(reachable=false), from O(gpufleet.vllm.node_info#module:unreachable_as_result=true))
    or a failed module run gives the single check V(reachable). A GPU query that failed hides V(gpu_count) and
    V(gpu_temperature). A container that does not run hides the engine checks. A log that was not read hides
    V(fatal_errors).
  - Absent values are never read as V(0).
  - The thresholds are the ones the gpufleet.vllm.dashboard callback colours with, so what is red on screen is
    what fails here. See docs/health.md in the collection for every check and threshold.
  - Runs on the controller. Custom checks need the Python library C(jmespath) there.
positional: _input
options:
  _input:
    description: The result registered from M(gpufleet.vllm.node_info).
    type: dict
    required: true
  thresholds:
    description:
      - Thresholds merged over the defaults; a key not given keeps its default.
      - "Bands are mappings with O(thresholds.warn) and/or O(thresholds.fail): a value at or above C(warn)
        warns, at or above C(fail) fails. Keys: C(temperature_c) (default 80/90), C(kv_cache_pct) (80/95),
        C(restart_count) (1/3), C(utilization_pct) and C(memory_pct) (dashboard only, 50/80)."
      - "Numbers: C(stats_stale_s) (default 60), seconds after which the newest stats line of an engine that
        had requests in flight means a hung engine; C(stale_intervals) (dashboard only)."
      - An unknown key, a value that is not a number or a band whose C(warn) is above its C(fail) is an error
        naming the key.
    type: dict
    default: {}
  expected_gpu_count:
    description:
      - How many GPUs the VM must have at least. With the C(gpufleet.vllm.hyperstack) inventory, the host
        variable C(hyperstack_expected_gpu_count) (from the flavour's C(xN) suffix).
      - V(null) means at least one.
    type: int
  mode:
    description:
      - V(check) fails every condition that is not healthy now.
      - V(wait) treats conditions that waiting may cure (host unreachable, container missing, created or
        restarting, docker daemon down, engine loading) as V(warn) until O(waited_s) reaches O(wait_timeout_s),
        then as V(fail). Fatal log errors, an OOM kill, an exited container and GPU faults fail at once.
        Custom checks are evaluated only once the engine serves.
    type: str
    choices: [check, wait]
    default: check
  waited_s:
    description: Seconds the wait has run so far (O(mode=wait)).
    type: float
  wait_timeout_s:
    description: Seconds the wait may run (O(mode=wait)).
    type: float
  custom_checks:
    description:
      - Operator checks, each a JMESPath expression over the node_info document (see docs/schema-v1.md).
      - A result that is false, null, an empty string, list or object fails with the check's severity; any
        other result (every number, V(0) included, as JMESPath defines truth) passes.
      - A malformed check, an expression that does not compile, or one that fails on the document is an error
        naming the check and the expression.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the check (letters, digits, C(_), C(.), C(-)); unique, not a built-in name.
        type: str
        required: true
      expression:
        description: "JMESPath expression over the node_info document, for example: length(vllm.engines) >= `2`"
        type: str
        required: true
      severity:
        description: Status of the check when the expression is false.
        type: str
        choices: [warn, fail]
        default: fail
      message:
        description: Message when the expression is false; default is the expression and its result.
        type: str
seealso:
  - name: Health checks
    description: docs/health.md in the collection.
    link: https://example.invalid/gpufleet/vllm/docs/health.md
"""

EXAMPLES = r"""
- name: Collect
  gpufleet.vllm.node_info:
    container: "{{ hyperstack_vllm_container }}"
    unreachable_as_result: true
  register: node

- name: Fail the host when a check fails
  vars:
    checks: >-
      {{ node | gpufleet.vllm.health_checks(
           thresholds={'kv_cache_pct': {'warn': 70, 'fail': 90}},
           expected_gpu_count=hyperstack_expected_gpu_count,
           custom_checks=[{'name': 'two_engines', 'expression': 'length(vllm.engines) >= `2`', 'severity': 'warn'}]) }}
  ansible.builtin.assert:
    that: checks | selectattr('status', 'equalto', 'fail') | list | length == 0
    fail_msg: "{{ checks | selectattr('status', 'equalto', 'fail') | map(attribute='message') | join('; ') }}"
"""

RETURN = r"""
_value:
  description: The checks, in a fixed order.
  type: list
  elements: dict
  contains:
    name:
      description: Built-in check name or custom check name.
      type: str
      sample: kv_cache
    status:
      description: V(ok), V(warn) or V(fail).
      type: str
      sample: fail
    message:
      description: One line saying what was measured against what. Parts of it come from the VM (untrusted).
      type: str
      sample: "engine 0 at 97.2% (warn at 80%, fail at 95%)"
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import HealthError, evaluate
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds


def _optional_float(name: str, value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"health_checks: {name} must be a number, not {value!r}") from exc


def _optional_count(value: object) -> int | None:
    # Extra vars arrive as strings ("-e health_expected_gpu_count=4").
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise AnsibleFilterError(f"health_checks: expected_gpu_count must be a whole number >= 0, not {value!r}")
    return int(value)  # type: ignore[arg-type]


def health_checks(
    result,
    thresholds=None,
    expected_gpu_count=None,
    mode="check",
    waited_s=None,
    wait_timeout_s=None,
    custom_checks=None,
):
    if not isinstance(result, Mapping):
        raise AnsibleFilterError(
            f"health_checks: input must be a registered node_info result, not {type(result).__name__}"
        )
    try:
        limits = Thresholds.from_mapping(thresholds or {})
    except ValueError as exc:
        raise AnsibleFilterError(f"health_checks: {exc}") from exc
    reachable = result.get("reachable") is not False
    has_document = reachable and not result.get("failed") and not result.get("skipped") and "schema_version" in result
    try:
        return evaluate(
            result if has_document else None,
            limits,
            expected_gpu_count=_optional_count(expected_gpu_count),
            mode=mode,
            waited_s=_optional_float("waited_s", waited_s),
            wait_timeout_s=_optional_float("wait_timeout_s", wait_timeout_s),
            reachable=reachable,
            error=None
            if has_document
            else str(result.get("msg") or ("node_info was skipped" if result.get("skipped") else "")),
            custom_checks=custom_checks or (),
        )
    except HealthError as exc:
        raise AnsibleFilterError(f"health_checks: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"health_checks": health_checks}
