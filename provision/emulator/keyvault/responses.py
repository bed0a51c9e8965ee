"""Key Vault wire layer: parse requests, call the backend, write JSON the way Key Vault does.

Secret ids in bodies use the vault's Azure host name (``https://<vault>.vault.azure.net/secrets/
<name>/<version>``): the SDK parses ids as ``/secrets/<name>[/<version>]`` and would reject the
emulator's path-style vault prefix. They identify, they are never dereferenced; ``nextLink``s,
which the SDK does follow, point at the emulator.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from provision.emulator.arm.shapes import vault_id
from provision.emulator.auth import bearer_token
from provision.emulator.hostnames import authority_url
from provision.emulator.identity.models import KEYVAULT_AUDIENCES
from provision.emulator.keyvault.access import check_access
from provision.emulator.keyvault.exceptions import BadParameter, KeyVaultError, Unauthorized
from provision.emulator.keyvault.models import (
    RECOVERY_LEVEL,
    RETENTION_DAYS,
    DeletedSecret,
    Secret,
    SecretVersion,
)
from provision.emulator.keyvault.urls import resolve
from provision.emulator.policy.enforce import secret_denial
from provision.emulator.wire import ServiceError, ServiceWire, WireRequest, WireResponse

if TYPE_CHECKING:
    from provision.emulator.state import Backend

__all__ = ["KeyVaultWire"]

MAX_RESULTS = 25
_HEADERS = {
    "Cache-Control": "no-cache",
    "x-ms-keyvault-region": "local",
    "x-ms-keyvault-service-version": "1.9.0.0",
    "x-ms-keyvault-network-info": "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;",
}


def challenge_header(req: WireRequest, tenant: str) -> str:
    """Key Vault's 401 challenge: the vault's tenant under the emulator's authority, and as
    resource the called host without its first label, as Azure names ``https://vault.azure.net``
    for ``<vault>.vault.azure.net``. azure-keyvault-secrets' ChallengeAuthPolicy accepts a
    resource only when the request's host ends with ``.<resource host>`` (its
    ``_validate_challenge_resource``); for ``127.0.0.1:PORT`` that is ``0.0.1:PORT``."""
    host = req.base_url.split("://", 1)[-1]
    parent = host.split(".", 1)[1] if "." in host else host
    authority = authority_url(req.base_url, req.public_host)
    return f'Bearer authorization="{authority}/{tenant}", resource="https://{parent}"'


def _json(status: int, body: Any) -> WireResponse:
    headers = dict(_HEADERS)
    if body is None:
        return WireResponse(status, headers)
    headers["Content-Type"] = "application/json; charset=utf-8"
    return WireResponse(status, headers, json.dumps(body, separators=(",", ":")).encode())


def _vault_id(vault: str) -> str:
    return f"https://{vault.lower()}.vault.azure.net"


def _attributes(item: SecretVersion) -> dict[str, Any]:
    attrs: dict[str, Any] = {"enabled": item.enabled}
    if item.not_before is not None:
        attrs["nbf"] = item.not_before
    if item.expires is not None:
        attrs["exp"] = item.expires
    attrs.update(
        created=item.created,
        updated=item.updated,
        recoveryLevel=RECOVERY_LEVEL,
        recoverableDays=RETENTION_DAYS,
    )
    return attrs


def _item(vault: str, secret: Secret, item: SecretVersion, *, with_version: bool) -> dict[str, Any]:
    ident = f"{_vault_id(vault)}/secrets/{secret.name}"
    out: dict[str, Any] = {
        "id": f"{ident}/{item.version}" if with_version else ident,
        "attributes": _attributes(item),
    }
    if item.tags is not None:
        out["tags"] = item.tags
    if item.content_type is not None:
        out["contentType"] = item.content_type
    return out


def _bundle(vault: str, secret: Secret, item: SecretVersion, *, value: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if value:
        out["value"] = item.value
    out.update(_item(vault, secret, item, with_version=True))
    return out


def _deleted(vault: str, deleted: DeletedSecret, *, bundle: bool) -> dict[str, Any]:
    secret = deleted.secret
    out = (
        _bundle(vault, secret, secret.latest, value=False)
        if bundle
        else _item(vault, secret, secret.latest, with_version=False)
    )
    out["recoveryId"] = f"{_vault_id(vault)}/deletedsecrets/{secret.name}"
    out["deletedDate"] = deleted.deleted_date
    out["scheduledPurgeDate"] = deleted.scheduled_purge_date
    return out


def _body(req: WireRequest) -> dict[str, Any]:
    if not req.body:
        raise BadParameter("The request body is empty.")
    try:
        data = json.loads(req.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadParameter("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadParameter("The request body must be a JSON object.")
    return data


def _attr_fields(data: dict[str, Any]) -> dict[str, Any]:
    attrs = data.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise BadParameter("Property attributes must be an object.")
    out: dict[str, Any] = {}
    if "enabled" in attrs and attrs["enabled"] is not None:
        out["enabled"] = bool(attrs["enabled"])
    for wire_name, name in (("nbf", "not_before"), ("exp", "expires")):
        if attrs.get(wire_name) is not None:
            out[name] = int(attrs[wire_name])
    tags = data.get("tags")
    if tags is not None:
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise BadParameter("Property tags must be an object of strings.")
        out["tags"] = tags
    if data.get("contentType") is not None:
        out["content_type"] = str(data["contentType"])
    return out


def _page_size(req: WireRequest) -> int:
    raw = req.query.get("maxresults")
    if raw is None or raw == "":
        return MAX_RESULTS
    try:
        size = int(raw)
    except ValueError:
        raise BadParameter(f"Invalid maxresults: {raw}") from None
    if not 1 <= size <= MAX_RESULTS:
        raise BadParameter(f"maxresults must be between 1 and {MAX_RESULTS}, not {size}")
    return size


def _marker(req: WireRequest) -> str:
    token = req.query.get("$skiptoken", "")
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise BadParameter("Invalid $skiptoken.") from None


def _next_link(req: WireRequest, marker: str, size: int) -> str:
    token = base64.urlsafe_b64encode(marker.encode()).decode().rstrip("=")
    api = quote(req.query.get("api-version", ""), safe="")
    path = req.raw_path
    return f"{req.base_url}{path}?api-version={api}&$skiptoken={token}&maxresults={size}"


def _page(req: WireRequest, keyed: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One page of (sort key, item) pairs after the request's marker, with nextLink."""
    size, marker = _page_size(req), _marker(req)
    rest = [pair for pair in keyed if pair[0] > marker] if marker else keyed
    page = rest[:size]
    link = _next_link(req, page[-1][0], size) if len(rest) > size else None
    return {"value": [item for _, item in page], "nextLink": link}


