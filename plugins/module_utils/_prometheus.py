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
    # float() reads "+Inf", "-Inf" and "NaN" as the format means them.
    return float(text) if _VALUE_RE.match(text) else None


# A sample line: name, optional {labels} (up to the last '}': values may hold '}'), value,
# optional timestamp.
_VALUE = r"[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_VALUE_RE = re.compile(_VALUE + r"\Z")
_SAMPLE_RE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(%s)(?:[ \t]+-?\d+)?\Z" % _VALUE)
# One label pair; escapes \\, \" and \n inside the value.
_LABEL_RE = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"([^"\\]*(?:\\.[^"\\]*)*)"[ \t]*(?:,|\Z)', re.DOTALL)
_LABELS_RE = re.compile(r'(?:[ \t]*[a-zA-Z_][a-zA-Z0-9_]*[ \t]*=[ \t]*"[^"\\]*(?:\\.[^"\\]*)*"[ \t]*(?:,|\Z))*[ \t]*\Z',
                        re.DOTALL)
_PLAIN_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')
_UNESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(match) -> str:
    return _ESCAPES.get(match.group(1), "\\" + match.group(1))


def _parse_labels(text: str) -> Optional[Dict[str, str]]:
    """Labels of the text between the braces, or None when malformed. Values may hold escaped
    backslashes, quotes and newlines, commas, '}' and '='."""
    if "\\" not in text:
        # Fast path for the canonical form vLLM prints (a="b",c="d"): the pairs plus one comma
        # between each (and an optional trailing one) must make up the whole text.
        pairs = _PLAIN_LABEL_RE.findall(text)
        size = sum(len(name) + len(value) for name, value in pairs) + 4 * len(pairs) - 1
        if pairs and size in (len(text), len(text) - 1) and text.count('",') == len(pairs) - (size == len(text)):
            return dict(pairs)
    if not _LABELS_RE.match(text):
        return None
    return {name: _UNESCAPE_RE.sub(_unescape, value) if "\\" in value else value
            for name, value in _LABEL_RE.findall(text)}


def parse_sample(line: str) -> Optional[Tuple[str, Sample]]:
    """(name, sample) of one sample line, or None when it does not parse. A timestamp after the
    value (allowed by the format, never sent by vLLM) is ignored."""
    match = _SAMPLE_RE.match(line)
    if match is None:
        return None
    name, label_text, value_text = match.groups()
    labels: Dict[str, str] = {}
    if label_text:
        parsed = _parse_labels(label_text)
        if parsed is None:
            return None
        labels = parsed
    return name, Sample(labels, float(value_text))


def parse(text: str) -> Exposition:
    """Every sample of a /metrics body, by exact name, with the families' types."""
    samples: Dict[str, List[Sample]] = {}
    types: Dict[str, str] = {}
    skipped = 0
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line[0] == "#":
            parts = line[1:].split(None, 3)
            if len(parts) >= 3 and parts[0] == "TYPE":
                types[parts[1]] = parts[2]
            continue  # HELP, EOF and any other comment
        parsed = parse_sample(line)
        if parsed is None:
            skipped += 1
            continue
        samples.setdefault(parsed[0], []).append(parsed[1])
    return Exposition(samples, types, skipped)
