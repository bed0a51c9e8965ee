"""Each analyst's read access to the tenant's vaults: checked during plan, granted on request.

For every user with an `object_id` and every vault the tenant pushes secrets to, the plan holds
one `Kind.ACCESS` item: `noop` when the analyst can get and list secrets (`ok: ...`), `report`
when access is `missing (...)` or `unknown (...)`, and `create` for a missing access when
`--grant-access` is given (apply then grants it). On RBAC vaults ARM lists the assignments
that apply through the analyst's groups too (`assignedTo`), and an analyst who is only
PIM-eligible for a role that reads secrets is `eligible`: never granted standing access over
it, and not a failure of `--require-access` (activating it is the analyst's just-in-time step).
What the check cannot see is said plainly: group entries in access policies (reading group
membership needs Microsoft Graph), conditions on role assignments, and deny assignments.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from provision.access.arm import (
    ArmReadError,
    RoleDefinition,
    VaultAccessModel,
    add_access_policies,
    list_assignments,
    list_eligibilities,
    put_role_assignment,
    read_role,
    read_vault,
)
from provision.access.rules import (
    NEEDED_DATA_ACTIONS,
    SECRETS_USER_ROLE,
    assignment_name,
    granted_data_actions,
    policy_allows_read,
    policy_permissions,
    scope_applies,
    scope_label,
)
from provision.errors import TenantError
from provision.plan import Action, Change, Kind
from provision.workspace import explain_azure_error

if TYPE_CHECKING:
    from provision.azure import Clients
    from provision.fanout import Fanout
    from provision.inventory.model import Tenant, User
    from provision.plan import DesiredState

RBAC_GRANT_HINT = (
    "to grant with --grant-access the apply identity needs Key Vault Data Access Administrator "
    "(assigns Key Vault data roles only), Role Based Access Control Administrator (constrained "
    f"to assigning {SECRETS_USER_ROLE}) or User Access Administrator on the vault; an object id "
    "that is a group or service principal needs principal_type in its users entry"
)
POLICY_GRANT_HINT = (
    "to grant with --grant-access the apply identity needs "
    "Microsoft.KeyVault/vaults/accessPolicies/write on the vault (Key Vault Contributor)"
)
GROUPS_NOTE = (
    "vault access: a group's entry in an access-policy vault is not visible to this check "
    "(group membership needs Microsoft Graph); an analyst reported missing there may still "
    "read through a group (unknown: via a group?)"
)


@dataclass(frozen=True)
class AccessOptions:
    """`--grant-access` and `--require-access`."""

    grant: bool = False
    require: bool = False


class Status(str, Enum):
    OK = "ok"
    MISSING = "missing"
    ELIGIBLE = "eligible"  # PIM-eligible: access once the analyst activates it
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One analyst on one vault: the status and, in words, what grants it or what is needed."""

    alias: str
    object_id: str
    vault_name: str
    status: Status
    why: str
    vault: VaultAccessModel | None = None
    principal_type: str = "User"

    @property
    def target(self) -> str:
        return f"{self.alias} on {self.vault_name}"

    @property
    def grant_text(self) -> str:
        if self.vault is not None and not self.vault.rbac:
            return f"access policy with secrets Get and List on {self.vault_name}"
        return f"{SECRETS_USER_ROLE} on {self.vault_name}"


@dataclass
class AccessPlan:
    """The findings of one tenant and what apply would grant."""

    options: AccessOptions
    findings: list[Finding] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # aliases without an object_id

    @property
    def grants(self) -> list[Finding]:
        """What apply grants: every missing access, when --grant-access is given."""
        if not self.options.grant:
            return []
        return [f for f in self.findings if f.status == Status.MISSING and f.vault is not None]

    def change(self, f: Finding) -> Change:
        if f.status == Status.OK:
            return Change(Kind.ACCESS, f.target, Action.NOOP, f"ok: {f.why}")
        if f in self.grants:
            return Change(Kind.ACCESS, f.target, Action.CREATE, f"grant {f.grant_text} (missing)")
        return Change(Kind.ACCESS, f.target, Action.REPORT, f"{f.status} ({f.why})")

    def unmet(self) -> list[Finding]:
        """Findings that stay missing or unknown after this run (eligible is governed access)."""
        granted = self.grants
        return [
            f
            for f in self.findings
            if f.status not in (Status.OK, Status.ELIGIBLE) and f not in granted
        ]

    def failure(self) -> str | None:
        """With --require-access: one line naming every analyst whose access is not confirmed."""
        unmet = self.unmet()
        if not self.options.require or not unmet:
            return None
        listed = ", ".join(f"{f.target} ({f.status})" for f in unmet)
        if all(f.status == Status.MISSING for f in unmet):
            todo = "grant it with apply --grant-access"
        else:
            todo = "the plan's access rows say why"
        return f"--require-access: analyst vault access not confirmed: {listed}; {todo}"

    def items(self) -> list[Change]:
        return [self.change(f) for f in self.findings]

    def notes(self) -> list[str]:
        out = []
        if self.unchecked:
            out.append(
                f"vault access not checked for {', '.join(self.unchecked)}: no object_id in the "
                "inventory"
            )
        if any(
            f.status == Status.MISSING and f.vault is not None and not f.vault.rbac
            for f in self.findings
        ):
            out.append(GROUPS_NOTE)
        return out


