# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parser for the output of ``docker logs --timestamps --tail N`` of a vLLM container.

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8.

Implements docs/dev/formats.md section 2 (vLLM 0.6.6 to 0.33 log lines: prefixes and process tags,
V0 and V1 stats lines, loading-phase lines, fatal lines) and section 7 (parser rules), and
produces the ``vllm`` part of docs/schema-v1.md (``phase`` and ``message`` via `decide_phase`).

Which lines count: only those of the container's current run. With ``started_at`` (docker's
``.State.StartedAt``), a line counts when its docker timestamp is at or after it. A line without
a docker timestamp (docker always prints one, so only damaged or hand-made input has none) belongs
to the run of the timestamped line before it; before any timestamped line it counts only when
``started_at`` is unknown. Without ``started_at``, everything from the last vLLM startup banner
on counts (everything, when there is no banner).

Figures that cannot be true are null: digit runs longer than any real figure, percentages outside
0-100, and ages of lines stamped more than CLOCK_AHEAD_TOLERANCE_S ahead of the VM's clock
(``clock_ahead_s`` measures that; the caller reports it).
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text, strip_escapes
from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import format_utc, parse_rfc3339

LOADING_MESSAGE_LIMIT = 200
ERROR_MESSAGE_LIMIT = 300
MAX_ERRORS = 5
# Docker stamps each line with the VM's clock as it receives it, and the module reads that same
# clock afterwards: a line stamped later than now means the clock was set back (or the log is
# forged). Up to this much is taken for a clock step (NTP) and the age counted as 0; beyond it the
# ages mean nothing and the log's times are reported as ahead of the VM's clock.
CLOCK_AHEAD_TOLERANCE_S = 60.0

# --- line prefixes ---------------------------------------------------------------------------
# docker prints UTC with 0-9 fraction digits; other RFC 3339 forms take the slow path.
_DOCKER_UTC_STAMP_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z(?: |$)")
_OTHER_STAMP_RE = re.compile(r"(\d{4}-\d\d-\d\d[Tt][^ ]*)(?: |$)")
# "(APIServer pid=1) ", "(VllmWorker rank=0 pid=241) ", "(RayWorkerWrapper pid=7, ip=10.0.0.1) ".
# Repeated because Ray puts its own tag in front of a worker's.
_PROCESS_TAG_RE = re.compile(r"(?:\([^()]*? pid=\d+(?:, ip=[^()]*)?\) ?)+")
# 0.8+ "INFO 05-01 12:00:00 [loggers.py:111] ", 0.6.6 "INFO 12-16 21:40:15 metrics.py:467] ";
# at DEBUG level the file is a path that may hold "/" and "...".
_LEVEL_PREFIX_RE = re.compile(
    r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL) \d\d-\d\d \d\d:\d\d:\d\d \[?[^\s\]]+:\d+\] ?"
)
_UVICORN_PREFIX_RE = re.compile(r"(?:TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+")

# --- markers ---------------------------------------------------------------------------------
# Lines are matched before their prefixes are stripped: no marker can occur in a process tag or
# a logger prefix, and stripping every line would cost most of the time budget.
_BANNER_MARKERS = ("vLLM API server version", "vLLM server version")
_READY_MARKERS = ("Application startup complete", "Uvicorn running on")
# --enable-log-requests echoes prompts: text a client chose must not look like an error or stats.
_CLIENT_ECHO_MARKER = "Received request"

