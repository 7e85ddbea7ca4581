# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _nvidia_smi: texts and exit codes from docs/dev/formats.md section 4."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._nvidia_smi import (
    DEFAULT_QUERY_FIELDS,
    InvalidQueryField,
    InvalidQueryOutput,
    classify_failure,
    gpu_section,
    parse_query_gpu,
    query_command,
    validate_fields,
)

# The readings of the first nine default fields; the GPU-health ones have tests of their own.
BASE_FIELDS = (
    "index",
    "uuid",
    "name",
    "temperature.gpu",
    "utilization.gpu",
    "power.draw",
    "power.limit",
    "memory.used",
    "memory.total",
)
A100_ROW = "0, GPU-5d1d0b4e-1111-2222-3333-444455556666, NVIDIA A100 80GB PCIe, 41, 87, 212.44, 300.00, 74213, 81920"
A100 = {
    "index": 0,
    "uuid": "GPU-5d1d0b4e-1111-2222-3333-444455556666",
    "name": "NVIDIA A100 80GB PCIe",
    "temperature_c": 41,
    "utilization_pct": 87,
    "power_w": 212.44,
    "power_limit_w": 300.0,
    "memory_used_mib": 74213,
    "memory_total_mib": 81920,
}
H100_ROW = "1, GPU-aaaa, NVIDIA H100 80GB HBM3, 35, 0, 70.12, 700.00, 1, 81559"
H100 = {
    "index": 1,
    "uuid": "GPU-aaaa",
    "name": "NVIDIA H100 80GB HBM3",
    "temperature_c": 35,
    "utilization_pct": 0,
    "power_w": 70.12,
    "power_limit_w": 700.0,
    "memory_used_mib": 1,
    "memory_total_mib": 81559,
}

DRIVER_NOT_LOADED = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure "
    "that the latest NVIDIA driver is installed and running.\n\n"
)
LIBRARY_MISSING = (
    "NVIDIA-SMI couldn't find libnvidia-ml.so library in your system. Please make sure that the "
    "NVIDIA Display Driver is properly installed and present in your system.\n"
    "Please also try adding directory that contains libnvidia-ml.so to your system PATH.\n"
)
LOST_02 = (
    "Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost. Reboot the system to recover this GPU\n"
)
UNKNOWN_0B = "Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error\n"


def test_default_query_fields():
    assert DEFAULT_QUERY_FIELDS == BASE_FIELDS + (
        "ecc.errors.uncorrected.volatile.total",
        "retired_pages.pending",
        "remapped_rows.pending",
        "clocks_throttle_reasons.active",
    )


def test_query_command():
    assert query_command("/usr/bin/nvidia-smi", ["index", "clocks.sm"]) == [
        "/usr/bin/nvidia-smi",
        "--query-gpu=index,clocks.sm",
        "--format=csv,noheader,nounits",
    ]


@pytest.mark.parametrize(
    "fields",
    [
        DEFAULT_QUERY_FIELDS,
        ["clocks_event_reasons.active"],
        ["ecc.errors.uncorrected.volatile.total", "pcie.link.gen.gpucurrent"],
    ],
)
def test_validate_fields_accepts(fields):
    assert validate_fields(fields) is None


