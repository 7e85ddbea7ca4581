# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health evaluation of one gpufleet.vllm.node_info document (schema version 1,
``docs/schema-v1.md``) against ``Thresholds``, plus the texts built from it: the one-line
summary, the progress line of a wait, and the JUnit XML report (the common JUnit schema that
Jenkins, GitLab and pytest read: testsuites > testsuite > testcase, failure, skipped,
system-out).

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12). Used by the gpufleet.vllm.health_* filters, the health role,
playbooks/health.yml and (for its colours) the dashboard. Everything here is pure and
deterministic: no clock, no I/O. See ``docs/health.md`` for the operator's view of each check.

Rules:
- A check is ``{"name", "status": "ok" | "warn" | "fail", "message"}``; checks come in the
  order of ``BUILTIN_CHECKS``, then the custom checks in the order given.
- A check whose input does not exist is left out rather than guessed: an unreachable host has
  only ``reachable``; a failed GPU query hides the GPU count and temperature; a container that
  does not run hides the engine checks; an unread log hides ``fatal_errors``. So each problem
  is reported once, at its cause. A VM whose model service the collection does not watch
  (container status ``not_watched``: an Ollama VM) has no container or engine checks at all:
  data never read neither fails nor passes them.
- Absent values (``None``) are never read as 0: a missing temperature or KV cache figure is
  reported as not reported, not as cool or empty.
- ``mode="wait"``: a condition that waiting may cure (unreachable, container missing, created,
  restarting, docker daemon down, engine loading) is ``warn`` while ``waited_s`` is below
  ``wait_timeout_s`` and ``fail`` after it; in ``mode="check"`` it fails at once. Everything
  else (fatal log errors, OOM kill, exited container, GPU faults) fails in both modes, so a
  wait ends early on them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence

from ansible_collections.gpufleet.vllm.plugins.module_utils._text import clean_text
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._serving import format_seconds, serving_figures, window_text
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._thresholds import Band, Level, Thresholds

try:
    import jmespath
    from jmespath.exceptions import JMESPathError
except ImportError as exc:  # jmespath is needed only for custom checks
    jmespath = None
    JMESPathError = Exception  # never caught then: compile_custom_checks refuses to run first
    JMESPATH_IMPORT_ERROR: ImportError | None = exc
else:
    JMESPATH_IMPORT_ERROR = None

OK, WARN, FAIL = "ok", "warn", "fail"
# The default of evaluate's ``serving_window`` (and of the dashboard's ``serving``): the caller did
# not compute the figures, so they are computed here (None would mean "no /metrics").
COMPUTED_HERE = object()
MODES = ("check", "wait")
SEVERITIES = (WARN, FAIL)
BUILTIN_CHECKS = (
    "reachable",
    "gpu_driver",
    "gpu_count",
    "gpu_temperature",
    "gpu_foreign_processes",
    "gpu_ecc",
    "gpu_throttle",
    "gpu_xid",
    "container_running",
    "container_restarts",
    "container_oom",
    "fatal_errors",
    "engine_serving",
    "kv_cache",
    "engine_stalled",
    "stats_fresh",
    "http_health",
    "inference_probe",
    "ttft_p90_s",
    "itl_p90_s",
    "request_errors_pct",
)
MESSAGE_LIMIT = 400
JUNIT_SUITE = "gpufleet.vllm.health"
_LEVEL_STATUS = {Level.OK: OK, Level.WARN: WARN, Level.FAIL: FAIL}
_CUSTOM_KEYS = {"name", "expression", "severity", "message"}
_CUSTOM_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
# Characters XML 1.0 cannot carry at all, even escaped.
_XML_INVALID_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Container states a wait may see turn into "running" on their own.
_PENDING_CONTAINER = {
    "missing": "does not exist",
    "created": "was created but has not started",
    "restarting": "is restarting",
}
_PENDING_DOCKER_ERRORS = ("daemon_down", "timeout")
_FAILED_CONTAINER = ("exited", "dead", "paused", "removing")
# node_info's container status for a VM that runs another model service (Ollama).
NOT_WATCHED = "not_watched"


class HealthError(ValueError):
    """A bad argument to the evaluation: an unknown mode, a malformed custom check, or a JMESPath
    expression that does not compile or cannot be applied to the document."""


@dataclasses.dataclass(frozen=True)
class CustomCheck:
    name: str
    expression: str
    severity: str
    message: str | None
    compiled: object = dataclasses.field(compare=False, repr=False)


# --- small readers: the document is untrusted and may be partial --------------------------------


def _section(value: object) -> dict:
    return value if isinstance(value, Mapping) else {}


def _items(value: object) -> list:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _text(value: object, limit: int = MESSAGE_LIMIT) -> str | None:
    if value is None:
        return None
    return clean_text(str(value), limit) or None


def _fmt(value: float) -> str:
    return f"{value:g}"