# --- stats lines (V0 vllm/engine/metrics.py, V1 vllm/v1/metrics/loggers.py) -------------------
_STATS_MARKER = "Avg prompt throughput"
_V0_PREFIX_LINE_MARKER = "Prefix cache hit rate: GPU:"
# Digit runs are bounded: a number with more digits than any real figure does not match (its
# value is null), so a hostile line can neither overflow a float to infinity nor hit Python's
# limit on int() of a long string.
_ENGINE_ID_RE = re.compile(r"(?:\bEngine (\d{1,6})|\b(\d{1,6}) Engines Aggregated):")
_PROMPT_TPS_RE = re.compile(r"Avg prompt throughput: (\d{1,15}(?:\.\d{1,9})?) tokens/s")
_GENERATION_TPS_RE = re.compile(r"Avg generation throughput: (\d{1,15}(?:\.\d{1,9})?) tokens/s")
_RUNNING_RE = re.compile(r"\bRunning: (\d{1,15}) reqs")
_WAITING_RE = re.compile(r"\b(?:Waiting|Pending): (\d{1,15}) reqs")
_SWAPPED_RE = re.compile(r"\bSwapped: (\d{1,15}) reqs")
_PREEMPTIONS_RE = re.compile(r"\bPreemptions: (\d{1,15})\b")
# V1 "<DEV> KV cache usage" (0.33: GPU, CPU, XPU, "GPU + host"); V0 prints GPU then CPU.
_KV_USAGE_RE = re.compile(r"(\w+(?: \+ host)?) KV cache usage: (\d{1,15}(?:\.\d{1,9})?)%")
# Capital P: "External prefix cache hit rate" is another figure.
_PREFIX_HIT_RE = re.compile(r"\bPrefix cache hit rate: (\d{1,15}(?:\.\d{1,9})?)%")
# V0's separate line; a rate of -1 (printed -100.00%) means that cache is off.
_V0_PREFIX_LINE_RE = re.compile(
    r"Prefix cache hit rate: GPU: (-?\d{1,15}(?:\.\d{1,9})?)%, CPU: (-?\d{1,15}(?:\.\d{1,9})?)%"
)

ENGINE_KEYS = (
    "engine",
    "aggregated_engines",
    "prompt_tps",
    "generation_tps",
    "running",
    "waiting",
    "swapped",
    "preemptions",
    "kv_cache_pct",
    "kv_cache_device",
    "cpu_kv_cache_pct",
    "prefix_cache_hit_pct",
    "logged_at",
    "age_s",
)

# --- loading stages (docs/dev/formats.md 2.5), in the order a start goes through them ------------------
LOADING_MARKERS = (
    ("starting", ("vLLM API server version", "vLLM server version", "Using max model len")),
    # "Fetching N files" and "Downloading ..." are huggingface_hub's download bars.
    ("downloading", ("Fetching", "Downloading", "Time spent downloading weights", "Using model weights format")),
    (
        "loading_weights",
        (
            "Starting to load model",
            "Loading model weights took",
            "Model loading took",
            "Loading weights took",
            "checkpoint shards",
            "Multi-thread loading shards",
            "Loading safetensors using Runai Model Streamer",
        ),
    ),
    (
        "profiling",
        (
            "Memory profiling takes",
            "# GPU blocks:",
            "Available KV cache memory",
            "KV cache size:",
            "Maximum concurrency for",
            "Initial profiling/warmup run took",
        ),
    ),
    (
        "compiling",
        (
            "torch.compile takes",
            "torch.compile took",
            "Starting torch.compile",
            "Dynamo bytecode transform time",
            "Compiling a graph for",
            "Directly load the compiled graph",
        ),
    ),
    ("capturing_graphs", ("Capturing cudagraphs", "Capturing CUDA graph", "Graph capturing finished")),
    (
        "starting_server",
        (
            "init engine (profile, create kv cache, warmup model) took",
            "Starting vLLM API server",
            "Starting vLLM server",
            "Started server process",
            "Waiting for application startup",
        ),
    ),
)
_TQDM_PERCENT_RE = re.compile(r"(\d{1,3})%(?: Completed|\|)")

# --- fatal errors (docs/dev/formats.md 2.6) ------------------------------------------------------------
ERROR_MARKERS = (
    ("cuda_oom", ("CUDA out of memory",)),
    (
        "kv_cache_insufficient",
        (
            "No available memory for the cache blocks",
            "larger than the available KV cache memory",
            "larger than the maximum number of tokens that can be stored in KV cache",
        ),
    ),
    ("gpu_memory_utilization", ("less than desired GPU memory utilization",)),
    (
        "engine_init_failed",
        ("Engine core initialization failed", "Frontend process failed during engine core initialization"),
    ),
    ("engine_died", ("died unexpectedly",)),
)


