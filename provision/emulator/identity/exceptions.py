"""Entra ID token-endpoint errors, rendered as OAuth 2.0 error bodies with ``AADSTS`` codes."""

from __future__ import annotations

from provision.emulator.wire import ServiceError

__all__ = [
    "IdentityError",
    "InvalidClient",
    "InvalidRequest",
    "TenantNotFound",
    "UnauthorizedClient",
]


class IdentityError(ServiceError):
    """``code`` is the OAuth error (``invalid_client``...), ``aadsts`` Entra's numeric code."""

    aadsts = 0


class InvalidRequest(IdentityError):
    status, code = 400, "invalid_request"


class TenantNotFound(InvalidRequest):
    aadsts = 90002

    def __init__(self, tenant: str) -> None:
        super().__init__(
            f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct "
            "tenant ID and are signing into the correct cloud."
        )


class InvalidClient(IdentityError):
    status, code = 401, "invalid_client"
    aadsts = 7000215

    def __init__(self, client_id: str) -> None:
        super().__init__(
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
            f"request is the client secret value, not the client secret ID, for a secret added to "
            f"app '{client_id}'."
        )


class UnauthorizedClient(IdentityError):
    """A client id no application of the tenant has: Entra answers 400 unauthorized_client
    (MSAL's MsalServiceException.ErrorCode; the wording as login.microsoftonline.com gives it)."""

    status, code = 400, "unauthorized_client"
    aadsts = 700016

    def __init__(self, client_id: str, tenant: str) -> None:
        super().__init__(
            f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
            f"directory '{tenant}'. This can happen if the application has not been installed by "
            "the administrator of the tenant or consented to by any user in the tenant. You may "
            "have sent your authentication request to the wrong tenant."
        )
