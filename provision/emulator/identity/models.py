"""Identity backend: tenants, their applications, and the tokens the emulator signs. No HTTP.

A token is a JWT signed with HS256 by a key kept in the emulator's state (so tokens survive a
restart). Its claims follow Entra ID's v1 access tokens: ``tid`` (tenant), ``oid`` (object id of
the principal), ``appid``, ``aud`` (the resource asked for), ``iss``
(``https://sts.windows.net/<tid>/``), ``iat``/``nbf``/``exp``. Each service reads ``tid`` and
``oid`` from it to decide whether the caller belongs to the right tenant and holds the right role.

Every seeded tenant has one *admin application* (a service principal whose client id, secret and
object id are published in endpoints.json); the default seed gives it full rights. The
managed-identity endpoint hands out tokens of the admin application of the tenant in its path.
Any other client id gets a token too (with any secret), for a principal with no rights at all,
unless the seed registered that client id with a secret of its own.

The emulator's older static bearer token (``Backend.token``) is kept for existing callers: it
acts as the *operator*, a principal accepted in every tenant with every right (as an admin with
Azure Lighthouse delegations on every customer tenant would be).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from provision.emulator.identity.exceptions import InvalidClient, TenantNotFound, UnauthorizedClient
from provision.emulator.identity.federation import FederatedCredential, OidcIssuer
from provision.emulator.identity.users import User, UserFlows, user_object_id

__all__ = [
    "ANY_TENANT",
    "ARM_AUDIENCES",
    "KEYVAULT_AUDIENCES",
    "OPERATOR_OBJECT_ID",
    "STORAGE_AUDIENCES",
    "App",
    "IdentityBackend",
    "Principal",
    "admin_client_id",
    "admin_object_id",
]

TOKEN_LIFETIME_S = 3600
# The resources each service accepts tokens for, in every cloud the tool knows.
ARM_AUDIENCES = (
    "https://management.azure.com",
    "https://management.core.windows.net",
    "https://management.usgovcloudapi.net",
    "https://management.core.usgovcloudapi.net",
    "https://management.chinacloudapi.cn",
    "https://management.core.chinacloudapi.cn",
)
KEYVAULT_AUDIENCES = (
    "https://vault.azure.net",
    "https://vault.usgovcloudapi.net",
    "https://vault.azure.cn",
)
STORAGE_AUDIENCES = ("https://storage.azure.com",)
ANY_TENANT = "*"
_NAMESPACE = uuid.UUID("0b5a52b4-2f0e-4d43-9d8a-5a6f7f1f9e31")
OPERATOR_OBJECT_ID = str(uuid.uuid5(_NAMESPACE, "operator"))


def admin_client_id(tenant_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id.lower()}/admin-app"))


def admin_object_id(tenant_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id.lower()}/admin-sp"))


def _client_object_id(tenant_id: str, client_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id.lower()}/app/{client_id.lower()}"))


@dataclass(frozen=True)
class Principal:
    """Who a token speaks for. ``tenant_id`` is ANY_TENANT only for the operator."""

    tenant_id: str
    object_id: str
    app_id: str
    audience: str = ""
    upn: str = ""  # a signed-in user's name; "" for an application

    @property
    def is_operator(self) -> bool:
        return self.tenant_id == ANY_TENANT

    def in_tenant(self, tenant_id: str) -> bool:
        return self.is_operator or self.tenant_id.lower() == tenant_id.lower()

    @property
    def issuer(self) -> str:
        return f"https://sts.windows.net/{self.tenant_id}/"

    def audience_in(self, *allowed: str) -> bool:
        """Whether the token was issued for one of these resources (trailing '/' ignored).
        The operator token has no audience and is accepted by every service."""
        if self.is_operator:
            return True
        return self.audience.rstrip("/").lower() in {a.rstrip("/").lower() for a in allowed}

    def caller(self) -> str:
        """How Key Vault names a caller in its errors: ``appid=..;oid=..;iss=..``."""
        return f"appid={self.app_id};oid={self.object_id};iss={self.issuer}"


@dataclass
class App:
    """A service principal of one tenant that can use the client-credentials grant."""

    tenant_id: str
    client_id: str
    object_id: str
    secret: str | None = None  # None: any secret is accepted
    display_name: str = ""
    # federated identity credentials: {issuer, subject, audience} (see federation.py)
    federated: list[dict[str, str]] = field(default_factory=list)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class IdentityBackend:
    """Tenants, applications, the signing key and the managed-identity header secret."""

    signing_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    msi_header: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    tenants: list[str] = field(default_factory=list)  # seeding order; the first is the home
    apps: dict[str, App] = field(default_factory=dict)  # "<tenant>/<client id>" lower-case
    revision: int = 0
    flows: UserFlows = field(default_factory=UserFlows)  # users, device and authorization codes
    oidc: OidcIssuer = field(default_factory=OidcIssuer)  # the stand-in for GitHub's issuer

    # --- tenants and applications -------------------------------------------------------------
    def add_tenant(self, tenant_id: str) -> App:
        """Register a tenant and its admin application (idempotent); return the admin app."""
        if tenant_id.lower() not in (t.lower() for t in self.tenants):
            self.tenants.append(tenant_id)
            self.revision += 1
        client_id = admin_client_id(tenant_id)
        app = self.apps.get(f"{tenant_id}/{client_id}".lower())
        if app is None:
            app = self.add_app(
                tenant_id,
                client_id,
                object_id=admin_object_id(tenant_id),
                secret=secrets.token_urlsafe(24),
                display_name="msticpy-provision emulator admin",
            )
        return app

    def add_app(
        self,
        tenant_id: str,
        client_id: str,
        *,
        object_id: str | None = None,
        secret: str | None = None,
        display_name: str = "",
    ) -> App:
        app = App(
            tenant_id=tenant_id,
            client_id=client_id,
            object_id=object_id or _client_object_id(tenant_id, client_id),
            secret=secret,
            display_name=display_name,
        )
        self.apps[f"{tenant_id}/{client_id}".lower()] = app
        self.revision += 1
        return app

    def knows_tenant(self, tenant_id: str) -> bool:
        return tenant_id.lower() in (t.lower() for t in self.tenants)

    def canonical_tenant(self, tenant_id: str) -> str:
        for known in self.tenants:
            if known.lower() == tenant_id.lower():
                return known
        raise TenantNotFound(tenant_id)

    @property
    def home_tenant(self) -> str | None:
        return self.tenants[0] if self.tenants else None

    def admin_app(self, tenant_id: str) -> App:
        tenant = self.canonical_tenant(tenant_id)
        return self.apps[f"{tenant}/{admin_client_id(tenant)}".lower()]

    # --- grants -----------------------------------------------------------------------------
    def client_credentials(self, tenant_id: str, client_id: str, secret: str) -> Principal:
        """The principal a client-credentials grant authenticates. Only registered applications
        sign in (AADSTS700016 otherwise); an application registered without a secret accepts
        any (the seed's analysts, whose tokens tests ask for)."""
        tenant = self.canonical_tenant(tenant_id)
        app = self.apps.get(f"{tenant}/{client_id}".lower())
        if app is None:
            raise UnauthorizedClient(client_id, tenant)
        if app.secret is not None and not hmac.compare_digest(app.secret.encode(), secret.encode()):
            raise InvalidClient(client_id)
        return Principal(tenant, app.object_id, app.client_id)

    def managed_identity(
        self, tenant_id: str, client_id: str | None = None, object_id: str | None = None
    ) -> Principal | None:
        """The tenant's admin application, or the registered app a user-assigned identity
        names (``client_id`` or ``object_id``); None when no app of the tenant matches."""
        tenant = self.canonical_tenant(tenant_id)
        if not client_id and not object_id:
            app = self.admin_app(tenant)
            return Principal(app.tenant_id, app.object_id, app.client_id)
        for app in self.apps.values():
            if app.tenant_id.lower() != tenant.lower():
                continue
            if (client_id and app.client_id.lower() == client_id.lower()) or (
                object_id and app.object_id.lower() == object_id.lower()
            ):
                return Principal(app.tenant_id, app.object_id, app.client_id)
        return None

    def trust_issuer(self, tenant_id: str, client_id: str, issuer: str, subject: str) -> None:
        """Add a federated identity credential to an application (idempotent)."""
        app = self.apps[f"{self.canonical_tenant(tenant_id)}/{client_id}".lower()]
        entry = asdict(FederatedCredential(issuer, subject))
        if entry not in app.federated:
            app.federated.append(entry)
            self.revision += 1

    def client_assertion(
        self, tenant_id: str, client_id: str, assertion: str, issuer: str
    ) -> Principal:
        """The principal a federated client assertion authenticates (client credentials with
        ``client_assertion_type`` jwt-bearer): the application, where one of its federated
        credentials matches the assertion (`OidcIssuer.check_assertion`)."""
        tenant = self.canonical_tenant(tenant_id)
        app = self.apps.get(f"{tenant}/{client_id}".lower())
        if app is None:
            raise UnauthorizedClient(client_id, tenant)
        trusted = [FederatedCredential(**f) for f in app.federated]
        self.oidc.check_assertion(assertion, issuer, trusted)
        return Principal(tenant, app.object_id, app.client_id)

    def user_principal(self, user: User, tenant_id: str, client_id: str) -> Principal:
        tenant = self.canonical_tenant(tenant_id)
        return Principal(tenant, user_object_id(tenant, user.upn), client_id, upn=user.upn)

    # --- tokens -------------------------------------------------------------------------------
    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self.signing_key.encode(), text.encode(), hashlib.sha256).digest())

    def issue(
        self, principal: Principal, audience: str, now: float | None = None
    ) -> tuple[str, int]:
        """A signed token for the principal and audience, and when it expires (epoch seconds)."""
        issued = int(time.time() if now is None else now)
        expires = issued + TOKEN_LIFETIME_S
        claims = {
            "aud": audience,
            "iss": principal.issuer,
            "iat": issued,
            "nbf": issued,
            "exp": expires,
            "appid": principal.app_id,
            "idtyp": "user" if principal.upn else "app",
            "oid": principal.object_id,
            "sub": principal.object_id,
            "tid": principal.tenant_id,
            "ver": "1.0",
        }
        if principal.upn:
            claims["upn"] = principal.upn
            claims["scp"] = "user_impersonation"
        head = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{head}.{body}.{self._sign(f'{head}.{body}')}", expires

    def verify(self, token: str, now: float | None = None) -> Principal | None:
        """The principal of a token this emulator signed and that has not expired, else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        head, body, signature = parts
        if not hmac.compare_digest(self._sign(f"{head}.{body}"), signature):
            return None
        try:
            claims = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(claims, dict) or int(claims.get("exp", 0)) < (now or time.time()):
            return None
        return Principal(
            str(claims.get("tid", "")),
            str(claims.get("oid", "")),
            str(claims.get("appid", "")),
            str(claims.get("aud", "")),
            str(claims.get("upn", "")),
        )

    # --- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "signing_key": self.signing_key,
            "msi_header": self.msi_header,
            "tenants": list(self.tenants),
            "apps": [asdict(a) for a in self.apps.values()],
            "users": self.flows.to_list(),
            "oidc": self.oidc.to_dict(),
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        if not data:
            return
        self.signing_key = data["signing_key"]
        self.msi_header = data["msi_header"]
        self.tenants = list(data.get("tenants", []))
        self.apps = {f"{a['tenant_id']}/{a['client_id']}".lower(): App(**a) for a in data["apps"]}
        self.flows.load_list(list(data.get("users") or []))
        self.oidc.load_dict(dict(data.get("oidc") or {}))
