# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the node_info action plugin's summary of connection failures."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.gpufleet.vllm.plugins.action.node_info import (
    ActionModule,
    _lost_connection,
    connection_error_summary,
    module_start_failure,
)


@pytest.mark.parametrize(
    "text, summary",
    [
        (
            'Data could not be sent to remote host "10.200.1.2". Make sure this host can be reached over ssh: '
            "mux_client_request_session: read from master failed: Broken pipe\r\n"
            "ssh: connect to host 10.200.1.2 port 22: No route to host\r\n",
            "ssh: connect to host 10.200.1.2 port 22: No route to host",
        ),
        (
            "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 9: Connection refused",
            "ssh: connect to host 127.0.0.1 port 9: Connection refused",
        ),
        (
            "Failed to connect to the host via ssh: Warning: Permanently added '10.200.1.2' (ED25519) to the list of "
            "known hosts.\r\ngpft@10.200.1.2: Permission denied (publickey).",
            "gpft@10.200.1.2: Permission denied (publickey).",
        ),
        ("Failed to connect to the host via ssh: Host key verification failed.", "Host key verification failed."),
        ("line one\nline two", "line one; line two"),
        # Mitogen's wording of the same failure.
        (
            "EOF on stream; last 100 lines received:\nssh: connect to host 127.0.0.1 port 9: Connection refused",
            "ssh: connect to host 127.0.0.1 port 9: Connection refused",
        ),
        # Only chatter: the cause is unknown, and said so.
        (
            "mux_client_request_session: read from master failed: Broken pipe",
            "connection lost while collecting (ssh gave no reason)",
        ),
        (
            'Data could not be sent to remote host "10.200.1.2". Make sure this host can be reached over ssh: ',
            "connection lost while collecting (ssh gave no reason)",
        ),
        (
            'Data could not be sent to remote host "10.200.1.2". Make sure this host can be reached over ssh: '
            "Warning: Permanently added '10.200.1.2' (ED25519) to the list of known hosts.\r\n",
            "connection lost while collecting (ssh gave no reason)",
        ),
        # Ansible's other wording.
        (
            "Data could not be sent to remote host '10.200.3.2'. Make sure this host can be reached over SSH: "
            "[Errno 32] Broken pipe",
            "connection failed while sending the module ([Errno 32] Broken pipe; ssh's reason was not captured)",
        ),
        # A changed host key: the banner's frame and advice go, the cause and the file stay.
        (
            "Failed to connect to the host via ssh: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n"
            "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n"
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n"
            "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\r\n"
            "Someone could be eavesdropping on you right now (man-in-the-middle attack)!\r\n"
            "It is also possible that a host key has just been changed.\r\n"
            "The fingerprint for the ED25519 key sent by the remote host is\r\n"
            "SHA256:q1w2e3r4t5y6u7i8o9p0.\r\n"
            "Please contact your system administrator.\r\n"
            "Add correct host key in /tmp/s.json.known_hosts to get rid of this message.\r\n"
            "Offending ED25519 key in /tmp/s.json.known_hosts:1\r\n"
            "  remove with:\r\n"
            "  ssh-keygen -f '/tmp/s.json.known_hosts' -R '10.200.1.2'\r\n"
            "Host key for 10.200.1.2 has changed and you have requested strict checking.\r\n"
            "Host key verification failed.\r\n",
            "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!; "
            "Host key for 10.200.1.2 has changed and you have requested strict checking.; Host key verification failed.",
        ),
    ],
)
def test_connection_error_summary(text, summary):
    assert connection_error_summary(text) == summary


@pytest.mark.parametrize(
    "module_result, lost",
    [
        # What Ansible returns when ssh dies under a running module (sshd killed, VM rebooting).
        (
            {
                "failed": True,
                "rc": 255,
                "module_stdout": "",
                "module_stderr": "Shared connection to x closed.\r\n",
                "msg": "Module result deserialization failed: No start of json char found",
            },
            True,
        ),
        (
            {
                "failed": True,
                "rc": 143,
                "module_stdout": "",
                "module_stderr": "",
                "msg": "Module result deserialization failed: No start of json char found",
            },
            True,
        ),
        ({"failed": True, "rc": -15, "module_stdout": ""}, True),
        # No interpreter, or a module that really failed: an ordinary exit status.
        (
            {
                "failed": True,
                "rc": 127,
                "module_stdout": "",
                "module_stderr": "/bin/sh: python3: not found",
                "msg": "The module failed to execute correctly",
            },
            False,
        ),
        # A module that really failed says so on stdout.
        ({"failed": True, "rc": 1, "module_stdout": "Traceback ...", "msg": "MODULE FAILURE"}, False),
        ({"failed": True, "rc": 255, "module_stdout": '{"failed": true}', "msg": "x"}, False),
        ({"changed": False, "schema_version": 1}, False),
    ],
)
def test_lost_connection(module_result, lost):
    assert _lost_connection(module_result) is lost


