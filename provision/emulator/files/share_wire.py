"""Azure Files wire layer, the service and share level: List Shares, File Service Properties,
share create/get/delete, properties, metadata, snapshots and leases.

Statuses and headers follow the File service REST reference and its spec (azure-rest-api-specs,
Microsoft.FileStorage file.json): Create Share and Snapshot Share 201, Delete Share 202, Set
Share Properties/Metadata 200, Set File Service Properties 202, Lease Share 201 (acquire), 202
(break, with x-ms-lease-time) or 200.
"""

from __future__ import annotations

import time
from xml.sax.saxutils import escape, quoteattr

from provision.emulator.files.exceptions import MissingRequiredHeader
from provision.emulator.files.models import FilesBackend
from provision.emulator.files.service import (
    parse_service_properties,
    render_service_properties,
)
from provision.emulator.files.shares import Share, ShareSnapshot
from provision.emulator.files.wireformat import (
    int_header,
    marker_decode,
    marker_encode,
    max_results,
    meta_headers,
    xml_response,
)
from provision.emulator.wire import WireRequest, WireResponse, http_date

__all__ = ["ShareLevelOps", "snapshot_of"]

LEASE_ACTIONS = ("acquire", "renew", "change", "release", "break")


def snapshot_of(req: WireRequest) -> str:
    """The share snapshot a request reads (``sharesnapshot=``), or ""."""
    return req.query.get("sharesnapshot", "")


def _list_key(share: Share, snap: ShareSnapshot | None) -> tuple[str, int, str]:
    # Azure lists a share's snapshots (oldest first) before the share itself.
    return (share.name, 1, "") if snap is None else (share.name, 0, snap.snapshot)


def _marker_key(marker: str) -> tuple[str, int, str]:
    name, _, rest = marker_decode(marker).partition("\n")
    rank, _, snapshot = rest.partition("\n")
    return name, int(rank) if rank.isdigit() else 0, snapshot


