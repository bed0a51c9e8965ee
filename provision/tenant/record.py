"""The tool's record of a tenant: what it wrote and what it checked, and what a run may trust.

The record is `.msticpy-provision/<tenant>/state.json` on the notebook share. It holds:

- per user file the tool wrote, the ETag it read back and the MD5 of the content;
- the names of the secrets tagged for the tenant in each of its vaults, as the last apply that
  wrote found them (plus what it pushed);
- each Sentinel workspace (ARM path -> customerId) that the last apply found as described.

This module is its only reader and writer, and `ReadMode` (provision.tenant.context) is the one
switch saying what a read may take from it:

| the record says                         | VERIFY | PLAN | TRUST (apply's first read) |
|-----------------------------------------|--------|------|----------------------------|
| a listed file's content, by ETag + size | no     | yes  | yes                        |
| the vault listing behind orphans        | no     | no   | yes, unless pruning        |
| which Sentinel workspaces were checked  | no     | no   | yes, for unchanged entries |

In every mode the record names the files the tool wrote (orphans, provision.tenant.orphans),
whether a file is as the tool wrote it (else it is backed up before being replaced,
provision.backups), and the aliases whose folders held the tool's files (offboarded computes).
The ETags are a cache: losing the record costs reads, backups of unedited files and unpruned
older files; it never deletes an analyst's file. The record holds no secret value.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provision import clock
from provision.inventory.expiry import SecretExpiry, intended_dates
from provision.share import USERS, FileTooLarge, RemoteFile, WorkspaceShare, md5_hex
from provision.tenant.context import ReadMode
from provision.vault import MANAGED_BY, set_value

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

    from provision.inventory.model import SentinelWorkspace, Tenant

log = logging.getLogger(__name__)

DIGEST_ROLE = "record-digest"
DIGEST_CONTENT_TYPE = "text/plain; sha256 of the msticpy-provision record"
IGNORED = (
    "ignored (it is read as if there were none: files are compared by content, nothing it names "
    "is pruned, and the next apply that writes records anew)"
)

# vault (case-folded) -> names of the secrets tagged for the tenant there, or why it was not listed
TaggedSecrets = dict[str, list[str] | Exception]


@dataclass(frozen=True)
class Manifest:
    """state.json as read (empty when absent or unreadable)."""

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


@dataclass(frozen=True)
class Record:
    """The record as one read found it, and what that read may trust it for."""

    manifest: Manifest
    mode: ReadMode
    notes: tuple[str, ...] = ()

    @classmethod
    def read(
        cls,
        t: Tenant,
        raw: bytes | FileTooLarge | None,
        digest: str | Exception | None,
        mode: ReadMode,
    ) -> Record:
        """The record from the share's `raw` bytes, trusted only when their SHA-256 is the
        `digest` the tool keeps in Key Vault; otherwise an empty record and a note saying why."""
        from provision.workspace import explain_azure_error

        if raw is None:
            return cls(Manifest(), mode)
        if isinstance(raw, FileTooLarge):
            why = f"{raw}"
        elif isinstance(digest, Exception):
            why = "its digest " + explain_azure_error(
                digest,
                t,
                f"{digest_name(t.name)} in {t.key_vault}",
                "grant Key Vault Secrets User (or Get secret access) on the vault",
            )
        elif digest is None:
            why = f"it has no digest in Key Vault ({digest_name(t.name)} in {t.key_vault})"
        elif hashlib.sha256(raw).hexdigest() != digest:
            why = "it does not match its digest in Key Vault: written by someone else"
        else:
            return cls(Manifest.from_json(raw), mode)
        return cls(Manifest(), mode, (f"the tool's record on the share: {why}; {IGNORED}",))

    # -- files -------------------------------------------------------------------------------

    def vouches_for(self, path: str, remote: RemoteFile, desired: bytes) -> bool | None:
        """Whether the listed file at `path` holds `desired`, when the record may say so
        without a download (the listing shows the ETag and size the tool wrote); None: read it.
        """
        if self.mode == ReadMode.VERIFY:
            return None
        known = self.manifest.files.get(path)
        if known and known.get("etag") == remote.etag and remote.size == len(desired):
            return known.get("md5") == md5_hex(desired)
        return None

    def written_as_is(self, path: str, etag: str | None) -> bool:
        """Whether the file at `path`, as it stands (its ETag), is as the tool wrote it."""
        known = self.manifest.files.get(path)
        return known is not None and bool(etag) and known.get("etag") == etag

    def written_paths(self) -> list[str]:
        """The user files the tool has written for the tenant (sorted)."""
        return sorted(p for p in self.manifest.files if p.startswith(f"{USERS}/"))

    def aliases(self) -> set[str]:
        """The aliases whose folders hold (or held) files the tool wrote for the tenant."""
        return {p.split("/")[1] for p in self.written_paths() if p.count("/") >= 2}

    # -- what the last apply checked ---------------------------------------------------------

    def tagged_secrets(self, vaults: Iterable[str], prunes: bool) -> TaggedSecrets | None:
        """The secrets tagged for the tenant in `vaults` (case-folded), as recorded, when this
        read may trust that (TRUST, not pruning) and the record covers every vault; else None:
        list the vaults."""
        recorded = self.manifest.secrets
        wanted = list(vaults)
        if self.mode != ReadMode.TRUST or prunes or recorded is None:
            return None
        if not all(vault in recorded for vault in wanted):
            return None
        return {vault: sorted(recorded[vault]) for vault in wanted}

    def sentinel_to_check(self, t: Tenant) -> list[SentinelWorkspace]:
        """The Sentinel workspaces this read must check: every one, except under TRUST those
        the last apply found as the inventory describes them now."""
        from provision.sentinel_check import log_analytics_path

        if self.mode != ReadMode.TRUST:
            return list(t.sentinel)
        found = self.manifest.sentinel
        return [
            ws
            for ws in t.sentinel
            if found.get(log_analytics_path(t, ws).lower()) != ws.workspace_id.lower()
        ]

    # -- writing -----------------------------------------------------------------------------

    def after_apply(
        self,
        written: Mapping[str, tuple[str, bytes]],
        forget: Iterable[str],
        secrets: dict[str, list[str]] | None,
        sentinel: dict[str, str],
    ) -> Manifest:
        """The record once an apply has written `written` (path -> (ETag, content)), dropped
        `forget` (pruned or gone), found `secrets` tagged and `sentinel` as described."""
        files = dict(self.manifest.files)
        for path in forget:
            files.pop(path, None)
        for path, (etag, content) in written.items():
            files[path] = {"etag": etag, "md5": md5_hex(content)}
        return Manifest(files=files, secrets=secrets, sentinel=sentinel)

    def write(
        self,
        share: WorkspaceShare,
        vault: SecretClient,
        manifest: Manifest,
        *,
        expiry: SecretExpiry | None = None,
    ) -> None:
        """Write `manifest` and its digest when it differs from what was read (an unchanged
        record costs no write). The record goes first: a run stopped between the two leaves a
        record that does not match its digest, which the next read ignores. The digest carries
        the tenant's `secret_expiry` like its other secrets, so that a policy requiring an
        expiration date does not refuse it (Key Vault serves a secret past its `exp`)."""
        if manifest == self.manifest and not self.notes:
            return
        from azure.core.exceptions import AzureError

        body = manifest.to_json()
        share.write_state(body)
        try:
            set_value(
                vault,
                digest_name(share.tenant),
                hashlib.sha256(body).hexdigest(),
                content_type=DIGEST_CONTENT_TYPE,
                tags={"managed-by": MANAGED_BY, "tenant": share.tenant, "role": DIGEST_ROLE},
                dates=lambda created: intended_dates(expiry, created, clock.now()),
            )
        except AzureError as exc:
            # What apply wrote stands; without its digest the next read ignores the record and
            # says why (e.g. a `secret_store: env` tenant whose identity may not write secrets).
            log.warning(
                "tenant %s: the record's digest was not written (%s): the next plan reads "
                "everything and prunes nothing",
                share.tenant,
                type(exc).__name__,
            )


def digest_name(tenant: str) -> str:
    """The Key Vault secret holding the SHA-256 of the tenant's record (not a secret itself:
    its integrity comes from who may write it, the tool's identity alone)."""
    return f"msticpy-provision-record-{tenant}"


def is_digest(tags: Mapping[str, str] | None) -> bool:
    return (tags or {}).get("role") == DIGEST_ROLE


def read_digest(vault: SecretClient, tenant: str) -> str | Exception | None:
    """The record's digest as kept in Key Vault: None when there is none yet, the error when
    it cannot be read (the record is then not trusted, and the plan says why)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return str(vault.get_secret(digest_name(tenant)).value or "")
    except ResourceNotFoundError:
        return None
    except Exception as exc:  # reported as a note: the record is read as absent
        return exc


def read_raw(share: WorkspaceShare) -> bytes | FileTooLarge | None:
    """The record's bytes on the share (None: none yet; too large: not read)."""
    try:
        got = share.download(share.manifest_path)
    except FileTooLarge as exc:
        return exc
    return got[0] if got is not None else None
