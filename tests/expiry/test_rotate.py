"""`rotate`: one TI key shared by three tenants, pushed to every vault that uses it, verified,
dated afresh; a second run writes nothing; a vault that refuses fails its tenant only. Through
the tool against the emulator, read back with the official SDK clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import VaultPatchParameters, VaultPatchProperties
from expiry_helpers import T0, at, days, writes_since
from support import run_invoke
from support.clients import secret_client

from provision.devtools.fleet import write_fleet
from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.inventory.load import load_inventory

SHARED = "file:secrets/shared-vt.txt"
VT = "TIProviders-VirusTotal-Args-AuthKey"
OTX = "TIProviders-OTX-Args-AuthKey"


@dataclass
class Shared:
    inventory: Path
    emu: Emulator
    vaults: dict[str, str]  # tenant -> vault

    def key_file(self) -> Path:
        return self.inventory.parent / SHARED.removeprefix("file:")

    def rotate(self, *extra: str) -> object:
        return run_invoke(
            "rotate",
            "-i",
            str(self.inventory),
            "--source",
            SHARED,
            "--endpoints",
            str(self.emu.endpoints_file),
            *extra,
        )


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shared]:
    """Three tenants whose VirusTotal key is one file (an MSSP's one subscription), each with
    its own OTX key; every secret expires 90 days after its version's creation; applied at T0."""
    fleet = write_fleet(tmp_path / "fleet", 3, users=1, units=("VirusTotal", "OTX"))
    text = fleet.path.read_text(encoding="utf-8")
    for t in ("t001", "t002", "t003"):
        text = text.replace(f"file:secrets/{t}-virustotal.txt", SHARED)
    text = text.replace("defaults:\n", "defaults:\n  secret_expiry: {expires_in: P90D}\n", 1)
    fleet.path.write_text(text, encoding="utf-8")
    (fleet.folder / "secrets" / "shared-vt.txt").write_text("VT-SHARED-KEY-0001\n")
    inv = load_inventory(fleet.path)
    at(monkeypatch, T0)
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(inv))
        res = run_invoke("apply", "-i", str(fleet.path), "--endpoints", str(emu.endpoints_file))
        assert res.returncode == 0, res.stdout + res.stderr
        yield Shared(fleet.path, emu, {t.name: t.key_vault for t in inv.tenants})


def test_rotate_updates_every_vault_verifies_and_a_second_run_writes_nothing(
    shared: Shared, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = shared.emu
    before = {t: secret_client(emu, v).get_secret(VT) for t, v in shared.vaults.items()}
    shared.key_file().write_text("VT-SHARED-KEY-0002\n")
    at(monkeypatch, T0 + days(5))
    mark = len(emu.requests())
    res = shared.rotate()
    out = res.stdout + res.stderr  # type: ignore[attr-defined]
    assert res.returncode == 0, out  # type: ignore[attr-defined]
    # every tenant and vault that references the source, listed first
    assert f"{SHARED} is used by 3 tenants:" in out
    for t, vault in shared.vaults.items():
        assert f"  {t}: {vault}/{VT}" in out
        assert f"  {t}: rotated, verified: {vault}/{VT} (value differs)" in out
    assert f"Rotate {SHARED}: 3 rotated, 0 unchanged, 0 failed across 3 tenants" in out
    assert "VT-SHARED-KEY" not in out
    for t, vault in shared.vaults.items():
        now = secret_client(emu, vault).get_secret(VT)
        assert now.value == "VT-SHARED-KEY-0002"
        assert now.properties.version != before[t].properties.version  # a new version
        assert now.properties.expires_on == T0 + days(5 + 90)  # dated afresh
    # only the shared key was written: one SetSecret per vault, and the tenants' locks
    kv_writes = [w for w in writes_since(emu, mark) if w["service"] == "keyvault"]
    assert (
        sorted((w["op"], w["path"].rsplit("/", 1)[-1]) for w in kv_writes)
        == [("SetSecret", VT)] * 3
    )

    mark = len(emu.requests())
    again = shared.rotate("--json")
    assert again.returncode == 0, again.stderr  # type: ignore[attr-defined]
    doc = json.loads(again.stdout)  # type: ignore[attr-defined]
    assert doc["ok"] is True and doc["source"] == SHARED
    assert [(t["tenant"], t["status"], t["rotated"]) for t in doc["tenants"]] == [
        ("t001", "unchanged", 0),
        ("t002", "unchanged", 0),
        ("t003", "unchanged", 0),
    ]
    assert writes_since(emu, mark) == []
    table = shared.rotate()
    assert "0 rotated, 3 unchanged, 0 failed across 3 tenants; nothing to do" in table.stdout  # type: ignore[attr-defined]


def test_a_vault_that_refuses_fails_its_tenant_and_the_others_rotate(shared: Shared) -> None:
    emu = shared.emu
    # t002's vault switches to access policies and lists nobody: Key Vault answers the tool's
    # identity 403 Forbidden (inner error AccessDenied) on every secret operation.
    inv = load_inventory(shared.inventory)
    t2 = next(t for t in inv.tenants if t.name == "t002")
    KeyVaultManagementClient(
        emu.credential,
        t2.subscription_id,
        base_url=emu.endpoints["arm"],
        connection_verify=str(emu.ca_cert),
    ).vaults.update(
        t2.resource_group,
        t2.key_vault,
        VaultPatchParameters(
            properties=VaultPatchProperties(enable_rbac_authorization=False, access_policies=[])
        ),
    )
    shared.key_file().write_text("VT-SHARED-KEY-0003\n")
    res = shared.rotate("--json")
    assert res.returncode == 1, res.stderr  # type: ignore[attr-defined]
    doc = json.loads(res.stdout)  # type: ignore[attr-defined]
    status = {t["tenant"]: (t["status"], t["verified"]) for t in doc["tenants"]}
    assert status == {
        "t001": ("rotated", True),
        "t002": ("failed", None),
        "t003": ("rotated", True),
    }
    error = next(t["error"] for t in doc["tenants"] if t["tenant"] == "t002")
    assert f"secret {t2.key_vault}/{VT}" in error and "\n" not in error
    for t in ("t001", "t003"):
        assert secret_client(emu, shared.vaults[t]).get_secret(VT).value == "VT-SHARED-KEY-0003"
    assert "VT-SHARED-KEY" not in res.stdout + res.stderr  # type: ignore[attr-defined]


def test_a_source_nobody_uses_is_one_line_naming_the_closest(tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path / "fleet", 2, users=1, units=("VirusTotal",))
    res = run_invoke("rotate", "-i", str(fleet.path), "--source", "file:secrets/t001-virustotl.txt")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: {fleet.path}: --source 'file:secrets/t001-virustotl.txt': no secret of the "
        "selected tenants references it (did you mean 'file:secrets/t001-virustotal.txt'?)"
    ]
    assert res.stdout == ""
