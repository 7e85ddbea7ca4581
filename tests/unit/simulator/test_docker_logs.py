# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``docker logs`` of the stand-in, run as a process: tail, timestamps, the stdout/stderr split,
every run of a restarted container, and the vLLM texts of docs/dev/formats.md section 2 per version."""

from __future__ import annotations

import datetime
import json
import re

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._vllm_log import parse_log_text
from simhost import NOW

CONTAINER = "vllm_qwen36_27b"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")
BUSY_STATS = (
    "(APIServer pid=1) INFO 11-28 %s [loggers.py:123] Engine 000: Avg prompt throughput: "
    "1234.5 tokens/s, Avg generation throughput: 87.6 tokens/s, Running: 3 reqs, "
    "Waiting: 1 reqs, GPU KV cache usage: 42.3%%, Prefix cache hit rate: 61.2%%"
)
ANSI_API = "\x1b[1;36m(APIServer pid=1)\x1b[0;0m "


def lines(done, stream="stdout"):
    """The log entries on STREAM: split on newlines only, an entry may hold \r."""
    return getattr(done, stream).decode("utf-8", "surrogateescape").split("\n")[:-1]


def merged_lines(host, *args, now=NOW):
    done = host.docker("logs", *args, CONTAINER, now=now, merged=True)
    assert done.returncode == 0
    return done.stdout.decode("utf-8", "surrogateescape").split("\n")[:-1]


@pytest.mark.parametrize(
    "options",
    [
        ("--timestamps", "--tail", "3"),
        ("-t", "-n", "3"),
        ("--tail=3", "-t"),
        ("-t", "-n3"),
    ],
)
def test_tail_with_timestamps(make_host, options):
    done = make_host("busy").docker("logs", *options, CONTAINER)
    got = lines(done)
    assert (done.returncode, done.stderr, len(got)) == (0, b"", 3)
    assert all(STAMP.match(line) for line in got)
    assert [line[:20] for line in got] == ["2026-11-28T00:56:49.", "2026-11-28T00:56:59.", "2026-11-28T00:57:09."]
    assert [line[31:] for line in got] == [BUSY_STATS % at for at in ("00:56:49", "00:56:59", "00:57:09")]


def test_tail_all_zero_and_none(make_host):
    host = make_host("busy")
    everything = host.docker("logs", CONTAINER, merged=True).stdout
    assert host.docker("logs", "--tail", "all", CONTAINER, merged=True).stdout == everything
    assert everything.count(b"\n") == 376  # 22 start-up lines, 354 stats lines (65 s .. 3595 s)
    assert host.docker("logs", "--tail", "0", CONTAINER, merged=True).stdout == b""


def test_since(make_host):
    host = make_host("busy")
    assert len(lines(host.docker("logs", "--since", "24s", CONTAINER))) == 2
    assert len(lines(host.docker("logs", "--since", "2026-11-28T00:57:00Z", CONTAINER))) == 1
    assert len(lines(host.docker("logs", "--since", repr(NOW - 40), CONTAINER))) == 4


def test_stderr_holds_tqdm_and_uvicorn_in_order(make_host):
    host = make_host("loading")
    done = host.docker("logs", CONTAINER, now=NOW + 70)
    assert [line for line in lines(done, "stderr") if "\r" not in line] == [
        "(APIServer pid=1) INFO:     Started server process [1]",
        "(APIServer pid=1) INFO:     Waiting for application startup.",
        "(APIServer pid=1) INFO:     Application startup complete.",
    ]
    assert not any("INFO:     " in line for line in lines(done))
    assert merged_lines(host, now=NOW + 70)[-6:] == [
        "(EngineCore_DP0 pid=272) INFO 11-28 00:58:07 [core.py:210] init engine (profile, "
        "create kv cache, warmup model) took 23.49 seconds",
        "(APIServer pid=1) INFO 11-28 00:58:09 [api_server.py:1971] Starting vLLM API server 0 on http://0.0.0.0:11434",
        "(APIServer pid=1) INFO:     Started server process [1]",
        "(APIServer pid=1) INFO:     Waiting for application startup.",
        "(APIServer pid=1) INFO:     Application startup complete.",
        "(APIServer pid=1) INFO 11-28 00:58:19 [loggers.py:123] Engine 000: Avg prompt "
        "throughput: 642.1 tokens/s, Avg generation throughput: 51.3 tokens/s, Running: 2 reqs, "
        "Waiting: 0 reqs, GPU KV cache usage: 12.7%, Prefix cache hit rate: 5.0%",
    ]


@pytest.mark.parametrize(
    "elapsed, last",
    [
        (4, "(APIServer pid=1) INFO 11-28 00:57:17 [model.py:1510] Using max model len 262144"),
        (
            7.5,
            "(EngineCore_DP0 pid=272) INFO 11-28 00:57:21 [weight_utils.py:392] Using model weights "
            "format ['*.safetensors']",
        ),
        (20, "\rLoading safetensors checkpoint shards:  55% Completed | 6/11 [00:12<00:10,  2.00s/it]"),
        (29.65, "\rLoading safetensors checkpoint shards: 100% Completed | 11/11 [00:22<00:00,  2.00s/it]"),
        (
            35,
            "(EngineCore_DP0 pid=272) INFO 11-28 00:57:44 [gpu_model_runner.py:2653] Model loading "
            "took 28.7201 GiB and 22.917305 seconds",
        ),
        (43, "(EngineCore_DP0 pid=272) INFO 11-28 00:57:56 [monitor.py:34] torch.compile takes 10.73 s in total"),
        (
            44.9,
            "(EngineCore_DP0 pid=272) INFO 11-28 00:57:58 [kv_cache_utils.py:1091] Maximum "
            "concurrency for 262,144 tokens per request: 2.24x",
        ),
        (
            50,
            "\rCapturing CUDA graphs (mixed prefill-decode, PIECEWISE):  93%|\u2588\u2588\u2588\u2588"
            "\u2588\u2588\u2588\u2588\u2588\u258e| 62/67 [00:04<00:00, 12.41it/s]",
        ),
        (
            54,
            "(EngineCore_DP0 pid=272) INFO 11-28 00:58:07 [core.py:210] init engine (profile, create "
            "kv cache, warmup model) took 23.49 seconds",
        ),
        (56, "(APIServer pid=1) INFO:     Application startup complete."),
    ],
)
def test_loading_advances_with_the_clock(make_host, elapsed, last):
    got = merged_lines(make_host("loading"), now=NOW + elapsed)[-1]
    assert got.endswith(last) if last.startswith("\r") else got == last


def test_a_bar_in_progress_is_one_entry_of_carriage_return_updates(make_host):
    got = merged_lines(make_host("loading"), now=NOW + 20)[-1]
    updates = got.split("\r")
    assert updates[0] == "(EngineCore_DP0 pid=272) "
    assert updates[1:] == [
        "Loading safetensors checkpoint shards: %3d%% Completed | %d/11 [00:%02d<%s, %s]"
        % (
            round(100 * n / 11),
            n,
            2 * n,
            "?" if n == 0 else "00:%02d" % (22 - 2 * n),
            "?it/s" if n == 0 else " 2.00s/it",
        )
        for n in range(7)
    ]


def test_a_restart_keeps_the_old_runs_lines(make_host):
    host = make_host("busy")
    assert host.set("restart").returncode == 0
    got = merged_lines(host, "-t", "--tail", "3", now=NOW + 1)
    assert [line[:30] for line in got] == [
        "2026-11-28T00:57:09.000000838Z",
        "2026-11-28T00:57:14.000000000Z",
        "2026-11-28T00:57:14.010000940Z",
    ]
    assert got[0][31:] == BUSY_STATS % "00:57:09"
    assert got[1][31:] == ("(APIServer pid=1) INFO 11-28 00:57:14 [api_server.py:1839] vLLM API server version 0.11.0")
    (inspected,) = json.loads(host.docker("inspect", CONTAINER, now=NOW + 1).stdout)
    assert (inspected["RestartCount"], inspected["State"]["StartedAt"], inspected["State"]["FinishedAt"]) == (
        1,
        "2026-11-28T00:57:14Z",
        "2026-11-28T00:57:14Z",
    )


def test_restart_loop_shows_the_earlier_runs(make_host):
    got = merged_lines(make_host("restart-loop"))
    failed = [line for line in got if "RuntimeError: Engine core initialization failed." in line]
    assert (
        failed
        == [
            "(APIServer pid=1) RuntimeError: Engine core initialization failed. See "
            "root cause above. Failed core proc(s): {'EngineCore_DP0': 1}"
        ]
        * 2
    )
    assert sum("vLLM API server version 0.11.0" in line for line in got) == 3
    assert got[-1].endswith("55% Completed | 6/11 [00:12<00:10,  2.00s/it]")


@pytest.mark.parametrize(
    "scenario, elapsed, last",
    [
        (
            "vllm-0.10-ansi",
            "3600",
            [
                ANSI_API + "INFO 11-28 00:57:09 [loggers.py:111] Engine 000: Avg prompt throughput: 765.4 "
                "tokens/s, Avg generation throughput: 65.4 tokens/s, Running: 4 reqs, Waiting: 0 reqs, "
                "GPU KV cache usage: 33.3%, Prefix cache hit rate: 22.2%"
            ],
        ),
        (
            "vllm-0.11-ansi",
            "3600",
            [
                ANSI_API + "INFO 11-28 00:57:09 [loggers.py:123] Engine 000: Avg prompt throughput: 876.5 "
                "tokens/s, Avg generation throughput: 76.5 tokens/s, Running: 5 reqs, Waiting: 2 reqs, "
                "GPU KV cache usage: 55.5%, Prefix cache hit rate: 66.6%"
            ],
        ),
        (
            "v0-engine",
            "3600",
            [
                "INFO 11-28 00:57:14 metrics.py:467] Avg prompt throughput: 456.7 tokens/s, Avg "
                "generation throughput: 34.5 tokens/s, Running: 2 reqs, Swapped: 0 reqs, Pending: 1 reqs, "
                "GPU KV cache usage: 18.4%, CPU KV cache usage: 0.0%.",
                "INFO 11-28 00:57:14 metrics.py:467] Prefix cache hit rate: GPU: 25.75%, CPU: 0.00%",
            ],
        ),
        (
            "vllm-0.33",
            "65",
            [
                "(APIServer pid=1) INFO 11-28 00:57:14 [loggers.py:259] Engine 000: Avg prompt throughput: "
                "0.0 tokens/s, Avg generation throughput: 0.0 tokens/s, Running: 0 reqs, Waiting: 3 reqs, "
                "KV fetch: 3 waiting to start, 0 in progress, 0 completed waiting, GPU KV cache usage: "
                "0.0%"
            ],
        ),
        (
            "vllm-0.33",
            "3600",
            [
                "(APIServer pid=1) INFO 11-28 00:57:09 [loggers.py:259] Engine 000: Avg prompt throughput: "
                "2048.0 tokens/s, Avg generation throughput: 133.7 tokens/s, Running: 5 reqs, Waiting: 2 "
                "reqs, KV fetch: 1 waiting to start, 1 in progress, 0 completed waiting, GPU KV cache "
                "usage: 57.1%, Prefix cache hit rate: 73.4%"
            ],
        ),
        (
            "data-parallel",
            "3600",
            [
                "(APIServer pid=1) INFO 11-28 00:57:09 [loggers.py:123] Engine 000: Avg prompt throughput: "
                "1111.1 tokens/s, Avg generation throughput: 55.5 tokens/s, Running: 2 reqs, Waiting: 0 "
                "reqs, GPU KV cache usage: 21.5%, Prefix cache hit rate: 33.3%",
                "(APIServer pid=1) INFO 11-28 00:57:09 [loggers.py:123] Engine 001: Avg prompt throughput: "
                "999.9 tokens/s, Avg generation throughput: 44.4 tokens/s, Running: 1 reqs, Waiting: 1 "
                "reqs, GPU KV cache usage: 12.5%, Prefix cache hit rate: 30.0%",
            ],
        ),
        (
            "aggregated",
            "3600",
            [
                "(APIServer pid=1) INFO 11-28 00:57:09 [loggers.py:236] 2 Engines Aggregated: Avg prompt "
                "throughput: 3333.3 tokens/s, Avg generation throughput: 222.2 tokens/s, Running: 6 reqs, "
                "Waiting: 2 reqs, GPU KV cache usage: 27.5%, Prefix cache hit rate: 52.5%"
            ],
        ),
        (
            "idle",
            "1215",
            [
                "(APIServer pid=1) INFO 11-28 00:47:14 [loggers.py:123] Engine 000: Avg prompt throughput: "
                "0.0 tokens/s, Avg generation throughput: 0.0 tokens/s, Running: 0 reqs, Waiting: 0 reqs, "
                "GPU KV cache usage: 0.0%, Prefix cache hit rate: 48.8%"
            ],
        ),
    ],
)
def test_newest_stats_lines_per_version(make_host, scenario, elapsed, last):
    got = lines(make_host(scenario, "--elapsed", elapsed).docker("logs", "-n", str(len(last)), CONTAINER))
    assert got == last


@pytest.mark.parametrize(
    "scenario, expected",
    [
        (
            "busy-tp2",
            [
                "(Worker_TP0 pid=406) INFO 11-28 00:57:13 [gpu_model_runner.py:2602] Starting "
                "to load model Qwen/Qwen3.6-27B-FP8...",
                "(Worker_TP1 pid=407) INFO 11-28 00:57:13 [gpu_model_runner.py:2602] Starting "
                "to load model Qwen/Qwen3.6-27B-FP8...",
            ],
        ),
        (
            "vllm-0.10-ansi",
            [
                "\x1b[1;36m(EngineCore_0 pid=272)\x1b[0;0m INFO 11-28 00:57:13 "
                "[gpu_model_runner.py:2602] Starting to load model "
                "Qwen/Qwen3.6-27B-FP8..."
            ],
        ),
        (
            "vllm-0.33",
            [
                "(APIServer pid=1) INFO 11-28 00:57:07 [startup.py:88] vLLM server version "
                "0.33.0, serving model Qwen/Qwen3.6-27B-FP8",
                "(EngineCore pid=272) INFO 11-28 00:57:13 [gpu_model_runner.py:2602] Starting "
                "to load model Qwen/Qwen3.6-27B-FP8...",
            ],
        ),
    ],
)
def test_process_tags(make_host, scenario, expected):
    # Started at 00:57:07: "Starting to load model" comes 6.8 s later.
    got = lines(make_host(scenario, "--elapsed", "7").docker("logs", CONTAINER))
    assert [line for line in got if line in expected] == expected


def test_v0_multi_line_message_has_no_repeated_prefix(make_host):
    got = lines(make_host("v0-engine").docker("logs", CONTAINER))
    start = got.index("INFO 11-27 23:57:37 worker.py:241] Memory profiling takes 4.51 seconds")
    assert got[start + 1] == (
        "the current vLLM instance can use total_gpu_memory (79.25GiB) x gpu_memory_utilization (0.92) = 72.91GiB"
    )


def test_cuda_oom_run(make_host):
    host = make_host("cuda-oom")
    done = host.docker("logs", CONTAINER)
    out = lines(done)
    errors = [line for line in out if " ERROR " in line]
    assert errors[0] == ("(EngineCore_DP0 pid=272) ERROR 11-28 00:52:31 [core.py:708] EngineCore failed to start.\r")
    assert all(line.endswith("\r") for line in errors[:-1])  # 0.11 NewLineFormatter: \r\n + head
    assert errors[-1].startswith(
        "(EngineCore_DP0 pid=272) ERROR 11-28 00:52:31 [core.py:708] torch.OutOfMemoryError: CUDA "
        "out of memory. Tried to allocate 224.00 MiB. GPU 0 has a total capacity of 79.25 GiB of "
        "which 187.75 MiB is free."
    )
    assert lines(done, "stderr")[-1] == (
        "(APIServer pid=1) RuntimeError: Engine core initialization failed. See root cause above. "
        "Failed core proc(s): {'EngineCore_DP0': 1}"
    )
    # The interrupted bar's line is closed by the next text on the same stream.
    assert lines(done, "stderr")[0].endswith("36% Completed | 4/11 [00:08<00:14,  2.00s/it]Process EngineCore_DP0:")
    # An exited container logs nothing more.
    later = host.docker("logs", CONTAINER, now=NOW + 1000, merged=True).stdout
    assert later == host.docker("logs", CONTAINER, merged=True).stdout


@pytest.mark.parametrize(
    "scenario, fragment",
    [
        (
            "kv-cache-too-small",
            "ERROR 11-28 00:52:59 [core.py:708] ValueError: To serve at least one request with the "
            "models's max seq len (262144), (16.00 GiB KV cache is needed, which is larger than the "
            "available KV cache memory (11.42 GiB). Based on the available memory, the estimated maximum "
            "model length is 187024. Try increasing `gpu_memory_utilization` or decreasing "
            "`max_model_len` when initializing the engine.",
        ),
        (
            "gpu-lost",
            "(APIServer pid=1) ERROR 11-28 00:52:14 [core_client.py:564] Engine core proc "
            "EngineCore_DP0 died unexpectedly, shutting down client.",
        ),
        (
            "no-devices",
            "(APIServer pid=1) RuntimeError: Failed to infer device type, please set the "
            "environment variable `VLLM_LOGGING_LEVEL=DEBUG` to turn on verbose logging to "
            "help debug the issue.",
        ),
    ],
)
def test_fatal_texts(make_host, scenario, fragment):
    got = merged_lines(make_host(scenario))
    assert any(fragment in line for line in got)


def test_hostile_lines_come_through_raw(make_host):
    done = make_host("hostile").docker("logs", CONTAINER)
    raw = done.stdout
    assert b"bad bytes \xff\xfe\xc3( end\n" in raw
    assert b"\x1b[2J\x1b[H\x1b[3A\x1b[10;1Hcursor moved here\n" in raw
    assert b"\x1b]0;owned by the log\x07title changed" in raw
    assert b"[red]FAKE[/red] [bold blink]ALERT[/]" in raw
    assert max(len(line) for line in raw.split(b"\n")) == (1 << 20) + len(
        b"(APIServer pid=1) INFO 11-28 00:48:13 [serving_chat.py:1040] "
    )
    assert raw.split(b"\n")[-2].endswith(b"Prefix cache hit rate: 9.9%")


@pytest.mark.parametrize(
    "scenario, override, stderr",
    [
        ("container-missing", None, "Error response from daemon: No such container: %s\n" % CONTAINER),
        (
            "logging-driver-none",
            None,
            "Error response from daemon: configured logging driver does not support reading\n",
        ),
        (
            "docker-daemon-down",
            None,
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
        ),
        (
            "docker-permission-denied",
            None,
            "permission denied while trying to connect to the Docker daemon socket at "
            'unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.50/containers/'
            'vllm_qwen36_27b/json": dial unix /var/run/docker.sock: connect: permission denied\n',
        ),
        ("busy", "container=absent", "Error response from daemon: No such container: %s\n" % CONTAINER),
        (
            "busy",
            "logs=unsupported",
            "Error response from daemon: configured logging driver does not support reading\n",
        ),
    ],
)
def test_errors(make_host, scenario, override, stderr):
    host = make_host(scenario)
    if override:
        assert host.set(override).returncode == 0
    done = host.docker("logs", "--timestamps", "--tail", "300", CONTAINER)
    assert (done.returncode, done.stdout, done.stderr.decode()) == (1, b"", stderr)


def test_never_started_container_has_an_empty_log(make_host):
    done = make_host("driver-not-loaded").docker("logs", "-t", CONTAINER)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


PODMAN_STAMP = re.compile(r"2026-11-28T\d\d:\d\d:\d\d(?:\.\d*[1-9])?\+05:30 ")


@pytest.mark.parametrize("scenario, tail", [("busy", "5"), ("loading", "300"), ("cuda-oom", "300")])
def test_podman_stamps_local_rfc3339nano_and_the_module_reads_them_like_dockers(make_host, scenario, tail):
    """podman logs --timestamps: Go's RFC3339Nano in the local zone (trailing zeros trimmed),
    where docker prints RFC3339NanoFixed in UTC. Same lines, same parse."""
    docker = make_host(scenario).docker("logs", "--timestamps", "--tail", tail, CONTAINER, merged=True)
    podman = make_host(scenario, "--engine", "podman").run(
        "podman", "logs", "--timestamps", "--tail", tail, CONTAINER, merged=True, env={"TZ": "Asia/Kolkata"}
    )
    docker_lines = docker.stdout.decode("utf-8", "surrogateescape").split("\n")[:-1]
    podman_lines = podman.stdout.decode("utf-8", "surrogateescape").split("\n")[:-1]
    assert (docker.returncode, podman.returncode) == (0, 0)
    assert docker_lines and all(PODMAN_STAMP.match(line) for line in podman_lines)
    assert [line.split(" ", 1)[1] for line in podman_lines] == [line.split(" ", 1)[1] for line in docker_lines]
    now = datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc)
    assert parse_log_text(podman.stdout.decode(), None, now) == parse_log_text(docker.stdout.decode(), None, now)
