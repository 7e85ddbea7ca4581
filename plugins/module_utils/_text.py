# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cleaning of untrusted text that comes from a VM (logs, CLI output, container state).

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte ESC sequences, and the
# 8-bit C1 forms of CSI/OSC. Order matters: the longer forms must match before bare ESC.
_ESCAPE_RE = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI: colours, cursor moves, screen clears
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?  # OSC: window title, hyperlinks (BEL or ST ends it)
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?     # DCS, SOS, PM, APC strings
    | \x1b[@-Z\\-_]                     # other Fe escapes
    | \x9b[0-?]*[ -/]*[@-~]            # 8-bit CSI
    | \x9d[^\x07\x9c]*[\x07\x9c]?      # 8-bit OSC
    """,
    re.VERBOSE,
)
# Every remaining C0/C1 control character except TAB, plus DEL and every Unicode format
# character (category Cf, Unicode 15: soft hyphen, the bidi marks, embeddings, overrides and
# isolates that visually reorder text, the zero-width space/joiners, word joiner, BOM, the
# interlinear annotation and tag characters). They are invisible or move other text, so on a
# terminal panel they shift its borders. Listed, not looked up with unicodedata: the VM's Python
# (3.8 up) may know an older Unicode version.
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)

# CR, LF and the Unicode line and paragraph separators (U+2028, U+2029).
_LINE_BREAK_RE = re.compile("[\r\n\u2028\u2029]+")

DEFAULT_LIMIT = 300
ELLIPSIS = "\u2026"


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences (ANSI colours, cursor control, OSC titles)."""
    return _ESCAPE_RE.sub("", text)


def clean_text(text: str | None, limit: int = DEFAULT_LIMIT) -> str | None:
    """Return TEXT as one safe, bounded line: escapes and control characters removed,
    tabs turned into spaces, surrounding blanks stripped, at most LIMIT characters
    (an ellipsis marks a cut). None stays None."""
    if text is None:
        return None
    # Line breaks become spaces first, so that a multi-line message stays readable as one line.
    cleaned = _CONTROL_RE.sub("", _LINE_BREAK_RE.sub(" ", strip_escapes(text))).replace("\t", " ").strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: max(limit - 1, 0)] + ELLIPSIS
    return cleaned


def byte_size(count: int) -> str:
    """``1 MiB``, ``64 MiB``, ``1.5 MiB``, ``512 KiB``, ``100 bytes``: a size for messages."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return ("%.1f" % (count / size)).replace(".0", "") + " " + unit
    return "%d bytes" % count
