# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the fleet view's pure rendering (_layout, _panels, _fleet_table), of the fleet state
it reads (_fleet_state, _node_view) and of the plain-line and JSON outputs (_lines_output).

Every host is built as the callback builds it: its result goes through the health evaluation,
which alone decides its colour. Golden frames live in ``golden/``; ``GPUFLEET_UPDATE_GOLDEN=1``
rewrites them (review the diff before committing).
"""

from __future__ import annotations

import io
import json
import math
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest
from rich.console import Console

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._fleet_state import HostState, Severity
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._layout import FrameCache, render_frame
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._lines_output import json_line, json_record, plain_line
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._node_view import NodeView, format_age
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._theme import THEME
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Band, Thresholds
from tests.unit.plugins.plugin_utils.fleet_samples import (
    NOW,
    OOM,
    SSH_TIMEOUT,
    aggregated_v0,
    all_none,
    broken_node,
    container,
    data_parallel,
    device,
    document,
    eight_gpus,
    engine,
    failed_oom,
    fleet,
    host,
    idle,
    kv_warning,
    loading,
    mixed_fleet,
    not_provisioned,
    pending,
    serving,
    stale,
    stopped,
    task_failure,
    tensor_parallel,
    unreachable,
    wrong_shapes,
)

GOLDEN = pathlib.Path(__file__).parent / "golden"
SIZES = [(80, 24), (120, 40), (160, 50), (240, 70)]
FLEET_SIZES = [1, 6, 30, 100, 300]


@pytest.fixture(autouse=True)
def utc_clock(monkeypatch):
    """The header shows local time: pin the zone so goldens do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def frame(view, width: int, height: int = 200, now: float = NOW, cache: FrameCache | None = None) -> str:
    console = Console(
        width=width,
        height=height,
        force_terminal=False,
        color_system=None,
        record=True,
        _environ={},
        file=io.StringIO(),
        theme=THEME,
    )
    console.print(render_frame(view, now, width, height, cache))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def segments(view, width: int = 80, height: int = 200):
    console = Console(
        width=width, height=height, force_terminal=True, color_system="truecolor", _environ={}, theme=THEME
    )
    return list(console.render(render_frame(view, NOW, width, height)))


