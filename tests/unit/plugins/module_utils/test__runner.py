# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _runner with real processes (/bin/sh scripts, sleep, head)."""

from __future__ import annotations

import os
import time

import pytest

from ansible_collections.gpufleet.vllm.plugins.module_utils._runner import (
    CommandResult,
    run_command,
)

SH = "/bin/sh"


def sh(script):
    return [SH, "-c", script]


def is_gone(pid):
    """True once PID no longer runs (absent, or a zombie nobody has reaped yet)."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pid, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if is_gone(pid):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(
    "argv, merge, rc, stdout, stderr",
    [
        (["/bin/true"], False, 0, "", ""),
        (["/bin/false"], False, 1, "", ""),
        (sh("exit 3"), False, 3, "", ""),
        (sh("printf 'a\\nb'"), False, 0, "a\nb", ""),
        (sh("echo out; echo err >&2"), False, 0, "out\n", "err\n"),
        # Merged: the order the command wrote in, through one pipe.
        (sh("echo 1; echo 2 >&2; echo 3; echo 4 >&2; echo 5"), True, 0, "1\n2\n3\n4\n5\n", ""),
        (sh("echo 1; echo 2 >&2; echo 3; echo 4 >&2; echo 5"), False, 0, "1\n3\n5\n", "2\n4\n"),
        # stdin is /dev/null: cat ends at once instead of waiting for input.
        (["cat"], False, 0, "", ""),
        # Invalid UTF-8 from a hostile log is replaced, not fatal.
        (sh("printf '\\377\\376ok\\303'"), False, 0, "\ufffd\ufffdok\ufffd", ""),
        (sh("printf 'caf\\303\\251'"), False, 0, "caf\u00e9", ""),
        (sh("kill -TERM $$"), False, -15, "", ""),
    ],
)
def test_run(argv, merge, rc, stdout, stderr):
    result = run_command(argv, timeout=10, merge_stderr=merge)
    assert isinstance(result, CommandResult)
    assert (result.argv, result.rc, result.stdout, result.stderr) == (argv, rc, stdout, stderr)
    assert (result.timed_out, result.truncated, result.not_found) == (False, False, False)
    assert 0 <= result.duration_s < 5


def test_locale_is_forced_over_env():
    result = run_command(
        sh('echo "$LC_ALL $LANG $LANGUAGE $GPUFLEET_PROBE"'),
        timeout=10,
        env={"LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8", "GPUFLEET_PROBE": "passed"},
    )
    assert result.stdout == "C C C passed\n"


def test_environment_is_inherited(monkeypatch):
    monkeypatch.setenv("GPUFLEET_INHERITED", "yes")
    assert run_command(sh('echo "$GPUFLEET_INHERITED"'), timeout=10).stdout == "yes\n"


def test_no_shell_expansion_of_arguments():
    result = run_command(["printf", "%s|", "$(id)", "; rm -rf /", "*"], timeout=10)
    assert result.stdout == "$(id)|; rm -rf /|*|"


@pytest.mark.parametrize(
    "argv",
    [
        ["/nonexistent/nvidia-smi"],
        ["nvidia-smi-not-on-any-path-gpufleet"],
        ["/etc/passwd/docker"],
    ],
)
def test_not_found(argv):
    result = run_command(argv, timeout=10)
    assert (result.rc, result.stdout, result.not_found, result.timed_out) == (None, "", True, False)
    assert "No such file or directory" in result.stderr or "Not a directory" in result.stderr


def test_not_executable(tmp_path):
    """It exists but cannot be run: not_executable, never not_found, and stderr says why."""
    script = tmp_path / "docker"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    not_a_program = tmp_path / "nvidia-smi"
    not_a_program.write_bytes(b"\x00\x01binary junk")
    not_a_program.chmod(0o755)
    for argv, reason in (
        ([str(script)], "Permission denied"),
        ([str(tmp_path)], "it is a directory"),
        ([str(not_a_program)], "Exec format error"),
    ):
        result = run_command(argv, timeout=10)
        assert (result.rc, result.not_found, result.not_executable, result.stderr) == (None, False, True, reason)


def test_timeout_kills_the_command():
    started = time.monotonic()
    result = run_command(sh("echo before; sleep 30; echo after"), timeout=0.5)
    assert time.monotonic() - started < 4
    assert (result.stdout, result.timed_out, result.truncated) == ("before\n", True, False)
    assert result.rc == -9
    assert 0.5 <= result.duration_s < 4


def test_timeout_kills_a_grandchild_that_holds_the_pipe():
    # sh exits at once; its background sleep keeps stdout open, so EOF never comes.
    started = time.monotonic()
    result = run_command(sh("sleep 30 & echo $!"), timeout=0.5)
    assert time.monotonic() - started < 4
    assert result.timed_out is True
    assert result.rc == 0
    grandchild = int(result.stdout)
    assert wait_gone(grandchild)


def test_timeout_after_the_command_closed_its_output():
    result = run_command(sh("exec >/dev/null 2>&1; sleep 30"), timeout=0.5)
    assert (result.stdout, result.timed_out, result.rc) == ("", True, -9)
    assert result.duration_s < 4


def test_zero_timeout():
    result = run_command(sh("sleep 30"), timeout=0)
    assert (result.timed_out, result.rc) == (True, -9)


@pytest.mark.parametrize(
    "argv, max_bytes, merge, stdout, stderr, truncated",
    [
        (sh("printf abcd"), 4, False, "abcd", "", False),
        (sh("printf abcde"), 4, False, "abcd", "", True),
        (sh("printf ab; printf cd >&2"), 4, False, "ab", "cd", False),
        (sh("printf ab; printf cde >&2"), 4, True, "abcd", "", True),
        (sh("printf x"), 0, False, "", "", True),
        (["head", "-c", "10000000", "/dev/zero"], 1000, False, "\0" * 1000, "", True),
    ],
)
def test_byte_cap(argv, max_bytes, merge, stdout, stderr, truncated):
    result = run_command(argv, timeout=10, max_bytes=max_bytes, merge_stderr=merge)
    assert (result.stdout, result.stderr, result.truncated, result.timed_out) == (stdout, stderr, truncated, False)


def test_byte_cap_stops_an_endless_flood():
    started = time.monotonic()
    result = run_command(["yes", "flood"], timeout=10, max_bytes=100000)
    assert time.monotonic() - started < 4
    assert (result.truncated, result.timed_out, len(result.stdout)) == (True, False, 100000)
    assert result.stdout.startswith("flood\nflood\n")
    # The -9 is the runner's own kill: stopped says so, bytes_read how far reading went.
    assert (result.rc, result.stopped, result.bytes_read) == (-9, True, 100000)


def test_byte_cap_on_one_huge_line():
    result = run_command(sh("head -c 3000000 /dev/zero | tr '\\0' x; echo"), timeout=10, max_bytes=1024 * 1024)
    assert (result.truncated, len(result.stdout)) == (True, 1024 * 1024)
    assert set(result.stdout) == {"x"}


def test_byte_cap_kills_the_process_group():
    result = run_command(sh("sleep 30 & echo $!; exec yes"), timeout=10, max_bytes=10000)
    assert result.truncated is True
    assert wait_gone(int(result.stdout.split("\n", 1)[0]))


def test_large_output_within_the_cap():
    result = run_command(["head", "-c", "5000000", "/dev/zero"], timeout=10)
    assert (len(result.stdout), result.truncated, result.rc) == (4 * 1024 * 1024, True, -9)
    result = run_command(["head", "-c", "3000000", "/dev/zero"], timeout=10)
    assert (len(result.stdout), result.truncated, result.rc) == (3000000, False, 0)
    assert (result.stopped, result.bytes_read) == (False, 3000000)


def test_child_is_reaped():
    result = run_command(sh("echo $$"), timeout=10)
    pid = int(result.stdout)
    assert not os.path.exists("/proc/%d" % pid) or is_gone(pid)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@pytest.mark.parametrize(
    "script, max_bytes, stdout, truncated",
    [
        # Within the cap: everything, not truncated.
        ("printf 'a\\nb\\n'", 16, "a\nb\n", False),
        # Over the cap but not past the read limit: the newest MAX_BYTES, marked truncated.
        ("printf 'old-line\\nnewest\\n'", 7, "newest\n", True),
        # Exactly at the cap.
        ("printf '1234567'", 7, "1234567", False),
    ],
)
def test_keep_tail(script, max_bytes, stdout, truncated):
    result = run_command(sh(script), timeout=5, max_bytes=max_bytes, merge_stderr=True, keep_tail=True)
    assert (result.stdout, result.truncated, result.rc) == (stdout, truncated, 0)


def test_keep_tail_keeps_the_end_of_a_huge_first_line():
    # A 1 MB hostile line followed by the newest stats line: the stats line must survive.
    script = "head -c 1048576 /dev/zero | tr '\\0' x; printf '\\nnewest stats\\n'"
    result = run_command(sh(script), timeout=10, max_bytes=131072, merge_stderr=True, keep_tail=True)
    assert result.stdout.endswith("x\nnewest stats\n")
    assert len(result.stdout) == 131072
    assert result.truncated and result.rc == 0
    # Read to its end: not stopped, and bytes_read counts all of it.
    assert (result.stopped, result.bytes_read) == (False, 1048576 + len("\nnewest stats\n"))


def test_keep_tail_still_bounds_an_endless_flood():
    started = time.monotonic()
    result = run_command(["yes"], timeout=10, max_bytes=1024, keep_tail=True)
    assert result.truncated and not result.timed_out and result.stopped
    assert len(result.stdout) == 1024
    assert result.bytes_read == 16 * 1024
    assert time.monotonic() - started < 5
