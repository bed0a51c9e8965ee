"""Azure Files backend, the account and share level: accounts, shares, share properties,
snapshots, share leases and the file service properties. No HTTP here.

`namespace.NamespaceBackend` adds the directory tree on top of this, and `models.FilesBackend`
the files.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from provision.emulator.files.exceptions import (
    FilesError,
    ResourceNotFound,
    ShareAlreadyExists,
    ShareHasSnapshots,
    ShareNotFound,
    invalid_header,
)
from provision.emulator.files.shares import (
    ACCESS_TIERS,
    DEFAULT_QUOTA_GIB,
    Share,
    ShareSnapshot,
)

__all__ = ["Account", "ShareBackend"]

ACCOUNT_NAME_RE = re.compile(r"^[a-z0-9]{3,24}$")
SHARE_NAME_RE = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
MAX_QUOTA_GIB = DEFAULT_QUOTA_GIB
DELETE_SNAPSHOTS = ("include", "include-leased")


@dataclass
class Account:
    name: str
    keys: list[str]
    tenant_id: str = "common"
    shares: dict[str, Share] = field(default_factory=dict)
    # Set File Service Properties, as sent: top-level element name -> its XML (see service.py).
    service_properties: dict[str, str] = field(default_factory=dict)


class ShareBackend:
    """All storage accounts of the emulator and the rules of their shares."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.revision = 0

    def _changed(self) -> None:
        self.revision += 1

    # --- accounts -------------------------------------------------------------------------------
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

    def set_service_properties(self, account: str, elements: dict[str, str]) -> None:
        """Replace the elements sent; the elements not sent keep their value (as Azure does)."""
        self.account(account).service_properties.update(elements)
        self._changed()

    # --- shares ---------------------------------------------------------------------------------
    def create_share(
        self,
        account: str,
        name: str,
        *,
        quota: int | None = None,
        metadata: dict[str, str] | None = None,
        access_tier: str | None = None,
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
        share = Share(name=name, quota=quota or DEFAULT_QUOTA_GIB, metadata=dict(metadata or {}))
        self._apply_properties(share, quota=quota, access_tier=access_tier)
        acct.shares[name] = share
        self._changed()
        return share

    def share(self, account: str, name: str) -> Share:
        share = self.account(account).shares.get(name.lower())
        if share is None:
            raise ShareNotFound()
        return share

    def snapshot(self, account: str, name: str, snapshot: str) -> ShareSnapshot:
        """A share snapshot by name (sharesnapshot=); ShareNotFound when there is none."""
        found = self.share(account, name).snapshots.get(snapshot)
        if found is None:
            raise ShareNotFound("The specified share snapshot does not exist.")
        return found

    def list_shares(self, account: str) -> list[Share]:
        acct = self.account(account)
        return [acct.shares[k] for k in sorted(acct.shares)]

    def delete_share(
        self,
        account: str,
        name: str,
        *,
        snapshot: str = "",
        delete_snapshots: str = "",
        lease_id: str | None = None,
    ) -> None:
        """Delete a share (its snapshots only with delete_snapshots), or one snapshot."""
        share = self.share(account, name)
        if snapshot:
            self.snapshot(account, name, snapshot)
            del share.snapshots[snapshot]
            self._changed()
            return
        if delete_snapshots and delete_snapshots.lower() not in DELETE_SNAPSHOTS:
            raise invalid_header("x-ms-delete-snapshots", delete_snapshots)
        share.lease.check_share_operation(lease_id, time.time(), required=True)
        if share.snapshots and not delete_snapshots:
            raise ShareHasSnapshots()
        del self.account(account).shares[name.lower()]
        self._changed()

    def set_share_metadata(
        self, account: str, name: str, metadata: dict[str, str], *, lease_id: str | None = None
    ) -> Share:
        share = self.share(account, name)
        share.lease.check_share_operation(lease_id, time.time(), required=False)
        share.metadata = dict(metadata)
        share.touch()
        self._changed()
        return share

    def set_share_properties(
        self,
        account: str,
        name: str,
        *,
        quota: int | None,
        access_tier: str | None,
        lease_id: str | None = None,
    ) -> Share:
        share = self.share(account, name)
        share.lease.check_share_operation(lease_id, time.time(), required=False)
        self._apply_properties(share, quota=quota, access_tier=access_tier)
        share.touch()
        self._changed()
        return share

    @staticmethod
    def _apply_properties(share: Share, *, quota: int | None, access_tier: str | None) -> None:
        if quota is not None:
            if not 1 <= quota <= MAX_QUOTA_GIB:
                raise invalid_header("x-ms-share-quota", str(quota))
            share.quota = quota
        if access_tier is not None:
            tier = next((t for t in ACCESS_TIERS if t.lower() == access_tier.lower()), None)
            if tier is None:
                raise invalid_header("x-ms-access-tier", access_tier)
            if tier != share.access_tier:
                share.access_tier, share.access_tier_changed = tier, time.time()

    def snapshot_share(
        self, account: str, name: str, metadata: dict[str, str] | None
    ) -> ShareSnapshot:
        snap = self.share(account, name).take_snapshot(metadata)
        self._changed()
        return snap

    def lease_share(
        self,
        account: str,
        name: str,
        action: str,
        *,
        lease_id: str,
        proposed_id: str,
        duration: str,
        break_period: str,
    ) -> tuple[Share, int]:
        """Apply one lease action; the share and, for break, the seconds until broken."""
        share = self.share(account, name)
        lease, now, lease_time = share.lease, time.time(), 0
        if action == "acquire":
            lease.acquire(proposed_id or None, duration or "-1", now)
        elif action == "renew":
            lease.renew(lease_id, now)
        elif action == "change":
            lease.change(lease_id, proposed_id, now)
        elif action == "release":
            lease.release(lease_id, now)
        elif action == "break":
            lease_time = lease.break_lease(break_period, now)
        else:
            raise invalid_header("x-ms-lease-action", action)
        self._changed()
        return share, lease_time
