"""ARM operations on Azure Policy, mixed into the ARM wire (provision.emulator.arm.responses).

Routes and shapes: azure-rest-api-specs Microsoft.Authorization/policy/stable/2023-04-01
(`PolicyAssignments_Create` answers 201 with the assignment, `_Get`, `_Delete` (200 with the
deleted assignment, 204 when there was none), `_ListForResource` / `_ListForResourceGroup` /
`_List` with `$filter=atScope()`; `PolicyDefinitions_GetBuiltIn`; `PolicySetDefinitions_
CreateOrUpdate` / `_Get`) and preview/2022-07-01-preview `policyExemptions.json`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provision.emulator.arm.shapes import json_body, json_response
from provision.emulator.policy.models import PolicyBackend, not_found
from provision.policy.assignments import exemption_scope
from provision.policy.builtins import BUILTIN_PREFIX, builtin

if TYPE_CHECKING:
    from provision.emulator.state import Backend
    from provision.emulator.wire import WireRequest, WireResponse

__all__ = ["PolicyOperations"]

_ASSIGNMENTS = "/providers/Microsoft.Authorization/policyAssignments/"


def _at_scope(req: WireRequest) -> bool:
    return "atscope()" in req.query.get("$filter", "").replace(" ", "").lower()


def _assignment_scope(item: dict[str, Any]) -> str:
    return str(item["properties"]["scope"])


class PolicyOperations:
    backend: Backend

    @property
    def policy(self) -> PolicyBackend:
        return self.backend.policy

    def op_ListPolicyAssignments(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        items = PolicyBackend.listed(
            self.policy.assignments, p["scope"], _at_scope(req), _assignment_scope
        )
        return json_response(200, {"value": items})

    def op_GetPolicyAssignment(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        ident = f"{p['scope']}{_ASSIGNMENTS}{p['name']}"
        found = self.policy.get(self.policy.assignments, ident, "policy assignment")
        return json_response(200, found)

    def op_CreatePolicyAssignment(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        stored, _ = self.policy.put_assignment(p["scope"], p["name"], json_body(req))
        return json_response(201, stored)

    def op_DeletePolicyAssignment(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        gone = self.policy.delete(self.policy.assignments, f"{p['scope']}{_ASSIGNMENTS}{p['name']}")
        return json_response(200, gone) if gone is not None else json_response(204, None)

    def op_GetBuiltInPolicyDefinition(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        found = builtin(BUILTIN_PREFIX + p["name"])
        if found is None:  # a built-in the emulator does not know
            raise not_found("policy definition", p["name"])
        days = (
            {found.days_parameter: {"type": "Integer", "metadata": {}}}
            if found.days_parameter
            else {}
        )
        return json_response(
            200,
            {
                "id": found.arm_id,
                "type": "Microsoft.Authorization/policyDefinitions",
                "name": found.id,
                "properties": {
                    "displayName": found.display_name,
                    "policyType": "BuiltIn",
                    "mode": found.mode,
                    "parameters": {
                        **days,
                        "effect": {
                            "type": "String",
                            "allowedValues": ["Audit", "Deny", "Disabled"],
                            "defaultValue": "Audit",
                        },
                    },
                },
            },
        )

    def op_CreatePolicySetDefinition(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        stored, created = self.policy.put_initiative(p["sub"], p["name"], json_body(req))
        return json_response(201 if created else 200, stored)

    def op_GetPolicySetDefinition(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        ident = f"/subscriptions/{p['sub']}/providers/Microsoft.Authorization/policySetDefinitions/"
        found = self.policy.get(self.policy.initiatives, ident + p["name"], "policy set definition")
        return json_response(200, found)

    def op_ListPolicyExemptions(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        items = PolicyBackend.listed(
            self.policy.exemptions, p["scope"], _at_scope(req), exemption_scope
        )
        return json_response(200, {"value": items})

    def op_CreatePolicyExemption(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        stored, created = self.policy.put_exemption(p["scope"], p["name"], json_body(req))
        return json_response(201 if created else 200, stored)

    def op_DeletePolicyExemption(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        ident = f"{p['scope']}/providers/Microsoft.Authorization/policyExemptions/{p['name']}"
        gone = self.policy.delete(self.policy.exemptions, ident)
        return json_response(200, gone) if gone is not None else json_response(204, None)
