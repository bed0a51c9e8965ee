"""STATE_DIR/env.sh: the environment that points unmodified Azure SDK code at the emulator.

``source STATE_DIR/env.sh`` sets, for every process started from that shell:

- ``REQUESTS_CA_BUNDLE`` (sync clients: requests reads it) and ``SSL_CERT_FILE`` (async clients:
  aiohttp builds its TLS context with ``ssl.create_default_context()``, which OpenSSL points at
  that file) to a bundle of the public roots plus the emulator's CA;
- ``HTTPS_PROXY`` (and ``https_proxy``) to the emulator's proxy, which answers Azure's own
  hostnames (``<vault>.vault.azure.net``, ``<account>.file.core.windows.net``,
  ``management.azure.com``, ``login.microsoftonline.com``) and refuses every other host with
  502: from a shell that sourced env.sh, HTTPS clients that honour the variable (requests,
  aiohttp, so every Azure SDK client) reach the emulator, never real Azure or anything else
  (see `provision.emulator.proxy`); ``NO_PROXY`` (and ``no_proxy``) lists the loopback
  addresses, so the path-style endpoints and the managed-identity endpoint are called directly;
- ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``: azure-identity's ManagedIdentityCredential (and
  so ``DefaultAzureCredential()``) then speaks the App Service managed-identity protocol to the
  emulator (azure-identity ``_credentials/managed_identity.py`` picks App Service when both are
  set and ``IDENTITY_SERVER_THUMBPRINT`` is not); the token is for the home tenant's admin
  application. It unsets the variables that would make ``DefaultAzureCredential`` pick an
  environment or workload-identity credential first;
- ``ARM_CLOUD_METADATA_URL``: the emulator's cloud metadata document (azure-cli, azure-ai-ml);
- ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``: what GitHub Actions
  gives a job with ``permissions: id-token: write``, here for the emulator's stand-in issuer
  (`provision.emulator.identity.federation`), so ``--auth github-oidc`` runs as in a workflow:
  every seeded tenant's admin application trusts that issuer and the job's subject.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

__all__ = [
    "CA_BUNDLE_NAME",
    "ENV_NAME",
    "METADATA_API_VERSION",
    "NO_PROXY",
    "env_script",
    "write_ca_bundle",
]

ENV_NAME = "env.sh"
CA_BUNDLE_NAME = "ca-bundle.pem"
METADATA_API_VERSION = "2022-09-01"
# Loopback, as requests and aiohttp compare it (urllib's proxy_bypass_environment: host names
# and IP literals, with or without a port).
NO_PROXY = "127.0.0.1,localhost,::1"
_SHADOWING = (
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME",
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
)


def write_ca_bundle(ca_cert: Path, bundle: Path) -> None:
    """The public roots (certifi's bundle) followed by the emulator's CA."""
    parts = []
    try:
        import certifi

        parts.append(Path(certifi.where()).read_text(encoding="utf-8"))
    except (ImportError, OSError):
        pass
    parts.append(ca_cert.read_text(encoding="utf-8"))
    text = "\n".join(p.rstrip("\n") for p in parts) + "\n"
    if not bundle.exists() or bundle.read_text(encoding="utf-8") != text:
        tmp = bundle.with_name(f".{bundle.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(bundle)


def env_script(endpoints: dict[str, Any]) -> str:
    """The lines of env.sh for an emulator's endpoints."""
    q = shlex.quote
    msi = endpoints["managed_identity"]
    lines = [
        "# msticpy-provision emulator: `source` this file to point Azure SDK code at it.",
        f"export REQUESTS_CA_BUNDLE={q(endpoints['ca_bundle'])}",
        f"export SSL_CERT_FILE={q(endpoints['ca_bundle'])}",
        f"export ARM_CLOUD_METADATA_URL={q(endpoints['cloud_metadata'])}",
    ]
    if endpoints.get("proxy"):
        lines += [
            "# Azure's own hostnames go to the emulator's proxy; every other HTTPS host is",
            "# refused there (502). Loopback (the path-style endpoints) is called directly.",
            f"export HTTPS_PROXY={q(endpoints['proxy'])} https_proxy={q(endpoints['proxy'])}",
            f"export NO_PROXY={NO_PROXY} no_proxy={NO_PROXY}",
        ]
    if msi.get("endpoint"):
        lines += [
            f"# DefaultAzureCredential(): managed identity of tenant {msi['tenant_id']}",
            f"unset {' '.join(_SHADOWING)}",
            f"export IDENTITY_ENDPOINT={q(msi['endpoint'])}",
            f"export IDENTITY_HEADER={q(msi['header'])}",
        ]
    oidc = endpoints.get("github_oidc") or {}
    if oidc.get("request_url"):
        lines += [
            "# --auth github-oidc: the workflow's OIDC token, from the emulator's stand-in issuer",
            f"export ACTIONS_ID_TOKEN_REQUEST_URL={q(oidc['request_url'])}",
            f"export ACTIONS_ID_TOKEN_REQUEST_TOKEN={q(oidc['request_token'])}",
        ]
    return "\n".join(lines) + "\n"
