"""The ARM reads of the policy preflight, through the ML management client's pipeline (as
provision.access.arm reads role assignments: this tool ships no policy SDK).

- Microsoft.Authorization/policy/stable/2023-04-01 `policyAssignments.json`,
  PolicyAssignments_ListForResourceGroup: `GET /subscriptions/{s}/resourceGroups/{rg}/providers/
  Microsoft.Authorization/policyAssignments`; without `$filter` "the unfiltered list includes
  all policy assignments associated with the resource group, including those that apply
  directly or apply from containing scopes, as well as any applied to resources contained
  within the resource group": management group and subscription assignments, the group's, and
  those on the vault, storage account and workspace in it, in one request per resource group
  (the preflight keeps the ones whose scope holds each resource);
- `policySetDefinitions.json`, PolicySetDefinitions_GetBuiltIn / _Get: `GET {initiative id}`;
- preview/2022-07-01-preview `policyExemptions.json`, PolicyExemptions_ListForResourceGroup:
  the same rule for exemptions (read only when an assignment the tool understands applies).
Reading any of these needs `Microsoft.Authorization/policy*/read`, which Reader has.
"""

from __future__ import annotations

from typing import Any

from provision.access.arm import ArmReadError, _get, _list, _why

ASSIGNMENTS_API_VERSION = "2023-04-01"
EXEMPTIONS_API_VERSION = "2022-07-01-preview"
_AUTHZ = "/providers/Microsoft.Authorization"

__all__ = ["ArmReadError", "list_assignments", "list_exemptions", "read_initiative"]


def list_assignments(ml: Any, resource_group_id: str) -> list[dict[str, Any]]:
    return _list(
        ml,
        f"{resource_group_id}{_AUTHZ}/policyAssignments",
        {"api-version": ASSIGNMENTS_API_VERSION},
        "policy assignments",
    )


def list_exemptions(ml: Any, resource_group_id: str) -> list[dict[str, Any]]:
    return _list(
        ml,
        f"{resource_group_id}{_AUTHZ}/policyExemptions",
        {"api-version": EXEMPTIONS_API_VERSION},
        "policy exemptions",
    )


def read_initiative(ml: Any, initiative_id: str) -> dict[str, Any]:
    resp = _get(ml, initiative_id, {"api-version": ASSIGNMENTS_API_VERSION})
    if resp.status_code != 200:
        raise ArmReadError(f"cannot read initiative {initiative_id} ({_why(resp)})")
    body = resp.json()
    return body if isinstance(body, dict) else {}
