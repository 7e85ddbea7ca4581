# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The part of Go's text/template that ``docker inspect --format`` users need, run the way the
docker CLI runs it (formats.md section 5).

Supported: text, ``{{.A.B}}``, ``{{.}}``, ``{{if P}}..{{else if P}}..{{else}}..{{end}}``,
pipelines with ``|``, string/number/bool literals, trim markers ``{{-``/``-}}`` and the
functions json, lower, upper, title, len, join, not, and, or, eq, ne. Anything else is a parse
error naming the simulator.

The docker CLI executes the template on the typed container struct first and, when that fails,
again on the raw JSON map with ``missingkey=error``; the second error is the one printed. So a
key that is absent (``State.Health`` without a HEALTHCHECK) reads as nil where the struct has a
nil pointer (``{{if .State.Health}}`` is false) but fails as ``map has no entry for key`` when
something is read through it. Error positions follow text/template: a field chain is located
at its second field, and the column is 0-based on the first line (``ErrorContext``).
"""

from __future__ import annotations

# Struct fields that are nil pointers in docker's typed response when absent from the JSON.
NIL_WHEN_ABSENT = frozenset((("State", "Health"), ("Config", "Healthcheck")))

_KEYWORDS = ("if", "else", "end")
_UNSUPPORTED_KEYWORDS = ("range", "with", "define", "template", "block", "break", "continue")
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class TemplateError(Exception):
    """Go's error text, e.g. ``template: :1: unclosed action``."""


class _Field:
    def __init__(self, names, pos):
        self.names = names
        self.pos = pos

    def __str__(self):
        return "." + ".".join(self.names) if self.names else "."


class _Literal:
    def __init__(self, value):
        self.value = value


class _Function:
    def __init__(self, name):
        self.name = name


class _Action:
    def __init__(self, pipeline):
        self.pipeline = pipeline


class _If:
    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.then = []
        self.otherwise = []


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _unsupported(text: str, pos: int, what: str) -> TemplateError:
    return TemplateError("template: :%d: %s is not supported by the fakegpu simulator"
                         % (_line_of(text, pos), what))


def _tokens(text: str, start: int, end: int):
    """Tokens of the action text[start:end] as (kind, value, pos)."""
    pos = start
    while pos < end:
        char = text[pos]
        if char in " \t\r\n":
            pos += 1
        elif char == "." or char in _IDENT_CHARS:
            begin = pos
            if char == ".":
                pos += 1
            while pos < end and text[pos] in _IDENT_CHARS:
                pos += 1
            word = text[begin:pos]
            if word == ".":
                yield ("dot", None, begin)
            elif word.startswith("."):
                yield ("field", word[1:], begin)
            elif word[0].isdigit():
                if not word.isdigit():
                    raise _unsupported(text, begin, "the number %s" % word)
                yield ("literal", int(word), begin)
            elif word in ("true", "false"):
                yield ("literal", word == "true", begin)
            else:
                yield ("word", word, begin)
        elif char == '"':
            begin, pos, chars = pos, pos + 1, []
            while pos < end and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < end:
                    pos += 1
                    chars.append({"n": "\n", "t": "\t"}.get(text[pos], text[pos]))
                else:
                    chars.append(text[pos])
                pos += 1
            if pos >= end:
                raise TemplateError("template: :%d: unterminated quoted string"
                                    % _line_of(text, begin))
            pos += 1
            yield ("literal", "".join(chars), begin)
        elif char == "|":
            yield ("pipe", None, pos)
            pos += 1
        else:
            raise _unsupported(text, pos, "%r in an action" % char)


