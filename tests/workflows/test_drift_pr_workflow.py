"""drift-pr.yml: accepted drift as one rolling pull request per opted-in tenant.

Its invariants (who may write, what holds a secret, what gets committed) are checked on the file,
the checker is shown to refuse broken copies, and its select, discover and pull-request scripts
run for real: discover against the emulator through `invoke` (a shim adds --endpoints), the pull
request step against a local bare repository with a stand-in `gh` that records its calls.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import BIN, EXAMPLE, REPO
from support.clients import share_client
from test_drift_workflow import _run_step, _step, needs_shell
from workflow_rules import (
    PR_WRITER_PERMISSIONS,
    is_apply_job,
    is_tenant_job,
    load_workflow,
    workflow_problems,
)

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.seed import storage_account_name
from provision.inventory.load import load_inventory

DRIFT_PR = REPO / ".github" / "workflows" / "drift-pr.yml"
VT_KEY = "DEMO-vt-key-pasted-by-dave-5512"


def test_opt_in_per_tenant_and_only_the_pull_request_job_writes() -> None:
    doc = load_workflow(DRIFT_PR)
    assert set(doc["on"]) == {"schedule", "workflow_dispatch"}  # never a pull request's code
    assert doc["permissions"] == {}
    jobs = doc["jobs"]
    assert jobs["select"]["if"] == "vars.DRIFT_PR_TENANTS != ''"
    assert "${{ vars.DRIFT_PR_TENANTS }}" in json.dumps(_step(jobs["select"], "select tenants"))
    writers = {
        name for name, job in jobs.items() if "write" in (job.get("permissions") or {}).values()
    }
    assert writers == {"discover", "pull-requests"}
    assert jobs["pull-requests"]["permissions"] == PR_WRITER_PERMISSIONS
    assert jobs["discover"]["permissions"] == {"id-token": "write", "contents": "read"}
    assert not any(is_apply_job(job) for job in jobs.values())
    assert "secrets." not in DRIFT_PR.read_text(encoding="utf-8")


def test_discover_uses_the_read_identity_and_never_writes_a_secret_file() -> None:
    job = load_workflow(DRIFT_PR)["jobs"]["discover"]
    assert is_tenant_job(job)
    assert job["environment"] == "${{ matrix.tenant }}-drift"  # drift.yml's read identity
    run = _step(job, "discover")["run"]
    assert "invoke discover" in run and "--replace --env-prefix" in run
    assert "--secrets-dir" not in run and " -s " not in run
    assert all("--no-secret-values" in line for line in run.splitlines() if "invoke plan" in line)


def test_the_pull_request_job_commits_the_inventory_alone_after_validating_it() -> None:
    job = load_workflow(DRIFT_PR)["jobs"]["pull-requests"]
    assert not is_tenant_job(job) and "environment" not in job
    run = _step(job, "open or refresh one pull request per tenant")["run"]
    assert run.index("invoke validate") < run.index("git commit")
    assert "git commit --quiet -m" in run and '-- "$INVENTORY"' in run
    assert "git add" not in run and "commit -a" not in run
    assert "git apply --numstat" in run  # a patch touching any other file is refused


def _broken(change: Any) -> list[str]:
    doc = copy.deepcopy(load_workflow(DRIFT_PR))
    change(doc)
    return workflow_problems(doc)


def test_the_checker_refuses_a_pull_request_writer_that_could_leak() -> None:
    def secret(doc: dict[str, Any]) -> None:
        steps = doc["jobs"]["pull-requests"]["steps"]
        steps[-1]["env"]["VT_KEY"] = "${{ secrets.VT_KEY }}"

    def login(doc: dict[str, Any]) -> None:  # the discover job's sign-in (--auth github-oidc)
        doc["jobs"]["pull-requests"]["env"] = copy.deepcopy(doc["jobs"]["discover"]["env"])

    def on_pull_requests(doc: dict[str, Any]) -> None:
        doc["on"]["pull_request"] = None

    def writer_discovers(doc: dict[str, Any]) -> None:
        doc["jobs"]["discover"]["permissions"] = {**PR_WRITER_PERMISSIONS, "id-token": "write"}

    where = "job pull-requests (contents and pull-requests write)"
    assert f"{where}: references a secret" in _broken(secret)
    assert f"{where}: holds an Azure identity or a tenant environment" in _broken(login)
    assert f"{where}: the workflow runs for ['pull_request']" in _broken(on_pull_requests)
    assert "job discover: permissions grant contents: write" in _broken(writer_discovers)
    assert workflow_problems(load_workflow(DRIFT_PR)) == []


@needs_shell
def test_select_takes_only_the_opted_in_tenants(tmp_path: Path) -> None:
    step = _step(load_workflow(DRIFT_PR)["jobs"]["select"], "select tenants")
    base = {"INVENTORY": str(EXAMPLE)}
    proc, out = _run_step(step, {**base, "OPTED_IN": "fabrikam", "TENANT": "all"}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out["matrix"]) == {"include": [{"tenant": "fabrikam"}]}
    proc, _ = _run_step(step, {**base, "OPTED_IN": "fabrikam", "TENANT": "contoso"}, tmp_path)
    assert proc.returncode == 1
    assert "must be one of DRIFT_PR_TENANTS" in proc.stdout
    proc, _ = _run_step(step, {**base, "OPTED_IN": "fab;rm", "TENANT": "all"}, tmp_path)
    assert proc.returncode == 1


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def _shims(folder: Path, endpoints: Path, calls: Path, open_pr: str) -> Path:
    """`invoke` that finds the repository's tasks and talks to the emulator; `gh` that records
    its calls and answers `pr list` with `open_pr` (a number, or nothing)."""
    folder.mkdir(exist_ok=True)
    invoke = folder / "invoke"
    invoke.write_text(
        f'#!/bin/sh\ncase "$1" in discover|plan) exec "{BIN / "invoke"}" --search-root "{REPO}" '
        f'"$@" --endpoints "{endpoints}";;\n*) exec "{BIN / "invoke"}" --search-root "{REPO}" '
        '"$@";;\nesac\n',
        encoding="utf-8",
    )
    gh = folder / "gh"
    gh.write_text(
        f'#!/bin/sh\necho "$@" >> "{calls}"\n'
        f'if [ "$1 $2" = "pr list" ]; then echo "{open_pr}"; fi\n',
        encoding="utf-8",
    )
    invoke.chmod(0o755)
    gh.chmod(0o755)
    return folder


@needs_shell
@pytest.mark.slow
def test_a_plaintext_key_on_the_share_becomes_a_rolling_pull_request_without_its_value(
    tmp_path: Path,
) -> None:
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    _git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(origin))
    _git(tmp_path, "init", "--quiet", "-b", "main", str(work))
    shutil.copy(EXAMPLE, work / "inventory.yaml")
    shutil.copytree(EXAMPLE.parent / "secrets", work / "secrets")
    _git(work, "add", ".")
    _git(work, "commit", "--quiet", "-m", "fleet")
    _git(work, "remote", "add", "origin", str(origin))
    _git(work, "push", "--quiet", "origin", "main")
    inventory = load_inventory(work / "inventory.yaml")
    jobs = load_workflow(DRIFT_PR)["jobs"]
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(inventory))
        onboard = subprocess.run(
            [str(BIN / "invoke"), "onboard", "-i", str(work / "inventory.yaml"),
             "--endpoints", str(emu.endpoints_file)],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert onboard.returncode == 0, onboard.stdout + onboard.stderr
        # both of fabrikam's analysts paste the same VirusTotal key over the vault reference
        share = share_client(emu, storage_account_name(seed_tenants_from_inventory(inventory)[1]))
        for alias in ("dave", "erin"):
            client = share.get_file_client(f"Users/{alias}/msticpyconfig.yaml")
            cfg = yaml.safe_load(client.download_file().readall())
            cfg["TIProviders"]["VirusTotal"]["Args"]["AuthKey"] = VT_KEY
            client.upload_file(yaml.safe_dump(cfg, sort_keys=False).encode())

        calls = tmp_path / "gh-calls.txt"
        shims = _shims(tmp_path / "bin", emu.endpoints_file, calls, open_pr="")
        env = {"INVENTORY": "inventory.yaml", "TENANT": "fabrikam"}
        discover = dict(_step(jobs["discover"], "discover"))
        discover["run"] = f'cd "{work}"\n' + discover["run"]
        proc, _ = _run_step(discover, env, tmp_path, path_first=shims)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "runner_temp" / "drift-pr" / "fabrikam"
    patch = (out / "inventory.patch").read_text(encoding="utf-8")
    found = (out / "discover.txt").read_text(encoding="utf-8")
    changed = [ln for ln in patch.splitlines()[4:] if ln[:1] in "+-"]
    assert changed == [  # the one setting that changed; the rest as the admin wrote it
        '-        args: {auth_key: "file:secrets/fabrikam-virustotal.txt"}',
        "+        primary: true",
        "+        args:",
        "+          auth_key: env:FABRIKAM_TIPROVIDERS_VIRUSTOTAL_ARGS_AUTHKEY",
    ]
    assert (
        "FABRIKAM_TIPROVIDERS_VIRUSTOTAL_ARGS_AUTHKEY  (TIProviders.VirusTotal.Args.AuthKey)"
        in (found)
    )
    everything = patch + found + (out / "plan.txt").read_text() + proc.stdout + proc.stderr
    assert VT_KEY not in everything
    assert sorted(p.name for p in out.iterdir()) == ["discover.txt", "inventory.patch", "plan.txt"]
    _git(work, "checkout", "--quiet", "--", "inventory.yaml")  # the next job's fresh checkout

    step = dict(_step(jobs["pull-requests"], "open or refresh one pull request per tenant"))
    step["run"] = f'cd "{work}"\n' + step["run"]
    env = {"INVENTORY": "inventory.yaml", "GH_TOKEN": "not-a-token", "BASE": "main"}
    for attempt, open_pr in enumerate(("", "17")):
        _git(work, "checkout", "--quiet", "main")  # each run starts from a fresh checkout
        _shims(tmp_path / "bin", emu.endpoints_file, calls, open_pr)
        proc, _ = _run_step(step, env, tmp_path, path_first=shims)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert _git(origin, "diff", "--name-only", "main", "drift/fabrikam") == "inventory.yaml\n"
        assert _git(origin, "rev-list", "--count", "main..drift/fabrikam") == "1\n"
        committed = _git(origin, "show", "drift/fabrikam:inventory.yaml")
        assert "env:FABRIKAM_TIPROVIDERS_VIRUSTOTAL_ARGS_AUTHKEY" in committed
        assert VT_KEY not in committed
        recorded = calls.read_text(encoding="utf-8").splitlines()
        body = tmp_path / "runner_temp" / "body-fabrikam.md"
        assert VT_KEY not in body.read_text(encoding="utf-8")
        assert "FABRIKAM_TIPROVIDERS_VIRUSTOTAL_ARGS_AUTHKEY" in body.read_text(encoding="utf-8")
        if attempt == 0:
            assert recorded[-1] == (
                f"pr create --head drift/fabrikam --base main --title drift: fabrikam "
                f"--body-file {body}"
            )
        else:  # the rolling pull request is refreshed, not opened again
            assert recorded[-1] == f"pr edit 17 --body-file {body}"
