# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stand-in nvidia-smi, run as a process: CSV rows and the failures of docs/dev/formats.md 4."""

from __future__ import annotations

import subprocess

import pytest

from simhost import NOW, clock_env

QUERY = "--format=csv,noheader,nounits"
MODULE_FIELDS = (
    "--query-gpu=index,uuid,name,temperature.gpu,utilization.gpu,power.draw,power.limit,memory.used,memory.total"
)
A100_ROW = "0, GPU-5d1d7a3c-2f4e-8b61-9a0c-3e7f1b2d4c60, NVIDIA A100 80GB PCIe, 67, 87, 241.67, 300.00, 76045, 81920\n"

DRIVER_NOT_LOADED = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure "
    "that the latest NVIDIA driver is installed and running.\n\n"
)
NVML_MISSING = (
    "NVIDIA-SMI couldn't find libnvidia-ml.so library in your system. Please make sure that the "
    "NVIDIA Display Driver is properly installed and present in your system.\n"
    "Please also try adding directory that contains libnvidia-ml.so to your system PATH.\n"
)
GPU_LOST = (
    "Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost.  Reboot the system to recover this GPU\n"
)


@pytest.mark.parametrize(
    "field, value",
    [
        ("index", "0"),
        ("uuid", "GPU-5d1d7a3c-2f4e-8b61-9a0c-3e7f1b2d4c60"),
        ("name", "NVIDIA A100 80GB PCIe"),
        ("pci.bus_id", "00000000:01:00.0"),
        ("driver_version", "570.133.20"),
        ("pstate", "P0"),
        ("fan.speed", "[N/A]"),
        ("temperature.gpu", "67"),
        ("temperature.memory", "74"),
        ("utilization.gpu", "87"),
        ("utilization.memory", "45"),
        ("power.draw", "241.67"),
        ("power.limit", "300.00"),
        ("memory.used", "76045"),
        ("memory.total", "81920"),
        ("memory.free", "5304"),
        ("clocks.sm", "1410"),
        ("clocks.mem", "1512"),
        ("ecc.errors.uncorrected.volatile.total", "0"),
        ("gpu_name", "NVIDIA A100 80GB PCIe"),
        ("count", "1"),
    ],
)
def test_each_field_of_a_busy_a100(make_host, field, value):
    done = make_host("busy").nvidia_smi("--query-gpu=" + field, QUERY)
    assert (done.returncode, done.stdout.decode(), done.stderr) == (0, value + "\n", b"")


def test_the_module_query_gives_one_row_per_gpu_in_field_order(make_host):
    host = make_host("busy-tp2")
    done = host.nvidia_smi(MODULE_FIELDS, QUERY)
    assert done.returncode == 0
    assert done.stdout.decode() == (
        "0, GPU-5d1d7a3c-2f4e-8b61-9a0c-3e7f1b2d4c60, NVIDIA H100 80GB HBM3, 71, 93, 562.18, "
        "700.00, 78311, 81559\n"
        "1, GPU-8e2a4f61-0b3d-47c9-a215-6f9e0d3b7a18, NVIDIA H100 80GB HBM3, 69, 91, 548.90, "
        "700.00, 78299, 81559\n"
    )
    second = host.nvidia_smi(MODULE_FIELDS, QUERY, "-i", "1").stdout.decode()
    assert second.startswith("1, GPU-8e2a")


def test_units_and_header_without_nounits(make_host):
    done = make_host("busy").nvidia_smi(
        "--query-gpu=index,temperature.gpu,utilization.gpu,power.draw,memory.used,clocks.sm,fan.speed", "--format=csv"
    )
    assert done.stdout.decode() == (
        "index, temperature.gpu, utilization.gpu [%], power.draw [W], memory.used [MiB], "
        "clocks.sm [MHz], fan.speed [%]\n"
        "0, 67, 87 %, 241.67 W, 76045 MiB, 1410 MHz, [N/A]\n"
    )


