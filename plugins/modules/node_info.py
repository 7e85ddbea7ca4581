#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_info
short_description: Collect GPU, container and vLLM engine state of one GPU VM
version_added: 0.1.0
description:
  - "Reads the state of a VM that serves a model with vLLM in Docker and returns it as one structured
    document (schema version 1): the GPUs from C(nvidia-smi --query-gpu), the vLLM container from
    C(docker container inspect) (its JSON; the container's environment, C(Config.Env), is dropped unread, as
    it may hold tokens), and the engine's phase, throughput, queue, KV cache, loading progress
    and fatal errors parsed from C(docker logs --timestamps --tail N)."
  - Read-only. Commands run as argument lists (never through a shell) with a C locale and a timeout
    each; the three commands run concurrently.
  - A failing command never fails the module. It is classified in the C(status) and C(message) of its
    section (for example RV(gpu.status=driver_error) or RV(container.status=missing)) and the other
    sections are still returned. The module fails only for a bad option, such as an invalid container
    name or a numeric option that is not a finite number within its limits (V(nan), V(inf), text, a
    negative value), before anything runs; the message names the option.
  - Absent values are V(null), never V(0). A value no working GPU or engine can report (a negative
    temperature, a utilisation over 100, an infinite or absurdly long number, more memory used than
    there is) is V(null) too, and named in the section's message; the document never holds
    C(Infinity) or C(NaN).
  - Text from the VM is bounded (a few cleaned lines, not the log) and cleaned of control characters,
    terminal escapes and Unicode format characters (bidi marks, zero-width characters, line and
    paragraph separators), but it is untrusted.
author:
  - gpufleet maintainers (@gpufleet)
extends_documentation_fragment:
  - gpufleet.vllm.attributes
  - gpufleet.vllm.attributes.INFO_MODULE
