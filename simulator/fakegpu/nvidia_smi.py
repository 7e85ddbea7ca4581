# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for ``nvidia-smi`` (535-era texts, docs/dev/formats.md section 4).

``--query-gpu=F,.. --format=csv[,noheader][,nounits] [-i ID]``, ``-L`` and the plain table.
Failures print on STDOUT with the man page's exit codes: driver not loaded 9, NVML library
missing 12, no devices 6, GPU lost 15 (after the healthy rows), bad field or option 2. With the
``nvidia_smi_output`` override a query prints that file instead of the rows, and exits 0.
"""

from __future__ import annotations

import time

from fakegpu import gpus
from fakegpu.output import Output

DRIVER_NOT_LOADED = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure "
    "that the latest NVIDIA driver is installed and running.\n\n"
)
NVML_MISSING = (
    "NVIDIA-SMI couldn't find libnvidia-ml.so library in your system. Please make sure that the "
    "NVIDIA Display Driver is properly installed and present in your system.\n"
    "Please also try adding directory that contains libnvidia-ml.so to your system PATH.\n"
)
NO_DEVICES = "No devices were found\n"
GPU_LOST = "Unable to determine the device handle for GPU %s: GPU is lost.  Reboot the system to recover this GPU\n"
BAD_FIELD = 'Field "%s" is not a valid field to query.\n\n'
FORMAT_MISSING = "\"--format=\" switch is missing. Please run 'nvidia-smi -h' for help.\n\n"
FORMAT_NOT_CSV = "Format modifier --format=csv is mandatory.\n\n"
FORMAT_UNKNOWN = "Format modifier is not recognized.\n\n"
BAD_ARGUMENTS = "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n\n"
HANG_SECONDS = 3600  # far beyond any command timeout

EXIT_BAD_ARGUMENT = 2
EXIT_NO_DEVICES = 6
EXIT_DRIVER_NOT_LOADED = 9
EXIT_NVML_MISSING = 12
EXIT_GPU_LOST = 15

# Field -> unit shown without ``nounits`` (and in the header). Aliases map to these names.
UNITS = {
    "index": "",
    "uuid": "",
    "name": "",
    "serial": "",
    "pci.bus_id": "",
    "driver_version": "",
    "vbios_version": "",
    "count": "",
    "pstate": "",
    "fan.speed": "%",
    "temperature.gpu": "",
    "temperature.memory": "",
    "utilization.gpu": "%",
    "utilization.memory": "%",
    "power.draw": "W",
    "power.draw.average": "W",
    "power.draw.instant": "W",
    "power.limit": "W",
    "enforced.power.limit": "W",
    "power.default_limit": "W",
    "power.max_limit": "W",
    "memory.total": "MiB",
    "memory.reserved": "MiB",
    "memory.used": "MiB",
    "memory.free": "MiB",
    "clocks.sm": "MHz",
    "clocks.gr": "MHz",
    "clocks.mem": "MHz",
    "clocks.max.sm": "MHz",
    "clocks.max.mem": "MHz",
    "ecc.errors.uncorrected.volatile.total": "",
    "ecc.mode.current": "",
    "mig.mode.current": "",
    "persistence_mode": "",
    "compute_mode": "",
    "pcie.link.gen.gpucurrent": "",
    "pcie.link.width.current": "",
    "clocks_event_reasons.active": "",
    "retired_pages.pending": "",
    "remapped_rows.pending": "",
}
ALIASES = {
    "gpu_name": "name",
    "gpu_uuid": "uuid",
    "gpu_bus_id": "pci.bus_id",
    "gpu_serial": "serial",
    "clocks.current.sm": "clocks.sm",
    "clocks.current.graphics": "clocks.gr",
    "clocks.graphics": "clocks.gr",
    "clocks.current.memory": "clocks.mem",
    "clocks.memory": "clocks.mem",
    "clocks.max.graphics": "clocks.max.sm",
    "clocks.max.memory": "clocks.max.mem",
    "clocks_throttle_reasons.active": "clocks_event_reasons.active",
    "enforced.power.limit": "enforced.power.limit",
}


def _cell(value, unit: str, with_units: bool) -> str:
    if isinstance(value, float):
        text = "%.2f" % value
    else:
        text = str(value)
    if with_units and unit and not text.startswith("["):
        text += " " + unit
    return text


def _parse_args(argv):
    """(options dict, error text) from nvidia-smi's command line."""
    options = {"query": None, "format": None, "id": None, "list": False, "help": False, "apps": None}
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, has_value, value = arg.partition("=")
        if name in ("--query-gpu", "--format", "-i", "--id", "--query-compute-apps"):
            if not has_value:
                if not args:
                    return options, BAD_ARGUMENTS
                value = args.pop(0)
            options[{"--query-gpu": "query", "--format": "format", "--query-compute-apps": "apps"}.get(name, "id")] = (
                value
            )
        elif arg in ("-L", "--list-gpus"):
            options["list"] = True
        elif arg in ("-h", "--help"):
            options["help"] = True
        else:
            return options, BAD_ARGUMENTS
    return options, None


