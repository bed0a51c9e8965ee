"""An OIDC issuer standing in for GitHub Actions', and Entra's check of a federated assertion.

GitHub Actions hands a job an ID token on request: ``GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=
api://AzureADTokenExchange`` with ``Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`` answers
``{"value": "<JWT>"}`` (actions/toolkit ``packages/core/src/oidc-utils.ts``), an RS256 token whose
``iss`` is the issuer, ``sub`` the job's context (``repo:OWNER/REPO:environment:NAME``) and
``aud`` the audience asked for; its keys are at the issuer's ``jwks_uri``
(``/.well-known/openid-configuration``). Entra exchanges such a token (a ``client_assertion``)
for an application's access token when one of the application's federated identity credentials
names the token's issuer, subject and audience exactly (case-sensitive).

Here the emulator signs as GitHub's issuer (``iss`` is ``https://token.actions.githubusercontent.com``,
so the seeded federated credentials read as real ones do) with a key of its own, published at
``https://<emulator>/_oidc/.well-known/jwks``; each request token the emulator hands out
(`request_token`) stands for one job context, so a test can ask for a token of another subject.
The RSA key is kept in the emulator's state (PEM), so tokens survive a restart.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from provision.emulator.identity.exceptions import AssertionInvalid, FederatedAssertionRefused

__all__ = [
    "EXCHANGE_AUDIENCE",
    "GITHUB_ISSUER",
    "WORKFLOW_SUBJECT",
    "FederatedCredential",
    "OidcIssuer",
]

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"  # what Entra expects a federated token's aud to be
# The job context the seeded applications trust: the onboarding workflow's environment.
WORKFLOW_SUBJECT = "repo:msticpy-provision/fleet:environment:production"
_BAD_SIGNATURE = "Client assertion failed signature validation."
TOKEN_LIFETIME_S = 300  # GitHub's ID tokens are short-lived (5 minutes)


@dataclass(frozen=True)
class FederatedCredential:
    """One federated identity credential of an application: who may sign in as it."""

    issuer: str
    subject: str
    audience: str = EXCHANGE_AUDIENCE


@dataclass
class OidcIssuer:
    """The issuer's key and the job contexts its request tokens stand for."""

    key_pem: str = ""
    kid: str = field(default_factory=lambda: secrets.token_hex(8))
    request_tokens: dict[str, str] = field(default_factory=dict)  # request token -> subject
    _loaded: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict, repr=False)

    def _key(self) -> rsa.RSAPrivateKey:
        cached = self._loaded.get(self.key_pem)
        if cached is not None:
            return cached  # loading checks the key: tens of milliseconds each time
        if not self.key_pem:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.key_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")
        loaded = serialization.load_pem_private_key(self.key_pem.encode(), password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        self._loaded = {self.key_pem: loaded}
        return loaded

    def request_token(self, subject: str = WORKFLOW_SUBJECT) -> str:
        """A bearer token for the ID-token endpoint, standing for a job with this subject."""
        for token, known in self.request_tokens.items():
            if known == subject:
                return token
        token = secrets.token_urlsafe(32)
        self.request_tokens[token] = subject
        return token

    def subject_of(self, request_token: str) -> str | None:
        for token, subject in self.request_tokens.items():
            if secrets.compare_digest(token, request_token):
                return subject
        return None

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self._key().public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def issue(self, issuer: str, subject: str, audience: str, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": issuer,
            "sub": subject,
            "aud": audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + TOKEN_LIFETIME_S,
            "jti": secrets.token_hex(16),
            "repository": subject.split(":")[1] if subject.startswith("repo:") else "",
        }
        return jwt.encode(claims, self._key(), algorithm="RS256", headers={"kid": self.kid})

    def check_assertion(
        self, assertion: str, issuer: str, trusted: list[FederatedCredential]
    ) -> None:
        """Entra's checks of a client assertion from a federated issuer, in its order: a token
        of a trusted issuer (AADSTS700211), signed by its key (AADSTS700027), within its
        lifetime (AADSTS700024), for the exchange audience (AADSTS700212), and a credential
        matching issuer, subject and audience exactly (AADSTS70021)."""
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AssertionInvalid(
                700027, "Client assertion failed signature validation."
            ) from None
        iss, sub = str(unverified.get("iss", "")), str(unverified.get("sub", ""))
        aud = unverified.get("aud", "")
        audience = aud if isinstance(aud, str) else ",".join(str(a) for a in aud)
        if not any(c.issuer == iss for c in trusted):
            raise AssertionInvalid(
                700211,
                f"No matching federated identity record found for presented assertion "
                f"issuer '{iss}'.",
            )
        if iss != issuer:
            raise AssertionInvalid(700027, _BAD_SIGNATURE)
        try:
            jwt.decode(
                assertion,
                self._key().public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise AssertionInvalid(
                700024, "Client assertion is not within its valid time range."
            ) from None
        except jwt.PyJWTError:
            raise AssertionInvalid(
                700027, "Client assertion failed signature validation."
            ) from None
        if not any(c.issuer == iss and c.audience == audience for c in trusted):
            raise AssertionInvalid(
                700212,
                f"No matching federated identity record found for presented assertion "
                f"audience '{audience}'.",
            )
        if not any(
            c.issuer == iss and c.audience == audience and c.subject == sub for c in trusted
        ):
            raise FederatedAssertionRefused(iss, sub, audience)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_pem": self.key_pem,
            "kid": self.kid,
            "request_tokens": dict(self.request_tokens),
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        self.key_pem = str(data.get("key_pem", ""))
        self.kid = str(data.get("kid") or self.kid)
        self.request_tokens = dict(data.get("request_tokens") or {})
