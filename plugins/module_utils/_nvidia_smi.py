# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``nvidia-smi --query-gpu=... --format=csv,noheader,nounits``: the command, its CSV rows and
its whole-command failures, turned into the ``gpu`` section of node_info schema v1.

Format facts (docs/dev/formats.md section 4, nvidia-smi 535): cells are separated by ``", "``; a
field NVML cannot read prints as ``[<NVML error string>]`` (``[N/A]``, ``[Not Supported]``,
``[GPU requires reset]`` ...) or bare ``N/A``; failures such as "couldn't communicate with the
NVIDIA driver" (exit 9) are printed on STDOUT, not stderr.

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import byte_size, clean_text

DEFAULT_QUERY_FIELDS = (
    "index",
    "uuid",
    "name",
    "temperature.gpu",
    "utilization.gpu",
    "power.draw",
    "power.limit",
    "memory.used",
    "memory.total",
    # GPU health (docs/schema-v1.md): ECC, memory rows waiting for a reset, clock-event reasons.
    # All known to every driver that runs CUDA 12 (so vLLM). The throttle field by its old name:
    # drivers since the rename keep that name too.
    "ecc.errors.uncorrected.volatile.total",
    "retired_pages.pending",
    "remapped_rows.pending",
    "clocks_throttle_reasons.active",
)

# Bound for text quoted from nvidia-smi inside a message, so the whole message stays one short line.
_QUOTE_LIMIT = 160
_MESSAGE_LIMIT = 300

_FIELD_RE = re.compile(r"[a-z][a-z0-9_.]*")
# Strict number forms: Python's int()/float() would also accept "1_000", "nan" and "inf".
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
# More digits than any reading has; also below Python's limit on int() of a string (4300 digits
# since 3.11), which would otherwise raise on a hostile row.
_MAX_INT_DIGITS = 18

# Readings no working GPU can report (schema-v1.md, "Values that cannot be true"): such a value
# is returned as null and named in the section's message. Bounds are generous: the largest GPU
# boards draw about 1.2 kW and hold under 300 GiB.
_READING_RANGES: Dict[str, Tuple[float, float, str]] = {
    "temperature.gpu": (0, 150, "C"),
    "utilization.gpu": (0, 100, "%"),
    "power.draw": (0, 10000, "W"),
    "power.limit": (0, 10000, "W"),
    "memory.used": (0, 16 * 1024 * 1024, "MiB"),
    "memory.total": (0, 16 * 1024 * 1024, "MiB"),
}
# GPU indexes are small whole numbers, unique per host; anything else makes the rows unusable.
_MAX_GPU_INDEX = 1023


class InvalidQueryField(ValueError):
    """A --query-gpu field name that must not reach the command line."""


class InvalidQueryOutput(ValueError):
    """A CSV row that does not fit the fields asked for."""


class _Implausible(Exception):
    """A well-formed value that cannot be a real reading (infinite, absurdly large)."""


def _to_int(cell: str) -> int:
    if not _INT_RE.fullmatch(cell):
        raise ValueError("expected an integer")
    if len(cell.lstrip("+-")) > _MAX_INT_DIGITS:
        raise _Implausible("has %d digits" % len(cell.lstrip("+-")))
    return int(cell)


def _to_float(cell: str) -> float:
    if not _FLOAT_RE.fullmatch(cell):
        raise ValueError("expected a number")
    value = float(cell)
    if not math.isfinite(value):
        # "1e309" parses as infinity, which JSON cannot carry.
        raise _Implausible("is not a finite number")
    return value


def _to_text(cell: str) -> Optional[str]:
    return clean_text(cell)


def _to_best(cell: str) -> Any:
    """Fields the schema does not name: a number when the cell is one, else the text."""
    if _INT_RE.fullmatch(cell):
        return _to_int(cell)
    if _FLOAT_RE.fullmatch(cell):
        return _to_float(cell)
    return clean_text(cell)


def _to_pending(cell: str) -> bool:
    """``Yes``/``No`` (a count on some drivers: more than 0 is pending)."""
    word = cell.lower()
    if word in ("yes", "no"):
        return word == "yes"
    return _to_int(cell) > 0


# nvml.h clock event (throttle) reason bits.
CLOCK_EVENT_REASONS = (
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)
_HEX_RE = re.compile(r"0[xX][0-9a-fA-F]{1,16}")


def _to_clock_event_reasons(cell: str) -> List[str]:
    """The active-reasons bitmask (``0x0000000000000044``) as names; an unknown bit as its hex."""
    if not _HEX_RE.fullmatch(cell):
        raise ValueError("expected a hexadecimal bitmask")
    mask = int(cell, 16)
    names = [name for bit, name in CLOCK_EVENT_REASONS if mask & bit]
    known = 0
    for bit, _name in CLOCK_EVENT_REASONS:
        known |= bit
    if mask & ~known:
        names.append("unknown_0x%x" % (mask & ~known))
    return names


