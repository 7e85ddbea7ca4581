# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watch's settings: one set of defaults, every value checked, errors that name the variable,
the value and what is accepted."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Band
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._watch_settings import (
    SettingsError,
    WatchSettings,
    watch_settings,
)


def test_defaults():
    settings = watch_settings({})
    assert settings == WatchSettings()
    assert (settings.refresh_interval_s, settings.cycles, settings.view, settings.sort, settings.log_lines) == (
        5.0,
        0,
        "auto",
        "severity",
        300,
    )
    assert settings.as_result()["retries"] == 1_000_000_000


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (5, 5.0),
        ("5", 5.0),
        ("5s", 5.0),
        ("2.5", 2.5),
        (" 10 ", 10.0),
        ("500ms", 1.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        (0.5, 1.0),  # the floor of watch_min_interval
    ],
)
def test_watch_interval_forms(value, seconds):
    assert watch_settings({"watch_interval": value}).refresh_interval_s == seconds


def test_min_interval_zero_lets_the_interval_through():
    assert watch_settings({"watch_interval": "0.2", "watch_min_interval": 0}).refresh_interval_s == 0.2


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"watch_interval": "5x"},
            "watch_interval='5x' is not accepted: expected more than 0: seconds such as 5 or 2.5, "
            "or with a unit: 500ms, 5s, 2m, 1h",
        ),
        ({"watch_interval": 0}, "watch_interval=0 is not accepted: expected more than 0: seconds"),
        ({"watch_interval": "-1"}, "watch_interval='-1' is not accepted"),
        ({"watch_interval": float("nan")}, "watch_interval=nan is not accepted"),
        ({"watch_interval": float("inf")}, "watch_interval=inf is not accepted"),
        ({"watch_interval": True}, "watch_interval=True is not accepted"),
        ({"watch_min_interval": "-1"}, "watch_min_interval='-1' is not accepted: expected 0 or more"),
        ({"watch_cycles": "3.5"}, "watch_cycles='3.5' is not accepted: expected a whole number from 0 up"),
        ({"watch_cycles": -1}, "watch_cycles=-1 is not accepted"),
        ({"watch_view": "grid"}, "watch_view='grid' is not accepted: expected one of auto, panels, table"),
        ({"watch_sort": 3}, "watch_sort=3 is not accepted: expected one of severity, name"),
        ({"gpufleet_log_lines": 0}, "gpufleet_log_lines=0 is not accepted: expected a whole number from 1 to 100000"),
        (
            {"gpufleet_docker_path": ["/usr/bin/docker"]},
            "gpufleet_docker_path=['/usr/bin/docker'] is not accepted: expected a path on the VM",
        ),
        ({"gpufleet_nvidia_smi_path": "/bin/x\nrm"}, "gpufleet_nvidia_smi_path='/bin/x\\nrm' is not accepted"),
        ({"gpufleet_command_timeout": "soon"}, "gpufleet_command_timeout='soon' is not accepted"),
        ({"gpufleet_wait_timeout": "0"}, "gpufleet_wait_timeout='0' is not accepted"),
        (
            {"gpufleet_thresholds": {"kv_cache_pct": {"warn": 90, "fail": 80}}},
            "gpufleet_thresholds: threshold 'kv_cache_pct': warn (90) is above fail (80)",
        ),
        ({"gpufleet_thresholds": "hot"}, "gpufleet_thresholds='hot' is not accepted: expected a mapping"),
        (
            {"gpufleet_thresholds": {"temperature_c": {"fail": float("nan")}}},
            "gpufleet_thresholds: threshold 'temperature_c.fail' must be a finite number, not nan",
        ),
        (
            {"gpufleet_custom_checks": [{"name": "deep", "expression": "[" * 3000 + "]" * 3000}]},
            "gpufleet_custom_checks: custom check 'deep':",
        ),
        (
            {"gpufleet_custom_checks": [{"name": "x", "expression": "a[["}]},
            "gpufleet_custom_checks: custom check 'x': cannot compile JMESPath expression",
        ),
    ],
)
def test_bad_values_are_refused_with_name_value_and_what_is_accepted(variables, message):
    with pytest.raises(SettingsError) as caught:
        watch_settings(variables)
    assert str(caught.value).startswith(message)


def test_view_and_sort_from_the_environment_unless_a_variable_is_set():
    environ = {"GPUFLEET_WATCH_VIEW": "table", "GPUFLEET_WATCH_SORT": "name"}
    assert (watch_settings({}, environ).view, watch_settings({}, environ).sort) == ("table", "name")
    assert watch_settings({"watch_view": "panels"}, environ).view == "panels"
    with pytest.raises(SettingsError, match=r"watch_view \(environment variable GPUFLEET_WATCH_VIEW\)='x'"):
        watch_settings({}, {"GPUFLEET_WATCH_VIEW": "x"})


def test_values_in_use():
    settings = watch_settings(
        {"watch_cycles": "3", "gpufleet_thresholds": {"kv_cache_pct": {"warn": 70}}, "watch_view": "TABLE"}
    )
    assert (settings.cycles, settings.as_result()["retries"], settings.view) == (3, 2, "table")
    assert settings.thresholds.kv_cache_pct == Band(70.0, 95.0)