@pytest.mark.parametrize(
    "args, stdout",
    [
        (("--query-gpu=index,bogus.field", QUERY), 'Field "bogus.field" is not a valid field to query.\n\n'),
        (("--query-gpu=index",), "\"--format=\" switch is missing. Please run 'nvidia-smi -h' for help.\n\n"),
        (("--query-gpu=index", "--format=noheader"), "Format modifier --format=csv is mandatory.\n\n"),
        (("--query-gpu=index", "--format=csv,xml"), "Format modifier is not recognized.\n\n"),
        (("--frobnicate",), "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n\n"),
    ],
)
def test_bad_arguments_exit_2_on_stdout(make_host, args, stdout):
    done = make_host("busy").nvidia_smi(*args)
    assert (done.returncode, done.stdout.decode(), done.stderr) == (2, stdout, b"")


@pytest.mark.parametrize(
    "scenario, status, stdout",
    [
        ("driver-not-loaded", 9, DRIVER_NOT_LOADED),
        ("nvml-missing", 12, NVML_MISSING),
        ("no-devices", 6, "No devices were found\n"),
        (
            "gpu-lost",
            15,
            "0, GPU-5d1d7a3c-2f4e-8b61-9a0c-3e7f1b2d4c60, NVIDIA H100 80GB HBM3, 48, 0, "
            "121.37, 700.00, 1, 81559\n" + GPU_LOST,
        ),
    ],
)
def test_failures_print_on_stdout_with_the_man_page_exit_code(make_host, scenario, status, stdout):
    done = make_host(scenario).nvidia_smi(MODULE_FIELDS, QUERY)
    assert (done.returncode, done.stdout.decode(), done.stderr) == (status, stdout, b"")


def test_driver_failure_comes_before_argument_checks(make_host):
    # docs/dev/formats.md 4.3: even --help-query-gpu fails this way, so NVML starts first.
    done = make_host("driver-not-loaded").nvidia_smi("--query-gpu=bogus", QUERY)
    assert (done.returncode, done.stdout.decode()) == (9, DRIVER_NOT_LOADED)


def test_a_lost_gpu_left_out_by_id_leaves_a_clean_answer(make_host):
    done = make_host("gpu-lost").nvidia_smi("--query-gpu=index,name", QUERY, "-i", "0")
    assert (done.returncode, done.stdout.decode()) == (0, "0, NVIDIA H100 80GB HBM3\n")


def test_hang_outlasts_a_timeout(make_host):
    host = make_host("nvidia-smi-hang")
    process = subprocess.Popen(
        [str(host.path / "bin" / "nvidia-smi"), MODULE_FIELDS, QUERY], stdout=subprocess.PIPE, env=clock_env(NOW)
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=1.5)
    finally:
        process.kill()
        process.communicate()


def test_list_and_plain_screen(make_host):
    host = make_host("gpu-lost")
    listed = host.nvidia_smi("-L")
    assert (listed.returncode, listed.stdout.decode()) == (
        15,
        "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5d1d7a3c-2f4e-8b61-9a0c-3e7f1b2d4c60)\n" + GPU_LOST,
    )
    screen = make_host("busy").nvidia_smi().stdout.decode().splitlines()
    assert screen[0] == "Sat Nov 28 00:57:14 2026"
    assert screen[7] == ("|   0  NVIDIA A100 80GB PCIe          On  |   00000000:01:00.0 Off |                    0 |")
    assert screen[8] == ("| N/A   67C    P0            241W /  300W |   76045MiB /  81920MiB |     87%      Default |")


@pytest.mark.parametrize(
    "elapsed, memory_used, power",
    [
        (3, 0, "54.12"),  # before "Starting to load model"
        (20, 17100, "78.40"),  # weight shards 6/11: 530 + 29400 * 12.4/22
        (35, 31210, "131.50"),  # torch.compile
        (50, 75120, "187.20"),  # KV cache allocated, capturing CUDA graphs
        (60, 75990, "72.30"),  # ready, no traffic yet
        (70, 76012, "201.12"),  # serving
    ],
)
def test_loading_memory_grows_with_the_clock(make_host, elapsed, memory_used, power):
    host = make_host("loading")
    done = host.nvidia_smi("--query-gpu=memory.used,power.draw", QUERY, now=NOW + elapsed)
    assert done.stdout.decode() == "%d, %s\n" % (memory_used, power)
