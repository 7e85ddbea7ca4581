# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every colour of the terminal dashboard, by name, in one rich ``Theme``.

PRIVATE to the collection: not a public API, may change without notice.
A VM's colour is ``health.<status>`` of its health checks' overall status; a bar's colour is
``level.<level>`` of its value against the same thresholds the health gate uses.
"""

from __future__ import annotations

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Level

try:
    from rich.style import Style
    from rich.theme import Theme
except ImportError as exc:  # rich is a controller requirement; the callback reports its absence
    RICH_IMPORT_ERROR: ImportError | None = exc
    Theme = Style = None
else:
    RICH_IMPORT_ERROR = None

_COLOURS = {
    "health.ok": "green",
    "health.warn": "yellow",
    "health.fail": "red",
    "health.none": "dim",
    "level.ok": "green",
    "level.warn": "yellow",
    "level.fail": "red",
    "header.title": "bold cyan",
    "header.dim": "dim",
    "header.warning": "yellow",
    "error": "bold red",
    "problem": "red",
    "notice": "yellow",
    "stale": "bold yellow",
    "last_seen": "dim",
    "label": "bold",
    "muted": "dim",
    "model": "cyan",
    "hit_rate": "cyan",  # the prefix cache hit rate is not a health metric (high is good)
    "sparkline": "cyan",
    "table.header": "bold dim",
    "loading": "yellow",
}
THEME = Theme(_COLOURS, inherit=False) if Theme is not None else None
_STYLES: dict = THEME.styles if THEME is not None else {}
_LEVEL_NAMES = {Level.OK: "level.ok", Level.WARN: "level.warn", Level.FAIL: "level.fail"}
NULL = Style() if Style is not None else None


def style(name: str) -> Style:
    """The theme's style NAME (a KeyError for a name not in the theme: a typo shows in tests)."""
    return _STYLES[name]


def health_style(status: str | None) -> Style:
    """The colour of a VM whose checks' overall status is STATUS (None: not judged)."""
    return _STYLES[f"health.{status}" if status in ("ok", "warn", "fail") else "health.none"]


def level_style(level: Level | None) -> Style:
    return _STYLES[_LEVEL_NAMES[level]] if level is not None else NULL
