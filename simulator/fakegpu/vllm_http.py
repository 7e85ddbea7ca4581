# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vLLM's HTTP server, simulated: /health, /version, /v1/models, /v1/completions and /metrics
in the Prometheus text of four version families, with counters that advance with time.

    python3 -m fakegpu.vllm_http DIR... [--host 127.0.0.1] [--port 0] [--mode scenario]

Standard library only, Python >= 3.8. Binds to the given address only (loopback by default; in
the SSH test fleet, the namespace's own address). Reads ``DIR/http.json`` on every request, so a
test changes the behaviour by rewriting it (``configure``); writes the port it got to
``DIR/http.port``. The keys of http.json:

- ``version``: ``0.6`` (V0, multiprocess: no engine label, _sum first, no _created, time per
  output token, HTTP 500 when dead), ``0.11`` (V1, one API server: engine label, _created
  families, http_requests_total), ``0.15-api-servers`` (several API servers: multiprocess text,
  _sum first, no _created), ``0.17-dp2`` (data parallel 2: engines 0 and 1, finish reasons
  error and repetition).
- ``mode``: ``busy``, ``idle`` (counters frozen), ``slow`` (TTFT p90 about 9 s), ``erroring``
  (aborts, errors, HTTP 5xx and a 500 from every completion), ``dead`` (/health 503, or 500
  on 0.6). A loading or stopped server is one that is not started: connection refused.
  ``scenario``: follow the simulated host in DIR (``scenario_mode``): refused while its model
  loads or its container is stopped or missing, ``dead`` once the engine died with the container
  still running, ``idle`` once its stats lines stopped, ``busy`` otherwise.
- ``started_epoch``: when the server (re)started; counters count from there, so setting it to
  now is a restart (counters reset).
- ``probe_latency_s``: how long a completion takes; ``api_key``: /v1 paths then need it (401).
"""

from __future__ import annotations

import argparse
import http.server
import json
import math
import os
import socket
import sys
import threading
import time

MODEL = "Qwen/Qwen3.6-27B"
MAX_MODEL_LEN = 32768
VERSIONS = ("0.6", "0.11", "0.15-api-servers", "0.17-dp2")
# "scenario": follow the simulated host in DIR (its scenario and clock), as vLLM itself would:
# connection refused while the model loads and once the container stopped, 503 (500 before
# 0.11) after the engine died with the API server still up, busy or idle as its log says.
MODES = ("busy", "idle", "slow", "erroring", "dead", "scenario")
REFUSED = "refused"
# vLLM's API server listens once uvicorn logs this line (docs of the simulator's log script).
_LISTENING_LINE = "Application startup complete."
_ENGINE_DEAD_LINES = ("died unexpectedly", "EngineDeadError")
LISTEN_EARLY_S = 1.0
DEFAULTS = {"version": "0.11", "mode": "busy", "started_epoch": None, "probe_latency_s": 0.05, "api_key": None}

TTFT_OLD = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
TTFT_NEW = TTFT_OLD + [20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
ITL_OLD = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5]
ITL_NEW = ITL_OLD + [5.0, 7.5, 10.0, 20.0, 40.0, 80.0]
LATENCY_OLD = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0]
LATENCY_NEW = LATENCY_OLD + [120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]
# Requests finished per second per engine, and the share of observations at or below a bound.
RATES = {"busy": 2.0, "idle": 0.0, "slow": 0.5, "erroring": 2.0, "dead": 0.0}
# Requests finished before an idle server went quiet: idle still has history.
IDLE_HISTORY = 40
TTFT_SHARES = {
    "slow": [(1.0, 0.1), (5.0, 0.5), (10.0, 0.9), (20.0, 1.0)],
    "default": [(0.06, 0.2), (0.1, 0.5), (0.25, 0.9), (0.5, 0.99), (1.0, 1.0)],
}
ITL_SHARES = [(0.025, 0.9), (0.05, 0.99), (0.1, 1.0)]
E2E_SHARES = [(0.8, 0.2), (2.5, 0.6), (5.0, 0.95), (10.0, 1.0)]
QUEUE_SHARES = [(0.3, 0.98), (1.0, 1.0)]
PROMPT_TOKENS, GENERATED_TOKENS = 512, 100


def load(directory: str) -> dict:
    settings = dict(DEFAULTS)
    try:
        with open(os.path.join(directory, "http.json")) as handle:
            settings.update(json.load(handle))
    except (OSError, ValueError):
        pass
    return settings


def configure(directory: str, **changes) -> dict:
    """Merge CHANGES into DIR/http.json (atomically); ``restart=True`` sets started_epoch to now."""
    settings = load(directory)
    if changes.pop("restart", False):
        changes["started_epoch"] = time.time()
    settings.update(changes)
    if settings["version"] not in VERSIONS or settings["mode"] not in MODES:
        raise ValueError("version must be one of %s and mode one of %s" % (VERSIONS, MODES))
    if settings["started_epoch"] is None:
        settings["started_epoch"] = time.time()
    temporary = os.path.join(directory, "http.json.tmp")
    with open(temporary, "w") as handle:
        json.dump(settings, handle)
    os.replace(temporary, os.path.join(directory, "http.json"))
    return settings


def _share(shares, bound: float) -> float:
    return max([share for point, share in shares if point <= bound], default=0.0)


def _float(value: float) -> str:
    # prometheus_client's floatToGoString: 3.0, 1.234567e+06, +Inf.
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e6:
        return "%.1f" % value
    text = repr(float(value))
    if "e" not in text and abs(value) >= 1e6:
        text = "%.16g" % value
        mantissa, _e, exponent = ("%e" % value).partition("e")
        text = "%se%s" % (mantissa.rstrip("0").rstrip("."), exponent[0] + exponent[1:].lstrip("0").zfill(2))
    return text


def _labels(pairs) -> str:
    inner = ",".join(
        '%s="%s"' % (name, str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
        for name, value in sorted(pairs.items())
    )
    return "{%s}" % inner if inner else ""


class Body:
    """One /metrics body, family by family, in the text order of its mode."""

    def __init__(self, multiprocess: bool, created: bool, started: float):
        self.lines = []
        self.multiprocess = multiprocess
        self.created = created
        self.started = started

    def family(self, name, kind, help_text, samples):
        """SAMPLES: [(labels, value)]. Counters get _total; mode C adds a _created family."""
        self.lines += [
            "# HELP %s %s" % (name if kind != "counter" else name + "_total", help_text),
            "# TYPE %s %s" % (name if kind != "counter" else name + "_total", kind),
        ]
        wire = name + "_total" if kind == "counter" else name
        self.lines += ["%s%s %s" % (wire, _labels(labels), _float(value)) for labels, value in samples]
        if self.created and kind == "counter":
            self.lines += ["# HELP %s_created %s" % (name, help_text), "# TYPE %s_created gauge" % name]
            self.lines += [
                "%s_created%s %s" % (name, _labels(labels), _float(self.started)) for labels, _value in samples
            ]

    def histogram(self, name, help_text, per_labels, bounds, shares, mean):
        """PER_LABELS: [(labels, observations)]; bucket counts follow SHARES."""
        self.lines += ["# HELP %s %s" % (name, help_text), "# TYPE %s histogram" % name]
        for labels, count in per_labels:
            count = float(int(count))
            buckets = [
                "%s_bucket%s %s"
                % (name, _labels(dict(labels, le=_float(bound))), _float(float(int(count * _share(shares, bound)))))
                for bound in bounds
            ]
            buckets.append("%s_bucket%s %s" % (name, _labels(dict(labels, le="+Inf")), _float(count)))
            total = "%s_count%s %s" % (name, _labels(labels), _float(count))
            summed = "%s_sum%s %s" % (name, _labels(labels), _float(round(count * mean, 6)))
            self.lines += ([summed] + buckets + [total]) if self.multiprocess else (buckets + [total, summed])
        if self.created:
            self.lines += ["# HELP %s_created %s" % (name, help_text), "# TYPE %s_created gauge" % name]
            self.lines += [
                "%s_created%s %s" % (name, _labels(labels), _float(self.started)) for labels, _count in per_labels
            ]

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def metrics_text(settings: dict, now: float) -> str:
    version, mode = settings["version"], settings["mode"]
    started = float(settings["started_epoch"] or now)
    elapsed = max(now - started, 0.0)
    v0 = version == "0.6"
    engines = ["0", "1"] if version == "0.17-dp2" else ["0"]
    multiprocess = version in ("0.6", "0.15-api-servers", "0.17-dp2")
    body = Body(multiprocess, created=not multiprocess, started=started)

    def labels(engine, **extra):
        base = {"model_name": MODEL} if v0 else {"model_name": MODEL, "engine": engine}
        base.update(extra)
        return base

    finished = IDLE_HISTORY if mode == "idle" else int(RATES[mode] * elapsed)
    running = 0.0 if mode in ("idle", "dead") else 4.0
    body.family(
        "vllm:num_requests_running",
        "gauge",
        "Number of requests in model execution batches.",
        [(labels(engine), running) for engine in engines],
    )
    body.family(
        "vllm:num_requests_waiting",
        "gauge",
        "Number of requests waiting to be processed.",
        [(labels(engine), 1.0 if mode == "slow" else 0.0) for engine in engines],
    )
    kv_name = "vllm:gpu_cache_usage_perc" if v0 else "vllm:kv_cache_usage_perc"
    body.family(
        kv_name,
        "gauge",
        "KV-cache usage. 1 means 100 percent usage.",
        [(labels(engine), 0.0 if running == 0 else 0.31) for engine in engines],
    )
    reasons = ["stop", "length", "abort"] + (["error", "repetition"] if version == "0.17-dp2" else [])
    erroring = mode == "erroring"

    def by_reason(reason):
        if reason == "stop":
            return finished * (0.6 if erroring else 0.8)
        if reason == "length":
            return finished * 0.2
        if reason == "abort":
            return finished * (0.1 if erroring else 0.0)
        if reason == "error":
            return finished * (0.1 if erroring else 0.0)
        return 0.0

    samples = [
        (labels(engine, finished_reason=reason), float(int(by_reason(reason))))
        for engine in engines
        for reason in reasons
        # V0 creates a reason's series only once a request finished with it.
        if not v0 or by_reason(reason) >= 1
    ]
    if erroring and "error" not in reasons:
        samples = [
            (
                sample_labels,
                value + float(int(finished * 0.1)) if sample_labels["finished_reason"] == "abort" else value,
            )
            for sample_labels, value in samples
        ]
    body.family("vllm:request_success", "counter", "Count of successfully processed requests.", samples)
    body.family(
        "vllm:prompt_tokens",
        "counter",
        "Number of prefill tokens processed.",
        [(labels(engine), float(finished * PROMPT_TOKENS)) for engine in engines],
    )
    body.family(
        "vllm:generation_tokens",
        "counter",
        "Number of generation tokens processed.",
        [(labels(engine), float(finished * GENERATED_TOKENS)) for engine in engines],
    )
    body.family(
        "vllm:num_preemptions",
        "counter",
        "Cumulative number of preemption from the engine.",
        [(labels(engine), 0.0) for engine in engines],
    )
    if finished or not v0:  # V0 histograms appear after the first request
        new = not v0
        ttft = TTFT_SHARES["slow" if mode == "slow" else "default"]
        body.histogram(
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            [(labels(engine), finished) for engine in engines],
            TTFT_NEW if new else TTFT_OLD,
            ttft,
            5.0 if mode == "slow" else 0.1,
        )
        itl_name = "vllm:time_per_output_token_seconds" if v0 else "vllm:inter_token_latency_seconds"
        body.histogram(
            itl_name,
            "Histogram of inter-token latency in seconds.",
            [(labels(engine), finished * (GENERATED_TOKENS - 1)) for engine in engines],
            ITL_NEW if new else ITL_OLD,
            ITL_SHARES,
            0.02,
        )
        body.histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            [(labels(engine), finished) for engine in engines],
            LATENCY_NEW if new else LATENCY_OLD,
            E2E_SHARES,
            2.5,
        )
        body.histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            [(labels(engine), finished) for engine in engines],
            LATENCY_NEW if new else LATENCY_OLD,
            QUEUE_SHARES,
            0.05,
        )
    if not v0:
        served = finished * len(engines)
        failed = int(served * 0.1) if erroring else 0
        body.family(
            "http_requests",
            "counter",
            "Total number of requests by method, status and handler.",
            [
                ({"handler": "/v1/completions", "method": "POST", "status": "2xx"}, float(served)),
                ({"handler": "/v1/completions", "method": "POST", "status": "5xx"}, float(failed)),
            ],
        )
    return body.text()


def error_body(version: str, message: str, kind: str, code: int) -> bytes:
    """The error JSON of VERSION: nested from 0.10.1, flat before."""
    error = {"message": message, "type": kind, "param": None, "code": code}
    if version == "0.6":
        return json.dumps(dict(error, object="error")).encode()
    return json.dumps({"error": error}).encode()


def scenario_mode(directory: str, now: float = None) -> str:
    """The mode of the simulated host in DIRECTORY now: ``refused`` (nothing listens), ``dead``,
    ``idle`` or ``busy``."""
    from fakegpu import hoststate, logs, runs  # the simulated host's own state, on demand

    try:
        host = hoststate.Host(directory, now)
    except hoststate.SimulatorError:
        return REFUSED
    scenario = host.scenario
    current = runs.runs(host)[-1]
    if (
        not host.container_exists
        or host.docker_fault == "daemon_down"
        or scenario.start_error
        or current.finished is not None
        or current.started > host.now
    ):
        return REFUSED
    # The socket opens up to LISTEN_EARLY_S before the start-up line (the server's poll lags behind
    # the clock): a gate that sees the log say "serving" finds the port open, never a race.
    ahead = logs._writes(current, host.now - current.started + LISTEN_EARLY_S, 1)
    if not any(_LISTENING_LINE in text for _at, _stream, text in ahead):
        return REFUSED
    written = logs._writes(current, host.now - current.started, 1)
    if any(line in text for _at, _stream, text in written for line in _ENGINE_DEAD_LINES):
        return "dead"
    stats = scenario.stats
    if stats is None or (stats.last is not None and host.elapsed > stats.last):
        return "idle"
    return "busy"


def effective_settings(directory: str) -> dict:
    """http.json, with mode ``scenario`` resolved to the simulated host's mode now."""
    settings = load(directory)
    if settings["mode"] == "scenario":
        settings["mode"] = scenario_mode(directory)
    return settings


def make_handler(directory: str):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self) -> None:
            settings = effective_settings(directory)
            if settings["mode"] == REFUSED:
                # Between two polls of the supervisor: as vLLM, nothing answers.
                self.close_connection = True
                return None
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 1 << 20))
            path = self.path.split("?", 1)[0]
            version, mode = settings["version"], settings["mode"]
            if (
                settings.get("api_key")
                and path.startswith("/v1")
                and self.headers.get("Authorization") != "Bearer %s" % settings["api_key"]
            ):
                return self._reply(401, b'{"error":"Unauthorized"}')
            if path == "/health" and self.command == "GET":
                return self._reply((500 if version == "0.6" else 503) if mode == "dead" else 200, b"")
            if path == "/version" and self.command == "GET":
                number = version.split("-", 1)[0]
                return self._reply(200, json.dumps({"version": number + ".0"}).encode())
            if path == "/metrics" and self.command == "GET":
                text = metrics_text(settings, time.time())
                return self._reply(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8")
            if path == "/v1/models" and self.command == "GET":
                return self._reply(
                    200,
                    json.dumps(
                        {
                            "object": "list",
                            "data": [
                                {
                                    "id": MODEL,
                                    "object": "model",
                                    "owned_by": "vllm",
                                    "root": MODEL,
                                    "parent": None,
                                    "max_model_len": MAX_MODEL_LEN,
                                }
                            ],
                        }
                    ).encode(),
                )
            if path == "/v1/completions" and self.command == "POST":
                time.sleep(max(float(settings.get("probe_latency_s") or 0), 0.0))
                if mode in ("erroring", "dead"):
                    return self._reply(
                        500,
                        error_body(
                            version,
                            "EngineCore encountered an issue. See stack trace (above) for the root cause.",
                            "InternalServerError",
                            500,
                        ),
                    )
                return self._reply(
                    200,
                    json.dumps(
                        {
                            "id": "cmpl-fakegpu",
                            "object": "text_completion",
                            "created": int(time.time()),
                            "model": MODEL,
                            "choices": [
                                {
                                    "index": 0,
                                    "text": "!",
                                    "logprobs": None,
                                    "finish_reason": "length",
                                    "stop_reason": None,
                                }
                            ],
                            "usage": {"prompt_tokens": 1, "total_tokens": 2, "completion_tokens": 1},
                        }
                    ).encode(),
                )
            return self._reply(404, b'{"detail":"Not Found"}')

        do_GET = do_POST = _route

        def log_message(self, *args) -> None:
            pass

    return Handler


def _listen(directory: str, host: str, port: int) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer((host, port), make_handler(directory))
    server.daemon_threads = True
    return server


def _free_port(host: str) -> int:
    """A port the system gives now, so that DIR/http.port names it before the server listens
    (a loading host's port is known, and refuses)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def serve(directory: str, host: str = "127.0.0.1", port: int = 0, poll_s: float = 0.5) -> None:
    """Serve until interrupted. In mode ``scenario`` the socket is open only while the simulated
    host's vLLM would listen (closed: connection refused), checked every POLL_S seconds."""
    if not os.path.exists(os.path.join(directory, "http.json")):
        configure(directory)
    port = port or _free_port(host)
    port_file = os.path.join(directory, "http.port")
    if os.path.exists(port_file):
        os.remove(port_file)  # a previous server's
    server = None
    try:
        while True:
            wanted = effective_settings(directory)["mode"] != REFUSED
            if wanted and server is None:
                server = _listen(directory, host, port)
                threading.Thread(target=server.serve_forever, daemon=True).start()
            elif not wanted and server is not None:
                server.shutdown()
                server.server_close()
                server = None
            if not os.path.exists(port_file):
                # Written once the first decision holds: a client that reads it and connects
                # finds the server listening (or refusing, as the host's vLLM would).
                with open(port_file + ".tmp", "w") as handle:
                    handle.write(str(port))
                os.replace(port_file + ".tmp", port_file)
            time.sleep(poll_s)
    except KeyboardInterrupt:
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fakegpu.vllm_http", description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("directory", nargs="+", help="one simulated host each (one process serves them all)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=MODES, help="set the mode in DIR/http.json first")
    args = parser.parse_args(argv)
    if args.port and len(args.directory) > 1:
        parser.error("--port needs a single DIR")
    for directory in args.directory:
        if args.mode:
            configure(directory, mode=args.mode)
    for directory in args.directory[1:]:
        threading.Thread(target=serve, args=(directory, args.host, args.port), daemon=True).start()
    serve(args.directory[0], args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