def format_duration(seconds: float) -> str:
    """``45s``, ``2m10s``, ``30m``, ``1h05m``: how long a wait has run, for people."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"


def _check(name: str, status: str, message: str) -> dict:
    return {"name": name, "status": status, "message": clean_text(message, MESSAGE_LIMIT)}


def _band_text(band: Band, unit: str) -> str:
    return f"warn at {_fmt(band.warn)}{unit}, fail at {_fmt(band.fail)}{unit}"


def _worst(levels: Iterable[Level]) -> Level:
    return max(levels, default=Level.OK)


# --- custom checks -----------------------------------------------------------------------------


def compile_custom_checks(definitions: object) -> list[CustomCheck]:
    """Validate and compile ``[{name, expression, severity?, message?}]``; severity defaults to
    ``fail``. Raises HealthError naming the check for anything malformed."""
    if definitions is None:
        return []
    if not isinstance(definitions, (list, tuple)):
        raise HealthError(f"custom checks must be a list of mappings, not {type(definitions).__name__}")
    checks: list[CustomCheck] = []
    seen: set[str] = set()
    for position, definition in enumerate(definitions, 1):
        if not isinstance(definition, Mapping):
            raise HealthError(f"custom check #{position} must be a mapping with name and expression")
        name = definition.get("name")
        if not isinstance(name, str) or not _CUSTOM_NAME_RE.match(name):
            raise HealthError(f"custom check #{position}: name {name!r} must be letters, digits, '_', '.' or '-'")
        unknown = sorted(set(definition) - _CUSTOM_KEYS)
        if unknown:
            raise HealthError(
                f"custom check {name!r}: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(_CUSTOM_KEYS))}"
            )
        if name in BUILTIN_CHECKS or name in seen:
            raise HealthError(
                f"custom check {name!r}: the name is already used by "
                f"{'a built-in check' if name in BUILTIN_CHECKS else 'another custom check'}"
            )
        seen.add(name)
        expression = definition.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise HealthError(f"custom check {name!r}: expression must be a non-empty JMESPath string")
        severity = definition.get("severity", FAIL)
        if severity not in SEVERITIES:
            raise HealthError(f"custom check {name!r}: severity must be 'warn' or 'fail', not {severity!r}")
        message = definition.get("message")
        if message is not None and not isinstance(message, str):
            raise HealthError(f"custom check {name!r}: message must be a string")
        if jmespath is None:
            raise HealthError(
                f"custom check {name!r} needs the Python library jmespath on the controller "
                f"(pip install jmespath): {JMESPATH_IMPORT_ERROR}"
            )
        try:
            compiled = jmespath.compile(expression)
        except RecursionError as exc:  # jmespath's parser recurses once per nesting level
            raise HealthError(
                f"custom check {name!r}: JMESPath expression {_shown(expression)} nests too deeply "
                "to compile (Python's recursion limit); write it with fewer nested levels"
            ) from exc
        except JMESPathError as exc:
            raise HealthError(
                f"custom check {name!r}: cannot compile JMESPath expression {_shown(expression)}: {_one_line(exc)}"
            ) from exc
        checks.append(CustomCheck(str(name), str(expression), str(severity), message and str(message), compiled))
    return checks


def validate_settings(thresholds: object, custom_checks: object) -> tuple[Thresholds, list[CustomCheck]]:
    """The operator's thresholds (a mapping merged over the defaults) and custom checks, checked
    and compiled once, before any host is polled (the dashboard's settings; the health role
    checks each through filter check_health_settings). Raises HealthError whose message names
    the threshold or the custom check at fault; the caller adds the variable it read them from."""
    try:
        limits = Thresholds.from_mapping(thresholds)
    except ValueError as exc:
        raise HealthError(str(exc)) from exc
    return limits, compile_custom_checks(custom_checks)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _shown(expression: str) -> str:
    # An expression quoted in an error message: an operator's mistake may be thousands of
    # characters long.
    return repr(expression) if len(expression) <= 80 else repr(expression[:80]) + f"... ({len(expression)} characters)"


def _plain(value: object) -> object:
    """Copy into plain dict/list/str/int/float: jmespath type-checks by exact type name, so the
    subclasses Ansible wraps values in would fail ``length()``, ``max()`` and friends."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _jmespath_true(value: object) -> bool:
    # JMESPath truth: false, null, "", [] and {} are false; every number, 0 included, is true.
    return not (value is None or value is False or value in ("", [], {}))


def _evaluate_custom(check: CustomCheck, document: dict) -> dict:
    try:
        result = check.compiled.search(document)
    except RecursionError as exc:  # the interpreter recurses once per nesting level of the expression
        raise HealthError(
            f"custom check {check.name!r}: JMESPath expression {_shown(check.expression)} nests too "
            "deeply to evaluate (Python's recursion limit); write it with fewer nested levels"
        ) from exc
    except JMESPathError as exc:
        raise HealthError(
            f"custom check {check.name!r}: JMESPath expression {_shown(check.expression)} "
            f"failed on this document: {_one_line(exc)}"
        ) from exc
    shown = clean_text(json.dumps(result, sort_keys=True, default=str), 120)
    if _jmespath_true(result):
        return _check(check.name, OK, f"{check.expression} -> {shown}")
    return _check(check.name, check.severity, check.message or f"{check.expression} -> {shown}")


