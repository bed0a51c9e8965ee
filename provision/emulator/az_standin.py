"""A stand-in for the Azure CLI of a compute instance, signed in with its managed identity.

Azure ML compute instances ship the Azure CLI, and msticpy's ``cli`` auth method
(azure-identity's ``AzureCliCredential``) runs ``az account get-access-token --output json
--resource R [--tenant T]`` and reads ``accessToken`` and ``expires_on`` from its output
(azure-identity ``_credentials/azure_cli.py``: ``COMMAND_LINE``, ``parse_token``). The demo's
sandbox instance has no Azure CLI, so `provision.demo_analyst` puts this program on its PATH as
``az``: it answers exactly that command with a token from the managed-identity endpoint
(``IDENTITY_ENDPOINT``, ``IDENTITY_HEADER``; ``AZURE_CLIENT_ID`` names the identity), as
``az login --identity`` would, and refuses every other command with exit status 2.

Standard library only: it runs as a script with the sandbox's Python (``python -I``).
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import sys
import urllib.parse
from datetime import datetime

MSI_API_VERSION = "2019-08-01"  # the App Service protocol azure-identity speaks


def _arg(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args[:-1] else None


def main(args: list[str]) -> int:
    if args[:2] != ["account", "get-access-token"]:
        print(
            "ERROR: this compute instance's az only answers 'az account get-access-token' "
            "(msticpy-provision emulator)",
            file=sys.stderr,
        )
        return 2
    resource = _arg(args, "--resource") or _arg(args, "--scope") or ""
    resource = resource.removesuffix("/.default")
    endpoint = os.environ.get("IDENTITY_ENDPOINT")
    header = os.environ.get("IDENTITY_HEADER")
    if not endpoint or not header or not resource:
        print("ERROR: Please run 'az login' to setup account.", file=sys.stderr)
        return 1
    query = {"api-version": MSI_API_VERSION, "resource": resource}
    client_id = os.environ.get("AZURE_CLIENT_ID")
    if client_id:
        query["client_id"] = client_id
    url = urllib.parse.urlsplit(endpoint)
    if url.scheme != "https" or not url.hostname:
        print(f"ERROR: IDENTITY_ENDPOINT is not an https URL: {endpoint}", file=sys.stderr)
        return 1
    context = ssl.create_default_context(cafile=os.environ.get("REQUESTS_CA_BUNDLE"))
    # Straight to the endpoint (loopback, in NO_PROXY), as azure-identity calls it.
    connection = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=30)
    try:
        connection.request(
            "GET",
            f"{url.path}?{urllib.parse.urlencode(query)}",
            headers={"X-IDENTITY-HEADER": header},
        )
        response = connection.getresponse()
        body = json.loads(response.read())
        if response.status != 200:
            raise ValueError(f"HTTP {response.status} {body.get('error', '')}".rstrip())
    except (OSError, ValueError) as exc:
        print(f"ERROR: could not get a token: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    expires = int(body["expires_on"])
    print(
        json.dumps(
            {
                "accessToken": body["access_token"],
                "expiresOn": datetime.fromtimestamp(expires).strftime("%Y-%m-%d %H:%M:%S.%f"),
                "expires_on": expires,
                "tokenType": "Bearer",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
