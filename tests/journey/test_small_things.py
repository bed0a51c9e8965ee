"""Small things an admin meets on the way: each a line of code or docs, held here."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from support import EXAMPLE, REPO, run_invoke

from provision.inventory.load import load_inventory
from provision.msticpy_contract.settings import TI_PROVIDER_IDS, build_msticpyconfig


def test_the_docs_say_which_providers_are_primary_when_left_out() -> None:
    text = (REPO / "docs" / "inventory.md").read_text(encoding="utf-8")
    said = re.search(r"`primary` left out is .*?: true for (.*?), false for the others", text)
    assert said is not None
    assert set(re.findall(r"`(\w+)`", said.group(1))) == {
        name for name, (_, primary) in TI_PROVIDER_IDS.items() if primary
    }
    # and the example's VirusTotal, with primary left out in fabrikam, renders Primary: true
    fabrikam = load_inventory(EXAMPLE).select(["fabrikam"])[0]
    assert build_msticpyconfig(fabrikam)["TIProviders"]["VirusTotal"]["Primary"] is True


def fleet_copy(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    for f in (tmp_path / "fleet" / "secrets").iterdir():
        f.chmod(0o600)
    return tmp_path / "fleet" / "inventory.yaml"


def line_of(inventory: Path, text: str) -> int:
    lines = inventory.read_text(encoding="utf-8").splitlines()
    return next(n for n, x in enumerate(lines, start=1) if text in x)


def test_plain_validate_names_a_missing_secret_file_and_hints_check_secrets(
    tmp_path: Path,
) -> None:
    inv = fleet_copy(tmp_path)
    (inv.parent / "secrets" / "contoso-otx.txt").unlink()
    res = run_invoke("validate", "-i", str(inv))
    assert res.returncode == 0  # a warning: validate checks no value without --check-secrets
    line = line_of(inv, "file:secrets/contoso-otx.txt")
    assert res.stderr.splitlines() == [
        f"warning: {inv}:{line}: file:secrets/contoso-otx.txt: secret file "
        f"{inv.parent / 'secrets' / 'contoso-otx.txt'} does not exist; plan and apply will stop "
        "(validate --check-secrets resolves every source)"
    ]


def test_a_secret_source_error_has_file_and_line(tmp_path: Path) -> None:
    inv = fleet_copy(tmp_path)
    (inv.parent / "secrets" / "contoso-otx.txt").unlink()
    res = run_invoke("validate", "-i", str(inv), "--check-secrets")
    assert res.returncode == 1
    line = line_of(inv, "file:secrets/contoso-otx.txt")
    assert res.stderr.strip().splitlines() == [
        f"error: {inv}:{line}: secret file {inv.parent / 'secrets' / 'contoso-otx.txt'} does not "
        "exist (used by tenant contoso, TIProviders.OTX.Args.AuthKey)"
    ]


def test_a_world_readable_secret_file_is_a_warning(tmp_path: Path) -> None:
    inv = fleet_copy(tmp_path)
    (inv.parent / "secrets" / "fabrikam-ipstack.txt").chmod(0o644)
    res = run_invoke("validate", "-i", str(inv))
    assert res.returncode == 0
    line = line_of(inv, "file:secrets/fabrikam-ipstack.txt")
    assert res.stderr.splitlines() == [
        f"warning: {inv}:{line}: 1 secret file in {inv.parent / 'secrets'} readable by every "
        "user of this machine (chmod 600 them), e.g. file:secrets/fabrikam-ipstack.txt"
    ]


def test_an_environment_variable_passthrough_is_a_warning(tmp_path: Path) -> None:
    inv = fleet_copy(tmp_path)
    text = inv.read_text(encoding="utf-8")
    block = (
        "    msticpy:\n      DataProviders:\n        Splunk:\n          Args:\n"
        "            host: splunk.example.com\n"
        "            password: {EnvironmentVar: SPLUNK_PASSWORD}\n"
    )
    inv.write_text(text.replace("    ti_providers:\n", block + "    ti_providers:\n", 1))
    res = run_invoke("validate", "-i", str(inv))
    assert res.returncode == 0, res.stderr
    warned = [x for x in res.stderr.splitlines() if "EnvironmentVar" in x]
    assert len(warned) == 1
    line = line_of(inv, "password: {EnvironmentVar: SPLUNK_PASSWORD}")
    assert warned[0].startswith(f"warning: {inv}:{line}: ")
    assert "nothing sets this environment variable on an Azure ML compute instance" in warned[0]


def test_one_tenant_is_one_tenant(tmp_path: Path) -> None:
    inv = fleet_copy(tmp_path)
    text = inv.read_text(encoding="utf-8")
    inv.write_text(text[: text.index("  - name: fabrikam")], encoding="utf-8")
    res = run_invoke("validate", "-i", str(inv))
    assert res.returncode == 0, res.stderr
    assert f"{inv}: ok: 1 tenant, 3 users" in res.stdout
