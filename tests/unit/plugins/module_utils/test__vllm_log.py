# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the vLLM docker-log parser; the log texts are the exact ones of docs/dev/formats.md §2."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._vllm_log import (
    ENGINE_KEYS,
    _strip_prefixes,
    clock_ahead_message,
    clock_ahead_s,
    decide_phase,
    loading_or_starting,
    parse_log_text,
)

UTC = datetime.timezone.utc
STARTED_AT = datetime.datetime(2026, 11, 28, 1, 30, 0, tzinfo=UTC)
NOW = datetime.datetime(2026, 11, 28, 1, 40, 0, tzinfo=UTC)

# Docker --timestamps prefixes, with the 0-9 fraction digits docker may print.
BEFORE = "2026-11-28T01:20:00.5Z "  # a previous run of the container
T0 = "2026-11-28T01:30:00Z "  # exactly started_at
T1 = "2026-11-28T01:31:00.123456789Z "
T2 = "2026-11-28T01:35:10.000001Z "
T3 = "2026-11-28T01:39:55.123456789Z "  # 4.9 s before NOW
T3_UTC = "2026-11-28T01:39:55.123456Z"

ANSI_TAG = "\x1b[1;36m(APIServer pid=1)\x1b[0;0m "
ANSI_CORE = "\x1b[1;36m(EngineCore_DP0 pid=262)\x1b[0;0m "
ANSI_WORKER = "\x1b[1;36m(Worker_TP0 pid=48394)\x1b[0;0m "


def engine(**fields):
    """An engine dict with every schema key: None unless given."""
    unknown = set(fields) - set(ENGINE_KEYS)
    assert not unknown, unknown
    row = dict.fromkeys(ENGINE_KEYS)
    row.update(fields)
    return row


def parse(text, started_at=STARTED_AT):
    return parse_log_text(text, started_at, NOW)


# --- prefixes and process tags ----------------------------------------------------------------

PREFIX_CASES = [
    (
        "0.6.6 no opening bracket",
        "INFO 12-16 21:40:15 metrics.py:467] Avg prompt throughput: 1.0 tokens/s",
        "Avg prompt throughput: 1.0 tokens/s",
    ),
    ("0.8.5 bracketed file", "INFO 05-01 12:00:00 [loggers.py:111] Engine 000: Avg prompt", "Engine 000: Avg prompt"),
    (
        "0.11 DEBUG relative path",
        "DEBUG 10-02 08:15:01 [v1/metrics/loggers.py:111] Engine 000: Avg prompt",
        "Engine 000: Avg prompt",
    ),
    (
        "DEBUG elided path",
        "DEBUG 10-02 08:15:01 [model_executor/.../utils/fp8_utils.py:42] Using fp8 kernels",
        "Using fp8 kernels",
    ),
    (
        "0.8.5 V1 TP worker tag",
        "(VllmWorker rank=0 pid=241) INFO 05-01 12:00:00 [gpu_model_runner.py:1329] Starting to load model x...",
        "Starting to load model x...",
    ),
    (
        "0.10.1 worker tag with TP in the name",
        "(VllmWorker TP0 pid=241) WARNING 08-20 10:00:00 [utils.py:9] careful",
        "careful",
    ),
    (
        "0.8.5 V0 worker tag",
        "(VllmWorkerProcess pid=88) INFO 05-01 12:00:00 [worker.py:267] model weights take 14.99GiB",
        "model weights take 14.99GiB",
    ),
    (
        "0.10/0.11 ANSI-coloured APIServer tag",
        ANSI_TAG + "INFO 10-02 08:15:01 [loggers.py:123] Engine 000: Avg prompt",
        "Engine 000: Avg prompt",
    ),
    (
        "0.11 ANSI-coloured engine core tag",
        ANSI_CORE + "ERROR 10-02 08:15:01 [core.py:708] EngineCore failed to start.",
        "EngineCore failed to start.",
    ),
    (
        "0.33 tag is part of the format",
        "(EngineCore pid=77) INFO 03-01 09:00:00 [core.py:95] Initializing a V1 LLM engine",
        "Initializing a V1 LLM engine",
    ),
    (
        "0.33 Ray worker tag with ip",
        "(RayWorkerWrapper pid=1, ip=10.0.0.1) INFO 03-01 09:00:00 [ray_utils.py:7] ready",
        "ready",
    ),
    (
        "Ray tag in front of a worker tag",
        "(RayWorkerWrapper pid=206994, ip=192.168.10.25) (Worker_TP1 pid=9) ERROR 03-01 09:00:00 [w.py:1] boom",
        "boom",
    ),
    (
        "0.33 whole line coloured",
        "\x1b[32m(APIServer pid=1) INFO 03-01 09:00:00 [api_server.py:1] vLLM server version 0.33.0\x1b[0m",
        "vLLM server version 0.33.0",
    ),
    (
        "uvicorn levelprefix behind the APIServer tag",
        "(APIServer pid=1) INFO:     Application startup complete.",
        "Application startup complete.",
    ),
    (
        "uvicorn 0.33 without tag",
        "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)",
        "Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)",
    ),
    (
        "traceback line keeps its text",
        '  File "/usr/lib/python3.12/site-packages/vllm/v1/engine/core.py", line 90, in __init__',
        'File "/usr/lib/python3.12/site-packages/vllm/v1/engine/core.py", line 90, in __init__',
    ),
    ("tag alone", ANSI_WORKER, ""),
    ("parenthesis that is no tag", "(note) Avg prompt throughput", "(note) Avg prompt throughput"),
]


@pytest.mark.parametrize("line, expected", [case[1:] for case in PREFIX_CASES], ids=[case[0] for case in PREFIX_CASES])
def test_strip_prefixes(line, expected):
    assert _strip_prefixes(line) == expected


# --- stats lines ------------------------------------------------------------------------------

