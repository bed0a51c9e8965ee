"""The ARM calls of the access check and grant, through the ML management client's pipeline
(`_send_request`, as provision.workspace reads storage accounts): this tool ships no
azure-mgmt-authorization, and the shapes are small.

Shapes (azure-rest-api-specs):
- Microsoft.KeyVault 2023-07-01 vaults: `GET {vault id}` -> `properties.tenantId`,
  `properties.enableRbacAuthorization` ("If null or not specified, the vault is created with the
  default value of false", i.e. access policies), `properties.accessPolicies[]`;
  `PUT {vault id}/accessPolicies/add` with `{"properties": {"accessPolicies": [entry]}}` merges
  the entry's permissions into the vault's (every other entry is kept).
- Microsoft.Authorization 2022-04-01 (authorization-RoleAssignmentsCalls.json):
  `GET {scope}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId eq '{id}'`
  "returns all role assignments at, above or below the scope for the specified principal"
  (paged by `nextLink`); `PUT {scope}/.../roleAssignments/{guid}` with `properties.
  roleDefinitionId`, `principalId`, `principalType` answers 201 (200 on an update);
  authorization-RoleDefinitionsCalls.json: `GET {role definition id}` (RoleDefinitions_GetById)
  -> `properties.roleName`, `properties.permissions[].dataActions/notDataActions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provision.access.rules import NEEDED_SECRET_PERMISSIONS, SECRETS_USER_ROLE_ID

VAULT_API_VERSION = "2023-07-01"
AUTHZ_API_VERSION = "2022-04-01"
_AUTHZ = "/providers/Microsoft.Authorization"


class ArmReadError(Exception):
    """A read the check needed was refused or failed; the message says which and why."""


@dataclass(frozen=True)
class VaultAccessModel:
    """A vault as the access check needs it."""

    name: str
    id: str
    tenant_id: str
    rbac: bool
    policies: tuple[dict[str, Any], ...] = ()

    @property
    def subscription_id(self) -> str:
        return self.id.strip("/").split("/")[1]


@dataclass(frozen=True)
class RoleDefinition:
    id: str
    name: str
    permissions: tuple[dict[str, Any], ...]


def _get(ml: Any, url: str, params: dict[str, str] | None = None) -> Any:
    from azure.core.rest import HttpRequest

    return ml._send_request(HttpRequest("GET", url, params=params))


def _why(resp: Any) -> str:
    try:
        err = resp.json().get("error") or {}
    except ValueError:
        err = {}
    code = err.get("code") or resp.reason or ""
    return f"HTTP {resp.status_code} {code}".rstrip()


def read_vault(ml: Any, name: str, vault_id: str) -> VaultAccessModel:
    resp = _get(ml, vault_id, {"api-version": VAULT_API_VERSION})
    if resp.status_code == 404:
        rg = vault_id.strip("/").split("/")[3]
        raise ArmReadError(
            f"vault {name} not found in resource group {rg} (the check looks for the vault "
            "there, or as the ML workspace's own vault)"
        )
    if resp.status_code == 403:
        raise ArmReadError(f"cannot read vault {name} ({_why(resp)}): grant Reader on the vault")
    if resp.status_code != 200:
        raise ArmReadError(f"cannot read vault {name} ({_why(resp)})")
    body = resp.json()
    props = body.get("properties") or {}
    return VaultAccessModel(
        name=str(body.get("name") or name),
        id=str(body.get("id") or vault_id),
        tenant_id=str(props.get("tenantId") or ""),
        rbac=props.get("enableRbacAuthorization") is True,
        policies=tuple(p for p in props.get("accessPolicies") or [] if isinstance(p, dict)),
    )


def list_assignments(ml: Any, scope: str, object_id: str) -> list[dict[str, Any]]:
    """Role assignments of the principal at, above and below `scope` (every page)."""
    url: str | None = f"{scope}{_AUTHZ}/roleAssignments"
    params: dict[str, str] | None = {
        "api-version": AUTHZ_API_VERSION,
        "$filter": f"principalId eq '{object_id}'",
    }
    out: list[dict[str, Any]] = []
    while url:
        resp = _get(ml, url, params)
        if resp.status_code != 200:
            hint = ": grant Reader on the vault" if resp.status_code == 403 else ""
            raise ArmReadError(f"cannot list role assignments ({_why(resp)}){hint}")
        body = resp.json()
        out.extend(a for a in body.get("value") or [] if isinstance(a, dict))
        url, params = body.get("nextLink"), None  # the next link carries its own query
    return out


def read_role(ml: Any, role_definition_id: str) -> RoleDefinition:
    resp = _get(ml, role_definition_id, {"api-version": AUTHZ_API_VERSION})
    if resp.status_code != 200:
        raise ArmReadError(f"cannot read role definition {role_definition_id} ({_why(resp)})")
    props = resp.json().get("properties") or {}
    return RoleDefinition(
        id=role_definition_id,
        name=str(props.get("roleName") or role_definition_id.rsplit("/", 1)[-1]),
        permissions=tuple(p for p in props.get("permissions") or [] if isinstance(p, dict)),
    )


def put_role_assignment(
    ml: Any, vault: VaultAccessModel, object_id: str, name: str, alias: str
) -> None:
    """Assign Key Vault Secrets User to the analyst at the vault's scope (a rerun is a no-op)."""
    from azure.core.rest import HttpRequest

    role = f"/subscriptions/{vault.subscription_id}{_AUTHZ}/roleDefinitions/{SECRETS_USER_ROLE_ID}"
    body = {
        "properties": {
            "roleDefinitionId": role,
            "principalId": object_id,
            "principalType": "User",
            "description": f"msticpy-provision: analyst {alias} reads the notebook secrets",
        }
    }
    resp = ml._send_request(
        HttpRequest(
            "PUT",
            f"{vault.id}{_AUTHZ}/roleAssignments/{name}",
            params={"api-version": AUTHZ_API_VERSION},
            json=body,
        )
    )
    if resp.status_code == 409 and _code(resp) == "RoleAssignmentExists":
        return  # the same grant under another name appeared since the plan: nothing to do
    resp.raise_for_status()


def add_access_policies(ml: Any, vault: VaultAccessModel, object_ids: list[str]) -> None:
    """Add Get and List on secrets for each object id (accessPolicies/add keeps every entry)."""
    from azure.core.rest import HttpRequest

    entries = [
        {
            "tenantId": vault.tenant_id,
            "objectId": oid,
            "permissions": {"secrets": list(NEEDED_SECRET_PERMISSIONS)},
        }
        for oid in object_ids
    ]
    resp = ml._send_request(
        HttpRequest(
            "PUT",
            f"{vault.id}/accessPolicies/add",
            params={"api-version": VAULT_API_VERSION},
            json={"properties": {"accessPolicies": entries}},
        )
    )
    resp.raise_for_status()


def _code(resp: Any) -> str:
    try:
        return str((resp.json().get("error") or {}).get("code") or "")
    except ValueError:
        return ""