def coloured(view, width: int = 100, height: int = 200) -> str:
    console = Console(
        width=width,
        height=height,
        force_terminal=True,
        color_system="truecolor",
        _environ={},
        file=io.StringIO(),
        theme=THEME,
    )
    console.print(render_frame(view, NOW, width, height))
    return console.file.getvalue()


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("GPUFLEET_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with GPUFLEET_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


def shown_labels(text: str) -> set[str]:
    return set(re.findall(r"hyperstack-vm\d+", text))


# --- the fleet at every size: golden frames and invariants --------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("count", FLEET_SIZES)
def test_frame_fits_the_terminal_and_shows_every_problem(size, count):
    width, height = size
    view = mixed_fleet(count)
    text = frame(view, width, height)
    lines = text.splitlines()
    # One line fewer than the terminal: the cursor's line after the frame must not scroll it.
    assert len(lines) <= height - 1
    assert max(len(line) for line in lines) <= width
    problems = {host.name for host, severity in view.ordered(NOW) if severity.is_problem}
    assert problems <= shown_labels(text)
    # What is not shown is counted, and no healthier VM is shown in place of a problem.
    hidden = {host.name for host in view.hosts} - shown_labels(text)
    if hidden:
        assert re.search(rf"^\+{len(hidden)} more: ", text, re.MULTILINE), text
    ranks = {host.name: severity for host, severity in view.ordered(NOW)}
    if hidden:
        assert max(ranks[name] for name in shown_labels(text) if ranks[name].is_problem) < min(
            ranks[name] for name in hidden
        )


GOLDEN_SIZES = [(size, count) for size in SIZES for count in (6, 30)]


@pytest.mark.parametrize(("size", "count"), GOLDEN_SIZES, ids=[f"{w}x{h}_{c}vms" for (w, h), c in GOLDEN_SIZES])
def test_fleet_frame_matches_golden(size, count):
    width, height = size
    assert_golden(f"fleet_{width}x{height}_{count}vms", frame(mixed_fleet(count), width, height))


def test_three_hundred_vms_on_a_small_terminal_show_labels_worst_first():
    text = frame(mixed_fleet(300), 80, 24)
    assert text.splitlines()[3].startswith("hyperstack-vm1 ")
    assert re.search(r"^\+\d+ more: \d+ stale, 10 loading, 210 ok, 10 idle, 10 not provisioned$", text, re.MULTILINE)


@pytest.mark.parametrize(("width", "columns"), [(60, 1), (120, 1), (121, 2), (181, 2), (182, 3), (250, 4)])
def test_panels_per_row_follow_the_width_and_grow_to_fill_it(width, columns):
    text = frame(fleet(*(host(f"vm{index}", index) for index in range(5))), width)
    top = next(line for line in text.splitlines() if "╭" in line)
    assert top.count("╭") == columns
    assert len(top) >= width - columns  # panels share the columns there are


def test_panels_when_they_fit_table_when_they_do_not():
    view = fleet(serving(), tensor_parallel(), idle())
    assert "╭" in frame(view, 200, 60) and "worst check" not in frame(view, 200, 60)
    small = frame(view, 200, 12)
    assert "worst check" in small and "╭" not in small


def test_left_over_space_shows_panels_of_the_worst_vms():
    text = frame(mixed_fleet(6), 120, 40)
    table_end = text.index("\n\n", text.index("worst check"))
    panels = text[table_end:]
    first_panel = re.search(r"╭─ (hyperstack-vm\d+)", panels).group(1)
    assert first_panel == "hyperstack-vm1"  # the failing one


@pytest.mark.parametrize("view_name", ["panels", "table"])
def test_the_operator_chooses_the_view(view_name):
    view = fleet(serving(), failed_oom(), view=view_name)
    text = frame(view, 200, 60)
    assert ("╭" in text) == (view_name == "panels")
    assert ("worst check" in text) == (view_name == "table")


def test_forced_panels_that_do_not_fit_count_the_rest():
    view = mixed_fleet(30, view="panels")
    text = frame(view, 120, 40)
    assert len(text.splitlines()) <= 39
    assert re.search(r"^\+\d+ more: ", text, re.MULTILINE)
    assert "hyperstack-vm1 " in text  # worst first


def test_sort_by_name():
    view = fleet(serving(), failed_oom(), idle(), view="table", sort="name")
    rows = [line.split()[0] for line in frame(view, 160, 40).splitlines()[4:] if line.startswith("hyperstack")]
    assert rows == ["hyperstack-vm1", "hyperstack-vm4", "hyperstack-vm6"]


def test_severity_order_worst_first_then_by_name():
    view = fleet(
        serving(),
        stale(),
        loading(),
        idle(),
        unreachable(),
        kv_warning(),
        failed_oom(),
        pending(),
        not_provisioned(),
        view="table",
        started_at=NOW - 5,
    )
    rows = [line.split()[0] for line in frame(view, 160, 40).splitlines()[4:] if line.startswith("hyperstack")]
    assert rows == [
        "hyperstack-vm6",
        "hyperstack-vm2",
        "hyperstack-vm16",
        "hyperstack-vm8",
        "hyperstack-vm5",
        "hyperstack-vm9",
        "hyperstack-vm1",
        "hyperstack-vm4",
        "hyperstack-vm7",
    ]


def test_too_small_a_terminal_is_one_clear_line():
    assert frame(fleet(serving()), 39, 24) == "terminal too small: 39x24 < 40x6\n"
    assert frame(fleet(serving()), 80, 5) == "terminal too small: 80x5 < 40x6\n"


# --- one judge for colour ----------------------------------------------------------------------


def border_colour(view) -> str | None:
    top_left = next(segment for segment in segments(view, 80) if segment.text.startswith("╭"))
    return top_left.style.color.name if top_left.style.color else None


@pytest.mark.parametrize(
    ("build", "colour"),
    [
        (serving, "green"),
        (idle, "green"),
        (loading, "yellow"),
        (kv_warning, "yellow"),
        (failed_oom, "red"),
        (unreachable, "red"),
        (broken_node, "red"),
        (task_failure, "red"),
        (stopped, "red"),
        # Staleness is shown by the STALE label and dimmed figures, not a colour of its own.
        (stale, "green"),
    ],
)
def test_border_colour_is_the_health_evaluation(build, colour):
    view = fleet(build())
    assert border_colour(view) == colour
    assert {"ok": "green", "warn": "yellow", "fail": "red"}[view.hosts[0].health] == colour


def test_custom_check_turns_the_panel_red():
    checks = [{"name": "big_kv", "expression": "vllm.engines[0].kv_cache_pct < `40`", "severity": "fail"}]
    view = fleet(host(custom_checks=checks))
    assert border_colour(view) == "red"
    assert "big_kv: vllm.engines[0].kv_cache_pct" in frame(view, 80)


def test_not_provisioned_and_pending_are_dim():
    for build in (not_provisioned, pending):
        top_left = next(segment for segment in segments(fleet(build())) if segment.text.startswith("╭"))
        assert top_left.style.dim and top_left.style.color is None


def test_table_row_colour_is_the_health_evaluation():
    view = fleet(serving(), failed_oom(), loading(), view="table")
    colours = {
        segment.text.strip(): segment.style.color.name
        for segment in segments(view, 160, 40)
        if segment.text.startswith("hyperstack-vm") and segment.style and segment.style.color
    }
    assert colours == {"hyperstack-vm1": "green", "hyperstack-vm6": "red", "hyperstack-vm5": "yellow"}


def bar_colours(view) -> set[str]:
    return {segment.style.color.name for segment in segments(view) if "█" in segment.text}


@pytest.mark.parametrize(
    ("pct", "colour"), [(10, "green"), (49, "green"), (50, "yellow"), (79, "yellow"), (80, "red"), (100, "red")]
)
def test_utilisation_bar_colour_follows_the_band(pct, colour):
    assert bar_colours(fleet(host(doc=document(devices=[device(utilization=pct, used=None)], engines=[])))) == {colour}


@pytest.mark.parametrize(("pct", "cells"), [(0, 0), (4, 0), (5, 1), (49, 5), (50, 5), (79, 8), (100, 10), (130, 10)])
def test_bar_cells_round_half_up(pct, cells):
    text = frame(fleet(host(doc=document(devices=[device(utilization=pct, used=None)], engines=[]))), 80)
    assert next(line for line in text.splitlines() if "│ util" in line).count("█") == cells


# --- figures that are not current never look live ----------------------------------------------


def test_a_stopped_container_shows_no_engine_figures():
    text = frame(fleet(stopped()), 80)
    assert "4 running" not in text and "231" not in text and "decode" not in text
    assert "no current stats" in text


def test_an_idle_engine_shows_its_last_stats_age_not_its_figures():
    text = frame(fleet(idle()), 80)
    assert "idle: last stats 9m ago" in text
    assert re.search(r"\d+ running", text) is None and "decode" not in text


def test_a_stale_host_is_dimmed_and_labelled():
    text = frame(fleet(stale()), 80)
    assert "STALE" in text and "last known data:" in text and "decode" not in text


def test_summary_counts_current_engines_only():
    lines = frame(fleet(serving(), idle(), stopped(), stale()), 200, 60).splitlines()
    assert lines[1] == (
        "2/4 VMs healthy (1 failing, 1 stale)  prompt 1234.5 tok/s  gen 87.6 tok/s  3 running  1 waiting"
    )


def test_the_ssh_error_of_an_unreachable_vm_is_shown_once():
    text = frame(fleet(unreachable()), 80)
    assert text.count("ssh: connect to host") == 1
    table = frame(fleet(unreachable(), view="table"), 160)
    assert table.count("ssh: connect to host") == 1


def test_header_shows_the_interval_in_use():
    assert "refresh every 2.5s" in frame(fleet(serving(), interval=2.5), 80)
    assert "refresh interval not known yet" in frame(fleet(serving(), interval=None), 80)


# --- panels from evaluated documents: one golden per kind of VM ---------------------------------

PANEL_CASES = [
    ("serving_1gpu", serving),
    ("tensor_parallel_2gpu", tensor_parallel),
    ("data_parallel", data_parallel),
    ("idle", idle),
    ("loading", loading),
    ("failed_cuda_oom", failed_oom),
    ("unreachable", unreachable),
    ("not_provisioned", not_provisioned),
    ("stale", stale),
    ("task_failure", task_failure),
    ("broken_node", broken_node),
    ("stopped_oom_killed", stopped),
    ("aggregated_v0", aggregated_v0),
]


@pytest.mark.parametrize(("name", "build"), PANEL_CASES, ids=[case[0] for case in PANEL_CASES])
def test_panel_matches_golden(name, build):
    assert_golden(f"panel_{name}", frame(fleet(build()), 80, 60))


def test_missing_and_wrong_values_show_na():
    text = frame(fleet(all_none(), wrong_shapes()), 130, 80)
    assert "n/a" in text and "Traceback" not in text


# --- plain lines -------------------------------------------------------------------------------

PLAIN_CASES = [
    (
        serving,
        "hyperstack-vm1 serving gpu=1/1 util=87% vram=91% temp=41C gen=87.6tok/s prompt=1234.5tok/s "
        "run=3 wait=1 kv=42.3% checks=ok age=2s",
    ),
    (
        data_parallel,
        "hyperstack-vm3 serving gpu=2/2 util=86% vram=91% temp=61C gen=282.1tok/s "
        "prompt=4190.4tok/s run=13 wait=2 kv=96.1% checks=1fail age=2s",
    ),
    (idle, "hyperstack-vm4 idle stats_age=540s gpu=1/1 util=0% vram=91% temp=41C checks=ok age=2s"),
    (
        loading,
        "hyperstack-vm5 loading stage=loading_weights progress=50% gpu=1/1 util=0% vram=25% temp=41C "
        "checks=1warn age=2s",
    ),
    (
        failed_oom,
        'hyperstack-vm6 failed error=cuda_oom msg="' + OOM[:199] + '…" '
        "gpu=1/1 util=0% vram=98% temp=41C checks=3fail age=2s",
    ),
    (unreachable, 'hyperstack-vm2 unreachable error="' + SSH_TIMEOUT + '" checks=1fail age=3s'),
    (not_provisioned, 'hyperstack-vm7 not_provisioned reason="not yet provisioned — run create --vm 7"'),
    (pending, "hyperstack-vm9 pending"),
    (stopped, "hyperstack-vm12 stopped container=exited gpu=1/1 util=0% vram=0% temp=41C checks=2fail,1warn age=2s"),
    (
        aggregated_v0,
        "hyperstack-vm13 serving gpu=1/1 util=87% vram=91% temp=41C gen=95.4tok/s prompt=310.2tok/s "
        "run=4 wait=0 swapped=2 kv=88.8% checks=1warn age=2s",
    ),
    (wrong_shapes, "hyperstack-vm15 serving gpu=n/a util=n/a vram=n/a temp=n/a checks=2fail,1warn age=1s"),
]


@pytest.mark.parametrize(("build", "expected"), PLAIN_CASES, ids=[case[0].__name__ for case in PLAIN_CASES])
def test_plain_line(build, expected):
    view = fleet(build())
    assert plain_line(view, view.hosts[0], NOW) == expected


def test_plain_line_quotes_values_with_blanks_quotes_and_backslashes():
    view = fleet(host(unreachable='exit 255: say "hi" C:\\path'))
    assert plain_line(view, view.hosts[0], NOW).startswith(
        'hyperstack-vm1 unreachable error="exit 255: say \\"hi\\" C:\\\\path" '
    )


def test_lines_output_does_not_need_rich():
    code = (
        "import sys; sys.modules['rich'] = None\n"
        "from ansible_collections.gpufleet.vllm.plugins.plugin_utils import _lines_output\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=pathlib.Path(__file__).parents[4],
        env=dict(os.environ, PYTHONPATH=".venv/collections"),
    )


# --- JSON records ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "state", "health", "age"),
    [
        (serving, "serving", "ok", 2.0),
        (idle, "idle", "ok", 2.0),
        (loading, "loading", "warn", 2.0),
        (failed_oom, "failed", "fail", 2.0),
        (stopped, "stopped", "fail", 2.0),
        (unreachable, "unreachable", "fail", 3.0),
        (not_provisioned, "not_provisioned", None, None),
        (pending, "pending", None, None),
        (task_failure, "failed", "fail", 4.0),
    ],
)
def test_json_record_state_health_and_age(build, state, health, age):
    record = json_record(build(), NOW)
    assert (record["state"], record["health"], record["age_s"]) == (state, health, age)
    assert json.loads(json_line(record)) == record


