# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The container's log as ``docker logs`` keeps it: one entry per ``\\n``-terminated line of
stdout or stderr, stamped when the line was completed, over every run of the container.

Deviation from docker, on purpose: a line still open at the moment of reading (a tqdm bar in
progress) is shown as it stands. The json-file driver holds such a partial line until its
newline or 16 KiB arrive, which would hide every loading percentage until the bar closes.
"""

from __future__ import annotations

from fakegpu.runs import epoch_to_ns, runs
from fakegpu.vllm_text import LogScript, stats_fileinfo


class Entry:
    __slots__ = ("ns", "stream", "text")

    def __init__(self, ns: int, stream: str, text: str):
        self.ns = ns
        self.stream = stream
        self.text = text


def _writes(run, until_t: float, tail):
    """The run's writes up to UNTIL_T seconds after its start, in time order. With TAIL, only
    the last TAIL statistics ticks are made: enough for the last TAIL lines, whatever the age."""
    scenario = run.scenario
    script = LogScript(scenario.version, run.started, scenario.tp, scenario.dp)
    if run.build is not None:
        run.build(script)
    stats = scenario.stats
    if stats is not None:
        newest = min(until_t, stats.last if stats.last is not None else until_t)
        if newest >= stats.first:
            last_tick = int((newest - stats.first) // stats.interval)
            first_tick = 0 if tail is None else max(0, last_tick - tail + 1)
            fileinfo = stats_fileinfo(scenario.version)
            for tick in range(first_tick, last_tick + 1):
                at = stats.first + tick * stats.interval
                for process, message in stats.lines(tick):
                    script.log(at, process, fileinfo, message)
    # sort() is stable: writes made at the same instant keep their order.
    return sorted((write for write in script.writes if write[0] <= until_t), key=lambda w: w[0])


def _stamp(started_ns: int, t: float) -> int:
    """Nanoseconds of a line written T seconds into a run, with sub-microsecond digits that
    look like a real clock's but depend on T only."""
    return started_ns + int(round(t * 1e9)) + (int(round(t * 100)) * 7919) % 997


def _run_entries(run, now: float, tail) -> list:
    end = now if run.finished is None else min(now, run.finished)
    started_ns = epoch_to_ns(run.started)
    entries = []
    pending = {}
    last_write = {}
    for t, stream, text in _writes(run, end - run.started, tail):
        pieces = text.split("\n")
        pending.setdefault(stream, []).append(pieces[0])
        for piece in pieces[1:]:
            entries.append(Entry(_stamp(started_ns, t), stream, "".join(pending[stream])))
            pending[stream] = [piece]
        last_write[stream] = t
    for stream, pieces in pending.items():
        partial = "".join(pieces)
        if partial:
            entries.append(Entry(_stamp(started_ns, last_write[stream]), stream, partial))
    return entries


def entries(host, tail=None, since_ns=None, until_ns=None) -> list:
    """The last TAIL log entries (all when None) of every run of HOST's container."""
    collected = []
    for run in runs(host):
        if run.started <= host.now:
            collected.extend(_run_entries(run, host.now, tail))
    collected.sort(key=lambda entry: entry.ns)
    previous = None
    for entry in collected:
        # Lines completed by one write share an instant; docker's clock still moves on.
        if previous is not None and entry.ns <= previous:
            entry.ns = previous + 1
        previous = entry.ns
    if since_ns is not None:
        collected = [entry for entry in collected if entry.ns >= since_ns]
    if until_ns is not None:
        collected = [entry for entry in collected if entry.ns <= until_ns]
    if tail is not None:
        collected = collected[-tail:] if tail > 0 else []
    return collected
