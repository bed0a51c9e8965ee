"""Azure Files wire layer: headers in, headers (and XML) out, as the File service REST API does.

Authentication and authorization are in `provision.emulator.files.access`. SAS is not
supported.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse
from xml.sax.saxutils import escape, quoteattr

from provision.emulator.files.access import authenticate_files_request
from provision.emulator.files.exceptions import (
    FilesError,
    InvalidHeaderValue,
    InvalidRange,
    Md5Mismatch,
    MissingRequiredHeader,
)
from provision.emulator.files.models import (
    PERMISSION_KEY,
    ContentSettings,
    DirNode,
    FileNode,
    Share,
)
from provision.emulator.files.urls import resolve
from provision.emulator.wire import (
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

SERVER = "Windows-Azure-File/1.0 Microsoft-HTTPAPI/2.0"
MAX_RESULTS = 5000
MAX_RANGE_BYTES = 4 * 1024 * 1024
_RANGE_RE = re.compile(r"^bytes=(\d+)-(\d*)$")
_XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>'


def _parts(params: dict[str, str]) -> list[str]:
    return [p for p in params.get("path", "").split("/") if p]


def _lease_headers(node: FileNode) -> dict[str, str]:
    headers = {
        "x-ms-lease-state": node.lease_state,
        "x-ms-lease-status": "locked" if node.lease_state == "leased" else "unlocked",
    }
    if node.lease_state == "leased":
        headers["x-ms-lease-duration"] = "infinite"
    return headers


def _smb_headers(node: FileNode | DirNode, parent: DirNode | None = None) -> dict[str, str]:
    return {
        "ETag": node.etag,
        "Last-Modified": http_date(node.last_modified),
        "x-ms-file-permission-key": PERMISSION_KEY,
        "x-ms-file-attributes": node.attributes,
        "x-ms-file-creation-time": iso_utc(node.created),
        "x-ms-file-last-write-time": iso_utc(node.last_modified),
        "x-ms-file-change-time": iso_utc(node.changed),
        "x-ms-file-id": node.file_id,
        "x-ms-file-parent-id": parent.file_id if parent else "0",
    }


def _content_headers(node: FileNode) -> dict[str, str]:
    s = node.settings
    headers = {"Content-Type": s.content_type or "application/octet-stream"}
    for name, value in (
        ("Content-Encoding", s.content_encoding),
        ("Content-Language", s.content_language),
        ("Content-Disposition", s.content_disposition),
        ("Cache-Control", s.cache_control),
    ):
        if value:
            headers[name] = value
    return headers


def _meta_headers(metadata: dict[str, str]) -> dict[str, str]:
    return {f"x-ms-meta-{k}": v for k, v in metadata.items()}


def _settings(req: WireRequest) -> ContentSettings:
    return ContentSettings(
        content_type=req.header("x-ms-content-type") or None,
        content_encoding=req.header("x-ms-content-encoding") or None,
        content_language=req.header("x-ms-content-language") or None,
        content_disposition=req.header("x-ms-content-disposition") or None,
        cache_control=req.header("x-ms-cache-control") or None,
        content_md5=_md5_header(req, "x-ms-content-md5"),
    )


def _md5_header(req: WireRequest, name: str) -> str | None:
    value = req.header(name)
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise InvalidHeaderValue(f"The value of {name} is not base64.") from None
    if len(raw) != 16:
        raise InvalidHeaderValue(f"The value of {name} is not a 16-byte MD5 hash.")
    return value


def _int_header(req: WireRequest, name: str, *, required: bool = False) -> int | None:
    value = req.header(name)
    if not value:
        if required:
            raise MissingRequiredHeader(detail={"HeaderName": name})
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidHeaderValue(detail={"HeaderName": name, "HeaderValue": value}) from None
    if number < 0:
        raise InvalidHeaderValue(detail={"HeaderName": name, "HeaderValue": value})
    return number


def _range(req: WireRequest) -> tuple[int, int | None] | None:
    value = req.header("x-ms-range") or req.header("range")
    if not value:
        return None
    match = _RANGE_RE.match(value.strip())
    if not match:
        raise InvalidHeaderValue(detail={"HeaderName": "x-ms-range", "HeaderValue": value})
    start = int(match[1])
    end = int(match[2]) if match[2] else None
    if end is not None and end < start:
        raise InvalidHeaderValue(detail={"HeaderName": "x-ms-range", "HeaderValue": value})
    return start, end


def _bool_header(req: WireRequest, name: str) -> bool:
    value = req.header(name).lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise InvalidHeaderValue(detail={"HeaderName": name, "HeaderValue": value})


def _xml(status: int, text: str, headers: dict[str, str] | None = None) -> WireResponse:
    out = {"Content-Type": "application/xml"}
    out.update(headers or {})
    return WireResponse(status, out, (_XML_HEAD + text).encode("utf-8"))


def _marker_encode(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _marker_decode(marker: str) -> str:
    try:
        return base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise FilesError(
            "The marker is not valid.", status=400, code="InvalidQueryParameterValue"
        ) from None


def _max_results(req: WireRequest) -> int:
    raw = req.query.get("maxresults", "")
    if not raw:
        return MAX_RESULTS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise FilesError(
            f"maxresults {raw!r} must be a positive number.",
            status=400,
            code="OutOfRangeQueryParameterValue",
        )
    return min(value, MAX_RESULTS)


class FilesWire(ServiceWire):
    """The Azure Files REST API over the backend's storage accounts."""

    name = "files"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.files = backend.files

    # --- the server's hooks ---------------------------------------------------------------
    def route(self, req: WireRequest) -> tuple[str, dict[str, str]]:
        segments = [s for s in req.path.split("/") if s]
        return resolve(req.method, segments, req.query)

    def scope_exists(self, req: WireRequest) -> bool:
        return self.files.find_account(req.scope) is not None

    def authenticate(self, req: WireRequest, op: str) -> None:
        authenticate_files_request(self.backend, req)

    def render_error(self, err: ServiceError, req: WireRequest) -> WireResponse:
        message = f"{err.message}\nRequestId:{req.request_id}\nTime:{iso_utc(time.time())}"
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in getattr(err, "detail", {}).items())
        body = f"<Error><Code>{err.code}</Code><Message>{escape(message)}</Message>{extra}</Error>"
        headers = {"x-ms-error-code": err.code, "Server": SERVER}
        headers.update(err.headers)
        return _xml(err.status, body, headers)

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
        handler = getattr(self, f"op_{op}")
        response: WireResponse = handler(req, params)
        response.headers.setdefault("Server", SERVER)
        version = req.header("x-ms-version")
        if version:
            response.headers.setdefault("x-ms-version", version)
        return response

    # --- service and shares ---------------------------------------------------------------------
    def op_ListShares(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        prefix = req.query.get("prefix", "")
        marker = _marker_decode(req.query["marker"]) if req.query.get("marker") else ""
        size = _max_results(req)
        shares = [
            s
            for s in self.files.list_shares(req.scope)
            if s.name.startswith(prefix) and s.name >= marker
        ]
        page, rest = shares[:size], shares[size:]
        items = "".join(
            f"<Share><Name>{escape(s.name)}</Name><Properties>"
            f"<Last-Modified>{http_date(s.last_modified)}</Last-Modified><Etag>{s.etag}</Etag>"
            f"<Quota>{s.quota}</Quota><AccessTier>TransactionOptimized</AccessTier>"
            f"<EnabledProtocols>SMB</EnabledProtocols></Properties></Share>"
            for s in page
        )
        body = (
            f"<EnumerationResults ServiceEndpoint={quoteattr(req.base_url + req.prefix + '/')}>"
            f"<Prefix>{escape(prefix)}</Prefix>"
            f"<Marker>{escape(req.query.get('marker', ''))}</Marker>"
            f"<MaxResults>{size}</MaxResults><Shares>{items}</Shares>"
            f"<NextMarker>{_marker_encode(rest[0].name) if rest else ''}</NextMarker>"
            "</EnumerationResults>"
        )
        return _xml(200, body)

    def op_GetServiceProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        body = (
            "<StorageServiceProperties><HourMetrics><Version>1.0</Version><Enabled>false"
            "</Enabled><RetentionPolicy><Enabled>false</Enabled></RetentionPolicy>"
            "</HourMetrics><MinuteMetrics><Version>1.0</Version><Enabled>false</Enabled>"
            "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></MinuteMetrics>"
            "<Cors /></StorageServiceProperties>"
        )
        return _xml(200, body)

    @staticmethod
    def _share_headers(share: Share) -> dict[str, str]:
        return {"ETag": share.etag, "Last-Modified": http_date(share.last_modified)}

    def op_CreateShare(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        quota = _int_header(req, "x-ms-share-quota")
        share = self.files.create_share(req.scope, p["share"], quota=quota, metadata=req.metadata())
        return WireResponse(201, self._share_headers(share))

    def op_GetShareProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        share = self.files.share(req.scope, p["share"])
        headers = self._share_headers(share)
        headers.update(_meta_headers(share.metadata))
        headers.update(
            {
                "x-ms-share-quota": str(share.quota),
                "x-ms-access-tier": "TransactionOptimized",
                "x-ms-enabled-protocols": "SMB",
                "x-ms-lease-state": "available",
                "x-ms-lease-status": "unlocked",
            }
        )
        return WireResponse(200, headers)

    def op_DeleteShare(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        self.files.delete_share(req.scope, p["share"])
        return WireResponse(202)

    def op_SetShareMetadata(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        share = self.files.set_share_metadata(req.scope, p["share"], req.metadata())
        return WireResponse(200, self._share_headers(share))

    # --- directories ----------------------------------------------------------------------------
    def _parent_of(self, req: WireRequest, p: dict[str, str]) -> DirNode | None:
        parts = _parts(p)
        if not parts:
            return None
        return self.files.directory(req.scope, p["share"], parts[:-1])

    def op_CreateDirectory(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.create_directory(
            req.scope, p["share"], _parts(p), metadata=req.metadata()
        )
        headers = _smb_headers(node, self._parent_of(req, p))
        headers["x-ms-request-server-encrypted"] = "true"
        return WireResponse(201, headers)

    def op_GetDirectoryProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.directory(req.scope, p["share"], _parts(p))
        headers = _smb_headers(node, self._parent_of(req, p))
        headers.update(_meta_headers(node.metadata))
        headers["x-ms-server-encrypted"] = "true"
        return WireResponse(200, headers)

    def op_DeleteDirectory(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        self.files.delete_directory(req.scope, p["share"], _parts(p))
        return WireResponse(202)

    def op_SetDirectoryMetadata(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.set_directory_metadata(req.scope, p["share"], _parts(p), req.metadata())
        return WireResponse(200, {"ETag": node.etag, "x-ms-request-server-encrypted": "true"})

    def op_SetDirectoryProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.directory(req.scope, p["share"], _parts(p))
        return WireResponse(200, _smb_headers(node, self._parent_of(req, p)))

    def op_ListFilesAndDirectories(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        parts = _parts(p)
        directory = self.files.directory(req.scope, p["share"], parts)
        prefix = req.query.get("prefix", "")
        marker = _marker_decode(req.query["marker"]) if req.query.get("marker") else ""
        size = _max_results(req)
        include = {i.strip().lower() for i in req.query.get("include", "").split(",") if i}
        extended = req.header("x-ms-file-extended-info").lower() == "true" or bool(include)
        entries = self.files.list_directory(req.scope, p["share"], parts, prefix=prefix)
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
            f"ShareName={quoteattr(p['share'])} DirectoryPath={quoteattr('/'.join(parts))}>"
            f"<Marker>{escape(req.query.get('marker', ''))}</Marker>"
            f"<Prefix>{escape(prefix)}</Prefix><MaxResults>{size}</MaxResults>"
            + (f"<DirectoryId>{directory.file_id}</DirectoryId>" if extended else "")
            + f"<Entries>{''.join(out)}</Entries>"
            f"<NextMarker>{_marker_encode(rest[0].name.lower()) if rest else ''}</NextMarker>"
            "</EnumerationResults>"
        )
        return _xml(200, body)

    # --- files ------------------------------------------------------------------------------------
    def op_CreateFile(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        if req.header("x-ms-type").lower() != "file":
            raise MissingRequiredHeader(detail={"HeaderName": "x-ms-type"})
        size = _int_header(req, "x-ms-content-length", required=True)
        assert size is not None
        node = self.files.create_file(
            req.scope,
            p["share"],
            _parts(p),
            size,
            settings=_settings(req),
            metadata=req.metadata(),
            lease_id=req.header("x-ms-lease-id") or None,
        )
        headers = _smb_headers(node, self._parent_of(req, p))
        headers["x-ms-request-server-encrypted"] = "true"
        return WireResponse(201, headers)

    def op_PutRange(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        span = _range(req)
        if span is None or span[1] is None:
            raise MissingRequiredHeader(detail={"HeaderName": "x-ms-range"})
        start, end = span[0], span[1]
        write = req.header("x-ms-write").lower()
        lease_id = req.header("x-ms-lease-id") or None
        headers: dict[str, str] = {"x-ms-request-server-encrypted": "true"}
        if write == "clear":
            node = self.files.put_range(
                req.scope, p["share"], _parts(p), start, end, None, lease_id=lease_id
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
                req.scope, p["share"], _parts(p), start, end, req.body, lease_id=lease_id
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
        headers = _smb_headers(node, self._parent_of(req, p))
        headers.update(_content_headers(node))
        headers.update(_meta_headers(node.metadata))
        headers.update(_lease_headers(node))
        headers.update(
            {"x-ms-type": "File", "x-ms-server-encrypted": "true", "Accept-Ranges": "bytes"}
        )
        return headers

    def op_GetFile(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.file(req.scope, p["share"], _parts(p))
        headers = self._file_response_headers(req, p, node)
        span = _range(req)
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
        if _bool_header(req, "x-ms-range-get-content-md5"):
            if len(data) > MAX_RANGE_BYTES:
                raise InvalidHeaderValue(
                    "x-ms-range-get-content-md5 needs a range of at most 4 MiB."
                )
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324
        return WireResponse(206, headers, data)

    def op_GetFileProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.file(req.scope, p["share"], _parts(p))
        headers = self._file_response_headers(req, p, node)
        headers["Content-Length"] = str(node.size)
        if node.settings.content_md5:
            headers["Content-MD5"] = node.settings.content_md5
        return WireResponse(200, headers)

    def op_ListRanges(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.file(req.scope, p["share"], _parts(p))
        ranges = f"<Range><Start>0</Start><End>{node.size - 1}</End></Range>" if node.size else ""
        return _xml(
            200,
            f"<Ranges>{ranges}</Ranges>",
            {
                "ETag": node.etag,
                "Last-Modified": http_date(node.last_modified),
                "x-ms-content-length": str(node.size),
            },
        )

    def op_SetFileProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        size = _int_header(req, "x-ms-content-length")
        node = self.files.set_file_properties(
            req.scope,
            p["share"],
            _parts(p),
            settings=_settings(req),
            size=size,
            lease_id=req.header("x-ms-lease-id") or None,
        )
        headers = _smb_headers(node, self._parent_of(req, p))
        headers["x-ms-request-server-encrypted"] = "true"
        return WireResponse(200, headers)

    def op_SetFileMetadata(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.set_file_metadata(
            req.scope,
            p["share"],
            _parts(p),
            req.metadata(),
            lease_id=req.header("x-ms-lease-id") or None,
        )
        return WireResponse(200, {"ETag": node.etag, "x-ms-request-server-encrypted": "true"})

    def op_DeleteFile(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        self.files.delete_file(
            req.scope, p["share"], _parts(p), lease_id=req.header("x-ms-lease-id") or None
        )
        return WireResponse(202)

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
            _parts(p),
            replace=_bool_header(req, "x-ms-file-rename-replace-if-exists"),
            directory=directory,
            source_lease_id=req.header("x-ms-source-lease-id") or None,
            target_lease_id=req.header("x-ms-destination-lease-id") or None,
        )
        if isinstance(node, FileNode) and req.header("x-ms-content-type"):
            node.settings.content_type = req.header("x-ms-content-type")
        if req.metadata():
            node.metadata = req.metadata()
        headers = _smb_headers(node, self._parent_of(req, p))
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
            _parts(p),
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
