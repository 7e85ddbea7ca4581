# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a vLLM container writes to its stdout and stderr, version by version.

The prefixes, tags, tqdm meters and statistics lines follow docs/dev/formats.md section 2 (cited
where used). A ``LogScript`` collects the writes of one container run as ``(t, stream, text)`` tuples, with
``t`` in seconds since the run started; ``fakegpu.logs`` turns them into docker log lines.
"""

from __future__ import annotations

import time

# docs/dev/formats.md 2.1 "ANSI colour on the tag".
TAG_COLOUR = "\x1b[1;36m"
TAG_RESET = "\x1b[0;0m"

# Seconds into a healthy V1 start-up at which each milestone is logged. The GPU readings of a
# loading host follow the same clock, so memory grows while the weights load.
START = {
    "load_model": 6.8,
    "shards_begin": 7.6,
    "shard_seconds": 2.0,
    "shards": 11,
    "weights_done": 29.7,
    "compile_begin": 30.1,
    "compile_done": 42.0,
    "kv_cache": 44.6,
    "graphs_begin": 45.0,
    "graphs_done": 53.3,
    "engine_ready": 53.6,
    "server_ready": 55.2,
    "first_stats": 65.0,
}
STATS_INTERVAL_V1 = 10.0  # VLLM_LOG_STATS_INTERVAL default (docs/dev/formats.md 2.3)
STATS_INTERVAL_V0 = 5.0  # _LOCAL_LOGGING_INTERVAL_SEC (docs/dev/formats.md 2.2)

API = ("api", 0)


def engine(index: int = 0):
    return ("engine", index)


def worker(rank: int):
    return ("worker", rank)


_PIDS = {"api": 1, "engine": 272, "worker": 406}


class VllmVersion:
    """How one vLLM release prefixes its console lines (docs/dev/formats.md 2.1)."""

    def __init__(self, number: str, colour: bool = False):
        self.number = number
        self.release = tuple(int(part) for part in number.split(".")[:3])
        self.colour = colour
        self.v0 = self.release < (0, 8)

    def record_head(self, level: str, epoch: float, fileinfo: str) -> str:
        """``INFO 12-16 21:40:15 metrics.py:467] `` (<= 0.7, no ``[``) or the bracketed form."""
        stamp = time.strftime("%m-%d %H:%M:%S", time.gmtime(epoch))
        if self.v0:
            return "%s %s %s] " % (level, stamp, fileinfo)
        return "%s %s [%s] " % (level, stamp, fileinfo)

    def process_name(self, process, tp: int, dp: int):
        """The ``(NAME pid=N)`` name of a process, None where the version shows no tag."""
        kind, index = process
        if kind == "worker" and tp == 1:
            # A single GPU worker runs inside the engine-core process.
            kind, index = "engine", 0
        if self.v0:
            return None
        if kind == "api":
            return "APIServer"
        if self.release < (0, 11):
            return "EngineCore_%d" % index if kind == "engine" else "VllmWorker TP%d" % index
        if kind == "worker":
            return "Worker_TP%d" % index
        if self.release >= (0, 22) and dp == 1:
            return "EngineCore"
        return "EngineCore_DP%d" % index

    @property
    def tag_in_format(self) -> bool:
        """0.33: the tag is part of the logging format, so tqdm and uvicorn lines have none."""
        return self.release >= (0, 33)

    @property
    def multiline_repeats_head(self) -> bool:
        """0.11+: NewLineFormatter turns an embedded newline into ``\\r\\n`` + the head."""
        return self.release >= (0, 11)


def pid_of(process, tp: int) -> int:
    kind, index = process
    if kind == "worker" and tp == 1:
        kind, index = "engine", 0
    return _PIDS[kind] + index


class LogScript:
    """The writes of one container run, in the order the processes made them."""

    def __init__(self, version: VllmVersion, start_epoch: float, tp: int = 1, dp: int = 1):
        self.version = version
        self.start_epoch = start_epoch
        self.tp = tp
        self.dp = dp
        self.writes = []
        self._mid_line = set()

    def _tag(self, process) -> str:
        name = self.version.process_name(process, self.tp, self.dp)
        if name is None:
            return ""
        tag = "(%s pid=%d)" % (name, pid_of(process, self.tp))
        if self.version.colour:
            tag = TAG_COLOUR + tag + TAG_RESET
        return tag + " "

    def _write(self, t: float, process, stream: str, text: str) -> None:
        """One write to a process's stream. Before 0.33, vLLM's ``_add_prefix`` wrapper puts
        the process tag in front of every line the process starts (docs/dev/formats.md 2.1)."""
        tag = "" if self.version.tag_in_format else self._tag(process)
        if tag:
            key = (pid_of(process, self.tp), stream)
            pieces = []
            start = 0
            while start < len(text):
                end = text.find("\n", start)
                piece = text[start:] if end < 0 else text[start : end + 1]
                if key not in self._mid_line:
                    pieces.append(tag)
                pieces.append(piece)
                if piece.endswith("\n"):
                    self._mid_line.discard(key)
                else:
                    self._mid_line.add(key)
                start += len(piece)
            text = "".join(pieces)
        self.writes.append((t, stream, text))

    def log(self, t: float, process, fileinfo: str, message: str, level: str = "INFO") -> None:
        """A logging record: vLLM logs to stdout (VLLM_LOGGING_STREAM, docs/dev/formats.md 2.1)."""
        head = self.version.record_head(level, self.start_epoch + t, fileinfo)
        if self.version.tag_in_format:
            head = self._tag(process) + head
        if self.version.multiline_repeats_head:
            message = message.replace("\n", "\r\n" + head)
        self._write(t, process, "stdout", head + message + "\n")

    def raw(self, t: float, process, text: str, stream: str = "stderr") -> None:
        """Text printed outside vLLM's logger (uvicorn, tracebacks): one or more lines."""
        self._write(t, process, stream, text + "\n")

    def progress(
        self, t: float, process, desc: str, total: int, seconds: float, with_bar: bool = False, stop_after=None
    ) -> None:
        """A tqdm bar on stderr: ``\\r`` before every redraw, ``\\n`` only when it closes.
        ``stop_after`` = n leaves the bar open after item n, as when the loop raised."""
        last = total if stop_after is None else stop_after
        step = seconds / total
        shown_at = None
        previous = ""
        for n in range(last + 1):
            at = t + n * step
            # tqdm's mininterval: redraws closer than 0.1 s apart are skipped.
            if shown_at is not None and at - shown_at < 0.1 and n != last:
                continue
            text = tqdm_meter(desc, n, total, at - t, with_bar)
            self._write(at, process, "stderr", "\r" + text + " " * (len(previous) - len(text)))
            shown_at, previous = at, text
        if stop_after is None:
            # close(): one more redraw, then the newline.
            self._write(t + seconds, process, "stderr", "\r" + previous + "\n")


def _interval(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return "%d:%02d:%02d" % (hours, minutes, secs)
    return "%02d:%02d" % (minutes, secs)


_BLOCKS = " " + "".join(chr(code) for code in range(0x258F, 0x2587, -1))
_BAR_WIDTH = 10


def _bar(fraction: float) -> str:
    """tqdm's unicode bar at its width when the terminal size is unknown (10 cells)."""
    steps = len(_BLOCKS) - 1
    full, partial = divmod(int(fraction * _BAR_WIDTH * steps), steps)
    if full >= _BAR_WIDTH:
        return _BLOCKS[-1] * _BAR_WIDTH
    return _BLOCKS[-1] * full + _BLOCKS[partial] + " " * (_BAR_WIDTH - full - 1)


def tqdm_meter(desc: str, n: int, total: int, elapsed: float, with_bar: bool = False) -> str:
    """One tqdm status text. Without ``with_bar``: vLLM's weight-loading format (docs/dev/formats.md 2.1,
    ``{desc}: {percentage:3.0f}% Completed | {n_fmt}/{total_fmt} [{elapsed}<{remaining},
    {rate_fmt}]``); with it, tqdm's default ``{desc}: 42%|####      | n/total [...]``."""
    rate = n / elapsed if n and elapsed else None
    if rate is None:
        remaining, rate_fmt = "?", "?it/s"
    else:
        remaining = _interval((total - n) / rate)
        rate_fmt = "%5.2fs/it" % (1 / rate) if rate < 1 else "%5.2fit/s" % rate
    percentage = "%3.0f%%" % (100.0 * n / total)
    tail = "%d/%d [%s<%s, %s]" % (n, total, _interval(elapsed), remaining, rate_fmt)
    if with_bar:
        return "%s: %s|%s| %s" % (desc, percentage, _bar(n / total), tail)
    return "%s: %s Completed | %s" % (desc, percentage, tail)


# ---------------------------------------------------------------------------------------------
# Statistics lines (docs/dev/formats.md 2.2, 2.3)


def v1_stats(prompt, generation, running, waiting, kv, prefix=None, engine_id=0, engines=None, kv_fetch=None) -> str:
    """V1 ``LoggingStatLogger`` line. ``engines`` = N gives the ``N Engines Aggregated:``
    form (0.12+); ``kv_fetch`` and an absent ``prefix`` are the 0.33 variants."""
    head = "%d Engines Aggregated: " % engines if engines else "Engine %03d: " % engine_id
    parts = [
        "Avg prompt throughput: %.1f tokens/s" % prompt,
        "Avg generation throughput: %.1f tokens/s" % generation,
        "Running: %d reqs" % running,
        "Waiting: %d reqs" % waiting,
    ]
    if kv_fetch is not None:
        parts.append("KV fetch: %d waiting to start, %d in progress, %d completed waiting" % kv_fetch)
    parts.append("GPU KV cache usage: %.1f%%" % kv)
    if prefix is not None:
        parts.append("Prefix cache hit rate: %.1f%%" % prefix)
    return head + ", ".join(parts)


def v0_stats(prompt, generation, running, swapped, pending, gpu_kv, cpu_kv) -> str:
    """V0 ``LoggingStatLogger`` line: no engine prefix, ends with a period (docs/dev/formats.md 2.2)."""
    return (
        "Avg prompt throughput: %.1f tokens/s, Avg generation throughput: %.1f tokens/s, "
        "Running: %d reqs, Swapped: %d reqs, Pending: %d reqs, GPU KV cache usage: %.1f%%, "
        "CPU KV cache usage: %.1f%%." % (prompt, generation, running, swapped, pending, gpu_kv, cpu_kv)
    )


def v0_prefix_line(gpu: float, cpu: float) -> str:
    return "Prefix cache hit rate: GPU: %.2f%%, CPU: %.2f%%" % (gpu, cpu)


_STATS_FILEINFO = {
    (0, 10): "loggers.py:111",
    (0, 11): "loggers.py:123",
    (0, 14): "loggers.py:236",
    (0, 33): "loggers.py:259",
}


def stats_fileinfo(version: VllmVersion) -> str:
    if version.v0:
        return "metrics.py:467"
    return _STATS_FILEINFO[version.release[:2]]
