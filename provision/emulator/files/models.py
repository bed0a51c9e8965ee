"""Azure Files backend: storage accounts, shares, directories, files, leases. No HTTP here.

Rules kept from the service: names are case-insensitive and case-preserving; a file or directory
needs its parent directory (ParentNotFound); creating an existing directory fails, creating an
existing file replaces it; a directory must be empty to be deleted; writes beyond the file's size
fail (InvalidRange); the service never computes a whole-file MD5 (the client sets
``x-ms-content-md5``); rename is atomic and may replace the target; file leases are infinite
and every write to a leased file must carry the lease id.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from provision.emulator.files.exceptions import (
    DirectoryNotEmpty,
    FilesError,
    InvalidRange,
    LeaseAlreadyPresent,
    LeaseIdMismatchWithFileOperation,
    LeaseIdMismatchWithLeaseOperation,
    LeaseIdMissing,
    LeaseNotPresentWithFileOperation,
    LeaseNotPresentWithLeaseOperation,
    ParentNotFound,
    ResourceAlreadyExists,
    ResourceNotFound,
    ShareAlreadyExists,
    ShareNotFound,
)
from provision.emulator.wire import new_etag

__all__ = [
    "Account",
    "ContentSettings",
    "DirNode",
    "FileNode",
    "FilesBackend",
    "Share",
]

ACCOUNT_NAME_RE = re.compile(r"^[a-z0-9]{3,24}$")
SHARE_NAME_RE = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
DEFAULT_QUOTA_GIB = 102400
PERMISSION_KEY = "12501538048846835188*422928105932735866"
_INVALID_NAME_CHARS = set('"\\:|<>*?')


def _file_id() -> str:
    return str(secrets.randbits(63))


@dataclass
class ContentSettings:
    content_type: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    content_disposition: str | None = None
    cache_control: str | None = None
    content_md5: str | None = None  # base64, as sent in x-ms-content-md5

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Node:
    name: str
    metadata: dict[str, str] = field(default_factory=dict)
    etag: str = field(default_factory=new_etag)
    created: float = field(default_factory=time.time)
    last_modified: float = field(default_factory=time.time)
    changed: float = field(default_factory=time.time)
    file_id: str = field(default_factory=_file_id)

    def touch(self) -> None:
        now = time.time()
        self.etag = new_etag()
        self.last_modified = now
        self.changed = now


@dataclass
class FileNode(_Node):
    content: bytearray = field(default_factory=bytearray)
    settings: ContentSettings = field(default_factory=ContentSettings)
    attributes: str = "Archive"
    lease_id: str | None = None
    lease_state: str = "available"  # available | leased | broken

    @property
    def size(self) -> int:
        return len(self.content)

    def check_write_lease(self, lease_id: str | None) -> None:
        """Raise the error Azure answers to a write on this file with this lease id header."""
        if self.lease_state == "leased":
            if not lease_id:
                raise LeaseIdMissing()
            if lease_id.lower() != (self.lease_id or "").lower():
                raise LeaseIdMismatchWithFileOperation()
        elif lease_id:
            raise LeaseNotPresentWithFileOperation()


@dataclass
class DirNode(_Node):
    attributes: str = "Directory"
    children: dict[str, FileNode | DirNode] = field(default_factory=dict)  # by lower-case name


@dataclass
class Share:
    name: str
    quota: int = DEFAULT_QUOTA_GIB
    metadata: dict[str, str] = field(default_factory=dict)
    etag: str = field(default_factory=new_etag)
    last_modified: float = field(default_factory=time.time)
    root: DirNode = field(default_factory=lambda: DirNode(name=""))


@dataclass
class Account:
    name: str
    keys: list[str]
    tenant_id: str = "common"
    shares: dict[str, Share] = field(default_factory=dict)


def check_path(parts: list[str]) -> None:
    for part in parts:
        if (
            not part
            or part in (".", "..")
            or any(ch in _INVALID_NAME_CHARS for ch in part)
            or len(part) > 255
        ):
            raise FilesError(
                f"The specified resource name contains invalid characters: {part!r}",
                status=400,
                code="InvalidResourceName",
            )


class FilesBackend:
    """All storage accounts of the emulator and the rules of their file shares."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.revision = 0

    def _changed(self) -> None:
        self.revision += 1

    # --- accounts and shares ----------------------------------------------------------------
    def create_account(self, name: str, keys: list[str], tenant_id: str = "common") -> Account:
        """Create the account if missing (idempotent: an existing account keeps its keys)."""
        if not ACCOUNT_NAME_RE.match(name):
            raise FilesError(
                f"Storage account name {name!r} is not 3-24 lower-case letters and digits",
                status=400,
                code="AccountNameInvalid",
            )
        account = self.accounts.get(name)
        if account is None:
            account = self.accounts[name] = Account(name=name, keys=list(keys), tenant_id=tenant_id)
            self._changed()
        return account

    def find_account(self, name: str) -> Account | None:
        return self.accounts.get(name)

    def account(self, name: str) -> Account:
        account = self.accounts.get(name)
        if account is None:
            raise ResourceNotFound(f"No storage account named {name!r}")
        return account

    def create_share(
        self,
        account: str,
        name: str,
        *,
        quota: int | None = None,
        metadata: dict[str, str] | None = None,
        exist_ok: bool = False,
    ) -> Share:
        if not SHARE_NAME_RE.match(name):
            raise FilesError(
                "The specifed resource name contains invalid characters.",
                status=400,
                code="InvalidResourceName",
            )
        acct = self.account(account)
        share = acct.shares.get(name)
        if share is not None:
            if exist_ok:
                return share
            raise ShareAlreadyExists()
        share = acct.shares[name] = Share(
            name=name, quota=quota or DEFAULT_QUOTA_GIB, metadata=dict(metadata or {})
        )
        self._changed()
        return share

    def share(self, account: str, name: str) -> Share:
        share = self.account(account).shares.get(name.lower())
        if share is None:
            raise ShareNotFound()
        return share

    def list_shares(self, account: str) -> list[Share]:
        acct = self.account(account)
        return [acct.shares[k] for k in sorted(acct.shares)]

    def delete_share(self, account: str, name: str) -> None:
        self.share(account, name)
        del self.account(account).shares[name.lower()]
        self._changed()

    def set_share_metadata(self, account: str, name: str, metadata: dict[str, str]) -> Share:
        share = self.share(account, name)
        share.metadata = dict(metadata)
        share.etag, share.last_modified = new_etag(), time.time()
        self._changed()
        return share

    # --- path walking -------------------------------------------------------------------------
    def _parent(self, account: str, share: str, parts: list[str]) -> DirNode:
        """The directory that holds parts[-1]; ParentNotFound when it does not exist."""
        check_path(parts)
        node: FileNode | DirNode = self.share(account, share).root
        for part in parts[:-1]:
            if not isinstance(node, DirNode):
                raise ParentNotFound()
            child = node.children.get(part.lower())
            if child is None:
                raise ParentNotFound()
            node = child
        if not isinstance(node, DirNode):
            raise ParentNotFound()
        return node

    def node(self, account: str, share: str, parts: list[str]) -> FileNode | DirNode:
        if not parts:
            return self.share(account, share).root
        parent = self._parent(account, share, parts)
        child = parent.children.get(parts[-1].lower())
        if child is None:
            raise ResourceNotFound()
        return child

    def directory(self, account: str, share: str, parts: list[str]) -> DirNode:
        node = self.node(account, share, parts)
        if not isinstance(node, DirNode):
            raise ResourceNotFound()
        return node

    def file(self, account: str, share: str, parts: list[str]) -> FileNode:
        if not parts:
            raise ResourceNotFound()
        node = self.node(account, share, parts)
        if not isinstance(node, FileNode):
            raise ResourceNotFound()
        return node

    # --- directories ----------------------------------------------------------------------------
    def create_directory(
        self, account: str, share: str, parts: list[str], *, metadata: dict[str, str] | None = None
    ) -> DirNode:
        if not parts:
            raise ResourceAlreadyExists()
        parent = self._parent(account, share, parts)
        if parts[-1].lower() in parent.children:
            raise ResourceAlreadyExists()
        node = parent.children[parts[-1].lower()] = DirNode(
            name=parts[-1], metadata=dict(metadata or {})
        )
        parent.touch()
        self._changed()
        return node

    def delete_directory(self, account: str, share: str, parts: list[str]) -> None:
        node = self.directory(account, share, parts)
        if not parts:
            raise FilesError(
                "The root directory of a share cannot be deleted.", status=400, code="InvalidUri"
            )
        if node.children:
            raise DirectoryNotEmpty()
        parent = self._parent(account, share, parts)
        del parent.children[parts[-1].lower()]
        parent.touch()
        self._changed()

    def set_directory_metadata(
        self, account: str, share: str, parts: list[str], metadata: dict[str, str]
    ) -> DirNode:
        node = self.directory(account, share, parts)
        node.metadata = dict(metadata)
        node.touch()
        self._changed()
        return node

    def list_directory(
        self,
        account: str,
        share: str,
        parts: list[str],
        *,
        prefix: str = "",
    ) -> list[FileNode | DirNode]:
        node = self.directory(account, share, parts)
        entries = [node.children[k] for k in sorted(node.children)]
        if prefix:
            entries = [e for e in entries if e.name.startswith(prefix)]
        return entries

    # --- files ----------------------------------------------------------------------------------
    def create_file(
        self,
        account: str,
        share: str,
        parts: list[str],
        size: int,
        *,
        settings: ContentSettings | None = None,
        metadata: dict[str, str] | None = None,
        lease_id: str | None = None,
    ) -> FileNode:
        if not parts:
            raise ResourceAlreadyExists()
        parent = self._parent(account, share, parts)
        existing = parent.children.get(parts[-1].lower())
        if isinstance(existing, DirNode):
            raise ResourceAlreadyExists()
        if existing is not None:
            existing.check_write_lease(lease_id)
            existing.content = bytearray(size)
            existing.settings = settings or ContentSettings()
            existing.metadata = dict(metadata or {})
            existing.touch()
            self._changed()
            return existing
        if lease_id:
            raise LeaseNotPresentWithFileOperation()
        node = FileNode(
            name=parts[-1],
            content=bytearray(size),
            settings=settings or ContentSettings(),
            metadata=dict(metadata or {}),
        )
        parent.children[parts[-1].lower()] = node
        parent.touch()
        self._changed()
        return node

    def put_range(
        self,
        account: str,
        share: str,
        parts: list[str],
        start: int,
        end: int,
        data: bytes | None,
        *,
        lease_id: str | None = None,
    ) -> FileNode:
        """Write data to bytes start..end (inclusive), or zero them when data is None."""
        node = self.file(account, share, parts)
        node.check_write_lease(lease_id)
        if start < 0 or end < start or end >= node.size:
            raise InvalidRange()
        if data is None:
            node.content[start : end + 1] = bytes(end - start + 1)
        else:
            node.content[start : end + 1] = data
        node.touch()
        self._changed()
        return node

    def set_file_properties(
        self,
        account: str,
        share: str,
        parts: list[str],
        *,
        settings: ContentSettings,
        size: int | None = None,
        lease_id: str | None = None,
    ) -> FileNode:
        """Replace the content settings (all of them, as Set File Properties does); resize."""
        node = self.file(account, share, parts)
        node.check_write_lease(lease_id)
        node.settings = settings
        if size is not None:
            if size < node.size:
                del node.content[size:]
            else:
                node.content.extend(bytes(size - node.size))
        node.touch()
        self._changed()
        return node

    def set_file_metadata(
        self,
        account: str,
        share: str,
        parts: list[str],
        metadata: dict[str, str],
        *,
        lease_id: str | None = None,
    ) -> FileNode:
        node = self.file(account, share, parts)
        node.check_write_lease(lease_id)
        node.metadata = dict(metadata)
        node.touch()
        self._changed()
        return node

    def delete_file(
        self, account: str, share: str, parts: list[str], *, lease_id: str | None = None
    ) -> None:
        node = self.file(account, share, parts)
        node.check_write_lease(lease_id)
        parent = self._parent(account, share, parts)
        del parent.children[parts[-1].lower()]
        parent.touch()
        self._changed()

    def rename(
        self,
        account: str,
        share: str,
        source: list[str],
        target: list[str],
        *,
        replace: bool,
        directory: bool = False,
        source_lease_id: str | None = None,
        target_lease_id: str | None = None,
    ) -> FileNode | DirNode:
        """Move a file (or directory) to target in one step, replacing a target file if asked."""
        node = self.node(account, share, source) if source else None
        if node is None or isinstance(node, DirNode) != directory:
            raise ResourceNotFound()
        if isinstance(node, FileNode) and node.lease_state == "leased":
            node.check_write_lease(source_lease_id)
        if not target:
            raise ResourceAlreadyExists()
        target_parent = self._parent(account, share, target)
        existing = target_parent.children.get(target[-1].lower())
        if existing is node:
            existing = None  # a change of case only
        if existing is not None:
            if not replace or isinstance(existing, DirNode):
                raise ResourceAlreadyExists()
            if existing.lease_state == "leased":
                existing.check_write_lease(target_lease_id)
        if directory and _is_within(node, target_parent):
            raise FilesError(
                "The destination of a rename is inside its source.",
                status=400,
                code="InvalidResourceName",
            )
        source_parent = self._parent(account, share, source)
        del source_parent.children[source[-1].lower()]
        node.name = target[-1]
        target_parent.children[target[-1].lower()] = node
        node.changed = time.time()
        node.etag = new_etag()
        source_parent.touch()
        target_parent.touch()
        self._changed()
        return node

    # --- leases ---------------------------------------------------------------------------------
    def lease(
        self,
        account: str,
        share: str,
        parts: list[str],
        action: str,
        *,
        lease_id: str | None = None,
        proposed_id: str | None = None,
    ) -> FileNode:
        """acquire | release | change | break a file's (infinite) lease."""
        node = self.file(account, share, parts)
        current = (node.lease_id or "").lower()
        if action == "acquire":
            new_id = (proposed_id or str(uuid.uuid4())).lower()
            if node.lease_state == "leased" and current != new_id:
                raise LeaseAlreadyPresent()
            node.lease_id, node.lease_state = new_id, "leased"
        elif action == "release":
            if node.lease_state != "leased":
                raise LeaseNotPresentWithLeaseOperation()
            if (lease_id or "").lower() != current:
                raise LeaseIdMismatchWithLeaseOperation()
            node.lease_id, node.lease_state = None, "available"
        elif action == "change":
            if node.lease_state != "leased":
                raise LeaseNotPresentWithLeaseOperation()
            if (lease_id or "").lower() != current or not proposed_id:
                raise LeaseIdMismatchWithLeaseOperation()
            node.lease_id = proposed_id.lower()
        elif action == "break":
            if node.lease_state == "available":
                raise LeaseNotPresentWithLeaseOperation()
            if lease_id and lease_id.lower() != current:
                raise LeaseIdMismatchWithLeaseOperation()
            node.lease_id, node.lease_state = None, "broken"
        else:
            raise FilesError(
                f"x-ms-lease-action {action!r} is not acquire, release, change or break.",
                status=400,
                code="InvalidHeaderValue",
            )
        self._changed()
        return node

    # --- persistence ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "accounts": [
                {
                    "name": a.name,
                    "keys": a.keys,
                    "tenant_id": a.tenant_id,
                    "shares": [
                        {
                            "name": s.name,
                            "quota": s.quota,
                            "metadata": s.metadata,
                            "etag": s.etag,
                            "last_modified": s.last_modified,
                            "root": _node_to_dict(s.root),
                        }
                        for s in a.shares.values()
                    ],
                }
                for a in self.accounts.values()
            ]
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        self.accounts.clear()
        for raw in data.get("accounts", []):
            account = Account(
                name=raw["name"], keys=list(raw["keys"]), tenant_id=raw.get("tenant_id", "common")
            )
            for s in raw.get("shares", []):
                root = _node_from_dict(s["root"])
                assert isinstance(root, DirNode)
                account.shares[s["name"]] = Share(
                    name=s["name"],
                    quota=s["quota"],
                    metadata=s["metadata"],
                    etag=s["etag"],
                    last_modified=s["last_modified"],
                    root=root,
                )
            self.accounts[account.name] = account


