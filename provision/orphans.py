"""Orphans: what the tool manages for a tenant but the inventory no longer declares.

- Secrets in the tenant's vaults (its `key_vault` and every vault it pushes to) tagged
  `managed-by: msticpy-provision` and `tenant: <name>` (provision.vault.secret_tags) whose names
  the tenant no longer pushes. Listing secret properties returns tags without values. An
  untagged secret, or one tagged for another tenant, is never an orphan.
- Files under `Users/<alias>/` that the tenant's manifest records as written by the tool (path,
  ETag, MD5) and the inventory no longer renders: a removed user, a removed file kind (e.g.
  nbuser_settings.py after switching to kernel mode). An analyst's own files are never in the
  manifest, so they are never orphans.

Every plan lists them. Without `--prune` they are `report` items (never executed, ignored by
`--detailed-exitcode`); with `--prune`, or for a tenant with `state: absent`, they are `delete`
items: secrets are soft-deleted (never purged: `begin_recover_deleted_secret` brings one back),
files are deleted (a file edited since the tool wrote it is first kept as a backup,
provision.backups) and the manifest forgets them.

An apply's first read, when not pruning, takes the secrets' names from the tenant's manifest
instead of listing the vaults (`Orphans.tagged_after_apply`: what the last apply that wrote found
listed, plus what it pushed), so a no-op apply costs no vault listing; an apply that writes lists
the vaults again under the lock, and `plan` and `verify` always list them.

A vault with more than `prune_max` orphans refuses to prune: a wrong vault name in the inventory
must not delete another team's secrets.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from provision.backups import EDITED, back_up, backup_path, backup_stamp, is_hand_edited, kept_as
from provision.fanout import Fanout
from provision.offboard import compute_items, delete_compute, manifest_aliases, tool_computes
from provision.plan import Action, Change, DesiredState, Kind
from provision.share import USERS, Manifest, RemoteFile, WorkspaceShare
from provision.vault import MANAGED_BY
from provision.workspace import TenantError, WorkspaceInfo, explain_azure_error

if TYPE_CHECKING:
    from provision.azure import Clients
    from provision.inventory.model import Tenant

DEFAULT_PRUNE_MAX = 50
USE_PRUNE = "(use --prune to delete)"

# vault (case-folded) -> names of the secrets tagged for the tenant there, or why it was not listed
TaggedSecrets = dict[str, list[str] | Exception]


@dataclass(frozen=True)
class Lifecycle:
    """How a run treats orphans and an offboarded tenant's compute instances."""

    prune: bool = False
    prune_max: int = DEFAULT_PRUNE_MAX
    delete_computes: bool = False
    allow_permanent_delete: bool = False  # prune a vault without soft delete (deletes are final)

    def prunes(self, t: Tenant) -> bool:
        """Whether this run deletes `t`'s orphans: with --prune, or for an offboarded tenant."""
        return self.prune or t.absent


@dataclass
class Orphans:
    """A tenant's orphans as planned, and what apply deletes."""

    pruning: bool
    items: list[Change] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)  # (vault, name) to delete
    files: dict[str, str | None] = field(default_factory=dict)  # path -> backup (edited) or None
    computes: list[str] = field(default_factory=list)  # to delete (--delete-computes)
    forget: set[str] = field(default_factory=set)  # manifest entries to drop after apply
    notes: list[str] = field(default_factory=list)
    # vault (case-folded) -> tagged secrets that stay after this run (orphans not deleted);
    # None when a vault could not be listed
    kept: dict[str, list[str]] | None = field(default_factory=dict)

    def tagged_after_apply(self, d: DesiredState) -> dict[str, list[str]] | None:
        """The manifest's record of the tenant's tagged secrets once apply has pushed `d`."""
        if self.kept is None:
            return None
        record = {vault: {n.casefold(): n for n in names} for vault, names in self.kept.items()}
        for vault in _vaults(d):
            record.setdefault(vault, {})
        for p in d.render.pushes:
            record[p.vault.casefold()].setdefault(p.name.casefold(), p.name)
        return {vault: sorted(names.values()) for vault, names in record.items()}


