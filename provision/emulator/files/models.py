"""Azure Files backend: directories, files, file leases and copies. No HTTP here.

Accounts and the share level (properties, leases, snapshots) are in `share_backend` and
`shares`; the file and directory records in `nodes`.

Rules kept from the service: names are case-insensitive and case-preserving; a file or directory
needs its parent directory (ParentNotFound); creating an existing directory fails, creating an
existing file replaces it; a directory must be empty to be deleted; writes beyond the file's size
fail (InvalidRange); the service never computes a whole-file MD5 (the client sets
``x-ms-content-md5``); rename is atomic and may replace the target; file leases are infinite
and every write to a leased file must carry the lease id.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from provision.emulator.files.exceptions import (
    CannotVerifyCopySource,
    DirectoryNotEmpty,
    FilesError,
    InvalidRange,
    LeaseAlreadyPresent,
    LeaseIdMismatchWithLeaseOperation,
    LeaseNotPresentWithFileOperation,
    LeaseNotPresentWithLeaseOperation,
    ParentNotFound,
    ResourceAlreadyExists,
    ResourceNotFound,
    ShareNotFound,
)
from provision.emulator.files.nodes import (
    ContentSettings,
    DirNode,
    FileNode,
)
from provision.emulator.files.share_backend import Account, ShareBackend
from provision.emulator.files.shares import Share
from provision.emulator.wire import http_date, new_etag

__all__ = [
    "Account",
    "ContentSettings",
    "DirNode",
    "FileNode",
    "FilesBackend",
    "Share",
]

PERMISSION_KEY = "12501538048846835188*422928105932735866"
_INVALID_NAME_CHARS = set('"\\:|<>*?')


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


class FilesBackend(ShareBackend):
    """All storage accounts of the emulator and the rules of their file shares."""

    # --- path walking -------------------------------------------------------------------------
    def _root(self, account: str, share: str, snapshot: str) -> DirNode:
        if snapshot:
            return self.snapshot(account, share, snapshot).root
        return self.share(account, share).root

    def _parent(self, account: str, share: str, parts: list[str], snapshot: str = "") -> DirNode:
        """The directory that holds parts[-1]; ParentNotFound when it does not exist."""
        check_path(parts)
        node: FileNode | DirNode = self._root(account, share, snapshot)
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

    def node(
        self, account: str, share: str, parts: list[str], snapshot: str = ""
    ) -> FileNode | DirNode:
        """The file or directory at parts, in the share or in one of its snapshots."""
        if not parts:
            return self._root(account, share, snapshot)
        parent = self._parent(account, share, parts, snapshot)
        child = parent.children.get(parts[-1].lower())
        if child is None:
            raise ResourceNotFound()
        return child

    def directory(self, account: str, share: str, parts: list[str], snapshot: str = "") -> DirNode:
        node = self.node(account, share, parts, snapshot)
        if not isinstance(node, DirNode):
            raise ResourceNotFound()
        return node

    def file(self, account: str, share: str, parts: list[str], snapshot: str = "") -> FileNode:
        if not parts:
            raise ResourceNotFound()
        node = self.node(account, share, parts, snapshot)
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
        snapshot: str = "",
    ) -> list[FileNode | DirNode]:
        node = self.directory(account, share, parts, snapshot)
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

    def copy_file(
        self,
        account: str,
        share: str,
        parts: list[str],
        *,
        source: tuple[str, str, str, list[str]],
        source_url: str,
        metadata: dict[str, str] | None,
        lease_id: str | None = None,
    ) -> FileNode:
        """Copy File, completed at once: source is (account, share, snapshot, path parts)."""
        src_account, src_share, src_snapshot, src_parts = source
        try:
            src = self.file(src_account, src_share, src_parts, src_snapshot)
        except (ResourceNotFound, ParentNotFound, ShareNotFound):
            raise CannotVerifyCopySource() from None
        content, settings = bytes(src.content), copy.copy(src.settings)
        kept_metadata = dict(src.metadata if metadata is None else metadata)
        node = self.create_file(
            account,
            share,
            parts,
            len(content),
            settings=settings,
            metadata=kept_metadata,
            lease_id=lease_id,
        )
        node.content[:] = content
        node.copy = {
            "x-ms-copy-id": str(uuid.uuid4()),
            "x-ms-copy-source": source_url,
            "x-ms-copy-status": "success",
            "x-ms-copy-progress": f"{len(content)}/{len(content)}",
            "x-ms-copy-completion-time": http_date(),
        }
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
                    "shares": [s.to_dict() for s in a.shares.values()],
                    "service_properties": a.service_properties,
                }
                for a in self.accounts.values()
            ]
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        self.accounts.clear()
        for raw in data.get("accounts", []):
            account = Account(
                name=raw["name"],
                keys=list(raw["keys"]),
                tenant_id=raw.get("tenant_id", "common"),
                service_properties=dict(raw.get("service_properties", {})),
            )
            for s in raw.get("shares", []):
                account.shares[s["name"]] = Share.from_dict(s)
            self.accounts[account.name] = account


def _is_within(node: DirNode | FileNode, candidate: DirNode) -> bool:
    if node is candidate:
        return True
    if isinstance(node, DirNode):
        return any(_is_within(child, candidate) for child in node.children.values())
    return False
