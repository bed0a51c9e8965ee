"""Seeding: create each tenant's Azure resources, as a freshly set-up workspace would have them.

Per tenant: the subscription and resource group, the ML workspace, its default storage account
(random key) holding the notebooks share ``code-391ff5ac-6576-460f-ba4d-7e03433c68b6`` with a
``Users/<alias>/`` folder per user, the workspace's own key vault, the inventory's key vault
when it is another one, and one Running compute instance per user, assigned to a made-up but
stable object id for that alias. Seeding is idempotent: what exists is kept as it is (keys too).
Names are derived deterministically, so the same inventory always gives the same world.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provision.emulator.arm.models import NOTEBOOK_SHARE, Compute, Workspace
from provision.emulator.auth import new_account_key
from provision.emulator.files.exceptions import ResourceAlreadyExists
from provision.emulator.wire import ServiceError
from provision.errors import UserInputError

if TYPE_CHECKING:
    from provision.emulator.state import Backend

__all__ = [
    "NOTEBOOK_SHARE",
    "SeedTenant",
    "seed_backend",
    "seed_tenants_from_inventory",
    "storage_account_name",
    "user_object_id",
    "workspace_vault_name",
]

_NAMESPACE = uuid.UUID("6f1c2b0e-6d35-4f0e-9a51-3c8f0e6a7d21")


@dataclass
class SeedTenant:
    """One tenant's resources to create in the emulator."""

    tenant_id: str
    subscription_id: str
    resource_group: str
    workspace: str
    location: str = "eastus"
    key_vault: str | None = None  # the inventory's vault; created too when not the workspace's
    users: list[tuple[str, str]] = field(default_factory=list)  # (alias, compute name)
    user_folders: bool = True  # create Users/<alias>/ in the notebooks share


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(p.lower() for p in parts).encode()).hexdigest()


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def storage_account_name(t: SeedTenant) -> str:
    """3-24 lower-case letters and digits, from the workspace name, unique per tenant."""
    return (
        _alnum(t.workspace)[:12]
        + _digest(t.tenant_id, t.subscription_id, t.resource_group, t.workspace)
    )[:22]


def workspace_vault_name(t: SeedTenant) -> str:
    """The workspace's own key vault: 3-24 letters, digits and single hyphens."""
    return (
        "kv"
        + _alnum(t.workspace)[:12]
        + _digest("kv", t.tenant_id, t.subscription_id, t.resource_group, t.workspace)[:8]
    )


def user_object_id(tenant_id: str, alias: str) -> str:
    """The made-up Entra object id of a user alias in a tenant (stable across runs)."""
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id.lower()}/{alias.lower()}"))


def seed_backend(backend: Backend, tenants: list[SeedTenant]) -> None:
    """Create every tenant's resources in the backend (idempotent)."""
    problems: list[str] = []
    with backend.lock:
        for t in tenants:
            try:
                _seed_one(backend, t)
            except ServiceError as exc:
                problems.append(f"tenant {t.tenant_id} workspace {t.workspace}: {exc.message}")
    if problems:
        raise UserInputError(problems)


def _seed_one(backend: Backend, t: SeedTenant) -> None:
    arm, files, kv = backend.arm, backend.files, backend.keyvault
    arm.ensure_resource_group(t.tenant_id, t.subscription_id, t.resource_group, t.location)
    account_name = storage_account_name(t)
    vault_name = workspace_vault_name(t)
    digest = _digest("ws", t.tenant_id, t.subscription_id, t.resource_group, t.workspace)
    ws = arm.ensure_workspace(
        Workspace(
            subscription_id=t.subscription_id,
            resource_group=t.resource_group,
            name=t.workspace,
            location=t.location,
            tenant_id=t.tenant_id,
            storage_account=account_name,
            key_vault=vault_name,
            workspace_id=str(uuid.UUID(digest[:32])),
            app_insights=f"{_alnum(t.workspace)[:20]}insights{digest[:6]}",
            container_registry=f"{_alnum(t.workspace)[:20]}{digest[6:14]}",
        )
    )
    arm.ensure_named(
        "storage", t.tenant_id, t.subscription_id, t.resource_group, ws.storage_account, t.location
    )
    account = files.create_account(
        ws.storage_account, [new_account_key(), new_account_key()], tenant_id=t.tenant_id
    )
    share = files.create_share(account.name, ws.working_share, exist_ok=True)
    if t.user_folders and t.users:
        for parts in (["Users"], *(["Users", alias] for alias, _ in t.users)):
            with contextlib.suppress(ResourceAlreadyExists):
                files.create_directory(account.name, share.name, parts)
    vaults = [ws.key_vault]
    if t.key_vault and t.key_vault.lower() != ws.key_vault.lower():
        vaults.append(t.key_vault)
    for name in vaults:
        arm.ensure_named(
            "vault", t.tenant_id, t.subscription_id, t.resource_group, name, t.location
        )
        kv.create_vault(name, t.tenant_id)
    for alias, compute_name in t.users:
        arm.ensure_compute(
            ws,
            Compute(
                name=compute_name,
                location=t.location,
                created_by=alias,
                assigned_object_id=user_object_id(t.tenant_id, alias),
                assigned_tenant_id=t.tenant_id,
            ),
        )


def seed_tenants_from_inventory(inventory: Any) -> list[SeedTenant]:
    """SeedTenants for every tenant of a `provision.inventory.Inventory`."""
    return [
        SeedTenant(
            tenant_id=t.tenant_id,
            subscription_id=t.subscription_id,
            resource_group=t.resource_group,
            workspace=t.ml_workspace,
            key_vault=t.key_vault,
            users=[(u.alias, u.compute) for u in t.users],
        )
        for t in inventory.tenants
    ]
