# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GPU-depth checks: gpu_foreign_processes, gpu_ecc, gpu_throttle, gpu_xid, and the CUDA OOM
error naming who holds the memory."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.gpufleet.vllm.plugins.plugin_utils import _health as health
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Thresholds

UUID0, UUID1 = "GPU-0", "GPU-1"
BASE = {
    "collected_at": "2026-11-28T02:00:00.000000Z",
    "gpu": {
        "status": "ok",
        "message": None,
        "devices": [
            {
                "index": 0,
                "uuid": UUID0,
                "temperature_c": 60,
                "ecc_uncorrected_volatile": 0,
                "retired_pages_pending": None,
                "remapped_rows_pending": False,
                "clock_event_reasons": [],
            },
            {
                "index": 1,
                "uuid": UUID1,
                "temperature_c": 60,
                "ecc_uncorrected_volatile": 0,
                "retired_pages_pending": None,
                "remapped_rows_pending": False,
                "clock_event_reasons": ["gpu_idle"],
            },
        ],
        "compute_apps": {"status": "ok", "message": None, "processes": []},
        "xid": {
            "status": "ok",
            "source": "dmesg",
            "since": "2026-11-28T01:00:00.000000Z",
            "message": None,
            "events": [],
        },
    },
    "container": {"name": "vllm_x", "status": "running", "started_at": "2026-11-28T01:00:00.000000Z"},
    "vllm": {"phase": "serving", "log_status": "ok", "errors": [], "engines": []},
}


def proc(pid, gpu, mib, watched, container=None, name="python"):
    return {
        "gpu_uuid": (UUID0, UUID1)[gpu],
        "gpu_index": gpu,
        "pid": pid,
        "name": name,
        "used_memory_mib": mib,
        "container_id": container,
        "watched": watched,
    }


def checks(**changes):
    document = copy.deepcopy(BASE)
    for path, value in changes.items():
        target = document
        *parents, last = path.split("__")
        for part in parents:
            target = target[part]
        target[last] = value
    return {c["name"]: (c["status"], c["message"]) for c in health.evaluate(document, Thresholds())}


def test_a_healthy_gpu_passes_every_new_check():
    found = checks()
    assert [found[name][0] for name in ("gpu_foreign_processes", "gpu_ecc", "gpu_throttle", "gpu_xid")] == ["ok"] * 4


@pytest.mark.parametrize(
    "processes, status, part",
    [
        # Only the watched container's GPU counts while it holds one: GPU 1's foreign process is not on it.
        ([proc(1, 0, 70000, True), proc(2, 1, 5000, False)], "ok", "0 MiB held by other processes"),
        (
            [proc(1, 0, 70000, True), proc(2, 0, 50 * 1024 + 100, False, "9a8b7c6d5e4f" + "0" * 52, "jupyter")],
            "warn",
            "GPU 0: 50.1 GiB held by PID 2 jupyter (container 9a8b7c6d5e4f)",
        ),
        # The container holds no GPU (it crashed): every GPU counts.
        ([proc(2, 1, 2048, False)], "warn", "GPU 1: 2.0 GiB held by PID 2 python (no container)"),
        # Below the threshold.
        ([proc(2, 1, 1000, False)], "ok", "1000 MiB held by other processes (warn at 1024 MiB)"),
        # A process that cannot be told apart is mentioned, never counted as foreign.
        ([proc(2, 0, 9000, None)], "ok", "1 process(es) whose container could not be told"),
    ],
)
def test_foreign_processes(processes, status, part):
    found = checks(gpu__compute_apps={"status": "ok", "message": None, "processes": processes})
    assert found["gpu_foreign_processes"][0] == status
    assert part in found["gpu_foreign_processes"][1]


def test_foreign_processes_not_listed_warns():
    found = checks(gpu__compute_apps={"status": "timeout", "message": "did not answer", "processes": []})
    assert found["gpu_foreign_processes"] == ("warn", "GPU processes not listed: did not answer")


def test_cuda_oom_names_the_holder_first():
    found = checks(
        gpu__compute_apps={
            "status": "ok",
            "message": None,
            "processes": [proc(3981, 0, 51323, False, "ab" * 32, "python")],
        },
        container__status="exited",
        vllm__errors=[{"kind": "cuda_oom", "message": "torch.OutOfMemoryError: CUDA out of memory."}],
    )
    assert found["fatal_errors"] == (
        "fail",
        "cuda_oom: GPU 0: 50.1 GiB held by PID 3981 python (container abababababab); "
        "torch.OutOfMemoryError: CUDA out of memory.",
    )


