# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter gpufleet.vllm.check_health_settings: the settings of the health role for one host,
checked before the host is polled (the role's argument specs, then what they cannot say:
finite numbers, thresholds, custom checks)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: check_health_settings
short_description: Check the health role's settings of one host before it is polled
version_added: 0.1.0
author:
  - gpufleet.vllm contributors
description:
  - Returns V(true) when the settings are valid; otherwise raises an error that names the host, each variable at
    fault and, for thresholds and custom checks, the threshold or the check.
  - "Checks, in this order: O(health_thresholds) (known keys, finite numbers, C(warn) not above C(fail)),
    O(health_custom_checks) (well formed, unique names, expressions that compile, not nested beyond Python's
    recursion limit), O(health_expected_gpu_count) (a whole number >= 0 or null), then every variable against the
    role's argument specs (ansible-doc -t role gpufleet.vllm.health), then the numbers O(health_wait_timeout),
    O(health_wait_delay), O(health_command_timeout) and O(health_log_lines) (finite, 0 or more: C(nan) and C(inf)
    are refused)."
  - The role uses it as the condition of a C(meta) task, which Ansible evaluates in its main process, so that the
    error ends the whole run with exit code 1 (where a failing task would fail the host with exit code 2, the code
    of a VM that failed a check). See docs/health.md, "Exit codes".
positional: _input
options:
  _input:
    description: Mapping of the role's variable names (C(health_mode), C(health_thresholds), ...) to their values.
    type: dict
    required: true
  host:
    description: The host whose settings these are, named in the error.
    type: str
"""

EXAMPLES = r"""
- name: Check the health settings before the VM is polled (an error ends the run with exit code 1)
  ansible.builtin.meta: end_host
  when: >-
    not ({'health_mode': health_mode, 'health_thresholds': health_thresholds,
          'health_custom_checks': health_custom_checks}
         | gpufleet.vllm.check_health_settings(host=inventory_hostname))
"""

RETURN = r"""
_value:
  description: V(true); invalid settings raise an error instead.
  type: bool
"""

import functools
import math
from collections.abc import Mapping
from pathlib import Path

import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import HealthError, compile_custom_checks
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds

# The role's own argument specs: the types and choices are defined there once.
ROLE_SPECS = Path(__file__).resolve().parents[2] / "roles" / "health" / "meta" / "argument_specs.yml"
NUMBERS = ("health_wait_timeout", "health_wait_delay", "health_command_timeout", "health_log_lines")


@functools.cache
def _role_options() -> dict:
    with open(ROLE_SPECS, encoding="utf-8") as stream:
        return yaml.safe_load(stream)["argument_specs"]["main"]["options"]


def _count_problem(value: object) -> str | None:
    # Extra vars arrive as strings ("-e health_expected_gpu_count=4").
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).strip().isdigit():
        return f"must be a whole number >= 0 or null, not {value!r}"
    return None


def _number_problem(value: object, given: object) -> str | None:
    """VALUE as the argument specs converted it, GIVEN as the operator wrote it."""
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None  # the argument specs have said it already
    if not math.isfinite(number):
        return f"must be a finite number, not {given!r}"
    if number < 0:
        return f"must be 0 or more, not {given!r}"
    return None


def _plain(value: object) -> object:
    """A copy in plain dict/list/str: the argument specs' validator deep-copies its input, which
    Ansible's lazy template containers refuse (a deprecation warning per copy)."""
    if isinstance(value, Mapping):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def settings_problems(settings: Mapping) -> list[str]:
    """Every problem of the settings, each naming its variable; [] when they are valid."""
    settings = _plain(settings)
    problems = []
    if "health_thresholds" in settings:
        try:
            Thresholds.from_mapping(settings["health_thresholds"])
        except ValueError as exc:
            problems.append(f"health_thresholds: {exc}")
    if "health_custom_checks" in settings:
        try:
            compile_custom_checks(settings["health_custom_checks"])
        except HealthError as exc:
            problems.append(f"health_custom_checks: {exc}")
    if "health_expected_gpu_count" in settings:
        problem = _count_problem(settings["health_expected_gpu_count"])
        if problem:
            problems.append(f"health_expected_gpu_count: {problem}")
    options = _role_options()
    checked = {name: value for name, value in settings.items() if name in options}
    result = ArgumentSpecValidator(options).validate(checked)
    # A variable reported above with a precise message is not reported again in the specs' words.
    reported = {problem.split(":", 1)[0] for problem in problems}
    for message in result.error_messages:
        text = " ".join(str(message).split())
        if not any(name in text for name in reported):
            problems.append(text)
    for name in NUMBERS:
        if name in checked:
            problem = _number_problem(result.validated_parameters.get(name), checked[name])
            if problem:
                problems.append(f"{name}: {problem}")
    return problems


def check_health_settings(settings, host=None):
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(
            f"check_health_settings: input must be a mapping of variable name to value, not {type(settings).__name__}"
        )
    problems = settings_problems(settings)
    if problems:
        where = f" of host {host}" if host else ""
        raise AnsibleFilterError(f"invalid health settings{where}: " + "; ".join(problems))
    return True


class FilterModule:
    def filters(self):
        return {"check_health_settings": check_health_settings}
