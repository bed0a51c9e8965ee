"""drift.yml: what it runs, and the selection and drift-report logic it relies on, run for real.

The select step's shell script (from the workflow file itself) runs against a generated fleet;
the plan step's script runs against the emulator through `invoke`, with a GitHub step summary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import BIN, EXAMPLE, REPO
from support.clients import secret_client
from workflow_rules import is_apply_job, load_workflow

from provision.devtools.fleet import write_fleet
from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.inventory.load import load_inventory

WORKFLOWS = REPO / ".github" / "workflows"
DRIFT = WORKFLOWS / "drift.yml"
ONBOARD = WORKFLOWS / "onboard.yml"
BASH = shutil.which("bash")
JQ = shutil.which("jq")
needs_shell = pytest.mark.skipif(BASH is None or JQ is None, reason="needs bash and jq")


def _step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s.get("name") == name)


def _run_step(
    step: dict[str, Any], env: dict[str, str], tmp: Path, path_first: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run a workflow step's script with bash as a runner would (-e, pipefail); return its
    result and what it wrote to $GITHUB_OUTPUT."""
    assert BASH is not None
    output = tmp / "github_output"
    output.write_text("")
    runner_temp = tmp / "runner_temp"
    runner_temp.mkdir(exist_ok=True)
    path = os.pathsep.join(
        [*([str(path_first)] if path_first else []), str(BIN), os.environ.get("PATH", "")]
    )
    proc = subprocess.run(
        [BASH, "--noprofile", "--norc", "-eo", "pipefail", "-c", str(step["run"])],
        cwd=REPO,
        env={
            **os.environ,
            "PATH": path,
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_OUTPUT": str(output),
            **env,
        },
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc, outputs


def test_drift_plans_every_tenant_daily_with_its_own_identity() -> None:
    doc = load_workflow(DRIFT)
    assert set(doc["on"]) == {"schedule", "workflow_dispatch"}
    assert len(doc["on"]["schedule"]) == 4
    plan = doc["jobs"]["plan"]
    assert not is_apply_job(plan)
    # its own environment (main only, values compared), not the pull requests' (no secrets)
    assert plan["environment"] == "${{ matrix.tenant }}-drift"
    assert "fromJSON(needs.select.outputs.matrix)" in plan["strategy"]["matrix"]
    run = _step(plan, "plan")["run"]
    assert re.search(r"invoke plan .*--prune --detailed-exitcode", run)
    assert "invoke apply" not in DRIFT.read_text()
    # The same env:NAME secrets as onboard.yml's apply step (one list to keep in step).
    onboard_apply = next(
        s
        for s in load_workflow(ONBOARD)["jobs"]["apply"]["steps"]
        if "invoke apply" in s.get("run", "")
    )
    secrets = {k: v for k, v in onboard_apply["env"].items() if "secrets." in v}
    assert {k: v for k, v in _step(plan, "plan")["env"].items() if "secrets." in v} == secrets


@needs_shell
def test_the_four_schedules_select_every_tenant_exactly_once(tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path / "fleet", tenants=9, users=1)
    names = [t.name for t in load_inventory(fleet.path).tenants]
    doc = load_workflow(DRIFT)
    select = _step(doc["jobs"]["select"], "select tenants")
    seen: list[str] = []
    for entry in doc["on"]["schedule"]:
        env = {"EVENT": "schedule", "SCHEDULE": entry["cron"], "INVENTORY": str(fleet.path)}
        proc, out = _run_step(select, env, tmp_path)
        assert proc.returncode == 0, proc.stderr
        matrix = json.loads(out["matrix"])
        assert int(out["count"]) == len(matrix["include"]) > 0
        seen += [job["tenant"] for job in matrix["include"]]
    assert sorted(seen) == sorted(names)

    one, out = _run_step(
        select,
        {"EVENT": "workflow_dispatch", "TENANT": names[3], "INVENTORY": str(fleet.path)},
        tmp_path,
    )
    assert one.returncode == 0 and out["matrix"] == f'{{"include":[{{"tenant":"{names[3]}"}}]}}'
    bad, _ = _run_step(
        select,
        {"EVENT": "workflow_dispatch", "TENANT": "x; rm -rf /", "INVENTORY": str(fleet.path)},
        tmp_path,
    )
    assert bad.returncode == 1 and "::error::the tenant input" in bad.stdout
    odd, _ = _run_step(
        select,
        {"EVENT": "schedule", "SCHEDULE": "0 0 * * *", "INVENTORY": str(fleet.path)},
        tmp_path,
    )
    assert odd.returncode == 1 and "is not one of the four parts" in odd.stdout


@needs_shell
def test_a_rotated_secret_is_drift_in_the_summary_and_an_annotation(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    inventory = tmp_path / "fleet" / "inventory.yaml"
    plan_step = _step(load_workflow(DRIFT)["jobs"]["plan"], "plan")
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(inventory)))
        ep = str(emu.endpoints_file)
        applied = subprocess.run(
            [str(BIN / "invoke"), "apply", "-i", str(inventory), "--endpoints", ep],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr
        # Someone rotates a key in the vault by hand: git cannot see it, plan can.
        secret_client(emu, "kv-fabrikam-nb").set_secret(
            "TIProviders-AbuseIPDB-Args-AuthKey", "ROTATED-BY-HAND-0001"
        )
        # The workflow's `invoke`, pointed at the emulator instead of Azure.
        shim = tmp_path / "shim"
        shim.mkdir()
        (shim / "invoke").write_text(
            f'#!/bin/sh\nexec "{BIN / "invoke"}" "$@" --endpoints "{ep}"\n', encoding="utf-8"
        )
        (shim / "invoke").chmod(stat.S_IRWXU)
        results = {}
        for tenant in ("fabrikam", "contoso"):
            summary = tmp_path / f"summary-{tenant}.md"
            env = {
                "TENANT": tenant,
                "INVENTORY": str(inventory),
                "GITHUB_STEP_SUMMARY": str(summary),
            }
            proc, _ = _run_step(plan_step, env, tmp_path, path_first=shim)
            results[tenant] = (proc, summary.read_text(encoding="utf-8"))

    drifted, summary = results["fabrikam"]
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    warnings = [ln for ln in drifted.stdout.splitlines() if ln.startswith("::warning")]
    assert len(warnings) == 1 and "title=drift fabrikam::" in warnings[0]
    assert "kv-fabrikam-nb/TIProviders-AbuseIPDB-Args-AuthKey | update | value differs" in summary
    assert "ROTATED-BY-HAND" not in summary + drifted.stdout + drifted.stderr
    clean, clean_summary = results["contoso"]
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "::warning" not in clean.stdout
    assert "0 to create, 0 to update, 0 to delete" in clean_summary
