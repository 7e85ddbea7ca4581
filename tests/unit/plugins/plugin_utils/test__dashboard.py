# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the dashboard's pure rendering: golden frames, colours, plain lines, JSON records,
the panel cache and escaping of untrusted text.

Golden frames live in ``golden/dashboard_<case>.txt``; ``GPUFLEET_UPDATE_GOLDEN=1`` rewrites
them (review the diff before committing).
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import re
import time

import pytest
from rich.console import Console

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._dashboard import (
    FleetView,
    HostView,
    PanelCache,
    _format_age,
    generation_total,
    host_state,
    json_record,
    plain_line,
    render_dashboard,
)
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Band, Thresholds

GOLDEN = pathlib.Path(__file__).parent / "golden"
NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
INTERVAL = 5.0


@pytest.fixture(autouse=True)
def utc_clock(monkeypatch):
    """The header shows local time: pin the zone so goldens do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# --- node_info documents (schema v1) ----------------------------------------------------------


def device(index=0, name="NVIDIA A100 80GB PCIe", temperature=41, utilization=87, power=212.44,
           power_limit=300.0, used=74213, total=81920):
    return {
        "index": index, "uuid": f"GPU-5d1d0c1e-{index:04d}", "name": name, "temperature_c": temperature,
        "utilization_pct": utilization, "power_w": power, "power_limit_w": power_limit,
        "memory_used_mib": used, "memory_total_mib": total,
    }


def engine(index=0, prompt=1234.5, generation=87.6, running=3, waiting=1, kv=42.3, hits=18.0, age=5.1,
           swapped=None, preemptions=None, aggregated=None):
    return {
        "engine": index, "aggregated_engines": aggregated, "prompt_tps": prompt, "generation_tps": generation,
        "running": running, "waiting": waiting, "swapped": swapped, "preemptions": preemptions,
        "kv_cache_pct": kv, "kv_cache_device": "GPU", "cpu_kv_cache_pct": None, "prefix_cache_hit_pct": hits,
        "logged_at": "2027-01-15T07:59:55.000000Z", "age_s": age,
    }


def container(status="running", health="none", restarts=0, oom_killed=False, exit_code=0, error_kind=None,
              message=None, name="vllm_qwen36_27b"):
    return {
        "name": name, "status": status, "error_kind": error_kind, "health": health,
        "restart_count": restarts, "started_at": "2027-01-15T07:30:00.000000Z", "oom_killed": oom_killed,
        "exit_code": exit_code, "image": "vllm/vllm-openai:latest", "message": message,
    }


def document(phase="serving", devices=None, engines=None, container_section=None, loading=None, errors=(),
             log_status="ok", message=None, gpu_status="ok", gpu_message=None):
    return {
        "schema_version": 1,
        "collected_at": "2027-01-15T07:59:58.123456Z",
        "gpu": {"status": gpu_status, "message": gpu_message,
                "devices": [device()] if devices is None else devices},
        "container": container() if container_section is None else container_section,
        "vllm": {
            "phase": phase, "log_status": log_status, "message": message,
            "engines": [engine()] if engines is None else engines,
            "loading": loading, "errors": list(errors), "ready": phase in ("serving", "idle"),
            "last_log_at": "2027-01-15T07:59:55.000000Z", "log_lines_read": 300,
        },
    }


H100 = "NVIDIA H100 80GB HBM3"
OOM = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB. GPU 0 has a total "
       "capacity of 79.19 GiB of which 187.75 MiB is free. Including non-PyTorch memory, this process "
       "has 78.99 GiB memory in use.")
SSH_TIMEOUT = ("Failed to connect to the host via ssh: ssh: connect to host hyperstack2.wg1 port 22: "
               "Connection timed out")
TQDM = "Loading safetensors checkpoint shards:  50% Completed | 23/46 [00:23<00:21,  1.09it/s]"


def host(name="hyperstack-vm1", number=1, doc="serving", age=2.0, updates=3, history=(), **fields):
    """A HostView as the callback keeps it; DOC is a document, or a phase name for a default one."""
    view = HostView(
        name=name, address=f"hyperstack{number}.wg1", model="Qwen/Qwen3.6-27B-FP8",
        document=document(phase=doc) if isinstance(doc, str) else doc,
        updated_at=None if age is None else NOW - age, updates=updates, **fields,
    )
    view.generation_history.extend(history)
    return view


def serving():
    return host(history=(12.0, 40.5, None, 66.0, 87.6, 80.1, 87.6))


def tensor_parallel():
    devices = [device(0, H100, 52, 96, 402.7, 700.0, 76329, 81559), device(1, H100, 49, 94, 388.1, 700.0, 76329, 81559)]
    return host("hyperstack-vm2", 2, document(devices=devices, engines=[engine(prompt=6154.6, generation=27.4,
                                                                               running=1, waiting=0, kv=0.7, hits=0.0)]))


def data_parallel():
    devices = [device(0, H100, 61, 88, 512.0, 700.0, 74000, 81559), device(1, H100, 58, 85, 498.5, 700.0, 73900, 81559)]
    engines = [engine(0, 2210.4, 143.2, 7, 2, 63.5, 41.2), engine(1, 1980.0, 138.9, 6, 0, 96.1, None)]
    return host("hyperstack-vm3", 3, document(devices=devices, engines=engines), history=(250.0, 282.1))


def idle():
    return host("hyperstack-vm4", 4, document(phase="idle", devices=[device(utilization=0, power=61.0)],
                                              engines=[engine(prompt=0.0, generation=0.0, running=0, waiting=0,
                                                              kv=0.0, hits=35.0, age=538.0)]), age=2.0)


def loading():
    doc = document(phase="loading", devices=[device(utilization=0, power=88.0, used=20480)], engines=[],
                   container_section=container(health="starting"),
                   loading={"stage": "loading_weights", "progress_pct": 50, "message": TQDM})
    return host("hyperstack-vm5", 5, doc)


def failed_oom():
    doc = document(phase="failed", devices=[device(utilization=0, power=70.0, used=80100)], engines=[],
                   container_section=container(status="restarting", restarts=4, exit_code=1),
                   errors=[{"kind": "cuda_oom", "message": OOM, "logged_at": "2027-01-15T07:59:40.000000Z"},
                           {"kind": "engine_init_failed", "message": "RuntimeError: Engine core initialization failed.",
                            "logged_at": "2027-01-15T07:59:41.000000Z"}])
    return host("hyperstack-vm6", 6, doc)


def unreachable():
    return host("hyperstack-vm2", 2, "serving", age=3.0, unreachable=SSH_TIMEOUT)


def not_provisioned():
    return HostView(name="hyperstack-vm7", address="hyperstack7.wg1", model="zai-org/GLM-4.6V-FP8",
                    provisioned=False, not_provisioned_reason="not yet provisioned — run create --vm 7")


def stale():
    return host("hyperstack-vm8", 8, "serving", age=20.0)


def pending():
    return host("hyperstack-vm9", 9, None, age=None, updates=0)


def task_failure():
    return host("hyperstack-vm10", 10, "serving", age=4.0,
                failure="Unsupported parameters for (gpufleet.vllm.node_info) module: tail_lines")


def broken_node():
    """Everything that can go wrong on a VM at once, with checks computed."""
    doc = document(phase="unknown", devices=[], gpu_status="driver_error",
                   gpu_message="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
                   container_section=container(status="error", error_kind="daemon_down", health=None, restarts=None,
                                               oom_killed=None, exit_code=None, name="vllm_qwen36_27b",
                                               message="Cannot connect to the Docker daemon at "
                                                       "unix:///var/run/docker.sock."),
                   engines=[], log_status="not_read", message="container state unknown: docker daemon is down")
    checks = [{"name": "reachable", "status": "ok", "message": "answered in 0.4s"},
              {"name": "gpu_driver", "status": "fail", "message": "nvidia-smi: driver_error"},
              {"name": "container_running", "status": "fail", "message": "docker daemon is down"},
              {"name": "temperature", "status": "warn", "message": "no reading"}]
    return host("hyperstack-vm11", 11, doc, checks=checks)


def oom_killed_container():
    doc = document(phase="stopped", engines=[], devices=[device(utilization=0, power=55.0, used=0)],
                   container_section=container(status="exited", restarts=2, oom_killed=True, exit_code=137))
    return host("hyperstack-vm12", 12, doc)


def aggregated_v0():
    engines = [engine(None, 310.2, 95.4, 4, 0, 88.8, None, swapped=2, preemptions=5, aggregated=4)]
    return host("hyperstack-vm13", 13, document(engines=engines))


def all_none():
    """Every leaf of the document None: each value shows n/a."""
    doc = {
        "schema_version": None, "collected_at": None,
        "gpu": {"status": None, "message": None, "devices": [{key: None for key in device()}]},
        "container": {key: None for key in container()},
        "vllm": {"phase": None, "log_status": None, "message": None, "engines": [{key: None for key in engine()}],
                 "loading": None, "errors": [{"kind": None, "message": None, "logged_at": None}], "ready": None,
                 "last_log_at": None, "log_lines_read": None},
    }
    return HostView(name="hyperstack-vm14", document=doc, updated_at=NOW - 1, updates=1)


def wrong_shapes():
    """Sections missing or of the wrong type: never a crash."""
    doc = {"gpu": None, "container": "running", "vllm": {"phase": "serving", "engines": [None, "x", {"running": "3"}]}}
    return HostView(name="hyperstack-vm15", document=doc, updated_at=NOW - 1, updates=1)


def fleet(*hosts, warnings=(), thresholds=None):
    return FleetView(hosts=list(hosts), interval_s=INTERVAL, started_at=NOW - 600.0, warnings=list(warnings),
                     thresholds=thresholds or Thresholds())


# --- rendering helpers ---------------------------------------------------------------------


def frame(view: FleetView, width: int, now: float = NOW, cache: PanelCache | None = None) -> str:
    console = Console(width=width, force_terminal=False, color_system=None, record=True, _environ={},
                      file=io.StringIO())
    console.print(render_dashboard(view, now, width, cache))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def coloured(view: FleetView, width: int = 100) -> str:
    console = Console(width=width, force_terminal=True, color_system="truecolor", _environ={}, file=io.StringIO())
    console.print(render_dashboard(view, NOW, width))
    return console.file.getvalue()


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / f"dashboard_{name}.txt"
    if os.environ.get("GPUFLEET_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with GPUFLEET_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


# --- golden frames ---------------------------------------------------------------------------

FORKS = "forks (5) < hosts (12): hosts beyond the forks wait; run with -f 12"
GOLDEN_CASES = [
    ("serving_1gpu", lambda: fleet(serving()), 80),
    ("tensor_parallel_2gpu", lambda: fleet(tensor_parallel()), 80),
    ("data_parallel", lambda: fleet(data_parallel()), 80),
    ("idle", lambda: fleet(idle()), 80),
    ("loading", lambda: fleet(loading()), 80),
    ("failed_cuda_oom", lambda: fleet(failed_oom()), 80),
    ("unreachable", lambda: fleet(unreachable()), 80),
    ("not_provisioned", lambda: fleet(not_provisioned()), 80),
    ("stale", lambda: fleet(stale()), 80),
    ("pending", lambda: fleet(pending()), 80),
    ("task_failure", lambda: fleet(task_failure()), 80),
    ("broken_node_checks", lambda: fleet(broken_node()), 80),
    ("stopped_oom_killed", lambda: fleet(oom_killed_container()), 80),
    ("aggregated_v0", lambda: fleet(aggregated_v0()), 80),
    ("missing_values", lambda: fleet(all_none(), wrong_shapes()), 130),
    ("narrow", lambda: fleet(serving()), 59),
    ("three_hosts_200", lambda: fleet(serving(), unreachable(), not_provisioned(), warnings=[FORKS]), 200),
    ("three_hosts_130", lambda: fleet(serving(), unreachable(), not_provisioned(), warnings=[FORKS]), 130),
]


@pytest.mark.parametrize(("name", "build", "width"), GOLDEN_CASES, ids=[case[0] for case in GOLDEN_CASES])
def test_frame_matches_golden(name, build, width):
    assert_golden(name, frame(build(), width))


@pytest.mark.parametrize("width", [60, 80, 121, 130, 182, 200])
def test_no_line_is_wider_than_the_terminal(width):
    text = frame(fleet(serving(), data_parallel(), failed_oom(), broken_node(), not_provisioned()), width)
    assert max(len(line) for line in text.splitlines()) <= width


@pytest.mark.parametrize(("width", "columns"), [(60, 1), (120, 1), (121, 2), (181, 2), (182, 3), (250, 4)])
def test_panels_per_row_follow_the_width(width, columns):
    text = frame(fleet(*(host(f"vm{index}", index) for index in range(5))), width)
    assert next(line for line in text.splitlines() if "╭" in line).count("╭") == columns


def test_narrow_terminal_is_one_clear_line():
    assert frame(fleet(serving()), 59) == "terminal too narrow (59 cols): need at least 60\n"


# --- colours ---------------------------------------------------------------------------------


def bar_colours(view: FleetView) -> set[str]:
    console = Console(width=80, force_terminal=True, color_system="truecolor", _environ={})
    segments = console.render(render_dashboard(view, NOW, 80))
    return {segment.style.color.name for segment in segments if "█" in segment.text}


def utilisation_only(pct):
    doc = document(devices=[device(utilization=pct, used=None)], engines=[])
    return host(doc=doc)


@pytest.mark.parametrize(("pct", "colour"), [(10, "green"), (49, "green"), (50, "yellow"), (79, "yellow"),
                                             (80, "red"), (100, "red")])
def test_utilisation_bar_colour_follows_the_band(pct, colour):
    assert bar_colours(fleet(utilisation_only(pct))) == {colour}


@pytest.mark.parametrize(("pct", "colour"), [(29, "green"), (30, "yellow"), (59, "yellow"), (60, "red")])
def test_bar_colour_comes_from_the_thresholds(pct, colour):
    thresholds = Thresholds(utilization_pct=Band(30.0, 60.0))
    assert bar_colours(fleet(utilisation_only(pct), thresholds=thresholds)) == {colour}


@pytest.mark.parametrize(("pct", "cells"), [(0, 0), (4, 0), (5, 1), (49, 5), (50, 5), (79, 8), (80, 8), (100, 10),
                                            (130, 10)])
def test_bar_cells_round_half_up(pct, cells):
    text = frame(fleet(utilisation_only(pct)), 80)
    util_line = next(line for line in text.splitlines() if "│ util" in line)
    assert util_line.count("█") == cells


@pytest.mark.parametrize(("build", "colour"), [
    (serving, "green"), (idle, "yellow"), (loading, "yellow"), (stale, "yellow"), (failed_oom, "red"),
    (unreachable, "red"), (broken_node, "red"), (task_failure, "red"), (oom_killed_container, "red"),
])
def test_border_colour_is_the_worst_state(build, colour):
    console = Console(width=80, force_terminal=True, color_system="truecolor", _environ={})
    top_left = next(segment for segment in console.render(render_dashboard(fleet(build()), NOW, 80))
                    if segment.text.startswith("╭"))
    assert top_left.style.color.name == colour


def test_not_provisioned_border_is_dim():
    console = Console(width=80, force_terminal=True, color_system="truecolor", _environ={})
    top_left = next(segment for segment in console.render(render_dashboard(fleet(not_provisioned()), NOW, 80))
                    if segment.text.startswith("╭"))
    assert top_left.style.dim and top_left.style.color is None


# --- plain lines -------------------------------------------------------------------------------

PLAIN_CASES = [
    (serving, "hyperstack-vm1 serving gpu=1/1 util=87% vram=91% temp=41C gen=87.6tok/s prompt=1234.5tok/s "
              "run=3 wait=1 kv=42.3% age=2s"),
    (tensor_parallel, "hyperstack-vm2 serving gpu=2/2 util=95% vram=94% temp=52C gen=27.4tok/s "
                      "prompt=6154.6tok/s run=1 wait=0 kv=0.7% age=2s"),
    (data_parallel, "hyperstack-vm3 serving gpu=2/2 util=86% vram=91% temp=61C gen=282.1tok/s "
                    "prompt=4190.4tok/s run=13 wait=2 kv=96.1% age=2s"),
    (idle, "hyperstack-vm4 idle stats_age=540s gpu=1/1 util=0% vram=91% temp=41C gen=0.0tok/s prompt=0.0tok/s "
           "run=0 wait=0 kv=0.0% age=2s"),
    (loading, "hyperstack-vm5 loading stage=loading_weights progress=50% gpu=1/1 util=0% vram=25% temp=41C age=2s"),
    # Values are cut at 200 characters.
    (failed_oom, 'hyperstack-vm6 failed error=cuda_oom msg="' + OOM[:199] + '…" '
                 "gpu=1/1 util=0% vram=98% temp=41C age=2s"),
    (unreachable, 'hyperstack-vm2 unreachable error="' + SSH_TIMEOUT + '" age=3s'),
    (not_provisioned, 'hyperstack-vm7 not_provisioned reason="not yet provisioned — run create --vm 7"'),
    (pending, "hyperstack-vm9 pending"),
    (task_failure, 'hyperstack-vm10 failed failure="Unsupported parameters for (gpufleet.vllm.node_info) module: '
                   'tail_lines" age=4s'),
    (broken_node, 'hyperstack-vm11 unknown msg="container state unknown: docker daemon is down" gpu=driver_error '
                  "util=n/a vram=n/a temp=n/a checks=2fail,1warn age=2s"),
    (oom_killed_container, "hyperstack-vm12 stopped container=exited gpu=1/1 util=0% vram=0% temp=41C age=2s"),
    (aggregated_v0, "hyperstack-vm13 serving gpu=1/1 util=87% vram=91% temp=41C gen=95.4tok/s prompt=310.2tok/s "
                    "run=4 wait=0 swapped=2 kv=88.8% age=2s"),
    (all_none, "hyperstack-vm14 unknown msg=n/a gpu=n/a util=n/a vram=n/a temp=n/a gen=n/a prompt=n/a run=n/a "
               "wait=n/a kv=n/a age=1s"),
    (wrong_shapes, "hyperstack-vm15 serving gpu=n/a util=n/a vram=n/a temp=n/a gen=n/a prompt=n/a run=n/a "
                   "wait=n/a kv=n/a age=1s"),
]


@pytest.mark.parametrize(("build", "expected"), PLAIN_CASES, ids=[case[0].__name__ for case in PLAIN_CASES])
def test_plain_line(build, expected):
    assert plain_line(build(), NOW) == expected


def test_plain_line_quotes_values_with_blanks_quotes_and_backslashes():
    view = host(unreachable='exit 255: say "hi" C:\\path')
    assert plain_line(view, NOW) == 'hyperstack-vm1 unreachable error="exit 255: say \\"hi\\" C:\\\\path" age=2s'


# --- JSON records ----------------------------------------------------------------------------

JSON_CASES = [
    (serving, "serving", 2.0), (idle, "idle", 2.0), (loading, "loading", 2.0), (failed_oom, "failed", 2.0),
    (oom_killed_container, "stopped", 2.0), (broken_node, "unknown", 2.0), (unreachable, "unreachable", 3.0),
    (not_provisioned, "not_provisioned", None), (pending, "pending", None), (task_failure, "failed", 4.0),
    (all_none, "unknown", 1.0),
]


@pytest.mark.parametrize(("build", "state", "age"), JSON_CASES, ids=[case[0].__name__ for case in JSON_CASES])
def test_json_record_state_and_age(build, state, age):
    view = build()
    record = json_record(view, NOW)
    assert (record["state"], record["age_s"]) == (state, age)
    assert json.loads(json.dumps(record)) == record


def test_json_record_fields():
    view = broken_node()
    assert json_record(view, NOW) == {
        "schema_version": 1, "host": "hyperstack-vm11", "time": "2027-01-15T08:00:00.000000Z", "state": "unknown",
        "age_s": 2.0, "document": view.document, "unreachable": None, "failure": None, "checks": view.checks,
    }


def test_json_record_unreachable_keeps_the_last_document():
    view = unreachable()
    record = json_record(view, NOW)
    assert (record["unreachable"], record["document"]) == (SSH_TIMEOUT, view.document)


# --- derived values --------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "coarse", "expected"), [
    (0, False, "0s"), (-3, False, "0s"), (59.9, False, "59s"), (60, False, "1m00s"), (185, False, "3m05s"),
    (3600, False, "1h00m"), (7620, False, "2h07m"), (86400 * 3 + 3600 * 4, False, "3d04h"),
    (59, True, "<1m"), (540, True, "9m"), (7620, True, "2h07m"),
])
def test_format_age(seconds, coarse, expected):
    assert _format_age(seconds, coarse) == expected


@pytest.mark.parametrize(("doc", "expected"), [
    (document(engines=[engine(generation=87.6)]), 87.6),
    (document(engines=[engine(0, generation=143.2), engine(1, generation=138.9)]), 282.1),
    (document(engines=[engine(generation=None)]), None),
    (document(engines=[]), None),
    (document(phase="idle"), 0.0),
    (document(phase="loading", engines=[]), None),
    (document(phase="failed"), None),
    (None, None),
])
def test_generation_total(doc, expected):
    assert generation_total(doc) == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(("build", "expected"), [
    (serving, "serving"), (not_provisioned, "not_provisioned"), (unreachable, "unreachable"),
    (task_failure, "failed"), (pending, "pending"), (all_none, "unknown"), (wrong_shapes, "serving"),
])
def test_host_state(build, expected):
    assert host_state(build()) == expected


@pytest.mark.parametrize(("hosts", "expected"), [
    ((serving(), idle()), "2/2 VMs healthy  prompt 1234.5 tok/s  gen 87.6 tok/s  3 running  1 waiting"),
    ((idle(),), "1/1 VMs healthy  prompt 0.0 tok/s  gen 0.0 tok/s  0 running  0 waiting"),
    ((serving(), data_parallel(), stale()),
     "2/3 VMs healthy (1 stale)  prompt 5424.9 tok/s  gen 369.7 tok/s  16 running  3 waiting"),
    ((loading(), unreachable(), not_provisioned(), pending()),
     "0/4 VMs healthy (1 unreachable, 1 loading, 1 pending, 1 not provisioned)  no engine stats"),
    ((broken_node(), host("ok-with-checks", checks=[{"name": "reachable", "status": "ok", "message": "ok"}])),
     "1/2 VMs healthy (1 unknown)  prompt 1234.5 tok/s  gen 87.6 tok/s  3 running  1 waiting"),
    ((host("failing", checks=[{"name": "kv", "status": "fail", "message": "KV cache 97%"}]),),
     "0/1 VMs healthy (1 failing checks)  prompt 1234.5 tok/s  gen 87.6 tok/s  3 running  1 waiting"),
    ((host(doc=document(gpu_status="gpu_lost", devices=[])),),
     "0/1 VMs healthy (1 degraded)  prompt 1234.5 tok/s  gen 87.6 tok/s  3 running  1 waiting"),
])
def test_fleet_summary_line(hosts, expected):
    assert frame(fleet(*hosts), 200).splitlines()[1] == expected


# --- panel cache -----------------------------------------------------------------------------


def test_unchanged_panels_are_not_rendered_again_but_their_age_moves():
    view = fleet(serving(), tensor_parallel(), idle())
    cache = PanelCache()
    first = frame(view, 200, NOW, cache)
    assert (cache.hits, cache.misses) == (0, 3)
    second = frame(view, 200, NOW + 1, cache)
    assert (cache.hits, cache.misses) == (3, 3)
    assert "2s ago" in first and "3s ago" in second
    assert second == frame(view, 200, NOW + 1)  # the same as a cold render


def test_a_bumped_host_is_rendered_again():
    view = fleet(serving(), tensor_parallel())
    cache = PanelCache()
    frame(view, 200, NOW, cache)
    view.hosts[0].document["vllm"]["engines"][0]["running"] = 9
    view.hosts[0].updates += 1
    text = frame(view, 200, NOW, cache)
    assert (cache.hits, cache.misses) == (1, 3)
    assert "9 running" in text


@pytest.mark.parametrize(("later", "misses"), [(12.0, 0), (14.0, 1)])
def test_turning_stale_renders_the_panel_again(later, misses):
    view = fleet(serving())  # 2 s old; stale after 3 intervals of 5 s
    cache = PanelCache()
    frame(view, 80, NOW, cache)
    text = frame(view, 80, NOW + later, cache)
    assert cache.misses - 1 == misses
    assert ("STALE" in text) == bool(misses)


def test_changed_checks_render_the_panel_again():
    view = fleet(serving())
    cache = PanelCache()
    frame(view, 80, NOW, cache)
    view.hosts[0].checks = [{"name": "kv_cache", "status": "warn", "message": "KV cache 85%"}]
    text = frame(view, 80, NOW, cache)
    assert cache.misses == 2
    assert "kv_cache: KV cache 85%" in text


def test_vanished_hosts_are_evicted():
    view = fleet(serving(), tensor_parallel(), idle())
    cache = PanelCache()
    frame(view, 200, NOW, cache)
    assert len(cache) == 3
    view.hosts.pop(1)
    frame(view, 200, NOW, cache)
    assert len(cache) == 2


# --- untrusted text ------------------------------------------------------------------------

EVIL = ("[red]FAKE[/red] [link=http://x]y[/link] \x1b[2J\x1b[H\x1b]0;pwned\x07 a\rb\x9b31m\x85"
        "\n╭─ fake-host ─╮ \u202eevil\u202c\u2066x\u2069")
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def evil_fleet(text: str) -> FleetView:
    """TEXT in every string that comes from a VM, an inventory or a file."""
    serving_host = host(
        name="vm-" + text, doc=document(
            devices=[device(name=text)], container_section=container(name=text, status="exited", message=text),
        ), checks=[{"name": text, "status": "fail", "message": text}],
    )
    serving_host.address = text
    serving_host.model = "org/" + text
    failed = host("vm-failed", doc=document(phase="failed", engines=[], errors=[{"kind": text, "message": text}],
                                            message=text, log_status=text))
    loading_host = host("vm-loading", doc=document(phase="loading", engines=[],
                                                   loading={"stage": text, "progress_pct": 5, "message": text}))
    unknown = host("vm-unknown", doc=document(phase="unknown", gpu_status=text, gpu_message=text, message=text))
    return fleet(
        serving_host, failed, loading_host, unknown, host("vm-unreachable", unreachable=text),
        host("vm-failure", failure=text),
        HostView(name="vm-np", provisioned=False, not_provisioned_reason=text),
        warnings=[text],
    )


@pytest.mark.parametrize("width", [80, 200])
def test_untrusted_text_is_shown_literally_and_cannot_escape(width):
    text = frame(evil_fleet(EVIL), width)
    assert FORBIDDEN.search(text) is None
    assert "pwned" not in text
    assert "[red]FAKE[/red]" in text and "[link=http://x]y[/link]" in text
    # Same frame as for the text already cleaned: nothing in it moved a line or a panel.
    assert text == frame(evil_fleet(clean_text(EVIL)), width)
    assert not any(line.lstrip().startswith("╭─ fake") for line in text.splitlines())


def test_untrusted_text_in_colour_yields_only_rich_colour_codes():
    output = coloured(evil_fleet(EVIL), 200)
    escapes = re.findall(r"\x1b[^a-zA-Z]*[a-zA-Z]?", output)
    assert escapes and all(re.fullmatch(r"\x1b\[[0-9;]*m", escape) for escape in escapes)
    assert FORBIDDEN.sub("", output.replace("\x1b", "")) == output.replace("\x1b", "")
    assert "\x1b]8;" not in output  # no hyperlink from [link=...]


def test_untrusted_text_in_plain_lines_and_json():
    for view in evil_fleet(EVIL).hosts:
        line = plain_line(view, NOW)
        assert FORBIDDEN.search(line) is None and "\n" not in line
        assert "\x1b" not in json.dumps(json_record(view, NOW))