def test_json_record_unreachable_keeps_the_last_document():
    view = unreachable()
    record = json_record(view, NOW)
    assert (record["unreachable"], record["document"]) == (SSH_TIMEOUT, view.document)


def test_json_lines_are_strict_json():
    doc = document(devices=[device(temperature=math.nan, utilization=math.inf)], engines=[engine(kv=-math.inf)])
    line = json_line(json_record(host(doc=doc), NOW))
    assert "NaN" not in line and "Infinity" not in line and line.endswith("\n")
    parsed = json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in a JSON line"))
    assert parsed["document"]["gpu"]["devices"][0]["temperature_c"] is None


def test_non_finite_numbers_show_as_not_available():
    node = NodeView.from_document(document(devices=[device(temperature=math.nan)]))
    assert node.gpus[0].temperature_c is None and node.hottest_c is None


# --- derived values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "coarse", "expected"),
    [
        (0, False, "0s"),
        (-3, False, "0s"),
        (59.9, False, "59s"),
        (60, False, "1m00s"),
        (185, False, "3m05s"),
        (3600, False, "1h00m"),
        (7620, False, "2h07m"),
        (86400 * 3 + 3600 * 4, False, "3d04h"),
        (59, True, "<1m"),
        (540, True, "9m"),
        (7620, True, "2h07m"),
    ],
)
def test_format_age(seconds, coarse, expected):
    assert format_age(seconds, coarse) == expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (document(engines=[engine(generation=87.6)]), 87.6),
        (document(engines=[engine(0, generation=143.2), engine(1, generation=138.9)]), 282.1),
        (document(engines=[engine(generation=None)]), None),
        (document(phase="idle"), 0.0),
        (document(phase="loading", engines=[]), None),
        (None, None),
    ],
)
def test_generation_total(doc, expected):
    total = NodeView.from_document(doc).generation_total()
    assert total == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("build", "state", "severity"),
    [
        (serving, "serving", Severity.HEALTHY),
        (idle, "idle", Severity.HEALTHY),
        (loading, "loading", Severity.LOADING),
        (kv_warning, "serving", Severity.WARNING),
        (failed_oom, "failed", Severity.FAILING),
        (unreachable, "unreachable", Severity.UNREACHABLE),
        (task_failure, "failed", Severity.FAILING),
        (stale, "serving", Severity.STALE),
        (pending, "pending", Severity.PENDING),
        (not_provisioned, "not_provisioned", Severity.NOT_PROVISIONED),
    ],
)
def test_state_and_severity(build, state, severity):
    view = fleet(build(), started_at=NOW - 5)
    assert (view.hosts[0].state, view.severity(view.hosts[0], NOW)) == (state, severity)


