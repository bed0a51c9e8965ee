"""The workspace's notebook file share: user folders, atomic uploads, the record and the lock.

Uploads never leave a user file truncated or mixed: new content goes to a temporary file in the
same folder (created with its Content-MD5, ranges sent with validate_content), and is then renamed
server-side over the final name (Azure Files rename with replace-if-exists is atomic). A crash
leaves at most a temporary file, which the next run deletes.

The tenant's record (`.msticpy-provision/<tenant>/state.json`) is written and read here as bytes;
what it says and what a run may trust it for is provision.tenant.record's alone.

The per-tenant lock is an infinite lease on `.msticpy-provision/<tenant>/lock`, whose metadata
names the holder and carries its heartbeat (provision.lock). Lock and record are per tenant, not
per share: tenants whose analysts share one ML workspace (different `Users/<alias>/` folders) are
applied in one run without waiting for, or overwriting the record of, each other. (Versions
before this layout used `.msticpy-provision/lock` and `state.json`; they are ignored, which costs
one full read.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import secrets as _random
from dataclasses import dataclass
from typing import Any

from provision.errors import TenantError
from provision.lock import LockPolicy, foreign_lease, hold_lock

STATE_DIR = ".msticpy-provision"
USERS = "Users"
TEMP_MARK = ".msticpy-provision-tmp-"
# Every file the tool reads from the share is read up to this size: its own files are a few
# KiB, and anyone can write a file of any size there (an analyst's config, a forged record).
READ_LIMIT = 1024 * 1024


class FileTooLarge(TenantError):
    """A file on the share is larger than the tool reads."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        self.path, self.size = path, size
        super().__init__(
            f"{path} is {size:,} bytes, over the {limit // 1024:,} KiB the tool reads from the "
            "share: not read"
        )


@dataclass(frozen=True)
class RemoteFile:
    name: str
    etag: str | None
    size: int | None


def state_folder(tenant: str) -> str:
    """The tenant's own folder for its record and lock (tenant names are slugs)."""
    return f"{STATE_DIR}/{tenant}"


def manifest_path(tenant: str) -> str:
    return f"{state_folder(tenant)}/state.json"


