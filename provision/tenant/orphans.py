"""Orphans: what the tool manages for a tenant but the inventory no longer declares.

- Secrets in the tenant's vaults (its `key_vault` and every vault it pushes to) tagged
  `managed-by: msticpy-provision` and `tenant: <name>` (provision.vault.secret_tags) whose names
  the tenant no longer pushes. Listing secret properties returns tags without values. An
  untagged secret, or one tagged for another tenant, is never an orphan.
- Files under `Users/<alias>/` that the tenant's record names as written by the tool and the
  inventory no longer renders: a removed user, a removed file kind (e.g. nbuser_settings.py
  after switching to kernel mode). Only the file kinds the tool renders, directly in a user
  folder, and only while each is exactly as the tool wrote it (its ETag is the one recorded):
  anything else, an edited file or a path that is not the tool's kind, is reported and kept.
  The record is trusted only when its digest in Key Vault matches (provision.tenant.record), so
  a record forged on the share can name no file to delete.

Every plan lists them. Without `--prune` they are `report` items (never executed, ignored by
`--detailed-exitcode`); with `--prune`, or for a tenant with `state: absent`, they are `delete`
items: secrets are soft-deleted (never purged: `begin_recover_deleted_secret` brings one back),
files are deleted and the record forgets them.

Where the vault listing comes from is the record's decision (Record.tagged_secrets): under
`ReadMode.TRUST` and not pruning, the names the last apply that wrote found; otherwise a listing.

A vault with more than `prune_max` orphans refuses to prune: a wrong vault name in the inventory
must not delete another team's secrets.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provision.backups import EDITED
from provision.errors import TenantError
from provision.fanout import Batch, Slot
from provision.msticpy_contract.secret_names import referenced_secrets, vault_secrets
from provision.plan import Action, Change, DesiredState, Kind
from provision.share import WorkspaceShare
from provision.tenant import secrets
from provision.tenant.context import TenantRun
from provision.tenant.files import CONTENT_TYPES, Listing, folder_of
from provision.tenant.record import Record, TaggedSecrets, is_digest
from provision.vault import MANAGED_BY
from provision.workspace import explain_azure_error

if TYPE_CHECKING:
    from provision.azure import Clients
    from provision.inventory.model import Tenant

USE_PRUNE = "(use --prune to delete)"
RENDERED = frozenset(CONTENT_TYPES)  # the file names the tool writes into a user folder


@dataclass(frozen=True)
class OrphansPlan:
    """A tenant's orphans as planned, and what apply deletes."""

    pruning: bool
    items: tuple[Change, ...] = ()
    secrets: tuple[tuple[str, str], ...] = ()  # (vault, name) to delete
    files: tuple[str, ...] = ()  # paths to delete (each as the tool wrote it)
    forget: frozenset[str] = frozenset()  # record entries to drop after apply
    notes: tuple[str, ...] = ()
    # vault (case-folded) -> tagged secrets that stay after this run (orphans not deleted);
    # None when a vault could not be listed (the record must not keep what was not listed)
    kept: Mapping[str, list[str]] | None = field(default_factory=dict)

    def tagged_after_apply(self, d: DesiredState) -> dict[str, list[str]] | None:
        """The record of the tenant's tagged secrets once apply has pushed `d`."""
        if self.kept is None:
            return None
        record = {vault: {n.casefold(): n for n in names} for vault, names in self.kept.items()}
        for vault in vaults(d):
            record.setdefault(vault, {})
        for p in d.render.pushes:
            record[p.vault.casefold()].setdefault(p.name.casefold(), p.name)
        return {vault: sorted(names.values()) for vault, names in record.items()}


def vaults(d: DesiredState) -> dict[str, set[str]]:
    """Each vault the tenant writes to (case-folded) -> the names it pushes there (case-folded)."""
    t = d.render.tenant
    pushed: dict[str, set[str]] = {t.key_vault.casefold(): set()}
    for p in d.render.pushes:
        pushed.setdefault(p.vault.casefold(), set()).add(p.name.casefold())
    return pushed


def spelled(d: DesiredState) -> dict[str, str]:
    """Each vault the tenant writes to, case-folded -> as the inventory spells it."""
    t = d.render.tenant
    return {t.key_vault.casefold(): t.key_vault} | {
        p.vault.casefold(): p.vault for p in d.render.pushes
    }


# -- read ------------------------------------------------------------------------------------


