# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A clone of this repository is all a contributor has: every developer doc the code and docs cite
is in it (docs/dev/), and nothing points at a path outside it (an absolute path of some machine, a
folder beside the checkout)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a checkout holds besides the project's own files: tools' state, builds, caches.
SKIPPED_DIRS = {".git", ".venv", ".cache", ".demo", ".ansible", ".pytest_cache", ".ruff_cache", "__pycache__", "output"}
SUFFIXES = {".py", ".md", ".yml", ".yaml", ".cfg", ".toml", ".txt", ".ini"}
DEV_DOC = re.compile(r"(?<![\w.-])((?:[\w.-]+/)*)(formats|mechanics|design)\.md")
# An absolute path of the machine the project was written on, or the reference folders beside it.
OUTSIDE = re.compile(r"(?<![\w.])(?:/work/|(?:\.\./)+(?:shared/(?:docs|examples)|seed/))")


def project_files():
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRS for part in relative.parts[:-1]) or not path.is_file():
            continue
        if relative == Path(__file__).resolve().relative_to(ROOT):
            continue  # its own patterns
        if path.suffix in SUFFIXES or path.parent.name == "scripts" or path.name in ("Makefile",):
            yield relative


FILES = list(project_files())


def test_the_scan_sees_the_code_and_the_docs():
    names = {str(path) for path in FILES}
    assert {"plugins/module_utils/_vllm_log.py", "README.md", "scripts/sanity", "docs/dev/formats.md"} <= names


@pytest.mark.parametrize("relative", FILES, ids=str)
def test_developer_docs_cited_are_in_docs_dev_and_no_path_leaves_the_repository(relative):
    text = (ROOT / relative).read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        for match in DEV_DOC.finditer(line):
            folder = match.group(1)
            # Cited from the repository root (docs/dev/x.md) or, inside docs/dev, beside the citing file.
            assert folder == "docs/dev/" or (folder == "" and relative.parent == Path("docs/dev")), (
                "%s:%d cites %r: write docs/dev/%s.md" % (relative, number, match.group(0), match.group(2))
            )
            assert (ROOT / "docs" / "dev" / (match.group(2) + ".md")).is_file()
        assert not OUTSIDE.search(line), "%s:%d points outside the repository: %s" % (relative, number, line.strip())
