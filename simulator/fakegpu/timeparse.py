# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The values ``docker logs --since/--until`` accept: a Unix time (``1764293400.5``), an RFC 3339
time (``2026-11-28T01:39:55.123Z``, ``...+01:00``, or just a date), or a Go duration before now
(``10m``, ``1h30m``, ``1.5h``). Hand-written: the executables avoid importing ``re``."""

from __future__ import annotations

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _duration_seconds(text: str):
    total, number = 0.0, ""
    pos = 0
    while pos < len(text):
        if text[pos].isdigit() or text[pos] == ".":
            number += text[pos]
            pos += 1
            continue
        unit = text[pos : pos + 2] if text[pos : pos + 2] in _DURATION_UNITS else text[pos]
        if unit not in _DURATION_UNITS or not number:
            return None
        try:
            total += float(number) * _DURATION_UNITS[unit]
        except ValueError:
            return None
        number = ""
        pos += len(unit)
    return None if number else total


def _rfc3339_ns(text: str):
    date, _sep, clock = text.partition("T")
    try:
        year, month, day = (int(part) for part in date.split("-"))
    except ValueError:
        return None
    offset = 0
    if clock:
        if clock.endswith("Z"):
            clock = clock[:-1]
        elif len(clock) > 6 and clock[-6] in "+-" and clock[-3] == ":":
            sign = 1 if clock[-6] == "+" else -1
            offset = sign * (int(clock[-5:-3]) * 3600 + int(clock[-2:]) * 60)
            clock = clock[:-6]
        whole, _sep, fraction = clock.partition(".")
        try:
            hour, minute, second = (int(part) for part in whole.split(":"))
            nanos = int((fraction + "000000000")[:9]) if fraction else 0
        except ValueError:
            return None
    else:
        hour = minute = second = nanos = 0
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return (seconds - offset) * 10**9 + nanos


def parse_time(text: str, now: float):
    """Nanoseconds since the epoch, or None when TEXT is none of the accepted forms."""
    if text and all(char.isdigit() or char == "." for char in text):
        whole, _sep, fraction = text.partition(".")
        try:
            return int(whole) * 10**9 + int((fraction + "000000000")[:9])
        except ValueError:
            return None
    if text[:1].isdigit() and "-" not in text and ":" not in text:
        seconds = _duration_seconds(text)
        return None if seconds is None else int((now - seconds) * 1e9)
    return _rfc3339_ns(text)