class KeyVaultWire(ServiceWire):
    """The Key Vault secrets REST API over the backend's vaults."""

    name = "keyvault"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.kv = backend.keyvault

    # --- the server's hooks ---------------------------------------------------------------
    def route(self, req: WireRequest) -> tuple[str, dict[str, str]]:
        return resolve(req.method, req.path)

    def scope_exists(self, req: WireRequest) -> bool:
        return self.kv.find_vault(req.scope) is not None

    def authenticate(self, req: WireRequest, op: str) -> None:
        vault = self.kv.find_vault(req.scope)
        tenant = vault.tenant_id if vault else "common"
        challenge = {"WWW-Authenticate": challenge_header(req, tenant)}
        header = req.header("authorization")
        if not header:
            raise Unauthorized(
                "AKV10000: Request is missing a Bearer or PoP token.", headers=challenge
            )
        token = bearer_token(header)
        principal = self.backend.principal(token) if token else None
        if principal is None:
            raise Unauthorized(
                "AKV10032: Invalid issuer or token: the bearer token was not "
                "issued by this emulator.",
                headers=challenge,
            )
        req.caller = (principal.tenant_id, principal.object_id)
        if not principal.in_tenant(tenant):
            raise Unauthorized(
                f"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{tenant}/, "
                f"https://login.microsoftonline.com/{tenant}/v2.0. "
                f"Found {principal.issuer}.",
                headers=challenge,
            )
        resource = challenge["WWW-Authenticate"].rsplit('resource="', 1)[-1].rstrip('"')
        if not principal.audience_in(*KEYVAULT_AUDIENCES, resource):
            raise Unauthorized(
                f"AKV10022: Invalid audience. Expected {resource}, found: {principal.audience}.",
                headers=challenge,
            )
        check_access(self.backend, req.scope, principal, op, req.params.get("name", ""))

    def render_error(self, err: ServiceError, req: WireRequest) -> WireResponse:
        error: dict[str, Any] = {"code": err.code, "message": err.message}
        inner = getattr(err, "inner_code", None)
        if inner:
            error["innererror"] = {"code": inner}
        response = _json(err.status, {"error": error})
        response.headers.update(err.headers)
        return response

    def injected_error(self, status: int, retry_after: float) -> ServiceError:
        if status == 429:
            return KeyVaultError(
                "Request was not processed because too many requests were "
                "received. Reason: VaultRequestTypeLimitReached",
                status=429,
                code="Throttled",
                headers={"Retry-After": f"{retry_after:g}"},
            )
        if status == 503:
            return KeyVaultError(
                "The service is unavailable. Please retry.", status=503, code="ServiceUnavailable"
            )
        return KeyVaultError(
            "The server encountered an internal error. Please retry the request.",
            status=status,
            code="InternalServerError",
        )

    def handle(self, req: WireRequest, op: str, params: dict[str, str]) -> WireResponse:
        if not req.query.get("api-version"):
            raise BadParameter("The request URI contains an invalid or missing api-version.")
        handler = getattr(self, f"op_{op}")
        response: WireResponse = handler(req, params)
        return response

    # --- operations -------------------------------------------------------------------------
    def op_SetSecret(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        data = _body(req)
        value = data.get("value")
        if not isinstance(value, str):
            raise BadParameter("Property value is required and must be a string.")
        fields = _attr_fields(data)
        vault = self.backend.arm.find_named("vault", req.scope)
        secret_denial(
            self.backend.policy,
            vault_id(vault.subscription_id, vault.resource_group, vault.name) if vault else None,
            fields.get("expires"),
        )
        secret, item = self.kv.set_secret(req.scope, p["name"], value, **fields)
        return _json(200, _bundle(req.scope, secret, item, value=True))

    def op_GetSecret(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        secret, item = self.kv.get_secret(req.scope, p["name"], p.get("version") or None)
        return _json(200, _bundle(req.scope, secret, item, value=True))

    def op_GetSecrets(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        keyed = [
            (s.name.lower(), _item(req.scope, s, s.latest, with_version=False))
            for s in self.kv.list_secrets(req.scope)
        ]
        return _json(200, _page(req, keyed))

    def op_GetSecretVersions(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        versions = self.kv.list_versions(req.scope, p["name"])
        secret = self.kv.get_vault(req.scope).secrets[p["name"].lower()]
        keyed = [
            (f"{i:08d}", _item(req.scope, secret, v, with_version=True))
            for i, v in enumerate(versions)
        ]
        return _json(200, _page(req, keyed))

    def op_UpdateSecret(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        fields = _attr_fields(_body(req))
        secret, item = self.kv.update_secret(
            req.scope, p["name"], p.get("version") or None, **fields
        )
        return _json(200, _bundle(req.scope, secret, item, value=False))

    def op_DeleteSecret(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        deleted = self.kv.delete_secret(req.scope, p["name"])
        vault = self.kv.find_vault(req.scope)
        if vault is not None and not vault.soft_delete:
            # Without soft delete Key Vault answers the DeletedSecretBundle without recoveryId,
            # deletedDate or scheduledPurgeDate; its recoveryLevel is Purgeable (SDK's
            # DeleteRecoverPollingMethod is finished at once when recoveryId is absent).
            body = _bundle(req.scope, deleted.secret, deleted.secret.latest, value=False)
            body["attributes"].update(recoveryLevel="Purgeable")
            body["attributes"].pop("recoverableDays", None)
            return _json(200, body)
        return _json(200, _deleted(req.scope, deleted, bundle=True))

    def op_GetDeletedSecret(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        deleted = self.kv.get_deleted(req.scope, p["name"])
        return _json(200, _deleted(req.scope, deleted, bundle=True))

    def op_GetDeletedSecrets(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        keyed = [
            (d.secret.name.lower(), _deleted(req.scope, d, bundle=False))
            for d in self.kv.list_deleted(req.scope)
        ]
        return _json(200, _page(req, keyed))

    def op_RecoverDeletedSecret(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        secret, item = self.kv.recover(req.scope, p["name"])
        return _json(200, _bundle(req.scope, secret, item, value=False))

    def op_PurgeDeletedSecret(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        self.kv.purge(req.scope, p["name"])
        return _json(204, None)

    def op_BackupSecret(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return _json(200, {"value": self.kv.backup(req.scope, p["name"])})

    def op_RestoreSecret(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        blob = _body(req).get("value")
        if not isinstance(blob, str):
            raise BadParameter("Property value (the backup blob) is required.")
        secret, item = self.kv.restore(req.scope, blob)
        return _json(200, _bundle(req.scope, secret, item, value=False))