V0_STATS = (
    "INFO 12-16 21:40:15 metrics.py:467] Avg prompt throughput: 512.3 tokens/s, "
    "Avg generation throughput: 35.2 tokens/s, Running: 3 reqs, Swapped: 1 reqs, Pending: 2 reqs, "
    "GPU KV cache usage: 12.5%, CPU KV cache usage: 0.4%."
)
V0_ROW = dict(
    engine=0,
    prompt_tps=512.3,
    generation_tps=35.2,
    running=3,
    waiting=2,
    swapped=1,
    kv_cache_pct=12.5,
    kv_cache_device="GPU",
    cpu_kv_cache_pct=0.4,
    logged_at=T3_UTC,
    age_s=4.9,
)
V1_085 = (
    "Engine 000: Avg prompt throughput: 6154.6 tokens/s, Avg generation throughput: 27.4 tokens/s, "
    "Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.7%, Prefix cache hit rate: 0.0%"
)

STATS_CASES = [
    (
        "V0 0.6.6 with its separate prefix-cache line",
        T3
        + V0_STATS
        + "\n"
        + T3
        + "INFO 12-16 21:40:15 metrics.py:483] Prefix cache hit rate: GPU: 45.50%, CPU: 0.00%\n",
        engine(prefix_cache_hit_pct=45.5, **V0_ROW),
    ),
    ("V0 without prefix-cache line", T3 + V0_STATS + "\n", engine(**V0_ROW)),
    (
        "V0 prefix caching off on the GPU (-1 printed as -100.00%)",
        T3
        + V0_STATS
        + "\n"
        + T3
        + "INFO 12-16 21:40:15 metrics.py:483] Prefix cache hit rate: GPU: -100.00%, CPU: 3.00%\n",
        engine(**V0_ROW),
    ),
    (
        "V0 prefix-cache line before any stats line is ignored",
        T1 + "INFO 12-16 21:40:15 metrics.py:483] Prefix cache hit rate: GPU: 45.50%, CPU: 0.00%\n" + T3 + V0_STATS,
        engine(**V0_ROW),
    ),
    (
        "V1 0.8.5 fixed format",
        T3 + "INFO 05-01 12:00:00 [loggers.py:111] " + V1_085,
        engine(
            engine=0,
            prompt_tps=6154.6,
            generation_tps=27.4,
            running=1,
            waiting=0,
            kv_cache_pct=0.7,
            kv_cache_device="GPU",
            prefix_cache_hit_pct=0.0,
            logged_at=T3_UTC,
            age_s=4.9,
        ),
    ),
    (
        "0.12-0.27 with every optional part",
        T3 + ANSI_TAG + "INFO 11-05 10:00:00 [loggers.py:236] Engine 000: Avg prompt throughput: 120.0 tokens/s, "
        "Avg generation throughput: 455.9 tokens/s, Running: 14 reqs, Waiting: 3 reqs, Deferred: 2 reqs, "
        "Preemptions: 4, GPU KV cache usage: 88.1%, Prefix cache hit rate: 61.3%, Corrupted: 1 reqs, "
        "External prefix cache hit rate: 12.0%, MM cache hit rate: 40.0%",
        engine(
            engine=0,
            prompt_tps=120.0,
            generation_tps=455.9,
            running=14,
            waiting=3,
            preemptions=4,
            kv_cache_pct=88.1,
            kv_cache_device="GPU",
            prefix_cache_hit_pct=61.3,
            logged_at=T3_UTC,
            age_s=4.9,
        ),
    ),
    (
        "0.12-0.27 without optional parts",
        T3 + "(APIServer pid=1) INFO 11-05 10:00:00 [loggers.py:236] Engine 000: Avg prompt throughput: 0.0 tokens/s, "
        "Avg generation throughput: 0.0 tokens/s, Running: 0 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.0%, "
        "Prefix cache hit rate: 0.0%",
        engine(
            engine=0,
            prompt_tps=0.0,
            generation_tps=0.0,
            running=0,
            waiting=0,
            kv_cache_pct=0.0,
            kv_cache_device="GPU",
            prefix_cache_hit_pct=0.0,
            logged_at=T3_UTC,
            age_s=4.9,
        ),
    ),
    (
        "0.33 GPU, no prefix hit rate yet, KV fetch part",
        T3 + "(APIServer pid=1) INFO 03-01 09:00:00 [loggers.py:250] Engine 000: Avg prompt throughput: 10.5 tokens/s, "
        "Avg generation throughput: 20.0 tokens/s, Running: 2 reqs, Waiting: 1 reqs, "
        "KV fetch: 1 waiting to start, 2 in progress, 0 completed waiting, GPU KV cache usage: 3.2%",
        engine(
            engine=0,
            prompt_tps=10.5,
            generation_tps=20.0,
            running=2,
            waiting=1,
            kv_cache_pct=3.2,
            kv_cache_device="GPU",
            logged_at=T3_UTC,
            age_s=4.9,
        ),
    ),
    (
        "0.33 XPU",
        T3 + "(APIServer pid=1) INFO 03-01 09:00:00 [loggers.py:250] Engine 000: Avg prompt throughput: 1.0 tokens/s, "
        "Avg generation throughput: 2.0 tokens/s, Running: 1 reqs, Waiting: 0 reqs, XPU KV cache usage: 5.0%, "
        "Prefix cache hit rate: 7.5%",
        engine(
            engine=0,
            prompt_tps=1.0,
            generation_tps=2.0,
            running=1,
            waiting=0,
            kv_cache_pct=5.0,
            kv_cache_device="XPU",
            prefix_cache_hit_pct=7.5,
            logged_at=T3_UTC,
            age_s=4.9,
        ),
    ),
    (
        "0.33 CPU backend: a lone CPU fragment is the main device",
        T3 + "INFO 03-01 09:00:00 [loggers.py:250] Engine 000: Avg prompt throughput: 1.0 tokens/s, "
        "Avg generation throughput: 2.0 tokens/s, Running: 1 reqs, Waiting: 0 reqs, CPU KV cache usage: 9.0%",
        engine(
            engine=0,
            prompt_tps=1.0,
            generation_tps=2.0,
            running=1,
            waiting=0,
            kv_cache_pct=9.0,
            kv_cache_device="CPU",
            logged_at=T3_UTC,
            age_s=4.9,
        ),
    ),
    (
        "0.33 GPU + host",
        T3 + "(APIServer pid=1) INFO 03-01 09:00:00 [loggers.py:250] Engine 000: Avg prompt throughput: 1.0 tokens/s, "
        "Avg generation throughput: 2.0 tokens/s, Running: 1 reqs, Waiting: 0 reqs, Preemptions: 1, "
        "GPU + host KV cache usage: 50.5%, Prefix cache hit rate: 1.0%",
        engine(
            engine=0,
            prompt_tps=1.0,
            generation_tps=2.0,
            running=1,
            waiting=0,
            preemptions=1,
            kv_cache_pct=50.5,
            kv_cache_device="GPU + host",
            prefix_cache_hit_pct=1.0,
            logged_at=T3_UTC,
            age_s=4.9,
        ),
    ),
    (
        "2 Engines Aggregated",
        T3 + "(APIServer pid=1) INFO 11-05 10:00:00 [loggers.py:236] 2 Engines Aggregated: Avg prompt throughput: "
        "300.0 tokens/s, Avg generation throughput: 80.0 tokens/s, Running: 6 reqs, Waiting: 0 reqs, "
        "GPU KV cache usage: 20.0%, Prefix cache hit rate: 5.0%",
        engine(
            engine=None,
            aggregated_engines=2,
            prompt_tps=300.0,
            generation_tps=80.0,
            running=6,
            waiting=0,
            kv_cache_pct=20.0,
            kv_cache_device="GPU",
            prefix_cache_hit_pct=5.0,
            logged_at=T3_UTC,
            age_s=4.9,
        ),
    ),
    (
        "no docker timestamp: no logged_at, no age",
        T1 + "INFO 05-01 12:00:00 [loggers.py:111] Engine 000: Avg prompt throughput: 5.0 tokens/s\n"
        "INFO 05-01 12:00:00 [loggers.py:111] " + V1_085,
        engine(
            engine=0,
            prompt_tps=6154.6,
            generation_tps=27.4,
            running=1,
            waiting=0,
            kv_cache_pct=0.7,
            kv_cache_device="GPU",
            prefix_cache_hit_pct=0.0,
        ),
    ),
]


