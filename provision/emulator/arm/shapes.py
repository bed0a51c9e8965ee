"""What every ARM operation shares: JSON answers, resource ids, and the body of a plain
resource (``id``, ``name``, ``type``, ``location``, ``tags``, ``properties``)."""

from __future__ import annotations

import json
from typing import Any

from provision.emulator.arm.exceptions import ValidationError
from provision.emulator.arm.models import NamedResource
from provision.emulator.wire import WireRequest, WireResponse

__all__ = ["json_body", "json_response", "named_body", "rg_id", "storage_id", "vault_id"]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> WireResponse:
    out = {
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        "Expires": "-1",
    }
    out.update(headers or {})
    if body is None:
        return WireResponse(status, out)
    return WireResponse(status, out, json.dumps(body, separators=(",", ":")).encode())


def rg_id(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def storage_id(sub: str, rg: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/Microsoft.Storage/storageAccounts/{name}"


def vault_id(sub: str, rg: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/Microsoft.KeyVault/vaults/{name}"


def named_body(res: NamedResource, rtype: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{rg_id(res.subscription_id, res.resource_group)}/providers/{rtype}/{res.name}",
        "name": res.name,
        "type": rtype,
        "location": res.location,
        "tags": {},
        "properties": props,
    }


def json_body(req: WireRequest) -> dict[str, Any]:
    """The request's JSON object body, or ARM's ValidationError."""
    try:
        body = json.loads(req.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValidationError("The request content is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ValidationError("The request content must be a JSON object.")
    return body