def _marker_index(catalogue):
    """One regex matching any marker of CATALOGUE ((category, markers) pairs), and the category
    of each marker. Markers are grouped by their first character, which lets the regex engine
    skip most positions of a line: a plain alternation is ten times slower."""
    category_by_marker = {}
    for category, markers in catalogue:
        for marker in markers:
            category_by_marker[marker] = category
    by_first = {}
    for marker in category_by_marker:
        by_first.setdefault(marker[0], []).append(re.escape(marker[1:]))
    pattern = "|".join(re.escape(first) + "(?:" + "|".join(rests) + ")" for first, rests in sorted(by_first.items()))
    return re.compile(pattern), category_by_marker


_LOADING_RE, _STAGE_BY_MARKER = _marker_index(LOADING_MARKERS)
_ERROR_RE, _KIND_BY_MARKER = _marker_index(ERROR_MARKERS)

_STOPPED_MESSAGES = {
    "missing": "container does not exist",
    "exited": "container has exited",
    "dead": "container is dead",
    "created": "container was created but never started",
    "removing": "container is being removed",
    "paused": "container is paused",
}
_ACTIVE_STATUSES = ("running", "restarting")


class _StatsLine:
    """The newest stats line of one engine, parsed only at the end: most are superseded."""

    __slots__ = ("line", "stamp_key", "v0_prefix_line")

    def __init__(self, line, stamp_key):
        self.line = line
        self.stamp_key = stamp_key
        self.v0_prefix_line = None


class _Run:
    """What the current vLLM run has logged so far."""

    def __init__(self):
        self.stats = {}  # engine index, None for an aggregated line -> _StatsLine
        self.newest_v0_stats = None  # target of V0's separate prefix-cache line
        self.stage = None
        self.stage_line = None
        self.progress_by_stage = {}
        self.errors = []
        self.error_kinds = set()
        self.ready = False


# Docker timestamps are compared as fixed-width UTC text ("YYYY-MM-DDTHH:MM:SS.nnnnnnnnn"),
# which sorts like time: parsing every line into a datetime would cost half the time budget.
def _stamp_key(moment: datetime.datetime) -> str:
    return format_utc(moment)[:-1] + "000"


def _split_docker_stamp(line: str) -> tuple[str | None, str]:
    """The stamp key of a docker line and the rest of it; None when it has no stamp."""
    match = _DOCKER_UTC_STAMP_RE.match(line)
    if match:
        return match.group(1) + "." + (match.group(2) or "").ljust(9, "0"), line[match.end() :]
    match = _OTHER_STAMP_RE.match(line)
    if match:
        moment = parse_rfc3339(match.group(1))
        if moment is not None:
            return _stamp_key(moment), line[match.end() :]
    return None, line


def _logged_at(stamp_key: str | None) -> str | None:
    # The key is already UTC: format_utc's form is its first 26 characters plus "Z".
    return None if stamp_key is None else stamp_key[:26] + "Z"


def _age_s(stamp_key: str | None, now: datetime.datetime) -> float | None:
    """Seconds from the stamp to NOW; 0 for a stamp slightly ahead, None for one ahead by more
    than CLOCK_AHEAD_TOLERANCE_S (reported as the log's clock being ahead, see parse_log_text)."""
    moment = None if stamp_key is None else parse_rfc3339(stamp_key + "Z")
    if moment is None:  # no stamp, or one that is no real time (year 0000, Go's zero time)
        return None
    age = round((now - moment).total_seconds(), 1)
    if age < -CLOCK_AHEAD_TOLERANCE_S:
        return None
    return max(age, 0.0)


def _percent(value: float | None) -> float | None:
    return value if value is not None and 0 <= value <= 100 else None


def _strip_prefixes(segment: str) -> str:
    """The message of one log line: without colours, process tag and logger prefix."""
    if "\x1b" in segment:
        segment = strip_escapes(segment)
    segment = segment.strip()
    if segment.startswith("("):
        match = _PROCESS_TAG_RE.match(segment)
        if match:
            segment = segment[match.end() :]
    match = _LEVEL_PREFIX_RE.match(segment) or _UVICORN_PREFIX_RE.match(segment)
    if match:
        segment = segment[match.end() :]
    return segment.strip()


def _first_float(pattern, text: str) -> float | None:
    match = pattern.search(text)
    return float(match.group(1)) if match else None


def _first_int(pattern, text: str) -> int | None:
    match = pattern.search(text)
    return int(match.group(1)) if match else None


