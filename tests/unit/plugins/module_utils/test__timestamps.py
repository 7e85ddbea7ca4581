# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _timestamps: docker's RFC 3339 stamps, including ones no real clock gives."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import format_utc, parse_rfc3339

UTC = datetime.timezone.utc


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-28T01:30:00Z", "2026-11-28T01:30:00.000000Z"),
        ("2026-11-28T01:30:00.123456789Z", "2026-11-28T01:30:00.123456Z"),
        ("2026-11-28T02:30:00.5+01:00", "2026-11-28T01:30:00.500000Z"),
        ("2999-01-01T00:00:00Z", "2999-01-01T00:00:00.000000Z"),
        ("0002-01-01T00:00:00-01:00", "0002-01-01T01:00:00.000000Z"),  # four-digit year, padded
        (None, None),
        ("", None),
        ("yesterday", None),
        ("0001-01-01T00:00:00Z", None),  # Go's zero time: "never"
        ("0000-01-01T00:00:00Z", None),  # no year 0
        ("2026-02-30T00:00:00Z", None),  # no such day
        ("2026-11-28T01:30:00+99:00", None),  # no such offset
        ("0002-01-01T00:00:00+23:59", "0001-12-31T00:01:00.000000Z"),
        ("9999-12-31T23:59:59-23:59", None),  # after year 9999 in UTC
    ],
)
def test_parse_rfc3339(text, expected):
    assert format_utc(parse_rfc3339(text)) == expected


def test_format_utc_converts_to_utc():
    moment = datetime.datetime(2026, 11, 28, 2, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert format_utc(moment) == "2026-11-28T01:30:00.000000Z"
    assert format_utc(None) is None