_KNOWN_FIELDS: Dict[str, Tuple[str, Callable[[str], Any]]] = {
    "index": ("index", _to_int),
    "uuid": ("uuid", _to_text),
    "name": ("name", _to_text),
    "temperature.gpu": ("temperature_c", _to_int),
    "utilization.gpu": ("utilization_pct", _to_int),
    "power.draw": ("power_w", _to_float),
    "power.limit": ("power_limit_w", _to_float),
    "memory.used": ("memory_used_mib", _to_int),
    "memory.total": ("memory_total_mib", _to_int),
    "ecc.errors.uncorrected.volatile.total": ("ecc_uncorrected_volatile", _to_int),
    "retired_pages.pending": ("retired_pages_pending", _to_pending),
    "remapped_rows.pending": ("remapped_rows_pending", _to_pending),
    "clocks_throttle_reasons.active": ("clock_event_reasons", _to_clock_event_reasons),
    "clocks_event_reasons.active": ("clock_event_reasons", _to_clock_event_reasons),
}

# Whole-command failure texts (docs/dev/formats.md 4.3). They share stdout with the CSV rows, so the
# row parser must recognise and skip them: by how the line starts, since a row's cell can read
# "[GPU is lost]".
_DRIVER_NOT_LOADED = "couldn't communicate with the NVIDIA driver"
_LIBRARY_MISSING = "couldn't find libnvidia-ml.so"
_LIBRARY_MISSING_HINT = "Please also try adding directory that contains libnvidia-ml.so"
_NVML_INIT_RE = re.compile(r"Failed to initialize NVML: *(.*)")
# The bus id has colons of its own ("0000:02:00.0"); only ": " ends it.
_DEVICE_HANDLE_RE = re.compile(r"Unable to determine the device handle for GPU *([^ ]+): +(.*)")
_GPU_LOST = "GPU is lost"
_NO_DEVICES = "No devices were found"
_FAILURE_LINE_STARTS = (
    "NVIDIA-SMI has failed",
    "NVIDIA-SMI couldn't find",
    _LIBRARY_MISSING_HINT,
    "Failed to initialize NVML",
    "Unable to determine the device handle",
    _GPU_LOST,
    _NO_DEVICES,
)

# nvidia-smi man page, RETURN VALUE.
_EXIT_DRIVER_NOT_LOADED = 9
_EXIT_LIBRARY_MISSING = 12
_EXIT_FELL_OFF_BUS = 15


def validate_fields(fields: Sequence[str]) -> None:
    """Reject field names that are not plain nvidia-smi field names, before anything runs."""
    if isinstance(fields, str) or not fields:
        raise InvalidQueryField("nvidia-smi query fields must be a non-empty list of field names")
    seen = set()
    for field in fields:
        if not isinstance(field, str) or not _FIELD_RE.fullmatch(field):
            raise InvalidQueryField(
                "invalid nvidia-smi query field %r: use names like memory.used "
                "(lower-case letters, digits, '_' and '.', starting with a letter)" % (field,)
            )
        if field in seen:
            raise InvalidQueryField("nvidia-smi query field %r is listed twice" % field)
        seen.add(field)


def query_command(binary: str, fields: Sequence[str]) -> List[str]:
    return [binary, "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"]


def _is_failure_line(line: str) -> bool:
    return line.strip().startswith(_FAILURE_LINE_STARTS)


def _is_unavailable(cell: str) -> bool:
    return cell in ("", "N/A") or (cell.startswith("[") and cell.endswith("]"))


def _schema_key(field: str) -> str:
    known = _KNOWN_FIELDS.get(field)
    return known[0] if known else field.replace(".", "_")


def _quote(line: str) -> str:
    return repr(clean_text(line, _QUOTE_LIMIT))


def _short(cell: str) -> str:
    return clean_text(cell, 24) or "''"