# --- built-in checks ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Context:
    thresholds: Thresholds
    expected_gpu_count: int | None
    mode: str
    waited_s: float | None
    wait_timeout_s: float | None

    @property
    def timed_out(self) -> bool:
        return (
            self.mode == "wait"
            and self.waited_s is not None
            and self.wait_timeout_s is not None
            and self.waited_s >= self.wait_timeout_s
        )

    def pending(self, name: str, message: str) -> dict:
        """A condition that waiting may cure: warn while a wait has time left, fail otherwise."""
        if self.mode == "wait" and not self.timed_out:
            return _check(name, WARN, message)
        if self.mode == "wait" and self.wait_timeout_s is not None:
            message += f"; still so after waiting {format_duration(self.wait_timeout_s)}"
        return _check(name, FAIL, message)


def _gpu_checks(gpu: dict, context: _Context, watches_container: bool) -> list[dict]:
    status = gpu.get("status")
    devices = _items(gpu.get("devices"))
    if status not in ("ok", "no_devices"):
        reason = _text(gpu.get("message")) or "nvidia-smi failed"
        return [_check("gpu_driver", FAIL, f"{status or 'unknown'}: {reason}")]
    note = _text(gpu.get("message")) if status == "ok" else None
    # A message next to "ok" names readings that cannot be true (shown as null): worth a look.
    checks = [
        _check("gpu_driver", WARN, f"nvidia-smi answered: {len(devices)} GPU(s), but {note}")
        if note
        else _check("gpu_driver", OK, f"nvidia-smi answered: {len(devices)} GPU(s)")
    ]
    expected = context.expected_gpu_count
    if expected is None:
        # A GPU VM with no GPU is broken even when nobody said how many to expect.
        checks.append(
            _check("gpu_count", OK, f"{len(devices)} GPU(s), no expected count")
            if devices
            else _check("gpu_count", FAIL, "no GPU found")
        )
    elif len(devices) >= expected:
        checks.append(_check("gpu_count", OK, f"{len(devices)} GPU(s), {expected} expected"))
    else:
        checks.append(_check("gpu_count", FAIL, f"{len(devices)} GPU(s) found, {expected} expected"))
    if devices:
        checks.append(_temperature_check(devices, context.thresholds.temperature_c))
        # Each only when its fields were queried (a document of an older collection, or a
        # gpu_query_fields without them, has no such key): not asked is not healthy.
        # "Other processes" means other than the watched container's: with none watched (an
        # Ollama VM) every holder would count as foreign, the model server itself included.
        if "compute_apps" in gpu and watches_container:
            checks.append(_foreign_processes_check(gpu, context.thresholds.foreign_process_mib))
        if any(key in device for device in devices for key in _ECC_KEYS):
            checks.append(_ecc_check(devices, context.thresholds.ecc_uncorrected_errors))
        if any("clock_event_reasons" in device for device in devices):
            checks.append(_throttle_check(devices))
    return checks


_ECC_KEYS = ("ecc_uncorrected_volatile", "retired_pages_pending", "remapped_rows_pending")


# Clock event reasons that mean the GPU protects itself (heat, power supply), not a setting.
_THROTTLE_WARN = ("hw_slowdown", "hw_thermal_slowdown", "sw_thermal_slowdown", "hw_power_brake_slowdown")
# XIDs after which the GPU (or the node) needs a reset or a replacement; the others are mostly
# an application's fault or recorded-and-handled events, worth a look.
FATAL_XIDS = frozenset((48, 62, 64, 74, 79, 95, 119, 120))


def _device_label(device: Mapping, position: int) -> str:
    index = device.get("index")
    return f"GPU {index if isinstance(index, int) else position}"


def gpu_processes(gpu: Mapping) -> list[dict]:
    """The compute processes of a node_info GPU section (empty when not read)."""
    return _items(_section(gpu.get("compute_apps")).get("processes"))


def holder_text(process: Mapping) -> str:
    """``GPU 0: 50.1 GiB held by PID 3981 python (container 9a8b7c6d5e4f)``."""
    memory = _number(process.get("used_memory_mib"))
    held = f"{memory / 1024:.1f} GiB" if memory is not None else "memory (amount not reported)"
    gpu = process.get("gpu_index")
    where = f"GPU {gpu}: " if isinstance(gpu, int) else ""
    name = _text(process.get("name"), 60)
    container = _text(str(process.get("container_id") or "")[:12], 12)
    owner = f" (container {container})" if container else " (no container)" if process.get("watched") is False else ""
    return f"{where}{held} held by PID {process.get('pid')}{' ' + name if name else ''}{owner}"


