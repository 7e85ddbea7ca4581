# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one command as an argument list with a C locale, a deadline and a byte cap.

Why not ``AnsibleModule.run_command``: it has no timeout (a hung nvidia-smi or docker daemon
would hang the module and the play) and cannot merge stderr into stdout in write order. vLLM
writes its tqdm progress bars to stderr and its log lines to stdout, so ``docker logs`` must be
read through one pipe to keep their order. Output is capped because a container's log is
untrusted: a flood or a 1 MB line must not exhaust the module's memory.

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host: stdlib only, Python >= 3.8, POSIX.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from typing import Dict, List, NamedTuple, Optional, Tuple

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
_C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"}
_READ_SIZE = 65536
# Keeping the tail of a flood, reading stops after this many times the kept size.
_TAIL_READ_FACTOR = 16
# A process blocked inside the kernel (nvidia-smi on a wedged GPU, state D) does not die on
# SIGKILL until the call returns; the module must not hang on it. After this grace it is left
# behind unreaped, to be collected by init when the module exits.
_KILL_GRACE_S = 2.0


class CommandResult(NamedTuple):
    """What one command did. rc is Popen's (negative: killed by that signal, which may be the
    runner's own kill), None when the command could not be started or did not end. When
    timed_out or truncated is set the output is incomplete; stopped means reading stopped at
    the byte cap and the command was killed then (so its rc is not the command's verdict);
    bytes_read counts what was read over both streams. not_found means the executable does not
    exist, not_executable that it exists but cannot be run (stderr says why)."""

    argv: List[str]
    rc: Optional[int]
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool
    not_found: bool
    duration_s: float
    not_executable: bool = False
    stopped: bool = False
    bytes_read: int = 0


def _kill_group(process: subprocess.Popen) -> None:
    # start_new_session made the child a group leader: killing the group also ends the
    # grandchildren that would otherwise hold the pipe open (docker logs -f, sh -c ... &).
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_until(
    process: subprocess.Popen, deadline: float, max_bytes: int, keep_tail: bool
) -> Tuple[Dict[str, List[bytes]], str, bool, int]:
    """Read stdout/stderr until both close, the deadline passes or too much arrives.
    Returns (chunks per stream, why reading ended: "eof", "timeout" or "limit", truncated,
    bytes read).

    Keeping the head, reading stops once MAX_BYTES (over both streams) have arrived. Keeping
    the tail (``docker logs``, where the newest lines matter), reading goes on to the end while
    only the last MAX_BYTES per stream are kept, up to _TAIL_READ_FACTOR times MAX_BYTES read."""
    chunks: Dict[str, List[bytes]] = {"stdout": [], "stderr": []}
    kept = {"stdout": 0, "stderr": 0}
    total = 0
    truncated = False
    read_limit = max_bytes * _TAIL_READ_FACTOR if keep_tail else max_bytes
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, "stdout")
        if process.stderr is not None:
            selector.register(process.stderr, selectors.EVENT_READ, "stderr")
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return chunks, "timeout", truncated, total
            for key, _events in selector.select(remaining):
                # One byte past the limit tells "exactly the limit" apart from "more".
                chunk = os.read(key.fd, min(_READ_SIZE, read_limit - total + 1))
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                if total + len(chunk) > read_limit:
                    chunks[key.data].append(chunk[: read_limit - total])
                    if keep_tail:
                        _keep_last(chunks[key.data], max_bytes)
                    return chunks, "limit", True, read_limit
                chunks[key.data].append(chunk)
                total += len(chunk)
                kept[key.data] += len(chunk)
                if keep_tail and kept[key.data] > 2 * max_bytes:
                    kept[key.data] = _keep_last(chunks[key.data], max_bytes)
                    truncated = True
    if keep_tail and any(_keep_last(chunks[name], max_bytes) < kept[name] for name in chunks):
        truncated = True
    return chunks, "eof", truncated, total


def _keep_last(chunks: List[bytes], max_bytes: int) -> int:
    """Shrink CHUNKS in place to its last MAX_BYTES bytes; return how many bytes remain."""
    data = b"".join(chunks)[-max_bytes:]
    chunks[:] = [data]
    return len(data)


def run_command(
    argv: List[str],
    timeout: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    merge_stderr: bool = False,
    env: Optional[Dict[str, str]] = None,
    keep_tail: bool = False,
) -> CommandResult:
    """Run ARGV (a list; never a shell) with stdin from /dev/null and a C locale.

    Past TIMEOUT seconds the command and its process group are killed (timed_out); past
    MAX_BYTES of output, counted over stdout and stderr together, reading stops, the group is
    killed and what was read is kept (truncated); with KEEP_TAIL the last MAX_BYTES per stream are
    kept instead, reading on to the end (bounded, see _read_until). With MERGE_STDERR, stderr is written into
    stdout's pipe, so the two keep the order the command wrote them in. ENV adds variables;
    the locale is forced over them so that texts parse the same on every host. Output is
    decoded as UTF-8, undecodable bytes replaced."""
    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env.update(_C_LOCALE)
    argv = list(argv)
    started = time.monotonic()
    try:
        # Popen, not run_command: it has no timeout and cannot merge stderr into stdout in order.
        process = subprocess.Popen(  # pylint: disable=ansible-bad-function
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            env=child_env,
            close_fds=True,
            start_new_session=True,
        )
    except (FileNotFoundError, NotADirectoryError) as exc:
        return CommandResult(argv, None, "", str(exc), False, False, True, time.monotonic() - started)
    except OSError as exc:
        # It exists but cannot be run: no execute permission, a directory, a noexec mount,
        # not a program (exec format error).
        reason = exc.strerror or str(exc)
        if os.path.isdir(argv[0]):
            reason = "it is a directory"
        return CommandResult(
            argv, None, "", reason, False, False, False, time.monotonic() - started, not_executable=True
        )

    timed_out = truncated = stopped = False
    bytes_read = 0
    chunks: Dict[str, List[bytes]] = {"stdout": [], "stderr": []}
    try:
        chunks, ended_by, truncated, bytes_read = _read_until(process, started + timeout, max_bytes, keep_tail)
        timed_out = ended_by == "timeout"
        stopped = ended_by == "limit"
        if ended_by == "eof":
            # The pipes closed but the command may still run (it closed them itself).
            try:
                process.wait(timeout=max(started + timeout - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        # Even when the child itself is gone, a grandchild may still hold the pipe.
        if process.poll() is None or timed_out or truncated:
            _kill_group(process)
        try:
            process.wait(timeout=_KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()

    return CommandResult(
        argv=argv,
        rc=process.returncode,
        stdout=b"".join(chunks["stdout"]).decode("utf-8", "replace"),
        stderr=b"".join(chunks["stderr"]).decode("utf-8", "replace"),
        timed_out=timed_out,
        truncated=truncated,
        not_found=False,
        duration_s=time.monotonic() - started,
        stopped=stopped,
        bytes_read=bytes_read,
    )
