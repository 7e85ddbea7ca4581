# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python -m tests.fleet {up,down,status,set,cleanup}`` from the repository root."""

from __future__ import annotations

import sys

from tests.fleet.harness import main

sys.exit(main())
