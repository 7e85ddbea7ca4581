# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as a new user gets it: the tarball of ``ansible-galaxy collection build``,
installed with ``ansible-galaxy collection install`` into a fresh path, used from a folder outside
this checkout with the user's own ansible.cfg (not ours: no dashboard callback, no demo inventory)
and a plain YAML inventory of simulated VMs (no hypr files)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from support import ROOT, VENV_BIN, clean_ansible_env, make_sim_host

pytestmark = pytest.mark.slow

# ansible-doc's type for each plugin folder that holds documented plugins.
DOC_TYPES = {"modules": "module", "callback": "callback", "inventory": "inventory", "filter": "filter"}
CONTAINER = "vllm_qwen36_27b"


def build(source: Path, output: Path) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(output), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=clean_ansible_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = output.glob("gpufleet-vllm-*.tar.gz")
    return tarball


def entries(tarball: Path) -> set[str]:
    with tarfile.open(tarball) as archive:
        return {member.name for member in archive.getmembers()}


def user_env(project: Path, **extra) -> dict:
    """An ordinary Ansible project's environment: its own ansible.cfg (found in the current folder),
    nothing of this checkout's."""
    env = clean_ansible_env()
    del env["ANSIBLE_CONFIG"]
    env.update(extra)
    env["HOME"] = str(project / "home")
    return env


def run_in(project: Path, argv: list, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The tarball built from this checkout, installed into a fresh path of a user's project."""
    base = tmp_path_factory.mktemp("installed")
    tarball = build(ROOT, base / "dist")
    project = base / "project"
    (project / "home").mkdir(parents=True)
    collections = base / "collections"
    # A user's ansible.cfg: its own collections path and settings; no stdout_callback.
    (project / "ansible.cfg").write_text(
        "[defaults]\ncollections_path = %s\nretry_files_enabled = false\nforks = 10\n" % collections
    )
    proc = run_in(
        project,
        [str(VENV_BIN / "ansible-galaxy"), "collection", "install", "-p", str(collections), str(tarball)],
        user_env(project),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (collections / "ansible_collections" / "gpufleet" / "vllm" / "MANIFEST.json").is_file()
    hosts = {"vm-serving": "busy", "vm-oom": "cuda-oom"}
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python")},
            "hosts": {},
        }
    }
    for name, scenario in hosts.items():
        vm = make_sim_host(base / name, scenario, container=CONTAINER)
        # The minimum host variables of a plain inventory (README, "Install"): the container, and
        # here where the simulated CLIs are.
        inventory["all"]["hosts"][name] = {
            "hyperstack_vllm_container": CONTAINER,
            "gpufleet_docker_path": str(vm / "bin" / "docker"),
            "gpufleet_nvidia_smi_path": str(vm / "bin" / "nvidia-smi"),
        }
    (project / "hosts.yml").write_text(json.dumps(inventory))
    return {"tarball": tarball, "project": project, "collections": collections}


def test_tarball_carries_what_works_installed_and_no_checkout_state(installed, tmp_path):
    """Built from this (used) checkout and from a clean copy of its files, the tarball is the same;
    it carries the plugins, role and playbooks, and nothing that needs this checkout."""
    names = entries(installed["tarball"])
    for needed in (
        "plugins/callback/dashboard.py",
        "plugins/modules/node_info.py",
        "playbooks/watch.yml",
        "playbooks/health.yml",
        "roles/health/tasks/main.yml",
        "meta/runtime.yml",
        "meta/execution-environment.yml",
        "README.md",
        "LICENSE",
    ):
        assert needed in names
    for left_out in (
        "ansible.cfg",
        "Makefile",
        "inventory",
        "tests",
        "extensions",
        "simulator",
        ".ansible",
        ".pytest_cache",
        ".venv",
    ):
        assert not [name for name in names if name == left_out or name.startswith(left_out + "/")], left_out
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no clean copy to compare with")
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    clean = tmp_path / "clean"
    for relative in filter(None, listed):
        source = ROOT / relative
        if source.is_file():
            (clean / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clean / relative)
    assert entries(build(clean, tmp_path / "dist")) == names


