"""ARM operations on access: Key Vault vaults (GET, PATCH, accessPolicies/{add|replace|remove}),
role assignments (list at a scope with ``$filter``, GET, PUT, DELETE) and the built-in role
definitions. Shapes follow azure-rest-api-specs: Microsoft.KeyVault 2023-07-01 ``vaults.json``
and Microsoft.Authorization 2022-04-01 ``authorization-RoleAssignmentsCalls.json`` /
``authorization-RoleDefinitionsCalls.json``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from provision.emulator.arm.exceptions import ArmError, ValidationError
from provision.emulator.arm.models import NamedResource
from provision.emulator.arm.shapes import json_body, json_response, named_body
from provision.emulator.authz.models import RoleAssignment, RoleEligibility
from provision.emulator.authz.roles import BUILTIN_ROLES, Role, role_by_id
from provision.emulator.hostnames import vault_url
from provision.emulator.wire import KV_PREFIX, WireRequest, WireResponse

if TYPE_CHECKING:
    from provision.emulator.arm.models import ArmBackend
    from provision.emulator.state import Backend

__all__ = ["AccessOperations", "merge_access_policies"]

_AUTHZ = "/providers/Microsoft.Authorization"
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_PRINCIPAL_FILTER = re.compile(r"principalId\s+eq\s*'([^']+)'", re.IGNORECASE)
_ASSIGNED_TO_FILTER = re.compile(r"assignedTo\(\s*'([^']+)'\s*\)", re.IGNORECASE)
_CATEGORIES = ("keys", "secrets", "certificates", "storage")


def _policy_key(entry: dict[str, Any]) -> tuple[str, str, str]:
    return (
        str(entry.get("tenantId", "")).lower(),
        str(entry.get("objectId", "")).lower(),
        str(entry.get("applicationId") or "").lower(),
    )


def _check_policies(policies: Any) -> list[dict[str, Any]]:
    if not isinstance(policies, list) or not all(isinstance(p, dict) for p in policies):
        raise ValidationError("properties.accessPolicies must be an array of objects.")
    for entry in policies:
        if not entry.get("tenantId") or not entry.get("objectId"):
            raise ValidationError("Each access policy needs tenantId and objectId.")
        if not isinstance(entry.get("permissions"), dict):
            raise ValidationError("Each access policy needs a permissions object.")
    return policies


def merge_access_policies(
    current: list[dict[str, Any]], changes: list[dict[str, Any]], kind: str
) -> list[dict[str, Any]]:
    """The vault's policies after ``accessPolicies/{kind}``: ``add`` unions permissions into the
    entry of the same tenant/object/application (or appends one), ``remove`` takes the listed
    permissions away (dropping entries left empty), ``replace`` swaps whole entries."""
    out = [dict(p, permissions=dict(p.get("permissions") or {})) for p in current]
    for change in changes:
        key = _policy_key(change)
        match = next((p for p in out if _policy_key(p) == key), None)
        if kind == "replace" or (kind == "add" and match is None):
            if match is not None:
                out.remove(match)
            if kind == "replace" or change.get("permissions"):
                out.append(dict(change))
            continue
        if match is None:
            continue
        perms = match["permissions"]
        for category in _CATEGORIES:
            given = [str(x) for x in (change["permissions"].get(category) or [])]
            have = [str(x) for x in (perms.get(category) or [])]
            if kind == "add":
                perms[category] = have + [g for g in given if g.lower() not in _lower(have)]
            else:
                perms[category] = [h for h in have if h.lower() not in _lower(given)]
        if kind == "remove" and not any(perms.get(c) for c in _CATEGORIES):
            out.remove(match)
    return out


def _lower(items: list[str]) -> set[str]:
    return {i.lower() for i in items}


def _subscription_of(scope: str) -> str | None:
    parts = scope.strip("/").split("/")
    return parts[1] if len(parts) >= 2 and parts[0].lower() == "subscriptions" else None


def _role_definition_id(scope: str, role_guid: str) -> str:
    sub = _subscription_of(scope)
    prefix = f"/subscriptions/{sub}" if sub else ""
    return f"{prefix}{_AUTHZ}/roleDefinitions/{role_guid}"


def _filter(req: WireRequest) -> dict[str, Any]:
    """``$filter``: ``atScope()``, ``principalId eq '<id>'``, ``assignedTo('<id>')`` (and-ed)."""
    flt = req.query.get("$filter", "")
    principal = _PRINCIPAL_FILTER.search(flt)
    assigned = _ASSIGNED_TO_FILTER.search(flt)
    return {
        "principal_id": principal.group(1) if principal else None,
        "assigned_to": assigned.group(1) if assigned else None,
        "at_scope": "atscope()" in flt.replace(" ", "").lower(),
    }


def _eligibility_body(item: RoleEligibility) -> dict[str, Any]:
    return {
        "properties": {
            "scope": item.scope,
            "roleDefinitionId": _role_definition_id(item.scope, item.role_definition_id),
            "principalId": item.principal_id,
            "principalType": item.principal_type,
            "roleEligibilityScheduleId": item.id.replace(
                "roleEligibilityScheduleInstances", "roleEligibilitySchedules"
            ),
            "status": "Provisioned",
            "startDateTime": "2026-01-01T00:00:00Z",
            "endDateTime": None,
            "memberType": "Direct",
            "condition": None,
            "conditionVersion": None,
        },
        "id": item.id,
        "type": "Microsoft.Authorization/roleEligibilityScheduleInstances",
        "name": item.name,
    }


def _assignment_body(item: RoleAssignment) -> dict[str, Any]:
    return {
        "properties": {
            "roleDefinitionId": _role_definition_id(item.scope, item.role_definition_id),
            "principalId": item.principal_id,
            "principalType": item.principal_type,
            "scope": item.scope,
            "condition": None,
            "conditionVersion": None,
            "description": item.description,
        },
        "id": item.id,
        "type": "Microsoft.Authorization/roleAssignments",
        "name": item.name,
    }


def _role_body(role: Role, scope: str) -> dict[str, Any]:
    return {
        "properties": {
            "roleName": role.name,
            "type": "BuiltInRole",
            "description": role.description,
            "assignableScopes": ["/"],
            "permissions": [
                {
                    "actions": list(role.actions),
                    "notActions": [],
                    "dataActions": list(role.data_actions),
                    "notDataActions": [],
                }
            ],
        },
        "id": _role_definition_id(scope, role.id),
        "type": "Microsoft.Authorization/roleDefinitions",
        "name": role.id,
    }


class AccessOperations:
    """Mixed into ArmWire: the operations on vault access, role assignments and roles."""

    backend: Backend
    arm: ArmBackend

    # --- vaults ---------------------------------------------------------------------------------
    def _vault_body(self, req: WireRequest, res: NamedResource) -> dict[str, Any]:
        props = {
            "tenantId": res.tenant_id,
            "sku": {"family": "A", "name": "standard"},
            "accessPolicies": list(res.properties.get("accessPolicies") or []),
            "vaultUri": vault_url(req.base_url, KV_PREFIX, res.name, req.public_host),
            "enableSoftDelete": bool(res.properties.get("enableSoftDelete", True)),
            "softDeleteRetentionInDays": 90,
            "enableRbacAuthorization": bool(res.properties.get("enableRbacAuthorization", True)),
            "provisioningState": "Succeeded",
        }
        return named_body(res, "Microsoft.KeyVault/vaults", props)

    def op_GetVault(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        res = self.arm.vault(p["sub"], p["rg"], p["name"])
        return json_response(200, self._vault_body(req, res))

    def op_UpdateVault(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        res = self.arm.vault(p["sub"], p["rg"], p["name"])
        props = json_body(req).get("properties") or {}
        if not isinstance(props, dict):
            raise ValidationError("properties must be an object.")
        if "accessPolicies" in props:
            res.properties["accessPolicies"] = _check_policies(props["accessPolicies"])
        if "enableRbacAuthorization" in props:
            res.properties["enableRbacAuthorization"] = bool(props["enableRbacAuthorization"])
        self.arm.changed()
        return json_response(200, self._vault_body(req, res))

    def op_UpdateAccessPolicy(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        res = self.arm.vault(p["sub"], p["rg"], p["name"])
        props = json_body(req).get("properties") or {}
        changes = _check_policies(props.get("accessPolicies") if isinstance(props, dict) else None)
        current = list(res.properties.get("accessPolicies") or [])
        merged = merge_access_policies(current, changes, p["kind"].lower())
        res.properties["accessPolicies"] = merged
        self.arm.changed()
        base = named_body(res, "Microsoft.KeyVault/vaults", {})
        return json_response(
            200,
            {
                "id": f"{base['id']}/accessPolicies/{p['kind'].lower()}",
                "name": p["kind"].lower(),
                "type": "Microsoft.KeyVault/vaults/accessPolicies",
                "location": res.location,
                "properties": {"accessPolicies": merged},
            },
        )

    # --- role assignments ----------------------------------------------------------------------
    def op_ListRoleAssignments(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        items = self.backend.authz.list_for_scope(p["scope"], **_filter(req))
        return json_response(200, {"value": [_assignment_body(a) for a in items]})

    def op_ListRoleEligibilityScheduleInstances(
        self, req: WireRequest, p: dict[str, str]
    ) -> WireResponse:
        """RoleEligibilityScheduleInstances_ListForScope (2020-10-01): the same filters."""
        items = self.backend.authz.list_eligibilities(p["scope"], **_filter(req))
        return json_response(200, {"value": [_eligibility_body(e) for e in items]})

    def op_GetRoleAssignment(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        item = self.backend.authz.find(p["name"])
        if item is None or item.scope.rstrip("/").lower() != p["scope"].rstrip("/").lower():
            raise ArmError(
                f"The role assignment '{p['name']}' is not found.",
                status=404,
                code="RoleAssignmentNotFound",
            )
        return json_response(200, _assignment_body(item))

    def op_CreateRoleAssignment(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        name = p["name"]
        if not _GUID_RE.match(name):
            raise ArmError(
                f"The role assignment ID '{name}' is not valid. The role assignment ID must be a "
                "GUID.",
                status=400,
                code="InvalidRoleAssignmentId",
            )
        props = json_body(req).get("properties") or {}
        role_id = str(props.get("roleDefinitionId") or "")
        principal_id = str(props.get("principalId") or "")
        if not principal_id:
            raise ValidationError("properties.principalId is required.")
        role = role_by_id(role_id) if role_id else None
        if role is None:
            raise ArmError(
                f"The specified role definition with ID '{role_id.rsplit('/', 1)[-1]}' does not "
                "exist.",
                status=400,
                code="RoleDefinitionDoesNotExist",
            )
        authz = self.backend.authz
        given_type = str(props.get("principalType") or "User")
        actual_type = authz.principal_types.get(principal_id.lower())
        if actual_type is not None and actual_type.lower() != given_type.lower():
            # ARM checks principalType against Entra's object (seen in Bicep and Terraform
            # deployment reports of UnmatchedPrincipalType); the id is shown without dashes.
            raise ArmError(
                f"The PrincipalId '{principal_id.replace('-', '')}' has type '{actual_type}', "
                f"which is different from specified PrincipalType '{given_type}'.",
                status=400,
                code="UnmatchedPrincipalType",
            )
        existing = authz.find(name)
        for other in authz.list_for_scope(p["scope"], principal_id=principal_id, at_scope=True):
            same_scope = other.scope.rstrip("/").lower() == p["scope"].rstrip("/").lower()
            if same_scope and other.role_definition_id == role.id and other.name != name.lower():
                raise ArmError(
                    "The role assignment already exists.", status=409, code="RoleAssignmentExists"
                )
        if existing is not None:
            if (
                existing.principal_id.lower() != principal_id.lower()
                or existing.role_definition_id != role.id
            ):
                raise ArmError(
                    "Tenant ID, application ID, principal ID, and scope are not allowed to be "
                    "updated.",
                    status=400,
                    code="RoleAssignmentUpdateNotPermitted",
                )
            return json_response(201, _assignment_body(existing))
        item = authz.assign(
            p["scope"],
            role.id,
            principal_id,
            name=name.lower(),
            principal_type=given_type,
            description=props.get("description"),
        )
        return json_response(201, _assignment_body(item))

    def op_DeleteRoleAssignment(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        item = self.backend.authz.find(p["name"])
        if item is None or item.scope.rstrip("/").lower() != p["scope"].rstrip("/").lower():
            return json_response(204, None)
        self.backend.authz.delete(p["name"])
        return json_response(200, _assignment_body(item))

    # --- role definitions -----------------------------------------------------------------------
    def op_ListRoleDefinitions(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        flt = re.search(r"roleName\s+eq\s+'([^']+)'", req.query.get("$filter", ""), re.I)
        roles = [r for r in BUILTIN_ROLES if flt is None or r.name.lower() == flt.group(1).lower()]
        return json_response(200, {"value": [_role_body(r, p.get("scope", "")) for r in roles]})

    def op_GetRoleDefinition(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        role = role_by_id(p["role"])
        if role is None:
            raise ArmError(
                f"The role definition '{p['role']}' could not be found.",
                status=404,
                code="RoleDefinitionDoesNotExist",
            )
        return json_response(200, _role_body(role, p.get("scope", "")))
