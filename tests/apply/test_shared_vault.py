"""An MSSP's vault in its own Entra tenant, shared by customers in other Entra tenants.

Key Vault takes only tokens of the vault's Entra tenant: any other gets 401 with inner code
AKV10032 ("Invalid issuer") and a challenge naming the vault's tenant (`WWW-Authenticate:
Bearer authorization="https://login.../<tenant>"`), which azure-keyvault-secrets follows
(`_shared/challenge_auth_policy.py`). The inventory says where such a vault lives
(`key_vault_tenant_id`) and each customer's secrets carry its `secret_prefix`; the tool asks
for Key Vault tokens in that tenant only (never from a cached challenge, which the SDK keeps per
host). Through `invoke` against the emulator, with the SDK's SecretClient reading back.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from support import EXAMPLE, run_invoke
from support.clients import secret_client

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.seed import SeedTenant
from provision.inventory.load import load_inventory
from provision.render import render_tenants

MSSP_TID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
UNKNOWN_TID = "0a0b0c0d-1e1f-4a2b-8c3d-4e5f6a7b8c9d"
SHARED = "kv-mssp-shared"
MSSP = SeedTenant(
    tenant_id=MSSP_TID,
    subscription_id="8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b",
    resource_group="rg-mssp-shared",
    workspace="mlw-mssp",
    key_vault=SHARED,
)


def _shared_fleet(tmp_path: Path, vault_tenant: str | None) -> Path:
    """The example fleet, both tenants' secrets in the MSSP's vault under their prefixes."""
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    inv = tmp_path / "fleet" / "inventory.yaml"
    text = inv.read_text()
    for name in ("contoso", "fabrikam"):
        extra = f"    key_vault: {SHARED}\n    secret_prefix: soc-{name}\n"
        if vault_tenant:
            extra += f"    key_vault_tenant_id: {vault_tenant}\n"
        text = text.replace(f"    key_vault: kv-{name}-nb", extra.rstrip("\n"), 1)
    inv.write_text(text)
    return inv


def _emulator(tmp_path: Path, inv: Path) -> Emulator:
    seeds = seed_tenants_from_inventory(load_inventory(inv))
    for seed in seeds:
        seed.key_vault = None  # the customers have only their workspaces' own vaults
    emu = Emulator(tmp_path / "emu")
    emu.__enter__()
    emu.seed([*seeds, MSSP])
    return emu


def _run(command: str, inv: Path, emu: Emulator, *extra: str) -> tuple[int, str]:
    res = run_invoke(command, "-i", str(inv), "--endpoints", str(emu.endpoints_file), *extra)
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    return res.returncode, res.stdout + res.stderr


def test_two_entra_tenants_share_one_vault_each_under_its_prefix(tmp_path: Path) -> None:
    inv = _shared_fleet(tmp_path, MSSP_TID)
    emu = _emulator(tmp_path, inv)
    try:
        code, out = _run("apply", inv, emu)
        assert code == 0, out
        code, out = _run("plan", inv, emu, "--detailed-exitcode")
        assert code == 0, out  # the next plan is empty
        # every secret each customer's msticpy reads is in the MSSP's vault, under its prefix
        vault = secret_client(emu, SHARED, credential=emu.tenant_credential(MSSP_TID))
        for r in render_tenants(load_inventory(inv), []):
            assert r.pushes
            for p in r.pushes:
                assert p.vault == SHARED and p.name.startswith(f"soc-{r.tenant.name}-")
                value = (inv.parent / p.source.removeprefix("file:")).read_text().strip()
                assert vault.get_secret(p.name).value == value
        # Key Vault tokens were asked for in the vault's tenant, ARM's in each customer's
        tokens = {
            r["tenant"] for r in emu.requests() if r["service"] == "keyvault" and r.get("tenant")
        }
        assert tokens == {MSSP_TID}, tokens
    finally:
        emu.__exit__(None, None, None)


def test_a_vault_in_another_tenant_without_key_vault_tenant_id_is_one_line_naming_both(
    tmp_path: Path,
) -> None:
    inv = _shared_fleet(tmp_path, None)
    emu = _emulator(tmp_path, inv)
    try:
        code, out = _run("plan", inv, emu, "--tenant", "contoso")
        assert code == 1, out
        errors = [line.strip() for line in out.splitlines() if "error:" in line]
        assert len(errors) == 1, out
        contoso = load_inventory(inv).select(["contoso"])[0]
        assert f"Entra tenant {MSSP_TID}" in errors[0]
        assert contoso.tenant_id in errors[0]
        assert f"key_vault_tenant_id: {MSSP_TID}" in errors[0]
        assert "az login" not in errors[0]
    finally:
        emu.__exit__(None, None, None)


def test_a_vault_tenant_the_identity_cannot_sign_in_to_is_one_line_naming_both(
    tmp_path: Path,
) -> None:
    inv = _shared_fleet(tmp_path, UNKNOWN_TID)
    emu = _emulator(tmp_path, inv)
    try:
        code, out = _run("plan", inv, emu, "--tenant", "fabrikam")
        assert code == 1, out
        errors = [line.strip() for line in out.splitlines() if "error:" in line]
        assert len(errors) == 1, out
        fabrikam = load_inventory(inv).select(["fabrikam"])[0]
        assert f"cannot sign in to Entra tenant {UNKNOWN_TID}" in errors[0]
        assert fabrikam.tenant_id in errors[0]
    finally:
        emu.__exit__(None, None, None)
