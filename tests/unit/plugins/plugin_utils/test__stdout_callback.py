# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which stdout callback shows a play, directly and under ansible-runner's awx_display."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._stdout_callback import (
    dashboard_callback_problem,
    effective_stdout_callback,
    under_job_runner,
)

RUNNER_ENV = {"AWX_ISOLATED_DATA_DIR": "/runner/artifacts/1"}


@pytest.mark.parametrize(
    "configured, environ, effective, runner",
    [
        ("gpufleet.vllm.dashboard", {}, "gpufleet.vllm.dashboard", False),
        ("default", {}, "default", False),
        (
            "awx_display",
            dict(RUNNER_ENV, ORIGINAL_STDOUT_CALLBACK="gpufleet.vllm.dashboard"),
            "gpufleet.vllm.dashboard",
            True,
        ),
        ("awx_display", RUNNER_ENV, "default", True),
        ("awx_display", dict(ORIGINAL_STDOUT_CALLBACK=""), "default", True),
        # A runner that kept the dashboard as the stdout callback itself still runs a job.
        ("gpufleet.vllm.dashboard", RUNNER_ENV, "gpufleet.vllm.dashboard", True),
    ],
)
def test_effective_callback_and_runner(configured, environ, effective, runner):
    assert effective_stdout_callback(configured, environ) == effective
    assert under_job_runner(configured, environ) is runner


def test_no_problem_when_the_dashboard_shows_the_play():
    assert dashboard_callback_problem("gpufleet.vllm.dashboard", {}) is None
    assert dashboard_callback_problem("awx_display", {"ORIGINAL_STDOUT_CALLBACK": "gpufleet.vllm.dashboard"}) is None


def test_problem_names_the_callback_and_both_ways_to_turn_the_dashboard_on():
    message = dashboard_callback_problem("yaml", {})
    assert "'yaml'" in message
    assert "ANSIBLE_STDOUT_CALLBACK=gpufleet.vllm.dashboard" in message
    assert "stdout_callback = gpufleet.vllm.dashboard" in message


def test_problem_under_a_runner_points_at_the_jobs_environment_not_ansible_cfg():
    message = dashboard_callback_problem("awx_display", RUNNER_ENV)
    assert "'default'" in message
    assert "env/envvars" in message and "ansible.cfg's stdout_callback is replaced" in message