def find_orphans(
    clients: Clients,
    fan: Fanout,
    d: DesiredState,
    share: WorkspaceShare,
    manifest: Manifest,
    ws: WorkspaceInfo,
    lifecycle: Lifecycle,
    trust_manifest: bool = False,
    listed: TaggedSecrets | None = None,
) -> Orphans:
    """Plan the tenant's orphans (reads only): report items, or delete items when pruning.

    With `trust_manifest` and not pruning, the names of the tenant's tagged secrets come from
    the manifest where it records every vault the tenant writes to; otherwise from `listed`
    (`list_tagged_secrets`, run by the caller beside its other reads) or a listing made here.
    """
    t = d.render.tenant
    out = Orphans(pruning=lifecycle.prunes(t))
    why = "tenant offboarded (state: absent)" if t.absent else "orphan"
    tagged = tagged_from_record(d, manifest, lifecycle, trust_manifest)
    if tagged is None:
        tagged = listed if listed is not None else list_tagged_secrets(clients, fan, d)
    _plan_secrets(d, lifecycle, out, why, tagged)
    refuse_permanent_delete(clients, d, ws, lifecycle, out)
    _plan_files(fan, d, share, manifest.files, out, why)
    if t.absent:
        found = tool_computes(t, ws, manifest_aliases(manifest.files))
        out.items.extend(compute_items(found, lifecycle.delete_computes))
        if lifecycle.delete_computes:
            out.computes = sorted(found)
    return out


def refuse_permanent_delete(
    clients: Clients, d: DesiredState, ws: WorkspaceInfo, lifecycle: Lifecycle, out: Orphans
) -> None:
    """Refuse to prune secrets from a vault without soft delete, unless --allow-permanent-delete.

    Soft delete keeps a deleted secret recoverable; a vault with `enableSoftDelete: false`
    (Microsoft.KeyVault 2023-07-01 vaults, read with the GET the access check uses) deletes it
    for good. A vault that cannot be read is refused too: the safe side of not knowing.
    """
    if not out.secrets or lifecycle.allow_permanent_delete:
        return
    from provision.access.arm import ArmReadError, read_vault
    from provision.access.check import vault_id

    t = d.render.tenant
    for name in sorted({v for v, _ in out.secrets}, key=str.casefold):
        count = sum(1 for v, _ in out.secrets if v == name)
        try:
            vault = read_vault(clients.ml(t), name, vault_id(t, name, ws.key_vault_id))
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


def _vaults(d: DesiredState) -> dict[str, set[str]]:
    """Each vault the tenant writes to (case-folded) -> the names it pushes there (case-folded)."""
    t = d.render.tenant
    pushed: dict[str, set[str]] = {t.key_vault.casefold(): set()}
    for p in d.render.pushes:
        pushed.setdefault(p.vault.casefold(), set()).add(p.name.casefold())
    return pushed


def managed_secret_names(client: object, tenant: str) -> list[str]:
    """Names of the secrets the tool wrote for `tenant` in one vault (tags only, no values)."""
    names = []
    for props in client.list_properties_of_secrets():  # type: ignore[attr-defined]
        tags = props.tags or {}
        if tags.get("managed-by") == MANAGED_BY and tags.get("tenant") == tenant:
            names.append(str(props.name))
    return sorted(names)


def _spelled(d: DesiredState) -> dict[str, str]:
    """Each vault the tenant writes to, case-folded -> as the inventory spells it."""
    t = d.render.tenant
    return {t.key_vault.casefold(): t.key_vault} | {
        p.vault.casefold(): p.vault for p in d.render.pushes
    }


def tagged_from_record(
    d: DesiredState, manifest: Manifest, lifecycle: Lifecycle, trust_manifest: bool
) -> TaggedSecrets | None:
    """The tagged secrets as the manifest records them, when this read may trust the record
    (apply's first read, not pruning) and it covers every vault; else None: list the vaults."""
    if not trust_manifest or lifecycle.prunes(d.render.tenant):
        return None
    recorded = manifest.secrets
    vaults = _vaults(d)
    if recorded is None or not all(vault in recorded for vault in vaults):
        return None
    return {vault: sorted(recorded[vault]) for vault in vaults}


def list_jobs(clients: Clients, d: DesiredState) -> dict[str, Callable[[], list[str] | Exception]]:
    """Per vault the tenant writes to (case-folded), a job listing the names tagged for the
    tenant there (or returning the error, which the plan reports for that vault)."""
    t = d.render.tenant

    def listed(vault: str) -> list[str] | Exception:
        try:
            return managed_secret_names(clients.secrets(t, vault), t.name)
        except Exception as exc:  # reported per vault by the plan
            return exc

    return {key: functools.partial(listed, vault) for key, vault in _spelled(d).items()}