def test_ansible_doc_shows_every_plugin_and_the_role(installed):
    project = installed["project"]
    env = user_env(project)
    plugins = installed["collections"] / "ansible_collections" / "gpufleet" / "vllm" / "plugins"
    for folder, doc_type in DOC_TYPES.items():
        names = sorted(
            "gpufleet.vllm." + path.stem for path in (plugins / folder).glob("*.py") if not path.name.startswith("_")
        )
        assert names, folder
        proc = run_in(project, [str(VENV_BIN / "ansible-doc"), "-t", doc_type, *names], env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "[ERROR]" not in proc.stderr, proc.stderr
        for name in names:
            assert "%s (%s/" % (name, plugins / folder) in proc.stdout, (name, proc.stdout[:2000])
    proc = run_in(project, [str(VENV_BIN / "ansible-doc"), "-t", "role", "gpufleet.vllm.health"], env)
    assert proc.returncode == 0 and "ENTRY POINT: *main*" in proc.stdout, proc.stdout + proc.stderr


def test_watch_without_the_dashboard_stops_before_polling_and_says_how_to_turn_it_on(installed):
    project = installed["project"]
    proc = run_in(
        project,
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            "hosts.yml",
            "gpufleet.vllm.watch",
            "-e",
            "watch_cycles=2",
            "-e",
            "watch_interval=1",
        ],
        user_env(project),
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "ANSIBLE_STDOUT_CALLBACK=gpufleet.vllm.dashboard" in output
    assert "stdout_callback = gpufleet.vllm.dashboard" in output
    assert "is 'default'" in output
    assert "FAILED - RETRYING" not in output and "TASK [Refresh node state]" not in output, output


def test_watch_with_the_dashboard_polls_every_host_of_a_plain_inventory(installed):
    project = installed["project"]
    env = user_env(project, ANSIBLE_STDOUT_CALLBACK="gpufleet.vllm.dashboard")
    proc = run_in(
        project,
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            "hosts.yml",
            "gpufleet.vllm.watch",
            "-e",
            "watch_cycles=2",
            "-e",
            "watch_interval=1",
        ],
        env,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    lines = proc.stdout.splitlines()
    assert [line for line in lines if line.startswith("vm-serving serving ")], output
    assert [line for line in lines if line.startswith("vm-oom failed ")], output
    assert "FAILED - RETRYING" not in output and "\x1b[" not in proc.stdout


def test_health_playbook_gates_a_plain_inventory_and_writes_junit(installed):
    project = installed["project"]
    proc = run_in(
        project,
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            "hosts.yml",
            "gpufleet.vllm.health",
            "-e",
            "health_junit_path=health.xml",
        ],
        user_env(project),
        timeout=180,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    failed = {
        case.get("name"): case.find("failure") is not None
        for case in ET.parse(project / "health.xml").getroot().iter("testcase")
    }
    assert failed["vm-oom :: fatal_errors"] and not failed["vm-serving :: fatal_errors"], failed
    recap = dict(re.findall(r"^(vm-\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=(\d)", proc.stdout, re.M))
    assert recap == {"vm-oom": "1", "vm-serving": "0"}, output


def ci_recipes() -> dict:
    """The YAML recipes of docs/ci.md, by the file they are meant for (their first comment line)."""
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    recipes = {}
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        first = block.splitlines()[0]
        if first.startswith("# "):
            recipes[first[2:].strip()] = yaml.safe_load(block)
    return recipes


def recipe_commands() -> dict:
    recipes = ci_recipes()
    github = recipes[".github/workflows/vllm-smoke.yml"]
    (step,) = [step for step in github["jobs"]["smoke"]["steps"] if step.get("name") == "Smoke check"]
    gitlab = recipes[".gitlab-ci.yml"]["vllm-smoke"]
    assert gitlab["artifacts"]["reports"]["junit"] == "health.xml" and gitlab["artifacts"]["when"] == "always"
    (upload,) = [step for step in github["jobs"]["smoke"]["steps"] if step.get("uses", "").startswith("actions/upload")]
    assert upload["with"]["path"] == "health.xml" and upload["if"] == "always()"
    return {"GitHub Actions": step["run"], "GitLab CI": gitlab["script"][-1]}


def test_ci_recipes_run_the_command_this_suite_runs(installed):
    """docs/ci.md's recipes (loaded as YAML) run one command; run it, inventory swapped for the
    simulated VMs, from a user's project with the installed collection."""
    commands = recipe_commands()
    assert len(set(commands.values())) == 1, commands
    argv = shlex.split(commands["GitLab CI"])
    assert argv[:3] == ["ansible-playbook", "-i", "hypr.hyperstack.yml"], argv
    project = installed["project"]
    (project / "health.xml").unlink(missing_ok=True)
    proc = run_in(project, [str(VENV_BIN / argv[0]), "-i", "hosts.yml", *argv[3:]], user_env(project), timeout=180)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    failed = {
        case.get("name")
        for case in ET.parse(project / "health.xml").getroot().iter("testcase")
        if case.find("failure") is not None
    }
    assert "vm-oom :: fatal_errors" in failed and not [name for name in failed if name.startswith("vm-serving ")]
    assert "vm-oom: FAIL" in proc.stdout, proc.stdout


EXECUTION_ENVIRONMENT = """\
version: 3
images:
  base_image:
    name: registry.example/ee-minimal:latest
dependencies:
  ansible_core:
    package_pip: ansible-core>=2.19
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: %s
        type: file
"""


def test_execution_environment_build_installs_the_controller_packages(installed, tmp_path):
    """``ansible-builder create`` (no container engine) writes the build context; the build runs its
    introspect script over the installed collections, which finds rich and jmespath in
    meta/execution-environment.yml. Run here on the collection installed from the tarball."""
    (tmp_path / "execution-environment.yml").write_text(EXECUTION_ENVIRONMENT % installed["tarball"])
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "ctx"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    context = tmp_path / "ctx"
    assert installed["tarball"].name in (context / "_build" / "requirements.yml").read_text()
    containerfile = next(path for path in (context / "Dockerfile", context / "Containerfile") if path.exists())
    assert "introspect.py introspect" in containerfile.read_text()
    proc = subprocess.run(
        [
            str(VENV_BIN / "python"),
            str(context / "_build" / "scripts" / "introspect.py"),
            "introspect",
            "--sanitize",
            str(installed["collections"]),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    python = yaml.safe_load(proc.stdout)["python"]
    assert sorted(line.split(">=")[0] for line in python) == ["jmespath", "rich"], python
