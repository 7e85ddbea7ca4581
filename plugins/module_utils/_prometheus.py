# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parser of the Prometheus text exposition format (version 0.0.4, what vLLM's /metrics sends).

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8. Pure: text in, samples out.

Samples are kept under their exact wire names (``vllm:prompt_tokens_total``,
``vllm:time_to_first_token_seconds_bucket``): a consumer looks names up exactly, never by
prefix, so ``vllm:prompt_tokens_created`` or ``vllm:num_requests_waiting_by_reason`` cannot be
mistaken for the series next to them. ``# TYPE`` lines are kept per family name; HELP text and
other comments are skipped. A line that does not parse is counted and skipped, never fatal:
one odd family must not cost the others.
"""

from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional, Tuple

# Metric and label names; vLLM's contain ':'.
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
# Python's float() also reads "infinity", "1_000" and "0x10": the format allows none of them.


class Sample(NamedTuple):
    labels: Dict[str, str]
    value: float


class Exposition(NamedTuple):
    """``samples``: exact sample name -> samples in body order; ``types``: family name -> type
    word from ``# TYPE``; ``skipped``: lines that did not parse."""

    samples: Dict[str, List[Sample]]
    types: Dict[str, str]
    skipped: int


def parse_value(text: str) -> Optional[float]:
    """A sample value as printed by Go or prometheus_client (``3.0``, ``1.7e+09``, ``NaN``,
    ``+Inf``, ``-1.0``), or None when it is not one."""
    # float() reads "+Inf", "-Inf" and "NaN" as the format means them, but also "infinity",
    # "1_000" and " 1": only the format's forms get to it.
    if text.strip(_NUMBER_CHARS):
        return float(text) if text in _SPECIAL_VALUES else None
    try:
        return float(text)
    except ValueError:
        return None


# A sample line: name, optional {labels} (up to the last '}': values may hold '}'), value,
# optional timestamp.
_NUMBER_CHARS = "0123456789.eE+-"
_SPECIAL_VALUES = ("+Inf", "-Inf", "Inf", "NaN")
_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_TIMESTAMP_RE = re.compile(r"-?\d+\Z")

# One label pair; escapes \\, \" and \n inside the value.
_LABEL_RE = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"([^"\\]*(?:\\.[^"\\]*)*)"[ \t]*(?:,|\Z)', re.DOTALL)
_LABELS_RE = re.compile(r'(?:[ \t]*[a-zA-Z_][a-zA-Z0-9_]*[ \t]*=[ \t]*"[^"\\]*(?:\\.[^"\\]*)*"[ \t]*(?:,|\Z))*[ \t]*\Z',
                        re.DOTALL)
_PLAIN_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')
_PLAIN_LABELS_RE = re.compile(r'(?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",)*[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?\Z')
_UNESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(match) -> str:
    return _ESCAPES.get(match.group(1), "\\" + match.group(1))


def _parse_labels(text: str) -> Optional[Dict[str, str]]:
    """Labels of the text between the braces, or None when malformed. Values may hold escaped
    backslashes, quotes and newlines, commas, '}' and '='."""
    if "\\" not in text and _PLAIN_LABELS_RE.match(text):
        # The canonical form vLLM prints (a="b",c="d", no escapes): one pass, no validation loop.
        return dict(_PLAIN_LABEL_RE.findall(text))
    if not _LABELS_RE.match(text):
        return None
    return {name: _UNESCAPE_RE.sub(_unescape, value) if "\\" in value else value
            for name, value in _LABEL_RE.findall(text)}


def parse_sample(line: str) -> Optional[Tuple[str, Sample]]:
    """(name, sample) of one sample line, or None when it does not parse. A timestamp after the
    value (allowed by the format, never sent by vLLM) is ignored."""
    return _parse_sample_cached(line, {}, {})


def _parse_sample_cached(line: str, cache: Dict[str, Optional[Dict[str, str]]],
                         names: Dict[str, bool]) -> Optional[Tuple[str, Sample]]:
    """parse_sample with what one body repeats checked once: the label sets (vLLM repeats the
    same label text in every family of an engine and the same buckets in its latency histograms;
    the dicts are shared, so consumers must not change them) and the metric names (NAMES). String methods rather than one regex per line:
    the parser's budget is 10 ms for 2,000 lines."""
    brace = line.find("{")
    if brace == -1:
        fields = line.split()
        name, label_text = fields[0], ""
        fields = fields[1:]
    else:
        close = line.rfind("}")
        if close < brace or line[close + 1:close + 2] not in (" ", "\t"):
            return None
        name, label_text, fields = line[:brace], line[brace + 1:close], line[close + 1:].split()
    if not fields or len(fields) > 2 or (len(fields) == 2 and not _TIMESTAMP_RE.match(fields[1])):
        return None
    valid = names.get(name)
    if valid is None:
        valid = names[name] = bool(_NAME_RE.match(name))
    value = parse_value(fields[0])
    if not valid or value is None:
        return None
    if not label_text:
        return name, Sample({}, value)
    try:
        labels = cache[label_text]
    except KeyError:
        labels = cache[label_text] = _parse_labels(label_text)
    if labels is None:
        return None
    return name, Sample(labels, value)


def parse(text: str) -> Exposition:
    """Every sample of a /metrics body, by exact name, with the families' types."""
    samples: Dict[str, List[Sample]] = {}
    types: Dict[str, str] = {}
    skipped = 0
    label_sets: Dict[str, Optional[Dict[str, str]]] = {}
    names: Dict[str, bool] = {}
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line[0] == "#":
            parts = line[1:].split(None, 3)
            if len(parts) >= 3 and parts[0] == "TYPE":
                types[parts[1]] = parts[2]
            continue  # HELP, EOF and any other comment
        parsed = _parse_sample_cached(line, label_sets, names)
        if parsed is None:
            skipped += 1
            continue
        samples.setdefault(parsed[0], []).append(parsed[1])
    return Exposition(samples, types, skipped)
