# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fakegpu: stand-in ``nvidia-smi`` and ``docker`` executables that replay scenarios built from
the exact texts of docs/dev/formats.md, for the demo and the tests (no GPU, no docker engine).

``fakegpu.entry`` holds the executables' entry points, ``fakegpu.cli`` the ``fakegpu`` command.
Standard library only; Python >= 3.8.
"""
