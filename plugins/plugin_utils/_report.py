# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report files written on the controller (the health gate's JUnit XML): checked before any
host is polled, written atomically, and never written over anything but a regular file.

PRIVATE to the collection: not a public API, may change without notice.
Controller side (Python >= 3.12).

Rules:
- The path may name a regular file (replaced), nothing yet (created), a symbolic link (the file
  it leads to is replaced, the link stays) or the null device (the report is discarded, the
  device is left alone: ``/dev/null`` is the natural "no report"). A directory, a FIFO, a
  socket or any other device is refused: writing there would block, or replace the device or
  the directory entry with a regular file when run as root.
- The write goes to a temporary file in the same folder, then replaces the target with one
  rename: a reader never sees half a report, and a write that fails leaves the old report.
- Every error is ReportPathError (a ValueError) whose message names the path and the cause.
"""

from __future__ import annotations

import os
import stat
import tempfile

NEW_FILE_MODE = 0o644
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class ReportPathError(ValueError):
    """A report path that cannot be written, with the reason."""


def _kind(mode: int) -> str:
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def _is_null_device(status: os.stat_result) -> bool:
    try:
        return stat.S_ISCHR(status.st_mode) and os.path.samestat(status, os.stat(os.devnull))
    except OSError:
        return False


def report_target(path: object) -> str | None:
    """The file a report for PATH goes to: PATH made absolute (relative to the current folder)
    with symbolic links resolved, or None for the null device (discard). Checks the path
    without writing; raises ReportPathError."""
    if not isinstance(path, str) or not path.strip():
        raise ReportPathError(f"the report path must be a file name, not {path!r}")
    if "\0" in path:
        raise ReportPathError(f"the report path {path!r} contains a NUL character")
    target = os.path.realpath(os.path.expanduser(path))
    try:
        status = os.stat(target)
    except FileNotFoundError:
        status = None
    except NotADirectoryError as exc:
        raise ReportPathError(f"the report path {path} goes through something that is not a folder") from exc
    except OSError as exc:
        raise ReportPathError(f"cannot check the report path {path}: {exc.strerror}") from exc
    if status is not None:
        if _is_null_device(status):
            return None
        if stat.S_ISDIR(status.st_mode):
            raise ReportPathError(
                f"{path} is a directory; give the name of a file in it, for example {os.path.join(path, 'health.xml')}"
            )
        if not stat.S_ISREG(status.st_mode):
            raise ReportPathError(
                f"{path} is {_kind(status.st_mode)}: a report replaces only a regular file "
                f"(use /dev/null to discard the report)"
            )
    folder = os.path.dirname(target)
    try:
        folder_status = os.stat(folder)
    except FileNotFoundError as exc:
        raise ReportPathError(
            f"the folder of the report path {path} does not exist ({folder}); create it first"
        ) from exc
    except NotADirectoryError as exc:
        raise ReportPathError(f"the report path {path} goes through something that is not a folder") from exc
    except OSError as exc:
        raise ReportPathError(f"cannot check the folder of the report path {path}: {exc.strerror}") from exc
    if not stat.S_ISDIR(folder_status.st_mode):
        raise ReportPathError(f"the report path {path}: {folder} is not a folder")
    return target


def check_report_path(path: object) -> str | None:
    """report_target, plus a probe: a temporary file is created in the folder and removed, so
    that a folder that refuses new files (permissions, a read-only or virtual file system such
    as /proc) is found before any work is done rather than when the report is written."""
    target = report_target(path)
    if target is None:
        return None
    folder, name = os.path.split(target)
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise ReportPathError(
            f"cannot create the report {path}: cannot create a file in {folder}: {exc.strerror}"
        ) from exc
    os.close(handle)
    os.unlink(probe)
    return target


def write_report(path: object, text: str) -> str | None:
    """Write TEXT (UTF-8) to the report PATH atomically; the file written, or None when PATH is
    the null device. An existing report keeps its permission bits; a new one gets 0644.
    Raises ReportPathError and leaves no temporary file behind."""
    target = report_target(path)
    if target is None:
        return None
    folder, name = os.path.split(target)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ReportPathError(
            f"cannot create the report {path}: cannot create a file in {folder}: {exc.strerror}"
        ) from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            existing = os.lstat(target)
        except FileNotFoundError:
            existing = None
        # Checked again just before the rename: something else may have taken the name since.
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            raise ReportPathError(
                f"{path} became {_kind(existing.st_mode)} while the report was written; "
                "a report replaces only a regular file"
            )
        os.chmod(temporary, stat.S_IMODE(existing.st_mode) if existing is not None else NEW_FILE_MODE)
        os.replace(temporary, target)
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ReportPathError(f"cannot write the report {path}: {exc.strerror or exc}") from exc
        raise
    return target