# --- cache -------------------------------------------------------------------------------------


def test_unchanged_vms_are_not_rendered_again_but_their_age_moves():
    view = fleet(serving(), tensor_parallel(), idle())
    cache = FrameCache()
    first = frame(view, 200, 60, NOW, cache)
    entries = dict(cache.panels)
    second = frame(view, 200, 60, NOW + 1, cache)
    assert all(cache.panels[name] is entry for name, entry in entries.items())
    assert "2s ago" in first and "3s ago" in second
    assert second == frame(view, 200, 60, NOW + 1)  # the same as a cold render


def test_a_new_result_renders_the_vm_again():
    view = fleet(serving(), tensor_parallel())
    cache = FrameCache()
    frame(view, 200, 60, NOW, cache)
    before = cache.panels["hyperstack-vm2"]
    changed = document(engines=[engine(running=9)])
    view.hosts[0].record(NOW, document=changed, checks=view.hosts[0].checks)
    text = frame(view, 200, 60, NOW, cache)
    assert "9 running" in text and cache.panels["hyperstack-vm2"] is before


def test_vanished_hosts_are_evicted():
    view = fleet(serving(), tensor_parallel(), idle())
    cache = FrameCache()
    frame(view, 200, 60, NOW, cache)
    view.hosts.pop(1)
    frame(view, 200, 60, NOW, cache)
    assert len(cache.panels) == 2


