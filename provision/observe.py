"""Read what Azure holds for one tenant and plan against the desired state (reads only).

The result is the plan (`TenantResult`) and what was read to make it (`ObservedState`), which
apply uses to execute without reading again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from provision.adopt.findings import plaintext_note, plaintext_settings
from provision.backups import backup_path, backup_stamp, is_hand_edited, kept_as
from provision.compute import compute_report
from provision.errors import Problem
from provision.fanout import Fanout
from provision.orphans import (
    Lifecycle,
    Orphans,
    TaggedSecrets,
    find_orphans,
    list_jobs,
    tagged_from_record,
)
from provision.plan import Action, Change, DesiredState, Kind, Reason, TenantResult
from provision.render import MSTICPYCONFIG
from provision.sentinel_check import check_sentinel_workspaces, sentinel_recorded
from provision.share import TEMP_MARK, Manifest, RemoteFile, WorkspaceShare, md5_hex
from provision.vault import plan_secret
from provision.workspace import StorageAuth, TenantError, WorkspaceInfo, discover

if TYPE_CHECKING:
    from provision.access import AccessPlan
    from provision.azure import Clients
    from provision.inventory.model import Inventory

Progress = Callable[[str, str], None]


@dataclass
class FilesState:
    """The user folders as read: planned file items and what apply needs to know."""

    manifest: dict[str, dict[str, str]]
    items: dict[str, Change]
    remote_etags: dict[str, str | None]
    temp_files: list[str] = field(default_factory=list)
    missing_folders: set[str] = field(default_factory=set)
    plaintext: list[str] = field(default_factory=list)  # findings in users' own configs
    backups: dict[str, str] = field(default_factory=dict)  # hand-edited path -> its backup
    # path -> ETag of an upload whose content the service confirmed (no read-back download)
    confirmed: dict[str, str] = field(default_factory=dict)


@dataclass
class ObservedState:
    """What the plan read: enough to execute and to skip re-reading."""

    ws: WorkspaceInfo
    share: WorkspaceShare
    secrets: dict[tuple[str, str], Change]
    files: FilesState
    manifest: Manifest
    access: AccessPlan | None = None  # analysts' vault access, added by the engine
    orphans: Orphans | None = None


def observe(
    clients: Clients,
    fan: Fanout,
    d: DesiredState,
    *,
    verify: bool,
    progress: Progress,
    ws: WorkspaceInfo | None = None,
    share: WorkspaceShare | None = None,
    storage_auth: StorageAuth = StorageAuth.AUTO,
    inventory: Inventory | None = None,
    lifecycle: Lifecycle | None = None,
    trust_manifest: bool = False,
) -> tuple[ObservedState, TenantResult]:
    """Discover (unless given), read secrets, folders and computes; plan every item.

    With `verify`, the manifest shortcut is not used: every file is read back in full. With
    `trust_manifest` (apply's first read), what the manifest records as checked by the last
    apply that wrote is not read again: Sentinel workspaces whose inventory entry is unchanged,
    and, unless pruning, the vault listing behind the orphan report.
    """
    t = d.render.tenant
    lifecycle = lifecycle or Lifecycle()
    sentinel_job: Future[list[Problem]] | None = None
    first_read = ws is None
    if ws is None:
        progress(t.name, "discovering workspace")
        if not trust_manifest:
            # The Sentinel workspaces are checked once per run, while the ML workspace is read.
            sentinel_job = fan.submit(
                lambda: check_sentinel_workspaces(clients.ml(t), t, inventory)
            )
        ws = discover(clients, t, fan.pool, storage_auth)
        _raise_problems(sentinel_job)
        sentinel_job = None  # checked
    result = TenantResult(t.name)
    result.resources = {
        "key_vault": t.key_vault,
        "storage_account": ws.storage_account,
        "file_share": ws.file_share,
        "file_share_auth": ws.storage_auth,
    }
    result.notes.append(f"file share access: {ws.storage_auth}")
    result.notes.extend(ws.notes)
    if ws.key_vault and ws.key_vault.lower() != t.key_vault.lower() and d.render.pushes:
        result.notes.append(
            f"secrets go to {t.key_vault}, not the workspace's own vault "
            f"{ws.key_vault} (as the inventory says)"
        )
    if share is None:
        share = WorkspaceShare(
            clients.share(t, ws.storage_account, ws.file_share, ws.storage_key), tenant=t.name
        )
    progress(t.name, "reading secrets and user folders")
    # The manifest, the user folders and the secrets are read at once. (The folder listing fans
    # out from this thread; see Fanout on why a tenant has at most one pool job waiting.)
    manifest_job = fan.submit(share.read_manifest)

    def list_vaults() -> bool:  # whether the orphan report needs the vaults listed
        return tagged_from_record(d, manifest_job.result(), lifecycle, trust_manifest) is None

    secret_job = fan.submit(lambda: read_secrets(clients, fan, d, list_vaults))
    listings = list_user_folders(fan, d, share)
    manifest = manifest_job.result()
    if first_read and trust_manifest:
        unchecked = [s for s in t.sentinel if not sentinel_recorded(manifest, t, s)]
        if unchecked:
            sentinel_job = fan.submit(
                lambda: check_sentinel_workspaces(clients.ml(t), t, inventory, only=unchecked)
            )
    files = read_files(fan, d, share, verify, manifest, listings)
    _raise_problems(sentinel_job)
    secrets, listed = secret_job.result()
    result.items.extend(secrets.values())
    result.items.extend(files.items.values())
    result.items.extend(
        Change(Kind.CLEANUP, p, Action.DELETE, str(Reason.LEFTOVER)) for p in files.temp_files
    )
    result.notes.extend(
        f"{folder}: no such user folder yet (apply creates it); check the alias if the analyst "
        "already uses this workspace"
        for folder in sorted(files.missing_folders)
    )
    if not t.absent:
        result.items.extend(compute_reports(d, ws))
    result.notes.extend(files.plaintext)
    orphans = find_orphans(
        clients, fan, d, share, manifest, ws, lifecycle, trust_manifest, listed=listed
    )
    result.items.extend(orphans.items)
    result.notes.extend(orphans.notes)
    return ObservedState(ws, share, secrets, files, manifest, orphans=orphans), result


def _raise_problems(job: Future[list[Problem]] | None) -> None:
    problems = job.result() if job is not None else []
    if problems:
        raise TenantError("; ".join(str(p) for p in problems))


def read_secrets(
    clients: Clients, fan: Fanout, d: DesiredState, list_vaults: Callable[[], bool]
) -> tuple[dict[tuple[str, str], Change], TaggedSecrets | None]:
    """Plan every secret; and, when `list_vaults()` says so, list the tenant's tagged secrets
    in each of its vaults (for the orphan report) alongside, once the vaults are warm."""
    t = d.render.tenant
    pushes = d.render.pushes
    # The first request to a vault answers the Key Vault auth challenge (401, then retry
    # with a token); the client caches it. Send one request per vault alone so that the
    # others, sent concurrently, do not each pay that extra round trip.
    first = list({p.vault: p for p in pushes}.values())
    warm = {id(p): plan_secret(clients.secrets(t, p.vault), d, p) for p in first}
    rest = [p for p in pushes if id(p) not in warm]
    jobs: list[Callable[[], object]] = [
        functools.partial(plan_secret, clients.secrets(t, p.vault), d, p) for p in rest
    ]
    listing = list_jobs(clients, d) if list_vaults() else {}
    answers = fan.run_all([*jobs, *listing.values()])
    cold = dict(zip(map(id, rest), answers[: len(rest)], strict=True))
    planned = {(p.vault, p.name): warm.get(id(p)) or cold[id(p)] for p in pushes}
    listed = dict(zip(listing, answers[len(rest) :], strict=True)) if listing else None
    return cast("dict[tuple[str, str], Change]", planned), cast("TaggedSecrets | None", listed)


def _file_change(path: str, same: bool) -> Change:
    if same:
        return Change(Kind.FILE, path, Action.NOOP)
    return Change(Kind.FILE, path, Action.UPDATE, str(Reason.CONTENT_DIFFERS))


Listings = dict[str, dict[str, RemoteFile] | None]


def list_user_folders(fan: Fanout, d: DesiredState, share: WorkspaceShare) -> Listings:
    """Each folder the tenant writes to, listed once (None: the folder does not exist)."""
    folders = sorted({path.rpartition("/")[0] for path in d.files})
    return dict(zip(folders, fan.map(share.list_folder, folders), strict=True))


def read_files(
    fan: Fanout,
    d: DesiredState,
    share: WorkspaceShare,
    verify: bool,
    recorded: Manifest,
    listings: Listings,
) -> FilesState:
    # The manifest says which files the tool wrote (orphans, hand edits); with `verify` its
    # ETag shortcut is not used.
    manifest = recorded.files
    shortcut = {} if verify else manifest
    state = FilesState(manifest, {}, {})
    state.missing_folders = {f for f, listing in listings.items() if listing is None}
    for folder, listing in listings.items():
        state.temp_files += [f"{folder}/{n}" for n in listing or {} if n.startswith(TEMP_MARK)]
    to_fetch: list[str] = []
    for path, f in d.files.items():
        folder, _, name = path.rpartition("/")
        remote = (listings[folder] or {}).get(name)
        if remote is None:
            state.items[path] = Change(Kind.FILE, path, Action.CREATE, str(Reason.ABSENT_FILE))
            continue
        state.remote_etags[path] = remote.etag
        known = shortcut.get(path)
        if known and known.get("etag") == remote.etag and remote.size == len(f.content):
            # Unchanged since we wrote it: the manifest's MD5 is the content's MD5.
            state.items[path] = _file_change(path, known.get("md5") == md5_hex(f.content))
        else:
            to_fetch.append(path)
    stamp = backup_stamp()
    for path, got in zip(to_fetch, fan.map(share.download, to_fetch), strict=True):
        if got is None:
            state.items[path] = Change(Kind.FILE, path, Action.CREATE, str(Reason.ABSENT_FILE))
        else:
            state.remote_etags[path] = got[1]
            state.items[path] = _file_change(path, got[0] == d.files[path].content)
            if state.items[path].is_change and is_hand_edited(manifest.get(path), got[1]):
                # Not written by the tool as it stands: apply keeps a copy before replacing it.
                state.backups[path] = backup_path(path, stamp)
                state.items[path] = Change(
                    Kind.FILE, path, Action.UPDATE, kept_as(state.backups[path])
                )
            if path.endswith(f"/{MSTICPYCONFIG}") and got[0] != d.files[path].content:
                state.plaintext += [
                    plaintext_note(path, s) for s in plaintext_settings(got[0], path)
                ]
    state.items = {p: state.items[p] for p in d.files}
    return state


def compute_reports(d: DesiredState, ws: WorkspaceInfo) -> list[Change]:
    """Each user's compute instance and whether its startup script is ours (never changed)."""
    out = []
    for user in d.render.tenant.user_list:
        detail = compute_report(ws.computes.get(user.compute_name), user, d.render)
        out.append(Change(Kind.COMPUTE, user.compute_name, Action.REPORT, detail))
    return out