@pytest.mark.parametrize(
    "fields, message",
    [
        ([], "nvidia-smi query fields must be a non-empty list of field names"),
        ("index", "nvidia-smi query fields must be a non-empty list of field names"),
        (
            ["index", "memory.used --id=0"],
            "invalid nvidia-smi query field 'memory.used --id=0': use names like memory.used "
            "(lower-case letters, digits, '_' and '.', starting with a letter)",
        ),
        (
            ["index,uuid"],
            "invalid nvidia-smi query field 'index,uuid': use names like memory.used "
            "(lower-case letters, digits, '_' and '.', starting with a letter)",
        ),
        (
            ["$(id)"],
            "invalid nvidia-smi query field '$(id)': use names like memory.used (lower-case letters, digits, '_' and '.', starting with a letter)",
        ),
        (
            ["Memory.used"],
            "invalid nvidia-smi query field 'Memory.used': use names like memory.used "
            "(lower-case letters, digits, '_' and '.', starting with a letter)",
        ),
        (
            ["1index"],
            "invalid nvidia-smi query field '1index': use names like memory.used (lower-case letters, digits, '_' and '.', starting with a letter)",
        ),
        (
            ["index\n"],
            "invalid nvidia-smi query field 'index\\n': use names like memory.used (lower-case letters, digits, '_' and '.', starting with a letter)",
        ),
        (
            [""],
            "invalid nvidia-smi query field '': use names like memory.used (lower-case letters, digits, '_' and '.', starting with a letter)",
        ),
        (
            [3],
            "invalid nvidia-smi query field 3: use names like memory.used (lower-case letters, digits, '_' and '.', starting with a letter)",
        ),
        (["index", "uuid", "index"], "nvidia-smi query field 'index' is listed twice"),
    ],
)
def test_validate_fields_rejects(fields, message):
    with pytest.raises(InvalidQueryField) as excinfo:
        validate_fields(fields)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    "stdout, expected",
    [
        ("", []),
        (A100_ROW + "\n", [A100]),
        (A100_ROW + "\n" + H100_ROW + "\n", [A100, H100]),
        ("\n" + A100_ROW + "\n\n", [A100]),
        # Windows line ends and stray blanks around cells.
        (A100_ROW.replace(", ", " ,  ") + "\r\n", [A100]),
    ],
)
def test_parse_default_fields(stdout, expected):
    assert parse_query_gpu(stdout, BASE_FIELDS) == expected


@pytest.mark.parametrize(
    "token",
    [
        "[N/A]",
        "N/A",
        "[Not Supported]",
        "[GPU requires reset]",
        "[Insufficient Permissions]",
        "[Unknown Error]",
        "[GPU is lost]",
        "[No data]",
        "[Timeout]",
        "[Driver Not Loaded]",
        "",
    ],
)
@pytest.mark.parametrize(
    "field, key",
    [
        ("index", "index"),
        ("uuid", "uuid"),
        ("name", "name"),
        ("temperature.gpu", "temperature_c"),
        ("utilization.gpu", "utilization_pct"),
        ("power.draw", "power_w"),
        ("power.limit", "power_limit_w"),
        ("memory.used", "memory_used_mib"),
        ("memory.total", "memory_total_mib"),
        ("fan.speed", "fan_speed"),
        ("pstate", "pstate"),
    ],
)
def test_unavailable_value_is_none(token, field, key):
    assert parse_query_gpu("7, %s\n" % token, ["utilization.memory", field]) == [{"utilization_memory": 7, key: None}]


@pytest.mark.parametrize(
    "field, cell, key, value",
    [
        ("index", "3", "index", 3),
        ("uuid", "GPU-5d1d", "uuid", "GPU-5d1d"),
        ("name", "NVIDIA GB10", "name", "NVIDIA GB10"),
        ("name", "NVIDIA \x1b[31mEvil\x1b[0m\x07 GPU", "name", "NVIDIA Evil GPU"),
        ("temperature.gpu", "51", "temperature_c", 51),
        ("utilization.gpu", "100", "utilization_pct", 100),
        ("power.draw", "12.98", "power_w", 12.98),
        ("power.draw", "31", "power_w", 31.0),
        ("power.limit", "300.00", "power_limit_w", 300.0),
        ("memory.used", "13322", "memory_used_mib", 13322),
        ("memory.total", "16384", "memory_total_mib", 16384),
        # Fields the schema does not name: int, float or text.
        ("clocks.sm", "1410", "clocks_sm", 1410),
        ("power.draw.instant", "70.5", "power_draw_instant", 70.5),
        ("pstate", "P0", "pstate", "P0"),
        ("mig.mode.current", "Enabled", "mig_mode_current", "Enabled"),
        ("ecc.errors.corrected.volatile.total", "0", "ecc_errors_corrected_volatile_total", 0),
        # GPU health fields: decoded.
        ("clocks_event_reasons.active", "0x0000000000000001", "clock_event_reasons", ["gpu_idle"]),
        ("clocks_throttle_reasons.active", "0x0000000000000000", "clock_event_reasons", []),
        (
            "clocks_throttle_reasons.active",
            "0x0000000000000064",
            "clock_event_reasons",
            ["sw_power_cap", "sw_thermal_slowdown", "hw_thermal_slowdown"],
        ),
        (
            "clocks_event_reasons.active",
            "0x0000000000000088",
            "clock_event_reasons",
            ["hw_slowdown", "hw_power_brake_slowdown"],
        ),
        ("clocks_event_reasons.active", "0x0000000000001010", "clock_event_reasons", ["sync_boost", "unknown_0x1000"]),
        ("ecc.errors.uncorrected.volatile.total", "2", "ecc_uncorrected_volatile", 2),
        ("retired_pages.pending", "Yes", "retired_pages_pending", True),
        ("retired_pages.pending", "No", "retired_pages_pending", False),
        ("remapped_rows.pending", "1", "remapped_rows_pending", True),
        ("remapped_rows.pending", "0", "remapped_rows_pending", False),
        ("temperature.memory", "-5", "temperature_memory", -5),
        ("driver_version", "535.261.03", "driver_version", "535.261.03"),
        ("fan.speed", "nan", "fan_speed", "nan"),
        ("fan.speed", "1_000", "fan_speed", "1_000"),
    ],
)
def test_field_mapping(field, cell, key, value):
    devices = parse_query_gpu("0, %s\n" % cell, ["index", field])
    assert devices == [{"index": 0, key: value}]
    assert type(devices[0][key]) is type(value)


