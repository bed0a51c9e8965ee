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

import html
import json
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from provision.emulator.hostnames import LOGIN_HOST
from provision.emulator.identity.exceptions import IdentityError, InvalidRequest, UnauthorizedClient
from provision.emulator.identity.federation import GITHUB_ISSUER
from provision.emulator.identity.urls import OIDC_PREFIX, USER_PREFIX, match, match_login_host
from provision.emulator.identity.users import DEVICE_CODE_LIFETIME_S
from provision.emulator.wire import (
    ServiceError,
    ServiceWire,
    WireRequest,
    WireResponse,
)

if TYPE_CHECKING:
    from provision.emulator.state import Backend

__all__ = ["IdentityWire", "audience_of"]

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
# First-party public clients Entra knows in every tenant: azure-identity's default client of its
# user credentials is the Azure CLI's (azure-identity `_constants.DEVELOPER_SIGN_ON_CLIENT_ID`).
FIRST_PARTY_PUBLIC_CLIENTS = frozenset({"04b07795-8ddb-461a-bbee-02f9e1bf7b46"})


def _public_client(identity: Any, tenant: str, client_id: str) -> None:
    """A user flow's client: a first-party public client, or an application of the tenant
    (AADSTS700016 otherwise, as for client credentials)."""
    if client_id in FIRST_PARTY_PUBLIC_CLIENTS:
        return
    if f"{tenant}/{client_id}".lower() not in identity.apps:
        raise UnauthorizedClient(client_id, tenant)


def _issuer(req: WireRequest) -> str:
    """Where the emulator publishes its stand-in for GitHub's issuer (discovery and keys)."""
    return f"{req.base_url}{OIDC_PREFIX}"


