# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU cards and the values ``nvidia-smi --query-gpu`` reports for them (docs/dev/formats.md 4.2, 4.5).

A row is a dict from canonical field name to value: int, float (printed with 2 decimals) or
str; a str in brackets such as ``[N/A]`` is what nvidia-smi prints for a value NVML cannot
read, and gets no unit.
"""

from __future__ import annotations

NOT_AVAILABLE = "[N/A]"
DRIVER_VERSION = "570.133.20"  # hypr's image: "Ubuntu Server 24.04 LTS R570 CUDA 12.8"


class Card:
    """The fixed properties of one GPU model."""

    def __init__(self, name, memory_total, memory_reserved, power_limit, sm_max, mem_clock, vbios):
        self.name = name
        self.memory_total = memory_total
        self.memory_reserved = memory_reserved
        self.power_limit = power_limit
        self.sm_max = sm_max
        self.mem_clock = mem_clock
        self.vbios = vbios


# Board limits per docs/dev/formats.md 4.5: A100 80GB PCIe 300 W, H100 SXM (HBM3) 700 W.
A100 = Card("NVIDIA A100 80GB PCIe", 81920, 571, 300.0, 1410, 1512, "92.00.90.00.04")
H100 = Card("NVIDIA H100 80GB HBM3", 81559, 521, 700.0, 1980, 2619, "96.00.99.00.01")

_UUIDS = (
    "GPU-5d1d7a3c-2f4e-8b61-9a0c-3e7f1b2d4c60",
    "GPU-8e2a4f61-0b3d-47c9-a215-6f9e0d3b7a18",
)


class Load:
    """What changes with the work a GPU does."""

    def __init__(self, temp, util, power, mem_used, mem_temp=None, mem_util=None, sm=None):
        self.temp = temp
        self.util = util
        self.power = power
        self.mem_used = mem_used
        self.mem_temp = temp + 7 if mem_temp is None else mem_temp
        self.mem_util = util // 2 if mem_util is None else mem_util
        self.sm = sm


def row(card: Card, index: int, load: Load) -> dict:
    """Every field the simulator answers, for GPU number INDEX of this card model."""
    busy = load.util > 0
    sm = load.sm if load.sm is not None else (card.sm_max if busy else 210)
    return {
        "index": index,
        "uuid": _UUIDS[index],
        "name": card.name,
        "serial": "13242%08d" % (19370 + index),
        "pci.bus_id": "00000000:%02X:00.0" % (index + 1),
        "driver_version": DRIVER_VERSION,
        "vbios_version": card.vbios,
        "count": None,  # filled in by the caller, it depends on the whole host
        "pstate": "P0",
        # Data-centre boards are cooled by the chassis: no fan of their own (docs/dev/formats.md 4.5).
        "fan.speed": NOT_AVAILABLE,
        "temperature.gpu": load.temp,
        "temperature.memory": load.mem_temp,
        "utilization.gpu": load.util,
        "utilization.memory": load.mem_util,
        "power.draw": load.power,
        "power.draw.average": load.power,
        "power.draw.instant": round(load.power * 1.031, 2),
        "power.limit": card.power_limit,
        "enforced.power.limit": card.power_limit,
        "power.default_limit": card.power_limit,
        "power.max_limit": card.power_limit,
        "memory.total": card.memory_total,
        "memory.reserved": card.memory_reserved,
        "memory.used": load.mem_used,
        "memory.free": card.memory_total - card.memory_reserved - load.mem_used,
        "clocks.sm": sm,
        "clocks.gr": sm,
        "clocks.mem": card.mem_clock,
        "clocks.max.sm": card.sm_max,
        "clocks.max.mem": card.mem_clock,
        "ecc.errors.uncorrected.volatile.total": 0,
        "ecc.mode.current": "Enabled",
        "mig.mode.current": "Disabled",
        "persistence_mode": "Enabled",
        "compute_mode": "Default",
        "pcie.link.gen.gpucurrent": 4 if card is A100 else 5,
        "pcie.link.width.current": 16,
        "clocks_event_reasons.active": "0x0000000000000000" if busy else "0x0000000000000001",
        # Ampere and newer remap rows instead of retiring pages.
        "retired_pages.pending": NOT_AVAILABLE,
        "remapped_rows.pending": "No",
    }


def rows(cards, loads) -> list:
    host_rows = [row(card, index, load) for index, (card, load) in enumerate(zip(cards, loads))]
    for each in host_rows:
        each["count"] = len(host_rows)
    return host_rows