def _stats_id(stats_line: str) -> tuple[int | None, int | None] | None:
    """(engine, aggregated_engines) of a V1 stats line; None for a V0 line, which has no id."""
    head = stats_line[: stats_line.index(_STATS_MARKER)]
    match = _ENGINE_ID_RE.search(head)
    if match is None:
        return None
    if match.group(1) is not None:
        return int(match.group(1)), None
    return None, int(match.group(2))


def _parse_stats(stats: _StatsLine, now: datetime.datetime) -> dict:
    line = stats.line
    engine, aggregated = _stats_id(line) or (0, None)
    kv_device = kv_pct = cpu_kv_pct = None
    for device, pct in _KV_USAGE_RE.findall(line):
        if kv_device is None:
            kv_device, kv_pct = device, _percent(float(pct))
        elif device == "CPU":
            cpu_kv_pct = _percent(float(pct))
    prefix_hit_pct = _percent(_first_float(_PREFIX_HIT_RE, line))
    if stats.v0_prefix_line is not None:
        prefix_hit_pct = _percent(float(_V0_PREFIX_LINE_RE.search(stats.v0_prefix_line).group(1)))
    return {
        "engine": engine,
        "aggregated_engines": aggregated,
        "prompt_tps": _first_float(_PROMPT_TPS_RE, line),
        "generation_tps": _first_float(_GENERATION_TPS_RE, line),
        "running": _first_int(_RUNNING_RE, line),
        "waiting": _first_int(_WAITING_RE, line),
        "swapped": _first_int(_SWAPPED_RE, line),
        "preemptions": _first_int(_PREEMPTIONS_RE, line),
        "kv_cache_pct": kv_pct,
        "kv_cache_device": kv_device,
        "cpu_kv_cache_pct": cpu_kv_pct,
        "prefix_cache_hit_pct": prefix_hit_pct,
        "logged_at": _logged_at(stats.stamp_key),
        "age_s": _age_s(stats.stamp_key, now),
    }


def _feed(run: _Run, line: str, stamp_key: str | None) -> None:
    if _CLIENT_ECHO_MARKER in line:
        return
    if _STATS_MARKER in line:
        stats = _StatsLine(line, stamp_key)
        stats_id = _stats_id(line)
        run.stats[0 if stats_id is None else stats_id[0]] = stats
        run.newest_v0_stats = stats if stats_id is None else None
        return
    if _V0_PREFIX_LINE_MARKER in line:
        if (
            run.newest_v0_stats is not None
            and run.stats.get(0) is run.newest_v0_stats
            and _V0_PREFIX_LINE_RE.search(line)
        ):
            run.newest_v0_stats.v0_prefix_line = line
        return
    if not run.ready and any(marker in line for marker in _READY_MARKERS):
        run.ready = True
    error = _ERROR_RE.search(line)
    if error:
        kind = _KIND_BY_MARKER[error.group()]
        if kind not in run.error_kinds and len(run.errors) < MAX_ERRORS:
            run.error_kinds.add(kind)
            run.errors.append(
                {
                    "kind": kind,
                    "message": clean_text(_strip_prefixes(line), ERROR_MESSAGE_LIMIT),
                    "logged_at": _logged_at(stamp_key),
                }
            )
    loading = _LOADING_RE.search(line)
    if loading:
        run.stage = _STAGE_BY_MARKER[loading.group()]
        run.stage_line = line
        percent = _TQDM_PERCENT_RE.search(line) if "%" in line else None
        if percent and int(percent.group(1)) <= 100:
            run.progress_by_stage[run.stage] = int(percent.group(1))


def _engine_order(engine: dict) -> tuple:
    # Numbered engines ascending, the aggregated line (engine None) last.
    return (engine["engine"] is None, engine["engine"] or 0)