def test_gb10_unified_memory_row():
    fields = [
        "name",
        "temperature.gpu",
        "power.draw",
        "memory.used",
        "memory.total",
        "utilization.gpu",
        "utilization.memory",
    ]
    assert parse_query_gpu("NVIDIA GB10, 51, 12.98, [N/A], [N/A], 5, 0\n", fields) == [
        {
            "name": "NVIDIA GB10",
            "temperature_c": 51,
            "power_w": 12.98,
            "memory_used_mib": None,
            "memory_total_mib": None,
            "utilization_pct": 5,
            "utilization_memory": 0,
        }
    ]


def test_mig_gpu_utilization_unavailable():
    fields = ["index", "utilization.gpu", "mig.mode.current", "memory.free"]
    assert parse_query_gpu("0, [N/A], Enabled, [Insufficient Permissions]\n", fields) == [
        {"index": 0, "utilization_pct": None, "mig_mode_current": "Enabled", "memory_free": None}
    ]


def test_failure_lines_are_skipped():
    stdout = A100_ROW + "\n" + LOST_02 + UNKNOWN_0B + DRIVER_NOT_LOADED + LIBRARY_MISSING
    assert parse_query_gpu(stdout, BASE_FIELDS) == [A100]


@pytest.mark.parametrize(
    "stdout, fields, message",
    [
        ("0, 1\n", ["index"], "nvidia-smi line 1 has 2 values, expected 1 (index): '0, 1'"),
        (
            A100_ROW + "\n0, GPU-x\n",
            BASE_FIELDS,
            "nvidia-smi line 2 has 2 values, expected 9 "
            "(index,uuid,name,temperature.gpu,utilization.gpu,power.draw,power.limit,memory.used,memory.total): '0, GPU-x'",
        ),
        # With units (a missing "nounits") the numbers do not parse.
        (
            "0, 32 %\n",
            ["index", "utilization.gpu"],
            "nvidia-smi line 1, field utilization.gpu: expected an integer, got '32 %'",
        ),
        (
            "0, 31.09 W\n",
            ["index", "power.draw"],
            "nvidia-smi line 1, field power.draw: expected a number, got '31.09 W'",
        ),
        (
            "0, 41.5\n",
            ["index", "temperature.gpu"],
            "nvidia-smi line 1, field temperature.gpu: expected an integer, got '41.5'",
        ),
        (
            "\n\n0, \x1b[2Jx\n",
            ["index", "memory.used"],
            "nvidia-smi line 3, field memory.used: expected an integer, got 'x'",
        ),
        (
            'Field "bogus" is not a valid field to query.\n',
            ["index", "bogus"],
            "nvidia-smi line 1 has 1 values, expected 2 (index,bogus): 'Field \"bogus\" is not a valid field to query.'",
        ),
        (
            "0, " + "9" * 400 + "x\n",
            ["index", "memory.used"],
            "nvidia-smi line 1, field memory.used: expected an integer, got '" + "9" * 159 + "\u2026'",
        ),
    ],
)
def test_parse_rejects(stdout, fields, message):
    with pytest.raises(InvalidQueryOutput) as excinfo:
        parse_query_gpu(stdout, fields)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    "rc, stdout, stderr, status, message",
    [
        (
            9,
            DRIVER_NOT_LOADED,
            "",
            "driver_error",
            "NVIDIA driver not loaded (nvidia-smi exit 9: nvidia-smi couldn't communicate with the NVIDIA driver); "
            "install the driver or load its kernel module, or reboot the VM",
        ),
        # The same text on stderr (a wrapper) still classifies.
        (
            9,
            "",
            DRIVER_NOT_LOADED,
            "driver_error",
            "NVIDIA driver not loaded (nvidia-smi exit 9: nvidia-smi couldn't communicate with the NVIDIA driver); "
            "install the driver or load its kernel module, or reboot the VM",
        ),
        (
            9,
            "",
            "",
            "driver_error",
            "NVIDIA driver not loaded (nvidia-smi exit 9); install the driver or load its kernel module, or reboot the VM",
        ),
        (
            12,
            LIBRARY_MISSING,
            "",
            "driver_error",
            "NVIDIA management library missing (nvidia-smi exit 12: libnvidia-ml.so not found); reinstall the NVIDIA driver",
        ),
        (
            12,
            "",
            "",
            "driver_error",
            "NVIDIA management library missing (nvidia-smi exit 12); reinstall the NVIDIA driver",
        ),
        (
            18,
            "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 535.261\n",
            "",
            "driver_error",
            "NVML failed to initialize: Driver/library version mismatch (nvidia-smi exit 18); "
            "reboot the VM so the loaded kernel module matches the installed driver, or reinstall the driver",
        ),
        (
            255,
            "Failed to initialize NVML: Unknown Error\n",
            "",
            "driver_error",
            "NVML failed to initialize: Unknown Error (nvidia-smi exit 255); "
            "reboot the VM so the loaded kernel module matches the installed driver, or reinstall the driver",
        ),
        (
            6,
            "No devices were found\n",
            "",
            "no_devices",
            "no NVIDIA GPU found (nvidia-smi exit 6: No devices were found); "
            "check that the VM has a GPU attached and that /dev/nvidia* is readable by the SSH user",
        ),
        (
            6,
            "No devices were found. Please make sure /dev/nvidia* files are readable by current user.\n",
            "",
            "no_devices",
            "no NVIDIA GPU found (nvidia-smi exit 6: No devices were found); "
            "check that the VM has a GPU attached and that /dev/nvidia* is readable by the SSH user",
        ),
        (
            15,
            LOST_02,
            "",
            "gpu_lost",
            "GPU 0000:02:00.0 unreachable: GPU is lost. Reboot the system to recover this GPU (nvidia-smi exit 15); "
            "reboot the VM, and replace the VM if it recurs",
        ),
        (
            255,
            UNKNOWN_0B,
            "",
            "gpu_lost",
            "GPU 0000:0B:00.0 unreachable: Unknown Error (nvidia-smi exit 255); reboot the VM, and replace the VM if it recurs",
        ),
        (
            15,
            LOST_02 + UNKNOWN_0B,
            "",
            "gpu_lost",
            "GPU 0000:02:00.0 unreachable: GPU is lost. Reboot the system to recover this GPU (and 1 more GPUs) (nvidia-smi exit 15); "
            "reboot the VM, and replace the VM if it recurs",
        ),
        (
            255,
            "GPU is lost.  Reboot the system to recover this GPU\n",
            "",
            "gpu_lost",
            "a GPU is lost: it fell off the bus (nvidia-smi exit 255); reboot the VM, and replace the VM if it recurs",
        ),
        (
            15,
            "",
            "",
            "gpu_lost",
            "a GPU is lost: it fell off the bus (nvidia-smi exit 15); reboot the VM, and replace the VM if it recurs",
        ),
        (
            2,
            'Field "bogus" is not a valid field to query.\n\n',
            "",
            "error",
            'nvidia-smi failed (nvidia-smi exit 2): Field "bogus" is not a valid field to query.',
        ),
        (
            4,
            "",
            "\n  Insufficient Permissions\n",
            "error",
            "nvidia-smi failed (nvidia-smi exit 4): Insufficient Permissions",
        ),
        (255, "", "", "error", "nvidia-smi failed (nvidia-smi exit 255) without any output"),
        (None, "", "", "error", "nvidia-smi failed (nvidia-smi exit code unknown) without any output"),
        (1, "\x1b]0;pwned\x07boom\x1b[31m\tred\n", "", "error", "nvidia-smi failed (nvidia-smi exit 1): boom red"),
    ],
)
def test_classify_failure(rc, stdout, stderr, status, message):
    assert classify_failure(rc, stdout, stderr) == (status, message)


