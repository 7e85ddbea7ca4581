# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _kernel_log: XID lines of dmesg and journalctl, and an unreadable log."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._kernel_log import (
    journalctl_command,
    parse_xids,
    section,
)
from ansible_collections.gpufleet.vllm.plugins.module_utils._runner import CommandResult

START = datetime.datetime(2026, 11, 28, 1, 0, tzinfo=datetime.timezone.utc)
XID79 = "NVRM: Xid (PCI:0000:02:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus."
DMESG = (
    "2026-11-28T00:50:00,000000+00:00 NVRM: Xid (PCI:0000:01:00): 13, pid=1771, name=python3, Graphics Exception\n"
    "2026-11-28T01:10:00,123456+00:00 nvidia-nvswitch: probe\n"
    "2026-11-28T02:10:00,500000+01:00 NVRM: Xid (PCI:0000:01:00): 31, pid=1, name=python3, Ch 00000008\n"
    "2026-11-28T01:20:00,000000+00:00 " + XID79 + "\n"
)
JOURNAL = "2026-11-28T01:20:00+0000 gpu-vm kernel: " + XID79 + "\n"


def _result(rc=0, stdout="", stderr="", not_found=False, truncated=False):
    return CommandResult([], rc, stdout, stderr, False, truncated, not_found, 0.01)


def test_xids_since_the_start_newest_first():
    events = parse_xids(DMESG, START)
    # The XID 13 predates the container's start; +01:00 is converted (01:10 UTC).
    assert [(e["code"], e["logged_at"]) for e in events] == [
        (79, "2026-11-28T01:20:00.000000Z"),
        (31, "2026-11-28T01:10:00.500000Z"),
    ]
    assert events[0]["meaning"] == "GPU has fallen off the bus"
    assert events[0]["pci_bus_id"] == "0000:02:00"
    assert events[0]["message"] == XID79
    assert [e["code"] for e in parse_xids(DMESG, None)] == [79, 31, 13]


def test_journal_lines_and_unknown_codes():
    events = parse_xids(JOURNAL + "2026-11-28T01:21:00+0000 h kernel: NVRM: Xid (PCI:0000:01:00): 999, x\n", START)
    assert [(e["code"], e["meaning"]) for e in events] == [(999, None), (79, "GPU has fallen off the bus")]


def test_lines_without_time_count_only_without_a_start():
    assert parse_xids(XID79 + "\n", START) == []
    assert [e["code"] for e in parse_xids(XID79 + "\n", None)] == [79]


def test_at_most_ten_events():
    text = "".join("2026-11-28T01:%02d:00+0000 h kernel: NVRM: Xid (PCI:0000:01:00): 13, n\n" % m for m in range(30))
    assert len(parse_xids(text, START)) == 10


def test_journalctl_window():
    assert journalctl_command("/bin/journalctl", START)[-2:] == ["--since", "@%d" % START.timestamp()]
    assert journalctl_command("/bin/journalctl", None)[-1] == "-b"


@pytest.mark.parametrize(
    "dmesg, journal, cause",
    [
        (
            _result(rc=1, stderr="dmesg: read kernel buffer failed: Operation not permitted\n"),
            _result(
                stdout="Hint: You are currently not seeing messages from other users and the system.\n-- No entries --\n"
            ),
            "dmesg failed (exit 1): dmesg: read kernel buffer failed: Operation not permitted; journalctl: Hint: You are "
            "currently not seeing messages from other users and the system.",
        ),
        (
            _result(rc=1, stderr="dmesg: read kernel buffer failed: Operation not permitted\n"),
            _result(stdout="No journal files were found.\n-- No entries --\n"),
            "journalctl: No journal files were found.",
        ),
        (_result(not_found=True, rc=None), None, "dmesg not found"),
        (None, None, "neither dmesg nor journalctl was found"),
    ],
)
def test_unreadable_is_never_no_errors(dmesg, journal, cause):
    result = section(dmesg, journal, START)
    assert (result["status"], result["source"], result["events"]) == ("unreadable", None, [])
    assert cause in result["message"]
    assert "become" in result["message"]


def test_journal_when_dmesg_is_denied():
    result = section(
        _result(rc=1, stderr="dmesg: read kernel buffer failed: Operation not permitted\n"),
        _result(stdout=JOURNAL),
        START,
    )
    assert (result["status"], result["source"], [e["code"] for e in result["events"]]) == ("ok", "journalctl", [79])
    assert result["since"] == "2026-11-28T01:00:00.000000Z"


def test_dmesg_read_and_cut():
    result = section(_result(stdout=DMESG, truncated=True), None, START)
    assert (result["status"], result["source"]) == ("ok", "dmesg")
    assert "older lines were not read" in result["message"]
