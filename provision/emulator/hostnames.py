"""Azure's public-cloud hostnames that the emulator answers, and the service behind each.

Code written for Azure calls ``https://<vault>.vault.azure.net``,
``https://<account>.file.core.windows.net``, ``https://management.azure.com`` and
``https://login.microsoftonline.com``. Through the emulator's HTTPS proxy (`proxy`) those
requests reach the same services as the path-style endpoints on 127.0.0.1: this module says
which service and which vault or account a host names. It is pure (no HTTP, no DNS): the
proxy decides from the name alone, and a host that is not here is refused without being
resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ARM_HOST",
    "CERTIFICATE_NAMES",
    "FILES_SUFFIX",
    "LOGIN_HOST",
    "VAULT_SUFFIX",
    "HostRoute",
    "authority_url",
    "files_url",
    "route_host",
    "vault_url",
]

ARM_HOST = "management.azure.com"
LOGIN_HOST = "login.microsoftonline.com"
VAULT_SUFFIX = ".vault.azure.net"
FILES_SUFFIX = ".file.core.windows.net"
# The names on the proxy's one leaf certificate: a wildcard covers exactly one label (RFC 6125
# 6.4.3), which is what a vault or storage account name is.
CERTIFICATE_NAMES = ("*" + VAULT_SUFFIX, "*" + FILES_SUFFIX, ARM_HOST, LOGIN_HOST)
# Key Vault names: 3-24 characters, letters, digits and '-', a letter first (Microsoft Learn,
# "Key Vault naming"); storage accounts: 3-24 lower-case letters and digits. Host names are
# case-insensitive, so both are matched lower-cased.
_VAULT = re.compile(r"[a-z][a-z0-9-]{2,23}")
_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")


@dataclass(frozen=True)
class HostRoute:
    """The service a public hostname names, and its vault or storage account ("" for ARM and
    the authority)."""

    service: str  # "arm", "keyvault", "files" or "identity", as the dispatcher names them
    scope: str = ""


def _bare(host: str) -> str:
    """The host name without a port or a trailing dot, lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 literal is never one of Azure's names
        return host
    name, _, _port = host.partition(":")
    return name.rstrip(".")


def route_host(host: str) -> HostRoute | None:
    """The service behind a public-cloud host name (``Host`` header or CONNECT target, with or
    without a port); None for every host the emulator does not answer."""
    name = _bare(host)
    if name == ARM_HOST:
        return HostRoute("arm")
    if name == LOGIN_HOST:
        return HostRoute("identity")
    if name.endswith(VAULT_SUFFIX):
        vault = name[: -len(VAULT_SUFFIX)]
        if _VAULT.fullmatch(vault):
            return HostRoute("keyvault", vault)
        return None
    if name.endswith(FILES_SUFFIX):
        account = name[: -len(FILES_SUFFIX)]
        if _ACCOUNT.fullmatch(account):
            return HostRoute("files", account)
    return None


def vault_url(base_url: str, prefix: str, name: str, public: bool) -> str:
    """A vault's URI as a response to this request names it: Azure's for a request that came
    by a public hostname, the path-style one below `base_url` otherwise."""
    return f"https://{name}{VAULT_SUFFIX}/" if public else f"{base_url}{prefix}/{name}/"


def files_url(base_url: str, account: str, public: bool) -> str:
    """A storage account's file endpoint, as `vault_url` does for vaults."""
    return f"https://{account}{FILES_SUFFIX}/" if public else f"{base_url}/{account}/"


def authority_url(base_url: str, public: bool) -> str:
    """The Entra authority a challenge names: Azure's own for a public-hostname request."""
    return f"https://{LOGIN_HOST}" if public else base_url
