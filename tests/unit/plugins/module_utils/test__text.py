# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _text.clean_text: untrusted text made safe for one terminal line."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text, strip_escapes


@pytest.mark.parametrize("text, limit, cleaned", [
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
    ("abcdefghij", 5, "abcd\u2026"),
    ("abcde", 5, "abcde"),
])
def test_clean_text(text, limit, cleaned):
    assert clean_text(text, limit) == cleaned


def test_strip_escapes_keeps_other_control_characters():
    assert strip_escapes("\x1b[31mred\x1b[0m\n") == "red\n"
