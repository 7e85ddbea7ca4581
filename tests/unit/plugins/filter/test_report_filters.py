# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the filters gpufleet.vllm.check_report_path and write_report: an empty path is no
report, errors name the variable. What paths are accepted is tested in
tests/unit/plugins/plugin_utils/test__report.py."""

from __future__ import annotations

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.vllm.plugins.filter import check_report_path as check_filter
from ansible_collections.gpufleet.vllm.plugins.filter import write_report as write_filter


@pytest.mark.parametrize("path", ["", None])
def test_empty_path_is_no_report(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_filter.check_report_path(path) is True
    assert write_filter.write_report("<a/>", path) is True
    assert os.listdir(tmp_path) == []


def test_report_is_written(tmp_path):
    path = tmp_path / "health.xml"
    assert check_filter.check_report_path(str(path), variable="health_junit_path") is True
    assert write_filter.write_report("<a/>\n", str(path), variable="health_junit_path") is True
    assert path.read_text() == "<a/>\n"


def test_errors_name_the_variable(tmp_path):
    with pytest.raises(AnsibleFilterError) as info:
        check_filter.check_report_path(str(tmp_path), variable="health_junit_path")
    assert str(info.value) == (
        f"health_junit_path: {tmp_path} is a directory; give the name of a file in it, "
        f"for example {tmp_path}/health.xml"
    )
    assert info.value.__cause__ is None  # one message, not the same one twice from the chain
    with pytest.raises(AnsibleFilterError) as info:
        write_filter.write_report("<a/>", str(tmp_path / "no" / "x.xml"), variable="health_junit_path")
    assert str(info.value) == (
        f"health_junit_path: the folder of the report path {tmp_path}/no/x.xml does not exist "
        f"({tmp_path}/no); create it first"
    )


def test_report_must_be_text(tmp_path):
    with pytest.raises(AnsibleFilterError, match="the report must be text, not dict"):
        write_filter.write_report({}, str(tmp_path / "x.xml"))
