"""drift.yml and secret expiry: a secret expiring in 10 days is in the plan step's JSON report and
becomes one warning annotation of the next step; once expired, the plan step fails and the
annotation is an error. Both steps' scripts run from the workflow file, against the emulator."""

from __future__ import annotations

import json
import shutil
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support import BIN, EXAMPLE, run_invoke
from test_drift_workflow import DRIFT, _run_step, _step, needs_shell
from workflow_rules import load_workflow

from provision import clock
from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.inventory.load import load_inventory

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
OTX = "kv-contoso-nb/TIProviders-OTX-Args-AuthKey"


def _at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setenv(clock.NOW_ENV, when.strftime("%Y-%m-%dT%H:%M:%SZ"))


@pytest.mark.slow  # an apply and two plans of the example fleet
@needs_shell
def test_an_expiring_secret_is_a_warning_and_an_expired_one_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    inventory = tmp_path / "fleet" / "inventory.yaml"
    text = inventory.read_text(encoding="utf-8")
    text = text.replace(
        'args: {auth_key: "file:secrets/contoso-otx.txt"}',
        'args: {auth_key: {ref: "file:secrets/contoso-otx.txt", expires_in: P10D}}',
    )
    inventory.write_text(text, encoding="utf-8")
    job = load_workflow(DRIFT)["jobs"]["plan"]
    plan_step, annotate = _step(job, "plan"), _step(job, "annotate expiring secrets")
    assert annotate["if"] == "always()"  # also after an expired secret failed the plan
    _at(monkeypatch, T0)
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(inventory)))
        ep = str(emu.endpoints_file)
        applied = run_invoke("apply", "-i", str(inventory), "--endpoints", ep)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        shim = tmp_path / "shim"
        shim.mkdir()
        (shim / "invoke").write_text(
            f'#!/bin/sh\nexec "{BIN / "invoke"}" "$@" --endpoints "{ep}"\n', encoding="utf-8"
        )
        (shim / "invoke").chmod(stat.S_IRWXU)
        env = {
            "TENANT": "contoso",
            "INVENTORY": str(inventory),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        }

        planned, _ = _run_step(plan_step, env, tmp_path, path_first=shim)
        assert planned.returncode == 0, planned.stdout + planned.stderr  # no drift
        report = json.loads((tmp_path / "runner_temp" / "plan.json").read_text())
        assert [(e["vault"] + "/" + e["secret"], e["days_left"]) for e in report["expiring"]] == [
            (OTX, 10.0)
        ]
        annotated, _ = _run_step(annotate, env, tmp_path)
        assert annotated.returncode == 0, annotated.stderr
        assert annotated.stdout.splitlines() == [
            "::warning title=secret expiring contoso::"
            f"{OTX} (source file:secrets/contoso-otx.txt) expires 2026-12-11T08:00:00Z, "
            "in 10 days"
        ]
        summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
        assert "secrets expiring or expired (1)" in summary

        _at(monkeypatch, T0 + timedelta(days=11))
        expired, _ = _run_step(plan_step, env, tmp_path, path_first=shim)
        assert expired.returncode == 1
        annotated, _ = _run_step(annotate, env, tmp_path)
        (line,) = annotated.stdout.splitlines()
        assert line.startswith(f"::error title=secret expired contoso::{OTX} (source file:")
        assert "in -1 days" in line


@needs_shell
def test_annotations_escape_what_would_start_another_workflow_command(tmp_path: Path) -> None:
    """A `file:` path may hold a line break or `%` (the inventory refuses only NUL): each entry
    stays one annotation, with GitHub's workflow-command escapes (%25, %0D, %0A; in the title
    also %3A and %2C)."""
    annotate = _step(load_workflow(DRIFT)["jobs"]["plan"], "annotate expiring secrets")
    (tmp_path / "runner_temp").mkdir()
    entry = {
        "tenant": "contoso",
        "vault": "kv-contoso-nb",
        "secret": "TIProviders-OTX-Args-AuthKey",
        "source": "file:x\n::error::forged 100%\r",
        "expires": "2026-12-11T08:00:00Z",
        "days_left": 9.5,
        "expired": False,
    }
    (tmp_path / "runner_temp" / "plan.json").write_text(json.dumps({"expiring": [entry]}))
    out, _ = _run_step(annotate, {}, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "::warning title=secret expiring contoso::kv-contoso-nb/TIProviders-OTX-Args-AuthKey "
        "(source file:x%0A::error::forged 100%25%0D) expires 2026-12-11T08:00:00Z, in 9.5 days"
    ]
    (tmp_path / "runner_temp" / "plan.json").write_text("error: not a report\n")
    none, _ = _run_step(annotate, {}, tmp_path)
    assert none.returncode == 0 and none.stdout == "no plan report to read\n"