def test_classify_failure_message_is_bounded():
    status, message = classify_failure(1, "x" * 5000 + "\n", "")
    assert status == "error"
    assert len(message) == 300
    assert message.endswith("x\u2026")


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (
            {"rc": 0, "stdout": A100_ROW + "\n" + H100_ROW + "\n"},
            {"status": "ok", "message": None, "devices": [A100, H100]},
        ),
        # Exit 0 without a single row is no GPU, not "ok" with an empty list.
        (
            {"rc": 0, "stdout": ""},
            {
                "status": "no_devices",
                "message": "nvidia-smi exited 0 but listed no GPU; check that the VM has a GPU attached and that "
                "/dev/nvidia* is readable by the SSH user",
                "devices": [],
            },
        ),
        (
            {"rc": 0, "stdout": "\n  \n"},
            {
                "status": "no_devices",
                "message": "nvidia-smi exited 0 but listed no GPU; check that the VM has a GPU attached and that "
                "/dev/nvidia* is readable by the SSH user",
                "devices": [],
            },
        ),
        (
            {"rc": None, "stdout": "", "not_found": True, "binary": "/usr/bin/nvidia-smi"},
            {
                "status": "not_installed",
                "message": "nvidia-smi not found (looked for /usr/bin/nvidia-smi); install the NVIDIA driver or set nvidia_smi_path",
                "devices": [],
            },
        ),
        (
            {"rc": None, "stdout": A100_ROW + "\n", "timed_out": True},
            {
                "status": "timeout",
                "message": "nvidia-smi did not answer in time; the driver may be hung (look for Xid errors in dmesg), reboot the VM if it persists",
                "devices": [],
            },
        ),
        (
            {"rc": 9, "stdout": DRIVER_NOT_LOADED},
            {
                "status": "driver_error",
                "message": "NVIDIA driver not loaded (nvidia-smi exit 9: nvidia-smi couldn't communicate with the NVIDIA driver); "
                "install the driver or load its kernel module, or reboot the VM",
                "devices": [],
            },
        ),
        # A lost GPU next to a healthy one: the healthy row stays.
        (
            {"rc": 15, "stdout": A100_ROW + "\n" + LOST_02},
            {
                "status": "gpu_lost",
                "message": "GPU 0000:02:00.0 unreachable: GPU is lost. Reboot the system to recover this GPU (nvidia-smi exit 15); "
                "reboot the VM, and replace the VM if it recurs",
                "devices": [A100],
            },
        ),
        # The same, should nvidia-smi exit 0.
        (
            {"rc": 0, "stdout": LOST_02 + H100_ROW + "\n"},
            {
                "status": "gpu_lost",
                "message": "GPU 0000:02:00.0 unreachable: GPU is lost. Reboot the system to recover this GPU (nvidia-smi exit 0); "
                "reboot the VM, and replace the VM if it recurs",
                "devices": [H100],
            },
        ),
        (
            {
                "rc": 0,
                "stdout": "0, [GPU requires reset], [GPU requires reset], 0\n",
                "fields": ["index", "temperature.gpu", "utilization.gpu", "memory.used"],
            },
            {
                "status": "ok",
                "message": None,
                "devices": [{"index": 0, "temperature_c": None, "utilization_pct": None, "memory_used_mib": 0}],
            },
        ),
        # An unparsable row: error quoting it, the good rows kept.
        (
            {"rc": 0, "stdout": A100_ROW + "\n1, GPU-b, Odd, Name, 30, 0, 60.00, 700.00, 1, 81559\n"},
            {
                "status": "error",
                "message": "nvidia-smi line 2 has 10 values, expected 9 "
                "(index,uuid,name,temperature.gpu,utilization.gpu,power.draw,power.limit,memory.used,memory.total): "
                "'1, GPU-b, Odd, Name, 30, 0, 60.00, 700.00, 1, 81559'",
                "devices": [A100],
            },
        ),
        # A failure text is classified even when the exit code says success.
        (
            {"rc": 0, "stdout": "No devices were found\n"},
            {
                "status": "no_devices",
                "message": "no NVIDIA GPU found (nvidia-smi exit 0: No devices were found); "
                "check that the VM has a GPU attached and that /dev/nvidia* is readable by the SSH user",
                "devices": [],
            },
        ),
        # ...but a cell that reads like one is just an unavailable value.
        (
            {"rc": 0, "stdout": "0, [GPU is lost]\n", "fields": ["index", "temperature.gpu"]},
            {"status": "ok", "message": None, "devices": [{"index": 0, "temperature_c": None}]},
        ),
        (
            {"rc": 2, "stdout": 'Field "bogus" is not a valid field to query.\n\n', "fields": ["index", "bogus"]},
            {
                "status": "error",
                "message": 'nvidia-smi failed (nvidia-smi exit 2): Field "bogus" is not a valid field to query.',
                "devices": [],
            },
        ),
    ],
)
def test_gpu_section(kwargs, expected):
    arguments = {"stderr": "", "fields": BASE_FIELDS}
    arguments.update(kwargs)
    assert gpu_section(**arguments) == expected


