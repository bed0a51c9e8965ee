"""Azure Files errors: each knows its HTTP status and x-ms-error-code, with Azure's message.

Rendered as ``<Error><Code>..</Code><Message>..\\nRequestId:..\\nTime:..</Message></Error>`` and
the ``x-ms-error-code`` header (the SDK reads the header; HEAD answers carry no body).
"""

from __future__ import annotations

from provision.emulator.wire import ServiceError

__all__ = [
    "AuthenticationFailed",
    "CannotVerifyCopySource",
    "DirectoryNotEmpty",
    "FilesError",
    "InvalidHeaderValue",
    "InvalidRange",
    "LeaseAlreadyPresent",
    "LeaseIdMismatchWithFileOperation",
    "LeaseIdMismatchWithLeaseOperation",
    "LeaseIdMissing",
    "LeaseNotPresentWithFileOperation",
    "LeaseNotPresentWithLeaseOperation",
    "Md5Mismatch",
    "MissingRequiredHeader",
    "NoAuthenticationInformation",
    "ParentNotFound",
    "ResourceAlreadyExists",
    "ResourceNotFound",
    "ShareAlreadyExists",
    "ShareHasSnapshots",
    "ShareLeaseError",
    "ShareNotFound",
    "ShareSnapshotOperationNotSupported",
]


class FilesError(ServiceError):
    """Base class; ``detail`` becomes extra XML elements (e.g. AuthenticationErrorDetail)."""

    default_message = "An error occurred."

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: dict[str, str] | None = None,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.default_message, status=status, code=code, headers=headers)
        self.detail = dict(detail or {})


class ShareNotFound(FilesError):
    status, code = 404, "ShareNotFound"
    default_message = "The specified share does not exist."


class ShareAlreadyExists(FilesError):
    status, code = 409, "ShareAlreadyExists"
    default_message = "The specified share already exists."


class ResourceNotFound(FilesError):
    status, code = 404, "ResourceNotFound"
    default_message = "The specified resource does not exist."


class ParentNotFound(FilesError):
    status, code = 404, "ParentNotFound"
    default_message = "The specified parent path does not exist."


class ResourceAlreadyExists(FilesError):
    status, code = 409, "ResourceAlreadyExists"
    default_message = "The specified resource already exists."


class DirectoryNotEmpty(FilesError):
    status, code = 409, "DirectoryNotEmpty"
    default_message = "The specified directory is not empty."


class Md5Mismatch(FilesError):
    status, code = 400, "Md5Mismatch"
    default_message = (
        "The MD5 value specified in the request did not match with the MD5 value "
        "calculated by the server."
    )


class InvalidRange(FilesError):
    status, code = 416, "InvalidRange"
    default_message = "The range specified is invalid for the current size of the resource."


class InvalidHeaderValue(FilesError):
    status, code = 400, "InvalidHeaderValue"
    default_message = "The value for one of the HTTP headers is not in the correct format."


def invalid_header(name: str, value: str) -> InvalidHeaderValue:
    """Azure's 400 InvalidHeaderValue naming the header and the value it refused."""
    return InvalidHeaderValue(detail={"HeaderName": name, "HeaderValue": value})


class MissingRequiredHeader(FilesError):
    status, code = 400, "MissingRequiredHeader"
    default_message = "An HTTP header that's mandatory for this request is not specified."


class LeaseIdMissing(FilesError):
    status, code = 412, "LeaseIdMissing"
    default_message = (
        "There is currently a lease on the file and no lease ID was specified in the request."
    )


class LeaseIdMismatchWithFileOperation(FilesError):
    status, code = 412, "LeaseIdMismatchWithFileOperation"
    default_message = "The lease ID specified did not match the lease ID for the file."


class LeaseNotPresentWithFileOperation(FilesError):
    status, code = 412, "LeaseNotPresentWithFileOperation"
    default_message = "There is currently no lease on the file."


class LeaseAlreadyPresent(FilesError):
    status, code = 409, "LeaseAlreadyPresent"
    default_message = "There is already a lease present."


class LeaseIdMismatchWithLeaseOperation(FilesError):
    status, code = 409, "LeaseIdMismatchWithLeaseOperation"
    default_message = "The lease ID specified did not match the lease ID for the file."


class LeaseNotPresentWithLeaseOperation(FilesError):
    status, code = 409, "LeaseNotPresentWithLeaseOperation"
    default_message = "There is currently no lease on the file."


class AuthenticationFailed(FilesError):
    status, code = 403, "AuthenticationFailed"
    default_message = (
        "Server failed to authenticate the request. Make sure the value of "
        "Authorization header is formed correctly including the signature."
    )


class NoAuthenticationInformation(FilesError):
    status, code = 401, "NoAuthenticationInformation"
    default_message = (
        "Server failed to authenticate the request. Please refer to the "
        "information in the www-authenticate header."
    )


# --- shares: snapshots, leases, copy ---------------------------------------------------------
# Codes from the StorageErrorCode enum of the File service REST spec (azure-rest-api-specs,
# Microsoft.FileStorage file.json); share leases follow the rules and codes of Lease Container
# ("Lease Share" documents the same five actions), with "share" in the messages.


class ShareHasSnapshots(FilesError):
    status, code = 409, "ShareHasSnapshots"
    default_message = "This operation is not permitted because the share has snapshots."


class ShareSnapshotOperationNotSupported(FilesError):
    status, code = 400, "ShareSnapshotOperationNotSupported"
    default_message = "The operation is not supported on a share snapshot."


class CannotVerifyCopySource(FilesError):
    status, code = 404, "CannotVerifyCopySource"
    default_message = "The specified resource does not exist."


_SHARE_LEASE_ERRORS: dict[str, tuple[int, str]] = {
    "LeaseIdMissing": (
        412,
        "There is currently a lease on the share and no lease ID was specified in the request.",
    ),
    "LeaseIdMismatchWithContainerOperation": (
        412,
        "The lease ID specified did not match the lease ID for the share.",
    ),
    "LeaseNotPresentWithContainerOperation": (412, "There is currently no lease on the share."),
    "LeaseAlreadyPresent": (409, "There is already a lease present."),
    "LeaseIdMismatchWithLeaseOperation": (
        409,
        "The lease ID specified did not match the lease ID for the share.",
    ),
    "LeaseNotPresentWithLeaseOperation": (409, "There is currently no lease on the share."),
    "LeaseIsBrokenAndCannotBeRenewed": (
        409,
        "The lease ID matched, but the lease has been broken explicitly and cannot be renewed.",
    ),
    "LeaseIsBreakingAndCannotBeAcquired": (
        409,
        "The lease ID matched, but the lease is currently in breaking state and cannot be "
        "acquired until it is broken.",
    ),
    "LeaseIsBreakingAndCannotBeChanged": (
        409,
        "The lease ID matched, but the lease is currently in breaking state and cannot be changed.",
    ),
}


class ShareLeaseError(FilesError):
    """A share lease error, by its code (status and message from the table above)."""

    def __init__(self, code: str) -> None:
        status, message = _SHARE_LEASE_ERRORS[code]
        super().__init__(message, status=status, code=code)
