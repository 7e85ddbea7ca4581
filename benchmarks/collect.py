# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost of one collection: parsing a 300-line docker logs tail, the collector in-process, and
the real module through Ansible, each against the simulator, with the simulator's own cost as
the baseline of the same run.

    .venv/bin/python benchmarks/collect.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".venv" / "collections"))

# pylint: disable=wrong-import-position
from ansible_collections.gpufleet.vllm.plugins.module_utils._collect import collect  # noqa: E402
from ansible_collections.gpufleet.vllm.plugins.module_utils._nvidia_smi import DEFAULT_QUERY_FIELDS  # noqa: E402
from ansible_collections.gpufleet.vllm.plugins.module_utils._timestamps import utc_now  # noqa: E402
from ansible_collections.gpufleet.vllm.plugins.module_utils._vllm_log import parse_log_text  # noqa: E402


def median_ms(samples) -> float:
    return statistics.median(samples) * 1000


def timed(function, runs: int) -> list:
    samples = []
    for _run in range(runs):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        home = Path(work) / "host"
        subprocess.run(
            [str(ROOT / "simulator" / "bin" / "fakegpu"), "make-host", str(home), "vllm-0.11-ansi"],
            check=True,
            capture_output=True,
            env=dict(os.environ, PYTHON=sys.executable),
        )
        container = json.loads((home / "state.json").read_text())["container"]
        docker, smi = str(home / "bin" / "docker"), str(home / "bin" / "nvidia-smi")
        log = subprocess.run(
            [docker, "logs", "--timestamps", "--tail", "300", container], check=True, capture_output=True, text=True
        )
        text = log.stdout + log.stderr
        now = utc_now()
        parse_s = min(timeit.repeat(lambda: parse_log_text(text, None, now), number=50, repeat=5)) / 50

        simulator = {
            "nvidia-smi": median_ms(
                timed(
                    lambda: subprocess.run(
                        [smi, "--query-gpu=" + ",".join(DEFAULT_QUERY_FIELDS), "--format=csv,noheader,nounits"],
                        check=True,
                        capture_output=True,
                    ),
                    args.runs,
                )
            ),
            "docker inspect": median_ms(
                timed(
                    lambda: subprocess.run(
                        [docker, "container", "inspect", "--format", "{{.State.Status}}", container],
                        check=True,
                        capture_output=True,
                    ),
                    args.runs,
                )
            ),
            "docker logs --tail 300": median_ms(
                timed(
                    lambda: subprocess.run(
                        [docker, "logs", "--timestamps", "--tail", "300", container], check=True, capture_output=True
                    ),
                    args.runs,
                )
            ),
        }
        collector = median_ms(
            timed(lambda: collect(container, docker, smi, 300, 10.0, list(DEFAULT_QUERY_FIELDS), 30.0), args.runs)
        )
        venv_bin = ROOT / ".venv" / "bin"
        module_args = json.dumps({"container": container, "docker_path": docker, "nvidia_smi_path": smi})
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
        adhoc = median_ms(
            timed(
                lambda: subprocess.run(
                    [str(venv_bin / "ansible"), "localhost", "-m", "gpufleet.vllm.node_info", "-a", module_args],
                    check=True,
                    capture_output=True,
                    cwd=ROOT,
                    env=env,
                ),
                max(3, args.runs // 4),
            )
        )
        baseline = median_ms(
            timed(
                lambda: subprocess.run(
                    [str(venv_bin / "ansible"), "localhost", "-m", "ansible.builtin.ping"],
                    check=True,
                    capture_output=True,
                    cwd=ROOT,
                    env=env,
                ),
                max(3, args.runs // 4),
            )
        )

    lines = len(text.splitlines())
    print("%-48s %10s" % ("measure", "ms"))
    print("%-48s %10.2f" % ("parse_log_text, %d-line tail (%d KiB)" % (lines, len(text) // 1024), parse_s * 1000))
    for name, value in simulator.items():
        print("%-48s %10.1f" % ("simulator: " + name, value))
    print("%-48s %10.1f" % ("collect() in-process (3 commands concurrently)", collector))
    print("%-48s %10.1f" % ("ansible localhost -m gpufleet.vllm.node_info", adhoc))
    print("%-48s %10.1f" % ("ansible localhost -m ansible.builtin.ping", baseline))
    print("%-48s %10.2f" % ("ratio node_info / ping (ad-hoc, whole process)", adhoc / baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
