"""The files and directories of a share, and their snapshot form for state.json. No HTTP here."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from provision.emulator.files.exceptions import (
    LeaseIdMismatchWithFileOperation,
    LeaseIdMissing,
    LeaseNotPresentWithFileOperation,
)
from provision.emulator.wire import new_etag

__all__ = ["ContentSettings", "DirNode", "FileNode", "node_from_dict", "node_to_dict"]


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
    copy: dict[str, str] = field(default_factory=dict)  # x-ms-copy-* of the last Copy File

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


def node_to_dict(node: FileNode | DirNode) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(node, k) for k in _COMMON}
    if isinstance(node, DirNode):
        out["type"] = "dir"
        out["children"] = [node_to_dict(c) for c in node.children.values()]
    else:
        out.update(
            type="file",
            content=base64.b64encode(bytes(node.content)).decode("ascii"),
            settings=node.settings.to_dict(),
            lease_id=node.lease_id,
            lease_state=node.lease_state,
            copy=node.copy,
        )
    return out


def node_from_dict(data: dict[str, Any]) -> FileNode | DirNode:
    common = {k: data[k] for k in _COMMON}
    if data["type"] == "dir":
        children = [node_from_dict(c) for c in data["children"]]
        return DirNode(**common, children={c.name.lower(): c for c in children})
    return FileNode(
        **common,
        content=bytearray(base64.b64decode(data["content"])),
        settings=ContentSettings(**data["settings"]),
        lease_id=data["lease_id"],
        lease_state=data["lease_state"],
        copy=dict(data.get("copy", {})),
    )
