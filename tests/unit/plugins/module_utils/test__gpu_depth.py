# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watched container's ID, read from inspect output through the one bounded reader."""

from __future__ import annotations

import json

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._gpu_depth import watched_container_id
from ansible_collections.gpufleet.vllm.plugins.module_utils._runner import CommandResult

FULL_ID = "9a8b7c6d5e4f" + "0" * 52


def inspect(stdout: str, rc: int = 0, **flags) -> CommandResult:
    fields = dict(
        argv=["docker", "container", "inspect", "vllm"],
        rc=rc,
        stdout=stdout,
        stderr="",
        timed_out=False,
        truncated=False,
        not_found=False,
        duration_s=0.01,
    )
    fields.update(flags)
    return CommandResult(**fields)


@pytest.mark.parametrize(
    "result, expected",
    [
        (inspect(json.dumps([{"Id": FULL_ID, "Config": {"Env": ["HF_TOKEN=secret"]}}])), FULL_ID),
        (inspect(json.dumps([{"Id": FULL_ID[:12]}])), None),  # a short ID cannot be matched to cgroups
        (inspect(json.dumps([{"Id": FULL_ID.upper()}])), None),  # not docker's form
        (inspect(json.dumps([{"Id": 12345}])), None),
        (inspect(json.dumps([])), None),  # no container
        (inspect(json.dumps([{"Id": FULL_ID}, {"Id": FULL_ID}])), None),  # not exactly one container
        (inspect("[" * 100000 + "]" * 100000), None),  # hostile nesting: refused, no RecursionError
        (inspect('[{"Id": "%s", "RestartCount": %s}]' % (FULL_ID, "9" * 5001)), None),  # over Python's digit limit
        (inspect("not json"), None),
        (inspect(json.dumps([{"Id": FULL_ID}]), rc=1), None),  # inspect failed
        (inspect(json.dumps([{"Id": FULL_ID}]), timed_out=True), None),
        (None, None),  # inspect not run (Ollama VM)
    ],
)
def test_watched_container_id(result, expected):
    assert watched_container_id(result) == expected
