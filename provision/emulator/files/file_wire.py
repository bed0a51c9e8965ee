"""Azure Files wire layer, the files: create, write and clear ranges, read (whole or a range,
with its MD5), properties, metadata, ranges, delete, copy and file leases.

One method per operation, mixed into `responses.FilesWire` like `share_wire.ShareLevelOps`; the
rules (sizes, ranges, infinite leases that every write must carry) are the backend's, in `models`.
"""

from __future__ import annotations

import base64
import hashlib

from provision.emulator.files.copysource import copy_source
from provision.emulator.files.directory_wire import parent_directory
from provision.emulator.files.exceptions import (
    InvalidHeaderValue,
    InvalidRange,
    Md5Mismatch,
    MissingRequiredHeader,
)
from provision.emulator.files.models import FileNode, FilesBackend
from provision.emulator.files.share_wire import snapshot_of
from provision.emulator.files.wireformat import (
    MAX_RANGE_BYTES,
    bool_header,
    byte_range,
    content_headers,
    content_settings,
    file_lease_headers,
    int_header,
    meta_headers,
    path_parts,
    smb_headers,
    xml_response,
)
from provision.emulator.wire import WireRequest, WireResponse, http_date, iso_utc

__all__ = ["FileOps"]


class FileOps:
    """The file operations of `FilesWire` (one method per operation)."""

    files: FilesBackend

    def op_CreateFile(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        if req.header("x-ms-type").lower() != "file":
            raise MissingRequiredHeader(detail={"HeaderName": "x-ms-type"})
        size = int_header(req, "x-ms-content-length", required=True)
        assert size is not None
        node = self.files.create_file(
            req.scope,
            p["share"],
            path_parts(p),
            size,
            settings=content_settings(req),
            metadata=req.metadata(),
            lease_id=req.header("x-ms-lease-id") or None,
        )
        headers = smb_headers(node, parent_directory(self.files, req, p))
        headers["x-ms-request-server-encrypted"] = "true"
        return WireResponse(201, headers)

    def op_PutRange(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        span = byte_range(req)
        if span is None or span[1] is None:
            raise MissingRequiredHeader(detail={"HeaderName": "x-ms-range"})
        start, end = span[0], span[1]
        write = req.header("x-ms-write").lower()
        lease_id = req.header("x-ms-lease-id") or None
        headers: dict[str, str] = {"x-ms-request-server-encrypted": "true"}
        if write == "clear":
            node = self.files.put_range(
                req.scope, p["share"], path_parts(p), start, end, None, lease_id=lease_id
            )
        elif write == "update":
            if end - start + 1 > MAX_RANGE_BYTES:
                raise InvalidRange(
                    "The range is larger than 4 MiB.", status=400, code="InvalidHeaderValue"
                )
            if len(req.body) != end - start + 1:
                raise InvalidHeaderValue(
                    "The body length does not match the range.",
                    detail={"HeaderName": "Content-Length", "HeaderValue": str(len(req.body))},
                )
            digest = base64.b64encode(hashlib.md5(req.body).digest()).decode()  # noqa: S324
            sent = req.header("content-md5")
            if sent and sent != digest:
                raise Md5Mismatch(detail={"UserSpecifiedMd5": sent, "ServerCalculatedMd5": digest})
            node = self.files.put_range(
                req.scope, p["share"], path_parts(p), start, end, req.body, lease_id=lease_id
            )
            headers["Content-MD5"] = digest
        else:
            raise InvalidHeaderValue(
                detail={"HeaderName": "x-ms-write", "HeaderValue": req.header("x-ms-write")}
            )
        headers.update(
            {
                "ETag": node.etag,
                "Last-Modified": http_date(node.last_modified),
                "x-ms-file-last-write-time": iso_utc(node.last_modified),
            }
        )
        return WireResponse(201, headers)

    def _file_response_headers(
        self, req: WireRequest, p: dict[str, str], node: FileNode
    ) -> dict[str, str]:
        headers = smb_headers(node, parent_directory(self.files, req, p))
        headers.update(content_headers(node))
        headers.update(meta_headers(node.metadata))
        headers.update(file_lease_headers(node))
        headers.update(node.copy)
        headers.update(
            {"x-ms-type": "File", "x-ms-server-encrypted": "true", "Accept-Ranges": "bytes"}
        )
        return headers

    def op_GetFile(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.file(req.scope, p["share"], path_parts(p), snapshot_of(req))
        headers = self._file_response_headers(req, p, node)
        span = byte_range(req)
        stored_md5 = node.settings.content_md5
        if span is None:
            if stored_md5:
                headers["Content-MD5"] = stored_md5
            return WireResponse(200, headers, bytes(node.content))
        start, end = span
        if start >= node.size:
            raise InvalidRange(headers={"Content-Range": f"bytes */{node.size}"})
        end = node.size - 1 if end is None else min(end, node.size - 1)
        data = bytes(node.content[start : end + 1])
        headers["Content-Range"] = f"bytes {start}-{end}/{node.size}"
        if stored_md5:
            headers["x-ms-content-md5"] = stored_md5
        if bool_header(req, "x-ms-range-get-content-md5"):
            if len(data) > MAX_RANGE_BYTES:
                raise InvalidHeaderValue(
                    "x-ms-range-get-content-md5 needs a range of at most 4 MiB."
                )
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324
        return WireResponse(206, headers, data)

    def op_GetFileProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.file(req.scope, p["share"], path_parts(p), snapshot_of(req))
        headers = self._file_response_headers(req, p, node)
        headers["Content-Length"] = str(node.size)
        if node.settings.content_md5:
            headers["Content-MD5"] = node.settings.content_md5
        return WireResponse(200, headers)

    def op_ListRanges(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.file(req.scope, p["share"], path_parts(p), snapshot_of(req))
        ranges = f"<Range><Start>0</Start><End>{node.size - 1}</End></Range>" if node.size else ""
        return xml_response(
            200,
            f"<Ranges>{ranges}</Ranges>",
            {
                "ETag": node.etag,
                "Last-Modified": http_date(node.last_modified),
                "x-ms-content-length": str(node.size),
            },
        )

    def op_SetFileProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        size = int_header(req, "x-ms-content-length")
        node = self.files.set_file_properties(
            req.scope,
            p["share"],
            path_parts(p),
            settings=content_settings(req),
            size=size,
            lease_id=req.header("x-ms-lease-id") or None,
        )
        headers = smb_headers(node, parent_directory(self.files, req, p))
        headers["x-ms-request-server-encrypted"] = "true"
        return WireResponse(200, headers)

    def op_SetFileMetadata(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.set_file_metadata(
            req.scope,
            p["share"],
            path_parts(p),
            req.metadata(),
            lease_id=req.header("x-ms-lease-id") or None,
        )
        return WireResponse(200, {"ETag": node.etag, "x-ms-request-server-encrypted": "true"})

    def op_DeleteFile(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        self.files.delete_file(
            req.scope, p["share"], path_parts(p), lease_id=req.header("x-ms-lease-id") or None
        )
        return WireResponse(202)

    def op_GetFileMetadata(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.file(req.scope, p["share"], path_parts(p), snapshot_of(req))
        headers = {"ETag": node.etag, "Last-Modified": http_date(node.last_modified)}
        headers.update(meta_headers(node.metadata))
        headers["x-ms-server-encrypted"] = "true"
        return WireResponse(200, headers)

    def op_CopyFile(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        source_url = req.header("x-ms-copy-source")
        node = self.files.copy_file(
            req.scope,
            p["share"],
            path_parts(p),
            source=copy_source(source_url, req.scope),
            source_url=source_url,
            metadata=req.metadata() or None,
            lease_id=req.header("x-ms-lease-id") or None,
        )
        headers = {
            "ETag": node.etag,
            "Last-Modified": http_date(node.last_modified),
            "x-ms-copy-id": node.copy["x-ms-copy-id"],
            "x-ms-copy-status": node.copy["x-ms-copy-status"],
        }
        return WireResponse(202, headers)

    def op_LeaseFile(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        action = req.header("x-ms-lease-action").lower()
        if not action:
            raise MissingRequiredHeader(detail={"HeaderName": "x-ms-lease-action"})
        duration = req.header("x-ms-lease-duration")
        if action == "acquire" and duration not in ("", "-1"):
            raise InvalidHeaderValue(
                "File leases are infinite: x-ms-lease-duration must be -1.",
                detail={"HeaderName": "x-ms-lease-duration", "HeaderValue": duration},
            )
        node = self.files.lease(
            req.scope,
            p["share"],
            path_parts(p),
            action,
            lease_id=req.header("x-ms-lease-id") or None,
            proposed_id=req.header("x-ms-proposed-lease-id") or None,
        )
        headers = {"ETag": node.etag, "Last-Modified": http_date(node.last_modified)}
        if action in ("acquire", "change"):
            headers["x-ms-lease-id"] = node.lease_id or ""
        status = {"acquire": 201, "break": 202}.get(action, 200)
        if action == "break":
            headers["x-ms-lease-time"] = "0"
        return WireResponse(status, headers)
