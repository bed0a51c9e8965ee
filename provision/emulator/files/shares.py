"""A file share's own state: quota, access tier, metadata, its lease and its snapshots. No HTTP.

Share leases keep the rules of Lease Container (the Lease Share reference describes the same
five actions): a lease lasts 15-60 s or forever (-1); an expired lease can be acquired anew or
renewed with its id; breaking lets the holder's lease run for the break period (an infinite
lease breaks at once unless a period is given); a leased share can only be deleted with its
lease id. Snapshots are read-only copies of the whole share, named by their creation time.
"""

from __future__ import annotations

import copy
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from provision.emulator.files.exceptions import ShareLeaseError, invalid_header
from provision.emulator.files.nodes import DirNode, node_from_dict, node_to_dict
from provision.emulator.wire import iso_utc, new_etag

__all__ = ["ACCESS_TIERS", "DEFAULT_QUOTA_GIB", "Share", "ShareLease", "ShareSnapshot"]

DEFAULT_QUOTA_GIB = 102400
ACCESS_TIERS = ("TransactionOptimized", "Hot", "Cool", "Premium")
INFINITE = -1
MIN_LEASE_S, MAX_LEASE_S = 15, 60
MAX_BREAK_S = 60


@dataclass
class ShareLease:
    """The lease of a share. ``state`` is as stored; `status` accounts for the clock."""

    state: str = "available"  # available | leased | breaking | broken
    lease_id: str = ""
    duration: int = INFINITE  # seconds, or INFINITE
    expires: float = 0.0  # when a fixed lease runs out
    broken_at: float = 0.0  # when a breaking lease becomes broken

    def status(self, now: float) -> str:
        """available | leased | expired | breaking | broken, as Get Share Properties says."""
        if self.state == "leased" and self.duration != INFINITE and now >= self.expires:
            return "expired"
        if self.state == "breaking" and now >= self.broken_at:
            return "broken"
        return self.state

    def active(self, now: float) -> bool:
        return self.status(now) in ("leased", "breaking")

    def headers(self, now: float) -> dict[str, str]:
        status = self.status(now)
        headers = {
            "x-ms-lease-state": status,
            "x-ms-lease-status": "locked" if status in ("leased", "breaking") else "unlocked",
        }
        if status == "leased":
            headers["x-ms-lease-duration"] = "infinite" if self.duration == INFINITE else "fixed"
        return headers

    def _grant(self, lease_id: str, duration: int, now: float) -> None:
        self.state, self.lease_id, self.duration = "leased", lease_id, duration
        self.expires = now + duration if duration != INFINITE else 0.0

    # --- the five actions -------------------------------------------------------------------
    def acquire(self, proposed: str | None, duration_header: str, now: float) -> str:
        try:
            duration = int(duration_header)
        except ValueError:
            raise invalid_header("x-ms-lease-duration", duration_header) from None
        if duration != INFINITE and not MIN_LEASE_S <= duration <= MAX_LEASE_S:
            raise invalid_header("x-ms-lease-duration", duration_header)
        new_id = (proposed or str(uuid.uuid4())).lower()
        status = self.status(now)
        if status == "leased" and new_id != self.lease_id:
            raise ShareLeaseError("LeaseAlreadyPresent")
        if status == "breaking":
            code = "LeaseIsBreakingAndCannotBeAcquired"
            raise ShareLeaseError(code if new_id == self.lease_id else "LeaseAlreadyPresent")
        self._grant(new_id, duration, now)
        return new_id

    def _check_id(self, lease_id: str) -> None:
        if self.state == "available":
            raise ShareLeaseError("LeaseNotPresentWithLeaseOperation")
        if lease_id.lower() != self.lease_id:
            raise ShareLeaseError("LeaseIdMismatchWithLeaseOperation")

    def renew(self, lease_id: str, now: float) -> None:
        self._check_id(lease_id)
        if self.status(now) in ("breaking", "broken"):
            raise ShareLeaseError("LeaseIsBrokenAndCannotBeRenewed")
        self._grant(self.lease_id, self.duration, now)

    def change(self, lease_id: str, proposed: str, now: float) -> None:
        status = self.status(now)
        if status not in ("leased", "breaking"):
            raise ShareLeaseError("LeaseNotPresentWithLeaseOperation")
        if self.lease_id not in (lease_id.lower(), proposed.lower()):
            raise ShareLeaseError("LeaseIdMismatchWithLeaseOperation")
        if status == "breaking":
            raise ShareLeaseError("LeaseIsBreakingAndCannotBeChanged")
        self.lease_id = proposed.lower()

    def release(self, lease_id: str, now: float) -> None:
        self._check_id(lease_id)
        self.state, self.lease_id = "available", ""

    def break_lease(self, period_header: str, now: float) -> int:
        """Break the lease; the seconds until it is broken (x-ms-lease-time)."""
        period: int | None = None
        if period_header:
            try:
                period = int(period_header)
            except ValueError:
                raise invalid_header("x-ms-lease-break-period", period_header) from None
            if not 0 <= period <= MAX_BREAK_S:
                raise invalid_header("x-ms-lease-break-period", period_header)
        status = self.status(now)
        if status == "available":
            raise ShareLeaseError("LeaseNotPresentWithLeaseOperation")
        if status in ("expired", "broken"):
            self.state, self.broken_at = "broken", now
            return 0
        if status == "leased":
            wait: float = period or 0
            if self.duration != INFINITE:
                remaining = self.expires - now
                wait = remaining if period is None else min(period, remaining)
            self.state, self.broken_at = "breaking", now + wait
        elif period is not None and now + period < self.broken_at:  # breaking: only sooner
            self.broken_at = now + period
        if self.broken_at <= now:
            self.state = "broken"
            return 0
        return max(0, round(self.broken_at - now))

    # --- operations on the leased share ------------------------------------------------------
    def check_share_operation(self, lease_id: str | None, now: float, *, required: bool) -> None:
        """The 412 answers of a share operation sent with (or without) x-ms-lease-id."""
        if self.active(now):
            if not lease_id:
                if required:
                    raise ShareLeaseError("LeaseIdMissing")
                return
            if lease_id.lower() != self.lease_id:
                raise ShareLeaseError("LeaseIdMismatchWithContainerOperation")
        elif lease_id:
            raise ShareLeaseError("LeaseNotPresentWithContainerOperation")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ShareSnapshot:
    """A read-only copy of a share at one instant, named by that instant."""

    snapshot: str  # e.g. 2026-12-01T15:30:00.1234560Z
    quota: int
    metadata: dict[str, str]
    root: DirNode
    etag: str = field(default_factory=new_etag)
    last_modified: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot,
            "quota": self.quota,
            "metadata": self.metadata,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "root": node_to_dict(self.root),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShareSnapshot:
        root = node_from_dict(data["root"])
        assert isinstance(root, DirNode)
        return cls(
            snapshot=data["snapshot"],
            quota=data["quota"],
            metadata=dict(data["metadata"]),
            root=root,
            etag=data["etag"],
            last_modified=data["last_modified"],
        )


