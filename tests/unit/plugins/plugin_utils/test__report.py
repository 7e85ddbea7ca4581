# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of plugin_utils/_report.py: what a report path may be (regular file, new name, symbolic
link, /dev/null) and what is refused (directory, FIFO, socket, device, missing folder, a folder
that takes no file), the atomic write, and that nothing but a regular file is ever replaced."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from ansible_collections.gpufleet.vllm.plugins.plugin_utils import _report as report


def leftovers(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith((".tmp", ".probe")))


def test_new_report_is_created_with_0644(tmp_path):
    path = tmp_path / "health.xml"
    assert report.write_report(str(path), "<a/>\n") == str(path)
    assert path.read_text(encoding="utf-8") == "<a/>\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert leftovers(tmp_path) == []


def test_existing_report_is_replaced_and_keeps_its_permissions(tmp_path):
    path = tmp_path / "health.xml"
    path.write_text("old")
    path.chmod(0o600)
    inode = path.stat().st_ino
    report.write_report(str(path), "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino != inode  # replaced by a rename, not rewritten in place
    assert leftovers(tmp_path) == []


def test_symbolic_link_leads_to_the_file_written_and_stays(tmp_path):
    (tmp_path / "reports").mkdir()
    target = tmp_path / "reports" / "health.xml"
    target.write_text("old")
    link = tmp_path / "latest.xml"
    link.symlink_to(target)
    assert report.write_report(str(link), "new") == str(target)
    assert link.is_symlink() and target.read_text() == "new"


def test_relative_path_is_relative_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert report.write_report("health.xml", "x") == str(tmp_path / "health.xml")


def test_null_device_discards_the_report_and_stays_a_device():
    before = os.stat(os.devnull)
    assert report.check_report_path(os.devnull) is None
    assert report.write_report(os.devnull, "<a/>") is None
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


def _fifo(folder):
    path = folder / "pipe"
    os.mkfifo(path)
    return path


def _socket(folder):
    path = folder / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: folder, "{path} is a directory; give the name of a file in it, for example {path}/health.xml"),
        (
            _fifo,
            "{path} is a FIFO (named pipe): a report replaces only a regular file (use /dev/null to discard the report)",
        ),
        (_socket, "{path} is a socket: a report replaces only a regular file (use /dev/null to discard the report)"),
        (
            lambda folder: "/dev/full",
            "/dev/full is a character device: a report replaces only a regular file "
            "(use /dev/null to discard the report)",
        ),
        (
            lambda folder: folder / "missing" / "health.xml",
            "the folder of the report path {path} does not exist ({folder}/missing); create it first",
        ),
        (
            lambda folder: (folder / "file").write_text("x") and folder / "file" / "health.xml",
            "the report path {path} goes through something that is not a folder",
        ),
        (lambda folder: "", "the report path must be a file name, not ''"),
        (lambda folder: "a\0b", "the report path 'a\\x00b' contains a NUL character"),
    ],
    ids=["directory", "fifo", "socket", "device", "missing-folder", "file-as-folder", "empty", "nul"],
)
def test_refused_paths_are_left_alone(tmp_path, make, message):
    path = make(tmp_path)
    before = os.lstat(path) if path and os.path.lexists(path) else None
    for function in (report.check_report_path, lambda target: report.write_report(target, "<a/>")):
        with pytest.raises(report.ReportPathError) as info:
            function(str(path))
        assert str(info.value) == message.format(path=path, folder=tmp_path)
    if before is not None:
        after = os.lstat(path)
        assert (stat.S_IFMT(after.st_mode), after.st_ino, after.st_rdev) == (
            stat.S_IFMT(before.st_mode),
            before.st_ino,
            before.st_rdev,
        )
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_folder_that_takes_no_file_is_found_by_the_check():
    # /proc refuses new files even to root, where permission bits would not.
    with pytest.raises(report.ReportPathError) as info:
        report.check_report_path("/proc/health.xml")
    assert str(info.value).startswith("cannot create the report /proc/health.xml: cannot create a file in /proc: ")
    with pytest.raises(report.ReportPathError) as info:
        report.write_report("/proc/health.xml", "<a/>")
    assert str(info.value).startswith("cannot create the report /proc/health.xml: cannot create a file in /proc: ")


def test_check_writes_nothing(tmp_path):
    path = tmp_path / "health.xml"
    assert report.check_report_path(str(path)) == str(path)
    assert os.listdir(tmp_path) == []


def test_name_taken_by_a_fifo_while_writing_is_left_alone(tmp_path, monkeypatch):
    # Between the check and the rename something else creates a FIFO under the name.
    path = tmp_path / "health.xml"
    real_fsync = os.fsync

    def fsync_then_fifo(descriptor):
        real_fsync(descriptor)
        os.mkfifo(path)

    monkeypatch.setattr(report.os, "fsync", fsync_then_fifo)
    with pytest.raises(report.ReportPathError) as info:
        report.write_report(str(path), "<a/>")
    assert (
        str(info.value) == f"{path} became a FIFO (named pipe) while the report was written; "
        "a report replaces only a regular file"
    )
    assert stat.S_ISFIFO(os.lstat(path).st_mode)
    assert leftovers(tmp_path) == []


def test_failed_write_keeps_the_previous_report(tmp_path, monkeypatch):
    path = tmp_path / "health.xml"
    path.write_text("previous")

    def replace(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "replace", replace)
    with pytest.raises(report.ReportPathError) as info:
        report.write_report(str(path), "new")
    assert str(info.value) == f"cannot write the report {path}: No space left on device"
    assert path.read_text() == "previous"
    assert leftovers(tmp_path) == []
