"""Authentication as Azure checks it: bearer tokens, and Shared Key signatures for Azure Files.

The emulator has one bearer token (random, kept in the state so that it survives a restart);
`EmulatorCredential` hands it out for every scope and tenant. Shared Key requests are verified
by recomputing the HMAC-SHA256 signature over the string-to-sign that the Storage REST
documentation ("Authorize with Shared Key") defines, with the account's key(s).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

__all__ = [
    "EmulatorCredential",
    "SharedKeyResult",
    "bearer_token",
    "canonical_header_order",
    "new_account_key",
    "new_token",
    "string_to_sign",
    "verify_shared_key",
]

TOKEN_LIFETIME_S = 3600


def new_token() -> str:
    return "emu." + secrets.token_urlsafe(32)


def new_account_key() -> str:
    """A storage account key: 64 random bytes, base64 (the shape Azure hands out)."""
    return base64.b64encode(secrets.token_bytes(64)).decode("ascii")


class EmulatorCredential:
    """A TokenCredential that returns the emulator's bearer token for any scope and tenant.

    For a process that only has endpoints.json:
    ``EmulatorCredential(json.loads(path.read_text())["token"])``.
    """

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + TOKEN_LIFETIME_S)

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        now = int(time.time())
        return AccessTokenInfo(
            self._token,
            now + TOKEN_LIFETIME_S,
            token_type="Bearer",  # noqa: S106 (a scheme, not a password)
            refresh_on=now + TOKEN_LIFETIME_S // 2,
        )

    def close(self) -> None:
        """Nothing to release; present so the credential can be used like azure-identity's."""

    def __enter__(self) -> EmulatorCredential:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def tokens_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


# --- Shared Key --------------------------------------------------------------------------------
#
# x-ms-* headers are ordered the way the storage service compares strings: a culture-aware
# comparison in which '-' and "'" carry no primary weight (so "x-ms-a-b" and "x-ms-ab" differ only
# at the secondary level), case is ignored, and punctuation sorts before digits before letters.
# The primary key is the sequence of weights of the weighted characters; the secondary key, used
# only on a primary tie, compares the two strings position by position with hyphen and apostrophe
# weighing more than any other character (which weighs nothing at that level).

_PRIMARY_ORDER = "!#$%&*.^_`|~+0123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY = {ch: i + 1 for i, ch in enumerate(_PRIMARY_ORDER)}
_SECONDARY = {"'": 1, "-": 2}


def _header_sort_key(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    lowered = name.lower()
    primary = tuple(_PRIMARY.get(ch, 0) for ch in lowered if ch not in _SECONDARY)
    secondary = tuple(_SECONDARY.get(ch, 0) for ch in lowered)
    return primary, secondary


def canonical_header_order(names: list[str]) -> list[str]:
    return sorted(names, key=_header_sort_key)


_SIGNED_STANDARD_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)


def string_to_sign(
    method: str, headers: dict[str, str], account: str, raw_path: str, query_string: str
) -> str:
    """The Shared Key string-to-sign for the Blob/Queue/File services (version 2015-02-21+).

    ``headers`` has lower-case names. ``raw_path`` is the URI path as sent (still encoded); with
    path-style addressing it begins with the account name, which the canonicalized resource
    therefore repeats: ``/<account>/<account>/<share>/...``.
    """
    lines = [method.upper()]
    for name in _SIGNED_STANDARD_HEADERS:
        value = headers.get(name, "")
        if name == "content-length" and value == "0":
            value = ""
        if name == "date" and "x-ms-date" in headers:
            value = ""
        lines.append(value)
    out = "\n".join(lines) + "\n"
    ms_names = canonical_header_order([n for n in headers if n.startswith("x-ms-")])
    out += "".join(f"{n}:{headers[n]}\n" for n in ms_names)
    out += f"/{account}{raw_path}"
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        params.setdefault(key.lower(), []).append(value)
    for key in sorted(params):
        out += f"\n{key}:{','.join(sorted(params[key]))}"
    return out


def sign(key_b64: str, text: str) -> str:
    key = base64.b64decode(key_b64)
    digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class SharedKeyResult:
    """Outcome of a Shared Key check: ok, or why not (and the string the server signed)."""

    def __init__(self, ok: bool, reason: str = "", signed: str = "") -> None:
        self.ok = ok
        self.reason = reason
        self.signed = signed


MAX_CLOCK_SKEW_S = 15 * 60


def verify_shared_key(
    authorization: str,
    *,
    account: str,
    keys: list[str],
    method: str,
    headers: dict[str, str],
    raw_path: str,
    query_string: str,
    now: float | None = None,
) -> SharedKeyResult:
    """Check ``Authorization: SharedKey <account>:<signature>`` against the account's keys."""
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme != "SharedKey":
        return SharedKeyResult(False, f"The authorization scheme {scheme!r} is not supported.")
    signer, _, signature = credential.strip().rpartition(":")
    if signer != account:
        return SharedKeyResult(
            False,
            f"The account {signer!r} used to sign does not match "
            f"the account {account!r} in the request URI.",
        )
    date_text = headers.get("x-ms-date") or headers.get("date")
    if not date_text:
        return SharedKeyResult(False, "Request date header not specified (x-ms-date or Date).")
    try:
        sent = parsedate_to_datetime(date_text).timestamp()
    except (TypeError, ValueError):
        return SharedKeyResult(False, f"The date header {date_text!r} is not an RFC 1123 date.")
    if abs((time.time() if now is None else now) - sent) > MAX_CLOCK_SKEW_S:
        return SharedKeyResult(
            False,
            "Request date header too old or too far in the future: "
            f"{date_text!r} (15 minutes allowed).",
        )
    text = string_to_sign(method, headers, account, raw_path, query_string)
    try:
        base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return SharedKeyResult(False, "The signature is not valid base64.", text)
    for key in keys:
        if hmac.compare_digest(sign(key, text), signature):
            return SharedKeyResult(True, signed=text)
    return SharedKeyResult(
        False,
        f"The MAC signature found in the HTTP request '{signature}' is not the same as any "
        f"computed signature. Server used following string to sign: '{text}'.",
        text,
    )