def _query(out: Output, options, host_rows, lost) -> int:
    fmt = options["format"]
    if fmt is None:
        out.stdout(FORMAT_MISSING)
        return EXIT_BAD_ARGUMENT
    modifiers = fmt.split(",")
    if any(modifier not in ("csv", "noheader", "nounits") for modifier in modifiers):
        out.stdout(FORMAT_UNKNOWN)
        return EXIT_BAD_ARGUMENT
    if "csv" not in modifiers:
        out.stdout(FORMAT_NOT_CSV)
        return EXIT_BAD_ARGUMENT
    requested = options["query"].split(",")
    fields = []
    for field in requested:
        canonical = ALIASES.get(field.strip(), field.strip())
        if canonical not in UNITS:
            out.stdout(BAD_FIELD % field)
            return EXIT_BAD_ARGUMENT
        fields.append(canonical)
    with_units = "nounits" not in modifiers
    if "noheader" not in modifiers:
        out.stdout(
            ", ".join(
                "%s [%s]" % (name, UNITS[field]) if UNITS[field] else name for name, field in zip(requested, fields)
            )
            + "\n"
        )
    for each in host_rows:
        if each["index"] in lost:
            out.stdout(GPU_LOST % _short_bus_id(each))
            continue
        out.stdout(", ".join(_cell(each[field], UNITS[field], with_units) for field in fields) + "\n")
    return EXIT_GPU_LOST if lost else 0


def _short_bus_id(each) -> str:
    """The lost-GPU message shows a 4-digit PCI domain (``0000:02:00.0``), pci.bus_id 8."""
    return each["pci.bus_id"][4:]


def _select(host_rows, wanted):
    if wanted is None:
        return host_rows
    keys = set(wanted.split(","))
    return [
        each for each in host_rows if str(each["index"]) in keys or each["uuid"] in keys or each["pci.bus_id"] in keys
    ]


def _list(out: Output, host_rows, lost) -> int:
    for each in host_rows:
        if each["index"] in lost:
            out.stdout(GPU_LOST % _short_bus_id(each))
        else:
            out.stdout("GPU %d: %s (UUID: %s)\n" % (each["index"], each["name"], each["uuid"]))
    return EXIT_GPU_LOST if lost else 0


def _table_row(*cells) -> str:
    return "|" + "|".join(cells) + "|\n"


