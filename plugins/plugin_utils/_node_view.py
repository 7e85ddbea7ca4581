# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The view model of one VM: a typed, read-only object built once from a node_info document
(schema version 1, ``docs/schema-v1.md``) when its result arrives, and read by every output
(panels, table rows, plain lines, the summary) instead of the raw dict.

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12), no third-party import. The document is untrusted and may be
partial: a missing key, ``None``, a value of the wrong type or a non-finite number becomes
``None`` here (shown as ``n/a``), and every string is cleaned (escapes, control and bidi
characters removed) and bounded once, here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text

NA = "n/a"
PHASES = ("serving", "idle", "loading", "failed", "stopped", "unknown", "not_watched")
TEXT_LIMIT = 300


def section(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def items(value: object) -> list[Mapping]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def number(value: object) -> float | None:
    """A finite number as float; anything else (bool, str, NaN, infinity) None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def text(value: object, limit: int = TEXT_LIMIT) -> str | None:
    if value is None:
        return None
    return clean_text(str(value), limit) or None


def total(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) if present else None


def highest(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def format_number(value: float | None, pattern: str = "{:.1f}") -> str:
    return NA if value is None else pattern.format(value)


def format_age(seconds: float, coarse: bool = False) -> str:
    """``42s``, ``3m05s``, ``2h07m``, ``3d04h``; COARSE drops seconds (``<1m``, ``9m``) so a
    text that sits inside a cached panel changes at most once a minute."""
    whole = int(max(seconds, 0.0))
    if whole < 60:
        return "<1m" if coarse else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m" if coarse else f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def short_model(model: str | None) -> str | None:
    cleaned = text(model, 120)
    return cleaned.rsplit("/", 1)[-1] if cleaned else None


@dataclasses.dataclass(frozen=True)
class GpuView:
    index: float | None
    name: str | None
    temperature_c: float | None
    utilization_pct: float | None
    power_w: float | None
    power_limit_w: float | None
    memory_used_mib: float | None
    memory_total_mib: float | None

    @property
    def vram_pct(self) -> float | None:
        if self.memory_used_mib is None or not self.memory_total_mib:
            return None
        return 100.0 * self.memory_used_mib / self.memory_total_mib

    @classmethod
    def from_mapping(cls, device: Mapping) -> GpuView:
        return cls(
            index=number(device.get("index")),
            name=text(device.get("name"), 80),
            temperature_c=number(device.get("temperature_c")),
            utilization_pct=number(device.get("utilization_pct")),
            power_w=number(device.get("power_w")),
            power_limit_w=number(device.get("power_limit_w")),
            memory_used_mib=number(device.get("memory_used_mib")),
            memory_total_mib=number(device.get("memory_total_mib")),
        )


@dataclasses.dataclass(frozen=True)
class EngineView:
    engine: float | None
    aggregated_engines: float | None
    prompt_tps: float | None
    generation_tps: float | None
    running: float | None
    waiting: float | None
    swapped: float | None
    preemptions: float | None
    kv_cache_pct: float | None
    prefix_cache_hit_pct: float | None
    age_s: float | None

    @classmethod
    def from_mapping(cls, engine: Mapping) -> EngineView:
        return cls(**{field.name: number(engine.get(field.name)) for field in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class ErrorView:
    kind: str | None
    message: str | None


@dataclasses.dataclass(frozen=True)
class NodeView:
    """One node_info document, typed. ``phase`` is one of PHASES (``unknown`` for anything else)."""

    gpu_status: str | None
    gpu_message: str | None
    gpus: tuple[GpuView, ...]
    container_present: bool
    container_status: str | None
    container_error_kind: str | None
    container_health: str | None
    container_name: str | None
    container_message: str | None
    restart_count: float | None
    exit_code: float | None
    oom_killed: bool
    phase: str
    log_status: str | None
    message: str | None
    engines: tuple[EngineView, ...]
    loading_stage: str | None
    loading_pct: float | None
    loading_message: str | None
    errors: tuple[ErrorView, ...]
    # Where ``engines`` come from: "metrics" (vLLM's /metrics answered) or "log" (the stats
    # lines of docker logs); None without engine figures.
    figures_source: str | None = None
    # Age of the log's newest stats line, whichever source ``engines`` come from.
    newest_stats_age_s: float | None = None

    @classmethod
    def from_document(cls, document: Mapping | None, metrics_engines: list | None = None) -> NodeView:
        """METRICS_ENGINES, the per-engine figures of the document's /metrics
        (``_serving.engine_figures``), replace the log's when /metrics answered: this is the one
        place that chooses the source of throughput, requests and KV cache. Phase, loading
        progress and fatal errors stay with the logs."""
        document = section(document)
        gpu, container, vllm = (section(document.get(key)) for key in ("gpu", "container", "vllm"))
        loading = section(vllm.get("loading"))
        phase = vllm.get("phase")
        log_engines = tuple(EngineView.from_mapping(engine) for engine in items(vllm.get("engines")))
        if metrics_engines:
            engines, source = tuple(EngineView.from_mapping(engine) for engine in items(metrics_engines)), "metrics"
        else:
            engines, source = log_engines, "log" if log_engines else None
        return cls(
            gpu_status=text(gpu.get("status"), 40),
            gpu_message=text(gpu.get("message")),
            gpus=tuple(GpuView.from_mapping(device) for device in items(gpu.get("devices"))),
            container_present=bool(container),
            container_status=text(container.get("status"), 20),
            container_error_kind=text(container.get("error_kind"), 30),
            container_health=text(container.get("health"), 20),
            container_name=text(container.get("name"), 80),
            container_message=text(container.get("message")),
            restart_count=number(container.get("restart_count")),
            exit_code=number(container.get("exit_code")),
            oom_killed=container.get("oom_killed") is True,
            phase=phase if phase in PHASES else "unknown",
            log_status=text(vllm.get("log_status"), 30),
            message=text(vllm.get("message")),
            engines=engines,
            loading_stage=text(loading.get("stage"), 30),
            loading_pct=number(loading.get("progress_pct")),
            loading_message=text(loading.get("message")),
            errors=tuple(
                ErrorView(text(error.get("kind"), 40), text(error.get("message")))
                for error in items(vllm.get("errors"))
            ),
            figures_source=source,
            newest_stats_age_s=min((engine.age_s for engine in log_engines if engine.age_s is not None), default=None),
        )

    # -- figures over GPUs and engines -------------------------------------------------------

    @property
    def gpus_reporting(self) -> int:
        return sum(1 for gpu in self.gpus if gpu.utilization_pct is not None)

    @property
    def mean_utilization_pct(self) -> float | None:
        present = [gpu.utilization_pct for gpu in self.gpus if gpu.utilization_pct is not None]
        return sum(present) / len(present) if present else None

    @property
    def vram_pct(self) -> float | None:
        pairs = [
            (gpu.memory_used_mib, gpu.memory_total_mib)
            for gpu in self.gpus
            if gpu.memory_used_mib is not None and gpu.memory_total_mib
        ]
        if not pairs:
            return None
        return 100.0 * sum(used for used, _total in pairs) / sum(size for _used, size in pairs)

    @property
    def hottest_c(self) -> float | None:
        return highest(gpu.temperature_c for gpu in self.gpus)

    @property
    def power_w(self) -> float | None:
        return total(gpu.power_w for gpu in self.gpus)

    def engine_total(self, key: str) -> float | None:
        return total(getattr(engine, key) for engine in self.engines)

    @property
    def kv_cache_pct(self) -> float | None:
        return highest(engine.kv_cache_pct for engine in self.engines)

    def engines_current(self, stats_stale_s: float) -> bool:
        """Whether the engine figures describe the present: the container runs, the engine
        serves and its newest stats line is within the freshness window. An idle engine's
        log figures are its last line, logged before vLLM went quiet: history, not the present;
        figures from /metrics were read with the document, idle or not."""
        if self.container_status != "running" or not self.engines:
            return False
        if self.figures_source == "metrics":
            return self.phase in ("serving", "idle")
        if self.phase != "serving":
            return False
        age = self.newest_stats_age_s
        return age is None or age <= stats_stale_s

    def generation_total(self) -> float | None:
        """Total generation tok/s for the sparkline: the sum over engines while serving, 0.0
        while idle (or the /metrics rate when there is one), None otherwise."""
        if self.phase == "idle":
            measured = self.engine_total("generation_tps") if self.figures_source == "metrics" else None
            return measured if measured is not None else 0.0
        if self.phase != "serving":
            return None
        return self.engine_total("generation_tps")