@pytest.mark.parametrize("text, expected", [case[1:] for case in STATS_CASES], ids=[case[0] for case in STATS_CASES])
def test_stats_line(text, expected):
    assert parse(text)["engines"] == [expected]


IGNORED_CASES = [
    (
        "0.10 cache_config_info",
        T3 + "INFO 08-01 10:00:00 [core.py:170] Engine 000: vllm cache_config_info with initialization after "
        "num_gpu_blocks is: 36522",
    ),
    (
        "0.33 iteration line",
        T3 + "(APIServer pid=1) INFO 03-01 09:00:00 [loggers.py:300] Engine 000: Iteration(12): 1 context requests, "
        "512 context tokens, 3 generation requests, 3 generation tokens, iteration elapsed time: 21.50 ms, "
        "GPU KV cache usage: 1.0%",
    ),
    (
        "spec decode line",
        T3 + "INFO 05-01 12:00:00 [metrics.py:82] SpecDecoding metrics: Mean acceptance length: 2.10, "
        "Accepted throughput: 4.00 tokens/s, Drafted throughput: 9.00 tokens/s, Accepted: 40 tokens, "
        "Drafted: 90 tokens, Per-position acceptance rate: 0.700, 0.400, Avg Draft acceptance rate: 44.4%",
    ),
    (
        "prompt echoed by --enable-log-requests",
        T3 + "INFO 05-01 12:00:00 [logger.py:39] Received request chatcmpl-1: prompt: 'Avg prompt throughput: "
        "9.0 tokens/s, Running: 9 reqs; CUDA out of memory', params: SamplingParams(n=1)",
    ),
]


@pytest.mark.parametrize("text", [case[1] for case in IGNORED_CASES], ids=[case[0] for case in IGNORED_CASES])
def test_lines_that_are_not_stats(text):
    assert parse(text) == {
        "engines": [],
        "loading": None,
        "errors": [],
        "ready": False,
        "last_log_at": T3_UTC,
        "log_lines_read": 1,
    }


def test_data_parallel_newest_line_per_engine_sorted_aggregated_last():
    def line(stamp, head, running):
        return (
            stamp + ANSI_TAG + "INFO 11-05 10:00:00 [loggers.py:236] " + head + ": Avg prompt throughput: "
            "1.0 tokens/s, Avg generation throughput: 2.0 tokens/s, Running: %d reqs, Waiting: 0 reqs, "
            "GPU KV cache usage: 1.0%%, Prefix cache hit rate: 0.0%%" % running
        )

    text = (
        "\n".join(
            [
                line(T1, "2 Engines Aggregated", 10),
                line(T1, "Engine 001", 11),
                line(T1, "Engine 000", 12),
                line(T2, "Engine 001", 21),
                line(T3, "Engine 000", 32),
            ]
        )
        + "\n"
    )
    common = dict(
        prompt_tps=1.0, generation_tps=2.0, waiting=0, kv_cache_pct=1.0, kv_cache_device="GPU", prefix_cache_hit_pct=0.0
    )
    assert parse(text)["engines"] == [
        engine(engine=0, running=32, logged_at=T3_UTC, age_s=4.9, **common),
        engine(engine=1, running=21, logged_at="2026-11-28T01:35:10.000001Z", age_s=290.0, **common),
        engine(
            engine=None,
            aggregated_engines=2,
            running=10,
            logged_at="2026-11-28T01:31:00.123456Z",
            age_s=539.9,
            **common,
        ),
    ]


# --- loading ----------------------------------------------------------------------------------


def loading(stage, message, progress_pct=None):
    return {"stage": stage, "progress_pct": progress_pct, "message": message}


