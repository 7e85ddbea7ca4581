# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the simulator's tests (helpers in simhost.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The tests import simhost, and the simulator's pure modules (fakegpu.*) in-process.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "simulator"))

from simhost import Host, fakegpu  # noqa: E402  (needs the path above)


@pytest.fixture
def make_host(tmp_path):
    """make_host(scenario, *options) -> Host, made by ``fakegpu make-host`` at NOW."""
    counter = []

    def make(scenario: str, *options: str) -> Host:
        counter.append(scenario)
        path = tmp_path / ("host%d" % len(counter))
        made = fakegpu("make-host", str(path), scenario, *options)
        assert made.returncode == 0, made.stderr
        return Host(path)

    return make
