# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vLLM's HTTP endpoints as a second source of node_info: /health, /version, /v1/models,
/metrics (Prometheus text) and an optional one-token completion (the probe).

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8. The section is described in
docs/schema-v1.md ("http") and in the node_info module's RETURN.

Why http.client and not urllib: no proxy from the environment can take a loopback request
elsewhere, no redirect is followed, and no Accept or Accept-Encoding header is sent (so every
vLLM version answers plain text, never OpenMetrics nor gzip). Every failure is classified
(``refused``, ``timeout``, ``http_status``, ``not_vllm``, ``too_large``, ``error``) and bounded;
nothing here raises to the caller.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import socket
import time
from typing import Dict, NamedTuple, Optional, Tuple

from ansible_collections.gpufleet.vllm.plugins.module_utils import _prometheus
from ansible_collections.gpufleet.vllm.plugins.module_utils._text import byte_size, clean_text

# A 0.11 body with every family is ~50 KiB; DP engines and LoRA adapters multiply it.
METRICS_BYTES_LIMIT = 4 * 1024 * 1024
JSON_BYTES_LIMIT = 256 * 1024
MAX_ENGINES = 64
MAX_MODELS = 32
MAX_BUCKETS = 64
PROBE_PROMPT = "Hi"
_READ_CHUNK = 64 * 1024
_HOST_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?)\Z")

# Wire names, looked up exactly (a prefix would also catch _created and newer families).
GAUGES = {
    "running": ("vllm:num_requests_running",),
    "waiting": ("vllm:num_requests_waiting",),
    # 0.9.2 renamed the KV cache gauge; 0.12 removed the old name. Both are 0-1.
    "kv_cache_pct": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
}
COUNTERS = {
    "prompt_tokens_total": ("vllm:prompt_tokens_total",),
    "generation_tokens_total": ("vllm:generation_tokens_total",),
    "preemptions_total": ("vllm:num_preemptions_total",),
    "prefix_cache_queries_total": ("vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"),
    "prefix_cache_hits_total": ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"),
}
REQUESTS_FINISHED = "vllm:request_success_total"
# Inter-token latency is vllm:time_per_output_token_seconds before 0.10.2 (removed in 0.15).
HISTOGRAMS = {
    "ttft_s": ("vllm:time_to_first_token_seconds",),
    "itl_s": ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    "e2e_s": ("vllm:e2e_request_latency_seconds",),
    "queue_s": ("vllm:request_queue_time_seconds",),
}
HTTP_REQUESTS = "http_requests_total"
_ENGINE_LABEL = "engine"


class Response(NamedTuple):
    """One request's outcome: ``kind`` ok (2xx), http_status, refused, timeout, too_large or
    error; ``status`` the HTTP status when one came back."""

    kind: str
    status: Optional[int]
    body: bytes
    message: Optional[str]
    elapsed_s: float


def validate_host(host: str) -> None:
    if not isinstance(host, str) or not _HOST_RE.match(host):
        raise ValueError("http_host must be a host name or an IP address, got %r" % (str(host)[:60],))