LOADING_CASES = [
    (
        "0.8.5 banner",
        "INFO 05-01 12:00:00 [api_server.py:1043] vLLM API server version 0.8.5",
        loading("starting", "vLLM API server version 0.8.5"),
    ),
    (
        "0.33 banner",
        "(APIServer pid=1) INFO 03-01 09:00:00 [startup.py:50] vLLM server version 0.33.0, serving model Qwen/Qwen3-8B",
        loading("starting", "vLLM server version 0.33.0, serving model Qwen/Qwen3-8B"),
    ),
    (
        "max model len",
        "INFO 08-20 10:00:00 [config.py:1604] Using max model len 32768",
        loading("starting", "Using max model len 32768"),
    ),
    (
        "hf hub fetching",
        "Fetching 46 files:  50%|█████     | 23/46 [00:30<00:30,  1.30s/it]",
        loading("downloading", "Fetching 46 files:  50%|█████     | 23/46 [00:30<00:30,  1.30s/it]", 50),
    ),
    (
        "hf hub downloading",
        "Downloading (…)of-00046.safetensors:  12%|█▏        | 600M/4.97G [00:05<00:40]",
        loading("downloading", "Downloading (…)of-00046.safetensors:  12%|█▏        | 600M/4.97G [00:05<00:40]", 12),
    ),
    (
        "weights format",
        "INFO 10-02 08:15:01 [weight_utils.py:348] Using model weights format ['*.safetensors']",
        loading("downloading", "Using model weights format ['*.safetensors']"),
    ),
    (
        "download time",
        "INFO 10-02 08:15:01 [weight_utils.py:369] Time spent downloading weights for Qwen/Qwen3-8B: 42.123456 seconds",
        loading("downloading", "Time spent downloading weights for Qwen/Qwen3-8B: 42.123456 seconds"),
    ),
    (
        "start load",
        "INFO 05-01 12:00:00 [gpu_model_runner.py:1329] Starting to load model Qwen/Qwen3-8B...",
        loading("loading_weights", "Starting to load model Qwen/Qwen3-8B..."),
    ),
    (
        "safetensors shards",
        "Loading safetensors checkpoint shards:  50% Completed | 23/46 [00:23<00:21,  1.09it/s]",
        loading(
            "loading_weights",
            "Loading safetensors checkpoint shards:  50% Completed | 23/46 [00:23<00:21,  1.09it/s]",
            50,
        ),
    ),
    (
        "eager shards 0.11",
        "Loading safetensors checkpoint shards (eager): 100% Completed | 4/4 [00:02<00:00,  1.90it/s]",
        loading(
            "loading_weights",
            "Loading safetensors checkpoint shards (eager): 100% Completed | 4/4 [00:02<00:00,  1.90it/s]",
            100,
        ),
    ),
    (
        "pt shards",
        "Loading pt checkpoint shards:   0% Completed | 0/2 [00:00<?, ?it/s]",
        loading("loading_weights", "Loading pt checkpoint shards:   0% Completed | 0/2 [00:00<?, ?it/s]", 0),
    ),
    (
        "multi-thread",
        "Multi-thread loading shards:  25% Completed | 1/4 [00:01<00:03,  1.00s/it]",
        loading("loading_weights", "Multi-thread loading shards:  25% Completed | 1/4 [00:01<00:03,  1.00s/it]", 25),
    ),
    (
        "runai",
        "Loading safetensors using Runai Model Streamer:  75% Completed | 3/4 [00:03<00:01,  1.0it/s]",
        loading(
            "loading_weights",
            "Loading safetensors using Runai Model Streamer:  75% Completed | 3/4 [00:03<00:01,  1.0it/s]",
            75,
        ),
    ),
    (
        "0.6.6 V0 weights took",
        "INFO 12-16 21:40:15 model_runner.py:1099] Loading model weights took 14.9888 GB",
        loading("loading_weights", "Loading model weights took 14.9888 GB"),
    ),
    (
        "0.8.5 model loading took",
        "INFO 05-01 12:00:00 [gpu_model_runner.py:1347] Model loading took 15.2683 GiB and 12.345678 seconds",
        loading("loading_weights", "Model loading took 15.2683 GiB and 12.345678 seconds"),
    ),
    (
        "0.14 model loading took",
        "INFO 01-10 10:00:00 [gpu_model_runner.py:3000] Model loading took 15.27 GiB memory and 12.345678 seconds",
        loading("loading_weights", "Model loading took 15.27 GiB memory and 12.345678 seconds"),
    ),
    (
        "loader",
        "INFO 10-02 08:15:01 [default_loader.py:267] Loading weights took 10.52 seconds",
        loading("loading_weights", "Loading weights took 10.52 seconds"),
    ),
    (
        "V0 memory profiling",
        "INFO 12-16 21:40:15 worker.py:232] Memory profiling takes 3.21 seconds",
        loading("profiling", "Memory profiling takes 3.21 seconds"),
    ),
    (
        "V0 blocks",
        "INFO 12-16 21:40:15 gpu_executor.py:76] # GPU blocks: 27793, # CPU blocks: 2048",
        loading("profiling", "# GPU blocks: 27793, # CPU blocks: 2048"),
    ),
    (
        "available KV memory",
        "INFO 10-02 08:15:01 [gpu_worker.py:276] Available KV cache memory: 54.39 GiB",
        loading("profiling", "Available KV cache memory: 54.39 GiB"),
    ),
    (
        "KV cache size",
        "INFO 10-02 08:15:01 [kv_cache_utils.py:1087] GPU KV cache size: 587,722 tokens",
        loading("profiling", "GPU KV cache size: 587,722 tokens"),
    ),
    (
        "max concurrency",
        "INFO 10-02 08:15:01 [kv_cache_utils.py:1091] Maximum concurrency for 32,768 tokens per request: 17.94x",
        loading("profiling", "Maximum concurrency for 32,768 tokens per request: 17.94x"),
    ),
    (
        "0.33 one-line KV size",
        "(EngineCore pid=77) INFO 03-01 09:00:00 [kv_cache_utils.py:900] GPU + host KV cache "
        "size: 1,200,000 tokens, Maximum concurrency for 32,768 tokens per request: 36.62x",
        loading(
            "profiling",
            "GPU + host KV cache size: 1,200,000 tokens, Maximum concurrency for 32,768 tokens per request: 36.62x",
        ),
    ),
    (
        "0.33 warmup",
        "INFO 03-01 09:00:00 [monitor.py:40] Initial profiling/warmup run took 3.10 s",
        loading("profiling", "Initial profiling/warmup run took 3.10 s"),
    ),
    (
        "dynamo",
        "INFO 10-02 08:15:01 [backends.py:548] Dynamo bytecode transform time: 9.84 s",
        loading("compiling", "Dynamo bytecode transform time: 9.84 s"),
    ),
    (
        "compile shape",
        "INFO 10-02 08:15:01 [backends.py:194] Compiling a graph for dynamic shape takes 31.62 s",
        loading("compiling", "Compiling a graph for dynamic shape takes 31.62 s"),
    ),
    (
        "compile cache hit",
        "INFO 10-02 08:15:01 [backends.py:161] Directly load the compiled graph(s) for dynamic "
        "shape from the cache, took 4.567 s",
        loading("compiling", "Directly load the compiled graph(s) for dynamic shape from the cache, took 4.567 s"),
    ),
    (
        "compile takes",
        "INFO 10-02 08:15:01 [monitor.py:34] torch.compile takes 41.46 s in total",
        loading("compiling", "torch.compile takes 41.46 s in total"),
    ),
    (
        "compile took",
        "INFO 03-01 09:00:00 [monitor.py:34] torch.compile took 41.46 s in total",
        loading("compiling", "torch.compile took 41.46 s in total"),
    ),
    (
        "0.33 compile start",
        "INFO 03-01 09:00:00 [monitor.py:20] Starting torch.compile",
        loading("compiling", "Starting torch.compile"),
    ),
    (
        "V0 capturing",
        "INFO 12-16 21:40:15 model_runner.py:1415] Capturing cudagraphs for decoding. This may lead "
        "to unexpected consequences if the model is not static.",
        loading(
            "capturing_graphs",
            "Capturing cudagraphs for decoding. This may lead to unexpected consequences if the model is not static.",
        ),
    ),
    (
        "V0 capture tqdm",
        "Capturing CUDA graph shapes:  40%|████      | 14/35 [00:05<00:07,  2.80it/s]",
        loading("capturing_graphs", "Capturing CUDA graph shapes:  40%|████      | 14/35 [00:05<00:07,  2.80it/s]", 40),
    ),
    (
        "V1 capture tqdm",
        "Capturing CUDA graphs (mixed prefill-decode, PIECEWISE):  50%|█████     | 34/67 [00:01<00:01, 20.1it/s]",
        loading(
            "capturing_graphs",
            "Capturing CUDA graphs (mixed prefill-decode, PIECEWISE):  50%|█████     | 34/67 [00:01<00:01, 20.1it/s]",
            50,
        ),
    ),
    (
        "graphs done",
        "INFO 10-02 08:15:01 [gpu_model_runner.py:3480] Graph capturing finished in 12 secs, took 0.54 GiB",
        loading("capturing_graphs", "Graph capturing finished in 12 secs, took 0.54 GiB"),
    ),
    (
        "init engine",
        "INFO 10-02 08:15:01 [core.py:210] init engine (profile, create kv cache, warmup model) took 70.40 seconds",
        loading("starting_server", "init engine (profile, create kv cache, warmup model) took 70.40 seconds"),
    ),
    (
        "0.8.5 server start",
        "INFO 05-01 12:00:00 [api_server.py:1081] Starting vLLM API server on http://0.0.0.0:8000",
        loading("starting_server", "Starting vLLM API server on http://0.0.0.0:8000"),
    ),
    (
        "0.11 server start",
        "(APIServer pid=1) INFO 10-02 08:15:01 [api_server.py:1880] Starting vLLM API server 0 on http://0.0.0.0:8000",
        loading("starting_server", "Starting vLLM API server 0 on http://0.0.0.0:8000"),
    ),
    (
        "0.33 server start",
        "(APIServer pid=1) INFO 03-01 09:00:00 [launcher.py:30] Starting vLLM server on http://0.0.0.0:8000",
        loading("starting_server", "Starting vLLM server on http://0.0.0.0:8000"),
    ),
    (
        "uvicorn process",
        "(APIServer pid=1) INFO:     Started server process [1]",
        loading("starting_server", "Started server process [1]"),
    ),
    (
        "uvicorn lifespan",
        "INFO:     Waiting for application startup.",
        loading("starting_server", "Waiting for application startup."),
    ),
]


