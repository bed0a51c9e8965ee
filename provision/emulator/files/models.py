"""Azure Files backend: `FilesBackend`, every storage account with its shares, directories and
files. No HTTP here.

The backend is built in layers, each a module: accounts and the share level (properties, leases,
snapshots) in `share_backend` and `shares`; the directory tree (path walking, directories,
renames) in `namespace`; the file and directory records in `nodes`. This module adds the files:
content, properties, metadata, copies and file leases, and the state.json form of it all.

Rules kept from the service: creating an existing file replaces it; writes beyond the file's size
fail (InvalidRange); the service never computes a whole-file MD5 (the client sets
``x-ms-content-md5``); file leases are infinite and every write to a leased file must carry the
lease id.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from provision.emulator.files.exceptions import (
    CannotVerifyCopySource,
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
from provision.emulator.files.namespace import NamespaceBackend
from provision.emulator.files.nodes import (
    ContentSettings,
    DirNode,
    FileNode,
)
from provision.emulator.files.share_backend import Account
from provision.emulator.files.shares import Share
from provision.emulator.wire import http_date

__all__ = [
    "Account",
    "ContentSettings",
    "DirNode",
    "FileNode",
    "FilesBackend",
    "Share",
]

PERMISSION_KEY = "12501538048846835188*422928105932735866"


class FilesBackend(NamespaceBackend):
    """All storage accounts of the emulator and the rules of their file shares."""

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
