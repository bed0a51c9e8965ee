"""The File service's wire format: request headers read, response headers and XML written.

Shared by the operations of `responses` (files and directories) and `share_wire` (service and
shares).
"""

from __future__ import annotations

import base64
import re

from provision.emulator.files.exceptions import (
    FilesError,
    InvalidHeaderValue,
    MissingRequiredHeader,
)
from provision.emulator.files.models import PERMISSION_KEY, ContentSettings, DirNode, FileNode
from provision.emulator.wire import WireRequest, WireResponse, http_date, iso_utc

__all__ = [
    "MAX_RANGE_BYTES",
    "MAX_RESULTS",
    "SERVER",
    "bool_header",
    "byte_range",
    "content_headers",
    "content_settings",
    "file_lease_headers",
    "int_header",
    "marker_decode",
    "marker_encode",
    "max_results",
    "md5_header",
    "meta_headers",
    "path_parts",
    "smb_headers",
    "xml_response",
]

SERVER = "Windows-Azure-File/1.0 Microsoft-HTTPAPI/2.0"
MAX_RESULTS = 5000
MAX_RANGE_BYTES = 4 * 1024 * 1024
_RANGE_RE = re.compile(r"^bytes=(\d+)-(\d*)$")
_XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>'


def path_parts(params: dict[str, str]) -> list[str]:
    return [p for p in params.get("path", "").split("/") if p]


def file_lease_headers(node: FileNode) -> dict[str, str]:
    headers = {
        "x-ms-lease-state": node.lease_state,
        "x-ms-lease-status": "locked" if node.lease_state == "leased" else "unlocked",
    }
    if node.lease_state == "leased":
        headers["x-ms-lease-duration"] = "infinite"
    return headers


def smb_headers(node: FileNode | DirNode, parent: DirNode | None = None) -> dict[str, str]:
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


def content_headers(node: FileNode) -> dict[str, str]:
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


def meta_headers(metadata: dict[str, str]) -> dict[str, str]:
    return {f"x-ms-meta-{k}": v for k, v in metadata.items()}


def content_settings(req: WireRequest) -> ContentSettings:
    return ContentSettings(
        content_type=req.header("x-ms-content-type") or None,
        content_encoding=req.header("x-ms-content-encoding") or None,
        content_language=req.header("x-ms-content-language") or None,
        content_disposition=req.header("x-ms-content-disposition") or None,
        cache_control=req.header("x-ms-cache-control") or None,
        content_md5=md5_header(req, "x-ms-content-md5"),
    )


def md5_header(req: WireRequest, name: str) -> str | None:
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


def int_header(req: WireRequest, name: str, *, required: bool = False) -> int | None:
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


def byte_range(req: WireRequest) -> tuple[int, int | None] | None:
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


def bool_header(req: WireRequest, name: str) -> bool:
    value = req.header(name).lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise InvalidHeaderValue(detail={"HeaderName": name, "HeaderValue": value})


def xml_response(status: int, text: str, headers: dict[str, str] | None = None) -> WireResponse:
    out = {"Content-Type": "application/xml"}
    out.update(headers or {})
    return WireResponse(status, out, (_XML_HEAD + text).encode("utf-8"))


def marker_encode(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def marker_decode(marker: str) -> str:
    try:
        return base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise FilesError(
            "The marker is not valid.", status=400, code="InvalidQueryParameterValue"
        ) from None


def max_results(req: WireRequest) -> int:
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
