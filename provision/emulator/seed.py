"""Seeding: create each tenant's Azure resources, as a freshly set-up workspace would have them.

Per tenant: the subscription and resource group, the ML workspace, its default storage account
(random key) holding the notebooks share ``code-391ff5ac-6576-460f-ba4d-7e03433c68b6`` with a
``Users/<alias>/`` folder per user, the workspace's own key vault, the inventory's key vault
when it is another one, and one Running compute instance per user, assigned to a made-up but
stable object id for that alias. Seeding is idempotent: what exists is kept as it is (keys too).
Names are derived deterministically, so the same inventory always gives the same world.

Identity and access, per tenant: the tenant and its *admin application* are registered with the
emulator's authority (client id, secret and object id in endpoints.json under ``tenants``); the
admin holds Owner, Key Vault Administrator and Storage File Data Privileged Contributor on the
subscription, and Get/List/Set/Delete/Recover/Backup/Restore/Purge in the access policies of
access-policy vaults, so everything works for it as it does for the operator token. Further
principals (`SeedPrincipal`) get exactly the roles and access policies the seed gives them.
Vaults are RBAC vaults unless named in ``access_policy_vaults``. Sentinel workspaces become
``Microsoft.OperationalInsights/workspaces`` in their own subscription and resource group.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provision.emulator.arm.models import NOTEBOOK_SHARE, Compute, NamedResource, Workspace
from provision.emulator.arm.sentinel import SENTINEL_MARKER
from provision.emulator.auth import new_account_key
from provision.emulator.authz.roles import role_by_id, role_by_name
from provision.emulator.files.exceptions import ResourceAlreadyExists
from provision.emulator.identity.federation import GITHUB_ISSUER, WORKFLOW_SUBJECT
from provision.emulator.identity.users import ADMIN_USER
from provision.emulator.wire import ServiceError
from provision.errors import UserInputError
from provision.policy.builtins import BUILTIN_PREFIX

if TYPE_CHECKING:
    from provision.emulator.state import Backend

__all__ = [
    "ADMIN_ROLES",
    "NOTEBOOK_SHARE",
    "SeedLogAnalytics",
    "SeedPolicy",
    "SeedPrincipal",
    "SeedTenant",
    "seed_backend",
    "seed_tenants_from_inventory",
    "storage_account_name",
    "user_object_id",
    "workspace_vault_name",
]

_NAMESPACE = uuid.UUID("6f1c2b0e-6d35-4f0e-9a51-3c8f0e6a7d21")


ADMIN_ROLES = ("Owner", "Key Vault Administrator", "Storage File Data Privileged Contributor")
ALL_SECRET_PERMISSIONS = ["get", "list", "set", "delete", "recover", "backup", "restore", "purge"]


@dataclass
class SeedPrincipal:
    """A service principal (or a user, as far as tokens go) of one tenant.

    ``client_id`` is what it authenticates with at the emulator's authority (client-credentials
    grant); ``secret`` None accepts any secret. ``roles`` are (role name or GUID, scope) pairs;
    a scope is a full ARM id or one of ``subscription``, ``resource-group``, ``vault`` (the
    tenant's inventory vault), ``workspace-vault``, ``storage`` (the workspace's storage
    account). ``secret_permissions`` go into the access policies of the tenant's access-policy
    vaults (for example ``["get", "list"]``)."""

    client_id: str
    object_id: str | None = None
    secret: str | None = None
    roles: list[tuple[str, str]] = field(default_factory=list)
    secret_permissions: list[str] = field(default_factory=list)
    principal_type: str = "ServicePrincipal"
    # PIM-eligible (role, scope) pairs: listed by roleEligibilityScheduleInstances, no access
    eligible: list[tuple[str, str]] = field(default_factory=list)
    member_of: list[str] = field(default_factory=list)  # object ids of SeedGroups


@dataclass
class SeedGroup:
    """An Entra security group: its role assignments apply to its members (and to the members
    of groups that are members of it)."""

    object_id: str
    roles: list[tuple[str, str]] = field(default_factory=list)
    eligible: list[tuple[str, str]] = field(default_factory=list)
    member_of: list[str] = field(default_factory=list)


@dataclass
class SeedLogAnalytics:
    """A Sentinel (Log Analytics) workspace; subscription and group default to the tenant's."""

    name: str
    customer_id: str
    subscription_id: str | None = None
    resource_group: str | None = None
    sentinel: bool = True  # Microsoft Sentinel enabled on it (its onboarding state `default`)