def foreign_holders(gpu: Mapping) -> list[dict]:
    """Processes not of the watched container on its GPUs (every GPU when it holds none), the
    largest first. A process that cannot be told apart (watched null) is not counted."""
    processes = gpu_processes(gpu)
    watched_gpus = {process.get("gpu_uuid") for process in processes if process.get("watched") is True}
    foreign = [
        process
        for process in processes
        if process.get("watched") is False and (not watched_gpus or process.get("gpu_uuid") in watched_gpus)
    ]
    return sorted(foreign, key=lambda process: -(_number(process.get("used_memory_mib")) or 0))


def oom_holder(document: Mapping | None) -> str | None:
    """Who holds the GPU memory a CUDA out-of-memory error could not get: the largest holder
    outside the watched container (``holder_text``), or None when none is known."""
    holders = foreign_holders(_section(_section(document).get("gpu")))
    return holder_text(holders[0]) if holders else None


def _foreign_processes_check(gpu: Mapping, threshold_mib: float) -> dict:
    apps = _section(gpu.get("compute_apps"))
    if apps.get("status") not in (None, "ok"):
        return _check(
            "gpu_foreign_processes",
            WARN,
            f"GPU processes not listed: {_text(apps.get('message')) or apps.get('status')}",
        )
    foreign = foreign_holders(gpu)
    unknown = [process for process in gpu_processes(gpu) if process.get("watched") is None]
    unknown_text = f"; {len(unknown)} process(es) whose container could not be told" if unknown else ""
    held = sum(_number(process.get("used_memory_mib")) or 0 for process in foreign)
    if foreign and held >= threshold_mib:
        shown = "; ".join(holder_text(process) for process in foreign[:3])
        more = f" (+{len(foreign) - 3} more)" if len(foreign) > 3 else ""
        return _check(
            "gpu_foreign_processes",
            WARN,
            f"{_fmt(held)} MiB held by other processes: {shown}{more} (warn at {_fmt(threshold_mib)} MiB){unknown_text}",
        )
    return _check(
        "gpu_foreign_processes",
        OK,
        f"{_fmt(held)} MiB held by other processes (warn at {_fmt(threshold_mib)} MiB){unknown_text}",
    )


def _ecc_check(devices: list, band: Band) -> dict:
    readings, pending = [], []
    for position, device in enumerate(devices):
        errors = _number(device.get("ecc_uncorrected_volatile"))
        if errors is not None:
            readings.append((_device_label(device, position), errors))
        if device.get("retired_pages_pending") is True or device.get("remapped_rows_pending") is True:
            pending.append(_device_label(device, position))
    check = _banded_check(
        "gpu_ecc",
        readings,
        band,
        "",
        "ECC errors not reported (ECC off or not queried)",
        "uncorrected ECC errors: at most {value} per GPU",
    )
    if check["status"] != OK:
        check = _check("gpu_ecc", check["status"], f"uncorrected ECC errors: {check['message']}")
    if pending and check["status"] == OK:
        return _check(
            "gpu_ecc",
            WARN,
            f"{', '.join(pending)}: retired pages or remapped rows pending, reset the GPU "
            f"(or reboot the VM) to apply them; {check['message']}",
        )
    if pending:
        return _check("gpu_ecc", check["status"], f"{check['message']}; {', '.join(pending)}: rows pending a reset")
    return check


def _throttle_check(devices: list) -> dict:
    held, reported = [], False
    for position, device in enumerate(devices):
        reasons = device.get("clock_event_reasons")
        if not isinstance(reasons, list):
            continue
        reported = True
        bad = [str(reason) for reason in reasons if reason in _THROTTLE_WARN]
        if bad:
            held.append(f"{_device_label(device, position)}: {', '.join(bad)}")
    if held:
        return _check("gpu_throttle", WARN, "clocks held down by " + "; ".join(held))
    if not reported:
        return _check("gpu_throttle", OK, "clock event reasons not reported")
    return _check("gpu_throttle", OK, "no thermal or hardware slowdown")


def _xid_check(gpu: Mapping) -> dict | None:
    xid = _section(gpu.get("xid"))
    if not xid:
        return None
    if xid.get("status") != "ok":
        return _check("gpu_xid", WARN, _text(xid.get("message")) or "kernel log not readable: XID errors unknown")
    events = _items(xid.get("events"))
    since = _text(xid.get("since"), 40)
    window = f"since {since}" if since else "in this boot"
    if not events:
        return _check("gpu_xid", OK, f"no XID error {window}")
    fatal = [event for event in events if event.get("code") in FATAL_XIDS]
    first = (fatal or events)[0]
    meaning = _text(first.get("meaning"), 80)
    where = _text(first.get("pci_bus_id"), 32)
    text = f"XID {first.get('code')}{' (' + meaning + ')' if meaning else ''}{' on PCI ' + where if where else ''}"
    more = f" (+{len(events) - 1} more {window})" if len(events) > 1 else f" {window}"
    return _check("gpu_xid", FAIL if fatal else WARN, text + more)


