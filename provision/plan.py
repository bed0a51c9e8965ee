"""The plan as a value: what a tenant should hold, and what must change to get there.

Terraform's shape: reading the world yields a `TenantPlan` whose `changes` are a closed set of
`Action`s on `Kind`s of item; executing it (provision.tenant) and reporting it (provision.report)
are separate. Plan and `Outcome` are frozen: what apply and read-back find is a separate value
(`applied`, `verified`, `mismatches`), and a `TenantResult` pairs the two for the reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import cached_property
from typing import Any

from provision.render import RenderedFile, TenantRender
from provision.secrets import SecretValue
from provision.share import USERS


class Action(str, Enum):
    """What apply does to one item."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "noop"
    REPORT = "report"  # shown to the user, never executed (compute instances)

    def __str__(self) -> str:
        return self.value


CHANGING = frozenset({Action.CREATE, Action.UPDATE, Action.DELETE})


class Kind(str, Enum):
    """What an item is."""

    SECRET = "secret"  # noqa: S105 (a kind of item, not a secret)
    FILE = "file"
    COMPUTE = "compute"
    CLEANUP = "cleanup"  # a temporary file left by an interrupted run
    ACCESS = "access"  # an analyst's read access to a vault (provision.access)

    def __str__(self) -> str:
        return self.value


class Reason(str, Enum):
    """Why a secret or file is planned as it is (shown in the plan's detail column)."""

    ABSENT_SECRET = "not in the vault"  # noqa: S105 (a reason, not a secret)
    ABSENT_FILE = "not in the share"
    VALUE_DIFFERS = "value differs"
    DISABLED = "disabled"
    PROPERTIES_DIFFER = "tags or content type differ"
    DATES_DIFFER = "expiry dates differ"  # exp/nbf patched onto the version
    DATES_DROPPED = "expiry dates no longer set"  # a new version of the same value drops them
    CONTENT_DIFFERS = "content differs"
    LEFTOVER = "temporary file left by an interrupted run"
    NONE = ""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Change:
    """One planned item: a secret, a file, a compute report or a cleanup."""

    kind: Kind
    target: str  # vault/name, Users/alias/file, compute name
    action: Action
    detail: str = ""
    # Why a secret or file is planned as it is, as a value (apply acts on it; `detail` is for
    # people and may say more).
    reason: Reason = Reason.NONE
    # A compute instance against its compute policy: {field, actual, desired, fix}
    # (provision.compute.policy_differences); carried by the JSON plan under "policy".
    policy: Mapping[str, str] | None = None
    # What the read saw of the item, for a plan's seal (a secret's version); never shown.
    seen: str = field(default="", compare=False)

    @classmethod
    def because(cls, kind: Kind, target: str, action: Action, reason: Reason) -> Change:
        return cls(kind, target, action, str(reason), reason)

    @property
    def is_change(self) -> bool:
        return self.action in CHANGING

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "target": self.target,
            "action": str(self.action),
            "detail": self.detail,
            **({"policy": dict(self.policy)} if self.policy is not None else {}),
        }


@dataclass(frozen=True)
class ExpiringSecret:
    """A secret whose `exp` (as it stands once apply has run) falls within the warning window,
    or has passed. Names its source, never its value (docs/secrets-lifecycle.md)."""

    tenant: str
    vault: str
    secret: str
    source: str
    expires: datetime
    days_left: float  # to one decimal; 0 or less once expired
    expired: bool  # `expires` has passed (not judged from the rounded days_left)

    @property
    def expires_text(self) -> str:
        return self.expires.strftime("%Y-%m-%dT%H:%M:%SZ")

    def line(self) -> str:
        """One line for people: the note (expiring) or the error (expired)."""
        where = f"secret {self.vault}/{self.secret} (source {self.source})"
        if self.expired:
            return (
                f"{where} expired {self.expires_text}: change the source's value "
                "(msticpy-provision rotate) or its expiry in the inventory"
            )
        return f"{where} expires {self.expires_text}, in {self.days_left:g} days"

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "vault": self.vault,
            "secret": self.secret,
            "source": self.source,
            "expires": self.expires_text,
            "days_left": self.days_left,
            "expired": self.expired,
        }


@dataclass
class DesiredState:
    """What one tenant should hold: its rendered files and the values of its secrets."""

    render: TenantRender
    values: dict[str, SecretValue]  # source reference -> value

    @cached_property
    def files(self) -> dict[str, RenderedFile]:
        """Share path -> file, for every user (built once: looked up per file in loops)."""
        return {
            f"{USERS}/{alias}/{name}": f
            for alias, files in self.render.user_files.items()
            for name, f in files.items()
        }


def count_actions(items: Iterable[Change]) -> dict[str, int]:
    out = {str(a): 0 for a in (Action.CREATE, Action.UPDATE, Action.DELETE, Action.NOOP)}
    for i in items:
        if str(i.action) in out:
            out[str(i.action)] += 1
    return out


@dataclass(frozen=True)
class TenantPlan:
    """What reading a tenant found: every item, the notes, where things live.

    `error` is a finding that fails the tenant without stopping apply (an analyst who cannot
    read the vault under --require-access).
    """

    tenant: str
    items: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()
    resources: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    # secrets expiring within the warning window, or expired (an expired one is also an error)
    expiring: tuple[ExpiringSecret, ...] = ()
    # The Azure Policy preflight's findings (provision.policy.preflight.Finding.as_dict)
    policy: tuple[Mapping[str, Any], ...] = ()
    # What the plan read and decided, as keyed digests (provision.saved_plan); empty unless the
    # run seals its plans
    seal: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def changes(self) -> list[Change]:
        return [i for i in self.items if i.is_change]


@dataclass(frozen=True)
class Outcome:
    """What became of a plan: how many writes apply made, and what reading back found."""

    applied: int = 0
    verified: bool | None = None
    mismatches: Mapping[str, str] = field(default_factory=dict)  # target -> what read-back found
    error: str | None = None


@dataclass(frozen=True)
class TenantResult:
    """A tenant's plan and its outcome, as reported; neither changes once made."""

    plan: TenantPlan
    outcome: Outcome = field(default_factory=Outcome)

    @classmethod
    def failed(cls, tenant: str, error: str) -> TenantResult:
        return cls(TenantPlan(tenant), Outcome(error=error))

    @property
    def tenant(self) -> str:
        return self.plan.tenant

    @property
    def items(self) -> list[Change]:
        return list(self.plan.items)

    @property
    def notes(self) -> list[str]:
        return list(self.plan.notes)

    @property
    def resources(self) -> dict[str, str]:
        return dict(self.plan.resources)

    @property
    def error(self) -> str | None:
        return self.outcome.error or self.plan.error

    @property
    def applied(self) -> int:
        return self.outcome.applied

    @property
    def verified(self) -> bool | None:
        return self.outcome.verified

    @property
    def mismatches(self) -> dict[str, str]:
        return dict(self.outcome.mismatches)

    @property
    def changes(self) -> list[Change]:
        return self.plan.changes

    @property
    def expiring(self) -> list[ExpiringSecret]:
        return list(self.plan.expiring)

    def counts(self) -> dict[str, int]:
        return count_actions(self.plan.items)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "resources": self.resources,
            "ok": self.error is None,
            "error": self.error,
            "counts": self.counts(),
            "applied": self.applied,
            "verified": self.verified,
            "notes": self.notes,
            "items": [i.as_dict() for i in self.items],
            "mismatches": self.mismatches,
            "policy": [dict(f) for f in self.plan.policy],
        }