@pytest.mark.parametrize(
    "device, status, part",
    [
        ({"ecc_uncorrected_volatile": 2}, "fail", "uncorrected ECC errors: GPU 0 at 2"),
        ({"remapped_rows_pending": True}, "warn", "GPU 0: retired pages or remapped rows pending"),
        ({"retired_pages_pending": True, "ecc_uncorrected_volatile": 1}, "fail", "GPU 0: rows pending a reset"),
        ({"ecc_uncorrected_volatile": None}, "ok", "at most 0 per GPU"),
    ],
)
def test_ecc(device, status, part):
    devices = copy.deepcopy(BASE["gpu"]["devices"])
    devices[0].update(device)
    found = checks(gpu__devices=devices)
    assert found["gpu_ecc"][0] == status and part in found["gpu_ecc"][1]


@pytest.mark.parametrize(
    "reasons, status",
    [
        (["sw_power_cap"], "ok"),
        (["gpu_idle", "applications_clocks_setting"], "ok"),
        (None, "ok"),
        (["hw_thermal_slowdown"], "warn"),
        (["sw_thermal_slowdown"], "warn"),
        (["hw_slowdown"], "warn"),
        (["hw_power_brake_slowdown"], "warn"),
    ],
)
def test_throttle(reasons, status):
    devices = copy.deepcopy(BASE["gpu"]["devices"])
    devices[0]["clock_event_reasons"] = reasons
    assert checks(gpu__devices=devices)["gpu_throttle"][0] == status


@pytest.mark.parametrize(
    "codes, status, part",
    [
        ([13], "warn", "XID 13"),
        ([79, 13], "fail", "XID 79 (GPU has fallen off the bus)"),
        ([13, 48], "fail", "XID 48"),
        ([94], "warn", "XID 94"),
        ([95], "fail", "XID 95"),
    ],
)
def test_xid(codes, status, part):
    events = [
        {"code": code, "meaning": {79: "GPU has fallen off the bus"}.get(code), "pci_bus_id": "0000:02:00"}
        for code in codes
    ]
    found = checks(gpu__xid={"status": "ok", "since": None, "events": events})
    assert found["gpu_xid"][0] == status and part in found["gpu_xid"][1]


def test_xid_unreadable_is_a_warning_not_a_pass():
    found = checks(
        gpu__xid={"status": "unreadable", "message": "kernel log not readable, XID errors unknown: x", "events": []}
    )
    assert found["gpu_xid"] == ("warn", "kernel log not readable, XID errors unknown: x")


def test_xid_is_reported_when_nvidia_smi_fails():
    found = checks(gpu__status="gpu_lost", gpu__message="GPU lost", gpu__xid={"status": "ok", "events": [{"code": 79}]})
    assert found["gpu_driver"][0] == "fail" and found["gpu_xid"][0] == "fail"


def test_documents_without_the_new_sections_have_no_new_checks():
    document = copy.deepcopy(BASE)
    del document["gpu"]["compute_apps"], document["gpu"]["xid"]
    for device in document["gpu"]["devices"]:
        for key in (
            "ecc_uncorrected_volatile",
            "retired_pages_pending",
            "remapped_rows_pending",
            "clock_event_reasons",
        ):
            del device[key]
    names = {c["name"] for c in health.evaluate(document, Thresholds())}
    assert not names & {"gpu_foreign_processes", "gpu_ecc", "gpu_throttle", "gpu_xid"}


def test_failed_panel_names_who_holds_the_memory():
    """The dashboard's panel of a CUDA OOM shows the holder under the error (the same text as the check)."""
    import io

    from rich.console import Console

    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._layout import render_frame
    from ansible_collections.gpufleet.vllm.plugins.plugin_utils._theme import THEME
    from tests.unit.plugins.plugin_utils.fleet_samples import NOW, failed_oom, fleet, host

    sample = failed_oom()
    document = copy.deepcopy(sample.document)
    document["gpu"]["compute_apps"] = {
        "status": "ok",
        "processes": [
            {
                "gpu_uuid": None,
                "gpu_index": 0,
                "pid": 3981,
                "name": "python",
                "used_memory_mib": 51323,
                "container_id": "ab" * 32,
                "watched": False,
            }
        ],
    }
    view = fleet(host("hyperstack-vm6", 6, document))
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
    console.print(render_frame(view, NOW, 100, 60, None))
    assert "GPU 0: 50.1 GiB held by PID 3981 python (container abababababab)" in console.export_text()


def test_an_ollama_vm_has_no_foreign_process_check():
    # No container is watched (service ollama): the model server's own host process holds the
    # memory, and "other than the watched container" means nothing; the other GPU checks stay.
    found = checks(
        container={"name": None, "status": "not_watched"},
        vllm={"phase": "not_watched", "log_status": "not_read", "errors": [], "engines": []},
        gpu__compute_apps__processes=[proc(2, 0, 60000, False, name="ollama")],
    )
    assert "gpu_foreign_processes" not in found
    assert [found[name][0] for name in ("gpu_ecc", "gpu_throttle", "gpu_xid")] == ["ok"] * 3
    assert (
        checks(gpu__compute_apps__processes=[proc(2, 0, 60000, False, name="ollama")])["gpu_foreign_processes"][0]
        == "warn"
    )