def _temperature_check(devices: list, band: Band) -> dict:
    readings = []
    for position, device in enumerate(devices):
        temperature = _number(device.get("temperature_c"))
        if temperature is not None:
            index = device.get("index")
            readings.append((index if isinstance(index, int) else position, temperature))
    readings = [(f"GPU {index}", value) for index, value in readings]
    return _banded_check(
        "gpu_temperature", readings, band, " C", "temperature not reported by nvidia-smi", "hottest GPU at {value}"
    )


def _container_checks(container: dict, context: _Context) -> list[dict]:
    status = container.get("status")
    name = _text(container.get("name"), 100) or "the vLLM container"
    if status == "running":
        started = _text(container.get("started_at"), 40)
        since = f" since {started}" if started else ""
        if container.get("health") == "unhealthy":
            running = _check("container_running", WARN, f"{name} running{since}, but docker reports it unhealthy")
        else:
            running = _check("container_running", OK, f"{name} running{since}")
    elif status in _PENDING_CONTAINER:
        running = context.pending("container_running", f"{name} {_PENDING_CONTAINER[status]}")
    elif status == "error":
        kind = container.get("error_kind")
        message = f"docker: {_text(container.get('message')) or kind or 'error'}"
        running = (
            context.pending("container_running", message)
            if kind in _PENDING_DOCKER_ERRORS
            else _check("container_running", FAIL, message)
        )
    elif status in _FAILED_CONTAINER:
        exit_code = _number(container.get("exit_code"))
        code = f" (exit code {exit_code})" if exit_code is not None and status in ("exited", "dead") else ""
        running = _check("container_running", FAIL, f"{name} is {status}{code}")
    else:
        running = _check("container_running", FAIL, f"{name}: unknown container status {_text(status, 40)!r}")
    checks = [running]
    if status in ("missing", "error") or status is None:
        return checks
    checks.append(_restarts_check(container, context.thresholds.restart_count))
    oom = container.get("oom_killed")
    if oom is True:
        exit_code = _number(container.get("exit_code"))
        code = f" (exit code {exit_code})" if exit_code is not None else ""
        checks.append(
            _check(
                "container_oom", FAIL, f"the kernel OOM killer stopped the container{code}: host memory, not GPU memory"
            )
        )
    else:
        checks.append(_check("container_oom", OK, "not OOM-killed" if oom is False else "OOM state not reported"))
    return checks


def _restarts_check(container: dict, band: Band) -> dict:
    count = _number(container.get("restart_count"))
    if count is None:
        return _check("container_restarts", OK, "restart count not reported")
    status = _LEVEL_STATUS[band.level(count)]
    return _check("container_restarts", status, f"{_fmt(count)} restart(s) since created ({_band_text(band, '')})")


def _fatal_errors_check(vllm: dict, gpu: Mapping) -> dict | None:
    log_status = vllm.get("log_status")
    if log_status == "not_read":
        return None
    # clock_ahead: the log was read (its errors count), only its times cannot be trusted;
    # engine_serving reports that.
    if log_status not in ("ok", "clock_ahead"):
        reason = _text(vllm.get("message")) or "no reason given"
        return _check("fatal_errors", WARN, f"log not read ({log_status or 'unknown'}): {reason}")
    errors = _items(vllm.get("errors"))
    if not errors:
        return _check("fatal_errors", OK, "no fatal error since the container started")
    first = errors[0]
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    holders = foreign_holders(gpu) if first.get("kind") == "cuda_oom" else []
    # Named first: the message is cut at MESSAGE_LIMIT, and who holds the memory is the answer.
    holder = f"{holder_text(holders[0])}; " if holders else ""
    return _check(
        "fatal_errors", FAIL, f"{_text(first.get('kind'), 40) or 'error'}: {holder}{_text(first.get('message'))}{more}"
    )


def _loading_text(loading: dict) -> str:
    stage = _text(loading.get("stage"), 40) or "starting"
    progress = _number(loading.get("progress_pct"))
    return f"{stage} {_fmt(progress)}%" if progress is not None else stage


def _engine_serving_check(vllm: dict, context: _Context) -> dict:
    phase = vllm.get("phase")
    if phase == "serving":
        return _check("engine_serving", OK, "serving requests")
    if phase == "idle":
        return _check("engine_serving", OK, "ready, no requests in the latest stats interval")
    if phase == "loading":
        loading = _section(vllm.get("loading"))
        detail = _text(loading.get("message"), 200)
        return context.pending(
            "engine_serving", f"loading: {_loading_text(loading)}" + (f" ({detail})" if detail else "")
        )
    if phase == "failed":
        return _check("engine_serving", FAIL, f"failed: {_text(vllm.get('message')) or 'fatal error in the log'}")
    reason = _text(vllm.get("message")) or "no reason given"
    if phase == "unknown" and vllm.get("log_status") != "unsupported":
        return context.pending("engine_serving", f"state unknown: {reason}")
    return _check("engine_serving", FAIL, f"{_text(phase, 40) or 'unknown'}: {reason}")


