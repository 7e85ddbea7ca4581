# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVIDIA XID errors from the kernel log (``dmesg``, else ``journalctl -k``).

The NVIDIA driver logs a GPU fault as ``NVRM: Xid (PCI:0000:3b:00): 79, pid=..., name=...,
GPU has fallen off the bus.``: the PCI address, the code, then details. ``dmesg --time-format
iso`` starts each line with ``2026-11-28T01:40:00,123456+00:00``; ``journalctl -k -o
short-iso`` with ``2026-11-28T01:40:00+0000 HOST kernel:``.

Reading the kernel log often needs privileges: ``dmesg`` fails with "Operation not
permitted" when kernel.dmesg_restrict is 1, and ``journalctl`` run by a user outside the
``adm``/``systemd-journal`` groups shows only that user's journal and says so in a hint
("You are currently not seeing messages from other users and the system") or finds no journal
at all. Each of these is reported as ``unreadable``, never as a log without errors.

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Dict, List, Optional

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text
from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import format_utc

# The kernel ring buffer is usually 256 KiB to a few MiB; the newest part is what matters.
LOG_BYTES_LIMIT = 2 * 1024 * 1024
MAX_EVENTS = 10
_MESSAGE_LIMIT = 300

# NVIDIA's XID catalogue, the codes a vLLM host meets most, in a few words each.
XID_MEANINGS = {
    13: "graphics engine exception (usually an application fault)",
    31: "GPU memory page fault (usually an application fault)",
    43: "GPU stopped processing (an application fault)",
    45: "preemptive cleanup after earlier errors (a process was killed)",
    48: "double-bit ECC error (uncorrectable memory error)",
    61: "internal micro-controller breakpoint/warning",
    62: "internal micro-controller halt",
    63: "ECC page retirement or row remapping recorded",
    64: "ECC page retirement or row remapping failed",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error (the application must restart)",
    95: "uncontained ECC error (the GPU must be reset)",
    119: "GSP RPC timeout",
    120: "GSP error",
}

_XID_RE = re.compile(r"NVRM: Xid \((?P<where>[^)]{0,64})\): (?P<code>\d{1,5})\b,? ?(?P<rest>.*)")
_STAMP_RE = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d)T(?P<time>\d\d:\d\d:\d\d)(?:[.,](?P<fraction>\d{1,9}))?"
    r"(?P<zone>Z|[+-]\d\d:?\d\d)"
)
_PCI_RE = re.compile(r"PCI:([0-9A-Fa-f:.]{1,32})")
_JOURNAL_UNREADABLE = (
    "not seeing messages from other users and the system",
    "insufficient permissions",
    "No journal files were found",
    "No journal files were opened",
)


def dmesg_command(binary: str) -> List[str]:
    return [binary, "--time-format", "iso"]


def journalctl_command(binary: str, since: Optional[datetime.datetime]) -> List[str]:
    # --since @EPOCH: only this run's part of the journal; without a start, the current boot.
    window = ["--since", "@%d" % int(since.timestamp())] if since is not None else ["-b"]
    return [binary, "-k", "-o", "short-iso", "--no-pager"] + window


def _stamp(line: str) -> Optional[datetime.datetime]:
    match = _STAMP_RE.match(line.strip())
    if not match:
        return None
    zone = match.group("zone").replace(":", "")
    offset = (
        datetime.timedelta(0)
        if zone == "Z"
        else ((1 if zone[0] == "+" else -1) * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])))
    )
    fraction = (match.group("fraction") or "0")[:6].ljust(6, "0")
    try:
        moment = datetime.datetime.strptime(match.group("date") + " " + match.group("time"), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    try:
        return (moment.replace(microsecond=int(fraction)) - offset).replace(tzinfo=datetime.timezone.utc)
    except OverflowError:
        return None


def parse_xids(text: str, since: Optional[datetime.datetime]) -> List[Dict[str, Any]]:
    """XID events of TEXT logged at or after SINCE (every one when SINCE is None), newest first,
    at most MAX_EVENTS. A line without a readable time counts only when SINCE is None."""
    events = []
    for line in text.split("\n"):
        match = _XID_RE.search(line)
        if not match:
            continue
        moment = _stamp(line)
        if since is not None and (moment is None or moment < since):
            continue
        code = int(match.group("code"))
        pci = _PCI_RE.search(match.group("where"))
        events.append(
            {
                "code": code,
                "meaning": XID_MEANINGS.get(code),
                "pci_bus_id": clean_text(pci.group(1), 32) if pci else None,
                "logged_at": format_utc(moment) if moment is not None else None,
                "message": clean_text(line[match.start() :], 200),
            }
        )
    return list(reversed(events))[:MAX_EVENTS]


def _failure(command: str, result) -> Optional[str]:
    """Why COMMAND's RESULT cannot be trusted as the kernel log, or None."""
    if result is None:
        return None
    if result.not_found:
        return "%s not found" % command
    if result.timed_out:
        return "%s did not answer in time" % command
    text = (result.stdout + "\n" + result.stderr) if command == "journalctl" else result.stderr
    if command == "journalctl":
        for marker in _JOURNAL_UNREADABLE:
            if marker.lower() in text.lower():
                return "journalctl: %s" % (clean_text(_line_with(text, marker), 160) or marker)
    if result.rc != 0 or getattr(result, "not_executable", False):
        first = clean_text((result.stderr or result.stdout).strip().split("\n")[0], 160) or "no output"
        return "%s failed (exit %s): %s" % (command, result.rc, first)
    return None


def _line_with(text: str, marker: str) -> str:
    for line in text.split("\n"):
        if marker.lower() in line.lower():
            return line
    return marker


def section(dmesg_result, journal_result, since: Optional[datetime.datetime]) -> Dict[str, Any]:
    """The ``gpu.xid`` dict of schema v1 from the dmesg run and, when dmesg could not be read,
    the journalctl run (None: not run or not installed)."""
    since_text = format_utc(since) if since is not None else None
    problems = []
    for command, result in (("dmesg", dmesg_result), ("journalctl", journal_result)):
        if result is None:
            continue
        problem = _failure(command, result)
        if problem is not None:
            problems.append(problem)
            continue
        events = parse_xids(result.stdout, since)
        message = None
        if result.truncated:
            message = "%s printed more than the %d MiB read; older lines were not read" % (
                command,
                LOG_BYTES_LIMIT // (1024 * 1024),
            )
        return {"status": "ok", "source": command, "since": since_text, "message": message, "events": events}
    if not problems:
        problems.append("neither dmesg nor journalctl was found")
    return {
        "status": "unreadable",
        "source": None,
        "since": since_text,
        "message": clean_text(
            "kernel log not readable, XID errors unknown: %s; run node_info with become: true, or "
            "add the SSH user to the adm or systemd-journal group (or set kernel.dmesg_restrict=0)"
            % "; ".join(problems),
            _MESSAGE_LIMIT,
        ),
        "events": [],
    }
