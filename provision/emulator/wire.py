"""What every service's wire layer shares: the parsed request, the response, the error base class.

The server turns an aiohttp request into a `WireRequest` (body already read, path split off its
service prefix) and a service's responses module turns it into a `WireResponse`. Nothing here
knows aiohttp, so the wire layers stay plain functions over plain data.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import parse_qsl

__all__ = [
    "ARM_PREFIX",
    "KV_PREFIX",
    "NOT_EMULATED_CODE",
    "NotEmulated",
    "ServiceError",
    "ServiceWire",
    "WireRequest",
    "WireResponse",
    "http_date",
    "iso_utc",
    "new_etag",
    "new_request_id",
]

# Path prefixes of the services that share the server's root with Azure Files. Both begin with
# "_", which a storage account name (3-24 lower-case letters and digits) never does.
ARM_PREFIX = "/_arm"
KV_PREFIX = "/_kv"


@dataclass
class WireRequest:
    """One HTTP request as a service's wire layer sees it."""

    method: str
    raw_path: str  # the full path as sent, percent-encoded, without the query string
    path: str  # the decoded path below the service prefix, e.g. "/secrets/name"
    query_string: str  # raw query string (percent-encoded)
    headers: dict[str, str]  # lower-case names; repeated headers joined with ","
    body: bytes
    base_url: str  # scheme://host:port the client used, for links the client follows
    prefix: str = ""  # the service prefix of the path, e.g. "/_kv/myvault"
    scope: str = ""  # the vault, storage account, or "" for ARM
    query: dict[str, str] = field(default_factory=dict)  # decoded; lower-case names
    raw_headers: list[tuple[str, str]] = field(default_factory=list)  # names as sent
    request_id: str = ""
    # (tenant id, object id) of the bearer token, set by a service's authenticate
    caller: tuple[str, str] | None = None
    params: dict[str, str] = field(default_factory=dict)  # path parameters, set after routing
    # True when the request named Azure's own host (``<vault>.vault.azure.net``, through the
    # emulator's proxy): links and challenges in the answer then use Azure's hostnames too.
    public_host: bool = False

    def __post_init__(self) -> None:
        if not self.query and self.query_string:
            self.query = {
                k.lower(): v for k, v in parse_qsl(self.query_string, keep_blank_values=True)
            }

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def metadata(self) -> dict[str, str]:
        """x-ms-meta-* headers as a name -> value map, names spelled as sent."""
        return {k[10:]: v for k, v in self.raw_headers if k.lower().startswith("x-ms-meta-")}


@dataclass
class WireResponse:
    """One HTTP response: status, headers (case as Azure spells them) and body bytes."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class ServiceError(Exception):
    """An error a service answers with: an HTTP status and the service's error code.

    Each service subclasses this once per error it can raise; its wire layer renders the error
    in the service's own body shape (JSON for Key Vault and ARM, XML for Azure Files).
    """

    status: int = 400
    code: str = "BadRequest"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = dict(headers or {})


NOT_EMULATED_CODE = "NotImplementedByEmulator"


class NotEmulated(ServiceError):
    """A request for an operation the emulator does not implement.

    Answered with 501 and NOT_EMULATED_CODE in the service's own error shape, so that a program
    written for Azure sees plainly that the emulator, not its request, is the limit: a 400 or 404
    would read as the caller's own mistake. ``operation`` is the Azure operation name when the
    service knows it, else the method and path; the request log records it as the operation.
    """

    status = 501
    code = NOT_EMULATED_CODE

    def __init__(self, operation: str, method: str, path: str) -> None:
        request = f"{method} {path}"
        named = request if operation == request else f"the operation {operation} ({request})"
        super().__init__(
            f"The local Azure emulator does not implement {named}. The request may be valid "
            "for Azure; only the emulator cannot answer it."
        )
        self.operation = operation


Route = tuple[str, "re.Pattern[str]", str]


class MethodNotAllowed(Exception):
    """The path matches a route, but not with this HTTP method (kept for importers; the route
    matcher now answers every unmatched request with NotEmulated)."""


def match_route(
    routes: tuple[Route, ...], method: str, path: str
) -> tuple[str, dict[str, str]] | None:
    """The operation and path parameters of the first route matching method and path.

    A request no route takes (no matching path, or a path the emulator serves only with other
    methods) is an operation the emulator does not implement: NotEmulated, named by method and
    path. Missing resources are not decided here; their routes match and the handler answers
    the service's own 404.
    """
    for route_method, pattern, op in routes:
        if route_method != method:
            continue
        match = pattern.match(path)
        if match is not None:
            return op, {k: v for k, v in match.groupdict().items() if v is not None}
    raise NotEmulated(f"{method} {path}", method, path)


def new_request_id() -> str:
    return str(uuid.uuid4())


def http_date(ts: float | None = None) -> str:
    """RFC 1123 date as Azure sends in Date and Last-Modified headers."""
    when = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return format_datetime(when, usegmt=True)


def iso_utc(ts: float) -> str:
    """ISO 8601 with seven fractional digits and Z, as Azure storage and ARM write them."""
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}0Z"


_etag_lock = threading.Lock()
_etag_counter = itertools.count(1)


def new_etag() -> str:
    """A fresh, strictly increasing ETag in Azure storage's quoted-hex form."""
    with _etag_lock:
        tick = int(time.time() * 10_000_000) + 116444736000000000 + next(_etag_counter)
    return f'"0x{tick:X}"'


class ServiceWire:
    """The wire layer of one service, as the shared server drives it.

    Order per request: `route` (operation name and path parameters), fault injection,
    `scope_exists` (an unknown vault or storage account drops the connection, as the DNS
    lookup of its host name would fail in Azure), `authenticate`, then `handle`. Any
    ServiceError raised on the way is answered with `render_error`.
    """

    name = ""

    def route(self, req: WireRequest) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    def scope_exists(self, req: WireRequest) -> bool:
        return True

    def authenticate(self, req: WireRequest, op: str) -> None:
        raise NotImplementedError

    def handle(self, req: WireRequest, op: str, params: dict[str, str]) -> WireResponse:
        raise NotImplementedError

    def render_error(self, err: ServiceError, req: WireRequest) -> WireResponse:
        raise NotImplementedError

    def injected_error(self, status: int, retry_after: float) -> ServiceError:
        raise NotImplementedError