def _parse_row(line: str, line_number: int, fields: Sequence[str], notes: Optional[List[str]] = None) -> Dict[str, Any]:
    """One row as a dict of schema values. A value that cannot be a real reading becomes None
    and is described in NOTES (when given)."""
    cells = [cell.strip() for cell in line.split(",")]
    if len(cells) != len(fields):
        raise InvalidQueryOutput(
            "nvidia-smi line %d has %d values, expected %d (%s): %s"
            % (line_number, len(cells), len(fields), ",".join(fields), _quote(line))
        )
    device: Dict[str, Any] = {}
    found: List[str] = []
    for field, cell in zip(fields, cells):
        known = _KNOWN_FIELDS.get(field)
        convert = known[1] if known else _to_best
        key = _schema_key(field)
        if _is_unavailable(cell):
            device[key] = None
            continue
        try:
            value = convert(cell)
        except _Implausible as exc:
            if field == "index":
                # Not a reading: without its index a row cannot be told apart from the others.
                raise InvalidQueryOutput(
                    "nvidia-smi line %d, field index: %s %s" % (line_number, _short(cell), exc)
                ) from None
            device[key] = None
            found.append("%s %s %s" % (field, _short(cell), exc))
            continue
        except ValueError as exc:
            raise InvalidQueryOutput(
                "nvidia-smi line %d, field %s: %s, got %s" % (line_number, field, exc, _quote(cell))
            ) from exc
        bounds = _READING_RANGES.get(field)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            device[key] = None
            found.append("%s %s is out of range (%g to %g %s)" % (field, _short(cell), bounds[0], bounds[1], bounds[2]))
            continue
        device[key] = value
    used, total = device.get("memory_used_mib"), device.get("memory_total_mib")
    if "memory.used" in fields and used is not None and total is not None and used > total:
        device["memory_used_mib"] = None
        found.append("memory.used %d is more than memory.total %d" % (used, total))
    if found and notes is not None:
        index = device.get("index")
        label = "GPU %d" % index if isinstance(index, int) else "line %d" % line_number
        notes.append("%s: %s" % (label, ", ".join(found)))
    return device


def _data_lines(stdout: str) -> Iterator[Tuple[int, str]]:
    """(line number, line) for every line that should be a CSV row. Lines end at "\n" only:
    str.splitlines would also split a GPU name at a U+2028 or a form feed."""
    for number, line in enumerate(stdout.split("\n"), start=1):
        if line.strip() and not _is_failure_line(line):
            yield number, line


def parse_query_gpu(stdout: str, fields: Sequence[str]) -> List[Dict[str, Any]]:
    """One dict per GPU row, keyed by schema names; unavailable and implausible values are None.

    Raises InvalidQueryOutput, naming the line, for a row that does not fit FIELDS."""
    return [_parse_row(line, number, fields) for number, line in _data_lines(stdout)]


def index_problem(devices: List[Dict[str, Any]]) -> Optional[str]:
    """What is wrong with the rows' GPU indexes, or None: an index must be a whole number from
    0 to 1023, listed once. Rows whose index is unavailable (null) are not judged."""
    seen = set()
    for device in devices:
        index = device.get("index")
        if index is None:
            continue
        if not isinstance(index, int) or not 0 <= index <= _MAX_GPU_INDEX:
            return "nvidia-smi listed GPU index %s, which no GPU has (0 to %d)" % (index, _MAX_GPU_INDEX)
        if index in seen:
            return "nvidia-smi listed GPU index %d twice" % index
        seen.add(index)
    return None


def _exit_note(rc: Optional[int]) -> str:
    return "nvidia-smi exit %d" % rc if rc is not None else "nvidia-smi exit code unknown"


def _bounded(message: str) -> str:
    return clean_text(message, _MESSAGE_LIMIT) or ""


def classify_failure(rc: Optional[int], stdout: str, stderr: str) -> Tuple[str, str]:
    """(status, message) for a failed nvidia-smi run: what is wrong and what to do, one line."""
    lines = [line.strip() for line in (stdout + "\n" + stderr).splitlines() if line.strip()]
    text = "\n".join(lines)
    note = _exit_note(rc)

    if _DRIVER_NOT_LOADED in text:
        return "driver_error", _bounded(
            "NVIDIA driver not loaded (%s: nvidia-smi couldn't communicate with the NVIDIA "
            "driver); install the driver or load its kernel module, or reboot the VM" % note
        )
    if _LIBRARY_MISSING in text:
        return "driver_error", _bounded(
            "NVIDIA management library missing (%s: libnvidia-ml.so not found); reinstall the NVIDIA driver" % note
        )
    for line in lines:
        nvml = _NVML_INIT_RE.search(line)
        if nvml:
            reason = clean_text(nvml.group(1), _QUOTE_LIMIT) or "no reason given"
            return "driver_error", _bounded(
                "NVML failed to initialize: %s (%s); reboot the VM so the loaded kernel module "
                "matches the installed driver, or reinstall the driver" % (reason, note)
            )
    lost = [match for match in map(_DEVICE_HANDLE_RE.search, lines) if match]
    if lost:
        bus_id = clean_text(lost[0].group(1), 40)
        reason = clean_text(lost[0].group(2), _QUOTE_LIMIT) or "no reason given"
        others = " (and %d more GPUs)" % (len(lost) - 1) if len(lost) > 1 else ""
        return "gpu_lost", _bounded(
            "GPU %s unreachable: %s%s (%s); reboot the VM, and replace the VM if it recurs"
            % (bus_id, reason, others, note)
        )
    if _GPU_LOST in text or rc == _EXIT_FELL_OFF_BUS:
        return "gpu_lost", _bounded(
            "a GPU is lost: it fell off the bus (%s); reboot the VM, and replace the VM if it recurs" % note
        )
    if _NO_DEVICES in text:
        return "no_devices", _bounded(
            "no NVIDIA GPU found (%s: No devices were found); check that the VM has a GPU "
            "attached and that /dev/nvidia* is readable by the SSH user" % note
        )
    if rc == _EXIT_DRIVER_NOT_LOADED:
        return "driver_error", _bounded(
            "NVIDIA driver not loaded (%s); install the driver or load its kernel module, or reboot the VM" % note
        )
    if rc == _EXIT_LIBRARY_MISSING:
        return "driver_error", _bounded("NVIDIA management library missing (%s); reinstall the NVIDIA driver" % note)
    if lines:
        return "error", _bounded("nvidia-smi failed (%s): %s" % (note, lines[0]))
    return "error", _bounded("nvidia-smi failed (%s) without any output" % note)