@pytest.mark.parametrize(
    "line, expected", [case[1:] for case in LOADING_CASES], ids=[case[0] for case in LOADING_CASES]
)
def test_loading_stage(line, expected):
    assert parse(T1 + line + "\n")["loading"] == expected


def test_tqdm_updates_share_the_docker_timestamp_and_the_newest_wins():
    meter = "Loading safetensors checkpoint shards: %3d%% Completed | %d/46 [00:%02d<00:21,  1.09it/s]"
    text = T1 + ANSI_WORKER + "\r" + "\r".join(meter % (pct, n, n) for pct, n in ((0, 0), (2, 1), (50, 23))) + "\n"
    assert parse(text) == {
        "engines": [],
        "loading": loading("loading_weights", meter % (50, 23, 23), 50),
        "errors": [],
        "ready": False,
        "last_log_at": "2026-11-28T01:31:00.123456Z",
        "log_lines_read": 4,
    }


@pytest.mark.parametrize(
    "lines, expected",
    [
        # progress is taken from the newest bar of the newest line's stage ...
        (
            [
                "Loading safetensors checkpoint shards: 100% Completed | 46/46 [00:42<00:00,  1.09it/s]",
                "INFO 10-02 08:15:01 [default_loader.py:267] Loading weights took 42.10 seconds",
            ],
            loading("loading_weights", "Loading weights took 42.10 seconds", 100),
        ),
        # ... and not carried into the next stage
        (
            [
                "Loading safetensors checkpoint shards: 100% Completed | 46/46 [00:42<00:00,  1.09it/s]",
                "INFO 10-02 08:15:01 [backends.py:548] Dynamo bytecode transform time: 9.84 s",
            ],
            loading("compiling", "Dynamo bytecode transform time: 9.84 s"),
        ),
        # unclassified lines (V0 profiling continuation lines) leave the stage alone
        (
            [
                "INFO 12-16 21:40:15 worker.py:232] Memory profiling takes 3.21 seconds\r",
                "INFO 12-16 21:40:15 worker.py:232] the current vLLM instance can use total_gpu_memory (79.15GiB) x "
                "gpu_memory_utilization (0.90) = 71.24GiB\r",
            ],
            loading("profiling", "Memory profiling takes 3.21 seconds"),
        ),
    ],
)
def test_loading_progress_and_stage_order(lines, expected):
    assert parse("".join(T1 + line + "\n" for line in lines))["loading"] == expected