class ShareLevelOps:
    """The service- and share-level operations of `FilesWire` (one method per operation)."""

    files: FilesBackend

    # --- service --------------------------------------------------------------------------------
    def op_ListShares(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        prefix = req.query.get("prefix", "")
        start = _marker_key(req.query["marker"]) if req.query.get("marker") else ("", 0, "")
        size = max_results(req)
        include = {i.strip().lower() for i in req.query.get("include", "").split(",") if i}
        entries: list[tuple[Share, ShareSnapshot | None]] = []
        for share in self.files.list_shares(req.scope):
            if not share.name.startswith(prefix):
                continue
            if "snapshots" in include:
                entries += [(share, share.snapshots[k]) for k in sorted(share.snapshots)]
            entries.append((share, None))
        entries = [e for e in entries if _list_key(*e) >= start]
        page, rest = entries[:size], entries[size:]
        now = time.time()
        items = "".join(self._share_item(s, snap, "metadata" in include, now) for s, snap in page)
        next_marker = ""
        if rest:
            name, rank, snapshot = _list_key(*rest[0])
            next_marker = marker_encode(f"{name}\n{rank}\n{snapshot}")
        body = (
            f"<EnumerationResults ServiceEndpoint={quoteattr(req.base_url + req.prefix + '/')}>"
            f"<Prefix>{escape(prefix)}</Prefix>"
            f"<Marker>{escape(req.query.get('marker', ''))}</Marker>"
            f"<MaxResults>{size}</MaxResults><Shares>{items}</Shares>"
            f"<NextMarker>{next_marker}</NextMarker></EnumerationResults>"
        )
        return xml_response(200, body)

    @staticmethod
    def _share_item(
        share: Share, snap: ShareSnapshot | None, with_metadata: bool, now: float
    ) -> str:
        source = snap or share
        item = f"<Share><Name>{escape(share.name)}</Name>"
        if snap is not None:
            item += f"<Snapshot>{snap.snapshot}</Snapshot>"
        lease = share.lease.headers(now) if snap is None else {}
        item += (
            f"<Properties><Last-Modified>{http_date(source.last_modified)}</Last-Modified>"
            f"<Etag>{source.etag}</Etag><Quota>{source.quota}</Quota>"
            f"<AccessTier>{share.access_tier}</AccessTier>"
            f"<AccessTierChangeTime>{http_date(share.access_tier_changed)}</AccessTierChangeTime>"
            f"<LeaseStatus>{lease.get('x-ms-lease-status', 'unlocked')}</LeaseStatus>"
            f"<LeaseState>{lease.get('x-ms-lease-state', 'available')}</LeaseState>"
        )
        if "x-ms-lease-duration" in lease:
            item += f"<LeaseDuration>{lease['x-ms-lease-duration']}</LeaseDuration>"
        item += "<EnabledProtocols>SMB</EnabledProtocols></Properties>"
        if with_metadata:
            meta = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in source.metadata.items())
            item += f"<Metadata>{meta}</Metadata>"
        return item + "</Share>"

    def op_GetServiceProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        stored = self.files.account(req.scope).service_properties
        return xml_response(200, render_service_properties(stored))

    def op_SetServiceProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        self.files.set_service_properties(req.scope, parse_service_properties(req.body))
        return WireResponse(202)

    # --- shares ---------------------------------------------------------------------------------
    @staticmethod
    def _share_headers(share: Share | ShareSnapshot) -> dict[str, str]:
        return {"ETag": share.etag, "Last-Modified": http_date(share.last_modified)}

    def op_CreateShare(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        share = self.files.create_share(
            req.scope,
            p["share"],
            quota=int_header(req, "x-ms-share-quota"),
            metadata=req.metadata(),
            access_tier=req.header("x-ms-access-tier") or None,
        )
        return WireResponse(201, self._share_headers(share))

    def op_GetShareProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        share = self.files.share(req.scope, p["share"])
        snapshot = snapshot_of(req)
        source: Share | ShareSnapshot = share
        lease = {"x-ms-lease-state": "available", "x-ms-lease-status": "unlocked"}
        if snapshot:
            source = self.files.snapshot(req.scope, p["share"], snapshot)
        else:
            now = time.time()
            share.lease.check_share_operation(
                req.header("x-ms-lease-id") or None, now, required=False
            )
            lease = share.lease.headers(now)
        headers = self._share_headers(source)
        headers.update(meta_headers(source.metadata))
        headers.update(lease)
        headers.update(
            {
                "x-ms-share-quota": str(source.quota),
                "x-ms-access-tier": share.access_tier,
                "x-ms-access-tier-change-time": http_date(share.access_tier_changed),
                "x-ms-enabled-protocols": "SMB",
            }
        )
        return WireResponse(200, headers)

    def op_DeleteShare(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        self.files.delete_share(
            req.scope,
            p["share"],
            snapshot=snapshot_of(req),
            delete_snapshots=req.header("x-ms-delete-snapshots"),
            lease_id=req.header("x-ms-lease-id") or None,
        )
        return WireResponse(202)

    def op_SetShareMetadata(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        share = self.files.set_share_metadata(
            req.scope, p["share"], req.metadata(), lease_id=req.header("x-ms-lease-id") or None
        )
        return WireResponse(200, self._share_headers(share))

    def op_SetShareProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        share = self.files.set_share_properties(
            req.scope,
            p["share"],
            quota=int_header(req, "x-ms-share-quota"),
            access_tier=req.header("x-ms-access-tier") or None,
            lease_id=req.header("x-ms-lease-id") or None,
        )
        return WireResponse(200, self._share_headers(share))

    def op_SnapshotShare(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        snap = self.files.snapshot_share(req.scope, p["share"], req.metadata() or None)
        headers = self._share_headers(snap)
        headers["x-ms-snapshot"] = snap.snapshot
        return WireResponse(201, headers)

    def op_LeaseShare(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        action = req.header("x-ms-lease-action").lower()
        if not action:
            raise MissingRequiredHeader(detail={"HeaderName": "x-ms-lease-action"})
        lease_id = req.header("x-ms-lease-id")
        proposed = req.header("x-ms-proposed-lease-id")
        if action in ("renew", "change", "release") and not lease_id:
            raise MissingRequiredHeader(detail={"HeaderName": "x-ms-lease-id"})
        if action == "change" and not proposed:
            raise MissingRequiredHeader(detail={"HeaderName": "x-ms-proposed-lease-id"})
        share, lease_time = self.files.lease_share(
            req.scope,
            p["share"],
            action,
            lease_id=lease_id,
            proposed_id=proposed,
            duration=req.header("x-ms-lease-duration"),
            break_period=req.header("x-ms-lease-break-period"),
        )
        headers = self._share_headers(share)
        if action in ("acquire", "renew", "change"):
            headers["x-ms-lease-id"] = share.lease.lease_id
        if action == "break":
            headers["x-ms-lease-time"] = str(lease_time)
            return WireResponse(202, headers)
        return WireResponse(201 if action == "acquire" else 200, headers)