def _pipeline(text: str, tokens) -> list:
    """A list of commands; a command is a list of operands (_Field, _Literal, _Function)."""
    commands, command = [], []
    index = 0
    while index < len(tokens):
        kind, value, pos = tokens[index]
        if kind == "pipe":
            if not command:
                raise TemplateError("template: :%d: missing command" % _line_of(text, pos))
            commands.append(command)
            command = []
        elif kind == "dot":
            command.append(_Field([], pos))
        elif kind == "field":
            names = [value]
            # A chain is positioned at its second field (text/template parse.operand).
            chain_pos = pos
            while index + 1 < len(tokens) and tokens[index + 1][0] == "field" \
                    and tokens[index + 1][2] == tokens[index][2] + len(tokens[index][1]) + 1:
                index += 1
                if len(names) == 1:
                    chain_pos = tokens[index][2]
                names.append(tokens[index][1])
            command.append(_Field(names, chain_pos))
        elif kind == "literal":
            command.append(_Literal(value))
        elif value in _FUNCTIONS:
            command.append(_Function(value))
        elif value in _UNSUPPORTED_KEYWORDS:
            raise _unsupported(text, pos, "{{%s}}" % value)
        else:
            raise TemplateError('template: :%d: function "%s" not defined'
                                % (_line_of(text, pos), value))
        index += 1
    if not command:
        pos = tokens[-1][2] if tokens else 0
        raise TemplateError("template: :%d: missing value for command" % _line_of(text, pos))
    commands.append(command)
    return commands


def parse(text: str) -> list:
    """The template as a list of nodes (str, _Action, _If)."""
    root = []
    stack = [root]
    open_ifs = []
    pos = 0
    trim_next = False
    while pos < len(text):
        begin = text.find("{{", pos)
        chunk = text[pos:] if begin < 0 else text[pos:begin]
        if trim_next:
            chunk = chunk.lstrip()
        if begin >= 0 and text.startswith("{{- ", begin):
            chunk = chunk.rstrip()
        if chunk:
            stack[-1].append(chunk)
        if begin < 0:
            break
        inner = begin + 2
        if text.startswith("- ", inner):
            inner += 2
        close = _find_close(text, inner)
        if close < 0:
            raise TemplateError("template: :%d: unclosed action" % _line_of(text, begin))
        inner_end = close
        trim_next = text[close - 2:close] == " -" and close - 2 >= inner
        if trim_next:
            inner_end = close - 2
        pos = close + 2
        tokens = list(_tokens(text, inner, inner_end))
        if not tokens:
            raise TemplateError("template: :%d: missing value for command" % _line_of(text, begin))
        kind, word, _position = tokens[0]
        if kind == "word" and word == "if":
            node = _If(_pipeline(text, tokens[1:]))
            stack[-1].append(node)
            open_ifs.append([node])
            stack.append(node.then)
        elif kind == "word" and word == "else":
            if not open_ifs or stack[-1] is open_ifs[-1][-1].otherwise:
                raise TemplateError("template: :%d: unexpected {{else}}" % _line_of(text, begin))
            stack.pop()
            current = open_ifs[-1][-1]
            if len(tokens) > 1 and tokens[1][:2] == ("word", "if"):
                nested = _If(_pipeline(text, tokens[2:]))
                current.otherwise.append(nested)
                open_ifs[-1].append(nested)
                stack.append(nested.then)
            else:
                stack.append(current.otherwise)
        elif kind == "word" and word == "end":
            if not open_ifs:
                raise TemplateError("template: :%d: unexpected {{end}}" % _line_of(text, begin))
            stack.pop()
            open_ifs.pop()
        else:
            stack[-1].append(_Action(_pipeline(text, tokens)))
    if open_ifs:
        raise TemplateError("template: :%d: unexpected EOF" % _line_of(text, len(text)))
    return root


def _find_close(text: str, pos: int) -> int:
    """The ``}}`` that ends an action, skipping quoted strings."""
    quoted = False
    while pos < len(text) - 1:
        char = text[pos]
        if quoted and char == "\\":
            pos += 2
            continue
        if char == '"':
            quoted = not quoted
        elif not quoted and text.startswith("}}", pos):
            return pos
        pos += 1
    return -1


# ---------------------------------------------------------------------------------------------
# Execution


