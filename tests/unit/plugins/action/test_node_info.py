# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the node_info action plugin's summary of connection failures."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.vllm.plugins.action.node_info import connection_error_summary


@pytest.mark.parametrize("text, summary", [
    ('Data could not be sent to remote host "10.200.1.2". Make sure this host can be reached over ssh: '
     "mux_client_request_session: read from master failed: Broken pipe\r\n"
     "ssh: connect to host 10.200.1.2 port 22: No route to host\r\n",
     "ssh: connect to host 10.200.1.2 port 22: No route to host"),
    ("Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 9: Connection refused",
     "ssh: connect to host 127.0.0.1 port 9: Connection refused"),
    ("Failed to connect to the host via ssh: Warning: Permanently added '10.200.1.2' (ED25519) to the list of "
     "known hosts.\r\ngpft@10.200.1.2: Permission denied (publickey).",
     "gpft@10.200.1.2: Permission denied (publickey)."),
    ("Failed to connect to the host via ssh: Host key verification failed.",
     "Host key verification failed."),
    ("line one\nline two", "line one; line two"),
    # Mitogen's wording of the same failure.
    ("EOF on stream; last 100 lines received:\nssh: connect to host 127.0.0.1 port 9: Connection refused",
     "ssh: connect to host 127.0.0.1 port 9: Connection refused"),
    ("mux_client_request_session: read from master failed: Broken pipe",
     "mux_client_request_session: read from master failed: Broken pipe"),
])
def test_connection_error_summary(text, summary):
    assert connection_error_summary(text) == summary
