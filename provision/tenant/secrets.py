"""Secrets: every secret the tenant pushes, read, planned, written and read back.

The Key Vault calls and their rules (tags, disabled secrets, soft-deleted names) are
provision.vault's; this module decides which secrets each step touches, as batches.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from provision import clock
from provision.errors import TenantError
from provision.fanout import Batch, Slot
from provision.inventory.expiry import days_left, intended_dates
from provision.msticpy_contract.secret_names import SecretPush
from provision.plan import Action, Change, ExpiringSecret, Kind, Reason
from provision.tenant.context import TenantRun
from provision.vault import (
    READ_BACK_DIFFERS,
    SecretRead,
    judge_properties,
    plan_secret,
    read_back_matches,
    write_secret,
)
from provision.workspace import explain_azure_error

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretProperties

Key = tuple[str, str]  # (vault as the inventory spells it, secret name)


def key(p: SecretPush) -> Key:
    return (p.vault, p.name)


@dataclass(frozen=True)
class SecretsPlan:
    """Each pushed secret's planned change, in the inventory's push order, and the `exp` of
    the version that stands once apply has run."""

    changes: Mapping[Key, Change]
    expires: Mapping[Key, datetime | None] = field(default_factory=dict)

    @property
    def items(self) -> list[Change]:
        return list(self.changes.values())

    @property
    def to_write(self) -> list[Key]:
        return [k for k, c in self.changes.items() if c.is_change]


def _read(run: TenantRun, p: SecretPush) -> SecretRead:
    return plan_secret(run.clients.secrets(run.tenant, p.vault), run.desired, p)


def first_reads(run: TenantRun, batch: Batch, warmed: str) -> dict[Key, Slot[SecretRead]]:
    """The first secret of each vault but `warmed` (whose first request the batch already has).
    The first request to a vault answers Key Vault's auth challenge (401, then again with a
    token) and the client caches it: these go in a batch before the others, so that the rest,
    sent concurrently, do not each pay that round trip."""
    first = {p.vault: p for p in reversed(run.desired.render.pushes)}  # first push per vault
    return {
        key(p): batch.add(functools.partial(_read, run, p))
        for vault, p in first.items()
        if vault.casefold() != warmed.casefold()
    }


def other_reads(
    run: TenantRun, batch: Batch, done: Mapping[Key, object]
) -> dict[Key, Slot[SecretRead]]:
    """Every secret not read by `first_reads`."""
    return {
        key(p): batch.add(functools.partial(_read, run, p))
        for p in run.desired.render.pushes
        if key(p) not in done
    }


def plan(run: TenantRun, read: Mapping[Key, Slot[SecretRead]]) -> SecretsPlan:
    pushes = run.desired.render.pushes
    return SecretsPlan(
        {key(p): read[key(p)].value.change for p in pushes},
        {key(p): read[key(p)].value.expires for p in pushes},
    )


def expiring(run: TenantRun, planned: SecretsPlan) -> list[ExpiringSecret]:
    """The secrets whose `exp`, once apply has run, is within the run's warning window or past:
    a report item each (an expired one also fails the tenant, provision.tenant.read)."""
    now = clock.now()
    window = run.settings.warn_expiry_days
    out = []
    for p in run.desired.render.pushes:
        expires = planned.expires.get(key(p))
        if expires is None:
            continue
        left = round(days_left(expires, now), 1)
        if left <= window or expires <= now:
            out.append(
                ExpiringSecret(
                    run.tenant.name, p.vault, p.name, p.source, expires, left, expires <= now
                )
            )
    return out


def expired_error(found: list[ExpiringSecret]) -> str | None:
    """The tenant's error for its expired secrets, one clause each; None when none expired."""
    lines = [e.line() for e in found if e.expired]
    return "; ".join(lines) if lines else None


def add_writes(run: TenantRun, planned: SecretsPlan, batch: Batch) -> int:
    """Write every changed secret, for the reason its plan gave; return how many."""
    pushes = {key(p): p for p in run.desired.render.pushes}
    for k in planned.to_write:
        p = pushes[k]
        client = run.clients.secrets(run.tenant, p.vault)
        batch.add(
            functools.partial(write_secret, client, run.desired, p, planned.changes[k].reason)
        )
    return len(planned.to_write)


def add_read_backs(run: TenantRun, planned: SecretsPlan, batch: Batch) -> dict[Key, Slot[bool]]:
    """Read back every written secret (True: it holds the desired value)."""
    pushes = {key(p): p for p in run.desired.render.pushes}
    return {
        k: batch.add(
            functools.partial(
                read_back_matches, run.clients.secrets(run.tenant, k[0]), run.desired, pushes[k]
            )
        )
        for k in planned.to_write
    }


def mismatches(planned: SecretsPlan, read_back: Mapping[Key, Slot[bool]]) -> dict[str, str]:
    return {
        planned.changes[k].target: READ_BACK_DIFFERS
        for k, slot in read_back.items()
        if not slot.value
    }


# -- without secret values (plan --no-secret-values) -----------------------------------------

NOT_COMPARED = "value not compared (--no-secret-values)"

Listed = dict[str, "list[SecretProperties] | Exception"]  # vault (case-folded) -> its secrets


def list_properties(run: TenantRun, vault: str) -> list[SecretProperties] | Exception:
    """Every secret's properties in one vault: names, tags, enabled; never a value (Key Vault
    Get Secrets: "No values are returned for the secrets"). The error, when it cannot be read."""
    try:
        return list(run.clients.secrets(run.tenant, vault).list_properties_of_secrets())
    except Exception as exc:  # reported by the plan, per vault
        return exc


def plan_by_metadata(run: TenantRun, listed: Listed) -> SecretsPlan:
    """Each pushed secret judged by what its vault's metadata shows: absent, disabled, tags,
    content type or dates differ; otherwise reported with its value not compared."""
    t = run.tenant
    now = clock.now()
    changes: dict[Key, Change] = {}
    expires: dict[Key, datetime | None] = {}
    for p in run.desired.render.pushes:
        target = f"{p.vault}/{p.name}"
        got = listed[p.vault.casefold()]
        if isinstance(got, Exception):
            raise TenantError(
                explain_azure_error(
                    got,
                    t,
                    f"listing the secrets of {p.vault}",
                    "grant Key Vault Reader (secret metadata, no values) on the vault",
                )
            )
        props = next((s for s in got if str(s.name).casefold() == p.name.casefold()), None)
        if props is None:
            changes[key(p)] = Change.because(
                Kind.SECRET, target, Action.CREATE, Reason.ABSENT_SECRET
            )
            expires[key(p)] = intended_dates(p.expiry, None, now).expires
            continue
        # the value is not compared: judged as if unchanged, so the listed version stands
        wanted = intended_dates(p.expiry, props.created_on, now)
        expires[key(p)] = wanted.expires
        change = judge_properties(props, run.desired, p, wanted)
        changes[key(p)] = (
            Change(Kind.SECRET, target, Action.REPORT, NOT_COMPARED)
            if change.action == Action.NOOP
            else change
        )
    return SecretsPlan(changes, expires)
