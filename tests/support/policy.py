"""Helpers of the policy suites (tests/policy): ARM requests through the ML management client's
pipeline (the SDK's own transport, bearer policy and TLS), as the product sends them."""

from __future__ import annotations

from typing import Any

from azure.core.rest import HttpRequest

from provision.emulator import Emulator
from support.clients import ml_client

API = "2023-04-01"
EXEMPTIONS_API = "2022-07-01-preview"
AUTHZ = "/providers/Microsoft.Authorization"
BUILTIN = AUTHZ + "/policyDefinitions/"
SECRETS_EXPIRE = "98728c90-32c7-4049-8429-847dc0f4fe37"
SECRETS_MAX_VALIDITY = "342e8053-e12e-4c44-be01-c3c2f318400f"
IDLE_SHUTDOWN = "679ddf89-ab8f-48a5-9029-e76054077449"


def arm(
    emu: Emulator,
    method: str,
    url: str,
    body: Any = None,
    api: str = API,
    **params: str,
) -> Any:
    """One ARM request; the azure-core response (status_code, json())."""
    ml = ml_client(emu, url.split("/")[2] if url.startswith("/subscriptions/") else "x")
    return ml._send_request(
        HttpRequest(method, url, params={"api-version": api, **params}, json=body)
    )


def assign(
    emu: Emulator,
    scope: str,
    name: str,
    definition: str,
    effect: str = "Deny",
    display: str | None = None,
    mode: str = "Default",
    **params: Any,
) -> Any:
    target = definition if definition.startswith("/") else BUILTIN + definition
    values = {k: {"value": v} for k, v in {**params, "effect": effect}.items()}
    props = {
        "displayName": display or name,
        "policyDefinitionId": target,
        "parameters": values,
        "enforcementMode": mode,
    }
    return arm(emu, "PUT", f"{scope}{AUTHZ}/policyAssignments/{name}", {"properties": props})