def parse_log_text(text: str, started_at: datetime.datetime | None, now: datetime.datetime) -> dict:
    """Parse ``docker logs --timestamps`` output (stderr merged) of a vLLM container.

    Returns ``engines`` (newest stats line per engine), ``loading`` (stage, progress_pct and
    message of the newest loading line, None when none was seen), ``errors`` (fatal errors, first
    occurrence of each kind first, at most 5), ``ready``, ``last_log_at`` (newest counted line)
    and ``log_lines_read`` (non-blank lines after splitting on ``\\n`` and ``\\r``, counted or
    not). Only lines of the current run count (see the module docstring). ``now`` gives ``age_s``.
    """
    run = _Run()
    lines_read = 0
    last_key = None
    start_key = None if started_at is None else _stamp_key(started_at)
    counting = start_key is None
    for docker_line in text.split("\n"):
        stamp_key, rest = _split_docker_stamp(docker_line)
        if stamp_key is not None and start_key is not None:
            counting = stamp_key >= start_key
        # tqdm separates its updates with "\r"; they all share the docker line's timestamp.
        for line in rest.split("\r"):
            if not line or line.isspace():
                continue
            lines_read += 1
            if not counting:
                continue
            if stamp_key is not None:
                last_key = stamp_key
            if start_key is None and any(marker in line for marker in _BANNER_MARKERS):
                run = _Run()
            _feed(run, line, stamp_key)
    loading = None
    if run.stage is not None:
        loading = {
            "stage": run.stage,
            "progress_pct": run.progress_by_stage.get(run.stage),
            "message": clean_text(_strip_prefixes(run.stage_line), LOADING_MESSAGE_LIMIT),
        }
    engines = [_parse_stats(stats, now) for stats in run.stats.values()]
    return {
        "engines": sorted(engines, key=_engine_order),
        "loading": loading,
        "errors": run.errors,
        "ready": run.ready,
        "last_log_at": _logged_at(last_key),
        "log_lines_read": lines_read,
    }


def clock_ahead_s(moment: datetime.datetime | None, now: datetime.datetime) -> float | None:
    """Seconds MOMENT lies ahead of NOW when that is more than CLOCK_AHEAD_TOLERANCE_S, else None."""
    if moment is None:
        return None
    ahead = (moment - now).total_seconds()
    return round(ahead, 1) if ahead > CLOCK_AHEAD_TOLERANCE_S else None


def _duration_text(seconds: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return "%d %s" % (seconds // size, unit)
    return "%d s" % seconds


def clock_ahead_message(ahead_s: float, what: str) -> str:
    """Why the phase is unknown when WHAT (a timestamp's description) is AHEAD_S in the future."""
    return (
        "%s is %s ahead of the VM's clock, so the age of its stats cannot be known: the clock was "
        "set back or the log is not genuine; check the clock (timedatectl) and NTP, then restart "
        "the container" % (what, _duration_text(ahead_s))
    )


def loading_or_starting(parsed: dict) -> dict:
    """The ``loading`` value for a container in the loading phase: what the log says, or the
    ``starting`` stage when vLLM has not logged a loading line yet."""
    if parsed.get("loading") is not None:
        return dict(parsed["loading"])
    return {"stage": "starting", "progress_pct": None, "message": None}


def _is_busy(engine: dict, fresh_after_s: float) -> bool:
    age_s = engine.get("age_s")
    if age_s is None or age_s > fresh_after_s:
        return False
    return any((engine.get(key) or 0) > 0 for key in ("prompt_tps", "generation_tps", "running", "waiting"))


def decide_phase(container_status: str | None, parsed: dict, fresh_after_s: float = 30.0) -> tuple[str, str | None]:
    """Return ``(phase, message)`` for the ``vllm`` section from the container status and the
    parsed log. ``message`` says why the phase is unknown, stopped or failed; None otherwise.

    An idle vLLM stops logging stats, so old stats mean idle, not broken: only fresh stats
    (``age_s`` <= ``fresh_after_s``) that show work make the phase ``serving``.
    """
    errors = parsed.get("errors") or []
    if container_status is None or container_status == "error":
        return "unknown", "container state is unknown"
    if container_status in ("exited", "dead", "created", "removing"):
        if errors:
            return "failed", errors[0]["message"]
        return "stopped", _STOPPED_MESSAGES[container_status]
    if container_status in ("missing", "paused"):
        return "stopped", _STOPPED_MESSAGES[container_status]
    if container_status not in _ACTIVE_STATUSES:
        return "unknown", clean_text("unrecognised container status %r" % container_status, 100)
    if errors:
        return "failed", errors[0]["message"]
    engines = parsed.get("engines") or []
    if any(_is_busy(engine, fresh_after_s) for engine in engines):
        return "serving", None
    if parsed.get("ready") or engines:
        return "idle", None
    return "loading", None