def request(
    host: str,
    port: int,
    method: str,
    path: str,
    timeout: float,
    max_bytes: int,
    body: Optional[bytes] = None,
    headers: Optional[Dict[str, str]] = None,
) -> Response:
    """One HTTP request with TIMEOUT for the whole exchange and at most MAX_BYTES of body read."""
    url = "%s %s" % (method, path)
    started = time.monotonic()
    deadline = started + timeout
    connection = http.client.HTTPConnection(host.strip("[]"), port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        chunks = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout()
            if connection.sock is not None:
                connection.sock.settimeout(remaining)
            chunk = reply.read(min(_READ_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                return Response(
                    "too_large",
                    reply.status,
                    b"",
                    "%s answered more than %s; not read" % (url, byte_size(max_bytes)),
                    time.monotonic() - started,
                )
        data = b"".join(chunks)
        elapsed = time.monotonic() - started
        if 200 <= reply.status < 300:
            return Response("ok", reply.status, data, None, elapsed)
        return Response(
            "http_status",
            reply.status,
            data,
            "%s answered HTTP %d%s" % (url, reply.status, _error_detail(data)),
            elapsed,
        )
    except ConnectionRefusedError:
        return Response(
            "refused",
            None,
            b"",
            "%s: connection refused on %s:%d (vLLM still loading, stopped, or on another port)" % (url, host, port),
            time.monotonic() - started,
        )
    except (socket.timeout, TimeoutError):
        return Response("timeout", None, b"", "%s: no answer within %gs" % (url, timeout), time.monotonic() - started)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return Response(
            "error",
            None,
            b"",
            "%s: %s" % (url, clean_text(str(exc) or type(exc).__name__, 200)),
            time.monotonic() - started,
        )
    finally:
        connection.close()


def _json(data: bytes):
    try:
        return json.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None


def error_message(data: bytes) -> Optional[str]:
    """The message of a vLLM error body: ``{"error": {"message": ...}}`` (0.10.1+),
    ``{"object": "error", "message": ...}`` (before), ``{"error": "Unauthorized"}`` (the API key
    check) or FastAPI's ``{"detail": ...}``."""
    parsed = _json(data)
    if not isinstance(parsed, dict):
        return None
    error = parsed.get("error")
    if isinstance(error, dict):
        message = error.get("message")
    elif isinstance(error, str):
        message = error
    else:
        message = parsed.get("message", parsed.get("detail"))
    return clean_text(message if isinstance(message, str) else json.dumps(message), 200) if message else None


def _error_detail(data: bytes) -> str:
    message = error_message(data)
    return ": %s" % message if message else ""


def _section(response: Response) -> dict:
    return {"status": response.kind, "http_status": response.status, "message": response.message}


def _unauthorized(section: dict, api_key: Optional[str]) -> None:
    if section["http_status"] == 401:
        section["message"] = (
            "API key refused (HTTP 401): check api_key"
            if api_key
            else "API key required (HTTP 401): set api_key (gpufleet_vllm_api_key)"
        )


# --- /metrics -----------------------------------------------------------------------------------


def _finite(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None


def _engine_key(labels: Dict[str, str]) -> Optional[str]:
    return labels.get(_ENGINE_LABEL)


def _first_present(exposition: _prometheus.Exposition, names) -> Optional[str]:
    for name in names:
        if name in exposition.samples:
            return name
    return None


def _histogram(exposition: _prometheus.Exposition, name: str) -> Dict[Optional[str], dict]:
    """Per engine: cumulative finite buckets [[le, count]], count and sum, summed over the other
    labels (several API servers, pid). A histogram whose buckets are not cumulative is left out."""
    per_engine: Dict[Optional[str], dict] = {}
    for sample in exposition.samples.get(name + "_bucket", ()):
        bound = _prometheus.parse_value(sample.labels.get("le", ""))
        if bound is None or math.isnan(bound) or math.isinf(bound) or not math.isfinite(sample.value):
            continue
        entry = per_engine.setdefault(_engine_key(sample.labels), {"buckets": {}, "count": None, "sum": None})
        entry["buckets"][bound] = entry["buckets"].get(bound, 0.0) + sample.value
    for suffix in ("count", "sum"):
        for sample in exposition.samples.get(name + "_" + suffix, ()):
            entry = per_engine.setdefault(_engine_key(sample.labels), {"buckets": {}, "count": None, "sum": None})
            if math.isfinite(sample.value):
                entry[suffix] = (entry[suffix] or 0.0) + sample.value
    result = {}
    for engine, entry in per_engine.items():
        bounds = sorted(entry["buckets"])[:MAX_BUCKETS]
        counts = [entry["buckets"][bound] for bound in bounds]
        if (
            entry["count"] is None
            or any(later < earlier for earlier, later in zip(counts, counts[1:]))
            or (counts and counts[-1] > entry["count"])
            or entry["count"] < 0
        ):
            continue
        first, last = _informative_span(counts, entry["count"])
        result[engine] = {
            "metric": name,
            "buckets": [[bound, count] for bound, count in zip(bounds[first:last], counts[first:last])],
            "count": entry["count"],
            "sum": entry["sum"],
        }
    return result


def _informative_span(counts: list, total: float) -> Tuple[int, int]:
    """The slice of cumulative COUNTS that says something: the leading buckets that are still
    empty and the trailing ones that already hold all TOTAL observations say nothing the edge
    bucket kept on each side does not (the reader fills them in: 0 below, TOTAL above). vLLM's
    histograms have 10-40 bounds and a serving engine fills a few, and every value a document
    carries is copied and converted several times per refresh on the controller."""
    first, last = 0, len(counts)
    while first + 1 < last and counts[first + 1] == 0:
        first += 1
    while last - 1 > first and counts[last - 2] >= total:
        last -= 1
    return first, last


def metrics_summary(exposition: _prometheus.Exposition) -> dict:
    """The series the collection uses, per engine (``engine`` label; V0 has none), and the API
    server's HTTP requests by status class. Counters and histograms are summed over other labels,
    gauges take the highest value (several API servers report KV cache usage once per ``pid``)."""
    engines: Dict[Optional[str], dict] = {}

    def engine(key: Optional[str]) -> dict:
        if key not in engines:
            engines[key] = {"engine": key, "model_name": None, "requests_finished": {}, "histograms": {}}
            for field in list(GAUGES) + list(COUNTERS):
                engines[key][field] = None
        return engines[key]

    for field, names in GAUGES.items():
        name = _first_present(exposition, names)
        for sample in exposition.samples.get(name, ()) if name else ():
            value = _finite(sample.value)
            # -1 means "not supported or disabled" for V0 cache gauges.
            if value is None or value < 0:
                continue
            if field == "kv_cache_pct":
                value = round(value * 100.0, 3)
            entry = engine(_engine_key(sample.labels))
            entry["model_name"] = entry["model_name"] or sample.labels.get("model_name")
            entry[field] = value if entry[field] is None else max(entry[field], value)
    for field, names in COUNTERS.items():
        name = _first_present(exposition, names)
        for sample in exposition.samples.get(name, ()) if name else ():
            value = _finite(sample.value)
            if value is None or value < 0:
                continue
            entry = engine(_engine_key(sample.labels))
            entry["model_name"] = entry["model_name"] or sample.labels.get("model_name")
            entry[field] = (entry[field] or 0.0) + value
    for sample in exposition.samples.get(REQUESTS_FINISHED, ()):
        value = _finite(sample.value)
        reason = clean_text(sample.labels.get("finished_reason") or "unknown", 40)
        if value is None or value < 0:
            continue
        entry = engine(_engine_key(sample.labels))
        entry["requests_finished"][reason] = entry["requests_finished"].get(reason, 0.0) + value
    for field, names in HISTOGRAMS.items():
        name = _first_present(exposition, [candidate + "_bucket" for candidate in names])
        if name is None:
            continue
        for key, histogram in _histogram(exposition, name[: -len("_bucket")]).items():
            engine(key)["histograms"][field] = histogram
    http_requests: Dict[str, float] = {}
    for sample in exposition.samples.get(HTTP_REQUESTS, ()):
        status = sample.labels.get("status", "")
        value = _finite(sample.value)
        if value is None or value < 0 or not status[:1].isdigit():
            continue
        status_class = status[0] + "xx"
        http_requests[status_class] = http_requests.get(status_class, 0.0) + value
    ordered = sorted(engines.values(), key=lambda entry: (_engine_order(entry["engine"]), str(entry["engine"])))
    for entry in ordered:
        entry["engine"] = _engine_number(entry["engine"])
        entry["model_name"] = clean_text(entry["model_name"], 200)
    return {
        "engines": ordered[:MAX_ENGINES],
        "http_requests": http_requests or None,
        "lines_skipped": exposition.skipped,
    }


def _engine_order(key: Optional[str]) -> int:
    number = _engine_number(key)
    return number if number is not None else -1


def _engine_number(key: Optional[str]) -> Optional[int]:
    return int(key) if key is not None and key.isdigit() and len(key) < 6 else None


# --- the endpoints ------------------------------------------------------------------------------


def failed_section(message: str) -> dict:
    """The ``http`` section when reading it failed in an unforeseen way: every endpoint ``error``."""
    failed = {"status": "error", "http_status": None, "message": message}
    return {"url": None, "health": dict(failed), "version": None, "models": None, "metrics": None, "probe": None}


def collect_http(
    host: str, port: int, timeout: float, api_key: Optional[str] = None, probe: bool = False, requester=request
) -> dict:
    """The ``http`` section: every endpoint classified. When the server cannot be reached at all
    (refused, timeout) the others are not tried: they would only add as many timeouts."""
    base = "http://%s:%d" % (host if ":" not in host or host.startswith("[") else "[%s]" % host, port)
    document = {"url": base, "health": None, "version": None, "models": None, "metrics": None, "probe": None}
    auth = {"Authorization": "Bearer " + api_key} if api_key else {}

    health = requester(host, port, "GET", "/health", timeout, JSON_BYTES_LIMIT)
    document["health"] = _section(health)
    if health.kind in ("refused", "timeout"):
        skipped = {"status": health.kind, "http_status": None, "message": "not tried: " + (health.message or "")}
        for key in ("version", "models", "metrics"):
            document[key] = dict(skipped)
        if probe:
            document["probe"] = dict(skipped, model=None, latency_s=None)
        return document

    metrics = requester(host, port, "GET", "/metrics", timeout, METRICS_BYTES_LIMIT)
    document["metrics"] = _metrics_section(metrics)

    version = requester(host, port, "GET", "/version", timeout, JSON_BYTES_LIMIT)
    section = _section(version)
    parsed = _json(version.body) if version.kind == "ok" else None
    section["version"] = (
        clean_text(parsed["version"], 60)
        if isinstance(parsed, dict) and isinstance(parsed.get("version"), str)
        else None
    )
    if version.kind == "ok" and section["version"] is None:
        section.update(status="not_vllm", message="GET /version answered without a vLLM version")
    document["version"] = section

    models = requester(host, port, "GET", "/v1/models", timeout, JSON_BYTES_LIMIT, headers=auth)
    document["models"] = _models_section(models, api_key)

    if probe:
        served = document["models"].get("models") or []
        document["probe"] = probe_completion(
            host, port, timeout, served[0]["id"] if served else None, auth, api_key, requester
        )
    return document


def _metrics_section(response: Response) -> dict:
    section = _section(response)
    section.update(engines=[], http_requests=None, lines_skipped=None)
    if response.kind != "ok":
        return section
    exposition = _prometheus.parse(response.body.decode("utf-8", "replace"))
    if not any(name.startswith("vllm:") for name in exposition.samples):
        section.update(
            status="not_vllm",
            message="GET /metrics answered without a single vllm: series; is vLLM serving on this port?",
        )
        return section
    section.update(metrics_summary(exposition))
    if exposition.skipped:
        section["message"] = "%d line(s) of /metrics did not parse and were skipped" % exposition.skipped
    return section


def _models_section(response: Response, api_key: Optional[str]) -> dict:
    section = _section(response)
    section["models"] = []
    _unauthorized(section, api_key)
    if response.kind != "ok":
        return section
    parsed = _json(response.body)
    cards = parsed.get("data") if isinstance(parsed, dict) else None
    if not isinstance(cards, list):
        section.update(status="not_vllm", message="GET /v1/models answered without a model list")
        return section
    for card in cards[:MAX_MODELS]:
        if isinstance(card, dict) and isinstance(card.get("id"), str):
            length = card.get("max_model_len")
            section["models"].append(
                {
                    "id": clean_text(card["id"], 200),
                    "max_model_len": length
                    if isinstance(length, int) and not isinstance(length, bool) and 0 < length < 1 << 40
                    else None,
                }
            )
    return section


def probe_completion(
    host: str,
    port: int,
    timeout: float,
    model: Optional[str],
    auth: Dict[str, str],
    api_key: Optional[str],
    requester=request,
) -> dict:
    """One ``POST /v1/completions`` with ``max_tokens: 1``: does the model answer, and how fast.
    Without a model id (``/v1/models`` failed) vLLM 0.8+ uses its first served model."""
    payload = {"prompt": PROBE_PROMPT, "max_tokens": 1}
    if model:
        payload["model"] = model
    headers = dict(auth, **{"Content-Type": "application/json"})
    response = requester(
        host,
        port,
        "POST",
        "/v1/completions",
        timeout,
        JSON_BYTES_LIMIT,
        body=json.dumps(payload).encode(),
        headers=headers,
    )
    section = _section(response)
    section.update(
        model=model, latency_s=round(response.elapsed_s, 4) if response.kind in ("ok", "http_status") else None
    )
    _unauthorized(section, api_key)
    if response.kind == "ok":
        parsed = _json(response.body)
        if not (isinstance(parsed, dict) and isinstance(parsed.get("choices"), list)):
            section.update(status="not_vllm", message="POST /v1/completions answered 2xx without choices")
    return section
