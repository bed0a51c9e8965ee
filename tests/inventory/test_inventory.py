"""The inventory: every problem at once, one line each, FILE:LINE first, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import EXAMPLE, run_invoke

from provision.errors import UserInputError
from provision.inventory.load import load_inventory

BROKEN = Path(__file__).parent / "broken"
CASES = sorted(p.stem for p in BROKEN.glob("*.yaml"))


def test_example_inventory_is_valid() -> None:
    inv = load_inventory(EXAMPLE)
    assert [t.name for t in inv.tenants] == ["contoso", "fabrikam"]
    contoso = inv.tenants[0]
    assert [ws.name for ws in contoso.sentinel] == ["ContosoProd", "ContosoDev"]
    assert contoso.default_workspace.name == "ContosoProd"
    names = [u.compute_name for u in contoso.user_list]  # defaults: alias + tenant hash
    assert names[0].startswith("alice-") and names[1].startswith("bob-")
    assert names[2] == "carol-hunting"


def test_defaults_merge_and_tenant_value_wins(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("  kernel_mode: kernel ", "  kernel_mode: nbuser ")
    text = text.replace("  - name: fabrikam\n", "  - name: fabrikam\n    kernel_mode: kernel\n")
    p = tmp_path / "inventory.yaml"
    p.write_text(text)
    inv = load_inventory(p)
    assert [t.kernel_mode for t in inv.tenants] == ["nbuser", "kernel"]
    # defaults.autoload.components merged key by key with the tenant's own components
    comps = inv.tenants[0].autoload.components
    assert comps.TILookup is not None and comps.Notebooklets


@pytest.mark.parametrize("case", CASES)
def test_broken_inventory_names_file_line_and_problem(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(BROKEN)
    line, expected = (BROKEN / f"{case}.expect").read_text().split("\n")[:2]
    with pytest.raises(UserInputError) as info:
        load_inventory(f"{case}.yaml")
    lines = info.value.lines()
    assert any(ln.startswith(f"{case}.yaml:{line}: ") and expected in ln for ln in lines), lines
    assert all("\n" not in ln for ln in lines)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


def test_all_problems_reported_in_one_run(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    text = text.replace("72f988bf-86f1-41af-91ab-2d7cd011db47", "not-a-guid", 1)
    text = text.replace("users:                     # AML", "userz:                     # AML")
    text = text.replace("ml_workspace: mlw-fabrikam", "ml_workspace: x")
    p = tmp_path / "inv.yaml"
    p.write_text(text)
    with pytest.raises(UserInputError) as info:
        load_inventory(p)
    joined = "\n".join(info.value.lines())
    assert "tenants[0].tenant_id: not a GUID" in joined
    assert "tenants[0].userz: unknown key (did you mean 'users'?)" in joined
    assert "tenants[1].ml_workspace: invalid" in joined


def test_literal_secret_value_is_never_echoed(tmp_path: Path) -> None:
    secret = "sk-LIVE-8f3e0c2d9b1a"
    text = EXAMPLE.read_text().replace('"file:secrets/contoso-otx.txt"', f'"{secret}"')
    p = tmp_path / "inv.yaml"
    p.write_text(text)
    with pytest.raises(UserInputError) as info:
        load_inventory(p)
    assert secret not in str(info.value)
    assert "never literal values" in str(info.value)


def test_oversized_file_fails_fast(tmp_path: Path) -> None:
    p = tmp_path / "huge.yaml"
    p.write_text("version: 1\n# " + "x" * (2 * 1024 * 1024) + "\n")
    with pytest.raises(UserInputError, match="larger than 1024 KiB"):
        load_inventory(p)


def test_validate_task_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    ok = run_invoke("validate", "-i", str(EXAMPLE))
    assert ok.returncode == 0, ok.stderr
    assert "2 tenants" in ok.stdout
    shutil.copy(BROKEN / "bad_tenant_guid.yaml", tmp_path / "inv.yaml")
    bad = run_invoke("validate", "-i", str(tmp_path / "inv.yaml"))
    assert bad.returncode == 1
    assert f"{tmp_path / 'inv.yaml'}:4: tenants[0].tenant_id: not a GUID" in bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout
    missing = run_invoke("validate", "-i", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "inventory not found" in missing.stderr


def test_validate_check_secrets_reports_every_missing_source(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    text = text.replace('"file:secrets/contoso-otx.txt"', '"env:MP_TEST_UNSET_OTX"')
    text = text.replace('"file:secrets/fabrikam-ipstack.txt"', '"file:secrets/nope.txt"')
    (tmp_path / "secrets").mkdir()
    for f in (EXAMPLE.parent / "secrets").iterdir():
        shutil.copy(f, tmp_path / "secrets" / f.name)
    p = tmp_path / "inv.yaml"
    p.write_text(text)
    assert run_invoke("validate", "-i", str(p)).returncode == 0  # structure needs no secrets
    res = run_invoke("validate", "-i", str(p), "--check-secrets")
    assert res.returncode == 1
    assert "environment variable MP_TEST_UNSET_OTX is not set" in res.stderr
    assert "nope.txt does not exist" in res.stderr
    assert "DEMO-NOT-A-REAL-KEY" not in res.stderr + res.stdout