def test_gpu_section_parse_error_message_is_bounded():
    row = "0, GPU-x, " + "N" * 1000 + ", 1\n"
    section = gpu_section(0, row, "", ["index", "uuid", "name"])
    assert section["status"] == "error"
    assert section["devices"] == []
    assert len(section["message"]) <= 300
    assert section["message"].startswith("nvidia-smi line 1 has 4 values, expected 3 (index,uuid,name): '0, GPU-x, NNN")


READINGS = ["index", "temperature.gpu", "utilization.gpu", "power.draw", "memory.used", "memory.total"]


@pytest.mark.parametrize(
    "row, device, note",
    [
        # Each reading that cannot be true is null, and the message names it; the others stay.
        ("0, -5, 50, 100.5, 10, 80", {"temperature_c": None}, "GPU 0: temperature.gpu -5 is out of range (0 to 150 C)"),
        (
            "0, 151, 50, 100.5, 10, 80",
            {"temperature_c": None},
            "GPU 0: temperature.gpu 151 is out of range (0 to 150 C)",
        ),
        (
            "0, 40, -1, 100.5, 10, 80",
            {"utilization_pct": None},
            "GPU 0: utilization.gpu -1 is out of range (0 to 100 %)",
        ),
        (
            "0, 40, 101, 100.5, 10, 80",
            {"utilization_pct": None},
            "GPU 0: utilization.gpu 101 is out of range (0 to 100 %)",
        ),
        ("0, 40, 50, -3.0, 10, 80", {"power_w": None}, "GPU 0: power.draw -3.0 is out of range (0 to 10000 W)"),
        ("0, 40, 50, 1e309, 10, 80", {"power_w": None}, "GPU 0: power.draw 1e309 is not a finite number"),
        ("0, 40, 50, 1e300, 10, 80", {"power_w": None}, "GPU 0: power.draw 1e300 is out of range (0 to 10000 W)"),
        (
            "0, 40, 50, 100.5, -10, 80",
            {"memory_used_mib": None},
            "GPU 0: memory.used -10 is out of range (0 to 1.67772e+07 MiB)",
        ),
        ("0, 40, 50, 100.5, 90, 80", {"memory_used_mib": None}, "GPU 0: memory.used 90 is more than memory.total 80"),
        (
            "0, 40, 50, 100.5, 10, " + "9" * 5000,
            {"memory_total_mib": None},
            "GPU 0: memory.total 99999999999999999999999\u2026 has 5000 digits",
        ),
        # Several on one GPU: one note naming each.
        (
            "3, -1, 500, 100.5, 10, 80",
            {"index": 3, "temperature_c": None, "utilization_pct": None},
            "GPU 3: temperature.gpu -1 is out of range (0 to 150 C), utilization.gpu 500 is out of range (0 to 100 %)",
        ),
    ],
)
def test_implausible_readings_are_null_with_a_note(row, device, note):
    section = gpu_section(0, row + "\n", "", READINGS)
    expected = {
        "index": 0,
        "temperature_c": 40,
        "utilization_pct": 50,
        "power_w": 100.5,
        "memory_used_mib": 10,
        "memory_total_mib": 80,
    }
    expected.update(device)
    assert section == {
        "status": "ok",
        "devices": [expected],
        "message": "readings that cannot be true, shown as null: " + note,
    }


