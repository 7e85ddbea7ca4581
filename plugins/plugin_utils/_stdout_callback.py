# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which stdout callback shows a play, and whether a job runner (ansible-runner, and so AWX, AAP
and ansible-navigator) runs it.

ansible-runner always sets ANSIBLE_STDOUT_CALLBACK=awx_display, its own callback, and builds that
callback on the class of the callback named by ANSIBLE_STDOUT_CALLBACK in the job's environment
(which it keeps as ORIGINAL_STDOUT_CALLBACK); ansible.cfg's stdout_callback is not consulted. It
also exports AWX_ISOLATED_DATA_DIR (the job's artifact folder). Its output goes to a job log and
to events, never to a person's terminal, even though it runs ansible-playbook in a pty."""

from __future__ import annotations

from collections.abc import Mapping

DASHBOARD = "gpufleet.vllm.dashboard"
RUNNER_CALLBACK = "awx_display"

ENABLE_HINT = (
    "set ANSIBLE_STDOUT_CALLBACK=gpufleet.vllm.dashboard in the environment, or "
    "stdout_callback = gpufleet.vllm.dashboard in the [defaults] section of your ansible.cfg"
)
RUNNER_HINT = (
    "under ansible-runner, AWX, AAP or ansible-navigator only the job's environment counts "
    "(ansible.cfg's stdout_callback is replaced by the runner's awx_display): set "
    "ANSIBLE_STDOUT_CALLBACK=gpufleet.vllm.dashboard in env/envvars (ansible-runner), the job "
    "template's or the instance's extra environment variables (AWX, AAP), or "
    "ansible-navigator's execution-environment environment-variables set"
)


def under_job_runner(configured_callback: str, environ: Mapping[str, str]) -> bool:
    """True when ansible-runner (AWX, AAP, ansible-navigator) runs the play."""
    return configured_callback == RUNNER_CALLBACK or bool(environ.get("AWX_ISOLATED_DATA_DIR"))


def effective_stdout_callback(configured_callback: str, environ: Mapping[str, str]) -> str:
    """The callback whose output the user sees: under ansible-runner, the one its awx_display wraps."""
    if configured_callback == RUNNER_CALLBACK:
        return environ.get("ORIGINAL_STDOUT_CALLBACK") or "default"
    return configured_callback


def dashboard_callback_problem(configured_callback: str, environ: Mapping[str, str]) -> str | None:
    """None when the dashboard shows the play, else the message that says how to turn it on."""
    effective = effective_stdout_callback(configured_callback, environ)
    if effective == DASHBOARD:
        return None
    hint = RUNNER_HINT if under_job_runner(configured_callback, environ) else ENABLE_HINT
    return (
        "gpufleet.vllm.watch shows the fleet with the stdout callback %s, and this run's stdout callback "
        "is %r: %s." % (DASHBOARD, effective, hint)
    )
