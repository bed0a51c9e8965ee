"""Helpers of the reliability tests: a generated fleet and official SDK clients that read back
what the tool wrote (importable as `reliability_helpers`)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from azure.storage.fileshare import ExponentialRetry, ShareClient

from provision.emulator.seed import NOTEBOOK_SHARE, SeedTenant, storage_account_name
from provision.inventory.load import load_inventory
from provision.render import render_tenants

_NS = uuid.UUID("0c6a4f7e-2b1d-4e8a-9f3c-5d7e1a2b3c4d")

# (inventory section path, secret file stem) for every secret a generated tenant pushes
SECRET_FIELDS = ("virustotal", "otx", "greynoise", "abuseipdb", "ipstack", "azcli")


def _guid(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


@dataclass
class Fleet:
    """A generated inventory on disk, with the secret values its file: references hold."""

    path: Path
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # tenant -> stem -> value

    @property
    def folder(self) -> Path:
        return self.path.parent

    def all_secret_values(self) -> list[str]:
        return [v for per in self.secrets.values() for v in per.values()]


def write_fleet(
    folder: Path,
    tenants: int,
    users: int = 2,
    variant: str = "a",
    secret_version: str = "1",
    name: str = "inventory.yaml",
    secrets_dir: str = "secrets",
) -> Fleet:
    """Write an inventory of `tenants` tenants and its secret files into `folder`.

    `variant` changes a template-visible value (the default Sentinel workspace's name), so two
    variants render different user files; `secret_version` changes every secret value.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / secrets_dir).mkdir(exist_ok=True)
    fleet = Fleet(folder / name)
    docs = []
    for i in range(tenants):
        tname = f"t{i:02d}"
        values = {
            stem: f"S3cr3t-{tname}-{stem}-v{secret_version}-"
            + hashlib.sha256(f"{tname}{stem}{secret_version}".encode()).hexdigest()[:16]
            for stem in SECRET_FIELDS
        }
        for stem, value in values.items():
            (folder / secrets_dir / f"{tname}-{stem}.txt").write_text(value + "\n")
        fleet.secrets[tname] = values

        def ref(stem: str, tname: str = tname) -> str:
            return f"file:{secrets_dir}/{tname}-{stem}.txt"

        docs.append(
            {
                "name": tname,
                "tenant_id": _guid("tenant", i),
                "subscription_id": _guid("sub", i),
                "resource_group": f"rg-{tname}",
                "ml_workspace": f"mlw-{tname}",
                "key_vault": f"kv-{tname}-nb",
                "sentinel": [
                    {
                        "name": "Prod",
                        "workspace_id": _guid("law", i),
                        "workspace_name": f"law-{tname}-{variant}",
                        "default": True,
                    }
                ],
                "ti_providers": {
                    "VirusTotal": {"args": {"auth_key": ref("virustotal")}},
                    "OTX": {"args": {"auth_key": ref("otx")}},
                    "GreyNoise": {"args": {"auth_key": ref("greynoise")}},
                    "AbuseIPDB": {"primary": True, "args": {"auth_key": ref("abuseipdb")}},
                },
                "geoip": {"provider": "IPStackLookup", "auth_key": ref("ipstack")},
                "azure_auth_methods": ["env", "cli", "msi"],
                "data_providers": {
                    "AzureCLI": {
                        "client_id": _guid("app", i),
                        "tenant_id": _guid("tenant", i),
                        "client_secret": ref("azcli"),
                    }
                },
                "users": [f"user{j}" for j in range(users)],
            }
        )
    fleet.path.write_text(yaml.safe_dump({"version": 1, "tenants": docs}, sort_keys=False))
    return fleet


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
            self._kv[vault] = SecretClient(
                vault_url=self.endpoints["keyvault"].format(vault=vault),
                credential=self.credential,
                verify_challenge_resource=False,
                connection_verify=self.endpoints["ca_cert"],
                retry_backoff_factor=0.01,
            )
        return self._kv[vault]

    def share(self, account: str) -> ShareClient:
        if account not in self._shares:
            self._shares[account] = ShareClient(
                account_url=self.endpoints["files"].format(account=account),
                share_name=NOTEBOOK_SHARE,
                credential=self.endpoints["storage_keys"][account],
                connection_verify=self.endpoints["ca_cert"],
                retry_policy=ExponentialRetry(
                    initial_backoff=0, increment_base=0, random_jitter_range=0
                ),
            )
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


def emulator_credential(token: str) -> Any:
    from provision.emulator import EmulatorCredential

    return EmulatorCredential(token)


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
