# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The console output of whole vLLM container runs: start-ups and failures.

Each function writes into a ``LogScript``; the times come from ``vllm_text.START`` so the GPU
readings of a loading host follow the same clock. Every text a parser matches is quoted from
docs/dev/formats.md 2.1-2.6 (cited where used); the filler around them (traceback frames, file:line
numbers, argument values) only has to look right.
"""

from __future__ import annotations

from fakegpu.vllm_text import API, START, engine, worker

MODEL = "Qwen/Qwen3.6-27B-FP8"  # hypr's [vllm] model default (docs/dev/formats.md 1.2)
PORT = 11434  # hypr serves vLLM on the Ollama port (docs/dev/formats.md 1.5)


class Deployment:
    """The ``docker run`` arguments that show up in the logs."""

    def __init__(self, model=MODEL, max_model_len=262144, gpu_memory_utilization=0.92, extra_args=None):
        self.model = model
        self.max_model_len = max_model_len
        self.gpu_memory_utilization = gpu_memory_utilization
        self.extra_args = extra_args or {}

    def non_default_args(self, script) -> str:
        args = {
            "model": self.model,
            "host": "0.0.0.0",
            "port": PORT,
            "max_model_len": self.max_model_len,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "enable_prefix_caching": True,
            "enable_auto_tool_choice": True,
            "tool_call_parser": "qwen3_coder",
        }
        if script.tp > 1:
            args["tensor_parallel_size"] = script.tp
        if script.dp > 1:
            args["data_parallel_size"] = script.dp
        args.update(self.extra_args)
        return "non-default args: %r" % (args,)


def _engines(script):
    return [engine(index) for index in range(script.dp)]


def _workers(script):
    """The processes that load weights: every TP rank, or the engine core of each DP rank."""
    if script.tp > 1:
        return [worker(rank) for rank in range(script.tp)]
    return [worker(0)] if script.dp == 1 else _engines(script)


def _bar_owners(script):
    """tqdm bars are shown by the first TP rank of every engine."""
    return [worker(0)] if script.tp > 1 or script.dp == 1 else _engines(script)


def banner(script, deploy: Deployment, t: float = 0.0) -> None:
    """docs/dev/formats.md 2.5: ``vLLM API server version %s`` + ``non-default args: %s`` (0.11+);
    0.33: ``vLLM server version %s, serving model %s``; ``Using max model len %s`` (0.10.1+)."""
    version = script.version
    if version.release >= (0, 33):
        script.log(t, API, "startup.py:88", "vLLM server version %s, serving model %s" % (version.number, deploy.model))
    else:
        script.log(t, API, "api_server.py:1839", "vLLM API server version %s" % version.number)
    script.log(t + 0.01, API, "utils.py:233", deploy.non_default_args(script))
    script.log(t + 3.2, API, "model.py:1510", "Using max model len %d" % deploy.max_model_len)


def _start_loading(script, deploy: Deployment) -> None:
    for process in _workers(script):
        script.log(
            START["load_model"], process, "gpu_model_runner.py:2602", "Starting to load model %s..." % deploy.model
        )
    if script.version.release[:2] == (0, 11):
        # INFO in 0.11.0 only (DEBUG in 0.33.0), docs/dev/formats.md 2.5.
        script.log(
            START["load_model"] + 0.6, worker(0), "weight_utils.py:392", "Using model weights format ['*.safetensors']"
        )


def _shards_bar(script, stop_after=None) -> None:
    for process in _bar_owners(script):
        script.progress(
            START["shards_begin"],
            process,
            "Loading safetensors checkpoint shards",
            START["shards"],
            START["shards"] * START["shard_seconds"],
            stop_after=stop_after,
        )


def v1_startup(script, deploy: Deployment) -> None:
    """A healthy V1 start-up (0.10.1 .. 0.33), ready at START["server_ready"]."""
    version = script.version
    banner(script, deploy)
    _start_loading(script, deploy)
    _shards_bar(script)
    for process in _workers(script):
        script.log(START["weights_done"], process, "default_loader.py:267", "Loading weights took 22.08 seconds")
        # The wording changed in 0.12 ("memory") and the number became %s in 0.14.
        if version.release < (0, 12):
            loaded = "Model loading took 28.7201 GiB and 22.917305 seconds"
        elif version.release < (0, 14):
            loaded = "Model loading took 28.7201 GiB memory and 22.917305 seconds"
        else:
            loaded = "Model loading took 28.72 GiB memory and 22.917305 seconds"
        script.log(START["compile_begin"], process, "gpu_model_runner.py:2653", loaded)
        _compile(script, process)
        script.log(START["kv_cache"], process, "gpu_worker.py:298", "Available KV cache memory: 41.86 GiB")
    for process in _engines(script):
        if version.release >= (0, 33):
            script.log(
                START["kv_cache"] + 0.2,
                process,
                "kv_cache_utils.py:1291",
                "GPU KV cache size: 587,722 tokens, Maximum concurrency for 262,144 tokens per request: 2.24x",
            )
        else:
            script.log(START["kv_cache"] + 0.2, process, "kv_cache_utils.py:1087", "GPU KV cache size: 587,722 tokens")
            script.log(
                START["kv_cache"] + 0.2,
                process,
                "kv_cache_utils.py:1091",
                "Maximum concurrency for 262,144 tokens per request: 2.24x",
            )
    _capture_graphs(script)
    for process in _workers(script):
        script.log(
            START["graphs_done"] + 0.1,
            process,
            "gpu_model_runner.py:3480",
            "Graph capturing finished in 8 secs, took 0.87 GiB",
        )
    took = "took 23.49 s" if version.release >= (0, 33) else "took 23.49 seconds"
    for process in _engines(script):
        script.log(
            START["engine_ready"],
            process,
            "core.py:210",
            "init engine (profile, create kv cache, warmup model) " + took,
        )
    serving(script, START["server_ready"] - 0.2)


def _compile(script, process) -> None:
    """torch.compile lines (docs/dev/formats.md 2.5; the verb changed from "takes" to "took" by 0.22)."""
    version = script.version
    begin, done = START["compile_begin"], START["compile_done"]
    if version.release >= (0, 33):
        script.log(begin + 0.4, process, "backends.py:571", "Starting torch.compile")
        script.log(done - 0.7, process, "backends.py:242", "Compiling a graph for compile range (1, 8192) takes 5.12 s")
        script.log(done, process, "monitor.py:34", "torch.compile took 10.73 s in total")
        script.log(done + 1.9, process, "gpu_worker.py:412", "Initial profiling/warmup run took 1.88 s")
        return
    script.log(begin + 5.8, process, "backends.py:548", "Dynamo bytecode transform time: 5.61 s")
    script.log(done - 0.7, process, "backends.py:215", "Compiling a graph for dynamic shape takes 5.12 s")
    verb = "took" if version.release >= (0, 22) else "takes"
    script.log(done, process, "monitor.py:34", "torch.compile %s 10.73 s in total" % verb)


def _capture_graphs(script) -> None:
    """tqdm ``Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)`` (V1 0.10.1+); 0.11+
    captures the FULL decode graphs as well."""
    begin, done = START["graphs_begin"], START["graphs_done"]
    for process in _bar_owners(script):
        if script.version.release < (0, 11):
            script.progress(
                begin,
                process,
                "Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)",
                67,
                done - begin,
                with_bar=True,
            )
            continue
        script.progress(
            begin, process, "Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)", 67, 5.4, with_bar=True
        )
        script.progress(
            begin + 5.5, process, "Capturing CUDA graphs (decode, FULL)", 35, done - begin - 5.5, with_bar=True
        )


def serving(script, t: float) -> None:
    """``Starting vLLM API server ...`` (wording per version) and uvicorn's start-up lines,
    which uvicorn writes to stderr as ``INFO:     ...`` (docs/dev/formats.md 2.5)."""
    release = script.version.release
    if release >= (0, 33):
        script.log(t, API, "api_server.py:2021", "Starting vLLM server on http://0.0.0.0:%d" % PORT)
    elif release >= (0, 11):
        script.log(t, API, "api_server.py:1971", "Starting vLLM API server 0 on http://0.0.0.0:%d" % PORT)
    else:
        script.log(t, API, "launcher.py:29", "Starting vLLM API server on http://0.0.0.0:%d" % PORT)
    script.raw(t + 0.1, API, "INFO:     Started server process [1]")
    script.raw(t + 0.1, API, "INFO:     Waiting for application startup.")
    script.raw(t + 0.2, API, "INFO:     Application startup complete.")


def v0_startup(script, deploy: Deployment) -> None:
    """vLLM 0.6.6 (V0 engine): no ``[`` in the prefix, no process tags (docs/dev/formats.md 2.1, 2.5)."""
    script.log(0.0, API, "api_server.py:651", "vLLM API server version %s" % script.version.number)
    script.log(
        0.01,
        API,
        "api_server.py:652",
        "args: Namespace(host='0.0.0.0', port=%d, model='%s', max_model_len=%d, "
        "gpu_memory_utilization=%s, enable_prefix_caching=True)"
        % (PORT, deploy.model, deploy.max_model_len, deploy.gpu_memory_utilization),
    )
    script.log(6.1, API, "model_runner.py:1092", "Starting to load model %s..." % deploy.model)
    script.progress(6.9, API, "Loading safetensors checkpoint shards", 5, 11.0)
    script.log(18.2, API, "model_runner.py:1097", "Loading model weights took 18.1406 GB")
    # Multi-line message; before 0.11 the continuation lines carry no prefix.
    script.log(
        23.0,
        API,
        "worker.py:241",
        "Memory profiling takes 4.51 seconds\n"
        "the current vLLM instance can use total_gpu_memory (79.25GiB) x "
        "gpu_memory_utilization (0.92) = 72.91GiB\n"
        "model weights take 18.14GiB; non_torch_memory takes 0.52GiB; PyTorch activation "
        "peak memory takes 4.08GiB; the rest of the memory reserved for KV Cache is "
        "50.17GiB.",
    )
    script.log(23.3, API, "distributed_gpu_executor.py:57", "# GPU blocks: 12843, # CPU blocks: 1024")
    script.log(23.3, API, "distributed_gpu_executor.py:61", "Maximum concurrency for 32768 tokens per request: 6.27x")
    script.log(
        25.0,
        API,
        "model_runner.py:1402",
        "Capturing cudagraphs for decoding. This may lead to unexpected consequences if "
        "the model is not static. To run the model in eager mode, set "
        "'enforce_eager=True' or use '--enforce-eager' in the CLI. If out-of-memory "
        "error occurs during cudagraph capture, consider decreasing "
        "`gpu_memory_utilization` or switching to eager mode. You can also reduce the "
        "`max_num_seqs` as needed to decrease memory usage.",
    )
    script.progress(25.1, API, "Capturing CUDA graph shapes", 35, 14.3, with_bar=True)
    script.log(39.5, API, "model_runner.py:1530", "Graph capturing finished in 14 secs, took 0.62 GiB")
    script.log(
        39.6, API, "llm_engine.py:431", "init engine (profile, create kv cache, warmup model) took 19.36 seconds"
    )
    serving(script, 41.0)


# ---------------------------------------------------------------------------------------------
# Failures (docs/dev/formats.md 2.6)

_SITE = "/usr/local/lib/python3.12/dist-packages/vllm"

_TRACEBACK = "Traceback (most recent call last):\n"
_ENGINE_FRAMES = (
    '  File "%(site)s/v1/engine/core.py", line 699, in run_engine_core\n'
    "    engine_core = EngineCoreProc(*args, **kwargs)\n"
    "                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "%(site)s/v1/engine/core.py", line 498, in __init__\n'
    "    super().__init__(vllm_config, executor_class, log_stats,\n"
    '  File "%(site)s/v1/engine/core.py", line 83, in __init__\n'
    "    self.model_executor = executor_class(vllm_config)\n"
    "                          ^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
)
_LOAD_FRAMES = (
    '  File "%(site)s/v1/worker/gpu_model_runner.py", line 2615, in load_model\n'
    "    self.model = model_loader.load_model(\n"
    '  File "%(site)s/model_executor/model_loader/default_loader.py", line 264, in load_weights\n'
    "    loaded_weights = model.load_weights(\n"
)
_KV_FRAMES = (
    '  File "%(site)s/v1/engine/core.py", line 196, in _initialize_kv_caches\n'
    "    kv_cache_configs = get_kv_cache_configs(vllm_config, kv_cache_specs,\n"
    '  File "%(site)s/v1/core/kv_cache_utils.py", line 1185, in get_kv_cache_configs\n'
    "    check_enough_kv_cache_memory(vllm_config, kv_cache_spec_one_worker,\n"
    '  File "%(site)s/v1/core/kv_cache_utils.py", line 699, in check_enough_kv_cache_memory\n'
    "    raise ValueError(\n"
)
_PROCESS_FRAMES = (
    '  File "/usr/lib/python3.12/multiprocessing/process.py", line 314, in _bootstrap\n'
    "    self.run()\n"
    '  File "/usr/lib/python3.12/multiprocessing/process.py", line 108, in run\n'
    "    self._target(*self._args, **self._kwargs)\n"
    '  File "%(site)s/v1/engine/core.py", line 712, in run_engine_core\n'
    "    raise e\n"
)
_API_MAIN_FRAMES = (
    '  File "<frozen runpy>", line 198, in _run_module_as_main\n'
    '  File "<frozen runpy>", line 88, in _run_code\n'
    '  File "%(site)s/entrypoints/openai/api_server.py", line 2011, in <module>\n'
    "    uvloop.run(run_server(args))\n"
)
_API_WAIT_FRAMES = (
    '  File "%(site)s/v1/engine/utils.py", line 865, in wait_for_engine_startup\n'
    '    raise RuntimeError("Engine core initialization failed. "\n'
)
_API_CONFIG_FRAMES = (
    '  File "%(site)s/engine/arg_utils.py", line 1150, in create_engine_config\n'
    "    device_config = DeviceConfig(device=cast(Device, current_platform.device_type))\n"
    '  File "%(site)s/config/device.py", line 58, in __post_init__\n'
    "    raise RuntimeError(\n"
)

# PyTorch's text (docs/dev/formats.md 2.6, current torch): another process still holds 50 GiB.
CUDA_OOM = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB. GPU 0 has a total "
    "capacity of 79.25 GiB of which 187.75 MiB is free. Process 3981 has 50.12 GiB memory in "
    "use. Including non-PyTorch memory, this process has 28.93 GiB memory in use. Of the "
    "allocated memory 28.31 GiB is allocated by PyTorch, and 121.40 MiB is reserved by PyTorch "
    "but unallocated. If reserved but unallocated memory is large try setting "
    "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See "
    "documentation for Memory Management  "
    "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
)
# V1 <= 0.27, typo "models's" included (docs/dev/formats.md 2.6).
KV_CACHE_TOO_SMALL = (
    "ValueError: To serve at least one request with the models's max seq len (262144), (16.00 "
    "GiB KV cache is needed, which is larger than the available KV cache memory (11.42 GiB). "
    "Based on the available memory, the estimated maximum model length is 187024. Try "
    "increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the "
    "engine."
)
ENGINE_INIT_FAILED = (
    "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {'EngineCore_DP0': 1}"
)
ENGINE_DIED = "Engine core proc EngineCore_DP0 died unexpectedly, shutting down client."
NO_DEVICE = (
    "RuntimeError: Failed to infer device type, please set the environment variable "
    "`VLLM_LOGGING_LEVEL=DEBUG` to turn on verbose logging to help debug the issue."
)

CUDA_OOM_EXIT_AT = 18.2
KV_CACHE_EXIT_AT = 46.3


def _engine_failure(script, t: float, inner_frames: str, error: str) -> None:
    """How a V1 engine core dies during start-up: its logger.exception (ERROR, one head per
    traceback line from 0.11), the multiprocessing traceback on stderr, then the API server's
    RuntimeError (docs/dev/formats.md 2.6)."""
    site = {"site": _SITE}
    core = engine(0)
    script.log(
        t,
        core,
        "core.py:708",
        "EngineCore failed to start.\n" + _TRACEBACK + (_ENGINE_FRAMES + inner_frames) % site + error,
        level="ERROR",
    )
    script.raw(
        t + 0.01,
        core,
        "Process EngineCore_DP0:\n" + _TRACEBACK + (_PROCESS_FRAMES + _ENGINE_FRAMES + inner_frames) % site + error,
    )
    script.raw(t + 0.9, API, _TRACEBACK + (_API_MAIN_FRAMES + _API_WAIT_FRAMES) % site + ENGINE_INIT_FAILED)


def cuda_oom_run(script, deploy: Deployment) -> None:
    """Loading stops at shard 4 of 11 with CUDA out of memory; the container exits with 1."""
    banner(script, deploy)
    _start_loading(script, deploy)
    _shards_bar(script, stop_after=4)
    _engine_failure(script, CUDA_OOM_EXIT_AT - 1.0, _LOAD_FRAMES, CUDA_OOM)


def kv_cache_too_small_run(script, deploy: Deployment) -> None:
    """Weights load and compile, then the KV cache cannot hold one max-length request."""
    banner(script, deploy)
    _start_loading(script, deploy)
    _shards_bar(script)
    process = worker(0)
    script.log(START["weights_done"], process, "default_loader.py:267", "Loading weights took 22.08 seconds")
    script.log(
        START["compile_begin"],
        process,
        "gpu_model_runner.py:2653",
        "Model loading took 28.7201 GiB and 22.917305 seconds",
    )
    _compile(script, process)
    script.log(START["kv_cache"], process, "gpu_worker.py:298", "Available KV cache memory: 11.42 GiB")
    _engine_failure(script, START["kv_cache"] + 0.7, _KV_FRAMES, KV_CACHE_TOO_SMALL)


def no_device_run(script, deploy: Deployment) -> None:
    """No GPU visible: the API server fails while building its config and exits with 1."""
    banner(script, deploy)
    script.raw(3.4, API, _TRACEBACK + (_API_MAIN_FRAMES + _API_CONFIG_FRAMES) % {"site": _SITE} + NO_DEVICE)


def engine_died(script, t: float) -> None:
    """docs/dev/formats.md 2.6: the API server's line when an engine-core process vanishes."""
    script.log(t, API, "core_client.py:564", ENGINE_DIED, level="ERROR")
