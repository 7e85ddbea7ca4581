# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter gpufleet.vllm.health_progress: the progress line of one poll of a wait, from
gpufleet.vllm.health_checks results (plugin_utils/_health.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: health_progress
short_description: One progress line for a poll of a wait until vLLM serves
version_added: 0.1.0
author:
  - gpufleet.vllm contributors
description:
  - Builds the line the health role shows for each poll in C(wait) mode, from the checks that
    P(gpufleet.vllm.health_checks#filter) returned with O(gpufleet.vllm.health_checks#filter:mode=wait).
  - "The line starts with the time waited and the time allowed, then shows what matters most now: the first
    failed check, else the V(engine_serving) check (its message carries the loading stage and percent), else
    the first warning. For example: [2m10s/30m] warn: engine_serving: loading: loading_weights 50%
    (Loading safetensors checkpoint shards: 50% Completed | 23/46 ...)."
positional: _input
options:
  _input:
    description: The checks of one host.
    type: list
    elements: dict
    required: true
  waited_s:
    description: Seconds waited so far.
    type: float
  wait_timeout_s:
    description: Seconds the wait may run.
    type: float
"""

EXAMPLES = r"""
- name: Show where the engine is
  ansible.builtin.debug:
    msg: "{{ checks | gpufleet.vllm.health_progress(waited_s=130, wait_timeout_s=1800) }}"
"""

RETURN = r"""
_value:
  description: The progress line. Parts of it come from the VM (untrusted).
  type: str
  sample: "[2m10s/30m] warn: engine_serving: loading: loading_weights 50% (Loading safetensors checkpoint shards: 50% Completed | 23/46)"
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import progress_line


def _optional_float(name, value):
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"health_progress: {name} must be a number, not {value!r}") from exc


def health_progress(checks, waited_s=None, wait_timeout_s=None):
    if not isinstance(checks, list):
        raise AnsibleFilterError(f"health_progress: input must be a list of checks, not {type(checks).__name__}")
    return progress_line(
        checks, _optional_float("waited_s", waited_s), _optional_float("wait_timeout_s", wait_timeout_s)
    )


class FilterModule:
    def filters(self):
        return {"health_progress": health_progress}