def _parse_what_parses(
    stdout: str, fields: Sequence[str]
) -> Tuple[List[Dict[str, Any]], List[str], Optional[InvalidQueryOutput]]:
    """(devices, notes on implausible readings, first error or None): every row that parses,
    even next to a bad one."""
    devices = []
    notes: List[str] = []
    first_error: Optional[InvalidQueryOutput] = None
    for number, line in _data_lines(stdout):
        try:
            devices.append(_parse_row(line, number, fields, notes))
        except InvalidQueryOutput as exc:
            first_error = first_error or exc
    return devices, notes, first_error


def gpu_section(
    rc: Optional[int],
    stdout: str,
    stderr: str,
    fields: Sequence[str],
    timed_out: bool = False,
    not_found: bool = False,
    binary: str = "nvidia-smi",
    not_executable: bool = False,
    stopped_at: Optional[int] = None,
) -> Dict[str, Any]:
    """The ``gpu`` dict of schema v1 from one nvidia-smi run.

    Rows that parse are kept whatever the outcome, so healthy GPUs next to a lost one (or next
    to one unparsable row) still show. A run that exits 0 yet prints a failure text (a lost GPU
    among healthy ones) is classified like a failed run; one that exits 0 without any row is
    ``no_devices``. A reading that cannot be true is null, and the message (status still ``ok``)
    names it. STOPPED_AT is the byte cap when reading stopped there (the command was killed)."""
    if not_found:
        return {
            "status": "not_installed",
            "message": _bounded(
                "nvidia-smi not found (looked for %s); install the NVIDIA driver or set nvidia_smi_path" % binary
            ),
            "devices": [],
        }
    if not_executable:
        return {
            "status": "error",
            "message": _bounded(
                "nvidia-smi at %s is not executable (%s); make it executable or set nvidia_smi_path"
                % (binary, clean_text(stderr, _QUOTE_LIMIT) or "permission denied")
            ),
            "devices": [],
        }
    if timed_out:
        return {
            "status": "timeout",
            "message": _bounded(
                "nvidia-smi did not answer in time; the driver may be hung (look for Xid "
                "errors in dmesg), reboot the VM if it persists"
            ),
            "devices": [],
        }
    if stopped_at is not None:
        # The kill that ended it was the module's: its exit status says nothing.
        return {
            "status": "error",
            "message": _bounded(
                "nvidia-smi printed more than %s; stopped reading it (a GPU list is a few KiB: "
                "check that %s is NVIDIA's nvidia-smi)" % (byte_size(stopped_at), binary)
            ),
            "devices": [],
        }
    devices, notes, parse_error = _parse_what_parses(stdout, fields)
    failure_printed = any(_is_failure_line(line) for line in (stdout + "\n" + stderr).splitlines())
    bad_index = index_problem(devices)
    if rc != 0 or failure_printed:
        status, message = classify_failure(rc, stdout, stderr)
    elif parse_error is not None:
        status, message = "error", _bounded(str(parse_error))
    elif bad_index is not None:
        status, message = (
            "error",
            _bounded(bad_index + "; its output cannot be trusted (check the driver, reboot the VM)"),
        )
    elif not devices:
        status, message = (
            "no_devices",
            _bounded(
                "nvidia-smi exited 0 but listed no GPU; check that the VM has a GPU attached and "
                "that /dev/nvidia* is readable by the SSH user"
            ),
        )
    elif notes:
        status, message = "ok", _bounded("readings that cannot be true, shown as null: " + "; ".join(notes))
    else:
        status, message = "ok", None
    return {"status": status, "message": message, "devices": devices}
