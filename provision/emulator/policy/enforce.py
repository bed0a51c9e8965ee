"""Deny, enforced where the product writes: a secret set in Key Vault (mode
Microsoft.KeyVault.Data) and a compute instance PUT through ARM.

ARM's answer to a request a Deny assignment refuses is 403 `RequestDisallowedByPolicy`, its
`additionalInfo` holding one `PolicyViolation` whose `info` names the assignment and the
definition (policyAssignmentId, policyAssignmentName, policyAssignmentDisplayName,
policyAssignmentScope, policyAssignmentParameters, policyDefinitionId, policyDefinitionName,
policyDefinitionDisplayName, policyDefinitionEffect; as quoted in hashicorp/packer #12180 for a
Key Vault purge-protection Deny).

Key Vault's data plane answers 403 with error code `Forbidden` and inner error
`ForbiddenByPolicy`. That inner code is also what Key Vault answers when an access-policy vault
lacks a permission, so it cannot tell the two apart; no public source found quotes the message
of a Microsoft.KeyVault.Data Deny, and the emulator's message names the assignment's display
name and id (the product looks for the assignment id in the message, and otherwise uses what
its preflight read; see provision.policy.errors).
"""

from __future__ import annotations

from typing import Any

from provision import clock
from provision.emulator.arm.exceptions import ArmError
from provision.emulator.keyvault.exceptions import Forbidden
from provision.emulator.policy.models import PolicyBackend
from provision.policy.assignments import Member
from provision.policy.builtins import Rule

__all__ = ["compute_denial", "secret_denial"]

_DAY = 86400


def _violation(m: Member, scope_of_assignment: str, params: dict[str, Any]) -> dict[str, Any]:
    info = {
        "policyAssignmentId": m.assignment_id,
        "policyAssignmentName": m.assignment_id.rsplit("/", 1)[-1],
        "policyAssignmentDisplayName": m.assignment_name,
        "policyAssignmentScope": scope_of_assignment,
        "policyAssignmentParameters": params,
        "policyDefinitionId": m.builtin.arm_id,
        "policyDefinitionName": m.builtin.id,
        "policyDefinitionDisplayName": m.builtin.display_name,
        "policyDefinitionEffect": "Deny",
    }
    if m.initiative_id:
        info["policySetDefinitionId"] = m.initiative_id
        info["policyDefinitionReferenceId"] = m.reference_id
    return {"type": "PolicyViolation", "info": info}


def compute_denial(policy: PolicyBackend, compute_id: str, body: dict[str, Any]) -> None:
    """Refuse a compute instance PUT without idle shutdown under a Deny of
    Machine Learning/IdleShutdown_Audit.json (an absent or empty idleTimeBeforeShutdown)."""
    props = body.get("properties") or {}
    if not isinstance(props, dict) or props.get("computeType") != "ComputeInstance":
        return
    inner = props.get("properties") or {}
    idle = inner.get("idleTimeBeforeShutdown") if isinstance(inner, dict) else None
    if idle:
        return
    found = policy.denying(compute_id, lambda m: m.builtin.rule == Rule.COMPUTE_IDLE_SHUTDOWN)
    if found is None:
        return
    assignment = policy.assignments[found.assignment_id.lower()]
    name = compute_id.rsplit("/", 1)[-1]
    err = ArmError(
        f"Resource '{name}' was disallowed by policy. Reasons: "
        f"'{found.builtin.display_name}'. See error details for policy resource IDs.",
        status=403,
        code="RequestDisallowedByPolicy",
    )
    err.extra = {  # type: ignore[attr-defined]
        "target": name,
        "additionalInfo": [
            _violation(
                found,
                assignment["properties"]["scope"],
                dict(assignment["properties"].get("parameters") or {}),
            )
        ],
    }
    raise err


def _breaks(m: Member, expires: int | None, created: int) -> bool:
    rule = m.builtin.rule
    if rule == Rule.SECRET_EXPIRATION:
        return expires is None
    if rule == Rule.SECRET_MAX_VALIDITY:
        return expires is None or (m.days is not None and expires > created + m.days * _DAY)
    if rule == Rule.SECRET_MIN_DAYS_LEFT:
        return expires is not None and m.days is not None and expires < created + m.days * _DAY
    return False


def secret_denial(policy: PolicyBackend, vault_id: str | None, expires: int | None) -> None:
    """Refuse setting a secret (a new version, created now) that a Deny on its vault forbids."""
    if vault_id is None:
        return
    now = clock.timestamp()  # the emulator's Key Vault stamps versions by the same clock
    found = policy.denying(f"{vault_id}/secrets", lambda m: _breaks(m, expires, now))
    if found is None:
        return
    raise Forbidden(
        "Operation SecretSet is not allowed by policy. Policy assignment "
        f"'{found.assignment_name}' ('{found.assignment_id}'), policy definition "
        f"'{found.builtin.display_name}' ('{found.builtin.arm_id}'), effect Deny.",
        "ForbiddenByPolicy",
    )
