"""What the lifecycle tests share: running the tool against the emulator, editing the example
inventory, and the official SDK clients on a tenant's vault and share."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from azure.keyvault.secrets import SecretClient
from azure.storage.fileshare import ShareClient
from support import run_invoke
from support.clients import secret_client, share_client

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.requestlog import is_write
from provision.emulator.seed import storage_account_name
from provision.inventory.load import load_inventory
from provision.workspace import CODE_SHARE

FABRIKAM_VAULT = "kv-fabrikam-nb"
CONTOSO_VAULT = "kv-contoso-nb"


def tool(
    verb: str, fleet: Path, emu: Emulator, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`invoke VERB -i FLEET --endpoints EMULATOR EXTRA...`."""
    return run_invoke(
        verb, "-i", str(fleet), "--endpoints", str(emu.endpoints_file), *extra, env=env
    )


def plan_items(fleet: Path, emu: Emulator, *extra: str) -> list[dict[str, Any]]:
    """Every item of a JSON plan, each with its tenant."""
    res = tool("plan", fleet, emu, "--json", *extra)
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    return [{**i, "tenant": t["tenant"]} for t in doc["tenants"] for i in t["items"]]


def changing(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if i["action"] in {"create", "update", "delete"}]


def edit(fleet: Path, old: str, new: str) -> None:
    """Replace one exact passage of the inventory."""
    text = fleet.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    fleet.write_text(text.replace(old, new), encoding="utf-8")


def share_of(emu: Emulator, fleet: Path, tenant: str) -> ShareClient:
    """The code share of the tenant's workspace, with the account key."""
    seeds = seed_tenants_from_inventory(load_inventory(fleet))
    seed = next(s for s in seeds if s.workspace == _workspace(fleet, tenant))
    return share_client(emu, storage_account_name(seed), share=CODE_SHARE)


def _workspace(fleet: Path, tenant: str) -> str:
    return next(t.ml_workspace for t in load_inventory(fleet).tenants if t.name == tenant)


def folder_names(share: ShareClient, folder: str) -> set[str]:
    """Names directly in a share folder (files and folders)."""
    return {str(i["name"]) for i in share.get_directory_client(folder).list_directories_and_files()}


def read(share: ShareClient, path: str) -> bytes:
    return bytes(share.get_file_client(path).download_file().readall())


def vault(emu: Emulator, name: str) -> SecretClient:
    return secret_client(emu, name)


def writes_since(emu: Emulator, start: int) -> list[dict[str, Any]]:
    return [r for r in emu.requests()[start:] if is_write(r)]


# erin's line in the example inventory (removing it removes the analyst)
ERIN = "      - {alias: erin, object_id: 9a1e5c3b-2f7d-4b68-8c0e-4d2b6f1a7e95}\n"
