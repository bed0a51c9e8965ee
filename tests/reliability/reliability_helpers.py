"""Helpers of the reliability tests: what the emulator must hold after an apply, and a reader
that checks it through the official SDK clients (importable as `reliability_helpers`; the fleet
is `provision.devtools.fleet`'s)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from azure.storage.fileshare import ShareClient
from support.clients import secret_client, share_client

from provision.emulator.seed import SeedTenant, storage_account_name
from provision.inventory.load import load_inventory
from provision.render import render_tenants


@dataclass
class Desired:
    """What the emulator must hold after a successful apply of an inventory."""

    secrets: dict[tuple[str, str], str]  # (vault, name) -> value
    files: dict[tuple[str, str], bytes]  # (storage account, Users/alias/file) -> content


def desired_state(inventory: Path) -> Desired:
    """Render the inventory with the tool's own renderer; resolve file: secrets from disk."""
    inv = load_inventory(inventory)
    renders = render_tenants(inv, [])
    secrets: dict[tuple[str, str], str] = {}
    files: dict[tuple[str, str], bytes] = {}
    for r in renders:
        t = r.tenant
        for p in r.pushes:
            raw = (inv.base_dir / p.source.removeprefix("file:")).read_text()
            secrets[(p.vault, p.name)] = raw.rstrip("\n")
        account = storage_account_name(seed_of(t))
        for alias, per in r.user_files.items():
            for fname, f in per.items():
                files[(account, f"Users/{alias}/{fname}")] = f.content
    return Desired(secrets, files)


def seed_of(t: Any) -> SeedTenant:
    return SeedTenant(
        tenant_id=t.tenant_id,
        subscription_id=t.subscription_id,
        resource_group=t.resource_group,
        workspace=t.ml_workspace,
        key_vault=t.key_vault,
        users=[(u.alias, u.compute_name) for u in t.users],
    )


class Reader:
    """Official SDK clients pointed at an emulator (from its endpoints.json data)."""

    def __init__(self, endpoints: dict[str, Any], credential: Any) -> None:
        self.endpoints = endpoints
        self.credential = credential
        self._kv: dict[str, SecretClient] = {}
        self._shares: dict[str, ShareClient] = {}

    def secret_client(self, vault: str) -> SecretClient:
        if vault not in self._kv:
            self._kv[vault] = secret_client(self.endpoints, vault, self.credential)
        return self._kv[vault]

    def share(self, account: str) -> ShareClient:
        if account not in self._shares:
            self._shares[account] = share_client(self.endpoints, account)
        return self._shares[account]

    def secret(self, vault: str, name: str) -> str | None:
        try:
            return self.secret_client(vault).get_secret(name).value
        except ResourceNotFoundError:
            return None

    def versions(self, vault: str, name: str) -> int:
        return sum(1 for _ in self.secret_client(vault).list_properties_of_secret_versions(name))

    def download(self, account: str, path: str) -> bytes | None:
        try:
            return self.share(account).get_file_client(path).download_file().readall()
        except ResourceNotFoundError:
            return None

    def stored_md5(self, account: str, path: str) -> bytes | None:
        props = self.share(account).get_file_client(path).get_file_properties()
        md5 = props.content_settings.content_md5
        return bytes(md5) if md5 else None

    def list_files(self, account: str, folder: str) -> list[str]:
        out: list[str] = []
        for item in self.share(account).get_directory_client(folder).list_directories_and_files():
            out.append(item["name"])
        return out


def check_state(reader: Reader, want: Desired) -> list[str]:
    """Every difference between the emulator and `want`, one line each (empty when equal)."""
    problems: list[str] = []
    for (vault, name), value in sorted(want.secrets.items()):
        got = reader.secret(vault, name)
        if got != value:
            problems.append(f"secret {vault}/{name}: {'missing' if got is None else 'differs'}")
    for (account, path), content in sorted(want.files.items()):
        got_file = reader.download(account, path)
        if got_file != content:
            problems.append(
                f"file {account}/{path}: {'missing' if got_file is None else 'differs'}"
            )
            continue
        md5 = reader.stored_md5(account, path)
        if md5 is not None and md5 != hashlib.md5(got_file).digest():
            problems.append(f"file {account}/{path}: stored Content-MD5 does not match its bytes")
    return problems


def md5_mismatches(reader: Reader, accounts: list[str]) -> list[str]:
    """Every file in the user folders and the tool's state folder whose stored Content-MD5
    disagrees with its bytes."""
    out: list[str] = []
    for account in accounts:
        share = reader.share(account)
        folders = ["Users", ".msticpy-provision"]
        while folders:
            folder = folders.pop()
            try:
                items = list(share.get_directory_client(folder).list_directories_and_files())
            except ResourceNotFoundError:
                continue
            for item in items:
                path = f"{folder}/{item['name']}"
                if item["is_directory"]:
                    folders.append(path)
                    continue
                data = reader.download(account, path)
                md5 = reader.stored_md5(account, path)
                if data is not None and md5 is not None and md5 != hashlib.md5(data).digest():
                    out.append(f"{account}/{path}")
    return out
