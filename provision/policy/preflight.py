"""The policy preflight of one tenant: which Azure Policy assignments govern what the tool
writes or depends on, and what they will refuse, before apply writes anything.

Read in the tenant's batches (provision.tenant.read): the assignments of each resource group
holding the workspace, the storage account or a vault (one request per group), then only when
one of them applies a built-in the tool understands (provision.policy.builtins) or an
initiative: those initiatives and the groups' exemptions. Assignments are resolved by
provision.policy.assignments (enforcementMode, notScopes, initiative parameters, exemptions).

A finding that `refuses` names writes apply would make and Azure would refuse (a Deny):
plan reports it as the tenant's error, and apply stops before writing. An Audit finding is
reported and fails nothing. A group whose assignments cannot be read (no permission) is a note.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from provision import clock
from provision.access.check import pushed_vaults, vault_id
from provision.fanout import Batch, Slot
from provision.inventory.expiry import intended_dates
from provision.policy.arm import ArmReadError, list_assignments, list_exemptions, read_initiative
from provision.policy.assignments import (
    Member,
    applies,
    definition_id,
    in_effect,
    is_initiative,
)
from provision.policy.builtins import Rule, builtin

if TYPE_CHECKING:
    from provision.inventory.model import Tenant
    from provision.tenant.context import TenantRun
    from provision.tenant.secrets import SecretsPlan
    from provision.workspace import WorkspaceInfo

_SECRET_RULES = {Rule.SECRET_EXPIRATION, Rule.SECRET_MAX_VALIDITY, Rule.SECRET_MIN_DAYS_LEFT}


@dataclass(frozen=True)
class Finding:
    """One assignment's verdict on what the tool writes or depends on."""

    rule: Rule
    effect: str
    assignment: str  # display name
    assignment_id: str
    definition: str  # the built-in's display name
    definition_id: str
    targets: tuple[str, ...]
    refuses: bool  # apply's writes to `targets` will be refused
    detail: str
    initiative_id: str = ""

    @property
    def names(self) -> str:
        """`policy assignment 'NAME' (ID)`: how every message names it."""
        return f"policy assignment {self.assignment!r} ({self.assignment_id})"

    def line(self) -> str:
        what = ", ".join(self.targets)
        return f"{self.effect}: {self.definition}: {what}: {self.detail} ({self.names})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": str(self.rule),
            "effect": self.effect,
            "refuses": self.refuses,
            "assignment": self.assignment,
            "assignment_id": self.assignment_id,
            "definition": self.definition,
            "definition_id": self.definition_id,
            "initiative_id": self.initiative_id or None,
            "targets": list(self.targets),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class PolicyCheck:
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The plan's notes: every finding, and what could not be read."""
        return [f"policy: {f.line()}" for f in self.findings] + list(self.notes)

    def as_dicts(self) -> tuple[dict[str, Any], ...]:
        return tuple(f.as_dict() for f in self.findings)

    @property
    def refusals(self) -> list[Finding]:
        return [f for f in self.findings if f.refuses]

    def error(self) -> str | None:
        """The tenant's error when apply's writes would be refused, naming each assignment."""
        refused = self.refusals
        if not refused:
            return None
        return "Azure Policy will refuse what apply writes: " + "; ".join(
            f"{len(f.targets)} {f.detail} ({f.names})" for f in refused
        )


