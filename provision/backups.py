"""Keep an analyst's copy of a file the tool is about to overwrite or delete.

A file the tool did not write as it stands now (absent from the tenant's record, or whose ETag
differs from the one recorded when the tool wrote it: provision.tenant.record) holds someone's
edits. Before apply
overwrites or prunes it, the current bytes are copied into a dot-folder of the same user folder:

    Users/<alias>/.msticpy-provision-backups/<file name>.<UTC time, YYYYMMDDTHHMMSSZ>

written atomically like every upload (WorkspaceShare.upload_atomic). Every workspace user can
read that folder: in a backup of a msticpyconfig.yaml, each secret setting holding a literal
value (a plaintext API key) has it replaced by a marker naming the setting. At most `KEEP`
backups of a file are kept; the oldest go first. The backup folder is never read by plan and
never pruned as a whole: it is the analyst's.
"""

from __future__ import annotations

import datetime as _dt
import re

from provision.adopt.findings import redact_plaintext
from provision.render import MSTICPYCONFIG
from provision.share import WorkspaceShare

BACKUP_FOLDER = ".msticpy-provision-backups"
KEEP = 5
EDITED = "edited outside msticpy-provision"


def backup_stamp(now: _dt.datetime | None = None) -> str:
    """UTC time as a sortable suffix (backups of one file sort oldest first by name)."""
    return (now or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def backup_path(path: str, stamp: str) -> str:
    """Where the current `Users/<alias>/<name>` is kept before it is replaced."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/{BACKUP_FOLDER}/{name}.{stamp}"


def kept_as(backup: str, redacted: bool = False) -> str:
    """The plan's detail for a hand-edited file that apply replaces."""
    detail = f"{EDITED}; the current file will be kept as {backup}"
    return detail + " (its plaintext secrets redacted)" if redacted else detail


def back_up(share: WorkspaceShare, path: str, backup: str, keep: int = KEEP) -> bool:
    """Copy the current `path` to `backup`, then drop the oldest backups beyond `keep`.

    Returns False when there was nothing to keep (the file is gone).
    """
    got = share.download(path)
    if got is None:
        return False
    folder, _, _ = backup.rpartition("/")
    share.ensure_folder(folder)
    content = got[0]
    if path.endswith(f"/{MSTICPYCONFIG}"):
        content, _ = redact_plaintext(content, path)  # the backup folder is readable by all
    share.upload_atomic(backup, content, "application/octet-stream")
    name = path.rpartition("/")[2]
    listing = share.list_folder(folder) or {}
    ours = re.compile(rf"^{re.escape(name)}\.\d{{8}}T\d{{6}}Z$")
    mine = sorted(n for n in listing if ours.match(n))
    for old in mine[: max(0, len(mine) - keep)]:
        share.delete_file(f"{folder}/{old}")
    return True
