"""Azure Files wire layer: headers in, headers (and XML) out, as the File service REST API does.

Authentication and authorization are in `provision.emulator.files.access` (Shared Key, or a
bearer token of the account's tenant with ``x-ms-file-request-intent: backup``); service and share
operations take bearer tokens only from REST version 2024-11-04, as Azure does. SAS is not
supported. The service and share
operations are in `share_wire`; this module has the server's hooks, directories and files.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse
from xml.sax.saxutils import escape, quoteattr

from provision.emulator.auth import bearer_token
from provision.emulator.files.access import authenticate_files_request
from provision.emulator.files.copysource import copy_source
from provision.emulator.files.exceptions import (
    AuthenticationFailed,
    FilesError,
    InvalidHeaderValue,
    InvalidRange,
    Md5Mismatch,
    MissingRequiredHeader,
    ShareSnapshotOperationNotSupported,
)
from provision.emulator.files.models import (
    PERMISSION_KEY,
    DirNode,
    FileNode,
)
from provision.emulator.files.share_wire import ShareLevelOps, snapshot_of
from provision.emulator.files.urls import resolve
from provision.emulator.files.wireformat import (
    MAX_RANGE_BYTES,
    SERVER,
    bool_header,
    byte_range,
    content_headers,
    content_settings,
    file_lease_headers,
    int_header,
    marker_decode,
    marker_encode,
    max_results,
    meta_headers,
    path_parts,
    smb_headers,
    xml_response,
)
from provision.emulator.wire import (
    NotEmulated,
    ServiceError,
    ServiceWire,
    WireRequest,
    WireResponse,
    http_date,
    iso_utc,
)

if TYPE_CHECKING:
    from provision.emulator.state import Backend

__all__ = ["FilesWire"]

_SHARE_LEVEL_OPS = frozenset(
    {
        "ListShares",
        "GetServiceProperties",
        "SetServiceProperties",
        "CreateShare",
        "GetShareProperties",
        "DeleteShare",
        "SetShareMetadata",
        "SetShareProperties",
        "SnapshotShare",
        "LeaseShare",
    }
)
# Bearer tokens reach the service and share operations from this REST version on ("OAuth
# support for the data plane APIs that manage FileService and FileShare resources is available
# in REST API version 2024-11-04 and later": learn.microsoft.com, azure/storage/files/
# authorize-oauth-rest); file and directory operations take them from 2022-11-02.
SHARE_LEVEL_OAUTH_VERSION = "2024-11-04"
# Operations that may address a share snapshot (sharesnapshot=); others answer 400.
_SNAPSHOT_READS = frozenset(
    {
        "GetShareProperties",
        "DeleteShare",
        "GetDirectoryProperties",
        "ListFilesAndDirectories",
        "GetFile",
        "GetFileProperties",
        "GetFileMetadata",
        "ListRanges",
    }
)


class FilesWire(ShareLevelOps, ServiceWire):
    """The Azure Files REST API over the backend's storage accounts."""

    name = "files"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.files = backend.files

    # --- the server's hooks ---------------------------------------------------------------
    def route(self, req: WireRequest) -> tuple[str, dict[str, str]]:
        segments = [s for s in req.path.split("/") if s]
        return resolve(req.method, segments, req.query, req.headers)

    def scope_exists(self, req: WireRequest) -> bool:
        return self.files.find_account(req.scope) is not None

    def authenticate(self, req: WireRequest, op: str) -> None:
        """Tenants, tokens, roles and Shared Key are checked in `files.access`; the REST version
        rule for bearer tokens on service and share operations is checked here."""
        token = bearer_token(req.header("authorization"))
        if (
            token is not None
            and op in _SHARE_LEVEL_OPS
            and req.header("x-ms-version") < SHARE_LEVEL_OAUTH_VERSION
        ):
            raise AuthenticationFailed(
                detail={
                    "AuthenticationErrorDetail": (
                        "This API does not support bearer tokens. For OAuth, use the Storage "
                        "Resource Provider APIs instead."
                    )
                }
            )
        authenticate_files_request(self.backend, req)

    def render_error(self, err: ServiceError, req: WireRequest) -> WireResponse:
        message = f"{err.message}\nRequestId:{req.request_id}\nTime:{iso_utc(time.time())}"
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in getattr(err, "detail", {}).items())
        body = f"<Error><Code>{err.code}</Code><Message>{escape(message)}</Message>{extra}</Error>"
        headers = {"x-ms-error-code": err.code, "Server": SERVER}
        headers.update(err.headers)
        return xml_response(err.status, body, headers)

    def injected_error(self, status: int, retry_after: float) -> ServiceError:
        if status == 503:
            return FilesError(
                "The server is currently unable to receive requests. Please retry your request.",
                status=503,
                code="ServerBusy",
            )
        if status == 429:
            return FilesError(
                "Operations per second is over the account limit.",
                status=429,
                code="TooManyRequests",
                headers={"Retry-After": f"{retry_after:g}"},
            )
        return FilesError(
            "The server encountered an internal error. Please retry the request.",
            status=status,
            code="InternalError",
        )

    def handle(self, req: WireRequest, op: str, params: dict[str, str]) -> WireResponse:
        if snapshot_of(req) and op not in _SNAPSHOT_READS:
            if op == "LeaseShare":
                raise NotEmulated("LeaseShare (on a share snapshot)", req.method, req.path)
            raise ShareSnapshotOperationNotSupported()
        handler = getattr(self, f"op_{op}")
        response: WireResponse = handler(req, params)
        response.headers.setdefault("Server", SERVER)
        version = req.header("x-ms-version")
        if version:
            response.headers.setdefault("x-ms-version", version)
        return response

    # --- directories ----------------------------------------------------------------------------
    def _parent_of(self, req: WireRequest, p: dict[str, str]) -> DirNode | None:
        parts = path_parts(p)
        if not parts:
            return None
        return self.files.directory(req.scope, p["share"], parts[:-1], snapshot_of(req))

    def op_CreateDirectory(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.create_directory(
            req.scope, p["share"], path_parts(p), metadata=req.metadata()
        )
        headers = smb_headers(node, self._parent_of(req, p))
        headers["x-ms-request-server-encrypted"] = "true"
        return WireResponse(201, headers)

    def op_GetDirectoryProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.directory(req.scope, p["share"], path_parts(p), snapshot_of(req))
        headers = smb_headers(node, self._parent_of(req, p))
        headers.update(meta_headers(node.metadata))
        headers["x-ms-server-encrypted"] = "true"
        return WireResponse(200, headers)

    def op_DeleteDirectory(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        self.files.delete_directory(req.scope, p["share"], path_parts(p))
        return WireResponse(202)

    def op_SetDirectoryMetadata(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.set_directory_metadata(
            req.scope, p["share"], path_parts(p), req.metadata()
        )
        return WireResponse(200, {"ETag": node.etag, "x-ms-request-server-encrypted": "true"})

    def op_SetDirectoryProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.directory(req.scope, p["share"], path_parts(p), snapshot_of(req))
        return WireResponse(200, smb_headers(node, self._parent_of(req, p)))

    def op_ListFilesAndDirectories(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        parts = path_parts(p)
        directory = self.files.directory(req.scope, p["share"], parts, snapshot_of(req))
        prefix = req.query.get("prefix", "")
        marker = marker_decode(req.query["marker"]) if req.query.get("marker") else ""
        size = max_results(req)
        include = {i.strip().lower() for i in req.query.get("include", "").split(",") if i}
        extended = req.header("x-ms-file-extended-info").lower() == "true" or bool(include)
        entries = self.files.list_directory(
            req.scope, p["share"], parts, prefix=prefix, snapshot=snapshot_of(req)
        )
        if marker:
            entries = [e for e in entries if e.name.lower() >= marker]
        page, rest = entries[:size], entries[size:]
        out = []
        for entry in page:
            tag = "Directory" if isinstance(entry, DirNode) else "File"
            props = ""
            if isinstance(entry, FileNode):
                props += f"<Content-Length>{entry.size}</Content-Length>"
            if "timestamps" in include:
                props += (
                    f"<CreationTime>{iso_utc(entry.created)}</CreationTime>"
                    f"<LastAccessTime>{iso_utc(entry.last_modified)}</LastAccessTime>"
                    f"<LastWriteTime>{iso_utc(entry.last_modified)}</LastWriteTime>"
                    f"<ChangeTime>{iso_utc(entry.changed)}</ChangeTime>"
                    f"<Last-Modified>{http_date(entry.last_modified)}</Last-Modified>"
                )
            if "etag" in include:
                props += f"<Etag>{entry.etag}</Etag>"
            item = f"<{tag}>"
            if extended:
                item += f"<FileId>{entry.file_id}</FileId>"
            item += f"<Name>{escape(entry.name)}</Name><Properties>{props}</Properties>"
            if "attributes" in include:
                item += f"<Attributes>{entry.attributes}</Attributes>"
            if "permissionkey" in include:
                item += f"<PermissionKey>{PERMISSION_KEY}</PermissionKey>"
            out.append(item + f"</{tag}>")
        endpoint = req.base_url + req.prefix + "/"
        body = (
            f"<EnumerationResults ServiceEndpoint={quoteattr(endpoint)} "
            f"ShareName={quoteattr(p['share'])} "
            + (f"ShareSnapshot={quoteattr(snapshot_of(req))} " if snapshot_of(req) else "")
            + f"DirectoryPath={quoteattr('/'.join(parts))}>"
            f"<Marker>{escape(req.query.get('marker', ''))}</Marker>"
            f"<Prefix>{escape(prefix)}</Prefix><MaxResults>{size}</MaxResults>"
            + (f"<DirectoryId>{directory.file_id}</DirectoryId>" if extended else "")
            + f"<Entries>{''.join(out)}</Entries>"
            f"<NextMarker>{marker_encode(rest[0].name.lower()) if rest else ''}</NextMarker>"
            "</EnumerationResults>"
        )
        return xml_response(200, body)

    # --- files ------------------------------------------------------------------------------------
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
        headers = smb_headers(node, self._parent_of(req, p))
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
        headers = smb_headers(node, self._parent_of(req, p))
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
        headers = smb_headers(node, self._parent_of(req, p))
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

    def _rename_source(self, req: WireRequest, share: str) -> list[str]:
        source = req.header("x-ms-file-rename-source")
        if not source:
            raise MissingRequiredHeader(detail={"HeaderName": "x-ms-file-rename-source"})
        if source.lower().startswith(("https://", "http://")):
            segments = [unquote(s) for s in urlparse(source).path.split("/") if s]
            if len(segments) < 2 or segments[0] != req.scope or segments[1].lower() != share:
                raise FilesError(
                    "The rename source must be in the same share.",
                    status=400,
                    code="InvalidHeaderValue",
                )
            return segments[2:]
        return [unquote(s) for s in source.split("?")[0].split("/") if s]

    def _rename(self, req: WireRequest, p: dict[str, str], *, directory: bool) -> WireResponse:
        node = self.files.rename(
            req.scope,
            p["share"],
            self._rename_source(req, p["share"].lower()),
            path_parts(p),
            replace=bool_header(req, "x-ms-file-rename-replace-if-exists"),
            directory=directory,
            source_lease_id=req.header("x-ms-source-lease-id") or None,
            target_lease_id=req.header("x-ms-destination-lease-id") or None,
        )
        if isinstance(node, FileNode) and req.header("x-ms-content-type"):
            node.settings.content_type = req.header("x-ms-content-type")
        if req.metadata():
            node.metadata = req.metadata()
        headers = smb_headers(node, self._parent_of(req, p))
        headers["x-ms-request-server-encrypted"] = "true"
        return WireResponse(200, headers)

    def op_RenameFile(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return self._rename(req, p, directory=False)

    def op_RenameDirectory(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return self._rename(req, p, directory=True)

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
