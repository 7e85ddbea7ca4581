# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _text.clean_text: untrusted text made safe for one terminal line."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import byte_size, clean_text, strip_escapes


@pytest.mark.parametrize(
    "text, limit, cleaned",
    [
        (None, 10, None),
        ("", 10, ""),
        ("  plain  ", 300, "plain"),
        ("\x1b[1;36m(APIServer pid=1)\x1b[0;0m INFO", 300, "(APIServer pid=1) INFO"),
        ("\x1b[2J\x1b[Hcleared", 300, "cleared"),
        ("\x1b]0;pwned\x07title", 300, "title"),
        ("\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\", 300, "click"),
        ("\x9b31mC1 CSI", 300, "C1 CSI"),
        ("bell\x07 and nul\x00 and del\x7f", 300, "bell and nul and del"),
        ("two\r\nlines\rand\nmore", 300, "two lines and more"),
        ("tab\tseparated", 300, "tab separated"),
        ("[red]markup[/red] stays text", 300, "[red]markup[/red] stays text"),
        ("bidi \u202eesrever\u202c", 300, "bidi esrever"),
        # Every bidi mark, embedding, override and isolate, and the other format characters.
        ("\u200eL\u200fR\u202aa\u202bb\u202dc\u2066d\u2067e\u2068f\u2069", 300, "LRabcdef"),
        ("zero\u200bwidth\u200cnon\u200djoin\u2060word\ufeffbom\u00adsoft", 300, "zerowidthnonjoinwordbomsoft"),
        ("arabic\u061cmark\u0600sign\U000e0041tag\U0001d173music", 300, "arabicmarksigntagmusic"),
        # The Unicode line and paragraph separators break lines like newlines do.
        ("line\u2028next\u2029para", 300, "line next para"),
        # Letters, accents and wide characters are text, not format.
        ("caf\u00e9 \u4e2d\u6587 \u00b0C", 300, "caf\u00e9 \u4e2d\u6587 \u00b0C"),
        ("abcdefghij", 5, "abcd\u2026"),
        ("abcde", 5, "abcde"),
    ],
)
def test_clean_text(text, limit, cleaned):
    assert clean_text(text, limit) == cleaned


def test_strip_escapes_keeps_other_control_characters():
    assert strip_escapes("\x1b[31mred\x1b[0m\n") == "red\n"


def test_no_format_or_separator_character_survives():
    """Every character of categories Cc, Cf, Zl and Zp that Python knows (bar TAB, which becomes a
    space, and the 8-bit CSI/OSC introducers, which swallow what follows as an escape)."""
    survivors = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") and char not in "\t\x9b\x9d":
            if char in clean_text("a" + char + "b"):
                survivors.append("U+%04X" % code)
    assert survivors == []


@pytest.mark.parametrize(
    "count, text",
    [
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (1024 * 1024, "1 MiB"),
        (64 * 1024 * 1024, "64 MiB"),
        (10 * 1024**3, "10 GiB"),
    ],
)
def test_byte_size(count, text):
    assert byte_size(count) == text
