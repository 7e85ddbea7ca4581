# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _options.check_option: node_info's numeric options and their limits."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._options import InvalidOption, check_option


@pytest.mark.parametrize(
    "name, value, number",
    [
        ("log_lines", None, None),
        ("log_lines", 300, 300),
        ("log_lines", "300", 300),
        ("log_lines", 300.0, 300),
        ("log_lines", " 1 ", 1),
        ("log_lines", 10000, 10000),
        ("command_timeout", 10, 10),
        ("command_timeout", "0.5", 0.5),
        ("command_timeout", 3600, 3600),
        ("serving_fresh_after", "30", 30.0),
        ("refresh_interval", 0, 0),
        ("refresh_interval", "0", 0.0),
        ("refresh_interval", 2.5, 2.5),
    ],
)
def test_accepted(name, value, number):
    checked = check_option(name, value)
    assert checked == number and type(checked) is type(number)


WHOLE_LINES = "log_lines must be a whole number of lines from 1 to 10000, got "
TIMEOUT = "command_timeout must be a number of seconds above 0 to 3600, got "
FRESH = "serving_fresh_after must be a number of seconds above 0 to 86400, got "
INTERVAL = "refresh_interval must be a number of seconds from 0 to 86400, got "


@pytest.mark.parametrize(
    "name, value, message",
    [
        # NaN passes every comparison, and float() reads "nan", "inf" and "1e309" (infinity).
        ("command_timeout", "nan", TIMEOUT + "'nan'"),
        ("command_timeout", float("nan"), TIMEOUT + "nan"),
        ("command_timeout", "inf", TIMEOUT + "'inf'"),
        ("command_timeout", "1e309", TIMEOUT + "'1e309'"),
        ("command_timeout", 0, TIMEOUT + "0"),
        ("command_timeout", -1, TIMEOUT + "-1"),
        ("command_timeout", 3601, TIMEOUT + "3601"),
        ("command_timeout", "abc", TIMEOUT + "'abc'"),
        ("command_timeout", "", TIMEOUT + "''"),
        ("command_timeout", True, TIMEOUT + "True"),
        ("command_timeout", [1], TIMEOUT + "[1]"),
        # -1 would make every engine idle, 0 too: both refused.
        ("serving_fresh_after", -1, FRESH + "-1"),
        ("serving_fresh_after", 0, FRESH + "0"),
        ("serving_fresh_after", "-inf", FRESH + "'-inf'"),
        ("refresh_interval", "abc", INTERVAL + "'abc'"),
        ("refresh_interval", -0.5, INTERVAL + "-0.5"),
        ("refresh_interval", float("inf"), INTERVAL + "inf"),
        ("log_lines", "nan", WHOLE_LINES + "'nan'"),
        ("log_lines", 1.5, WHOLE_LINES + "1.5"),
        ("log_lines", 0, WHOLE_LINES + "0"),
        ("log_lines", 10001, WHOLE_LINES + "10001"),
        ("log_lines", "9" * 5000, WHOLE_LINES + "'" + "9" * 39),
    ],
)
def test_refused_naming_the_option(name, value, message):
    with pytest.raises(InvalidOption) as excinfo:
        check_option(name, value)
    assert str(excinfo.value) == message


def test_a_huge_integer_is_refused_without_printing_it():
    # str() of an integer over 4300 digits raises on Python >= 3.11.
    with pytest.raises(InvalidOption) as excinfo:
        check_option("log_lines", 10**5000)
    assert str(excinfo.value) == WHOLE_LINES + "an integer of 16610 bits"