@dataclass
class SeedPolicy:
    """An Azure Policy assignment of a built-in the tool understands
    (provision.policy.builtins), at the tenant's subscription or resource group."""

    name: str
    definition: str  # the built-in's GUID
    effect: str = "Deny"
    display_name: str | None = None
    scope: str = "resource_group"  # or "subscription"
    enforcement_mode: str = "Default"
    parameters: dict[str, Any] = field(default_factory=dict)  # e.g. maximumValidityInDays


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
    access_policy_vaults: list[str] = field(default_factory=list)  # the others use RBAC
    no_soft_delete_vaults: list[str] = field(default_factory=list)  # enableSoftDelete: false
    allow_shared_key_access: bool | None = None  # None: not set (Azure then allows Shared Key)
    principals: list[SeedPrincipal] = field(default_factory=list)
    groups: list[SeedGroup] = field(default_factory=list)
    log_analytics: list[SeedLogAnalytics] = field(default_factory=list)
    # managing tenants (Azure Lighthouse) whose tokens ARM accepts for this subscription
    delegated_to: list[str] = field(default_factory=list)
    policies: list[SeedPolicy] = field(default_factory=list)  # Azure Policy assignments
    # alias -> Entra object id its compute instance is assigned to (default: user_object_id)
    object_ids: dict[str, str] = field(default_factory=dict)


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


def _seed_policies(backend: Backend, t: SeedTenant) -> None:
    sub = f"/subscriptions/{t.subscription_id}"
    for p in t.policies:
        scope = sub if p.scope == "subscription" else f"{sub}/resourceGroups/{t.resource_group}"
        params = {k: {"value": v} for k, v in {**p.parameters, "effect": p.effect}.items()}
        props = {
            "displayName": p.display_name or p.name,
            "policyDefinitionId": BUILTIN_PREFIX + p.definition,
            "parameters": params,
            "enforcementMode": p.enforcement_mode,
        }
        backend.policy.put_assignment(scope, p.name, {"properties": props})


def _seed_one(backend: Backend, t: SeedTenant) -> None:
    arm, files, kv = backend.arm, backend.files, backend.keyvault
    _seed_policies(backend, t)
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
    storage = arm.ensure_named(
        "storage", t.tenant_id, t.subscription_id, t.resource_group, ws.storage_account, t.location
    )
    if t.allow_shared_key_access is not None:
        storage.properties["allowSharedKeyAccess"] = t.allow_shared_key_access
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
    policy_vaults = {v.lower() for v in t.access_policy_vaults}
    vault_resources = []
    for name in vaults:
        res = arm.ensure_named(
            "vault", t.tenant_id, t.subscription_id, t.resource_group, name, t.location
        )
        if name.lower() in policy_vaults:
            res.properties["enableRbacAuthorization"] = False
            res.properties.setdefault("accessPolicies", [])
        soft_delete = name.lower() not in {v.lower() for v in t.no_soft_delete_vaults}
        res.properties["enableSoftDelete"] = soft_delete
        vault_resources.append(res)
        kv.create_vault(name, t.tenant_id).soft_delete = soft_delete
    for la in t.log_analytics:
        sub = la.subscription_id or t.subscription_id
        group = la.resource_group or t.resource_group
        arm.ensure_resource_group(t.tenant_id, sub, group, t.location)
        res = arm.ensure_named("loganalytics", t.tenant_id, sub, group, la.name, t.location)
        res.properties["customerId"] = la.customer_id
        res.properties[SENTINEL_MARKER] = la.sentinel
    for managing_tenant in t.delegated_to:
        arm.delegate(t.subscription_id, managing_tenant)
    _seed_access(backend, t, ws, storage, vault_resources)
    for alias, compute_name in t.users:
        arm.ensure_compute(
            ws,
            Compute(
                name=compute_name,
                location=t.location,
                created_by=alias,
                assigned_object_id=t.object_ids.get(alias) or user_object_id(t.tenant_id, alias),
                assigned_tenant_id=t.tenant_id,
            ),
        )


def _scope(t: SeedTenant, ws: Workspace, storage: NamedResource, scope: str) -> str:
    rg = f"/subscriptions/{t.subscription_id}/resourceGroups/{t.resource_group}"
    shorthand = {
        "subscription": f"/subscriptions/{t.subscription_id}",
        "resource-group": rg,
        "vault": f"{rg}/providers/Microsoft.KeyVault/vaults/{t.key_vault or ws.key_vault}",
        "workspace-vault": f"{rg}/providers/Microsoft.KeyVault/vaults/{ws.key_vault}",
        "storage": f"{rg}/providers/Microsoft.Storage/storageAccounts/{storage.name}",
    }
    if scope in shorthand:
        return shorthand[scope]
    if scope.lower().startswith("/subscriptions/"):
        return scope
    raise UserInputError([f"tenant {t.tenant_id}: unknown role scope {scope!r}"])


