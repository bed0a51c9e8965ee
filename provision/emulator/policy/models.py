"""Policy state and its rules. No HTTP.

Kept from Azure (azure-rest-api-specs, Microsoft.Authorization/policy/stable/2023-04-01
`policyAssignments.json` and `policySetDefinitions.json`; preview/2022-07-01-preview
`policyExemptions.json`):
- an assignment lives at a scope (a subscription or a resource group here) and is named there;
  its id is `{scope}/providers/Microsoft.Authorization/policyAssignments/{name}`; it points at a
  definition or an initiative that must exist (404 `PolicyDefinitionNotFound` /
  `PolicySetDefinitionNotFound` otherwise);
- listing at a scope with `$filter=atScope()` returns the assignments at or above it; without a
  filter, also those below it;
- built-in definitions are global (`/providers/Microsoft.Authorization/policyDefinitions/{id}`);
  the emulator knows the ones in provision.policy.builtins; initiatives are PUT at a
  subscription;
- an assignment with `enforcementMode: DoNotEnforce` refuses nothing, nor does an exempted one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from provision.emulator.arm.exceptions import ArmError, ValidationError
from provision.emulator.authz.models import scope_covers
from provision.policy.assignments import Member, in_effect
from provision.policy.builtins import builtin

__all__ = ["PolicyBackend"]

AUTHZ = "/providers/Microsoft.Authorization"


class PolicyBackend:
    """Assignments, initiatives and exemptions, kept as the ARM bodies Azure answers with."""

    def __init__(self) -> None:
        self.assignments: dict[str, dict[str, Any]] = {}  # lower-case id -> body
        self.initiatives: dict[str, dict[str, Any]] = {}
        self.exemptions: dict[str, dict[str, Any]] = {}
        self.revision = 0

    def _changed(self) -> None:
        self.revision += 1

    # --- assignments --------------------------------------------------------------------------
    def put_assignment(
        self, scope: str, name: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        props = body.get("properties")
        if not isinstance(props, dict):
            raise ValidationError("The request content must have a properties object.")
        target = str(props.get("policyDefinitionId") or "")
        if "/policysetdefinitions/" in target.lower():
            if target.lower() not in self.initiatives:
                raise not_found("policy set definition", target)
        elif builtin(target) is None:
            raise not_found("policy definition", target)
        mode = str(props.get("enforcementMode") or "Default")
        if mode not in ("Default", "DoNotEnforce"):
            raise ValidationError(f"The enforcement mode '{mode}' is not valid.")
        ident = f"{scope}{AUTHZ}/policyAssignments/{name}"
        created = ident.lower() not in self.assignments
        stored = {
            "id": ident,
            "type": "Microsoft.Authorization/policyAssignments",
            "name": name,
            "properties": {
                **copy.deepcopy(props),
                "enforcementMode": mode,
                "notScopes": list(props.get("notScopes") or []),
                "parameters": dict(props.get("parameters") or {}),
                "scope": scope,
            },
        }
        self.assignments[ident.lower()] = stored
        self._changed()
        return stored, created

    def get(self, table: dict[str, dict[str, Any]], ident: str, what: str) -> dict[str, Any]:
        found = table.get(ident.lower())
        if found is None:
            raise not_found(what, ident)
        return found

    def delete(self, table: dict[str, dict[str, Any]], ident: str) -> dict[str, Any] | None:
        gone = table.pop(ident.lower(), None)
        if gone is not None:
            self._changed()
        return gone

    @staticmethod
    def listed(
        table: dict[str, dict[str, Any]],
        scope: str,
        at_scope: bool,
        scope_of: Callable[[dict[str, Any]], str],
    ) -> list[dict[str, Any]]:
        """At or above `scope` (`atScope()`), and below it too without a filter."""
        above = [i for i in table.values() if scope_covers(scope_of(i), scope)]
        below = [] if at_scope else [i for i in table.values() if scope_covers(scope, scope_of(i))]
        return above + [i for i in below if i not in above]

    # --- initiatives and exemptions ---------------------------------------------------------------
    def put_initiative(
        self, sub: str, name: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        props = body.get("properties")
        if not isinstance(props, dict) or not isinstance(props.get("policyDefinitions"), list):
            raise ValidationError("properties.policyDefinitions is required.")
        for member in props["policyDefinitions"]:
            target = str((member or {}).get("policyDefinitionId") or "")
            if builtin(target) is None:
                raise not_found("policy definition", target)
        ident = f"/subscriptions/{sub}{AUTHZ}/policySetDefinitions/{name}"
        created = ident.lower() not in self.initiatives
        stored = {
            "id": ident,
            "type": "Microsoft.Authorization/policySetDefinitions",
            "name": name,
            "properties": {"policyType": "Custom", **copy.deepcopy(props)},
        }
        self.initiatives[ident.lower()] = stored
        self._changed()
        return stored, created

    def put_exemption(
        self, scope: str, name: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        props = body.get("properties")
        if not isinstance(props, dict) or not props.get("exemptionCategory"):
            raise ValidationError("properties.exemptionCategory is required.")
        assignment = str(props.get("policyAssignmentId") or "")
        self.get(self.assignments, assignment, "policy assignment")
        ident = f"{scope}{AUTHZ}/policyExemptions/{name}"
        created = ident.lower() not in self.exemptions
        stored = {
            "id": ident,
            "type": "Microsoft.Authorization/policyExemptions",
            "name": name,
            "properties": copy.deepcopy(props),
        }
        self.exemptions[ident.lower()] = stored
        self._changed()
        return stored, created

    # --- enforcement --------------------------------------------------------------------------
    def denying(
        self, resource_id: str, refused: Callable[[Member], bool], now: datetime | None = None
    ) -> Member | None:
        """The first enforced Deny on the resource whose rule the request breaks, or None."""
        members = in_effect(
            self.assignments.values(),
            self.initiatives,
            self.exemptions.values(),
            resource_id,
            now or datetime.now(timezone.utc),
        )
        return next((m for m in members if m.denies and refused(m)), None)

    # --- persistence ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "assignments": list(self.assignments.values()),
            "initiatives": list(self.initiatives.values()),
            "exemptions": list(self.exemptions.values()),
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        for key in ("assignments", "initiatives", "exemptions"):
            setattr(self, key, {str(i["id"]).lower(): i for i in data.get(key, [])})


def not_found(what: str, ident: str) -> ArmError:
    """ARM's 404 for a policy object (`what`: "policy definition", "policy assignment", ...):
    the code is the name in CamelCase + NotFound, the message names the id's last segment."""
    return ArmError(
        f"The {what} '{ident.rsplit('/', 1)[-1]}' could not be found.",
        status=404,
        code=f"{what.title().replace(' ', '')}NotFound",
    )
