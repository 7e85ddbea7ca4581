# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH test fleet: real sshd hosts in network namespaces, each with its own GPU simulator.

See tests/fleet/harness.py; the CLI is ``python -m tests.fleet`` (or scripts/test-fleet).
"""

from __future__ import annotations

from tests.fleet.harness import Fleet, FleetError, HostSpec, cleanup, leftovers, unavailable_reason

__all__ = ["Fleet", "FleetError", "HostSpec", "cleanup", "leftovers", "unavailable_reason"]
