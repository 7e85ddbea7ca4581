# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry points of the generated ``DIR/bin/nvidia-smi`` and ``DIR/bin/docker`` (or
``DIR/bin/podman``) scripts.

They run at every call of the stand-ins, so they import only what the command needs.
"""

from __future__ import annotations

import os

from fakegpu.hoststate import Host, SimulatorError

EXIT_SIMULATOR_ERROR = 2


def _run(answer, argv, host_dir: str) -> int:
    try:
        return answer(Host(host_dir), argv).emit()
    except SimulatorError as exc:
        os.write(2, ("fakegpu: %s\n" % exc).encode("utf-8", "replace"))
        return EXIT_SIMULATOR_ERROR


def nvidia_smi_main(argv, host_dir: str) -> int:
    from fakegpu import nvidia_smi

    return _run(nvidia_smi.answer, argv, host_dir)


def dmesg_main(argv, host_dir: str) -> int:
    from fakegpu import kernel

    return _run(kernel.dmesg, argv, host_dir)


def journalctl_main(argv, host_dir: str) -> int:
    from fakegpu import kernel

    return _run(kernel.journalctl, argv, host_dir)


def docker_main(argv, host_dir: str) -> int:
    from fakegpu import docker_cli

    return _run(docker_cli.answer, argv, host_dir)
