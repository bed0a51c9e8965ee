"""The end of the quick start: how many analysts can use their notebooks, and for the others the
steps left with their commands; the totals agree with the per-tenant lines; setup notes that
repeat on every run are not repeated in the tables.

Run through the console script from a folder outside the clone, as an admin would.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import EXAMPLE, REPO, run_console

from provision.inventory.load import load_inventory
from provision.render import STARTUP_SCRIPT, render_tenants


def run_tool(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_console(*args, cwd=cwd)


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    return tmp_path / "fleet" / "inventory.yaml"


def startup_sha(inventory: Path, tenant: str, alias: str) -> str:
    inv = load_inventory(inventory)
    (r,) = render_tenants(inv, [tenant], None)
    return hashlib.sha256(r.user_files[alias][STARTUP_SCRIPT].content).hexdigest()


def test_onboard_ends_with_ready_analysts_and_the_commands_left(
    tmp_path: Path, fleet: Path
) -> None:
    res = run_tool(tmp_path, "onboard", "-i", str(fleet), "--local")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    # The example: alice, carol.jones and dave have no object_id, bob and erin lack vault access,
    # and every seeded instance runs no startup script.
    assert "  contoso: ok — 0/3 analysts ready  (15 items read back)" in out
    assert "  fabrikam: ok — 0/2 analysts ready  (10 items read back)" in out
    steps = out.split("\nNext steps:\n", 1)[1]
    assert f"msticpy-provision apply -i {fleet} -t contoso --grant-access" in steps
    assert f"msticpy-provision apply -i {fleet} -t fabrikam --grant-access" in steps
    grant = steps.index("grant read access to the vault [bob]")
    assert steps.index("--grant-access", grant) > grant
    # existing instances: one line for the instance's terminal, pinned to the rendered script
    for tenant, alias in [("contoso", "alice"), ("contoso", "bob"), ("fabrikam", "erin")]:
        line = next(x for x in steps.splitlines() if f"/Users/{alias}/{STARTUP_SCRIPT}" in x)
        assert startup_sha(fleet, tenant, alias) in line
        assert "sha256sum -c" in line and 'sudo bash "$f"' in line
    assert "object_id" in steps and "az ad user show" in steps


def test_applied_totals_come_before_the_per_tenant_lines_they_add_up(
    tmp_path: Path, fleet: Path
) -> None:
    out = run_tool(tmp_path, "onboard", "-i", str(fleet), "--local").stdout
    lines = out.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("Applied: "))
    total = int(re.search(r"Applied: (\d+) created", lines[at]).group(1))  # type: ignore[union-attr]
    per_tenant = [re.search(r"\(\+(\d+) ~", x) for x in lines[at + 1 : at + 3]]
    assert total == 25
    assert sum(int(m.group(1)) for m in per_tenant if m) == total
    assert lines[at + 3].startswith("Verify: 2 of 2 tenants match")


@pytest.mark.slow  # several runs against the local emulator
def test_setup_notes_are_shown_once_then_counted(tmp_path: Path, fleet: Path) -> None:
    first = run_tool(tmp_path, "plan", "-i", str(fleet), "--local")
    assert "  note: file share access: Shared Key (storage account key)" in first.stdout
    assert run_tool(tmp_path, "apply", "-i", str(fleet), "--local").returncode == 0
    again = run_tool(tmp_path, "plan", "-i", str(fleet), "--local")
    assert "file share access" not in again.stdout
    assert "  (3 setup notes: shown when the tenant has changes, and in --json)" in again.stdout
    doc = json.loads(run_tool(tmp_path, "plan", "-i", str(fleet), "--local", "--json").stdout)
    contoso = next(t for t in doc["tenants"] if t["tenant"] == "contoso")
    assert "file share access: Shared Key (storage account key)" in contoso["notes"]


@pytest.mark.slow  # several runs against the local emulator
def test_json_carries_readiness_and_a_grant_clears_its_step(tmp_path: Path, fleet: Path) -> None:
    run_tool(tmp_path, "apply", "-i", str(fleet), "--local")
    doc = json.loads(run_tool(tmp_path, "plan", "-i", str(fleet), "--local", "--json").stdout)
    ready = {t["tenant"]: t["readiness"] for t in doc["tenants"]}
    assert ready["contoso"]["analysts"] == 3 and ready["contoso"]["ready"] == 0
    keys = {(s["step"], tuple(s["users"])) for s in ready["contoso"]["steps"]}
    assert ("grant-access", ("bob",)) in keys
    assert ("object-id", ("alice", "carol.jones")) in keys
    assert ("patch-kernels", ("bob",)) in keys
    granted = run_tool(tmp_path, "apply", "-i", str(fleet), "--local", "--grant-access", "--json")
    after = {t["tenant"]: t["readiness"] for t in json.loads(granted.stdout)["tenants"]}
    assert not [s for s in after["contoso"]["steps"] if s["step"] == "grant-access"]
    # bob still waits for his kernels
    assert [s["users"] for s in after["contoso"]["steps"] if s["step"] == "patch-kernels"][1] == [
        "bob"
    ]


def test_tables_end_no_line_with_spaces_when_piped(tmp_path: Path, fleet: Path) -> None:
    out = run_tool(tmp_path, "plan", "-i", str(fleet), "--local").stdout
    assert [x for x in out.splitlines() if x != x.rstrip()] == []
    assert "across 2 tenants" in out
    one = run_tool(tmp_path, "plan", "-i", str(fleet), "--local", "-t", "contoso").stdout
    assert "across 1 tenant;" in one


def test_the_readmes_quick_start_output_is_what_onboard_prints(tmp_path: Path) -> None:
    """README.md shows the end of the quick start: each line it shows (but `...`), in order, is a
    line onboard prints, the SHA-256 written as <sha256>."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    quick = text[text.index("## Quick start") : text.index("## Adopting")]
    shown = quick.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    # from the clone's root, as the quick start runs it (its state in a folder of its own)
    res = run_console(
        "onboard", "-i", "examples/inventory.yaml", "--local",
        cwd=REPO, env={"MSTICPY_PROVISION_LOCAL_DIR": str(tmp_path / "local")},
    )  # fmt: skip
    printed = [
        re.sub(r'echo "[0-9a-f]{64}  ', 'echo "<sha256>  ', x) for x in res.stdout.splitlines()
    ]
    at = 0
    for line in shown:
        if line.strip() == "...":
            continue
        assert line in printed[at:], line
        at = printed.index(line, at) + 1
    assert shown[-1].strip() == "..." or at == len(printed)
