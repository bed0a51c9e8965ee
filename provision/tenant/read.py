"""Read one tenant and plan it: reads only, as batches started from the tenant's thread.

1. Discovery (skipped when an earlier read of this run found the workspace): the ML workspace,
   its storage and computes, with the Sentinel workspaces checked alongside.
2. A first batch: the record, every user folder's listing, and the first secret of each vault.
3. A second batch, which needs the first: the other secrets, the vault listings behind the
   orphan report (unless the record may stand in for them), the files the record cannot vouch
   for, the folders of recorded files no longer rendered, and (under `ReadMode.TRUST`) the
   Sentinel workspaces whose entry changed since the last apply.
4. The analysts' vault access (provision.access), unless an earlier read of this run has it.

Each kind then plans from what was read; the result is an `Observation`: the frozen plan, and
what apply needs to carry it out without reading again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from provision.access import AccessPlan, plan_access
from provision.errors import Problem, TenantError
from provision.fanout import Batch
from provision.lock import FOREIGN_HOLDER
from provision.plan import Action, Change, ExpiringSecret, Kind, TenantPlan
from provision.policy import preflight
from provision.sentinel_check import check_sentinel_workspaces
from provision.share import WorkspaceShare
from provision.tenant import computes, files, orphans, secrets
from provision.tenant import record as record_module
from provision.tenant.context import ReadMode, TenantRun
from provision.tenant.record import Record
from provision.workspace import StorageAuth, WorkspaceInfo, discover

if TYPE_CHECKING:
    from concurrent.futures import Future

FOREIGN_LOCK = f"{FOREIGN_HOLDER}: apply will refuse; check who took it, or apply with --break-lock"


@dataclass(frozen=True)
class Observation:
    """One read of a tenant: its plan, and what apply needs to carry it out."""

    ws: WorkspaceInfo
    share: WorkspaceShare
    record: Record
    secrets: secrets.SecretsPlan
    files: files.FilesPlan
    orphans: orphans.OrphansPlan
    computes: computes.ComputesPlan
    access: AccessPlan
    plan: TenantPlan
    policy: preflight.PolicyCheck = field(default_factory=preflight.PolicyCheck)


def _raise_problems(problems: list[Problem]) -> None:
    if problems:
        raise TenantError("; ".join(str(p) for p in problems))


def _discover(
    run: TenantRun, mode: ReadMode, storage: StorageAuth | None = None
) -> tuple[WorkspaceInfo, WorkspaceShare]:
    t = run.tenant
    run.progress("discovering workspace")
    sentinel: Future[list[Problem]] | None = None
    if mode != ReadMode.TRUST:
        # Checked once per run, while the ML workspace is read (TRUST checks after the record).
        sentinel = run.fan.submit(
            lambda: check_sentinel_workspaces(run.clients.ml(t), t, run.settings.inventory)
        )
    ws = discover(run.clients, t, run.fan.pool, storage or run.settings.storage_auth)
    if sentinel is not None:
        _raise_problems(sentinel.result())
    return ws, share_of(run, ws)


def share_of(run: TenantRun, ws: WorkspaceInfo) -> WorkspaceShare:
    """The tenant's notebook share (its lock and record), as discovery found it."""
    t = run.tenant
    return WorkspaceShare(
        run.clients.share(t, ws.storage_account, ws.file_share, ws.storage_key), tenant=t.name
    )


def read_tenant(run: TenantRun, mode: ReadMode, reuse: Observation | None = None) -> Observation:
    """Read and plan the tenant. `reuse`: an earlier read of this run, whose workspace, share
    (it knows the folders made under the lock) and access findings are taken as they are."""
    t = run.tenant
    ws, share = (reuse.ws, reuse.share) if reuse is not None else _discover(run, mode)
    run.progress("reading secrets and user folders")

    first = Batch()
    raw = first.add(lambda: record_module.read_raw(share))
    # The digest is the first request to the tenant's own vault: it answers the vault's auth
    # challenge, as the first secret read does for every other vault.
    vault = run.clients.secrets(t, t.key_vault)
    digest = first.add(lambda: record_module.read_digest(vault, t.name))
    listing_slots = files.add_listings(run, share, first)
    warm = secrets.first_reads(run, first, warmed=t.key_vault)
    # plan and verify say when apply would find the lock taken by something else
    foreign = first.add(share.foreign_lock) if mode != ReadMode.TRUST and reuse is None else None
    # Azure Policy: read by plan and by apply's locked read (what it is about to write)
    policy_reads = preflight.add_reads(run, ws, first) if mode == ReadMode.PLAN else None
    run.fan.run(first)
    record = Record.read(t, raw.value, digest.value, mode)
    lock_notes = [FOREIGN_LOCK] if foreign is not None and foreign.value else []
    listings = {folder: slot.value for folder, slot in listing_slots.items()}

    second = Batch()
    secret_slots = {**warm, **secrets.other_reads(run, second, warm)}
    tagged = orphans.add_vault_listings(run, record, second)
    downloads = files.add_downloads(run, share, record, listings, second)
    orphan_paths = orphans.candidate_paths(run, record)
    orphan_folders = orphans.add_folder_listings(share, orphan_paths, listings, second)
    unchecked = record.sentinel_to_check(t) if reuse is None and mode == ReadMode.TRUST else []
    sentinel = (
        second.add(
            lambda: check_sentinel_workspaces(
                run.clients.ml(t), t, run.settings.inventory, only=unchecked
            )
        )
        if unchecked
        else None
    )
    if policy_reads is not None:
        preflight.add_followups(run, policy_reads, second)
    run.fan.run(second)
    if sentinel is not None:
        _raise_problems(sentinel.value)

    secrets_plan = secrets.plan(run, secret_slots)
    files_plan = files.plan(run, record, listings, downloads)
    all_listings = {**listings, **{f: slot.value for f, slot in orphan_folders.items()}}
    orphans_plan = orphans.plan(run, record, tagged, all_listings, ws.key_vault_id)
    computes_plan = computes.plan(run, ws, record, share)
    access = (
        reuse.access
        if reuse is not None
        # Analysts' vault access lives in ARM, not under the tenant's lock: the locked
        # re-plan reuses what the first read found.
        else plan_access(run.clients, run.fan, run.desired, ws.key_vault_id, run.settings.access)
    )
    policy = (
        preflight.check(run, ws, policy_reads, secrets_plan)
        if policy_reads is not None
        else preflight.PolicyCheck()
    )
    expiring = secrets.expiring(run, secrets_plan)
    plan = TenantPlan(
        tenant=t.name,
        items=(
            *secrets_plan.items,
            *files_plan.items.values(),
            *files_plan.cleanup_items(),
            *computes_plan.reports,
            *orphans_plan.items,
            *computes_plan.offboarded,
            *access.items(),
        ),
        notes=(
            *_workspace_notes(run, ws),
            *record.notes,
            *lock_notes,
            *files_plan.notes(),
            *orphans_plan.notes,
            *access.notes(),
            *policy.lines(),
            *_expiry_notes(expiring),
        ),
        resources={
            "key_vault": t.key_vault,
            "storage_account": ws.storage_account,
            "file_share": ws.file_share,
            "file_share_auth": ws.storage_auth,
        },
        error=_errors(policy.error(), access.failure(), secrets.expired_error(expiring)),
        expiring=tuple(expiring),
        policy=policy.as_dicts(),
    )
    return Observation(
        ws,
        share,
        record,
        secrets_plan,
        files_plan,
        orphans_plan,
        computes_plan,
        access,
        plan,
        policy,
    )