def _table(out: Output, host_rows, lost, now: float) -> int:
    """An abridged version of the default screen (no process list)."""
    widths = (41, 24, 22)
    rule = "+" + "+".join("-" * width for width in widths) + "+\n"
    out.stdout(time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(now)) + "\n")
    out.stdout("+" + "-" * 89 + "+\n")
    out.stdout(
        (
            "| NVIDIA-SMI %s             Driver Version: %s     CUDA Version: 12.8"
            % (gpus.DRIVER_VERSION, gpus.DRIVER_VERSION)
        ).ljust(90)
        + "|\n"
    )
    out.stdout(rule)
    out.stdout(
        _table_row(" GPU  Name                 Persistence-M ", " Bus-Id          Disp.A ", " Volatile Uncorr. ECC ")
    )
    out.stdout(
        _table_row(" Fan  Temp   Perf          Pwr:Usage/Cap ", "           Memory-Usage ", " GPU-Util  Compute M. ")
    )
    out.stdout(rule.replace("-", "="))
    for each in host_rows:
        if each["index"] in lost:
            out.stdout(GPU_LOST % _short_bus_id(each))
            continue
        out.stdout(
            _table_row(
                ("%4d  %s" % (each["index"], each["name"])).ljust(widths[0] - 4) + "On  ",
                ("%s Off " % each["pci.bus_id"]).rjust(widths[1]),
                ("%d " % each["ecc.errors.uncorrected.volatile.total"]).rjust(widths[2]),
            )
        )
        head = " N/A   %2dC    %-2s" % (each["temperature.gpu"], each["pstate"])
        out.stdout(
            _table_row(
                head + ("%dW / %4dW " % (each["power.draw"], each["power.limit"])).rjust(widths[0] - len(head)),
                ("%dMiB / %6dMiB " % (each["memory.used"], each["memory.total"])).rjust(widths[1]),
                ("%d%%      Default " % each["utilization.gpu"]).rjust(widths[2]),
            )
        )
        out.stdout(rule)
    return EXIT_GPU_LOST if lost else 0


def answer(host, argv) -> Output:
    """What ``nvidia-smi ARGV`` prints on HOST, and its exit status."""
    out = Output()
    options, error = _parse_args(argv)
    if options["help"]:
        out.stdout("NVIDIA System Management Interface -- v570.133.20 (fakegpu simulator)\n")
        return out
    fault = host.nvidia_smi_fault
    # NVML is initialised before the arguments are looked at: even --help-query-gpu fails
    # this way (docs/dev/formats.md 4.3).
    if fault == "hang":
        out.hang(HANG_SECONDS)
        return out
    if fault == "nvml_missing":
        return out.finish(EXIT_NVML_MISSING, NVML_MISSING)
    if fault == "driver_not_loaded":
        return out.finish(EXIT_DRIVER_NOT_LOADED, DRIVER_NOT_LOADED)
    if error:
        return out.finish(EXIT_BAD_ARGUMENT, error)
    replay = host.overrides.get("nvidia_smi_output")
    if replay is not None and options["query"] is not None:
        # Hand-written rows (hostile or implausible values, no rows, a flood), as they are.
        with open(replay, encoding="utf-8", errors="surrogateescape") as handle:
            return out.finish(0, handle.read())
    scenario = host.scenario
    if fault == "no_devices":
        return out.finish(EXIT_NO_DEVICES, NO_DEVICES)
    host_rows = _select(gpus.rows(scenario.cards, scenario.loads(host.elapsed)), options["id"])
    for each in host_rows:
        each.update(scenario.gpu_faults.get(each["index"], {}))
    if not host_rows:
        return out.finish(EXIT_NO_DEVICES, NO_DEVICES)
    lost = [index for index in host.lost_gpus if any(r["index"] == index for r in host_rows)]
    if options["apps"] is not None:
        from fakegpu import kernel
        from fakegpu.runs import inspect_document

        if options["apps"] != "gpu_uuid,pid,process_name,used_memory" or not options["format"]:
            return out.finish(EXIT_BAD_ARGUMENT, BAD_ARGUMENTS)
        running = host.container_exists and inspect_document(host)["State"]["Running"]
        out.status = kernel.compute_apps(
            out, host, [r for r in host_rows if r["index"] not in lost], running, "nounits" not in options["format"]
        )
    elif options["query"] is not None:
        out.status = _query(out, options, host_rows, lost)
    elif options["list"]:
        out.status = _list(out, host_rows, lost)
    else:
        out.status = _table(out, host_rows, lost, host.now)
    return out
