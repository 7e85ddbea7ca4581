# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Frame cost of the fleet view (plugins/plugin_utils/_layout.py and the modules it draws with).

Run from the repository root: ``.venv/bin/python benchmarks/render.py [--repeat 5]``.
For each case (VMs with 8 GPUs each, serving, their results through the health evaluation as
in production; terminal size) it prints the median milliseconds per frame printed in truecolor
to an in-memory terminal, in CPU time of the rendering thread (a shared machine's load changes
wall time, not this):

- cold: empty cache, every panel and row rendered;
- warm: one VM has a new result since the previous frame and the clock moved 0.25 s (the live
  display's least redraw interval).

Each figure is also given as a ratio to a baseline measured in the same run: printing a plain
frame of the same size (every cell a character, one style per line) through the same console.
The ratio says how much the fleet view costs above merely writing the screen, and changes
little when the machine is busy; the milliseconds are what an operator gets on this machine.
``--repeat`` runs everything several times and reports the median of the medians.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
try:
    importlib.import_module("ansible_collections.gpufleet.vllm")
except ImportError:
    # Outside pytest the checkout is importable through the link scripts/bootstrap makes.
    sys.path.insert(0, str(ROOT / ".venv" / "collections"))
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.segment import Segment  # noqa: E402
from rich.text import Text  # noqa: E402

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._layout import FrameCache, render_frame  # noqa: E402
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._theme import THEME  # noqa: E402
from tests.unit.plugins.plugin_utils.fleet_samples import NOW, device, document, eight_gpus, engine, fleet  # noqa: E402

# (VMs, columns, rows, target warm ms, target cold ms); None: no target.
CASES = [
    (6, 240, 70, None, None),
    (30, 240, 70, 10.0, None),
    (100, 240, 70, None, None),
    (300, 240, 70, 20.0, 150.0),
    (300, 80, 24, None, None),
]


def fleet_of(count: int):
    return fleet(*(eight_gpus(f"hyperstack-vm{index + 1}", index + 1, seed=index) for index in range(count)))


def console_of(width: int, height: int) -> Console:
    return Console(
        width=width,
        height=height,
        force_terminal=True,
        color_system="truecolor",
        _environ={},
        theme=THEME,
        file=io.StringIO(),
    )


def timed_print(console: Console, renderable) -> float:
    """Milliseconds of this thread's CPU time to print RENDERABLE: unlike wall time, it does not
    grow with the other processes competing for the machine's CPUs."""
    console.file = io.StringIO()
    start = time.thread_time()
    console.print(renderable)
    return (time.thread_time() - start) * 1000.0


def baseline_ms(width: int, height: int, runs: int) -> float:
    """Printing a plain WIDTH x HEIGHT screen: the floor under any frame of that size."""
    console = console_of(width, height)
    screen = [Text("x" * width, style="green") for _row in range(height - 1)]

    class Plain:
        def __rich_console__(self, console, options):
            for line in screen:
                yield from line.render(console)
                yield Segment.line()

    return statistics.median(timed_print(console, Plain()) for _run in range(runs))


def measure(count: int, width: int, height: int, cold_runs: int, warm_runs: int) -> tuple[float, float]:
    console = console_of(width, height)
    view = fleet_of(count)
    cold = statistics.median(
        timed_print(console, render_frame(view, NOW, width, height, FrameCache())) for _run in range(cold_runs)
    )
    cache = FrameCache()
    timed_print(console, render_frame(view, NOW, width, height, cache))
    warm = []
    for run in range(warm_runs):
        changed = view.hosts[run % count]
        devices = [
            device(gpu, "NVIDIA H100 80GB HBM3", 50 + (run + gpu) % 30, (run * 3 + gpu) % 101) for gpu in range(8)
        ]
        changed.record(
            NOW + run * 0.25,
            document=document(devices=devices, engines=[engine(running=run % 9)]),
            checks=changed.checks,
        )
        # Frames come at most every redraw_interval (0.25 s) apart.
        warm.append(timed_print(console, render_frame(view, NOW + (run + 1) * 0.25, width, height, cache)))
    return cold, statistics.median(warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--warm-runs", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1, help="run everything N times, report medians")
    args = parser.parse_args()
    os.environ.setdefault("TZ", "UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"8 GPUs per VM, median ms per frame, baseline = printing a plain screen of the same size; "
        f"load average {load:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{'VMs':>4} {'terminal':>8}  {'cold ms':>8} {'warm ms':>8}  {'base ms':>7}  {'cold/base':>9} "
        f"{'warm/base':>9}  target"
    )
    results: dict = {}
    for _repeat in range(args.repeat):
        for count, width, height, _warm_target, _cold_target in CASES:
            base = baseline_ms(width, height, args.warm_runs)
            cold, warm = measure(count, width, height, args.cold_runs, args.warm_runs)
            results.setdefault((count, width, height), []).append((cold, warm, base))
    for count, width, height, warm_target, cold_target in CASES:
        samples = results[(count, width, height)]
        cold = statistics.median(sample[0] for sample in samples)
        warm = statistics.median(sample[1] for sample in samples)
        base = statistics.median(sample[2] for sample in samples)
        targets = []
        if warm_target is not None:
            targets.append(f"warm <= {warm_target:g} ms: {'met' if warm <= warm_target else 'MISSED'}")
        if cold_target is not None:
            targets.append(f"cold <= {cold_target:g} ms: {'met' if cold <= cold_target else 'MISSED'}")
        print(
            f"{count:>4} {f'{width}x{height}':>8}  {cold:>8.1f} {warm:>8.1f}  {base:>7.2f}  {cold / base:>9.1f} "
            f"{warm / base:>9.1f}  {'; '.join(targets)}"
        )


if __name__ == "__main__":
    main()