def tagged_names(listed: Iterable[Any] | Exception, tenant: str) -> list[str] | Exception:
    """Of a vault's secret properties (secrets.list_properties), the names tagged as written by
    the tool for `tenant`; the listing's error as it is."""
    if isinstance(listed, Exception):
        return listed
    names = []
    for props in listed:
        tags = props.tags or {}
        if is_digest(tags):
            continue  # the record's digest (provision.tenant.record) is not a pushed secret
        if tags.get("managed-by") == MANAGED_BY and tags.get("tenant") == tenant:
            names.append(str(props.name))
    return sorted(names)


def _listed(run: TenantRun, vault: str) -> list[str] | Exception:
    return tagged_names(secrets.list_properties(run, vault), run.tenant.name)


def add_vault_listings(
    run: TenantRun, record: Record, batch: Batch
) -> Mapping[str, Slot[list[str] | Exception]] | TaggedSecrets:
    """Per vault the tenant writes to (case-folded), the names tagged for the tenant there: as
    the record has them when it may be trusted for that, else a listing added to `batch`."""
    d = run.desired
    trusted = record.tagged_secrets(vaults(d), run.settings.lifecycle.prunes(run.tenant))
    if trusted is not None:
        return trusted
    return {
        key: batch.add(functools.partial(_listed, run, vault)) for key, vault in spelled(d).items()
    }


def candidate_paths(run: TenantRun, record: Record) -> list[str]:
    """Files the record names as the tool's that the inventory no longer renders: only files of
    the kinds the tool renders, directly in a user folder (`Users/<alias>/<name>`)."""
    return [
        p
        for p in record.written_paths()
        if p not in run.desired.files and p.count("/") == 2 and p.rpartition("/")[2] in RENDERED
    ]


def add_folder_listings(
    share: WorkspaceShare, paths: list[str], known: Mapping[str, object], batch: Batch
) -> dict[str, Slot[Listing]]:
    """The folders of `paths` not already listed (`known`)."""
    folders = sorted({folder_of(p) for p in paths} - set(known))
    return {f: batch.add(functools.partial(share.list_folder, f)) for f in folders}


# -- plan ------------------------------------------------------------------------------------


def plan(
    run: TenantRun,
    record: Record,
    tagged: Mapping[str, Slot[list[str] | Exception]] | TaggedSecrets,
    listings: Mapping[str, Listing],
    workspace_vault_id: str | None,
) -> OrphansPlan:
    """Plan the tenant's orphans: report items, or delete items when pruning."""
    t = run.tenant
    pruning = run.settings.lifecycle.prunes(t)
    why = "tenant offboarded (state: absent)" if t.absent else "orphan"
    found: TaggedSecrets = {k: v.value if isinstance(v, Slot) else v for k, v in tagged.items()}
    items, deletes, notes, kept = _plan_secrets(run, pruning, why, found)
    refuse_permanent_delete(run, deletes, workspace_vault_id)
    file_items, files, forget = _plan_files(
        record, candidate_paths(run, record), listings, pruning, why
    )
    return OrphansPlan(
        pruning=pruning,
        items=tuple(items + file_items),
        secrets=tuple(deletes),
        files=tuple(files),
        forget=frozenset(forget),
        notes=tuple(notes),
        kept=kept,
    )


def _plan_secrets(
    run: TenantRun, pruning: bool, why: str, found: TaggedSecrets
) -> tuple[list[Change], list[tuple[str, str]], list[str], dict[str, list[str]] | None]:
    t = run.tenant
    pushed = vaults(run.desired)
    names = spelled(run.desired)
    referenced = referenced_secrets(run.desired.render.msticpyconfig)
    declared = vault_secrets(t)  # keyvault: sources: in the vault by design, never orphans
    items: list[Change] = []
    deletes: list[tuple[str, str]] = []
    notes: list[str] = []
    kept: dict[str, list[str]] | None = {}
    prune_max = run.settings.lifecycle.prune_max
    for vault in pushed:
        got = found[vault]
        name_of_vault = names[vault]
        if isinstance(got, Exception):
            kept = None
            line = explain_azure_error(
                got,
                t,
                f"listing the secrets of {name_of_vault} (to find orphans)",
                "grant Key Vault Secrets User (or List secret access) on the vault",
            )
            if pruning:
                raise TenantError(line)
            notes.append(f"orphans not checked: {line}")
            continue
        orphans = [
            n
            for n in got
            if n.casefold() not in pushed[vault] and (vault, n.casefold()) not in declared
        ]
        in_use = [n for n in orphans if (vault, n.casefold()) in referenced]
        if in_use:
            # A rendered config still reads it (e.g. a `msticpy:` block reference without a
            # source): never an orphan, whatever the tags say.
            notes.append(
                f"kept in {name_of_vault}: {', '.join(in_use)}: tagged for tenant {t.name} and "
                "not pushed, but the rendered msticpyconfig.yaml still references it"
            )
            orphans = [n for n in orphans if n not in in_use]
        if kept is not None:
            kept[vault] = [] if pruning else orphans
        if pruning and len(orphans) > prune_max:
            raise TenantError(
                f"vault {name_of_vault}: {len(orphans)} secrets tagged for tenant {t.name} are "
                f"no longer pushed, more than --prune-max {prune_max}: check the "
                f"tenant's key_vault, or pass --prune-max {len(orphans)} to delete them"
            )
        for name in orphans:
            target = f"{name_of_vault}/{name}"
            if pruning:
                deletes.append((name_of_vault, name))
                items.append(Change(Kind.SECRET, target, Action.DELETE, f"{why}: no longer pushed"))
            else:
                detail = f"{why}: no longer pushed {USE_PRUNE}"
                items.append(Change(Kind.SECRET, target, Action.REPORT, detail))
    return items, deletes, notes, kept


