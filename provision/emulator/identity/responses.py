"""Identity wire layer: an Entra-ID-shaped authority per tenant and an App Service-shaped
managed-identity endpoint.

- ``GET /<tenant>/v2.0/.well-known/openid-configuration``: the OpenID discovery document msal
  reads before its first token request (it needs ``authorization_endpoint`` and
  ``token_endpoint``, and takes the tenant from the token endpoint's first path segment).
- ``POST /<tenant>/oauth2/v2.0/token``: the client-credentials grant; the answer carries
  ``token_type``, ``expires_in``, ``ext_expires_in`` and ``access_token`` like Entra ID's.
- ``GET /_msi/<tenant>/token?api-version=2019-08-01&resource=...`` with ``X-IDENTITY-HEADER``:
  the App Service managed-identity protocol that azure-identity's ManagedIdentityCredential uses
  when ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` are set (``expires_on`` in epoch seconds).
  Without ``client_id``/``object_id`` the identity is the tenant's admin application; with one,
  the registered application it names (a user-assigned identity).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from provision.emulator.hostnames import LOGIN_HOST
from provision.emulator.identity.exceptions import IdentityError, InvalidRequest
from provision.emulator.identity.urls import match, match_login_host
from provision.emulator.wire import (
    ServiceError,
    ServiceWire,
    WireRequest,
    WireResponse,
)

if TYPE_CHECKING:
    from provision.emulator.state import Backend

__all__ = ["IdentityWire", "audience_of"]


def audience_of(scope: str) -> str:
    """The resource a v2 scope names: ``https://vault.azure.net/.default`` -> the URL."""
    first = scope.split()[0] if scope.split() else ""
    return first[: -len("/.default")] if first.endswith("/.default") else first


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> WireResponse:
    out = {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}
    out.update(headers or {})
    return WireResponse(status, out, json.dumps(body, separators=(",", ":")).encode())


class IdentityWire(ServiceWire):
    """Token endpoints of every seeded tenant."""

    name = "identity"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.identity = backend.identity

    def route(self, req: WireRequest) -> tuple[str, dict[str, str]]:
        found = (match_login_host if req.public_host else match)(req.method, req.path)
        if found is None:
            raise InvalidRequest(f"AADSTS900561: The endpoint {req.path} is not known.")
        return found

    def authenticate(self, req: WireRequest, op: str) -> None:
        """Token endpoints authenticate the client in the request itself."""

    def render_error(self, err: ServiceError, req: WireRequest) -> WireResponse:
        body = {
            "error": err.code,
            "error_description": err.message,
            "error_codes": [getattr(err, "aadsts", 0)],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": req.request_id,
            "correlation_id": req.header("client-request-id") or str(uuid.uuid4()),
        }
        return _json(err.status, body, err.headers)

    def injected_error(self, status: int, retry_after: float) -> ServiceError:
        return IdentityError(
            "AADSTS50000: There was an error issuing a token.",
            status=status,
            code="temporarily_unavailable" if status == 503 else "server_error",
            headers={"Retry-After": f"{retry_after:g}"} if status == 429 else None,
        )

    def handle(self, req: WireRequest, op: str, params: dict[str, str]) -> WireResponse:
        handler = getattr(self, f"op_{op}")
        response: WireResponse = handler(req, params)
        return response

    # --- operations -------------------------------------------------------------------------
    def op_GetOpenIdConfiguration(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        tenant = self.identity.canonical_tenant(p["tenant"])
        root = f"{req.base_url}/{tenant}"
        return _json(
            200,
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["HS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{root}/v2.0",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "emulator",
            },
        )

    def op_GetInstanceDiscovery(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        """Entra's instance discovery at login.microsoftonline.com: where the authority's
        OpenID configuration is, and which hosts are aliases of one another (msal groups its
        token cache by them). The body has the shape msal reads (``tenant_discovery_endpoint``;
        ``metadata[].aliases``, msal ``application._get_authority_aliases``) and the
        public-cloud group Entra publishes (msal.NET ``KnownMetadataProvider``)."""
        endpoint = req.query.get("authorization_endpoint", "")
        if not endpoint:
            raise InvalidRequest(
                "AADSTS90014: The required field 'authorization_endpoint' is missing."
            )
        head, sep, _ = endpoint.partition("/oauth2/")
        if not sep or not head.startswith(f"https://{LOGIN_HOST}/"):
            return _json(
                400,
                {
                    "error": "invalid_instance",
                    "error_description": "AADSTS50049: Unknown or invalid instance.",
                },
            )
        version = "/v2.0" if "/oauth2/v2.0/" in endpoint else ""
        return _json(
            200,
            {
                "tenant_discovery_endpoint": f"{head}{version}/.well-known/openid-configuration",
                "api-version": req.query.get("api-version", "1.1"),
                "metadata": [
                    {
                        "preferred_network": LOGIN_HOST,
                        "preferred_cache": "login.windows.net",
                        "aliases": [
                            LOGIN_HOST,
                            "login.windows.net",
                            "login.microsoft.com",
                            "sts.windows.net",
                        ],
                    }
                ],
            },
        )

    def op_GetToken(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        try:
            form = dict(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise InvalidRequest("AADSTS900144: The request body is not form-encoded.") from None
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            raise IdentityError(
                f"AADSTS70003: The app requested an unsupported grant type '{grant}'; the "
                "emulator supports client_credentials.",
                status=400,
                code="unsupported_grant_type",
            )
        for name in ("client_id", "scope"):
            if not form.get(name):
                raise InvalidRequest(
                    f"AADSTS900144: The request body must contain the following parameter: "
                    f"'{name}'."
                )
        if not form["scope"].split()[0].endswith("/.default"):
            # Entra ID refuses other scopes in the client-credentials flow (AADSTS1002012).
            raise IdentityError(
                f"AADSTS1002012: The provided value for scope {form['scope']} is not valid. "
                "Client credential flows must have a scope value with /.default suffixed to the "
                "resource identifier (application ID URI).",
                status=400,
                code="invalid_scope",
            )
        principal = self.identity.client_credentials(
            p["tenant"], form["client_id"], form.get("client_secret", "")
        )
        token, expires = self.identity.issue(principal, audience_of(form["scope"]))
        lifetime = expires - int(time.time())
        return _json(
            200,
            {
                "token_type": "Bearer",  # nosec B105: a scheme, not a password
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
        )

    def op_GetManagedIdentityToken(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        if req.header("x-identity-header") != self.identity.msi_header:
            raise InvalidRequest(
                "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
                status=401,
            )
        resource = req.query.get("resource", "")
        if not resource:
            raise InvalidRequest("The resource query parameter is required.")
        principal = self.identity.managed_identity(
            p["tenant"],
            client_id=req.query.get("client_id"),
            object_id=req.query.get("object_id") or req.query.get("principal_id"),
        )
        if principal is None:
            raise InvalidRequest(
                "Unable to find the user-assigned identity named by client_id/object_id.",
                status=400,
            )
        token, expires = self.identity.issue(principal, audience_of(resource))
        return _json(
            200,
            {
                "access_token": token,
                "expires_on": str(expires),
                "resource": resource,
                "token_type": "Bearer",  # nosec B105: a scheme, not a password
                "client_id": principal.app_id,
            },
        )