def _location(text: str, pos: int) -> str:
    """text/template ErrorContext: ``line:col``, the column 0-based on the first line."""
    newline = text.rfind("\n", 0, pos)
    column = pos if newline < 0 else pos - newline - 1
    return "%d:%d" % (_line_of(text, pos), column)


def _field_value(text: str, field: _Field, dot):
    value = dot
    path = ()
    for name in field.names:
        path += (name,)
        if isinstance(value, dict):
            if name in value:
                value = value[name]
                continue
            if path in NIL_WHEN_ABSENT and len(path) == len(field.names):
                return None
            reason = 'map has no entry for key "%s"' % name
        elif value is None:
            reason = "nil pointer evaluating %s" % ".".join(path)
        else:
            reason = "can't evaluate field %s in type %s" % (name, _go_type(value))
        raise TemplateError('template: :%s: executing "" at <%s>: %s'
                            % (_location(text, field.pos), field, reason))
    return value


def _go_type(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, list):
        return "[]interface {}"
    return "string"


def truth(value) -> bool:
    """Go template truth: false, 0, nil, and empty strings, maps and slices are false."""
    return bool(value) if value is not None else False


def go_print(value) -> str:
    """fmt's %v for the JSON-shaped values an inspect document holds."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[%s]" % " ".join("%s:%s" % (key, go_print(value[key])) for key in sorted(value))
    if isinstance(value, list):
        return "[%s]" % " ".join(go_print(item) for item in value)
    return str(value)


def _json(value) -> str:
    """docker's ``json`` function: encoding/json, HTML escaping off, no trailing newline."""
    import json  # only this function needs it; keeps the executables' start-up short

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _and(*values):
    for value in values:
        if not truth(value):
            return value
    return values[-1]


def _or(*values):
    for value in values:
        if truth(value):
            return value
    return values[-1]


def _title(value) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in go_print(value).split(" "))


_FUNCTIONS = {
    "json": _json,
    "lower": lambda value: go_print(value).lower(),
    "upper": lambda value: go_print(value).upper(),
    "title": _title,
    "len": len,
    "join": lambda items, separator: separator.join(go_print(item) for item in items),
    "not": lambda value: not truth(value),
    "and": _and,
    "or": _or,
    "eq": lambda first, *others: any(first == other for other in others),
    "ne": lambda first, second: first != second,
}


def _run_pipeline(text: str, pipeline, dot):
    """Each command's result becomes the last argument of the next (Go's ``|``)."""
    result = None
    for number, command in enumerate(pipeline):
        head, operands = command[0], command[1:]
        args = [_operand(text, operand, dot) for operand in operands]
        if number:
            args.append(result)
        if isinstance(head, _Function):
            try:
                result = _FUNCTIONS[head.name](*args)
            except TypeError:
                raise TemplateError('template: :1: wrong number of args for %s' % head.name) \
                    from None
        elif args:
            raise TemplateError("template: :1: can't give argument to non-function %s"
                                % _describe(head))
        else:
            result = _operand(text, head, dot)
    return result


def _describe(operand) -> str:
    return str(operand) if isinstance(operand, _Field) else repr(operand.value)


def _operand(text: str, operand, dot):
    if isinstance(operand, _Field):
        return _field_value(text, operand, dot)
    if isinstance(operand, _Literal):
        return operand.value
    raise TemplateError("template: :1: function %s needs arguments" % operand.name)


def _render(text: str, nodes, dot, out: list) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Action):
            out.append(go_print(_run_pipeline(text, node.pipeline, dot)))
        elif truth(_run_pipeline(text, node.pipeline, dot)):
            _render(text, node.then, dot, out)
        else:
            _render(text, node.otherwise, dot, out)


def execute(text: str, nodes, data) -> str:
    """Render parsed NODES (from ``parse(text)``) over DATA; TemplateError on failure."""
    out = []
    _render(text, nodes, data, out)
    return "".join(out)
