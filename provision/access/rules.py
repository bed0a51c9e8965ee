"""What gives an analyst read access to a vault's secrets: the rules, without any I/O.

msticpy lists a vault's secrets before it reads one (msticpy/auth/keyvault_client.py), so an
analyst needs both operations:
- on an RBAC vault (`properties.enableRbacAuthorization: true`), the data actions
  `Microsoft.KeyVault/vaults/secrets/getSecret/action` and `.../secrets/readMetadata/action`
  from role assignments at the vault or above (resource group, subscription, management group).
  A role definition's `permissions` grant `dataActions` minus `notDataActions`, and an action
  may end in `*` (Microsoft Learn, "Azure role definitions": DataActions, NotDataActions,
  wildcards). The built-in Key Vault Secrets User (4633458b-17de-408a-b874-0445c86b69e6) holds
  exactly these two.
- on an access-policy vault, an `accessPolicies` entry for the object id with the secret
  permissions `get` and `list` (or `all`) (azure-rest-api-specs, Microsoft.KeyVault vaults:
  AccessPolicyEntry, SecretPermissions; values are case-insensitive: the portal writes "Get").
  An entry that also names an `applicationId` is a compound identity (that application acting
  for the user) and does not let the user read alone.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

SECRETS_USER_ROLE_ID = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_USER_ROLE = "Key Vault Secrets User"
GET_SECRET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"  # noqa: S105 (an action)
READ_METADATA = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
NEEDED_DATA_ACTIONS = (GET_SECRET, READ_METADATA)
NEEDED_SECRET_PERMISSIONS = ("get", "list")
# Fixed namespace of the role assignment names this tool creates (uuid5): the same vault,
# analyst and role always give the same name, so a rerun of a grant is a no-op.
GRANT_NAMESPACE = uuid.UUID("0d6f5f8e-3b1c-4e7a-9a43-6b8d2c1e5f70")


def action_matches(pattern: str, action: str) -> bool:
    """Whether a role's (data) action pattern covers `action` (case-insensitive, `*` wildcard)."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, action, flags=re.IGNORECASE) is not None


def granted_data_actions(
    permissions: Iterable[Mapping[str, Any]], wanted: Iterable[str]
) -> set[str]:
    """The actions of `wanted` that a role definition's `permissions` blocks grant."""
    out: set[str] = set()
    for block in permissions:
        allowed = [str(a) for a in block.get("dataActions") or []]
        denied = [str(a) for a in block.get("notDataActions") or []]
        for action in wanted:
            if any(action_matches(a, action) for a in allowed) and not any(
                action_matches(n, action) for n in denied
            ):
                out.add(action)
    return out


def _norm_scope(scope: str) -> str:
    return "/" + scope.strip("/").lower()


def scope_applies(assignment_scope: str, resource_id: str) -> bool:
    """Whether an assignment at `assignment_scope` applies to the resource: the same scope or a
    parent of it. Management-group scopes (and the root) are always parents here: ARM returns
    them for a resource only when the resource's subscription is below them."""
    outer, inner = _norm_scope(assignment_scope), _norm_scope(resource_id)
    if outer == "/" or outer.startswith("/providers/microsoft.management/managementgroups/"):
        return True
    return inner == outer or inner.startswith(outer + "/")


def policy_permissions(
    policies: Iterable[Mapping[str, Any]], object_id: str, tenant_id: str | None
) -> set[str]:
    """The secret permissions (lower case) the vault's access policies give the object id alone."""
    out: set[str] = set()
    for entry in policies:
        if str(entry.get("objectId", "")).lower() != object_id.lower():
            continue
        if entry.get("applicationId"):
            continue  # compound identity: only that application acting for the user
        if tenant_id and str(entry.get("tenantId", "")).lower() not in ("", tenant_id.lower()):
            continue
        perms = entry.get("permissions") or {}
        out.update(str(p).lower() for p in perms.get("secrets") or [])
    return out


def policy_allows_read(permissions: set[str]) -> bool:
    return "all" in permissions or all(p in permissions for p in NEEDED_SECRET_PERMISSIONS)


def assignment_name(vault_id: str, object_id: str, role_id: str = SECRETS_USER_ROLE_ID) -> str:
    """The role assignment name (a GUID) of a grant: stable for vault, principal and role."""
    key = f"{_norm_scope(vault_id)}|{object_id.lower()}|{role_id.lower()}"
    return str(uuid.uuid5(GRANT_NAMESPACE, key))


def scope_label(scope: str, resource_id: str) -> str:
    """An assignment scope as people say it: the vault, resource group X, subscription Y."""
    s = _norm_scope(scope)
    parts = scope.strip("/").split("/")
    if s == _norm_scope(resource_id):
        return f"the vault {parts[-1]}"
    if len(parts) == 2 and parts[0].lower() == "subscriptions":
        return f"subscription {parts[1]}"
    if len(parts) == 4 and parts[2].lower() == "resourcegroups":
        return f"resource group {parts[3]}"
    if s.startswith("/providers/microsoft.management/managementgroups/"):
        return f"management group {parts[-1]}"
    return scope