def _expiry_notes(found: list[ExpiringSecret]) -> list[str]:
    """A note per secret expiring within the window (an expired one is the tenant's error)."""
    return [e.line() for e in found if not e.expired]


def _errors(*errors: str | None) -> str | None:
    """The tenant's findings that fail it, as one line."""
    found = [e for e in errors if e]
    return "; ".join(found) if found else None


def _workspace_notes(run: TenantRun, ws: WorkspaceInfo) -> list[str]:
    t = run.tenant
    notes = [*run.clients.sign_in_notes(t), f"file share access: {ws.storage_auth}", *ws.notes]
    if ws.key_vault and ws.key_vault.lower() != t.key_vault.lower() and run.desired.render.pushes:
        notes.append(
            f"secrets go to {t.key_vault}, not the workspace's own vault "
            f"{ws.key_vault} (as the inventory says)"
        )
    return notes


FILES_NOT_READ = (
    "user files not compared: --no-secret-values reads no file content (the files, the record, "
    "the lock); each file is listed as it would be written"
)


def read_metadata(run: TenantRun) -> TenantPlan:
    """The plan without secret values or file content (plan --no-secret-values): what an
    identity with Reader on the workspace and Key Vault Reader on the vaults can see. Secrets
    are judged by their vault's metadata, files are listed unread, orphan secrets come from the
    same listing; computes, Sentinel workspaces, analysts' access and Azure Policy are read as
    always."""
    t = run.tenant
    ws, _ = _discover(run, ReadMode.PLAN, StorageAuth.TOKEN)  # no listKeys: the share is not read
    run.progress("reading secret metadata")
    batch = Batch()
    names = orphans.spelled(run.desired)
    listed_slots = {
        folded: batch.add(functools.partial(secrets.list_properties, run, vault))
        for folded, vault in names.items()
    }
    policy_reads = preflight.add_reads(run, ws, batch)
    run.fan.run(batch)
    follow = Batch()  # initiatives and exemptions, only when an assignment needs them
    preflight.add_followups(run, policy_reads, follow)
    if len(follow):
        run.fan.run(follow)
    listed = {v: slot.value for v, slot in listed_slots.items()}
    secrets_plan = secrets.plan_by_metadata(run, listed)
    policy = preflight.check(run, ws, policy_reads, secrets_plan)
    expiring = secrets.expiring(run, secrets_plan)
    tagged: record_module.TaggedSecrets = {
        v: orphans.tagged_names(got, t.name) for v, got in listed.items()
    }
    no_record = Record(record_module.Manifest(), ReadMode.PLAN)  # files are not read
    orphans_plan = orphans.plan(run, no_record, tagged, {}, ws.key_vault_id)
    computes_plan = computes.plan(run, ws, no_record)
    access = plan_access(run.clients, run.fan, run.desired, ws.key_vault_id, run.settings.access)
    unread = [
        Change(Kind.FILE, path, Action.REPORT, "content not compared (--no-secret-values)")
        for path in run.desired.files
    ]
    return TenantPlan(
        tenant=t.name,
        items=(
            *secrets_plan.items,
            *unread,
            *computes_plan.reports,
            *orphans_plan.items,
            *computes_plan.offboarded,
            *access.items(),
        ),
        notes=(
            *_workspace_notes(run, ws),
            FILES_NOT_READ,
            *orphans_plan.notes,
            *access.notes(),
            *_expiry_notes(expiring),
            *policy.lines(),
        ),
        resources={"key_vault": t.key_vault, "storage_account": ws.storage_account},
        error=_errors(policy.error(), access.failure(), secrets.expired_error(expiring)),
        expiring=tuple(expiring),
        policy=policy.as_dicts(),
    )
