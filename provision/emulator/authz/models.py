"""Role assignments and the rules of reading them. No HTTP.

Rules kept from Azure RBAC: an assignment at a scope applies to every scope below it (resource
group -> resource -> child), so a check at a vault or a share also sees assignments at its
resource group and subscription; scopes are compared case-insensitively; a role's data actions
may end in ``*`` (``Microsoft.KeyVault/vaults/secrets/*``). Listing at a scope follows the
REST API: no filter -> assignments at, above and below the scope; ``atScope()`` -> at or above;
``principalId eq '<id>'`` -> at, above and below, for that principal.
"""

from __future__ import annotations

import fnmatch
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from provision.emulator.authz.roles import Role, role_by_id

__all__ = ["AuthzBackend", "RoleAssignment", "scope_covers"]


def _norm(scope: str) -> str:
    return "/" + scope.strip("/").lower()


def scope_covers(outer: str, inner: str) -> bool:
    """True when an assignment at `outer` applies at `inner` (same scope or a parent of it)."""
    a, b = _norm(outer), _norm(inner)
    return a == "/" or b == a or b.startswith(a + "/")


@dataclass
class RoleAssignment:
    name: str  # a GUID
    scope: str
    role_definition_id: str  # the role's GUID
    principal_id: str
    principal_type: str = "ServicePrincipal"
    description: str | None = None

    @property
    def id(self) -> str:
        scope = self.scope.rstrip("/")
        return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{self.name}"

    @property
    def role(self) -> Role | None:
        return role_by_id(self.role_definition_id)


class AuthzBackend:
    """Every role assignment of the emulator, keyed by lower-case assignment name."""

    def __init__(self) -> None:
        self.assignments: dict[str, RoleAssignment] = {}
        self.revision = 0

    def assign(
        self,
        scope: str,
        role_id: str,
        principal_id: str,
        *,
        name: str | None = None,
        principal_type: str = "ServicePrincipal",
        description: str | None = None,
    ) -> RoleAssignment:
        """Create (or, under the same name, replace) an assignment; idempotent for seeding."""
        role = role_by_id(role_id)
        role_guid = role.id if role else role_id.rsplit("/", 1)[-1]
        for existing in self.assignments.values():
            if (
                name is None
                and _norm(existing.scope) == _norm(scope)
                and existing.role_definition_id == role_guid
                and existing.principal_id.lower() == principal_id.lower()
            ):
                return existing
        item = RoleAssignment(
            name=name or str(uuid.uuid4()),
            scope=scope,
            role_definition_id=role_guid,
            principal_id=principal_id,
            principal_type=principal_type,
            description=description,
        )
        self.assignments[item.name.lower()] = item
        self.revision += 1
        return item

    def find(self, name: str) -> RoleAssignment | None:
        return self.assignments.get(name.lower())

    def delete(self, name: str) -> RoleAssignment | None:
        item = self.assignments.pop(name.lower(), None)
        if item is not None:
            self.revision += 1
        return item

    def list_for_scope(
        self, scope: str, *, principal_id: str | None = None, at_scope: bool = False
    ) -> list[RoleAssignment]:
        out = []
        for item in self.assignments.values():
            above = scope_covers(item.scope, scope)
            below = scope_covers(scope, item.scope)
            if not (above or (below and not at_scope)):
                continue
            if principal_id is not None and item.principal_id.lower() != principal_id.lower():
                continue
            out.append(item)
        return sorted(out, key=lambda a: (len(a.scope), a.name))

    def allows_data_action(self, principal_id: str, scope: str, action: str) -> bool:
        """Whether any role assigned to the principal at or above `scope` grants `action`."""
        wanted = action.lower()
        for item in self.list_for_scope(scope, principal_id=principal_id, at_scope=True):
            role = item.role
            if role is not None and any(
                fnmatch.fnmatchcase(wanted, pattern.lower()) for pattern in role.data_actions
            ):
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        return {"assignments": [asdict(a) for a in self.assignments.values()]}

    def load_dict(self, data: dict[str, Any]) -> None:
        self.assignments = {
            a["name"].lower(): RoleAssignment(**a) for a in data.get("assignments", [])
        }
