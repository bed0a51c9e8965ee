"""Entra ID token-endpoint errors, rendered as OAuth 2.0 error bodies with ``AADSTS`` codes."""

from __future__ import annotations

from provision.emulator.wire import ServiceError

__all__ = [
    "AssertionInvalid",
    "AuthorizationPending",
    "ExpiredToken",
    "FederatedAssertionRefused",
    "IdentityError",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "TenantNotFound",
    "UnauthorizedClient",
    "UserNotInTenant",
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


class AuthorizationPending(IdentityError):
    """A device code the user has not yet entered: Entra answers 400 authorization_pending,
    AADSTS70016, and the client keeps polling (msal ``DEVICE_FLOW_RETRIABLE_ERRORS``)."""

    status, code = 400, "authorization_pending"
    aadsts = 70016

    def __init__(self) -> None:
        super().__init__(
            "AADSTS70016: The provided request has not yet been authorized by the user. The user "
            "must input their code."
        )


class ExpiredToken(IdentityError):
    """A device code past its expires_in (RFC 8628 section 3.5 ``expired_token``)."""

    status, code = 400, "expired_token"
    aadsts = 70019

    def __init__(self) -> None:
        super().__init__(
            "AADSTS70019: Verification code expired. Please sign in again to get a new code."
        )


class InvalidGrant(IdentityError):
    """A code, device code or refresh token the authority does not accept (400 invalid_grant)."""

    status, code = 400, "invalid_grant"
    aadsts = 70000

    def __init__(self, message: str) -> None:
        super().__init__(message)
        number = message.removeprefix("AADSTS").partition(":")[0]
        if message.startswith("AADSTS") and number.isdigit():
            self.aadsts = int(number)  # error_codes names the code the message starts with


class UserNotInTenant(InvalidGrant):
    """A user's refresh token redeemed in a tenant where the user is neither member nor guest:
    AADSTS50020 (the wording Entra's troubleshooting page for AADSTS50020 quotes)."""

    aadsts = 50020

    def __init__(self, upn: str, idp: str, tenant: str, client_id: str) -> None:
        super().__init__(
            f"AADSTS50020: User account '{upn}' from identity provider '{idp}' does not exist in "
            f"tenant '{tenant}' and cannot access the application '{client_id}' in that tenant. "
            "The account needs to be added as an external user in the tenant first. Sign out "
            "and sign in again with a different Azure Active Directory user account."
        )


class FederatedAssertionRefused(IdentityError):
    """A client assertion no federated identity credential of the application matches.

    Entra answers 400 invalid_request AADSTS70021 naming the assertion's issuer, subject and
    audience (seen verbatim in Azure/azure-workload-identity issue 616); the issuer, audience
    and signature checks have codes of their own (`AssertionInvalid`)."""

    status, code = 400, "invalid_request"
    aadsts = 70021

    def __init__(self, issuer: str, subject: str, audience: str) -> None:
        super().__init__(
            "AADSTS70021: No matching federated identity record found for presented assertion. "
            f"Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. "
            f"Assertion Audience: '{audience}'."
        )


class AssertionInvalid(IdentityError):
    """A client assertion that is not a valid token of a trusted issuer: unknown issuer
    (AADSTS700211), audience (AADSTS700212), bad signature (AADSTS700027), expired
    (AADSTS700024)."""

    status, code = 400, "invalid_client"

    def __init__(self, aadsts: int, message: str) -> None:
        super().__init__(f"AADSTS{aadsts}: {message}")
        self.aadsts = aadsts
