"""User files: each file the tenant renders into `Users/<alias>/`, read, planned, written (kept
as a backup first when someone else edited it) and read back.

Reads: each user folder is listed once; a listed file is downloaded only when the record cannot
vouch for its content (provision.tenant.record). Writes are atomic (WorkspaceShare.upload_atomic);
an upload whose content the service confirmed is not downloaded again to read it back.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from provision.adopt.findings import plaintext_note, plaintext_settings
from provision.backups import back_up, backup_path, backup_stamp, kept_as
from provision.fanout import Batch, Slot
from provision.plan import Action, Change, Kind, Reason
from provision.render import MSTICPYCONFIG, NBUSER_SETTINGS, STARTUP_SCRIPT
from provision.share import READ_LIMIT, TEMP_MARK, RemoteFile, WorkspaceShare
from provision.tenant.context import TenantRun
from provision.tenant.record import Record

CONTENT_TYPES = {
    MSTICPYCONFIG: "application/x-yaml",
    "config.json": "application/json",
    NBUSER_SETTINGS: "text/x-python",
    STARTUP_SCRIPT: "text/x-shellscript",
}

TOO_LARGE = (
    f"over the {READ_LIMIT // 1024:,} KiB the tool reads: not read, not replaced (move it away, "
    "then apply)"
)

Listing = dict[str, RemoteFile] | None  # None: the folder does not exist
Download = tuple[bytes, str | None] | None  # content and ETag; None: the file does not exist


def folder_of(path: str) -> str:
    return path.rpartition("/")[0]


@dataclass(frozen=True)
class FilesPlan:
    """The user files as read and planned."""

    items: Mapping[str, Change]  # every rendered file, in render order
    remote_etags: Mapping[str, str | None]  # path -> ETag as read
    temp_files: tuple[str, ...] = ()  # left by an interrupted run: deleted by apply
    missing_folders: frozenset[str] = frozenset()
    plaintext: tuple[str, ...] = ()  # findings in analysts' own files (too large, plaintext keys)
    backups: Mapping[str, str] = field(default_factory=dict)  # hand-edited path -> its backup

    @property
    def to_write(self) -> list[str]:
        return [p for p, c in self.items.items() if c.is_change]

    def cleanup_items(self) -> list[Change]:
        return [
            Change.because(Kind.CLEANUP, p, Action.DELETE, Reason.LEFTOVER) for p in self.temp_files
        ]

    def notes(self) -> list[str]:
        return [
            f"{folder}: no such user folder yet (apply creates it); check the alias if the "
            "analyst already uses this workspace"
            for folder in sorted(self.missing_folders)
        ] + list(self.plaintext)


# -- read ------------------------------------------------------------------------------------


def add_listings(run: TenantRun, share: WorkspaceShare, batch: Batch) -> dict[str, Slot[Listing]]:
    """Each folder the tenant writes to, listed once."""
    folders = sorted({folder_of(path) for path in run.desired.files})
    return {f: batch.add(functools.partial(share.list_folder, f)) for f in folders}


def add_downloads(
    run: TenantRun,
    share: WorkspaceShare,
    record: Record,
    listings: Mapping[str, Listing],
    batch: Batch,
) -> dict[str, Slot[Download] | bool]:
    """Per listed file, the record's verdict on its content (True: it holds the rendered
    bytes), or the download added to `batch` where the record cannot vouch for it."""
    out: dict[str, Slot[Download] | bool] = {}
    for path, f in run.desired.files.items():
        folder, _, name = path.rpartition("/")
        remote = (listings[folder] or {}).get(name)
        if remote is None or _too_large(remote):
            continue
        verdict = record.vouches_for(path, remote, f.content)
        out[path] = (
            batch.add(functools.partial(share.download, path)) if verdict is None else verdict
        )
    return out


def _too_large(remote: RemoteFile) -> bool:
    return remote.size is not None and remote.size > READ_LIMIT


def _same(path: str, same: bool) -> Change:
    if same:
        return Change(Kind.FILE, path, Action.NOOP)
    return Change.because(Kind.FILE, path, Action.UPDATE, Reason.CONTENT_DIFFERS)


def plan(
    run: TenantRun,
    record: Record,
    listings: Mapping[str, Listing],
    reads: Mapping[str, Slot[Download] | bool],
) -> FilesPlan:
    items: dict[str, Change] = {}
    etags: dict[str, str | None] = {}
    backups: dict[str, str] = {}
    plaintext: list[str] = []
    too_large: list[str] = []
    stamp = backup_stamp()
    for path, f in run.desired.files.items():
        folder, _, name = path.rpartition("/")
        remote = (listings[folder] or {}).get(name)
        read = reads.get(path)
        got = read.value if isinstance(read, Slot) else None
        if remote is None or (isinstance(read, Slot) and got is None):
            items[path] = Change.because(Kind.FILE, path, Action.CREATE, Reason.ABSENT_FILE)
            continue
        if isinstance(read, bool):  # the record vouched for it
            etags[path] = remote.etag
            items[path] = _same(path, read)
            continue
        if got is None:  # listed, not read: larger than the tool reads
            # Neither compared nor kept as a backup: left alone, and said.
            items[path] = Change(Kind.FILE, path, Action.REPORT, TOO_LARGE)
            too_large.append(f"{path}: {remote.size:,} bytes, {TOO_LARGE}")
            continue
        content, etag = got
        etags[path] = etag
        changed = content != f.content
        items[path] = _same(path, not changed)
        found = plaintext_settings(content, path) if name == MSTICPYCONFIG and changed else []
        if changed and not record.written_as_is(path, etag):
            # Not written by the tool as it stands: apply keeps a copy before replacing it.
            backups[path] = backup_path(path, stamp)
            detail = kept_as(backups[path], redacted=bool(found))
            items[path] = Change(Kind.FILE, path, Action.UPDATE, detail)
        plaintext += [plaintext_note(path, s) for s in found]
    temp = [
        f"{folder}/{n}"
        for folder, listing in listings.items()
        for n in listing or {}
        if n.startswith(TEMP_MARK)
    ]
    return FilesPlan(
        items=items,
        remote_etags=etags,
        temp_files=tuple(temp),
        missing_folders=frozenset(f for f, listing in listings.items() if listing is None),
        plaintext=tuple(too_large + plaintext),
        backups=backups,
    )


# -- apply -----------------------------------------------------------------------------------


def make_folders(share: WorkspaceShare, planned: FilesPlan) -> None:
    """Create the missing user folders that apply writes to (before the writes' batch)."""
    for folder in sorted({folder_of(p) for p in planned.to_write} & planned.missing_folders):
        share.ensure_folder(folder)


def _write(share: WorkspaceShare, path: str, content: bytes, backup: str | None) -> str | None:
    if backup is not None:
        back_up(share, path, backup)
    name = path.rpartition("/")[2]
    return share.upload_atomic(path, content, CONTENT_TYPES.get(name, "application/octet-stream"))


def add_writes(
    run: TenantRun, share: WorkspaceShare, planned: FilesPlan, batch: Batch
) -> dict[str, Slot[str | None]]:
    """Write every changed file (a hand-edited one is kept as a backup first) and delete the
    temporary files an interrupted run left. Each write's slot holds the ETag the service
    confirmed for its content (None: read it back)."""
    for path in planned.temp_files:
        batch.add(functools.partial(share.delete_file, path))
    return {
        path: batch.add(
            functools.partial(
                _write, share, path, run.desired.files[path].content, planned.backups.get(path)
            )
        )
        for path in planned.to_write
    }


def add_read_backs(
    share: WorkspaceShare, written: Mapping[str, Slot[str | None]], batch: Batch
) -> dict[str, Slot[Download]]:
    """Download every written file whose upload the service did not confirm."""
    return {
        path: batch.add(functools.partial(share.download, path))
        for path, confirmed in written.items()
        if not confirmed.value
    }


def read_back(
    run: TenantRun,
    written: Mapping[str, Slot[str | None]],
    downloads: Mapping[str, Slot[Download]],
) -> tuple[dict[str, str], dict[str, str]]:
    """(path -> mismatch, path -> ETag as now on the share) for every written file."""
    mismatches: dict[str, str] = {}
    etags: dict[str, str] = {}
    for path, confirmed in written.items():
        if confirmed.value:
            etags[path] = confirmed.value
            continue
        got = downloads[path].value
        if got is None or got[0] != run.desired.files[path].content:
            mismatches[path] = "content read back differs"
        elif got[1]:
            etags[path] = got[1]
    return mismatches, etags