@dataclass
class Share:
    name: str
    quota: int = DEFAULT_QUOTA_GIB
    metadata: dict[str, str] = field(default_factory=dict)
    etag: str = field(default_factory=new_etag)
    last_modified: float = field(default_factory=time.time)
    root: DirNode = field(default_factory=lambda: DirNode(name=""))
    access_tier: str = "TransactionOptimized"
    access_tier_changed: float = field(default_factory=time.time)
    lease: ShareLease = field(default_factory=ShareLease)
    snapshots: dict[str, ShareSnapshot] = field(default_factory=dict)  # by snapshot name

    def touch(self) -> None:
        self.etag, self.last_modified = new_etag(), time.time()

    def take_snapshot(self, metadata: dict[str, str] | None) -> ShareSnapshot:
        """Copy the share now; the snapshot keeps the share's metadata unless given its own."""
        now = time.time()
        name = iso_utc(now)
        while name in self.snapshots:  # two snapshots within one microsecond
            now += 1e-6
            name = iso_utc(now)
        snap = ShareSnapshot(
            snapshot=name,
            quota=self.quota,
            metadata=dict(self.metadata if metadata is None else metadata),
            root=copy.deepcopy(self.root),
            etag=self.etag,
            last_modified=self.last_modified,
        )
        self.snapshots[name] = snap
        return snap

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "quota": self.quota,
            "metadata": self.metadata,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "root": node_to_dict(self.root),
            "access_tier": self.access_tier,
            "access_tier_changed": self.access_tier_changed,
            "lease": self.lease.to_dict(),
            "snapshots": [s.to_dict() for s in self.snapshots.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Share:
        root = node_from_dict(data["root"])
        assert isinstance(root, DirNode)
        snapshots = [ShareSnapshot.from_dict(s) for s in data.get("snapshots", [])]
        return cls(
            name=data["name"],
            quota=data["quota"],
            metadata=dict(data["metadata"]),
            etag=data["etag"],
            last_modified=data["last_modified"],
            root=root,
            access_tier=data.get("access_tier", "TransactionOptimized"),
            access_tier_changed=data.get("access_tier_changed", data["last_modified"]),
            lease=ShareLease(**data.get("lease", {})),
            snapshots={s.snapshot: s for s in snapshots},
        )
