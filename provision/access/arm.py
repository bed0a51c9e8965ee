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
  `GET {scope}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope() and
  assignedTo('{objectId}')` lists the assignments at or above the scope that apply to the
  principal, its groups' included, transitively (Microsoft Learn, role-assignments-list-rest:
  "This filter is transitive for groups"; `principalId eq '{id}'` would list the principal's
  own assignments only, so an analyst granted through a group would look missing); paged by
  `nextLink`;
- Microsoft.Authorization 2020-10-01 (RoleEligibilityScheduleInstance.json):
  `GET {scope}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?$filter=
  assignedTo('{userId}')` lists the principal's PIM-eligible assignments (`properties.scope`,
  `roleDefinitionId`, `principalId`): not role assignments until activated;
- `PUT {scope}/.../roleAssignments/{guid}` with `properties.roleDefinitionId`, `principalId`,
  `principalType` answers 201 (200 on an update); authorization-RoleDefinitionsCalls.json:
  `GET {role definition id}` (RoleDefinitions_GetById)
  -> `properties.roleName`, `properties.permissions[].dataActions/notDataActions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provision.access.rules import NEEDED_SECRET_PERMISSIONS, SECRETS_USER_ROLE_ID

VAULT_API_VERSION = "2023-07-01"
AUTHZ_API_VERSION = "2022-04-01"
PIM_API_VERSION = "2020-10-01"
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
    # `properties.enableSoftDelete` (2023-07-01: "If it's not set to any value(true or false)
    # when creating new key vault, it will be set to true by default"); false: deletes are final
    soft_delete: bool = True

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
        soft_delete=props.get("enableSoftDelete") is not False,
    )


def list_assignments(ml: Any, scope: str, object_id: str) -> list[dict[str, Any]]:
    """Role assignments at or above `scope` that apply to the principal, through its groups
    too (every page)."""
    return _list(
        ml,
        f"{scope}{_AUTHZ}/roleAssignments",
        {"api-version": AUTHZ_API_VERSION, "$filter": f"atScope() and assignedTo('{object_id}')"},
        "role assignments",
    )


def list_eligibilities(ml: Any, scope: str, object_id: str) -> list[dict[str, Any]]:
    """The principal's PIM-eligible role assignments (role eligibility schedule instances)."""
    return _list(
        ml,
        f"{scope}{_AUTHZ}/roleEligibilityScheduleInstances",
        {"api-version": PIM_API_VERSION, "$filter": f"assignedTo('{object_id}')"},
        "eligible role assignments",
    )


def _list(ml: Any, first: str, query: dict[str, str], what: str) -> list[dict[str, Any]]:
    url: str | None = first
    params: dict[str, str] | None = query
    out: list[dict[str, Any]] = []
    while url:
        resp = _get(ml, url, params)
        if resp.status_code != 200:
            hint = ": grant Reader on the vault" if resp.status_code == 403 else ""
            raise ArmReadError(f"cannot list {what} ({_why(resp)}){hint}")
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
    ml: Any,
    vault: VaultAccessModel,
    object_id: str,
    name: str,
    alias: str,
    principal_type: str = "User",
) -> None:
    """Assign Key Vault Secrets User to the analyst at the vault's scope (a rerun is a no-op).
    `principal_type` must be the object's own (User, Group or ServicePrincipal): ARM answers a
    mismatch with 400 UnmatchedPrincipalType."""
    from azure.core.rest import HttpRequest

    role = f"/subscriptions/{vault.subscription_id}{_AUTHZ}/roleDefinitions/{SECRETS_USER_ROLE_ID}"
    body = {
        "properties": {
            "roleDefinitionId": role,
            "principalId": object_id,
            "principalType": principal_type,
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