@pytest.mark.parametrize(
    "cell, key",
    [
        ("1e309", "clocks_sm"),
        ("-1e309", "clocks_sm"),
        ("1" * 400, "clocks_sm"),
    ],
)
def test_extra_fields_never_carry_infinity(cell, key):
    section = gpu_section(0, "0, %s\n" % cell, "", ["index", "clocks.sm"])
    assert section["devices"] == [{"index": 0, key: None}]
    assert section["message"].startswith("readings that cannot be true, shown as null: GPU 0: clocks.sm ")


@pytest.mark.parametrize(
    "stdout, message",
    [
        ("0, 40\n0, 41\n", "nvidia-smi listed GPU index 0 twice"),
        ("-1, 40\n", "nvidia-smi listed GPU index -1, which no GPU has (0 to 1023)"),
        ("1024, 40\n", "nvidia-smi listed GPU index 1024, which no GPU has (0 to 1023)"),
    ],
)
def test_impossible_gpu_indexes_are_an_error(stdout, message):
    section = gpu_section(0, stdout, "", ["index", "temperature.gpu"])
    assert section["status"] == "error"
    assert section["message"] == message + "; its output cannot be trusted (check the driver, reboot the VM)"


def test_an_absurdly_long_index_is_an_unparsable_row():
    section = gpu_section(0, "0, 40\n" + "9" * 23 + ", 41\n", "", ["index", "temperature.gpu"])
    assert section == {
        "status": "error",
        "devices": [{"index": 0, "temperature_c": 40}],
        "message": "nvidia-smi line 2, field index: 99999999999999999999999 has 23 digits",
    }