def lock_path(tenant: str) -> str:
    return f"{state_folder(tenant)}/lock"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class WorkspaceShare:
    """Operations on one workspace's code share (a ShareClient), for one tenant's record and
    lock."""

    def __init__(self, share: Any, *, tenant: str) -> None:
        self.share = share
        self.tenant = tenant
        self.manifest_path = manifest_path(tenant)
        self.lock_path = lock_path(tenant)
        self._folders: set[str] = set()  # folders known to exist: no second CreateDirectory
        self.lock_policy = LockPolicy()

    # -- reads -----------------------------------------------------------------------------

    def list_folder(self, folder: str) -> dict[str, RemoteFile] | None:
        """Files directly in `folder` (None when the folder does not exist)."""
        from azure.core.exceptions import ResourceNotFoundError

        out: dict[str, RemoteFile] = {}
        try:
            items = self.share.get_directory_client(folder).list_directories_and_files(
                include=["timestamps", "Etag"]
            )
            for item in items:
                if item.get("is_directory"):
                    continue
                name = str(item["name"])
                out[name] = RemoteFile(name, _norm_etag(item.get("etag")), item.get("size"))
        except ResourceNotFoundError:
            return None
        return out

    def download(self, path: str, limit: int = READ_LIMIT) -> tuple[bytes, str | None] | None:
        """The file's content and ETag (None: no such file), reading at most `limit` bytes:
        a larger file raises FileTooLarge without being read whole (one ranged GET)."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        client = self.share.get_file_client(path)
        try:
            try:
                stream = client.download_file(offset=0, length=limit + 1)
            except HttpResponseError as exc:
                if exc.status_code != 416:
                    raise
                stream = client.download_file()  # an empty file has no first byte to range
            size = stream.properties.size
            if size is not None and size > limit:
                raise FileTooLarge(path, int(size), limit)
            return stream.readall(), _norm_etag(stream.properties.etag)
        except ResourceNotFoundError:
            return None

    # -- writes ----------------------------------------------------------------------------

    def ensure_folder(self, folder: str) -> None:
        """Create `folder` and its parents (existing ones are fine)."""
        from azure.core.exceptions import ResourceExistsError

        parts = folder.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            path = "/".join(parts[:i])
            if path in self._folders:
                continue
            with contextlib.suppress(ResourceExistsError):
                self.share.get_directory_client(path).create_directory()
            self._folders.add(path)

    def upload_atomic(self, path: str, content: bytes, content_type: str) -> str | None:
        """Write `content` at `path`: readers see the old file or the new one, never a mix.

        Returns the ETag of the file as renamed when the service confirmed the content: the one
        range sent was accepted with the Content-MD5 the service computed equal to ours (the
        service refuses a range whose body does not match the Content-MD5 sent, Put Range), and
        the rename answered with the new file's ETag (Rename File's response headers carry it).
        A read-back download would then fetch the bytes just confirmed; the caller may skip it.
        None when the upload took several ranges or an answer lacked either header: read back.
        """
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.fileshare import ContentSettings

        folder, _, name = path.rpartition("/")
        tmp = f"{folder}/{TEMP_MARK}{_random.token_hex(6)}-{name}"
        md5 = hashlib.md5(content, usedforsecurity=False).digest()
        tmp_client = self.share.get_file_client(tmp)
        uploaded = tmp_client.upload_file(
            content,
            content_settings=ContentSettings(content_type=content_type, content_md5=bytearray(md5)),
            validate_content=True,
        )
        renamed: dict[str, Any] = {}
        try:
            tmp_client.rename_file(
                path,
                overwrite=True,
                raw_response_hook=lambda r: renamed.update(r.http_response.headers),
            )
        except ResourceNotFoundError:
            # A retried rename whose first attempt succeeded: the source is gone. Accept it only
            # if the destination now holds exactly our content.
            got = self.download(path)
            if got is None or got[0] != content:
                raise
            return got[1]
        # A multi-range upload's last answer holds the MD5 of its last range only: not equal.
        confirmed = bytes(uploaded.get("content_md5") or b"") == md5
        etag = _norm_etag(renamed.get("ETag") or renamed.get("etag"))
        return etag if confirmed and etag else None

    def delete_file(self, path: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self.share.get_file_client(path).delete_file()

    def write_state(self, body: bytes) -> None:
        """Replace the tenant's record (provision.tenant.record owns what it says); first
        delete temporary copies an interrupted run left.

        Done here, on the write path (under the lock), rather than in every plan, so that a
        no-op plan costs no extra listing.
        """
        folder = state_folder(self.tenant)
        self.ensure_folder(folder)
        for name in self.list_folder(folder) or {}:
            if name.startswith(TEMP_MARK):
                self.delete_file(f"{folder}/{name}")
        self.upload_atomic(self.manifest_path, body, "application/json")

    # -- lock --------------------------------------------------------------------------------

    def locked(
        self, holder: str, timeout: float = 0.0, *, break_foreign: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        """Hold the tenant's lock for the block (see provision.lock); LockHeld on timeout, or
        at once for a lease this tool did not take unless `break_foreign` (--break-lock)."""
        return hold_lock(
            self.share.get_file_client(self.lock_path),
            holder,
            timeout,
            dataclasses.replace(self.lock_policy, break_foreign=break_foreign),
            create=self._create_lock_file,
        )

    def foreign_lock(self) -> bool:
        """Whether something other than this tool holds a lease on the tenant's lock."""
        return foreign_lease(self.share.get_file_client(self.lock_path))

    def _create_lock_file(self, metadata: dict[str, str]) -> None:
        from azure.core.exceptions import HttpResponseError

        self.ensure_folder(state_folder(self.tenant))
        with contextlib.suppress(HttpResponseError):
            self.share.get_file_client(self.lock_path).create_file(0, metadata=metadata)


def _norm_etag(etag: Any) -> str | None:
    return str(etag).strip('"') if etag else None
