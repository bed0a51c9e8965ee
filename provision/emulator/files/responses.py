"""Azure Files wire layer: headers in, headers (and XML) out, as the File service REST API does.

Authentication and authorization are in `provision.emulator.files.access` (Shared Key, or a
bearer token of the account's tenant with ``x-ms-file-request-intent: backup``); service and share
operations take bearer tokens only from REST version 2024-11-04, as Azure does. SAS is not
supported.

`FilesWire` is the server's hooks (route, authenticate, errors, dispatch to one method per
operation); the operations are mixins by level: the service and shares in `share_wire`,
directories and renames in `directory_wire`, files and file leases in `file_wire`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from provision.emulator.auth import bearer_token
from provision.emulator.files.access import authenticate_files_request
from provision.emulator.files.directory_wire import DirectoryOps
from provision.emulator.files.exceptions import (
    AuthenticationFailed,
    FilesError,
    ShareSnapshotOperationNotSupported,
)
from provision.emulator.files.file_wire import FileOps
from provision.emulator.files.share_wire import ShareLevelOps, snapshot_of
from provision.emulator.files.urls import resolve
from provision.emulator.files.wireformat import SERVER, xml_response
from provision.emulator.wire import (
    NotEmulated,
    ServiceError,
    ServiceWire,
    WireRequest,
    WireResponse,
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


class FilesWire(ShareLevelOps, DirectoryOps, FileOps, ServiceWire):
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
