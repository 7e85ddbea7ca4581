#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: watch_settings
short_description: Validate the settings of the fleet watch, before any host is polled
version_added: 0.1.0
description:
  - The first task of C(playbooks/watch.yml). Checks every setting of the watch against one set of
    defaults and returns the values to use; a bad value fails the task, and so the play, with a message
    that names the variable, the value and what is accepted, before any host is polled.
  - Runs on the controller (an action plugin); it connects to no host. C(watch.yml) runs it for every host
    (host variables such as O(gpufleet_command_timeout) may differ per host) with C(any_errors_fatal), so one
    host's bad value stops the whole watch. The dashboard takes the play-wide values (interval, view, sort,
    thresholds, custom checks) from the first result.
  - Fails first, before checking any setting, when the stdout callback is not C(gpufleet.vllm.dashboard)
    (under ansible-runner, when the callback its C(awx_display) wraps is not), with a message that says how
    to turn the dashboard on (E(ANSIBLE_STDOUT_CALLBACK) or C(stdout_callback) in C(ansible.cfg)).
  - Options left unset (or V(null)) take their defaults. O(watch_view) and O(watch_sort) fall back to the
    environment variables E(GPUFLEET_WATCH_VIEW) and E(GPUFLEET_WATCH_SORT).
author:
  - gpufleet maintainers (@gpufleet)
extends_documentation_fragment:
  - gpufleet.vllm.attributes
  - gpufleet.vllm.attributes.INFO_MODULE
options:
  watch_interval:
    description:
      - Seconds between two refreshes of a host, collection time included. A number (V(5), V(2.5)) or a
        number with a unit (V(500ms), V(5s), V(2m), V(1h)). Default V(5).
    type: raw
  watch_min_interval:
    description: The floor of O(watch_interval), same forms, V(0) or more. Default V(1).
    type: raw
  watch_cycles:
    description: Refreshes of each host before the watch ends; V(0) runs until Ctrl-C. Default V(0).
    type: raw
  watch_view:
    description:
      - V(auto) shows full panels when every VM's panel fits the terminal, else the fleet table, worst
        first, with panels of the worst VMs in the space left. V(panels) and V(table) force one.
      - Default V(auto), or E(GPUFLEET_WATCH_VIEW).
    type: raw
  watch_sort:
    description:
      - V(severity) orders VMs worst first (failing, unreachable, warning, stale, loading, then healthy;
        by name within each), V(name) by name only. Default V(severity), or E(GPUFLEET_WATCH_SORT).
    type: raw
  gpufleet_docker_path:
    description: Path of C(docker) on the VM (a host variable). Default C(PATH).
    type: raw
  gpufleet_nvidia_smi_path:
    description: Path of C(nvidia-smi) on the VM (a host variable). Default C(PATH).
    type: raw
  gpufleet_log_lines:
    description: Container log lines node_info reads, 1 to 100000. Default V(300).
    type: raw
  gpufleet_command_timeout:
    description: Seconds each command of node_info may take, more than 0. Default V(10).
    type: raw
  gpufleet_wait_timeout:
    description: Seconds a model may load before the dashboard shows it failed. Default V(1800).
    type: raw
  gpufleet_thresholds:
    description: Thresholds of the health checks and colours (see the gpufleet.vllm.health role).
    type: raw
  gpufleet_custom_checks:
    description: Custom JMESPath health checks (see the gpufleet.vllm.health role).
    type: raw
"""

EXAMPLES = r"""
- name: Check the watch settings
  gpufleet.vllm.watch_settings:
    watch_interval: "{{ watch_interval | default(omit) }}"
  register: gpufleet_watch
  any_errors_fatal: true
"""

RETURN = r"""
settings:
  description: The settings to use, defaults filled in.
  returned: success
  type: dict
  contains:
    refresh_interval_s:
      description: The interval hosts are polled at, in seconds (O(watch_interval) floored by O(watch_min_interval)).
      type: float
      sample: 5.0
    retries:
      description: The retry count of the watch's loop for O(watch_cycles) (a very large number for V(0)).
      type: int
      sample: 2
    view:
      description: The view, V(auto), V(panels) or V(table).
      type: str
      sample: auto
    sort:
      description: The order, V(severity) or V(name).
      type: str
      sample: severity
  sample:
    refresh_interval_s: 5.0
    interval_s: 5.0
    min_interval_s: 1.0
    cycles: 3
    retries: 2
    view: auto
    sort: severity
    log_lines: 300
    command_timeout_s: 10.0
    wait_timeout_s: 1800.0
"""