def _group(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    return "/" + "/".join(parts[:4])


def _resources(run: TenantRun, ws: WorkspaceInfo) -> dict[str, str]:
    """What the preflight judges: label -> ARM id."""
    t = run.tenant
    rg = f"/subscriptions/{t.subscription_id}/resourceGroups/{t.resource_group}"
    ml = "Microsoft.MachineLearningServices/workspaces"
    out = {
        "workspace": f"{rg}/providers/{ml}/{t.ml_workspace}",
        "storage": f"{rg}/providers/Microsoft.Storage/storageAccounts/{ws.storage_account}",
    }
    for name in pushed_vaults(run.desired):
        out[f"vault:{name}"] = vault_id(t, name, ws.key_vault_id)
    return out


@dataclass
class PolicyReads:
    resources: dict[str, str]
    assignments: dict[str, Slot[Any]]  # resource group id -> its listing (or the error)
    initiatives: dict[str, Slot[Any]] = field(default_factory=dict)
    exemptions: dict[str, Slot[Any]] = field(default_factory=dict)


def _captured(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except ArmReadError as exc:  # a note, not a failure
        return exc


def add_reads(run: TenantRun, ws: WorkspaceInfo, batch: Batch) -> PolicyReads:
    """One assignment listing per resource group the tenant's resources live in."""
    ml = run.clients.ml(run.tenant)
    resources = _resources(run, ws)
    groups = dict.fromkeys(_group(r).lower() for r in resources.values())
    return PolicyReads(
        resources,
        {
            g: batch.add(functools.partial(_captured, functools.partial(list_assignments, ml, g)))
            for g in groups
        },
    )


def _listed(reads: PolicyReads) -> list[dict[str, Any]]:
    return [
        a for slot in reads.assignments.values() if isinstance(slot.value, list) for a in slot.value
    ]


def add_followups(run: TenantRun, reads: PolicyReads, batch: Batch) -> None:
    """The initiatives and exemptions the listed assignments need (none in most tenants)."""
    ml = run.clients.ml(run.tenant)
    relevant = [
        a
        for a in _listed(reads)
        if any(applies(a, r) for r in reads.resources.values())
        and (is_initiative(definition_id(a)) or builtin(definition_id(a)) is not None)
    ]
    for a in relevant:
        target = definition_id(a).lower()
        if is_initiative(target) and target not in reads.initiatives:
            reads.initiatives[target] = batch.add(
                functools.partial(_captured, functools.partial(read_initiative, ml, target))
            )
    if relevant:
        for g in reads.assignments:
            reads.exemptions[g] = batch.add(
                functools.partial(_captured, functools.partial(list_exemptions, ml, g))
            )


def _unread(reads: PolicyReads) -> list[str]:
    notes = []
    for g, slot in {**reads.assignments, **reads.exemptions}.items():
        if isinstance(slot.value, ArmReadError):
            why = str(slot.value).split(": grant", 1)[0]
            notes.append(f"policy not checked at {g}: {why}: Reader on it reads policy")
    for slot in reads.initiatives.values():
        if isinstance(slot.value, ArmReadError):
            notes.append(f"policy initiative not evaluated: {slot.value}")
    return notes


def _finding(m: Member, targets: Iterable[str], refuses: bool, detail: str) -> Finding:
    return Finding(
        rule=m.builtin.rule,
        effect=m.effect,
        assignment=m.assignment_name,
        assignment_id=m.assignment_id,
        definition=m.builtin.display_name,
        definition_id=m.builtin.arm_id,
        targets=tuple(targets),
        refuses=refuses,
        detail=detail,
        initiative_id=m.initiative_id,
    )


def _refused_secret(m: Member, expires: datetime | None, now: datetime) -> bool:
    """Whether a secret version written now with `expires` breaks the member's rule (Azure/
    azure-policy Key Vault/Secrets_ExpirationSet.json, Secrets_ValidityPeriod.json: createdOn +
    maximumValidityInDays, Secrets_Expiry_ByDays.json: utcNow() + minimumDaysBeforeExpiration)."""
    rule, days = m.builtin.rule, m.days
    if rule == Rule.SECRET_EXPIRATION:
        return expires is None
    if rule == Rule.SECRET_MAX_VALIDITY:
        return expires is None or (days is not None and expires > now + timedelta(days=days))
    if rule == Rule.SECRET_MIN_DAYS_LEFT:
        return expires is not None and days is not None and expires < now + timedelta(days=days)
    return False


def _secret_detail(m: Member) -> str:
    """What the refused writes lack, and the inventory setting that complies."""
    if m.builtin.rule == Rule.SECRET_EXPIRATION:
        return "secret writes without an expiration date (set secret_expiry, e.g. expires_in: P90D)"
    if m.builtin.rule == Rule.SECRET_MAX_VALIDITY:
        bound = m.days if m.days is not None else 0
        return (
            f"secret writes without an expiration date within {bound} days (set secret_expiry: "
            f"expires_in: P{bound}D or less)"
        )
    return f"secret writes expiring within {m.days} days (set a later secret_expiry)"


Writes = Mapping[str, list[tuple[str, "datetime | None"]]]  # vault -> (target, its exp)


def _judge(
    run: TenantRun, ws: WorkspaceInfo, m: Member, label: str, writes: Writes, now: datetime
) -> Finding | None:
    rule = m.builtin.rule
    t: Tenant = run.tenant
    if rule in _SECRET_RULES and label.startswith("vault:"):
        targets = [
            target
            for target, expires in writes.get(label[len("vault:") :].casefold(), [])
            if _refused_secret(m, expires, now)
        ]
        if not targets:
            return None
        return _finding(m, targets, m.denies, _secret_detail(m))
    if rule == Rule.COMPUTE_IDLE_SHUTDOWN and label == "workspace":
        users = [u.alias for u in t.users if t.policy_for(u).idle_shutdown is None]
        if not users:
            return None
        return _finding(
            m,
            users,
            False,
            "compute instances created for these users (create-compute) have no idle "
            "shutdown: set compute_policy.idle_shutdown",
        )
    if rule == Rule.STORAGE_NO_SHARED_KEY and label == "storage":
        how = (
            "the tool reads the share with Shared Key: use --storage-auth token"
            if ws.storage_key
            else "the share is read with an Entra ID token: not affected"
        )
        return _finding(m, [ws.storage_account], False, how)
    if rule in (Rule.VAULT_SOFT_DELETE, Rule.VAULT_PURGE_PROTECTION) and label.startswith("vault:"):
        return _finding(m, [label[len("vault:") :]], False, "the tool does not change the vault")
    return None


def check(
    run: TenantRun,
    ws: WorkspaceInfo,
    reads: PolicyReads,
    secrets: SecretsPlan,
    now: datetime | None = None,
) -> PolicyCheck:
    assignments = _listed(reads)
    initiatives = {
        i: slot.value for i, slot in reads.initiatives.items() if isinstance(slot.value, dict)
    }
    exemptions = [
        e for slot in reads.exemptions.values() if isinstance(slot.value, list) for e in slot.value
    ]
    when = now or clock.now()
    pushes = {(p.vault, p.name): p for p in run.desired.render.pushes}
    writes: dict[str, list[tuple[str, datetime | None]]] = {}
    for vault, name in secrets.to_write:
        # the exp of the version apply writes now (provision.vault: expires_in counts from it)
        expires = intended_dates(pushes[(vault, name)].expiry, None, when).expires
        writes.setdefault(vault.casefold(), []).append((f"{vault}/{name}", expires))
    findings: dict[tuple[str, str, str], Finding] = {}
    for label, resource in reads.resources.items():
        for m in in_effect(assignments, initiatives, exemptions, resource, when):
            found = _judge(run, ws, m, label, writes, when)
            if found is not None:
                findings.setdefault((m.assignment_id, m.reference_id, label), found)
    return PolicyCheck(tuple(findings.values()), tuple(_unread(reads)))
