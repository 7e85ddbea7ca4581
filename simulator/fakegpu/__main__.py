# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python -m fakegpu``: the fakegpu command (simulator/bin/fakegpu runs this)."""

import sys

from fakegpu.cli import main

sys.exit(main(sys.argv[1:]))
