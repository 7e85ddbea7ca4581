# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the health filters: gpufleet.vllm.health_checks on registered node_info results
(reachable, unreachable, failed, skipped), argument conversion and error messages, and the
health_summary, health_progress and health_junit wrappers. The evaluation itself is tested in
tests/unit/plugins/plugin_utils/test__health.py."""

from __future__ import annotations

import copy
import dataclasses
import xml.etree.ElementTree as ET

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.filter import health_checks as checks_filter
from ansible_collections.gpufleet.vllm.plugins.filter import health_junit as junit_filter
from ansible_collections.gpufleet.vllm.plugins.filter import health_progress as progress_filter
from ansible_collections.gpufleet.vllm.plugins.filter import health_summary as summary_filter
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds

# What the action plugin returns around the document of a healthy one-GPU VM.
RESULT = {
    "changed": False,
    "failed": False,
    "reachable": True,
    "schema_version": 1,
    "collected_at": "2026-11-28T01:40:00.123456Z",
    "gpu": {"status": "ok", "message": None, "devices": [{"index": 0, "temperature_c": 41}]},
    "container": {
        "name": "vllm_qwen36_27b",
        "status": "running",
        "error_kind": None,
        "health": "none",
        "restart_count": 0,
        "started_at": "2026-11-28T01:30:00.000000Z",
        "oom_killed": False,
        "exit_code": 0,
    },
    "vllm": {
        "phase": "loading",
        "log_status": "ok",
        "message": None,
        "engines": [],
        "errors": [],
        "loading": {"stage": "loading_weights", "progress_pct": 9, "message": None},
        "ready": False,
    },
}
SSH_ERROR = "Failed to connect to the host via ssh: ssh: connect to host 10.200.3.2 port 22: Connection refused"


def statuses(checks):
    return [(check["name"], check["status"]) for check in checks]


def messages(checks):
    return {check["name"]: check["message"] for check in checks}


def test_filter_is_registered():
    assert checks_filter.FilterModule().filters() == {"health_checks": checks_filter.health_checks}
    assert summary_filter.FilterModule().filters() == {"health_summary": summary_filter.health_summary}
    assert progress_filter.FilterModule().filters() == {"health_progress": progress_filter.health_progress}
    assert junit_filter.FilterModule().filters() == {"health_junit": junit_filter.health_junit}


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        pytest.param(
            {"changed": False, "failed": False, "reachable": False, "msg": SSH_ERROR},
            [("reachable", "fail", f"unreachable: {SSH_ERROR}")],
            id="unreachable-as-result",
        ),
        pytest.param(
            {"failed": True, "msg": "MODULE FAILURE: See stdout/stderr for the exact error", "rc": 127},
            [("reachable", "fail", "no node_info document: MODULE FAILURE: See stdout/stderr for the exact error")],
            id="module-failure",
        ),
        pytest.param(
            {"failed": True, "msg": "invalid container name 'a b'", "reachable": True, "schema_version": 1},
            [("reachable", "fail", "no node_info document: invalid container name 'a b'")],
            id="failed-with-keys",
        ),
        pytest.param(
            {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"},
            [("reachable", "fail", "no node_info document: node_info was skipped")],
            id="skipped",
        ),
        pytest.param({"changed": False}, [("reachable", "fail", "no node_info document: no reason given")], id="empty"),
    ],
)
def test_results_without_a_document(result, expected):
    checks = checks_filter.health_checks(result)
    assert [(check["name"], check["status"], check["message"]) for check in checks] == expected


def test_result_with_a_document_in_both_modes():
    assert statuses(checks_filter.health_checks(RESULT)) == [
        ("reachable", "ok"),
        ("gpu_driver", "ok"),
        ("gpu_count", "ok"),
        ("gpu_temperature", "ok"),
        ("container_running", "ok"),
        ("container_restarts", "ok"),
        ("container_oom", "ok"),
        ("fatal_errors", "ok"),
        ("engine_serving", "fail"),
        ("kv_cache", "ok"),
        ("engine_stalled", "ok"),
        ("stats_fresh", "ok"),
    ]
    waiting = checks_filter.health_checks(RESULT, mode="wait", waited_s="12.5", wait_timeout_s="1800")
    assert messages(waiting)["engine_serving"] == "loading: loading_weights 9%"
    assert dict(statuses(waiting))["engine_serving"] == "warn"
    timed_out = checks_filter.health_checks(RESULT, mode="wait", waited_s=1800.0, wait_timeout_s=1800)
    assert messages(timed_out)["engine_serving"] == "loading: loading_weights 9%; still so after waiting 30m"
    assert dict(statuses(timed_out))["engine_serving"] == "fail"


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (None, "1 GPU(s), no expected count"),
        ("", "1 GPU(s), no expected count"),
        ("2", "1 GPU(s) found, 2 expected"),  # extra vars arrive as strings
        (1, "1 GPU(s), 1 expected"),
    ],
)
def test_expected_gpu_count(count, message):
    assert messages(checks_filter.health_checks(RESULT, expected_gpu_count=count))["gpu_count"] == message


def test_thresholds_and_custom_checks_reach_the_evaluation():
    checks = checks_filter.health_checks(
        RESULT,
        thresholds={"temperature_c": {"warn": 40, "fail": 50}},
        custom_checks=[{"name": "loaded", "expression": "vllm.ready", "severity": "warn", "message": "not ready yet"}],
    )
    assert checks[3] == {
        "name": "gpu_temperature",
        "status": "warn",
        "message": "GPU 0 at 41 C (warn at 40 C, fail at 50 C)",
    }
    assert checks[-1] == {"name": "loaded", "status": "warn", "message": "not ready yet"}


def test_filter_does_not_change_its_input():
    result = copy.deepcopy(RESULT)
    checks_filter.health_checks(result, custom_checks=[{"name": "x", "expression": "gpu"}])
    assert result == RESULT


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("not a result",), {}, "health_checks: input must be a registered node_info result, not str"),
        (
            (RESULT,),
            {"thresholds": {"kv_cache": {"warn": 1}}},
            "health_checks: unknown threshold 'kv_cache'; known: "
            + ", ".join(sorted(field.name for field in dataclasses.fields(Thresholds))),
        ),
        (
            (RESULT,),
            {"thresholds": {"kv_cache_pct": {"warn": "lots"}}},
            "health_checks: threshold 'kv_cache_pct.warn' must be a number, not 'lots'",
        ),
        (
            (RESULT,),
            {"expected_gpu_count": "four"},
            "health_checks: expected_gpu_count must be a whole number >= 0, not 'four'",
        ),
        (
            (RESULT,),
            {"expected_gpu_count": -1},
            "health_checks: expected_gpu_count must be a whole number >= 0, not -1",
        ),
        ((RESULT,), {"waited_s": "soon"}, "health_checks: waited_s must be a number, not 'soon'"),
        ((RESULT,), {"mode": "watch"}, "health_checks: mode must be one of check, wait, not 'watch'"),
        (
            (RESULT,),
            {"custom_checks": [{"name": "kv_cache", "expression": "a"}]},
            "health_checks: custom check 'kv_cache': the name is already used by a built-in check",
        ),
        (
            (RESULT,),
            {"custom_checks": [{"name": "bad", "expression": "length(vllm.engines) >= `2"}]},
            "health_checks: custom check 'bad': cannot compile JMESPath expression 'length(vllm.engines) >= `2': ",
        ),
        (
            (RESULT,),
            {"custom_checks": [{"name": "bad", "expression": "length(gpu.devices[0].index)"}]},
            "health_checks: custom check 'bad': JMESPath expression 'length(gpu.devices[0].index)' failed on this document: "
            "In function length(), invalid type for value: 0",
        ),
    ],
)
def test_errors_name_what_is_wrong(args, kwargs, message):
    with pytest.raises(AnsibleFilterError) as info:
        checks_filter.health_checks(*args, **kwargs)
    assert info.value.message.startswith(message)


def test_summary_filter():
    results = {
        "vm1": [{"name": "reachable", "status": "ok", "message": "x"}],
        "vm2": [{"name": "reachable", "status": "fail", "message": "unreachable: refused"}],
        "vm3": None,
    }
    assert summary_filter.health_summary(results) == [
        "vm1: OK 1 ok",
        "vm2: FAIL 1 failed (reachable), 0 ok",
        "vm3: SKIPPED not evaluated",
    ]
    with pytest.raises(AnsibleFilterError) as info:
        summary_filter.health_summary([])
    assert info.value.message == "health_summary: input must be a mapping of host to checks, not list"


def test_progress_filter():
    checks = [{"name": "engine_serving", "status": "warn", "message": "loading: compiling"}]
    assert (
        progress_filter.health_progress(checks, "61.7", 1800) == "[1m01s/30m] warn: engine_serving: loading: compiling"
    )
    assert progress_filter.health_progress(checks) == "warn: engine_serving: loading: compiling"
    with pytest.raises(AnsibleFilterError) as info:
        progress_filter.health_progress(checks, waited_s="x")
    # AnsibleError appends the chained cause ("could not convert string to float: 'x'").
    assert info.value.message.startswith("health_progress: waited_s must be a number, not 'x'")
    with pytest.raises(AnsibleFilterError) as info:
        progress_filter.health_progress({"engine_serving": "warn"})
    assert info.value.message == "health_progress: input must be a list of checks, not dict"


def test_junit_filter():
    text = junit_filter.health_junit({"vm1": checks_filter.health_checks(RESULT), "vm2": None}, suite_name="deploy 42")
    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.attrib == {"name": "deploy 42", "tests": "13", "failures": "1", "errors": "0", "skipped": "1"}
    failed = [case.get("name") for case in root.iter("testcase") if case.find("failure") is not None]
    assert failed == ["vm1 :: engine_serving"]
    with pytest.raises(AnsibleFilterError) as info:
        junit_filter.health_junit(["vm1"])
    assert info.value.message == "health_junit: input must be a mapping of host to checks, not list"