def test_loading_message_is_cleaned_and_bounded():
    line = "INFO 10-02 08:15:01 [x.py:1] Starting to load model \x1b]0;title\x07" + "m" * 300 + "..."
    message = parse(T1 + line)["loading"]["message"]
    assert message == "Starting to load model " + "m" * 176 + "\u2026"
    assert len(message) == 200


# --- ready ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, ready",
    [
        ("(APIServer pid=1) INFO:     Application startup complete.", True),
        ("INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)", True),
        ("INFO:     Waiting for application startup.", False),
    ],
)
def test_ready(line, ready):
    assert parse(T1 + line)["ready"] is ready


# --- errors -----------------------------------------------------------------------------------

ERROR_CASES = [
    (
        "cuda_oom",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB. GPU 0 has a total capacity of "
        "11.53 GiB of which 187.75 MiB is free.",
    ),
    ("cuda_oom", "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
    (
        "kv_cache_insufficient",
        "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
        "initializing the engine.",
    ),
    (
        "kv_cache_insufficient",
        "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
        "initializing the engine (this flag also controls CPU memory reservation on the CPU backend, despite its "
        "name). See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details.",
    ),
    (
        "kv_cache_insufficient",
        "ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can be stored "
        "in KV cache (60000). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
        "initializing the engine.",
    ),
    (
        "kv_cache_insufficient",
        "ValueError: To serve at least one request with the models's max seq len (131072), (16.00 GiB KV cache is "
        "needed, which is larger than the available KV cache memory (9.50 GiB). Based on the available memory, the "
        "estimated maximum model length is 77824.",
    ),
    (
        "kv_cache_insufficient",
        "ValueError: To serve at least one request with the model's max seq len (131072), (16.00 GiB KV cache is "
        "needed, which is larger than the available KV cache memory (9.50 GiB).",
    ),
    (
        "gpu_memory_utilization",
        "ValueError: Free memory on device (60.1/79.2 GiB) on startup is less than desired GPU memory utilization "
        "(0.92, 72.9 GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
    ),
    ("engine_init_failed", "RuntimeError: Engine core initialization failed. See root cause above."),
    (
        "engine_init_failed",
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): "
        "{'EngineCore_DP0': 1}, failed frontend proc(s): {'ApiServer_0': 1}",
    ),
    (
        "engine_init_failed",
        "RuntimeError: Frontend process failed during engine core initialization. See root cause above. Failed "
        "frontend proc(s): {'ApiServer_0': 1}",
    ),
    ("engine_died", "Engine core proc EngineCore_DP0 died unexpectedly, shutting down client."),
]


@pytest.mark.parametrize("kind, message", ERROR_CASES)
def test_error_kind(kind, message):
    assert parse(T2 + ANSI_CORE + "ERROR 10-02 08:15:01 [core.py:708] " + message)["errors"] == [
        {"kind": kind, "message": message, "logged_at": "2026-11-28T01:35:10.000001Z"},
    ]


def test_errors_root_cause_first_one_per_kind_through_a_multiline_traceback():
    # 0.11+ NewLineFormatter: every line of a multi-line message ends in \r and repeats the prefix.
    prefix = ANSI_CORE + "ERROR 10-02 08:15:01 [core.py:708] "
    text = "".join(
        T1 + prefix + line + "\r\n"
        for line in (
            "EngineCore failed to start.",
            "Traceback (most recent call last):",
            '  File "/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py", line 699, in run_engine_core',
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.00 GiB.",
        )
    ) + (
        T2 + ANSI_TAG + "ERROR 10-02 08:15:02 [core_client.py:564] Engine core proc EngineCore_DP0 died "
        "unexpectedly, shutting down client.\n"
        + T2
        + "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}\n"
        + T3
        + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 9.00 GiB.\n"
    )
    parsed = parse(text)
    assert parsed["errors"] == [
        {
            "kind": "cuda_oom",
            "message": "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.00 GiB.",
            "logged_at": "2026-11-28T01:31:00.123456Z",
        },
        {
            "kind": "engine_died",
            "message": "Engine core proc EngineCore_DP0 died unexpectedly, shutting down client.",
            "logged_at": "2026-11-28T01:35:10.000001Z",
        },
        {
            "kind": "engine_init_failed",
            "message": "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
            "logged_at": "2026-11-28T01:35:10.000001Z",
        },
    ]
    assert (parsed["log_lines_read"], parsed["last_log_at"]) == (7, T3_UTC)


def test_error_message_is_bounded():
    message = parse(T1 + "torch.OutOfMemoryError: CUDA out of memory. " + "x" * 400)["errors"][0]["message"]
    assert message == "torch.OutOfMemoryError: CUDA out of memory. " + "x" * 255 + "\u2026"


# --- which lines count ------------------------------------------------------------------------

OLD_RUN = (
    BEFORE
    + "INFO 05-01 12:00:00 [api_server.py:1043] vLLM API server version 0.8.5\n"
    + BEFORE
    + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB.\n"
    + BEFORE
    + "INFO 05-01 12:00:00 [loggers.py:111] "
    + V1_085
    + "\n"
    + BEFORE
    + "INFO:     Application startup complete.\n"
)
NEW_RUN = (
    T0
    + "INFO 05-01 12:00:00 [api_server.py:1043] vLLM API server version 0.8.5\n"
    + T1
    + "(VllmWorker rank=0 pid=241) \rLoading safetensors checkpoint shards:  50% Completed | 2/4 "
    "[00:02<00:02,  1.00it/s]\n"
)
NEW_RUN_PARSED = {
    "engines": [],
    "loading": loading(
        "loading_weights", "Loading safetensors checkpoint shards:  50% Completed | 2/4 [00:02<00:02,  1.00it/s]", 50
    ),
    "errors": [],
    "ready": False,
    "last_log_at": "2026-11-28T01:31:00.123456Z",
    "log_lines_read": 7,
}


@pytest.mark.parametrize("started_at", [STARTED_AT, None], ids=["started_at", "banner"])
def test_restart_ignores_the_previous_run(started_at):
    assert parse(OLD_RUN + NEW_RUN, started_at) == NEW_RUN_PARSED