def _is_within(node: DirNode | FileNode, candidate: DirNode) -> bool:
    if node is candidate:
        return True
    if isinstance(node, DirNode):
        return any(_is_within(child, candidate) for child in node.children.values())
    return False


_COMMON = (
    "name",
    "metadata",
    "etag",
    "created",
    "last_modified",
    "changed",
    "file_id",
    "attributes",
)


def _node_to_dict(node: FileNode | DirNode) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(node, k) for k in _COMMON}
    if isinstance(node, DirNode):
        out["type"] = "dir"
        out["children"] = [_node_to_dict(c) for c in node.children.values()]
    else:
        out.update(
            type="file",
            content=base64.b64encode(bytes(node.content)).decode("ascii"),
            settings=node.settings.to_dict(),
            lease_id=node.lease_id,
            lease_state=node.lease_state,
        )
    return out


def _node_from_dict(data: dict[str, Any]) -> FileNode | DirNode:
    common = {k: data[k] for k in _COMMON}
    if data["type"] == "dir":
        children = [_node_from_dict(c) for c in data["children"]]
        return DirNode(**common, children={c.name.lower(): c for c in children})
    return FileNode(
        **common,
        content=bytearray(base64.b64decode(data["content"])),
        settings=ContentSettings(**data["settings"]),
        lease_id=data["lease_id"],
        lease_state=data["lease_state"],
    )
