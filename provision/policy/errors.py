"""A 403 that Azure Policy caused, told apart from a missing permission and named.

- ARM answers 403 `RequestDisallowedByPolicy`; the error's `additionalInfo[]` holds entries of
  type `PolicyViolation` whose `info` carries policyAssignmentDisplayName, policyAssignmentId,
  policyDefinitionDisplayName, policyDefinitionEffect (hashicorp/packer #12180 quotes one;
  azure-core's ODataV4Format does not parse `additionalInfo`, so the body is read here). An
  older form puts the identifiers in the message ("Policy identifiers: '[...]'").
- Key Vault's data plane answers 403 `Forbidden` with inner error `ForbiddenByPolicy`, the same
  inner code it gives an access-policy vault's missing permission: only a policy assignment id
  in the message (`.../providers/Microsoft.Authorization/policyAssignments/...`) makes it a
  policy refusal.
"""

from __future__ import annotations

import json
import re
from typing import Any

_ASSIGNMENT_ID = re.compile(
    r"(/(?:[^\s'\"(),]+/)?providers/Microsoft\.Authorization/policyAssignments/[^\s'\"(),]+)",
    re.IGNORECASE,
)
_QUOTED_BEFORE = re.compile(r"[Pp]olicy assignment '([^']+)'")
FIX = (
    "write what the policy allows (for secrets: secret_expiry in the inventory) or ask the "
    "policy's owner for an exemption; this is not a missing permission"
)


def _body(exc: Exception) -> dict[str, Any]:
    response = getattr(exc, "response", None)
    try:
        text = response.text() if response is not None else ""
        data = json.loads(text or "{}")
    except (ValueError, TypeError, AttributeError):
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _violation(error: dict[str, Any]) -> dict[str, Any] | None:
    for entry in error.get("additionalInfo") or []:
        if isinstance(entry, dict) and entry.get("type") == "PolicyViolation":
            info = entry.get("info")
            if isinstance(info, dict):
                return info
    return None


def policy_refusal(exc: Exception, resource: str) -> str | None:
    """One line naming the policy assignment that refused the request, or None when the error
    is not a policy's."""
    if getattr(exc, "status_code", None) != 403:
        return None
    error = _body(exc)
    code = str(error.get("code") or getattr(getattr(exc, "error", None), "code", "") or "")
    message = str(error.get("message") or getattr(exc, "message", "") or "")
    info = _violation(error)
    if info is not None:
        return (
            f"{resource}: refused by Azure Policy: assignment "
            f"{info.get('policyAssignmentDisplayName') or info.get('policyAssignmentName')!r} "
            f"({info.get('policyAssignmentId')}), definition "
            f"{info.get('policyDefinitionDisplayName') or info.get('policyDefinitionName')!r}, "
            f"effect {info.get('policyDefinitionEffect') or 'Deny'} (RequestDisallowedByPolicy): "
            f"{FIX}"
        )
    found = _ASSIGNMENT_ID.search(message)
    if found is None:
        if code == "RequestDisallowedByPolicy":
            return f"{resource}: refused by Azure Policy (RequestDisallowedByPolicy): {FIX}"
        return None
    named = _QUOTED_BEFORE.search(message)
    label = f"{named.group(1)!r} " if named else ""
    return (
        f"{resource}: refused by Azure Policy: assignment {label}({found.group(1)}) "
        f"({code or 'Forbidden'}): {FIX}"
    )


def ambiguous_hint(exc: Exception) -> str:
    """For Key Vault's `ForbiddenByPolicy` without an assignment in the message: the two causes
    it can mean (empty for any other error)."""
    inner = getattr(getattr(exc, "error", None), "innererror", None) or {}
    code = inner.get("code") if isinstance(inner, dict) else None
    if code != "ForbiddenByPolicy":
        return ""
    return (
        " (Key Vault's ForbiddenByPolicy: a missing access-policy permission, or an Azure Policy "
        "assignment with effect Deny that plan could not read: see docs/policy.md)"
    )
