"""Role assignments and the rules of reading them. No HTTP.

Rules kept from Azure RBAC: an assignment at a scope applies to every scope below it (resource
group -> resource -> child), so a check at a vault or a share also sees assignments at its
resource group and subscription; scopes are compared case-insensitively; a role's data actions
may end in ``*`` (``Microsoft.KeyVault/vaults/secrets/*``). Listing at a scope follows the
REST API: no filter -> assignments at, above and below the scope; ``atScope()`` -> at or above;
``principalId eq '<id>'`` -> at, above and below, for that principal only;
``assignedTo('<id>')`` -> those of the principal and of every group it is a member of,
transitively (Microsoft Learn, role-assignments-list-rest: "This filter is transitive for
groups"). Groups hold members (users, service principals, groups). PIM-eligible assignments
(``roleEligibilityScheduleInstances``, Microsoft.Authorization 2020-10-01) are kept apart: they
are not role assignments until activated and grant nothing.
"""

from __future__ import annotations

import fnmatch
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from provision.emulator.authz.roles import Role, role_by_id

__all__ = ["AuthzBackend", "RoleAssignment", "RoleEligibility", "scope_covers"]


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


@dataclass
class RoleEligibility:
    """A PIM-eligible assignment (one role eligibility schedule instance): no access until the
    principal activates it."""

    name: str  # a GUID
    scope: str
    role_definition_id: str  # the role's GUID
    principal_id: str
    principal_type: str = "User"

    @property
    def id(self) -> str:
        kind = "roleEligibilityScheduleInstances"
        return f"{self.scope.rstrip('/')}/providers/Microsoft.Authorization/{kind}/{self.name}"


class AuthzBackend:
    """Every role assignment of the emulator, keyed by lower-case assignment name; the groups'
    members; the PIM-eligible assignments."""

    def __init__(self) -> None:
        self.assignments: dict[str, RoleAssignment] = {}
        self.members: dict[str, set[str]] = {}  # group object id -> member object ids (lower)
        self.eligibilities: dict[str, RoleEligibility] = {}
        self.principal_types: dict[str, str] = {}  # object id (lower) -> User | Group | ...
        self.revision = 0

    def set_principal_type(self, object_id: str, principal_type: str) -> None:
        self.principal_types[object_id.lower()] = principal_type

    def add_member(self, group_id: str, member_id: str) -> None:
        self.members.setdefault(group_id.lower(), set()).add(member_id.lower())
        self.revision += 1

    def identities_of(self, principal_id: str) -> set[str]:
        """The principal and every group it belongs to, directly or through other groups."""
        found = {principal_id.lower()}
        changed = True
        while changed:
            changed = False
            for group, members in self.members.items():
                if group not in found and members & found:
                    found.add(group)
                    changed = True
        return found

    def make_eligible(
        self, scope: str, role_id: str, principal_id: str, *, principal_type: str = "User"
    ) -> RoleEligibility:
        role = role_by_id(role_id)
        role_guid = role.id if role else role_id.rsplit("/", 1)[-1]
        key = f"{_norm(scope)}|{role_guid}|{principal_id.lower()}"
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
        item = RoleEligibility(name, scope, role_guid, principal_id, principal_type)
        self.eligibilities[name] = item
        self.revision += 1
        return item

    def list_eligibilities(
        self,
        scope: str,
        *,
        principal_id: str | None = None,
        assigned_to: str | None = None,
        at_scope: bool = False,
    ) -> list[RoleEligibility]:
        who = self._who(principal_id, assigned_to)
        out = [
            e
            for e in self.eligibilities.values()
            if self._in_scope(e.scope, scope, at_scope)
            and (who is None or e.principal_id.lower() in who)
        ]
        return sorted(out, key=lambda e: (len(e.scope), e.name))

    def _who(self, principal_id: str | None, assigned_to: str | None) -> set[str] | None:
        if assigned_to is not None:
            return self.identities_of(assigned_to)
        if principal_id is not None:
            return {principal_id.lower()}
        return None

    @staticmethod
    def _in_scope(item_scope: str, scope: str, at_scope: bool) -> bool:
        above = scope_covers(item_scope, scope)
        below = scope_covers(scope, item_scope)
        return above or (below and not at_scope)

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
        self,
        scope: str,
        *,
        principal_id: str | None = None,
        assigned_to: str | None = None,
        at_scope: bool = False,
    ) -> list[RoleAssignment]:
        who = self._who(principal_id, assigned_to)
        out = [
            item
            for item in self.assignments.values()
            if self._in_scope(item.scope, scope, at_scope)
            and (who is None or item.principal_id.lower() in who)
        ]
        return sorted(out, key=lambda a: (len(a.scope), a.name))

    def allows_data_action(self, principal_id: str, scope: str, action: str) -> bool:
        """Whether any role assigned to the principal, or to a group it is in, at or above
        `scope` grants `action` (eligible assignments grant nothing until activated)."""
        wanted = action.lower()
        for item in self.list_for_scope(scope, assigned_to=principal_id, at_scope=True):
            role = item.role
            if role is not None and any(
                fnmatch.fnmatchcase(wanted, pattern.lower()) for pattern in role.data_actions
            ):
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        return {
            "assignments": [asdict(a) for a in self.assignments.values()],
            "members": {g: sorted(m) for g, m in self.members.items()},
            "eligibilities": [asdict(e) for e in self.eligibilities.values()],
            "principal_types": dict(self.principal_types),
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        self.assignments = {
            a["name"].lower(): RoleAssignment(**a) for a in data.get("assignments", [])
        }
        self.members = {g: set(m) for g, m in (data.get("members") or {}).items()}
        self.eligibilities = {
            e["name"]: RoleEligibility(**e) for e in data.get("eligibilities", [])
        }
        self.principal_types = dict(data.get("principal_types") or {})
