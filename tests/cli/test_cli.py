"""The command line as an admin meets it: console script, help, JSON, clear one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from support import BIN, EXAMPLE, run_invoke


def test_console_script_runs_the_same_tasks_outside_the_checkout(tmp_path: Path) -> None:
    listed = subprocess.run(
        [str(BIN / "msticpy-provision"), "--list"],
        cwd=tmp_path,
        text=True,
        capture_output=True,
        check=False,
    )
    assert listed.returncode == 0
    for name in (
        "validate",
        "render",
        "plan",
        "apply",
        "verify",
        "onboard",
        "patch-kernel",
        "create-compute",
        "emulator",
        "matrix",
        "bench",
    ):
        assert name in listed.stdout
    ok = subprocess.run(
        [str(BIN / "msticpy-provision"), "validate", "-i", str(EXAMPLE)],
        cwd=tmp_path,
        text=True,
        capture_output=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr


def test_every_flag_is_explained_in_help() -> None:
    for task in ("validate", "render", "plan", "apply", "onboard", "patch-kernel", "matrix"):
        res = run_invoke("--help", task)
        assert res.returncode == 0
        # a flag's line starts in the flags' column (a wrapped help line is indented further)
        lines = [ln for ln in res.stdout.splitlines() if re.match(r"  -", ln)]
        assert lines, task
        for line in lines:
            flag, _, text = line.strip().partition("  ")
            assert text.strip(), f"{task}: {flag} has no help text"


def test_validate_json_lists_tenants_secrets_and_files() -> None:
    res = run_invoke("validate", "-i", str(EXAMPLE), "--json")
    assert res.returncode == 0
    doc = json.loads(res.stdout)
    assert doc["ok"] is True
    contoso = doc["tenants"][0]
    assert contoso["tenant"] == "contoso" and contoso["users"] == ["alice", "bob", "carol.jones"]
    assert {
        "vault": "kv-contoso-nb",
        "name": "TIProviders-VirusTotal-Args-AuthKey",
        "source": "file:secrets/contoso-virustotal.txt",
    } in contoso["secrets"]
    bad = run_invoke("validate", "-i", str(Path(__file__)), "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["ok"] is False


def test_unknown_tenant_is_named_with_a_suggestion() -> None:
    res = run_invoke("plan", "-i", str(EXAMPLE), "-t", "contosso", "--local")
    assert res.returncode == 1
    assert "no tenant named 'contosso' (did you mean 'contoso'?)" in res.stderr
    assert "Traceback" not in res.stderr


def test_local_and_endpoints_exclude_each_other(tmp_path: Path) -> None:
    res = run_invoke("plan", "-i", str(EXAMPLE), "--local", "--endpoints", str(tmp_path / "e"))
    assert res.returncode == 1 and "--local and --endpoints exclude each other" in res.stderr


def test_bad_endpoints_file_is_one_clear_line(tmp_path: Path) -> None:
    missing = run_invoke("plan", "-i", str(EXAMPLE), "--endpoints", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and "endpoints file not found" in missing.stderr
    (tmp_path / "bad.json").write_text('{"arm": 1}')
    bad = run_invoke("plan", "-i", str(EXAMPLE), "--endpoints", str(tmp_path / "bad.json"))
    assert bad.returncode == 1 and "not an emulator endpoints file" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr


def test_plan_needs_every_secret_source_and_names_the_missing_ones(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(EXAMPLE.read_text().replace('"file:secrets/', '"file:missing/'))
    res = run_invoke("plan", "-i", str(inv), "--local")
    assert res.returncode == 1
    assert res.stderr.count("does not exist") == 10  # every missing file, in one run
    assert "Traceback" not in res.stderr
