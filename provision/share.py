"""The workspace's notebook file share: user folders, atomic uploads, the manifest and the lock.

Uploads never leave a user file truncated or mixed: new content goes to a temporary file in the
same folder (created with its Content-MD5, ranges sent with validate_content), and is then renamed
server-side over the final name (Azure Files rename with replace-if-exists is atomic). A crash
leaves at most a temporary file, which the next run deletes.

The manifest (`.msticpy-provision/<tenant>/state.json`) records, per file this tool wrote, the
ETag it read back and the MD5 of the content. A later plan lists each user folder once: a file
whose ETag still matches needs no further read; any other file is downloaded and hashed. The
manifest's ETags are a cache: losing it costs reads, not correctness. Its paths are also the
record of what the tool wrote, which nothing else can tell: a recorded file the inventory no
longer renders is an orphan (provision.orphans), and a file about to be overwritten that is not
recorded with its current ETag is kept as a backup first (provision.backups). Losing the manifest
therefore costs backups of unedited files and leaves older files unpruned; it never deletes an
analyst's file.

The per-tenant lock is an infinite lease on `.msticpy-provision/<tenant>/lock`, whose metadata
names the holder and carries its heartbeat (provision.lock). Lock and manifest are per tenant, not
per share: tenants whose analysts share one ML workspace (different `Users/<alias>/` folders) are
applied in one run without waiting for, or overwriting the manifest of, each other. (Versions
before this layout used `.msticpy-provision/lock` and `state.json`; they are ignored, which costs
one full read.)

Beside the files, the manifest keeps what the last apply that wrote had checked: the names of the
secrets tagged for the tenant in each of its vaults, and each Sentinel workspace whose customerId
matched the inventory. A later `apply` whose inventory still says the same trusts that record
instead of listing the vaults and reading the workspaces again; `plan` and `verify` always read
them, and `--prune` and an apply that writes list the vaults (provision.observe).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets as _random
from dataclasses import dataclass, field
from typing import Any

from provision.lock import LockPolicy, hold_lock

STATE_DIR = ".msticpy-provision"
USERS = "Users"
TEMP_MARK = ".msticpy-provision-tmp-"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    etag: str | None
    size: int | None


@dataclass(frozen=True)
class Manifest:
    """The tenant's state.json as read (empty when absent or unreadable)."""

    files: dict[str, dict[str, str]] = field(default_factory=dict)  # path -> etag, md5
    # vault (case-folded) -> names of the secrets tagged for the tenant there; None: not recorded
    secrets: dict[str, list[str]] | None = None
    # Log Analytics workspace ARM path (lower case) -> customerId (lower case) found to match
    sentinel: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {"version": 1, "files": self.files, "sentinel": self.sentinel}
        if self.secrets is not None:
            doc["secrets"] = self.secrets
        return json.dumps(doc, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse state.json; any part that is not as written is read as not recorded."""
        try:
            data = json.loads(raw)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        files = data.get("files")
        secrets = data.get("secrets")
        sentinel = data.get("sentinel")
        return cls(
            files={str(k): dict(v) for k, v in files.items() if isinstance(v, dict)}
            if isinstance(files, dict)
            else {},
            secrets={str(k): [str(n) for n in v] for k, v in secrets.items() if isinstance(v, list)}
            if isinstance(secrets, dict)
            else None,
            sentinel={str(k): str(v) for k, v in sentinel.items()}
            if isinstance(sentinel, dict)
            else {},
        )


def state_folder(tenant: str) -> str:
    """The tenant's own folder for its manifest and lock (tenant names are slugs)."""
    return f"{STATE_DIR}/{tenant}"


def manifest_path(tenant: str) -> str:
    return f"{state_folder(tenant)}/state.json"


def lock_path(tenant: str) -> str:
    return f"{state_folder(tenant)}/lock"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class WorkspaceShare:
    """Operations on one workspace's code share (a ShareClient), for one tenant's manifest and
    lock."""

    def __init__(self, share: Any, *, tenant: str) -> None:
        self.share = share
        self.tenant = tenant
        self.manifest_path = manifest_path(tenant)
        self.lock_path = lock_path(tenant)
        self._folders: set[str] = set()  # folders known to exist: no second CreateDirectory
        self.lock_policy = LockPolicy()

    # -- reads -----------------------------------------------------------------------------

    def read_manifest(self) -> Manifest:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            raw = self.share.get_file_client(self.manifest_path).download_file().readall()
        except ResourceNotFoundError:
            return Manifest()
        return Manifest.from_json(raw)

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

    def download(self, path: str) -> tuple[bytes, str | None] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            stream = self.share.get_file_client(path).download_file()
            data = stream.readall()
            return data, _norm_etag(stream.properties.etag)
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

    def write_manifest(self, manifest: Manifest) -> None:
        """Replace the manifest; first delete temporary manifests an interrupted run left.

        Done here, on the write path (under the lock), rather than in every plan, so that a
        no-op plan costs no extra listing.
        """
        body = manifest.to_json()
        folder = state_folder(self.tenant)
        self.ensure_folder(folder)
        for name in self.list_folder(folder) or {}:
            if name.startswith(TEMP_MARK):
                self.delete_file(f"{folder}/{name}")
        self.upload_atomic(self.manifest_path, body, "application/json")

    # -- lock --------------------------------------------------------------------------------

    def locked(self, holder: str, timeout: float = 0.0) -> contextlib.AbstractContextManager[None]:
        """Hold the tenant's lock for the block (see provision.lock); LockHeld on timeout."""
        return hold_lock(
            self.share.get_file_client(self.lock_path),
            holder,
            timeout,
            self.lock_policy,
            create=self._create_lock_file,
        )

    def _create_lock_file(self, metadata: dict[str, str]) -> None:
        from azure.core.exceptions import HttpResponseError

        self.ensure_folder(state_folder(self.tenant))
        with contextlib.suppress(HttpResponseError):
            self.share.get_file_client(self.lock_path).create_file(0, metadata=metadata)


def _norm_etag(etag: Any) -> str | None:
    return str(etag).strip('"') if etag else None
