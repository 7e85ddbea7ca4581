# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP source of node_info against a real HTTP server on loopback: every endpoint, every
failure class (refused, timeout, HTTP status, not vLLM, too large), the API key and the probe."""

from __future__ import annotations

import http.server
import json
import pathlib
import socket
import threading
import time

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils import _vllm_http
from ansible_collections.gpufleet.vllm.plugins.module_utils._vllm_http import collect_http, error_message

V1_BODY = (pathlib.Path(__file__).parent / "fixtures" / "metrics-v1-0.11.txt").read_bytes()
MODELS = json.dumps({"object": "list", "data": [{"id": "org/m", "object": "model", "max_model_len": 8192}]}).encode()
COMPLETION = json.dumps(
    {"id": "cmpl-1", "object": "text_completion", "choices": [{"index": 0, "text": "!", "finish_reason": "length"}]}
).encode()


class Server:
    """A loopback HTTP server whose routes are (status, body, delay_s); requests are recorded."""

    def __init__(self, routes, api_key=None):
        self.routes = routes
        self.api_key = api_key
        self.requests = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                owner.requests.append(
                    (self.command, self.path, dict(self.headers), self.rfile.read(length) if length else b"")
                )
                if (
                    owner.api_key
                    and self.path.startswith("/v1")
                    and self.headers.get("Authorization") != "Bearer " + owner.api_key
                ):
                    status, body, delay = 401, b'{"error":"Unauthorized"}', 0
                else:
                    status, body, delay = owner.routes.get(
                        (self.command, self.path), (404, b'{"detail":"Not Found"}', 0)
                    )
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def vllm_routes(overrides=None):
    routes = {
        ("GET", "/health"): (200, b"", 0),
        ("GET", "/metrics"): (200, V1_BODY, 0),
        ("GET", "/version"): (200, b'{"version":"0.11.0"}', 0),
        ("GET", "/v1/models"): (200, MODELS, 0),
        ("POST", "/v1/completions"): (200, COMPLETION, 0),
    }
    routes.update(overrides or {})
    return routes


@pytest.fixture
def serve():
    servers = []

    def start(routes, api_key=None):
        server = Server(routes, api_key)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_serving_vllm_every_endpoint_and_the_probe(serve, monkeypatch):
    # A proxy from the environment must not take a loopback request elsewhere.
    monkeypatch.setenv("http_proxy", "http://192.0.2.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://192.0.2.1:9")
    server = serve(vllm_routes())
    section = collect_http("127.0.0.1", server.port, 5, probe=True)
    assert section["url"] == "http://127.0.0.1:%d" % server.port
    assert section["health"] == {"status": "ok", "http_status": 200, "message": None}
    assert section["version"]["version"] == "0.11.0"
    assert section["models"]["models"] == [{"id": "org/m", "max_model_len": 8192}]
    assert section["metrics"]["status"] == "ok"
    assert section["metrics"]["engines"][0]["histograms"]["ttft_s"]["count"] == 142.0
    probe = section["probe"]
    assert probe["status"] == "ok" and probe["model"] == "org/m" and 0 <= probe["latency_s"] < 5
    method, path, headers, body = server.requests[-1]
    assert (method, path) == ("POST", "/v1/completions")
    assert json.loads(body) == {"prompt": "Hi", "max_tokens": 1, "model": "org/m"}
    # No Accept header and no compression: every vLLM version then answers plain text, never
    # OpenMetrics or gzip.
    metrics_headers = next(request[2] for request in server.requests if request[1] == "/metrics")
    assert "Accept" not in metrics_headers and metrics_headers.get("Accept-Encoding", "identity") == "identity"


def test_probe_off_by_default(serve):
    server = serve(vllm_routes())
    assert collect_http("127.0.0.1", server.port, 5)["probe"] is None
    assert all(request[1] != "/v1/completions" for request in server.requests)


def test_refused_tries_nothing_else():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]  # bound, not listening: refused, as vLLM while loading
        started = time.monotonic()
        section = collect_http("127.0.0.1", port, 5, probe=True)
    assert time.monotonic() - started < 2
    assert section["health"]["status"] == "refused"
    assert "connection refused on 127.0.0.1:%d" % port in section["health"]["message"]
    for key in ("metrics", "version", "models", "probe"):
        assert section[key]["status"] == "refused" and section[key]["message"].startswith("not tried")


def test_timeout_is_bounded(serve):
    server = serve(vllm_routes({("GET", "/health"): (200, b"", 3)}))
    started = time.monotonic()
    section = collect_http("127.0.0.1", server.port, 0.5)
    assert time.monotonic() - started < 2
    assert section["health"] == {
        "status": "timeout",
        "http_status": None,
        "message": "GET /health: no answer within 0.5s",
    }
    assert section["metrics"]["status"] == "timeout"


def test_engine_dead_503_still_reads_the_rest(serve):
    server = serve(vllm_routes({("GET", "/health"): (503, b"", 0)}))
    section = collect_http("127.0.0.1", server.port, 5)
    assert section["health"]["status"] == "http_status" and section["health"]["http_status"] == 503
    assert section["metrics"]["status"] == "ok"


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            b'{"error":{"message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404}}',
            "The model `x` does not exist.",
        ),
        (
            b'{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404}',
            "The model `x` does not exist.",
        ),
        (b'{"error":"Unauthorized"}', "Unauthorized"),
        (b'{"detail":"Not Found"}', "Not Found"),
        (b'{"error":{"message":"bad\\u001b[31m red"}}', "bad red"),
        (b"<html>", None),
        (b"", None),
        (b"[1]", None),
        (b"[" * 100000, None),
    ],
)
def test_error_bodies(body, expected):
    assert error_message(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b'{"error":{"message":"CUDA error: an illegal memory access","type":"InternalServerError","code":500}}',
        b'{"object":"error","message":"CUDA error: an illegal memory access","type":"InternalServerError","code":500}',
    ],
)
def test_probe_500_names_the_error_in_both_shapes(serve, body):
    server = serve(vllm_routes({("POST", "/v1/completions"): (500, body, 0)}))
    probe = collect_http("127.0.0.1", server.port, 5, probe=True)["probe"]
    assert probe["status"] == "http_status" and probe["http_status"] == 500
    assert probe["message"] == "POST /v1/completions answered HTTP 500: CUDA error: an illegal memory access"
    assert probe["latency_s"] is not None


def test_api_key_required_and_sent_only_to_v1(serve):
    server = serve(vllm_routes(), api_key="sekret")
    section = collect_http("127.0.0.1", server.port, 5, probe=True)
    assert section["models"]["http_status"] == 401
    assert section["models"]["message"].startswith("API key required")
    assert section["probe"]["message"].startswith("API key required")
    assert section["metrics"]["status"] == "ok"  # /metrics needs no key
    server.requests.clear()
    section = collect_http("127.0.0.1", server.port, 5, api_key="sekret", probe=True)
    assert section["probe"]["status"] == "ok" and section["models"]["models"][0]["id"] == "org/m"
    for _method, path, headers, _body in server.requests:
        assert ("Authorization" in headers) == path.startswith("/v1"), path
    section = collect_http("127.0.0.1", server.port, 5, api_key="wrong", probe=True)
    assert section["probe"]["message"].startswith("API key refused")


def test_not_vllm_and_too_large(serve, monkeypatch):
    server = serve(
        vllm_routes(
            {
                ("GET", "/metrics"): (200, b"# TYPE up gauge\nup 1\n", 0),
                ("GET", "/version"): (200, b'{"name":"ollama"}', 0),
                ("GET", "/v1/models"): (200, b'{"models":[]}', 0),
            }
        )
    )
    section = collect_http("127.0.0.1", server.port, 5)
    assert section["metrics"]["status"] == "not_vllm"
    assert section["version"]["status"] == "not_vllm" and section["models"]["status"] == "not_vllm"
    monkeypatch.setattr(_vllm_http, "METRICS_BYTES_LIMIT", 1000)
    big = serve(vllm_routes())
    section = collect_http("127.0.0.1", big.port, 5)
    assert section["metrics"]["status"] == "too_large"
    assert section["metrics"]["message"] == "GET /metrics answered more than 1000 bytes; not read"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "vm-1.example"])
def test_host_accepted(host):
    _vllm_http.validate_host(host)


@pytest.mark.parametrize("host", ["", "a b", "http://x", "x/y", "-x", "x;rm"])
def test_host_refused(host):
    with pytest.raises(ValueError, match="http_host"):
        _vllm_http.validate_host(host)


def test_node_document_carries_the_http_section_and_survives_its_failure(serve):
    import datetime

    from ansible_collections.gpufleet.vllm.plugins.module_utils._collect import CollectError, collect
    from ansible_collections.gpufleet.vllm.plugins.module_utils._runner import CommandResult

    def runner(argv, **_kwargs):
        return CommandResult(argv, None, "", "", False, False, True, 0.0)

    def collect_with(**kwargs):
        return collect(
            container="vllm",
            docker_path="/nonexistent/docker",
            nvidia_smi_path="/nonexistent/nvidia-smi",
            log_lines=10,
            command_timeout=5,
            gpu_query_fields=["index"],
            serving_fresh_after=30,
            runner=runner,
            clock=lambda: datetime.datetime(2026, 11, 28, tzinfo=datetime.timezone.utc),
            **kwargs,
        )

    assert collect_with()["http"] is None  # no port: the HTTP source is off
    server = serve(vllm_routes())
    document = collect_with(http_port=server.port)
    assert document["http"]["health"]["status"] == "ok" and document["gpu"]["status"] == "not_installed"

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    document = collect_with(http_port=server.port, http_collector=broken)
    assert document["http"]["health"] == {
        "status": "error",
        "http_status": None,
        "message": "HTTP source failed: RuntimeError",
    }
    assert document["gpu"]["status"] == "not_installed"
    with pytest.raises(CollectError, match="http_host"):
        collect_with(http_port=server.port, http_host="a b")


@pytest.mark.parametrize(
    "counts, total, kept",
    [
        # The last empty bucket and the first full one stay; what lies beyond them goes.
        ([0, 0, 0, 2, 3, 4, 4, 4], 4, [0, 2, 3, 4]),
        # Observations above the highest finite bound: no bucket is full, none goes at the top.
        ([0, 0, 1, 2], 5, [0, 1, 2]),
        # Every bucket informative.
        ([1, 2, 3], 3, [1, 2, 3]),
        # Nothing observed yet: one empty bucket says it all.
        ([0, 0, 0], 0, [0]),
        # Everything in the lowest bucket.
        ([3, 3, 3], 3, [3]),
        ([], 0, []),
    ],
)
def test_histograms_keep_only_their_informative_buckets(counts, total, kept):
    first, last = _vllm_http._informative_span(counts, total)
    assert counts[first:last] == kept
