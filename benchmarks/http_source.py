# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost of node_info's HTTP source on the VM (plugins/module_utils/_vllm_http.py).

Run from the repository root: ``.venv/bin/python benchmarks/http_source.py [--repeat 50]``. Prints, in
CPU time of this process (a shared machine's load changes wall time, not this), the median of
REPEAT runs of:

- parse: the Prometheus text parser on a 2,000-line /metrics body (target < 10 ms);
- summary: parser plus the vLLM series read from it, on the same body;
- refresh: one whole HTTP read as node_info does it every refresh (/health, /metrics, /version,
  /v1/models) against the simulator's vLLM server on loopback, serving a vLLM 0.17 body with two
  data parallel engines (target <= 30 ms of VM CPU per refresh); the server runs in another
  process, so its CPU is not counted;
- refresh + probe: the same with the one-token completion (health.yml).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
try:
    importlib.import_module("ansible_collections.gpufleet.vllm")
except ImportError:
    # Outside pytest the checkout is importable through the link scripts/bootstrap makes.
    sys.path.insert(0, str(ROOT / ".venv" / "collections"))

from ansible_collections.gpufleet.vllm.plugins.module_utils import _prometheus  # noqa: E402
from ansible_collections.gpufleet.vllm.plugins.module_utils._vllm_http import collect_http, metrics_summary  # noqa: E402

sys.path.insert(0, str(ROOT / "simulator"))
from fakegpu import vllm_http as simulated  # noqa: E402


def body_of(lines: int) -> str:
    """A /metrics body of about LINES lines: the simulator's 0.17 DP=2 body, engines repeated."""
    text = simulated.metrics_text(
        dict(simulated.DEFAULTS, version="0.17-dp2", started_epoch=time.time() - 100), time.time()
    )
    base = [line for line in text.splitlines() if line and not line.startswith("#")]
    out = []
    engine = 0
    while len(out) < lines:
        out += [
            line.replace('engine="0"', 'engine="%d"' % engine).replace('engine="1"', 'engine="%d"' % (engine + 1))
            for line in base
        ]
        engine += 2
    return "\n".join(out[:lines]) + "\n"


def cpu_ms(function, repeat: int) -> float:
    samples = []
    for _attempt in range(repeat):
        started = time.process_time()
        function()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    body = body_of(2000)
    print("body: %d lines, %d KiB" % (body.count("\n"), len(body) // 1024))
    print("parse 2,000 lines:   %6.2f ms" % cpu_ms(lambda: _prometheus.parse(body), args.repeat))
    print("parse + summary:     %6.2f ms" % cpu_ms(lambda: metrics_summary(_prometheus.parse(body)), args.repeat))
    with tempfile.TemporaryDirectory() as directory:
        simulated.configure(
            directory, version="0.17-dp2", mode="busy", probe_latency_s=0.0, started_epoch=time.time() - 100
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "fakegpu.vllm_http", directory],
            env=dict(os.environ, PYTHONPATH=str(ROOT / "simulator")),
        )
        try:
            port_file = pathlib.Path(directory, "http.port")
            while not port_file.exists():
                time.sleep(0.05)
            port = int(port_file.read_text())
            collect_http("127.0.0.1", port, 5)  # warm up: imports, first connection
            print("refresh (4 GETs):    %6.2f ms" % cpu_ms(lambda: collect_http("127.0.0.1", port, 5), args.repeat))
            print(
                "refresh + probe:     %6.2f ms"
                % cpu_ms(lambda: collect_http("127.0.0.1", port, 5, probe=True), args.repeat)
            )
        finally:
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