# --- untrusted text ----------------------------------------------------------------------------

EVIL = (
    "[red]FAKE[/red] [link=http://x]y[/link] \x1b[2J\x1b[H\x1b]0;pwned\x07 a\rb\x9b31m\x85"
    "\n╭─ fake-host ─╮ \u202eevil\u202c\u2066x\u2069"
)
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def evil_fleet(text: str, view: str = "auto"):
    """TEXT in every string that comes from a VM, an inventory or a file."""
    checks = [{"name": "x", "expression": "`false`", "message": text}]
    first = host(
        name="vm-" + text,
        doc=document(
            devices=[device(name=text)], container_section=container(name=text, status="exited", message=text)
        ),
        custom_checks=checks,
        model="org/" + text,
    )
    first.address = text
    return fleet(
        first,
        host(
            "vm-failed",
            doc=document(
                phase="failed", engines=[], errors=[{"kind": text, "message": text}], message=text, log_status=text
            ),
        ),
        host(
            "vm-loading",
            doc=document(phase="loading", engines=[], loading={"stage": text, "progress_pct": 5, "message": text}),
        ),
        host("vm-unknown", doc=document(phase="unknown", gpu_status=text, gpu_message=text, message=text)),
        host("vm-unreachable", unreachable=text),
        host("vm-failure", failure=text),
        HostState(name="vm-np", provisioned=False, not_provisioned_reason=text),
        warnings=[text],
        view=view,
    )