def pushed_vaults(d: DesiredState) -> list[str]:
    """The vaults msticpy reads for this tenant: the inventory's vault first, then any other a
    setting names explicitly."""
    names = [p.vault for p in d.render.pushes]
    first = [d.render.tenant.key_vault] if d.render.tenant.key_vault in names else []
    return list(dict.fromkeys(first + names))


def vault_id(t: Tenant, name: str, workspace_vault_id: str | None) -> str:
    """The vault's ARM id: the workspace's own vault when the names match, else the tenant's
    subscription and resource group (where the inventory's vault is expected)."""
    if (
        workspace_vault_id
        and workspace_vault_id.rstrip("/").rsplit("/", 1)[-1].lower() == name.lower()
    ):
        return workspace_vault_id
    return (
        f"/subscriptions/{t.subscription_id}/resourceGroups/{t.resource_group}"
        f"/providers/Microsoft.KeyVault/vaults/{name}"
    )


class _Roles:
    """Role definitions read once per check (many analysts share a few roles)."""

    def __init__(self, ml: Any) -> None:
        self.ml = ml
        self._cache: dict[str, RoleDefinition] = {}
        self._lock = threading.Lock()

    def get(self, role_definition_id: str) -> RoleDefinition:
        key = role_definition_id.lower()
        with self._lock:
            known = self._cache.get(key)
        if known is None:
            known = read_role(self.ml, role_definition_id)
            with self._lock:
                self._cache[key] = known
        return known


def check_rbac(ml: Any, roles: _Roles, vault: VaultAccessModel, user: User) -> Finding:
    oid = str(user.object_id)
    covered: dict[str, list[str]] = {a: [] for a in NEEDED_DATA_ACTIONS}
    conditional: list[str] = []
    for a in list_assignments(ml, vault.id, oid):
        props = a.get("properties") or {}
        scope = str(props.get("scope") or "")
        if not scope_applies(scope, vault.id):
            continue  # below the vault (another resource)
        role = roles.get(str(props.get("roleDefinitionId") or ""))
        granted = granted_data_actions(role.permissions, NEEDED_DATA_ACTIONS)
        if not granted:
            continue
        where = f"{role.name} on {scope_label(scope, vault.id)}{_through(props, oid)}"
        if props.get("condition"):
            conditional.append(where)
            continue
        for action in granted:
            covered[action].append(where)
    if all(covered.values()):
        grants = list(dict.fromkeys(w for ws in covered.values() for w in ws))
        return _finding(user, vault, Status.OK, ", ".join(grants))
    if conditional:
        return _finding(
            user,
            vault,
            Status.UNKNOWN,
            f"{', '.join(conditional)} has a condition this check does not evaluate",
        )
    eligible = _eligible_for(ml, roles, vault, oid)
    if eligible:
        return _finding(
            user,
            vault,
            Status.ELIGIBLE,
            f"PIM-eligible for {', '.join(eligible)}: the analyst activates it; no standing "
            "access is granted over it",
        )
    return _finding(user, vault, Status.MISSING, f"needs {SECRETS_USER_ROLE} on {vault.name}")


def _through(props: dict[str, Any], oid: str) -> str:
    """How an assignment reaches the analyst: directly, or through a group."""
    principal = str(props.get("principalId") or "")
    if principal.lower() == oid.lower():
        return ""
    return f" through group {principal}"


def _eligible_for(ml: Any, roles: _Roles, vault: VaultAccessModel, oid: str) -> list[str]:
    """The PIM-eligible assignments at or above the vault whose role reads secrets."""
    out: list[str] = []
    for e in list_eligibilities(ml, vault.id, oid):
        props = e.get("properties") or {}
        scope = str(props.get("scope") or "")
        if not scope_applies(scope, vault.id):
            continue
        role = roles.get(str(props.get("roleDefinitionId") or ""))
        if set(granted_data_actions(role.permissions, NEEDED_DATA_ACTIONS)) == set(
            NEEDED_DATA_ACTIONS
        ):
            out.append(f"{role.name} on {scope_label(scope, vault.id)}{_through(props, oid)}")
    return list(dict.fromkeys(out))


