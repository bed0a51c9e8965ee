"""Key Vault secrets backend: vaults, secret versions, soft delete. No HTTP here.

Rules kept from the service: secret names are 1-127 characters of ``[0-9a-zA-Z-]`` and
case-insensitive (the first spelling is kept); every set creates a new version; soft delete is on
(recovery level ``Recoverable+Purgeable``, 90 days), so a deleted name cannot be set again until
it is recovered or purged; a disabled version cannot be read. A version outside its
``nbf``/``exp`` window is served as any other ("A secret's get operation will work for
not-yet-valid and expired secrets": MicrosoftDocs/azure-security-docs,
articles/key-vault/secrets/about-secrets.md); ``created`` and ``updated`` come from
`provision.clock`, the tool's own clock, so that a test that moves one moves both.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from provision import clock
from provision.emulator.keyvault.exceptions import (
    BadParameter,
    SecretConflict,
    SecretDisabled,
    SecretNotFound,
    VaultNotFound,
)

__all__ = ["DeletedSecret", "KeyVaultBackend", "Secret", "SecretVersion", "Vault"]

SECRET_NAME_RE = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
VAULT_NAME_RE = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
MAX_VALUE_BYTES = 25 * 1024
RECOVERY_LEVEL = "Recoverable+Purgeable"
RETENTION_DAYS = 90
_DAY = 86400


@dataclass
class SecretVersion:
    version: str
    value: str
    content_type: str | None = None
    tags: dict[str, str] | None = None
    enabled: bool = True
    not_before: int | None = None
    expires: int | None = None
    created: int = 0
    updated: int = 0


@dataclass
class Secret:
    name: str
    versions: list[SecretVersion] = field(default_factory=list)  # oldest first

    @property
    def latest(self) -> SecretVersion:
        return self.versions[-1]

    def version(self, version: str) -> SecretVersion | None:
        for item in self.versions:
            if item.version == version.lower():
                return item
        return None


@dataclass
class DeletedSecret:
    secret: Secret
    deleted_date: int
    scheduled_purge_date: int


@dataclass
class Vault:
    name: str
    tenant_id: str
    secrets: dict[str, Secret] = field(default_factory=dict)  # keyed by lower-case name
    deleted: dict[str, DeletedSecret] = field(default_factory=dict)
    # enableSoftDelete: false (vaults made before soft delete was enforced): a delete is final
    soft_delete: bool = True


def _check_name(name: str) -> None:
    if not SECRET_NAME_RE.match(name):
        raise BadParameter(f"The request URI contains an invalid name: {name}")


class KeyVaultBackend:
    """All vaults of the emulator and the rules of their secrets."""

    def __init__(self) -> None:
        self.vaults: dict[str, Vault] = {}
        self.revision = 0

    def _changed(self) -> None:
        self.revision += 1

    # --- vaults ---------------------------------------------------------------------------
    def create_vault(self, name: str, tenant_id: str) -> Vault:
        """Create the vault if missing (idempotent); a new tenant id replaces the old one."""
        if not VAULT_NAME_RE.match(name):
            raise BadParameter(
                f"Vault name {name!r} is not 3-24 letters, digits and single "
                "hyphens, starting with a letter"
            )
        vault = self.vaults.get(name.lower())
        if vault is None:
            vault = self.vaults[name.lower()] = Vault(name=name, tenant_id=tenant_id)
            self._changed()
        elif vault.tenant_id != tenant_id:
            vault.tenant_id = tenant_id
            self._changed()
        return vault

    def find_vault(self, name: str) -> Vault | None:
        return self.vaults.get(name.lower())

    def get_vault(self, name: str) -> Vault:
        vault = self.vaults.get(name.lower())
        if vault is None:
            raise VaultNotFound(f"No vault named {name!r}")
        return vault

    # --- live secrets -----------------------------------------------------------------------
    def set_secret(
        self,
        vault: str,
        name: str,
        value: str,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        enabled: bool = True,
        not_before: int | None = None,
        expires: int | None = None,
    ) -> tuple[Secret, SecretVersion]:
        _check_name(name)
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise BadParameter(f"Secret value is larger than {MAX_VALUE_BYTES} bytes")
        store = self.get_vault(vault)
        if name.lower() in store.deleted:
            raise SecretConflict.deleted_but_recoverable(name)
        secret = store.secrets.get(name.lower())
        if secret is None:
            secret = store.secrets[name.lower()] = Secret(name=name)
        now = clock.timestamp()
        item = SecretVersion(
            version=uuid.uuid4().hex,
            value=value,
            content_type=content_type,
            tags=dict(tags) if tags is not None else None,
            enabled=enabled,
            not_before=not_before,
            expires=expires,
            created=now,
            updated=now,
        )
        secret.versions.append(item)
        self._changed()
        return secret, item

    def _secret(self, vault: str, name: str) -> Secret:
        _check_name(name)
        secret = self.get_vault(vault).secrets.get(name.lower())
        if secret is None:
            raise SecretNotFound.live(name)
        return secret

    def _version(self, vault: str, name: str, version: str | None) -> tuple[Secret, SecretVersion]:
        secret = self._secret(vault, name)
        if not version:
            return secret, secret.latest
        item = secret.version(version)
        if item is None:
            raise SecretNotFound.live(name, version)
        return secret, item

    def get_secret(
        self, vault: str, name: str, version: str | None = None
    ) -> tuple[Secret, SecretVersion]:
        secret, item = self._version(vault, name, version)
        if not item.enabled:
            raise SecretDisabled("Operation get is not allowed on a disabled secret.")
        return secret, item

    def list_secrets(self, vault: str) -> list[Secret]:
        store = self.get_vault(vault)
        return [store.secrets[k] for k in sorted(store.secrets)]

    def list_versions(self, vault: str, name: str) -> list[SecretVersion]:
        return list(self._secret(vault, name).versions)

    def update_secret(
        self,
        vault: str,
        name: str,
        version: str | None,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        enabled: bool | None = None,
        not_before: int | None = None,
        expires: int | None = None,
    ) -> tuple[Secret, SecretVersion]:
        """Update a version's properties; only the fields given change (as PATCH does)."""
        secret, item = self._version(vault, name, version)
        if content_type is not None:
            item.content_type = content_type
        if tags is not None:
            item.tags = dict(tags)
        if enabled is not None:
            item.enabled = enabled
        if not_before is not None:
            item.not_before = not_before
        if expires is not None:
            item.expires = expires
        item.updated = clock.timestamp()
        self._changed()
        return secret, item

    # --- soft delete --------------------------------------------------------------------------
    def delete_secret(self, vault: str, name: str) -> DeletedSecret:
        """Soft-delete the secret; in a vault without soft delete it is gone at once (nothing
        kept to recover or purge: the answer carries no recoveryId)."""
        secret = self._secret(vault, name)
        store = self.get_vault(vault)
        now = clock.timestamp()
        deleted = DeletedSecret(
            secret=secret, deleted_date=now, scheduled_purge_date=now + RETENTION_DAYS * _DAY
        )
        del store.secrets[name.lower()]
        if store.soft_delete:
            store.deleted[name.lower()] = deleted
        self._changed()
        return deleted

    def get_deleted(self, vault: str, name: str) -> DeletedSecret:
        _check_name(name)
        deleted = self.get_vault(vault).deleted.get(name.lower())
        if deleted is None:
            raise SecretNotFound.deleted(name)
        return deleted

    def list_deleted(self, vault: str) -> list[DeletedSecret]:
        store = self.get_vault(vault)
        return [store.deleted[k] for k in sorted(store.deleted)]

    def recover(self, vault: str, name: str) -> tuple[Secret, SecretVersion]:
        deleted = self.get_deleted(vault, name)
        store = self.get_vault(vault)
        del store.deleted[name.lower()]
        store.secrets[name.lower()] = deleted.secret
        self._changed()
        return deleted.secret, deleted.secret.latest

    def purge(self, vault: str, name: str) -> None:
        self.get_deleted(vault, name)
        del self.get_vault(vault).deleted[name.lower()]
        self._changed()

    # --- backup / restore ---------------------------------------------------------------------
    def backup(self, vault: str, name: str) -> str:
        """An opaque (base64url) blob holding every version of the secret."""
        secret = self._secret(vault, name)
        raw = json.dumps(_secret_to_dict(secret)).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def restore(self, vault: str, blob: str) -> tuple[Secret, SecretVersion]:
        try:
            raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
            secret = _secret_from_dict(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            raise BadParameter("Backup blob contains invalid or corrupt version.") from None
        store = self.get_vault(vault)
        if secret.name.lower() in store.secrets:
            raise SecretConflict.already_exists(secret.name)
        if secret.name.lower() in store.deleted:
            raise SecretConflict.deleted_but_recoverable(secret.name)
        store.secrets[secret.name.lower()] = secret
        self._changed()
        return secret, secret.latest

    # --- persistence ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "vaults": [
                {
                    "name": v.name,
                    "tenant_id": v.tenant_id,
                    "soft_delete": v.soft_delete,
                    "secrets": [_secret_to_dict(s) for s in v.secrets.values()],
                    "deleted": [
                        {
                            "secret": _secret_to_dict(d.secret),
                            "deleted_date": d.deleted_date,
                            "scheduled_purge_date": d.scheduled_purge_date,
                        }
                        for d in v.deleted.values()
                    ],
                }
                for v in self.vaults.values()
            ]
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        self.vaults.clear()
        for raw in data.get("vaults", []):
            vault = Vault(
                name=raw["name"],
                tenant_id=raw["tenant_id"],
                soft_delete=raw.get("soft_delete", True),
            )
            for s in raw.get("secrets", []):
                secret = _secret_from_dict(s)
                vault.secrets[secret.name.lower()] = secret
            for d in raw.get("deleted", []):
                secret = _secret_from_dict(d["secret"])
                vault.deleted[secret.name.lower()] = DeletedSecret(
                    secret=secret,
                    deleted_date=d["deleted_date"],
                    scheduled_purge_date=d["scheduled_purge_date"],
                )
            self.vaults[vault.name.lower()] = vault


def _secret_to_dict(secret: Secret) -> dict[str, Any]:
    return {"name": secret.name, "versions": [asdict(v) for v in secret.versions]}


def _secret_from_dict(data: dict[str, Any]) -> Secret:
    return Secret(name=data["name"], versions=[SecretVersion(**v) for v in data["versions"]])