def _page(title: str, body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{body}</body></html>"


def _html(status: int, text: str) -> WireResponse:
    headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    return WireResponse(status, headers, text.encode())


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

    def _form(self, req: WireRequest) -> dict[str, str]:
        try:
            return dict(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise InvalidRequest("AADSTS900144: The request body is not form-encoded.") from None

    @staticmethod
    def _require(form: dict[str, str], *names: str) -> None:
        for name in names:
            if not form.get(name):
                raise InvalidRequest(
                    f"AADSTS900144: The request body must contain the following parameter: "
                    f"'{name}'."
                )

    def op_GetToken(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        form = self._form(req)
        grant = form.get("grant_type", "")
        # the device code grant names no scope (RFC 8628 section 3.4): the device code's is used
        self._require(form, "client_id", *(() if grant == DEVICE_CODE_GRANT else ("scope",)))
        if grant == "client_credentials":
            return self._client_credentials(req, p["tenant"], form)
        user_grants = {
            DEVICE_CODE_GRANT: self._device_code_grant,
            "authorization_code": self._auth_code_grant,
            "refresh_token": self._refresh_grant,
        }
        if grant not in user_grants:
            raise IdentityError(
                f"AADSTS70003: The app requested an unsupported grant type '{grant}'.",
                status=400,
                code="unsupported_grant_type",
            )
        tenant = self.identity.canonical_tenant(p["tenant"])
        _public_client(self.identity, tenant, form["client_id"])
        return user_grants[grant](req, tenant, form)

    def _client_credentials(
        self, req: WireRequest, tenant: str, form: dict[str, str]
    ) -> WireResponse:
        if not form["scope"].split()[0].endswith("/.default"):
            # Entra ID refuses other scopes in the client-credentials flow (AADSTS1002012).
            raise IdentityError(
                f"AADSTS1002012: The provided value for scope {form['scope']} is not valid. "
                "Client credential flows must have a scope value with /.default suffixed to the "
                "resource identifier (application ID URI).",
                status=400,
                code="invalid_scope",
            )
        if form.get("client_assertion_type") == JWT_BEARER:
            principal = self.identity.client_assertion(
                tenant, form["client_id"], form.get("client_assertion", ""), GITHUB_ISSUER
            )
        else:
            principal = self.identity.client_credentials(
                tenant, form["client_id"], form.get("client_secret", "")
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

    def _user_tokens(
        self, req: WireRequest, tenant: str, client_id: str, upn: str, scope: str, nonce: str = ""
    ) -> WireResponse:
        """Entra's answer to a user's grant: access token for the scope's resource, refresh
        token, id token and msal's client_info (the user's home account)."""
        flows = self.identity.flows
        user = flows.member_of(upn, tenant, client_id)
        resource_scopes = [s for s in scope.split() if s not in OIDC_SCOPES]
        principal = self.identity.user_principal(user, tenant, client_id)
        token, expires = self.identity.issue(principal, audience_of(" ".join(resource_scopes)))
        lifetime = expires - int(time.time())
        key = self.identity.signing_key
        return _json(
            200,
            {
                "token_type": "Bearer",  # nosec B105: a scheme, not a password
                "scope": " ".join(resource_scopes),
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
                "refresh_token": flows.refresh_token(key, user.upn, client_id),
                "id_token": flows.id_token(
                    key, user, tenant, client_id, f"{req.base_url}/{tenant}/v2.0", nonce
                ),
                "client_info": flows.client_info(user),
            },
        )

    def _device_code_grant(
        self, req: WireRequest, tenant: str, form: dict[str, str]
    ) -> WireResponse:
        self._require(form, "device_code")
        code = self.identity.flows.redeem_device_code(form["device_code"], form["client_id"])
        assert code.upn is not None  # redeem_device_code returns approved codes only
        return self._user_tokens(req, tenant, code.client_id, code.upn, code.scope)

    def _auth_code_grant(self, req: WireRequest, tenant: str, form: dict[str, str]) -> WireResponse:
        self._require(form, "code", "redirect_uri")
        code = self.identity.flows.redeem_auth_code(form)
        return self._user_tokens(req, tenant, code.client_id, code.upn, form["scope"], code.nonce)

    def _refresh_grant(self, req: WireRequest, tenant: str, form: dict[str, str]) -> WireResponse:
        self._require(form, "refresh_token")
        upn = self.identity.flows.redeem_refresh_token(
            self.identity.signing_key, form["refresh_token"], form["client_id"]
        )
        return self._user_tokens(req, tenant, form["client_id"], upn, form["scope"])

    def op_StartDeviceCode(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        """``/devicecode``: the device code, the user code and where to enter it (the fields
        msal's initiate_device_flow reads; Entra's interval and lifetime)."""
        form = self._form(req)
        self._require(form, "client_id", "scope")
        tenant = self.identity.canonical_tenant(p["tenant"])
        _public_client(self.identity, tenant, form["client_id"])
        flows = self.identity.flows
        code = flows.start_device_code(tenant, form["client_id"], form["scope"])
        page = f"{req.base_url}{USER_PREFIX}/devicelogin"
        return _json(
            200,
            {
                "user_code": code.user_code,
                "device_code": code.device_code,
                "verification_uri": page,
                "expires_in": DEVICE_CODE_LIFETIME_S,
                "interval": flows.device_code_interval_s,
                "message": f"To sign in, use a web browser to open the page {page} and enter the "
                f"code {code.user_code} to authenticate.",
            },
        )

    def op_DeviceLoginPage(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return _html(
            200,
            _page(
                "Enter code",
                f'<form method="post" action="{req.path}">'
                '<input name="otc"><input name="login"><button>Next</button></form>',
            ),
        )

    def op_EnterDeviceCode(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        """The user step of the device code flow: a user (``login``) enters the code (``otc``)
        at the verification page; the polling client then gets its tokens."""
        form = self._form(req)
        self._require(form, "otc", "login")
        self.identity.flows.approve_device_code(form["otc"], form["login"])
        return _html(
            200, _page("Signed in", "<p>You have signed in. You may close this window.</p>")
        )

    def op_Authorize(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        """The sign-in page of the authorization code flow: a form that posts the user's name
        back to the same URL (the query, with PKCE challenge and redirect URI, kept)."""
        self.identity.canonical_tenant(p["tenant"])
        if req.query.get("response_type") != "code":
            raise InvalidRequest("AADSTS900144: 'response_type' must be 'code'.")
        action = f"{req.path}?{req.query_string}"
        body = f'<form method="post" action="{html.escape(action)}"><input name="login">'
        return _html(200, _page("Sign in", body + "<button>Sign in</button></form>"))

    def op_SignInAndAuthorize(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        """The user signed in: issue the code and send the browser to the redirect URI, with
        ``response_mode=form_post`` as a self-posting form (what azure-identity asks for), else
        as a 302 with the code in the query."""
        tenant = self.identity.canonical_tenant(p["tenant"])
        form = self._form(req)
        self._require(form, "login")
        params = dict(req.query)
        _public_client(self.identity, tenant, params.get("client_id", ""))
        code = self.identity.flows.issue_auth_code(form["login"], params, tenant)
        answer = {
            "code": code.code,
            "state": params.get("state", ""),
            "client_info": self.identity.flows.client_info(self.identity.flows.user(code.upn)),
        }
        redirect = params.get("redirect_uri", "")
        if params.get("response_mode") == "form_post":
            fields = "".join(
                f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
                for k, v in answer.items()
            )
            return _html(
                200,
                _page(
                    "Working...",
                    f'<form method="post" action="'
                    f'{html.escape(redirect)}">{fields}</form>'
                    "<script>document.forms[0].submit()</script>",
                ),
            )
        return WireResponse(302, {"Location": f"{redirect}?{urlencode(answer)}"}, b"")

    def op_GetIssuerConfiguration(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return _json(
            200,
            {
                "issuer": GITHUB_ISSUER,
                "jwks_uri": f"{_issuer(req)}/.well-known/jwks",
                "subject_types_supported": ["public", "pairwise"],
                "response_types_supported": ["id_token"],
                "claims_supported": [
                    "sub",
                    "aud",
                    "exp",
                    "iat",
                    "iss",
                    "jti",
                    "nbf",
                    "ref",
                    "repository",
                    "environment",
                ],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid"],
            },
        )

    def op_GetIssuerKeys(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return _json(200, self.identity.oidc.jwks())

    def op_GetWorkflowIdToken(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        """GitHub Actions' ID token request: the job's request token as a bearer token, the
        audience in the query; ``{"value": JWT}`` for the job's subject."""
        from provision.emulator.auth import bearer_token

        presented = bearer_token(req.header("authorization") or "")
        subject = self.identity.oidc.subject_of(presented) if presented else None
        if subject is None:
            raise InvalidRequest("Unauthorized: the request token is not valid.", status=401)
        audience = req.query.get("audience") or "https://github.com/msticpy-provision"
        token = self.identity.oidc.issue(GITHUB_ISSUER, subject, audience)
        return _json(200, {"count": len(token), "value": token})

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
