# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gpufleet.vllm.health_stats: per-VM results as data for set_stats."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.filter.health_stats import health_stats


def check(name, status):
    return {"name": name, "status": status, "message": "m"}


def test_each_host_gets_its_status_and_check_names_and_the_lists_partition_the_hosts():
    stats = health_stats(
        {
            "vm-ok": [check("reachable", "ok"), check("kv_cache", "ok")],
            "vm-warn": [check("reachable", "ok"), check("container_restarts", "warn")],
            "vm-fail": [check("fatal_errors", "fail"), check("container_running", "fail"), check("kv_cache", "warn")],
            "vm-new": None,
        }
    )
    assert stats["hosts"] == {
        "vm-ok": {"status": "ok", "failed": [], "warned": []},
        "vm-warn": {"status": "warn", "failed": [], "warned": ["container_restarts"]},
        "vm-fail": {"status": "fail", "failed": ["fatal_errors", "container_running"], "warned": ["kv_cache"]},
        "vm-new": {"status": "skipped", "failed": [], "warned": []},
    }
    assert stats["failed_hosts"] == ["vm-fail"]
    assert stats["passed_hosts"] == ["vm-ok", "vm-warn"]
    assert stats["skipped_hosts"] == ["vm-new"]


def test_not_a_mapping_is_an_error_naming_the_filter():
    with pytest.raises(AnsibleFilterError, match="health_stats"):
        health_stats(["vm1"])