def _engine_label(engine: Mapping) -> str:
    aggregated = _number(engine.get("aggregated_engines"))
    if aggregated is not None:
        return f"{_fmt(aggregated)} engines aggregated"
    index = _number(engine.get("engine"))
    return f"engine {_fmt(index)}" if index is not None else "engine"


def _kv_cache_check(engines: list, band: Band) -> dict:
    readings = [(_engine_label(engine), _number(engine.get("kv_cache_pct"))) for engine in engines]
    readings = [(label, value) for label, value in readings if value is not None]
    return _banded_check(
        "kv_cache", readings, band, "%", "no KV cache usage logged since the container started", "highest usage {value}"
    )


def _banded_check(name: str, readings: list, band: Band, unit: str, unreported: str, ok_text: str) -> dict:
    """One check over (label, value) readings against BAND: ok names the highest value, warn/fail
    names every reading at or above its band."""
    if not readings:
        return _check(name, OK, unreported)
    limits = _band_text(band, unit)
    level = _worst(band.level(value) for _label, value in readings)
    if level == Level.OK:
        highest = max(value for _label, value in readings)
        return _check(name, OK, "%s (%s)" % (ok_text.format(value=_fmt(highest) + unit), limits))
    over = ", ".join(f"{label} at {_fmt(value)}{unit}" for label, value in readings if band.level(value) != Level.OK)
    return _check(name, _LEVEL_STATUS[level], f"{over} ({limits})")


def _engine_stalled_check(engines: list, stale_after_s: float) -> dict:
    stalled = []
    for engine in engines:
        age = _number(engine.get("age_s"))
        running = _number(engine.get("running"))
        generation = _number(engine.get("generation_tps"))
        prompt = _number(engine.get("prompt_tps"))
        if age is not None and age > stale_after_s:
            continue  # an old line is stats_fresh's business
        # Prompt tokens still flowing is a long prefill, not a stall.
        if running and generation == 0 and not prompt:
            stalled.append(f"{_engine_label(engine)}: {_fmt(running)} running at 0 tok/s")
    if stalled:
        return _check("engine_stalled", FAIL, "; ".join(stalled))
    return _check("engine_stalled", OK, "no engine with running requests at 0 tok/s")


def _stats_fresh_check(engines: list, stale_after_s: float) -> dict:
    stale = []
    for engine in engines:
        age = _number(engine.get("age_s"))
        running, waiting = _number(engine.get("running")), _number(engine.get("waiting"))
        if age is not None and age > stale_after_s and ((running or 0) + (waiting or 0)) > 0:
            counts = ", ".join(
                f"{_fmt(value) if value is not None else '?'} {what}"
                for value, what in ((running, "running"), (waiting, "waiting"))
            )
            stale.append(f"{_engine_label(engine)}: last stats {_fmt(round(age))} s ago with {counts}")
    if stale:
        # vLLM logs every 10 s while requests run, and demotes the line to DEBUG only when
        # throughput stays 0: silence with requests in flight means a hung engine.
        return _check(
            "stats_fresh", FAIL, "; ".join(stale) + f" (stale after {_fmt(stale_after_s)} s): engine may be hung"
        )
    return _check("stats_fresh", OK, f"no stats older than {_fmt(stale_after_s)} s while requests were in flight")


# HTTP answers of /health that mean the engine is dead: 503 from vLLM 0.11, 500 before.
_ENGINE_DEAD_STATUSES = (500, 503)
# Engine phases (from the log) that already explain why nothing listens on the port: vLLM
# refuses connections while it loads and once it stopped; a connection dropped or unanswered as
# the server goes down is the same. The log's checks judge such a VM, not http_health.
_PHASES_WITHOUT_SERVER = ("loading", "stopped", "failed")
_NO_ANSWER = ("refused", "timeout", "error")


