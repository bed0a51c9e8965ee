"""Azure Files backend, the namespace: every share's tree of directories and files, walked by
path, with its directories and renames. No HTTP here.

Rules kept from the service: names are case-insensitive and case-preserving; a file or directory
needs its parent directory (ParentNotFound); creating an existing directory fails; a directory
must be empty to be deleted; rename is atomic, may replace a target file, and never moves a
directory into itself. File content, file leases and copies are `models.FilesBackend`'s; accounts
and shares are `share_backend.ShareBackend`'s.
"""

from __future__ import annotations

import time

from provision.emulator.files.exceptions import (
    DirectoryNotEmpty,
    FilesError,
    ParentNotFound,
    ResourceAlreadyExists,
    ResourceNotFound,
)
from provision.emulator.files.nodes import DirNode, FileNode
from provision.emulator.files.share_backend import ShareBackend
from provision.emulator.wire import new_etag

__all__ = ["NamespaceBackend", "check_path"]

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


class NamespaceBackend(ShareBackend):
    """The directory tree of every share (and share snapshot): path walking, directories and
    renames."""

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

    # --- renames ---------------------------------------------------------------------------------
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


def _is_within(node: DirNode | FileNode, candidate: DirNode) -> bool:
    if node is candidate:
        return True
    if isinstance(node, DirNode):
        return any(_is_within(child, candidate) for child in node.children.values())
    return False
