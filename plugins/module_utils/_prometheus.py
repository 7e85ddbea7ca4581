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
_LABEL_RE = re.compile(
    r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"([^"\\]*(?:\\.[^"\\]*)*)"[ \t]*(?:,|\Z)', re.DOTALL
)
_LABELS_RE = re.compile(
    r'(?:[ \t]*[a-zA-Z_][a-zA-Z0-9_]*[ \t]*=[ \t]*"[^"\\]*(?:\\.[^"\\]*)*"[ \t]*(?:,|\Z))*[ \t]*\Z', re.DOTALL
)
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_UNESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(match) -> str:
    return _ESCAPES.get(match.group(1), "\\" + match.group(1))


def _parse_labels(text: str) -> Optional[Dict[str, str]]:
    """Labels of the text between the braces, or None when malformed. Values may hold escaped
    backslashes, quotes and newlines, commas, '}' and '='."""
    if not _LABELS_RE.match(text):
        return None
    return {
        name: _UNESCAPE_RE.sub(_unescape, value) if "\\" in value else value for name, value in _LABEL_RE.findall(text)
    }


def _parse_labels_cached(text: str, pairs: Dict[str, Optional[Tuple[str, str]]]) -> Optional[Dict[str, str]]:
    """_parse_labels, with the canonical form vLLM prints (``a="b",c="d"``, no escapes, no
    blanks) split at ``",`` (without a backslash a value cannot hold a quote) and each pair text
    checked once per body (PAIRS): the same ``engine="0"`` or ``le="0.1"`` recurs in every
    family. Anything else takes the full grammar."""
    if "\\" in text or not (text.endswith('"') or text.endswith('",')):
        return _parse_labels(text)
    labels = {}
    for piece in (text[:-1] if text[-1] == '"' else text[:-2]).split('",'):
        try:
            pair = pairs[piece]
        except KeyError:
            name, equals, value = piece.partition('="')
            pair = pairs[piece] = (name, value) if equals and '"' not in value and _LABEL_NAME_RE.match(name) else None
        if pair is None:
            return _parse_labels(text)
        labels[pair[0]] = pair[1]
    return labels


def parse_sample(line: str) -> Optional[Tuple[str, Sample]]:
    """(name, sample) of one sample line, or None when it does not parse. A timestamp after the
    value (allowed by the format, never sent by vLLM) is ignored."""
    if "\n" in line or line.lstrip().startswith("#"):
        return None  # a line of a body never holds a newline; a comment is no sample
    for name, series in parse(line).samples.items():
        return name, series[0]
    return None


def parse(text: str) -> Exposition:
    """Every sample of a /metrics body, by exact name, with the families' types.

    One loop, no call per line, string methods rather than a regex per line, and what a body
    repeats checked once (metric names, label texts and label pairs; the label dicts are shared
    between samples, so consumers must not change them): the parser's budget is 10 ms for 2,000
    lines on the VM."""
    samples: Dict[str, List[Sample]] = {}
    types: Dict[str, str] = {}
    skipped = 0
    label_sets: Dict[str, Optional[Dict[str, str]]] = {}
    label_pairs: Dict[str, Optional[Tuple[str, str]]] = {}
    # name -> its sample list, or None for a name the format does not allow.
    series_of: Dict[str, Optional[List[Sample]]] = {}
    number_chars, special_values = _NUMBER_CHARS, _SPECIAL_VALUES
    name_match, timestamp_match = _NAME_RE.match, _TIMESTAMP_RE.match
    no_labels: Dict[str, str] = {}
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if line[0] == "#":
            parts = line[1:].split(None, 3)
            if len(parts) >= 3 and parts[0] == "TYPE":
                types[parts[1]] = parts[2]
            continue  # HELP, EOF and any other comment
        # name, optional {labels} (up to the last '}': values may hold '}'), value, optional timestamp
        brace = line.find("{")
        if brace == -1:
            fields = line.split()
            name, label_text = fields.pop(0), ""
        else:
            close = line.rfind("}")
            if close < brace or line[close + 1 : close + 2] not in (" ", "\t"):
                skipped += 1
                continue
            name, label_text, fields = line[:brace], line[brace + 1 : close], line[close + 1 :].split()
        if len(fields) != 1 and (len(fields) != 2 or not timestamp_match(fields[1])):
            skipped += 1
            continue
        try:
            series = series_of[name]
        except KeyError:
            series = series_of[name] = [] if name_match(name) else None
        value_text = fields[0]
        # float() also reads "infinity", "1_000" and "0x10": only the format's forms get to it.
        if value_text.strip(number_chars):
            value = float(value_text) if value_text in special_values else None
        else:
            try:
                value = float(value_text)
            except ValueError:
                value = None
        if series is None or value is None:
            skipped += 1
            continue
        if label_text:
            try:
                labels = label_sets[label_text]
            except KeyError:
                labels = label_sets[label_text] = _parse_labels_cached(label_text, label_pairs)
            if labels is None:
                skipped += 1
                continue
        else:
            labels = no_labels
        if not series:
            samples[name] = series
        series.append(Sample(labels, value))
    return Exposition(samples, types, skipped)