def _http_checks(document: Mapping, figures: Mapping | None, context: _Context) -> list[dict]:
    """The checks of vLLM's HTTP endpoints (node_info's ``http`` section): /health, the probe, and
    the latency and error FIGURES of /metrics (``serving_figures``: over the window since the same
    host's preceding document, or since the server started). Each is left out when its input is."""
    http = _section(document.get("http"))
    if not http:
        return []
    checks = []
    health = _section(http.get("health"))
    status, code = health.get("status"), _number(health.get("http_status"))
    reason = _text(health.get("message")) or "no reason given"
    phase = _section(document.get("vllm")).get("phase")
    if status == "ok":
        checks.append(_check("http_health", OK, f"GET /health answered {_fmt(code) if code is not None else 'OK'}"))
    elif status == "http_status" and code in _ENGINE_DEAD_STATUSES:
        checks.append(_check("http_health", FAIL, f"engine dead: GET /health answered HTTP {_fmt(code)}"))
    elif status in _NO_ANSWER and phase in _PHASES_WITHOUT_SERVER:
        pass
    elif status in ("refused", "timeout"):
        checks.append(context.pending("http_health", reason))
    elif status in ("http_status", "not_vllm", "too_large", "error"):
        checks.append(_check("http_health", FAIL, reason))
    probe = http.get("probe")
    if isinstance(probe, Mapping) and not (probe.get("status") in _NO_ANSWER and phase in _PHASES_WITHOUT_SERVER):
        checks.append(_probe_check(probe, context.thresholds.probe_latency_s))
    if figures is None:
        return checks
    when = window_text(figures)
    for name, key, band in (
        ("ttft_p90_s", "ttft_s", context.thresholds.ttft_p90_s),
        ("itl_p90_s", "itl_s", context.thresholds.itl_p90_s),
    ):
        latency = figures.get(key)
        if not latency or latency.get("p90") is None:
            continue
        at_least = "at least " if latency.get("over_highest_bucket") else ""
        status = _LEVEL_STATUS[band.level(latency["p90"])]
        checks.append(
            _check(
                name,
                status,
                (
                    f"p90 {at_least}{format_seconds(latency['p90'])} (p50 {format_seconds(latency['p50'])}, "
                    f"p99 {at_least}{format_seconds(latency['p99'])}; {_fmt(latency['count'])} observations {when}; "
                    f"{_band_text(band, ' s')})"
                ),
            )
        )
    errors_pct = figures.get("errors_pct")
    if errors_pct is not None:
        band = context.thresholds.request_errors_pct
        checks.append(
            _check(
                "request_errors_pct",
                _LEVEL_STATUS[band.level(errors_pct)],
                (
                    f"{_fmt(errors_pct)}% errors ({_fmt(figures['errors'])} aborted, failed or HTTP 5xx of "
                    f"{_fmt(figures['requests'] or 0)} finished {when}; {_band_text(band, '%')})"
                ),
            )
        )
    return checks


def _probe_check(probe: Mapping, slow_s: float) -> dict:
    latency = _number(probe.get("latency_s"))
    model = _text(probe.get("model"), 100)
    what = f"1-token completion of {model}" if model else "1-token completion"
    if probe.get("status") != "ok":
        took = f" after {format_seconds(latency)}" if latency is not None else ""
        return _check(
            "inference_probe", FAIL, f"{what} failed{took}: {_text(probe.get('message')) or probe.get('status')}"
        )
    if latency is not None and latency > slow_s:
        return _check(
            "inference_probe",
            WARN,
            f"{what} answered in {format_seconds(latency)} (warn above {format_seconds(slow_s)})",
        )
    return _check("inference_probe", OK, f"{what} answered in {format_seconds(latency)}")


def evaluate(
    document: Mapping | None,
    thresholds: Thresholds,
    *,
    expected_gpu_count: int | None = None,
    mode: str = "check",
    waited_s: float | None = None,
    wait_timeout_s: float | None = None,
    reachable: bool = True,
    error: str | None = None,
    custom_checks: Sequence[Mapping] = (),
    previous: Mapping | None = None,
    serving_window: Mapping | None | object = COMPUTED_HERE,
) -> list[dict]:
    """Checks of one host, in a fixed order (``BUILTIN_CHECKS``, then the custom checks).

    ``document`` is the node_info result; ``reachable=False`` (with the connection ``error``)
    or ``document=None`` (with the module's ``error``) gives the single ``reachable`` check.
    ``expected_gpu_count`` None means at least one GPU. ``mode="wait"`` with ``waited_s`` and
    ``wait_timeout_s`` turns curable conditions into warnings until the timeout, and evaluates
    custom checks only once the engine serves. ``serving_window``: the document's serving figures over
    the window since ``previous`` when the caller has them already (``_serving.serving_figures``,
    None without /metrics). Raises HealthError for a bad mode, a bad custom check or a custom
    expression that fails on this document.
    """
    if mode not in MODES:
        raise HealthError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if expected_gpu_count is not None and (
        isinstance(expected_gpu_count, bool) or not isinstance(expected_gpu_count, int) or expected_gpu_count < 0
    ):
        raise HealthError(f"expected GPU count must be a whole number >= 0, not {expected_gpu_count!r}")
    # Compiled first, so that a bad expression is an error even on a host that is down.
    compiled = compile_custom_checks(custom_checks)
    context = _Context(thresholds, expected_gpu_count, mode, waited_s, wait_timeout_s)

    if not reachable:
        return [context.pending("reachable", f"unreachable: {_text(error) or 'no reason given'}")]
    if not isinstance(document, Mapping):
        return [_check("reachable", FAIL, f"no node_info document: {_text(error) or 'no reason given'}")]
    collected = _text(document.get("collected_at"), 40)
    checks = [_check("reachable", OK, f"collected at {collected}" if collected else "collected")]
    gpu = _section(document.get("gpu"))
    container = _section(document.get("container"))
    checks += _gpu_checks(gpu, context, watches_container=container.get("status") != NOT_WATCHED)
    # Also when nvidia-smi fails: XID 79 is why a GPU is lost.
    xid = _xid_check(gpu)
    if xid is not None:
        checks.append(xid)
    if container.get("status") != NOT_WATCHED:
        checks += _container_checks(container, context)
    vllm = _section(document.get("vllm"))
    fatal = _fatal_errors_check(vllm, gpu)
    if fatal is not None:
        checks.append(fatal)
    if container.get("status") == "running":
        serving = _engine_serving_check(vllm, context)
        checks.append(serving)
        engines = _items(vllm.get("engines"))
        checks.append(_kv_cache_check(engines, thresholds.kv_cache_pct))
        checks.append(_engine_stalled_check(engines, thresholds.stats_stale_s))
        checks.append(_stats_fresh_check(engines, thresholds.stats_stale_s))
    else:
        serving = None
    if serving_window is COMPUTED_HERE:
        serving_window = serving_figures(document, previous)
    checks += _http_checks(document, serving_window, context)
    # While a wait goes on, an expression over a half-loaded engine would fail for nothing.
    if compiled and (mode == "check" or (serving is not None and serving["status"] == OK)):
        plain = _plain(document)
        checks += [_evaluate_custom(check, plain) for check in compiled]
    return checks