def _plan_files(
    record: Record,
    paths: list[str],
    listings: Mapping[str, Listing],
    pruning: bool,
    why: str,
) -> tuple[list[Change], list[str], set[str]]:
    items: list[Change] = []
    files: list[str] = []
    forget: set[str] = set()
    for path in paths:
        folder, _, name = path.rpartition("/")
        remote = (listings[folder] or {}).get(name)
        if remote is None:
            forget.add(path)  # already gone: the record forgets it when next written
            continue
        if not record.written_as_is(path, remote.etag):
            # Not as the tool wrote it: someone's edits, never deleted by the tool.
            detail = f"{why}: no longer declared; {EDITED}: kept (not deleted)"
            items.append(Change(Kind.FILE, path, Action.REPORT, detail))
            continue
        if not pruning:
            detail = f"{why}: no longer declared {USE_PRUNE}"
            items.append(Change(Kind.FILE, path, Action.REPORT, detail))
            continue
        files.append(path)
        forget.add(path)
        items.append(Change(Kind.FILE, path, Action.DELETE, f"{why}: no longer declared"))
    return items, files, forget


def refuse_permanent_delete(
    run: TenantRun, deletes: list[tuple[str, str]], workspace_vault_id: str | None
) -> None:
    """Refuse to prune secrets from a vault without soft delete, unless --allow-permanent-delete.

    Soft delete keeps a deleted secret recoverable; a vault with `enableSoftDelete: false`
    (Microsoft.KeyVault 2023-07-01 vaults, read with the GET the access check uses) deletes it
    for good. A vault that cannot be read is refused too: the safe side of not knowing.
    """
    if not deletes or run.settings.lifecycle.allow_permanent_delete:
        return
    from provision.access.arm import ArmReadError, read_vault
    from provision.access.check import vault_id

    t = run.tenant
    for name in sorted({v for v, _ in deletes}, key=str.casefold):
        count = sum(1 for v, _ in deletes if v == name)
        try:
            vault = read_vault(run.clients.ml(t), name, vault_id(t, name, workspace_vault_id))
        except ArmReadError as exc:
            raise TenantError(
                f"vault {name}: cannot tell whether its {count} orphan secret(s) would be deleted "
                f"softly ({exc}); pass --allow-permanent-delete to prune anyway"
            ) from None
        if not vault.soft_delete:
            raise TenantError(
                f"vault {name} has soft delete off (enableSoftDelete: false): pruning would "
                f"delete {count} secret(s) permanently; pass --allow-permanent-delete if that is "
                "intended"
            )


# -- apply -----------------------------------------------------------------------------------


def add_deletes(run: TenantRun, share: WorkspaceShare, planned: OrphansPlan, batch: Batch) -> int:
    """The deletions apply runs for the tenant's orphans when pruning; return how many."""
    if not planned.pruning:
        return 0
    for vault, name in planned.secrets:
        batch.add(functools.partial(delete_secret, run.clients, run.tenant, vault, name))
    for path in planned.files:
        batch.add(functools.partial(share.delete_file, path))
    return len(planned.secrets) + len(planned.files)


DELETE_HINT = (
    "deleting needs the secrets Delete permission: an access policy with Get, List, Set, Delete "
    "and Recover on access-policy vaults, or Key Vault Secrets Officer on RBAC vaults"
)


def delete_secret(clients: Clients, t: Tenant, vault: str, name: str) -> None:
    """Soft-delete one secret (never purged); one already gone is not an error. A refusal is
    one line naming the permission delete needs (an access-policy vault's `delete`)."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    try:
        with contextlib.suppress(ResourceNotFoundError):
            clients.secrets(t, vault).begin_delete_secret(name).result()
    except AzureError as exc:
        line = explain_azure_error(exc, t, f"deleting secret {vault}/{name}", DELETE_HINT)
        raise TenantError(line) from None
