"""The plan as a value: what a tenant should hold, and what must change to get there.

Terraform's shape: reading the world yields a `TenantResult` whose `changes` are a closed set of
`Action`s on `Kind`s of item; executing it (provision.execute) and reporting it
(provision.report) are separate. A `Change` never changes after it is planned: what apply and
read-back find is recorded beside it (`applied`, `verified`, `mismatches`), not in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    @property
    def is_change(self) -> bool:
        return self.action in CHANGING

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "target": self.target,
            "action": str(self.action),
            "detail": self.detail,
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


@dataclass
class TenantResult:
    """A tenant's plan and, after apply or verify, what became of it."""

    tenant: str
    items: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    applied: int = 0
    verified: bool | None = None
    resources: dict[str, str] = field(default_factory=dict)  # where things live, for reports
    mismatches: dict[str, str] = field(default_factory=dict)  # target -> what read-back found

    @property
    def changes(self) -> list[Change]:
        return [i for i in self.items if i.is_change]

    def counts(self) -> dict[str, int]:
        out = {str(a): 0 for a in (Action.CREATE, Action.UPDATE, Action.DELETE, Action.NOOP)}
        for i in self.items:
            if str(i.action) in out:
                out[str(i.action)] += 1
        return out

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
        }