def list_tagged_secrets(clients: Clients, fan: Fanout, d: DesiredState) -> TaggedSecrets:
    jobs = list_jobs(clients, d)
    return dict(zip(jobs, fan.run_all(jobs.values()), strict=True))


def _plan_secrets(
    d: DesiredState,
    lifecycle: Lifecycle,
    out: Orphans,
    why: str,
    found: TaggedSecrets,
) -> None:
    t = d.render.tenant
    vaults = _vaults(d)
    spelled = _spelled(d)
    for vault in vaults:
        got = found[vault]
        name_of_vault = spelled[vault]
        if isinstance(got, Exception):
            out.kept = None  # the manifest must not record what was not listed
            line = explain_azure_error(
                got,
                t,
                f"listing the secrets of {name_of_vault} (to find orphans)",
                "grant Key Vault Secrets User (or List secret access) on the vault",
            )
            if out.pruning:
                raise TenantError(line)
            out.notes.append(f"orphans not checked: {line}")
            continue
        orphans = [n for n in got if n.casefold() not in vaults[vault]]
        if out.kept is not None:
            out.kept[vault] = [] if out.pruning else orphans
        if out.pruning and len(orphans) > lifecycle.prune_max:
            raise TenantError(
                f"vault {name_of_vault}: {len(orphans)} secrets tagged for tenant {t.name} are "
                f"no longer pushed, more than --prune-max {lifecycle.prune_max}: check the "
                f"tenant's key_vault, or pass --prune-max {len(orphans)} to delete them"
            )
        for name in orphans:
            target = f"{name_of_vault}/{name}"
            if out.pruning:
                out.secrets.append((name_of_vault, name))
                out.items.append(
                    Change(Kind.SECRET, target, Action.DELETE, f"{why}: no longer pushed")
                )
            else:
                detail = f"{why}: no longer pushed {USE_PRUNE}"
                out.items.append(Change(Kind.SECRET, target, Action.REPORT, detail))


def _plan_files(
    fan: Fanout,
    d: DesiredState,
    share: WorkspaceShare,
    manifest: dict[str, dict[str, str]],
    out: Orphans,
    why: str,
) -> None:
    paths = sorted(p for p in manifest if p.startswith(f"{USERS}/") and p not in d.files)
    if not paths:
        return
    folders = sorted({p.rpartition("/")[0] for p in paths})
    listings: dict[str, dict[str, RemoteFile] | None] = dict(
        zip(folders, fan.map(share.list_folder, folders), strict=True)
    )
    stamp = backup_stamp()
    for path in paths:
        folder, _, name = path.rpartition("/")
        remote = (listings[folder] or {}).get(name)
        if remote is None:
            out.forget.add(path)  # already gone: the manifest forgets it when next written
            continue
        edited = is_hand_edited(manifest[path], remote.etag)
        if not out.pruning:
            extra = f"; {EDITED}" if edited else ""
            detail = f"{why}: no longer declared{extra} {USE_PRUNE}"
            out.items.append(Change(Kind.FILE, path, Action.REPORT, detail))
            continue
        backup = backup_path(path, stamp) if edited else None
        detail = f"{why}: no longer declared" + (f"; {kept_as(backup)}" if backup else "")
        out.files[path] = backup
        out.forget.add(path)
        out.items.append(Change(Kind.FILE, path, Action.DELETE, detail))


def orphan_jobs(
    clients: Clients, t: Tenant, share: WorkspaceShare, orphans: Orphans
) -> list[Callable[[], None]]:
    """The deletions apply runs for a tenant's orphans (independent of each other)."""
    return [
        *(functools.partial(delete_secret, clients, t, v, n) for v, n in orphans.secrets),
        *(functools.partial(delete_file, share, p, b) for p, b in orphans.files.items()),
        *(functools.partial(delete_compute, clients.ml(t), t, n) for n in orphans.computes),
    ]


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


def delete_file(share: WorkspaceShare, path: str, backup: str | None) -> None:
    """Delete one file the tool wrote; keep a copy first when it was edited since."""
    if backup is not None:
        back_up(share, path, backup)
    share.delete_file(path)
