"""ARM wire layer: JSON bodies shaped like the Microsoft.MachineLearningServices examples in
azure-rest-api-specs (2020-08-01 for workspaces and computes, 2024-04-01 for setupScripts,
2025-12-01 for a compute instance's idleTimeBeforeShutdown, schedules, enableSSO and tags),
ARM error bodies, and long-running compute PUTs polled through ``Azure-AsyncOperation``.

Storage accounts and vaults answer GET with their emulator endpoints (``primaryEndpoints.file``
and ``vaultUri``), so a client can find the data planes from ARM as it would in Azure.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from provision.emulator.arm.access import AccessOperations
from provision.emulator.arm.exceptions import (
    ArmError,
    AuthenticationFailed,
    AuthorizationFailed,
    InvalidAuthenticationToken,
    MissingApiVersionParameter,
)
from provision.emulator.arm.models import (
    COMPUTE_TYPE,
    ML_PROVIDER,
    WORKSPACE_TYPE,
    Compute,
    Workspace,
)
from provision.emulator.arm.resources import ResourceOperations
from provision.emulator.arm.sentinel import SentinelOperations
from provision.emulator.arm.shapes import json_body, rg_id, storage_id, vault_id
from provision.emulator.arm.shapes import json_response as _json
from provision.emulator.arm.urls import ACTIONS, resolve
from provision.emulator.auth import bearer_token
from provision.emulator.identity.models import ARM_AUDIENCES
from provision.emulator.policy.enforce import compute_denial
from provision.emulator.policy.responses import PolicyOperations
from provision.emulator.wire import (
    ServiceError,
    ServiceWire,
    WireRequest,
    WireResponse,
    iso_utc,
)

if TYPE_CHECKING:
    from provision.emulator.state import Backend

__all__ = ["CALLER_OBJECT_ID", "ArmWire"]

# The object id the emulator's token stands for, named in AuthorizationFailed messages.
CALLER_OBJECT_ID = "00000000-0000-0000-0000-0000000e0001"
_ANONYMOUS = frozenset({"GetCloudMetadata"})
_SUBSCRIPTION_RE = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_WWW_AUTH = (
    'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", '
    'error_description="{}"'
)


def workspace_id(ws: Workspace) -> str:
    return f"{rg_id(ws.subscription_id, ws.resource_group)}/providers/{WORKSPACE_TYPE}/{ws.name}"


def _workspace_body(ws: Workspace) -> dict[str, Any]:
    sub, rg = ws.subscription_id, ws.resource_group
    base = rg_id(sub, rg)
    insights = f"{base}/providers/microsoft.insights/components/{ws.app_insights}"
    registry = f"{base}/providers/Microsoft.ContainerRegistry/registries/{ws.container_registry}"
    return {
        "id": workspace_id(ws),
        "name": ws.name,
        "type": WORKSPACE_TYPE,
        "location": ws.location,
        "tags": {},
        "identity": {
            "type": "SystemAssigned",
            "principalId": ws.principal_id,
            "tenantId": ws.tenant_id,
        },
        "sku": {"name": "Basic", "tier": "Basic"},
        "properties": {
            "workspaceId": ws.workspace_id,
            "friendlyName": ws.name,
            "description": "",
            "creationTime": iso_utc(ws.created),
            "provisioningState": "Succeeded",
            "storageAccount": storage_id(sub, rg, ws.storage_account),
            "keyVault": vault_id(sub, rg, ws.key_vault),
            "applicationInsights": insights,
            "containerRegistry": registry,
            "discoveryUrl": f"https://{ws.location}.api.azureml.ms/discovery",
            "hbiWorkspace": False,
            "allowPublicAccessWhenBehindVnet": False,
            "privateLinkCount": 0,
            "privateEndpointConnections": [],
            "serviceProvisionedResourceGroup": f"{ws.name}_{ws.workspace_id[:8]}",
            "storageHnsEnabled": False,
            "notebookInfo": {
                "resourceId": ws.workspace_id.replace("-", ""),
                "fqdn": f"ml-{ws.name.lower()}-{ws.location}-{ws.workspace_id}.notebooks.azure.net",
            },
        },
    }


def _compute_body(ws: Workspace, c: Compute) -> dict[str, Any]:
    inner: dict[str, Any] = {
        "vmSize": c.vm_size,
        "applicationSharingPolicy": "Personal",
        "sshSettings": {
            "sshPublicAccess": "Disabled",
            "adminUserName": "azureuser",
            "sshPort": 4001,
        },
        "computeInstanceAuthorizationType": "personal",
        "connectivityEndpoints": {"publicIpAddress": "127.0.0.1", "privateIpAddress": "127.0.0.1"},
        "applications": [
            {
                "displayName": app,
                "endpointUri": f"https://{c.name}.{c.location}.instances.azureml.ms/{app.lower()}",
            }
            for app in ("Jupyter", "JupyterLab")
        ],
        "createdBy": {
            "userName": c.created_by,
            "userOrgId": ws.tenant_id,
            "userId": c.assigned_object_id or "",
        },
        "errors": ([{"error": {"code": c.error[0], "message": c.error[1]}}] if c.error else None),
        "state": c.state,
        "enableSSO": c.enable_sso if c.enable_sso is not None else True,
    }
    if c.idle_time_before_shutdown is not None:
        inner["idleTimeBeforeShutdown"] = c.idle_time_before_shutdown
    if c.schedules is not None:
        inner["schedules"] = c.schedules
    if c.assigned_object_id:
        inner["personalComputeInstanceSettings"] = {
            "assignedUser": {
                "objectId": c.assigned_object_id,
                "tenantId": c.assigned_tenant_id or ws.tenant_id,
            }
        }
    if c.setup_scripts is not None:
        inner["setupScripts"] = c.setup_scripts
    body: dict[str, Any] = {
        "id": f"{workspace_id(ws)}/computes/{c.name}",
        "name": c.name,
        "type": COMPUTE_TYPE,
        "location": c.location,
        "tags": dict(c.tags),
        "properties": {
            "computeType": c.compute_type,
            "computeLocation": c.location,
            "description": c.description,
            "provisioningState": c.provisioning_state,
            "createdOn": iso_utc(c.created_on),
            "modifiedOn": iso_utc(c.modified_on),
            "isAttachedCompute": False,
            "disableLocalAuth": True,
            "properties": inner,
        },
    }
    if c.identity is not None:
        body["identity"] = c.identity
    return body


class ArmWire(
    AccessOperations, ResourceOperations, PolicyOperations, SentinelOperations, ServiceWire
):
    """Azure Resource Manager, for what the product reads and the compute it creates."""

    name = "arm"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.arm = backend.arm

    # --- the server's hooks ---------------------------------------------------------------
    def route(self, req: WireRequest) -> tuple[str, dict[str, str]]:
        return resolve(req.method, req.path)

    def authenticate(self, req: WireRequest, op: str) -> None:
        if op in _ANONYMOUS:
            return
        header = req.header("authorization")
        if not header:
            raise AuthenticationFailed(
                "Authentication failed. The 'Authorization' header is missing.",
                headers={
                    "WWW-Authenticate": _WWW_AUTH.format(
                        "The authentication failed because of missing 'Authorization' header."
                    )
                },
            )
        token = bearer_token(header)
        principal = self.backend.principal(token) if token else None
        if principal is None:
            raise InvalidAuthenticationToken(
                "The access token is invalid.",
                headers={"WWW-Authenticate": _WWW_AUTH.format("The access token is invalid.")},
            )
        req.caller = (principal.tenant_id, principal.object_id)
        if not principal.audience_in(*ARM_AUDIENCES, f"{req.base_url}{req.prefix}"):
            # ARM's answer to a token for another resource.
            raise InvalidAuthenticationToken(
                "The access token has been obtained for wrong audience or resource "
                f"'{principal.audience}'. It should exactly match with one of the allowed "
                "audiences 'https://management.core.windows.net/','https://management.core."
                "windows.net','https://management.azure.com/','https://management.azure.com'.",
                headers={"WWW-Authenticate": _WWW_AUTH.format("The access token is invalid.")},
            )
        sub = _SUBSCRIPTION_RE.match(req.path)
        owner = self.arm.subscriptions.get(sub.group(1).lower()) if sub else None
        if (
            owner is not None
            and not principal.in_tenant(owner)
            and not self.arm.is_delegated(sub.group(1) if sub else "", principal.tenant_id)
        ):
            # Azure's wording (seen verbatim in azure-sdk-for-python #38382 and others).
            raise ArmError(
                f"The access token is from the wrong issuer '{principal.issuer}'. It must match "
                f"the tenant 'https://sts.windows.net/{owner}/' associated with this "
                f"subscription. Please use the authority (URL) 'https://login.windows.net/{owner}' "
                "to get the token. Note, if the subscription is transferred to another tenant "
                "there is no impact to the services, but information about new tenant could take "
                "time to propagate (up to an hour). If you just transferred your subscription and "
                "see this error message, please try back later.",
                status=401,
                code="InvalidAuthenticationTokenTenant",
                headers={
                    "WWW-Authenticate": (
                        f'Bearer authorization_uri="https://login.windows.net/{owner}", '
                        'error="invalid_token", error_description="The access token is from the '
                        'wrong issuer."'
                    )
                },
            )
        scope = req.path.rstrip("/")
        if req.method == "POST":
            scope = scope.rsplit("/", 1)[0]
        if self.arm.is_denied(scope):
            caller = CALLER_OBJECT_ID if principal.is_operator else principal.object_id
            action = ACTIONS.get(op, "*/read")
            raise AuthorizationFailed(
                f"The client '{caller}' with object id '{caller}' does not "
                f"have authorization to perform action '{action}' over scope '{scope}' or the "
                "scope is invalid. If access was recently granted, please refresh your "
                "credentials."
            )

    def render_error(self, err: ServiceError, req: WireRequest) -> WireResponse:
        headers = {"x-ms-failure-cause": "gateway"} if err.status in (401, 403) else {}
        headers.update(err.headers)
        error = {"code": err.code, "message": err.message, **getattr(err, "extra", {})}
        return _json(err.status, {"error": error}, headers)

    def injected_error(self, status: int, retry_after: float) -> ServiceError:
        if status == 429:
            return ArmError(
                "The request is being throttled as the limit has been reached for operation type.",
                status=429,
                code="TooManyRequests",
                headers={"Retry-After": f"{retry_after:g}"},
            )
        if status == 503:
            return ArmError(
                "The service is temporarily unavailable. Please retry.",
                status=503,
                code="ServiceUnavailable",
            )
        return ArmError(
            "The server encountered an internal error. Please retry the request.",
            status=status,
            code="InternalServerError",
        )

    def handle(self, req: WireRequest, op: str, params: dict[str, str]) -> WireResponse:
        if not req.query.get("api-version"):
            raise MissingApiVersionParameter()
        handler = getattr(self, f"op_{op}")
        response: WireResponse = handler(req, params)
        response.headers.setdefault("x-ms-correlation-request-id", str(uuid.uuid4()))
        kind = "reads" if req.method == "GET" else "writes"
        response.headers.setdefault(
            f"x-ms-ratelimit-remaining-subscription-{kind}", "11999" if kind == "reads" else "1199"
        )
        return response

    def _ws(self, p: dict[str, str]) -> Workspace:
        return self.arm.workspace(p["sub"], p["rg"], p["ws"])

    # --- operations -------------------------------------------------------------------------
    def op_GetResourceGroup(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        group = self.arm.resource_group(p["sub"], p["rg"])
        return _json(
            200,
            {
                "id": rg_id(group.subscription_id, group.name),
                "name": group.name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": group.location,
                "properties": {"provisioningState": "Succeeded"},
            },
        )

    def op_ListWorkspacesBySubscription(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        items = [_workspace_body(ws) for ws in self.arm.list_workspaces(p["sub"])]
        return _json(200, {"value": items})

    def op_ListWorkspaces(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        items = [_workspace_body(ws) for ws in self.arm.list_workspaces(p["sub"], p["rg"])]
        return _json(200, {"value": items})

    def op_GetWorkspace(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return _json(200, _workspace_body(self._ws(p)))

    def op_ListWorkspaceKeys(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        ws = self._ws(p)
        account = self.backend.files.find_account(ws.storage_account)
        key = account.keys[0] if account else None
        return _json(
            200,
            {
                "userStorageKey": key,
                "userStorageResourceId": storage_id(
                    ws.subscription_id, ws.resource_group, ws.storage_account
                ),
                "appInsightsInstrumentationKey": str(
                    uuid.uuid5(uuid.NAMESPACE_URL, ws.workspace_id)
                ),
                "containerRegistryCredentials": {
                    "location": ws.location,
                    "username": ws.container_registry,
                    "passwords": [],
                },
                "notebookAccessKeys": None,
            },
        )

    def op_ListComputes(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        ws = self._ws(p)
        items = [_compute_body(ws, c) for c in self.arm.list_computes(ws)]
        return _json(200, {"value": items})

    def op_GetCompute(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        ws = self._ws(p)
        return _json(200, _compute_body(ws, self.arm.compute(ws, p["compute"])))

    def op_CreateOrUpdateCompute(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        ws = self._ws(p)
        body = json_body(req)
        compute_denial(self.backend.policy, f"{workspace_id(ws)}/computes/{p['compute']}", body)
        compute, created, op = self.arm.put_compute(ws, p["compute"], body)
        status_url = _operation_status_url(req, ws, op.id)
        headers = {"Azure-AsyncOperation": status_url, "Retry-After": str(self.arm.lro_retry_after)}
        return _json(201 if created else 200, _compute_body(ws, compute), headers)

    def op_DeleteCompute(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        # Compute_Delete (azure-rest-api-specs, machinelearningservices stable/2024-04-01,
        # examples/Compute/delete.json): 202 with Azure-AsyncOperation and Location headers.
        ws = self._ws(p)
        op = self.arm.delete_compute(ws, p["compute"], req.query.get("underlyingresourceaction"))
        status_url = _operation_status_url(req, ws, op.id)
        # (Azure also sends Location, an operation-result URL; clients poll Azure-AsyncOperation
        # first, and the emulator serves only the status URL.)
        headers = {"Azure-AsyncOperation": status_url, "Retry-After": str(self.arm.lro_retry_after)}
        return _json(202, None, headers)

    def op_UpdateIdleShutdownSetting(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        ws = self._ws(p)
        self.arm.update_idle_shutdown(ws, p["compute"], json_body(req))
        return _json(200, None)

    def op_GetAsyncOperation(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        op = self.arm.poll(p["sub"], p["op"])
        body: dict[str, Any] = {
            "id": req.path,
            "name": op.id,
            "status": op.status,
            "startTime": iso_utc(op.start),
        }
        if op.error:
            body["error"] = {"code": op.error[0], "message": op.error[1]}
        headers = {}
        if op.end is not None:
            body["endTime"] = iso_utc(op.end)
        else:
            headers["Retry-After"] = str(self.arm.lro_retry_after)
        return _json(200, body, headers)


def _operation_status_url(req: WireRequest, ws: Workspace, op_id: str) -> str:
    """The Azure-AsyncOperation URL of a compute operation, as Azure ML builds it."""
    api = req.query.get("api-version", "")
    return (
        f"{req.base_url}{req.prefix}/subscriptions/{ws.subscription_id}/providers/"
        f"{ML_PROVIDER}/locations/{ws.location}/computeOperationsStatus/{op_id}"
        f"?api-version={api}&service=new"
    )