NO_JSON = "Module result deserialization failed: No start of json char found"
ADVICE = "; set ansible_python_interpreter to a working Python 3.8 or later"


@pytest.mark.parametrize(
    "module_result, failure",
    [
        # A pyenv shim without that version (what ansible 2.21 returns for it).
        (
            {
                "failed": True,
                "rc": 127,
                "module_stdout": "",
                "msg": NO_JSON,
                "module_stderr": "pyenv: python3.13: command not found\n\nThe `python3.13' command exists in these Python "
                "versions:\n  3.13.1\n",
            },
            (
                "python_unusable",
                "Python not usable on the VM (exit status 127): pyenv: python3.13: command not found; "
                "The `python3.13' command exists in these Python versions:; 3.13.1" + ADVICE,
            ),
        ),
        (
            {
                "failed": True,
                "rc": 127,
                "module_stdout": "",
                "module_stderr": "/bin/sh: 1: /usr/bin/python3: not found\n",
                "msg": "The module failed to execute correctly, you probably need to set the interpreter.",
            },
            (
                "python_unusable",
                "Python not usable on the VM (exit status 127): /bin/sh: 1: /usr/bin/python3: not found" + ADVICE,
            ),
        ),
        (
            {"failed": True, "rc": 126, "module_stdout": "", "module_stderr": "", "msg": NO_JSON},
            ("python_unusable", "Python not usable on the VM (exit status 126): it printed nothing" + ADVICE),
        ),
        # Python 2 reading the module.
        (
            {
                "failed": True,
                "rc": 1,
                "module_stdout": "",
                "msg": "MODULE FAILURE\nSee stdout/stderr for the exact error",
                "module_stderr": '  File "/tmp/x/AnsiballZ_node_info.py", line 3\n    from __future__ import annotations\n'
                "SyntaxError: future feature annotations is not defined\n",
            },
            (
                "python_unusable",
                'Python not usable on the VM (exit status 1): File "/tmp/x/AnsiballZ_node_info.py", '
                "line 3; from __future__ import annotations; SyntaxError: future feature annotations is not "
                "defined" + ADVICE,
            ),
        ),
        # Escapes and bidi characters in what the VM printed are cleaned.
        (
            {
                "failed": True,
                "rc": 127,
                "module_stdout": "",
                "msg": NO_JSON,
                "module_stderr": "\x1b[31mpyenv:\u202e python3: command not found\x1b[0m\n",
            },
            (
                "python_unusable",
                "Python not usable on the VM (exit status 127): pyenv: python3: command not found" + ADVICE,
            ),
        ),
        # The module started and crashed: the traceback's last line is the cause.
        (
            {
                "failed": True,
                "rc": 1,
                "module_stdout": "",
                "msg": NO_JSON,
                "module_stderr": 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
                "MemoryError\n",
            },
            ("module_crashed", "node_info crashed on the VM (exit status 1): MemoryError"),
        ),
        # A module that failed properly (its own JSON) keeps its message.
        ({"failed": True, "msg": "invalid container name 'x;id'", "invocation": {}}, None),
        (
            {"failed": True, "rc": 127, "msg": "log_lines must be a whole number of lines from 1 to 10000, got 'nan'"},
            None,
        ),
        ({"changed": False, "schema_version": 1}, None),
    ],
)
def test_module_start_failure(module_result, failure):
    assert module_start_failure(module_result) == failure


class SecondTry:
    """A connection for the action's second try after a broken pipe: it fails with ERROR, or
    connects when ERROR is None."""

    def __init__(self, error):
        self.error, self.commands = error, []

    def exec_command(self, command):
        self.commands.append(command)
        if self.error is not None:
            raise AnsibleConnectionFailure(self.error)
        return 0, b"", b""


@pytest.mark.parametrize(
    "error, reason",
    [
        # ssh's own words, now that nothing is written to it.
        (
            "Failed to connect to the host via ssh: ssh: connect to host 10.200.3.2 port 22: Connection refused",
            "ssh: connect to host 10.200.3.2 port 22: Connection refused",
        ),
        ("Failed to connect to the host via ssh: Host key verification failed.", "Host key verification failed."),
        # The second try lost its reason too, or connected: nothing better to say.
        (
            'Data could not be sent to remote host "vm". Make sure this host can be reached over ssh: [Errno 32] Broken pipe',
            None,
        ),
        (None, None),
    ],
)
def test_a_broken_pipe_asks_ssh_again_for_its_reason(error, reason):
    action = ActionModule.__new__(ActionModule)
    action._connection = SecondTry(error)
    assert action._ssh_reason() == reason
    assert action._connection.commands == ["true"]
