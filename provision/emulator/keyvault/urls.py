"""Key Vault routes: which (method, path below ``/_kv/<vault>``) is which REST operation."""

from __future__ import annotations

import re

from provision.emulator.keyvault.exceptions import KeyVaultError
from provision.emulator.wire import MethodNotAllowed, match_route

__all__ = ["OPERATIONS", "resolve"]

_NAME = r"(?P<name>[^/]+)"
_VERSION = r"(?:/(?P<version>[^/]*))?"

# (method, path pattern, operation). The first match wins, so fixed words come before names.
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern + r"/?$"), op)
    for method, pattern, op in (
        ("GET", r"^/secrets", "GetSecrets"),
        ("POST", r"^/secrets/restore", "RestoreSecret"),
        ("GET", rf"^/secrets/{_NAME}/versions", "GetSecretVersions"),
        ("POST", rf"^/secrets/{_NAME}/backup", "BackupSecret"),
        ("PUT", rf"^/secrets/{_NAME}", "SetSecret"),
        ("DELETE", rf"^/secrets/{_NAME}", "DeleteSecret"),
        ("GET", rf"^/secrets/{_NAME}{_VERSION}", "GetSecret"),
        ("PATCH", rf"^/secrets/{_NAME}{_VERSION}", "UpdateSecret"),
        ("GET", r"^/deletedsecrets", "GetDeletedSecrets"),
        ("POST", rf"^/deletedsecrets/{_NAME}/recover", "RecoverDeletedSecret"),
        ("GET", rf"^/deletedsecrets/{_NAME}", "GetDeletedSecret"),
        ("DELETE", rf"^/deletedsecrets/{_NAME}", "PurgeDeletedSecret"),
    )
)

OPERATIONS: tuple[str, ...] = tuple(dict.fromkeys(op for _, _, op in ROUTES))


def resolve(method: str, path: str) -> tuple[str, dict[str, str]]:
    """The operation name and path parameters of a request, or a KeyVaultError."""
    try:
        found = match_route(ROUTES, method, path)
    except MethodNotAllowed:
        raise KeyVaultError(
            f"The HTTP method {method} is not allowed on {path}.",
            status=405,
            code="MethodNotAllowed",
        ) from None
    if found is not None:
        return found
    raise KeyVaultError(
        f"The requested path {path} is not a Key Vault secrets operation.",
        status=404,
        code="NotFound",
    )
