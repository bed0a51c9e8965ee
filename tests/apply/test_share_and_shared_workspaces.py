"""The notebook share comes from the workspace's datastore; missing user folders are reported;
tenants share an ML workspace only with different analysts, and then work in one run.

Azure facts relied on: the notebooks live in the Azure Files share of the workspace's
`workspaceworkingdirectory` datastore (DESIGN.md; datastore shape: azure-rest-api-specs,
machinelearningservices 2024-04-01, examples/Datastore/AzureFileWAccountKey: datastoreType
AzureFile, accountName, fileShareName). Azure Files names are case-insensitive.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.storage.fileshare import ShareClient
from support import EXAMPLE, run_invoke

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.errors import UserInputError
from provision.inventory.load import load_inventory
from provision.share import manifest_path
from provision.workspace import CODE_SHARE

SUB = "3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f"
RG = "rg-contoso-soc"
WS_NAME = "mlw-contoso-hunting"
WS = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices"
    f"/workspaces/{WS_NAME}"
)


def _copy_example(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    return tmp_path / "fleet" / "inventory.yaml"


def _plan_json(inv: Path, emu: Emulator, tenant: str = "contoso") -> dict[str, Any]:
    res = run_invoke(
        "plan", "-i", str(inv), "-t", tenant, "--endpoints", str(emu.endpoints_file), "--json"
    )
    assert res.returncode in (0, 2), res.stdout + res.stderr
    data: dict[str, Any] = json.loads(res.stdout)["tenants"][0]
    return data


def _share(emu: Emulator, share_name: str) -> ShareClient:
    ws = emu.backend.arm.workspace(SUB, RG, WS_NAME)
    account = ws.storage_account
    return ShareClient(
        account_url=emu.endpoints["files"].format(account=account),
        share_name=share_name,
        credential=emu.endpoints["storage_keys"][account],
        connection_verify=str(emu.ca_cert),
    )


# --- 12: the share from the datastore ---------------------------------------------------------


def test_files_go_to_the_share_the_working_datastore_names(tmp_path: Path) -> None:
    inv = _copy_example(tmp_path)
    other = "code-0b5e2a8c-1d3f-4e6a-9b7c-2d4e6f8a0b1c"
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(inv)))
        ws = emu.backend.arm.workspace(SUB, RG, WS_NAME)
        ws.working_share = other
        emu.backend.files.create_share(ws.storage_account, other)
        plan = _plan_json(inv, emu)
        assert plan["resources"]["file_share"] == other
        res = run_invoke(
            "apply", "-i", str(inv), "-t", "contoso", "--endpoints", str(emu.endpoints_file)
        )
        assert res.returncode == 0, res.stdout + res.stderr
        got = _share(emu, other).get_file_client("Users/alice/msticpyconfig.yaml")
        assert b"AzureSentinel" in got.download_file().readall()
        assert not any(
            i["name"] == "msticpyconfig.yaml"
            for i in _share(emu, CODE_SHARE)
            .get_directory_client("Users/alice")
            .list_directories_and_files()
        )


def test_unreadable_datastore_falls_back_to_the_well_known_share_and_says_so(
    tmp_path: Path,
) -> None:
    inv = _copy_example(tmp_path)
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(inv)))
        emu.deny(f"{WS}/datastores")  # a custom role without workspaces/datastores/read
        plan = _plan_json(inv, emu)
        assert plan["resources"]["file_share"] == CODE_SHARE
        assert any("workspaceworkingdirectory cannot be read" in n for n in plan["notes"])


# --- 12: a user folder that does not exist yet ------------------------------------------------


def test_plan_says_when_a_user_folder_does_not_exist_yet(tmp_path: Path) -> None:
    inv = _copy_example(tmp_path)
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(inv)))  # alice, bob, carol.jones
        carol = "      - {alias: carol.jones, compute: carol-hunting}\n"
        inv.write_text(inv.read_text().replace(carol, carol + "      - bbo\n"))
        plan = _plan_json(inv, emu)
        notes = [n for n in plan["notes"] if "no such user folder" in n]
        assert notes == [
            "Users/bbo: no such user folder yet (apply creates it); check the alias if the "
            "analyst already uses this workspace"
        ]


# --- 13: two tenants on one ML workspace ------------------------------------------------------


def _second_tenant_on_contosos_workspace(inv: Path, users: list[str]) -> Path:
    """A copy of fabrikam (its own Sentinel, vault and secrets) moved onto contoso's workspace."""
    data = yaml.safe_load(inv.read_text())
    contoso, fabrikam = data["tenants"]
    for key in ("tenant_id", "subscription_id", "resource_group", "ml_workspace"):
        fabrikam[key] = contoso[key]
    fabrikam["name"] = "fabrikam-on-contoso"
    fabrikam["users"] = users
    fabrikam["data_providers"]["AzureCLI"]["tenant_id"] = contoso["tenant_id"]
    inv.write_text(yaml.safe_dump(data, sort_keys=False))
    return inv


def test_two_tenants_claiming_one_user_folder_are_refused_naming_both_lines(
    tmp_path: Path,
) -> None:
    inv = _second_tenant_on_contosos_workspace(_copy_example(tmp_path), ["dave", "Alice"])
    with pytest.raises(UserInputError) as err:
        load_inventory(inv)
    lines = err.value.lines()
    assert len(lines) == 1, lines
    text = inv.read_text().splitlines()
    alice = next(i for i, s in enumerate(text) if s.strip() == "- alice") + 1
    second = next(i for i, s in enumerate(text) if s.strip() == "- Alice") + 1
    assert lines[0].startswith(f"{inv}:{second}: tenants[1].users[1]: Users/Alice/ ")
    assert "tenant 'contoso' (tenants[0].users[0], line " + str(alice) + ")" in lines[0]


def test_two_tenants_with_different_analysts_on_one_workspace_apply_in_one_run(
    tmp_path: Path,
) -> None:
    inv = _second_tenant_on_contosos_workspace(_copy_example(tmp_path), ["dave", "erin"])
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(inv)))
        ep = str(emu.endpoints_file)
        res = run_invoke("apply", "-i", str(inv), "--endpoints", ep)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "locked by" not in res.stdout + res.stderr
        again = run_invoke("plan", "-i", str(inv), "--endpoints", ep, "--detailed-exitcode")
        assert again.returncode == 0, again.stdout + again.stderr
        verify = run_invoke("verify", "-i", str(inv), "--endpoints", ep)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        share = _share(emu, CODE_SHARE)
        for tenant in ("contoso", "fabrikam-on-contoso"):  # one manifest each
            assert share.get_file_client(manifest_path(tenant)).download_file().readall()
        dave = share.get_file_client("Users/dave/msticpyconfig.yaml").download_file().readall()
        assert b"law-fabrikam" in dave and b"law-contoso-prod" not in dave
