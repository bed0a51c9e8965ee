"""One tenant's run: what every step of plan, apply and verify needs, built once.

A `TenantRun` holds the run's shared clients, the tenant's bounded fan-out, its desired state and
the run's settings; the kinds of thing the tool manages (provision.tenant.secrets, .files,
.orphans, .computes, .access) each take it instead of the same values passed one by one.
`ReadMode` is the one switch saying what a read may take from the tool's record instead of
reading Azure (provision.tenant.record).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from provision.access import AccessOptions
from provision.options import DEFAULT_PRUNE_MAX, DEFAULT_WARN_EXPIRY_DAYS
from provision.workspace import StorageAuth

if TYPE_CHECKING:
    from provision.azure import Clients
    from provision.fanout import Fanout
    from provision.inventory.model import Inventory, Tenant
    from provision.plan import DesiredState
    from provision.saved_plan import SealKey


class ReadMode(str, Enum):
    """What one read of a tenant may take from the tool's record (provision.tenant.record)."""

    VERIFY = "verify"  # every byte is read; the record vouches for nothing
    # A file whose listing shows the ETag and size the record has for it is judged by the
    # record's MD5, without a download; everything else is read.
    PLAN = "plan"
    # Apply's first read: as PLAN, and what the last apply that wrote had checked is not read
    # again (the vault listings behind the orphan report unless pruning, the Sentinel workspaces
    # whose inventory entry is unchanged). An apply that writes reads again, locked, as PLAN.
    TRUST = "trust"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, kw_only=True)
class Lifecycle:
    """How a run treats orphans and an offboarded tenant's compute instances."""

    prune: bool = False
    prune_max: int = DEFAULT_PRUNE_MAX
    delete_computes: bool = False
    allow_permanent_delete: bool = False  # prune vaults without soft delete (deletes for good)

    def prunes(self, t: Tenant) -> bool:
        """Whether this run deletes `t`'s orphans: with --prune, or for an offboarded tenant."""
        return self.prune or t.absent


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """The settings of a run that every tenant shares (built once from the task's options)."""

    storage_auth: StorageAuth = StorageAuth.AUTO
    inventory: Inventory | None = None  # names inventory lines in problems found in Azure
    access: AccessOptions = field(default_factory=AccessOptions)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    lock_timeout: float = 0.0
    break_lock: bool = False  # --break-lock: break a lease on the lock this tool did not take
    # plan --no-secret-values: no secret value and no file content is read (pull requests)
    secret_values: bool = True
    # --warn-expiry: a secret expiring within this many days is a report item
    warn_expiry_days: float = DEFAULT_WARN_EXPIRY_DAYS
    # Seal each plan with this key (provision.saved_plan); apply then writes a tenant only when
    # a new read under its lock has `expected[tenant]`'s seal (a saved or a confirmed plan).
    seal_key: SealKey | None = None
    expected: Mapping[str, Mapping[str, str]] | None = None


@dataclass(frozen=True)
class TenantRun:
    """One tenant's step: shared clients, its fan-out, its desired state, the run's settings."""

    clients: Clients
    fan: Fanout
    desired: DesiredState
    settings: RunSettings
    report: Callable[[str, str], None] = lambda tenant, step: None

    @property
    def tenant(self) -> Tenant:
        return self.desired.render.tenant

    def progress(self, step: str) -> None:
        self.report(self.tenant.name, step)
