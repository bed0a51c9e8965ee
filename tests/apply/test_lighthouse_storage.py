"""Lighthouse-delegated tenants and the file share: only the key path can work.

Azure Storage accepts Entra ID tokens only from the Entra tenant of the subscription that holds
the account, and Azure Lighthouse delegates no role with DataActions and no custom role
(Microsoft Learn, "Tenants, users, and roles in Azure Lighthouse scenarios": "Roles that include
DataActions ... aren't supported", "Custom roles ... aren't supported"). So with `auth_tenant_id`
set, token access to the share (`--storage-auth token`, or `auto` on an account without Shared
Key) is refused in one line that names the key path; through `invoke`, against the emulator's
ARM, which accepts the managing tenant's tokens for the delegated subscription.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from support import EXAMPLE, run_invoke

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.inventory.load import load_inventory

CONTOSO_TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # the MSSP's own (managing) tenant


def _fleet(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    inv = tmp_path / "fleet" / "inventory.yaml"
    text = inv.read_text()
    anchor = "    key_vault: kv-fabrikam-nb\n"
    inv.write_text(text.replace(anchor, anchor + f"    auth_tenant_id: {CONTOSO_TID}\n", 1))
    return inv


def _errors(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if "error:" in line]


def test_token_access_through_lighthouse_is_refused_in_one_line(tmp_path: Path) -> None:
    inv = _fleet(tmp_path)
    seeds = seed_tenants_from_inventory(load_inventory(inv))
    fabrikam = next(s for s in seeds if s.workspace == "mlw-fabrikam")
    fabrikam.delegated_to = [CONTOSO_TID]
    fabrikam.allow_shared_key_access = False
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seeds)
        for extra in (("--storage-auth", "token"), ()):
            res = run_invoke(
                "plan", "-i", str(inv), "--endpoints", str(emu.endpoints_file),
                "--tenant", "fabrikam", *extra,
            )  # fmt: skip
            out = res.stdout + res.stderr
            assert res.returncode == 1, out
            assert "Traceback" not in out
            errors = _errors(out)
            assert len(errors) == 1, out
            line = errors[0]
            assert "token access to the file share cannot work through Lighthouse" in line
            assert f"auth_tenant_id {CONTOSO_TID}" in line
            assert "listKeys" in line and "Lighthouse does not support custom roles" in line
        # the files were never tried with a managing tenant's token
        assert not [r for r in emu.requests() if r["service"] == "files"]
