"""Identity routes. The authority lives at the server's root, as ``login.microsoftonline.com``
does at its host's, because clients take the tenant from the first path segment of an authority
(msal's ``canonicalize``; Key Vault's challenge parser). These patterns cannot be Azure Files
paths: Files has no POST, and ``v2.0`` is not a valid share name."""

from __future__ import annotations

import re

__all__ = ["MSI_PREFIX", "OIDC_PREFIX", "OPERATIONS", "USER_PREFIX", "match", "match_login_host"]

MSI_PREFIX = "/_msi"
OIDC_PREFIX = "/_oidc"  # the stand-in for GitHub Actions' OIDC issuer (federation.py)
USER_PREFIX = "/_user"  # the pages a user signs in at: the device code page (users.py)
_TENANT = r"/(?P<tenant>[^/_][^/]*)"

ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile("^" + pattern + "$"), op)
    for method, pattern, op in (
        ("GET", _TENANT + r"/v2\.0/\.well-known/openid-configuration", "GetOpenIdConfiguration"),
        ("POST", _TENANT + r"/oauth2/v2\.0/token", "GetToken"),
        ("POST", _TENANT + r"/oauth2/v2\.0/devicecode", "StartDeviceCode"),
        ("GET", _TENANT + r"/oauth2/v2\.0/authorize", "Authorize"),
        ("POST", _TENANT + r"/oauth2/v2\.0/authorize", "SignInAndAuthorize"),
        ("GET", USER_PREFIX + r"/devicelogin", "DeviceLoginPage"),
        ("POST", USER_PREFIX + r"/devicelogin", "EnterDeviceCode"),
        ("GET", OIDC_PREFIX + r"/\.well-known/openid-configuration", "GetIssuerConfiguration"),
        ("GET", OIDC_PREFIX + r"/\.well-known/jwks", "GetIssuerKeys"),
        ("GET", OIDC_PREFIX + r"/idtoken", "GetWorkflowIdToken"),
        ("GET", MSI_PREFIX + _TENANT + r"/token", "GetManagedIdentityToken"),
    )
)

# Answered only at login.microsoftonline.com (through the emulator's proxy): at the path-style
# root, GET /common/discovery/instance would be a file of a storage account named "common".
# msal reads it as GET https://login.microsoftonline.com/common/discovery/instance
# ?api-version=1.1&authorization_endpoint=... (msal ``application._get_instance_metadata``; with
# api-version 1.0 for authorities it does not know, ``authority._instance_discovery``).
LOGIN_HOST_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"^/common/discovery/instance$"), "GetInstanceDiscovery"),
)

OPERATIONS: tuple[str, ...] = tuple(op for _, _, op in ROUTES + LOGIN_HOST_ROUTES)


def match(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The operation and parameters of an identity request; None when the path is not one."""
    if not (path.startswith(("/_msi/", "/_oidc/", "/_user/")) or "/v2.0/" in path):
        return None  # the common case, decided without a regular expression
    for route_method, pattern, op in ROUTES:
        found = pattern.match(path)
        if found is not None and route_method == method:
            return op, found.groupdict()
    return None


def match_login_host(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """`match`, plus the routes only Entra's own host answers (instance discovery)."""
    for route_method, pattern, op in LOGIN_HOST_ROUTES:
        found = pattern.match(path)
        if found is not None and route_method == method:
            return op, found.groupdict()
    return match(method, path)
