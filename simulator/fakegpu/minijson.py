# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small JSON reader (RFC 8259) for state.json.

Why not ``json``: it imports ``re``, which costs the stand-in executables about 9 ms of their
~25 ms per call, and a benchmark runs them hundreds of times a second. state.json is a few
hundred bytes, so a plain recursive-descent reader is fast enough.
"""

from __future__ import annotations

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_WHITESPACE = " \t\n\r"
_NUMBER_CHARS = frozenset("0123456789+-.eE")
_CONSTANTS = (("true", True), ("false", False), ("null", None))


def loads(text: str):
    """The value TEXT holds; ValueError (with the offset) when it is not JSON."""
    value, pos = _value(text, _skip(text, 0))
    pos = _skip(text, pos)
    if pos != len(text):
        raise ValueError("extra data at offset %d" % pos)
    return value


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _value(text: str, pos: int):
    char = text[pos : pos + 1]
    if char == "{":
        return _object(text, pos + 1)
    if char == "[":
        return _array(text, pos + 1)
    if char == '"':
        return _string(text, pos + 1)
    for word, value in _CONSTANTS:
        if text.startswith(word, pos):
            return value, pos + len(word)
    end = pos
    while end < len(text) and text[end] in _NUMBER_CHARS:
        end += 1
    number = text[pos:end]
    if not number:
        raise ValueError("expected a value at offset %d" % pos)
    try:
        if "." in number or "e" in number or "E" in number:
            return float(number), end
        return int(number), end
    except ValueError:
        raise ValueError("bad number %r at offset %d" % (number, pos)) from None


def _object(text: str, pos: int):
    result = {}
    pos = _skip(text, pos)
    if text[pos : pos + 1] == "}":
        return result, pos + 1
    while True:
        if text[pos : pos + 1] != '"':
            raise ValueError("expected a key at offset %d" % pos)
        key, pos = _string(text, pos + 1)
        pos = _skip(text, pos)
        if text[pos : pos + 1] != ":":
            raise ValueError("expected ':' at offset %d" % pos)
        result[key], pos = _value(text, _skip(text, pos + 1))
        pos = _skip(text, pos)
        if text[pos : pos + 1] == "}":
            return result, pos + 1
        if text[pos : pos + 1] != ",":
            raise ValueError("expected ',' or '}' at offset %d" % pos)
        pos = _skip(text, pos + 1)


def _array(text: str, pos: int):
    result = []
    pos = _skip(text, pos)
    if text[pos : pos + 1] == "]":
        return result, pos + 1
    while True:
        item, pos = _value(text, _skip(text, pos))
        result.append(item)
        pos = _skip(text, pos)
        if text[pos : pos + 1] == "]":
            return result, pos + 1
        if text[pos : pos + 1] != ",":
            raise ValueError("expected ',' or ']' at offset %d" % pos)
        pos += 1


def _string(text: str, pos: int):
    pieces = []
    while True:
        end = pos
        while end < len(text) and text[end] not in '"\\':
            end += 1
        pieces.append(text[pos:end])
        if end >= len(text):
            raise ValueError("unterminated string at offset %d" % pos)
        if text[end] == '"':
            return "".join(pieces), end + 1
        escape = text[end + 1 : end + 2]
        if escape == "u":
            code = int(text[end + 2 : end + 6], 16)
            pos = end + 6
            if 0xD800 <= code < 0xDC00 and text.startswith("\\u", pos):
                low = int(text[pos + 2 : pos + 6], 16)
                if 0xDC00 <= low < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    pos += 6
            pieces.append(chr(code))
        elif escape in _ESCAPES:
            pieces.append(_ESCAPES[escape])
            pos = end + 2
        else:
            raise ValueError("bad escape at offset %d" % end)
