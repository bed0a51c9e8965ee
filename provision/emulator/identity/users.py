"""Users and the flows they sign in with, as Entra ID runs them. No HTTP.

- **Users** have a home tenant and are members or guests of further tenants; a user's object id
  differs per tenant (a guest is its own object in the resource tenant), so role assignments
  are per tenant as in Entra.
- **Device code** (RFC 8628, Entra's ``/devicecode``): the client gets a device code and a user
  code; until a user enters the user code (`approve_device_code`, the emulator's stand-in for
  the page at ``verification_uri``) polling answers ``authorization_pending``.
- **Authorization code with PKCE** (RFC 7636, S256 only): the sign-in page issues a one-time
  code bound to client, redirect URI, challenge, tenant and nonce.
- **Refresh tokens** are bound to the user and the client, not to a tenant: redeemed at another
  tenant's token endpoint they give that tenant's tokens where the user is member or guest, and
  AADSTS50020 where not (Entra's multi-tenant refresh tokens, which msal redeems silently).

Refresh tokens and id tokens are signed with the authority's key (HS256), so they survive a
restart as the emulator's access tokens do; device and authorization codes live in memory only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from provision.emulator.identity.exceptions import (
    AuthorizationPending,
    ExpiredToken,
    InvalidGrant,
    InvalidRequest,
    UserNotInTenant,
)

__all__ = [
    "ADMIN_USER",
    "DEVICE_CODE_INTERVAL_S",
    "DEVICE_CODE_LIFETIME_S",
    "AuthCode",
    "DeviceCode",
    "User",
    "UserFlows",
    "user_object_id",
]

# Entra's device code answer: 15 minutes to enter the code, poll every 5 seconds.
DEVICE_CODE_LIFETIME_S = 900
DEVICE_CODE_INTERVAL_S = 5
AUTH_CODE_LIFETIME_S = 600
ADMIN_USER = "admin@msticpyprovision.onmicrosoft.com"
_NAMESPACE = uuid.UUID("6c1d64a4-98a4-4f7b-a0b5-0f3c7a0e2d51")
# The identity provider a user of an Entra tenant signs in with, as AADSTS50020 names it.
_IDP = "https://sts.windows.net/{tenant}/"


def user_object_id(tenant_id: str, upn: str) -> str:
    """The object id of a user in a tenant (its own, or the guest object in another one)."""
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id.lower()}/user/{upn.lower()}"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class User:
    upn: str
    home_tenant: str
    tenants: list[str] = field(default_factory=list)  # member (home) and guest tenants
    display_name: str = ""

    def in_tenant(self, tenant_id: str) -> bool:
        return tenant_id.lower() in {t.lower() for t in [self.home_tenant, *self.tenants]}


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    tenant_id: str
    scope: str
    expires_at: float
    upn: str | None = None  # set when a user entered the code


@dataclass
class AuthCode:
    code: str
    client_id: str
    tenant_id: str
    redirect_uri: str
    challenge: str
    scope: str
    nonce: str
    upn: str
    expires_at: float


@dataclass
class UserFlows:
    """Users, and the device and authorization codes in flight. Thread-safe."""

    users: dict[str, User] = field(default_factory=dict)  # upn, lower-case
    device_code_interval_s: int = DEVICE_CODE_INTERVAL_S
    _device_codes: dict[str, DeviceCode] = field(default_factory=dict)
    _auth_codes: dict[str, AuthCode] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- users --------------------------------------------------------------------------------
    def add_user(self, upn: str, home_tenant: str, display_name: str = "") -> User:
        user = self.users.get(upn.lower())
        if user is None:
            user = User(upn, home_tenant, display_name=display_name or upn.split("@")[0])
            self.users[upn.lower()] = user
        return user

    def add_membership(self, upn: str, tenant_id: str) -> str:
        """Make the user a member or guest of the tenant; its object id there."""
        user = self.user(upn)
        if not user.in_tenant(tenant_id):
            user.tenants.append(tenant_id)
        return user_object_id(tenant_id, user.upn)

    def user(self, upn: str) -> User:
        user = self.users.get(upn.lower())
        if user is None:
            raise InvalidRequest(
                f"AADSTS50034: The user account {upn} does not exist in the directory.",
                status=400,
            )
        return user

    def member_of(self, upn: str, tenant_id: str, client_id: str) -> User:
        """The user, where it may sign in to the tenant; AADSTS50020 where it is not in it."""
        user = self.user(upn)
        if not user.in_tenant(tenant_id):
            raise UserNotInTenant(
                user.upn, _IDP.format(tenant=user.home_tenant), tenant_id, client_id
            )
        return user

    # --- device code --------------------------------------------------------------------------
    def start_device_code(self, tenant_id: str, client_id: str, scope: str) -> DeviceCode:
        code = DeviceCode(
            device_code=secrets.token_urlsafe(48),
            # 9 characters from an alphabet without look-alikes, as Entra's user codes
            user_code="".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9)),
            client_id=client_id,
            tenant_id=tenant_id,
            scope=scope,
            expires_at=time.time() + DEVICE_CODE_LIFETIME_S,
        )
        with self._lock:
            self._device_codes[code.device_code] = code
        return code

    def approve_device_code(self, user_code: str, upn: str) -> DeviceCode:
        """The user step: a user signs in at the verification page and enters the user code."""
        with self._lock:
            for code in self._device_codes.values():
                if hmac.compare_digest(code.user_code, user_code.strip().upper()):
                    self.member_of(upn, code.tenant_id, code.client_id)
                    code.upn = self.user(upn).upn
                    return code
        raise InvalidGrant(
            "AADSTS70000: The code you entered has expired or is not valid. Try again."
        )

    def redeem_device_code(self, device_code: str, client_id: str) -> DeviceCode:
        """The token the polling client gets: pending until approved, then once."""
        with self._lock:
            code = self._device_codes.get(device_code)
            if code is None or code.client_id != client_id:
                raise InvalidGrant("AADSTS70000: The provided value for 'device_code' is invalid.")
            if time.time() > code.expires_at:
                del self._device_codes[device_code]
                raise ExpiredToken()
            if code.upn is None:
                raise AuthorizationPending()
            del self._device_codes[device_code]
            return code

    # --- authorization code with PKCE ---------------------------------------------------------
    def issue_auth_code(self, upn: str, params: dict[str, str], tenant_id: str) -> AuthCode:
        if params.get("code_challenge_method", "plain") != "S256" or not params.get(
            "code_challenge"
        ):
            raise InvalidRequest(
                "AADSTS501491: Invalid size of Code_Challenge parameter: a PKCE code_challenge "
                "with code_challenge_method S256 is required."
            )
        user = self.member_of(upn, tenant_id, params.get("client_id", ""))
        code = AuthCode(
            code=secrets.token_urlsafe(48),
            client_id=params.get("client_id", ""),
            tenant_id=tenant_id,
            redirect_uri=params.get("redirect_uri", ""),
            challenge=params["code_challenge"],
            scope=params.get("scope", ""),
            nonce=params.get("nonce", ""),
            upn=user.upn,
            expires_at=time.time() + AUTH_CODE_LIFETIME_S,
        )
        with self._lock:
            self._auth_codes[code.code] = code
        return code

    def redeem_auth_code(self, form: dict[str, str]) -> AuthCode:
        """A code is redeemed once, by its client, at its redirect URI, with the PKCE verifier
        whose S256 digest is the challenge (AADSTS501481 otherwise)."""
        with self._lock:
            code = self._auth_codes.pop(form.get("code", ""), None)
        if code is None or time.time() > code.expires_at:
            raise InvalidGrant(
                "AADSTS70008: The provided authorization code or refresh token has expired or "
                "has already been redeemed. Send a new interactive authorization request."
            )
        if code.client_id != form.get("client_id") or code.redirect_uri != form.get("redirect_uri"):
            raise InvalidGrant(
                "AADSTS50148: The code_verifier does not match the code_challenge supplied in "
                "the authorization request (client or redirect URI differ)."
            )
        verifier = form.get("code_verifier", "")
        if not hmac.compare_digest(
            _b64(hashlib.sha256(verifier.encode()).digest()), code.challenge
        ):
            raise InvalidGrant(
                "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in "
                "the authorization request."
            )
        return code

    # --- refresh tokens and id tokens ---------------------------------------------------------
    @staticmethod
    def _signed(key: str, claims: dict[str, Any], prefix: str) -> str:
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        mac = _b64(hmac.new(key.encode(), f"{prefix}.{body}".encode(), hashlib.sha256).digest())
        return f"{prefix}.{body}.{mac}"

    def refresh_token(self, key: str, upn: str, client_id: str) -> str:
        """A refresh token for the user and client (no tenant: usable in any tenant the user
        is in). Opaque to clients, as Entra's are."""
        return self._signed(key, {"upn": upn, "cid": client_id, "iat": int(time.time())}, "rt")

    def redeem_refresh_token(self, key: str, token: str, client_id: str) -> str:
        """The user a refresh token speaks for; invalid_grant for anything else."""
        prefix, _, rest = token.partition(".")
        body, _, mac = rest.partition(".")
        good = _b64(hmac.new(key.encode(), f"{prefix}.{body}".encode(), hashlib.sha256).digest())
        if prefix != "rt" or not hmac.compare_digest(good, mac):
            raise InvalidGrant("AADSTS9002313: Invalid request. Request is malformed or invalid.")
        claims = json.loads(_unb64(body))
        if claims.get("cid") != client_id:
            raise InvalidGrant(
                "AADSTS70000: The refresh token was issued to a different client id."
            )
        return str(claims["upn"])

    def id_token(
        self, key: str, user: User, tenant_id: str, client_id: str, issuer: str, nonce: str = ""
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": client_id,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.display_name,
            "oid": user_object_id(tenant_id, user.upn),
            "preferred_username": user.upn,
            "sub": _b64(hashlib.sha256(f"{user.upn}/{client_id}".encode()).digest()),
            "tid": tenant_id,
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        head = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        mac = _b64(hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
        return f"{head}.{body}.{mac}"

    @staticmethod
    def client_info(user: User) -> str:
        """msal's ``client_info``: the user's object id and home tenant (its home account)."""
        info = {"uid": user_object_id(user.home_tenant, user.upn), "utid": user.home_tenant}
        return _b64(json.dumps(info).encode())

    # --- persistence --------------------------------------------------------------------------
    def to_list(self) -> list[dict[str, Any]]:
        return [
            {
                "upn": u.upn,
                "home_tenant": u.home_tenant,
                "tenants": list(u.tenants),
                "display_name": u.display_name,
            }
            for u in self.users.values()
        ]

    def load_list(self, data: list[dict[str, Any]]) -> None:
        self.users = {str(u["upn"]).lower(): User(**u) for u in data}