def test_rows_end_at_newlines_only():
    # A name holding separators str.splitlines() would split at stays one row, cleaned.
    row = "0, GPU-x, NVIDIA\u2028H100 80GB\x0cHBM3\u0085\u202e\r\n"
    assert parse_query_gpu(row, ["index", "uuid", "name"]) == [
        {"index": 0, "uuid": "GPU-x", "name": "NVIDIA H100 80GBHBM3"}
    ]


@pytest.mark.parametrize(
    "field, cell",
    [
        ("clocks_event_reasons.active", "[Not Supported]"),
        ("clocks_throttle_reasons.active", "[N/A]"),
        ("ecc.errors.uncorrected.volatile.total", "[N/A]"),
        ("retired_pages.pending", "[N/A]"),
        ("remapped_rows.pending", "[Insufficient Permissions]"),
    ],
)
def test_health_fields_unavailable_are_null(field, cell):
    devices = parse_query_gpu("0, %s\n" % cell, ["index", field])
    assert list(devices[0].values()) == [0, None]


@pytest.mark.parametrize(
    "field, cell",
    [
        ("clocks_event_reasons.active", "thermal"),
        ("clocks_event_reasons.active", "0x" + "f" * 17),
        ("retired_pages.pending", "maybe"),
    ],
)
def test_health_fields_that_do_not_parse_name_the_field(field, cell):
    with pytest.raises(InvalidQueryOutput, match="field %s" % field):
        parse_query_gpu("0, %s\n" % cell, ["index", field])
