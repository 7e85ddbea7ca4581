# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thresholds shared by the dashboard's colours and the health gate.

PRIVATE to the collection: not a public API, may change without notice.
One set of numbers decides both what is drawn yellow/red and what warns/fails the gate, so what
is red on screen is what fails CI. Controller side (Python >= 3.12).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from enum import IntEnum


class Level(IntEnum):
    """Severity of a value against its thresholds; orders as ok < warn < fail."""

    OK = 0
    WARN = 1
    FAIL = 2

    @property
    def style(self) -> str:
        return ("green", "yellow", "red")[self]


@dataclasses.dataclass(frozen=True)
class Band:
    """A value at or above ``warn`` warns, at or above ``fail`` fails (the seed: 50 / 80)."""

    warn: float
    fail: float

    def level(self, value: float | None) -> Level | None:
        if value is None:
            return None
        if value >= self.fail:
            return Level.FAIL
        if value >= self.warn:
            return Level.WARN
        return Level.OK


@dataclasses.dataclass(frozen=True)
class Thresholds:
    # Bars (utilisation, VRAM): the seed's green < 50, yellow < 80, red >= 80.
    utilization_pct: Band = Band(50.0, 80.0)
    memory_pct: Band = Band(50.0, 80.0)
    kv_cache_pct: Band = Band(80.0, 95.0)
    temperature_c: Band = Band(80.0, 90.0)
    # Docker restarts of the vLLM container (RestartCount, counted since it was created): one
    # is worth a look, three is a crash loop.
    restart_count: Band = Band(1.0, 3.0)
    # A panel not refreshed for this many refresh intervals is stale.
    stale_intervals: float = 3.0
    # Newest stats line older than this (seconds) while requests run: engine may be hung.
    stats_stale_s: float = 60.0
    # Serving latency from vLLM's /metrics, p90 over the refresh window (or since the server
    # started, for a single collection), seconds: time to first token and inter-token latency.
    ttft_p90_s: Band = Band(2.0, 5.0)
    itl_p90_s: Band = Band(0.1, 0.25)
    # Requests aborted or failed by the engine, plus HTTP 5xx answers, in percent of requests.
    request_errors_pct: Band = Band(1.0, 5.0)
    # A one-token probe slower than this (seconds) warns; an error or a timeout fails.
    probe_latency_s: float = 10.0
    # GPU memory (MiB) held by processes other than the watched container's on its GPUs: a
    # stray notebook or a zombie of a crashed run, the usual cause of a CUDA OOM at start.
    foreign_process_mib: float = 1024.0
    # Uncorrected ECC errors since the driver loaded: any one kills the CUDA context using it.
    ecc_uncorrected_errors: Band = Band(1.0, 1.0)

    @classmethod
    def from_mapping(cls, values: dict) -> Thresholds:
        """Build from a mapping such as ``{"kv_cache_pct": {"warn": 70, "fail": 90}}``; keys not
        given keep their defaults. Unknown keys, anything but a finite number (NaN and infinity
        compare false with every reading, so such a threshold would never warn nor fail), a
        negative duration and a band whose ``warn`` is above its ``fail`` raise ValueError
        naming the key."""
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise ValueError(f"thresholds must be a mapping of threshold name to value, not {type(values).__name__}")
        fields = {field.name: field for field in dataclasses.fields(cls)}
        defaults = cls()
        kwargs = {}
        for key, value in values.items():
            if key not in fields:
                raise ValueError(f"unknown threshold {key!r}; known: {', '.join(sorted(fields))}")
            default = getattr(defaults, key)
            if isinstance(default, Band):
                if not isinstance(value, dict) or set(value) - {"warn", "fail"}:
                    raise ValueError(f"threshold {key!r} must be a mapping with 'warn' and/or 'fail'")
                value = Band(
                    _number(f"{key}.warn", value.get("warn", default.warn)),
                    _number(f"{key}.fail", value.get("fail", default.fail)),
                )
                if value.warn > value.fail:
                    raise ValueError(f"threshold {key!r}: warn ({value.warn:g}) is above fail ({value.fail:g})")
            else:
                value = _number(key, value)
                if value < 0:
                    raise ValueError(f"threshold {key!r} must be 0 or more, not {value:g}")
            kwargs[key] = value
        return cls(**kwargs)


def _number(key: str, value: object) -> float:
    # bool is an int subclass: "true" as a threshold is a mistake, not 1.
    if isinstance(value, bool):
        raise ValueError(f"threshold {key!r} must be a number, not {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError as exc:  # an integer beyond float's range
        raise ValueError(f"threshold {key!r} must be a finite number, not {_shown(value)}") from exc
    except (TypeError, ValueError) as exc:
        raise ValueError(f"threshold {key!r} must be a number, not {_shown(value)}") from exc
    if not math.isfinite(number):
        raise ValueError(f"threshold {key!r} must be a finite number, not {_shown(value)}")
    return number


def _shown(value: object) -> str:
    # A value is shown in an error message: bounded, an integer of thousands of digits included
    # (repr() of one over Python's digit limit raises ValueError itself).
    try:
        text = repr(value)
    except ValueError:
        text = "an integer of thousands of digits"
    return text if len(text) <= 60 else text[:57] + "..."
