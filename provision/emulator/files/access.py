"""Who may call Azure Files: Shared Key (refused when the account's ``allowSharedKeyAccess``
is false), or a bearer token of the account's tenant with ``x-ms-file-request-intent: backup``
whose principal holds a Storage File Data Privileged role for the operation (read for GET and
HEAD, write for PUT, delete for DELETE) at the share, the account or above."""

from __future__ import annotations

from typing import TYPE_CHECKING

from provision.emulator.auth import bearer_token, verify_shared_key
from provision.emulator.files.exceptions import (
    AuthenticationFailed,
    FilesError,
    MissingRequiredHeader,
    NoAuthenticationInformation,
)
from provision.emulator.identity.models import STORAGE_AUDIENCES
from provision.emulator.wire import WireRequest

if TYPE_CHECKING:
    from provision.emulator.state import Backend

__all__ = ["authenticate_files_request"]


def authenticate_files_request(backend: Backend, req: WireRequest) -> None:
    """Authenticate (and for tokens authorize) one Files request, or raise its FilesError."""
    account = backend.files.find_account(req.scope)
    assert account is not None
    authorization = req.header("authorization")
    challenge = {
        "WWW-Authenticate": (
            f"Bearer authorization_uri=https://login.microsoftonline.com/{account.tenant_id}"
            "/oauth2/authorize resource_id=https://storage.azure.com"
        )
    }
    if not authorization:
        raise NoAuthenticationInformation(headers=challenge)
    token = bearer_token(authorization)
    if token is not None:
        _authorize_token(backend, req, token, account.tenant_id, challenge)
        return
    arm = backend.arm.find_named("storage", account.name)
    if arm is not None and arm.properties.get("allowSharedKeyAccess") is False:
        # Azure's answer to a key-signed request when the account disallows Shared Key
        # (seen as XML with this code and message in Azure/AI-Landing-Zones #64).
        raise FilesError(
            "Key based authentication is not permitted on this storage account.",
            status=403,
            code="KeyBasedAuthenticationNotPermitted",
        )
    result = verify_shared_key(
        authorization,
        account=account.name,
        keys=account.keys,
        method=req.method,
        headers=req.headers,
        raw_path=req.raw_path,
        query_string=req.query_string,
    )
    if not result.ok:
        raise AuthenticationFailed(detail={"AuthenticationErrorDetail": result.reason})


def _authorize_token(
    backend: Backend, req: WireRequest, token: str, tenant: str, challenge: dict[str, str]
) -> None:
    """Bearer tokens: the account's tenant, the backup intent header (every operation since
    REST 2024-11-04), then the Storage File Data Privileged role for the operation."""
    principal = backend.principal(token)
    if principal is not None:
        req.caller = (principal.tenant_id, principal.object_id)
    if principal is None or not principal.in_tenant(tenant):
        detail = (
            "The bearer token is not this emulator's."
            if principal is None
            else "Issuer validation failed. Issuer did not match."
        )
        raise FilesError(
            "Server failed to authenticate the request. Please refer to "
            "the information in the www-authenticate header.",
            status=401,
            code="InvalidAuthenticationInfo",
            headers=challenge,
            detail={"AuthenticationErrorDetail": detail},
        )
    account_url = f"{req.base_url}/{req.scope}"
    if not principal.audience_in(*STORAGE_AUDIENCES, account_url):
        raise FilesError(
            "Server failed to authenticate the request. Please refer to "
            "the information in the www-authenticate header.",
            status=401,
            code="InvalidAuthenticationInfo",
            headers=challenge,
            detail={
                "AuthenticationErrorDetail": "Audience validation failed. Audience did not match."
            },
        )
    if req.header("x-ms-file-request-intent").lower() != "backup":
        raise MissingRequiredHeader(detail={"HeaderName": "x-ms-file-request-intent"})
    if principal.is_operator:
        return
    arm = backend.arm.find_named("storage", req.scope)
    if arm is None:
        return
    scope = (
        f"/subscriptions/{arm.subscription_id}/resourceGroups/{arm.resource_group}"
        f"/providers/Microsoft.Storage/storageAccounts/{arm.name}"
    )
    share = req.path.strip("/").split("/", 1)[0]
    if share:
        scope += f"/fileServices/default/fileshares/{share}"
    verb = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(req.method, "write")
    action = f"Microsoft.Storage/storageAccounts/fileServices/fileshares/files/{verb}"
    if not backend.authz.allows_data_action(principal.object_id, scope, action):
        raise FilesError(
            "This request is not authorized to perform this operation using this permission.",
            status=403,
            code="AuthorizationPermissionMismatch",
        )
