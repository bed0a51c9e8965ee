"""An authentication failure names the tenant and the Entra tenant to sign in to: the emulator's
authority refuses a token for a tenant it does not know, as Entra ID does (AADSTS90002, "Tenant
not found"; the refusal reaches the tool as azure-identity's ClientAuthenticationError)."""

from __future__ import annotations

from pathlib import Path

from support import run_invoke

from provision.emulator import Emulator

UNKNOWN = "0f0e0d0c-0b0a-4909-8807-060504030201"


def test_an_authentication_error_names_the_tenant_and_its_entra_tenant(
    fleet: Path, emu: Emulator
) -> None:
    text = fleet.read_text(encoding="utf-8")
    fleet.write_text(
        text.replace("tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47", f"tenant_id: {UNKNOWN}"),
        encoding="utf-8",
    )
    res = run_invoke(
        "plan", "-i", str(fleet), "-t", "contoso", "--endpoints", str(emu.endpoints_file)
    )
    assert res.returncode == 1
    line = next(x for x in res.stdout.splitlines() if "authentication failed" in x)
    assert f"az login --tenant {UNKNOWN}" in line
    assert f"tenant contoso's Entra tenant (tenant_id {UNKNOWN})" in line