def test_without_started_at_or_banner_everything_counts():
    text = BEFORE + "torch.OutOfMemoryError: CUDA out of memory.\n" + T1 + "INFO:     Application startup complete.\n"
    assert parse(text, None) == {
        "engines": [],
        "loading": None,
        "errors": [
            {
                "kind": "cuda_oom",
                "message": "torch.OutOfMemoryError: CUDA out of memory.",
                "logged_at": "2026-11-28T01:20:00.500000Z",
            }
        ],
        "ready": True,
        "last_log_at": "2026-11-28T01:31:00.123456Z",
        "log_lines_read": 2,
    }


@pytest.mark.parametrize(
    "stamp, counted, logged_at",
    [
        ("2026-11-28T01:30:00Z ", True, "2026-11-28T01:30:00.000000Z"),
        ("2026-11-28T01:30:00.000000001Z ", True, "2026-11-28T01:30:00.000000Z"),
        ("2026-11-28T01:29:59.999999999Z ", False, None),
        ("2026-11-28T01:29:59.9Z ", False, None),
        # other RFC 3339 forms than docker's own
        ("2026-11-28T02:30:00.5+01:00 ", True, "2026-11-28T01:30:00.500000Z"),
        ("2026-11-28t01:30:01z ", True, "2026-11-28T01:30:01.000000Z"),
        ("2026-11-28T02:29:59+01:00 ", False, None),
    ],
)
def test_docker_timestamp_against_started_at(stamp, counted, logged_at):
    parsed = parse(stamp + "INFO:     Application startup complete.\n")
    assert (parsed["ready"], parsed["last_log_at"], parsed["log_lines_read"]) == (counted, logged_at, 1)


@pytest.mark.parametrize(
    "text, started_at, errors",
    [
        # a line without docker timestamp belongs to the run of the timestamped line before it
        (
            T1 + "EngineCore failed to start.\ntorch.OutOfMemoryError: CUDA out of memory.\n",
            STARTED_AT,
            [{"kind": "cuda_oom", "message": "torch.OutOfMemoryError: CUDA out of memory.", "logged_at": None}],
        ),
        (BEFORE + "EngineCore failed to start.\ntorch.OutOfMemoryError: CUDA out of memory.\n", STARTED_AT, []),
        # before any timestamped line it counts only when started_at is unknown
        ("torch.OutOfMemoryError: CUDA out of memory.\n", STARTED_AT, []),
        (
            "torch.OutOfMemoryError: CUDA out of memory.\n",
            None,
            [{"kind": "cuda_oom", "message": "torch.OutOfMemoryError: CUDA out of memory.", "logged_at": None}],
        ),
    ],
)
def test_lines_without_docker_timestamp(text, started_at, errors):
    assert parse(text, started_at)["errors"] == errors


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {"engines": [], "loading": None, "errors": [], "ready": False, "last_log_at": None, "log_lines_read": 0}),
        # blank lines and bare timestamps are not log lines; a process tag before a tqdm "\r" is one
        (
            T1 + "\n\n" + T1 + " \n" + T1 + ANSI_WORKER + "\r\n" + T1,
            {
                "engines": [],
                "loading": None,
                "errors": [],
                "ready": False,
                "last_log_at": "2026-11-28T01:31:00.123456Z",
                "log_lines_read": 1,
            },
        ),
        (
            OLD_RUN,
            {"engines": [], "loading": None, "errors": [], "ready": False, "last_log_at": None, "log_lines_read": 4},
        ),
    ],
)
def test_empty_and_old_logs(text, expected):
    assert parse(text) == expected


# --- phase ------------------------------------------------------------------------------------


def parsed_log(engines=(), loading_=None, errors=(), ready=False):
    return {
        "engines": list(engines),
        "loading": loading_,
        "errors": list(errors),
        "ready": ready,
        "last_log_at": None,
        "log_lines_read": 0,
    }


OOM = {"kind": "cuda_oom", "message": "torch.OutOfMemoryError: CUDA out of memory.", "logged_at": None}
BUSY = engine(engine=0, prompt_tps=0.0, generation_tps=0.0, running=0, waiting=2, age_s=12.0)
BUSY_OLD = engine(engine=0, prompt_tps=10.0, generation_tps=5.0, running=3, waiting=0, age_s=30.1)
IDLE = engine(engine=0, prompt_tps=0.0, generation_tps=0.0, running=0, waiting=0, age_s=1.0)
BUSY_NO_AGE = engine(engine=0, prompt_tps=10.0, generation_tps=5.0, running=3, waiting=0)
BUSY_AGGREGATED = engine(engine=None, aggregated_engines=2, prompt_tps=None, generation_tps=3.0, age_s=30.0)

PHASE_CASES = [
    (None, parsed_log(), ("unknown", "container state is unknown")),
    ("error", parsed_log(errors=[OOM]), ("unknown", "container state is unknown")),
    ("missing", parsed_log(), ("stopped", "container does not exist")),
    ("exited", parsed_log(), ("stopped", "container has exited")),
    ("exited", parsed_log(errors=[OOM]), ("failed", "torch.OutOfMemoryError: CUDA out of memory.")),
    ("dead", parsed_log(), ("stopped", "container is dead")),
    ("dead", parsed_log(errors=[OOM]), ("failed", "torch.OutOfMemoryError: CUDA out of memory.")),
    ("created", parsed_log(), ("stopped", "container was created but never started")),
    ("removing", parsed_log(), ("stopped", "container is being removed")),
    ("paused", parsed_log(engines=[BUSY]), ("stopped", "container is paused")),
    ("frozen", parsed_log(), ("unknown", "unrecognised container status 'frozen'")),
    (
        "running",
        parsed_log(engines=[BUSY], errors=[OOM], ready=True),
        ("failed", "torch.OutOfMemoryError: CUDA out of memory."),
    ),
    ("restarting", parsed_log(errors=[OOM]), ("failed", "torch.OutOfMemoryError: CUDA out of memory.")),
    ("running", parsed_log(engines=[BUSY], ready=True), ("serving", None)),
    ("running", parsed_log(engines=[IDLE, BUSY_AGGREGATED]), ("serving", None)),
    ("running", parsed_log(engines=[IDLE], ready=True), ("idle", None)),
    ("running", parsed_log(engines=[BUSY_OLD], ready=True), ("idle", None)),
    ("running", parsed_log(engines=[BUSY_NO_AGE]), ("idle", None)),
    ("running", parsed_log(ready=True), ("idle", None)),
    ("running", parsed_log(loading_=loading("compiling", "x")), ("loading", None)),
    ("running", parsed_log(), ("loading", None)),
    ("restarting", parsed_log(), ("loading", None)),
]


