# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the integration tests (helpers live in support.py)."""

from __future__ import annotations

import pytest

from support import clean_ansible_env


@pytest.fixture(scope="session")
def ansible_env() -> dict:
    """Environment for ansible commands: this checkout's ansible.cfg, no colour, the venv first."""
    return clean_ansible_env()