def _grant_policy(res: NamedResource, tenant_id: str, object_id: str, perms: list[str]) -> None:
    policies: list[dict[str, Any]] = res.properties.setdefault("accessPolicies", [])
    for entry in policies:
        if str(entry.get("objectId", "")).lower() == object_id.lower():
            have = entry.setdefault("permissions", {}).setdefault("secrets", [])
            have.extend(p for p in perms if p not in have)
            return
    policies.append(
        {"tenantId": tenant_id, "objectId": object_id, "permissions": {"secrets": list(perms)}}
    )


def _seed_access(
    backend: Backend,
    t: SeedTenant,
    ws: Workspace,
    storage: NamedResource,
    vaults: list[NamedResource],
) -> None:
    """The tenant's identities, role assignments and access policies (idempotent)."""
    identity, authz = backend.identity, backend.authz
    admin = identity.add_tenant(t.tenant_id)
    policy_vaults = [v for v in vaults if v.properties.get("enableRbacAuthorization") is False]
    for role_name in ADMIN_ROLES:
        role = role_by_name(role_name)
        assert role is not None
        authz.assign(f"/subscriptions/{t.subscription_id}", role.id, admin.object_id)
    for res in policy_vaults:
        _grant_policy(res, t.tenant_id, admin.object_id, ALL_SECRET_PERMISSIONS)
    _seed_sign_in(backend, t, admin.client_id, policy_vaults)
    for sp in t.principals:
        app = identity.apps.get(f"{t.tenant_id}/{sp.client_id}".lower())
        if app is None:
            app = identity.add_app(
                t.tenant_id, sp.client_id, object_id=sp.object_id, secret=sp.secret
            )
        _seed_roles(backend, t, ws, storage, sp, app.object_id, sp.principal_type)
        if sp.secret_permissions:
            for res in policy_vaults:
                _grant_policy(res, t.tenant_id, app.object_id, sp.secret_permissions)
    for group in t.groups:
        _seed_roles(backend, t, ws, storage, group, group.object_id, "Group")
    backend.arm.changed()


def _seed_sign_in(
    backend: Backend, t: SeedTenant, admin_client_id: str, policy_vaults: list[NamedResource]
) -> None:
    """The admin user (homed in the first seeded tenant, a guest of every other one, with the
    admin application's rights in each) and the admin application's trust of the workflow's
    federated token (the stand-in GitHub issuer, `identity.federation`)."""
    identity, authz = backend.identity, backend.authz
    home = identity.home_tenant or t.tenant_id
    identity.flows.add_user(ADMIN_USER, home, "msticpy-provision admin")
    user_oid = identity.flows.add_membership(ADMIN_USER, t.tenant_id)
    for role_name in ADMIN_ROLES:
        role = role_by_name(role_name)
        assert role is not None
        authz.assign(f"/subscriptions/{t.subscription_id}", role.id, user_oid)
    for res in policy_vaults:
        _grant_policy(res, t.tenant_id, user_oid, ALL_SECRET_PERMISSIONS)
    identity.trust_issuer(t.tenant_id, admin_client_id, GITHUB_ISSUER, WORKFLOW_SUBJECT)


def _seed_roles(
    backend: Backend,
    t: SeedTenant,
    ws: Workspace,
    storage: NamedResource,
    who: SeedPrincipal | SeedGroup,
    object_id: str,
    principal_type: str,
) -> None:
    """A principal's or group's role assignments, eligible assignments and group memberships."""
    authz = backend.authz
    authz.set_principal_type(object_id, principal_type)
    for pairs, eligible in ((who.roles, False), (who.eligible, True)):
        for role_ref, scope in pairs:
            role = role_by_name(role_ref) or role_by_id(role_ref)
            if role is None:
                raise UserInputError([f"tenant {t.tenant_id}: unknown role {role_ref!r}"])
            at = _scope(t, ws, storage, scope)
            if eligible:
                authz.make_eligible(at, role.id, object_id, principal_type=principal_type)
            else:
                authz.assign(at, role.id, object_id, principal_type=principal_type)
    for group_id in who.member_of:
        authz.add_member(group_id, object_id)


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
            log_analytics=[
                SeedLogAnalytics(
                    name=str(getattr(ws, "workspace_name", None) or ws.name),
                    customer_id=str(ws.workspace_id),
                    subscription_id=_opt_str(getattr(ws, "subscription_id", None)),
                    resource_group=getattr(ws, "resource_group", None),
                )
                for ws in getattr(t, "sentinel", [])
            ],
            # analysts with an Entra object id: client id = object id, so that a test can get
            # an analyst's token with ClientSecretCredential(tenant, object_id, "any", ...)
            object_ids={u.alias: str(u.object_id) for u in t.users if u.object_id},
            principals=[
                SeedPrincipal(str(u.object_id), object_id=str(u.object_id), principal_type="User")
                for u in t.users
                if getattr(u, "object_id", None)
            ],
        )
        for t in inventory.tenants
    ]


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