def check_policy(vault: VaultAccessModel, user: User) -> Finding:
    perms = policy_permissions(vault.policies, str(user.object_id), vault.tenant_id)
    if policy_allows_read(perms):
        return _finding(user, vault, Status.OK, "access policy (secrets get, list)")
    have = f"; has {', '.join(sorted(perms))}" if perms else ""
    return _finding(
        user,
        vault,
        Status.MISSING,
        f"needs an access policy with secrets Get and List on {vault.name}{have}",
    )


def _finding(user: User, vault: VaultAccessModel, status: Status, why: str) -> Finding:
    return Finding(
        user.alias, str(user.object_id), vault.name, status, why, vault, user.principal_type
    )


def plan_access(
    clients: Clients,
    fan: Fanout,
    d: DesiredState,
    workspace_vault_id: str | None,
    options: AccessOptions,
) -> AccessPlan:
    """Check every analyst with an object_id on every vault the tenant pushes secrets to."""
    t = d.render.tenant
    plan = AccessPlan(options)
    vaults = pushed_vaults(d)
    if not vaults:
        return plan  # nothing in Key Vault (secret_store: env): analysts need no vault access
    users = [u for u in t.user_list if u.object_id]
    plan.unchecked = [u.alias for u in t.user_list if not u.object_id]
    if not users:
        return plan
    ml = clients.ml(t)
    roles = _Roles(ml)

    def one_vault(name: str) -> VaultAccessModel | str:
        try:
            return read_vault(ml, name, vault_id(t, name, workspace_vault_id))
        except ArmReadError as exc:
            return str(exc)

    read = dict(zip(vaults, fan.map(one_vault, vaults), strict=True))

    def one(pair: tuple[str, User]) -> Finding:
        name, user = pair
        vault = read[name]
        if isinstance(vault, str):
            return Finding(user.alias, str(user.object_id), name, Status.UNKNOWN, vault)
        if not vault.rbac:
            return check_policy(vault, user)
        try:
            return check_rbac(ml, roles, vault, user)
        except ArmReadError as exc:
            return Finding(user.alias, str(user.object_id), name, Status.UNKNOWN, str(exc), vault)

    plan.findings = fan.map(one, [(v, u) for v in vaults for u in users])
    return plan


def grant_access(clients: Clients, fan: Fanout, t: Tenant, plan: AccessPlan) -> int:
    """Create every planned grant; return how many analyst accesses were granted.

    RBAC vaults: one role assignment per analyst, named from vault, analyst and role. Access-
    policy vaults: one `accessPolicies/add` per vault carrying every analyst missing there.
    """
    grants = plan.grants
    if not grants:
        return 0
    ml = clients.ml(t)
    jobs: list[Callable[[], None]] = []
    policy_vaults: dict[str, tuple[VaultAccessModel, list[Finding]]] = {}
    for f in grants:
        assert f.vault is not None  # grants only hold vaults that were read
        if f.vault.rbac:
            name = assignment_name(f.vault.id, f.object_id)
            put = functools.partial(
                put_role_assignment, ml, f.vault, f.object_id, name, f.alias, f.principal_type
            )
            jobs.append(_explained(t, f"role assignment for {f.target}", RBAC_GRANT_HINT, put))
        else:
            policy_vaults.setdefault(f.vault.id.lower(), (f.vault, []))[1].append(f)
    for vault, found in policy_vaults.values():
        add = functools.partial(add_access_policies, ml, vault, [f.object_id for f in found])
        who = ", ".join(f.alias for f in found)
        jobs.append(
            _explained(t, f"access policy for {who} on {vault.name}", POLICY_GRANT_HINT, add)
        )
    fan.run_all(jobs)
    return len(grants)


def _explained(t: Tenant, what: str, hint: str, job: Callable[[], None]) -> Callable[[], None]:
    """The job, its Azure errors turned into one line naming what failed and the role needed."""

    def run() -> None:
        from azure.core.exceptions import AzureError

        try:
            job()
        except AzureError as exc:
            code = str(getattr(getattr(exc, "error", None), "code", None) or "")
            if code == "UnmatchedPrincipalType" or "UnmatchedPrincipalType" in str(exc):
                raise TenantError(
                    f"{what} (UnmatchedPrincipalType): the object id is not of the type sent; "
                    "set principal_type (User, Group or ServicePrincipal) in its users entry"
                ) from None
            raise TenantError(explain_azure_error(exc, t, what, hint)) from None

    return run


def read_back_access(
    clients: Clients, fan: Fanout, d: DesiredState, workspace_vault_id: str | None, plan: AccessPlan
) -> dict[str, str]:
    """Check again what was granted: target -> what the check now finds (empty when all ok)."""
    granted = {f.target for f in plan.grants}
    if not granted:
        return {}
    again = plan_access(clients, fan, d, workspace_vault_id, AccessOptions())
    return {
        f.target: f"access {f.status} after the grant ({f.why})"
        for f in again.findings
        if f.target in granted and f.status != Status.OK
    }