@pytest.mark.parametrize("view_name", ["panels", "table"])
@pytest.mark.parametrize("width", [80, 200])
def test_untrusted_text_is_shown_literally_and_cannot_escape(width, view_name):
    text = frame(evil_fleet(EVIL, view_name), width, 300)
    assert FORBIDDEN.search(text) is None
    assert "pwned" not in text
    assert "[red]FAKE[/red]" in text
    assert text == frame(evil_fleet(clean_text(EVIL), view_name), width, 300)
    assert not any(line.lstrip().startswith("╭─ fake") for line in text.splitlines())


def test_untrusted_text_in_colour_yields_only_rich_colour_codes():
    output = coloured(evil_fleet(EVIL, "panels"), 200, 300)
    escapes = re.findall(r"\x1b[^a-zA-Z]*[a-zA-Z]?", output)
    assert escapes and all(re.fullmatch(r"\x1b\[[0-9;]*m", escape) for escape in escapes)
    assert "\x1b]8;" not in output  # no hyperlink from [link=...]


def test_untrusted_text_in_plain_lines_and_json():
    view = evil_fleet(EVIL)
    for state in view.hosts:
        line = plain_line(view, state, NOW)
        assert FORBIDDEN.search(line) is None and "\n" not in line
        assert "\x1b" not in json_line(json_record(state, NOW))


def test_thresholds_decide_bars_and_checks_alike():
    thresholds = Thresholds(kv_cache_pct=Band(30.0, 40.0))
    view = fleet(host(thresholds=thresholds), thresholds=thresholds)
    assert view.hosts[0].health == "fail" and border_colour(view) == "red"


def test_eight_gpu_panel_lists_every_gpu():
    text = frame(fleet(eight_gpus()), 80, 80)
    assert all(f"GPU{index}" in text for index in range(8))


def test_unchanged_table_rows_are_reused():
    view = mixed_fleet(30)
    cache = FrameCache()
    frame(view, 120, 40, NOW, cache)
    rows = dict(cache.rows)
    assert rows
    frame(view, 120, 40, NOW + 1, cache)
    assert all(cache.rows[name] is entry for name, entry in rows.items())


def test_a_panel_too_tall_for_the_space_left_gives_way_to_one_that_fits():
    # 80x24, 6 VMs: the first failing VM's panel is taller than the lines under the table; the
    # second one's fits.
    text = frame(mixed_fleet(6), 80, 24)
    assert "╭─ hyperstack-vm6 " in text and "╭─ hyperstack-vm1 " not in text
    assert len(text.splitlines()) <= 23