options:
  container:
    description:
      - Name (or ID) of the vLLM container, for example V(vllm_qwen36_27b).
      - Must be a valid docker container name (C([a-zA-Z0-9][a-zA-Z0-9_.-]+)); anything else is rejected
        before any command runs.
      - With the C(gpufleet.vllm.hyperstack) inventory this is the host variable C(hyperstack_vllm_container).
      - Required when O(service=vllm); ignored otherwise.
    type: str
  service:
    description:
      - The model service the VM runs. With the C(gpufleet.vllm.hyperstack) inventory this is the host variable
        C(hyperstack_service).
      - V(vllm) collects the GPUs, the container and the engine.
      - "V(ollama) (a VM hypr provisioned with Ollama) and V(none) (neither service enabled) collect the GPUs only;
        docker is not asked. RV(container.status) and RV(vllm.phase) are then V(not_watched), every other
        container and engine value is V(null), and both messages say why (C(Ollama: not watched by this
        collection))."
    type: str
    choices: [vllm, ollama, none]
    default: vllm
  docker_path:
    description:
      - Path of the C(docker) CLI on the host. Default is C(docker) found on E(PATH) and the usual
        system directories.
      - Podman works too - set V(/usr/bin/podman) (C(gpufleet_docker_path) in the playbooks); its
        C(container inspect) JSON, C(logs --timestamps) and error texts are read the same way.
      - When it cannot be found, RV(container.status) is V(error) with RV(container.error_kind=not_installed).
    type: path
  nvidia_smi_path:
    description:
      - Path of C(nvidia-smi) on the host. Default is C(nvidia-smi) found on E(PATH) and the usual
        system directories.
      - When it cannot be found, RV(gpu.status) is V(not_installed).
    type: path
  log_lines:
    description:
      - How many of the newest container log lines to read (C(docker logs --tail)).
      - vLLM logs engine stats every 10 seconds; 300 lines cover the newest stats line while the engine
        serves and the whole loading phase.
      - A whole number from 1 to 10000.
    type: int
    default: 300
  command_timeout:
    description:
      - Seconds each command may take before it is killed and its section reports V(timeout).
      - Above 0, at most 3600.
    type: float
    default: 10
  gpu_query_fields:
    description:
      - Fields passed to C(nvidia-smi --query-gpu); see C(nvidia-smi --help-query-gpu).
      - The default ones are returned under the names documented in RV(gpu.devices); any other field
        F is returned under F with C(.) replaced by C(_), for example C(clocks.sm) as C(clocks_sm).
      - Each field must match C([a-z][a-z0-9_.]*).
      - Setting it replaces the defaults; to ask for more fields keep the defaults and use O(gpu_extra_query_fields).
    type: list
    elements: str
    default: [index, uuid, name, temperature.gpu, utilization.gpu, power.draw, power.limit, memory.used, memory.total,
              ecc.errors.uncorrected.volatile.total, retired_pages.pending, remapped_rows.pending,
              clocks_throttle_reasons.active]
  gpu_extra_query_fields:
    description:
      - Fields added to O(gpu_query_fields) (a field already there is not asked twice), for example
        V([clocks.sm, pstate]). Returned like O(gpu_query_fields)' own.
      - The playbooks and the health role take it from the variable C(gpufleet_gpu_extra_query_fields).
    type: list
    elements: str
    default: []
  dmesg_path:
    description:
      - Path of C(dmesg), read for NVIDIA XID errors (RV(gpu.xid)). Default is C(dmesg) found on E(PATH) and the
        usual system directories.
      - Reading the kernel log may need privileges (C(kernel.dmesg_restrict)); when C(dmesg) cannot read it,
        C(journalctl -k) is tried, and when neither can, RV(gpu.xid.status) is V(unreadable).
    type: path
  journalctl_path:
    description:
      - Path of C(journalctl), the second source of the kernel log. Default is C(journalctl) found on E(PATH).
    type: path
  proc_path:
    description:
      - Where the host's process table is mounted; C(PROC/<pid>/cgroup) maps a GPU process to its container.
      - Only for a host whose C(/proc) is elsewhere (or the project's simulator).
    type: path
    default: /proc
  serving_fresh_after:
    description:
      - An engine whose newest stats line is older than this many seconds is V(idle), not V(serving).
      - vLLM logs stats every 10 seconds while requests run and stops logging when idle.
      - Above 0, at most 86400.
    type: float
    default: 30
  http_port:
    description:
      - Port of vLLM's HTTP server on the host. When set, RV(http) reports its C(/health), C(/version),
        C(/v1/models) and C(/metrics) (latency histograms, token and request counters, queue and KV cache
        gauges), read while the commands run; when not set, RV(http) is V(null).
      - The playbooks pass C(gpufleet_vllm_port), which defaults to the inventory's C(hyperstack_vllm_port).
      - A whole number from 1 to 65535.
    type: int
  http_host:
    description:
      - Address vLLM listens on, as seen from the host itself. Requests go straight to it, never through a
        proxy from the environment.
    type: str
    default: 127.0.0.1
  http_timeout:
    description:
      - Seconds each HTTP request may take (the whole exchange, body included). When the server refuses or
        does not answer C(/health), the other endpoints are not tried.
      - Above 0, at most 600.
    type: float
    default: 5
  api_key:
    description:
      - vLLM's C(--api-key), sent as a bearer token to C(/v1/...) paths only (C(/v1/models) and the probe);
        C(/metrics) and C(/health) need none. Without it, a server started with a key answers those with
        HTTP 401, reported as C(API key required).
    type: str
  probe:
    description:
      - Send one C(POST /v1/completions) with C(max_tokens) 1 to the first served model and report its
        status and latency in RV(http.probe). It costs one tiny request on the server.
      - Off in the watch loop, on in C(playbooks/health.yml).
    type: bool
    default: false
  refresh_interval:
    description:
      - Handled on the controller by the action plugin, for a task that retries itself (the watch loop).
      - Start this host's collections at least this many seconds apart, counting the time the previous one
        took, so that a retrying task with O(ignore:delay=0) refreshes every N seconds rather than every
        N seconds plus the collection time. V(0) (the default) does not wait.
      - From 0 to 86400; checked before anything runs or waits.
    type: float
    default: 0
  unreachable_as_result:
    description:
      - Handled on the controller by the action plugin.
      - When the connection to the host fails, return an ordinary result with RV(reachable=false) and the
        SSH error in RV(msg) instead of marking the host unreachable. A host marked unreachable leaves a
        retrying task for good; with this option the next retry reconnects and the host rejoins the watch
        when it recovers.
    type: bool
    default: false
notes:
  - The SSH user needs permission to run C(docker) (membership of the C(docker) group); otherwise
    RV(container.error_kind) is V(permission_denied).
  - Only log lines written since the container's last start count, so a container restarted by
    C(--restart always) after a crash does not report the old run's errors.
seealso:
  - name: Schema of the returned document
    description: docs/schema-v1.md in the collection.
    link: https://example.invalid/gpufleet/vllm/docs/schema-v1.md
"""

EXAMPLES = r"""
- name: Collect the state of the vLLM VM
  gpufleet.vllm.node_info:
    container: "{{ hyperstack_vllm_container }}"
  register: node

- name: Show the engine phase and the first GPU's temperature
  ansible.builtin.debug:
    msg: "{{ node.vllm.phase }}, GPU0 at {{ node.gpu.devices[0].temperature_c }} C"

- name: Ask nvidia-smi for extra fields, read fewer log lines
  gpufleet.vllm.node_info:
    container: vllm_qwen36_27b
    log_lines: 100
    gpu_query_fields: [index, name, temperature.gpu, utilization.gpu, memory.used, memory.total, clocks.sm, pstate]

- name: Use binaries outside PATH (here the project's simulator)
  gpufleet.vllm.node_info:
    container: vllm_qwen36_27b
    docker_path: /opt/fakegpu/bin/docker
    nvidia_smi_path: /opt/fakegpu/bin/nvidia-smi
"""

RETURN = r"""
reachable:
  description: Whether the controller reached the host. Only V(false) with O(unreachable_as_result=true); then
    RV(msg) holds the connection error and no other key of this document is returned.
  type: bool
  returned: always
  sample: true
refresh_interval_s:
  description: The O(refresh_interval) the collections were paced at, in seconds (V(0) for none); the dashboard's
    header shows it.
  type: float
  returned: when the options were valid
  sample: 5.0
msg:
  description:
    - The connection error when RV(reachable=false).
    - When the module could not run on the host (RV(failure_kind) set), what the host printed, cleaned, and
      how to fix it; the task fails.
    - For a bad option, which option and its limits.
  type: str
  returned: when RV(reachable=false), when the task failed
  sample: "Failed to connect to the host via ssh: ssh: connect to host 10.200.3.2 port 22: Connection refused"
failure_kind:
  description:
    - Why the module printed no result, in place of Ansible's "Module result deserialization failed".
    - V(python_unusable) (the host's Python could not start or could not read the module, for example a pyenv
      shim without that version; set C(ansible_python_interpreter)) or V(module_crashed) (RV(msg) quotes the
      last line the host printed).
  type: str
  returned: when the module could not run
  sample: python_unusable
schema_version:
  description: Version of this document's layout. Incompatible changes raise it.
  type: int
  returned: unless RV(reachable=false)
  sample: 1
collected_at:
  description: When the commands had finished, by the host's clock, ISO 8601 UTC.
  type: str
  returned: unless RV(reachable=false)
  sample: "2026-11-28T01:40:00.123456Z"
gpu:
  description: GPUs as C(nvidia-smi --query-gpu) reports them.
  type: dict
  returned: unless RV(reachable=false)
  contains:
    status:
      description:
        - V(ok); V(not_installed) (no nvidia-smi); V(driver_error) (driver not loaded, NVML library missing
          or mismatched); V(no_devices) (also when nvidia-smi exits 0 without a single row); V(gpu_lost) (a GPU
          fell off the bus, reboot needed); V(timeout); V(error) (anything else, see RV(gpu.message), such as nvidia-smi
          not executable, more than 1 MiB of output, a row that does not parse, a GPU index repeated or outside
          0-1023).
      type: str
      returned: always
      sample: ok
    message:
      description:
        - What failed and how to fix it.
        - With RV(gpu.status=ok), V(null), or the readings that cannot be true and were returned as V(null),
          for example C(readings that cannot be true, shown as null; GPU 0 temperature.gpu -5 is out of range).
      type: str
      returned: always
      sample: "nvidia-smi: NVIDIA driver not loaded (exit 9); check the driver with 'lsmod | grep nvidia'"
    devices:
      description:
        - One entry per GPU row; empty when the query failed. Unavailable values (C([N/A]),
          C([Not Supported]) and other C([...]) forms) are V(null).
        - So are readings no working GPU reports, named in RV(gpu.message) - temperature outside 0-150 C,
          utilisation outside 0-100 %, power outside 0-10000 W, memory outside 0-16 TiB or used over total,
          a number that is not finite or has more than 18 digits.
      type: list
      elements: dict
      returned: always
      contains:
        index:
          description: nvidia-smi C(index) (may change between boots; C(uuid) is stable).
          type: int
          sample: 0
        uuid:
          description: nvidia-smi C(uuid).
          type: str
          sample: GPU-5d1d7b8e-2c4f-4e61-9a0b-6f1c2d3e4f50
        name:
          description: Product name.
          type: str
          sample: NVIDIA A100 80GB PCIe
        temperature_c:
          description: Core temperature, degrees Celsius (C(temperature.gpu)).
          type: int
          sample: 41
        utilization_pct:
          description: GPU utilisation, percent (C(utilization.gpu)); V(null) on MIG-enabled GPUs.
          type: int
          sample: 87
        power_w:
          description: Power draw, watts (C(power.draw)).
          type: float
          sample: 212.44
        power_limit_w:
          description: Power limit, watts (C(power.limit)).
          type: float
          sample: 300.0
        memory_used_mib:
          description: Used memory, MiB (C(memory.used)).
          type: int
          sample: 74213
        memory_total_mib:
          description: Total memory, MiB (C(memory.total)).
          type: int
          sample: 81920
        ecc_uncorrected_volatile:
          description: Uncorrected ECC errors since the driver loaded (C(ecc.errors.uncorrected.volatile.total));
            V(null) when ECC is off or not supported.
          type: int
          sample: 0
        retired_pages_pending:
          description: A retired memory page waits for a GPU reset (C(retired_pages.pending)); V(null) where the GPU
            remaps rows instead (Ampere and newer).
          type: bool
          sample: false
        remapped_rows_pending:
          description: A remapped memory row waits for a GPU reset (C(remapped_rows.pending)).
          type: bool
          sample: false
        clock_event_reasons:
          description:
            - Why the clocks are held down now, decoded from the C(clocks_event_reasons.active) bitmask (old name
              C(clocks_throttle_reasons.active)) - V(gpu_idle), V(applications_clocks_setting), V(sw_power_cap),
              V(hw_slowdown), V(sync_boost), V(sw_thermal_slowdown), V(hw_thermal_slowdown),
              V(hw_power_brake_slowdown), V(display_clock_setting), C(unknown_0x...) for a bit not listed.
          type: list
          elements: str
          sample: [sw_power_cap]
    compute_apps:
      description: Processes holding GPU memory (C(nvidia-smi --query-compute-apps)), each mapped to its container.
      type: dict
      returned: always
      contains:
        status:
          description: V(ok), V(not_read) (RV(gpu.status) is not V(ok) - a hung or failed driver is not asked twice),
            V(timeout) or V(error) (see RV(gpu.compute_apps.message)).
          type: str
          sample: ok
        message:
          description: What failed, or that the list was cut (at most 256 processes); else V(null).
          type: str
          sample: null
        watched_container_id:
          description: Full ID of the watched container (C(Id) of C(container inspect)), V(null) when unknown.
          type: str
        processes:
          description: One entry per process and GPU.
          type: list
          elements: dict
          contains:
            gpu_uuid:
              description: The GPU's UUID; V(null) when nvidia-smi cannot read it.
              type: str
            gpu_index:
              description: The GPU's index, from RV(gpu.devices) by UUID; V(null) when not listed there.
              type: int
            pid:
              description: Host PID.
              type: int
            name:
              description: Process name; V(null) for C([Insufficient Permissions]) or C([N/A]).
              type: str
            used_memory_mib:
              description: GPU memory the process holds, MiB; V(null) when not available.
              type: int
            container_runtime:
              description: V(docker) or V(podman) when its cgroup names one, else V(null).
              type: str
            container_id:
              description: Full ID of the container the process runs in, from C(/proc/<pid>/cgroup) (cgroup v1 or
                v2, docker or podman scopes); V(null) for a process outside containers or an unreadable cgroup.
              type: str
            watched:
              description: V(true) for a process of the watched container, V(false) for any other, V(null) when it
                cannot be told (the process exited, its cgroup is unreadable, or the watched container's ID is unknown).
              type: bool
            note:
              description: Why the cgroup could not be read, else V(null).
              type: str
    xid:
      description: NVIDIA XID errors in the kernel log since the container last started.
      type: dict
      returned: always
      contains:
        status:
          description: V(ok) (read; RV(gpu.xid.events) may be empty) or V(unreadable) (neither C(dmesg) nor
            C(journalctl -k) could be read - XIDs unknown, not absent; RV(gpu.xid.message) says why and how to fix).
          type: str
          sample: ok
        source:
          description: V(dmesg) or V(journalctl); V(null) when unreadable.
          type: str
        since:
          description: Start of the window read, the container's start (ISO 8601 UTC); V(null) for the whole current boot.
          type: str
        message:
          description: Why the log is unreadable, or that it was cut; else V(null).
          type: str
        events:
          description: Newest first, at most 10.
          type: list
          elements: dict
          contains:
            code:
              description: XID code, for example V(79).
              type: int
            meaning:
              description: What the code means for the common codes (13, 31, 43, 45, 48, 61, 62, 63, 64, 74, 79, 92,
                94, 95, 119, 120), else V(null).
              type: str
            pci_bus_id:
              description: PCI address of the GPU as the driver logged it.
              type: str
            logged_at:
              description: When, ISO 8601 UTC.
              type: str
            message:
              description: The log line from C(NVRM:), cleaned.
              type: str
container:
  description: The vLLM container as C(docker container inspect) (or C(podman container inspect)) reports it.
  type: dict
  returned: unless RV(reachable=false)
  contains:
    name:
      description: The container name asked for (V(null) when O(service) is not V(vllm) and none was given).
      type: str
      sample: vllm_qwen36_27b
    status:
      description:
        - Docker's C(State.Status) (V(running), V(restarting), V(exited), V(created), V(paused), V(removing),
          V(dead)), or V(missing) (no such container), or V(error) (docker could not be asked, see
          RV(container.error_kind)), or V(not_watched) (O(service) is not V(vllm); docker was not asked).
        - Podman's extra states are mapped onto docker's - C(configured) and C(initialized) to V(created),
          C(stopped) to V(exited).
      type: str
      sample: running
    error_kind:
      description: When RV(container.status=error), V(daemon_down), V(permission_denied), V(not_installed),
        V(timeout) or V(error); else V(null).
      type: str
      sample: permission_denied
    health:
      description: C(State.Health.Status) (podman < 4 - C(State.Healthcheck.Status)) (V(starting), V(healthy),
        V(unhealthy)), V(none) when the image has no HEALTHCHECK (vLLM's has none), V(null) when unknown.
      type: str
      sample: none
    restart_count:
      description: Docker's C(RestartCount); a growing count means a restart loop. V(null) when unknown or
        negative.
      type: int
      sample: 0
    started_at:
      description: When the container last started, ISO 8601 UTC; V(null) if never or unknown.
      type: str
      sample: "2026-11-28T01:30:00.000000Z"
    oom_killed:
      description: C(State.OOMKilled) (host memory, not GPU memory).
      type: bool
      sample: false
    exit_code:
      description: C(State.ExitCode) of the last run.
      type: int
      sample: 0
    image:
      description: Image the container runs.
      type: str
      sample: vllm/vllm-openai:latest
    message:
      description: Docker's error text (C(State.Error)) or what went wrong asking docker (not found, not
        executable, more than 1 MiB of output, ...), and how to fix it.
      type: str
      sample: null
vllm:
  description: The vLLM engine, from the container's log since its last start.
  type: dict
  returned: unless RV(reachable=false)
  contains:
    phase:
      description:
        - V(serving) (fresh stats with traffic); V(idle) (up, no recent traffic; vLLM stops logging when idle,
          so old stats mean idle, not broken); V(loading) (see RV(vllm.loading)); V(failed) (a fatal error since
          the last start, see RV(vllm.errors)); V(stopped) (container not running or missing); V(unknown)
          (docker could not be asked, the log could not be read, or its clock runs ahead, see RV(vllm.message));
          V(not_watched) (O(service) is not V(vllm), RV(vllm.message) says which service runs instead).
      type: str
      sample: serving
    log_status:
      description:
        - V(ok), V(unsupported) (the logging driver cannot be read), V(not_read) (container missing or docker
          unavailable), V(timeout) or V(error).
        - V(clock_ahead) - the log was read, but its newest line or the container's start is stamped more than
          60 seconds ahead of the host's clock (the clock was set back, or the log is not genuine). Ages are then
          V(null), and a running container's RV(vllm.phase) is V(unknown) with the reason in RV(vllm.message);
          fatal errors still count.
      type: str
      sample: ok
    message:
      description: Why the phase is what it is when that is not obvious, and what the byte cap did to a huge log
        (how much C(docker logs) printed, what was parsed); V(null) otherwise.
      type: str
      sample: null
    engines:
      description: Newest periodic stats line per engine (several under data parallelism), numbered engines
        first, then an aggregated line. Empty before the first stats line.
      type: list
      elements: dict
      contains:
        engine:
          description: Engine index (C(Engine 001:) is 1; V0 lines are engine 0); V(null) for an aggregated line.
          type: int
          sample: 0
        aggregated_engines:
          description: N of an C(N Engines Aggregated:) line, else V(null).
          type: int
          sample: null
        prompt_tps:
          description: Avg prompt throughput, tokens/s.
          type: float
          sample: 1234.5
        generation_tps:
          description: Avg generation throughput, tokens/s.
          type: float
          sample: 87.6
        running:
          description: Requests running.
          type: int
          sample: 3
        waiting:
          description: Requests waiting (V1 C(Waiting), V0 C(Pending)).
          type: int
          sample: 1
        swapped:
          description: Requests swapped to CPU (V0 engine only).
          type: int
          sample: null
        preemptions:
          description: Preemptions in the interval, when the line reports them.
          type: int
          sample: null
        kv_cache_pct:
          description: KV cache usage of the device, percent; V(null) when the line's figure is outside 0-100.
            Every figure of the line is V(null) when it has more digits than any real one.
          type: float
          sample: 42.3
        kv_cache_device:
          description: Device of that KV cache (C(GPU), C(XPU), C(GPU + host), ...).
          type: str
          sample: GPU
        cpu_kv_cache_pct:
          description: CPU KV cache usage, percent (V0 engine only).
          type: float
          sample: null
        prefix_cache_hit_pct:
          description: Prefix cache hit rate, percent; V(null) when not reported (vLLM 0.33 before any request).
          type: float
          sample: 61.2
        logged_at:
          description: Docker's timestamp of the stats line, ISO 8601 UTC.
          type: str
          sample: "2026-11-28T01:39:55.000000Z"
        age_s:
          description: Seconds between RV(vllm.engines[].logged_at) and RV(collected_at); V(0) for a line up to
            60 seconds ahead of the host's clock, V(null) beyond that (see RV(vllm.log_status=clock_ahead)).
          type: float
          sample: 4.9
    loading:
      description: Loading progress while RV(vllm.phase=loading), else V(null).
      type: dict
      contains:
        stage:
          description: V(starting), V(downloading), V(loading_weights), V(profiling), V(compiling),
            V(capturing_graphs) or V(starting_server).
          type: str
          sample: loading_weights
        progress_pct:
          description: Percent of the stage's progress bar (checkpoint shards, CUDA graphs), else V(null).
          type: int
          sample: 50
        message:
          description: The newest loading line, cleaned.
          type: str
          sample: "Loading safetensors checkpoint shards:  50% Completed | 23/46 [00:23<00:21,  1.09it/s]"
    errors:
      description: Fatal errors since the container's last start, root cause first, one per kind, at most 5.
      type: list
      elements: dict
      contains:
        kind:
          description: V(cuda_oom), V(kv_cache_insufficient), V(gpu_memory_utilization), V(engine_init_failed)
            or V(engine_died).
          type: str
          sample: cuda_oom
        message:
          description: The log line, cleaned and bounded.
          type: str
          sample: "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB."
        logged_at:
          description: Docker's timestamp of the line, ISO 8601 UTC.
          type: str
          sample: "2026-11-28T01:39:55.000000Z"
    ready:
      description: The API server reported startup complete in the log lines read since the last start
        (a server that started long ago may have its start beyond O(log_lines); use RV(vllm.phase)).
      type: bool
      sample: true
    last_log_at:
      description: Timestamp of the newest log line since the last start, ISO 8601 UTC.
      type: str
      sample: "2026-11-28T01:39:55.000000Z"
    log_lines_read:
      description: Log lines read (after splitting progress bars on carriage returns).
      type: int
      sample: 300
http:
  description:
    - vLLM's HTTP endpoints, read on the host when O(http_port) is set; V(null) otherwise. A failing endpoint
      never fails the module. See docs/schema-v1.md for every field.
    - Each endpoint is a dict with C(status) - V(ok); V(refused) (nothing listens - loading, stopped, or
      another port); V(timeout); V(http_status) (see C(http_status), for example 503 when the engine is dead);
      V(not_vllm) (the answer is not vLLM's); V(too_large) (over the size cap); V(error) - C(http_status) and a
      C(message) saying what failed.
  type: dict
  returned: unless RV(reachable=false)
  contains:
    url:
      description: The server read, C(http://HOST:PORT).
      type: str
      sample: "http://127.0.0.1:11434"
    health:
      description: C(GET /health) - 200 serving, 503 (0.11+) or 500 engine dead.
      type: dict
    version:
      description: C(GET /version), with C(version) the vLLM version.
      type: dict
    models:
      description: C(GET /v1/models), with C(models) a list of C(id) and C(max_model_len).
      type: dict
    metrics:
      description:
        - C(GET /metrics) in the Prometheus text format, with C(engines) (one entry per C(engine) label, V0
          servers have one with C(engine) V(null)) and C(http_requests) (the API server's requests by status
          class, C(2xx)/C(4xx)/C(5xx)).
        - Each engine has the counters C(prompt_tokens_total), C(generation_tokens_total), C(preemptions_total),
          C(prefix_cache_queries_total), C(prefix_cache_hits_total), C(requests_finished) (by C(finished_reason)),
          the gauges C(running), C(waiting), C(kv_cache_pct), and C(histograms) C(ttft_s), C(itl_s) (time per output
          token before vLLM 0.10.2), C(e2e_s), C(queue_s) as cumulative C(buckets) C([[le, count], ...]) (the
          C(+Inf) bucket is C(count)), C(count) and C(sum). Rates and percentiles are computed on the controller.
        - Only the informative C(buckets) are returned, to keep each refresh cheap on the controller. Empty buckets
          below the first one listed and buckets above the last one that already hold all C(count) observations
          are left out; a reader takes their counts as 0 below and C(count) above.
      type: dict
    probe:
      description: With O(probe=true), C(POST /v1/completions) with C(max_tokens) 1 - C(status), C(http_status),
        C(latency_s), C(model) and the error body's C(message); V(null) without O(probe).
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.vllm.plugins.module_utils._collect import CollectError
from ansible_collections.gpufleet.vllm.plugins.module_utils._collect import collect
from ansible_collections.gpufleet.vllm.plugins.module_utils._nvidia_smi import DEFAULT_QUERY_FIELDS
from ansible_collections.gpufleet.vllm.plugins.module_utils._options import LIMITS, InvalidOption, check_option


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "container": {"type": "str"},
            "service": {"type": "str", "default": "vllm", "choices": ["vllm", "ollama", "none"]},
            "docker_path": {"type": "path"},
            "nvidia_smi_path": {"type": "path"},
            "log_lines": {"type": "int", "default": 300},
            "command_timeout": {"type": "float", "default": 10},
            "gpu_query_fields": {"type": "list", "elements": "str", "default": list(DEFAULT_QUERY_FIELDS)},
            "serving_fresh_after": {"type": "float", "default": 30},
            "gpu_extra_query_fields": {"type": "list", "elements": "str", "default": []},
            "dmesg_path": {"type": "path"},
            "journalctl_path": {"type": "path"},
            "proc_path": {"type": "path", "default": "/proc"},
            "http_port": {"type": "int"},
            "http_host": {"type": "str", "default": "127.0.0.1"},
            "http_timeout": {"type": "float", "default": 5},
            "api_key": {"type": "str", "no_log": True},
            "probe": {"type": "bool", "default": False},
            # Both consumed by the action plugin on the controller; accepted here so that the
            # documentation and the argument spec agree.
            "refresh_interval": {"type": "float", "default": 0},
            "unreachable_as_result": {"type": "bool", "default": False},
        },
        required_if=[("service", "vllm", ("container",))],
        supports_check_mode=True,
    )
    params = module.params
    try:
        for name in LIMITS:
            params[name] = check_option(name, params[name])
    except InvalidOption as exc:
        module.fail_json(msg=str(exc))
    try:
        document = collect(
            container=params["container"],
            docker_path=params["docker_path"] or module.get_bin_path("docker"),
            nvidia_smi_path=params["nvidia_smi_path"] or module.get_bin_path("nvidia-smi"),
            log_lines=params["log_lines"],
            command_timeout=params["command_timeout"],
            gpu_query_fields=list(params["gpu_query_fields"])
            + [field for field in params["gpu_extra_query_fields"] if field not in params["gpu_query_fields"]],
            serving_fresh_after=params["serving_fresh_after"],
            http_port=params["http_port"],
            http_host=params["http_host"],
            http_timeout=params["http_timeout"],
            api_key=params["api_key"] or None,
            probe=params["probe"],
            dmesg_path=params["dmesg_path"] or module.get_bin_path("dmesg"),
            journalctl_path=params["journalctl_path"] or module.get_bin_path("journalctl"),
            proc_path=params["proc_path"],
            service=params["service"],
        )
    except CollectError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **document)


if __name__ == "__main__":
    main()
