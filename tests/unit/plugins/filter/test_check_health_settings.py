# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the filter gpufleet.vllm.check_health_settings: the health role's settings of one host,
as a table of settings -> the error naming the host, the variable and the threshold or check."""

from __future__ import annotations

import dataclasses

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.filter import check_health_settings as settings_filter
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds

# Every threshold name, as the error message lists them.
KNOWN_THRESHOLDS = ", ".join(sorted(field.name for field in dataclasses.fields(Thresholds)))

# The role's defaults once templated (roles/health/defaults/main.yml).
DEFAULTS = {
    "health_mode": "check",
    "health_container": "vllm_qwen36_27b",
    "health_docker_path": None,
    "health_nvidia_smi_path": None,
    "health_log_lines": "300",
    "health_command_timeout": "10",
    "health_thresholds": {},
    "health_expected_gpu_count": None,
    "health_custom_checks": [],
    "health_wait_timeout": 1800,
    "health_wait_delay": 10,
    "health_assert": True,
}


def test_defaults_and_good_settings_pass():
    assert settings_filter.check_health_settings(DEFAULTS, host="vm1") is True
    good = dict(
        DEFAULTS,
        health_mode="wait",
        health_expected_gpu_count="4",
        health_wait_timeout="900",
        health_thresholds={"kv_cache_pct": {"warn": 70}},
        health_custom_checks=[{"name": "two", "expression": "length(vllm.engines) >= `2`", "severity": "warn"}],
    )
    assert settings_filter.check_health_settings(good, host="vm1") is True


@pytest.mark.parametrize(
    ("changes", "problems"),
    [
        (
            {"health_thresholds": {"kv_cache_pct": {"warn": "nan"}}},
            ["health_thresholds: threshold 'kv_cache_pct.warn' must be a finite number, not 'nan'"],
        ),
        (
            {"health_thresholds": {"temperature_c": {"fail": float("inf")}}},
            ["health_thresholds: threshold 'temperature_c.fail' must be a finite number, not inf"],
        ),
        (
            {"health_thresholds": "kv_cache_pct=90"},
            ["health_thresholds: thresholds must be a mapping of threshold name to value, not str"],
        ),
        (
            {"health_custom_checks": [{"name": "deep", "expression": "(" * 5000 + "a" + ")" * 5000}]},
            [
                "health_custom_checks: custom check 'deep': JMESPath expression "
                + repr("(" * 80)
                + "... (10001 characters) nests too deeply to compile (Python's recursion limit); write it with fewer nested levels"
            ],
        ),
        (
            {"health_custom_checks": [{"name": "x"}]},
            ["health_custom_checks: custom check 'x': expression must be a non-empty JMESPath string"],
        ),
        (
            {"health_expected_gpu_count": "four"},
            ["health_expected_gpu_count: must be a whole number >= 0 or null, not 'four'"],
        ),
        ({"health_mode": "watch"}, ["value of health_mode must be one of: check, wait, got: watch"]),
        (
            {"health_log_lines": "many"},
            [
                "argument 'health_log_lines' is of type str and we were unable to convert to int: "
                "\"'many'\" cannot be converted to an int"
            ],
        ),
        ({"health_wait_timeout": "nan"}, ["health_wait_timeout: must be a finite number, not 'nan'"]),
        ({"health_wait_delay": "inf"}, ["health_wait_delay: must be a finite number, not 'inf'"]),
        ({"health_command_timeout": -1}, ["health_command_timeout: must be 0 or more, not -1"]),
        # Every problem at once, each variable named once.
        (
            {"health_thresholds": {"kv": 1}, "health_wait_timeout": "nan"},
            [
                "health_thresholds: unknown threshold 'kv'; known: " + KNOWN_THRESHOLDS,
                "health_wait_timeout: must be a finite number, not 'nan'",
            ],
        ),
    ],
)
def test_bad_settings_are_named(changes, problems):
    with pytest.raises(AnsibleFilterError) as info:
        settings_filter.check_health_settings(dict(DEFAULTS, **changes), host="vm1")
    assert str(info.value) == "invalid health settings of host vm1: " + "; ".join(problems)


def test_input_must_be_a_mapping():
    with pytest.raises(AnsibleFilterError, match="input must be a mapping of variable name to value, not list"):
        settings_filter.check_health_settings([])