@pytest.mark.parametrize("status, parsed, expected", PHASE_CASES)
def test_decide_phase(status, parsed, expected):
    assert decide_phase(status, parsed) == expected


def test_decide_phase_freshness_is_configurable():
    assert decide_phase("running", parsed_log(engines=[BUSY_OLD]), fresh_after_s=60.0) == ("serving", None)


@pytest.mark.parametrize(
    "parsed, expected",
    [
        (parsed_log(), {"stage": "starting", "progress_pct": None, "message": None}),
        (
            parsed_log(loading_=loading("profiling", "Memory profiling takes 3.21 seconds")),
            {"stage": "profiling", "progress_pct": None, "message": "Memory profiling takes 3.21 seconds"},
        ),
    ],
)
def test_loading_or_starting(parsed, expected):
    assert loading_or_starting(parsed) == expected


# --- figures that cannot be true ------------------------------------------------------------------

HOSTILE_STATS = [
    # More digits than any figure: null, never infinity (float) nor Python's int() digit-limit error.
    (
        "a 400-digit throughput",
        "Engine 000: Avg prompt throughput: " + "9" * 400 + ".0 tokens/s, Avg generation throughput: 2.0 tokens/s, "
        "Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 5.0%, Prefix cache hit rate: 1.0%",
        {
            "prompt_tps": None,
            "generation_tps": 2.0,
            "running": 1,
            "waiting": 0,
            "kv_cache_pct": 5.0,
            "kv_cache_device": "GPU",
            "prefix_cache_hit_pct": 1.0,
        },
    ),
    (
        "a 5000-digit request count",
        "Engine 000: Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: 2.0 tokens/s, "
        "Running: " + "7" * 5000 + " reqs, Waiting: 0 reqs, GPU KV cache usage: 5.0%",
        {
            "prompt_tps": 1.0,
            "generation_tps": 2.0,
            "running": None,
            "waiting": 0,
            "kv_cache_pct": 5.0,
            "kv_cache_device": "GPU",
        },
    ),
    (
        "percentages over 100",
        "Engine 000: Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: 2.0 tokens/s, "
        "Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 250.0%, Prefix cache hit rate: 100.5%",
        {
            "prompt_tps": 1.0,
            "generation_tps": 2.0,
            "running": 1,
            "waiting": 0,
            "kv_cache_pct": None,
            "kv_cache_device": "GPU",
            "prefix_cache_hit_pct": None,
        },
    ),
    (
        "a 5000-digit engine number reads as a V0 line",
        "Engine " + "1" * 5000 + ": Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: 2.0 tokens/s",
        {"prompt_tps": 1.0, "generation_tps": 2.0},
    ),
]


@pytest.mark.parametrize("line, fields", [case[1:] for case in HOSTILE_STATS], ids=[case[0] for case in HOSTILE_STATS])
def test_figures_that_cannot_be_true_are_null(line, fields):
    assert parse(T3 + line)["engines"] == [engine(engine=0, logged_at=T3_UTC, age_s=4.9, **fields)]


@pytest.mark.parametrize(
    "stamp, age_s",
    [
        ("2026-11-28T01:40:30Z ", 0.0),  # 30 s ahead: a clock step, counted as just now
        ("2026-11-28T01:41:00Z ", 0.0),  # exactly the tolerance
        ("2026-11-28T01:41:01Z ", None),  # beyond it: no age (the caller reports the clock)
        ("2999-01-01T00:00:00Z ", None),  # never minus 972 years
    ],
)
def test_lines_ahead_of_the_clock_have_no_negative_age(stamp, age_s):
    line = stamp + "Engine 000: Avg prompt throughput: 1.0 tokens/s, Running: 1 reqs"
    assert parse(line)["engines"][0]["age_s"] == age_s


@pytest.mark.parametrize(
    "moment, ahead",
    [
        (None, None),
        (NOW, None),
        (NOW + datetime.timedelta(seconds=60), None),
        (NOW + datetime.timedelta(seconds=61), 61.0),
        (NOW - datetime.timedelta(days=3650), None),
    ],
)
def test_clock_ahead_s(moment, ahead):
    assert clock_ahead_s(moment, NOW) == ahead


@pytest.mark.parametrize(
    "seconds, text",
    [
        (61, "61 s"),
        (119, "119 s"),
        (120, "2 minutes"),
        (3600, "60 minutes"),
        (7200, "2 hours"),
        (2 * 86400, "2 days"),
        (30 * 365.25 * 86400, "30 years"),
    ],
)
def test_clock_ahead_message_says_how_far(seconds, text):
    assert clock_ahead_message(seconds, "the newest log line").startswith(
        "the newest log line is %s ahead of the VM's clock" % text
    )


def test_progress_over_100_percent_is_not_progress():
    text = T1 + "Loading safetensors checkpoint shards: 999% Completed | 1/2 [00:01<00:01,  1.00it/s]"
    assert parse(text)["loading"]["progress_pct"] is None


@pytest.mark.parametrize(
    "stamp",
    [
        "0000-01-01T00:00:00Z",  # no such year
        "0001-01-01T00:00:00Z",  # Go's zero time ("never")
        "0002-01-01T00:00:00+23:59",  # before year 2 in UTC
        "9999-12-31T23:59:59-23:59",  # after year 9999 in UTC
    ],
)
def test_stamps_outside_real_time_give_no_age(stamp):
    engines = parse_log_text(stamp + " Engine 000: Avg prompt throughput: 1.0 tokens/s, Running: 1 reqs\n", None, NOW)[
        "engines"
    ]
    assert [engine["age_s"] for engine in engines] == [None]
