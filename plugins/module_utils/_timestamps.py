# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RFC 3339 timestamps as docker prints them (``docker logs --timestamps``, ``.State.StartedAt``).

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8 (whose ``fromisoformat`` accepts
neither ``Z`` nor nanoseconds, hence the parser here).
"""

from __future__ import annotations

import datetime
import re

_RFC3339_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})")
# Go's zero time.Time: docker's StartedAt for a container that never started.
_GO_ZERO_YEAR = 1


def parse_rfc3339(text: str | None) -> datetime.datetime | None:
    """Parse an RFC 3339 timestamp with 0-9 fractional digits into an aware UTC datetime.

    Returns None for None, for text that is not such a timestamp, and for Go's zero time
    (``0001-01-01T00:00:00Z``), which docker prints for "never"."""
    if not text:
        return None
    match = _RFC3339_RE.fullmatch(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    if year == _GO_ZERO_YEAR:
        return None
    fraction = (match.group(7) or "").ljust(6, "0")[:6]
    zone = match.group(8)
    if zone in ("Z", "z"):
        offset = datetime.timedelta(0)
    else:
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if zone[0] == "-":
            offset = -offset
    try:
        moment = datetime.datetime(
            year, month, day, hour, minute, second, int(fraction), tzinfo=datetime.timezone(offset)
        )
        return moment.astimezone(datetime.timezone.utc)
    except (ValueError, OverflowError):  # no such date, or out of datetime's range in UTC
        return None


def format_utc(moment: datetime.datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds and a ``Z``: the one form the document uses."""
    if moment is None:
        return None
    moment = moment.astimezone(datetime.timezone.utc)
    # Not strftime: its %Y does not pad years before 1000 to four digits on every platform.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
