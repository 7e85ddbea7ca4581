# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An Ollama VM on the dashboard: its GPU panel, "Ollama: not watched by this collection" once,
a healthy colour (the health evaluation has no container or engine check to fail)."""

from __future__ import annotations

import io

from rich.console import Console

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import Severity
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._layout import render_frame
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._theme import THEME
from tests.unit.plugins.plugin_utils.fleet_samples import NOW, document, fleet, host

MESSAGE = "Ollama: not watched by this collection"


def ollama_document():
    """node_info's document with service=ollama (module_utils/_collect.py not_watched_documents)."""
    doc = document(phase="not_watched", engines=[], log_status="not_read", message=MESSAGE)
    doc["container"] = {
        "name": None,
        "status": "not_watched",
        "error_kind": None,
        "health": None,
        "restart_count": None,
        "started_at": None,
        "oom_killed": None,
        "exit_code": None,
        "image": None,
        "message": MESSAGE,
    }
    doc["vllm"].update(ready=False, last_log_at=None, log_lines_read=0)
    return doc


def test_an_ollama_vm_shows_its_gpus_and_why_its_service_is_not_watched():
    ollama = host("ollama-vm", 3, ollama_document(), model=None)
    view = fleet(ollama, view="panels")
    assert view.severity(ollama, NOW) == Severity.HEALTHY
    assert [check["name"] for check in ollama.checks] == ["reachable", "gpu_driver", "gpu_count", "gpu_temperature"]
    console = Console(
        width=100,
        height=60,
        force_terminal=False,
        color_system=None,
        record=True,
        _environ={},
        file=io.StringIO(),
        theme=THEME,
    )
    console.print(render_frame(view, NOW, 100, 60))
    text = console.export_text()
    assert "NVIDIA A100 80GB PCIe" in text
    assert " ".join(text.split()).count(MESSAGE) == 1
    assert "not_watched" in text and "not_read" not in text
