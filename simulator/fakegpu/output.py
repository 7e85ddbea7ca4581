# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a simulated command prints, on which stream, in which order, and how it ends.

Collected first and written at the end, so ``fakegpu show`` can display an answer the
executables would print. Text is written as UTF-8 with surrogateescape: a log line holding
``\\udcff`` comes out as the raw byte 0xff, as invalid UTF-8 does in real logs.
"""

from __future__ import annotations

import os
import time

STDOUT = 1
STDERR = 2


class Output:
    def __init__(self):
        self.chunks = []  # (file descriptor, text), in the order written
        self.status = 0
        self.hang_seconds = None

    def stdout(self, text: str) -> None:
        self.chunks.append((STDOUT, text))

    def stderr(self, text: str) -> None:
        self.chunks.append((STDERR, text))

    def finish(self, status: int, stdout: str = "", stderr: str = "") -> "Output":
        if stdout:
            self.stdout(stdout)
        if stderr:
            self.stderr(stderr)
        self.status = status
        return self

    def hang(self, seconds: float) -> None:
        self.hang_seconds = seconds

    def text(self, fd: int) -> str:
        return "".join(text for each_fd, text in self.chunks if each_fd == fd)

    def emit(self) -> int:
        """Write to the real stdout/stderr: each run of one stream in one go, unbuffered, so
        a reader that merges stderr into stdout sees the same order. Returns the exit status."""
        runs = []
        for fd, text in self.chunks:
            if runs and runs[-1][0] == fd:
                runs[-1][1].append(text)
            else:
                runs.append((fd, [text]))
        try:
            for fd, texts in runs:
                data = "".join(texts).encode("utf-8", "surrogateescape")
                while data:
                    data = data[os.write(fd, data) :]
        except BrokenPipeError:
            # The reader went away (``docker logs | head``): as real CLIs do, just stop.
            return self.status
        if self.hang_seconds is not None:
            time.sleep(self.hang_seconds)
        return self.status
