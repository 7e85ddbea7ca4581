# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every setting of playbooks/watch.yml, with its one default, validated once, before any host
is polled (by the gpufleet.vllm.watch_settings action, the watch's first task).

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12). A bad value raises SettingsError naming the variable, the
value and what is accepted.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import DEFAULT_WAIT_TIMEOUT_S, SORTS, VIEWS
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._health import HealthError, validate_settings
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds

# Play variables, then environment variables, for the two choices of the view.
ENVIRONMENT = {"watch_view": "GPUFLEET_WATCH_VIEW", "watch_sort": "GPUFLEET_WATCH_SORT"}
_DURATION_RE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|s|m|h)?\s*\Z")
_UNIT_S = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_TEXT = "seconds such as 5 or 2.5, or with a unit: 500ms, 5s, 2m, 1h"


class SettingsError(ValueError):
    """A watch setting that cannot be used."""


@dataclasses.dataclass(frozen=True)
class WatchSettings:
    interval_s: float = 5.0
    min_interval_s: float = 1.0
    cycles: int = 0
    view: str = "auto"
    sort: str = "severity"
    docker_path: str | None = None
    nvidia_smi_path: str | None = None
    log_lines: int = 300
    command_timeout_s: float = 10.0
    wait_timeout_s: float = DEFAULT_WAIT_TIMEOUT_S
    thresholds: Thresholds = dataclasses.field(default_factory=Thresholds)
    custom_checks: tuple = ()

    @property
    def refresh_interval_s(self) -> float:
        """The interval the hosts are polled at: watch_interval, floored by watch_min_interval."""
        return max(self.interval_s, self.min_interval_s)

    def as_result(self) -> dict:
        """What the watch's tasks and the dashboard read (plain types, for a task result)."""
        return {
            "refresh_interval_s": self.refresh_interval_s,
            "interval_s": self.interval_s,
            "min_interval_s": self.min_interval_s,
            "cycles": self.cycles,
            # The retry loop's count: one attempt per cycle; 0 cycles runs until Ctrl-C.
            "retries": self.cycles - 1 if self.cycles > 0 else 1_000_000_000,
            "view": self.view,
            "sort": self.sort,
            "log_lines": self.log_lines,
            "docker_path": self.docker_path,
            "nvidia_smi_path": self.nvidia_smi_path,
            "command_timeout_s": self.command_timeout_s,
            "wait_timeout_s": self.wait_timeout_s,
            "thresholds": dataclasses.asdict(self.thresholds),
            "custom_checks": list(self.custom_checks),
        }


def _refuse(name: str, value: object, accepted: str) -> SettingsError:
    return SettingsError(f"{name}={value!r} is not accepted: expected {accepted}")


def parse_duration(name: str, value: object, *, allow_zero: bool = False) -> float:
    """Seconds from a number or a text such as ``5``, ``2.5``, ``500ms``, ``5s``, ``2m``, ``1h``."""
    accepted = ("0 or more: " if allow_zero else "more than 0: ") + _DURATION_TEXT
    if isinstance(value, bool):
        raise _refuse(name, value, accepted)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION_RE.match(str(value))
        if match is None:
            raise _refuse(name, value, accepted)
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise _refuse(name, value, accepted)
    return seconds


def parse_count(name: str, value: object, *, minimum: int, maximum: int | None = None) -> int:
    accepted = f"a whole number from {minimum}" + (f" to {maximum}" if maximum is not None else " up")
    if isinstance(value, bool):
        raise _refuse(name, value, accepted)
    if isinstance(value, int):
        count = value
    elif isinstance(value, str) and value.strip().isdigit():
        count = int(value.strip())
    else:
        raise _refuse(name, value, accepted)
    if count < minimum or (maximum is not None and count > maximum):
        raise _refuse(name, value, accepted)
    return count


def parse_path(name: str, value: object) -> str:
    """A path or command name on the VM: text of one line, at most 4096 characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > 4096 or any(c in value for c in "\0\n\r"):
        raise _refuse(name, value, "a path on the VM such as /usr/bin/docker (one line of text)")
    return value


def _choice(name: str, value: object, choices: tuple) -> str:
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise _refuse(name, value, "one of " + ", ".join(choices))
    return value.strip().lower()


def watch_settings(variables: Mapping, environ: Mapping | None = None) -> WatchSettings:
    """The settings from VARIABLES (play and extra variables by name; absent or None: the
    default) and ENVIRONMENT variables for the view's choices. Raises SettingsError."""
    environ = environ or {}

    def given(name: str) -> object:
        value = variables.get(name)
        if value is None and name in ENVIRONMENT:
            value = environ.get(ENVIRONMENT[name]) or None
        return value

    defaults = WatchSettings()
    values: dict = {}
    if given("watch_interval") is not None:
        values["interval_s"] = parse_duration("watch_interval", given("watch_interval"))
    if given("watch_min_interval") is not None:
        values["min_interval_s"] = parse_duration("watch_min_interval", given("watch_min_interval"), allow_zero=True)
    if given("watch_cycles") is not None:
        values["cycles"] = parse_count("watch_cycles", given("watch_cycles"), minimum=0)
    for name, field, choices in (("watch_view", "view", VIEWS), ("watch_sort", "sort", SORTS)):
        if given(name) is not None:
            source = name if variables.get(name) is not None else f"{name} (environment variable {ENVIRONMENT[name]})"
            values[field] = _choice(source, given(name), choices)
    for name, field in (("gpufleet_docker_path", "docker_path"), ("gpufleet_nvidia_smi_path", "nvidia_smi_path")):
        if given(name) is not None:
            values[field] = parse_path(name, given(name))
    if given("gpufleet_log_lines") is not None:
        values["log_lines"] = parse_count("gpufleet_log_lines", given("gpufleet_log_lines"), minimum=1, maximum=100000)
    if given("gpufleet_command_timeout") is not None:
        values["command_timeout_s"] = parse_duration("gpufleet_command_timeout", given("gpufleet_command_timeout"))
    if given("gpufleet_wait_timeout") is not None:
        values["wait_timeout_s"] = parse_duration("gpufleet_wait_timeout", given("gpufleet_wait_timeout"))
    thresholds, custom = given("gpufleet_thresholds"), given("gpufleet_custom_checks")
    if thresholds is not None and not isinstance(thresholds, Mapping):
        raise _refuse("gpufleet_thresholds", thresholds, "a mapping such as {kv_cache_pct: {warn: 70, fail: 90}}")
    try:
        # The health gate's own check of both, so the watch accepts exactly what the gate does.
        values["thresholds"], _compiled = validate_settings(dict(thresholds or {}), custom)
    except HealthError as exc:
        variable = "gpufleet_custom_checks" if "custom check" in str(exc) else "gpufleet_thresholds"
        raise SettingsError(f"{variable}: {exc}") from exc
    if custom is not None:
        values["custom_checks"] = tuple(custom)
    return dataclasses.replace(defaults, **values)
