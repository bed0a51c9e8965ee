"""Secrets: every secret the tenant pushes, read, planned, written and read back.

The Key Vault calls and their rules (tags, disabled secrets, soft-deleted names) are
provision.vault's; this module decides which secrets each step touches, as batches.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from provision.fanout import Batch, Slot
from provision.msticpy_contract.secret_names import SecretPush
from provision.plan import Change
from provision.tenant.context import TenantRun
from provision.vault import plan_secret, read_back_matches, write_secret

Key = tuple[str, str]  # (vault as the inventory spells it, secret name)


def key(p: SecretPush) -> Key:
    return (p.vault, p.name)


@dataclass(frozen=True)
class SecretsPlan:
    """Each pushed secret's planned change, in the inventory's push order."""

    changes: Mapping[Key, Change]

    @property
    def items(self) -> list[Change]:
        return list(self.changes.values())

    @property
    def to_write(self) -> list[Key]:
        return [k for k, c in self.changes.items() if c.is_change]


def _read(run: TenantRun, p: SecretPush) -> Change:
    return plan_secret(run.clients.secrets(run.tenant, p.vault), run.desired, p)


def first_reads(run: TenantRun, batch: Batch, warmed: str) -> dict[Key, Slot[Change]]:
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
) -> dict[Key, Slot[Change]]:
    """Every secret not read by `first_reads`."""
    return {
        key(p): batch.add(functools.partial(_read, run, p))
        for p in run.desired.render.pushes
        if key(p) not in done
    }


def plan(run: TenantRun, read: Mapping[Key, Slot[Change]]) -> SecretsPlan:
    return SecretsPlan({key(p): read[key(p)].value for p in run.desired.render.pushes})


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
        planned.changes[k].target: "value read back differs"
        for k, slot in read_back.items()
        if not slot.value
    }
