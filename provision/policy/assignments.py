"""How an Azure Policy assignment reaches one resource, as pure functions over ARM's JSON.

Shapes (azure-rest-api-specs, specification/resources/resource-manager/Microsoft.Authorization/
policy/stable/2023-04-01 `policyAssignments.json`, `policySetDefinitions.json`; exemptions
from preview/2022-07-01-preview `policyExemptions.json`):
- an assignment: `properties.policyDefinitionId` (a definition or an initiative),
  `properties.parameters` (`{name: {"value": ...}}`), `properties.enforcementMode`
  (`Default` | `DoNotEnforce`: "The policy effect is not enforced during resource creation or
  update"), `properties.notScopes`, `properties.scope`, `properties.displayName`;
- an initiative: `properties.parameters` (`{name: {"defaultValue": ...}}`) and
  `properties.policyDefinitions[]` with `policyDefinitionId`, `policyDefinitionReferenceId`
  and `parameters` whose values are literals or `[parameters('name')]`, the initiative's own
  parameter (the usual way a baseline sets a member's effect);
- an exemption: `properties.policyAssignmentId`, `properties.policyDefinitionReferenceIds`
  (empty: the whole assignment), `properties.expiresOn`.

Both the product's preflight (provision.policy.preflight) and the emulator's enforcement
(provision.emulator.policy) resolve assignments here: one reading of the spec.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from provision.policy.builtins import DEFAULT_EFFECT, Builtin, builtin

SET_MARKER = "/policysetdefinitions/"
_EXEMPTIONS = "/providers/microsoft.authorization/policyexemptions/"
_PARAMETER_REF = re.compile(r"^\[parameters\('([^']+)'\)\]$")


@dataclass(frozen=True)
class Member:
    """One built-in the tool understands, as an assignment applies it."""

    assignment_id: str
    assignment_name: str  # display name, or the name when it has none
    builtin: Builtin
    effect: str  # Audit, Deny or Disabled (as written; compare case-insensitively)
    days: int | None = None  # the bounded-expiry parameter, when the built-in has one
    reference_id: str = ""  # the member's policyDefinitionReferenceId in an initiative
    initiative_id: str = ""

    @property
    def denies(self) -> bool:
        return self.effect.lower() == "deny"

    @property
    def audits(self) -> bool:
        return self.effect.lower() == "audit"


def _props(item: Mapping[str, Any]) -> Mapping[str, Any]:
    props = item.get("properties")
    return props if isinstance(props, Mapping) else {}


def _under(resource_id: str, scope: str) -> bool:
    r, s = resource_id.rstrip("/").lower(), scope.rstrip("/").lower()
    return r == s or r.startswith(s + "/")


def applies(assignment: Mapping[str, Any], resource_id: str) -> bool:
    """Whether the assignment governs the resource: its scope contains it (a management group
    scope always does: ARM lists it for the resource only when it does) and no notScope does."""
    props = _props(assignment)
    scope = str(props.get("scope") or "")
    in_group = scope.lower().startswith("/providers/microsoft.management/")
    if scope and not in_group and not _under(resource_id, scope):
        return False
    return not any(_under(resource_id, str(n)) for n in props.get("notScopes") or [])


def enforced(assignment: Mapping[str, Any]) -> bool:
    return str(_props(assignment).get("enforcementMode") or "Default").lower() != "donotenforce"


def display_name(assignment: Mapping[str, Any]) -> str:
    return str(_props(assignment).get("displayName") or assignment.get("name") or "")


def definition_id(assignment: Mapping[str, Any]) -> str:
    return str(_props(assignment).get("policyDefinitionId") or "")


def is_initiative(definition: str) -> bool:
    return SET_MARKER in definition.lower()


def _values(params: Any) -> dict[str, Any]:
    """`{name: {"value": v}}` -> `{name (lower case): v}`."""
    if not isinstance(params, Mapping):
        return {}
    return {str(k).lower(): v.get("value") for k, v in params.items() if isinstance(v, Mapping)}


def _defaults(params: Any) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        return {}
    return {
        str(k).lower(): v.get("defaultValue")
        for k, v in params.items()
        if isinstance(v, Mapping) and "defaultValue" in v
    }


def _member(
    assignment: Mapping[str, Any],
    found: Builtin,
    values: Mapping[str, Any],
    reference_id: str = "",
    initiative_id: str = "",
) -> Member:
    days = values.get(found.days_parameter.lower()) if found.days_parameter else None
    return Member(
        assignment_id=str(assignment.get("id") or ""),
        assignment_name=display_name(assignment),
        builtin=found,
        effect=str(values.get("effect") or DEFAULT_EFFECT),
        days=int(days) if isinstance(days, (int, float, str)) and str(days).isdigit() else None,
        reference_id=reference_id,
        initiative_id=initiative_id,
    )


def members(
    assignment: Mapping[str, Any], initiatives: Mapping[str, Mapping[str, Any]]
) -> list[Member]:
    """The built-ins the tool understands that the assignment applies, each with its effect and
    parameters resolved. `initiatives`: initiative id (lower case) -> its ARM body; an
    initiative missing from it contributes nothing (the caller notes that it was not read)."""
    given = _values(_props(assignment).get("parameters"))
    target = definition_id(assignment)
    if not is_initiative(target):
        found = builtin(target)
        return [_member(assignment, found, given)] if found else []
    initiative = initiatives.get(target.lower())
    if initiative is None:
        return []
    props = _props(initiative)
    outer = {**_defaults(props.get("parameters")), **given}
    out = []
    for entry in props.get("policyDefinitions") or []:
        if not isinstance(entry, Mapping):
            continue
        found = builtin(str(entry.get("policyDefinitionId") or ""))
        if found is None:
            continue
        values = {}
        for name, value in _values(entry.get("parameters")).items():
            ref = _PARAMETER_REF.match(value) if isinstance(value, str) else None
            values[name] = outer.get(ref.group(1).lower()) if ref else value
        out.append(
            _member(
                assignment,
                found,
                values,
                str(entry.get("policyDefinitionReferenceId") or ""),
                target,
            )
        )
    return out


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def exemption_scope(exemption: Mapping[str, Any]) -> str:
    ident = str(exemption.get("id") or "")
    at = ident.lower().find(_EXEMPTIONS)
    return ident[:at] if at >= 0 else ""


def exempted(
    member: Member,
    exemptions: Iterable[Mapping[str, Any]],
    resource_id: str,
    now: datetime,
) -> Mapping[str, Any] | None:
    """The exemption that lifts `member` from the resource, or None. An exemption names the
    assignment, optionally only some members of an initiative, and may have expired."""
    for ex in exemptions:
        props = _props(ex)
        if str(props.get("policyAssignmentId") or "").lower() != member.assignment_id.lower():
            continue
        scope = exemption_scope(ex)
        if scope and not _under(resource_id, scope):
            continue
        refs = [str(r).lower() for r in props.get("policyDefinitionReferenceIds") or []]
        if refs and member.reference_id.lower() not in refs:
            continue
        expires = _parse_time(str(props.get("expiresOn") or ""))
        if expires is not None and expires <= now:
            continue
        return ex
    return None


def in_effect(
    assignments: Iterable[Mapping[str, Any]],
    initiatives: Mapping[str, Mapping[str, Any]],
    exemptions: Iterable[Mapping[str, Any]],
    resource_id: str,
    now: datetime,
) -> list[Member]:
    """Every understood built-in enforced on the resource: assignments that apply to it, not
    DoNotEnforce, effect not Disabled, not exempted."""
    held = list(exemptions)
    out = []
    for a in assignments:
        if not applies(a, resource_id) or not enforced(a):
            continue
        for m in members(a, initiatives):
            if m.effect.lower() == "disabled" or exempted(m, held, resource_id, now):
                continue
            out.append(m)
    return out