# --- what is built from the checks -------------------------------------------------------------


def overall_status(checks: Iterable[Mapping]) -> str:
    """The worst status of the checks: ``fail`` > ``warn`` > ``ok``."""
    statuses = {check.get("status") for check in checks}
    return FAIL if FAIL in statuses else WARN if WARN in statuses else OK


def summary_line(host: str, checks: list[Mapping] | None) -> str:
    """``vm1: FAIL 2 failed (gpu_count, kv_cache), 1 warned (container_restarts), 9 ok``;
    ``vm1: SKIPPED not evaluated`` for None."""
    host = clean_text(str(host), 100)
    if checks is None:
        return f"{host}: SKIPPED not evaluated"
    parts = []
    for status, noun in ((FAIL, "failed"), (WARN, "warned")):
        names = [str(check.get("name")) for check in checks if check.get("status") == status]
        if names:
            parts.append(f"{len(names)} {noun} ({', '.join(names)})")
    parts.append(f"{sum(1 for check in checks if check.get('status') == OK)} ok")
    return f"{host}: {overall_status(checks).upper()} {', '.join(parts)}"


def progress_line(checks: list[Mapping], waited_s: float | None, wait_timeout_s: float | None) -> str:
    """One line per poll of a wait: time spent, then what matters most now: a fatal log error,
    else the first failure, else the engine's state (loading stage and percent), else the first
    warning."""
    clock = ""
    if waited_s is not None:
        allowed = f"/{format_duration(wait_timeout_s)}" if wait_timeout_s is not None else ""
        clock = f"[{format_duration(waited_s)}{allowed}] "
    failed = [check for check in checks if check.get("status") == FAIL]
    # A crashed engine also fails container_running; the log error says why, so it goes first.
    failed.sort(key=lambda check: check.get("name") != "fatal_errors")
    engine = [check for check in checks if check.get("name") == "engine_serving"]
    warned = [check for check in checks if check.get("status") == WARN]
    chosen = (failed or engine or warned or [None])[0]
    if chosen is None:
        return f"{clock}no checks"
    return f"{clock}{chosen.get('status')}: {chosen.get('name')}: {chosen.get('message')}"


def _xml_text(value: object) -> str:
    return _XML_INVALID_RE.sub("", str(value))


def junit_xml(results: Mapping[str, list[Mapping] | None], *, suite_name: str = JUNIT_SUITE) -> str:
    """JUnit XML for ``{host: checks}``: one testcase per host and check, named
    ``host :: check`` with the host as classname. ``fail`` is a <failure>, ``warn`` passes with
    ``WARN: message`` in <system-out> (a warning is not a failure, nor a test that did not run),
    a host whose checks are None is one <skipped> testcase ``host :: health``. Text goes in as
    element text and attributes, escaped by ElementTree."""
    suites = ET.Element("testsuites", name=_xml_text(suite_name))
    suite = ET.SubElement(suites, "testsuite", name=_xml_text(suite_name))
    tests = failures = skipped = 0
    for host, checks in results.items():
        # As in summary_line: a name may hold format characters (bidi marks) like any VM text.
        host = _xml_text(clean_text(str(host), 100))
        if checks is None:
            case = ET.SubElement(suite, "testcase", classname=host, name=f"{host} :: health", time="0")
            ET.SubElement(case, "skipped", message="not evaluated (host skipped or not provisioned)")
            tests += 1
            skipped += 1
            continue
        for check in checks:
            status = check.get("status")
            message = _xml_text(clean_text(str(check.get("message") or ""), MESSAGE_LIMIT))
            case = ET.SubElement(
                suite, "testcase", classname=host, name=f"{host} :: {_xml_text(check.get('name'))}", time="0"
            )
            tests += 1
            if status == FAIL:
                failures += 1
                failure = ET.SubElement(case, "failure", message=message, type="fail")
                failure.text = message
            else:
                ET.SubElement(case, "system-out").text = f"{str(status).upper()}: {message}"
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
        element.set("skipped", str(skipped))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
